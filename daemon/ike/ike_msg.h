/* IKEv2 message codec (RFC 7296 section 3): the fixed header and the chain of
 * generic payload headers, with every length checked before anything is read.
 * Payload bodies are not copied: a parsed message points into the caller's buffer,
 * which must outlive it. The contents of each payload type are read by
 * daemon/ike/ike_pld.h. */
#ifndef RAVEN_IKE_MSG_H
#define RAVEN_IKE_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IKE_HDR_LEN 28
#define IKE_PLD_HDR_LEN 4
#define IKE_MAX_PAYLOADS 48
#define IKE_MAX_MSG_LEN 65535

enum ike_exchange {
    IKE_EXCH_SA_INIT = 34,
    IKE_EXCH_AUTH = 35,
    IKE_EXCH_CREATE_CHILD_SA = 36,
    IKE_EXCH_INFORMATIONAL = 37,
};

enum ike_flag {
    IKE_FLAG_INITIATOR = 0x08,
    IKE_FLAG_VERSION = 0x10,
    IKE_FLAG_RESPONSE = 0x20,
};

enum ike_pld_type {
    IKE_PLD_NONE = 0,
    IKE_PLD_SA = 33,
    IKE_PLD_KE = 34,
    IKE_PLD_IDI = 35,
    IKE_PLD_IDR = 36,
    IKE_PLD_CERT = 37,
    IKE_PLD_CERTREQ = 38,
    IKE_PLD_AUTH = 39,
    IKE_PLD_NONCE = 40,
    IKE_PLD_NOTIFY = 41,
    IKE_PLD_DELETE = 42,
    IKE_PLD_VENDOR = 43,
    IKE_PLD_TSI = 44,
    IKE_PLD_TSR = 45,
    IKE_PLD_SK = 46,
    IKE_PLD_CP = 47,
    IKE_PLD_EAP = 48,
    IKE_PLD_SKF = 53, /* RFC 7383 */
};

/* Why a message was refused; the caller answers or counts it accordingly. */
enum ike_parse_rc {
    IKE_PARSE_OK = 0,
    IKE_PARSE_TRUNCATED,          /* shorter than a header or than it says */
    IKE_PARSE_BAD_LENGTH,         /* a length field that cannot be right */
    IKE_PARSE_BAD_VERSION,        /* major version is not 2 (INVALID_MAJOR_VERSION) */
    IKE_PARSE_UNKNOWN_CRITICAL,   /* unknown payload with the critical bit (UNSUPPORTED_CRITICAL_PAYLOAD) */
    IKE_PARSE_TOO_MANY_PAYLOADS,
    IKE_PARSE_SK_NOT_LAST,        /* payloads after SK/SKF */
    IKE_PARSE_INVALID_SYNTAX,     /* a payload's contents (INVALID_SYNTAX) */
};

struct ike_hdr {
    uint8_t spi_i[8];
    uint8_t spi_r[8];
    uint8_t next_payload;
    uint8_t version; /* major << 4 | minor */
    uint8_t exchange;
    uint8_t flags;
    uint32_t msg_id;
    uint32_t length;
};

struct ike_pld {
    uint8_t type;
    bool critical;
    const uint8_t *body; /* after the generic header */
    uint16_t len;        /* body length */
};

struct ike_msg {
    struct ike_hdr hdr;
    struct ike_pld pld[IKE_MAX_PAYLOADS];
    size_t npld;
    /* for SK/SKF: the type of the first payload inside (the SK header's next payload) */
    uint8_t inner_first;
    /* the unknown, non-critical payloads skipped (RFC 7296 2.5) */
    size_t nskipped;
    /* IKE_PARSE_UNKNOWN_CRITICAL: the type of the offending payload */
    uint8_t bad_type;
};

const char *ike_parse_rc_name(enum ike_parse_rc rc);
bool ike_pld_type_known(uint8_t type);

/* Parses a whole message from @buf (@len bytes, as received: header included).
 * On IKE_PARSE_UNKNOWN_CRITICAL, msg->bad_type is the offending payload's type. */
enum ike_parse_rc ike_msg_parse(const uint8_t *buf, size_t len, struct ike_msg *msg);
/* Parses a payload chain starting with type @first (the decrypted contents of SK),
 * appending to @msg. */
enum ike_parse_rc ike_chain_parse(uint8_t first, const uint8_t *buf, size_t len, struct ike_msg *msg);
/* What ike_msg_scan keeps of a message: its header, its first known payload
 * and the first of the type asked for (type 0 when there is none). */
struct ike_msg_scan {
    struct ike_hdr hdr;
    struct ike_pld first, found;
};
/* Checks @buf as ike_msg_parse does (the same result) without keeping the
 * payload chain: nothing allocated, nothing but @out written. */
enum ike_parse_rc ike_msg_scan(const uint8_t *buf, size_t len, uint8_t want, struct ike_msg_scan *out);
/* Finds the @nth (0-based) payload of @type, NULL if absent. */
const struct ike_pld *ike_msg_find(const struct ike_msg *msg, uint8_t type, size_t nth);

/* A growable output buffer for building messages. */
struct ike_buf {
    uint8_t *data;
    size_t len, cap;
    bool oom; /* an allocation failed: the content is incomplete */
};

void ike_buf_fini(struct ike_buf *b);
uint8_t *ike_buf_put(struct ike_buf *b, const void *data, size_t len); /* data may be NULL: zeroes */
void ike_buf_u8(struct ike_buf *b, uint8_t v);
void ike_buf_u16(struct ike_buf *b, uint16_t v);
void ike_buf_u32(struct ike_buf *b, uint32_t v);

/* Message builder: header, then payloads in order; each payload's "next payload"
 * and the message length are filled in as it grows. */
struct ike_builder {
    struct ike_buf buf;
    size_t last_np; /* offset of the next-payload byte to patch */
};

void ike_build_begin(struct ike_builder *bd, const struct ike_hdr *hdr);
/* Starts a payload; returns the offset of its body. Write the body with ike_buf_*,
 * then call ike_build_end_pld(). */
size_t ike_build_pld(struct ike_builder *bd, uint8_t type, bool critical);
/* Closes the payload started at body offset @body_off (fills its length). Returns
 * false if the body is too long for a payload. */
bool ike_build_end_pld(struct ike_builder *bd, size_t body_off);
/* Appends a whole payload with the given body. */
bool ike_build_raw(struct ike_builder *bd, uint8_t type, bool critical, const uint8_t *body, size_t len);
/* Fills in the message length; returns false when the message is invalid (too
 * long, or an allocation failed). */
bool ike_build_finish(struct ike_builder *bd);

#endif
