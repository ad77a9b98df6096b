/* SK payload (see ike_sk.h). */
#include "daemon/ike/ike_sk.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/poison.h"

#define CBC_IV_LEN 16

static size_t iv_len(const struct ike_sk_keys *k)
{
    return k->cbc ? CBC_IV_LEN : IKE_SK_IV_LEN;
}

static size_t icv_len(const struct ike_sk_keys *k)
{
    return k->cbc ? ike_integ_icv_len(k->integ) : IKE_SK_ICV_LEN;
}

enum ike_sk_rc ike_sk_open(const struct ike_sk_keys *k, const uint8_t *buf, size_t len, const struct ike_msg *msg,
                           uint8_t *plain, struct ike_msg *inner)
{
    const struct ike_pld *sk = msg->npld ? &msg->pld[msg->npld - 1] : NULL;
    size_t ivl = iv_len(k), icvl = icv_len(k), aad_len, ct_len, pad;
    const uint8_t *iv, *ct, *icv;
    enum ike_parse_rc prc;

    if (!sk || sk->type != IKE_PLD_SK || !icvl || sk->len < ivl + icvl + 1)
        return IKE_SK_NOT_AUTHENTIC;
    aad_len = (size_t)(sk->body - buf);
    iv = sk->body;
    ct = sk->body + ivl;
    ct_len = sk->len - ivl - icvl;
    icv = ct + ct_len;
    if (aad_len > len || (size_t)(icv + icvl - buf) != len)
        return IKE_SK_NOT_AUTHENTIC;
    if (k->cbc) {
        uint8_t want[32];

        /* integrity first, over the message up to the ICV, then decrypt */
        if (ct_len % 16 || !ike_integ(k->integ, k->integ_key, buf, len - icvl, want) ||
            CRYPTO_memcmp(want, icv, icvl) != 0)
            return IKE_SK_NOT_AUTHENTIC;
        if (!ike_aes_cbc(false, k->key, k->key_len, iv, ct, ct_len, plain))
            return IKE_SK_INVALID_SYNTAX;
    } else if (!ike_aead_open(k->alg, k->key, k->key_len, iv, buf, aad_len, ct, ct_len, icv, plain)) {
        return IKE_SK_NOT_AUTHENTIC;
    }
    pad = plain[ct_len - 1];
    if (pad + 1 > ct_len)
        return IKE_SK_INVALID_SYNTAX;
    memset(inner, 0, sizeof(*inner));
    inner->hdr = msg->hdr;
    prc = ike_chain_parse(msg->inner_first, plain, ct_len - pad - 1, inner);
    if (prc == IKE_PARSE_UNKNOWN_CRITICAL)
        return IKE_SK_UNKNOWN_CRITICAL;
    if (prc != IKE_PARSE_OK)
        return IKE_SK_INVALID_SYNTAX;
    for (size_t i = 0; i < inner->npld; i++) {
        if (inner->pld[i].type == IKE_PLD_SK || inner->pld[i].type == IKE_PLD_SKF)
            return IKE_SK_INVALID_SYNTAX; /* no SK inside SK */
    }
    return IKE_SK_OK;
}

bool ike_sk_seal(const struct ike_sk_keys *k, struct ike_builder *bd, uint8_t first, const uint8_t *inner,
                 size_t inner_len)
{
    size_t body = ike_build_pld(bd, IKE_PLD_SK, false), ivl = iv_len(k), icvl = icv_len(k), ct_off, ct_len;
    uint8_t iv[CBC_IV_LEN], *pt = NULL, tag[IKE_SK_ICV_LEN];
    bool ok = false;

    if (bd->buf.oom || !icvl)
        return false;
    bd->buf.data[body - IKE_PLD_HDR_LEN] = first; /* SK's next payload: the first one inside */
    if (RAND_bytes(iv, (int)ivl) != 1)
        return false;
    ike_buf_put(&bd->buf, iv, ivl);
    ct_off = bd->buf.len;
    /* AEAD needs no alignment (pad length 0); CBC pads to the block size */
    ct_len = k->cbc ? (inner_len + 1 + 15) / 16 * 16 : inner_len + 1;
    ike_buf_put(&bd->buf, NULL, ct_len + icvl);
    if (!ike_build_end_pld(bd, body) || !ike_build_finish(bd))
        return false;
    pt = calloc(1, ct_len);
    if (!pt)
        return false;
    memcpy(pt, inner, inner_len);
    pt[ct_len - 1] = (uint8_t)(ct_len - inner_len - 1); /* pad length; the padding is zeroes */
    if (k->cbc) {
        ok = ike_aes_cbc(true, k->key, k->key_len, iv, pt, ct_len, bd->buf.data + ct_off) &&
             ike_integ(k->integ, k->integ_key, bd->buf.data, ct_off + ct_len, bd->buf.data + ct_off + ct_len);
    } else if (ike_aead_seal(k->alg, k->key, k->key_len, iv, bd->buf.data, body, pt, ct_len, bd->buf.data + ct_off,
                             tag)) {
        /* the associated data is everything before the IV, lengths already final */
        memcpy(bd->buf.data + ct_off + ct_len, tag, sizeof(tag));
        ok = true;
    }
    OPENSSL_cleanse(pt, ct_len);
    free(pt);
    return ok;
}
