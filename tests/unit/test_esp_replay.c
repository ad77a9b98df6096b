/* Unit tests of the anti-replay window of dataplane/esp.c (RFC 4303 3.4.3,
 * Appendix A): edges, sliding, ESN inference on both sides of a 2^32 wrap (RFC
 * 4303 A2.2), a comparison with a plain model on random sequences, and a window
 * whose state is continued by another process (the state is the caller's). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dataplane/esp.h"

/* Anti-replay: a window's configuration and its state (kept apart, as the
 * dataplane keeps the state where it outlives the process). */

struct win {
    struct esp_replay r;
    uint64_t top;
    uint64_t bits[ESP_REPLAY_WORDS];
};

static void win_init(struct win *w, uint32_t size, bool esn)
{
    memset(w, 0, sizeof(*w));
    esp_replay_init(&w->r, size, esn);
}

static int win_check(const struct win *w, uint32_t lo, uint64_t *s)
{
    return esp_replay_check(&w->r, w->top, w->bits, lo, s);
}

static int win_update(struct win *w, uint64_t s)
{
    return esp_replay_update(&w->r, &w->top, w->bits, s);
}

static bool take(struct win *r, uint32_t lo, uint64_t want)
{
    uint64_t s = 0;

    if (win_check(r, lo, &s))
        return false;
    assert_int_equal(s, want);
    assert_int_equal(win_update(r, s), 0);
    return true;
}

static void window_edges(uint32_t size)
{
    struct win r;
    uint64_t s;
    uint64_t top = 3 * (uint64_t)size + 17;

    win_init(&r, size, false);
    assert_int_equal(r.r.size, size);
    assert_int_equal(win_check(&r, 0, &s), -1);       /* never valid */
    assert_true(take(&r, 1, 1));
    assert_false(take(&r, 1, 1));                           /* duplicate */
    for (uint32_t i = 2; i <= 100; i++)                       /* in order */
        assert_true(take(&r, i, i));
    assert_true(take(&r, (uint32_t)top, top));
    /* the window is [top - size + 1, top] */
    assert_int_equal(win_check(&r, (uint32_t)(top - size), &s), -1);
    assert_int_equal(win_update(&r, top - size), -1);
    assert_true(take(&r, (uint32_t)(top - size + 1), top - size + 1));
    assert_false(take(&r, (uint32_t)(top - size + 1), top - size + 1));
    /* out of order within the window, each once */
    for (uint64_t i = top - 1; i > top - size + 1; i -= 3)
        assert_true(take(&r, (uint32_t)i, i));
    for (uint64_t i = top - 1; i > top - size + 1; i -= 3)
        assert_false(take(&r, (uint32_t)i, i));
    assert_false(take(&r, (uint32_t)top, top));
    /* a duplicate that raced the check: update refuses it */
    assert_int_equal(win_check(&r, (uint32_t)(top - 2), &s), 0);
    assert_int_equal(win_update(&r, s), 0);
    assert_int_equal(win_update(&r, s), -1);
    /* slide by less than the window: what stays in it is still seen */
    assert_true(take(&r, (uint32_t)(top + size / 2), top + size / 2));
    assert_false(take(&r, (uint32_t)(top - 1), top - 1));
    assert_true(take(&r, (uint32_t)(top - 3), top - 3));
    /* a far jump clears everything */
    top += 10 * (uint64_t)size + 5;
    assert_true(take(&r, (uint32_t)top, top));
    {
        int ones = 0;
        for (uint32_t i = 0; i < r.r.size / 64; i++)
            ones += __builtin_popcountll(r.bits[i]);
        assert_int_equal(ones, 1);
    }
    for (uint64_t i = top - size + 1; i < top; i++)
        assert_int_equal(win_check(&r, (uint32_t)i, &s), 0);
    /* a jump of exactly size - 1 keeps the old top, of size drops it */
    assert_true(take(&r, (uint32_t)(top + size - 1), top + size - 1));
    assert_false(take(&r, (uint32_t)top, top));
    assert_true(take(&r, (uint32_t)(top + 2 * size - 1), top + 2 * size - 1));
    assert_int_equal(win_check(&r, (uint32_t)(top + size - 1), &s), -1);
    assert_int_equal(win_check(&r, (uint32_t)(top + size), &s), 0);
}

static void test_replay_window(void **st)
{
    struct win r;

    window_edges(64);
    window_edges(1024);
    window_edges(4096);
    win_init(&r, 1, false);
    assert_int_equal(r.r.size, 64);
    win_init(&r, 100, true);
    assert_int_equal(r.r.size, 128);
    win_init(&r, 100000, false);
    assert_int_equal(r.r.size, ESP_REPLAY_MAX);
}

static void test_replay_off(void **st)
{
    struct win r;
    uint64_t s;

    win_init(&r, 0, false);
    assert_int_equal(win_check(&r, 0, &s), -1);
    assert_true(take(&r, 5, 5));
    assert_true(take(&r, 5, 5)); /* no window, no duplicates detected */
    assert_true(take(&r, 1, 1));
    assert_int_equal(r.top, 5);
    assert_int_equal(win_update(&r, 0), -1);

    /* with ESN the high bits are still inferred, nearest to top */
    win_init(&r, 0, true);
    r.top = 0x100000010ull;
    assert_true(take(&r, 0xfffffff0u, 0xfffffff0ull));
    assert_true(take(&r, 0x80000010u, 0x180000010ull));
    assert_int_equal(r.top, 0x180000010ull);
    assert_true(take(&r, 0x00000005u, 0x200000005ull));
    assert_int_equal(win_check(&r, 0x00000011u, &s), 0);
    assert_int_equal(s, 0x200000011ull); /* not 0x300000011: nearer */
    r.top = 5;
    assert_int_equal(win_check(&r, 0xfffffff0u, &s), -1); /* would be before 0 */
}

static void test_replay_esn(void **st)
{
    struct win r;
    uint64_t s;

    /* start: 0 is not valid; low numbers are in subspace 0 */
    win_init(&r, 64, true);
    assert_int_equal(win_check(&r, 0, &s), -1);
    assert_int_equal(win_check(&r, 0xffffffc2u, &s), -1); /* case B, Th - 1 underflows */
    assert_true(take(&r, 1, 1));

    /* case A (Tl >= W - 1): below the window is the next subspace */
    r.top = 0x100000064ull; /* Th 1, Tl 100, window [37, 100] */
    memset(r.bits, 0, sizeof(r.bits));
    assert_true(take(&r, 37, 0x100000025ull));
    assert_int_equal(win_check(&r, 36, &s), 0);
    assert_int_equal(s, 0x200000024ull);
    assert_int_equal(win_check(&r, 101, &s), 0);
    assert_int_equal(s, 0x100000065ull);

    /* case A just before the wrap: small numbers belong to the next subspace */
    r.top = 0x1fffffff0ull;
    memset(r.bits, 0, sizeof(r.bits));
    assert_true(take(&r, 0xffffffb1u, 0x1ffffffb1ull)); /* bottom of the window */
    assert_int_equal(win_check(&r, 0xffffffb0u, &s), 0);
    assert_int_equal(s, 0x2ffffffb0ull); /* below it: read as the next subspace */
    assert_true(take(&r, 0xfffffff0u - 3, 0x1fffffff0ull - 3));
    assert_true(take(&r, 5, 0x200000005ull)); /* across the wrap */

    /* case B (Tl < W - 1): the window spans the wrap */
    assert_int_equal(r.top, 0x200000005ull); /* window [0x1ffffffc6, 0x200000005] */
    assert_false(take(&r, 0xfffffff0u - 3, 0x1fffffff0ull - 3)); /* seen before the wrap */
    assert_int_equal(win_check(&r, 0xffffffb1u, &s), 0);        /* fell out: */
    assert_int_equal(s, 0x2ffffffb1ull);                                /* read as far ahead */
    assert_true(take(&r, 0xffffffc6u, 0x1ffffffc6ull));              /* bottom edge */
    assert_int_equal(win_check(&r, 0xffffffc5u, &s), 0);
    assert_int_equal(s, 0x2ffffffc5ull); /* below it: this subspace, far ahead */
    assert_true(take(&r, 0, 0x200000000ull)); /* a zero low half is valid with ESN */
    assert_false(take(&r, 0, 0x200000000ull));
    assert_true(take(&r, 3, 0x200000003ull));
    assert_true(take(&r, 6, 0x200000006ull));

    /* the boundary of the two cases: Tl = W - 1 is case A, its window [0, W - 1] */
    win_init(&r, 64, true);
    r.top = 0x10000003full;
    assert_true(take(&r, 0, 0x100000000ull));
    assert_int_equal(win_check(&r, 100, &s), 0);
    assert_int_equal(s, 0x100000064ull);
    r.top = 0x10000003eull; /* Tl = W - 2: case B, the window takes in 0xffffffff */
    assert_int_equal(win_check(&r, 0xffffffffu, &s), 0);
    assert_int_equal(s, 0xffffffffull);
    assert_int_equal(win_check(&r, 0xfffffffeu, &s), 0);
    assert_int_equal(s, 0x1fffffffeull);

    /* the last subspace: nothing after it */
    r.top = 0xffffffff00000100ull;
    memset(r.bits, 0, sizeof(r.bits));
    assert_int_equal(win_check(&r, 5, &s), -1);
    assert_true(take(&r, 0xffffffffu, UINT64_MAX));
    /* Th 0 in case B */
    win_init(&r, 4096, true);
    assert_true(take(&r, 10, 10));
    assert_int_equal(win_check(&r, 0xfffff00bu, &s), -1);
    assert_int_equal(win_check(&r, 0xfffff00au, &s), 0);
    assert_int_equal(s, 0xfffff00aull);
}

/* Random sequences against a plain model: a number is new if above top, or within
 * the window and never accepted; with ESN every number within [T - W + 1,
 * T - W + 2^32] must be inferred exactly. */
static uint64_t rng = 88172645463325252ull;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void model(uint32_t size, bool esn)
{
    enum { SPAN = 1 << 24 };
    static uint8_t seen[SPAN];
    struct win r;
    uint64_t base = esn ? 0xffff0000ull : 0, top; /* ESN: across 2^32 */

    memset(seen, 0, sizeof(seen));
    win_init(&r, size, esn);
    r.top = top = base + 1;
    seen[1] = 1;
    for (int i = 0; i < 300000 && top - base < SPAN - 5 * (uint64_t)size; i++) {
        uint64_t x = next_rand(), s, got = 0;
        int64_t d;
        bool fresh;
        int rc;

        if (x % 64 == 0) /* now and then a long jump */
            d = 1 + (int64_t)((x >> 8) % (4 * (uint64_t)size));
        else if (x % 64 < 20) /* about in order */
            d = 1 + (int64_t)((x >> 8) % 4);
        else /* behind: in the window, at its edge, too old, duplicates */
            d = -(int64_t)((x >> 8) % (size + 100));
        if ((int64_t)(top - base) + d < 1)
            continue;
        s = top + (uint64_t)d;
        fresh = s > top || (top - s < r.r.size && !seen[s - base]);
        rc = win_check(&r, (uint32_t)s, &got);
        if (!esn || s + r.r.size > top) {
            assert_int_equal(rc, fresh ? 0 : -1);
            if (rc == 0)
                assert_int_equal(got, s);
        } else if (rc == 0) {
            /* too old to infer: read as ahead, by 2^32 */
            assert_int_equal(got, s + (1ull << 32));
            continue;
        }
        if (rc)
            continue;
        assert_int_equal(win_update(&r, s), 0);
        seen[s - base] = 1;
        if (s > top)
            top = s;
        assert_int_equal(r.top, top);
    }
    assert_true(top > base + 200000);
}

static void test_replay_model(void **st)
{
    static const uint32_t sizes[] = {64, 1024, 4096};

    for (size_t i = 0; i < 3; i++) {
        model(sizes[i], false);
        model(sizes[i], true);
    }
}

/* The state is the caller's: a window configured again over the same state (a
 * new process over the state the previous one left) goes on where it was. */
static void test_replay_continued(void **st)
{
    struct win a, b;

    (void)st;
    win_init(&a, 64, false);
    for (uint32_t i = 1; i <= 100; i++)
        if (i != 90)
            assert_true(take(&a, i, i));
    win_init(&b, 64, false);
    b.top = a.top;
    memcpy(b.bits, a.bits, sizeof(b.bits));
    assert_int_equal(b.top, 100);
    for (uint32_t i = 37; i <= 100; i++)
        assert_int_equal(take(&b, i, i), i == 90); /* seen, but for 90 */
    assert_false(take(&b, 36, 36)); /* below the window */
    assert_true(take(&b, 101, 101));
}


int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_window),
        cmocka_unit_test(test_replay_off),
        cmocka_unit_test(test_replay_esn),
        cmocka_unit_test(test_replay_model),
        cmocka_unit_test(test_replay_continued),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
