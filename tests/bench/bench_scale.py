#!/usr/bin/python3
"""ravend with many sessions up: memory per session, a commit that touches a
profile, reading one session by key (REST and NETCONF), a page of the session
list, and /metrics, in one run against the baseline build at a smaller count.

A headend namespace runs ravend (RelWithDebInfo) with an IPv4 pool of a /15, the
dataplane on the namespace's veth (AF_XDP, generic mode; with --no-dataplane
none) and the session arena in a directory of /dev/shm; ike_load --hold, in a second
namespace, brings N sessions up (PSK, one child SA each) and keeps them. Then:

  memory      ravend's RSS after the sessions minus before, per session (goal <= 4 KiB)
  commit      REST PATCH of /ikev2/profile=bench/lifetime, one transaction (goal <= 1 s)
  REST key    GET /restconf/data/raven-vpn:vpn-state/session=ID (goal <= 5 ms)
  NETCONF key <get> with a subtree filter on the session's id (goal <= 5 ms)
  page        GET .../vpn-state/session?limit=50 at offset 0, the middle, and by cursor
  /metrics    GET /metrics (goal <= 50 ms)

Each time is the median of --reads requests on one kept-alive connection (the
slowest is printed too). The same steps run on the baseline build (--base-build,
a build of the commit before) at --base-sessions, and on this build at that count
too, so that each figure has a baseline of the same run; a step the baseline does
not have (paging) says so. Failures and timeouts are printed next to each figure,
and everything printed goes to tests/bench/results/bench_scale-DATE.txt.

  cmake --build build -j2 --target ravend ike_load
  /usr/bin/python3 tests/bench/bench_scale.py [--sessions 100000] [--base-sessions 10000]
"""
import argparse
import base64
import ctypes
import http.client
import json
import os
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

import benchdeps

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from bench_ike import netns_pair  # noqa: E402

NS = "urn:raven:params:xml:ns:yang:raven-vpn"
PW = "bench-pw-1"
_libc = ctypes.CDLL(None, use_errno=True)


def sh(*a, **kw):
    return subprocess.run(list(a), check=True, capture_output=True, text=True, **kw)


def netns_connect(ns, host, port, timeout=60):
    """A TCP connection made from inside network namespace @ns."""
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        if _libc.setns(target, 0x40000000):
            raise OSError(ctypes.get_errno(), f"setns {ns}")
        try:
            return socket.create_connection((host, port), timeout=timeout)
        finally:
            if _libc.setns(own, 0x40000000):
                raise OSError(ctypes.get_errno(), "setns back")
    finally:
        os.close(own)
        os.close(target)


class Rest:
    """One kept-alive HTTPS connection to ravend's REST endpoint in @ns."""

    def __init__(self, ns, port=8443, timeout=120):
        self.ns, self.port, self.timeout = ns, port, timeout
        self.auth = "Basic " + base64.b64encode(f"admin:{PW}".encode()).decode()
        self.c = None

    def _conn(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        c = http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=self.timeout)
        c.sock = ctx.wrap_socket(netns_connect(self.ns, "127.0.0.1", self.port, self.timeout))
        return c

    def req(self, method, path, body=None, ctype="application/yang-data+json", retry=True):
        """(status, body bytes, headers, seconds). A kept-alive connection the
        server closed while idle (during the set-up of the sessions) is made again
        once, untimed."""
        reused = self.c is not None
        if self.c is None:
            self.c = self._conn()
        h = {"Authorization": self.auth, "Accept": "application/yang-data+json"}
        if body is not None:
            h["Content-Type"] = ctype
        t = time.perf_counter()
        try:
            self.c.request(method, path, body=body, headers=h)
            r = self.c.getresponse()
            data = r.read()
        except (OSError, http.client.HTTPException):
            self.c.close()
            self.c = None
            if reused and retry:
                return self.req(method, path, body, ctype, retry=False)
            raise
        return r.status, data, dict(r.getheaders()), time.perf_counter() - t


def ravend_config(dev, dataplane):
    h = sh("openssl", "passwd", "-6", PW).stdout.strip()
    dp = ""
    if dataplane:
        dp = f"""<dataplane xmlns="{NS}"><interface><name>{dev}</name><role>outside</role></interface>
<interface><name>{dev}i</name><role>inside</role></interface></dataplane>"""
    return f"""<management xmlns="{NS}"><netconf><endpoint><name>b</name><address>127.0.0.1</address>
<port>8300</port></endpoint></netconf><rest><endpoint><name>b</name><address>127.0.0.1</address><port>8443</port>
</endpoint></rest><user><name>admin</name><password-hash>{h}</password-hash><role>admin</role></user></management>
<ikev2 xmlns="{NS}">
  <global><listen><address>0.0.0.0</address></listen></global>
  <authorization-policy><name>bench</name><pool>bench</pool></authorization-policy>
  <profile><name>bench</name>
    <match><identity><remote><fqdn><domain>example.org</domain></fqdn></remote></identity></match>
    <identity><local><fqdn>headend.example.org</fqdn></local></identity>
    <authentication><local><pre-share><key>bench-key</key></pre-share></local>
      <remote><pre-share><key>bench-key</key></pre-share></remote></authentication>
    <aaa><authorization><group><psk><method-list>l</method-list><username>bench</username></psk></group>
    </authorization></aaa>
  </profile>
</ikev2>
<pools xmlns="{NS}"><ipv4-pool><name>bench</name><range><start>10.220.0.1</start><end>10.221.255.254</end>
</range></ipv4-pool></pools>
<aaa xmlns="{NS}"><authorization-list><name>l</name><method><sequence>1</sequence><local/></method>
</authorization-list></aaa>{dp}"""


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def timed(fn, n):
    """Median and slowest of @n calls of @fn (returning seconds), and the failures."""
    ts, fails = [], []
    for _ in range(n):
        try:
            ts.append(fn())
        except Exception as e:  # noqa: BLE001 - printed next to the figure
            fails.append(str(e)[:200])
    if not ts:
        return None, None, fails
    return statistics.median(ts), max(ts), fails


def one_run(label, build, n, a, out):
    """Brings @n sessions up on @build's ravend and measures; figures into @out[label]."""
    ravend = os.path.join(build, "daemon", "ravend")
    load = os.path.join(os.path.join(a.build), "tests", "bench", "ike_load")  # the scalable --hold
    tag = f"sc{os.getpid() % 10000}{label[0]}"
    head, cl = f"{tag}h", f"{tag}c"
    d = tempfile.mkdtemp(prefix="raven-bench-scale-")
    shm = tempfile.mkdtemp(prefix="raven-bench-scale-", dir="/dev/shm")  # the arena holds keys: tmpfs only
    procs, res = [], {"sessions_wanted": n}
    out[label] = res
    try:
        netns_pair(tag, head, cl, "10.233.0")
        if a.dataplane:
            sh("ip", "-n", head, "link", "add", f"{tag}ai", "type", "veth", "peer", "name", f"{tag}aj")
            for dev in (f"{tag}ai", f"{tag}aj"):
                sh("ip", "-n", head, "link", "set", dev, "up")
        with open(f"{d}/initial.xml", "w") as f:
            f.write(ravend_config(f"{tag}a", a.dataplane))
        log = open(f"{d}/ravend.log", "w")
        rv = subprocess.Popen(["ip", "netns", "exec", head, ravend, "-f", "-d", f"{d}/state", "-c",
                               f"{d}/initial.xml", "-l", "warning", "--arena", f"{shm}/arena" if a.arena else "none"], stdout=log,
                              stderr=subprocess.STDOUT)
        procs.append(rv)
        deadline = time.time() + 60
        while "ravend: ready" not in open(log.name).read():
            if rv.poll() is not None or time.time() > deadline:
                raise RuntimeError(open(log.name).read()[-3000:])
            time.sleep(0.1)
        rest = Rest(head)
        # the REST front end and its first login, before the RSS baseline
        st, _, _, _ = rest.req("GET", "/restconf/data/raven-vpn:pools")
        if st != 200:
            raise RuntimeError(f"REST: {st}")
        time.sleep(1)
        pid = rv.pid  # ip netns exec execs ravend
        rss0 = rss_kib(pid)
        t0 = time.time()
        lp = subprocess.Popen(["ip", "netns", "exec", cl, load, "--hold", "10.233.0.1", "10.233.0.2", "100000",
                               str(n), "bench-key", "u%d.example.org", str(min(n, 2000)), str(a.window)],
                              stdout=subprocess.PIPE, text=True)
        procs.append(lp)
        held, last = 0, time.time()
        os.set_blocking(lp.stdout.fileno(), False)
        while held < n:
            line = lp.stdout.readline()
            if line.startswith("held "):
                held, last = int(line.split()[1]), time.time()
                continue
            if lp.poll() is not None or rv.poll() is not None:
                raise RuntimeError(f"ike_load or ravend ended at {held} sessions")
            if time.time() - last > 60:
                break
            time.sleep(0.05)
        res["setup_s"] = time.time() - t0
        res["held"] = held
        time.sleep(2)
        rss1 = rss_kib(pid)
        res["rss_before_kib"], res["rss_after_kib"] = rss0, rss1
        res["kib_per_session"] = (rss1 - rss0) / held if held else None
        print(f"[{label}] {held} sessions up in {res['setup_s']:.1f} s; RSS {rss0} -> {rss1} KiB", flush=True)

        # the dataplane the child SAs went to (its interfaces' XDP mode)
        st, body, _, _ = rest.req("GET", "/restconf/data/raven-vpn:vpn-state/dataplane/interface?fields=name;mode-in-use")
        res["dataplane"] = {e["name"]: e.get("mode-in-use") for e in json.loads(body).get(
            "raven-vpn:interface", [])} if st == 200 else f"status {st}"

        # the metrics' own session count
        st, body, _, _ = rest.req("GET", "/metrics")
        for line in body.decode(errors="replace").splitlines():
            if line.startswith("raven_sessions "):
                res["metrics_sessions"] = int(line.split()[1])
        # per session of ravend's count: an attempt ike_load gave up on (a late
        # answer) may still be a session there
        if res.get("metrics_sessions"):
            res["kib_per_session"] = (rss1 - rss0) / res["metrics_sessions"]

        # sessions by key, a different one each time (a repeated read could come from
        # the REST cache): ids from a page in the middle, or, on a build without
        # paging, from the whole list
        q = f"limit={a.reads}&offset={held // 2}&fields=id"
        st, body, hdr, tl = rest.req("GET", "/restconf/data/raven-vpn:vpn-state/session?" + q)
        res["page_supported"] = st == 200 and len(json.loads(body).get("raven-vpn:session", [])) <= a.reads
        if not res["page_supported"]:
            st, body, _, tl = rest.req("GET", "/restconf/data/raven-vpn:vpn-state/session?fields=id")
            res["full_list_s"] = tl
        ids = [e["id"] for e in json.loads(body)["raven-vpn:session"]]
        if not res["page_supported"]:
            ids = ids[len(ids) // 2:][:a.reads]
        key = ids[0]
        keys = iter(ids * 2)

        def rest_key():
            k = next(keys)
            st, body, _, t = rest.req("GET", f"/restconf/data/raven-vpn:vpn-state/session={k}")
            if st != 200 or str(k) not in body.decode():
                raise RuntimeError(f"status {st}")
            return t
        res["rest_key"] = timed(rest_key, a.reads)

        nc = None
        try:
            import ncclient.transport.ssh
            from ncclient import manager

            # ncclient's session thread sends a queued request only when its select()
            # wakes up, every TICK seconds (0.1 by default): that would be the figure
            ncclient.transport.ssh.TICK = 0.0005
            nc = manager.connect(host="127.0.0.1", port=8300, username="admin", password=PW, hostkey_verify=False,
                                 look_for_keys=False, allow_agent=False, timeout=300,
                                 sock=netns_connect(head, "127.0.0.1", 8300))
            nkeys = iter(ids * 2)

            def nc_key():
                k = next(nkeys)
                flt = f'<vpn-state xmlns="{NS}"><session><id>{k}</id></session></vpn-state>'
                t = time.perf_counter()
                r = nc.get(filter=("subtree", flt))
                t = time.perf_counter() - t
                if f"<id>{k}</id>" not in r.data_xml:
                    raise RuntimeError("session not in the reply")
                return t
            res["nc_key"] = timed(nc_key, a.reads)
        except Exception as e:  # noqa: BLE001
            res["nc_key"] = (None, None, [str(e)[:200]])

        if res["page_supported"]:
            def page(q):
                def f():
                    st, body, _, t = rest.req("GET", "/restconf/data/raven-vpn:vpn-state/session?" + q)
                    if st != 200 or len(json.loads(body)["raven-vpn:session"]) != 50:
                        raise RuntimeError(f"status {st}")
                    return t
                return f
            res["page_first"] = timed(page("limit=50"), a.reads)
            res["page_middle"] = timed(page(f"limit=50&offset={held // 2}"), a.reads)
            res["page_cursor"] = timed(page(f"limit=50&cursor={key}"), a.reads)

        def metrics():
            st, body, _, t = rest.req("GET", "/metrics")
            if st != 200:
                raise RuntimeError(f"status {st}")
            return t
        res["metrics"] = timed(metrics, a.reads)

        lifetimes = iter([86400, 86000] * a.commits)

        def commit():
            v = next(lifetimes)
            st, body, _, t = rest.req("PATCH", "/restconf/data/raven-vpn:ikev2/profile=bench",
                                      json.dumps({"raven-vpn:profile": [{"name": "bench", "lifetime": v}]}))
            if st not in (200, 204):
                raise RuntimeError(f"status {st}: {body[:200]!r}")
            return t
        res["commit"] = timed(commit, a.commits)
        if nc:
            nc.close_session()
        st, body, _, _ = rest.req("GET", "/metrics")
        for line in body.decode(errors="replace").splitlines():
            if line.startswith("raven_sessions "):
                res["sessions_after"] = int(line.split()[1])
        res["rss_end_kib"] = rss_kib(pid)
    except Exception as e:  # noqa: BLE001 - the run's failure is a figure too
        res["error"] = str(e)[-2000:]
        print(f"[{label}] failed: {res['error']}", flush=True)
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for ns in (head, cl):
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
        shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(shm, ignore_errors=True)


def fmt_t(v):
    if v is None or v[0] is None:
        return f"{'-':>10} {'':>10}  failed: {'; '.join(v[2])[:120] if v else ''}"
    med, mx, fails = v
    f = f"  ({len(fails)} failed: {fails[0][:80]})" if fails else ""
    return f"{med * 1e3:>8.2f}ms {mx * 1e3:>8.2f}ms{f}"


def report(out, a):
    rows = [("memory per session", "kib_per_session", 4.0, "KiB"),
            ("commit touching a profile", "commit", 1.0, "s"),
            ("REST session by key", "rest_key", 0.005, "s"),
            ("NETCONF session by key", "nc_key", 0.005, "s"),
            ("REST page of 50, first", "page_first", None, "s"),
            ("REST page of 50, middle", "page_middle", None, "s"),
            ("REST page of 50, cursor", "page_cursor", None, "s"),
            ("/metrics", "metrics", 0.05, "s")]
    labels = list(out)
    print()
    for lb in labels:
        r = out[lb]
        print(f"{lb}: {r.get('held', 0)} of {r['sessions_wanted']} sessions up"
              f" in {r.get('setup_s', 0):.1f} s, RSS {r.get('rss_before_kib')} -> {r.get('rss_after_kib')} KiB"
              f" (at the end {r.get('rss_end_kib')}), /metrics counts {r.get('metrics_sessions')} then"
              f" {r.get('sessions_after')}; dataplane {r.get('dataplane')}" + (f"; ERROR {r['error'][:300]}" if "error" in r else ""))
    print()
    print(f"{'figure':<28}" + "".join(f" {lb:>34}" for lb in labels) + "   goal")
    for name, key, goal, unit in rows:
        line = f"{name:<28}"
        for lb in labels:
            v = out[lb].get(key)
            if key == "kib_per_session":
                line += f" {v:>30.2f}KiB " if v is not None else f" {'-':>34}"
            elif v is None:
                line += f" {'n/a (no such step)':>34}"
            else:
                line += f" {fmt_t(v)[:34]:>34}"
        if goal is not None:
            line += f"   <= {goal:g} {unit}" if unit == "KiB" else f"   <= {goal * 1e3:g} ms"
        print(line)
        for lb in labels:
            v = out[lb].get(key)
            if isinstance(v, tuple) and v[2]:
                print(f"{'':<28} {lb}: {len(v[2])} failed/timed out: {v[2][0][:160]}")
    # ratios against the baseline at the same count
    base = [lb for lb in labels if lb.startswith("baseline")]
    same = [lb for lb in labels if lb.startswith("this build") and out[lb]["sessions_wanted"] ==
            (out[base[0]]["sessions_wanted"] if base else -1)]
    if base and same:
        b, c = out[base[0]], out[same[0]]
        print()
        print(f"this build / baseline at {b['sessions_wanted']} sessions (lower is better):")
        for name, key, _, _ in rows:
            bv, cv = b.get(key), c.get(key)
            if key == "kib_per_session":
                if bv and cv:
                    print(f"  {name:<28} {cv / bv:.2f}x")
            elif isinstance(bv, tuple) and isinstance(cv, tuple) and bv[0] and cv[0]:
                print(f"  {name:<28} {cv[0] / bv[0]:.3f}x  ({cv[0] * 1e3:.2f} ms / {bv[0] * 1e3:.2f} ms)")
            else:
                print(f"  {name:<28} n/a (the baseline has no such step or it failed)")
        if "full_list_s" in b:
            print(f"  baseline's only way to find ids: the whole list, {b['full_list_s']:.2f} s")
    print()
    print(json.dumps(out, default=str))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--base-build", help="the baseline build (before); without it, no baseline")
    ap.add_argument("--sessions", type=int, default=100000)
    ap.add_argument("--base-sessions", type=int, default=10000)
    ap.add_argument("--reads", type=int, default=30)
    ap.add_argument("--commits", type=int, default=5)
    ap.add_argument("--window", type=int, default=256)
    ap.add_argument("--no-dataplane", dest="dataplane", action="store_false")
    ap.add_argument("--no-arena", dest="arena", action="store_false", help="ravend --arena none")
    ap.add_argument("--no-record", action="store_true")
    a = ap.parse_args()
    benchdeps.install()
    if not a.no_record:
        print("output:", benchdeps.record("bench_scale"))
    out = {}
    runs = []
    if a.base_build and a.base_sessions and os.path.exists(os.path.join(a.base_build, "daemon", "ravend")):
        runs.append((f"baseline {a.base_sessions}", a.base_build, a.base_sessions))
        runs.append((f"this build {a.base_sessions}", a.build, a.base_sessions))
    elif a.base_build and a.base_sessions:
        print(f"no baseline: {a.base_build}/daemon/ravend missing")
    runs.append((f"this build {a.sessions}", a.build, a.sessions))
    for label, build, n in runs:
        one_run(label, build, n, a, out)
    report(out, a)


if __name__ == "__main__":
    main()
