"""Cluster membership on a real etcd (Debian's etcd-server 3.4): two or three
ravend (IKE only, no dataplane) and an etcd started by the test in the lab's
headend namespace, each on its own address or port; strongSwan clients in their
own namespaces.

Members appear in each other's vpn-state/cluster within seconds with
their address, capacity and health; a member killed with SIGKILL is gone
within TTL + 5 s; one whose /cluster is removed is gone at once (its lease is
revoked); records written by etcdctl that are not JSON, have a negative
capacity or an address of the other family are ignored and counted, and the
member keeps working; another member advertising this one's partition index
raises cluster-partition-conflict until it stops; a draining member shows as
such. etcd stopped: etcd-state unreachable, the cluster-etcd-unreachable alarm,
the established session stays up and a new client is served; etcd started
again: connected, the alarm cleared. A session's key (user, address) is seen by
the other member while the session is up. etcd with authentication (user and
password through the YANG; a wrong password shows in etcd-error) and with TLS
(CA, client certificate and key made by openssl here).

Topology: [client i: 10.<n>.<i>.2] --veth-- [headend namespace: etcd on
127.0.0.1, ravend a on 10.<n>.0.1, b on 10.<n>.0.3, c on 10.<n>.0.4]
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import NS, Ravend, cfg, initial_config
from lab import psk_client_conf
from nchelpers import data_of, expect_error, wait_until

REQUIRES = ("strongswan", "openssl")

ETCD = "/usr/bin/etcd"
ETCDCTL = "/usr/bin/etcdctl"
PREFIX = "/raven/cluster/"
JOINING = "joining through etcd at"  # ravend's log line when a member starts


def t(el, path):
    return el.findtext("/".join(f"{{{NS}}}{p}" for p in path.split("/")))


class Etcd:
    """etcd in namespace @ns on 127.0.0.1:@port (peer @port + 1), its data in
    @workdir; started and stopped by PID. With @tls (a dict of PEM paths) the
    client URL is https and asks for client certificates."""

    def __init__(self, ns, workdir, port, tls=None):
        self.ns, self.port, self.tls = ns, port, tls
        self.dir = os.path.join(workdir, "etcd")
        self.proc = None
        self.log_path = os.path.join(workdir, "etcd.log")
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{port}"

    def start(self):
        peer = f"http://127.0.0.1:{self.port + 1}"
        args = [ETCD, "--name", "n", "--data-dir", self.dir, "--listen-client-urls", self.url,
                "--advertise-client-urls", self.url, "--listen-peer-urls", peer,
                "--initial-advertise-peer-urls", peer, "--initial-cluster", f"n={peer}",
                "--listen-metrics-urls", f"http://127.0.0.1:{self.port + 2}"]
        if self.tls:
            args += ["--cert-file", self.tls["cert"], "--key-file", self.tls["key"],
                     "--trusted-ca-file", self.tls["ca"], "--client-cert-auth"]
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns, *args], stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_until(lambda: self.ctl("endpoint", "health", check=False).returncode == 0 or self.proc.poll() is not None,
                   timeout=20, what="etcd healthy")
        assert self.proc.poll() is None, open(self.log_path).read()[-3000:]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def ctl(self, *args, check=True, user=None):
        cmd = ["ip", "netns", "exec", self.ns, ETCDCTL, "--endpoints", self.url, "--dial-timeout", "2s",
               "--command-timeout", "3s"]
        if self.tls:
            cmd += ["--cacert", self.tls["ca"], "--cert", self.tls["cert"], "--key", self.tls["key"]]
        if user:
            cmd += ["--user", user]
        r = subprocess.run(cmd + list(args), capture_output=True, text=True, env=dict(os.environ, ETCDCTL_API="3"))
        if check:
            assert r.returncode == 0, f"etcdctl {args}: {r.stdout}{r.stderr}"
        return r


def ike_config(listen, pool_start, pool_end):
    addrs = "".join(f"<address>{a}</address>" for a in listen)
    return f"""<ikev2 xmlns="{NS}">
  <global><listen>{addrs}</listen></global>
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
    <aaa><authorization><group><psk>
      <method-list>local-list</method-list><username>rw-group</username>
    </psk></group></authorization></aaa>
  </profile>
</ikev2>
<pools xmlns="{NS}">
  <ipv4-pool><name>rw-pool</name><range><start>{pool_start}</start><end>{pool_end}</end></range></ipv4-pool>
</pools>
<aaa xmlns="{NS}">
  <authorization-list><name>local-list</name><method><sequence>1</sequence><local/></method></authorization-list>
</aaa>"""


def cluster_xml(name, address, endpoint, ttl=3, capacity=100, caddrs=(), draining=False, etcd_extra="",
                replace=False):
    ca = "".join(f"<cluster-address>{a}</cluster-address>" for a in caddrs)
    op = ' xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" nc:operation="replace"' if replace else ""
    return f"""<cluster xmlns="{NS}"{op}><name>{name}</name><address>{address}</address>{ca}
  <capacity>{capacity}</capacity><draining>{'true' if draining else 'false'}</draining><lease-ttl>{ttl}</lease-ttl>
  <etcd><endpoint>{endpoint}</endpoint>{etcd_extra}</etcd></cluster>"""


def cluster_state(m):
    """vpn-state/cluster as a dict (None when absent)."""
    reply = m.get(filter=("subtree", f'<vpn-state xmlns="{NS}"><cluster/></vpn-state>'))
    c = data_of(reply).find(f"{{{NS}}}vpn-state/{{{NS}}}cluster")
    if c is None:
        return None
    out = {k: t(c, k) for k in ("etcd-state", "etcd-endpoint", "etcd-error", "distributing",
                                 "member-records-ignored", "etcd-writes")}
    out["members"] = {t(e, "name"): {ch.tag.split("}")[1]: ch.text for ch in e} for e in c.findall(f"{{{NS}}}member")}
    out["sessions"] = {(t(e, "member"), t(e, "id")): {"user": t(e, "user"),
                                                       "addresses": [a.text for a in e.findall(f"{{{NS}}}address")]}
                       for e in c.findall(f"{{{NS}}}session")}
    return out


def alarms(m):
    reply = m.get(filter=("subtree", f'<vpn-state xmlns="{NS}"><alarms/></vpn-state>'))
    return {(t(a, "type"), t(a, "resource")): {c.tag.split("}")[1]: c.text for c in a}
            for a in data_of(reply).iter(f"{{{NS}}}alarm")}


def alarm_active(m, typ, res):
    a = alarms(m).get((typ, res))
    return a is not None and a.get("is-cleared") == "false"


def commit(m, xml):
    m.edit_config(target="running", config=cfg(xml))


@pytest.fixture
def cluster(lab, hashes, keypair, hostkey):
    """A lab with @n clients, an etcd and a factory of members (Ravend in the
    headend namespace, each on its own NETCONF port and IKE address); every
    process stopped by PID at the end, also on failure."""
    made = {"ravends": [], "etcds": []}
    work = tempfile.mkdtemp(prefix="raven-cl-")

    class Cl:
        def __init__(self, n=1):
            self.lb = lab(n)
            self.ns = self.lb.head
            self.net = self.lb.net
            dev = f"{self.lb.tag}b0"
            for host in (3, 4):
                subprocess.run(["ip", "-n", self.ns, "addr", "add", f"10.{self.net}.0.{host}/24", "dev", dev],
                               check=True)
            self.port = 23790

        def etcd(self, tls=None):
            e = Etcd(self.ns, tempfile.mkdtemp(dir=work), self.port + 10 * len(made["etcds"]), tls=tls)
            made["etcds"].append(e)
            e.start()
            return e

        def member(self, name, host, cluster_xml_text, pool, listen=(), arena=None):
            workdir = tempfile.mkdtemp(dir=work)
            port = 8300 + len(made["ravends"])
            address = f"10.{self.net}.0.{host}"
            extra = ike_config((address, *listen), *pool) + cluster_xml_text
            d = Ravend(workdir, port, initial_config(port, hashes, keypair[1], extra), netns=self.ns)
            os.makedirs(d.state_dir, mode=0o700)
            with open(os.path.join(d.state_dir, "ssh_host_rsa_key"), "wb") as f:
                f.write(hostkey)
            os.chmod(os.path.join(d.state_dir, "ssh_host_rsa_key"), 0o600)
            d.name, d.address = name, address
            if arena:
                d.arena = arena
            made["ravends"].append(d)
            d.start()
            return d

        def addr(self, host):
            return f"10.{self.net}.0.{host}"

    try:
        yield Cl
    finally:
        problems = []
        for d in made["ravends"]:  # shown by pytest when the test failed
            print(f"--- ravend {getattr(d, 'name', '?')} log tail:\n{d.log()[-5000:]}")
        for e in made["etcds"]:
            if os.path.exists(e.log_path):
                print(f"--- etcd log tail:\n{open(e.log_path, errors='replace').read()[-3000:]}")
        # each stop on its own: one that fails does not leave the other
        # processes behind; the first error is raised at the end
        error = None
        for d in made["ravends"]:
            try:
                was = d.proc is not None
                rc = d.stop()
                if was and rc != 0:
                    problems.append(f"ravend {d.name} exited with {rc}:\n{d.log()[-4000:]}")
            except Exception as ex:
                error = error or ex
            d.cleanup()
        for e in made["etcds"]:
            try:
                e.stop()
            except Exception as ex:
                error = error or ex
        shutil.rmtree(work, ignore_errors=True)
        if error:
            raise error
        assert not problems, "\n".join(problems)


def etcd_revision(e):
    """etcd's store revision: moves with every put and delete."""
    return int(json.loads(e.ctl("get", "--prefix", PREFIX, "-w", "json").stdout)["header"]["revision"])


def lease_of(e, name):
    """The lease of member @name's key (None when it has none)."""
    kvs = json.loads(e.ctl("get", f"{PREFIX}members/{name}", "-w", "json").stdout).get("kvs") or []
    return kvs[0].get("lease") if kvs else None


def members_of(m):
    st = cluster_state(m)
    return st["members"] if st else {}


def test_members_records_partition_drain_kill_and_leave(cluster):
    cl = cluster(1)
    e = cl.etcd()
    a = cl.member("a", 1, cluster_xml("a", cl.addr(1), e.url, ttl=20, capacity=100), ("10.201.0.10", "10.201.0.20"))
    b = cl.member("b", 3, cluster_xml("b", cl.addr(3), e.url, ttl=3, capacity=300), ("10.201.1.10", "10.201.1.20"))
    ma, mb = a.connect(), b.connect()
    # each sees both within the TTL, with address, capacity, health
    for m in (ma, mb):
        wait_until(lambda m=m: set(members_of(m)) == {"a", "b"}, timeout=10, what="both members listed")
    mem = members_of(ma)
    assert mem["b"]["address"] == cl.addr(3) and mem["b"]["capacity"] == "300" and mem["b"]["health"] == "up"
    assert mem["b"]["self"] == "false" and mem["a"]["self"] == "true" and mem["a"]["sessions"] == "0"
    st = cluster_state(ma)
    assert st["etcd-state"] == "connected" and st["etcd-endpoint"] == e.url
    assert st["distributing"] == "false"  # no cluster-address
    assert int(st["etcd-writes"]) >= 2 and st["member-records-ignored"] == "0"
    # what etcd holds is what the model says
    got = e.ctl("get", f"{PREFIX}members/b", "--print-value-only").stdout
    assert '"address":"%s"' % cl.addr(3) in got and '"capacity":300' in got and '"health":"up"' in got

    # records that are not to be believed: ignored, counted once, no crash
    e.ctl("put", f"{PREFIX}members/neg", '{"name":"neg","address":"10.9.9.9","sessions":0,"capacity":-5,'
          '"health":"up"}')
    e.ctl("put", f"{PREFIX}members/v6", '{"name":"v6","address":"2001:db8::9","sessions":0,"capacity":5,'
          '"health":"up"}')
    e.ctl("put", f"{PREFIX}members/junk", "this is not JSON {")
    for m in (ma, mb):
        wait_until(lambda m=m: cluster_state(m)["member-records-ignored"] == "3", timeout=5,
                   what="three records ignored")
        assert set(members_of(m)) == {"a", "b"}
    assert "members/neg" in a.log() and "capacity" in a.log()
    # a valid one from outside is listed, and a later bad revision of it drops it
    e.ctl("put", f"{PREFIX}members/x", '{"name":"x","address":"10.9.9.8","sessions":2,"capacity":5,"health":"up"}')
    wait_until(lambda: "x" in members_of(ma), timeout=5, what="member x listed")
    e.ctl("put", f"{PREFIX}members/x", '{"name":"x","address":"10.9.9.8","sessions":2}')
    wait_until(lambda: "x" not in members_of(ma), timeout=5, what="member x's bad record ignored")
    assert cluster_state(ma)["member-records-ignored"] == "4"
    e.ctl("del", f"{PREFIX}members/x")

    # the partition: a gets index 0; a record claiming index 0 is a conflict
    commit(ma, f'<pools xmlns="{NS}"><partition><count>4</count><index>0</index></partition></pools>')
    wait_until(lambda: members_of(mb)["a"].get("partition-index") == "0", timeout=5, what="a's partition seen")
    e.ctl("put", f"{PREFIX}members/z", '{"name":"z","address":"10.9.9.7","sessions":0,"capacity":5,'
          '"health":"up","partition":0}')
    wait_until(lambda: alarm_active(ma, "cluster-partition-conflict", "z"), timeout=5, what="conflict raised")
    e.ctl("put", f"{PREFIX}members/z", '{"name":"z","address":"10.9.9.7","sessions":0,"capacity":5,'
          '"health":"up","partition":1}')
    wait_until(lambda: not alarm_active(ma, "cluster-partition-conflict", "z"), timeout=5, what="conflict cleared")
    assert ("cluster-partition-conflict", "z") in alarms(ma)
    e.ctl("del", f"{PREFIX}members/z")

    # draining shows as such, changed in place: the same lease, b listed throughout
    lease = lease_of(e, "b")
    commit(mb, cluster_xml("b", cl.addr(3), e.url, ttl=3, capacity=300, draining=True))

    def b_draining():
        mem = members_of(ma)
        assert "b" in mem, "b disappeared while draining was set"
        return mem["b"].get("health") == "draining"
    wait_until(b_draining, timeout=10, what="b draining")
    assert lease_of(e, "b") == lease
    # capacity too; the lease-ttl makes a new member
    commit(mb, cluster_xml("b", cl.addr(3), e.url, ttl=3, capacity=200, draining=True))
    wait_until(lambda: members_of(ma)["b"]["capacity"] == "200", timeout=3, what="b's new capacity")
    assert lease_of(e, "b") == lease
    commit(mb, cluster_xml("b", cl.addr(3), e.url, ttl=4, capacity=200, draining=True))
    wait_until(lambda: lease_of(e, "b") not in (lease, None), timeout=5, what="b with a new lease")
    lease = lease_of(e, "b")
    commit(mb, cluster_xml("b", cl.addr(3), e.url, ttl=3, capacity=300, draining=True))
    wait_until(lambda: lease_of(e, "b") not in (lease, None), timeout=5, what="b with TTL 3 again")
    wait_until(lambda: members_of(ma).get("b", {}).get("capacity") == "300", timeout=5, what="b seen again")

    # b killed: gone from a's view when its lease (TTL 3) expires, within TTL + 5 s
    b.kill9()
    wait_until(lambda: "b" not in members_of(ma), timeout=3 + 5, interval=0.2, what="killed member gone")
    assert cluster_state(ma)["etcd-state"] == "connected"

    # c joins, then a leaves by removing /cluster: its lease (TTL 20) is
    # revoked, so c sees it gone at once
    c = cl.member("c", 4, cluster_xml("c", cl.addr(4), e.url, ttl=3), ("10.201.2.10", "10.201.2.20"))
    mc = c.connect()
    wait_until(lambda: set(members_of(mc)) == {"a", "c"}, timeout=10, what="c sees a")
    ma.edit_config(target="running", config=cfg(f'<cluster xmlns="{NS}" xmlns:nc="urn:ietf:params:xml:ns:'
                                                 f'netconf:base:1.0" nc:operation="delete"/>'))
    assert cluster_state(ma) is None
    # (well before a's lease of TTL 20 would expire by itself)
    wait_until(lambda: set(members_of(mc)) == {"c"}, timeout=10, what="a gone at once after leaving")
    assert e.ctl("get", "--prefix", f"{PREFIX}members/a", "--keys-only").stdout.strip() == ""


def test_configuration_checked(cluster):
    cl = cluster(1)
    e = cl.etcd()
    a = cl.member("a", 1, "", ("10.201.0.10", "10.201.0.20"))
    ma = a.connect()
    err = expect_error(lambda: commit(ma, cluster_xml("a", cl.addr(1), "ftp://127.0.0.1:1")), "invalid-value",
                       "/raven-vpn:cluster/etcd/endpoint")
    assert "http" in err.message
    bad_ca = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"
    # the YANG pattern lets it through; the etcd client's check does not
    err = expect_error(lambda: commit(ma, cluster_xml("a", cl.addr(1), e.url, etcd_extra=f"<ca-certificate>{bad_ca}"
                                                                                         "</ca-certificate>")),
                       "invalid-value", "/raven-vpn:cluster/etcd")
    assert "ca" in err.message.lower() and ("pem" in err.message.lower() or "certificate" in err.message.lower()), \
        err.message
    assert cluster_state(ma) is None
    # members are chosen by cluster/address's family: a cluster-address of the other is refused
    err = expect_error(lambda: commit(ma, cluster_xml("a", cl.addr(1), e.url, caddrs=("2001:db8::7",))),
                       "invalid-value", "/raven-vpn:cluster/cluster-address")
    assert "2001:db8::7" in err.message and "family" in err.message, err.message
    assert cluster_state(ma) is None
    # a dry run (validate) starts nothing: for longer than the lease TTL (3 s)
    # no member joins and etcd sees no write (a member started and stopped
    # again would have put its key and revoked it: the revision would move)
    rev = etcd_revision(e)
    ma.edit_config(target="candidate", config=cfg(cluster_xml("a", cl.addr(1), e.url)))
    ma.validate(source="candidate")
    ma.discard_changes()
    time.sleep(3 + 1)
    assert JOINING not in a.log()
    assert e.ctl("get", "--prefix", PREFIX, "--keys-only").stdout.strip() == ""
    assert etcd_revision(e) == rev
    commit(ma, cluster_xml("a", cl.addr(1), e.url))
    wait_until(lambda: (cluster_state(ma) or {}).get("etcd-state") == "connected", timeout=10, what="connected")
    assert JOINING in a.log() and etcd_revision(e) > rev


def up(lb, i, head_ip, my_id):
    lb.start_charon(i, psk_client_conf(head_ip, my_id))
    return lb.swanctl(i, "--initiate", "--child", "vpn", "--timeout", "15", check=False)


def virtual_ip(lb, i):
    out = lb.swanctl(i, "--list-sas").stdout
    for line in out.splitlines():
        if "local" in line and "/32" in line:
            return line.split()[1].split("/")[0]
    return None


def test_sessions_redirect_and_etcd_outage(cluster):
    cl = cluster(2)
    lb = cl.lb
    e = cl.etcd()
    caddr = lb.clients[1]["head_ip"]  # the address clients dial, held by a
    # client 1 reaches the members' own addresses through the headend namespace
    subprocess.run(["ip", "-n", lb.clients[1]["ns"], "route", "add", f"10.{cl.net}.0.0/24", "via", caddr], check=True)
    a = cl.member("a", 1, cluster_xml("a", cl.addr(1), e.url, ttl=3, caddrs=(caddr,)), ("10.201.0.10", "10.201.0.20"),
                  listen=(caddr,))
    b = cl.member("b", 3, cluster_xml("b", cl.addr(3), e.url, ttl=3), ("10.201.1.10", "10.201.1.20"))
    ma, mb = a.connect(), b.connect()
    wait_until(lambda: set(members_of(ma)) == {"a", "b"} and set(members_of(mb)) == {"a", "b"}, timeout=3,
               what="members")
    assert cluster_state(ma)["distributing"] == "true"
    assert cluster_state(mb)["distributing"] == "false"

    # alice dials a's own address: served by a, published for b to see
    r = up(lb, 0, cl.addr(1), "alice.example.org")
    assert r.returncode == 0, f"{r.stdout}\n{lb.log(0)[-3000:]}\n{a.log()[-3000:]}"
    wait_until(lambda: any(k[0] == "a" for k in cluster_state(mb)["sessions"]), timeout=5,
               what="session key seen by b")
    (key, sess), = cluster_state(mb)["sessions"].items()
    assert sess["user"] == "alice.example.org" and sess["addresses"] == ["10.201.0.10"]
    wait_until(lambda: members_of(mb)["a"]["sessions"] == "1", timeout=5, what="a's count 1")
    assert '"user":"alice.example.org"' in e.ctl("get", f"{PREFIX}sessions/a/{key[1]}", "--print-value-only").stdout

    # bob dials the cluster address: a (1 of 100) sends him to b (0 of 100)
    r = up(lb, 1, caddr, "bob.example.org")
    assert r.returncode == 0, f"{r.stdout}\n{lb.log(1)[-3000:]}"
    assert f"redirected to {cl.addr(3)}" in lb.log(1), lb.log(1)[-3000:]
    assert virtual_ip(lb, 1).startswith("10.201.1."), lb.swanctl(1, "--list-sas").stdout
    wait_until(lambda: members_of(ma).get("b", {}).get("sessions") == "1", timeout=5, what="b's count 1")
    lb.swanctl(1, "--terminate", "--ike", "rw")
    wait_until(lambda: members_of(ma).get("b", {}).get("sessions") == "0", timeout=5, what="b's count 0")

    # etcd stopped: unreachable, alarm, nobody redirected; the session stays
    e.stop()
    wait_until(lambda: cluster_state(ma)["etcd-state"] == "unreachable", timeout=5, what="a unreachable")
    st = cluster_state(ma)
    assert st["distributing"] == "false" and st["etcd-error"] and st["members"] == {}
    assert alarm_active(ma, "cluster-etcd-unreachable", "/raven-vpn:cluster")
    # bob at the cluster address is now served here
    r = lb.swanctl(1, "--initiate", "--child", "vpn", "--timeout", "15", check=False)
    assert r.returncode == 0, f"{r.stdout}\n{lb.log(1)[-3000:]}"
    assert virtual_ip(lb, 1).startswith("10.201.0."), lb.swanctl(1, "--list-sas").stdout
    time.sleep(1)
    assert "ESTABLISHED" in lb.swanctl(0, "--list-sas").stdout

    # etcd back: connected again, the alarm cleared, both sessions published
    e.start()
    wait_until(lambda: cluster_state(ma)["etcd-state"] == "connected", timeout=10, what="a connected again")
    assert not alarm_active(ma, "cluster-etcd-unreachable", "/raven-vpn:cluster")
    wait_until(lambda: len([k for k in cluster_state(mb)["sessions"] if k[0] == "a"]) == 2, timeout=10,
               what="both of a's sessions published again")
    wait_until(lambda: members_of(mb).get("a", {}).get("sessions") == "2", timeout=5, what="a's count 2")

    # alice leaves: her key goes
    lb.swanctl(0, "--terminate", "--ike", "rw")
    wait_until(lambda: len([k for k in cluster_state(mb)["sessions"] if k[0] == "a"]) == 1, timeout=5,
               what="alice's key deleted")
    wait_until(lambda: members_of(mb)["a"]["sessions"] == "1", timeout=5, what="a's count 1 again")

    # a draining: a new client at a's own address goes to b
    commit(ma, cluster_xml("a", cl.addr(1), e.url, ttl=3, caddrs=(caddr,), draining=True))
    wait_until(lambda: members_of(mb).get("a", {}).get("health") == "draining" and
               cluster_state(ma)["etcd-state"] == "connected", timeout=5, what="a draining")
    r = lb.swanctl(0, "--initiate", "--child", "vpn", "--timeout", "15", check=False)
    assert r.returncode == 0, f"{r.stdout}\n{lb.log(0)[-3000:]}"
    assert virtual_ip(lb, 0).startswith("10.201.1."), lb.swanctl(0, "--list-sas").stdout


def test_etcd_authentication(cluster):
    cl = cluster(1)
    e = cl.etcd()
    e.ctl("user", "add", "root:root-pw-1")
    e.ctl("auth", "enable")
    a = cl.member("a", 1, cluster_xml("a", cl.addr(1), e.url, etcd_extra="<username>root</username>"
                                                                       "<password>root-pw-1</password>"),
                  ("10.201.0.10", "10.201.0.20"))
    ma = a.connect()
    wait_until(lambda: cluster_state(ma)["etcd-state"] == "connected", timeout=5, what="connected with a password")
    assert "members/a" in e.ctl("get", "--prefix", PREFIX, "--keys-only", user="root:root-pw-1").stdout
    writes = int(cluster_state(ma)["etcd-writes"])
    assert writes >= 2
    commit(ma, cluster_xml("a", cl.addr(1), e.url, etcd_extra="<username>root</username>"
                                                             "<password>wrong-pw</password>"))
    wait_until(lambda: cluster_state(ma)["etcd-state"] == "unreachable", timeout=5, what="refused")
    err = cluster_state(ma)["etcd-error"]
    assert "auth" in err.lower() or "password" in err.lower(), err
    assert alarm_active(ma, "cluster-etcd-unreachable", "/raven-vpn:cluster")
    assert int(cluster_state(ma)["etcd-writes"]) >= writes  # a counter: the new member's adds to the old one's


def make_pki(d, ip):
    def ossl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)
    ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
         "-out", "ca.pem", "-days", "2", "-subj", "/CN=etcd test CA")
    for name, ext in (("server", f"subjectAltName=IP:{ip}\nextendedKeyUsage=serverAuth,clientAuth"),
                      ("client", "extendedKeyUsage=clientAuth")):
        with open(os.path.join(d, f"{name}.ext"), "w") as f:
            f.write(ext + "\n")
        ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f"{name}.key",
             "-out", f"{name}.csr", "-subj", f"/CN={name}")
        ossl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext")
    return {k: os.path.join(d, v) for k, v in (("ca", "ca.pem"), ("cert", "server.pem"), ("key", "server.key"),
                                                ("ccert", "client.pem"), ("ckey", "client.key"))}


def test_etcd_tls(cluster, tmp_path):
    cl = cluster(1)
    pki = make_pki(str(tmp_path), "127.0.0.1")
    e = cl.etcd(tls=pki)
    pem = {k: open(pki[k]).read().strip() for k in ("ca", "ccert", "ckey")}
    a = cl.member("a", 1, cluster_xml("a", cl.addr(1), e.url, etcd_extra=(
        f"<ca-certificate>{pem['ca']}</ca-certificate><certificate>{pem['ccert']}</certificate>"
        f"<private-key>{pem['ckey']}</private-key>")), ("10.201.0.10", "10.201.0.20"))
    ma = a.connect()
    wait_until(lambda: cluster_state(ma)["etcd-state"] == "connected", timeout=5, what="connected over TLS")
    assert cluster_state(ma)["etcd-endpoint"].startswith("https://")
    assert "members/a" in e.ctl("get", "--prefix", PREFIX, "--keys-only").stdout
    # without the client certificate etcd refuses it
    commit(ma, cluster_xml("a", cl.addr(1), e.url, etcd_extra=f"<ca-certificate>{pem['ca']}</ca-certificate>",
                           replace=True))
    wait_until(lambda: cluster_state(ma)["etcd-state"] == "unreachable", timeout=5, what="refused without cert")
    assert cluster_state(ma)["etcd-error"]


def test_stopped_member_leaves_or_drains(cluster):
    """ravend stopped: without a session arena (its sessions end) the member
    leaves at once (lease revoked); with one (a successor adopts the sessions)
    it stays listed as draining until its lease expires."""
    cl = cluster(1)
    e = cl.etcd()
    a = cl.member("a", 1, cluster_xml("a", cl.addr(1), e.url, ttl=30), ("10.201.0.10", "10.201.0.20"), arena="none")
    b = cl.member("b", 3, cluster_xml("b", cl.addr(3), e.url, ttl=30), ("10.201.1.10", "10.201.1.20"))
    ma = a.connect()
    wait_until(lambda: set(members_of(ma)) == {"a", "b"}, timeout=5, what="both members listed")
    ma.close_session()
    assert a.stop() == 0
    assert e.ctl("get", "--prefix", f"{PREFIX}members/a", "--keys-only").stdout.strip() == ""
    assert b.stop() == 0
    got = e.ctl("get", f"{PREFIX}members/b", "--print-value-only").stdout
    assert '"health":"draining"' in got, got
    assert lease_of(e, "b") is not None
