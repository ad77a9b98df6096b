/* What the engine sends (see ike_eng.h): datagrams (the non-ESP marker on the
 * NAT-T port, the source address a wildcard socket answers from), messages
 * sealed in SK or in Encrypted Fragments, responses kept for the peer's
 * retransmissions, our requests (window size 1) and their retransmission
 * until the peer is declared dead, and NAT keepalives. */
#include <errno.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "daemon/base/log.h"
#include "daemon/ike/ike_eng.h"
#include "daemon/ike/ike_persist.h"
#include "daemon/base/poison.h"

#define REQ_RETRIES 5 /* retransmissions of our requests before the peer is declared dead */

void ike_xmit_out_free(struct ike_out *o)
{
    for (size_t i = 0; i < o->n; i++)
        free(o->d[i].data);
    free(o->d);
    o->d = NULL;
    o->n = o->cap = 0;
}

bool ike_xmit_out_room(struct ike_out *o)
{
    struct ike_dgram *d;
    size_t cap;

    if (o->n < o->cap)
        return true;
    if (o->cap >= IKE_MAX_DGRAMS)
        return false;
    cap = o->cap ? 2 * o->cap : 1;
    if (cap > IKE_MAX_DGRAMS)
        cap = IKE_MAX_DGRAMS;
    d = realloc(o->d, cap * sizeof(*d));
    if (!d)
        return false;
    o->d = d;
    o->cap = cap;
    return true;
}

void ike_xmit_hdr(const struct ike_sock *sk, const struct sockaddr_storage *local, const struct sockaddr_storage *peer,
                  const uint8_t *data, size_t len, bool raw, struct iovec iov[2], union ike_cmsg *cm,
                  struct msghdr *mh)
{
    static const uint8_t marker[4];
    bool wildcard;

    iov[0] = (struct iovec){.iov_base = (void *)marker, .iov_len = 4};
    iov[1] = (struct iovec){.iov_base = (void *)data, .iov_len = len};
    *mh = (struct msghdr){.msg_name = (void *)peer, .msg_namelen = ike_sa_len(peer)};
    mh->msg_iov = sk->natt && !raw ? iov : iov + 1;
    mh->msg_iovlen = sk->natt && !raw ? 2 : 1;
    /* a socket bound to every address sends from the address the peer talks to */
    if (sk->addr.ss_family == AF_INET)
        wildcard = ((const struct sockaddr_in *)&sk->addr)->sin_addr.s_addr == INADDR_ANY;
    else
        wildcard = IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)&sk->addr)->sin6_addr);
    if (wildcard && local && local->ss_family == sk->addr.ss_family) {
        struct cmsghdr *c;

        memset(cm, 0, sizeof(*cm));
        mh->msg_control = cm->buf;
        if (local->ss_family == AF_INET) {
            struct in_pktinfo pi = {.ipi_spec_dst = ((const struct sockaddr_in *)local)->sin_addr};
            mh->msg_controllen = CMSG_SPACE(sizeof(pi));
            c = CMSG_FIRSTHDR(mh);
            c->cmsg_level = IPPROTO_IP;
            c->cmsg_type = IP_PKTINFO;
            c->cmsg_len = CMSG_LEN(sizeof(pi));
            memcpy(CMSG_DATA(c), &pi, sizeof(pi));
        } else {
            struct in6_pktinfo pi = {.ipi6_addr = ((const struct sockaddr_in6 *)local)->sin6_addr};
            mh->msg_controllen = CMSG_SPACE(sizeof(pi));
            c = CMSG_FIRSTHDR(mh);
            c->cmsg_level = IPPROTO_IPV6;
            c->cmsg_type = IPV6_PKTINFO;
            c->cmsg_len = CMSG_LEN(sizeof(pi));
            memcpy(CMSG_DATA(c), &pi, sizeof(pi));
        }
    }
}

void ike_xmit_dgram(struct ike_sock *sk, const struct sockaddr_storage *local, const struct sockaddr_storage *peer,
                    const uint8_t *data, size_t len, bool raw)
{
    struct iovec iov[2];
    union ike_cmsg cm;
    struct msghdr mh;

    if (sk && sk->e->output) {
        sk->e->output(peer, data, len, sk->e->output_arg);
        return;
    }
    if (!sk || sk->fd < 0)
        return;
    ike_xmit_hdr(sk, local, peer, data, len, raw, iov, &cm, &mh);
    if (sendmsg(sk->fd, &mh, MSG_DONTWAIT) < 0)
        log_debug("ike", "send: %s", strerror(errno));
}

void ike_xmit_out(struct ike_sess *s, const struct ike_out *o)
{
    ike_mobike_request_to(s, o); /* to the peer, or our return routability check to its new address */
}

static bool out_add(struct ike_out *o, struct ike_buf *b)
{
    if (b->oom || !ike_xmit_out_room(o)) {
        ike_buf_fini(b);
        return false;
    }
    o->d[o->n].data = b->data;
    o->d[o->n++].len = b->len;
    memset(b, 0, sizeof(*b));
    return true;
}

void ike_seal_ctx_of(const struct ike_sess *s, uint8_t exchange, bool response, uint32_t msg_id,
                     struct ike_seal_ctx *c)
{
    struct ike_sk_keys k;

    memset(c, 0, sizeof(*c));
    c->h = (struct ike_hdr){.version = 0x20, .exchange = exchange,
                            .flags = (uint8_t)((response ? IKE_FLAG_RESPONSE : 0) |
                                               (s->initiator ? IKE_FLAG_INITIATOR : 0)),
                            .msg_id = msg_id};
    memcpy(c->h.spi_i, s->in.spi_i, 8);
    memcpy(c->h.spi_r, s->in.spi_r, 8);
    ike_init_sk_keys(&s->in, s->initiator, &k); /* our messages: our role's keys */
    c->cbc = k.cbc;
    c->alg = k.alg;
    c->integ = k.integ;
    c->key_len = k.key_len < sizeof(c->key) ? k.key_len : sizeof(c->key);
    memcpy(c->key, k.key, c->key_len);
    if (k.cbc && k.integ_key)
        memcpy(c->integ_key, k.integ_key, sizeof(c->integ_key));
    c->fragmentation = s->in.fragmentation;
    c->mtu = s->gen ? s->gen->frag_mtu : 1280; /* the generation it negotiated fragmentation under */
    c->overhead = (s->peer.ss_family == AF_INET ? 20 : 40) + 8 + 4 + IKE_HDR_LEN + IKE_PLD_HDR_LEN + 4 + 16 +
                  (s->in.cbc ? 32 + 16 : 16) + 16;
}

bool ike_seal_ctx_seal(const struct ike_seal_ctx *c, uint8_t first, const uint8_t *inner, size_t inner_len,
                       struct ike_out *o)
{
    struct ike_sk_keys k = {.cbc = c->cbc, .alg = c->alg, .key = c->key, .key_len = c->key_len,
                            .integ = c->integ, .integ_key = c->integ_key};
    size_t mtu = c->mtu, overhead = c->overhead;
    struct ike_builder bd;

    o->n = 0;
    if (c->fragmentation && inner_len + overhead > mtu && mtu > overhead + 64) {
        size_t chunk = mtu - overhead, total = (inner_len + chunk - 1) / chunk;

        if (total > IKE_MAX_DGRAMS)
            return false;
        for (size_t i = 0; i < total; i++) {
            size_t off = i * chunk, n = inner_len - off < chunk ? inner_len - off : chunk;

            ike_build_begin(&bd, &c->h);
            if (!ike_skf_seal(&k, &bd, (uint16_t)(i + 1), (uint16_t)total, first, inner + off, n) ||
                !out_add(o, &bd.buf)) {
                ike_buf_fini(&bd.buf);
                ike_xmit_out_free(o);
                return false;
            }
        }
        return true;
    }
    ike_build_begin(&bd, &c->h);
    if (!ike_sk_seal(&k, &bd, first, inner, inner_len) || !out_add(o, &bd.buf)) {
        ike_buf_fini(&bd.buf);
        return false;
    }
    return true;
}

bool ike_xmit_seal(struct ike_sess *s, uint8_t exchange, bool response, uint32_t msg_id, uint8_t first,
                   const uint8_t *inner, size_t inner_len, struct ike_out *o)
{
    struct ike_seal_ctx c;
    bool ok;

    ike_seal_ctx_of(s, exchange, response, msg_id, &c);
    ok = ike_seal_ctx_seal(&c, first, inner, inner_len, o);
    OPENSSL_cleanse(&c, sizeof(c));
    return ok;
}

bool ike_sess_respond(struct ike_sess *s, uint8_t exchange, uint32_t msg_id, uint8_t first, const uint8_t *inner,
                      size_t inner_len)
{
    ike_xmit_out_free(&s->last_resp);
    if (!ike_xmit_seal(s, exchange, true, msg_id, first, inner, inner_len, &s->last_resp))
        return false;
    if (s->hold_resp)
        return true; /* sent by the caller, after the record */
    ike_persist_save(s); /* before the answer goes: a new process answers its retransmission */
    ike_mobike_reply(s, &s->last_resp); /* where the request came from (RFC 7296 2.11) */
    return true;
}

void ike_sess_resend_request(struct ike_sess *s)
{
    ike_xmit_out(s, &s->req);
    ike_sess_retx_arm(s);
}

bool ike_sess_request(struct ike_sess *s, int kind, uint8_t exchange, uint8_t first, const uint8_t *inner,
                      size_t inner_len)
{
    if (s->req_pending)
        return false;
    ike_xmit_out_free(&s->req);
    if (!ike_xmit_seal(s, exchange, false, s->our_next, first, inner, inner_len, &s->req))
        return false;
    s->req_pending = true;
    s->req_kind = kind;
    s->req_tries = 0;
    ike_persist_save(s); /* before it goes: a new process sends it again */
    ike_xmit_out(s, &s->req);
    ike_sess_retx_arm(s);
    return true;
}

void ike_xmit_on_retx(evutil_socket_t fd, short what, void *arg)
{
    struct ike_sess *s = arg;

    if (!s->req_pending)
        return;
    if (++s->req_tries > REQ_RETRIES) {
        if (s->req_kind == REQ_MOBIKE_RR) {
            ike_mobike_rr_failed(s); /* nothing moves; the peer is still asked where it was */
            return;
        }
        if (s->req_kind == REQ_DPD)
            s->e->c.dpd_timeouts++;
        ike_sess_end(s, "dpd-timeout", false);
        return;
    }
    s->e->c.retransmissions++;
    ike_xmit_out(s, &s->req);
    ike_sess_retx_arm(s);
}

/* RFC 3948 4: behind a NAT ourselves, its mapping is kept open. */
void ike_xmit_on_keepalive(evutil_socket_t fd, short what, void *arg)
{
    static const uint8_t ka = 0xff;
    struct ike_sess *s = arg;

    if (s->sock && s->sock->natt)
        ike_xmit_dgram(s->sock, &s->local, &s->peer, &ka, 1, true);
    if (s->gen && s->gen->nat_keepalive)
        ike_sess_keepalive_arm(s);
}
