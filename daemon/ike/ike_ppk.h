/* Post-quantum preshared keys in IKE_AUTH (RFC 8784), the responder's side.
 *
 * IKE_SA_INIT: a client announces USE_PPK; Raven answers it when some profile
 * of the generation uses PPKs (ike_init.c, ike_conf.h ppk_any), so s->in.ppk
 * says both sides did. IKE_AUTH: the request carrying the client's AUTH (the
 * first with a shared key or a signature, the last with EAP) has a
 * PPK_IDENTITY notify (its type, PPK_ID_OPAQUE 1 or PPK_ID_FIXED 2, then the
 * PPK_ID's octets, looked up alike: ike_ppk_id_of), an AUTH
 * made with SK_pi' and, unless the client requires the PPK, a NO_PPK_AUTH
 * notify whose data is the AUTH data made with SK_pi. With the PPK (the
 * profile's policy optional or required, the PPK_ID one its ppk id list
 * allows, when it has one, and configured, or, when
 * the profile names a ppk aaa-authorization-list, given by RADIUS: an
 * Access-Request whose User-Name is the PPK_ID, the PPK in the Access-Accept's
 * cisco-avpair ipsec:ppk-key; the exchange waits for it like for any RADIUS
 * answer, and no answer, a reject or no usable key is an unknown PPK_ID) Raven
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
struct ike_pend;

#define IKE_PPK_ID_MAX 64 /* octets of a PPK_ID Raven looks up (ppk-id, RADIUS User-Name) */

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
 * the NO_PPK_AUTH data in @in). Returns the refusal's text, NULL to go on.
 * *wait true (and NULL): the PPK was asked of RADIUS; its answer
 * (ike_ppk_fetch) sets s->pend->ppk_asked and runs the caller again, which
 * calls this again to decide. */
const char *ike_ppk_authenticate(struct ike_sess *s, const struct ike_prof *prof, const struct ike_msg *in,
                                 struct ike_auth_pld *auth, bool *wait);

/* The PPK_ID in a PPK_IDENTITY notify's data: its octets after the type for
 * PPK_ID_OPAQUE and PPK_ID_FIXED; false for other types or no octets. */
bool ike_ppk_id_of(const uint8_t *data, size_t len, const uint8_t **id, size_t *id_len);

/* Whether profile @prof lets its clients name PPK_ID @id: it is in its ppk
 * id list, or the list is empty (any PPK_ID). One not allowed is treated as
 * unknown: not looked up, not asked of RADIUS. */
bool ike_ppk_id_allowed(const struct ike_prof *prof, const uint8_t *id, size_t len);

/* Whether a PPK_ID not in the configuration can be asked of RADIUS as a
 * User-Name: 1 to IKE_PPK_ID_MAX printable ASCII characters. */
bool ike_ppk_id_askable(const uint8_t *id, size_t len);

/* ike_aaa.c: an Access-Request for the PPK of @ppk_id on authorization list
 * @list; false when the list has no RADIUS server group. The answer fills
 * s->pend (ppk, ppk_len, ppk_why, ppk_asked) and resumes the exchange. */
bool ike_ppk_fetch(struct ike_sess *s, const char *list, const char *ppk_id);

/* Wipes and frees the PPK RADIUS gave, once used (or the exchange ends). */
void ike_ppk_forget(struct ike_pend *pd);

/* The AUTH data to check in @in again (a key that came later, from RADIUS):
 * the NO_PPK_AUTH data after a fallback, else *auth as it is. */
void ike_ppk_auth_data(const struct ike_sess *s, const struct ike_msg *in, struct ike_auth_pld *auth);

/* Our IKE_AUTH response's empty PPK_IDENTITY, when the PPK is used. */
void ike_ppk_build(const struct ike_sess *s, struct ike_builder *ib);

#endif
