/* The crypto pool (daemon/base/cpool.c) and IKE_SA_INIT on it (ike_initx.c):
 * a bounded queue that refuses at once; jobs that never ran handed back at
 * shutdown; an IKE_SA_INIT answered from the loop once its thread is done, a
 * retransmission meanwhile answered later without a second job; a half-open
 * SA that goes while its job runs (nothing leaks: LSan); a commit while it
 * runs (the SA keeps its generation); and under a flood
 * the pool half full demands cookies, a source gets a quarter of it, a full
 * one drops, each counted in vpn-state; IKE_AUTH opened and sealed on the
 * thread (ike_authq.c) with the same result as inline, inline when the queue
 * is full, and dropped with its session; answered by the session's socket
 * when the one it came in on was replaced meanwhile; forged copies of it
 * opened each by its own job, up to a bound, the genuine one answered. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <libyang/libyang.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "daemon/base/cpool.h"
#include "daemon/ike/ike_eng.h"
#include "daemon/ike/ike_engine.h"
#include "tests/support/ike_client.h"
#include "tests/unit/ike_harness.h"

/* A job that waits until @release is set (it holds its thread). */
struct block {
    struct cpool_job j;
    atomic_bool started, release, finished;
    int done, ran;
};

static void block_work(struct cpool_job *j)
{
    struct block *b = (struct block *)j;

    atomic_store(&b->started, true);
    while (!atomic_load(&b->release))
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    atomic_store(&b->finished, true);
}

static void block_done(struct cpool_job *j, bool ran)
{
    struct block *b = (struct block *)j;

    b->done++;
    b->ran += ran;
}

static void wait_started(struct block *b)
{
    for (int i = 0; i < 5000 && !atomic_load(&b->started); i++)
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    assert_true(atomic_load(&b->started));
}

static void test_bounded_queue(void **state)
{
    struct env *e = *state;
    struct cpool *p = cpool_new(e->base, 1, 2);
    struct block a = {.j = {.work = block_work, .done = block_done}};
    struct block b = a, c = a;

    assert_non_null(p);
    assert_int_equal(cpool_capacity(p), 2);
    assert_int_equal(cpool_submit(p, &a.j), 0);
    assert_int_equal(cpool_submit(p, &b.j), 0);
    assert_int_equal(cpool_submit(p, &c.j), -EAGAIN); /* full: refused at once */
    assert_int_equal(cpool_refused(p), 1);
    assert_int_equal(cpool_pending(p), 2);
    atomic_store(&a.release, true);
    atomic_store(&b.release, true);
    while (cpool_pending(p))
        event_base_loop(e->base, EVLOOP_ONCE);
    assert_int_equal(a.done, 1);
    assert_int_equal(b.ran, 1);
    assert_int_equal(c.done, 0); /* refused: not taken */
    cpool_free(p);
}

/* Freed with one job running and one waiting: the first finishes, the second
 * is handed back without running. */
static void test_free_with_jobs(void **state)
{
    struct env *e = *state;
    struct cpool *p = cpool_new(e->base, 1, 4);
    struct block a = {.j = {.work = block_work, .done = block_done}};
    struct block b = a;

    assert_int_equal(cpool_submit(p, &a.j), 0);
    wait_started(&a);
    assert_int_equal(cpool_submit(p, &b.j), 0);
    atomic_store(&a.release, true);
    atomic_store(&b.release, true);
    cpool_free(p);
    assert_int_equal(a.done, 1);
    assert_int_equal(a.ran, 1);
    assert_int_equal(b.done, 1);
    assert_int_equal(b.ran, 0);
}

/* Jobs queued behind a busy thread wake nobody: the thread takes them after
 * its own; and jobs that finish while others wait to be delivered wake the
 * control thread once, all delivered in the order submitted. */
static void test_few_wakes(void **state)
{
    struct env *e = *state;
    struct cpool *p = cpool_new(e->base, 1, 8);
    struct block b[4] = {0};
    unsigned long sig0, sig, notices;

    for (int i = 0; i < 4; i++)
        b[i].j = (struct cpool_job){.work = block_work, .done = block_done};
    assert_int_equal(cpool_submit(p, &b[0].j), 0);
    wait_started(&b[0]);
    cpool_wakes(p, &sig0, &notices);
    assert_true(sig0 <= 1);
    assert_int_equal(notices, 0);
    for (int i = 1; i < 4; i++) {
        atomic_store(&b[i].release, true);
        assert_int_equal(cpool_submit(p, &b[i].j), 0);
    }
    cpool_wakes(p, &sig, &notices);
    assert_int_equal(sig, sig0); /* its thread is busy: no signal */
    atomic_store(&b[0].release, true);
    for (int i = 0; i < 5000 && !atomic_load(&b[3].finished); i++) /* the last one: the FIFO */
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    assert_true(atomic_load(&b[3].finished));
    while (cpool_pending(p))
        event_base_loop(e->base, EVLOOP_ONCE);
    cpool_wakes(p, &sig, &notices);
    assert_int_equal(sig, sig0);
    assert_int_equal(notices, 1); /* all four finished before the loop ran */
    for (int i = 0; i < 4; i++)
        assert_int_equal(b[i].ran, 1);
    cpool_free(p);
}

/* No threads: work and done before cpool_submit returns. */
static void test_inline(void **state)
{
    struct env *e = *state;
    struct cpool *p = cpool_new(e->base, 0, 4);
    struct block a = {.j = {.work = block_work, .done = block_done}};

    atomic_store(&a.release, true);
    assert_int_equal(cpool_submit(p, &a.j), 0);
    assert_int_equal(a.ran, 1);
    assert_int_equal(cpool_capacity(p), 0);
    cpool_free(p);
    a.done = a.ran = 0;
    assert_int_equal(cpool_submit(NULL, &a.j), 0);
    assert_int_equal(a.ran, 1);
}

static void wait_answer(struct env *e, struct ike_engine *eng)
{
    for (int i = 0; i < 1000 && !e->out_len; i++)
        event_base_loop(e->base, EVLOOP_ONCE);
    assert_int_not_equal(e->out_len, 0);
    (void)eng;
}

/* AUTO: one thread a CPU the process may use, clamped to the maximum (a host
 * with more CPUs than that still starts); only an explicit count over it is
 * refused. */
static void test_auto_threads(void **state)
{
    struct env *e = *state;
    struct ike_engine *eng;
    cpu_set_t set;
    unsigned cpus;

    assert_int_equal(ike_crypto_threads_auto(0), 1);
    assert_int_equal(ike_crypto_threads_auto(1), 1);
    assert_int_equal(ike_crypto_threads_auto(12), 12);
    assert_int_equal(ike_crypto_threads_auto(IKE_CRYPTO_THREADS_MAX), IKE_CRYPTO_THREADS_MAX);
    assert_int_equal(ike_crypto_threads_auto(IKE_CRYPTO_THREADS_MAX + 1), IKE_CRYPTO_THREADS_MAX);
    assert_int_equal(ike_crypto_threads_auto(4096), IKE_CRYPTO_THREADS_MAX);
    eng = engine(e, e->tree);
    assert_int_equal(ike_engine_set_crypto_threads(eng, IKE_CRYPTO_THREADS_MAX + 1), -EINVAL);
    assert_int_equal(counter(e, eng, "crypto-pool/threads"), 0);
    assert_int_equal(sched_getaffinity(0, sizeof(set), &set), 0);
    cpus = (unsigned)CPU_COUNT(&set);
    assert_int_equal(ike_engine_set_crypto_threads(eng, IKE_CRYPTO_THREADS_AUTO), 0);
    assert_int_equal(counter(e, eng, "crypto-pool/threads"), ike_crypto_threads_auto(cpus));
    ike_engine_free(eng);
}

static void test_init_on_thread(void **state)
{
    struct env *e = *state;
    struct ike_engine *eng = engine(e, e->tree);
    struct ike_client c;
    struct ike_buf b = {0}, again;
    uint8_t first[2048];
    size_t first_len;

    assert_int_equal(ike_engine_set_crypto_threads(eng, 1), 0);
    assert_int_equal(ike_engine_set_crypto_threads(eng, 1), -EINVAL); /* once */
    assert_int_equal(counter(e, eng, "crypto-pool/threads"), 1);
    ike_client_init(&c, IKE_DH_ECP256);
    assert_true(ike_client_sa_init(&c, &b));
    again = copy(&b);
    assert_int_equal(ask(e, eng, &b), 0); /* computed on the thread: no answer yet */
    assert_int_equal(counter(e, eng, "sa/half-open"), 1);
    assert_int_equal(ask(e, eng, &again), 0); /* retransmitted: no second job */
    assert_int_equal(counter(e, eng, "crypto-pool/jobs"), 1);
    assert_int_equal(counter(e, eng, "exchanges/retransmissions"), 1);
    wait_answer(e, eng);
    assert_int_equal(counter(e, eng, "crypto-pool/queued"), 0);
    first_len = e->out_len;
    memcpy(first, e->out, first_len);
    again = copy(&(struct ike_buf){.data = c.msg1, .len = c.msg1_len});
    assert_int_equal(ask(e, eng, &again), first_len); /* now the same answer again */
    assert_memory_equal(e->out, first, first_len);
    assert_true(ike_client_sa_init_done(&c, first, first_len));
    assert_true(ike_client_auth(&c, "alice.example.org", "k1", &b));
    assert_int_equal(ask(e, eng, &b), 0); /* IKE_AUTH is opened and sealed on the thread too */
    wait_answer(e, eng);
    assert_true(ike_client_auth_done(&c, e->out, e->out_len));
    assert_int_equal(counter(e, eng, "sa/active"), 1);
    ike_client_fini(&c);
    ike_engine_free(eng);
}

/* The engine ends while the job runs: the result is dropped, nothing leaks. */
static void test_sa_gone_while_computing(void **state)
{
    struct env *e = *state;
    struct ike_engine *eng = engine(e, e->tree);
    struct ike_client c;
    struct ike_buf b = {0};

    assert_int_equal(ike_engine_set_crypto_threads(eng, 2), 0);
    for (int i = 0; i < 4; i++) {
        ike_client_init(&c, IKE_DH_ECP256);
        assert_true(ike_client_sa_init(&c, &b));
        assert_int_equal(ask(e, eng, &b), 0);
        ike_client_fini(&c);
    }
    assert_int_equal(counter(e, eng, "sa/half-open"), 4);
    ike_engine_free(eng);
}

/* A commit while the job runs: the half-open SA keeps the generation its
 * request arrived under (its key k1, not the new k2), and a new client gets
 * the new one. */
static void test_commit_while_computing(void **state)
{
    struct env *e = *state;
    struct ike_engine *eng = engine(e, e->tree);
    struct lyd_node *tree = NULL, *key = NULL;
    struct ike_client c, c2;
    struct ike_buf b = {0};

    assert_int_equal(ike_engine_set_crypto_threads(eng, 1), 0);
    ike_client_init(&c, IKE_DH_ECP256);
    assert_true(ike_client_sa_init(&c, &b));
    assert_int_equal(ask(e, eng, &b), 0);
    assert_int_equal(lyd_dup_siblings(e->tree, NULL, LYD_DUP_RECURSIVE, &tree), 0);
    assert_int_equal(lyd_find_path(tree, "/raven-vpn:ikev2/profile[name='rw']/authentication/local/pre-share/key", 0,
                                   &key), 0);
    assert_int_equal(lyd_change_term(key, "k2"), 0);
    assert_int_equal(lyd_find_path(tree, "/raven-vpn:ikev2/profile[name='rw']/authentication/remote/pre-share/key",
                                   0, &key), 0);
    assert_int_equal(lyd_change_term(key, "k2"), 0);
    assert_int_equal(ike_engine_prepare(eng, tree, false, NULL, NULL), 0);
    ike_engine_apply(eng);
    assert_int_equal(counter(e, eng, "config-generation"), 2);
    wait_answer(e, eng);
    assert_true(ike_client_sa_init_done(&c, e->out, e->out_len));
    assert_true(ike_client_auth(&c, "alice.example.org", "k1", &b));
    assert_int_equal(ask(e, eng, &b), 0);
    wait_answer(e, eng);
    assert_true(ike_client_auth_done(&c, e->out, e->out_len)); /* the old key, its generation's */
    ike_client_init(&c2, IKE_DH_ECP256);
    assert_true(ike_client_sa_init(&c2, &b));
    assert_int_equal(ask(e, eng, &b), 0);
    wait_answer(e, eng);
    assert_true(ike_client_sa_init_done(&c2, e->out, e->out_len));
    assert_true(ike_client_auth(&c2, "bob.example.org", "k2", &b));
    assert_int_equal(ask(e, eng, &b), 0);
    wait_answer(e, eng);
    assert_true(ike_client_auth_done(&c2, e->out, e->out_len)); /* the new key */
    assert_int_equal(counter(e, eng, "sa/active"), 2);
    ike_client_fini(&c);
    ike_client_fini(&c2);
    ike_engine_free(eng);
    lyd_free_all(tree);
}

/* The client's IKE_SA_INIT again, with a COOKIE notify in front. */
static void with_cookie(struct ike_client *c, const uint8_t *cookie, size_t len, struct ike_buf *b)
{
    struct ike_msg m;
    struct ike_builder bd;

    assert_int_equal(ike_msg_parse(c->msg1, c->msg1_len, &m), IKE_PARSE_OK);
    ike_build_begin(&bd, &m.hdr);
    ike_notify_build(&bd, &(struct ike_notify_pld){.type = N_COOKIE, .data = cookie, .len = len});
    for (size_t i = 0; i < m.npld; i++)
        ike_build_raw(&bd, m.pld[i].type, m.pld[i].critical, m.pld[i].body, m.pld[i].len);
    assert_true(ike_build_finish(&bd));
    *b = bd.buf;
}

/* One new client from the harness's peer address: its IKE_SA_INIT, and the
 * cookie returned if one is asked for. Returns the answer's length. */
static size_t one_client(struct env *e, struct ike_engine *eng, bool *cookie_asked)
{
    struct ike_client c;
    struct ike_buf b = {0};
    struct ike_msg m;
    struct ike_notify_pld n;
    size_t len;

    *cookie_asked = false;
    ike_client_init(&c, IKE_DH_ECP256);
    assert_true(ike_client_sa_init(&c, &b));
    len = ask(e, eng, &b);
    if (len && ike_msg_parse(e->out, e->out_len, &m) == IKE_PARSE_OK && m.npld && m.pld[0].type == IKE_PLD_NOTIFY &&
        ike_notify_parse(&m.pld[0], &n) && n.type == N_COOKIE) {
        uint8_t ck[36];

        assert_int_equal(n.len, 36);
        memcpy(ck, n.data, 36);
        *cookie_asked = true;
        with_cookie(&c, ck, sizeof(ck), &b);
        len = ask(e, eng, &b);
    }
    ike_client_fini(&c);
    return len;
}

/* The client's IKE_SA_INIT answered through the pool (@c then has its keys). */
static void sa_init_through(struct env *e, struct ike_engine *eng, struct ike_client *c)
{
    struct ike_buf b = {0};

    assert_true(ike_client_sa_init(c, &b));
    assert_int_equal(ask(e, eng, &b), 0);
    wait_answer(e, eng);
    assert_true(ike_client_sa_init_done(c, e->out, e->out_len));
}

/* IKE_AUTH on the thread: its SK payload opened by one job, its response
 * sealed by another; no answer until the loop delivers them, a retransmission
 * meanwhile counted and not answered twice, then answered with the same
 * response; the client accepts it as it does the inline one (below). */
static void test_auth_on_thread(void **state)
{
    struct env *e = *state;
    struct ike_engine *eng = engine(e, e->tree);
    struct ike_client c;
    struct ike_buf b = {0}, again, third;
    uint8_t resp[2048];
    size_t resp_len;

    assert_int_equal(ike_engine_set_crypto_threads(eng, 1), 0);
    ike_client_init(&c, IKE_DH_CURVE25519);
    sa_init_through(e, eng, &c);
    assert_int_equal(counter(e, eng, "crypto-pool/jobs"), 1);
    assert_true(ike_client_auth(&c, "alice.example.org", "k1", &b));
    again = copy(&b);
    third = copy(&b);
    assert_int_equal(ask(e, eng, &b), 0); /* opened on the thread */
    assert_int_equal(counter(e, eng, "crypto-pool/jobs"), 2);
    assert_int_equal(ask(e, eng, &again), 0); /* retransmitted while it is: no second job */
    assert_int_equal(counter(e, eng, "exchanges/retransmissions"), 1);
    assert_int_equal(counter(e, eng, "crypto-pool/jobs"), 2);
    wait_answer(e, eng);
    assert_int_equal(counter(e, eng, "crypto-pool/jobs"), 3); /* and sealed on it */
    assert_int_equal(counter(e, eng, "crypto-pool/queued"), 0);
    resp_len = e->out_len;
    memcpy(resp, e->out, resp_len);
    assert_true(ike_client_auth_done(&c, resp, resp_len));
    assert_int_equal(counter(e, eng, "sa/active"), 1);
    assert_int_equal(ask(e, eng, &third), resp_len); /* the same response again, at once */
    assert_memory_equal(e->out, resp, resp_len);
    assert_int_equal(counter(e, eng, "crypto-pool/jobs"), 3);
    ike_client_fini(&c);
    ike_engine_free(eng);
}

/* No threads: the same exchange inline, no job; and with threads but the
 * queue full, IKE_AUTH is opened and sealed inline (answered at once). */
static void test_auth_inline(void **state)
{
    struct env *e = *state;
    struct ike_engine *eng = engine(e, e->tree);
    struct block hold[IKE_CRYPTO_QUEUE_MIN];
    struct ike_client c;
    struct ike_buf b = {0};
    size_t cap;

    ike_client_init(&c, IKE_DH_CURVE25519);
    establish(e, eng, &c, "alice.example.org", "k1", &b);
    assert_int_equal(counter(e, eng, "crypto-pool/jobs"), 0);
    assert_int_equal(counter(e, eng, "sa/active"), 1);
    ike_client_fini(&c);
    ike_engine_free(eng);

    eng = engine(e, e->tree);
    assert_int_equal(ike_engine_set_crypto_threads(eng, 1), 0);
    cap = cpool_capacity(eng->pool);
    assert_int_equal(cap, IKE_CRYPTO_QUEUE_MIN);
    ike_client_init(&c, IKE_DH_CURVE25519);
    sa_init_through(e, eng, &c);
    for (size_t i = 0; i < cap; i++) {
        hold[i] = (struct block){.j = {.work = block_work, .done = block_done}};
        assert_int_equal(cpool_submit(eng->pool, &hold[i].j), 0);
    }
    assert_true(ike_client_auth(&c, "alice.example.org", "k1", &b));
    assert_true(ask(e, eng, &b)); /* the queue is full: all of it inline */
    assert_true(ike_client_auth_done(&c, e->out, e->out_len));
    assert_int_equal(counter(e, eng, "crypto-pool/jobs"), 1);
    assert_int_equal(counter(e, eng, "sa/active"), 1);
    for (size_t i = 0; i < cap; i++)
        atomic_store(&hold[i].release, true);
    while (cpool_pending(eng->pool))
        event_base_loop(e->base, EVLOOP_ONCE);
    ike_client_fini(&c);
    ike_engine_free(eng);
}

/* The engine ends while IKE_AUTH's job is queued behind a busy thread: the
 * half-open SA goes, the job's result is dropped, nothing leaks (LSan). */
static void test_auth_gone_while_opening(void **state)
{
    struct env *e = *state;
    struct ike_engine *eng = engine(e, e->tree);
    struct block hold = {.j = {.work = block_work, .done = block_done}};
    struct ike_client c;
    struct ike_buf b = {0};

    assert_int_equal(ike_engine_set_crypto_threads(eng, 1), 0);
    ike_client_init(&c, IKE_DH_CURVE25519);
    sa_init_through(e, eng, &c);
    assert_int_equal(cpool_submit(eng->pool, &hold.j), 0);
    wait_started(&hold);
    assert_true(ike_client_auth(&c, "alice.example.org", "k1", &b));
    assert_int_equal(ask(e, eng, &b), 0);
    assert_int_equal(counter(e, eng, "crypto-pool/queued"), 2);
    atomic_store(&hold.release, true);
    ike_engine_free(eng);
    assert_int_equal(hold.done, 1);
    ike_client_fini(&c);
}

/* A commit closes the socket an IKE_AUTH request came in on while its job
 * runs, and opens another that lands at the same address: the answer goes by
 * the session's socket, not by the new one taken for the old. */
static void test_auth_socket_replaced(void **state)
{
    struct env *e = *state;
    struct ike_engine *eng = engine(e, e->tree);
    struct block hold = {.j = {.work = block_work, .done = block_done}};
    struct ike_sock *natt = &eng->detached[1];
    struct ike_client c;
    struct ike_buf b = {0};

    assert_int_equal(ike_engine_set_crypto_threads(eng, 1), 0);
    ike_client_init(&c, IKE_DH_CURVE25519);
    sa_init_through(e, eng, &c); /* on the port-500 socket */
    assert_int_equal(cpool_submit(eng->pool, &hold.j), 0);
    wait_started(&hold);
    assert_true(ike_client_auth(&c, "alice.example.org", "k1", &b));
    e->out_len = 0;
    ike_engine_input(eng, &local, &peer, true, b.data, b.len); /* on the NAT-T one */
    ike_buf_fini(&b);
    assert_int_equal(counter(e, eng, "crypto-pool/queued"), 2);
    /* the NAT-T socket closed, and a new one (another serial) at its address */
    natt->serial = 1000;
    eng->socks[eng->nsocks++] = natt;
    atomic_store(&hold.release, true);
    wait_answer(e, eng);
    assert_true(ike_client_auth_done(&c, e->out, e->out_len));
    assert_ptr_equal(eng->by_id->sock, &eng->detached[0]);
    eng->nsocks--;
    ike_client_fini(&c);
    ike_engine_free(eng);
}

/* Copies of an IKE_AUTH request with other bytes (forged: the same SPIs and
 * message ID) arriving first do not keep the genuine one out: each is opened
 * by a job of its own, the first that authenticates is handled; a copy byte
 * for byte is a retransmission; beyond IKE_AUTHQ_OPEN_MAX copies are dropped. */
static void test_auth_forged_first(void **state)
{
    struct env *e = *state;
    struct ike_engine *eng = engine(e, e->tree);
    struct block hold = {.j = {.work = block_work, .done = block_done}};
    struct ike_client c;
    struct ike_buf b = {0}, forged, again;
    uint64_t dropped;

    assert_int_equal(ike_engine_set_crypto_threads(eng, 1), 0);
    ike_client_init(&c, IKE_DH_CURVE25519);
    sa_init_through(e, eng, &c);
    assert_int_equal(cpool_submit(eng->pool, &hold.j), 0);
    wait_started(&hold);
    assert_true(ike_client_auth(&c, "alice.example.org", "k1", &b));
    for (unsigned i = 0; i + 1 < IKE_AUTHQ_OPEN_MAX; i++) {
        forged = copy(&b);
        forged.data[forged.len - 1] ^= 1;
        forged.data[forged.len - 2] ^= (uint8_t)i;
        again = copy(&forged);
        assert_int_equal(ask(e, eng, &forged), 0);
        assert_int_equal(counter(e, eng, "crypto-pool/jobs"), 2 + i);
        if (i == 0) { /* the same bytes again: no second job */
            assert_int_equal(ask(e, eng, &again), 0);
            assert_int_equal(counter(e, eng, "exchanges/retransmissions"), 1);
        } else {
            ike_buf_fini(&again);
        }
    }
    again = copy(&b);
    assert_int_equal(ask(e, eng, &again), 0); /* the genuine one: a job too */
    assert_int_equal(counter(e, eng, "crypto-pool/jobs"), 1 + IKE_AUTHQ_OPEN_MAX);
    forged = copy(&b);
    forged.data[forged.len - 3] ^= 1;
    dropped = counter(e, eng, "exchanges/packets-dropped");
    assert_int_equal(ask(e, eng, &forged), 0); /* one too many */
    assert_int_equal(counter(e, eng, "exchanges/packets-dropped"), dropped + 1);
    assert_int_equal(counter(e, eng, "crypto-pool/jobs"), 1 + IKE_AUTHQ_OPEN_MAX);
    atomic_store(&hold.release, true);
    wait_answer(e, eng);
    assert_true(ike_client_auth_done(&c, e->out, e->out_len));
    while (cpool_pending(eng->pool))
        event_base_loop(e->base, EVLOOP_ONCE);
    assert_int_equal(counter(e, eng, "sa/active"), 1);
    assert_int_equal(counter(e, eng, "exchanges/retransmissions"), 1);
    ike_buf_fini(&b);
    ike_client_fini(&c);
    ike_engine_free(eng);
}

static void from(const char *addr)
{
    inet_pton(AF_INET, addr, &((struct sockaddr_in *)&peer)->sin_addr);
}

static void test_flood(void **state)
{
    struct env *e = *state;
    struct ike_engine *eng = engine(e, e->tree);
    struct block hold = {.j = {.work = block_work, .done = block_done}};
    size_t cap;
    bool asked;

    assert_int_equal(ike_engine_set_crypto_threads(eng, 1), 0);
    cap = cpool_capacity(eng->pool);
    assert_int_equal(cap, IKE_CRYPTO_QUEUE_MIN);
    assert_int_equal(cpool_submit(eng->pool, &hold.j), 0); /* the thread is busy */
    wait_started(&hold);
    /* up to half full: no cookie asked (none configured) */
    for (size_t i = 1; i < cap / 2; i++) {
        assert_int_equal(one_client(e, eng, &asked), 0);
        assert_false(asked);
    }
    assert_int_equal(counter(e, eng, "crypto-pool/queued"), cap / 2);
    /* half full: a cookie first; this source already has over a quarter */
    assert_int_equal(one_client(e, eng, &asked), 0);
    assert_true(asked);
    assert_int_equal(counter(e, eng, "crypto-pool/source-share"), 1);
    /* other sources, each with a cookie, up to a quarter each: full */
    for (size_t i = cap / 2; i < cap; i++) {
        from(i < cap / 2 + cap / 4 ? "198.51.100.10" : "198.51.100.11");
        assert_int_equal(one_client(e, eng, &asked), 0);
        assert_true(asked);
    }
    assert_int_equal(counter(e, eng, "crypto-pool/queued"), cap);
    assert_int_equal(counter(e, eng, "crypto-pool/source-share"), 1);
    from("198.51.100.12");
    assert_int_equal(one_client(e, eng, &asked), 0);
    assert_int_equal(counter(e, eng, "crypto-pool/queue-full"), 1);
    assert_int_equal(counter(e, eng, "crypto-pool/cookies-demanded"), cap / 2 + 2);
    assert_int_equal(counter(e, eng, "crypto-pool/jobs"), cap - 1);
    assert_int_equal(counter(e, eng, "sa/half-open"), cap - 1);
    /* the thread goes on: every half-open SA gets its answer */
    atomic_store(&hold.release, true);
    while (cpool_pending(eng->pool))
        event_base_loop(e->base, EVLOOP_ONCE);
    assert_int_equal(hold.ran, 1);
    assert_int_equal(counter(e, eng, "sa/half-open"), cap - 1);
    /* the pool is idle, but as many half-open SAs as it holds (a spoofer's
     * never finish) keep demanding cookies */
    from("198.51.100.13");
    assert_int_equal(one_client(e, eng, &asked), 0);
    assert_false(asked);
    while (cpool_pending(eng->pool))
        event_base_loop(e->base, EVLOOP_ONCE);
    assert_int_equal(counter(e, eng, "sa/half-open"), cap);
    assert_int_equal(one_client(e, eng, &asked), 0);
    assert_true(asked);
    assert_int_equal(counter(e, eng, "crypto-pool/jobs"), cap + 1);
    from("198.51.100.9");
    ike_engine_free(eng);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounded_queue),
        cmocka_unit_test(test_free_with_jobs),
        cmocka_unit_test(test_inline),
        cmocka_unit_test(test_few_wakes),
        cmocka_unit_test(test_auto_threads),
        cmocka_unit_test(test_init_on_thread),
        cmocka_unit_test(test_sa_gone_while_computing),
        cmocka_unit_test(test_commit_while_computing),
        cmocka_unit_test(test_flood),
        cmocka_unit_test(test_auth_on_thread),
        cmocka_unit_test(test_auth_inline),
        cmocka_unit_test(test_auth_gone_while_opening),
        cmocka_unit_test(test_auth_socket_replaced),
        cmocka_unit_test(test_auth_forged_first),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
