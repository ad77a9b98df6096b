#!/usr/bin/python3
"""EAP-MSCHAPv2 session establishments per second through FreeRADIUS: ravend, and
in the same run a strongSwan responder with its eap-radius plugin, against the
same FreeRADIUS 3.2 (threaded, not -X) in the headend namespace.

Both responders authenticate themselves with the same ECDSA P-256 certificate,
take the client's IKE ID as its EAP identity (the seed's figure 1; strongSwan's
default), answer a configuration request from a pool and make one child SA. The
load is strongSwan itself, one charon in a client namespace with CONNECTIONS
connections (distinct IKE IDs, one RADIUS user for all through a DEFAULT entry),
each driven by a thread that initiates and terminates it in a loop over the
client's VICI socket for SECONDS (bench_ike.drive). The client side is the same
for both responders, so the ratio compares the responders (with FreeRADIUS) on
the same 2 cores. Each rate is printed with its failures and timeouts, and CPU
per session counts the responder's child processes too (ravend's front ends).
The output is also written to tests/bench/results/NAME-DATE.txt. Run as root
after a build:

    /usr/bin/python3 tests/bench/bench_eap.py [--build build] [--seconds 20] [--connections 16]
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile

import benchdeps

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, HERE)

from bench_ike import CHARON, NS, drive, make_pki, netns_pair, sh, start_charon, wait_for, with_cpu  # noqa: E402
from radiushelpers import SECRET, FreeRadius  # noqa: E402

USERS = 'DEFAULT Cleartext-Password := "bench-pw-1"\n'
CLIENT_LOAD = ("random nonce openssl pem pkcs1 pkcs8 x509 pubkey curve25519 sha1 sha2 aes gcm hmac kdf md5 "
               "kernel-libipsec kernel-netlink socket-default vici attr eap-identity eap-mschapv2")


def ravend_config(pem, fr):
    return f"""<pki xmlns="{NS}"><trustpoint><name>tp</name><ca-certificate>{pem['ca']}</ca-certificate>
<certificate>{pem['cert']}</certificate><private-key>{pem['key']}</private-key></trustpoint></pki>
<management xmlns="{NS}"><netconf><endpoint><name>b</name><address>127.0.0.1</address>
<port>8300</port></endpoint></netconf></management>
<ikev2 xmlns="{NS}">
  <global><listen><address>0.0.0.0</address></listen></global>
  <authorization-policy><name>bench</name><pool>bench</pool></authorization-policy>
  <profile><name>bench</name>
    <match><identity><remote><fqdn><domain>example.org</domain></fqdn></remote></identity></match>
    <identity><local><fqdn>headend.example.org</fqdn></local></identity>
    <authentication><local><ecdsa-sig/></local><remote><eap/></remote></authentication>
    <pki><trustpoint><name>tp</name></trustpoint></pki>
    <aaa><authentication><eap>eap</eap></authentication>
      <authorization><group><eap><method-list>l</method-list><username>bench</username></eap></group>
    </authorization></aaa>
  </profile>
</ikev2>
<pools xmlns="{NS}"><ipv4-pool><name>bench</name><range><start>10.220.0.1</start><end>10.220.255.254</end>
</range></ipv4-pool></pools>
<aaa xmlns="{NS}">
  <radius-server><name>fr</name><address>127.0.0.1</address><auth-port>{fr.port}</auth-port>
    <key>{SECRET}</key></radius-server>
  <server-group><name>g</name><server>fr</server></server-group>
  <authentication-list><name>eap</name><method><sequence>1</sequence><group>g</group></method></authentication-list>
  <authorization-list><name>l</name><method><sequence>1</sequence><local/></method></authorization-list>
</aaa>"""


def responder_files(d, fr):
    with open(f"{d}/strongswan.conf", "w") as f:
        f.write(f"""charon {{
  load = random nonce openssl pem pkcs1 pkcs8 x509 pubkey curve25519 sha1 sha2 aes gcm hmac kdf md5 kernel-libipsec kernel-netlink socket-default vici attr eap-radius
  threads = 32
  cookie_threshold = 1000000
  block_threshold = 1000000
  init_limit_half_open = 0
  plugins {{
    vici {{
      socket = unix://{d}/charon.vici
    }}
    eap-radius {{
      # one socket per concurrent request (the default, 1, serialises the RADIUS exchanges)
      sockets = 32
      servers {{
        fr {{
          address = 127.0.0.1
          auth_port = {fr.port}
          secret = {SECRET}
          sockets = 32
        }}
      }}
    }}
  }}
  syslog {{
    daemon {{
      default = -1
    }}
  }}
  filelog {{
    log {{
      path = {d}/responder.log
      default = {os.environ.get("BENCH_LOG", "-1")}
    }}
  }}
}}
""")
    with open(f"{d}/swanctl.conf", "w") as f:
        f.write("""connections {
  bench {
    pools = bench
    proposals = aes256gcm16-prfsha256-x25519
    local {
      auth = pubkey
      certs = head.pem
      id = headend.example.org
    }
    remote {
      auth = eap-radius
    }
    children {
      vpn {
        local_ts = 0.0.0.0/0
        esp_proposals = aes128gcm16
      }
    }
  }
}
pools {
  bench {
    addrs = 10.220.0.0/16
  }
}
""")
    for sub in ("x509", "private"):
        os.makedirs(f"{d}/{sub}", exist_ok=True)
    shutil.copy(f"{d}/head.pem", f"{d}/x509/")
    shutil.copy(f"{d}/head.key", f"{d}/private/")


def client_files(c, n):
    os.makedirs(c, exist_ok=True)
    with open(f"{c}/strongswan.conf", "w") as f:
        f.write(f"""charon {{
  load = {CLIENT_LOAD}
  threads = 64
  install_virtual_ip = yes
  plugins {{
    vici {{
      socket = unix://{c}/charon.vici
    }}
  }}
  syslog {{
    daemon {{
      default = -1
    }}
  }}
}}
""")
    conns = "".join(f"""  c{i} {{
    remote_addrs = 10.232.0.1
    vips = 0.0.0.0
    proposals = aes256gcm16-prfsha256-x25519
    local {{
      auth = eap-mschapv2
      id = u{i}.example.org
    }}
    remote {{
      auth = pubkey
      id = headend.example.org
    }}
    children {{
      vpn {{
        remote_ts = 10.233.0.0/16
        esp_proposals = aes128gcm16
      }}
    }}
  }}
""" for i in range(n))
    with open(f"{c}/swanctl.conf", "w") as f:
        f.write(f"connections {{\n{conns}}}\nsecrets {{\n  eap-1 {{\n    secret = bench-pw-1\n  }}\n}}\n")
    os.makedirs(f"{c}/x509ca", exist_ok=True)
    shutil.copy(f"{os.path.dirname(c)}/ca.pem", f"{c}/x509ca/")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--name", default="bench_eap", help="results file name (tests/bench/results/NAME-DATE.txt)")
    a = ap.parse_args()
    benchdeps.install()
    ravend = os.path.join(a.build, "daemon", "ravend")
    missing = [f for f in (ravend, CHARON, "/usr/sbin/freeradius") if not os.path.exists(f)]
    if missing:
        raise SystemExit(f"bench_eap: missing {', '.join(missing)} (build ravend; the rest comes with "
                         "packaging/install-deps.sh --bench)")
    benchdeps.record(a.name)
    tag = f"rvbe{os.getpid() % 10000}"
    head, cl = f"{tag}h", f"{tag}l"
    d = tempfile.mkdtemp(prefix="raven-bench-eap-")
    c = f"{d}/client"
    procs, fr = [], None

    def start_client():
        return start_charon(cl, c, procs, "the client's charon")

    def stop(p, sock=None):
        os.kill(p.pid, signal.SIGTERM)
        p.wait(timeout=20)
        if sock and os.path.exists(sock):
            os.remove(sock)

    try:
        netns_pair(tag, head, cl, "10.232.0")
        # the "inside" network the children reach: strongSwan's libipsec routes from an address in it
        sh("ip", "-n", head, "addr", "add", "10.233.0.1/16", "dev", "lo")
        pem = make_pki(d)
        fr = FreeRadius(netns=head, users_extra=USERS, quiet=True)
        client_files(c, a.connections)
        load = [(f"{c}/charon.vici", [f"c{i}" for i in range(a.connections)])]
        results = {}

        # ravend
        with open(f"{d}/ravend.xml", "w") as f:
            f.write(ravend_config(pem, fr))
        with open(f"{d}/ravend.log", "w") as log:
            p = subprocess.Popen(["ip", "netns", "exec", head, ravend, "-f", "-d", f"{d}/state", "-c",
                                  f"{d}/ravend.xml", "-l", "warning", "--arena", "none"], stdout=log,
                                 stderr=subprocess.STDOUT)
        procs.append(p)
        wait_for(lambda: "ravend: ready" in open(f"{d}/ravend.log").read(), p, "ravend")
        client = start_client()
        results["ravend"] = with_cpu(p.pid, lambda: drive(load, a.seconds))
        stop(client, f"{c}/charon.vici")
        stop(p)

        # strongSwan with eap-radius
        responder_files(d, fr)
        p = start_charon(head, d, procs, "the responder's charon")
        client = start_client()
        results["strongSwan"] = with_cpu(p.pid, lambda: drive(load, a.seconds))
        stop(client, f"{c}/charon.vici")
        stop(p, f"{d}/charon.vici")
        if os.environ.get("BENCH_LOG") and os.path.exists(f"{d}/responder.log"):
            print(open(f"{d}/responder.log").read(), file=sys.stderr)

        print(f"EAP-MSCHAPv2 through FreeRADIUS 3.2: ECDSA P-256 server certificate, X25519, AES-GCM-256, "
              f"configuration request and one child SA; {a.connections} connections of one strongSwan client, "
              f"{a.seconds:g} s per responder")
        print(f"{'responder':<12}{'sessions/s':>12}{'failures':>10}{'timeouts':>10}{'established':>13}{'CPU s':>8}"
              f"{'children':>10}{'CPU ms/session':>16}")
        for name, r in results.items():
            print(f"{name:<12}{r['rate']:>12.1f}{r['failures']:>10}{r['timeouts']:>10}{r['established']:>13}"
                  f"{r['cpu_seconds']:>8.2f}{r['children_cpu_seconds']:>10.2f}{r['cpu_us_per_sa'] / 1000:>16.2f}")
            if r.get("first_error"):
                print(f"{name}: first failure: {r['first_error'][0]}")
        rv, ss = results["ravend"], results["strongSwan"]
        print(f"ratio ravend/strongSwan: rate {rv['rate'] / max(ss['rate'], 0.01):.2f}x, CPU per session "
              f"{rv['cpu_us_per_sa'] / max(ss['cpu_us_per_sa'], 0.01):.2f}x")
    finally:
        for p in procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.kill(p.pid, signal.SIGKILL)
                    p.wait()
        if fr:
            fr.close()
        for ns in (head, cl):
            subprocess.run(["ip", "netns", "del", ns], check=False)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
