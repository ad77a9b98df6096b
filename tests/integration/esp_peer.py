"""A raw-ESP peer built on scapy's ESP implementation (a third-party RFC 4303
implementation), run inside a client namespace by test_dataplane_raw.py: it
encrypts an ICMP echo request from the client's inner address to the inside host
with the inbound SA of the dataplane, sends it as IP protocol 50 (no UDP), waits
for the dataplane's ESP answer and decrypts it with the outbound SA, then sends
the bad packets it is asked for (overlapping fragments among them) and a valid
one in fragments, out of order. Prints one JSON line with what happened."""
import json
import sys
import time

from scapy.all import AsyncSniffer, ICMP, IP, Raw, send
from scapy.layers.ipsec import ESP, SecurityAssociation

ALGS = {
    "gcm128": ("AES-GCM", None), "gcm256": ("AES-GCM", None), "chacha": ("CHACHA20-POLY1305", None),
    "cbc128": ("AES-CBC", "HMAC-SHA1-96"), "cbc256": ("AES-CBC", "SHA2-256-128"),
}


def sa(spi, cipher, key, ikey, outer_src, outer_dst):
    c, a = ALGS[cipher]
    kw = {"crypt_algo": c, "crypt_key": bytes.fromhex(key), "auth_algo": a or "NULL"}
    if a:
        kw["auth_key"] = bytes.fromhex(ikey)
    return SecurityAssociation(ESP, spi=spi, tunnel_header=IP(src=outer_src, dst=outer_dst), **kw)


def main():
    a = json.loads(sys.argv[1])
    sa_in = sa(a["spi_in"], a["cipher"], a["key_in"], a.get("ikey_in"), a["client"], a["head"])
    sa_out = sa(a["spi_out"], a["cipher"], a["key_out"], a.get("ikey_out"), a["head"], a["client"])
    inner = IP(src=a["inner"], dst=a["inside"]) / ICMP(type=8, id=0x4242, seq=1) / Raw(b"raven-raw-esp" * 4)
    pkt = sa_in.encrypt(inner, seq_num=1)
    sniff = AsyncSniffer(iface=a["dev"], filter=f"ip proto 50 and src host {a['head']}", count=1, timeout=5)
    sniff.start()
    time.sleep(0.5)
    send(pkt, verbose=False)
    sniff.join()
    res = {"answers": []}
    for p in sniff.results or []:
        ip = IP(bytes(p[IP]))
        outer = {"outer_src": ip.src, "outer_dst": ip.dst, "spi": ip[ESP].spi, "seq": ip[ESP].seq}
        clear = sa_out.decrypt(ip)
        res["answers"].append({**outer,
                               "src": clear.src, "dst": clear.dst, "icmp_type": clear[ICMP].type,
                               "payload": bytes(clear[ICMP].payload).decode(errors="replace")})
    raw = bytes(pkt)
    # fresh sequence numbers where the check under test comes after the replay check
    icv = bytes(sa_in.encrypt(inner, seq_num=4))
    short = bytes(sa_in.encrypt(inner, seq_num=3))
    # a valid packet whose inner source is not the client's address
    spoof = bytes(sa_in.encrypt(IP(src="10.9.9.10", dst=a["inside"]) / ICMP(type=8) / Raw(b"spoof"), seq_num=5))
    bad = {
        "replay": raw,
        "wrong_icv": icv[:-1] + bytes([icv[-1] ^ 1]),
        "wrong_spi": raw[:20] + b"\x00\x00\x99\x99" + raw[24:],
        "truncated": short[:34],
        "spoofed_source": spoof,
    }
    for name in a.get("bad", []):
        if name not in bad:
            continue
        b = IP(bad[name])
        if name == "truncated":
            b[IP].len = None
            b[IP].chksum = None
            b = IP(bytes(b))
        send(b, verbose=False)
    from scapy.all import fragment
    if "fragment" in a.get("bad", []):
        # overlapping fragments (RFC 5722): the second overlaps the first by 8 bytes
        frags = fragment(sa_in.encrypt(inner, seq_num=2), fragsize=64)
        over = IP(bytes(frags[1]))
        over.frag -= 1
        over.chksum = None
        send(frags[0], verbose=False)
        send(IP(bytes(over)), verbose=False)
    if a.get("fragmented"):
        # a valid packet in fragments, last first: reassembled and accepted
        for f in reversed(fragment(sa_in.encrypt(inner, seq_num=6), fragsize=64)):
            send(f, verbose=False)
        time.sleep(0.5)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
