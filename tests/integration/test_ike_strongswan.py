"""Interop of Raven's IKEv2 code with a real strongSwan client (charon 5.9):
Raven's IKE_SA_INIT responder (daemon/ike, run by the ike_probe helper) answers the
client, and the client's following IKE_AUTH must decrypt with the keys Raven
derived. This checks the codec, the proposal choice, ECP/X25519 key exchange,
SKEYSEED/prf+, the SK payload both ways and the shared key AUTH computation, both
the client's and Raven's own, against another implementation.

Topology (the namespace lab of lab.py, made and removed by the test):

    [client ns: charon 10.<n>.0.2] --veth-- [headend ns: ike_probe 10.<n>.0.1]
"""
import os
import select
import subprocess

import pytest

from lab import psk_client_conf

REQUIRES = ("strongswan",)

HERE = os.path.dirname(os.path.abspath(__file__))
PROBE = os.environ.get("IKE_PROBE", os.path.join(HERE, "..", "..", "build", "tests", "ike_probe"))
PSK = "interop-test-only"


def start_probe(lb, *extra):
    """Starts the probe and waits for its "listening" line (its sockets are bound)."""
    p = subprocess.Popen(["ip", "netns", "exec", lb.head, PROBE, lb.clients[0]["head_ip"], "client.example.org", PSK,
                          *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lb.procs.append(p)
    ready, _, _ = select.select([p.stdout], [], [], 20)
    line = p.stdout.readline() if ready else ""
    assert "listening" in line, f"the probe did not start: {line!r}"
    return p


def run_client(lb, proposals, fragment_size=None):
    """The client initiates; the probe stops after IKE_AUTH, so it does not complete."""
    lb.start_charon(0, psk_client_conf(lb.clients[0]["head_ip"], "client.example.org", proposals=proposals,
                                       esp="aes128gcm16", psk=PSK),
                    extra_charon=f"  fragment_size = {fragment_size}" if fragment_size else "")
    lb.swanctl(0, "--initiate", "--ike", "rw", "--timeout", "5", check=False, timeout=30)


@pytest.mark.parametrize("proposals", [
    "aes256gcm16-prfsha256-ecp256",
    "aes128gcm16-prfsha384-x25519",
    "chacha20poly1305-prfsha512-ecp384",
    "aes256-sha256-modp2048",
    "aes128-sha1-prfsha256-ecp521",
    "aes192-sha512-modp3072",
])
def test_strongswan_ike_auth_decrypts_with_ravens_keys(lab, proposals):
    lb = lab(1)
    probe = start_probe(lb)
    run_client(lb, proposals)
    out, _ = probe.communicate(timeout=30)
    log = lb.log(0)
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
    lb = lab(1)
    probe = start_probe(lb, "frag")
    run_client(lb, "aes256gcm16-prfsha256-ecp256", fragment_size=200)
    out, _ = probe.communicate(timeout=30)
    log = lb.log(0)
    assert probe.returncode == 0, f"probe:\n{out}\ncharon log:\n{log[-3000:]}"
    assert "reassembled from" in out and "AUTH verified with the shared key" in out
    assert "splitting IKE message" in log  # the client did fragment
