"""Lifetimes (the model's smallest values are 120 s, so both cases run side by side
in one test): session-lifetime (SPEC S7) ends the session, Raven deletes the IKE
SA at the client, releases the lease and reports session-down with the reason;
the profile's IKE SA lifetime makes Raven rekey the IKE SA itself at 90% of it
(CREATE_CHILD_SA as initiator, RFC 7296 2.18), after which Raven is the new SA's
original initiator and the session carries on."""
from lxml import etree

from conftest import NS
from lab import psk_client_conf
from nchelpers import wait_until
from test_ike_sessions import headend_config, sessions, state, t

REQUIRES = ("strongswan",)


def reason_of_down(m):
    for _ in range(6):
        n = m.take_notification(timeout=5)
        if n is None:
            return None
        down = etree.fromstring(n.notification_xml.encode()).find(f"{{{NS}}}session-down")
        if down is not None:
            return down.findtext(f"{{{NS}}}reason")
    return None


def test_session_and_ike_lifetimes_end_sessions(make_ravend, lab):
    runs = []
    for extra in ({"extra_policy": "<session-lifetime>120</session-lifetime>"},
                  {"extra_profile": "<lifetime>120</lifetime>"}):
        lb = lab(1)
        d = make_ravend(headend_config(**extra), netns=lb.head)
        conf = psk_client_conf(lb.clients[0]["head_ip"], "alice.example.org")
        lb.start_charon(0, conf.replace("    proposals =", "    rekey_time = 4h\n    proposals =", 1))
        assert lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "15", check=False).returncode == 0
        m = d.connect()
        m.create_subscription()
        assert int(t(sessions(m)[0], "session-lifetime-remaining") or 120) <= 120
        runs.append((lb, m))
    (lb, m), (lb2, m2) = runs
    wait_until(lambda: not sessions(m), timeout=140, interval=1, what="session ended by its session-lifetime")
    assert reason_of_down(m) == "session-lifetime"
    wait_until(lambda: "received DELETE for IKE_SA rw[1]" in lb.log(0), timeout=10, what="the client's log")
    pool = [p for p in state(m).findall(f"{{{NS}}}pool") if t(p, "name") == "rw-pool"][0]
    assert t(pool, "in-use") == "0"
    # the other session was rekeyed by Raven and is still up past its 120 s
    assert t(state(m2), "ike-counters/exchanges/ike-rekeys") == "1"
    assert len(sessions(m2)) == 1
    log = lb2.log(0)
    assert "parsed CREATE_CHILD_SA request" in log, log[-3000:]
    # the client took the new IKE SA: Raven, the rekey's initiator, deleted the old one
    assert "received DELETE for IKE_SA rw[1]" in log, log[-3000:]
    assert "ESTABLISHED" in lb2.swanctl(0, "--list-sas").stdout
    # both directions still work in the new roles: the client ends the session
    lb2.swanctl(0, "--terminate", "--ike", "rw")
    wait_until(lambda: not sessions(m2), timeout=10, what="session removed after the client's DELETE")
    assert reason_of_down(m2) == "peer-delete"
