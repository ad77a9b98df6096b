"""Reading the session list in pages and one session by key, over REST (curl)
and NETCONF (ncclient), with 300 sessions held up by ike_load --hold (Raven's
test initiator, PSK, one child SA each) from a client namespace.

Paging is the subset of the IETF list-pagination work that api/rest/README.md
and yang/raven-list-pagination.yang describe: limit, offset and cursor on
/raven-vpn:vpn-state/session, entries in ascending session id order, the count
and the next cursor in Raven-List-* headers (REST) or annotations on vpn-state
(NETCONF); bad values are refused with invalid-value and change nothing.

Topology: [client: ike_load] --veth-- [headend namespace: ravend]
"""
import os
import re
import tempfile
import time

import pytest
from lxml import etree
from ncclient.operations.rpc import RPCError
from ncclient.xml_ import to_ele

from conftest import NC_NS, NS, READER_PW, Ravend, cfg, initial_config
from nchelpers import data_of, expect_error
from resthelpers import Rest
from test_ike_sessions import headend_config

LOAD = os.environ.get("IKE_LOAD", os.path.join(os.path.dirname(__file__), "..", "..", "build-test", "tests",
                                               "bench", "ike_load"))
N = 300
LP_NS = "urn:raven:params:xml:ns:yang:raven-list-pagination"
SESS = "/restconf/data/raven-vpn:vpn-state/session"


@pytest.fixture(scope="module")
def held(hashes, keypair, hostkey):
    """ravend with REST in a lab's headend namespace and N sessions up, once for
    the module (setting up 300 sessions per test would be most of its time)."""
    from lab import Lab

    lb = Lab(1, tag="pg")
    d = None
    try:
        d = Ravend(tempfile.mkdtemp(prefix="raven-it-"), 8300,
                   initial_config(8300, hashes, keypair[1],
                                  headend_config(pool_ranges=(("10.201.0.10", "10.201.3.250"),)), 8443),
                   netns=lb.head)
        d.rest_url = "https://127.0.0.1:8443"
        os.makedirs(d.state_dir, mode=0o700)
        with open(os.path.join(d.state_dir, "ssh_host_rsa_key"), "wb") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(hostkey)
        d.start()
        yield from _held(lb, d)
        rc = d.stop()
        assert rc == 0, f"ravend exited with status {rc}:\n{d.log()[-4000:]}"
    finally:
        if d:
            d.stop()
            d.cleanup()
        lb.close()


def _held(lb, d):
    c = lb.clients[0]
    lb.spawn(c["ns"], LOAD, "--hold", c["head_ip"], c["ip"], "3600", str(N), "rw-secret-1", "u%d.example.org",
             "30", "64")
    rest = Rest(d.rest_url, netns=lb.head)
    deadline = time.time() + 120
    while True:
        r = rest.get("/metrics", accept=None)
        m = re.search(r"^raven_sessions (\d+)$", r.body, re.M)
        if m and int(m.group(1)) == N:
            break
        assert time.time() < deadline, f"sessions not up: {r.body[:300]}\n{d.log()[-3000:]}"
        time.sleep(0.5)
    all_ids = sorted(int(e["id"]) for e in rest.get(SESS + "?fields=id").json()["raven-vpn:session"])
    assert len(all_ids) == N
    yield d, rest, all_ids


def ids_of(resp):
    return [int(e["id"]) for e in resp.json()["raven-vpn:session"]]


def test_rest_first_page_and_headers(held):
    _, rest, all_ids = held
    r = rest.get(SESS + "?limit=50")
    assert r.status == 200, r
    assert ids_of(r) == all_ids[:50]
    # whole entries, not only ids
    assert all("ike-sa" in e and "child-sa" in e for e in r.json()["raven-vpn:session"])
    assert r.headers["raven-list-total"] == str(N)
    assert r.headers["raven-list-remaining"] == str(N - 50)
    assert r.headers["raven-list-next"] == str(all_ids[49])


def test_rest_cursor_walk_is_the_whole_list_once_in_order(held):
    _, rest, all_ids = held
    seen, cursor, pages = [], None, 0
    while True:
        r = rest.get(SESS + "?limit=70&fields=id" + (f"&cursor={cursor}" if cursor else ""))
        assert r.status == 200, r
        seen += ids_of(r)
        pages += 1
        cursor = r.headers.get("raven-list-next")
        if not cursor:
            assert r.headers["raven-list-remaining"] == "0"
            break
    assert seen == all_ids and pages == 5


def test_rest_offset_limit_and_past_the_end(held):
    _, rest, all_ids = held
    r = rest.get(SESS + "?offset=290&limit=50&fields=id")
    assert r.status == 200 and ids_of(r) == all_ids[290:], r
    assert r.headers["raven-list-remaining"] == "0" and "raven-list-next" not in r.headers
    # offset after a cursor, and no limit
    r = rest.get(SESS + f"?cursor={all_ids[99]}&offset=100&limit=unbounded&fields=id")
    assert ids_of(r) == all_ids[200:]
    # a cursor whose session is gone still orders: the entries after its id
    r = rest.get(SESS + f"?cursor={all_ids[10] + 0}&limit=1&fields=id")
    assert ids_of(r) == [all_ids[11]]
    r = rest.get(SESS + "?offset=1000&limit=5")
    assert r.status == 200 and r.json() == {"raven-vpn:session": []}, r
    assert r.headers["raven-list-total"] == str(N) and r.headers["raven-list-remaining"] == "0"
    # XML too
    r = rest.get(SESS + "?limit=2&fields=id", accept="application/yang-data+xml")
    assert r.status == 200 and r.body.count("<session") == 2, r


@pytest.mark.parametrize("query", ["limit=0", "limit=-1", "limit=abc", "limit=", "limit=4294967296", "offset=x",
                                   "offset=-3", "cursor=0", "cursor=abc", "cursor=99999999999999999999",
                                   "limit=5&limit=6", "direction=backwards", "sort-by=id"])
def test_rest_bad_paging_values_are_refused(held, query):
    _, rest, _ = held
    r = rest.get(SESS + "?" + query)
    assert r.status == 400, r
    assert r.errors()[0]["error-tag"] in ("invalid-value", "unknown-attribute", "malformed-message"), r


def test_rest_paging_elsewhere_is_refused(held):
    _, rest, all_ids = held
    for path in ("/restconf/data/raven-vpn:pools?limit=1", "/restconf/data/raven-vpn:vpn-state?limit=1",
                 f"{SESS}={all_ids[0]}?limit=1", "/restconf/data?offset=1"):
        r = rest.get(path)
        assert r.status == 400 and r.errors()[0]["error-tag"] == "invalid-value", (path, r)
        assert "vpn-state/session" in r.errors()[0]["error-message"]


def test_rest_one_session_by_key(held):
    _, rest, all_ids = held
    k = all_ids[N // 2]
    r = rest.get(f"{SESS}={k}")
    assert r.status == 200, r
    s = r.json()["raven-vpn:session"]
    assert len(s) == 1 and int(s[0]["id"]) == k and s[0]["remote-identity"]["value"].endswith(".example.org")
    assert len(s[0]["child-sa"]) == 1
    assert rest.get(f"{SESS}=999999999").status == 404


def nc_get(m, flt, page=""):
    pg = f'<list-pagination xmlns="{LP_NS}">{page}</list-pagination>' if page is not None else ""
    rpc = to_ele(f'<get xmlns="{NC_NS}"><filter type="subtree">{flt}</filter>{pg}</get>')
    return data_of(m.dispatch(rpc))


def nc_ids(data):
    return [int(x.text) for x in data.iter(f"{{{NS}}}id") if x.getparent().tag == f"{{{NS}}}session"]


SFLT = f'<vpn-state xmlns="{NS}"><session><id/></session></vpn-state>'


def test_netconf_pages_with_annotations_and_cursor(held):
    d, _, all_ids = held
    m = d.connect()
    data = nc_get(m, SFLT, "<limit>40</limit>")
    vs = data.find(f"{{{NS}}}vpn-state")
    assert nc_ids(data) == all_ids[:40]
    assert vs.get(f"{{{LP_NS}}}total") == str(N) and vs.get(f"{{{LP_NS}}}remaining") == str(N - 40)
    assert vs.get(f"{{{LP_NS}}}next") == str(all_ids[39])
    seen, cursor = [], None
    while True:
        data = nc_get(m, SFLT, "<limit>100</limit>" + (f"<cursor>{cursor}</cursor>" if cursor else ""))
        seen += nc_ids(data)
        cursor = data.find(f"{{{NS}}}vpn-state").get(f"{{{LP_NS}}}next")
        if not cursor:
            break
    assert seen == all_ids
    data = nc_get(m, SFLT, "<offset>250</offset><limit>unbounded</limit>")
    assert nc_ids(data) == all_ids[250:]
    # without list-pagination: the whole list, no annotations
    data = nc_get(m, SFLT, None)
    assert sorted(nc_ids(data)) == all_ids
    assert data.find(f"{{{NS}}}vpn-state").get(f"{{{LP_NS}}}total") is None


@pytest.mark.parametrize("page,says", [("<limit>0</limit>", '"0"'),
                                       ("<limit>abc</limit>", '"abc"'),
                                       ("<offset>-1</offset>", '"-1"'),
                                       ("<cursor>0</cursor>", '"0" is out of the allowed range'),
                                       ("<sort-by>id</sort-by>", '"sort-by" not found')])
def test_netconf_bad_paging_values_are_refused(held, page, says):
    """Refused by raven-list-pagination's types while libnetconf2 parses the
    request: its operation-failed naming the value (as for every value the
    schema refuses in an RPC's input, test_errors.py), before Raven sees it."""
    d, _, _ = held
    m = d.connect()
    with pytest.raises(RPCError) as e:
        nc_get(m, SFLT, page)
    assert e.value.tag == "operation-failed" and says in str(e.value), e.value


def test_netconf_paging_a_filter_without_sessions_is_refused(held):
    d, _, _ = held
    m = d.connect()
    with pytest.raises(RPCError) as e:
        nc_get(m, f'<pools xmlns="{NS}"/>', "<limit>5</limit>")
    assert e.value.tag == "invalid-value" and "vpn-state/session" in str(e.value), e.value


def test_netconf_one_session_by_key(held):
    d, _, all_ids = held
    m = d.connect()
    k = all_ids[7]
    data = data_of(m.get(filter=("subtree", f'<vpn-state xmlns="{NS}"><session><id>{k}</id></session></vpn-state>')))
    sessions = data.findall(f"{{{NS}}}vpn-state/{{{NS}}}session")
    assert len(sessions) == 1 and int(sessions[0].find(f"{{{NS}}}id").text) == k
    assert sessions[0].find(f"{{{NS}}}child-sa") is not None
    assert etree.tostring(sessions[0]).count(b"<") > 50  # the whole entry


def test_netconf_xpaths_that_reach_sessions_otherwise_get_them(held):
    """A union, a step up from one session, an axis: XPaths that select sessions
    other than through a plain path still get every session they select."""
    d, _, all_ids = held
    m = d.connect()
    k = all_ids[3]
    for xp in ("/rv:vpn-state/rv:pool | /rv:vpn-state/rv:session",
               f"/rv:vpn-state/rv:session[rv:id='{k}']/..",
               "/rv:vpn-state/child::rv:session",
               f"/rv:vpn-state/rv:session[rv:id='{k}']/following-sibling::rv:session"):
        data = data_of(m.get(filter=("xpath", ({"rv": NS}, xp))))
        got = sorted(int(x.text) for x in data.iterfind(f"{{{NS}}}vpn-state/{{{NS}}}session/{{{NS}}}id"))
        if "following" in xp:  # the entries after k in the tree's order, which is not the ids'
            assert k not in got and len(got) > 1 and set(got) <= set(all_ids), (xp, len(got))
        else:
            assert got == all_ids, (xp, len(got))


def test_netconf_paging_a_content_match_is_refused(held):
    """The page is cut before the filter applies: a filter on the sessions'
    contents (or key) with list-pagination would give short pages and wrong
    counts, so it is refused."""
    d, _, all_ids = held
    m = d.connect()
    for flt in (f'<vpn-state xmlns="{NS}"><session><profile>rw</profile><id/></session></vpn-state>',
                f'<vpn-state xmlns="{NS}"><session><id>{all_ids[0]}</id></session></vpn-state>'):
        with pytest.raises(RPCError) as e:
            nc_get(m, flt, "<limit>5</limit>")
        assert e.value.tag == "invalid-value" and "cannot be paged" in str(e.value), e.value


def test_netconf_page_past_the_end_keeps_its_annotations(held):
    """A page with no session still says how many there are and that none
    remain, on an empty vpn-state."""
    d, _, all_ids = held
    m = d.connect()
    data = nc_get(m, SFLT, f"<limit>5</limit><cursor>{all_ids[-1]}</cursor>")
    vs = data.find(f"{{{NS}}}vpn-state")
    assert vs is not None and nc_ids(data) == []
    assert vs.get(f"{{{LP_NS}}}total") == str(N) and vs.get(f"{{{LP_NS}}}remaining") == "0"
    assert vs.get(f"{{{LP_NS}}}next") is None


NMDA_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda"
DS_NS = "urn:ietf:params:xml:ns:yang:ietf-datastores"


def nc_get_data(m, ds, flt, page=""):
    pg = f'<list-pagination xmlns="{LP_NS}">{page}</list-pagination>' if page is not None else ""
    rpc = to_ele(f'<get-data xmlns="{NMDA_NS}" xmlns:ds="{DS_NS}"><datastore>ds:{ds}</datastore>'
                 f'<subtree-filter>{flt}</subtree-filter>{pg}</get-data>')
    reply = m.dispatch(rpc)
    return etree.fromstring(reply.xml.encode()).find(f"{{{NMDA_NS}}}data")


def test_get_data_of_operational_pages_too(held):
    """RFC 8526 get-data of the operational datastore takes the same paging."""
    d, _, all_ids = held
    m = d.connect()
    data = nc_get_data(m, "operational", SFLT, "<limit>30</limit><offset>10</offset>")
    vs = data.find(f"{{{NS}}}vpn-state")
    assert nc_ids(data) == all_ids[10:40]
    assert vs.get(f"{{{LP_NS}}}total") == str(N) and vs.get(f"{{{LP_NS}}}remaining") == str(N - 40)
    data = nc_get_data(m, "operational", SFLT, f"<cursor>{vs.get(f'{{{LP_NS}}}next')}</cursor><limit>5</limit>")
    assert nc_ids(data) == all_ids[40:45]
    assert sorted(nc_ids(nc_get_data(m, "operational", SFLT, None))) == all_ids
    # a configuration datastore has no session list to page
    e = expect_error(lambda: nc_get_data(m, "running", f'<pools xmlns="{NS}"/>', "<limit>5</limit>"),
                     "invalid-value")
    assert "operational" in str(e)


def test_counts_only_to_who_may_read_the_sessions(held, hashes):
    """The list's count is not given to a user NACM keeps from the sessions:
    not in /metrics, not in a page's total."""
    d, rest, _ = held
    acm = "urn:ietf:params:xml:ns:yang:ietf-netconf-acm"
    m = d.connect()
    user = (f'<management xmlns="{NS}"><user><name>nosess</name><password-hash>{hashes["reader"]}</password-hash>'
            f"<role>read-only</role></user></management>")
    rules = (f'<nacm xmlns="{acm}"><groups><group><name>ns</name><user-name>nosess</user-name></group></groups>'
             f"<rule-list><name>ns</name><group>ns</group><rule><name>s</name>"
             f'<path xmlns:rv="{NS}">/rv:vpn-state/rv:session</path><access-operations>read</access-operations>'
             f"<action>deny</action></rule></rule-list></nacm>")
    m.edit_config(target="running", config=cfg(user + rules))
    try:
        r = Rest(d.rest_url, user="nosess", password=READER_PW, netns=rest.netns)
        body = r.get("/metrics", accept=None).body
        assert re.search(r"^raven_sessions 0$", body, re.M), body[:400]
        assert re.search(rf"^raven_sessions {N}$", rest.get("/metrics", accept=None).body, re.M)
        res = r.get(SESS + "?limit=5&fields=id")
        assert res.headers.get("raven-list-total") in (None, "0"), res.headers
    finally:
        m.edit_config(target="running", config=cfg(
            f'<nacm xmlns="{acm}" xmlns:nc="{NC_NS}" nc:operation="remove"/>'
            f'<management xmlns="{NS}"><user xmlns:nc="{NC_NS}" nc:operation="remove"><name>nosess</name></user>'
            f"</management>"))
