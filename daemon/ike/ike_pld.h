/* Contents of the IKEv2 payloads (RFC 7296 section 3.3-3.16, RFC 7383 2.5):
 * each parser checks every count and length against the payload body before it
 * reads a field, returns false on any inconsistency (INVALID_SYNTAX), and points
 * into the body rather than copying it. Each has a builder that writes the same
 * wire form, so parse(build(x)) == x. */
#ifndef RAVEN_IKE_PLD_H
#define RAVEN_IKE_PLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/ike/ike_msg.h"

#define IKE_MAX_PROPOSALS 16
#define IKE_MAX_TRANSFORMS 64
#define IKE_MAX_TS 32
#define IKE_MAX_CP_ATTRS 64
#define IKE_MAX_DELETE_SPIS 256

enum ike_transform_type {
    IKE_TRANS_ENCR = 1,
    IKE_TRANS_PRF = 2,
    IKE_TRANS_INTEG = 3,
    IKE_TRANS_DH = 4,
    IKE_TRANS_ESN = 5,
};

#define IKE_ATTR_KEY_LENGTH 14

struct ike_transform {
    uint8_t type;
    uint16_t id;
    uint16_t key_len; /* 0 when absent */
    bool unknown_attr; /* an attribute we do not know: RFC 7296 says reject the transform */
};

struct ike_proposal {
    uint8_t num;
    uint8_t protocol; /* 1 IKE, 2 AH, 3 ESP */
    uint8_t spi_len;
    const uint8_t *spi;
    uint8_t ntrans;
    struct ike_transform trans[IKE_MAX_TRANSFORMS];
};

struct ike_sa_pld {
    size_t nprop;
    struct ike_proposal prop[IKE_MAX_PROPOSALS];
};

struct ike_ke_pld {
    uint16_t group;
    const uint8_t *data;
    size_t len;
};

/* IDi, IDr: type (1 IPv4, 2 FQDN, 3 RFC822, 5 IPv6, 9 DER DN, 10 DER GN, 11 KEY_ID) */
struct ike_id_pld {
    uint8_t type;
    const uint8_t *data;
    size_t len;
};

struct ike_auth_pld {
    uint8_t method; /* 1 RSA, 2 PSK, 3 DSS, 9/10/11 ECDSA, 14 digital signature (RFC 7427) */
    const uint8_t *data;
    size_t len;
};

struct ike_cert_pld {
    uint8_t encoding; /* 4 X.509 signature, 12 hash and URL, ... */
    const uint8_t *data;
    size_t len;
};

struct ike_notify_pld {
    uint8_t protocol;
    uint8_t spi_len;
    uint16_t type;
    const uint8_t *spi;
    const uint8_t *data;
    size_t len;
};

/* The data of a REDIRECT or REDIRECTED_FROM notify (RFC 5685 8.1, 8.2): GW
 * Ident Type (1 IPv4, 2 IPv6, 3 FQDN), GW Ident Len, the gateway's identity,
 * then, in REDIRECT only, Nonce Data (the initiator's Ni in an IKE_SA_INIT
 * response; none in an INFORMATIONAL request or an IKE_AUTH response). */
enum { IKE_GW_IPV4 = 1, IKE_GW_IPV6 = 2, IKE_GW_FQDN = 3 };
#define IKE_GW_MAX 255 /* GW Ident Len is one octet */
struct ike_redirect_pld {
    uint8_t gw_type;
    const uint8_t *gw; /* 4 or 16 bytes, or the name (no NUL, printable) */
    size_t gw_len;
    const uint8_t *nonce; /* NULL when absent */
    size_t nonce_len;
};

struct ike_delete_pld {
    uint8_t protocol;
    uint8_t spi_len;
    uint16_t nspi;
    const uint8_t *spis; /* nspi * spi_len bytes */
};

struct ike_ts {
    uint8_t type; /* 7 IPv4 range, 8 IPv6 range */
    uint8_t ip_proto;
    uint16_t start_port, end_port;
    uint8_t start[16], end[16]; /* 4 or 16 bytes used */
};

struct ike_ts_pld {
    uint8_t nts;
    struct ike_ts ts[IKE_MAX_TS];
};

/* A set of selectors kept with a child SA or a session: sized to what was negotiated. The
 * first IKE_TSS_INLINE are in it (one or two is the common case), the others in
 * @more, which it owns (ike_tss_set, ike_tss_free in ike_child.c). A copy of it
 * shares @more: only one copy may be freed. */
#define IKE_TSS_INLINE 2
struct ike_tss {
    uint8_t nts;
    struct ike_ts in[IKE_TSS_INLINE];
    struct ike_ts *more; /* nts - IKE_TSS_INLINE entries, NULL when none */
};

struct ike_cp_attr {
    uint16_t type; /* R bit cleared */
    const uint8_t *value;
    uint16_t len;
};

struct ike_cp_pld {
    uint8_t cfg_type; /* 1 REQUEST, 2 REPLY, 3 SET, 4 ACK */
    size_t nattr;
    struct ike_cp_attr attr[IKE_MAX_CP_ATTRS];
};

struct ike_eap_pld {
    uint8_t code; /* 1 request, 2 response, 3 success, 4 failure */
    uint8_t id;
    uint8_t type; /* 0 for success/failure */
    const uint8_t *msg; /* the whole EAP message, as relayed to RADIUS */
    size_t len;
};

struct ike_skf_pld {
    uint16_t number, total;
    const uint8_t *data; /* IV, ciphertext, ICV */
    size_t len;
};

bool ike_sa_parse(const struct ike_pld *p, struct ike_sa_pld *out);
bool ike_ke_parse(const struct ike_pld *p, struct ike_ke_pld *out);
bool ike_id_parse(const struct ike_pld *p, struct ike_id_pld *out);
bool ike_auth_parse(const struct ike_pld *p, struct ike_auth_pld *out);
bool ike_cert_parse(const struct ike_pld *p, struct ike_cert_pld *out); /* CERT and CERTREQ */
bool ike_nonce_parse(const struct ike_pld *p, const uint8_t **nonce, size_t *len);
bool ike_notify_parse(const struct ike_pld *p, struct ike_notify_pld *out);
/* The first notify of @type in @msg that parses (false if none). */
bool ike_notify_find(const struct ike_msg *msg, uint16_t type, struct ike_notify_pld *out);
bool ike_delete_parse(const struct ike_pld *p, struct ike_delete_pld *out);
/* The data of a REDIRECT / REDIRECTED_FROM notify @n (already parsed): a
 * known type with the length it needs (an FQDN of printable ASCII), the rest
 * taken as Nonce Data (2..256 bytes, RFC 7296 3.9 with our nonce bounds) when
 * @nonce_ok, else none allowed. */
bool ike_redirect_parse(const struct ike_notify_pld *n, bool nonce_ok, struct ike_redirect_pld *out);
/* @gw (an IPv4 or IPv6 address literal or an FQDN) as GW Ident Type, Len and
 * Identity into @out (at least 2 + IKE_GW_MAX bytes): its length, 0 when @gw
 * is none of those (empty, longer than 255, not printable). */
size_t ike_redirect_gw(const char *gw, uint8_t *out);
/* The gateway of @r as text (an address or the name) into @buf. */
void ike_redirect_gw_text(const struct ike_redirect_pld *r, char *buf, size_t cap);
bool ike_ts_parse(const struct ike_pld *p, struct ike_ts_pld *out);
bool ike_cp_parse(const struct ike_pld *p, struct ike_cp_pld *out);
bool ike_eap_parse(const struct ike_pld *p, struct ike_eap_pld *out);
bool ike_skf_parse(const struct ike_pld *p, struct ike_skf_pld *out);
/* Parses the contents of every known payload of @msg; false at the first bad one,
 * whose index goes to *bad. */
bool ike_msg_check_payloads(const struct ike_msg *msg, size_t *bad);

/* Builders: each appends one payload to @bd. */
void ike_sa_build(struct ike_builder *bd, const struct ike_sa_pld *sa);
void ike_ke_build(struct ike_builder *bd, const struct ike_ke_pld *ke);
void ike_id_build(struct ike_builder *bd, uint8_t pld_type, const struct ike_id_pld *id);
void ike_auth_build(struct ike_builder *bd, const struct ike_auth_pld *a);
void ike_notify_build(struct ike_builder *bd, const struct ike_notify_pld *n);
void ike_delete_build(struct ike_builder *bd, const struct ike_delete_pld *d);
void ike_ts_build(struct ike_builder *bd, uint8_t pld_type, const struct ike_ts_pld *ts);
void ike_cp_build(struct ike_builder *bd, const struct ike_cp_pld *cp);

#endif
