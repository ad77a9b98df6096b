/* IKEv2 redirect (RFC 5685) in the engine, the gateway's side.
 *
 * At IKE_SA_INIT (section 4.3): a client that announces REDIRECT_SUPPORTED is
 * answered, before any Diffie-Hellman is computed and without any state kept,
 * with HDR(SPIi, 0) N(REDIRECT, GW type, GW, Ni): the static
 * ikev2/global/redirect/gateway (while at least above-sessions are up), else
 * where the init hook says. A client that comes with REDIRECTED_FROM was sent
 * here by another gateway and is never sent on (it still supports redirect).
 *
 * Established sessions (section 6): rpc redirect-sessions sends an
 * INFORMATIONAL request with N(REDIRECT, GW type, GW) and no nonce, after our
 * request under way if there is one; the client answers, sets up an IKE SA
 * with the new gateway (with REDIRECTED_FROM) and deletes this one, which
 * until then stays as it is. Clients that did not announce support are only
 * counted.
 *
 * A REDIRECT from a client is never acted on: only the gateway redirects
 * (section 6); the request is answered as if it were not there. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/base/log.h"
#include "daemon/ike/ike_eng.h"
#include "daemon/base/poison.h"

void ike_engine_set_redirect_hooks(struct ike_engine *e, ike_redirect_init_fn init, ike_redirect_other_fn other,
                                   void *arg)
{
    e->redirect_init = init;
    e->redirect_other = other;
    e->redirect_arg = arg;
}

bool ike_redirect_announced(const struct ike_msg *req, bool *from)
{
    bool yes = false;

    *from = false;
    for (size_t i = 0; i < req->npld; i++) {
        struct ike_notify_pld n;

        if (req->pld[i].type != IKE_PLD_NOTIFY || !ike_notify_parse(&req->pld[i], &n))
            continue;
        if (n.type == N_REDIRECT_SUPPORTED)
            yes = true;
        else if (n.type == N_REDIRECTED_FROM) /* in place of REDIRECT_SUPPORTED (RFC 5685 5) */
            yes = *from = true;
    }
    return yes;
}

/* The gateway new client @peer goes to, into @gw: false to serve it here. */
static bool init_gateway(struct ike_engine *e, const struct sockaddr_storage *local,
                         const struct sockaddr_storage *peer, char *gw, size_t cap)
{
    const struct ike_conf *c = e->conf;

    gw[0] = 0;
    if (c->redirect_gw && e->established >= c->redirect_above) {
        snprintf(gw, cap, "%s", c->redirect_gw);
        return true;
    }
    if (!e->redirect_init || !e->redirect_init(e->redirect_arg, (const struct sockaddr *)local,
                                               (const struct sockaddr *)peer, gw, cap))
        return false;
    gw[cap - 1] = 0;
    return gw[0] != 0;
}

bool ike_redirect_at_init(struct ike_engine *e, struct ike_sock *sk, const struct sockaddr_storage *local,
                          const struct sockaddr_storage *peer, const struct ike_msg *req)
{
    const struct ike_pld *pn = ike_msg_find(req, IKE_PLD_NONCE, 0);
    uint8_t data[2 + IKE_GW_MAX + 256];
    struct ike_hdr h = req->hdr;
    struct ike_builder bd;
    struct ike_notify_pld n;
    char gw[IKE_GW_MAX + 1], a[INET6_ADDRSTRLEN];
    const uint8_t *ni;
    size_t ni_len, len;
    bool from;

    if (!ike_redirect_announced(req, &from))
        return false;
    if (from) {
        struct ike_redirect_pld r;
        char was[IKE_GW_MAX + 1] = "?";

        if (ike_notify_find(req, N_REDIRECTED_FROM, &n) && ike_redirect_parse(&n, false, &r))
            ike_redirect_gw_text(&r, was, sizeof(was));
        e->c.redirect_from++;
        log_info("ike", "IKE_SA_INIT from %s redirected here by %s: served here", ike_addr_str(peer, a, sizeof(a)),
                 was);
        return false;
    }
    /* without a nonce of the right size the exchange answers INVALID_SYNTAX */
    if (!pn || !ike_nonce_parse(pn, &ni, &ni_len) || ni_len < 16 || ni_len > 256 ||
        !init_gateway(e, local, peer, gw, sizeof(gw)))
        return false;
    len = ike_redirect_gw(gw, data);
    if (!len) {
        log_warn("ike", "redirect to \"%s\" asked for %s: not an address or a host name, served here", gw,
                 ike_addr_str(peer, a, sizeof(a)));
        return false;
    }
    memcpy(data + len, ni, ni_len);
    memset(h.spi_r, 0, 8);
    h.flags = IKE_FLAG_RESPONSE;
    h.version = 0x20;
    ike_build_begin(&bd, &h);
    ike_notify_build(&bd, &(struct ike_notify_pld){.type = N_REDIRECT, .data = data, .len = len + ni_len});
    if (ike_build_finish(&bd))
        ike_xmit_dgram(sk, local, peer, bd.buf.data, bd.buf.len, false);
    ike_buf_fini(&bd.buf);
    e->c.redirect_at_init++;
    log_info("ike", "IKE_SA_INIT from %s redirected to %s", ike_addr_str(peer, a, sizeof(a)), gw);
    return true;
}

void ike_redirect_from_client(struct ike_sess *s, const struct ike_msg *in)
{
    struct ike_notify_pld n;
    struct ike_redirect_pld r;
    char gw[IKE_GW_MAX + 1] = "?", a[INET6_ADDRSTRLEN];

    if (!ike_notify_find(in, N_REDIRECT, &n))
        return;
    if (ike_redirect_parse(&n, true, &r))
        ike_redirect_gw_text(&r, gw, sizeof(gw));
    s->e->c.redirect_refused++;
    log_warn("ike", "session %" PRIu64 " (%s, %s): the client sent REDIRECT to %s; only a gateway redirects: ignored",
             s->ss.id, s->ss.remote_id ? s->ss.remote_id : "?", ike_addr_str(&s->peer, a, sizeof(a)), gw);
}

/* Our INFORMATIONAL request with REDIRECT to s->redirect_to. */
static void send_redirect(struct ike_sess *s)
{
    uint8_t data[2 + IKE_GW_MAX];
    size_t len = ike_redirect_gw(s->redirect_to, data);
    struct ike_hdr h = {0};
    struct ike_builder bd;
    char a[INET6_ADDRSTRLEN];

    ike_build_begin(&bd, &h);
    ike_notify_build(&bd, &(struct ike_notify_pld){.type = N_REDIRECT, .data = data, .len = len});
    if (len && ike_build_finish(&bd) &&
        ike_sess_request(s, REQ_REDIRECT, IKE_EXCH_INFORMATIONAL, IKE_PLD_NOTIFY, bd.buf.data + IKE_HDR_LEN,
                         bd.buf.len - IKE_HDR_LEN)) {
        s->redirect_sent = true;
        log_info("ike", "session %" PRIu64 " (%s, %s): REDIRECT to %s sent", s->ss.id,
                 s->ss.remote_id ? s->ss.remote_id : "?", ike_addr_str(&s->peer, a, sizeof(a)), s->redirect_to);
    }
    ike_buf_fini(&bd.buf);
}

void ike_redirect_flush(struct ike_sess *s)
{
    if (s->redirect_to && !s->redirect_sent && !s->req_pending && ike_sa_up(s))
        send_redirect(s);
}

void ike_redirect_done(struct ike_sess *s, const struct ike_msg *in)
{
    struct ike_notify_pld n;
    char a[INET6_ADDRSTRLEN];

    /* an error notify (RFC 7296 3.10.1: types below 16384) says it will not go */
    for (size_t i = 0; i < in->npld; i++) {
        if (in->pld[i].type == IKE_PLD_NOTIFY && ike_notify_parse(&in->pld[i], &n) && n.type < 16384) {
            log_warn("ike", "session %" PRIu64 " (%s): the client answered REDIRECT with error %u", s->ss.id,
                     ike_addr_str(&s->peer, a, sizeof(a)), n.type);
            break;
        }
    }
    log_info("ike", "session %" PRIu64 " (%s): REDIRECT answered; the session stays until the client deletes it",
             s->ss.id, ike_addr_str(&s->peer, a, sizeof(a)));
    free(s->redirect_to);
    s->redirect_to = NULL;
    s->redirect_sent = false;
}

/* Whose session @s is, as the per-user limit says (daemon/session
 * sess_lease.c): the authorized user, else the EAP identity, else the IKE
 * identity. */
static const char *user_of(const struct ike_sess *s)
{
    return s->ss.user ? s->ss.user : s->ss.eap_identity ? s->ss.eap_identity : s->ss.remote_id;
}

static int by_age(const void *a, const void *b)
{
    const struct ike_sess *x = *(struct ike_sess *const *)a, *y = *(struct ike_sess *const *)b;

    if (x->ss.established != y->ss.established)
        return x->ss.established < y->ss.established ? -1 : 1;
    return x->ss.id < y->ss.id ? -1 : x->ss.id > y->ss.id;
}

/* The established sessions @sel selects, oldest first, into *@out (to free). */
static int select_sessions(struct ike_engine *e, const struct ike_redirect_sel *sel, struct ike_sess ***out,
                           size_t *n)
{
    struct ike_sess *s, *tmp, **v = malloc((e->established ? e->established : 1) * sizeof(*v));
    size_t k = 0;

    if (!v)
        return -ENOMEM;
    HASH_ITER(hh_id, e->by_id, s, tmp) {
        const char *u = user_of(s);

        if (!ike_sa_up(s) || k == e->established)
            continue;
        if (sel->all || sel->count || (sel->user && u && !strcasecmp(u, sel->user)))
            v[k++] = s;
    }
    qsort(v, k, sizeof(*v), by_age);
    if (sel->count && k > sel->count)
        k = sel->count;
    *out = v;
    *n = k;
    return 0;
}

int ike_engine_redirect(struct ike_engine *e, const struct ike_redirect_sel *sel, uint32_t *redirected,
                        uint32_t *not_supported)
{
    uint8_t probe[2 + IKE_GW_MAX];
    struct ike_sess **v = NULL;
    size_t n = 0;
    int rc;

    *redirected = *not_supported = 0;
    if (sel->gateway ? !ike_redirect_gw(sel->gateway, probe) : !e->redirect_other)
        return sel->gateway ? -EINVAL : -ENOENT;
    rc = select_sessions(e, sel, &v, &n);
    for (size_t i = 0; !rc && i < n; i++) {
        struct ike_sess *s = v[i];
        char gw[IKE_GW_MAX + 1];

        if (!s->redirect_ok) {
            ++*not_supported;
            continue;
        }
        if (sel->gateway) {
            snprintf(gw, sizeof(gw), "%s", sel->gateway);
        } else if (!e->redirect_other(e->redirect_arg, gw, sizeof(gw)) || (gw[sizeof(gw) - 1] = 0, !gw[0]) ||
                   !ike_redirect_gw(gw, probe)) {
            rc = *redirected ? 0 : -ENOENT; /* nowhere to go: the rest stay */
            break;
        }
        if (!s->redirect_sent) { /* else asked already: its answer is awaited */
            char *to = strdup(gw);

            if (!to) {
                rc = -ENOMEM;
                break;
            }
            free(s->redirect_to);
            s->redirect_to = to;
            ike_redirect_flush(s); /* now, or once our request under way is answered */
        }
        ++*redirected;
    }
    e->c.redirect_established += *redirected;
    free(v);
    return rc;
}
