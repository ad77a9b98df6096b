/* Unit tests of the pools (daemon/pool): allocation order and wrap-around,
 * exhaustion counted, release, overlap refused, leases carried into the pools
 * of a new configuration with misfits reported by owner, and the address book:
 * addresses claimed from AAA or DHCP, inside and outside the pools, IPv4 and
 * IPv6, never held twice. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/pool/pool.h"

#define A(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

static void test_alloc_release_exhaust(void **st)
{
    struct pool_set *ps = pool_set_new();
    struct pool *p = pool_set_add(ps, "p", A(255, 255, 255, 0));
    uint32_t a, got[3];

    assert_non_null(p);
    assert_null(pool_set_add(ps, "p", 0)); /* names are unique */
    assert_int_equal(pool_add_range(ps, p, A(10, 0, 0, 10), A(10, 0, 0, 11)), 0);
    assert_int_equal(pool_add_range(ps, p, A(10, 0, 1, 1), A(10, 0, 1, 1)), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pool_alloc(ps, "p", 100 + i, &got[i]), 0);
    assert_int_equal(got[0], A(10, 0, 0, 10));
    assert_int_equal(got[1], A(10, 0, 0, 11));
    assert_int_equal(got[2], A(10, 0, 1, 1));
    assert_int_equal(pool_alloc(ps, "p", 9, &a), -ENOSPC);
    assert_int_equal(pool_alloc(ps, "nope", 9, &a), -ENOENT);
    assert_true(pool_release(ps, "p", A(10, 0, 0, 11)));
    assert_false(pool_release(ps, "p", A(10, 0, 0, 11))); /* not leased any more */
    assert_false(pool_release(ps, "p", A(10, 9, 9, 9)));
    assert_int_equal(pool_alloc(ps, "p", 9, &a), 0);
    assert_int_equal(a, A(10, 0, 0, 11)); /* the only free one */
    assert_int_equal(pool_netmask(ps, "p"), A(255, 255, 255, 0));
    pool_set_free(ps);
}

static void test_overlap_and_order(void **st)
{
    struct pool_set *ps = pool_set_new();
    struct pool *p = pool_set_add(ps, "p", 0), *q = pool_set_add(ps, "q", 0);

    assert_int_equal(pool_add_range(ps, p, A(10, 0, 0, 1), A(10, 0, 0, 100)), 0);
    assert_int_equal(pool_add_range(ps, q, A(10, 0, 0, 100), A(10, 0, 0, 200)), -EEXIST);
    assert_int_equal(pool_add_range(ps, q, A(10, 0, 0, 50), A(10, 0, 0, 60)), -EEXIST);
    assert_int_equal(pool_add_range(ps, q, A(10, 0, 1, 5), A(10, 0, 1, 4)), -EINVAL);
    assert_int_equal(pool_add_range(ps, q, A(10, 0, 0, 101), A(10, 0, 0, 200)), 0);
    pool_set_free(ps);
}

static void test_wraps_after_the_last_and_spans_words(void **st)
{
    struct pool_set *ps = pool_set_new();
    struct pool *p = pool_set_add(ps, "p", 0);
    uint32_t a;

    /* 130 addresses: three bitmap words */
    assert_int_equal(pool_add_range(ps, p, A(10, 0, 0, 0), A(10, 0, 0, 129)), 0);
    for (uint32_t i = 0; i < 130; i++) {
        assert_int_equal(pool_alloc(ps, "p", i, &a), 0);
        assert_int_equal(a, A(10, 0, 0, 0) + i);
    }
    assert_int_equal(pool_alloc(ps, "p", 1, &a), -ENOSPC);
    assert_true(pool_release(ps, "p", A(10, 0, 0, 64)));
    assert_true(pool_release(ps, "p", A(10, 0, 0, 3)));
    /* the search goes on after the last address handed out, then wraps */
    assert_int_equal(pool_alloc(ps, "p", 1, &a), 0);
    assert_int_equal(a, A(10, 0, 0, 3));
    assert_int_equal(pool_alloc(ps, "p", 1, &a), 0);
    assert_int_equal(a, A(10, 0, 0, 64));
    pool_set_free(ps);
}

struct misfits {
    int n;
    uint64_t owner[4];
};

static void misfit(const char *pool, uint32_t addr, uint64_t owner, void *arg)
{
    struct misfits *m = arg;

    if (m->n < 4)
        m->owner[m->n] = owner;
    m->n++;
}

static void info(const struct pool_info *pi, void *arg)
{
    if (!strcmp(pi->name, "p"))
        *(uint64_t *)arg = pi->in_use;
}

static void failures_of(const struct pool_info *pi, void *arg)
{
    if (!strcmp(pi->name, "p"))
        ((uint64_t *)arg)[0] = pi->failures;
    if (!strcmp(pi->name, "q"))
        ((uint64_t *)arg)[1] = pi->failures;
}

static void failures_of_c(const struct pool_info *pi, void *arg)
{
    if (!strcmp(pi->name, "c"))
        ((uint64_t *)arg)[0] = pi->failures;
}

static void test_carry(void **st)
{
    struct pool_set *old = pool_set_new(), *nw = pool_set_new(), *gone = pool_set_new();
    struct pool *p = pool_set_add(old, "p", 0), *np = pool_set_add(nw, "p", 0);
    struct misfits m = {0};
    uint32_t a1, a2, a;
    uint64_t in_use = 0;

    pool_set_add(gone, "other", 0);
    pool_set_add(old, "q", 0);
    pool_set_add(nw, "q", 0);
    assert_int_equal(pool_add_range(old, p, A(10, 0, 0, 1), A(10, 0, 0, 2)), 0);
    assert_int_equal(pool_alloc(old, "p", 7, &a1), 0);
    assert_int_equal(pool_alloc(old, "p", 8, &a2), 0);
    assert_int_equal(pool_alloc(old, "p", 9, &a), -ENOSPC);
    /* the new pool keeps .1 but not .2: session 8 is reported */
    assert_int_equal(pool_add_range(nw, np, A(10, 0, 0, 1), A(10, 0, 0, 1)), 0);
    assert_int_equal(pool_add_range(nw, np, A(10, 0, 5, 1), A(10, 0, 5, 9)), 0);
    assert_int_equal(pool_set_carry(nw, old, misfit, &m), 1);
    assert_int_equal(m.n, 1);
    assert_int_equal(m.owner[0], 8);
    pool_set_foreach(nw, info, &in_use);
    assert_int_equal(in_use, 1);
    {
        /* the exhausted pool's failure went along; a pool without any has none */
        uint64_t fails[2] = {9, 9};

        pool_set_foreach(nw, failures_of, fails);
        assert_int_equal(fails[0], 1);
        assert_int_equal(fails[1], 0);
    }
    /* the carried lease is taken in the new pool */
    assert_int_equal(pool_alloc(nw, "p", 10, &a), 0);
    assert_int_equal(a, A(10, 0, 5, 1));
    /* a removed pool reports every lease */
    m.n = 0;
    assert_int_equal(pool_set_carry(gone, old, misfit, &m), 2);
    pool_set_free(old);
    pool_set_free(nw);
    pool_set_free(gone);
}

/* A patch changes pools in place: a replaced pool keeps its place and
 * failures with the new ranges, a removed one goes, an added one comes; a
 * range meeting one the patch keeps is refused, one meeting a range the patch
 * drops is not; a leased pool or a claim a new range would take in refuses the
 * patch; nothing changes before apply, nor with a patch dropped. */
static void test_patch(void **st)
{
    struct pool_set *ps = pool_set_new();
    struct pool *a = pool_set_add(ps, "a", 0), *b = pool_set_add(ps, "b", 0), *c = pool_set_add(ps, "c", 0);
    struct pool_patch *pp;
    struct pool *na, *nd;
    uint32_t r[4][2], addr;
    uint64_t h;

    (void)st;
    assert_int_equal(pool_add_range(ps, a, A(10, 0, 0, 1), A(10, 0, 0, 9)), 0);
    assert_int_equal(pool_add_range(ps, b, A(10, 0, 1, 1), A(10, 0, 1, 9)), 0);
    assert_int_equal(pool_add_range(ps, c, A(10, 0, 2, 1), A(10, 0, 2, 2)), 0);
    assert_int_equal(pool_alloc(ps, "c", 1, &addr), 0);
    assert_int_equal(pool_alloc(ps, "c", 2, &addr), 0);
    assert_int_equal(pool_alloc(ps, "c", 3, &addr), -ENOSPC); /* a failure of c */
    assert_int_equal(pool_release(ps, "c", A(10, 0, 2, 1)), true);
    assert_int_equal(pool_release(ps, "c", A(10, 0, 2, 2)), true);
    assert_int_equal(pool_claim(ps, A(10, 0, 7, 7), 9, &h), 0); /* outside every range */

    pp = pool_patch_new(ps);
    assert_int_equal(pool_patch_del(pp, "a"), 0); /* removals first: their ranges are free for the others */
    assert_int_equal(pool_patch_put(pp, "c", 0xffffff00, &na), 0);
    assert_int_equal(pool_patch_range(pp, na, A(10, 0, 1, 5), A(10, 0, 1, 6)), -EEXIST); /* b's */
    assert_int_equal(pool_patch_range(pp, na, A(10, 0, 0, 5), A(10, 0, 0, 20)), 0);      /* a's: a goes */
    assert_int_equal(pool_patch_range(pp, na, A(10, 0, 0, 30), A(10, 0, 0, 20)), -EINVAL);
    assert_int_equal(pool_patch_del(pp, "a"), -EEXIST);
    assert_int_equal(pool_patch_del(pp, "none"), 0);
    assert_int_equal(pool_patch_put(pp, "d", 0, &nd), 0);
    assert_int_equal(pool_patch_range(pp, nd, A(10, 0, 0, 21), A(10, 0, 0, 22)), 0);
    assert_int_equal(pool_patch_range(pp, nd, A(10, 0, 0, 9), A(10, 0, 0, 9)), -EEXIST); /* the new c's */
    assert_int_equal(pool_patch_put(pp, "c", 0, &na), -EEXIST);
    assert_int_equal(pool_patch_ready(pp), 0);
    /* nothing changed yet */
    assert_int_equal(pool_ranges4(ps, "c", r, 4), 1);
    assert_int_equal(r[0][0], A(10, 0, 2, 1));
    assert_int_equal(pool_ranges4(ps, "a", r, 4), 1);
    assert_int_equal(pool_ranges4(ps, "d", r, 4), 0);
    pool_patch_apply(pp);
    assert_int_equal(pool_ranges4(ps, "a", r, 4), 0);
    assert_int_equal(pool_ranges4(ps, "c", r, 4), 1);
    assert_int_equal(r[0][0], A(10, 0, 0, 5));
    assert_int_equal(r[0][1], A(10, 0, 0, 20));
    assert_int_equal(pool_netmask(ps, "c"), 0xffffff00);
    assert_int_equal(pool_ranges4(ps, "d", r, 4), 1);
    {
        uint64_t fails[2] = {9, 9};

        pool_set_foreach(ps, failures_of_c, fails);
        assert_int_equal(fails[0], 1);
    }
    /* the set finds its pools by address: claims, allocations */
    assert_int_equal(pool_claim(ps, A(10, 0, 0, 21), 5, &h), 0);
    assert_int_equal(pool_alloc(ps, "d", 6, &addr), 0);
    assert_int_equal(addr, A(10, 0, 0, 22));
    assert_int_equal(pool_alloc(ps, "a", 7, &addr), -ENOENT);
    assert_int_equal(pool_alloc(ps, "c", 7, &addr), 0);
    assert_int_equal(addr, A(10, 0, 0, 5));

    /* c is leased now; the claim at 10.0.7.7 would fall in a new range */
    pp = pool_patch_new(ps);
    assert_int_equal(pool_patch_put(pp, "c", 0, &na), -EBUSY);
    assert_int_equal(pool_patch_del(pp, "c"), -EBUSY);
    assert_int_equal(pool_patch_put(pp, "e", 0, &na), 0);
    assert_int_equal(pool_patch_range(pp, na, A(10, 0, 7, 1), A(10, 0, 7, 9)), 0);
    assert_int_equal(pool_patch_ready(pp), -EBUSY);
    pool_patch_free(pp);
    assert_int_equal(pool_ranges4(ps, "e", r, 4), 0);
    pool_set_free(ps);
}

static void test_ipv6(void **st)
{
    static const uint8_t pfx[16] = {0xfd, 0x00, 0x02, 0x01};
    struct pool_set *ps = pool_set_new();
    uint8_t a[16], want[16] = {0xfd, 0x00, 0x02, 0x01};
    unsigned alen;
    uint32_t idx;

    /* single addresses from a /64: the first is ::1 (the prefix itself is the
     * Subnet-Router anycast address) */
    assert_non_null(pool_set_add6(ps, "hosts", pfx, 64, 128));
    assert_int_equal(pool_alloc(ps, "hosts", 1, &idx), 0);
    assert_true(pool6_addr(ps, "hosts", idx, a, &alen));
    want[15] = 1;
    assert_memory_equal(a, want, 16);
    assert_int_equal(alen, 128);
    /* /64 prefixes from a /48: index 1 is fd00:201:0:1::/64 */
    assert_non_null(pool_set_add6(ps, "nets", pfx, 48, 64));
    assert_int_equal(pool_alloc(ps, "nets", 2, &idx), 0);
    assert_int_equal(pool_alloc(ps, "nets", 3, &idx), 0);
    assert_true(pool6_addr(ps, "nets", idx, a, &alen));
    memset(want + 4, 0, 12);
    want[7] = 1;
    assert_memory_equal(a, want, 16);
    assert_int_equal(alen, 64);
    /* assigned length shorter than the prefix, or a /128 pool of one address */
    assert_null(pool_set_add6(ps, "bad", pfx, 64, 48));
    /* a /128 pool is that one address */
    assert_non_null(pool_set_add6(ps, "one", pfx, 128, 128));
    assert_int_equal(pool_alloc(ps, "one", 4, &idx), 0);
    assert_true(pool6_addr(ps, "one", idx, a, &alen));
    assert_memory_equal(a, pfx, 16);
    assert_int_equal(pool_alloc(ps, "one", 5, &idx), -ENOSPC);
    assert_false(pool6_addr(ps, "hosts", 0, a, &alen));
    pool_set_free(ps);
}

static void test_claim4(void **st)
{
    struct pool_set *ps = pool_set_new();
    struct pool *p = pool_set_add(ps, "p", 0);
    uint32_t a;
    uint64_t holder = 0, in_use = 0;

    assert_int_equal(pool_add_range(ps, p, A(10, 0, 0, 1), A(10, 0, 0, 3)), 0);
    /* AAA gives session 1 the first address of the pool: the pool skips it */
    assert_int_equal(pool_claim(ps, A(10, 0, 0, 1), 1, NULL), 0);
    assert_int_equal(pool_claim(ps, A(10, 0, 0, 1), 1, NULL), 0); /* again, the same owner */
    pool_set_foreach(ps, info, &in_use);
    assert_int_equal(in_use, 1);
    assert_int_equal(pool_alloc(ps, "p", 2, &a), 0);
    assert_int_equal(a, A(10, 0, 0, 2));
    /* the reverse order: the pool handed .2 to session 2, AAA gives it to 3 */
    assert_int_equal(pool_claim(ps, A(10, 0, 0, 2), 3, &holder), -EADDRINUSE);
    assert_int_equal(holder, 2);
    assert_int_equal(pool_claim(ps, A(10, 0, 0, 1), 3, &holder), -EADDRINUSE);
    assert_int_equal(holder, 1);
    /* a claim is not a pool lease, nor the other way round */
    assert_false(pool_release(ps, "p", A(10, 0, 0, 1)));
    assert_false(pool_unclaim(ps, A(10, 0, 0, 2), 2));
    assert_false(pool_unclaim(ps, A(10, 0, 0, 1), 3)); /* not the holder */
    /* outside every pool: two sessions still cannot hold one address */
    assert_int_equal(pool_claim(ps, A(192, 168, 9, 9), 4, NULL), 0);
    assert_int_equal(pool_claim(ps, A(192, 168, 9, 9), 5, &holder), -EADDRINUSE);
    assert_int_equal(holder, 4);
    assert_true(pool_unclaim(ps, A(192, 168, 9, 9), 4));
    assert_int_equal(pool_claim(ps, A(192, 168, 9, 9), 5, NULL), 0);
    /* given back, the address is the pool's again */
    assert_true(pool_unclaim(ps, A(10, 0, 0, 1), 1));
    assert_int_equal(pool_alloc(ps, "p", 6, &a), 0);
    assert_int_equal(a, A(10, 0, 0, 3));
    assert_int_equal(pool_alloc(ps, "p", 7, &a), 0);
    assert_int_equal(a, A(10, 0, 0, 1));
    in_use = 0;
    pool_set_foreach(ps, info, &in_use);
    assert_int_equal(in_use, 3);
    pool_set_free(ps); /* frees the claim of session 5 too (LSan) */
}

static void test_claim_carry(void **st)
{
    struct pool_set *old = pool_set_new(), *nw = pool_set_new(), *nw2 = pool_set_new();
    struct pool *p = pool_set_add(old, "p", 0), *np = pool_set_add(nw, "p", 0);
    struct misfits m = {0};
    uint32_t a;
    uint64_t holder = 0;

    assert_int_equal(pool_add_range(old, p, A(10, 0, 0, 1), A(10, 0, 0, 4)), 0);
    assert_int_equal(pool_claim(old, A(10, 0, 0, 1), 1, NULL), 0);  /* in the pool */
    assert_int_equal(pool_claim(old, A(10, 9, 0, 1), 2, NULL), 0);  /* outside */
    /* the new pool covers the outside claim and no longer the inside one */
    assert_int_equal(pool_add_range(nw, np, A(10, 9, 0, 1), A(10, 9, 0, 2)), 0);
    assert_int_equal(pool_set_carry(nw, old, misfit, &m), 0); /* claims never misfit */
    assert_int_equal(pool_alloc(nw, "p", 3, &a), 0);
    assert_int_equal(a, A(10, 9, 0, 2));
    assert_int_equal(pool_claim(nw, A(10, 0, 0, 1), 9, &holder), -EADDRINUSE);
    assert_int_equal(holder, 1);
    assert_true(pool_unclaim(nw, A(10, 9, 0, 1), 2));
    assert_true(pool_unclaim(nw, A(10, 0, 0, 1), 1));
    /* a set with no pool at all still holds claims */
    assert_int_equal(pool_set_carry(nw2, old, misfit, &m), 0);
    assert_int_equal(pool_claim(nw2, A(10, 0, 0, 1), 9, NULL), -EADDRINUSE);
    pool_set_free(old);
    pool_set_free(nw);
    pool_set_free(nw2);
}

static void test_claim6(void **st)
{
    static const uint8_t pfx[16] = {0xfd, 0x00, 0x02, 0x01};
    struct pool_set *ps = pool_set_new(), *nw = pool_set_new();
    uint8_t a[16], aaa[16] = {0xfd, 0x00, 0x02, 0x01}, far[16] = {0x20, 0x01, 0x0d, 0xb8};
    unsigned alen;
    uint32_t idx;
    uint64_t holder = 0;
    struct misfits m = {0};

    assert_non_null(pool_set_add6(ps, "hosts", pfx, 64, 128));
    assert_non_null(pool_set_add6(nw, "hosts", pfx, 64, 128));
    /* AAA gives fd00:201::1, the pool's first: the pool hands out ::2 */
    aaa[15] = 1;
    assert_int_equal(pool_claim6(ps, aaa, 128, 1, NULL), 0);
    assert_int_equal(pool_alloc(ps, "hosts", 2, &idx), 0);
    assert_true(pool6_addr(ps, "hosts", idx, a, &alen));
    assert_int_equal(a[15], 2);
    /* AAA gives the pool's ::2 to another session: refused */
    assert_int_equal(pool_claim6(ps, a, 128, 3, &holder), -EADDRINUSE);
    assert_int_equal(holder, 2);
    /* outside the pools, one holder per prefix */
    assert_int_equal(pool_claim6(ps, far, 64, 4, NULL), 0);
    assert_int_equal(pool_claim6(ps, far, 64, 5, &holder), -EADDRINUSE);
    assert_int_equal(holder, 4);
    assert_int_equal(pool_claim6(ps, far, 129, 5, NULL), -EINVAL);
    /* carried into an unchanged pool, the claim keeps its slot */
    assert_int_equal(pool_set_carry(nw, ps, misfit, &m), 0);
    assert_int_equal(pool_claim6(nw, aaa, 128, 3, NULL), -EADDRINUSE);
    assert_true(pool_unclaim6(nw, aaa, 128, 1));
    assert_true(pool_unclaim6(nw, far, 64, 4));
    assert_false(pool_unclaim6(nw, far, 64, 4));
    assert_int_equal(pool_alloc(nw, "hosts", 6, &idx), 0);
    assert_int_equal(idx, 1); /* given back, ::1 is the pool's again */
    assert_true(pool_release(ps, "hosts", 2));
    assert_true(pool_unclaim6(ps, aaa, 128, 1));
    pool_set_free(ps);
    pool_set_free(nw);
}

/* An IPv6 prefix from AAA shorter than a pool's assigned length covers several
 * of the prefixes the pool hands out: holding one of them would let the pool
 * give the others, inside the client's prefix, to other sessions. */
static void test_claim6_spanning(void **st)
{
    static const uint8_t pfx[16] = {0xfd, 0x00, 0x00, 0x07}; /* fd00:7::/48, a /64 each */
    struct pool_set *ps = pool_set_new(), *nw = pool_set_new();
    uint8_t p56[16] = {0xfd, 0x00, 0x00, 0x07}, p16[16] = {0xfd, 0x00}, beyond[16] = {0xfd, 0x00, 0x00, 0x07};
    uint8_t a[16];
    unsigned alen;
    uint32_t idx;
    struct misfits m = {0};

    (void)st;
    assert_non_null(pool_set_add6(ps, "sites", pfx, 48, 64));
    assert_non_null(pool_set_add6(nw, "sites", pfx, 48, 64));
    /* fd00:7:0:100::/56 holds the pool's /64s 256..511 */
    p56[6] = 0x01;
    assert_int_equal(pool_claim6(ps, p56, 56, 1, NULL), -ERANGE);
    /* a prefix around the whole pool (fd00::/16) */
    assert_int_equal(pool_claim6(ps, p16, 16, 1, NULL), -ERANGE);
    /* nothing was held: the pool still hands out its first /64, and the /56 can
     * still be claimed as its own /64 */
    assert_int_equal(pool_alloc(ps, "sites", 2, &idx), 0);
    assert_true(pool6_addr(ps, "sites", idx, a, &alen));
    assert_int_equal(alen, 64);
    assert_int_equal(pool_claim6(ps, p56, 64, 1, NULL), 0);
    assert_true(pool_unclaim6(ps, p56, 64, 1));
    /* a /56 elsewhere in fd00::/16 covers nothing of the pool */
    beyond[3] = 0x08;
    assert_int_equal(pool_claim6(ps, beyond, 56, 3, NULL), 0);
    assert_true(pool_unclaim6(ps, beyond, 56, 3));
    /* a claim outside the pools that a new configuration's pool would span:
     * the change is refused (a misfit) */
    assert_int_equal(pool_set_carry(nw, ps, misfit, &m), 0);
    pool_set_free(nw);
    nw = pool_set_new();
    assert_int_equal(pool_claim6(ps, beyond, 56, 3, NULL), 0);
    {
        static const uint8_t pfx8[16] = {0xfd, 0x00, 0x00, 0x08};

        assert_non_null(pool_set_add6(nw, "sites", pfx8, 48, 64));
    }
    assert_int_equal(pool_set_carry(nw, ps, misfit, &m), 2); /* the /56 claim, and the lease of "sites" (moved) */
    pool_set_free(ps);
    pool_set_free(nw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_release_exhaust),
        cmocka_unit_test(test_overlap_and_order),
        cmocka_unit_test(test_wraps_after_the_last_and_spans_words),
        cmocka_unit_test(test_carry), cmocka_unit_test(test_patch),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_claim4),
        cmocka_unit_test(test_claim_carry),
        cmocka_unit_test(test_claim6),
        cmocka_unit_test(test_claim6_spanning),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
