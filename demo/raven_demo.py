#!/usr/bin/python3
"""Raven's demo lab: ravend in a network namespace with an inside host and three
strongSwan road-warrior clients (alice, bob, carol) that connect with their own
identities and keep some traffic going, so that the dashboard shows live sessions
within a minute. The dashboard is forwarded to https://127.0.0.1:PORT/ui/ on this
machine (a TCP relay into the namespace; nothing leaves loopback and the lab's own
namespaces). Ctrl-C (or SIGTERM) tears everything down: processes by PID, then the
namespaces.

Run through the main job: ./run.sh --demo [--port 8443]."""
import argparse
import ctypes
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from lab import Lab, psk_client_conf  # noqa: E402  (the test suite's namespace lab)

NS = "urn:raven:params:xml:ns:yang:raven-vpn"
USERS = ["alice", "bob", "carol"]
_libc = ctypes.CDLL("libc.so.6", use_errno=True)


def config(lb, pw_hash, psk):
    ifs = "".join(f"<interface><name>{d}</name><role>outside</role></interface>" for d in lb.outside_devs())
    return f"""<management xmlns="{NS}">
  <netconf><endpoint><name>demo</name><address>127.0.0.1</address><port>830</port></endpoint></netconf>
  <rest><endpoint><name>demo</name><address>127.0.0.1</address><port>8443</port></endpoint></rest>
  <user><name>admin</name><password-hash>{pw_hash}</password-hash><role>admin</role></user>
  <user><name>viewer</name><password-hash>{pw_hash}</password-hash><role>read-only</role></user>
</management>
<pools xmlns="{NS}"><ipv4-pool><name>rw-pool</name><range><start>10.201.0.10</start><end>10.201.0.250</end></range>
  </ipv4-pool></pools>
<ikev2 xmlns="{NS}">
  <global><listen><address>0.0.0.0</address></listen></global>
  <authorization-policy><name>rw-group</name><dns><primary>10.200.0.53</primary></dns><pool>rw-pool</pool>
    <route><set><remote><ipv4>{lb.inside_net}</ipv4></remote></set></route></authorization-policy>
  <profile><name>road-warriors</name>
    <match><identity><remote><fqdn><domain>example.org</domain></fqdn></remote></identity></match>
    <identity><local><fqdn>headend.example.org</fqdn></local></identity>
    <authentication><local><pre-share><key>{psk}</key></pre-share></local>
      <remote><pre-share><key>{psk}</key></pre-share></remote></authentication>
    <aaa><authorization><group><psk><method-list>local-list</method-list><username>rw-group</username></psk></group>
      </authorization></aaa>
  </profile>
</ikev2>
<aaa xmlns="{NS}"><authorization-list><name>local-list</name><method><sequence>1</sequence><local/></method>
  </authorization-list></aaa>
<dataplane xmlns="{NS}">{ifs}<interface><name>{lb.inside_dev}</name><role>inside</role></interface></dataplane>
"""


class Relay(threading.Thread):
    """Forwards 127.0.0.1:@port on this machine to 127.0.0.1:8443 inside @ns."""

    def __init__(self, port, ns):
        super().__init__(daemon=True)
        self.ns = ns
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", port))
        self.srv.listen(64)

    def connect_inside(self):
        own = os.open("/proc/self/ns/net", os.O_RDONLY)
        target = os.open(f"/run/netns/{self.ns}", os.O_RDONLY)
        try:
            if _libc.setns(target, 0x40000000):
                raise OSError(ctypes.get_errno(), "setns")
            try:
                return socket.create_connection(("127.0.0.1", 8443), timeout=10)
            finally:
                _libc.setns(own, 0x40000000)
        finally:
            os.close(own)
            os.close(target)

    @staticmethod
    def pump(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def serve(self, c):
        try:
            inside = self.connect_inside()
        except OSError:
            c.close()
            return
        inside.settimeout(None)
        t = threading.Thread(target=self.pump, args=(inside, c), daemon=True)
        t.start()
        self.pump(c, inside)
        t.join()
        c.close()
        inside.close()

    def run(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()


def main():
    ap = argparse.ArgumentParser(description="Raven demo lab")
    ap.add_argument("--ravend", default=os.path.join(ROOT, "build", "daemon", "ravend"))
    ap.add_argument("--port", type=int, default=8443, help="local port of the dashboard [8443]")
    ap.add_argument("--password", default="raven-demo", help="password of the users admin and viewer")
    ap.add_argument("--duration", type=float, default=0, help="seconds to run, 0 = until Ctrl-C")
    a = ap.parse_args()
    if os.geteuid():
        sys.exit("raven demo: needs root (network namespaces)")

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    work = tempfile.mkdtemp(prefix="raven-demo-")
    lb, procs, relay = None, [], None
    try:
        relay = Relay(a.port, "placeholder")  # bind first: a busy port fails before anything is built
        lb = Lab(len(USERS), tag="rvd", inside=True)
        relay.ns = lb.head
        psk = secrets.token_urlsafe(12)
        cfgfile = os.path.join(work, "initial.xml")
        with open(cfgfile, "w") as f:
            pw_hash = subprocess.run(["openssl", "passwd", "-6", a.password], check=True, capture_output=True,
                                     text=True).stdout.strip()
            f.write(config(lb, pw_hash, psk))
        log = open(os.path.join(work, "ravend.log"), "w")
        # no session arena: the lab's sessions end with it (an arena would
        # outlive the lab in /dev/shm, for a next run that has other clients)
        rv = subprocess.Popen(["ip", "netns", "exec", lb.head, a.ravend, "-f", "-d", os.path.join(work, "state"),
                               "-c", cfgfile, "--arena", "none"], stdout=log, stderr=subprocess.STDOUT)
        procs.append(rv)
        deadline = time.time() + 30
        while "ravend: ready" not in open(log.name).read():
            if rv.poll() is not None or time.time() > deadline:
                raise RuntimeError("ravend did not start:\n" + open(log.name).read()[-3000:])
            time.sleep(0.1)
        relay.start()
        print(f"raven demo: dashboard at https://127.0.0.1:{a.port}/ui/  (user admin or viewer, password "
              f"{a.password}; the certificate is self-signed)", flush=True)
        print(f"raven demo: RESTCONF at https://127.0.0.1:{a.port}/restconf, ravend log {log.name}", flush=True)
        for i, user in enumerate(USERS):
            c = lb.clients[i]
            lb.start_charon(i, psk_client_conf(c["head_ip"], f"{user}.example.org", psk=psk,
                                               remote_ts=lb.inside_net))
            r = lb.swanctl(i, "--initiate", "--child", "vpn", "--timeout", "20", check=False)
            print(f"raven demo: {user}.example.org {'connected' if r.returncode == 0 else 'failed to connect'}",
                  flush=True)
            # a steady trickle of traffic, a different rate per client
            p = subprocess.Popen(["ip", "netns", "exec", c["ns"], "ping", "-q", "-i", str(0.2 * (i + 1)), "-s",
                                  str(200 * (i + 1)), lb.inside_ip], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            procs.append(p)
        print("raven demo: running; Ctrl-C to stop", flush=True)
        end = time.time() + a.duration if a.duration else None
        rnd = random.Random(7)
        while not stop.wait(5):
            if end and time.time() > end:
                break
            if rv.poll() is not None:
                print("raven demo: ravend exited:\n" + open(log.name).read()[-3000:], flush=True)
                break
            # now and then a burst, so that the traffic chart has something to show
            if rnd.random() < 0.3:
                i = rnd.randrange(len(USERS))
                procs.append(subprocess.Popen(["ip", "netns", "exec", lb.clients[i]["ns"], "ping", "-q", "-c", "200",
                                               "-i", "0.01", "-s", "1200", lb.inside_ip],
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    finally:
        print("raven demo: stopping", flush=True)
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        if relay:
            relay.srv.close()
        if lb:
            lb.close()
        subprocess.run(["rm", "-rf", work], check=False)
        print("raven demo: stopped", flush=True)


if __name__ == "__main__":
    main()
