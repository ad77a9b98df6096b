"""The vendor guide's examples 1-5 (yang/examples/) with real sessions: each file
is loaded as it is, with only what belongs to the lab changed (the trustpoint's
PEM blocks become the test CA's and the headend's RSA certificate, whose
name becomes the profile's local identity, the trustpoint gets the test CA's
CRL for its revocation-check crl (the vendor fetches it from the SCEP server of
the enrollment URL, which Raven has no equivalent of), the RADIUS
server's address becomes FreeRADIUS on the headend's loopback, IKE listens on
every address, the dataplane interface is left out: these tests check IKE and
configuration mode). A strongSwan client then brings up a session with the
example's authentication method and checks the attributes it received.

Topology: [client: 10.<n>.0.2] --veth-- [headend namespace: ravend, FreeRADIUS]
"""
import copy
import os
import re

import pytest
from lxml import etree

from conftest import NS, ROOT
from nchelpers import parse_config_file
from radiushelpers import FreeRadius
from test_eap_radius import client_conf, resolv
from test_ike_certs import pki, read, run  # noqa: F401 (the pki fixture)
from test_ike_sessions import sessions, t

REQUIRES = ("strongswan", "freeradius", "openssl")
REQUIRES_PLUGINS = ("eap-identity", "eap-mschapv2")

EXAMPLES = os.path.join(ROOT, "yang", "examples")

# the RADIUS side of examples 1, 2 and 4
USERS = """ex1user Cleartext-Password := "ex1-pw-1"

grp2 Cleartext-Password := "cisco"
\tFramed-IP-Address = 10.222.0.5,
\tCisco-AVPair = "ipsec:dns-servers=10.222.0.53",
\tCisco-AVPair += "ipsec:route-set=prefix 10.222.100.0/24"

ex4user Cleartext-Password := "cisco"
\tFramed-IP-Address = 10.224.0.5,
\tCisco-AVPair = "ipsec:dns-servers=10.224.0.53",
\tCisco-AVPair += "ipsec:route-set=prefix 10.224.100.0/24"
"""


def q(tag):
    return f"{{{NS}}}{tag}"


def example(n, pki, fr=None):
    """Example @n's configuration with the lab's certificates and RADIUS server."""
    path = [os.path.join(EXAMPLES, f) for f in sorted(os.listdir(EXAMPLES)) if f.startswith(f"example-{n}-")][0]
    tops = []
    for top in parse_config_file(path):
        name = etree.QName(top).localname
        if name == "dataplane":
            continue
        top = copy.deepcopy(top)
        for tag, f in (("ca-certificate", "ca.pem"), ("certificate", "head-rsa.pem"), ("private-key", "head-rsa.key")):
            for el in top.iter(q(tag)):
                el.text = read(pki(f))
        if name == "pki":  # revocation-check crl refuses a client without a CRL
            for tp in top.findall(q("trustpoint")):
                etree.SubElement(tp, q("crl")).text = read(pki("ca.crl"))
        for srv in top.iter(q("radius-server")):
            srv.find(q("address")).text = "127.0.0.1"
            srv.find(q("key")).text = fr.secret
            for tag, v in (("auth-port", fr.port), ("acct-port", fr.acct_port), ("source-address", "127.0.0.1")):
                etree.SubElement(srv, q(tag)).text = str(v)
        if name == "ikev2":
            top.insert(0, etree.fromstring(f'<global xmlns="{NS}"><listen><address>0.0.0.0</address>'
                                           '</listen></global>'))
            for prof in top.iter(q("profile")):  # the name in the lab's headend certificate
                prof.insert(2, etree.fromstring(f'<identity xmlns="{NS}"><local><fqdn>headend.example.org</fqdn>'
                                                '</local></identity>'))
        tops.append(top)
    return "".join(etree.tostring(t, encoding="unicode") for t in tops)


def client_cert(pki, name, subj, san):
    """A client certificate of the test CA whose subject matches certmap1
    (subject-name co cisco)."""
    p = pki
    if not os.path.exists(p(name + ".pem")):
        run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", p(name + ".key"))
        run("openssl", "req", "-new", "-key", p(name + ".key"), "-subj", subj, "-out", p(name + ".csr"))
        with open(p(name + ".ext"), "w") as f:
            f.write(f"subjectAltName=DNS:{san}\nextendedKeyUsage=clientAuth\n")
        run("openssl", "x509", "-req", "-in", p(name + ".csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
            "-CAcreateserial", "-days", "10", "-out", p(name + ".pem"), "-extfile", p(name + ".ext"))


def cert_connect(lb, pki, name, san, vips="0.0.0.0", remote_ts="0.0.0.0/0"):
    lb.install_creds(0, cert=pki(name + ".pem"), key=pki(name + ".key"), ca=pki("ca.pem"))
    c = lb.clients[0]
    lb.start_charon(0, f"""connections {{
  rw {{
    remote_addrs = {c['head_ip']}
    vips = {vips}
    proposals = aes256gcm16-prfsha256-ecp256
    local {{
      auth = pubkey
      certs = {name}.pem
      id = {san}
    }}
    remote {{
      auth = pubkey
    }}
    children {{
      vpn {{
        remote_ts = {remote_ts}
        esp_proposals = aes128-sha1
      }}
    }}
  }}
}}
""")
    return lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "20", check=False)


@pytest.fixture
def radius(lab):
    made = []

    def make(lb):
        fr = FreeRadius(netns=lb.head, users_extra=USERS)
        made.append(fr)
        return fr

    yield make
    for fr in made:
        fr.close()


def test_example1_eap_radius(make_ravend, lab, radius, pki):
    """EAP with query-identity through RADIUS; the client's IKE ID is its
    address (match identity remote address 0.0.0.0). The example configures no
    authorization, so the Access-Accept's attributes are not used: the client
    asks for no address and its child SA carries its own address, with the
    example's transform set (esp-aes esp-sha-hmac)."""
    lb = lab(1)
    fr = radius(lb)
    d = make_ravend(example(1, pki, fr), netns=lb.head)
    lb.install_creds(0, ca=pki("ca.pem"))
    conf = client_conf(lb.clients[0], lb.clients[0]["ip"], "ex1user", "ex1-pw-1", method="eap-md5",
                       remote_ts="0.0.0.0/0", vips="").replace("aes128gcm16", "aes128-sha1")
    lb.start_charon(0, conf.replace("    vips = \n", ""))
    r = lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "20", check=False)
    log = lb.log(0)
    assert r.returncode == 0, f"{log[-4000:]}\n{d.log()[-3000:]}"
    assert "EAP/REQ/ID" in log
    assert "EAP method EAP_MD5 succeeded" in log
    sas = lb.swanctl(0, "--list-sas").stdout
    assert "AES_CBC-128/HMAC_SHA1_96" in sas and f"local  {lb.clients[0]['ip']}/32" in sas, sas
    s = sessions(d.connect())[0]
    assert t(s, "eap-identity") == "ex1user" and t(s, "profile") == "ikev2-profile1"
    assert t(s, "ipsec-profile") == "ipsec-profile1"  # virtual-template 1's tunnel protection


def test_example2_group_from_external_aaa(make_ravend, lab, radius, pki):
    """Certificate authentication (certmap1), group authorization from RADIUS
    with the group name the certificate DN's domain component."""
    lb = lab(1)
    fr = radius(lb)
    client_cert(pki, "ex2", "/DC=grp2/O=cisco/CN=ex2.example.org", "ex2.example.org")
    d = make_ravend(example(2, pki, fr), netns=lb.head)
    r = cert_connect(lb, pki, "ex2", "ex2.example.org")
    log = lb.log(0)
    assert r.returncode == 0, f"{log[-4000:]}\n{d.log()[-3000:]}\n{fr.log()[-2000:]}"
    assert "installing new virtual IP 10.222.0.5" in log
    assert "10.222.0.53" in resolv(lb)
    assert "10.222.100.0/24" in lb.swanctl(0, "--list-sas").stdout
    s = sessions(d.connect())[0]
    assert t(s, "authorized-group") == "grp2"


def test_example3_group_from_local_policy(make_ravend, lab, pki):
    """Certificate authentication, group authorization from the local policy
    author-policy1: the pool's first address, its netmask, DNS, WINS and the
    split subnets of acl1."""
    lb = lab(1)
    client_cert(pki, "ex3", "/O=cisco/CN=ex3.example.org", "ex3.example.org")
    d = make_ravend(example(3, pki), netns=lb.head)
    r = cert_connect(lb, pki, "ex3", "ex3.example.org")
    log = lb.log(0)
    assert r.returncode == 0, f"{log[-4000:]}\n{d.log()[-3000:]}"
    assert "installing new virtual IP 192.168.2.10" in log
    rc = resolv(lb)
    assert "10.1.1.1" in rc and "10.1.1.2" in rc, rc
    for attr in ("NETMASK", "NBNS", "SUBNET"):
        assert f"processing INTERNAL_IP4_{attr} attribute" in log, attr
    # every prefix of acl1 (19 of them) is a selector of the child SA
    acl = [e.text for e in etree.fromstring(f"<r>{example(3, pki)}</r>").iter(q("prefix"))]
    assert len(acl) == 19
    remote = re.findall(r"\n +remote ([0-9][^\n]*)", lb.swanctl(0, "--list-sas").stdout)[-1].split()
    assert sorted(remote) == sorted(acl), f"missing: {sorted(set(acl) - set(remote))}"
    s = sessions(d.connect())[0]
    assert t(s, "authorized-group") == "author-policy1" and t(s, "assigned-ipv4") == "192.168.2.10"


def test_example4_user_from_external_aaa(make_ravend, lab, radius, pki):
    """Certificate authentication, user authorization from RADIUS with the
    user name the certificate's common name."""
    lb = lab(1)
    fr = radius(lb)
    client_cert(pki, "ex4", "/O=cisco/CN=ex4user", "ex4.example.org")
    d = make_ravend(example(4, pki, fr), netns=lb.head)
    r = cert_connect(lb, pki, "ex4", "ex4.example.org")
    log = lb.log(0)
    assert r.returncode == 0, f"{log[-4000:]}\n{d.log()[-3000:]}\n{fr.log()[-2000:]}"
    assert "installing new virtual IP 10.224.0.5" in log
    assert "10.224.0.53" in resolv(lb)
    assert "10.224.100.0/24" in lb.swanctl(0, "--list-sas").stdout
    assert 'User-Name = "ex4user"' in fr.log()
    s = sessions(d.connect())[0]
    assert t(s, "authorized-user") == "ex4user"


def test_example5_ipv6(make_ravend, lab, pki):
    """IPv6 session: an address of v6-pool, the IPv6 DNS servers, and the
    IPv6 split subnets of v6-acl (ipv6 subnet-acl) as INTERNAL_IP6_SUBNET and
    in the child SA's selectors."""
    lb = lab(1)
    client_cert(pki, "ex5", "/O=cisco/CN=ex5.example.org", "ex5.example.org")
    d = make_ravend(example(5, pki), netns=lb.head)
    r = cert_connect(lb, pki, "ex5", "ex5.example.org", vips="::", remote_ts="::/0")
    log = lb.log(0)
    assert r.returncode == 0, f"{log[-4000:]}\n{d.log()[-3000:]}"
    assert re.search(r"installing new virtual IP 2001:db8::", log), log[-3000:]
    rc = resolv(lb)
    assert "2001:db8:1::11" in rc and "2001:db8:1::12" in rc, rc
    assert re.search(r"CPRP\([^)]*SUBNET", log), "no INTERNAL_IP6_SUBNET: " + log[-3000:]
    sas = lb.swanctl(0, "--list-sas").stdout
    assert "2001:db8:1::20/128" in sas and "2001:db8:1::30/128" in sas, sas
    assert t(sessions(d.connect())[0], "authorized-group") == "author-policy1"
