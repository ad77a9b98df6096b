"""Interop of Raven's IKEv2 code with a real strongSwan client (charon 5.9):
Raven's IKE_SA_INIT responder (daemon/ike, run by the ike_probe helper) answers the
client, and the client's following IKE_AUTH must decrypt with the keys Raven
derived. This checks the codec, the proposal choice, ECP/X25519 key exchange,
SKEYSEED/prf+, the SK payload both ways and the shared key AUTH computation, both
the client's and Raven's own, against another implementation.

Topology (two namespaces made and removed by the test):

    [client ns: charon 10.99.<n>.2] --veth-- [headend ns: ike_probe 10.99.<n>.1]
"""
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PROBE = os.environ.get("IKE_PROBE", os.path.join(HERE, "..", "..", "build", "tests", "ike_probe"))
CHARON = "/usr/lib/ipsec/charon"


def sh(*args, **kw):
    return subprocess.run(list(args), check=True, capture_output=True, text=True, **kw)


@pytest.fixture
def lab():
    if not os.path.exists(CHARON):
        pytest.fail("strongSwan is not installed (packaging/debian-packages.txt lists it)")
    tag = f"rvik{os.getpid() % 100000}"
    net = 1 + os.getpid() % 250
    client, head = f"{tag}c", f"{tag}h"
    d = tempfile.mkdtemp(prefix="raven-ike-")
    procs = []
    sh("ip", "netns", "add", client)
    sh("ip", "netns", "add", head)
    try:
        sh("ip", "link", "add", f"{tag}a", "type", "veth", "peer", "name", f"{tag}b")
        sh("ip", "link", "set", f"{tag}a", "netns", client)
        sh("ip", "link", "set", f"{tag}b", "netns", head)
        sh("ip", "-n", client, "addr", "add", f"10.99.{net}.2/24", "dev", f"{tag}a")
        sh("ip", "-n", head, "addr", "add", f"10.99.{net}.1/24", "dev", f"{tag}b")
        for ns, dev in ((client, f"{tag}a"), (head, f"{tag}b")):
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "link", "set", dev, "up")
        yield {"client": client, "head": head, "dir": d, "procs": procs,
               "client_ip": f"10.99.{net}.2", "head_ip": f"10.99.{net}.1"}
    finally:
        for p in procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGTERM)
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    os.kill(p.pid, signal.SIGKILL)
                    p.wait()
        subprocess.run(["ip", "netns", "del", client], check=False)
        subprocess.run(["ip", "netns", "del", head], check=False)
        shutil.rmtree(d, ignore_errors=True)


def start_charon(lab, proposals, fragment_size=None):
    d = lab["dir"]
    os.makedirs(f"{d}/run", exist_ok=True)
    with open(f"{d}/strongswan.conf", "w") as f:
        f.write(f"""charon {{
  load = random nonce openssl pem pkcs1 x509 pubkey curve25519 sha1 sha2 aes gcm chapoly hmac kdf kernel-netlink socket-default vici
{f"  fragment_size = {fragment_size}" if fragment_size else ""}
  plugins {{
    vici {{
      socket = unix://{d}/charon.vici
    }}
  }}
  filelog {{
    log {{
      path = {d}/charon.log
      flush_line = yes
      default = 1
      ike = 2
    }}
  }}
}}
""")
    with open(f"{d}/swanctl.conf", "w") as f:
        f.write(f"""connections {{
  rw {{
    remote_addrs = {lab['head_ip']}
    vips = 0.0.0.0
    proposals = {proposals}
    local {{
      auth = psk
      id = client.example.org
    }}
    remote {{
      auth = psk
      id = headend.example.org
    }}
    children {{
      vpn {{
        remote_ts = 10.0.0.0/16
        esp_proposals = aes128gcm16
      }}
    }}
  }}
}}
secrets {{
  ike-1 {{
    id = headend.example.org
    secret = interop-test-only
  }}
}}
""")
    env = dict(os.environ, STRONGSWAN_CONF=f"{d}/strongswan.conf")
    p = subprocess.Popen(["ip", "netns", "exec", lab["client"], "sh", "-c",
                          f"mount --bind {d}/run /run && exec {CHARON}"],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lab["procs"].append(p)
    for _ in range(100):
        if os.path.exists(f"{d}/charon.vici"):
            break
        time.sleep(0.1)
    uri = f"unix://{d}/charon.vici"
    sh("ip", "netns", "exec", lab["client"], "swanctl", "--load-all", "--noprompt", "--file", f"{d}/swanctl.conf",
       "--uri", uri)
    return uri


@pytest.mark.parametrize("proposals", [
    "aes256gcm16-prfsha256-ecp256",
    "aes128gcm16-prfsha384-x25519",
    "chacha20poly1305-prfsha512-ecp384",
    "aes256-sha256-modp2048",
    "aes128-sha1-prfsha256-ecp521",
    "aes192-sha512-modp3072",
])
def test_strongswan_ike_auth_decrypts_with_ravens_keys(lab, proposals):
    probe = subprocess.Popen(["ip", "netns", "exec", lab["head"], PROBE, lab["head_ip"], "client.example.org",
                              "interop-test-only"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lab["procs"].append(probe)
    time.sleep(0.2)
    uri = start_charon(lab, proposals)
    # the probe stops after IKE_AUTH, so the client's initiate does not complete
    subprocess.run(["ip", "netns", "exec", lab["client"], "swanctl", "--initiate", "--ike", "rw", "--timeout", "5",
                    "--uri", uri], capture_output=True, timeout=30)
    out, _ = probe.communicate(timeout=30)
    log = open(f"{lab['dir']}/charon.log", errors="replace").read() if os.path.exists(f"{lab['dir']}/charon.log") else ""
    assert probe.returncode == 0, f"probe:\n{out}\ncharon log:\n{log[-3000:]}"
    assert 'IDi type 2 "client.example.org"' in out
    assert "AUTH verified with the shared key" in out  # RFC 7296 2.15, computed by Raven
    # the client took our IKE_SA_INIT response, went on to IKE_AUTH, and accepted
    # Raven's own AUTH in the IKE_AUTH response
    assert "sending packet" in log and "IKE_AUTH" in log
    assert "authentication of 'headend.example.org' with pre-shared key successful" in log, log[-3000:]
    assert "IKE_SA rw[1] established" in log, log[-3000:]


def test_strongswan_fragmented_ike_auth_is_reassembled(lab):
    """RFC 7383: with fragmentation announced by Raven and a small fragment size on
    the client, IKE_AUTH arrives in Encrypted Fragment payloads; each decrypts with
    Raven's keys and the reassembled message carries the client's IDi and AUTH."""
    probe = subprocess.Popen(["ip", "netns", "exec", lab["head"], PROBE, lab["head_ip"], "client.example.org",
                              "interop-test-only", "frag"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lab["procs"].append(probe)
    time.sleep(0.2)
    uri = start_charon(lab, "aes256gcm16-prfsha256-ecp256", fragment_size=200)
    subprocess.run(["ip", "netns", "exec", lab["client"], "swanctl", "--initiate", "--ike", "rw", "--timeout", "5",
                    "--uri", uri], capture_output=True, timeout=30)
    out, _ = probe.communicate(timeout=30)
    log = open(f"{lab['dir']}/charon.log", errors="replace").read() if os.path.exists(f"{lab['dir']}/charon.log") else ""
    assert probe.returncode == 0, f"probe:\n{out}\ncharon log:\n{log[-3000:]}"
    assert "reassembled from" in out and "AUTH verified with the shared key" in out
    assert "splitting IKE message" in log  # the client did fragment
