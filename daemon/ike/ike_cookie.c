/* Cookies (RFC 7296 2.6): the rotating secret, the cookie check of an
 * IKE_SA_INIT request, and the stateless answer to the requests of a flood of
 * spoofed sources while cookies are demanded: from the header and the first
 * and Nonce payloads (ike_msg_scan), with no parse of the whole chain, no
 * allocation and a MAC context keyed once per secret.
 *
 *  cookie: version(4) | HMAC-SHA256(secret of that version, Ni | IPi | SPIi)
 *
 * A new secret every COOKIE_ROTATE seconds; cookies of the previous one are
 * accepted too. */
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>
#include <time.h>

#include "daemon/base/cpool.h"
#include "daemon/ike/ike_eng.h"
#include "daemon/base/poison.h"

#define COOKIE_ROTATE 300 /* seconds between cookie secrets */
#define COOKIE_LEN 36
#define COOKIE_ANSWER_LEN (IKE_HDR_LEN + IKE_PLD_HDR_LEN + 4 + COOKIE_LEN)

enum cookie_verdict { COOKIE_GOOD, COOKIE_BAD, COOKIE_NONE };

static EVP_MAC_CTX *mac_keyed(const uint8_t key[32])
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
                           OSSL_PARAM_construct_end()};

    EVP_MAC_free(mac); /* the context holds its own reference */
    if (ctx && !EVP_MAC_init(ctx, key, 32, params)) {
        EVP_MAC_CTX_free(ctx);
        ctx = NULL;
    }
    return ctx;
}

void ike_cookie_rotate(struct ike_engine *e)
{
    time_t now = time(NULL);
    uint8_t secret[32];
    EVP_MAC_CTX *m;

    if (e->cookie_rotated && now - e->cookie_rotated < COOKIE_ROTATE)
        return;
    if (RAND_bytes(secret, sizeof(secret)) != 1)
        return;
    m = mac_keyed(secret);
    if (!m) {
        OPENSSL_cleanse(secret, sizeof(secret));
        return;
    }
    memcpy(e->cookie_prev, e->cookie_secret, sizeof(e->cookie_secret));
    memcpy(e->cookie_secret, secret, sizeof(secret));
    OPENSSL_cleanse(secret, sizeof(secret));
    EVP_MAC_CTX_free(e->cookie_mac[1]);
    e->cookie_mac[1] = e->cookie_mac[0];
    e->cookie_mac[0] = m;
    e->cookie_ver++;
    e->cookie_rotated = now;
}

void ike_cookie_fini(struct ike_engine *e)
{
    for (int i = 0; i < 2; i++) {
        EVP_MAC_CTX_free(e->cookie_mac[i]);
        e->cookie_mac[i] = NULL;
    }
    OPENSSL_cleanse(e->cookie_secret, sizeof(e->cookie_secret));
    OPENSSL_cleanse(e->cookie_prev, sizeof(e->cookie_prev));
}

/* The cookie of version @ver (its MAC context @mac: NULL, none) for @ni,
 * @peer's address and @spi_i into @out; false if it cannot be made. */
static bool cookie_make(EVP_MAC_CTX *mac, uint32_t ver, const uint8_t *ni, size_t ni_len,
                        const struct sockaddr_storage *peer, const uint8_t spi_i[8], uint8_t out[COOKIE_LEN])
{
    const void *ip = peer->ss_family == AF_INET ? (const void *)&((const struct sockaddr_in *)peer)->sin_addr
                                                : (const void *)&((const struct sockaddr_in6 *)peer)->sin6_addr;
    size_t ip_len = peer->ss_family == AF_INET ? 4 : 16, ol = 0;

    out[0] = (uint8_t)(ver >> 24);
    out[1] = (uint8_t)(ver >> 16);
    out[2] = (uint8_t)(ver >> 8);
    out[3] = (uint8_t)ver;
    /* no key given: the one the context was keyed with, its pads kept */
    return mac && EVP_MAC_init(mac, NULL, 0, NULL) && EVP_MAC_update(mac, ni, ni_len) &&
           EVP_MAC_update(mac, ip, ip_len) && EVP_MAC_update(mac, spi_i, 8) &&
           EVP_MAC_final(mac, out + 4, &ol, COOKIE_LEN - 4) && ol == COOKIE_LEN - 4;
}

/* Whether cookies are demanded: past the configured threshold of half-open
 * SAs, or while the crypto pool is loaded (ike_initx.c). */
bool ike_cookie_demanded(const struct ike_engine *e)
{
    return (e->conf->cookie_on && e->half_open >= e->conf->cookie_threshold) || ike_pool_loaded(e);
}

static enum cookie_verdict cookie_verdict(struct ike_engine *e, const struct sockaddr_storage *peer,
                                          const struct ike_hdr *h, const struct ike_pld *first, const uint8_t *ni,
                                          size_t ni_len)
{
    struct ike_notify_pld n;
    uint8_t want[COOKIE_LEN];
    uint32_t ver;

    if (!first || first->type != IKE_PLD_NOTIFY || !ike_notify_parse(first, &n) || n.type != N_COOKIE)
        return COOKIE_NONE;
    if (n.len != COOKIE_LEN)
        return COOKIE_BAD;
    ver = (uint32_t)n.data[0] << 24 | (uint32_t)n.data[1] << 16 | (uint32_t)n.data[2] << 8 | n.data[3];
    if (ver != e->cookie_ver && ver != e->cookie_ver - 1)
        return COOKIE_BAD;
    if (!cookie_make(e->cookie_mac[ver == e->cookie_ver ? 0 : 1], ver, ni, ni_len, peer, h->spi_i, want))
        return COOKIE_BAD;
    return CRYPTO_memcmp(want, n.data, COOKIE_LEN) ? COOKIE_BAD : COOKIE_GOOD;
}

/* The answer to request @h: its SPIi, exchange and message ID, the response
 * flag, a COOKIE notify (the layout ike_build_begin and ike_notify_build give). */
static void cookie_answer(const struct ike_hdr *h, const uint8_t cookie[COOKIE_LEN], uint8_t out[COOKIE_ANSWER_LEN])
{
    uint8_t *p = out + IKE_HDR_LEN;

    memcpy(out, h->spi_i, 8);
    memset(out + 8, 0, 8);
    out[16] = IKE_PLD_NOTIFY;
    out[17] = 0x20;
    out[18] = h->exchange;
    out[19] = IKE_FLAG_RESPONSE;
    for (int i = 0; i < 4; i++) {
        out[20 + i] = (uint8_t)(h->msg_id >> (24 - 8 * i));
        out[24 + i] = (uint8_t)((uint32_t)COOKIE_ANSWER_LEN >> (24 - 8 * i));
    }
    p[0] = IKE_PLD_NONE;
    p[1] = 0;
    p[2] = 0;
    p[3] = IKE_PLD_HDR_LEN + 4 + COOKIE_LEN;
    p[4] = 0; /* protocol */
    p[5] = 0; /* SPI size */
    p[6] = (uint8_t)(N_COOKIE >> 8);
    p[7] = (uint8_t)N_COOKIE;
    memcpy(p + 8, cookie, COOKIE_LEN);
}

/* Request @h without a good cookie (@v): counted and answered with a new one. */
static void cookie_refuse(struct ike_engine *e, struct ike_sock *sk, const struct sockaddr_storage *local,
                          const struct sockaddr_storage *peer, const struct ike_hdr *h, enum cookie_verdict v,
                          const uint8_t *ni, size_t ni_len)
{
    uint8_t cookie[COOKIE_LEN], out[COOKIE_ANSWER_LEN];

    if (v == COOKIE_BAD)
        e->c.cookie_rejected++;
    else
        e->c.cookie_missing++;
    if (!cookie_make(e->cookie_mac[0], e->cookie_ver, ni, ni_len, peer, h->spi_i, cookie))
        return;
    cookie_answer(h, cookie, out);
    ike_xmit_short(sk, local, peer, out, sizeof(out));
    e->c.cookie_sent++;
    if (ike_pool_loaded(e))
        e->c.pool_cookies++;
}

bool ike_cookie_ok(struct ike_engine *e, struct ike_sock *sk, const struct sockaddr_storage *local,
                   const struct sockaddr_storage *peer, const struct ike_hdr *h, const struct ike_pld *first,
                   const struct ike_pld *nonce)
{
    const uint8_t *ni;
    size_t ni_len;
    enum cookie_verdict v;

    if (!ike_cookie_demanded(e))
        return true;
    if (!nonce || !ike_nonce_parse(nonce, &ni, &ni_len))
        return false;
    ike_cookie_rotate(e);
    v = cookie_verdict(e, peer, h, first, ni, ni_len);
    if (v == COOKIE_GOOD) {
        e->c.cookie_accepted++;
        return true;
    }
    cookie_refuse(e, sk, local, peer, h, v, ni, ni_len);
    return false;
}

bool ike_cookie_fast(struct ike_engine *e, struct ike_sock *sk, const struct sockaddr_storage *local,
                     const struct sockaddr_storage *peer, const uint8_t *buf, size_t len)
{
    static const uint8_t zero[8];
    struct ike_msg_scan m;
    const uint8_t *ni = NULL;
    size_t ni_len = 0;
    enum cookie_verdict v = COOKIE_NONE;

    if (!e->conf || !ike_cookie_demanded(e) || ike_msg_scan(buf, len, IKE_PLD_NONCE, &m) != IKE_PARSE_OK)
        return false;
    if (m.hdr.exchange != IKE_EXCH_SA_INIT || (m.hdr.flags & IKE_FLAG_RESPONSE) ||
        !(m.hdr.flags & IKE_FLAG_INITIATOR) || m.hdr.msg_id || memcmp(m.hdr.spi_r, zero, 8))
        return false;
    if (ike_initx_known(e, m.hdr.spi_i, peer))
        return false; /* a retransmission: answered again by ike_initx_handle */
    if (m.found.type && ike_nonce_parse(&m.found, &ni, &ni_len)) {
        ike_cookie_rotate(e);
        v = cookie_verdict(e, peer, &m.hdr, m.first.type ? &m.first : NULL, ni, ni_len);
        if (v == COOKIE_GOOD)
            return false; /* checked again and served by ike_initx_handle */
    }
    e->c.received++;
    e->c.cookie_fast++;
    if (ni)
        cookie_refuse(e, sk, local, peer, &m.hdr, v, ni, ni_len);
    return true;
}
