"""What ravend does at start with the sessions of its arena when it cannot, or
must not, take them all over (restarthelpers.py; the takeover itself:
test_restart.py):

- a session whose pool was removed from the configuration while ravend was down
  (state/running.xml edited between stop and start) is ended at start, cleanly:
  a DELETE to its client and its accounting Stop; the other two go on;
- a corrupt arena (truncated, or garbage) is set aside as PATH.bad-<time>, said
  in the log and in vpn-state; ravend starts empty and serves a new connection;
- --fresh ends every session of the arena: a DELETE to each client, and
  accounting Stops that count the traffic before the stop;
- the replay window comes back exact: an ESP packet captured before a kill -9
  and sent again after the start is dropped as a replay (scapy)."""
import glob
import os
import re
import time

from lxml import etree

from conftest import NS
from nchelpers import wait_until
from restarthelpers import (CERT, EAP, PSK, accounting_stops, baseline, check_adopted, check_stop,
                            daemon_state, headend_sessions, marks, peer, since, three_clients)
from test_dataplane import child_stats, dp_iface, ns_run, ping, start
from test_eap_radius import radius_in  # noqa: F401 (the fixture)
from test_ike_certs import pki  # noqa: F401 (the fixture)
from test_ike_sessions import sessions, t

REQUIRES = ("strongswan", "freeradius", "ping", "openssl", "scapy")
REQUIRES_PLUGINS = ("eap-identity", "eap-mschapv2")

ALL = (PSK, CERT, EAP)


def remove_psk_pool(d):
    """Edits the persisted running datastore of the stopped ravend: the PSK
    client's pool goes, and with it the authorization policy's reference to it."""
    path = os.path.join(d.state_dir, "running.xml")
    with open(path, "rb") as f:
        root = etree.fromstring(b"<root>" + f.read() + b"</root>")
    ns = {"rv": NS}
    gone = root.xpath("//rv:pools/rv:ipv4-pool[rv:name='psk-pool']", namespaces=ns) + \
        root.xpath("//rv:authorization-policy/rv:pool[text()='psk-pool']", namespaces=ns)
    assert len(gone) == 2, etree.tostring(root)[:3000]
    for el in gone:
        el.getparent().remove(el)
    with open(path, "wb") as f:
        f.write(b"".join(etree.tostring(c) for c in root))


def test_a_session_whose_pool_was_removed_ends_at_start(make_ravend, radius_in, pki):  # noqa: F811
    env = three_clients(make_ravend, radius_in, pki)
    lb, d, fr = env.lb, env.d, env.fr
    before = baseline(env)
    acct = before[PSK]["ours"]["acct"]
    mk = marks(env)
    assert d.stop() == 0
    exited_at = time.time()
    replies_before = len(env.pingers[PSK].replies())
    remove_psk_pool(d)
    d.start()
    # the PSK client is told, its accounting ends
    wait_until(lambda: "received DELETE for IKE_SA" in since(lb.log(PSK), mk["clients"][PSK]), timeout=10,
               what="the DELETE of the session without its pool")
    stops = wait_until(lambda: accounting_stops(fr).get(acct), timeout=10, what="its accounting Stop")
    assert len(stops) == 1, stops
    tx, _ = env.pingers[PSK].stop()
    check_stop(stops[0], (tx, replies_before), "psk")
    # the other two go on as if nothing happened
    mk["detail"] += 1  # that Stop
    check_adopted(env, before, mk, exited_at, adopted=(CERT, EAP))
    m = d.connect()
    dst = daemon_state(m)
    assert dst.get("sessions-ended-at-start") == "1" and dst.get("sessions-adopted") == "2", dst
    assert sorted(headend_sessions(m)) == sorted(peer(env, i) for i in (CERT, EAP))
    assert set(accounting_stops(fr)) == {acct}, accounting_stops(fr)
    assert "psk-pool" not in d.running_file()


def corrupt(path, how):
    """Truncates the arena file to half its size, or writes 4 KiB of garbage at
    its start; returns what the set-aside file must then hold (its size, and its
    first bytes)."""
    size = os.path.getsize(path)
    if how == "truncated":
        os.truncate(path, size // 2)
        return size // 2, None
    junk = os.urandom(4096)
    with open(path, "r+b") as f:
        f.write(junk)
    return size, junk


def test_a_corrupt_arena_is_set_aside(make_ravend, lab):
    lb, d = start(make_ravend, lab)
    c = lb.clients[0]
    m = d.connect()
    assert len(sessions(m)) == 1
    assert daemon_state(m).get("arena") == "new", daemon_state(m)
    assert os.path.exists(d.arena), f"no arena file at {d.arena}"
    for how in ("truncated", "garbage"):
        assert d.stop() == 0
        size, head = corrupt(d.arena, how)
        d.start()
        m = d.connect()
        ds = daemon_state(m)
        assert ds.get("arena") == "set-aside" and ds.get("sessions-adopted") == "0", (how, ds)
        assert not sessions(m)
        bad = glob.glob(glob.escape(d.arena) + ".bad-*")
        assert len(bad) == 1, (how, os.listdir(d.arena_dir))
        assert os.path.getsize(bad[0]) == size, (how, bad[0])
        if head:
            with open(bad[0], "rb") as f:
                assert f.read(len(head)) == head, "the set-aside file is not the one found"
        assert os.path.exists(d.arena), "no new arena"
        why = [ln for ln in d.log(since_start=True).splitlines()
               if "arena" in ln and re.search(r"set aside|\.bad-", ln)]
        assert why, f"no log line says why the arena was set aside:\n{d.log(since_start=True)[-3000:]}"
        os.unlink(bad[0])
        # the client's session was not taken over: it connects again, normally
        lb.swanctl(0, "--terminate", "--ike", "rw", "--force", "--timeout", "2", check=False)
        r = lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "15", check=False)
        assert r.returncode == 0, lb.log(0)[-3000:]
        ping(c["ns"], lb.inside_ip, count=3)
        assert len(sessions(m)) == 1


def test_fresh_ends_every_session_of_the_arena(make_ravend, radius_in, pki):  # noqa: F811
    env = three_clients(make_ravend, radius_in, pki)
    lb, d, fr = env.lb, env.d, env.fr
    before = baseline(env)
    acct = {i: before[i]["ours"]["acct"] for i in ALL}
    mk = marks(env)
    assert d.stop() == 0
    replies = {i: len(env.pingers[i].replies()) for i in ALL}
    d.start(once=["--fresh"])
    for i in ALL:
        wait_until(lambda: "received DELETE for IKE_SA" in since(lb.log(i), mk["clients"][i]), timeout=10,
                   what=f"client {i} told of the end of its session")
    wait_until(lambda: all(acct[i] in accounting_stops(fr) for i in ALL), timeout=10, what="three accounting Stops")
    stops = accounting_stops(fr)
    for i in ALL:
        tx, _ = env.pingers[i].stop()
        assert len(stops[acct[i]]) == 1, stops
        check_stop(stops[acct[i]][0], (tx, replies[i]), f"client {i}")
    m = d.connect()
    ds = daemon_state(m)
    assert ds.get("sessions-ended-at-start") == "3" and ds.get("sessions-adopted") == "0", ds
    assert not sessions(m)
    # and it serves the next connection
    r = lb.swanctl(PSK, "--initiate", "--child", "vpn", "--timeout", "15", check=False)
    assert r.returncode == 0, lb.log(PSK)[-3000:]
    assert len(sessions(m)) == 1


# one ESP packet from the client (of a ping) captured on its link into a file,
# and that packet sent again
CAPTURE = r"""
import subprocess, sys, time
from scapy.all import AsyncSniffer, UDP, wrpcap
dev, dst, out = sys.argv[1:4]
def esp(p):  # ESP in UDP: not a keepalive, not IKE (non-ESP marker)
    if UDP not in p or p[UDP].dport != 4500:
        return False
    pl = bytes(p[UDP].payload)
    return len(pl) > 8 and pl[:4] != b"\0\0\0\0"
s = AsyncSniffer(iface=dev, lfilter=esp, count=1, store=True)
s.start()
time.sleep(0.5)
subprocess.run(["ping", "-c", "1", "-W", "2", dst], check=True, capture_output=True)
s.join(timeout=5)
assert s.results, "no ESP packet captured"
wrpcap(out, s.results[:1])
print("captured")
"""
REPLAY = ("import sys\nfrom scapy.all import rdpcap, sendp\n"
          "sendp(rdpcap(sys.argv[2])[0], iface=sys.argv[1], verbose=False)\nprint('replayed')")


def test_a_packet_from_before_a_kill_replayed_after_the_start_is_dropped(make_ravend, lab):
    lb, d = start(make_ravend, lab)
    c, dev = lb.clients[0], f"{lb.tag}a0"
    pcap = os.path.join(lb.dir, "esp.pcap")
    assert "captured" in ns_run(c["ns"], "/usr/bin/python3", "-c", CAPTURE, dev, lb.inside_ip, pcap).stdout
    ping(c["ns"], lb.inside_ip, count=3)  # the window moves on past it
    m = d.connect()
    before, _ = child_stats(m)
    d.kill9()
    d.start()
    m = d.connect()
    assert len(sessions(m)) == 1, f"the session was not taken over:\n{d.log(since_start=True)[-3000:]}"
    assert "replayed" in ns_run(c["ns"], "/usr/bin/python3", "-c", REPLAY, dev, pcap).stdout
    wait_until(lambda: child_stats(m)[0]["replay-errors"] == before["replay-errors"] + 1, timeout=5,
               what="the old packet dropped as a replay")
    assert int(t(dp_iface(m, lb.outside_devs()[0]), "drops/replay")) == 1
    assert child_stats(m)[0]["packets-in"] == before["packets-in"]
    ping(c["ns"], lb.inside_ip, count=3)  # and the tunnel carries on
