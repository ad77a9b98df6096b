"""ravenctl import-ios --commit against a real ravend's REST endpoint: the
converted configuration merged into the candidate and validated there, the
server's errors shown, the candidate reset when it is refused, and running
unchanged either way (checked with curl, not with ravenctl). The candidate is
shared: uncommitted changes of others in it are never dropped by an import
(refused without --force; with it, a failed import leaves the candidate as it
is), nor by a load the server refuses (a NETCONF session's lock). The
conversion itself is tested without a server in tests/cli/test_import_ios.py."""
import os
import subprocess

import pytest

from conftest import ADMIN_PW
from resthelpers import Rest

HERE = os.path.dirname(os.path.abspath(__file__))
RAVENCTL = os.path.join(HERE, "..", "..", "api", "cli", "ravenctl")
IOS = os.path.join(HERE, "..", "cli", "ios")
CANDIDATE = "/restconf/ds/ietf-datastores:candidate"
RUNNING = "/restconf/ds/ietf-datastores:running"


@pytest.fixture
def rd(make_ravend):
    d = make_ravend(rest=True)
    d.rest_cert = os.path.join(d.state_dir, "rest_cert.pem")
    return d


def ravenctl(rd, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAVEN_")}
    env.update(RAVEN_USER="admin", RAVEN_PASSWORD=ADMIN_PW)
    return subprocess.run([RAVENCTL, "--url", rd.rest_url, "--cacert", rd.rest_cert, *args], env=env,
                          capture_output=True, text=True, timeout=120)


def tree(rest, ds, path):
    """The JSON at @path of datastore @ds, or None when there is nothing."""
    r = rest.get(f"{ds}/{path}")
    if r.status == 404:
        return None
    assert r.status == 200, r
    return r.json()


def snapshot(rest, ds):
    r = rest.get(ds)
    assert r.status == 200, r
    return r.json()


def test_commit_loads_and_validates_candidate_only(rd):
    rest = Rest(rd.rest_url)
    before = snapshot(rest, RUNNING)
    p = ravenctl(rd, "import-ios", os.path.join(IOS, "own-4-psk-minimal.txt"), "--commit")
    assert p.returncode == 0, p.stderr
    assert p.stdout == ""
    assert "the candidate holds the imported configuration and is valid" in p.stderr
    # in the candidate, as converted
    pool = tree(rest, CANDIDATE, "raven-vpn:pools/ipv4-pool=import-pool")
    assert pool["raven-vpn:ipv4-pool"][0]["range"] == [{"start": "10.77.1.10", "end": "10.77.1.99"}]
    prof = tree(rest, CANDIDATE, "raven-vpn:ikev2/profile=sites")["raven-vpn:profile"][0]
    assert prof["keyring"] == {"local": "sites"}
    assert prof["virtual-template"] == {"ipsec-profile": "site-ipsec"}
    # the key is stored (write-only: read back masked)
    peer = tree(rest, CANDIDATE, "raven-vpn:ikev2/keyring=sites/peer=site-a")["raven-vpn:peer"][0]
    assert peer["pre-shared-key"] == "********"
    # running untouched
    assert snapshot(rest, RUNNING) == before
    assert tree(rest, RUNNING, "raven-vpn:pools/ipv4-pool=import-pool") is None
    # a plain commit applies what the import left in the candidate
    p = ravenctl(rd, "commit")
    assert p.returncode == 0, p.stderr
    assert tree(rest, RUNNING, "raven-vpn:pools/ipv4-pool=import-pool") is not None


def test_commit_refused_shows_errors_and_resets_candidate(rd):
    """The import merged into a running configuration it conflicts with: a pool
    that shares addresses with the converted one. YANG accepts that; ravend's
    validation refuses it."""
    rest = Rest(rd.rest_url)
    r = rest.req("PATCH", "/restconf/data", body={"ietf-restconf:data": {"raven-vpn:pools": {"ipv4-pool": [
        {"name": "existing", "range": [{"start": "10.77.1.50", "end": "10.77.1.60"}]}]}}})
    assert r.status in (200, 204), r
    before = snapshot(rest, RUNNING)
    p = ravenctl(rd, "import-ios", os.path.join(IOS, "own-4-psk-minimal.txt"), "--commit")
    assert p.returncode == 1, p.stderr
    err = p.stderr.splitlines()
    # the server's error, then what was done about the candidate
    assert any(ln.startswith("ravenctl: ") and "overlaps" in ln for ln in err), p.stderr
    assert err[-1] == "ravenctl: the candidate was reset to running (discard-changes); running is unchanged"
    assert "holds the imported configuration" not in p.stderr
    assert tree(rest, CANDIDATE, "raven-vpn:pools/ipv4-pool=import-pool") is None
    assert snapshot(rest, CANDIDATE) == snapshot(rest, RUNNING) == before


def test_commit_reports_lines_and_loads_the_rest(rd):
    """A configuration with lines not converted (own-1: no interface names, a
    trustpoint without its certificate) is loaded as converted: exit 6, the
    lines listed, the candidate valid, running untouched."""
    rest = Rest(rd.rest_url)
    before = snapshot(rest, RUNNING)
    p = ravenctl(rd, "import-ios", os.path.join(IOS, "own-1-psk-eap.txt"), "--commit")
    assert p.returncode == 6, p.stderr
    err = p.stderr.splitlines()
    assert err[0] == "line 3: hostname vpn-hq: not applicable: the host name belongs to Linux"
    assert any(ln.startswith("line 119: interface GigabitEthernet1: ") and "--interface" in ln for ln in err)
    assert "holds the imported configuration and is valid" in p.stderr
    assert err[-1].startswith("ravenctl: 12 line(s) of ")
    groups = tree(rest, CANDIDATE, "raven-vpn:aaa/server-group=corp-nps")["raven-vpn:server-group"][0]
    assert groups["server"] == ["corp-radius-1", "corp-radius-2"]
    assert snapshot(rest, RUNNING) == before
    assert ravenctl(rd, "discard").returncode == 0
    assert snapshot(rest, CANDIDATE) == before


def test_commit_of_nothing_is_a_usage_error(rd, tmp_path):
    f = tmp_path / "empty.txt"
    f.write_text("hostname only\n!\n")
    rest = Rest(rd.rest_url)
    before = snapshot(rest, CANDIDATE)
    p = ravenctl(rd, "import-ios", str(f), "--commit")
    assert p.returncode == 2, p.stderr
    assert "nothing was converted" in p.stderr
    assert snapshot(rest, CANDIDATE) == before


def test_commit_xml_with_skipped_lines_is_exit_6(rd):
    """XML goes to the candidate as well; lines not converted make the exit
    status 6 even when the candidate is valid."""
    rest = Rest(rd.rest_url)
    src = os.path.join(IOS, "own-4-psk-minimal.txt")
    with open(src) as f:
        text = f.read() + "snmp-server community public RO\n"
    p = subprocess.run([RAVENCTL, "--url", rd.rest_url, "--cacert", rd.rest_cert, "--user", "admin",
                        "--password", ADMIN_PW, "import-ios", "-", "--xml", "--commit"], input=text,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 6, p.stderr
    # the community string is a secret: masked in the report
    assert "snmp-server community <secret> RO: not applicable" in p.stderr
    assert "public" not in p.stderr
    assert "holds the imported configuration and is valid" in p.stderr
    pol = tree(rest, CANDIDATE, "raven-vpn:ikev2/policy=any-address")["raven-vpn:policy"][0]
    assert pol["proposal"] == ["modern"]
    assert tree(rest, RUNNING, "raven-vpn:ikev2/policy=any-address") is None


PENDING = {"ietf-restconf:data": {"raven-vpn:pools": {"ipv4-pool": [
    {"name": "pending", "range": [{"start": "10.78.0.10", "end": "10.78.0.20"}]}]}}}


def pending_edit(rest):
    """Someone else's uncommitted change in the candidate, made with curl."""
    r = rest.req("PATCH", CANDIDATE, body=PENDING)
    assert r.status in (200, 204), r
    assert tree(rest, CANDIDATE, "raven-vpn:pools/ipv4-pool=pending") is not None


def test_uncommitted_changes_refuse_the_import(rd):
    rest = Rest(rd.rest_url)
    before = snapshot(rest, RUNNING)
    pending_edit(rest)
    cand = snapshot(rest, CANDIDATE)
    p = ravenctl(rd, "import-ios", os.path.join(IOS, "own-4-psk-minimal.txt"), "--commit")
    assert p.returncode == 1, p.stderr
    assert "ravenctl: the candidate has uncommitted changes: commit or discard them first" in p.stderr
    # nothing loaded, nothing discarded
    assert snapshot(rest, CANDIDATE) == cand
    assert tree(rest, CANDIDATE, "raven-vpn:pools/ipv4-pool=import-pool") is None
    assert snapshot(rest, RUNNING) == before


def test_forced_import_failing_leaves_the_pending_edit(rd):
    """--force merges into a candidate with changes; the validation then fails
    (the import's pool overlaps one in running): the candidate is left as it
    is, the other edit still there, not reset."""
    rest = Rest(rd.rest_url)
    r = rest.req("PATCH", "/restconf/data", body={"ietf-restconf:data": {"raven-vpn:pools": {"ipv4-pool": [
        {"name": "existing", "range": [{"start": "10.77.1.50", "end": "10.77.1.60"}]}]}}})
    assert r.status in (200, 204), r
    before = snapshot(rest, RUNNING)
    pending_edit(rest)
    p = ravenctl(rd, "import-ios", os.path.join(IOS, "own-4-psk-minimal.txt"), "--commit", "--force")
    assert p.returncode == 1, p.stderr
    assert "--force: the candidate has uncommitted changes" in p.stderr
    assert any("overlaps" in ln for ln in p.stderr.splitlines()), p.stderr
    assert "reset to running" not in p.stderr
    assert p.stderr.splitlines()[-1].startswith("ravenctl: the candidate still holds the import on top of")
    assert tree(rest, CANDIDATE, "raven-vpn:pools/ipv4-pool=pending") is not None
    assert tree(rest, CANDIDATE, "raven-vpn:pools/ipv4-pool=import-pool") is not None
    assert snapshot(rest, RUNNING) == before


def test_refused_load_discards_nothing(rd):
    """A NETCONF session holds the candidate's lock and has an edit there: the
    forced import's PATCH is refused (in-use), and the holder's edit stays; no
    discard-changes is tried in its name."""
    rest = Rest(rd.rest_url)
    m = rd.connect()
    m.lock(target="candidate")
    m.edit_config(target="candidate", config='<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
                                             '<pools xmlns="urn:raven:params:xml:ns:yang:raven-vpn"><ipv4-pool>'
                                             '<name>held</name><range><start>10.79.0.1</start>'
                                             '<end>10.79.0.9</end></range></ipv4-pool></pools></config>')
    try:
        p = ravenctl(rd, "import-ios", os.path.join(IOS, "own-4-psk-minimal.txt"), "--commit", "--force")
        assert p.returncode == 1, p.stderr
        assert "ravenctl: the candidate was not changed; running is unchanged" in p.stderr
        assert "discard" not in p.stderr.replace("'ravenctl discard' drops both", "")
        assert tree(rest, CANDIDATE, "raven-vpn:pools/ipv4-pool=held") is not None
        assert tree(rest, CANDIDATE, "raven-vpn:pools/ipv4-pool=import-pool") is None
    finally:
        m.discard_changes()
        m.unlock(target="candidate")
