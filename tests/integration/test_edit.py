"""edit-config on the candidate and running datastores: the merge, replace, create,
delete and remove operations, default-operation, the error options (stop, rollback,
continue) and test-only, the split between per-edit schema checks on the candidate
and whole-tree validation at commit, and the order of ordered-by-user entries."""
import pytest
from ncclient.operations.rpc import RPCError

from conftest import cfg
from nchelpers import (RT_NS, aaa, assert_unchanged, author_policy, canon_children, expect_error, find_all, get_config,
                       interface, pool, pool_cfg, pool_names, pools, radius, rpc_errors, running_state, subtree,
                       texts, top)

REQUIRES = ("ncclient",)

@pytest.fixture
def ravend(make_ravend, ifns):
    """These tests commit dataplane interfaces (eth0, eth9): ravend runs in a
    namespace that has them (conftest.ifns), never attached to the host's."""
    return make_ravend(netns=ifns)



def range_of(m, name, source="running"):
    data = get_config(m, source, subtree("pools", f"<ipv4-pool><name>{name}</name></ipv4-pool>"))
    return [(r.findtext("{*}start"), r.findtext("{*}end")) for r in find_all(data, "pools/ipv4-pool/range")]


def test_merge_creates_then_changes_a_leaf(ravend):
    m = ravend.connect()
    m.edit_config(target="candidate", config=pool_cfg("p1", end="10.1.0.9"))
    m.commit()
    assert range_of(m, "p1") == [("10.1.0.1", "10.1.0.9")]
    m.edit_config(target="candidate", config=pool_cfg("p1", end="10.1.0.20", netmask="255.255.255.0"))
    m.commit()
    assert range_of(m, "p1") == [("10.1.0.1", "10.1.0.20")]
    data = get_config(m, "running", subtree("pools"))
    assert texts(data, "pools/ipv4-pool/netmask") == ["255.255.255.0"]


def test_merge_adds_list_entries_next_to_existing_ones(ravend):
    m = ravend.connect()
    m.edit_config(target="candidate", config=pool_cfg("p1"))
    m.edit_config(target="candidate", config=pool_cfg("p1", start="10.9.0.1", end="10.9.0.5"))
    m.commit()
    assert sorted(range_of(m, "p1")) == [("10.1.0.1", "10.1.0.9"), ("10.9.0.1", "10.9.0.5")]


def test_replace_swaps_the_whole_subtree(ravend):
    m = ravend.connect()
    m.edit_config(target="candidate", config=pool_cfg("p1", netmask="255.255.0.0"))
    m.commit()
    m.edit_config(target="candidate",
                  config=cfg(pools(pool("p1", start="10.2.0.1", end="10.2.0.3", op="replace"))))
    m.commit()
    assert range_of(m, "p1") == [("10.2.0.1", "10.2.0.3")]
    assert texts(get_config(m, "running", subtree("pools")), "pools/ipv4-pool/netmask") == []


def test_create_adds_a_new_entry(ravend):
    m = ravend.connect()
    m.edit_config(target="candidate", config=cfg(pools(pool("p1", op="create"))))
    m.commit()
    assert pool_names(m) == ["p1"]


def test_delete_removes_and_remove_tolerates_absence(ravend):
    m = ravend.connect()
    m.edit_config(target="candidate", config=cfg(pools(pool("p1"), pool("p2"))))
    m.commit()
    m.edit_config(target="candidate", config=cfg(pools(pool("p1", start=None, op="delete"))))
    m.commit()
    assert pool_names(m) == ["p2"]
    # remove of something absent is not an error and changes nothing
    m.edit_config(target="candidate", config=cfg(pools(pool("p1", start=None, op="remove"))))
    m.edit_config(target="candidate", config=cfg(pools(pool("p2", start=None, op="remove"))))
    m.commit()
    assert pool_names(m) == []


def test_delete_of_a_single_leaf(ravend):
    m = ravend.connect()
    m.edit_config(target="running", config=pool_cfg("p1", netmask="255.255.255.0"))
    m.edit_config(target="running", config=cfg(pools(
        '<ipv4-pool><name>p1</name><netmask nc:operation="delete">255.255.255.0</netmask></ipv4-pool>')))
    data = get_config(m, "running", subtree("pools"))
    assert texts(data, "pools/ipv4-pool/name") == ["p1"]
    assert texts(data, "pools/ipv4-pool/netmask") == []


def test_delete_of_a_leaf_given_as_an_empty_element(ravend):
    """A leaf to delete is identified by its name; clients commonly send it empty
    (<netmask nc:operation="delete"/>), whatever the leaf's type."""
    m = ravend.connect()
    m.edit_config(target="running", config=pool_cfg("p1", netmask="255.255.255.0"))
    m.edit_config(target="running", config=cfg(pools(
        '<ipv4-pool><name>p1</name><netmask nc:operation="delete"/></ipv4-pool>')))
    assert texts(get_config(m, "running", subtree("pools")), "pools/ipv4-pool/netmask") == []
    m.edit_config(target="running", config=cfg(pools(
        '<ipv4-pool><name>p1</name><netmask nc:operation="remove"/></ipv4-pool>')))


def test_default_operation_none_changes_only_marked_nodes(ravend):
    m = ravend.connect()
    m.edit_config(target="running", config=pool_cfg("p1", end="10.1.0.9"))
    edit = cfg(pools('<ipv4-pool><name>p1</name>'
                     '<range><start>10.1.0.1</start><end>10.1.0.99</end></range>'
                     '<netmask nc:operation="merge">255.255.255.0</netmask></ipv4-pool>'))
    m.edit_config(target="running", config=edit, default_operation="none")
    assert range_of(m, "p1") == [("10.1.0.1", "10.1.0.9")], "unmarked leaf was changed under default-operation none"
    assert texts(get_config(m, "running", subtree("pools")), "pools/ipv4-pool/netmask") == ["255.255.255.0"]


def test_default_operation_replace_replaces_the_given_top_level_subtree(ravend):
    m = ravend.connect()
    m.edit_config(target="running", config=cfg(pools(pool("p1"), pool("p2"))))
    m.edit_config(target="running", config=cfg(pools(pool("p3"))), default_operation="replace")
    assert pool_names(m) == ["p3"]
    # the other top-level subtrees (management) were not part of the edit
    users = texts(get_config(m, "running", subtree("management")), "management/user/name")
    assert sorted(users) == ["admin", "reader"]
    ravend.connect().close_session()


def test_edit_of_running_is_applied_and_persisted(ravend):
    m = ravend.connect()
    m.edit_config(target="running", config=pool_cfg("direct1"))
    assert pool_names(m) == ["direct1"]
    assert "<name>direct1</name>" in ravend.running_file()
    # a clean candidate is running
    assert pool_names(m, "candidate") == ["direct1"]


def test_candidate_edit_is_invisible_in_running_until_commit(ravend):
    m = ravend.connect()
    m.edit_config(target="candidate", config=pool_cfg("c1"))
    assert pool_names(m, "candidate") == ["c1"]
    assert pool_names(m, "running") == []
    assert "<name>c1</name>" not in ravend.running_file()
    m.commit()
    assert pool_names(m, "running") == ["c1"]


def _three_edits():
    """Good, failing (delete of a missing list entry), good: three top-level edits."""
    return cfg(pools(pool("p2", op="create"))
               + top("access-lists", '<access-list nc:operation="delete"><name>nope</name></access-list>')
               + interface("eth9", op="create"))


@pytest.mark.parametrize("error_option", [None, "stop-on-error", "rollback-on-error"])
def test_failed_edit_of_running_leaves_it_unchanged(ravend, error_option):
    m = ravend.connect()
    before = running_state(ravend, m)
    expect_error(lambda: m.edit_config(target="running", config=_three_edits(), error_option=error_option),
                 "data-missing", path_contains="access-list[name='nope']")
    assert_unchanged(ravend, m, before)


@pytest.mark.parametrize("error_option", [None, "stop-on-error", "rollback-on-error"])
def test_failed_edit_of_candidate_leaves_it_unchanged(ravend, error_option):
    m = ravend.connect()
    m.edit_config(target="candidate", config=pool_cfg("p1"))
    before = get_config(m, "candidate")
    expect_error(lambda: m.edit_config(target="candidate", config=_three_edits(), error_option=error_option),
                 "data-missing", path_contains="access-list[name='nope']")
    after = get_config(m, "candidate")
    assert pool_names(m, "candidate") == ["p1"]
    assert texts(after, "dataplane/interface/name") == []
    # nothing else either, not even an empty container left by the undone edit
    assert canon_children(after) == canon_children(before)


@pytest.mark.parametrize("target", ["running", "candidate"])
def test_continue_on_error_keeps_the_good_top_level_edits(ravend, target):
    m = ravend.connect()
    expect_error(lambda: m.edit_config(target=target, config=_three_edits(), error_option="continue-on-error"),
                 "data-missing", path_contains="access-list[name='nope']")
    data = get_config(m, target)
    assert texts(data, "pools/ipv4-pool/name") == ["p2"]
    assert texts(data, "dataplane/interface/name") == ["eth9"]
    assert texts(data, "access-lists/access-list/name") == []
    assert not find_all(data, "access-lists"), "the failed top-level edit left an empty <access-lists/>"
    if target == "running":
        assert "eth9" in ravend.running_file() and "<name>p2</name>" in ravend.running_file()


def test_test_only_on_running_validates_and_changes_nothing(ravend):
    m = ravend.connect()
    before = running_state(ravend, m)
    m.edit_config(target="running", config=pool_cfg("t1"), test_option="test-only")
    assert_unchanged(ravend, m, before)
    # and it does validate: a reference to a missing pool is refused
    expect_error(lambda: m.edit_config(target="running", config=cfg(author_policy("ap1", pool_ref="nope")),
                                       test_option="test-only"),
                 "data-missing", path_contains="authorization-policy[name='ap1']")
    assert_unchanged(ravend, m, before)


def test_test_only_on_candidate_changes_nothing(ravend):
    m = ravend.connect()
    m.edit_config(target="candidate", config=pool_cfg("t1"), test_option="test-only")
    assert pool_names(m, "candidate") == []
    m.lock("candidate")  # a candidate with changes could not be locked
    m.unlock("candidate")
    expect_error(lambda: m.edit_config(target="candidate", config=cfg(author_policy("ap1", pool_ref="nope")),
                                       test_option="test-only"),
                 "data-missing")


def test_candidate_accepts_incomplete_config_until_commit(ravend):
    """Edits are checked against the schema when made; references and mandatory
    nodes are checked for the whole tree at commit."""
    m = ravend.connect()
    before = running_state(ravend, m)
    m.edit_config(target="candidate", config=cfg(author_policy("ap1", pool_ref="later")))
    expect_error(m.commit, "data-missing", path_contains="authorization-policy[name='ap1']")
    assert_unchanged(ravend, m, before)
    # the candidate kept the edit: completing it makes the commit pass
    m.edit_config(target="candidate", config=pool_cfg("later"))
    m.commit()
    data = get_config(m, "running", subtree("ikev2"))
    assert texts(data, "ikev2/authorization-policy/pool") == ["later"]


def test_commit_refuses_missing_mandatory_leaf(ravend):
    m = ravend.connect()
    before = running_state(ravend, m)
    m.edit_config(target="candidate", config=cfg(aaa(radius("r1", key=None))))
    with pytest.raises(RPCError) as ei:
        m.commit()
    assert_unchanged(ravend, m, before)
    # the error names the instance that lacks its key leaf, not just the schema node
    paths = [e.path or "" for e in rpc_errors(ei.value)]
    assert any("radius-server[name='r1']" in p for p in paths), paths


def test_edit_running_with_out_of_range_value_is_refused(ravend):
    m = ravend.connect()
    before = running_state(ravend, m)
    expect_error(lambda: m.edit_config(target="running", config=cfg(aaa(radius("r1", key="k", extra="<timeout>5000</timeout>")))),
                 "invalid-value", path_contains="timeout")
    assert_unchanged(ravend, m, before)


YANG_NS = "urn:ietf:params:xml:ns:yang:1"
TRANSFORM_SETS = "".join(
    f'<transform-set><name>t{i}</name><esp-encryption xmlns:rt="{RT_NS}">rt:aes-gcm-16-256</esp-encryption>'
    f'</transform-set>' for i in range(6))


def _profile_order(m, source="running"):
    data = get_config(m, source, subtree("ipsec"))
    return texts(data, "ipsec/profile/transform-set")


def _profile(*sets, attrs=""):
    return top("ipsec", f'<profile xmlns:yang="{YANG_NS}"><name>pr</name>'
                        + "".join(f"<transform-set{attrs}>{t}</transform-set>" for t in sets) + "</profile>")


def test_ordered_by_user_leaf_list_keeps_the_order_written(ravend):
    m = ravend.connect()
    m.edit_config(target="candidate", config=cfg(top("ipsec", TRANSFORM_SETS) + _profile("t3", "t1", "t2")))
    m.commit()
    assert _profile_order(m) == ["t3", "t1", "t2"]
    m.edit_config(target="running", config=cfg(_profile("t4")))
    assert _profile_order(m) == ["t3", "t1", "t2", "t4"]
    m.edit_config(target="running", config=cfg(top("ipsec", '<profile nc:operation="replace"><name>pr</name>'
                                                            '<transform-set>t2</transform-set>'
                                                            '<transform-set>t0</transform-set></profile>')))
    assert _profile_order(m) == ["t2", "t0"]


def test_insert_attribute_positions_ordered_by_user_entries(ravend):
    """RFC 7950 section 7.7.9: yang:insert (first, last, before, after) with
    yang:value places a new entry of an ordered-by-user leaf-list."""
    m = ravend.connect()
    m.edit_config(target="running", config=cfg(top("ipsec", TRANSFORM_SETS) + _profile("t1", "t2")))
    m.edit_config(target="running", config=cfg(_profile("t0", attrs=' yang:insert="first"')))
    assert _profile_order(m) == ["t0", "t1", "t2"]
    m.edit_config(target="running", config=cfg(_profile("t5", attrs=' yang:insert="after" yang:value="t0"')))
    assert _profile_order(m) == ["t0", "t5", "t1", "t2"]
    m.edit_config(target="running", config=cfg(_profile("t3", attrs=' yang:insert="before" yang:value="t2"')))
    assert _profile_order(m) == ["t0", "t5", "t1", "t3", "t2"]
