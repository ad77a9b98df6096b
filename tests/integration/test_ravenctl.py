"""ravenctl (api/cli) against a real ravend's REST endpoint: every command, its
output, and the exit codes and messages scripts rely on (0 ok, 1 refused by the
server, 2 usage, 3 no connection, 4 authentication, 5 not found). What a command
changed is checked through NETCONF or the state directory, not only through
ravenctl itself."""
import itertools
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import ADMIN_PW, NS, READER_PW, free_port
from nchelpers import pool_names

REQUIRES = ("ncclient",)

HERE = os.path.dirname(os.path.abspath(__file__))
RAVENCTL = os.path.join(HERE, "..", "..", "api", "cli", "ravenctl")


@pytest.fixture
def rd(make_ravend):
    """A ravend with a REST endpoint on 127.0.0.1: .rest_url, its certificate
    (self-signed, made at first start) as .rest_cert."""
    d = make_ravend(rest=True)
    d.rest_cert = os.path.join(d.state_dir, "rest_cert.pem")
    return d


def run(args, env=None, input=None, timeout=60):
    """Runs ravenctl with exactly @env (no RAVEN_* of the caller's)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("RAVEN_")}
    base.update(env or {})
    return subprocess.run([RAVENCTL, *args], env=base, input=input, capture_output=True, text=True, timeout=timeout)


def ctl(rd, *args, user="admin", password=ADMIN_PW, tls=None, env=None, input=None, expect=0):
    """ravenctl as @user against @rd, trusting its certificate; asserts the exit
    status @expect and returns the CompletedProcess."""
    opts = ["--url", rd.rest_url] + (tls if tls is not None else ["--cacert", rd.rest_cert])
    e = dict(env or {})
    if user:
        e.setdefault("RAVEN_USER", user)
        e.setdefault("RAVEN_PASSWORD", password)
    p = run(opts + list(args), env=e, input=input)
    assert p.returncode == expect, f"ravenctl {' '.join(args)}: exit {p.returncode}, expected {expect}\n" \
                                   f"stdout: {p.stdout}\nstderr: {p.stderr}"
    return p


_nets = itertools.count(100)


def pool_json(name, start=None, end=None, netmask=None):
    """An IPv4 pool; without @start, a range of its own (pools must not overlap)."""
    if start is None:
        n = next(_nets)
        start, end = f"10.{n}.0.1", f"10.{n}.0.9"
    p = {"name": name, "range": [{"start": start, "end": end}]}
    if netmask:
        p["netmask"] = netmask
    return p


def running_pools(rd):
    m = rd.connect()
    try:
        return pool_names(m)
    finally:
        m.close_session()
        rd.managers.remove(m)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text if isinstance(text, str) else json.dumps(text))
    return str(path)


def error_lines(p):
    """stderr lines in the "ravenctl: TAG: MESSAGE (at PATH)" form."""
    return [ln for ln in p.stderr.splitlines() if ln.startswith("ravenctl: ")]


# --------------------------------------------------------------------------
# connection, TLS, authentication


def test_no_server_is_exit_3():
    port = free_port()
    p = run(["--url", f"https://127.0.0.1:{port}", "--insecure", "--user", "admin", "--password", "x",
             "show", "sessions"])
    assert p.returncode == 3, p.stderr
    assert "cannot connect" in p.stderr and str(port) in p.stderr
    assert p.stdout == ""


def test_certificate_is_verified_by_default(rd):
    p = ctl(rd, "show", "pools", tls=[], expect=3)
    assert "certificate" in p.stderr and "--cacert" in p.stderr and "--insecure" in p.stderr
    ctl(rd, "show", "pools", tls=["--insecure"])
    ctl(rd, "show", "pools", tls=["--cacert", rd.rest_cert])
    p = ctl(rd, "show", "pools", tls=["--cacert", rd.rest_cert, "--insecure"], expect=2)
    assert "not both" in p.stderr


def test_wrong_password_is_exit_4(rd):
    p = ctl(rd, "get", "raven-vpn:pools", password="wrong", expect=4)
    assert error_lines(p), p.stderr
    assert p.stdout == ""
    ctl(rd, "login", password="wrong", expect=4)


def test_no_credentials_is_exit_4(rd):
    p = ctl(rd, "show", "sessions", user=None, expect=4)
    assert "--user" in p.stderr


def test_missing_password_without_terminal_is_usage_error(rd):
    p = run(["--url", rd.rest_url, "--cacert", rd.rest_cert, "--user", "admin", "show", "pools"],
            input="")
    assert p.returncode == 2, p.stderr
    assert "no password" in p.stderr


def test_password_sources(rd, tmp_path):
    pw = write(tmp_path, "pw", ADMIN_PW + "\n")
    opts = ["--url", rd.rest_url, "--cacert", rd.rest_cert]
    assert run(opts + ["--user", "admin", "--password-file", pw, "show", "pools"]).returncode == 0
    assert run(opts + ["--user", "admin", "--password", ADMIN_PW, "show", "pools"]).returncode == 0
    # options after the command work as well as before it
    assert run(["show", "pools", "--user", "admin", "--password", ADMIN_PW] + opts).returncode == 0
    assert run(opts + ["show", "pools"], env={"RAVEN_USER": "admin", "RAVEN_PASSWORD": ADMIN_PW}).returncode == 0
    p = run(opts + ["--user", "admin", "--password-file", str(tmp_path / "absent"), "show", "pools"])
    assert p.returncode == 2 and "absent" in p.stderr
    # RAVEN_URL stands for --url
    p = run(["--cacert", rd.rest_cert, "show", "pools"],
            env={"RAVEN_URL": rd.rest_url, "RAVEN_USER": "admin", "RAVEN_PASSWORD": ADMIN_PW})
    assert p.returncode == 0, p.stderr


def test_login_token_and_logout(rd):
    token = ctl(rd, "login").stdout.strip()
    assert len(token) >= 32 and "\n" not in token
    # the token alone authenticates, from the environment or --token
    ctl(rd, "get", "raven-vpn:management/user=admin/role", user=None, env={"RAVEN_TOKEN": token})
    ctl(rd, "show", "pools", "--token", token, user=None)
    doc = json.loads(ctl(rd, "login", "--json").stdout)
    assert doc["role"] == "admin" and doc["username"] == "admin" and int(doc["expires-in"]) > 0
    ctl(rd, "logout", user=None, env={"RAVEN_TOKEN": token})
    p = ctl(rd, "show", "pools", user=None, env={"RAVEN_TOKEN": token}, expect=4)
    assert "ravenctl login" in p.stderr
    # the other token is still good
    ctl(rd, "show", "pools", user=None, env={"RAVEN_TOKEN": doc["token"]})
    ctl(rd, "logout", user=None, expect=2)


def test_read_only_user_may_read_but_not_write(rd):
    ctl(rd, "show", "counters", user="reader", password=READER_PW)
    doc = json.loads(ctl(rd, "get", "raven-vpn:management/user=reader/role", user="reader",
                         password=READER_PW).stdout)
    assert doc == {"raven-vpn:role": "read-only"}
    tok = json.loads(ctl(rd, "login", "--json", user="reader", password=READER_PW).stdout)
    assert tok["role"] == "read-only"
    p = ctl(rd, "set", "raven-vpn:pools/ipv4-pool=p1", json.dumps(pool_json("p1")), user="reader",
            password=READER_PW, expect=4)
    assert any("access-denied" in ln for ln in error_lines(p)), p.stderr
    ctl(rd, "clear", "counters", user="reader", password=READER_PW, expect=4)
    ctl(rd, "clear", "session", "--all", user="reader", password=READER_PW, expect=4)
    assert running_pools(rd) == []


# --------------------------------------------------------------------------
# show, clear


def test_show_sessions_of_an_idle_daemon_is_an_empty_table(rd):
    out = ctl(rd, "show", "sessions").stdout
    assert out.split() == ["ID", "IDENTITY", "PEER", "ADDRESS", "PROFILE", "UPTIME", "BYTES-IN", "BYTES-OUT"]
    assert json.loads(ctl(rd, "show", "sessions", "--json").stdout) == {"raven-vpn:session": []}
    # --json before the command too
    assert json.loads(ctl(rd, "--json", "show", "sessions").stdout) == {"raven-vpn:session": []}


def test_show_pools(rd):
    assert ctl(rd, "show", "pools").stdout.split() == ["NAME", "FAMILY", "SIZE", "IN-USE", "FREE", "USED",
                                                       "FAILURES"]
    ctl(rd, "set", "raven-vpn:pools/ipv4-pool=corp", json.dumps(pool_json("corp", "10.9.0.1", "10.9.0.100")))
    ctl(rd, "set", "raven-vpn:pools/ipv6-pool=v6", json.dumps({"name": "v6", "prefix": "2001:db8::/120"}))
    lines = ctl(rd, "show", "pools").stdout.splitlines()
    rows = {ln.split()[0]: ln.split() for ln in lines[1:]}
    assert rows["corp"] == ["corp", "ipv4", "100", "0", "100", "0.0%", "0"]
    assert rows["v6"][1] == "ipv6" and rows["v6"][3] == "0" and rows["v6"][2] == rows["v6"][4] != "0"
    doc = json.loads(ctl(rd, "show", "pools", "--json").stdout)
    by_name = {p["name"]: p for p in doc["raven-vpn:pool"]}
    assert by_name["corp"]["family"] == "ipv4" and int(by_name["corp"]["size"]) == 100


def test_show_counters(rd):
    out = ctl(rd, "show", "counters").stdout
    assert out.startswith("IKE")
    for word in ("sa.active", "requests.received", "rejected-by-reason.sa-limit", "RADIUS servers",
                 "Dataplane interfaces"):
        assert word in out, out
    doc = json.loads(ctl(rd, "show", "counters", "--json").stdout)
    assert set(doc) == {"raven-vpn:ike-counters", "raven-vpn:radius-server", "raven-vpn:dataplane"}
    assert int(doc["raven-vpn:ike-counters"]["requests"]["received"]) == 0


def test_clear_session(rd):
    p = ctl(rd, "clear", "session", "42", expect=5)
    assert "no session 42" in p.stderr and p.stdout == ""
    assert ctl(rd, "clear", "session", "--all").stdout == "0\n"
    assert ctl(rd, "clear", "session", "--peer", "192.0.2.7").stdout == "0\n"
    assert ctl(rd, "clear", "session", "--identity", "alice@example.com").stdout == "0\n"
    out = json.loads(ctl(rd, "clear", "session", "--all", "--json").stdout)
    assert int(out["raven-vpn:output"]["cleared"]) == 0
    p = ctl(rd, "clear", "session", "--peer", "not-an-address", expect=1)
    assert any(ln.startswith("ravenctl: invalid-value: ") for ln in error_lines(p)), p.stderr
    ctl(rd, "clear", "session", expect=2)
    ctl(rd, "clear", "session", "x1", expect=2)
    ctl(rd, "clear", "session", "--all", "--peer", "192.0.2.7", expect=2)
    ctl(rd, "clear", "session", "5", "--all", expect=2)


def test_clear_counters(rd):
    for scope in ("all", "ike", "radius", "dataplane", "pools"):
        p = ctl(rd, "clear", "counters", "--scope", scope)
        assert p.stdout == "" and p.stderr == ""
    ctl(rd, "clear", "counters")
    ctl(rd, "clear", "counters", "--scope", "everything", expect=2)


def test_rpc(rd):
    ctl(rd, "rpc", "raven-vpn:clear-counters", '{"scope": "ike"}')
    out = json.loads(ctl(rd, "rpc", "raven-vpn:clear-session", '{"all": [null]}').stdout)
    assert int(out["raven-vpn:output"]["cleared"]) == 0
    p = ctl(rd, "rpc", "raven-vpn:clear-counters", '{"scope": "sideways"}', expect=1)
    assert "invalid-value" in p.stderr
    out = json.loads(ctl(rd, "rpc", "raven-vpn:clear-session", '{"raven-vpn:input": {"identity": "bob"}}').stdout)
    assert int(out["raven-vpn:output"]["cleared"]) == 0
    ctl(rd, "rpc", "raven-vpn:no-such-rpc", expect=5)
    ctl(rd, "rpc", "clear-counters", expect=2)


# --------------------------------------------------------------------------
# get, set, merge, delete


def test_set_get_delete_a_pool(rd, tmp_path):
    f = write(tmp_path, "corp.json", pool_json("corp", "10.1.0.1", "10.1.0.9"))
    ctl(rd, "set", "raven-vpn:pools/ipv4-pool=corp", f"@{f}")
    assert running_pools(rd) == ["corp"]
    doc = json.loads(ctl(rd, "get", "raven-vpn:pools/ipv4-pool=corp").stdout)
    entry = doc["raven-vpn:ipv4-pool"][0]
    assert entry["name"] == "corp" and entry["range"] == [{"start": "10.1.0.1", "end": "10.1.0.9"}]
    # a leaf: a literal string becomes {"raven-vpn:netmask": "..."}
    ctl(rd, "set", "raven-vpn:pools/ipv4-pool=corp/netmask", "255.255.255.0")
    doc = json.loads(ctl(rd, "get", "raven-vpn:pools/ipv4-pool=corp/netmask").stdout)
    assert doc == {"raven-vpn:netmask": "255.255.255.0"}
    # a number stays a number: nat-keepalive is a uint16
    ctl(rd, "set", "raven-vpn:ikev2/global/nat-keepalive", "25")
    doc = json.loads(ctl(rd, "get", "raven-vpn:ikev2/global/nat-keepalive").stdout)
    assert doc == {"raven-vpn:nat-keepalive": 25}
    # ... and a quoted one a string, which a uint16 is not (RFC 7951)
    p = ctl(rd, "set", "raven-vpn:ikev2/global/nat-keepalive", '"26"', expect=1)
    assert "invalid-value" in p.stderr
    # merge adds a range and keeps the first
    m = write(tmp_path, "more.json", {"raven-vpn:ipv4-pool": [{"name": "corp", "range": [
        {"start": "10.1.1.1", "end": "10.1.1.9"}]}]})
    ctl(rd, "merge", "raven-vpn:pools/ipv4-pool=corp", f"@{m}")
    doc = json.loads(ctl(rd, "get", "raven-vpn:pools/ipv4-pool=corp").stdout)
    assert sorted(r["start"] for r in doc["raven-vpn:ipv4-pool"][0]["range"]) == ["10.1.0.1", "10.1.1.1"]
    # set replaces: back to one range
    ctl(rd, "set", "raven-vpn:pools/ipv4-pool=corp", "@-", input=json.dumps(pool_json("corp", "10.1.0.1", "10.1.0.9")))
    doc = json.loads(ctl(rd, "get", "raven-vpn:pools/ipv4-pool=corp").stdout)
    assert len(doc["raven-vpn:ipv4-pool"][0]["range"]) == 1
    assert "netmask" not in doc["raven-vpn:ipv4-pool"][0]
    ctl(rd, "delete", "raven-vpn:pools/ipv4-pool=corp")
    assert running_pools(rd) == []
    p = ctl(rd, "delete", "raven-vpn:pools/ipv4-pool=corp", expect=5)
    assert error_lines(p)


def test_set_xml_value(rd, tmp_path):
    f = write(tmp_path, "p.xml", f'<ipv4-pool xmlns="{NS}"><name>x1</name>'
                                 '<range><start>10.2.0.1</start><end>10.2.0.2</end></range></ipv4-pool>')
    ctl(rd, "set", "raven-vpn:pools/ipv4-pool=x1", f"@{f}")
    assert running_pools(rd) == ["x1"]


def test_get_options(rd):
    ctl(rd, "set", "raven-vpn:pools/ipv4-pool=corp", json.dumps(pool_json("corp")))
    everything = json.loads(ctl(rd, "get").stdout)["ietf-restconf:data"]
    assert "raven-vpn:pools" in everything and "raven-vpn:vpn-state" in everything
    config = json.loads(ctl(rd, "get", "--content", "config").stdout)["ietf-restconf:data"]
    assert "raven-vpn:pools" in config and "raven-vpn:vpn-state" not in config
    state = json.loads(ctl(rd, "get", "--content", "nonconfig").stdout)["ietf-restconf:data"]
    assert "raven-vpn:pools" not in state and "raven-vpn:vpn-state" in state
    shallow = json.loads(ctl(rd, "get", "raven-vpn:pools", "--depth", "1").stdout)
    assert shallow == {"raven-vpn:pools": {}}
    # the leading "/" and "/restconf/data/" are optional
    assert json.loads(ctl(rd, "get", "/restconf/data/raven-vpn:pools").stdout) == \
        json.loads(ctl(rd, "get", "/raven-vpn:pools").stdout)
    xml = ctl(rd, "get", "raven-vpn:pools/ipv4-pool=corp", "--xml").stdout
    assert xml.lstrip().startswith("<ipv4-pool") and NS in xml and "<name>corp</name>" in xml
    doc = json.loads(ctl(rd, "get", "raven-vpn:pools", "--fields", "ipv4-pool(name)").stdout)
    assert doc == {"raven-vpn:pools": {"ipv4-pool": [{"name": "corp"}]}}
    assert "window-size" not in ctl(rd, "get", "raven-vpn:ikev2").stdout
    doc = json.loads(ctl(rd, "get", "raven-vpn:ikev2/global", "--with-defaults", "report-all").stdout)
    assert doc["raven-vpn:global"]["window-size"] == 1
    doc = json.loads(ctl(rd, "get", "raven-vpn:vpn-state/pool=corp", "--ds", "operational").stdout)
    assert doc["raven-vpn:pool"][0]["family"] == "ipv4"
    # errors in XML are read as well
    p = ctl(rd, "get", "raven-vpn:pools/ipv4-pool=nothere", "--xml", expect=5)
    assert "(at /raven-vpn:pools/ipv4-pool[name='nothere'])" in p.stderr, p.stderr
    # secrets are masked
    doc = json.loads(ctl(rd, "get", "raven-vpn:management/user=admin").stdout)
    assert doc["raven-vpn:user"][0]["password-hash"] == "********"


def test_unknown_path_is_exit_5(rd):
    p = ctl(rd, "get", "raven-vpn:pools/ipv4-pool=nothere", expect=5)
    assert error_lines(p) and p.stdout == ""
    ctl(rd, "get", "raven-vpn:no-such-node", expect=5)


def test_invalid_value_is_exit_1_with_the_server_message(rd):
    ctl(rd, "set", "raven-vpn:pools/ipv4-pool=corp", json.dumps(pool_json("corp")))
    before = rd.running_file()
    p = ctl(rd, "set", "raven-vpn:pools/ipv4-pool=corp/netmask", "300.1.1.1", expect=1)
    lines = error_lines(p)
    assert lines, p.stderr
    assert lines[0].startswith("ravenctl: invalid-value: ") and "(at /raven-vpn:pools/ipv4-pool" in lines[0], lines
    assert p.stdout == ""
    p = ctl(rd, "set", "raven-vpn:aaa/radius-server=r1",
            json.dumps({"name": "r1", "address": "192.0.2.1", "key": "k", "timeout": 5000}), expect=1)
    assert "invalid-value" in p.stderr and "timeout" in p.stderr
    assert rd.running_file() == before


def test_bad_input_is_a_usage_error(rd, tmp_path):
    ctl(rd, "set", "raven-vpn:pools", expect=2)
    p = ctl(rd, "set", "raven-vpn:pools/ipv4-pool=p", f"@{tmp_path}/absent.json", expect=2)
    assert "absent.json" in p.stderr
    bad = write(tmp_path, "bad.json", "{not json")
    p = ctl(rd, "set", "raven-vpn:pools/ipv4-pool=p", f"@{bad}", expect=2)
    assert "not valid JSON" in p.stderr
    ctl(rd, "set", "pools/ipv4-pool=p", "{}", expect=2)
    ctl(rd, "delete", "", expect=2)
    ctl(rd, "frobnicate", expect=2)
    ctl(rd, "get", "--depth", "1", "--content", "sometimes", expect=2)
    ctl(rd, "watch", "--count", "0", expect=2)


def test_candidate_datastore(rd):
    ctl(rd, "set", "--ds", "candidate", "raven-vpn:pools/ipv4-pool=c1", json.dumps(pool_json("c1")))
    assert running_pools(rd) == []
    ctl(rd, "get", "raven-vpn:pools/ipv4-pool=c1", "--ds", "candidate")
    ctl(rd, "get", "raven-vpn:pools/ipv4-pool=c1", "--ds", "running", expect=5)
    ctl(rd, "discard")
    ctl(rd, "get", "raven-vpn:pools/ipv4-pool=c1", "--ds", "candidate", expect=5)
    ctl(rd, "set", "--ds", "candidate", "raven-vpn:pools/ipv4-pool=c2", json.dumps(pool_json("c2")))
    ctl(rd, "validate")
    ctl(rd, "commit")
    assert running_pools(rd) == ["c2"]


# --------------------------------------------------------------------------
# commit, confirm, cancel-commit, validate


def test_commit_json_file_merges(rd, tmp_path):
    ctl(rd, "set", "raven-vpn:pools/ipv4-pool=old", json.dumps(pool_json("old")))
    f = write(tmp_path, "cfg.json", {"raven-vpn:pools": {"ipv4-pool": [pool_json("new", "10.3.0.1", "10.3.0.5")]}})
    p = ctl(rd, "commit", f)
    assert p.stdout == ""
    assert running_pools(rd) == ["new", "old"]
    assert "new" in rd.running_file()


def test_commit_xml_file_merges(rd, tmp_path):
    f = write(tmp_path, "cfg.xml", '<?xml version="1.0"?>\n<!-- pools -->\n'
                                   f'<pools xmlns="{NS}"><ipv4-pool><name>x</name>'
                                   '<range><start>10.4.0.1</start><end>10.4.0.2</end></range></ipv4-pool></pools>\n'
                                   f'<ikev2 xmlns="{NS}"><global><nat-keepalive>30</nat-keepalive></global></ikev2>\n')
    ctl(rd, "commit", f)
    assert running_pools(rd) == ["x"]
    doc = json.loads(ctl(rd, "get", "raven-vpn:ikev2/global/nat-keepalive").stdout)
    assert doc == {"raven-vpn:nat-keepalive": 30}
    # a NETCONF <config> document as well
    f = write(tmp_path, "nc.xml", '<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
                                  f'<pools xmlns="{NS}"><ipv4-pool><name>y</name>'
                                  '<range><start>10.5.0.1</start><end>10.5.0.2</end></range></ipv4-pool></pools>'
                                  '</config>')
    ctl(rd, "commit", f)
    assert running_pools(rd) == ["x", "y"]


def full_config(hashes, pools):
    return {"raven-vpn:management": {"user": [
        {"name": "admin", "password-hash": hashes["admin"], "role": "admin"},
        {"name": "reader", "password-hash": hashes["reader"], "role": "read-only"}]},
        "raven-vpn:pools": {"ipv4-pool": pools}}


def test_commit_replace(rd, tmp_path, hashes):
    ctl(rd, "set", "raven-vpn:pools/ipv4-pool=old", json.dumps(pool_json("old")))
    cfg = full_config(hashes, [pool_json("only")])
    for fe in ("netconf", "rest"):
        got = json.loads(ctl(rd, "get", f"raven-vpn:management/{fe}", "--content", "config").stdout)
        cfg["raven-vpn:management"][fe] = got[f"raven-vpn:{fe}"]
    ctl(rd, "commit", "--replace", write(tmp_path, "full.json", cfg))
    assert running_pools(rd) == ["only"]
    # the same file, wrapped as RFC 8040 wants it, is accepted too
    cfg["raven-vpn:pools"]["ipv4-pool"].append(pool_json("two", "10.6.0.1", "10.6.0.2"))
    ctl(rd, "commit", "--replace", write(tmp_path, "wrapped.json", {"ietf-restconf:data": cfg}))
    assert running_pools(rd) == ["only", "two"]
    # and XML, as a NETCONF <config>
    users = "".join(f"<user><name>{u}</name><password-hash>{hashes[u]}</password-hash><role>{r}</role></user>"
                    for u, r in (("admin", "admin"), ("reader", "read-only")))
    fes = "".join(f"<{fe}><endpoint><name>test</name><address>127.0.0.1</address><port>{port}</port></endpoint>"
                  f"</{fe}>" for fe, port in (("netconf", rd.port), ("rest", rd.rest_port)))
    xml = (f'<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><management xmlns="{NS}">{fes}{users}'
           f'</management><pools xmlns="{NS}"><ipv4-pool><name>x</name><range><start>10.7.0.1</start>'
           '<end>10.7.0.2</end></range></ipv4-pool></pools></config>')
    ctl(rd, "commit", "--replace", write(tmp_path, "full.xml", xml))
    assert running_pools(rd) == ["x"]


def test_failed_commit_changes_nothing_and_resets_the_candidate(rd, tmp_path):
    ctl(rd, "set", "raven-vpn:pools/ipv4-pool=keep", json.dumps(pool_json("keep")))
    before = rd.running_file()
    # ipv6-pool's must: assigned-length not shorter than the prefix
    bad = write(tmp_path, "bad.json", {"raven-vpn:pools": {"ipv6-pool": [
        {"name": "v6", "prefix": "2001:db8::/64", "assigned-length": 48}]}})
    p = ctl(rd, "commit", bad, expect=1)
    lines = error_lines(p)
    assert "assigned-length must not be shorter" in p.stderr
    assert "(at /raven-vpn:pools/ipv6-pool" in lines[0], lines
    assert "discard-changes" in p.stderr
    assert rd.running_file() == before
    ctl(rd, "get", "raven-vpn:pools/ipv6-pool=v6", "--ds", "candidate", expect=5)
    # a value the parser refuses never reaches the candidate
    bad = write(tmp_path, "bad2.json", {"raven-vpn:pools": {"ipv4-pool": [pool_json("b", start="10.0.0.300")]}})
    p = ctl(rd, "commit", bad, expect=1)
    assert "invalid-value" in p.stderr
    assert rd.running_file() == before
    ctl(rd, "commit", str(tmp_path / "absent.json"), expect=2)


def test_commit_file_keeps_uncommitted_changes(rd, tmp_path):
    """The candidate is shared: a FILE is not loaded on top of changes someone
    else staged there (a failed commit's discard-changes would drop them),
    unless --force, and then a failed commit leaves the candidate as it is."""
    ctl(rd, "set", "--ds", "candidate", "raven-vpn:pools/ipv4-pool=staged", json.dumps(pool_json("staged")))
    good = write(tmp_path, "good.json", {"raven-vpn:pools": {"ipv4-pool": [pool_json("g", "10.8.0.1", "10.8.0.2")]}})
    p = ctl(rd, "commit", good, expect=1)
    assert "the candidate has uncommitted changes: commit or discard them first" in p.stderr
    ctl(rd, "get", "raven-vpn:pools/ipv4-pool=staged", "--ds", "candidate")
    ctl(rd, "get", "raven-vpn:pools/ipv4-pool=g", "--ds", "candidate", expect=5)
    assert running_pools(rd) == []
    bad = write(tmp_path, "bad.json", {"raven-vpn:pools": {"ipv6-pool": [
        {"name": "v6", "prefix": "2001:db8::/64", "assigned-length": 48}]}})
    p = ctl(rd, "commit", bad, "--force", expect=1)
    assert "assigned-length must not be shorter" in p.stderr
    assert "reset to running" not in p.stderr and "still holds" in p.stderr
    ctl(rd, "get", "raven-vpn:pools/ipv4-pool=staged", "--ds", "candidate")
    ctl(rd, "discard")
    ctl(rd, "commit", good)
    assert running_pools(rd) == ["g"]


def test_commit_leaving_no_admin_is_refused(rd, tmp_path, hashes):
    cfg = full_config(hashes, [])
    del cfg["raven-vpn:pools"]
    cfg["raven-vpn:management"]["user"] = cfg["raven-vpn:management"]["user"][1:]
    p = ctl(rd, "commit", "--replace", write(tmp_path, "noadmin.json", cfg), expect=1)
    assert "operation-failed" in p.stderr and "/raven-vpn:management" in p.stderr
    ctl(rd, "show", "pools")


def test_confirmed_commit_then_confirm(rd, tmp_path):
    f = write(tmp_path, "c.json", {"raven-vpn:pools": {"ipv4-pool": [pool_json("c")]}})
    p = ctl(rd, "commit", f, "--confirmed", "--timeout", "60")
    assert "ravenctl confirm" in p.stderr and "60 s" in p.stderr
    assert running_pools(rd) == ["c"]
    ctl(rd, "confirm")
    ctl(rd, "cancel-commit", expect=1)
    assert running_pools(rd) == ["c"]


def test_confirmed_commit_then_cancel(rd, tmp_path):
    ctl(rd, "set", "raven-vpn:pools/ipv4-pool=a", json.dumps(pool_json("a")))
    f = write(tmp_path, "c.json", {"raven-vpn:pools": {"ipv4-pool": [pool_json("c")]}})
    ctl(rd, "commit", f, "--confirmed")
    assert running_pools(rd) == ["a", "c"]
    ctl(rd, "cancel-commit")
    assert running_pools(rd) == ["a"]


def test_confirmed_commit_times_out(rd, tmp_path):
    f = write(tmp_path, "c.json", {"raven-vpn:pools": {"ipv4-pool": [pool_json("c")]}})
    ctl(rd, "commit", f, "--confirmed", "--confirm-timeout", "1")
    deadline = time.time() + 15
    while running_pools(rd) and time.time() < deadline:
        time.sleep(0.2)
    assert running_pools(rd) == []


def test_persisted_confirmed_commit(rd, tmp_path):
    f = write(tmp_path, "c.json", {"raven-vpn:pools": {"ipv4-pool": [pool_json("c")]}})
    ctl(rd, "commit", f, "--confirmed", "--persist", "job-7")
    ctl(rd, "confirm", "--persist-id", "wrong", expect=1)
    ctl(rd, "confirm", "--persist-id", "job-7")
    assert running_pools(rd) == ["c"]


def test_commit_option_errors(rd, tmp_path):
    f = write(tmp_path, "c.json", {"raven-vpn:pools": {"ipv4-pool": [pool_json("c")]}})
    p = ctl(rd, "commit", f, "--timeout", "60", expect=2)
    assert "--confirmed" in p.stderr
    ctl(rd, "commit", f, "--confirmed", "--timeout", "0", expect=2)
    assert running_pools(rd) == []


def test_validate(rd, tmp_path):
    ctl(rd, "validate")
    ctl(rd, "validate", "--source", "running")
    ctl(rd, "set", "--ds", "candidate", "raven-vpn:pools/ipv6-pool=v6",
        json.dumps({"name": "v6", "prefix": "2001:db8::/64", "assigned-length": 48}))
    p = ctl(rd, "validate", expect=1)
    assert "assigned-length must not be shorter" in p.stderr
    ctl(rd, "discard")
    ctl(rd, "validate")


def test_validate_a_file(rd, tmp_path, hashes):
    good = full_config(hashes, [pool_json("v")])
    ctl(rd, "validate", write(tmp_path, "good.json", good))
    bad = dict(good)
    bad["raven-vpn:pools"] = {"ipv6-pool": [{"name": "v6", "prefix": "2001:db8::/64", "assigned-length": 48}]}
    p = ctl(rd, "validate", write(tmp_path, "bad.json", bad), expect=1)
    assert "assigned-length must not be shorter" in p.stderr
    assert running_pools(rd) == []
    ctl(rd, "validate", write(tmp_path, "x.xml", "<pools/>"), expect=2)


# --------------------------------------------------------------------------
# watch


def start_watch(rd, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAVEN_")}
    env.update(RAVEN_USER="admin", RAVEN_PASSWORD=ADMIN_PW)
    return subprocess.Popen([RAVENCTL, "--url", rd.rest_url, "--cacert", rd.rest_cert, "watch", *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def changes_until_exit(rd, proc, timeout=20):
    """Commits pool after pool until @proc (a watch with --count) exits: the
    stream's subscription starts at an unknown moment after the process does."""
    deadline = time.time() + timeout
    i = 0
    while proc.poll() is None and time.time() < deadline:
        i += 1
        ctl(rd, "set", f"raven-vpn:pools/ipv4-pool=w{i}", json.dumps(pool_json(f"w{i}")))
        time.sleep(0.3)
    try:
        out, err = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"watch did not end: {out} {err}")
    return proc.returncode, out, err


def test_watch_config_events(rd):
    proc = start_watch(rd, "config", "--count", "2")
    rc, out, err = changes_until_exit(rd, proc)
    assert rc == 0, err
    lines = out.splitlines()
    assert len(lines) == 2, out
    for ln in lines:
        assert "netconf-config-change" in ln and "ipv4-pool" in ln and "admin" in ln, ln


def test_watch_json_prints_notifications(rd):
    proc = start_watch(rd, "--count", "1", "--json")          # default stream NETCONF
    rc, out, err = changes_until_exit(rd, proc)
    assert rc == 0, err
    doc = json.loads(out.splitlines()[0])
    n = doc["ietf-restconf:notification"]
    assert n["eventTime"] and "ietf-netconf-notifications:netconf-config-change" in n


def test_watch_traffic_samples(rd):
    p = ctl(rd, "watch", "traffic", "--interval", "1", "--count", "2")
    lines = p.stdout.splitlines()
    assert len(lines) == 2 and all(" traffic-sample interval=1 " in ln for ln in lines), p.stdout
    assert "total.bytes-in=0" in lines[0]


def test_watch_ends_with_ctrl_c(rd):
    proc = start_watch(rd, "sessions")
    time.sleep(1.5)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert out == "" and err == ""


def test_watch_unknown_stream_is_exit_5(rd):
    ctl(rd, "watch", "no-such-stream", "--count", "1", expect=5)


def test_watch_needs_credentials(rd):
    ctl(rd, "watch", "--count", "1", password="wrong", expect=4)


def test_watch_reports_the_end_of_the_daemon(rd):
    proc = start_watch(rd, "config")
    time.sleep(1.5)
    assert rd.stop() == 0
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, err
    assert "ravenctl: " in err
