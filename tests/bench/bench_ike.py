#!/usr/bin/python3
"""IKE_SA establishment: ravend and a strongSwan responder, side by side, in one run.

Both responders run in turn in the same headend namespace, with the same proposals
(AES-GCM-256, PRF HMAC-SHA2-256, X25519), a configuration request answered from a
pool, one child SA (AES-GCM-128) narrowed to the inside network, and each does the
work of a real headend per child SA:

  ravend      the dataplane configured (AF_XDP on the outside veth and on an inside
              veth, as tests/integration/lab.py does): each child SA's two SAs are
              installed in it (control-thread index, the workers' lock-free tables,
              their crypto contexts, the inside XDP program's client prefix) and
              removed at the DELETE; with `route redistribute connected` the
              client's address becomes a kernel route over rtnetlink (added,
              then removed).
  strongSwan  charon with kernel-libipsec: each child SA's two SAs installed in
              libipsec (user space, with their crypto contexts) and the route to
              the client's address through its TUN device over rtnetlink.

Two loads, each from a client namespace over a veth (--mode, both by default):

  load    tests/bench/ike_load.c: CONCURRENCY initiators, each from its own UDP
          port, establishing (PSK, configuration request, one child SA) and
          deleting IKE SAs in a loop. Printed with the raw crypto cost of one SA
          on the responder's side (`ike_load --crypto`, same run): the figure
          "CPU per SA / raw crypto" (goal <= 1.5x). ravend runs without and with
          its session arena.
  charon  strongSwan as the load generator for both responders: CLIENTS charon
          instances (each with its own random IKE port), CONNECTIONS connections
          each (distinct IKE IDs, PSK, virtual IP request, one child SA), every
          connection initiated and terminated in a loop by its own thread over
          VICI. The figure: responder CPU per SA, ravend / strongSwan (goal
          <= 0.25x). ravend runs as it does by default, with its session arena.

Every rate is printed with its failures and timeouts; CPU per SA is the
responder's CPU time (all threads, user + system, /proc/PID/stat) over the run,
with that of its child processes (ravend's front ends, which receive its
session events; column "children"), divided by the SAs established. Our AUTH is a PSK MIC or an ECDSA P-256
signature (--auth); the initiators always authenticate with a PSK. The output is
also written to tests/bench/results/NAME-DATE.txt (benchdeps.record). Run as
root:

    tests/bench/bench_ike.py [--build build] [--tools build] [--mode load,charon] [--seconds 10]
        [--concurrency 32] [--clients 2] [--connections 12] [--perf DIR] [--name bench_ike]

--build names the build whose ravend runs (a baseline build works: its ravend is
driven with this tree's load generator from --tools).
"""
import argparse
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

import benchdeps

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
NS = "urn:raven:params:xml:ns:yang:raven-vpn"
CHARON = "/usr/lib/ipsec/charon"
INSIDE = "10.233.0"  # the inside network children reach: {INSIDE}.0/24, the headend .1
CLIENT_LOAD = ("random nonce openssl pem pkcs1 pkcs8 x509 pubkey curve25519 sha1 sha2 aes gcm hmac kdf "
               "kernel-libipsec kernel-netlink socket-default vici attr")


def sh(*a):
    subprocess.run(list(a), check=True, capture_output=True)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu(pid):
    """CPU seconds of @pid and of each of its descendants (ravend's front ends,
    raven-netconfd and raven-restd, run as its children), by PID."""
    kids, out = {}, {}
    for e in os.listdir("/proc"):
        if e.isdigit():
            try:
                with open(f"/proc/{e}/stat") as f:
                    kids.setdefault(int(f.read().rsplit(")", 1)[1].split()[1]), []).append(int(e))
            except OSError:
                pass
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            out[p] = cpu_seconds(p)
        except OSError:
            continue
        todo += kids.get(p, [])
    return out


def ravend_config(pem=None, dataplane=None):
    """ravend's configuration; with @dataplane = (outside, inside) interfaces the
    dataplane runs on them and every session's address is redistributed as a
    kernel route."""
    local = "<pre-share><key>bench-key</key></pre-share>"
    pki = dp = route = ""
    if pem:
        local = "<ecdsa-sig/>"
        pki = f"""<pki xmlns="{NS}"><trustpoint><name>tp</name><ca-certificate>{pem['ca']}</ca-certificate>
<certificate>{pem['cert']}</certificate><private-key>{pem['key']}</private-key></trustpoint></pki>"""
    if dataplane:
        dp = (f'<dataplane xmlns="{NS}"><interface><name>{dataplane[0]}</name><role>outside</role></interface>'
              f"<interface><name>{dataplane[1]}</name><role>inside</role></interface></dataplane>")
        route = (f"<route><set><remote><ipv4>{INSIDE}.0/24</ipv4></remote></set>"
                 "<redistribute><protocol>connected</protocol></redistribute></route>")
    return pki + dp + f"""<management xmlns="{NS}"><netconf><endpoint><name>b</name><address>127.0.0.1</address>
<port>8300</port></endpoint></netconf></management>
<ikev2 xmlns="{NS}">
  <global><listen><address>0.0.0.0</address></listen></global>
  <authorization-policy><name>bench</name><pool>bench</pool>{route}</authorization-policy>
  <profile><name>bench</name>
    <match><identity><remote><fqdn><domain>example.org</domain></fqdn></remote></identity></match>
    <identity><local><fqdn>headend.example.org</fqdn></local></identity>
    <authentication><local>{local}</local>
      <remote><pre-share><key>bench-key</key></pre-share></remote></authentication>
    {"<pki><trustpoint><name>tp</name></trustpoint></pki>" if pem else ""}
    <aaa><authorization><group><psk><method-list>l</method-list><username>bench</username></psk></group>
    </authorization></aaa>
  </profile>
</ikev2>
<pools xmlns="{NS}"><ipv4-pool><name>bench</name><range><start>10.220.0.1</start><end>10.220.255.254</end>
</range></ipv4-pool></pools>
<aaa xmlns="{NS}"><authorization-list><name>l</name><method><sequence>1</sequence><local/></method>
</authorization-list></aaa>"""


def make_pki(d):
    """A CA and an ECDSA P-256 certificate for headend.example.org."""
    r = lambda *a: sh("openssl", *a)
    r("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", f"{d}/ca.key")
    r("req", "-x509", "-new", "-key", f"{d}/ca.key", "-subj", "/CN=Bench CA", "-days", "2", "-out", f"{d}/ca.pem")
    r("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", f"{d}/head.key")
    r("req", "-new", "-key", f"{d}/head.key", "-subj", "/CN=headend.example.org", "-out", f"{d}/head.csr")
    with open(f"{d}/ext", "w") as f:
        f.write("subjectAltName=DNS:headend.example.org\n")
    r("x509", "-req", "-in", f"{d}/head.csr", "-CA", f"{d}/ca.pem", "-CAkey", f"{d}/ca.key", "-CAcreateserial",
      "-days", "2", "-out", f"{d}/head.pem", "-extfile", f"{d}/ext")
    return {k: open(f"{d}/{f}").read().strip() for k, f in (("ca", "ca.pem"), ("cert", "head.pem"),
                                                            ("key", "head.key"))}


def charon_files(d, ecdsa=False):
    """The strongSwan responder: kernel-libipsec, children narrowed to the inside
    network, cookies and per-IP blocking off."""
    with open(f"{d}/strongswan.conf", "w") as f:
        f.write(f"""charon {{
  load = random nonce openssl pem pkcs1 x509 pubkey curve25519 sha1 sha2 aes gcm hmac kdf kernel-libipsec kernel-netlink socket-default vici attr
  threads = 16
  cookie_threshold = 1000000
  block_threshold = 1000000
  init_limit_half_open = 0
  plugins {{
    vici {{
      socket = unix://{d}/charon.vici
    }}
  }}
  syslog {{
    daemon {{
      default = -1
    }}
  }}
}}
""")
    with open(f"{d}/swanctl.conf", "w") as f:
        f.write("""connections {
  bench {
    pools = bench
    proposals = aes256gcm16-prfsha256-x25519
    local {
      auth = LOCAL_AUTH
      id = headend.example.org
    }
    remote {
      auth = psk
    }
    children {
      vpn {
        local_ts = INSIDE.0/24
        esp_proposals = aes128gcm16
      }
    }
  }
}
pools {
  bench {
    addrs = 10.220.0.0/16
  }
}
secrets {
  ike-1 {
    secret = bench-key
  }
}
""".replace("LOCAL_AUTH", "pubkey\n      certs = head.pem" if ecdsa else "psk").replace("INSIDE", INSIDE))
    if ecdsa:
        for sub in ("x509", "private"):
            os.makedirs(f"{d}/{sub}", exist_ok=True)
        shutil.copy(f"{d}/head.pem", f"{d}/x509/")
        shutil.copy(f"{d}/head.key", f"{d}/private/")


def client_files(c, first, n, head_ip, ecdsa, ca):
    """A strongSwan initiator with @n connections u<first>..: PSK, a virtual IP
    asked for, one child to the inside network (kernel-libipsec, as in
    tests/integration: this machine's kernel has no XFRM); random IKE ports so
    that several instances share the namespace."""
    os.makedirs(c, exist_ok=True)
    with open(f"{c}/strongswan.conf", "w") as f:
        f.write(f"""charon {{
  load = {CLIENT_LOAD}
  threads = 64
  port = 0
  port_nat_t = 0
  install_virtual_ip = yes
  plugins {{
    vici {{
      socket = unix://{c}/charon.vici
    }}
  }}
  syslog {{
    daemon {{
      default = -1
    }}
  }}
  filelog {{
    log {{
      path = {c}/charon.log
      default = {os.environ.get("BENCH_LOG", "-1")}
    }}
  }}
}}
""")
    conns = "".join(f"""  c{i} {{
    remote_addrs = {head_ip}
    vips = 0.0.0.0
    proposals = aes256gcm16-prfsha256-x25519
    local {{
      auth = psk
      id = u{i}.example.org
    }}
    remote {{
      auth = {"pubkey" if ecdsa else "psk"}
      id = headend.example.org
    }}
    children {{
      vpn {{
        remote_ts = {INSIDE}.0/24
        esp_proposals = aes128gcm16
      }}
    }}
  }}
""" for i in range(first, first + n))
    with open(f"{c}/swanctl.conf", "w") as f:
        f.write(f"connections {{\n{conns}}}\nsecrets {{\n  ike-1 {{\n    secret = bench-key\n  }}\n}}\n")
    os.makedirs(f"{c}/x509ca", exist_ok=True)
    shutil.copy(ca, f"{c}/x509ca/")


def wait_for(ready, proc, what, timeout=30):
    deadline = time.time() + timeout
    while not ready():
        if proc.poll() is not None or time.time() > deadline:
            raise SystemExit(f"bench_ike: {what} did not start (exit status {proc.poll()})")
        time.sleep(0.05)


def netns_pair(tag, head, cl, net):
    """Namespaces @head and @cl joined by a veth pair ({tag}a, {tag}b) with
    {net}.1/24 on the headend's side and {net}.2/24 on the client's."""
    for ns in (head, cl):
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    # made inside the namespaces: nothing is left on the host if a step fails
    sh("ip", "link", "add", f"{tag}a", "netns", head, "type", "veth", "peer", "name", f"{tag}b", "netns", cl)
    for ns, dev, host in ((head, f"{tag}a", 1), (cl, f"{tag}b", 2)):
        sh("ip", "-n", ns, "addr", "add", f"{net}.{host}/24", "dev", dev)
        sh("ip", "-n", ns, "link", "set", dev, "up")


def start_charon(ns, d, procs, what):
    """charon in @ns with @d/strongswan.conf and its own /run, once its VICI socket
    answers with @d/swanctl.conf loaded; appended to @procs."""
    os.makedirs(f"{d}/run", exist_ok=True)
    env = dict(os.environ, STRONGSWAN_CONF=f"{d}/strongswan.conf")
    p = subprocess.Popen(["ip", "netns", "exec", ns, "sh", "-c", f"mount --bind {d}/run /run && exec {CHARON}"],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(p)
    wait_for(lambda: os.path.exists(f"{d}/charon.vici"), p, what)
    sh("ip", "netns", "exec", ns, "swanctl", "--load-all", "--noprompt", "--file", f"{d}/swanctl.conf", "--uri",
       f"unix://{d}/charon.vici")
    return p


def stop(p, sock=None):
    if p.poll() is None:
        os.kill(p.pid, signal.SIGTERM)
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
    if sock and os.path.exists(sock):
        os.remove(sock)


class Vici:
    """The few VICI commands a load needs (initiate, terminate), spoken on a
    charon's socket directly: a swanctl process per operation would cost the
    client more than a session costs either responder."""

    def __init__(self, path, timeout=None):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)  # blocking: a full backlog waits instead of failing
        self.s.settimeout(timeout)

    def _recv(self, n):
        b = b""
        while len(b) < n:
            chunk = self.s.recv(n - len(b))
            if not chunk:
                raise ConnectionError("vici closed")
            b += chunk
        return b

    @staticmethod
    def _pairs(body):
        """The key/value elements of a message, at any depth."""
        kv, i = {}, 0
        while i < len(body):
            t = body[i]
            i += 1
            if t in (1, 3, 4):  # section start, key/value, list start: a name
                name = body[i + 1:i + 1 + body[i]].decode(errors="replace")
                i += 1 + body[i]
                if t == 3:
                    vl = struct.unpack(">H", body[i:i + 2])[0]
                    kv[name] = body[i + 2:i + 2 + vl].decode(errors="replace")
                    i += 2 + vl
            elif t == 5:  # list item
                i += 2 + struct.unpack(">H", body[i:i + 2])[0]
        return kv

    def cmd(self, name, **kv):
        """The command's answer: (success, error message)."""
        msg = b"".join(bytes([3, len(k)]) + k.encode() + struct.pack(">H", len(str(v))) + str(v).encode()
                       for k, v in kv.items())
        pkt = bytes([0, len(name)]) + name.encode() + msg
        self.s.sendall(struct.pack(">I", len(pkt)) + pkt)
        while True:
            body = self._recv(struct.unpack(">I", self._recv(4))[0])
            if body[0] == 1:  # CMD_RESPONSE
                r = self._pairs(body[1:])
                return r.get("success") == "yes", r.get("errmsg", "")

    def close(self):
        self.s.close()


def drive(clients, seconds):
    """Each connection of each client (@clients: (VICI socket path, [connection
    names])) initiated and terminated in a loop by its own thread for @seconds.
    An initiate that fails for the timeout counts as a timeout, any other as a
    failure; a charon that stops answering its VICI socket for 40 s (seen
    with strongSwan 5.9.8 initiators on an overloaded machine) counts a timeout
    and ends that connection's loop."""
    counts, fails, tmo, why_first = {}, {}, {}, []
    stop_at = time.time() + seconds

    def loop(uri, conn):
        v = Vici(uri, timeout=40)
        counts[conn] = fails[conn] = tmo[conn] = 0
        while time.time() < stop_at:
            try:
                ok, why = v.cmd("initiate", child="vpn", ike=conn, timeout=20000)
            except OSError as e:  # socket.timeout, the connection lost
                tmo[conn] += 1
                why_first.append(f"VICI: {e or 'timed out'}")
                break
            if ok:
                counts[conn] += 1
            elif "timeout" in why:
                tmo[conn] += 1
            else:
                fails[conn] += 1
            if not ok and not why_first:
                why_first.append(why)
            try:
                v.cmd("terminate", ike=conn, timeout=10000)
            except OSError as e:
                tmo[conn] += 1
                why_first.append(f"VICI: {e or 'timed out'}")
                break
        v.close()

    t0 = time.time()
    ts = [threading.Thread(target=loop, args=(uri, conn), daemon=True) for uri, conns in clients for conn in conns]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    elapsed = time.time() - t0
    return {"established": sum(counts.values()), "failures": sum(fails.values()), "timeouts": sum(tmo.values()),
            "seconds": elapsed, "rate": sum(counts.values()) / elapsed, "first_error": why_first[:1]}


def perf_start(perf_dir, pid, what):
    if not perf_dir:
        return None
    os.makedirs(perf_dir, exist_ok=True)
    return subprocess.Popen(["perf", "record", "--call-graph", "dwarf,16384", "-F", "999", "-o", os.path.join(perf_dir, f"{what}.data"), "-p",
                             str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def perf_stop(pf):
    if pf:
        pf.send_signal(signal.SIGINT)
        pf.wait(timeout=60)


def with_cpu(pid, run, perf_dir=None, what=""):
    """@run() measured: the CPU seconds over it of the responder @pid and its
    children (ravend's front ends), in all and per SA."""
    pf = perf_start(perf_dir, pid, what)
    c0 = tree_cpu(pid)
    r = run()
    c1 = tree_cpu(pid)
    perf_stop(pf)
    r["cpu_seconds"] = sum(v - c0.get(k, 0.0) for k, v in c1.items())
    r["children_cpu_seconds"] = r["cpu_seconds"] - (c1.get(pid, 0.0) - c0.get(pid, 0.0))
    r["cpu_us_per_sa"] = r["cpu_seconds"] / max(r["established"], 1) * 1e6
    return r


def measure(ns_load, load, pid, seconds, concurrency):
    """One ike_load run from @ns_load against ravend at 10.231.0.1, measured like
    Bench.ike_load (the responder's CPU with its front ends); used by
    bench_ike_pool.py."""
    def run():
        out = subprocess.run(["ip", "netns", "exec", ns_load, load, "10.231.0.1", "10.231.0.2", str(seconds),
                              str(concurrency), "bench-key", "bench.example.org"],
                             check=True, capture_output=True, text=True).stdout
        return json.loads(out.strip().splitlines()[-1])
    return with_cpu(pid, run)


class Bench:
    def __init__(self, a):
        self.a = a
        self.ravend = os.path.join(a.build, "daemon", "ravend")
        self.load = os.path.join(a.tools, "tests", "bench", "ike_load")
        self.tag = f"rvbi{os.getpid() % 10000}"
        self.head, self.cl, self.ins = f"{self.tag}h", f"{self.tag}l", f"{self.tag}i"
        self.d = tempfile.mkdtemp(prefix="raven-bench-ike-")
        self.arena_dir = f"/dev/shm/raven-bench-ike-{os.getpid()}"  # tmpfs, as ravend requires
        self.procs = []

    def topology(self):
        """client -- headend -- inside host: the outside veth {tag}a/{tag}b
        (10.231.0.0/24), the inside veth {tag}d/{tag}c ({INSIDE}.0/24)."""
        netns_pair(self.tag, self.head, self.cl, "10.231.0")
        sh("ip", "netns", "add", self.ins)
        sh("ip", "link", "add", f"{self.tag}d", "netns", self.head, "type", "veth", "peer", "name", f"{self.tag}c",
           "netns", self.ins)
        for ns, dev, host in ((self.head, f"{self.tag}d", 1), (self.ins, f"{self.tag}c", 2)):
            sh("ip", "-n", ns, "addr", "add", f"{INSIDE}.{host}/24", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "-n", self.ins, "route", "add", "10.220.0.0/16", "via", f"{INSIDE}.1")

    def start_ravend(self, pem, arena):
        d = self.d
        with open(f"{d}/ravend.xml", "w") as f:
            f.write(ravend_config(pem, None if self.a.no_dataplane else (f"{self.tag}a", f"{self.tag}d")))
        shutil.rmtree(f"{d}/state", ignore_errors=True)
        shutil.rmtree(self.arena_dir, ignore_errors=True)
        with open(f"{d}/ravend.log", "w") as log:
            p = subprocess.Popen(["ip", "netns", "exec", self.head, self.ravend, "-f", "-d", f"{d}/state", "-c",
                                  f"{d}/ravend.xml", "-l", "warning", "--arena",
                                  self.arena_dir + "/arena" if arena else "none"],
                                 stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(p)
        try:
            wait_for(lambda: "ravend: ready" in open(f"{d}/ravend.log").read(), p, "ravend")
        except SystemExit:
            print(open(f"{d}/ravend.log").read()[-3000:])
            raise
        return p

    def start_strongswan(self, ecdsa):
        charon_files(self.d, ecdsa=ecdsa)
        return start_charon(self.head, self.d, self.procs, "charon")

    def stop_responder(self, p):
        if p.poll() is not None:
            raise SystemExit(f"bench_ike: the responder died during the run (exit status {p.returncode}):\n"
                             + open(f"{self.d}/ravend.log").read()[-3000:])
        stop(p, f"{self.d}/charon.vici")

    def ike_load(self):
        out = subprocess.run(["ip", "netns", "exec", self.cl, self.load, "10.231.0.1", "10.231.0.2",
                              str(self.a.seconds), str(self.a.concurrency), "bench-key", "bench.example.org"],
                             check=True, capture_output=True, text=True).stdout
        return json.loads(out.strip().splitlines()[-1])

    def charon_load(self, ecdsa, run):
        """CLIENTS strongSwan initiators started, @run(clients) measured, stopped."""
        a, cs = self.a, []
        try:
            for k in range(a.clients):
                c = f"{self.d}/client{k}"
                client_files(c, k * a.connections, a.connections, "10.231.0.1", ecdsa, f"{self.d}/ca.pem")
                cs.append((start_charon(self.cl, c, self.procs, f"client charon {k}"), c))
            return run([(f"{c}/charon.vici", [f"c{i}" for i in range(k * a.connections, (k + 1) * a.connections)])
                        for k, (_, c) in enumerate(cs)])
        finally:
            for p, c in cs:
                stop(p, f"{c}/charon.vici")
                if os.environ.get("BENCH_LOG") and os.path.exists(f"{c}/charon.log"):
                    print(open(f"{c}/charon.log").read()[-4000:])

    def run(self):
        a = self.a
        self.topology()
        pem = make_pki(self.d)
        rows, ratios = [], []
        for auth in a.auth:
            ecdsa = auth == "ecdsa"
            if "load" in a.mode:
                crypto = json.loads(subprocess.run([self.load, "--crypto", "20000"] + (["ecdsa"] if ecdsa else []),
                                                   check=True, capture_output=True,
                                                   text=True).stdout)["crypto_us_per_sa"]
                res = {}
                for name, arena in (("ravend", False), ("ravend+arena", True)):
                    p = self.start_ravend(pem if ecdsa else None, arena)
                    res[name] = with_cpu(p.pid, self.ike_load, a.perf, f"load-{auth}-{name}")
                    self.stop_responder(p)
                p = self.start_strongswan(ecdsa)
                res["strongSwan"] = with_cpu(p.pid, self.ike_load, a.perf, f"load-{auth}-strongswan")
                self.stop_responder(p)
                for name, r in res.items():
                    rows.append(("ike_load", auth, name, r))
                rv, rva, ss = res["ravend"], res["ravend+arena"], res["strongSwan"]
                ratios.append(f"ike_load {auth}: ravend CPU per SA {rv['cpu_us_per_sa']:.0f} us = "
                              f"{rv['cpu_us_per_sa'] / crypto:.2f}x the raw crypto of one SA ({crypto:.0f} us; goal "
                              f"<= 1.5x); with the arena {rva['cpu_us_per_sa'] / crypto:.2f}x")
                ratios.append(f"ike_load {auth}: session arena CPU per SA with/without "
                              f"{rva['cpu_us_per_sa'] / rv['cpu_us_per_sa']:.2f}x; rate ravend/strongSwan "
                              f"{rv['rate'] / max(ss['rate'], 0.1):.2f}x; CPU per SA ravend/strongSwan "
                              f"{rv['cpu_us_per_sa'] / ss['cpu_us_per_sa']:.2f}x")
            if "charon" in a.mode:
                res = {}
                p = self.start_ravend(pem if ecdsa else None, True)
                res["ravend+arena"] = self.charon_load(
                    ecdsa, lambda cl: with_cpu(p.pid, lambda: drive(cl, a.seconds), a.perf, f"charon-{auth}-ravend"))
                self.stop_responder(p)
                p = self.start_strongswan(ecdsa)
                res["strongSwan"] = self.charon_load(
                    ecdsa, lambda cl: with_cpu(p.pid, lambda: drive(cl, a.seconds), a.perf,
                                               f"charon-{auth}-strongswan"))
                self.stop_responder(p)
                for name, r in res.items():
                    rows.append(("charon", auth, name, r))
                rv, ss = res["ravend+arena"], res["strongSwan"]
                ratios.append(f"charon {auth}: responder CPU per SA ravend/strongSwan "
                              f"{rv['cpu_us_per_sa'] / ss['cpu_us_per_sa']:.2f}x (goal <= 0.25x); rate "
                              f"{rv['rate'] / max(ss['rate'], 0.1):.2f}x")
        return rows, ratios

    def close(self):
        for p in self.procs:
            stop(p)
        for ns in (self.head, self.cl, self.ins):
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
        shutil.rmtree(self.d, ignore_errors=True)
        shutil.rmtree(self.arena_dir, ignore_errors=True)


def git_describe(path):
    src = path
    cache = os.path.join(path, "CMakeCache.txt")
    if os.path.exists(cache):
        for line in open(cache):
            if line.startswith("CMAKE_HOME_DIRECTORY:"):
                src = line.split("=", 1)[1].strip()
    return subprocess.run(["git", "-C", src, "describe", "--always", "--dirty"], capture_output=True,
                          text=True).stdout.strip() or "unknown"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="the build whose ravend runs")
    ap.add_argument("--tools", default=os.path.join(ROOT, "build"), help="the build of ike_load")
    ap.add_argument("--mode", default="load,charon", help="load, charon or both (comma-separated)")
    ap.add_argument("--auth", default="psk,ecdsa", help="our AUTH: psk, ecdsa or both")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--concurrency", type=int, default=32, help="ike_load's initiators")
    ap.add_argument("--clients", type=int, default=2, help="strongSwan initiator instances (charon mode)")
    ap.add_argument("--connections", type=int, default=12, help="connections per strongSwan initiator")
    ap.add_argument("--no-dataplane", action="store_true", help="ravend without the dataplane (as before)")
    ap.add_argument("--perf", metavar="DIR", help="perf record --call-graph dwarf each responder into DIR/MODE-AUTH-NAME.data")
    ap.add_argument("--name", default="bench_ike", help="results file name (tests/bench/results/NAME-DATE.txt)")
    a = ap.parse_args()
    a.mode, a.auth = a.mode.split(","), a.auth.split(",")
    a.build, a.tools = os.path.abspath(a.build), os.path.abspath(a.tools)
    benchdeps.install()
    missing = [f for f in (os.path.join(a.build, "daemon", "ravend"), os.path.join(a.tools, "tests", "bench",
                                                                                   "ike_load"), CHARON)
               if not os.path.exists(f)]
    if missing:
        raise SystemExit(f"bench_ike: missing {', '.join(missing)} (build with cmake --build BUILD --target ravend "
                         f"ike_load; strongSwan from packaging/install-deps.sh --bench)")
    benchdeps.record(a.name)
    b = Bench(a)
    try:
        rows, ratios = b.run()
    finally:
        b.close()
    print(f"ravend: {a.build} ({git_describe(a.build)}), {'without' if a.no_dataplane else 'with'} the dataplane "
          f"and kernel routes; ike_load: {a.tools}")
    print(f"IKE_SA establishment: X25519, AES-GCM-256, PRF SHA2-256, client PSK, configuration request and one "
          f"child SA; {a.seconds:g} s per run; ike_load: {a.concurrency} initiators; charon: {a.clients} "
          f"instances x {a.connections} connections")
    print(f"{'load':<10}{'our AUTH':<10}{'responder':<14}{'SA/s':>9}{'failures':>10}{'timeouts':>10}"
          f"{'established':>13}{'CPU s':>8}{'children':>10}{'CPU us/SA':>11}")
    for load, auth, name, r in rows:
        print(f"{load:<10}{auth:<10}{name:<14}{r['rate']:>9.1f}{r['failures']:>10}{r['timeouts']:>10}"
              f"{r['established']:>13}{r['cpu_seconds']:>8.2f}{r['children_cpu_seconds']:>10.2f}"
              f"{r['cpu_us_per_sa']:>11.0f}")
    for load, auth, name, r in rows:
        if r.get("first_error"):
            print(f"{load} {auth} {name}: first failure: {r['first_error'][0]}")
    for line in ratios:
        print(line)


if __name__ == "__main__":
    main()
