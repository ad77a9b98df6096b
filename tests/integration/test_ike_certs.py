"""Certificate authentication against ravend with strongSwan clients: RSA and ECDSA
certificates both ways (RFC 7427 signatures, and the classic methods when the
client does not announce signature hashes), chains checked against the
trustpoint, the client's identity checked against its certificate, profile
selection by certificate map, and refusals for an untrusted or revoked
certificate. The headend sends the intermediate CAs above its certificate, so
a client trusting only the root authenticates it."""
import os
import subprocess

import pytest

from conftest import NS, cfg
from nchelpers import expect_error
from test_ike_sessions import sessions, t

REQUIRES = ("strongswan", "openssl")

HERE = os.path.dirname(os.path.abspath(__file__))


def run(*a):
    subprocess.run(list(a), check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA (RSA), an untrusted CA, and certificates for the headend (RSA and
    ECDSA) and clients (RSA, ECDSA P-384, one revoked, one from the other CA)."""
    d = tmp_path_factory.mktemp("pki")
    p = lambda n: str(d / n)

    def key(name, kind):
        opts = ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"] if kind == "rsa" else \
            ["-algorithm", "EC", "-pkeyopt", f"ec_paramgen_curve:{kind}"]
        run("openssl", "genpkey", *opts, "-out", p(name + ".key"))

    def ca(name, cn):
        key(name, "rsa")
        run("openssl", "req", "-x509", "-new", "-key", p(name + ".key"), "-subj", f"/O=Raven Test/CN={cn}",
            "-days", "30", "-out", p(name + ".pem"), "-addext", "basicConstraints=critical,CA:true",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    def cert(name, kind, san, issuer="ca", eku="serverAuth", subj=None):
        key(name, kind)
        run("openssl", "req", "-new", "-key", p(name + ".key"), "-subj", subj or f"/O=Raven Test/CN={san}",
            "-out", p(name + ".csr"))
        with open(p(name + ".ext"), "w") as f:
            f.write(f"subjectAltName=DNS:{san}\nextendedKeyUsage={eku}\n")
        run("openssl", "x509", "-req", "-in", p(name + ".csr"), "-CA", p(issuer + ".pem"), "-CAkey",
            p(issuer + ".key"), "-CAcreateserial", "-days", "10", "-out", p(name + ".pem"), "-extfile",
            p(name + ".ext"))

    ca("ca", "Raven Test CA")
    ca("evil", "Other CA")
    # an issuing CA under the root, and a headend certificate it issued
    key("inter", "P-256")
    run("openssl", "req", "-new", "-key", p("inter.key"), "-subj", "/O=Raven Test/CN=Raven Issuing CA",
        "-out", p("inter.csr"))
    with open(p("inter.ext"), "w") as f:
        f.write("basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\n")
    run("openssl", "x509", "-req", "-in", p("inter.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
        "-CAcreateserial", "-days", "10", "-out", p("inter.pem"), "-extfile", p("inter.ext"))
    cert("head-inter", "P-256", "headend.example.org", issuer="inter")
    cert("head-rsa", "rsa", "headend.example.org")
    cert("head-ec", "P-256", "headend.example.org")
    cert("alice", "rsa", "alice.example.org", eku="clientAuth")
    cert("bob", "P-384", "bob.example.org", eku="clientAuth")
    cert("carol", "rsa", "carol.example.org", eku="clientAuth")
    cert("mallory", "rsa", "mallory.example.org", issuer="evil", eku="clientAuth")
    # frank is in OU staff; eve's common name merely contains the text ",OU=staff"
    cert("frank", "P-256", "frank.example.org", eku="clientAuth", subj="/O=Raven Test/OU=staff/CN=frank.example.org")
    cert("eve", "P-256", "eve.example.org", eku="clientAuth", subj="/O=Raven Test/CN=eve.example.org,OU=staff")
    # carol is revoked
    with open(p("ca.cnf"), "w") as f:
        f.write(f"""[ca]
default_ca = c
[c]
database = {p("index.txt")}
crlnumber = {p("crlnumber")}
default_md = sha256
default_crl_days = 10
""")
    open(p("index.txt"), "w").close()
    with open(p("crlnumber"), "w") as f:
        f.write("01\n")
    run("openssl", "ca", "-config", p("ca.cnf"), "-revoke", p("carol.pem"), "-keyfile", p("ca.key"), "-cert",
        p("ca.pem"))
    run("openssl", "ca", "-config", p("ca.cnf"), "-gencrl", "-keyfile", p("ca.key"), "-cert", p("ca.pem"),
        "-out", p("ca.crl"))
    return p


def read(path):
    with open(path) as f:
        return f.read().strip()


STAFF_RULES = """<rule><field>issuer-name</field><operator>co</operator><value>raven test ca</value></rule>
          <rule><field>subject-name</field><operator>co</operator><value>cn=bob</value></rule>"""


def headend(pki, server="head-rsa", crl=True, cert_map=False, mtu=None, mangle=False, rules=STAFF_RULES,
            cas=("ca",)):
    ca_xml = "".join(f"<ca-certificate>{read(pki(c + '.pem'))}</ca-certificate>" for c in cas)
    crl_xml = f"<crl>{read(pki('ca.crl'))}</crl>" if crl else ""
    match = "<identity><remote><fqdn><domain>example.org</domain></fqdn></remote></identity>"
    cmap = ""
    if cert_map:
        match = "<certificate-map>staff</certificate-map>"
        cmap = f"""<certificate-map><name>staff</name><entry><sequence>10</sequence>
          {rules}
        </entry></certificate-map>"""
    local = "<rsa-sig/>" if server == "head-rsa" else "<ecdsa-sig/>"
    return f"""<pki xmlns="{NS}">
  <trustpoint><name>tp</name>{ca_xml}
    <certificate>{read(pki(server + '.pem'))}</certificate><private-key>{read(pki(server + '.key'))}</private-key>
    {crl_xml}</trustpoint>
  {cmap}
</pki>
<ikev2 xmlns="{NS}">
  <global><listen><address>0.0.0.0</address></listen>{f"<fragmentation><mtu>{mtu}</mtu></fragmentation>" if mtu else ""}</global>
  <authorization-policy><name>certs</name><pool>cert-pool</pool></authorization-policy>
  <authorization-policy><name>alice.example.org</name><pool>cert-pool</pool>
    <dns><primary>10.203.0.53</primary></dns></authorization-policy>
  <name-mangler><name>by-cn</name><dn>common-name</dn></name-mangler>
  <profile>
    <name>certs</name>
    <match>{match}</match>
    <identity><local><fqdn>headend.example.org</fqdn></local></identity>
    <authentication><local>{local}</local><remote><rsa-sig/><ecdsa-sig/></remote></authentication>
    <pki><trustpoint><name>tp</name></trustpoint></pki>
    <aaa><authorization><group><cert><method-list>local-list</method-list>{"<name-mangler>by-cn</name-mangler>" if mangle else "<username>certs</username>"}</cert></group></authorization></aaa>
  </profile>
</ikev2>
<pools xmlns="{NS}"><ipv4-pool><name>cert-pool</name><range><start>10.203.0.1</start><end>10.203.0.9</end></range></ipv4-pool></pools>
<aaa xmlns="{NS}"><authorization-list><name>local-list</name><method><sequence>1</sequence><local/></method></authorization-list></aaa>"""


def client_conf(pki, lb, name, i=0):
    c = lb.clients[i]
    return f"""connections {{
  rw {{
    remote_addrs = {c['head_ip']}
    vips = 0.0.0.0
    proposals = aes256gcm16-prfsha256-ecp256
    local {{
      auth = pubkey
      certs = {name}.pem
      id = {name}.example.org
    }}
    remote {{
      auth = pubkey
      id = headend.example.org
    }}
    children {{
      vpn {{
        remote_ts = 10.200.0.0/16
        esp_proposals = aes128gcm16
      }}
    }}
  }}
}}
"""


def connect(lb, pki, name, extra="", i=0, timeout=15):
    lb.install_creds(i, cert=pki(name + ".pem"), key=pki(name + ".key"), ca=pki("ca.pem"))
    lb.start_charon(i, client_conf(pki, lb, name, i), extra_charon=extra)
    return lb.swanctl(i, "--initiate", "--child", "vpn", "--timeout", str(timeout), check=False)


@pytest.mark.parametrize("server,client", [("head-rsa", "alice"), ("head-ec", "bob"), ("head-rsa", "bob"),
                                           ("head-ec", "alice")])
def test_certificates_both_ways(make_ravend, lab, pki, server, client):
    lb = lab(1)
    d = make_ravend(headend(pki, server), netns=lb.head)
    r = connect(lb, pki, client)
    log = lb.log(0)
    assert r.returncode == 0, f"{log[-4000:]}\n{d.log()[-2000:]}"
    # RFC 7427 digital signatures, PKCS#1 v1.5 for RSA and DER ECDSA
    scheme = "RSA_EMSA_PKCS1_SHA2_256" if server == "head-rsa" else "ECDSA_WITH_SHA256_DER"
    assert f"authentication of 'headend.example.org' with {scheme} successful" in log, log[-3000:]
    assert "installing new virtual IP 10.203.0.1" in log
    m = d.connect()
    s = sessions(m)[0]
    assert t(s, "remote-identity/value") == f"{client}.example.org"
    want = "raven-types:rsa-sig" if client == "alice" else "raven-types:ecdsa-sig"
    assert t(s, "authentication-method").endswith(want.split(":")[1])
    assert t(s, "authorized-group") == "certs"


def test_certificates_in_fragments(make_ravend, lab, pki):
    """With a 576-byte fragment MTU on both sides the certificate-carrying
    IKE_AUTH messages go in Encrypted Fragments both ways (RFC 7383)."""
    lb = lab(1)
    d = make_ravend(headend(pki, mtu=576), netns=lb.head)
    r = connect(lb, pki, "alice", extra="  fragment_size = 576")
    log = lb.log(0)
    assert r.returncode == 0, f"{log[-4000:]}\n{d.log()[-2000:]}"
    assert "splitting IKE message" in log and "reassembled fragmented IKE message" in log
    assert t(sessions(d.connect())[0], "ike-sa/fragmentation") == "true"


@pytest.mark.parametrize("cas", [("ca", "inter"), ("inter", "ca")])
def test_intermediate_sent_to_a_client_trusting_only_the_root(make_ravend, lab, pki, cas):
    """The headend's certificate from an intermediate CA, the trustpoint
    listing the root and the intermediate in either order: IKE_AUTH carries
    the intermediate in a CERT payload after the headend's own (RFC 7296 3.6),
    the root not, and a client with only the root in x509ca builds the path
    through it."""
    lb = lab(1)
    d = make_ravend(headend(pki, "head-inter", cas=cas), netns=lb.head)
    r = connect(lb, pki, "alice")
    log = lb.log(0)
    assert r.returncode == 0, f"{log[-4000:]}\n{d.log()[-2000:]}"
    assert os.listdir(os.path.join(lb.clients[0]["dir"], "x509ca")) == ["ca.pem"]
    received = [ln.split("received ", 1)[1] for ln in log.splitlines()
                if "received end entity cert" in ln or "received issuer cert" in ln]
    assert received == ['end entity cert "O=Raven Test, CN=headend.example.org"',
                        'issuer cert "O=Raven Test, CN=Raven Issuing CA"'], log[-4000:]
    assert 'using untrusted intermediate certificate "O=Raven Test, CN=Raven Issuing CA"' in log, log[-4000:]
    assert 'using trusted ca certificate "O=Raven Test, CN=Raven Test CA"' in log
    assert "authentication of 'headend.example.org' with ECDSA_WITH_SHA256_DER successful" in log
    assert t(sessions(d.connect())[0], "remote-identity/value") == "alice.example.org"


def test_dn_name_mangler_names_the_authorization_policy(make_ravend, lab, pki):
    """Group authorization for certificates through a name mangler taking the
    common name of the client certificate's subject (S5, S6)."""
    lb = lab(1)
    d = make_ravend(headend(pki, mangle=True), netns=lb.head)
    assert connect(lb, pki, "alice").returncode == 0, lb.log(0)[-3000:]
    assert t(sessions(d.connect())[0], "authorized-group") == "alice.example.org"
    assert "10.203.0.53" in open(os.path.join(lb.clients[0]["dir"], "resolv.conf")).read()


def test_classic_signature_methods_without_rfc7427(make_ravend, lab, pki):
    """A client that does not announce RFC 7427 hashes gets (and sends) the
    classic RSA / ECDSA AUTH methods."""
    lb = lab(1)
    d = make_ravend(headend(pki, "head-ec"), netns=lb.head)
    r = connect(lb, pki, "alice", extra="  signature_authentication = no")
    log = lb.log(0)
    assert r.returncode == 0, f"{log[-4000:]}\n{d.log()[-2000:]}"
    assert "N(HASH_ALG)" not in log.split("IKE_SA_INIT request 0")[1].split("\n")[0]
    assert "authentication of 'headend.example.org' with ECDSA-256 signature successful" in log


def test_certificate_map_selects_the_profile(make_ravend, lab, pki):
    """The profile matches issuer "Raven Test CA" and subject CN bob only."""
    lb = lab(2)
    d = make_ravend(headend(pki, cert_map=True), netns=lb.head)
    assert connect(lb, pki, "bob").returncode == 0, lb.log(0)[-3000:]
    assert connect(lb, pki, "alice", i=1).returncode != 0
    assert "received AUTHENTICATION_FAILED notify" in lb.log(1)
    assert "(alice.example.org) refused: no IKEv2 profile matches the identity" in d.log()


def test_certificate_map_attribute_rules_cannot_be_spoofed(make_ravend, lab, pki):
    """"subject-name co ou=staff" looks at the OU of the subject: frank (OU=staff)
    matches; eve, whose common name only contains the text ",OU=staff", does not."""
    lb = lab(2)
    d = make_ravend(headend(pki, cert_map=True, rules="<rule><field>subject-name</field><operator>co</operator>"
                                                      "<value>ou=staff</value></rule>"), netns=lb.head)
    assert connect(lb, pki, "frank").returncode == 0, lb.log(0)[-3000:]
    assert connect(lb, pki, "eve", i=1).returncode != 0
    assert "(eve.example.org) refused: no IKEv2 profile matches the identity" in d.log()


@pytest.mark.parametrize("client,reason", [
    ("mallory", "certificate verification failed: unable to get local issuer certificate"),
    ("carol", "certificate verification failed: certificate revoked"),
])
def test_untrusted_and_revoked_certificates_are_refused(make_ravend, lab, pki, client, reason):
    lb = lab(1)
    d = make_ravend(headend(pki), netns=lb.head)
    r = connect(lb, pki, client)
    assert r.returncode != 0
    assert "received AUTHENTICATION_FAILED notify" in lb.log(0)
    assert reason in d.log(), d.log()[-2000:]
    assert not sessions(d.connect())


def test_bad_trustpoint_pem_is_refused_in_prepare(make_ravend, pki):
    d = make_ravend()
    m = d.connect()
    err = expect_error(lambda: m.edit_config(target="running", config=cfg(
        f'<pki xmlns="{NS}"><trustpoint><name>bad</name><ca-certificate>{read(pki("ca.pem"))}</ca-certificate>'
        f'<certificate>{read(pki("alice.pem"))}</certificate><private-key>{read(pki("bob.key"))}</private-key>'
        '</trustpoint></pki>')), "operation-failed")
    assert "trustpoint bad: the private key does not belong to the certificate" in err.message
