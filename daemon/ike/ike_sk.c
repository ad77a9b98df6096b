/* SK payload with AEAD (see ike_sk.h). */
#include "daemon/ike/ike_sk.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/poison.h"

bool ike_sk_open(const struct ike_sk_keys *k, const uint8_t *buf, size_t len, const struct ike_msg *msg,
                 uint8_t *plain, struct ike_msg *inner)
{
    const struct ike_pld *sk = msg->npld ? &msg->pld[msg->npld - 1] : NULL;
    size_t aad_len, ct_len, pad;

    if (!sk || sk->type != IKE_PLD_SK || sk->len < IKE_SK_IV_LEN + IKE_SK_ICV_LEN + 1)
        return false;
    aad_len = (size_t)(sk->body - buf);
    ct_len = sk->len - IKE_SK_IV_LEN - IKE_SK_ICV_LEN;
    if (aad_len > len || !ike_aead_open(k->alg, k->key, k->key_len, sk->body, buf, aad_len,
                                        sk->body + IKE_SK_IV_LEN, ct_len, sk->body + IKE_SK_IV_LEN + ct_len, plain))
        return false;
    pad = plain[ct_len - 1];
    if (pad + 1 > ct_len)
        return false;
    memset(inner, 0, sizeof(*inner));
    inner->hdr = msg->hdr;
    return ike_chain_parse(msg->inner_first, plain, ct_len - pad - 1, inner) == IKE_PARSE_OK;
}

bool ike_sk_seal(const struct ike_sk_keys *k, struct ike_builder *bd, uint8_t first, const uint8_t *inner,
                 size_t inner_len)
{
    size_t body = ike_build_pld(bd, IKE_PLD_SK, false), ct_off;
    uint8_t iv[IKE_SK_IV_LEN], *pt = NULL, tag[IKE_SK_ICV_LEN];
    bool ok = false;

    if (bd->buf.oom)
        return false;
    bd->buf.data[body - IKE_PLD_HDR_LEN] = first; /* SK's next payload: the first one inside */
    if (RAND_bytes(iv, sizeof(iv)) != 1)
        return false;
    ike_buf_put(&bd->buf, iv, sizeof(iv));
    ct_off = bd->buf.len;
    /* AEAD needs no block alignment: no padding, pad length 0 */
    ike_buf_put(&bd->buf, NULL, inner_len + 1 + IKE_SK_ICV_LEN);
    if (!ike_build_end_pld(bd, body) || !ike_build_finish(bd))
        return false;
    pt = malloc(inner_len + 1);
    if (!pt)
        return false;
    memcpy(pt, inner, inner_len);
    pt[inner_len] = 0;
    /* the associated data is everything before the IV, lengths already final */
    if (ike_aead_seal(k->alg, k->key, k->key_len, iv, bd->buf.data, body, pt, inner_len + 1,
                      bd->buf.data + ct_off, tag)) {
        memcpy(bd->buf.data + ct_off + inner_len + 1, tag, sizeof(tag));
        ok = true;
    }
    free(pt);
    return ok;
}
