"""Sessions survive a restart of ravend: three strongSwan clients (pre-shared key,
certificate, EAP-MSCHAPv2 through FreeRADIUS) ping the inside host through their
tunnels while ravend is killed (kill -9), stopped (SIGTERM, a planned restart) or
replaced by another build of the same arena version, and started again with the
same state directory and session arena (restarthelpers.py).

After each restart every client keeps its IKE and child SPIs and its address, its
pings are answered again within 2 s of ravend's "ready" line, nobody
authenticates again (no IKE_AUTH, no Access-Request at FreeRADIUS), the ESP
sequence numbers go on where they were (no replay drop at ravend nor at the
clients' libipsec) and accounting goes on (no new Start); ravend's vpn-state says
it adopted the three sessions. Then ravend's periodic DPD is answered on the
adopted IKE SAs, each client rekeys its child SA and its IKE SA, and the
accounting Stop of each session counts the traffic of before and after the
restart."""
import hashlib
import os
import re
import time

import pytest

from conftest import NS, RAVEND
from nchelpers import rpc, wait_until
from restarthelpers import (CERT, EAP, KINDS, PSK, accounting_starts, accounting_stops, baseline, check_adopted,
                            check_no_replay, check_stop, client_sas, counter, headend_sessions, marks, peer, since,
                            three_clients, wait_for_replies)
from test_eap_radius import radius_in  # noqa: F401 (the fixture)
from test_ike_certs import pki  # noqa: F401 (the fixture)

REQUIRES = ("strongswan", "freeradius", "ping", "openssl")
REQUIRES_PLUGINS = ("eap-identity", "eap-mschapv2")

ALL = (PSK, CERT, EAP)


def kill9(d):
    d.kill9()


def sigterm(d):
    assert d.stop() == 0, d.log()[-3000:]


def alt_build():
    """The other ravend build of test c (RAVEND_ALT), checked to be another file
    than RAVEND."""
    alt = os.environ.get("RAVEND_ALT")
    if not alt:
        pytest.fail("RAVEND_ALT is not set: it names a second ravend build of the same arena version, e.g. "
                    "RAVEND_ALT=$PWD/build/daemon/ravend (the build without sanitizers that ./run.sh makes: "
                    "cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build build); ./test.sh sets "
                    "it", pytrace=False)
    assert os.access(alt, os.X_OK), f"RAVEND_ALT={alt} is not an executable"
    digest = [hashlib.sha256(open(p, "rb").read()).hexdigest() for p in (alt, RAVEND)]
    assert digest[0] != digest[1], f"RAVEND_ALT={alt} is the same build as RAVEND={RAVEND}"
    return alt


def restart(env, stop, exe):
    """One restart: @stop ends the process, then @exe starts with the same state
    directory and arena. Returns when it was gone."""
    stop(env.d)
    exited_at = time.time()
    env.d.exe = exe
    env.d.start()
    return exited_at


def rekey_child(env, i):
    """Client @i rekeys its child SA (CREATE_CHILD_SA on the adopted IKE SA, the
    client's message IDs): a new pair of SPIs replaces the old at both ends."""
    lb = env.lb
    old = client_sas(lb, i)["children"]
    lb.swanctl(i, "--rekey", "--child", "vpn")

    def rekeyed():
        kids = client_sas(lb, i, one=False)["children"]
        return len(kids) == 1 and kids[0][0] == "INSTALLED" and kids[0][1] != old[0][1]
    wait_until(rekeyed, timeout=15, what=f"client {i}'s child SA rekeyed")


def rekey_ike(env, i):
    lb = env.lb
    old = client_sas(lb, i)["ike"]
    lb.swanctl(i, "--rekey", "--ike", "rw")

    def rekeyed():
        now = client_sas(lb, i, one=False)["ike"]
        return now is not None and now[0] == "ESTABLISHED" and now[1:] != old[1:]
    wait_until(rekeyed, timeout=15, what=f"client {i}'s IKE SA rekeyed")


def dpd_answered(env, at):
    """ravend's periodic DPD (every 10 s) reached each client on the adopted IKE
    SA since the client's log was at @at[i], and was answered."""
    lb = env.lb
    for i in ALL:
        log = since(lb.log(i), at[i])
        if not (re.search(r"parsed INFORMATIONAL request \d+ \[ \]", log)
                and re.search(r"generating INFORMATIONAL response \d+ \[ \]", log)):
            return False
    return True


def restart_keeps_sessions(make_ravend, radius_in, pki, restarts):  # noqa: F811 (fixtures passed in)
    env = three_clients(make_ravend, radius_in, pki)
    lb, d, fr = env.lb, env.d, env.fr
    before = baseline(env)
    acct = {i: before[i]["ours"]["acct"] for i in ALL}
    for stop, exe in restarts:
        mk = marks(env)
        exited_at = restart(env, stop, exe)
        # the clients' logs from here on are of the new process only
        started = [len(lb.log(i)) for i in ALL]
        before = check_adopted(env, before, mk, exited_at)
    m = d.connect()
    # the child SAs rekeyed by the clients on the adopted IKE SAs
    for i in ALL:
        rekey_child(env, i)
    for i in ALL:
        kids = [(k[1], k[2]) for k in client_sas(lb, i)["children"]]
        wait_until(lambda: [(c["out"], c["in"]) for c in headend_sessions(m)[peer(env, i)]["children"]] == kids,
                   timeout=10, what=f"ravend's child SA of client {i} the client's new one")
    assert counter(m, "ike-counters/exchanges/create-child-sa") >= 3
    # ravend's DPD on the adopted IKE SAs (its own message IDs) is answered
    wait_until(lambda: dpd_answered(env, started), timeout=20, interval=0.5,
               what="DPD from ravend answered by every client")
    assert counter(m, "ike-counters/exchanges/dpd-sent") >= 3
    for i in ALL:
        log = since(lb.log(i), started[i])
        assert not re.search(r"received message ID \d+, expected \d+", log), log[-3000:]
    # then the IKE SAs rekeyed by the clients
    for i in ALL:
        rekey_ike(env, i)
    for i in ALL:
        ike = tuple(client_sas(lb, i)["ike"][1:])
        wait_until(lambda: headend_sessions(m)[peer(env, i)]["ike"] == ike, timeout=10,
                   what=f"ravend's IKE SA of client {i} the client's new one")
        assert headend_sessions(m)[peer(env, i)]["id"] == before[i]["ours"]["id"]
    assert counter(m, "ike-counters/exchanges/ike-rekeys") >= 3
    assert counter(m, "ike-counters/exchanges/dpd-timeouts") == 0
    # traffic still flows on the rekeyed SAs, without a replay anywhere
    t_rekeyed = time.time()
    got = wait_for_replies(env.pingers, t_rekeyed, t_rekeyed + 5)
    assert all(got.values()), {i: env.pingers[i].text()[-500:] for i in ALL if not got[i]}
    check_no_replay(env, m, ALL)
    # the accounting Stop of each session counts everything since its Start
    pings = {i: env.pingers[i].stop() for i in ALL}
    time.sleep(0.5)  # the last replies in flight
    ours = headend_sessions(m)
    cleared_at = time.time()
    rpc(m, f'<clear-session xmlns="{NS}"><all/></clear-session>')
    wait_until(lambda: all(acct[i] in accounting_stops(fr) for i in ALL), timeout=15, what="three accounting Stops")
    starts, stops = accounting_starts(fr), accounting_stops(fr)
    for i in ALL:
        assert len(starts[acct[i]]) == 1 and len(stops[acct[i]]) == 1, (starts, stops)
        stop = stops[acct[i]][0]
        check_stop(stop, pings[i], KINDS[i])
        st = ours[peer(env, i)]["stats"]
        assert (int(stop["Acct-Input-Packets"]), int(stop["Acct-Output-Packets"]),
                int(stop["Acct-Input-Octets"]), int(stop["Acct-Output-Octets"])) == \
            (st["packets-in"], st["packets-out"], st["bytes-in"], st["bytes-out"]), (stop, st)
        # the session's time counts from its start, before the restarts
        assert int(stop["Acct-Session-Time"]) >= int(cleared_at - env.up_at) - 1, (stop, cleared_at - env.up_at)
    for i in ALL:
        wait_until(lambda: "received DELETE for IKE_SA" in since(lb.log(i), mk["clients"][i]), timeout=10,
                   what=f"client {i} told of the clear")


def test_kill9_and_start_keeps_every_session(make_ravend, radius_in, pki):  # noqa: F811
    """a. A crash: kill -9, then a new process."""
    restart_keeps_sessions(make_ravend, radius_in, pki, [(kill9, RAVEND)])


def test_sigterm_and_start_keeps_every_session(make_ravend, radius_in, pki):  # noqa: F811
    """b. A planned restart: SIGTERM ends the process without ending the sessions
    (no DELETE, no accounting Stop), then a new process."""
    restart_keeps_sessions(make_ravend, radius_in, pki, [(sigterm, RAVEND)])


def test_another_build_takes_over_and_back(make_ravend, radius_in, pki):  # noqa: F811
    """c. An upgrade: another build of the same arena version (RAVEND_ALT) takes
    the sessions over, then the first build again."""
    alt = alt_build()
    restart_keeps_sessions(make_ravend, radius_in, pki, [(sigterm, alt), (sigterm, RAVEND)])
