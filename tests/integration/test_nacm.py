"""NACM (RFC 8341, ietf-netconf-acm) enforced by ravend for both APIs: a user
allowed to manage only the pools and read the sessions is refused elsewhere
(access-denied over NETCONF, 403 over REST), each rule kind (protocol
operation, data node, notification, module) allows and denies on both APIs,
notifications are filtered per subscriber, /metrics needs read access to
vpn-state, a rule set that would lock every administrator out is refused
unless a recovery user is configured, and secrets stay masked whatever the
rules. Replayed notifications are filtered as live ones."""
import os
import queue
import subprocess
import tempfile
import threading
import time

import pytest
from lxml import etree

from conftest import ADMIN_PW, READER_PW, Ravend, cfg, initial_config
from nchelpers import (MASK, aaa, expect_error, get_config, radius, rpc, subtree, texts, wait_until)
from resthelpers import Rest

REQUIRES = ("ncclient", "curl")

NACM_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-acm"
NS = "urn:raven:params:xml:ns:yang:raven-vpn"


def _user(name, pw_hash, role, recovery=False):
    rec = "<nacm-recovery>true</nacm-recovery>" if recovery else ""
    return (f"<user><name>{name}</name><password-hash>{pw_hash}</password-hash><role>{role}</role>{rec}</user>")


def _rule(name, action, access="*", module=None, rpc_name=None, notif=None, path=None):
    m = f"<module-name>{module}</module-name>" if module else ""
    kind = (f"<rpc-name>{rpc_name}</rpc-name>" if rpc_name else f"<notification-name>{notif}</notification-name>"
            if notif else f'<path xmlns:rv="{NS}">{path}</path>' if path else "")
    return f"<rule><name>{name}</name>{m}{kind}<access-operations>{access}</access-operations><action>{action}</action></rule>"


# pooler (role read-only): manages pools, reads sessions, nothing else
POOLER_RULES = "".join([
    _rule("no-discard", "deny", "exec", "ietf-netconf", rpc_name="discard-changes"),
    _rule("no-lock", "deny", "exec", "ietf-netconf", rpc_name="lock"),
    _rule("netconf-ops", "permit", "exec", "ietf-netconf", rpc_name="*"),
    _rule("subscribe", "permit", "exec", "notifications", rpc_name="create-subscription"),
    _rule("pools", "permit", "*", "raven-vpn", path="/rv:pools"),
    _rule("sessions", "permit", "read", "raven-vpn", path="/rv:vpn-state/rv:session"),
    _rule("config-changes", "permit", "read", "ietf-netconf-notifications", notif="netconf-config-change"),
    _rule("read-nacm", "permit", "read", "ietf-netconf-acm"),
    _rule("session-up", "permit", "read", "raven-vpn", notif="session-up"),
    _rule("raven-rest", "deny", "*", "raven-vpn"),
    _rule("all-else", "deny", "*"),
])
# watcher (role admin): every read, no config-change notification, no write
# of the management subtree
WATCHER_RULES = "".join([
    _rule("no-config-change", "deny", "read", "ietf-netconf-notifications", notif="netconf-config-change"),
    _rule("no-mgmt-writes", "deny", "create update delete", "raven-vpn", path="/rv:management"),
])


def _nacm(extra_lists=""):
    return (f'<nacm xmlns="{NACM_NS}"><groups>'
            f"<group><name>pool-admins</name><user-name>pooler</user-name></group>"
            f"<group><name>watchers</name><user-name>watcher</user-name></group></groups>"
            f"<rule-list><name>pools-only</name><group>pool-admins</group>{POOLER_RULES}</rule-list>"
            f"<rule-list><name>watch</name><group>watchers</group>{WATCHER_RULES}</rule-list>{extra_lists}</nacm>")


@pytest.fixture
def nd(make_ravend, hashes):
    users = (_user("pooler", hashes["reader"], "read-only") + _user("watcher", hashes["reader"], "admin"))
    d = make_ravend(extra=_nacm(), rest=True)
    _edit(d.connect(), f'<management xmlns="{NS}">{users}</management>')
    return d


def _pool_xml(name, start, end):
    return (f'<pools xmlns="{NS}"><ipv4-pool><name>{name}</name><range><start>{start}</start><end>{end}</end>'
            f"</range></ipv4-pool></pools>")


def _edit(m, body):
    m.edit_config(target="candidate", config=body if body.startswith("<config") else cfg(body))
    m.commit()


def _names(tree):
    return {etree.QName(e).localname for e in tree}


class Subscriber:
    """A NETCONF session subscribed to the NETCONF stream; its notifications'
    XML in a queue."""

    def __init__(self, d, user, pw):
        self.m = d.connect(user=user, password=pw)
        self.q = queue.Queue()
        self.m.create_subscription()
        self.stop = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.stop:
            n = self.m.take_notification(block=True, timeout=0.2)
            if n is not None:
                self.q.put(n.notification_xml)

    def drain(self, wait=1.5):
        out, end = [], time.time() + wait
        while time.time() < end:
            try:
                out.append(self.q.get(timeout=0.1))
            except queue.Empty:
                pass
        return out

    def close(self):
        self.stop = True
        self.t.join(2)
        self.m.close_session()


def test_pooler_netconf(nd):
    p = nd.connect(user="pooler", password=READER_PW)
    # data-node rule and protocol operations allowed: edit-config + commit of pools
    _edit(p, _pool_xml("np1", "10.70.0.1", "10.70.0.9"))
    assert texts(get_config(p, "running"), "pools/ipv4-pool/name") == ["np1"]
    # elsewhere refused, naming the path; nothing changed
    e = expect_error(lambda: _edit(p, cfg(aaa(radius("r1", key="k1")))), "access-denied")
    assert "/raven-vpn:aaa" in e.message, e.message
    admin = nd.connect()
    assert not texts(get_config(admin, "running"), "aaa/radius-server/name")
    # reads pruned to what it may read: pools, and /nacm (a module rule permits
    # reading ietf-netconf-acm, which is default-deny-all); no management
    got = get_config(p, "running")
    assert _names(got) == {"pools", "nacm"}, _names(got)
    full = get_config(admin, "running")
    assert {"pools", "management", "nacm"} <= _names(full)
    # protocol-operation rule denies lock and discard-changes, permits validate
    expect_error(lambda: p.lock("running"), "access-denied")
    expect_error(lambda: p.discard_changes(), "access-denied")
    p.validate(source="running")
    # module rule: raven-vpn RPCs denied
    expect_error(lambda: rpc(p, f'<clear-counters xmlns="{NS}"/>'), "access-denied")
    rpc(admin, f'<clear-counters xmlns="{NS}"/>')
    # the sessions are readable (the list's path kept), other state is not
    st = p.get(filter=subtree("vpn-state")).data_ele
    vs = st.find(f"{{{NS}}}vpn-state")
    assert vs is None or {etree.QName(c).localname for c in vs} <= {"session"}, etree.tostring(st)
    st_admin = admin.get(filter=subtree("vpn-state")).data_ele
    assert len(st_admin.find(f"{{{NS}}}vpn-state")) > 0
    # the front end's own state (monitoring, YANG library) goes by the same rules
    assert _names(p.get().data_ele) <= {"pools", "nacm", "vpn-state"}, _names(p.get().data_ele)
    assert {"netconf-state", "yang-library"} <= _names(admin.get().data_ele)
    # the counters of /nacm, readable to the admin
    n = admin.get(filter=("subtree", f'<nacm xmlns="{NACM_NS}"/>')).data_ele
    assert int(n.find(f".//{{{NACM_NS}}}denied-operations").text) >= 3
    assert int(n.find(f".//{{{NACM_NS}}}denied-data-writes").text) >= 1
    # watcher (admin role): data-node rule denies writes of management only
    w = nd.connect(user="watcher", password=READER_PW)
    expect_error(lambda: _edit(w, f'<management xmlns="{NS}"><user><name>x1</name><role>read-only</role></user>'
                                  f"</management>"), "access-denied")
    w.discard_changes()
    # ... nor delete there (a delete of a user)
    expect_error(lambda: _edit(w, f'<management xmlns="{NS}"><user nc:operation="delete" '
                                  f'xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0"><name>reader</name></user>'
                                  f"</management>"), "access-denied")
    w.discard_changes()
    _edit(w, _pool_xml("wp1", "10.71.0.1", "10.71.0.9"))
    # pooler deletes a pool: delete access by the same data-node rule
    _edit(p, f'<pools xmlns="{NS}"><ipv4-pool nc:operation="delete" '
             f'xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0"><name>wp1</name></ipv4-pool></pools>')
    assert "wp1" not in texts(get_config(admin, "running"), "pools/ipv4-pool/name")
    # secrets masked for a user that may read everything
    _edit(admin, cfg(aaa(radius("r2", key="s3cret"))))
    assert texts(get_config(w, "running"), "aaa/radius-server/key") == [MASK]
    assert set(texts(get_config(w, "running", subtree("management")), "management/user/password-hash")) == {MASK}


def test_pooler_rest(nd):
    r = Rest(nd.rest_url, user="pooler", password=READER_PW)
    admin = Rest(nd.rest_url)
    body = {"raven-vpn:ipv4-pool": [{"name": "rp1", "range": [{"start": "10.72.0.1", "end": "10.72.0.9"}]}]}
    res = r.put("/restconf/data/raven-vpn:pools/ipv4-pool=rp1", body)
    assert res.status == 201, res
    assert r.get("/restconf/data/raven-vpn:pools").status == 200
    # update: a new end of the range
    res = r.patch("/restconf/data/raven-vpn:pools/ipv4-pool=rp1",
                  {"raven-vpn:ipv4-pool": [{"name": "rp1", "range": [{"start": "10.72.0.1", "end": "10.72.0.8"}]}]})
    assert res.status == 204, res
    # a data resource it may not read: 403; writes elsewhere: 403
    res = r.get("/restconf/data/raven-vpn:ikev2")
    assert res.status == 403, res
    res = r.get("/restconf/data/raven-vpn:management")
    assert res.status == 403, res
    assert admin.get("/restconf/data/raven-vpn:management").status == 200
    res = r.put("/restconf/data/raven-vpn:aaa", {"raven-vpn:aaa": {"radius-server": [
        {"name": "rr1", "address": "192.0.2.7", "key": "k9"}]}})
    assert res.status == 403, res
    assert res.errors()[0]["error-tag"] == "access-denied"
    # protocol operations: validate allowed, discard-changes denied; raven RPCs denied (module rule)
    assert r.post("/restconf/operations/ietf-netconf:validate",
                  {"ietf-netconf:input": {"source": {"running": [None]}}}).status in (200, 204)
    assert r.post("/restconf/operations/ietf-netconf:discard-changes").status == 403
    assert r.post("/restconf/operations/raven-vpn:clear-counters").status == 403
    assert admin.post("/restconf/operations/raven-vpn:clear-counters").status in (200, 204)
    # the whole datastore: only what it may read
    res = r.get("/restconf/data")
    assert res.status == 200
    assert '"raven-vpn:pools":' in res.body and '"raven-vpn:management":' not in res.body, res.body[:400]
    assert r.get("/restconf/data/ietf-yang-library:yang-library").status == 403
    assert admin.get("/restconf/data/ietf-yang-library:yang-library").status == 200
    # the YANG modules: get-schema, which its rules deny
    res = r.get("/restconf/yang/raven-vpn", accept=None)
    assert res.status == 403 and "get-schema" in res.body, res
    res = admin.get("/restconf/yang/raven-vpn", accept=None)
    assert res.status == 200 and "module raven-vpn" in res.body, res
    # a module rule permits reading ietf-netconf-acm
    assert r.get("/restconf/data/ietf-netconf-acm:nacm").status == 200
    # /metrics: a read of vpn-state
    assert r.get("/metrics", accept=None).status == 403
    w = Rest(nd.rest_url, user="watcher", password=READER_PW)
    m = w.get("/metrics", accept=None)
    assert m.status == 200 and "raven_sessions" in m.body
    # watcher: data-node rule denies management writes over REST too
    res = w.put("/restconf/data/raven-vpn:management/user=x2", {"raven-vpn:user": [{"name": "x2"}]})
    assert res.status == 403, res
    res = w.patch("/restconf/data/raven-vpn:management/user=reader",
                  {"raven-vpn:user": [{"name": "reader", "role": "admin"}]})
    assert res.status == 403 and res.errors()[0]["error-tag"] == "access-denied", res
    assert w.delete("/restconf/data/raven-vpn:management/user=reader").status == 403
    # secrets masked for a user every rule lets read
    res = admin.put("/restconf/data/raven-vpn:aaa/radius-server=rs1",
                    {"raven-vpn:radius-server": [{"name": "rs1", "address": "192.0.2.8", "key": "s3cret-k"}]})
    assert res.status in (201, 204), res
    res = w.get("/restconf/data/raven-vpn:aaa/radius-server=rs1")
    assert res.status == 200 and res.json()["raven-vpn:radius-server"][0]["key"] == "********", res


def _stream(nd, user, out):
    p = subprocess.Popen(["curl", "-sNk", "--max-time", "8", "-u", f"{user}:{READER_PW}",
                          nd.rest_url + "/restconf/streams/config/json"], stdout=subprocess.PIPE, text=True)
    out.append(p)
    return p


def test_notifications_filtered(nd):
    admin = nd.connect()
    subs = {u: Subscriber(nd, u, pw) for u, pw in
            (("admin", ADMIN_PW), ("pooler", READER_PW), ("watcher", READER_PW), ("reader", READER_PW))}
    procs = []
    try:
        for u in ("pooler", "reader", "watcher"):
            _stream(nd, u, procs)
        time.sleep(1.0)
        _edit(admin, _pool_xml("cp1", "10.73.0.1", "10.73.0.9"))
        _edit(admin, cfg(aaa(radius("r3", key="k3"))))
        got = {u: s.drain() for u, s in subs.items()}

        def about(xmls, what):
            return [x for x in xmls if "netconf-config-change" in x and what in x]

        # admin and reader (built-in rule lists) see both changes
        for u in ("admin", "reader"):
            assert about(got[u], "pools") and about(got[u], "aaa"), (u, got[u])
        # pooler: the pools change only (the aaa change's target is not readable to it)
        assert about(got["pooler"], "pools") and not about(got["pooler"], "aaa"), got["pooler"]
        # watcher: a notification rule denies netconf-config-change
        assert not about(got["watcher"], "pools") and not about(got["watcher"], "aaa"), got["watcher"]
        lines = {}
        for u, p in zip(("pooler", "reader", "watcher"), procs):
            p.wait(15)
            lines[u] = [ln for ln in p.stdout.read().splitlines() if ln.startswith("data:")]
        assert any("pools" in ln for ln in lines["pooler"]) and not any("aaa" in ln for ln in lines["pooler"])
        assert any("aaa" in ln for ln in lines["reader"]), lines["reader"]
        assert lines["watcher"] == [], lines["watcher"]
        n = admin.get(filter=("subtree", f'<nacm xmlns="{NACM_NS}"/>')).data_ele
        assert int(n.find(f".//{{{NACM_NS}}}denied-notifications").text) >= 2
    finally:
        for s in subs.values():
            s.close()
        for p in procs:
            p.kill()
            p.wait()


def test_notifications_denied_to_removed_users_and_for_many_targets(nd):
    admin = nd.connect()
    subs = {u: Subscriber(nd, u, pw) for u, pw in
            (("admin", ADMIN_PW), ("pooler", READER_PW), ("reader", READER_PW))}
    try:
        # more changed nodes than a notification's targets are checked for:
        # a restricted user gets none of it
        pools = "".join(f"<ipv4-pool><name>mt{i}</name><range><start>10.77.{i}.1</start><end>10.77.{i}.9</end>"
                        f"</range></ipv4-pool>" for i in range(70))
        _edit(admin, f'<pools xmlns="{NS}">{pools}</pools>')
        got = {u: s.drain() for u, s in subs.items()}
        assert any("mt69" in x for x in got["admin"]), got["admin"]
        assert not any("netconf-config-change" in x for x in got["pooler"]), got["pooler"]
        # a user removed from the configuration keeps its NETCONF session, but
        # gets no more notifications
        _edit(admin, f'<management xmlns="{NS}"><user nc:operation="delete" '
                     f'xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0"><name>reader</name></user></management>')
        _edit(admin, _pool_xml("rm1", "10.78.0.1", "10.78.0.9"))
        got = {u: s.drain() for u, s in subs.items()}
        assert any("rm1" in x for x in got["admin"]) and any("rm1" in x for x in got["pooler"]), got
        assert not got["reader"], got["reader"]
    finally:
        for s in subs.values():
            s.close()


def test_replayed_notifications_filtered(nd):
    """Replay (RFC 5277 startTime, REST start-time) is judged by the same rules:
    the log holds every notification, each subscriber gets back only those its
    user may read."""
    admin = nd.connect()
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 2))
    _edit(admin, _pool_xml("rp1", "10.74.0.1", "10.74.0.9"))
    _edit(admin, cfg(aaa(radius("r4", key="k4"))))
    time.sleep(0.5)
    got = {}
    for user, pw in (("admin", ADMIN_PW), ("pooler", READER_PW), ("watcher", READER_PW)):
        m = nd.connect(user=user, password=pw)
        m.create_subscription(start_time=start)
        xs, end = [], time.time() + 5
        while time.time() < end and not any("replayComplete" in x for x in xs):
            n = m.take_notification(block=True, timeout=0.5)
            if n is not None:
                xs.append(n.notification_xml)
        m.close_session()
        assert any("replayComplete" in x for x in xs), (user, xs)
        got[user] = [x for x in xs if "netconf-config-change" in x]
    assert any("rp1" in x or "pools" in x for x in got["admin"]) and any("aaa" in x for x in got["admin"])
    assert any("pools" in x for x in got["pooler"]) and not any("aaa" in x for x in got["pooler"]), got["pooler"]
    assert got["watcher"] == [], got["watcher"]
    # the same over a REST stream replayed from start-time
    out = subprocess.run(["curl", "-sNk", "--max-time", "4", "-u", f"pooler:{READER_PW}",
                          nd.rest_url + f"/restconf/streams/config/json?start-time={start}"],
                         capture_output=True, text=True).stdout
    data = [ln for ln in out.splitlines() if ln.startswith("data:")]
    assert any("pools" in ln for ln in data) and not any("aaa" in ln for ln in data), data


def test_lockout_refused_unless_recovery(nd, hashes):
    admin = nd.connect()
    # a rule list that denies every group's writes locks every administrator out
    deny_all = (f'<nacm xmlns="{NACM_NS}"><rule-list><name>lock</name><group>*</group>'
                f'{_rule("nothing", "deny", "create update delete")}</rule-list></nacm>')
    admin.edit_config(target="candidate", config=cfg(deny_all))
    e = expect_error(lambda: admin.commit(), "operation-failed")
    assert "locking every administrator out" in e.message, e.message
    admin.discard_changes()
    res = Rest(nd.rest_url).patch("/restconf/data/ietf-netconf-acm:nacm", {"ietf-netconf-acm:nacm": {
        "rule-list": [{"name": "lock", "group": ["*"], "rule": [{"name": "nothing", "access-operations":
                                                                 "create update delete", "action": "deny"}]}]}})
    assert res.status == 400 and "locking every administrator out" in res.body, res
    # with a recovery user the same rules commit; NACM leaves that user alone
    _edit(admin, f'<management xmlns="{NS}">{_user("rescue", hashes["reader"], "read-only", recovery=True)}'
                 f"</management>")
    admin.edit_config(target="candidate", config=cfg(deny_all))
    admin.commit()
    expect_error(lambda: _edit(admin, _pool_xml("lp1", "10.74.0.1", "10.74.0.9")), "access-denied")
    admin.discard_changes()
    rescue = nd.connect(user="rescue", password=READER_PW)
    _edit(rescue, _pool_xml("lp2", "10.74.1.1", "10.74.1.9"))
    # enable-nacm false: nothing is restricted
    _edit(rescue, f'<nacm xmlns="{NACM_NS}"><enable-nacm>false</enable-nacm></nacm>')
    _edit(admin, _pool_xml("lp3", "10.74.2.1", "10.74.2.9"))
    p = nd.connect(user="pooler", password=READER_PW)
    _edit(p, cfg(aaa(radius("r4", key="k4"))))
    assert "r4" in texts(get_config(admin, "running"), "aaa/radius-server/name")


def test_filters_run_on_what_the_user_may_read(nd):
    """A read's filter selects from the pruned tree: it cannot step around a
    rule's predicates, nor test the values of denied nodes."""
    admin = nd.connect()
    _edit(admin, aaa(radius("vis", key="k1", address="192.0.2.7"), radius("hid", key="k2", address="192.0.2.99")))
    rules = (_rule("hide-server", "deny", "read", path="/rv:aaa/rv:radius-server[rv:name='hid']") +
             _rule("hide-address", "deny", "read", path="/rv:aaa/rv:radius-server/rv:address"))
    _edit(admin, f'<nacm xmlns="{NACM_NS}"><rule-list><name>watch</name>{rules}</rule-list></nacm>')
    w = nd.connect(user="watcher", password=READER_PW)
    for read in (lambda f: get_config(w, "running", f), lambda f: w.get(filter=f).data_ele):
        # (a) a filter selecting only the names: the hidden server's predicate still applies
        got = read(("xpath", ({"rv": NS}, "/rv:aaa/rv:radius-server/rv:name")))
        assert texts(got, "aaa/radius-server/name") == ["vis"], etree.tostring(got)
        # (b) a filter testing a denied value finds nothing
        got = read(("xpath", ({"rv": NS}, "/rv:aaa/rv:radius-server[rv:address='192.0.2.7']/rv:name")))
        assert not texts(got, "aaa/radius-server/name"), etree.tostring(got)
        got = read(("xpath", ({"rv": NS}, "/rv:aaa/rv:radius-server[starts-with(rv:address,'192')]/rv:name")))
        assert not texts(got, "aaa/radius-server/name"), etree.tostring(got)
        got = read(subtree("aaa", "<radius-server><address>192.0.2.7</address></radius-server>"))
        assert not texts(got, "aaa/radius-server/name"), etree.tostring(got)
    assert sorted(texts(get_config(admin, "running", ("xpath", ({"rv": NS}, "/rv:aaa/rv:radius-server/rv:name"))),
                        "aaa/radius-server/name")) == ["hid", "vis"]
    r = Rest(nd.rest_url, user="watcher", password=READER_PW)
    res = r.get("/restconf/data/raven-vpn:aaa?fields=radius-server/name")
    assert res.status == 200, res
    assert [s["name"] for s in res.json()["raven-vpn:aaa"]["radius-server"]] == ["vis"], res.body
    res = r.get("/restconf/data/raven-vpn:aaa/radius-server=hid/name")
    assert res.status in (403, 404), res


def test_commit_checks_the_whole_change(nd):
    """A restricted user's commit is checked against everything it changes in
    running, not only its own edits of the candidate."""
    admin, p = nd.connect(), nd.connect(user="pooler", password=READER_PW)
    p.edit_config(target="candidate", config=cfg(_pool_xml("cw1", "10.75.0.1", "10.75.0.9")))
    # running changes after the candidate was copied: the candidate would undo it
    admin.edit_config(target="running", config=cfg(aaa(radius("cw-r", key="k"))))
    e = expect_error(lambda: p.commit(), "access-denied")
    assert "/raven-vpn:aaa" in e.message, e.message
    assert "cw-r" in texts(get_config(admin, "running"), "aaa/radius-server/name")
    assert "cw1" not in texts(get_config(admin, "running"), "pools/ipv4-pool/name")
    admin.discard_changes()
    # an admin's edit left in the shared candidate is not the pooler's to commit
    admin.edit_config(target="candidate", config=cfg(aaa(radius("cw-r2", key="k"))))
    expect_error(lambda: p.commit(), "access-denied")
    admin.discard_changes()
    _edit(p, _pool_xml("cw2", "10.75.1.1", "10.75.1.9"))
    assert "cw2" in texts(get_config(admin, "running"), "pools/ipv4-pool/name")


def test_confirmed_commit_rollback_undoes_only_what_is_allowed(nd):
    admin, other, p = nd.connect(), nd.connect(), nd.connect(user="pooler", password=READER_PW)
    admin.edit_config(target="candidate", config=cfg(aaa(radius("cc-r", key="k"))))
    admin.commit(confirmed=True, timeout="60", persist="cc-tok")
    # while it is pending, running changes only by commit
    e = expect_error(lambda: other.edit_config(target="running", config=cfg(_pool_xml("cc1", "10.76.0.1",
                                                                                       "10.76.0.9"))), "in-use")
    assert "confirmed commit" in e.message, e.message
    res = Rest(nd.rest_url).patch("/restconf/data/raven-vpn:pools", {"raven-vpn:pools": {"ipv4-pool": [
        {"name": "cc2", "range": [{"start": "10.76.1.1", "end": "10.76.1.9"}]}]}})
    assert res.status == 409, res
    # the pooler knows the token but may not undo the admin's aaa change
    e = expect_error(lambda: p.cancel_commit(persist_id="cc-tok"), "access-denied")
    assert "/raven-vpn:aaa" in e.message, e.message
    assert "cc-r" in texts(get_config(admin, "running"), "aaa/radius-server/name")
    admin.cancel_commit(persist_id="cc-tok")
    assert "cc-r" not in texts(get_config(admin, "running"), "aaa/radius-server/name")
    other.edit_config(target="running", config=cfg(_pool_xml("cc3", "10.76.2.1", "10.76.2.9")))


LOAD = os.environ.get("IKE_LOAD", os.path.join(os.path.dirname(__file__), "..", "..", "build-test", "tests",
                                               "bench", "ike_load"))


def test_session_notifications_filtered(hashes, keypair, hostkey):
    """Real sessions (ike_load from a client namespace): session-up reaches the
    admin and pooler (a notification rule permits it, a data rule its
    session), not auditor (its data rule hides the sessions); session-down,
    which a module rule denies to pooler, reaches the admin only."""
    from lab import Lab
    from test_ike_sessions import headend_config

    lb = Lab(1, tag="na")
    d = None
    subs = {}
    try:
        users = (_user("pooler", hashes["reader"], "read-only") + _user("auditor", hashes["reader"], "read-only"))
        audit = (f"<rule-list><name>audit</name><group>auditors</group>"
                 f'{_rule("no-sessions", "deny", "read", "raven-vpn", path="/rv:vpn-state/rv:session")}</rule-list>')
        nacm = _nacm(audit).replace("</groups>", "<group><name>auditors</name><user-name>auditor</user-name></group>"
                                                  "</groups>")
        d = Ravend(tempfile.mkdtemp(prefix="raven-it-"), 8300,
                   initial_config(8300, hashes, keypair[1], headend_config() + nacm), netns=lb.head)
        os.makedirs(d.state_dir, mode=0o700)
        with open(os.path.join(d.state_dir, "ssh_host_rsa_key"), "wb") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(hostkey)
        d.start()
        _edit(d.connect(), f'<management xmlns="{NS}">{users}</management>')
        subs = {u: Subscriber(d, u, pw) for u, pw in
                (("admin", ADMIN_PW), ("pooler", READER_PW), ("auditor", READER_PW))}
        c = lb.clients[0]
        p = lb.spawn(c["ns"], LOAD, "--hold", c["head_ip"], c["ip"], "3", "2", "rw-secret-1", "u%d.example.org",
                     "2", "2", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        got = {u: [] for u in subs}
        deadline = time.time() + 30
        while time.time() < deadline and sum("session-up" in x for x in got["admin"]) < 2:
            for u, s in subs.items():
                got[u] += s.drain(0.3)
        # the admin ends both sessions: session-down
        admin = d.connect()
        for x in got["admin"]:
            if "session-up" in x:
                sid = etree.fromstring(x.encode()).find(f".//{{{NS}}}session-id").text
                rpc(admin, f'<clear-session xmlns="{NS}"><session-id>{sid}</session-id></clear-session>')
        while time.time() < deadline and sum("session-down" in x for x in got["admin"]) < 2:
            for u, s in subs.items():
                got[u] += s.drain(0.3)
        for u, s in subs.items():
            got[u] += s.drain(0.5)
        ups = {u: [x for x in xs if "session-up" in x] for u, xs in got.items()}
        downs = {u: [x for x in xs if "session-down" in x] for u, xs in got.items()}
        assert len(ups["admin"]) == 2 and len(downs["admin"]) == 2, got["admin"]
        assert len(ups["pooler"]) == 2 and not downs["pooler"], got["pooler"]
        assert not ups["auditor"] and not downs["auditor"], got["auditor"]
        p.kill()
        p.wait(10)
    finally:
        for s in subs.values():
            s.close()
        if d:
            rc = d.stop()
            d.cleanup()
        lb.close()
    assert rc == 0, f"ravend exited with status {rc}"
