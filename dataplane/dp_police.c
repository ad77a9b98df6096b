/* Sessions' bandwidth limits (dp.h dp_session_police): a token bucket per
 * session and direction, shared by the session's SAs and by every worker.
 *
 * The bucket is GCRA, the virtual scheduling form of a token bucket (ITU-T
 * I.371): one word, tat, the time at which the bucket would be full again. A
 * packet of L bytes at time t costs L * cost ns; it conforms when
 * max(tat, t) + L * cost - t <= tau (the debt stays within the burst's time),
 * or when the bucket is full (tat <= t), so that a packet larger than the
 * whole burst still passes, once the bucket has refilled, and leaves a debt
 * that stops the next ones for its time; then tat moves to max(tat, t) +
 * L * cost. Either way the long-run rate is the limit. A worker updates tat
 * with one compare-and-swap, so buckets need no lock and no refill timer:
 * the clock refills them.
 *
 * The limit {cost, tau} is changed by the control thread while workers read
 * it: a sequence count around the two words (a seqlock, one writer) lets a
 * worker read a pair that was set together, never the rate of one limit with
 * the burst of another. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "dataplane/dp_int.h"

#define BURST_MIN 3000u  /* two full-size packets (the model's least burst) */
#define BURST_DEFAULT_MS 250u
#define TAU_MAX (3600ull * 1000000000ull) /* an hour of debt: nothing overflows past it */

/* The limit of @b as set together (seqlock read side). */
static void limit_read(struct dp_bucket *b, uint64_t *cost, uint64_t *tau)
{
    unsigned seq;

    for (;;) {
        seq = atomic_load_explicit(&b->seq, memory_order_acquire);
        *cost = atomic_load_explicit(&b->cost, memory_order_relaxed);
        *tau = atomic_load_explicit(&b->tau, memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        if (!(seq & 1) && atomic_load_explicit(&b->seq, memory_order_relaxed) == seq)
            return;
    }
}

bool dp_bucket_take(struct dp_bucket *b, uint64_t now, size_t len)
{
    uint64_t cost, tau, tat, base, inc;

    limit_read(b, &cost, &tau);
    if (!cost || !tau)
        return true;
    inc = (uint64_t)(((unsigned __int128)len * cost) >> 16);
    tat = atomic_load_explicit(&b->tat, memory_order_relaxed);
    do {
        base = tat > now ? tat : now;
        if (base > now && base - now + inc > tau)
            return false;
    } while (!atomic_compare_exchange_weak_explicit(&b->tat, &tat, base + inc, memory_order_relaxed,
                                                    memory_order_relaxed));
    return true;
}

void dp_bucket_set(struct dp_bucket *b, const struct dp_police_conf *c)
{
    uint64_t cost = 0, burst, tau = 0;
    unsigned seq = atomic_load_explicit(&b->seq, memory_order_relaxed) & ~1u; /* even: no change under way */

    if (c && c->kbps) {
        /* 8 bits a byte at kbps * 1000 bits/s: 8e6 / kbps ns a byte, 16.16 */
        cost = (8000000ull << 16) / c->kbps;
        burst = c->burst ? c->burst : (uint64_t)c->kbps * 1000 / 8 * BURST_DEFAULT_MS / 1000;
        if (burst < BURST_MIN)
            burst = BURST_MIN;
        unsigned __int128 t = ((unsigned __int128)burst * cost) >> 16;
        tau = t > TAU_MAX ? TAU_MAX : (uint64_t)t;
    }
    /* seqlock write side (the control thread is the only writer): odd while
     * the pair changes, a worker that saw it change reads it again */
    atomic_store_explicit(&b->seq, seq + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&b->cost, cost, memory_order_relaxed);
    atomic_store_explicit(&b->tau, tau, memory_order_relaxed);
    atomic_store_explicit(&b->seq, seq + 2, memory_order_release);
    atomic_store_explicit(&b->tat, 0, memory_order_relaxed); /* full */
}

static struct dp_police *police_find(const struct dp *dp, uint64_t session_id)
{
    struct dp_police *p;

    HASH_FIND(hh, dp->police, &session_id, sizeof(session_id), p);
    return p;
}

static void police_free_rcu(struct rcu_head *h)
{
    free(caa_container_of(h, struct dp_police, rcu));
}

/* @p off the table once neither the control plane nor an SA wants it; freed
 * after the workers' grace period. */
static void police_put(struct dp *dp, struct dp_police *p)
{
    if (p->refs || p->wanted)
        return;
    HASH_DEL(dp->police, p);
    call_rcu(&p->rcu, police_free_rcu);
}

int dp_session_police(struct dp *dp, uint64_t session_id, const struct dp_police_conf *in,
                      const struct dp_police_conf *out)
{
    struct dp_police *p = police_find(dp, session_id);
    struct dp_entry *e, *tmp;

    if (!p) {
        if (!(p = aligned_alloc(DP_CACHELINE, (sizeof(*p) + DP_CACHELINE - 1) / DP_CACHELINE * DP_CACHELINE)))
            return -ENOMEM;
        memset(p, 0, sizeof(*p));
        p->session_id = session_id;
        dp_bucket_set(&p->b[0], in);
        dp_bucket_set(&p->b[1], out);
        p->wanted = true;
        HASH_ADD(hh, dp->police, session_id, sizeof(p->session_id), p);
        /* the session's SAs already in the dataplane (a CoA, an adoption that
         * added them first) join it */
        HASH_ITER(hh, dp->sas, e, tmp) {
            if (e->rsa->conf.session_id == session_id && !e->rsa->police)
                dp_police_attach(dp, e->rsa);
        }
        return 0;
    }
    p->wanted = true;
    dp_bucket_set(&p->b[0], in);
    dp_bucket_set(&p->b[1], out);
    return 0;
}

void dp_session_police_del(struct dp *dp, uint64_t session_id)
{
    struct dp_police *p = police_find(dp, session_id);

    if (!p)
        return;
    p->wanted = false;
    dp_rcu_enter();
    police_put(dp, p);
    dp_rcu_leave();
}

int dp_session_police_stats(const struct dp *dp, uint64_t session_id, struct dp_police_stats *out)
{
    const struct dp_police *p = police_find(dp, session_id);

    if (!p)
        return -ENOENT;
    for (size_t d = 0; d < 2; d++) {
        out->packets[d] = atomic_load_explicit(&p->drop_packets[d], memory_order_relaxed);
        out->bytes[d] = atomic_load_explicit(&p->drop_bytes[d], memory_order_relaxed);
    }
    return 0;
}

void dp_police_attach(struct dp *dp, struct dp_rsa *r)
{
    struct dp_police *p = police_find(dp, r->conf.session_id);

    if (!p)
        return;
    p->refs++;
    atomic_store_explicit(&r->police, p, memory_order_release);
}

void dp_police_detach(struct dp *dp, struct dp_rsa *r)
{
    struct dp_police *p = atomic_load_explicit(&r->police, memory_order_relaxed);

    if (!p)
        return;
    atomic_store_explicit(&r->police, NULL, memory_order_relaxed);
    p->refs--;
    dp_rcu_enter();
    police_put(dp, p);
    dp_rcu_leave();
}

void dp_police_free_all(struct dp *dp)
{
    struct dp_police *p, *tmp;

    HASH_ITER(hh, dp->police, p, tmp) {
        HASH_DEL(dp->police, p);
        free(p);
    }
}
