"""The demo lab (demo/raven_demo.py, what ./run.sh --demo runs): three road warriors
are up with traffic on the relayed dashboard port within a minute, the dashboard is
served there, and stopping the lab (SIGTERM) leaves no namespace and no process."""
import os
import signal
import subprocess
import time

from conftest import RAVEND, ROOT, free_port
from nchelpers import wait_until
from resthelpers import Rest

REQUIRES = ("strongswan", "ping")


def namespaces():
    """The demo's namespaces (its lab's tag is "rvd"; tests running in parallel have
    their own)."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {ln.split()[0] for ln in out.splitlines() if ln.strip() and ln.startswith("rvd")}


def test_demo_lab_comes_up_and_goes_away():
    port = free_port()
    before = namespaces()
    p = subprocess.Popen(["/usr/bin/python3", os.path.join(ROOT, "demo", "raven_demo.py"), "--ravend", RAVEND,
                          "--port", str(port), "--password", "demo-pw-1"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = []
    try:
        t0 = time.time()
        for line in p.stdout:
            out.append(line)
            if "running; Ctrl-C to stop" in line:
                break
        assert p.poll() is None, "".join(out)
        assert sum("connected" in ln and "failed" not in ln for ln in out) == 3, "".join(out)
        rest = Rest(f"https://127.0.0.1:{port}", "admin", "demo-pw-1")

        def three_with_traffic():
            r = rest.get("/restconf/data/raven-vpn:vpn-state/session")
            if r.status != 200:
                return False
            s = r.json()["raven-vpn:session"]
            ids = sorted(x["remote-identity"]["value"] for x in s)
            return ids == ["alice.example.org", "bob.example.org", "carol.example.org"] and \
                all(int(x["statistics"]["packets-in"]) > 0 for x in s)
        wait_until(three_with_traffic, timeout=30, what="three sessions with traffic")
        assert time.time() - t0 < 60
        r = rest.get("/ui/", auth="none", accept=None)
        assert r.status == 200 and "<html" in r.body.lower()
        assert rest.get("/restconf/data", auth="none").status == 401
        new = namespaces() - before
        assert len(new) == 5, new  # headend, inside host, three clients
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        rest_out = p.communicate(timeout=90)[0]
        out.append(rest_out or "")
    assert p.returncode == 0, "".join(out)
    assert "raven demo: stopped" in "".join(out)
    assert not (namespaces() - before), namespaces() - before
    r = subprocess.run(["pgrep", "-f", "raven-demo-"], capture_output=True, text=True)
    assert not r.stdout.strip(), r.stdout
