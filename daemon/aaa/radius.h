/* RADIUS packets (RFC 2865, 2866, 2869, 3579, 5176): building requests with hidden
 * passwords, EAP-Message fragmentation and Message-Authenticator; parsing and
 * verifying replies and requests from dynamic-authorization clients; vendor
 * attributes, MS-MPPE keys (RFC 2548). Pure functions of their input: the parser sees
 * network input and is fuzzed (fuzz_radius). The asynchronous client (servers,
 * retransmission, failover) is built on this. */
#ifndef RAVEN_AAA_RADIUS_H
#define RAVEN_AAA_RADIUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rad_code {
    RAD_ACCESS_REQUEST = 1,
    RAD_ACCESS_ACCEPT = 2,
    RAD_ACCESS_REJECT = 3,
    RAD_ACCOUNTING_REQUEST = 4,
    RAD_ACCOUNTING_RESPONSE = 5,
    RAD_ACCESS_CHALLENGE = 11,
    RAD_DISCONNECT_REQUEST = 40,
    RAD_DISCONNECT_ACK = 41,
    RAD_DISCONNECT_NAK = 42,
    RAD_COA_REQUEST = 43,
    RAD_COA_ACK = 44,
    RAD_COA_NAK = 45,
};

enum rad_attr_type {
    RAD_USER_NAME = 1,
    RAD_USER_PASSWORD = 2,
    RAD_NAS_IP_ADDRESS = 4,
    RAD_NAS_PORT = 5,
    RAD_SERVICE_TYPE = 6,
    RAD_FRAMED_IP_ADDRESS = 8,
    RAD_FRAMED_IP_NETMASK = 9,
    RAD_REPLY_MESSAGE = 18,
    RAD_STATE = 24,
    RAD_CLASS = 25,
    RAD_VENDOR_SPECIFIC = 26,
    RAD_SESSION_TIMEOUT = 27,
    RAD_CALLED_STATION_ID = 30,
    RAD_CALLING_STATION_ID = 31,
    RAD_NAS_IDENTIFIER = 32,
    RAD_ACCT_STATUS_TYPE = 40,
    RAD_ACCT_INPUT_OCTETS = 42,
    RAD_ACCT_OUTPUT_OCTETS = 43,
    RAD_ACCT_SESSION_ID = 44,
    RAD_ACCT_SESSION_TIME = 46,
    RAD_ACCT_INPUT_PACKETS = 47,
    RAD_ACCT_OUTPUT_PACKETS = 48,
    RAD_ACCT_TERMINATE_CAUSE = 49,
    RAD_ACCT_INPUT_GIGAWORDS = 52,
    RAD_ACCT_OUTPUT_GIGAWORDS = 53,
    RAD_ACCT_DELAY_TIME = 41,
    RAD_EVENT_TIMESTAMP = 55,
    RAD_NAS_PORT_TYPE = 61,
    RAD_TUNNEL_TYPE = 64,
    RAD_TUNNEL_MEDIUM_TYPE = 65,
    RAD_TUNNEL_PASSWORD = 69,
    RAD_EAP_MESSAGE = 79,
    RAD_NAS_PORT_ID = 87,
    RAD_MESSAGE_AUTHENTICATOR = 80,
    RAD_ERROR_CAUSE = 101,
};

#define RAD_VENDOR_CISCO 9
#define RAD_VENDOR_MICROSOFT 311
#define RAD_MS_MPPE_SEND_KEY 16
#define RAD_MS_MPPE_RECV_KEY 17

#define RAD_HDR_LEN 20
#define RAD_MAX_LEN 4096

/* A packet being built. */
struct rad_pkt {
    uint8_t buf[RAD_MAX_LEN];
    size_t len;
    size_t msg_auth_at; /* offset of the Message-Authenticator value, 0: none */
    bool overflow;
};

/* Starts a packet; @auth is the Request Authenticator of an Access-Request (16
 * random bytes) and ignored for the other codes, whose authenticator rad_finish
 * computes. */
void rad_init(struct rad_pkt *p, uint8_t code, uint8_t id, const uint8_t auth[16]);
void rad_add(struct rad_pkt *p, uint8_t type, const void *val, size_t len);
void rad_add_str(struct rad_pkt *p, uint8_t type, const char *s);
void rad_add_u32(struct rad_pkt *p, uint8_t type, uint32_t v);
void rad_add_vsa(struct rad_pkt *p, uint32_t vendor, uint8_t vtype, const void *val, size_t len);
/* User-Password hidden with @secret and the Request Authenticator (RFC 2865 5.2);
 * at most 128 bytes. */
void rad_add_password(struct rad_pkt *p, const void *secret, size_t slen, const char *pw);
/* An EAP packet in as many EAP-Message attributes as it needs (RFC 3579 3.1);
 * also reserves the Message-Authenticator it requires. */
void rad_add_eap(struct rad_pkt *p, const uint8_t *eap, size_t len);
/* Reserves a Message-Authenticator (RFC 2869 5.14), computed by rad_finish. */
void rad_add_msg_auth(struct rad_pkt *p);
/* Sets the length, the authenticator of non-Access-Request codes and the
 * Message-Authenticator. Returns the length, or 0 if the attributes overflowed. */
size_t rad_finish(struct rad_pkt *p, const void *secret, size_t slen);
/* Finishes a reply (Disconnect-ACK/NAK, CoA-ACK/NAK) to a request whose
 * authenticator was @req_auth (RFC 5176 3.5, RFC 3579 3.2). */
size_t rad_finish_reply(struct rad_pkt *p, const uint8_t req_auth[16], const void *secret, size_t slen);

/* A received packet, checked for a sane header and attribute chain. */
struct rad_view {
    const uint8_t *buf;
    size_t len;
    uint8_t code, id;
};

struct rad_attr {
    uint8_t type;
    const uint8_t *val;
    size_t len;
};

/* Checks the header and that the attributes exactly fill the length. 0 or -EINVAL. */
int rad_parse(const uint8_t *buf, size_t len, struct rad_view *v);
/* Next attribute after *pos (start with 0); false at the end. */
bool rad_next(const struct rad_view *v, size_t *pos, struct rad_attr *a);
/* The first attribute of @type; false if none. */
bool rad_find(const struct rad_view *v, uint8_t type, struct rad_attr *a);
/* A vendor attribute (the first sub-attribute of a Vendor-Specific). */
bool rad_vsa(const struct rad_attr *a, uint32_t *vendor, uint8_t *vtype, const uint8_t **val, size_t *len);

/* Verifies a reply to a request whose authenticator was @req_auth: the Response
 * Authenticator and, if present (required with EAP-Message), the
 * Message-Authenticator. 0, or -EBADMSG. */
int rad_verify_reply(const struct rad_view *v, const uint8_t req_auth[16], const void *secret, size_t slen);
/* Verifies a request authenticated with the shared secret (Accounting-Request,
 * Disconnect-Request, CoA-Request; RFC 2866 3, RFC 5176 3.5). */
int rad_verify_request(const struct rad_view *v, const void *secret, size_t slen);
/* The EAP packet of the EAP-Message attributes, concatenated; its length, 0 if
 * none or if it does not fit @cap or disagrees with its own length field. */
size_t rad_eap(const struct rad_view *v, uint8_t *out, size_t cap);
/* Decrypts an MS-MPPE-Send/Recv-Key value (RFC 2548 2.4.2). Returns the key length
 * or 0 when the value is malformed. */
size_t rad_mppe_key(const uint8_t *val, size_t len, const void *secret, size_t slen, const uint8_t req_auth[16],
                    uint8_t *out, size_t cap);

#endif
