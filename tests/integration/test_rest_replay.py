"""Replay on the REST event streams (RFC 8040 §6.3, §4.8.7-8): every event carries
the SSE id ravend gave it; Last-Event-ID replays what came after that id, and
start-time / stop-time what the log holds between them, filtered by the stream as
live events are; stop-time ends the stream; bad replay requests get 400."""
import base64
import datetime
import json
import socket
import ssl
import subprocess
import threading
import time

import pytest

from conftest import cfg
from nchelpers import pool, pool_cfg, pools
from resthelpers import ADMIN_PW, Rest

REQUIRES = ("ncclient", "curl")


@pytest.fixture
def rd(make_ravend):
    return make_ravend(rest=True)


def stamp(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def read_stream(rd, name, query="", headers=(), seconds=2.5):
    """curl on the stream for @seconds (or until it ends): (exit code, [(id, event)])."""
    cmd = ["curl", "-skN", "-u", f"admin:{ADMIN_PW}", "--max-time", str(seconds)]
    for h in headers:
        cmd += ["-H", h]
    cmd.append(f"{rd.rest_url}/restconf/streams/{name}/json{query}")
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 10)
    out = []
    for block in p.stdout.split("\n\n"):
        lines = block.split("\n")
        ids = [ln[4:] for ln in lines if ln.startswith("id: ")]
        data = "\n".join(ln[6:] for ln in lines if ln.startswith("data: "))
        if data:
            out.append((int(ids[0]) if ids else None, json.loads(data)["ietf-restconf:notification"]))
    return p.returncode, out


def pool_of(ev):
    cc = ev["ietf-netconf-notifications:netconf-config-change"]
    return cc["edit"][0]["target"].split("'")[1]


def commits(rd, names):
    m = rd.connect()
    for n in names:
        m.edit_config(target="running", config=pool_cfg(n))


def test_start_time_replays_in_order_with_ids(rd):
    commits(rd, ["early"])
    time.sleep(0.05)
    t0 = now()
    commits(rd, ["c1", "c2", "c3"])
    rc, evs = read_stream(rd, "config", f"?start-time={stamp(t0)}")
    assert rc == 28  # still open when curl gave up: live events follow the replay
    assert [pool_of(e) for _, e in evs] == ["c1", "c2", "c3"]
    ids = [i for i, _ in evs]
    assert all(ids) and ids == sorted(ids) and len(set(ids)) == 3
    # the event times are the original ones, not those of the replay
    t = datetime.datetime.fromisoformat(evs[0][1]["eventTime"].replace("Z", "+00:00"))
    assert t0 - datetime.timedelta(seconds=1) <= t <= t0 + datetime.timedelta(seconds=5)


def test_last_event_id_resumes_after_it(rd):
    rest = Rest(rd.rest_url)
    commits(rd, ["a1", "a2", "a3"])
    _, evs = read_stream(rd, "NETCONF", f"?start-time={stamp(now() - datetime.timedelta(minutes=5))}", seconds=2)
    byname = {pool_of(e): i for i, e in evs if "ietf-netconf-notifications:netconf-config-change" in e}
    _, after = read_stream(rd, "NETCONF", headers=[f"Last-Event-ID: {byname['a1']}"], seconds=2)
    assert [pool_of(e) for _, e in after] == ["a2", "a3"]
    assert [i for i, _ in after] == [byname["a2"], byname["a3"]]
    # a live stream's events carry ids after those of the log
    assert rest.get("/restconf/data/raven-vpn:pools").status == 200


def test_replay_is_filtered_like_live_events(rd):
    t0 = now()
    commits(rd, ["f1"])
    _, sess = read_stream(rd, "sessions", f"?start-time={stamp(t0)}", seconds=1.5)
    assert sess == []
    _, conf = read_stream(rd, "config", f"?start-time={stamp(t0)}", seconds=1.5)
    assert [pool_of(e) for _, e in conf] == ["f1"]


def test_stop_time_ends_the_stream(rd):
    t0 = now()
    commits(rd, ["s1", "s2"])
    t1 = now()
    commits(rd, ["s3"])
    start = time.monotonic()
    rc, evs = read_stream(rd, "config", f"?start-time={stamp(t0)}&stop-time={stamp(t1)}", seconds=10)
    assert rc == 0 and time.monotonic() - start < 5, "the stream did not end at its stop-time"
    assert [pool_of(e) for _, e in evs] == ["s1", "s2"]


@pytest.mark.parametrize("query,headers,msg", [
    ("?start-time=2100-01-01T00:00:00Z", (), "later than the current time"),
    ("?start-time=2999-01-01T00:00:00Z", (), "from 1970 to 2262"),
    ("?stop-time=2020-01-01T00:00:00Z", (), "stop-time needs start-time"),
    ("?start-time=2020-01-02T00:00:00Z&stop-time=2020-01-01T00:00:00Z", (), "earlier than start-time"),
    ("?start-time=2020-02-30T00:00:00Z", (), "RFC 3339"),
    ("?start-time=yesterday", (), "RFC 3339"),
    ("", ("Last-Event-ID: 12x",), "Last-Event-ID"),
])
def test_bad_replay_requests(rd, query, headers, msg):
    cmd = ["curl", "-sk", "-u", f"admin:{ADMIN_PW}", "--max-time", "5", "-w", "\n%{http_code}"]
    for h in headers:
        cmd += ["-H", h]
    cmd.append(f"{rd.rest_url}/restconf/streams/config/json{query}")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=15).stdout
    body, _, code = out.rpartition("\n")
    assert code == "400", out
    assert msg in body


def test_traffic_stream_has_no_replay(rd):
    r = Rest(rd.rest_url).get(f"/restconf/streams/traffic/json?start-time={stamp(now())}")
    assert r.status == 400 and "no replay" in r.body


def test_streams_announce_replay(rd):
    r = Rest(rd.rest_url).get("/restconf/data/ietf-restconf-monitoring:restconf-state/streams")
    assert r.status == 200, r
    st = {s["name"]: s for s in r.json()["ietf-restconf-monitoring:restconf-state"]["streams"]["stream"]}
    assert st["config"]["replay-support"] is True and st["traffic"]["replay-support"] is False
    created = datetime.datetime.fromisoformat(st["NETCONF"]["replay-log-creation-time"].replace("Z", "+00:00"))
    assert now() - datetime.timedelta(minutes=5) < created <= now()


def big_change(n=250, op=None):
    """A change of @n pools: one netconf-config-change of about 40 KiB."""
    return cfg(pools(*(pool(f"bulk-{k:04d}", start=f"10.200.{k // 250}.{k % 250}", end=f"10.200.{k // 250}.{k % 250}",
                            op=op) for k in range(n))))


def xml_events(raw):
    """[(id, operation of its first edit)] of the complete SSE events in @raw."""
    out = []
    for block in raw.decode(errors="replace").split("\n\n"):
        lines = block.split("\n")
        ids = [ln[4:] for ln in lines if ln.startswith("id: ")]
        data = "\n".join(ln[6:] for ln in lines if ln.startswith("data: "))
        if data:
            op = data.split("<operation>", 1)[1].split("<", 1)[0]
            out.append((int(ids[0]), op))
    return out


def test_slow_client_is_closed_and_resumes_without_a_gap(rd):
    """A client that stops reading is not skipped over: once its queue is full
    its stream ends after what was queued, and Last-Event-ID gets the rest."""
    host, port = rd.rest_url.split("//")[1].rsplit(":", 1)
    raw = socket.socket()
    # little room outside the server's queue: a small window, and a small MSS,
    # which keeps the server's send buffer small too (it grows with the MSS)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
    raw.connect((host, int(port)))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = ctx.wrap_socket(raw)
    auth = base64.b64encode(f"admin:{ADMIN_PW}".encode()).decode()
    s.sendall(f"GET /restconf/streams/config/xml HTTP/1.0\r\nHost: {host}\r\nAuthorization: Basic {auth}\r\n\r\n"
              .encode())
    s.settimeout(10)
    data = s.recv(4096)
    assert b" 200 " in data.split(b"\r\n")[0], data
    m = rd.connect()
    # events of about 38 KiB while the client reads nothing: 2.3 MiB, past the
    # 2 MiB bound and what the sockets hold, those past it within the log's 1 MiB
    n = 64
    for i in range(n // 2):
        m.edit_config(target="running", config=big_change())
        m.edit_config(target="running", config=big_change(op="delete"))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        chunk = s.recv(65536)
        if not chunk:
            break  # the server ended the stream
        data += chunk
    else:
        pytest.fail("the stream was not closed when its client fell behind")
    s.close()
    first = xml_events(data.split(b"\r\n\r\n", 1)[1])
    assert 0 < len(first) < n
    cmd = ["curl", "-skN", "-u", f"admin:{ADMIN_PW}", "--max-time", "4", "-H", f"Last-Event-ID: {first[-1][0]}",
           f"{rd.rest_url}/restconf/streams/config/xml"]
    rest = xml_events(subprocess.run(cmd, capture_output=True, timeout=20).stdout)
    got = first + rest
    ids = [i for i, _ in got]
    assert ids == list(range(ids[0], ids[0] + n)), "events lost, repeated or out of order"
    assert [op for _, op in got] == ["create", "delete"] * (n // 2)


def test_live_events_during_a_replay(rd):
    """Commits keep coming while a stream replays: every event once, in order,
    no gap between the replayed and the live ones."""
    t0 = now()
    stop = threading.Event()
    made = []

    def loop():
        w = rd.connect()
        while not stop.is_set():
            i = len(made)
            a = f"10.202.{i // 250}.{i % 250}"
            w.edit_config(target="running", config=cfg(pools(pool(f"l{i:04d}", start=a, end=a))))
            made.append(f"l{i:04d}")

    th = threading.Thread(target=loop)
    th.start()
    try:
        time.sleep(0.5)
        _, evs = read_stream(rd, "config", f"?start-time={stamp(t0)}", seconds=3)
    finally:
        stop.set()
        th.join()
    names = [pool_of(e) for _, e in evs]
    ids = [i for i, _ in evs]
    assert len(names) > 5
    assert names == made[:len(names)], "an event lost, repeated or out of order"
    assert ids == sorted(set(ids))
