"""A namespace lab for a cluster of headends: one L2 segment (a bridge in a
namespace of the lab's own) joining an etcd namespace, N node namespaces (each
for a ravend and a keepalived holding the cluster address by VRRP) and M
strongSwan client namespaces that dial the cluster address.

Addresses on the segment 10.<net>.0.0/24: etcd .2, the cluster address (VIP)
.10, node i .(11+i), client i .(101+i). Every interface on the segment is seg0
in its namespace; the bridge ports are local to the switch namespace, so no
interface name of the host is used. Processes are ended by PID and the
namespaces deleted at close(), also when building the lab fails half way."""
import os
import re
import signal
import subprocess
import time

import prereq
from lab import LOAD, Lab, lab_net, sh

ETCD_PORT = 2379
# strongswan.conf for the clients: an exchange is given up after
# 1 + 1.4 + 1.96 + 2.74 s (retransmit_timeout * retransmit_base^n, n = 0..tries)
RETRANSMIT = """  retransmit_timeout = 1
  retransmit_base = 1.4
  retransmit_tries = 3"""
RETRANSMIT_TOTAL = 1 + 1.4 + 1.96 + 2.744
DPD_DELAY = 2
# a gateway that died is noticed by its clients at most this long after
DPD_TIME = DPD_DELAY + RETRANSMIT_TOTAL


def ns_pids(ns):
    """The PIDs of the processes in network namespace @ns (none when it is gone)."""
    r = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, check=False)
    return [int(x) for x in r.stdout.split() if x.isdigit()]


def parent_of(pid):
    """@pid's parent PID, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class ClusterLab(Lab):
    """@nodes node namespaces (self.nodes: ns, ip, dir) and @clients client
    namespaces (self.clients, as Lab's, with head_ip the VIP)."""

    def __init__(self, nodes=3, clients=20, tag="cl"):
        self.nnodes = nodes
        self.nodes, self.keepalived = [], {}
        self.etcd = None
        super().__init__(clients, tag=tag)

    def _build(self, nclients, tag, nat):
        prereq.check(["strongswan", "etcd", "etcdctl", "keepalived"], LOAD.split())
        self.tag = f"{tag}{os.getpid() % 100000}"
        self.net = lab_net()  # not 10.200/10.201: the clients' remote_ts and the pool
        self.prefix = f"10.{self.net}.0"
        self.vip = f"{self.prefix}.10"
        self.switch = f"{self.tag}s"
        self._netns(self.switch)
        sh("ip", "-n", self.switch, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
        sh("ip", "-n", self.switch, "link", "set", "br0", "up")
        self.etcd_ns = f"{self.tag}e"
        self._attach(self.etcd_ns, "pe", f"{self.prefix}.2")
        self.etcd_url = f"http://{self.prefix}.2:{ETCD_PORT}"
        for i in range(self.nnodes):
            ns = f"{self.tag}n{i + 1}"
            d = os.path.join(self.dir, f"n{i + 1}")
            os.makedirs(d)
            self._attach(ns, f"pn{i + 1}", f"{self.prefix}.{11 + i}")
            self.nodes.append({"ns": ns, "ip": f"{self.prefix}.{11 + i}", "dir": d, "port": f"pn{i + 1}"})
        for i in range(nclients):
            ns = f"{self.tag}c{i}"
            d = os.path.join(self.dir, f"c{i}")
            os.makedirs(os.path.join(d, "run"))
            self._cred_dirs(d)
            self._attach(ns, f"pc{i}", f"{self.prefix}.{101 + i}")
            self.clients.append({"ns": ns, "dir": d, "uri": f"unix://{d}/charon.vici",
                                 "ip": f"{self.prefix}.{101 + i}", "head_ip": self.vip})

    def _attach(self, ns, port, addr):
        """Namespace @ns on the segment: seg0 with @addr/24, its peer @port a
        port of the bridge."""
        self._netns(ns)
        sh("ip", "-n", self.switch, "link", "add", port, "type", "veth", "peer", "name", "seg0", "netns", ns)
        sh("ip", "-n", self.switch, "link", "set", port, "master", "br0", "up")
        sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", "seg0")
        sh("ip", "-n", ns, "link", "set", "seg0", "up")

    def close(self):
        """Every process started ended (SIGTERM, then SIGKILL after 5 s), then
        whatever still runs in the lab's namespaces (SIGKILL), then Lab.close:
        the namespaces and the directory go, also when one of these fails."""
        try:
            for p in self.procs:
                try:
                    if p.poll() is None:
                        p.terminate()
                        try:
                            p.wait(timeout=5)
                        except subprocess.TimeoutExpired:
                            p.kill()
                            p.wait()
                except OSError:
                    pass
            for ns in self.nss:
                for pid in ns_pids(ns):
                    kill(pid)
        finally:
            super().close()

    def unplug(self, i):
        """Node @i (from 0) leaves the segment, as a machine that died: it
        answers nothing any more, not even ARP for an address it still has."""
        sh("ip", "-n", self.switch, "link", "set", self.nodes[i]["port"], "down")
        self.nodes[i]["unplugged"] = True

    # ---- etcd

    def start_etcd(self, timeout=20):
        d = os.path.join(self.dir, "etcd")
        peer = "http://127.0.0.1:2380"
        self.etcd_log = os.path.join(self.dir, "etcd.log")
        with open(self.etcd_log, "w") as log:
            self.etcd = self.spawn(self.etcd_ns, "etcd", "--name", "e", "--data-dir", d,
                                   "--listen-client-urls", self.etcd_url, "--advertise-client-urls", self.etcd_url,
                                   "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                                   "--initial-cluster", f"e={peer}", "--logger", "zap",
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.time() + timeout
        while True:
            r = self.etcdctl("endpoint", "health", check=False)
            if r.returncode == 0:
                return
            if self.etcd.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"etcd not healthy (exit {self.etcd.poll()}): {r.stderr}\n{self.log_of('etcd')}")
            time.sleep(0.2)

    def stop_etcd(self):
        self.etcd.send_signal(signal.SIGTERM)
        self.etcd.wait(timeout=10)

    def etcdctl(self, *args, check=True):
        r = subprocess.run(["ip", "netns", "exec", self.etcd_ns, "etcdctl", "--endpoints", self.etcd_url,
                            "--command-timeout", "3s", *args], capture_output=True, text=True, timeout=20)
        if check and r.returncode:
            raise RuntimeError(f"etcdctl {' '.join(args)} failed: {r.stdout}{r.stderr}")
        return r

    # ---- keepalived

    def start_keepalived(self, i, priority, vrid=51):
        """keepalived in the foreground in node @i's namespace, its VRRP
        instance holding the VIP on seg0 (node 0 starts as master)."""
        n = self.nodes[i]
        d = n["dir"]
        conf = os.path.join(d, "keepalived.conf")
        with open(conf, "w") as f:
            f.write(f"""global_defs {{
  router_id {n['ns']}
  vrrp_garp_master_delay 1
  vrrp_garp_master_repeat 3
}}
vrrp_instance {self.tag} {{
  state {'MASTER' if i == 0 else 'BACKUP'}
  interface seg0
  virtual_router_id {vrid}
  priority {priority}
  advert_int 1
  virtual_ipaddress {{
    {self.vip}/24 dev seg0
  }}
}}
""")
        log = open(os.path.join(d, "keepalived.log"), "w")
        p = self.spawn(n["ns"], "keepalived", "-n", "-l", "-D", "--vrrp", "-f", conf,
                       "-p", os.path.join(d, "keepalived.pid"), "-r", os.path.join(d, "vrrp.pid"),
                       stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        self.keepalived[i] = p
        deadline = time.time() + 10
        while not os.path.exists(os.path.join(d, "vrrp.pid")):
            if p.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"keepalived on {n['ns']} did not start (exit {p.poll()}):\n"
                                   f"{self.log_of('keepalived', i)}")
            time.sleep(0.05)
        return p

    def kill_keepalived(self, i):
        """SIGKILL to node @i's keepalived, its VRRP process too: no last
        advertisement, the others take over when its adverts stop. The VRRP
        process is the one of vrrp.pid, and any child of keepalived in the
        node's namespace (also when vrrp.pid cannot be read)."""
        p = self.keepalived[i]
        os.kill(p.pid, signal.SIGSTOP)  # so that it does not restart its VRRP child
        try:
            with open(os.path.join(self.nodes[i]["dir"], "vrrp.pid")) as f:
                vrrp = int(f.read().strip())
        except (OSError, ValueError):
            vrrp = None
        for pid in ns_pids(self.nodes[i]["ns"]):
            if pid == vrrp or parent_of(pid) == p.pid:
                kill(pid)
        os.kill(p.pid, signal.SIGKILL)
        p.wait()

    def vip_holders(self):
        """The nodes (from 0) on the segment that have the VIP on seg0."""
        out = []
        for i, n in enumerate(self.nodes):
            if n.get("unplugged"):
                continue
            r = sh("ip", "-n", n["ns"], "-4", "-o", "addr", "show", "dev", "seg0").stdout
            if f" {self.vip}/" in r:
                out.append(i)
        return out

    def wait_vip(self, want, timeout=10):
        """Waits until node @want alone holds the VIP; returns the seconds it took."""
        t0 = time.time()
        while True:
            h = self.vip_holders()
            if h == [want]:
                return time.time() - t0
            if time.time() - t0 > timeout:
                raise AssertionError(f"the VIP is held by nodes {h}, not node {want} alone, after {timeout}s\n"
                                     + "\n".join(self.log_of("keepalived", i)[-1500:] for i in self.keepalived))
            time.sleep(0.1)

    def log_of(self, what, i=None):
        p = os.path.join(self.dir, "etcd.log") if what == "etcd" else \
            os.path.join(self.nodes[i]["dir"], f"{what}.log")
        try:
            with open(p, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # ---- clients

    def client_conf(self, i):
        """swanctl.conf of client @i: dials the VIP, short DPD, and restarts
        the connection (at the VIP) when its gateway dies or closes it."""
        my_id = f"c{i}.example.org"
        return f"""connections {{
  rw {{
    remote_addrs = {self.vip}
    vips = 0.0.0.0
    proposals = aes128gcm16-prfsha256-x25519
    dpd_delay = {DPD_DELAY}s
    keyingtries = 0
    local {{
      auth = psk
      id = {my_id}
    }}
    remote {{
      auth = psk
      id = headend.example.org
    }}
    children {{
      vpn {{
        remote_ts = 10.200.0.0/16
        esp_proposals = aes128gcm16
        dpd_action = restart
        close_action = restart
      }}
    }}
  }}
}}
secrets {{
  ike-1 {{
    id-1 = headend.example.org
    id-2 = {my_id}
    secret = rw-secret-1
  }}
}}
"""

    def start_client(self, i):
        return self.start_charon(i, self.client_conf(i), extra_charon=RETRANSMIT)

    def sas(self, i):
        """Client @i's IKE SAs from swanctl --list-sas: dicts with state, spi
        (the initiator's: new for every IKE SA this client sets up), remote
        (the gateway's address), vips (its virtual IPs), children (installed
        child SAs) and text (the lines of that SA)."""
        r = self.swanctl(i, "--list-sas", check=False, timeout=20)
        out, cur = [], None
        for line in r.stdout.splitlines():
            m = re.match(r"^\S+: #\d+, (\w+), IKEv2, (\w+)_i", line)
            if m:
                cur = {"state": m.group(1), "spi": m.group(2), "remote": None, "vips": [], "children": 0,
                       "text": line}
                out.append(cur)
                continue
            if cur is None:
                continue
            cur["text"] += "\n" + line
            m = re.match(r"^  local  .* @ \S+\[\d+\](.*)$", line)
            if m:
                cur["vips"] = re.findall(r"\[([0-9a-f.:]+)\]", m.group(1))
            m = re.match(r"^  remote .* @ ([0-9a-f.:]+)\[\d+\]", line)
            if m:
                cur["remote"] = m.group(1)
            if re.match(r"^  \S+: #\d+, reqid \d+, INSTALLED", line):
                cur["children"] += 1
        return out

    def up_sa(self, i):
        """Client @i's established IKE SA with an installed child and a
        virtual IP, or None."""
        for sa in self.sas(i):
            if sa["state"] == "ESTABLISHED" and sa["children"] and sa["vips"]:
                return sa
        return None
