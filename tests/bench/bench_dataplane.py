#!/usr/bin/python3
"""The ESP dataplane's packet rates, and ravend against a strongSwan gateway.

One run, on veth pairs in namespaces of its own (generator -- headend -- sink):

 (a) decrypt+forward and encrypt+forward per worker at 64 B and 1400 B: tests/support/
     dp_tool runs the dataplane with static SAs (AES-128-GCM, and ESP_NULL for our own
     forward without crypto) and tests/bench/esp_gen sends ESP-in-UDP (decrypt) or clear
     UDP to the client address (encrypt) with sendmmsg from the other core; the sinks
     drop in XDP. The inbound SA keeps a replay window of WINDOW packets, and esp_gen
     gives every packet the next sequence number with a valid ICV (AES-GCM: sealed once,
     each new number patched into the tag, see esp_gen.c), so every packet is really
     checked, decrypted and recorded. The worker's rate is packets per second of the
     worker thread's CPU time (the kernel's: /proc/PID/task/TID/schedstat, else
     utime + stime of .../stat, taken before and after the generator ran), next to the
     wall-clock rate; failures (packets sent
     but not forwarded, and the dataplane's drop counters) are printed with each rate;
 (b) the crypto-only bound: one pre-keyed EVP context sealing packets of that size;
 (c) the same forward without crypto (an ESP_NULL static SA);
 (d) a strongSwan kernel-libipsec gateway and ravend carrying iperf3 TCP from a
     strongSwan client to an inside host, compared by packets per CPU second of the
     gateway process (a libipsec client tops out near 44 kpps, so raw throughput
     says little).

Prints each figure and the ratios against the goals, and writes everything it prints
to tests/bench/results/bench_dataplane-DATE.txt (benchdeps.record). Run as root after
a build:

    tests/bench/bench_dataplane.py [--build build] [--tools build] [--seconds 3] [--runs N]

--build names the tree whose dp_tool and ravend are measured; --tools the tree whose
esp_gen generates (default: --build), so that an older tree's dataplane is measured
with this generator. --runs N repeats the dataplane figures (ratios over medians);
--perf DIR samples the worker thread (perf record, cpu-clock) in the first 1400 B
AES-128-GCM runs, and each gateway process in its run, and prints their top symbols;
--crypto-backend B is given to dp_tool; --gateways-only skips (a)-(c); --latency pings
through each gateway's tunnel (300 pings every 10 ms, alone and beside a 20 Mbit/s
UDP stream) after its iperf3 run.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

import benchdeps

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from lab import Lab, psk_client_conf  # noqa: E402

NS = "urn:raven:params:xml:ns:yang:raven-vpn"
GCM_IN, GCM_OUT = "11" * 16 + "a1b2c3d4", "22" * 16 + "d4c3b2a1"
WINDOW = 128
DROPS = ("no_sa", "replay", "auth", "malformed", "selector", "no_route", "mtu", "ring_full", "fragment", "expired",
         "other")


def sh(*a, **kw):
    return subprocess.run(list(a), check=True, capture_output=True, text=True, **kw)


def ns_sh(ns, *a, **kw):
    return sh("ip", "netns", "exec", ns, *a, **kw)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu(pid):
    """CPU seconds and voluntary context switches (sleeps: each one a wake-up
    later) per thread name of process @pid; CPU time from schedstat (ns), else
    utime + stime in ticks."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    cpu = int(f.read().split()[0]) / 1e9
            except (OSError, ValueError, IndexError):
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                vcs = next(int(x.split()[1]) for x in f if x.startswith("voluntary_ctxt_switches"))
        except (OSError, StopIteration):
            continue
        c, v = out.get(name, (0.0, 0))
        out[name] = (c + cpu, v + vcs)
    return out


def children_cpu(pid):
    """CPU seconds (schedstat) of each child process of @pid by name: ravend's
    front ends (raven-netconfd, raven-restd) run as its children."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
            if int(st.rsplit(")", 1)[1].split()[1]) != pid:
                continue
            name = st[st.index("(") + 1:st.rindex(")")]
            cpu = sum(c for c, _ in thread_cpu(int(d)).values())
        except (OSError, ValueError, IndexError):
            continue
        out[name] = out.get(name, 0.0) + cpu
    return out


def worker_cpu(pid):
    """CPU seconds of each dataplane worker thread of @pid, by TID: the time on a
    CPU from /proc/PID/task/TID/schedstat (nanoseconds; utime + stime of .../stat
    count in clock ticks of 10 ms, too coarse for runs of a few tenths of a CPU
    second), the kernel's accounting either way, not the worker's own."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if not f.read().startswith("raven-dp-"):
                    continue
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    out[tid] = int(f.read().split()[0]) / 1e9
                    continue
            except (OSError, ValueError, IndexError):
                pass
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[tid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def link_packets(ns, dev):
    r = lambda k: int(ns_sh(ns, "cat", f"/sys/class/net/{dev}/statistics/{k}").stdout)
    return r("rx_packets") + r("tx_packets")


class Topo:
    """gen (10.N.1.2) -- (10.N.1.1) head (10.N.2.1) -- (10.N.2.2) sink; the sink routes
    the client prefix 10.9.9.0/24 via the head; static neighbours on the head so that
    no packet of the measurement goes through the kernel."""

    def __init__(self, build):
        self.tag = f"bd{os.getpid() % 10000}"
        n = 30 + os.getpid() % 200
        self.gen, self.head, self.sink = f"{self.tag}g", f"{self.tag}h", f"{self.tag}s"
        self.nss = []
        for ns in (self.gen, self.head, self.sink):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
            sh("ip", "netns", "add", ns)
            self.nss.append(ns)
            ns_sh(ns, "ip", "link", "set", "lo", "up")
        self.gen_ip, self.head_out, self.head_in, self.sink_ip = (f"10.{n}.1.2", f"10.{n}.1.1", f"10.{n}.2.1",
                                                                  f"10.{n}.2.2")
        self.out_dev, self.in_dev = f"{self.tag}o", f"{self.tag}i"
        for a, b, na, nb, ia, ib in ((f"{self.tag}g0", self.out_dev, self.gen, self.head, self.gen_ip,
                                      self.head_out),
                                     (f"{self.tag}s0", self.in_dev, self.sink, self.head, self.sink_ip,
                                      self.head_in)):
            sh("ip", "link", "add", a, "type", "veth", "peer", "name", b)
            for ns, dev, ip in ((na, a, ia), (nb, b, ib)):
                sh("ip", "link", "set", dev, "netns", ns)
                ns_sh(ns, "ip", "addr", "add", f"{ip}/24", "dev", dev)
                ns_sh(ns, "ip", "link", "set", dev, "up")
        ns_sh(self.sink, "ip", "route", "add", "10.9.9.0/24", "via", self.head_in)
        drop = os.path.join(build, "tests", "bench", "bench_drop.bpf.o")
        for ns, dev, peer_ip, head_dev in ((self.gen, f"{self.tag}g0", self.gen_ip, self.out_dev),
                                           (self.sink, f"{self.tag}s0", self.sink_ip, self.in_dev)):
            mac = json.loads(ns_sh(ns, "ip", "-j", "link", "show", dev).stdout)[0]["address"]
            ns_sh(self.head, "ip", "neigh", "replace", peer_ip, "lladdr", mac, "dev", head_dev, "nud", "permanent")
            ns_sh(ns, "ip", "link", "set", "dev", dev, "xdp", "obj", drop, "sec", "xdp")
        # the generator and sink learn the head's MAC once, before their XDP drops replies
        for ns, dev, head_dev, ip in ((self.gen, f"{self.tag}g0", self.out_dev, self.head_out),
                                      (self.sink, f"{self.tag}s0", self.in_dev, self.head_in)):
            mac = json.loads(ns_sh(self.head, "ip", "-j", "link", "show", head_dev).stdout)[0]["address"]
            ns_sh(ns, "ip", "neigh", "replace", ip, "lladdr", mac, "dev", dev, "nud", "permanent")

    def close(self):
        for ns in self.nss:
            subprocess.run(["ip", "netns", "del", ns], check=False)


def perf_top(data, n=14):
    """The top symbols (self share of samples) of a perf.data file."""
    out = subprocess.run(["perf", "report", "--stdio", "--no-children", "-g", "none", "-i", data, "--sort", "symbol",
                          "--percent-limit", "0.8"], capture_output=True, text=True).stdout
    rows = [line.strip() for line in out.splitlines() if line.strip() and not line.startswith("#")]
    return rows[:n]


def run_dp(topo, dp_tool, esp_gen, cipher, size, direction, seconds, perf=None, backend=None):
    key_in, key_out = (GCM_IN, GCM_OUT) if cipher == "gcm128" else ("", "")
    keys = lambda k: f"key={k} " if k else ""
    common = f"cipher={cipher} local={topo.head_out} peer={topo.gen_ip} lport=4500 pport=4500 udp sel=10.9.9.9/32"
    p = subprocess.Popen(["ip", "netns", "exec", topo.head, dp_tool, "--if", f"{topo.out_dev}:outside",
                          "--if", f"{topo.in_dev}:inside",
                          "--sa", f"in spi=0x1001 {keys(key_in)}window={WINDOW} {common}",
                          "--sa", f"out spi=0x2001 {keys(key_out)}{common}"] +
                         (["--crypto-backend", backend] if backend else []),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if p.stdout.readline().strip() != "ready":
            raise SystemExit(f"bench_dataplane: dp_tool did not start: {p.stderr.read()}")
        if direction == "decrypt":
            gen = ["ip", "netns", "exec", topo.gen, "taskset", "-c", "1", esp_gen, "esp", str(size), str(seconds),
                   topo.head_out, "0x1001", cipher, key_in]
            env = dict(os.environ, INNER_DST=topo.sink_ip)
        else:
            gen = ["ip", "netns", "exec", topo.sink, "taskset", "-c", "1", esp_gen, "plain", str(size), str(seconds),
                   "10.9.9.9"]
            env = None
        # the workers name themselves once running: wait for them
        deadline = time.time() + 5
        while not (c0 := worker_cpu(p.pid)) and time.time() < deadline:
            time.sleep(0.02)
        if not c0:
            raise SystemExit("bench_dataplane: dp_tool has no worker thread")
        rec = None
        if perf:
            # software clock samples (this VM has no hardware counters) of the worker thread
            rec = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F", "2000", "-o", perf, "-t",
                                    ",".join(c0)], stdout=subprocess.DEVNULL, stderr=open(perf + ".log", "w"))
        g = json.loads(subprocess.run(gen, check=True, capture_output=True, text=True, env=env).stdout)
        time.sleep(0.05)  # the last packets of the ring
        c1 = worker_cpu(p.pid)
        if rec:
            rec.send_signal(2)
            rec.wait(timeout=30)
    finally:
        p.terminate()
        out, err = p.communicate(timeout=30)
    st = json.loads(out.strip().splitlines()[-1])
    sa = next(s for s in st["sas"] if s["inbound"] == (direction == "decrypt"))
    cpu = sum(c1[t] - c0.get(t, 0) for t in c1)
    busy = sum(w["busy_s"] for w in st["workers"])
    drops = {}
    for i in st["ifaces"]:
        for k, v in zip(DROPS, i["drops"]):
            if v:
                drops[k] = drops.get(k, 0) + v
    return {"sent": g["packets"], "packets": sa["packets"], "wall_pps": sa["packets"] / g["seconds"],
            "worker_cpu_s": cpu, "busy_s": busy, "pps_per_cpu": sa["packets"] / cpu if cpu else 0.0,
            "lost": g["packets"] - sa["packets"], "drops": drops, "last_seq": g.get("last_seq"),
            "backend": st.get("crypto", {}).get("backend", "openssl (the only one)")}


def bound(esp_gen, size, seconds):
    r = json.loads(sh("taskset", "-c", "0", esp_gen, "bound", str(size), str(seconds), "gcm128").stdout)
    return r["packets"] / r["seconds"]


GW_SWANCTL = """connections {{
  gw {{
    pools = p
    proposals = aes256gcm16-prfsha384-ecp384
    local {{
      auth = psk
      id = headend.example.org
    }}
    remote {{
      auth = psk
    }}
    children {{
      vpn {{
        local_ts = {inside}
        esp_proposals = aes128gcm16
      }}
    }}
  }}
}}
pools {{
  p {{
    addrs = 10.201.0.10-10.201.0.20
  }}
}}
secrets {{
  ike-1 {{
    secret = rw-secret-1
  }}
}}
"""


def ravend_config(lb):
    return f"""<management xmlns="{NS}"><netconf><endpoint><name>b</name><address>127.0.0.1</address>
<port>8300</port></endpoint></netconf></management>
<ikev2 xmlns="{NS}">
  <global><listen><address>0.0.0.0</address></listen></global>
  <authorization-policy><name>g</name><pool>p</pool>
    <route><set><remote><ipv4>{lb.inside_net}</ipv4></remote></set></route></authorization-policy>
  <profile><name>rw</name>
    <match><identity><remote><fqdn><domain>example.org</domain></fqdn></remote></identity></match>
    <identity><local><fqdn>headend.example.org</fqdn></local></identity>
    <authentication><local><pre-share><key>rw-secret-1</key></pre-share></local>
      <remote><pre-share><key>rw-secret-1</key></pre-share></remote></authentication>
    <aaa><authorization><group><psk><method-list>l</method-list><username>g</username></psk></group>
    </authorization></aaa>
  </profile>
</ikev2>
<pools xmlns="{NS}"><ipv4-pool><name>p</name><range><start>10.201.0.10</start><end>10.201.0.20</end>
</range></ipv4-pool></pools>
<aaa xmlns="{NS}"><authorization-list><name>l</name><method><sequence>1</sequence><local/></method>
</authorization-list></aaa>
<dataplane xmlns="{NS}"><interface><name>{lb.outside_devs()[0]}</name><role>outside</role></interface>
<interface><name>{lb.inside_dev}</name><role>inside</role></interface></dataplane>"""


def ping_rtts(lb, c, background):
    """Median, p25/p75/p90 of 300 pings (every 10 ms) from the client to the inside
    host through the tunnel, alone or beside a steady UDP stream of @background
    bit/s (iperf3, 1000-byte datagrams): the worker then naps between packets."""
    cl = srv = None
    if background:
        srv = lb.spawn(lb.inside, "iperf3", "-s", "-1", "-p", "5202", stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        time.sleep(0.3)
        cl = lb.spawn(c["ns"], "iperf3", "-c", lb.inside_ip, "-p", "5202", "-u", "-b", background, "-t", "6", "-l",
                      "1000", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
    out = subprocess.run(["ip", "netns", "exec", c["ns"], "ping", "-n", "-c", "300", "-i", "0.01", lb.inside_ip],
                         capture_output=True, text=True, timeout=60).stdout
    if cl:
        cl.wait(timeout=30)
        srv.wait(timeout=30)
    v = sorted(float(x) for x in re.findall(r"time=([\d.]+) ms", out))
    if not v:
        return "no replies"
    q = lambda f: v[min(len(v) - 1, int(len(v) * f))]
    return f"{len(v)} replies, median {q(0.5):.3f} ms (p25 {q(0.25):.3f}, p75 {q(0.75):.3f}, p90 {q(0.9):.3f})"


def gateway_run(lb, pid, seconds, perf=None, latency=False):
    """iperf3 TCP from the client to the inside host through the gateway @pid. The
    gateway's CPU time is the sum of its threads' (schedstat, ns); per thread the
    CPU seconds and the wake-ups (voluntary context switches). @perf: perf record
    of the whole gateway process into that file."""
    c = lb.clients[0]
    lb.start_charon(0, psk_client_conf(c["head_ip"], "user0.example.org", esp="aes128gcm16",
                                       remote_ts=lb.inside_net))
    lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "15")
    srv = lb.spawn(lb.inside, "iperf3", "-s", "-1", "-p", "5201", stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    rec = None
    if perf:
        rec = subprocess.Popen(["perf", "record", "-q", "-g", "-e", "cpu-clock", "-F", "2000", "-o", perf, "-p", str(pid)],
                               stdout=subprocess.DEVNULL, stderr=open(perf + ".log", "w"))
        time.sleep(0.3)
    p0, t0, k0 = link_packets(lb.head, lb.inside_dev), thread_cpu(pid), children_cpu(pid)
    r = json.loads(subprocess.run(["ip", "netns", "exec", c["ns"], "iperf3", "-c", lb.inside_ip, "-p", "5201", "-t",
                                   str(seconds), "-J"], capture_output=True, text=True, timeout=seconds + 60).stdout)
    if "error" in r:
        print(f"bench_dataplane: iperf3 failed through the gateway: {r['error']}", flush=True)
        r.setdefault("end", {}).setdefault("sum_received", {"bits_per_second": 0})
    pk, t1, k1 = link_packets(lb.head, lb.inside_dev) - p0, thread_cpu(pid), children_cpu(pid)
    if rec:
        rec.send_signal(2)
        rec.wait(timeout=30)
    threads = {}
    for k, (cpu, vcs) in t1.items():
        c0, v0 = t0.get(k, (0.0, 0))
        if cpu - c0 >= 0.001 or vcs - v0:
            threads[k] = (round(cpu - c0, 3), vcs - v0)
    cpu = sum(v[0] for v in threads.values())
    children = {k: round(v - k0.get(k, 0.0), 3) for k, v in k1.items()}
    srv.wait(timeout=10)
    rtt = {bg or "none": ping_rtts(lb, c, bg) for bg in (None, "20M")} if latency else None
    c["proc"].terminate()
    c["proc"].wait(timeout=10)
    return {"packets": pk, "cpu_s": cpu, "pps_per_cpu": pk / cpu if cpu else 0.0, "threads": threads,
            "children": children, "rtt": rtt,
            "mbit_s": r["end"]["sum_received"]["bits_per_second"] / 1e6,
            "retransmits": r["end"].get("sum_sent", {}).get("retransmits"), "error": r.get("error")}


def gateways(build, seconds, perf=None, latency=False):
    res = {}
    # strongSwan: charon with kernel-libipsec in the headend namespace, kernel forwarding
    lb = Lab(1, tag="bg", inside=True)
    try:
        gw = os.path.join(lb.dir, "gw")
        os.makedirs(os.path.join(gw, "run"))
        Lab._cred_dirs(gw)
        lb.clients.append({"ns": lb.head, "dir": gw, "uri": f"unix://{gw}/charon.vici"})
        ns_sh(lb.head, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        p = lb.start_charon(1, GW_SWANCTL.format(inside=lb.inside_net))
        res["strongSwan"] = gateway_run(lb, p.pid, seconds, perf and os.path.join(perf, "gw-strongswan.data"),
                                        latency)
    finally:
        lb.close()
    lb = Lab(1, tag="bg", inside=True)
    try:
        d = lb.dir
        with open(f"{d}/ravend.xml", "w") as f:
            f.write(ravend_config(lb))
        with open(f"{d}/ravend.log", "w") as log:
            p = subprocess.Popen(["ip", "netns", "exec", lb.head, os.path.join(build, "daemon", "ravend"), "-f", "-d",
                                  f"{d}/state", "-c", f"{d}/ravend.xml", "-l", "warning", "--arena", "none"], stdout=log,
                                 stderr=subprocess.STDOUT)
        lb.procs.append(p)
        deadline = time.time() + 30
        while "ravend: ready" not in open(f"{d}/ravend.log").read():
            if p.poll() is not None or time.time() > deadline:
                raise SystemExit(f"bench_dataplane: ravend did not start: {open(f'{d}/ravend.log').read()[-2000:]}")
            time.sleep(0.05)
        res["ravend"] = gateway_run(lb, p.pid, seconds, perf and os.path.join(perf, "gw-ravend.data"), latency)
    finally:
        lb.close()
    return res


def median(v):
    v = sorted(v)
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--tools", help="the build whose esp_gen generates (default: --build)")
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--runs", type=int, default=1, help="runs of each dataplane figure (medians reported)")
    ap.add_argument("--skip-gateways", action="store_true")
    ap.add_argument("--gateways-only", action="store_true", help="only the gateway comparison")
    ap.add_argument("--latency", action="store_true", help="ping through each gateway's tunnel, alone and beside "
                    "a 20 Mbit/s UDP stream")
    ap.add_argument("--sizes", default="64,1400", help="packet sizes of the dataplane figures (64,1400)")
    ap.add_argument("--no-record", action="store_true", help="do not write tests/bench/results")
    ap.add_argument("--crypto-backend", help="passed to dp_tool (a dp_tool that has --crypto-backend)")
    ap.add_argument("--perf", metavar="DIR", help="perf record the worker in the first 1400 B AES-128-GCM runs "
                    "into DIR/{decrypt,encrypt}.data, each gateway process into DIR/gw-*.data; print the top "
                    "symbols")
    a = ap.parse_args()
    sizes = [int(x) for x in a.sizes.split(",")]
    if not a.no_record:
        print(f"bench_dataplane: writing {benchdeps.record('bench_dataplane')}", flush=True)
    benchdeps.install()
    dp_tool = os.path.join(a.build, "tests", "dp_tool")
    esp_gen = os.path.join(a.tools or a.build, "tests", "bench", "esp_gen")
    for f in (dp_tool, esp_gen):
        if not os.path.exists(f):
            raise SystemExit(f"bench_dataplane: {f} missing: build first (cmake --build {a.build})")
    print(f"dataplane of {a.build}, generator of {a.tools or a.build}; replay window {WINDOW}, every packet a "
          f"new sequence number; rates per second of the worker thread's CPU time", flush=True)
    topo = None if a.gateways_only else Topo(a.build)
    rows = {}
    try:
        for run in range(0 if a.gateways_only else a.runs):
            for size in sizes:
                for direction in ("decrypt", "encrypt"):
                    for cipher in ("gcm128", "null"):
                        perf = None
                        if a.perf and run == 0 and size == 1400 and cipher == "gcm128":
                            os.makedirs(a.perf, exist_ok=True)
                            perf = os.path.join(a.perf, f"{direction}.data")
                        r = run_dp(topo, dp_tool, esp_gen, cipher, size, direction, a.seconds, perf,
                                   a.crypto_backend)
                        rows.setdefault((size, direction, cipher), []).append(r["pps_per_cpu"])
                        fails = ", ".join(f"{k} {v}" for k, v in r["drops"].items()) or "none"
                        print(f"{direction:7s} {size:4d} B {cipher:6s}: {r['packets']:9d} of {r['sent']:9d} sent "
                              f"(not forwarded {r['lost']}; drops: {fails}), {r['wall_pps'] / 1e3:6.0f} kpps wall, "
                              f"worker {r['worker_cpu_s']:.2f} CPU s (busy {r['busy_s']:.2f} s): "
                              f"{r['pps_per_cpu'] / 1e3:6.0f} kpps per worker CPU second"
                              f"{'' if cipher == 'null' else ' [' + r['backend'] + ']'}", flush=True)
                        if perf:
                            print(f"perf, worker thread, {direction} 1400 B AES-128-GCM (self, cpu-clock):")
                            for line in perf_top(perf):
                                print(f"    {line}")
    finally:
        if topo:
            topo.close()
    rows = {k: median(v) for k, v in rows.items()}
    b = {} if a.gateways_only else {size: bound(esp_gen, size, a.seconds) for size in sizes}
    for size in b:
        print(f"crypto-only bound AES-128-GCM {size:4d} B: {b[size] / 1e3:.0f} kpps (one pre-keyed EVP context)")
    for direction in ("decrypt", "encrypt"):
        if 1400 in b:
            r14, n14 = rows[(1400, direction, "gcm128")], rows[(1400, direction, "null")]
            print(f"{direction}: 1400 B AES-128-GCM / own forward without crypto = {r14 / 1e3:.0f} / {n14 / 1e3:.0f} "
                  f"kpps = {r14 / n14 if n14 else 0:.2f} (goal >= 0.85); 1400 B rate / crypto-only bound = "
                  f"{r14 / b[1400]:.2f}")
        if 64 in b:
            r64, n64 = rows[(64, direction, "gcm128")], rows[(64, direction, "null")]
            print(f"{direction}: 64 B rate / own forward without crypto = {r64 / n64 if n64 else 0:.2f}")
    if a.skip_gateways:
        return
    if a.perf:
        os.makedirs(a.perf, exist_ok=True)
    g = gateways(a.build, max(int(a.seconds * 2), 5), a.perf, a.latency)
    for name, r in g.items():
        threads = ", ".join(f"{k} {c:.3f} s / {v} wake-ups" for k, (c, v) in sorted(r["threads"].items()))
        print(f"gateway {name:10s}: iperf3 TCP {r['mbit_s']:6.0f} Mbit/s, {r['packets']} packets on the inside link, "
              f"{r['cpu_s']:.2f} CPU s, {r['pps_per_cpu'] / 1e3:.1f} k packets per CPU second "
              f"(TCP retransmits {r['retransmits']}, iperf3 error: {r['error'] or 'none'}; threads: {threads}; "
              f"child processes, not counted: {r['children'] or 'none'})", flush=True)
        for bg, r_ in (r["rtt"] or {}).items():
            print(f"gateway {name:10s}: ping through the tunnel, background UDP {bg}: {r_}", flush=True)
        if a.perf:
            print(f"perf, gateway {name} process (self, cpu-clock):")
            for line in perf_top(os.path.join(a.perf, f"gw-{name.lower()}.data"), 24):
                print(f"    {line}")
    ss, rv = g["strongSwan"]["pps_per_cpu"], g["ravend"]["pps_per_cpu"]
    print(f"ravend / strongSwan packets per gateway CPU second = {rv / ss if ss else 0:.1f}x (goal >= 10x)")


if __name__ == "__main__":
    main()
