#!/usr/bin/env bash
# Validate the Raven YANG modules and example configurations with yanglint.
#
# Usage: tests/yang/check.sh [REPO_ROOT]
#   REPO_ROOT defaults to the directory two levels above this script.
# Environment:
#   IETF_YANG_DIR  directory of the IETF modules (ietf-inet-types,
#                  ietf-yang-types); default /usr/share/yuma/modules/ietf
#
# Prints one line per case and ends with "N passed, M failed"; exits 1 when
# a case failed.
#
# SPDX-License-Identifier: BSD-2-Clause
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "${1:-$script_dir/../..}" && pwd)
yang_dir="$root/yang"
ietf_dir="${IETF_YANG_DIR:-/usr/share/yuma/modules/ietf}"

if ! command -v yanglint >/dev/null 2>&1; then
    echo "yanglint not found (Debian package: libyang2-tools; IETF modules: libyuma-base)" >&2
    exit 2
fi

if [ ! -f "$ietf_dir/ietf-inet-types@2013-07-15.yang" ] && [ ! -f "$ietf_dir/ietf-inet-types.yang" ]; then
    echo "IETF YANG modules not found in $ietf_dir (Debian package: libyuma-base; or set IETF_YANG_DIR)" >&2
    exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

passed=0
failed=0
ylint=(yanglint -p "$ietf_dir" -p "$yang_dir")
# raven-types must be implemented (not only imported) for its identities to
# be valid identityref values.
modules=("$yang_dir/raven-types.yang" "$yang_dir/raven-vpn.yang" "$yang_dir/raven-list-pagination.yang")

ok() {
    echo "PASS $1"
    passed=$((passed + 1))
}

ko() {
    echo "FAIL $1"
    if [ -n "${2:-}" ]; then
        printf '%s\n' "$2" | sed 's/^/     /'
    fi
    failed=$((failed + 1))
}

# Schema modules: must parse with no error and no warning.
for mod in "$yang_dir"/*.yang; do
    name="module $(basename "$mod")"
    if out=$("${ylint[@]}" "$mod" 2>&1) && [ -z "$out" ]; then
        ok "$name"
    else
        ko "$name" "$out"
    fi
done

# Data files: validate as configuration data.
validate() {
    "${ylint[@]}" -t config "${modules[@]}" "$1" 2>&1
}

shopt -s nullglob
examples=("$yang_dir"/examples/*.xml)
if [ ${#examples[@]} -eq 0 ]; then
    ko "examples present" "no XML file in $yang_dir/examples"
fi
for ex in "${examples[@]}"; do
    name="example $(basename "$ex")"
    if out=$(validate "$ex") && [ -z "$out" ]; then
        ok "$name"
    else
        ko "$name" "$out"
    fi
done

NS='urn:raven:params:xml:ns:yang:raven-vpn'

# Inline cases.  accept NAME < xml: must validate.
# reject NAME PATTERN < xml: must be refused with an error matching PATTERN
# (so that a case cannot pass because of an unrelated error).
accept() {
    local name="$1" f="$tmp/case-$((passed + failed)).xml" out
    cat >"$f"
    if out=$(validate "$f") && [ -z "$out" ]; then
        ok "accept: $name"
    else
        ko "accept: $name" "$out"
    fi
}

reject() {
    local name="$1" pattern="$2" f="$tmp/case-$((passed + failed)).xml" out
    cat >"$f"
    if out=$(validate "$f"); then
        ko "reject: $name" "accepted, but must be refused"
    elif printf '%s\n' "$out" | grep -qiE -- "$pattern"; then
        ok "reject: $name"
    else
        ko "reject: $name" "refused for another reason than /$pattern/: $out"
    fi
}

# A certificate profile with everything it needs; AUTHZ is put in its
# aaa/authorization container.
cert_profile() {
    cat <<EOF
<pki xmlns="$NS">
  <trustpoint><name>tp</name></trustpoint>
</pki>
<aaa xmlns="$NS">
  <authorization-list>
    <name>L</name>
    <method><sequence>1</sequence><local/></method>
  </authorization-list>
</aaa>
<ikev2 xmlns="$NS">
  <name-mangler><name>M</name><dn>common-name</dn></name-mangler>
  <authorization-policy><name>grp</name></authorization-policy>
  <profile>
    <name>p</name>
    <match><identity><remote><address>0.0.0.0/0</address></remote></identity></match>
    <authentication>
      <local><rsa-sig/></local>
      <remote><rsa-sig/></remote>
    </authentication>
    <pki><trustpoint><name>tp</name></trustpoint></pki>
    <aaa><authorization>$1</authorization></aaa>
  </profile>
</ikev2>
EOF
}

# A policy referring to a pool, with the pool named POOL defined.
policy_with_pool() {
    cat <<EOF
<pools xmlns="$NS">
  <ipv4-pool>
    <name>$2</name>
    <range><start>10.0.0.10</start><end>10.0.0.200</end></range>
  </ipv4-pool>
</pools>
<ikev2 xmlns="$NS">
  <authorization-policy><name>a</name><pool>$1</pool></authorization-policy>
</ikev2>
EOF
}

split_dns() {
    local i
    echo "<ikev2 xmlns=\"$NS\"><authorization-policy><name>a</name>"
    for i in $(seq 1 "$1"); do
        echo "<split-dns>d$i.example.com</split-dns>"
    done
    echo "</authorization-policy></ikev2>"
}

flow_limit() {
    echo "<ikev2 xmlns=\"$NS\"><authorization-policy><name>a</name><ipsec-flow-limit>$1</ipsec-flow-limit></authorization-policy></ikev2>"
}

# Flow limit (S7: 0..50000).
accept "ipsec-flow-limit 50000" < <(flow_limit 50000)
reject "ipsec-flow-limit 50001" "out of the allowed range.*ipsec-flow-limit" < <(flow_limit 50001)

# split-dns (S7: at most 10).
accept "10 split-dns entries" < <(split_dns 10)
reject "11 split-dns entries" "Too many .split-dns. instances" < <(split_dns 11)

# Certificate user authorization needs a name or a name mangler (S5).
accept "user cert authorization with name-mangler" < <(cert_profile '<user><cert><method-list>L</method-list><name-mangler>M</name-mangler></cert></user>')
accept "user cert authorization with a name" < <(cert_profile '<user><cert><method-list>L</method-list><username>grp</username></cert></user>')
reject "user cert authorization without name or name-mangler" "user name or a.*name mangler" < <(cert_profile '<user><cert><method-list>L</method-list></cert></user>')
reject "group cert authorization without name or name-mangler" "name or a.*name mangler" < <(cert_profile '<group><cert><method-list>L</method-list></cert></group>')

# Leafref to a missing pool.
accept "pool leafref to an existing pool" < <(policy_with_pool pool1 pool1)
reject "pool leafref to a missing pool" "Invalid leafref value .pool1. .*ipv4-pool" < <(policy_with_pool pool1 pool11)

# A local method list needs an existing authorization policy as name.
reject "local authorization with a missing authorization policy" "authorization policy" < <(cert_profile '<group><cert><method-list>L</method-list><username>nope</username></cert></group>')

# route set access-list accepts standard access lists only (S7, S9 note 1):
# Raven's access lists are lists of source prefixes, and what an extended
# list adds (destination, protocol, its type) is not in the model.
route_acl() {
    cat <<EOF
<access-lists xmlns="$NS">
  <access-list>
    <name>acl1</name>$1
    <entry><sequence>10</sequence><action>permit</action><prefix>192.0.2.0/24</prefix>$2</entry>
  </access-list>
</access-lists>
<ikev2 xmlns="$NS">
  <authorization-policy><name>a</name>
    <route><set><access-list><ipv4>acl1</ipv4></access-list></set></route>
  </authorization-policy>
</ikev2>
EOF
}
accept "route set access-list with a list of prefixes" < <(route_acl '' '')
reject "an access list of type extended" "Node .type. not found" < <(route_acl '<type>extended</type>' '')
reject "an access list entry with a destination prefix" "Node .destination-prefix. not found" < <(route_acl '' '<destination-prefix>198.51.100.0/24</destination-prefix>')

# The virtual template keeps only its IPsec profile: tunnel mode and
# unnumbered have no meaning in Raven (yang/README.md).
vtemplate() {
    cat <<EOF
<ikev2 xmlns="$NS">
  <profile><name>p</name><virtual-template>$1</virtual-template></profile>
</ikev2>
EOF
}
reject "virtual-template tunnel-mode" "Node .tunnel-mode. not found" < <(vtemplate '<tunnel-mode>ipv4</tunnel-mode>')
reject "virtual-template unnumbered" "Node .unnumbered. not found" < <(vtemplate '<unnumbered>eth0</unnumbered>')

# Proposals: AEAD without integrity, non-AEAD with it, legacy opt-in.
proposal() {
    echo "<ikev2 xmlns=\"$NS\" xmlns:rt=\"urn:raven:params:xml:ns:yang:raven-types\"><proposal><name>p</name>$1</proposal></ikev2>"
}
accept "AEAD proposal" < <(proposal '<encryption>rt:aes-gcm-16-256</encryption><prf>rt:prf-hmac-sha2-256</prf><group>rt:curve25519</group>')
accept "AES-CBC proposal" < <(proposal '<encryption>rt:aes-cbc-256</encryption><integrity>rt:hmac-sha2-256-128</integrity><group>rt:ecp-256</group>')
reject "AEAD proposal with integrity" "remove integrity" < <(proposal '<encryption>rt:aes-gcm-16-256</encryption><integrity>rt:hmac-sha2-256-128</integrity><prf>rt:prf-hmac-sha2-256</prf><group>rt:ecp-256</group>')
reject "AES-CBC proposal without integrity" "needs at least one integrity" < <(proposal '<encryption>rt:aes-cbc-256</encryption><group>rt:ecp-256</group>')
reject "group 2 without allow-legacy" "allow-legacy" < <(proposal '<encryption>rt:aes-cbc-256</encryption><integrity>rt:hmac-sha1-96</integrity><group>rt:modp-1024</group>')
accept "group 2 with allow-legacy" < <(proposal '<encryption>rt:aes-cbc-256</encryption><integrity>rt:hmac-sha1-96</integrity><group>rt:modp-1024</group><allow-legacy>true</allow-legacy>')

# Remote EAP needs a certificate on the headend's side (S2).
eap_profile() {
    cat <<EOF
<pki xmlns="$NS"><trustpoint><name>tp</name></trustpoint></pki>
<aaa xmlns="$NS">
  <radius-server><name>r</name><address>192.0.2.1</address><key>k</key></radius-server>
  <server-group><name>g</name><server>r</server></server-group>
  <authentication-list><name>E</name><method><sequence>1</sequence><group>g</group></method></authentication-list>
</aaa>
<ikev2 xmlns="$NS">
  <profile>
    <name>p</name>
    <match><identity><remote><address>0.0.0.0/0</address></remote></identity></match>
    <authentication><local>$1</local><remote><eap><query-identity>true</query-identity></eap></remote></authentication>
    <pki><trustpoint><name>tp</name></trustpoint></pki>
    <aaa><authentication><eap>E</eap></authentication></aaa>
  </profile>
</ikev2>
EOF
}
accept "remote EAP with local rsa-sig" < <(eap_profile '<rsa-sig/>')
reject "remote EAP with local pre-share" "certificate" < <(eap_profile '<pre-share><key>secret</key></pre-share>')

# Pre-shared key without key needs a keyring (S2).
psk_profile() {
    cat <<EOF
<ikev2 xmlns="$NS">
  <keyring><name>k</name>
    <peer><name>p</name><identity><fqdn>c.example.com</fqdn></identity><pre-shared-key>s</pre-shared-key></peer>
  </keyring>
  <profile>
    <name>p</name>
    <match><identity><remote><fqdn><domain>example.com</domain></fqdn></remote></identity></match>
    <authentication><local><pre-share/></local><remote><pre-share/></remote></authentication>
    $1
  </profile>
</ikev2>
EOF
}
accept "pre-share from a local keyring" < <(psk_profile '<keyring><local>k</local></keyring>')
reject "pre-share without key or keyring" "needs a keyring" < <(psk_profile '')

# A name mangler needs a rule (S6); the EAP delimiter is . @ or \.
mangler() {
    echo "<ikev2 xmlns=\"$NS\"><name-mangler><name>m</name>$1</name-mangler></ikev2>"
}
accept "name mangler eap suffix delimiter @" < <(mangler '<eap><suffix>@</suffix></eap>')
accept "name mangler eap prefix delimiter \\" < <(mangler '<eap><prefix>\</prefix></eap>')
reject "name mangler without a rule" "needs at least one rule" < <(mangler '')
reject "name mangler delimiter x" "Unsatisfied pattern" < <(mangler '<eap><prefix>x</prefix></eap>')

# Secret leaves accept the mask (written back = unchanged).
accept "masked private key written back" <<EOF
<pki xmlns="$NS">
  <trustpoint>
    <name>t</name>
    <certificate>-----BEGIN CERTIFICATE-----
UkFWRU4gUExBQ0VIT0xERVI=
-----END CERTIFICATE-----</certificate>
    <private-key>********</private-key>
  </trustpoint>
</pki>
EOF

# OCSP: revocation-check's combinations, ocsp-url only with ocsp, CRLs only with crl.
ocsp_tp() {
    cat <<EOF
<pki xmlns="$NS">
  <trustpoint>
    <name>t</name>
    <revocation-check>$1</revocation-check>$2
  </trustpoint>
</pki>
EOF
}
accept "revocation-check ocsp-crl-none, ocsp-url, crl-url, ocsp-nonce" < <(ocsp_tp ocsp-crl-none \
    '<ocsp-url>http://ocsp.example.org/</ocsp-url><ocsp-nonce>false</ocsp-nonce><crl-url>http://x/ca.crl</crl-url>')
accept "revocation-check crl-ocsp without ocsp-url (AIA)" < <(ocsp_tp crl-ocsp '')
reject "ocsp-url with revocation-check crl" "ocsp-url is used only when revocation-check names ocsp" \
    < <(ocsp_tp crl '<ocsp-url>http://ocsp.example.org/</ocsp-url>')
reject "crl-url with revocation-check ocsp-none" "This revocation-check uses no CRL" \
    < <(ocsp_tp ocsp-none '<crl-url>http://x/ca.crl</crl-url>')
reject "ocsp-url ldap://" "only http:// and https:// OCSP responders" \
    < <(ocsp_tp ocsp '<ocsp-url>ldap://x/</ocsp-url>')
reject "revocation-check ocsp-ocsp" "Invalid enumeration value" < <(ocsp_tp ocsp-ocsp '')

# Management names and the secret leaves.
accept "management endpoints and user" <<EOF
<management xmlns="$NS">
  <netconf><endpoint><name>any</name><address>::</address></endpoint></netconf>
  <rest><endpoint><name>any</name><address>0.0.0.0</address></endpoint></rest>
  <user>
    <name>admin</name>
    <password-hash>\$6\$saltsalt\$4Zqb1hU7yQ8m0example0hash0value</password-hash>
    <authorized-key>ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyOnly admin@example</authorized-key>
    <role>admin</role>
  </user>
</management>
EOF

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
