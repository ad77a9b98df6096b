"""EAP pass-through and AAA over RADIUS with real peers: strongSwan clients
(EAP-MSCHAPv2 and EAP-MD5) authenticate through ravend to FreeRADIUS 3.2, which
the test starts in the headend's namespace from tests/integration/radius. The
seed's figures 1 and 2 (without and with query-identity) are checked on the
client's own log of the payloads it received; attributes of the Access-Accept
reach the client (address, DNS, split routes); user and group authorization from
RADIUS merge as SPEC S5 says, with override; failover to the second server, a
clean failure when none answers, a wrong shared secret; accounting records in
FreeRADIUS's detail file; Disconnect-Request and CoA-Request from radclient."""
import os
import re
import subprocess
import time

import pytest

from conftest import NS, cfg, free_port
from nchelpers import wait_until
from radiushelpers import SECRET, FreeRadius
from test_ike_certs import pki, read  # noqa: F401 (the pki fixture)
from test_ike_sessions import sessions, state, t

REQUIRES = ("strongswan", "freeradius", "radclient", "dnsmasq", "iperf3")
REQUIRES_PLUGINS = ("eap-identity", "eap-md5", "eap-mschapv2")


@pytest.fixture
def radius_in(lab):
    """Factory: a lab with @n clients and FreeRADIUS in its headend namespace."""
    made = []

    def make(n=1, subst=None, **kw):
        lb = lab(n, **kw)
        fr = FreeRadius(netns=lb.head, subst=subst)
        made.append(fr)
        return lb, fr

    yield make
    for fr in made:
        fr.close()


def servers_xml(servers, secret=SECRET, deadtime=None, server_extra=""):
    """RADIUS servers (name, auth port, acct port) in one group "g", in order."""
    xs = "".join(f"""<radius-server><name>{n}</name><address>127.0.0.1</address><auth-port>{p}</auth-port>
      <acct-port>{a}</acct-port><key>{secret}</key><timeout>1</timeout><retransmit>1</retransmit>
      <source-address>127.0.0.1</source-address>{server_extra}</radius-server>"""
                 for n, p, a in servers)
    members = "".join(f"<server>{n}</server>" for n, _, _ in servers)
    dt = f"<deadtime>{deadtime}</deadtime>" if deadtime is not None else ""
    return f"{xs}<server-group><name>g</name>{members}{dt}</server-group>"


def headend(pki, fr=None, servers=None, query=False, group="", override=False, acct=False, interim=None,
            dae=None, secret=SECRET, deadtime=None, extra="", eap_timeout=None, server_extra=""):
    if servers is None:
        servers = [("r1", fr.port, fr.acct_port)]
    q = "<query-identity>true</query-identity>" if query else ""
    to = f"<timeout>{eap_timeout}</timeout>" if eap_timeout else ""
    grp = mangler_xml = ""
    if group:
        name = f"<username>{group}</username>"
        if group.startswith("mangler:"):  # the group name from the EAP identity (S6)
            part, delim = group.split(":")[1:]
            name = "<name-mangler>m</name-mangler>"
            mangler_xml = f"<name-mangler><name>m</name><eap><{part}>{delim}</{part}></eap></name-mangler>"
        grp = (f"<group><eap>{'<override/>' if override else ''}<method-list>radius-list</method-list>"
               f"{name}</eap></group>")
    acct_xml = "<accounting><eap>acct-list</eap></accounting>" if acct else ""
    dae_xml = ""
    if dae:
        dae_xml = (f"<dynamic-author-client><name>radclient</name><address>127.0.0.1</address><key>{dae[1]}</key>"
                   f"</dynamic-author-client><dynamic-author-port>{dae[0]}</dynamic-author-port>")
    iv = f"<accounting-interim-interval>{interim}</accounting-interim-interval>" if interim else ""
    return f"""<pki xmlns="{NS}">
  <trustpoint><name>tp</name><ca-certificate>{read(pki('ca.pem'))}</ca-certificate>
    <certificate>{read(pki('head-rsa.pem'))}</certificate><private-key>{read(pki('head-rsa.key'))}</private-key>
  </trustpoint>
</pki>
<ikev2 xmlns="{NS}">
  <global><listen><address>0.0.0.0</address></listen></global>
  {mangler_xml}
  <profile>
    <name>eap</name>
    <match><identity><remote><email><domain>example.org</domain></email><address>0.0.0.0/0</address></remote></identity></match>
    <identity><local><fqdn>headend.example.org</fqdn></local></identity>
    <authentication><local><rsa-sig/></local><remote><eap>{q}{to}</eap></remote></authentication>
    <pki><trustpoint><name>tp</name></trustpoint></pki>
    <aaa>
      <authentication><eap>eap-list</eap></authentication>
      <authorization><user><eap><cached/></eap></user>{grp}</authorization>
      {acct_xml}
    </aaa>
  </profile>
</ikev2>
<pools xmlns="{NS}">
  <ipv4-pool><name>radpool</name><range><start>10.207.0.10</start><end>10.207.0.20</end></range></ipv4-pool>
  <ipv4-pool><name>grouppool</name><range><start>10.208.0.10</start><end>10.208.0.20</end></range></ipv4-pool>
  <ipv6-pool><name>v6pool</name><prefix>2001:db8:88::/48</prefix><assigned-length>64</assigned-length></ipv6-pool>
</pools>
<aaa xmlns="{NS}">
  {servers_xml(servers, secret, deadtime, server_extra)}
  <authentication-list><name>eap-list</name><method><sequence>1</sequence><group>g</group></method></authentication-list>
  <authorization-list><name>radius-list</name><method><sequence>1</sequence><group>g</group></method></authorization-list>
  <accounting-list><name>acct-list</name><method><sequence>1</sequence><group>g</group></method></accounting-list>
  <authorization-list><name>local-list</name><method><sequence>1</sequence><local/></method></authorization-list>
  {dae_xml}{iv}
</aaa>{extra}"""


def client_conf(c, ike_id, eap_id, pw, method="eap-mschapv2", remote_ts="10.200.0.0/16", vips="0.0.0.0"):
    eid = f"\n      eap_id = {eap_id}" if eap_id != ike_id else ""
    return f"""connections {{
  rw {{
    remote_addrs = {c['head_ip']}
    vips = {vips}
    proposals = aes256gcm16-prfsha256-ecp256
    local {{
      auth = {method}
      id = {ike_id}{eid}
    }}
    remote {{
      auth = pubkey
      id = headend.example.org
    }}
    children {{
      vpn {{
        remote_ts = {remote_ts}
        esp_proposals = aes128gcm16
      }}
    }}
  }}
}}
secrets {{
  eap-1 {{
    id = {eap_id}
    secret = {pw}
  }}
}}
"""


def connect(lb, pki, ike_id, pw, eap_id=None, i=0, method="eap-mschapv2", remote_ts="10.200.0.0/16",
            timeout=20, vips="0.0.0.0"):
    lb.install_creds(i, ca=pki("ca.pem"))
    lb.start_charon(i, client_conf(lb.clients[i], ike_id, eap_id or ike_id, pw, method, remote_ts, vips))
    return lb.swanctl(i, "--initiate", "--child", "vpn", "--timeout", str(timeout), check=False)


def resolv(lb, i=0):
    p = os.path.join(lb.clients[i]["dir"], "resolv.conf")
    return open(p).read() if os.path.exists(p) else ""


def radius_server(m, name):
    for r in state(m).findall(f"{{{NS}}}radius-server"):
        if t(r, "name") == name:
            return {c.tag.split("}")[1]: c.text for c in r}
    raise AssertionError(f"no radius-server {name} in vpn-state")


def test_mschapv2_figure1_with_accept_attributes(make_ravend, radius_in, pki):
    """Figure 1: the IKE ID is the EAP identity; the first IKE_AUTH response
    already carries the RADIUS server's EAP method request next to our IDr, CERT
    and AUTH. The Access-Accept's Framed-IP-Address, DNS, WINS and split routes
    reach the client, the MSK from MS-MPPE keys makes the final AUTH."""
    lb, fr = radius_in(1)
    d = make_ravend(headend(pki, fr), netns=lb.head)
    r = connect(lb, pki, "ann@example.org", "ann-pw-1", remote_ts="0.0.0.0/0")
    log = lb.log(0)
    assert r.returncode == 0, f"{fr.log()[-5000:]}\n{d.log()[-3000:]}"
    # figure 1, as the client received it
    assert re.search(r"parsed IKE_AUTH response 1 \[ IDr CERT AUTH EAP/REQ/(MD5|MSCHAPV2) \]", log), log[-4000:]
    assert "parsed IKE_AUTH response" in log and "EAP/SUCC" in log
    assert re.search(r"parsed IKE_AUTH response \d+ \[ AUTH CPRP\(ADDR MASK DNS DNS NBNS SUBNET SUBNET\) N\(MOBIKE_SUP\) SA TSi TSr \]",
                     log), log[-3000:]
    assert "EAP method EAP_MSCHAPV2 succeeded, MSK established" in log
    assert "authentication of 'headend.example.org' with RSA_EMSA_PKCS1_SHA2_256 successful" in log
    assert "installing new virtual IP 10.204.0.77" in log
    rc = resolv(lb)
    assert "10.204.0.53" in rc and "10.204.0.54" in rc
    sas = lb.swanctl(0, "--list-sas").stdout
    assert "10.201.0.0/16" in sas and "10.202.0.0/16" in sas, sas
    m = d.connect()
    s = sessions(m)[0]
    assert t(s, "eap-identity") == "ann@example.org"
    assert t(s, "authentication-method").endswith("eap")
    assert t(s, "assigned-ipv4") == "10.204.0.77" and t(s, "assigned-ipv4-source") == "aaa"
    assert t(s, "authorization-sources") == "radius-cached"
    assert 3500 < int(t(s, "session-lifetime-remaining")) <= 3600  # Session-Timeout
    st = radius_server(m, "r1")
    assert int(st["challenges"]) >= 2 and st["accepts"] == "1" and st["state"] == "alive", st
    assert int(st["requests"]) == int(st["challenges"]) + 1


def test_md5_without_msk(make_ravend, radius_in, pki):
    """EAP-MD5 makes no MSK: both final AUTH payloads use SK_pi/SK_pr (RFC 7296
    2.16); ipsec:addr-pool names the pool the address comes from."""
    lb, fr = radius_in(1)
    d = make_ravend(headend(pki, fr), netns=lb.head)
    r = connect(lb, pki, "ben@example.org", "ben-pw-1", method="eap-md5")
    log = lb.log(0)
    assert r.returncode == 0, f"{log[-4000:]}\n{d.log()[-3000:]}"
    assert "EAP method EAP_MD5 succeeded, no MSK established" in log
    assert "installing new virtual IP 10.207.0.10" in log
    s = sessions(d.connect())[0]
    assert t(s, "assigned-ipv4-source") == "pool" and t(s, "eap-identity") == "ben@example.org"


def test_wrong_password_gets_eap_failure(make_ravend, radius_in, pki):
    lb, fr = radius_in(1)
    d = make_ravend(headend(pki, fr), netns=lb.head)
    r = connect(lb, pki, "ann@example.org", "not-the-password")
    log = lb.log(0)
    assert r.returncode != 0
    assert "EAP/FAIL" in log, log[-3000:]
    m = d.connect()
    assert not sessions(m)
    st = radius_server(m, "r1")
    assert st["rejects"] == "1", st
    assert "rejected ann@example.org" in d.log()


def test_ip_identity_without_and_with_query_identity(make_ravend, radius_in, pki):
    """S3: an IP address cannot be an EAP identity: without query-identity the
    session ends before RADIUS is asked; with it (figure 2, switched on live) the
    client is first asked for its EAP identity, and the identity RADIUS returns
    (User-Name) wins."""
    lb, fr = radius_in(2)
    d = make_ravend(headend(pki, fr), netns=lb.head)
    c0, c1 = lb.clients
    r = connect(lb, pki, c0["ip"], "cat-pw-1", eap_id="cat")
    assert r.returncode != 0
    assert "received AUTHENTICATION_FAILED notify error" in lb.log(0), lb.log(0)[-3000:]
    m = d.connect()
    assert radius_server(m, "r1")["requests"] == "0"
    assert "cannot be an EAP identity" in d.log()
    m.edit_config(target="running", config=cfg(
        f'<ikev2 xmlns="{NS}"><profile><name>eap</name><authentication><remote><eap>'
        "<query-identity>true</query-identity></eap></remote></authentication></profile></ikev2>"))
    r = connect(lb, pki, c1["ip"], "cat-pw-1", eap_id="cat", i=1)
    log = lb.log(1)
    assert r.returncode == 0, f"{log[-4000:]}\n{d.log()[-3000:]}"
    # figure 2: the first response asks for the identity
    assert "parsed IKE_AUTH response 1 [ IDr CERT AUTH EAP/REQ/ID ]" in log, log[-3000:]
    s = sessions(m)[0]
    assert t(s, "remote-identity/value") == c1["ip"]
    assert t(s, "eap-identity") == "cat-canonical"
    assert t(s, "assigned-ipv4") == "10.207.0.10"


@pytest.mark.parametrize("override", [False, True])
def test_group_authorization_and_override(make_ravend, radius_in, pki, override):
    """User attributes (cached from the Access-Accept) beat the group's from a
    RADIUS group authorization, unless the group authorization says override."""
    lb, fr = radius_in(1)
    d = make_ravend(headend(pki, fr, group="staff", override=override), netns=lb.head)
    r = connect(lb, pki, "dan@example.org", "dan-pw-1")
    log = lb.log(0)
    assert r.returncode == 0, f"{log[-4000:]}\n{d.log()[-3000:]}"
    rc = resolv(lb)
    assert ("10.205.0.53" if override else "10.206.0.53") in rc, rc
    assert "installing new virtual IP 10.208.0.10" in log  # the pool only the group names
    s = sessions(d.connect())[0]
    assert t(s, "authorized-group") == "staff"
    assert t(s, "authorization-sources") == ("radius-group radius-cached" if override else
                                             "radius-cached radius-group")


def test_failover_and_nobody_answering(make_ravend, radius_in, pki):
    """The first server of the group does not answer: the second one is used
    (and the dead one skipped for its dead time); when no server answers the
    client gets AUTHENTICATION_FAILED once the timeouts are over."""
    lb, fr = radius_in(2)
    dead1, dead2 = free_port(), free_port()
    d = make_ravend(headend(pki, servers=[("r0", dead1, dead1), ("r1", fr.port, fr.acct_port)], deadtime=1),
                    netns=lb.head)
    r = connect(lb, pki, "ben@example.org", "ben-pw-1", method="eap-md5")
    assert r.returncode == 0, f"{lb.log(0)[-3000:]}\n{d.log()[-3000:]}"
    m = d.connect()
    r0, r1 = radius_server(m, "r0"), radius_server(m, "r1")
    assert r0["timeouts"] == "1" and r0["retransmits"] == "1" and r0["state"] == "dead", r0
    assert r1["accepts"] == "1", r1
    # both dead: 2 servers x 2 attempts x 1 s, then AUTHENTICATION_FAILED
    m.close_session()
    d.stop()
    d = make_ravend(headend(pki, servers=[("r0", dead1, dead1), ("r2", dead2, dead2)]), netns=lb.head)
    t0 = time.time()
    r = connect(lb, pki, "ben@example.org", "ben-pw-1", i=1, method="eap-md5", timeout=30)
    took = time.time() - t0
    assert r.returncode != 0
    assert "received AUTHENTICATION_FAILED notify error" in lb.log(1), lb.log(1)[-3000:]
    assert took < 15, took
    assert "no RADIUS server of the EAP method list answered" in d.log()
    m = d.connect()
    assert radius_server(m, "r2")["timeouts"] == "1"
    assert not sessions(m)


def test_wrong_shared_secret(make_ravend, radius_in, pki):
    """FreeRADIUS drops requests whose Message-Authenticator does not verify: the
    client fails cleanly and the timeouts are counted."""
    lb, fr = radius_in(1)
    d = make_ravend(headend(pki, fr, secret="not-the-secret"), netns=lb.head)
    r = connect(lb, pki, "ann@example.org", "ann-pw-1")
    assert r.returncode != 0
    assert "received AUTHENTICATION_FAILED notify error" in lb.log(0)
    m = d.connect()
    st = radius_server(m, "r1")
    assert st["timeouts"] == "1" and st["accepts"] == "0", st
    assert wait_until(lambda: "Message-Authenticator" in fr.log(), 5), fr.log()[-2000:]


def test_accounting_start_interim_stop_with_octets(make_ravend, radius_in, pki):
    """RFC 2866 records in FreeRADIUS's detail file: Start, Interim-Update every
    10 s, Stop when the client leaves; the octets and packets of the Stop equal
    what the client's own SA counters saw of an iperf3 run through the dataplane
    and of a ping after a child SA rekey (both SAs count), and the Class of the
    Access-Accept comes back."""
    from test_dataplane import client_sa_counters, dataplane_config, ns_run, ping
    lb, fr = radius_in(1, inside=True, inside_routes=("10.207.0.0/16",))
    d = make_ravend(headend(pki, fr, acct=True, interim=10) + dataplane_config(lb), netns=lb.head)
    r = connect(lb, pki, "ben@example.org", "ben-pw-1", method="eap-md5", remote_ts=lb.inside_net)
    assert r.returncode == 0, f"{lb.log(0)[-3000:]}\n{d.log()[-3000:]}"
    m = d.connect()
    sid = t(sessions(m)[0], "accounting-session-id")
    assert sid and wait_until(lambda: any(x.get("Acct-Status-Type") == "Start" for x in fr.detail()), 5)
    srv = lb.spawn(lb.inside, "iperf3", "-s", "-1", "-B", lb.inside_ip, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    ns_run(lb.clients[0]["ns"], "iperf3", "-c", lb.inside_ip, "-t", "2", "-l", "1200", timeout=30)
    srv.wait(timeout=10)
    assert wait_until(lambda: any(x.get("Acct-Status-Type") == "Interim-Update" for x in fr.detail()), 15)
    # the child SA is rekeyed, then more traffic: the Stop counts both SAs
    cl1 = client_sa_counters(lb)
    spi = re.search(r"in\s+([0-9a-f]{8})", lb.swanctl(0, "--list-sas").stdout).group(1)
    lb.swanctl(0, "--rekey", "--child", "vpn")
    assert wait_until(lambda: spi not in lb.swanctl(0, "--list-sas").stdout, 10)
    ping(lb.clients[0]["ns"], lb.inside_ip, count=5)
    cl2 = client_sa_counters(lb)
    cl = {d: [cl1[d][0] + cl2[d][0], cl1[d][1] + cl2[d][1]] for d in ("in", "out")}
    s = sessions(m)[0]
    ours = {k: int(t(s, f"statistics/{k}")) for k in ("bytes-in", "bytes-out", "packets-in", "packets-out")}
    lb.swanctl(0, "--terminate", "--ike", "rw")
    assert wait_until(lambda: any(x.get("Acct-Status-Type") == "Stop" for x in fr.detail()), 10), fr.detail()
    recs = fr.detail()
    start = [x for x in recs if x.get("Acct-Status-Type") == "Start"][0]
    stop = [x for x in recs if x.get("Acct-Status-Type") == "Stop"][0]
    for x in (start, stop):
        assert x["Acct-Session-Id"] == sid and x["User-Name"] == "ben@example.org", x
        assert x["Framed-IP-Address"] == "10.207.0.10" and x["Class"] == "0x62656e2d636c617373", x
        assert x["Calling-Station-Id"] == lb.clients[0]["ip"], x
    in_octets = int(stop["Acct-Input-Octets"]) + (int(stop.get("Acct-Input-Gigawords", 0)) << 32)
    out_octets = int(stop["Acct-Output-Octets"]) + (int(stop.get("Acct-Output-Gigawords", 0)) << 32)
    # what the client sent arrived whole; of what Raven sent some packets may be
    # lost before the client counts them (its userspace ESP drops under iperf3,
    # more so next to an ASan ravend on two cores), so the client's count is a
    # lower bound there and Raven's own counters the exact reference
    assert in_octets == cl["out"][0] == ours["bytes-in"] and in_octets > 1_000_000, (stop, cl, ours)
    assert int(stop["Acct-Input-Packets"]) == cl["out"][1] == ours["packets-in"], (stop, cl, ours)
    assert out_octets == ours["bytes-out"] and int(stop["Acct-Output-Packets"]) == ours["packets-out"], (stop, ours)
    assert cl["in"][0] <= out_octets, (stop, cl)
    assert stop["Acct-Terminate-Cause"] == "User-Request" and int(stop["Acct-Session-Time"]) >= 10
    st = radius_server(m, "r1")
    assert int(st["accounting-requests"]) >= 3 and st["accounting-responses"] == st["accounting-requests"], st


def radclient(lb, port, code, attrs, secret="dae-secret-1"):
    r = subprocess.run(["ip", "netns", "exec", lb.head, "radclient", "-x", "-r", "1", "-t", "2",
                        f"127.0.0.1:{port}", code, secret], input="\n".join(attrs) + "\n", capture_output=True,
                       text=True, timeout=30)
    return r.stdout + r.stderr


def test_disconnect_and_coa_from_radclient(make_ravend, radius_in, pki):
    """RFC 5176 from FreeRADIUS's radclient: CoA changes the session's lifetime
    (it then ends on time) and flow limit; attributes that cannot change live are
    NAKed with Unsupported-Attribute; an unknown session is NAKed with
    Session-Context-Not-Found; Disconnect by Acct-Session-Id and by User-Name
    ends the session (the client gets a DELETE); a request with the wrong secret
    gets no answer."""
    lb, fr = radius_in(2)
    port = free_port()
    d = make_ravend(headend(pki, fr, dae=(port, "dae-secret-1")), netns=lb.head)
    assert connect(lb, pki, "ben@example.org", "ben-pw-1", method="eap-md5").returncode == 0, lb.log(0)[-3000:]
    assert connect(lb, pki, "cat@example.org", "x", i=1, method="eap-md5").returncode != 0  # not in users
    m = d.connect()
    s = sessions(m)[0]
    sid = t(s, "accounting-session-id")
    assert t(s, "flow-limit") is None
    out = radclient(lb, port, "coa", [f'Acct-Session-Id = "{sid}"', 'Cisco-AVPair = "ipsec:ipsec-flow-limit=2"'])
    assert "Received CoA-ACK" in out, out
    assert t(sessions(m)[0], "flow-limit") == "2"
    out = radclient(lb, port, "coa", [f'Acct-Session-Id = "{sid}"', 'Cisco-AVPair = "ipsec:dns-servers=10.9.9.9"'])
    assert "Received CoA-NAK" in out and "Unsupported-Attribute" in out, out
    out = radclient(lb, port, "disconnect", ['Acct-Session-Id = "0000000000000000"'])
    assert "Received Disconnect-NAK" in out and "Session-Context-Not-Found" in out, out
    out = radclient(lb, port, "disconnect", [f'Acct-Session-Id = "{sid}"'], secret="wrong-secret")
    assert "Received" not in out and "No reply" in out, out
    out = radclient(lb, port, "coa", ['User-Name = "ben@example.org"', "Session-Timeout = 3"])
    assert "Received CoA-ACK" in out, out
    assert int(t(sessions(m)[0], "session-lifetime-remaining")) <= 3
    assert wait_until(lambda: not sessions(m), 10), "the session outlived its new lifetime"
    assert wait_until(lambda: "received DELETE for IKE_SA" in lb.log(0), 5), lb.log(0)[-2000:]
    # again, and a Disconnect by User-Name
    lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "20")
    assert len(sessions(m)) == 1
    out = radclient(lb, port, "disconnect", ['User-Name = "ben@example.org"'])
    assert "Received Disconnect-ACK" in out, out
    assert not sessions(m)
    # and by Framed-IP-Address; every identifying attribute must match
    lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "20")
    addr = t(sessions(m)[0], "assigned-ipv4")
    out = radclient(lb, port, "disconnect", [f"Framed-IP-Address = {addr}", 'User-Name = "someone-else"'])
    assert "Received Disconnect-NAK" in out and "Session-Context-Not-Found" in out, out
    out = radclient(lb, port, "disconnect", [f"Framed-IP-Address = {addr}"])
    assert "Received Disconnect-ACK" in out, out
    assert not sessions(m)
    assert "Disconnect-Request from radclient" in d.log()


PSK_PROFILE = """<profile>
    <name>psk-aaa</name>
    <match><identity><remote><fqdn><domain>example.net</domain></fqdn></remote></identity></match>
    <identity><local><fqdn>headend.example.org</fqdn></local></identity>
    <authentication><local><pre-share/></local><remote><pre-share/></remote></authentication>
    <keyring><aaa><method-list>radius-list</method-list></aaa></keyring>
    <aaa><authorization><user><psk><cached/></psk></user></authorization></aaa>
  </profile>"""


@pytest.mark.parametrize("key,ok", [("key-from-radius-1", True), ("a-wrong-key", False)])
def test_pre_shared_keys_from_radius(make_ravend, radius_in, pki, key, ok):
    """keyring aaa (S2): the client's key comes from the Access-Accept's
    Tunnel-Password (strongSwan has one key for both directions; the pair
    ipsec:ikev2-password-remote/-local is in tests/unit/test_aaa_engine.c); what
    came with the key is the cached user authorization (its address pool)."""
    from lab import psk_client_conf
    lb, fr = radius_in(1)
    d = make_ravend(headend(pki, fr).replace("</ikev2>", PSK_PROFILE + "</ikev2>"), netns=lb.head)
    lb.start_charon(0, psk_client_conf(lb.clients[0]["head_ip"], "key1.example.net",
                                       proposals="aes256gcm16-prfsha256-ecp256", psk=key))
    r = lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "15", check=False)
    m = d.connect()
    assert radius_server(m, "r1")["accepts"] == "1"
    if not ok:
        assert r.returncode != 0
        assert "does not match the pre-shared key from RADIUS" in d.log()
        assert not sessions(m)
        return
    assert r.returncode == 0, f"{lb.log(0)[-3000:]}\n{d.log()[-3000:]}"
    assert "installing new virtual IP 10.207.0.10" in lb.log(0)
    s = sessions(m)[0]
    assert t(s, "authentication-method").endswith("pre-share") and t(s, "authorization-sources") == "radius-cached"


def test_group_name_from_the_eap_identity(make_ravend, radius_in, pki):
    """A name mangler on the EAP identity (S6: the suffix after '@') names the
    RADIUS group authorization."""
    lb, fr = radius_in(1)
    d = make_ravend(headend(pki, fr, group="mangler:suffix:@"), netns=lb.head)
    r = connect(lb, pki, "dan@example.org", "dan-pw-1")
    assert r.returncode == 0, f"{lb.log(0)[-3000:]}\n{d.log()[-3000:]}"
    assert "installing new virtual IP 10.208.0.10" in lb.log(0)
    assert "10.206.0.53" in resolv(lb)  # the user's DNS still wins
    s = sessions(d.connect())[0]
    assert t(s, "authorized-group") == "example.org"
    assert 'User-Name = "example.org"' in fr.log()


def test_eap_timeout(make_ravend, radius_in, pki):
    """A client that stops answering in the middle of EAP (here: it has no
    secret for the method the server asks for) is given up after the profile's
    EAP timeout: an authentication-failure with reason eap-timeout, the counter,
    and no half-open SA left."""
    lb, fr = radius_in(1)
    d = make_ravend(headend(pki, fr, eap_timeout=30), netns=lb.head)
    m = d.connect()
    m.create_subscription(stream_name="NETCONF")
    lb.install_creds(0, ca=pki("ca.pem"))
    conf = client_conf(lb.clients[0], "ann@example.org", "ann@example.org", "x").split("secrets {")[0]
    lb.start_charon(0, conf)
    lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "5", check=False)
    t0 = time.time()
    n = m.take_notification(timeout=45)
    assert n is not None, d.log()[-2000:]
    xml = n.notification_xml
    assert "authentication-failure" in xml and "<reason>eap-timeout</reason>" in xml, xml
    assert 25 <= time.time() - t0 + 5 <= 40
    st = state(m)
    assert t(st, "ike-counters/exchanges/eap-timeouts") == "1"
    assert t(st, "ike-counters/sa/in-negotiation") == "0"


@pytest.mark.parametrize("who,want6", [("ivy", "2001:db8:77::7"), ("jay", "2001:db8:88::")])
def test_ipv6_from_radius(make_ravend, radius_in, pki, who, want6):
    """IPv6 attributes of S9: ipsec:addrv6 with ipsec:prefix-len is the client's
    IPv6 address, ipsec:ipv6-addr-pool names one of Raven's IPv6 pools;
    ipsec:ipv6-dns-servers-addr reaches the client."""
    lb, fr = radius_in(1)
    d = make_ravend(headend(pki, fr), netns=lb.head)
    r = connect(lb, pki, f"{who}@example.org", f"{who}-pw-1", vips="0.0.0.0,::", remote_ts="10.200.0.0/16,::/0")
    log = lb.log(0)
    assert r.returncode == 0, f"{log[-3000:]}\n{d.log()[-3000:]}"
    assert f"installing new virtual IP {want6}" in log, log[-3000:]
    s = sessions(d.connect())[0]
    assert s.findtext(f"{{{NS}}}assigned-ipv6").startswith(want6)
    if who == "ivy":
        assert "2001:db8:77::53" in resolv(lb)


@pytest.mark.parametrize("source", ["policy", "radius"])
def test_address_from_dhcp(make_ravend, radius_in, pki, source):
    """S4: without an AAA address or a pool the address comes from a DHCP server
    (dnsmasq on the inside network), Raven relaying from its giaddr; the netmask
    is DHCP's, the lease is released when the session ends. The server comes from
    the authorization policy's dhcp settings, or from RADIUS
    (ipsec:group-dhcp-server, ipsec:dhcp-giaddr, ipsec:dhcp-timeout)."""
    from lab import psk_client_conf
    lb, fr = radius_in(1, inside=True, inside_routes=("10.210.0.0/24",))
    fr.close()  # again, with the DHCP server's address in the users file
    fr = FreeRadius(netns=lb.head, subst={"DHCP_SERVER": lb.inside_ip})
    try:
        subprocess.run(["ip", "-n", lb.head, "addr", "add", "10.210.0.1/32", "dev", "lo"], check=True)
        leases = os.path.join(lb.dir, "dnsmasq.leases")
        lb.spawn(lb.inside, "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0", "--pid-file=",
                 f"--dhcp-leasefile={leases}", "--dhcp-range=10.210.0.10,10.210.0.50,255.255.255.0,120",
                 "--dhcp-authoritative", "--log-dhcp", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if source == "policy":
            policy = (f"<authorization-policy><name>dhcp-group</name><dhcp><giaddr>10.210.0.1</giaddr>"
                      f"<server>{lb.inside_ip}</server><timeout>5</timeout></dhcp></authorization-policy>")
            conf = headend(pki, fr).replace("</ikev2>", policy + PSK_DHCP_PROFILE + "</ikev2>")
            d = make_ravend(conf, netns=lb.head)
            lb.start_charon(0, psk_client_conf(lb.clients[0]["head_ip"], "dhcp.example.net",
                                               proposals="aes256gcm16-prfsha256-ecp256", psk="dhcp-psk-1"))
            r = lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "20", check=False)
        else:
            d = make_ravend(headend(pki, fr), netns=lb.head)
            r = connect(lb, pki, "dhcpuser@example.org", "dhcp-pw-1")
        log = lb.log(0)
        assert r.returncode == 0, f"{log[-3000:]}\n{d.log()[-3000:]}"
        vip = re.search(r"installing new virtual IP (10\.210\.0\.\d+)", log)
        assert vip and 10 <= int(vip.group(1).split(".")[3]) <= 50, log[-3000:]
        vip = vip.group(1)
        assert re.search(r"CPRP\(ADDR MASK", log), log[-3000:]
        m = d.connect()
        s = sessions(m)[0]
        assert t(s, "assigned-ipv4") == vip and t(s, "assigned-ipv4-source") == "dhcp"
        assert wait_until(lambda: f" {vip} " in open(leases).read(), 5)
        lb.swanctl(0, "--terminate", "--ike", "rw")
        assert wait_until(lambda: not sessions(m), 10)
        assert wait_until(lambda: f" {vip} " not in open(leases).read(), 10), "the lease was not released"
    finally:
        fr.close()


PSK_DHCP_PROFILE = """<profile>
    <name>psk-dhcp</name>
    <match><identity><remote><fqdn><domain>example.net</domain></fqdn></remote></identity></match>
    <identity><local><fqdn>headend.example.org</fqdn></local></identity>
    <authentication><local><pre-share><key>dhcp-psk-1</key></pre-share></local>
      <remote><pre-share><key>dhcp-psk-1</key></pre-share></remote></authentication>
    <aaa><authorization><group><psk><method-list>local-list</method-list><username>dhcp-group</username></psk></group>
    </authorization></aaa>
  </profile>"""


def test_require_message_authenticator(make_ravend, radius_in, pki):
    """With require-message-authenticator, an Access-Accept without a
    Message-Authenticator (FreeRADIUS 3.2.1 signs only its EAP answers, not the
    PAP answer to a group authorization) is dropped and counted, and the client
    is refused: the Blast-RADIUS guard, for servers that sign everything."""
    lb, fr = radius_in(1)
    d = make_ravend(headend(pki, fr, group="staff",
                            server_extra="<require-message-authenticator>true</require-message-authenticator>"),
                    netns=lb.head)
    r = connect(lb, pki, "dan@example.org", "dan-pw-1")
    assert r.returncode != 0
    assert "no RADIUS server of the authorization list answered" in d.log()
    st = radius_server(d.connect(), "r1")
    assert int(st["malformed-responses"]) >= 1 and st["accepts"] == "1", st  # the EAP Accept was signed
