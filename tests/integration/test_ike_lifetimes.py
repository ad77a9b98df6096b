"""Child SA lifetimes enforced by Raven: when the client does not rekey before the
soft lifetime of the IPsec profile (60 s here, the smallest the model allows),
Raven rekeys the child SA itself (CREATE_CHILD_SA as initiator, RFC 7296 1.3.3)
and deletes the old one; the client takes both. About a minute long, so it has a
file of its own and runs beside the others."""
from conftest import NS
from lab import psk_client_conf
from nchelpers import wait_until
from test_ike_sessions import headend_config, sessions, state, t

REQUIRES = ("strongswan",)

IPSEC = f"""<ipsec xmlns="{NS}" xmlns:rt="urn:raven:params:xml:ns:yang:raven-types">
  <transform-set><name>gcm</name><esp-encryption>rt:aes-gcm-16-128</esp-encryption></transform-set>
  <profile><name>rw-ipsec</name><transform-set>gcm</transform-set><ikev2-profile>rw</ikev2-profile>
    <lifetime><hard><time>120</time></hard><soft><time>60</time></soft></lifetime></profile>
</ipsec>"""


def test_raven_rekeys_a_child_sa_at_its_soft_lifetime(make_ravend, lab):
    lab = lab(1)
    d = make_ravend(headend_config() + IPSEC, netns=lab.head)
    conf = psk_client_conf(lab.clients[0]["head_ip"], "alice.example.org", esp="aes128gcm16")
    conf = conf.replace("        esp_proposals =", "        rekey_time = 1h\n        life_time = 2h\n        esp_proposals =")
    lab.start_charon(0, conf)
    assert lab.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "15", check=False).returncode == 0
    m = d.connect()
    first = sessions(m)[0].find(f"{{{NS}}}child-sa")
    old_spi = t(first, "inbound-spi")
    assert int(t(first, "lifetime-remaining")) <= 120
    # the soft lifetime is 60 s, the hard one 120 s: the rekey must come in between
    # (slack for a loaded machine), and a miss shows both sides' logs
    try:
        wait_until(lambda: "rekeyed by us" in d.log(), timeout=100, interval=1, what="Raven's child rekey")
    except AssertionError as e:
        raise AssertionError(f"{e}\n--- ravend ---\n{d.log()[-4000:]}\n--- client ---\n{lab.log(0)[-4000:]}")
    wait_until(lambda: len(sessions(m)[0].findall(f"{{{NS}}}child-sa")) == 1, timeout=10,
               what="the old child SA deleted")
    child = sessions(m)[0].find(f"{{{NS}}}child-sa")
    assert t(child, "inbound-spi") != old_spi and t(child, "rekeys") == "1"
    log = lab.log(0)
    assert "CREATE_CHILD_SA request" in log and "parsed CREATE_CHILD_SA request" in log, log[-3000:]
    assert "received DELETE for ESP CHILD_SA" in log
    sas = lab.swanctl(0, "--list-sas").stdout
    assert "INSTALLED" in sas and "ESTABLISHED" in sas
    assert int(t(state(m), "ike-counters/exchanges/create-child-sa")) == 1
