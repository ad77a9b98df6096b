"""Post-quantum preshared keys (RFC 8784) with real strongSwan 5.9.8 clients
(`ppk_id`, `ppk_required` in the connection, a `ppk` secret):

- the profile's ppk policy required and the client's PPK: the session is up,
  PPK-protected in vpn-state (with its PPK_ID), the client says it used the
  PPK, and ESP passes through the AF_XDP dataplane to the inside host (the
  child SA keys from SK_d' agree with the client's), also after the client
  rekeys its IKE SA (whose keys come from SK_d') and its child SA over it;
- a client without a PPK, and one whose PPK_ID Raven does not have, are
  refused with AUTHENTICATION_FAILED when the profile requires a PPK; so is
  one naming a PPK Raven has that the profile does not allow (ppk id);
- policy optional and an unknown PPK_ID on a client that does not require
  its PPK: authenticated with its NO_PPK_AUTH, without a PPK, traffic passes;
- the same PPK_ID with another key: the AUTH made with SK_pi' does not match;
- certificates: the signature over octets with SK_pi' (required), or the
  NO_PPK_AUTH signature without the PPK (optional, unknown PPK_ID);
- EAP (MSCHAPv2, with an MSK, and MD5, without): the PPK goes into the final
  AUTH payloads (RFC 8784 section 3), the session is PPK-protected;
- the PPK is write-only: configuration reads return the mask; a key that
  says it is hex and is not is refused at commit, changing nothing;
- PPKs from RADIUS (ppk aaa-authorization-list): a client whose PPK_ID only
  a real FreeRADIUS knows (User-Name = the PPK_ID, the key in the
  Access-Accept's Cisco-AVPair ipsec:ppk-key) is PPK-protected and its ESP
  passes; the wrong key on RADIUS, a PPK_ID RADIUS rejects and RADIUS down
  are refused when the PPK is required; with RADIUS down and the policy
  optional the client's NO_PPK_AUTH authenticates it."""
import re
import subprocess
import threading
import time

import pytest

from conftest import NS, cfg
from nchelpers import MASK, expect_error, get_config, subtree, texts, wait_until
from lab import psk_client_conf
from radiushelpers import FreeRadius
from test_dataplane import dataplane_config, ping
from test_eap_radius import client_conf as eap_client_conf, headend as eap_headend, radius_server, servers_xml
from test_ike_certs import client_conf as cert_client_conf, headend as cert_headend
from test_ike_certs import pki  # noqa: F401 (the pki fixture)
from test_ike_sessions import headend_config, sessions, t

REQUIRES = ("strongswan", "ping", "freeradius")
REQUIRES_PLUGINS = ("eap-identity", "eap-md5", "eap-mschapv2")

PPK_HEX = "8d3c6f1a52e07b94c4a1d6e2f0b3958a7c1e4d2b6a9f0c3e5d7b8a1c2e4f6a8b"
OTHER_HEX = "11" * 32


def ppk_list(*entries):
    return "".join(f"<ppk><ppk-id>{i}</ppk-id><key>0x{k}</key></ppk>" for i, k in entries)


def headend(lb, policy, ppks=(("pq-1", PPK_HEX),), ids=()):
    allowed = "".join(f"<id>{i}</id>" for i in ids)
    conf = headend_config(extra_profile=f"<ppk><policy>{policy}</policy>{allowed}</ppk>").replace("10.200.0.0/16",
                                                                                                    lb.inside_net)
    conf = conf.replace("</global>", "</global>" + ppk_list(*ppks), 1)
    return conf + dataplane_config(lb)


def with_ppk(conf, ppk_id, required, key_hex=PPK_HEX):
    """A swanctl.conf with the connection's ppk_id / ppk_required and the PPK
    as a secret."""
    conf = conf.replace("    vips = ", f"    ppk_id = {ppk_id}\n    ppk_required = {'yes' if required else 'no'}\n"
                        "    vips = ", 1)
    return conf.replace("secrets {", f"secrets {{\n  ppk-1 {{\n    id = {ppk_id}\n    secret = 0x{key_hex}\n  }}", 1)


def client(lb, ppk_id=None, required=True, key_hex=PPK_HEX, i=0):
    c = lb.clients[i]
    conf = psk_client_conf(c["head_ip"], f"user{i}.example.org", esp="aes256gcm16", remote_ts=lb.inside_net)
    if ppk_id:
        conf = with_ppk(conf, ppk_id, required, key_hex)
    lb.start_charon(i, conf)
    return lb.swanctl(i, "--initiate", "--child", "vpn", "--timeout", "20", check=False)


def refused(lb, d, r):
    log = lb.log(0)
    assert r.returncode != 0, log[-3000:]
    assert "received AUTHENTICATION_FAILED notify error" in log, log[-3000:]
    m = d.connect()
    assert sessions(m) == []
    return d.log()


def test_required_ppk_both_sides_protects_ike_and_esp(make_ravend, lab):
    lb = lab(1, inside=True)
    d = make_ravend(headend(lb, "required"), netns=lb.head)
    r = client(lb, "pq-1", required=True)
    log = lb.log(0)
    assert r.returncode == 0, log[-4000:] + d.log()[-3000:]
    # the client sent its AUTH made with SK_pi' (no NO_PPK_AUTH: it requires the
    # PPK), checked ours made with SK_pr', and saw our PPK_IDENTITY
    assert re.search(r"generating IKE_AUTH request 1 \[[^\]]*N\(PPK_ID\)", log), log[-3000:]
    assert re.search(r"parsed IKE_AUTH response 1 \[[^\]]*N\(PPK_ID\)", log), log[-3000:]
    assert "using PPK for PPK_ID 'pq-1'" in log, log[-3000:]
    m = d.connect()
    s = sessions(m)[0]
    assert t(s, "ike-sa/ppk") == "true"
    assert t(s, "ike-sa/ppk-id") == "pq-1"
    assert "post-quantum preshared key pq-1 in use" in d.log()
    # ESP with keys from SK_d' (KEYMAT): the client's agree with ours
    ping(lb.clients[0]["ns"], lb.inside_ip, count=3)
    # the client rekeys the IKE SA: the new one's keys come from SK_d' on both
    # sides, and the child SA rekeyed over it (sealed with the new keys) still
    # carries traffic
    lb.swanctl(0, "--rekey", "--ike", "rw")
    lb.swanctl(0, "--rekey", "--child", "vpn")
    ping(lb.clients[0]["ns"], lb.inside_ip, count=3)
    sas = lb.swanctl(0, "--list-sas").stdout
    assert "ESTABLISHED" in sas and "INSTALLED" in sas, sas
    assert re.search(r"^rw: #2,", sas, re.M), sas  # the rekeyed IKE SA is the one up
    s = sessions(m)[0]
    assert t(s, "ike-sa/ppk") == "true"
    # the PPK is write-only: every read returns the mask
    assert texts(get_config(m, "running", subtree("ikev2")), "ikev2/ppk/key") == [MASK]
    assert PPK_HEX not in m.get_config(source="running").data_xml
    assert PPK_HEX not in m.get(filter=subtree("ikev2")).data_xml
    assert PPK_HEX in d.running_file()  # what the daemon keeps


def test_client_without_ppk_refused_when_required(make_ravend, lab):
    lb = lab(1, inside=True)
    d = make_ravend(headend(lb, "required"), netns=lb.head)
    m = d.connect()
    m.create_subscription(stream_name="NETCONF")
    dlog = refused(lb, d, client(lb))
    assert "did not announce USE_PPK" in dlog
    for _ in range(10):
        n = m.take_notification(timeout=10)
        assert n is not None, "no authentication-failure notification"
        if "authentication-failure" in n.notification_xml:
            assert "<reason>ppk-unavailable</reason>" in n.notification_xml, n.notification_xml
            break
    else:
        pytest.fail("no authentication-failure notification")


def test_unknown_ppk_id_refused_when_required(make_ravend, lab):
    """Also with the client willing to go without (it sends NO_PPK_AUTH): the
    profile requires a PPK Raven has."""
    lb = lab(1, inside=True)
    d = make_ravend(headend(lb, "required"), netns=lb.head)
    dlog = refused(lb, d, client(lb, "pq-unknown", required=False))
    assert "PPK_ID is not configured" in dlog


def test_configured_ppk_not_allowed_by_profile_refused(make_ravend, lab):
    """ppk id binds the profile to its PPKs: a client naming another PPK the
    headend has (with its right key) is refused when the PPK is required,
    one naming an allowed PPK is PPK-protected."""
    lb = lab(2, inside=True)
    d = make_ravend(headend(lb, "required", ppks=(("pq-0", OTHER_HEX), ("pq-1", PPK_HEX)), ids=("pq-1",)),
                    netns=lb.head)
    dlog = refused(lb, d, client(lb, "pq-0", required=False, key_hex=OTHER_HEX))
    assert "PPK_ID pq-0 is not one profile rw allows (ppk id)" in dlog
    assert "PPK_ID is not one the profile allows (ppk id)" in dlog
    assert "post-quantum preshared key pq-0 in use" not in dlog
    r = client(lb, "pq-1", required=True, i=1)
    log = lb.log(1)
    assert r.returncode == 0, log[-4000:] + d.log()[-3000:]
    assert "using PPK for PPK_ID 'pq-1'" in log, log[-3000:]
    s = sessions(d.connect())[0]
    assert t(s, "ike-sa/ppk") == "true" and t(s, "ike-sa/ppk-id") == "pq-1"


def test_optional_unknown_ppk_id_falls_back_to_no_ppk_auth(make_ravend, lab):
    lb = lab(1, inside=True)
    d = make_ravend(headend(lb, "optional"), netns=lb.head)
    r = client(lb, "pq-unknown", required=False)
    log = lb.log(0)
    assert r.returncode == 0, log[-4000:] + d.log()[-3000:]
    # the client sent NO_PPK_AUTH; Raven answered without PPK_IDENTITY, so the
    # client went on without the PPK
    assert re.search(r"generating IKE_AUTH request 1 \[[^\]]*N\(NO_PPK\)", log), log[-3000:]
    assert not re.search(r"parsed IKE_AUTH response 1 \[[^\]]*N\(PPK_ID\)", log), log[-3000:]
    assert "using PPK" not in log
    m = d.connect()
    s = sessions(m)[0]
    assert t(s, "ike-sa/ppk") == "false" and t(s, "ike-sa/ppk-id") is None
    ping(lb.clients[0]["ns"], lb.inside_ip, count=3)


def test_optional_known_ppk_is_used(make_ravend, lab):
    """Optional with a PPK Raven has: used, although the client would go without."""
    lb = lab(1, inside=True)
    d = make_ravend(headend(lb, "optional", ppks=(("pq-0", OTHER_HEX), ("pq-1", PPK_HEX))), netns=lb.head)
    r = client(lb, "pq-1", required=False)
    log = lb.log(0)
    assert r.returncode == 0, log[-4000:] + d.log()[-3000:]
    assert "using PPK for PPK_ID 'pq-1'" in log, log[-3000:]
    s = sessions(d.connect())[0]
    assert t(s, "ike-sa/ppk") == "true" and t(s, "ike-sa/ppk-id") == "pq-1"
    ping(lb.clients[0]["ns"], lb.inside_ip, count=3)


def test_same_ppk_id_with_another_key_fails(make_ravend, lab):
    lb = lab(1, inside=True)
    d = make_ravend(headend(lb, "required"), netns=lb.head)
    dlog = refused(lb, d, client(lb, "pq-1", required=True, key_hex=OTHER_HEX))
    assert "does not match the pre-shared key" in dlog


@pytest.mark.parametrize("method,user,pw,ts", [("eap-mschapv2", "ann@example.org", "ann-pw-1", "0.0.0.0/0"),
                                               ("eap-md5", "ben@example.org", "ben-pw-1", "10.200.0.0/16")])
def test_eap_final_auth_with_ppk(make_ravend, lab, pki, method, user, pw, ts):
    lb = lab(1)
    fr = FreeRadius(netns=lb.head)
    try:
        conf = eap_headend(pki, fr).replace("</authentication>\n    <pki>",
                                            "</authentication>\n    <ppk><policy>required</policy></ppk>\n    <pki>", 1)
        assert "<policy>required</policy>" in conf
        conf = conf.replace("</global>", "</global>" + ppk_list(("pq-1", PPK_HEX)), 1)
        d = make_ravend(conf, netns=lb.head)
        lb.install_creds(0, ca=pki("ca.pem"))
        cc = with_ppk(eap_client_conf(lb.clients[0], user, user, pw, method, remote_ts=ts), "pq-1", True)
        lb.start_charon(0, cc)
        r = lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "20", check=False)
        log = lb.log(0)
        assert r.returncode == 0, log[-4000:] + d.log()[-3000:] + fr.log()[-2000:]
        # the first response's signature is made without the PPK (Raven does not
        # know it yet); the final AUTH payloads both ways with SK_pi' / SK_pr'
        assert re.search(r"parsed IKE_AUTH response 1 \[ IDr CERT AUTH EAP", log), log[-3000:]
        assert re.search(r"parsed IKE_AUTH response \d+ \[[^\]]*AUTH[^\]]*N\(PPK_ID\)", log), log[-3000:]
        assert "using PPK for PPK_ID 'pq-1'" in log, log[-3000:]
        assert "MSK established" in log and "IKE_SA rw[1] established" in log
        s = sessions(d.connect())[0]
        assert t(s, "ike-sa/ppk") == "true" and t(s, "ike-sa/ppk-id") == "pq-1"
        assert t(s, "authentication-method").endswith("eap")
    finally:
        fr.close()


def test_ppk_session_survives_kill9(make_ravend, lab):
    """The session record holds SK_d' and the PPK flag: after kill -9 and a
    new start the session is still PPK-protected, its ESP goes on, and an IKE
    SA rekey and a child rekey (keys from the adopted SK_d') still agree with
    the client's."""
    lb = lab(1, inside=True)
    d = make_ravend(headend(lb, "required"), netns=lb.head)
    r = client(lb, "pq-1", required=True)
    assert r.returncode == 0, lb.log(0)[-4000:] + d.log()[-3000:]
    ping(lb.clients[0]["ns"], lb.inside_ip, count=2)
    d.kill9()
    d.start()
    s = sessions(d.connect())[0]
    assert t(s, "ike-sa/ppk") == "true" and t(s, "ike-sa/ppk-id") == "pq-1"
    ping(lb.clients[0]["ns"], lb.inside_ip, count=2)
    lb.swanctl(0, "--rekey", "--ike", "rw")
    lb.swanctl(0, "--rekey", "--child", "vpn")
    ping(lb.clients[0]["ns"], lb.inside_ip, count=2)
    # the client's rekey is asynchronous: its new IKE SA is listed once done
    wait_until(lambda: re.search(r"^rw: #2, ESTABLISHED", lb.swanctl(0, "--list-sas").stdout, re.M),
               timeout=20, what="the client's rekeyed IKE SA")
    ping(lb.clients[0]["ns"], lb.inside_ip, count=2)


@pytest.mark.parametrize("policy,ppk_id,used", [("required", "pq-1", True), ("optional", "pq-unknown", False)])
def test_certificate_client_with_ppk(make_ravend, lab, pki, policy, ppk_id, used):
    lb = lab(1)
    conf = cert_headend(pki).replace("</authentication>\n    <pki>",
                                     f"</authentication>\n    <ppk><policy>{policy}</policy></ppk>\n    <pki>", 1)
    assert f"<policy>{policy}</policy>" in conf
    d = make_ravend(conf.replace("</global>", "</global>" + ppk_list(("pq-1", PPK_HEX)), 1), netns=lb.head)
    lb.install_creds(0, cert=pki("alice.pem"), key=pki("alice.key"), ca=pki("ca.pem"))
    cc = with_ppk(cert_client_conf(pki, lb, "alice") + "secrets {\n}\n", ppk_id, used)
    lb.start_charon(0, cc)
    r = lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "15", check=False)
    log = lb.log(0)
    assert r.returncode == 0, log[-4000:] + d.log()[-3000:]
    assert ("using PPK for PPK_ID 'pq-1'" in log) == used, log[-3000:]
    if not used:
        assert re.search(r"generating IKE_AUTH request 1 \[[^\]]*N\(NO_PPK\)", log), log[-3000:]
    s = sessions(d.connect())[0]
    assert t(s, "ike-sa/ppk") == ("true" if used else "false")
    assert t(s, "authentication-method").endswith("rsa-sig")


def test_bad_hex_key_is_refused_and_changes_nothing(make_ravend):
    d = make_ravend()
    m = d.connect()
    before = d.running_file()
    err = expect_error(lambda: m.edit_config(target="running", config=cfg(
        f'<ikev2 xmlns="{NS}"><ppk><ppk-id>pq-bad</ppk-id><key>0x0123456789abcdefg1</key></ppk></ikev2>')),
        "operation-failed", path_contains="ppk[ppk-id='pq-bad']")
    assert "not an even number of hex digits" in err.message, err.message
    assert d.running_file() == before
    assert "pq-bad" not in m.get_config(source="running").data_xml


RADIUS_USERS = f"""pq-radius Cleartext-Password := "cisco"
\tCisco-AVPair = "ipsec:ppk-key=0x{PPK_HEX}"

pq-radius-wrong Cleartext-Password := "cisco"
\tCisco-AVPair = "ipsec:ppk-key=0x{OTHER_HEX}"
"""


def radius_headend(lb, policy, fr):
    """The PPK list has pq-1 only; every other PPK_ID is asked of RADIUS."""
    conf = headend(lb, policy).replace(f"<ppk><policy>{policy}</policy></ppk>",
                                       f"<ppk><policy>{policy}</policy>"
                                       "<aaa-authorization-list>ppk-radius</aaa-authorization-list></ppk>", 1)
    assert "ppk-radius" in conf
    return conf.replace("</authorization-list>", "</authorization-list>" + servers_xml([("r1", fr.port, fr.acct_port)])
                        + "<authorization-list><name>ppk-radius</name><method><sequence>1</sequence><group>g</group>"
                        "</method></authorization-list>", 1)


def no_key_anywhere(d, m):
    for key in (PPK_HEX, OTHER_HEX):
        assert key not in d.log() and key.upper() not in d.log()
        assert key not in m.get(filter=("subtree", f'<vpn-state xmlns="{NS}"/>')).data_xml


def test_ppk_from_radius_protects_ike_and_esp(make_ravend, lab):
    lb = lab(1, inside=True)
    fr = FreeRadius(netns=lb.head, users_extra=RADIUS_USERS)
    try:
        d = make_ravend(radius_headend(lb, "required", fr), netns=lb.head)
        r = client(lb, "pq-radius", required=True)
        log = lb.log(0)
        assert r.returncode == 0, log[-4000:] + d.log()[-3000:] + fr.log()[-2000:]
        assert "using PPK for PPK_ID 'pq-radius'" in log, log[-3000:]
        assert re.search(r"parsed IKE_AUTH response 1 \[[^\]]*N\(PPK_ID\)", log), log[-3000:]
        # the Access-Request named the PPK_ID, with the authorization password
        assert 'User-Name = "pq-radius"' in fr.log()
        m = d.connect()
        assert radius_server(m, "r1")["accepts"] == "1"
        s = sessions(m)[0]
        assert t(s, "ike-sa/ppk") == "true" and t(s, "ike-sa/ppk-id") == "pq-radius"
        assert "post-quantum preshared key pq-radius in use (from RADIUS)" in d.log()
        ping(lb.clients[0]["ns"], lb.inside_ip, count=3)
        # a configured PPK is not asked for
        assert fr.log().count('User-Name = "pq-') == 1
        no_key_anywhere(d, m)
    finally:
        fr.close()


@pytest.mark.parametrize("ppk_id,expect", [("pq-radius-wrong", "does not match the pre-shared key"),
                                           ("pq-nobody", "RADIUS gave no PPK")])
def test_ppk_from_radius_refused(make_ravend, lab, ppk_id, expect):
    """The wrong key on RADIUS (the AUTH made with SK_pi' does not match), a
    PPK_ID RADIUS rejects (also from a client that would go without: the
    profile requires the PPK)."""
    lb = lab(1, inside=True)
    fr = FreeRadius(netns=lb.head, users_extra=RADIUS_USERS)
    try:
        d = make_ravend(radius_headend(lb, "required", fr), netns=lb.head)
        dlog = refused(lb, d, client(lb, ppk_id, required=ppk_id == "pq-radius-wrong"))
        assert expect in dlog, dlog[-3000:]
        assert f'User-Name = "{ppk_id}"' in fr.log()
        if ppk_id == "pq-nobody":
            assert "the RADIUS server rejected the PPK_ID" in dlog
        no_key_anywhere(d, d.connect())
    finally:
        fr.close()


@pytest.mark.parametrize("policy", ["required", "optional"])
def test_ppk_radius_down(make_ravend, lab, policy):
    """No RADIUS server answers: an unknown PPK_ID after the RADIUS client's
    timeouts; refused (required) or authenticated by NO_PPK_AUTH (optional)."""
    lb = lab(1, inside=True)
    fr = FreeRadius(netns=lb.head, users_extra=RADIUS_USERS)
    conf = radius_headend(lb, policy, fr)
    fr.close()
    d = make_ravend(conf, netns=lb.head)
    m = d.connect()
    if policy == "required":
        m.create_subscription(stream_name="NETCONF")
        dlog = refused(lb, d, client(lb, "pq-radius", required=False))
        assert "no RADIUS server of the list answered" in dlog, dlog[-3000:]
        for _ in range(10):
            n = m.take_notification(timeout=10)
            assert n is not None, "no authentication-failure notification"
            if "authentication-failure" in n.notification_xml:
                assert "<reason>ppk-unavailable</reason>" in n.notification_xml, n.notification_xml
                break
        else:
            pytest.fail("no authentication-failure notification")
        return
    r = client(lb, "pq-radius", required=False)
    log = lb.log(0)
    assert r.returncode == 0, log[-4000:] + d.log()[-3000:]
    assert re.search(r"generating IKE_AUTH request 1 \[[^\]]*N\(NO_PPK\)", log), log[-3000:]
    assert "using PPK" not in log
    assert "no RADIUS server of the list answered" in d.log()
    s = sessions(m)[0]
    assert t(s, "ike-sa/ppk") == "false"
    ping(lb.clients[0]["ns"], lb.inside_ip, count=2)


SILENT = """import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
print("ready", flush=True)
while True:
    s.recv(4096)
"""


def test_ppk_radius_wait_blocks_no_one(make_ravend, lab):
    """A RADIUS server that never answers (a socket that reads and drops,
    6 s timeout): while the first client's IKE_AUTH waits for its PPK, a
    second client with a configured PPK gets its session; the first is then
    authenticated by its NO_PPK_AUTH (policy optional)."""
    lb = lab(2, inside=True)
    fr = FreeRadius(netns=lb.head, users_extra=RADIUS_USERS)
    conf = radius_headend(lb, "optional", fr).replace("<timeout>1</timeout><retransmit>1</retransmit>",
                                                     "<timeout>6</timeout><retransmit>0</retransmit>")
    assert "<timeout>6</timeout>" in conf
    fr.close()
    silent = subprocess.Popen(["ip", "netns", "exec", lb.head, "python3", "-c", SILENT, str(fr.port)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert silent.stdout.readline().strip() == "ready"
        d = make_ravend(conf, netns=lb.head)
        first = {}
        th = threading.Thread(target=lambda: first.update(r=client(lb, "pq-radius", required=False, i=0)))
        t0 = time.time()
        th.start()
        deadline = time.time() + 5
        while "sending packet" not in lb.log(0) or "IKE_AUTH" not in lb.log(0):
            assert time.time() < deadline, lb.log(0)[-3000:]
            time.sleep(0.1)
        r2 = client(lb, "pq-1", required=True, i=1)
        elapsed = time.time() - t0
        assert r2.returncode == 0, lb.log(1)[-4000:] + d.log()[-3000:]
        assert "using PPK for PPK_ID 'pq-1'" in lb.log(1)
        assert th.is_alive() and elapsed < 6, elapsed  # the first still waits for RADIUS
        th.join(40)
        assert first["r"].returncode == 0, lb.log(0)[-4000:] + d.log()[-3000:]
        assert time.time() - t0 >= 6
        assert "no RADIUS server of the list answered" in d.log()
        m = d.connect()
        by_ppk = sorted((t(s, "ike-sa/ppk"), t(s, "ike-sa/ppk-id")) for s in sessions(m))
        assert by_ppk == [("false", None), ("true", "pq-1")], by_ppk
    finally:
        silent.kill()
        silent.wait()


def test_eap_final_auth_with_ppk_from_radius(make_ravend, lab, pki):
    """EAP: the PPK is asked of RADIUS with the final IKE_AUTH request (which
    waits for the answer), after the EAP exchange with the same server."""
    lb = lab(1)
    fr = FreeRadius(netns=lb.head, users_extra=RADIUS_USERS)
    try:
        conf = eap_headend(pki, fr).replace(
            "</authentication>\n    <pki>",
            "</authentication>\n    <ppk><policy>required</policy>"
            "<aaa-authorization-list>radius-list</aaa-authorization-list></ppk>\n    <pki>", 1)
        assert "<aaa-authorization-list>radius-list" in conf
        d = make_ravend(conf, netns=lb.head)
        lb.install_creds(0, ca=pki("ca.pem"))
        user = "ann@example.org"
        lb.start_charon(0, with_ppk(eap_client_conf(lb.clients[0], user, user, "ann-pw-1", "eap-mschapv2",
                                                    remote_ts="0.0.0.0/0"), "pq-radius", True))
        r = lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "20", check=False)
        log = lb.log(0)
        assert r.returncode == 0, log[-4000:] + d.log()[-3000:] + fr.log()[-2000:]
        assert re.search(r"parsed IKE_AUTH response \d+ \[[^\]]*AUTH[^\]]*N\(PPK_ID\)", log), log[-3000:]
        assert "using PPK for PPK_ID 'pq-radius'" in log, log[-3000:]
        assert 'User-Name = "pq-radius"' in fr.log()
        m = d.connect()
        s = sessions(m)[0]
        assert t(s, "ike-sa/ppk") == "true" and t(s, "ike-sa/ppk-id") == "pq-radius"
        assert t(s, "authentication-method").endswith("eap")
        no_key_anywhere(d, m)
    finally:
        fr.close()
