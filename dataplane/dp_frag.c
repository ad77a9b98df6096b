/* Reassembly of fragmented outer IPv4 and IPv6 datagrams for one worker (see
 * dp_frag.h). Fragments are copied into a slot's buffer as they come, in any
 * order; the headers kept are the first fragment's. Every bound is fixed: the
 * slots, the fragments per datagram, the datagram's size and its time. */
#include <stdlib.h>
#include <string.h>
#include "dataplane/dp_frag.h"
#include "dataplane/dp_bytes.h"

#define SLOT_BYTES (DP_FRAG_HDR_MAX + DP_FRAG_MAX)
#define IP6_FRAG 44

int dp_frag_init(struct dp_frag *f)
{
    memset(f, 0, sizeof(*f));
    /* one buffer more than slots: atomic IPv6 fragments are rebuilt there */
    f->mem = malloc((size_t)(DP_FRAG_SLOTS + 1) * SLOT_BYTES);
    if (!f->mem)
        return -1;
    for (size_t i = 0; i < DP_FRAG_SLOTS; i++)
        f->slot[i].buf = f->mem + i * SLOT_BYTES;
    return 0;
}

void dp_frag_fini(struct dp_frag *f)
{
    free(f->mem);
    f->mem = NULL;
}

/* Walks the IPv6 extension headers that precede a fragment header (RFC 8200 4.1
 * order): returns the offset of the first other header, its protocol in *proto
 * and, in *nhoff, the offset of the byte that names it. */
static int ip6_walk(const uint8_t *ip, size_t len, uint8_t *proto, size_t *nhoff)
{
    size_t off = 40, nh = 6;
    uint8_t p;

    if (len < 40 || ip[0] >> 4 != 6)
        return -1;
    p = ip[6];
    for (int i = 0; i < 8 && (p == 0 || p == 43 || p == 60); i++) {
        if (off + 8 > len)
            return -1;
        nh = off;
        p = ip[off];
        off += (ip[off + 1] + 1u) * 8;
    }
    if (off > len || p == 0 || p == 43 || p == 60)
        return -1;
    *proto = p;
    if (nhoff)
        *nhoff = nh;
    return (int)off;
}

int dp_frag_ip6_upper(const uint8_t *ip, size_t len, uint8_t *proto)
{
    return ip6_walk(ip, len, proto, NULL);
}

static void slot_free(struct dp_frag_slot *s)
{
    s->used = false;
}

void dp_frag_expire(struct dp_frag *f, uint64_t now)
{
    for (size_t i = 0; i < DP_FRAG_SLOTS; i++)
        if (f->slot[i].used && now - f->slot[i].t0 >= DP_FRAG_TIMEOUT_NS) {
            f->ctr.timeouts++;
            slot_free(&f->slot[i]);
        }
}

/* A fragment's fields, whatever its family. */
struct frag {
    uint8_t family, proto;
    const uint8_t *src, *dst;
    uint32_t id;
    uint32_t off, plen;
    bool more;
    const uint8_t *payload;
    size_t hlen;  /* headers before the payload to keep (IPv6: without the fragment header) */
    size_t nhoff; /* IPv6: the byte naming the fragment header */
    uint8_t next; /* IPv6: the fragment header's next header */
};

static struct dp_frag_slot *slot_get(struct dp_frag *f, const struct frag *g, uint64_t now)
{
    struct dp_frag_slot *s, *free_s = NULL, *old = NULL;

    for (size_t i = 0; i < DP_FRAG_SLOTS; i++) {
        s = &f->slot[i];
        if (!s->used) {
            if (!free_s)
                free_s = s;
            continue;
        }
        if (s->family == g->family && s->id == g->id && s->proto == g->proto &&
            !memcmp(s->src, g->src, g->family == 4 ? 4 : 16) && !memcmp(s->dst, g->dst, g->family == 4 ? 4 : 16))
            return s;
        if (!old || s->t0 < old->t0)
            old = s;
    }
    if (!(s = free_s)) {
        /* full: the oldest gives way (a flood of first fragments cannot hold the
         * slots longer than a datagram's time anyway) */
        f->ctr.evictions++;
        s = old;
    }
    memset(s->src, 0, sizeof(s->src));
    memset(s->dst, 0, sizeof(s->dst));
    s->used = true;
    s->family = g->family;
    s->proto = g->proto;
    memcpy(s->src, g->src, g->family == 4 ? 4 : 16);
    memcpy(s->dst, g->dst, g->family == 4 ? 4 : 16);
    s->id = g->id;
    s->t0 = now;
    s->total = s->have = 0;
    s->hlen = 0;
    s->npieces = 0;
    return s;
}

/* Parses @ip as a fragment; DP_FRAG_NOT if it is none, DP_FRAG_BAD if malformed. */
static enum dp_frag_rc parse(const uint8_t *ip, size_t len, struct frag *g)
{
    memset(g, 0, sizeof(*g));
    if (len >= 20 && ip[0] >> 4 == 4) {
        size_t ihl = (ip[0] & 15) * 4u;
        uint16_t fo = rd16(ip + 6);

        if (ihl < 20 || ihl > len)
            return DP_FRAG_BAD;
        if (!(fo & 0x3fff))
            return DP_FRAG_NOT;
        g->family = 4;
        g->proto = ip[9];
        g->src = ip + 12;
        g->dst = ip + 16;
        g->id = rd16(ip + 4);
        g->off = (fo & 0x1fffu) * 8;
        g->more = fo & 0x2000;
        g->hlen = ihl;
        g->payload = ip + ihl;
        g->plen = (uint32_t)(len - ihl);
    } else if (len >= 40 && ip[0] >> 4 == 6) {
        uint8_t p;
        int up = ip6_walk(ip, len, &p, &g->nhoff);
        const uint8_t *fh;

        if (up < 0)
            return DP_FRAG_BAD;
        if (p != IP6_FRAG)
            return DP_FRAG_NOT;
        if ((size_t)up + 8 > len || (size_t)up > DP_FRAG_HDR_MAX)
            return DP_FRAG_BAD;
        fh = ip + up;
        g->family = 6;
        g->src = ip + 8;
        g->dst = ip + 24;
        g->next = fh[0];
        if (g->next == IP6_FRAG)
            return DP_FRAG_BAD; /* a fragment of a fragment: no sender makes one */
        g->id = (uint32_t)fh[4] << 24 | (uint32_t)fh[5] << 16 | (uint32_t)fh[6] << 8 | fh[7];
        g->off = rd16(fh + 2) & 0xfff8u;
        g->more = fh[3] & 1;
        g->hlen = (size_t)up;
        g->payload = fh + 8;
        g->plen = (uint32_t)(len - (size_t)up - 8);
    } else {
        return DP_FRAG_BAD;
    }
    /* every fragment but the last carries a multiple of 8 bytes, none carries none */
    if (!g->plen || (g->more && g->plen % 8))
        return DP_FRAG_BAD;
    /* the whole datagram within 65535 bytes (IPv4 total length; IPv6 header + payload) */
    if (g->hlen + (size_t)g->off + g->plen > DP_FRAG_MAX)
        return DP_FRAG_BAD;
    return DP_FRAG_HELD;
}

/* The datagram of @s as one packet, at its buffer's headers. */
static void finish(struct dp_frag_slot *s, const uint8_t **out, size_t *outlen)
{
    uint8_t *h = s->buf + DP_FRAG_HDR_MAX - s->hlen;
    size_t len = s->hlen + s->total;

    if (s->family == 4) {
        wr16(h + 2, (uint16_t)len);
        wr16(h + 6, rd16(h + 6) & 0x4000); /* DF stays; MF and offset go */
        wr16(h + 10, 0);
        wr16(h + 10, csum(h, s->hlen, 0));
    } else {
        wr16(h + 4, (uint16_t)(len - 40));
    }
    *out = h;
    *outlen = len;
}

/* Keeps the headers of a first fragment before its slot's payload. */
static void keep_headers(uint8_t *buf, const uint8_t *ip, const struct frag *g)
{
    uint8_t *h = buf + DP_FRAG_HDR_MAX - g->hlen;

    memcpy(h, ip, g->hlen);
    if (g->family == 6)
        h[g->nhoff] = g->next; /* the fragment header is not in the datagram */
}

enum dp_frag_rc dp_frag_add(struct dp_frag *f, uint64_t now, const uint8_t *ip, size_t len, const uint8_t **out,
                            size_t *outlen)
{
    struct frag g;
    struct dp_frag_slot *s;
    enum dp_frag_rc rc = parse(ip, len, &g);
    uint32_t end;

    if (rc == DP_FRAG_NOT)
        return rc;
    if (rc == DP_FRAG_BAD) {
        f->ctr.invalid++;
        return rc;
    }
    f->ctr.fragments++;
    if (g.family == 6 && !g.off && !g.more) {
        /* an atomic fragment (RFC 6946): a datagram of its own, apart from any
         * reassembly of the same identification */
        struct dp_frag_slot a = {.family = 6, .hlen = (uint16_t)g.hlen, .total = g.plen,
                                 .buf = f->mem + (size_t)DP_FRAG_SLOTS * SLOT_BYTES};
        keep_headers(a.buf, ip, &g);
        memcpy(a.buf + DP_FRAG_HDR_MAX, g.payload, g.plen);
        finish(&a, out, outlen);
        f->ctr.reassembled++;
        return DP_FRAG_DONE;
    }
    dp_frag_expire(f, now);
    s = slot_get(f, &g, now);
    end = g.off + g.plen;
    for (size_t i = 0; i < s->npieces; i++)
        if (g.off < (uint32_t)s->piece[i].off + s->piece[i].len && s->piece[i].off < end)
            goto bad; /* overlap, exact duplicates included (RFC 5722) */
    if (s->npieces == DP_FRAG_PIECES || (s->total && end > s->total) || (!g.more && s->total) ||
        (!g.more && end < s->have))
        goto bad;
    if (!g.more) {
        /* nothing received may lie past the end */
        for (size_t i = 0; i < s->npieces; i++)
            if ((uint32_t)s->piece[i].off + s->piece[i].len > end)
                goto bad;
        s->total = end;
    }
    if (!g.off) {
        s->hlen = (uint16_t)g.hlen;
        keep_headers(s->buf, ip, &g);
    }
    s->piece[s->npieces].off = (uint16_t)g.off;
    s->piece[s->npieces].len = (uint16_t)g.plen;
    s->npieces++;
    memcpy(s->buf + DP_FRAG_HDR_MAX + g.off, g.payload, g.plen);
    s->have += g.plen;
    if (!s->total || s->have != s->total || !s->hlen)
        return DP_FRAG_HELD;
    finish(s, out, outlen);
    slot_free(s);
    f->ctr.reassembled++;
    return DP_FRAG_DONE;
bad:
    f->ctr.invalid++;
    slot_free(s);
    return DP_FRAG_BAD;
}

/* Payload bytes per fragment: the first carries the packet's header, the others
 * 20 bytes; all but the last a multiple of 8. */
static void frag4_sizes(const uint8_t *ip, unsigned mtu, size_t *first, size_t *rest)
{
    size_t ihl = (ip[0] & 15) * 4u;

    *first = mtu > ihl ? (mtu - ihl) & ~(size_t)7 : 0;
    *rest = mtu > 20 ? (mtu - 20) & ~(size_t)7 : 0;
}

size_t dp_frag4_count(const uint8_t *ip, size_t len, unsigned mtu)
{
    size_t ihl = (ip[0] & 15) * 4u, first, rest, n;

    if (len < 20 || ihl < 20 || ihl > len || (rd16(ip + 6) & 0x4000) || mtu < 68)
        return 0;
    frag4_sizes(ip, mtu, &first, &rest);
    if (!first || !rest)
        return 0;
    if (len - ihl <= first)
        return 1;
    n = 1 + (len - ihl - first + rest - 1) / rest;
    return n > DP_FRAG4_MAX_PIECES ? 0 : n;
}

size_t dp_frag4_piece(const uint8_t *ip, size_t len, unsigned mtu, size_t k, uint8_t *dst)
{
    size_t ihl = (ip[0] & 15) * 4u, payload = len - ihl, first, rest, off, cnt, hl;
    uint16_t fo = rd16(ip + 6);
    bool more;

    frag4_sizes(ip, mtu, &first, &rest);
    off = k ? first + (k - 1) * rest : 0;
    cnt = k ? rest : first;
    if (off + cnt > payload)
        cnt = payload - off;
    more = off + cnt < payload || (fo & 0x2000);
    hl = k ? 20 : ihl;
    if (dst != ip) {
        memcpy(dst, ip, 20);
        memcpy(dst + hl, ip + ihl + off, cnt);
    }
    dst[0] = (uint8_t)(0x40 | hl / 4);
    wr16(dst + 2, (uint16_t)(hl + cnt));
    wr16(dst + 6, (uint16_t)((fo & 0x1fff) + off / 8) | (more ? 0x2000 : 0));
    wr16(dst + 10, 0);
    wr16(dst + 10, csum(dst, hl, 0));
    return hl + cnt;
}
