"""Raw ESP (IP protocol 50, no UDP) through the dataplane against static SAs: the
dataplane runs on its own (tests/support/dp_tool, the same library as ravend, SAs
from the command line) and scapy's ESP implementation is the peer. A client's
encrypted ping reaches the inside host, the answer comes back encrypted with the
outbound SA, and replayed, tampered, unknown-SPI, truncated ESP, overlapping
fragments and ESP whose inner source is not the client's, are dropped and counted
by reason; a valid packet in fragments, last first, is reassembled and accepted."""
import json
import os
import signal
import subprocess

import pytest

REQUIRES = ("scapy", "ip")

HERE = os.path.dirname(os.path.abspath(__file__))
DP_TOOL = os.environ.get("DP_TOOL", "")
DROPS = ["no_sa", "replay", "auth", "malformed", "selector", "no_route", "mtu", "ring_full", "fragment", "sa_expired",
         "other"]

KEYS = {
    "gcm128": ("11" * 16 + "a1b2c3d4", "22" * 16 + "d4c3b2a1", None, None),
    "chacha": ("33" * 32 + "01020304", "44" * 32 + "05060708", None, None),
    "cbc256": ("55" * 32, "66" * 32, "77" * 32, "88" * 32),
}


def dp_run(lb, args):
    p = lb.spawn(lb.head, DP_TOOL, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert line.strip() == "ready", p.stderr.read()
    return p


def dp_stop(p):
    os.kill(p.pid, signal.SIGTERM)
    out, err = p.communicate(timeout=20)
    assert p.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.skipif(not DP_TOOL, reason="DP_TOOL not set (run through ctest)")
@pytest.mark.parametrize("cipher", sorted(KEYS))
def test_raw_esp_static_sa(lab, cipher):
    lb = lab(1, inside=True, inside_routes=("10.9.9.0/24",))
    c = lb.clients[0]
    kin, kout, iin, iout = KEYS[cipher]
    integ = "integ=sha256 " if iin else ""
    common = f"cipher={cipher} local={c['head_ip']} peer={c['ip']} sel=10.9.9.9/32"
    sa_in = f"in spi=0x1001 key={kin} {integ}{'ikey=' + iin if iin else ''} {common}"
    sa_out = f"out spi=0x2001 key={kout} {integ}{'ikey=' + iout if iout else ''} {common}"
    p = dp_run(lb, ["--if", f"{lb.outside_devs()[0]}:outside", "--if", f"{lb.inside_dev}:inside",
                    "--sa", sa_in, "--sa", sa_out])
    peer = {"cipher": cipher, "spi_in": 0x1001, "spi_out": 0x2001, "key_in": kin, "key_out": kout,
            "ikey_in": iin, "ikey_out": iout, "client": c["ip"], "head": c["head_ip"], "inner": "10.9.9.9",
            "inside": lb.inside_ip, "dev": f"{lb.tag}a0",
            "bad": ["replay", "wrong_icv", "wrong_spi", "truncated", "spoofed_source", "fragment"],
            "fragmented": True}
    r = subprocess.run(["ip", "netns", "exec", c["ns"], "/usr/bin/python3", os.path.join(HERE, "esp_peer.py"),
                        json.dumps(peer)], capture_output=True, text=True, timeout=60)
    st = dp_stop(p)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    # the echo reply came back as raw ESP on the outbound SA, decrypted by scapy
    assert len(res["answers"]) == 1, (res, st)
    a = res["answers"][0]
    assert (a["outer_src"], a["outer_dst"], a["spi"], a["seq"]) == (c["head_ip"], c["ip"], 0x2001, 1)
    assert (a["src"], a["dst"], a["icmp_type"]) == (lb.inside_ip, "10.9.9.9", 0)
    assert "raven-raw-esp" in a["payload"]
    sas = {s["spi"]: s for s in st["sas"]}
    # the fragmented one too, reassembled (its answer is not awaited)
    assert sas[0x1001]["packets"] == 2 and sas[0x2001]["packets"] >= 1
    assert sas[0x1001]["replay"] == 1 and sas[0x1001]["auth"] == 1 and sas[0x1001]["selector"] == 1
    outside = next(i for i in st["ifaces"] if i["name"] == lb.outside_devs()[0])
    drops = dict(zip(DROPS, outside["drops"]))
    assert drops["replay"] == 1 and drops["auth"] == 1 and drops["no_sa"] == 1, drops
    assert drops["malformed"] == 1 and drops["fragment"] == 1 and drops["selector"] == 1, drops
