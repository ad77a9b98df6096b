/* Child SAs in the dataplane: installing a child's two SAs (with their changing
 * state in the session arena when there is one, ike_adopt.c), removing them, and
 * carrying a rekeyed child's traffic over to the child that replaced it. */
#include <string.h>
#include <openssl/crypto.h>

#include "daemon/ike/ike_eng.h"
#include "daemon/ike/ike_persist.h"
#include "daemon/base/poison.h"

static void ts_ranges(const struct ike_ts_pld *ts, struct dp_sa *sa)
{
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
    bool natt = s->sock && s->sock->natt;

    memset(in, 0, sizeof(*in));
    memset(out, 0, sizeof(*out));
    in->spi = c->spi_in;
    in->inbound = true;
    in->session_id = out->session_id = s->id;
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
    in->udp_encap = out->udp_encap = natt || s->in.nat_peer || s->in.nat_local;
    in->vrf = s->ivrf_ifindex;  /* decrypted traffic: the inside VRF's table */
    out->vrf = s->fvrf_ifindex; /* ESP to the peer: the front-door VRF's */
    ts_ranges(&c->tsi, in);     /* the client's side: allowed inner sources */
    ts_ranges(&c->tsi, out);    /* and the destinations routed to it */
    out->spi = c->spi_out;
}

bool ike_child_install(struct ike_sess *s, struct ike_child_sa *c, const struct ike_child_keys *k)
{
    struct dp_sa in, out;
    bool ok = false;

    ike_child_dp_conf(s, c, k, &in, &out);
    ike_persist_child_live(s, c, k, &in, &out);
    if (dp_sa_add(s->e->dp, &in))
        goto out;
    if (dp_sa_add(s->e->dp, &out)) {
        dp_sa_del(s->e->dp, s->id, in.spi, true, NULL);
        goto out;
    }
    ok = true;
out:
    if (!ok)
        ike_persist_child_gone(s, c);
    OPENSSL_cleanse(&in, sizeof(in));
    OPENSSL_cleanse(&out, sizeof(out));
    return ok;
}

static void stats_add(struct dp_sa_stats *to, const struct dp_sa_stats *a, const struct dp_sa_stats *b)
{
    to->packets += a->packets + b->packets;
    to->bytes += a->bytes + b->bytes;
    to->replay_drops += a->replay_drops + b->replay_drops;
    to->auth_failures += a->auth_failures + b->auth_failures;
    to->selector_drops += a->selector_drops + b->selector_drops;
}

void ike_child_remove(struct ike_sess *s, struct ike_child_sa *c)
{
    struct dp_sa_stats in = {0}, out = {0};

    dp_sa_del(s->e->dp, s->id, c->spi_in, true, &in);
    dp_sa_del(s->e->dp, s->id, c->spi_out, false, &out);
    ike_persist_child_gone(s, c); /* after the dataplane let go of its slots */
    /* a rekeyed child's traffic carries over to the child that replaced it */
    for (size_t i = 0; c->replaced && i < s->nchild; i++) {
        if (s->child[i].spi_in == c->replaced_by && &s->child[i] != c) {
            stats_add(&s->child[i].base_in, &in, &c->base_in);
            stats_add(&s->child[i].base_out, &out, &c->base_out);
            break;
        }
    }
}
