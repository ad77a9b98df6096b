"""The management front ends (raven-netconfd, raven-restd) run in processes of
their own that ravend starts and supervises (api/README.md, "Supervision"): what
ends or hangs there costs its own connections and nothing else.

    client ns (charon) --veth-- headend ns (ravend + its two front ends) --veth-- inside ns

- The libyang crash of api/netconf/README.md: the RPC
  <get><filter><s><n:e/><e/></s></filter></get>, sent raw over SSH by the
  read-only user (ncclient refuses to send malformed XML), while a strongSwan
  client pings the inside host through its tunnel: ravend keeps its PID, the
  ping loses nothing, NETCONF answers again within 5 s, raven-restd keeps its
  PID and REST answers throughout.
- raven-restd killed with SIGKILL: REST answers again within 5 s, an open NETCONF
  session and the tunnel are untouched, and the restart is counted in
  vpn-state/management.
- raven-restd stopped with SIGSTOP (a hang): it is found not answering its pings,
  killed and replaced by a new process within about 5 s.
- Privileges, from /proc/PID/status: the front ends run as an unprivileged user
  without any capability and with no-new-privs; ravend as test_smoke checks.
- A connection to the management socket from anything but a front end ravend
  started is closed at once and counted in refused-connections.
- A lock (and the uncommitted candidate) of a NETCONF session whose
  raven-netconfd is killed is released: another session can lock.
- Run from a tree the front ends' user cannot enter (a build in a private home),
  ravend copies what they need to a directory they can reach, and removes it.

The front ends are found through /proc: ravend's children by their names."""
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time

import paramiko
from lxml import etree

from conftest import NS, RAVEND, READER_PW, netns_connect
from nchelpers import data_of, pool_cfg, wait_until
from resthelpers import Rest
from test_validate_dry_run import background_ping, start_with_rest

REQUIRES = ("strongswan", "ping", "curl", "setpriv", "ncclient", "paramiko")

NETCONFD, RESTD = "raven-netconfd", "raven-restd"
CRASH_RPC = '<get><filter><s><n:e/><e/></s></filter></get>'
NC_BASE = "urn:ietf:params:xml:ns:netconf:base:1.0"
EOM = b"]]>]]>"


# ---- the processes ----

def proc_stat(pid):
    """(comm, state, ppid) of @pid from /proc/PID/stat, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    comm = s[s.index("(") + 1:s.rindex(")")]
    fields = s[s.rindex(")") + 2:].split()
    return comm, fields[0], int(fields[1])


def front_ends(ravend_pid):
    """{name: pid} of ravend's live children (zombies left out)."""
    out = {}
    for e in os.listdir("/proc"):
        if e.isdigit():
            st = proc_stat(int(e))
            if st and st[2] == ravend_pid and st[1] != "Z":
                out[st[0]] = int(e)
    return out


def front_end(d, name, timeout=10):
    """The PID of ravend's front end @name, waiting for it to be there."""
    return wait_until(lambda: front_ends(d.proc.pid).get(name), timeout=timeout, interval=0.05,
                      what=f"{name} running under ravend {d.proc.pid}")


def status(pid, tid=None):
    path = f"/proc/{pid}/task/{tid}/status" if tid else f"/proc/{pid}/status"
    with open(path) as f:
        return dict(line.split(":\t", 1) for line in f.read().splitlines() if ":\t" in line)


def mgmt_socket(pid):
    """The management socket a front end was started with (its --mgmt argument)."""
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        argv = f.read().split(b"\0")
    return argv[argv.index(b"--mgmt") + 1].decode()


# ---- management ----

def management(m):
    """vpn-state/management as an element."""
    root = data_of(m.get(filter=("subtree", f'<vpn-state xmlns="{NS}"><management/></vpn-state>')))
    el = root.find(f"{{{NS}}}vpn-state/{{{NS}}}management")
    assert el is not None, etree.tostring(root)
    return el


def front_end_state(m, name):
    el = management(m).find(f"{{{NS}}}front-end[{{{NS}}}name='{name}']")
    assert el is not None, etree.tostring(management(m))
    return {c.tag.split("}")[1]: c.text for c in el}


def netconf_answers(d, user="admin", **kw):
    """A new NETCONF session that answers a <get>; None when it cannot (yet)."""
    try:
        m = d.connect(user=user, timeout=3, **kw)
        management(m)
        return m
    except Exception:
        return None


def rest_answers(rest):
    return rest.get("/restconf/data/raven-vpn:vpn-state/management", timeout=3).status == 200


class RestWatch(threading.Thread):
    """Asks REST every 0.2 s until stopped; every status code is kept."""

    def __init__(self, rest):
        super().__init__(daemon=True)
        self.rest, self.codes, self.halt = rest, [], threading.Event()

    def run(self):
        while not self.halt.is_set():
            self.codes.append(self.rest.get("/restconf/data/raven-vpn:vpn-state/management", timeout=3).status)
            self.halt.wait(0.2)

    def stop(self):
        self.halt.set()
        self.join(timeout=10)
        return self.codes


def ping_summary(p):
    """(transmitted, received) from ping -q's summary."""
    out, _ = p.communicate(timeout=60)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    assert m, out
    return int(m.group(1)), int(m.group(2))


def raw_netconf(ns, port, user, password, rpc_body, timeout=5):
    """Sends hello (base 1.0) and @rpc_body as RPC 1 over SSH as @user, framed with
    ]]>]]>, bypassing any client-side XML check. Returns what came back after the
    server's hello until end of message, end of connection or @timeout, and
    whether the connection was closed."""
    sock = netns_connect(ns, "127.0.0.1", port) if ns else socket.create_connection(("127.0.0.1", port), timeout=10)
    t = paramiko.Transport(sock)
    try:
        t.connect(username=user, password=password)
        ch = t.open_session()
        ch.invoke_subsystem("netconf")
        ch.settimeout(timeout)
        ch.sendall(f'<?xml version="1.0" encoding="UTF-8"?><hello xmlns="{NC_BASE}"><capabilities>'
                   f'<capability>urn:ietf:params:netconf:base:1.0</capability></capabilities></hello>'.encode() + EOM)
        buf = b""
        while EOM not in buf:
            chunk = ch.recv(65536)
            assert chunk, f"no hello from the server: {buf!r}"
            buf += chunk
        rest = buf.split(EOM, 1)[1]
        ch.sendall(f'<?xml version="1.0" encoding="UTF-8"?><rpc message-id="1" xmlns="{NC_BASE}">'
                   f'{rpc_body}</rpc>'.encode() + EOM)
        closed = False
        deadline = time.time() + timeout
        while EOM not in rest and time.time() < deadline:
            try:
                chunk = ch.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                closed = True
                break
            rest += chunk
        return rest.decode(errors="replace"), closed
    finally:
        t.close()


# ---- the tests ----

def test_crashing_rpc_costs_only_the_netconf_front_end(make_ravend, lab):
    lb, d = start_with_rest(make_ravend, lab)
    c = lb.clients[0]
    rest = Rest(d.rest_url, netns=lb.head)
    ravend_pid, restd = d.proc.pid, front_end(d, RESTD)
    netconfd = front_end(d, NETCONFD)
    assert rest_answers(rest)
    pings = background_ping(lb, c, 160)  # 8 s
    time.sleep(1)
    watch = RestWatch(rest)
    watch.start()
    sent = time.time()
    reply, closed = raw_netconf(lb.head, d.port, "reader", READER_PW, CRASH_RPC)
    m = wait_until(lambda: netconf_answers(d, user="reader", password=READER_PW), timeout=5, interval=0.2,
                   what="NETCONF answering again")
    answered_after = time.time() - sent
    time.sleep(1)
    codes = watch.stop()
    sent_n, received = ping_summary(pings)

    assert d.proc.poll() is None and d.proc.pid == ravend_pid, d.log()[-3000:]
    assert sent_n == 160 and received == sent_n, (sent_n, received)
    assert answered_after < 5, answered_after
    assert front_ends(ravend_pid).get(RESTD) == restd
    assert codes and all(code == 200 for code in codes), codes
    # libyang 2.1.30 crashes on it: the front end died and another took its place;
    # a libyang that answers with an error instead leaves it running
    if closed or "rpc-reply" not in reply:
        new = front_end(d, NETCONFD)
        assert new != netconfd
        st = front_end_state(m, "netconf")
        assert int(st["restarts"]) >= 1 and st["state"] == "running", st
    else:
        assert "rpc-error" in reply, reply
    # the tunnel is the one it was
    assert lb.swanctl(0, "--list-sas").stdout.count("ESTABLISHED") == 1


def test_killed_rest_front_end_is_replaced(make_ravend, lab):
    lb, d = start_with_rest(make_ravend, lab)
    c = lb.clients[0]
    rest = Rest(d.rest_url, netns=lb.head)
    m = d.connect()
    netconfd, restd = front_end(d, NETCONFD), front_end(d, RESTD)
    before = front_end_state(m, "rest")
    assert before["state"] == "running" and before["pid"] == str(restd), before
    pings = background_ping(lb, c, 100)  # 5 s
    time.sleep(0.5)
    os.kill(restd, signal.SIGKILL)
    killed = time.time()
    wait_until(lambda: rest_answers(rest), timeout=5, interval=0.1, what="REST answering again")
    assert time.time() - killed < 5
    sent_n, received = ping_summary(pings)
    assert received == sent_n, (sent_n, received)
    # the NETCONF session opened before is the same, and answers
    after = front_end_state(m, "rest")
    assert front_end(d, NETCONFD) == netconfd
    assert after["pid"] != str(restd) and int(after["restarts"]) == int(before["restarts"]) + 1, after
    assert after["last-exit"] == "killed by signal 9", after
    assert d.proc.poll() is None


def test_hung_rest_front_end_is_detected_and_replaced(make_ravend, lab):
    lb, d = start_with_rest(make_ravend, lab)
    rest = Rest(d.rest_url, netns=lb.head)
    m = d.connect()
    restd = front_end(d, RESTD)
    os.kill(restd, signal.SIGSTOP)
    stopped = time.time()
    try:
        new = wait_until(lambda: (p := front_ends(d.proc.pid).get(RESTD)) and p != restd and p, timeout=6,
                         interval=0.1, what="a new raven-restd")
    finally:
        if proc_stat(restd):
            os.kill(restd, signal.SIGCONT)  # should it still be there, let it go
    assert time.time() - stopped < 5.5
    wait_until(lambda: proc_stat(restd) is None, timeout=2, what="the hung raven-restd reaped")
    wait_until(lambda: rest_answers(rest), timeout=5, interval=0.1, what="REST answering again")
    st = front_end_state(m, "rest")
    assert st["pid"] == str(new) and st["last-exit"].startswith("hang"), st
    assert d.proc.poll() is None


# CAP_KILL 5, CAP_SETGID 6, CAP_SETUID 7, CAP_SETPCAP 8: ravend keeps them
# permitted (never effective but for a moment) to start the front ends as their
# user and signal them; the rest as test_smoke.KEPT
RAVEND_EFFECTIVE = {10, 12, 13, 14, 21, 38, 39}
RAVEND_PERMITTED = RAVEND_EFFECTIVE | {5, 6, 7, 8}


def test_front_ends_run_unprivileged(make_ravend):
    d = make_ravend(rest=True)
    for name in (NETCONFD, RESTD):
        pid = front_end(d, name)
        for tid in os.listdir(f"/proc/{pid}/task"):
            st = status(pid, tid)
            uids, gids = st["Uid"].split(), st["Gid"].split()
            assert "0" not in uids and "0" not in gids, (name, st["Uid"], st["Gid"])
            assert not st["Groups"].split(), (name, st["Groups"])
            for field in ("CapEff", "CapPrm", "CapInh", "CapAmb", "CapBnd"):
                assert int(st[field], 16) == 0, (name, tid, field, st[field])
            assert st["NoNewPrivs"].strip() == "1", (name, tid)
        # its user cannot read ravend's state directory (running configuration, keys)
        uid, gid = st["Uid"].split()[0], st["Gid"].split()[0]
        r = subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "cat",
                            os.path.join(d.state_dir, "running.xml")], capture_output=True, text=True)
        assert r.returncode != 0 and "Permission denied" in r.stderr, (r.returncode, r.stderr)
    pid = d.proc.pid
    for tid in os.listdir(f"/proc/{pid}/task"):
        st = status(pid, tid)
        eff, prm = int(st["CapEff"], 16), int(st["CapPrm"], 16)
        assert {b for b in range(64) if eff >> b & 1} <= RAVEND_EFFECTIVE, (tid, st["CapEff"])
        assert {b for b in range(64) if prm >> b & 1} <= RAVEND_PERMITTED, (tid, st["CapPrm"])
        assert int(st["CapInh"], 16) == 0 and int(st["CapAmb"], 16) == 0
        assert st["NoNewPrivs"].strip() == "1"


def test_foreign_connection_to_the_management_socket_is_refused(make_ravend):
    d = make_ravend()
    m = d.connect()
    before = int(management(m).findtext(f"{{{NS}}}refused-connections"))
    path = mgmt_socket(front_end(d, NETCONFD))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect("\0" + path[1:] if path.startswith("@") else path)
        # a front end's first frame (api/README.md), on a connection that is not one
        hello = b'{"id": 1, "op": "hello", "kind": "rest", "version": 1}'
        try:
            s.sendall(struct.pack(">II", len(hello), 0) + hello)
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed already
        t0, data = time.time(), b""
        try:
            while chunk := s.recv(4096):
                data += chunk
        except ConnectionResetError:
            pass
        assert time.time() - t0 < 1.5, "the connection was not closed at once"
        assert b'"gen"' not in data, data  # no hello reply
    finally:
        s.close()
    wait_until(lambda: int(management(m).findtext(f"{{{NS}}}refused-connections")) == before + 1, timeout=3,
               what="the refused connection counted")
    assert d.proc.poll() is None


def test_locks_of_a_killed_netconf_front_end_are_released(make_ravend):
    d = make_ravend(rest=True)
    m1 = d.connect()
    m1.lock("running")
    m1.lock("candidate")
    m1.edit_config(target="candidate", config=pool_cfg("uncommitted"))
    netconfd = front_end(d, NETCONFD)
    os.kill(netconfd, signal.SIGKILL)
    wait_until(lambda: (p := front_ends(d.proc.pid).get(NETCONFD)) and p != netconfd, timeout=5,
               what="a new raven-netconfd")
    m2 = wait_until(lambda: netconf_answers(d), timeout=5, interval=0.2, what="NETCONF answering again")
    m2.lock("running")
    m2.lock("candidate")
    cand = data_of(m2.get_config(source="candidate", filter=("subtree", f'<pools xmlns="{NS}"/>')))
    assert b"uncommitted" not in etree.tostring(cand)
    m2.unlock("candidate")
    m2.unlock("running")
    assert d.proc.poll() is None


def test_front_ends_run_from_a_tree_their_user_cannot_enter(make_ravend):
    d = make_ravend(rest=True, start=False)
    priv = os.path.join(d.workdir, "priv")  # inside the 0700 work directory
    os.makedirs(os.path.join(priv, "bin"))
    os.chmod(d.workdir, 0o700)
    build = os.path.dirname(os.path.dirname(os.path.abspath(RAVEND)))
    for exe in (RAVEND, os.path.join(build, "api", "netconf", NETCONFD), os.path.join(build, "api", "rest", RESTD)):
        shutil.copy2(exe, os.path.join(priv, "bin"))
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    shutil.copytree(os.path.join(root, "yang"), os.path.join(priv, "yang"))
    shutil.copytree(os.path.join(root, "web"), os.path.join(priv, "web"))
    d.exe = os.path.join(priv, "bin", "ravend")
    d.extra_args = ["-y", os.path.join(priv, "yang"), "-w", os.path.join(priv, "web")]
    d.start()
    staged = re.findall(r"copied to (/tmp/raven-frontends-\w+)", d.log())
    assert staged and len(set(staged)) == 1, d.log()[-3000:]
    assert os.stat(staged[0]).st_mode & 0o755 == 0o755
    m = wait_until(lambda: netconf_answers(d), timeout=10, interval=0.2, what="NETCONF from the copied front end")
    assert front_end_state(m, "netconf")["restarts"] == "0"
    rest = Rest(d.rest_url)
    assert rest.get("/ui/", auth="none", accept=None).status == 200
    assert d.stop() == 0
    assert not os.path.exists(staged[0]), "the copies outlived ravend"
