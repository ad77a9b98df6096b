#!/usr/bin/python3
"""IKE_SA establishment rate of ravend and of a strongSwan responder, side by side.

Both run in turn in the same headend namespace, with the same proposals
(AES-GCM-256, PRF HMAC-SHA2-256, X25519), pre-shared keys, a configuration request
answered from a pool and one child SA, driven by the same load generator
(tests/bench/ike_load.c: CONCURRENCY initiators, each from its own UDP port,
establishing and deleting IKE SAs in a loop) from a client namespace over a veth.
Prints each responder's rate and CPU seconds per established SA (from
/proc/PID/stat), the ratios, and the raw crypto cost of one SA measured in the
same run. ravend runs twice: without a session arena, and with one (every
established session's record written to tmpfs as it changes), whose cost per SA
is printed as a ratio. Run as root after a build:

    tests/bench/bench_ike.py [--build build] [--seconds 10] [--concurrency 32]
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import benchdeps

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
NS = "urn:raven:params:xml:ns:yang:raven-vpn"
CHARON = "/usr/lib/ipsec/charon"


def sh(*a):
    subprocess.run(list(a), check=True, capture_output=True)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ravend_config(pem=None):
    local = "<pre-share><key>bench-key</key></pre-share>"
    pki = ""
    if pem:
        local = "<ecdsa-sig/>"
        pki = f"""<pki xmlns="{NS}"><trustpoint><name>tp</name><ca-certificate>{pem['ca']}</ca-certificate>
<certificate>{pem['cert']}</certificate><private-key>{pem['key']}</private-key></trustpoint></pki>"""
    return pki + f"""<management xmlns="{NS}"><netconf><endpoint><name>b</name><address>127.0.0.1</address>
<port>8300</port></endpoint></netconf></management>
<ikev2 xmlns="{NS}">
  <global><listen><address>0.0.0.0</address></listen></global>
  <authorization-policy><name>bench</name><pool>bench</pool></authorization-policy>
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
""".replace("LOCAL_AUTH", "pubkey\n      certs = head.pem" if ecdsa else "psk"))
    if ecdsa:
        for sub in ("x509", "private"):
            os.makedirs(f"{d}/{sub}", exist_ok=True)
        shutil.copy(f"{d}/head.pem", f"{d}/x509/")
        shutil.copy(f"{d}/head.key", f"{d}/private/")


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
    sh("ip", "link", "add", f"{tag}a", "type", "veth", "peer", "name", f"{tag}b")
    for ns, dev, host in ((head, f"{tag}a", 1), (cl, f"{tag}b", 2)):
        sh("ip", "link", "set", dev, "netns", ns)
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


def measure(ns_load, load, pid, seconds, concurrency):
    c0 = cpu_seconds(pid)
    out = subprocess.run(["ip", "netns", "exec", ns_load, load, "10.231.0.1", "10.231.0.2", str(seconds),
                          str(concurrency), "bench-key", "bench.example.org"],
                         check=True, capture_output=True, text=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    r["cpu_seconds"] = cpu_seconds(pid) - c0
    r["cpu_us_per_sa"] = r["cpu_seconds"] / max(r["established"], 1) * 1e6
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--concurrency", type=int, default=32)
    a = ap.parse_args()
    benchdeps.install()
    ravend = os.path.join(a.build, "daemon", "ravend")
    load = os.path.join(a.build, "tests", "bench", "ike_load")
    tag = f"rvbi{os.getpid() % 10000}"
    head, cl = f"{tag}h", f"{tag}l"
    d = tempfile.mkdtemp(prefix="raven-bench-ike-")
    arena_dir = f"/dev/shm/raven-bench-ike-{os.getpid()}"  # tmpfs, as ravend requires
    procs = []
    try:
        netns_pair(tag, head, cl, "10.231.0")
        pem = make_pki(d)
        results = []
        for auth in ("psk", "ecdsa"):
            crypto = json.loads(subprocess.run([load, "--crypto", "20000"] + (["ecdsa"] if auth == "ecdsa" else []),
                                               check=True, capture_output=True, text=True).stdout)["crypto_us_per_sa"]
            with open(f"{d}/ravend.xml", "w") as f:
                f.write(ravend_config(pem if auth == "ecdsa" else None))
            rv = {}
            for arena in ("none", arena_dir + "/arena"):
                shutil.rmtree(f"{d}/state", ignore_errors=True)
                shutil.rmtree(arena_dir, ignore_errors=True)
                with open(f"{d}/ravend.log", "w") as log:
                    p = subprocess.Popen(["ip", "netns", "exec", head, ravend, "-f", "-d", f"{d}/state", "-c",
                                          f"{d}/ravend.xml", "-l", "warning", "--arena", arena],
                                         stdout=log, stderr=subprocess.STDOUT)
                procs.append(p)
                wait_for(lambda: "ravend: ready" in open(f"{d}/ravend.log").read(), p, "ravend")
                rv[arena != "none"] = measure(cl, load, p.pid, a.seconds, a.concurrency)
                os.kill(p.pid, signal.SIGTERM)
                p.wait(timeout=20)
            rv, rva = rv[False], rv[True]

            charon_files(d, ecdsa=auth == "ecdsa")
            p = start_charon(head, d, procs, "charon")
            ss = measure(cl, load, p.pid, a.seconds, a.concurrency)
            os.kill(p.pid, signal.SIGTERM)
            p.wait(timeout=20)
            os.remove(f"{d}/charon.vici") if os.path.exists(f"{d}/charon.vici") else None
            results.append((auth, rv, ss, crypto, rva))

        print(f"IKE_SA establishment: X25519, AES-GCM-256, PRF SHA2-256, client PSK, configuration request and one "
              f"child SA; {a.concurrency} concurrent initiators, {a.seconds:g} s per run")
        print(f"{'our AUTH':<10}{'responder':<12}{'SA/s':>10}{'CPU us/SA':>12}{'failures':>10}{'timeouts':>10}")
        for auth, rv, ss, crypto, rva in results:
            for name, r in (("ravend", rv), ("ravend+arena", rva), ("strongSwan", ss)):
                print(f"{auth:<10}{name:<12}{r['rate']:>10.1f}{r['cpu_us_per_sa']:>12.0f}{r['failures']:>10}"
                      f"{r['timeouts']:>10}")
        for auth, rv, ss, crypto, rva in results:
            print(f"{auth}: session arena: CPU per SA with/without {rva['cpu_us_per_sa'] / rv['cpu_us_per_sa']:.2f}x, "
                  f"rate {rva['rate'] / max(rv['rate'], 0.1):.2f}x")
            print(f"{auth}: rate ravend/strongSwan {rv['rate'] / max(ss['rate'], 0.1):.2f}x (goal >= 1.5x); "
                  f"ravend CPU per SA {rv['cpu_us_per_sa']:.0f} us = {rv['cpu_us_per_sa'] / crypto:.2f}x the raw "
                  f"crypto of one SA, {crypto:.0f} us (goal <= 2x)")
    finally:
        for p in procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.kill(p.pid, signal.SIGKILL)
        for ns in (head, cl):
            subprocess.run(["ip", "netns", "del", ns], check=False)
        shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(arena_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
