"""Per-session dataplane behaviour with strongSwan clients (kernel-libipsec) and an
inside host that keeps its default offloads:

- TCP and UDP (inner IPv4 and IPv6) through the tunnel while the inside host's
  veth leaves checksums to offload (CHECKSUM_PARTIAL): the dataplane completes
  them before sealing;
- the authorization policy's aaa-attribute-list: tcp-mss clamps the MSS of the
  SYN the inside host receives and of the SYN-ACK the client receives (tshark
  at both ends); mtu answers a DF packet from the inside host larger than it
  with ICMP "fragmentation needed" carrying it;
- the IPsec profile's idle-time: an idle client's session is deleted (DELETE to
  the client, lease released, session-down reason idle-timeout) while a client
  that keeps sending stays. The model's minimum (60 s, the vendor's) is kept, so
  that test waits about 70 s;
- the same with attributes from FreeRADIUS: ip:interface-config ("ip mtu N",
  "ip tcp adjust-mss N") in the Access-Accept, and the accounting Stop of the
  idle session with Acct-Terminate-Cause Idle-Timeout."""
import re
import subprocess
import time

from conftest import NS
from lab import psk_client_conf
from nchelpers import wait_until
from test_dataplane import dataplane_config, dual_stack_config, iperf, ns_run, ping, start
from test_ike_certs import pki  # noqa: F401 (the pki fixture)
from test_ike_session_lifetime import reason_of_down
from test_ike_sessions import headend_config, sessions, state, t

REQUIRES = ("strongswan", "iperf3", "tshark", "ping", "ethtool")


def offload_on(ns, dev):
    out = ns_run(ns, "ethtool", "-k", dev).stdout
    return re.search(r"^tx-checksumming: on", out, re.M) is not None


def test_tcp_and_udp_with_default_offload_on_the_inside_host(make_ravend, lab):
    lb, d = start(make_ravend, lab)
    c = lb.clients[0]
    # what a veth (or a container's interface) has by default: checksums left to
    # offload, which nobody does once XDP took the packet
    assert offload_on(lb.inside, f"{lb.tag}ia")
    for args in ((), ("-R",)):  # client -> inside, inside -> client
        res = iperf(lb, c["ns"], lb.inside, lb.inside_ip, *args, seconds=1)
        assert res["end"]["sum_received"]["bytes"] > 500_000, res["end"]
    res = iperf(lb, c["ns"], lb.inside, lb.inside_ip, "-u", "-b", "5M", "-l", "1000", "-R", seconds=1)
    assert res["end"]["sum"]["packets"] > 100 and res["end"]["sum"]["lost_percent"] < 5, res["end"]["sum"]


def test_tcp_over_ipv6_with_default_offload_on_the_inside_host(make_ravend, lab):
    """The same for inner IPv6 (the checksum's pseudo-header is IPv6's)."""
    lb = lab(1, inside=True)
    make_ravend(dual_stack_config(lb), netns=lb.head)
    c = lb.clients[0]
    cc = psk_client_conf(c["head_ip"], "user0.example.org", esp="aes256gcm16", remote_ts=f"{lb.inside_net},fd00:250::/64")
    lb.start_charon(0, cc.replace("vips = 0.0.0.0", "vips = 0.0.0.0,::"))
    assert lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "15", check=False).returncode == 0
    assert offload_on(lb.inside, f"{lb.tag}ia")
    ns_run(c["ns"], "ping", "-6", "-n", "-c", "2", "-i", "0.2", "-W", "2", "fd00:250::2")
    for args in ((), ("-R",)):
        res = iperf(lb, c["ns"], lb.inside, "fd00:250::2", *args, seconds=1)
        assert res["end"]["sum_received"]["bytes"] > 500_000, res["end"]


def capture(lb, ns, dev, seconds):
    """tshark on @dev in @ns for @seconds: TCP SYNs to or from port 5201 as
    (flags, mss) pairs, read when the process ends."""
    p = lb.spawn(ns, "tshark", "-q", "-l", "-n", "-i", dev, "-a", f"duration:{seconds}", "-f",
                 "tcp port 5201 and tcp[tcpflags] & tcp-syn != 0", "-T", "fields", "-e", "tcp.flags",
                 "-e", "tcp.options.mss_val", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return p


def syns(p):
    out, err = p.communicate(timeout=60)
    rows = [line.split("\t") for line in out.splitlines() if line.strip()]
    return [(int(f, 16), int(m)) for f, m in rows if m], err


def attr_list_config(lb, mss, mtu):
    conf = headend_config(extra_policy="<aaa-attribute-list>clamp</aaa-attribute-list>").replace(
        "10.200.0.0/16", lb.inside_net)
    return conf.replace(
        "</authorization-list>",
        f"</authorization-list><attribute-list><name>clamp</name><mtu>{mtu}</mtu><tcp-mss>{mss}</tcp-mss>"
        "</attribute-list>", 1)


def test_attribute_list_clamps_tcp_mss_both_ways_and_sets_the_session_mtu(make_ravend, lab):
    lb = lab(1, inside=True)
    d = make_ravend(attr_list_config(lb, 1200, 1300) + dataplane_config(lb), netns=lb.head)
    c = lb.clients[0]
    lb.start_charon(0, psk_client_conf(c["head_ip"], "user0.example.org", remote_ts=lb.inside_net))
    assert lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "15", check=False).returncode == 0
    m = d.connect()
    vip = t(sessions(m)[0], "assigned-ipv4")
    ping(c["ns"], lb.inside_ip, count=2)  # neighbours known
    at_inside = capture(lb, lb.inside, f"{lb.tag}ia", 6)
    at_client = capture(lb, c["ns"], "any", 6)  # the cleartext is on the client's TUN
    time.sleep(2)  # tshark listening
    iperf(lb, c["ns"], lb.inside, lb.inside_ip, seconds=1)
    inside_syns, err_i = syns(at_inside)
    client_syns, err_c = syns(at_client)
    # the client's SYN (MSS from its TUN's MTU, above 1200) arrives clamped, and the
    # inside host's SYN-ACK (1460 from its veth) reaches the client clamped
    syn_in = [mss for f, mss in inside_syns if f & 0x12 == 0x02]
    synack_cl = [mss for f, mss in client_syns if f & 0x12 == 0x12]
    synack_in = [mss for f, mss in inside_syns if f & 0x12 == 0x12]
    syn_cl = [mss for f, mss in client_syns if f & 0x12 == 0x02]
    assert syn_in and set(syn_in) == {1200}, (inside_syns, err_i)
    assert synack_cl and set(synack_cl) == {1200}, (client_syns, err_c)
    # what the ends sent was larger: the dataplane changed it
    assert synack_in and min(synack_in) > 1200 and syn_cl and min(syn_cl) > 1200, (inside_syns, client_syns)
    # the session's MTU: 1300 passes, 1301 with DF gets "fragmentation needed" with 1300
    r = ns_run(lb.inside, "ping", "-n", "-M", "do", "-s", str(1300 - 28), "-c", "1", "-W", "2", vip, check=False)
    assert "1 received" in r.stdout, r.stdout + r.stderr
    r = ns_run(lb.inside, "ping", "-n", "-M", "do", "-s", str(1301 - 28), "-c", "1", "-W", "2", vip, check=False)
    assert re.search(r"[Ff]rag needed and DF set \(mtu = 1300\)", r.stdout + r.stderr), r.stdout + r.stderr


IDLE_IPSEC = (f'<ipsec xmlns="{NS}" xmlns:rt="urn:raven:params:xml:ns:yang:raven-types">'
              "<transform-set><name>gcm</name><esp-encryption>rt:aes-gcm-16-128</esp-encryption></transform-set>"
              "<profile><name>idle</name><transform-set>gcm</transform-set><ikev2-profile>rw</ikev2-profile>"
              "<lifetime><idle-time>60</idle-time></lifetime></profile></ipsec>")


def test_idle_time_deletes_only_the_idle_session(make_ravend, lab):
    before = time.time()  # before either session exists
    lb, d = start(make_ravend, lab, nclients=2, extra_ipsec=IDLE_IPSEC)
    m = d.connect()
    m.create_subscription()
    assert len(sessions(m)) == 2
    busy = lb.clients[1]
    # client 1 sends a packet every 2 s; client 0 stays silent
    pinger = lb.spawn(busy["ns"], "ping", "-n", "-q", "-i", "2", "-w", "100", lb.inside_ip,
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: len(sessions(m)) == 1, timeout=95, interval=1, what="the idle session deleted")
    assert time.time() - before >= 60, "deleted before its idle-time"
    left = sessions(m)[0]
    assert t(left, "peer-address") == busy["ip"]
    assert reason_of_down(m) == "idle-timeout"
    # the idle client was told (its SA is gone), the busy one still has its SA
    wait_until(lambda: "ESTABLISHED" not in lb.swanctl(0, "--list-sas").stdout, timeout=10,
               what="the idle client's SA deleted")
    assert "received DELETE for IKE_SA" in lb.log(0)
    assert "INSTALLED" in lb.swanctl(1, "--list-sas").stdout
    pool = [p for p in state(m).findall(f"{{{NS}}}pool") if t(p, "name") == "rw-pool"][0]
    assert t(pool, "in-use") == "1"
    assert "idle-time" in d.log()
    ping(busy["ns"], lb.inside_ip, count=2)
    pinger.terminate()


KIM = """kim@example.org Cleartext-Password := "kim-pw-1"
	Cisco-AVPair = "ipsec:addr-pool=radpool",
	Cisco-AVPair += "ip:interface-config=ip mtu 1280",
	Cisco-AVPair += "ip:interface-config=ip tcp adjust-mss 1100"
"""


def test_interface_config_from_radius_and_idle_timeout_in_accounting(make_ravend, lab, pki):
    """S9 ip:interface-config from FreeRADIUS gives the session its MTU and MSS
    clamp; left idle, the session ends with an accounting Stop whose
    Acct-Terminate-Cause is Idle-Timeout."""
    from radiushelpers import FreeRadius
    from test_eap_radius import connect, headend
    lb = lab(1, inside=True, inside_routes=("10.207.0.0/16",))
    fr = FreeRadius(netns=lb.head, users_extra=KIM)
    try:
        ipsec = IDLE_IPSEC.replace("<ikev2-profile>rw</ikev2-profile>", "<ikev2-profile>eap</ikev2-profile>")
        d = make_ravend(headend(pki, fr, acct=True, extra=ipsec) + dataplane_config(lb), netns=lb.head)
        r = connect(lb, pki, "kim@example.org", "kim-pw-1", method="eap-md5", remote_ts=lb.inside_net)
        assert r.returncode == 0, f"{lb.log(0)[-3000:]}\n{d.log()[-3000:]}"
        c = lb.clients[0]
        m = d.connect()
        vip = t(sessions(m)[0], "assigned-ipv4")
        ping(c["ns"], lb.inside_ip, count=2)
        at_inside = capture(lb, lb.inside, f"{lb.tag}ia", 5)
        time.sleep(2)
        iperf(lb, c["ns"], lb.inside, lb.inside_ip, seconds=1)
        inside_syns, err = syns(at_inside)
        assert {mss for f, mss in inside_syns if f & 0x12 == 0x02} == {1100}, (inside_syns, err)
        r = ns_run(lb.inside, "ping", "-n", "-M", "do", "-s", str(1281 - 28), "-c", "1", "-W", "2", vip, check=False)
        assert re.search(r"[Ff]rag needed and DF set \(mtu = 1280\)", r.stdout + r.stderr), r.stdout + r.stderr
        # no more traffic: the idle-time (60 s) ends the session
        wait_until(lambda: not sessions(m), timeout=95, interval=1, what="the idle session deleted")
        assert wait_until(lambda: any(x.get("Acct-Status-Type") == "Stop" for x in fr.detail()), 10), fr.detail()
        stop = [x for x in fr.detail() if x.get("Acct-Status-Type") == "Stop"][0]
        assert stop["Acct-Terminate-Cause"] == "Idle-Timeout", stop
        assert stop["User-Name"] == "kim@example.org", stop
    finally:
        fr.close()


def test_packet_lifetimes_rekey_at_the_soft_limit(make_ravend, lab):
    """RFC 9061 packet lifetimes: the child SA is rekeyed by Raven once the soft
    packet count passed; the hard one (not reached here) is the dataplane's."""
    ipsec = IDLE_IPSEC.replace("<lifetime><idle-time>60</idle-time></lifetime>",
                               "<lifetime><hard><packets>1000</packets></hard><soft><packets>20</packets></soft>"
                               "</lifetime>")
    lb, d = start(make_ravend, lab, extra_ipsec=ipsec)
    c = lb.clients[0]
    m = d.connect()
    assert t(sessions(m)[0].find(f"{{{NS}}}child-sa"), "rekeys") == "0"
    ns_run(c["ns"], "ping", "-n", "-q", "-c", "25", "-i", "0.05", lb.inside_ip)
    wait_until(lambda: "soft volume limit" in d.log(), timeout=10, what="child SA rekeyed by packet count")
    wait_until(lambda: any(int(t(x, "rekeys")) >= 1 for x in sessions(m)[0].findall(f"{{{NS}}}child-sa")),
               timeout=10, what="rekey counted")
    ping(c["ns"], lb.inside_ip, count=3)  # the new SA carries on
