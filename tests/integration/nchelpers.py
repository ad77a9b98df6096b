"""Helpers shared by the NETCONF integration tests: builders for the raven-vpn XML
the tests edit with, rpc-error inspection, reading datastores back as parsed XML, and
an order-insensitive comparison of configuration trees."""
import zlib
import re
import socket
import time

import pytest
from lxml import etree
from ncclient.operations.rpc import RPCError
from ncclient.xml_ import to_ele

from conftest import NC_NS, NS, cfg

MASK = "********"
RT_NS = "urn:raven:params:xml:ns:yang:raven-types"
MON_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
YANGLIB_NS = "urn:ietf:params:xml:ns:yang:ietf-yang-library"
NCN_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
WD_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults"
WD_ATTR_NS = "urn:ietf:params:xml:ns:netconf:default:1.0"


def q(name, ns=NS):
    """Clark notation of a raven-vpn (or other) element name."""
    return f"{{{ns}}}{name}"


# --------------------------------------------------------------------------
# XML builders. `op` puts an nc:operation attribute on the element it names;
# cfg() (conftest) declares the nc prefix on <config>.


def _op(op):
    return f' nc:operation="{op}"' if op else ""


def top(name, inner="", op=None):
    """A raven-vpn top-level container."""
    return f'<{name} xmlns="{NS}"{_op(op)}>{inner}</{name}>'


def _pool_net(name):
    """The /24 of a pool's default range, per name: pools must not overlap (p1 is
    10.1.0.0/24)."""
    if name == "p1":
        return "1.0"
    h = zlib.crc32(name.encode())
    return f"{100 + h % 150}.{h // 150 % 250}"


def pool(name, start="", end="", netmask=None, op=None):
    if start == "":
        start = f"10.{_pool_net(name)}.1"
    if end == "":
        end = f"10.{_pool_net(name)}.9"
    nm = f"<netmask>{netmask}</netmask>" if netmask else ""
    rng = f"<range><start>{start}</start><end>{end}</end></range>" if start else ""
    return f"<ipv4-pool{_op(op)}><name>{name}</name>{rng}{nm}</ipv4-pool>"


def pools(*entries, op=None):
    return top("pools", "".join(entries), op)


def pool_cfg(name, **kw):
    """<config> holding one IPv4 pool."""
    return cfg(pools(pool(name, **kw)))


def radius(name, key=None, address="192.0.2.1", op=None, key_op=None, extra=""):
    k = f"<key{_op(key_op)}>{key}</key>" if key is not None else ""
    addr = f"<address>{address}</address>" if address else ""
    return f"<radius-server{_op(op)}><name>{name}</name>{addr}{k}{extra}</radius-server>"


def aaa(*entries, op=None):
    return top("aaa", "".join(entries), op)


def keyring(name, peer, psk, op=None):
    return top("ikev2", f"<keyring><name>{name}</name><peer{_op(op)}><name>{peer}</name>"
                        f"<address>192.0.2.0/24</address><pre-shared-key>{psk}</pre-shared-key>"
                        f"</peer></keyring>")


def author_policy(name, pool_ref=None, op=None):
    p = f"<pool>{pool_ref}</pool>" if pool_ref else ""
    return top("ikev2", f"<authorization-policy{_op(op)}><name>{name}</name>{p}</authorization-policy>")


def user(name, pw_hash=None, role=None, key=None, op=None):
    h = f"<password-hash>{pw_hash}</password-hash>" if pw_hash else ""
    k = f"<authorized-key>{key}</authorized-key>" if key else ""
    r = f"<role>{role}</role>" if role else ""
    return top("management", f"<user{_op(op)}><name>{name}</name>{h}{k}{r}</user>")


def endpoint(name, port, address="127.0.0.1", op=None):
    return top("management", f"<netconf><endpoint{_op(op)}><name>{name}</name><address>{address}</address>"
                             f"<port>{port}</port></endpoint></netconf>")


def interface(name, role="outside", op=None):
    return top("dataplane", f"<interface{_op(op)}><name>{name}</name><role>{role}</role></interface>")


def subtree(name, inner="", ns=NS):
    """A subtree filter tuple for ncclient."""
    return ("subtree", f'<{name} xmlns="{ns}">{inner}</{name}>')


# --------------------------------------------------------------------------
# rpc-errors


def rpc_errors(exc):
    """The individual rpc-errors of an ncclient RPCError (one or several)."""
    return list(getattr(exc, "errors", None) or [exc])


def expect_error(fn, tag, path_contains=None):
    """Runs fn(), which must fail with an rpc-error of @tag; returns that error.
    Checks that it carries a message, and an error-path containing @path_contains
    when given."""
    with pytest.raises(RPCError) as ei:
        fn()
    errs = rpc_errors(ei.value)
    tags = [e.tag for e in errs]
    match = [e for e in errs if e.tag == tag]
    assert match, f"expected rpc-error {tag}, got {tags}: {[e.message for e in errs]}"
    e = match[0]
    assert e.message and e.message.strip(), f"rpc-error {tag} has no error-message"
    if path_contains is not None:
        assert e.path, f"rpc-error {tag} ({e.message}) has no error-path"
        assert path_contains in e.path, f"error-path {e.path!r} does not name {path_contains!r}"
    return e


def error_info(err):
    """error-info of an rpc-error as an element (or None)."""
    return etree.fromstring(err.info.encode()) if err.info else None


# --------------------------------------------------------------------------
# reading datastores


def data_of(reply):
    """The <data> element of a get / get-config reply (also of a raw dispatch)."""
    if hasattr(reply, "data_xml"):
        return etree.fromstring(reply.data_xml.encode())
    if hasattr(reply, "xml"):
        root = etree.fromstring(reply.xml.encode())
        found = root.find(f"{{{NC_NS}}}data")
        assert found is not None, f"no <data> in reply: {reply.xml[:300]}"
        return found
    return reply


def get_config(m, source="running", filt=None, **kw):
    return data_of(m.get_config(source=source, filter=filt, **kw))


def find_all(el, path):
    """Elements at a '/'-separated raven-vpn path below @el (e.g. 'pools/ipv4-pool')."""
    xp = "/".join(f"rv:{p}" for p in path.split("/"))
    return el.xpath(xp, namespaces={"rv": NS})


def texts(el, path):
    return [e.text for e in find_all(el, path)]


def pool_names(m, source="running"):
    return sorted(texts(get_config(m, source, subtree("pools")), "pools/ipv4-pool/name"))


def running_state(ravend, m):
    """(file bytes, canonical get-config running) — what must stay unchanged when an
    edit or commit fails."""
    return ravend.running_file(), canon_children(get_config(m, "running"))


def assert_unchanged(ravend, m, before):
    after = running_state(ravend, m)
    assert after[0] == before[0], "running.xml changed although the operation failed"
    assert after[1] == before[1], "running changed although the operation failed"


# --------------------------------------------------------------------------
# tree comparison

_QNAME_RE = re.compile(r"^([A-Za-z_][\w.-]*):([A-Za-z_][\w.-]*)$")


def _value(el):
    t = (el.text or "").strip()
    m = _QNAME_RE.match(t)
    if m and m.group(1) in (el.nsmap or {}):  # identityref: compare by namespace
        return f"{{{el.nsmap[m.group(1)]}}}{m.group(2)}"
    return t


# The "ordered-by user" leaf-lists of raven-vpn, as (parent, leaf-list) names: their
# order is part of the configuration; every other order is not.
ORDERED_BY_USER = {
    ("proposal", "encryption"), ("proposal", "integrity"), ("proposal", "prf"), ("proposal", "group"),
    ("policy", "proposal"), ("authorization-policy", "backup-gateway"), ("authorization-policy", "split-dns"),
    ("profile", "transform-set"), ("server-group", "server"), ("trustpoint", "ca-certificate"),
}


def _localname(el):
    return etree.QName(el).localname


def canon(el):
    """Canonical form of an element: tag, value (identityrefs resolved to their
    namespace) and the children, sorted except for ordered-by-user leaf-lists."""
    if not isinstance(el.tag, str):  # comments, processing instructions
        return None
    return (el.tag, _value(el) if not len(el) else "", canon_children(el))


def canon_children(el):
    parent = _localname(el) if isinstance(el.tag, str) else ""
    free, ordered = [], {}
    for c in el:
        if not isinstance(c.tag, str):
            continue
        if (parent, _localname(c)) in ORDERED_BY_USER:
            ordered.setdefault(c.tag, []).append(_value(c))
        else:
            free.append(canon(c))
    free.extend((tag, "ordered", tuple(vals)) for tag, vals in ordered.items())
    return tuple(sorted(free, key=repr))


def parse_config_file(path):
    """Top-level elements of an XML configuration file (siblings without a root)."""
    with open(path, "rb") as f:
        body = f.read()
    body = re.sub(rb"^<\?xml[^>]*\?>", b"", body.strip())
    parser = etree.XMLParser(remove_comments=True, remove_blank_text=True)
    root = etree.fromstring(b"<root>" + body + b"</root>", parser)
    return list(root)


# --------------------------------------------------------------------------
# raw RPCs


def rpc(m, xml):
    """Sends a hand-built RPC (the operation element, namespaced) and returns the reply."""
    return m.dispatch(to_ele(xml))


def nc_elem(xml):
    return to_ele(xml)


def inline_config(body):
    """A <config> element (for validate / copy-config sources)."""
    return to_ele(cfg(body))


def inline_source(body):
    return to_ele(f'<source xmlns="{NC_NS}">{cfg(body)}</source>')


# --------------------------------------------------------------------------
# misc


def wait_until(pred, timeout=10.0, interval=0.1, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def port_accepts(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False
