/* Post-quantum preshared keys in IKE_AUTH (RFC 8784), the responder's side.
 *
 * IKE_SA_INIT: a client announces USE_PPK; Raven answers it when some profile
 * of the generation uses PPKs (ike_init.c, ike_conf.h ppk_any), so s->in.ppk
 * says both sides did. IKE_AUTH: the request carrying the client's AUTH (the
 * first with a shared key or a signature, the last with EAP) has a
 * PPK_IDENTITY notify (PPK_ID_FIXED: 2, then the PPK_ID's octets), an AUTH
 * made with SK_pi' and, unless the client requires the PPK, a NO_PPK_AUTH
 * notify whose data is the AUTH data made with SK_pi. With the PPK (the
 * profile's policy optional or required and the PPK_ID configured) Raven
 * replaces SK_d, SK_pi and SK_pr by
 *     SK_d' = prf+(PPK, SK_d), SK_pi' = prf+(PPK, SK_pi), SK_pr' = prf+(PPK, SK_pr)
 * (each as long as the PRF's output), checks AUTH with SK_pi', makes its own
 * with SK_pr' and answers an empty PPK_IDENTITY; child SA keys and rekeyed
 * IKE SAs come from SK_d' from then on since in.keys holds it. Without the
 * PPK: policy required refuses (AUTHENTICATION_FAILED, ppk-unavailable),
 * otherwise the NO_PPK_AUTH data (when sent) is the AUTH checked. */
#ifndef RAVEN_IKE_PPK_H
#define RAVEN_IKE_PPK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/ike/ike_crypto.h"

struct ike_sess;
struct ike_prof;
struct ike_msg;
struct ike_auth_pld;
struct ike_builder;

enum { N_USE_PPK = 16435, N_PPK_IDENTITY = 16436, N_NO_PPK_AUTH = 16437 };

/* Replaces k's SK_d, SK_pi and SK_pr by prf+(@ppk, key) (RFC 8784 section 3);
 * false (k unchanged) if the PRF fails. */
bool ike_ppk_mix(enum ike_prf prf, const uint8_t *ppk, size_t ppk_len, struct ike_keys *k);

/* Before the client's AUTH is known (EAP): the refusal's text when @prof
 * requires a PPK and the client did not announce USE_PPK, else NULL. */
const char *ike_ppk_precheck(const struct ike_sess *s, const struct ike_prof *prof);

/* The IKE_AUTH request @in carries the client's AUTH, parsed in *auth: decides
 * on the PPK for profile @prof as the file comment says (s->ppk_used,
 * s->ppk_id, s->in.keys mixed; or s->ppk_fallback and auth->data pointing at
 * the NO_PPK_AUTH data in @in). Returns the refusal's text, NULL to go on. */
const char *ike_ppk_authenticate(struct ike_sess *s, const struct ike_prof *prof, const struct ike_msg *in,
                                 struct ike_auth_pld *auth);

/* The AUTH data to check in @in again (a key that came later, from RADIUS):
 * the NO_PPK_AUTH data after a fallback, else *auth as it is. */
void ike_ppk_auth_data(const struct ike_sess *s, const struct ike_msg *in, struct ike_auth_pld *auth);

/* Our IKE_AUTH response's empty PPK_IDENTITY, when the PPK is used. */
void ike_ppk_build(const struct ike_sess *s, struct ike_builder *ib);

#endif
