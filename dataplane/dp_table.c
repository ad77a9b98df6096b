/* The dataplane's tables (see dp.h, dp_int.h): SAs by (session, direction, SPI)
 * for the control thread, inbound SAs by SPI and client prefixes (the outbound
 * SAs' selectors) for the workers, published through userspace RCU. */
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "dataplane/dp_int.h"
#include "dataplane/dp_nl.h"

/* struct dp_sa_live is part of the session arena's format (dp.h): a change of
 * its layout must come with a new SESS_ARENA_VERSION. These catch one made by
 * accident; change them only with that version. */
_Static_assert(sizeof(struct dp_sa_live) == 1600, "dp_sa_live: size (the session arena's format)");
_Static_assert(_Alignof(struct dp_sa_live) == 64, "dp_sa_live: alignment");
_Static_assert(offsetof(struct dp_sa_live, seq) == 0, "dp_sa_live.seq");
_Static_assert(offsetof(struct dp_sa_live, replay_top) == 8, "dp_sa_live.replay_top");
_Static_assert(offsetof(struct dp_sa_live, replay_bits) == 16, "dp_sa_live.replay_bits");
_Static_assert(offsetof(struct dp_sa_live, life_bytes) == 528, "dp_sa_live.life_bytes");
_Static_assert(offsetof(struct dp_sa_live, life_packets) == 536, "dp_sa_live.life_packets");
_Static_assert(offsetof(struct dp_sa_live, expired) == 544, "dp_sa_live.expired");
_Static_assert(offsetof(struct dp_sa_live, reserved) == 548, "dp_sa_live.reserved");
_Static_assert(offsetof(struct dp_sa_live, ctr) == 576, "dp_sa_live.ctr");
_Static_assert(sizeof(struct dp_sa_live_ctr) == 64, "dp_sa_live_ctr: size");
_Static_assert(offsetof(struct dp_sa_live_ctr, packets) == 0 && offsetof(struct dp_sa_live_ctr, bytes) == 8 &&
                   offsetof(struct dp_sa_live_ctr, replay) == 16 && offsetof(struct dp_sa_live_ctr, auth) == 24 &&
                   offsetof(struct dp_sa_live_ctr, selector) == 32,
               "dp_sa_live_ctr: fields");
_Static_assert(DP_LIVE_REPLAY_WORDS == ESP_REPLAY_WORDS, "the live window holds the largest one");
/* the atomics are plain memory a later process reads and continues */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2, "lock-free atomics");
_Static_assert(sizeof(_Atomic uint64_t) == 8 && sizeof(_Atomic uint32_t) == 4, "atomics as wide as their values");

static __thread bool rcu_registered;

void dp_rcu_enter(void)
{
    if (!rcu_registered) {
        rcu_register_thread();
        rcu_registered = true;
        return; /* registered threads start online */
    }
    rcu_thread_online();
}

void dp_rcu_leave(void)
{
    rcu_thread_offline();
}

static unsigned long mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return (unsigned long)x;
}

static unsigned long route_hash(const struct dp_route_key *k)
{
    uint64_t a, b;

    memcpy(&a, k->addr, 8);
    memcpy(&b, k->addr + 8, 8);
    return mix64(a ^ mix64(b ^ ((uint64_t)k->family << 8 | k->plen)));
}

static int match_spi(struct cds_lfht_node *node, const void *key)
{
    const struct dp_rsa *r = caa_container_of(node, struct dp_rsa, in_node);

    return r->spi == *(const uint32_t *)key;
}

static int match_route(struct cds_lfht_node *node, const void *key)
{
    const struct dp_route *r = caa_container_of(node, struct dp_route, node);

    return !memcmp(&r->key, key, sizeof(r->key));
}

struct dp *dp_new(void)
{
    /* per-worker counters inside are cache-line aligned */
    struct dp *dp = aligned_alloc(DP_CACHELINE, (sizeof(*dp) + DP_CACHELINE - 1) / DP_CACHELINE * DP_CACHELINE);

    if (!dp)
        return NULL;
    memset(dp, 0, sizeof(*dp));
    dp->clients4_fd = dp->clients6_fd = dp->local_fd = dp->natt_fd = -1;
    dp->watch_tail = &dp->watch;
    dp->in_ht = cds_lfht_new(64, 64, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
    dp->route_ht = cds_lfht_new(64, 64, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
    if (!dp->in_ht || !dp->route_ht) {
        if (dp->in_ht)
            cds_lfht_destroy(dp->in_ht, NULL);
        if (dp->route_ht)
            cds_lfht_destroy(dp->route_ht, NULL);
        free(dp);
        return NULL;
    }
    return dp;
}

/* Puts @r on dp->watch when it may have something to report (see
 * dp_watch_count); @udp_encap: its outer header's. */
static void watch_add(struct dp *dp, struct dp_rsa *r, bool udp_encap)
{
    bool wanted = r->conf.soft_bytes || r->conf.soft_packets || r->hard_bytes || r->hard_packets ||
                  atomic_load_explicit(&r->live->expired, memory_order_relaxed) || (r->inbound && udp_encap);

    if (!wanted || r->watch_prev)
        return;
    r->watch_next = NULL;
    r->watch_prev = dp->watch_tail;
    *dp->watch_tail = r;
    dp->watch_tail = &r->watch_next;
    dp->nwatch++;
}

static void watch_del(struct dp *dp, struct dp_rsa *r)
{
    if (!r->watch_prev)
        return;
    *r->watch_prev = r->watch_next;
    if (r->watch_next)
        r->watch_next->watch_prev = r->watch_prev;
    else
        dp->watch_tail = r->watch_prev;
    r->watch_next = NULL;
    r->watch_prev = NULL;
    dp->nwatch--;
}

size_t dp_watch_count(const struct dp *dp)
{
    return dp->nwatch;
}

static void rsa_free(struct dp_rsa *r)
{
    for (size_t i = 0; i < DP_MAX_WORKERS; i++)
        esp_xform_free(atomic_load(&r->xf[i]));
    free(r->outer);
    pthread_spin_destroy(&r->replay_lock);
    free(r->own_live);
    OPENSSL_cleanse(&r->conf, DP_SA_CONF_SIZE(r->conf.nsel));
    free(r);
}

void dp_free(struct dp *dp)
{
    struct dp_entry *e, *tmp;
    struct dp_route *rt, *rtmp;

    if (!dp)
        return;
    dp_ifaces_free(dp); /* workers gone: nothing reads the tables any more */
    dp_rcu_enter();
    HASH_ITER(hh, dp->sas, e, tmp) {
        HASH_DEL(dp->sas, e);
        if (e->rsa->conf.inbound)
            cds_lfht_del(dp->in_ht, &e->rsa->in_node);
        rsa_free(e->rsa);
        free(e);
    }
    HASH_ITER(hh, dp->routes, rt, rtmp) {
        HASH_DEL(dp->routes, rt);
        cds_lfht_del(dp->route_ht, &rt->node);
        free(rt);
    }
    dp_rcu_leave();
    dp_police_free_all(dp);
    cds_lfht_destroy(dp->in_ht, NULL);
    cds_lfht_destroy(dp->route_ht, NULL);
    free(dp->ports); /* no worker left to read it */
    free(dp);
}

static bool sa_valid(const struct dp_sa *sa)
{
    switch (sa->cipher) {
    case DP_CIPHER_NULL:
        return sa->key_len == 0 && sa->integ == DP_INTEG_NONE;
    case DP_CIPHER_AES_GCM_16:
        if (sa->key_len != 20 && sa->key_len != 28 && sa->key_len != 36)
            return false;
        return sa->integ == DP_INTEG_NONE;
    case DP_CIPHER_CHACHA20_POLY1305:
        return sa->key_len == 36 && sa->integ == DP_INTEG_NONE;
    case DP_CIPHER_AES_CBC:
        if (sa->key_len != 16 && sa->key_len != 24 && sa->key_len != 32)
            return false;
        return sa->integ != DP_INTEG_NONE && sa->integ_key_len && sa->integ_key_len <= DP_MAX_INTEG_KEY;
    }
    return false;
}

static struct dp_entry *entry_find(const struct dp *dp, uint64_t session, uint32_t spi, bool inbound)
{
    struct dp_entry k, *e;

    memset(&k.key, 0, sizeof(k.key)); /* hashed and compared as bytes */
    k.key.session = inbound ? 0 : session;
    k.key.spi = spi;
    k.key.inbound = inbound;
    HASH_FIND(hh, dp->sas, &k.key, sizeof(k.key), e);
    return e;
}

static struct dp_outer *outer_new(const struct sockaddr_storage *local, const struct sockaddr_storage *peer,
                                  bool udp_encap)
{
    struct dp_outer *o = calloc(1, sizeof(*o));
    const struct sockaddr_in *l = (const void *)local, *p = (const void *)peer;
    const struct sockaddr_in6 *l6 = (const void *)local, *p6 = (const void *)peer;

    if (!o)
        return NULL;
    /* both ends of one family: an SA whose addresses are not (none given yet)
     * stays installed (counters, selectors) but its packets are not sent */
    if (local->ss_family == AF_INET && peer->ss_family == AF_INET) {
        o->family = AF_INET;
        memcpy(o->local, &l->sin_addr, 4);
        memcpy(o->peer, &p->sin_addr, 4);
        o->local_port = l->sin_port;
        o->peer_port = p->sin_port;
    } else if (local->ss_family == AF_INET6 && peer->ss_family == AF_INET6) {
        o->family = AF_INET6;
        memcpy(o->local, &l6->sin6_addr, 16);
        memcpy(o->peer, &p6->sin6_addr, 16);
        o->local_port = l6->sin6_port;
        o->peer_port = p6->sin6_port;
    }
    o->udp_encap = udp_encap;
    return o;
}

/* Splits [start, end] into CIDR prefixes; calls @fn for each. */
static int range_prefixes(const struct dp_range *r, int (*fn)(void *, const struct dp_route_key *), void *arg)
{
    unsigned bits = r->family == AF_INET6 ? 128 : 32, len = bits / 8;
    uint8_t cur[16], end[16];
    int rc;

    memcpy(cur, r->start, len);
    memcpy(end, r->end, len);
    if (memcmp(cur, end, len) > 0)
        return -EINVAL;
    for (;;) {
        struct dp_route_key k = {.family = r->family == AF_INET6 ? AF_INET6 : AF_INET};
        unsigned host = 0;
        uint8_t last[16];

        /* the largest aligned block at cur that does not pass end */
        while (host < bits) {
            unsigned b = host; /* try host+1 host bits */
            bool aligned = !((cur[len - 1 - b / 8] >> (b % 8)) & 1);
            if (!aligned)
                break;
            memcpy(last, cur, len);
            for (unsigned i = 0; i <= b; i++)
                last[len - 1 - i / 8] |= 1u << (i % 8);
            if (memcmp(last, end, len) > 0)
                break;
            host++;
        }
        k.plen = bits - host;
        memcpy(k.addr, cur, len);
        if ((rc = fn(arg, &k)))
            return rc;
        /* cur = last address of the block + 1 */
        memcpy(last, cur, len);
        for (unsigned i = 0; i < host; i++)
            last[len - 1 - i / 8] |= 1u << (i % 8);
        if (!memcmp(last, end, len))
            return 0;
        for (int i = len - 1; i >= 0; i--)
            if (++last[i])
                break;
        memcpy(cur, last, len);
    }
}

static void plen_ref(struct dp *dp, const struct dp_route_key *k, int d)
{
    unsigned *refs = k->family == AF_INET6 ? &dp->plen_refs6[k->plen] : &dp->plen_refs4[k->plen];
    _Atomic uint64_t *bm = k->family == AF_INET6 ? dp->plens6 : dp->plens4;

    *refs += d;
    if (*refs == (d > 0 ? 1u : 0u)) {
        if (d > 0)
            atomic_fetch_or(&bm[k->plen / 64], 1ULL << (k->plen % 64));
        else
            atomic_fetch_and(&bm[k->plen / 64], ~(1ULL << (k->plen % 64)));
    }
}

struct route_op {
    struct dp *dp;
    struct dp_rsa *rsa;
    int count;
};

static int route_add(void *arg, const struct dp_route_key *k)
{
    struct route_op *op = arg;
    struct dp *dp = op->dp;
    struct dp_route *rt;

    HASH_FIND(hh, dp->routes, k, sizeof(*k), rt);
    if (rt) {
        rt->refs++;
        atomic_store(&rt->sa, op->rsa); /* the newest SA (a rekey) carries the traffic */
        op->count++;
        return 0;
    }
    if (++op->count > 256 || !(rt = calloc(1, sizeof(*rt))))
        return op->count > 256 ? -EINVAL : -ENOMEM;
    rt->key = *k;
    rt->refs = 1;
    atomic_store(&rt->sa, op->rsa);
    if (dp_lpm_update(dp, k, true)) {
        free(rt);
        return -ENOSPC;
    }
    HASH_ADD(hh, dp->routes, key, sizeof(rt->key), rt);
    cds_lfht_add(dp->route_ht, route_hash(k), &rt->node);
    plen_ref(dp, k, 1);
    return 0;
}

static void route_free_rcu(struct rcu_head *h)
{
    free(caa_container_of(h, struct dp_route, rcu));
}

static bool rsa_has_prefix(const struct dp_rsa *r, const struct dp_route_key *k);

static int route_del(void *arg, const struct dp_route_key *k)
{
    struct route_op *op = arg;
    struct dp *dp = op->dp;
    struct dp_route *rt;
    struct dp_entry *e, *tmp;

    HASH_FIND(hh, dp->routes, k, sizeof(*k), rt);
    if (!rt)
        return 0;
    if (--rt->refs) {
        if (atomic_load(&rt->sa) != op->rsa)
            return 0;
        /* hand the prefix to another SA that carries it */
        HASH_ITER(hh, dp->sas, e, tmp) {
            if (e->rsa != op->rsa && !e->rsa->conf.inbound && rsa_has_prefix(e->rsa, k)) {
                atomic_store(&rt->sa, e->rsa);
                return 0;
            }
        }
        return 0;
    }
    HASH_DEL(dp->routes, rt);
    cds_lfht_del(dp->route_ht, &rt->node);
    plen_ref(dp, k, -1);
    dp_lpm_update(dp, k, false);
    call_rcu(&rt->rcu, route_free_rcu);
    return 0;
}

struct prefix_find {
    const struct dp_route_key *k;
    bool found;
};

static int prefix_eq(void *arg, const struct dp_route_key *k)
{
    struct prefix_find *f = arg;

    if (!memcmp(k, f->k, sizeof(*k)))
        f->found = true;
    return 0;
}

static bool rsa_has_prefix(const struct dp_rsa *r, const struct dp_route_key *k)
{
    struct prefix_find f = {.k = k};

    for (size_t i = 0; i < r->conf.nsel && !f.found; i++)
        range_prefixes(&r->conf.sel[i], prefix_eq, &f);
    return f.found;
}

/* Undoes route_add for the first @count prefixes of the SA's selectors. */
static int route_del_counted(void *arg, const struct dp_route_key *k)
{
    struct route_op *op = arg;

    if (op->count <= 0)
        return 1;
    op->count--;
    return route_del(arg, k);
}

static void routes_del(struct dp *dp, struct dp_rsa *r, int count)
{
    struct route_op op = {.dp = dp, .rsa = r, .count = count};

    for (size_t i = 0; i < r->conf.nsel && op.count > 0; i++)
        range_prefixes(&r->conf.sel[i], route_del_counted, &op);
}

int dp_sa_add(struct dp *dp, const struct dp_sa *sa)
{
    struct dp_entry *e;
    struct dp_rsa *r;
    int rc = 0;

    if (!sa_valid(sa) || sa->nsel > DP_MAX_SELECTORS || sa->spi < 256)
        return -EINVAL;
    for (size_t i = 0; i < sa->nsel; i++)
        if ((sa->sel[i].family != AF_INET && sa->sel[i].family != AF_INET6) ||
            memcmp(sa->sel[i].start, sa->sel[i].end, sa->sel[i].family == AF_INET ? 4 : 16) > 0)
            return -EINVAL;
    if (entry_find(dp, sa->session_id, sa->spi, sa->inbound))
        return -EEXIST;
    e = calloc(1, sizeof(*e));
    /* only the selectors the SA has (most have one), and the changing state's
     * memory only when the caller keeps none */
    size_t rsize = (DP_RSA_SIZE(sa->nsel) + DP_CACHELINE - 1) / DP_CACHELINE * DP_CACHELINE;
    r = aligned_alloc(DP_CACHELINE, rsize);
    struct dp_sa_live *own = sa->live ? NULL : aligned_alloc(DP_CACHELINE, sizeof(*own));
    if (!e || !r || (!sa->live && !own)) {
        free(e);
        free(r);
        free(own);
        return -ENOMEM;
    }
    memset(r, 0, rsize);
    memcpy(&r->conf, sa, DP_SA_CONF_SIZE(sa->nsel));
    if (own)
        memset(own, 0, sizeof(*own));
    r->own_live = own;
    r->spi = sa->spi;
    r->inbound = sa->inbound;
    r->esn = sa->esn;
    r->tcp_mss = sa->tcp_mss;
    r->mtu = sa->mtu;
    r->vrf = sa->vrf;
    r->hard_bytes = sa->hard_bytes;
    r->hard_packets = sa->hard_packets;
    r->params = (struct esp_params){.cipher = sa->cipher, .key = r->conf.key, .key_len = sa->key_len,
                                    .integ = sa->integ, .integ_key = r->conf.integ_key,
                                    .integ_key_len = sa->integ_key_len, .esn = sa->esn,
                                    .backend = esp_backend_default()};
    pthread_spin_init(&r->replay_lock, PTHREAD_PROCESS_PRIVATE);
    esp_replay_init(&r->replay, sa->replay_window, sa->esn);
    /* the caller's memory (continued with adopt, else reset once the SA is
     * known good, below), or our own (zeroed above) */
    r->live = sa->live ? sa->live : own;
    if (!(r->outer = outer_new(&sa->local, &sa->peer, sa->udp_encap))) {
        pthread_spin_destroy(&r->replay_lock);
        free(own);
        free(r);
        free(e);
        return -ENOMEM;
    }
    /* a transform the backend cannot key is refused now, not at the first packet */
    struct esp_xform *probe = esp_xform_new(&r->params, !sa->inbound);
    if (!probe) {
        rsa_free(r);
        free(e);
        return -EINVAL;
    }
    atomic_store(&r->xf[0], probe);
    if (sa->live && !sa->adopt)
        memset(sa->live, 0, sizeof(*sa->live)); /* no worker sees it before it is published */
    dp_police_attach(dp, r);
    dp_rcu_enter();
    if (!sa->inbound) {
        struct route_op op = {.dp = dp, .rsa = r};
        for (size_t i = 0; !rc && i < sa->nsel; i++)
            rc = range_prefixes(&sa->sel[i], route_add, &op);
        if (rc) {
            int added = op.count - (rc == -EINVAL || rc == -ENOMEM || rc == -ENOSPC ? 1 : 0);
            routes_del(dp, r, added);
        }
    } else {
        cds_lfht_add(dp->in_ht, mix64(sa->spi), &r->in_node);
    }
    dp_rcu_leave();
    if (rc) {
        synchronize_rcu();
        dp_police_detach(dp, r);
        rsa_free(r);
        free(e);
        return rc;
    }
    e->key.session = sa->inbound ? 0 : sa->session_id;
    e->key.spi = sa->spi;
    e->key.inbound = sa->inbound;
    e->rsa = r;
    HASH_ADD(hh, dp->sas, key, sizeof(e->key), e);
    watch_add(dp, r, sa->udp_encap);
    return 0;
}

static void outer_free_rcu(struct rcu_head *h)
{
    free(caa_container_of(h, struct dp_outer, rcu));
}

size_t dp_session_move(struct dp *dp, uint64_t session_id, const struct sockaddr_storage *local,
                       const struct sockaddr_storage *peer, bool udp_encap)
{
    struct dp_entry *e, *tmp;
    size_t n = 0;

    dp_rcu_enter();
    HASH_ITER(hh, dp->sas, e, tmp) {
        struct dp_outer *o, *old;

        if (e->rsa->conf.session_id != session_id || !(o = outer_new(local, peer, udp_encap)))
            continue;
        e->rsa->conf.local = *local;
        e->rsa->conf.peer = *peer;
        e->rsa->conf.udp_encap = udp_encap;
        watch_add(dp, e->rsa, udp_encap);
        old = rcu_xchg_pointer(&e->rsa->outer, o);
        call_rcu(&old->rcu, outer_free_rcu);
        n++;
    }
    dp_rcu_leave();
    return n;
}

static void rsa_sum(const struct dp_rsa *r, struct dp_sa_stats *out)
{
    const struct dp_sa_live *l = r->live;

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < DP_MAX_WORKERS; i++) {
        out->packets += l->ctr[i].packets;
        out->bytes += l->ctr[i].bytes;
        out->replay_drops += l->ctr[i].replay;
        out->auth_failures += l->ctr[i].auth;
        out->selector_drops += l->ctr[i].selector;
    }
    if (r->conf.inbound)
        out->seq = __atomic_load_n(&l->replay_top, __ATOMIC_RELAXED);
    else
        out->seq = atomic_load_explicit(&l->seq, memory_order_relaxed);
}

int dp_sa_del(struct dp *dp, uint64_t session_id, uint32_t spi, bool inbound, struct dp_sa_stats *last)
{
    struct dp_entry *e = entry_find(dp, session_id, spi, inbound);
    struct dp_rsa *r;

    if (!e)
        return -ENOENT;
    r = e->rsa;
    HASH_DEL(dp->sas, e);
    free(e);
    watch_del(dp, r);
    dp_rcu_enter();
    if (inbound)
        cds_lfht_del(dp->in_ht, &r->in_node);
    else
        routes_del(dp, r, 1 << 30);
    dp_rcu_leave();
    /* after the grace period no worker holds the SA: its counters are final */
    synchronize_rcu();
    dp_police_detach(dp, r);
    if (last)
        rsa_sum(r, last);
    rsa_free(r);
    return 0;
}

int dp_sa_stats(const struct dp *dp, uint64_t session_id, uint32_t spi, bool inbound, struct dp_sa_stats *out)
{
    struct dp_entry *e = entry_find(dp, session_id, spi, inbound);

    if (!e)
        return -ENOENT;
    rsa_sum(e->rsa, out);
    return 0;
}

bool dp_spi_in_use(const struct dp *dp, uint32_t spi)
{
    return entry_find(dp, 0, spi, true) != NULL;
}

size_t dp_sa_count(const struct dp *dp)
{
    return HASH_COUNT(dp->sas);
}

size_t dp_soft_expired(struct dp *dp, struct dp_sa_ref *out, size_t max)
{
    size_t n = 0;

    for (struct dp_rsa *r = dp->watch; r; r = r->watch_next) {
        struct dp_sa_stats st;

        if (n == max)
            break;
        if (r->soft_reported || (!r->conf.soft_bytes && !r->conf.soft_packets))
            continue;
        rsa_sum(r, &st);
        if ((r->conf.soft_bytes && st.bytes >= r->conf.soft_bytes) ||
            (r->conf.soft_packets && st.packets >= r->conf.soft_packets)) {
            r->soft_reported = true;
            out[n++] = (struct dp_sa_ref){r->conf.session_id, r->conf.spi, r->conf.inbound};
        }
    }
    return n;
}

size_t dp_floated(struct dp *dp, struct dp_float *out, size_t max)
{
    size_t n = 0;

    for (struct dp_rsa *r = dp->watch; r; r = r->watch_next) {
        bool got = false;

        if (n == max)
            break;
        if (!r->conf.inbound || !atomic_load_explicit(&r->floated, memory_order_relaxed))
            continue;
        memset(&out[n], 0, sizeof(out[n]));
        pthread_spin_lock(&r->replay_lock);
        if (atomic_exchange_explicit(&r->floated, 0, memory_order_relaxed)) {
            got = true;
            if (r->float_family == AF_INET6) {
                struct sockaddr_in6 *a = (struct sockaddr_in6 *)&out[n].peer;

                a->sin6_family = AF_INET6;
                memcpy(&a->sin6_addr, r->float_addr, 16);
                a->sin6_port = r->float_port;
            } else {
                struct sockaddr_in *a = (struct sockaddr_in *)&out[n].peer;

                a->sin_family = AF_INET;
                memcpy(&a->sin_addr, r->float_addr, 4);
                a->sin_port = r->float_port;
            }
        }
        pthread_spin_unlock(&r->replay_lock);
        if (!got)
            continue;
        out[n].session_id = r->conf.session_id;
        out[n].spi = r->conf.spi;
        n++;
    }
    return n;
}

size_t dp_hard_expired(struct dp *dp, struct dp_sa_ref *out, size_t max)
{
    size_t n = 0;

    for (struct dp_rsa *r = dp->watch; r; r = r->watch_next) {

        if (n == max)
            break;
        if (r->hard_reported || !atomic_load_explicit(&r->live->expired, memory_order_relaxed))
            continue;
        r->hard_reported = true;
        out[n++] = (struct dp_sa_ref){r->conf.session_id, r->conf.spi, r->conf.inbound};
    }
    return n;
}

/* Worker side. */

struct dp_rsa *dp_lookup_in(struct dp *dp, uint32_t spi)
{
    struct cds_lfht_iter it;
    struct cds_lfht_node *n;

    cds_lfht_lookup(dp->in_ht, mix64(spi), match_spi, &spi, &it);
    n = cds_lfht_iter_get_node(&it);
    return n ? caa_container_of(n, struct dp_rsa, in_node) : NULL;
}

struct dp_rsa *dp_lookup_route(struct dp *dp, int family, const uint8_t *addr)
{
    unsigned bits = family == AF_INET6 ? 128 : 32;
    _Atomic uint64_t *bm = family == AF_INET6 ? dp->plens6 : dp->plens4;

    for (int plen = bits; plen >= 0; plen--) {
        struct dp_route_key k;
        struct cds_lfht_iter it;
        struct cds_lfht_node *n;

        if (!(atomic_load_explicit(&bm[plen / 64], memory_order_relaxed) & (1ULL << (plen % 64))))
            continue;
        memset(&k, 0, sizeof(k));
        k.family = family;
        k.plen = plen;
        memcpy(k.addr, addr, plen / 8);
        if (plen % 8)
            k.addr[plen / 8] = addr[plen / 8] & (uint8_t)(0xff << (8 - plen % 8));
        cds_lfht_lookup(dp->route_ht, route_hash(&k), match_route, &k, &it);
        if ((n = cds_lfht_iter_get_node(&it)))
            return atomic_load(&caa_container_of(n, struct dp_route, node)->sa);
    }
    return NULL;
}

bool dp_sel_match(const struct dp_sa *sa, int family, const uint8_t *addr)
{
    size_t len = family == AF_INET6 ? 16 : 4;

    for (size_t i = 0; i < sa->nsel; i++) {
        const struct dp_range *r = &sa->sel[i];
        if (r->family == family && memcmp(addr, r->start, len) >= 0 && memcmp(addr, r->end, len) <= 0)
            return true;
    }
    return false;
}
