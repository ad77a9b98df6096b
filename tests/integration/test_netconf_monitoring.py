"""ietf-netconf-monitoring (RFC 6022) as ncclient reads it: the sessions with
their user, transport, address, login time and counters that move; the global
statistics; the datastores with the global lock and its holder (ravend's);
partial locks (RFC 5717) held against other sessions' changes and listed; and
kill-session (another session's lock freed at once, for NETCONF and REST writers,
and gone from the datastores; a session cannot kill itself nor a session that
does not exist)."""
import datetime
import re

import pytest
from lxml import etree
from ncclient.operations.rpc import RPCError

from conftest import READER_PW, cfg
from nchelpers import expect_error, pool, pool_cfg, pools, wait_until

REQUIRES = ("ncclient",)

NCM = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"


def state(m, part):
    flt = f'<netconf-state xmlns="{NCM}"><{part}/></netconf-state>'
    return etree.fromstring(m.get(filter=("subtree", flt)).data_xml.encode()).find(f"{{{NCM}}}netconf-state")


def sessions(m):
    out = {}
    for s in state(m, "sessions").iter(f"{{{NCM}}}session"):
        out[int(s.findtext(f"{{{NCM}}}session-id"))] = {c.tag.split("}")[1]: c.text for c in s}
    return out


def stats(m):
    st = state(m, "statistics").find(f"{{{NCM}}}statistics")
    return {c.tag.split("}")[1]: c.text for c in st}


def locks(m):
    out = {}
    for ds in state(m, "datastores").iter(f"{{{NCM}}}datastore"):
        g = ds.find(f"{{{NCM}}}locks/{{{NCM}}}global-lock")
        out[ds.findtext(f"{{{NCM}}}name")] = (None if g is None else
                                              (int(g.findtext(f"{{{NCM}}}locked-by-session")),
                                               g.findtext(f"{{{NCM}}}locked-time")))
    return out


def when(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_sessions_are_listed_with_their_user_and_address(ravend, keypair):
    before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=2)
    admin, reader, bykey = ravend.connect(), ravend.connect(user="reader", password=READER_PW), \
        ravend.connect(key=keypair[0])
    ss = sessions(reader)
    for m, user in ((admin, "admin"), (reader, "reader"), (bykey, "admin")):
        s = ss[int(m.session_id)]
        assert s["username"] == user
        assert s["transport"].endswith("netconf-ssh")
        assert s["source-host"] == "127.0.0.1"
        assert before <= when(s["login-time"]) <= datetime.datetime.now(datetime.timezone.utc)
    admin.close_session()
    ravend.managers.remove(admin)
    wait_until(lambda: int(admin.session_id) not in sessions(reader), timeout=5, what="the session to go")


def test_counters_move(ravend):
    m, watcher = ravend.connect(), ravend.connect()
    c0 = sessions(watcher)[int(m.session_id)]
    for _ in range(3):
        m.get_config(source="running")
    expect_error(lambda: m.unlock("running"), "operation-failed")
    c1 = sessions(watcher)[int(m.session_id)]
    assert int(c1["in-rpcs"]) >= int(c0["in-rpcs"]) + 4
    assert int(c1["out-rpc-errors"]) == int(c0["out-rpc-errors"]) + 1
    # an RPC libnetconf2 cannot parse counts as a bad one
    bad = etree.fromstring(f'<get-config xmlns="{NC}"><source><nowhere/></source></get-config>')
    with pytest.raises(RPCError):
        m.dispatch(bad)
    c2 = sessions(watcher)[int(m.session_id)]
    assert int(c2["in-bad-rpcs"]) == int(c1["in-bad-rpcs"]) + 1
    assert int(c2["out-rpc-errors"]) == int(c1["out-rpc-errors"]) + 1
    # notifications sent to a subscriber are counted
    m.create_subscription()
    watcher.edit_config(target="running", config=pool_cfg("n1"))
    assert m.take_notification(timeout=10) is not None
    assert int(sessions(watcher)[int(m.session_id)]["out-notifications"]) == 1


def test_statistics(ravend):
    m = ravend.connect()
    s0 = stats(m)
    assert when(s0["netconf-start-time"]) <= datetime.datetime.now(datetime.timezone.utc)
    victim = ravend.connect()
    victim.get_config(source="running")
    m.kill_session(victim.session_id)
    wait_until(lambda: int(stats(m)["dropped-sessions"]) == int(s0["dropped-sessions"]) + 1, timeout=5,
               what="the killed session to count as dropped")
    s1 = stats(m)
    assert int(s1["in-sessions"]) == int(s0["in-sessions"]) + 1
    # the counters of ended sessions stay in the totals
    assert int(s1["in-rpcs"]) >= int(s0["in-rpcs"]) + 2
    assert int(s1["in-bad-hellos"]) == int(s0["in-bad-hellos"])


def test_global_locks_with_their_session(ravend):
    m, other = ravend.connect(), ravend.connect()
    assert locks(other) == {"running": None, "candidate": None, "startup": None}
    before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=2)
    m.lock("running")
    m.lock("candidate")
    ls = locks(other)
    assert ls["running"][0] == int(m.session_id) and ls["candidate"][0] == int(m.session_id)
    assert ls["startup"] is None
    assert before <= when(ls["running"][1]) <= datetime.datetime.now(datetime.timezone.utc)
    m.unlock("running")
    assert locks(other)["running"] is None and locks(other)["candidate"][0] == int(m.session_id)


def test_kill_session_frees_the_lock_it_held(ravend):
    holder, killer = ravend.connect(), ravend.connect()
    holder.lock("running")
    assert locks(killer)["running"][0] == int(holder.session_id)
    killer.kill_session(holder.session_id)
    assert locks(killer)["running"] is None
    killer.lock("running")
    assert locks(killer)["running"][0] == int(killer.session_id)
    wait_until(lambda: int(holder.session_id) not in sessions(killer), timeout=5, what="the killed session to go")


def test_kill_session_of_itself_or_of_nobody_is_an_error(ravend):
    m = ravend.connect()
    m.lock("running")
    e = expect_error(lambda: m.kill_session(m.session_id), "invalid-value")
    assert "close-session" in str(e)
    expect_error(lambda: m.kill_session("4000000000"), "invalid-value")
    # nothing happened to the session or its lock
    assert locks(m)["running"][0] == int(m.session_id)
    reader = ravend.connect(user="reader", password=READER_PW)
    expect_error(lambda: reader.kill_session(m.session_id), "access-denied")
    assert int(m.session_id) in sessions(reader)


PL = "urn:ietf:params:xml:ns:netconf:partial-lock:1.0"
RV = "urn:raven:params:xml:ns:yang:raven-vpn"


def partial_lock(m, *select):
    sel = "".join(f"<select>{s}</select>" for s in select)
    reply = etree.fromstring(m.dispatch(etree.fromstring(f'<partial-lock xmlns="{PL}">{sel}</partial-lock>')).xml
                             .encode())
    return int(reply.findtext(f".//{{{PL}}}lock-id")), [n.text for n in reply.iter(f"{{{PL}}}locked-node")]


def partial_unlock(m, lock_id):
    m.dispatch(etree.fromstring(f'<partial-unlock xmlns="{PL}"><lock-id>{lock_id}</lock-id></partial-unlock>'))


def partial_locks(m):
    out = []
    for p in state(m, "datastores").iter(f"{{{NCM}}}partial-lock"):
        out.append({"id": int(p.findtext(f"{{{NCM}}}lock-id")),
                    "sid": int(p.findtext(f"{{{NCM}}}locked-by-session")),
                    "time": p.findtext(f"{{{NCM}}}locked-time"),
                    "select": [s.text for s in p.findall(f"{{{NCM}}}select")],
                    "nodes": [s.text for s in p.findall(f"{{{NCM}}}locked-node")]})
    return out


def test_partial_lock_protects_its_nodes(ravend):
    a, b = ravend.connect(), ravend.connect()
    for n in ("p1", "p2"):
        a.edit_config(target="running", config=pool_cfg(n))
    assert "urn:ietf:params:netconf:capability:partial-lock:1.0" in a.server_capabilities
    del_p1 = cfg(pools(pool("p1", start=None, op="delete")))
    lock_id, nodes = partial_lock(a, "/raven-vpn:pools/ipv4-pool[name='p1']")
    assert len(nodes) == 1 and "p1" in nodes[0]
    # shown in the monitoring data with its session, select and node
    pls = partial_locks(b)
    assert len(pls) == 1 and pls[0]["id"] == lock_id and pls[0]["sid"] == int(a.session_id)
    # (printed in XML with prefixes bound to the module namespaces)
    assert len(pls[0]["select"]) == 1 and re.sub(r"\w+:", "", pls[0]["select"][0]) == "/pools/ipv4-pool[name='p1']"
    assert "p1" in pls[0]["nodes"][0]
    # another session cannot change the node, nor what holds it, nor lock it
    e = expect_error(lambda: b.edit_config(target="running", config=del_p1), "in-use")
    assert "partially locked" in str(e)
    b.edit_config(target="running", config=pool_cfg("p2", start="10.9.9.2", end="10.9.9.3"))
    expect_error(lambda: b.lock("running"), "lock-denied")
    expect_error(lambda: partial_lock(b, "/raven-vpn:pools"), "lock-denied")
    b.edit_config(target="candidate", config=del_p1)
    expect_error(lambda: b.commit(), "in-use")
    b.discard_changes()
    # the holder can, and its lock ends with partial-unlock
    a.edit_config(target="running", config=del_p1)
    partial_unlock(a, lock_id)
    assert partial_locks(b) == []
    b.edit_config(target="running", config=pool_cfg("p1"))
    b.lock("running")


def test_partial_locks_refused_and_released(ravend):
    a, b = ravend.connect(), ravend.connect()
    a.edit_config(target="running", config=pool_cfg("q1"))
    expect_error(lambda: partial_lock(a, "/raven-vpn:pools/ipv4-pool[name='none']"), "invalid-value")
    b.lock("running")
    expect_error(lambda: partial_lock(a, "/raven-vpn:pools"), "lock-denied")
    b.unlock("running")
    lock_id, _ = partial_lock(a, "/raven-vpn:pools")
    expect_error(lambda: partial_unlock(b, lock_id), "invalid-value")
    reader = ravend.connect(user="reader", password=READER_PW)
    expect_error(lambda: partial_lock(reader, "/raven-vpn:pools"), "access-denied")
    # killing the holder releases it
    b.kill_session(a.session_id)
    assert partial_locks(b) == []
    b.edit_config(target="running", config=pool_cfg("q2"))


def test_kill_session_frees_rest_writers(make_ravend):
    """A NETCONF lock holds REST writers back too; killing its session (from
    another NETCONF session) lets them write at once."""
    from resthelpers import Rest, pool_body
    d = make_ravend(rest=True)
    rest = Rest(d.rest_url)
    holder, killer = d.connect(), d.connect()
    holder.lock("running")
    r = rest.put("/restconf/data/raven-vpn:pools/ipv4-pool=k1", pool_body("k1", "10.77.0.1", "10.77.0.9"))
    assert r.status == 409 and r.errors()[0]["error-tag"] in ("in-use", "lock-denied"), r
    assert str(holder.session_id) in r.body
    killer.kill_session(holder.session_id)
    r = rest.put("/restconf/data/raven-vpn:pools/ipv4-pool=k1", pool_body("k1", "10.77.0.1", "10.77.0.9"))
    assert r.status == 201, r
    assert locks(killer)["running"] is None


def test_nacm_hides_parts_of_netconf_state(ravend):
    """NACM applies to each part of this front end's own state: a user denied
    netconf-state/sessions still reads the statistics, but no session."""
    admin = ravend.connect()
    nacm = "urn:ietf:params:xml:ns:yang:ietf-netconf-acm"
    admin.edit_config(target="running", config=cfg(
        f'<nacm xmlns="{nacm}"><groups><group><name>readers</name><user-name>reader</user-name></group></groups>'
        '<rule-list><name>no-sessions</name><group>readers</group><rule><name>sessions</name>'
        f'<module-name>ietf-netconf-monitoring</module-name><path xmlns:ncm="{NCM}">/ncm:netconf-state/ncm:sessions'
        '</path><access-operations>read</access-operations><action>deny</action></rule></rule-list></nacm>'))
    reader = ravend.connect(user="reader", password=READER_PW)
    assert sessions(admin), "the admin sees the sessions"
    full = etree.fromstring(reader.get(filter=("subtree", f'<netconf-state xmlns="{NCM}"/>')).data_xml.encode())
    assert full.find(f".//{{{NCM}}}sessions") is None
    assert full.find(f".//{{{NCM}}}session") is None
    assert full.find(f".//{{{NCM}}}statistics") is not None
    assert state(reader, "sessions") is None or state(reader, "sessions").find(f"{{{NCM}}}sessions") is None
    assert int(stats(reader)["in-sessions"]) >= 2


def test_partial_lock_finds_only_what_the_user_may_read(ravend):
    """A partial lock names the nodes it locks: one that finds a node NACM keeps
    from the user is refused (access-denied), without naming it."""
    admin = ravend.connect()
    admin.edit_config(target="running", config=pool_cfg("open"))
    admin.edit_config(target="running", config=cfg(pools(pool("hidden", start="10.77.0.1", end="10.77.0.9"))))
    nacm = "urn:ietf:params:xml:ns:yang:ietf-netconf-acm"
    rv = "urn:raven:params:xml:ns:yang:raven-vpn"
    rule = "<rule><name>{}</name><module-name>{}</module-name>{}<access-operations>{}</access-operations>" \
           "<action>{}</action></rule>"
    admin.edit_config(target="running", config=cfg(
        f'<nacm xmlns="{nacm}"><groups><group><name>lockers</name><user-name>reader</user-name></group></groups>'
        '<rule-list><name>lockers</name><group>lockers</group>'
        + rule.format("pl", "ietf-netconf-partial-lock", "<rpc-name>*</rpc-name>", "exec", "permit")
        + rule.format("hidden", "raven-vpn", f"<path xmlns:rv=\"{rv}\">/rv:pools/rv:ipv4-pool[rv:name='hidden']</path>",
                      "read", "deny")
        + "</rule-list></nacm>"))
    reader = ravend.connect(user="reader", password=READER_PW)
    e = expect_error(lambda: partial_lock(reader, "/raven-vpn:pools/ipv4-pool"), "access-denied")
    assert "hidden" not in str(e)
    assert partial_locks(admin) == []
    lock_id, nodes = partial_lock(reader, "/raven-vpn:pools/ipv4-pool[name='open']")
    assert len(nodes) == 1 and "open" in nodes[0]
    partial_unlock(reader, lock_id)


def test_partial_lock_against_copies_rest_and_rollbacks(make_ravend):
    """A partial lock holds back copy-config and REST writes of its nodes, but
    not the rollback of a confirmed commit (cancel-commit, the session's end)."""
    from nchelpers import pool_names
    from resthelpers import Rest, pool_body
    d = make_ravend(rest=True)
    rest = Rest(d.rest_url)
    a, b = d.connect(), d.connect()
    for n in ("p1", "p2"):
        a.edit_config(target="running", config=pool_cfg(n))
    partial_lock(a, "/raven-vpn:pools/ipv4-pool[name='p1']")
    # copy-config of a candidate without p1
    b.edit_config(target="candidate", config=cfg(pools(pool("p1", start=None, op="delete"))))
    expect_error(lambda: b.copy_config(source="candidate", target="running"), "in-use")
    b.discard_changes()
    # REST: p1 refused, anything else goes
    r = rest.delete("/restconf/data/raven-vpn:pools/ipv4-pool=p1")
    assert r.status == 409 and r.errors()[0]["error-tag"] == "in-use", r
    r = rest.put("/restconf/data/raven-vpn:pools/ipv4-pool=p3", pool_body("p3", "10.78.0.1", "10.78.0.9"))
    assert r.status == 201, r
    # a confirmed commit, then a partial lock of what it made: cancel-commit undoes it
    b.edit_config(target="candidate", config=cfg(pools(pool("c1", start="10.79.0.1", end="10.79.0.9"))))
    b.commit(confirmed=True, timeout="60")
    lock_c1, _ = partial_lock(a, "/raven-vpn:pools/ipv4-pool[name='c1']")
    b.dispatch(etree.fromstring(f'<cancel-commit xmlns="{NC}"/>'))
    assert "c1" not in pool_names(a)
    partial_unlock(a, lock_c1)
    # and the end of the committing session does too
    c = d.connect()
    c.edit_config(target="candidate", config=cfg(pools(pool("c2", start="10.79.1.1", end="10.79.1.9"))))
    c.commit(confirmed=True, timeout="60")
    partial_lock(a, "/raven-vpn:pools/ipv4-pool[name='c2']")
    c.close_session()
    wait_until(lambda: "c2" not in pool_names(a), what="the rollback at the session's end")
    assert "rollback of the confirmed commit failed" not in d.log()
