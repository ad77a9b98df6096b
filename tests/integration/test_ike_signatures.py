"""RFC 7427 signatures beyond PKCS#1 v1.5 and ECDSA against strongSwan 5.9.8
clients: RSASSA-PSS (SHA2 hash, MGF1 of the same hash, salt of the hash's
length) and Ed25519 (RFC 8420, the Identity hash), both as the client's AUTH
that ravend verifies and as ravend's AUTH that the client verifies, the
client requiring the scheme with an `ike:` signature constraint so that a
PKCS#1 v1.5 AUTH would fail it. Ed25519 certificates are made with openssl.

Topology: [client: 10.<n>.0.2] --veth-- [headend namespace: ravend, 10.<n>.0.1]
"""
import pytest

from test_ike_certs import read, run
from test_ike_sessions import sessions, t

REQUIRES = ("strongswan", "openssl")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """An RSA CA; headend and client certificates with RSA and Ed25519 keys."""
    d = tmp_path_factory.mktemp("sigpki")
    p = lambda n: str(d / n)

    def key(name, kind):
        opts = ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"] if kind == "rsa" else ["-algorithm", "ED25519"]
        run("openssl", "genpkey", *opts, "-out", p(name + ".key"))

    key("ca", "rsa")
    run("openssl", "req", "-x509", "-new", "-key", p("ca.key"), "-subj", "/O=Raven Test/CN=Sig CA", "-days", "30",
        "-out", p("ca.pem"), "-addext", "basicConstraints=critical,CA:true",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for name, kind, san, eku in (("head-rsa", "rsa", "headend.example.org", "serverAuth"),
                                 ("head-ed", "ed25519", "headend.example.org", "serverAuth"),
                                 ("alice", "rsa", "alice.example.org", "clientAuth"),
                                 ("dave", "ed25519", "dave.example.org", "clientAuth")):
        key(name, kind)
        run("openssl", "req", "-new", "-key", p(name + ".key"), "-subj", f"/O=Raven Test/CN={san}",
            "-out", p(name + ".csr"))
        with open(p(name + ".ext"), "w") as f:
            f.write(f"subjectAltName=DNS:{san}\nextendedKeyUsage={eku}\n")
        run("openssl", "x509", "-req", "-in", p(name + ".csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
            "-CAcreateserial", "-days", "10", "-sha256", "-out", p(name + ".pem"), "-extfile", p(name + ".ext"))
    return p


def headend(pki, server, local, scheme=""):
    from conftest import NS
    return f"""<pki xmlns="{NS}">
  <trustpoint><name>tp</name><ca-certificate>{read(pki('ca.pem'))}</ca-certificate>
    <certificate>{read(pki(server + '.pem'))}</certificate><private-key>{read(pki(server + '.key'))}</private-key>
    <revocation-check>none</revocation-check></trustpoint>
</pki>
<ikev2 xmlns="{NS}">
  <global><listen><address>0.0.0.0</address></listen></global>
  <authorization-policy><name>certs</name><pool>sig-pool</pool></authorization-policy>
  <profile>
    <name>certs</name>
    <match><identity><remote><fqdn><domain>example.org</domain></fqdn></remote></identity></match>
    <identity><local><fqdn>headend.example.org</fqdn></local></identity>
    <authentication><local><{local}/>{f"<rsa-signature-scheme>{scheme}</rsa-signature-scheme>" if scheme else ""}</local>
      <remote><rsa-sig/><ecdsa-sig/></remote></authentication>
    <pki><trustpoint><name>tp</name></trustpoint></pki>
    <aaa><authorization><group><cert><method-list>local-list</method-list><username>certs</username></cert></group></authorization></aaa>
  </profile>
</ikev2>
<pools xmlns="{NS}"><ipv4-pool><name>sig-pool</name><range><start>10.204.0.1</start><end>10.204.0.9</end></range></ipv4-pool></pools>
<aaa xmlns="{NS}"><authorization-list><name>local-list</name><method><sequence>1</sequence><local/></method></authorization-list></aaa>"""


def client_conf(lb, name, local_auth, remote_auth):
    return f"""connections {{
  rw {{
    remote_addrs = {lb.clients[0]['head_ip']}
    vips = 0.0.0.0
    proposals = aes256gcm16-prfsha256-ecp256
    local {{
      auth = {local_auth}
      certs = {name}.pem
      id = {name}.example.org
    }}
    remote {{
      auth = {remote_auth}
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


def connect(lb, pki, name, local_auth, remote_auth):
    lb.install_creds(0, cert=pki(name + ".pem"), key=pki(name + ".key"), ca=pki("ca.pem"))
    lb.start_charon(0, client_conf(lb, name, local_auth, remote_auth))
    return lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "15", check=False)


@pytest.mark.parametrize("server,local,scheme,client,client_auth,remote_auth,ours,theirs", [
    # PSS both ways: the client signs with PSS, and accepts only PSS from us
    ("head-rsa", "rsa-sig", "pss", "alice", "ike:rsa/pss-sha256", "ike:rsa/pss-sha256",
     "RSA_EMSA_PSS_SHA2_256_SALT_32", "RSA_EMSA_PSS_SHA2_256_SALT_32"),
    # Ed25519 both ways
    ("head-ed", "ecdsa-sig", "", "dave", "pubkey", "ike:ed25519", "ED25519", "ED25519"),
    # mixed: an Ed25519 client to a PSS headend, a PSS client to an Ed25519 headend
    ("head-rsa", "rsa-sig", "pss", "dave", "pubkey", "ike:rsa/pss-sha256", "RSA_EMSA_PSS_SHA2_256_SALT_32", "ED25519"),
    ("head-ed", "ecdsa-sig", "", "alice", "ike:rsa/pss-sha384", "ike:ed25519", "ED25519", "RSA_EMSA_PSS_SHA2_384_SALT_48"),
])
def test_pss_and_ed25519_both_ways(make_ravend, lab, pki, server, local, scheme, client, client_auth, remote_auth,
                                   ours, theirs):
    lb = lab(1)
    d = make_ravend(headend(pki, server, local, scheme), netns=lb.head)
    r = connect(lb, pki, client, client_auth, remote_auth)
    log = lb.log(0)
    assert r.returncode == 0, f"{log[-4000:]}\n{d.log()[-2000:]}"
    assert f"authentication of '{client}.example.org' (myself) with {theirs} successful" in log, log[-3000:]
    assert f"authentication of 'headend.example.org' with {ours} successful" in log, log[-3000:]
    # we announced Identity (RFC 8420) beside the SHA-2 hashes
    assert "received supported signature hash algorithms: sha256 sha384 sha512 identity" in log
    s = sessions(d.connect())[0]
    assert t(s, "remote-identity/value") == f"{client}.example.org"


def test_pkcs1_headend_fails_a_client_that_requires_pss(make_ravend, lab, pki):
    """Without rsa-signature-scheme pss our RSA AUTH is PKCS#1 v1.5, which a
    client requiring PSS refuses: the setting is what makes the PSS case pass."""
    lb = lab(1)
    d = make_ravend(headend(pki, "head-rsa", "rsa-sig"), netns=lb.head)
    r = connect(lb, pki, "alice", "pubkey", "ike:rsa/pss-sha256")
    log = lb.log(0)
    assert r.returncode != 0
    assert "authentication of 'headend.example.org' with RSA_EMSA_PKCS1_SHA2_256 successful" in log, log[-3000:]
    assert "selected peer config 'rw' unacceptable: constraint checking failed" in log, log[-3000:]
    assert d.connect()


def test_pss_scheme_with_an_ecdsa_profile_is_refused(make_ravend, pki):
    """rsa-signature-scheme pss belongs to authentication local rsa-sig: with
    ecdsa-sig the commit is refused, saying so, and nothing changes."""
    from conftest import cfg
    from nchelpers import expect_error
    d = make_ravend()
    m = d.connect()
    bad = headend(pki, "head-ed", "ecdsa-sig", "pss")
    err = expect_error(lambda: m.edit_config(target="running", config=cfg(bad)), "operation-failed")
    assert "rsa-signature-scheme pss applies to authentication local rsa-sig only" in err.message
    assert "certs" not in str(m.get_config(source="running"))
