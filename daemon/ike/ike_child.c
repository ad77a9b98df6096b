/* Child SAs (see ike_child.h). */
#include "daemon/ike/ike_child.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "daemon/session/sess_authz.h"
#include "daemon/base/poison.h"

bool ike_child_choose(const struct ike_sa_pld *sa, const struct ike_esp_algs *algs, uint16_t want_dh,
                      struct ike_child_alg *out)
{
    for (size_t i = 0; i < sa->nprop; i++) {
        const struct ike_proposal *p = &sa->prop[i];
        const struct ike_transform *encr = NULL, *integ = NULL;
        bool esn_yes = false, esn_no = false, dh_ok = want_dh == 0, integ_other = false, bad = false;

        if (p->protocol != 3 || p->spi_len != 4)
            continue;
        for (uint8_t t = 0; t < p->ntrans; t++) {
            const struct ike_transform *tr = &p->trans[t];

            if (tr->unknown_attr)
                continue;
            switch (tr->type) {
            case IKE_TRANS_ENCR:
                if (!encr && (ike_encr_bit(tr->id, tr->key_len) & algs->encr))
                    encr = tr;
                break;
            case IKE_TRANS_INTEG:
                if (!integ && tr->id < 32 && (algs->integ & (1u << tr->id)) && ike_integ_key_len(tr->id))
                    integ = tr;
                else if (tr->id != 0)
                    integ_other = true;
                break;
            case IKE_TRANS_ESN:
                esn_yes |= tr->id == 1;
                esn_no |= tr->id == 0;
                break;
            case IKE_TRANS_DH:
                dh_ok |= want_dh && tr->id == want_dh;
                break;
            default:
                bad = true; /* a transform type ESP does not have */
            }
        }
        if (bad || !encr || !dh_ok)
            continue;
        if (encr->id == IKE_ENCR_AES_CBC ? !integ : (integ || integ_other))
            continue;
        /* no ESN transform at all is taken as "no ESN" */
        if (esn_yes && !esn_no && !algs->esn)
            continue;
        *out = (struct ike_child_alg){
            .prop_num = p->num,
            .spi_peer = (uint32_t)p->spi[0] << 24 | (uint32_t)p->spi[1] << 16 | (uint32_t)p->spi[2] << 8 | p->spi[3],
            .encr_id = encr->id,
            .encr_bits = encr->key_len,
            .integ = encr->id == IKE_ENCR_AES_CBC ? integ->id : 0,
            .esn = esn_yes && algs->esn,
            .dh_group = want_dh,
        };
        if (encr->id == IKE_ENCR_AES_CBC) {
            out->encr_key_len = encr->key_len / 8;
            out->integ_key_len = ike_integ_key_len(integ->id);
        } else {
            out->encr_key_len = (encr->key_len ? encr->key_len / 8 : 32) + 4;
        }
        return true;
    }
    return false;
}

void ike_child_sa_reply(const struct ike_child_alg *c, uint32_t spi_ours, struct ike_sa_pld *out)
{
    static _Thread_local uint8_t spi[4];
    struct ike_proposal *p = &out->prop[0];

    spi[0] = (uint8_t)(spi_ours >> 24);
    spi[1] = (uint8_t)(spi_ours >> 16);
    spi[2] = (uint8_t)(spi_ours >> 8);
    spi[3] = (uint8_t)spi_ours;
    memset(out, 0, sizeof(*out));
    out->nprop = 1;
    *p = (struct ike_proposal){.num = c->prop_num, .protocol = 3, .spi_len = 4, .spi = spi};
    p->trans[p->ntrans++] = (struct ike_transform){.type = IKE_TRANS_ENCR, .id = c->encr_id, .key_len = c->encr_bits};
    if (c->integ)
        p->trans[p->ntrans++] = (struct ike_transform){.type = IKE_TRANS_INTEG, .id = c->integ};
    if (c->dh_group)
        p->trans[p->ntrans++] = (struct ike_transform){.type = IKE_TRANS_DH, .id = c->dh_group};
    p->trans[p->ntrans++] = (struct ike_transform){.type = IKE_TRANS_ESN, .id = c->esn ? 1 : 0};
}

bool ike_child_keymat(enum ike_prf prf, const uint8_t *sk_d, size_t sk_d_len, const uint8_t *gir, size_t gir_len,
                      const uint8_t *ni, size_t ni_len, const uint8_t *nr, size_t nr_len, const struct ike_child_alg *c,
                      struct ike_child_keys *k)
{
    uint8_t seed[1024 + 512], out[2 * (36 + 64)];
    size_t sl = 0, n = 2 * (c->encr_key_len + c->integ_key_len);
    bool ok;

    if (gir_len + ni_len + nr_len > sizeof(seed) || c->encr_key_len > 36 || c->integ_key_len > 64)
        return false;
    if (gir_len)
        memcpy(seed, gir, gir_len);
    sl = gir_len;
    memcpy(seed + sl, ni, ni_len);
    sl += ni_len;
    memcpy(seed + sl, nr, nr_len);
    sl += nr_len;
    ok = ike_prf_plus(prf, sk_d, sk_d_len, seed, sl, out, n);
    if (ok) {
        size_t o = 0;

        memcpy(k->ei, out + o, c->encr_key_len);
        o += c->encr_key_len;
        memcpy(k->ai, out + o, c->integ_key_len);
        o += c->integ_key_len;
        memcpy(k->er, out + o, c->encr_key_len);
        o += c->encr_key_len;
        memcpy(k->ar, out + o, c->integ_key_len);
    }
    memset(seed, 0, sizeof(seed));
    memset(out, 0, sizeof(out));
    return ok;
}

static size_t alen(uint8_t type)
{
    return type == 7 ? 4 : 16;
}

bool ike_tss_set(struct ike_tss *out, const struct ike_ts_pld *ts)
{
    size_t nin = ts->nts < IKE_TSS_INLINE ? ts->nts : IKE_TSS_INLINE;
    struct ike_ts *more = NULL;

    if (ts->nts > IKE_TSS_INLINE) {
        more = malloc((ts->nts - IKE_TSS_INLINE) * sizeof(*more));
        if (!more) {
            ike_tss_free(out);
            return false;
        }
        memcpy(more, ts->ts + IKE_TSS_INLINE, (ts->nts - IKE_TSS_INLINE) * sizeof(*more));
    }
    ike_tss_free(out);
    memcpy(out->in, ts->ts, nin * sizeof(*out->in));
    out->nts = ts->nts;
    out->more = more;
    return true;
}

void ike_tss_get(const struct ike_tss *tss, struct ike_ts_pld *out)
{
    size_t nin = tss->nts < IKE_TSS_INLINE ? tss->nts : IKE_TSS_INLINE;

    out->nts = tss->nts;
    memcpy(out->ts, tss->in, nin * sizeof(*out->ts));
    if (tss->nts > IKE_TSS_INLINE)
        memcpy(out->ts + IKE_TSS_INLINE, tss->more, (tss->nts - IKE_TSS_INLINE) * sizeof(*out->ts));
}

void ike_tss_free(struct ike_tss *tss)
{
    free(tss->more);
    memset(tss, 0, sizeof(*tss));
}

const struct ike_ts *ike_tss_at(const struct ike_tss *tss, unsigned i)
{
    return i < IKE_TSS_INLINE ? &tss->in[i] : &tss->more[i - IKE_TSS_INLINE];
}

bool ike_tss_add(struct ike_tss *tss, const struct ike_ts *ts)
{
    if (tss->nts >= IKE_MAX_TS)
        return false;
    if (tss->nts >= IKE_TSS_INLINE) {
        struct ike_ts *m = realloc(tss->more, (size_t)(tss->nts + 1 - IKE_TSS_INLINE) * sizeof(*m));

        if (!m)
            return false;
        tss->more = m;
        m[tss->nts - IKE_TSS_INLINE] = *ts;
    } else {
        tss->in[tss->nts] = *ts;
    }
    tss->nts++;
    return true;
}

void ike_tss_trunc(struct ike_tss *tss, uint8_t n)
{
    if (n >= tss->nts)
        return;
    tss->nts = n;
    if (n <= IKE_TSS_INLINE) {
        free(tss->more);
        tss->more = NULL;
    }
}

bool ike_ts_narrow(const struct ike_ts_pld *offered, const struct ike_ts_pld *allowed, struct ike_ts_pld *out)
{
    memset(out, 0, sizeof(*out));
    for (uint8_t i = 0; i < offered->nts; i++) {
        const struct ike_ts *o = &offered->ts[i];

        for (uint8_t j = 0; j < allowed->nts && out->nts < IKE_MAX_TS; j++) {
            const struct ike_ts *a = &allowed->ts[j];
            struct ike_ts r = {.type = o->type};
            size_t n = alen(o->type);

            if (a->type != o->type)
                continue;
            if (o->ip_proto && a->ip_proto && o->ip_proto != a->ip_proto)
                continue;
            r.ip_proto = o->ip_proto ? o->ip_proto : a->ip_proto;
            r.start_port = o->start_port > a->start_port ? o->start_port : a->start_port;
            r.end_port = o->end_port < a->end_port ? o->end_port : a->end_port;
            if (r.start_port > r.end_port)
                continue;
            memcpy(r.start, memcmp(o->start, a->start, n) > 0 ? o->start : a->start, n);
            memcpy(r.end, memcmp(o->end, a->end, n) < 0 ? o->end : a->end, n);
            if (memcmp(r.start, r.end, n) > 0)
                continue;
            out->ts[out->nts++] = r;
        }
    }
    return out->nts > 0;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

void ike_ts_prefix4(uint32_t addr, unsigned len, struct ike_ts *ts)
{
    uint32_t mask = len ? ~0u << (32 - len) : 0;

    memset(ts, 0, sizeof(*ts));
    ts->type = 7;
    ts->end_port = 65535;
    put32(ts->start, addr & mask);
    put32(ts->end, (addr & mask) | ~mask);
}

void ike_ts_host4(uint32_t addr, struct ike_ts *ts)
{
    ike_ts_prefix4(addr, 32, ts);
}

void ike_ts_prefix6(const uint8_t addr[16], unsigned len, struct ike_ts *ts)
{
    memset(ts, 0, sizeof(*ts));
    ts->type = 8;
    ts->end_port = 65535;
    for (unsigned i = 0; i < 16; i++) {
        unsigned bits = len > 8 * i ? (len - 8 * i >= 8 ? 8 : len - 8 * i) : 0;
        uint8_t mask = (uint8_t)(bits ? 0xff << (8 - bits) : 0);

        ts->start[i] = addr[i] & mask;
        ts->end[i] = (uint8_t)(ts->start[i] | (uint8_t)~mask);
    }
}

void ike_ts_of_prefixes(const struct sess_prefixes *ps, struct ike_ts_pld *out)
{
    out->nts = 0;
    for (uint8_t i = 0; i < ps->n; i++) {
        const struct sess_prefix *p = &ps->p[i];

        if (p->family == AF_INET)
            ike_ts_prefix4((uint32_t)p->addr[0] << 24 | (uint32_t)p->addr[1] << 16 | (uint32_t)p->addr[2] << 8 |
                               p->addr[3],
                           p->plen, &out->ts[out->nts++]);
        else
            ike_ts_prefix6(p->addr, p->plen, &out->ts[out->nts++]);
    }
}
