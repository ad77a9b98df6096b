"""Remote-access sessions against ravend itself, with real strongSwan clients
(charon 5.9 with kernel-libipsec, which always UDP-encapsulates ESP) in their own
namespaces: IKE_SA_INIT, IKE_AUTH with pre-shared keys, configuration mode from
the committed pools and authorization policy, the first child SA with narrowed
selectors, sessions in the operational state over NETCONF, client and server
deletes, pool exhaustion and a live pool change (a new configuration
generation: the session up before keeps its own).

Topology: [client i: 10.<n>.<i>.2] --veth-- [headend namespace: ravend, 10.<n>.<i>.1]
"""
import os
import select
import signal
import subprocess
import time

import pytest
from lxml import etree

from conftest import NS, cfg
from lab import psk_client_conf
from nchelpers import data_of, expect_error, rpc, wait_until

REQUIRES = ("strongswan", "tshark")

NOTIF_NS = "urn:ietf:params:xml:ns:netconf:notification:1.0"


def headend_config(pool_ranges=(("10.201.0.10", "10.201.0.20"),), extra_policy="", extra_profile="", proposal=""):
    ranges = "".join(f"<range><start>{s}</start><end>{e}</end></range>" for s, e in pool_ranges)
    prop = ""
    if proposal:
        prop = f"""<proposal><name>p1</name>{proposal}</proposal>
  <policy><name>pol1</name><proposal>p1</proposal></policy>"""
    return f"""<ikev2 xmlns="{NS}">
  <global><listen><address>0.0.0.0</address></listen></global>
  {prop}
  <authorization-policy>
    <name>rw-group</name>
    <dns><primary>10.200.0.53</primary><secondary>10.200.0.54</secondary></dns>
    <pool>rw-pool</pool>
    <route><set><remote><ipv4>10.200.0.0/16</ipv4></remote></set></route>
    <wins><primary>10.200.0.55</primary></wins>
    {extra_policy}
  </authorization-policy>
  <profile>
    <name>rw</name>
    <match><identity><remote><fqdn><domain>example.org</domain></fqdn></remote></identity></match>
    <identity><local><fqdn>headend.example.org</fqdn></local></identity>
    <authentication>
      <local><pre-share><key>rw-secret-1</key></pre-share></local>
      <remote><pre-share><key>rw-secret-1</key></pre-share></remote>
    </authentication>
    <aaa><authorization><group><psk><method-list>local-list</method-list><username>rw-group</username></psk></group></authorization></aaa>
    {extra_profile}
  </profile>
</ikev2>
<pools xmlns="{NS}">
  <ipv4-pool><name>rw-pool</name>{ranges}</ipv4-pool>
</pools>
<aaa xmlns="{NS}">
  <authorization-list><name>local-list</name><method><sequence>1</sequence><local/></method></authorization-list>
</aaa>"""


def state(m):
    """vpn-state as an element (NETCONF <get> with a subtree filter)."""
    reply = m.get(filter=("subtree", f'<vpn-state xmlns="{NS}"/>'))
    root = data_of(reply)
    vs = root.find(f"{{{NS}}}vpn-state")
    assert vs is not None, etree.tostring(root)
    return vs


def sessions(m):
    return state(m).findall(f"{{{NS}}}session")


def t(el, path):
    return el.findtext("/".join(f"{{{NS}}}{p}" for p in path.split("/")))


def up(lb, i, my_id, **kw):
    c = lb.clients[i]
    lb.start_charon(i, psk_client_conf(c["head_ip"], my_id, **kw))
    return lb.swanctl(i, "--initiate", "--child", "vpn", "--timeout", "15", check=False)


@pytest.mark.parametrize("ike,esp", [
    ("aes256gcm16-prfsha384-ecp384", "aes256gcm16"),
    ("aes128-sha256-modp2048", "aes128-sha256"),
    ("chacha20poly1305-prfsha256-x25519", "chacha20poly1305"),
])
def test_psk_session_gets_address_dns_and_child_sa(make_ravend, lab, ike, esp):
    lb = lab(1)
    d = make_ravend(headend_config(), netns=lb.head)
    r = up(lb, 0, "alice.example.org", proposals=ike, esp=esp)
    log = lb.log(0)
    assert r.returncode == 0, f"{r.stdout}\n{log[-4000:]}\n{d.log()[-3000:]}"
    assert "installing new virtual IP 10.201.0.10" in log
    resolv = open(os.path.join(lb.clients[0]["dir"], "resolv.conf")).read()
    assert "10.200.0.53" in resolv and "10.200.0.54" in resolv
    sas = lb.swanctl(0, "--list-sas").stdout
    assert "ESTABLISHED" in sas and "INSTALLED" in sas
    # the client's selectors were narrowed to its address, ours to the split subnet
    assert "local  10.201.0.10/32" in sas and "remote 10.200.0.0/16" in sas

    m = d.connect()
    ss = sessions(m)
    assert len(ss) == 1
    s = ss[0]
    assert t(s, "remote-identity/value") == "alice.example.org"
    assert t(s, "assigned-ipv4") == "10.201.0.10"
    assert t(s, "profile") == "rw"
    assert t(s, "authorized-group") == "rw-group"
    assert t(s, "peer-address") == lb.clients[0]["ip"]
    assert t(s, "peer-port") == "4500"  # floated to NAT-T (libipsec fakes a NAT)
    assert t(s, "local-identity") == "headend.example.org"
    assert t(s, "ike-sa/state") == "established"
    children = s.findall(f"{{{NS}}}child-sa")
    assert len(children) == 1 and t(children[0], "encapsulation") == "udp"
    pool = [p for p in state(m).findall(f"{{{NS}}}pool") if t(p, "name") == "rw-pool"][0]
    assert t(pool, "in-use") == "1" and t(pool, "size") == "11"

    # the client ends the session: the lease and the SA go
    lb.swanctl(0, "--terminate", "--ike", "rw")
    wait_until(lambda: not sessions(m), what="session removed after the client's DELETE")
    pool = [p for p in state(m).findall(f"{{{NS}}}pool") if t(p, "name") == "rw-pool"][0]
    assert t(pool, "in-use") == "0"
    assert t(state(m), "ike-counters/exchanges/ike-auth-completed") == "1"


def test_wrong_key_is_refused_and_counted(make_ravend, lab):
    lb = lab(1)
    d = make_ravend(headend_config(), netns=lb.head)
    r = up(lb, 0, "mallory.example.org", psk="not-the-key")
    assert r.returncode != 0
    assert "received AUTHENTICATION_FAILED notify" in lb.log(0)
    m = d.connect()
    st = state(m)
    assert not st.findall(f"{{{NS}}}session")
    assert t(st, "ike-counters/rejected-by-reason/authentication-failed") == "1"
    assert t(st, "ike-counters/sa/half-open") == "0"
    assert "refused: the client's AUTH does not match the pre-shared key" in d.log()


def test_unknown_identity_matches_no_profile(make_ravend, lab):
    lb = lab(1)
    d = make_ravend(headend_config(), netns=lb.head)
    r = up(lb, 0, "eve.example.com")
    assert r.returncode != 0
    assert "received AUTHENTICATION_FAILED notify" in lb.log(0)
    assert "no IKEv2 profile matches the identity" in d.log()


def test_pool_exhaustion_gives_internal_address_failure(make_ravend, lab):
    lb = lab(2)
    d = make_ravend(headend_config(pool_ranges=(("10.201.0.10", "10.201.0.10"),)), netns=lb.head)
    assert up(lb, 0, "alice.example.org").returncode == 0
    r = up(lb, 1, "bob.example.org")
    assert r.returncode != 0
    assert "received INTERNAL_ADDRESS_FAILURE notify" in lb.log(1), lb.log(1)[-3000:]
    m = d.connect()
    st = state(m)
    assert t(st, "ike-counters/rejected-by-reason/internal-address-failure") == "1"
    pool = [p for p in st.findall(f"{{{NS}}}pool") if t(p, "name") == "rw-pool"][0]
    assert t(pool, "allocation-failures") == "1" and t(pool, "in-use") == "1"
    # alice is untouched
    assert "ESTABLISHED" in lb.swanctl(0, "--list-sas").stdout


def test_live_pool_change_keeps_sessions_and_applies_to_new_ones(make_ravend, lab):
    lb = lab(2)
    d = make_ravend(headend_config(pool_ranges=(("10.201.0.10", "10.201.0.10"),)), netns=lb.head)
    assert up(lb, 0, "alice.example.org").returncode == 0
    m = d.connect()
    # taking alice's address away is refused, naming her session, and changes nothing
    err = expect_error(lambda: m.edit_config(target="running", config=cfg(
        f'<pools xmlns="{NS}" xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0"><ipv4-pool><name>rw-pool</name>'
        '<range nc:operation="delete"><start>10.201.0.10</start></range>'
        '<range><start>10.202.0.1</start><end>10.202.0.9</end></range></ipv4-pool></pools>')),
        "operation-failed")
    assert "session 1 (alice.example.org)" in err.message, err.message
    assert len(sessions(m)) == 1
    gen = int(t(state(m), "ike-counters/config-generation"))
    assert t(sessions(m)[0], "config-generation") == str(gen)
    assert t(state(m), "ike-counters/config-generations-alive") == "1"
    # adding a range is fine: alice stays, bob gets an address from the new range
    m.edit_config(target="running", config=cfg(
        f'<pools xmlns="{NS}"><ipv4-pool><name>rw-pool</name>'
        '<range><start>10.202.0.1</start><end>10.202.0.9</end></range></ipv4-pool></pools>'))
    r = up(lb, 1, "bob.example.org")
    assert r.returncode == 0, lb.log(1)[-3000:]
    assert "installing new virtual IP 10.202.0.1" in lb.log(1)
    assert "ESTABLISHED" in lb.swanctl(0, "--list-sas").stdout
    addrs = sorted(t(s, "assigned-ipv4") for s in sessions(m))
    assert addrs == ["10.201.0.10", "10.202.0.1"]
    # the commit made a new generation: alice keeps the one she was negotiated
    # under (held while she lives), bob has the new one
    vs = state(m)
    assert t(vs, "ike-counters/config-generation") == str(gen + 1)
    assert t(vs, "ike-counters/config-generations-alive") == "2"
    gens = {t(s, "assigned-ipv4"): t(s, "config-generation") for s in sessions(m)}
    assert gens == {"10.201.0.10": str(gen), "10.202.0.1": str(gen + 1)}, gens


def test_clear_session_deletes_the_clients_sa(make_ravend, lab):
    lb = lab(1)
    d = make_ravend(headend_config(), netns=lb.head)
    assert up(lb, 0, "alice.example.org").returncode == 0
    m = d.connect()
    m.create_subscription()
    sid = t(sessions(m)[0], "id")
    reply = rpc(m, f'<clear-session xmlns="{NS}"><session-id>{sid}</session-id></clear-session>')
    assert etree.fromstring(reply.xml.encode()).xpath("//*[local-name()='cleared']")[0].text == "1"
    wait_until(lambda: "received DELETE for IKE_SA rw[1]" in lb.log(0), what="the client's log shows our DELETE")
    assert not sessions(m)
    # session-down, with the reason, to the subscriber
    for _ in range(5):
        n = m.take_notification(timeout=10)
        assert n is not None, "no session-down notification"
        root = etree.fromstring(n.notification_xml.encode())
        down = root.find(f"{{{NS}}}session-down")
        if down is not None:
            assert down.findtext(f"{{{NS}}}reason") == "admin-clear"
            assert down.findtext(f"{{{NS}}}remote-identity") == "alice.example.org"
            break
    else:
        pytest.fail("no session-down notification among the first five")


def test_clear_session_needs_admin_and_a_selector(make_ravend, lab):
    lb = lab(1)
    d = make_ravend(headend_config(), netns=lb.head)
    m = d.connect()
    expect_error(lambda: rpc(m, f'<clear-session xmlns="{NS}"/>'), "missing-element")
    reader = d.connect(user="reader", password="reader-secret-1")
    expect_error(lambda: rpc(reader, f'<clear-session xmlns="{NS}"><all/></clear-session>'), "access-denied")


def test_shutdown_deletes_sessions_at_the_clients(make_ravend, lab):
    """Without a session arena, a stop is the sessions' end: each client gets a
    DELETE (with an arena the sessions wait for the next start instead:
    test_restart.py)."""
    lb = lab(1)
    d = make_ravend(headend_config(), netns=lb.head, arena="none")
    assert up(lb, 0, "alice.example.org").returncode == 0
    assert d.stop() == 0
    wait_until(lambda: "received DELETE for IKE_SA rw[1]" in lb.log(0), what="DELETE at shutdown")


def test_listen_address_in_use_is_refused_in_prepare(make_ravend, lab):
    lb = lab(1)
    d = make_ravend(headend_config(), netns=lb.head)
    m = d.connect()
    # a second IKE port that something else (here: our own NAT-T socket) holds
    err = expect_error(lambda: m.edit_config(target="running", config=cfg(
        f'<ikev2 xmlns="{NS}"><global><listen><address>{lb.clients[0]["head_ip"]}</address>'
        '<port>4500</port><nat-t-port>4501</nat-t-port></listen></global></ikev2>')), "operation-failed")
    assert "cannot listen" in err.message
    # nothing changed: a client still gets in on port 500
    assert up(lb, 0, "alice.example.org").returncode == 0


def test_wire_decodes_in_tshark(make_ravend, lab, tmp_path):
    lb = lab(1)
    make_ravend(headend_config(), netns=lb.head)
    cap = str(tmp_path / "ike.pcap")
    dev = f"{lb.tag}b0"
    tp = subprocess.Popen(["ip", "netns", "exec", lb.head, "tshark", "-q", "-i", dev, "-w", cap, "-f", "udp"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    lb.procs.append(tp)
    # tshark logs "Capture started" once it captures
    line, deadline = "", time.time() + 30
    while "Capture started" not in line and time.time() < deadline:
        ready, _, _ = select.select([tp.stderr], [], [], max(0.0, deadline - time.time()))
        if not ready:
            break
        line = tp.stderr.readline().decode()
        if not line:
            break
    assert "Capture started" in line, "tshark did not start capturing"
    assert up(lb, 0, "alice.example.org").returncode == 0
    lb.swanctl(0, "--terminate", "--ike", "rw")
    time.sleep(1)
    os.kill(tp.pid, signal.SIGINT)
    tp.wait(timeout=10)
    out = subprocess.run(["tshark", "-r", cap, "-V", "-Y", "isakmp"], capture_output=True, text=True).stdout
    assert "Exchange type: IKE_SA_INIT (34)" in out
    assert "Exchange type: IKE_AUTH (35)" in out
    assert "Exchange type: INFORMATIONAL (37)" in out
    assert "Malformed" not in out and "Expert Info (Error" not in out


def test_child_and_ike_rekey_keep_the_session(make_ravend, lab):
    """CREATE_CHILD_SA as responder: the client rekeys its child SA (with PFS)
    and its IKE SA on short lifetimes; the session, its address and its identity
    stay, and the old SAs are deleted by the client."""
    lb = lab(1)
    d = make_ravend(headend_config(), netns=lb.head)
    conf = psk_client_conf(lb.clients[0]["head_ip"], "alice.example.org", esp="aes128gcm16-ecp256")
    conf = conf.replace("    proposals =", "    rekey_time = 8s\n    rand_time = 0s\n    over_time = 60s\n    proposals =", 1)
    conf = conf.replace("        esp_proposals =", "        rekey_time = 3s\n        life_time = 60s\n        rand_time = 0s\n        esp_proposals =", 1)
    lb.start_charon(0, conf)
    assert lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "15", check=False).returncode == 0, \
        lb.log(0)[-3000:]
    m = d.connect()
    sid = t(sessions(m)[0], "id")
    wait_until(lambda: "IKE_SA rw[2] rekeyed" in lb.log(0), timeout=20, what="IKE SA rekeyed")
    assert int(t(state(m), "ike-counters/exchanges/ike-rekeys")) >= 1
    wait_until(lambda: int(t(state(m), "ike-counters/exchanges/create-child-sa")) >= 2, timeout=20,
               what="child SA rekeyed twice")
    log = lb.log(0)
    assert "received AUTHENTICATION_FAILED" not in log and "NO_PROPOSAL_CHOSEN" not in log, log[-3000:]
    ss = sessions(m)
    assert len(ss) == 1 and t(ss[0], "id") == sid
    assert t(ss[0], "assigned-ipv4") == "10.201.0.10"
    # rekeyed children replace the old ones: the client deletes the old SAs
    wait_until(lambda: len(sessions(m)[0].findall(f"{{{NS}}}child-sa")) == 1, timeout=10,
               what="old child SAs deleted")
    assert int(t(sessions(m)[0].find(f"{{{NS}}}child-sa"), "rekeys")) >= 1
    sas = lb.swanctl(0, "--list-sas").stdout
    assert "ESTABLISHED" in sas and "INSTALLED" in sas
    # and the session still works after the IKE rekey: the client can delete it
    lb.swanctl(0, "--terminate", "--ike", "rw")
    wait_until(lambda: not sessions(m), what="session removed after the client's DELETE")


def test_cookies_under_half_open_threshold(make_ravend, lab):
    """cookie-threshold 0: every IKE_SA_INIT must bring a cookie (RFC 7296 2.6);
    the client retries with it and gets in."""
    lb = lab(1)
    d = make_ravend(headend_config().replace("<global>", "<global><cookie-threshold>0</cookie-threshold>"),
                    netns=lb.head)
    r = up(lb, 0, "alice.example.org")
    assert r.returncode == 0, lb.log(0)[-3000:]
    assert "received COOKIE notify" in lb.log(0) or "N(COOKIE)" in lb.log(0)
    m = d.connect()
    cc = state(m).find(f"{{{NS}}}ike-counters/{{{NS}}}cookie-challenges")
    assert t(cc, "sent") == "1" and t(cc, "accepted") == "1" and t(cc, "rejected-no-cookie") == "1"
    assert len(sessions(m)) == 1


def test_ipv6_address_dns_and_selectors(make_ravend, lab):
    """A client asking for IPv4 and IPv6 addresses gets one of each, IPv6 DNS, and
    selectors narrowed in both families (S4, example 5)."""
    lb = lab(1)
    cfg6 = headend_config(extra_policy="<ipv6-dns><primary>fd00:200::53</primary></ipv6-dns>"
                                       "<ipv6-pool>rw6</ipv6-pool>").replace(
        "<route><set><remote><ipv4>10.200.0.0/16</ipv4></remote></set></route>",
        "<route><set><remote><ipv4>10.200.0.0/16</ipv4><ipv6>fd00:200::/64</ipv6></remote></set></route>").replace(
        "</ipv4-pool>", "</ipv4-pool><ipv6-pool><name>rw6</name><prefix>fd00:201::/64</prefix></ipv6-pool>")
    d = make_ravend(cfg6, netns=lb.head)
    conf = psk_client_conf(lb.clients[0]["head_ip"], "alice.example.org", remote_ts="10.200.0.0/16,fd00:200::/64")
    lb.start_charon(0, conf.replace("vips = 0.0.0.0", "vips = 0.0.0.0,::"))
    r = lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "15", check=False)
    log = lb.log(0)
    assert r.returncode == 0, log[-3000:]
    assert "installing new virtual IP 10.201.0.10" in log and "installing new virtual IP fd00:201::1" in log
    assert "fd00:200::53" in open(os.path.join(lb.clients[0]["dir"], "resolv.conf")).read()
    sas = lb.swanctl(0, "--list-sas").stdout
    assert "fd00:201::1/128" in sas and "fd00:200::/64" in sas, sas
    m = d.connect()
    s = sessions(m)[0]
    assert t(s, "assigned-ipv6") == "fd00:201::1/128"
    pool = [p for p in state(m).findall(f"{{{NS}}}pool") if t(p, "name") == "rw6"][0]
    assert t(pool, "family") == "ipv6" and t(pool, "in-use") == "1"
    lb.swanctl(0, "--terminate", "--ike", "rw")
    wait_until(lambda: not sessions(m), what="session removed")
    pool = [p for p in state(m).findall(f"{{{NS}}}pool") if t(p, "name") == "rw6"][0]
    assert t(pool, "in-use") == "0"


def test_overlapping_pools_are_refused(make_ravend):
    """Two pools must not share addresses, in either family: the commit fails in
    prepare, naming the pool, and changes nothing."""
    d = make_ravend()
    m = d.connect()
    err = expect_error(lambda: m.edit_config(target="running", config=cfg(
        f'<pools xmlns="{NS}"><ipv6-pool><name>a</name><prefix>fd00:300::/48</prefix><assigned-length>64'
        '</assigned-length></ipv6-pool><ipv6-pool><name>b</name><prefix>fd00:300:0:7::/64</prefix></ipv6-pool>'
        '</pools>')), "operation-failed")
    assert "overlaps another IPv6 pool" in err.message
    err = expect_error(lambda: m.edit_config(target="running", config=cfg(
        f'<pools xmlns="{NS}"><ipv4-pool><name>a</name><range><start>10.9.0.1</start><end>10.9.0.50</end></range>'
        '</ipv4-pool><ipv4-pool><name>b</name><range><start>10.9.0.50</start><end>10.9.0.60</end></range>'
        '</ipv4-pool></pools>')), "operation-failed")
    assert "overlaps another range" in err.message
    running = m.get_config(source="running").data_xml
    assert "ipv4-pool" not in running and "ipv6-pool" not in running
    # neighbours that share no address are fine, on byte and non-byte boundaries
    m.edit_config(target="running", config=cfg(
        f'<pools xmlns="{NS}"><ipv6-pool><name>a</name><prefix>fd00:300::/48</prefix><assigned-length>64'
        '</assigned-length></ipv6-pool><ipv6-pool><name>b</name><prefix>fd00:301::/48</prefix></ipv6-pool>'
        '<ipv6-pool><name>c</name><prefix>fd00:302::/47</prefix></ipv6-pool>'
        '<ipv6-pool><name>d</name><prefix>fd00:304:8000::/33</prefix></ipv6-pool>'
        '<ipv4-pool><name>e</name><range><start>10.9.0.1</start><end>10.9.0.50</end></range></ipv4-pool>'
        '<ipv4-pool><name>f</name><range><start>10.9.0.51</start><end>10.9.0.60</end></range></ipv4-pool>'
        '</pools>'))
    assert m.get_config(source="running").data_xml.count("-pool>") == 2 * 6
