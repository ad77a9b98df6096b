"""ravenctl import-ios (api/cli/raven_ios.py) without a server: the vendor
guide's five examples converted to what yang/examples holds, up to the
differences listed with their reasons in ios/differences.json; configurations
of our own in the vendor's syntax converted to their expected trees; every line
not converted reported with its number and reason; malformed lines reported, not
guessed; garbage never a traceback and the output always data that yanglint
accepts. yanglint (libyang2-tools) judges the data and canonicalises both
sides."""
import json
import os
import random
import shutil
import stat
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
DATA = os.path.join(HERE, "ios")
YANG = os.path.join(ROOT, "yang")
RAVENCTL = os.path.join(ROOT, "api", "cli", "ravenctl")
sys.path.insert(0, os.path.join(ROOT, "api", "cli"))
import raven_ios  # noqa: E402

IETF = "/usr/share/yuma/modules/ietf"
EXAMPLES = ["example-1-eap-radius", "example-2-group-external-aaa", "example-3-group-local-aaa",
            "example-4-user-authorization", "example-5-ipv6"]
SEED_IFACES = {"Ethernet0/0": ("eth0", None)}


def text(name):
    with open(os.path.join(DATA, name + ".txt"), encoding="utf-8") as f:
        return f.read()


def canonical(path):
    """The data in @path (XML or JSON) as yanglint prints it in JSON: validated
    against raven-vpn, in its canonical forms."""
    if not shutil.which("yanglint"):
        pytest.fail("yanglint not found: install libyang2-tools")
    p = subprocess.run(["yanglint", "-p", IETF, "-p", YANG, "-t", "config", "-f", "json",
                        os.path.join(YANG, "raven-types.yang"), os.path.join(YANG, "raven-vpn.yang"), path],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, f"yanglint refused {path}:\n{p.stderr}"
    return json.loads(p.stdout or "{}")


def canonical_text(body, suffix):
    with tempfile.NamedTemporaryFile("w", suffix=suffix, delete=False) as f:
        f.write(body)
    try:
        return canonical(f.name)
    finally:
        os.unlink(f.name)


def normalized(v):
    """Lists of entries compared as sets (keyed lists); leaf-lists in order."""
    if isinstance(v, dict):
        return {k: normalized(x) for k, x in v.items()}
    if isinstance(v, list) and v and isinstance(v[0], dict):
        return sorted((normalized(x) for x in v), key=lambda x: json.dumps(x, sort_keys=True))
    return v


def remove(tree, path):
    """Removes the node at the api-path @path ("raven-vpn:pools/ipv4-pool=p1/x")
    from a canonical JSON tree; fails if it is not there."""
    segs = path.split("/")
    node = tree
    for i, seg in enumerate(segs):
        name, _, key = seg.partition("=")
        last = i == len(segs) - 1
        if name not in node:
            if ":" in name and name.split(":", 1)[1] in node:
                name = name.split(":", 1)[1]
            else:
                pytest.fail(f"documented difference {path}: no {name} here")
        if key:
            entries = node[name]
            match = [e for e in entries if str(next(iter(e.values()))) == key]
            assert match, f"documented difference {path}: no entry {key}"
            if last:
                entries.remove(match[0])
                if not entries:
                    del node[name]
                return
            node = match[0]
        elif last:
            del node[name]
        else:
            node = node[name]


@pytest.fixture(scope="module")
def differences():
    with open(os.path.join(DATA, "differences.json"), encoding="utf-8") as f:
        return json.load(f)


# --------------------------------------------------------------------------
# the vendor guide's examples


@pytest.mark.parametrize("name", EXAMPLES)
def test_seed_example_equals_yang_example(name, differences):
    res = raven_ios.convert(text(name), SEED_IFACES)
    imported = canonical_text(res.json(), ".json")
    example = canonical(os.path.join(YANG, "examples", name + ".xml"))
    doc = differences[name]
    for side, tree in (("example", example), ("import", imported)):
        for path, reason in differences["common"][side] + doc[side]:
            assert reason.strip(), f"{path}: a difference needs its reason"
            remove(tree, path)
    assert normalized(imported) == normalized(example)
    # the lines reported are exactly the documented ones, each for the documented
    # reason: every message of a line contains one of its phrases, each phrase is
    # in one of the messages
    assert sorted({n for n, _, _ in res.skipped}) == sorted(int(n) for n in doc["reported"])
    lines = text(name).splitlines()
    said = {}
    for n, line, reason in res.skipped:
        assert line == lines[n - 1].strip() and reason
        said.setdefault(n, []).append(reason)
    for n, want in doc["reported"].items():
        assert want["why"].strip() and want["says"], f"line {n}: a reported line needs its reason"
        msgs = said[int(n)]
        for m in msgs:
            assert any(k in m for k in want["says"]), f"{name} line {n}: {m!r} is not the documented reason"
        for k in want["says"]:
            assert any(k in m for m in msgs), f"{name} line {n}: no message says {k!r}: {msgs}"


@pytest.mark.parametrize("name", EXAMPLES)
def test_seed_example_xml_equals_json(name):
    res = raven_ios.convert(text(name), SEED_IFACES)
    assert canonical_text(res.xml(), ".xml") == canonical_text(res.json(), ".json")


def test_seed_example_without_interface_name_reports_it():
    res = raven_ios.convert(text("example-1-eap-radius"))
    assert "raven-vpn:dataplane" not in res.config
    (hit,) = [s for s in res.skipped if s[1] == "interface Ethernet0/0"]
    assert hit[0] == 26 and "--interface Ethernet0/0=NAME" in hit[2] and "outside" in hit[2]


# --------------------------------------------------------------------------
# configurations of our own, in the vendor's syntax


@pytest.mark.parametrize("name", ["own-1-psk-eap", "own-2-certs-ipv6", "own-4-psk-minimal"])
def test_own_configuration(name):
    with open(os.path.join(DATA, name + ".expected.json"), encoding="utf-8") as f:
        want = json.load(f)
    ifaces = {k: tuple(v) for k, v in want["interfaces"].items()}
    res = raven_ios.convert(text(name), ifaces)
    assert res.config == want["config"]
    assert [n for n, _, _ in res.skipped] == want["reported"]
    assert canonical_text(res.json(), ".json") == canonical_text(res.xml(), ".xml")


def test_own_secrets_and_values():
    """Spot checks on values that need a conversion, not a copy."""
    c = raven_ios.convert(text("own-1-psk-eap"), {"GigabitEthernet1": ("ens3", None),
                                                  "GigabitEthernet2": ("ens4", "inside")}).config
    aaa = c["raven-vpn:aaa"]
    radius = {s["name"]: s for s in aaa["radius-server"]}
    # type 7 decoded; type 0 / no type as written
    assert radius["corp-radius-1"]["key"] == "Radius-Key-7"
    assert radius["corp-radius-2"]["key"] == "Second-Radius-Key"
    assert aaa["accounting-interim-interval"] == 15 * 60        # the vendor's minutes
    peers = {p["name"]: p for p in c["raven-vpn:ikev2"]["keyring"][0]["peer"]}
    assert peers["branch-2"]["local-pre-shared-key"] == "Peer2-Secret"
    assert peers["branch-1"]["address"] == "203.0.113.21/32"
    ips = c["raven-vpn:ipsec"]["profile"][0]
    assert ips["lifetime"]["hard"]["kilobytes"] == "10000000"   # uint64: a string in RFC 7951
    assert ips["pfs-group"] == "raven-types:ecp-256"
    acl = c["raven-vpn:access-lists"]["access-list"][0]["entry"]
    assert [e["prefix"] for e in acl] == ["10.20.0.0/16", "10.40.0.5/32", "0.0.0.0/0"]

    c = raven_ios.convert(text("own-2-certs-ipv6"), {"TenGigabitEthernet0/1/0": ("ens5", None)}).config
    (tp,) = c["raven-vpn:pki"]["trustpoint"]
    (pem,) = tp["ca-certificate"]
    der = subprocess.run(["openssl", "x509", "-outform", "der"], input=pem.encode(), capture_output=True,
                         check=True).stdout
    hexdata = "".join(ln.strip().replace(" ", "") for ln in text("own-2-certs-ipv6").splitlines()[18:32])
    assert der.hex() == hexdata.lower()
    subj = subprocess.run(["openssl", "x509", "-noout", "-subject"], input=pem, capture_output=True,
                          text=True, check=True).stdout
    assert "Example Root CA" in subj


def test_type7_published_vector_and_type6():
    # the vendor's own documentation example: 0822455D0A16 is "cisco"
    assert raven_ios.type7("0822455D0A16") == "cisco"
    res = raven_ios.convert("radius-server host 192.0.2.1 key 6 AAAAbbbbCCCC\n"
                            "radius-server host 192.0.2.2 key 7 0822455D0A16\n"
                            "radius-server host 192.0.2.3 key 7 08ZZ\n")
    assert [(n, "type 6" in r) for n, _, r in res.skipped] == [(1, True), (3, False)]
    assert "bad type 7" in res.skipped[1][2]
    assert res.config["raven-vpn:aaa"]["radius-server"] == [{"name": "192.0.2.2", "address": "192.0.2.2",
                                                             "key": "cisco"}]


# --------------------------------------------------------------------------
# bad input: reported, not guessed

MALFORMED = {
    3: "bad server address '192.0.2.300'",
    4: "type 6",
    6: "missing group name",
    7: "'if-authenticated' is not supported",
    8: "needs encryption and group",
    9: "encryption des not supported",
    11: "group 5 not supported",
    13: "no pre-shared-key",
    15: "missing pre-shared key",
    16: "no address, hostname or identity",
    17: "bad IPv4 address '10.0.0.300'",
    19: "no match identity remote or match certificate",
    20: "netmask 255.0.255.0 is not contiguous",
    23: "eap md5",
    25: "on-demand|periodic expected",
    26: "unknown command (in 'crypto ikev2 profile')",
    27: "transform ah-sha-hmac is not supported",
    31: "pfs group5",
    32: "below the first",
    34: "missing assigned length",
    36: "wildcard mask 0.255.0.255 is not contiguous",
    38: "not applicable",
    39: "unknown command",
    41: "no crypto ikev2 profile names virtual-template 1",
}


def test_malformed_lines_reported():
    res = raven_ios.convert(text("own-3-malformed"))
    got = {}
    for n, _, reason in res.skipped:
        got.setdefault(n, []).append(reason)
    assert sorted(got) == sorted(MALFORMED)
    for n, want in MALFORMED.items():
        assert any(want in r for r in got[n]), f"line {n}: {got[n]}"
    lines = [f"line {n}: {t}: {r}" for n, t, r in res.skipped]
    # the report is the list, secrets masked
    assert lines[0] == "line 3: radius-server host 192.0.2.300 key Radius-Bad: bad server address '192.0.2.300'"
    assert res.report_lines()[0] == ("line 3: radius-server host 192.0.2.300 key <secret>: bad server address "
                                     "'192.0.2.300'")
    assert [ln.replace("Radius-Bad", "<secret>").replace("FJ[XZMU^aQI[ZfdBbQ_EM\\NMXUB", "<secret>")
            .replace("public RO", "<secret> RO") for ln in lines] == res.report_lines()
    # nothing half-converted: the bad peer, proposal, pool and profile are absent
    c = res.config
    assert "proposal" not in c["raven-vpn:ikev2"]
    assert "peer" not in c["raven-vpn:ikev2"]["keyring"][0]
    assert "profile" not in c["raven-vpn:ikev2"]
    assert [p["name"] for p in c["raven-vpn:pools"]["ipv4-pool"]] == ["p2"]
    assert "pfs-group" not in c["raven-vpn:ipsec"]["profile"][0]
    assert [t["name"] for t in c["raven-vpn:ipsec"]["transform-set"]] == ["ts2"]
    assert [s["name"] for s in c["raven-vpn:aaa"]["radius-server"]] == ["192.0.2.61"]
    canonical_text(res.json(), ".json")


def test_modes_follow_the_vendor_cli_not_indentation():
    """A sub-mode command stays in its mode; another command goes back to the
    global mode, indented or not; 'exit' leaves a mode."""
    res = raven_ios.convert("crypto ikev2 name-mangler m\n"
                            "dn common-name\n"
                            "ip local pool p 10.0.0.1 10.0.0.9\n"
                            "  dn country\n"
                            "crypto ikev2 keyring k\n"
                            " peer a\n"
                            "  address 10.1.0.1\n"
                            "  pre-shared-key Key-A\n"
                            " exit\n"
                            " peer b\n"
                            "  hostname b.example.net\n"
                            "  pre-shared-key Key-B\n")
    assert res.config["raven-vpn:ikev2"]["name-mangler"] == [{"name": "m", "dn": "common-name"}]
    assert res.config["raven-vpn:pools"]["ipv4-pool"][0]["name"] == "p"
    assert [p["name"] for p in res.config["raven-vpn:ikev2"]["keyring"][0]["peer"]] == ["a", "b"]
    assert [(n, r) for n, _, r in res.skipped] == [(4, "unknown command")]


def test_unknown_sub_mode_lines_reported_in_their_mode():
    res = raven_ios.convert("line vty 0 4\n transport input ssh\n login local\nhostname h\n")
    assert [n for n, _, _ in res.skipped] == [1, 2, 3, 4]
    assert "in 'line vty 0 4'" in res.skipped[1][2]
    assert res.config == {}


def test_show_running_config_details():
    """What a saved 'show running-config' holds besides the commands: headers, a
    banner over several lines, groups naming new-style servers by address,
    interfaces named only through --interface."""
    res = raven_ios.convert("Building configuration...\n"
                            "\n"
                            "Current configuration : 2101 bytes\n"
                            "!\n"
                            "radius server nps-1\n"
                            " address ipv4 192.0.2.7 auth-port 1812 acct-port 1813\n"
                            " key Nps-Key\n"
                            "aaa group server radius nps\n"
                            " server 192.0.2.7\n"
                            "crypto ikev2 authorization policy p\n"
                            " banner ^C\n"
                            "Authorised use only.\n"
                            "! not a comment here\n"
                            "^C\n"
                            " route set interface Loopback7\n"
                            " route set interface Loopback8\n"
                            " dns 192.0.2.53\n"
                            "end\n", {"Loopback7": ("lo7", "inside")})
    assert res.config["raven-vpn:aaa"]["server-group"] == [{"name": "nps", "server": ["nps-1"]}]
    (pol,) = res.config["raven-vpn:ikev2"]["authorization-policy"]
    assert pol["banner"] == "Authorised use only.\n! not a comment here"
    assert pol["route"]["set"]["interface"] == ["lo7"]
    assert pol["dns"] == {"primary": "192.0.2.53"}
    assert [(n, r) for n, _, r in res.skipped] == [
        (1, "not applicable: a header of the vendor's show running-config"),
        (3, "not applicable: a header of the vendor's show running-config"),
        (16, "interface Loopback8 has no Linux name: give --interface Loopback8=NAME")]
    res = raven_ios.convert("crypto ikev2 authorization policy p\n banner # no end\n dns 192.0.2.53\n")
    assert "banner" not in json.dumps(res.config)
    assert [(n, "never comes" in r) for n, _, r in res.skipped] == [(2, True)]
    res = raven_ios.convert("crypto pki certificate chain tp\n certificate ca 01\n  3082 01b6\n")
    assert res.config == {} and [(n, "no 'quit'" in r) for n, _, r in res.skipped] == [(2, True)]
    with pytest.raises(ValueError):
        raven_ios.convert("", {"Gi1": ("bad/name", None)})


def test_secrets_masked_in_the_report():
    """Lines not converted are printed on stderr, which ends up in terminals and
    logs: the secret words in them are masked."""
    res = raven_ios.convert("radius-server host 192.0.2.1 key Sup3rSecret bogus\n"
                            "snmp-server community Comm-Str1ng RO\n"
                            "username admin password 0 Pa55-Word\n"
                            "username oper secret 5 $1$abcd$Hash-Val\n"
                            "aaa group server radius g\n"
                            " key Gr0up-Key\n"
                            "crypto ikev2 keyring kr\n"
                            " peer p\n"
                            "  pre-shared-key local 7 0822455D0A16 extra\n"
                            "  pre-shared-key \"Quoted Key\" extra\n"
                            "tacacs-server key-string 7 Tacacs-Key\n"
                            "crypto key generate rsa modulus 2048\n")
    report = "\n".join(res.report_lines())
    assert len(res.report_lines()) == 11, report
    for secret in ("Sup3rSecret", "Comm-Str1ng", "Pa55-Word", "Hash-Val", "Gr0up-Key", "0822455D0A16",
                   "Quoted Key", "Tacacs-Key"):
        assert secret not in report
    assert "line 1: radius-server host 192.0.2.1 key <secret> bogus: " in report
    assert "line 3: username admin password 0 <secret>: " in report
    assert "line 9: pre-shared-key local 7 <secret> extra: " in report
    assert "line 10: pre-shared-key <secret> extra: " in report
    assert "line 12: crypto key generate rsa modulus 2048: " in report


def test_values_yang_refuses_are_reported():
    """Values beyond what raven-vpn takes are reported, not converted and not
    cut: yanglint accepts what is left."""
    long_text = "d" * 256
    res = raven_ios.convert("crypto ikev2 keyring kr\n"
                            " peer p\n"
                            f"  description {long_text}\n"
                            "  hostname bad_host!.example\n"
                            "  hostname " + "a" * 64 + ".example.net\n"
                            "  address 10.0.0.1\n"
                            "  pre-shared-key K\n"
                            "crypto ikev2 profile pr\n"
                            f" description {long_text}\n"
                            " match fvrf vrf-with-a-long-name\n"
                            " ivrf another-long-vrf-name\n"
                            " match identity remote address 0.0.0.0\n"
                            " authentication remote pre-share\n"
                            " authentication local pre-share\n"
                            " keyring local kr\n"
                            "crypto ikev2 policy po\n"
                            " match fvrf vrf-with-a-long-name\n"
                            "crypto ikev2 authorization policy ap\n"
                            " split-dns not/a/domain\n"
                            " split-dns corp.example.com\n"
                            " def-domain bad domain\n"
                            " def-domain -bad.example\n"
                            f" banner {'b' * 4001}\n")
    got = {n: r for n, _, r in res.skipped}
    # (16: the policy without a proposal is left out)
    assert sorted(got) == [3, 4, 5, 9, 10, 11, 16, 17, 19, 21, 22, 23], got
    assert "at most 255" in got[3] and "at most 255" in got[9] and "at most 4000" in got[23]
    for n in (4, 5, 19, 22):
        assert "a domain name is expected" in got[n]
    for n in (10, 11, 17):
        assert "1 to 15 characters" in got[n]
    assert "unexpected 'domain'" in got[21]
    c = res.config
    (peer,) = c["raven-vpn:ikev2"]["keyring"][0]["peer"]
    assert "description" not in peer and "hostname" not in peer
    (ap,) = c["raven-vpn:ikev2"]["authorization-policy"]
    assert ap["split-dns"] == ["corp.example.com"] and "def-domain" not in ap and "banner" not in ap
    canonical_text(res.json(), ".json")


def test_numbered_access_list_other_entries_reported():
    res = raven_ios.convert("access-list 10 permit 10.0.0.0 0.0.0.255\n"
                            "access-list 10 evaluate foo\n"
                            "access-list 101 dynamic dyn permit ip any any\n"
                            "access-list 10 remark a comment\n")
    assert [(n, "only permit, deny and remark" in r) for n, _, r in res.skipped] == [(2, True), (3, True)]
    assert [a["name"] for a in res.config["raven-vpn:access-lists"]["access-list"]] == ["10"]


def test_global_command_leaves_the_sub_mode():
    """A global command the converter does not know (not indented) ends the
    sub-mode before it: what follows is not taken as the mode's. The device's
    own banners are reported with their text."""
    res = raven_ios.convert("crypto ikev2 authorization policy p\n"
                            " dns 192.0.2.53\n"
                            "banner motd ^C\n"
                            "Authorised use only\n"
                            "^C\n"
                            "banner login # one line #\n"
                            "crypto ikev2 authorization policy q\n"
                            " dns 192.0.2.54\n"
                            "frobnicate\n"
                            " banner ^C not q's ^C\n"
                            " dns 192.0.2.55\n"
                            "crypto ikev2 authorization policy r\n"
                            " banner ^C r's ^C\n"
                            " banner exec ^C not r's either ^C\n")
    pols = {p["name"]: p for p in res.config["raven-vpn:ikev2"]["authorization-policy"]}
    assert "banner" not in pols["p"] and "banner" not in pols["q"]
    assert pols["q"]["dns"] == {"primary": "192.0.2.54"}
    assert pols["r"]["banner"] == "r's"
    got = [(n, r) for n, _, r in res.skipped]
    assert [n for n, _ in got] == [3, 4, 5, 6, 9, 10, 11, 14], got
    assert all("login banners belong to Linux" in r for n, r in got if n in (3, 4, 5, 6, 14))
    assert got[4][1].startswith("unknown command")
    assert all("in 'frobnicate', an unknown command" in r for n, r in got if n in (10, 11))


def test_group_radius_is_every_server():
    res = raven_ios.convert("radius-server host 192.0.2.1 key K1\n"
                            "radius server second\n address ipv4 192.0.2.2\n key K2\n"
                            "aaa authentication login eap group radius\n")
    aaa = res.config["raven-vpn:aaa"]
    assert aaa["server-group"] == [{"name": "radius", "server": ["192.0.2.1", "second"]}]
    assert aaa["authentication-list"][0]["method"] == [{"sequence": 1, "group": "radius"}]
    assert res.skipped == []
    # without servers there is no such group: reported
    res = raven_ios.convert("aaa authentication login eap group radius\n")
    assert res.config == {} and [n for n, _, _ in res.skipped] == [1, 1]


VOCAB = ("aaa crypto ikev2 ipsec pki profile proposal policy keyring peer authorization authentication "
         "accounting network list group local server radius radius-server host key 7 6 0 pool ip ipv6 "
         "access-list standard extended permit deny any host match identity remote address fqdn email "
         "domain certificate map chain ca quit exit end virtual-template interface Virtual-Template1 type "
         "tunnel protection transform-set esp-aes esp-gcm 256 esp-sha-hmac set pfs group14 dns wins "
         "netmask banner ^C route split-dns dpd 10 3 on-demand name-mangler dn eap prefix delimiter @ "
         "mode lifetime seconds kilobytes fragmentation mtu 1280 trustpoint revocation-check crl none "
         "10.0.0.1 255.255.255.0 0.0.0.255 2001:db8::/32 64 10.0.0.300 Ethernet0/0 ! \" ' \\ % \x7f \u00e9 "
         "subject-name co eq cisco list-a m1 p1 a b description ivrf fvrf hostname def-domain split-dns "
         "motd login evaluate dynamic remark a-vrf-name-over-15 not/a/domain under_score!.example -bad.example "
         + "x" * 256 + " " + "l" * 64 + ".example.net").split(" ")


def garbage_line(rnd):
    k = rnd.random()
    if k < 0.1:
        return "".join(chr(rnd.randrange(1, 0x3000)) for _ in range(rnd.randrange(0, 40)))
    words = [rnd.choice(VOCAB) for _ in range(rnd.randrange(0, 9))]
    return (" " * rnd.randrange(0, 3)) + " ".join(words)


def test_garbage_never_a_traceback():
    rnd = random.Random(20261206)
    for _ in range(3000):
        lines = [garbage_line(rnd) for _ in range(rnd.randrange(1, 30))]
        body = "\n".join(lines)
        res = raven_ios.convert(body)
        json.dumps(res.config)
        res.xml()
        for n, _, reason in res.skipped:
            assert 0 <= n <= body.count("\n") + 1 and reason


def mutate(rnd, lines):
    lines = list(lines)
    for _ in range(rnd.randrange(1, 6)):
        i = rnd.randrange(len(lines))
        op = rnd.randrange(4)
        if op == 0:
            del lines[i]
        elif op == 1:
            lines.insert(rnd.randrange(len(lines)), lines[i])
        elif op == 2:
            toks = lines[i].split()
            if toks:
                toks[rnd.randrange(len(toks))] = rnd.choice(VOCAB)
            lines[i] = " ".join(toks)
        else:
            lines[i] = lines[i].lstrip()
    return lines


def test_mutated_configurations_convert_to_valid_data():
    """Whatever is left out, what comes out is configuration data yanglint
    accepts (references resolved, no half-made entries)."""
    rnd = random.Random(7)
    sources = [text(n).splitlines() for n in EXAMPLES + ["own-1-psk-eap", "own-2-certs-ipv6", "own-4-psk-minimal"]]
    for _ in range(60):
        lines = mutate(rnd, rnd.choice(sources))
        res = raven_ios.convert("\n".join(lines), {"Ethernet0/0": ("eth0", None),
                                                   "GigabitEthernet1": ("ens3", None)})
        canonical_text(res.json(), ".json")


# --------------------------------------------------------------------------
# the command


def ravenctl(*args, input=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAVEN_")}
    return subprocess.run(["/usr/bin/python3", RAVENCTL, *args], input=input, capture_output=True, text=True,
                          env=env, timeout=60)


def test_command_output_and_exit_status(tmp_path):
    ex = os.path.join(DATA, "example-1-eap-radius.txt")
    p = ravenctl("import-ios", ex, "--interface", "Ethernet0/0=eth0")
    assert p.returncode == 6, p.stderr
    report = [ln for ln in p.stderr.splitlines() if ln.startswith("line ")]
    assert [ln.split(":")[0] for ln in report] == ["line 9", "line 23", "line 27", "line 31"]
    assert report[0].startswith("line 9: enrollment url http://192.168.3.1:80: not applicable:")
    assert "ravenctl: 4 line(s)" in p.stderr
    doc = json.loads(p.stdout)
    assert doc["raven-vpn:dataplane"] == {"interface": [{"name": "eth0", "role": "outside"}]}

    # nothing skipped: 0; XML; from stdin; into a file
    p = ravenctl("import-ios", "-", "--xml", input=text("own-4-psk-minimal"))
    assert p.returncode == 0 and p.stderr == "", p.stderr
    assert p.stdout.startswith('<ikev2 xmlns="urn:raven:params:xml:ns:yang:raven-vpn"')
    out = tmp_path / "c.json"
    p = ravenctl("import-ios", os.path.join(DATA, "own-4-psk-minimal.txt"), "-o", str(out))
    assert p.returncode == 0 and p.stdout == ""
    assert json.loads(out.read_text()) == raven_ios.convert(text("own-4-psk-minimal")).config
    # it holds the secrets in clear: created for its owner only
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    # the report masks them
    p = ravenctl("import-ios", "-", input="radius-server host 192.0.2.1 key Sup3rSecret bogus\n")
    assert p.returncode == 6 and "Sup3rSecret" not in p.stderr and "key <secret> bogus" in p.stderr

    # usage errors: 2
    p = ravenctl("import-ios", str(tmp_path / "missing.txt"))
    assert p.returncode == 2 and "cannot read" in p.stderr
    p = ravenctl("import-ios", ex, "--interface", "Ethernet0/0")
    assert p.returncode == 2 and "--interface" in p.stderr
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00garbage")
    p = ravenctl("import-ios", str(tmp_path / "bin.txt"))
    assert p.returncode == 2 and "UTF-8" in p.stderr
