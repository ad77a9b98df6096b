"""Locks and sessions: lock and unlock per datastore, lock-denied for a second
session, kill-session (the victim is gone and its locks are free at once), and the
candidate lock whose holder's uncommitted changes are discarded when it goes away."""
import pytest
from ncclient.operations.errors import TimeoutExpiredError
from ncclient.transport.errors import TransportError

from nchelpers import error_info, expect_error, pool_cfg, pool_names, wait_until
from conftest import NC_NS

REQUIRES = ("ncclient",)


@pytest.mark.parametrize("ds", ["running", "candidate", "startup"])
def test_lock_unlock_per_datastore(ravend, ds):
    m1, m2 = ravend.connect(), ravend.connect()
    m1.lock(ds)
    e = expect_error(lambda: m2.lock(ds), "lock-denied")
    assert error_info(e).findtext(f"{{{NC_NS}}}session-id") == str(m1.session_id)
    # the other datastores stay free
    for other in {"running", "candidate", "startup"} - {ds}:
        m2.lock(other)
        m2.unlock(other)
    expect_error(lambda: m2.unlock(ds), "operation-failed")
    m1.unlock(ds)
    m2.lock(ds)
    m2.unlock(ds)


def test_unlock_of_unlocked_datastore_fails(ravend):
    m = ravend.connect()
    expect_error(lambda: m.unlock("running"), "operation-failed")


def test_lock_holder_can_edit_and_commit(ravend):
    m, other = ravend.connect(), ravend.connect()
    m.lock("running")
    m.lock("candidate")
    m.edit_config(target="candidate", config=pool_cfg("p1"))
    m.commit()
    m.edit_config(target="running", config=pool_cfg("p2"))
    assert pool_names(other) == ["p1", "p2"]
    expect_error(lambda: other.edit_config(target="running", config=pool_cfg("p3")), "in-use")


def _session_dead(m):
    try:
        m.get_config(source="running")
    except (TransportError, TimeoutExpiredError, OSError, EOFError):
        return True
    except Exception:
        return True
    return not m.connected


def test_kill_session_ends_the_victim_and_frees_its_locks(ravend):
    victim, killer = ravend.connect(), ravend.connect()
    victim.lock("running")
    victim.lock("startup")
    killer.kill_session(victim.session_id)
    # the locks are free immediately
    killer.lock("running")
    killer.lock("startup")
    assert wait_until(lambda: _session_dead(victim), timeout=5, what="the killed session to end")


def test_closing_the_candidate_lock_holder_discards_its_changes(ravend):
    holder, other = ravend.connect(), ravend.connect()
    holder.lock("candidate")
    holder.edit_config(target="candidate", config=pool_cfg("uncommitted"))
    assert pool_names(other, "candidate") == ["uncommitted"]
    holder.close_session()
    wait_until(lambda: pool_names(other, "candidate") == [], timeout=5, what="the candidate to be discarded")
    other.lock("candidate")  # free, and no longer dirty


def test_killing_the_candidate_lock_holder_discards_its_changes(ravend):
    holder, other = ravend.connect(), ravend.connect()
    holder.lock("candidate")
    holder.edit_config(target="candidate", config=pool_cfg("uncommitted"))
    other.kill_session(holder.session_id)
    assert pool_names(other, "candidate") == []
    other.lock("candidate")
    assert pool_names(other) == []


def test_session_without_lock_leaves_the_candidate_alone(ravend):
    """Only the candidate lock ties the changes to a session: a session that edited
    the candidate without locking it may go away, its changes stay for commit."""
    editor, other = ravend.connect(), ravend.connect()
    editor.edit_config(target="candidate", config=pool_cfg("shared"))
    editor.close_session()
    ravend.managers.remove(editor)
    other.commit()
    assert pool_names(other) == ["shared"]


def test_dirty_candidate_cannot_be_locked(ravend):
    m, other = ravend.connect(), ravend.connect()
    m.edit_config(target="candidate", config=pool_cfg("dirty"))
    for s in (m, other):
        expect_error(lambda: s.lock("candidate"), "lock-denied")
    other.discard_changes()
    m.lock("candidate")


def test_locks_of_a_dropped_connection_are_released(ravend):
    m, other = ravend.connect(), ravend.connect()
    m.lock("running")
    m._session.close()
    wait_until(lambda: _try_lock(other), timeout=5, what="the lock of the dropped session to be released")


def _try_lock(m):
    try:
        m.lock("running")
        return True
    except Exception:
        return False


def test_sessions_get_distinct_ids(ravend, keypair):
    ids = {ravend.connect().session_id for _ in range(3)} | {ravend.connect(key=keypair[0]).session_id}
    assert len(ids) == 4
