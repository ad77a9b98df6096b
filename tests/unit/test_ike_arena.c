/* The session arena seen from the IKEv2 engine, in-process (ike_harness.h): a
 * session kept at exit is taken over by a new engine, and one that cannot go on
 * is ended; one whose last response is too long for its record is kept
 * without it. */
#include <errno.h>
#include <event2/event.h>
#include <libyang/libyang.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "dataplane/dp.h"
#include "daemon/ike/ike_eng.h"
#include "daemon/ike/ike_engine.h"
#include "daemon/ike/ike_persist.h"
#include "daemon/session/sess_arena.h"
#include "tests/unit/ike_harness.h"

/* The engine's output, noting how many records the arena held when each
 * datagram went out. */
static struct sess_arena *seen_arena;
static uint32_t seen_records[8];
static size_t nseen;

static void out_seen(const struct sockaddr_storage *to, const uint8_t *buf, size_t len, void *arg)
{
    if (nseen < 8)
        seen_records[nseen] = sess_arena_rec_used(seen_arena);
    nseen++;
    out(to, buf, len, arg);
}

/* The test's arena directory, removed by the test's teardown also when an
 * assertion failed half way. */
static char dir[32];

static int remove_dir(void **state)
{
    char path[64];

    (void)state;
    if (dir[0]) {
        snprintf(path, sizeof(path), "%s/arena", dir);
        unlink(path);
        rmdir(dir);
    }
    return 0;
}

/* Selector sets past the two a set keeps in itself (split subnets, route
 * accept) go with the record of @s and come back whole, in their order. */
/* A session with one child SA: its record (no zero fields) fits the arena's
 * small place, 1984 bytes, so that it costs one page (daemon/session/README.md
 * "Record region"); the IKE_SA_INIT nonces went with IKE_AUTH (freed, not in
 * the record). */
static void record_small(struct ike_sess *s)
{
    uint8_t *rec = NULL;
    size_t len = 0;

    assert_int_equal(s->nchild, 1);
    assert_null(s->in.n);
    assert_true(ike_persist_encode(s, &rec, &len));
    assert_true(len > 64 && len <= 1984);
    free(rec);
}

static void selector_sets_kept(const struct ike_sess *s)
{
    struct ike_sess *d = calloc(1, sizeof(*d)), *d2 = calloc(1, sizeof(*d2));
    struct ike_persist_extra x, x2;
    struct ike_ts_pld many = {.nts = 5}, got;
    uint8_t *rec = NULL;
    size_t len = 0;

    for (unsigned i = 0; i < many.nts; i++)
        ike_ts_prefix4(0x0ac80000u | i << 8, 24, &many.ts[i]);
    assert_true(ike_persist_encode(s, &rec, &len));
    assert_true(ike_persist_decode(rec, len, d, &x));
    free(rec);
    assert_int_equal(d->nchild, 1);
    assert_true(ike_tss_set(&d->child[0].tsr, &many) && ike_tss_set(&d->allow_r, &many));
    many.nts = 3;
    assert_true(ike_tss_set(&d->child[0].tsi, &many) && ike_tss_set(&d->allow_i, &many));
    assert_true(ike_persist_encode(d, &rec, &len));
    assert_true(ike_persist_decode(rec, len, d2, &x2));
    free(rec);
    ike_tss_get(&d2->child[0].tsi, &got);
    assert_int_equal(got.nts, 3);
    assert_memory_equal(got.ts, many.ts, 3 * sizeof(many.ts[0]));
    ike_tss_get(&d2->allow_i, &got);
    assert_int_equal(got.nts, 3);
    assert_memory_equal(got.ts, many.ts, 3 * sizeof(many.ts[0]));
    many.nts = 5;
    ike_tss_get(&d2->child[0].tsr, &got);
    assert_int_equal(got.nts, 5);
    assert_memory_equal(got.ts, many.ts, 5 * sizeof(many.ts[0]));
    ike_tss_get(&d2->allow_r, &got);
    assert_int_equal(got.nts, 5);
    assert_memory_equal(got.ts, many.ts, 5 * sizeof(many.ts[0]));
    ike_persist_extra_fini(&x);
    ike_persist_extra_fini(&x2);
    ike_persist_clear(d);
    ike_persist_clear(d2);
    free(d);
    free(d2);
}

/* The session arena: a session kept at exit is taken over by a new engine (a new
 * process, a new dataplane): the same id, SPIs and child SAs, its last response
 * sent again for a retransmitted request, its next request served with the
 * adopted keys and message IDs, its SAs' sequence numbers going on. A session
 * whose pool is gone when it is adopted is ended with a DELETE; nothing of it is
 * left in the arena or the dataplane then. The IKE_AUTH response goes out only
 * once the session's record is written. */
static void test_arena_adoption(void **state)
{
    struct env *e = *state;
    char path[64], why[256];
    struct sess_arena_opts o = {.path = path, .owner = "unit"};
    struct ike_adopt_result r;
    enum sess_arena_found found;
    struct sess_arena *a;
    struct ike_engine *eng;
    struct ike_client c;
    struct ike_buf b = {0}, again;
    struct ike_sess *s;
    struct lyd_node *nopool = NULL;
    uint8_t resp[4096], spi[8], sk_d[64];
    size_t resp_len;
    uint64_t id;
    struct dp_sa_stats st;

    strcpy(dir, "/dev/shm/raven-unit-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/arena", dir);
    assert_int_equal(sess_arena_open(&o, &a, &found, why, sizeof(why)), 0);
    assert_int_equal(found, SESS_ARENA_NEW);
    eng = engine(e, e->tree);
    ike_engine_set_arena(eng, a);
    seen_arena = a;
    ike_engine_set_output(eng, out_seen, e);
    ike_client_init(&c, IKE_DH_ECP256);
    establish(e, eng, &c, "alice.example.org", "k1", &b);
    /* the IKE_SA_INIT and IKE_AUTH responses, once each; the second after the
     * session's record was written: a crash at any point leaves no client
     * holding a session without its record */
    assert_int_equal(nseen, 2);
    assert_int_equal(seen_records[0], 0);
    assert_int_equal(seen_records[1], 1);
    record_small(eng->by_id);
    selector_sets_kept(eng->by_id);
    /* a PPK-protected session (RFC 8784): the flag and PPK_ID go with the
     * record, beside SK_d (already the PPK-mixed one) */
    s = eng->by_id;
    s->ppk_used = true;
    snprintf(s->ppk_id, sizeof(s->ppk_id), "pq-1");
    /* bandwidth limits (tags 138-141): set again in the new dataplane */
    s->ss.rate = (struct sess_rate){.kbps = {4000, AAA_RATE_NONE}, .burst = {6000, 0}};
    memcpy(sk_d, s->in.keys.sk_d, sizeof(sk_d));
    assert_true(ike_client_create_child(&c, 0, 0x30000000, &b));
    again = copy(&b);
    assert_true(ask(e, eng, &b));
    assert_int_equal(ike_client_response_notify(&c, e->out, e->out_len), 0);
    resp_len = e->out_len;
    memcpy(resp, e->out, resp_len);
    s = eng->by_id;
    id = s->ss.id;
    memcpy(spi, s->our_spi, 8);
    assert_int_equal(s->nchild, 2);
    /* as if the workers had sent 1000 packets on the first child's outbound SA */
    sess_arena_sa(a, s->child[0].sc.live_out - 1)->seq = 1000;
    event_base_loop(e->base, EVLOOP_NONBLOCK); /* the records written at the end of the turn */
    assert_int_equal(sess_arena_rec_used(a), 1);
    assert_int_equal(sess_arena_sa_used(a), 4);
    ike_engine_keep_sessions(eng);
    ike_engine_free(eng);
    sess_arena_close(a);
    dp_free(e->dp); /* a new process: a new dataplane */
    e->dp = dp_new();

    assert_int_equal(sess_arena_open(&o, &a, &found, why, sizeof(why)), 0);
    assert_int_equal(found, SESS_ARENA_ADOPTED);
    eng = engine(e, e->tree);
    ike_engine_set_arena(eng, a);
    ike_engine_adopt_begin(eng, &r);
    ike_engine_adopt(eng, false, &r);
    assert_int_equal(r.adopted, 1);
    assert_int_equal(r.ended + r.unreadable, 0);
    s = eng->by_id;
    assert_non_null(s);
    assert_int_equal(s->ss.id, id);
    assert_memory_equal(s->our_spi, spi, 8);
    assert_true(s->ppk_used);
    assert_string_equal(s->ppk_id, "pq-1");
    assert_memory_equal(s->in.keys.sk_d, sk_d, sizeof(sk_d));
    assert_null(s->in.n); /* adopted without nonces: nothing after IKE_AUTH reads them */
    assert_int_equal(s->ss.rate.kbps[0], 4000);
    assert_int_equal(s->ss.rate.kbps[1], AAA_RATE_NONE);
    assert_int_equal(s->ss.rate.burst[0], 6000);
    assert_int_equal(s->ss.rate.burst[1], 0);
    assert_true(s->ss.rate_in_dp);
    {
        struct dp_police_stats ps;

        assert_int_equal(dp_session_police_stats(e->dp, id, &ps), 0);
    }
    assert_int_equal(s->nchild, 2);
    assert_int_equal(dp_sa_count(e->dp), 4);
    /* the client's retransmission gets the same answer */
    assert_int_equal(ask(e, eng, &again), resp_len);
    assert_memory_equal(e->out, resp, resp_len);
    /* its next request is served */
    assert_true(ike_client_create_child(&c, 0, 0x30000001, &b));
    assert_true(ask(e, eng, &b));
    assert_int_equal(ike_client_response_notify(&c, e->out, e->out_len), 0);
    assert_int_equal(children(e, eng), 3);
    /* the adopted SA goes on from the sequence number the arena kept */
    assert_int_equal(dp_sa_stats(e->dp, id, s->child[0].sc.spi_out, false, &st), 0);
    assert_int_equal(st.seq, 1000);
    event_base_loop(e->base, EVLOOP_NONBLOCK);
    ike_engine_keep_sessions(eng);
    ike_engine_free(eng);
    sess_arena_close(a);
    dp_free(e->dp);
    e->dp = dp_new();

    /* its pool gone while ravend was stopped: ended, with a DELETE */
    assert_int_equal(lyd_dup_siblings(e->tree, NULL, LYD_DUP_RECURSIVE, &nopool), 0);
    {
        struct ly_set *set = NULL;

        assert_int_equal(lyd_find_xpath(nopool, "/raven-vpn:pools/ipv4-pool[name='p']/range", &set), 0);
        assert_int_equal(set->count, 1);
        lyd_free_tree(set->dnodes[0]);
        ly_set_free(set, NULL);
    }
    assert_int_equal(sess_arena_open(&o, &a, &found, why, sizeof(why)), 0);
    eng = engine(e, nopool);
    ike_engine_set_arena(eng, a);
    e->out_len = 0;
    ike_engine_adopt_begin(eng, &r);
    ike_engine_adopt(eng, false, &r);
    assert_int_equal(r.adopted, 0);
    assert_int_equal(r.ended, 1);
    assert_true(e->out_len > 0); /* the DELETE */
    assert_null(eng->by_id);
    assert_int_equal(dp_sa_count(e->dp), 0);
    assert_int_equal(sess_arena_rec_used(a), 0);
    assert_int_equal(sess_arena_sa_used(a), 0);
    ike_engine_free(eng);
    sess_arena_destroy(a);
    lyd_free_all(nopool);
    ike_client_fini(&c);
}

/* A last response over 65535 bytes (a field's most) does not fit its record:
 * the record is written without it, as for one too long for the arena, and
 * the session still survives a restart. */
static void test_long_response(void **state)
{
    struct env *e = *state;
    char path[64], why[256];
    struct sess_arena_opts o = {.path = path, .owner = "unit"};
    enum sess_arena_found found;
    struct sess_arena *a;
    struct ike_engine *eng;
    struct ike_client c;
    struct ike_buf b = {0};
    struct ike_sess *s;
    uint8_t *rec = NULL;
    size_t len = 0;

    strcpy(dir, "/dev/shm/raven-unit-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/arena", dir);
    assert_int_equal(sess_arena_open(&o, &a, &found, why, sizeof(why)), 0);
    eng = engine(e, e->tree);
    ike_engine_set_arena(eng, a);
    ike_client_init(&c, IKE_DH_ECP256);
    establish(e, eng, &c, "alice.example.org", "k1", &b);
    s = eng->by_id;
    assert_non_null(s);
    assert_int_not_equal(s->arena_slot, 0);
    ike_xmit_out_free(&s->last_resp);
    for (int i = 0; i < 2; i++) {
        assert_true(ike_xmit_out_room(&s->last_resp));
        s->last_resp.d[i].len = 40000;
        assert_non_null(s->last_resp.d[i].data = calloc(1, 40000));
        s->last_resp.n++;
    }
    errno = 0;
    assert_false(ike_persist_encode(s, &rec, &len));
    assert_int_equal(errno, EMSGSIZE);
    ike_persist_save(s);
    assert_int_not_equal(s->arena_slot, 0); /* written, without the response */
    assert_int_equal(sess_arena_rec_used(a), 1);
    ike_engine_free(eng);
    sess_arena_destroy(a);
    ike_client_fini(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_arena_adoption, remove_dir),
        cmocka_unit_test_teardown(test_long_response, remove_dir),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
