/* The dataplane's next-hop cache (see dp_nl_int.h for its states): the lock-free
 * lookup workers make per packet, the request a new destination makes, and the
 * updates the netlink thread publishes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/log.h"
#include "dataplane/dp_nl_int.h"

#include "daemon/base/poison.h"

bool nh_key_init(struct nh_key *k, int family, const void *dst)
{
    size_t len = addr_len(family);

    if (!len || !dst)
        return false;
    memset(k, 0, sizeof(*k));
    k->family = (uint32_t)family;
    memcpy(k->addr, dst, len);
    return true;
}

static uint64_t rotl64(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

#define SIPROUND                                                                                                       \
    do {                                                                                                               \
        v0 += v1, v1 = rotl64(v1, 13), v1 ^= v0, v0 = rotl64(v0, 32);                                                  \
        v2 += v3, v3 = rotl64(v3, 16), v3 ^= v2;                                                                       \
        v0 += v3, v3 = rotl64(v3, 21), v3 ^= v0;                                                                       \
        v2 += v1, v1 = rotl64(v1, 17), v1 ^= v2, v2 = rotl64(v2, 32);                                                  \
    } while (0)

/* SipHash-1-3 with a key chosen at start: destinations are picked by remote
 * clients, who must not be able to pile them into one bucket chain that every
 * worker then walks per packet. */
unsigned long nh_hash(const struct dp_nl *nl, const struct nh_key *key)
{
    uint64_t v0 = 0x736f6d6570736575ULL ^ nl->hkey[0], v1 = 0x646f72616e646f6dULL ^ nl->hkey[1];
    uint64_t v2 = 0x6c7967656e657261ULL ^ nl->hkey[0], v3 = 0x7465646279746573ULL ^ nl->hkey[1];
    uint64_t m[4] = {0};

    _Static_assert(sizeof(struct nh_key) == 24, "nh_key is hashed as 24 bytes");
    memcpy(m, key, sizeof(*key));
    m[3] |= (uint64_t)sizeof(*key) << 56;
    for (int i = 0; i < 4; i++) {
        v3 ^= m[i];
        SIPROUND;
        v0 ^= m[i];
    }
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return (unsigned long)(v0 ^ v1 ^ v2 ^ v3);
}

static int nh_match(struct cds_lfht_node *node, const void *key)
{
    const struct nh_entry *e = caa_container_of(node, struct nh_entry, node);

    return !memcmp(&e->key, key, sizeof(e->key));
}

/* --- worker side ---------------------------------------------------------------- */

static int nh_result(struct nh_entry *e, struct dp_nh *out)
{
    switch (e->state) {
    case NH_RESOLVED:
        /* Read first: a store per packet would bounce the line between workers. */
        if (!atomic_load_explicit(&e->used, memory_order_relaxed))
            atomic_store_explicit(&e->used, true, memory_order_relaxed);
        *out = e->nh;
        return 0;
    case NH_UNREACHABLE:
        return -ENETUNREACH;
    case NH_PENDING:
    default:
        return -EAGAIN;
    }
}

/* A new destination: one PENDING entry, shared by every worker that asks before
 * it resolves, and one request to the netlink thread. Returns the entry another
 * worker published first, or NULL. */
static struct cds_lfht_node *nh_request(struct dp_nl *nl, const struct nh_key *key, unsigned long hash)
{
    struct cds_lfht_node *node;
    struct nh_entry *e;

    if (atomic_fetch_add_explicit(&nl->count, 1, memory_order_relaxed) >= NH_MAX_ENTRIES)
        goto undo;
    e = calloc(1, sizeof(*e));
    if (!e)
        goto undo;
    e->key = *key;
    e->state = NH_PENDING;
    e->in_queue = true; /* before publication: the netlink thread may remove it before we enqueue it */
    cds_lfht_node_init(&e->node);
    cds_wfcq_node_init(&e->qnode);
    node = cds_lfht_add_unique(nl->cache, hash, nh_match, key, &e->node);
    if (node != &e->node) {
        free(e); /* never published */
        atomic_fetch_sub_explicit(&nl->count, 1, memory_order_relaxed);
        return node;
    }
    /* Wake the thread only when the queue was empty: otherwise it is already
     * draining and will reach this entry. */
    if (!cds_wfcq_enqueue(&nl->qhead, &nl->qtail, &e->qnode))
        nl_wake(nl);
    return NULL;
undo:
    atomic_fetch_sub_explicit(&nl->count, 1, memory_order_relaxed);
    return NULL;
}

int dp_nl_next_hop(struct dp_nl *nl, int family, const void *dst, struct dp_nh *out)
{
    return dp_nl_next_hop_vrf(nl, family, dst, 0, out);
}

int dp_nl_next_hop_vrf(struct dp_nl *nl, int family, const void *dst, int vrf, struct dp_nh *out)
{
    struct cds_lfht_iter it;
    struct cds_lfht_node *node;
    struct nh_key key;
    unsigned long hash;
    int ret;

    if (!nh_key_init(&key, family, dst))
        return -EAFNOSUPPORT;
    key.vrf = vrf;
    hash = nh_hash(nl, &key);
    rcu_read_lock();
    cds_lfht_lookup(nl->cache, hash, nh_match, &key, &it);
    node = cds_lfht_iter_get_node(&it);
    if (!node)
        node = nh_request(nl, &key, hash);
    ret = node ? nh_result(caa_container_of(node, struct nh_entry, node), out) : -EAGAIN;
    rcu_read_unlock();
    return ret;
}

/* --- cache updates (netlink thread, online) -------------------------------------- */

void nh_free_rcu(struct rcu_head *head)
{
    free(caa_container_of(head, struct nh_entry, rcu));
}

/* @e is out of the table: free it once no reader can hold it. */
static void nh_retire(struct nh_entry *e)
{
    if (e->in_queue)
        e->removed = true;
    else
        call_rcu(&e->rcu, nh_free_rcu);
}

void nh_remove(struct dp_nl *nl, struct nh_entry *e)
{
    if (cds_lfht_del(nl->cache, &e->node) == 0) {
        atomic_fetch_sub_explicit(&nl->count, 1, memory_order_relaxed);
        nh_retire(e);
    }
}

void nh_publish(struct dp_nl *nl, struct nh_entry *old, enum nh_state state, const struct dp_nh *nh,
                const struct nl_nkey *dep)
{
    struct cds_lfht_iter it;
    struct nh_entry *n = calloc(1, sizeof(*n));
    unsigned long hash = nh_hash(nl, &old->key);

    if (!n) {
        /* Keeping the old entry could keep a stale MAC: drop it, a lookup starts over. */
        log_warn("dataplane", "next-hop cache: out of memory");
        nh_remove(nl, old);
        return;
    }
    n->key = old->key;
    n->state = state;
    if (nh)
        n->nh = *nh;
    if (dep) {
        n->dep = *dep;
        n->has_dep = true;
    }
    n->since = old->since;
    n->last_try = old->last_try;
    atomic_init(&n->used, true);
    cds_lfht_node_init(&n->node);
    cds_wfcq_node_init(&n->qnode);
    cds_lfht_lookup(nl->cache, hash, nh_match, &n->key, &it);
    if (cds_lfht_iter_get_node(&it) != &old->node ||
        cds_lfht_replace(nl->cache, &it, hash, nh_match, &n->key, &n->node) != 0) {
        free(n); /* @old is no longer in the table: nothing to replace */
        return;
    }
    nh_retire(old);
}

void nh_flush_all(struct dp_nl *nl)
{
    struct cds_lfht_iter it;
    struct nh_entry *e;

    nl->flush_pending = false;
    if (!nl->live)
        return;
    cds_lfht_for_each_entry(nl->cache, &it, e, node)
        nh_remove(nl, e);
}

/* Resolves the entries waiting for the neighbour, follows a new MAC, drops the
 * entries it made when it is gone. */
void nh_neigh_changed(struct dp_nl *nl, const struct nl_nkey *k, const struct nl_neigh *n)
{
    struct cds_lfht_iter it;
    struct nh_entry *e;
    struct dp_nh nh;
    bool usable = neigh_usable(n);

    if (!nl->live)
        return;
    cds_lfht_for_each_entry(nl->cache, &it, e, node) {
        if (!e->has_dep || memcmp(&e->dep, k, sizeof(*k)))
            continue;
        if (!usable) {
            /* PENDING entries keep waiting: the kernel is resolving it for them. */
            if (e->state == NH_RESOLVED)
                nh_remove(nl, e);
            continue;
        }
        if (e->state == NH_RESOLVED && !memcmp(e->nh.dst_mac, n->mac, sizeof(n->mac)))
            continue;
        nh = e->nh;
        memcpy(nh.dst_mac, n->mac, sizeof(n->mac));
        nh_publish(nl, e, NH_RESOLVED, &nh, k);
    }
}
