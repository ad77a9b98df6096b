"""Session events reach every kind of subscriber while ravend builds them only for
subscribers (the front ends tell it their interest): a NETCONF create-subscription
and a REST event stream both get session-up and session-down of a real strongSwan
client; once they are gone and a new NETCONF subscriber comes, it gets the next
session's events, the one subscribing right before the client connects included."""
from lxml import etree

from lab import psk_client_conf
from nchelpers import wait_until
from test_dataplane import dataplane_config
from test_ike_sessions import headend_config
from test_rest_events import streams  # noqa: F401 (fixture)

REQUIRES = ("strongswan", "curl", "openssl", "ncclient")

NOTIF_NS = "urn:ietf:params:xml:ns:netconf:notification:1.0"
VPN_NS = "urn:raven:params:xml:ns:yang:raven-vpn"


def nc_event(m, name, timeout=15):
    """The next notification of @name on the NETCONF session @m (others skipped)."""
    while True:
        n = m.take_notification(timeout=timeout)
        assert n is not None, f"no {name} arrived over NETCONF"
        root = etree.fromstring(n.notification_xml.encode())
        assert root.tag == f"{{{NOTIF_NS}}}notification" and root.findtext(f"{{{NOTIF_NS}}}eventTime")
        ev = root.find(f"{{{VPN_NS}}}{name}")
        if ev is not None:
            return ev


def test_netconf_and_rest_subscribers_get_session_events(make_ravend, lab, streams):  # noqa: F811
    lb = lab(1, inside=True)
    conf = headend_config().replace("10.200.0.0/16", lb.inside_net)
    d = make_ravend(conf + dataplane_config(lb), netns=lb.head, rest=True)
    sub = d.connect()
    sub.create_subscription()
    sess = streams(d.rest_url, "sessions", netns=lb.head)
    c = lb.clients[0]
    lb.start_charon(0, psk_client_conf(c["head_ip"], "user0.example.org", remote_ts=lb.inside_net))
    r = lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "15", check=False)
    assert r.returncode == 0, lb.log(0)[-3000:]
    up = nc_event(sub, "session-up")
    sid = up.findtext(f"{{{VPN_NS}}}session-id")
    assert up.findtext(f"{{{VPN_NS}}}remote-identity") == "user0.example.org"
    assert up.findtext(f"{{{VPN_NS}}}peer-address") == c["ip"]
    wait_until(lambda: sess.events(), timeout=10, what="session-up on the REST stream")
    rup = sess.json_events()[0]["raven-vpn:session-up"]
    assert str(rup["session-id"]) == sid and rup["remote-identity"] == "user0.example.org"
    # the client leaves: session-down to both
    r = lb.swanctl(0, "--terminate", "--ike", "rw", "--timeout", "10", check=False)
    down = nc_event(sub, "session-down")
    assert down.findtext(f"{{{VPN_NS}}}session-id") == sid
    wait_until(lambda: len(sess.events()) >= 2, timeout=10, what="session-down on the REST stream")
    assert str(sess.json_events()[1]["raven-vpn:session-down"]["session-id"]) == sid
    # every subscriber gone (ravend is told), then a new one just before the client
    sub.close_session()
    d.managers.remove(sub)
    sess.proc.terminate()
    sess.proc.wait(timeout=10)
    sub2 = d.connect()
    sub2.create_subscription()
    r = lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "15", check=False)
    assert r.returncode == 0, lb.log(0)[-3000:]
    up2 = nc_event(sub2, "session-up")
    assert up2.findtext(f"{{{VPN_NS}}}session-id") != sid
    lb.swanctl(0, "--terminate", "--ike", "rw", "--timeout", "10", check=False)
    assert nc_event(sub2, "session-down").findtext(f"{{{VPN_NS}}}session-id") == \
        up2.findtext(f"{{{VPN_NS}}}session-id")
