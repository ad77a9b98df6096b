/* Configuration payloads (RFC 7296 3.15, SPEC S4) as the engine fills them:
 * the attributes of a CFG_REPLY or CFG_SET from a session's merged
 * authorization, and the push of a CFG_SET after IKE_AUTH (ike_cp.c). The
 * payload's wire format is in ike_pld.h (ike_cp_parse, ike_cp_build). */
#ifndef RAVEN_IKE_CP_H
#define RAVEN_IKE_CP_H

#include "daemon/ike/ike_eng.h"

/* A configuration payload being filled: the values its attributes point to
 * live in @store (one slot per attribute). */
struct ike_cp_out {
    struct ike_cp_pld cp;
    uint8_t store[IKE_MAX_CP_ATTRS][17];
};

/* Appends an attribute (@v is borrowed until the payload is built); nothing
 * when the payload is full. */
void ike_cp_add(struct ike_cp_out *o, uint16_t type, const void *v, size_t len);
/* An IPv4 address (host order). */
void ike_cp_add4(struct ike_cp_out *o, uint16_t type, uint32_t a);
/* An IPv6 address or prefix (16 bytes, then the prefix length when @plen >= 0). */
void ike_cp_add6(struct ike_cp_out *o, uint16_t type, const uint8_t a[16], int plen);
/* Whether the client's request @cp asks for attribute @type. */
bool ike_cp_requests(const struct ike_cp_pld *cp, uint16_t type);
/* The attributes of a CFG_REPLY or CFG_SET besides the addresses: DNS, NBNS,
 * split subnets, the application version when @req asks for it, and the Unity
 * and FlexVPN attributes for clients that announced them. */
void ike_cp_attributes(const struct ike_sess *s, const struct sess_attrs *at, const struct ike_cp_pld *req,
                       struct ike_cp_out *o);
/* S4 "config-exchange set send": a client that asked for nothing gets the
 * attributes of @at in a CFG_SET, if there are any (our request). */
void ike_cp_push(struct ike_sess *s, const struct sess_attrs *at);

#endif
