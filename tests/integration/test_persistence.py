"""Persistence: running is saved in <state_dir> (running.xml and the journal of the
change sets after it) before the reply, a failed operation leaves those files
byte-for-byte as they were, the configuration (secrets
included) survives a clean restart and a SIGKILL in the middle of a stream of
commits, and the state files are private to ravend."""
import os
import stat
import threading
import time

import pytest
from lxml import etree
from ncclient.operations.rpc import RPCError

from conftest import NS, READER_PW, cfg
from nchelpers import (MASK, aaa, assert_unchanged, author_policy, canon_children, get_config, inline_source,
                       interface, pool, pool_cfg, pool_names, pools, radius, running_state, user)

REQUIRES = ("ncclient",)

@pytest.fixture
def ravend(make_ravend, ifns):
    """These tests commit dataplane interfaces (eth0, eth9): ravend runs in a
    namespace that has them (conftest.ifns), never attached to the host's."""
    return make_ravend(netns=ifns)



def file_pools(ravend):
    """The pools of running as a SIGKILL right now and a restart find them (the
    snapshot running.xml and the journal after it)."""
    ravend.kill9()
    ravend.start()
    return pool_names(ravend.connect())


def snapshot_pools(ravend):
    text = ravend.running_file().partition("RVJ1")[0]  # running.xml, without the journal
    root = etree.fromstring(f"<r>{text}</r>".encode())
    return sorted(root.xpath("//rv:pools/rv:ipv4-pool/rv:name/text()", namespaces={"rv": NS}))


def test_running_is_persisted_before_the_reply(ravend):
    m = ravend.connect()
    m.edit_config(target="running", config=pool_cfg("r1"))
    assert file_pools(ravend) == ["r1"]
    m = ravend.connect()
    m.edit_config(target="candidate", config=pool_cfg("c1"))
    m.commit()
    # a commit appends its change set to running.journal, not a new running.xml
    assert "c1" not in snapshot_pools(ravend)
    assert file_pools(ravend) == ["c1", "r1"]
    m = ravend.connect()
    m.edit_config(target="candidate", config=cfg(pools(pool("r1", start=None, op="delete"))))
    m.commit()
    assert file_pools(ravend) == ["c1"]
    # a clean stop folds the journal into running.xml
    ravend.stop()
    assert snapshot_pools(ravend) == ["c1"]
    assert not os.path.getsize(os.path.join(ravend.state_dir, "running.journal"))


def _locked_by_other(ravend, m):
    other = ravend.connect()
    other.lock("running")
    m.edit_config(target="candidate", config=pool_cfg("x"))
    m.commit()


FAILURES = {
    "edit-create-existing": lambda r, m: m.edit_config(target="running", config=cfg(pools(pool("base", op="create")))),
    "edit-invalid-value": lambda r, m: m.edit_config(target="running", config=pool_cfg("x", start="300.1.1.1")),
    "edit-dangling-leafref": lambda r, m: m.edit_config(target="running", config=cfg(author_policy("ap", "ghost"))),
    "commit-dangling-leafref": lambda r, m: (m.edit_config(target="candidate", config=cfg(author_policy("ap", "ghost"))),
                                             m.commit()),
    "commit-without-admin": lambda r, m: (m.edit_config(target="candidate", config=cfg(user("admin", op="delete"))),
                                          m.commit()),
    "commit-while-locked": _locked_by_other,
    "copy-invalid-to-running": lambda r, m: m.copy_config(
        source=inline_source(pools(pool("x")) + author_policy("ap", "ghost")), target="running"),
    "edit-test-only": lambda r, m: m.edit_config(target="running", config=pool_cfg("x"), test_option="test-only"),
}


@pytest.mark.parametrize("name", sorted(FAILURES))
def test_failed_operation_leaves_running_file_unchanged(ravend, name):
    m = ravend.connect()
    m.edit_config(target="running", config=pool_cfg("base"))
    before = running_state(ravend, m)
    mtime = os.stat(os.path.join(ravend.state_dir, "running.xml")).st_mtime_ns
    if name == "edit-test-only":
        FAILURES[name](ravend, m)  # succeeds, but must not write
    else:
        with pytest.raises(RPCError):
            FAILURES[name](ravend, m)
    assert_unchanged(ravend, m, before)
    assert os.stat(os.path.join(ravend.state_dir, "running.xml")).st_mtime_ns == mtime


def test_configuration_survives_a_clean_restart(ravend):
    m = ravend.connect()
    m.edit_config(target="candidate", config=cfg(pools(pool("p1")) + aaa(radius("r1", key="radius-key-9"))
                                                  + interface("eth0")))
    m.edit_config(target="candidate", config=cfg(user("reader", op="delete")))
    m.commit()
    before = get_config(m, "running")
    assert ravend.stop() == 0
    ravend.start()
    m = ravend.connect()
    assert canon_children(get_config(m, "running")) == canon_children(before)
    # the initial file seeds only the first start: the deleted user stays deleted
    with pytest.raises(Exception):
        ravend.connect(user="reader", password=READER_PW)
    # the secret itself was restored: writing the mask back keeps it
    m.edit_config(target="running", config=cfg(aaa(radius("r1", key=MASK))))
    assert "radius-key-9" in ravend.running_file()


def test_startup_survives_a_restart(ravend):
    m = ravend.connect()
    m.edit_config(target="running", config=pool_cfg("p1"))
    m.copy_config(source="running", target="startup")
    saved = canon_children(get_config(m, "startup"))
    ravend.stop()
    ravend.start()
    assert canon_children(get_config(ravend.connect(), "startup")) == saved


def test_sigkill_during_a_stream_of_commits_keeps_every_acknowledged_commit(ravend):
    writer = ravend.connect()
    writer.timeout = 5  # an RPC cut off by the kill must not wait for the default 30 s
    acked = []
    stop = threading.Event()

    def stream():
        i = 0
        while not stop.is_set():
            name = f"s{i}"
            try:
                writer.edit_config(target="candidate", config=pool_cfg(name, start=f"10.{i // 250}.{i % 250}.1",
                                                                       end=f"10.{i // 250}.{i % 250}.9"))
                writer.commit()
            except Exception:
                return
            acked.append(name)
            i += 1

    t = threading.Thread(target=stream, daemon=True)
    t.start()
    wait = time.time() + 10
    while len(acked) < 5 and time.time() < wait:
        time.sleep(0.05)
    time.sleep(0.3)
    ravend.kill9()
    stop.set()
    t.join(timeout=30)
    assert not t.is_alive()
    assert len(acked) >= 5, "the commit stream did not get going"
    ravend.start()
    m = ravend.connect()
    present = set(pool_names(m))
    missing = [n for n in acked if n not in present]
    assert not missing, f"acknowledged commits lost: {missing}; last acknowledged {acked[-1]}"


def test_state_files_are_private(make_ravend):
    r = make_ravend(seed_hostkey=False)
    m = r.connect()
    m.edit_config(target="running", config=cfg(aaa(radius("r1", key="k"))))
    m.copy_config(source="running", target="startup")
    assert stat.S_IMODE(os.stat(r.state_dir).st_mode) & 0o077 == 0
    for name in ("running.xml", "startup.xml", "ssh_host_rsa_key"):
        mode = stat.S_IMODE(os.stat(os.path.join(r.state_dir, name)).st_mode)
        assert mode & 0o077 == 0, f"{name} is readable by others: {oct(mode)}"


def test_generated_host_key_is_kept_across_restarts(make_ravend):
    r = make_ravend(seed_hostkey=False)
    key_file = os.path.join(r.state_dir, "ssh_host_rsa_key")
    with open(key_file, "rb") as f:
        key = f.read()
    fp1 = r.connect()._session._transport.get_remote_server_key().get_fingerprint()
    r.stop()
    r.start()
    fp2 = r.connect()._session._transport.get_remote_server_key().get_fingerprint()
    assert fp1 == fp2
    with open(key_file, "rb") as f:
        assert f.read() == key
