/* The IKEv2 exchanges' common machinery (see ike_engine.h): sending and sealing,
 * sessions and their timers and ends, IKE_SA_INIT with cookies and limits, the
 * INFORMATIONAL exchange both ways, retransmission, and the dispatch of received
 * messages. Sockets and configuration are in ike_service.c, IKE_AUTH in
 * ike_authx.c, CREATE_CHILD_SA in ike_rekey.c. */
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
#include "daemon/pool/pool.h"
#include "daemon/base/poison.h"

#define HALF_OPEN_TIMEOUT 30 /* seconds an IKE SA may stay half-open */
#define REQ_RETRIES 5        /* retransmissions of our requests before the peer is declared dead */
#define COOKIE_ROTATE 300    /* seconds between cookie secrets */


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

static void ikey_of(const uint8_t spi_i[8], const struct sockaddr_storage *peer, uint8_t key[26])
{
    memset(key, 0, 26);
    memcpy(key, spi_i, 8);
    if (peer->ss_family == AF_INET)
        memcpy(key + 8, &((const struct sockaddr_in *)peer)->sin_addr, 4);
    else
        memcpy(key + 8, &((const struct sockaddr_in6 *)peer)->sin6_addr, 16);
    key[24] = (uint8_t)(ike_port_of(peer) >> 8);
    key[25] = (uint8_t)ike_port_of(peer);
}

/* ---- sending ---- */

static void out_free(struct ike_out *o)
{
    for (size_t i = 0; i < o->n; i++)
        free(o->d[i].data);
    o->n = 0;
}

/* Sends one datagram; IKE on the NAT-T port gets the non-ESP marker unless @raw
 * (a NAT keepalive is the single byte 0xFF, RFC 3948 2.3). */
static void send_dgram_raw(struct ike_sock *sk, const struct sockaddr_storage *local,
                           const struct sockaddr_storage *peer, const uint8_t *data, size_t len, bool raw);

static void send_dgram(struct ike_sock *sk, const struct sockaddr_storage *local, const struct sockaddr_storage *peer,
                       const uint8_t *data, size_t len)
{
    send_dgram_raw(sk, local, peer, data, len, false);
}

static void send_dgram_raw(struct ike_sock *sk, const struct sockaddr_storage *local,
                           const struct sockaddr_storage *peer, const uint8_t *data, size_t len, bool raw)
{
    static const uint8_t marker[4];
    struct iovec iov[2] = {{.iov_base = (void *)marker, .iov_len = 4}, {.iov_base = (void *)data, .iov_len = len}};
    union {
        char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
        struct cmsghdr align;
    } cm;
    struct msghdr mh = {.msg_name = (void *)peer, .msg_namelen = ike_sa_len(peer)};
    bool wildcard;

    if (sk && sk->e->output) {
        sk->e->output(peer, data, len, sk->e->output_arg);
        return;
    }
    if (!sk || sk->fd < 0)
        return;
    mh.msg_iov = sk->natt && !raw ? iov : iov + 1;
    mh.msg_iovlen = sk->natt && !raw ? 2 : 1;
    /* a socket bound to every address sends from the address the peer talks to */
    if (sk->addr.ss_family == AF_INET)
        wildcard = ((const struct sockaddr_in *)&sk->addr)->sin_addr.s_addr == INADDR_ANY;
    else
        wildcard = IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)&sk->addr)->sin6_addr);
    if (wildcard && local && local->ss_family == sk->addr.ss_family) {
        struct cmsghdr *c;

        memset(&cm, 0, sizeof(cm));
        mh.msg_control = cm.buf;
        if (local->ss_family == AF_INET) {
            struct in_pktinfo pi = {.ipi_spec_dst = ((const struct sockaddr_in *)local)->sin_addr};
            mh.msg_controllen = CMSG_SPACE(sizeof(pi));
            c = CMSG_FIRSTHDR(&mh);
            c->cmsg_level = IPPROTO_IP;
            c->cmsg_type = IP_PKTINFO;
            c->cmsg_len = CMSG_LEN(sizeof(pi));
            memcpy(CMSG_DATA(c), &pi, sizeof(pi));
        } else {
            struct in6_pktinfo pi = {.ipi6_addr = ((const struct sockaddr_in6 *)local)->sin6_addr};
            mh.msg_controllen = CMSG_SPACE(sizeof(pi));
            c = CMSG_FIRSTHDR(&mh);
            c->cmsg_level = IPPROTO_IPV6;
            c->cmsg_type = IPV6_PKTINFO;
            c->cmsg_len = CMSG_LEN(sizeof(pi));
            memcpy(CMSG_DATA(c), &pi, sizeof(pi));
        }
    }
    if (sendmsg(sk->fd, &mh, MSG_DONTWAIT) < 0)
        log_debug("ike", "send: %s", strerror(errno));
}

static void out_send(struct ike_sess *s, const struct ike_out *o)
{
    for (size_t i = 0; i < o->n; i++)
        send_dgram(s->sock, &s->local, &s->peer, o->d[i].data, o->d[i].len);
}

static bool out_add(struct ike_out *o, struct ike_buf *b)
{
    if (b->oom || o->n == IKE_MAX_DGRAMS) {
        ike_buf_fini(b);
        return false;
    }
    o->d[o->n].data = b->data;
    o->d[o->n++].len = b->len;
    memset(b, 0, sizeof(*b));
    return true;
}

/* Seals @inner (a payload chain starting with @first) into one message, or into
 * Encrypted Fragments when fragmentation was negotiated and it would not fit the
 * configured MTU (RFC 7383 2.5). */
static bool seal(struct ike_sess *s, uint8_t exchange, bool response, uint32_t msg_id, uint8_t first,
                 const uint8_t *inner, size_t inner_len, struct ike_out *o)
{
    struct ike_hdr h = {.version = 0x20, .exchange = exchange,
                        .flags = (uint8_t)((response ? IKE_FLAG_RESPONSE : 0) | (s->initiator ? IKE_FLAG_INITIATOR : 0)),
                        .msg_id = msg_id};
    struct ike_sk_keys k;
    size_t mtu = s->e->conf ? s->e->conf->frag_mtu : 1280;
    size_t overhead = (s->peer.ss_family == AF_INET ? 20 : 40) + 8 + 4 + IKE_HDR_LEN + IKE_PLD_HDR_LEN + 4 + 16 +
                      (s->in.cbc ? 32 + 16 : 16) + 16;
    struct ike_builder bd;

    memcpy(h.spi_i, s->in.spi_i, 8);
    memcpy(h.spi_r, s->in.spi_r, 8);
    ike_init_sk_keys(&s->in, s->initiator, &k); /* our messages: our role's keys */
    o->n = 0;
    if (s->in.fragmentation && inner_len + overhead > mtu && mtu > overhead + 64) {
        size_t chunk = mtu - overhead, total = (inner_len + chunk - 1) / chunk;

        if (total > IKE_MAX_DGRAMS)
            return false;
        for (size_t i = 0; i < total; i++) {
            size_t off = i * chunk, n = inner_len - off < chunk ? inner_len - off : chunk;

            ike_build_begin(&bd, &h);
            if (!ike_skf_seal(&k, &bd, (uint16_t)(i + 1), (uint16_t)total, first, inner + off, n) ||
                !out_add(o, &bd.buf)) {
                ike_buf_fini(&bd.buf);
                out_free(o);
                return false;
            }
        }
        return true;
    }
    ike_build_begin(&bd, &h);
    if (!ike_sk_seal(&k, &bd, first, inner, inner_len) || !out_add(o, &bd.buf)) {
        ike_buf_fini(&bd.buf);
        return false;
    }
    return true;
}

bool ike_sess_respond(struct ike_sess *s, uint8_t exchange, uint32_t msg_id, uint8_t first, const uint8_t *inner,
                      size_t inner_len)
{
    out_free(&s->last_resp);
    if (!seal(s, exchange, true, msg_id, first, inner, inner_len, &s->last_resp))
        return false;
    out_send(s, &s->last_resp);
    return true;
}

/* An unencrypted notify-only answer to an IKE_SA_INIT request. */
static void init_notify(struct ike_engine *e, struct ike_sock *sk, const struct sockaddr_storage *local,
                        const struct sockaddr_storage *peer, const struct ike_msg *req, uint16_t type,
                        const uint8_t *data, size_t len)
{
    struct ike_hdr h = req->hdr;
    struct ike_builder bd;

    memset(h.spi_r, 0, 8);
    h.flags = IKE_FLAG_RESPONSE;
    h.version = 0x20;
    ike_build_begin(&bd, &h);
    ike_notify_build(&bd, &(struct ike_notify_pld){.type = type, .data = data, .len = len});
    if (ike_build_finish(&bd))
        send_dgram(sk, local, peer, bd.buf.data, bd.buf.len);
    ike_buf_fini(&bd.buf);
    (void)e;
}

/* Unprotected error notifications (RFC 7296 2.5, 3.2) cost us nothing to be
 * asked for, so a spoofed source could aim them at a victim: a token bucket
 * bounds them (IKE_UNPROT_RATE a second, bursts of as many). */
#define IKE_UNPROT_RATE 20

static bool unprot_token(struct ike_engine *e)
{
    struct timespec ts;
    uint64_t now, add;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    if (!e->unprot_ms) {
        e->unprot_tokens = IKE_UNPROT_RATE;
        e->unprot_ms = now;
    }
    add = (now - e->unprot_ms) * IKE_UNPROT_RATE / 1000;
    if (add) {
        e->unprot_tokens = add >= IKE_UNPROT_RATE - e->unprot_tokens ? IKE_UNPROT_RATE
                                                                    : e->unprot_tokens + (uint32_t)add;
        e->unprot_ms += add * 1000 / IKE_UNPROT_RATE;
        if (e->unprot_tokens == IKE_UNPROT_RATE)
            e->unprot_ms = now;
    }
    if (!e->unprot_tokens) {
        e->c.unprotected_limited++;
        return false;
    }
    e->unprot_tokens--;
    return true;
}

/* A request the codec refused for its version or an unknown critical payload
 * (@rc): RFC 7296 2.5 answers a major version of 3 or more with
 * INVALID_MAJOR_VERSION in a version 2 header, and an IKE_SA_INIT request with
 * an unknown critical payload with UNSUPPORTED_CRITICAL_PAYLOAD carrying its
 * type; anything else is dropped. */
static void unprotected_error(struct ike_engine *e, struct ike_sock *sk, const struct sockaddr_storage *local,
                              const struct sockaddr_storage *peer, const struct ike_msg *msg, enum ike_parse_rc rc)
{
    static const uint8_t zero[8];
    const struct ike_hdr *h = &msg->hdr;

    if (h->flags & IKE_FLAG_RESPONSE) {
        e->c.dropped++;
        return;
    }
    if (rc == IKE_PARSE_BAD_VERSION && h->version >> 4 >= 3) {
        e->c.invalid_major_version++;
        if (unprot_token(e))
            init_notify(e, sk, local, peer, msg, N_INVALID_MAJOR_VERSION, NULL, 0);
    } else if (rc == IKE_PARSE_UNKNOWN_CRITICAL && h->exchange == IKE_EXCH_SA_INIT && h->msg_id == 0 &&
               !memcmp(h->spi_r, zero, 8)) {
        e->c.unsupported_critical++;
        if (unprot_token(e))
            init_notify(e, sk, local, peer, msg, N_UNSUPPORTED_CRITICAL_PAYLOAD, &msg->bad_type, 1);
    } else {
        e->c.dropped++;
    }
}

/* ---- sessions ---- */

static void on_retx(evutil_socket_t fd, short what, void *arg);
static void on_child(evutil_socket_t fd, short what, void *arg);
static void on_keepalive(evutil_socket_t fd, short what, void *arg);
static void on_ikerekey(evutil_socket_t fd, short what, void *arg);
static void on_ikelife(evutil_socket_t fd, short what, void *arg);
static void on_live(evutil_socket_t fd, short what, void *arg);
static void on_life(evutil_socket_t fd, short what, void *arg);

static struct ike_sess *sess_new(struct ike_engine *e)
{
    struct ike_sess *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->e = e;
    s->id = ++e->next_id;
    s->flow_limit = UINT32_MAX;
    s->created = s->last_rx = time(NULL);
    s->ev_retx = evtimer_new(e->base, on_retx, s);
    s->ev_live = evtimer_new(e->base, on_live, s);
    s->ev_life = evtimer_new(e->base, on_life, s);
    s->ev_child = evtimer_new(e->base, on_child, s);
    s->ev_ikelife = evtimer_new(e->base, on_ikelife, s);
    s->ev_ka = evtimer_new(e->base, on_keepalive, s);
    s->ev_ikerekey = evtimer_new(e->base, on_ikerekey, s);
    ike_frag_init(&s->frag);
    if (!s->ev_retx || !s->ev_live || !s->ev_life || !s->ev_child || !s->ev_ikelife || !s->ev_ka ||
        !s->ev_ikerekey) {
        if (s->ev_ikerekey)
            event_free(s->ev_ikerekey);
        if (s->ev_ka)
            event_free(s->ev_ka);
        if (s->ev_child)
            event_free(s->ev_child);
        if (s->ev_ikelife)
            event_free(s->ev_ikelife);
        if (s->ev_retx)
            event_free(s->ev_retx);
        if (s->ev_live)
            event_free(s->ev_live);
        if (s->ev_life)
            event_free(s->ev_life);
        free(s);
        return NULL;
    }
    return s;
}

/* Gives back what a session holds outside itself: child SAs, leases. */
static void drop_resources(struct ike_sess *s)
{
    for (size_t i = 0; i < s->nchild; i++)
        ike_child_remove(s, &s->child[i]);
    s->nchild = 0;
    if (s->have_addr4 && s->pool && s->e->conf)
        pool_release(s->e->conf->pools, s->pool, s->addr4);
    if (s->have_addr6 && s->pool6 && s->e->conf)
        pool_release(s->e->conf->pools6, s->pool6, s->index6);
    /* addresses from AAA and DHCP are claimed in the same address book */
    if (s->have_addr4 && (s->addr4_aaa || s->dhcp) && s->e->conf)
        pool_unclaim(s->e->conf->pools, s->addr4, s->id);
    if (s->have_addr6 && s->addr6_aaa && s->e->conf)
        pool_unclaim6(s->e->conf->pools6, s->addr6, s->alen6, s->id);
    ike_dhcp_drop(s);
    ike_route_remove(s);
    s->have_addr4 = s->have_addr6 = false;
}

/* Frees a session that is in no table (or has just been taken out of them). */
static void sess_release(struct ike_sess *s)
{
    drop_resources(s);
    free(s->child);
    free(s->del_q);
    free(s->del_sent);
    event_free(s->ev_retx);
    event_free(s->ev_live);
    event_free(s->ev_life);
    if (s->ev_child)
        event_free(s->ev_child);
    if (s->ev_ikelife)
        event_free(s->ev_ikelife);
    if (s->ev_ka)
        event_free(s->ev_ka);
    if (s->ev_ikerekey)
        event_free(s->ev_ikerekey);
    ike_dh_free(s->rk.dh);
    ike_dh_free(s->ikr.dh);
    out_free(&s->last_resp);
    out_free(&s->req);
    ike_frag_fini(&s->frag);
    ike_keys_wipe(&s->in.keys);
    OPENSSL_cleanse(&s->in, sizeof(s->in));
    free(s->msg1);
    free(s->msg2);
    free(s->remote_id);
    free(s->local_id);
    free(s->profile);
    free(s->ipsec_profile);
    free(s->auth_method);
    free(s->user);
    free(s->group);
    free(s->pool);
    free(s->pool6);
    free(s->eap_identity);
    free(s->authz_sources);
    X509_NAME_free(s->cert_issuer);
    ASN1_INTEGER_free(s->cert_serial);
    free(s->cert_tp);
    free(s->acct_list);
    free(s->acct_class);
    if (s->ev_acct)
        event_free(s->ev_acct);
    ike_pend_free(s->pend);
    free(s);
}

static void sess_free(struct ike_sess *s)
{
    struct ike_engine *e = s->e;

    if (s->state == IKE_SA_REKEYED) {
        HASH_DELETE(hh_r, e->by_r, s);
        sess_release(s);
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
    sess_release(s);
}

void ike_sess_abandon(struct ike_sess *s)
{
    sess_free(s);
}

bool ike_sess_stub(struct ike_sess *s, struct ike_sess *stub)
{
    struct ike_engine *e = s->e;

    stub->e = e;
    stub->id = s->id;
    stub->ev_retx = evtimer_new(e->base, on_retx, stub);
    stub->ev_live = evtimer_new(e->base, on_live, stub);
    stub->ev_life = evtimer_new(e->base, on_life, stub);
    if (!stub->ev_retx || !stub->ev_live || !stub->ev_life) {
        if (stub->ev_retx)
            event_free(stub->ev_retx);
        if (stub->ev_live)
            event_free(stub->ev_live);
        if (stub->ev_life)
            event_free(stub->ev_life);
        free(stub);
        return false;
    }
    stub->in = s->in;
    stub->initiator = s->initiator;
    memcpy(stub->our_spi, s->our_spi, 8);
    stub->sock = s->sock;
    stub->local = s->local;
    stub->peer = s->peer;
    stub->peer_next = s->peer_next;
    stub->last_resp = s->last_resp;
    stub->our_next = s->our_next;
    ike_sa_set_state(stub, IKE_SA_REKEYED, "the IKE SA was rekeyed");
    memset(&s->last_resp, 0, sizeof(s->last_resp));
    out_free(&s->req);
    s->req_pending = false;
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
    s->established = time(NULL);
    free(s->msg2); /* no longer needed for retransmission or AUTH */
    s->msg2 = NULL;
    free(s->msg1);
    s->msg1 = NULL;
    s->e->c.auth_completed++;
    s->e->c.accepted++;
}

void ike_sess_notify_event(struct ike_sess *s, const char *name, const char *reason, const char *message)
{
    const struct lys_module *m = ly_ctx_get_module_implemented(s->e->ctx, "raven-vpn");
    struct lyd_node *n = NULL;
    char a[INET6_ADDRSTRLEN];

    if (!s->e->event || !m || lyd_new_inner(NULL, m, name, 0, &n))
        return;
    if (strcmp(name, "authentication-failure")) {
        ike_add_u64(n, "session-id", s->id);
    }
    ike_add_str(n, "peer-address", ike_addr_str(&s->peer, a, sizeof(a)));
    if (!strcmp(name, "authentication-failure"))
        ike_add_u64(n, "peer-port", ike_port_of(&s->peer));
    ike_add_str(n, "remote-identity", s->remote_id);
    ike_add_str(n, "eap-identity", s->eap_identity);
    if (!strcmp(name, "session-down")) {
        ike_add_str(n, "authorized-user", s->user);
        ike_add_str(n, "reason", reason);
        ike_add_u64(n, "uptime", s->established ? (uint64_t)(time(NULL) - s->established) : 0);
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
        ike_add_str(n, "authorized-user", s->user);
        ike_add_str(n, "authorized-group", s->group);
        ike_add_str(n, "profile", s->profile);
        if (s->have_addr4) {
            struct in_addr ia = {.s_addr = htonl(s->addr4)};
            ike_add_str(n, "assigned-ipv4", inet_ntop(AF_INET, &ia, a, sizeof(a)));
        }
        if (s->have_addr6) {
            char p6[INET6_ADDRSTRLEN + 4];

            snprintf(p6, sizeof(p6), "%s/%u", inet_ntop(AF_INET6, s->addr6, a, sizeof(a)), s->alen6);
            ike_add_str(n, "assigned-ipv6", p6);
        }
    } else {
        ike_add_str(n, "profile", s->profile);
        if (reason && *reason)
            ike_add_str(n, "reason", reason);
        ike_add_str(n, "message", message);
    }
    s->e->event(n, s->e->event_arg);
}

bool ike_sess_request(struct ike_sess *s, int kind, uint8_t exchange, uint8_t first, const uint8_t *inner,
                      size_t inner_len)
{
    if (s->req_pending)
        return false;
    out_free(&s->req);
    if (!seal(s, exchange, false, s->our_next, first, inner, inner_len, &s->req))
        return false;
    s->req_pending = true;
    s->req_kind = kind;
    s->req_tries = 0;
    out_send(s, &s->req);
    evtimer_add(s->ev_retx, &(struct timeval){.tv_sec = s->dpd_retry ? s->dpd_retry : 2});
    return true;
}

static void send_request(struct ike_sess *s, int kind, uint8_t first, const uint8_t *inner, size_t inner_len)
{
    ike_sess_request(s, kind, IKE_EXCH_INFORMATIONAL, first, inner, inner_len);
}

static void on_child(evutil_socket_t fd, short what, void *arg)
{
    ike_child_on_timer(arg);
}

/* DELETE of the IKE SA (RFC 7296 1.4.1), sent once with the next message ID: the
 * session's resources go now, whatever the peer does. */
static void send_ike_delete(struct ike_sess *s)
{
    struct ike_builder bd;
    struct ike_hdr h = {0};

    ike_build_begin(&bd, &h);
    ike_delete_build(&bd, &(struct ike_delete_pld){.protocol = 1});
    if (ike_build_finish(&bd)) {
        struct ike_out o = {0};

        if (seal(s, IKE_EXCH_INFORMATIONAL, false, s->our_next, IKE_PLD_DELETE, bd.buf.data + IKE_HDR_LEN,
                 bd.buf.len - IKE_HDR_LEN, &o))
            out_send(s, &o);
        out_free(&o);
    }
    ike_buf_fini(&bd.buf);
}

void ike_sess_end(struct ike_sess *s, const char *reason, bool send_delete)
{
    char a[INET6_ADDRSTRLEN];

    if (s->state == IKE_SA_DELETING) {
        sess_free(s); /* the end of an ending session: the peer is gone or has gone */
        return;
    }
    if (ike_sa_up(s)) {
        log_info("ike", "session %" PRIu64 " (%s, %s) down: %s", s->id, s->remote_id ? s->remote_id : "?",
                 ike_addr_str(&s->peer, a, sizeof(a)), reason);
        ike_sess_notify_event(s, "session-down", reason, NULL);
        ike_acct_stop(s, reason);
    }
    if (send_delete && ike_sa_up(s) && s->req_pending && ike_sa_set_state(s, IKE_SA_DELETING, reason)) {
        /* window size 1: the DELETE goes once our request under way is answered
         * (or given up, handle_response / on_retx); the session is over for
         * everything else now */
        drop_resources(s);
        evtimer_del(s->ev_live);
        evtimer_del(s->ev_life);
        evtimer_del(s->ev_ikelife);
        evtimer_del(s->ev_child);
        evtimer_del(s->ev_ka);
        evtimer_del(s->ev_ikerekey);
        s->e->established--;
        return;
    }
    if (send_delete && ike_sa_up(s))
        send_ike_delete(s);
    sess_free(s);
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
    if (s->session_lifetime)
        evtimer_add(s->ev_life, &(struct timeval){.tv_sec = s->session_lifetime});
    /* behind a NAT ourselves: keep its mapping open (RFC 3948 4) */
    if (s->in.nat_local && s->e->conf && s->e->conf->nat_keepalive)
        evtimer_add(s->ev_ka, &(struct timeval){.tv_sec = s->e->conf->nat_keepalive});
    ike_sess_ike_rekeyed(s);
    ike_child_timer_arm(s);
}

static void on_keepalive(evutil_socket_t fd, short what, void *arg)
{
    static const uint8_t ka = 0xff;
    struct ike_sess *s = arg;

    if (s->sock && s->sock->natt)
        send_dgram_raw(s->sock, &s->local, &s->peer, &ka, 1, true);
    if (s->e->conf && s->e->conf->nat_keepalive)
        evtimer_add(s->ev_ka, &(struct timeval){.tv_sec = s->e->conf->nat_keepalive});
}

/* The profile's IKE SA lifetime: a client that has not rekeyed (or
 * re-authenticated) its IKE SA by then loses the session. */
void ike_sess_ike_rekeyed(struct ike_sess *s)
{
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
                 sizeof(a)), s->remote_id ? s->remote_id : "?");
        s->e->c.eap_timeouts++;
        s->e->c.auth_failed++;
        ike_sess_notify_event(s, "authentication-failure", "eap-timeout", "the client did not continue the EAP exchange");
        sess_free(s);
        return;
    }
    if (ike_sa_half_open(s) || s->state == IKE_SA_REKEYED) {
        if (ike_sa_half_open(s))
            log_info("ike", "half-open IKE SA of session %" PRIu64 " timed out", s->id);
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

static void on_retx(evutil_socket_t fd, short what, void *arg)
{
    struct ike_sess *s = arg;

    if (!s->req_pending)
        return;
    if (++s->req_tries > REQ_RETRIES) {
        if (s->req_kind == REQ_DPD)
            s->e->c.dpd_timeouts++;
        ike_sess_end(s, "dpd-timeout", false);
        return;
    }
    s->e->c.retransmissions++;
    out_send(s, &s->req);
    evtimer_add(s->ev_retx, &(struct timeval){.tv_sec = s->dpd_retry ? s->dpd_retry : 2});
}

static void on_life(evutil_socket_t fd, short what, void *arg)
{
    ike_sess_end(arg, "session-lifetime", true);
}

/* ---- IKE_SA_INIT ---- */

void ike_cookie_rotate(struct ike_engine *e)
{
    time_t now = time(NULL);

    if (e->cookie_rotated && now - e->cookie_rotated < COOKIE_ROTATE)
        return;
    memcpy(e->cookie_prev, e->cookie_secret, sizeof(e->cookie_secret));
    if (RAND_bytes(e->cookie_secret, sizeof(e->cookie_secret)) != 1)
        return;
    e->cookie_ver++;
    e->cookie_rotated = now;
}

/* Cookie = version(4) | HMAC-SHA256(secret, Ni | IPi | SPIi) (RFC 7296 2.6) */
static void cookie_make(const uint8_t secret[32], uint32_t ver, const uint8_t *ni, size_t ni_len,
                        const struct sockaddr_storage *peer, const uint8_t spi_i[8], uint8_t out[36])
{
    uint8_t buf[256 + 16 + 8];
    size_t n = 0;
    unsigned int ol = 32;

    memcpy(buf, ni, ni_len);
    n = ni_len;
    if (peer->ss_family == AF_INET) {
        memcpy(buf + n, &((const struct sockaddr_in *)peer)->sin_addr, 4);
        n += 4;
    } else {
        memcpy(buf + n, &((const struct sockaddr_in6 *)peer)->sin6_addr, 16);
        n += 16;
    }
    memcpy(buf + n, spi_i, 8);
    n += 8;
    out[0] = (uint8_t)(ver >> 24);
    out[1] = (uint8_t)(ver >> 16);
    out[2] = (uint8_t)(ver >> 8);
    out[3] = (uint8_t)ver;
    if (!HMAC(EVP_sha256(), secret, 32, buf, n, out + 4, &ol))
        memset(out + 4, 0, 32);
}

/* Whether the request passes the cookie check; answers with a COOKIE when it
 * must bring one. */
static bool cookie_ok(struct ike_engine *e, struct ike_sock *sk, const struct sockaddr_storage *local,
                      const struct sockaddr_storage *peer, const struct ike_msg *req)
{
    const struct ike_pld *pn = ike_msg_find(req, IKE_PLD_NONCE, 0);
    struct ike_notify_pld n;
    const uint8_t *ni;
    size_t ni_len;
    uint8_t want[36];

    if (!e->conf->cookie_on || e->half_open < e->conf->cookie_threshold)
        return true;
    if (!pn || !ike_nonce_parse(pn, &ni, &ni_len) || ni_len > 256)
        return false;
    ike_cookie_rotate(e);
    if (req->npld && req->pld[0].type == IKE_PLD_NOTIFY && ike_notify_parse(&req->pld[0], &n) &&
        n.type == N_COOKIE) {
        if (n.len == 36) {
            uint32_t ver = (uint32_t)n.data[0] << 24 | (uint32_t)n.data[1] << 16 | (uint32_t)n.data[2] << 8 |
                           n.data[3];

            if (ver == e->cookie_ver || ver == e->cookie_ver - 1) {
                cookie_make(ver == e->cookie_ver ? e->cookie_secret : e->cookie_prev, ver, ni, ni_len, peer,
                            req->hdr.spi_i, want);
                if (CRYPTO_memcmp(want, n.data, 36) == 0) {
                    e->c.cookie_accepted++;
                    return true;
                }
            }
        }
        e->c.cookie_rejected++;
    } else {
        e->c.cookie_missing++;
    }
    cookie_make(e->cookie_secret, e->cookie_ver, ni, ni_len, peer, req->hdr.spi_i, want);
    init_notify(e, sk, local, peer, req, N_COOKIE, want, sizeof(want));
    e->c.cookie_sent++;
    return false;
}

static void handle_init(struct ike_engine *e, struct ike_sock *sk, const struct sockaddr_storage *local,
                        const struct sockaddr_storage *peer, const uint8_t *buf, size_t len, const struct ike_msg *req)
{
    struct ike_init_opts opts = {.fragmentation = e->conf->frag, .algs = ike_conf_algs(e->conf, local, sk->vrf),
                                 .certreq = e->conf->certreq, .ncertreq = e->conf->ncertreq};
    struct ike_buf out = {0};
    struct ike_sess *s;
    uint8_t key[26];
    enum ike_init_status st;

    ikey_of(req->hdr.spi_i, peer, key);
    HASH_FIND(hh_i, e->by_i, key, sizeof(key), s);
    if (s) { /* a retransmitted request: the same answer again */
        e->c.retransmissions++;
        if (s->msg2)
            send_dgram(s->sock, &s->local, &s->peer, s->msg2, s->msg2_len);
        return;
    }
    e->c.received++;
    if (e->conf->max_sa && e->half_open + e->established >= e->conf->max_sa) {
        e->c.sa_limit++;
        e->c.rejected++;
        return;
    }
    if (e->conf->max_half_open && e->half_open >= e->conf->max_half_open) {
        e->c.in_negotiation_limit++;
        e->c.rejected++;
        return;
    }
    if (!cookie_ok(e, sk, local, peer, req))
        return;
    s = sess_new(e);
    if (!s) {
        e->c.resource_low++;
        e->c.rejected++;
        return;
    }
    s->rx_ifindex = sk->rx_ifindex;
    memcpy(s->fvrf, sk->vrf, sizeof(s->fvrf));
    s->fvrf_ifindex = sk->vrf[0] ? (int)if_nametoindex(sk->vrf) : 0;
    st = ike_init_respond(req, local, peer, &opts, &s->in, &out);
    if (st != IKE_INIT_OK) {
        if (st != IKE_INIT_INTERNAL)
            send_dgram(sk, local, peer, out.data, out.len);
        e->c.rejected++;
        if (st == IKE_INIT_NO_PROPOSAL)
            e->c.no_proposal++;
        else if (st == IKE_INIT_INVALID_KE)
            e->c.invalid_ke++;
        else if (st == IKE_INIT_INVALID_SYNTAX)
            e->c.invalid_syntax++;
        else
            e->c.resource_low++;
        ike_buf_fini(&out);
        sess_release(s);
        return;
    }
    s->msg1 = malloc(len);
    if (!s->msg1) {
        ike_buf_fini(&out);
        sess_release(s);
        return;
    }
    memcpy(s->msg1, buf, len);
    s->msg1_len = len;
    s->msg2 = out.data;
    s->msg2_len = out.len;
    s->sock = sk;
    s->local = *local;
    s->peer = *peer;
    s->peer_next = 1;
    memcpy(s->ikey, key, sizeof(key));
    for (size_t i = 0; i < req->npld; i++) {
        static const uint8_t unity[] = {0x12, 0xf5, 0xf2, 0x8c, 0x45, 0x71, 0x68, 0xa9,
                                        0x70, 0x2d, 0x9f, 0xe2, 0x74, 0xcc, 0x01, 0x00};
        static const char flex[] = "FLEXVPN-SUPPORTED";

        if (req->pld[i].type != IKE_PLD_VENDOR)
            continue;
        if (req->pld[i].len == sizeof(unity) && !memcmp(req->pld[i].body, unity, sizeof(unity)))
            s->vid_unity = true;
        if (req->pld[i].len == sizeof(flex) - 1 && !memcmp(req->pld[i].body, flex, sizeof(flex) - 1))
            s->vid_flexvpn = true;
    }
    ike_sa_set_state(s, IKE_SA_HALF_OPEN, "IKE_SA_INIT answered");
    HASH_ADD(hh_i, e->by_i, ikey, sizeof(s->ikey), s);
    memcpy(s->our_spi, s->in.spi_r, 8);
    HASH_ADD(hh_r, e->by_r, our_spi, 8, s);
    HASH_ADD(hh_id, e->by_id, id, sizeof(s->id), s);
    e->half_open++;
    send_dgram(sk, local, peer, s->msg2, s->msg2_len);
    ike_sess_arm_timers(s);
}

/* ---- INFORMATIONAL ---- */

static void handle_informational(struct ike_sess *s, const struct ike_msg *in, uint32_t msg_id)
{
    uint8_t *spis_out = NULL, first = IKE_PLD_NONE;
    size_t cap = 0;
    uint16_t nspi = 0;
    bool delete_ike = false;
    struct ike_builder bd;
    struct ike_hdr h = {0};

    for (size_t i = 0; i < in->npld; i++) {
        struct ike_delete_pld d;

        if (in->pld[i].type != IKE_PLD_DELETE || !ike_delete_parse(&in->pld[i], &d))
            continue;
        if (d.protocol == 1) {
            delete_ike = true;
        } else if (d.protocol == 3 && d.spi_len == 4) {
            uint8_t *more = realloc(spis_out, 4 * (cap + d.nspi));

            if (!more)
                continue; /* not answered: the peer asks again */
            spis_out = more;
            cap += d.nspi;
            for (uint16_t j = 0; j < d.nspi; j++) {
                const uint8_t *p = d.spis + 4 * j;
                uint32_t spi = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3], ours;

                /* the peer names its inbound SPI, our outbound (RFC 7296 1.4.1) */
                for (size_t c = 0; c < s->nchild; c++) {
                    if (s->child[c].spi_out != spi)
                        continue;
                    ours = s->child[c].spi_in;
                    if (nspi < cap && nspi < UINT16_MAX) {
                        spis_out[4 * nspi] = (uint8_t)(ours >> 24);
                        spis_out[4 * nspi + 1] = (uint8_t)(ours >> 16);
                        spis_out[4 * nspi + 2] = (uint8_t)(ours >> 8);
                        spis_out[4 * nspi + 3] = (uint8_t)ours;
                        nspi++;
                    }
                    ike_child_remove(s, &s->child[c]);
                    s->child[c] = s->child[--s->nchild];
                    ike_child_forget(s, ours);
                    break;
                }
            }
        }
    }
    ike_build_begin(&bd, &h);
    if (nspi && !delete_ike) {
        ike_delete_build(&bd, &(struct ike_delete_pld){.protocol = 3, .spi_len = 4, .nspi = nspi, .spis = spis_out});
        first = IKE_PLD_DELETE;
    }
    /* a client's CFG_SET (S4 "config-exchange set accept"): acknowledged, none of
     * its attributes taken (RFC 7296 3.15: an empty CFG_ACK) */
    for (size_t i = 0; i < in->npld && s->cfg_set_accept && !delete_ike; i++) {
        struct ike_cp_pld cp;

        if (in->pld[i].type == IKE_PLD_CP && ike_cp_parse(&in->pld[i], &cp) && cp.cfg_type == 3) {
            ike_cp_build(&bd, &(struct ike_cp_pld){.cfg_type = 4});
            first = first ? first : IKE_PLD_CP;
            break;
        }
    }
    if (ike_build_finish(&bd))
        ike_sess_respond(s, IKE_EXCH_INFORMATIONAL, msg_id, first, bd.buf.data + IKE_HDR_LEN,
                         bd.buf.len - IKE_HDR_LEN);
    ike_buf_fini(&bd.buf);
    free(spis_out);
    if (delete_ike && s->state == IKE_SA_REKEYED)
        sess_free(s); /* the old SA of a rekeyed session: the session goes on */
    else if (delete_ike)
        ike_sess_end(s, "peer-delete", false);
}

/* ---- receiving ---- */

static void handle_response(struct ike_sess *s, const uint8_t *buf, size_t len, const struct ike_msg *msg)
{
    struct ike_msg *inner = calloc(1, sizeof(*inner));
    uint8_t *plain = malloc(len);
    struct ike_sk_keys k;

    if (!inner || !plain || !s->req_pending || msg->hdr.msg_id != s->our_next) {
        free(inner);
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
        evtimer_del(s->ev_retx);
        out_free(&s->req);
        if (s->state == IKE_SA_DELETING) {
            /* the session ended while this request was under way: now its DELETE */
            free(inner);
            free(plain);
            send_ike_delete(s);
            sess_free(s);
            return;
        }
        if (s->state == IKE_SA_REKEYED) {
            /* the old IKE SA's DELETE, answered: it is gone */
            free(inner);
            free(plain);
            sess_free(s);
            return;
        }
        if (kind == REQ_IKE_REKEY) {
            ike_ike_rekey_done(s, inner);
            free(inner);
            free(plain);
            return;
        }
        if (kind == REQ_CHILD_REKEY)
            ike_child_rekey_done(s, inner);
        else if (kind == REQ_CHILD_DELETE)
            ike_child_delete_done(s);
        ike_child_flush_deletes(s);
    }
    free(inner);
    free(plain);
}

static void handle_request(struct ike_sess *s, const uint8_t *buf, size_t len, const struct ike_msg *msg,
                           struct ike_sock *sk, const struct sockaddr_storage *local,
                           const struct sockaddr_storage *peer)
{
    struct ike_engine *e = s->e;
    struct ike_msg *inner = calloc(1, sizeof(*inner));
    uint8_t *plain = NULL;
    struct ike_frag done;
    struct ike_sk_keys k;
    enum ike_sk_rc rc;
    bool complete = true;

    ike_frag_init(&done);
    if (!inner)
        return;
    ike_init_sk_keys(&s->in, !s->initiator, &k);
    if (msg->npld && msg->pld[msg->npld - 1].type == IKE_PLD_SKF && s->in.fragmentation) {
        e->c.fragments_received++;
        rc = ike_frag_add(&s->frag, &k, buf, len, msg, inner, &complete);
    } else if (msg->npld && msg->pld[msg->npld - 1].type == IKE_PLD_SK) {
        plain = malloc(len);
        rc = plain ? ike_sk_open(&k, buf, len, msg, plain, inner) : IKE_SK_NOT_AUTHENTIC;
    } else {
        rc = IKE_SK_NOT_AUTHENTIC; /* after IKE_SA_INIT everything is encrypted */
    }
    if (rc == IKE_SK_NOT_AUTHENTIC || !complete) {
        if (rc == IKE_SK_NOT_AUTHENTIC)
            e->c.dropped++;
        free(inner);
        free(plain);
        return;
    }
    /* a reassembled message is ours now; the handlers below may end the session */
    done = s->frag;
    ike_frag_init(&s->frag);
    /* an authentic message: the peer is alive, and its address is where it
     * sends from now (NAT mapping changes, the float to port 4500) */
    s->last_rx = time(NULL);
    if (!ike_sa_equal(peer, &s->peer) || sk != s->sock) {
        s->peer = *peer;
        s->local = *local;
        s->sock = sk;
        dp_session_move(e->dp, s->id, local, peer, sk->natt);
    }
    s->peer_next++;
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
            ike_sess_respond(s, msg->hdr.exchange, msg->hdr.msg_id, IKE_PLD_NOTIFY, bd.buf.data + IKE_HDR_LEN,
                             bd.buf.len - IKE_HDR_LEN);
        ike_buf_fini(&bd.buf);
        if (ike_sa_half_open(s))
            ike_sess_abandon(s);
    } else if (msg->hdr.exchange == IKE_EXCH_AUTH && ike_sa_half_open(s)) {
        ike_handle_auth(s, inner);
    } else if (msg->hdr.exchange == IKE_EXCH_INFORMATIONAL &&
               (ike_sa_up(s) || s->state == IKE_SA_REKEYED || s->state == IKE_SA_DELETING)) {
        handle_informational(s, inner, msg->hdr.msg_id);
    } else if (msg->hdr.exchange == IKE_EXCH_CREATE_CHILD_SA && ike_sa_up(s)) {
        ike_handle_create_child(s, inner, msg->hdr.msg_id);
    } else {
        e->c.dropped++;
    }
    ike_frag_fini(&done);
    free(inner);
    free(plain);
}

void ike_handle_dgram(struct ike_sock *sk, const struct sockaddr_storage *local,
                         const struct sockaddr_storage *peer, const uint8_t *buf, size_t len)
{
    struct ike_engine *e = sk->e;
    struct ike_msg *msg;
    struct ike_sess *s;
    enum ike_parse_rc rc;

    if (!e->conf)
        return;
    msg = calloc(1, sizeof(*msg));
    if (!msg)
        return;
    rc = ike_msg_parse(buf, len, msg);
    if (rc == IKE_PARSE_BAD_VERSION || rc == IKE_PARSE_UNKNOWN_CRITICAL) {
        unprotected_error(e, sk, local, peer, msg, rc);
        goto out;
    }
    if (rc != IKE_PARSE_OK) {
        e->c.dropped++;
        goto out;
    }
    if (msg->hdr.exchange == IKE_EXCH_SA_INIT && !(msg->hdr.flags & IKE_FLAG_RESPONSE)) {
        static const uint8_t zero[8];

        if (msg->hdr.msg_id == 0 && !memcmp(msg->hdr.spi_r, zero, 8) && (msg->hdr.flags & IKE_FLAG_INITIATOR))
            handle_init(e, sk, local, peer, buf, len, msg);
        else
            e->c.dropped++;
        goto out;
    }
    /* the peer's messages carry the I flag when it is the original initiator; our
     * SPI is then the responder's, else the initiator's */
    HASH_FIND(hh_r, e->by_r, (msg->hdr.flags & IKE_FLAG_INITIATOR) ? msg->hdr.spi_r : msg->hdr.spi_i, 8, s);
    if (!s || !(msg->hdr.flags & IKE_FLAG_INITIATOR) != s->initiator ||
        memcmp(s->initiator ? s->in.spi_r : s->in.spi_i, s->initiator ? msg->hdr.spi_r : msg->hdr.spi_i, 8)) {
        e->c.dropped++; /* an SA we do not know (RFC 7296 2.21.4: no answer needed) */
        goto out;
    }
    if (msg->hdr.flags & IKE_FLAG_RESPONSE) {
        handle_response(s, buf, len, msg);
    } else if (msg->hdr.msg_id == s->peer_next - 1 && ike_auth_waiting(s)) {
        e->c.retransmissions++; /* its answer waits for RADIUS */
    } else if (msg->hdr.msg_id == s->peer_next - 1 && s->last_resp.n) {
        struct ike_skf_pld skf;
        const struct ike_pld *last = msg->npld ? &msg->pld[msg->npld - 1] : NULL;

        /* a request resent in fragments: answer its first fragment only (RFC 7383
         * 2.6.1), not every one of them */
        if (last && last->type == IKE_PLD_SKF && (!ike_skf_parse(last, &skf) || skf.number != 1))
            goto out;
        e->c.retransmissions++;
        out_send(s, &s->last_resp);
    } else if (msg->hdr.msg_id == s->peer_next && ike_auth_waiting(s)) {
        e->c.dropped++; /* window size 1: no new request before the answer to the last */
    } else if (msg->hdr.msg_id == s->peer_next) {
        handle_request(s, buf, len, msg, sk, local, peer);
    } else {
        e->c.dropped++;
    }
out:
    free(msg);
}

