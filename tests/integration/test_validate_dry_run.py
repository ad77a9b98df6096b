"""<validate> is a dry run: a read-only user may call it, and whatever the
candidate holds, nothing that runs changes.

    client ns --veth-- headend ns (ravend, XDP on both veths) --veth-- inside ns

A strongSwan client (kernel-libipsec) pings the inside host through the AF_XDP
dataplane while an admin has an uncommitted candidate that moves the dataplane
to generic XDP mode and adds an IKE listen address (::), and the read-only user
calls <validate> on it over NETCONF and RESTCONF, again and again: no ping is lost, the XDP
programs on the interfaces keep their ids (not re-attached), the workers are the
same, and no new socket listens. A candidate naming an interface that does not
exist is refused by validate, naming it, and changes nothing either. The real
commit of the same change then takes effect: the programs are re-attached in
generic mode, IKE listens on :: too, and traffic goes on. A real commit that
IKE refuses after the dataplane prepared its new set leaves the dataplane
running throughout. A commit whose switch fails half way (a bridge device
refuses native XDP after the veths took their programs) is served by the
previous set again."""
import json
import subprocess

from ncclient.operations import RPCError

from conftest import READER_PW, cfg
from lab import psk_client_conf
from resthelpers import Rest
from test_dataplane import NS, dataplane_config, ns_run, ping, start, state, t
from test_ike_sessions import headend_config

REQUIRES = ("strongswan", "ping")

VALIDATE = "/restconf/operations/ietf-netconf:validate"


def start_with_rest(make_ravend, lab):
    """One client with a child SA to the inside network; REST served too."""
    lb = lab(1, inside=True)
    conf = headend_config().replace("10.200.0.0/16", lb.inside_net)
    d = make_ravend(conf + dataplane_config(lb), netns=lb.head, rest=True)
    c = lb.clients[0]
    lb.start_charon(0, psk_client_conf(c["head_ip"], "user0.example.org", esp="aes128gcm16", remote_ts=lb.inside_net))
    r = lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "15", check=False)
    assert r.returncode == 0, lb.log(0)[-3000:]
    return lb, d


def xdp_attached(ns, dev):
    """(program id, attach mode) of the XDP program on @dev in @ns, or None."""
    link = json.loads(subprocess.run(["ip", "-n", ns, "-j", "-d", "link", "show", dev], capture_output=True,
                                     text=True, check=True).stdout)[0]
    x = link.get("xdp")
    return (x["prog"]["id"], x["mode"]) if x and "prog" in x else None


def listening(ns):
    """The UDP and TCP sockets bound or listening in @ns, as (proto, local address)."""
    out = ns_run(ns, "ss", "-H", "-n", "-l", "-u", "-t").stdout
    return sorted((f[0], f[4]) for f in (line.split() for line in out.splitlines()) if len(f) >= 5)


def workers(m):
    return sorted((t(w, "id") if t(w, "id") else "", t(w, "queue"), t(w, "cpu"))
                  for w in state(m).findall(f"{{{NS}}}dataplane/{{{NS}}}worker"))


def live(lb, m):
    return ({dev: xdp_attached(lb.head, dev) for dev in (*lb.outside_devs(), lb.inside_dev)}, listening(lb.head),
            workers(m))


def background_ping(lb, c, count):
    """@count pings, 20 a second, from client @c to the inside host, running while
    the test acts; communicate() gives ping's summary."""
    return lb.spawn(c["ns"], "ping", "-n", "-q", "-c", str(count), "-i", "0.05", "-W", "2", lb.inside_ip,
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_readonly_validate_changes_nothing_live(make_ravend, lab):
    lb, d = start_with_rest(make_ravend, lab)
    c = lb.clients[0]
    admin = d.connect()
    reader = d.connect(user="reader", password=READER_PW)
    rest_reader = Rest(d.rest_url, "reader", READER_PW, netns=lb.head)
    body = {"ietf-netconf:input": {"source": {"candidate": [None]}}}
    ping(c["ns"], lb.inside_ip, count=3)  # neighbours known: from here on every packet must cross
    before = live(lb, admin)
    assert all(v is not None for v in before[0].values()), before
    assert ("udp", "[::]:500") not in before[1], before[1]

    # the admin's uncommitted change: generic XDP everywhere, and IKE on :: as well
    admin.edit_config(target="candidate", config=cfg(
        dataplane_config(lb, mode="generic") +
        f'<ikev2 xmlns="{NS}"><global><listen><address>::</address></listen></global></ikev2>'))

    # a continuous ping through the dataplane while the read-only user validates
    pinger = background_ping(lb, c, 60)
    for _ in range(4):
        reader.validate(source="candidate")
        r = rest_reader.post(VALIDATE, body)
        assert r.status == 204, r
    out, _ = pinger.communicate(timeout=30)
    assert pinger.returncode == 0 and " 0% packet loss" in out, out
    assert live(lb, admin) == before, "validate changed live state"

    # validate refuses what commit would refuse, naming it, and still changes nothing
    admin.discard_changes()
    admin.edit_config(target="candidate", config=cfg(
        f'<dataplane xmlns="{NS}"><interface><name>{lb.tag}nx</name><role>inside</role></interface></dataplane>'))
    try:
        reader.validate(source="candidate")
        raise AssertionError("validate accepted an interface that does not exist")
    except RPCError as e:
        assert f"{lb.tag}nx" in str(e) and "does not exist" in str(e), str(e)
    r = rest_reader.post(VALIDATE, body)
    assert r.status == 400 and f"{lb.tag}nx" in r.body, r
    assert live(lb, admin) == before
    ping(c["ns"], lb.inside_ip, count=3)

    # the real commit of the first change takes effect
    admin.discard_changes()
    admin.edit_config(target="candidate", config=cfg(
        dataplane_config(lb, mode="generic") +
        f'<ikev2 xmlns="{NS}"><global><listen><address>::</address></listen></global></ikev2>'))
    admin.commit()
    after = live(lb, admin)
    for dev, (pid, mode) in after[0].items():
        assert mode == 2 and pid != before[0][dev][0], (dev, before[0][dev], (pid, mode))  # 2: generic (SKB)
    new = set(after[1]) - set(before[1])
    assert ("udp", "[::]:500") in new and ("udp", "[::]:4500") in new, (before[1], after[1])
    for iface in state(admin).findall(f"{{{NS}}}dataplane/{{{NS}}}interface"):
        assert t(iface, "mode-in-use") == "generic"
    ping(c["ns"], lb.inside_ip, count=5)


def test_refused_commit_leaves_the_dataplane_running(make_ravend, lab):
    """A real commit whose dataplane part prepares (programs loaded, workers built
    beside the running ones) but that IKE then refuses (an address that is not
    local) is aborted without the dataplane having stopped for a moment."""
    lb, d = start(make_ravend, lab)
    c = lb.clients[0]
    admin = d.connect()
    ping(c["ns"], lb.inside_ip, count=3)
    before = live(lb, admin)
    admin.edit_config(target="candidate", config=cfg(
        dataplane_config(lb, mode="generic") +
        f'<ikev2 xmlns="{NS}"><global><listen><address>192.0.2.99</address></listen></global></ikev2>'))
    pinger = background_ping(lb, c, 40)
    for _ in range(5):
        try:
            admin.commit()
            raise AssertionError("a commit listening on a foreign address was accepted")
        except RPCError as e:
            assert "192.0.2.99" in str(e), str(e)
    out, _ = pinger.communicate(timeout=30)
    assert " 0% packet loss" in out, out
    assert live(lb, admin) == before


def test_switch_failing_halfway_serves_the_previous_set_again(make_ravend, lab):
    """A commit whose new interface set fails half way through the switch (the
    veths take their programs, then a bridge device refuses native XDP, which no
    check before the switch can know) is served by the previous set again: its
    programs attached, its workers running, traffic carried; the bridge is left
    without a program, and the operational state names what is served."""
    lb, d = start(make_ravend, lab)
    c = lb.clients[0]
    admin = d.connect()
    dm = f"{lb.tag}br"  # in the lab's namespace: goes with it
    ns_run(lb.head, "ip", "link", "add", dm, "type", "bridge")
    ns_run(lb.head, "ip", "link", "set", dm, "up")
    ping(c["ns"], lb.inside_ip, count=3)
    before = live(lb, admin)
    admin.edit_config(target="candidate", config=cfg(
        dataplane_config(lb, mode="generic").replace(
            "</dataplane>", f"<interface><name>{dm}</name><role>inside</role><xdp-mode>native</xdp-mode>"
                            "</interface></dataplane>")))
    admin.commit()  # apply cannot fail: the switch's failure is logged
    log = d.log()
    assert "cannot switch to the committed interfaces" in log and "previous ones are served again" in log, log[-3000:]
    assert dm in log, log[-3000:]
    after = live(lb, admin)
    assert xdp_attached(lb.head, dm) is None
    for dev, att in after[0].items():
        assert att is not None, (dev, after)
    served = sorted(t(i, "name") for i in state(admin).findall(f"{{{NS}}}dataplane/{{{NS}}}interface"))
    assert served == sorted((*lb.outside_devs(), lb.inside_dev)), served
    assert len(after[2]) == len(before[2]) and after[2], after[2]
    ping(c["ns"], lb.inside_ip, count=5)
