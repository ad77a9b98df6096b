"""Clients that change address or port keep their sessions: MOBIKE (RFC 4555)
and NAT mapping changes (RFC 7296 2.23), with strongSwan clients
(kernel-libipsec, MOBIKE on by default) pinging an inside host through the
AF_XDP dataplane:

    client ns ---- veth ---- headend ns (ravend, XDP) ---- veth ---- inside host
  10.N.0.2 -> 10.N.0.3     10.N.0.1                      10.N.251.1   10.N.251.2

    client ns -- router ns (nftables masquerade, port range changed) -- headend ns -- inside
  192.168.1.2    10.N.250.2:30000-30099 -> :40000-40099       10.N.250.1

- a client whose address changes mid-ping (the new one added, the old one
  deleted) sends UPDATE_SA_ADDRESSES; the session moves with the same IKE SPIs
  and child SA (which kernel-libipsec, unable to change an SA's addresses,
  rekeys afterwards on the same IKE SA), its lease and accounting session, its
  counters going on, a session-moved notification and the peer address history
  in vpn-state, all of it kept across a restart of ravend;
- the same with the profile's return routability check (Raven's COOKIE2 to
  the new address, echoed by the client before anything moves);
- a client behind a NAT whose mapping changes (the NAT's port range changed
  with nftables after its old mapping expired) keeps its tunnel: with MOBIKE
  through the client's NAT detection in its liveness check and its
  UPDATE_SA_ADDRESSES, without MOBIKE (mobike = no) because Raven follows the
  client's authentic ESP from the new port.
Bad input (an UPDATE_SA_ADDRESSES that fails the NAT checks or the return
routability check) is tested on the engine's seam: tests/unit/test_ike_mobike.c."""
import re
import subprocess
import time

from lxml import etree

from conftest import NS
from lab import psk_client_conf
from nchelpers import wait_until
from test_dataplane import dataplane_config, ns_run
from test_ike_sessions import headend_config, sessions, t

REQUIRES = ("strongswan", "ping", "nft")


def start(make_ravend, lab, nat=False, extra_profile="", mobike=True, dpd=None):
    lb = lab(1, nat=nat, inside=True)
    if nat:
        # UDP leaves the router from a known port range (the mapping to change later)
        nat_rules(lb, "30000-30099")
    conf = headend_config(extra_profile=extra_profile).replace("10.200.0.0/16", lb.inside_net)
    d = make_ravend(conf + dataplane_config(lb), netns=lb.head)
    c = lb.clients[0]
    cc = psk_client_conf(c["head_ip"], "user0.example.org", esp="aes128gcm16", remote_ts=lb.inside_net)
    extra = ([] if mobike else ["mobike = no"]) + ([f"dpd_delay = {dpd}"] if dpd else [])
    cc = cc.replace("    vips = 0.0.0.0\n", "    vips = 0.0.0.0\n" + "".join(f"    {x}\n" for x in extra), 1)
    lb.start_charon(0, cc)
    r = lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "15", check=False)
    assert r.returncode == 0, lb.log(0)[-3000:]
    return lb, d


def client_spis(lb):
    """(IKE SPIs, child SPIs) from the client's swanctl --list-sas."""
    out = lb.swanctl(0, "--list-sas").stdout
    ike = re.search(r"([0-9a-f]{16})_i\*? ([0-9a-f]{16})_r", out)
    assert ike, out
    return ike.groups(), sorted(re.findall(r"\b(?:in|out)\s+([0-9a-f]{8})", out))


def raven_session(m):
    s = sessions(m)
    assert len(s) == 1, [t(x, "id") for x in s]
    return s[0]


def raven_view(s):
    return {
        "id": t(s, "id"),
        "ike": (t(s, "ike-sa/initiator-spi"), t(s, "ike-sa/responder-spi")),
        "vip": t(s, "assigned-ipv4"),
        "acct": t(s, "accounting-session-id"),
        "established": t(s, "established-at"),
    }


def wait_moved(lb, d, pred, what, timeout=20):
    try:
        wait_until(pred, timeout=timeout, interval=0.5, what=what)
    except AssertionError as e:
        raise AssertionError(f"{e}\nclient:\n{lb.log(0)[-5000:]}\nravend:\n{d.log()[-3000:]}") from None


def children(s):
    return sorted((t(c, "inbound-spi"), t(c, "outbound-spi"), t(c, "rekeys")) for c in s.findall(f"{{{NS}}}child-sa"))


def check_children(lb, before, after):
    """The child SA is Raven's as before the move. strongSwan's kernel-libipsec
    cannot change an SA's addresses, so after its own UPDATE_SA_ADDRESSES the
    client rekeys its child SA (CREATE_CHILD_SA with REKEY_SA on the same IKE SA);
    without an update of its own it keeps it."""
    log = lb.log(0)
    if "UPD_SA_ADDR" in log and "queueing CHILD_REKEY task" in log[log.index("UPD_SA_ADDR"):]:
        assert len(after) == 1 and after[0][2] == str(int(before[0][2]) + 1), (before, after)
    else:
        assert after == before


def packets_in(s):
    return sum(int(t(c, "statistics/packets-in") or 0) for c in s.findall(f"{{{NS}}}child-sa"))


def history(s):
    return [(t(h, "address"), t(h, "port"), t(h, "moved-at"))
            for h in s.findall(f"{{{NS}}}mobility/{{{NS}}}peer-history")]


def pinger(lb, seconds):
    c = lb.clients[0]
    return lb.spawn(c["ns"], "ping", "-n", "-i", "0.2", "-W", "1", "-w", str(seconds), lb.inside_ip,
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def received(p):
    out, _ = p.communicate(timeout=120)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    assert m, out
    return int(m.group(1)), int(m.group(2))


def moved_notification(m, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        n = m.take_notification(timeout=max(0.1, deadline - time.time()))
        if n is None:
            break
        mv = etree.fromstring(n.notification_xml.encode()).find(f"{{{NS}}}session-moved")
        if mv is not None:
            return {e.tag.split("}")[1]: e.text for e in mv}
    return None


def change_address(lb):
    """Client 0 moves from 10.N.0.2 to 10.N.0.3 (lab.Lab.move)."""
    new = f"10.{lb.net}.0.3"
    lb.move(0, lb.clients[0]["ip"], new)
    return new


def moves_with_address_change(make_ravend, lab, extra_profile=""):
    lb, d = start(make_ravend, lab, extra_profile=extra_profile)
    c = lb.clients[0]
    m = d.connect()
    ns_run(c["ns"], "ping", "-n", "-c", "2", "-i", "0.2", "-W", "2", lb.inside_ip)
    before = raven_session(m)
    view, pkts, kids = raven_view(before), packets_in(before), children(before)
    assert t(before, "mobility/mobike") == "true" and t(before, "mobility/moves") == "0"
    assert t(before, "peer-address") == c["ip"]
    spis = client_spis(lb)
    m.create_subscription()
    p = pinger(lb, 14)
    time.sleep(3)
    new = change_address(lb)
    wait_moved(lb, d, lambda: t(raven_session(m), "peer-address") == new, f"the session at {new}")
    sent, got = received(p)
    after = raven_session(m)
    # same session: SPIs both ends, lease, accounting session, start time
    assert raven_view(after) == view, lb.log(0)[-8000:]
    assert client_spis(lb)[0] == spis[0]  # the IKE SA
    check_children(lb, kids, children(raven_session(m)))
    assert f"{new}[4500]" in lb.swanctl(0, "--list-sas").stdout
    # the tunnel carried on: most pings answered, and the counters went on from where they were
    assert got >= sent - 8, (sent, got)
    ns_run(c["ns"], "ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", lb.inside_ip)
    assert packets_in(raven_session(m)) > pkts + got
    assert t(after, "mobility/moves") == "1"
    assert t(after, "mobility/last-move")
    h = history(after)
    assert len(h) == 1 and h[0][0] == c["ip"] and h[0][1] == "4500" and h[0][2], h
    n = moved_notification(m)
    assert n and n["cause"] == "mobike" and n["peer-address"] == new and n["previous-address"] == c["ip"], n
    assert n["session-id"] == view["id"]
    return lb, d, m


def test_client_address_change_keeps_the_tunnel(make_ravend, lab):
    lb, d, m = moves_with_address_change(make_ravend, lab)
    assert "N(UPD_SA_ADDR)" in lb.log(0)
    assert "return routability" not in d.log()  # not asked for by the profile
    # a restart of ravend keeps the moved session, its MOBIKE and its history
    before = raven_session(m)
    assert d.stop() == 0, d.log()[-3000:]
    d.start()
    m = d.connect()
    after = raven_session(m)
    assert raven_view(after) == raven_view(before)
    for leaf in ("peer-address", "mobility/mobike", "mobility/moves", "mobility/last-move"):
        assert t(after, leaf) == t(before, leaf), leaf
    assert history(after) == history(before)
    ns_run(lb.clients[0]["ns"], "ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", lb.inside_ip)


def test_return_routability_check_before_the_move(make_ravend, lab):
    lb, d, m = moves_with_address_change(
        make_ravend, lab, extra_profile="<mobike><return-routability-check>true</return-routability-check></mobike>")
    # our check reached the client at its new address, and the session moved after it
    log = d.log()
    assert log.index("return routability check of") < log.index("moved (mobike)"), log[-3000:]
    assert re.search(r"received packet: from 10\.\d+\.0\.1\[4500\] to 10\.\d+\.0\.3\[4500\] \(\d+ bytes\)\n"
                     r"\S+ parsed INFORMATIONAL request \d+ \[ N\(COOKIE2\) \]", lb.log(0)), lb.log(0)[-4000:]


def test_mobike_off_in_the_profile_is_not_announced(make_ravend, lab):
    lb, d = start(make_ravend, lab, extra_profile="<mobike><enabled>false</enabled></mobike>")
    m = d.connect()
    assert t(raven_session(m), "mobility/mobike") == "false"
    assert "peer supports MOBIKE" not in lb.log(0)


def nat_rules(lb, ports):
    r, out = lb.router, f"{lb.tag}ra"
    ns_run(r, "nft", "flush", "chain", "ip", "nat", "post")
    ns_run(r, "nft", "add", "rule", "ip", "nat", "post", "oifname", out, "meta", "l4proto", "udp", "masquerade", "to",
           f":{ports}")
    ns_run(r, "nft", "add", "rule", "ip", "nat", "post", "oifname", out, "masquerade")


def rebind_nat(lb):
    """The NAT maps the client from another port range: the rule changed, and
    its old mappings dropped (masquerade forgets them when its address goes;
    it comes back at once)."""
    nat_rules(lb, "40000-40099")
    ns_run(lb.router, "ip", "addr", "del", f"10.{lb.net}.250.2/24", "dev", f"{lb.tag}ra")
    ns_run(lb.router, "ip", "addr", "add", f"10.{lb.net}.250.2/24", "dev", f"{lb.tag}ra")


def nat_rebinding(make_ravend, lab, mobike):
    # without MOBIKE no liveness checks: only the client's ESP can move the session
    lb, d = start(make_ravend, lab, nat=True, mobike=mobike, dpd="2s" if mobike else None)
    c = lb.clients[0]
    m = d.connect()
    ns_run(c["ns"], "ping", "-n", "-c", "2", "-i", "0.2", "-W", "2", lb.inside_ip)
    before = raven_session(m)
    view, kids = raven_view(before), children(before)
    port = int(t(before, "peer-port"))
    assert 30000 <= port < 30100, port
    assert t(before, "mobility/mobike") == ("true" if mobike else "false")
    spis = client_spis(lb)
    if mobike:
        # strongSwan learns a NAT mapping change from the NAT detection in the
        # answers to its liveness checks, compared with the previous answer's:
        # one answered before the change (while the client is idle)
        wait_until(lambda: re.search(r"parsed INFORMATIONAL response \d+ \[ N\(NATD_S_IP\) N\(NATD_D_IP\) \]",
                                     lb.log(0)), timeout=15, what="a liveness check with NAT detection answered")
    m.create_subscription()
    p = pinger(lb, 25)
    time.sleep(2)
    rebind_nat(lb)
    wait_moved(lb, d, lambda: 40000 <= int(t(raven_session(m), "peer-port")) < 40100, "the session at the new NAT port")
    sent, got = received(p)
    after = raven_session(m)
    assert raven_view(after) == view, lb.log(0)[-8000:]
    assert client_spis(lb)[0] == spis[0]
    check_children(lb, kids, children(raven_session(m)))
    if not mobike:
        assert client_spis(lb) == spis  # nothing but the NAT changed: every SPI stays
    assert got >= sent // 2, (sent, got)
    ns_run(c["ns"], "ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", lb.inside_ip)
    h = history(after)
    assert h and h[0][0] == c["outer_ip"] and int(h[0][1]) == port, h
    assert t(after, "peer-address") == c["outer_ip"]
    n = moved_notification(m)
    assert n and n["cause"] == ("mobike" if mobike else "nat-mapping"), n
    return lb, d


def test_nat_mapping_change_with_mobike(make_ravend, lab):
    lb, _ = nat_rebinding(make_ravend, lab, mobike=True)
    assert "N(UPD_SA_ADDR)" in lb.log(0)


def test_nat_mapping_change_without_mobike(make_ravend, lab):
    nat_rebinding(make_ravend, lab, mobike=False)
