"""A namespace lab for IKE tests: one headend namespace and N client namespaces,
each client joined to the headend by its own veth pair and subnet
(10.<net>.<i>.2 client, 10.<net>.<i>.1 headend), strongSwan charon per client
with a private /run, and clean-up of every namespace and process by PID."""
import ipaddress
import os
import shutil
import signal
import subprocess
import tempfile
import time

import prereq

CHARON = "/usr/lib/ipsec/charon"
LOAD = ("random nonce openssl pem pkcs1 pkcs8 x509 revocation constraints pubkey curve25519 sha1 sha2 aes gcm unity "
        "chapoly hmac kdf md5 kernel-libipsec kernel-netlink socket-default vici updown attr resolve eap-identity "
        "eap-md5 eap-mschapv2")


def sh(*args, **kw):
    return subprocess.run(list(args), check=True, capture_output=True, text=True, **kw)


def lab_net():
    """The second octet of a lab's networks (10.<net>), from the PID: 10 to 199
    but 77 and 99, clear of the networks the tests configure themselves (the
    clients' remote_ts 10.200.0.0/16, pools in 10.200-10.208, 10.77.1.0/24 and
    10.99.x routes)."""
    net = 10 + os.getpid() % 190
    return net + 100 if net in (77, 99) else net


class Lab:
    """With nat=True the clients sit behind a router namespace that masquerades
    them (nftables) onto its link to the headend: 192.168.<i+1>.2 client,
    10.<n>.250.2 router, 10.<n>.250.1 headend.

    With inside=True an inside host namespace hangs off the headend (the network
    the clients reach through the dataplane): 10.<n>.251.2 host, 10.<n>.251.1
    headend (interface self.inside_dev), and the host routes @inside_routes (the
    clients' pool) via the headend. The headend does not forward in the kernel:
    what crosses it, the dataplane carried."""

    def __init__(self, nclients=1, tag="rv", nat=False, inside=False, inside_routes=("10.201.0.0/16",)):
        self.nss, self.procs, self.clients = [], [], []
        self.dir = tempfile.mkdtemp(prefix="raven-lab-")
        try:
            self._build(nclients, tag, nat)
            if inside:
                self._inside(inside_routes)
        except BaseException:
            self.close()  # a lab half built is taken down all the same
            raise

    def _build(self, nclients, tag, nat):
        prereq.check(["strongswan", "nft"], LOAD.split())
        self.tag = f"{tag}{os.getpid() % 100000}"
        self.net = lab_net()
        self.head = f"{self.tag}h"
        self._netns(self.head)
        self.router = None
        if nat:
            self.router = f"{self.tag}r"
            self._netns(self.router)
            a = f"{self.tag}ra"
            self._link(self.router, self.head, a, f"{self.tag}rb", f"10.{self.net}.250.2/24", f"10.{self.net}.250.1/24")
            sh("ip", "netns", "exec", self.router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
            for cmd in (["add", "table", "ip", "nat"],
                        ["add", "chain", "ip", "nat", "post", "{ type nat hook postrouting priority 100 ; }"],
                        ["add", "rule", "ip", "nat", "post", "oifname", a, "masquerade"]):
                sh("ip", "netns", "exec", self.router, "nft", *cmd)
        for i in range(nclients):
            ns = f"{self.tag}c{i}"
            self._netns(ns)
            d = os.path.join(self.dir, f"c{i}")
            os.makedirs(os.path.join(d, "run"))
            self._cred_dirs(d)
            c = {"ns": ns, "dir": d, "uri": f"unix://{d}/charon.vici"}
            if nat:
                self._link(ns, self.router, f"{self.tag}a{i}", f"{self.tag}b{i}", f"192.168.{i + 1}.2/24",
                           f"192.168.{i + 1}.1/24")
                sh("ip", "-n", ns, "route", "add", "default", "via", f"192.168.{i + 1}.1")
                c.update(ip=f"192.168.{i + 1}.2", outer_ip=f"10.{self.net}.250.2", head_ip=f"10.{self.net}.250.1")
            else:
                self._link(ns, self.head, f"{self.tag}a{i}", f"{self.tag}b{i}", f"10.{self.net}.{i}.2/24",
                           f"10.{self.net}.{i}.1/24")
                c.update(ip=f"10.{self.net}.{i}.2", head_ip=f"10.{self.net}.{i}.1")
            self.clients.append(c)

    def _inside(self, routes):
        self.inside = f"{self.tag}i"
        self._netns(self.inside)
        self.inside_dev = f"{self.tag}ib"
        self.inside_ip, self.inside_head_ip = f"10.{self.net}.251.2", f"10.{self.net}.251.1"
        self.inside_net = f"10.{self.net}.251.0/24"
        self._link(self.inside, self.head, f"{self.tag}ia", self.inside_dev, f"{self.inside_ip}/24",
                   f"{self.inside_head_ip}/24")
        # the inside host keeps its default offloads: its veth leaves TCP/UDP
        # checksums partial (CHECKSUM_PARTIAL), which the dataplane completes
        for r in routes:
            sh("ip", "-n", self.inside, "route", "add", r, "via", self.inside_head_ip)
        sh("ip", "netns", "exec", self.head, "sysctl", "-qw", "net.ipv4.ip_forward=0")

    def v6_outside(self, i=0):
        """IPv6 on client @i's link: fd00:<net>:<i>::2 (client), ::1 (headend);
        returns (headend, client) addresses."""
        c = self.clients[i]
        head6, cl6 = (str(ipaddress.ip_address(f"fd00:{self.net}:{i}::{h}")) for h in (1, 2))
        sh("ip", "-n", self.head, "-6", "addr", "add", f"{head6}/64", "dev", f"{self.tag}b{i}", "nodad")
        sh("ip", "-n", c["ns"], "-6", "addr", "add", f"{cl6}/64", "dev", f"{self.tag}a{i}", "nodad")
        return head6, cl6

    def inside6(self, routes=("fd00:201::/64",)):
        """IPv6 on the inside link (fd00:250::1 headend, fd00:250::2 host, the
        host routing @routes, the clients' IPv6 pool, via the headend)."""
        for ns, dev, addr in ((self.head, self.inside_dev, "fd00:250::1/64"),
                              (self.inside, f"{self.tag}ia", "fd00:250::2/64")):
            sh("ip", "-n", ns, "-6", "addr", "add", addr, "dev", dev, "nodad")
        for r in routes:
            sh("ip", "-n", self.inside, "-6", "route", "add", r, "via", "fd00:250::1")
        self.inside_ip6, self.inside_net6 = "fd00:250::2", "fd00:250::/64"

    def move(self, i, old, new):
        """Client @i changes address from @old to @new mid-session (MOBIKE): the
        new one added, the old one deleted (LAB.md: with promote_secondaries,
        or deleting the primary IPv4 address deletes the new secondary too)."""
        c, dev = self.clients[i], f"{self.tag}a{i}"
        v6 = ":" in new
        fam, plen = ("-6", 64) if v6 else ("-4", 24)
        if not v6:
            sh("ip", "netns", "exec", c["ns"], "sysctl", "-qw", f"net.ipv4.conf.{dev}.promote_secondaries=1")
        sh("ip", "-n", c["ns"], fam, "addr", "add", f"{new}/{plen}", "dev", dev, *(["nodad"] if v6 else []))
        sh("ip", "-n", c["ns"], fam, "addr", "del", f"{old}/{plen}", "dev", dev)

    def outside_devs(self):
        """The headend's interfaces towards the clients (or the NAT router)."""
        if self.router:
            return [f"{self.tag}rb"]
        return [f"{self.tag}b{i}" for i in range(len(self.clients))]

    def spawn(self, ns, *args, **kw):
        """A process in namespace @ns, ended at close()."""
        p = subprocess.Popen(["ip", "netns", "exec", ns, *args], **kw)
        self.procs.append(p)
        return p

    def _netns(self, ns):
        # a namespace of this name left by a killed run of the same PID goes first
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        sh("ip", "netns", "add", ns)
        self.nss.append(ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")

    @staticmethod
    def _link(ns_a, ns_b, dev_a, dev_b, addr_a, addr_b):
        """A veth pair from @ns_a (@dev_a, @addr_a) to @ns_b, both up."""
        sh("ip", "link", "add", dev_a, "type", "veth", "peer", "name", dev_b)
        for ns, dev, addr in ((ns_a, dev_a, addr_a), (ns_b, dev_b, addr_b)):
            sh("ip", "link", "set", dev, "netns", ns)
            sh("ip", "-n", ns, "addr", "add", addr, "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")

    @staticmethod
    def _cred_dirs(d):
        for sub in ("x509", "x509ca", "x509ocsp", "x509aa", "x509ac", "x509crl", "pubkey", "private", "rsa",
                    "ecdsa", "bliss", "pkcs8", "pkcs12"):
            os.makedirs(os.path.join(d, sub))

    def install_creds(self, i, cert=None, key=None, ca=None):
        """Copies PEM files into client @i's swanctl credential directories."""
        base = self.clients[i]["dir"]
        for src, sub in ((cert, "x509"), (key, "private"), (ca, "x509ca")):
            if src:
                shutil.copy(src, os.path.join(base, sub))

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGTERM)
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    os.kill(p.pid, signal.SIGKILL)
                    p.wait()
        for ns in self.nss:
            subprocess.run(["ip", "netns", "del", ns], check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    def start_charon(self, i, swanctl_conf, extra_charon=""):
        c = self.clients[i]
        d = c["dir"]
        with open(f"{d}/strongswan.conf", "w") as f:
            f.write(f"""charon {{
  load = {LOAD}
  install_virtual_ip = yes
{extra_charon}
  plugins {{
    vici {{
      socket = unix://{d}/charon.vici
    }}
    resolve {{
      file = {d}/resolv.conf
    }}
  }}
  filelog {{
    log {{
      path = {d}/charon.log
      flush_line = yes
      default = 1
      ike = 2
      cfg = 2
    }}
  }}
}}
""")
        with open(f"{d}/swanctl.conf", "w") as f:
            f.write(swanctl_conf)
        env = dict(os.environ, STRONGSWAN_CONF=f"{d}/strongswan.conf")
        p = subprocess.Popen(["ip", "netns", "exec", c["ns"], "sh", "-c",
                              f"mount --bind {d}/run /run && exec {CHARON}"],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(p)
        c["proc"] = p
        deadline = time.time() + 30
        while not os.path.exists(f"{d}/charon.vici"):
            if p.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"charon did not start (exit {p.poll()}):\n{self.log(i)[-3000:]}")
            time.sleep(0.05)
        self.swanctl(i, "--load-all", "--noprompt", "--file", f"{d}/swanctl.conf")
        return p

    def swanctl(self, i, *args, check=True, timeout=60):
        """swanctl against client @i. --load-all takes credentials (x509/,
        x509ca/, private/) from the directory of the configuration file, the
        client's own directory."""
        c = self.clients[i]
        r = subprocess.run(["ip", "netns", "exec", c["ns"], "swanctl", *args, "--uri", c["uri"]],
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode:
            raise RuntimeError(f"swanctl {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}\n"
                               f"charon log:\n{self.log(i)[-4000:]}")
        return r

    def log(self, i):
        p = os.path.join(self.clients[i]["dir"], "charon.log")
        return open(p, errors="replace").read() if os.path.exists(p) else ""


def psk_client_conf(head_ip, my_id, proposals="aes256gcm16-prfsha384-ecp384", esp="aes256gcm16",
                    remote_ts="10.200.0.0/16", psk="rw-secret-1", remote_id="headend.example.org"):
    return f"""connections {{
  rw {{
    remote_addrs = {head_ip}
    vips = 0.0.0.0
    proposals = {proposals}
    local {{
      auth = psk
      id = {my_id}
    }}
    remote {{
      auth = psk
      id = {remote_id}
    }}
    children {{
      vpn {{
        remote_ts = {remote_ts}
        esp_proposals = {esp}
      }}
    }}
  }}
}}
secrets {{
  ike-1 {{
    id-1 = {remote_id}
    id-2 = {my_id}
    secret = {psk}
  }}
}}
"""
