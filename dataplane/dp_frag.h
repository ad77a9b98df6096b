/* Reassembly of fragmented outer datagrams (IPv4, RFC 791/815; IPv6 fragment
 * header, RFC 8200 4.5 and RFC 5722) for one worker: ESP and ESP in UDP from
 * clients whose path has an MTU under the packet's size. Bounded: a fixed number
 * of datagrams in reassembly (the oldest is evicted for a new one), each at most
 * 65535 bytes, each given DP_FRAG_TIMEOUT_NS to complete; overlapping fragments
 * discard their datagram (RFC 5722, applied to IPv4 too: no legitimate sender
 * overlaps). Not thread-safe: one per worker. */
#ifndef RAVEN_DATAPLANE_DP_FRAG_H
#define RAVEN_DATAPLANE_DP_FRAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DP_FRAG_SLOTS 16                  /* datagrams in reassembly at once */
#define DP_FRAG_PIECES 64                 /* fragments per datagram */
#define DP_FRAG_MAX 65535u                /* a datagram's size (IPv4 total length, IPv6 40 + payload) */
#define DP_FRAG_HDR_MAX 256u              /* unfragmentable headers kept (IPv4 <= 60) */
#define DP_FRAG_TIMEOUT_NS 2000000000ull

struct dp_frag_ctr {
    uint64_t fragments;   /* fragments taken */
    uint64_t reassembled; /* datagrams completed */
    uint64_t timeouts;    /* datagrams discarded incomplete after DP_FRAG_TIMEOUT_NS */
    uint64_t invalid;     /* datagrams discarded: overlap, beyond 65535, bad lengths */
    uint64_t evictions;   /* datagrams discarded to make room for a new one */
};

struct dp_frag_slot {
    bool used;
    uint8_t family; /* 4 or 6 */
    uint8_t proto;  /* IPv4's protocol (part of its key) */
    uint8_t src[16], dst[16];
    uint32_t id;
    uint64_t t0; /* first fragment's arrival */
    uint32_t total; /* payload length, known once the last fragment arrived (0: not yet) */
    uint32_t have;  /* payload bytes received */
    uint16_t hlen;  /* unfragmentable headers (from the first fragment; 0: not yet) */
    uint16_t npieces;
    struct {
        uint16_t off, len;
    } piece[DP_FRAG_PIECES];
    uint8_t *buf; /* DP_FRAG_HDR_MAX of headers, then the payload */
};

struct dp_frag {
    struct dp_frag_slot slot[DP_FRAG_SLOTS];
    struct dp_frag_ctr ctr;
    uint8_t *mem;
};

enum dp_frag_rc {
    DP_FRAG_NOT,  /* not a fragment: process the packet as it is */
    DP_FRAG_HELD, /* kept for its datagram, which is not complete yet */
    DP_FRAG_DONE, /* the datagram is complete: *out, *outlen */
    DP_FRAG_BAD,  /* refused (counted; its datagram discarded when it had one) */
};

int dp_frag_init(struct dp_frag *f);
void dp_frag_fini(struct dp_frag *f);
/* Takes the IPv4 or IPv6 packet at ip[0..len) (@len: as its header says, checked
 * by the caller against the frame). For a fragment that completes a datagram,
 * *out points at the whole datagram (the first fragment's headers, without the
 * fragment fields or header, lengths and IPv4 checksum updated) of *outlen bytes,
 * valid until the next call. @now: a monotonic clock in ns. */
enum dp_frag_rc dp_frag_add(struct dp_frag *f, uint64_t now, const uint8_t *ip, size_t len, const uint8_t **out,
                            size_t *outlen);
/* Discards datagrams older than DP_FRAG_TIMEOUT_NS (counted timeouts). */
void dp_frag_expire(struct dp_frag *f, uint64_t now);
/* Where the upper-layer header of an IPv6 packet begins, past hop-by-hop, routing
 * and destination options headers: *proto is its protocol (44: a fragment
 * header). -1 when the chain is truncated or longer than the packet. */
int dp_frag_ip6_upper(const uint8_t *ip, size_t len, uint8_t *proto);

/* Fragmentation of an inner IPv4 packet before it is sealed (RFC 4459 3, RFC
 * 791): how many fragments @ip (@len bytes, as its header says) makes with
 * pieces of at most @mtu bytes, 0 when it may not (DF) or cannot (@mtu under
 * 68, or more than DP_FRAG4_MAX_PIECES pieces). */
#define DP_FRAG4_MAX_PIECES 64
size_t dp_frag4_count(const uint8_t *ip, size_t len, unsigned mtu);
/* Writes fragment @k of @ip into @dst and returns its length. Fragment 0 may be
 * written in place (@dst == @ip), last: it leaves the payload where it is. Later
 * fragments carry a 20-byte header (no options: RFC 791 copies only some). An
 * inner packet that is itself a fragment is split at its own offset (MF kept). */
size_t dp_frag4_piece(const uint8_t *ip, size_t len, unsigned mtu, size_t k, uint8_t *dst);

#endif
