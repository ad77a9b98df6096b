"""A cluster of three ravend with real peers: an etcd (Debian's etcd-server,
started by hand), keepalived in each node's namespace holding the cluster
address (VIP) by VRRP, and strongSwan clients that dial the VIP, follow IKEv2
redirects (RFC 5685) and restart their connection at the VIP when their
gateway dies (short DPD, dpd_action = restart).

Topology (cluster_lab.py): one L2 segment 10.<n>.0.0/24, etcd .2, VIP .10,
node i .(11+i), client i .(101+i). Every ravend has the same configuration
but for its name, address, capacity (1000, 1000, 2000: node3 takes half the
clients) and pool partition index (pools/partition count 3).

The scenarios run in order on one lab, each on the state the one before left:
1. spread: 20 clients, one after the other, end up within one session of
   even by capacity (5, 5, 10);
2. drain: node2 draining takes no new client, and after rpc redirect-sessions
   it has no session, its clients are up on node1 and node3; then node2 is
   back in service;
3. node3's ravend killed: its clients are up on node1/node2 within DPD time
   + 10 s;
4. node1 (the VRRP holder) dies (keepalived and ravend killed, off the
   segment): the VIP moves to node2, node1's clients are up again there and
   new clients connect;
5. node3 back (its ravend started again), then etcd stopped: node2 and node3
   say unreachable, keep their sessions, and node2 serves a new client itself
   (with etcd it went to the emptier node3);
and after every step no two clients hold the same virtual address, and every
address a member gave lies in its partition slice."""
import concurrent.futures
import ipaddress
import os
import tempfile
import time

import pytest
from lxml import etree

from cluster_lab import DPD_TIME, ClusterLab
from conftest import NS, Ravend, cfg, initial_config
from nchelpers import data_of, rpc

REQUIRES = ("strongswan", "etcd", "etcdctl", "keepalived")

CAPACITY = (1000, 1000, 2000)
LEASE_TTL = 3
POOL = ("10.201.0.1", "10.201.1.254")  # 510 addresses: 170 per partition slice
NCLIENTS = 20
SPARE = 5  # client namespaces for the new clients of scenarios 2, 4 and 5
ALL = range(NCLIENTS + SPARE)
MGMT_PORT = 8300


def node_config(lab, i):
    n = lab.nodes[i]
    return f"""<ikev2 xmlns="{NS}">
  <global><listen><address>0.0.0.0</address></listen></global>
  <authorization-policy>
    <name>rw-group</name>
    <pool>rw-pool</pool>
    <route><set><remote><ipv4>10.200.0.0/16</ipv4></remote></set></route>
  </authorization-policy>
  <profile>
    <name>rw</name>
    <match><identity><remote><fqdn><domain>example.org</domain></fqdn></remote></identity></match>
    <identity><local><fqdn>headend.example.org</fqdn></local></identity>
    <authentication>
      <local><pre-share><key>rw-secret-1</key></pre-share></local>
      <remote><pre-share><key>rw-secret-1</key></pre-share></remote>
    </authentication>
    <aaa><authorization><group><psk><method-list>local-list</method-list><username>rw-group</username></psk></group></authorization></aaa>
  </profile>
</ikev2>
<pools xmlns="{NS}">
  <ipv4-pool><name>rw-pool</name><range><start>{POOL[0]}</start><end>{POOL[1]}</end></range></ipv4-pool>
  <partition><count>3</count><index>{i}</index></partition>
</pools>
<aaa xmlns="{NS}">
  <authorization-list><name>local-list</name><method><sequence>1</sequence><local/></method></authorization-list>
</aaa>
<cluster xmlns="{NS}">
  <name>node{i + 1}</name>
  <address>{n['ip']}</address>
  <cluster-address>{lab.vip}</cluster-address>
  <capacity>{CAPACITY[i]}</capacity>
  <prefix>/raven/{lab.tag}/</prefix>
  <lease-ttl>{LEASE_TTL}</lease-ttl>
  <etcd><endpoint>{lab.etcd_url}</endpoint></etcd>
</cluster>"""


def slice_of(i, count=3):
    """Partition slice @i of the pool range: (first, last) as integers."""
    lo, hi = (int(ipaddress.ip_address(a)) for a in POOL)
    size = (hi - lo + 1) // count
    first = lo + i * size
    return first, (hi if i == count - 1 else first + size - 1)


def q(path):
    return "/".join(f"{{{NS}}}{p}" for p in path.split("/"))


class Cluster:
    """The lab, the three ravend (self.d[i]) and their NETCONF sessions."""

    def __init__(self, lab, daemons):
        self.lab, self.d = lab, daemons
        self.m = [None] * len(daemons)
        self.dead = set()  # nodes whose ravend was killed
        self.history = []  # (step, {client: virtual IP})

    def mgr(self, i):
        if self.m[i] is None:
            self.m[i] = self.d[i].connect()
        return self.m[i]

    def vpn_state(self, i, sub):
        reply = self.mgr(i).get(filter=("subtree", f'<vpn-state xmlns="{NS}"><{sub}/></vpn-state>'))
        vs = data_of(reply).find(q("vpn-state"))
        return vs if vs is not None else etree.Element(q("vpn-state"))

    def sessions(self, i):
        """Node @i's established sessions: {client index: assigned IPv4}."""
        out = {}
        for s in self.vpn_state(i, "session").findall(q("session")):
            if s.findtext(q("ike-sa/state")) != "established":
                continue
            ident = s.findtext(q("remote-identity/value")) or ""
            if ident.startswith("c") and ident.endswith(".example.org"):
                out[int(ident[1:-len(".example.org")])] = s.findtext(q("assigned-ipv4"))
        return out

    def cluster(self, i):
        """Node @i's vpn-state/cluster: {leaf: text, "members": {name: {leaf: text}}}."""
        c = self.vpn_state(i, "cluster").find(q("cluster"))
        if c is None:
            return {"members": {}}
        out = {e.tag.split("}")[1]: e.text for e in c if len(e) == 0}
        out["members"] = {m.findtext(q("name")): {e.tag.split("}")[1]: e.text for e in m}
                          for m in c.findall(q("member"))}
        return out

    def alarms(self, i):
        vs = self.vpn_state(i, "alarms")
        return [(a.findtext(q("type")), a.findtext(q("resource")), a.findtext(q("is-cleared")))
                for a in vs.iter(q("alarm"))]

    def live(self):
        return [i for i in range(len(self.d)) if i not in self.dead]

    def placement(self):
        """{client index: node} from the live nodes' session lists."""
        out = {}
        for i in self.live():
            for c in self.sessions(i):
                out[c] = i
        return out

    def kill(self, i):
        self.d[i].kill9()
        self.m[i] = None
        self.dead.add(i)

    def logs(self, nodes=(), clients=(), extra=()):
        """Log tails for an assertion message."""
        parts = []
        for i in nodes:
            parts.append(f"--- ravend node{i + 1} ---\n{self.d[i].log()[-3000:]}")
        for c in clients:
            parts.append(f"--- charon c{c} ---\n{self.lab.log(c)[-2000:]}")
        for what, i in extra:
            parts.append(f"--- {what} {'' if i is None else f'node{i + 1}'} ---\n{self.lab.log_of(what, i)[-2000:]}")
        return "\n".join(parts)

    def up(self, c):
        return self.lab.up_sa(c)

    def spi(self, c):
        """The initiator SPI of client @c's IKE SA that is up, or None."""
        return (self.up(c) or {}).get("spi")

    def initiate(self, c):
        r = self.lab.swanctl(c, "--initiate", "--child", "vpn", "--timeout", "20", check=False, timeout=40)
        assert r.returncode == 0, f"client c{c} did not connect to the VIP: {r.stdout[-1500:]}\n" + \
            self.logs(self.live(), [c])

    def check_addresses(self, step, clients):
        """(6) No two of @clients hold the same virtual IP (swanctl --list-sas
        of each), and every address a live node gave is in its slice."""
        vip = {}
        for c in clients:
            sa = self.up(c)
            if sa:
                vip[c] = sa["vips"][0]
        self.history.append((step, vip))
        seen = {}
        for c, a in sorted(vip.items()):
            assert a not in seen, f"after {step}: clients c{seen[a]} and c{c} both hold {a}\n{self.history}"
            seen[a] = c
        for i in self.live():
            first, last = slice_of(i)
            for c, a in self.sessions(i).items():
                assert a and first <= int(ipaddress.ip_address(a)) <= last, \
                    f"after {step}: node{i + 1} gave c{c} {a}, outside its partition slice " \
                    f"{ipaddress.ip_address(first)}-{ipaddress.ip_address(last)}"
        return vip


def wait_for(pred, timeout, interval=0.3):
    """pred() until true or @timeout seconds; returns its last value."""
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v or time.time() > deadline:
            return v
        time.sleep(interval)


@pytest.fixture(scope="module")
def cl(hashes, keypair, hostkey):
    lab = ClusterLab(3, len(ALL))
    daemons = []
    try:
        lab.start_etcd()
        for i, prio in enumerate((150, 100, 50)):
            lab.start_keepalived(i, prio)
        for i, n in enumerate(lab.nodes):
            workdir = tempfile.mkdtemp(prefix="raven-cluster-")
            d = Ravend(workdir, MGMT_PORT, initial_config(MGMT_PORT, hashes, keypair[1], node_config(lab, i)),
                       netns=n["ns"])
            os.makedirs(d.state_dir, mode=0o700)
            fd = os.open(os.path.join(d.state_dir, "ssh_host_rsa_key"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(hostkey)
            daemons.append(d)
        with concurrent.futures.ThreadPoolExecutor(3) as ex:
            list(ex.map(lambda d: d.start(), daemons))
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            list(ex.map(lab.start_client, ALL))
        lab.wait_vip(0)
        c = Cluster(lab, daemons)
        # every member connected to etcd and seeing the other two
        for i in range(3):
            st = wait_for(lambda: (lambda s: s if s.get("etcd-state") == "connected" and len(s["members"]) == 3
                                   else None)(c.cluster(i)), 15)
            assert st, f"node{i + 1} did not join the cluster: {c.cluster(i)}\n" + \
                c.logs([i], extra=[("etcd", None)])
        yield c
    finally:
        # each step on its own: one that fails does not leave the others'
        # processes and namespaces behind; the first error is raised at the end
        problems, error = [], None
        for i, d in enumerate(daemons):
            try:
                was_running = d.proc is not None and d.ready_at is not None  # not killed, started
                rc = d.stop()
                if was_running and rc != 0:
                    problems.append(f"ravend node{i + 1} exited with status {rc}; log tail:\n{d.log()[-4000:]}")
            except Exception as ex:
                error = error or ex
        try:
            lab.close()
        except Exception as ex:
            error = error or ex
        for d in daemons:
            d.cleanup()
        if error:
            raise error
        assert not problems, "\n".join(problems)


def test_1_spread_by_capacity(cl):
    """20 clients dial the VIP one after the other: node1 (the VIP holder)
    redirects each to the member with the lowest share of its capacity in
    use, so they end within one session of 5, 5, 10."""
    unsettled = []
    for c in range(NCLIENTS):
        cl.initiate(c)
        # the next one arrives when the holder sees this one in etcd; waited
        # for after every client, as a member puts its count at most once a
        # second and later under load
        if not wait_for(lambda: sum(int(m.get("sessions") or 0)
                                    for m in cl.cluster(0)["members"].values()) == c + 1, 10):
            unsettled.append(c)
    counts = {i: len(cl.sessions(i)) for i in range(3)}
    total = sum(CAPACITY)
    expect = {i: NCLIENTS * CAPACITY[i] / total for i in range(3)}
    view = cl.cluster(0)
    assert sum(counts.values()) == NCLIENTS, f"sessions per node {counts}, not {NCLIENTS} in all\n" + \
        cl.logs(range(3))
    assert all(abs(counts[i] - expect[i]) <= 1 for i in range(3)), \
        f"sessions per node {counts}, not within one of {expect} (capacities {CAPACITY}); node1's view " \
        f"{view}; node1's view lagged after clients {unsettled}\n" + cl.logs(range(3))
    # node1's view of the cluster, from etcd, agrees with each member's own
    # count (a member puts its count at most once a second)
    def agrees(view):
        return all((lambda m: m and m.get("sessions") == str(counts[i]) and m.get("capacity") == str(CAPACITY[i])
                    and m.get("health") == "up" and m.get("address") == cl.lab.nodes[i]["ip"])(
                        view["members"].get(f"node{i + 1}")) for i in range(3))
    view = wait_for(lambda: (lambda v: v if agrees(v) else None)(cl.cluster(0)), 3)
    assert view, f"node1's view of the members {cl.cluster(0)['members']} is not the members' own counts " \
        f"{counts}, capacities {CAPACITY}, health up and addresses"
    # a redirected client's IKE SA is with the member's own address
    place = cl.placement()
    for c in range(NCLIENTS):
        sa = cl.up(c)
        assert sa and c in place, f"client c{c} is not up ({sa}, on node {place.get(c)}):\n{cl.logs([], [c])}"
        want = {cl.lab.nodes[place[c]]["ip"]} | ({cl.lab.vip} if place[c] == 0 else set())
        assert sa["remote"] in want, f"c{c} is on node{place[c] + 1} but its IKE SA is with {sa['remote']}"
    cl.check_addresses("spread", range(NCLIENTS))


def test_2_drain(cl):
    """node2 draining: no new client goes there, and once its sessions are
    redirected it has none, its clients are up on node1 and node3."""
    m = cl.mgr(1)
    before = cl.sessions(1)
    assert before, "node2 has no session to drain"
    m.edit_config(target="running", config=cfg(f'<cluster xmlns="{NS}"><draining>true</draining></cluster>'))
    assert wait_for(lambda: cl.cluster(0)["members"].get("node2", {}).get("health") == "draining", 5), \
        f"node1 does not see node2 draining: {cl.cluster(0)}"
    # a new client is not sent to the draining member
    c = NCLIENTS + 4
    cl.initiate(c)
    place = cl.placement()
    assert place.get(c) in (0, 2), f"new client c{c} went to node{place.get(c, -1) + 1} while node2 drains"
    reply = rpc(m, f'<redirect-sessions xmlns="{NS}"><all/></redirect-sessions>')
    out = etree.fromstring(reply.xml.encode())
    redirected = out.findtext(f".//{{{NS}}}redirected")
    assert redirected == str(len(before)) and out.findtext(f".//{{{NS}}}not-supported") == "0", \
        f"redirect-sessions on node2 with {len(before)} sessions answered {reply.xml}"
    gone = wait_for(lambda: not cl.sessions(1), 20)
    assert gone, f"node2 still has sessions {cl.sessions(1)} 20 s after redirect-sessions\n" + \
        cl.logs([1], list(before)[:3])
    place = wait_for(lambda: (lambda p: p if all(p.get(c) in (0, 2) and cl.up(c) for c in before) else None)(
        cl.placement()), 10)
    assert place, f"node2's clients {sorted(before)} are not all up on node1/node3: {cl.placement()}\n" + \
        cl.logs(range(3), list(before)[:3])
    cl.check_addresses("drain", ALL)
    # the maintenance is over: node2 takes clients again
    m.edit_config(target="running", config=cfg(f'<cluster xmlns="{NS}"><draining>false</draining></cluster>'))
    assert wait_for(lambda: cl.cluster(0)["members"].get("node2", {}).get("health") == "up", 5), \
        f"node1 does not see node2 up again: {cl.cluster(0)}"


def test_3_killed_node(cl):
    """node3's ravend SIGKILLed: its clients' DPD fails, they restart at the
    VIP and are up on node1/node2 within DPD time + 10 s."""
    victims = sorted(cl.sessions(2))
    assert victims, "node3 has no session"
    others = {c: cl.spi(c) for c in ALL if c not in victims and cl.spi(c)}
    old = {c: cl.spi(c) for c in victims}
    t0 = time.time()
    cl.kill(2)
    limit = DPD_TIME + 10

    def moved():
        p = cl.placement()
        return all(p.get(c) in (0, 1) and cl.spi(c) not in (None, old[c]) for c in victims)
    ok = wait_for(moved, limit)
    took = time.time() - t0
    assert ok, f"node3's clients {victims} not all up on node1/node2 {limit:.1f} s after the kill: " \
        f"{cl.placement()}\n" + cl.logs([0, 1, 2], victims[:3])
    # the others kept their IKE SAs
    moved_too = [c for c, spi in others.items() if cl.spi(c) != spi]
    assert not moved_too, f"clients {moved_too} of node1/node2 lost their IKE SA"
    # node3 is forgotten with its lease
    assert wait_for(lambda: "node3" not in cl.cluster(0)["members"], max(0, LEASE_TTL + 2 - took)), \
        f"node3 still a member {LEASE_TTL + 2} s after its death: {cl.cluster(0)}"
    cl.check_addresses("node3 killed", ALL)


def test_4_vrrp_holder_killed(cl):
    """node1, the VRRP holder, dies (keepalived and ravend SIGKILLed, off the
    segment): the VIP moves to node2, node1's clients are up there again and
    new clients connect."""
    assert cl.lab.vip_holders() == [0], f"node1 does not hold the VIP: {cl.lab.vip_holders()}"
    victims = sorted(cl.sessions(0))
    old = {c: cl.spi(c) for c in victims}
    t0 = time.time()
    cl.lab.kill_keepalived(0)
    cl.kill(0)
    cl.lab.unplug(0)
    took = cl.lab.wait_vip(1, timeout=8)
    new = [NCLIENTS, NCLIENTS + 1]
    for c in new:
        cl.initiate(c)
    limit = DPD_TIME + 10

    def all_on_node2():
        s = cl.sessions(1)
        return all(c in s and cl.spi(c) not in (None, old.get(c)) for c in victims + new)
    ok = wait_for(all_on_node2, max(1, limit - (time.time() - t0)))
    assert ok, f"VIP moved to node2 in {took:.1f} s, but node1's clients {victims} and the new {new} are not " \
        f"all up on node2 {limit:.1f} s after node1 died: node2 has {sorted(cl.sessions(1))}\n" + \
        cl.logs([1], victims[:2] + new, extra=[("keepalived", 1)])
    for c in new:
        assert cl.up(c)["remote"] in (cl.lab.vip, cl.lab.nodes[1]["ip"]), cl.up(c)
    cl.check_addresses("VRRP holder killed", ALL)


def test_5_etcd_stopped(cl):
    """node3 back in service, then etcd stopped: both members say
    unreachable (state and alarm), keep their sessions, and node2 serves a new
    client itself where it would have redirected it to the emptier node3."""
    # node3's ravend started again; --fresh ends the sessions its arena kept
    # from before the kill (their clients are up elsewhere)
    cl.d[2].start(once=("--fresh",))
    cl.dead.discard(2)
    assert wait_for(lambda: cl.cluster(1)["members"].get("node3", {}).get("health") == "up", 10), \
        f"node2 does not see node3 back: {cl.cluster(1)}\n" + cl.logs([2])
    c = NCLIENTS + 2
    cl.initiate(c)
    sa = cl.up(c)
    assert sa and sa["remote"] == cl.lab.nodes[2]["ip"] and c in cl.sessions(2), \
        f"with etcd, a new client is not sent to the emptier node3: {sa}, node3 has {sorted(cl.sessions(2))}"
    before = {}
    for i in (1, 2):
        for c in cl.sessions(i):
            before[c] = cl.spi(c)
    t0 = time.time()
    cl.lab.stop_etcd()
    for i in (1, 2):
        st = wait_for(lambda: (lambda s: s if s.get("etcd-state") == "unreachable" else None)(cl.cluster(i)),
                      LEASE_TTL + 10)
        assert st, f"node{i + 1}'s vpn-state/cluster does not say unreachable {LEASE_TTL + 10} s after etcd " \
            f"stopped: {cl.cluster(i)}\n" + cl.logs([i])
        assert st.get("distributing") == "false", f"node{i + 1} still distributing without etcd: {st}"
        al = [a for a in cl.alarms(i) if a[0] == "cluster-etcd-unreachable" and a[2] == "false"]
        assert al, f"no active cluster-etcd-unreachable alarm on node{i + 1}: {cl.alarms(i)}"
    c = NCLIENTS + 3
    cl.initiate(c)
    sa = cl.up(c)
    assert sa and sa["remote"] == cl.lab.vip and c in cl.sessions(1), \
        f"without etcd, the new client c{c} is not served by node2 (the VIP holder) itself: {sa}, node2 has " \
        f"{sorted(cl.sessions(1))}, node3 {sorted(cl.sessions(2))}\n" + cl.logs([1], [c])
    # the sessions outlive a DPD round without etcd
    time.sleep(max(0, DPD_TIME - (time.time() - t0)))
    now = {**{c: 1 for c in cl.sessions(1)}, **{c: 2 for c in cl.sessions(2)}}
    lost = [c for c, spi in before.items() if c not in now or cl.spi(c) != spi]
    assert not lost, f"clients {lost} lost their session after etcd stopped\n" + cl.logs([1, 2], lost[:2])
    cl.check_addresses("etcd stopped", ALL)
