/* A minimal IKEv2 initiator for tests and benchmarks (see ike_client.h). */
#include "tests/support/ike_client.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/ike/ike_auth.h"

void ike_client_init(struct ike_client *c, enum ike_dh_group group)
{
    memset(c, 0, sizeof(*c));
    c->group = group;
}

void ike_client_fini(struct ike_client *c)
{
    ike_dh_free(c->dh);
    free(c->msg1);
    free(c->msg2);
    ike_keys_wipe(&c->st.keys);
    memset(c, 0, sizeof(*c));
}

static bool keep(struct ike_buf *b, uint8_t **copy, size_t *len)
{
    *copy = malloc(b->len);
    if (!*copy)
        return false;
    memcpy(*copy, b->data, b->len);
    *len = b->len;
    return true;
}

bool ike_client_sa_init(struct ike_client *c, struct ike_buf *out)
{
    struct ike_hdr h = {.version = 0x20, .exchange = IKE_EXCH_SA_INIT, .flags = IKE_FLAG_INITIATOR};
    struct ike_sa_pld sa = {.nprop = 1};
    struct ike_builder bd;
    uint8_t pub[512];
    size_t pl;

    c->dh = ike_dh_new(c->group);
    c->st.n = &c->nonces;
    c->st.n->ni_len = 32;
    if (!c->dh || RAND_bytes(c->st.spi_i, 8) != 1 || RAND_bytes(c->st.n->ni, 32) != 1 ||
        !(pl = ike_dh_public(c->dh, pub, sizeof(pub))))
        return false;
    memcpy(h.spi_i, c->st.spi_i, 8);
    sa.prop[0] = (struct ike_proposal){.num = 1, .protocol = 1, .ntrans = 3};
    sa.prop[0].trans[0] = (struct ike_transform){.type = IKE_TRANS_ENCR, .id = IKE_AEAD_AES_GCM_16, .key_len = 256};
    sa.prop[0].trans[1] = (struct ike_transform){.type = IKE_TRANS_PRF, .id = IKE_PRF_HMAC_SHA2_256};
    sa.prop[0].trans[2] = (struct ike_transform){.type = IKE_TRANS_DH, .id = (uint16_t)c->group};
    ike_build_begin(&bd, &h);
    ike_sa_build(&bd, &sa);
    ike_ke_build(&bd, &(struct ike_ke_pld){.group = (uint16_t)c->group, .data = pub, .len = pl});
    ike_build_raw(&bd, IKE_PLD_NONCE, false, c->st.n->ni, 32);
    for (size_t i = 0; i < c->nvid; i++)
        ike_build_raw(&bd, IKE_PLD_VENDOR, false, c->vid[i], c->vid_len[i]);
    if (c->use_ppk)
        ike_notify_build(&bd, &(struct ike_notify_pld){.type = 16435});
    if (c->redirect_supported) /* RFC 5685: REDIRECT_SUPPORTED, or REDIRECTED_FROM instead */
        ike_notify_build(&bd, c->redirected_from_len ?
                                  &(struct ike_notify_pld){.type = 16408, .data = c->redirected_from,
                                                           .len = c->redirected_from_len} :
                                  &(struct ike_notify_pld){.type = 16406});
    if (c->nat_in_front_of_responder) {
        static const uint8_t nothing[20];
        ike_notify_build(&bd, &(struct ike_notify_pld){.type = 16389, .data = nothing, .len = 20});
    }
    if (!ike_build_finish(&bd) || !keep(&bd.buf, &c->msg1, &c->msg1_len)) {
        ike_buf_fini(&bd.buf);
        return false;
    }
    *out = bd.buf;
    return true;
}

bool ike_client_sa_init_done(struct ike_client *c, const uint8_t *buf, size_t len)
{
    static struct ike_msg m;
    struct ike_ke_pld ke;
    const uint8_t *nr;
    uint8_t gir[512];
    size_t gl;
    const struct ike_pld *p;

    if (ike_msg_parse(buf, len, &m) != IKE_PARSE_OK || m.hdr.exchange != IKE_EXCH_SA_INIT ||
        !(p = ike_msg_find(&m, IKE_PLD_KE, 0)) || !ike_ke_parse(p, &ke) ||
        !(p = ike_msg_find(&m, IKE_PLD_NONCE, 0)) || !ike_nonce_parse(p, &nr, &c->st.n->nr_len) ||
        c->st.n->nr_len > sizeof(c->st.n->nr))
        return false;
    memcpy(c->st.n->nr, nr, c->st.n->nr_len);
    memcpy(c->st.spi_r, m.hdr.spi_r, 8);
    gl = ike_dh_derive(c->dh, ke.data, ke.len, gir, sizeof(gir));
    c->st.prf = IKE_PRF_HMAC_SHA2_256;
    c->st.aead = IKE_AEAD_AES_GCM_16;
    c->st.encr_key_len = 36;
    if (!gl || !ike_derive_keys(c->st.prf, c->st.n->ni, c->st.n->ni_len, c->st.n->nr, c->st.n->nr_len, gir, gl,
                                c->st.spi_i, c->st.spi_r, 0, 36, &c->st.keys))
        return false;
    c->next_id = 1;
    return keep(&(struct ike_buf){.data = (uint8_t *)buf, .len = len}, &c->msg2, &c->msg2_len);
}

bool ike_client_request(struct ike_client *c, uint8_t exchange, uint8_t first, const uint8_t *inner, size_t len,
                        struct ike_buf *out)
{
    struct ike_hdr h = {.version = 0x20, .exchange = exchange, .flags = IKE_FLAG_INITIATOR, .msg_id = c->next_id++};
    struct ike_sk_keys k;
    struct ike_builder bd;

    memcpy(h.spi_i, c->st.spi_i, 8);
    memcpy(h.spi_r, c->st.spi_r, 8);
    ike_init_sk_keys(&c->st, true, &k);
    ike_build_begin(&bd, &h);
    if (!ike_sk_seal(&k, &bd, first, inner, len)) {
        ike_buf_fini(&bd.buf);
        return false;
    }
    *out = bd.buf;
    return true;
}

bool ike_client_auth(struct ike_client *c, const char *id, const char *psk, struct ike_buf *out)
{
    static const uint8_t spi[4] = {0x12, 0x34, 0x56, 0x78};
    struct ike_id_pld idi = {.type = 2, .data = (const uint8_t *)id, .len = strlen(id)};
    struct ike_cp_pld cp = {.cfg_type = 1, .nattr = 1};
    struct ike_sa_pld sa = {.nprop = 1};
    struct ike_ts_pld ts = {.nts = 1};
    struct ike_hdr h = {0};
    struct ike_builder ib;
    uint8_t mic[64], *so;
    size_t so_len, ml;
    bool ok;

    ike_build_begin(&ib, &h);
    ike_id_build(&ib, IKE_PLD_IDI, &idi);
    if (c->cert_der) {
        static uint8_t body[8192], junk[64];

        if (c->cert_len + 1 > sizeof(body)) {
            ike_buf_fini(&ib.buf);
            return false;
        }
        body[0] = 4; /* X.509 Certificate - Signature */
        memcpy(body + 1, c->cert_der, c->cert_len);
        memset(junk, 0x5a, sizeof(junk));
        ike_build_raw(&ib, IKE_PLD_CERT, false, body, c->cert_len + 1);
        ike_auth_build(&ib, &(struct ike_auth_pld){.method = c->cert_auth_method, .data = junk, .len = sizeof(junk)});
        goto rest;
    }
    so = ike_auth_signed_octets(c->st.prf, c->msg1, c->msg1_len, c->st.n->nr, c->st.n->nr_len, c->st.keys.sk_pi,
                                c->st.keys.prf_len, ib.buf.data + IKE_HDR_LEN + IKE_PLD_HDR_LEN,
                                ib.buf.len - IKE_HDR_LEN - IKE_PLD_HDR_LEN, &so_len);
    ml = so ? ike_auth_psk(c->st.prf, (const uint8_t *)psk, strlen(psk), so, so_len, mic) : 0;
    free(so);
    if (!ml) {
        ike_buf_fini(&ib.buf);
        return false;
    }
    ike_auth_build(&ib, &(struct ike_auth_pld){.method = 2, .data = mic, .len = ml});
rest:
    cp.attr[0] = (struct ike_cp_attr){.type = 1};
    for (size_t i = 0; i < c->ncp_extra && cp.nattr < IKE_MAX_CP_ATTRS; i++)
        cp.attr[cp.nattr++] = c->cp_extra[i];
    if (!c->no_cp)
        ike_cp_build(&ib, &cp);
    sa.prop[0] = (struct ike_proposal){.num = 1, .protocol = 3, .spi_len = 4, .spi = spi, .ntrans = 2};
    sa.prop[0].trans[0] = (struct ike_transform){.type = IKE_TRANS_ENCR, .id = IKE_AEAD_AES_GCM_16, .key_len = 128};
    sa.prop[0].trans[1] = (struct ike_transform){.type = IKE_TRANS_ESN, .id = 0};
    ike_sa_build(&ib, &sa);
    ts.ts[0] = (struct ike_ts){.type = 7, .end_port = 65535, .end = {255, 255, 255, 255}};
    if (c->auth_tsi_extra) {
        struct ike_ts_pld tsi = ts;

        tsi.ts[tsi.nts++] = *c->auth_tsi_extra;
        ike_ts_build(&ib, IKE_PLD_TSI, &tsi);
    } else {
        ike_ts_build(&ib, IKE_PLD_TSI, &ts);
    }
    ike_ts_build(&ib, IKE_PLD_TSR, &ts);
    if (c->mobike)
        ike_notify_build(&ib, &(struct ike_notify_pld){.type = 16396});
    ok = ike_build_finish(&ib) &&
         ike_client_request(c, IKE_EXCH_AUTH, IKE_PLD_IDI, ib.buf.data + IKE_HDR_LEN, ib.buf.len - IKE_HDR_LEN, out);
    ike_buf_fini(&ib.buf);
    return ok;
}

bool ike_client_auth_done(struct ike_client *c, const uint8_t *buf, size_t len)
{
    static struct ike_msg m, inner;
    static uint8_t plain[65536];
    struct ike_sk_keys k;

    ike_init_sk_keys(&c->st, false, &k);
    if (ike_msg_parse(buf, len, &m) != IKE_PARSE_OK || len > sizeof(plain) ||
        ike_sk_open(&k, buf, len, &m, plain, &inner) != IKE_SK_OK)
        return false;
    c->established = ike_msg_find(&inner, IKE_PLD_AUTH, 0) != NULL;
    if (c->established && c->responder_psk) {
        const struct ike_pld *idr = ike_msg_find(&inner, IKE_PLD_IDR, 0);
        struct ike_auth_pld auth;
        uint8_t mic[64], *so;
        size_t so_len, ml = 0;

        if (!idr || !ike_auth_parse(ike_msg_find(&inner, IKE_PLD_AUTH, 0), &auth))
            return c->established = false;
        so = ike_auth_signed_octets(c->st.prf, c->msg2, c->msg2_len, c->st.n->ni, c->st.n->ni_len, c->st.keys.sk_pr,
                                    c->st.keys.prf_len, idr->body, idr->len, &so_len);
        if (so)
            ml = ike_auth_psk(c->st.prf, (const uint8_t *)c->responder_psk, strlen(c->responder_psk), so, so_len,
                              mic);
        free(so);
        c->established = ml && ml == auth.len && !memcmp(mic, auth.data, ml);
    }
    memset(&c->cp_reply, 0, sizeof(c->cp_reply));
    if (ike_msg_find(&inner, IKE_PLD_CP, 0))
        ike_cp_parse(ike_msg_find(&inner, IKE_PLD_CP, 0), &c->cp_reply);
    return c->established;
}

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

bool ike_client_create_child(struct ike_client *c, uint32_t rekey_spi, uint32_t spi, struct ike_buf *out)
{
    static uint8_t spi_buf[4], rekey_buf[4];
    struct ike_sa_pld sa = {.nprop = 1};
    struct ike_ts_pld ts = {.nts = 1};
    struct ike_hdr h = {0};
    struct ike_builder ib;
    uint8_t nonce[32];
    bool ok;

    be32(spi_buf, spi);
    be32(rekey_buf, rekey_spi);
    if (RAND_bytes(nonce, sizeof(nonce)) != 1)
        return false;
    ike_build_begin(&ib, &h);
    if (rekey_spi)
        ike_notify_build(&ib, &(struct ike_notify_pld){.protocol = 3, .spi_len = 4, .type = 16393, .spi = rekey_buf});
    sa.prop[0] = (struct ike_proposal){.num = 1, .protocol = 3, .spi_len = 4, .spi = spi_buf, .ntrans = 2};
    sa.prop[0].trans[0] = (struct ike_transform){.type = IKE_TRANS_ENCR, .id = IKE_AEAD_AES_GCM_16, .key_len = 128};
    sa.prop[0].trans[1] = (struct ike_transform){.type = IKE_TRANS_ESN, .id = 0};
    ike_sa_build(&ib, &sa);
    ike_build_raw(&ib, IKE_PLD_NONCE, false, nonce, sizeof(nonce));
    ts.ts[0] = (struct ike_ts){.type = 7, .end_port = 65535, .end = {255, 255, 255, 255}};
    ike_ts_build(&ib, IKE_PLD_TSI, &ts);
    ike_ts_build(&ib, IKE_PLD_TSR, &ts);
    ok = ike_build_finish(&ib) && ike_client_request(c, IKE_EXCH_CREATE_CHILD_SA, rekey_spi ? IKE_PLD_NOTIFY : IKE_PLD_SA,
                                                     ib.buf.data + IKE_HDR_LEN, ib.buf.len - IKE_HDR_LEN, out);
    ike_buf_fini(&ib.buf);
    return ok;
}

uint16_t ike_client_response_notify(struct ike_client *c, const uint8_t *buf, size_t len)
{
    static struct ike_msg m, inner;
    static uint8_t plain[65536];
    struct ike_sk_keys k;
    struct ike_notify_pld n;
    const struct ike_pld *p;

    ike_init_sk_keys(&c->st, false, &k);
    if (ike_msg_parse(buf, len, &m) != IKE_PARSE_OK || len > sizeof(plain) ||
        ike_sk_open(&k, buf, len, &m, plain, &inner) != IKE_SK_OK)
        return 0xffff;
    p = ike_msg_find(&inner, IKE_PLD_NOTIFY, 0);
    return p && ike_notify_parse(p, &n) ? n.type : 0;
}

bool ike_client_peer_cp(struct ike_client *c, const uint8_t *buf, size_t len, struct ike_cp_pld *cp)
{
    static struct ike_msg m, inner;
    static uint8_t plain[65536];
    struct ike_sk_keys k;
    const struct ike_pld *p;

    ike_init_sk_keys(&c->st, false, &k);
    return ike_msg_parse(buf, len, &m) == IKE_PARSE_OK && len <= sizeof(plain) &&
           ike_sk_open(&k, buf, len, &m, plain, &inner) == IKE_SK_OK && (p = ike_msg_find(&inner, IKE_PLD_CP, 0)) &&
           ike_cp_parse(p, cp);
}
