/* IKEv2 header and payload chain (RFC 7296 sections 3.1, 3.2; RFC 7383 for SKF).
 *
 *  header: SPIi(8) SPIr(8) NextPayload(1) Version(1) Exchange(1) Flags(1) MsgID(4) Length(4)
 *  payload: NextPayload(1) C|Reserved(1) PayloadLength(2, incl. these 4 bytes) body...
 *
 * Every length is checked against what remains before a byte of the body is read.
 * SK and SKF must be the last payload; their "next payload" names the first payload
 * inside the encrypted data. */
#include "daemon/ike/ike_msg.h"

#include <stdlib.h>
#include <string.h>

#include "daemon/base/poison.h"

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

const char *ike_parse_rc_name(enum ike_parse_rc rc)
{
    static const char *const names[] = {"ok", "truncated", "bad length", "bad version", "unknown critical payload",
                                        "too many payloads", "payload after SK", "invalid syntax"};
    return (unsigned)rc < sizeof(names) / sizeof(names[0]) ? names[rc] : "?";
}

bool ike_pld_type_known(uint8_t type)
{
    return (type >= IKE_PLD_SA && type <= IKE_PLD_EAP) || type == IKE_PLD_SKF;
}

/* What a walk of a payload chain reports besides its verdict. */
struct chain_walk {
    enum ike_parse_rc (*take)(void *arg, const struct ike_pld *p); /* a known payload */
    void *arg;
    uint8_t bad_type;    /* an unknown critical payload */
    bool sk;             /* the chain ended with SK or SKF, */
    uint8_t inner_first; /* whose first payload inside is this */
    size_t nskipped;     /* unknown payloads not critical */
};

/* The chain from @type in @buf: every payload's header checked, each known
 * payload handed to w->take (a verdict other than OK ends the walk), unknown
 * ones skipped unless critical; SK or SKF must be last. */
static enum ike_parse_rc chain_walk(uint8_t type, const uint8_t *buf, size_t len, struct chain_walk *w)
{
    size_t off = 0;
    enum ike_parse_rc rc;

    while (type != IKE_PLD_NONE) {
        uint16_t plen;
        uint8_t next;
        bool critical;

        if (len - off < IKE_PLD_HDR_LEN)
            return IKE_PARSE_TRUNCATED;
        next = buf[off];
        critical = buf[off + 1] & 0x80;
        plen = rd16(buf + off + 2);
        if (plen < IKE_PLD_HDR_LEN)
            return IKE_PARSE_BAD_LENGTH;
        if (plen > len - off)
            return IKE_PARSE_TRUNCATED;
        if (!ike_pld_type_known(type)) {
            if (critical) {
                w->bad_type = type;
                return IKE_PARSE_UNKNOWN_CRITICAL;
            }
            w->nskipped++;
        } else {
            struct ike_pld p = {.type = type, .critical = critical, .body = buf + off + IKE_PLD_HDR_LEN,
                                .len = (uint16_t)(plen - IKE_PLD_HDR_LEN)};

            if ((rc = w->take(w->arg, &p)))
                return rc;
        }
        off += plen;
        if (type == IKE_PLD_SK || type == IKE_PLD_SKF) {
            /* the rest is encrypted; SK's next payload is the first one inside */
            if (off != len)
                return IKE_PARSE_SK_NOT_LAST;
            w->sk = true;
            w->inner_first = next;
            return IKE_PARSE_OK;
        }
        type = next;
    }
    return off == len ? IKE_PARSE_OK : IKE_PARSE_BAD_LENGTH;
}

static enum ike_parse_rc take_all(void *arg, const struct ike_pld *p)
{
    struct ike_msg *msg = arg;

    if (msg->npld == IKE_MAX_PAYLOADS)
        return IKE_PARSE_TOO_MANY_PAYLOADS;
    msg->pld[msg->npld++] = *p;
    return IKE_PARSE_OK;
}

enum ike_parse_rc ike_chain_parse(uint8_t first, const uint8_t *buf, size_t len, struct ike_msg *msg)
{
    struct chain_walk w = {.take = take_all, .arg = msg};
    enum ike_parse_rc rc = chain_walk(first, buf, len, &w);

    msg->nskipped += w.nskipped;
    if (rc == IKE_PARSE_UNKNOWN_CRITICAL)
        msg->bad_type = w.bad_type;
    if (w.sk)
        msg->inner_first = w.inner_first;
    return rc;
}

/* The fixed header of a whole datagram @buf: the checks every parse makes
 * first, in this order. */
static enum ike_parse_rc hdr_parse(const uint8_t *buf, size_t len, struct ike_hdr *h)
{
    if (len < IKE_HDR_LEN)
        return IKE_PARSE_TRUNCATED;
    memcpy(h->spi_i, buf, 8);
    memcpy(h->spi_r, buf + 8, 8);
    h->next_payload = buf[16];
    h->version = buf[17];
    h->exchange = buf[18];
    h->flags = buf[19];
    h->msg_id = rd32(buf + 20);
    h->length = rd32(buf + 24);
    if (h->version >> 4 != 2)
        return IKE_PARSE_BAD_VERSION;
    if (h->length < IKE_HDR_LEN || h->length > IKE_MAX_MSG_LEN)
        return IKE_PARSE_BAD_LENGTH;
    if (h->length > len)
        return IKE_PARSE_TRUNCATED;
    if (h->length != len)
        return IKE_PARSE_BAD_LENGTH; /* trailing bytes after the message */
    return IKE_PARSE_OK;
}

enum ike_parse_rc ike_msg_parse(const uint8_t *buf, size_t len, struct ike_msg *msg)
{
    struct ike_hdr *h = &msg->hdr;
    enum ike_parse_rc rc;

    memset(msg, 0, sizeof(*msg));
    if ((rc = hdr_parse(buf, len, h)))
        return rc;
    return ike_chain_parse(h->next_payload, buf + IKE_HDR_LEN, len - IKE_HDR_LEN, msg);
}

/* As ike_msg_parse, payload by payload, but keeping only the first known
 * payload and the first of type @want: the same checks in the same order, so
 * the same result (tests/fuzz/fuzz_ike.c compares the two). */
struct scan_take {
    struct ike_msg_scan *out;
    uint8_t want;
    size_t npld;
};

static enum ike_parse_rc take_scan(void *arg, const struct ike_pld *p)
{
    struct scan_take *t = arg;

    if (t->npld == IKE_MAX_PAYLOADS)
        return IKE_PARSE_TOO_MANY_PAYLOADS;
    if (!t->npld++)
        t->out->first = *p;
    if (p->type == t->want && !t->out->found.type)
        t->out->found = *p;
    return IKE_PARSE_OK;
}

enum ike_parse_rc ike_msg_scan(const uint8_t *buf, size_t len, uint8_t want, struct ike_msg_scan *out)
{
    struct scan_take t = {.out = out, .want = want};
    struct chain_walk w = {.take = take_scan, .arg = &t};
    enum ike_parse_rc rc;

    memset(out, 0, sizeof(*out));
    if ((rc = hdr_parse(buf, len, &out->hdr)))
        return rc;
    return chain_walk(out->hdr.next_payload, buf + IKE_HDR_LEN, len - IKE_HDR_LEN, &w);
}

const struct ike_pld *ike_msg_find(const struct ike_msg *msg, uint8_t type, size_t nth)
{
    for (size_t i = 0; i < msg->npld; i++) {
        if (msg->pld[i].type == type && nth-- == 0)
            return &msg->pld[i];
    }
    return NULL;
}

void ike_buf_fini(struct ike_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

uint8_t *ike_buf_put(struct ike_buf *b, const void *data, size_t len)
{
    uint8_t *p;

    if (b->oom)
        return NULL;
    if (len > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 256;
        uint8_t *nd;

        while (cap - b->len < len)
            cap *= 2;
        nd = realloc(b->data, cap);
        if (!nd) {
            b->oom = true;
            return NULL;
        }
        b->data = nd;
        b->cap = cap;
    }
    p = b->data + b->len;
    if (data)
        memcpy(p, data, len);
    else
        memset(p, 0, len);
    b->len += len;
    return p;
}

void ike_buf_u8(struct ike_buf *b, uint8_t v)
{
    ike_buf_put(b, &v, 1);
}

void ike_buf_u16(struct ike_buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    ike_buf_put(b, x, 2);
}

void ike_buf_u32(struct ike_buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    ike_buf_put(b, x, 4);
}

void ike_build_begin(struct ike_builder *bd, const struct ike_hdr *h)
{
    memset(bd, 0, sizeof(*bd));
    ike_buf_put(&bd->buf, h->spi_i, 8);
    ike_buf_put(&bd->buf, h->spi_r, 8);
    ike_buf_u8(&bd->buf, IKE_PLD_NONE);
    ike_buf_u8(&bd->buf, h->version ? h->version : 0x20);
    ike_buf_u8(&bd->buf, h->exchange);
    ike_buf_u8(&bd->buf, h->flags);
    ike_buf_u32(&bd->buf, h->msg_id);
    ike_buf_u32(&bd->buf, 0);
    bd->last_np = 16;
}

size_t ike_build_pld(struct ike_builder *bd, uint8_t type, bool critical)
{
    size_t start = bd->buf.len;

    if (!bd->buf.oom)
        bd->buf.data[bd->last_np] = type;
    bd->last_np = start;
    ike_buf_u8(&bd->buf, IKE_PLD_NONE);
    ike_buf_u8(&bd->buf, critical ? 0x80 : 0);
    ike_buf_u16(&bd->buf, 0);
    return bd->buf.len;
}

bool ike_build_end_pld(struct ike_builder *bd, size_t body_off)
{
    size_t plen = bd->buf.len - body_off + IKE_PLD_HDR_LEN;

    if (bd->buf.oom || plen > 0xffff) {
        bd->buf.oom = true;
        return false;
    }
    bd->buf.data[body_off - 2] = (uint8_t)(plen >> 8);
    bd->buf.data[body_off - 1] = (uint8_t)plen;
    return true;
}

bool ike_build_raw(struct ike_builder *bd, uint8_t type, bool critical, const uint8_t *body, size_t len)
{
    size_t off = ike_build_pld(bd, type, critical);

    ike_buf_put(&bd->buf, body, len);
    return ike_build_end_pld(bd, off);
}

bool ike_build_finish(struct ike_builder *bd)
{
    size_t n = bd->buf.len;

    if (bd->buf.oom || n > IKE_MAX_MSG_LEN)
        return false;
    bd->buf.data[24] = (uint8_t)(n >> 24);
    bd->buf.data[25] = (uint8_t)(n >> 16);
    bd->buf.data[26] = (uint8_t)(n >> 8);
    bd->buf.data[27] = (uint8_t)n;
    return true;
}
