/* Fuzzes the IKEv2 codec with whole messages as they arrive on UDP 500/4500:
 * header, payload chain and the contents of every payload. Each SA, TS and CP
 * payload that parses is built again and must parse back to the same values, as
 * must the gateway of every REDIRECT and REDIRECTED_FROM notify (RFC 5685), and
 * every IKE_SA_INIT request goes through the responder, whose reply must parse;
 * ike_msg_scan (no payload chain kept) must agree with ike_msg_parse. */
#include <stdlib.h>
#include <string.h>

#include "daemon/ike/ike_init.h"
#include "daemon/ike/ike_pld.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip_sa(const struct ike_pld *p)
{
    static struct ike_sa_pld a, b;
    struct ike_hdr h = {.exchange = IKE_EXCH_SA_INIT};
    struct ike_builder bd;
    static struct ike_msg m;

    if (!ike_sa_parse(p, &a))
        return;
    for (size_t i = 0; i < a.nprop; i++) {
        for (uint8_t t = 0; t < a.prop[i].ntrans; t++)
            if (a.prop[i].trans[t].unknown_attr) /* not written back by the builder */
                return;
    }
    ike_build_begin(&bd, &h);
    ike_sa_build(&bd, &a);
    if (ike_build_finish(&bd)) {
        if (ike_msg_parse(bd.buf.data, bd.buf.len, &m) != IKE_PARSE_OK || !ike_sa_parse(&m.pld[0], &b) ||
            b.nprop != a.nprop)
            abort();
        for (size_t i = 0; i < a.nprop; i++) {
            if (b.prop[i].ntrans != a.prop[i].ntrans || b.prop[i].protocol != a.prop[i].protocol)
                abort();
            for (uint8_t t = 0; t < a.prop[i].ntrans; t++)
                if (b.prop[i].trans[t].id != a.prop[i].trans[t].id ||
                    b.prop[i].trans[t].key_len != a.prop[i].trans[t].key_len)
                    abort();
        }
    }
    ike_buf_fini(&bd.buf);
}

static void roundtrip_ts_cp(const struct ike_pld *p)
{
    static struct ike_ts_pld ta, tb;
    static struct ike_cp_pld ca, cb;
    static struct ike_msg m;
    struct ike_hdr h = {.exchange = IKE_EXCH_AUTH};
    struct ike_builder bd;
    bool ts = p->type == IKE_PLD_TSI || p->type == IKE_PLD_TSR;

    if (ts ? !ike_ts_parse(p, &ta) : !ike_cp_parse(p, &ca))
        return;
    ike_build_begin(&bd, &h);
    if (ts)
        ike_ts_build(&bd, p->type, &ta);
    else
        ike_cp_build(&bd, &ca);
    if (ike_build_finish(&bd)) {
        if (ike_msg_parse(bd.buf.data, bd.buf.len, &m) != IKE_PARSE_OK)
            abort();
        if (ts && (!ike_ts_parse(&m.pld[0], &tb) || tb.nts != ta.nts || memcmp(tb.ts, ta.ts, sizeof(ta.ts[0]) * ta.nts)))
            abort();
        if (!ts && (!ike_cp_parse(&m.pld[0], &cb) || cb.nattr != ca.nattr))
            abort();
    }
    ike_buf_fini(&bd.buf);
}

/* RFC 5685 notify data: a gateway that parses is sent again as it came. */
static void roundtrip_redirect(const struct ike_pld *p)
{
    struct ike_notify_pld n;
    struct ike_redirect_pld r;
    uint8_t b[2 + IKE_GW_MAX];
    char text[IKE_GW_MAX + 1];
    size_t len;

    if (!ike_notify_parse(p, &n) || (n.type != 16407 && n.type != 16408) ||
        !ike_redirect_parse(&n, n.type == 16407, &r))
        return;
    ike_redirect_gw_text(&r, text, sizeof(text));
    len = ike_redirect_gw(text, b);
    if (!len || (b[0] == r.gw_type && (len - 2 != r.gw_len || memcmp(b + 2, r.gw, r.gw_len))))
        abort();
}

static bool pld_same(const struct ike_pld *a, const struct ike_pld *b)
{
    return a->type == b->type && a->critical == b->critical && a->body == b->body && a->len == b->len;
}

/* ike_msg_scan (the cookie answer's parser) says what ike_msg_parse (@msg,
 * @rc) says: the result, the header, the first known payload and the first
 * of each type looked for. */
static void scan_same(const uint8_t *data, size_t size, const struct ike_msg *msg, enum ike_parse_rc rc)
{
    static const uint8_t want[] = {IKE_PLD_NONCE, IKE_PLD_NOTIFY, IKE_PLD_SK};
    struct ike_msg_scan sc;

    for (size_t w = 0; w < sizeof(want); w++) {
        const struct ike_pld *f;

        if (ike_msg_scan(data, size, want[w], &sc) != rc)
            abort();
        if (rc != IKE_PARSE_OK)
            continue;
        f = ike_msg_find(msg, want[w], 0);
        if (memcmp(&sc.hdr, &msg->hdr, sizeof(sc.hdr)) || (msg->npld ? !pld_same(&sc.first, &msg->pld[0]) :
                                                            sc.first.type != 0) ||
            (f ? !pld_same(&sc.found, f) : sc.found.type != 0))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ike_msg msg;
    size_t bad;
    enum ike_parse_rc rc = ike_msg_parse(data, size, &msg);

    scan_same(data, size, &msg, rc);
    if (rc != IKE_PARSE_OK)
        return 0;
    ike_msg_check_payloads(&msg, &bad);
    if (msg.hdr.exchange == IKE_EXCH_SA_INIT && !(msg.hdr.flags & IKE_FLAG_RESPONSE)) {
        static struct ike_msg reply;
        struct sockaddr_storage l = {.ss_family = AF_INET}, p = {.ss_family = AF_INET};
        struct ike_init st;
        struct ike_buf out;

        if (ike_init_respond(&msg, &l, &p, &(struct ike_init_opts){.fragmentation = true}, &st, &out) != IKE_INIT_INTERNAL &&
            ike_msg_parse(out.data, out.len, &reply) != IKE_PARSE_OK)
            abort();
        ike_keys_wipe(&st.keys);
        ike_init_fini(&st);
        ike_buf_fini(&out);
    }
    for (size_t i = 0; i < msg.npld; i++) {
        if (msg.pld[i].type == IKE_PLD_SA)
            roundtrip_sa(&msg.pld[i]);
        else if (msg.pld[i].type == IKE_PLD_TSI || msg.pld[i].type == IKE_PLD_TSR || msg.pld[i].type == IKE_PLD_CP)
            roundtrip_ts_cp(&msg.pld[i]);
        else if (msg.pld[i].type == IKE_PLD_NOTIFY)
            roundtrip_redirect(&msg.pld[i]);
    }
    return 0;
}
