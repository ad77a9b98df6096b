/* The strongSwan Android app's profile (.sswan): a JSON object with uuid, name,
 * type, remote {addr, id, cert, port}, local {eap_id}, ike-proposal and
 * esp-proposal, printed by jansson. The app takes one proposal in strongSwan's
 * syntax for each, so the first IKE proposal is written whole (every algorithm
 * of it is accepted) and the ESP transforms of the first kind (AEAD or not). */
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/cprof/cprof_int.h"
#include "daemon/base/poison.h"

static const char *const alg_names[][2] = {
    {"aes-cbc-128", "aes128"},       {"aes-cbc-192", "aes192"},
    {"aes-cbc-256", "aes256"},       {"aes-gcm-16-128", "aes128gcm16"},
    {"aes-gcm-16-256", "aes256gcm16"}, {"chacha20-poly1305", "chacha20poly1305"},
    {"des3-cbc", "3des"},            {"hmac-sha1-96", "sha1"},
    {"hmac-sha2-256-128", "sha256"}, {"hmac-sha2-384-192", "sha384"},
    {"hmac-sha2-512-256", "sha512"}, {"hmac-md5-96", "md5"},
    {"prf-hmac-sha1", "prfsha1"},    {"prf-hmac-sha2-256", "prfsha256"},
    {"prf-hmac-sha2-384", "prfsha384"}, {"prf-hmac-sha2-512", "prfsha512"},
    {"modp-1024", "modp1024"},       {"modp-2048", "modp2048"},
    {"modp-3072", "modp3072"},       {"modp-4096", "modp4096"},
    {"ecp-256", "ecp256"},           {"ecp-384", "ecp384"},
    {"ecp-521", "ecp521"},           {"curve25519", "curve25519"},
    {NULL, NULL}};

/* Appends "-NAME" for each algorithm strongSwan knows; false when none. */
static bool add_algs(char *buf, size_t size, const struct cprof_algs *a)
{
    bool any = false;

    for (size_t i = 0; i < a->n; i++) {
        const char *n = cprof_map(alg_names, a->v[i]);
        size_t len = strlen(buf);

        if (n && len + strlen(n) + 2 < size) {
            snprintf(buf + len, size - len, "%s%s", len ? "-" : "", n);
            any = true;
        }
    }
    return any;
}

static bool ike_proposal(const struct cprof *c, char *buf, size_t size)
{
    for (size_t p = 0; p < c->nike; p++) {
        const struct cprof_ike *k = &c->ike[p];

        buf[0] = '\0';
        if (!add_algs(buf, size, &k->enc))
            continue;
        if (k->integ.n && !add_algs(buf, size, &k->integ))
            continue;
        if (k->prf.n && !add_algs(buf, size, &k->prf))
            continue;
        if (add_algs(buf, size, &k->group))
            return true;
    }
    return false;
}

static void esp_proposal(const struct cprof *c, char *buf, size_t size)
{
    struct cprof_algs enc = {.n = 0}, integ = {.n = 0}, grp = {.n = 0};
    bool aead = cprof_aead(c->esp[0].enc);

    for (size_t i = 0; i < c->nesp; i++) {
        bool seen_e = false, seen_i = !c->esp[i].integ;

        if (cprof_aead(c->esp[i].enc) != aead)
            continue;
        for (size_t j = 0; j < enc.n; j++)
            seen_e |= !strcmp(enc.v[j], c->esp[i].enc);
        for (size_t j = 0; j < integ.n && !seen_i; j++)
            seen_i |= !strcmp(integ.v[j], c->esp[i].integ);
        if (!seen_e && enc.n < CPROF_MAX_ALGS)
            enc.v[enc.n++] = c->esp[i].enc;
        if (!seen_i && integ.n < CPROF_MAX_ALGS)
            integ.v[integ.n++] = c->esp[i].integ;
    }
    buf[0] = '\0';
    add_algs(buf, size, &enc);
    add_algs(buf, size, &integ);
    /* a group in the ESP proposal is strongSwan's PFS for child SAs */
    if (c->pfs) {
        grp.v[grp.n++] = c->pfs;
        add_algs(buf, size, &grp);
    }
}

/* split-tunneling: the policy's split subnets, space-separated as the app reads
 * them (it routes only those into the tunnel); a full tunnel the configuration
 * alone decides (a local policy without split subnets and no RADIUS source that
 * could push some) blocks what would go around the tunnel in both families, so
 * that neither leaks where the headend gives no address of that family. */
static int split_tunnel(const struct cprof *c, json_t *o)
{
    const struct cprof_authz *a = &c->authz;
    char *list = NULL;
    size_t len = 0;
    json_t *st;
    FILE *f;

    if (a->nsubnets) {
        if (!(f = open_memstream(&list, &len)))
            return -ENOMEM;
        for (size_t i = 0; i < a->nsubnets; i++)
            fprintf(f, "%s%s", i ? " " : "", a->subnets[i]);
        if (fclose(f)) {
            free(list);
            return -ENOMEM;
        }
        st = json_pack("{s:s}", "subnets", list);
        free(list);
    } else if (a->npolicies && !a->radius) {
        st = json_pack("{s:b, s:b}", "block-ipv4", 1, "block-ipv6", 1);
    } else {
        return 0;
    }
    return st && !json_object_set_new(o, "split-tunneling", st) ? 0 : -ENOMEM;
}

int cprof_android(const struct cprof *c, FILE *f, char *err, size_t errlen)
{
    char uuid[37], ike[512], esp[512];
    /* remote.cert: the one certificate the app authenticates the server
     * with, the trust anchor the other files install (the root; the top-most
     * CA when the trustpoint has no root). strongSwan builds the chain up to
     * it from what the server sends, and the headend sends the CAs between
     * (CERT payloads after its own), so it is the anchor whether the root
     * issued the headend's certificate or an intermediate did, and a renewed
     * headend certificate needs no new file. */
    const unsigned char *der = c->ca[c->nca - 1].der;
    size_t der_len = c->ca[c->nca - 1].len;
    int n = 4 * (((int)der_len + 2) / 3), rc = -ENOMEM;
    json_error_t jerr;
    unsigned char *b64 = malloc((size_t)n + 1);
    json_t *o = NULL, *remote, *local;

    if (!b64)
        return -ENOMEM;
    if (!ike_proposal(c, ike, sizeof(ike))) {
        snprintf(err, errlen, "profile %s: no IKE proposal of its policy uses algorithms strongSwan knows",
                 c->req->profile);
        rc = -EINVAL;
        goto out;
    }
    esp_proposal(c, esp, sizeof(esp));
    EVP_EncodeBlock(b64, der, (int)der_len);
    cprof_uuid(uuid);
    for (char *p = uuid; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
    /* json_pack_ex: a value jansson refuses (not UTF-8) is reported as such,
     * not as a shortage of memory */
    jerr.text[0] = '\0';
    remote = json_pack_ex(&jerr, 0, "{s:s, s:s, s:s}", "addr", c->server, "id", c->id, "cert", (char *)b64);
    if (remote && c->port)
        json_object_set_new(remote, "port", json_integer(strtol(c->port, NULL, 10)));
    local = !remote ? NULL : c->eap ? json_pack_ex(&jerr, 0, "{s:s}", "eap_id", c->req->user) : json_object();
    if (remote && local)
        o = json_pack_ex(&jerr, 0, "{s:s, s:s, s:s, s:o, s:o, s:s}", "uuid", uuid, "name", c->req->profile,
                         "type", c->eap ? "ikev2-eap" : "ikev2-cert", "remote", remote, "local", local,
                         "ike-proposal", ike);
    else
        json_decref(remote);
    if (!o && strstr(jerr.text, "UTF-8")) {
        snprintf(err, errlen, "profile %s: a value of the profile is not valid UTF-8, which JSON cannot carry (%s)",
                 c->req->profile, jerr.text);
        rc = -EINVAL;
        goto out;
    }
    if (o && esp[0] && json_object_set_new(o, "esp-proposal", json_string(esp)))
        goto out;
    if (o && split_tunnel(c, o))
        goto out;
    if (o && c->authz.mtu && json_object_set_new(o, "mtu", json_integer(c->authz.mtu)))
        goto out;
    if (o && !json_dumpf(o, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) && fputc('\n', f) != EOF)
        rc = 0;
out:
    json_decref(o);
    free(b64);
    return rc;
}
