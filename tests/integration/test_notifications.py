"""Notifications (RFC 5277) of configuration changes: after create-subscription a
session receives netconf-config-change (RFC 6470) for every change of running, naming
the changed paths, the operation and who made the change."""
import re

import pytest
from lxml import etree
from ncclient.operations.rpc import RPCError

from conftest import NS, READER_PW, cfg
from nchelpers import NCN_NS, expect_error, pool, pool_cfg, pools

REQUIRES = ("ncclient",)

NOTIF_NS = "urn:ietf:params:xml:ns:netconf:notification:1.0"


def take(m, timeout=10):
    n = m.take_notification(timeout=timeout)
    assert n is not None, "no notification arrived"
    return etree.fromstring(n.notification_xml.encode())


def config_change(root):
    assert root.tag == f"{{{NOTIF_NS}}}notification"
    assert root.findtext(f"{{{NOTIF_NS}}}eventTime")
    cc = root.find(f"{{{NCN_NS}}}netconf-config-change")
    assert cc is not None, etree.tostring(root)
    return cc


def edits(cc):
    """[(target with prefixes mapped to module namespaces removed, operation)]."""
    out = []
    for e in cc.findall(f"{{{NCN_NS}}}edit"):
        t = e.find(f"{{{NCN_NS}}}target")
        text = t.text
        for prefix, ns in (t.nsmap or {}).items():
            if prefix and ns == NS:
                text = re.sub(rf"\b{re.escape(prefix)}:", "", text)
        out.append((text, e.findtext(f"{{{NCN_NS}}}operation")))
    return out


def test_commit_sends_netconf_config_change(ravend):
    sub, m = ravend.connect(), ravend.connect()
    sub.create_subscription()
    m.edit_config(target="candidate", config=pool_cfg("p1"))
    m.commit()
    cc = config_change(take(sub))
    by = cc.find(f"{{{NCN_NS}}}changed-by")
    assert by.findtext(f"{{{NCN_NS}}}username") == "admin"
    assert by.findtext(f"{{{NCN_NS}}}session-id") == str(m.session_id)
    assert cc.findtext(f"{{{NCN_NS}}}datastore") == "running"
    assert ("/pools/ipv4-pool[name='p1']", "create") in edits(cc)


def test_edit_of_running_sends_netconf_config_change(ravend):
    sub, m = ravend.connect(), ravend.connect()
    m.edit_config(target="running", config=pool_cfg("p1"))
    sub.create_subscription()
    m.edit_config(target="running", config=cfg(pools(pool("p1", start=None, op="delete"))))
    assert ("/pools/ipv4-pool[name='p1']", "delete") in edits(config_change(take(sub)))


def test_subscribed_session_still_runs_rpcs(ravend):
    sub = ravend.connect()
    sub.create_subscription()
    sub.get_config(source="running")
    sub.edit_config(target="candidate", config=pool_cfg("own"))
    sub.commit()
    cc = config_change(take(sub))
    assert cc.find(f"{{{NCN_NS}}}changed-by").findtext(f"{{{NCN_NS}}}session-id") == str(sub.session_id)
    assert ("/pools/ipv4-pool[name='own']", "create") in edits(cc)


def test_rollback_of_confirmed_commit_is_notified_as_a_server_change(ravend):
    sub, m = ravend.connect(), ravend.connect()
    sub.create_subscription()
    m.edit_config(target="candidate", config=pool_cfg("cc1"))
    m.commit(confirmed=True, timeout="1")
    config_change(take(sub))
    cc = config_change(take(sub))
    by = cc.find(f"{{{NCN_NS}}}changed-by")
    assert by.find(f"{{{NCN_NS}}}server") is not None
    assert any(t.startswith("/pools") for t, _ in edits(cc))


def test_only_subscribers_get_notifications(ravend):
    sub, other = ravend.connect(), ravend.connect()
    sub.create_subscription()
    other.edit_config(target="running", config=pool_cfg("p1"))
    config_change(take(sub))
    assert other.take_notification(timeout=1) is None


def test_no_notification_without_a_change(ravend):
    sub, m = ravend.connect(), ravend.connect()
    sub.create_subscription()
    m.edit_config(target="running", config=pool_cfg("tested"), test_option="test-only")
    with pytest.raises(RPCError):
        m.edit_config(target="running", config=cfg(pools(pool("ghost", start=None, op="delete"))))
    m.edit_config(target="candidate", config=pool_cfg("p-bad", start="10.9.9.9", end="10.9.9.9"))
    m.discard_changes()
    m.edit_config(target="running", config=pool_cfg("real"))
    # the first notification is the one of the real change
    assert edits(config_change(take(sub))) == [("/pools/ipv4-pool[name='real']", "create")]


def test_several_subscribers_including_read_only_users(ravend):
    s1 = ravend.connect()
    s2 = ravend.connect(user="reader", password=READER_PW)
    m = ravend.connect()
    s1.create_subscription()
    s2.create_subscription()
    m.edit_config(target="running", config=pool_cfg("p1"))
    for s in (s1, s2):
        assert ("/pools/ipv4-pool[name='p1']", "create") in edits(config_change(take(s)))


def test_subscription_errors(ravend):
    m = ravend.connect()
    with pytest.raises(RPCError):
        m.create_subscription(stream_name="NO-SUCH-STREAM")
    # replay (test_notif_replay.py) from a time still to come
    expect_error(lambda: m.create_subscription(start_time="2100-01-01T00:00:00Z"), "bad-element")
    m.create_subscription()
    with pytest.raises(RPCError):
        m.create_subscription()
