/* Unit tests of the workers' replay stages (dataplane/dp_fwd.c:
 * dp_replay_check_run, dp_replay_update_run): the window of one inbound SA
 * checked and updated a burst at a time, by several workers at once. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "dataplane/dp_int.h"

#define NUMBERS 200000u
#define WINDOW 64u

struct shared {
    struct dp_rsa *sa;
    _Atomic uint8_t *accepted; /* per sequence number: how many times it passed both stages */
};

struct worker_arg {
    struct shared *sh;
    unsigned burst; /* packets per burst, below the window */
};

static struct dp_rsa *sa_new(uint32_t window)
{
    struct dp_rsa *sa = calloc(1, sizeof(*sa));

    assert_non_null(sa);
    sa->inbound = true;
    sa->own_live = aligned_alloc(64, sizeof(*sa->own_live));
    assert_non_null(sa->own_live);
    memset(sa->own_live, 0, sizeof(*sa->own_live));
    sa->live = sa->own_live;
    esp_replay_init(&sa->replay, window, false);
    pthread_spin_init(&sa->replay_lock, PTHREAD_PROCESS_PRIVATE);
    return sa;
}

static void sa_free(struct dp_rsa *sa)
{
    pthread_spin_destroy(&sa->replay_lock);
    free(sa->own_live);
    free(sa);
}

static void put_seq(uint8_t *esp, uint32_t s)
{
    esp[4] = (uint8_t)(s >> 24);
    esp[5] = (uint8_t)(s >> 16);
    esp[6] = (uint8_t)(s >> 8);
    esp[7] = (uint8_t)s;
}

/* One worker: every number from 1 to NUMBERS in order, in bursts, as in_flush()
 * runs them: all checked, the passing ones "decrypted", all recorded. */
static void *worker(void *p)
{
    struct worker_arg *a = p;
    struct esp_open_job jobs[ESP_BURST_MAX];
    uint8_t esp[ESP_BURST_MAX][8];

    for (uint32_t s = 1; s <= NUMBERS; s += a->burst) {
        unsigned n = NUMBERS - s + 1 < a->burst ? NUMBERS - s + 1 : a->burst;

        for (unsigned i = 0; i < n; i++) {
            memset(&jobs[i], 0, sizeof(jobs[i]));
            put_seq(esp[i], s + i);
            jobs[i].esp = esp[i];
        }
        dp_replay_check_run(a->sh->sa, jobs, n);
        for (unsigned i = 0; i < n; i++)
            if (jobs[i].rc == ESP_OK && jobs[i].seq != s + i)
                fail_msg("sequence %u inferred as %llu", s + i, (unsigned long long)jobs[i].seq);
        dp_replay_update_run(a->sh->sa, jobs, n);
        for (unsigned i = 0; i < n; i++)
            if (jobs[i].rc == ESP_OK)
                atomic_fetch_add(&a->sh->accepted[s + i], 1);
    }
    return NULL;
}

/* Two workers take the same numbers of one SA in bursts of different sizes:
 * each number is accepted exactly once (none twice, none lost). */
static void test_two_workers(void **st)
{
    (void)st;
    struct shared sh = {.sa = sa_new(WINDOW), .accepted = calloc(NUMBERS + 1, 1)};
    struct worker_arg a = {&sh, 16}, b = {&sh, 7};
    pthread_t ta, tb;
    unsigned twice = 0, lost = 0;

    assert_non_null(sh.accepted);
    assert_int_equal(pthread_create(&ta, NULL, worker, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, worker, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    for (uint32_t s = 1; s <= NUMBERS; s++) {
        twice += sh.accepted[s] > 1;
        lost += sh.accepted[s] == 0;
    }
    assert_int_equal(twice, 0);
    assert_int_equal(lost, 0);
    assert_int_equal(sh.sa->live->replay_top, NUMBERS);
    free(sh.accepted);
    sa_free(sh.sa);
}

/* Within one burst: a duplicate passes the check (the window has not moved yet)
 * but not the update; a number the backend refused is not recorded; one below
 * the window fails the check. */
static void test_one_burst(void **st)
{
    (void)st;
    struct dp_rsa *sa = sa_new(WINDOW);
    struct esp_open_job jobs[5];
    uint8_t esp[5][8];
    const uint32_t seqs[5] = {100, 101, 100, 102, 30};

    for (unsigned i = 0; i < 5; i++) {
        memset(&jobs[i], 0, sizeof(jobs[i]));
        put_seq(esp[i], seqs[i]);
        jobs[i].esp = esp[i];
    }
    dp_replay_check_run(sa, jobs, 4);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(jobs[i].rc, ESP_OK);
    jobs[1].rc = ESP_E_AUTH;
    dp_replay_update_run(sa, jobs, 4);
    assert_int_equal(jobs[0].rc, ESP_OK);
    assert_int_equal(jobs[1].rc, ESP_E_AUTH);
    assert_int_equal(jobs[2].rc, DP_RC_REPLAY);
    assert_int_equal(jobs[3].rc, ESP_OK);
    assert_int_equal(sa->live->replay_top, 102);
    /* 101 was not recorded: it may still come; 30 is below the window */
    memset(&jobs[0], 0, sizeof(jobs[0]));
    jobs[0].esp = esp[1];
    jobs[1] = (struct esp_open_job){.esp = esp[4]};
    dp_replay_check_run(sa, jobs, 2);
    assert_int_equal(jobs[0].rc, ESP_OK);
    assert_int_equal(jobs[0].seq, 101);
    assert_int_equal(jobs[1].rc, DP_RC_REPLAY);
    sa_free(sa);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_workers),
        cmocka_unit_test(test_one_burst),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
