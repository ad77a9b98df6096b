"""Lifetimes that end sessions (SPEC S7 session-lifetime; the profile's IKE SA
lifetime): when they pass, Raven deletes the IKE SA at the client, releases the
lease and reports session-down with the reason. Both run side by side in one test
because the model's smallest values are 120 s."""
from lxml import etree

from conftest import NS
from lab import psk_client_conf
from nchelpers import wait_until
from test_ike_sessions import headend_config, sessions, state, t


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
    for (lb, m), reason in zip(runs, ("session-lifetime", "ike-lifetime")):
        wait_until(lambda: not sessions(m), timeout=140, interval=1, what=f"session ended by {reason}")
        assert reason_of_down(m) == reason
        wait_until(lambda: "received DELETE for IKE_SA rw[1]" in lb.log(0), timeout=10, what="the client's log")
        pool = [p for p in state(m).findall(f"{{{NS}}}pool") if t(p, "name") == "rw-pool"][0]
        assert t(pool, "in-use") == "0"
