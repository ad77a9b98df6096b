"""The dashboard end to end: a real browser (Debian's Chromium under playwright-core,
dashboard.e2e.js) against ravend's HTTPS server while a real strongSwan client is
connected through the dataplane and pings a host behind the headend.

Topology (lab.py, inside=True):

  [client c0: charon] --veth-- [headend: ravend, REST on 127.0.0.1:8443,  --veth-- [inside host]
   10.<n>.0.2                   node + Chromium in the same namespace]            10.<n>.251.2

The browser script signs in first and waits; only then is the client brought up,
so the session row must appear through the event stream, not through the first
read. Screenshots are left in $RAVEN_ARTIFACT_DIR (default: a directory under the
system's temporary directory, printed)."""
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time

from conftest import ADMIN_PW, HERE, NS, READER_PW, free_port, it
from lab import psk_client_conf
from nchelpers import wait_until
from test_dataplane import dataplane_config
from test_ike_certs import pki  # noqa: F401 (the pki fixture)
from test_ike_sessions import headend_config, sessions

SCRIPT = os.path.join(HERE, "dashboard.e2e.js")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
READY = "E2E-READY-FOR-SESSION"


def wait_https(ns, port, timeout=20):
    """Until the REST endpoint in namespace @ns serves /.well-known/host-meta."""
    import http.client
    import ssl

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            sock = it.netns_connect(ns, "127.0.0.1", port, timeout=3)
            conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=3, context=ctx)
            conn.sock = ctx.wrap_socket(sock, server_hostname="127.0.0.1")
            conn.request("GET", "/.well-known/host-meta")
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                return
            last = f"status {status}"
        except OSError as e:
            last = e
        time.sleep(0.2)
    raise AssertionError(f"REST endpoint 127.0.0.1:{port} in {ns} does not answer: {last}")


class LineReader:
    """Lines of a child's stdout with a deadline, echoed for the test's log."""

    def __init__(self, proc):
        self.proc = proc
        self.buf = b""
        self.lines = []

    def until(self, pred, timeout):
        deadline = time.time() + timeout
        fd = self.proc.stdout.fileno()
        while True:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                text = line.decode(errors="replace")
                print(f"  node| {text}", flush=True)
                self.lines.append(text)
                if pred(text):
                    return text
            left = deadline - time.time()
            if left <= 0:
                return None
            r, _, _ = select.select([fd], [], [], min(left, 1.0))
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    if self.buf:
                        self.buf += b"\n"
                        continue
                    return None
                self.buf += chunk


def test_dashboard_live_sessions_counters_and_clear(lab, make_ravend, node_modules):
    assert os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing (packaging/debian-packages.txt: chromium)"
    artifacts = os.environ.get("RAVEN_ARTIFACT_DIR") or tempfile.mkdtemp(prefix="raven-e2e-artifacts-")
    os.makedirs(artifacts, exist_ok=True)
    print(f"artifacts: {artifacts}")

    lb = lab(1, inside=True)
    # one address of the pool's 11 in use is over its alarm threshold: the
    # pool-usage-high alarm comes and goes with the session
    conf = headend_config().replace("10.200.0.0/16", lb.inside_net).replace(
        "<pools xmlns=\"urn:raven:params:xml:ns:yang:raven-vpn\">",
        "<pools xmlns=\"urn:raven:params:xml:ns:yang:raven-vpn\"><usage-alarm-threshold>5</usage-alarm-threshold>")
    assert "usage-alarm-threshold" in conf
    d = make_ravend(conf + dataplane_config(lb), netns=lb.head, rest=True)
    wait_https(lb.head, d.rest_port)
    c = lb.clients[0]
    lb.start_charon(0, psk_client_conf(c["head_ip"], "user0.example.org", esp="aes128gcm16", remote_ts=lb.inside_net))

    env = dict(os.environ,
               NODE_PATH=node_modules,
               CHROMIUM=CHROMIUM,
               RAVEN_E2E_URL=d.rest_url,
               RAVEN_E2E_ADMIN="admin", RAVEN_E2E_ADMIN_PW=ADMIN_PW,
               RAVEN_E2E_READER="reader", RAVEN_E2E_READER_PW=READER_PW,
               RAVEN_E2E_IDENTITY="user0.example.org",
               RAVEN_E2E_ASSIGNED_PREFIX="10.201.0.",
               RAVEN_E2E_POOL="rw-pool",
               RAVEN_E2E_DP_IFACE=lb.inside_dev,
               RAVEN_E2E_ALARM="pool-usage-high",
               RAVEN_ARTIFACT_DIR=artifacts)
    # node and Chromium in the headend's namespace, where the REST endpoint is; a
    # process group of their own, ended by its id whatever happens
    node = subprocess.Popen(["ip", "netns", "exec", lb.head, "node", SCRIPT], cwd=HERE, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        out = LineReader(node)
        ready = out.until(lambda s: s == READY or s.startswith("E2E-FAILED"), timeout=90)
        if ready != READY:
            out.until(lambda s: False, timeout=30)  # the failure's details and screenshot, up to its exit
        assert ready == READY, "the browser did not get to the empty, live session table:\n" + "\n".join(out.lines)

        # the client comes up while the page watches, and pings through the tunnel
        r = lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "15", check=False)
        assert r.returncode == 0, lb.log(0)[-3000:]
        lb.spawn(c["ns"], "ping", "-n", "-q", "-i", "0.1", "-s", "200", lb.inside_ip,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        done = out.until(lambda s: s == "E2E-PASSED" or s.startswith("E2E-FAILED"), timeout=180)
        out.until(lambda s: False, timeout=30)  # the rest of its output, up to its exit
        rc = node.wait(timeout=30)
        shots = [s.split(" ", 1)[1] for s in out.lines if s.startswith("SCREENSHOT ")]
        print("screenshots:\n  " + "\n  ".join(shots))
        assert done == "E2E-PASSED" and rc == 0, (
            f"dashboard test failed (exit {rc}):\n" + "\n".join(out.lines) + f"\n--- ravend log tail:\n{d.log()[-3000:]}")
        assert any(s.endswith("dashboard.png") and os.path.getsize(s) > 10000 for s in shots), shots
    finally:
        # node, and a Chromium it may have left behind, by their group's id
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(node.pid, sig)
            except ProcessLookupError:
                break
            try:
                node.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            time.sleep(0.5)
        node.stdout.close()

    # the browser's Clear really ended the session in the daemon
    m = d.connect()
    wait_until(lambda: not sessions(m), timeout=10, what="no session left after the dashboard's clear")


def test_dashboard_client_profile_download(make_ravend, pki, node_modules):
    """The client-profile card (profiles.e2e.js): an admin downloads the Android
    and Apple files of an IKEv2 profile, sees the server's reason for one that
    cannot make a file; a read-only user has no card. ravend listens for IKE on
    127.0.0.1 only, on ports of its own, so that it runs beside other daemons."""
    from test_client_profiles import headend
    assert os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing (packaging/debian-packages.txt: chromium)"
    artifacts = os.environ.get("RAVEN_ARTIFACT_DIR") or tempfile.mkdtemp(prefix="raven-e2e-artifacts-")
    radius = type("R", (), {"port": free_port(), "acct_port": free_port()})
    listen = f"<address>127.0.0.1</address><port>{free_port()}</port><nat-t-port>{free_port()}</nat-t-port>"
    d = make_ravend(headend(pki, radius, listen=listen, server_address="vpn.example.org", psk_profile=True), rest=True)
    env = dict(os.environ, NODE_PATH=node_modules, CHROMIUM=CHROMIUM, RAVEN_E2E_URL=d.rest_url,
               RAVEN_E2E_ADMIN="admin", RAVEN_E2E_ADMIN_PW=ADMIN_PW, RAVEN_E2E_READER="reader",
               RAVEN_E2E_READER_PW=READER_PW, RAVEN_E2E_SERVER_ADDRESS="vpn.example.org",
               RAVEN_ARTIFACT_DIR=artifacts)
    node = subprocess.Popen(["node", os.path.join(HERE, "profiles.e2e.js")], cwd=HERE, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        out, _ = node.communicate(timeout=120)
    finally:
        if node.poll() is None:
            os.killpg(node.pid, signal.SIGKILL)
            node.wait()
    text = out.decode(errors="replace")
    print(text)
    assert node.returncode == 0 and "E2E-PASSED" in text, f"{text}\n--- ravend log tail:\n{d.log()[-3000:]}"


def test_dashboard_session_pages(lab, make_ravend, node_modules):
    """The session list in pages (pages.e2e.js): 120 sessions held up by ike_load
    (Raven's test initiator) from the client's namespace, the dashboard with
    ?page-size=50: the count of all, pages of 50, 50 and 20 in id order, Next and
    Previous; every session seen once, as the server lists them."""
    import json
    import re

    from resthelpers import Rest
    load = os.environ.get("IKE_LOAD", os.path.join(HERE, "..", "..", "build-test", "tests", "bench", "ike_load"))
    assert os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing (packaging/debian-packages.txt: chromium)"
    n = 120
    artifacts = os.environ.get("RAVEN_ARTIFACT_DIR") or tempfile.mkdtemp(prefix="raven-e2e-artifacts-")
    lb = lab(1)
    d = make_ravend(headend_config(pool_ranges=(("10.201.0.10", "10.201.1.250"),)), netns=lb.head, rest=True)
    wait_https(lb.head, d.rest_port)
    c = lb.clients[0]
    lb.spawn(c["ns"], load, "--hold", c["head_ip"], c["ip"], "3600", str(n), "rw-secret-1", "u%d.example.org",
             "20", "40", stdout=subprocess.DEVNULL)
    rest = Rest(d.rest_url, netns=lb.head)

    def up():
        m = re.search(r"^raven_sessions (\d+)$", rest.get("/metrics", accept=None).body, re.M)
        return m and int(m.group(1)) == n
    wait_until(up, timeout=120, what=f"{n} sessions up")
    ids = [str(e["id"]) for e in json.loads(rest.get(
        "/restconf/data/raven-vpn:vpn-state/session?fields=id").body)["raven-vpn:session"]]
    env = dict(os.environ, NODE_PATH=node_modules, CHROMIUM=CHROMIUM, RAVEN_E2E_URL=d.rest_url,
               RAVEN_E2E_ADMIN="admin", RAVEN_E2E_ADMIN_PW=ADMIN_PW, RAVEN_E2E_SESSIONS=str(n),
               RAVEN_E2E_PAGE_SIZE="50", RAVEN_ARTIFACT_DIR=artifacts)
    node = subprocess.Popen(["ip", "netns", "exec", lb.head, "node", os.path.join(HERE, "pages.e2e.js")], cwd=HERE,
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        out, _ = node.communicate(timeout=180)
    finally:
        if node.poll() is None:
            os.killpg(node.pid, signal.SIGKILL)
            node.wait()
    text = out.decode(errors="replace")
    print(text)
    assert node.returncode == 0 and "E2E-PASSED" in text, f"{text}\n--- ravend log tail:\n{d.log()[-3000:]}"
    shown = re.search(r"^E2E-IDS (.*)$", text, re.M).group(1).split()
    assert shown == sorted(ids, key=int), "the pages are not the server's list in id order"


def run_cluster_script(d, node_modules, cluster="", netns=None):
    """cluster.e2e.js against @d's REST endpoint; @cluster is its expectation
    (empty: no cluster, the card hidden)."""
    artifacts = os.environ.get("RAVEN_ARTIFACT_DIR") or tempfile.mkdtemp(prefix="raven-e2e-artifacts-")
    env = dict(os.environ, NODE_PATH=node_modules, CHROMIUM=CHROMIUM, RAVEN_E2E_URL=d.rest_url,
               RAVEN_E2E_ADMIN="admin", RAVEN_E2E_ADMIN_PW=ADMIN_PW, RAVEN_E2E_CLUSTER=cluster,
               RAVEN_ARTIFACT_DIR=artifacts)
    prefix = ["ip", "netns", "exec", netns] if netns else []
    node = subprocess.Popen(prefix + ["node", os.path.join(HERE, "cluster.e2e.js")], cwd=HERE, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        out, _ = node.communicate(timeout=120)
    finally:
        if node.poll() is None:
            os.killpg(node.pid, signal.SIGKILL)
            node.wait()
    text = out.decode(errors="replace")
    print(text)
    assert node.returncode == 0 and "E2E-PASSED" in text, f"{text}\n--- ravend log tail:\n{d.log()[-3000:]}"


def test_dashboard_cluster_card_hidden_without_cluster(make_ravend, node_modules):
    """A headend with no /cluster: the cluster card stays hidden once the panels
    were read, and reading its state shows no error (cluster.e2e.js)."""
    assert os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing (packaging/debian-packages.txt: chromium)"
    d = make_ravend(rest=True)
    run_cluster_script(d, node_modules)


class Etcd:
    """One etcd (Debian's etcd-server) on loopback ports of its own, its data in
    @workdir; stopped by PID."""

    def __init__(self, workdir):
        self.port, peer = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(workdir, "etcd.log")
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(
                ["etcd", "--name", "e2e", "--data-dir", os.path.join(workdir, "etcd"),
                 "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
                 "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                 "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                 "--initial-cluster", f"e2e=http://127.0.0.1:{peer}", "--log-level", "error"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        import urllib.request
        deadline = time.time() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as r:
                    if b'"true"' in r.read():
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise AssertionError(f"etcd did not start:\n{open(self.log_path).read()[-2000:]}")
            time.sleep(0.2)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def cluster_member(name, address, index, etcd_url):
    """A headend of a two-member cluster on loopback: IKE on @address (port 500),
    the pool's slice @index of 2, membership in the etcd at @etcd_url."""
    conf = headend_config().replace("<address>0.0.0.0</address>", f"<address>{address}</address>")
    conf = conf.replace("</ipv4-pool>", "</ipv4-pool><partition><count>2</count><index>%d</index></partition>" % index)
    assert "<partition>" in conf and address in conf
    return conf + f"""<cluster xmlns="{NS}"><name>{name}</name><address>{address}</address>
  <cluster-address>127.0.0.4</cluster-address><capacity>{100 * (index + 1)}</capacity><lease-ttl>5</lease-ttl>
  <etcd><endpoint>{etcd_url}</endpoint></etcd></cluster>"""


def test_dashboard_cluster_card_with_two_members(make_ravend, node_modules):
    """Two headends in one cluster with a real etcd, one session (ike_load) on
    raven-b: raven-a's dashboard shows both members (itself marked, raven-b with
    its session against its capacity, etcd connected) and finds the user's
    session on raven-b with the address raven-b gave (cluster.e2e.js)."""
    import json

    from resthelpers import Rest
    load = os.environ.get("IKE_LOAD", os.path.join(HERE, "..", "..", "build-test", "tests", "bench", "ike_load"))
    assert os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing (packaging/debian-packages.txt: chromium)"
    work = tempfile.mkdtemp(prefix="raven-e2e-etcd-")
    etcd = Etcd(work)
    hold = None
    try:
        a = make_ravend(cluster_member("raven-a", "127.0.0.2", 0, etcd.url), rest=True)
        b = make_ravend(cluster_member("raven-b", "127.0.0.3", 1, etcd.url), rest=True)
        hold = subprocess.Popen([load, "--hold", "127.0.0.3", "127.0.0.1", "600", "1", "rw-secret-1",
                                 "u%d.example.org"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        rb = Rest(b.rest_url)
        ra = Rest(a.rest_url)

        def b_session():
            doc = json.loads(rb.get("/restconf/data/raven-vpn:vpn-state/session").body or "{}")
            s = doc.get("raven-vpn:session") or []
            return s[0] if s else None
        wait_until(b_session, timeout=30, what="a session on raven-b")
        s = b_session()
        # the user as the cluster publishes it: authorized, else EAP, else the IKE identity
        rid = s.get("remote-identity")
        user = s.get("authorized-user") or s.get("eap-identity") or (rid.get("value") if isinstance(rid, dict) else rid)
        address = s["assigned-ipv4"]

        def a_sees():
            doc = json.loads(ra.get("/restconf/data/raven-vpn:vpn-state/cluster").body or "{}")
            c = doc.get("raven-vpn:cluster") or {}
            ms = {m["name"]: m for m in c.get("member", [])}
            return (c.get("etcd-state") == "connected" and set(ms) == {"raven-a", "raven-b"}
                    and str(ms["raven-b"].get("sessions")) == "1"
                    and any(x.get("member") == "raven-b" for x in c.get("session", [])))
        wait_until(a_sees, timeout=30, what="raven-a sees both members and raven-b's session")
        want = {"etcd": "connected", "user": user, "member": "raven-b", "address": address,
                "members": [{"name": "raven-a", "self": True, "sessions": 0, "capacity": 100},
                            {"name": "raven-b", "self": False, "sessions": 1, "capacity": 200}]}
        run_cluster_script(a, node_modules, json.dumps(want))
    finally:
        if hold and hold.poll() is None:
            os.killpg(hold.pid, signal.SIGKILL)
            hold.wait()
        etcd.stop()
        shutil.rmtree(work, ignore_errors=True)
