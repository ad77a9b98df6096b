/* Unit tests of outer reassembly and inner fragmentation (dataplane/dp_frag.c):
 * IPv4 and IPv6 datagrams completed in order and out of order, overlaps refused
 * (RFC 5722), the 2 s timeout, the slots' eviction, the per-datagram bounds, IPv6
 * atomic fragments; inner IPv4 split for a tunnel MTU and put back together.
 * On a detached worker (dp_fwd.c): fragmented ESP in UDP over IPv4 and IPv6
 * decrypted once whole, a fragmented IKE datagram handed to the kernel and other
 * fragmented UDP not (by the IKE ports configured, dp_set_udp_ports), an inner IPv4 packet without DF sealed as fragments (RFC
 * 4459) while one with DF still gets ICMP, and ESP in UDP sent over an IPv6
 * outer header with its checksum, then over IPv4 after a session move. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include "dataplane/dp_frag.h"
#include "dataplane/dp_int.h"
#include "dataplane/dp_nl.h"
#include "dataplane/esp.h"

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v & 0xff;
}

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
    for (; len > 1; p += 2, len -= 2)
        sum += rd16(p);
    if (len)
        sum += p[0] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return sum;
}

static uint8_t payload[70000];

static void fill_payload(void)
{
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)(i * 13 + 5);
}

/* An IPv4 fragment 192.0.2.2 -> 192.0.2.1 of datagram @id: payload[off..off+n). */
static size_t frag4(uint8_t *b, uint16_t id, uint8_t proto, size_t off, size_t n, bool more)
{
    memset(b, 0, 20);
    b[0] = 0x45;
    wr16(b + 2, (uint16_t)(20 + n));
    wr16(b + 4, id);
    wr16(b + 6, (uint16_t)(off / 8 | (more ? 0x2000 : 0)));
    b[8] = 64;
    b[9] = proto;
    inet_pton(AF_INET, "192.0.2.2", b + 12);
    inet_pton(AF_INET, "192.0.2.1", b + 16);
    wr16(b + 10, (uint16_t)~sum16(b, 20, 0));
    memcpy(b + 20, payload + off, n);
    return 20 + n;
}

/* An IPv6 fragment 2001:db8::2 -> 2001:db8::1 with a destination options header
 * (8 bytes) before the fragment header. */
static size_t frag6(uint8_t *b, uint32_t id, size_t off, size_t n, bool more)
{
    memset(b, 0, 56);
    b[0] = 0x60;
    wr16(b + 4, (uint16_t)(16 + n));
    b[6] = 60; /* destination options */
    b[7] = 64;
    inet_pton(AF_INET6, "2001:db8::2", b + 8);
    inet_pton(AF_INET6, "2001:db8::1", b + 24);
    b[40] = 44; /* then the fragment header */
    b[42] = 1;  /* PadN filling the 8 bytes */
    b[43] = 4;
    b[48] = 17;
    wr16(b + 50, (uint16_t)(off | (more ? 1 : 0)));
    b[52] = id >> 24;
    b[53] = (id >> 16) & 0xff;
    b[54] = (id >> 8) & 0xff;
    b[55] = id & 0xff;
    memcpy(b + 56, payload + off, n);
    return 56 + n;
}

static uint8_t fb[70000];

static enum dp_frag_rc add4(struct dp_frag *f, uint64_t t, uint16_t id, size_t off, size_t n, bool more,
                            const uint8_t **out, size_t *outlen)
{
    size_t len = frag4(fb, id, 17, off, n, more);
    return dp_frag_add(f, t, fb, len, out, outlen);
}

static enum dp_frag_rc add6(struct dp_frag *f, uint64_t t, uint32_t id, size_t off, size_t n, bool more,
                            const uint8_t **out, size_t *outlen)
{
    size_t len = frag6(fb, id, off, n, more);
    return dp_frag_add(f, t, fb, len, out, outlen);
}

static void check4(const uint8_t *d, size_t dlen, size_t plen)
{
    assert_int_equal(dlen, 20 + plen);
    assert_int_equal(rd16(d + 2), 20 + plen);
    assert_int_equal(rd16(d + 6) & 0x3fff, 0);
    assert_int_equal(sum16(d, 20, 0), 0xffff);
    assert_memory_equal(d + 20, payload, plen);
}

static void test_v4_in_order_and_out_of_order(void **st)
{
    struct dp_frag f;
    const uint8_t *d;
    size_t dlen;

    (void)st;
    assert_int_equal(dp_frag_init(&f), 0);
    assert_int_equal(add4(&f, 0, 1, 0, 1480, true, &d, &dlen), DP_FRAG_HELD);
    assert_int_equal(add4(&f, 1, 1, 1480, 1480, true, &d, &dlen), DP_FRAG_HELD);
    assert_int_equal(add4(&f, 2, 1, 2960, 40, false, &d, &dlen), DP_FRAG_DONE);
    check4(d, dlen, 3000);
    /* last first, then the first, then the middle; another datagram in between */
    assert_int_equal(add4(&f, 3, 2, 2960, 40, false, &d, &dlen), DP_FRAG_HELD);
    assert_int_equal(add4(&f, 3, 3, 0, 8, true, &d, &dlen), DP_FRAG_HELD);
    assert_int_equal(add4(&f, 4, 2, 0, 1480, true, &d, &dlen), DP_FRAG_HELD);
    assert_int_equal(add4(&f, 5, 2, 1480, 1480, true, &d, &dlen), DP_FRAG_DONE);
    check4(d, dlen, 3000);
    assert_int_equal(f.ctr.reassembled, 2);
    assert_int_equal(f.ctr.fragments, 7);
    /* not a fragment */
    frag4(fb, 9, 17, 0, 100, false);
    assert_int_equal(dp_frag_add(&f, 6, fb, 120, &d, &dlen), DP_FRAG_NOT);
    dp_frag_fini(&f);
}

static void test_v4_overlap_and_bad(void **st)
{
    struct dp_frag f;
    const uint8_t *d;
    size_t dlen;

    (void)st;
    assert_int_equal(dp_frag_init(&f), 0);
    assert_int_equal(add4(&f, 0, 1, 0, 1480, true, &d, &dlen), DP_FRAG_HELD);
    /* overlaps the first: the datagram goes */
    assert_int_equal(add4(&f, 0, 1, 1472, 1480, true, &d, &dlen), DP_FRAG_BAD);
    assert_int_equal(f.ctr.invalid, 1);
    /* the rest cannot complete it any more */
    assert_int_equal(add4(&f, 0, 1, 1480, 1480, true, &d, &dlen), DP_FRAG_HELD);
    assert_int_equal(add4(&f, 0, 1, 2960, 40, false, &d, &dlen), DP_FRAG_HELD);
    /* an exact duplicate is an overlap too */
    assert_int_equal(add4(&f, 0, 1, 2960, 40, false, &d, &dlen), DP_FRAG_BAD);
    /* a middle fragment whose length is not a multiple of 8 */
    assert_int_equal(add4(&f, 0, 4, 0, 1001, true, &d, &dlen), DP_FRAG_BAD);
    /* past 65535 bytes */
    assert_int_equal(add4(&f, 0, 5, 65528, 100, false, &d, &dlen), DP_FRAG_BAD);
    /* a second last fragment with another end */
    assert_int_equal(add4(&f, 0, 6, 800, 200, false, &d, &dlen), DP_FRAG_HELD);
    assert_int_equal(add4(&f, 0, 6, 1600, 8, false, &d, &dlen), DP_FRAG_BAD);
    /* data past the end that the last fragment sets */
    assert_int_equal(add4(&f, 0, 7, 1600, 8, true, &d, &dlen), DP_FRAG_HELD);
    assert_int_equal(add4(&f, 0, 7, 800, 200, false, &d, &dlen), DP_FRAG_BAD);
    assert_int_equal(f.ctr.invalid, 6);
    assert_int_equal(f.ctr.reassembled, 0);
    dp_frag_fini(&f);
}

static void test_timeout_and_slots(void **st)
{
    struct dp_frag f;
    const uint8_t *d;
    size_t dlen;
    const uint64_t s = 1000000000ull;

    (void)st;
    assert_int_equal(dp_frag_init(&f), 0);
    assert_int_equal(add4(&f, 0, 1, 0, 1480, true, &d, &dlen), DP_FRAG_HELD);
    /* 1.9 s later: still in time */
    assert_int_equal(add4(&f, 19 * s / 10, 1, 2960, 40, false, &d, &dlen), DP_FRAG_HELD);
    /* 2 s after its first fragment the datagram is gone: the middle starts anew */
    assert_int_equal(add4(&f, 2 * s, 1, 1480, 1480, true, &d, &dlen), DP_FRAG_HELD);
    assert_int_equal(f.ctr.timeouts, 1);
    dp_frag_expire(&f, 5 * s);
    assert_int_equal(f.ctr.timeouts, 2);
    /* more datagrams than slots: the oldest is evicted */
    for (uint16_t id = 100; id < 100 + DP_FRAG_SLOTS + 1; id++)
        assert_int_equal(add4(&f, 6 * s + id, id, 0, 1480, true, &d, &dlen), DP_FRAG_HELD);
    assert_int_equal(f.ctr.evictions, 1);
    assert_int_equal(add4(&f, 7 * s, 100, 1480, 8, false, &d, &dlen), DP_FRAG_HELD); /* 100 was evicted */
    assert_int_equal(f.ctr.evictions, 2);
    assert_int_equal(add4(&f, 7 * s, 101 + DP_FRAG_SLOTS - 1, 1480, 8, false, &d, &dlen), DP_FRAG_DONE);
    check4(d, dlen, 1488);
    /* more fragments than a datagram may have */
    dp_frag_expire(&f, 100 * s);
    for (size_t i = 0; i < DP_FRAG_PIECES; i++)
        assert_int_equal(add4(&f, 100 * s, 7, i * 8, 8, true, &d, &dlen), DP_FRAG_HELD);
    assert_int_equal(add4(&f, 100 * s, 7, DP_FRAG_PIECES * 8, 8, false, &d, &dlen), DP_FRAG_BAD);
    /* the largest datagram: 65535 bytes in all */
    dp_frag_expire(&f, 200 * s);
    for (size_t off = 0; off < 65515; off += 1480) {
        size_t n = 65515 - off < 1480 ? 65515 - off : 1480;
        enum dp_frag_rc rc = add4(&f, 200 * s, 8, off, n, off + n < 65515, &d, &dlen);
        assert_int_equal(rc, off + n < 65515 ? DP_FRAG_HELD : DP_FRAG_DONE);
    }
    check4(d, dlen, 65515);
    dp_frag_fini(&f);
}

static void check6(const uint8_t *d, size_t dlen, size_t plen)
{
    assert_int_equal(dlen, 48 + plen);
    assert_int_equal(rd16(d + 4), 8 + plen);
    assert_int_equal(d[6], 60);
    assert_int_equal(d[40], 17); /* the fragment header's next header */
    assert_memory_equal(d + 48, payload, plen);
}

static void test_v6(void **st)
{
    struct dp_frag f;
    const uint8_t *d;
    size_t dlen;
    uint8_t proto;

    (void)st;
    assert_int_equal(dp_frag_init(&f), 0);
    frag6(fb, 1, 0, 1232, true);
    assert_int_equal(dp_frag_ip6_upper(fb, 56 + 1232, &proto), 48);
    assert_int_equal(proto, 44);
    assert_int_equal(add6(&f, 0, 1, 1232, 1232, true, &d, &dlen), DP_FRAG_HELD);
    assert_int_equal(add6(&f, 0, 1, 2464, 36, false, &d, &dlen), DP_FRAG_HELD);
    assert_int_equal(add6(&f, 0, 1, 0, 1232, true, &d, &dlen), DP_FRAG_DONE);
    check6(d, dlen, 2500);
    /* RFC 5722: an overlap discards the datagram */
    assert_int_equal(add6(&f, 0, 2, 0, 1232, true, &d, &dlen), DP_FRAG_HELD);
    assert_int_equal(add6(&f, 0, 2, 1224, 1232, true, &d, &dlen), DP_FRAG_BAD);
    assert_int_equal(add6(&f, 0, 2, 2464, 36, false, &d, &dlen), DP_FRAG_HELD);
    /* the same identification in IPv4 is another datagram */
    assert_int_equal(add4(&f, 0, 1, 0, 8, true, &d, &dlen), DP_FRAG_HELD);
    /* an atomic fragment (RFC 6946) is a datagram of its own */
    assert_int_equal(add6(&f, 0, 2, 0, 100, false, &d, &dlen), DP_FRAG_DONE);
    check6(d, dlen, 100);
    /* a truncated extension header chain */
    frag6(fb, 3, 0, 8, true);
    fb[41] = 200;
    assert_int_equal(dp_frag_add(&f, 0, fb, 64, &d, &dlen), DP_FRAG_BAD);
    assert_int_equal(f.ctr.invalid, 2);
    assert_int_equal(f.ctr.reassembled, 2);
    dp_frag_fini(&f);
}

/* Inner fragmentation puts back together as the original. */
static void test_inner_split(void **st)
{
    struct dp_frag f;
    uint8_t pkt[3020], piece[1500];
    const uint8_t *d = NULL;
    size_t n, dlen;
    enum dp_frag_rc rc = DP_FRAG_NOT;

    (void)st;
    assert_int_equal(dp_frag_init(&f), 0);
    frag4(pkt, 77, 1, 0, 3000, false);
    assert_int_equal(dp_frag4_count(pkt, sizeof(pkt), 1400), 3);
    assert_int_equal(dp_frag4_count(pkt, sizeof(pkt), 3020), 1);
    assert_int_equal(dp_frag4_count(pkt, sizeof(pkt), 60), 0); /* under 68 */
    n = 3;
    for (size_t k = n; k-- > 0;) {
        size_t plen = dp_frag4_piece(pkt, sizeof(pkt), 1400, k, k ? piece : pkt);
        const uint8_t *p = k ? piece : pkt;
        assert_true(plen <= 1400);
        assert_int_equal(rd16(p + 2), plen);
        assert_int_equal(sum16(p, 20, 0), 0xffff);
        rc = dp_frag_add(&f, 0, p, plen, &d, &dlen);
    }
    assert_int_equal(rc, DP_FRAG_DONE);
    assert_int_equal(dlen, 3020);
    assert_int_equal(d[9], 1);
    assert_memory_equal(d + 20, payload, 3000);
    /* DF: never */
    frag4(pkt, 78, 1, 0, 3000, false);
    wr16(pkt + 6, 0x4000);
    assert_int_equal(dp_frag4_count(pkt, sizeof(pkt), 1400), 0);
    dp_frag_fini(&f);
}

/* ---- on a detached worker ---- */

static const uint8_t tkey[20] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20};

static struct dp_sa mksa(uint32_t spi, bool inbound, bool v6)
{
    struct dp_sa sa = {.spi = spi, .inbound = inbound, .session_id = 1, .cipher = DP_CIPHER_AES_GCM_16,
                       .key_len = 20, .udp_encap = true, .nsel = 1};

    memcpy(sa.key, tkey, sizeof(tkey));
    sa.sel[0].family = AF_INET;
    inet_pton(AF_INET, "10.1.0.0", sa.sel[0].start);
    inet_pton(AF_INET, "10.1.0.255", sa.sel[0].end);
    if (v6) {
        struct sockaddr_in6 *l = (void *)&sa.local, *p = (void *)&sa.peer;
        l->sin6_family = p->sin6_family = AF_INET6;
        inet_pton(AF_INET6, "2001:db8::1", &l->sin6_addr);
        inet_pton(AF_INET6, "2001:db8::2", &p->sin6_addr);
        l->sin6_port = p->sin6_port = htons(4500);
    } else {
        struct sockaddr_in *l = (void *)&sa.local, *p = (void *)&sa.peer;
        l->sin_family = p->sin_family = AF_INET;
        inet_pton(AF_INET, "192.0.2.1", &l->sin_addr);
        inet_pton(AF_INET, "192.0.2.2", &p->sin_addr);
        l->sin_port = p->sin_port = htons(4500);
    }
    return sa;
}

static void feed(struct dp_worker *w, size_t xs, const uint8_t *ip, size_t len)
{
    uint64_t fa = w->free[--w->nfree];
    uint8_t *f = (uint8_t *)w->area + fa + 256;

    memcpy(f, "\x02\0\0\0\0\x01\x02\0\0\0\0\x02", 12);
    wr16(f + 12, ip[0] >> 4 == 4 ? 0x0800 : 0x86dd);
    memcpy(f + 14, ip, len);
    dp_fwd_one(w, &w->xs[xs], fa + 256, (uint32_t)(14 + len));
}

/* An inner IPv4 UDP packet 10.1.0.9 -> 10.2.0.5 (inbound) of @len bytes. */
static size_t inner4(uint8_t *b, size_t len, bool df, const char *src, const char *dst)
{
    memset(b, 0, len);
    b[0] = 0x45;
    wr16(b + 2, (uint16_t)len);
    wr16(b + 6, df ? 0x4000 : 0);
    b[8] = 64;
    b[9] = 17;
    inet_pton(AF_INET, src, b + 12);
    inet_pton(AF_INET, dst, b + 16);
    wr16(b + 10, (uint16_t)~sum16(b, 20, 0));
    wr16(b + 20, 1000);
    wr16(b + 22, 2000);
    wr16(b + 24, (uint16_t)(len - 20));
    for (size_t i = 28; i < len; i++)
        b[i] = (uint8_t)i;
    return len;
}

/* ESP in UDP (4500) of @inner sealed with the client's @x, as one outer datagram
 * at *out (IPv4 or IPv6 header first) */
static size_t esp_udp(uint8_t *b, struct esp_xform *x, uint32_t seq, const uint8_t *inner, size_t ilen, bool v6)
{
    uint8_t *in = b + 48 + ESP_HEAD_MAX;
    int n;

    memcpy(in, inner, ilen);
    n = esp_seal(x, 0x600, seq, 4, in, ilen);
    assert_true(n > 0);
    uint8_t *u = in - esp_head_len(x) - 8;
    wr16(u, 4500);
    wr16(u + 2, 4500);
    wr16(u + 4, (uint16_t)(8 + n));
    wr16(u + 6, 0);
    memcpy(payload, u, 8 + (size_t)n); /* the fragment builders take it from there */
    return 8 + (size_t)n;
}

static void test_worker_reassembles(void **st)
{
    static const enum dp_role roles[] = {DP_ROLE_OUTSIDE, DP_ROLE_INSIDE};
    struct dp *dp = dp_new();
    struct dp_sa in4 = mksa(0x600, true, false);
    struct esp_params ep = {.cipher = DP_CIPHER_AES_GCM_16, .key = tkey, .key_len = 20};
    struct esp_xform *client = esp_xform_new(&ep, true);
    struct dp_nh nh = {.ifindex = -2}; /* decrypted packets leave inside (xs 1) */
    struct dp_worker *w;
    struct dp_sa_stats si;
    uint8_t inner[1400], b[4096], f[2048];
    size_t ulen, len;

    (void)st;
    assert_non_null(client);
    assert_int_equal(dp_sa_add(dp, &in4), 0);
    assert_non_null(w = dp_worker_detached(dp, roles, 2));
    w->detached_nh = &nh;
    w->xs[1].mtu = 1500;
    inner4(inner, sizeof(inner), true, "10.1.0.9", "10.2.0.5");
    ulen = esp_udp(b, client, 1, inner, sizeof(inner), false);
    dp_rcu_enter();
    /* IPv4: last fragment first */
    len = frag4(f, 5, 17, 1000, ulen - 1000, false);
    feed(w, 0, f, len);
    assert_int_equal(w->xs[1].ntx, 0);
    len = frag4(f, 5, 17, 0, 1000, true);
    feed(w, 0, f, len);
    assert_int_equal(w->xs[1].ntx, 1);
    assert_int_equal(w->xs[1].txq[0].len, 14 + sizeof(inner));
    assert_memory_equal((uint8_t *)w->area + w->xs[1].txq[0].addr + 14 + 12, inner + 12, 8);
    dp_worker_detached_drain(w);
    /* IPv6 outer */
    ulen = esp_udp(b, client, 2, inner, sizeof(inner), true);
    len = frag6(f, 9, 0, 1200, true);
    feed(w, 0, f, len);
    len = frag6(f, 9, 1200, ulen - 1200, false);
    feed(w, 0, f, len);
    assert_int_equal(w->xs[1].ntx, 1);
    dp_worker_detached_drain(w);
    /* IKE on 4500 (the zero marker), fragmented: the kernel's (no raw socket
     * here: counted no-route), not a fragment drop */
    memset(payload, 0, 2000);
    wr16(payload, 4500);
    wr16(payload + 2, 4500);
    wr16(payload + 4, 2000);
    len = frag4(f, 6, 17, 0, 1480, true);
    feed(w, 0, f, len);
    len = frag4(f, 6, 17, 1480, 520, false);
    feed(w, 0, f, len);
    assert_int_equal(w->xs[0].ifc->ctr[0].drops[DP_DROP_NO_ROUTE], 1);
    assert_int_equal(w->xs[0].ifc->ctr[0].drops[DP_DROP_FRAGMENT], 0);
    /* UDP to another port: not handed over (it would come in through loopback) */
    wr16(payload + 2, 53);
    len = frag4(f, 7, 17, 0, 1480, true);
    feed(w, 0, f, len);
    len = frag4(f, 7, 17, 1480, 520, false);
    feed(w, 0, f, len);
    dp_rcu_leave();
    assert_int_equal(w->xs[0].ifc->ctr[0].drops[DP_DROP_NO_ROUTE], 1);
    assert_int_equal(w->xs[0].ifc->ctr[0].drops[DP_DROP_FRAGMENT], 1);
    assert_int_equal(w->frag.ctr.reassembled, 4);
    assert_int_equal(dp_sa_stats(dp, 1, 0x600, true, &si), 0);
    assert_int_equal(si.packets, 2);
    dp_worker_detached_free(w);
    esp_xform_free(client);
    dp_free(dp);
}

/* A fragmented datagram of @ulen bytes (already in payload) with UDP destination
 * @dport, fed as two IPv4 fragments. */
static void feed_udp_frags(struct dp_worker *w, uint16_t id, uint16_t dport, size_t ulen)
{
    uint8_t f[2048];
    size_t len;

    wr16(payload + 2, dport);
    len = frag4(f, id, 17, 0, 1000, true);
    feed(w, 0, f, len);
    len = frag4(f, id, 17, 1000, ulen - 1000, false);
    feed(w, 0, f, len);
}

/* The IKE ports the dataplane is given (dp_set_udp_ports), here NAT traversal
 * 14500 and IKE 1500: fragmented ESP in UDP to 14500 is decrypted, fragmented IKE
 * to 14500 or 1500 handed to the kernel (counted no-route: no raw socket here);
 * to 4500 and 500, no longer IKE's, both are dropped as other UDP would be. */
static void test_worker_configured_ports(void **st)
{
    static const enum dp_role roles[] = {DP_ROLE_OUTSIDE, DP_ROLE_INSIDE};
    struct dp *dp = dp_new();
    struct dp_sa in4 = mksa(0x600, true, false);
    struct esp_params ep = {.cipher = DP_CIPHER_AES_GCM_16, .key = tkey, .key_len = 20};
    struct esp_xform *client = esp_xform_new(&ep, true);
    struct dp_nh nh = {.ifindex = -2};
    struct dp_worker *w;
    struct dp_sa_stats si;
    uint8_t inner[1400], b[4096];
    uint16_t natt = 14500, ike = 1500;
    size_t ulen;
    const uint64_t *drops;

    (void)st;
    assert_non_null(client);
    assert_int_equal(dp_set_udp_ports(dp, &natt, 1, &ike, 1), 0);
    assert_int_equal(dp_sa_add(dp, &in4), 0);
    assert_non_null(w = dp_worker_detached(dp, roles, 2));
    w->detached_nh = &nh;
    w->xs[1].mtu = 1500;
    drops = w->xs[0].ifc->ctr[0].drops;
    inner4(inner, sizeof(inner), true, "10.1.0.9", "10.2.0.5");
    dp_rcu_enter();
    ulen = esp_udp(b, client, 1, inner, sizeof(inner), false);
    feed_udp_frags(w, 20, 14500, ulen);
    assert_int_equal(w->xs[1].ntx, 1); /* decrypted, forwarded inside */
    dp_worker_detached_drain(w);
    ulen = esp_udp(b, client, 2, inner, sizeof(inner), false);
    feed_udp_frags(w, 21, 4500, ulen);
    assert_int_equal(w->xs[1].ntx, 0);
    assert_int_equal(drops[DP_DROP_FRAGMENT], 1);
    /* IKE: the zero marker on the NAT traversal port, any first word on IKE's */
    memset(payload, 0, 2000);
    wr16(payload + 4, 2000);
    feed_udp_frags(w, 22, 14500, 2000);
    assert_int_equal(drops[DP_DROP_NO_ROUTE], 1);
    payload[8] = 0x5a;
    feed_udp_frags(w, 23, 1500, 2000);
    assert_int_equal(drops[DP_DROP_NO_ROUTE], 2);
    payload[8] = 0;
    feed_udp_frags(w, 24, 4500, 2000);
    feed_udp_frags(w, 25, 500, 2000);
    assert_int_equal(drops[DP_DROP_NO_ROUTE], 2);
    assert_int_equal(drops[DP_DROP_FRAGMENT], 3);
    /* back to the defaults (nothing configured): 4500 is IKE's again */
    dp_rcu_leave(); /* the control thread's call, offline as ravend's */
    assert_int_equal(dp_set_udp_ports(dp, NULL, 0, NULL, 0), 0);
    dp_rcu_enter();
    feed_udp_frags(w, 26, 4500, 2000);
    assert_int_equal(drops[DP_DROP_NO_ROUTE], 3);
    feed_udp_frags(w, 27, 14500, 2000);
    assert_int_equal(drops[DP_DROP_FRAGMENT], 4);
    dp_rcu_leave();
    assert_int_equal(dp_sa_stats(dp, 1, 0x600, true, &si), 0);
    assert_int_equal(si.packets, 1);
    dp_worker_detached_free(w);
    esp_xform_free(client);
    dp_free(dp);
}

/* From the inside to a client whose session MTU is 1000: without DF the packet
 * leaves as two ESP packets whose inner fragments reassemble to it; with DF, ICMP.
 * Over an IPv6 outer header with a UDP checksum. */
static void test_worker_inner_fragments_and_v6_outer(void **st)
{
    static const enum dp_role roles[] = {DP_ROLE_OUTSIDE, DP_ROLE_INSIDE};
    struct dp *dp = dp_new();
    struct dp_sa out = mksa(0x500, false, true);
    struct esp_params ep = {.cipher = DP_CIPHER_AES_GCM_16, .key = tkey, .key_len = 20};
    struct esp_xform *client = esp_xform_new(&ep, false);
    struct dp_nh nh = {.ifindex = -1}; /* ESP leaves outside (xs 0) */
    struct dp_worker *w;
    struct dp_frag f;
    struct dp_worker_stats ws;
    uint8_t inner[1400];
    const uint8_t *d = NULL;
    size_t dlen;
    enum dp_frag_rc rc = DP_FRAG_NOT;

    (void)st;
    (void)ws;
    assert_non_null(client);
    assert_int_equal(dp_frag_init(&f), 0);
    out.mtu = 1000;
    assert_int_equal(dp_sa_add(dp, &out), 0);
    assert_non_null(w = dp_worker_detached(dp, roles, 2));
    w->detached_nh = &nh;
    w->xs[1].has_addr4 = true;
    inet_pton(AF_INET, "10.2.0.1", &w->xs[1].addr4);
    inner4(inner, sizeof(inner), false, "10.2.0.5", "10.1.0.9");
    dp_rcu_enter();
    feed(w, 1, inner, sizeof(inner));
    dp_rcu_leave();
    assert_int_equal(w->xs[0].ntx, 2);
    assert_int_equal(dp->wctr[0].inner_fragmented, 1);
    assert_int_equal(dp->wctr[0].inner_fragments, 2);
    for (uint32_t i = 0; i < 2; i++) {
        uint8_t *o = (uint8_t *)w->area + w->xs[0].txq[i].addr, *ip6 = o + 14, *udp = ip6 + 40, *inn, nhd;
        size_t ulen = rd16(ip6 + 4), ilen;
        uint32_t s = 0;

        assert_int_equal(rd16(o + 12), 0x86dd);
        assert_int_equal(ip6[6], 17);
        assert_int_equal(rd16(udp + 2), 4500);
        for (int k = 8; k < 40; k += 2)
            s += rd16(ip6 + k);
        assert_int_equal(sum16(udp, ulen, s + (uint32_t)ulen + 17), 0xffff); /* the UDP checksum holds */
        assert_int_equal(esp_open(client, i + 1, udp + 8, ulen - 8, &inn, &ilen, &nhd), 0);
        assert_int_equal(nhd, 4);
        assert_true(rd16(inn + 2) <= 1000);
        rc = dp_frag_add(&f, 0, inn, rd16(inn + 2), &d, &dlen);
    }
    assert_int_equal(rc, DP_FRAG_DONE);
    assert_int_equal(dlen, sizeof(inner));
    assert_memory_equal(d + 20, inner + 20, sizeof(inner) - 20);
    assert_int_equal(d[8], 63); /* TTL decremented once */
    dp_worker_detached_drain(w);
    /* with DF: ICMP fragmentation needed back inside, nothing sent outside */
    inner4(inner, sizeof(inner), true, "10.2.0.5", "10.1.0.9");
    dp_rcu_enter();
    feed(w, 1, inner, sizeof(inner));
    dp_rcu_leave();
    assert_int_equal(w->xs[0].ntx, 0);
    assert_int_equal(w->xs[1].ntx, 1);
    assert_int_equal(w->xs[1].ifc->ctr[0].drops[DP_DROP_MTU], 1);
    dp_worker_detached_drain(w);
    /* the client moves to IPv4 (a session move, as MOBIKE's): the next packet
     * leaves with an IPv4 outer header, UDP checksum zero (RFC 3948) */
    struct dp_sa v4 = mksa(0x500, false, false);
    assert_int_equal(dp_session_move(dp, 1, &v4.local, &v4.peer, true), 1);
    inner4(inner, 500, true, "10.2.0.5", "10.1.0.9");
    dp_rcu_enter();
    feed(w, 1, inner, 500);
    dp_rcu_leave();
    assert_int_equal(w->xs[0].ntx, 1);
    const uint8_t *o = (const uint8_t *)w->area + w->xs[0].txq[0].addr;
    assert_int_equal(rd16(o + 12), 0x0800);
    assert_int_equal(o[14 + 9], 17);
    assert_int_equal(rd16(o + 14 + 26), 0);
    dp_worker_detached_drain(w);
    dp_worker_detached_free(w);
    esp_xform_free(client);
    dp_frag_fini(&f);
    dp_free(dp);
}

/* ESP in UDP with sequence number @seq, whole, from @src:4500. */
static size_t esp_from(uint8_t *f, struct esp_xform *x, uint32_t seq, const char *src)
{
    uint8_t inner[200], b[1024];
    size_t len;

    inner4(inner, sizeof(inner), true, "10.1.0.9", "10.2.0.5");
    len = frag4(f, (uint16_t)seq, 17, 0, esp_udp(b, x, seq, inner, sizeof(inner), false), false);
    inet_pton(AF_INET, src, f + 12);
    wr16(f + 10, 0);
    wr16(f + 10, (uint16_t)~sum16(f, 20, 0));
    return len;
}

/* RFC 7296 2.23 (dp_fwd.c float_check): the newest authenticated packet
 * decides where the session goes. ESP from a new address is reported; a newer
 * packet from the peer's address again withdraws the report before the control
 * thread takes it; an older one (out of order, not the window's top) does not. */
static void test_worker_newest_packet_decides_float(void **st)
{
    static const enum dp_role roles[] = {DP_ROLE_OUTSIDE, DP_ROLE_INSIDE};
    struct dp *dp = dp_new();
    struct dp_sa in4 = mksa(0x600, true, false);
    struct esp_params ep = {.cipher = DP_CIPHER_AES_GCM_16, .key = tkey, .key_len = 20};
    struct esp_xform *client = esp_xform_new(&ep, true);
    struct dp_nh nh = {.ifindex = -2};
    struct dp_worker *w;
    struct dp_float fl[4];
    uint8_t f[2048];
    size_t len;

    (void)st;
    assert_non_null(client);
    assert_int_equal(dp_sa_add(dp, &in4), 0);
    assert_non_null(w = dp_worker_detached(dp, roles, 2));
    w->detached_nh = &nh;
    w->xs[1].mtu = 1500;
    dp_rcu_enter();
    len = esp_from(f, client, 1, "198.51.100.7"); /* from B */
    feed(w, 0, f, len);
    len = esp_from(f, client, 2, "192.0.2.2"); /* from the peer again, newer */
    feed(w, 0, f, len);
    dp_rcu_leave();
    dp_worker_detached_drain(w);
    assert_int_equal(dp_floated(dp, fl, 4), 0);
    /* from B, then an older packet from the peer: B stays reported */
    dp_rcu_enter();
    len = esp_from(f, client, 5, "198.51.100.7");
    feed(w, 0, f, len);
    len = esp_from(f, client, 4, "192.0.2.2");
    feed(w, 0, f, len);
    dp_rcu_leave();
    dp_worker_detached_drain(w);
    assert_int_equal(dp_floated(dp, fl, 4), 1);
    assert_int_equal(fl[0].peer.ss_family, AF_INET);
    assert_int_equal(((struct sockaddr_in *)&fl[0].peer)->sin_addr.s_addr, htonl(0xc6336407));
    assert_int_equal(dp_floated(dp, fl, 4), 0);
    dp_worker_detached_free(w);
    esp_xform_free(client);
    dp_free(dp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v4_in_order_and_out_of_order),
        cmocka_unit_test(test_v4_overlap_and_bad),
        cmocka_unit_test(test_timeout_and_slots),
        cmocka_unit_test(test_v6),
        cmocka_unit_test(test_inner_split),
        cmocka_unit_test(test_worker_reassembles),
        cmocka_unit_test(test_worker_configured_ports),
        cmocka_unit_test(test_worker_inner_fragments_and_v6_outer),
        cmocka_unit_test(test_worker_newest_packet_decides_float),
    };

    fill_payload();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
