/* The IKEv2 engine's sessions and the dispatch of received messages (see
 * ike_engine.h): a session's life (new, established, stub after a rekey, its
 * end and what it gives back), its timers (half-open, DPD, lifetimes), its
 * notifications, and which handler a message goes to. Sending is in
 * ike_xmit.c, IKE_SA_INIT in ike_initx.c, IKE_AUTH in ike_authx.c and
 * ike_auth_steps.c, CREATE_CHILD_SA in ike_rekey.c, INFORMATIONAL in
 * ike_info.c; sockets and configuration in ike_service.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dataplane/dp.h"
#include "daemon/base/log.h"
#include "daemon/ike/ike_eng.h"
#include "daemon/ike/ike_persist.h"
#include "daemon/session/sess_arena.h"
#include "daemon/base/poison.h"

#define HALF_OPEN_TIMEOUT 30 /* seconds an IKE SA may stay half-open */

char *ike_addr_str(const struct sockaddr_storage *a, char *buf, size_t len)
{
    if (a->ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)a)->sin_addr, buf, (socklen_t)len);
    else if (a->ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)a)->sin6_addr, buf, (socklen_t)len);
    else
        snprintf(buf, len, "?");
    return buf;
}

/* ---- sessions ---- */

static void on_child(evutil_socket_t fd, short what, void *arg);
static void on_ikerekey(evutil_socket_t fd, short what, void *arg);
static void on_ikelife(evutil_socket_t fd, short what, void *arg);
static void on_live(evutil_socket_t fd, short what, void *arg);

struct ike_sess *ike_sess_new(struct ike_engine *e)
{
    struct ike_sess *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->e = e;
    s->ss.id = ++e->next_id;
    if (e->arena)
        sess_arena_set_last_id(e->arena, s->ss.id);
    s->flow_limit = UINT32_MAX;
    s->ss.created = s->last_rx = time(NULL);
    s->ev_live = evtimer_new(e->base, on_live, s);
    sess_init(&s->ss, &e->sm);
    s->ev_child = evtimer_new(e->base, on_child, s);
    s->ev_ikelife = evtimer_new(e->base, on_ikelife, s);
    s->ev_ikerekey = evtimer_new(e->base, on_ikerekey, s);
    if (!s->ev_live || !s->ss.ev_life || !s->ev_child || !s->ev_ikelife || !s->ev_ikerekey) {
        if (s->ev_ikerekey)
            event_free(s->ev_ikerekey);
        if (s->ev_child)
            event_free(s->ev_child);
        if (s->ev_ikelife)
            event_free(s->ev_ikelife);
        if (s->ev_live)
            event_free(s->ev_live);
        sess_release(&s->ss);
        free(s);
        return NULL;
    }
    return s;
}

/* Gives back what a session holds outside itself: child SAs, leases. */
static void drop_resources(struct ike_sess *s)
{
    if (s->e->keeping) { /* exiting: the next process takes them over */
        ike_persist_keep(s);
        return;
    }
    for (size_t i = 0; i < s->nchild; i++)
        ike_child_remove(s, &s->child[i]);
    s->nchild = 0;
    sess_rate_release(&s->ss);
    sess_lease_release(&s->ss);
    /* a lease DHCP gave for a session refused before it came up goes back too */
    if (s->pend && s->pend->have_lease && s->e->dhcp)
        dhcp_release(s->e->dhcp, &s->pend->lease);
    if (s->pend)
        s->pend->have_lease = false;
    ike_route_remove(s);
}

void ike_sess_release(struct ike_sess *s)
{
    ike_initx_forget(s);
    ike_authq_open_forget(s);
    drop_resources(s);
    ike_tss_free(&s->allow_i);
    ike_tss_free(&s->allow_r);
    if (s->child) /* with a session arena the children keep their keys */
        OPENSSL_cleanse(s->child, s->child_cap * sizeof(*s->child));
    free(s->child);
    free(s->del_q);
    free(s->del_sent);
    if (s->ev_retx)
        event_free(s->ev_retx);
    event_free(s->ev_live);
    if (s->ev_child)
        event_free(s->ev_child);
    if (s->ev_ikelife)
        event_free(s->ev_ikelife);
    if (s->ev_ka)
        event_free(s->ev_ka);
    if (s->ev_ikerekey)
        event_free(s->ev_ikerekey);
    if (s->ev_redirect)
        event_free(s->ev_redirect);
    ike_dh_free(s->rk.dh);
    ike_dh_free(s->ikr.dh);
    ike_xmit_out_free(&s->last_resp);
    ike_xmit_out_free(&s->req);
    if (s->frag)
        ike_frag_fini(s->frag);
    free(s->frag);
    ike_keys_wipe(&s->in.keys);
    ike_init_fini(&s->in);
    OPENSSL_cleanse(&s->in, sizeof(s->in));
    free(s->msg1);
    free(s->msg2);
    ike_crl_release(s);
    free(s->ocsp_url);
    free(s->redirect_to);
    ike_mobike_free(&s->mob);
    sess_release(&s->ss);
    ike_pend_free(s->pend);
    ike_conf_unref(s->gen);
    free(s);
}

static void sess_free(struct ike_sess *s)
{
    struct ike_engine *e = s->e;

    ike_persist_forget(s);

    if (s->state == IKE_SA_REKEYED) {
        HASH_DELETE(hh_r, e->by_r, s);
        ike_sess_release(s);
        return;
    }
    if (ike_sa_half_open(s)) {
        HASH_DELETE(hh_i, e->by_i, s);
        e->half_open--;
    } else if (ike_sa_up(s)) {
        e->established--;
    }
    HASH_DELETE(hh_r, e->by_r, s);
    HASH_DELETE(hh_id, e->by_id, s);
    sess_del(&s->ss);
    ike_sess_release(s);
}

void ike_sess_abandon(struct ike_sess *s)
{
    sess_free(s);
}

bool ike_sess_adopt_insert(struct ike_sess *s)
{
    struct ike_engine *e = s->e;
    struct ike_sess *o;

    HASH_FIND(hh_id, e->by_id, &s->ss.id, sizeof(s->ss.id), o);
    if (o)
        return false;
    HASH_FIND(hh_r, e->by_r, s->our_spi, 8, o);
    if (o || !ike_sa_set_state(s, IKE_SA_ESTABLISHED, "taken over from the session arena"))
        return false;
    HASH_ADD(hh_r, e->by_r, our_spi, 8, s);
    HASH_ADD(hh_id, e->by_id, ss.id, sizeof(s->ss.id), s);
    sess_add(&s->ss);
    e->established++;
    if (e->next_id < s->ss.id)
        e->next_id = s->ss.id;
    return true;
}

bool ike_sess_stub(struct ike_sess *s, struct ike_sess *stub)
{
    struct ike_engine *e = s->e;

    stub->e = e;
    stub->ss.id = s->ss.id;
    stub->ev_live = evtimer_new(e->base, on_live, stub);
    if (!stub->ev_live) {
        free(stub);
        return false;
    }
    stub->gen = ike_conf_ref(s->gen); /* the old IKE SA keeps the session's generation */
    stub->prof = s->prof;
    stub->in = s->in;
    stub->in.n = NULL; /* the session's (none once established) */
    stub->initiator = s->initiator;
    memcpy(stub->our_spi, s->our_spi, 8);
    stub->sock = s->sock;
    stub->local = s->local;
    stub->peer = s->peer;
    stub->peer_next = s->peer_next;
    stub->last_resp = s->last_resp;
    stub->our_next = s->our_next;
    /* the stub answers but moves nothing (ike_mobike.c move()) */
    stub->mob.on = s->mob.on;
    stub->mob.rr = s->mob.rr;
    /* a check under way went with the old IKE SA's request: sent again on the
     * new one (the client had its update answered and does not send it again);
     * the caller flushes it once the new IKE SA is in place */
    if (s->mob.rr_state == IKE_RR_SENT)
        s->mob.rr_state = IKE_RR_QUEUED;
    ike_sa_set_state(stub, IKE_SA_REKEYED, "the IKE SA was rekeyed");
    memset(&s->last_resp, 0, sizeof(s->last_resp));
    ike_persist_mark(s); /* its new IKE SA, once the caller has made it */
    if (s->req_pending && s->req_kind == REQ_REDIRECT)
        s->redirect_sent = false; /* sent again on the new IKE SA (ike_redirect_flush) */
    ike_xmit_out_free(&s->req);
    s->req_pending = false;
    if (s->ev_retx)
        evtimer_del(s->ev_retx);
    HASH_DELETE(hh_r, e->by_r, s);
    HASH_ADD(hh_r, e->by_r, our_spi, 8, stub);
    evtimer_add(stub->ev_live, &(struct timeval){.tv_sec = HALF_OPEN_TIMEOUT});
    return true;
}

/* A half-open SA becomes a session (IKE_AUTH succeeded). */
void ike_sess_established(struct ike_sess *s)
{
    char tag[IKE_SA_TAG_LEN];

    /* only a half-open SA leaves the half-open table (a bug otherwise, logged) */
    if (!ike_sa_half_open(s)) {
        log_err("ike", "%s: established again in state %s, refused", ike_sa_tag(s, tag, sizeof(tag)),
                ike_sa_state_name(s->state));
        return;
    }
    if (!ike_sa_set_state(s, IKE_SA_ESTABLISHED, "IKE_AUTH answered"))
        return; /* a bug, logged: it stays half-open (and its timer ends it) */
    HASH_DELETE(hh_i, s->e->by_i, s);
    s->e->half_open--;
    s->e->established++;
    s->ss.established = time(NULL);
    free(s->msg2); /* no longer needed for retransmission or AUTH */
    s->msg2 = NULL;
    free(s->msg1);
    s->msg1 = NULL;
    ike_init_fini(&s->in); /* the nonces: an IKE SA rekey uses its own exchange's */
    s->e->c.auth_completed++;
    s->e->c.accepted++;
    ike_persist_mark(s); /* once IKE_AUTH's steps are done (child SA, accounting) */
}

void ike_sess_notify_event(struct ike_sess *s, const char *name, const char *reason, const char *message)
{
    const struct lys_module *m = ly_ctx_get_module_implemented(s->e->ctx, "raven-vpn");
    struct lyd_node *n = NULL;
    char a[INET6_ADDRSTRLEN];

    if (!s->e->event || (s->e->event_wanted && !s->e->event_wanted(name, s->e->event_arg)))
        return;
    if (s->e->event_xml) {
        size_t len = 0;
        char *x = ike_evxml(s, name, reason, message, &len);

        if (x)
            s->e->event_xml(name, x, len, s->e->event_arg);
        free(x);
        return;
    }
    if (!m || lyd_new_inner(NULL, m, name, 0, &n))
        return;
    if (strcmp(name, "authentication-failure")) {
        ike_add_u64(n, "session-id", s->ss.id);
    }
    ike_add_str(n, "peer-address", ike_addr_str(&s->peer, a, sizeof(a)));
    if (!strcmp(name, "authentication-failure"))
        ike_add_u64(n, "peer-port", ike_port_of(&s->peer));
    ike_add_str(n, "remote-identity", s->ss.remote_id);
    ike_add_str(n, "eap-identity", s->ss.eap_identity);
    if (!strcmp(name, "session-down")) {
        ike_add_str(n, "authorized-user", s->ss.user);
        ike_add_str(n, "reason", reason);
        ike_add_u64(n, "uptime", s->ss.established ? (uint64_t)(time(NULL) - s->ss.established) : 0);
        {
            static const char *const names[4] = {"bytes-in", "bytes-out", "packets-in", "packets-out"};
            struct lyd_node *st = NULL;
            uint64_t v[4];

            ike_sess_totals(s, v);
            if (!lyd_new_inner(n, NULL, "statistics", 0, &st))
                for (int i = 0; i < 4; i++)
                    ike_add_u64(st, names[i], v[i]);
        }
    } else if (!strcmp(name, "session-up")) {
        ike_add_str(n, "authorized-user", s->ss.user);
        ike_add_str(n, "authorized-group", s->ss.group);
        ike_add_str(n, "profile", s->ss.profile);
        if (s->ss.have_addr4) {
            struct in_addr ia = {.s_addr = htonl(s->ss.addr4)};
            ike_add_str(n, "assigned-ipv4", inet_ntop(AF_INET, &ia, a, sizeof(a)));
        }
        if (s->ss.have_addr6) {
            char p6[INET6_ADDRSTRLEN + 4];

            snprintf(p6, sizeof(p6), "%s/%u", inet_ntop(AF_INET6, s->ss.addr6, a, sizeof(a)), s->ss.alen6);
            ike_add_str(n, "assigned-ipv6", p6);
        }
    } else {
        ike_add_str(n, "profile", s->ss.profile);
        if (reason && *reason)
            ike_add_str(n, "reason", reason);
        ike_add_str(n, "message", message);
    }
    s->e->event(n, s->e->event_arg);
}

static void send_request(struct ike_sess *s, int kind, uint8_t first, const uint8_t *inner, size_t inner_len)
{
    ike_sess_request(s, kind, IKE_EXCH_INFORMATIONAL, first, inner, inner_len);
}

static void on_child(evutil_socket_t fd, short what, void *arg)
{
    ike_child_on_timer(arg);
}

void ike_sess_end(struct ike_sess *s, const char *reason, bool send_delete)
{
    char a[INET6_ADDRSTRLEN];

    ike_persist_forget(s); /* a later process does not take an ending session over */

    if (s->state == IKE_SA_DELETING) {
        sess_free(s); /* the end of an ending session: the peer is gone or has gone */
        return;
    }
    if (ike_sa_up(s)) {
        log_info("ike", "session %" PRIu64 " (%s, %s) down: %s", s->ss.id, s->ss.remote_id ? s->ss.remote_id : "?",
                 ike_addr_str(&s->peer, a, sizeof(a)), reason);
        ike_sess_notify_event(s, "session-down", reason, NULL);
    }
    sess_end(&s->ss, reason, ike_sa_up(s));
    if (send_delete && ike_sa_up(s) && s->req_pending && ike_sa_set_state(s, IKE_SA_DELETING, reason)) {
        /* window size 1: the DELETE goes once our request under way is answered
         * (or given up, handle_response / ike_xmit_on_retx); the session is over for
         * everything else now */
        drop_resources(s);
        evtimer_del(s->ev_live);
        evtimer_del(s->ev_ikelife);
        evtimer_del(s->ev_child);
        if (s->ev_ka)
            evtimer_del(s->ev_ka);
        evtimer_del(s->ev_ikerekey);
        s->e->established--;
        return;
    }
    if (send_delete && ike_sa_up(s))
        ike_info_send_delete(s);
    sess_free(s);
}

/* The timers of our requests' retransmissions and of NAT keepalives, made
 * when first armed (most sessions never send a request of ours nor sit behind
 * a NAT on our side): an event fewer each. */
static bool lazy_timer(struct ike_sess *s, struct event **ev, event_callback_fn cb, const char *what)
{
    if (!*ev && !(*ev = evtimer_new(s->e->base, cb, s))) {
        log_warn("ike", "session %" PRIu64 ": no memory for its %s timer", s->ss.id, what);
        return false;
    }
    return true;
}

void ike_sess_retx_arm(struct ike_sess *s)
{
    if (lazy_timer(s, &s->ev_retx, ike_xmit_on_retx, "retransmission"))
        evtimer_add(s->ev_retx, &(struct timeval){.tv_sec = s->dpd_retry ? s->dpd_retry : 2});
}

void ike_sess_keepalive_arm(struct ike_sess *s)
{
    if (lazy_timer(s, &s->ev_ka, ike_xmit_on_keepalive, "keepalive"))
        evtimer_add(s->ev_ka, &(struct timeval){.tv_sec = s->gen->nat_keepalive});
}

void ike_sess_arm_timers(struct ike_sess *s)
{
    if (ike_sa_half_open(s)) {
        evtimer_add(s->ev_live, &(struct timeval){.tv_sec = HALF_OPEN_TIMEOUT});
        return;
    }
    evtimer_del(s->ev_live);
    if (s->dpd_interval && s->dpd_periodic)
        evtimer_add(s->ev_live, &(struct timeval){.tv_sec = s->dpd_interval});
    sess_lifetime_arm(&s->ss);
    /* behind a NAT ourselves: keep its mapping open (RFC 3948 4) */
    if (s->in.nat_local && s->gen && s->gen->nat_keepalive)
        ike_sess_keepalive_arm(s);
    ike_sess_ike_rekeyed(s);
    ike_child_timer_arm(s);
}

/* The profile's IKE SA lifetime: a client that has not rekeyed (or
 * re-authenticated) its IKE SA by then loses the session. */
void ike_sess_ike_rekeyed(struct ike_sess *s)
{
    s->ike_since = time(NULL);
    if (s->ike_lifetime && s->ev_ikelife) {
        evtimer_add(s->ev_ikelife, &(struct timeval){.tv_sec = s->ike_lifetime});
        /* Raven rekeys the IKE SA itself at 90% of its lifetime */
        evtimer_add(s->ev_ikerekey, &(struct timeval){.tv_sec = s->ike_lifetime / 10 * 9});
    }
}

static void on_ikerekey(evutil_socket_t fd, short what, void *arg)
{
    struct ike_sess *s = arg;

    if (!ike_sa_up(s))
        return;
    if (s->req_pending || !ike_ike_rekey_start(s)) /* after our request under way, or later */
        evtimer_add(s->ev_ikerekey, &(struct timeval){.tv_sec = s->req_pending ? 1 : 30});
}

static void on_ikelife(evutil_socket_t fd, short what, void *arg)
{
    ike_sess_end(arg, "ike-lifetime", true);
}

static void on_live(evutil_socket_t fd, short what, void *arg)
{
    struct ike_sess *s = arg;
    time_t now = time(NULL);

    if (ike_sa_half_open(s) && s->pend && s->pend->eap) {
        char a[INET6_ADDRSTRLEN];

        log_warn("ike", "EAP exchange of %s (%s) timed out: the client did not continue", ike_addr_str(&s->peer, a,
                 sizeof(a)), s->ss.remote_id ? s->ss.remote_id : "?");
        s->e->c.eap_timeouts++;
        s->e->c.auth_failed++;
        ike_sess_notify_event(s, "authentication-failure", "eap-timeout", "the client did not continue the EAP exchange");
        sess_free(s);
        return;
    }
    if (ike_sa_half_open(s) || s->state == IKE_SA_REKEYED) {
        if (ike_sa_half_open(s))
            log_info("ike", "half-open IKE SA of session %" PRIu64 " timed out", s->ss.id);
        sess_free(s);
        return;
    }
    /* liveness check (DPD) when the peer has been quiet for an interval */
    if (now - s->last_rx >= s->dpd_interval && !s->req_pending) {
        s->e->c.dpd_sent++;
        send_request(s, REQ_DPD, IKE_PLD_NONE, NULL, 0);
    }
    evtimer_add(s->ev_live, &(struct timeval){.tv_sec = s->dpd_interval});
}


/* ---- receiving ---- */

static void handle_response(struct ike_sess *s, const uint8_t *buf, size_t len, const struct ike_msg *msg)
{
    struct ike_msg inner_s = {0}, *inner = &inner_s; /* on the stack: no allocation a message */
    uint8_t *plain = malloc(len);
    struct ike_sk_keys k;

    if (!plain || !s->req_pending || msg->hdr.msg_id != s->our_next) {
        free(plain);
        return;
    }
    ike_init_sk_keys(&s->in, !s->initiator, &k);
    if (ike_sk_open(&k, buf, len, msg, plain, inner) == IKE_SK_OK) {
        int kind = s->req_kind;

        s->req_pending = false;
        s->req_kind = REQ_NONE;
        s->our_next++;
        s->last_rx = time(NULL);
        if (s->ev_retx)
            evtimer_del(s->ev_retx);
        ike_xmit_out_free(&s->req);
        ike_persist_mark(s);
        if (s->state == IKE_SA_DELETING) {
            /* the session ended while this request was under way: now its DELETE */
            free(plain);
            ike_info_send_delete(s);
            sess_free(s);
            return;
        }
        if (s->state == IKE_SA_REKEYED) {
            /* the old IKE SA's DELETE, answered: it is gone */
            free(plain);
            sess_free(s);
            return;
        }
        if (kind == REQ_IKE_REKEY) {
            ike_ike_rekey_done(s, inner);
            free(plain);
            return;
        }
        if (kind == REQ_CHILD_REKEY)
            ike_child_rekey_done(s, inner);
        else if (kind == REQ_CHILD_DELETE)
            ike_child_delete_done(s);
        else if (kind == REQ_MOBIKE_RR)
            ike_mobike_rr_done(s, inner);
        else if (kind == REQ_REDIRECT)
            ike_redirect_done(s, inner);
        ike_child_flush_deletes(s);
        ike_mobike_flush(s);
        ike_redirect_flush(s);
    }
    free(plain);
}

struct ike_frag *ike_sess_frag(struct ike_sess *s)
{
    if (!s->frag && (s->frag = malloc(sizeof(*s->frag))))
        ike_frag_init(s->frag);
    return s->frag;
}

void ike_sess_frag_take(struct ike_sess *s, struct ike_frag *done)
{
    ike_frag_init(done);
    if (s->frag) {
        *done = *s->frag;
        free(s->frag);
        s->frag = NULL;
    }
}

static void handle_request(struct ike_sess *s, const uint8_t *buf, size_t len, const struct ike_msg *msg,
                           struct ike_sock *sk, const struct sockaddr_storage *local,
                           const struct sockaddr_storage *peer)
{
    struct ike_engine *e = s->e;
    struct ike_msg inner_s, *inner = &inner_s; /* on the stack: no allocation a message */
    uint8_t *plain = NULL;
    struct ike_frag done;
    struct ike_sk_keys k;
    enum ike_sk_rc rc;
    bool complete = true, sk_last = msg->npld && msg->pld[msg->npld - 1].type == IKE_PLD_SK,
         skf_last = msg->npld && msg->pld[msg->npld - 1].type == IKE_PLD_SKF;

    /* IKE_AUTH's requests (and their fragments) are opened on a crypto thread
     * when there are some */
    if ((sk_last || (skf_last && s->in.fragmentation)) && msg->hdr.exchange == IKE_EXCH_AUTH &&
        ike_sa_half_open(s) && ike_authq_open(s, buf, len, msg, sk, local, peer))
        return;
    memset(&inner_s, 0, sizeof(inner_s));
    ike_init_sk_keys(&s->in, !s->initiator, &k);
    if (skf_last && s->in.fragmentation) {
        e->c.fragments_received++;
        rc = ike_sess_frag(s) ? ike_frag_add(s->frag, &k, buf, len, msg, inner, &complete) : IKE_SK_NOT_AUTHENTIC;
    } else if (sk_last) {
        plain = malloc(len);
        rc = plain ? ike_sk_open(&k, buf, len, msg, plain, inner) : IKE_SK_NOT_AUTHENTIC;
    } else {
        rc = IKE_SK_NOT_AUTHENTIC; /* after IKE_SA_INIT everything is encrypted */
    }
    if (rc == IKE_SK_NOT_AUTHENTIC || !complete) {
        if (rc != IKE_SK_OK) /* or a fragment that did not open or fit */
            e->c.dropped++;
        free(plain);
        return;
    }
    /* a reassembled message is ours now; the handlers below may end the session */
    ike_sess_frag_take(s, &done);
    ike_request_in(s, rc, &msg->hdr, inner, sk, local, peer);
    ike_frag_fini(&done);
    free(plain);
}

void ike_request_in(struct ike_sess *s, enum ike_sk_rc rc, const struct ike_hdr *hdr, const struct ike_msg *inner,
                    struct ike_sock *sk, const struct sockaddr_storage *local, const struct sockaddr_storage *peer)
{
    struct ike_engine *e = s->e;

    /* an authentic message: the peer is alive, and without MOBIKE its address
     * is where it sends from now (NAT mapping changes, the float to port 4500);
     * with MOBIKE only UPDATE_SA_ADDRESSES moves it (ike_mobike.c) */
    s->last_rx = time(NULL);
    ike_mobike_rx(s, sk, local, peer);
    s->peer_next++;
    ike_persist_mark(s); /* whatever the request changes, even without an answer */
    if (rc == IKE_SK_INVALID_SYNTAX || rc == IKE_SK_UNKNOWN_CRITICAL) {
        struct ike_builder bd;
        struct ike_hdr h = {0};
        uint8_t t = inner->bad_type;

        e->c.invalid_syntax++;
        ike_build_begin(&bd, &h);
        if (rc == IKE_SK_UNKNOWN_CRITICAL)
            ike_notify_build(&bd, &(struct ike_notify_pld){.type = N_UNSUPPORTED_CRITICAL_PAYLOAD, .data = &t,
                                                           .len = 1});
        else
            ike_notify_build(&bd, &(struct ike_notify_pld){.type = N_INVALID_SYNTAX});
        if (ike_build_finish(&bd))
            ike_sess_respond(s, hdr->exchange, hdr->msg_id, IKE_PLD_NOTIFY, bd.buf.data + IKE_HDR_LEN,
                             bd.buf.len - IKE_HDR_LEN);
        ike_buf_fini(&bd.buf);
        if (ike_sa_half_open(s))
            ike_sess_abandon(s);
    } else if (hdr->exchange == IKE_EXCH_AUTH && ike_sa_half_open(s)) {
        ike_handle_auth(s, inner);
    } else if (hdr->exchange == IKE_EXCH_INFORMATIONAL &&
               (ike_sa_up(s) || s->state == IKE_SA_REKEYED || s->state == IKE_SA_DELETING)) {
        ike_info_handle(s, inner, hdr->msg_id);
    } else if (hdr->exchange == IKE_EXCH_CREATE_CHILD_SA && ike_sa_up(s)) {
        ike_handle_create_child(s, inner, hdr->msg_id);
    } else {
        e->c.dropped++;
    }
}

void ike_handle_dgram(struct ike_sock *sk, const struct sockaddr_storage *local,
                         const struct sockaddr_storage *peer, const uint8_t *buf, size_t len)
{
    struct ike_engine *e = sk->e;
    struct ike_msg msg_s = {0}, *msg = &msg_s; /* on the stack: no allocation a datagram */
    enum ike_authq_copy copy;
    struct ike_sess *s;
    enum ike_parse_rc rc;

    if (!e->conf || ike_cookie_fast(e, sk, local, peer, buf, len))
        return;
    rc = ike_msg_parse(buf, len, msg);
    if (rc == IKE_PARSE_BAD_VERSION || rc == IKE_PARSE_UNKNOWN_CRITICAL) {
        ike_initx_unprotected(e, sk, local, peer, msg, rc);
        return;
    }
    if (rc != IKE_PARSE_OK) {
        e->c.dropped++;
        return;
    }
    if (msg->hdr.exchange == IKE_EXCH_SA_INIT && !(msg->hdr.flags & IKE_FLAG_RESPONSE)) {
        static const uint8_t zero[8];

        if (msg->hdr.msg_id == 0 && !memcmp(msg->hdr.spi_r, zero, 8) && (msg->hdr.flags & IKE_FLAG_INITIATOR))
            ike_initx_handle(e, sk, local, peer, buf, len, msg);
        else
            e->c.dropped++;
        return;
    }
    /* the peer's messages carry the I flag when it is the original initiator; our
     * SPI is then the responder's, else the initiator's */
    HASH_FIND(hh_r, e->by_r, (msg->hdr.flags & IKE_FLAG_INITIATOR) ? msg->hdr.spi_r : msg->hdr.spi_i, 8, s);
    if (!s || !(msg->hdr.flags & IKE_FLAG_INITIATOR) != s->initiator ||
        memcmp(s->initiator ? s->in.spi_r : s->in.spi_i, s->initiator ? msg->hdr.spi_r : msg->hdr.spi_i, 8)) {
        e->c.dropped++; /* an SA we do not know (RFC 7296 2.21.4: no answer needed) */
        return;
    }
    if (s->init_job) {
        e->c.dropped++; /* nobody knows its SPI before its IKE_SA_INIT is answered */
    } else if (msg->hdr.flags & IKE_FLAG_RESPONSE) {
        handle_response(s, buf, len, msg);
    } else if (msg->hdr.msg_id == s->peer_next - 1 && ike_auth_waiting(s)) {
        e->c.retransmissions++; /* its answer waits for RADIUS */
    } else if (msg->hdr.msg_id == s->peer_next - 1 && s->last_resp.n) {
        struct ike_skf_pld skf;
        const struct ike_pld *last = msg->npld ? &msg->pld[msg->npld - 1] : NULL;

        /* a request resent in fragments: answer its first fragment only (RFC 7383
         * 2.6.1), not every one of them */
        if (last && last->type == IKE_PLD_SKF && (!ike_skf_parse(last, &skf) || skf.number != 1))
            return;
        e->c.retransmissions++;
        ike_mobike_reply(s, &s->last_resp);
    } else if (msg->hdr.msg_id == s->peer_next && s->open_job &&
               (copy = ike_authq_copy(s, buf, len)) != IKE_AUTHQ_NEW) {
        if (copy == IKE_AUTHQ_SAME)
            e->c.retransmissions++; /* its first copy is being opened: answered once done */
        else
            e->c.dropped++;
    } else if (msg->hdr.msg_id == s->peer_next && ike_auth_waiting(s)) {
        e->c.dropped++; /* window size 1: no new request before the answer to the last */
    } else if (msg->hdr.msg_id == s->peer_next) {
        handle_request(s, buf, len, msg, sk, local, peer);
    } else {
        e->c.dropped++;
    }
}


/* ---- the session module's view of a session's IKE SA (sess.h) ---- */

static void ops_end(struct sess *ss, const char *reason, bool notify)
{
    ike_sess_end(ike_of(ss), reason, notify);
}

static bool ops_up(const struct sess *ss)
{
    return ike_sa_up(ike_of(ss));
}

static void ops_traffic(const struct sess *ss, struct sess_traffic *t)
{
    uint64_t v[4];

    ike_sess_totals(ike_of(ss), v);
    *t = (struct sess_traffic){.in_octets = v[0], .out_octets = v[1], .in_packets = v[2], .out_packets = v[3]};
}

static void ops_changed(struct sess *ss)
{
    ike_persist_mark(ike_of(ss));
}

static void ops_flow_limit(struct sess *ss, uint32_t limit)
{
    ike_of(ss)->flow_limit = limit;
}

static void ops_peer(const struct sess *ss, char *buf, size_t cap)
{
    ike_addr_str(&ike_of(ss)->peer, buf, cap);
}

static void ops_child_volume(struct sess *ss, bool inbound, uint32_t spi, bool hard)
{
    ike_child_volume(ike_of(ss), inbound, spi, hard);
}

const struct sess_ops ike_sess_ops = {.end = ops_end,
                                      .up = ops_up,
                                      .traffic = ops_traffic,
                                      .changed = ops_changed,
                                      .flow_limit = ops_flow_limit,
                                      .peer = ops_peer,
                                      .child_volume = ops_child_volume};
