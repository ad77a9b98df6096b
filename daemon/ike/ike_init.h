/* The responder's half of IKE_SA_INIT (RFC 7296 1.2, 2.10, 2.23): choose a
 * proposal, check the KE group, generate our DH value, nonce and SPI, derive the
 * IKE SA keys and build the response with NAT detection and, on request, IKE
 * fragmentation support. Suites: AES-GCM-16,
 * ChaCha20-Poly1305, or AES-CBC with HMAC-SHA1-96/SHA2; PRF HMAC-SHA2; DH 14-16,
 * 19-21, 31. */
#ifndef RAVEN_IKE_INIT_H
#define RAVEN_IKE_INIT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "daemon/ike/ike_crypto.h"
#include "daemon/ike/ike_pld.h"

enum ike_init_status {
    IKE_INIT_OK = 0,
    IKE_INIT_INVALID_SYNTAX,     /* answered with INVALID_SYNTAX */
    IKE_INIT_NO_PROPOSAL,        /* answered with NO_PROPOSAL_CHOSEN */
    IKE_INIT_INVALID_KE,         /* answered with INVALID_KE_PAYLOAD naming our group */
    IKE_INIT_INTERNAL,           /* no answer (out of memory, RNG) */
};

struct ike_nonces {
    size_t ni_len, nr_len;
    uint8_t ni[256], nr[32];
};

struct ike_init {
    enum ike_init_status status;
    uint8_t spi_i[8], spi_r[8];
    enum ike_dh_group group;
    enum ike_prf prf;
    bool cbc;            /* AES-CBC with @integ, else @aead */
    enum ike_aead aead;
    enum ike_integ integ;
    size_t encr_key_len; /* with the 4-byte salt for AEAD */
    size_t integ_key_len;
    /* the IKE_SA_INIT nonces: read by IKE_AUTH (AUTH payloads, the first child
     * SA's keys) and freed when the session is established (an IKE SA rekey
     * uses its own exchange's nonces); NULL after */
    struct ike_nonces *n;
    bool nat_peer, nat_local; /* NAT detected in front of the peer / of us */
    bool fragmentation;       /* both sides announced IKE fragmentation */
    bool sig_hash;            /* the peer announced RFC 7427 signature hashes */
    bool ppk;                 /* both sides announced USE_PPK (RFC 8784) */
    uint16_t sig_hashes;      /* which: bit N = hash identifier N (PKI_HASH_BIT) */
    struct ike_keys keys;
};

/* A set of acceptable algorithms: one bit per choice. */
enum ike_encr_bit {
    IKE_EB_AES_GCM_128 = 1u << 0,
    IKE_EB_AES_GCM_192 = 1u << 1,
    IKE_EB_AES_GCM_256 = 1u << 2,
    IKE_EB_AES_CBC_128 = 1u << 3,
    IKE_EB_AES_CBC_192 = 1u << 4,
    IKE_EB_AES_CBC_256 = 1u << 5,
    IKE_EB_CHACHA20_POLY1305 = 1u << 6,
};

struct ike_algs {
    uint32_t encr;   /* enum ike_encr_bit */
    uint32_t integ;  /* 1 << enum ike_integ */
    uint32_t prf;    /* 1 << enum ike_prf */
    uint32_t groups; /* 1 << enum ike_dh_group */
};

/* What Raven accepts when the configuration names no proposal: every suite it
 * implements except the legacy ones (MODP-1024, PRF HMAC-SHA1). */
extern const struct ike_algs ike_algs_default;
/* The bit of an encryption transform (IANA id, key length in bits; 0 if unknown). */
uint32_t ike_encr_bit(uint16_t id, uint16_t key_len);

struct ike_init_opts {
    bool fragmentation; /* announce IKE fragmentation (RFC 7383) when the peer does */
    const struct ike_algs *algs; /* NULL: ike_algs_default */
    /* CERTREQ: SHA-1 hashes of the trusted CAs' public keys (none: no CERTREQ) */
    const uint8_t (*certreq)[20];
    size_t ncertreq;
    bool ppk; /* answer USE_PPK (RFC 8784) when the peer announces it */
};

/* Answers the IKE_SA_INIT request @req received from @peer on @local; the reply is
 * written to @out (which the caller frees with ike_buf_fini) unless the status is
 * IKE_INIT_INTERNAL. @opts may be NULL. */
enum ike_init_status ike_init_respond(const struct ike_msg *req, const struct sockaddr_storage *local,
                                      const struct sockaddr_storage *peer, const struct ike_init_opts *opts,
                                      struct ike_init *st, struct ike_buf *out);

/* Frees what ike_init_respond() / ike_init_answer() left in @st (its nonces). */
void ike_init_fini(struct ike_init *st);

/* The same in three steps, so that the costly one runs on a crypto thread
 * (daemon/base/cpool.h): ike_init_choose parses @req, chooses the proposal,
 * draws our nonce and SPI and copies what the computation needs into @w (an
 * error answer, if any, into @out as ike_init_respond's); ike_init_compute,
 * on any thread, touches only @w: our DH key pair, g^ir, SKEYSEED and the
 * seven keys; ike_init_answer moves the result into @st (wiping it in @w) and
 * builds the response (or INVALID_SYNTAX when the peer's KE value failed the
 * RFC 6989 checks). */
struct ike_init_work {
    struct ike_init in;
    struct ike_hdr hdr;        /* the request's */
    struct ike_proposal chosen; /* the proposal answered */
    uint8_t ke[512], pub[512]; /* the peer's KE data, ours */
    size_t ke_len, pub_len;
    bool computed, dh_ok;
};
enum ike_init_status ike_init_choose(const struct ike_msg *req, const struct sockaddr_storage *local,
                                     const struct sockaddr_storage *peer, const struct ike_init_opts *opts,
                                     struct ike_init_work *w, struct ike_buf *out);
void ike_init_compute(struct ike_init_work *w);
enum ike_init_status ike_init_answer(struct ike_init_work *w, const struct sockaddr_storage *local,
                                     const struct sockaddr_storage *peer, const struct ike_init_opts *opts,
                                     struct ike_init *st, struct ike_buf *out);

/* Rekeying an IKE SA (CREATE_CHILD_SA, RFC 7296 1.3.2): the first proposal of
 * @sa (protocol IKE with the initiator's new 8-byte SPI) that @algs allows; fills
 * the algorithms and spi_i of @st and the transforms to answer with in @chosen
 * (whose SPI the caller sets). */
bool ike_init_choose_rekey(const struct ike_algs *algs, const struct ike_sa_pld *sa, uint16_t ke_group,
                           struct ike_init *st, struct ike_proposal *chosen);

/* The SK keys of the initiator's (@initiator) or responder's messages. */
struct ike_sk_keys;
void ike_init_sk_keys(const struct ike_init *st, bool initiator, struct ike_sk_keys *k);

/* NAT_DETECTION_*_IP data: SHA-1(SPIi | SPIr | address | port). */
void ike_nat_hash(const uint8_t spi_i[8], const uint8_t spi_r[8], const struct sockaddr_storage *a, uint8_t out[20]);

#endif
