"""Event streams (RFC 8040 §6 as Server-Sent Events) and /metrics. With a real
strongSwan client through the dataplane: session-up, traffic samples that grow
while it pings, the session in vpn-state and /metrics, clear-session over REST and
session-down; a client with the wrong key gives authentication-failure."""
import json
import os
import re
import signal
import subprocess
import tempfile
import time

import pytest

from lab import psk_client_conf
from nchelpers import wait_until
from resthelpers import ADMIN_PW, Rest, pool_body
from test_dataplane import dataplane_config, ping
from test_ike_sessions import headend_config

REQUIRES = ("strongswan", "curl", "openssl")

METRIC_LINE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"'
                         r'(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*\})? -?[0-9.e+]+$')


class Stream:
    """curl reading an event stream into a file, in the background."""

    def __init__(self, url, name, fmt="json", query="", netns=None, user="admin", password=ADMIN_PW, token=None):
        fd, self.path = tempfile.mkstemp(prefix="sse-")
        os.close(fd)
        cred = ["-H", f"Authorization: Bearer {token}"] if token else ["-u", f"{user}:{password}"]
        cmd = ["curl", "-skN", *cred, "-o", self.path, f"{url}/restconf/streams/{name}/{fmt}{query}"]
        if netns:
            cmd = ["ip", "netns", "exec", netns] + cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: os.path.getsize(self.path) > 0, timeout=10, what=f"stream {name} to open")

    def text(self):
        with open(self.path, errors="replace") as f:
            return f.read()

    def events(self):
        out = []
        for block in self.text().split("\n\n"):
            data = "\n".join(ln[6:] for ln in block.split("\n") if ln.startswith("data: "))
            if data:
                out.append(data)
        return out

    def json_events(self):
        return [json.loads(e)["ietf-restconf:notification"] for e in self.events()]

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        os.unlink(self.path)


@pytest.fixture
def streams():
    opened = []

    def open_(*a, **kw):
        s = Stream(*a, **kw)
        opened.append(s)
        return s

    yield open_
    for s in opened:
        s.close()


def rd_hash():
    return subprocess.run(["openssl", "passwd", "-6", "viewer-pw-1"], capture_output=True, text=True,
                          check=True).stdout.strip()


def check_metrics(text):
    """Every line is a comment or a sample; each family has one HELP and one TYPE,
    before its samples, and its samples are together."""
    families, seen_done, current = {}, set(), None
    for ln in text.splitlines():
        if ln.startswith("# HELP ") or ln.startswith("# TYPE "):
            kind, name = ln.split()[1], ln.split()[2]
            families.setdefault(name, set())
            assert kind not in families[name], f"second {kind} of {name}"
            families[name].add(kind)
            if kind == "TYPE":
                assert ln.split()[3] in ("counter", "gauge"), ln
            continue
        assert METRIC_LINE.match(ln), ln
        name = re.match(r"[a-zA-Z0-9_:]+", ln).group(0)
        assert families.get(name) == {"HELP", "TYPE"}, f"{name} has no HELP/TYPE before it"
        if name != current:
            assert name not in seen_done, f"samples of {name} are not together"
            if current:
                seen_done.add(current)
            current = name
        if name.endswith("_total"):
            assert "# TYPE " + name + " counter" in text
    return families


def test_config_stream_json_and_xml_metrics_and_stream_errors(make_ravend, streams):
    d = make_ravend(rest=True)
    rest = Rest(d.rest_url)
    r = rest.get("/restconf/data/ietf-restconf-monitoring:restconf-state/streams")
    names = {s["name"]: s for s in r.json()["ietf-restconf-monitoring:restconf-state"]["streams"]["stream"]}
    assert {"NETCONF", "sessions", "auth", "config", "traffic"} <= set(names)
    assert {"encoding": "json", "location": "/restconf/streams/config/json"} in names["config"]["access"]
    sj = streams(d.rest_url, "config")
    sx = streams(d.rest_url, "NETCONF", "xml")
    assert rest.put("/restconf/data/raven-vpn:pools/ipv4-pool=s1", pool_body("s1", "10.40.0.1", "10.40.0.9")) \
        .status == 201
    wait_until(lambda: sj.events() and "</notification>" in sx.text(), timeout=10, what="the config events")
    ev = sj.json_events()[0]
    assert re.match(r"\d{4}-\d\d-\d\dT", ev["eventTime"])
    cc = ev["ietf-netconf-notifications:netconf-config-change"]
    assert cc["changed-by"]["username"] == "admin" and cc["datastore"] == "running"
    assert cc["edit"][0]["target"] == "/raven-vpn:pools/ipv4-pool[name='s1']"
    x = sx.events()[0]
    assert x.startswith('<notification xmlns="urn:ietf:params:xml:ns:netconf:notification:1.0"><eventTime>')
    assert "<netconf-config-change" in x
    # eventTime has milliseconds
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", ev["eventTime"]), ev["eventTime"]
    # a stream lasts no longer than its token, or its user
    tok = rest.token()
    st = streams(d.rest_url, "config", token=tok)
    assert rest.delete("/auth/token", auth=("bearer", tok), accept=None).status == 204
    wait_until(lambda: st.proc.poll() is not None, timeout=10, what="the revoked token's stream to end")
    assert rest.put("/restconf/data/raven-vpn:management/user=viewer",
                    {"raven-vpn:user": [{"name": "viewer", "password-hash": rd_hash(), "role": "read-only"}]}
                    ).status == 201
    sv = streams(d.rest_url, "config", user="viewer", password="viewer-pw-1")
    assert rest.delete("/restconf/data/raven-vpn:management/user=viewer").status == 204
    wait_until(lambda: sv.proc.poll() is not None, timeout=10, what="the removed user's stream to end")
    # errors
    assert rest.get("/restconf/streams/nosuch/json").status == 404
    assert rest.get("/restconf/streams/config/yaml").status == 404
    assert rest.get("/restconf/streams/config/json?interval=2").status == 400
    assert rest.get("/restconf/streams/traffic/json?interval=0").status == 400
    assert rest.get("/restconf/streams/config/json", auth="none").status == 401
    assert rest.post("/restconf/streams/config/json", "{}").status == 405
    # metrics: the text format, authenticated
    assert rest.get("/metrics", auth="none", accept=None).status == 401
    r = rest.get("/metrics", accept=None)
    assert r.status == 200 and r.headers["content-type"].startswith("text/plain; version=0.0.4")
    fam = check_metrics(r.body)
    assert "raven_sessions" in fam and "raven_ike_counters_sa_active" in fam, sorted(fam)[:20]
    assert re.search(r"^raven_sessions 0$", r.body, re.M)


def test_session_events_traffic_metrics_and_clear(make_ravend, lab, streams):
    lb = lab(2, inside=True)
    conf = headend_config().replace("10.200.0.0/16", lb.inside_net)
    d = make_ravend(conf + dataplane_config(lb), netns=lb.head, rest=True)
    rest = Rest(d.rest_url, netns=lb.head)
    sess = streams(d.rest_url, "sessions", netns=lb.head)
    traffic = streams(d.rest_url, "traffic", query="?interval=1", netns=lb.head)
    auth = streams(d.rest_url, "auth", netns=lb.head)
    c = lb.clients[0]
    lb.start_charon(0, psk_client_conf(c["head_ip"], "user0.example.org", remote_ts=lb.inside_net))
    r = lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "15", check=False)
    assert r.returncode == 0, lb.log(0)[-3000:]
    wait_until(lambda: sess.events(), timeout=10, what="session-up")
    up = sess.json_events()[0]["raven-vpn:session-up"]
    assert up["remote-identity"] == "user0.example.org" and up["peer-address"] == c["ip"]
    sid = up["session-id"]
    assert up["assigned-ipv4"].startswith("10.201.0.")
    # the session over REST
    r = rest.get("/restconf/data/raven-vpn:vpn-state/session")
    assert r.status == 200, r
    s = r.json()["raven-vpn:session"]
    assert len(s) == 1 and s[0]["id"] == sid
    # traffic samples grow while the client pings the inside host
    def sample():
        evs = [e["raven-vpn:traffic-sample"] for e in traffic.json_events()]
        return [x for x in evs if x.get("session")]
    wait_until(lambda: sample(), timeout=10, what="a traffic sample with the session")
    first = sample()[-1]
    ping(lb.clients[0]["ns"], lb.inside_ip, count=10, interval="0.1")
    def grown():
        last = sample()[-1]
        e = last["session"][0]
        return int(e["bytes-in"]) > int(first["session"][0]["bytes-in"]) and \
            int(e["packets-out"]) >= 10 and int(last["total"]["bytes-in"]) == int(e["bytes-in"])
    wait_until(grown, timeout=10, what="the samples to count the pings")
    assert sample()[-1]["interval"] == 1
    # /metrics
    m = rest.get("/metrics", accept=None).body
    check_metrics(m)
    assert re.search(r"^raven_sessions 1$", m, re.M)
    rx = re.search(r'^raven_dataplane_interface_rx_packets_total\{interface="%s"\} (\d+)$' % lb.inside_dev, m, re.M)
    assert rx and int(rx.group(1)) >= 10, m[:3000]
    assert re.search(r'^raven_dataplane_worker_\w+\{worker="0"\} \d+$', m, re.M)
    assert re.search(r'^raven_pool_in_use\{pool="rw-pool"\} 1$', m, re.M), [ln for ln in m.splitlines()
                                                                             if "pool" in ln]
    # clear it over REST
    r = rest.post("/restconf/operations/raven-vpn:clear-session", {"raven-vpn:input": {"session-id": sid}})
    assert r.status == 200 and r.json()["raven-vpn:output"]["cleared"] == 1
    wait_until(lambda: len(sess.events()) >= 2, timeout=10, what="session-down")
    down = sess.json_events()[1]["raven-vpn:session-down"]
    assert down["session-id"] == sid and int(down["statistics"]["packets-in"]) >= 10
    assert rest.get("/restconf/data/raven-vpn:vpn-state/session").status == 404
    # a client with the wrong key: authentication-failure
    c1 = lb.clients[1]
    lb.start_charon(1, psk_client_conf(c1["head_ip"], "user1.example.org", remote_ts=lb.inside_net,
                                       psk="wrong-secret"))
    lb.swanctl(1, "--initiate", "--child", "vpn", "--timeout", "10", check=False)
    wait_until(lambda: auth.events(), timeout=15, what="authentication-failure")
    af = auth.json_events()[0]["raven-vpn:authentication-failure"]
    assert af["peer-address"] == c1["ip"]
