/* Child SAs of sessions in the dataplane (sess.h): their two SAs installed
 * and removed, with their changing state in the session arena's SA slots when
 * there is one (so that a later process continues them); their traffic; and
 * the dataplane's poll every second: SAs past their volume limits, sessions
 * idle for their idle-time; the session's bandwidth limits there (the
 * dataplane's per-session buckets). The SAs themselves (algorithms, keys,
 * selectors) are built by the IKE engine. */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "daemon/base/log.h"
#include "daemon/session/sess.h"
#include "daemon/session/sess_arena.h"
#include "daemon/base/poison.h"

/* Log lines of child SAs and idle sessions keep the subsystem they always had. */
#define SUBSYS "ike"

/* Two fresh SA slots for @c's SAs, given to the dataplane through @in and
 * @out; none without an arena or when it is full (logged once per manager). */
static void take_slots(struct sess_mgr *m, struct sess_child *c, struct dp_sa *in, struct dp_sa *out)
{
    uint32_t a, b;

    c->live_in = c->live_out = 0;
    if (!m->arena)
        return; /* the dataplane keeps the SAs' state itself */
    a = sess_arena_sa_alloc(m->arena);
    b = a == SESS_ARENA_NONE ? SESS_ARENA_NONE : sess_arena_sa_alloc(m->arena);
    if (b == SESS_ARENA_NONE) {
        if (a != SESS_ARENA_NONE)
            sess_arena_sa_free(m->arena, a);
        if (!m->arena_full_logged)
            log_warn(SUBSYS, "the session arena has no SA slot left: new SAs will not survive a restart of ravend");
        m->arena_full_logged = true;
        return;
    }
    c->live_in = a + 1;
    c->live_out = b + 1;
    in->live = sess_arena_sa(m->arena, a);
    out->live = sess_arena_sa(m->arena, b);
}

/* @c's slots back to the arena (none is given back by a process exiting with
 * its sessions kept: the manager then has no arena). */
static void give_slots(struct sess_mgr *m, struct sess_child *c)
{
    if (m->arena) {
        if (c->live_in)
            sess_arena_sa_free(m->arena, c->live_in - 1);
        if (c->live_out)
            sess_arena_sa_free(m->arena, c->live_out - 1);
    }
    c->live_in = c->live_out = 0;
}

bool sess_child_install(struct sess *ss, struct sess_child *c, struct dp_sa *in, struct dp_sa *out)
{
    struct sess_mgr *m = ss->m;
    bool adopt = in->adopt && m->arena && c->live_in && c->live_out;

    if (adopt) {
        /* taken over: the slots c names (claimed by adoption) hold the state */
        in->live = sess_arena_sa(m->arena, c->live_in - 1);
        out->live = sess_arena_sa(m->arena, c->live_out - 1);
    } else {
        take_slots(m, c, in, out);
    }
    if (m->dp && !dp_sa_add(m->dp, in)) {
        if (!dp_sa_add(m->dp, out))
            return c->in_dp = true;
        dp_sa_del(m->dp, ss->id, in->spi, true, NULL);
    }
    if (!adopt) /* adopted slots stay claimed until sess_child_remove */
        give_slots(m, c);
    return false;
}

static void stats_add(struct dp_sa_stats *to, const struct dp_sa_stats *a)
{
    to->packets += a->packets;
    to->bytes += a->bytes;
    to->replay_drops += a->replay_drops;
    to->auth_failures += a->auth_failures;
    to->selector_drops += a->selector_drops;
}

void sess_child_carry(struct sess_child *to, const struct sess_child *from)
{
    stats_add(&to->base_in, &from->base_in);
    stats_add(&to->base_out, &from->base_out);
}

void sess_child_remove(struct sess *ss, struct sess_child *c)
{
    struct sess_mgr *m = ss->m;
    struct dp_sa_stats in = {0}, out = {0};

    /* a child that is not in the dataplane (adoption could not put it back) has
     * nothing there: its inbound SPI may be another session's now */
    if (c->in_dp && m->dp) {
        dp_sa_del(m->dp, ss->id, c->spi_in, true, &in);
        dp_sa_del(m->dp, ss->id, c->spi_out, false, &out);
    }
    c->in_dp = false;
    stats_add(&c->base_in, &in); /* the SAs' final counters, exact once the workers let go */
    stats_add(&c->base_out, &out);
    give_slots(m, c); /* after the dataplane let go of them */
}

void sess_child_stats(const struct sess *ss, const struct sess_child *c, struct dp_sa_stats *in,
                      struct dp_sa_stats *out)
{
    memset(in, 0, sizeof(*in));
    memset(out, 0, sizeof(*out));
    if (ss->m->dp) {
        dp_sa_stats(ss->m->dp, ss->id, c->spi_in, true, in);
        dp_sa_stats(ss->m->dp, ss->id, c->spi_out, false, out);
    }
    stats_add(in, &c->base_in);
    stats_add(out, &c->base_out);
}

/* SAs past their soft volume limit are to be rekeyed; past the hard one the
 * dataplane already carries nothing on them: they are to be deleted. */
static void volume_limits(struct sess_mgr *m, bool hard)
{
    struct dp_sa_ref refs[64];
    size_t n;

    while ((n = (hard ? dp_hard_expired : dp_soft_expired)(m->dp, refs, 64))) {
        for (size_t i = 0; i < n; i++) {
            struct sess *ss = sess_find(m, refs[i].session_id);

            if (ss && m->ops->up(ss))
                m->ops->child_volume(ss, refs[i].inbound, refs[i].spi, hard);
        }
        if (n < 64)
            break;
    }
}

/* The packets a session carried in both directions, over every child (a
 * rekeyed child's traffic carries over to its successor: the sum only grows). */
static uint64_t packets(const struct sess *ss)
{
    struct sess_traffic t = {0};

    ss->m->ops->traffic(ss, &t);
    return t.in_packets + t.out_packets;
}

/* The IPsec profile's idle-time: a session whose SAs carried no packet in
 * either direction for that long ends (DELETE, lease released, accounting Stop
 * with Idle-Timeout). The counters are read about ten times per idle-time (at
 * most every 10 s), so the session goes between idle-time and idle-time + 10 s
 * after its last packet. */
static void idle_check(struct sess_mgr *m)
{
    struct sess *ss, *tmp;
    time_t now = time(NULL);

    HASH_ITER(hh, m->by_id, ss, tmp) {
        time_t step;
        uint64_t n;

        if (!ss->idle_time || !m->ops->up(ss))
            continue;
        step = ss->idle_time / 10 > 10 ? 10 : ss->idle_time / 10;
        if (!ss->idle_since) {
            ss->idle_since = now;
            ss->idle_traffic = packets(ss);
            continue;
        }
        if (now - ss->idle_since < step)
            continue;
        if ((n = packets(ss)) != ss->idle_traffic) {
            ss->idle_traffic = n;
            ss->idle_since = now;
            continue;
        }
        if (now - ss->idle_since >= (time_t)ss->idle_time) {
            log_info(SUBSYS, "session %" PRIu64 ": no traffic for %" PRIu32 " s (idle-time): deleted", ss->id,
                     ss->idle_time);
            m->ops->end(ss, "idle-timeout", true);
        }
    }
}

void sess_dp_poll(struct sess_mgr *m)
{
    if (!m->dp)
        return;
    volume_limits(m, false);
    volume_limits(m, true);
    idle_check(m);
}

static void police_conf(const struct sess_rate *r, int d, struct dp_police_conf *c)
{
    c->kbps = r->kbps[d] == AAA_RATE_NONE ? 0 : r->kbps[d];
    c->burst = r->burst[d];
}

int sess_rate_apply(struct sess *ss)
{
    struct dp_police_conf in, out;
    int rc;

    police_conf(&ss->rate, 0, &in);
    police_conf(&ss->rate, 1, &out);
    if (!ss->m->dp || (!ss->rate_in_dp && !in.kbps && !out.kbps))
        return 0;
    rc = dp_session_police(ss->m->dp, ss->id, &in, &out);
    if (rc) {
        log_warn(SUBSYS, "session %" PRIu64 ": its bandwidth limits cannot be set: %s", ss->id, strerror(-rc));
        return rc;
    }
    ss->rate_in_dp = true;
    return 0;
}

void sess_rate_release(struct sess *ss)
{
    if (ss->rate_in_dp && ss->m && ss->m->dp)
        dp_session_police_del(ss->m->dp, ss->id);
    ss->rate_in_dp = false;
}

void sess_rate_stats(const struct sess *ss, struct dp_police_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (ss->rate_in_dp && ss->m->dp)
        dp_session_police_stats(ss->m->dp, ss->id, out);
}
