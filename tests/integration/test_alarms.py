"""Operational alarms with real peers, each raised and cleared where the
condition really happens, seen as raven-vpn:alarm-notification over NETCONF
(ncclient) and the REST event stream (curl), in vpn-state/alarms and in /metrics:

- radius-server-dead: FreeRADIUS not running when ravend asks it (a PSK
  client, ike_probe, whose key comes from RADIUS), then started on that port;
- pool-usage-high and pool-exhausted: sessions held by ike_load from a pool of
  four addresses with pools/usage-alarm-threshold 75, then cleared;
- certificate-expiring: a trustpoint certificate of 10 days and a CA of 30
  (openssl) with pki/expiry-warning-days 30, then 5;
- crl-unobtainable: a crl-url on loopback where nothing listens, then an HTTP
  server (python3 -m http.server) serving the CA's CRL (openssl ca -gencrl);
- interface-down and xdp-detached: the dataplane's veth set down and up, and
  Raven's XDP program detached with ip link (in the test's own namespace),
  attached again by a commit that changes the interface, detached again, the
  veth deleted (interface-down says it does not exist, xdp-detached is
  cleared) and the interface removed from the configuration;
- front-end-restarted: raven-restd and raven-netconfd killed by the PIDs ravend
  reports in vpn-state/management;
- commit-refused: a dataplane interface that does not exist, refused at
  prepare, then a commit that is taken.

    client ns (ike_probe, ike_load) --veth-- headend ns: ravend, FreeRADIUS
"""
import os
import re
import signal
import subprocess
import time

import pytest
from lxml import etree
from ncclient.operations import RPCError

from conftest import NS, cfg, free_port
from nchelpers import data_of, wait_until
from radiushelpers import FreeRadius
from resthelpers import Rest
from test_eap_radius import PSK_PROFILE, servers_xml
from test_ike_crl import gencrl, pki  # noqa: F401 (the pki fixture)
from test_ike_certs import read
from test_ike_sessions import headend_config, t
from test_ike_strongswan import PROBE
from test_rest_events import Stream

REQUIRES = ("ncclient", "freeradius", "openssl", "curl")

LOAD = os.environ.get("IKE_LOAD", os.path.join(os.path.dirname(__file__), "..", "..", "build-test", "tests",
                                               "bench", "ike_load"))
NOTIF_NS = "urn:ietf:params:xml:ns:netconf:notification:1.0"


def notif(n):
    """An alarm-notification as a dict (None for another notification)."""
    el = etree.fromstring(n.notification_xml.encode()).find(f".//{{{NS}}}alarm-notification")
    if el is None:
        return None
    return {c.tag.split("}")[1]: c.text for c in el}


def wait_alarm(sub, typ, cleared, resource=None, timeout=20):
    """The next alarm-notification of @typ (and @resource) raised or cleared."""
    deadline = time.time() + timeout
    seen = []
    while time.time() < deadline:
        n = sub.take_notification(timeout=max(0.1, deadline - time.time()))
        a = notif(n) if n is not None else None
        if a is None:
            continue
        seen.append(a)
        if a["type"] == typ and a["is-cleared"] == ("true" if cleared else "false") and \
                (resource is None or a["resource"] == resource):
            return a
    raise AssertionError(f"no alarm-notification {typ} {'cleared' if cleared else 'raised'}; saw {seen}")


def alarms(m):
    """{(type, resource): {leaf: text}} of vpn-state/alarms."""
    reply = m.get(filter=("subtree", f'<vpn-state xmlns="{NS}"><alarms/></vpn-state>'))
    out = {}
    for a in data_of(reply).iter(f"{{{NS}}}alarm"):
        out[(t(a, "type"), t(a, "resource"))] = {c.tag.split("}")[1]: c.text for c in a}
    return out


def metrics(rest):
    r = rest.get("/metrics", accept=None)
    assert r.status == 200, r
    return r.body


def metric(body, name, **labels):
    lab = ",".join(f'{k}="{v}"' for k, v in labels.items())
    m = re.search(rf"^{re.escape(name)}\{{{re.escape(lab)}\}} (\S+)$", body, re.M)
    return float(m.group(1)) if m else None


def test_radius_server_dead_and_alive(make_ravend, lab):
    lb = lab(1)
    port = free_port()
    conf = headend_config().replace("</ikev2>", PSK_PROFILE + "</ikev2>").replace(
        f'<pools xmlns="{NS}">', f'<pools xmlns="{NS}"><ipv4-pool><name>radpool</name><range>'
        '<start>10.207.0.10</start><end>10.207.0.20</end></range></ipv4-pool>')
    i = conf.rindex("</aaa>")  # the aaa container's end
    conf = (conf[:i] + servers_xml([("r1", port, free_port())], deadtime=1) +
            "<authorization-list><name>radius-list</name><method><sequence>1</sequence><group>g</group></method>"
            "</authorization-list>" + conf[i:])
    d = make_ravend(conf, netns=lb.head, rest=True)
    sub, m = d.connect(), d.connect()
    sub.create_subscription()
    res = "/raven-vpn:aaa/radius-server[name='r1']"
    c = lb.clients[0]

    def probe():
        return subprocess.run(["ip", "netns", "exec", c["ns"], PROBE, "client", c["head_ip"], "key1.example.net",
                               "key-from-radius-1"], capture_output=True, text=True, timeout=60)

    r = probe()  # nobody answers at the RADIUS port: the client is refused
    assert r.returncode != 0
    a = wait_alarm(sub, "radius-server-dead", False, res)
    assert a["perceived-severity"] == "major" and "does not answer" in a["alarm-text"], a
    st = alarms(m)[("radius-server-dead", res)]
    assert st["is-cleared"] == "false" and st["raise-count"] == "1", st
    body = metrics(Rest(d.rest_url, netns=lb.head))
    assert metric(body, "raven_alarms_type_active", type="radius-server-dead") == 1, body
    assert metric(body, "raven_alarms_type_raised_total", type="radius-server-dead") == 1

    fr = FreeRadius(netns=lb.head, port=port)
    try:
        time.sleep(1.2)  # the dead time (1 s) over: the server is asked first again
        r = probe()
        assert r.returncode == 0, f"{r.stdout}\n{r.stderr}\n{d.log()[-3000:]}"
        wait_alarm(sub, "radius-server-dead", True, res)
        assert alarms(m)[("radius-server-dead", res)]["is-cleared"] == "true"
        assert metric(metrics(Rest(d.rest_url, netns=lb.head)), "raven_alarms_type_active",
                      type="radius-server-dead") == 0
    finally:
        fr.close()


def test_pool_usage_high_and_exhausted(make_ravend, lab):
    lb = lab(1)
    conf = headend_config(pool_ranges=(("10.201.0.10", "10.201.0.13"),)).replace(
        f'<pools xmlns="{NS}">', f'<pools xmlns="{NS}"><usage-alarm-threshold>75</usage-alarm-threshold>')
    d = make_ravend(conf, netns=lb.head)
    sub, m = d.connect(), d.connect()
    sub.create_subscription()
    res = "/raven-vpn:pools/ipv4-pool[name='rw-pool']"
    c = lb.clients[0]
    # three of four addresses: 75 %
    lb.spawn(c["ns"], LOAD, "--hold", c["head_ip"], c["ip"], "600", "3", "rw-secret-1", "a%d.example.org")
    a = wait_alarm(sub, "pool-usage-high", False, res, timeout=30)
    assert "75%" in a["alarm-text"] and a["perceived-severity"] == "major", a
    got = alarms(m)
    assert ("pool-exhausted", res) not in got and got[("pool-usage-high", res)]["is-cleared"] == "false", got
    # the fourth: exhausted
    lb.spawn(c["ns"], LOAD, "--hold", c["head_ip"], c["ip"], "600", "1", "rw-secret-1", "b%d.example.org")
    a = wait_alarm(sub, "pool-exhausted", False, res, timeout=30)
    assert a["perceived-severity"] == "critical" and "every one of the pool's 4 addresses" in a["alarm-text"], a
    # every session cleared: both alarms go
    m.dispatch(etree.fromstring(f'<clear-session xmlns="{NS}"><all/></clear-session>'))
    wait_alarm(sub, "pool-exhausted", True, res)
    wait_alarm(sub, "pool-usage-high", True, res)
    got = alarms(m)
    assert got[("pool-exhausted", res)]["is-cleared"] == "true"
    assert got[("pool-usage-high", res)]["is-cleared"] == "true"
    # a threshold the pool is below now and an unknown value: only the latter refused
    with pytest.raises(RPCError):
        m.edit_config(target="running", config=cfg(
            f'<pools xmlns="{NS}"><usage-alarm-threshold>101</usage-alarm-threshold></pools>'))


def pki_config(pki, days=None, url=None):
    dd = f"<expiry-warning-days>{days}</expiry-warning-days>" if days else ""
    cu = f"<revocation-check>crl</revocation-check><crl-url>{url}</crl-url>" if url else ""
    return cfg(f"""<pki xmlns="{NS}">{dd}<trustpoint><name>tp</name>
  <ca-certificate>{read(pki('ca.pem'))}</ca-certificate>
  <certificate>{read(pki('head.pem'))}</certificate><private-key>{read(pki('head.key'))}</private-key>
  {cu}</trustpoint></pki>""")


def test_certificate_expiring_and_crl_unobtainable(make_ravend, pki, tmp_path):  # noqa: F811
    d = make_ravend(rest=True)
    sub, m = d.connect(), d.connect()
    sub.create_subscription()
    stream = Stream(d.rest_url, "NETCONF")
    others = [Stream(d.rest_url, name) for name in ("sessions", "auth", "config")]
    port = free_port()
    url = f"http://127.0.0.1:{port}/ca.crl"
    own = "/raven-vpn:pki/trustpoint[name='tp']/certificate"
    ca = "/raven-vpn:pki/trustpoint[name='tp']/ca-certificate"
    # the headend's certificate ends in 10 days, its CA in 30: both within 30
    m.edit_config(target="running", config=pki_config(pki, url=url))
    got = {}
    while len(got) < 3:
        n = sub.take_notification(timeout=15)
        assert n is not None, f"alarms missing, got {got}\n{d.log()[-3000:]}"
        a = notif(n)
        if a and a["is-cleared"] == "false":
            got[(a["type"], a["resource"])] = a
    assert set(got) == {("certificate-expiring", own), ("certificate-expiring", ca), ("crl-unobtainable", url)}, got
    assert re.search(r"ends in (9|10) days", got[("certificate-expiring", own)]["alarm-text"])
    assert "headend.example.org" in got[("certificate-expiring", own)]["alarm-text"]
    assert "Raven CRL Test CA" in got[("certificate-expiring", ca)]["alarm-text"]
    assert "cannot be obtained" in got[("crl-unobtainable", url)]["alarm-text"]
    # the REST stream carries them too
    wait_until(lambda: len([e for e in stream.json_events() if "raven-vpn:alarm-notification" in e]) >= 3,
               what="the alarms on the REST NETCONF stream")
    ev = [e["raven-vpn:alarm-notification"] for e in stream.json_events() if "raven-vpn:alarm-notification" in e]
    assert {(e["type"], e["resource"]) for e in ev} >= set(got)
    stream.close()
    # ... and only the NETCONF stream: alarms have no stream of their own
    for o in others:
        assert not [e for e in o.json_events() if "raven-vpn:alarm-notification" in e], o.json_events()
        o.close()

    # the CRL becomes obtainable: cleared at the next retry
    www = tmp_path / "www"
    www.mkdir()
    gencrl(pki, str(www / "ca.crl"))
    httpd = subprocess.Popen(["python3", "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory",
                              str(www)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_alarm(sub, "crl-unobtainable", True, url, timeout=30)
    finally:
        httpd.terminate()
        httpd.wait(timeout=10)
    # fewer days of warning than the certificates have left: both cleared
    m.edit_config(target="running", config=pki_config(pki, days=5, url=url))
    wait_alarm(sub, "certificate-expiring", True)
    wait_alarm(sub, "certificate-expiring", True)
    st = alarms(m)
    assert st[("certificate-expiring", own)]["is-cleared"] == "true"
    assert st[("certificate-expiring", ca)]["is-cleared"] == "true"
    assert st[("crl-unobtainable", url)]["is-cleared"] == "true"
    body = metrics(Rest(d.rest_url))
    assert metric(body, "raven_alarms_type_raised_total", type="certificate-expiring") == 2, body
    assert metric(body, "raven_alarms_type_active", type="certificate-expiring") == 0
    assert metric(body, "raven_alarms_alarm_raise_count_total", alarm_type="crl-unobtainable",
                  alarm_resource=url) == 1, body


def test_interface_down_and_xdp_detached(make_ravend, ifns):
    d = make_ravend(netns=ifns)
    sub, m = d.connect(), d.connect()
    sub.create_subscription()
    m.edit_config(target="running", config=cfg(
        f'<dataplane xmlns="{NS}"><interface><name>eth0</name><role>outside</role>'
        f'<xdp-mode>generic</xdp-mode></interface></dataplane>'))
    res = "/raven-vpn:dataplane/interface[name='eth0']"
    subprocess.run(["ip", "-n", ifns, "link", "set", "eth0", "down"], check=True)
    a = wait_alarm(sub, "interface-down", False, res)
    assert "administratively down" in a["alarm-text"], a
    subprocess.run(["ip", "-n", ifns, "link", "set", "eth0", "up"], check=True)
    wait_alarm(sub, "interface-down", True, res)
    # someone else takes Raven's program off the interface
    subprocess.run(["ip", "-n", ifns, "link", "set", "dev", "eth0", "xdpgeneric", "off"], check=True)
    a = wait_alarm(sub, "xdp-detached", False, res)
    assert a["perceived-severity"] == "critical" and "no longer attached to eth0" in a["alarm-text"], a
    assert alarms(m)[("xdp-detached", res)]["is-cleared"] == "false"
    # a commit that changes the interface attaches the program again
    m.edit_config(target="running", config=cfg(
        f'<dataplane xmlns="{NS}"><interface><name>eth0</name><xdp-mode>native</xdp-mode></interface></dataplane>'))
    wait_alarm(sub, "xdp-detached", True, res)
    assert alarms(m)[("xdp-detached", res)]["raise-count"] == "1"
    # detached again, then the interface itself goes: interface-down says so,
    # and xdp-detached (nothing left to attach to) is cleared
    subprocess.run(["ip", "-n", ifns, "link", "set", "dev", "eth0", "xdp", "off"], check=True)
    wait_alarm(sub, "xdp-detached", False, res)
    subprocess.run(["ip", "-n", ifns, "link", "del", "eth0"], check=True)
    a = wait_alarm(sub, "interface-down", False, res)
    assert a["perceived-severity"] == "critical" and "does not exist" in a["alarm-text"], a
    wait_alarm(sub, "xdp-detached", True, res)
    assert alarms(m)[("xdp-detached", res)]["raise-count"] == "2"
    # the interface no longer served: its alarms go
    m.edit_config(target="running", config=cfg(
        f'<dataplane xmlns="{NS}" xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0">'
        f'<interface nc:operation="delete"><name>eth0</name></interface></dataplane>'))
    wait_alarm(sub, "interface-down", True, res)
    assert alarms(m)[("interface-down", res)]["raise-count"] == "2"


def front_end_pid(m, name):
    reply = m.get(filter=("subtree", f'<vpn-state xmlns="{NS}"><management/></vpn-state>'))
    for fe in data_of(reply).iter(f"{{{NS}}}front-end"):
        if t(fe, "name") == name:
            return int(t(fe, "pid"))
    raise AssertionError(f"no front end {name}")


def test_front_end_restarted_and_commit_refused(make_ravend):
    d = make_ravend(rest=True)
    sub, m = d.connect(), d.connect()
    sub.create_subscription()
    # raven-restd killed: NETCONF hears it go and come back
    os.kill(front_end_pid(m, "rest"), signal.SIGKILL)
    a = wait_alarm(sub, "front-end-restarted", False, "rest")
    assert "signal 9" in a["alarm-text"] or "killed" in a["alarm-text"], a
    wait_alarm(sub, "front-end-restarted", True, "rest")
    # raven-netconfd killed: the REST stream hears it
    wait_until(lambda: Rest(d.rest_url).get("/restconf/data/raven-vpn:vpn-state/alarms").status == 200,
               what="raven-restd back")
    stream = Stream(d.rest_url, "NETCONF")
    os.kill(front_end_pid(m, "netconf"), signal.SIGKILL)

    def on_stream(cleared):
        return [e for e in stream.json_events() if e.get("raven-vpn:alarm-notification", {}).get("type") ==
                "front-end-restarted" and e["raven-vpn:alarm-notification"]["resource"] == "netconf" and
                e["raven-vpn:alarm-notification"]["is-cleared"] is cleared]
    wait_until(lambda: on_stream(False) and on_stream(True), what="raven-netconfd's alarm on the REST stream")
    stream.close()
    r = Rest(d.rest_url).get("/restconf/data/raven-vpn:vpn-state/alarms")
    got = {(a["type"], a["resource"]): a for a in r.json()["raven-vpn:alarms"]["alarm"]}
    assert got[("front-end-restarted", "netconf")]["raise-count"] == "1"

    # a commit refused at prepare
    m = wait_until(lambda: d.connect(), what="NETCONF back")
    sub = d.connect()
    sub.create_subscription()
    with pytest.raises(RPCError) as e:
        m.edit_config(target="running", config=cfg(
            f'<dataplane xmlns="{NS}"><interface><name>rvnone0</name><role>inside</role></interface></dataplane>'))
    assert "does not exist" in str(e.value)
    a = wait_alarm(sub, "commit-refused", False, "/raven-vpn:dataplane")
    assert a["perceived-severity"] == "warning" and "rvnone0" in a["alarm-text"], a
    # the next commit taken clears it
    m.edit_config(target="running", config=cfg(
        f'<pools xmlns="{NS}"><usage-alarm-threshold>80</usage-alarm-threshold></pools>'))
    wait_alarm(sub, "commit-refused", True, "/raven-vpn:dataplane")
