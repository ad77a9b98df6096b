"""Certificate revocation by fetched CRLs: strongSwan clients with certificates
against ravend, whose trustpoint takes its CRLs from an HTTP server in the
headend's namespace (python3 -m http.server on its loopback) serving CRLs made
with `openssl ca -gencrl`, either from crl-url or, without one, from the CRL
distribution point of the client certificate.

    client ns (charon) --veth-- headend ns: ravend, http.server on 127.0.0.1:8480

Cases: a CRL that does not revoke lets the client in; a revoked certificate is
refused; an unreachable URL refuses the client with revocation-check crl and lets
it in with crl-none; malformed and foreign-signed CRLs are refused and counted;
the distribution point of the certificate is used (the first client waits for
the fetch); a connected client whose certificate a new CRL revokes is
disconnected at the refresh."""
import os
import re
import subprocess
import time

import pytest

from conftest import netns_connect
from radiushelpers import FreeRadius
from test_eap_radius import servers_xml
from test_ike_certs import connect as cert_connect, read, run
from test_ike_sessions import sessions, state, t

REQUIRES = ("strongswan", "openssl", "freeradius")

NS = "urn:raven:params:xml:ns:yang:raven-vpn"
PORT = 8480
CDP = f"http://127.0.0.1:{PORT}/cdp/ca.crl"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA with a database (openssl ca), another CA, the headend's certificate and
    clients: alice and carol without a distribution point, dave and erin with
    one (CDP), frank for the revocation of a connected client."""
    d = tmp_path_factory.mktemp("crlpki")
    p = lambda n: str(d / n)

    def key(name):
        run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", p(name + ".key"))

    def ca(name, cn):
        key(name)
        run("openssl", "req", "-x509", "-new", "-key", p(name + ".key"), "-subj", f"/O=Raven Test/CN={cn}",
            "-days", "30", "-out", p(name + ".pem"), "-addext", "basicConstraints=critical,CA:true",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        with open(p(name + ".cnf"), "w") as f:
            f.write(f"""[ca]
default_ca = c
[c]
database = {p(name + ".index")}
crlnumber = {p(name + ".crlnumber")}
default_md = sha256
default_crl_days = 10
""")
        open(p(name + ".index"), "w").close()
        with open(p(name + ".crlnumber"), "w") as f:
            f.write("01\n")

    def cert(name, san, cdp=False, eku="clientAuth"):
        key(name)
        run("openssl", "req", "-new", "-key", p(name + ".key"), "-subj", f"/O=Raven Test/CN={san}",
            "-out", p(name + ".csr"))
        with open(p(name + ".ext"), "w") as f:
            f.write(f"subjectAltName=DNS:{san}\nextendedKeyUsage={eku}\n")
            if cdp:
                f.write(f"crlDistributionPoints=URI:{CDP}\n")
        run("openssl", "x509", "-req", "-in", p(name + ".csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
            "-CAcreateserial", "-days", "10", "-out", p(name + ".pem"), "-extfile", p(name + ".ext"))

    ca("ca", "Raven CRL Test CA")
    ca("evil", "Raven CRL Test CA")  # the same name, another key: its CRLs must not count
    cert("head", "headend.example.org", eku="serverAuth")
    for name, cdp in (("alice", False), ("carol", False), ("dave", True), ("erin", True), ("frank", False)):
        cert(name, f"{name}.example.org", cdp=cdp)
    revoke(p, "carol")
    revoke(p, "erin")
    return p


def revoke(p, name):
    run("openssl", "ca", "-config", p("ca.cnf"), "-revoke", p(name + ".pem"), "-keyfile", p("ca.key"), "-cert",
        p("ca.pem"))


def gencrl(p, out, issuer="ca", secs=None, pem=False):
    """A CRL of @issuer's database into @out (DER unless @pem); @secs: its
    nextUpdate that many seconds ahead (else 10 days)."""
    tmp = out + ".tmp"
    run("openssl", "ca", "-config", p(issuer + ".cnf"), "-gencrl", "-keyfile", p(issuer + ".key"), "-cert",
        p(issuer + ".pem"), "-out", tmp + ".pem", *(["-crlsec", str(secs)] if secs else []))
    if pem:
        os.rename(tmp + ".pem", tmp)
    else:
        run("openssl", "crl", "-in", tmp + ".pem", "-outform", "DER", "-out", tmp)
        os.unlink(tmp + ".pem")
    os.rename(tmp, out)  # the server never serves half a file


@pytest.fixture
def web(tmp_path, lab):
    """A lab with one client and an HTTP server on the headend namespace's
    loopback serving tmp_path/www; the request log in web.log()."""
    lb = lab(1)
    root = tmp_path / "www"
    (root / "cdp").mkdir(parents=True)
    logf = open(tmp_path / "http.log", "w")
    lb.spawn(lb.head, "python3", "-m", "http.server", str(PORT), "--bind", "127.0.0.1", "--directory", str(root),
             stdout=logf, stderr=subprocess.STDOUT)
    deadline = time.time() + 15
    while True:
        try:
            netns_connect(lb.head, "127.0.0.1", PORT, timeout=1).close()
            break
        except OSError:
            if time.time() > deadline:
                raise RuntimeError("python3 -m http.server did not start in the headend namespace")
            time.sleep(0.1)

    class Web:
        lab = lb
        dir = str(root)
        closers = []

        @staticmethod
        def log():
            with open(tmp_path / "http.log") as f:
                return f.read()

    try:
        yield Web
    finally:
        for close in Web.closers:
            close()
        logf.close()


def headend(pki, urls=(), rev=None, fr=None):
    """A certificate profile; with @fr (FreeRADIUS) accounting of its sessions."""
    crl_url = "".join(f"<crl-url>{u}</crl-url>" for u in urls)
    rc = f"<revocation-check>{rev}</revocation-check>" if rev else ""
    acct = "<accounting><cert>acct-list</cert></accounting>" if fr else ""
    servers = (f"{servers_xml([('r1', fr.port, fr.acct_port)])}<accounting-list><name>acct-list</name><method>"
               "<sequence>1</sequence><group>g</group></method></accounting-list>") if fr else ""
    return f"""<pki xmlns="{NS}">
  <trustpoint><name>tp</name><ca-certificate>{read(pki('ca.pem'))}</ca-certificate>
    <certificate>{read(pki('head.pem'))}</certificate><private-key>{read(pki('head.key'))}</private-key>
    {rc}{crl_url}</trustpoint>
</pki>
<ikev2 xmlns="{NS}">
  <global><listen><address>0.0.0.0</address></listen></global>
  <authorization-policy><name>certs</name><pool>cert-pool</pool></authorization-policy>
  <profile>
    <name>certs</name>
    <match><identity><remote><fqdn><domain>example.org</domain></fqdn></remote></identity></match>
    <identity><local><fqdn>headend.example.org</fqdn></local></identity>
    <authentication><local><ecdsa-sig/></local><remote><ecdsa-sig/></remote></authentication>
    <pki><trustpoint><name>tp</name></trustpoint></pki>
    <aaa><authorization><group><cert><method-list>local-list</method-list><username>certs</username></cert></group></authorization>{acct}</aaa>
  </profile>
</ikev2>
<pools xmlns="{NS}"><ipv4-pool><name>cert-pool</name><range><start>10.204.0.1</start><end>10.204.0.9</end></range></ipv4-pool></pools>
<aaa xmlns="{NS}">{servers}<authorization-list><name>local-list</name><method><sequence>1</sequence><local/></method></authorization-list></aaa>"""


def connect(web, pki, name):
    return cert_connect(web.lab, pki, name, timeout=20)


def stop_charon(lb):
    """Ends client 0's charon (by PID) so that another can start there."""
    p = lb.clients[0]["proc"]
    p.terminate()
    p.wait(timeout=15)
    vici = os.path.join(lb.clients[0]["dir"], "charon.vici")
    if os.path.exists(vici):  # start_charon waits for a new one
        os.unlink(vici)


def crl_sources(m):
    """{url: {leaf: text}} of vpn-state/pki/trustpoint[tp]/crl-source."""
    out = {}
    for tp in state(m).findall(f"{{{NS}}}pki/{{{NS}}}trustpoint"):
        if t(tp, "name") != "tp":
            continue
        for src in tp.findall(f"{{{NS}}}crl-source"):
            out[t(src, "url")] = {el.tag.split("}")[1]: el.text for el in src}
    return out


def wait_for(pred, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


URL = f"http://127.0.0.1:{PORT}/ca.crl"


def test_crl_url_not_revoking_lets_the_client_in(make_ravend, web, pki):
    gencrl(pki, os.path.join(web.dir, "ca.crl"))
    d = make_ravend(headend(pki, urls=[URL]), netns=web.lab.head)
    r = connect(web, pki, "alice")
    assert r.returncode == 0, f"{web.lab.log(0)[-3000:]}\n{d.log()[-2000:]}"
    m = d.connect()
    assert t(sessions(m)[0], "remote-identity/value") == "alice.example.org"
    src = crl_sources(m)[URL]
    assert src["origin"] == "crl-url" and src["status"] == "valid", src
    assert int(src["fetches"]) >= 1 and src["failures"] == "0" and int(src["revoked-certificates"]) == 2, src
    assert "GET /ca.crl" in web.log()


def test_crl_url_revoked_certificate_is_refused(make_ravend, web, pki):
    gencrl(pki, os.path.join(web.dir, "ca.crl"), pem=True)  # PEM is accepted as well as DER
    d = make_ravend(headend(pki, urls=[URL]), netns=web.lab.head)
    wait_for(lambda: crl_sources(d.connect()).get(URL, {}).get("status") == "valid", 20, "the CRL")
    r = connect(web, pki, "carol")
    assert r.returncode != 0
    assert "received AUTHENTICATION_FAILED notify" in web.lab.log(0)
    assert "(carol.example.org) refused: certificate verification failed: certificate revoked" in d.log(), \
        d.log()[-2000:]
    assert not sessions(d.connect())


@pytest.mark.parametrize("rev,admitted", [("crl", False), ("crl-none", True)])
def test_unreachable_crl_url_fails_closed_or_open(make_ravend, web, pki, rev, admitted):
    """Nothing listens on port 9: revocation-check crl refuses the client (no
    obtainable CRL), revocation-check crl none lets it in."""
    bad = "http://127.0.0.1:9/ca.crl"
    d = make_ravend(headend(pki, urls=[bad], rev=rev), netns=web.lab.head)
    m = d.connect()
    wait_for(lambda: int(crl_sources(m).get(bad, {}).get("failures", "0")) >= 1, 20, "the failed fetch")
    r = connect(web, pki, "alice")
    src = crl_sources(m)[bad]
    assert src["status"] == "unavailable" and "last-error" in src, src
    if admitted:
        assert r.returncode == 0, f"{web.lab.log(0)[-3000:]}\n{d.log()[-2000:]}"
        assert "accepted without a revocation check: no valid CRL" in d.log()
        assert len(sessions(m)) == 1
    else:
        assert r.returncode != 0
        assert "received AUTHENTICATION_FAILED notify" in web.lab.log(0)
        assert "(alice.example.org) refused: no valid CRL for the certificate" in d.log(), d.log()[-2000:]
        assert not sessions(m)


@pytest.mark.parametrize("body,error", [
    ("garbage", "the body is not an X.509 CRL"),
    ("evil", "the CRL is not signed by a CA of the trustpoint"),
    ("expired", "the CRL has expired"),
    ("missing", "HTTP status 404"),
    ("oversized", "the CRL is larger than the limit of 4 MiB"),
])
def test_bad_crls_are_counted_and_refuse(make_ravend, web, pki, body, error):
    """Malformed, foreign-signed (a CA of the same name, another key), expired,
    missing and oversized CRLs are counted as failures and give no CRL: the client is
    refused (revocation-check crl); ravend keeps running."""
    path = os.path.join(web.dir, "ca.crl")
    if body == "garbage":
        with open(path, "wb") as f:
            f.write(os.urandom(3000))
    elif body == "evil":
        gencrl(pki, path, issuer="evil")
    elif body == "oversized":
        with open(path, "wb") as f:
            f.write(b"\0" * (5 << 20))
    elif body == "expired":
        gencrl(pki, path, secs=1)
        time.sleep(2)
    d = make_ravend(headend(pki, urls=[URL]), netns=web.lab.head)
    m = d.connect()
    wait_for(lambda: int(crl_sources(m).get(URL, {}).get("failures", "0")) >= 1, 20, "the failed fetch")
    assert error in crl_sources(m)[URL]["last-error"]
    assert f"CRL from {URL} not obtained" in d.log()
    r = connect(web, pki, "alice")
    assert r.returncode != 0
    assert "(alice.example.org) refused: no valid CRL" in d.log(), d.log()[-2000:]


def test_distribution_point_of_the_certificate(make_ravend, web, pki):
    """Without crl and crl-url the certificate's distribution point is fetched
    when the first client needs it (that client waits for the fetch): dave gets
    in, erin (revoked) is refused."""
    gencrl(pki, os.path.join(web.dir, "cdp", "ca.crl"))
    d = make_ravend(headend(pki), netns=web.lab.head)
    m = d.connect()
    assert CDP not in crl_sources(m)  # nothing fetched before a client needs it
    r = connect(web, pki, "dave")
    assert r.returncode == 0, f"{web.lab.log(0)[-3000:]}\n{d.log()[-2000:]}"
    assert "(dave.example.org): waiting for the CRL or OCSP answer of its certificate" in d.log()
    src = crl_sources(m)[CDP]
    assert src["origin"] == "distribution-point" and src["status"] == "valid", src
    assert "GET /cdp/ca.crl" in web.log()
    stop_charon(web.lab)
    r = connect(web, pki, "erin")
    assert r.returncode != 0
    assert "(erin.example.org) refused: certificate verification failed: certificate revoked" in d.log()


def test_certificate_without_crl_source_is_refused(make_ravend, web, pki):
    """revocation-check crl (the default) with no crl, no crl-url and no
    distribution point in the certificate: no CRL can be had, the client is
    refused (the vendor's semantics)."""
    d = make_ravend(headend(pki), netns=web.lab.head)
    r = connect(web, pki, "alice")
    assert r.returncode != 0
    assert "(alice.example.org) refused: no valid CRL for the certificate" in d.log(), d.log()[-2000:]
    assert "no http CRL distribution point" in d.log()


def test_connected_client_revoked_is_disconnected_at_refresh(make_ravend, web, pki):
    """frank connects under a CRL valid for 20 s; the CA then revokes him and the
    server gets the new CRL; at the refresh before nextUpdate the headend ends
    his session (DELETE to the client, reason certificate-revoked, accounting
    Stop to FreeRADIUS with Acct-Terminate-Cause Admin-Reset)."""
    fr = FreeRadius(netns=web.lab.head)
    web.closers.append(fr.close)
    path = os.path.join(web.dir, "ca.crl")
    gencrl(pki, path, secs=20)
    d = make_ravend(headend(pki, urls=[URL], fr=fr), netns=web.lab.head)
    m = d.connect()
    wait_for(lambda: crl_sources(m).get(URL, {}).get("status") == "valid", 20, "the CRL")
    r = connect(web, pki, "frank")
    assert r.returncode == 0, f"{web.lab.log(0)[-3000:]}\n{d.log()[-2000:]}"
    assert len(sessions(m)) == 1
    revoke(pki, "frank")
    gencrl(pki, path, secs=600)
    wait_for(lambda: not sessions(m), 40, "the session's end at the refresh")
    assert re.search(r"session \d+ \(frank\.example\.org, [0-9.]+\) down: certificate-revoked", d.log()), \
        d.log()[-2000:]
    wait_for(lambda: "received DELETE for IKE_SA" in web.lab.log(0), 10, "the client's DELETE")
    src = crl_sources(m)[URL]
    assert int(src["fetches"]) >= 2 and int(src["revoked-certificates"]) == 3, src
    stop = wait_for(lambda: [r for r in fr.detail() if r.get("Acct-Status-Type") == "Stop"], 10, "the Stop")[0]
    assert stop["Acct-Terminate-Cause"] == "Admin-Reset", stop
