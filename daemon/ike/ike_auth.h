/* AUTH payload data (RFC 7296 2.15): the octets each side signs and the shared
 * key message integrity code. */
#ifndef RAVEN_IKE_AUTH_H
#define RAVEN_IKE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/ike/ike_crypto.h"

/* <SignedOctets> = RealMessage | Nonce of the other side | prf(SK_p, ID body),
 * where RealMessage is the sender's IKE_SA_INIT message as sent, SK_p is SK_pi
 * for the initiator and SK_pr for the responder, and the ID body is the IDi/IDr
 * payload without its generic header. Returns a buffer the caller frees. */
uint8_t *ike_auth_signed_octets(enum ike_prf prf, const uint8_t *real_msg, size_t msg_len, const uint8_t *nonce,
                                size_t nonce_len, const uint8_t *sk_p, size_t sk_p_len, const uint8_t *id_body,
                                size_t id_len, size_t *out_len);

/* Shared key AUTH data: prf(prf(key, "Key Pad for IKEv2"), <SignedOctets>).
 * Returns its length (the PRF's), 0 on error. */
size_t ike_auth_psk(enum ike_prf prf, const uint8_t *key, size_t key_len, const uint8_t *signed_octets,
                    size_t so_len, uint8_t *out);

/* Constant-time comparison of a received AUTH with the expected one. */
bool ike_auth_equal(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len);

#endif
