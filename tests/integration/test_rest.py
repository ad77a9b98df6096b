"""RESTCONF (RFC 8040) through curl: the API root, authentication and roles, every
method on /restconf/data with both media types, the query parameters, entity tags,
and every error the issue names: each answered with ietf-restconf:errors, the right
status, and no change."""
import re
import select
import socket
import ssl
import time

import pytest

from resthelpers import JSON, XML, READER_PW, Rest, pool_body

REQUIRES = ("ncclient",)

POOLS = "/restconf/data/raven-vpn:pools"


@pytest.fixture
def rd(make_ravend):
    return make_ravend(rest=True)


@pytest.fixture
def rest(rd):
    return Rest(rd.rest_url)


def pools(rest):
    r = rest.get(POOLS)
    if r.status == 404:
        return {}
    assert r.status == 200, r
    return {p["name"]: p for p in r.json()["raven-vpn:pools"].get("ipv4-pool", [])}


def test_root_host_meta_and_media_types(rest):
    r = rest.get("/.well-known/host-meta", auth="none", accept=None)
    assert r.status == 200 and '<Link rel="restconf" href="/restconf"/>' in r.body
    assert r.headers["content-type"] == "application/xrd+xml"
    r = rest.get("/restconf")
    assert r.status == 200 and r.json() == {"ietf-restconf:restconf": {
        "data": {}, "operations": {}, "yang-library-version": "2019-01-04"}}
    r = rest.get("/restconf/yang-library-version", accept=XML)
    assert r.status == 200 and ">2019-01-04</yang-library-version>" in r.body
    assert r.headers["content-type"] == XML
    r = rest.get("/restconf/data/ietf-yang-library:yang-library/module-set")
    assert r.status == 200 and any(m["name"] == "raven-vpn" for m in
                                   r.json()["ietf-yang-library:module-set"][0]["module"])
    # YANG modules, as NETCONF's get-schema
    r = rest.get("/restconf/yang/raven-vpn", accept="application/yang")
    assert r.status == 200 and r.headers["content-type"] == "application/yang"
    assert r.body.startswith("module raven-vpn {") and "container vpn-state" in r.body
    assert rest.get("/restconf/yang/ietf-inet-types@2013-07-15", accept=None).status == 200
    assert rest.get("/restconf/yang/nosuch", accept=None).status == 404
    assert rest.get("/restconf/yang/raven-vpn@1999-01-01", accept=None).status == 404
    # an Accept the server cannot satisfy
    r = rest.get("/restconf/data", accept="text/html")
    assert r.status == 406 and r.errors()[0]["error-tag"] == "invalid-value"
    # HTTPS only, with the security headers
    assert "max-age" in r.headers["strict-transport-security"]
    # the dashboard: no credentials needed for its files, security headers on them
    r = rest.get("/", auth="none", accept=None)
    assert r.status == 302 and r.headers["location"] == "/ui/"
    r = rest.get("/ui/", auth="none", accept=None)
    assert r.status == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["content-security-policy"].startswith("default-src 'self'")
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    for bad in ["/ui/../README.md", "/ui/%2e%2e/README.md", "/ui/js/../../../etc/passwd", "/ui/nosuch.js"]:
        assert rest.get(bad, auth="none", accept=None, extra=["--path-as-is"]).status == 404, bad
    assert rest.req("POST", "/ui/index.html", "x", auth="none").status == 405
    with socket.create_connection(("127.0.0.1", int(rest.url.rsplit(":", 1)[1]))) as s:
        s.sendall(b"GET /restconf HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(5)
        try:
            data = s.recv(100)
        except (ConnectionResetError, socket.timeout):
            data = b""
        assert not data.startswith(b"HTTP/1.1 200"), data


def test_authentication_tokens_cookie_and_roles(rest, rd):
    r = rest.get(POOLS, auth="none")
    assert r.status == 401 and r.headers["www-authenticate"].startswith("Basic")
    assert r.errors()[0]["error-tag"] == "access-denied"
    r = rest.get(POOLS, password="wrong")
    assert r.status == 401
    r = rest.get(POOLS, user="nobody")
    assert r.status == 401
    r = rest.req("POST", "/auth/token", {"username": "admin", "password": "nope"}, ctype="application/json",
                 auth="none")
    assert r.status == 401
    r = rest.req("POST", "/auth/token", "{not json", ctype="application/json", auth="none")
    assert r.status == 400 and r.errors()[0]["error-tag"] == "malformed-message"
    # Basic credentials also get a token
    r = rest.req("POST", "/auth/token", accept=None)
    assert r.status == 200 and r.json()["role"] == "admin"
    assert "HttpOnly" in r.headers["set-cookie"] and "Secure" in r.headers["set-cookie"]
    tok = rest.token()
    assert re.fullmatch(r"[0-9a-f]{64}", tok)
    assert rest.get(POOLS, auth=("bearer", tok)).status in (200, 404)
    r = rest.get(POOLS, auth=("bearer", "0" * 64))
    assert r.status == 401 and r.headers["www-authenticate"].startswith("Bearer")  # no browser password dialog
    # the cookie authenticates reads only: a forged cross-site write cannot use it
    assert rest.get(POOLS, auth=("cookie", tok)).status in (200, 404)
    r = rest.put(POOLS + "/ipv4-pool=c", pool_body("c", "10.1.0.1", "10.1.0.9"), auth=("cookie", tok))
    assert r.status == 401 and "c" not in pools(rest)
    assert rest.put(POOLS + "/ipv4-pool=c", pool_body("c", "10.1.0.1", "10.1.0.9"),
                    auth=("bearer", tok)).status == 201
    # revoking the token ends it
    assert rest.delete("/auth/token", auth=("bearer", tok), accept=None).status == 204
    assert rest.get(POOLS, auth=("bearer", tok)).status == 401

    # the read-only role reads (secrets masked) and changes nothing
    reader = Rest(rest.url, "reader", READER_PW)
    r = reader.get("/restconf/data/raven-vpn:management/user=admin")
    assert r.status == 200 and r.json()["raven-vpn:user"][0]["password-hash"] == "********"
    for method, path, body in [("PUT", POOLS + "/ipv4-pool=d", pool_body("d", "10.2.0.1", "10.2.0.9")),
                               ("POST", POOLS, pool_body("d", "10.2.0.1", "10.2.0.9")),
                               ("PATCH", POOLS + "/ipv4-pool=c", pool_body("c", "10.1.0.1", "10.1.0.5")),
                               ("DELETE", POOLS + "/ipv4-pool=c", None),
                               ("POST", "/restconf/operations/raven-vpn:clear-counters", None)]:
        r = reader.req(method, path, body)
        assert r.status == 403, (method, path, r)
        assert r.errors()[0]["error-tag"] == "access-denied"
    assert set(pools(rest)) == {"c"}
    assert pools(rest)["c"]["range"][0]["end"] == "10.1.0.9"
    # a token of a user whose role changes ends
    rtok = rest.token("reader", READER_PW)
    assert rest.patch("/restconf/data/raven-vpn:management/user=reader",
                      {"raven-vpn:user": [{"name": "reader", "role": "admin"}]}).status == 204
    assert rest.get(POOLS, auth=("bearer", rtok)).status == 401
    # and a removed user can no longer log in
    assert rest.delete("/restconf/data/raven-vpn:management/user=reader").status == 204
    assert reader.get(POOLS).status == 401


def test_put_post_patch_delete(rest):
    # PUT creates (201, Location), then replaces (204)
    r = rest.put(POOLS + "/ipv4-pool=corp", pool_body("corp", "10.9.0.10", "10.9.0.200", netmask="255.255.255.0"))
    assert r.status == 201, r
    assert r.headers["location"] == POOLS + "/ipv4-pool=corp" and r.headers["etag"]
    r = rest.put(POOLS + "/ipv4-pool=corp", pool_body("corp", "10.9.0.10", "10.9.0.100"))
    assert r.status == 204, r
    p = pools(rest)["corp"]
    assert p["range"] == [{"start": "10.9.0.10", "end": "10.9.0.100"}] and "netmask" not in p  # replaced
    # a leaf
    assert rest.put(POOLS + "/ipv4-pool=corp/netmask", {"raven-vpn:netmask": "255.255.0.0"}).status == 201
    assert rest.put(POOLS + "/ipv4-pool=corp/netmask", {"raven-vpn:netmask": "255.255.0.0"}).status == 204
    assert pools(rest)["corp"]["netmask"] == "255.255.0.0"
    # POST creates a child; a second time it exists
    r = rest.post(POOLS, pool_body("p2", "10.8.0.10", "10.8.0.100"))
    assert r.status == 201 and r.headers["location"] == POOLS + "/ipv4-pool=p2", r
    r = rest.post(POOLS, pool_body("p2", "10.8.0.10", "10.8.0.100"))
    assert r.status == 409 and r.errors()[0]["error-tag"] == "data-exists"
    # POST to the list's URI, in XML, with a key that needs percent-encoding
    xml = ('<ipv4-pool xmlns="urn:raven:params:xml:ns:yang:raven-vpn"><name>a/b:c+d</name>'
           '<range><start>10.7.0.1</start><end>10.7.0.9</end></range></ipv4-pool>')
    r = rest.post(POOLS + "/ipv4-pool", xml, ctype=XML)
    assert r.status == 201 and r.headers["location"] == POOLS + "/ipv4-pool=a%2Fb%3Ac%2Bd", r
    r = rest.get(POOLS + "/ipv4-pool=a%2Fb%3Ac%2Bd/range=10.7.0.1", accept=XML)
    assert r.status == 200 and "<end>10.7.0.9</end>" in r.body and r.headers["content-type"] == XML
    # PATCH merges
    assert rest.patch(POOLS + "/ipv4-pool=p2", {"raven-vpn:ipv4-pool": [{"name": "p2", "netmask":
                                                                          "255.255.255.0"}]}).status == 204
    p = pools(rest)["p2"]
    assert p["netmask"] == "255.255.255.0" and p["range"][0]["end"] == "10.8.0.100"
    # PATCH of the datastore: ietf-restconf:data
    r = rest.patch("/restconf/data", {"ietf-restconf:data": {"raven-vpn:pools": {"ipv4-pool": [
        {"name": "p3", "range": [{"start": "10.6.0.1", "end": "10.6.0.2"}]}]}}})
    assert r.status == 204, r
    assert "p3" in pools(rest)
    # DELETE, then it is gone
    assert rest.delete(POOLS + "/ipv4-pool=p2/netmask").status == 204
    assert "netmask" not in pools(rest)["p2"]
    assert rest.delete(POOLS + "/ipv4-pool=p2").status == 204
    r = rest.delete(POOLS + "/ipv4-pool=p2")
    assert r.status == 404 and r.errors()[0]["error-tag"] == "data-missing"
    assert set(pools(rest)) == {"corp", "a/b:c+d", "p3"}


def test_get_query_parameters(rest):
    assert rest.put(POOLS + "/ipv4-pool=q", pool_body("q", "10.3.0.1", "10.3.0.9", netmask="255.255.255.0")).status \
        == 201
    # depth: 1 is the target alone, then one level more each
    r = rest.get(POOLS + "?depth=1")
    assert r.status == 200 and r.json() == {"raven-vpn:pools": {}}, r
    r = rest.get(POOLS + "?depth=2")
    assert r.json() == {"raven-vpn:pools": {"ipv4-pool": [{"name": "q"}]}}, r
    r = rest.get(POOLS + "?depth=unbounded")
    assert r.json()["raven-vpn:pools"]["ipv4-pool"][0]["range"][0]["end"] == "10.3.0.9"
    # fields
    r = rest.get(POOLS + "?fields=ipv4-pool(name;range/end)")
    assert r.json() == {"raven-vpn:pools": {"ipv4-pool": [{"name": "q", "range": [{"start": "10.3.0.1",
                                                                                     "end": "10.3.0.9"}]}]}}, r
    r = rest.get(POOLS + "/ipv4-pool=q?fields=netmask")
    assert r.json() == {"raven-vpn:ipv4-pool": [{"name": "q", "netmask": "255.255.255.0"}]}, r
    # content
    r = rest.get("/restconf/data?content=config")
    assert r.status == 200 and "raven-vpn:vpn-state" not in r.json()["ietf-restconf:data"]
    r = rest.get("/restconf/data?content=nonconfig")
    d = r.json()["ietf-restconf:data"]
    assert "raven-vpn:vpn-state" in d and "raven-vpn:pools" not in d
    r = rest.get("/restconf/data")
    d = r.json()["ietf-restconf:data"]
    assert "raven-vpn:vpn-state" in d and "raven-vpn:pools" in d
    r = rest.get("/restconf/data/raven-vpn:vpn-state/ike-counters?content=config")
    assert r.status == 404
    # with-defaults
    mg = "/restconf/data/raven-vpn:management/netconf"
    assert "enabled" not in rest.get(mg).json()["raven-vpn:netconf"]
    assert rest.get(mg + "?with-defaults=report-all").json()["raven-vpn:netconf"]["enabled"] is True
    assert "enabled" not in rest.get(mg + "?with-defaults=trim").json()["raven-vpn:netconf"]
    assert "enabled" not in rest.get(mg + "?with-defaults=explicit").json()["raven-vpn:netconf"]
    tagged = rest.get(mg + "?with-defaults=report-all-tagged").json()["raven-vpn:netconf"]
    assert tagged["enabled"] is True and "@enabled" in tagged, tagged
    # bad or unknown parameters
    for q in ["depth=0", "depth=x", "content=some", "with-defaults=all", "fields=a(b", "fields=(", "bogus=1",
              "depth=1&depth=2", "insert=first"]:
        r = rest.get(POOLS + "?" + q)
        assert r.status == 400 and r.errors()[0]["error-tag"] == "invalid-value", (q, r)
    r = rest.get(POOLS + "?fields=nosuch")
    assert r.status in (400, 404), r
    # parameters of reads are refused on writes
    r = rest.put(POOLS + "/ipv4-pool=q?depth=1", pool_body("q", "10.3.0.1", "10.3.0.9"))
    assert r.status == 400


def test_entity_tags_and_dates(rest):
    r = rest.get(POOLS + "/ipv4-pool=e") if False else rest.get("/restconf/data/raven-vpn:management")
    etag, lm = r.headers["etag"], r.headers["last-modified"]
    assert rest.get("/restconf/data/raven-vpn:management", headers=[f"If-None-Match: {etag}"]).status == 304
    assert rest.get("/restconf/data/raven-vpn:management", headers=[f"If-Modified-Since: {lm}"]).status == 304
    # state has no entity tag
    assert "etag" not in rest.get("/restconf/data/raven-vpn:vpn-state").headers
    time.sleep(1.1)
    r = rest.put(POOLS + "/ipv4-pool=e", pool_body("e", "10.4.0.1", "10.4.0.9"))
    assert r.status == 201 and r.headers["etag"] != etag
    r2 = rest.get("/restconf/data/raven-vpn:management", headers=[f"If-None-Match: {etag}"])
    assert r2.status == 200 and r2.headers["etag"] == r.headers["etag"]
    # a write with a stale tag fails and changes nothing
    r = rest.put(POOLS + "/ipv4-pool=e", pool_body("e", "10.4.0.1", "10.4.0.5"), headers=[f"If-Match: {etag}"])
    assert r.status == 412, r
    assert pools(rest)["e"]["range"][0]["end"] == "10.4.0.9"
    r = rest.put(POOLS + "/ipv4-pool=e", pool_body("e", "10.4.0.1", "10.4.0.5"), headers=[f"If-Unmodified-Since: {lm}"])
    assert r.status == 412
    cur = rest.get(POOLS).headers["etag"]
    assert rest.put(POOLS + "/ipv4-pool=e", pool_body("e", "10.4.0.1", "10.4.0.5"),
                    headers=[f"If-Match: {cur}"]).status == 204


@pytest.mark.parametrize("case", [
    "malformed-json", "malformed-xml", "wrong-ctype", "no-ctype", "unknown-node", "bad-value", "key-mismatch",
    "two-nodes", "state-write", "unknown-path", "unknown-module", "missing-keys", "too-many-keys", "no-body",
    "delete-body", "delete-root", "patch-missing", "post-missing-parent", "bad-escape", "wrong-method-ops",
    "unknown-resource", "xml-wrong-root", "json-control-chars", "json-annotation",
])
def test_bad_input_is_refused_and_changes_nothing(rest, case):
    assert rest.put(POOLS + "/ipv4-pool=keep", pool_body("keep", "10.5.0.1", "10.5.0.9")).status == 201
    before = rest.get("/restconf/data?content=config").body
    target = POOLS + "/ipv4-pool=keep"
    cases = {
        "malformed-json": (lambda: rest.put(target, '{"raven-vpn:ipv4-pool": [{"name": "keep",'), 400,
                           "malformed-message"),
        "malformed-xml": (lambda: rest.put(target, "<ipv4-pool xmlns='urn:raven:params:xml:ns:yang:raven-vpn'>"
                                           "<name>keep</name", ctype=XML), 400, "malformed-message"),
        "wrong-ctype": (lambda: rest.put(target, "name=keep", ctype="application/x-www-form-urlencoded"), 415,
                        "invalid-value"),
        "no-ctype": (lambda: rest.put(target, "{}", ctype=None,
                                      extra=["-H", "Content-Type:"]), 415, "invalid-value"),
        "unknown-node": (lambda: rest.put(target, {"raven-vpn:ipv4-pool": [{"name": "keep", "colour": "red"}]}), 400,
                         "unknown-element"),
        "bad-value": (lambda: rest.put(target, pool_body("keep", "10.5.0.1", "300.1.1.1")), 400, "invalid-value"),
        "key-mismatch": (lambda: rest.put(target, pool_body("other", "10.5.0.1", "10.5.0.2")), 400, "invalid-value"),
        "two-nodes": (lambda: rest.post(POOLS, {"raven-vpn:ipv4-pool": [
            {"name": "n1", "range": [{"start": "10.5.1.1", "end": "10.5.1.2"}]},
            {"name": "n2", "range": [{"start": "10.5.2.1", "end": "10.5.2.2"}]}]}), 400, "malformed-message"),
        "state-write": (lambda: rest.put("/restconf/data/raven-vpn:vpn-state", {"raven-vpn:vpn-state": {}}), 405,
                        "operation-not-supported"),
        "unknown-path": (lambda: rest.put(POOLS + "/nosuch=1", {"raven-vpn:nosuch": []}), 404, "invalid-value"),
        "unknown-module": (lambda: rest.get("/restconf/data/nosuch:pools"), 404, "unknown-element"),
        "missing-keys": (lambda: rest.get(POOLS + "/ipv4-pool/range"), 400, "invalid-value"),
        "too-many-keys": (lambda: rest.get(POOLS + "/ipv4-pool=a,b"), 400, "invalid-value"),
        "no-body": (lambda: rest.req("PUT", target), 400, "malformed-message"),
        "delete-body": (lambda: rest.req("DELETE", target, "{}"), 400, "malformed-message"),
        "delete-root": (lambda: rest.delete("/restconf/data"), 405, "operation-not-supported"),
        "patch-missing": (lambda: rest.patch(POOLS + "/ipv4-pool=nope", pool_body("nope", "10.5.3.1", "10.5.3.2")),
                          404, "invalid-value"),
        "post-missing-parent": (lambda: rest.post(POOLS + "/ipv4-pool=nope", {"raven-vpn:range": [
            {"start": "10.5.3.1", "end": "10.5.3.2"}]}), 404, "invalid-value"),
        "bad-escape": (lambda: rest.get(POOLS + "/ipv4-pool=%zz"), 400, "invalid-value"),
        "wrong-method-ops": (lambda: rest.put("/restconf/operations/raven-vpn:clear-counters", "{}"), 405,
                             "operation-not-supported"),
        "unknown-resource": (lambda: rest.get("/restconf/nothing"), 404, "invalid-value"),
        "xml-wrong-root": (lambda: rest.patch("/restconf/data", "<config xmlns='urn:x'/>", ctype=XML), 400,
                           "malformed-message"),
        # malformed JSON and metadata annotations are refused before they reach libyang's parser
        "json-control-chars": (lambda: rest.put(target, '{"@raven-vpn:ipv4-pool":[{"name":"keep","range":[{"start":'
                                                '"10.9.0.10","end":"10.9.\x17\x17\x17\x17\x17}]}]}'), 400,
                               "malformed-message"),
        "json-annotation": (lambda: rest.put(target, '{"@raven-vpn:ipv4-pool":[{"name":"keep","range":[]}]}'), 400,
                            "malformed-message"),
    }
    fn, status, tag = cases[case]
    r = fn()
    assert r.status == status, r
    errs = r.errors()
    assert errs and errs[0]["error-tag"] == tag, r
    assert errs[0].get("error-message"), r
    if status == 405:
        assert "allow" in r.headers
    assert rest.get("/restconf/data?content=config").body == before


def test_xml_errors_and_oversized_body(rest):
    r = rest.put(POOLS + "/ipv4-pool=x", "<broken", ctype=XML, accept=XML)
    assert r.status == 400 and r.body.startswith('<errors xmlns="urn:ietf:params:xml:ns:yang:ietf-restconf">')
    assert "<error-tag>malformed-message</error-tag>" in r.body
    big = '{"raven-vpn:ipv4-pool":[{"name":"' + "x" * (5 << 20) + '"}]}'
    r = rest.put(POOLS + "/ipv4-pool=x", big)
    assert r.status == 413 and r.errors()[0]["error-tag"] == "too-big"
    # chunked, without a length: refused at the limit too
    r = rest.put(POOLS + "/ipv4-pool=x", big, extra=["-H", "Transfer-Encoding: chunked"])
    assert r.status == 413
    assert rest.get(POOLS).status in (200, 404)


def test_limits_slow_and_many_clients(rest):
    """Idle and half-sent connections neither block other clients nor exhaust the
    server: a client address gets at most 64 connections, the rest keep working."""
    port = int(rest.url.rsplit(":", 1)[1])
    socks = []
    try:
        for _ in range(70):
            try:
                socks.append(socket.create_connection(("127.0.0.1", port), timeout=2))
            except OSError:
                break
        # a TLS client that sends half a request and stalls
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        time.sleep(0.5)
        # the connections beyond the per-address limit were closed by the server

        readable, _, _ = select.select(socks, [], [], 2.0)
        closed = 0
        for s in readable:
            try:
                if s.recv(1) == b"":
                    closed += 1
            except OSError:
                closed += 1
        assert closed >= 70 - 64, closed
    finally:
        for s in socks:
            s.close()
    # the server notices the closed connections as it polls them: until then a new
    # one from this address may still be over the limit
    deadline = time.time() + 10
    while True:
        raw = socket.create_connection(("127.0.0.1", port))
        try:
            stalled = ctx.wrap_socket(raw)
            break
        except (ssl.SSLError, ConnectionResetError, OSError):
            raw.close()
            assert time.time() < deadline, "the server still refuses this address"
            time.sleep(0.2)
    stalled.sendall(b"GET /restconf HTTP/1.1\r\nHost: x\r\n")  # no final empty line
    try:
        r = rest.get("/restconf")
        assert r.status == 200
    finally:
        stalled.close()


def test_password_guessing_is_throttled(rest, rd):
    """20 failed logins within a minute block the address for a minute: even the
    right password then gets 429 with Retry-After; writes are in the audit log."""
    assert rest.put(POOLS + "/ipv4-pool=audit", pool_body("audit", "10.60.0.1", "10.60.0.2")).status == 201
    assert "PUT /restconf/data/raven-vpn:pools/ipv4-pool=audit by admin: 201" in rd.log()
    for i in range(20):
        r = rest.get(POOLS, password=f"guess-{i}") if i % 2 else rest.req(
            "POST", "/auth/token", {"username": "admin", "password": f"guess-{i}"}, ctype="application/json",
            auth="none")
        assert r.status == 401, (i, r)
    r = rest.get(POOLS)
    assert r.status == 429 and 0 < int(r.headers["retry-after"]) <= 60, r
    assert "too many failed logins" in r.errors()[0]["error-message"]
    r = rest.req("POST", "/auth/token", {"username": "admin", "password": "x"}, ctype="application/json",
                 auth="none")
    assert r.status == 429
    # requests without credentials are not logins: the dashboard's files still load
    assert rest.get("/ui/", auth="none", accept=None).status == 200
