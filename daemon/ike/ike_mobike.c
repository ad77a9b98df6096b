/* MOBIKE (RFC 4555) and the client's NAT mapping changes (RFC 7296 2.23): a
 * session moves, IKE SA and child SAs together, to a client's new address or
 * port without a new exchange of keys (SPIs, keys, counters, lease and
 * accounting session go on).
 *
 * With MOBIKE in use (the client announced MOBIKE_SUPPORTED in IKE_AUTH and the
 * profile's mobike/enabled allows it) only the client's UPDATE_SA_ADDRESSES
 * moves a session (RFC 4555 3.5: the dynamic updates of RFC 7296 2.23 are not
 * done): any other request from elsewhere is answered where it came from and
 * the SAs stay. The update's NAT detection decides UDP encapsulation (on with
 * a NAT in between, off without, also on the NAT-T port; ike_mobike_encap,
 * which new child SAs follow too); with NO_NATS_ALLOWED a NAT in between
 * refuses it (UNEXPECTED_NAT_DETECTED, RFC 4555 3.9), as does a NAT detection
 * payload of the wrong size. With the
 * profile's return-routability-check the move waits for the client's answer
 * at the new address to an INFORMATIONAL with a fresh COOKIE2 (RFC 4555 3.6);
 * unanswered, nothing moves and the request goes on to the address in use as
 * a liveness check (its message ID must be answered there).
 *
 * Without MOBIKE an established session follows a NAT mapping change: an
 * authentic IKE request from a new address or port (ike_mobike_rx), or ESP in
 * UDP that authenticated as its SA's newest packet from one (reported by the
 * dataplane, dp_floated, polled every second), so that a replayed packet
 * cannot move it.
 *
 * The old IKE SA of a rekeyed session (state IKE_SA_REKEYED, until its
 * DELETE) answers requests where they came from but never moves the session.
 * A check under way or queued when the IKE SA is rekeyed is sent on the new
 * one; a check that goes unanswered leaves a newer update queued.
 *
 * Every move of an established session is logged, counted in its peer address
 * history (the last IKE_MOBIKE_HIST) and notified (session-moved). */
#include <arpa/inet.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/dp.h"
#include "daemon/base/log.h"
#include "daemon/ike/ike_eng.h"
#include "daemon/ike/ike_persist.h"
#include "daemon/base/poison.h"


static bool same_to(const struct ike_sess *s, const struct ike_mobike_to *to)
{
    return ike_sa_equal(&to->peer, &s->peer) && ike_sa_equal(&to->local, &s->local) &&
           (!to->sock || to->sock == s->sock);
}

static void notify_moved(struct ike_sess *s, const struct sockaddr_storage *old, const char *cause)
{
    const struct lys_module *m = ly_ctx_get_module_implemented(s->e->ctx, "raven-vpn");
    struct lyd_node *n = NULL;
    char a[INET6_ADDRSTRLEN];

    if (!s->e->event || !m || lyd_new_inner(NULL, m, "session-moved", 0, &n))
        return;
    ike_add_u64(n, "session-id", s->ss.id);
    ike_add_str(n, "peer-address", ike_addr_str(&s->peer, a, sizeof(a)));
    ike_add_u64(n, "peer-port", ike_port_of(&s->peer));
    ike_add_str(n, "previous-address", ike_addr_str(old, a, sizeof(a)));
    ike_add_u64(n, "previous-port", ike_port_of(old));
    ike_add_str(n, "remote-identity", s->ss.remote_id);
    ike_add_str(n, "cause", cause);
    s->e->event(n, s->e->event_arg);
}

bool ike_mobike_encap(const struct ike_sess *s, bool natt)
{
    if (s->mob.on && s->mob.encap != IKE_ENCAP_RULE)
        return s->mob.encap == IKE_ENCAP_ON;
    return natt || s->in.nat_peer || s->in.nat_local;
}

/* Moves the IKE SA and every child SA of @s to @to (@cause: "mobike" or
 * "nat-mapping"); with @nat the NAT detection of @to is taken too, and with
 * MOBIKE an update that carried NAT detection turns UDP encapsulation on or
 * off by it (RFC 4555 3.5). The old IKE SA of a rekeyed session never moves
 * anything: its session ID is the live session's, whose address it would
 * change behind its back (its SAs in the dataplane, not its IKE SA). */
static void move(struct ike_sess *s, const struct ike_mobike_to *to, bool nat, const char *cause)
{
    struct sockaddr_storage old = s->peer;
    bool peer_changed = !ike_sa_equal(&to->peer, &s->peer);
    char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
    uint8_t decided = s->mob.encap;
    bool encap;

    if (s->state == IKE_SA_REKEYED)
        return;
    if (nat && s->mob.on && to->nat_seen)
        decided = to->nat_peer || to->nat_local ? IKE_ENCAP_ON : IKE_ENCAP_OFF;
    if (same_to(s, to) && decided == s->mob.encap &&
        (!nat || (s->in.nat_peer == to->nat_peer && s->in.nat_local == to->nat_local)))
        return;
    s->peer = to->peer;
    s->local = to->local;
    if (to->sock)
        s->sock = to->sock;
    if (nat) {
        s->in.nat_peer = to->nat_peer;
        s->in.nat_local = to->nat_local;
    }
    s->mob.encap = decided;
    /* as a new child SA has it (ike_child_dp_conf) */
    encap = ike_mobike_encap(s, s->sock ? s->sock->natt : s->adopt_natt);
    dp_session_move(s->e->dp, s->ss.id, &s->local, &s->peer, encap);
    ike_persist_mark(s);
    if (!ike_sa_up(s) || !peer_changed)
        return; /* the float to the NAT-T port during IKE_AUTH, or NAT-T switched */
    s->mob.last_move = time(NULL);
    if (ike_mobike_lists(&s->mob, false)) { /* else (out of memory) the move is not in the history */
        if (s->mob.nhist == IKE_MOBIKE_HIST) {
            memmove(&s->mob.hist[0], &s->mob.hist[1], sizeof(s->mob.hist[0]) * (IKE_MOBIKE_HIST - 1));
            s->mob.nhist--;
        }
        s->mob.hist[s->mob.nhist++] = (struct ike_mobike_move){.peer = old, .at = s->mob.last_move};
    }
    s->mob.moves++;
    log_info("ike", "session %" PRIu64 " (%s) moved (%s): %s:%u -> %s:%u%s", s->ss.id,
             s->ss.remote_id ? s->ss.remote_id : "?", cause, ike_addr_str(&old, a, sizeof(a)), ike_port_of(&old),
             ike_addr_str(&s->peer, b, sizeof(b)), ike_port_of(&s->peer), encap ? " (UDP encapsulation)" : "");
    notify_moved(s, &old, cause);
}

void ike_mobike_rx(struct ike_sess *s, struct ike_sock *sk, const struct sockaddr_storage *local,
                   const struct sockaddr_storage *peer)
{
    struct ike_mobike_to to = {.local = *local, .peer = *peer, .sock = sk};
    bool stub = s->state == IKE_SA_REKEYED;

    /* the old IKE SA of a rekeyed session answers where a request came from
     * and moves nothing (move()): the live session is the new IKE SA's */
    if (s->mob.on || stub) {
        s->mob.rx = to;
        s->mob.rx_set = !same_to(s, &to);
        if (s->mob.rx_set) {
            char a[INET6_ADDRSTRLEN];

            log_debug("ike", "session %" PRIu64 ": request from %s:%u, answered there; the SA stays (%s)", s->ss.id,
                      ike_addr_str(peer, a, sizeof(a)), ike_port_of(peer),
                      stub ? "the old IKE SA of a rekeyed session" : "MOBIKE");
        }
        return;
    }
    s->mob.rx_set = false;
    move(s, &to, false, "nat-mapping");
}

/* The datagrams of @o to @to (its socket, else the session's), or to the
 * session's own addresses when @to is NULL. */
static void send_to(struct ike_sess *s, const struct ike_out *o, const struct ike_mobike_to *to)
{
    for (size_t i = 0; i < o->n; i++) {
        if (to)
            ike_xmit_dgram(to->sock ? to->sock : s->sock, &to->local, &to->peer, o->d[i].data, o->d[i].len, false);
        else
            ike_xmit_dgram(s->sock, &s->local, &s->peer, o->d[i].data, o->d[i].len, false);
    }
}

void ike_mobike_reply(struct ike_sess *s, const struct ike_out *o)
{
    const struct ike_mobike_to *to = &s->mob.rx;

    if (!s->mob.rx_set) {
        ike_xmit_out(s, o);
        return;
    }
    send_to(s, o, to);
}

void ike_mobike_request_to(struct ike_sess *s, const struct ike_out *o)
{
    /* its own address, not a newer update's */
    const struct ike_mobike_to *to = s->mob.mv ? &s->mob.mv->rr_at : NULL;

    send_to(s, o, s->req_kind == REQ_MOBIKE_RR && o == &s->req ? to : NULL);
}

static bool addr_of(struct sockaddr_storage *a, const struct ike_notify_pld *n)
{
    memset(a, 0, sizeof(*a));
    if (n->type == N_MOB_ADDITIONAL_IP4_ADDRESS && n->len == 4) {
        a->ss_family = AF_INET;
        memcpy(&((struct sockaddr_in *)a)->sin_addr, n->data, 4);
        return true;
    }
    if (n->type == N_MOB_ADDITIONAL_IP6_ADDRESS && n->len == 16) {
        a->ss_family = AF_INET6;
        memcpy(&((struct sockaddr_in6 *)a)->sin6_addr, n->data, 16);
        return true;
    }
    return false;
}

/* NO_NATS_ALLOWED's data (RFC 4555 3.9): the addresses and ports the client sent
 * from and to; false when they are not what arrived. */
static const uint8_t *ip_bytes(const struct sockaddr_storage *a)
{
    return a->ss_family == AF_INET ? (const uint8_t *)&((const struct sockaddr_in *)a)->sin_addr
                                   : (const uint8_t *)&((const struct sockaddr_in6 *)a)->sin6_addr;
}

static bool no_nats_match(const struct ike_notify_pld *n, const struct ike_mobike_to *to)
{
    size_t al = to->peer.ss_family == AF_INET ? 4 : 16;

    if (n->len != 2 * al + 4 || to->peer.ss_family != to->local.ss_family)
        return false;
    return !memcmp(n->data, ip_bytes(&to->peer), al) && !memcmp(n->data + al, ip_bytes(&to->local), al) &&
           ((unsigned)n->data[2 * al] << 8 | n->data[2 * al + 1]) == ike_port_of(&to->peer) &&
           ((unsigned)n->data[2 * al + 2] << 8 | n->data[2 * al + 3]) == ike_port_of(&to->local);
}

/* What the notifies of a request say. */
struct mob_req {
    bool update, nat_seen, src_seen, src_match, dst_seen, dst_match, no_nats, no_nats_bad, malformed;
    const struct ike_notify_pld *cookie2;
    struct ike_notify_pld c2;
    bool adds_seen, no_add;
    uint8_t nadd;
    struct sockaddr_storage add[IKE_MOBIKE_ADDS];
};

static void read_req(struct ike_sess *s, const struct ike_msg *in, const struct ike_mobike_to *to, struct mob_req *r)
{
    uint8_t hp[20], hl[20];

    ike_nat_hash(s->in.spi_i, s->in.spi_r, &to->peer, hp);
    ike_nat_hash(s->in.spi_i, s->in.spi_r, &to->local, hl);
    for (size_t i = 0; i < in->npld; i++) {
        struct ike_notify_pld n;

        if (in->pld[i].type != IKE_PLD_NOTIFY || !ike_notify_parse(&in->pld[i], &n))
            continue;
        switch (n.type) {
        case N_MOB_UPDATE_SA_ADDRESSES:
            r->update = true;
            break;
        case N_MOB_NAT_DETECTION_SOURCE_IP:
        case N_MOB_NAT_DETECTION_DESTINATION_IP: {
            bool src = n.type == N_MOB_NAT_DETECTION_SOURCE_IP;

            if (n.len != 20) {
                r->malformed = true;
                break;
            }
            r->nat_seen = true;
            if (src) {
                r->src_seen = true;
                r->src_match = r->src_match || !memcmp(n.data, hp, 20);
            } else {
                r->dst_seen = true;
                r->dst_match = r->dst_match || !memcmp(n.data, hl, 20);
            }
            break;
        }
        case N_MOB_COOKIE2:
            if (n.len < 8 || n.len > 64) { /* RFC 4555 3.5 */
                r->malformed = true;
            } else {
                r->c2 = n;
                r->cookie2 = &r->c2;
            }
            break;
        case N_MOB_NO_NATS_ALLOWED:
            r->no_nats = true;
            r->no_nats_bad = r->no_nats_bad || !no_nats_match(&n, to);
            break;
        case N_MOB_ADDITIONAL_IP4_ADDRESS:
        case N_MOB_ADDITIONAL_IP6_ADDRESS:
            r->adds_seen = true;
            if (r->nadd < IKE_MOBIKE_ADDS && !addr_of(&r->add[r->nadd], &n))
                r->malformed = true;
            else if (r->nadd < IKE_MOBIKE_ADDS)
                r->nadd++;
            break;
        case N_MOB_NO_ADDITIONAL_ADDRESSES:
            r->no_add = true;
            break;
        default:
            break;
        }
    }
}

static void put_notify(struct ike_builder *bd, uint8_t *first, uint16_t type, const uint8_t *data, size_t len)
{
    ike_notify_build(bd, &(struct ike_notify_pld){.type = type, .data = data, .len = len});
    if (*first == IKE_PLD_NONE)
        *first = IKE_PLD_NOTIFY;
}

/* read_req, with a malformed notify said in the log: false then, and nothing is
 * to change. */
static bool read_whole(struct ike_sess *s, const struct ike_msg *in, const struct ike_mobike_to *to,
                       struct mob_req *r)
{
    char a[INET6_ADDRSTRLEN];

    read_req(s, in, to, r);
    if (r->malformed)
        log_warn("ike", "session %" PRIu64 " (%s): malformed MOBIKE notify from %s (a NAT detection, COOKIE2 or "
                   "additional address of the wrong size): nothing changes",
                   s->ss.id, s->ss.remote_id ? s->ss.remote_id : "?", ike_addr_str(&to->peer, a, sizeof(a)));
    return !r->malformed;
}

/* The client's other addresses, as the request lists them (RFC 4555 3.4). */
static void take_adds(struct ike_sess *s, const struct mob_req *r)
{
    if (!r->adds_seen && !r->no_add)
        return;
    s->mob.nadd = r->no_add || !r->nadd || !ike_mobike_lists(&s->mob, true) ? 0 : r->nadd;
    if (s->mob.nadd)
        memcpy(s->mob.add, r->add, sizeof(r->add[0]) * s->mob.nadd);
    s->mob.no_additional = r->no_add;
    ike_persist_mark(s);
}

void ike_mobike_info(struct ike_sess *s, const struct ike_msg *in, struct ike_builder *bd, uint8_t *first)
{
    struct ike_mobike_to to = s->mob.rx_set ? s->mob.rx : (struct ike_mobike_to){.local = s->local, .peer = s->peer};
    struct mob_req r = {0};
    char a[INET6_ADDRSTRLEN];

    s->mob.upd_now = false;
    if (!s->mob.on)
        return; /* not negotiated: its notifies are not ours to act on (RFC 4555 3.1) */
    if (!read_whole(s, in, &to, &r)) {
        put_notify(bd, first, N_INVALID_SYNTAX, NULL, 0);
        return;
    }
    /* our NAT detection for the addresses the request used (RFC 4555 3.5, and
     * the check of a DPD with NAT detection, 3.8) */
    if (r.nat_seen) {
        uint8_t h[20];

        ike_nat_hash(s->in.spi_i, s->in.spi_r, &to.local, h);
        put_notify(bd, first, N_MOB_NAT_DETECTION_SOURCE_IP, h, 20);
        ike_nat_hash(s->in.spi_i, s->in.spi_r, &to.peer, h);
        put_notify(bd, first, N_MOB_NAT_DETECTION_DESTINATION_IP, h, 20);
    }
    if (r.cookie2)
        put_notify(bd, first, N_MOB_COOKIE2, r.cookie2->data, r.cookie2->len);
    take_adds(s, &r);
    if (!r.update)
        return;
    to.nat_seen = r.nat_seen;
    to.nat_peer = r.src_seen ? !r.src_match : s->in.nat_peer;
    to.nat_local = r.dst_seen ? !r.dst_match : s->in.nat_local;
    if (r.no_nats && (r.no_nats_bad || to.nat_peer || to.nat_local)) {
        log_warn("ike", "session %" PRIu64 " (%s): UPDATE_SA_ADDRESSES from %s:%u with NO_NATS_ALLOWED, but a NAT "
                   "is in between: nothing changes (UNEXPECTED_NAT_DETECTED)",
                   s->ss.id, s->ss.remote_id ? s->ss.remote_id : "?", ike_addr_str(&to.peer, a, sizeof(a)),
                   ike_port_of(&to.peer));
        put_notify(bd, first, N_MOB_UNEXPECTED_NAT_DETECTED, NULL, 0);
        return;
    }
    if (!s->mob.mv && !(s->mob.mv = calloc(1, sizeof(*s->mob.mv)))) {
        log_warn("ike", "session %" PRIu64 ": out of memory: an UPDATE_SA_ADDRESSES moves nothing", s->ss.id);
        return;
    }
    s->mob.mv->upd = to;
    s->mob.upd_now = true;
}

void ike_mobike_auth(struct ike_sess *s, const struct ike_prof *prof, const struct ike_msg *req,
                     struct ike_builder *ib)
{
    struct ike_notify_pld n;

    s->mob.on = ike_notify_find(req, N_MOBIKE_SUPPORTED, &n) && prof->mobike;
    s->mob.rr = prof->mobike_rr;
    if (!s->mob.on)
        return;
    ike_notify_build(ib, &(struct ike_notify_pld){.type = N_MOBIKE_SUPPORTED});
    /* its other addresses may come in IKE_AUTH already (RFC 4555 3.4); an
     * UPDATE_SA_ADDRESSES there means nothing */
    {
        struct ike_mobike_to to = s->mob.rx_set ? s->mob.rx : (struct ike_mobike_to){.local = s->local,
                                                                                       .peer = s->peer};
        struct mob_req r = {0};

        s->mob.upd_now = false;
        if (read_whole(s, req, &to, &r))
            take_adds(s, &r);
    }
}

static void rr_send(struct ike_sess *s)
{
    struct ike_builder bd;
    struct ike_hdr h = {0};

    if (RAND_bytes(s->mob.rr_cookie, sizeof(s->mob.rr_cookie)) != 1) {
        s->mob.rr_state = IKE_RR_NONE;
        return;
    }
    ike_build_begin(&bd, &h);
    ike_notify_build(&bd, &(struct ike_notify_pld){.type = N_MOB_COOKIE2, .data = s->mob.rr_cookie,
                                                   .len = sizeof(s->mob.rr_cookie)});
    /* the request goes to rr_at (ike_mobike_request_to): req_kind is set
     * before it is sent */
    s->mob.mv->rr_at = s->mob.mv->rr_to;
    if (ike_build_finish(&bd) &&
        ike_sess_request(s, REQ_MOBIKE_RR, IKE_EXCH_INFORMATIONAL, IKE_PLD_NOTIFY, bd.buf.data + IKE_HDR_LEN,
                         bd.buf.len - IKE_HDR_LEN))
        s->mob.rr_state = IKE_RR_SENT;
    else
        s->mob.rr_state = IKE_RR_NONE;
    ike_buf_fini(&bd.buf);
}

void ike_mobike_info_done(struct ike_sess *s)
{
    char a[INET6_ADDRSTRLEN];

    if (!s->mob.upd_now)
        return;
    s->mob.upd_now = false;
    if (s->state == IKE_SA_REKEYED) {
        /* RFC 7296 2.18: after the rekey only the new IKE SA is in use. The
         * update is answered (NAT detection, COOKIE2) as any request, but
         * moving from here would point the live session's SAs elsewhere
         * without its IKE SA, its rules (return routability, history) or a
         * record; the client updates the new IKE SA when it uses it. */
        log_info("ike", "session %" PRIu64 " (%s): UPDATE_SA_ADDRESSES from %s:%u on the old IKE SA after its "
                 "rekey: answered, nothing moves", s->ss.id, s->ss.remote_id ? s->ss.remote_id : "?",
                 ike_addr_str(&s->mob.mv->upd.peer, a, sizeof(a)), ike_port_of(&s->mob.mv->upd.peer));
        return;
    }
    if (!s->mob.rr || same_to(s, &s->mob.mv->upd)) {
        move(s, &s->mob.mv->upd, true, "mobike");
        s->mob.rx_set = false;
        return;
    }
    log_info("ike", "session %" PRIu64 " (%s): return routability check of %s:%u", s->ss.id,
             s->ss.remote_id ? s->ss.remote_id : "?", ike_addr_str(&s->mob.mv->upd.peer, a, sizeof(a)),
             ike_port_of(&s->mob.mv->upd.peer));
    s->mob.mv->rr_to = s->mob.mv->upd;
    if (s->req_pending) {
        s->mob.rr_state = IKE_RR_QUEUED; /* window size 1: after our request under way */
        ike_persist_mark(s);
    } else {
        rr_send(s);
    }
}

void ike_mobike_flush(struct ike_sess *s)
{
    if (s->mob.rr_state == IKE_RR_QUEUED && !s->req_pending)
        rr_send(s);
}

void ike_mobike_rr_done(struct ike_sess *s, const struct ike_msg *in)
{
    bool echoed = false;

    for (size_t i = 0; i < in->npld; i++) {
        struct ike_notify_pld n;

        if (in->pld[i].type == IKE_PLD_NOTIFY && ike_notify_parse(&in->pld[i], &n) && n.type == N_MOB_COOKIE2 &&
            n.len == sizeof(s->mob.rr_cookie) && !CRYPTO_memcmp(n.data, s->mob.rr_cookie, n.len))
            echoed = true;
    }
    if (s->mob.rr_state != IKE_RR_SENT)
        return; /* a newer update replaced the one checked: its check is queued */
    s->mob.rr_state = IKE_RR_NONE;
    if (!echoed) {
        log_warn("ike", "session %" PRIu64 ": the answer to the return routability check did not echo COOKIE2: "
                   "nothing moves", s->ss.id);
        ike_persist_mark(s);
        return;
    }
    move(s, &s->mob.mv->rr_at, true, "mobike");
    s->mob.rx_set = false;
}

void ike_mobike_rr_failed(struct ike_sess *s)
{
    char a[INET6_ADDRSTRLEN];

    log_warn("ike", "session %" PRIu64 " (%s): no answer at %s:%u to the return routability check: nothing moves",
               s->ss.id, s->ss.remote_id ? s->ss.remote_id : "?", ike_addr_str(&s->mob.mv->rr_at.peer, a, sizeof(a)),
               ike_port_of(&s->mob.mv->rr_at.peer));
    /* a newer update queued meanwhile (QUEUED) is checked once this request
     * is answered (ike_mobike_flush) */
    if (s->mob.rr_state == IKE_RR_SENT)
        s->mob.rr_state = IKE_RR_NONE;
    /* its message ID must still be answered: the same request, now a liveness
     * check at the address in use (the session ends if that fails too) */
    s->req_kind = REQ_DPD;
    s->req_tries = 0;
    ike_persist_mark(s);
    ike_sess_resend_request(s);
}

void ike_mobike_dp_poll(struct ike_engine *e)
{
    struct dp_float f[64];
    size_t n;

    if (!e->dp)
        return;
    while ((n = dp_floated(e->dp, f, 64))) {
        for (size_t i = 0; i < n; i++) {
            struct ike_sess *s;
            struct ike_mobike_to to;

            HASH_FIND(hh_id, e->by_id, &f[i].session_id, sizeof(f[i].session_id), s);
            /* with MOBIKE only UPDATE_SA_ADDRESSES moves it (RFC 4555 3.5) */
            if (!s || s->mob.on || !ike_sa_up(s) || s->peer.ss_family != f[i].peer.ss_family ||
                ike_sa_equal(&f[i].peer, &s->peer))
                continue;
            to = (struct ike_mobike_to){.local = s->local, .peer = f[i].peer};
            move(s, &to, false, "nat-mapping");
        }
        if (n < 64)
            break;
    }
}

/* ---- the session record's fields: an address is family (4, 6), address,
 * port (19 bytes); times and ports little-endian ---- */

#define REC_RR_LEN (19 + 19 + 3 + 16)

size_t ike_mobike_rec(const struct ike_mobike *m, enum ike_mobike_rec_kind kind, uint8_t i, uint8_t *out)
{
    switch (kind) {
    case IKE_MOBIKE_REC_HIST:
        ike_persist_addr_put(out, &m->hist[i].peer);
        for (int k = 0; k < 8; k++)
            out[19 + k] = (uint8_t)((uint64_t)m->hist[i].at >> (8 * k));
        return 27;
    case IKE_MOBIKE_REC_ADD:
        ike_persist_addr_put(out, &m->add[i]);
        return 19;
    case IKE_MOBIKE_REC_RR:
        ike_persist_addr_put(out, &m->mv->rr_to.local);
        ike_persist_addr_put(out + 19, &m->mv->rr_to.peer);
        out[38] = (uint8_t)(m->mv->rr_to.nat_peer | m->mv->rr_to.nat_seen << 1);
        out[39] = m->mv->rr_to.nat_local;
        out[40] = (uint8_t)m->rr_state;
        memcpy(out + 41, m->rr_cookie, 16);
        return REC_RR_LEN;
    }
    return 0;
}

bool ike_mobike_lists(struct ike_mobike *m, bool add)
{
    if (add && !m->add)
        m->add = calloc(IKE_MOBIKE_ADDS, sizeof(*m->add));
    else if (!add && !m->hist)
        m->hist = calloc(IKE_MOBIKE_HIST, sizeof(*m->hist));
    return add ? m->add != NULL : m->hist != NULL;
}

void ike_mobike_free(struct ike_mobike *m)
{
    free(m->add);
    free(m->hist);
    free(m->mv);
    m->add = NULL;
    m->hist = NULL;
    m->mv = NULL;
    m->rr_state = IKE_RR_NONE;
    m->upd_now = false;
    m->nadd = m->nhist = 0;
}

bool ike_mobike_rec_take(struct ike_mobike *m, enum ike_mobike_rec_kind kind, const uint8_t *v, size_t len)
{
    uint64_t t = 0;

    switch (kind) {
    case IKE_MOBIKE_REC_HIST:
        if (len != 27 || m->nhist == IKE_MOBIKE_HIST || !ike_mobike_lists(m, false) ||
            !ike_persist_addr_get(v, &m->hist[m->nhist].peer))
            return false;
        for (int k = 0; k < 8; k++)
            t |= (uint64_t)v[19 + k] << (8 * k);
        if (t >= (uint64_t)1 << 40) /* a time of this era */
            return false;
        m->hist[m->nhist++].at = (time_t)t;
        return true;
    case IKE_MOBIKE_REC_ADD:
        if (len != 19 || m->nadd == IKE_MOBIKE_ADDS || !ike_mobike_lists(m, true) ||
            !ike_persist_addr_get(v, &m->add[m->nadd]))
            return false;
        m->nadd++;
        return true;
    case IKE_MOBIKE_REC_RR:
        if (len != REC_RR_LEN || m->rr_state != IKE_RR_NONE || v[38] > 3 || v[39] > 1 ||
            (v[40] != IKE_RR_QUEUED && v[40] != IKE_RR_SENT) ||
            (!m->mv && !(m->mv = calloc(1, sizeof(*m->mv)))) || !ike_persist_addr_get(v, &m->mv->rr_to.local) ||
            !ike_persist_addr_get(v + 19, &m->mv->rr_to.peer))
            return false;
        m->mv->rr_to.sock = NULL; /* the session's (ike_mobike_adopted) */
        m->mv->rr_to.nat_peer = v[38] & 1;
        m->mv->rr_to.nat_seen = v[38] >> 1;
        m->mv->rr_to.nat_local = v[39];
        m->rr_state = (enum ike_mobike_rr)v[40];
        memcpy(m->rr_cookie, v + 41, 16);
        /* the address of a check under way is not kept apart: a newer update
         * queued before the restart gets the older check's retransmissions,
         * whose answer (the older cookie, QUEUED) moves nothing */
        m->mv->rr_at = m->mv->rr_to;
        return true;
    }
    return false;
}

void ike_mobike_adopted(struct ike_sess *s)
{
    char a[INET6_ADDRSTRLEN];

    /* the record keeps the check's local address and port, not its socket:
     * the session's is the right one only for the same address and port */
    if (s->mob.rr_state == IKE_RR_NONE || ike_sa_equal(&s->mob.mv->rr_to.local, &s->local))
        return;
    log_warn("ike", "session %" PRIu64 " (%s): the return routability check of %s:%u pending at the takeover came "
             "to another local address or port: abandoned, nothing moves",
             s->ss.id, s->ss.remote_id ? s->ss.remote_id : "?", ike_addr_str(&s->mob.mv->rr_to.peer, a, sizeof(a)),
             ike_port_of(&s->mob.mv->rr_to.peer));
    s->mob.rr_state = IKE_RR_NONE;
    if (s->req_pending && s->req_kind == REQ_MOBIKE_RR) {
        /* its message ID must still be answered: at the address in use */
        s->req_kind = REQ_DPD;
        s->req_tries = 0;
    }
    ike_persist_mark(s);
}

static void time_leaf(struct lyd_node *p, const char *name, time_t t)
{
    struct tm tm;
    char b[32];

    if (t && gmtime_r(&t, &tm) && strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%SZ", &tm))
        ike_add_str(p, name, b);
}

void ike_mobike_state(const struct ike_sess *s, struct lyd_node *n)
{
    struct lyd_node *m = NULL;
    char a[INET6_ADDRSTRLEN];

    if (lyd_new_inner(n, NULL, "mobility", 0, &m))
        return;
    ike_add_str(m, "mobike", s->mob.on ? "true" : "false");
    ike_add_u64(m, "moves", s->mob.moves);
    time_leaf(m, "last-move", s->mob.last_move);
    for (uint8_t i = 0; i < s->mob.nhist; i++) {
        struct lyd_node *h = NULL;
        char seq[16];

        /* numbered by move: the oldest kept is move moves - nhist + 1 */
        snprintf(seq, sizeof(seq), "%" PRIu32, s->mob.moves - s->mob.nhist + i + 1);
        if (lyd_new_list(m, NULL, "peer-history", 0, &h, seq))
            continue;
        ike_add_str(h, "address", ike_addr_str(&s->mob.hist[i].peer, a, sizeof(a)));
        ike_add_u64(h, "port", ike_port_of(&s->mob.hist[i].peer));
        time_leaf(h, "moved-at", s->mob.hist[i].at);
    }
    for (uint8_t i = 0; i < s->mob.nadd; i++)
        ike_add_str(m, "additional-address", ike_addr_str(&s->mob.add[i], a, sizeof(a)));
    if (s->mob.on)
        ike_add_str(m, "no-additional-addresses", s->mob.no_additional ? "true" : "false");
    if (s->mob.rr_state != IKE_RR_NONE)
        ike_add_str(m, "return-routability-pending", "true");
}
