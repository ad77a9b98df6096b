"""IKEv2 redirect (RFC 5685) between two Raven gateways, with real strongSwan
clients (5.9.8 follows redirects by default, charon.follow_redirects):
REDIRECT at IKE_SA_INIT to a static gateway (an address, or a name the
client resolves), above-sessions, rpc redirect-sessions moving established
sessions (all, by user, the oldest by count), a client that does not
announce support, a REDIRECT forged by a client (Raven's test initiator,
ike_probe), which is answered and ignored, clients (ike_probe) that answer a
REDIRECT and do not move, deleted by the gateway, and a gateway at max-sa
redirecting.

Topology (IKE only, no dataplane):
    [client i: 10.<n>.<i>.2] --veth-- [headend namespace: 10.<n>.<i>.1,
                                       lo: A 10.<n>.240.1 (ravend A, NETCONF 8300)
                                           B 10.<n>.240.2 (ravend B, NETCONF 8301)]
Clients reach 10.<n>.240.0/24 through their link; each dials A.
"""
import os
import shutil
import subprocess
import tempfile

import pytest
from lxml import etree

from conftest import NS, Ravend, initial_config
from lab import psk_client_conf, sh
from nchelpers import expect_error, rpc, wait_until
from test_ike_sessions import headend_config, sessions, state, t
from test_ike_strongswan import PROBE

REQUIRES = ("strongswan",)


def gw_config(addr, redirect="", limit=""):
    """The PSK headend of test_ike_sessions listening on @addr only, with
    <redirect>@redirect</redirect> and <limit>@limit</limit> in ikev2/global
    when given."""
    x = headend_config().replace("<listen><address>0.0.0.0</address></listen>",
                                 f"<listen><address>{addr}</address></listen>")
    if redirect:
        x = x.replace("</listen></global>", f"</listen><redirect>{redirect}</redirect></global>")
    if limit:
        x = x.replace("</listen>", f"</listen><limit>{limit}</limit>", 1)
    return x


class Pair:
    """Gateways A and B (two ravend) in the lab's headend namespace, on
    addresses of its loopback; every client routes to them through its link."""

    def __init__(self, lb, hashes, keypair, hostkey, a_redirect="", b_redirect="", a_limit=""):
        """@a_redirect, @b_redirect: the gateways' ikev2/global/redirect
        contents, "{a}" and "{b}" standing for their addresses; @a_limit: A's
        ikev2/global/limit contents."""
        self.lb, self.dirs, self.gws = lb, [], []
        n = lb.net
        self.a, self.b = f"10.{n}.240.1", f"10.{n}.240.2"
        for ip in (self.a, self.b):  # no dummy devices on this kernel: the namespace's loopback
            sh("ip", "-n", lb.head, "addr", "add", f"{ip}/32", "dev", "lo")
        for c in lb.clients:
            sh("ip", "-n", c["ns"], "route", "add", f"10.{n}.240.0/24", "via", c["head_ip"])
        for port, addr, red, lim in ((8300, self.a, a_redirect, a_limit), (8301, self.b, b_redirect, "")):
            red = red.format(a=self.a, b=self.b)
            wd = tempfile.mkdtemp(prefix="raven-it-")
            d = Ravend(wd, port, initial_config(port, hashes, keypair[1], gw_config(addr, red, lim)), netns=lb.head)
            self.gws.append(d)
            os.makedirs(d.state_dir, mode=0o700)
            fd = os.open(os.path.join(d.state_dir, "ssh_host_rsa_key"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(hostkey)
            d.start()
        self.A, self.B = self.gws
        self.ma, self.mb = self.A.connect(), self.B.connect()

    def client(self, i, my_id, follow=True):
        """Client @i dials A; the result of swanctl --initiate."""
        extra = "" if follow else "  follow_redirects = no"
        self.lb.start_charon(i, psk_client_conf(self.a, my_id), extra)
        return self.lb.swanctl(i, "--initiate", "--child", "vpn", "--timeout", "20", check=False)

    def hosts(self, i, text):
        """/etc/hosts of client @i's namespace (ip netns exec mounts
        /etc/netns/NS/hosts over it for each program it starts)."""
        d = f"/etc/netns/{self.lb.clients[i]['ns']}"
        os.makedirs(d, exist_ok=True)
        self.dirs.append(d)
        with open(f"{d}/hosts", "w") as f:
            f.write(text)

    def close(self):
        """Stops both gateways: [(exit status, log tail)]."""
        rcs, error = [], None
        for d in self.gws:
            try:  # one that fails to stop does not leave the other running
                rc = d.stop()
                rcs.append((rc, d.log()[-3000:] if os.path.exists(d.log_path) else ""))
            except Exception as ex:
                error = error or ex
            d.cleanup()
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)
        if error:
            raise error
        return rcs


@pytest.fixture
def pair(lab, hashes, keypair, hostkey):
    """Factory: pair(n_clients, a_redirect=..., b_redirect=...) -> Pair; both
    gateways must stop cleanly on SIGTERM at the end."""
    made = []

    def make(n=1, **kw):
        lb = lab(n)
        p = Pair.__new__(Pair)
        p.gws, p.dirs = [], []
        made.append(p)
        Pair.__init__(p, lb, hashes, keypair, hostkey, **kw)
        return p

    yield make
    problems, error = [], None
    for p in made:
        try:
            for rc, tail in p.close():
                if rc not in (0, None):
                    problems.append(f"ravend exited with {rc}:\n{tail}")
        except Exception as ex:
            error = error or ex
    if error:
        raise error
    assert not problems, "\n".join(problems)


def counter(m, name):
    return int(t(state(m), f"ike-counters/redirect/{name}") or 0)


def ike_peer(p, i):
    """The gateway address client @i holds an established IKE SA with."""
    sas = p.lb.swanctl(i, "--list-sas").stdout
    assert "ESTABLISHED" in sas, sas
    got = [gw for gw in (p.a, p.b) if f"{gw}[" in sas]
    assert len(got) == 1, sas
    return got[0]


def redirect(m, sel, gateway=None):
    """rpc redirect-sessions: (redirected, not-supported)."""
    gw = f"<gateway>{gateway}</gateway>" if gateway else ""
    reply = etree.fromstring(rpc(m, f'<redirect-sessions xmlns="{NS}">{sel}{gw}</redirect-sessions>').xml.encode())
    return tuple(int(reply.xpath(f"//*[local-name()='{k}']")[0].text) for k in ("redirected", "not-supported"))


def test_redirect_at_init_to_a_static_gateway(pair):
    p = pair(2, a_redirect="<gateway>{b}</gateway>")
    r = p.client(0, "c0.example.org")
    log = p.lb.log(0)
    assert r.returncode == 0, f"{r.stdout}\n{log[-4000:]}\n{p.A.log()[-2000:]}\n{p.B.log()[-2000:]}"
    # the client was told at IKE_SA_INIT and set its IKE SA up with B
    assert f"redirected to {p.b}" in log, log[-4000:]
    assert ike_peer(p, 0) == p.b
    assert len(sessions(p.mb)) == 1 and not sessions(p.ma)
    assert counter(p.ma, "at-init") == 1 and counter(p.mb, "redirected-from") == 1
    # A kept no IKE SA, not even a half-open one
    assert t(state(p.ma), "ike-counters/sa/half-open") == "0"
    assert f"IKE_SA_INIT from {p.lb.clients[0]['ip']} redirected to {p.b}" in p.A.log()

    # a client that does not follow redirects does not announce support: A serves it
    r = p.client(1, "c1.example.org", follow=False)
    assert r.returncode == 0, f"{r.stdout}\n{p.lb.log(1)[-4000:]}"
    assert ike_peer(p, 1) == p.a
    assert counter(p.ma, "at-init") == 1
    # nor can it be moved later: counted, left where it is
    assert redirect(p.ma, "<all/>", p.b) == (0, 1)
    assert counter(p.ma, "established") == 0
    assert len(sessions(p.ma)) == 1
    # clear-counters (scope ike) resets them
    rpc(p.ma, f'<clear-counters xmlns="{NS}"><scope>ike</scope></clear-counters>')
    assert counter(p.ma, "at-init") == 0


def test_above_sessions_and_moving_a_user(pair):
    p = pair(2, a_redirect="<gateway>{b}</gateway><above-sessions>1</above-sessions>")
    # the first client stays: A holds no session yet
    assert p.client(0, "c0.example.org").returncode == 0, p.lb.log(0)[-4000:]
    assert ike_peer(p, 0) == p.a
    # the next one is sent to B
    assert p.client(1, "c1.example.org").returncode == 0, p.lb.log(1)[-4000:]
    assert ike_peer(p, 1) == p.b
    assert counter(p.ma, "at-init") == 1
    # redirect-sessions by user, without regard to case: the first client moves to B
    assert redirect(p.ma, "<user>C0.Example.ORG</user>", p.b) == (1, 0)
    wait_until(lambda: len(sessions(p.mb)) == 2 and not sessions(p.ma), timeout=20,
               what="the client set up its session with B and deleted A's")
    assert ike_peer(p, 0) == p.b
    assert counter(p.ma, "established") == 1 and counter(p.mb, "redirected-from") == 2
    assert f"redirected to {p.b}" in p.lb.log(0)
    # a user with no session: nothing
    assert redirect(p.ma, "<user>nobody</user>", p.b) == (0, 0)


def test_redirect_at_max_sa(pair):
    """A gateway at its limit (max-sa) is where redirect helps most: a new
    client is redirected (here with above-sessions at max-sa), not dropped."""
    p = pair(2, a_redirect="<gateway>{b}</gateway><above-sessions>1</above-sessions>",
             a_limit="<max-sa>1</max-sa>")
    assert p.client(0, "c0.example.org").returncode == 0, p.lb.log(0)[-4000:]
    assert ike_peer(p, 0) == p.a
    # A is full: the next client is sent to B at once
    r = p.client(1, "c1.example.org")
    assert r.returncode == 0, f"{r.stdout}\n{p.lb.log(1)[-4000:]}\n{p.A.log()[-2000:]}"
    assert f"redirected to {p.b}" in p.lb.log(1)
    assert ike_peer(p, 1) == p.b
    st = state(p.ma)
    assert counter(p.ma, "at-init") == 1
    assert t(st, "ike-counters/rejected-by-reason/sa-limit") == "0"


def test_redirect_sessions_count_then_all(pair):
    p = pair(2)
    for i in range(2):
        assert p.client(i, f"c{i}.example.org").returncode == 0, p.lb.log(i)[-4000:]
        assert ike_peer(p, i) == p.a
    # without a gateway and without a cluster there is nowhere to go: nothing sent
    e = expect_error(lambda: redirect(p.ma, "<all/>"), "operation-failed")
    assert "no gateway given and no cluster member" in e.message
    # a gateway that is no address nor name is refused by the model
    e = expect_error(lambda: redirect(p.ma, "<all/>", "bad gateway!"), "operation-failed")
    assert '"bad gateway!"' in e.message
    assert counter(p.ma, "established") == 0
    # the oldest first
    assert redirect(p.ma, "<count>1</count>", p.b) == (1, 0)
    wait_until(lambda: len(sessions(p.mb)) == 1 and len(sessions(p.ma)) == 1, timeout=20,
               what="the oldest session moved to B")
    assert ike_peer(p, 0) == p.b and ike_peer(p, 1) == p.a
    assert redirect(p.ma, "<all/>", p.b) == (1, 0)
    wait_until(lambda: len(sessions(p.mb)) == 2 and not sessions(p.ma), timeout=20, what="A drained")
    assert ike_peer(p, 1) == p.b
    assert counter(p.ma, "established") == 2 and t(state(p.ma), "ike-counters/sa/active") == "0"
    # the read-only role may not move sessions, as it may not clear them
    reader = p.A.connect(user="reader", password="reader-secret-1")
    expect_error(lambda: redirect(reader, "<all/>", p.b), "access-denied")


def test_fqdn_gateway(pair):
    p = pair(1, a_redirect="<gateway>gw-b.redirect.test</gateway>")
    # the wire form, as Raven's test initiator sees it: GW Ident Type 3 (FQDN),
    # the name, the initiator's nonce; no responder SPI, REDIRECT alone
    c = p.lb.clients[0]
    r = subprocess.run(["ip", "netns", "exec", c["ns"], PROBE, "client", p.a, "c0.example.org", "rw-secret-1",
                        "redirect-supported"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 3, f"{r.stdout}\n{r.stderr}"
    assert "redirect 3 gw-b.redirect.test nonce=ok payloads=1 spi_r=zero" in r.stdout, r.stdout
    # strongSwan resolves the name (its namespace's hosts file) and ends up on B
    p.hosts(0, f"127.0.0.1 localhost\n{p.b} gw-b.redirect.test\n")
    r = p.client(0, "c0.example.org")
    assert r.returncode == 0, p.lb.log(0)[-4000:]
    assert "redirected to gw-b.redirect.test" in p.lb.log(0)
    assert ike_peer(p, 0) == p.b
    assert counter(p.ma, "at-init") == 2 and counter(p.mb, "redirected-from") == 1


def test_a_clients_redirect_is_ignored(pair):
    p = pair(1)
    c = p.lb.clients[0]
    r = subprocess.run(["ip", "netns", "exec", c["ns"], PROBE, "client", p.a, "c0.example.org", "rw-secret-1",
                        "redirect-supported", f"send-redirect={p.b}"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}\n{p.A.log()[-3000:]}"
    # answered normally (no error notify), counted, logged, never acted on
    assert "redirect-answered 0" in r.stdout, r.stdout
    assert counter(p.ma, "refused-from-client") == 1
    assert f"the client sent REDIRECT to {p.b}; only a gateway redirects: ignored" in p.A.log()
    assert counter(p.ma, "established") == 0 and counter(p.mb, "redirected-from") == 0


def test_a_client_that_does_not_move_is_deleted(pair):
    """Two clients (Raven's test initiator) that answer the REDIRECT of
    redirect-sessions, one plainly and one with an error notify
    (TEMPORARY_FAILURE), and stay: 30 s after the answer A deletes both (a
    DELETE each, session-down reason redirected, counted not-followed), so a
    drain ends."""
    p = pair(2)
    probes = []
    for i, how in enumerate(("stay-redirected", "stay-redirected=43")):
        c = p.lb.clients[i]
        probes.append(subprocess.Popen(["ip", "netns", "exec", c["ns"], PROBE, "client", p.a, f"c{i}.example.org",
                                        "rw-secret-1", "redirect-supported", how],
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    try:
        wait_until(lambda: len(sessions(p.ma)) == 2, timeout=20, what="both probes established with A")
        assert redirect(p.ma, "<all/>", p.b) == (2, 0)
        outs = [pr.communicate(timeout=60) for pr in probes]
    finally:
        for pr in probes:
            if pr.poll() is None:
                pr.kill()
                pr.wait()
    for pr, (out, err) in zip(probes, outs):
        assert pr.returncode == 0, f"{out}\n{err}\n{p.A.log()[-3000:]}"
        assert f"redirect-received {p.b}" in out, out
        secs = int(out.split("deleted-by-gateway after ")[1].split()[0])
        assert 29 <= secs <= 40, out
    assert not sessions(p.ma)
    assert counter(p.ma, "not-followed") == 2 and counter(p.ma, "established") == 2
    log = p.A.log()
    assert "the client answered REDIRECT with error 43" in log
    assert log.count("after the client answered REDIRECT: deleted") == 2
    rpc(p.ma, f'<clear-counters xmlns="{NS}"><scope>ike</scope></clear-counters>')
    assert counter(p.ma, "not-followed") == 0


def test_adopted_session_can_be_redirected(pair):
    p = pair(1)
    assert p.client(0, "c0.example.org").returncode == 0, p.lb.log(0)[-4000:]
    # A restarts: the session lives on from the arena, with its client's support
    p.A.stop()
    p.A.start()
    p.ma = p.A.connect()
    assert len(sessions(p.ma)) == 1
    assert redirect(p.ma, "<all/>", p.b) == (1, 0)
    wait_until(lambda: len(sessions(p.mb)) == 1 and not sessions(p.ma), timeout=20,
               what="the adopted session moved to B")
    assert ike_peer(p, 0) == p.b
