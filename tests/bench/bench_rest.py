#!/usr/bin/python3
"""The REST API's request rate against nginx serving the same bytes, in one run.

A headend namespace runs ravend (RelWithDebInfo) with 1 000 sessions held up by
ike_load --hold from a second namespace, and nginx (nginx-light) with the same
certificate serving, as static files, the exact bodies ravend returns. wrk, in the
headend namespace, then measures requests per second with keep-alive:

  nginx    small file (the bytes of GET /restconf/data/raven-vpn:pools)
  ravend   GET /restconf/data/raven-vpn:pools             (a small config subtree)
  ravend   GET /restconf/data/raven-vpn:vpn-state/session (1 000 sessions)
  nginx    sessions file (the same bytes)

and prints ravend/nginx for the small resource (goal >= 0.35) and ravend's small
rate over its sessions rate (goal <= 3). Each rate is printed with wrk's non-2xx
answers, socket errors and timeouts; the output is also written to
tests/bench/results/NAME-DATE.txt. Both servers get the same two cores; ravend
authenticates every request (HTTP Basic, checked through its cache), nginx none.

  cmake --build build -j2 && /usr/bin/python3 tests/bench/bench_rest.py [--seconds 10]
"""
import argparse
import base64
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import benchdeps

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from bench_ike import netns_pair, ravend_config  # noqa: E402

NS = "urn:raven:params:xml:ns:yang:raven-vpn"
PW = "bench-pw-1"


def sh(*a, **kw):
    return subprocess.run(list(a), check=True, capture_output=True, text=True, **kw)


def wrk(ns, url, seconds, conns, auth=None):
    """wrk's rate, and its errors: non-2xx/3xx answers, socket errors (connect,
    read, write) and timeouts, each counted."""
    cmd = ["ip", "netns", "exec", ns, "wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--timeout", "30s"]
    if auth:
        cmd += ["-H", f"Authorization: {auth}"]
    out = sh(*cmd, url, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    e = [int(x) for x in errs.groups()] if errs else [0, 0, 0, 0]
    return {"rate": rps, "non2xx": int(non2xx.group(1)) if non2xx else 0, "errors": sum(e[:3]), "timeouts": e[3]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--perf", help="record ravend with perf during the sessions run into this file")
    ap.add_argument("--name", default="bench_rest", help="results file name (tests/bench/results/NAME-DATE.txt)")
    a = ap.parse_args()
    benchdeps.install()
    ravend = os.path.join(a.build, "daemon", "ravend")
    load = os.path.join(a.build, "tests", "bench", "ike_load")
    missing = [f for f in (ravend, load) if not os.path.exists(f)] + [
        t for t in ("wrk", "nginx", "curl", "openssl") if not shutil.which(t) and not os.path.exists(f"/usr/sbin/{t}")]
    if missing:
        raise SystemExit(f"bench_rest: missing {', '.join(missing)} (build ravend and ike_load; the tools come with "
                         "packaging/install-deps.sh --bench)")
    benchdeps.record(a.name)
    tag = f"rb{os.getpid() % 100000}"
    head, cl = f"{tag}h", f"{tag}c"
    d = tempfile.mkdtemp(prefix="raven-bench-rest-")
    procs = []
    try:
        netns_pair(tag, head, cl, "10.233.0")

        h = sh("openssl", "passwd", "-6", PW).stdout.strip()
        conf = ravend_config().replace(
            "</endpoint></netconf></management>",
            "</endpoint></netconf><rest><endpoint><name>b</name><address>127.0.0.1</address><port>8443</port>"
            f"</endpoint></rest><user><name>admin</name><password-hash>{h}</password-hash><role>admin</role>"
            "</user></management>")
        with open(f"{d}/initial.xml", "w") as f:
            f.write(conf)
        log = open(f"{d}/ravend.log", "w")
        rv = subprocess.Popen(["ip", "netns", "exec", head, ravend, "-f", "-d", f"{d}/state", "-c",
                               f"{d}/initial.xml", "-l", "warning", "--arena", "none"], stdout=log,
                              stderr=subprocess.STDOUT)
        procs.append(rv)
        deadline = time.time() + 30
        while "ravend: ready" not in open(log.name).read():
            if rv.poll() is not None or time.time() > deadline:
                raise RuntimeError(open(log.name).read())
            time.sleep(0.1)
        lp = subprocess.Popen(["ip", "netns", "exec", cl, load, "--hold", "10.233.0.1", "10.233.0.2", "600",
                               str(a.sessions), "bench-key", "u%d.example.org"], stdout=subprocess.PIPE, text=True)
        procs.append(lp)
        auth = "Basic " + base64.b64encode(f"admin:{PW}".encode()).decode()
        url = "https://127.0.0.1:8443"

        def get(path):
            return subprocess.run(["ip", "netns", "exec", head, "curl", "-sk", "-H", f"Authorization: {auth}",
                                   url + path], capture_output=True, check=True).stdout

        deadline = time.time() + 120
        while True:
            n = get("/restconf/data/raven-vpn:vpn-state/session?fields=id").count(b'"id"')
            if n >= a.sessions:
                break
            if time.time() > deadline:
                raise RuntimeError(f"only {n} sessions up")
            time.sleep(1)
        small, sessions = get("/restconf/data/raven-vpn:pools"), get("/restconf/data/raven-vpn:vpn-state/session")

        www = f"{d}/www"
        os.makedirs(www)
        os.chmod(d, 0o755)  # nginx's workers read the files as www-data
        with open(f"{www}/small", "wb") as f:
            f.write(small)
        with open(f"{www}/sessions", "wb") as f:
            f.write(sessions)
        with open(f"{d}/nginx.conf", "w") as f:
            f.write(f"""worker_processes 2;
pid {d}/nginx.pid;
error_log {d}/nginx.err warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {d}/tmp; proxy_temp_path {d}/tmp; fastcgi_temp_path {d}/tmp;
  uwsgi_temp_path {d}/tmp; scgi_temp_path {d}/tmp;
  server {{
    listen 127.0.0.1:9443 ssl;
    ssl_certificate {d}/state/rest_cert.pem;
    ssl_certificate_key {d}/state/rest_key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    keepalive_requests 1000000;
    default_type application/yang-data+json;
    root {www};
  }}
}}
""")
        os.makedirs(f"{d}/tmp")
        ng = subprocess.Popen(["ip", "netns", "exec", head, "nginx", "-c", f"{d}/nginx.conf", "-g", "daemon off;"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        procs.append(ng)
        time.sleep(1)
        s = a.seconds
        r = {}
        r["nginx small"] = wrk(head, "https://127.0.0.1:9443/small", s, a.connections)
        r["ravend small"] = wrk(head, url + "/restconf/data/raven-vpn:pools", s, a.connections, auth)
        pf = subprocess.Popen(["perf", "record", "--call-graph", "dwarf,16384", "-F", "200", "-o", a.perf, "-p", str(rv.pid)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) if a.perf else None
        r["ravend sessions"] = wrk(head, url + "/restconf/data/raven-vpn:vpn-state/session", s, a.connections, auth)
        if pf:
            pf.send_signal(2)
            pf.wait()
        r["nginx sessions"] = wrk(head, "https://127.0.0.1:9443/sessions", s, a.connections)
        print(f"{'what':<18} {'req/s':>10} {'non-2xx':>8} {'errors':>7} {'timeouts':>9}   body bytes")
        for k, v in r.items():
            print(f"{k:<18} {v['rate']:>10.0f} {v['non2xx']:>8} {v['errors']:>7} {v['timeouts']:>9}   "
                  f"{len(sessions) if 'sessions' in k else len(small)}")
        r = {k: v["rate"] for k, v in r.items()}
        print(f"ravend small / nginx small       = {r['ravend small'] / r['nginx small']:.2f}  (goal >= 0.35)")
        print(f"ravend small / ravend sessions   = {r['ravend small'] / r['ravend sessions']:.2f}  (goal <= 3)")
        print(f"ravend sessions / nginx sessions = {r['ravend sessions'] / r['nginx sessions']:.2f}")
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for ns in (head, cl):
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
