"""The management subtree is live: users and NETCONF endpoints change when a commit
is applied. A change that would leave no admin user, or an endpoint that cannot
listen, is refused with nothing changed; new endpoints listen at once; new users log
in at once and removed users cannot."""
import socket

import pytest
from ncclient.transport.errors import AuthenticationError

from conftest import ADMIN_PW, NS, READER_PW, cfg, crypt_hash, free_port
from nchelpers import (assert_unchanged, endpoint, expect_error, get_config, inline_source, pool, pool_cfg,
                       pool_names, pools, port_accepts, running_state, texts, top, user, wait_until)

REQUIRES = ("ncclient",)

NO_ADMIN_EDITS = {
    "delete-admin": user("admin", op="delete"),
    "demote-admin": user("admin", role="read-only"),
    "admin-without-credentials": top("management", '<user><name>admin</name>'
                                                   '<password-hash nc:operation="delete">********</password-hash>'
                                                   '<authorized-key nc:operation="remove">'
                                                   'ssh-ed25519 placeholder</authorized-key></user>'),
    "delete-all-users": top("management", '<user nc:operation="delete"><name>reader</name></user>'
                                          '<user nc:operation="delete"><name>admin</name></user>'),
}


@pytest.mark.parametrize("name", sorted(NO_ADMIN_EDITS))
def test_commit_leaving_no_admin_is_refused(ravend, keypair, name):
    m = ravend.connect()
    before = running_state(ravend, m)
    edit = NO_ADMIN_EDITS[name].replace("ssh-ed25519 placeholder", keypair[1])
    m.edit_config(target="candidate", config=cfg(edit))
    expect_error(m.validate, "operation-failed", path_contains="/raven-vpn:management")
    expect_error(m.commit, "operation-failed", path_contains="/raven-vpn:management")
    assert_unchanged(ravend, m, before)
    ravend.connect(password=ADMIN_PW).close_session()
    ravend.connect(key=keypair[0]).close_session()


def test_edit_of_running_leaving_no_admin_is_refused(ravend):
    m = ravend.connect()
    before = running_state(ravend, m)
    expect_error(lambda: m.edit_config(target="running", config=cfg(user("admin", op="delete"))),
                 "operation-failed", path_contains="/raven-vpn:management")
    assert_unchanged(ravend, m, before)
    ravend.connect().close_session()


def test_copying_a_config_without_management_is_refused_at_commit(ravend):
    m = ravend.connect()
    before = running_state(ravend, m)
    m.copy_config(source=inline_source(pools(pool("p1"))), target="candidate")
    expect_error(m.commit, "operation-failed", path_contains="/raven-vpn:management")
    assert_unchanged(ravend, m, before)
    with pytest.raises(Exception):
        m.copy_config(source=inline_source(pools(pool("p1"))), target="running")
    assert_unchanged(ravend, m, before)


@pytest.fixture
def busy_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    yield s.getsockname()[1]
    s.close()


def test_endpoint_on_a_busy_port_is_resource_denied(ravend, busy_port):
    m = ravend.connect()
    before = running_state(ravend, m)
    m.edit_config(target="candidate", config=cfg(endpoint("extra", busy_port)))
    expect_error(m.commit, "resource-denied", path_contains="endpoint[name='extra']")
    assert_unchanged(ravend, m, before)
    expect_error(lambda: m.validate("candidate"), "resource-denied", path_contains="endpoint[name='extra']")
    m.discard_changes()
    expect_error(lambda: m.edit_config(target="running", config=cfg(endpoint("extra", busy_port))),
                 "resource-denied", path_contains="endpoint[name='extra']")
    assert_unchanged(ravend, m, before)


def test_endpoint_moved_to_a_busy_port_is_refused_and_keeps_listening(ravend, busy_port):
    m = ravend.connect()
    before = running_state(ravend, m)
    expect_error(lambda: m.edit_config(target="running", config=cfg(endpoint("test", busy_port))),
                 "resource-denied", path_contains="endpoint[name='test']")
    assert_unchanged(ravend, m, before)
    ravend.connect().close_session()


def test_new_endpoint_listens_at_once_and_stops_when_removed(ravend):
    m = ravend.connect()
    port = free_port()
    m.edit_config(target="candidate", config=cfg(endpoint("extra", port)))
    m.commit()
    s = ravend.connect(port=port)
    assert pool_names(s) == []
    s.edit_config(target="running", config=pool_cfg("via-extra"))
    assert pool_names(m) == ["via-extra"]
    s.close_session()
    ravend.managers.remove(s)
    m.edit_config(target="candidate", config=cfg(endpoint("extra", port, op="delete")))
    m.commit()
    wait_until(lambda: not port_accepts(port), timeout=5, what="the removed endpoint to stop listening")
    assert port_accepts(ravend.port)


def test_endpoint_port_change_moves_the_listener(ravend):
    m = ravend.connect()
    p1, p2 = free_port(), free_port()
    m.edit_config(target="running", config=cfg(endpoint("extra", p1)))
    assert port_accepts(p1)
    m.edit_config(target="running", config=cfg(endpoint("extra", p2)))
    ravend.connect(port=p2).close_session()
    wait_until(lambda: not port_accepts(p1), timeout=5, what="the old port to close")


def test_user_added_by_commit_logs_in_at_once(ravend, keypair):
    m = ravend.connect()
    m.edit_config(target="candidate", config=cfg(user("ops", pw_hash=crypt_hash("ops-pw-1"), role="admin")
                                                  .replace("</management>", "")
                                                  + '<user><name>viewer</name><authorized-key>'
                                                  + keypair[1] + '</authorized-key></user></management>'))
    m.commit()
    ops = ravend.connect(user="ops", password="ops-pw-1")
    ops.edit_config(target="running", config=pool_cfg("by-ops"))
    viewer = ravend.connect(user="viewer", key=keypair[0])
    assert pool_names(viewer) == ["by-ops"]
    expect_error(lambda: viewer.edit_config(target="candidate", config=pool_cfg("x")), "access-denied")
    with pytest.raises(AuthenticationError):
        ravend.connect(user="ops", password="wrong-pw")


def test_removed_user_cannot_log_in(ravend):
    m = ravend.connect()
    open_session = ravend.connect(user="reader", password=READER_PW)
    m.edit_config(target="candidate", config=cfg(user("reader", op="delete")))
    m.commit()
    with pytest.raises(AuthenticationError):
        ravend.connect(user="reader", password=READER_PW)
    # a session that was open when the user was removed can do nothing more
    expect_error(lambda: open_session.get_config(source="running"), "access-denied")


def test_password_change_applies_at_once(ravend):
    m = ravend.connect()
    m.edit_config(target="running", config=cfg(user("reader", pw_hash=crypt_hash("reader-secret-2"))))
    with pytest.raises(AuthenticationError):
        ravend.connect(user="reader", password=READER_PW)
    ravend.connect(user="reader", password="reader-secret-2").close_session()


def test_role_change_applies_to_open_sessions(ravend):
    m = ravend.connect()
    r = ravend.connect(user="reader", password=READER_PW)
    expect_error(lambda: r.edit_config(target="running", config=pool_cfg("x")), "access-denied")
    m.edit_config(target="running", config=cfg(user("reader", role="admin")))
    r.edit_config(target="running", config=pool_cfg("by-reader"))
    assert pool_names(m) == ["by-reader"]


def test_management_settings_read_back(ravend):
    m = ravend.connect()
    data = get_config(m, "running", ("subtree", f'<management xmlns="{NS}"/>'))
    assert texts(data, "management/netconf/endpoint/port") == [str(ravend.port)]
    assert sorted(texts(data, "management/user/role")) == ["admin", "read-only"]


def test_commit_of_an_older_candidate_applies_every_difference(ravend):
    """The candidate holds edits made before running was changed directly. The commit
    sets running to the candidate (RFC 6241 8.3.4.1), so the direct changes are gone
    from running, and the live state must follow: the endpoint and the user that were
    added directly stop working."""
    m = ravend.connect()
    m.edit_config(target="candidate", config=pool_cfg("p1"))
    port = free_port()
    m.edit_config(target="running", config=cfg(endpoint("extra", port)))
    m.edit_config(target="running", config=cfg(user("ops", pw_hash=crypt_hash("ops-pw-1"), role="admin")))
    assert port_accepts(port)
    ops = ravend.connect(user="ops", password="ops-pw-1")
    m.commit()
    data = get_config(m, "running")
    assert texts(data, "management/netconf/endpoint/name") == ["test"]
    assert "ops" not in texts(data, "management/user/name")
    assert pool_names(m) == ["p1"]
    wait_until(lambda: not port_accepts(port), timeout=5, what="the endpoint no longer in running to stop listening")
    with pytest.raises(AuthenticationError):
        ravend.connect(user="ops", password="ops-pw-1")
    expect_error(lambda: ops.get_config(source="running"), "access-denied")
