"""Notification replay (RFC 5277 startTime/stopTime on NETCONF, RFC 8040
start-time/stop-time and Last-Event-ID on the REST event streams) from ravend's
bounded in-memory log: what happened before the subscription comes first, in
order, then replayComplete and the live events; stopTime ends the subscription
with notificationComplete; bad times are refused; the log drops its oldest events
past its bound (1024 events or 1 MiB)."""
import datetime
import threading
import time

import pytest
from lxml import etree

from conftest import cfg
from nchelpers import NCN_NS, expect_error, pool, pool_cfg, pools

REQUIRES = ("ncclient", "curl")

NOTIF_NS = "urn:ietf:params:xml:ns:netconf:notification:1.0"
NCEV_NS = "urn:ietf:params:xml:ns:netmod:notification"


def stamp(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def take(m, timeout=10):
    n = m.take_notification(timeout=timeout)
    assert n is not None, "no notification arrived"
    return etree.fromstring(n.notification_xml.encode())


def kind(root):
    """'replayComplete', 'notificationComplete' or the pool the change created."""
    body = [c for c in root if c.tag != f"{{{NOTIF_NS}}}eventTime"][0]
    if body.tag.startswith(f"{{{NCEV_NS}}}"):
        return body.tag.split("}")[1]
    assert body.tag == f"{{{NCN_NS}}}netconf-config-change", etree.tostring(root)
    target = body.find(f"{{{NCN_NS}}}edit").findtext(f"{{{NCN_NS}}}target")
    return target.split("'")[1]


def drain(m, timeout=1.5):
    out = []
    while True:
        n = m.take_notification(timeout=timeout)
        if n is None:
            return out
        out.append(etree.fromstring(n.notification_xml.encode()))


def commit_pools(m, names):
    for n in names:
        m.edit_config(target="running", config=pool_cfg(n))


def test_replay_from_start_time_then_live(ravend):
    m = ravend.connect()
    commit_pools(m, ["before"])
    time.sleep(0.05)
    t0 = now()
    commit_pools(m, ["r1", "r2", "r3"])
    sub = ravend.connect()
    sub.create_subscription(start_time=stamp(t0))
    got = [kind(take(sub)) for _ in range(4)]
    assert got == ["r1", "r2", "r3", "replayComplete"]
    commit_pools(m, ["live"])
    assert kind(take(sub)) == "live"
    assert drain(sub, 1) == []


def test_replay_event_times_are_the_original_ones(ravend):
    m = ravend.connect()
    t0 = now()
    commit_pools(m, ["old"])
    t1 = now()
    time.sleep(1.2)
    sub = ravend.connect()
    sub.create_subscription(start_time=stamp(t0))
    root = take(sub)
    assert kind(root) == "old"
    et = datetime.datetime.fromisoformat(root.findtext(f"{{{NOTIF_NS}}}eventTime").replace("Z", "+00:00"))
    assert t0 - datetime.timedelta(seconds=1) <= et <= t1


def test_stop_time_ends_the_subscription(ravend):
    m = ravend.connect()
    t0 = now()
    commit_pools(m, ["s1", "s2"])
    t1 = now()
    commit_pools(m, ["after-stop"])
    sub = ravend.connect()
    sub.create_subscription(start_time=stamp(t0), stop_time=stamp(t1))
    got = [kind(n) for n in drain(sub)]
    assert got == ["s1", "s2", "replayComplete", "notificationComplete"]
    # the subscription is over: another may be made on the same session
    sub.create_subscription()
    commit_pools(m, ["next"])
    assert kind(take(sub)) == "next"


def test_stop_time_in_the_future(ravend):
    m = ravend.connect()
    t0 = now()
    commit_pools(m, ["a"])
    sub = ravend.connect()
    sub.create_subscription(start_time=stamp(t0), stop_time=stamp(now() + datetime.timedelta(seconds=4)))
    assert [kind(take(sub)) for _ in range(2)] == ["a", "replayComplete"]
    commit_pools(m, ["b"])
    assert kind(take(sub)) == "b"
    assert kind(take(sub, timeout=8)) == "notificationComplete"
    commit_pools(m, ["c"])
    assert drain(sub, 1) == []


def test_bad_times_are_refused(ravend):
    sub = ravend.connect()
    e = expect_error(lambda: sub.create_subscription(start_time=stamp(now() + datetime.timedelta(hours=1))),
                     "bad-element")
    assert "later than the current time" in str(e)
    t = now()
    e = expect_error(lambda: sub.create_subscription(start_time=stamp(t),
                                                     stop_time=stamp(t - datetime.timedelta(seconds=10))),
                     "bad-element")
    assert "earlier than startTime" in str(e)
    # ncclient itself refuses stopTime alone: sent as it is
    rpc = etree.fromstring(f'<create-subscription xmlns="{NOTIF_NS}"><stopTime>{stamp(t)}</stopTime>'
                           '</create-subscription>')
    e = expect_error(lambda: sub.dispatch(rpc), "missing-element")
    # nothing was subscribed: a plain subscription still works
    sub.create_subscription()


def test_streams_announce_replay(ravend):
    m = ravend.connect()
    flt = '<netconf xmlns="urn:ietf:params:xml:ns:netmod:notification"><streams/></netconf>'
    root = etree.fromstring(m.get(filter=("subtree", flt)).data_xml.encode())
    st = root.find(f".//{{{NCEV_NS}}}stream")
    assert st.findtext(f"{{{NCEV_NS}}}name") == "NETCONF"
    assert st.findtext(f"{{{NCEV_NS}}}replaySupport") == "true"
    created = datetime.datetime.fromisoformat(st.findtext(f"{{{NCEV_NS}}}replayLogCreationTime")
                                              .replace("Z", "+00:00"))
    assert now() - datetime.timedelta(minutes=5) < created <= now()


def big_change(n=250, op=None):
    """A change of @n pools: one netconf-config-change of about 40 KiB."""
    return cfg(pools(*(pool(f"bulk-{k:04d}", start=f"10.200.{k // 250}.{k % 250}", end=f"10.200.{k // 250}.{k % 250}",
                            op=op) for k in range(n))))


def test_log_bound_drops_the_oldest(ravend):
    m = ravend.connect()
    t0 = now()
    commit_pools(m, ["first"])
    # about 40 KiB each, 32 of them: past the 1 MiB bound
    for i in range(16):
        m.edit_config(target="running", config=big_change())
        m.edit_config(target="running", config=big_change(op="delete"))
    sub = ravend.connect()
    sub.create_subscription(start_time=stamp(t0))
    got = drain(sub, 2)
    kinds = [kind(n) for n in got]
    assert kinds[-1] == "replayComplete"
    assert "first" not in kinds, "the oldest event was not dropped"
    assert 10 < len(kinds) < 33
    # what is kept is the newest, in order
    times = [n.findtext(f"{{{NOTIF_NS}}}eventTime") for n in got[:-1]]
    assert times == sorted(times)


def test_replay_and_stop_time_under_live_traffic(ravend):
    """Commits keep coming while a subscription replays and while its stopTime
    passes: every event once, in order, no gap between the replayed and the live
    ones, notificationComplete at stopTime although the queue never rests."""
    m = ravend.connect()
    t0 = now()
    stop = threading.Event()
    made = []

    def loop():
        w = ravend.connect()
        while not stop.is_set():
            i = len(made)
            name, a = f"t{i:04d}", f"10.201.{i // 250}.{i % 250}"
            w.edit_config(target="running", config=cfg(pools(pool(name, start=a, end=a))))
            made.append(name)

    commit_pools(m, ["x0", "x1"])
    th = threading.Thread(target=loop)
    th.start()
    try:
        time.sleep(0.5)
        sub = ravend.connect()
        t_stop = now() + datetime.timedelta(seconds=3)
        sub.create_subscription(start_time=stamp(t0), stop_time=stamp(t_stop))
        got = []
        while not got or got[-1][0] != "notificationComplete":
            root = take(sub, timeout=10)
            got.append((kind(root), root.findtext(f"{{{NOTIF_NS}}}eventTime")))
        ended = now()
        time.sleep(1)  # traffic goes on past the end
    finally:
        stop.set()
        th.join()
    kinds = [k for k, _ in got]
    assert ended - t_stop < datetime.timedelta(seconds=2), "notificationComplete came late"
    assert kinds.count("replayComplete") == 1
    pools_seen = [k for k in kinds if k not in ("replayComplete", "notificationComplete")]
    assert pools_seen[:2] == ["x0", "x1"]
    assert pools_seen[2:] == made[:len(pools_seen) - 2], "an event lost, repeated or out of order"
    assert len(pools_seen) > 5
    times = [t for k, t in got if k not in ("replayComplete", "notificationComplete")]
    assert times == sorted(times) and times[-1] <= stamp(t_stop)
    assert drain(sub, 1) == []


def test_subscription_filter_is_refused(ravend):
    sub = ravend.connect()
    rpc = etree.fromstring(f'<create-subscription xmlns="{NOTIF_NS}"><filter type="subtree">'
                           f'<netconf-config-change xmlns="{NCN_NS}"/></filter></create-subscription>')
    e = expect_error(lambda: sub.dispatch(rpc), "operation-not-supported")
    assert "filter" in str(e)
    # nothing was subscribed: a plain subscription works
    sub.create_subscription()
    commit_pools(ravend.connect(), ["plain"])
    assert kind(take(sub)) == "plain"
