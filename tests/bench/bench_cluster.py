#!/usr/bin/python3
"""The cluster's scale figures, measured on this machine (docs/cluster-scale.md
draws the conclusions).

ravend (RelWithDebInfo, no dataplane, --arena none; in (a) --crypto-threads 0) in a headend namespace,
the load in a client namespace over a veth ({NET}.1 headend, {NET}.2 client):

  (a) What an IKE_SA_INIT costs ravend, in CPU (all its threads and its
      front ends, /proc/PID/stat), three ways in one run, alternated over
      --rounds:
        redirect  IKE_SA_INITs that announce REDIRECT_SUPPORTED (RFC 5685)
                  answered with REDIRECT (ikev2/global/redirect/gateway set):
                  what the member holding the cluster address pays per new
                  client it sends elsewhere;
        init      the same requests answered normally (no redirect
                  configured): an IKE_SA_INIT response, X25519 computed, a
                  half-open SA kept;
        full      whole set-ups, tests/bench/ike_load (IKE_SA_INIT, IKE_AUTH
                  with PSK, configuration request, one child SA, DELETE, in a
                  loop; CONCURRENCY initiators): the baseline.
      The IKE_SA_INITs come from a raw socket in the client namespace with
      random sources of {SPOOF} (each a fresh SPI; the answers are routed
      back to the client namespace, which drops them), at --init-rate a
      second; then redirects at --flood-rate, to see how many one ravend
      answers a second; and (after (b), with its etcd) the redirect through
      the cluster's pick: a member of capacity 1 holding a cluster address,
      another member in etcd. Counted by ravend itself (vpn-state/ike-counters:
      requests, redirect/at-init, cookies), read over REST.
  (b) etcd: its own write rate on this machine (an etcd 3.4 member in the
      headend namespace, data on --etcd-dir's file system): puts through its
      JSON gateway (the API Raven uses) by 1 and by --etcd-clients
      concurrent clients, and `etcdctl check perf --load=s` (60 s; --no-check-perf
      leaves it out); then ravend as a cluster member of it: its writes to
      etcd (vpn-state/cluster/etcd-writes) and etcd's revision while idle
      (the lease keep-alives) and while ike_load (--cluster-concurrency
      initiators) sets sessions up and down, per session event (an event: a
      session up, or down), the session keys left once every session
      ended, and what another member's session events cost this one (it
      watches them all: the watch fan-out); the same load without the
      cluster is the baseline of the member's CPU per set-up.
  (c) The figures measured before, not measured again: sessions held and
      set-ups a second per node, quoted from the results files
      (bench_table, bench_scale).

Every rate is printed with its failures and timeouts; everything printed goes
to tests/bench/results/bench_cluster-DATE.txt (benchdeps.record). Run as root:

    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
    cmake --build build -j2 --target ravend raven-restd raven-netconfd ike_load
    /usr/bin/python3 tests/bench/bench_cluster.py [--build build] [--seconds 6] [--rounds 2]
        [--init-rate 3000] [--flood-rate 100000] [--skip a,b,c]

A part whose piece is missing (ravend without redirect or cluster support,
etcd not installed) says so and is left out; the others still run.
"""
import argparse
import base64
import glob
import http.client
import json
import os
import random
import re
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import benchdeps  # noqa: E402
from bench_ike import netns_pair, stop, tree_cpu, wait_for  # noqa: E402
from bench_scale import Rest, ravend_config  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
NS = "urn:raven:params:xml:ns:yang:raven-vpn"
NET = "10.236.0"
SPOOF = "10.237.0.0/16"
ETCD_PORT, ETCD_PEER = 23790, 23800
# the crypto on the control thread: with crypto threads, once as many half-open
# SAs as their queue holds are waiting (spoofed sources never finish theirs),
# every new IKE_SA_INIT is asked for a cookie first, and the normal answer
# would no longer be measured
CRYPTO_INLINE = ("--crypto-threads", "0")
GATEWAY = "10.236.0.99"  # where redirected clients are sent (nobody follows: the sources are spoofed)


def sh(*a, **kw):
    return subprocess.run(list(a), check=True, capture_output=True, text=True, **kw)


# ---- the IKE_SA_INIT sender (runs in the client namespace: --send-inits) ----

def x25519_public():
    """A real X25519 public key (any 32 bytes could be a low-order point,
    which the responder's derive refuses)."""
    key = sh("openssl", "genpkey", "-algorithm", "X25519").stdout
    der = subprocess.run(["openssl", "pkey", "-pubout", "-outform", "DER"], input=key.encode(), check=True,
                         capture_output=True).stdout
    return der[-32:]


def ike_sa_init(pub, redirect_supported=True):
    """IKE_SA_INIT as tests/support/ike_client.c makes it (AES-GCM-16-256, PRF
    HMAC-SHA2-256, X25519, a 32-byte nonce), with N(REDIRECT_SUPPORTED)."""
    ts = (struct.pack("!BBHBBH", 3, 0, 12, 1, 0, 20) + struct.pack("!HH", 0x800E, 256) +  # ENCR AES-GCM-16, 256
          struct.pack("!BBHBBH", 3, 0, 8, 2, 0, 5) +  # PRF HMAC-SHA2-256
          struct.pack("!BBHBBH", 0, 0, 8, 4, 0, 31))  # DH 31 (X25519)
    prop = struct.pack("!BBHBBBB", 0, 0, 8 + len(ts), 1, 1, 0, 3) + ts
    sa = struct.pack("!BBH", 34, 0, 4 + len(prop)) + prop  # next: KE
    ke = struct.pack("!BBHHH", 40, 0, 8 + len(pub), 31, 0) + pub  # next: Nonce
    nonce = struct.pack("!BBH", 41 if redirect_supported else 0, 0, 36) + os.urandom(32)  # next: Notify
    body = sa + ke + nonce
    if redirect_supported:
        body += struct.pack("!BBHBBH", 0, 0, 8, 0, 0, 16406)  # N(REDIRECT_SUPPORTED)
    hdr = os.urandom(8) + bytes(8) + struct.pack("!BBBBII", 33, 0x20, 34, 0x08, 0, 28 + len(body))
    return hdr + body


def send_inits(target, spoof, rate, seconds):
    """IKE_SA_INITs to @target:500 at @rate a second for @seconds, each from a
    random source of @spoof with a fresh initiator SPI; prints what was sent
    as one JSON line."""
    net, plen = spoof.split("/")
    base = struct.unpack("!I", socket.inet_aton(net))[0]
    hosts = (1 << (32 - int(plen))) - 2
    ike = bytearray(ike_sa_init(x25519_public()))
    udp_len = 8 + len(ike)
    pkt = bytearray(20 + udp_len)
    pkt[0:20] = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, 0, 0, 64, 17, 0, bytes(4),
                            socket.inet_aton(target))
    pkt[20:28] = struct.pack("!HHHH", 500, 500, udp_len, 0)  # no UDP checksum (allowed over IPv4)
    pkt[28:] = ike
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    dst = (target, 0)
    sent, errors = 0, 0
    t0 = time.monotonic()
    end = t0 + seconds
    tick = 0.005
    while True:
        now = time.monotonic()
        if now >= end:
            break
        due = int((now - t0) * rate) - sent
        for _ in range(max(due, 0)):
            pkt[12:16] = struct.pack("!I", base + 1 + random.randrange(hosts))
            pkt[28:36] = random.randbytes(8)
            try:
                s.sendto(pkt, dst)
            except OSError:
                errors += 1
            sent += 1
        time.sleep(tick)
    print(json.dumps({"sent": sent, "send_errors": errors, "seconds": time.monotonic() - t0}))


# ---- ravend ----

class Ravend:
    def __init__(self, build, head, d, xml, extra=()):
        self.d = d
        shutil.rmtree(f"{d}/state", ignore_errors=True)
        with open(f"{d}/ravend.xml", "w") as f:
            f.write(xml)
        with open(f"{d}/ravend.log", "w") as log:
            self.p = subprocess.Popen(["ip", "netns", "exec", head, os.path.join(build, "daemon", "ravend"), "-f",
                                       "-d", f"{d}/state", "-c", f"{d}/ravend.xml", "-l", "warning", "--arena",
                                       "none", *extra], stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: "ravend: ready" in open(f"{d}/ravend.log").read(), self.p, "ravend")
        except SystemExit:
            print(open(f"{d}/ravend.log").read()[-3000:])
            stop(self.p)
            raise
        self.rest = Rest(head)
        self.head = head

    def get(self, path):
        st, body, _, _ = self.rest.req("GET", "/restconf/data/raven-vpn:vpn-state/" + path)
        if st != 200:
            raise RuntimeError(f"GET vpn-state/{path}: status {st}: {body[:300]!r}")
        return json.loads(body)

    def counters(self):
        c = self.get("ike-counters")["raven-vpn:ike-counters"]
        req = c.get("requests", {})
        return {"received": int(req.get("received", 0)), "half_open": int(c.get("sa", {}).get("half-open", 0)),
                "rejected": int(req.get("rejected", 0)),
                "at_init": int(c.get("redirect", {}).get("at-init", -1)),
                "cookies": int(c.get("cookie-challenges", {}).get("sent", 0))}

    def cpu(self):
        """CPU seconds of ravend and its front ends, every thread, from
        schedstat (nanoseconds; /proc/PID/stat counts 10 ms ticks, too coarse
        for a few thousand redirects)."""
        total = 0
        for pid in tree_cpu(self.p.pid):
            for st in glob.glob(f"/proc/{pid}/task/*/schedstat"):
                try:
                    with open(st) as f:
                        total += int(f.read().split()[0])
                except (OSError, ValueError, IndexError):
                    pass
        return total / 1e9

    def close(self):
        if self.rest.c:
            self.rest.c.close()
        stop(self.p)


def config(redirect=False, cluster=None, cluster_address=None, capacity=None):
    """bench_scale's ravend (PSK from example.org, a /15 pool, REST and NETCONF
    on 127.0.0.1 for admin) without the dataplane; with @redirect every client
    that supports it is redirected; with @cluster (member name) a cluster
    member of the etcd in the headend namespace."""
    x = ravend_config(None, False)
    if redirect:
        x = x.replace("<global><listen><address>0.0.0.0</address></listen></global>",
                      "<global><listen><address>0.0.0.0</address></listen>"
                      f"<redirect><gateway>{GATEWAY}</gateway></redirect></global>")
    if cluster:
        ca = f"<cluster-address>{cluster_address}</cluster-address>" if cluster_address else ""
        ca += f"<capacity>{capacity}</capacity>" if capacity else ""
        x += (f'<cluster xmlns="{NS}"><name>{cluster}</name><address>{NET}.1</address>{ca}'
              f"<etcd><endpoint>http://127.0.0.1:{ETCD_PORT}</endpoint></etcd></cluster>")
    return x


def ike_load(tools, cl, seconds, concurrency):
    out = sh("ip", "netns", "exec", cl, os.path.join(tools, "tests", "bench", "ike_load"), f"{NET}.1", f"{NET}.2",
             str(seconds), str(concurrency), "bench-key", "bench.example.org").stdout
    return json.loads(out.strip().splitlines()[-1])


def udp_rcvbuf_errors(ns):
    """UDP datagrams the kernel of @ns dropped for a full receive buffer."""
    lines = [ln.split() for ln in sh("ip", "netns", "exec", ns, "cat", "/proc/net/snmp").stdout.splitlines()
             if ln.startswith("Udp:")]
    return int(dict(zip(lines[0], lines[1])).get("RcvbufErrors", 0))


def rx_packets(ns, dev):
    link = json.loads(sh("ip", "-n", ns, "-s", "-j", "link", "show", "dev", dev).stdout)[0]
    return int(link["stats64"]["rx"]["packets"])


def init_run(a, cl, rv, rate, seconds, target=f"{NET}.1"):
    """IKE_SA_INITs at @rate for @seconds against @rv: ravend's CPU, its
    counters, and the answers that reached the client namespace (which the
    spoofed sources' route leads to)."""
    dev = f"{cl[:-1]}b"
    c0, t0, p0, d0 = rv.counters(), rv.cpu(), rx_packets(cl, dev), udp_rcvbuf_errors(rv.head)
    out = sh("ip", "netns", "exec", cl, sys.executable, os.path.abspath(__file__), "--send-inits", target,
             SPOOF, str(rate), str(seconds)).stdout
    time.sleep(0.5)  # the last requests answered
    t1, c1, p1, d1 = rv.cpu(), rv.counters(), rx_packets(cl, dev), udp_rcvbuf_errors(rv.head)
    r = json.loads(out.strip().splitlines()[-1])
    r.update({k: c1[k] - c0[k] for k in c1})
    r["cpu_s"] = t1 - t0
    r["reached"] = p1 - p0  # (an ARP exchange may add one or two)
    r["rcvbuf_drops"] = d1 - d0
    r["answered"] = r["half_open"] + max(r["at_init"], 0)
    r["cpu_us"] = r["cpu_s"] / max(r["answered"], 1) * 1e6
    return r


def full_run(a, cl, rv):
    t0 = rv.cpu()
    r = ike_load(a.tools, cl, a.seconds, a.concurrency)
    r["cpu_s"] = rv.cpu() - t0
    r["cpu_us"] = r["cpu_s"] / max(r["established"], 1) * 1e6
    return r


def redirect_supported(rv):
    """Whether this ravend counts redirects (vpn-state/ike-counters/redirect)."""
    return rv.counters()["at_init"] >= 0


def part_a(a, head, cl, d):
    print(f"== (a) CPU of ravend per IKE_SA_INIT answered with REDIRECT, per IKE_SA_INIT answered normally, per "
          f"full set-up ({a.rounds} rounds alternated, {a.seconds:g} s each; IKE_SA_INITs at {a.init_rate}/s from "
          f"random sources of {SPOOF}; ike_load with {a.concurrency} initiators)")
    rows = {"redirect": [], "init": [], "full": []}
    missing = None
    for rnd in range(a.rounds):
        order = ["redirect", "init", "full"] if rnd % 2 == 0 else ["full", "init", "redirect"]
        for kind in order:
            if kind == "redirect" and missing:
                continue
            rv = Ravend(a.build, head, d, config(redirect=kind == "redirect"), CRYPTO_INLINE)
            try:
                if kind == "redirect" and not redirect_supported(rv):
                    missing = "this ravend has no vpn-state/ike-counters/redirect (IKEv2 redirect not built in)"
                    continue
                r = full_run(a, cl, rv) if kind == "full" else init_run(a, cl, rv, a.init_rate, a.seconds)
                if rv.p.poll() is not None:
                    raise SystemExit("bench_cluster: ravend died during the run:\n"
                                     + open(f"{d}/ravend.log").read()[-3000:])
            finally:
                rv.close()
            rows[kind].append(r)
            if kind == "full":
                print(f"  round {rnd + 1} full: {r['rate']:.1f} SA/s, {r['established']} established, "
                      f"{r['failures']} failures, {r['timeouts']} timeouts, ravend {r['cpu_s']:.2f} CPU s, "
                      f"{r['cpu_us']:.0f} us/SA")
            else:
                print(f"  round {rnd + 1} {kind}: sent {r['sent']} ({r['send_errors']} send errors) in "
                      f"{r['seconds']:.1f} s; ravend received {r['received']} ({r['rcvbuf_drops']} receive buffer "
                      f"drops): {r['half_open']} new half-open "
                      f"SAs, {max(r['at_init'], 0)} REDIRECTs, {r['cookies']} cookies, {r['rejected']} rejected; "
                      f"{r['reached']} packets came back to the client side; unanswered "
                      f"{r['sent'] - r['answered']}; "
                      f"{r['cpu_s']:.2f} CPU s, {r['cpu_us']:.1f} us per answer")
    if missing:
        print(f"  redirect: NOT MEASURED: {missing}")
    med = {k: statistics.median(r["cpu_us"] for r in v) for k, v in rows.items() if v}
    print(f"{'answer':<10}{'CPU us':>9}{'/ full':>9}  runs (us)")
    for k in ("redirect", "init", "full"):
        if k in med:
            print(f"{k:<10}{med[k]:>9.1f}{med[k] / med['full']:>8.3f}x  "
                  + " ".join(f"{r['cpu_us']:.1f}" for r in rows[k]))
    out = {"cpu_us": med, "full_rate": statistics.median(r["rate"] for r in rows["full"]),
           "runs_us": {k: [r["cpu_us"] for r in v] for k, v in rows.items()}}
    if "redirect" in med:
        print(f"redirect / normal IKE_SA_INIT: {med['redirect'] / med['init']:.3f}x; one CPU second answers "
              f"{1e6 / med['redirect']:.0f} redirects (at {med['redirect']:.1f} us each) or "
              f"{1e6 / med['full']:.0f} full set-ups")
        rv = Ravend(a.build, head, d, config(redirect=True), CRYPTO_INLINE)
        try:
            r = init_run(a, cl, rv, a.flood_rate, a.seconds)
        finally:
            rv.close()
        busy = r["cpu_s"] / r["seconds"]
        print(f"redirects offered at {a.flood_rate}/s: sent {r['sent']} ({r['send_errors']} send errors) in "
              f"{r['seconds']:.1f} s, received {r['received']} ({r['rcvbuf_drops']} dropped by the kernel for a full "
              f"receive buffer), answered {r['at_init']} = {r['at_init'] / r['seconds']:.0f}/s, unanswered "
              f"{r['sent'] - r['answered']}, {r['cookies']} cookies; ravend busy {busy:.2f} CPU s per second, "
              f"{r['cpu_us']:.1f} us per redirect")
        out["redirect_flood"] = {"offered": a.flood_rate, "answered_per_s": r["at_init"] / r["seconds"],
                                 "unanswered": r["sent"] - r["answered"], "busy": busy, "cpu_us": r["cpu_us"],
                                 "rcvbuf_drops": r["rcvbuf_drops"]}
    out["missing"] = missing
    return out


# ---- etcd ----

class Etcd:
    def __init__(self, head, d):
        self.dir = d
        os.makedirs(d, exist_ok=True)
        url, peer = f"http://127.0.0.1:{ETCD_PORT}", f"http://127.0.0.1:{ETCD_PEER}"
        self.log = open(f"{d}.log", "w")
        self.p = subprocess.Popen(["ip", "netns", "exec", head, "etcd", "--name", "bench", "--data-dir", d,
                                   "--listen-client-urls", url, "--advertise-client-urls", url,
                                   "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                                   "--initial-cluster", f"bench={peer}"], stdout=self.log,
                                  stderr=subprocess.STDOUT)
        self.head = head
        wait_for(lambda: self.ok(), self.p, "etcd", timeout=60)

    def conn(self):
        from bench_scale import netns_connect
        c = http.client.HTTPConnection("127.0.0.1", ETCD_PORT, timeout=30)
        c.sock = netns_connect(self.head, "127.0.0.1", ETCD_PORT)
        return c

    def post(self, c, path, body):
        c.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError(f"etcd {path}: {r.status} {data[:200]!r}")
        return json.loads(data)

    def ok(self):
        try:
            c = self.conn()
            try:
                return "header" in self.post(c, "/v3/kv/range", {"key": b64("x")})
            finally:
                c.close()
        except (OSError, RuntimeError, http.client.HTTPException):
            return False

    def count(self, prefix):
        """Keys under @prefix."""
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        c = self.conn()
        try:
            r = self.post(c, "/v3/kv/range", {"key": b64(prefix), "range_end": b64(end), "count_only": True})
            return int(r.get("count", 0))
        finally:
            c.close()

    def revision(self):
        c = self.conn()
        try:
            return int(self.post(c, "/v3/kv/range", {"key": b64("x")})["header"]["revision"])
        finally:
            c.close()

    def close(self):
        stop(self.p)
        self.log.close()


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def put_rate(e, clients, seconds, lease=True):
    """Puts of ~100-byte JSON values (as a session key) under one lease by
    @clients concurrent keep-alive connections to the JSON gateway for
    @seconds: puts a second, errors, median latency."""
    c = e.conn()
    lid = e.post(c, "/v3/lease/grant", {"TTL": 60})["ID"] if lease else None
    c.close()
    value = b64(json.dumps({"user": "user@example.org", "addresses": ["10.220.0.1"]}) + " " * 40)
    done, errs, lat = [0] * clients, [0] * clients, [[] for _ in range(clients)]
    end = time.monotonic() + seconds

    def loop(i):
        conn = e.conn()
        n = 0
        while time.monotonic() < end:
            body = {"key": b64(f"/raven/bench/sessions/m{i}/{n}"), "value": value}
            if lid:
                body["lease"] = lid
            t = time.monotonic()
            try:
                e.post(conn, "/v3/kv/put", body)
                done[i] += 1
                lat[i].append(time.monotonic() - t)
            except (OSError, RuntimeError, http.client.HTTPException):
                errs[i] += 1
                conn.close()
                conn = e.conn()
            n += 1
        conn.close()
    ts = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.monotonic() - t0
    all_lat = [x for v in lat for x in v]
    return {"rate": sum(done) / wall, "puts": sum(done), "errors": sum(errs),
            "p50_ms": statistics.median(all_lat) * 1e3 if all_lat else 0}


def member_record(e, name, lease_ttl=120):
    """A record of another member @name (no sessions, capacity 1000, up)
    under a lease of its own; returns the lease."""
    c = e.conn()
    try:
        lid = e.post(c, "/v3/lease/grant", {"TTL": lease_ttl})["ID"]
        rec = {"name": name, "address": f"{NET}.3", "sessions": 0, "capacity": 1000, "health": "up"}
        e.post(c, "/v3/kv/put", {"key": b64(f"/raven/cluster/members/{name}"), "value": b64(json.dumps(rec)),
                                 "lease": lid})
        return lid
    finally:
        c.close()


def cluster_redirect(a, head, cl, d, e):
    """The holder's redirect through the cluster's pick: ravend as member z1
    with cluster-address {NET}.10 and capacity 1 (a holder that keeps few
    clients itself), another member a0 in etcd with capacity 1000,
    IKE_SA_INITs to the cluster address at --init-rate, with crypto on the
    control thread as in (a)."""
    sh("ip", "-n", head, "addr", "add", f"{NET}.10/24", "dev", f"{head[:-1]}a")
    member_record(e, "a0")
    rv = Ravend(a.build, head, d, config(cluster="z1", cluster_address=f"{NET}.10", capacity=1), CRYPTO_INLINE)
    try:
        deadline = time.time() + 30
        st = {}
        while time.time() < deadline:
            st = rv.get("cluster")["raven-vpn:cluster"]
            if st.get("distributing") and len(st.get("member", [])) >= 2:
                break
            time.sleep(0.5)
        if not st.get("distributing"):
            print(f"  redirect through the cluster: NOT MEASURED: the member does not distribute: {st}")
            return None
        r = init_run(a, cl, rv, a.init_rate, a.seconds, target=f"{NET}.10")
    finally:
        rv.close()
    print(f"  redirect through the cluster's pick (member z1, capacity 1, holding cluster-address {NET}.10; member a0, "
          "capacity 1000): "
          f"sent {r['sent']}, ravend received {r['received']} ({r['rcvbuf_drops']} receive buffer drops): "
          f"{r['at_init']} REDIRECTs, {r['half_open']} half-open SAs, {r['cookies']} cookies; {r['cpu_s']:.2f} CPU "
          f"s, {r['cpu_us']:.1f} us per answer")
    return {"cpu_us": r["cpu_us"], "at_init": r["at_init"], "sent": r["sent"], "half_open": r["half_open"]}


def other_member(e, rv, clients, seconds, idle_cpu):
    """Another member's session keys (member m2, with its record), put and
    deleted by @clients connections for @seconds, as m2 would at its session
    events: what each event costs this member, which watches them all (the
    watch fan-out; ravend's idle CPU rate @idle_cpu taken off). Returns events, their rate, ravend's CPU per event and
    the sessions this member then lists."""
    c = e.conn()
    lid = e.post(c, "/v3/lease/grant", {"TTL": 120})["ID"]
    rec = {"name": "m2", "address": f"{NET}.3", "sessions": 0, "capacity": 1000, "health": "up"}
    e.post(c, "/v3/kv/put", {"key": b64("/raven/cluster/members/m2"), "value": b64(json.dumps(rec)), "lease": lid})
    c.close()
    time.sleep(1)
    done = [0] * clients
    end = time.monotonic() + seconds

    def loop(i):
        conn = e.conn()
        n = 0
        while time.monotonic() < end:
            key = b64(f"/raven/cluster/sessions/m2/{i * 10000000 + n}")
            val = b64(json.dumps({"user": f"u{i}-{n}@example.org", "addresses": ["10.220.0.1"]}))
            try:
                e.post(conn, "/v3/kv/put", {"key": key, "value": val, "lease": lid})
                e.post(conn, "/v3/kv/deleterange", {"key": key})
                done[i] += 2
            except (OSError, RuntimeError, http.client.HTTPException):
                conn.close()
                conn = e.conn()
            n += 1
        conn.close()
    c0 = rv.cpu()
    t0 = time.monotonic()
    ts = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.monotonic() - t0
    time.sleep(1)  # the last events delivered
    cpu = rv.cpu() - c0 - idle_cpu * (time.monotonic() - t0)
    events = sum(done)
    return {"events": events, "rate": events / wall, "cpu_us_per_event": cpu / max(events, 1) * 1e6,
            "cpu_s": cpu}


def check_perf(head):
    r = subprocess.run(["ip", "netns", "exec", head, "etcdctl", f"--endpoints=http://127.0.0.1:{ETCD_PORT}",
                        "check", "perf", "--load=s", "--auto-compact", "--auto-defrag"],
                       capture_output=True, text=True, timeout=180)
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", ln).strip() for ln in re.split(r"[\r\n]", r.stdout + r.stderr)]
    return [ln for ln in lines if re.search(r"PASS|FAIL|Throughput|Slowest|Stddev|writes/s", ln)][-6:]


def fs_of(path):
    return sh("df", "--output=fstype,source", path).stdout.split("\n")[1].strip()


def part_b(a, head, cl, d):
    print("== (b) etcd: its write rate on this machine; ravend's writes per session event")
    if not shutil.which("etcd"):
        print("  NOT MEASURED: etcd missing (Debian etcd-server; packaging/install-deps.sh --bench)")
        return {"missing": "etcd"}
    edir = tempfile.mkdtemp(prefix="raven-bench-etcd-", dir=a.etcd_dir)
    out = {}
    e = Etcd(head, f"{edir}/data")
    try:
        print(f"  etcd {sh('etcd', '--version').stdout.split()[2]}, one member, data on {fs_of(edir)} ({edir})")
        for n in (1, a.etcd_clients):
            r = put_rate(e, n, a.seconds)
            out[f"put_{n}"] = r
            print(f"  puts under a lease, {n} client(s): {r['rate']:.0f}/s ({r['puts']} in {a.seconds:g} s), "
                  f"{r['errors']} errors, median latency {r['p50_ms']:.2f} ms")
        if a.check_perf:
            lines = check_perf(head)
            out["check_perf"] = lines
            print("  etcdctl check perf --load=s: " + (" | ".join(lines) if lines else "no figures printed"))
        try:
            rv = Ravend(a.build, head, d, config(cluster="m1"))
        except SystemExit:
            out["missing"] = "this ravend does not start as a cluster member (cluster membership not built in)"
            print(f"  writes per session event: NOT MEASURED: {out['missing']}")
            return out
        try:
            st = {}
            try:
                st = rv.get("cluster")
            except RuntimeError as ex:
                print(f"  ravend: {ex}")
            cl_st = st.get("raven-vpn:cluster", {})
            if "etcd-writes" not in cl_st:
                out["missing"] = "this ravend has no vpn-state/cluster/etcd-writes (cluster membership not built in)"
                print(f"  writes per session event: NOT MEASURED: {out['missing']}")
                return out
            deadline = time.time() + 30
            while cl_st.get("etcd-state") != "connected" and time.time() < deadline:
                time.sleep(0.5)
                cl_st = rv.get("cluster")["raven-vpn:cluster"]
            if cl_st.get("etcd-state") != "connected":
                out["missing"] = f"ravend did not connect to etcd: {cl_st}"
                print(f"  NOT MEASURED: {out['missing']}")
                return out

            def writes():
                return int(rv.get("cluster")["raven-vpn:cluster"]["etcd-writes"]), e.revision()
            w0, r0 = writes()
            i0 = rv.cpu()
            time.sleep(a.idle)
            idle_cpu = (rv.cpu() - i0) / a.idle
            w1, r1 = writes()
            idle_w, idle_r = (w1 - w0) / a.idle, (r1 - r0) / a.idle
            print(f"  ravend idle, lease-ttl 10 s: {idle_w:.2f} etcd writes/s (lease keep-alives), etcd revision "
                  f"+{idle_r:.2f}/s, ravend {idle_cpu * 1e3:.1f} ms of CPU a second, over {a.idle:g} s")
            t0 = time.monotonic()
            c0 = rv.cpu()
            lr = ike_load(a.tools, cl, a.seconds, a.cluster_concurrency)
            c1 = rv.cpu()
            t_end = time.monotonic()
            w2, r2 = writes()
            # until the writes still under way are done: the session keys gone
            # (a failed write is sent again after up to 5 s), at most 30 s
            left = e.count("/raven/cluster/sessions/")
            while left and time.monotonic() - t_end < 30:
                time.sleep(0.5)
                left = e.count("/raven/cluster/sessions/")
            settle = time.monotonic() - t_end
            w2, r2 = writes()
            el = time.monotonic() - t0
            st = rv.get("cluster")["raven-vpn:cluster"]
            up = len(st.get("session", []))
            events = 2 * lr["established"]
            per_w = (w2 - w1 - idle_w * el) / max(events, 1)
            per_r = (r2 - r1 - idle_r * el) / max(events, 1)
            out.update({"events": events, "writes_per_event": per_w, "revisions_per_event": per_r,
                        "idle_writes_per_s": idle_w, "rate": lr["rate"],
                        "cpu_us_per_sa": (c1 - c0) / max(lr["established"], 1) * 1e6})
            print(f"  ike_load {a.seconds:g} s: {lr['established']} sessions up and down ({lr['rate']:.1f} SA/s, "
                  f"{lr['failures']} failures, {lr['timeouts']} timeouts) = {events} session events; ravend sent "
                  f"{w2 - w1} etcd writes, etcd revision +{r2 - r1}: {per_w:.2f} writes and {per_r:.2f} "
                  f"revisions per session event (idle rate taken off); ravend CPU "
                  f"{out['cpu_us_per_sa']:.0f} us per SA as a cluster member; etcd-state then "
                  f"{st.get('etcd-state')}{', error: ' + st['etcd-error'] if st.get('etcd-error') else ''}")
            out["etcd_state_after"] = st.get("etcd-state")
            out["session_keys_left"] = left
            out["settle_s"] = settle
            print(f"  after every session ended: {left} session keys left in etcd (0 expected) {settle:.1f} s after "
                  f"the load ended (waited up to 30 s), {up} sessions in vpn-state/cluster/session")
            fo = other_member(e, rv, a.etcd_clients, a.seconds, idle_cpu)
            out["fanout"] = fo
            print(f"  watch fan-out: another member's session keys put and deleted by {a.etcd_clients} clients, "
                  f"{fo['events']} events in {a.seconds:g} s ({fo['rate']:.0f}/s): this member spent "
                  f"{fo['cpu_s']:.2f} CPU s over its idle rate, {fo['cpu_us_per_event']:.1f} us per event it "
                  "watched")
        finally:
            rv.close()
        # the same load without the cluster: the baseline of the member's CPU per SA
        rv = Ravend(a.build, head, d, config())
        try:
            c0 = rv.cpu()
            lr = ike_load(a.tools, cl, a.seconds, a.cluster_concurrency)
            base = (rv.cpu() - c0) / max(lr["established"], 1) * 1e6
            out["cpu_us_per_sa_alone"] = base
            if "cpu_us_per_sa" in out:
                print(f"  the same load without cluster: {lr['rate']:.1f} SA/s ({lr['failures']} failures, "
                      f"{lr['timeouts']} timeouts), ravend CPU {base:.0f} us per SA; as a member "
                      f"{out['cpu_us_per_sa'] / base:.2f}x")
        finally:
            rv.close()
        if "cpu_us_per_sa" in out and "a" not in a.skip_set:
            out["cluster_redirect"] = cluster_redirect(a, head, cl, d, e)
    finally:
        e.close()
        shutil.rmtree(edir, ignore_errors=True)
    return out


# ---- (c) the figures measured before ----

def part_c():
    print("== (c) per node, from the results of earlier benchmarks (not measured again)")
    res = os.path.join(HERE, "results")
    for f in sorted(glob.glob(os.path.join(res, "bench_table-*", "ike-after.txt")))[-1:]:
        print(f"  {os.path.relpath(f, ROOT)}:")
        for ln in open(f):
            if re.match(r"(load |ike_load\s+(psk|ecdsa)\s+ravend )", ln):
                print("    " + ln.rstrip())
    for f in sorted(glob.glob(os.path.join(res, "bench_scale-*.txt")))[-1:]:
        last = [ln for ln in open(f) if ln.startswith("{")][-1:]
        for ln in last:
            for k, v in json.loads(ln).items():
                if k.startswith("this build"):
                    print(f"  {os.path.relpath(f, ROOT)}, {k}: {v['held']} sessions held, set up in "
                          f"{v['setup_s']:.1f} s ({v['held'] / v['setup_s']:.0f}/s, ike_load --hold), "
                          f"{v['kib_per_session']:.1f} KiB per session")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--send-inits", nargs=4, metavar=("TARGET", "PREFIX", "RATE", "SECONDS"),
                    help=argparse.SUPPRESS)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="the build whose ravend runs")
    ap.add_argument("--tools", help="the build of ike_load (default: --build)")
    ap.add_argument("--seconds", type=float, default=6)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--init-rate", type=int, default=3000, help="IKE_SA_INITs a second for the CPU figures")
    ap.add_argument("--flood-rate", type=int, default=100000, help="redirects offered a second for the rate")
    ap.add_argument("--etcd-dir", default="/var/tmp", help="where etcd keeps its data (its disk sets its rate)")
    ap.add_argument("--etcd-clients", type=int, default=16)
    ap.add_argument("--cluster-concurrency", type=int, default=4,
                    help="ike_load's initiators against the cluster member (its session events: etcd writes)")
    ap.add_argument("--idle", type=float, default=12, help="seconds of an idle member (its keep-alives)")
    ap.add_argument("--no-check-perf", dest="check_perf", action="store_false")
    ap.add_argument("--skip", default="", help="parts to leave out: a, b, c (comma-separated)")
    a = ap.parse_args()
    if a.send_inits:
        t, p, r, s = a.send_inits
        send_inits(t, p, float(r), float(s))
        return
    a.build = os.path.abspath(a.build)
    a.tools = os.path.abspath(a.tools or a.build)
    skip = a.skip_set = set(filter(None, a.skip.split(",")))
    benchdeps.install()
    need = [os.path.join(a.build, *p) for p in (("daemon", "ravend"), ("api", "rest", "raven-restd"),
                                                 ("api", "netconf", "raven-netconfd"))]
    need.append(os.path.join(a.tools, "tests", "bench", "ike_load"))
    missing = [f for f in need if not os.path.exists(f)]
    if missing:
        raise SystemExit(f"bench_cluster: missing {', '.join(missing)} (cmake --build {a.build} --target ravend "
                         "raven-restd raven-netconfd ike_load)")
    print("output:", benchdeps.record("bench_cluster"))
    with open("/proc/loadavg") as f:
        print(f"load average at start: {f.read().strip()}")
    tag = f"rvbc{os.getpid() % 10000}"
    head, cl = f"{tag}h", f"{tag}l"
    d = tempfile.mkdtemp(prefix="raven-bench-cluster-")
    summary = {}
    try:
        netns_pair(tag, head, cl, NET)
        # answers to the spoofed sources leave towards the client namespace, which drops them
        sh("ip", "-n", head, "route", "add", SPOOF, "via", f"{NET}.2")
        if "a" not in skip:
            summary["a"] = part_a(a, head, cl, d)
        if "b" not in skip:
            summary["b"] = part_b(a, head, cl, d)
        if "c" not in skip:
            part_c()
        with open("/proc/loadavg") as f:
            print(f"load average at end: {f.read().strip()}")
        print("summary: " + json.dumps(summary))
    finally:
        for ns in (head, cl):
            subprocess.run(["ip", "netns", "del", ns], check=False)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
