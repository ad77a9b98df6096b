/* The IKE side of AAA (SPEC S3, S5, S9): EAP pass-through to RADIUS in IKE_AUTH
 * exactly in the order of the seed's figures 1 and 2 (the eap step,
 * ike_auth_steps.h), pre-shared keys from RADIUS (for the authenticate step),
 * user and group authorization from RADIUS (the authorize step); accounting
 * and dynamic authorization are the session module's (sess_aaa.c). Every
 * RADIUS answer comes through a callback of daemon/aaa, which resumes the
 * exchange's steps; while one is awaited the session holds the request to
 * answer in s->pend and drops the client's retransmissions of it. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/log.h"
#include "daemon/ike/ike_auth.h"
#include "daemon/ike/ike_auth_steps.h"
#include "daemon/ike/ike_ppk.h"
#include "daemon/base/poison.h"

enum { EAP_REQUEST = 1, EAP_RESPONSE = 2, EAP_SUCCESS = 3, EAP_FAILURE = 4, EAP_TYPE_IDENTITY = 1 };

/* While RADIUS is asked the half-open timer stops (the RADIUS client's timeouts
 * bound the wait and always answer); after our response the profile's EAP
 * timeout bounds the client's next request. */
static void wait_radius(struct ike_sess *s, struct aaa_op *op)
{
    aaa_cancel(s->pend->op); /* one at a time: never two answers for one request */
    s->pend->op = op;
    evtimer_del(s->ev_live);
}

static void wait_client(struct ike_sess *s)
{
    evtimer_add(s->ev_live, &(struct timeval){.tv_sec = s->prof->eap_timeout});
}

/* ---- EAP pass-through (S3) ---- */

/* An IKE_AUTH response carrying @eap; the first one of the exchange also carries
 * our IDr, CERT and AUTH (RFC 7296 2.16). */
static bool eap_respond(struct ike_sess *s, const uint8_t *eap, size_t len)
{
    struct ike_builder ib;
    struct ike_hdr h = {0};
    bool first = !s->pend->idr, ok;
    size_t off;

    ike_build_begin(&ib, &h);
    if (first && !ike_auth_build_ours(s, s->prof, &ib)) {
        ike_buf_fini(&ib.buf);
        return false;
    }
    off = ike_build_pld(&ib, IKE_PLD_EAP, false);
    ike_buf_put(&ib.buf, eap, len);
    ok = ike_build_end_pld(&ib, off) && ike_build_finish(&ib) &&
         ike_sess_respond(s, IKE_EXCH_AUTH, s->pend->msg_id, first ? IKE_PLD_IDR : IKE_PLD_EAP,
                          ib.buf.data + IKE_HDR_LEN, ib.buf.len - IKE_HDR_LEN);
    ike_buf_fini(&ib.buf);
    return ok;
}

static void eap_answer(struct aaa_reply *r, void *arg);

/* Relays @eap (an EAP-Response of the client) to the EAP list's RADIUS servers;
 * false when it cannot (the client is refused, the half-open SA gone). */
static bool eap_to_radius(struct ike_sess *s, const uint8_t *eap, size_t len)
{
    const char *list = s->prof->eap_list;
    struct aaa_access q = {.user = s->ss.eap_identity, .eap = eap, .eap_len = len, .service_type = 2};
    struct aaa_op *op;

    /* what RADIUS cannot carry fails here, with a reason (RFC 2865 5.1: User-Name
     * up to 253 octets; one packet of at most 4096) */
    if ((s->ss.eap_identity && strlen(s->ss.eap_identity) > 253) || len > RAD_MAX_LEN - 512) {
        ike_auth_fail(s, s->pend->msg_id, "eap-failure",
                      len > RAD_MAX_LEN - 512 ? "the client's EAP message is too large for RADIUS"
                                              : "the EAP identity is longer than RADIUS allows (253 octets)");
        return false;
    }
    if (s->pend->state_len) {
        q.state = s->pend->state;
        q.state_len = s->pend->state_len;
    }
    op = sess_aaa_access(&s->ss, AAA_AUTHENTICATION, list, &q, eap_answer, s);
    if (!op) {
        ike_auth_fail(s, s->pend->msg_id, "radius-unreachable",
                      "the profile's EAP method list has no RADIUS server group");
        return false;
    }
    wait_radius(s, op);
    return true;
}

static void eap_answer(struct aaa_reply *r, void *arg)
{
    struct ike_sess *s = arg;
    struct ike_pend *pd = s->pend;
    char why[200];

    pd->op = NULL;
    switch (r->result) {
    case AAA_CHALLENGE:
        if (!r->eap_len || r->eap[0] != EAP_REQUEST) {
            ike_auth_fail(s, pd->msg_id, "eap-failure", "the RADIUS server's Access-Challenge carries no EAP-Request");
            return;
        }
        memcpy(pd->state, r->state, r->state_len);
        pd->state_len = r->state_len;
        if (!eap_respond(s, r->eap, r->eap_len)) {
            ike_auth_fail(s, pd->msg_id, NULL, "cannot build the response");
            return;
        }
        wait_client(s);
        return;
    case AAA_ACCEPT: {
        const uint8_t *eap = r->eap;
        size_t len = r->eap_len;

        /* RFC 3579 2.6.3: an Accept for EAP carries the EAP-Success */
        if (len < 4 || eap[0] != EAP_SUCCESS) {
            ike_auth_fail(s, pd->msg_id, "eap-failure", "the RADIUS server's Access-Accept carries no EAP-Success");
            return;
        }
        memcpy(pd->msk, r->msk, r->msk_len);
        pd->msk_len = r->msk_len;
        if (r->attrs.user_name) {
            /* S3: the identity the server returns wins */
            free(s->ss.eap_identity);
            s->ss.eap_identity = strdup(r->attrs.user_name);
        }
        pd->cached = r->attrs;
        aaa_attrs_init(&r->attrs);
        pd->have_cached = true;
        ike_sa_set_state(s, IKE_SA_EAP_SUCCESS, "RADIUS accepted the EAP exchange");
        if (!eap_respond(s, eap, len)) {
            ike_auth_fail(s, pd->msg_id, NULL, "cannot build the response");
            return;
        }
        wait_client(s);
        return;
    }
    case AAA_REJECT: {
        uint8_t failure[4] = {EAP_FAILURE, r->eap_len >= 2 ? r->eap[1] : pd->eap_id, 0, 4};

        /* the client hears EAP-Failure (RFC 3748 4.2), then the SA goes */
        eap_respond(s, failure, sizeof(failure));
        snprintf(why, sizeof(why), "the RADIUS server %s rejected %s%s%s", r->server ? r->server : "?",
                 s->ss.eap_identity ? s->ss.eap_identity : "?", r->reply_message[0] ? ": " : "", r->reply_message);
        ike_auth_refused(s, "eap-failure", why);
        return;
    }
    case AAA_UNREACHABLE:
        ike_auth_fail(s, pd->msg_id, "radius-unreachable", "no RADIUS server of the EAP method list answered");
        return;
    default:
        ike_auth_fail(s, pd->msg_id, "radius-unreachable", "the RADIUS request failed");
        return;
    }
}

enum ike_auth_rc ike_eap_step(struct ike_sess *s, struct ike_auth_run *w)
{
    struct ike_pend *pd = s->pend;
    const char *list = s->prof->eap_list;
    size_t n;
    uint8_t *rsp;
    bool ok;

    (void)w;
    if (!pd->eap)
        return IKE_AUTH_NEXT; /* the client authenticated with AUTH */
    ike_sa_set_state(s, IKE_SA_EAP, "the client asks for EAP");
    s->ss.auth_method = strdup("eap");
    if (!sess_aaa_radius(&s->ss, AAA_AUTHENTICATION, list))
        return ike_auth_refuse(s, "radius-unreachable", "the profile's EAP method list has no RADIUS server group");
    if (s->prof->eap_query_identity) {
        /* figure 2: EAP-Request/Identity first */
        uint8_t req[5] = {EAP_REQUEST, 0, 0, 5, EAP_TYPE_IDENTITY};

        RAND_bytes(&pd->eap_id, 1);
        req[1] = pd->eap_id;
        pd->eap_asked_identity = true;
        if (!eap_respond(s, req, sizeof(req)))
            return ike_auth_refuse(s, NULL, "cannot build the response");
        wait_client(s);
        return IKE_AUTH_WAIT;
    }
    /* figure 1: the IKE ID is the EAP identity, unless it is an address */
    if (s->ss.id_type == ID_IPV4 || s->ss.id_type == ID_IPV6)
        return ike_auth_refuse(s, "eap-identity-unusable",
                               "the client's IKE ID is an IP address, which cannot be an EAP identity (set "
                               "query-identity)");
    n = strlen(s->ss.remote_id);
    rsp = malloc(5 + n);
    if (!rsp || n > 253) {
        free(rsp);
        return ike_auth_refuse(s, NULL, "the identity is too long");
    }
    s->ss.eap_identity = strdup(s->ss.remote_id);
    rsp[0] = EAP_RESPONSE;
    rsp[1] = 0;
    rsp[2] = (uint8_t)((5 + n) >> 8);
    rsp[3] = (uint8_t)(5 + n);
    rsp[4] = EAP_TYPE_IDENTITY;
    memcpy(rsp + 5, s->ss.remote_id, n);
    ok = eap_to_radius(s, rsp, 5 + n);
    free(rsp);
    return ok ? IKE_AUTH_WAIT : IKE_AUTH_GONE;
}

/* The last message of an EAP exchange, @in: the client's AUTH from the MSK
 * (else SK_pi, RFC 7296 2.16), after the PPK decided which keys (RFC 8784
 * section 3: the final AUTH). While a PPK is asked of RADIUS @in is kept in
 * s->pend->fin and this runs again with it when the answer is in. */
static void eap_final(struct ike_sess *s, const struct ike_msg *in)
{
    struct ike_pend *pd = s->pend;
    const struct ike_pld *idi_p = ike_msg_find(&pd->req, IKE_PLD_IDI, 0), *auth_p = ike_msg_find(in, IKE_PLD_AUTH, 0);
    struct ike_auth_pld auth;
    const char *why;
    uint8_t mic[64];
    size_t ml = 0, so_len;
    uint8_t *so;
    bool wait;

    if (!auth_p || !ike_auth_parse(auth_p, &auth) || auth.method != 2 || !idi_p) {
        ike_auth_fail(s, pd->msg_id, "eap-failure", "after EAP success the client sent no shared key AUTH");
        return;
    }
    if ((why = ike_ppk_authenticate(s, s->prof, in, &auth, &wait))) {
        ike_auth_fail(s, pd->msg_id, "ppk-unavailable", why);
        return;
    }
    if (wait) {
        if (!ike_pend_keep_fin(pd, in)) {
            aaa_cancel(pd->op);
            pd->op = NULL;
            ike_auth_fail(s, pd->msg_id, NULL, "out of memory");
        }
        return;
    }
    so = ike_auth_signed_octets(s->in.prf, s->msg1, s->msg1_len, s->in.n->nr, s->in.n->nr_len, s->in.keys.sk_pi,
                                s->in.keys.prf_len, idi_p->body, idi_p->len, &so_len);
    if (so)
        ml = pd->msk_len ? ike_auth_psk(s->in.prf, pd->msk, pd->msk_len, so, so_len, mic)
                         : ike_auth_psk(s->in.prf, s->in.keys.sk_pi, s->in.keys.prf_len, so, so_len, mic);
    free(so);
    if (!ml || !ike_auth_equal(auth.data, auth.len, mic, ml)) {
        OPENSSL_cleanse(mic, sizeof(mic));
        ike_auth_fail(s, pd->msg_id, "eap-failure",
                      pd->msk_len ? "the client's AUTH does not match the EAP MSK"
                                  : "the client's AUTH does not match (the EAP method gave no MSK: "
                                    "MS-MPPE keys missing from the Access-Accept?)");
        return;
    }
    OPENSSL_cleanse(mic, sizeof(mic));
    ike_auth_next(s); /* the eap step is done */
}

void ike_eap_continue(struct ike_sess *s, const struct ike_msg *in, uint32_t msg_id)
{
    struct ike_pend *pd = s->pend;
    const struct ike_pld *eap_p = ike_msg_find(in, IKE_PLD_EAP, 0);
    struct ike_eap_pld eap;

    pd->msg_id = msg_id;
    evtimer_del(s->ev_live);
    if (s->state != IKE_SA_EAP && s->state != IKE_SA_EAP_SUCCESS) {
        ike_auth_fail(s, msg_id, NULL, "an IKE_AUTH request while the previous one is answered");
        return;
    }
    if (s->state == IKE_SA_EAP_SUCCESS) {
        eap_final(s, in);
        return;
    }
    if (!eap_p || !ike_eap_parse(eap_p, &eap) || eap.code != EAP_RESPONSE) {
        ike_auth_fail(s, msg_id, "eap-failure", "the client's IKE_AUTH request carries no EAP-Response");
        return;
    }
    if (pd->eap_asked_identity) {
        /* figure 2: the answer to our EAP-Request/Identity */
        size_t n = eap.len > 5 ? eap.len - 5 : 0;

        if (eap.type != EAP_TYPE_IDENTITY || !n || eap.id != pd->eap_id) {
            ike_auth_fail(s, msg_id, "eap-failure", "the client did not answer the EAP identity request");
            return;
        }
        pd->eap_asked_identity = false;
        free(s->ss.eap_identity);
        s->ss.eap_identity = strndup((const char *)eap.msg + 5, n);
    }
    eap_to_radius(s, eap.msg, eap.len);
}

/* ---- pre-shared keys from AAA (S2) ---- */

static void psk_answer(struct aaa_reply *r, void *arg)
{
    struct ike_sess *s = arg;
    struct ike_pend *pd = s->pend;
    const char *remote, *local;

    pd->op = NULL;
    if (r->result != AAA_ACCEPT) {
        ike_auth_fail(s, pd->msg_id, r->result == AAA_REJECT ? "psk-mismatch" : "radius-unreachable",
                      r->result == AAA_REJECT ? "the RADIUS server has no pre-shared key for this client"
                                              : "no RADIUS server of the keyring's list answered");
        return;
    }
    /* the asymmetric keys win over Tunnel-Password, which serves both sides */
    remote = r->attrs.psk_remote ? r->attrs.psk_remote : r->attrs.tunnel_password;
    local = r->attrs.psk_local ? r->attrs.psk_local : r->attrs.tunnel_password;
    if (!remote) {
        ike_auth_fail(s, pd->msg_id, "psk-mismatch",
                      "the Access-Accept carries no pre-shared key (Tunnel-Password, ipsec:ikev2-password-remote)");
        return;
    }
    if (!ike_auth_psk_ok(s, &pd->req, (const uint8_t *)remote, strlen(remote))) {
        ike_auth_fail(s, pd->msg_id, "psk-mismatch", "the client's AUTH does not match the pre-shared key from RADIUS");
        return;
    }
    if (local && !(pd->psk_local = strdup(local))) {
        ike_auth_fail(s, pd->msg_id, NULL, "out of memory");
        return;
    }
    /* S5: what came with the key is the cached user authorization */
    pd->cached = r->attrs;
    aaa_attrs_init(&r->attrs);
    pd->have_cached = true;
    ike_auth_next(s); /* the authenticate step is done */
}

enum ike_auth_rc ike_psk_fetch(struct ike_sess *s, const struct ike_prof *prof)
{
    const char *list = prof->keyring_aaa.method_list;
    char name[256];
    struct aaa_op *op;

    /* the peer identity, or the name the keyring's mangler makes of it */
    ike_authz_name(&prof->keyring_aaa, s->ss.id_type, s->ss.remote_id, NULL, name, sizeof(name));
    op = sess_authz_query(&s->ss, list, name, psk_answer, s);
    if (!op)
        return ike_auth_refuse(s, "psk-mismatch", "the keyring's method list has no RADIUS server group");
    wait_radius(s, op);
    return IKE_AUTH_WAIT;
}

/* ---- post-quantum preshared keys from AAA (RFC 8784, ike_ppk.c) ---- */

static void ppk_answer(struct aaa_reply *r, void *arg)
{
    struct ike_sess *s = arg;
    struct ike_pend *pd = s->pend;

    pd->op = NULL;
    pd->ppk_asked = true;
    if (r->result == AAA_ACCEPT && r->attrs.ppk_len) {
        /* the key moves here; it is wiped once mixed (ike_ppk_forget) */
        pd->ppk = r->attrs.ppk;
        pd->ppk_len = r->attrs.ppk_len;
        r->attrs.ppk = NULL;
        r->attrs.ppk_len = 0;
    } else {
        pd->ppk_why = r->result == AAA_REJECT        ? "the RADIUS server rejected the PPK_ID"
                      : r->result == AAA_UNREACHABLE ? "no RADIUS server of the list answered"
                      : r->result != AAA_ACCEPT      ? "the request cannot be sent"
                      : r->attrs.ppk_bad ? "the Access-Accept's ipsec:ppk-key starts with 0x but is not an even "
                                           "number of hex digits"
                                         : "the Access-Accept carries no ipsec:ppk-key";
    }
    /* on with the PPK decided: the final AUTH of EAP, else the authenticate step again */
    if (pd->have_fin)
        eap_final(s, &pd->fin);
    else
        ike_auth_run(s);
}

bool ike_ppk_fetch(struct ike_sess *s, const char *list, const char *ppk_id)
{
    /* an authorization request of the vendor's form (Service-Type Outbound,
     * the fixed password), the PPK_ID as the User-Name */
    struct aaa_op *op = sess_authz_query(&s->ss, list, ppk_id, ppk_answer, s);

    if (!op)
        return false;
    log_debug("ike", "session %" PRIu64 ": PPK_ID %s asked of RADIUS (list %s)", s->ss.id, ppk_id, list);
    wait_radius(s, op);
    return true;
}

/* ---- authorization over RADIUS (S5) ---- */

static void authz_answer(struct aaa_reply *r, void *arg)
{
    struct ike_sess *s = arg;
    struct ike_pend *pd = s->pend;
    bool user = pd->authz_step == 0;

    pd->op = NULL;
    if (r->result == AAA_ACCEPT) {
        if (user) {
            pd->user_at = r->attrs;
            pd->have_user = true;
        } else {
            pd->group_at = r->attrs;
            pd->have_group = true;
        }
        aaa_attrs_init(&r->attrs);
        pd->authz_step++;
        ike_auth_run(s); /* the authorize step again, for what is left to ask */
        return;
    }
    ike_auth_fail(s, pd->msg_id, "authorization-failed",
                  r->result == AAA_REJECT        ? (user ? "the RADIUS server refused the user authorization"
                                                         : "the RADIUS server refused the group authorization")
                  : r->result == AAA_UNREACHABLE ? "no RADIUS server of the authorization list answered"
                                                 : "the authorization request cannot be sent (a name too long?)");
}

enum ike_auth_rc ike_authz_step(struct ike_sess *s, struct ike_auth_run *w)
{
    struct ike_pend *pd = s->pend;
    enum ike_method m = ike_method_index(pd->method);

    (void)w;
    ike_sa_set_state(s, IKE_SA_AUTHORIZING, "the client is authenticated");

    while (m < IKE_M_N && pd->authz_step < 2) {
        const struct ike_authz_src *src = pd->authz_step == 0 ? &s->prof->authz_user[m] : &s->prof->authz_group[m];
        const char *list = src->set ? src->method_list : NULL;
        char name[256];
        struct aaa_op *op;

        /* S5: with cached attributes that carry an address the explicit user
         * authorization is not asked */
        if (!sess_aaa_radius(&s->ss, AAA_AUTHORIZATION, list) ||
            (pd->authz_step == 0 && pd->have_cached && src->cached && pd->cached.has_addr)) {
            pd->authz_step++;
            continue;
        }
        ike_authz_name(src, pd->eap && s->ss.eap_identity ? ID_EAP : s->ss.id_type,
                       pd->eap && s->ss.eap_identity ? s->ss.eap_identity : s->ss.remote_id, pd->dn, name,
                       sizeof(name));
        op = sess_authz_query(&s->ss, list, name, authz_answer, s);
        if (!op)
            return ike_auth_refuse(s, "authorization-failed", "the authorization list has no RADIUS server group");
        wait_radius(s, op);
        return IKE_AUTH_WAIT;
    }
    return IKE_AUTH_NEXT;
}
