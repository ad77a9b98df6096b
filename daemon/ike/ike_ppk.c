/* Post-quantum preshared keys in IKE_AUTH (RFC 8784): the responder's
 * decision, the key mixing and our PPK_IDENTITY (ike_ppk.h says how). */
#include <inttypes.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "daemon/base/log.h"
#include "daemon/ike/ike_eng.h"
#include "daemon/ike/ike_ppk.h"
#include "daemon/base/poison.h"

#define PPK_ID_FIXED 2 /* RFC 8784 section 5.1 (1: PPK_ID_OPAQUE) */

bool ike_ppk_mix(enum ike_prf prf, const uint8_t *ppk, size_t ppk_len, struct ike_keys *k)
{
    uint8_t d[64], pi[64], pr[64];
    size_t n = k->prf_len;
    bool ok = n <= sizeof(d) && ike_prf_plus(prf, ppk, ppk_len, k->sk_d, n, d, n) &&
              ike_prf_plus(prf, ppk, ppk_len, k->sk_pi, n, pi, n) && ike_prf_plus(prf, ppk, ppk_len, k->sk_pr, n, pr, n);

    if (ok) {
        memcpy(k->sk_d, d, n);
        memcpy(k->sk_pi, pi, n);
        memcpy(k->sk_pr, pr, n);
    }
    OPENSSL_cleanse(d, sizeof(d));
    OPENSSL_cleanse(pi, sizeof(pi));
    OPENSSL_cleanse(pr, sizeof(pr));
    return ok;
}

/* The first notify of @type in @in (false if none). */
static bool find_notify(const struct ike_msg *in, uint16_t type, struct ike_notify_pld *out)
{
    for (size_t i = 0; i < in->npld; i++) {
        if (in->pld[i].type == IKE_PLD_NOTIFY && ike_notify_parse(&in->pld[i], out) && out->type == type)
            return true;
    }
    return false;
}

const char *ike_ppk_precheck(const struct ike_sess *s, const struct ike_prof *prof)
{
    if (prof->ppk == IKE_PPK_REQUIRED && !s->in.ppk)
        return "the profile requires a post-quantum preshared key and the client did not announce USE_PPK";
    return NULL;
}

const char *ike_ppk_authenticate(struct ike_sess *s, const struct ike_prof *prof, const struct ike_msg *in,
                                 struct ike_auth_pld *auth)
{
    struct ike_notify_pld idn, nop;
    const struct ike_ppk *ppk = NULL;
    bool have_id, have_nop;
    const char *why;

    if (s->ppk_used) /* mixed once only */
        return NULL;
    if ((why = ike_ppk_precheck(s, prof)))
        return why;
    if (!s->in.ppk) /* PPK notifies of a client that did not announce USE_PPK are not RFC 8784's */
        return NULL;
    have_id = find_notify(in, N_PPK_IDENTITY, &idn);
    have_nop = find_notify(in, N_NO_PPK_AUTH, &nop);
    /* only PPK_ID_FIXED names a key here: an opaque PPK_ID needs an
     * agreement Raven does not have, so it is treated as an unknown one */
    if (have_id && idn.len >= 2 && idn.data[0] == PPK_ID_FIXED && prof->ppk != IKE_PPK_NONE)
        ppk = ike_conf_ppk(s->gen, idn.data + 1, idn.len - 1);
    if (ppk) {
        if (!ike_ppk_mix(s->in.prf, ppk->key, ppk->key_len, &s->in.keys))
            return "cannot mix the post-quantum preshared key into the IKE SA's keys";
        s->ppk_used = true;
        snprintf(s->ppk_id, sizeof(s->ppk_id), "%s", ppk->id);
        log_info("ike", "session %" PRIu64 " (%s): post-quantum preshared key %s in use", s->ss.id,
                 s->ss.remote_id ? s->ss.remote_id : "?", ppk->id);
        return NULL;
    }
    if (prof->ppk == IKE_PPK_REQUIRED)
        return have_id ? "the profile requires a post-quantum preshared key and the client's PPK_ID is not "
                         "configured (ikev2 ppk)"
                       : "the profile requires a post-quantum preshared key and the client sent no PPK_IDENTITY";
    if (have_id && have_nop) {
        /* the AUTH payload was made with a PPK we do not use: the client's
         * AUTH without it is in NO_PPK_AUTH (RFC 8784 section 3) */
        auth->data = nop.data;
        auth->len = nop.len;
        s->ppk_fallback = true;
    }
    return NULL;
}

void ike_ppk_auth_data(const struct ike_sess *s, const struct ike_msg *in, struct ike_auth_pld *auth)
{
    struct ike_notify_pld nop;

    if (s->ppk_fallback && find_notify(in, N_NO_PPK_AUTH, &nop)) {
        auth->data = nop.data;
        auth->len = nop.len;
    }
}

void ike_ppk_build(const struct ike_sess *s, struct ike_builder *ib)
{
    /* the responder's PPK_IDENTITY is empty: it only says the PPK was used */
    if (s->ppk_used)
        ike_notify_build(ib, &(struct ike_notify_pld){.type = N_PPK_IDENTITY});
}
