/* Fuzzes the dataplane's per-packet path (dataplane/dp_fwd.c) on a detached
 * worker (dp_worker_detached: a UMEM and TX queues, no sockets, no kernel view)
 * against fixed SAs: frames from the clients (Ethernet/IPv4/[UDP]/ESP: SA lookup,
 * anti-replay, esp_open, inner checks, forwarding) and from the inside network
 * (IPv4/IPv6: route lookup, MTU and ICMP "fragmentation needed", esp_seal, outer
 * headers).
 *
 * Input: a 16-byte header (missing bytes read as zero), then a body.
 *   [0]      bit 0: the frame arrives on the inside, else the outside; bit 1:
 *            "valid", the body is the inner packet of a frame built and sealed
 *            here, else "raw", the body is the frame; bits 2-3: the next hop of
 *            every destination: none (all to the kernel), the outside interface,
 *            the inside one, an unknown one; bit 4: the inside interface has an
 *            IPv4 address (ICMP errors); bits 5-7: the inbound SA (outside) or the
 *            destination (inside) of a valid frame
 *   [1] [2]  outside / inside MTU: 0 is 1500, v is 68 + 36 (v - 1)
 *   [3..6]   valid outside: the ESP sequence number (low 32 bits)
 *   [7..11]  every inbound SA's window top and every outbound SA's last sequence
 *            number: low 32 bits, then the high bits (ESN SAs only); bit 7 of
 *            [11] also leaves session 2's buckets with 64 bytes (below)
 *   [12]     valid frames: bits 0-1 the inner packet (outside: IPv4, IPv6, dummy
 *            59, next header [14]); bit 2 fix its version and IHL, bit 3 its
 *            length fields, bit 4 its source (outside) or destination (inside)
 *            into the SA's selectors or the chosen route; bit 5 UDP-encapsulated
 *            (outside); bit 6 DF (inside IPv4); bit 7 TTL 64
 *   [13]     bits 0-5: TFC padding (outside) or Ethernet trailer (inside) bytes;
 *            bits 6-7: where the frame starts in its UMEM frame: XDP's headroom
 *            (256), 0, or just too little (51) or enough (52) room for the outer
 *            headers that replace the Ethernet header of a packet from the inside
 *   [14]     the next header for inner packet 3
 *   [15]     mutations (mod 4), each 3 bytes after the header: a 16-bit offset
 *            (mod the frame length) and an XOR mask, applied to a built frame
 *            after sealing; the body follows them
 * After each frame: it was counted received once and ended exactly once (a drop,
 * a hand-off to the kernel, a frame staged to send, or a fragment kept for
 * reassembly; an ICMP error only besides an MTU drop); every UMEM frame is back on the free list, once; no counter went
 * down; staged frames lie within their UMEM frame with consistent lengths and
 * checksums; what the inside receives from a valid unmutated frame is its inner
 * packet with the TTL decremented, and what the clients receive opens with the
 * outbound SA's key to the inside packet with the TTL decremented; besides, a
 * TCP SYN's MSS may only be lowered to the SA's tcp_mss (0x1003, 0x2003) and an
 * L4 checksum only changed with it or, from the inside, completed where the
 * sender left the pseudo-header sum (a right one stays right); 0x2003 has a
 * session MTU of 1000 (nothing larger is sealed into it, no ICMP error names a
 * larger MTU), 0x1004 and 0x2005 a hard lifetime of 1000 bytes (they carry no
 * more, their limit charged from zero for each input); 0x1002 and 0x2006 forward
 * in a VRF's table (the kernel hand-off's control message); session 2 (0x1002,
 * 0x2002) has a bandwidth limit of 1 kbit/s with a burst of 3000 bytes both
 * ways, refilled for each input (an inner packet over 3000 bytes is policed),
 * or with 64 bytes left ([11] bit 7: most of its packets are policed).
 * ASan poisons
 * the UMEM but for the frames in use, and, of an outside frame, what lies
 * outside the received bytes. */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataplane/dp_int.h"
#include "dataplane/dp_nl.h"
#include "dataplane/esp_int.h"
#include "fuzz_dp.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#endif
#endif
#ifndef POISON
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


#define HDR 16
#define HEADROOM 256 /* XDP's */
#define FRAME_MAX DP_FRAME_SIZE
#define BODY_MAX 3600 /* a built frame with its headers, TFC and ESP trailer fits after XDP's headroom */
#define ETH 14
#define XS_OUT 0
#define XS_IN 1
static const struct dp_police_conf POLICE = {.kbps = 1, .burst = 3000};
#define HARD_BYTES 1000 /* SAs 0x1004 and 0x2005: a larger packet takes them past their hard lifetime */

struct sa_def {
    uint32_t spi;
    bool inbound, esn, udp, peer6;
    enum dp_cipher cipher;
    size_t key_len;
    enum dp_integ integ;
    size_t ikey_len;
    uint32_t window;
    const char *sel[3]; /* "first-last" or "prefix/len" */
};

static const struct sa_def defs[] = {
    /* from the clients */
    {0x1001, true, false, false, false, DP_CIPHER_AES_GCM_16, 20, DP_INTEG_NONE, 0, 64,
     {"10.9.9.0/24", "2001:db8:9::/64"}},
    {0x1002, true, false, false, false, DP_CIPHER_AES_CBC, 16, DP_INTEG_HMAC_SHA2_256_128, 32, 0,
     {"10.9.9.0/24"}},
    {0x1003, true, true, false, false, DP_CIPHER_CHACHA20_POLY1305, 36, DP_INTEG_NONE, 0, 64,
     {"10.9.9.0/24", "2001:db8:9::/64"}},
    {0x1004, true, true, false, false, DP_CIPHER_NULL, 0, DP_INTEG_NONE, 0, 4096,
     {"10.9.9.0/24", "2001:db8:9::/64"}},
    /* to the clients */
    {0x2001, false, false, true, false, DP_CIPHER_AES_GCM_16, 20, DP_INTEG_NONE, 0, 0, {"10.9.9.0/24"}},
    {0x2002, false, false, false, false, DP_CIPHER_AES_CBC, 16, DP_INTEG_HMAC_SHA2_256_128, 32, 0,
     {"2001:db8:9::/64"}},
    {0x2003, false, true, true, false, DP_CIPHER_CHACHA20_POLY1305, 36, DP_INTEG_NONE, 0, 0,
     {"10.9.8.0/24", "2001:db8:8::/64"}},
    {0x2004, false, false, true, true, DP_CIPHER_AES_GCM_16, 20, DP_INTEG_NONE, 0, 0, {"10.9.7.0/25"}},
    {0x2005, false, false, false, false, DP_CIPHER_NULL, 0, DP_INTEG_NONE, 0, 0, {"10.9.6.0-10.9.6.9"}},
    {0x2006, false, false, true, false, DP_CIPHER_AES_GCM_16, 36, DP_INTEG_NONE, 0, 0, {"10.9.9.128/25"}},
};
#define NSA (sizeof(defs) / sizeof(defs[0]))
#define NIN 4

/* Destinations of valid inside frames: a prefix and the host bits kept. */
static const struct {
    int family;
    uint8_t net[16];
    uint8_t host_and, host_or, host_mod;
} dests[8] = {
    {AF_INET, {10, 9, 9}, 0x7f, 0, 0},         /* 0x2001 */
    {AF_INET, {10, 9, 9}, 0xff, 0x80, 0},      /* 0x2006, the longer prefix */
    {AF_INET6, {0x20, 0x01, 0x0d, 0xb8, 0, 9}, 0xff, 0, 0}, /* 0x2002 */
    {AF_INET, {10, 9, 8}, 0xff, 0, 0},         /* 0x2003 */
    {AF_INET6, {0x20, 0x01, 0x0d, 0xb8, 0, 8}, 0xff, 0, 0}, /* 0x2003 */
    {AF_INET, {10, 9, 7}, 0x7f, 0, 0},         /* 0x2004: an IPv6 outer header */
    {AF_INET, {10, 9, 6}, 0xff, 0, 10},        /* 0x2005: a range of 10 */
    {AF_INET, {10, 9, 5}, 0xff, 0, 0},         /* no SA */
};

static struct dp *dp;
static struct dp_worker *w;
static struct dp_rsa *rsa[NSA];
static struct esp_xform *peer_xf[NSA]; /* the client's side: seals inbound, opens outbound */
static uint8_t key[DP_MAX_KEY], ikey[DP_MAX_INTEG_KEY];
static const uint8_t our_mac[6] = {2, 0, 0, 0, 0, 1}, peer_mac[6] = {2, 0, 0, 0, 0, 2};
static struct dp_nh nhs[3];
static bool verbose;

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v & 0xff;
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

/* The one's complement sum, folded (0xffff over a correctly checksummed header). */
static void ip4_csum(uint8_t *ip)
{
    wr16(ip + 10, 0);
    wr16(ip + 10, (uint16_t)~sum16(ip, (ip[0] & 15) * 4u));
}

static void parse_sel(const char *s, struct dp_range *r)
{
    char buf[64], *dash, *slash;
    unsigned len;

    snprintf(buf, sizeof(buf), "%s", s);
    r->family = strchr(buf, ':') ? AF_INET6 : AF_INET;
    len = r->family == AF_INET6 ? 16 : 4;
    if ((dash = strchr(buf, '-'))) {
        *dash = 0;
        CHECK(inet_pton(r->family, buf, r->start) == 1 && inet_pton(r->family, dash + 1, r->end) == 1);
        return;
    }
    CHECK((slash = strchr(buf, '/')));
    *slash = 0;
    CHECK(inet_pton(r->family, buf, r->start) == 1);
    unsigned plen = (unsigned)atoi(slash + 1);
    memcpy(r->end, r->start, len);
    for (unsigned b = plen; b < len * 8; b++)
        r->end[b / 8] |= (uint8_t)(0x80 >> (b % 8));
}

static void sa_make(const struct sa_def *d, struct dp_sa *sa)
{
    struct sockaddr_in *l = (void *)&sa->local, *p = (void *)&sa->peer;

    memset(sa, 0, sizeof(*sa));
    sa->spi = d->spi;
    sa->inbound = d->inbound;
    sa->session_id = d->spi & 0xff;
    sa->cipher = d->cipher;
    memcpy(sa->key, key, d->key_len);
    sa->key_len = d->key_len;
    sa->integ = d->integ;
    memcpy(sa->integ_key, ikey, d->ikey_len);
    sa->integ_key_len = d->ikey_len;
    sa->esn = d->esn;
    sa->replay_window = d->window;
    l->sin_family = AF_INET;
    l->sin_port = htons(d->udp ? 4500 : 0);
    inet_pton(AF_INET, "192.0.2.1", &l->sin_addr);
    if (d->peer6) {
        struct sockaddr_in6 *p6 = (void *)&sa->peer, *l6 = (void *)&sa->local;
        memset(l6, 0, sizeof(*l6));
        l6->sin6_family = p6->sin6_family = AF_INET6;
        l6->sin6_port = p6->sin6_port = htons(d->udp ? 4500 : 0);
        inet_pton(AF_INET6, "2001:db8:ffff::1", &l6->sin6_addr);
        inet_pton(AF_INET6, "2001:db8:ffff::7", &p6->sin6_addr);
    } else {
        p->sin_family = AF_INET;
        p->sin_port = htons(d->udp ? 4500 : 0);
        inet_pton(AF_INET, "198.51.100.7", &p->sin_addr);
        p->sin_addr.s_addr = htonl(ntohl(p->sin_addr.s_addr) + (d->spi & 0xff));
    }
    sa->udp_encap = d->udp;
    /* session attributes and hard lifetimes on some SAs */
    if (d->spi == 0x1003 || d->spi == 0x2003)
        sa->tcp_mss = FUZZ_MSS;
    if (d->spi == 0x2003)
        sa->mtu = 1000;
    if (d->spi == 0x1004 || d->spi == 0x2005)
        sa->hard_bytes = HARD_BYTES;
    /* a VRF device's table: what goes to the kernel names it (IP_PKTINFO) */
    if (d->spi == 0x1002 || d->spi == 0x2006)
        sa->vrf = 7;
    for (size_t i = 0; i < 3 && d->sel[i]; i++)
        parse_sel(d->sel[i], &sa->sel[sa->nsel++]);
}

static void init(void)
{
    static const enum dp_role roles[] = {DP_ROLE_OUTSIDE, DP_ROLE_INSIDE};
    struct dp_entry *e, *tmp;

    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)(i * 11 + 1);
    for (size_t i = 0; i < sizeof(ikey); i++)
        ikey[i] = (uint8_t)(i * 5 + 2);
    CHECK((dp = dp_new()));
    for (size_t i = 0; i < NSA; i++) {
        struct dp_sa sa;
        sa_make(&defs[i], &sa);
        CHECK(dp_sa_add(dp, &sa) == 0);
        struct esp_params p = {.cipher = sa.cipher, .key = key, .key_len = sa.key_len, .integ = sa.integ,
                               .integ_key = ikey, .integ_key_len = sa.integ_key_len, .esn = sa.esn};
        CHECK((peer_xf[i] = esp_xform_new(&p, sa.inbound)));
    }
    HASH_ITER(hh, dp->sas, e, tmp) {
        for (size_t i = 0; i < NSA; i++)
            if (e->rsa->conf.spi == defs[i].spi && e->rsa->conf.inbound == defs[i].inbound)
                rsa[i] = e->rsa;
    }
    for (size_t i = 0; i < NSA; i++)
        CHECK(rsa[i]);
    CHECK((w = dp_worker_detached(dp, roles, 2)));
    CHECK(w->nxs == 2 && w->nfree == DP_FRAMES && w->id == 0);
    for (int i = 0; i < 3; i++) {
        nhs[i].ifindex = i == 0 ? w->xs[XS_OUT].ifc->ifindex : i == 1 ? w->xs[XS_IN].ifc->ifindex : 77;
        memcpy(nhs[i].src_mac, our_mac, 6);
        memcpy(nhs[i].dst_mac, (uint8_t[6]){2, 0, 0, 0, 0x10, (uint8_t)i}, 6);
    }
    POISON(w->area, (size_t)DP_FRAMES * DP_FRAME_SIZE);
}

/* Every counter of worker 0, flattened: per interface rx_packets, rx_bytes,
 * tx_packets, tx_bytes, to_kernel, drops[]; the worker's; each SA's. */
#define IFC_N (5 + DP_DROP_N)
#define WK_N 7
#define SA_N 5
#define CTR_N (2 * IFC_N + WK_N + NSA * SA_N)
#define C_RX 0
#define C_RXB 1
#define C_TX 2
#define C_KERNEL 4
#define C_DROP 5

static void counters(uint64_t *o)
{
    const struct dp_wk_ctr *k = &dp->wctr[0];
    size_t n = 0;

    for (size_t i = 0; i < 2; i++) {
        const struct dp_if_ctr *c = &w->xs[i].ifc->ctr[0];
        o[n++] = c->rx_packets;
        o[n++] = c->rx_bytes;
        o[n++] = c->tx_packets;
        o[n++] = c->tx_bytes;
        o[n++] = c->to_kernel;
        for (size_t d = 0; d < DP_DROP_N; d++)
            o[n++] = c->drops[d];
    }
    o[n++] = k->dec_packets;
    o[n++] = k->dec_bytes;
    o[n++] = k->enc_packets;
    o[n++] = k->enc_bytes;
    o[n++] = k->busy_polls;
    o[n++] = k->idle_polls;
    o[n++] = k->busy_ns;
    for (size_t i = 0; i < NSA; i++) {
        const struct dp_sa_live_ctr *c = &rsa[i]->live->ctr[0];
        o[n++] = c->packets;
        o[n++] = c->bytes;
        o[n++] = c->replay;
        o[n++] = c->auth;
        o[n++] = c->selector;
    }
    CHECK(n == CTR_N);
}

/* FUZZ_DP_VERBOSE=1: what each frame did (for triage and checking seeds). */
static void trace(const uint64_t *before, const uint64_t *after, size_t len, size_t staged)
{
    static const char *ifn[IFC_N] = {"rx", "rx-bytes", "tx", "tx-bytes", "to-kernel", "drop-no-sa", "drop-replay",
                                     "drop-auth", "drop-malformed", "drop-selector", "drop-no-route", "drop-mtu",
                                     "drop-ring-full", "drop-fragment", "drop-sa-expired", "drop-policed",
                                     "drop-other"};
    static const char *wkn[WK_N] = {"dec", "dec-bytes", "enc", "enc-bytes", "busy", "idle", "busy-ns"};
    static const char *san[SA_N] = {"packets", "bytes", "replay", "auth", "selector"};
    _Static_assert(IFC_N == 17, "names of the drop reasons");

    fprintf(stderr, "fuzz_dp: %zu bytes, %zu staged:", len, staged);
    for (size_t i = 0; i < CTR_N; i++) {
        if (after[i] == before[i] || i % IFC_N == C_RXB || (i >= 2 * IFC_N && i < 2 * IFC_N + WK_N && (i - 2 * IFC_N) % 2))
            continue;
        if (i < 2 * IFC_N)
            fprintf(stderr, " %s.%s", i < IFC_N ? "out" : "in", ifn[i % IFC_N]);
        else if (i < 2 * IFC_N + WK_N)
            fprintf(stderr, " %s", wkn[i - 2 * IFC_N]);
        else
            fprintf(stderr, " sa%#x.%s", defs[(i - 2 * IFC_N - WK_N) / SA_N].spi, san[(i - 2 * IFC_N - WK_N) % SA_N]);
        fprintf(stderr, "+%llu", (unsigned long long)(after[i] - before[i]));
    }
    fprintf(stderr, "\n");
}

static unsigned mtu_of(uint8_t v)
{
    return v ? 68 + 36u * (v - 1) : 1500;
}

/* Every SA back to a known state, so that an input does the same whatever ran before. */
static void sas_reset(uint32_t lo, uint8_t hi)
{
    CHECK(dp_session_police(dp, 2, &POLICE, &POLICE) == 0); /* full buckets */
    if (hi & 0x80) {
        struct dp_police *p;
        struct timespec ts;
        uint64_t sid = 2, now;

        clock_gettime(CLOCK_MONOTONIC, &ts); /* the workers' clock: 125 bytes a second come back */
        now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        HASH_FIND(hh, dp->police, &sid, sizeof(sid), p);
        CHECK(p && dp_bucket_take(&p->b[0], now, 3000 - 64) && dp_bucket_take(&p->b[1], now, 3000 - 64));
    }
    for (size_t i = 0; i < NSA; i++) {
        struct dp_rsa *r = rsa[i];
        uint64_t v = r->conf.esn ? (uint64_t)hi << 32 | lo : lo;

        atomic_store(&r->live->life_bytes, 0);
        atomic_store(&r->live->life_packets, 0);
        atomic_store(&r->live->expired, 0);
        r->hard_reported = false;
        if (r->conf.inbound) {
            memset(r->live->replay_bits, 0, sizeof(r->live->replay_bits));
            r->live->replay_top = v;
        } else {
            atomic_store(&r->live->seq, v);
        }
    }
}

/* Fixes up an inner IPv4/IPv6 packet at p[0..len) as the flags say; the source
 * (outside) or destination (inside) is put in @net (a prefix, then host bits). */
static void inner_fix(uint8_t *p, size_t len, int family, uint8_t flags, bool src, const uint8_t *net,
                      size_t netlen, uint8_t host_and, uint8_t host_or, uint8_t host_mod)
{
    size_t alen = family == AF_INET ? 4 : 16;
    uint8_t *a = p + (family == AF_INET ? (src ? 12 : 16) : (src ? 8 : 24));

    if (family == AF_INET) {
        if (flags & 4) {
            unsigned ihl = p[0] & 15;
            if (ihl < 5 || ihl * 4 > len)
                ihl = 5;
            p[0] = (uint8_t)(0x40 | ihl);
        }
        if (flags & 8)
            wr16(p + 2, (uint16_t)len);
        if (flags & 0x80)
            p[8] = 64;
    } else {
        if (flags & 4)
            p[0] = (uint8_t)(0x60 | (p[0] & 15));
        if (flags & 8)
            wr16(p + 4, (uint16_t)(len - 40));
        if (flags & 0x80)
            p[7] = 64;
    }
    if (flags & 0x10) {
        memcpy(a, net, netlen);
        a[alen - 1] = (uint8_t)((a[alen - 1] & host_and) | host_or);
        if (host_mod)
            a[alen - 1] %= host_mod;
    }
    if (family == AF_INET && (p[0] & 15) >= 5 && (p[0] & 15) * 4u <= len)
        ip4_csum(p);
}

/* A valid frame from a client: Ethernet, IPv4, maybe UDP, ESP sealed with the SA's
 * key around the inner packet the body makes. Returns its length; *expect is the
 * inner packet as sealed. */
static size_t build_outside(uint8_t *f, const uint8_t *hdr, const uint8_t *body, size_t blen, uint8_t *expect,
                            size_t *expect_len)
{
    size_t si = (hdr[0] >> 5) % NIN, ilen = blen, tfc = hdr[13] % 64, head;
    struct esp_xform *x = peer_xf[si];
    uint8_t flags = hdr[12], nh, iv[16], *ip = f + ETH, *esp, *inner;
    bool udp = flags & 0x20;
    uint64_t seq;
    int esplen;

    head = esp_head_len(x);
    esp = ip + 20 + (udp ? 8 : 0);
    inner = esp + head;
    switch (flags & 3) {
    case 0:
        nh = 4;
        break;
    case 1:
        nh = 41;
        break;
    case 2:
        nh = 59;
        break;
    default:
        nh = hdr[14];
        break;
    }
    if ((nh == 4 || nh == 41) && (flags & 12) && ilen < (nh == 4 ? 20u : 40u))
        ilen = nh == 4 ? 20 : 40;
    memset(inner, 0, ilen);
    memcpy(inner, body, blen);
    if (nh == 4 || nh == 41)
        inner_fix(inner, ilen, nh == 4 ? AF_INET : AF_INET6, flags, true,
                  nh == 4 ? (const uint8_t[]){10, 9, 9} : (const uint8_t[]){0x20, 1, 0xd, 0xb8, 0, 9, 0, 0}, nh == 4 ? 3 : 8,
                  0xff, 0, 0);
    for (size_t i = 0; i < tfc; i++)
        inner[ilen + i] = (uint8_t)(0xa0 + i);
    memcpy(expect, inner, ilen + tfc); /* a length field may take in TFC bytes */
    *expect_len = ilen + tfc;
    if (esp_replay_check(&rsa[si]->replay, rsa[si]->live->replay_top, rsa[si]->live->replay_bits, rd32(hdr + 3),
                         &seq))
        seq = rsa[si]->conf.esn ? (uint64_t)hdr[11] << 32 | rd32(hdr + 3) : rd32(hdr + 3);
    for (size_t i = 0; i < sizeof(iv); i++)
        iv[i] = (uint8_t)(seq >> (i % 8 * 8)) ^ (uint8_t)i;
    esplen = esp_seal_iv(x, defs[si].spi, seq, nh, inner, ilen + tfc, iv);
    CHECK(esplen > 0);
    memcpy(f, our_mac, 6);
    memcpy(f + 6, peer_mac, 6);
    wr16(f + 12, 0x0800);
    memset(ip, 0, 20);
    ip[0] = 0x45;
    wr16(ip + 2, (uint16_t)(20 + (udp ? 8 : 0) + esplen));
    wr16(ip + 4, 0x1234);
    wr16(ip + 6, 0x4000);
    ip[8] = 64;
    ip[9] = udp ? 17 : 50;
    wr32(ip + 12, 0xc6336407); /* 198.51.100.7 */
    wr32(ip + 16, 0xc0000201); /* 192.0.2.1 */
    ip4_csum(ip);
    if (udp) {
        wr16(ip + 20, 4500);
        wr16(ip + 22, 4500);
        wr16(ip + 24, (uint16_t)(8 + esplen));
        wr16(ip + 26, 0);
    }
    return ETH + rd16(ip + 2);
}

/* A valid frame from the inside: Ethernet, then the IPv4 or IPv6 packet the body
 * makes to the chosen destination, then the Ethernet trailer. */
static size_t build_inside(uint8_t *f, const uint8_t *hdr, const uint8_t *body, size_t blen)
{
    unsigned di = hdr[0] >> 5;
    int family = dests[di].family;
    size_t ilen = blen, trailer = hdr[13] % 64, min = family == AF_INET ? 20 : 40;
    uint8_t flags = hdr[12], *ip = f + ETH;

    if ((flags & 12) && ilen < min)
        ilen = min;
    memcpy(f, our_mac, 6);
    memcpy(f + 6, peer_mac, 6);
    wr16(f + 12, family == AF_INET ? 0x0800 : 0x86dd);
    memset(ip, 0, ilen);
    memcpy(ip, body, blen);
    if (ilen >= min) {
        if (family == AF_INET)
            ip[6] = (uint8_t)((ip[6] & ~0x40) | (flags & 0x40));
        inner_fix(ip, ilen, family, flags, false, dests[di].net, family == AF_INET ? 3 : 8, dests[di].host_and,
                  dests[di].host_or, dests[di].host_mod);
    }
    for (size_t i = 0; i < trailer; i++)
        ip[ilen + i] = (uint8_t)(0x50 + i);
    return ETH + ilen + trailer;
}

static void check_ttl_dec(const uint8_t *got, const uint8_t *orig, size_t len, int family)
{
    check_ttl_dec_fix(got, orig, len, family, false);
}

/* Inner fragmentation (RFC 4459) of the current input: its pieces, opened from
 * the frames staged, are put back together here and compared whole. */
static struct {
    bool on;                 /* the worker fragmented this input */
    size_t pieces;           /* into this many */
    size_t seen;             /* pieces staged and opened */
    struct dp_frag rs;       /* reassembles them */
    uint8_t whole[70000];    /* what they gave, when complete */
    size_t whole_len;
    const uint8_t *orig;     /* the packet fragmented, as received */
    bool from_inside;
} split;

/* A frame the worker staged on the outside that came from the inside: an outer
 * IPv4 or IPv6 header of an outbound SA (over IPv6 ESP in UDP has a checksum),
 * ESP that opens with its key to @orig (the IP packet received) with the TTL
 * decremented (and the L4 fix-ups of check_ttl_dec_fix; @from_inside: checksums
 * left to offload completed); or, when the worker fragmented it, a piece of it. */
static void check_sealed(const uint8_t *f, size_t len, const uint8_t *orig, size_t olen, bool from_inside)
{
    const uint8_t *ip = f + ETH, *esp;
    uint8_t buf[DP_FRAME_SIZE], *inner, nh;
    size_t esplen, ilen, si, want;
    int family = orig[0] >> 4 == 4 ? AF_INET : AF_INET6;
    struct dp_rsa *r = NULL;

    bool v6 = len >= ETH + 40 && rd16(f + 12) == 0x86dd;
    uint8_t proto = v6 ? ip[6] : ip[9];
    size_t hl = v6 ? 40 : 20;

    if (v6) {
        /* IPv6: DSCP/ECN in the traffic class, no flow label, a UDP checksum */
        CHECK(ip[0] >> 4 == 6 && (ip[1] & 15) == 0 && !ip[2] && !ip[3] && rd16(ip + 4) == len - ETH - 40);
        CHECK(ip[7] == 64);
        if (proto == 17) {
            uint32_t ps = sum16(ip + 8, 32) + (uint32_t)(len - ETH - 40) + 17;
            CHECK(len >= ETH + 48 + 8 && rd16(ip + 44) == len - ETH - 40 && rd16(ip + 46) != 0);
            uint32_t t = sum16(ip + 40, len - ETH - 40) + ps;
            while (t >> 16)
                t = (t & 0xffff) + (t >> 16);
            CHECK(t == 0xffff);
        }
    } else {
        CHECK(len >= ETH + 20 + 8 && rd16(f + 12) == 0x0800 && ip[0] == 0x45 && rd16(ip + 2) == len - ETH);
        CHECK(sum16(ip, 20) == 0xffff && rd16(ip + 6) == 0 && ip[8] == 64);
        if (proto == 17)
            CHECK(len >= ETH + 28 + 8 && rd16(ip + 24) == len - ETH - 20 && rd16(ip + 26) == 0);
    }
    if (proto == 17) {
        esp = ip + hl + 8;
    } else {
        CHECK(proto == 50);
        esp = ip + hl;
    }
    esplen = len - (size_t)(esp - f);
    for (si = NIN; si < NSA; si++)
        if (defs[si].spi == rd32(esp)) {
            r = rsa[si];
            break;
        }
    CHECK(r && r->outer->udp_encap == (proto == 17) && r->outer->family == (v6 ? AF_INET6 : AF_INET));
    CHECK(!memcmp(ip + (v6 ? 24 : 16), r->outer->peer, v6 ? 16 : 4) &&
          !memcmp(ip + (v6 ? 8 : 12), r->outer->local, v6 ? 16 : 4));
    if (split.on) {
        /* the pieces took the last sequence numbers */
        uint64_t top = atomic_load(&r->live->seq), sq = 0;
        const uint8_t *d;
        size_t dlen;
        bool found = false;

        for (uint64_t k = 0; k < split.pieces && k < top && !found; k++)
            if ((uint32_t)(top - k) == rd32(esp + 4)) {
                sq = top - k;
                found = true;
            }
        CHECK(found && family == AF_INET);
        memcpy(buf, esp, esplen);
        CHECK(esp_open(peer_xf[si], sq, buf, esplen, &inner, &ilen, &nh) == ESP_OK);
        CHECK(nh == 4 && ilen >= 20 && rd16(inner + 2) == ilen && sum16(inner, (inner[0] & 15) * 4u) == 0xffff);
        if (r->conf.mtu)
            CHECK(ilen <= r->conf.mtu);
        split.seen++;
        split.orig = orig;
        split.from_inside = from_inside;
        if (dp_frag_add(&split.rs, 0, inner, ilen, &d, &dlen) == DP_FRAG_DONE) {
            memcpy(split.whole, d, dlen);
            split.whole_len = dlen;
        }
        return;
    }
    CHECK(rd32(esp + 4) == (uint32_t)atomic_load(&r->live->seq));
    memcpy(buf, esp, esplen);
    CHECK(esp_open(peer_xf[si], atomic_load(&r->live->seq), buf, esplen, &inner, &ilen, &nh) == ESP_OK);
    want = family == AF_INET ? rd16(orig + 2) : rd16(orig + 4) + 40u;
    CHECK(want <= olen && ilen == want && nh == (family == AF_INET ? 4 : 41));
    CHECK((v6 ? (uint8_t)((ip[0] & 15) << 4 | ip[1] >> 4) : ip[1]) ==
          (family == AF_INET ? orig[1] : (uint8_t)((orig[0] & 15) << 4 | orig[1] >> 4)));
    /* the session MTU (never below IPv6's minimum) and the hard lifetime (the SA's
     * charge starts again with each input) bound what the SA carries */
    if (r->conf.mtu)
        CHECK(ilen <= (family == AF_INET6 && r->conf.mtu < 1280 ? 1280u : r->conf.mtu));
    if (r->conf.hard_bytes)
        CHECK(ilen <= r->conf.hard_bytes);
    check_ttl_dec_fix(inner, orig, ilen, family, from_inside);
}

/* The session MTU of the SA that @dst is routed to (0: none or no SA). */
static unsigned session_mtu(int family, const uint8_t *dst)
{
    struct dp_rsa *r;
    unsigned mtu;

    dp_rcu_enter();
    r = dp_lookup_route(dp, family, dst);
    mtu = r ? r->conf.mtu : 0;
    dp_rcu_leave();
    return mtu;
}

/* An ICMP "fragmentation needed" or ICMPv6 "packet too big" the worker staged back
 * to the inside sender of @orig (the frame received). */
static void check_icmp(const uint8_t *f, size_t len, const uint8_t *orig, size_t olen)
{
    const uint8_t *ip = f + ETH, *icmp;
    size_t quote;

    CHECK(!memcmp(f, orig + 6, 6) && !memcmp(f + 6, orig, 6));
    if (rd16(f + 12) == 0x86dd) {
        uint32_t sum = 0, mtu;
        CHECK(len >= ETH + 48 && rd16(orig + 12) == 0x86dd && ip[0] >> 4 == 6 && ip[6] == 58);
        CHECK(rd16(ip + 4) == len - ETH - 40 && !memcmp(ip + 24, orig + ETH + 8, 16));
        icmp = ip + 40;
        for (int i = 8; i < 40; i += 2)
            sum += rd16(ip + i);
        sum += (uint32_t)(len - ETH - 40) + 58;
        for (size_t i = 0; i + 1 < len - ETH - 40; i += 2)
            sum += rd16(icmp + i);
        if ((len - ETH - 40) % 2)
            sum += (uint32_t)icmp[len - ETH - 41] << 8;
        while (sum >> 16)
            sum = (sum & 0xffff) + (sum >> 16);
        CHECK(icmp[0] == 2 && icmp[1] == 0 && sum == 0xffff);
        quote = len - ETH - 48;
        CHECK(quote <= 1232 && quote <= olen - ETH && !memcmp(icmp + 8, orig + ETH, quote));
        mtu = (uint32_t)icmp[4] << 24 | (uint32_t)icmp[5] << 16 | (uint32_t)icmp[6] << 8 | icmp[7];
        CHECK(mtu >= 1280); /* the IPv6 minimum, or the tunnel's MTU above it */
        CHECK(mtu == 1280 || !session_mtu(AF_INET6, orig + ETH + 24) || mtu <= session_mtu(AF_INET6, orig + ETH + 24));
        return;
    }
    icmp = ip + 20;
    CHECK(len >= ETH + 28 && rd16(f + 12) == 0x0800 && ip[0] == 0x45 && rd16(ip + 2) == len - ETH);
    CHECK(sum16(ip, 20) == 0xffff && ip[9] == 1 && !memcmp(ip + 16, orig + ETH + 12, 4));
    CHECK(icmp[0] == 3 && icmp[1] == 4 && sum16(icmp, len - ETH - 20) == 0xffff);
    quote = len - ETH - 28;
    CHECK(quote <= 548 && quote <= olen - ETH && !memcmp(icmp + 8, orig + ETH, quote));
    /* the tunnel's MTU, which it did not fit, but never below the IPv4 minimum */
    CHECK(rd16(icmp + 6) >= 68 && (rd16(icmp + 6) < rd16(orig + ETH + 2) || rd16(icmp + 6) == 68));
    CHECK(!session_mtu(AF_INET, orig + ETH + 16) || rd16(icmp + 6) <= session_mtu(AF_INET, orig + ETH + 16));
}

/* One input: what its header chose and the frames it went through. */
struct fcase {
    uint8_t hdr[HDR];
    bool inside, valid;
    struct dp_xs *rx;                 /* the socket it is received on */
    const uint8_t *body, *muts;       /* the body after the header; its mutations */
    size_t blen, nmut, head, room;    /* headroom of the frame and what is left after it */
    uint8_t *frame, *orig, *expect;   /* FRAME_MAX each: built, as received, the inner packet expected */
    size_t len, expect_len;
    uint64_t f, spare;                /* the received frame, and the spare one an ICMP error would take */
};

/* The header's choices: direction, SAs, interface MTUs and addresses, the next
 * hop, the headroom, the mutations of a valid packet. */
static void case_setup(struct fcase *c, const uint8_t *data, size_t size)
{
    static const unsigned headrooms[4] = {HEADROOM, 0, 20 + 8 + ESP_HEAD_MAX - 1, 20 + 8 + ESP_HEAD_MAX};
    uint8_t op;

    memcpy(c->hdr, data, size < HDR ? size : HDR);
    op = c->hdr[0];
    c->inside = op & 1;
    c->valid = op & 2;
    c->rx = &w->xs[c->inside ? XS_IN : XS_OUT];
    c->body = size > HDR ? data + HDR : data + size;
    c->blen = size > HDR ? size - HDR : 0;
    c->head = headrooms[c->hdr[13] >> 6];
    c->room = DP_FRAME_SIZE - c->head;
    c->nmut = c->valid ? c->hdr[15] % 4 : 0;
    if (c->blen < c->nmut * 3)
        c->nmut = c->blen / 3;
    c->muts = c->body;
    c->body += c->nmut * 3;
    c->blen -= c->nmut * 3;

    sas_reset(rd32(c->hdr + 7), c->hdr[11]);
    w->xs[XS_OUT].mtu = mtu_of(c->hdr[1]);
    w->xs[XS_IN].mtu = mtu_of(c->hdr[2]);
    w->xs[XS_IN].has_addr4 = op & 0x10;
    w->xs[XS_IN].addr4.s_addr = htonl(0x0a090001);
    w->xs[XS_IN].has_addr6 = op & 0x10;
    inet_pton(AF_INET6, "fd00:9::1", &w->xs[XS_IN].addr6);
    w->detached_nh = (op >> 2 & 3) ? &nhs[(op >> 2 & 3) - 1] : NULL;
}

/* The frame received: the body as it is, or a packet built from it (and mutated). */
static void case_frame(struct fcase *c)
{
    if (!c->valid) {
        c->len = c->blen < c->room ? c->blen : c->room;
        memcpy(c->frame, c->body, c->len);
    } else {
        if (c->blen > BODY_MAX)
            c->blen = BODY_MAX;
        c->len = c->inside ? build_inside(c->frame, c->hdr, c->body, c->blen)
                           : build_outside(c->frame, c->hdr, c->body, c->blen, c->expect, &c->expect_len);
        CHECK(c->len <= DP_FRAME_SIZE - HEADROOM);
        if (c->len > c->room)
            c->len = c->room;
        for (size_t i = 0; i < c->nmut && c->len; i++)
            c->frame[rd16(c->muts + 3 * i) % c->len] ^= c->muts[3 * i + 2];
    }
    memcpy(c->orig, c->frame, c->len);
}

/* The frame into the worker's UMEM at its headroom, with what the worker may not
 * touch around it poisoned. */
static void case_load(struct fcase *c)
{
    uint8_t *pkt;

    CHECK(w->nfree == DP_FRAMES);
    c->f = w->free[--w->nfree];
    c->spare = w->free[w->nfree - 1];
    UNPOISON((uint8_t *)w->area + c->f, DP_FRAME_SIZE);
    /* the spare frames an ICMP error or the pieces of an inner fragmentation take */
    for (size_t k = 1; k <= DP_FRAG4_MAX_PIECES; k++)
        UNPOISON((uint8_t *)w->area + w->free[w->nfree - k], DP_FRAME_SIZE);
    pkt = (uint8_t *)w->area + c->f + c->head;
    memset((uint8_t *)w->area + c->f, 0xee, DP_FRAME_SIZE);
    memcpy(pkt, c->frame, c->len);
    if (c->inside) {
        /* room for the outer headers before (IPv6's for SA 0x2004), the ESP
         * trailer after */
        if (c->head > 40 + 8 + ESP_HEAD_MAX)
            POISON((uint8_t *)w->area + c->f, c->head - (40 + 8 + ESP_HEAD_MAX));
        if (c->len + ESP_TAIL_MAX < c->room)
            POISON(pkt + c->len + ESP_TAIL_MAX, c->room - c->len - ESP_TAIL_MAX);
    } else {
        /* a client's packet to another client is sealed again in its frame: the new
         * outer headers may start up to ESP_HEAD_MAX bytes before the old ones (20
         * more into an IPv6 outer header, SA 0x2004), the new trailer end up to
         * ESP_TAIL_MAX bytes after the received length */
        if (c->head > ESP_HEAD_MAX + 20)
            POISON((uint8_t *)w->area + c->f, c->head - ESP_HEAD_MAX - 20);
        if (c->len + ESP_TAIL_MAX < c->room)
            POISON(pkt + c->len + ESP_TAIL_MAX, c->room - c->len - ESP_TAIL_MAX);
    }
}

/* One frame staged to send from the received one (not an ICMP error). */
static void check_sent(const struct fcase *c, const struct dp_xs *xs, const uint8_t *s, uint32_t l)
{
    if (c->inside) {
        CHECK(xs->ifc->conf.role == DP_ROLE_OUTSIDE || w->detached_nh == &nhs[1]);
        CHECK(w->detached_nh && !memcmp(s, w->detached_nh->dst_mac, 6) && !memcmp(s + 6, our_mac, 6));
        CHECK(l - ETH <= xs->mtu);
        check_sealed(s, l, c->orig + ETH, c->len - ETH, true);
    } else if (xs->ifc->conf.role == DP_ROLE_OUTSIDE ||
               (c->valid && ((s[ETH] >> 4) != (c->expect[0] >> 4) ||
                             ((s[ETH] >> 4) == 4 && memcmp(s + ETH + 12, c->expect + 12, 4))))) {
        /* a client's packet to a client: sealed again into that client's SA (and
         * sent where the next hop of that client's address is) */
        CHECK(w->detached_nh && !memcmp(s, w->detached_nh->dst_mac, 6) && !memcmp(s + 6, our_mac, 6));
        CHECK(l - ETH <= xs->mtu);
        if (c->valid && !c->nmut)
            check_sealed(s, l, c->expect,
                         c->expect[0] >> 4 == 4 ? rd16(c->expect + 2) : rd16(c->expect + 4) + 40u, false);
    } else {
        /* forwarded: the inner packet, TFC padding gone */
        int family = s[ETH] >> 4 == 4 ? AF_INET : AF_INET6;
        CHECK(w->detached_nh && !memcmp(s, w->detached_nh->dst_mac, 6) && !memcmp(s + 6, our_mac, 6));
        CHECK(rd16(s + 12) == (family == AF_INET ? 0x0800 : 0x86dd) && l - ETH <= xs->mtu);
        CHECK(l - ETH == (family == AF_INET ? rd16(s + ETH + 2) : rd16(s + ETH + 4) + 40u));
        if (c->valid && !c->nmut) {
            CHECK(l - ETH == (family == AF_INET ? rd16(c->expect + 2) : rd16(c->expect + 4) + 40u));
            CHECK(l - ETH <= c->expect_len);
            check_ttl_dec(s + ETH, c->expect, l - ETH, family);
        }
    }
}

/* What the worker staged to send: how many frames; *icmp when one was an ICMP
 * error (in the spare frame). */
static size_t check_staged(const struct fcase *c, bool *icmp)
{
    size_t staged = 0;

    *icmp = false;
    for (size_t x = 0; x < w->nxs; x++) {
        struct dp_xs *xs = &w->xs[x];
        for (uint32_t k = 0; k < xs->ntx; k++) {
            uint64_t a = xs->txq[k].addr, base = a & ~(uint64_t)(DP_FRAME_SIZE - 1);
            uint32_t l = xs->txq[k].len;
            const uint8_t *s = (const uint8_t *)w->area + a;

            CHECK(a < (uint64_t)DP_FRAMES * DP_FRAME_SIZE && (a - base) + l <= DP_FRAME_SIZE && l >= ETH + 20);
            CHECK(base == c->f || base == c->spare || split.on);
            staged++;
            if (base == c->spare && !split.on) {
                /* only an ICMP error takes a second frame, sent back inside */
                CHECK(c->inside && xs == c->rx && !*icmp);
                *icmp = true;
                check_icmp(s, l, c->orig, c->len);
            } else {
                check_sent(c, xs, s, l);
            }
        }
    }
    return staged;
}

/* Every frame back in the worker's free list, once. */
static void check_frames_back(void)
{
    static uint8_t seen[DP_FRAMES / 8];

    CHECK(w->nfree == DP_FRAMES);
    memset(seen, 0, sizeof(seen));
    for (uint32_t i = 0; i < w->nfree; i++) {
        uint64_t a = w->free[i];
        CHECK(a % DP_FRAME_SIZE == 0 && a / DP_FRAME_SIZE < DP_FRAMES);
        CHECK(!(seen[a / DP_FRAME_SIZE / 8] & (1u << (a / DP_FRAME_SIZE % 8))));
        seen[a / DP_FRAME_SIZE / 8] |= (uint8_t)(1u << (a / DP_FRAME_SIZE % 8));
    }
}

/* Counters: none went down, the SAs' hard limits held, the frame was received
 * once and ended once (twice with an ICMP error: the drop and the error). */
static void check_counters(const struct fcase *c, const uint64_t *before, const uint64_t *after, size_t staged,
                           bool icmp, bool held)
{
    size_t r = (c->inside ? XS_IN : XS_OUT) * IFC_N;
    uint64_t outcomes = 0;

    for (size_t i = 0; i < CTR_N; i++)
        CHECK(after[i] >= before[i]);
    CHECK(after[r + C_RX] == before[r + C_RX] + 1 && after[r + C_RXB] == before[r + C_RXB] + c->len);
    for (size_t i = 0; i < NSA; i++) {
        size_t k = 2 * IFC_N + WK_N + i * SA_N; /* packets, bytes */
        if (rsa[i]->conf.hard_bytes)
            CHECK(after[k + 1] - before[k + 1] <= rsa[i]->conf.hard_bytes);
        if (rsa[i]->conf.hard_packets)
            CHECK(after[k] - before[k] <= rsa[i]->conf.hard_packets);
    }
    for (size_t x = 0; x < 2; x++) {
        outcomes += after[x * IFC_N + C_KERNEL] - before[x * IFC_N + C_KERNEL];
        for (size_t d = 0; d < DP_DROP_N; d++)
            outcomes += after[x * IFC_N + C_DROP + d] - before[x * IFC_N + C_DROP + d];
        if (x != (size_t)(c->inside ? XS_IN : XS_OUT))
            CHECK(after[x * IFC_N + C_RX] == before[x * IFC_N + C_RX]);
    }
    outcomes += staged + held;
    if (split.on)
        CHECK(outcomes == split.pieces); /* each piece ends once */
    else if (icmp)
        CHECK(outcomes == 2 && after[r + C_DROP + DP_DROP_MTU] == before[r + C_DROP + DP_DROP_MTU] + 1);
    else
        CHECK(outcomes == 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t frame[FRAME_MAX], orig[FRAME_MAX], expect[FRAME_MAX];
    struct fcase c = {.frame = frame, .orig = orig, .expect = expect};
    uint64_t before[CTR_N], after[CTR_N];
    size_t staged;
    bool icmp, held;
    struct dp_frag_ctr fr;
    uint64_t inner_before;

    if (!dp) {
        init();
        if (dp_frag_init(&split.rs))
            abort();
        verbose = getenv("FUZZ_DP_VERBOSE") && *getenv("FUZZ_DP_VERBOSE") == '1';
    }
    case_setup(&c, data, size);
    case_frame(&c);
    case_load(&c);

    counters(before);
    fr = w->frag.ctr;
    inner_before = dp->wctr[0].inner_fragments;
    memset(&split, 0, offsetof(__typeof__(split), rs));
    dp_frag_expire(&split.rs, UINT64_MAX);
    split.whole_len = 0;
    dp_rcu_enter();
    dp_fwd_one(w, c.rx, c.f + c.head, (uint32_t)c.len);
    dp_rcu_leave();
    UNPOISON((uint8_t *)w->area + c.f, DP_FRAME_SIZE);
    split.pieces = dp->wctr[0].inner_fragments - inner_before;
    split.on = split.pieces != 0;

    staged = check_staged(&c, &icmp);
    /* every piece sealed and sent: together they are the packet, TTL decremented
     * (an inner packet that was a fragment already stays one; the reserved flag
     * is not carried) */
    if (split.on && split.seen == split.pieces && !(rd16(split.orig + 6) & 0xbfff)) {
        CHECK(split.whole_len == rd16(split.orig + 2));
        check_ttl_dec_fix(split.whole, split.orig, split.whole_len, AF_INET, split.from_inside);
    }
    CHECK(w->nfree + staged == DP_FRAMES);
    CHECK(dp_worker_detached_drain(w) == staged);
    check_frames_back();
    POISON((uint8_t *)w->area + c.f, DP_FRAME_SIZE);
    for (size_t k = 1; k <= DP_FRAG4_MAX_PIECES; k++)
        POISON((uint8_t *)w->area + w->free[w->nfree - k], DP_FRAME_SIZE);

    counters(after);
    if (verbose)
        trace(before, after, c.len, staged);
    /* a fragment kept for its datagram ends nowhere yet (its frame is back) */
    held = w->frag.ctr.fragments == fr.fragments + 1 && w->frag.ctr.reassembled == fr.reassembled &&
           w->frag.ctr.invalid == fr.invalid;
    check_counters(&c, before, after, staged, icmp, held);
    return 0;
}
