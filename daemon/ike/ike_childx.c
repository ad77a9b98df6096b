/* Child SAs of a session in the dataplane (DESIGN.md "IKEv2 engine"): fresh
 * inbound SPIs, a child's two SAs built and handed to daemon/session
 * (sess_child_install/remove: the dataplane and the session arena's SA slots;
 * the keys are kept here for the session's record; the traffic of a rekeyed
 * child carries over to its successor), the ESP settings a session takes from
 * its IPsec profile, and the first child SA of IKE_AUTH (the child step,
 * ike_auth_steps.h). CREATE_CHILD_SA is in ike_rekey.c. */
#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/dp.h"
#include "daemon/ike/ike_auth_steps.h"
#include "daemon/ike/ike_persist.h"
#include "daemon/base/poison.h"

uint32_t ike_new_spi(struct ike_engine *e)
{
    uint32_t spi;

    do {
        if (RAND_bytes((uint8_t *)&spi, sizeof(spi)) != 1)
            return 0;
    } while (spi < 256 || dp_spi_in_use(e->dp, spi));
    return spi;
}

static void ts_ranges(const struct ike_tss *tss, struct dp_sa *sa)
{
    struct ike_ts_pld all;
    const struct ike_ts_pld *ts = &all;

    ike_tss_get(tss, &all);
    sa->nsel = 0;
    for (uint8_t i = 0; i < ts->nts && sa->nsel < DP_MAX_SELECTORS; i++) {
        struct dp_range *r = &sa->sel[sa->nsel++];
        size_t n = ts->ts[i].type == 7 ? 4 : 16;

        r->family = ts->ts[i].type == 7 ? AF_INET : AF_INET6;
        memcpy(r->start, ts->ts[i].start, n);
        memcpy(r->end, ts->ts[i].end, n);
    }
}

void ike_child_dp_conf(const struct ike_sess *s, const struct ike_child_sa *c, const struct ike_child_keys *k,
                       struct dp_sa *in, struct dp_sa *out)
{
    bool natt = s->sock ? s->sock->natt : s->adopt_natt;

    memset(in, 0, sizeof(*in));
    memset(out, 0, sizeof(*out));
    in->spi = c->sc.spi_in;
    in->inbound = true;
    in->session_id = out->session_id = s->ss.id;
    in->cipher = out->cipher = (enum dp_cipher)c->alg.encr_id;
    in->key_len = out->key_len = c->alg.encr_key_len;
    memcpy(in->key, k->ei, c->alg.encr_key_len); /* initiator to responder: our inbound */
    memcpy(out->key, k->er, c->alg.encr_key_len);
    in->integ = out->integ = (enum dp_integ)c->alg.integ;
    in->integ_key_len = out->integ_key_len = c->alg.integ_key_len;
    memcpy(in->integ_key, k->ai, c->alg.integ_key_len);
    memcpy(out->integ_key, k->ar, c->alg.integ_key_len);
    in->esn = out->esn = c->alg.esn;
    in->replay_window = s->replay_window;
    in->soft_bytes = out->soft_bytes = s->child_soft_bytes;
    in->hard_bytes = out->hard_bytes = s->child_hard_bytes;
    in->soft_packets = out->soft_packets = s->child_soft_packets;
    in->hard_packets = out->hard_packets = s->child_hard_packets;
    in->tcp_mss = out->tcp_mss = s->tcp_mss;
    out->mtu = s->mtu;
    in->local = out->local = s->local;
    in->peer = out->peer = s->peer;
    in->udp_encap = out->udp_encap = ike_mobike_encap(s, natt); /* as a move sets it (ike_mobike.c) */
    in->vrf = s->ivrf_ifindex;  /* decrypted traffic: the inside VRF's table */
    out->vrf = s->fvrf_ifindex; /* ESP to the peer: the front-door VRF's */
    ts_ranges(&c->tsi, in);     /* the client's side: allowed inner sources */
    ts_ranges(&c->tsi, out);    /* and the destinations routed to it */
    out->spi = c->sc.spi_out;
}

bool ike_child_install(struct ike_sess *s, struct ike_child_sa *c, const struct ike_child_keys *k)
{
    struct dp_sa in, out;
    bool ok;

    ike_child_dp_conf(s, c, k, &in, &out);
    ok = sess_child_install(&s->ss, &c->sc, &in, &out);
    if (ok && c->sc.live_in)
        c->keys = *k; /* for the record in the session arena: a later process installs them again */
    else
        OPENSSL_cleanse(&c->keys, sizeof(c->keys));
    OPENSSL_cleanse(&in, sizeof(in));
    OPENSSL_cleanse(&out, sizeof(out));
    return ok;
}

void ike_child_remove(struct ike_sess *s, struct ike_child_sa *c)
{
    sess_child_remove(&s->ss, &c->sc); /* its final traffic joins c->sc.base_* */
    OPENSSL_cleanse(&c->keys, sizeof(c->keys));
    ike_tss_free(&c->tsi);
    ike_tss_free(&c->tsr);
    /* a rekeyed child's traffic carries over to the child that replaced it */
    for (size_t i = 0; c->replaced && i < s->nchild; i++) {
        if (s->child[i].sc.spi_in == c->replaced_by && &s->child[i] != c) {
            sess_child_carry(&s->child[i].sc, &c->sc);
            break;
        }
    }
}

/* The ESP settings of the profile's IPsec profile (the virtual template's, else
 * one naming this IKEv2 profile; the defaults when there is none), as its
 * generation compiled them (ike_conf.h: defaults and derived limits included). */
void ike_childx_settings(struct ike_sess *s, const struct ike_prof *prof)
{
    const struct ike_ipsec_prof *ip = prof->ipsec;

    if (ip->name)
        s->ss.ipsec_profile = strdup(ip->name);
    s->esp = ip->esp;
    s->replay_window = ip->replay_window;
    s->child_soft_bytes = ip->soft_bytes;
    s->child_hard_bytes = ip->hard_bytes; /* the dataplane carries nothing past it (RFC 4301 4.4.2.1) */
    s->ss.idle_time = ip->idle_time;
    s->child_hard_packets = ip->hard_packets;
    s->child_soft_packets = ip->soft_packets;
    s->pfs_group = ip->pfs_group;
    s->child_lifetime = ip->lifetime;
    if (ip->soft_time)
        s->child_soft = ip->soft_time;
    if (ip->flow_limit != UINT32_MAX)
        s->flow_limit = ip->flow_limit;
}

/* ---- the child step of IKE_AUTH ---- */

/* The bounds of child SA selectors: the client's side is its assigned address
 * (else its own address), ours the split subnets (else everything). */
static void bounds(struct ike_sess *s, const struct sess_attrs *at)
{
    struct ike_ts_pld allow_i, allow_r;

    ike_tss_get(&s->allow_i, &allow_i);
    ike_tss_get(&s->allow_r, &allow_r);
    if (s->ss.have_addr4)
        ike_ts_host4(s->ss.addr4, &allow_i.ts[allow_i.nts++]);
    if (s->ss.have_addr6)
        ike_ts_prefix6(s->ss.addr6, s->ss.alen6, &allow_i.ts[allow_i.nts++]);
    if (!allow_i.nts && s->peer.ss_family == AF_INET)
        ike_ts_host4(ntohl(((struct sockaddr_in *)&s->peer)->sin_addr.s_addr), &allow_i.ts[allow_i.nts++]);
    else if (!allow_i.nts)
        ike_ts_prefix6(((struct sockaddr_in6 *)&s->peer)->sin6_addr.s6_addr, 128, &allow_i.ts[allow_i.nts++]);
    if (at->subnets.n) {
        ike_ts_of_prefixes(&at->subnets, &allow_r);
    } else {
        static const uint8_t any6[16];

        ike_ts_prefix4(0, 0, &allow_r.ts[allow_r.nts++]);
        ike_ts_prefix6(any6, 0, &allow_r.ts[allow_r.nts++]);
    }
    /* short of memory the sets stay empty: no child is accepted */
    if (!ike_tss_set(&s->allow_i, &allow_i) || !ike_tss_set(&s->allow_r, &allow_r)) {
        ike_tss_free(&s->allow_i);
        ike_tss_free(&s->allow_r);
    }
}

/* The first child SA from the request's SA, TSi and TSr: in w->child when it
 * is made, else the notify that says why in w->child_err. */
static void first_child(struct ike_sess *s, struct ike_auth_run *w, const struct ike_pld *sa_p,
                        const struct ike_pld *tsi_p, const struct ike_pld *tsr_p)
{
    struct ike_sa_pld *offer = w->sa;
    struct ike_child_sa *child = &w->child;
    struct ike_ts_pld tsi, tsr, bound_i, bound_r;
    struct ike_child_keys k;

    ike_tss_get(&s->allow_i, &bound_i);
    ike_tss_get(&s->allow_r, &bound_r);
    if (s->flow_limit == 0) {
        w->child_err = N_NO_ADDITIONAL_SAS;
    } else if (!ike_sa_parse(sa_p, offer) || !tsi_p || !tsr_p || !ike_ts_parse(tsi_p, &tsi) ||
               !ike_ts_parse(tsr_p, &tsr)) {
        w->child_err = N_INVALID_SYNTAX;
    } else if (!ike_child_choose(offer, &s->esp, 0, &child->alg)) {
        w->child_err = N_NO_PROPOSAL_CHOSEN;
        s->e->c.no_proposal++;
    } else if (!ike_ts_narrow(&tsi, &bound_i, &w->tsi) || !ike_ts_narrow(&tsr, &bound_r, &w->tsr)) {
        w->child_err = N_TS_UNACCEPTABLE;
        s->e->c.ts_unacceptable++;
    } else if (!ike_tss_set(&child->tsi, &w->tsi) || !ike_tss_set(&child->tsr, &w->tsr)) {
        w->child_err = N_TEMPORARY_FAILURE;
    }
    if (w->child_err) {
        ike_tss_free(&child->tsi);
        ike_tss_free(&child->tsr);
        return;
    }
    child->sc.spi_in = ike_new_spi(s->e);
    child->sc.spi_out = child->alg.spi_peer;
    child->sc.established = time(NULL);
    if (!child->sc.spi_in || !ike_child_room(s) ||
        !ike_child_keymat(s->in.prf, s->in.keys.sk_d, s->in.keys.prf_len, NULL, 0, s->in.n->ni, s->in.n->ni_len,
                          s->in.n->nr, s->in.n->nr_len, &child->alg, &k) ||
        !ike_child_install(s, child, &k)) {
        w->child_err = N_TEMPORARY_FAILURE;
        ike_tss_free(&child->tsi);
        ike_tss_free(&child->tsr);
    } else {
        w->have_child = true;
        ike_child_lifetimes(s, child);
        s->child[s->nchild++] = *child;
    }
    OPENSSL_cleanse(&k, sizeof(k));
}

enum ike_auth_rc ike_childx_step(struct ike_sess *s, struct ike_auth_run *w)
{
    const struct ike_msg *in = &s->pend->req;
    const struct ike_pld *sa_p = ike_msg_find(in, IKE_PLD_SA, 0);
    const struct ike_pld *tsi_p = ike_msg_find(in, IKE_PLD_TSI, 0), *tsr_p = ike_msg_find(in, IKE_PLD_TSR, 0);

    bounds(s, &w->at);
    ike_route_plan(s, w->prof, &w->at, tsi_p, &w->rmark);
    if (sa_p && !w->addr_failed)
        first_child(s, w, sa_p, tsi_p, tsr_p);
    if (w->addr_failed)
        s->e->c.internal_address_failure++;
    if (!w->have_child) /* the client's subnets come with the child SA that carries them */
        ike_route_accept_done(s, &w->rmark, false);
    return IKE_AUTH_NEXT;
}
