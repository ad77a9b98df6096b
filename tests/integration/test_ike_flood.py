"""A spoofed IKE_SA_INIT flood against a real ravend with one crypto thread
(--crypto-threads 1, a queue of 128): strongSwan clients still connect while
it lasts, because the crypto pool is fed by unverified addresses only until it
is loaded (as many half-open SAs as its queue holds, or half of it queued);
from there on a new IKE_SA_INIT must return a COOKIE before its Diffie-Hellman
is computed, which the clients do and the spoofed sources cannot. vpn-state
counts the cookies demanded and the jobs, far fewer than the requests.

Topology: [client 0: charon]  --veth-- [headend: ravend] --veth-- [client 1:
ike_flood, raw IPv4 from random sources of 10.<net>.128.0/20, answered
towards client 1, which drops them]
"""
import json
import os
import subprocess
import time

from conftest import NS
from test_ike_sessions import headend_config, state, t, up

REQUIRES = ("strongswan",)

FLOOD = os.environ.get("IKE_FLOOD", os.path.join(os.path.dirname(__file__), "..", "..", "build", "tests",
                                                 "ike_flood"))


def pool(m):
    c = state(m).find(f"{{{NS}}}ike-counters")
    return {k: int(t(c, f"crypto-pool/{k}")) for k in ("threads", "queue-capacity", "jobs", "cookies-demanded",
                                                       "queue-full", "source-share")} | {
        "half-open": int(t(c, "sa/half-open")), "received": int(t(c, "requests/received")),
        "cookie-accepted": int(t(c, "cookie-challenges/accepted"))}


def test_clients_connect_through_a_spoofed_flood(make_ravend, lab):
    lb = lab(2)
    spoof = f"10.{lb.net}.128.0/20"
    subprocess.run(["ip", "-n", lb.head, "route", "add", spoof, "via", lb.clients[1]["ip"]], check=True)
    d = make_ravend(headend_config(pool_ranges=(("10.201.0.10", "10.201.0.30"),)), netns=lb.head, start=False)
    d.extra_args = ["--crypto-threads", "1"]
    d.start()
    m = d.connect()
    c0 = pool(m)
    assert c0["threads"] == 1 and c0["queue-capacity"] == 128 and c0["jobs"] == 0
    flood = subprocess.Popen(["ip", "netns", "exec", lb.clients[1]["ns"], FLOOD, lb.clients[1]["head_ip"], spoof,
                              "2000", "12"], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(2)  # the pool is loaded by now: more half-open SAs than it holds
        loaded = pool(m)
        assert loaded["half-open"] >= 128, loaded
        r = up(lb, 0, "alice.example.org")
        assert r.returncode == 0, f"{r.stdout}\n{lb.log(0)[-3000:]}\n{d.log()[-3000:]}"
        log = lb.log(0)
        assert "received COOKIE notify" in log or "N(COOKIE)" in log, log[-3000:]
        during = pool(m)
    finally:
        out, _ = flood.communicate(timeout=60)
    sent = json.loads(out.strip().splitlines()[-1])["sent"]
    after = pool(m)
    print(f"flood: {sent} spoofed requests; during: {during}; after: {after}")
    assert sent >= 10000, out
    assert after["received"] >= sent * 0.5, (sent, after)  # ravend saw the flood
    # the Diffie-Hellman was computed for the first ones only, and for the
    # client: the rest were asked for a cookie, which they never returned
    assert after["cookies-demanded"] >= sent * 0.5, (sent, after)
    assert after["jobs"] <= 400, (sent, after)
    assert during["cookie-accepted"] >= 1, during
    # the client's session is up and carries its child SA
    sess = state(m).findall(f"{{{NS}}}session")
    assert len(sess) == 1 and t(sess[0], "remote-identity/value") == "alice.example.org"
