/* The engine's side of the session arena (daemon/session/sess_arena.h): each
 * established session's record written as it changes, its child SAs' changing
 * state (sequence numbers, replay windows, counters) in the arena's SA slots,
 * and at start the adoption of the sessions an earlier process left there. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "daemon/base/log.h"
#include "daemon/ike/ike_eng.h"
#include "daemon/ike/ike_persist.h"
#include "daemon/session/sess_arena.h"
#include "daemon/base/poison.h"

static void write_rec(struct ike_sess *s, bool with_resp)
{
    struct ike_engine *e = s->e;
    struct ike_out keep = s->last_resp;
    uint8_t *rec = NULL;
    size_t len = 0;
    int rc;

    if (!with_resp)
        memset(&s->last_resp, 0, sizeof(s->last_resp));
    rc = ike_persist_encode(s, &rec, &len) ? 0 : errno == EMSGSIZE ? -EMSGSIZE : -ENOMEM;
    s->last_resp = keep;
    if (!rc)
        rc = sess_arena_rec_write(e->arena, s->arena_slot - 1, rec, len);
    if (rec) {
        OPENSSL_cleanse(rec, len);
        free(rec);
    }
    if (rc == -EMSGSIZE && with_resp) {
        write_rec(s, false); /* without the last response: a retransmitted request then goes unanswered */
        return;
    }
    if (rc) {
        /* the slot's older record must not be taken over either */
        log_warn("ike", "session %" PRIu64 ": its record (%zu bytes) cannot be written to the session arena: %s; "
                 "it will not survive a restart of ravend", s->ss.id, len, strerror(-rc));
        sess_arena_rec_free(e->arena, s->arena_slot - 1);
        s->arena_slot = 0;
    }
}

void ike_persist_save(struct ike_sess *s)
{
    struct ike_engine *e = s->e;

    if (!e->arena || e->keeping || !ike_sa_up(s))
        return;
    s->persist_dirty = false;
    if (!s->arena_slot) {
        uint32_t slot = sess_arena_rec_alloc(e->arena);

        if (slot == SESS_ARENA_NONE) {
            if (!e->sm.arena_full_logged)
                log_warn("ike", "the session arena is full: new sessions will not survive a restart of ravend");
            e->sm.arena_full_logged = true;
            return;
        }
        s->arena_slot = slot + 1;
    }
    write_rec(s, true);
}

static void on_persist(evutil_socket_t fd, short what, void *arg)
{
    struct ike_engine *e = arg;
    size_t n = e->ndirty;

    (void)fd;
    (void)what;
    e->ndirty = 0;
    for (size_t i = 0; i < n; i++) {
        struct ike_sess *s;

        HASH_FIND(hh_id, e->by_id, &e->dirty[i], sizeof(e->dirty[i]), s);
        if (s && s->persist_dirty)
            ike_persist_save(s);
    }
}

void ike_persist_mark(struct ike_sess *s)
{
    struct ike_engine *e = s->e;

    if (!e->arena || e->keeping || s->persist_dirty || !ike_sa_up(s))
        return;
    if (e->ndirty == e->dirty_cap) {
        size_t cap = e->dirty_cap ? 2 * e->dirty_cap : 64;
        uint64_t *d = realloc(e->dirty, cap * sizeof(*d));

        if (!d) {
            ike_persist_save(s); /* now, then */
            return;
        }
        e->dirty = d;
        e->dirty_cap = cap;
    }
    e->dirty[e->ndirty++] = s->ss.id;
    s->persist_dirty = true;
    evtimer_add(e->ev_persist, &(struct timeval){.tv_sec = 0});
}

void ike_persist_forget(struct ike_sess *s)
{
    if (s->e->arena && !s->e->keeping && s->arena_slot)
        sess_arena_rec_free(s->e->arena, s->arena_slot - 1);
    s->arena_slot = 0;
    s->persist_dirty = false;
}

void ike_persist_keep(struct ike_sess *s)
{
    /* at exit, sessions kept for the next process: nothing is given back (no
     * DELETE, no accounting Stop, leases and kernel routes stay), only memory */
    sess_lease_keep(&s->ss);
    free(s->routes);
    s->routes = NULL;
    s->nroutes = 0;
    for (size_t i = 0; i < s->nchild; i++) {
        ike_tss_free(&s->child[i].tsi);
        ike_tss_free(&s->child[i].tsr);
    }
    if (s->child)
        OPENSSL_cleanse(s->child, s->child_cap * sizeof(*s->child));
    s->nchild = 0;
}

void ike_engine_set_arena(struct ike_engine *e, struct sess_arena *a)
{
    e->arena = a;
    /* session ids stay unique for the arena's life: new ones follow the highest
     * any process of the arena handed out (adopted sessions keep theirs) */
    if (a && e->next_id < sess_arena_last_id(a))
        e->next_id = sess_arena_last_id(a);
    if (a && !e->ev_persist)
        e->ev_persist = evtimer_new(e->base, on_persist, e);
    if (!e->ev_persist)
        e->arena = NULL;
    sess_mgr_set_dp(&e->sm, e->dp, e->arena); /* child SAs' state in its SA slots */
}

void ike_engine_keep_sessions(struct ike_engine *e)
{
    if (!e->arena)
        return;
    on_persist(-1, 0, e); /* what changed in this turn of the loop */
    e->keeping = true;
    sess_mgr_set_dp(&e->sm, e->dp, NULL); /* the SA slots are the next process's: none given back */
}

/* ---- adoption ---- */

static bool is_any(const struct sockaddr_storage *a)
{
    static const uint8_t zero[16];

    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr == 0;
    return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, zero, 16);
}

/* The socket the adopted session's messages went through (its port kind and
 * VRF, the same address and port or the wildcard of its port), NULL if none is
 * listened on any longer. */
static struct ike_sock *find_sock(struct ike_engine *e, const struct ike_sess *s)
{
    if (e->output) /* the test seam: no sockets */
        return &e->detached[s->adopt_natt ? 1 : 0];
    for (size_t i = 0; i < e->nsocks; i++) {
        struct ike_sock *sk = e->socks[i];

        if (sk->natt != s->adopt_natt || strcmp(sk->vrf, s->adopt_vrf) ||
            sk->addr.ss_family != s->local.ss_family || ike_port_of(&sk->addr) != ike_port_of(&s->local))
            continue;
        if (ike_sa_equal(&sk->addr, &s->local) || is_any(&sk->addr))
            return sk;
    }
    return NULL;
}

/* The child SAs back in the dataplane, continuing where they were. A child whose
 * SA slots cannot be claimed (named twice in the arena) keeps none. */
static bool children_back(struct ike_sess *s)
{
    struct ike_engine *e = s->e;
    bool ok = true;

    for (size_t i = 0; i < s->nchild; i++) {
        struct ike_child_sa *c = &s->child[i];

        if (!ok || !sess_arena_sa_claim(e->arena, c->sc.live_in - 1))
            c->sc.live_in = 0;
        if (!ok || !sess_arena_sa_claim(e->arena, c->sc.live_out - 1))
            c->sc.live_out = 0;
        ok = ok && c->sc.live_in && c->sc.live_out;
    }
    /* its bandwidth limits first, so that its SAs take them when added */
    if (ok)
        sess_rate_apply(&s->ss);
    for (size_t i = 0; ok && i < s->nchild; i++) {
        struct ike_child_sa *c = &s->child[i];
        struct dp_sa in, out;

        ike_child_dp_conf(s, c, &c->keys, &in, &out);
        in.adopt = out.adopt = true; /* continuing in the slots claimed above */
        ok = sess_child_install(&s->ss, &c->sc, &in, &out);
        OPENSSL_cleanse(&in, sizeof(in));
        OPENSSL_cleanse(&out, sizeof(out));
        if (!ok)
            log_warn("ike", "session %" PRIu64 ": child SA %08" PRIx32 " cannot be put back into the dataplane",
                     s->ss.id, c->sc.spi_in);
    }
    return ok;
}

/* Timers from where the previous process left them. */
static void arm_adopted(struct ike_sess *s)
{
    time_t now = time(NULL);

    if (s->dpd_interval && s->dpd_periodic)
        evtimer_add(s->ev_live, &(struct timeval){.tv_sec = s->dpd_interval});
    sess_lifetime_arm(&s->ss);
    if (s->in.nat_local && s->gen->nat_keepalive)
        ike_sess_keepalive_arm(s);
    if (s->ike_lifetime) {
        time_t life = s->ike_since + (time_t)s->ike_lifetime - now,
               rekey = s->ike_since + (time_t)(s->ike_lifetime / 10 * 9) - now;

        evtimer_add(s->ev_ikelife, &(struct timeval){.tv_sec = life > 0 ? life : 0});
        evtimer_add(s->ev_ikerekey, &(struct timeval){.tv_sec = rekey > 0 ? rekey : 0});
    }
    ike_child_timer_arm(s);
    sess_dhcp_arm(&s->ss);
    sess_acct_resume(&s->ss);
    ike_mobike_adopted(s); /* a pending check whose socket the record does not name */
    /* a REDIRECT under way goes on; one queued, or answered with the session
     * still here (its follow-up is not in the record), is sent (again) */
    s->redirect_sent = s->req_pending && s->req_kind == REQ_REDIRECT;
    if (s->req_pending) { /* our request under way: sent again, as a retransmission */
        s->req_tries = 0;
        ike_sess_resend_request(s);
    } else {
        ike_child_flush_deletes(s); /* child DELETEs still to be sent */
        ike_mobike_flush(s);        /* a queued return routability check */
        ike_redirect_flush(s);
    }
}

/* Phase one, one record: the session back in the tables and its child SAs back
 * in the dataplane (before the dataplane's interfaces are applied: their XDP
 * programs start with every client prefix), its kernel routes installed again;
 * an unreadable record is dropped. */
static void adopt_record(struct ike_engine *e, const void *rec, size_t len, uint32_t slot,
                         struct ike_adopt_result *res)
{
    struct ike_sess *s = ike_sess_new(e);
    struct ike_persist_extra x;

    if (!s) {
        sess_arena_rec_free(e->arena, slot);
        res->unreadable++;
        return;
    }
    if (!ike_persist_decode(rec, len, s, &x) || !ike_sess_adopt_insert(s)) {
        log_warn("ike", "session arena: the record in slot %" PRIu32 " is not a session Raven can take over "
                 "(field %u): dropped", slot, x.bad_tag);
        ike_persist_extra_fini(&x);
        s->nchild = 0;
        s->ss.have_addr4 = s->ss.have_addr6 = false;
        s->nroutes = 0;
        ike_sess_release(s);
        sess_arena_rec_free(e->arena, slot);
        res->unreadable++;
        return;
    }
    s->arena_slot = slot + 1;
    s->adopting = true;
    s->adopt_natt = x.natt;
    memcpy(s->adopt_vrf, x.vrf, sizeof(s->adopt_vrf));
    ike_persist_extra_fini(&x);
    if (!children_back(s))
        s->adopt_why = "its child SAs could not be put back";
    else
        ike_route_install(s);
}

void ike_engine_adopt_begin(struct ike_engine *e, struct ike_adopt_result *res)
{
    uint32_t slot = 0;
    const void *rec;
    size_t len;

    memset(res, 0, sizeof(*res));
    if (!e->arena)
        return;
    while ((rec = sess_arena_rec_next(e->arena, &slot, &len)))
        adopt_record(e, rec, len, slot - 1, res);
    sess_arena_adopt_done(e->arena);
}

/* Phase two, one session: it takes the configuration now in force as its
 * generation; what it needs of it (its IKE address listened on, its profile,
 * its addresses in the pools), else why it cannot go on. */
static const char *adopt_check(struct ike_sess *s, bool fresh)
{
    bool v4 = s->ss.have_addr4, v6 = s->ss.have_addr6;
    const char *why;

    s->ss.have_addr4 = s->ss.have_addr6 = false; /* what is not taken back is not given back */
    if (!s->gen)
        s->gen = ike_conf_ref(s->e->conf);
    s->prof = s->ss.profile ? ike_conf_prof(s->gen, s->ss.profile) : NULL;
    s->sock = find_sock(s->e, s);
    if (s->adopt_why)
        return s->adopt_why;
    if (!s->sock)
        return "its IKE address is no longer listened on";
    if (!s->prof)
        return "its IKEv2 profile is no longer configured";
    why = sess_lease_take(&s->ss, v4, v6);
    if (!why && s->req_pending && (s->req_kind == REQ_CHILD_REKEY || s->req_kind == REQ_IKE_REKEY))
        why = "a rekey of Raven's was under way";
    if (!why && fresh)
        why = "ravend was started with --fresh";
    return why;
}

void ike_engine_adopt(struct ike_engine *e, bool fresh, struct ike_adopt_result *res)
{
    struct ike_sess *s, *tmp;
    uint64_t *end = NULL;
    size_t nend = 0;
    char a[INET6_ADDRSTRLEN];

    res->adopted = res->ended = 0;
    if (!e->arena || !e->conf)
        return;
    HASH_ITER(hh_id, e->by_id, s, tmp) {
        const char *why;

        if (!s->adopting)
            continue;
        s->adopting = false;
        if (s->route_accept)
            e->route_accept_seen = true; /* ike_route_subnet_holder walks the sessions from now on */
        why = adopt_check(s, fresh);
        if (why) {
            uint64_t *m = realloc(end, (nend + 1) * sizeof(*end));

            log_info("ike", "session %" PRIu64 " (%s, %s) found in the session arena is ended: %s", s->ss.id,
                     s->ss.remote_id ? s->ss.remote_id : "?", ike_addr_str(&s->peer, a, sizeof(a)), why);
            if (m) {
                end = m;
                end[nend++] = s->ss.id;
            }
            continue;
        }
        arm_adopted(s);
        ike_crl_adopted(s);
        res->adopted++;
        log_info("ike", "session %" PRIu64 " (%s, %s) taken over from the session arena with %zu child SA(s)",
                 s->ss.id, s->ss.remote_id ? s->ss.remote_id : "?", ike_addr_str(&s->peer, a, sizeof(a)), s->nchild);
    }
    /* the sessions that cannot go on: a DELETE (if there is a socket to send it
     * from) and their accounting Stop, counting their traffic before the restart */
    for (size_t i = 0; i < nend; i++) {
        HASH_FIND(hh_id, e->by_id, &end[i], sizeof(end[i]), s);
        if (!s)
            continue;
        if (s->req_pending) {
            s->our_next++; /* the request under way took that message ID */
            s->req_pending = false;
        }
        ike_sess_end(s, fresh ? "shutdown" : "config-change", s->sock != NULL);
        res->ended++;
    }
    free(end);
}
