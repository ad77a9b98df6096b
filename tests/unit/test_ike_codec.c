/* Unit tests of the IKEv2 codec (daemon/ike/ike_msg.c, ike_pld.c): a message built
 * with every payload type parses back to the same values; every truncation and every
 * corrupted length of it is refused without reading past the buffer (run under
 * ASan); and a real IKE_SA_INIT request captured from a strongSwan client parses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/ike/ike_pld.h"
#include "daemon/ike/ike_init.h"
#include "daemon/ike/ike_sk.h"

static const uint8_t spi_i[8] = {1, 2, 3, 4, 5, 6, 7, 8};
static const uint8_t nonce[32] = {0xaa, 0xbb};
static const uint8_t keydata[64] = {0x11};
static const uint8_t fqdn[] = "client.example.org";
static const uint8_t esp_spi[4] = {0xc0, 0xff, 0xee, 0x01};

/* A message with every kind of payload the builders write. */
static void build_all(struct ike_builder *bd)
{
    struct ike_hdr h = {.exchange = IKE_EXCH_SA_INIT, .flags = IKE_FLAG_INITIATOR, .msg_id = 7};
    struct ike_sa_pld sa = {.nprop = 2};
    struct ike_ke_pld ke = {.group = 19, .data = keydata, .len = sizeof(keydata)};
    struct ike_id_pld id = {.type = 2, .data = fqdn, .len = sizeof(fqdn) - 1};
    struct ike_auth_pld auth = {.method = 2, .data = nonce, .len = 20};
    struct ike_notify_pld n = {.protocol = 3, .spi_len = 4, .type = 16388, .spi = esp_spi, .data = nonce, .len = 20};
    struct ike_delete_pld d = {.protocol = 3, .spi_len = 4, .nspi = 1, .spis = esp_spi};
    struct ike_ts_pld ts = {.nts = 2};
    struct ike_cp_pld cp = {.cfg_type = 1, .nattr = 2};

    memcpy(h.spi_i, spi_i, 8);
    sa.prop[0] = (struct ike_proposal){.num = 1, .protocol = 1, .ntrans = 4};
    sa.prop[0].trans[0] = (struct ike_transform){.type = IKE_TRANS_ENCR, .id = 20, .key_len = 256};
    sa.prop[0].trans[1] = (struct ike_transform){.type = IKE_TRANS_PRF, .id = 5};
    sa.prop[0].trans[2] = (struct ike_transform){.type = IKE_TRANS_DH, .id = 19};
    sa.prop[0].trans[3] = (struct ike_transform){.type = IKE_TRANS_DH, .id = 31};
    sa.prop[1] = (struct ike_proposal){.num = 2, .protocol = 3, .spi_len = 4, .spi = esp_spi, .ntrans = 2};
    sa.prop[1].trans[0] = (struct ike_transform){.type = IKE_TRANS_ENCR, .id = 12, .key_len = 128};
    sa.prop[1].trans[1] = (struct ike_transform){.type = IKE_TRANS_ESN, .id = 0};
    ts.ts[0] = (struct ike_ts){.type = 7, .start_port = 0, .end_port = 65535, .start = {10, 0, 0, 0},
                               .end = {10, 0, 255, 255}};
    ts.ts[1] = (struct ike_ts){.type = 8, .ip_proto = 17, .start_port = 53, .end_port = 53, .start = {0x20, 0x01},
                               .end = {0x20, 0x01, [15] = 0xff}};
    cp.attr[0] = (struct ike_cp_attr){.type = 1};  /* INTERNAL_IP4_ADDRESS, empty: a request */
    cp.attr[1] = (struct ike_cp_attr){.type = 3};  /* INTERNAL_IP4_DNS */

    ike_build_begin(bd, &h);
    ike_sa_build(bd, &sa);
    ike_ke_build(bd, &ke);
    ike_build_raw(bd, IKE_PLD_NONCE, false, nonce, sizeof(nonce));
    ike_id_build(bd, IKE_PLD_IDI, &id);
    ike_auth_build(bd, &auth);
    ike_notify_build(bd, &n);
    ike_delete_build(bd, &d);
    ike_ts_build(bd, IKE_PLD_TSI, &ts);
    ike_cp_build(bd, &cp);
    ike_build_raw(bd, IKE_PLD_VENDOR, false, (const uint8_t *)"raven", 5);
    assert_true(ike_build_finish(bd));
}

static void test_roundtrip(void **state)
{
    struct ike_builder bd;
    struct ike_msg *m = calloc(1, sizeof(*m));
    struct ike_sa_pld sa;
    struct ike_ts_pld ts;
    struct ike_cp_pld cp;
    struct ike_notify_pld n;
    struct ike_id_pld id;
    struct ike_ke_pld ke;
    size_t bad;

    build_all(&bd);
    assert_int_equal(ike_msg_parse(bd.buf.data, bd.buf.len, m), IKE_PARSE_OK);
    assert_int_equal(m->hdr.length, bd.buf.len);
    assert_int_equal(m->hdr.exchange, IKE_EXCH_SA_INIT);
    assert_int_equal(m->hdr.msg_id, 7);
    assert_memory_equal(m->hdr.spi_i, spi_i, 8);
    assert_int_equal(m->npld, 10);
    assert_true(ike_msg_check_payloads(m, &bad));

    assert_true(ike_sa_parse(ike_msg_find(m, IKE_PLD_SA, 0), &sa));
    assert_int_equal(sa.nprop, 2);
    assert_int_equal(sa.prop[0].ntrans, 4);
    assert_int_equal(sa.prop[0].trans[0].id, 20);
    assert_int_equal(sa.prop[0].trans[0].key_len, 256);
    assert_int_equal(sa.prop[0].trans[3].id, 31);
    assert_int_equal(sa.prop[1].protocol, 3);
    assert_memory_equal(sa.prop[1].spi, esp_spi, 4);
    assert_true(ike_ke_parse(ike_msg_find(m, IKE_PLD_KE, 0), &ke));
    assert_int_equal(ke.group, 19);
    assert_int_equal(ke.len, sizeof(keydata));
    assert_true(ike_id_parse(ike_msg_find(m, IKE_PLD_IDI, 0), &id));
    assert_int_equal(id.len, sizeof(fqdn) - 1);
    assert_memory_equal(id.data, fqdn, id.len);
    assert_true(ike_notify_parse(ike_msg_find(m, IKE_PLD_NOTIFY, 0), &n));
    assert_int_equal(n.type, 16388);
    assert_int_equal(n.len, 20);
    assert_true(ike_ts_parse(ike_msg_find(m, IKE_PLD_TSI, 0), &ts));
    assert_int_equal(ts.nts, 2);
    assert_int_equal(ts.ts[0].end[1], 0);
    assert_int_equal(ts.ts[0].end[2], 255);
    assert_int_equal(ts.ts[1].ip_proto, 17);
    assert_int_equal(ts.ts[1].end[15], 0xff);
    assert_true(ike_cp_parse(ike_msg_find(m, IKE_PLD_CP, 0), &cp));
    assert_int_equal(cp.nattr, 2);
    assert_int_equal(cp.attr[1].type, 3);
    ike_buf_fini(&bd.buf);
    free(m);
}

/* Every prefix of a valid message is refused, and parsing never reads past it
 * (each prefix is copied into a buffer of exactly that size for ASan to watch). */
static void test_truncations(void **state)
{
    struct ike_builder bd;
    struct ike_msg *m = calloc(1, sizeof(*m));

    build_all(&bd);
    for (size_t n = 0; n < bd.buf.len; n++) {
        uint8_t *cut = malloc(n ? n : 1);

        memcpy(cut, bd.buf.data, n);
        assert_int_not_equal(ike_msg_parse(cut, n, m), IKE_PARSE_OK);
        free(cut);
    }
    ike_buf_fini(&bd.buf);
    free(m);
}

/* Corrupting any single byte never makes a parser read out of bounds, and a
 * corrupted length byte in the chain is always caught by the message parser or
 * the payload parser. */
static void test_corruptions(void **state)
{
    struct ike_builder bd;
    struct ike_msg *m = calloc(1, sizeof(*m));
    size_t refused = 0;

    build_all(&bd);
    for (size_t i = 0; i < bd.buf.len; i++) {
        for (int delta = 1; delta < 256; delta += 37) {
            uint8_t *c = malloc(bd.buf.len);
            size_t bad;

            memcpy(c, bd.buf.data, bd.buf.len);
            c[i] = (uint8_t)(c[i] + delta);
            if (ike_msg_parse(c, bd.buf.len, m) != IKE_PARSE_OK || !ike_msg_check_payloads(m, &bad))
                refused++;
            free(c);
        }
    }
    assert_true(refused > 0);
    ike_buf_fini(&bd.buf);
    free(m);
}

static void test_header_rules(void **state)
{
    struct ike_builder bd;
    struct ike_msg *m = calloc(1, sizeof(*m));
    uint8_t *c;

    build_all(&bd);
    c = malloc(bd.buf.len + 1);
    memcpy(c, bd.buf.data, bd.buf.len);
    c[17] = 0x30; /* major version 3 */
    assert_int_equal(ike_msg_parse(c, bd.buf.len, m), IKE_PARSE_BAD_VERSION);
    memcpy(c, bd.buf.data, bd.buf.len);
    c[bd.buf.len] = 0; /* a trailing byte after the stated length */
    assert_int_equal(ike_msg_parse(c, bd.buf.len + 1, m), IKE_PARSE_BAD_LENGTH);
    free(c);
    ike_buf_fini(&bd.buf);

    /* an unknown payload: skipped when not critical, refused when critical */
    {
        struct ike_hdr h = {.exchange = IKE_EXCH_INFORMATIONAL};
        struct ike_builder b2;

        ike_build_begin(&b2, &h);
        ike_build_raw(&b2, 200, false, (const uint8_t *)"x", 1);
        ike_build_raw(&b2, IKE_PLD_VENDOR, false, (const uint8_t *)"v", 1);
        assert_true(ike_build_finish(&b2));
        assert_int_equal(ike_msg_parse(b2.buf.data, b2.buf.len, m), IKE_PARSE_OK);
        assert_int_equal(m->npld, 1);
        assert_int_equal(m->nskipped, 1);
        b2.buf.data[IKE_HDR_LEN + 1] = 0x80;
        assert_int_equal(ike_msg_parse(b2.buf.data, b2.buf.len, m), IKE_PARSE_UNKNOWN_CRITICAL);
        assert_int_equal(m->bad_type, 200);
        ike_buf_fini(&b2.buf);

        /* SK must be the last payload */
        ike_build_begin(&b2, &h);
        ike_build_raw(&b2, IKE_PLD_SK, false, (const uint8_t *)"ciphertext", 10);
        ike_build_raw(&b2, IKE_PLD_VENDOR, false, (const uint8_t *)"v", 1);
        assert_true(ike_build_finish(&b2));
        assert_int_equal(ike_msg_parse(b2.buf.data, b2.buf.len, m), IKE_PARSE_SK_NOT_LAST);
        ike_buf_fini(&b2.buf);
    }
    free(m);
}

static void test_payload_rules(void **state)
{
    uint8_t body[64] = {0};
    struct ike_pld p = {.body = body};
    struct ike_eap_pld eap;
    struct ike_delete_pld d;
    struct ike_skf_pld skf;
    const uint8_t *nb;
    size_t nl;

    p.len = 15; /* nonce shorter than 16 bytes */
    assert_false(ike_nonce_parse(&p, &nb, &nl));
    p.len = 16;
    assert_true(ike_nonce_parse(&p, &nb, &nl));
    /* EAP length must equal the payload length */
    body[0] = 2, body[1] = 9, body[2] = 0, body[3] = 6, body[4] = 1;
    p.len = 6;
    assert_true(ike_eap_parse(&p, &eap));
    assert_int_equal(eap.type, 1);
    p.len = 7;
    assert_false(ike_eap_parse(&p, &eap));
    /* delete of an IKE SA carries no SPI; of ESP SAs, 4-byte SPIs exactly */
    memset(body, 0, sizeof(body));
    body[0] = 1;
    p.len = 4;
    assert_true(ike_delete_parse(&p, &d));
    body[0] = 3, body[1] = 4, body[3] = 2;
    p.len = 12;
    assert_true(ike_delete_parse(&p, &d));
    assert_int_equal(d.nspi, 2);
    p.len = 11;
    assert_false(ike_delete_parse(&p, &d));
    /* fragment numbers start at 1 and do not exceed the total */
    memset(body, 0, sizeof(body));
    body[1] = 3, body[3] = 2;
    p.len = 10;
    assert_false(ike_skf_parse(&p, &skf));
    body[1] = 2;
    assert_true(ike_skf_parse(&p, &skf));
}

/* An IKE_SA_INIT request of a strongSwan 5.9.8 client (tests/unit/data). */
static void test_strongswan_sa_init(void **state)
{
    FILE *f = fopen(TEST_DATA_DIR "/strongswan-ike-sa-init.bin", "rb");
    uint8_t buf[4096];
    size_t n, bad = 99;
    struct ike_msg *m = calloc(1, sizeof(*m));
    struct ike_sa_pld sa;
    struct ike_ke_pld ke;

    assert_non_null(f);
    n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    assert_int_equal(ike_msg_parse(buf, n, m), IKE_PARSE_OK);
    assert_int_equal(m->hdr.exchange, IKE_EXCH_SA_INIT);
    assert_int_equal(m->hdr.flags & IKE_FLAG_INITIATOR, IKE_FLAG_INITIATOR);
    assert_int_equal(m->hdr.msg_id, 0);
    assert_true(ike_msg_check_payloads(m, &bad));
    assert_true(ike_sa_parse(ike_msg_find(m, IKE_PLD_SA, 0), &sa));
    assert_true(sa.nprop >= 1);
    assert_int_equal(sa.prop[0].protocol, 1);
    assert_true(ike_ke_parse(ike_msg_find(m, IKE_PLD_KE, 0), &ke));
    assert_non_null(ike_msg_find(m, IKE_PLD_NONCE, 0));
    /* NAT_DETECTION_SOURCE_IP (16388) and _DESTINATION_IP (16389) */
    {
        bool src = false, dst = false;
        for (size_t i = 0; i < m->npld; i++) {
            struct ike_notify_pld nt;
            if (m->pld[i].type == IKE_PLD_NOTIFY && ike_notify_parse(&m->pld[i], &nt)) {
                src = src || nt.type == 16388;
                dst = dst || nt.type == 16389;
            }
        }
        assert_true(src && dst);
    }
    free(m);
}

/* An SK payload sealed with a key opens with it, to the same inner payloads, and
 * not after any byte of the message changed. */
static void sk_seal_open(const struct ike_sk_keys *kp)
{
    struct ike_sk_keys k = *kp;
    struct ike_hdr h = {.exchange = IKE_EXCH_AUTH, .flags = IKE_FLAG_INITIATOR, .msg_id = 1};
    struct ike_builder inner, bd;
    struct ike_msg *m = calloc(1, sizeof(*m)), *in = calloc(1, sizeof(*in));
    struct ike_id_pld id = {.type = 2, .data = fqdn, .len = sizeof(fqdn) - 1}, got;
    uint8_t plain[512];

    /* the inner chain: build it as a message and take the part after the header */
    ike_build_begin(&inner, &h);
    ike_id_build(&inner, IKE_PLD_IDI, &id);
    ike_build_raw(&inner, IKE_PLD_NONCE, false, nonce, sizeof(nonce));
    assert_true(ike_build_finish(&inner));
    ike_build_begin(&bd, &h);
    assert_true(ike_sk_seal(&k, &bd, IKE_PLD_IDI, inner.buf.data + IKE_HDR_LEN, inner.buf.len - IKE_HDR_LEN));
    assert_int_equal(ike_msg_parse(bd.buf.data, bd.buf.len, m), IKE_PARSE_OK);
    assert_int_equal(m->inner_first, IKE_PLD_IDI);
    assert_int_equal(ike_sk_open(&k, bd.buf.data, bd.buf.len, m, plain, in), IKE_SK_OK);
    assert_int_equal(in->npld, 2);
    assert_true(ike_id_parse(ike_msg_find(in, IKE_PLD_IDI, 0), &got));
    assert_memory_equal(got.data, fqdn, got.len);
    for (size_t i = 0; i < bd.buf.len; i += 7) {
        bd.buf.data[i] ^= 0x40;
        if (ike_msg_parse(bd.buf.data, bd.buf.len, m) == IKE_PARSE_OK)
            assert_int_equal(ike_sk_open(&k, bd.buf.data, bd.buf.len, m, plain, in), IKE_SK_NOT_AUTHENTIC);
        bd.buf.data[i] ^= 0x40;
    }
    ike_buf_fini(&inner.buf);
    ike_buf_fini(&bd.buf);
    free(m);
    free(in);
}

static void test_sk_seal_open(void **state)
{
    static const uint8_t key[36] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    static const uint8_t ikey[64] = {9, 9, 9};
    struct ike_sk_keys gcm = {.alg = IKE_AEAD_AES_GCM_16, .key = key, .key_len = 20};
    struct ike_sk_keys chacha = {.alg = IKE_AEAD_CHACHA20_POLY1305, .key = key, .key_len = 36};
    struct ike_sk_keys cbc1 = {.cbc = true, .key = key, .key_len = 16, .integ = IKE_INTEG_HMAC_SHA1_96, .integ_key = ikey};
    struct ike_sk_keys cbc2 = {.cbc = true, .key = key, .key_len = 32, .integ = IKE_INTEG_HMAC_SHA2_512_256,
                               .integ_key = ikey};

    sk_seal_open(&gcm);
    sk_seal_open(&chacha);
    sk_seal_open(&cbc1);
    sk_seal_open(&cbc2);
}

/* RFC 7383 reassembly: out of order, duplicates, a forged fragment, a newer message. */
static void test_fragments(void **state)
{
    static const uint8_t key[36] = {5};
    struct ike_sk_keys k = {.alg = IKE_AEAD_AES_GCM_16, .key = key, .key_len = 20};
    struct ike_hdr h = {.exchange = IKE_EXCH_AUTH, .flags = IKE_FLAG_INITIATOR, .msg_id = 1};
    struct ike_id_pld id = {.type = 2, .data = fqdn, .len = sizeof(fqdn) - 1}, got;
    struct ike_msg *m = calloc(1, sizeof(*m)), *in = calloc(1, sizeof(*in));
    struct ike_builder chain, fr[3];
    struct ike_frag f;
    const uint8_t *c;
    size_t cl, cut[4];
    bool done = false;

    ike_build_begin(&chain, &h);
    ike_id_build(&chain, IKE_PLD_IDI, &id);
    ike_build_raw(&chain, IKE_PLD_NONCE, false, nonce, sizeof(nonce));
    assert_true(ike_build_finish(&chain));
    c = chain.buf.data + IKE_HDR_LEN;
    cl = chain.buf.len - IKE_HDR_LEN;
    cut[0] = 0, cut[1] = cl / 3, cut[2] = 2 * cl / 3, cut[3] = cl;
    for (int i = 0; i < 3; i++) {
        ike_build_begin(&fr[i], &h);
        assert_true(ike_skf_seal(&k, &fr[i], (uint16_t)(i + 1), 3, IKE_PLD_IDI, c + cut[i], cut[i + 1] - cut[i]));
    }
    ike_frag_init(&f);
    /* a fragment that did not open (no plaintext) is refused and not counted */
    assert_int_equal(ike_msg_parse(fr[2].buf.data, fr[2].buf.len, m), IKE_PARSE_OK);
    assert_int_equal(ike_frag_put(&f, m, NULL, 0, in, &done), IKE_SK_NOT_AUTHENTIC);
    assert_false(done);
    assert_int_equal(f.have, 0);
    assert_null(f.part[2]);
    /* 3, 1, 1 again (duplicate), a forged 2, then 2 */
    assert_int_equal(ike_frag_add(&f, &k, fr[2].buf.data, fr[2].buf.len, m, in, &done), IKE_SK_OK);
    assert_false(done);
    for (int rep = 0; rep < 2; rep++) {
        assert_int_equal(ike_msg_parse(fr[0].buf.data, fr[0].buf.len, m), IKE_PARSE_OK);
        assert_int_equal(ike_frag_add(&f, &k, fr[0].buf.data, fr[0].buf.len, m, in, &done), IKE_SK_OK);
        assert_false(done);
    }
    fr[1].buf.data[fr[1].buf.len - 1] ^= 1;
    assert_int_equal(ike_msg_parse(fr[1].buf.data, fr[1].buf.len, m), IKE_PARSE_OK);
    assert_int_equal(ike_frag_add(&f, &k, fr[1].buf.data, fr[1].buf.len, m, in, &done), IKE_SK_NOT_AUTHENTIC);
    assert_false(done);
    fr[1].buf.data[fr[1].buf.len - 1] ^= 1;
    assert_int_equal(ike_frag_add(&f, &k, fr[1].buf.data, fr[1].buf.len, m, in, &done), IKE_SK_OK);
    assert_true(done);
    assert_int_equal(in->npld, 2);
    assert_true(ike_id_parse(ike_msg_find(in, IKE_PLD_IDI, 0), &got));
    assert_memory_equal(got.data, fqdn, got.len);
    ike_frag_fini(&f);
    /* a fragment of an older message than the one being collected is ignored */
    ike_frag_init(&f);
    f.total = 3;
    f.msg_id = 5;
    assert_int_equal(ike_msg_parse(fr[0].buf.data, fr[0].buf.len, m), IKE_PARSE_OK);
    assert_int_equal(ike_frag_add(&f, &k, fr[0].buf.data, fr[0].buf.len, m, in, &done), IKE_SK_OK);
    assert_int_equal(f.have, 0);
    ike_frag_fini(&f);
    for (int i = 0; i < 3; i++)
        ike_buf_fini(&fr[i].buf);
    ike_buf_fini(&chain.buf);
    free(m);
    free(in);
}

/* The responder's IKE_SA_INIT choices (RFC 7296 3.3.6, 2.10, 3.1; RFC 5282). */
static void test_init_choices(void **state)
{
    static const uint8_t nonce16[16] = {7};
    struct sockaddr_storage l = {.ss_family = AF_INET}, p = {.ss_family = AF_INET};
    struct ike_hdr h = {.exchange = IKE_EXCH_SA_INIT, .flags = IKE_FLAG_INITIATOR, .version = 0x2f};
    struct ike_msg *req = calloc(1, sizeof(*req)), *resp = calloc(1, sizeof(*resp));
    struct ike_dh *dh = ike_dh_new(IKE_DH_ECP256);
    uint8_t pub[64];
    struct ike_init st;
    struct ike_buf out;
    struct ike_sa_pld sa;

    assert_int_equal(ike_dh_public(dh, pub, sizeof(pub)), 64);
    for (int c = 0; c < 5; c++) {
        struct ike_sa_pld offer = {.nprop = 1};
        struct ike_builder bd;
        size_t nlen = 32;

        offer.prop[0] = (struct ike_proposal){.num = 1, .protocol = 1, .ntrans = 3};
        offer.prop[0].trans[0] = (struct ike_transform){.type = IKE_TRANS_ENCR, .id = 20, .key_len = 192};
        offer.prop[0].trans[1] = (struct ike_transform){.type = IKE_TRANS_PRF, .id = 7};
        offer.prop[0].trans[2] = (struct ike_transform){.type = IKE_TRANS_DH, .id = 19};
        if (c == 1) /* a transform type we do not understand makes the proposal unacceptable */
            offer.prop[0].trans[offer.prop[0].ntrans++] = (struct ike_transform){.type = 6, .id = 36};
        if (c == 2) /* an AEAD with an integrity algorithm too */
            offer.prop[0].trans[offer.prop[0].ntrans++] = (struct ike_transform){.type = IKE_TRANS_INTEG, .id = 12};
        if (c == 3) /* a nonce shorter than half the PRF's key size (SHA-512: 32 bytes) */
            nlen = 16;
        ike_build_begin(&bd, &h);
        ike_sa_build(&bd, &offer);
        ike_ke_build(&bd, &(struct ike_ke_pld){.group = 19, .data = pub, .len = 64});
        ike_build_raw(&bd, IKE_PLD_NONCE, false, c == 3 ? nonce16 : nonce, nlen);
        assert_true(ike_build_finish(&bd));
        assert_int_equal(ike_msg_parse(bd.buf.data, bd.buf.len, req), IKE_PARSE_OK);
        ike_init_respond(req, &l, &p, NULL, &st, &out);
        assert_int_equal(st.status, c == 1 || c == 2 ? IKE_INIT_NO_PROPOSAL : c == 3 ? IKE_INIT_INVALID_SYNTAX : IKE_INIT_OK);
        assert_int_equal(ike_msg_parse(out.data, out.len, resp), IKE_PARSE_OK);
        assert_int_equal(resp->hdr.version, 0x20); /* whatever minor version the peer sent */
        if (st.status == IKE_INIT_OK) {
            /* AES-GCM-192 is usable once chosen */
            struct ike_sk_keys k;
            struct ike_builder sb;
            assert_true(ike_sa_parse(ike_msg_find(resp, IKE_PLD_SA, 0), &sa));
            assert_int_equal(sa.prop[0].trans[0].key_len, 192);
            ike_init_sk_keys(&st, false, &k);
            ike_build_begin(&sb, &h);
            assert_true(ike_sk_seal(&k, &sb, IKE_PLD_NONCE, (const uint8_t *)"\0\0\0\024abcdefghijklmnop", 20));
            ike_buf_fini(&sb.buf);
            ike_keys_wipe(&st.keys);
        }
        ike_init_fini(&st);
        ike_buf_fini(&out);
        ike_buf_fini(&bd.buf);
    }
    ike_dh_free(dh);
    free(req);
    free(resp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),       cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_corruptions),     cmocka_unit_test(test_header_rules),
        cmocka_unit_test(test_payload_rules),   cmocka_unit_test(test_strongswan_sa_init),
        cmocka_unit_test(test_sk_seal_open),     cmocka_unit_test(test_init_choices),
        cmocka_unit_test(test_fragments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
