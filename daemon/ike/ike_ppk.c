/* Post-quantum preshared keys in IKE_AUTH (RFC 8784): the responder's
 * decision, the key mixing and our PPK_IDENTITY (ike_ppk.h says how). */
#include <inttypes.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/log.h"
#include "daemon/ike/ike_eng.h"
#include "daemon/ike/ike_ppk.h"
#include "daemon/base/poison.h"

enum { PPK_ID_OPAQUE = 1, PPK_ID_FIXED = 2 }; /* RFC 8784 section 5.1 */

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

const char *ike_ppk_precheck(const struct ike_sess *s, const struct ike_prof *prof)
{
    if (prof->ppk == IKE_PPK_REQUIRED && !s->in.ppk)
        return "the profile requires a post-quantum preshared key and the client did not announce USE_PPK";
    return NULL;
}

bool ike_ppk_id_of(const uint8_t *data, size_t len, const uint8_t **id, size_t *id_len)
{
    /* RFC 8784 section 5.1: PPK_ID_FIXED names a PPK by fixed octets;
     * PPK_ID_OPAQUE's octets have a meaning both sides agree on, and for
     * Raven that agreement is the same table (a configured ppk-id, or what
     * RADIUS knows by that name). Both are looked up by the octets after the
     * type; the reserved and private-use types name no PPK. */
    if (len < 2 || (data[0] != PPK_ID_OPAQUE && data[0] != PPK_ID_FIXED))
        return false;
    *id = data + 1;
    *id_len = len - 1;
    return true;
}

bool ike_ppk_id_askable(const uint8_t *id, size_t len)
{
    /* a RADIUS User-Name Raven can log and state can show: printable ASCII,
     * as long as a ppk-id may be */
    if (!len || len > IKE_PPK_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (id[i] < 0x20 || id[i] > 0x7e)
            return false;
    }
    return true;
}

bool ike_ppk_id_allowed(const struct ike_prof *prof, const uint8_t *id, size_t len)
{
    /* ppk id binds the profile's clients to their PPKs, as a strongSwan
     * responder's ppk_id does: without it any PPK the headend knows would
     * satisfy policy required */
    if (!prof->nppk_ids)
        return true;
    for (size_t i = 0; i < prof->nppk_ids; i++) {
        if (strlen(prof->ppk_ids[i]) == len && !memcmp(prof->ppk_ids[i], id, len))
            return true;
    }
    return false;
}

/* The PPK to use: the configured one, else the one AAA gave (asked for
 * here, *wait set, when the profile names a list and nobody asked yet).
 * A PPK_ID the profile does not allow names none, and RADIUS is not asked. */
static const uint8_t *find_key(struct ike_sess *s, const struct ike_prof *prof, const uint8_t *id, size_t id_len,
                               size_t *key_len, bool *wait)
{
    const struct ike_ppk *ppk;
    struct ike_pend *pd = s->pend;
    char name[IKE_PPK_ID_MAX + 1];

    if (!ike_ppk_id_allowed(prof, id, id_len)) {
        log_info("ike", "session %" PRIu64 " (%s): PPK_ID %.*s is not one profile %s allows (ppk id)", s->ss.id,
                 s->ss.remote_id ? s->ss.remote_id : "?", ike_ppk_id_askable(id, id_len) ? (int)id_len : 0,
                 (const char *)id, prof->name);
        return NULL;
    }
    ppk = ike_conf_ppk(s->gen, id, id_len);
    if (ppk) {
        *key_len = ppk->key_len;
        return ppk->key;
    }
    if (!prof->ppk_aaa_list || !pd || !ike_ppk_id_askable(id, id_len))
        return NULL;
    if (!pd->ppk_asked) {
        snprintf(name, sizeof(name), "%.*s", (int)id_len, (const char *)id);
        if (ike_ppk_fetch(s, prof->ppk_aaa_list, name)) {
            *wait = true;
            return NULL;
        }
        pd->ppk_asked = true;
        pd->ppk_why = "the list has no RADIUS server group";
    }
    *key_len = pd->ppk_len;
    return pd->ppk_len ? pd->ppk : NULL;
}

const char *ike_ppk_authenticate(struct ike_sess *s, const struct ike_prof *prof, const struct ike_msg *in,
                                 struct ike_auth_pld *auth, bool *wait)
{
    struct ike_notify_pld idn, nop;
    const uint8_t *key = NULL, *id = NULL;
    size_t key_len = 0, id_len = 0;
    bool have_id, have_nop;
    const char *why;

    *wait = false;
    if (s->ppk_used) /* mixed once only */
        return NULL;
    if ((why = ike_ppk_precheck(s, prof)))
        return why;
    if (!s->in.ppk) /* PPK notifies of a client that did not announce USE_PPK are not RFC 8784's */
        return NULL;
    have_id = ike_notify_find(in, N_PPK_IDENTITY, &idn);
    have_nop = ike_notify_find(in, N_NO_PPK_AUTH, &nop);
    if (have_id && prof->ppk != IKE_PPK_NONE && ike_ppk_id_of(idn.data, idn.len, &id, &id_len))
        key = find_key(s, prof, id, id_len, &key_len, wait);
    if (*wait)
        return NULL;
    if (key) {
        bool ok = ike_ppk_mix(s->in.prf, key, key_len, &s->in.keys);

        ike_ppk_forget(s->pend); /* a key from AAA is used once, here */
        if (!ok)
            return "cannot mix the post-quantum preshared key into the IKE SA's keys";
        s->ppk_used = true;
        snprintf(s->ppk_id, sizeof(s->ppk_id), "%.*s", (int)id_len, (const char *)id);
        log_info("ike", "session %" PRIu64 " (%s): post-quantum preshared key %s in use%s", s->ss.id,
                 s->ss.remote_id ? s->ss.remote_id : "?", s->ppk_id,
                 s->pend && s->pend->ppk_asked ? " (from RADIUS)" : "");
        return NULL;
    }
    if (id && prof->ppk_aaa_list && ike_ppk_id_allowed(prof, id, id_len))
        log_info("ike", "session %" PRIu64 " (%s): no post-quantum preshared key from RADIUS (list %s): %s",
                 s->ss.id, s->ss.remote_id ? s->ss.remote_id : "?", prof->ppk_aaa_list,
                 s->pend && s->pend->ppk_why ? s->pend->ppk_why
                                             : "the PPK_ID is not 1 to 64 printable characters, no RADIUS User-Name");
    if (prof->ppk == IKE_PPK_REQUIRED) {
        if (!have_id)
            return "the profile requires a post-quantum preshared key and the client sent no PPK_IDENTITY";
        if (!id)
            return "the profile requires a post-quantum preshared key and the client's PPK_ID is of a type "
                   "that names none (RFC 8784 5.1: 1 opaque, 2 fixed)";
        if (!ike_ppk_id_allowed(prof, id, id_len))
            return "the profile requires a post-quantum preshared key and the client's PPK_ID is not one the "
                   "profile allows (ppk id)";
        if (!prof->ppk_aaa_list)
            return "the profile requires a post-quantum preshared key and the client's PPK_ID is not "
                   "configured (ikev2 ppk)";
        /* why RADIUS gave none was logged just above */
        return "the profile requires a post-quantum preshared key and the client's PPK_ID is not configured "
               "(ikev2 ppk) and RADIUS gave no PPK for it (ppk aaa-authorization-list)";
    }
    if (have_id && have_nop) {
        /* the AUTH payload was made with a PPK we do not use: the client's
         * AUTH without it is in NO_PPK_AUTH (RFC 8784 section 3) */
        auth->data = nop.data;
        auth->len = nop.len;
        s->ppk_fallback = true;
    }
    return NULL;
}

void ike_ppk_forget(struct ike_pend *pd)
{
    if (!pd || !pd->ppk)
        return;
    OPENSSL_cleanse(pd->ppk, pd->ppk_len);
    free(pd->ppk);
    pd->ppk = NULL;
    pd->ppk_len = 0;
}

void ike_ppk_auth_data(const struct ike_sess *s, const struct ike_msg *in, struct ike_auth_pld *auth)
{
    struct ike_notify_pld nop;

    if (s->ppk_fallback && ike_notify_find(in, N_NO_PPK_AUTH, &nop)) {
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
