"""Child SAs of one session and their selectors, with a real strongSwan client:

- the flow limit (/ipsec/profile/flow-limit) holds as configured, past the 8
  child SAs that a fixed table once allowed: one client opens one child SA per
  swanctl child (each with its own remote_ts) until the limit refuses one;
- ipv6-subnet-acl of the authorization policy (the seed's example 5): its IPv6
  prefixes, merged with route set access-list ipv6, reach a client that asks
  for IPv6 (vips = ::) as INTERNAL_IP6_SUBNET, and bound the child SA's
  selectors (narrowed from the client's wider remote_ts).

Topology: [client 0: charon, kernel-libipsec] --veth-- [headend: ravend]
"""
from conftest import NS
from lab import psk_client_conf
from test_ike_sessions import headend_config, sessions, t

REQUIRES = ("strongswan",)

FLOWS = 12


def children_conf(head_ip, n):
    """A PSK client with @n children vpn0..vpn<n-1>, each towards its own /24."""
    conf = psk_client_conf(head_ip, "alice.example.org", esp="aes128gcm16")
    kids = "".join(f"""      vpn{i} {{
        remote_ts = 10.200.{i}.0/24
        esp_proposals = aes128gcm16
      }}
""" for i in range(n))
    start = conf.index("      vpn {")
    end = conf.index("    }\n  }\n}\nsecrets")
    return conf[:start] + kids + conf[end:]


def test_flow_limit_as_configured(make_ravend, lab):
    lb = lab(1)
    ipsec = f"""<ipsec xmlns="{NS}" xmlns:rt="urn:raven:params:xml:ns:yang:raven-types">
  <transform-set><name>gcm</name><esp-encryption>rt:aes-gcm-16-128</esp-encryption></transform-set>
  <profile><name>rw-ipsec</name><transform-set>gcm</transform-set><ikev2-profile>rw</ikev2-profile>
    <flow-limit>{FLOWS}</flow-limit></profile>
</ipsec>"""
    d = make_ravend(headend_config() + ipsec, netns=lb.head)
    lb.start_charon(0, children_conf(lb.clients[0]["head_ip"], FLOWS + 1))
    for i in range(FLOWS):
        r = lb.swanctl(0, "--initiate", "--child", f"vpn{i}", "--timeout", "15", check=False)
        assert r.returncode == 0, f"child {i}: {r.stdout[-2000:]}\n{d.log()[-3000:]}"
    r = lb.swanctl(0, "--initiate", "--child", f"vpn{FLOWS}", "--timeout", "15", check=False)
    assert r.returncode != 0
    assert "received NO_ADDITIONAL_SAS notify" in lb.log(0), lb.log(0)[-3000:]
    sas = lb.swanctl(0, "--list-sas").stdout
    assert sas.count("INSTALLED") == FLOWS, sas
    for i in range(FLOWS):
        assert f"remote 10.200.{i}.0/24" in sas
    m = d.connect()
    s = sessions(m)[0]
    assert t(s, "flow-limit") == str(FLOWS)
    assert len(s.findall(f"{{{NS}}}child-sa")) == FLOWS


def test_ipv6_subnet_acl_pushed_and_narrowed(make_ravend, lab):
    lb = lab(1)
    policy = "<ipv6-pool>v6</ipv6-pool><ipv6-subnet-acl>v6-acl</ipv6-subnet-acl>"
    extra = f"""<access-lists xmlns="{NS}">
  <access-list><name>v6-acl</name>
    <entry><sequence>10</sequence><action>permit</action><prefix>2001:db8:100:1::/64</prefix></entry>
    <entry><sequence>20</sequence><action>permit</action><prefix>2001:db8:100:2::/64</prefix></entry>
  </access-list>
  <access-list><name>v6-routes</name>
    <entry><sequence>10</sequence><action>permit</action><prefix>2001:db8:100:3::/64</prefix></entry>
    <entry><sequence>20</sequence><action>permit</action><prefix>2001:db8:100:1::/64</prefix></entry>
  </access-list>
</access-lists>"""
    conf = headend_config(extra_policy=policy).replace(
        "</pools>", "<ipv6-pool><name>v6</name><prefix>2001:db8:99::/64</prefix></ipv6-pool></pools>").replace(
        "</remote></set>", "</remote><access-list><ipv6>v6-routes</ipv6></access-list></set>")
    d = make_ravend(conf + extra, netns=lb.head)
    conf = psk_client_conf(lb.clients[0]["head_ip"], "alice.example.org",
                           remote_ts="10.200.0.0/16,2001:db8:100::/48").replace("vips = 0.0.0.0", "vips = 0.0.0.0,::")
    lb.start_charon(0, conf)
    r = lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "15", check=False)
    log = lb.log(0)
    assert r.returncode == 0, f"{r.stdout[-2000:]}\n{log[-3000:]}\n{d.log()[-3000:]}"
    assert "installing new virtual IP 2001:db8:99::1" in log, log[-3000:]
    sas = lb.swanctl(0, "--list-sas").stdout
    # the child SA's selectors: the split subnets, the ACLs' union once each
    remote = [ln for ln in sas.splitlines() if ln.strip().startswith("remote ") and "@" not in ln]
    assert remote, sas
    nets = remote[0].split()[1:]
    assert sorted(nets) == sorted(["10.200.0.0/16", "2001:db8:100:1::/64", "2001:db8:100:2::/64",
                                   "2001:db8:100:3::/64"]), sas
    assert "2001:db8:99::1/128" in sas
    # and pushed: the configuration reply carries three INTERNAL_IP6_SUBNETs
    # (strongSwan's SUBNET6) next to the IPv4 one
    cp = [ln for ln in log.splitlines() if "parsed IKE_AUTH response" in ln and "CPRP(" in ln]
    attrs = cp[0].split("CPRP(")[1].split(")")[0].split() if cp else []
    assert attrs.count("SUBNET6") == 3 and attrs.count("SUBNET") == 1, cp
    s = sessions(d.connect())[0]
    assert t(s, "assigned-ipv6").startswith("2001:db8:99::1")
