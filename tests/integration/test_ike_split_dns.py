"""Split DNS against a real strongSwan 5.9.8 client: the authorization policy's
default domain and split-DNS domains go to the client as INTERNAL_DNS_DOMAIN
(RFC 8598) in the CFG_REPLY, beside its IPv4 and IPv6 DNS servers. strongSwan
5.9.8 neither requests attribute 25 nor has a handler for it: its log lists the
domains in the reply (CPRP(... DOMAIN DOMAIN)), its parser calls the type
unknown and no handler takes it, which is what a client that does not
understand split DNS does (RFC 8598 lets the responder send the domains
unasked); the DNS servers of both families reach its
resolv.conf through the resolve plugin. What strongSwan cannot show — a
client that asks for attribute 25 and INTERNAL_DNSSEC_TA, a Unity or FlexVPN
client — is shown by ike_probe's client mode (Raven's test initiator) against
the same ravend: it prints the configuration reply's attributes.

Topology: [client: 10.<n>.0.2] --veth-- [headend namespace: ravend, 10.<n>.0.1]
"""
import os
import re
import subprocess

from test_ike_sessions import headend_config, up
from test_ike_strongswan import PROBE

REQUIRES = ("strongswan",)

POLICY = """<def-domain>corp.example.org</def-domain>
    <split-dns>eng.example.org</split-dns><split-dns>corp.example.org</split-dns>
    <ipv6-dns><primary>2001:db8:53::1</primary></ipv6-dns>"""


def assert_domains_received(log, n):
    """@n INTERNAL_DNS_DOMAIN attributes in the headend's configuration reply, as
    strongSwan 5.9.8 logs them: listed in the parsed reply (CPRP(... DOMAIN)),
    called unknown by its parser and handled by nothing."""
    reply = re.search(r"parsed IKE_AUTH response \d+ \[[^]]*CPRP\(([^)]*)\)", log)
    assert reply and reply.group(1).split().count("DOMAIN") == n, log[-4000:]
    assert log.count("[ENC] unknown attribute type INTERNAL_DNS_DOMAIN") == n, log[-4000:]
    assert log.count("[CFG] handling INTERNAL_DNS_DOMAIN attribute failed") == n, log[-4000:]
    processed = re.findall(r"processing (\S+) attribute", log)
    assert processed.count("INTERNAL_DNS_DOMAIN") == n, processed


def test_split_dns_domains_and_ipv6_dns_reach_the_client(make_ravend, lab):
    lb = lab(1)
    d = make_ravend(headend_config(extra_policy=POLICY), netns=lb.head)
    r = up(lb, 0, "alice.example.org")
    log = lb.log(0)
    assert r.returncode == 0, f"{r.stdout}\n{log[-4000:]}\n{d.log()[-3000:]}"
    reply = log.split("parsed IKE_AUTH response 1")[1].split("\n")[0]
    # the reply's attributes as strongSwan lists them: two domains (the default
    # domain is not repeated), both families of DNS servers
    assert "CPRP(ADDR DNS DNS DNS6 NBNS SUBNET DOMAIN DOMAIN)" in reply, reply
    # what 5.9.8 says of an attribute it has a name but no parser or handler for
    assert_domains_received(log, 2)
    processed = re.findall(r"processing (\S+) attribute", log)
    assert "INTERNAL_IP6_DNS" in processed and "INTERNAL_IP4_DNS" in processed, processed
    assert "INTERNAL_DNSSEC_TA" not in processed
    resolv = open(os.path.join(lb.clients[0]["dir"], "resolv.conf")).read()
    assert "10.200.0.53" in resolv and "2001:db8:53::1" in resolv, resolv


def probe(lb, *opts):
    """ike_probe's client mode from the client's namespace: the reply's
    attributes as [(type, value)]."""
    c = lb.clients[0]
    r = subprocess.run(["ip", "netns", "exec", c["ns"], PROBE, "client", c["head_ip"], "alice.example.org",
                        "rw-secret-1", *opts], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
    return [tuple(ln.split(" ", 2)[1:]) for ln in r.stdout.splitlines() if ln.startswith("attr ")]


def test_cfg_reply_to_clients_that_ask_and_vendor_clients(make_ravend, lab):
    lb = lab(1)
    make_ravend(headend_config(extra_policy=POLICY), netns=lb.head)
    domains = [("25", "corp.example.org"), ("25", "eng.example.org")]
    # a client that asks for split DNS (a suggestion of its own, ignored) and
    # for a DNSSEC trust anchor, which we do not give
    got = probe(lb, "attr=25:wish.example.net", "attr=26", "attr=10")
    assert [a for a in got if a[0] == "25"] == domains, got
    assert ("10", "2001:db8:53::1") in got and ("3", "10.200.0.53") in got, got
    assert not [a for a in got if a[0] in ("26", "28674", "28675")], got
    # a Unity client gets the vendor's attributes and no RFC 8598 ones unasked
    got = probe(lb, "unity")
    assert ("28674", "corp.example.org") in got and [a for a in got if a[0] == "28675"] == [
        ("28675", "eng.example.org"), ("28675", "corp.example.org")], got
    assert not [a for a in got if a[0] == "25"], got
    # ... and both when it asks; a FlexVPN client is like a Unity one
    got = probe(lb, "unity", "attr=25")
    assert [a for a in got if a[0] == "25"] == domains and ("28674", "corp.example.org") in got, got
    got = probe(lb, "flexvpn")
    assert ("28674", "corp.example.org") in got and not [a for a in got if a[0] == "25"], got
