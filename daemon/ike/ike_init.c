/* Responder side of IKE_SA_INIT (see ike_init.h). */
#include "daemon/ike/ike_init.h"

#include "daemon/ike/ike_sk.h"
#include "daemon/ike/ike_ppk.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/poison.h"

#define N_INVALID_SYNTAX 7
#define N_NO_PROPOSAL_CHOSEN 14
#define N_INVALID_KE_PAYLOAD 17
#define N_NAT_DETECTION_SOURCE_IP 16388
#define N_NAT_DETECTION_DESTINATION_IP 16389
#define N_FRAGMENTATION_SUPPORTED 16430
#define N_SIGNATURE_HASH_ALGORITHMS 16431

void ike_nat_hash(const uint8_t spi_i[8], const uint8_t spi_r[8], const struct sockaddr_storage *a, uint8_t out[20])
{
    uint8_t buf[16 + 16 + 2];
    size_t n = 16;

    memcpy(buf, spi_i, 8);
    memcpy(buf + 8, spi_r, 8);
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)a;
        memcpy(buf + n, &s->sin_addr, 4);
        n += 4;
        memcpy(buf + n, &s->sin_port, 2);
    } else {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)a;
        memcpy(buf + n, &s->sin6_addr, 16);
        n += 16;
        memcpy(buf + n, &s->sin6_port, 2);
    }
    n += 2;
    if (!ike_sha1(buf, n, out))
        memset(out, 0, 20); /* a hash that matches nothing: NAT assumed */
}

const struct ike_algs ike_algs_default = {
    .encr = IKE_EB_AES_GCM_128 | IKE_EB_AES_GCM_192 | IKE_EB_AES_GCM_256 | IKE_EB_AES_CBC_128 | IKE_EB_AES_CBC_192 |
            IKE_EB_AES_CBC_256 | IKE_EB_CHACHA20_POLY1305,
    .integ = 1u << IKE_INTEG_HMAC_SHA1_96 | 1u << IKE_INTEG_HMAC_SHA2_256_128 | 1u << IKE_INTEG_HMAC_SHA2_384_192 |
             1u << IKE_INTEG_HMAC_SHA2_512_256,
    .prf = 1u << IKE_PRF_HMAC_SHA2_256 | 1u << IKE_PRF_HMAC_SHA2_384 | 1u << IKE_PRF_HMAC_SHA2_512,
    .groups = 1u << IKE_DH_MODP2048 | 1u << IKE_DH_MODP3072 | 1u << IKE_DH_MODP4096 | 1u << IKE_DH_ECP256 |
              1u << IKE_DH_ECP384 | 1u << IKE_DH_ECP521 | 1u << IKE_DH_CURVE25519,
};

uint32_t ike_encr_bit(uint16_t id, uint16_t key_len)
{
    int k = key_len == 128 ? 0 : key_len == 192 ? 1 : key_len == 256 ? 2 : -1;

    if (id == IKE_AEAD_AES_GCM_16 && k >= 0)
        return IKE_EB_AES_GCM_128 << k;
    if (id == IKE_ENCR_AES_CBC && k >= 0)
        return IKE_EB_AES_CBC_128 << k;
    if (id == IKE_AEAD_CHACHA20_POLY1305 && key_len == 0)
        return IKE_EB_CHACHA20_POLY1305;
    return 0;
}

static bool in_set(uint32_t set, uint16_t id)
{
    return id < 32 && (set & (1u << id));
}

/* The first acceptable transform of each type; the first acceptable proposal
 * (RFC 7296 3.3.6: a proposal with a transform type we do not understand is
 * unacceptable as a whole). Of the acceptable DH groups, the one the KE payload
 * already uses (@ke_group) is preferred, which saves an INVALID_KE round trip. */
static bool choose_spi(const struct ike_algs *algs, const struct ike_proposal *p, uint16_t ke_group, size_t spi_len,
                       struct ike_init *st, struct ike_proposal *chosen)
{
    const struct ike_transform *encr = NULL, *prf = NULL, *dh = NULL, *integ = NULL;
    bool aead, integ_other = false;

    if (p->protocol != 1 || p->spi_len != spi_len)
        return false;
    for (uint8_t i = 0; i < p->ntrans; i++) {
        const struct ike_transform *t = &p->trans[i];

        if (t->type < IKE_TRANS_ENCR || t->type > IKE_TRANS_DH)
            return false;
        if (t->unknown_attr)
            continue;
        if (t->type == IKE_TRANS_ENCR && !encr && (ike_encr_bit(t->id, t->key_len) & algs->encr))
            encr = t;
        else if (t->type == IKE_TRANS_PRF && !prf && in_set(algs->prf, t->id) && ike_prf_len((enum ike_prf)t->id))
            prf = t;
        else if (t->type == IKE_TRANS_DH && in_set(algs->groups, t->id) &&
                 ike_dh_pub_len((enum ike_dh_group)t->id) && (!dh || (t->id == ke_group && dh->id != ke_group)))
            dh = t;
        else if (t->type == IKE_TRANS_INTEG && !integ && in_set(algs->integ, t->id) &&
                 ike_integ_key_len((enum ike_integ)t->id))
            integ = t;
        else if (t->type == IKE_TRANS_INTEG && t->id != 0)
            integ_other = true;
    }
    if (!encr || !prf || !dh)
        return false;
    aead = encr->id != IKE_ENCR_AES_CBC;
    if (!aead && !integ)
        return false; /* CBC needs an integrity algorithm */
    if (aead && (integ || integ_other))
        return false; /* an AEAD cipher must come without one (RFC 5282 8) */
    *chosen = (struct ike_proposal){.num = p->num, .protocol = 1, .ntrans = 0};
    chosen->trans[chosen->ntrans++] = *encr;
    chosen->trans[chosen->ntrans++] = *prf;
    if (!aead)
        chosen->trans[chosen->ntrans++] = *integ;
    chosen->trans[chosen->ntrans++] = *dh;
    st->cbc = !aead;
    st->aead = (enum ike_aead)encr->id;
    st->integ = aead ? 0 : (enum ike_integ)integ->id;
    st->integ_key_len = aead ? 0 : ike_integ_key_len(st->integ);
    st->encr_key_len = aead ? (encr->key_len ? encr->key_len / 8 : 32) + 4 : encr->key_len / 8;
    st->prf = (enum ike_prf)prf->id;
    st->group = (enum ike_dh_group)dh->id;
    return true;
}

static bool choose(const struct ike_algs *algs, const struct ike_proposal *p, uint16_t ke_group, struct ike_init *st,
                   struct ike_proposal *chosen)
{
    return choose_spi(algs, p, ke_group, 0, st, chosen);
}

bool ike_init_choose_rekey(const struct ike_algs *algs, const struct ike_sa_pld *sa, uint16_t ke_group,
                           struct ike_init *st, struct ike_proposal *chosen)
{
    for (size_t i = 0; i < sa->nprop; i++) {
        if (choose_spi(algs, &sa->prop[i], ke_group, 8, st, chosen)) {
            memcpy(st->spi_i, sa->prop[i].spi, 8);
            return true;
        }
    }
    return false;
}

void ike_init_sk_keys(const struct ike_init *st, bool initiator, struct ike_sk_keys *k)
{
    *k = (struct ike_sk_keys){.cbc = st->cbc,
                              .alg = st->aead,
                              .key = initiator ? st->keys.sk_ei : st->keys.sk_er,
                              .key_len = st->encr_key_len,
                              .integ = st->integ,
                              .integ_key = initiator ? st->keys.sk_ai : st->keys.sk_ar};
}

static bool notify_only(const struct ike_msg *req, struct ike_init *st, uint16_t type, const uint8_t *data,
                        size_t len, struct ike_buf *out)
{
    struct ike_hdr h = req->hdr;
    struct ike_notify_pld n = {.type = type, .data = data, .len = len};
    struct ike_builder bd;

    memset(h.spi_r, 0, 8);
    h.flags = IKE_FLAG_RESPONSE;
    h.version = 0x20;
    h.next_payload = 0;
    ike_build_begin(&bd, &h);
    ike_notify_build(&bd, &n);
    if (!ike_build_finish(&bd)) {
        ike_buf_fini(&bd.buf);
        return false;
    }
    *out = bd.buf;
    return true;
}

/* NAT detection (RFC 7296 2.23): a NAT is in front of the peer when none of its
 * (possibly several) source hashes matches what we see, likewise for us; and
 * the other notifies of the request that shape the answer. */
static void read_notifies(const struct ike_msg *req, const struct sockaddr_storage *local,
                          const struct sockaddr_storage *peer, const struct ike_init_opts *opts, struct ike_init *st)
{
    bool src_seen = false, src_match = false, dst_seen = false, dst_match = false;
    uint8_t hp[20], hl[20];

    ike_nat_hash(req->hdr.spi_i, req->hdr.spi_r, peer, hp);
    ike_nat_hash(req->hdr.spi_i, req->hdr.spi_r, local, hl);
    for (size_t i = 0; i < req->npld; i++) {
        struct ike_notify_pld n;

        if (req->pld[i].type != IKE_PLD_NOTIFY || !ike_notify_parse(&req->pld[i], &n))
            continue;
        if (n.type == N_NAT_DETECTION_SOURCE_IP && n.len == 20) {
            src_seen = true;
            src_match = src_match || !memcmp(hp, n.data, 20);
        } else if (n.type == N_NAT_DETECTION_DESTINATION_IP && n.len == 20) {
            dst_seen = true;
            dst_match = dst_match || !memcmp(hl, n.data, 20);
        } else if (n.type == N_FRAGMENTATION_SUPPORTED && opts && opts->fragmentation) {
            st->fragmentation = true;
        } else if (n.type == N_SIGNATURE_HASH_ALGORITHMS) {
            st->sig_hash = true;
            for (size_t j = 0; j + 1 < n.len; j += 2) {
                unsigned id = (unsigned)n.data[j] << 8 | n.data[j + 1];

                if (id < 16)
                    st->sig_hashes |= (uint16_t)(1u << id);
            }
        } else if (n.type == N_USE_PPK && opts && opts->ppk) {
            st->ppk = true;
        }
    }
    st->nat_peer = src_seen && !src_match;
    st->nat_local = dst_seen && !dst_match;
}

enum ike_init_status ike_init_choose(const struct ike_msg *req, const struct sockaddr_storage *local,
                                     const struct sockaddr_storage *peer, const struct ike_init_opts *opts,
                                     struct ike_init_work *w, struct ike_buf *out)
{
    struct ike_init *st = &w->in;
    struct ike_sa_pld *sa = malloc(sizeof(*sa));
    const struct ike_pld *pn;
    struct ike_ke_pld ke;
    const uint8_t *ni;
    bool chosen = false;

    memset(st, 0, sizeof(*st));
    memset(out, 0, sizeof(*out));
    w->hdr = req->hdr;
    w->ke_len = w->pub_len = 0;
    w->computed = false;
    memcpy(st->spi_i, req->hdr.spi_i, 8);
    st->n = calloc(1, sizeof(*st->n));
    if (!sa || !st->n) {
        free(sa);
        return st->status = IKE_INIT_INTERNAL;
    }
    if (!ike_msg_find(req, IKE_PLD_SA, 0) || !ike_sa_parse(ike_msg_find(req, IKE_PLD_SA, 0), sa) ||
        !ike_msg_find(req, IKE_PLD_KE, 0) || !ike_ke_parse(ike_msg_find(req, IKE_PLD_KE, 0), &ke) ||
        !(pn = ike_msg_find(req, IKE_PLD_NONCE, 0)) || !ike_nonce_parse(pn, &ni, &st->n->ni_len)) {
        free(sa);
        return st->status = notify_only(req, st, N_INVALID_SYNTAX, NULL, 0, out) ? IKE_INIT_INVALID_SYNTAX :
                                                                                      IKE_INIT_INTERNAL;
    }
    memcpy(st->n->ni, ni, st->n->ni_len);
    for (size_t i = 0; i < sa->nprop && !chosen; i++)
        chosen = choose(opts && opts->algs ? opts->algs : &ike_algs_default, &sa->prop[i], ke.group, st,
                        &w->chosen);
    free(sa);
    if (!chosen)
        return st->status = notify_only(req, st, N_NO_PROPOSAL_CHOSEN, NULL, 0, out) ? IKE_INIT_NO_PROPOSAL :
                                                                                          IKE_INIT_INTERNAL;
    /* RFC 7296 2.10: at least half the PRF's key size, and at least 128 bits */
    if (st->n->ni_len < ike_prf_len(st->prf) / 2)
        return st->status = notify_only(req, st, N_INVALID_SYNTAX, NULL, 0, out) ? IKE_INIT_INVALID_SYNTAX :
                                                                                      IKE_INIT_INTERNAL;
    if (ke.group != st->group) {
        uint8_t g[2] = {(uint8_t)(st->group >> 8), (uint8_t)st->group};
        return st->status = notify_only(req, st, N_INVALID_KE_PAYLOAD, g, 2, out) ? IKE_INIT_INVALID_KE :
                                                                                      IKE_INIT_INTERNAL;
    }
    if (ke.len > sizeof(w->ke))
        return st->status = notify_only(req, st, N_INVALID_SYNTAX, NULL, 0, out) ? IKE_INIT_INVALID_SYNTAX :
                                                                                      IKE_INIT_INTERNAL;
    memcpy(w->ke, ke.data, ke.len);
    w->ke_len = ke.len;
    st->n->nr_len = sizeof(st->n->nr);
    if (RAND_bytes(st->n->nr, (int)st->n->nr_len) != 1 || RAND_bytes(st->spi_r, 8) != 1)
        return st->status = IKE_INIT_INTERNAL;
    read_notifies(req, local, peer, opts, st);
    return st->status = IKE_INIT_OK;
}

void ike_init_compute(struct ike_init_work *w)
{
    struct ike_init *st = &w->in;
    struct ike_dh *dh = ike_dh_new(st->group);
    uint8_t gir[512];
    size_t girlen = 0;

    w->computed = true;
    w->dh_ok = false;
    w->pub_len = dh ? ike_dh_public(dh, w->pub, sizeof(w->pub)) : 0;
    if (w->pub_len)
        girlen = ike_dh_derive(dh, w->ke, w->ke_len, gir, sizeof(gir));
    ike_dh_free(dh);
    if (!w->pub_len)
        return; /* internal */
    if (!girlen) { /* the peer's public value failed the RFC 6989 checks */
        w->pub_len = SIZE_MAX;
        return;
    }
    w->dh_ok = ike_derive_keys(st->prf, st->n->ni, st->n->ni_len, st->n->nr, st->n->nr_len, gir, girlen, st->spi_i,
                               st->spi_r, st->integ_key_len, st->encr_key_len, &st->keys);
    OPENSSL_cleanse(gir, sizeof(gir));
}

enum ike_init_status ike_init_answer(struct ike_init_work *w, const struct sockaddr_storage *local,
                                     const struct sockaddr_storage *peer, const struct ike_init_opts *opts,
                                     struct ike_init *st, struct ike_buf *out)
{
    struct ike_builder bd;
    struct ike_hdr h = w->hdr;
    struct ike_sa_pld reply_sa = {.nprop = 1, .prop[0] = w->chosen};
    uint8_t nat[20];

    memset(out, 0, sizeof(*out));
    *st = w->in;
    w->in.n = NULL; /* @st's now */
    OPENSSL_cleanse(&w->in.keys, sizeof(w->in.keys));
    if (!w->dh_ok) {
        ike_keys_wipe(&st->keys);
        if (w->pub_len == SIZE_MAX) {
            struct ike_msg req = {.hdr = w->hdr};

            return st->status = notify_only(&req, st, N_INVALID_SYNTAX, NULL, 0, out) ? IKE_INIT_INVALID_SYNTAX :
                                                                                          IKE_INIT_INTERNAL;
        }
        return st->status = IKE_INIT_INTERNAL;
    }
    memcpy(h.spi_r, st->spi_r, 8);
    h.flags = IKE_FLAG_RESPONSE;
    h.version = 0x20; /* RFC 7296 3.1: minor version 0, whatever the peer sent */
    ike_build_begin(&bd, &h);
    ike_sa_build(&bd, &reply_sa);
    ike_ke_build(&bd, &(struct ike_ke_pld){.group = (uint16_t)st->group, .data = w->pub, .len = w->pub_len});
    ike_build_raw(&bd, IKE_PLD_NONCE, false, st->n->nr, st->n->nr_len);
    ike_nat_hash(st->spi_i, st->spi_r, local, nat);
    ike_notify_build(&bd, &(struct ike_notify_pld){.type = N_NAT_DETECTION_SOURCE_IP, .data = nat, .len = 20});
    ike_nat_hash(st->spi_i, st->spi_r, peer, nat);
    ike_notify_build(&bd, &(struct ike_notify_pld){.type = N_NAT_DETECTION_DESTINATION_IP, .data = nat, .len = 20});
    if (st->fragmentation)
        ike_notify_build(&bd, &(struct ike_notify_pld){.type = N_FRAGMENTATION_SUPPORTED});
    if (st->sig_hash) {
        /* RFC 7427 4: the hashes we verify and sign with (SHA2-256, -384, -512),
         * and Identity for Ed25519 (RFC 8420) */
        static const uint8_t hashes[] = {0, 2, 0, 3, 0, 4, 0, 5};
        ike_notify_build(&bd, &(struct ike_notify_pld){.type = N_SIGNATURE_HASH_ALGORITHMS, .data = hashes,
                                                       .len = sizeof(hashes)});
    }
    if (st->ppk)
        ike_notify_build(&bd, &(struct ike_notify_pld){.type = N_USE_PPK});
    if (opts && opts->ncertreq) {
        size_t off = ike_build_pld(&bd, IKE_PLD_CERTREQ, false);

        ike_buf_u8(&bd.buf, 4); /* X.509 Certificate - Signature */
        ike_buf_put(&bd.buf, opts->certreq, 20 * opts->ncertreq);
        ike_build_end_pld(&bd, off);
    }
    if (!ike_build_finish(&bd)) {
        ike_buf_fini(&bd.buf);
        ike_keys_wipe(&st->keys);
        return st->status = IKE_INIT_INTERNAL;
    }
    *out = bd.buf;
    return st->status = IKE_INIT_OK;
}

void ike_init_fini(struct ike_init *st)
{
    free(st->n);
    st->n = NULL;
}

enum ike_init_status ike_init_respond(const struct ike_msg *req, const struct sockaddr_storage *local,
                                      const struct sockaddr_storage *peer, const struct ike_init_opts *opts,
                                      struct ike_init *st, struct ike_buf *out)
{
    struct ike_init_work *w = malloc(sizeof(*w));
    enum ike_init_status rc;

    if (!w) {
        memset(st, 0, sizeof(*st));
        memset(out, 0, sizeof(*out));
        return st->status = IKE_INIT_INTERNAL;
    }
    rc = ike_init_choose(req, local, peer, opts, w, out);
    if (rc == IKE_INIT_OK) {
        ike_init_compute(w);
        rc = ike_init_answer(w, local, peer, opts, st, out);
    } else {
        *st = w->in;
    }
    OPENSSL_cleanse(w, sizeof(*w));
    free(w);
    return rc;
}
