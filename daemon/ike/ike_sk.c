/* SK payload (see ike_sk.h). */
#include "daemon/ike/ike_sk.h"

#include "daemon/ike/ike_pld.h"

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

/* Authenticates and decrypts one SK or SKF payload whose encrypted part (IV |
 * ciphertext | ICV) starts at @enc; the associated data is the message up to @enc.
 * Writes the plaintext without padding to @plain and its length to *plain_len. */
static enum ike_sk_rc open_region(const struct ike_sk_keys *k, const uint8_t *buf, size_t len, const uint8_t *enc,
                                  size_t enc_len, uint8_t *plain, size_t *plain_len)
{
    size_t ivl = iv_len(k), icvl = icv_len(k), aad_len = (size_t)(enc - buf), ct_len, pad;
    const uint8_t *iv = enc, *ct, *icv;

    if (!icvl || enc_len < ivl + icvl + 1 || aad_len > len || aad_len + enc_len != len)
        return IKE_SK_NOT_AUTHENTIC;
    ct = enc + ivl;
    ct_len = enc_len - ivl - icvl;
    icv = ct + ct_len;
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
    *plain_len = ct_len - pad - 1;
    return IKE_SK_OK;
}

/* Parses a decrypted payload chain; no SK or SKF may be inside. */
static enum ike_sk_rc parse_inner(const struct ike_msg *msg, uint8_t first, const uint8_t *plain, size_t len,
                                  struct ike_msg *inner)
{
    enum ike_parse_rc prc;

    memset(inner, 0, sizeof(*inner));
    inner->hdr = msg->hdr;
    prc = ike_chain_parse(first, plain, len, inner);
    if (prc == IKE_PARSE_UNKNOWN_CRITICAL)
        return IKE_SK_UNKNOWN_CRITICAL;
    if (prc != IKE_PARSE_OK)
        return IKE_SK_INVALID_SYNTAX;
    for (size_t i = 0; i < inner->npld; i++) {
        if (inner->pld[i].type == IKE_PLD_SK || inner->pld[i].type == IKE_PLD_SKF)
            return IKE_SK_INVALID_SYNTAX;
    }
    return IKE_SK_OK;
}

enum ike_sk_rc ike_sk_open(const struct ike_sk_keys *k, const uint8_t *buf, size_t len, const struct ike_msg *msg,
                           uint8_t *plain, struct ike_msg *inner)
{
    const struct ike_pld *sk = msg->npld ? &msg->pld[msg->npld - 1] : NULL;
    enum ike_sk_rc rc;
    size_t plen;

    if (!sk || sk->type != IKE_PLD_SK)
        return IKE_SK_NOT_AUTHENTIC;
    rc = open_region(k, buf, len, sk->body, sk->len, plain, &plen);
    return rc ? rc : parse_inner(msg, msg->inner_first, plain, plen, inner);
}

void ike_frag_init(struct ike_frag *f)
{
    memset(f, 0, sizeof(*f));
}

void ike_frag_fini(struct ike_frag *f)
{
    for (size_t i = 0; i < IKE_MAX_FRAGMENTS; i++) {
        if (f->part[i]) {
            OPENSSL_cleanse(f->part[i], f->part_len[i]);
            free(f->part[i]);
        }
    }
    if (f->whole) {
        OPENSSL_cleanse(f->whole, f->whole_len);
        free(f->whole);
    }
    memset(f, 0, sizeof(*f));
}

enum ike_sk_rc ike_frag_open(const struct ike_sk_keys *k, const uint8_t *buf, size_t len, const struct ike_msg *msg,
                             uint8_t **plain, size_t *plen)
{
    const struct ike_pld *p = msg->npld ? &msg->pld[msg->npld - 1] : NULL;
    struct ike_skf_pld skf;
    enum ike_sk_rc rc;

    *plain = NULL;
    *plen = 0;
    if (!p || p->type != IKE_PLD_SKF || !ike_skf_parse(p, &skf))
        return IKE_SK_NOT_AUTHENTIC;
    *plain = malloc(skf.len ? skf.len : 1);
    if (!*plain)
        return IKE_SK_NOT_AUTHENTIC;
    rc = open_region(k, buf, len, skf.data, skf.len, *plain, plen);
    if (rc) {
        free(*plain);
        *plain = NULL;
    }
    return rc;
}

enum ike_sk_rc ike_frag_add(struct ike_frag *f, const struct ike_sk_keys *k, const uint8_t *buf, size_t len,
                            const struct ike_msg *msg, struct ike_msg *inner, bool *complete)
{
    uint8_t *plain;
    size_t plen;
    enum ike_sk_rc rc = ike_frag_open(k, buf, len, msg, &plain, &plen);

    *complete = false;
    if (rc)
        return rc;
    return ike_frag_put(f, msg, plain, plen, inner, complete);
}

enum ike_sk_rc ike_frag_put(struct ike_frag *f, const struct ike_msg *msg, uint8_t *plain, size_t plen,
                            struct ike_msg *inner, bool *complete)
{
    struct ike_skf_pld skf;
    size_t total = 0;
    enum ike_sk_rc rc;

    *complete = false;
    /* opened: it parsed (and a fragment that did not open has no plaintext) */
    if (!plain || !msg->npld || !ike_skf_parse(&msg->pld[msg->npld - 1], &skf)) {
        free(plain);
        return IKE_SK_NOT_AUTHENTIC;
    }
    /* RFC 7383 2.6: fragments of a newer message, or of a retransmission split into
     * more fragments, start over; older ones and duplicates are dropped */
    if (skf.total > IKE_MAX_FRAGMENTS) {
        free(plain);
        return IKE_SK_INVALID_SYNTAX;
    }
    if (f->total && (msg->hdr.msg_id != f->msg_id || skf.total != f->total)) {
        bool newer = msg->hdr.msg_id != f->msg_id ? msg->hdr.msg_id > f->msg_id : skf.total > f->total;

        if (!newer) {
            free(plain);
            return IKE_SK_OK;
        }
        ike_frag_fini(f);
    }
    f->msg_id = msg->hdr.msg_id;
    f->total = skf.total;
    if (f->part[skf.number - 1] || f->whole) {
        free(plain);
        return IKE_SK_OK;
    }
    /* what a peer can make us hold is bounded by the largest IKE message */
    if (f->bytes + plen > IKE_MAX_MSG_LEN) {
        free(plain);
        ike_frag_fini(f);
        return IKE_SK_INVALID_SYNTAX;
    }
    f->bytes += plen;
    f->part[skf.number - 1] = plain;
    f->part_len[skf.number - 1] = plen;
    if (skf.number == 1)
        f->first = msg->inner_first; /* only the first fragment names the first payload */
    if (++f->have < f->total)
        return IKE_SK_OK;
    for (uint16_t i = 0; i < f->total; i++)
        total += f->part_len[i];
    f->whole = malloc(total ? total : 1);
    if (!f->whole)
        return IKE_SK_INVALID_SYNTAX;
    for (uint16_t i = 0; i < f->total; i++) {
        memcpy(f->whole + f->whole_len, f->part[i], f->part_len[i]);
        f->whole_len += f->part_len[i];
    }
    rc = parse_inner(msg, f->first, f->whole, f->whole_len, inner);
    *complete = rc == IKE_SK_OK;
    return rc;
}

/* Appends an SK payload (@type IKE_PLD_SK) or an SKF payload (fragment @number of
 * @total) holding @inner, and finishes the message. */
static bool seal(const struct ike_sk_keys *k, struct ike_builder *bd, uint8_t type, uint16_t number, uint16_t total,
                 uint8_t first, const uint8_t *inner, size_t inner_len)
{
    size_t body = ike_build_pld(bd, type, false), ivl = iv_len(k), icvl = icv_len(k), enc_off, ct_off, ct_len;
    uint8_t iv[CBC_IV_LEN], *pt = NULL, tag[IKE_SK_ICV_LEN];
    bool ok = false;

    if (bd->buf.oom || !icvl)
        return false;
    bd->buf.data[body - IKE_PLD_HDR_LEN] = first; /* next payload: the first one inside */
    if (type == IKE_PLD_SKF) {
        ike_buf_u16(&bd->buf, number);
        ike_buf_u16(&bd->buf, total);
    }
    if (RAND_bytes(iv, (int)ivl) != 1)
        return false;
    enc_off = bd->buf.len;
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
    if (inner_len) /* an empty INFORMATIONAL has no payloads */
        memcpy(pt, inner, inner_len);
    pt[ct_len - 1] = (uint8_t)(ct_len - inner_len - 1); /* pad length; the padding is zeroes */
    if (k->cbc) {
        ok = ike_aes_cbc(true, k->key, k->key_len, iv, pt, ct_len, bd->buf.data + ct_off) &&
             ike_integ(k->integ, k->integ_key, bd->buf.data, ct_off + ct_len, bd->buf.data + ct_off + ct_len);
    } else if (ike_aead_seal(k->alg, k->key, k->key_len, iv, bd->buf.data, enc_off, pt, ct_len,
                             bd->buf.data + ct_off, tag)) {
        /* the associated data is everything before the IV, lengths already final */
        memcpy(bd->buf.data + ct_off + ct_len, tag, sizeof(tag));
        ok = true;
    }
    OPENSSL_cleanse(pt, ct_len);
    free(pt);
    return ok;
}

bool ike_sk_seal(const struct ike_sk_keys *k, struct ike_builder *bd, uint8_t first, const uint8_t *inner,
                 size_t inner_len)
{
    return seal(k, bd, IKE_PLD_SK, 0, 0, first, inner, inner_len);
}

bool ike_skf_seal(const struct ike_sk_keys *k, struct ike_builder *bd, uint16_t number, uint16_t total,
                  uint8_t first, const uint8_t *part, size_t part_len)
{
    if (number < 1 || number > total || total > IKE_MAX_FRAGMENTS)
        return false;
    return seal(k, bd, IKE_PLD_SKF, number, total, number == 1 ? first : 0, part, part_len);
}
