/* Crypto glue of the IKEv2 engine over OpenSSL 3.0 EVP (RFC 7296 2.13-2.14,
 * RFC 5903, RFC 7748, RFC 4106/5282, RFC 7634): Diffie-Hellman groups with the
 * RFC 6989 checks of the peer's public value, the PRFs and prf+, SKEYSEED and the
 * IKE SA keys, and the SK payload's AEAD ciphers. No primitive is written here. */
#ifndef RAVEN_IKE_CRYPTO_H
#define RAVEN_IKE_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* IANA "Transform Type 4" numbers */
enum ike_dh_group {
    IKE_DH_MODP1024 = 2,
    IKE_DH_MODP2048 = 14,
    IKE_DH_MODP3072 = 15,
    IKE_DH_MODP4096 = 16,
    IKE_DH_ECP256 = 19,
    IKE_DH_ECP384 = 20,
    IKE_DH_ECP521 = 21,
    IKE_DH_CURVE25519 = 31,
};

/* IANA "Transform Type 2" numbers */
enum ike_prf {
    IKE_PRF_HMAC_SHA1 = 2,
    IKE_PRF_HMAC_SHA2_256 = 5,
    IKE_PRF_HMAC_SHA2_384 = 6,
    IKE_PRF_HMAC_SHA2_512 = 7,
};

struct ike_dh;

/* Length of the group's public value on the wire (KE payload data), 0 if unknown. */
size_t ike_dh_pub_len(enum ike_dh_group g);
/* A fresh key pair of group @g; NULL if the group is unsupported. */
struct ike_dh *ike_dh_new(enum ike_dh_group g);
/* A key pair from a known private key (known-answer tests). */
struct ike_dh *ike_dh_new_from_priv(enum ike_dh_group g, const uint8_t *priv, size_t len);
void ike_dh_free(struct ike_dh *dh);
/* Our public value in the KE payload format (MODP: big-endian, padded to the
 * prime's length; ECP: x || y; Curve25519: u). Returns its length, 0 on error. */
size_t ike_dh_public(const struct ike_dh *dh, uint8_t *out, size_t cap);
/* Checks the peer's public value (RFC 6989: MODP 1 < y < p-1; ECP on the curve;
 * Curve25519: not all-zero result) and derives the shared secret g^ir, padded to
 * the group's length. Returns its length, 0 when the value is refused. */
size_t ike_dh_derive(const struct ike_dh *dh, const uint8_t *peer, size_t peer_len, uint8_t *out, size_t cap);

/* out = SHA-1(data) (NAT detection); false on error. */
bool ike_sha1(const uint8_t *data, size_t len, uint8_t out[20]);

size_t ike_prf_len(enum ike_prf prf);
/* out = prf(key, data); returns the output length, 0 on error. */
size_t ike_prf(enum ike_prf prf, const uint8_t *key, size_t klen, const uint8_t *data, size_t dlen, uint8_t *out);
/* prf+ (RFC 7296 2.13): @out_len bytes of T1 | T2 | ...; false on error or when
 * more than 255 blocks would be needed. */
bool ike_prf_plus(enum ike_prf prf, const uint8_t *key, size_t klen, const uint8_t *seed, size_t slen, uint8_t *out,
                  size_t out_len);

/* SKEYSEED = prf(Ni | Nr, g^ir) and the seven keys from
 * prf+(SKEYSEED, Ni | Nr | SPIi | SPIr), in RFC 7296 order. */
struct ike_keys {
    uint8_t sk_d[64], sk_ai[64], sk_ar[64], sk_ei[36], sk_er[36], sk_pi[64], sk_pr[64];
    size_t prf_len, integ_len, encr_len; /* encr_len includes an AEAD salt */
};

bool ike_derive_keys(enum ike_prf prf, const uint8_t *ni, size_t ni_len, const uint8_t *nr, size_t nr_len,
                     const uint8_t *gir, size_t gir_len, const uint8_t spi_i[8], const uint8_t spi_r[8],
                     size_t integ_len, size_t encr_len, struct ike_keys *k);
/* The keys of a new IKE SA made by rekeying (RFC 7296 2.18): SKEYSEED =
 * prf_old(SK_d (old), g^ir (new) | Ni | Nr), with the old SA's PRF, then the same
 * expansion with the new SA's PRF. */
bool ike_derive_rekey_keys(enum ike_prf old_prf, const uint8_t *sk_d_old, size_t sk_d_len, enum ike_prf prf,
                           const uint8_t *ni, size_t ni_len, const uint8_t *nr, size_t nr_len, const uint8_t *gir,
                           size_t gir_len, const uint8_t spi_i[8], const uint8_t spi_r[8], size_t integ_len,
                           size_t encr_len, struct ike_keys *k);
/* Wipes the keys. */
void ike_keys_wipe(struct ike_keys *k);

/* AEAD for the SK payload: AES-GCM with a 16-byte ICV (RFC 5282, key = AES key +
 * 4-byte salt) and ChaCha20-Poly1305 (RFC 7634, 32-byte key + 4-byte salt). The
 * nonce is salt | 8-byte IV. */
enum ike_aead {
    IKE_AEAD_AES_GCM_16 = 20,
    IKE_AEAD_CHACHA20_POLY1305 = 28,
};

/* Non-AEAD encryption and integrity for SK (IANA transform types 1 and 3). */
#define IKE_ENCR_AES_CBC 12

enum ike_integ {
    IKE_INTEG_HMAC_SHA1_96 = 2,
    IKE_INTEG_HMAC_SHA2_256_128 = 12,
    IKE_INTEG_HMAC_SHA2_384_192 = 13,
    IKE_INTEG_HMAC_SHA2_512_256 = 14,
};

/* Key and ICV lengths of an integrity algorithm, 0 when unknown. */
size_t ike_integ_key_len(enum ike_integ alg);
size_t ike_integ_icv_len(enum ike_integ alg);
/* out = the ICV (truncated HMAC) of @data. */
bool ike_integ(enum ike_integ alg, const uint8_t *key, const uint8_t *data, size_t len, uint8_t *out);
/* AES-CBC without padding (the caller pads): @len a multiple of 16; key 16/24/32. */
bool ike_aes_cbc(bool enc, const uint8_t *key, size_t key_len, const uint8_t iv[16], const uint8_t *in, size_t len,
                 uint8_t *out);

bool ike_aead_seal(enum ike_aead alg, const uint8_t *key, size_t key_len, const uint8_t iv[8], const uint8_t *aad,
                   size_t aad_len, const uint8_t *pt, size_t len, uint8_t *ct, uint8_t tag[16]);
bool ike_aead_open(enum ike_aead alg, const uint8_t *key, size_t key_len, const uint8_t iv[8], const uint8_t *aad,
                   size_t aad_len, const uint8_t *ct, size_t len, const uint8_t tag[16], uint8_t *pt);

#endif
