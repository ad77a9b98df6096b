/* Post-quantum preshared keys in a generation (RFC 8784): the ikev2 ppk list
 * compiled at prepare into c->ppks (sorted by PPK_ID, found by binary search
 * in IKE_AUTH), a profile's ppk policy, and whether any profile uses PPKs (so
 * that IKE_SA_INIT, which comes before the profile is known, answers USE_PPK).
 * The keys are the generation's own copies, wiped when it is freed. */
#include <libyang/libyang.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/keytext.h"
#include "daemon/base/log.h"
#include "daemon/ike/ike_conf.h"
#include "daemon/ike/ike_ppk.h"
#include "daemon/base/poison.h"

#define V "/raven-vpn:"
#define PPK_MIN_OCTETS 32 /* 256 bits (RFC 8784 section 6) */

static void ppk_err(ike_err_fn err, void *arg, const struct lyd_node *at, const char *msg)
{
    char *path = at ? lyd_path(at, LYD_PATH_STD, NULL, 0) : NULL;

    if (err)
        err(arg, path, msg);
    free(path);
}

static int by_id(const void *a, const void *b)
{
    return strcmp(((const struct ike_ppk *)a)->id, ((const struct ike_ppk *)b)->id);
}

/* A profile whose policy asks for PPKs but that has no source of one (no ppk
 * entry it allows, no aaa-authorization-list) authenticates no client with a
 * PPK: with policy required it refuses them all. The configuration is still
 * accepted, since the PPKs may come in a later commit and the policy is the
 * operator's statement; the log says so at prepare. */
static void warn_no_source(const struct ike_conf *c)
{
    for (size_t i = 0; i < c->nprofs; i++) {
        const struct ike_prof *pr = &c->profs[i];
        bool any = pr->ppk_aaa_list || (!pr->nppk_ids && c->nppks);

        for (size_t j = 0; j < pr->nppk_ids && !any; j++)
            any = ike_conf_ppk(c, (const uint8_t *)pr->ppk_ids[j], strlen(pr->ppk_ids[j])) != NULL;
        if (pr->ppk == IKE_PPK_NONE || any)
            continue;
        log_warn("ike",
                 "ikev2 profile %s: ppk policy %s but %s and no ppk aaa-authorization-list: %s", pr->name,
                 pr->ppk == IKE_PPK_REQUIRED ? "required" : "optional",
                 pr->nppk_ids ? "none of its ppk ids is in ikev2 ppk" : "no ikev2 ppk is configured",
                 pr->ppk == IKE_PPK_REQUIRED ? "every client of the profile is refused"
                                             : "its clients authenticate without a PPK");
    }
}

bool ike_ppk_compile(struct ike_conf *c, ike_err_fn err, void *arg)
{
    const struct lyd_node *top = ike_find(c->tree, V "ikev2"), *n;
    size_t cap = 0;
    bool ok = true;

    for (size_t i = 0; i < c->nprofs; i++)
        c->ppk_any = c->ppk_any || c->profs[i].ppk != IKE_PPK_NONE;
    LY_LIST_FOR(top ? lyd_child(top) : NULL, n)
        cap += !strcmp(n->schema->name, "ppk");
    if (!cap) {
        warn_no_source(c);
        return true;
    }
    if (!(c->ppks = calloc(cap, sizeof(*c->ppks)))) {
        ppk_err(err, arg, top, "out of memory");
        return false;
    }
    LY_LIST_FOR(lyd_child(top), n) {
        const char *id = ike_leaf(n, "ppk-id"), *key = ike_leaf(n, "key");
        struct ike_ppk *p;
        bool bad;

        if (strcmp(n->schema->name, "ppk") || !id || !key)
            continue;
        p = &c->ppks[c->nppks];
        p->id = id;
        if (!(p->key = keytext_octets(key, &p->key_len, &bad))) {
            ppk_err(err, arg, n,
                    bad ? "the PPK's key starts with 0x but is not an even number of hex digits: give its octets "
                          "in hex after 0x, or a text without that prefix"
                        : "out of memory");
            ok = false;
            continue;
        }
        c->nppks++;
        if (p->key_len < PPK_MIN_OCTETS)
            log_warn("ike", "ikev2 ppk %s: its key has %zu octets; RFC 8784 asks for at least %d (256 bits)", id,
                     p->key_len, PPK_MIN_OCTETS);
    }
    qsort(c->ppks, c->nppks, sizeof(*c->ppks), by_id);
    if (ok)
        warn_no_source(c);
    return ok;
}

void ike_ppk_conf_free(struct ike_conf *c)
{
    for (size_t i = 0; i < c->nppks; i++) {
        OPENSSL_cleanse(c->ppks[i].key, c->ppks[i].key_len);
        free(c->ppks[i].key);
    }
    free(c->ppks);
    c->ppks = NULL;
    c->nppks = 0;
}

enum ike_ppk_policy ike_ppk_policy_of(const char *v)
{
    return !v ? IKE_PPK_NONE : !strcmp(v, "required") ? IKE_PPK_REQUIRED : !strcmp(v, "optional") ? IKE_PPK_OPTIONAL
                                                                                                   : IKE_PPK_NONE;
}

const struct ike_ppk *ike_conf_ppk(const struct ike_conf *c, const uint8_t *id, size_t len)
{
    size_t lo = 0, hi = c->nppks;

    /* the ids are text without NUL (ppk-id); a PPK_ID with one matches none */
    if (!len || len > IKE_PPK_ID_MAX || memchr(id, 0, len))
        return NULL;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *k = c->ppks[mid].id;
        int r = strncmp(k, (const char *)id, len);

        if (!r)
            r = k[len] ? 1 : 0;
        if (!r)
            return &c->ppks[mid];
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}
