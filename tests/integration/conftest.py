"""Fixtures for the NETCONF integration tests: each test gets its own ravend (own
state directory, own loopback port) and talks to it with ncclient, a third-party
NETCONF client. Every daemon started here is stopped by PID when the test ends,
also on failure."""
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import ncclient.transport.ssh
from ncclient import manager

import prereq

# ncclient's session thread sends queued requests only when its select() wakes up,
# every TICK seconds (0.1 by default): every RPC would wait up to that long.
ncclient.transport.ssh.TICK = 0.01

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
RAVEND = os.environ.get("RAVEND", os.path.join(ROOT, "build", "daemon", "ravend"))
NS = "urn:raven:params:xml:ns:yang:raven-vpn"
NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"

ADMIN_PW = "admin-secret-1"
READER_PW = "reader-secret-1"


@pytest.fixture(autouse=True, scope="module")
def _prerequisites(request):
    """Fails every test of a module whose REQUIRES (programs, Python modules,
    "strongswan") or REQUIRES_PLUGINS (strongSwan plugins) are missing, naming each
    with its Debian package, before anything is started."""
    msgs = prereq.missing(getattr(request.module, "REQUIRES", ()), getattr(request.module, "REQUIRES_PLUGINS", ()))
    if msgs:
        pytest.fail("missing prerequisites:\n  " + "\n  ".join(msgs), pytrace=False)


_libc = ctypes.CDLL("libc.so.6", use_errno=True)
CLONE_NEWNET = 0x40000000


def netns_connect(ns, host, port, timeout=10):
    """A TCP connection made from inside network namespace @ns: the calling
    thread enters it for the connect() and returns; the socket stays there."""
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        if _libc.setns(target, CLONE_NEWNET):
            raise OSError(ctypes.get_errno(), f"setns {ns}")
        try:
            return socket.create_connection((host, port), timeout=timeout)
        finally:
            if _libc.setns(own, CLONE_NEWNET):
                raise OSError(ctypes.get_errno(), "setns back")
    finally:
        os.close(own)
        os.close(target)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def crypt_hash(pw):
    out = subprocess.run(["openssl", "passwd", "-6", pw], check=True, capture_output=True, text=True)
    return out.stdout.strip()


@pytest.fixture(scope="session")
def keypair(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    key = d / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return str(key), (d / "id_ed25519.pub").read_text().strip()


@pytest.fixture(scope="session")
def hashes():
    return {"admin": crypt_hash(ADMIN_PW), "reader": crypt_hash(READER_PW)}


def initial_config(port, hashes, pubkey, extra="", rest_port=None):
    rest = (f"<rest><endpoint><name>test</name><address>127.0.0.1</address><port>{rest_port}</port></endpoint></rest>"
            if rest_port else "")
    return f"""<management xmlns="{NS}">
  <netconf><endpoint><name>test</name><address>127.0.0.1</address><port>{port}</port></endpoint></netconf>{rest}
  <user><name>admin</name><password-hash>{hashes['admin']}</password-hash>
        <authorized-key>{pubkey}</authorized-key><role>admin</role></user>
  <user><name>reader</name><password-hash>{hashes['reader']}</password-hash><role>read-only</role></user>
</management>{extra}
"""


ARENA_BASE = "/dev/shm"  # tmpfs: the session arena is never written to disk


class Ravend:
    """One ravend process with its state directory and its own session arena:
    --arena PATH in a directory of its own under /dev/shm, removed by cleanup().
    A test may set `arena` before start(): another path, or "none" (no arena:
    SIGTERM ends every session with a DELETE, a new process starts empty)."""

    def __init__(self, workdir, port, config_xml, netns=None):
        self.netns = netns
        self.workdir = workdir
        self.state_dir = os.path.join(workdir, "state")
        self.port = port
        self.config_file = os.path.join(workdir, "initial.xml")
        with open(self.config_file, "w") as f:
            f.write(config_xml)
        self.log_path = os.path.join(workdir, "ravend.log")
        self.exe, self.extra_args = RAVEND, []  # a test may run another copy, with more options
        self.arena_dir = tempfile.mkdtemp(prefix="raven-test-", dir=ARENA_BASE)
        self.arena = os.path.join(self.arena_dir, "arena")
        self.proc = None
        self.managers = []
        self.log_mark = 0  # where the log of the latest start begins
        self.started_at = self.ready_at = None  # when the latest start began, and its "ready" line was seen

    def start(self, timeout=30, once=()):
        """Starts ravend and waits for its "ready" line (of this start, not an
        earlier one in the same log). @once: options for this start only (e.g.
        --fresh)."""
        log = open(self.log_path, "a")
        mark = self.log_mark = log.tell()
        self.started_at = time.time()
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        self.proc = subprocess.Popen(
            prefix + [self.exe, "-f", "-d", self.state_dir, "-c", self.config_file, "-l", "info",
                      "--arena", self.arena] + self.extra_args + list(once),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ravend exited with {self.proc.returncode}:\n{self.log()}")
            with open(self.log_path, "rb") as f:
                f.seek(mark)
                if b"ravend: ready" in f.read():
                    self.ready_at = time.time()
                    return
            time.sleep(0.02)
        raise RuntimeError(f"ravend not ready in {timeout}s:\n{self.log()}")

    def log(self, since_start=False):
        """The log, or with @since_start only what the latest start wrote."""
        with open(self.log_path, errors="replace") as f:
            if since_start:
                f.seek(self.log_mark)
            return f.read()

    def connect(self, user="admin", password=ADMIN_PW, key=None, timeout=30, port=None):
        kw = dict(host="127.0.0.1", port=port or self.port, username=user, hostkey_verify=False,
                  look_for_keys=False, allow_agent=False, timeout=timeout)
        if self.netns:
            kw["sock"] = netns_connect(self.netns, "127.0.0.1", port or self.port)
        if key:
            kw["key_filename"] = key
        else:
            kw["password"] = password
        m = manager.connect(**kw)
        self.managers.append(m)
        return m

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Stops the daemon by PID. With SIGTERM and arena "none" the client
        sessions are closed first (a clean shutdown); with an arena they are kept
        there for the next start (a planned restart). With SIGKILL the process
        dies first, as in a crash."""
        if sig == signal.SIGKILL and self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            self.proc.wait()
        for m in self.managers:
            try:
                if sig == signal.SIGKILL:
                    m._session.close()
                else:
                    m.close_session()
            except Exception:
                pass
        self.managers = []
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        return rc

    def kill9(self):
        return self.stop(sig=signal.SIGKILL)

    def running_file(self):
        """running as persisted: the snapshot running.xml and the journal of the
        change sets committed since (binary, read as latin-1)."""
        with open(os.path.join(self.state_dir, "running.xml")) as f:
            snap = f.read()
        try:
            with open(os.path.join(self.state_dir, "running.journal"), "rb") as f:
                return snap + f.read().decode("latin-1")
        except FileNotFoundError:
            return snap

    def cleanup(self):
        """Removes the work directory and the arena's directory (call stopped)."""
        shutil.rmtree(self.workdir, ignore_errors=True)
        shutil.rmtree(self.arena_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def hostkey(tmp_path_factory):
    """An SSH host key made once per test session and copied into each state
    directory, so that daemons do not each spend time generating one."""
    path = tmp_path_factory.mktemp("hostkey") / "ssh_host_rsa_key"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072",
                    "-out", str(path)], check=True, capture_output=True)
    return path.read_bytes()


@pytest.fixture
def make_ravend(hashes, keypair, hostkey):
    """Factory: make_ravend(extra_config_xml="") -> started Ravend.
    seed_hostkey=False lets the daemon generate its own host key; arena="none"
    (or a path) replaces the daemon's own session arena (Ravend)."""
    created = []

    def make(extra="", start=True, seed_hostkey=True, netns=None, rest=False, arena=None):
        workdir = tempfile.mkdtemp(prefix="raven-it-")
        port = free_port() if not netns else 8300
        rest_port = (free_port() if not netns else 8443) if rest else None
        d = Ravend(workdir, port, initial_config(port, hashes, keypair[1], extra, rest_port), netns=netns)
        d.rest_port = rest_port
        d.rest_url = f"https://127.0.0.1:{rest_port}" if rest_port else None
        created.append(d)
        if arena is not None:
            d.arena = arena
        if seed_hostkey:
            os.makedirs(d.state_dir, mode=0o700)
            fd = os.open(os.path.join(d.state_dir, "ssh_host_rsa_key"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(hostkey)
        if start:
            d.start()
        return d

    yield make
    # Every daemon a test left running must stop cleanly on SIGTERM: a crash, a
    # sanitizer report (the suite runs ASan/UBSan builds) or a hang fails the test.
    problems = []
    for d in created:
        was_running = d.proc is not None
        rc = d.stop()
        if was_running and rc != 0:
            problems.append(f"ravend ({d.workdir}) exited with status {rc}; log tail:\n{d.log()[-4000:]}")
        d.cleanup()
    # a ravend of the host's namespace must never have attached XDP to the host's
    # interfaces (tests with dataplane interfaces run in namespaces: ifns, lab)
    if any(d.netns is None for d in created):
        links = json.loads(subprocess.run(["ip", "-j", "-d", "link", "show"], capture_output=True, text=True,
                                          check=True).stdout)
        for ln in links:
            if "xdp" in ln and "raven" in json.dumps(ln["xdp"]):
                problems.append(f"Raven's XDP program is attached to the host's {ln['ifname']}")
    assert not problems, "\n".join(problems)


@pytest.fixture
def ravend(make_ravend):
    return make_ravend()


_ifns_seq = iter(range(1, 1 << 30))


@pytest.fixture
def ifns():
    """A namespace of the test's own with the interfaces eth0 and eth9 (a veth pair,
    up): a ravend whose committed configuration names dataplane interfaces attaches
    XDP to them for real, so it must run here (make_ravend(netns=ifns)), never in
    the host's namespace."""
    ns = f"rvif{os.getpid() % 100000}n{next(_ifns_seq)}"
    subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        for c in (["link", "add", "eth0", "type", "veth", "peer", "name", "eth9"], ["link", "set", "eth0", "up"],
                  ["link", "set", "eth9", "up"], ["link", "set", "lo", "up"]):
            subprocess.run(["ip", "-n", ns, *c], check=True)
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


def cfg(body):
    """Wrap configuration XML in a NETCONF <config> element."""
    return f'<config xmlns="{NC_NS}" xmlns:nc="{NC_NS}">{body}</config>'


@pytest.fixture
def lab():
    """Factory: lab(n=1, nat=False) -> a namespace lab (lab.py) with @n strongSwan
    client namespaces; every namespace and process of it goes when the test ends."""
    from lab import Lab
    labs = []

    def make(n=1, **kw):
        lb = Lab(n, tag=f"r{len(labs)}", **kw)
        labs.append(lb)
        return lb

    yield make
    for lb in labs:
        lb.close()
