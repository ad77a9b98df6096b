"""Real networks with strongSwan clients (kernel-libipsec, so ESP in UDP on 4500):

- IPv6 transport: a dual-stack headend (IKE listening on 0.0.0.0 and ::) that a
  client reaches over IPv6 only, asking for an IPv4 and an IPv6 inner address; the
  inside host answers pings of both inner families through the AF_XDP workers
  (IPv6 outer headers both ways; the headend's kernel forwards nothing);
- fragmented ESP in UDP: a client whose link MTU is 1200 pings with 1300 bytes,
  its kernel fragments the UDP datagram and the workers reassemble it (the
  inside host receives the echo requests; the worker's reassembly counters);
  the same over IPv6 (fragment header); with the headend's side of that link
  at 1200 too, the answers (no DF) are fragmented before encryption and the
  large pings are answered;
- IKE fragmented by IP (a certificate client with IKE fragmentation off and a
  link MTU of 1000, or 1280 over IPv6) still reaches the IKE socket while the XDP
  program steers UDP fragments to the workers: they reassemble it and hand it to
  the kernel;
- RFC 4459: the inside host pings the client without DF, larger than the
  session's MTU (attribute list mtu 1300): the headend fragments the inner packet
  before encryption, the client reassembles and answers (its answer, larger than
  its link, is fragmented ESP in UDP, reassembled by the headend); with DF the
  answer stays ICMP "fragmentation needed"."""
import re
import time

import pytest

from conftest import NS
from lab import psk_client_conf
from test_dataplane import dataplane_config, dual_stack_config, ns_run, ping, start
from test_dataplane_session import attr_list_config
from test_ike_certs import client_conf, headend, pki  # noqa: F401 (the pki fixture)
from test_ike_sessions import sessions, state, t

REQUIRES = ("strongswan", "ping", "openssl")

LISTEN4 = "<listen><address>0.0.0.0</address></listen>"
LISTEN46 = "<listen><address>0.0.0.0</address><address>::</address></listen>"


def frag_counters(m):
    """Each worker's fragments container summed, from vpn-state."""
    tot = {}
    for f in state(m).iter(f"{{{NS}}}fragments"):
        for c in f:
            k = c.tag.split("}")[1]
            tot[k] = tot.get(k, 0) + int(c.text)
    return tot


def icmp_in_echos(ns):
    """IcmpInEchos (or Icmp6InEchos with @v6) of namespace @ns."""
    out = ns_run(ns, "cat", "/proc/net/snmp").stdout
    names, values = [ln.split()[1:] for ln in out.splitlines() if ln.startswith("Icmp:")][:2]
    return int(dict(zip(names, values))["InEchos"])


def icmp6_in_echos(ns):
    out = ns_run(ns, "cat", "/proc/net/snmp6").stdout
    return int(re.search(r"^Icmp6InEchos\s+(\d+)", out, re.M).group(1))


def v6_outside(lb, i=0):
    """IPv6 on client @i's link (lab.Lab.v6_outside)."""
    return lb.v6_outside(i)


def start_v6(make_ravend, lab):
    """A dual-stack headend and one client that reaches it over IPv6 only."""
    lb = lab(1, inside=True)
    head6, cl6 = v6_outside(lb)
    d = make_ravend(dual_stack_config(lb).replace(LISTEN4, LISTEN46), netns=lb.head)
    c = lb.clients[0]
    cc = psk_client_conf(head6, "user0.example.org", esp="aes256gcm16", remote_ts=f"{lb.inside_net},fd00:250::/64")
    lb.start_charon(0, cc.replace("vips = 0.0.0.0", "vips = 0.0.0.0,::"))
    r = lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "15", check=False)
    assert r.returncode == 0, lb.log(0)[-3000:]
    return lb, d, head6, cl6


def test_ike_and_esp_over_ipv6_with_inner_ipv4_and_ipv6(make_ravend, lab):
    lb, d, head6, cl6 = start_v6(make_ravend, lab)
    c = lb.clients[0]
    m = d.connect()
    s = sessions(m)
    assert len(s) == 1
    # the session's peer is the client's IPv6 address; both inner families leased
    assert cl6 in "".join(s[0].itertext()), "".join(s[0].itertext())
    assert t(s[0], "assigned-ipv4") and t(s[0], "assigned-ipv6"), "".join(s[0].itertext())
    sas = lb.swanctl(0, "--list-sas").stdout
    assert head6 in sas, sas
    r = ping(c["ns"], lb.inside_ip, count=4)
    assert "4 received" in r.stdout
    r = ns_run(c["ns"], "ping", "-6", "-n", "-q", "-c", "4", "-i", "0.2", "-W", "2", "fd00:250::2")
    assert "4 received" in r.stdout
    # and from the inside to the client, both families
    r = ping(lb.inside, t(s[0], "assigned-ipv4"), count=2)
    assert "2 received" in r.stdout
    r = ns_run(lb.inside, "ping", "-6", "-n", "-q", "-c", "2", "-i", "0.2", "-W", "2", "fd00:201::1")
    assert "2 received" in r.stdout
    # the workers carried it (the headend's kernel forwards nothing, has no ESP)
    dp = state(m).find(f"{{{NS}}}dataplane")
    dec = sum(int(x.text) for x in dp.iter(f"{{{NS}}}packets-decrypted"))
    enc = sum(int(x.text) for x in dp.iter(f"{{{NS}}}packets-encrypted"))
    assert dec >= 12 and enc >= 12, (dec, enc)


def test_fragmented_esp_in_udp_from_a_client_is_reassembled(make_ravend, lab):
    lb, d = start(make_ravend, lab)
    c = lb.clients[0]
    m = d.connect()
    ping(c["ns"], lb.inside_ip, count=2)  # neighbours known
    ns_run(c["ns"], "ip", "link", "set", f"{lb.tag}a0", "mtu", "1200")
    before = icmp_in_echos(lb.inside)
    # the replies, larger than the client's link, are lost on its veth: count the
    # requests where they arrive
    ping(c["ns"], lb.inside_ip, count=3, check=False)
    ns_run(c["ns"], "ping", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "1", "-s", "1300", lb.inside_ip, check=False)
    assert icmp_in_echos(lb.inside) - before == 6
    f = frag_counters(m)
    assert f["reassembled"] >= 3 and f["received"] >= 6, f
    assert f["invalid"] == 0 and f["timeouts"] == 0, f


def test_a_client_on_a_1200_byte_link_gets_its_large_pings_answered(make_ravend, lab):
    """Both ways at once: the client's large requests arrive fragmented and are
    reassembled; the answers (no DF), larger than the tunnel over the headend's
    1200-byte link to the client, are fragmented before encryption (RFC 4459)."""
    lb, d = start(make_ravend, lab)
    c = lb.clients[0]
    m = d.connect()
    ping(c["ns"], lb.inside_ip, count=2)  # neighbours known
    for ns, dev in ((c["ns"], f"{lb.tag}a0"), (lb.head, f"{lb.tag}b0")):
        ns_run(ns, "ip", "link", "set", dev, "mtu", "1200")
    time.sleep(1.5)  # the workers read the link's MTU about once a second
    r = ns_run(c["ns"], "ping", "-n", "-q", "-c", "4", "-i", "0.3", "-W", "2", "-s", "1300", lb.inside_ip,
               check=False)
    assert "4 received" in r.stdout, r.stdout + r.stderr
    f = frag_counters(m)
    assert f["reassembled"] >= 4 and f["inner-fragmented"] >= 4, f


def test_fragmented_esp_in_udp_over_ipv6_is_reassembled(make_ravend, lab):
    lb, d, head6, cl6 = start_v6(make_ravend, lab)
    c = lb.clients[0]
    m = d.connect()
    ns_run(c["ns"], "ping", "-6", "-n", "-q", "-c", "2", "-W", "2", "fd00:250::2")
    ns_run(c["ns"], "ip", "link", "set", f"{lb.tag}a0", "mtu", "1280")
    before4, before6 = icmp_in_echos(lb.inside), icmp6_in_echos(lb.inside)
    ns_run(c["ns"], "ping", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "1", "-s", "1300", lb.inside_ip, check=False)
    ns_run(c["ns"], "ping", "-6", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "1", "-s", "1300", "fd00:250::2",
           check=False)
    assert icmp_in_echos(lb.inside) - before4 == 3
    assert icmp6_in_echos(lb.inside) - before6 == 3
    f = frag_counters(m)
    assert f["reassembled"] >= 6, f


def test_inner_ipv4_without_df_is_fragmented_before_encryption(make_ravend, lab):
    lb = lab(1, inside=True)
    d = make_ravend(attr_list_config(lb, 1200, 1300) + dataplane_config(lb), netns=lb.head)
    c = lb.clients[0]
    lb.start_charon(0, psk_client_conf(c["head_ip"], "user0.example.org", remote_ts=lb.inside_net))
    assert lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "15", check=False).returncode == 0
    m = d.connect()
    vip = t(sessions(m)[0], "assigned-ipv4")
    ping(c["ns"], lb.inside_ip, count=2)  # neighbours known
    # 1428 bytes without DF, over the session's 1300: fragmented inside the tunnel;
    # the client's answer (1428 inner) is fragmented ESP in UDP on its link
    r = ns_run(lb.inside, "ping", "-n", "-q", "-M", "dont", "-s", "1400", "-c", "3", "-i", "0.3", "-W", "2", vip,
               check=False)
    assert "3 received" in r.stdout, r.stdout + r.stderr
    f = frag_counters(m)
    assert f["inner-fragmented"] >= 3 and f["inner-fragments"] >= 6, f
    # with DF: still ICMP "fragmentation needed" with the session's MTU
    r = ns_run(lb.inside, "ping", "-n", "-M", "do", "-s", "1400", "-c", "1", "-W", "2", vip, check=False)
    assert re.search(r"[Ff]rag needed and DF set \(mtu = 1300\)", r.stdout + r.stderr), r.stdout + r.stderr


@pytest.mark.parametrize("family", [4, 6])
def test_ike_fragmented_by_ip_reaches_the_ike_socket(make_ravend, lab, pki, family):
    lb = lab(1, inside=True)
    c = lb.clients[0]
    conf = headend(pki, "head-rsa") + dataplane_config(lb)
    cc = client_conf(pki, lb, "alice")
    mtu = "1000"
    if family == 6:
        head6, _ = v6_outside(lb)
        conf = conf.replace(LISTEN4, LISTEN46)
        cc = cc.replace(f"remote_addrs = {c['head_ip']}", f"remote_addrs = {head6}")
        mtu = "1280"
    d = make_ravend(conf, netns=lb.head)
    for ns, dev in ((c["ns"], f"{lb.tag}a0"), (lb.head, f"{lb.tag}b0")):
        ns_run(ns, "ip", "link", "set", dev, "mtu", mtu)
    lb.install_creds(0, cert=pki("alice.pem"), key=pki("alice.key"), ca=pki("ca.pem"))
    # RFC 7383 off: the IKE_AUTH with the certificate leaves in IP fragments
    lb.start_charon(0, cc.replace("vips = 0.0.0.0", "vips = 0.0.0.0\n    fragmentation = no"))
    r = lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "15", check=False)
    assert r.returncode == 0, lb.log(0)[-3000:] + d.log()[-2000:]
    m = d.connect()
    assert t(sessions(m)[0], "ike-sa/fragmentation") == "false"
    f = frag_counters(m)
    assert f["reassembled"] >= 1, f
