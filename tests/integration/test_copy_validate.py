"""copy-config between running, candidate and startup and from inline <config>,
delete-config, validate (a datastore or inline configuration) and discard-changes."""
import os

import pytest
from lxml import etree
from ncclient.operations.rpc import RPCError

from conftest import cfg
from nchelpers import (MASK, aaa, assert_unchanged, author_policy, canon_children, expect_error, get_config,
                       inline_config, inline_source, pool, pool_cfg, pool_names, pools, radius, running_state)

REQUIRES = ("ncclient",)


def startup_path(ravend):
    return os.path.join(ravend.state_dir, "startup.xml")


def config_body(m, source="running"):
    """The datastore as it reads (secrets masked), as XML text without <data>."""
    return "".join(etree.tostring(c, encoding="unicode") for c in get_config(m, source))


def test_copy_running_to_startup(ravend):
    m = ravend.connect()
    m.edit_config(target="running", config=pool_cfg("p1"))
    m.copy_config(source="running", target="startup")
    assert os.path.exists(startup_path(ravend))
    assert canon_children(get_config(m, "startup")) == canon_children(get_config(m, "running"))
    with open(startup_path(ravend)) as f:
        assert "<name>p1</name>" in f.read()


def test_copy_startup_to_candidate_then_commit(ravend):
    m = ravend.connect()
    m.edit_config(target="running", config=pool_cfg("saved"))
    m.copy_config(source="running", target="startup")
    m.edit_config(target="running", config=cfg(pools(pool("saved", start=None, op="delete"), pool("later"))))
    assert pool_names(m) == ["later"]
    m.copy_config(source="startup", target="candidate")
    assert pool_names(m, "candidate") == ["saved"]
    assert canon_children(get_config(m, "candidate")) == canon_children(get_config(m, "startup"))
    m.commit()
    assert pool_names(m) == ["saved"]
    assert canon_children(get_config(m, "running")) == canon_children(get_config(m, "startup"))


def test_copy_inline_config_to_candidate_replaces_it(ravend):
    m = ravend.connect()
    m.edit_config(target="running", config=cfg(pools(pool("old1"), pool("old2"))))
    body = config_body(m)
    body = body.replace("<name>old1</name>", "<name>new1</name>")
    m.copy_config(source=inline_source(body), target="candidate")
    assert pool_names(m, "candidate") == ["new1", "old2"]
    assert pool_names(m) == ["old1", "old2"]
    m.commit()
    assert pool_names(m) == ["new1", "old2"]


def test_copy_of_an_empty_inline_config_empties_the_candidate(ravend):
    """<source><config/></source> is an empty configuration, never another datastore."""
    m = ravend.connect()
    m.edit_config(target="running", config=pool_cfg("kept"))
    m.copy_config(source="running", target="startup")
    m.copy_config(source=inline_source(""), target="candidate")
    assert pool_names(m, "candidate") == []
    assert get_config(m, "candidate") is None or len(get_config(m, "candidate")) == 0
    # committing it would remove the management users and endpoints: refused, nothing changes
    before = running_state(ravend, m)
    with pytest.raises(RPCError):
        m.commit()
    assert_unchanged(ravend, m, before)
    m.discard_changes()
    assert pool_names(m, "candidate") == ["kept"]


def test_copy_inline_config_with_unresolvable_mask_is_refused(ravend):
    m = ravend.connect()
    body = config_body(m) + aaa(radius("r-new", key=MASK))
    expect_error(lambda: m.copy_config(source=inline_source(body), target="candidate"),
                 "invalid-value", path_contains="radius-server[name='r-new']/key")
    assert get_config(m, "candidate").xpath("count(//*[local-name()='radius-server'])") == 0


def test_copy_to_startup_validates(ravend):
    m = ravend.connect()
    body = config_body(m) + author_policy("ap1", pool_ref="ghost")
    with pytest.raises(RPCError):
        m.copy_config(source=inline_source(body), target="startup")
    assert not os.path.exists(startup_path(ravend))


def test_copy_of_a_datastore_onto_itself_is_refused(ravend):
    m = ravend.connect()
    before = running_state(ravend, m)
    with pytest.raises(RPCError):
        m.copy_config(source="running", target="running")
    assert_unchanged(ravend, m, before)


def test_copy_running_to_candidate_cleans_the_candidate(ravend):
    m = ravend.connect()
    m.edit_config(target="candidate", config=pool_cfg("draft"))
    m.copy_config(source="running", target="candidate")
    assert pool_names(m, "candidate") == []
    m.lock("candidate")


def test_delete_config_startup(ravend):
    m = ravend.connect()
    m.copy_config(source="running", target="startup")
    assert os.path.exists(startup_path(ravend))
    m.delete_config("startup")
    assert not os.path.exists(startup_path(ravend))
    with pytest.raises(RPCError):
        m.get_config(source="startup")


@pytest.mark.parametrize("ds", ["running", "candidate"])
def test_delete_config_of_running_or_candidate_is_refused(ravend, ds):
    m = ravend.connect()
    m.edit_config(target="running", config=pool_cfg("keep"))
    before = running_state(ravend, m)
    with pytest.raises(RPCError) as ei:
        m.delete_config(ds)
    assert ei.value.message
    assert_unchanged(ravend, m, before)
    assert pool_names(m, "candidate") == ["keep"]


def test_validate_candidate(ravend):
    m = ravend.connect()
    m.validate("candidate")
    m.edit_config(target="candidate", config=pool_cfg("p1"))
    m.validate("candidate")
    m.edit_config(target="candidate", config=cfg(author_policy("ap1", pool_ref="ghost")))
    expect_error(lambda: m.validate("candidate"), "data-missing", path_contains="authorization-policy[name='ap1']")
    # validate changes nothing: the candidate keeps its edits, running is untouched
    assert pool_names(m, "candidate") == ["p1"]
    assert pool_names(m) == []


def test_validate_running(ravend):
    m = ravend.connect()
    m.validate("running")


def test_validate_inline_config(ravend):
    m = ravend.connect()
    before = running_state(ravend, m)
    m.validate(source=inline_config(pools(pool("p1"))))
    expect_error(lambda: m.validate(source=inline_config(author_policy("ap1", pool_ref="ghost"))),
                 "data-missing", path_contains="authorization-policy[name='ap1']")
    expect_error(lambda: m.validate(source=inline_config(
        pools(pool("p1")) + '<ikev2 xmlns="urn:raven:params:xml:ns:yang:raven-vpn"><global><window-size>0</window-size></global></ikev2>')),
        "invalid-value")
    assert_unchanged(ravend, m, before)
    assert pool_names(m, "candidate") == []


def test_discard_changes(ravend):
    m = ravend.connect()
    m.edit_config(target="running", config=pool_cfg("committed"))
    m.edit_config(target="candidate", config=cfg(pools(pool("draft"), pool("committed", start=None, op="delete"))))
    assert pool_names(m, "candidate") == ["draft"]
    m.discard_changes()
    assert pool_names(m, "candidate") == ["committed"]
    assert canon_children(get_config(m, "candidate")) == canon_children(get_config(m, "running"))
    m.lock("candidate")  # clean again
