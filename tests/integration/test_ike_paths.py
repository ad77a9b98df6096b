"""The paths a real client's packets take: a client behind a NAT (nftables
masquerade in a router namespace) floats to port 4500 and is seen at the NAT's
address; an IKE_AUTH split into fragments (RFC 7383) is reassembled and a large
response is sent in fragments; a client that vanishes is found dead by liveness
checks (DPD) and its session, lease and SAs are removed."""
import os
import signal

from lab import psk_client_conf
from nchelpers import wait_until
from test_ike_sessions import headend_config, sessions, state, t, up

REQUIRES = ("strongswan",)


def test_client_behind_nat(make_ravend, lab):
    lb = lab(1, nat=True)
    d = make_ravend(headend_config(), netns=lb.head)
    r = up(lb, 0, "alice.example.org")
    assert r.returncode == 0, lb.log(0)[-3000:]
    m = d.connect()
    s = sessions(m)[0]
    assert t(s, "peer-address") == lb.clients[0]["outer_ip"]  # the NAT's address, not 192.168.1.2
    assert t(s, "peer-port") != "500"
    assert t(s, "ike-sa/nat-detected") in ("remote", "both")
    assert "installing new virtual IP 10.201.0.10" in lb.log(0)


def test_fragmented_ike_auth_both_ways(make_ravend, lab):
    lb = lab(1)
    # sixteen split subnets make the response (CP and TSr) larger than a 576-byte fragment
    split = "".join(f"<ipv4>10.200.{i}.0/24</ipv4>" for i in range(1, 17))
    d = make_ravend(headend_config(extra_policy=f"<route><set><remote>{split}</remote></set></route>").replace(
        "<route><set><remote><ipv4>10.200.0.0/16</ipv4></remote></set></route>", "", 1).replace(
        "<global>", "<global><fragmentation><mtu>576</mtu></fragmentation>"), netns=lb.head)
    c = lb.clients[0]
    lb.start_charon(0, psk_client_conf(c["head_ip"], "alice.example.org"), extra_charon="  fragment_size = 300")
    r = lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "15", check=False)
    log = lb.log(0)
    assert r.returncode == 0, log[-3000:]
    assert "splitting IKE message" in log  # the client fragmented its IKE_AUTH
    assert "reassembled fragmented IKE message" in log, log[-4000:]  # and so did we
    assert " 10.200.16.0/24" in lb.swanctl(0, "--list-sas").stdout  # all sixteen subnets narrowed in
    m = d.connect()
    assert int(t(state(m), "ike-counters/exchanges/fragments-received")) >= 2
    assert t(sessions(m)[0], "ike-sa/fragmentation") == "true"


def test_dpd_removes_a_vanished_client(make_ravend, lab):
    lb = lab(1)
    d = make_ravend(headend_config(extra_profile="<dpd><interval>10</interval><retry>2</retry>"
                                                 "<mode>periodic</mode></dpd>"), netns=lb.head)
    assert up(lb, 0, "alice.example.org").returncode == 0
    m = d.connect()
    assert len(sessions(m)) == 1
    # the client dies without a word
    p = lb.clients[0]["proc"]
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    wait_until(lambda: not sessions(m), timeout=40, interval=0.5, what="session removed by DPD")
    st = state(m)
    assert int(t(st, "ike-counters/exchanges/dpd-sent")) >= 1
    assert t(st, "ike-counters/exchanges/dpd-timeouts") == "1"
    pool = [p for p in st.findall("{urn:raven:params:xml:ns:yang:raven-vpn}pool") if t(p, "name") == "rw-pool"][0]
    assert t(pool, "in-use") == "0"
