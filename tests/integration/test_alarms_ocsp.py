"""The ocsp-unobtainable alarm with real peers: a strongSwan client with a
certificate against ravend, whose trustpoint (revocation-check ocsp-none) asks
an OCSP responder on the headend namespace's loopback where nothing listens
yet: the alarm of the responder's URL is raised (NETCONF notification and
vpn-state/alarms) and the client admitted; then `openssl ocsp` answers there,
and a second client's query of the same certificate clears it. (In a file of
its own: its pki fixture is test_ike_ocsp's, test_alarms.py uses
test_ike_crl's.)

    client nss (charon) --veth-- headend ns: ravend, openssl ocsp on 127.0.0.1:8481
"""
import time

from test_alarms import alarms, wait_alarm
from test_ike_ocsp import URL, Responder, connect, headend, pki  # noqa: F401 (the pki fixture)

REQUIRES = ("strongswan", "openssl", "ncclient")


def test_ocsp_unobtainable_raised_and_cleared(make_ravend, lab, pki, tmp_path):  # noqa: F811
    lb = lab(2)
    d = make_ravend(headend(pki, rev="ocsp-none", url=URL), netns=lb.head)
    sub, m = d.connect(), d.connect()
    sub.create_subscription()
    t0 = time.monotonic()
    r = connect(lb, pki, "alice")  # nobody answers at the URL: admitted without an answer
    assert r.returncode == 0, f"{lb.log(0)[-3000:]}\n{d.log()[-2000:]}"
    a = wait_alarm(sub, "ocsp-unobtainable", False, URL)
    assert a["perceived-severity"] == "major" and "no valid answer" in a["alarm-text"], a
    assert alarms(m)[("ocsp-unobtainable", URL)]["is-cleared"] == "false"

    resp = Responder(lb, pki, str(tmp_path))
    try:
        # the same certificate from a second client: its query, no sooner than
        # 5 s after the failed one, reaches the responder and clears the alarm
        time.sleep(max(0.0, 5.2 - (time.monotonic() - t0)))
        r = connect(lb, pki, "alice", i=1)
        assert r.returncode == 0, f"{lb.log(1)[-3000:]}\n{d.log()[-2000:]}"
        wait_alarm(sub, "ocsp-unobtainable", True, URL)
        assert alarms(m)[("ocsp-unobtainable", URL)]["is-cleared"] == "true"
        assert f"trustpoint tp: OCSP from {URL}: good" in d.log()
    finally:
        resp.stop()
