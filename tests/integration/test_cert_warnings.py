"""The headend's own certificate checked at commit (SPEC S13): a signing
certificate without the serverAuth extended key usage, without the profile's
identity in subjectAltName (and, for an address identity, without it as a DNS
entry too, as Windows wants), with a 1024-bit RSA key and ending in 5 days is
committed over NETCONF all the same; each problem is logged, sent as the
certificate-warning notification (NETCONF, and the REST config event stream)
and listed in vpn-state/certificate-warning, over NETCONF and REST. A good certificate leaves no warning."""
import pytest
from lxml import etree

from conftest import NS, cfg
from nchelpers import data_of, wait_until
from resthelpers import Rest
from test_ike_certs import read, run
from test_rest_events import Stream

REQUIRES = ("ncclient", "openssl", "curl")

NOTIF_NS = "urn:ietf:params:xml:ns:netconf:notification:1.0"


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("warnpki")
    p = lambda n: str(d / n)
    run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", p("ca.key"))
    run("openssl", "req", "-x509", "-new", "-key", p("ca.key"), "-subj", "/CN=Warn CA", "-days", "60",
        "-out", p("ca.pem"), "-addext", "basicConstraints=critical,CA:true",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for name, bits, days, ext in (
            ("bad", 1024, 5, "subjectAltName=DNS:other.example.org,IP:192.0.2.10\nextendedKeyUsage=clientAuth\n"),
            ("good", 2048, 365, "subjectAltName=DNS:headend.example.org\nextendedKeyUsage=serverAuth\n")):
        run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{bits}", "-out", p(name + ".key"))
        run("openssl", "req", "-new", "-key", p(name + ".key"), "-subj", "/CN=headend.example.org",
            "-out", p(name + ".csr"))
        with open(p(name + ".ext"), "w") as f:
            f.write(ext)
        run("openssl", "x509", "-req", "-in", p(name + ".csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
            "-CAcreateserial", "-days", str(days), "-out", p(name + ".pem"), "-extfile", p(name + ".ext"))
    return p


def profile(name, identity):
    return f"""<profile><name>{name}</name>
    <match><identity><remote><fqdn><domain>{name}.example.org</domain></fqdn></remote></identity></match>
    <identity><local>{identity}</local></identity>
    <authentication><local><rsa-sig/></local><remote><rsa-sig/></remote></authentication>
    <pki><trustpoint><name>tp</name></trustpoint></pki></profile>"""


def config(certs, which):
    return cfg(f"""<pki xmlns="{NS}"><trustpoint><name>tp</name>
  <ca-certificate>{read(certs('ca.pem'))}</ca-certificate>
  <certificate>{read(certs(which + '.pem'))}</certificate><private-key>{read(certs(which + '.key'))}</private-key>
  <revocation-check>none</revocation-check></trustpoint></pki>
<ikev2 xmlns="{NS}">
  {profile("byname", "<fqdn>headend.example.org</fqdn>")}
  {profile("byaddr", "<address>192.0.2.10</address>")}
</ikev2>""")


def warnings_of(el):
    return {(w.findtext(f"{{{NS}}}profile"), w.findtext(f"{{{NS}}}kind")): w.findtext(f"{{{NS}}}message")
            for w in el.iter(f"{{{NS}}}certificate-warning")
            if w.findtext(f"{{{NS}}}kind")}


def state_warnings(m):
    reply = m.get(filter=("subtree", f'<vpn-state xmlns="{NS}"><certificate-warning/></vpn-state>'))
    return warnings_of(data_of(reply))


EXPECTED = {("byname", "no-server-auth-eku"), ("byname", "identity-not-in-san"), ("byname", "rsa-key-too-small"),
            ("byname", "expires-soon"), ("byaddr", "no-server-auth-eku"), ("byaddr", "ip-not-in-dns-san"),
            ("byaddr", "rsa-key-too-small"), ("byaddr", "expires-soon")}


def test_commit_warns_of_what_clients_refuse(make_ravend, certs):
    d = make_ravend(rest=True)
    sub, m = d.connect(), d.connect()
    sub.create_subscription()
    stream = Stream(d.rest_url, "config")
    m.edit_config(target="running", config=config(certs, "bad"))  # no rpc-error: the commit is taken
    assert "byname" in etree.tostring(data_of(m.get_config(source="running"))).decode()

    got = {}
    while set(got) != EXPECTED:
        n = sub.take_notification(timeout=10)
        assert n is not None, f"certificate-warning notifications missing: {EXPECTED - set(got)}"
        got.update(warnings_of(etree.fromstring(n.notification_xml.encode())))
    assert "1024 bits" in got[("byname", "rsa-key-too-small")]
    assert "headend.example.org" in got[("byname", "identity-not-in-san")]
    assert "DNS:192.0.2.10" in got[("byaddr", "ip-not-in-dns-san")]
    assert "expires in 4 days" in got[("byname", "expires-soon")] or \
        "expires in 5 days" in got[("byname", "expires-soon")]

    st = state_warnings(m)
    assert set(st) == EXPECTED, st
    # the address is an IP entry of the certificate: only the DNS entry is missing
    assert ("byaddr", "identity-not-in-san") not in st
    r = Rest(d.rest_url).get("/restconf/data/raven-vpn:vpn-state/certificate-warning")
    assert r.status == 200, r
    rest = {(w["profile"], w["kind"]) for w in r.json()["raven-vpn:certificate-warning"]}
    assert rest == EXPECTED, r.body
    wait_until(lambda: len([e for e in stream.json_events() if "raven-vpn:certificate-warning" in e]) == 8,
               what="the certificate warnings on the REST config stream")
    stream.close()
    log = d.log()
    assert "profile byname, trustpoint tp: the certificate's RSA key has 1024 bits" in log, log[-3000:]

    # a certificate clients take: the warnings go
    m.edit_config(target="running", config=config(certs, "good"))
    st = state_warnings(m)
    assert ("byname", "no-server-auth-eku") not in st and ("byname", "identity-not-in-san") not in st
    assert ("byaddr", "identity-not-in-san") in st  # the good one has no IP entry
