"""Raven's RADIUS codec (daemon/aaa/radius.c) against FreeRADIUS 3.2, started by the
test from its own configuration directory on a loopback port: PAP with the reply's
Framed-IP-Address, Reply-Message and Cisco-AVPair, a wrong password rejected, a
whole EAP-MD5 exchange (EAP-Message, State, Message-Authenticator both ways), and
a wrong shared secret getting no answer at all. The client side is
tests/support/radius_tool, one authentication with the codec."""
import os
import subprocess
import time

import pytest

from conftest import free_port
from radiushelpers import SECRET, FreeRadius

REQUIRES = ("freeradius",)

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.environ.get("RADIUS_TOOL", os.path.join(HERE, "..", "..", "build", "tests", "radius_tool"))


@pytest.fixture
def freeradius():
    fr = FreeRadius()
    try:
        yield fr.port
    finally:
        fr.close()


def tool(port, method, user, pw, secret=SECRET):
    r = subprocess.run([TOOL, "127.0.0.1", str(port), secret, method, user, pw], capture_output=True, text=True,
                       timeout=30)
    return r.returncode, r.stdout.splitlines()


def test_pap_accept_with_attributes_and_reject(freeradius):
    rc, out = tool(freeradius, "pap", "alice", "alice-pw-1")
    assert rc == 0 and out[0] == "code 2", out
    assert "framed-ip 10.200.0.77" in out and "reply-message hello alice" in out
    assert "vsa 9 1 ipsec:dns-servers=10.0.0.53" in out and "vsa 9 1 ipsec:default-domain=example.org" in out
    rc, out = tool(freeradius, "pap", "alice", "wrong")
    assert rc == 1 and out[0] == "code 3", out
    rc, out = tool(freeradius, "pap", "nobody", "x")
    assert rc == 1, out


def test_eap_md5_exchange(freeradius):
    rc, out = tool(freeradius, "eap-md5", "alice", "alice-pw-1")
    assert rc == 0, out
    assert out[0] == "code 11" and "eap 1 4" in out  # Access-Challenge carrying EAP-Request/MD5-Challenge
    assert "code 2" in out and out[-1] == "eap 3"  # Access-Accept with EAP-Success
    assert any(ln.startswith("attr 80 ") for ln in out)  # Message-Authenticator, verified
    rc, out = tool(freeradius, "eap-md5", "alice", "wrong")
    assert rc == 1, out


def test_wrong_secret_gets_no_answer(freeradius):
    rc, out = tool(freeradius, "pap", "alice", "alice-pw-1", secret="not-the-secret")
    assert rc == 2 and out == ["timeout"], out


def client(ports, count, user="alice", pw="alice-pw-1"):
    """The asynchronous client (daemon/aaa/radius_client.c) through radius_tool:
    @count requests at once to a group of servers on @ports (300 ms timeout, one
    retransmission, 10 s dead time)."""
    t0 = time.time()
    r = subprocess.run([TOOL, "client", "127.0.0.1", ",".join(map(str, ports)), SECRET, user, pw, str(count)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    done = r.stdout.splitlines()[0].split()
    res = {"accepts": int(done[2]), "rejects": int(done[4]), "failed": int(done[6]), "seconds": time.time() - t0}
    for ln in r.stdout.splitlines()[1:]:
        f = ln.split()
        res[f[1]] = {f[i]: int(f[i + 1]) for i in range(2, len(f), 2)}
    return res


def test_client_more_requests_than_identifiers(freeradius):
    """300 requests at once: more than the 256 identifiers, the rest wait in the
    queue; every one is answered and verified."""
    r = client([freeradius], 300)
    assert r["accepts"] == 300 and r["failed"] == 0, r
    assert r["s1"]["requests"] == 300 and r["s1"]["accepts"] == 300 and r["s1"]["dead"] == 0


def test_client_fails_over_and_gives_up_in_time(freeradius):
    dead = free_port()  # nothing listens there
    r = client([dead, freeradius], 5)
    assert r["accepts"] == 5 and r["failed"] == 0, r
    assert r["s1"]["timeouts"] == 5 and r["s1"]["retransmits"] == 5 and r["s1"]["dead"] == 1, r
    assert r["s2"]["accepts"] == 5 and r["s2"]["timeouts"] == 0, r
    dead2 = free_port()
    r = client([dead, dead2], 3)
    assert r["accepts"] == 0 and r["failed"] == 3, r
    # two servers, two attempts each, 300 ms per attempt
    assert r["seconds"] < 5, r
    r = client([freeradius], 2, pw="wrong")
    assert r["rejects"] == 2, r
