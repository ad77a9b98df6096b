"""Behaviour the model describes, shown with real peers: the key of a keyring
looked up by the client's identity, the FQDN, e-mail and EAP (prefix, all, DN)
name manglers naming the authorized user, clear-session by peer address and by
identity with live sessions, and the call admission limits max-sa and
max-in-negotiation-sa. strongSwan clients (lab.py), FreeRADIUS for EAP
(radiushelpers.py), ncclient for configuration and state.

Topology: [client i: 10.<n>.<i>.2] --veth-- [headend namespace: ravend, 10.<n>.<i>.1]
"""
from lxml import etree

from conftest import NS, cfg, free_port
from lab import psk_client_conf
from nchelpers import expect_error, rpc, wait_until
from radiushelpers import FreeRadius
from test_eap_radius import client_conf, connect, headend as eap_headend, resolv
from test_ike_certs import connect as cert_connect, headend as cert_headend, pki, read  # noqa: F401 (pki: fixture)
from test_ike_sessions import sessions, state, t

REQUIRES = ("strongswan", "freeradius", "openssl")
REQUIRES_PLUGINS = ("eap-identity", "eap-md5", "eap-mschapv2")

NC = 'xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0"'


def policy(name, dns, pool="claims-pool"):
    return (f"<authorization-policy><name>{name}</name><pool>{pool}</pool>"
            f"<dns><primary>{dns}</primary></dns></authorization-policy>")


def keyring_part(pool="claims-pool"):
    """Keyring kr with one key per identity, the mangler m (FQDN hostname,
    e-mail username), policies named after the mangled names, and the profile
    kr that takes its keys from kr and names its user policy by m."""
    return f"""<keyring><name>kr</name>
    <peer><name>a</name><identity><fqdn>alice.example.org</fqdn></identity><pre-shared-key>alice-key-1</pre-shared-key></peer>
    <peer><name>b</name><identity><email>bob@example.org</email></identity><pre-shared-key>bob-key-1</pre-shared-key></peer>
  </keyring>
  <name-mangler><name>m</name><email>username</email><fqdn>hostname</fqdn></name-mangler>
  {policy("alice", "10.211.0.1", pool)}{policy("bob", "10.211.0.2", pool)}
  <profile>
    <name>kr</name>
    <match><identity><remote><fqdn><domain>example.org</domain></fqdn><email><domain>example.org</domain></email></remote></identity></match>
    <identity><local><fqdn>headend.example.org</fqdn></local></identity>
    <authentication><local><pre-share/></local><remote><pre-share/></remote></authentication>
    <keyring><local>kr</local></keyring>
    <aaa><authorization><user><psk><method-list>local-list</method-list><name-mangler>m</name-mangler></psk></user></authorization></aaa>
  </profile>"""


def keyring_config(extra_global=""):
    return f"""<ikev2 xmlns="{NS}">
  <global><listen><address>0.0.0.0</address></listen>{extra_global}</global>
  {keyring_part()}
</ikev2>
<pools xmlns="{NS}"><ipv4-pool><name>claims-pool</name><range><start>10.212.0.10</start><end>10.212.0.20</end></range></ipv4-pool></pools>
<aaa xmlns="{NS}"><authorization-list><name>local-list</name><method><sequence>1</sequence><local/></method></authorization-list></aaa>"""


def up(lb, i, my_id, key, timeout=15):
    lb.start_charon(i, psk_client_conf(lb.clients[i]["head_ip"], my_id, psk=key))
    return lb.swanctl(i, "--initiate", "--child", "vpn", "--timeout", str(timeout), check=False)


def by_identity(m):
    return {t(s, "remote-identity/value"): s for s in sessions(m)}


def clear(m, selector):
    reply = rpc(m, f'<clear-session xmlns="{NS}">{selector}</clear-session>')
    return etree.fromstring(reply.xml.encode()).xpath("//*[local-name()='cleared']")[0].text


def test_keyring_by_identity_manglers_and_clear_session(make_ravend, lab):
    """Two keyring peers with different keys: each client gets in with its own
    key, and the e-mail identity with the other peer's key is refused (the key
    is looked up by identity, not tried in turn). The FQDN mangler (hostname)
    and the e-mail mangler (username) name the authorized user and the policy
    whose DNS the client receives. clear-session by peer address ends that
    client's SA only; clear-session by identity ends the other one."""
    lb = lab(3)
    d = make_ravend(keyring_config(), netns=lb.head)
    m = d.connect()
    r = up(lb, 0, "alice.example.org", "alice-key-1")
    assert r.returncode == 0, f"{lb.log(0)[-3000:]}\n{d.log()[-3000:]}"
    r = up(lb, 1, "bob@example.org", "bob-key-1")
    assert r.returncode == 0, f"{lb.log(1)[-3000:]}\n{d.log()[-3000:]}"
    r = up(lb, 2, "bob@example.org", "alice-key-1")
    assert r.returncode != 0
    assert "received AUTHENTICATION_FAILED notify" in lb.log(2), lb.log(2)[-3000:]

    ss = by_identity(m)
    assert sorted(ss) == ["alice.example.org", "bob@example.org"]
    assert t(ss["alice.example.org"], "authorized-user") == "alice"
    assert t(ss["bob@example.org"], "authorized-user") == "bob"
    assert "10.211.0.1" in resolv(lb, 0) and "10.211.0.2" in resolv(lb, 1)
    assert t(state(m), "ike-counters/rejected-by-reason/authentication-failed") == "1"

    # by peer address: alice's SA goes, bob's stays
    assert clear(m, f"<peer-address>{lb.clients[0]['ip']}</peer-address>") == "1"
    wait_until(lambda: "received DELETE for IKE_SA rw[1]" in lb.log(0), what="alice's client got our DELETE")
    assert sorted(by_identity(m)) == ["bob@example.org"]
    assert "ESTABLISHED" not in lb.swanctl(0, "--list-sas").stdout
    assert "ESTABLISHED" in lb.swanctl(1, "--list-sas").stdout
    # an address or identity of nobody clears nothing
    assert clear(m, "<peer-address>192.0.2.1</peer-address>") == "0"
    assert clear(m, "<identity>nobody@example.org</identity>") == "0"
    # by IKE identity: bob's SA goes
    assert lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "15", check=False).returncode == 0
    assert clear(m, "<identity>bob@example.org</identity>") == "1"
    wait_until(lambda: "received DELETE for IKE_SA rw[1]" in lb.log(1), what="bob's client got our DELETE")
    assert sorted(by_identity(m)) == ["alice.example.org"]
    assert "ESTABLISHED" in lb.swanctl(0, "--list-sas").stdout


def test_clear_session_by_authorized_user(make_ravend, lab):
    """The model's identity selector also matches the authorized user: the
    mangled name "alice" clears the session of alice.example.org."""
    lb = lab(1)
    d = make_ravend(keyring_config(), netns=lb.head)
    m = d.connect()
    assert up(lb, 0, "alice.example.org", "alice-key-1").returncode == 0, lb.log(0)[-3000:]
    assert clear(m, "<identity>alice</identity>") == "1"
    wait_until(lambda: "received DELETE for IKE_SA rw[1]" in lb.log(0), what="the client got our DELETE")
    assert not sessions(m)


def test_max_sa(make_ravend, lab):
    """crypto ikev2 limit max-sa 1: with one IKE SA up, a second client's
    IKE_SA_INIT is refused and counted; the first session is untouched, and
    once it is gone a client gets in again."""
    lb = lab(2)
    d = make_ravend(keyring_config("<limit><max-sa>1</max-sa></limit>"), netns=lb.head)
    m = d.connect()
    assert up(lb, 0, "alice.example.org", "alice-key-1").returncode == 0, lb.log(0)[-3000:]
    r = up(lb, 1, "bob@example.org", "bob-key-1", timeout=3)
    assert r.returncode != 0
    assert "IKE_SA_INIT response" not in lb.log(1) and "parsed IKE_SA_INIT response" not in lb.log(1)
    st = state(m)
    assert int(t(st, "ike-counters/rejected-by-reason/sa-limit")) >= 1
    assert sorted(by_identity(m)) == ["alice.example.org"]
    assert "ESTABLISHED" in lb.swanctl(0, "--list-sas").stdout
    lb.swanctl(0, "--terminate", "--ike", "rw")
    wait_until(lambda: not sessions(m), what="alice's session ended")
    r = lb.swanctl(1, "--initiate", "--child", "vpn", "--timeout", "15", check=False)
    assert r.returncode == 0, lb.log(1)[-3000:]


def test_max_in_negotiation_sa(make_ravend, lab, pki):
    """crypto ikev2 limit max-in-negotiation-sa 1: an EAP client whose RADIUS
    server does not answer stays in negotiation; meanwhile a second client's
    IKE_SA_INIT is refused and counted, and gets in once the first one's
    negotiation has ended."""
    lb = lab(2)
    dead = free_port()
    conf = eap_headend(pki, servers=[("r0", dead, dead)]).replace(
        "<timeout>1</timeout><retransmit>1</retransmit>", "<timeout>4</timeout><retransmit>1</retransmit>")
    conf = conf.replace("<global><listen><address>0.0.0.0</address></listen></global>",
                        "<global><listen><address>0.0.0.0</address></listen>"
                        "<limit><max-in-negotiation-sa>1</max-in-negotiation-sa></limit></global>")
    # the EAP profile of test_eap_radius (email identities) and the PSK one (FQDN)
    conf = conf.replace("<profile>", keyring_part("radpool").replace("<email><domain>example.org</domain></email>", "")
                        + "<profile>", 1)
    d = make_ravend(conf, netns=lb.head)
    m = d.connect()
    lb.install_creds(0, ca=pki("ca.pem"))
    lb.start_charon(0, client_conf(lb.clients[0], "ann@example.org", "ann@example.org", "ann-pw-1"))
    lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "1", check=False)
    wait_until(lambda: t(state(m), "ike-counters/sa/in-negotiation") == "1", what="the EAP client in negotiation")
    r = up(lb, 1, "alice.example.org", "alice-key-1", timeout=3)
    assert r.returncode != 0
    assert "parsed IKE_SA_INIT response" not in lb.log(1)
    assert int(t(state(m), "ike-counters/rejected-by-reason/in-negotiation-limit")) >= 1
    # the RADIUS attempts end (2 x 4 s): the EAP client is refused, the slot is free
    wait_until(lambda: t(state(m), "ike-counters/sa/in-negotiation") == "0", timeout=20,
               what="the EAP negotiation ended")
    r = lb.swanctl(1, "--initiate", "--child", "vpn", "--timeout", "15", check=False)
    assert r.returncode == 0, lb.log(1)[-3000:]
    assert t(by_identity(m)["alice.example.org"], "authorized-user") == "alice"


EAP_USERS = '"CN=kim,OU=staff" Cleartext-Password := "kim-pw-1"\n'


def test_eap_name_manglers(make_ravend, lab, pki):
    """The EAP name mangler (S6) makes the authorized user of a local user
    authorization from the EAP identity: prefix (the part before '@'), all (the
    whole identity) and dn (the common name of an identity written as a DN).
    The mangler is changed live between clients; each client gets the DNS of
    the policy of its mangled name."""
    lb = lab(3)
    fr = FreeRadius(netns=lb.head, users_extra=EAP_USERS)
    try:
        conf = eap_headend(pki, fr, query=True).replace(
            "<user><eap><cached/></eap></user>",
            "<user><eap><method-list>local-list</method-list><name-mangler>m</name-mangler></eap></user>")
        pols = "".join(policy(n, f"10.213.0.{i + 1}", "radpool") for i, n in enumerate(("ben", "dan@example.org", "kim")))
        conf = conf.replace("<profile>", "<name-mangler><name>m</name><eap><prefix>@</prefix></eap></name-mangler>"
                            + pols + "<profile>", 1)
        d = make_ravend(conf, netns=lb.head)
        m = d.connect()
        r = connect(lb, pki, "ben@example.org", "ben-pw-1", method="eap-md5")
        assert r.returncode == 0, f"{lb.log(0)[-3000:]}\n{d.log()[-3000:]}"
        for part, i, ike_id, eap_id, pw in (("<all/>", 1, "dan@example.org", None, "dan-pw-1"),
                                            ("<dn>common-name</dn>", 2, "kim@example.org", '"fqdn:CN=kim,OU=staff"',
                                             "kim-pw-1")):
            m.edit_config(target="running", config=cfg(
                f'<ikev2 xmlns="{NS}" {NC}><name-mangler nc:operation="replace"><name>m</name><eap>{part}</eap>'
                "</name-mangler></ikev2>"))
            r = connect(lb, pki, ike_id, pw, eap_id=eap_id, i=i, method="eap-md5")
            assert r.returncode == 0, f"{lb.log(i)[-3000:]}\n{d.log()[-3000:]}"
        ss = by_identity(m)
        assert t(ss["ben@example.org"], "authorized-user") == "ben"
        assert t(ss["dan@example.org"], "authorized-user") == "dan@example.org"
        assert t(ss["kim@example.org"], "authorized-user") == "kim"
        assert t(ss["kim@example.org"], "eap-identity") == "CN=kim,OU=staff"
        for i in range(3):
            assert f"10.213.0.{i + 1}" in resolv(lb, i), (i, resolv(lb, i))
    finally:
        fr.close()


def test_split_subnets_that_do_not_fit_are_refused(make_ravend):
    """Every split subnet of a policy is a traffic selector of the child SA:
    a policy with more than fit (32) is refused at commit, naming it, and
    running is unchanged; 32 are accepted."""
    d = make_ravend()
    m = d.connect()

    def policy_with(n):
        nets = "".join(f"<ipv4>10.{100 + i}.0.0/16</ipv4>" for i in range(n))
        return cfg(f'<ikev2 xmlns="{NS}"><authorization-policy><name>wide</name><route><set><remote>{nets}'
                   "</remote></set></route></authorization-policy></ikev2>")

    err = expect_error(lambda: m.edit_config(target="running", config=policy_with(33)), "operation-failed")
    assert "authorization policy wide pushes 33 split subnets" in err.message, err.message
    assert "wide" not in m.get_config(source="running").data_xml
    m.edit_config(target="running", config=policy_with(32))
    assert m.get_config(source="running").data_xml.count("<ipv4>10.") == 32


def test_local_signature_method_chooses_the_key(make_ravend, lab, pki):
    """authentication local rsa-sig / ecdsa-sig: with an RSA and an ECDSA
    trustpoint in the profile, the local method picks the key the headend signs
    with (changed live); with no key of that kind the client is refused with
    the reason."""
    lb = lab(3)
    tp2 = (f"<trustpoint><name>tp-ec</name><ca-certificate>{read(pki('ca.pem'))}</ca-certificate>"
           f"<certificate>{read(pki('head-ec.pem'))}</certificate><private-key>{read(pki('head-ec.key'))}"
           "</private-key></trustpoint></pki>")
    conf = cert_headend(pki, "head-rsa").replace("</pki>", tp2, 1).replace(
        "<pki><trustpoint><name>tp</name></trustpoint></pki>",
        "<pki><trustpoint><name>tp</name></trustpoint><trustpoint><name>tp-ec</name></trustpoint></pki>")
    d = make_ravend(conf, netns=lb.head)
    m = d.connect()
    assert cert_connect(lb, pki, "alice", i=0).returncode == 0, lb.log(0)[-3000:]
    assert "authentication of 'headend.example.org' with RSA_EMSA_PKCS1_SHA2_256 successful" in lb.log(0)
    m.edit_config(target="running", config=cfg(
        f'<ikev2 xmlns="{NS}"><profile><name>certs</name><authentication><local><ecdsa-sig/></local>'
        "</authentication></profile></ikev2>"))
    assert cert_connect(lb, pki, "alice", i=1).returncode == 0, lb.log(1)[-3000:]
    assert "authentication of 'headend.example.org' with ECDSA_WITH_SHA256_DER successful" in lb.log(1)
    # without the ECDSA trustpoint nothing can sign as ecdsa-sig
    m.edit_config(target="running", config=cfg(
        f'<ikev2 xmlns="{NS}" {NC}><profile><name>certs</name><pki>'
        '<trustpoint nc:operation="delete"><name>tp-ec</name></trustpoint></pki></profile></ikev2>'))
    assert cert_connect(lb, pki, "alice", i=2).returncode != 0
    assert "a key of that kind" in d.log()
