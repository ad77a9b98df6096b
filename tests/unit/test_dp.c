/* Unit tests of the dataplane's SA table (dataplane/dp_table.c): inbound SPIs are
 * unique, outbound SPIs (the peers' choice) may repeat across sessions, keys are
 * checked against the transform, and a session's SAs move together; the workers'
 * view: SPI lookup, longest-prefix match of client prefixes (selector ranges split
 * into prefixes), a rekeyed prefix moving to the new SA and back when it goes.
 * The Internet checksum eight bytes at a time (dp_bytes.h) against the byte-wise
 * one. Inner packets (dataplane/dp_inner.c): checksums left to offload completed, wrong
 * ones left alone, the MSS of SYNs clamped. On a detached worker (dp_fwd.c): the
 * hard byte and packet lifetimes in both directions, the session MTU's ICMP, and
 * SA state in the caller's memory continued by a later process (dp_sa.live and
 * adopt): sequence numbers, the replay window, counters, the hard lifetime.
 * A session's bandwidth limits in both directions (dp_session_police). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include "dataplane/dp_int.h"
#include "dataplane/dp_bytes.h"
#include "dataplane/dp_nl.h"
#include "dataplane/esp.h"
#include "daemon/ike/ike_pld.h"

/* The folded ones' complement sum of @len bytes plus @sum (RFC 1071). */
static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
    for (; len > 1; p += 2, len -= 2)
        sum += rd16(p);
    if (len)
        sum += (uint32_t)p[0] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return sum;
}

/* sum16 for lengths whose unfolded sum would not fit in 32 bits. */
static uint16_t sum16_long(const uint8_t *p, size_t len)
{
    uint64_t sum = 0;

    for (; len > 1; p += 2, len -= 2)
        sum += rd16(p);
    if (len)
        sum += (uint64_t)p[0] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

/* The pseudo-header sum of an IPv4/IPv6 packet's L4 part (unfolded is fine). */
static uint32_t pseudo(const uint8_t *ip, size_t len)
{
    if (ip[0] >> 4 == 4)
        return sum16(ip + 12, 8, 0) + ip[9] + (uint32_t)(len - 20);
    return sum16(ip + 8, 32, 0) + ip[6] + (uint32_t)(len - 40);
}

static bool l4_verifies(const uint8_t *ip, size_t len)
{
    size_t hl = ip[0] >> 4 == 4 ? 20 : 40;

    return sum16(ip + hl, len - hl, pseudo(ip, len)) == 0xffff;
}

/* An IPv4 (or IPv6) packet from 10.1.0.9 / 2001:db8::9 to 10.1.0.5 / 2001:db8::5
 * with a TCP header of @optlen option bytes (@opts) and @plen payload bytes, or
 * UDP (@tcp false); L4 checksum complete. Returns its length. */
static size_t mkpkt(uint8_t *b, bool v6, bool tcp, uint8_t flags, const uint8_t *opts, size_t optlen, size_t plen)
{
    size_t hl = v6 ? 40 : 20, l4 = tcp ? 20 + optlen : 8, len = hl + l4 + plen;
    uint8_t *t = b + hl, *ck;

    memset(b, 0, len);
    if (v6) {
        b[0] = 0x60;
        wr16(b + 4, (uint16_t)(len - 40));
        b[6] = tcp ? 6 : 17;
        b[7] = 64;
        inet_pton(AF_INET6, "2001:db8::9", b + 8);
        inet_pton(AF_INET6, "2001:db8::5", b + 24);
    } else {
        b[0] = 0x45;
        wr16(b + 2, (uint16_t)len);
        wr16(b + 6, 0x4000); /* DF */
        b[8] = 64;
        b[9] = tcp ? 6 : 17;
        inet_pton(AF_INET, "10.1.0.9", b + 12);
        inet_pton(AF_INET, "10.1.0.5", b + 16);
        wr16(b + 10, (uint16_t)~sum16(b, 20, 0));
    }
    wr16(t, 40000);
    wr16(t + 2, 80);
    if (tcp) {
        t[12] = (uint8_t)((20 + optlen) / 4 << 4);
        t[13] = flags;
        wr16(t + 14, 64240);
        if (optlen)
            memcpy(t + 20, opts, optlen);
        ck = t + 16;
    } else {
        wr16(t + 4, (uint16_t)(8 + plen));
        ck = t + 6;
    }
    for (size_t i = 0; i < plen; i++)
        t[l4 + i] = (uint8_t)(i * 7 + 3);
    wr16(ck, (uint16_t)~sum16(t, l4 + plen, pseudo(b, len)));
    return len;
}

static void test_inner_checksums(void **st)
{
    uint8_t b[1600], c[1600], orig[1600];
    int fam[2] = {AF_INET, AF_INET6};

    (void)st;
    for (int v6 = 0; v6 < 2; v6++) {
        for (int tcp = 0; tcp < 2; tcp++) {
            size_t len = mkpkt(b, v6, tcp, 0x18, NULL, 0, 1001), hl = v6 ? 40 : 20;
            uint8_t *ck = b + hl + (tcp ? 16 : 6);

            /* complete and right: untouched */
            memcpy(orig, b, len);
            assert_false(dp_inner_csum_complete(b, len, fam[v6]));
            assert_memory_equal(b, orig, len);
            /* wrong in another way (a bit flipped): left for the receiver to drop */
            b[hl + 30] ^= 1;
            memcpy(c, b, len);
            assert_false(dp_inner_csum_complete(b, len, fam[v6]));
            assert_memory_equal(b, c, len);
            b[hl + 30] ^= 1;
            /* CHECKSUM_PARTIAL: the folded pseudo-header sum, as Linux leaves it */
            wr16(ck, (uint16_t)sum16(NULL, 0, pseudo(b, len)));
            assert_false(l4_verifies(b, len));
            assert_true(dp_inner_csum_complete(b, len, fam[v6]));
            assert_true(l4_verifies(b, len));
            assert_memory_equal(b, orig, len); /* the checksum the sender would have put */
        }
    }
    /* a fragment (IPv4 MF) and a TCP header shorter than its data offset: left alone */
    size_t len = mkpkt(b, false, true, 0x18, NULL, 0, 100);
    wr16(b + 20 + 16, (uint16_t)sum16(NULL, 0, pseudo(b, len)));
    wr16(b + 6, 0x2000);
    memcpy(c, b, len);
    assert_false(dp_inner_csum_complete(b, len, AF_INET));
    assert_memory_equal(b, c, len);
    assert_false(dp_inner_csum_complete(b, 30, AF_INET));
}

/* The Internet checksum eight bytes at a time (dp_bytes.h) against the byte-wise
 * sum above: every length up to 300 and long ones, odd included, from every
 * alignment, over data that carries a lot (0xff), none, random bytes and a
 * mixture; and csum() with a starting sum. */
static void test_csum_wide(void **st)
{
    static uint8_t buf[9100];
    static const size_t longs[] = {1399, 1400, 1401, 1472, 2047, 4096, 9001};
    uint32_t x = 12345;

    (void)st;
    for (int pat = 0; pat < 4; pat++) {
        for (size_t i = 0; i < sizeof(buf); i++) {
            x = x * 1103515245u + 12345u;
            buf[i] = pat == 0 ? 0xff : pat == 1 ? 0 : pat == 2 ? (uint8_t)(x >> 16) : (i % 5 ? 0xff : (uint8_t)(x >> 24));
        }
        for (size_t off = 0; off < 16; off++) {
            for (size_t len = 0; len <= 300; len++)
                assert_int_equal(csum_sum(buf + off, len), sum16(buf + off, len, 0));
            for (size_t k = 0; k < sizeof(longs) / sizeof(longs[0]); k++) {
                assert_int_equal(csum_sum(buf + off, longs[k]), sum16(buf + off, longs[k], 0));
                assert_int_equal(csum(buf + off, longs[k], 0x1fffe), (uint16_t)~sum16(buf + off, longs[k], 0x1fffe));
            }
        }
    }
    /* all zero sums to 0; all 0xff to 0xffff (negative zero), never folded to 0 */
    memset(buf, 0, 64);
    assert_int_equal(csum_sum(buf, 64), 0);
    memset(buf, 0xff, 64);
    assert_int_equal(csum_sum(buf, 64), 0xffff);
    assert_int_equal(csum_sum(buf, 63), sum16(buf, 63, 0));
    /* past a vector block (2 MiB) and around its lanes' limits: all 0xff */
    {
        static const size_t bigs[] = {((size_t)1 << 20) + 35, ((size_t)1 << 21), ((size_t)1 << 21) + 77};
        uint8_t *big = malloc(((size_t)1 << 21) + 80);

        assert_non_null(big);
        memset(big, 0xff, ((size_t)1 << 21) + 80);
        for (size_t k = 0; k < sizeof(bigs) / sizeof(bigs[0]); k++)
            assert_int_equal(csum_sum(big, bigs[k]), sum16_long(big, bigs[k]));
        free(big);
    }
}

static void test_mss_clamp(void **st)
{
    /* MSS first; and after a NOP, at an odd offset (the value straddles two
     * checksum words) */
    static const uint8_t even[] = {2, 4, 0x05, 0xb4, 1, 3, 3, 7}, odd[] = {1, 2, 4, 0x05, 0xb4, 1, 1, 0};
    uint8_t b[200], c[200];
    int fam[2] = {AF_INET, AF_INET6};

    (void)st;
    for (int v6 = 0; v6 < 2; v6++) {
        size_t hl = v6 ? 40 : 20, len;

        len = mkpkt(b, v6, true, 0x02, even, sizeof(even), 0); /* SYN, MSS 1460 */
        assert_true(dp_inner_mss_clamp(b, len, fam[v6], 1200));
        assert_int_equal(rd16(b + hl + 22), 1200);
        assert_true(l4_verifies(b, len));
        len = mkpkt(b, v6, true, 0x12, odd, sizeof(odd), 0); /* SYN-ACK */
        assert_true(dp_inner_mss_clamp(b, len, fam[v6], 1000));
        assert_int_equal(rd16(b + hl + 23), 1000);
        assert_true(l4_verifies(b, len));
        /* already small enough, not a SYN, no clamp set: untouched */
        memcpy(c, b, len);
        assert_false(dp_inner_mss_clamp(b, len, fam[v6], 1100));
        len = mkpkt(b, v6, true, 0x10, even, sizeof(even), 10);
        memcpy(c, b, len);
        assert_false(dp_inner_mss_clamp(b, len, fam[v6], 1200));
        assert_false(dp_inner_mss_clamp(b, len, fam[v6], 0));
        assert_memory_equal(b, c, len);
    }
    /* a wrong checksum stays wrong (the update is incremental); a truncated
     * option list ends the walk */
    size_t len = mkpkt(b, false, true, 0x02, even, sizeof(even), 0);
    b[20 + 16] ^= 0x40;
    assert_true(dp_inner_mss_clamp(b, len, AF_INET, 1200));
    assert_false(l4_verifies(b, len));
    static const uint8_t bad[] = {3, 9, 0, 0, 2, 4, 5, 0xb4};
    len = mkpkt(b, false, true, 0x02, bad, sizeof(bad), 0);
    assert_false(dp_inner_mss_clamp(b, len, AF_INET, 1200));
}

static struct dp_sa gcm(uint64_t session, uint32_t spi, bool inbound)
{
    struct dp_sa sa = {.spi = spi, .inbound = inbound, .session_id = session, .cipher = DP_CIPHER_AES_GCM_16,
                       .key_len = 20};

    return sa;
}

static struct dp_sa routed(uint64_t session, uint32_t spi, const char *start, const char *end)
{
    struct dp_sa sa = gcm(session, spi, false);

    sa.nsel = 1;
    sa.sel[0].family = AF_INET;
    inet_pton(AF_INET, start, sa.sel[0].start);
    inet_pton(AF_INET, end, sa.sel[0].end);
    return sa;
}

static uint32_t route_spi(struct dp *dp, const char *addr)
{
    uint8_t a[4];
    struct dp_rsa *r;

    inet_pton(AF_INET, addr, a);
    rcu_thread_online();
    r = dp_lookup_route(dp, AF_INET, a);
    rcu_thread_offline();
    return r ? r->conf.spi : 0;
}

static void test_worker_view(void **st)
{
    struct dp *dp = dp_new();
    struct dp_sa host = routed(1, 0x100, "10.1.0.5", "10.1.0.5");
    struct dp_sa range = routed(2, 0x200, "10.1.0.1", "10.1.0.14"); /* .1/32 .2/31 .4/30 .8/30 .12/31 .14/32 */
    struct dp_sa wide = routed(3, 0x300, "10.0.0.0", "10.255.255.255");
    struct dp_sa rekeyed = routed(2, 0x201, "10.1.0.1", "10.1.0.14");
    struct dp_sa in = gcm(1, 0x4000, true);
    struct dp_sa bad = routed(4, 0x400, "10.1.0.9", "10.1.0.8");

    (void)st;
    assert_int_equal(dp_sa_add(dp, &wide), 0);
    assert_int_equal(dp_sa_add(dp, &range), 0);
    assert_int_equal(dp_sa_add(dp, &host), 0);
    assert_int_equal(dp_sa_add(dp, &in), 0);
    assert_int_equal(dp_sa_add(dp, &bad), -EINVAL); /* start after end */
    assert_int_equal(route_spi(dp, "10.1.0.5"), 0x100); /* /32 beats the range's /30 */
    assert_int_equal(route_spi(dp, "10.1.0.4"), 0x200);
    assert_int_equal(route_spi(dp, "10.1.0.1"), 0x200);
    assert_int_equal(route_spi(dp, "10.1.0.14"), 0x200);
    assert_int_equal(route_spi(dp, "10.1.0.0"), 0x300); /* just outside the range */
    assert_int_equal(route_spi(dp, "10.1.0.15"), 0x300);
    assert_int_equal(route_spi(dp, "11.0.0.1"), 0);
    rcu_thread_online();
    assert_non_null(dp_lookup_in(dp, 0x4000));
    assert_null(dp_lookup_in(dp, 0x4001));
    assert_null(dp_lookup_in(dp, 0x100)); /* outbound SPIs are not looked up inbound */
    rcu_thread_offline();
    /* a rekey: the new SA takes the prefixes at once, the old one leaves them */
    assert_int_equal(dp_sa_add(dp, &rekeyed), 0);
    assert_int_equal(route_spi(dp, "10.1.0.9"), 0x201);
    assert_int_equal(dp_sa_del(dp, 2, 0x201, false, NULL), 0); /* the newer goes first (e.g. a failed rekey) */
    assert_int_equal(route_spi(dp, "10.1.0.9"), 0x200);
    assert_int_equal(dp_sa_del(dp, 2, 0x200, false, NULL), 0);
    assert_int_equal(route_spi(dp, "10.1.0.9"), 0x300);
    assert_int_equal(dp_sa_del(dp, 3, 0x300, false, NULL), 0);
    assert_int_equal(route_spi(dp, "10.1.0.9"), 0);
    assert_int_equal(route_spi(dp, "10.1.0.5"), 0x100);
    dp_free(dp);
}

static void test_names(void **st)
{
    struct dp *dp = dp_new();
    struct dp_sa a = gcm(1, 0xc0000001, false), b = gcm(2, 0xc0000001, false), in = gcm(1, 0x1000, true);
    struct dp_sa_stats s;

    assert_int_equal(dp_sa_add(dp, &a), 0);
    assert_int_equal(dp_sa_add(dp, &b), 0); /* two clients chose the same SPI */
    assert_int_equal(dp_sa_add(dp, &a), -EEXIST);
    assert_int_equal(dp_sa_add(dp, &in), 0);
    in.session_id = 2;
    assert_int_equal(dp_sa_add(dp, &in), -EEXIST); /* inbound SPIs are ours and unique */
    assert_true(dp_spi_in_use(dp, 0x1000));
    assert_int_equal(dp_sa_count(dp), 3);
    assert_int_equal(dp_sa_stats(dp, 2, 0xc0000001, false, &s), 0);
    assert_int_equal(dp_sa_del(dp, 1, 0xc0000001, false, NULL), 0);
    assert_int_equal(dp_sa_stats(dp, 1, 0xc0000001, false, &s), -ENOENT);
    assert_int_equal(dp_sa_stats(dp, 2, 0xc0000001, false, &s), 0);
    dp_free(dp);
}

static void test_keys_and_move(void **st)
{
    struct dp *dp = dp_new();
    struct dp_sa bad = gcm(1, 0x2000, true), cbc = gcm(1, 0x2001, true);
    struct sockaddr_storage l = {.ss_family = AF_INET}, p = {.ss_family = AF_INET};

    bad.key_len = 17;
    assert_int_equal(dp_sa_add(dp, &bad), -EINVAL);
    bad = gcm(1, 10, true); /* SPIs below 256 are reserved (RFC 4303) */
    assert_int_equal(dp_sa_add(dp, &bad), -EINVAL);
    cbc.cipher = DP_CIPHER_AES_CBC;
    cbc.key_len = 16;
    assert_int_equal(dp_sa_add(dp, &cbc), -EINVAL); /* CBC needs an integrity key */
    cbc.integ = DP_INTEG_HMAC_SHA2_256_128;
    cbc.integ_key_len = 32;
    assert_int_equal(dp_sa_add(dp, &cbc), 0);
    assert_int_equal(dp_sa_add(dp, &(struct dp_sa){.spi = 0x3000, .session_id = 1, .cipher = DP_CIPHER_AES_GCM_16,
                                                   .key_len = 36}),
                     0);
    assert_int_equal(dp_session_move(dp, 1, &l, &p, true), 2);
    assert_int_equal(dp_session_move(dp, 7, &l, &p, true), 0);
    dp_free(dp);
}

/* ---- on a detached worker ---- */

static const uint8_t tkey[20] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20};

static struct dp_sa lifetime_sa(uint32_t spi, bool inbound)
{
    struct dp_sa sa = routed(1, spi, "10.1.0.0", "10.1.0.255");
    struct sockaddr_in *l = (void *)&sa.local, *p = (void *)&sa.peer;

    sa.inbound = inbound;
    memcpy(sa.key, tkey, sizeof(tkey));
    l->sin_family = p->sin_family = AF_INET;
    inet_pton(AF_INET, "192.0.2.1", &l->sin_addr);
    inet_pton(AF_INET, "192.0.2.2", &p->sin_addr);
    return sa;
}

/* A frame on the worker's interface @xs: @ip (@len bytes) behind an Ethernet
 * header, in a frame of its own, processed as received. */
static void feed(struct dp_worker *w, size_t xs, const uint8_t *ip, size_t len)
{
    uint64_t fa = w->free[--w->nfree];
    uint8_t *f = (uint8_t *)w->area + fa + 256;

    memcpy(f, "\x02\0\0\0\0\x01\x02\0\0\0\0\x02", 12);
    wr16(f + 12, ip[0] >> 4 == 4 ? 0x0800 : 0x86dd);
    memcpy(f + 14, ip, len);
    dp_fwd_one(w, &w->xs[xs], fa + 256, (uint32_t)(14 + len));
}

/* ESP from the client (the inbound SA's key): outer IPv4 to us, sequence @seq. */
static void feed_esp(struct dp_worker *w, struct esp_xform *x, uint32_t spi, uint32_t seq, const uint8_t *inner,
                     size_t ilen)
{
    uint8_t b[2048] = {0}, *in = b + 20 + ESP_HEAD_MAX;
    int n;

    memcpy(in, inner, ilen);
    n = esp_seal(x, spi, seq, 4, in, ilen);
    assert_true(n > 0);
    uint8_t *ip = in - esp_head_len(x) - 20;
    ip[0] = 0x45;
    wr16(ip + 2, (uint16_t)(20 + n));
    ip[8] = 64;
    ip[9] = 50;
    inet_pton(AF_INET, "192.0.2.2", ip + 12);
    inet_pton(AF_INET, "192.0.2.1", ip + 16);
    wr16(ip + 10, (uint16_t)~sum16(ip, 20, 0));
    feed(w, 0, ip, 20 + (size_t)n);
}

static void test_hard_lifetimes(void **st)
{
    static const enum dp_role roles[] = {DP_ROLE_OUTSIDE, DP_ROLE_INSIDE};
    struct dp *dp = dp_new();
    struct dp_sa out = lifetime_sa(0x500, false), in = lifetime_sa(0x600, true);
    struct esp_params ep = {.cipher = DP_CIPHER_AES_GCM_16, .key = tkey, .key_len = 20};
    struct esp_xform *client = esp_xform_new(&ep, true);
    struct dp_worker *w;
    struct dp_sa_ref refs[4];
    struct dp_sa_stats so, si;
    uint8_t pkt[1600];
    size_t len = mkpkt(pkt, false, false, 0, NULL, 0, 72); /* 100 bytes */

    (void)st;
    out.hard_packets = 3;
    out.soft_packets = 2;
    /* inbound: 250 bytes allow two packets of 100, not a third */
    in.hard_bytes = 250;
    in.sel[0].family = AF_INET;
    inet_pton(AF_INET, "10.1.0.9", in.sel[0].start);
    inet_pton(AF_INET, "10.1.0.9", in.sel[0].end);
    assert_int_equal(dp_sa_add(dp, &out), 0);
    assert_int_equal(dp_sa_add(dp, &in), 0);
    assert_non_null(client);
    assert_non_null(w = dp_worker_detached(dp, roles, 2));
    dp_rcu_enter();
    /* outbound: the inside host to the client (10.1.0.9 -> 10.1.0.5) */
    for (int i = 0; i < 5; i++)
        feed(w, 1, pkt, len);
    dp_rcu_leave();
    assert_int_equal(dp_sa_stats(dp, 1, 0x500, false, &so), 0);
    assert_int_equal(so.packets, 3);
    assert_int_equal(w->xs[1].ifc->ctr[0].drops[DP_DROP_EXPIRED], 2);
    assert_int_equal(dp_soft_expired(dp, refs, 4), 1);
    assert_int_equal(dp_hard_expired(dp, refs, 4), 1);
    assert_int_equal(refs[0].spi, 0x500);
    assert_false(refs[0].inbound);
    assert_int_equal(dp_hard_expired(dp, refs, 4), 0); /* reported once */
    /* inbound: 10.1.0.9 (the client) to 10.2.0.5 (inside, not a client) */
    pkt[17] = 2;
    wr16(pkt + 10, 0);
    wr16(pkt + 10, (uint16_t)~sum16(pkt, 20, 0));
    dp_rcu_enter();
    for (uint32_t seq = 1; seq <= 4; seq++)
        feed_esp(w, client, 0x600, seq, pkt, len);
    dp_rcu_leave();
    assert_int_equal(dp_sa_stats(dp, 1, 0x600, true, &si), 0);
    assert_int_equal(si.packets, 2);
    assert_int_equal(si.bytes, 200);
    assert_int_equal(w->xs[0].ifc->ctr[0].drops[DP_DROP_EXPIRED], 2);
    assert_int_equal(dp_hard_expired(dp, refs, 4), 1);
    assert_int_equal(refs[0].spi, 0x600);
    assert_true(refs[0].inbound);
    dp_worker_detached_drain(w);
    dp_worker_detached_free(w);
    esp_xform_free(client);
    dp_free(dp);
}

/* A session's bandwidth limit (dp_session_police) on a detached worker: a
 * burst of 3000 bytes (the least) at 8 kbit/s passes 30 packets of 100 bytes
 * in each direction and polices the rest, counted on the session and on the
 * interface; SAs added before the limit and after both take it; raising the
 * limit lets packets pass again at once; the limit goes with the session. */
static void test_police(void **st)
{
    static const enum dp_role roles[] = {DP_ROLE_OUTSIDE, DP_ROLE_INSIDE};
    struct dp *dp = dp_new();
    struct dp_sa out = lifetime_sa(0x500, false), in = lifetime_sa(0x600, true);
    struct esp_params ep = {.cipher = DP_CIPHER_AES_GCM_16, .key = tkey, .key_len = 20};
    struct esp_xform *client = esp_xform_new(&ep, true);
    struct dp_police_conf slow = {.kbps = 8, .burst = 1}, fast = {.kbps = 1000000};
    struct dp_police_stats ps;
    struct dp_sa_stats so, si;
    struct dp_worker *w;
    uint8_t pkt[1600];
    size_t len = mkpkt(pkt, false, false, 0, NULL, 0, 72); /* 100 bytes */
    uint32_t seq = 1;

    (void)st;
    in.sel[0].family = AF_INET;
    inet_pton(AF_INET, "10.1.0.9", in.sel[0].start);
    inet_pton(AF_INET, "10.1.0.9", in.sel[0].end);
    assert_int_equal(dp_session_police_stats(dp, 1, &ps), -ENOENT);
    assert_int_equal(dp_sa_add(dp, &out), 0);              /* before the limit */
    assert_int_equal(dp_session_police(dp, 1, &slow, &slow), 0);
    assert_int_equal(dp_sa_add(dp, &in), 0);               /* after it */
    assert_non_null(client);
    assert_non_null(w = dp_worker_detached(dp, roles, 2));
    dp_rcu_enter();
    for (int i = 0; i < 40; i++) {
        feed(w, 1, pkt, len);
        dp_worker_detached_drain(w);
    }
    dp_rcu_leave();
    assert_int_equal(dp_sa_stats(dp, 1, 0x500, false, &so), 0);
    /* 30 to 31: the clock runs meanwhile (8 kbit/s is a byte a millisecond) */
    assert_true(so.packets >= 30 && so.packets <= 31);
    assert_int_equal(w->xs[1].ifc->ctr[0].drops[DP_DROP_POLICED], 40 - so.packets);
    assert_int_equal(dp_session_police_stats(dp, 1, &ps), 0);
    assert_int_equal(ps.packets[1], 40 - so.packets);
    assert_int_equal(ps.bytes[1], 100 * (40 - so.packets));
    assert_int_equal(ps.packets[0], 0);
    /* inbound: the client to an inside host, policed after decryption */
    pkt[17] = 2;
    wr16(pkt + 10, 0);
    wr16(pkt + 10, (uint16_t)~sum16(pkt, 20, 0));
    dp_rcu_enter();
    for (; seq <= 40; seq++) {
        feed_esp(w, client, 0x600, seq, pkt, len);
        dp_worker_detached_drain(w);
    }
    dp_rcu_leave();
    assert_int_equal(dp_sa_stats(dp, 1, 0x600, true, &si), 0);
    assert_true(si.packets >= 30 && si.packets <= 31);
    assert_int_equal(w->xs[0].ifc->ctr[0].drops[DP_DROP_POLICED], 40 - si.packets);
    assert_int_equal(dp_session_police_stats(dp, 1, &ps), 0);
    assert_int_equal(ps.packets[0], 40 - si.packets);
    /* raised (a CoA): the next 40 pass, nothing re-keyed */
    assert_int_equal(dp_session_police(dp, 1, &fast, &fast), 0);
    dp_rcu_enter();
    for (; seq <= 80; seq++) {
        feed_esp(w, client, 0x600, seq, pkt, len);
        dp_worker_detached_drain(w);
    }
    dp_rcu_leave();
    assert_int_equal(dp_sa_stats(dp, 1, 0x600, true, &so), 0);
    assert_int_equal(so.packets, si.packets + 40);
    /* the session ends: its limit stays while an SA holds it, then goes */
    dp_session_police_del(dp, 1);
    assert_int_equal(dp_session_police_stats(dp, 1, &ps), 0);
    assert_int_equal(dp_sa_del(dp, 1, 0x500, false, NULL), 0);
    assert_int_equal(dp_sa_del(dp, 1, 0x600, true, NULL), 0);
    assert_int_equal(dp_session_police_stats(dp, 1, &ps), -ENOENT);
    dp_worker_detached_free(w);
    esp_xform_free(client);
    dp_free(dp);
}

/* A hard lifetime reached exactly (the last packet it allows) expires the SA at
 * once: it is reported for deletion without waiting for a packet more. */
static void test_hard_lifetime_reached(void **st)
{
    static const enum dp_role roles[] = {DP_ROLE_OUTSIDE, DP_ROLE_INSIDE};
    struct dp *dp = dp_new();
    struct dp_sa out = lifetime_sa(0x500, false), out2 = lifetime_sa(0x501, false);
    struct dp_worker *w;
    struct dp_sa_ref refs[4];
    struct dp_sa_stats so;
    uint8_t pkt[1600];
    size_t len = mkpkt(pkt, false, false, 0, NULL, 0, 72); /* 100 bytes */

    (void)st;
    out.hard_packets = 2;
    assert_int_equal(dp_sa_add(dp, &out), 0);
    assert_non_null(w = dp_worker_detached(dp, roles, 2));
    dp_rcu_enter();
    feed(w, 1, pkt, len);
    dp_rcu_leave();
    assert_int_equal(dp_hard_expired(dp, refs, 4), 0);
    dp_rcu_enter();
    feed(w, 1, pkt, len);
    dp_rcu_leave();
    assert_int_equal(dp_sa_stats(dp, 1, 0x500, false, &so), 0);
    assert_int_equal(so.packets, 2); /* both carried */
    assert_int_equal(dp_hard_expired(dp, refs, 4), 1);
    assert_int_equal(refs[0].spi, 0x500);
    assert_int_equal(dp_sa_del(dp, 1, 0x500, false, NULL), 0);
    /* bytes: two packets of 100 are exactly 200 */
    out2.hard_bytes = 200;
    assert_int_equal(dp_sa_add(dp, &out2), 0);
    dp_rcu_enter();
    feed(w, 1, pkt, len);
    feed(w, 1, pkt, len);
    dp_rcu_leave();
    assert_int_equal(dp_sa_stats(dp, 1, 0x501, false, &so), 0);
    assert_int_equal(so.bytes, 200);
    assert_int_equal(w->xs[1].ifc->ctr[0].drops[DP_DROP_EXPIRED], 0);
    assert_int_equal(dp_hard_expired(dp, refs, 4), 1);
    assert_int_equal(refs[0].spi, 0x501);
    dp_worker_detached_drain(w);
    dp_worker_detached_free(w);
    dp_free(dp);
}

/* The session MTU: an inside packet with DF over it gets "fragmentation needed"
 * carrying it; IPv6 "packet too big" (never under 1280); the clamp from inside. */
static void test_session_mtu(void **st)
{
    static const enum dp_role roles[] = {DP_ROLE_OUTSIDE, DP_ROLE_INSIDE};
    struct dp *dp = dp_new();
    struct dp_sa out = lifetime_sa(0x500, false);
    struct dp_worker *w;
    uint8_t pkt[1600];
    size_t len;

    (void)st;
    out.mtu = 1000;
    out.nsel = 2;
    out.sel[1].family = AF_INET6;
    inet_pton(AF_INET6, "2001:db8::", out.sel[1].start);
    inet_pton(AF_INET6, "2001:db8::ffff", out.sel[1].end);
    assert_int_equal(dp_sa_add(dp, &out), 0);
    assert_non_null(w = dp_worker_detached(dp, roles, 2));
    w->xs[1].has_addr4 = true;
    inet_pton(AF_INET, "10.1.1.1", &w->xs[1].addr4);
    dp_rcu_enter();
    len = mkpkt(pkt, false, false, 0, NULL, 0, 1000 - 28); /* exactly the MTU: passes */
    feed(w, 1, pkt, len);
    assert_int_equal(w->xs[1].ntx, 0);
    len = mkpkt(pkt, false, false, 0, NULL, 0, 1001 - 28);
    feed(w, 1, pkt, len);
    dp_rcu_leave();
    assert_int_equal(w->xs[1].ntx, 1);
    const uint8_t *r = (const uint8_t *)w->area + w->xs[1].txq[0].addr + 14;
    assert_int_equal(r[9], 1);   /* ICMP */
    assert_int_equal(r[20], 3);  /* destination unreachable */
    assert_int_equal(r[21], 4);  /* fragmentation needed */
    assert_int_equal(rd16(r + 26), 1000);
    assert_memory_equal(r + 16, pkt + 12, 4); /* back to the sender */
    assert_int_equal(w->xs[1].ifc->ctr[0].drops[DP_DROP_MTU], 1);
    dp_worker_detached_drain(w);
    /* IPv6: the session's 1000 is below IPv6's minimum; 1280 is the tunnel's MTU */
    w->xs[1].has_addr6 = true;
    inet_pton(AF_INET6, "fd00::1", &w->xs[1].addr6);
    dp_rcu_enter();
    len = mkpkt(pkt, true, false, 0, NULL, 0, 1280 - 48);
    feed(w, 1, pkt, len);
    assert_int_equal(w->xs[1].ntx, 0);
    len = mkpkt(pkt, true, false, 0, NULL, 0, 1281 - 48);
    feed(w, 1, pkt, len);
    dp_rcu_leave();
    assert_int_equal(w->xs[1].ntx, 1);
    r = (const uint8_t *)w->area + w->xs[1].txq[0].addr + 14;
    assert_int_equal(r[6], 58); /* ICMPv6 */
    assert_int_equal(r[40], 2); /* packet too big */
    assert_int_equal(rd16(r + 46), 1280);
    assert_memory_equal(r + 24, pkt + 8, 16);
    dp_worker_detached_drain(w);
    dp_worker_detached_free(w);
    dp_free(dp);
}

/* Every traffic selector the IKE engine may negotiate (IKE_MAX_TS: the client's
 * address and the subnets route accept took) is one the dataplane takes: the
 * last one's source passes and its destination is routed to the SA. */
static void test_selectors_as_many_as_ike(void **st)
{
    struct dp *dp = dp_new();
    struct dp_sa out = routed(1, 0x700, "10.1.0.0", "10.1.0.0");
    uint8_t a[4];
    struct dp_rsa *r;
    char s[32];

    (void)st;
    _Static_assert(DP_MAX_SELECTORS >= IKE_MAX_TS, "the dataplane takes every selector IKE negotiates");
    out.nsel = IKE_MAX_TS;
    for (size_t i = 0; i < IKE_MAX_TS; i++) {
        out.sel[i].family = AF_INET;
        snprintf(s, sizeof(s), "10.1.%zu.0", i);
        inet_pton(AF_INET, s, out.sel[i].start);
        snprintf(s, sizeof(s), "10.1.%zu.255", i);
        inet_pton(AF_INET, s, out.sel[i].end);
    }
    assert_int_equal(dp_sa_add(dp, &out), 0);
    snprintf(s, sizeof(s), "10.1.%d.7", IKE_MAX_TS - 1);
    assert_int_equal(route_spi(dp, s), 0x700);
    inet_pton(AF_INET, s, a);
    rcu_thread_online();
    r = dp_lookup_route(dp, AF_INET, a);
    assert_non_null(r);
    assert_true(dp_sel_match(&r->conf, AF_INET, a));
    rcu_thread_offline();
    dp_free(dp);
}

/* ---- SA state in the caller's memory (dp_sa.live), continued with adopt ---- */


/* The sequence number of the one ESP packet the worker sent on its outside
 * interface (xs 0) for the last packet fed inside, or 0 if none; drained. */
static uint32_t sent_seq(struct dp_worker *w)
{
    const uint8_t *f;
    uint32_t seq = 0;

    if (w->xs[0].ntx == 1) {
        f = (const uint8_t *)w->area + w->xs[0].txq[0].addr;
        seq = (uint32_t)rd16(f + 14 + 20 + 4) << 16 | rd16(f + 14 + 20 + 6);
    }
    dp_worker_detached_drain(w);
    return seq;
}

static uint32_t send_one(struct dp_worker *w, const uint8_t *pkt, size_t len)
{
    dp_rcu_enter();
    feed(w, 1, pkt, len);
    dp_rcu_leave();
    return sent_seq(w);
}

/* Outbound: the sequence number continues where the live memory says (a new
 * process taking the SA over), counters too; without adopt it starts again. */
static void test_live_outbound(void **st)
{
    static const enum dp_role roles[] = {DP_ROLE_OUTSIDE, DP_ROLE_INSIDE};
    static struct dp_sa_live live;
    struct dp *dp = dp_new();
    struct dp_sa out = lifetime_sa(0x500, false);
    struct dp_nh nh = {.ifindex = -1}; /* everything leaves on the outside (xs 0) */
    struct dp_worker *w;
    struct dp_sa_stats so;
    uint8_t pkt[1600];
    size_t len = mkpkt(pkt, false, false, 0, NULL, 0, 72); /* 100 bytes */

    (void)st;
    memset(&live, 0xab, sizeof(live)); /* what a slot may hold: reset without adopt */
    out.live = &live;
    assert_int_equal(dp_sa_add(dp, &out), 0);
    assert_non_null(w = dp_worker_detached(dp, roles, 2));
    w->detached_nh = &nh;
    for (uint32_t i = 1; i <= 5; i++)
        assert_int_equal(send_one(w, pkt, len), i);
    assert_int_equal(atomic_load(&live.seq), 5); /* the workers write the caller's memory */
    assert_int_equal(live.ctr[0].packets, 5);
    assert_int_equal(dp_sa_stats(dp, 1, 0x500, false, &so), 0);
    assert_int_equal(so.seq, 5);
    assert_int_equal(so.packets, 5);
    assert_int_equal(so.bytes, 500);
    assert_int_equal(dp_sa_del(dp, 1, 0x500, false, &so), 0);
    assert_int_equal(so.seq, 5);
    /* taken over: the next number, counters continued */
    out.adopt = true;
    assert_int_equal(dp_sa_add(dp, &out), 0);
    assert_int_equal(send_one(w, pkt, len), 6);
    assert_int_equal(send_one(w, pkt, len), 7);
    assert_int_equal(dp_sa_stats(dp, 1, 0x500, false, &so), 0);
    assert_int_equal(so.seq, 7);
    assert_int_equal(so.packets, 7);
    assert_int_equal(so.bytes, 700);
    assert_int_equal(dp_sa_del(dp, 1, 0x500, false, NULL), 0);
    /* a new SA over the same memory: from 1 */
    out.adopt = false;
    assert_int_equal(dp_sa_add(dp, &out), 0);
    assert_int_equal(send_one(w, pkt, len), 1);
    assert_int_equal(dp_sa_stats(dp, 1, 0x500, false, &so), 0);
    assert_int_equal(so.packets, 1);
    assert_int_equal(dp_sa_del(dp, 1, 0x500, false, NULL), 0);
    /* no memory given: the dataplane's own, fresh (adopt has nothing to continue) */
    out.live = NULL;
    out.adopt = true;
    assert_int_equal(dp_sa_add(dp, &out), 0);
    assert_int_equal(send_one(w, pkt, len), 1);
    assert_int_equal(send_one(w, pkt, len), 2);
    assert_int_equal(live.seq, 1); /* not the caller's memory any more */
    dp_worker_detached_free(w);
    dp_free(dp);
}

static void recv_esp(struct dp_worker *w, struct esp_xform *client, uint32_t seq, const uint8_t *pkt, size_t len)
{
    dp_rcu_enter();
    feed_esp(w, client, 0x600, seq, pkt, len);
    dp_rcu_leave();
    dp_worker_detached_drain(w);
}

/* Inbound: the replay window continues (what was seen before the take-over is a
 * replay after it), counters too, and the hard lifetime's charge: a limit
 * reached partly before and partly after. */
static void test_live_inbound(void **st)
{
    static const enum dp_role roles[] = {DP_ROLE_OUTSIDE, DP_ROLE_INSIDE};
    static struct dp_sa_live live;
    struct dp *dp = dp_new();
    struct dp_sa in = lifetime_sa(0x600, true);
    struct esp_params ep = {.cipher = DP_CIPHER_AES_GCM_16, .key = tkey, .key_len = 20};
    struct esp_xform *client = esp_xform_new(&ep, true);
    struct dp_worker *w;
    struct dp_sa_stats si;
    struct dp_sa_ref refs[4];
    uint8_t pkt[1600];
    size_t len = mkpkt(pkt, false, false, 0, NULL, 0, 72); /* 100 bytes */

    (void)st;
    /* 10.1.0.9 (the client) to 10.2.0.5 (inside) */
    pkt[17] = 2;
    wr16(pkt + 10, 0);
    wr16(pkt + 10, (uint16_t)~sum16(pkt, 20, 0));
    in.sel[0].family = AF_INET;
    inet_pton(AF_INET, "10.1.0.9", in.sel[0].start);
    inet_pton(AF_INET, "10.1.0.9", in.sel[0].end);
    in.replay_window = 64;
    in.hard_bytes = 1000; /* ten packets */
    memset(&live, 0xcd, sizeof(live));
    in.live = &live;
    assert_non_null(client);
    assert_int_equal(dp_sa_add(dp, &in), 0);
    assert_non_null(w = dp_worker_detached(dp, roles, 2));
    for (uint32_t seq = 1; seq <= 6; seq++)
        recv_esp(w, client, seq, pkt, len);
    recv_esp(w, client, 3, pkt, len); /* a replay */
    assert_int_equal(dp_sa_stats(dp, 1, 0x600, true, &si), 0);
    assert_int_equal(si.packets, 6);
    assert_int_equal(si.replay_drops, 1);
    assert_int_equal(si.seq, 6); /* the window's top */
    assert_int_equal(live.replay_top, 6);
    assert_int_equal(atomic_load(&live.life_bytes), 600);
    assert_int_equal(dp_sa_del(dp, 1, 0x600, true, NULL), 0);
    /* taken over */
    in.adopt = true;
    assert_int_equal(dp_sa_add(dp, &in), 0);
    for (uint32_t seq = 1; seq <= 6; seq++)
        recv_esp(w, client, seq, pkt, len); /* each seen before: replays */
    assert_int_equal(dp_sa_stats(dp, 1, 0x600, true, &si), 0);
    assert_int_equal(si.packets, 6);
    assert_int_equal(si.replay_drops, 7);
    recv_esp(w, client, 8, pkt, len);
    recv_esp(w, client, 7, pkt, len); /* new, below the top */
    recv_esp(w, client, 7, pkt, len);
    assert_int_equal(dp_sa_stats(dp, 1, 0x600, true, &si), 0);
    assert_int_equal(si.packets, 8);
    assert_int_equal(si.bytes, 800);
    assert_int_equal(si.replay_drops, 8);
    assert_int_equal(si.seq, 8);
    /* the hard lifetime: 600 bytes charged before, 400 after reach 1000 */
    assert_int_equal(dp_hard_expired(dp, refs, 4), 0);
    recv_esp(w, client, 9, pkt, len);
    recv_esp(w, client, 10, pkt, len);
    assert_int_equal(dp_hard_expired(dp, refs, 4), 1);
    recv_esp(w, client, 11, pkt, len);
    assert_int_equal(dp_sa_stats(dp, 1, 0x600, true, &si), 0);
    assert_int_equal(si.packets, 10);
    assert_int_equal(w->xs[0].ifc->ctr[0].drops[DP_DROP_EXPIRED], 1);
    assert_int_equal(dp_sa_del(dp, 1, 0x600, true, NULL), 0);
    /* an expired SA taken over stays expired, and is reported to the new process */
    assert_int_equal(dp_sa_add(dp, &in), 0);
    assert_int_equal(dp_hard_expired(dp, refs, 4), 1);
    recv_esp(w, client, 12, pkt, len);
    assert_int_equal(w->xs[0].ifc->ctr[0].drops[DP_DROP_EXPIRED], 2);
    assert_int_equal(dp_sa_del(dp, 1, 0x600, true, NULL), 0);
    /* a new SA over the same memory: a fresh window, counters and charge */
    in.adopt = false;
    assert_int_equal(dp_sa_add(dp, &in), 0);
    recv_esp(w, client, 3, pkt, len);
    assert_int_equal(dp_sa_stats(dp, 1, 0x600, true, &si), 0);
    assert_int_equal(si.packets, 1);
    assert_int_equal(si.replay_drops, 0);
    assert_int_equal(si.seq, 3);
    assert_int_equal(atomic_load(&live.life_bytes), 100);
    dp_worker_detached_free(w);
    esp_xform_free(client);
    dp_free(dp);
}

/* The once-a-second reports (dp_soft_expired, dp_hard_expired, dp_floated) look
 * only at SAs that may have one: none of many SAs without limits; those with a
 * limit, the inbound UDP-encapsulated ones, an inbound SA once a move makes it
 * UDP-encapsulated, one taken over already expired (and reported); none once
 * deleted, wherever it stood on the list. */
static void test_watch(void **st)
{
    struct dp *dp = dp_new();
    struct dp_sa sa;
    struct dp_sa_ref refs[4];
    struct dp_float fl[4];
    struct sockaddr_storage l, p;
    struct dp_sa_live *live = aligned_alloc(64, sizeof(*live));

    (void)st;
    assert_non_null(live);
    memset(live, 0, sizeof(*live));
    for (uint32_t i = 0; i < 100; i++) {
        sa = lifetime_sa(0x1000 + i, i % 2 == 0);
        sa.session_id = 100 + i;
        assert_int_equal(dp_sa_add(dp, &sa), 0);
    }
    assert_int_equal(dp_watch_count(dp), 0);
    sa = lifetime_sa(0x2000, false);
    sa.session_id = 2;
    sa.soft_packets = 5;
    assert_int_equal(dp_sa_add(dp, &sa), 0);
    sa = lifetime_sa(0x2001, true);
    sa.session_id = 2;
    sa.hard_bytes = 1000;
    assert_int_equal(dp_sa_add(dp, &sa), 0);
    sa = lifetime_sa(0x2002, true);
    sa.session_id = 3;
    sa.udp_encap = true;
    assert_int_equal(dp_sa_add(dp, &sa), 0);
    sa = lifetime_sa(0x2003, false); /* outbound: it cannot float */
    sa.session_id = 3;
    sa.udp_encap = true;
    assert_int_equal(dp_sa_add(dp, &sa), 0);
    assert_int_equal(dp_watch_count(dp), 3);
    l = sa.local;
    p = sa.peer;
    assert_int_equal(dp_session_move(dp, 100, &l, &p, true), 1); /* inbound */
    assert_int_equal(dp_session_move(dp, 101, &l, &p, true), 1); /* outbound */
    assert_int_equal(dp_session_move(dp, 100, &l, &p, false), 1); /* stays watched */
    assert_int_equal(dp_watch_count(dp), 4);
    live->expired = 1;
    sa = lifetime_sa(0x2004, true);
    sa.session_id = 4;
    sa.live = live;
    sa.adopt = true;
    assert_int_equal(dp_sa_add(dp, &sa), 0);
    assert_int_equal(dp_watch_count(dp), 5);
    assert_int_equal(dp_hard_expired(dp, refs, 4), 1);
    assert_int_equal(refs[0].spi, 0x2004);
    assert_int_equal(dp_soft_expired(dp, refs, 4), 0);
    assert_int_equal(dp_floated(dp, fl, 4), 0);
    assert_int_equal(dp_sa_del(dp, 2, 0x2001, true, NULL), 0); /* in the middle */
    assert_int_equal(dp_sa_del(dp, 4, 0x2004, true, NULL), 0); /* the last */
    assert_int_equal(dp_sa_del(dp, 2, 0x2000, false, NULL), 0); /* the first */
    assert_int_equal(dp_watch_count(dp), 2);
    sa = lifetime_sa(0x2005, false); /* joins after the last deleted one */
    sa.session_id = 5;
    sa.hard_packets = 1;
    assert_int_equal(dp_sa_add(dp, &sa), 0);
    assert_int_equal(dp_watch_count(dp), 3);
    assert_int_equal(dp_sa_del(dp, 5, 0x2005, false, NULL), 0);
    assert_int_equal(dp_sa_del(dp, 3, 0x2002, true, NULL), 0);
    assert_int_equal(dp_sa_del(dp, 100, 0x1000, true, NULL), 0);
    assert_int_equal(dp_watch_count(dp), 0);
    dp_free(dp);
    free(live);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csum_wide),
        cmocka_unit_test(test_inner_checksums),
        cmocka_unit_test(test_mss_clamp),
        cmocka_unit_test(test_hard_lifetimes),
        cmocka_unit_test(test_police),
        cmocka_unit_test(test_watch),
        cmocka_unit_test(test_hard_lifetime_reached),
        cmocka_unit_test(test_session_mtu),
        cmocka_unit_test(test_live_outbound),
        cmocka_unit_test(test_live_inbound),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_keys_and_move),
        cmocka_unit_test(test_worker_view),
        cmocka_unit_test(test_selectors_as_many_as_ike),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
