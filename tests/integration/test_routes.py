"""Routes of sessions, profile match by interface and VRFs, with real strongSwan
clients (kernel-libipsec):

- `route redistribute connected` and `route accept` put the client's address and
  its accepted subnet (offered in a child SA of its own) into the headend's kernel
  routing table with protocol 245, metric = distance and realm = tag; they go when
  the session ends; stale routes of protocol 245 are flushed when ravend starts.
  A route the kernel refuses is logged alone, with its reason; the session stays.
  The dataplane carries the accepted subnet: the inside host pings an address of
  the client's subnet through the tunnel. Without route accept the subnet's child
  SA is refused (TS_UNACCEPTABLE).
- BIRD (kernel protocol with `learn`) in the headend's namespace learns the routes
  and withdraws them when the session ends.
- `route set interface` pushes the headend's inside address to the client as a
  host route (strongSwan's selectors and table 220); from FreeRADIUS,
  ipsec:route-set=interface and ipsec:route-accept=any tag T distance D do the same.
- `match local-interface`: two profiles on two interfaces; a client on another
  interface finds no profile.
- Front-door and inside VRFs (Linux VRF devices): run only on a kernel with
  CONFIG_NET_VRF, skipped (saying so) elsewhere.
- A VRF or interface that does not exist is refused at commit, naming the leaf.

Topology: [client i: 10.<n>.<i>.2, subnet 10.77.1.0/24 on lo] --veth-- [headend]
          --veth-- [inside host 10.<n>.251.2]
"""
import os
import subprocess

import pytest

from lxml import etree

from conftest import NS
from lab import psk_client_conf
from nchelpers import expect_error, wait_until
from test_dataplane import dataplane_config, ping
from test_ike_certs import pki  # noqa: F401 (the pki fixture)
from test_ike_sessions import headend_config, sessions

REQUIRES = ("strongswan", "ping", "bird", "birdc", "freeradius")
REQUIRES_PLUGINS = ("eap-identity", "eap-mschapv2")

SUBNET = "10.77.1.0/24"
ROUTE_SET = "<route><set><remote><ipv4>10.200.0.0/16</ipv4></remote></set></route>"


def proto_routes(ns):
    out = subprocess.run(["ip", "-n", ns, "route", "show", "proto", "245", "table", "all"], check=True,
                         capture_output=True, text=True).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]


def client_conf(lb, i=0):
    """Child vpn: the virtual address; child net (a CREATE_CHILD_SA after it): the
    client's own subnet (strongSwan drops a subnet beside the 0.0.0.0/0 it
    proposes with a virtual address request, so it needs a child of its own)."""
    c = lb.clients[i]
    conf = psk_client_conf(c["head_ip"], f"user{i}.example.org", remote_ts=lb.inside_net)
    net = f"""      net {{
        local_ts = {SUBNET}
        remote_ts = {lb.inside_net}
        esp_proposals = aes256gcm16
      }}
      inpool {{
        local_ts = 10.201.0.16/28
        remote_ts = {lb.inside_net}
        esp_proposals = aes256gcm16
      }}
"""
    i = conf.index("      vpn {")
    return conf[:i] + net + conf[i:]


def up(lb, d, child, i=0):
    r = lb.swanctl(i, "--initiate", "--child", child, "--timeout", "15", check=False)
    assert r.returncode == 0, lb.log(i)[-3000:] + d.log()[-3000:]


def test_redistribute_and_accept_install_kernel_routes(make_ravend, lab):
    lb = lab(1, inside=True, inside_routes=("10.201.0.0/16", SUBNET))
    # a route of protocol 245 left by an earlier run goes at start
    subprocess.run(["ip", "-n", lb.head, "route", "add", "blackhole", "10.99.99.0/24", "proto", "245"], check=True)
    route = ("<route><set><remote><ipv4>%s</ipv4></remote></set>"
             "<accept><tag>7</tag><distance>20</distance></accept>"
             "<redistribute><protocol>connected</protocol></redistribute></route>" % lb.inside_net)
    conf = headend_config().replace(ROUTE_SET, route)
    d = make_ravend(conf + dataplane_config(lb), netns=lb.head)
    wait_until(lambda: not any("10.99.99.0" in r for r in proto_routes(lb.head)), what="stale route flushed")

    lb.start_charon(0, client_conf(lb))
    subprocess.run(["ip", "-n", lb.clients[0]["ns"], "addr", "add", "10.77.1.1/24", "dev", "lo"], check=True)
    up(lb, d, "vpn")
    routes = proto_routes(lb.head)
    assert len(routes) == 1 and routes[0].startswith("blackhole 10.201.0.10"), routes
    up(lb, d, "net")
    sas = lb.swanctl(0, "--list-sas").stdout
    # the client's subnet was accepted into a child SA of its own
    assert f"local  {SUBNET}" in sas and "local  10.201.0.10/32" in sas, sas

    routes = proto_routes(lb.head)
    assert any(r.startswith("blackhole 10.201.0.10 ") or r == "blackhole 10.201.0.10" for r in routes), routes
    acc = [r for r in routes if r.startswith(f"blackhole {SUBNET}")]
    assert len(acc) == 1 and "metric 20" in acc[0] and "realm 7" in acc[0], routes

    # the dataplane routes the accepted subnet into the tunnel, and back
    ping(lb.inside, "10.77.1.1", count=3)
    # a subnet that overlaps the pool (other clients' addresses) is not accepted
    r = lb.swanctl(0, "--initiate", "--child", "inpool", "--timeout", "15", check=False)
    assert r.returncode != 0 and "TS_UNACCEPTABLE" in lb.log(0), lb.log(0)[-3000:]
    assert len(proto_routes(lb.head)) == 2

    m = d.connect()
    lb.swanctl(0, "--terminate", "--ike", "rw")
    wait_until(lambda: not sessions(m), what="session removed")
    assert proto_routes(lb.head) == [], d.log()[-3000:]


def test_route_that_fails_is_reported_alone(make_ravend, lab):
    """A route the kernel refuses (a route of another protocol holds its
    destination) is logged with the kernel's reason, for that route only: the
    session stays up, another client's route goes in."""
    lb = lab(2, inside=True)
    route = ("<route><set><remote><ipv4>%s</ipv4></remote></set>"
             "<redistribute><protocol>connected</protocol></redistribute></route>" % lb.inside_net)
    conf = headend_config().replace(ROUTE_SET, route)
    subprocess.run(["ip", "-n", lb.head, "route", "add", "blackhole", "10.201.0.10/32", "proto", "static"],
                   check=True)
    d = make_ravend(conf + dataplane_config(lb), netns=lb.head)
    for i in range(2):
        lb.start_charon(i, client_conf(lb, i))
        up(lb, d, "vpn", i)
    wait_until(lambda: "route 10.201.0.11/32 installed" in d.log(), what="the second client's route")
    log = d.log()
    assert "cannot install the route 10.201.0.10/32 in table 254: File exists" in log, log[-3000:]
    assert "route 10.201.0.10/32 installed" not in log, log[-3000:]
    routes = proto_routes(lb.head)
    assert len(routes) == 1 and routes[0].startswith("blackhole 10.201.0.11"), routes
    assert len(sessions(d.connect())) == 2
    lb.swanctl(1, "--terminate", "--ike", "rw")
    wait_until(lambda: proto_routes(lb.head) == [], what="the route removed")
    out = subprocess.run(["ip", "-n", lb.head, "route", "show", "10.201.0.10/32"], check=True,
                         capture_output=True, text=True).stdout
    assert "proto static" in out, out  # not ours: left alone


def test_accept_refuses_another_clients_subnet(make_ravend, lab):
    """A subnet accepted from one client is not accepted from another: the second
    would take over the first one's traffic."""
    lb = lab(2, inside=True)
    route = "<route><set><remote><ipv4>%s</ipv4></remote></set><accept/></route>" % lb.inside_net
    d = make_ravend(headend_config().replace(ROUTE_SET, route) + dataplane_config(lb), netns=lb.head)
    for i in range(2):
        lb.start_charon(i, client_conf(lb, i))
        subprocess.run(["ip", "-n", lb.clients[i]["ns"], "addr", "add", "10.77.1.1/24", "dev", "lo"], check=True)
        up(lb, d, "vpn", i)
    up(lb, d, "net", 0)
    r = lb.swanctl(1, "--initiate", "--child", "net", "--timeout", "15", check=False)
    assert r.returncode != 0 and "TS_UNACCEPTABLE" in lb.log(1), lb.log(1)[-3000:]
    routes = proto_routes(lb.head)
    assert len(routes) == 1 and routes[0].startswith(f"blackhole {SUBNET}"), routes


def test_accept_off_keeps_subnet_out(make_ravend, lab):
    """Without route accept the client's subnet is narrowed away and nothing is
    installed (redistribute alone: only its address)."""
    lb = lab(1, inside=True)
    route = ("<route><set><remote><ipv4>%s</ipv4></remote></set>"
             "<redistribute><protocol>connected</protocol></redistribute></route>" % lb.inside_net)
    d = make_ravend(headend_config().replace(ROUTE_SET, route) + dataplane_config(lb), netns=lb.head)
    lb.start_charon(0, client_conf(lb))
    up(lb, d, "vpn")
    r = lb.swanctl(0, "--initiate", "--child", "net", "--timeout", "15", check=False)
    assert r.returncode != 0 and "TS_UNACCEPTABLE" in lb.log(0), lb.log(0)[-3000:]
    routes = proto_routes(lb.head)
    assert len(routes) == 1 and routes[0].startswith("blackhole 10.201.0.10"), routes


def test_route_set_interface_pushes_inside_address(make_ravend, lab):
    # the split subnet lies outside every lab network (10.10-10.209.x.x, lab.py):
    # a client narrows away an interface address that one of its subnets covers
    lb = lab(1, inside=True)
    route = ("<route><set><interface>%s</interface><remote><ipv4>10.250.0.0/16</ipv4></remote></set></route>"
             % lb.inside_dev)
    d = make_ravend(headend_config().replace(ROUTE_SET, route) + dataplane_config(lb), netns=lb.head)
    c = lb.clients[0]
    lb.start_charon(0, psk_client_conf(c["head_ip"], "alice.example.org", remote_ts="0.0.0.0/0"))
    r = lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "15", check=False)
    assert r.returncode == 0, lb.log(0)[-3000:] + d.log()[-3000:]
    sas = lb.swanctl(0, "--list-sas").stdout
    remote = [line for line in sas.splitlines() if line.strip().startswith("remote 10.")]
    assert remote and f"{lb.inside_head_ip}/32" in remote[0] and "10.250.0.0/16" in remote[0], sas
    # strongSwan routes it into the tunnel (its table 220)
    t220 = subprocess.run(["ip", "-n", c["ns"], "route", "show", "table", "220"], check=True, capture_output=True,
                          text=True).stdout
    assert lb.inside_head_ip in t220, t220


def test_missing_devices_are_refused_at_commit(make_ravend, lab):
    lb = lab(1)
    d = make_ravend(headend_config(), netns=lb.head)
    m = d.connect()
    for frag, leaf, word in (
            ("<profile><name>rw</name><ivrf>novrf0</ivrf></profile>", "ivrf", "novrf0"),
            ("<profile><name>rw</name><match><fvrf>novrf1</fvrf></match></profile>", "fvrf", "novrf1"),
            ("<authorization-policy><name>rw-group</name><route><set><interface>noif9</interface></set></route>"
             "</authorization-policy>", "interface", "noif9")):
        m.edit_config(target="candidate", config=f'<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
                                                 f'<ikev2 xmlns="{NS}">{frag}</ikev2></config>')
        err = expect_error(lambda: m.commit(), "operation-failed", path_contains=leaf)
        assert word in err.message, err.message
        m.discard_changes()
    # a device that exists but is not a VRF is refused too
    m.edit_config(target="candidate", config=f'<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
                                             f'<ikev2 xmlns="{NS}"><profile><name>rw</name><ivrf>lo</ivrf>'
                                             f'</profile></ikev2></config>')
    err = expect_error(lambda: m.commit(), "operation-failed", path_contains="ivrf")
    assert "not a VRF" in err.message, err.message
    m.discard_changes()
    cfg = etree.tostring(m.get_config(source="running").data_ele).decode()
    assert "novrf" not in cfg and "noif9" not in cfg


def two_interface_config(lb):
    """Profile rw on the first client's interface (pool 10.201.0.x), rw1 on the
    second's (pool 10.202.0.x); both accept the same identities."""
    conf = headend_config()
    i, j = conf.index("  <profile>"), conf.index("  </profile>") + len("  </profile>")
    prof = conf[i:j]
    devs = lb.outside_devs()
    p0 = prof.replace("<match><identity>", f"<match><local-interface>{devs[0]}</local-interface><identity>")
    p1 = (prof.replace("<name>rw</name>", "<name>rw1</name>")
          .replace("<match><identity>", f"<match><local-interface>{devs[1]}</local-interface><identity>")
          .replace("<username>rw-group</username>", "<username>rw-group1</username>"))
    pol1 = ("<authorization-policy><name>rw-group1</name><pool>rw-pool1</pool>"
            "<route><set><remote><ipv4>10.200.0.0/16</ipv4></remote></set></route></authorization-policy>")
    conf = conf[:i] + pol1 + p0 + p1 + conf[j:]
    return conf.replace("</ipv4-pool>", "</ipv4-pool><ipv4-pool><name>rw-pool1</name><range><start>10.202.0.10</start>"
                                        "<end>10.202.0.20</end></range></ipv4-pool>", 1)


def test_match_local_interface_selects_profile(make_ravend, lab):
    lb = lab(2, inside=True)
    d = make_ravend(two_interface_config(lb) + dataplane_config(lb), netns=lb.head)
    for i, (prof, addr) in enumerate((("rw", "10.201.0.10"), ("rw1", "10.202.0.10"))):
        c = lb.clients[i]
        lb.start_charon(i, psk_client_conf(c["head_ip"], f"user{i}.example.org"))
        r = lb.swanctl(i, "--initiate", "--child", "vpn", "--timeout", "15", check=False)
        assert r.returncode == 0, lb.log(i)[-3000:] + d.log()[-3000:]
        assert f"installing new virtual IP {addr}" in lb.log(i), lb.log(i)[-3000:]
    m = d.connect()
    got = {s.findtext(f"{{{NS}}}remote-identity/{{{NS}}}value"): s.findtext(f"{{{NS}}}profile") for s in sessions(m)}
    assert got == {"user0.example.org": "rw", "user1.example.org": "rw1"}, got


def test_match_local_interface_refuses_other_interface(make_ravend, lab):
    """The only profile matches the first interface: the client on the second
    finds no profile."""
    lb = lab(2, inside=True)
    conf = headend_config().replace("<match><identity>",
                                    f"<match><local-interface>{lb.outside_devs()[0]}</local-interface><identity>")
    d = make_ravend(conf + dataplane_config(lb), netns=lb.head)
    c = lb.clients[1]
    lb.start_charon(1, psk_client_conf(c["head_ip"], "user1.example.org"))
    r = lb.swanctl(1, "--initiate", "--child", "vpn", "--timeout", "15", check=False)
    assert r.returncode != 0 and "AUTHENTICATION_FAILED" in lb.log(1), lb.log(1)[-3000:]
    assert "no IKEv2 profile matches" in d.log(), d.log()[-3000:]
    c = lb.clients[0]
    lb.start_charon(0, psk_client_conf(c["head_ip"], "user0.example.org"))
    r = lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "15", check=False)
    assert r.returncode == 0, lb.log(0)[-3000:] + d.log()[-3000:]


def test_bird_learns_session_routes(make_ravend, lab):
    """BIRD's kernel protocol (learn) in the headend's namespace picks up the
    routes of protocol 245 as a routing daemon would, to redistribute them."""
    lb = lab(1, inside=True, inside_routes=("10.201.0.0/16", SUBNET))
    route = ("<route><set><remote><ipv4>%s</ipv4></remote></set>"
             "<accept><tag>7</tag><distance>20</distance></accept>"
             "<redistribute><protocol>connected</protocol></redistribute></route>" % lb.inside_net)
    d = make_ravend(headend_config().replace(ROUTE_SET, route) + dataplane_config(lb), netns=lb.head)
    conf, sock = os.path.join(lb.dir, "bird.conf"), os.path.join(lb.dir, "bird.ctl")
    with open(conf, "w") as f:
        f.write(f"""router id {lb.inside_head_ip};
protocol device {{ }}
protocol kernel k4 {{
  ipv4 {{ import all; export none; }};
  learn;
  scan time 1;
}}
""")
    lb.spawn(lb.head, "bird", "-f", "-c", conf, "-s", sock, "-P", os.path.join(lb.dir, "bird.pid"),
             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lb.start_charon(0, client_conf(lb))
    subprocess.run(["ip", "-n", lb.clients[0]["ns"], "addr", "add", "10.77.1.1/24", "dev", "lo"], check=True)
    up(lb, d, "vpn")
    up(lb, d, "net")

    def bird_routes():
        r = subprocess.run(["birdc", "-s", sock, "show", "route", "all"], capture_output=True, text=True)
        return r.stdout

    wait_until(lambda: "10.201.0.10/32" in bird_routes() and SUBNET in bird_routes(), timeout=15,
               what="BIRD learned the session's routes")
    out = bird_routes()
    blk = out[out.index(SUBNET):]
    assert "Kernel.source: 245" in blk or "krt_source: 245" in blk, out
    assert "Kernel.metric: 20" in blk or "krt_metric: 20" in blk, out
    m = d.connect()
    lb.swanctl(0, "--terminate", "--ike", "rw")
    wait_until(lambda: not sessions(m), what="session removed")
    wait_until(lambda: "10.201.0.10/32" not in bird_routes() and SUBNET not in bird_routes(), timeout=15,
               what="BIRD withdrew the session's routes")


def vrf_supported():
    """Whether this kernel has VRF devices (CONFIG_NET_VRF); asked in a namespace
    of the test's own."""
    ns = f"rvvrf{os.getpid() % 100000}"
    subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        return subprocess.run(["ip", "-n", ns, "link", "add", "vrft", "type", "vrf", "table", "10"],
                              capture_output=True).returncode == 0
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


def test_front_door_and_inside_vrfs(make_ravend, lab):
    """IKE and ESP arrive in the front-door VRF (the client's link is enslaved to
    it; the default table knows nothing of the client), decrypted traffic is
    routed by the inside VRF's table (the inside link is enslaved to that one),
    and the session's route goes into the inside VRF's table."""
    if not vrf_supported():
        pytest.skip("this kernel has no VRF devices (CONFIG_NET_VRF is not set): the VRF path cannot run here")
    lb = lab(1, inside=True)
    fv, iv = f"fv{lb.tag}"[:15], f"iv{lb.tag}"[:15]
    h = lb.head
    for cmd in (["link", "add", fv, "type", "vrf", "table", "101"], ["link", "set", fv, "up"],
                ["link", "add", iv, "type", "vrf", "table", "102"], ["link", "set", iv, "up"],
                ["link", "set", lb.outside_devs()[0], "master", fv], ["link", "set", lb.inside_dev, "master", iv]):
        subprocess.run(["ip", "-n", h, *cmd], check=True)
    # neither network is in the default table any more
    assert subprocess.run(["ip", "-n", h, "route", "get", lb.inside_ip], capture_output=True).returncode != 0
    route = ("<route><set><remote><ipv4>%s</ipv4></remote></set>"
             "<redistribute><protocol>connected</protocol></redistribute></route>" % lb.inside_net)
    conf = (headend_config().replace(ROUTE_SET, route)
            .replace("<match><identity>", f"<match><fvrf>{fv}</fvrf><identity>")
            .replace("  </profile>", f"<ivrf>{iv}</ivrf>\n  </profile>"))
    d = make_ravend(conf + dataplane_config(lb), netns=h)
    c = lb.clients[0]
    lb.start_charon(0, psk_client_conf(c["head_ip"], "alice.example.org", remote_ts=lb.inside_net))
    up(lb, d, "vpn")
    ping(c["ns"], lb.inside_ip, count=3)
    ping(lb.inside, "10.201.0.10", count=3)
    t102 = subprocess.run(["ip", "-n", h, "route", "show", "table", "102", "proto", "245"], check=True,
                          capture_output=True, text=True).stdout
    assert "10.201.0.10" in t102, t102


def test_radius_route_set_interface_and_route_accept(make_ravend, lab, pki):  # noqa: F811
    """The S9 attributes from FreeRADIUS: ipsec:route-set=interface pushes the
    address of the inside dataplane interface, ipsec:route-accept=any tag 9
    distance 30 accepts and routes the client's subnet."""
    from radiushelpers import FreeRadius
    from test_eap_radius import client_conf as eap_client_conf, headend as eap_headend

    lb = lab(1, inside=True)
    fr = FreeRadius(netns=lb.head, users_extra="""rob@example.org Cleartext-Password := "rob-pw-1"
	Cisco-AVPair = "ipsec:addr-pool=radpool",
	Cisco-AVPair += "ipsec:route-set=interface",
	Cisco-AVPair += "ipsec:route-set=prefix 10.250.0.0/16",
	Cisco-AVPair += "ipsec:route-accept=any tag 9 distance 30"
""")
    try:
        d = make_ravend(eap_headend(pki, fr, extra=dataplane_config(lb)), netns=lb.head)
        c = lb.clients[0]
        lb.install_creds(0, ca=pki("ca.pem"))
        conf = eap_client_conf(c, "rob@example.org", "rob@example.org", "rob-pw-1", remote_ts="0.0.0.0/0")
        i = conf.index("      vpn {")
        conf = conf[:i] + f"""      net {{
        local_ts = {SUBNET}
        remote_ts = {lb.inside_head_ip}/32
        esp_proposals = aes128gcm16
      }}
""" + conf[i:]
        lb.start_charon(0, conf)
        subprocess.run(["ip", "-n", c["ns"], "addr", "add", "10.77.1.1/24", "dev", "lo"], check=True)
        up(lb, d, "vpn")
        sas = lb.swanctl(0, "--list-sas").stdout
        remote = [line for line in sas.splitlines() if line.strip().startswith("remote 10.")]
        assert remote and f"{lb.inside_head_ip}/32" in remote[0] and "10.250.0.0/16" in remote[0], sas
        assert proto_routes(lb.head) == []  # no redistribute: the address gets no route
        up(lb, d, "net")
        routes = proto_routes(lb.head)
        assert len(routes) == 1 and routes[0].startswith(f"blackhole {SUBNET}"), routes
        assert "metric 30" in routes[0] and "realm 9" in routes[0], routes
        sas = lb.swanctl(0, "--list-sas").stdout
        assert f"local  {SUBNET}" in sas, sas
    finally:
        fr.close()
