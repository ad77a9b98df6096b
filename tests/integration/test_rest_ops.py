"""RESTCONF operations and datastores, and REST next to NETCONF: the same datastore,
users and transaction path. Edits made over one API are seen over the other, a
NETCONF lock stops REST writers, confirmed commit works from REST, and an edit that
fails prepare (a REST endpoint on a busy port) changes nothing. The REST server's own
endpoints and certificate change live on commit."""
import hashlib
import socket
import ssl
import subprocess
import time

import pytest
from ncclient.operations import RPCError

from conftest import NS, cfg
from nchelpers import port_accepts, wait_until
from conftest import free_port
from resthelpers import JSON, XML, Rest, pool_body

REQUIRES = ("openssl",)

POOLS = "/restconf/data/raven-vpn:pools"
CAND = "/restconf/ds/ietf-datastores:candidate"
RUN = "/restconf/ds/ietf-datastores:running"
OPS = "/restconf/operations"


@pytest.fixture
def rd(make_ravend):
    return make_ravend(rest=True)


@pytest.fixture
def rest(rd):
    return Rest(rd.rest_url)


def names(rest, base=POOLS):
    r = rest.get(base)
    if r.status == 404:
        return set()
    assert r.status == 200, r
    return {p["name"] for p in r.json()[base.rsplit("/", 1)[1] if ":" in base.rsplit("/", 1)[1]
                                        else "raven-vpn:pools"].get("ipv4-pool", [])}


def cand_names(rest):
    r = rest.get(CAND + "/raven-vpn:pools")
    if r.status == 404:
        return set()
    return {p["name"] for p in r.json()["raven-vpn:pools"].get("ipv4-pool", [])}


def test_operations_list_and_raven_rpcs(rest):
    r = rest.get(OPS)
    ops = r.json()["ietf-restconf:operations"]
    assert {"raven-vpn:clear-session", "raven-vpn:clear-counters", "ietf-netconf:commit",
            "ietf-netconf:discard-changes", "ietf-netconf:cancel-commit", "ietf-netconf:validate"} <= set(ops)
    assert "ietf-netconf:edit-config" not in ops  # data resources do that
    r = rest.get(OPS, accept=XML)
    assert "<clear-session xmlns=\"urn:raven:params:xml:ns:yang:raven-vpn\">" in r.body
    r = rest.post(OPS + "/raven-vpn:clear-session", {"raven-vpn:input": {"all": [None]}})
    assert r.status == 200 and r.json() == {"raven-vpn:output": {"cleared": 0}}, r
    r = rest.post(OPS + "/raven-vpn:clear-session",
                  '<input xmlns="urn:raven:params:xml:ns:yang:raven-vpn"><identity>alice</identity></input>',
                  ctype=XML, accept=XML)
    assert r.status == 200 and "<cleared>0</cleared>" in r.body and r.body.startswith("<output"), r
    assert rest.post(OPS + "/raven-vpn:clear-counters").status == 204
    assert rest.post(OPS + "/raven-vpn:clear-counters", {"raven-vpn:input": {"scope": "ike"}}).status == 204
    # errors: bad input, missing mandatory choice, unknown operation, wrong envelope, GET
    r = rest.post(OPS + "/raven-vpn:clear-counters", {"raven-vpn:input": {"scope": "everything"}})
    assert r.status == 400 and r.errors()[0]["error-tag"] == "invalid-value", r
    r = rest.post(OPS + "/raven-vpn:clear-session", {"raven-vpn:input": {}})
    assert r.status == 400, r
    r = rest.post(OPS + "/raven-vpn:reboot")
    assert r.status == 404
    r = rest.post(OPS + "/ietf-netconf:edit-config")
    assert r.status == 404
    r = rest.post(OPS + "/raven-vpn:clear-counters", {"raven-vpn:output": {}})
    assert r.status == 400 and r.errors()[0]["error-tag"] == "malformed-message"
    r = rest.get(OPS + "/raven-vpn:clear-counters")
    assert r.status == 405 and "POST" in r.headers["allow"]
    r = rest.req("OPTIONS", OPS + "/raven-vpn:clear-counters", accept=None)
    assert r.status == 200 and "POST" in r.headers["allow"]


def test_candidate_commit_confirmed_and_discard(rest, rd):
    # the candidate through RFC 8527 paths; running does not see it until commit
    r = rest.put(CAND + "/raven-vpn:pools/ipv4-pool=c1", pool_body("c1", "10.20.0.1", "10.20.0.9"))
    assert r.status == 201, r
    assert "c1" in cand_names(rest) and "c1" not in names(rest)
    assert rest.post(OPS + "/ietf-netconf:validate",
                     {"ietf-netconf:input": {"source": {"candidate": [None]}}}).status == 204
    assert rest.post(OPS + "/ietf-netconf:commit").status == 204
    assert "c1" in names(rest)
    # discard
    assert rest.put(CAND + "/raven-vpn:pools/ipv4-pool=c2", pool_body("c2", "10.21.0.1", "10.21.0.9")).status == 201
    assert rest.post(OPS + "/ietf-netconf:discard-changes").status == 204
    assert "c2" not in cand_names(rest)
    # confirmed commit, then cancel: running goes back
    assert rest.put(CAND + "/raven-vpn:pools/ipv4-pool=c3", pool_body("c3", "10.22.0.1", "10.22.0.9")).status == 201
    r = rest.post(OPS + "/ietf-netconf:commit", {"ietf-netconf:input": {"confirmed": [None], "confirm-timeout": 60,
                                                                        "persist": "tok1"}})
    assert r.status == 204, r
    assert "c3" in names(rest)
    r = rest.post(OPS + "/ietf-netconf:cancel-commit", {"ietf-netconf:input": {"persist-id": "wrong"}})
    assert r.status == 400 or r.status == 409, r
    assert rest.post(OPS + "/ietf-netconf:cancel-commit", {"ietf-netconf:input": {"persist-id": "tok1"}}).status == 204
    assert names(rest) == {"c1"}
    # a confirmed commit that times out rolls back
    assert rest.put(CAND + "/raven-vpn:pools/ipv4-pool=c4", pool_body("c4", "10.23.0.1", "10.23.0.9")).status == 201
    assert rest.post(OPS + "/ietf-netconf:commit", {"ietf-netconf:input": {"confirmed": [None],
                                                                           "confirm-timeout": 1}}).status == 204
    assert "c4" in names(rest)
    wait_until(lambda: names(rest) == {"c1"}, timeout=10, what="the unconfirmed commit to roll back")
    # the operational datastore is read-only and holds state
    r = rest.get("/restconf/ds/ietf-datastores:operational/raven-vpn:vpn-state/ike-counters")
    assert r.status == 200
    r = rest.put("/restconf/ds/ietf-datastores:operational/raven-vpn:pools/ipv4-pool=x", pool_body("x", "10.1.1.1",
                                                                                                     "10.1.1.2"))
    assert r.status == 405
    assert rest.get("/restconf/ds/ietf-datastores:nosuch").status == 404
    # copy-config running -> startup ("save"), then delete-config startup
    r = rest.post(OPS + "/ietf-netconf:copy-config", {"ietf-netconf:input": {"target": {"startup": [None]},
                                                                              "source": {"running": [None]}}})
    assert r.status == 204, r
    r = rest.get("/restconf/ds/ietf-datastores:startup/raven-vpn:pools")
    assert r.status == 200 and [p["name"] for p in r.json()["raven-vpn:pools"]["ipv4-pool"]] == ["c1"]
    assert rest.post(OPS + "/ietf-netconf:delete-config",
                     {"ietf-netconf:input": {"target": {"startup": [None]}}}).status == 204
    r = rest.get("/restconf/ds/ietf-datastores:startup/raven-vpn:pools")
    assert r.status == 400 and "does not exist" in r.errors()[0]["error-message"]
    r = rest.post(OPS + "/ietf-netconf:delete-config", {"ietf-netconf:input": {"target": {"candidate": [None]}}})
    assert r.status == 400, r
    # running through RFC 8527 holds configuration only
    r = rest.get(RUN)
    assert r.status == 200 and "raven-vpn:vpn-state" not in r.json()["ietf-restconf:data"]


def test_rest_and_netconf_see_each_other(rest, rd):
    assert rest.put(POOLS + "/ipv4-pool=fromrest", pool_body("fromrest", "10.30.0.1", "10.30.0.9")).status == 201
    with rd.connect() as m:
        got = m.get_config("running", filter=("subtree", f'<pools xmlns="{NS}"/>')).data_xml
        assert "fromrest" in got and "10.30.0.9" in got
        m.edit_config(target="running", config=cfg(f"""<pools xmlns="{NS}"><ipv4-pool><name>fromnc</name>
            <range><start>10.31.0.1</start><end>10.31.0.9</end></range></ipv4-pool></pools>"""))
        assert {"fromrest", "fromnc"} <= names(rest)
        # the same invalid edit fails the same way on both
        bad = pool_body("bad", "10.32.0.9", "10.32.0.1")  # end before start
        r = rest.put(POOLS + "/ipv4-pool=bad", bad)
        assert r.status == 400, r
        rest_msg = r.errors()[0]["error-message"]
        with pytest.raises(RPCError) as ei:
            m.edit_config(target="running", config=cfg(f"""<pools xmlns="{NS}"><ipv4-pool><name>bad</name>
                <range><start>10.32.0.9</start><end>10.32.0.1</end></range></ipv4-pool></pools>"""))
        assert ei.value.message == rest_msg
        # a NETCONF lock on running stops REST writers, reads go on
        m.lock("running")
        r = rest.put(POOLS + "/ipv4-pool=locked", pool_body("locked", "10.33.0.1", "10.33.0.9"))
        assert r.status == 409 and r.errors()[0]["error-tag"] in ("lock-denied", "in-use"), r
        assert rest.get(POOLS).status == 200
        m.unlock("running")
        assert rest.put(POOLS + "/ipv4-pool=locked", pool_body("locked", "10.33.0.1", "10.33.0.9")).status == 201
        # a REST change reaches NETCONF subscribers as netconf-config-change
        m.create_subscription()
        assert rest.delete(POOLS + "/ipv4-pool=locked").status == 204
        n = m.take_notification(timeout=10)
        assert n is not None and "netconf-config-change" in n.notification_xml
        assert "ipv4-pool[rv:name='locked']" in n.notification_xml and "<username>admin</username>" in \
            n.notification_xml


def served_cert(port):
    pem = ssl.get_server_certificate(("127.0.0.1", port))
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


def test_endpoints_and_certificate_change_live(rest, rd, tmp_path):
    port = rd.rest_port
    # the self-signed certificate of the first start, with its fingerprint in the log
    fp = served_cert(port)
    logged = ":".join(fp[i:i + 2] for i in range(0, 64, 2)).upper()
    assert logged in rd.log()
    # a second endpoint, added over REST, serves at once
    p2 = free_port()
    r = rest.put("/restconf/data/raven-vpn:management/rest/endpoint=second",
                 {"raven-vpn:endpoint": [{"name": "second", "address": "127.0.0.1", "port": p2}]})
    assert r.status == 201, r
    assert Rest(f"https://127.0.0.1:{p2}").get("/restconf").status == 200
    # an endpoint on a busy port fails in prepare and changes nothing
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        bp = busy.getsockname()[1]
        before = rest.get("/restconf/data/raven-vpn:management?content=config").body
        r = rest.put("/restconf/data/raven-vpn:management/rest/endpoint=busy",
                     {"raven-vpn:endpoint": [{"name": "busy", "address": "127.0.0.1", "port": bp}]})
        assert r.status == 409 and r.errors()[0]["error-tag"] == "resource-denied", r
        assert "busy" in r.errors()[0]["error-message"]
        assert rest.get("/restconf/data/raven-vpn:management?content=config").body == before
        assert Rest(f"https://127.0.0.1:{p2}").get("/restconf").status == 200
    finally:
        busy.close()
    # removing it stops it
    assert rest.delete("/restconf/data/raven-vpn:management/rest/endpoint=second").status == 204
    wait_until(lambda: not port_accepts(p2), timeout=5, what="the removed endpoint to stop listening")
    # a configured certificate replaces the self-signed one, live
    key, crt = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-out", str(crt), "-days", "2", "-subj", "/CN=raven-test"], check=True,
                   capture_output=True)
    r = rest.patch("/restconf/data/raven-vpn:management/rest",
                   {"raven-vpn:rest": {"certificate": crt.read_text(), "private-key": key.read_text()}})
    assert r.status == 204, r
    want = hashlib.sha256(subprocess.run(["openssl", "x509", "-outform", "DER", "-in", str(crt)],
                                         capture_output=True, check=True).stdout).hexdigest()
    wait_until(lambda: served_cert(port) == want, timeout=5, what="the configured certificate to be served")
    # the key is a secret: never read back
    r = rest.get("/restconf/data/raven-vpn:management/rest/private-key")
    assert r.json()["raven-vpn:private-key"] == "********"
    # a key that does not match its certificate is refused and nothing changes
    other = tmp_path / "o.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
                    str(other)], check=True, capture_output=True)
    r = rest.patch("/restconf/data/raven-vpn:management/rest", {"raven-vpn:rest": {"private-key": other.read_text()}})
    assert r.status in (400, 409), r
    assert served_cert(port) == want


def test_yang_patch(rest):
    """RFC 8072: the edits of a patch are one transaction."""
    YP = "application/yang-patch+json"

    def patch(path, pid, edits, ctype=YP):
        return rest.patch(path, {"ietf-yang-patch:yang-patch": {"patch-id": pid, "edit": edits}}, ctype=ctype)

    def pool(name, start, end):
        return {"raven-vpn:ipv4-pool": [{"name": name, "range": [{"start": start, "end": end}]}]}

    r = patch(POOLS, "p1", [
        {"edit-id": "e1", "operation": "create", "target": "/ipv4-pool=a", "value": pool("a", "10.50.0.1", "10.50.0.9")},
        {"edit-id": "e2", "operation": "merge", "target": "/ipv4-pool=b", "value": pool("b", "10.51.0.1", "10.51.0.9")},
        {"edit-id": "e3", "operation": "replace", "target": "/ipv4-pool=b/netmask",
         "value": {"raven-vpn:netmask": "255.255.255.0"}}])
    assert r.status == 200 and r.json() == {"ietf-yang-patch:yang-patch-status": {"patch-id": "p1", "ok": [None]}}, r
    assert names(rest) == {"a", "b"}
    # one failing edit fails the whole patch: a stays
    r = patch("/restconf/data", "p2", [
        {"edit-id": "e1", "operation": "delete", "target": "/raven-vpn:pools/ipv4-pool=a"},
        {"edit-id": "e2", "operation": "create", "target": "/raven-vpn:pools/ipv4-pool=b",
         "value": pool("b", "10.51.0.1", "10.51.0.9")}])
    assert r.status == 409, r
    st = r.json()["ietf-yang-patch:yang-patch-status"]
    assert st["patch-id"] == "p2" and st["errors"]["error"][0]["error-tag"] == "data-exists"
    assert names(rest) == {"a", "b"}
    # remove of what is absent is no error; delete of it is
    assert patch(POOLS, "p3", [{"edit-id": "e1", "operation": "remove", "target": "/ipv4-pool=zz"},
                               {"edit-id": "e2", "operation": "delete", "target": "/ipv4-pool=a"}]).status == 200
    assert names(rest) == {"b"}
    assert patch(POOLS, "p4", [{"edit-id": "e1", "operation": "delete", "target": "/ipv4-pool=zz"}]).status == 409
    # two edits of one node, insert/move, a value that is not the target, malformed patches, XML
    bad = [
        ([{"edit-id": "e1", "operation": "merge", "target": "/ipv4-pool=c", "value": pool("c", "10.52.0.1", "10.52.0.2")},
          {"edit-id": "e2", "operation": "replace", "target": "/ipv4-pool=c", "value": pool("c", "10.52.0.1",
                                                                                            "10.52.0.3")}], 400),
        ([{"edit-id": "e1", "operation": "insert", "target": "/ipv4-pool=c", "value": pool("c", "10.52.0.1",
                                                                                           "10.52.0.2")}], 501),
        ([{"edit-id": "e1", "operation": "merge", "target": "/ipv4-pool=c", "value": pool("d", "10.52.0.1",
                                                                                          "10.52.0.2")}], 400),
        ([{"edit-id": "e1", "operation": "merge", "target": "/ipv4-pool=c"}], 400),
        ([{"operation": "merge", "target": "/ipv4-pool=c"}], 400),
        ([{"edit-id": "e1", "operation": "frobnicate", "target": "/ipv4-pool=c"}], 400),
        ([{"edit-id": "e1", "operation": "merge", "target": "/nosuch=1", "value": {"raven-vpn:nosuch": [{}]}}], 400),
    ]
    for edits, status in bad:
        r = patch(POOLS, "px", edits)
        assert r.status == status, (edits, r)
        assert r.json()["ietf-yang-patch:yang-patch-status"]["errors"]["error"][0]["error-message"]
    assert names(rest) == {"b"}
    r = rest.patch(POOLS, {"edit": []}, ctype=YP)
    assert r.status == 400 and r.errors()[0]["error-tag"] == "malformed-message"
    r = rest.patch(POOLS, "<yang-patch/>", ctype="application/yang-patch+xml")
    assert r.status == 415
    r = rest.put(POOLS, {"ietf-yang-patch:yang-patch": {"patch-id": "x", "edit": []}}, ctype=YP)
    assert r.status == 415
