"""The ESP dataplane with real peers: strongSwan clients (kernel-libipsec, so
ESP in UDP) reach a host on the inside network through ravend's AF_XDP workers,
with every ESP cipher; ping and iperf3 (TCP and UDP) both ways; the SA counters in
NETCONF state equal the client's; a replayed ESP packet (captured and resent
with scapy) is dropped and counted; after the session goes, the inside host's
packets to the old address are no longer carried; a rekey under a continuous ping
loses at most the packets in flight."""
import json
import math
import re
import subprocess
import time

import pytest

from lab import psk_client_conf
from nchelpers import rpc, wait_until
from test_ike_sessions import NS, headend_config, sessions, state, t

REQUIRES = ("strongswan", "iperf3", "scapy", "ping")

ESP = {
    "aes128gcm16": ("AES_GCM_16-128", None),
    "aes256gcm16": ("AES_GCM_16-256", None),
    "chacha20poly1305": ("CHACHA20_POLY1305-256", None),
    "aes128-sha1": ("AES_CBC-128", "HMAC_SHA1_96"),
    "aes256-sha256": ("AES_CBC-256", "HMAC_SHA2_256_128"),
}


def dataplane_config(lb, mode="auto"):
    ifs = "".join(f"<interface><name>{d}</name><role>outside</role><xdp-mode>{mode}</xdp-mode></interface>"
                  for d in lb.outside_devs())
    return (f'<dataplane xmlns="{NS}">{ifs}<interface><name>{lb.inside_dev}</name><role>inside</role>'
            f"<xdp-mode>{mode}</xdp-mode></interface></dataplane>")


def start(make_ravend, lab, esp="aes128gcm16", nclients=1, extra_policy="", extra_ipsec="", arena=None):
    lb = lab(nclients, inside=True)
    # the clients' route (and allowed traffic selector) is the inside network
    conf = headend_config(extra_policy=extra_policy).replace("10.200.0.0/16", lb.inside_net)
    d = make_ravend(conf + dataplane_config(lb) + extra_ipsec, netns=lb.head, arena=arena)
    for i in range(nclients):
        c = lb.clients[i]
        lb.start_charon(i, psk_client_conf(c["head_ip"], f"user{i}.example.org", esp=esp,
                                           remote_ts=lb.inside_net))
        r = lb.swanctl(i, "--initiate", "--child", "vpn", "--timeout", "15", check=False)
        assert r.returncode == 0, lb.log(i)[-3000:]
    return lb, d


def ns_run(ns, *args, timeout=60, check=True):
    r = subprocess.run(["ip", "netns", "exec", ns, *args], capture_output=True, text=True, timeout=timeout)
    if check:
        assert r.returncode == 0, f"{args}: {r.stdout[-2000:]} {r.stderr[-2000:]}"
    return r


def ping(ns, dst, count=5, interval="0.2", check=True):
    return ns_run(ns, "ping", "-n", "-q", "-c", str(count), "-i", interval, "-W", "2", dst, check=check)


def client_sa_counters(lb, i=0):
    """(bytes, packets) in and out of the client's child SA(s), from swanctl."""
    out = lb.swanctl(i, "--list-sas").stdout
    tot = {"in": [0, 0], "out": [0, 0]}
    for d, b, p in re.findall(r"\b(in|out)\s+[0-9a-f]{8}.*?(\d+) bytes,\s+(\d+) packets", out):
        tot[d][0] += int(b)
        tot[d][1] += int(p)
    return tot


def child_stats(m):
    s = sessions(m)
    assert len(s) == 1
    cs = s[0].findall(f"{{{NS}}}child-sa")
    assert cs
    tot = {k: 0 for k in ("bytes-in", "bytes-out", "packets-in", "packets-out", "replay-errors")}
    for c in cs:
        for k in tot:
            tot[k] += int(t(c, f"statistics/{k}") or 0)
    return tot, cs


def dp_iface(m, name):
    for i in state(m).findall(f"{{{NS}}}dataplane/{{{NS}}}interface"):
        if t(i, "name") == name:
            return i
    raise AssertionError(f"no dataplane state for {name}")


@pytest.mark.parametrize("esp", sorted(ESP))
def test_client_reaches_inside_host_with_every_cipher(make_ravend, lab, esp):
    lb, d = start(make_ravend, lab, esp=esp)
    c = lb.clients[0]
    m = d.connect()
    _, cs = child_stats(m)
    enc, integ = ESP[esp]
    assert enc.split("-")[0].lower().replace("_", "-")[:6] in t(cs[0], "encryption").lower().replace("_", "-")
    # client -> inside host and back, then inside host -> client and back
    ping(c["ns"], lb.inside_ip, count=5)
    vip = t(sessions(m)[0], "assigned-ipv4")
    ping(lb.inside, vip, count=5)
    # the counters of both ends agree exactly (only this test's packets crossed)
    cl = client_sa_counters(lb)
    ours, _ = child_stats(m)
    assert ours["packets-in"] == cl["out"][1] == 10, (ours, cl)
    assert ours["packets-out"] == cl["in"][1] == 10, (ours, cl)
    assert ours["bytes-in"] == cl["out"][0] and ours["bytes-out"] == cl["in"][0], (ours, cl)
    # the workers carried it: once the neighbours are known (the first packets go
    # through the kernel, which resolves them), every packet leaves on AF_XDP
    outside, inside = dp_iface(m, lb.outside_devs()[0]), dp_iface(m, lb.inside_dev)
    assert t(outside, "mode-in-use") in ("native", "generic")
    assert int(t(outside, "rx-packets")) >= 10 and int(t(inside, "rx-packets")) >= 10
    tx_in, tx_out = int(t(inside, "tx-packets")), int(t(outside, "tx-packets"))
    ping(c["ns"], lb.inside_ip, count=5)
    outside, inside = dp_iface(m, lb.outside_devs()[0]), dp_iface(m, lb.inside_dev)
    assert int(t(inside, "tx-packets")) - tx_in == 5 and int(t(outside, "tx-packets")) - tx_out == 5
    ws = state(m).findall(f"{{{NS}}}dataplane/{{{NS}}}worker")
    assert sum(int(t(w, "packets-decrypted")) for w in ws) >= 10
    assert sum(int(t(w, "packets-encrypted")) for w in ws) >= 10


def iperf(lb, client_ns, server_ns, server_ip, *args, seconds=2):
    port = "5201"
    srv = lb.spawn(server_ns, "iperf3", "-s", "-1", "-p", port, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    try:
        r = ns_run(client_ns, "iperf3", "-c", server_ip, "-p", port, "-t", str(seconds), "-J", *args, timeout=60)
        return json.loads(r.stdout)
    finally:
        srv.wait(timeout=10)


def test_iperf3_tcp_and_udp_both_ways(make_ravend, lab):
    lb, d = start(make_ravend, lab)
    c = lb.clients[0]
    for args in ((), ("-R",)):
        res = iperf(lb, c["ns"], lb.inside, lb.inside_ip, *args)
        got = res["end"]["sum_received"]["bytes"]
        assert got > 1_000_000, res["end"]
    for args in (("-u", "-b", "40M", "-l", "1200"), ("-u", "-b", "40M", "-l", "1200", "-R")):
        # UDP loss also counts the client's userspace ESP and the machine's load
        # (parallel tests): a second run decides when the first lost 5% or more
        for attempt in range(2):
            res = iperf(lb, c["ns"], lb.inside, lb.inside_ip, *args)
            s = res["end"]["sum"]
            if s["packets"] > 1000 and s["lost_percent"] < 5:
                break
        assert s["packets"] > 1000 and s["lost_percent"] < 5, s
    m = d.connect()
    ours, _ = child_stats(m)
    assert ours["packets-in"] > 5000 and ours["packets-out"] > 5000, ours


SNIFF_AND_REPLAY = r"""
import sys
from scapy.all import AsyncSniffer, sendp, UDP, Raw
import subprocess, time
dev, dst = sys.argv[1], sys.argv[2]
def esp(p):
    return UDP in p and p[UDP].dport == 4500 and len(bytes(p[UDP].payload)) > 8 and bytes(p[UDP].payload)[:4] != b"\0\0\0\0"
s = AsyncSniffer(iface=dev, lfilter=esp, count=1, store=True)
s.start()
time.sleep(0.5)
subprocess.run(["ping", "-c", "1", "-W", "2", dst], check=True, capture_output=True)
s.join(timeout=5)
pkts = s.results
assert pkts, "no ESP packet captured"
sendp(pkts[0], iface=dev, verbose=False)
print("replayed")
"""


def test_replayed_esp_is_dropped_and_counted(make_ravend, lab):
    lb, d = start(make_ravend, lab)
    c = lb.clients[0]
    r = ns_run(c["ns"], "/usr/bin/python3", "-c", SNIFF_AND_REPLAY, f"{lb.tag}a0", lb.inside_ip)
    assert "replayed" in r.stdout
    m = d.connect()
    wait_until(lambda: child_stats(m)[0]["replay-errors"] == 1, timeout=5, what="replay counted on the SA")
    assert int(t(dp_iface(m, lb.outside_devs()[0]), "drops/replay")) == 1
    ours, _ = child_stats(m)
    assert ours["packets-in"] == 1  # the original went through, the copy did not


def test_after_session_delete_inside_traffic_is_not_carried(make_ravend, lab):
    lb, d = start(make_ravend, lab)
    m = d.connect()
    vip = t(sessions(m)[0], "assigned-ipv4")
    ping(lb.inside, vip, count=2)
    rpc(m, f'<clear-session xmlns="{NS}"><all/></clear-session>')
    wait_until(lambda: not sessions(m), timeout=10, what="session gone")
    before = int(t(dp_iface(m, lb.inside_dev), "rx-packets"))
    r = ping(lb.inside, vip, count=3, check=False)
    assert r.returncode != 0  # nothing answers: the headend no longer carries it
    assert int(t(dp_iface(m, lb.inside_dev), "rx-packets")) == before


def test_rekey_under_continuous_ping_loses_at_most_in_flight(make_ravend, lab):
    lb, d = start(make_ravend, lab)
    c = lb.clients[0]
    p = lb.spawn(c["ns"], "ping", "-n", "-q", "-c", "200", "-i", "0.02", "-W", "1", lb.inside_ip,
                 stdout=subprocess.PIPE, text=True)
    time.sleep(1.5)
    lb.swanctl(0, "--rekey", "--child", "vpn")
    out, _ = p.communicate(timeout=30)
    got = int(re.search(r"(\d+) received", out).group(1))
    # in flight at the switch: what one round trip holds at 50 pings a second (at
    # least 2); a loaded machine stretches the round trip, a broken rekey loses
    # every packet after the switch
    rtt_max = float(re.search(r"rtt min/avg/max/mdev = [\d.]+/[\d.]+/([\d.]+)/", out).group(1))
    assert got >= 200 - max(2, math.ceil(rtt_max / 20) + 1), out
    m = d.connect()
    wait_until(lambda: len(child_stats(m)[1]) == 1, timeout=10, what="old child deleted")
    ours, cs = child_stats(m)
    assert int(t(cs[0], "rekeys")) >= 1
    # the new child's statistics carry the old one's traffic
    assert ours["packets-in"] >= got and ours["packets-out"] >= got, ours


def dual_stack_config(lb):
    """The inside network in both families (fd00:250::/64 beside the lab's IPv4
    one, the inside host routing the clients' fd00:201::/64 via the headend) and
    a headend configuration with an IPv6 pool for it and the dataplane."""
    lb.inside6()
    conf = headend_config(extra_policy="<ipv6-pool>rw6</ipv6-pool>").replace(
        "<route><set><remote><ipv4>10.200.0.0/16</ipv4></remote></set></route>",
        f"<route><set><remote><ipv4>{lb.inside_net}</ipv4><ipv6>fd00:250::/64</ipv6></remote></set></route>").replace(
        "</ipv4-pool>", "</ipv4-pool><ipv6-pool><name>rw6</name><prefix>fd00:201::/64</prefix></ipv6-pool>")
    return conf + dataplane_config(lb)


def test_ipv6_inside_traffic_both_ways(make_ravend, lab):
    """Inner IPv6 (ESP next header 41) through the same tunnel: an IPv6 pool, the
    inside network in both families, ping6 both ways, the hop limit decremented."""
    lb = lab(1, inside=True)
    d = make_ravend(dual_stack_config(lb), netns=lb.head)
    c = lb.clients[0]
    cc = psk_client_conf(c["head_ip"], "user0.example.org", esp="aes256gcm16", remote_ts=f"{lb.inside_net},fd00:250::/64")
    lb.start_charon(0, cc.replace("vips = 0.0.0.0", "vips = 0.0.0.0,::"))
    assert lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "15", check=False).returncode == 0
    r = ns_run(c["ns"], "ping", "-6", "-n", "-c", "4", "-i", "0.2", "-W", "2", "fd00:250::2")
    assert "4 received" in r.stdout
    r = ns_run(lb.inside, "ping", "-6", "-n", "-c", "4", "-i", "0.2", "-W", "2", "fd00:201::1")
    assert "4 received" in r.stdout
    # hop limit: 64 from the inside host, one less after the headend (the client's
    # kernel answers with its own 64, which arrives as 63 inside)
    assert "ttl=63" in r.stdout or "hlim=63" in r.stdout, r.stdout
    m = d.connect()
    ours, _ = child_stats(m)
    cl = client_sa_counters(lb)
    assert ours["packets-in"] == cl["out"][1] == 8 and ours["packets-out"] == cl["in"][1] == 8, (ours, cl)
    # too big for the tunnel: ICMPv6 packet too big with the tunnel MTU (no fragmenting in IPv6)
    r = ns_run(lb.inside, "ping", "-6", "-n", "-M", "do", "-s", "1452", "-c", "1", "-W", "2", "fd00:201::1",
               check=False)
    mtu = re.search(r"[Pp]acket too big: mtu=(\d+)", r.stdout + r.stderr)
    assert mtu and 1400 <= int(mtu.group(1)) <= 1440, r.stdout + r.stderr


def test_configured_nat_t_port_carries_esp_in_udp(make_ravend, lab):
    """With listen nat-t-port 14500 a client that talks to that port (remote_port;
    local_port 4500, so that strongSwan sends from its NAT-T socket: IKE with the
    non-ESP marker from the first message, then ESP in UDP) reaches
    the inside host through the workers: the XDP program steers ESP in UDP on the
    configured port, not on 4500."""
    lb = lab(1, inside=True)
    c = lb.clients[0]
    conf = headend_config().replace("10.200.0.0/16", lb.inside_net).replace(
        "<listen><address>0.0.0.0</address></listen>",
        "<listen><address>0.0.0.0</address><nat-t-port>14500</nat-t-port></listen>")
    d = make_ravend(conf + dataplane_config(lb), netns=lb.head)
    cc = psk_client_conf(c["head_ip"], "user0.example.org", esp="aes128gcm16", remote_ts=lb.inside_net)
    lb.start_charon(0, cc.replace(f"remote_addrs = {c['head_ip']}\n",
                                  f"remote_addrs = {c['head_ip']}\n    local_port = 4500\n    remote_port = 14500\n"))
    r = lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "15", check=False)
    assert r.returncode == 0, lb.log(0)[-3000:]
    sent = re.findall(r"sending packet: from \S+\[(\d+)\] to \S+\[(\d+)\]", lb.log(0))
    assert sent and all(p == ("4500", "14500") for p in sent), sent
    m = d.connect()
    ping(c["ns"], lb.inside_ip, count=5)
    ws = state(m).findall(f"{{{NS}}}dataplane/{{{NS}}}worker")
    assert sum(int(t(w, "packets-decrypted")) for w in ws) >= 5
    ours, _ = child_stats(m)
    assert ours["packets-in"] == client_sa_counters(lb)["out"][1] == 5


def test_client_to_client_goes_through_both_tunnels(make_ravend, lab):
    """Client to client: decrypted from one tunnel, encrypted into the other by the
    dataplane (hairpin), never sent in clear."""
    lb = lab(2, inside=True)
    nets = f"{lb.inside_net},10.201.0.0/24"
    conf = headend_config().replace("<ipv4>10.200.0.0/16</ipv4>",
                                    f"<ipv4>{lb.inside_net}</ipv4><ipv4>10.201.0.0/24</ipv4>")
    d = make_ravend(conf + dataplane_config(lb), netns=lb.head)
    for i in range(2):
        c = lb.clients[i]
        lb.start_charon(i, psk_client_conf(c["head_ip"], f"user{i}.example.org", esp="aes128gcm16", remote_ts=nets))
        assert lb.swanctl(i, "--initiate", "--child", "vpn", "--timeout", "15", check=False).returncode == 0
    m = d.connect()
    vips = {t(s, "peer-address"): t(s, "assigned-ipv4") for s in sessions(m)}
    other = vips[lb.clients[1]["ip"]]
    r = ping(lb.clients[0]["ns"], other, count=4)
    assert "4 received" in r.stdout
    c0, c1 = client_sa_counters(lb, 0), client_sa_counters(lb, 1)
    assert c0["out"][1] == c0["in"][1] == 4 and c1["out"][1] == c1["in"][1] == 4, (c0, c1)
    # with the neighbours known, the workers carry all of it (4 requests to client 1,
    # 4 replies to client 0)
    before = [int(t(dp_iface(m, dev), "tx-packets")) for dev in lb.outside_devs()]
    ping(lb.clients[0]["ns"], other, count=4)
    after = [int(t(dp_iface(m, dev), "tx-packets")) for dev in lb.outside_devs()]
    assert [a - b for a, b in zip(after, before)] == [4, 4]
