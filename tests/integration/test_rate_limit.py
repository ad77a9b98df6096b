"""Per-session bandwidth limits through the AF_XDP dataplane, with a strongSwan
client (kernel-libipsec) and iperf3 between it and an inside host:

- an authorization policy's rate-limit set over NETCONF: UDP offered well above
  the limit arrives at about the limit in each direction (inbound: from the
  client; outbound: to it), and the session's policed counters move;
- a CoA from FreeRADIUS's radclient (raven:rate-limit-in) raises the inbound
  limit on the live session: the rate follows, the child SA is the same (no
  rekey); a malformed value is NAKed and changes nothing;
- a restart of ravend with session adoption keeps the limits (session arena).
- from FreeRADIUS's Access-Accept (raven:rate-limit-out), with a malformed
  pair beside it logged and ignored.

Rates are the inner packets' (IP header included), measured by iperf3's UDP
receiver over a few seconds; the burst (250 ms at the rate) adds a little.

Topology: [client: 10.<n>.0.2] --veth-- [headend: ravend, AF_XDP] --veth-- [inside host]
"""
import time

from conftest import NS, cfg, free_port
from nchelpers import wait_until
from test_dataplane import dataplane_config, iperf, ping
from test_eap_radius import radclient
from test_ike_certs import pki  # noqa: F401 (the pki fixture)
from test_ike_sessions import headend_config, sessions, t
from lab import psk_client_conf

REQUIRES = ("strongswan", "iperf3", "radclient", "freeradius", "ping")

LEN = 1000  # UDP payload; the policer counts the inner IP packet: 28 bytes more


def dae_xml(port):
    return (f"<dynamic-author-client><name>radclient</name><address>127.0.0.1</address><key>dae-secret-1</key>"
            f"</dynamic-author-client><dynamic-author-port>{port}</dynamic-author-port>")


def udp_kbps(lb, reverse, offered, seconds=3):
    """Inner kbit/s that arrived of UDP offered at @offered (iperf3 -b) from the
    client to the inside host (or back with @reverse)."""
    c = lb.clients[0]
    args = ["-u", "-b", offered, "-l", str(LEN)] + (["-R"] if reverse else [])
    res = iperf(lb, c["ns"], lb.inside, lb.inside_ip, *args, seconds=seconds)
    s = res["end"]["sum"]
    got = s["packets"] - s["lost_packets"]
    return got * (LEN + 28) * 8 / s["seconds"] / 1000, s


def rate_state(m):
    s = sessions(m)[0]
    return {d: {k: t(s, f"rate-limit/{d}/{k}") for k in ("rate", "burst", "policed-packets", "policed-octets")}
            for d in ("inbound", "outbound")}


def near(measured, limit, s):
    assert 0.75 * limit <= measured <= 1.2 * limit, (measured, limit, s)


def spis(m):
    return sorted(t(c, "inbound-spi") for c in sessions(m)[0].findall(f"{{{NS}}}child-sa"))


def test_policy_limits_coa_and_restart(make_ravend, lab):
    lb = lab(1, inside=True)
    port = free_port()
    head, tail = headend_config().replace("10.200.0.0/16", lb.inside_net).rsplit("</aaa>", 1)
    conf = head + dae_xml(port) + "</aaa>" + tail
    d = make_ravend(conf + dataplane_config(lb), netns=lb.head)
    m = d.connect()
    # the policy's limits, over NETCONF: 4 Mbit/s from the client, 2 Mbit/s to it
    m.edit_config(target="running", config=cfg(
        f'<ikev2 xmlns="{NS}"><authorization-policy><name>rw-group</name><rate-limit>'
        "<inbound><rate>4000</rate></inbound><outbound><rate>2000</rate><burst>8000</burst></outbound>"
        "</rate-limit></authorization-policy></ikev2>"))
    c = lb.clients[0]
    lb.start_charon(0, psk_client_conf(c["head_ip"], "user0.example.org", esp="aes128gcm16",
                                       remote_ts=lb.inside_net))
    r = lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "15", check=False)
    assert r.returncode == 0, lb.log(0)[-3000:]
    ping(c["ns"], lb.inside_ip, count=2)
    st = rate_state(m)
    assert st["inbound"]["rate"] == "4000" and st["inbound"]["burst"] is None, st
    assert st["outbound"]["rate"] == "2000" and st["outbound"]["burst"] == "8000", st
    assert st["inbound"]["policed-packets"] == "0", st

    got, s = udp_kbps(lb, False, "20M")
    near(got, 4000, s)
    got, s = udp_kbps(lb, True, "20M")
    near(got, 2000, s)
    st = rate_state(m)
    assert int(st["inbound"]["policed-packets"]) > 1000 and int(st["outbound"]["policed-packets"]) > 1000, st
    assert int(st["inbound"]["policed-octets"]) == int(st["inbound"]["policed-packets"]) * (LEN + 28), st

    # CoA: the inbound limit raised on the live session, the same child SA
    before = spis(m)
    out = radclient(lb, port, "coa", ['User-Name = "user0.example.org"',
                                      'Cisco-AVPair = "raven:rate-limit-in=12000"'])
    assert "Received CoA-ACK" in out, out
    st = rate_state(m)
    assert st["inbound"]["rate"] == "12000" and st["outbound"]["rate"] == "2000", st
    got, s = udp_kbps(lb, False, "40M")
    near(got, 12000, s)
    assert spis(m) == before
    # a malformed value: NAKed, nothing changed
    out = radclient(lb, port, "coa", ['User-Name = "user0.example.org"',
                                      'Cisco-AVPair = "raven:rate-limit-in=fast"'])
    assert "Received CoA-NAK" in out and "Unsupported-Attribute" in out, out
    assert rate_state(m)["inbound"]["rate"] == "12000"

    # a planned restart: the session is adopted with its limits
    d.stop()
    d.start()
    m = d.connect()
    wait_until(lambda: len(sessions(m)) == 1, timeout=10, what="the session adopted")
    st = rate_state(m)
    assert st["inbound"]["rate"] == "12000" and st["outbound"]["rate"] == "2000", st
    assert st["outbound"]["burst"] == "8000", st
    got, s = udp_kbps(lb, True, "20M")
    near(got, 2000, s)


ROB = """rob@example.org Cleartext-Password := "rob-pw-1"
	Cisco-AVPair = "ipsec:addr-pool=radpool",
	Cisco-AVPair += "raven:rate-limit-out=3000 burst 12000",
	Cisco-AVPair += "raven:rate-limit-in=lots"
"""


def test_limit_from_radius_access_accept(make_ravend, lab, pki):
    """raven:rate-limit-out from FreeRADIUS limits what is sent to the client;
    the malformed raven:rate-limit-in beside it is logged and ignored (no
    inbound limit), the session comes up."""
    from radiushelpers import FreeRadius
    from test_eap_radius import connect, headend
    lb = lab(1, inside=True, inside_routes=("10.207.0.0/16",))
    fr = FreeRadius(netns=lb.head, users_extra=ROB)
    try:
        d = make_ravend(headend(pki, fr) + dataplane_config(lb), netns=lb.head)
        r = connect(lb, pki, "rob@example.org", "rob-pw-1", method="eap-md5", remote_ts=lb.inside_net)
        assert r.returncode == 0, f"{lb.log(0)[-3000:]}\n{d.log()[-3000:]}"
        m = d.connect()
        st = rate_state(m)
        assert st["outbound"]["rate"] == "3000" and st["outbound"]["burst"] == "12000", st
        assert st["inbound"]["rate"] is None, st
        assert "raven:rate-limit-in=lots" in d.log()
        ping(lb.clients[0]["ns"], lb.inside_ip, count=2)
        got, s = udp_kbps(lb, True, "20M")
        near(got, 3000, s)
        time.sleep(0.2)
        assert int(rate_state(m)["outbound"]["policed-packets"]) > 500
    finally:
        fr.close()
