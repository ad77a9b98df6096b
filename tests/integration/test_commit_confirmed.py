"""Confirmed commit (RFC 6241 section 8.4, :confirmed-commit:1.1): rollback when the
timeout expires, confirmation by the same session or by persist-id from any session,
cancel-commit, rollback when the owning session goes away, follow-up confirmed
commits, and the pending state across a restart of ravend."""
import time

import pytest
from ncclient.transport.errors import AuthenticationError

from conftest import cfg, crypt_hash, free_port
from nchelpers import endpoint, expect_error, pool_cfg, pool_names, port_accepts, user, wait_until

REQUIRES = ("ncclient",)

CAP = "urn:ietf:params:netconf:capability:confirmed-commit:1.1"


def _confirmed(m, name="cc1", **kw):
    m.edit_config(target="candidate", config=pool_cfg(name))
    m.commit(confirmed=True, **kw)


def _gone(ravend, m, name="cc1", timeout=8.0):
    wait_until(lambda: name not in pool_names(m), timeout=timeout, what=f"rollback of {name}")
    assert f"<name>{name}</name>" not in ravend.running_file()


def test_capability_is_advertised(ravend):
    assert CAP in ravend.connect().server_capabilities


def test_rolls_back_when_not_confirmed(ravend):
    m = ravend.connect()
    t0 = time.time()
    _confirmed(m, timeout="2")
    assert pool_names(m) == ["cc1"]
    assert "<name>cc1</name>" in ravend.running_file()
    _gone(ravend, m)
    assert time.time() - t0 >= 1.5, "rolled back before its timeout"
    assert pool_names(m, "candidate") == []


def test_plain_commit_from_the_same_session_confirms(ravend):
    m = ravend.connect()
    _confirmed(m, timeout="2")
    m.commit()
    time.sleep(3)
    assert pool_names(m) == ["cc1"]
    assert "<name>cc1</name>" in ravend.running_file()


def test_other_session_cannot_confirm_without_persist(ravend):
    m, other = ravend.connect(), ravend.connect()
    _confirmed(m, timeout="2")
    expect_error(other.commit, "in-use")
    expect_error(lambda: other.commit(persist_id="anything"), "invalid-value")
    _gone(ravend, m)


def test_persist_lets_any_session_confirm(ravend):
    m, other = ravend.connect(), ravend.connect()
    _confirmed(m, timeout="2", persist="tok-1")
    # a confirming commit must give the token, even from the same session
    expect_error(m.commit, "invalid-value")
    expect_error(lambda: other.commit(persist_id="wrong"), "invalid-value")
    other.commit(persist_id="tok-1")
    time.sleep(3)
    assert pool_names(m) == ["cc1"]


def test_cancel_commit_with_persist_id_rolls_back_at_once(ravend):
    m, other = ravend.connect(), ravend.connect()
    _confirmed(m, timeout="60", persist="tok-2")
    expect_error(lambda: other.cancel_commit(persist_id="wrong"), "invalid-value")
    other.cancel_commit(persist_id="tok-2")
    assert pool_names(m) == []
    assert "<name>cc1</name>" not in ravend.running_file()
    # nothing is pending any more
    expect_error(lambda: m.cancel_commit(persist_id="tok-2"), "operation-failed")


def test_cancel_commit_by_the_owning_session(ravend):
    m, other = ravend.connect(), ravend.connect()
    _confirmed(m, timeout="60")
    expect_error(other.cancel_commit, "in-use")
    assert pool_names(m) == ["cc1"]
    m.cancel_commit()
    assert pool_names(m) == []


@pytest.mark.parametrize("how", ["close-session", "kill-session", "connection-drop"])
def test_owner_going_away_rolls_back_at_once(ravend, how):
    owner, watcher = ravend.connect(), ravend.connect()
    _confirmed(owner, timeout="60")
    assert pool_names(watcher) == ["cc1"]
    if how == "close-session":
        owner.close_session()
    elif how == "kill-session":
        watcher.kill_session(owner.session_id)
    else:
        owner._session.close()
    _gone(ravend, watcher, timeout=5)


def test_owner_going_away_keeps_a_persist_commit_pending(ravend):
    owner, watcher = ravend.connect(), ravend.connect()
    _confirmed(owner, timeout="60", persist="tok-3")
    owner.close_session()
    time.sleep(1.5)
    assert pool_names(watcher) == ["cc1"]
    watcher.commit(persist_id="tok-3")
    assert pool_names(watcher) == ["cc1"]


def test_follow_up_confirmed_commit_extends_and_keeps_the_first_rollback_point(ravend):
    m = ravend.connect()
    m.edit_config(target="running", config=pool_cfg("base"))
    _confirmed(m, "cc1", timeout="2")
    _confirmed(m, "cc2", timeout="60")
    time.sleep(3)
    assert pool_names(m) == ["base", "cc1", "cc2"], "the follow-up commit did not replace the timeout"
    m.cancel_commit()
    assert pool_names(m) == ["base"]


def test_persist_survives_a_restart_and_can_be_confirmed(ravend):
    m = ravend.connect()
    _confirmed(m, timeout="60", persist="tok-r1")
    ravend.stop()
    ravend.start()
    m = ravend.connect()
    assert pool_names(m) == ["cc1"]
    m.commit(persist_id="tok-r1")
    expect_error(lambda: m.cancel_commit(persist_id="tok-r1"), "operation-failed")
    assert pool_names(m) == ["cc1"]


def test_persist_times_out_while_the_daemon_is_down(ravend):
    m = ravend.connect()
    t0 = time.time()
    _confirmed(m, timeout="2", persist="tok-r2")
    ravend.stop()
    time.sleep(max(0, t0 + 3 - time.time()))
    ravend.start()
    m = ravend.connect()
    _gone(ravend, m, timeout=5)


def test_persist_timeout_keeps_running_across_a_restart(ravend):
    m = ravend.connect()
    t0 = time.time()
    _confirmed(m, timeout="4", persist="tok-r3")
    ravend.kill9()
    ravend.start()
    m = ravend.connect()
    if time.time() - t0 < 3:
        assert pool_names(m) == ["cc1"]
    _gone(ravend, m, timeout=8)
    assert time.time() - t0 >= 2.5  # the pending deadline is kept in whole seconds


def test_restart_rolls_back_a_commit_without_persist(ravend):
    m = ravend.connect()
    _confirmed(m, timeout="60")
    ravend.kill9()  # the owning session cannot end cleanly: the restart decides
    ravend.start()
    m = ravend.connect()
    assert pool_names(m) == []
    assert "<name>cc1</name>" not in ravend.running_file()
    expect_error(m.cancel_commit, "operation-failed")


def test_rollback_undoes_management_changes(ravend):
    """What a confirmed commit is for: a management change that is not confirmed
    goes away with everything it started."""
    m = ravend.connect()
    port = free_port()
    m.edit_config(target="candidate", config=cfg(endpoint("extra", port)))
    m.edit_config(target="candidate", config=cfg(user("ops", pw_hash=crypt_hash("ops-pw-1"), role="admin")))
    # long enough for the checks below on a loaded machine (an SSH login under
    # ASan), short enough to wait for
    m.commit(confirmed=True, timeout="6")
    assert port_accepts(port)
    ravend.connect(user="ops", password="ops-pw-1").close_session()
    wait_until(lambda: not port_accepts(port), timeout=14, what="the rolled-back endpoint to stop listening")
    with pytest.raises(AuthenticationError):
        ravend.connect(user="ops", password="ops-pw-1")


def test_move_the_endpoint_and_confirm_from_the_new_port(ravend):
    m = ravend.connect()
    old, new = ravend.port, free_port()
    m.edit_config(target="candidate", config=cfg(endpoint("test", new)))
    m.commit(confirmed=True, timeout="30", persist="move")
    s = ravend.connect(port=new)
    s.commit(persist_id="move")
    ravend.port = new
    wait_until(lambda: not port_accepts(old), timeout=5, what="the old port to close")
    time.sleep(0.5)
    assert port_accepts(new)
    expect_error(lambda: s.cancel_commit(persist_id="move"), "operation-failed")
