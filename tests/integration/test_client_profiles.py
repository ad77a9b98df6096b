"""Remote-access clients as they come (SPEC S13), emulated by strongSwan 5.9.8 with
their proposals, identities and options, and the client profiles Raven generates
for them (rpc client-profile, daemon/cprof).

Topology (lab.py, made and removed by each test):

    [client ns: charon 10.<n>.0.2] --veth-- [headend ns: ravend 10.<n>.0.1,
                                                          FreeRADIUS on 127.0.0.1]
                                                  (--veth-- [inside host 10.<n>.251.2]
                                                   for the clients that roam: the
                                                   AF_XDP dataplane carries their pings)

- Generated files: the Apple configuration profile parses as a plist (plistlib)
  with a com.apple.vpn.managed IKEv2 payload and the CA in a
  com.apple.security.root payload (the root CA; intermediates in
  com.apple.security.pkcs1 payloads, identifiers per profile and user); the
  Windows script imports the root CA (intermediates into the CA store), adds the
  connection and sets one IPsec configuration; the .sswan JSON has the keys of
  the strongSwan Android app. Each file's proposals and identities, turned into a
  strongSwan client's configuration, connect (EAP-MSCHAPv2 through FreeRADIUS).
  Each file carries the DNS and split tunnel of the local authorization policy
  (Apple's DNS dictionary, Windows' routes, DNS suffix and DNS trigger rules,
  the .sswan split-tunneling subnets); a client configured from the .sswan
  file has exactly those subnets as its tunnel's remote traffic selectors.
- Windows-like client: its default offer (aes256-sha1-modp1024, ESP aes256-sha1)
  connects only when a proposal allows group 2 with allow-legacy; configured for
  AES-GCM and ECP-384 it connects without; its IKE identity is its IP address,
  so EAP needs query-identity (without it RADIUS is asked for the address);
  it rekeys its child SA with MODP-1024 under an ECP-384 IKE SA, accepted when
  the policy allows group 2, refused otherwise; it roams with MOBIKE.
- Apple-like client: certificate or EAP; AES-256/SHA2-256/MODP-2048 and PFS on
  rekeyed child SAs; the split-DNS domains as INTERNAL_DNS_DOMAIN; it changes
  address mid-ping and keeps its IKE SA with MOBIKE.
- Android strongSwan client: IPv4 and IPv6 inner addresses, IKE fragmentation of
  a large certificate chain (RSA-4096 headend certificate and intermediate CA);
  over IPv6 outer transport: pings of both inner families, fragmented ESP in
  UDP from a 1280-byte link (IPv6's least MTU), an IPv6 address change that
  MOBIKE follows.
"""
import base64
import json
import os
import plistlib
import ipaddress
import re
import subprocess
import time

import pytest
from lxml import etree

from conftest import NS, free_port
from nchelpers import expect_error, rpc, wait_until
from radiushelpers import SECRET, FreeRadius
from resthelpers import Rest
from test_dataplane import dataplane_config, ns_run
from test_dataplane_v6frag import frag_counters, icmp6_in_echos, icmp_in_echos
from test_ike_certs import pki, read  # noqa: F401 (the pki fixture)
from test_ike_mobike import client_spis, history, pinger, raven_session, received, wait_moved
from test_ike_sessions import sessions, t
from test_ike_split_dns import assert_domains_received
from test_ravenctl import ctl

RT = "urn:raven:params:xml:ns:yang:raven-types"
REQUIRES = ("strongswan", "freeradius", "openssl", "ping")
REQUIRES_PLUGINS = ("eap-identity", "eap-mschapv2")

USERS = """
wes Cleartext-Password := "wes-pw-1"
\tCisco-AVPair = "ipsec:addr-pool=radpool"

amy@example.org Cleartext-Password := "amy-pw-1"
\tCisco-AVPair = "ipsec:addr-pool=radpool"

ana@example.org Cleartext-Password := "ana-pw-1"
\tCisco-AVPair = "ipsec:addr-pool=radpool",
\tCisco-AVPair += "ipsec:ipv6-addr-pool=v6pool"
"""
PASSWORDS = {"wes": "wes-pw-1", "amy@example.org": "amy-pw-1", "ana@example.org": "ana-pw-1"}

MODERN = """<proposal><name>modern</name><encryption>rt:aes-gcm-16-256</encryption><encryption>rt:aes-gcm-16-128</encryption>
    <prf>rt:prf-hmac-sha2-384</prf><prf>rt:prf-hmac-sha2-256</prf>
    <group>rt:ecp-384</group><group>rt:ecp-256</group><group>rt:curve25519</group><group>rt:modp-2048</group></proposal>"""
CBC = """<proposal><name>cbc</name><encryption>rt:aes-cbc-256</encryption><encryption>rt:aes-cbc-128</encryption>
    <integrity>rt:hmac-sha2-256-128</integrity><integrity>rt:hmac-sha1-96</integrity>
    <group>rt:modp-2048</group><group>rt:ecp-256</group><group>rt:ecp-384</group></proposal>"""
# DNS and split tunnel of the authorization policy (the generated files carry them)
SPLIT = """<dns><primary>10.0.0.53</primary></dns><ipv6-dns><primary>2001:db8:53::1</primary></ipv6-dns>
    <def-domain>corp.example.org</def-domain><split-dns>eng.example.org</split-dns><split-dns>corp.example.org</split-dns>
    <route><set><remote><ipv4>{net}</ipv4><ipv6>fd00:250::/64</ipv6></remote></set></route>"""
# the Windows built-in client's default offer needs group 2, a legacy group
LEGACY = """<proposal><name>windows-default</name><encryption>rt:aes-cbc-256</encryption>
    <integrity>rt:hmac-sha1-96</integrity><group>rt:modp-1024</group><allow-legacy>true</allow-legacy></proposal>"""


@pytest.fixture(scope="module")
def chain(pki):
    """An intermediate CA (RSA-4096) under the test CA and a headend certificate
    (RSA-4096) it issued: an IKE_AUTH response that needs fragments."""
    d = os.path.dirname(pki("ca.pem"))
    p = lambda n: os.path.join(d, n)

    def run(*a):
        subprocess.run(list(a), check=True, capture_output=True)

    for n in ("inter", "head-big"):
        run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:4096", "-out", p(n + ".key"))
    run("openssl", "req", "-new", "-key", p("inter.key"), "-subj", "/O=Raven Test/CN=Raven Test Intermediate",
        "-out", p("inter.csr"))
    with open(p("inter.ext"), "w") as f:
        f.write("basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\n")
    run("openssl", "x509", "-req", "-in", p("inter.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
        "-CAcreateserial", "-days", "10", "-out", p("inter.pem"), "-extfile", p("inter.ext"))
    run("openssl", "req", "-new", "-key", p("head-big.key"), "-subj", "/O=Raven Test/CN=headend.example.org",
        "-out", p("head-big.csr"))
    with open(p("head-big.ext"), "w") as f:
        f.write("subjectAltName=DNS:headend.example.org\nextendedKeyUsage=serverAuth\n")
    run("openssl", "x509", "-req", "-in", p("head-big.csr"), "-CA", p("inter.pem"), "-CAkey", p("inter.key"),
        "-CAcreateserial", "-days", "10", "-out", p("head-big.pem"), "-extfile", p("head-big.ext"))
    return p


def headend(pki, fr, legacy=False, query=True, pfs=None, server="head-rsa", cas=("ca",), server_address=None,
            psk_profile=False, listen="<address>0.0.0.0</address>", split=None):
    """Profile "ra": the headend signs with RSA; clients use EAP (through
    FreeRADIUS) or certificates; one IKE policy with the modern and CBC
    proposals (and Windows' legacy default with @legacy); ESP AES-GCM-256,
    AES-CBC-256 with SHA2-256 or SHA1; @pfs the IPsec profile's pfs-group.
    With @split (an IPv4 prefix) the local authorization policy "certs" is the
    group policy of EAP clients too and pushes DNS, the default domain, split
    DNS and the split subnets @split and fd00:250::/64 (SPLIT)."""
    q = f"<query-identity>{'true' if query else 'false'}</query-identity>"
    eap_group = "<eap><method-list>local-list</method-list><username>certs</username></eap>" if split else ""
    ca_xml = "".join(f"<ca-certificate>{read(pki(c + '.pem'))}</ca-certificate>" for c in cas)
    sa = f"<server-address>{server_address}</server-address>" if server_address else ""
    psk = """<profile><name>psk-only</name>
    <match><identity><remote><fqdn><domain>psk.example.net</domain></fqdn></remote></identity></match>
    <authentication><local><pre-share><key>psk-secret-1</key></pre-share></local>
      <remote><pre-share><key>psk-secret-1</key></pre-share></remote></authentication></profile>""" \
        if psk_profile else ""
    return f"""<pki xmlns="{NS}">
  <trustpoint><name>tp</name>{ca_xml}<revocation-check>none</revocation-check>
    <certificate>{read(pki(server + '.pem'))}</certificate><private-key>{read(pki(server + '.key'))}</private-key>
  </trustpoint>
</pki>
<ikev2 xmlns="{NS}" xmlns:rt="{RT}">
  <global><listen>{listen}</listen></global>
  {MODERN}{CBC}{LEGACY if legacy else ""}
  <policy><name>all</name><proposal>modern</proposal><proposal>cbc</proposal>
    {"<proposal>windows-default</proposal>" if legacy else ""}</policy>
  <authorization-policy><name>certs</name><pool>cert-pool</pool>{SPLIT.format(net=split) if split else ""}
  </authorization-policy>
  <profile>
    <name>ra</name>{sa}
    <match><identity><remote><email><domain>example.org</domain></email><fqdn><domain>example.org</domain></fqdn>
      <address>0.0.0.0/0</address></remote></identity></match>
    <identity><local><fqdn>headend.example.org</fqdn></local></identity>
    <authentication><local><rsa-sig/></local><remote><eap>{q}</eap><rsa-sig/><ecdsa-sig/></remote></authentication>
    <pki><trustpoint><name>tp</name></trustpoint></pki>
    <aaa>
      <authentication><eap>eap-list</eap></authentication>
      <authorization><user><eap><cached/></eap></user>
        <group><cert><method-list>local-list</method-list><username>certs</username></cert>{eap_group}</group></authorization>
    </aaa>
    <virtual-template><ipsec-profile>ra-esp</ipsec-profile></virtual-template>
  </profile>{psk}
</ikev2>
<ipsec xmlns="{NS}" xmlns:rt="{RT}">
  <transform-set><name>gcm</name><esp-encryption>rt:aes-gcm-16-256</esp-encryption></transform-set>
  <transform-set><name>cbc-sha2</name><esp-encryption>rt:aes-cbc-256</esp-encryption>
    <esp-integrity>rt:hmac-sha2-256-128</esp-integrity></transform-set>
  <transform-set><name>cbc-sha1</name><esp-encryption>rt:aes-cbc-256</esp-encryption>
    <esp-integrity>rt:hmac-sha1-96</esp-integrity></transform-set>
  <profile><name>ra-esp</name><transform-set>gcm</transform-set><transform-set>cbc-sha2</transform-set>
    <transform-set>cbc-sha1</transform-set>{f"<pfs-group>rt:{pfs}</pfs-group>" if pfs else ""}</profile>
</ipsec>
<pools xmlns="{NS}">
  <ipv4-pool><name>radpool</name><range><start>10.207.0.10</start><end>10.207.0.20</end></range></ipv4-pool>
  <ipv4-pool><name>cert-pool</name><range><start>10.203.0.1</start><end>10.203.0.9</end></range></ipv4-pool>
  <ipv6-pool><name>v6pool</name><prefix>2001:db8:88::/48</prefix><assigned-length>64</assigned-length></ipv6-pool>
</pools>
<aaa xmlns="{NS}">
  <radius-server><name>r1</name><address>127.0.0.1</address><auth-port>{fr.port}</auth-port>
    <acct-port>{fr.acct_port}</acct-port><key>{SECRET}</key><timeout>1</timeout><retransmit>1</retransmit>
    <source-address>127.0.0.1</source-address></radius-server>
  <server-group><name>g</name><server>r1</server></server-group>
  <authentication-list><name>eap-list</name><method><sequence>1</sequence><group>g</group></method></authentication-list>
  <authorization-list><name>local-list</name><method><sequence>1</sequence><local/></method></authorization-list>
</aaa>"""


@pytest.fixture
def site(lab):
    """Factory: a lab of one client with FreeRADIUS in the headend namespace."""
    made = []

    def make(**kw):
        lb = lab(1, **kw)
        fr = FreeRadius(netns=lb.head, users_extra=USERS)
        made.append(fr)
        return lb, fr

    yield make
    for fr in made:
        fr.close()


def client(lb, i, ike_id, proposals, esp, auth="eap-mschapv2", eap_id=None, remote_id="headend.example.org",
           vips="0.0.0.0", remote_ts="0.0.0.0/0", cert=None, addr=None):
    """A strongSwan client's swanctl.conf (the connection "rw", child "vpn")."""
    if auth == "pubkey":
        local = f"auth = pubkey\n      certs = {cert}.pem\n      id = {ike_id}"
        secrets = ""
    else:
        eid = eap_id or ike_id
        local = f"auth = {auth}\n      id = {ike_id}\n      eap_id = {eid}"
        secrets = f"secrets {{\n  eap-1 {{\n    id = {eid}\n    secret = {PASSWORDS[eid]}\n  }}\n}}\n"
    return f"""connections {{
  rw {{
    remote_addrs = {addr or lb.clients[i]['head_ip']}
    vips = {vips}
    proposals = {proposals}
    local {{
      {local}
    }}
    remote {{
      auth = pubkey
      id = "{remote_id}"
    }}
    children {{
      vpn {{
        remote_ts = {remote_ts}
        esp_proposals = {esp}
      }}
    }}
  }}
}}
{secrets}"""


def up(lb, conf, ca_files=(), extra="", cert=None, key=None, timeout=20):
    for f in ca_files:
        lb.install_creds(0, ca=f)
    if cert:
        lb.install_creds(0, cert=cert, key=key)
    lb.start_charon(0, conf, extra_charon=extra)
    return lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", str(timeout), check=False)


def generate(m, platform, user, profile="ra", auth=None):
    """rpc client-profile over NETCONF: (content, file-name, content-type)."""
    a = f"<authentication>{auth}</authentication>" if auth else ""
    reply = rpc(m, f'<client-profile xmlns="{NS}"><profile>{profile}</profile><user>{user}</user>'
                   f'<platform>{platform}</platform>{a}</client-profile>')
    root = etree.fromstring(reply.xml.encode())
    out = {k: root.xpath(f"//*[local-name()='{k}']")[0].text for k in ("content", "file-name", "content-type")}
    return out["content"], out["file-name"], out["content-type"]


def child_sa(s):
    return s.find(f"{{{NS}}}child-sa")


# ---------------------------------------------------------------------------
# strongSwan's names for what each platform's file says

APPLE_ENC = {"AES-128": "aes128", "AES-256": "aes256", "AES-128-GCM": "aes128gcm16", "AES-256-GCM": "aes256gcm16"}
APPLE_INTEG = {"SHA1-96": "sha1", "SHA2-256": "sha256", "SHA2-384": "sha384", "SHA2-512": "sha512"}
APPLE_PRF = {"SHA1-160": "prfsha1", "SHA2-256": "prfsha256", "SHA2-384": "prfsha384", "SHA2-512": "prfsha512"}
DH = {2: "modp1024", 14: "modp2048", 15: "modp3072", 19: "ecp256", 20: "ecp384", 21: "ecp521", 31: "curve25519"}
WIN_ENC = {"AES128": "aes128", "AES256": "aes256", "GCMAES128": "aes128gcm16", "GCMAES256": "aes256gcm16"}
WIN_INTEG = {"SHA1": "sha1", "SHA256": "sha256", "SHA384": "sha384"}
WIN_DH = {"Group2": "modp1024", "Group14": "modp2048", "ECP256": "ecp256", "ECP384": "ecp384"}
WIN_ESP_AUTH = {"SHA196": "sha1", "SHA256128": "sha256"}


def apple_proposals(vpn):
    """The IKE and ESP proposals an Apple device makes from its IKEv2 payload."""
    ike, ch = vpn["IKESecurityAssociationParameters"], vpn["ChildSecurityAssociationParameters"]
    e = APPLE_ENC[ike["EncryptionAlgorithm"]]
    i = APPLE_PRF[{"SHA2-256": "SHA2-256", "SHA2-384": "SHA2-384", "SHA2-512": "SHA2-512",
                   "SHA1-96": "SHA1-160"}[ike["IntegrityAlgorithm"]]] if "gcm" in e else \
        APPLE_INTEG[ike["IntegrityAlgorithm"]]
    ike_p = f"{e}-{i}-{DH[ike['DiffieHellmanGroup']]}"
    ce = APPLE_ENC[ch["EncryptionAlgorithm"]]
    esp = ce if "gcm" in ce else f"{ce}-{APPLE_INTEG[ch['IntegrityAlgorithm']]}"
    if vpn.get("EnablePFS"):
        esp += f"-{DH[ch['DiffieHellmanGroup']]}"
    return ike_p, esp


def windows_proposals(script):
    """The IKE and ESP proposals Windows makes from the script's
    Set-VpnConnectionIPsecConfiguration."""
    line = [ln for ln in script.splitlines() if ln.startswith("Set-VpnConnectionIPsecConfiguration")]
    assert len(line) == 1, script
    a = dict(re.findall(r"\s-(\w+) (\S+)", line[0]))
    e = WIN_ENC[a["EncryptionMethod"]]
    ike = f"{e}-{'prf' if 'gcm' in e else ''}{WIN_INTEG[a['IntegrityCheckMethod']]}-{WIN_DH[a['DHGroup']]}"
    ce = WIN_ENC[a["CipherTransformConstants"]]
    esp = ce if "gcm" in ce else f"{ce}-{WIN_ESP_AUTH[a['AuthenticationTransformConstants']]}"
    return ike, esp, a


def sswan_conf(lb, prof, password_of):
    """A strongSwan client configured from a .sswan profile's fields, as the
    Android app does: remote addr, id, CA; local eap_id; the proposals; the
    split subnets as the networks it sends into the tunnel."""
    d = lb.clients[0]["dir"]
    cert = base64.b64decode(prof["remote"]["cert"])
    # the trust anchor (a CA; a server certificate would be trusted as it is,
    # the app keeps either in its store of trusted certificates)
    ext = subprocess.run(["openssl", "x509", "-inform", "der", "-noout", "-ext", "basicConstraints"], input=cert,
                         capture_output=True).stdout
    with open(os.path.join(d, "x509ca" if b"CA:TRUE" in ext else "x509", "sswan-ca.der"), "wb") as f:
        f.write(cert)
    eap_id = prof["local"]["eap_id"]
    PASSWORDS.setdefault(eap_id, password_of)
    # the app routes the split subnets into the tunnel (all with none)
    ts = prof.get("split-tunneling", {}).get("subnets", "0.0.0.0/0 ::/0").replace(" ", ",")
    return client(lb, 0, eap_id, prof["ike-proposal"], prof["esp-proposal"], remote_id=prof["remote"]["id"],
                  addr=prof["remote"]["addr"], vips="0.0.0.0,::", remote_ts=ts)


# ---------------------------------------------------------------------------
# item 8: generated profiles


def test_generated_files_have_each_platforms_structure(make_ravend, site, pki):
    lb, fr = site()
    head = lb.clients[0]["head_ip"]
    d = make_ravend(headend(pki, fr, pfs="ecp-384", server_address=head, split="10.99.251.0/24"), netns=lb.head)
    m = d.connect()
    ca_der = subprocess.run(["openssl", "x509", "-in", pki("ca.pem"), "-outform", "der"], check=True,
                            capture_output=True).stdout

    # Apple: a plist with the VPN payload and the CA
    content, name, ctype = generate(m, "apple", "amy@example.org")
    assert name == "ra-amy_example.org.mobileconfig" and ctype == "application/x-apple-aspen-config"
    pl = plistlib.loads(content.encode())
    assert pl["PayloadType"] == "Configuration" and pl["PayloadVersion"] == 1
    vpn = [p for p in pl["PayloadContent"] if p["PayloadType"] == "com.apple.vpn.managed"][0]
    root = [p for p in pl["PayloadContent"] if p["PayloadType"] == "com.apple.security.root"][0]
    assert root["PayloadContent"] == ca_der
    assert vpn["VPNType"] == "IKEv2"
    ike = vpn["IKEv2"]
    assert ike["RemoteAddress"] == head and ike["RemoteIdentifier"] == "headend.example.org"
    assert ike["LocalIdentifier"] == "amy@example.org" and ike["AuthName"] == "amy@example.org"
    assert ike["AuthenticationMethod"] == "None" and ike["ExtendedAuthEnabled"] == 1
    assert ike["ServerCertificateIssuerCommonName"] == "Raven Test CA"
    # the policy's first proposal in Apple's names; PFS with the required group
    assert ike["IKESecurityAssociationParameters"] == {"EncryptionAlgorithm": "AES-256-GCM",
                                                       "IntegrityAlgorithm": "SHA2-384", "DiffieHellmanGroup": 20}
    assert ike["ChildSecurityAssociationParameters"]["EncryptionAlgorithm"] == "AES-256-GCM"
    assert ike["ChildSecurityAssociationParameters"]["DiffieHellmanGroup"] == 20
    assert ike["EnablePFS"] == 1 and ike["DisableMOBIKE"] == 0
    # DNS and split tunnel of the policy: the servers of both families, the
    # default domain, split DNS as supplemental match domains; not all traffic
    assert vpn["DNS"] == {"ServerAddresses": ["10.0.0.53", "2001:db8:53::1"], "DomainName": "corp.example.org",
                          "SearchDomains": ["corp.example.org"],
                          "SupplementalMatchDomains": ["eng.example.org", "corp.example.org"]}, vpn["DNS"]
    assert vpn["IPv4"] == {"OverridePrimary": 0}
    uuids = [pl["PayloadUUID"], vpn["PayloadUUID"], root["PayloadUUID"]]
    assert len(set(uuids)) == 3 and all(re.fullmatch(r"[0-9A-F]{8}(-[0-9A-F]{4}){3}-[0-9A-F]{12}", u) for u in uuids)

    # certificates instead of EAP
    content, _, _ = generate(m, "apple", "alice.example.org", auth="certificate")
    ike = [p for p in plistlib.loads(content.encode())["PayloadContent"]
           if p["PayloadType"] == "com.apple.vpn.managed"][0]["IKEv2"]
    assert ike["AuthenticationMethod"] == "Certificate" and ike["ExtendedAuthEnabled"] == 0
    assert "AuthName" not in ike and ike["LocalIdentifier"] == "alice.example.org"

    # Windows: the CA imported, the connection added, one IPsec configuration
    content, name, ctype = generate(m, "windows", "wes")
    assert name == "ra-wes.ps1" and ctype.startswith("text/plain")
    assert read(pki("ca.pem")) in content
    assert "Import-Certificate -FilePath $CaFile -CertStoreLocation Cert:\\LocalMachine\\Root" in content
    assert re.search(r"^Add-VpnConnection -Name \$Name -ServerAddress \$Server -TunnelType Ikev2 "
                     r"-AuthenticationMethod Eap ", content, re.M)
    assert f"$Server = '{head}'" in content and "$Name = 'ra'" in content
    _, _, a = windows_proposals(content)
    assert a == {"ConnectionName": "$Name", "EncryptionMethod": "GCMAES256", "IntegrityCheckMethod": "SHA384",
                 "DHGroup": "ECP384", "CipherTransformConstants": "GCMAES256",
                 "AuthenticationTransformConstants": "GCMAES256", "PfsGroup": "ECP384"}, a
    # split tunnel: a route per split subnet, the default domain as suffix, the
    # split-DNS domains resolved by the tunnel's servers
    assert re.search(r"^Add-VpnConnection .* -SplitTunneling -DnsSuffix 'corp\.example\.org'$", content, re.M)
    assert re.findall(r"^Add-VpnConnectionRoute -ConnectionName \$Name -DestinationPrefix '([^']+)'$", content,
                      re.M) == ["10.99.251.0/24", "fd00:250::/64"], content
    assert "$DnsServers = @('10.0.0.53', '2001:db8:53::1')" in content
    assert re.findall(r"^Add-VpnConnectionTriggerDnsConfiguration -ConnectionName \$Name -DnsSuffix '([^']+)' "
                      r"-DnsIPAddress \$DnsServers -Force$", content, re.M) == ["eng.example.org", "corp.example.org"]
    # the lines come after the connection they configure
    assert content.index("Add-VpnConnection ") < content.index("Add-VpnConnectionRoute")
    content, _, _ = generate(m, "windows", "wes", auth="certificate")
    assert "-AuthenticationMethod MachineCertificate" in content

    # Android: the app's JSON keys
    content, name, ctype = generate(m, "android", "ana@example.org")
    assert name == "ra-ana_example.org.sswan" and ctype == "application/vnd.strongswan.profile"
    prof = json.loads(content)
    assert set(prof) == {"uuid", "name", "type", "remote", "local", "ike-proposal", "esp-proposal", "split-tunneling"}
    assert prof["split-tunneling"] == {"subnets": "10.99.251.0/24 fd00:250::/64"}
    assert re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", prof["uuid"])
    assert prof["type"] == "ikev2-eap" and prof["name"] == "ra"
    assert prof["remote"] == {"addr": head, "id": "headend.example.org",
                              "cert": base64.b64encode(ca_der).decode()}
    assert prof["local"] == {"eap_id": "ana@example.org"}
    assert prof["ike-proposal"] == "aes256gcm16-aes128gcm16-prfsha384-prfsha256-ecp384-ecp256-curve25519-modp2048"
    assert prof["esp-proposal"] == "aes256gcm16-ecp384"
    content, _, _ = generate(m, "android", "alice.example.org", auth="certificate")
    assert json.loads(content)["type"] == "ikev2-cert" and json.loads(content)["local"] == {}


def der(pem_file):
    return subprocess.run(["openssl", "x509", "-in", pem_file, "-outform", "der"], check=True,
                          capture_output=True).stdout


def test_ca_chain_root_is_the_anchor(make_ravend, site, pki, chain):
    """The headend's certificate from an intermediate CA, the root listed first
    in the trustpoint: Apple and Windows get the root as trust anchor and the
    intermediate where they keep intermediates; the .sswan the root too, and
    the app (a strongSwan client configured from the file, only the root in its
    x509ca) authenticates the headend through the intermediate the headend
    sends in IKE_AUTH. Apple's identifiers come from the profile and the user."""
    lb, fr = site()
    head = lb.clients[0]["head_ip"]
    d = make_ravend(headend(pki, fr, server="head-big", cas=("ca", "inter"), server_address=head), netns=lb.head)
    m = d.connect()
    root_der, inter_der = der(pki("ca.pem")), der(chain("inter.pem"))

    content, _, _ = generate(m, "apple", "amy@example.org")
    pl = plistlib.loads(content.encode())
    by_type = lambda t: [p for p in pl["PayloadContent"] if p["PayloadType"] == t]
    assert [p["PayloadContent"] for p in by_type("com.apple.security.root")] == [root_der]
    assert [p["PayloadContent"] for p in by_type("com.apple.security.pkcs1")] == [inter_der]
    vpn = by_type("com.apple.vpn.managed")[0]
    assert vpn["IKEv2"]["ServerCertificateIssuerCommonName"] == "Raven Test Intermediate"
    assert pl["PayloadIdentifier"] == "net.raven.vpn.ra.amy_40example_2Eorg"
    assert vpn["PayloadIdentifier"] == "net.raven.vpn.ra.amy_40example_2Eorg.vpn"
    assert by_type("com.apple.security.root")[0]["PayloadIdentifier"] == "net.raven.vpn.ra.amy_40example_2Eorg.ca"
    other = plistlib.loads(generate(m, "apple", "ana@example.org")[0].encode())
    assert other["PayloadIdentifier"] != pl["PayloadIdentifier"]

    content, _, _ = generate(m, "windows", "wes")
    root_at, inter_at = content.index(read(pki("ca.pem"))), content.index(read(chain("inter.pem")))
    stores = re.findall(r"-CertStoreLocation Cert:\\LocalMachine\\(\w+)", content)
    assert stores == ["Root", "CA"], content
    assert root_at < content.index("LocalMachine\\Root") < inter_at < content.index("LocalMachine\\CA")

    prof = json.loads(generate(m, "android", "ana@example.org")[0])
    assert base64.b64decode(prof["remote"]["cert"]) == root_der
    r = up(lb, sswan_conf(lb, prof, "ana-pw-1"), timeout=40)
    log = lb.log(0)
    assert r.returncode == 0, f"{log[-4000:]}\n{d.log()[-3000:]}"
    assert os.listdir(os.path.join(lb.clients[0]["dir"], "x509ca")) == ["sswan-ca.der"]
    assert 'received issuer cert "O=Raven Test, CN=Raven Test Intermediate"' in log, log[-4000:]
    assert "authentication of 'headend.example.org' with RSA_EMSA_PKCS1_SHA2_256 successful" in log


def test_xml_and_powershell_quoting_of_the_user(make_ravend, site, pki):
    """A user name with XML and PowerShell metacharacters stays data."""
    lb, fr = site()
    d = make_ravend(headend(pki, fr, server_address="vpn.example.org"), netns=lb.head)
    m = d.connect()
    user = "o'neil&<x>\"y\u2019"
    esc = user.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    content, name, _ = generate(m, "apple", esc)
    vpn = [p for p in plistlib.loads(content.encode())["PayloadContent"]
           if p["PayloadType"] == "com.apple.vpn.managed"][0]
    assert vpn["IKEv2"]["AuthName"] == user and vpn["IKEv2"]["RemoteAddress"] == "vpn.example.org"
    assert "/" not in name and "'" not in name and "<" not in name
    content, _, _ = generate(m, "windows", esc)
    assert "'o''neil&<x>\"y\u2019\u2019'" in content
    content, _, _ = generate(m, "android", esc)
    assert json.loads(content)["local"]["eap_id"] == user


def test_client_profile_refusals(make_ravend, site, pki):
    lb, fr = site()
    d = make_ravend(headend(pki, fr, psk_profile=True), netns=lb.head)
    m = d.connect()
    before = d.running_file()
    e = expect_error(lambda: generate(m, "android", "ana@example.org", profile="nope"), "invalid-value")
    assert "no IKEv2 profile named 'nope'" in e.message
    e = expect_error(lambda: generate(m, "apple", "x", profile="psk-only"), "invalid-value")
    assert "pre-shared keys" in e.message
    e = expect_error(lambda: generate(m, "blackberry", "x"), "operation-failed")
    assert "blackberry" in e.message
    expect_error(lambda: rpc(m, f'<client-profile xmlns="{NS}"><profile>ra</profile></client-profile>'),
                 "missing-element")
    e = expect_error(lambda: generate(m, "windows", "wes\tx"), "invalid-value")
    assert "control characters" in e.message
    reader = d.connect(user="reader", password="reader-secret-1")
    expect_error(lambda: generate(reader, "android", "ana@example.org"), "access-denied")
    # without server-address the match local address or listen address is used;
    # a wildcard listen address is no address to dial
    e = expect_error(lambda: generate(m, "android", "ana@example.org"), "invalid-value")
    assert "server-address" in e.message
    assert d.running_file() == before


def test_sswan_profile_connects_a_strongswan_client(make_ravend, site, pki):
    """The .sswan profile's fields make a strongSwan client's configuration; it
    connects with EAP-MSCHAPv2, gets its IPv4 and IPv6 addresses, and its
    tunnel carries the policy's split subnets, as the file says."""
    lb, fr = site()
    d = make_ravend(headend(pki, fr, pfs="ecp-384", server_address=lb.clients[0]["head_ip"],
                            split="10.99.251.0/24"), netns=lb.head)
    m = d.connect()
    prof = json.loads(generate(m, "android", "ana@example.org")[0])
    r = up(lb, sswan_conf(lb, prof, "ana-pw-1"))
    log = lb.log(0)
    assert r.returncode == 0, f"{log[-4000:]}\n{d.log()[-3000:]}"
    assert "authentication of 'headend.example.org' with RSA_EMSA_PKCS1_SHA2_256 successful" in log
    assert re.search(r"installing new virtual IP 10\.207\.0\.\d+", log) and "installing new virtual IP 2001:db8:88:" in log
    s = sessions(d.connect())[0]
    assert t(s, "eap-identity") == "ana@example.org"
    assert t(child_sa(s), "encryption").endswith("aes-gcm-16-256")
    assert prof["split-tunneling"]["subnets"] == "10.99.251.0/24 fd00:250::/64"
    # the child SA's remote traffic selectors are the split subnets, both ends
    sas = lb.swanctl(0, "--list-sas").stdout
    assert re.search(r"remote\s+10\.99\.251\.0/24 fd00:250::/64$", sas, re.M), sas
    routes = subprocess.run(["ip", "-n", lb.clients[0]["ns"], "route", "show", "table", "220"], capture_output=True,
                            text=True).stdout
    assert "10.99.251.0/24" in routes and "0.0.0.0/0" not in routes and "default" not in routes, routes


@pytest.mark.parametrize("platform", ["apple", "windows"])
def test_apple_and_windows_files_carry_accepted_proposals(make_ravend, site, pki, platform):
    """The single parameter set an Apple profile or a Windows script carries,
    offered by a strongSwan client with that platform's identity, connects; the
    session uses exactly those algorithms."""
    lb, fr = site()
    head = lb.clients[0]["head_ip"]
    d = make_ravend(headend(pki, fr, server_address=head), netns=lb.head)
    m = d.connect()
    if platform == "apple":
        pl = plistlib.loads(generate(m, "apple", "amy@example.org")[0].encode())
        vpn = [p for p in pl["PayloadContent"] if p["PayloadType"] == "com.apple.vpn.managed"][0]
        ike, esp = apple_proposals(vpn["IKEv2"])
        conf = client(lb, 0, vpn["IKEv2"]["LocalIdentifier"], ike, esp, remote_id=vpn["IKEv2"]["RemoteIdentifier"],
                      addr=vpn["IKEv2"]["RemoteAddress"])
        user = "amy@example.org"
    else:
        script = generate(m, "windows", "wes")[0]
        ike, esp, _ = windows_proposals(script)
        addr = re.search(r"^\$Server = '([^']+)'", script, re.M).group(1)
        conf = client(lb, 0, lb.clients[0]["ip"], ike, esp, eap_id="wes", addr=addr)
        user = "wes"
    ca = os.path.join(lb.clients[0]["dir"], "gen-ca.pem")
    with open(ca, "w") as f:
        f.write(read(pki("ca.pem")) + "\n")
    r = up(lb, conf, ca_files=[ca])
    log = lb.log(0)
    assert r.returncode == 0, f"{ike} {esp}\n{log[-4000:]}\n{d.log()[-3000:]}"
    s = sessions(d.connect())[0]
    assert t(s, "eap-identity") == user
    assert ike.startswith("aes256gcm16-prfsha384-ecp384") and esp == "aes256gcm16"
    assert t(child_sa(s), "encryption").endswith("aes-gcm-16-256")


def test_client_profile_over_rest(make_ravend, site, pki):
    lb, fr = site()
    d = make_ravend(headend(pki, fr, server_address="vpn.example.org"), netns=lb.head, rest=True)
    rest = Rest(d.rest_url, netns=lb.head)
    r = rest.post("/restconf/operations/raven-vpn:client-profile",
                  {"raven-vpn:input": {"profile": "ra", "user": "ana@example.org", "platform": "android"}})
    assert r.status == 200, r
    out = r.json()["raven-vpn:output"]
    assert out["file-name"] == "ra-ana_example.org.sswan"
    assert json.loads(out["content"])["remote"]["addr"] == "vpn.example.org"
    r = rest.post("/restconf/operations/raven-vpn:client-profile",
                  {"raven-vpn:input": {"profile": "none", "user": "u", "platform": "apple"}})
    assert r.status == 400 and "no IKEv2 profile named 'none'" in r.errors()[0]["error-message"], r


# ---------------------------------------------------------------------------
# item 6: the clients, emulated


@pytest.mark.parametrize("legacy", [True, False])
def test_windows_default_proposals_need_allow_legacy(make_ravend, site, pki, legacy):
    """Windows' default offer: AES-CBC-256, SHA1, MODP-1024 (group 2) for IKE,
    AES-CBC-256 with SHA1 for ESP; its IP address as IKE identity, EAP-MSCHAPv2
    with the EAP identity asked for (query-identity)."""
    lb, fr = site()
    d = make_ravend(headend(pki, fr, legacy=legacy), netns=lb.head)
    c = lb.clients[0]
    r = up(lb, client(lb, 0, c["ip"], "aes256-sha1-modp1024", "aes256-sha1", eap_id="wes"),
           ca_files=[pki("ca.pem")])
    log = lb.log(0)
    if not legacy:
        assert r.returncode != 0
        assert "NO_PROPOSAL_CHOSEN" in log, log[-3000:]
        assert not sessions(d.connect())
        return
    assert r.returncode == 0, f"{log[-4000:]}\n{d.log()[-3000:]}"
    assert "selected proposal: IKE:AES_CBC_256/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024" in log, log[-3000:]
    assert re.search(r"parsed IKE_AUTH response 1 \[ IDr CERT AUTH EAP/REQ/ID \]", log), log[-3000:]
    s = sessions(d.connect())[0]
    assert t(s, "remote-identity/value") == c["ip"]
    assert t(s, "eap-identity") == "wes"
    ch = child_sa(s)
    assert t(ch, "encryption").endswith("aes-cbc-256") and t(ch, "integrity").endswith("hmac-sha1-96")


def test_windows_configured_for_gcm_and_ecp384(make_ravend, site, pki):
    """Windows set to AES-GCM-256 and ECP-384 (Set-VpnConnectionIPsecConfiguration
    -EncryptionMethod GCMAES256 -IntegrityCheckMethod SHA384 -DHGroup ECP384):
    accepted without any legacy opt-in."""
    lb, fr = site()
    d = make_ravend(headend(pki, fr), netns=lb.head)
    c = lb.clients[0]
    r = up(lb, client(lb, 0, c["ip"], "aes256gcm16-prfsha384-ecp384", "aes256gcm16", eap_id="wes"),
           ca_files=[pki("ca.pem")])
    log = lb.log(0)
    assert r.returncode == 0, f"{log[-4000:]}\n{d.log()[-3000:]}"
    assert "selected proposal: IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/ECP_384" in log, log[-3000:]
    assert t(sessions(d.connect())[0], "eap-identity") == "wes"


def test_windows_without_query_identity_is_refused(make_ravend, site, pki):
    """Without query-identity the headend would take the IKE identity, Windows'
    IP address, as the EAP identity: it refuses the client at once, saying why
    (the reason the guide asks for query-identity), and asks RADIUS nothing."""
    lb, fr = site()
    d = make_ravend(headend(pki, fr, query=False), netns=lb.head)
    c = lb.clients[0]
    r = up(lb, client(lb, 0, c["ip"], "aes256gcm16-prfsha384-ecp384", "aes256gcm16", eap_id="wes"),
           ca_files=[pki("ca.pem")])
    log = lb.log(0)
    assert r.returncode != 0, log[-3000:]
    assert not re.search(r"parsed IKE_AUTH response 1 \[[^]]*EAP/REQ/ID", log), log[-3000:]
    assert "AUTHENTICATION_FAILED" in log, log[-3000:]
    assert "which cannot be an EAP identity (set query-identity)" in d.log(), d.log()[-3000:]
    assert "Access-Request" not in fr.log()  # nothing asked of RADIUS in the address's name
    assert not sessions(d.connect())


def test_apple_certificate_with_pfs_on_rekeyed_child_sas(make_ravend, site, pki):
    """An Apple-like client with a certificate: IKE AES-256/SHA2-256/MODP-2048,
    ESP AES-256/SHA2-256 with PFS; the headend requires PFS with MODP-2048, and
    the rekeyed child SA carries it."""
    lb, fr = site()
    d = make_ravend(headend(pki, fr, pfs="modp-2048"), netns=lb.head)
    r = up(lb, client(lb, 0, "alice.example.org", "aes256-sha256-modp2048", "aes256-sha256-modp2048",
                      auth="pubkey", cert="alice"),
           ca_files=[pki("ca.pem")], cert=pki("alice.pem"), key=pki("alice.key"))
    log = lb.log(0)
    assert r.returncode == 0, f"{log[-4000:]}\n{d.log()[-3000:]}"
    assert "selected proposal: IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048" in log
    m = d.connect()
    s = sessions(m)[0]
    assert t(s, "authorized-group") == "certs"
    assert t(child_sa(s), "integrity").endswith("hmac-sha2-256-128")
    lb.swanctl(0, "--rekey", "--child", "vpn")
    wait_until(lambda: "CHILD_SA vpn{2} established" in lb.log(0), what="the rekeyed child SA")
    log = lb.log(0)
    # the rekey carried a key exchange both ways, in the group the headend requires
    assert re.search(r"generating CREATE_CHILD_SA request \d+ \[ N\(REKEY_SA\) SA No KE TSi TSr \]", log), log[-3000:]
    assert re.search(r"parsed CREATE_CHILD_SA response \d+ \[ SA No KE TSi TSr \]", log), log[-3000:]
    sas = lb.swanctl(0, "--list-sas").stdout
    assert "AES_CBC-256/HMAC_SHA2_256_128/MODP_2048" in sas, sas
    assert len(sessions(m)[0].findall(f"{{{NS}}}child-sa")) == 1  # the old one is gone


def test_apple_eap(make_ravend, site, pki):
    """An Apple-like client with EAP-MSCHAPv2 (AuthenticationMethod None,
    ExtendedAuthEnabled): its user name as IKE identity and EAP identity,
    AES-256/SHA2-256/ECP-256; the policy's split-DNS domains reach it as
    INTERNAL_DNS_DOMAIN."""
    lb, fr = site()
    d = make_ravend(headend(pki, fr, split="10.99.251.0/24"), netns=lb.head)
    r = up(lb, client(lb, 0, "amy@example.org", "aes256-sha256-ecp256", "aes256-sha256"),
           ca_files=[pki("ca.pem")])
    log = lb.log(0)
    assert r.returncode == 0, f"{log[-4000:]}\n{d.log()[-3000:]}"
    assert "EAP method EAP_MSCHAPV2 succeeded, MSK established" in log
    s = sessions(d.connect())[0]
    assert t(s, "eap-identity") == "amy@example.org" and t(s, "remote-identity/value") == "amy@example.org"
    # the group policy's split-DNS domains in the last IKE_AUTH response
    assert t(s, "authorized-group") == "certs"
    assert_domains_received(log, 2)


def test_android_dual_stack_and_fragmented_chain(make_ravend, site, pki, chain):
    """The strongSwan Android app: strongSwan's default proposals, EAP, an IPv4
    and an IPv6 address; the headend's RSA-4096 certificate from an intermediate
    CA makes an IKE_AUTH response that travels in fragments (RFC 7383)."""
    lb, fr = site()
    d = make_ravend(headend(pki, fr, server="head-big", cas=("inter", "ca")), netns=lb.head)
    r = up(lb, client(lb, 0, "ana@example.org", "default", "default", vips="0.0.0.0,::",
                      remote_ts="0.0.0.0/0,::/0"), ca_files=[chain("inter.pem"), pki("ca.pem")])
    log = lb.log(0)
    assert r.returncode == 0, f"{log[-4000:]}\n{d.log()[-3000:]}"
    assert "reassembled fragmented IKE message" in log, log[-3000:]
    assert re.search(r"installing new virtual IP 10\.207\.0\.\d+", log)
    assert "installing new virtual IP 2001:db8:88:" in log
    s = sessions(d.connect())[0]
    assert t(s, "ike-sa/fragmentation") == "true"
    assert t(s, "assigned-ipv4") and s.findtext(f"{{{NS}}}assigned-ipv6").startswith("2001:db8:88:")


def roaming_site(site, v6_pool=False):
    """A lab with an inside host behind the dataplane routing the pools back
    (and fd00:250::/64 with 2001:db8:88::/48 with @v6_pool)."""
    lb, fr = site(inside=True, inside_routes=("10.207.0.0/24", "10.203.0.0/24"))
    if v6_pool:
        lb.inside6(routes=("2001:db8:88::/48",))
    return lb, fr


def moves_mid_ping(lb, d, old, new):
    """Client 0 moves from @old to @new while it pings the inside host: the
    session follows by MOBIKE with the same IKE SA (both ends' SPIs), the
    tunnel carries on, state shows the move and the previous address."""
    m = d.connect()
    before = raven_session(m)
    assert t(before, "mobility/mobike") == "true" and t(before, "mobility/moves") == "0"
    assert t(before, "peer-address") == old
    spis = client_spis(lb)[0]
    p = pinger(lb, 9)
    time.sleep(2)
    lb.move(0, old, new)
    wait_moved(lb, d, lambda: t(raven_session(m), "peer-address") == new, f"the session at {new}")
    sent, got = received(p)
    after = raven_session(m)
    assert t(after, "id") == t(before, "id")
    for leaf in ("ike-sa/initiator-spi", "ike-sa/responder-spi", "established-at"):
        assert t(after, leaf) == t(before, leaf), leaf
    assert client_spis(lb)[0] == spis
    assert got >= sent - 10, (sent, got)
    ns_run(lb.clients[0]["ns"], "ping", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "2", lb.inside_ip)
    assert t(after, "mobility/moves") == "1" and t(after, "mobility/last-move")
    h = history(after)
    assert len(h) == 1 and h[0][0] == old, h
    assert "N(UPD_SA_ADDR)" in lb.log(0)
    return after


def test_apple_certificate_roams_with_mobike_and_gets_split_dns(make_ravend, site, pki):
    """The Apple-like certificate client (PFS with MODP-2048 on its child SAs)
    gets the policy's split-DNS domains as INTERNAL_DNS_DOMAIN and its DNS
    server, then changes address mid-ping: MOBIKE keeps its IKE SA, and a child
    SA rekeyed after the move carries a key exchange."""
    lb, fr = roaming_site(site)
    d = make_ravend(headend(pki, fr, pfs="modp-2048", split=lb.inside_net) + dataplane_config(lb), netns=lb.head)
    c = lb.clients[0]
    r = up(lb, client(lb, 0, "alice.example.org", "aes256-sha256-modp2048", "aes256-sha256-modp2048",
                      auth="pubkey", cert="alice", remote_ts=lb.inside_net),
           ca_files=[pki("ca.pem")], cert=pki("alice.pem"), key=pki("alice.key"))
    log = lb.log(0)
    assert r.returncode == 0, f"{log[-4000:]}\n{d.log()[-3000:]}"
    assert "peer supports MOBIKE" in log
    # what the headend sent: its configuration reply as the client parsed it,
    # the policy that gave it in state
    assert_domains_received(log, 2)
    assert t(sessions(d.connect())[0], "authorized-group") == "certs"
    with open(os.path.join(c["dir"], "resolv.conf")) as f:
        assert "10.0.0.53" in f.read()
    ns_run(c["ns"], "ping", "-n", "-q", "-c", "2", "-i", "0.2", "-W", "2", lb.inside_ip)
    moves_mid_ping(lb, d, c["ip"], f"10.{lb.net}.0.3")
    # PFS: every CREATE_CHILD_SA of the client (its rekey after the move) has KE
    reqs = re.findall(r"generating CREATE_CHILD_SA request \d+ \[ ([^]]*) \]", lb.log(0))
    assert all(" KE " in f" {x} " for x in reqs), reqs


def test_android_over_ipv6_dual_stack_fragments_and_mobike(make_ravend, site, pki):
    """The Android-like strongSwan client reaches the dual-stack headend over
    IPv6, gets an IPv4 and an IPv6 address and pings the inside host in both
    families; on a 1280-byte link (IPv6's least) its large pings leave as
    fragmented ESP in UDP and arrive; then it changes its IPv6 address mid-ping
    and MOBIKE keeps its IKE SA."""
    lb, fr = roaming_site(site, v6_pool=True)
    head6, cl6 = lb.v6_outside(0)
    d = make_ravend(headend(pki, fr, split=lb.inside_net, listen="<address>0.0.0.0</address><address>::</address>")
                    + dataplane_config(lb), netns=lb.head)
    c = lb.clients[0]
    r = up(lb, client(lb, 0, "ana@example.org", "default", "default", vips="0.0.0.0,::",
                      remote_ts=f"{lb.inside_net},{lb.inside_net6}", addr=head6), ca_files=[pki("ca.pem")])
    log = lb.log(0)
    assert r.returncode == 0, f"{log[-4000:]}\n{d.log()[-3000:]}"
    m = d.connect()
    s = sessions(m)[0]
    assert t(s, "peer-address") == cl6
    assert t(s, "ike-sa/fragmentation") == "true"
    assert t(s, "assigned-ipv4") and t(s, "assigned-ipv6").startswith("2001:db8:88:")
    ns_run(c["ns"], "ping", "-n", "-q", "-c", "2", "-i", "0.2", "-W", "2", lb.inside_ip)
    ns_run(c["ns"], "ping", "-6", "-n", "-q", "-c", "2", "-i", "0.2", "-W", "2", lb.inside_ip6)
    # fragmented ESP in UDP over IPv6: the requests arrive (the answers, larger
    # than the client's link, are lost on its veth)
    ns_run(c["ns"], "ip", "link", "set", f"{lb.tag}a0", "mtu", "1280")
    before4, before6 = icmp_in_echos(lb.inside), icmp6_in_echos(lb.inside)
    for fam in ("-4", "-6"):
        ns_run(c["ns"], "ping", fam, "-n", "-q", "-c", "3", "-i", "0.2", "-W", "1", "-s", "1300",
               lb.inside_ip if fam == "-4" else lb.inside_ip6, check=False)
    assert icmp_in_echos(lb.inside) - before4 == 3
    assert icmp6_in_echos(lb.inside) - before6 == 3
    assert frag_counters(m)["reassembled"] >= 6, frag_counters(m)
    ns_run(c["ns"], "ip", "link", "set", f"{lb.tag}a0", "mtu", "1500")
    moves_mid_ping(lb, d, cl6, str(ipaddress.ip_address(f"fd00:{lb.net}:0::3")))
    ns_run(c["ns"], "ping", "-6", "-n", "-q", "-c", "2", "-i", "0.2", "-W", "2", lb.inside_ip6)


@pytest.mark.parametrize("legacy", [True, False])
def test_windows_roams_and_rekeys_its_child_sa_with_a_weaker_group(make_ravend, site, pki, legacy):
    """The Windows-like client (AES-GCM/ECP-384, its IP address as identity,
    EAP) rekeys its child SA with MODP-1024, weaker than its IKE SA's group
    (SPEC S13): without a pfs-group the headend takes a group of the IKE policy,
    so with Windows' legacy proposal allowed it is accepted, else refused and
    the child SA stays; then it changes address mid-ping and MOBIKE keeps its
    IKE SA."""
    lb, fr = roaming_site(site)
    d = make_ravend(headend(pki, fr, legacy=legacy, split=lb.inside_net) + dataplane_config(lb), netns=lb.head)
    c = lb.clients[0]
    r = up(lb, client(lb, 0, c["ip"], "aes256gcm16-prfsha384-ecp384", "aes256gcm16-modp1024", eap_id="wes",
                      remote_ts=lb.inside_net), ca_files=[pki("ca.pem")])
    log = lb.log(0)
    assert r.returncode == 0, f"{log[-4000:]}\n{d.log()[-3000:]}"
    assert "selected proposal: IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/ECP_384" in log, log[-3000:]
    m = d.connect()
    spi = t(child_sa(sessions(m)[0]), "inbound-spi")
    lb.swanctl(0, "--rekey", "--child", "vpn")
    if not legacy:
        wait_until(lambda: "received NO_PROPOSAL_CHOSEN notify" in lb.log(0), what="the refused rekey")
        assert re.search(r"generating CREATE_CHILD_SA request \d+ \[ N\(REKEY_SA\) SA No KE TSi TSr \]", lb.log(0))
        assert t(child_sa(sessions(m)[0]), "inbound-spi") == spi  # the child SA stays
        ns_run(c["ns"], "ping", "-n", "-q", "-c", "2", "-i", "0.2", "-W", "2", lb.inside_ip)
        return
    wait_until(lambda: "CHILD_SA vpn{2} established" in lb.log(0), what="the rekeyed child SA")
    log = lb.log(0)
    assert re.search(r"generating CREATE_CHILD_SA request \d+ \[ N\(REKEY_SA\) SA No KE TSi TSr \]", log)
    assert re.search(r"parsed CREATE_CHILD_SA response \d+ \[ SA No KE TSi TSr \]", log), log[-3000:]
    sas = lb.swanctl(0, "--list-sas").stdout
    assert "AES_GCM_16-256/MODP_1024" in sas and "ECP_384" in sas, sas
    ch = sessions(m)[0].findall(f"{{{NS}}}child-sa")
    assert len(ch) == 1 and t(ch[0], "inbound-spi") != spi
    moves_mid_ping(lb, d, c["ip"], f"10.{lb.net}.0.3")


def test_ravenctl_client_profile(make_ravend, pki, tmp_path):
    """ravenctl client-profile: the file on standard output, with -o, with
    --save under the suggested name; the server's reason and exit 1 for an
    unknown profile. The headend listens on one address and port of its own:
    that is what the profile says to dial, port included."""
    port, natt = free_port(), free_port()
    radius = type("R", (), {"port": free_port(), "acct_port": free_port()})
    d = make_ravend(headend(pki, radius, listen=f"<address>127.0.0.1</address><port>{port}</port>"
                                                f"<nat-t-port>{natt}</nat-t-port>"), rest=True)
    d.rest_cert = os.path.join(d.state_dir, "rest_cert.pem")
    prof = json.loads(ctl(d, "client-profile", "ra", "ana@example.org", "android").stdout)
    assert prof["remote"]["addr"] == "127.0.0.1" and prof["remote"]["port"] == port
    out = tmp_path / "x.mobileconfig"
    assert ctl(d, "client-profile", "ra", "amy@example.org", "apple", "-o", str(out)).stdout.strip() == str(out)
    assert plistlib.loads(out.read_bytes())["PayloadType"] == "Configuration"
    p = subprocess.run(["sh", "-c", f"cd {tmp_path} && exec \"$@\"", "sh", os.path.abspath(
        os.path.join(os.path.dirname(__file__), "..", "..", "api", "cli", "ravenctl")), "--url", d.rest_url,
        "--cacert", d.rest_cert, "client-profile", "ra", "wes", "windows", "--save"],
        env=dict(os.environ, RAVEN_USER="admin", RAVEN_PASSWORD="admin-secret-1"), capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.strip() == "ra-wes.ps1", p
    assert "Add-VpnConnection" in (tmp_path / "ra-wes.ps1").read_text()
    j = json.loads(ctl(d, "client-profile", "ra", "wes", "windows", "--json").stdout)
    assert j["raven-vpn:output"]["file-name"] == "ra-wes.ps1"
    p = ctl(d, "client-profile", "nope", "wes", "windows", expect=1)
    assert "no IKEv2 profile named 'nope'" in p.stderr
    ctl(d, "client-profile", "ra", "wes", "ios", expect=2)


EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "yang", "examples")


@pytest.mark.parametrize("example,profile,platform,want", [
    ("example-6-windows-clients.xml", "windows", "windows",
     "-EncryptionMethod GCMAES256 -IntegrityCheckMethod SHA384 -DHGroup ECP384 -CipherTransformConstants GCMAES256"),
    ("example-7-apple-clients.xml", "apple", "apple", "<string>AES-256</string>"),
    ("example-8-android-strongswan.xml", "android", "android", '"esp-proposal": "aes256gcm16-aes128gcm16"'),
])
def test_examples_make_client_profiles(make_ravend, ifns, example, profile, platform, want):
    """The client examples of yang/examples/ (docs/clients.md) make the file of
    their platform as the guide says."""
    from nchelpers import parse_config_file
    from conftest import cfg
    tops = parse_config_file(os.path.join(EXAMPLES, example))
    d = make_ravend(netns=ifns)
    m = d.connect()
    m.edit_config(target="candidate", config=cfg("".join(etree.tostring(t, encoding="unicode") for t in tops)))
    m.commit()
    content, name, _ = generate(m, platform, "user@example.com", profile=profile)
    assert want in content, content
    assert "vpn.example.com" in content
    if platform == "apple":
        vpn = [p for p in plistlib.loads(content.encode())["PayloadContent"]
               if p["PayloadType"] == "com.apple.vpn.managed"][0]
        ike = vpn["IKEv2"]
        assert ike["IKESecurityAssociationParameters"]["DiffieHellmanGroup"] == 14 and ike["EnablePFS"] == 0
        # the policy's DNS server and internal domain, for split DNS
        assert vpn["DNS"] == {"ServerAddresses": ["10.20.0.53"], "DomainName": "corp.example.com",
                              "SearchDomains": ["corp.example.com"],
                              "SupplementalMatchDomains": ["corp.example.com"]}, vpn["DNS"]
    elif platform == "windows":
        assert "-SplitTunneling -DnsSuffix 'corp.example.com'" in content
        assert "Add-VpnConnectionRoute -ConnectionName $Name -DestinationPrefix '10.10.0.0/16'" in content
        assert "-DnsSuffix 'corp.example.com' -DnsIPAddress $DnsServers" in content
    else:
        prof = json.loads(content)
        assert prof["split-tunneling"] == {"subnets": "10.30.0.0/16"} and prof["mtu"] == 1400, prof
