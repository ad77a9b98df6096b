"""Reading: get and get-config with subtree filters (containment, content match,
selection nodes) and XPath filters, the monitoring data get adds (ietf-yang-library,
ietf-netconf-monitoring netconf-state), get-schema, and with-defaults."""
import pytest
from lxml import etree
from ncclient.operations.rpc import RPCError

from conftest import NC_NS, NS, cfg
from nchelpers import (MON_NS, WD_NS, YANGLIB_NS, aaa, data_of, find_all, get_config, interface,
                       pool, pools, radius, rpc, subtree, texts)

REQUIRES = ("ncclient",)

@pytest.fixture
def ravend(make_ravend, ifns):
    """These tests commit dataplane interfaces (eth0, eth9): ravend runs in a
    namespace that has them (conftest.ifns), never attached to the host's."""
    return make_ravend(netns=ifns)



@pytest.fixture
def m(ravend):
    m = ravend.connect()
    m.edit_config(target="candidate", config=cfg(
        pools(pool("p1", netmask="255.255.255.0"), pool("p2", start="10.2.0.1", end="10.2.0.9"))
        + aaa(radius("r1", key="radius-key-1"))
        + interface("eth0")))
    m.commit()
    return m


def tops(data):
    return sorted(etree.QName(c).localname for c in data)


@pytest.mark.parametrize("op", ["get", "get-config"])
def test_subtree_containment_node_selects_one_top_level_subtree(m, op):
    f = subtree("pools")
    data = data_of(m.get(filter=f) if op == "get" else m.get_config(source="running", filter=f))
    assert tops(data) == ["pools"]
    assert sorted(texts(data, "pools/ipv4-pool/name")) == ["p1", "p2"]


def test_subtree_content_match_selects_one_list_entry(m):
    data = get_config(m, "running", subtree("pools", "<ipv4-pool><name>p1</name></ipv4-pool>"))
    assert texts(data, "pools/ipv4-pool/name") == ["p1"]
    # a content match node selects the whole entry
    assert texts(data, "pools/ipv4-pool/range/start") == ["10.1.0.1"]
    assert texts(data, "pools/ipv4-pool/netmask") == ["255.255.255.0"]


def test_subtree_content_match_without_a_match_returns_nothing(m):
    data = get_config(m, "running", subtree("pools", "<ipv4-pool><name>nope</name></ipv4-pool>"))
    assert texts(data, "pools/ipv4-pool") == []


def test_subtree_selection_nodes_return_only_the_selected_leaves(m):
    data = get_config(m, "running", subtree("pools", "<ipv4-pool><name/><netmask/></ipv4-pool>"))
    assert sorted(texts(data, "pools/ipv4-pool/name")) == ["p1", "p2"]
    assert texts(data, "pools/ipv4-pool/netmask") == ["255.255.255.0"]
    assert find_all(data, "pools/ipv4-pool/range") == []


def test_subtree_content_match_with_selection_node(m):
    data = get_config(m, "running", subtree("pools", "<ipv4-pool><name>p2</name><range/></ipv4-pool>"))
    assert texts(data, "pools/ipv4-pool/name") == ["p2"]
    assert texts(data, "pools/ipv4-pool/range/end") == ["10.2.0.9"]
    assert texts(data, "pools/ipv4-pool/netmask") == []


def test_subtree_filter_with_several_top_level_nodes(m):
    data = get_config(m, "running", [f'<pools xmlns="{NS}"/>', f'<dataplane xmlns="{NS}"/>'])
    assert tops(data) == ["dataplane", "pools"]


def test_subtree_filter_on_unknown_namespace_selects_nothing(m):
    data = get_config(m, "running", ("subtree", '<pools xmlns="urn:nowhere"/>'))
    assert len(data) == 0


def test_subtree_filtered_secret_is_masked(m):
    data = get_config(m, "running", subtree("aaa", "<radius-server><name>r1</name><key/></radius-server>"))
    assert texts(data, "aaa/radius-server/key") == ["********"]


def test_xpath_filter_with_declared_prefix(m):
    data = data_of(m.get(filter=("xpath", ({"rv": NS}, "/rv:pools/rv:ipv4-pool[rv:name='p1']"))))
    assert texts(data, "pools/ipv4-pool/name") == ["p1"]
    data = get_config(m, "running", ("xpath", ({"rv": NS}, "/rv:aaa/rv:radius-server/rv:key")))
    assert texts(data, "aaa/radius-server/key") == ["********"]


def test_xpath_filter_with_undeclared_prefixes_is_refused(m):
    """RFC 6241 8.9: prefixes in select are XML namespace prefixes declared on the
    filter; an undeclared one is an error, and the session stays usable."""
    with pytest.raises(RPCError):
        m.get(filter=("xpath", "/raven-vpn:pools/ipv4-pool[name='p1']"))
    data = data_of(m.get_config(source="running"))
    assert "p1" in texts(data, "pools/ipv4-pool/name")


def test_get_adds_yang_library_and_netconf_state(m):
    data = data_of(m.get())
    names = {etree.QName(c).text for c in data}
    assert f"{{{NS}}}pools" in names
    assert any(n.startswith(f"{{{YANGLIB_NS}}}") for n in names), names
    assert f"{{{MON_NS}}}netconf-state" in names
    caps = data.xpath("//mon:netconf-state/mon:capabilities/mon:capability/text()", namespaces={"mon": MON_NS})
    assert "urn:ietf:params:netconf:capability:candidate:1.0" in caps
    schemas = data.xpath("//mon:netconf-state/mon:schemas/mon:schema/mon:identifier/text()", namespaces={"mon": MON_NS})
    assert "raven-vpn" in schemas and "raven-types" in schemas
    # get-config carries configuration only
    cfgdata = get_config(m, "running")
    assert f"{{{MON_NS}}}netconf-state" not in {c.tag for c in cfgdata}


def test_get_of_netconf_state_by_subtree_filter(m):
    data = data_of(m.get(filter=("subtree", f'<netconf-state xmlns="{MON_NS}"><schemas/></netconf-state>')))
    assert tops(data) == ["netconf-state"]
    ids = data.xpath("//mon:schema/mon:identifier/text()", namespaces={"mon": MON_NS})
    assert "raven-vpn" in ids


def test_repeated_get_keeps_the_server_healthy(ravend, m):
    """get builds the monitoring data each time; sessions opened afterwards and the
    capability list of later replies must be intact."""
    first = data_of(m.get()).xpath("//mon:capability/text()", namespaces={"mon": MON_NS})
    for _ in range(3):
        again = data_of(m.get()).xpath("//mon:capability/text()", namespaces={"mon": MON_NS})
        assert sorted(again) == sorted(first)
    for _ in range(3):
        s = ravend.connect()
        assert "urn:ietf:params:netconf:capability:candidate:1.0" in s.server_capabilities
        s.close_session()
    assert sorted(texts(get_config(m, "running", subtree("pools")), "pools/ipv4-pool/name")) == ["p1", "p2"]


def test_get_schema_returns_the_yang_module(ravend):
    m = ravend.connect()
    text = m.get_schema("raven-vpn").data
    assert text.lstrip().startswith("module raven-vpn")
    assert f'namespace "{NS}"' in text
    assert "container pools" in text and "container management" in text
    # ncclient 0.6.13 puts <format> in no namespace, which makes the identityref
    # unresolvable; send the request as RFC 6022 writes it
    ncm = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
    reply = rpc(m, f'<get-schema xmlns="{ncm}"><identifier>raven-types</identifier><format>yang</format></get-schema>')
    assert "extension secret" in reply.xml


def test_get_schema_of_unknown_module_is_invalid_value(ravend):
    from nchelpers import expect_error
    m = ravend.connect()
    expect_error(lambda: m.get_schema("no-such-module"), "invalid-value")


def _get_config_wd(m, mode):
    return data_of(rpc(m, f'<get-config xmlns="{NC_NS}"><source><running/></source>'
                          f'<filter type="subtree"><aaa xmlns="{NS}"/></filter>'
                          f'<with-defaults xmlns="{WD_NS}">{mode}</with-defaults></get-config>'))


def test_with_defaults(m):
    m.edit_config(target="running", config=cfg(aaa(radius("r1", key="********", extra="<retransmit>3</retransmit>"))))
    explicit = get_config(m, "running", subtree("aaa"))
    assert texts(explicit, "aaa/radius-server/timeout") == []
    assert texts(explicit, "aaa/radius-server/retransmit") == ["3"]

    all_ = data_of(m.get_config(source="running", filter=subtree("aaa"), with_defaults="report-all"))
    assert texts(all_, "aaa/radius-server/timeout") == ["5"]
    assert texts(all_, "aaa/radius-server/auth-port") == ["1812"]
    assert texts(all_, "aaa/radius-server/key") == ["********"]

    trim = _get_config_wd(m, "trim")
    assert texts(trim, "aaa/radius-server/timeout") == []
    assert texts(trim, "aaa/radius-server/retransmit") == [], "trim reports a value equal to its default"

    assert texts(_get_config_wd(m, "explicit"), "aaa/radius-server/retransmit") == ["3"]


def test_with_defaults_report_all_tagged_is_not_offered(m):
    """report-all-tagged is neither advertised nor accepted: the libyang in use
    would tag defaults in the wrong namespace (RFC 6243 section 6)."""
    from nchelpers import expect_error
    wd_cap = [c for c in m.server_capabilities if "with-defaults" in c]
    assert wd_cap and "report-all-tagged" not in wd_cap[0]
    assert "report-all" in wd_cap[0] and "trim" in wd_cap[0]
    expect_error(lambda: _get_config_wd(m, "report-all-tagged"), "invalid-value")