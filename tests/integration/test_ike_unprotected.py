"""Unprotected error notifications (RFC 7296 2.5, 3.2) from a real ravend in a
namespace: an IKE_SA_INIT request with an unknown payload marked critical gets
UNSUPPORTED_CRITICAL_PAYLOAD carrying the payload's type, a request of major
version 3 gets INVALID_MAJOR_VERSION in a version 2 header; a flood of such
requests is answered only up to the rate limit (the headend is no amplifier);
everything is counted in ike-counters, read over NETCONF. The requests are
built here byte by byte (a test initiator has no reason to send them), sent
from a client namespace; tshark dissects the answers too.

Topology: [client 0: sender.py] --veth-- [headend namespace: ravend]
"""
import os
import shutil
import struct
import subprocess
import tempfile

from conftest import NS
from test_ike_sessions import headend_config, state, t

REQUIRES = ("strongswan", "tshark")

SENDER = r'''
import os, socket, struct, sys, time
head, n, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 0))
s.settimeout(0.5)
for i in range(n):
    spi = os.urandom(8)
    if kind == "critical":   # IKE_SA_INIT with one unknown payload (type 60), critical
        body = struct.pack("!BBH", 0, 0x80, 8) + b"junk"
        hdr = spi + bytes(8) + struct.pack("!BBBBII", 60, 0x20, 34, 0x08, 0, 28 + len(body))
    else:                    # the same exchange as IKE version 3.0
        body = struct.pack("!BBH", 0, 0, 8) + b"junk"
        hdr = spi + bytes(8) + struct.pack("!BBBBII", 43, 0x30, 34, 0x08, 0, 28 + len(body))
    s.sendto(hdr + body, (head, 500))
got = 0
try:
    while True:
        data, _ = s.recvfrom(65535)
        got += 1
        sys.stdout.write(data.hex() + "\n")
except socket.timeout:
    pass
'''


def send(lb, kind, n=1):
    """@n requests of @kind from client 0; the answers as bytes."""
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(SENDER)
    try:
        out = subprocess.run(["ip", "netns", "exec", lb.clients[0]["ns"], "/usr/bin/python3", f.name,
                              lb.clients[0]["head_ip"], str(n), kind], capture_output=True, text=True, timeout=60,
                             check=True).stdout
    finally:
        os.unlink(f.name)
    return [bytes.fromhex(x) for x in out.split()]


def notify_of(msg):
    """(version, flags, exchange, message ID, notify type, notify data) of an
    answer that is one Notify payload."""
    np, ver, exch, flags, mid, length = struct.unpack("!BBBBII", msg[16:28])
    assert length == len(msg) and np == 41, msg.hex()
    _, _, plen, _proto, _spi_size, ntype = struct.unpack("!BBHBBH", msg[28:36])
    return ver, flags, exch, mid, ntype, msg[36:28 + plen]


def counters(m):
    c = state(m).find(f"{{{NS}}}ike-counters/{{{NS}}}unprotected-errors")
    return {k: int(t(c, k)) for k in ("unsupported-critical-payload", "invalid-major-version", "rate-limited")}


def tshark_fields(lb, answers):
    """tshark's view of the answers (written as a pcap)."""
    d = tempfile.mkdtemp(prefix="raven-unprot-")
    p = os.path.join(d, "a.pcap")
    with open(p, "wb") as f:  # libpcap, raw IPv4 (linktype 228)
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 228))
        for a in answers:
            udp = struct.pack("!HHHH", 500, 500, 8 + len(a), 0) + a
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, bytes([10, 0, 0, 1]),
                             bytes([10, 0, 0, 2])) + udp
            f.write(struct.pack("<IIII", 0, 0, len(ip), len(ip)) + ip)
    r = subprocess.run(["tshark", "-r", p, "-T", "fields", "-e", "isakmp.notify.msgtype", "-e", "isakmp.version"],
                       capture_output=True, text=True, timeout=60)
    shutil.rmtree(d)
    return r.stdout


def test_unprotected_errors_answered_limited_and_counted(make_ravend, lab):
    lb = lab(1)
    d = make_ravend(headend_config(), netns=lb.head)
    m = d.connect()
    assert counters(m) == {"unsupported-critical-payload": 0, "invalid-major-version": 0, "rate-limited": 0}

    a = send(lb, "critical")
    assert len(a) == 1, a
    ver, flags, exch, mid, ntype, data = notify_of(a[0])
    assert (ver, flags, exch, mid) == (0x20, 0x20, 34, 0)  # a response, not the initiator's
    assert ntype == 1 and data == bytes([60])  # UNSUPPORTED_CRITICAL_PAYLOAD, the type
    assert a[0][8:16] == bytes(8)  # no responder SPI: no state was made

    b = send(lb, "version3")
    assert len(b) == 1, b
    ver, flags, exch, mid, ntype, data = notify_of(b[0])
    assert ver == 0x20 and flags == 0x20 and ntype == 5 and data == b""  # INVALID_MAJOR_VERSION
    assert counters(m) == {"unsupported-critical-payload": 1, "invalid-major-version": 1, "rate-limited": 0}

    ts = tshark_fields(lb, a + b)
    assert ts.split("\n")[:2] == ["1\t0x20", "5\t0x20"], ts

    # a flood of 200 gets at most the bucket's burst plus its refill
    flood = send(lb, "critical", 200)
    c = counters(m)
    assert 15 <= len(flood) <= 60, len(flood)
    assert c["unsupported-critical-payload"] == 201
    assert c["rate-limited"] == 200 - len(flood)
    # no session or half-open SA was made by any of them
    assert t(state(m), "ike-counters/sa/in-negotiation") == "0"
