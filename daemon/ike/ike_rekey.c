/* The CREATE_CHILD_SA exchange as responder (RFC 7296 1.3, 2.8, 2.17, 2.18): an
 * additional child SA up to the session's flow limit (SPEC S8), rekeying a child SA
 * (optionally with PFS), and rekeying the IKE SA itself. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/log.h"
#include "daemon/ike/ike_eng.h"
#include "daemon/ike/ike_persist.h"
#include "daemon/base/poison.h"

static void respond_notify(struct ike_sess *s, uint32_t msg_id, uint16_t type, const uint8_t *data, size_t len)
{
    struct ike_builder bd;
    struct ike_hdr h = {0};

    ike_build_begin(&bd, &h);
    ike_notify_build(&bd, &(struct ike_notify_pld){.type = type, .data = data, .len = len});
    if (ike_build_finish(&bd))
        ike_sess_respond(s, IKE_EXCH_CREATE_CHILD_SA, msg_id, IKE_PLD_NOTIFY, bd.buf.data + IKE_HDR_LEN,
                         bd.buf.len - IKE_HDR_LEN);
    ike_buf_fini(&bd.buf);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A fresh DH exchange with the peer's KE: our public value and g^ir. */
static bool dh_exchange(uint16_t group, const struct ike_ke_pld *ke, uint8_t *pub, size_t *pub_len, uint8_t *gir,
                        size_t *gir_len)
{
    struct ike_dh *dh = ike_dh_new((enum ike_dh_group)group);
    bool ok;

    if (!dh)
        return false;
    *pub_len = ike_dh_public(dh, pub, 512);
    *gir_len = *pub_len ? ike_dh_derive(dh, ke->data, ke->len, gir, 512) : 0;
    ok = *pub_len && *gir_len;
    ike_dh_free(dh);
    return ok;
}

/* The session moves to its new IKE SA @st (its old one has become a stub): what
 * IKE_SA_INIT found about the path carries over, message IDs start again, and
 * @initiator says whether we are the new SA's original initiator. */
static void adopt_ike_sa(struct ike_sess *s, struct ike_init *st, bool initiator)
{
    st->nat_peer = s->in.nat_peer;
    st->nat_local = s->in.nat_local;
    st->fragmentation = s->in.fragmentation;
    st->sig_hash = s->in.sig_hash;
    st->sig_hashes = s->in.sig_hashes;
    ike_init_fini(&s->in); /* none left: the session was established */
    s->in = *st;          /* none: the exchange's nonces made its keys only */
    s->initiator = initiator;
    memcpy(s->our_spi, initiator ? st->spi_i : st->spi_r, 8);
    s->peer_next = 0;
    s->our_next = 0;
    HASH_ADD(hh_r, s->e->by_r, our_spi, 8, s);
    s->e->c.ike_rekeys++;
    ike_sess_ike_rekeyed(s);
    log_info("ike", "session %" PRIu64 ": IKE SA rekeyed%s", s->ss.id, initiator ? " by us" : "");
}

static void rekey_ike(struct ike_sess *s, const struct ike_sa_pld *sa, const uint8_t *ni, size_t ni_len,
                      const struct ike_ke_pld *ke, uint32_t msg_id)
{
    struct ike_engine *e = s->e;
    struct ike_nonces nn = {0}; /* the exchange's, for the keys only */
    struct ike_init st = {0};
    struct ike_sa_pld reply = {.nprop = 1};
    uint8_t pub[512], gir[512];
    size_t pub_len, gir_len;
    struct ike_builder bd;
    struct ike_hdr h = {0};
    struct ike_sess *stub, *clash;

    if (s->req_pending) {
        /* our own request is under way on this SA (RFC 7296 2.25): later */
        respond_notify(s, msg_id, N_TEMPORARY_FAILURE, NULL, 0);
        return;
    }
    if (!ike_init_choose_rekey(ike_conf_algs(s->gen, &s->local, s->fvrf), sa, ke->group, &st, &reply.prop[0])) {
        e->c.no_proposal++;
        respond_notify(s, msg_id, N_NO_PROPOSAL_CHOSEN, NULL, 0);
        return;
    }
    if (ke->group != st.group) {
        uint8_t g[2] = {(uint8_t)(st.group >> 8), (uint8_t)st.group};

        e->c.invalid_ke++;
        respond_notify(s, msg_id, 17 /* INVALID_KE_PAYLOAD */, g, 2);
        return;
    }
    if (ni_len > sizeof(nn.ni) || ni_len < ike_prf_len(st.prf) / 2) {
        respond_notify(s, msg_id, N_INVALID_SYNTAX, NULL, 0);
        return;
    }
    memcpy(nn.ni, ni, ni_len);
    nn.ni_len = ni_len;
    nn.nr_len = sizeof(nn.nr);
    do {
        if (RAND_bytes(st.spi_r, 8) != 1)
            return;
        HASH_FIND(hh_r, e->by_r, st.spi_r, 8, clash);
    } while (clash);
    if (RAND_bytes(nn.nr, (int)nn.nr_len) != 1 || !dh_exchange(st.group, ke, pub, &pub_len, gir, &gir_len)) {
        respond_notify(s, msg_id, N_NO_PROPOSAL_CHOSEN, NULL, 0);
        return;
    }
    if (!ike_derive_rekey_keys(s->in.prf, s->in.keys.sk_d, s->in.keys.prf_len, st.prf, nn.ni, nn.ni_len, nn.nr,
                               nn.nr_len, gir, gir_len, st.spi_i, st.spi_r, st.integ_key_len, st.encr_key_len,
                               &st.keys)) {
        OPENSSL_cleanse(gir, sizeof(gir));
        respond_notify(s, msg_id, N_NO_PROPOSAL_CHOSEN, NULL, 0);
        return;
    }
    OPENSSL_cleanse(gir, sizeof(gir));
    reply.prop[0].spi_len = 8;
    reply.prop[0].spi = st.spi_r;
    ike_build_begin(&bd, &h);
    ike_sa_build(&bd, &reply);
    ike_build_raw(&bd, IKE_PLD_NONCE, false, nn.nr, nn.nr_len);
    ike_ke_build(&bd, &(struct ike_ke_pld){.group = (uint16_t)st.group, .data = pub, .len = pub_len});
    stub = calloc(1, sizeof(*stub));
    s->hold_resp = true; /* sent once the session's record has the new IKE SA */
    if (!stub || !ike_build_finish(&bd) ||
        !ike_sess_respond(s, IKE_EXCH_CREATE_CHILD_SA, msg_id, IKE_PLD_SA, bd.buf.data + IKE_HDR_LEN,
                          bd.buf.len - IKE_HDR_LEN)) {
        s->hold_resp = false;
        free(stub);
        ike_buf_fini(&bd.buf);
        ike_keys_wipe(&st.keys);
        return;
    }
    s->hold_resp = false;
    ike_buf_fini(&bd.buf);
    /* The old IKE SA lives on as a stub that answers retransmissions of this
     * request and the peer's DELETE of it; the session moves to the new SA. */
    if (!ike_sess_stub(s, stub)) {
        ike_keys_wipe(&st.keys);
        ike_xmit_out(s, &s->last_resp); /* the old SA stays: its answer goes as it is */
        return;
    }
    /* the peer rekeyed: it is the new SA's original initiator */
    adopt_ike_sa(s, &st, false);
    ike_persist_save(s); /* the new IKE SA, then the answer (from the old SA, the stub) */
    ike_xmit_out(stub, &stub->last_resp);
    ike_mobike_flush(s); /* a return routability check the rekey held back */
    ike_redirect_flush(s); /* a REDIRECT too */
}

bool ike_child_room(struct ike_sess *s)
{
    /* room for one at first: most sessions never have another (an entry is about
     * 2.9 KB; four of them were most of a session's memory) */
    size_t cap = s->child_cap ? 2 * s->child_cap : 1;
    struct ike_child_sa *c;
    uint32_t *q, *sent;

    if (s->nchild < s->child_cap)
        return true;
    if (s->nchild >= IKE_MAX_CHILD)
        return false;
    if (cap > IKE_MAX_CHILD)
        cap = IKE_MAX_CHILD;
    c = realloc(s->child, cap * sizeof(*c));
    if (c)
        s->child = c;
    q = c ? realloc(s->del_q, cap * sizeof(*q)) : NULL;
    if (q)
        s->del_q = q;
    sent = q ? realloc(s->del_sent, cap * sizeof(*sent)) : NULL;
    if (!sent)
        return false; /* what grew stays; child_cap says what all three hold */
    s->del_sent = sent;
    s->child_cap = cap;
    return true;
}

static struct ike_child_sa *child_by_in(struct ike_sess *s, uint32_t spi_in)
{
    for (size_t i = 0; i < s->nchild; i++) {
        if (s->child[i].sc.spi_in == spi_in)
            return &s->child[i];
    }
    return NULL;
}

/* Octet strings compared as RFC 7296 2.8.1 orders nonces. */
static int nonce_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    int cmp = memcmp(a, b, n);

    return cmp ? cmp : (al > bl) - (al < bl);
}

/* The lower of an exchange's two nonces (at most 32 bytes kept). */
static void nonce_min(const uint8_t *a, size_t al, const uint8_t *b, size_t bl, uint8_t out[32], size_t *out_len)
{
    const uint8_t *m = nonce_cmp(a, al, b, bl) <= 0 ? a : b;
    size_t ml = m == a ? al : bl;

    *out_len = ml < 32 ? ml : 32;
    memcpy(out, m, *out_len);
}

void ike_child_forget(struct ike_sess *s, uint32_t spi_in)
{
    for (size_t i = 0; i < s->nchild; i++) {
        if (s->child[i].replaced && s->child[i].replaced_by == spi_in) {
            s->child[i].replaced = false;
            s->child[i].replaced_by = 0;
        }
    }
}

/* Child SAs not waiting for their DELETE after a rekey. */
static size_t live_children(const struct ike_sess *s)
{
    size_t n = 0;

    for (size_t i = 0; i < s->nchild; i++)
        n += !s->child[i].replaced;
    return n;
}

/* A child SA the peer asked for; @old (a rekey) is a copy of the child it
 * replaces, not a pointer into the table, which may grow here. */
static void child_sa(struct ike_sess *s, const struct ike_sa_pld *sa, const uint8_t *ni, size_t ni_len,
                     const struct ike_ke_pld *ke, const struct ike_msg *in, struct ike_child_sa *old, uint32_t msg_id)
{
    const struct ike_pld *tsi_p = ike_msg_find(in, IKE_PLD_TSI, 0), *tsr_p = ike_msg_find(in, IKE_PLD_TSR, 0);
    struct ike_ts_pld tsi, tsr, allow_i = {0}, allow_r = {0}, got_i, got_r;
    struct ike_child_sa c = {0};
    struct ike_child_keys k;
    struct ike_sa_pld reply;
    uint8_t nr[32], pub[512], gir[512];
    size_t pub_len = 0, gir_len = 0;
    struct ike_builder bd;
    struct ike_hdr h = {0};
    struct ike_route_mark mark = {0};
    bool marked = false;

    if (!tsi_p || !tsr_p || !ike_ts_parse(tsi_p, &tsi) || !ike_ts_parse(tsr_p, &tsr)) {
        respond_notify(s, msg_id, N_INVALID_SYNTAX, NULL, 0);
        return;
    }
    /* a rekey adds a child until the old one is deleted; each child is rekeyed
     * once, and new ones stop at the flow limit (at most half the table), so a
     * rekey always has room */
    if (!old && (live_children(s) >= s->flow_limit || live_children(s) >= IKE_MAX_FLOWS)) {
        respond_notify(s, msg_id, N_NO_ADDITIONAL_SAS, NULL, 0);
        return;
    }
    if (!ike_child_room(s)) {
        respond_notify(s, msg_id, old ? N_TEMPORARY_FAILURE : N_NO_ADDITIONAL_SAS, NULL, 0);
        return;
    }
    if (old && old->replaced) {
        respond_notify(s, msg_id, N_TEMPORARY_FAILURE, NULL, 0);
        return;
    }
    /* PFS: the IPsec profile's group when it names one, else a group of the IKE
     * policy; a CREATE_CHILD_SA without KE when PFS is required is refused */
    if (s->pfs_group && (!ke || ke->group != s->pfs_group)) {
        uint8_t g[2] = {(uint8_t)(s->pfs_group >> 8), (uint8_t)s->pfs_group};

        if (ke)
            respond_notify(s, msg_id, 17 /* INVALID_KE_PAYLOAD */, g, 2);
        else
            respond_notify(s, msg_id, N_NO_PROPOSAL_CHOSEN, NULL, 0);
        return;
    }
    if (ke && !s->pfs_group &&
        (ke->group >= 32 || !(ike_conf_algs(s->gen, &s->local, s->fvrf)->groups & (1u << ke->group)))) {
        respond_notify(s, msg_id, N_NO_PROPOSAL_CHOSEN, NULL, 0);
        return;
    }
    if (!ike_child_choose(sa, &s->esp, ke ? ke->group : 0, &c.alg)) {
        s->e->c.no_proposal++;
        respond_notify(s, msg_id, N_NO_PROPOSAL_CHOSEN, NULL, 0);
        return;
    }
    /* the same bounds as the first child: the client's address, the split subnets */
    if (old) {
        ike_tss_get(&old->tsi, &allow_i);
        ike_tss_get(&old->tsr, &allow_r);
    } else {
        ike_route_accept_child(s, &tsi, &mark);
        marked = true;
        ike_tss_get(&s->allow_i, &allow_i);
        ike_tss_get(&s->allow_r, &allow_r);
    }
    if (!ike_ts_narrow(&tsi, &allow_i, &got_i) || !ike_ts_narrow(&tsr, &allow_r, &got_r)) {
        s->e->c.ts_unacceptable++;
        respond_notify(s, msg_id, N_TS_UNACCEPTABLE, NULL, 0);
        goto refused;
    }
    if (!ike_tss_set(&c.tsi, &got_i) || !ike_tss_set(&c.tsr, &got_r)) {
        respond_notify(s, msg_id, N_NO_PROPOSAL_CHOSEN, NULL, 0);
        goto refused;
    }
    if (RAND_bytes(nr, sizeof(nr)) != 1 || (ke && !dh_exchange(ke->group, ke, pub, &pub_len, gir, &gir_len)) ||
        !(c.sc.spi_in = ike_new_spi(s->e))) {
        respond_notify(s, msg_id, N_NO_PROPOSAL_CHOSEN, NULL, 0);
        goto refused;
    }
    c.sc.spi_out = c.alg.spi_peer;
    c.sc.established = time(NULL);
    c.sc.rekeys = old ? old->sc.rekeys + 1 : 0;
    if (!ike_child_keymat(s->in.prf, s->in.keys.sk_d, s->in.keys.prf_len, gir, gir_len, ni, ni_len, nr, sizeof(nr),
                          &c.alg, &k) ||
        !ike_child_install(s, &c, &k)) {
        OPENSSL_cleanse(&k, sizeof(k));
        OPENSSL_cleanse(gir, sizeof(gir));
        respond_notify(s, msg_id, N_NO_PROPOSAL_CHOSEN, NULL, 0);
        goto refused;
    }
    OPENSSL_cleanse(&k, sizeof(k));
    OPENSSL_cleanse(gir, sizeof(gir));
    if (marked)
        ike_route_accept_done(s, &mark, true);
    ike_child_lifetimes(s, &c);
    if (old) {
        struct ike_child_sa *o = child_by_in(s, old->sc.spi_in);

        if (o) {
            o->replaced = true;
            o->replaced_by = c.sc.spi_in;
            nonce_min(ni, ni_len, nr, sizeof(nr), o->peer_nonce, &o->peer_nonce_len);
        }
    }
    s->child[s->nchild++] = c;
    ike_child_timer_arm(s);
    ike_child_sa_reply(&c.alg, c.sc.spi_in, &reply);
    ike_build_begin(&bd, &h);
    ike_sa_build(&bd, &reply);
    ike_build_raw(&bd, IKE_PLD_NONCE, false, nr, sizeof(nr));
    if (ke)
        ike_ke_build(&bd, &(struct ike_ke_pld){.group = ke->group, .data = pub, .len = pub_len});
    ike_ts_build(&bd, IKE_PLD_TSI, &got_i);
    ike_ts_build(&bd, IKE_PLD_TSR, &got_r);
    if (ike_build_finish(&bd))
        ike_sess_respond(s, IKE_EXCH_CREATE_CHILD_SA, msg_id, IKE_PLD_SA, bd.buf.data + IKE_HDR_LEN,
                         bd.buf.len - IKE_HDR_LEN);
    ike_buf_fini(&bd.buf);
    s->e->c.create_child++;
    log_info("ike", "session %" PRIu64 ": child SA %08x/%08x %s", s->ss.id, c.sc.spi_in, c.sc.spi_out,
             old ? "rekeyed" : "added");
    return;
refused:
    ike_tss_free(&c.tsi);
    ike_tss_free(&c.tsr);
    if (marked)
        ike_route_accept_done(s, &mark, false);
}

void ike_handle_create_child(struct ike_sess *s, const struct ike_msg *in, uint32_t msg_id)
{
    const struct ike_pld *sa_p = ike_msg_find(in, IKE_PLD_SA, 0), *n_p = ike_msg_find(in, IKE_PLD_NONCE, 0);
    const struct ike_pld *ke_p = ike_msg_find(in, IKE_PLD_KE, 0);
    struct ike_sa_pld *sa = calloc(1, sizeof(*sa));
    struct ike_child_sa *old = NULL;
    struct ike_ke_pld ke;
    const uint8_t *ni;
    size_t ni_len;
    bool ike = false;

    if (!sa)
        return;
    if (!sa_p || !n_p || !ike_sa_parse(sa_p, sa) || !ike_nonce_parse(n_p, &ni, &ni_len) || ni_len < 16 ||
        (ke_p && !ike_ke_parse(ke_p, &ke))) {
        respond_notify(s, msg_id, N_INVALID_SYNTAX, NULL, 0);
        free(sa);
        return;
    }
    for (size_t i = 0; i < sa->nprop; i++)
        ike |= sa->prop[i].protocol == 1;
    for (size_t i = 0; i < in->npld && !ike; i++) {
        struct ike_notify_pld n;

        if (in->pld[i].type != IKE_PLD_NOTIFY || !ike_notify_parse(&in->pld[i], &n) || n.type != N_REKEY_SA)
            continue;
        if (n.protocol != 3 || n.spi_len != 4) {
            respond_notify(s, msg_id, N_INVALID_SYNTAX, NULL, 0);
            free(sa);
            return;
        }
        for (size_t c = 0; c < s->nchild && !old; c++) {
            if (s->child[c].sc.spi_out == get32(n.spi))
                old = &s->child[c];
        }
        if (!old) {
            respond_notify(s, msg_id, N_CHILD_SA_NOT_FOUND, n.spi, 4);
            free(sa);
            return;
        }
    }
    if (ike) {
        if (!ke_p)
            respond_notify(s, msg_id, N_INVALID_SYNTAX, NULL, 0);
        else
            rekey_ike(s, sa, ni, ni_len, &ke, msg_id);
    } else {
        struct ike_child_sa prev;

        if (old)
            prev = *old; /* the array may move while the new child is added */
        child_sa(s, sa, ni, ni_len, ke_p ? &ke : NULL, in, old ? &prev : NULL, msg_id);
    }
    free(sa);
}

/* ---- child SA lifetimes: Raven as the initiator of a rekey ---- */

void ike_child_lifetimes(struct ike_sess *s, struct ike_child_sa *c)
{
    uint32_t soft = s->child_soft && s->child_soft < s->child_lifetime ? s->child_soft : s->child_lifetime / 10 * 9;

    c->sc.expire_at = c->sc.established + s->child_lifetime;
    c->sc.rekey_at = c->sc.established + soft;
    c->rekeying = false;
}

static struct ike_child_sa *child_of_spi(struct ike_sess *s, bool inbound, uint32_t spi)
{
    for (size_t k = 0; k < s->nchild; k++) {
        if ((inbound ? s->child[k].sc.spi_in : s->child[k].sc.spi_out) == spi)
            return &s->child[k];
    }
    return NULL;
}

/* Children past their soft volume limit are rekeyed; past the hard one the
 * dataplane already carries nothing on them: they are deleted (and the peer told). */
void ike_child_volume(struct ike_sess *s, bool inbound, uint32_t spi, bool hard)
{
    struct ike_child_sa *c = child_of_spi(s, inbound, spi);

    if (!c)
        return;
    if (hard) {
        log_info("ike", "session %" PRIu64 ": child SA %08x reached its hard volume limit", s->ss.id, c->sc.spi_in);
        c->sc.expire_at = time(NULL);
    } else if (!c->rekeying && !c->replaced) {
        log_info("ike", "session %" PRIu64 ": child SA %08x reached its soft volume limit", s->ss.id, c->sc.spi_in);
        c->sc.rekey_at = time(NULL);
    } else {
        return;
    }
    ike_child_on_timer(s);
}

void ike_child_timer_arm(struct ike_sess *s)
{
    time_t next = 0, now = time(NULL);

    if (!s->ev_child || !ike_sa_up(s))
        return;
    for (size_t i = 0; i < s->nchild; i++) {
        const struct ike_child_sa *c = &s->child[i];
        time_t t = c->rekeying || c->replaced ? c->sc.expire_at : c->sc.rekey_at;

        if (c->sc.expire_at && (!next || t < next))
            next = t;
    }
    if (!next) {
        evtimer_del(s->ev_child);
        return;
    }
    struct timeval tv = {.tv_sec = next > now ? next - now : 0, .tv_usec = 1000};

    evtimer_add(s->ev_child, &tv);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A DELETE for these inbound SPIs is owed to the peer: sent now if no request of
 * ours is under way, else after it (one DELETE payload lists them all). */
static void queue_delete(struct ike_sess *s, uint32_t spi_in)
{
    for (size_t i = 0; i < s->ndel_q; i++) {
        if (s->del_q[i] == spi_in)
            return;
    }
    for (size_t i = 0; i < s->ndel_sent; i++) {
        if (s->del_sent[i] == spi_in)
            return;
    }
    if (s->ndel_q < s->child_cap)
        s->del_q[s->ndel_q++] = spi_in;
    else
        log_warn("ike", "session %" PRIu64 ": too many child SA deletes queued; %08x is not announced", s->ss.id,
                 spi_in);
    ike_child_flush_deletes(s);
}

void ike_child_flush_deletes(struct ike_sess *s)
{
    /* as many SPIs as a peer's parser is sure to take (ours takes 256); the
     * rest go in the next DELETE, once this one is answered */
    uint8_t spis[4 * IKE_MAX_DELETE_SPIS];
    size_t n = s->ndel_q < IKE_MAX_DELETE_SPIS ? s->ndel_q : IKE_MAX_DELETE_SPIS;
    struct ike_builder bd;
    struct ike_hdr h = {0};

    if (!s->ndel_q || s->req_pending || !ike_sa_up(s))
        return;
    for (size_t i = 0; i < n; i++)
        put32(spis + 4 * i, s->del_q[i]);
    ike_build_begin(&bd, &h);
    ike_delete_build(&bd, &(struct ike_delete_pld){.protocol = 3, .spi_len = 4, .nspi = (uint16_t)n, .spis = spis});
    if (ike_build_finish(&bd) && ike_sess_request(s, REQ_CHILD_DELETE, IKE_EXCH_INFORMATIONAL, IKE_PLD_DELETE,
                                                  bd.buf.data + IKE_HDR_LEN, bd.buf.len - IKE_HDR_LEN)) {
        memcpy(s->del_sent, s->del_q, n * sizeof(s->del_q[0]));
        s->ndel_sent = n;
        memmove(s->del_q, s->del_q + n, (s->ndel_q - n) * sizeof(s->del_q[0]));
        s->ndel_q -= n;
    }
    ike_buf_fini(&bd.buf);
}

/* CREATE_CHILD_SA request: N(REKEY_SA), SA, Ni, [KEi], TSi, TSr (RFC 7296 1.3.3);
 * as the initiator our selectors are TSi. */
static bool rekey_start(struct ike_sess *s, struct ike_child_sa *c)
{
    struct ike_sa_pld sa;
    struct ike_builder bd;
    struct ike_hdr h = {0};
    struct ike_ts_pld ts_i, ts_r;
    uint8_t old[4], pub[512];
    size_t pub_len = 0;
    bool ok;

    s->rk.new_spi_in = ike_new_spi(s->e);
    s->rk.old_spi_in = c->sc.spi_in;
    s->rk.alg = c->alg;
    if (s->pfs_group)
        s->rk.alg.dh_group = s->pfs_group; /* the IPsec profile asks for PFS */
    else if (s->rekey_group)
        s->rk.alg.dh_group = s->rekey_group; /* the peer asked for PFS */
    ike_dh_free(s->rk.dh);
    s->rk.dh = NULL;
    if (!s->rk.new_spi_in || RAND_bytes(s->rk.ni, sizeof(s->rk.ni)) != 1)
        return false;
    if (s->rk.alg.dh_group) {
        s->rk.dh = ike_dh_new((enum ike_dh_group)s->rk.alg.dh_group);
        if (!s->rk.dh || !(pub_len = ike_dh_public(s->rk.dh, pub, sizeof(pub))))
            return false;
    }
    put32(old, c->sc.spi_in);
    ike_child_sa_reply(&s->rk.alg, s->rk.new_spi_in, &sa);
    ike_build_begin(&bd, &h);
    ike_notify_build(&bd, &(struct ike_notify_pld){.protocol = 3, .spi_len = 4, .type = N_REKEY_SA, .spi = old});
    ike_sa_build(&bd, &sa);
    ike_build_raw(&bd, IKE_PLD_NONCE, false, s->rk.ni, sizeof(s->rk.ni));
    if (pub_len)
        ike_ke_build(&bd, &(struct ike_ke_pld){.group = s->rk.alg.dh_group, .data = pub, .len = pub_len});
    ike_tss_get(&c->tsi, &ts_i);
    ike_tss_get(&c->tsr, &ts_r);
    ike_ts_build(&bd, IKE_PLD_TSI, &ts_r);
    ike_ts_build(&bd, IKE_PLD_TSR, &ts_i);
    ok = ike_build_finish(&bd) && ike_sess_request(s, REQ_CHILD_REKEY, IKE_EXCH_CREATE_CHILD_SA, IKE_PLD_NOTIFY,
                                                  bd.buf.data + IKE_HDR_LEN, bd.buf.len - IKE_HDR_LEN);
    ike_buf_fini(&bd.buf);
    if (ok) {
        c->rekeying = true;
        log_info("ike", "session %" PRIu64 ": rekeying child SA %08x before its lifetime ends", s->ss.id, c->sc.spi_in);
    }
    return ok;
}

/* After a refused or failed rekey: try again in 30 to 45 s (RFC 7296 2.25 asks
 * for a random delay), or leave the child to its hard lifetime. */
static void backoff(struct ike_child_sa *c)
{
    uint8_t r = 0;

    RAND_bytes(&r, 1);
    c->rekeying = false;
    c->sc.rekey_at = time(NULL) + 30 + r % 16;
}

void ike_child_on_timer(struct ike_sess *s)
{
    time_t now = time(NULL);

    for (size_t i = 0; i < s->nchild; i++) {
        struct ike_child_sa *c = &s->child[i];

        if (now >= c->sc.expire_at) {
            /* hard lifetime: the child goes, and the peer is told */
            log_info("ike", "session %" PRIu64 ": child SA %08x reached its hard lifetime", s->ss.id, c->sc.spi_in);
            uint32_t gone = c->sc.spi_in;

            queue_delete(s, gone);
            ike_child_remove(s, c);
            s->child[i--] = s->child[--s->nchild];
            ike_child_forget(s, gone);
            continue;
        }
        if (now < c->sc.rekey_at || c->rekeying || c->replaced)
            continue;
        if (s->req_pending)
            c->sc.rekey_at = now + 1; /* after the request under way */
        else if (!rekey_start(s, c))
            backoff(c);
    }
    ike_child_timer_arm(s);
}

void ike_child_rekey_done(struct ike_sess *s, const struct ike_msg *in)
{
    struct ike_child_sa *old = child_by_in(s, s->rk.old_spi_in), c = {0};
    const struct ike_pld *sa_p = ike_msg_find(in, IKE_PLD_SA, 0), *n_p = ike_msg_find(in, IKE_PLD_NONCE, 0);
    const struct ike_pld *ke_p = ike_msg_find(in, IKE_PLD_KE, 0);
    const struct ike_pld *tsi_p = ike_msg_find(in, IKE_PLD_TSI, 0), *tsr_p = ike_msg_find(in, IKE_PLD_TSR, 0);
    struct ike_sa_pld *sa = calloc(1, sizeof(*sa));
    struct ike_esp_algs only = {.encr = ike_encr_bit(s->rk.alg.encr_id, s->rk.alg.encr_bits),
                                .integ = s->rk.alg.integ ? 1u << s->rk.alg.integ : 0,
                                .esn = s->rk.alg.esn};
    struct ike_ts_pld resp_i, resp_r, bound_i, bound_r, got_i, got_r;
    struct ike_child_keys k, mine;
    struct ike_ke_pld ke;
    const uint8_t *nr = NULL;
    size_t nr_len = 0;
    uint8_t gir[512];
    size_t gir_len = 0;
    bool ok;

    /* the response's selectors (TSi ours, TSr the client's) must stay within the
     * rekeyed child's: the dataplane installs no more than that */
    if (old) {
        ike_tss_get(&old->tsi, &bound_i);
        ike_tss_get(&old->tsr, &bound_r);
    } else {
        ike_tss_get(&s->allow_i, &bound_i);
        ike_tss_get(&s->allow_r, &bound_r);
    }
    ok = sa && sa_p && n_p && tsi_p && tsr_p && ike_sa_parse(sa_p, sa) && ike_nonce_parse(n_p, &nr, &nr_len) &&
         ike_ts_parse(tsi_p, &resp_r) && ike_ts_parse(tsr_p, &resp_i) && ike_ts_narrow(&resp_i, &bound_i, &got_i) &&
         ike_ts_narrow(&resp_r, &bound_r, &got_r) &&
         ike_child_choose(sa, &only, s->rk.alg.dh_group, &c.alg);
    if (ok && s->rk.dh)
        ok = ke_p && ike_ke_parse(ke_p, &ke) && ke.group == s->rk.alg.dh_group &&
             (gir_len = ike_dh_derive(s->rk.dh, ke.data, ke.len, gir, sizeof(gir))) > 0;
    free(sa);
    ike_dh_free(s->rk.dh);
    s->rk.dh = NULL;
    if (!ok) {
        const struct ike_pld *np = ike_msg_find(in, IKE_PLD_NOTIFY, 0);
        struct ike_notify_pld n;

        log_warn("ike", "session %" PRIu64 ": the client refused or garbled our rekey of child SA %08x", s->ss.id,
                 s->rk.old_spi_in);
        /* INVALID_KE_PAYLOAD: the client wants PFS with this group; at once with it
         * if the IKE policy allows the group */
        if (np && ike_notify_parse(np, &n) && n.type == 17 && n.len == 2 && !s->pfs_group) {
            uint16_t g = (uint16_t)(n.data[0] << 8 | n.data[1]);

            if (g < 32 && (ike_conf_algs(s->gen, &s->local, s->fvrf)->groups & (1u << g)) && g != s->rekey_group) {
                s->rekey_group = g;
                if (old) {
                    old->rekeying = false;
                    old->sc.rekey_at = time(NULL);
                }
                ike_child_timer_arm(s);
                return;
            }
        }
        /* an answer with an SA that we cannot take: the client has it, take it back */
        if (sa_p && !(np && ike_notify_parse(np, &n) && n.type < 16384))
            queue_delete(s, s->rk.new_spi_in);
        if (old)
            backoff(old);
        ike_child_timer_arm(s);
        return;
    }
    c.sc.spi_in = s->rk.new_spi_in;
    c.sc.spi_out = c.alg.spi_peer;
    c.sc.established = time(NULL);
    c.sc.rekeys = old ? old->sc.rekeys + 1 : 1;
    /* RFC 7296 2.8.1: the client rekeyed the same child meanwhile. Of the two new
     * SAs, the one made by the exchange with the lowest nonce goes, deleted by
     * its initiator: if that is ours, we never install it and delete it; else
     * the client deletes its own. */
    if (old && old->replaced) {
        uint8_t ours[32];
        size_t ours_len;

        nonce_min(s->rk.ni, sizeof(s->rk.ni), nr, nr_len, ours, &ours_len);
        if (nonce_cmp(ours, ours_len, old->peer_nonce, old->peer_nonce_len) < 0) {
            log_info("ike", "session %" PRIu64 ": simultaneous rekey of child SA %08x, ours yields", s->ss.id,
                     old->sc.spi_in);
            OPENSSL_cleanse(gir, sizeof(gir));
            old->rekeying = false;
            queue_delete(s, c.sc.spi_in);
            ike_child_timer_arm(s);
            return;
        }
    }
    /* we initiated: the initiator-to-responder keys are our outbound ones */
    ok = ike_child_keymat(s->in.prf, s->in.keys.sk_d, s->in.keys.prf_len, gir, gir_len, s->rk.ni, sizeof(s->rk.ni),
                          nr, nr_len, &c.alg, &k);
    OPENSSL_cleanse(gir, sizeof(gir));
    memcpy(mine.ei, k.er, sizeof(k.er));
    memcpy(mine.ai, k.ar, sizeof(k.ar));
    memcpy(mine.er, k.ei, sizeof(k.ei));
    memcpy(mine.ar, k.ai, sizeof(k.ai));
    OPENSSL_cleanse(&k, sizeof(k));
    if (ok && (!ike_child_room(s) || !ike_tss_set(&c.tsi, &got_i) || !ike_tss_set(&c.tsr, &got_r)))
        ok = false;
    old = child_by_in(s, s->rk.old_spi_in); /* the table may have moved */
    if (!ok || !ike_child_install(s, &c, &mine)) {
        OPENSSL_cleanse(&mine, sizeof(mine));
        ike_tss_free(&c.tsi);
        ike_tss_free(&c.tsr);
        queue_delete(s, c.sc.spi_in); /* the peer has it: take it back */
        if (old)
            backoff(old);
        ike_child_timer_arm(s);
        return;
    }
    OPENSSL_cleanse(&mine, sizeof(mine));
    ike_child_lifetimes(s, &c);
    s->child[s->nchild++] = c;
    old = child_by_in(s, s->rk.old_spi_in);
    s->e->c.create_child++;
    log_info("ike", "session %" PRIu64 ": child SA %08x rekeyed by us as %08x/%08x", s->ss.id, s->rk.old_spi_in,
             c.sc.spi_in, c.sc.spi_out);
    /* the old child goes (unless the client deleted it meanwhile) */
    if (old) {
        old->rekeying = false;
        old->replaced = true;
        old->replaced_by = c.sc.spi_in; /* its traffic carries over to the new child */
        queue_delete(s, old->sc.spi_in);
    }
    ike_child_timer_arm(s);
}

void ike_child_delete_done(struct ike_sess *s)
{
    for (size_t i = 0; i < s->ndel_sent; i++) {
        struct ike_child_sa *c = child_by_in(s, s->del_sent[i]);

        if (c) {
            ike_child_remove(s, c);
            *c = s->child[--s->nchild];
            ike_child_forget(s, s->del_sent[i]);
        }
    }
    s->ndel_sent = 0;
    ike_child_timer_arm(s);
}

/* ---- Raven as the initiator of an IKE SA rekey (RFC 7296 1.3.2, 2.18) ---- */

/* The current IKE SA's algorithms as a proposal (and as the only ones accepted). */
static void current_ike_algs(const struct ike_sess *s, struct ike_proposal *p, struct ike_algs *a)
{
    uint16_t bits = (uint16_t)(s->in.cbc ? s->in.encr_key_len * 8 :
                               s->in.aead == IKE_AEAD_CHACHA20_POLY1305 ? 0 : (s->in.encr_key_len - 4) * 8);
    uint16_t encr = s->in.cbc ? IKE_ENCR_AES_CBC : (uint16_t)s->in.aead;

    *p = (struct ike_proposal){.num = 1, .protocol = 1, .spi_len = 8};
    p->trans[p->ntrans++] = (struct ike_transform){.type = IKE_TRANS_ENCR, .id = encr, .key_len = bits};
    p->trans[p->ntrans++] = (struct ike_transform){.type = IKE_TRANS_PRF, .id = (uint16_t)s->in.prf};
    if (s->in.cbc)
        p->trans[p->ntrans++] = (struct ike_transform){.type = IKE_TRANS_INTEG, .id = (uint16_t)s->in.integ};
    p->trans[p->ntrans++] = (struct ike_transform){.type = IKE_TRANS_DH, .id = (uint16_t)s->in.group};
    *a = (struct ike_algs){.encr = ike_encr_bit(encr, bits),
                           .integ = s->in.cbc ? 1u << s->in.integ : 0,
                           .prf = 1u << s->in.prf,
                           .groups = 1u << s->in.group};
}

bool ike_ike_rekey_start(struct ike_sess *s)
{
    struct ike_sa_pld sa = {.nprop = 1};
    struct ike_algs algs;
    struct ike_builder bd;
    struct ike_hdr h = {0};
    struct ike_sess *clash;
    uint8_t pub[512];
    size_t pub_len;
    bool ok;

    do {
        if (RAND_bytes(s->ikr.spi_i, 8) != 1)
            return false;
        HASH_FIND(hh_r, s->e->by_r, s->ikr.spi_i, 8, clash);
    } while (clash);
    ike_dh_free(s->ikr.dh);
    s->ikr.dh = ike_dh_new(s->in.group);
    if (!s->ikr.dh || RAND_bytes(s->ikr.ni, sizeof(s->ikr.ni)) != 1 ||
        !(pub_len = ike_dh_public(s->ikr.dh, pub, sizeof(pub))))
        return false;
    current_ike_algs(s, &sa.prop[0], &algs);
    sa.prop[0].spi = s->ikr.spi_i;
    ike_build_begin(&bd, &h);
    ike_sa_build(&bd, &sa);
    ike_build_raw(&bd, IKE_PLD_NONCE, false, s->ikr.ni, sizeof(s->ikr.ni));
    ike_ke_build(&bd, &(struct ike_ke_pld){.group = (uint16_t)s->in.group, .data = pub, .len = pub_len});
    ok = ike_build_finish(&bd) && ike_sess_request(s, REQ_IKE_REKEY, IKE_EXCH_CREATE_CHILD_SA, IKE_PLD_SA,
                                                  bd.buf.data + IKE_HDR_LEN, bd.buf.len - IKE_HDR_LEN);
    ike_buf_fini(&bd.buf);
    if (ok)
        ike_sa_set_state(s, IKE_SA_REKEYING, "our IKE SA rekey sent");
    if (ok)
        log_info("ike", "session %" PRIu64 ": rekeying the IKE SA before its lifetime ends", s->ss.id);
    return ok;
}

void ike_ike_rekey_done(struct ike_sess *s, const struct ike_msg *in)
{
    const struct ike_pld *sa_p = ike_msg_find(in, IKE_PLD_SA, 0), *n_p = ike_msg_find(in, IKE_PLD_NONCE, 0);
    const struct ike_pld *ke_p = ike_msg_find(in, IKE_PLD_KE, 0);
    struct ike_sa_pld *sa = calloc(1, sizeof(*sa));
    struct ike_proposal mine, chosen;
    struct ike_algs algs;
    struct ike_nonces nn = {0}; /* the exchange's, for the keys only */
    struct ike_init st = {0};
    struct ike_ke_pld ke;
    const uint8_t *nr;
    uint8_t gir[512];
    size_t gir_len = 0;
    struct ike_sess *stub = NULL;
    bool ok;

    ike_sa_set_state(s, IKE_SA_ESTABLISHED, "our IKE SA rekey answered");
    current_ike_algs(s, &mine, &algs);
    ok = sa && sa_p && n_p && ke_p && ike_sa_parse(sa_p, sa) && ike_nonce_parse(n_p, &nr, &nn.nr_len) &&
         nn.nr_len <= sizeof(nn.nr) && nn.nr_len >= 16 && ike_ke_parse(ke_p, &ke) &&
         ike_init_choose_rekey(&algs, sa, ke.group, &st, &chosen) && ke.group == st.group &&
         (gir_len = ike_dh_derive(s->ikr.dh, ke.data, ke.len, gir, sizeof(gir))) > 0;
    free(sa);
    if (ok) {
        /* the answer's SPI is the new responder SPI; ours the initiator's */
        memcpy(st.spi_r, st.spi_i, 8);
        memcpy(st.spi_i, s->ikr.spi_i, 8);
        memcpy(nn.nr, nr, nn.nr_len);
        memcpy(nn.ni, s->ikr.ni, sizeof(s->ikr.ni));
        nn.ni_len = sizeof(s->ikr.ni);
        ok = ike_derive_rekey_keys(s->in.prf, s->in.keys.sk_d, s->in.keys.prf_len, st.prf, nn.ni, nn.ni_len, nn.nr,
                                   nn.nr_len, gir, gir_len, st.spi_i, st.spi_r, st.integ_key_len, st.encr_key_len,
                                   &st.keys);
    }
    OPENSSL_cleanse(gir, sizeof(gir));
    ike_dh_free(s->ikr.dh);
    s->ikr.dh = NULL;
    if (!ok || !(stub = calloc(1, sizeof(*stub))) || !ike_sess_stub(s, stub)) {
        log_warn("ike", "session %" PRIu64 ": the client refused or garbled our IKE SA rekey", s->ss.id);
        ike_keys_wipe(&st.keys);
        evtimer_add(s->ev_ikerekey, &(struct timeval){.tv_sec = 30});
        return;
    }
    /* we rekeyed: we are the new SA's original initiator */
    adopt_ike_sa(s, &st, true);
    /* as the rekey's initiator we delete the old IKE SA (RFC 7296 2.18) */
    {
        struct ike_builder bd;
        struct ike_hdr h = {0};

        ike_build_begin(&bd, &h);
        ike_delete_build(&bd, &(struct ike_delete_pld){.protocol = 1});
        if (!ike_build_finish(&bd) || !ike_sess_request(stub, REQ_DELETE, IKE_EXCH_INFORMATIONAL, IKE_PLD_DELETE,
                                                        bd.buf.data + IKE_HDR_LEN, bd.buf.len - IKE_HDR_LEN))
            log_warn("ike", "session %" PRIu64 ": the old IKE SA's DELETE could not be sent", s->ss.id);
        ike_buf_fini(&bd.buf);
    }
    ike_mobike_flush(s); /* a return routability check queued behind our rekey */
    ike_redirect_flush(s); /* a REDIRECT too */
}
