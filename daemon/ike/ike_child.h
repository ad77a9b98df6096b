/* Child SAs (RFC 7296 1.3, 2.9, 2.17): choosing an ESP proposal, narrowing the
 * traffic selectors, and the keying material. */
#ifndef RAVEN_IKE_CHILD_H
#define RAVEN_IKE_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/ike/ike_crypto.h"
#include "daemon/ike/ike_init.h"
#include "daemon/ike/ike_pld.h"

/* The ESP transforms a profile accepts: encr uses enum ike_encr_bit, integ
 * 1 << enum ike_integ (only with AES-CBC); esn says whether extended sequence
 * numbers are accepted (when the peer offers both, Raven takes them). */
struct ike_esp_algs {
    uint32_t encr, integ;
    bool esn;
};

struct ike_child_alg {
    uint8_t prop_num;
    uint32_t spi_peer;   /* the peer's inbound SPI: our outbound */
    uint16_t encr_id, encr_bits; /* encr_bits 0 for ChaCha20-Poly1305 */
    uint16_t integ;      /* 0 with AEAD */
    bool esn;
    uint16_t dh_group;   /* 0: no PFS (always 0 in IKE_AUTH) */
    size_t encr_key_len; /* with the 4-byte salt for AEAD */
    size_t integ_key_len;
};

/* Picks the first ESP proposal of @sa that @algs allows (DH transforms are taken
 * only when @want_dh is set, the PFS group of a CREATE_CHILD_SA exchange). */
bool ike_child_choose(const struct ike_sa_pld *sa, const struct ike_esp_algs *algs, uint16_t want_dh,
                      struct ike_child_alg *out);
/* The SA payload answering with @c and our inbound SPI @spi_ours. */
void ike_child_sa_reply(const struct ike_child_alg *c, uint32_t spi_ours, struct ike_sa_pld *out);

/* KEYMAT = prf+(SK_d, [g^ir |] Ni | Nr): the initiator-to-responder keys first
 * (encryption then integrity), then the responder-to-initiator ones. */
struct ike_child_keys {
    uint8_t ei[36], ai[64], er[36], ar[64];
};
bool ike_child_keymat(enum ike_prf prf, const uint8_t *sk_d, size_t sk_d_len, const uint8_t *gir, size_t gir_len,
                      const uint8_t *ni, size_t ni_len, const uint8_t *nr, size_t nr_len, const struct ike_child_alg *c,
                      struct ike_child_keys *k);

/* Narrows @offered (the peer's selectors) to those within @allowed: each result is
 * the intersection of an offered and an allowed selector (address range, protocol,
 * ports). Returns false when nothing is left (TS_UNACCEPTABLE). */
bool ike_ts_narrow(const struct ike_ts_pld *offered, const struct ike_ts_pld *allowed, struct ike_ts_pld *out);
/* @ts kept in @out (its former entries freed); false, @out emptied, when memory
 * runs out. */
bool ike_tss_set(struct ike_tss *out, const struct ike_ts_pld *ts);
/* The entries of @tss in @out. */
void ike_tss_get(const struct ike_tss *tss, struct ike_ts_pld *out);
/* Frees what @tss holds; it is left empty. */
void ike_tss_free(struct ike_tss *tss);
/* Its entry @i (below tss->nts). */
const struct ike_ts *ike_tss_at(const struct ike_tss *tss, unsigned i);
/* @ts added at its end; false when it is full (IKE_MAX_TS) or memory runs out. */
bool ike_tss_add(struct ike_tss *tss, const struct ike_ts *ts);
/* Only its first @n entries kept. */
void ike_tss_trunc(struct ike_tss *tss, uint8_t n);
/* A selector covering exactly one IPv4 address (all protocols and ports). */
void ike_ts_host4(uint32_t addr, struct ike_ts *ts);
/* A selector for an IPv4 prefix (@addr/@len), all protocols and ports. */
void ike_ts_prefix4(uint32_t addr, unsigned len, struct ike_ts *ts);
/* The same for an IPv6 prefix. */
void ike_ts_prefix6(const uint8_t addr[16], unsigned len, struct ike_ts *ts);
/* Prefixes (a session's split subnets) as selectors, one each in their order. */
struct sess_prefixes;
void ike_ts_of_prefixes(const struct sess_prefixes *ps, struct ike_ts_pld *out);

#endif
