"""rpc-errors of Raven's NETCONF server (RFC 6241 appendix A): each failing operation
answers with the right error-tag, an error-message, an error-path when there is a
node to name and the error-info the tag calls for, and leaves the datastores as they
were."""
import pytest

from conftest import NC_NS, NS, READER_PW, cfg
from nchelpers import (aaa, assert_unchanged, author_policy, error_info, expect_error, get_config,
                       interface, pool, pool_cfg, pool_names, pools, radius, rpc, running_state, top)

REQUIRES = ("ncclient",)


def test_create_of_existing_entry_is_data_exists(ravend):
    m = ravend.connect()
    m.edit_config(target="running", config=pool_cfg("p1"))
    before = running_state(ravend, m)
    for target in ("running", "candidate"):
        expect_error(lambda: m.edit_config(target=target, config=cfg(pools(pool("p1", op="create")))),
                     "data-exists", path_contains="/raven-vpn:pools/ipv4-pool[name='p1']")
    assert_unchanged(ravend, m, before)


def test_delete_of_missing_entry_is_data_missing(ravend):
    m = ravend.connect()
    before = running_state(ravend, m)
    for target in ("running", "candidate"):
        expect_error(lambda: m.edit_config(target=target, config=cfg(pools(pool("ghost", start=None, op="delete")))),
                     "data-missing", path_contains="/raven-vpn:pools/ipv4-pool[name='ghost']")
    assert_unchanged(ravend, m, before)


def test_leafref_to_nothing_is_data_missing_at_commit(ravend):
    m = ravend.connect()
    before = running_state(ravend, m)
    m.edit_config(target="candidate", config=cfg(author_policy("ap1", pool_ref="ghost")))
    e = expect_error(m.commit, "data-missing", path_contains="authorization-policy[name='ap1']/pool")
    assert e.app_tag in (None, "instance-required")
    assert_unchanged(ravend, m, before)


@pytest.mark.parametrize("body,where", [
    (pools(pool("p1", start="10.1.0.300")), "ipv4-pool[name='p1']/range/start"),
    (interface("eth1", role="sideways"), "interface[name='eth1']/role"),
    (aaa(radius("r1", key="k", extra="<timeout>5000</timeout>")), "radius-server[name='r1']/timeout"),
    (aaa(radius("r1", key="k", extra="<retransmit>101</retransmit>")), "radius-server[name='r1']/retransmit"),
    (top("ipsec", '<transform-set><name>t</name><esp-encryption xmlns:rt="urn:raven:params:xml:ns:yang:raven-types">'
                  'rt:no-such-cipher</esp-encryption></transform-set>'), "transform-set[name='t']/esp-encryption"),
], ids=["bad-address", "bad-enum", "timeout-out-of-range", "retransmit-out-of-range", "unknown-identity"])
@pytest.mark.parametrize("target", ["candidate", "running"])
def test_bad_value_is_invalid_value_when_parsing_the_edit(ravend, target, body, where):
    m = ravend.connect()
    before = running_state(ravend, m)
    expect_error(lambda: m.edit_config(target=target, config=cfg(body)), "invalid-value", path_contains=where)
    assert_unchanged(ravend, m, before)
    assert get_config(m, "candidate").xpath("count(//*[local-name()='name'][.='r1' or .='p1' or .='eth1'])") == 0


def test_must_violation_refused_at_commit(ravend):
    m = ravend.connect()
    before = running_state(ravend, m)
    m.edit_config(target="candidate", config=cfg(top("pools", "<ipv6-pool><name>v6</name><prefix>2001:db8::/32</prefix>"
                                                           "<assigned-length>16</assigned-length></ipv6-pool>")))
    e = expect_error(m.commit, "operation-failed", path_contains="ipv6-pool[name='v6']")
    assert "assigned-length" in e.message
    assert_unchanged(ravend, m, before)


def test_too_few_elements_names_the_instance(ravend):
    """RFC 7950 section 15.3: operation-failed, too-few-elements, error-path to the
    list of the entry that has too few."""
    m = ravend.connect()
    before = running_state(ravend, m)
    m.edit_config(target="candidate", config=cfg(top("pools", "<ipv4-pool><name>empty</name></ipv4-pool>")))
    e = expect_error(m.commit, "operation-failed", path_contains="/raven-vpn:pools/ipv4-pool")
    assert e.app_tag == "too-few-elements"
    assert "ipv4-pool[name='empty']/range" in e.path
    assert_unchanged(ravend, m, before)


def test_unknown_child_element_is_unknown_element(ravend):
    m = ravend.connect()
    before = running_state(ravend, m)
    e = expect_error(lambda: m.edit_config(target="candidate", config=cfg(f'<pools xmlns="{NS}"><bogus>1</bogus></pools>')),
                     "unknown-element", path_contains="/raven-vpn:pools")
    info = error_info(e)
    assert info is not None
    # RFC 6241 appendix A: bad-element names the unexpected element
    assert info.findtext(f"{{{NC_NS}}}bad-element") == "bogus"
    assert_unchanged(ravend, m, before)


def test_unknown_top_level_element_is_unknown_element(ravend):
    m = ravend.connect()
    e = expect_error(lambda: m.edit_config(target="candidate", config=cfg(f'<nosuch xmlns="{NS}"/>')),
                     "unknown-element")
    assert error_info(e).findtext(f"{{{NC_NS}}}bad-element") == "nosuch"


def test_unknown_namespace_is_unknown_namespace(ravend):
    m = ravend.connect()
    e = expect_error(lambda: m.edit_config(target="candidate", config=cfg('<foo xmlns="urn:nowhere"><a>1</a></foo>')),
                     "unknown-namespace")
    info = error_info(e)
    assert info.findtext(f"{{{NC_NS}}}bad-element") == "foo"
    assert info.findtext(f"{{{NC_NS}}}bad-namespace") == "urn:nowhere"


def test_unknown_operation_attribute_is_refused(ravend):
    """An operation value outside RFC 6241's list is refused with nothing changed.
    libyang rejects the value while libnetconf2 parses the request, so the error is
    libnetconf2's operation-failed naming the value (RFC 6241 would say
    bad-attribute; Raven's own check gives that when the element reaches it)."""
    m = ravend.connect()
    before = running_state(ravend, m)
    e = expect_error(lambda: m.edit_config(target="candidate", config=cfg(pools(pool("p1", op="frobnicate")))),
                     "operation-failed")
    assert "frobnicate" in e.message
    assert_unchanged(ravend, m, before)


def test_state_data_cannot_be_configured(ravend):
    m = ravend.connect()
    before = running_state(ravend, m)
    with pytest.raises(Exception):
        m.edit_config(target="candidate", config=cfg(f'<vpn-state xmlns="{NS}"><session><id>1</id></session></vpn-state>'))
    assert_unchanged(ravend, m, before)


def test_lock_held_elsewhere_is_lock_denied_with_holder_session_id(ravend):
    m1, m2 = ravend.connect(), ravend.connect()
    for ds in ("running", "candidate", "startup"):
        m1.lock(ds)
        e = expect_error(lambda: m2.lock(ds), "lock-denied")
        assert error_info(e).findtext(f"{{{NC_NS}}}session-id") == str(m1.session_id)


def test_edit_and_commit_on_datastore_locked_by_another_session_are_in_use(ravend):
    m1, m2 = ravend.connect(), ravend.connect()
    before = running_state(ravend, m1)
    m1.lock("running")
    expect_error(lambda: m2.edit_config(target="running", config=pool_cfg("p1")), "in-use")
    m2.edit_config(target="candidate", config=pool_cfg("p1"))
    expect_error(m2.commit, "in-use")
    assert_unchanged(ravend, m1, before)
    m1.unlock("running")
    m2.discard_changes()
    m1.lock("candidate")
    expect_error(lambda: m2.edit_config(target="candidate", config=pool_cfg("p2")), "in-use")
    expect_error(m2.discard_changes, "in-use")
    expect_error(lambda: m2.copy_config(source="running", target="candidate"), "in-use")
    m1.lock("startup")
    expect_error(lambda: m2.copy_config(source="running", target="startup"), "in-use")
    expect_error(lambda: m2.delete_config("startup"), "in-use")


def test_read_only_user_cannot_write(ravend):
    m = ravend.connect()
    reader = ravend.connect(user="reader", password=READER_PW)
    before = running_state(ravend, m)
    for fn in (lambda: reader.edit_config(target="candidate", config=pool_cfg("p1")),
               lambda: reader.edit_config(target="running", config=pool_cfg("p1")),
               reader.commit,
               lambda: reader.copy_config(source="running", target="startup"),
               reader.discard_changes,
               lambda: reader.delete_config("startup"),
               lambda: reader.kill_session(m.session_id)):
        e = expect_error(fn, "access-denied")
        assert "reader" in e.message
    assert_unchanged(ravend, m, before)
    assert pool_names(m, "candidate") == []
    # reading is allowed
    assert get_config(reader, "running") is not None
    reader.validate("candidate")


@pytest.mark.parametrize("xml", [
    f'<copy-config xmlns="{NC_NS}"><target><startup/></target><source><url>file:///tmp/raven.xml</url></source></copy-config>',
    f'<copy-config xmlns="{NC_NS}"><target><url>file:///tmp/raven.xml</url></target><source><running/></source></copy-config>',
    f'<edit-config xmlns="{NC_NS}"><target><candidate/></target><url>file:///tmp/raven.xml</url></edit-config>',
    f'<validate xmlns="{NC_NS}"><source><url>file:///tmp/raven.xml</url></source></validate>',
], ids=["copy-from-url", "copy-to-url", "edit-from-url", "validate-url"])
def test_url_is_refused(ravend, xml):
    """:url is not offered, so ietf-netconf's url nodes are not in the schema and the
    request is refused when it is parsed (libnetconf2 answers operation-failed,
    naming the url node) before Raven sees it; nothing changes."""
    m = ravend.connect()
    assert not any(":url:" in c for c in m.server_capabilities)
    before = running_state(ravend, m)
    e = expect_error(lambda: rpc(m, xml), "operation-failed")
    assert '"url"' in e.message
    assert_unchanged(ravend, m, before)


def test_kill_session_errors(ravend):
    m = ravend.connect()
    expect_error(lambda: m.kill_session(m.session_id), "invalid-value")
    expect_error(lambda: m.kill_session("99999"), "invalid-value")
