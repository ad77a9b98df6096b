/* Unit tests of partitioned pools (daemon/pool, pools/partition): the slicing
 * arithmetic (equal slices, the last taking the remainder, ranges smaller
 * than the count), several ranges each cut, the slices of every member
 * disjoint and together the whole pool, IPv6 pools cut by assigned prefix,
 * allocation wrapping inside the slice, take and carry refusing an address
 * outside the slice, claims (AAA, DHCP) not partitioned and not counted in
 * the slice's use, and the usage alarms measured against the slice's size. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/base/alarm.h"
#include "daemon/pool/pool.h"

#define A(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

static void slice_is(uint64_t n, unsigned count, unsigned index, uint64_t first, uint64_t len)
{
    uint64_t f = 99, l = 99;

    pool_slice(n, count, index, &f, &l);
    assert_int_equal(f, first);
    assert_int_equal(l, len);
}

static void test_slice_arithmetic(void **st)
{
    (void)st;
    /* 10 in 3: 3, 3 and the remainder's 4 */
    slice_is(10, 3, 0, 0, 3);
    slice_is(10, 3, 1, 3, 3);
    slice_is(10, 3, 2, 6, 4);
    /* exact */
    slice_is(256, 4, 3, 192, 64);
    /* fewer than the count: only the last slice has any */
    slice_is(2, 4, 0, 0, 0);
    slice_is(2, 4, 2, 0, 0);
    slice_is(2, 4, 3, 0, 2);
    slice_is(63, 64, 63, 0, 63);
    /* one slice, or none configured: the whole */
    slice_is(7, 1, 0, 0, 7);
    slice_is(7, 0, 0, 0, 7);
    /* an index beyond the count: nothing */
    slice_is(7, 2, 2, 0, 0);
    /* the whole IPv4 space in 64 */
    slice_is(1ULL << 32, 64, 63, 63ULL << 26, 1ULL << 26);
    /* 2^32 - 1 in 64: the last gets the 63 left over */
    slice_is((1ULL << 32) - 1, 64, 63, 63 * (((1ULL << 32) - 1) / 64), ((1ULL << 32) - 1) / 64 + 63);
}

struct sizes {
    const char *name;
    uint64_t size, in_use, failures;
};

static void size_of(const struct pool_info *pi, void *arg)
{
    struct sizes *s = arg;

    if (!strcmp(pi->name, s->name)) {
        s->size = pi->size;
        s->in_use = pi->in_use;
        s->failures = pi->failures;
    }
}

static struct sizes sizes(const struct pool_set *ps, const char *name)
{
    struct sizes s = {.name = name};

    pool_set_foreach(ps, size_of, &s);
    return s;
}

/* The same pool of three ranges (10, 2 and 7 addresses) on member @index of 3. */
static struct pool_set *member(unsigned index)
{
    struct pool_set *ps = pool_set_new();
    struct pool *p;

    pool_set_partition(ps, 3, index);
    p = pool_set_add(ps, "p", 0);
    assert_non_null(p);
    assert_int_equal(pool_add_range(ps, p, A(10, 0, 0, 0), A(10, 0, 0, 9)), 0);
    assert_int_equal(pool_add_range(ps, p, A(10, 0, 1, 0), A(10, 0, 1, 1)), 0);
    assert_int_equal(pool_add_range(ps, p, A(10, 0, 2, 0), A(10, 0, 2, 6)), 0);
    return ps;
}

/* Every range is cut: member 1 of 3 has .3-.5 of the first, nothing of the
 * second (2 < 3: all in the last slice), .2-.3 of the third; the three
 * members together hand out each of the 19 addresses exactly once. */
static void test_several_ranges_disjoint(void **st)
{
    static const uint64_t want_size[3] = {3 + 0 + 2, 3 + 0 + 2, 4 + 2 + 3};
    static const uint32_t one[] = {A(10, 0, 0, 3), A(10, 0, 0, 4), A(10, 0, 0, 5), A(10, 0, 2, 2), A(10, 0, 2, 3)};
    int seen[3][10] = {0};
    uint32_t a;

    (void)st;
    for (unsigned m = 0; m < 3; m++) {
        struct pool_set *ps = member(m);
        uint64_t n = 0;

        assert_int_equal(sizes(ps, "p").size, want_size[m]);
        while (pool_alloc(ps, "p", 1 + n, &a) == 0) {
            assert_true(a >= A(10, 0, 0, 0) && a <= A(10, 0, 2, 6));
            assert_int_equal(seen[(a >> 8) & 0xff][a & 0xff]++, 0);
            if (m == 1)
                assert_int_equal(a, one[n]); /* in order, slice by slice */
            n++;
        }
        assert_int_equal(n, want_size[m]);
        assert_int_equal(sizes(ps, "p").in_use, want_size[m]);
        assert_int_equal(sizes(ps, "p").failures, 1); /* the slice exhausted, not the range */
        pool_set_free(ps);
    }
    for (int r = 0; r < 3; r++) {
        for (int i = 0; i < (r == 0 ? 10 : r == 1 ? 2 : 7); i++)
            assert_int_equal(seen[r][i], 1);
    }
}

/* The search goes on after the last address handed out and wraps to the
 * slice's start, never to the range's. */
static void test_wraps_in_the_slice(void **st)
{
    struct pool_set *ps = pool_set_new();
    struct pool *p;
    uint32_t a;

    (void)st;
    pool_set_partition(ps, 2, 1);
    p = pool_set_add(ps, "p", 0);
    /* 200 addresses: slice 1 is offsets 100..199, across bitmap words */
    assert_int_equal(pool_add_range(ps, p, A(10, 1, 0, 0), A(10, 1, 0, 199)), 0);
    for (uint32_t i = 0; i < 100; i++) {
        assert_int_equal(pool_alloc(ps, "p", i, &a), 0);
        assert_int_equal(a, A(10, 1, 0, 100) + i);
    }
    assert_int_equal(pool_alloc(ps, "p", 1000, &a), -ENOSPC);
    assert_true(pool_release(ps, "p", A(10, 1, 0, 101)));
    assert_true(pool_release(ps, "p", A(10, 1, 0, 150)));
    assert_int_equal(pool_alloc(ps, "p", 1000, &a), 0);
    assert_int_equal(a, A(10, 1, 0, 101));
    assert_int_equal(pool_alloc(ps, "p", 1001, &a), 0);
    assert_int_equal(a, A(10, 1, 0, 150));
    assert_int_equal(sizes(ps, "p").size, 100);
    pool_set_free(ps);
}

struct misfits {
    int n;
    uint32_t addr[4];
    uint64_t owner[4];
};

static void misfit(const char *pool, uint32_t addr, uint64_t owner, void *arg)
{
    struct misfits *m = arg;

    assert_string_equal(pool, "p");
    if (m->n < 4) {
        m->addr[m->n] = addr;
        m->owner[m->n] = owner;
    }
    m->n++;
}

/* A new partition is a new set: the carry keeps the leases in the new slice
 * and reports the others; a take outside the slice is refused. */
static void test_take_and_carry(void **st)
{
    struct pool_set *old = pool_set_new(), *nw = pool_set_new();
    struct pool *p = pool_set_add(old, "p", 0), *np;
    struct misfits m = {0};
    uint32_t a;

    (void)st;
    assert_int_equal(pool_add_range(old, p, A(10, 0, 0, 1), A(10, 0, 0, 8)), 0); /* unpartitioned */
    assert_int_equal(pool_alloc(old, "p", 7, &a), 0);                           /* .1 */
    assert_int_equal(pool_take(old, "p", false, A(10, 0, 0, 6), 8), 0);
    pool_set_partition(nw, 2, 1); /* .5-.8 */
    np = pool_set_add(nw, "p", 0);
    assert_int_equal(pool_add_range(nw, np, A(10, 0, 0, 1), A(10, 0, 0, 8)), 0);
    assert_int_equal(pool_take(nw, "p", false, A(10, 0, 0, 4), 9), -ERANGE);
    assert_int_equal(pool_take(nw, "p", false, A(10, 0, 0, 5), 9), 0);
    assert_int_equal(pool_set_carry(nw, old, misfit, &m), 1);
    assert_int_equal(m.n, 1);
    assert_int_equal(m.owner[0], 7);
    assert_int_equal(m.addr[0], A(10, 0, 0, 1));
    assert_int_equal(sizes(nw, "p").in_use, 2); /* .5 taken and .6 carried */
    assert_int_equal(sizes(nw, "p").size, 4);
    pool_set_free(old);
    pool_set_free(nw);
}

/* An address from AAA or DHCP is not partitioned: claimed anywhere in the
 * range (another member's slice too) once, never handed out, and counted in
 * the slice's use only inside it; a pool held by a claim outside its slice is
 * not patched in place. */
static void test_claims_not_partitioned(void **st)
{
    struct pool_set *ps = pool_set_new();
    struct pool_patch *pp;
    struct pool *p, *np;
    uint64_t h = 0;
    uint32_t a;

    (void)st;
    pool_set_partition(ps, 2, 0); /* .1-.2 of .1-.4 */
    p = pool_set_add(ps, "p", 0);
    assert_int_equal(pool_add_range(ps, p, A(10, 0, 0, 1), A(10, 0, 0, 4)), 0);
    assert_int_equal(pool_claim(ps, A(10, 0, 0, 3), 5, &h), 0); /* another member's slice */
    assert_int_equal(pool_claim(ps, A(10, 0, 0, 3), 6, &h), -EADDRINUSE);
    assert_int_equal(h, 5);
    assert_int_equal(sizes(ps, "p").in_use, 0);
    assert_int_equal(pool_claim(ps, A(10, 0, 0, 1), 6, &h), 0); /* its own */
    assert_int_equal(sizes(ps, "p").in_use, 1);
    assert_int_equal(pool_alloc(ps, "p", 7, &a), 0);
    assert_int_equal(a, A(10, 0, 0, 2));
    assert_int_equal(pool_alloc(ps, "p", 8, &a), -ENOSPC);
    assert_true(pool_unclaim(ps, A(10, 0, 0, 1), 6));
    assert_true(pool_release(ps, "p", A(10, 0, 0, 2)));
    assert_int_equal(sizes(ps, "p").in_use, 0);
    pp = pool_patch_new(ps);
    assert_int_equal(pool_patch_put(pp, "p", 0, &np), -EBUSY); /* .3 is still claimed */
    pool_patch_free(pp);
    assert_true(pool_unclaim(ps, A(10, 0, 0, 3), 5));
    /* free now: a patch's new ranges are cut as the set is */
    pp = pool_patch_new(ps);
    assert_int_equal(pool_patch_put(pp, "p", 0, &np), 0);
    assert_int_equal(pool_patch_range(pp, np, A(10, 0, 0, 1), A(10, 0, 0, 10)), 0);
    assert_int_equal(pool_patch_ready(pp), 0);
    pool_patch_apply(pp);
    assert_int_equal(sizes(ps, "p").size, 5);
    assert_int_equal(pool_alloc(ps, "p", 9, &a), 0);
    assert_int_equal(a, A(10, 0, 0, 1));
    pool_set_free(ps);
}

/* IPv6 pools are cut by assigned prefix: of the lease indexes they hand out
 * (a pool of single addresses skips ::0). */
static void test_ipv6_by_assigned_length(void **st)
{
    static const uint8_t pfx[16] = {0xfd, 0x00, 0x02, 0x01};
    struct pool_set *ps = pool_set_new(), *p0 = pool_set_new();
    uint8_t a[16], want[16] = {0xfd, 0x00, 0x02, 0x01};
    unsigned alen;
    uint32_t idx;

    (void)st;
    pool_set_partition(ps, 2, 1);
    pool_set_partition(p0, 2, 0);
    /* /120 of addresses: indexes 1..255, 127 and 128 */
    assert_non_null(pool_set_add6(ps, "hosts", pfx, 120, 128));
    assert_non_null(pool_set_add6(p0, "hosts", pfx, 120, 128));
    assert_int_equal(sizes(ps, "hosts").size, 128);
    assert_int_equal(sizes(p0, "hosts").size, 127);
    assert_int_equal(pool_alloc(ps, "hosts", 1, &idx), 0);
    assert_int_equal(idx, 128);
    assert_true(pool6_addr(ps, "hosts", idx, a, &alen));
    want[15] = 128;
    assert_memory_equal(a, want, 16);
    assert_int_equal(pool_alloc(p0, "hosts", 1, &idx), 0);
    assert_int_equal(idx, 1);
    /* /56 from a /48: 256 prefixes, slice 1 of 2 starts at fd00:201:0:80::/56 */
    assert_non_null(pool_set_add6(ps, "nets", pfx, 48, 56));
    assert_int_equal(sizes(ps, "nets").size, 128);
    assert_int_equal(pool_alloc(ps, "nets", 2, &idx), 0);
    assert_true(pool6_addr(ps, "nets", idx, a, &alen));
    memset(want + 4, 0, 12);
    want[6] = 0x80;
    assert_memory_equal(a, want, 16);
    assert_int_equal(alen, 56);
    /* a take outside the slice is refused; the whole slice, then exhaustion */
    assert_int_equal(pool_take(ps, "nets", true, 5, 3), -ERANGE);
    for (uint64_t i = 1; i < 128; i++)
        assert_int_equal(pool_alloc(ps, "nets", 10 + i, &idx), 0);
    assert_int_equal(pool_alloc(ps, "nets", 9, &idx), -ENOSPC);
    /* three prefixes in 4: only slice 3 has any */
    {
        struct pool_set *q = pool_set_new();

        pool_set_partition(q, 4, 2);
        assert_non_null(pool_set_add6(q, "tiny", pfx, 126, 128)); /* ::1-::3 */
        assert_int_equal(sizes(q, "tiny").size, 0);
        assert_int_equal(pool_alloc(q, "tiny", 1, &idx), -ENOSPC);
        pool_set_free(q);
    }
    pool_set_free(ps);
    pool_set_free(p0);
}

static int setup(void **st)
{
    (void)st;
    alarm_reset();
    return 0;
}

/* The usage alarms count against the slice: 50 % of a slice of 10 in a range
 * of 40 is 5 addresses; the slice full is pool-exhausted. */
static void test_alarm_uses_the_slice(void **st)
{
    const char *res = "/raven-vpn:pools/ipv4-pool[name='p']";
    struct pool_set *ps = pool_set_new();
    struct pool *p;
    uint32_t a;

    (void)st;
    pool_set_partition(ps, 4, 1);
    p = pool_set_add(ps, "p", 0);
    assert_int_equal(pool_add_range(ps, p, A(10, 0, 0, 0), A(10, 0, 0, 39)), 0);
    pool_set_alarms(ps, NULL, 0, 50);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pool_alloc(ps, "p", 1 + (uint64_t)i, &a), 0);
    assert_false(alarm_is_active(ALARM_POOL_USAGE_HIGH, res));
    assert_int_equal(pool_alloc(ps, "p", 5, &a), 0);
    assert_true(alarm_is_active(ALARM_POOL_USAGE_HIGH, res));
    for (int i = 5; i < 10; i++)
        assert_int_equal(pool_alloc(ps, "p", 1 + (uint64_t)i, &a), 0);
    assert_true(alarm_is_active(ALARM_POOL_EXHAUSTED, res));
    assert_int_equal(a, A(10, 0, 0, 19));
    assert_true(pool_release(ps, "p", a));
    assert_false(alarm_is_active(ALARM_POOL_EXHAUSTED, res));
    pool_set_alarms(NULL, NULL, 50, 50);
    pool_set_free(ps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slice_arithmetic),
        cmocka_unit_test(test_several_ranges_disjoint),
        cmocka_unit_test(test_wraps_in_the_slice),
        cmocka_unit_test(test_take_and_carry),
        cmocka_unit_test(test_claims_not_partitioned),
        cmocka_unit_test(test_ipv6_by_assigned_length),
        cmocka_unit_test_setup(test_alarm_uses_the_slice, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
