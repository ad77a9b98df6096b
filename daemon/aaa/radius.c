/* RADIUS packets; see radius.h. */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

#include "daemon/aaa/radius.h"
#include "daemon/base/poison.h"

/* MD5 over up to three pieces. */
static void md5(const void *a, size_t al, const void *b, size_t bl, const void *c, size_t cl, uint8_t out[16])
{
    EVP_MD_CTX *x = EVP_MD_CTX_new();
    unsigned int n = 16;

    if (!x || !EVP_DigestInit_ex(x, EVP_md5(), NULL) || !EVP_DigestUpdate(x, a, al) ||
        (bl && !EVP_DigestUpdate(x, b, bl)) || (cl && !EVP_DigestUpdate(x, c, cl)) || !EVP_DigestFinal_ex(x, out, &n))
        memset(out, 0, 16);
    EVP_MD_CTX_free(x);
}

static void hmac_md5(const void *key, size_t kl, const uint8_t *data, size_t dl, uint8_t out[16])
{
    size_t n = 0;

    if (!EVP_Q_mac(NULL, "HMAC", NULL, "MD5", NULL, key, kl, data, dl, out, 16, &n) || n != 16)
        memset(out, 0, 16);
}

void rad_init(struct rad_pkt *p, uint8_t code, uint8_t id, const uint8_t auth[16])
{
    memset(p->buf, 0, RAD_HDR_LEN);
    p->buf[0] = code;
    p->buf[1] = id;
    if (code == RAD_ACCESS_REQUEST && auth)
        memcpy(p->buf + 4, auth, 16);
    p->len = RAD_HDR_LEN;
    p->msg_auth_at = 0;
    p->overflow = false;
}

void rad_add(struct rad_pkt *p, uint8_t type, const void *val, size_t len)
{
    if (len > 253 || p->len + 2 + len > RAD_MAX_LEN) {
        p->overflow = true;
        return;
    }
    p->buf[p->len] = type;
    p->buf[p->len + 1] = (uint8_t)(len + 2);
    if (len)
        memcpy(p->buf + p->len + 2, val, len);
    p->len += 2 + len;
}

void rad_add_str(struct rad_pkt *p, uint8_t type, const char *s)
{
    rad_add(p, type, s, strlen(s));
}

void rad_add_u32(struct rad_pkt *p, uint8_t type, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

    rad_add(p, type, b, 4);
}

void rad_add_vsa(struct rad_pkt *p, uint32_t vendor, uint8_t vtype, const void *val, size_t len)
{
    uint8_t b[255];

    if (len > 247) {
        p->overflow = true;
        return;
    }
    b[0] = (uint8_t)(vendor >> 24);
    b[1] = (uint8_t)(vendor >> 16);
    b[2] = (uint8_t)(vendor >> 8);
    b[3] = (uint8_t)vendor;
    b[4] = vtype;
    b[5] = (uint8_t)(len + 2);
    memcpy(b + 6, val, len);
    rad_add(p, RAD_VENDOR_SPECIFIC, b, len + 6);
}

void rad_add_password(struct rad_pkt *p, const void *secret, size_t slen, const char *pw)
{
    size_t pl = strlen(pw), n = pl ? (pl + 15) / 16 * 16 : 16;
    uint8_t buf[128], b[16];
    const uint8_t *prev = p->buf + 4;

    if (pl > sizeof(buf)) {
        p->overflow = true;
        return;
    }
    memset(buf, 0, sizeof(buf));
    memcpy(buf, pw, pl);
    for (size_t i = 0; i < n; i += 16) {
        md5(secret, slen, prev, 16, NULL, 0, b);
        for (int j = 0; j < 16; j++)
            buf[i + j] ^= b[j];
        prev = buf + i;
    }
    rad_add(p, RAD_USER_PASSWORD, buf, n);
    OPENSSL_cleanse(buf, sizeof(buf));
}

void rad_add_msg_auth(struct rad_pkt *p)
{
    static const uint8_t zero[16];

    if (p->msg_auth_at)
        return;
    rad_add(p, RAD_MESSAGE_AUTHENTICATOR, zero, 16);
    if (!p->overflow)
        p->msg_auth_at = p->len - 16;
}

void rad_add_eap(struct rad_pkt *p, const uint8_t *eap, size_t len)
{
    for (size_t off = 0; off < len; off += 253)
        rad_add(p, RAD_EAP_MESSAGE, eap + off, len - off > 253 ? 253 : len - off);
    rad_add_msg_auth(p);
}

size_t rad_finish(struct rad_pkt *p, const void *secret, size_t slen)
{
    uint8_t mac[16];

    if (p->overflow)
        return 0;
    p->buf[2] = (uint8_t)(p->len >> 8);
    p->buf[3] = (uint8_t)p->len;
    if (p->buf[0] != RAD_ACCESS_REQUEST)
        memset(p->buf + 4, 0, 16); /* the authenticator is computed over zeros */
    if (p->msg_auth_at) {
        memset(p->buf + p->msg_auth_at, 0, 16);
        hmac_md5(secret, slen, p->buf, p->len, mac);
        memcpy(p->buf + p->msg_auth_at, mac, 16);
    }
    if (p->buf[0] != RAD_ACCESS_REQUEST) {
        md5(p->buf, p->len, secret, slen, NULL, 0, mac);
        memcpy(p->buf + 4, mac, 16);
    }
    return p->len;
}

size_t rad_finish_reply(struct rad_pkt *p, const uint8_t req_auth[16], const void *secret, size_t slen)
{
    uint8_t mac[16];

    if (p->overflow)
        return 0;
    p->buf[2] = (uint8_t)(p->len >> 8);
    p->buf[3] = (uint8_t)p->len;
    memcpy(p->buf + 4, req_auth, 16); /* both are computed over the request's */
    if (p->msg_auth_at) {
        memset(p->buf + p->msg_auth_at, 0, 16);
        hmac_md5(secret, slen, p->buf, p->len, mac);
        memcpy(p->buf + p->msg_auth_at, mac, 16);
    }
    md5(p->buf, p->len, secret, slen, NULL, 0, mac);
    memcpy(p->buf + 4, mac, 16);
    return p->len;
}

int rad_parse(const uint8_t *buf, size_t len, struct rad_view *v)
{
    size_t plen, pos;

    if (len < RAD_HDR_LEN)
        return -EINVAL;
    plen = (size_t)buf[2] << 8 | buf[3];
    /* octets beyond the length are padding and ignored (RFC 2865 3) */
    if (plen < RAD_HDR_LEN || plen > len || plen > RAD_MAX_LEN)
        return -EINVAL;
    for (pos = RAD_HDR_LEN; pos < plen;) {
        if (pos + 2 > plen || buf[pos + 1] < 2 || pos + buf[pos + 1] > plen)
            return -EINVAL;
        pos += buf[pos + 1];
    }
    v->buf = buf;
    v->len = plen;
    v->code = buf[0];
    v->id = buf[1];
    return 0;
}

bool rad_next(const struct rad_view *v, size_t *pos, struct rad_attr *a)
{
    size_t p = *pos ? *pos : RAD_HDR_LEN;

    if (p + 2 > v->len)
        return false;
    a->type = v->buf[p];
    a->len = (size_t)v->buf[p + 1] - 2;
    a->val = v->buf + p + 2;
    *pos = p + 2 + a->len;
    return true;
}

bool rad_find(const struct rad_view *v, uint8_t type, struct rad_attr *a)
{
    size_t pos = 0;

    while (rad_next(v, &pos, a))
        if (a->type == type)
            return true;
    return false;
}

bool rad_vsa(const struct rad_attr *a, uint32_t *vendor, uint8_t *vtype, const uint8_t **val, size_t *len)
{
    if (a->type != RAD_VENDOR_SPECIFIC || a->len < 6 || a->val[5] < 2 || (size_t)a->val[5] + 4 > a->len)
        return false;
    *vendor = (uint32_t)a->val[0] << 24 | (uint32_t)a->val[1] << 16 | (uint32_t)a->val[2] << 8 | a->val[3];
    *vtype = a->val[4];
    *val = a->val + 6;
    *len = (size_t)a->val[5] - 2;
    return true;
}

/* The Message-Authenticator of @v, recomputed with @auth in the authenticator
 * field; false if @v has none. */
static bool msg_auth_ok(const struct rad_view *v, const uint8_t auth[16], const void *secret, size_t slen, bool *has)
{
    uint8_t copy[RAD_MAX_LEN], mac[16];
    size_t pos = 0, at = 0;
    struct rad_attr a;

    while (rad_next(v, &pos, &a))
        if (a.type == RAD_MESSAGE_AUTHENTICATOR) {
            if (a.len != 16 || at)
                return *has = true, false;
            at = (size_t)(a.val - v->buf);
        }
    *has = at != 0;
    if (!at)
        return true;
    memcpy(copy, v->buf, v->len);
    memcpy(copy + 4, auth, 16);
    memset(copy + at, 0, 16);
    hmac_md5(secret, slen, copy, v->len, mac);
    return !CRYPTO_memcmp(mac, v->buf + at, 16);
}

int rad_verify_reply(const struct rad_view *v, const uint8_t req_auth[16], const void *secret, size_t slen)
{
    uint8_t hdr[RAD_HDR_LEN], want[16];
    struct rad_attr a;
    bool has;

    memcpy(hdr, v->buf, 4);
    memcpy(hdr + 4, req_auth, 16);
    md5(hdr, RAD_HDR_LEN, v->buf + RAD_HDR_LEN, v->len - RAD_HDR_LEN, secret, slen, want);
    if (CRYPTO_memcmp(want, v->buf + 4, 16))
        return -EBADMSG;
    if (!msg_auth_ok(v, req_auth, secret, slen, &has))
        return -EBADMSG;
    if (!has && rad_find(v, RAD_EAP_MESSAGE, &a))
        return -EBADMSG; /* RFC 3579 3.2: EAP needs it */
    return 0;
}

int rad_verify_request(const struct rad_view *v, const void *secret, size_t slen)
{
    static const uint8_t zero[16];
    uint8_t hdr[RAD_HDR_LEN], want[16];
    bool has;

    memcpy(hdr, v->buf, 4);
    memset(hdr + 4, 0, 16);
    md5(hdr, RAD_HDR_LEN, v->buf + RAD_HDR_LEN, v->len - RAD_HDR_LEN, secret, slen, want);
    if (CRYPTO_memcmp(want, v->buf + 4, 16))
        return -EBADMSG;
    return msg_auth_ok(v, zero, secret, slen, &has) ? 0 : -EBADMSG;
}

size_t rad_eap(const struct rad_view *v, uint8_t *out, size_t cap)
{
    size_t pos = 0, n = 0;
    struct rad_attr a;

    while (rad_next(v, &pos, &a)) {
        if (a.type != RAD_EAP_MESSAGE)
            continue;
        if (n + a.len > cap)
            return 0;
        memcpy(out + n, a.val, a.len);
        n += a.len;
    }
    /* an EAP packet says its own length (RFC 3748 4) */
    if (n < 4 || ((size_t)out[2] << 8 | out[3]) != n)
        return 0;
    return n;
}

size_t rad_mppe_key(const uint8_t *val, size_t len, const void *secret, size_t slen, const uint8_t req_auth[16],
                    uint8_t *out, size_t cap)
{
    uint8_t plain[256], b[16];
    const uint8_t *prev;
    size_t n = len - 2, klen;

    /* salt (2 octets, high bit set), then a multiple of 16 */
    if (len < 18 || (len - 2) % 16 || !(val[0] & 0x80) || n > sizeof(plain))
        return 0;
    for (size_t i = 0; i < n; i += 16) {
        if (i == 0)
            md5(secret, slen, req_auth, 16, val, 2, b);
        else
            md5(secret, slen, prev, 16, NULL, 0, b);
        for (int j = 0; j < 16; j++)
            plain[i + j] = val[2 + i + j] ^ b[j];
        prev = val + 2 + i;
    }
    klen = plain[0];
    if (!klen || klen + 1 > n || klen > cap) {
        OPENSSL_cleanse(plain, sizeof(plain));
        return 0;
    }
    memcpy(out, plain + 1, klen);
    OPENSSL_cleanse(plain, sizeof(plain));
    return klen;
}
