"""The NMDA operations of RFC 8526 over NETCONF: get-data from running, candidate,
startup and operational (ietf-datastores), with subtree and XPath filters,
config-filter, max-depth and with-defaults; edit-data of running and candidate,
operational refused as not writable; parameters Raven does not offer refused."""
import pytest
from lxml import etree
from ncclient.operations.rpc import RPCError

from conftest import NS
from nchelpers import expect_error, pool_cfg

REQUIRES = ("ncclient",)

NMDA = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda"
DS = "urn:ietf:params:xml:ns:yang:ietf-datastores"
NCM = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"


def get_data(m, ds, inner=""):
    rpc = etree.fromstring(f'<get-data xmlns="{NMDA}" xmlns:ds="{DS}"><datastore>ds:{ds}</datastore>{inner}'
                           '</get-data>')
    reply = m.dispatch(rpc)
    data = etree.fromstring(reply.xml.encode()).find(f"{{{NMDA}}}data")
    assert data is not None, reply.xml
    return data


def edit_data(m, ds, config, defop=None):
    d = f"<default-operation>{defop}</default-operation>" if defop else ""
    rpc = etree.fromstring(f'<edit-data xmlns="{NMDA}" xmlns:ds="{DS}"><datastore>ds:{ds}</datastore>{d}'
                           f'<config>{config}</config></edit-data>')
    return m.dispatch(rpc)


def pools_in(data):
    return sorted(n.text for n in data.iter(f"{{{NS}}}name") if n.getparent().tag == f"{{{NS}}}ipv4-pool")


def pool_xml(name):
    return etree.tostring(etree.fromstring(pool_cfg(name))[0]).decode()


def test_nmda_module_is_announced(ravend):
    m = ravend.connect()
    flt = f'<modules-state xmlns="urn:ietf:params:xml:ns:yang:ietf-yang-library"/>'
    root = etree.fromstring(m.get(filter=("subtree", flt)).data_xml.encode())
    names = {e.text for e in root.iter("{urn:ietf:params:xml:ns:yang:ietf-yang-library}name")}
    assert {"ietf-netconf-nmda", "ietf-datastores"} <= names


def test_edit_data_and_get_data_per_datastore(ravend):
    m = ravend.connect()
    edit_data(m, "running", pool_xml("run"))
    edit_data(m, "candidate", pool_xml("cand"))
    assert pools_in(get_data(m, "candidate")) == ["cand", "run"]
    assert pools_in(get_data(m, "running")) == ["run"]
    m.copy_config(source="running", target="startup")
    edit_data(m, "running", pool_xml("later"))
    assert pools_in(get_data(m, "startup")) == ["run"]
    op = get_data(m, "operational")
    assert pools_in(op) == ["later", "run"]
    # operational holds the daemon's state and this server's monitoring state
    assert op.find(f"{{{NS}}}vpn-state") is not None
    assert op.find(f"{{{NCM}}}netconf-state") is not None
    # and running holds no state
    assert get_data(m, "running").find(f"{{{NS}}}vpn-state") is None


def test_edit_data_replace_and_delete(ravend):
    m = ravend.connect()
    edit_data(m, "running", pool_xml("a") + "")
    edit_data(m, "running", pool_xml("b"))
    edit_data(m, "running", f'<pools xmlns="{NS}"><ipv4-pool xmlns:nc="{NC}" nc:operation="delete">'
                            '<name>a</name></ipv4-pool></pools>')
    assert pools_in(get_data(m, "running")) == ["b"]
    edit_data(m, "running", pool_xml("c"), defop="replace")
    assert pools_in(get_data(m, "running")) == ["c"]


def test_operational_is_not_writable(ravend):
    m = ravend.connect()
    e = expect_error(lambda: edit_data(m, "operational", pool_xml("x")), "invalid-value")
    assert "not writable" in str(e)
    # startup is written by copy-config only, as with edit-config
    expect_error(lambda: edit_data(m, "startup", pool_xml("x")), "operation-not-supported")
    assert pools_in(get_data(m, "running")) == []


def test_read_only_user_cannot_edit_data(ravend):
    from conftest import READER_PW
    r = ravend.connect(user="reader", password=READER_PW)
    expect_error(lambda: edit_data(r, "running", pool_xml("x")), "access-denied")
    assert pools_in(get_data(r, "operational")) == []


def test_filters(ravend):
    m = ravend.connect()
    edit_data(m, "running", pool_xml("f1") + "")
    edit_data(m, "running", pool_xml("f2"))
    sub = get_data(m, "operational", f'<subtree-filter><pools xmlns="{NS}"><ipv4-pool><name>f2</name>'
                                     '</ipv4-pool></pools></subtree-filter>')
    assert pools_in(sub) == ["f2"]
    assert sub.find(f"{{{NS}}}vpn-state") is None and sub.find(f"{{{NCM}}}netconf-state") is None
    xp = get_data(m, "running", f'<xpath-filter xmlns:rv="{NS}">/rv:pools/rv:ipv4-pool[rv:name=\'f1\']'
                                '</xpath-filter>')
    assert pools_in(xp) == ["f1"]
    # one session by key: ravend builds only it (none here), no error
    one = get_data(m, "operational", f'<xpath-filter xmlns:rv="{NS}">/rv:vpn-state/rv:session[rv:id=\'7\']'
                                     '</xpath-filter>')
    assert one.find(f".//{{{NS}}}session") is None


def test_config_filter(ravend):
    m = ravend.connect()
    edit_data(m, "running", pool_xml("cf"))
    only_config = get_data(m, "operational", "<config-filter>true</config-filter>")
    assert pools_in(only_config) == ["cf"]
    assert only_config.find(f"{{{NS}}}vpn-state") is None
    only_state = get_data(m, "operational", "<config-filter>false</config-filter>")
    assert pools_in(only_state) == []
    assert only_state.find(f"{{{NS}}}vpn-state") is not None
    assert only_state.find(f"{{{NCM}}}netconf-state") is not None
    # a configuration datastore has no state
    assert len(get_data(m, "running", "<config-filter>false</config-filter>")) == 0
    # state inside configuration (nacm's counters) goes with the state
    nacm = "urn:ietf:params:xml:ns:yang:ietf-netconf-acm"
    assert only_state.find(f".//{{{nacm}}}denied-operations") is not None
    assert only_config.find(f".//{{{nacm}}}denied-operations") is None


def test_max_depth(ravend):
    m = ravend.connect()
    edit_data(m, "running", pool_xml("md"))
    d1 = get_data(m, "running", "<max-depth>1</max-depth>")
    # an empty non-presence container is not printed
    assert d1.find(f".//{{{NS}}}ipv4-pool") is None and len(d1) <= 1
    d2 = get_data(m, "running", "<max-depth>2</max-depth>")
    pool = d2.find(f"{{{NS}}}pools/{{{NS}}}ipv4-pool")
    # the list entry with its key, nothing below
    assert [c.tag for c in pool] == [f"{{{NS}}}name"]
    full = get_data(m, "running", "<max-depth>unbounded</max-depth>")
    assert full.find(f".//{{{NS}}}range") is not None
    expect_error(lambda: get_data(m, "running", f"<max-depth>1</max-depth><subtree-filter><pools xmlns=\"{NS}\"/>"
                                                "</subtree-filter>"), "operation-not-supported")


def test_unsupported_parameters_are_refused(ravend):
    m = ravend.connect()
    # origin annotations (the "origin" feature) are not offered
    with pytest.raises(RPCError):
        get_data(m, "operational", "<with-origin/>")
    with pytest.raises(RPCError):
        get_data(m, "intended")
    e = expect_error(lambda: edit_data(m, "intended", pool_xml("x")), "invalid-value")
    assert pools_in(get_data(m, "running")) == []
