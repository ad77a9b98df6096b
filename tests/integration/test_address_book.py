"""One address book (daemon/pool) and clear-session by identity, with real peers:
an EAP-MSCHAPv2 strongSwan client whose FreeRADIUS Access-Accept carries a
Framed-IP-Address inside Raven's pool, and a PSK strongSwan client on that pool.

- EAP first: the pool skips the address AAA gave, the PSK client gets the next.
- PSK first: the pool has handed the address out, so the EAP client is refused
  (AUTHENTICATION_FAILED, an authentication-failure notification with reason
  address-in-use); once the PSK session is cleared (by its authorized user) the
  address is free again and the EAP client gets it.
- IPv6: an address from AAA inside the first prefix an IPv6 pool would hand
  out makes the pool hand out the next one.
- clear-session by identity matches the IKE identity, the EAP identity and the
  authorized user, as the model says.

Topology: [client 0 (EAP)] [client 1 (PSK)] --veth-- [headend: ravend, FreeRADIUS]
"""
import pytest

from conftest import NS
from lab import psk_client_conf
from nchelpers import rpc, wait_until
from radiushelpers import FreeRadius
from test_eap_radius import connect, headend
from test_ike_certs import pki, read  # noqa: F401 (the pki fixture)
from test_ike_sessions import sessions, state, t

REQUIRES = ("strongswan", "freeradius", "openssl")
REQUIRES_PLUGINS = ("eap-identity", "eap-mschapv2")

from lxml import etree

# pat's EAP identity differs from its IKE ID; its address is the pool's first
USERS = """pat Cleartext-Password := "pat-pw-1"
	Framed-IP-Address = 10.207.0.10

quinn Cleartext-Password := "quinn-pw-1"
	Cisco-AVPair = "ipsec:addrv6=2001:db8:88::5",
	Cisco-AVPair += "ipsec:prefix-len=128"

"""

PSK_PROFILE = """<authorization-policy><name>psk-user</name><pool>radpool</pool><ipv6-pool>v6pool</ipv6-pool>
    <route><set><remote><ipv4>10.200.0.0/16</ipv4></remote></set></route></authorization-policy>
  <profile>
    <name>psk</name>
    <match><identity><remote><fqdn><domain>example.net</domain></fqdn></remote></identity></match>
    <identity><local><fqdn>headend.example.org</fqdn></local></identity>
    <authentication>
      <local><pre-share><key>rw-secret-1</key></pre-share></local>
      <remote><pre-share><key>rw-secret-1</key></pre-share></remote>
    </authentication>
    <aaa><authorization><user><psk><method-list>local-list</method-list><username>psk-user</username></psk></user>
    </authorization></aaa>
  </profile>
</ikev2>"""


@pytest.fixture
def book(lab, make_ravend, pki):
    lb = lab(2)
    fr = FreeRadius(netns=lb.head, users_extra=USERS)
    try:
        d = make_ravend(headend(pki, fr, query=True).replace("</ikev2>", PSK_PROFILE, 1), netns=lb.head)
        yield lb, fr, d
    finally:
        fr.close()


def eap_up(lb, pki):
    return connect(lb, pki, "pat@example.org", "pat-pw-1", eap_id="pat", i=0)


def psk_up(lb, vips="0.0.0.0"):
    conf = psk_client_conf(lb.clients[1]["head_ip"], "psk.example.net").replace("vips = 0.0.0.0", f"vips = {vips}")
    lb.start_charon(1, conf)
    return lb.swanctl(1, "--initiate", "--child", "vpn", "--timeout", "20", check=False)


def by_id(m):
    return {t(s, "remote-identity/value"): s for s in sessions(m)}


def pool_in_use(m, name="radpool"):
    return [t(p, "in-use") for p in state(m).findall(f"{{{NS}}}pool") if t(p, "name") == name][0]


def clear(m, identity):
    reply = rpc(m, f'<clear-session xmlns="{NS}"><identity>{identity}</identity></clear-session>')
    return etree.fromstring(reply.xml.encode()).xpath("//*[local-name()='cleared']")[0].text


def test_aaa_address_first_then_pool_client(book, pki):
    lb, fr, d = book
    r = eap_up(lb, pki)
    assert r.returncode == 0, f"{lb.log(0)[-4000:]}\n{d.log()[-3000:]}"
    assert "installing new virtual IP 10.207.0.10" in lb.log(0)
    r = psk_up(lb)
    assert r.returncode == 0, f"{lb.log(1)[-4000:]}\n{d.log()[-3000:]}"
    # the pool skipped the address AAA holds
    assert "installing new virtual IP 10.207.0.11" in lb.log(1), lb.log(1)[-3000:]
    m = d.connect()
    ss = by_id(m)
    assert t(ss["pat@example.org"], "assigned-ipv4") == "10.207.0.10"
    assert t(ss["pat@example.org"], "assigned-ipv4-source") == "aaa"
    assert t(ss["psk.example.net"], "assigned-ipv4") == "10.207.0.11"
    assert pool_in_use(m) == "2"  # the claim inside the range counts as in use

    # clear-session by the EAP identity (not the IKE ID) ends pat's session only
    assert clear(m, "pat") == "1"
    wait_until(lambda: "pat@example.org" not in by_id(m), what="pat's session gone")
    assert "psk.example.net" in by_id(m)
    assert pool_in_use(m) == "1"  # the claim went with the session
    # and by the authorized user
    assert clear(m, "psk-user") == "1"
    wait_until(lambda: not sessions(m), what="the PSK session gone")
    assert pool_in_use(m) == "0"
    assert clear(m, "nobody") == "0"


def test_pool_address_first_refuses_the_aaa_client(book, pki):
    lb, fr, d = book
    m = d.connect()
    m.create_subscription(stream_name="NETCONF")
    r = psk_up(lb)
    assert r.returncode == 0, f"{lb.log(1)[-4000:]}\n{d.log()[-3000:]}"
    assert "installing new virtual IP 10.207.0.10" in lb.log(1)
    # AAA gives pat the address the pool handed to the PSK client: refused
    r = eap_up(lb, pki)
    assert r.returncode != 0
    assert "received AUTHENTICATION_FAILED notify error" in lb.log(0), lb.log(0)[-3000:]
    assert "Framed-IP-Address 10.207.0.10 is held by session" in d.log()
    for _ in range(10):
        n = m.take_notification(timeout=10)
        assert n is not None, "no authentication-failure notification"
        xml = n.notification_xml
        if "authentication-failure" in xml:
            assert "<reason>address-in-use</reason>" in xml, xml
            break
    else:
        pytest.fail("no authentication-failure notification")
    ss = by_id(m)
    assert list(ss) == ["psk.example.net"] and t(ss["psk.example.net"], "assigned-ipv4") == "10.207.0.10"
    assert int(t(state(m), "ike-counters/rejected-by-reason/authentication-failed")) == 1

    # clear by the IKE identity: the address is free again for pat
    assert clear(m, "psk.example.net") == "1"
    wait_until(lambda: not sessions(m), what="the PSK session gone")
    lb.swanctl(0, "--terminate", "--ike", "rw", check=False)
    r = lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "20", check=False)
    assert r.returncode == 0, f"{lb.log(0)[-4000:]}\n{d.log()[-3000:]}"
    assert t(by_id(m)["pat@example.org"], "assigned-ipv4") == "10.207.0.10"


def test_ipv6_from_aaa_inside_an_ipv6_pool(book, pki):
    """IPv6 too: AAA gives quinn 2001:db8:88::5, inside the first /64 that the
    IPv6 pool (2001:db8:88::/48, /64 each) would hand out; the PSK client on
    that pool gets the next /64."""
    lb, fr, d = book
    r = connect(lb, pki, "quinn@example.org", "quinn-pw-1", eap_id="quinn", i=0, vips="0.0.0.0,::")
    assert r.returncode == 0, f"{lb.log(0)[-4000:]}\n{d.log()[-3000:]}"
    assert "installing new virtual IP 2001:db8:88::5" in lb.log(0)
    r = psk_up(lb, vips="0.0.0.0,::")
    assert r.returncode == 0, f"{lb.log(1)[-4000:]}\n{d.log()[-3000:]}"
    assert "installing new virtual IP 2001:db8:88:1::" in lb.log(1), lb.log(1)[-3000:]
    ss = by_id(d.connect())
    assert t(ss["quinn@example.org"], "assigned-ipv6").startswith("2001:db8:88::5")
    assert t(ss["psk.example.net"], "assigned-ipv6").startswith("2001:db8:88:1::")
