"""The dataplane's life cycle and limits with ravend: interfaces attached and
detached by commits (and a commit naming an interface that does not exist fails,
changing nothing); a Raven XDP program left by a crashed run does not block the
next start, and a clean stop removes it; a packet too big for the tunnel with DF
gets ICMP "fragmentation needed" with the tunnel MTU; a child SA is rekeyed by
Raven when its traffic crosses the IPsec profile's soft byte limit; generic XDP mode
and two queues (two workers) when configured."""
import json
import re
import subprocess

from ncclient.operations import RPCError
import pytest

from nchelpers import wait_until
from test_dataplane import (NS, child_stats, dataplane_config, dp_iface, ns_run, ping, sessions, start, state, t)
from test_ike_sessions import headend_config
from conftest import cfg

REQUIRES = ("strongswan", "ethtool", "ping")


def xdp_prog(ns, dev):
    """The name of the XDP program attached to @dev in @ns, or None."""
    link = json.loads(subprocess.run(["ip", "-n", ns, "-j", "-d", "link", "show", dev], capture_output=True,
                                     text=True, check=True).stdout)[0]
    return (link.get("xdp") or {}).get("prog", {}).get("name")


def dp_names(m):
    return sorted(t(i, "name") for i in state(m).findall(f"{{{NS}}}dataplane/{{{NS}}}interface"))


def test_interfaces_attach_and_detach_by_commit(make_ravend, lab):
    lb = lab(1, inside=True)
    out, ins = lb.outside_devs()[0], lb.inside_dev
    conf = headend_config().replace("10.200.0.0/16", lb.inside_net)
    d = make_ravend(conf, netns=lb.head)
    m = d.connect()
    assert xdp_prog(lb.head, out) is None and xdp_prog(lb.head, ins) is None and dp_names(m) == []
    m.edit_config(target="candidate", config=cfg(dataplane_config(lb)))
    m.commit()
    assert xdp_prog(lb.head, out) == "raven_xdp" and xdp_prog(lb.head, ins) == "raven_xdp"
    assert dp_names(m) == sorted([out, ins])
    # a client's traffic crosses
    c = lb.clients[0]
    from lab import psk_client_conf
    lb.start_charon(0, psk_client_conf(c["head_ip"], "user0.example.org", esp="aes128gcm16",
                                       remote_ts=lb.inside_net))
    assert lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "15", check=False).returncode == 0
    ping(c["ns"], lb.inside_ip, count=3)
    # an interface that does not exist: the commit fails, naming it, and nothing changes
    m.edit_config(target="candidate", config=cfg(
        f'<dataplane xmlns="{NS}"><interface><name>{lb.tag}nx</name><role>inside</role></interface></dataplane>'))
    with pytest.raises(RPCError) as e:
        m.commit()
    assert f"{lb.tag}nx" in str(e.value) and "does not exist" in str(e.value)
    m.discard_changes()
    assert xdp_prog(lb.head, out) == "raven_xdp" and xdp_prog(lb.head, ins) == "raven_xdp"
    ping(c["ns"], lb.inside_ip, count=3)
    # the inside interface goes: its program with it; the outside one stays
    m.edit_config(target="candidate", config=cfg(
        f'<dataplane xmlns="{NS}" xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0">'
        f'<interface nc:operation="delete"><name>{ins}</name></interface></dataplane>'))
    m.commit()
    assert xdp_prog(lb.head, ins) is None and xdp_prog(lb.head, out) == "raven_xdp"
    assert dp_names(m) == [out]
    assert len(sessions(m)) == 1  # SAs stay


def test_leftover_program_of_a_crashed_run_and_clean_stop(make_ravend, lab):
    # without a session arena: nothing to take over, so the new process replaces
    # the crashed one's program, and a stop detaches it (with an arena the
    # program stays attached while ravend is down, for the next process:
    # test_restart.py)
    lb, d = start(make_ravend, lab, arena="none")
    out = lb.outside_devs()[0]
    d.kill9()
    assert xdp_prog(lb.head, out) == "raven_xdp"  # left behind by the crash
    d.start()  # the same configuration: ours replaces the leftover
    m = d.connect()
    assert t(dp_iface(m, out), "mode-in-use") in ("native", "generic")
    c = lb.clients[0]
    lb.swanctl(0, "--terminate", "--ike", "rw", "--force", "--timeout", "2", check=False)
    assert lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "15", check=False).returncode == 0
    ping(c["ns"], lb.inside_ip, count=3)
    assert d.stop() == 0
    assert xdp_prog(lb.head, out) is None and xdp_prog(lb.head, lb.inside_dev) is None


def test_too_big_for_the_tunnel_gets_fragmentation_needed(make_ravend, lab):
    lb, d = start(make_ravend, lab)
    m = d.connect()
    vip = t(sessions(m)[0], "assigned-ipv4")
    ping(lb.inside, vip, count=2)  # neighbours known
    r = ns_run(lb.inside, "ping", "-n", "-M", "do", "-s", "1472", "-c", "1", "-W", "2", vip, check=False)
    mtu = re.search(r"[Ff]rag needed and DF set \(mtu = (\d+)\)", r.stdout + r.stderr)
    assert mtu, r.stdout + r.stderr
    # ESP in UDP with AES-GCM-16: 20 outer + 8 UDP + 8 ESP + 8 IV + 16 ICV + 2 trailer, 4-byte aligned
    assert 1420 <= int(mtu.group(1)) <= 1440
    assert int(t(dp_iface(m, lb.inside_dev), "drops/mtu-exceeded")) >= 1
    # the sender learnt the path MTU from it
    r = ns_run(lb.inside, "ping", "-n", "-M", "do", "-s", "1472", "-c", "1", "-W", "2", vip, check=False)
    assert f"mtu={mtu.group(1)}" in (r.stdout + r.stderr).replace(" ", ""), r.stdout + r.stderr
    ping(lb.inside, vip, count=2)  # and smaller packets still cross


def test_volume_rekey_at_the_soft_byte_limit(make_ravend, lab):
    ipsec = (f'<ipsec xmlns="{NS}" xmlns:rt="urn:raven:params:xml:ns:yang:raven-types">'
             "<transform-set><name>gcm</name><esp-encryption>rt:aes-gcm-16-128</esp-encryption></transform-set>"
             "<profile><name>vol</name><transform-set>gcm</transform-set><ikev2-profile>rw</ikev2-profile>"
             "<lifetime><soft><kilobytes>16</kilobytes></soft><hard><kilobytes>2560</kilobytes></hard></lifetime>"
             "</profile></ipsec>")
    lb, d = start(make_ravend, lab, extra_ipsec=ipsec)
    c = lb.clients[0]
    m = d.connect()
    _, cs = child_stats(m)
    assert t(cs[0], "rekeys") == "0"
    ns_run(c["ns"], "ping", "-n", "-q", "-s", "1200", "-c", "20", "-i", "0.05", lb.inside_ip)  # > 16 KB
    wait_until(lambda: any(int(t(x, "rekeys")) >= 1 for x in child_stats(m)[1]), timeout=10,
               what="child SA rekeyed by volume")
    assert "soft volume limit" in d.log()
    ping(c["ns"], lb.inside_ip, count=3)  # traffic goes on over the new SA
    # once the old child is gone, its traffic is counted in the new one's statistics
    wait_until(lambda: len(child_stats(m)[1]) == 1, timeout=10, what="old child deleted")
    ours, _ = child_stats(m)
    assert ours["packets-in"] == 23 and ours["packets-out"] == 23, ours


def test_generic_mode_and_two_queues(make_ravend, lab):
    lb = lab(1, inside=True)
    out, ins = lb.outside_devs()[0], lb.inside_dev
    for dev in (out, ins):  # veth queues: two each
        subprocess.run(["ip", "netns", "exec", lb.head, "ethtool", "-L", dev, "rx", "2", "tx", "2"], check=True,
                       capture_output=True)
    conf = headend_config().replace("10.200.0.0/16", lb.inside_net) + dataplane_config(lb, mode="generic")
    d = make_ravend(conf, netns=lb.head)
    m = d.connect()
    link = json.loads(subprocess.run(["ip", "-n", lb.head, "-j", "-d", "link", "show", out], capture_output=True,
                                     text=True, check=True).stdout)[0]
    assert link["xdp"]["mode"] == 2  # XDP_ATTACHED_SKB: generic
    assert t(dp_iface(m, out), "mode-in-use") == "generic" and t(dp_iface(m, out), "queues") == "2"
    ws = state(m).findall(f"{{{NS}}}dataplane/{{{NS}}}worker")
    assert sorted(t(w, "queue") for w in ws) == ["0", "1"]
    c = lb.clients[0]
    from lab import psk_client_conf
    lb.start_charon(0, psk_client_conf(c["head_ip"], "user0.example.org", esp="aes128gcm16",
                                       remote_ts=lb.inside_net))
    assert lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "15", check=False).returncode == 0
    ping(c["ns"], lb.inside_ip, count=5)
    ours, _ = child_stats(m)
    assert ours["packets-in"] == 5 and ours["packets-out"] == 5
