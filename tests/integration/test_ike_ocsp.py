"""Certificate revocation by OCSP (RFC 6960): strongSwan clients with
certificates against ravend, whose trustpoint asks `openssl ocsp` (the CA's
database made with `openssl ca -valid/-revoke`, signed by a delegated responder
certificate with id-kp-OCSPSigning) on the headend namespace's loopback, either
at ocsp-url or at the OCSP URL of the client certificate's AIA.

    client ns (charon) --veth-- headend ns: ravend, openssl ocsp on 127.0.0.1:8481
                                            bad responders on 127.0.0.1:8482

Cases: a good certificate gets in (the client waits for the first answer; the
request carries a nonce unless ocsp-nonce is false); a revoked one is refused;
an unreachable responder refuses with revocation-check ocsp and admits with
ocsp none; ocsp crl falls back on the CRL; a connected client whose certificate
is revoked is disconnected when its answer is refreshed before nextUpdate; a
responder that returns garbage, hangs, or signs with a certificate not
delegated for OCSP refuses its client, is counted, and another client connects
meanwhile; ocsp-url without ocsp in revocation-check is refused at commit; a
client with a certificate but without its key makes no query."""
import os
import re
import subprocess
import threading
import time

import pytest

from conftest import cfg
from nchelpers import expect_error
from test_ike_certs import connect as cert_connect, read, run
from test_ike_crl import gencrl
from test_ike_sessions import sessions, state, t
from test_ike_strongswan import PROBE

REQUIRES = ("strongswan", "openssl")

NS = "urn:raven:params:xml:ns:yang:raven-vpn"
PORT = 8481      # openssl ocsp
BAD_PORT = 8482  # the garbage / hanging responder
URL = f"http://127.0.0.1:{PORT}/"
BAD_URL = f"http://127.0.0.1:{BAD_PORT}/"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA with a database, its OCSP responder certificate (OCSPSigning) and a
    rogue one (clientAuth only), the headend's certificate and clients: alice,
    carol (revoked), frank and gina without AIA; dave and hank with the AIA of
    the good responder; erin with the AIA of the bad one."""
    d = tmp_path_factory.mktemp("ocsppki")
    p = lambda n: str(d / n)

    def key(name):
        run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", p(name + ".key"))

    key("ca")
    run("openssl", "req", "-x509", "-new", "-key", p("ca.key"), "-subj", "/O=Raven Test/CN=Raven OCSP Test CA",
        "-days", "30", "-out", p("ca.pem"), "-addext", "basicConstraints=critical,CA:true",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    with open(p("ca.cnf"), "w") as f:
        f.write(f"""[ca]
default_ca = c
[c]
database = {p("ca.index")}
crlnumber = {p("ca.crlnumber")}
default_md = sha256
default_crl_days = 10
""")
    open(p("ca.index"), "w").close()
    with open(p("ca.crlnumber"), "w") as f:
        f.write("01\n")

    def cert(name, cn, eku="clientAuth", aia=None):
        key(name)
        run("openssl", "req", "-new", "-key", p(name + ".key"), "-subj", f"/O=Raven Test/CN={cn}",
            "-out", p(name + ".csr"))
        with open(p(name + ".ext"), "w") as f:
            f.write(f"subjectAltName=DNS:{cn}\nextendedKeyUsage={eku}\n")
            if aia:
                f.write(f"authorityInfoAccess=OCSP;URI:{aia}\n")
        run("openssl", "x509", "-req", "-in", p(name + ".csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
            "-CAcreateserial", "-days", "10", "-out", p(name + ".pem"), "-extfile", p(name + ".ext"))
        ca_db(p, "-valid", name)

    cert("head", "headend.example.org", eku="serverAuth")
    cert("responder", "ocsp.example.org", eku="OCSPSigning")
    cert("rogue", "rogue.example.org", eku="clientAuth")
    for name in ("alice", "carol", "frank", "gina"):
        cert(name, f"{name}.example.org")
    cert("dave", "dave.example.org", aia=URL)
    cert("hank", "hank.example.org", aia=URL)
    cert("erin", "erin.example.org", aia=BAD_URL)
    ca_db(p, "-revoke", "carol")
    return p


def ca_db(p, op, name):
    """openssl ca -valid (adds the certificate to the database) or -revoke."""
    run("openssl", "ca", "-config", p("ca.cnf"), op, p(name + ".pem"), "-keyfile", p("ca.key"), "-cert", p("ca.pem"))


class Responder:
    """openssl ocsp in the headend namespace, restarted on demand (it reads the
    CA's database when it starts)."""

    def __init__(self, lab, pki, tmp, signer="responder", nmin=None):
        self.lab, self.pki, self.signer, self.nmin = lab, pki, signer, nmin
        self.logpath = os.path.join(tmp, "ocsp.log")
        self.proc = None
        self.start()

    def start(self):
        p = self.pki
        self.logf = open(self.logpath, "a")
        # stdbuf: its -text lines reach the log as they are written
        self.proc = self.lab.spawn(
            self.lab.head, "stdbuf", "-oL", "openssl", "ocsp", "-index", p("ca.index"), "-port", str(PORT), "-rsigner",
            p(self.signer + ".pem"), "-rkey", p(self.signer + ".key"), "-CA", p("ca.pem"), "-text", "-ignore_err",
            *(["-nmin", str(self.nmin)] if self.nmin else []), stdout=self.logf, stderr=subprocess.STDOUT)
        wait_port(self.lab.head, PORT)

    def stop(self):
        self.proc.terminate()  # by its PID, the one this test started
        self.proc.wait(timeout=10)
        self.logf.close()

    def restart(self):
        self.stop()
        self.start()

    def log(self):
        with open(self.logpath, errors="replace") as f:
            return f.read()


def wait_port(ns, port):
    """Waits until something listens on @port in @ns, without connecting: a
    connection closed at once leaves openssl ocsp (3.0) waiting on it for good."""
    deadline = time.time() + 15
    while True:
        r = subprocess.run(["ip", "netns", "exec", ns, "ss", "-Hltn", f"sport = :{port}"], capture_output=True,
                           text=True, check=False)
        if r.stdout.strip():
            return
        if time.time() > deadline:
            raise RuntimeError(f"nothing listens on port {port} in {ns}")
        time.sleep(0.1)


BAD_SERVER = r"""
import http.server, os, sys, time
mode = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if mode == "hang":
            time.sleep(3600)
        body = os.urandom(700)
        self.send_response(200)
        self.send_header("Content-Type", "application/ocsp-response")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        sys.stderr.write("POST\n"); sys.stderr.flush()
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def headend(pki, rev="ocsp", url=URL, nonce=None, crl=None):
    ou = f"<ocsp-url>{url}</ocsp-url>" if url else ""
    on = f"<ocsp-nonce>{nonce}</ocsp-nonce>" if nonce is not None else ""
    cr = f"<crl>{crl}</crl>" if crl else ""
    return f"""<pki xmlns="{NS}">
  <trustpoint><name>tp</name><ca-certificate>{read(pki('ca.pem'))}</ca-certificate>
    <certificate>{read(pki('head.pem'))}</certificate><private-key>{read(pki('head.key'))}</private-key>
    <revocation-check>{rev}</revocation-check>{ou}{on}{cr}</trustpoint>
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
    <aaa><authorization><group><cert><method-list>local-list</method-list><username>certs</username></cert></group></authorization></aaa>
  </profile>
</ikev2>
<pools xmlns="{NS}"><ipv4-pool><name>cert-pool</name><range><start>10.204.0.1</start><end>10.204.0.9</end></range></ipv4-pool></pools>
<aaa xmlns="{NS}"><authorization-list><name>local-list</name><method><sequence>1</sequence><local/></method></authorization-list></aaa>"""


def ocsp_state(m):
    """{leaf: text} of vpn-state/pki/trustpoint[tp]/ocsp, {} if none."""
    for tp in state(m).findall(f"{{{NS}}}pki/{{{NS}}}trustpoint"):
        if t(tp, "name") == "tp":
            o = tp.find(f"{{{NS}}}ocsp")
            if o is not None:
                return {el.tag.split("}")[1]: el.text for el in o}
    return {}


def wait_for(pred, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def connect(lb, pki, name, i=0):
    return cert_connect(lb, pki, name, i=i, timeout=25)


@pytest.mark.parametrize("how", ["ocsp-url", "aia", "no-nonce"])
def test_good_certificate_is_admitted(make_ravend, lab, pki, tmp_path, how):
    """alice through ocsp-url, dave through the AIA of his certificate: the
    first client waits for the answer, the second is answered from the cache
    (no second request). The request carries a nonce that the responder echoes,
    none with ocsp-nonce false."""
    lb = lab(1)
    resp = Responder(lb, pki, str(tmp_path))
    name = "dave" if how == "aia" else "alice"
    d = make_ravend(headend(pki, url=None if how == "aia" else URL, nonce="false" if how == "no-nonce" else None),
                    netns=lb.head)
    r = connect(lb, pki, name)
    assert r.returncode == 0, f"{lb.log(0)[-3000:]}\n{d.log()[-2000:]}"
    m = d.connect()
    assert t(sessions(m)[0], "remote-identity/value") == f"{name}.example.org"
    assert f"({name}.example.org): waiting for the CRL or OCSP answer of its certificate" in d.log()
    assert f"trustpoint tp: OCSP from {URL}: good" in d.log()
    o = ocsp_state(m)
    assert o["requests"] == "1" and o["good"] == "1" and o["errors"] == "0" and o["cached-responses"] == "1", o
    log = resp.log()
    assert ("OCSP Nonce" in log) == (how != "no-nonce"), log[-2000:]
    # again: from the cache, not the responder
    lb.swanctl(0, "--terminate", "--ike", "rw", check=False)
    wait_for(lambda: not sessions(m), 15, "the session's end")
    r = lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "20", check=False)
    assert r.returncode == 0, f"{lb.log(0)[-3000:]}\n{d.log()[-2000:]}"
    o = ocsp_state(m)
    assert o["requests"] == "1" and int(o["cache-hits"]) >= 1, o


def test_no_query_before_the_key_is_proven(make_ravend, lab, pki, tmp_path):
    """A certificate is public: a client (Raven's test initiator) that sends
    alice's with a junk AUTH signature is refused for the signature without the
    headend asking the responder or caching anything; alice herself then gets
    in with the first query."""
    lb = lab(1)
    Responder(lb, pki, str(tmp_path))
    d = make_ravend(headend(pki), netns=lb.head)
    c = lb.clients[0]
    r = subprocess.run(["ip", "netns", "exec", c["ns"], PROBE, "client", c["head_ip"], "alice.example.org", "-",
                        "cert=" + pki("alice.pem")], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0, r.stdout + r.stderr
    assert re.search(r"\(alice\.example\.org\) refused: .*signature", d.log()), d.log()[-2000:]
    assert "waiting for the CRL or OCSP answer" not in d.log()
    m = d.connect()
    o = ocsp_state(m)
    assert o.get("requests", "0") == "0" and o.get("cached-responses", "0") == "0", o
    r = connect(lb, pki, "alice")
    assert r.returncode == 0, f"{lb.log(0)[-3000:]}\n{d.log()[-2000:]}"
    o = ocsp_state(m)
    assert o["requests"] == "1" and o["good"] == "1" and o["evictions"] == "0", o


def test_revoked_certificate_is_refused(make_ravend, lab, pki, tmp_path):
    lb = lab(1)
    Responder(lb, pki, str(tmp_path))
    d = make_ravend(headend(pki), netns=lb.head)
    r = connect(lb, pki, "carol")
    assert r.returncode != 0
    assert "received AUTHENTICATION_FAILED notify" in lb.log(0)
    assert re.search(r"\(carol\.example\.org\) refused: certificate verification failed: certificate revoked "
                     r"\(serial [0-9A-F]+, the OCSP responder http://127\.0\.0\.1:8481/ says revoked\)", d.log()), \
        d.log()[-2000:]
    m = d.connect()
    assert not sessions(m)
    o = ocsp_state(m)
    assert o["revoked"] == "1" and o["good"] == "0", o


@pytest.mark.parametrize("rev,admitted", [("ocsp", False), ("ocsp-none", True)])
def test_unreachable_responder_fails_closed_or_open(make_ravend, lab, pki, rev, admitted):
    """Nothing listens on port 9: revocation-check ocsp refuses the client,
    ocsp none admits it."""
    lb = lab(1)
    d = make_ravend(headend(pki, rev=rev, url="http://127.0.0.1:9/"), netns=lb.head)
    r = connect(lb, pki, "alice")
    m = d.connect()
    o = ocsp_state(m)
    assert o["errors"] == "1" and "127.0.0.1:9" in o["last-error"], o
    if admitted:
        assert r.returncode == 0, f"{lb.log(0)[-3000:]}\n{d.log()[-2000:]}"
        assert "accepted without a revocation check: no OCSP answer" in d.log()
        assert len(sessions(m)) == 1
    else:
        assert r.returncode != 0
        assert "received AUTHENTICATION_FAILED notify" in lb.log(0)
        assert "(alice.example.org) refused: no OCSP answer for the certificate" in d.log(), d.log()[-2000:]
        assert not sessions(m)


def test_ocsp_crl_falls_back_on_the_crl(make_ravend, lab, pki, tmp_path):
    """revocation-check ocsp crl with the responder down: the trustpoint's CRL
    decides: frank (not listed) gets in, carol (listed) is refused."""
    lb = lab(1)
    path = str(tmp_path / "ca.crl")
    gencrl(pki, path, pem=True)
    d = make_ravend(headend(pki, rev="ocsp-crl", url="http://127.0.0.1:9/", crl=read(path)), netns=lb.head)
    r = connect(lb, pki, "frank")
    assert r.returncode == 0, f"{lb.log(0)[-3000:]}\n{d.log()[-2000:]}"
    lb.clients[0]["proc"].terminate()
    lb.clients[0]["proc"].wait(timeout=15)
    os.unlink(os.path.join(lb.clients[0]["dir"], "charon.vici"))
    r = connect(lb, pki, "carol")
    assert r.returncode != 0
    assert re.search(r"\(carol\.example\.org\) refused: certificate verification failed: "
                     r"certificate revoked \(serial [0-9A-F]+, the configured CRL\)", d.log()), d.log()[-2000:]
    o = ocsp_state(d.connect())
    assert o["errors"] == "2" and o["good"] == "0", o  # asked first, each time


def test_connected_client_revoked_is_disconnected_at_refresh(make_ravend, lab, pki, tmp_path):
    """gina connects under an answer valid for a minute (openssl ocsp -nmin 1);
    the CA then revokes her; shortly before nextUpdate the headend asks again,
    hears revoked and ends her session (DELETE to the client, reason
    certificate-revoked)."""
    lb = lab(1)
    resp = Responder(lb, pki, str(tmp_path), nmin=1)
    d = make_ravend(headend(pki), netns=lb.head)
    r = connect(lb, pki, "gina")
    assert r.returncode == 0, f"{lb.log(0)[-3000:]}\n{d.log()[-2000:]}"
    m = d.connect()
    assert len(sessions(m)) == 1
    ca_db(pki, "-revoke", "gina")
    resp.restart()
    wait_for(lambda: not sessions(m), 90, "the session's end at the refresh")
    assert re.search(r"session \d+ \(gina\.example\.org, [0-9.]+\) down: certificate-revoked", d.log()), \
        d.log()[-2000:]
    assert "the OCSP responder http://127.0.0.1:8481/ (trustpoint tp) says the certificate is revoked" in d.log()
    wait_for(lambda: "received DELETE for IKE_SA" in lb.log(0), 10, "the client's DELETE")
    o = ocsp_state(m)
    assert o["requests"] == "2" and o["good"] == "1" and o["revoked"] == "1", o


def test_session_taken_over_after_a_restart_is_asked_again(make_ravend, lab, pki, tmp_path):
    """hank connects (the responder of his certificate's AIA says good); ravend
    is killed (kill -9), the CA revokes hank, and a new ravend takes his session
    over from the session arena: the OCSP cache did not survive, so it asks the
    responder kept with the session, hears revoked and ends the session."""
    lb = lab(1)
    resp = Responder(lb, pki, str(tmp_path))
    d = make_ravend(headend(pki, url=None), netns=lb.head)
    r = connect(lb, pki, "hank")
    assert r.returncode == 0, f"{lb.log(0)[-3000:]}\n{d.log()[-2000:]}"
    d.kill9()
    ca_db(pki, "-revoke", "hank")
    resp.restart()
    d.start()
    m = d.connect()
    wait_for(lambda: "session" in d.log(since_start=True) and not sessions(m), 30, "the adopted session's end")
    log = d.log(since_start=True)
    assert re.search(r"session \d+ \(hank\.example\.org, [0-9.]+\) down: certificate-revoked", log), log[-3000:]
    assert f"OCSP from {URL}: revoked" in log
    o = ocsp_state(m)
    assert o["requests"] == "1" and o["revoked"] == "1", o


@pytest.mark.parametrize("bad", ["garbage", "hang", "rogue-signer"])
def test_bad_responder_refuses_its_client_only(make_ravend, lab, pki, tmp_path, bad):
    """erin's AIA names a responder that returns garbage, never answers, or
    (rogue-signer: openssl ocsp signing with a certificate the CA issued
    without OCSPSigning, at the AIA of dave) signs without delegation: erin
    (dave) waits and is refused (fail closed), the failure counted; with the
    first two, dave (the good responder of his AIA) connects meanwhile, while
    erin still waits for the hanging one."""
    lb = lab(2)
    if bad == "rogue-signer":
        Responder(lb, pki, str(tmp_path), signer="rogue")
        victim = "dave"
    else:
        srv = tmp_path / "bad.py"
        srv.write_text(BAD_SERVER)
        errf = open(tmp_path / "bad.log", "w")
        lb.spawn(lb.head, "python3", str(srv), str(BAD_PORT), bad, stdout=errf, stderr=subprocess.STDOUT)
        wait_port(lb.head, BAD_PORT)
        Responder(lb, pki, str(tmp_path))
        victim = "erin"
    d = make_ravend(headend(pki, url=None), netns=lb.head)
    m = d.connect()
    out = {}
    th = threading.Thread(target=lambda: out.setdefault("r", connect(lb, pki, victim, i=0)))
    th.start()
    try:
        if bad == "hang":
            wait_for(lambda: f"({victim}.example.org): waiting for the CRL or OCSP answer" in d.log(), 20,
                     "the victim's wait")
        if bad != "rogue-signer":
            # another client, answered by the good responder while the victim waits
            r = connect(lb, pki, "dave", i=1)
            assert r.returncode == 0, f"{lb.log(1)[-3000:]}\n{d.log()[-2000:]}"
            if bad == "hang":
                assert "r" not in out  # the victim still waits
    finally:
        th.join(timeout=60)
    assert out["r"].returncode != 0
    assert "received AUTHENTICATION_FAILED notify" in lb.log(0)
    assert f"({victim}.example.org) refused: no OCSP answer for the certificate" in d.log(), d.log()[-2000:]
    o = ocsp_state(m)
    assert o["errors"] == "1", o
    if bad == "hang":
        assert o["timeouts"] == "1" and "Operation timed out" in o["last-error"], o
    elif bad == "garbage":
        assert "the body is not a DER OCSP response" in o["last-error"], o
    else:
        assert "not signed by the issuing CA or a responder it delegated to" in o["last-error"], o
    assert d.proc.poll() is None  # ravend still runs
    ids = [t(s, "remote-identity/value") for s in sessions(m)]
    assert ids == (["dave.example.org"] if bad != "rogue-signer" else []), ids


def test_ocsp_url_needs_ocsp(make_ravend, pki):
    """ocsp-url with revocation-check crl is refused at commit, with the reason
    and the trustpoint's path; nothing changes."""
    d = make_ravend()
    m = d.connect()
    m.edit_config(target="candidate", config=cfg(headend(pki, rev="crl")))
    e = expect_error(m.commit, "operation-failed", path_contains="trustpoint[name='tp']")
    assert "ocsp-url is used only when revocation-check names ocsp" in e.message
    m.discard_changes()
    assert not ocsp_state(m)
