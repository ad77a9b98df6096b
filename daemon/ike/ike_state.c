/* Operational state of the IKEv2 engine: sessions with their child SAs, pools and
 * IKE counters under /raven-vpn:vpn-state (see ike_engine.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/base/cpool.h"
#include "dataplane/dp.h"
#include "daemon/ike/ike_certcheck.h"
#include "daemon/ike/ike_eng.h"
#include "daemon/pki/pki_crl.h"
#include "daemon/pool/pool.h"
#include "daemon/base/poison.h"

void ike_add_str(struct lyd_node *p, const char *name, const char *v)
{
    if (v)
        lyd_new_term(p, NULL, name, v, 0, NULL);
}

void ike_add_u64(struct lyd_node *p, const char *name, uint64_t v)
{
    char b[24];

    snprintf(b, sizeof(b), "%" PRIu64, v);
    lyd_new_term(p, NULL, name, b, 0, NULL);
}


static struct lyd_node *inner(struct lyd_node *p, const char *name)
{
    struct lyd_node *n = NULL;

    lyd_new_inner(p, NULL, name, 0, &n);
    return n;
}

/* The session's bandwidth limits in force and what they policed. */
static void rate_state(const struct ike_sess *s, struct lyd_node *n)
{
    static const char *const dir[2] = {"inbound", "outbound"};
    struct dp_police_stats ps;
    struct lyd_node *r;

    if (!s->ss.rate_in_dp)
        return;
    sess_rate_stats(&s->ss, &ps);
    r = inner(n, "rate-limit");
    for (int d = 0; d < 2; d++) {
        struct lyd_node *x = inner(r, dir[d]);
        uint32_t k = s->ss.rate.kbps[d];

        if (k && k != AAA_RATE_NONE) {
            ike_add_u64(x, "rate", k);
            if (s->ss.rate.burst[d])
                ike_add_u64(x, "burst", s->ss.rate.burst[d]);
        }
        ike_add_u64(x, "policed-packets", ps.packets[d]);
        ike_add_u64(x, "policed-octets", ps.bytes[d]);
    }
}

/* UTC: libyang's ly_time_time2str() goes through localtime_r(), which stats the
 * time zone file on every call (a third of a large state read). */
static void time_leaf(struct lyd_node *p, const char *name, time_t t)
{
    struct tm tm;
    char s[32];

    if (t && gmtime_r(&t, &tm) && strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm))
        ike_add_str(p, name, s);
}

static void spi_hex(char out[17], const uint8_t spi[8])
{
    for (int i = 0; i < 8; i++)
        snprintf(out + 2 * i, 3, "%02x", spi[i]);
}

static const char *encr_name(bool cbc, int alg, size_t key_len)
{
    if (!cbc && alg == IKE_AEAD_CHACHA20_POLY1305)
        return "raven-types:chacha20-poly1305";
    if (!cbc)
        return key_len == 20 ? "raven-types:aes-gcm-16-128" : key_len == 36 ? "raven-types:aes-gcm-16-256" : NULL;
    return key_len == 16 ? "raven-types:aes-cbc-128" : key_len == 24 ? "raven-types:aes-cbc-192" :
           key_len == 32 ? "raven-types:aes-cbc-256" : NULL;
}

static const char *integ_name(int id)
{
    switch (id) {
    case IKE_INTEG_HMAC_SHA1_96:
        return "raven-types:hmac-sha1-96";
    case IKE_INTEG_HMAC_SHA2_256_128:
        return "raven-types:hmac-sha2-256-128";
    case IKE_INTEG_HMAC_SHA2_384_192:
        return "raven-types:hmac-sha2-384-192";
    case IKE_INTEG_HMAC_SHA2_512_256:
        return "raven-types:hmac-sha2-512-256";
    }
    return NULL;
}

static const char *prf_name(int id)
{
    switch (id) {
    case IKE_PRF_HMAC_SHA1:
        return "raven-types:prf-hmac-sha1";
    case IKE_PRF_HMAC_SHA2_256:
        return "raven-types:prf-hmac-sha2-256";
    case IKE_PRF_HMAC_SHA2_384:
        return "raven-types:prf-hmac-sha2-384";
    case IKE_PRF_HMAC_SHA2_512:
        return "raven-types:prf-hmac-sha2-512";
    }
    return NULL;
}

static const char *group_name(int id)
{
    switch (id) {
    case IKE_DH_MODP1024:
        return "raven-types:modp-1024";
    case IKE_DH_MODP2048:
        return "raven-types:modp-2048";
    case IKE_DH_MODP3072:
        return "raven-types:modp-3072";
    case IKE_DH_MODP4096:
        return "raven-types:modp-4096";
    case IKE_DH_ECP256:
        return "raven-types:ecp-256";
    case IKE_DH_ECP384:
        return "raven-types:ecp-384";
    case IKE_DH_ECP521:
        return "raven-types:ecp-521";
    case IKE_DH_CURVE25519:
        return "raven-types:curve25519";
    }
    return NULL;
}

static void ts_list(struct lyd_node *p, const char *name, const struct ike_tss *tss)
{
    struct ike_ts_pld all;
    const struct ike_ts_pld *ts = &all;

    ike_tss_get(tss, &all);
    for (uint8_t i = 0; i < ts->nts; i++) {
        struct lyd_node *n = NULL;
        char idx[4], a[INET6_ADDRSTRLEN];
        int fam = ts->ts[i].type == 7 ? AF_INET : AF_INET6;

        snprintf(idx, sizeof(idx), "%u", i);
        if (lyd_new_list(p, NULL, name, 0, &n, idx))
            continue;
        ike_add_str(n, "start-address", inet_ntop(fam, ts->ts[i].start, a, sizeof(a)));
        ike_add_str(n, "end-address", inet_ntop(fam, ts->ts[i].end, a, sizeof(a)));
        ike_add_u64(n, "protocol", ts->ts[i].ip_proto);
        ike_add_u64(n, "start-port", ts->ts[i].start_port);
        ike_add_u64(n, "end-port", ts->ts[i].end_port);
    }
}

static void session_state(struct ike_sess *s, struct lyd_node *state, time_t now)
{
    struct lyd_node *n = NULL, *ike, *alg, *rid, *st;
    char id[24], a[INET6_ADDRSTRLEN], spi[17];
    uint64_t bi = 0, bo = 0, pi = 0, po = 0;

    snprintf(id, sizeof(id), "%" PRIu64, s->ss.id);
    if (lyd_new_list(state, NULL, "session", 0, &n, id))
        return;
    ike = inner(n, "ike-sa");
    spi_hex(spi, s->in.spi_i);
    ike_add_str(ike, "initiator-spi", spi);
    spi_hex(spi, s->in.spi_r);
    ike_add_str(ike, "responder-spi", spi);
    ike_add_str(ike, "state", ike_sa_state_yang(s->state));
    alg = inner(ike, "algorithms");
    ike_add_str(alg, "encryption", encr_name(s->in.cbc, s->in.aead, s->in.encr_key_len));
    if (s->in.cbc)
        ike_add_str(alg, "integrity", integ_name(s->in.integ));
    ike_add_str(alg, "prf", prf_name(s->in.prf));
    ike_add_str(alg, "dh-group", group_name(s->in.group));
    ike_add_str(ike, "nat-detected", s->in.nat_peer && s->in.nat_local ? "both" : s->in.nat_peer ? "remote" :
                              s->in.nat_local ? "local" : "none");
    ike_add_str(ike, "fragmentation", s->in.fragmentation ? "true" : "false");
    ike_add_str(ike, "ppk", s->ppk_used ? "true" : "false");
    if (s->ppk_used)
        ike_add_str(ike, "ppk-id", s->ppk_id);
    ike_add_str(n, "peer-address", ike_addr_str(&s->peer, a, sizeof(a)));
    ike_add_u64(n, "peer-port", ntohs(s->peer.ss_family == AF_INET ? ((struct sockaddr_in *)&s->peer)->sin_port :
                                                             ((struct sockaddr_in6 *)&s->peer)->sin6_port));
    ike_add_str(n, "local-address", ike_addr_str(&s->local, a, sizeof(a)));
    ike_add_u64(n, "local-port", ntohs(s->local.ss_family == AF_INET ? ((struct sockaddr_in *)&s->local)->sin_port :
                                                               ((struct sockaddr_in6 *)&s->local)->sin6_port));
    ike_mobike_state(s, n);
    rid = inner(n, "remote-identity");
    if (ike_id_type_name(s->ss.id_type)) {
        char t[64];

        snprintf(t, sizeof(t), "raven-types:%s", ike_id_type_name(s->ss.id_type));
        ike_add_str(rid, "type", t);
    }
    ike_add_str(rid, "value", s->ss.remote_id);
    ike_add_str(n, "local-identity", s->ss.local_id);
    if (s->ss.auth_method) {
        char t[64];

        snprintf(t, sizeof(t), "raven-types:%s", s->ss.auth_method);
        ike_add_str(n, "authentication-method", t);
    }
    ike_add_str(n, "eap-identity", s->ss.eap_identity);
    ike_add_str(n, "authorized-user", s->ss.user);
    ike_add_str(n, "authorized-group", s->ss.group);
    ike_add_str(n, "authorization-sources", s->ss.authz_sources);
    if (s->flow_limit != UINT32_MAX)
        ike_add_u64(n, "flow-limit", s->flow_limit);
    rate_state(s, n);
    if (s->ss.acct_id[0])
        ike_add_str(n, "accounting-session-id", s->ss.acct_id);
    ike_add_str(n, "profile", s->ss.profile);
    ike_add_str(n, "ipsec-profile", s->ss.ipsec_profile);
    if (s->gen)
        ike_add_u64(n, "config-generation", s->gen->generation);
    if (s->ss.have_addr4) {
        struct in_addr ia = {.s_addr = htonl(s->ss.addr4)};

        ike_add_str(n, "assigned-ipv4", inet_ntop(AF_INET, &ia, a, sizeof(a)));
        ike_add_str(n, "assigned-ipv4-source", s->ss.addr4_aaa ? "aaa" : s->ss.dhcp ? "dhcp" : "pool");
    }
    if (s->ss.have_addr6) {
        char p6[INET6_ADDRSTRLEN + 4];

        snprintf(p6, sizeof(p6), "%s/%u", inet_ntop(AF_INET6, s->ss.addr6, a, sizeof(a)), s->ss.alen6);
        ike_add_str(n, "assigned-ipv6", p6);
    }
    time_leaf(n, "established-at", s->ss.established);
    ike_add_u64(n, "uptime", (uint64_t)(now - s->ss.established));
    if (s->ss.session_lifetime) {
        int64_t left = (int64_t)s->ss.session_lifetime - (now - s->ss.established);
        ike_add_u64(n, "session-lifetime-remaining", left > 0 ? (uint64_t)left : 0);
    }
    for (size_t i = 0; i < s->nchild; i++) {
        const struct ike_child_sa *c = &s->child[i];
        struct dp_sa_stats in = {0}, out = {0};
        struct lyd_node *cn = NULL, *cs;
        char spi_in[12];

        sess_child_stats(&s->ss, &c->sc, &in, &out);
        bi += in.bytes;
        pi += in.packets;
        bo += out.bytes;
        po += out.packets;
        snprintf(spi_in, sizeof(spi_in), "%u", c->sc.spi_in);
        if (lyd_new_list(n, NULL, "child-sa", 0, &cn, spi_in))
            continue;
        ike_add_u64(cn, "outbound-spi", c->sc.spi_out);
        ts_list(cn, "local-traffic-selector", &c->tsr);
        ts_list(cn, "remote-traffic-selector", &c->tsi);
        ike_add_str(cn, "encryption", encr_name(c->alg.encr_id == IKE_ENCR_AES_CBC, c->alg.encr_id, c->alg.encr_key_len));
        if (c->alg.integ)
            ike_add_str(cn, "integrity", integ_name(c->alg.integ));
        ike_add_str(cn, "encapsulation", s->sock && s->sock->natt ? "udp" : "esp");
        ike_add_str(cn, "esn", c->alg.esn ? "true" : "false");
        time_leaf(cn, "established-at", c->sc.established);
        ike_add_u64(cn, "rekeys", c->sc.rekeys);
        {
            int64_t left = (int64_t)s->child_lifetime - (now - c->sc.established);
            ike_add_u64(cn, "lifetime-remaining", left > 0 ? (uint64_t)left : 0);
        }
        cs = inner(cn, "statistics");
        ike_add_u64(cs, "bytes-in", in.bytes);
        ike_add_u64(cs, "bytes-out", out.bytes);
        ike_add_u64(cs, "packets-in", in.packets);
        ike_add_u64(cs, "packets-out", out.packets);
        ike_add_u64(cs, "replay-errors", in.replay_drops);
        ike_add_u64(cs, "auth-failures", in.auth_failures);
        ike_add_u64(cs, "selector-mismatches", in.selector_drops);
        ike_add_u64(cn, "outbound-sequence", out.seq);
        ike_add_u64(cn, "inbound-replay-top", in.seq);
    }
    st = inner(n, "statistics");
    ike_add_u64(st, "bytes-in", bi);
    ike_add_u64(st, "bytes-out", bo);
    ike_add_u64(st, "packets-in", pi);
    ike_add_u64(st, "packets-out", po);
}

void ike_sess_totals(struct ike_sess *s, uint64_t v[4])
{
    v[0] = v[1] = v[2] = v[3] = 0;
    for (size_t i = 0; i < s->nchild; i++) {
        const struct ike_child_sa *c = &s->child[i];
        struct dp_sa_stats in = {0}, out = {0};

        sess_child_stats(&s->ss, &c->sc, &in, &out);
        v[0] += in.bytes;
        v[1] += out.bytes;
        v[2] += in.packets;
        v[3] += out.packets;
    }
}

static void pool_state(const struct pool_info *pi, void *arg)
{
    struct lyd_node *n = NULL;

    if (lyd_new_list(arg, NULL, "pool", 0, &n, pi->name))
        return;
    ike_add_str(n, "family", pi->ipv6 ? "ipv6" : "ipv4");
    ike_add_u64(n, "size", pi->size);
    ike_add_u64(n, "in-use", pi->in_use);
    ike_add_u64(n, "free", pi->size - pi->in_use);
    ike_add_u64(n, "allocation-failures", pi->failures);
}

/* A page of the sessions up, in ascending id order (ike_engine.h): the
 * @offset + @limit smallest ids after the cursor are kept in a max-heap while
 * the table is walked once, then sorted. */
struct pick {
    uint64_t id;
    struct ike_sess *s;
};

static void heap_down(struct pick *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        struct pick t;

        if (l < n && h[l].id > h[m].id)
            m = l;
        if (r < n && h[r].id > h[m].id)
            m = r;
        if (m == i)
            return;
        t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void heap_up(struct pick *h, size_t i)
{
    while (i && h[(i - 1) / 2].id < h[i].id) {
        struct pick t = h[i];

        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static int pick_cmp(const void *a, const void *b)
{
    uint64_t x = ((const struct pick *)a)->id, y = ((const struct pick *)b)->id;

    return x < y ? -1 : x > y;
}

static int sessions_page(struct ike_engine *e, struct lyd_node *state, struct ike_state_sel *sel, time_t now)
{
    size_t total = HASH_CNT(hh_id, e->by_id), want, n = 0, after = 0;
    struct pick *h;
    struct ike_sess *s, *tmp;

    sel->total = 0;
    want = sel->limit ? (size_t)(sel->offset + sel->limit) : total;
    if (want > total)
        want = total;
    h = want ? malloc(want * sizeof(*h)) : NULL;
    if (want && !h)
        return -ENOMEM;
    HASH_ITER(hh_id, e->by_id, s, tmp) {
        if (!ike_sa_up(s))
            continue;
        sel->total++;
        if (sel->has_cursor && s->ss.id <= sel->cursor)
            continue;
        after++;
        if (n < want) {
            h[n] = (struct pick){s->ss.id, s};
            heap_up(h, n++);
        } else if (n && s->ss.id < h[0].id) {
            h[0] = (struct pick){s->ss.id, s};
            heap_down(h, n, 0);
        }
    }
    if (n)
        qsort(h, n, sizeof(*h), pick_cmp);
    for (size_t i = (size_t)sel->offset; i < n; i++)
        session_state(h[i].s, state, now);
    sel->remaining = after > n ? after - n : 0;
    sel->next = sel->remaining && n > sel->offset ? h[n - 1].id : 0;
    free(h);
    return 0;
}

/* The sessions @sel asks for; when it walks them all, their child SAs counted
 * into *@nchild too (*@counted), so that the counters need no second walk.
 * -ENOMEM when a page cannot be sorted. */
static int sessions_state(struct ike_engine *e, struct lyd_node *state, struct ike_state_sel *sel, time_t now,
                          size_t *nchild, bool *counted)
{
    struct ike_sess *s, *tmp;

    if (sel && sel->one) {
        HASH_FIND(hh_id, e->by_id, &sel->id, sizeof(sel->id), s);
        if (s && ike_sa_up(s) && !sel->count_only)
            session_state(s, state, now);
        sel->total = s && ike_sa_up(s);
        return 0;
    }
    if (sel && sel->paged && !sel->count_only)
        return sessions_page(e, state, sel, now);
    HASH_ITER(hh_id, e->by_id, s, tmp) {
        *nchild += s->nchild;
        if (!ike_sa_up(s))
            continue;
        if (sel)
            sel->total++;
        if (!sel || !sel->count_only)
            session_state(s, state, now);
    }
    *counted = true;
    return 0;
}

int ike_engine_state(struct ike_engine *e, struct lyd_node *state, struct ike_state_sel *sel)
{
    const struct ike_counters *c = &e->c;
    struct ike_sess *s, *tmp;
    struct lyd_node *ic, *n;
    time_t now = time(NULL);
    size_t nchild = 0;
    bool counted = false;
    int rc;

    if (sel)
        sel->total = sel->remaining = sel->next = 0;
    if ((!sel || sel->sessions) && (rc = sessions_state(e, state, sel, now, &nchild, &counted)))
        return rc;
    if (sel && !sel->others)
        return 0;
    if (!counted) {
        HASH_ITER(hh_id, e->by_id, s, tmp)
            nchild += s->nchild;
    }
    if (e->conf) {
        pool_set_foreach(e->conf->pools, pool_state, state);
        pool_set_foreach(e->conf->pools6, pool_state, state);
    }
    pki_crl_state(e->crl, state);
    ike_certcheck_state(e->conf, state);
    ic = inner(state, "ike-counters");
    time_leaf(ic, "discontinuity-time", c->discontinuity);
    if (e->conf)
        ike_add_u64(ic, "config-generation", e->conf->generation);
    ike_add_u64(ic, "config-generations-alive", ike_conf_alive());
    n = inner(ic, "sa");
    ike_add_u64(n, "active", e->established);
    ike_add_u64(n, "in-negotiation", e->half_open);
    ike_add_u64(n, "half-open", e->half_open);
    ike_add_u64(n, "child-sas", nchild);
    n = inner(ic, "requests");
    ike_add_u64(n, "received", c->received);
    ike_add_u64(n, "accepted", c->accepted);
    ike_add_u64(n, "rejected", c->rejected);
    n = inner(ic, "rejected-by-reason");
    ike_add_u64(n, "sa-limit", c->sa_limit);
    ike_add_u64(n, "in-negotiation-limit", c->in_negotiation_limit);
    ike_add_u64(n, "resource-low", c->resource_low);
    ike_add_u64(n, "no-proposal-chosen", c->no_proposal);
    ike_add_u64(n, "invalid-ke-payload", c->invalid_ke);
    ike_add_u64(n, "invalid-syntax", c->invalid_syntax);
    ike_add_u64(n, "authentication-failed", c->auth_failed);
    ike_add_u64(n, "ts-unacceptable", c->ts_unacceptable);
    ike_add_u64(n, "internal-address-failure", c->internal_address_failure);
    n = inner(ic, "cookie-challenges");
    ike_add_u64(n, "sent", c->cookie_sent);
    ike_add_u64(n, "accepted", c->cookie_accepted);
    ike_add_u64(n, "rejected", c->cookie_rejected);
    ike_add_u64(n, "rejected-no-cookie", c->cookie_missing);
    n = inner(ic, "unprotected-errors");
    ike_add_u64(n, "unsupported-critical-payload", c->unsupported_critical);
    ike_add_u64(n, "invalid-major-version", c->invalid_major_version);
    ike_add_u64(n, "rate-limited", c->unprotected_limited);
    n = inner(ic, "crypto-pool");
    ike_add_u64(n, "threads", cpool_threads(e->pool));
    ike_add_u64(n, "queue-capacity", cpool_capacity(e->pool));
    ike_add_u64(n, "queued", cpool_pending(e->pool));
    ike_add_u64(n, "jobs", c->pool_jobs);
    ike_add_u64(n, "cookies-demanded", c->pool_cookies);
    ike_add_u64(n, "queue-full", c->pool_full);
    ike_add_u64(n, "source-share", c->pool_per_peer);
    n = inner(ic, "redirect");
    ike_add_u64(n, "at-init", c->redirect_at_init);
    ike_add_u64(n, "established", c->redirect_established);
    ike_add_u64(n, "redirected-from", c->redirect_from);
    ike_add_u64(n, "refused-from-client", c->redirect_refused);
    ike_add_u64(n, "not-followed", c->redirect_not_followed);
    n = inner(ic, "exchanges");
    ike_add_u64(n, "ike-auth-completed", c->auth_completed);
    ike_add_u64(n, "eap-started", c->eap_started);
    ike_add_u64(n, "eap-timeouts", c->eap_timeouts);
    ike_add_u64(n, "create-child-sa", c->create_child);
    ike_add_u64(n, "ike-rekeys", c->ike_rekeys);
    ike_add_u64(n, "dpd-sent", c->dpd_sent);
    ike_add_u64(n, "dpd-timeouts", c->dpd_timeouts);
    ike_add_u64(n, "retransmissions", c->retransmissions);
    ike_add_u64(n, "fragments-received", c->fragments_received);
    ike_add_u64(n, "packets-dropped", c->dropped);
    return 0;
}
