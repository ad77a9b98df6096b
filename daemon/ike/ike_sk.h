/* The Encrypted and Authenticated payload (SK, RFC 7296 3.14).
 *  AEAD (RFC 5282): body = IV(8) | ciphertext of (inner payloads | padding | pad
 *    length) | ICV(16); the associated data is the message up to the IV.
 *  AES-CBC with HMAC: body = IV(16) | ciphertext (a multiple of 16 bytes) | ICV, the
 *    ICV a truncated HMAC over the whole message up to it, checked before decryption. */
#ifndef RAVEN_IKE_SK_H
#define RAVEN_IKE_SK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/ike/ike_crypto.h"
#include "daemon/ike/ike_msg.h"

#define IKE_SK_IV_LEN 8
#define IKE_SK_ICV_LEN 16

struct ike_sk_keys {
    bool cbc;            /* AES-CBC with an integrity algorithm, else AEAD */
    enum ike_aead alg;   /* AEAD */
    const uint8_t *key;  /* AEAD: cipher key | 4-byte salt; CBC: the AES key */
    size_t key_len;
    enum ike_integ integ; /* CBC */
    const uint8_t *integ_key;
};

/* What opening an SK payload found: a message that does not authenticate is
 * dropped silently (RFC 7296 2.21.2); an authentic one with bad contents is
 * answered (INVALID_SYNTAX, or UNSUPPORTED_CRITICAL_PAYLOAD naming inner->bad_type). */
enum ike_sk_rc {
    IKE_SK_OK = 0,
    IKE_SK_NOT_AUTHENTIC,
    IKE_SK_INVALID_SYNTAX,
    IKE_SK_UNKNOWN_CRITICAL,
};

/* Decrypts and checks the SK payload of @msg (parsed from @buf, @len bytes) and
 * parses the payloads inside into @inner (whose header is copied from @msg).
 * @plain receives the decrypted bytes, which @inner points into; it must hold the
 * SK body length. */
enum ike_sk_rc ike_sk_open(const struct ike_sk_keys *k, const uint8_t *buf, size_t len, const struct ike_msg *msg,
                           uint8_t *plain, struct ike_msg *inner);

/* Reassembly of an IKE message sent in Encrypted Fragment payloads (SKF, RFC 7383):
 * each fragment is authenticated and decrypted on arrival; when all are there,
 * their contents in order are the payload chain of the message. */
#define IKE_MAX_FRAGMENTS 32

struct ike_frag {
    uint32_t msg_id;
    uint16_t total, have;
    uint8_t first; /* the first inner payload's type, from fragment 1 */
    uint8_t *part[IKE_MAX_FRAGMENTS];
    size_t part_len[IKE_MAX_FRAGMENTS];
    size_t bytes; /* held in parts: at most IKE_MAX_MSG_LEN */
    uint8_t *whole; /* the reassembled chain, which the completed @inner points into */
    size_t whole_len;
};

void ike_frag_init(struct ike_frag *f);
void ike_frag_fini(struct ike_frag *f);
/* Adds the SKF message @msg (parsed from @buf, @len bytes). When it completes the
 * message, *complete is set and @inner holds its payloads (valid until
 * ike_frag_fini). A fragment that does not authenticate is IKE_SK_NOT_AUTHENTIC
 * and changes nothing. */
enum ike_sk_rc ike_frag_add(struct ike_frag *f, const struct ike_sk_keys *k, const uint8_t *buf, size_t len,
                            const struct ike_msg *msg, struct ike_msg *inner, bool *complete);

/* ike_frag_add in two halves: the fragment authenticated and decrypted (on any
 * thread; *@plain, of *@plen bytes, is the caller's, NULL unless IKE_SK_OK),
 * then added to @f (which takes @plain) on the thread that owns @f; a NULL
 * @plain (a fragment that did not open) is IKE_SK_NOT_AUTHENTIC and changes
 * nothing. */
enum ike_sk_rc ike_frag_open(const struct ike_sk_keys *k, const uint8_t *buf, size_t len, const struct ike_msg *msg,
                             uint8_t **plain, size_t *plen);
enum ike_sk_rc ike_frag_put(struct ike_frag *f, const struct ike_msg *msg, uint8_t *plain, size_t plen,
                            struct ike_msg *inner, bool *complete);

/* Ends a message under construction with an SK payload holding @inner (a payload
 * chain whose first payload is of type @first): pads, encrypts with a fresh IV and
 * sets the lengths. The builder's buffer is then the complete message. */
bool ike_sk_seal(const struct ike_sk_keys *k, struct ike_builder *bd, uint8_t first, const uint8_t *inner,
                 size_t inner_len);
/* The same for fragment @number (1-based) of @total carrying @part, a slice of the
 * payload chain (RFC 7383 2.5; @first counts only in fragment 1). */
bool ike_skf_seal(const struct ike_sk_keys *k, struct ike_builder *bd, uint16_t number, uint16_t total,
                  uint8_t first, const uint8_t *part, size_t part_len);

#endif
