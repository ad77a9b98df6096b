/* Revocation of client certificates in the engine: clients whose first CRL is
 * being fetched, or whose OCSP query is under way, wait (their IKE_AUTH is
 * answered when it ends), and sessions whose certificate a refreshed CRL or
 * OCSP answer revokes end. The CRL cache (daemon/pki/pki_crl.h) calls on_crl
 * after every batch of fetches and OCSP queries that ended, saying which: a
 * waiting client is asked again only when one it waits for ended, and the
 * established sessions are checked only when a changed CRL or a revoked OCSP
 * answer came, so that a batch costs what changed, not clients x sessions.
 * Established sessions hold their OCSP answer (pki_crl_hold), which keeps it
 * fresh and in the cache. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/log.h"
#include "daemon/ike/ike_auth_steps.h"
#include "daemon/pki/pki.h"
#include "daemon/pki/pki_crl.h"
#include "daemon/pki/pki_ocsp.h"
#include "daemon/base/poison.h"

void ike_crl_release(struct ike_sess *s)
{
    if (s->ocsp_held && s->ss.cert_tp && s->ss.cert_issuer && s->ss.cert_serial)
        pki_crl_hold(s->e->crl, s->ss.cert_tp, s->ss.cert_issuer, s->ss.cert_serial, false);
    s->ocsp_held = false;
}

/* The session stands on the OCSP answer of its certificate under @tp. */
static void hold(struct ike_sess *s, const struct pki_tp *tp)
{
    if (!s->ocsp_held && tp->ocsp_check && s->ss.cert_tp && s->ss.cert_issuer && s->ss.cert_serial) {
        pki_crl_hold(s->e->crl, s->ss.cert_tp, s->ss.cert_issuer, s->ss.cert_serial, true);
        s->ocsp_held = true;
    }
}

void ike_crl_remember(struct ike_sess *s, X509 *cert, const struct pki_tp *tp)
{
    ike_crl_release(s);
    X509_NAME_free(s->ss.cert_issuer);
    ASN1_INTEGER_free(s->ss.cert_serial);
    free(s->ss.cert_tp);
    s->ss.cert_issuer = X509_NAME_dup(X509_get_issuer_name(cert));
    s->ss.cert_serial = ASN1_INTEGER_dup(X509_get0_serialNumber(cert));
    s->ss.cert_tp = strdup(tp->name);
    free(s->ocsp_url);
    s->ocsp_url = NULL;
    if (tp->ocsp_check && !tp->ocsp_url) {
        char url[1024];

        if (pki_ocsp_aia_url(cert, url, sizeof(url)))
            s->ocsp_url = strdup(url);
    }
    hold(s, tp);
    if (!s->ss.cert_issuer || !s->ss.cert_serial || !s->ss.cert_tp)
        log_warn("ike", "session %" PRIu64 ": out of memory: its certificate will not be checked at CRL refreshes",
                 s->ss.id);
}

void ike_crl_adopted(struct ike_sess *s)
{
    const struct pki_tp *tp;

    if (!s->ss.cert_tp || !s->ss.cert_issuer || !s->ss.cert_serial || !s->gen)
        return;
    tp = ike_conf_tp(s->gen, s->ss.cert_tp);
    if (tp && tp->ocsp_check) {
        hold(s, tp);
        pki_crl_watch(s->e->crl, tp, s->ss.cert_issuer, s->ss.cert_serial, s->ocsp_url);
    }
}

void ike_crl_park(struct ike_sess *s, X509 *cert, STACK_OF(X509) *chain)
{
    struct ike_pend *pd = s->pend;

    pd->crl_cert = cert;
    pd->crl_chain = chain;
    pd->ncrl_waits = pki_crl_waits(s->e->crl, pd->crl_waits, sizeof(pd->crl_waits) / sizeof(pd->crl_waits[0]));
    /* a retransmission is not a new request (ike_auth_waiting) */
    ike_sa_set_state(s, IKE_SA_CRL_WAIT, "the certificate's revocation status is fetched");
    log_info("ike", "session %" PRIu64 " (%s): waiting for the CRL or OCSP answer of its certificate", s->ss.id,
             s->ss.remote_id ? s->ss.remote_id : "?");
}

/* A fetch ended: the parked client gets its answer unless it still waits for
 * another of its sources. */
static void resume(struct ike_sess *s)
{
    struct ike_pend *pd = s->pend;
    struct pki_tp *tps[16];
    size_t ntp = ike_profile_tps(s->prof, IKE_TP_VERIFY, tps, 16); /* of its generation: one at least */
    enum pki_verdict v;
    const struct pki_tp *checked_by;
    char why[300];

    v = pki_crl_verify(s->e->crl, tps, ntp, pd->crl_cert, pd->crl_chain, &checked_by, why, sizeof(why));
    if (v == PKI_PENDING) { /* on another transfer now (OCSP failed, the CRL next) */
        pd->ncrl_waits = pki_crl_waits(s->e->crl, pd->crl_waits, sizeof(pd->crl_waits) / sizeof(pd->crl_waits[0]));
        return;
    }
    if (v != PKI_GOOD) {
        ike_auth_fail(s, pd->msg_id,
                      v == PKI_REVOKED  ? "certificate-revoked" :
                      v == PKI_NO_CRL   ? "crl-unavailable" :
                      v == PKI_NO_OCSP  ? "ocsp-unavailable" :
                                          "certificate-invalid",
                      why);
        return;
    }
    if (why[0])
        log_info("ike", "session %" PRIu64 " (%s): accepted without a revocation check: %s", s->ss.id,
                 s->ss.remote_id ? s->ss.remote_id : "?", why);
    if (checked_by)
        ike_crl_remember(s, pd->crl_cert, checked_by);
    X509_free(pd->crl_cert);
    sk_X509_pop_free(pd->crl_chain, X509_free);
    pd->crl_cert = NULL;
    pd->crl_chain = NULL;
    ike_auth_next(s); /* the authenticate step is done */
}

/* Whether the parked client @s waits for a transfer the news say ended. */
static bool waits_on(const struct ike_sess *s, const struct pki_crl_news *news)
{
    const struct ike_pend *pd = s->pend;

    if (news->all || !pd || !pd->ncrl_waits) /* none known: asks at every notify */
        return true;
    for (size_t i = 0; i < pd->ncrl_waits; i++) {
        for (size_t j = 0; j < news->nended; j++) {
            if (pd->crl_waits[i] == news->ended[j])
                return true;
        }
    }
    return false;
}

static void on_crl(void *arg, const struct pki_crl_news *news)
{
    struct ike_engine *e = arg;
    struct ike_sess *s, *tmp;
    uint64_t *ids = NULL;
    size_t n = 0, cap = 0;

    /* sessions go while this runs: their ids first, then one at a time */
    HASH_ITER(hh_id, e->by_id, s, tmp) {
        if (s->state == IKE_SA_CRL_WAIT ? !waits_on(s, news) : !(news->revoked && ike_sa_up(s) && s->ss.cert_tp))
            continue;
        if (n == cap) {
            uint64_t *m = realloc(ids, (cap ? 2 * cap : 64) * sizeof(*ids));

            if (!m)
                break;
            ids = m;
            cap = cap ? 2 * cap : 64;
        }
        ids[n++] = s->ss.id;
    }
    for (size_t i = 0; i < n; i++) {
        char why[300];

        HASH_FIND(hh_id, e->by_id, &ids[i], sizeof(ids[i]), s);
        if (!s)
            continue;
        if (s->state == IKE_SA_CRL_WAIT) {
            resume(s);
        } else if (ike_sa_up(s) && s->ss.cert_tp && s->ss.cert_issuer && s->ss.cert_serial &&
                   pki_crl_revoked(e->crl, s->ss.cert_tp, s->ss.cert_issuer, s->ss.cert_serial, why, sizeof(why))) {
            log_warn("ike", "session %" PRIu64 " (%s): %s", s->ss.id, s->ss.remote_id ? s->ss.remote_id : "?", why);
            ike_sess_end(s, "certificate-revoked", true);
        }
    }
    free(ids);
}

void ike_engine_set_crl(struct ike_engine *e, struct pki_crl *crl)
{
    e->crl = crl;
    if (crl) {
        pki_crl_set_notify(crl, on_crl, e);
        if (e->conf)
            pki_crl_sync(crl, e->conf->tps, e->conf->ntps);
    }
}
