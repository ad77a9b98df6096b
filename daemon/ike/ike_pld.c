/* Payload contents (see ike_pld.h). Wire formats, RFC 7296 section 3:
 *  SA:        proposals; proposal = Last(1) Rsv(1) Len(2) Num(1) Proto(1) SPISize(1) #Trans(1) SPI transforms
 *             transform = Last(1) Rsv(1) Len(2) Type(1) Rsv(1) ID(2) attributes (TV if AF bit, else TLV)
 *  KE:        Group(2) Rsv(2) data          ID/AUTH/CERT: Type(1) Rsv(3)/Type(1) data
 *  Notify:    Proto(1) SPISize(1) Type(2) SPI data
 *  (REDIRECT, REDIRECTED_FROM data, RFC 5685 8: GWType(1) GWLen(1) GW [Nonce])
 *  Delete:    Proto(1) SPISize(1) #SPIs(2) SPIs
 *  TS:        #TS(1) Rsv(3) selectors; selector = Type(1) Proto(1) Len(2) Ports(2+2) Start End
 *  CP:        CfgType(1) Rsv(3) attributes; attribute = R|Type(2) Len(2) value
 *  EAP:       Code(1) Id(1) Len(2) [Type(1) data], Len == payload body length
 *  SKF:       Number(2) Total(2) encrypted */
#include "daemon/ike/ike_pld.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "daemon/base/poison.h"

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

bool ike_sa_parse(const struct ike_pld *p, struct ike_sa_pld *out)
{
    const uint8_t *b = p->body;
    size_t off = 0, len = p->len;
    uint8_t last = 2;

    memset(out, 0, sizeof(*out));
    while (last == 2) {
        static _Thread_local struct ike_proposal scratch; /* checked but not kept */
        struct ike_proposal *pr;
        struct ike_transform skip;
        size_t plen, poff;
        uint8_t ntrans;

        if (len - off < 8)
            return false;
        last = b[off];
        plen = rd16(b + off + 2);
        if ((last != 0 && last != 2) || plen < 8 || plen > len - off)
            return false;
        /* proposals past the first IKE_MAX_PROPOSALS, or with more transforms than we
         * keep, are checked and then ignored rather than refusing the payload */
        pr = out->nprop < IKE_MAX_PROPOSALS ? &out->prop[out->nprop] : &scratch;
        memset(pr, 0, sizeof(*pr));
        pr->num = b[off + 4];
        pr->protocol = b[off + 5];
        pr->spi_len = b[off + 6];
        ntrans = b[off + 7];
        if (pr->spi_len > 8 || 8u + pr->spi_len > plen)
            return false;
        pr->spi = pr->spi_len ? b + off + 8 : NULL;
        poff = off + 8 + pr->spi_len;
        for (unsigned t = 0; t < ntrans; t++) {
            struct ike_transform *tr = t < IKE_MAX_TRANSFORMS ? &pr->trans[t] : &skip;
            size_t tlen, aoff;

            if (off + plen - poff < 8)
                return false;
            tlen = rd16(b + poff + 2);
            if (tlen < 8 || tlen > off + plen - poff || (b[poff] != (t + 1 == ntrans ? 0 : 3)))
                return false;
            memset(tr, 0, sizeof(*tr));
            tr->type = b[poff + 4];
            tr->id = rd16(b + poff + 6);
            for (aoff = poff + 8; aoff < poff + tlen;) {
                uint16_t at;

                if (poff + tlen - aoff < 4)
                    return false;
                at = rd16(b + aoff);
                if (at & 0x8000) { /* TV: 2-byte value */
                    if ((at & 0x7fff) == IKE_ATTR_KEY_LENGTH)
                        tr->key_len = rd16(b + aoff + 2);
                    else
                        tr->unknown_attr = true;
                    aoff += 4;
                } else { /* TLV */
                    uint16_t alen = rd16(b + aoff + 2);

                    if (alen > poff + tlen - aoff - 4)
                        return false;
                    tr->unknown_attr = true;
                    aoff += 4u + alen;
                }
            }
            poff += tlen;
        }
        if (poff != off + plen)
            return false;
        if (pr != &scratch && ntrans <= IKE_MAX_TRANSFORMS) {
            pr->ntrans = ntrans;
            out->nprop++;
        }
        off += plen;
    }
    return off == len && out->nprop > 0;
}

static bool typed_data(const struct ike_pld *p, size_t hdr, uint8_t *type, const uint8_t **data, size_t *len)
{
    if (p->len < hdr)
        return false;
    *type = p->body[0];
    *data = p->body + hdr;
    *len = p->len - hdr;
    return true;
}

bool ike_ke_parse(const struct ike_pld *p, struct ike_ke_pld *out)
{
    if (p->len < 5) /* group, reserved, at least one byte of key data */
        return false;
    out->group = rd16(p->body);
    out->data = p->body + 4;
    out->len = p->len - 4u;
    return true;
}

bool ike_id_parse(const struct ike_pld *p, struct ike_id_pld *out)
{
    return typed_data(p, 4, &out->type, &out->data, &out->len) && out->len > 0;
}

bool ike_auth_parse(const struct ike_pld *p, struct ike_auth_pld *out)
{
    return typed_data(p, 4, &out->method, &out->data, &out->len) && out->len > 0;
}

bool ike_cert_parse(const struct ike_pld *p, struct ike_cert_pld *out)
{
    return typed_data(p, 1, &out->encoding, &out->data, &out->len);
}

bool ike_nonce_parse(const struct ike_pld *p, const uint8_t **nonce, size_t *len)
{
    if (p->len < 16 || p->len > 256) /* RFC 7296 3.9 */
        return false;
    *nonce = p->body;
    *len = p->len;
    return true;
}

bool ike_notify_parse(const struct ike_pld *p, struct ike_notify_pld *out)
{
    if (p->len < 4)
        return false;
    out->protocol = p->body[0];
    out->spi_len = p->body[1];
    out->type = rd16(p->body + 2);
    if (out->spi_len > 8 || p->len < 4u + out->spi_len)
        return false;
    out->spi = out->spi_len ? p->body + 4 : NULL;
    out->data = p->body + 4 + out->spi_len;
    out->len = p->len - 4u - out->spi_len;
    return true;
}

bool ike_notify_find(const struct ike_msg *msg, uint16_t type, struct ike_notify_pld *out)
{
    for (size_t i = 0; i < msg->npld; i++) {
        if (msg->pld[i].type == IKE_PLD_NOTIFY && ike_notify_parse(&msg->pld[i], out) && out->type == type)
            return true;
    }
    return false;
}

/* RFC 5685 8.1-8.2; the same layout in both notifies. */
bool ike_redirect_parse(const struct ike_notify_pld *n, bool nonce_ok, struct ike_redirect_pld *out)
{
    size_t rest;

    if (n->len < 2 || n->spi_len || (size_t)n->data[1] > n->len - 2)
        return false;
    out->gw_type = n->data[0];
    out->gw_len = n->data[1];
    out->gw = n->data + 2;
    rest = n->len - 2 - out->gw_len;
    if (out->gw_type == IKE_GW_IPV4 ? out->gw_len != 4 : out->gw_type == IKE_GW_IPV6 ? out->gw_len != 16 :
        out->gw_type != IKE_GW_FQDN || !out->gw_len)
        return false;
    for (size_t i = 0; out->gw_type == IKE_GW_FQDN && i < out->gw_len; i++) {
        if (out->gw[i] <= 0x20 || out->gw[i] >= 0x7f)
            return false;
    }
    if (rest && (!nonce_ok || rest < 16 || rest > 256)) /* RFC 7296 3.9: 16 to 256 octets */
        return false;
    out->nonce = rest ? out->gw + out->gw_len : NULL;
    out->nonce_len = rest;
    return true;
}

size_t ike_redirect_gw(const char *gw, uint8_t *out)
{
    size_t n = gw ? strlen(gw) : 0;

    if (n && inet_pton(AF_INET, gw, out + 2) == 1) {
        out[0] = IKE_GW_IPV4;
        out[1] = 4;
        return 6;
    }
    if (n && inet_pton(AF_INET6, gw, out + 2) == 1) {
        out[0] = IKE_GW_IPV6;
        out[1] = 16;
        return 18;
    }
    if (!n || n > IKE_GW_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if ((uint8_t)gw[i] <= 0x20 || (uint8_t)gw[i] >= 0x7f)
            return 0;
    }
    out[0] = IKE_GW_FQDN;
    out[1] = (uint8_t)n;
    memcpy(out + 2, gw, n);
    return 2 + n;
}

void ike_redirect_gw_text(const struct ike_redirect_pld *r, char *buf, size_t cap)
{
    if (!cap)
        return;
    buf[0] = 0;
    if (r->gw_type == IKE_GW_IPV4 || r->gw_type == IKE_GW_IPV6) {
        if (!inet_ntop(r->gw_type == IKE_GW_IPV4 ? AF_INET : AF_INET6, r->gw, buf, (socklen_t)cap))
            buf[0] = 0;
    } else {
        snprintf(buf, cap, "%.*s", (int)r->gw_len, (const char *)r->gw);
    }
}

bool ike_delete_parse(const struct ike_pld *p, struct ike_delete_pld *out)
{
    if (p->len < 4)
        return false;
    out->protocol = p->body[0];
    out->spi_len = p->body[1];
    out->nspi = rd16(p->body + 2);
    out->spis = p->body + 4;
    if (out->protocol == 1) /* IKE SA: no SPIs */
        return out->spi_len == 0 && out->nspi == 0 && p->len == 4;
    return (out->protocol == 2 || out->protocol == 3) && out->spi_len == 4 && out->nspi > 0 &&
           out->nspi <= IKE_MAX_DELETE_SPIS && p->len == 4u + (size_t)out->nspi * 4u;
}

bool ike_ts_parse(const struct ike_pld *p, struct ike_ts_pld *out)
{
    size_t off = 4;

    if (p->len < 4)
        return false;
    out->nts = p->body[0];
    if (out->nts == 0 || out->nts > IKE_MAX_TS)
        return false;
    for (uint8_t i = 0; i < out->nts; i++) {
        struct ike_ts *ts = &out->ts[i];
        size_t alen, slen;

        if (p->len - off < 8)
            return false;
        ts->type = p->body[off];
        ts->ip_proto = p->body[off + 1];
        slen = rd16(p->body + off + 2);
        alen = ts->type == 7 ? 4 : ts->type == 8 ? 16 : 0;
        if (!alen || slen != 8 + 2 * alen || slen > p->len - off)
            return false;
        ts->start_port = rd16(p->body + off + 4);
        ts->end_port = rd16(p->body + off + 6);
        memset(ts->start, 0, sizeof(ts->start));
        memset(ts->end, 0, sizeof(ts->end));
        memcpy(ts->start, p->body + off + 8, alen);
        memcpy(ts->end, p->body + off + 8 + alen, alen);
        off += slen;
    }
    return off == p->len;
}

bool ike_cp_parse(const struct ike_pld *p, struct ike_cp_pld *out)
{
    size_t off = 4;

    if (p->len < 4)
        return false;
    out->cfg_type = p->body[0];
    out->nattr = 0;
    if (out->cfg_type < 1 || out->cfg_type > 4)
        return false;
    while (off < p->len) {
        struct ike_cp_attr *a;

        if (p->len - off < 4 || out->nattr == IKE_MAX_CP_ATTRS)
            return false;
        a = &out->attr[out->nattr++];
        a->type = rd16(p->body + off) & 0x7fff;
        a->len = rd16(p->body + off + 2);
        if (a->len > p->len - off - 4)
            return false;
        a->value = p->body + off + 4;
        off += 4u + a->len;
    }
    return true;
}

bool ike_eap_parse(const struct ike_pld *p, struct ike_eap_pld *out)
{
    if (p->len < 4 || rd16(p->body + 2) != p->len)
        return false;
    out->code = p->body[0];
    out->id = p->body[1];
    out->msg = p->body;
    out->len = p->len;
    if (out->code == 1 || out->code == 2) {
        if (p->len < 5)
            return false;
        out->type = p->body[4];
    } else if (out->code == 3 || out->code == 4) {
        if (p->len != 4)
            return false;
        out->type = 0;
    } else {
        return false;
    }
    return true;
}

bool ike_skf_parse(const struct ike_pld *p, struct ike_skf_pld *out)
{
    if (p->len < 5)
        return false;
    out->number = rd16(p->body);
    out->total = rd16(p->body + 2);
    out->data = p->body + 4;
    out->len = p->len - 4u;
    return out->number >= 1 && out->number <= out->total;
}

bool ike_msg_check_payloads(const struct ike_msg *msg, size_t *bad)
{
    union {
        struct ike_sa_pld sa;
        struct ike_ke_pld ke;
        struct ike_id_pld id;
        struct ike_auth_pld auth;
        struct ike_cert_pld cert;
        struct ike_notify_pld n;
        struct ike_delete_pld d;
        struct ike_ts_pld ts;
        struct ike_cp_pld cp;
        struct ike_eap_pld eap;
        struct ike_skf_pld skf;
    } u;
    const uint8_t *nb;
    size_t nl;

    for (size_t i = 0; i < msg->npld; i++) {
        const struct ike_pld *p = &msg->pld[i];
        bool ok = true;

        switch (p->type) {
        case IKE_PLD_SA: ok = ike_sa_parse(p, &u.sa); break;
        case IKE_PLD_KE: ok = ike_ke_parse(p, &u.ke); break;
        case IKE_PLD_IDI:
        case IKE_PLD_IDR: ok = ike_id_parse(p, &u.id); break;
        case IKE_PLD_CERT:
        case IKE_PLD_CERTREQ: ok = ike_cert_parse(p, &u.cert); break;
        case IKE_PLD_AUTH: ok = ike_auth_parse(p, &u.auth); break;
        case IKE_PLD_NONCE: ok = ike_nonce_parse(p, &nb, &nl); break;
        case IKE_PLD_NOTIFY: ok = ike_notify_parse(p, &u.n); break;
        case IKE_PLD_DELETE: ok = ike_delete_parse(p, &u.d); break;
        case IKE_PLD_TSI:
        case IKE_PLD_TSR: ok = ike_ts_parse(p, &u.ts); break;
        case IKE_PLD_CP: ok = ike_cp_parse(p, &u.cp); break;
        case IKE_PLD_EAP: ok = ike_eap_parse(p, &u.eap); break;
        case IKE_PLD_SKF: ok = ike_skf_parse(p, &u.skf); break;
        default: break; /* VENDOR and SK: opaque */
        }
        if (!ok) {
            if (bad)
                *bad = i;
            return false;
        }
    }
    return true;
}

void ike_sa_build(struct ike_builder *bd, const struct ike_sa_pld *sa)
{
    size_t body = ike_build_pld(bd, IKE_PLD_SA, false);

    for (size_t i = 0; i < sa->nprop; i++) {
        const struct ike_proposal *pr = &sa->prop[i];
        size_t start = bd->buf.len, plen;

        ike_buf_u8(&bd->buf, i + 1 == sa->nprop ? 0 : 2);
        ike_buf_u8(&bd->buf, 0);
        ike_buf_u16(&bd->buf, 0);
        ike_buf_u8(&bd->buf, pr->num);
        ike_buf_u8(&bd->buf, pr->protocol);
        ike_buf_u8(&bd->buf, pr->spi_len);
        ike_buf_u8(&bd->buf, pr->ntrans);
        ike_buf_put(&bd->buf, pr->spi, pr->spi_len);
        for (uint8_t t = 0; t < pr->ntrans; t++) {
            const struct ike_transform *tr = &pr->trans[t];

            ike_buf_u8(&bd->buf, t + 1 == pr->ntrans ? 0 : 3);
            ike_buf_u8(&bd->buf, 0);
            ike_buf_u16(&bd->buf, tr->key_len ? 12 : 8);
            ike_buf_u8(&bd->buf, tr->type);
            ike_buf_u8(&bd->buf, 0);
            ike_buf_u16(&bd->buf, tr->id);
            if (tr->key_len) {
                ike_buf_u16(&bd->buf, 0x8000 | IKE_ATTR_KEY_LENGTH);
                ike_buf_u16(&bd->buf, tr->key_len);
            }
        }
        plen = bd->buf.len - start;
        if (!bd->buf.oom) {
            bd->buf.data[start + 2] = (uint8_t)(plen >> 8);
            bd->buf.data[start + 3] = (uint8_t)plen;
        }
    }
    ike_build_end_pld(bd, body);
}

void ike_ke_build(struct ike_builder *bd, const struct ike_ke_pld *ke)
{
    size_t body = ike_build_pld(bd, IKE_PLD_KE, false);

    ike_buf_u16(&bd->buf, ke->group);
    ike_buf_u16(&bd->buf, 0);
    ike_buf_put(&bd->buf, ke->data, ke->len);
    ike_build_end_pld(bd, body);
}

static void typed_build(struct ike_builder *bd, uint8_t pld, uint8_t type, size_t rsv, const uint8_t *d, size_t n)
{
    size_t body = ike_build_pld(bd, pld, false);

    ike_buf_u8(&bd->buf, type);
    ike_buf_put(&bd->buf, NULL, rsv);
    ike_buf_put(&bd->buf, d, n);
    ike_build_end_pld(bd, body);
}

void ike_id_build(struct ike_builder *bd, uint8_t pld_type, const struct ike_id_pld *id)
{
    typed_build(bd, pld_type, id->type, 3, id->data, id->len);
}

void ike_auth_build(struct ike_builder *bd, const struct ike_auth_pld *a)
{
    typed_build(bd, IKE_PLD_AUTH, a->method, 3, a->data, a->len);
}

void ike_notify_build(struct ike_builder *bd, const struct ike_notify_pld *n)
{
    size_t body = ike_build_pld(bd, IKE_PLD_NOTIFY, false);

    ike_buf_u8(&bd->buf, n->protocol);
    ike_buf_u8(&bd->buf, n->spi_len);
    ike_buf_u16(&bd->buf, n->type);
    ike_buf_put(&bd->buf, n->spi, n->spi_len);
    ike_buf_put(&bd->buf, n->data, n->len);
    ike_build_end_pld(bd, body);
}

void ike_delete_build(struct ike_builder *bd, const struct ike_delete_pld *d)
{
    size_t body = ike_build_pld(bd, IKE_PLD_DELETE, false);

    ike_buf_u8(&bd->buf, d->protocol);
    ike_buf_u8(&bd->buf, d->spi_len);
    ike_buf_u16(&bd->buf, d->nspi);
    ike_buf_put(&bd->buf, d->spis, (size_t)d->nspi * d->spi_len);
    ike_build_end_pld(bd, body);
}

void ike_ts_build(struct ike_builder *bd, uint8_t pld_type, const struct ike_ts_pld *tsp)
{
    size_t body = ike_build_pld(bd, pld_type, false);

    ike_buf_u8(&bd->buf, tsp->nts);
    ike_buf_put(&bd->buf, NULL, 3);
    for (uint8_t i = 0; i < tsp->nts; i++) {
        const struct ike_ts *ts = &tsp->ts[i];
        size_t alen = ts->type == 8 ? 16 : 4;

        ike_buf_u8(&bd->buf, ts->type);
        ike_buf_u8(&bd->buf, ts->ip_proto);
        ike_buf_u16(&bd->buf, (uint16_t)(8 + 2 * alen));
        ike_buf_u16(&bd->buf, ts->start_port);
        ike_buf_u16(&bd->buf, ts->end_port);
        ike_buf_put(&bd->buf, ts->start, alen);
        ike_buf_put(&bd->buf, ts->end, alen);
    }
    ike_build_end_pld(bd, body);
}

void ike_cp_build(struct ike_builder *bd, const struct ike_cp_pld *cp)
{
    size_t body = ike_build_pld(bd, IKE_PLD_CP, false);

    ike_buf_u8(&bd->buf, cp->cfg_type);
    ike_buf_put(&bd->buf, NULL, 3);
    for (size_t i = 0; i < cp->nattr; i++) {
        ike_buf_u16(&bd->buf, cp->attr[i].type & 0x7fff);
        ike_buf_u16(&bd->buf, cp->attr[i].len);
        ike_buf_put(&bd->buf, cp->attr[i].value, cp->attr[i].len);
    }
    ike_build_end_pld(bd, body);
}
