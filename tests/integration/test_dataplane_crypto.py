"""ESP end to end with each crypto backend of the dataplane (/dataplane/
crypto-backend): a strongSwan client (kernel-libipsec, ESP in UDP) reaches the
inside host through ravend's AF_XDP workers with the backend forced to openssl
and to ipsec-mb, for AES-GCM, ChaCha20-Poly1305 and AES-CBC with HMAC; ping
both ways with the SA counters of both ends equal, iperf3 TCP; vpn-state's
dataplane/crypto shows the backend in use. Forcing the backend over NETCONF
takes effect for SAs installed after the commit while the running SA keeps its
own; forcing ipsec-mb where it is not usable (RAVEN_IPSEC_MB=off, as on a CPU
without AES-NI/AVX2) is refused at commit with a clear error, nothing changed,
and the start-up log says why ipsec-mb is not used."""
import os
import subprocess

import pytest

from lab import psk_client_conf
from nchelpers import cfg, expect_error, wait_until
from test_dataplane import client_sa_counters, child_stats, dataplane_config, iperf, ping
from test_ike_sessions import NS, headend_config, sessions, state, t

REQUIRES = ("strongswan", "iperf3", "ping")

DP_TOOL = os.environ.get("DP_TOOL", "")


def ipsec_mb_usable():
    """Whether this machine runs the ipsec-mb backend (dp_tool forcing it)."""
    if not DP_TOOL:
        return False
    r = subprocess.run([DP_TOOL, "--crypto-backend", "ipsec-mb", "--seconds", "0.01"], capture_output=True,
                       text=True, timeout=30)
    return r.returncode == 0


def crypto(m):
    c = state(m).find(f"{{{NS}}}dataplane/{{{NS}}}crypto")
    assert c is not None
    return {k: t(c, k) for k in ("backend", "ipsec-mb-arch", "ipsec-mb-status")}


def backend_leaf(b):
    return f'<dataplane xmlns="{NS}"><crypto-backend>{b}</crypto-backend></dataplane>'


def start(make_ravend, lab, esp, backend=None):
    lb = lab(1, inside=True)
    conf = headend_config().replace("10.200.0.0/16", lb.inside_net)
    dp = dataplane_config(lb)
    if backend:
        dp = dp.replace(f'<dataplane xmlns="{NS}">', f'<dataplane xmlns="{NS}"><crypto-backend>{backend}</crypto-backend>')
    d = make_ravend(conf + dp, netns=lb.head)
    c = lb.clients[0]
    lb.start_charon(0, psk_client_conf(c["head_ip"], "user0.example.org", esp=esp, remote_ts=lb.inside_net))
    connect(lb)
    return lb, d


def connect(lb):
    r = lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "15", check=False)
    assert r.returncode == 0, lb.log(0)[-3000:]


def pings_both_ways(lb, m, count=5):
    """count pings each way; returns the dataplane counters' increase."""
    before, _ = child_stats(m)
    ping(lb.clients[0]["ns"], lb.inside_ip, count=count)
    ping(lb.inside, t(sessions(m)[0], "assigned-ipv4"), count=count)
    after, _ = child_stats(m)
    return {k: after[k] - before[k] for k in after}


@pytest.mark.parametrize("backend", ["openssl", "ipsec-mb"])
@pytest.mark.parametrize("esp", ["aes128gcm16", "chacha20poly1305", "aes256-sha256"])
def test_esp_end_to_end_with_each_backend(make_ravend, lab, backend, esp):
    if backend == "ipsec-mb" and not ipsec_mb_usable():
        pytest.skip("ipsec-mb is not usable on this CPU")
    lb, d = start(make_ravend, lab, esp, backend)
    m = d.connect()
    st = crypto(m)
    assert st["backend"] == backend, st
    if backend == "ipsec-mb":
        assert st["ipsec-mb-status"] == "self-test passed" and st["ipsec-mb-arch"] != "none", st
    inc = pings_both_ways(lb, m)
    cl = client_sa_counters(lb)
    ours, _ = child_stats(m)
    assert inc["packets-in"] == 10 and inc["packets-out"] == 10, inc
    assert ours["packets-in"] == cl["out"][1] and ours["packets-out"] == cl["in"][1], (ours, cl)
    assert ours["bytes-in"] == cl["out"][0] and ours["bytes-out"] == cl["in"][0], (ours, cl)
    assert ours["replay-errors"] == 0
    res = iperf(lb, lb.clients[0]["ns"], lb.inside, lb.inside_ip, seconds=2)
    assert res["end"]["sum_received"]["bytes"] > 1_000_000, res["end"]
    ws = state(m).findall(f"{{{NS}}}dataplane/{{{NS}}}worker")
    assert sum(int(t(w, "packets-decrypted")) for w in ws) > 1000
    drops = state(m).findall(f"{{{NS}}}dataplane/{{{NS}}}interface/{{{NS}}}drops/{{{NS}}}auth-failure")
    assert all(int(x.text) == 0 for x in drops)


def test_backend_forced_over_netconf_applies_to_new_sas(make_ravend, lab):
    if not ipsec_mb_usable():
        pytest.skip("ipsec-mb is not usable on this CPU")
    lb, d = start(make_ravend, lab, "aes128gcm16")
    m = d.connect()
    # auto: ipsec-mb where it is usable, chosen and self-tested at start
    assert crypto(m)["backend"] == "ipsec-mb"
    assert "ESP crypto: intel-ipsec-mb (" in d.log() and "usable, self-test passed" in d.log()
    assert pings_both_ways(lb, m)["packets-in"] == 10
    m.edit_config(target="candidate", config=cfg(backend_leaf("openssl")))
    m.commit()
    assert crypto(m)["backend"] == "openssl"
    assert "ESP crypto backend of new SAs: openssl" in d.log()
    # the SA installed before keeps working on its own backend
    assert pings_both_ways(lb, m)["packets-in"] == 10
    # a new session's SAs are installed with OpenSSL and carry traffic
    lb.swanctl(0, "--terminate", "--ike", "rw", "--timeout", "5", check=False)
    wait_until(lambda: not sessions(m), timeout=15)
    connect(lb)
    wait_until(lambda: len(sessions(m)) == 1, timeout=15)
    assert pings_both_ways(lb, m)["packets-in"] == 10
    # and back to ipsec-mb for the next ones
    m.edit_config(target="candidate", config=cfg(backend_leaf("ipsec-mb")))
    m.commit()
    assert crypto(m)["backend"] == "ipsec-mb"
    lb.swanctl(0, "--terminate", "--ike", "rw", "--timeout", "5", check=False)
    wait_until(lambda: not sessions(m), timeout=15)
    connect(lb)
    wait_until(lambda: len(sessions(m)) == 1, timeout=15)
    assert pings_both_ways(lb, m)["packets-in"] == 10


def test_ipsec_mb_forced_where_unusable_is_refused(make_ravend, monkeypatch):
    monkeypatch.setenv("RAVEN_IPSEC_MB", "off")
    d = make_ravend()
    assert "ESP crypto: intel-ipsec-mb not used: disabled by RAVEN_IPSEC_MB=off; OpenSSL EVP instead" in d.log()
    m = d.connect()
    st = crypto(m)
    assert st == {"backend": "openssl", "ipsec-mb-arch": "none", "ipsec-mb-status": "disabled by RAVEN_IPSEC_MB=off"}
    m.edit_config(target="candidate", config=cfg(backend_leaf("ipsec-mb")))
    e = expect_error(m.commit, "invalid-value", "crypto-backend")
    assert "crypto-backend ipsec-mb is not usable here: disabled by RAVEN_IPSEC_MB=off" in e.message
    m.discard_changes()
    assert crypto(m)["backend"] == "openssl"
    running = m.get_config(source="running").data_xml
    assert "crypto-backend" not in running
    # openssl and auto are taken
    for b in ("openssl", "auto"):
        m.edit_config(target="candidate", config=cfg(backend_leaf(b)))
        m.commit()
        assert crypto(m)["backend"] == "openssl"


def test_ipsec_mb_in_running_where_unusable_starts_with_openssl(make_ravend, monkeypatch):
    """crypto-backend ipsec-mb stored in running (here seeded by -c) where it is
    not usable: ravend starts, warns, runs OpenSSL and says why; a commit that
    leaves the leaf as it is goes through, one that sets it anew is refused."""
    monkeypatch.setenv("RAVEN_IPSEC_MB", "off")
    d = make_ravend(backend_leaf("ipsec-mb"))
    assert ("crypto-backend ipsec-mb is not usable here: disabled by RAVEN_IPSEC_MB=off: OpenSSL EVP instead"
            in d.log())
    m = d.connect()
    st = crypto(m)
    assert st == {"backend": "openssl", "ipsec-mb-arch": "none", "ipsec-mb-status": "disabled by RAVEN_IPSEC_MB=off"}
    assert "<crypto-backend>ipsec-mb</crypto-backend>" in m.get_config(source="running").data_xml
    # another change: the stored leaf is not held against it
    m.edit_config(target="candidate", config=cfg(backend_leaf("auto")))
    m.commit()
    assert crypto(m)["backend"] == "openssl"
    m.edit_config(target="candidate", config=cfg(backend_leaf("ipsec-mb")))
    e = expect_error(m.commit, "invalid-value", "crypto-backend")
    assert "crypto-backend ipsec-mb is not usable here" in e.message
    m.discard_changes()


def transforms(m):
    c = state(m).find(f"{{{NS}}}dataplane/{{{NS}}}crypto")
    return {b: int(t(c, f"transforms-{b}")) for b in ("openssl", "ipsec-mb")}


def test_sessions_taken_over_keep_the_configured_backend(make_ravend, lab):
    """crypto-backend openssl where auto would choose ipsec-mb: the child SAs
    put back in the dataplane after kill -9 are OpenSSL's too (the backend is
    set from running before the sessions are taken over)."""
    if not ipsec_mb_usable():
        pytest.skip("ipsec-mb is not usable on this CPU: auto is OpenSSL anyway")
    lb, d = start(make_ravend, lab, "aes256gcm16", "openssl")
    m = d.connect()
    before = transforms(m)
    assert before["openssl"] > 0 and before["ipsec-mb"] == 0, before
    d.kill9()
    d.start()
    m = d.connect()
    assert len(sessions(m)) == 1, f"the session was not taken over:\n{d.log(since_start=True)[-3000:]}"
    assert crypto(m)["backend"] == "openssl"
    after = transforms(m)
    assert after["openssl"] > 0 and after["ipsec-mb"] == 0, after
    assert pings_both_ways(lb, m)["packets-in"] == 10
    assert transforms(m)["ipsec-mb"] == 0
