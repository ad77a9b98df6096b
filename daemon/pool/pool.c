/* Address pools and the address book of every session address (see pool.h). */
#include "daemon/pool/pool.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "daemon/base/alarm.h"
#include "daemon/pool/pool_impl.h"

#include "daemon/base/poison.h"

struct pool_set *pool_set_new(void)
{
    return calloc(1, sizeof(struct pool_set));
}

void pool_free_one(struct pool *p)
{
    for (size_t i = 0; i < p->nr; i++)
        free(p->r[i].bits);
    free(p->r);
    free(p->name);
    free(p);
}

void pool_set_free(struct pool_set *ps)
{
    struct pool *p, *tmp;
    struct lease *l, *ltmp;

    if (!ps)
        return;
    HASH_ITER(hh, ps->held, l, ltmp) {
        HASH_DEL(ps->held, l);
        free(l);
    }
    HASH_ITER(hh, ps->pools, p, tmp) {
        HASH_DEL(ps->pools, p);
        pool_free_one(p);
    }
    free(ps->v4);
    free(ps);
}

/* The index of the first span of @ps that ends at or after @addr (nv4 if none). */
size_t pool_span_at(const struct pool_set *ps, uint32_t addr)
{
    size_t lo = 0, hi = ps->nv4;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (ps->v4[mid].end < addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

struct pool *pool_find(const struct pool_set *ps, const char *name)
{
    struct pool *p;

    HASH_FIND_STR(ps->pools, name, p);
    return p;
}

struct pool *pool_set_add(struct pool_set *ps, const char *name, uint32_t netmask)
{
    struct pool *p;

    if (pool_find(ps, name))
        return NULL;
    p = calloc(1, sizeof(*p));
    if (!p || !(p->name = strdup(name))) {
        free(p);
        return NULL;
    }
    p->netmask = netmask;
    HASH_ADD_KEYPTR(hh, ps->pools, p->name, strlen(p->name), p);
    return p;
}

/* An IPv6 pool is one range of lease indexes @first..@n-1; it overlaps no IPv4
 * range. */
void pool_slice(uint64_t n, unsigned int count, unsigned int index, uint64_t *first, uint64_t *len)
{
    uint64_t each;

    if (count < 2 || index >= count) {
        *first = 0;
        *len = count < 2 ? n : 0;
        return;
    }
    each = n / count;
    *first = each * index;
    *len = index == count - 1 ? n - *first : each;
}

void pool_set_partition(struct pool_set *ps, unsigned int count, unsigned int index)
{
    ps->part_count = count;
    ps->part_index = index;
}

/* A range @start..@end of @ps's pools, its slice set by the set's partition. */
struct range pool_range_new(const struct pool_set *ps, uint32_t start, uint32_t end)
{
    uint64_t n = (uint64_t)end - start + 1, lo, len;

    pool_slice(n, ps->part_count, ps->part_index, &lo, &len);
    return (struct range){.start = start, .end = end, .lo = lo, .hi = lo + len, .next = lo,
                          .bits = calloc((n + 63) / 64, sizeof(uint64_t))};
}

static bool in_slice(const struct range *r, uint32_t addr)
{
    return addr - r->start >= r->lo && addr - r->start < r->hi;
}

static int add_slots(struct pool_set *ps, struct pool *p, uint32_t first, uint64_t n)
{
    p->r = calloc(1, sizeof(*p->r));
    if (!p->r)
        return -ENOMEM;
    p->r[0] = pool_range_new(ps, first, (uint32_t)(n - 1));
    if (!p->r[0].bits)
        return -ENOMEM;
    p->nr = 1;
    p->size = p->r[0].hi - p->r[0].lo;
    return 0;
}

struct pool *pool_set_add6(struct pool_set *ps, const char *name, const uint8_t prefix[16], unsigned plen,
                           unsigned alen)
{
    struct pool *p;
    uint64_t n;

    if (plen > alen || alen > 128)
        return NULL;
    n = alen - plen >= 16 ? POOL6_MAX_SLOTS : 1ULL << (alen - plen);
    p = pool_set_add(ps, name, 0);
    if (!p)
        return NULL;
    p->ipv6 = true;
    memcpy(p->prefix, prefix, 16);
    p->plen = plen;
    p->alen = alen;
    /* single addresses skip the pool prefix itself, the Subnet-Router anycast
     * address (RFC 4291 2.6.1) */
    if (n < 2 && alen == 128 && plen < 128) {
        HASH_DEL(ps->pools, p);
        pool_free_one(p);
        return NULL;
    }
    if (add_slots(ps, p, alen == 128 && plen < 128 ? 1 : 0, n)) {
        HASH_DEL(ps->pools, p);
        pool_free_one(p);
        return NULL;
    }
    return p;
}

/* The assigned prefix of lease @index of IPv6 pool @p. */
static void prefix_of(const struct pool *p, uint32_t index, uint8_t out[16])
{
    uint64_t v = index;

    memcpy(out, p->prefix, 16);
    /* the index goes into the bits between the pool's prefix and the assigned length */
    for (unsigned bit = p->alen; v && bit > 0; bit--, v >>= 1) {
        if (v & 1)
            out[(bit - 1) / 8] |= (uint8_t)(0x80 >> ((bit - 1) % 8));
    }
}

bool pool6_addr(const struct pool_set *ps, const char *name, uint32_t index, uint8_t out[16], unsigned *alen)
{
    const struct pool *p = pool_find(ps, name);

    if (!p || !p->ipv6 || index < p->r[0].start || index > p->r[0].end)
        return false;
    prefix_of(p, index, out);
    *alen = p->alen;
    return true;
}

int pool_add_range(struct pool_set *ps, struct pool *p, uint32_t start, uint32_t end)
{
    struct range *nr;
    size_t at;

    if (start > end)
        return -EINVAL;
    at = pool_span_at(ps, start);
    if (at < ps->nv4 && ps->v4[at].start <= end)
        return -EEXIST;
    if (ps->nv4 == ps->cap4) {
        size_t cap = ps->cap4 ? ps->cap4 * 2 : 16;
        struct span *v = realloc(ps->v4, cap * sizeof(*v));

        if (!v)
            return -ENOMEM;
        ps->v4 = v;
        ps->cap4 = cap;
    }
    nr = realloc(p->r, (p->nr + 1) * sizeof(*nr));
    if (!nr)
        return -ENOMEM;
    p->r = nr;
    nr[p->nr] = pool_range_new(ps, start, end);
    if (!nr[p->nr].bits)
        return -ENOMEM;
    p->size += nr[p->nr].hi - nr[p->nr].lo;
    p->nr++;
    memmove(&ps->v4[at + 1], &ps->v4[at], (ps->nv4 - at) * sizeof(*ps->v4));
    ps->v4[at] = (struct span){.start = start, .end = end, .pool = p};
    ps->nv4++;
    return 0;
}

struct range *pool_range_of(struct pool *p, uint32_t addr)
{
    for (size_t i = 0; i < p->nr; i++) {
        if (addr >= p->r[i].start && addr <= p->r[i].end)
            return &p->r[i];
    }
    return NULL;
}

static void key4(uint32_t addr, uint8_t key[16])
{
    memset(key, 0, 10);
    key[10] = key[11] = 0xff;
    key[12] = (uint8_t)(addr >> 24);
    key[13] = (uint8_t)(addr >> 16);
    key[14] = (uint8_t)(addr >> 8);
    key[15] = (uint8_t)addr;
}

/* @addr masked to its first @plen bits. */
static void key6(const uint8_t addr[16], unsigned plen, uint8_t key[16])
{
    memcpy(key, addr, 16);
    for (unsigned i = plen; i < 128; i++)
        key[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
}

static void lease_key(const struct pool *p, uint32_t addr, uint8_t key[16])
{
    if (p->ipv6)
        prefix_of(p, addr, key);
    else
        key4(addr, key);
}

static struct lease *held(const struct pool_set *ps, const uint8_t key[16])
{
    struct lease *l;

    HASH_FIND(hh, ps->held, key, 16, l);
    return l;
}

/* Records a lease of @addr (an address or index of @p, NULL: outside every
 * pool) under @key; false when memory is short or @addr is not in @p. */
static void res_of(const struct pool *p, char *res, size_t len)
{
    snprintf(res, len, "/raven-vpn:pools/%s[name='%s']", p->ipv6 ? "ipv6-pool" : "ipv4-pool", p->name);
}

/* The usage alarms of @p after a change of its leases: pool-usage-high at the
 * threshold, cleared 5 points below it; pool-exhausted when none is free. Only
 * a change of state reaches the alarm list (a lease is a few compares), and
 * the texts do not change with the count, so that each lease is not an alarm
 * change. */
static void level(const struct pool_set *ps, struct pool *p)
{
    char res[ALARM_RESOURCE_MAX];
    uint64_t pct = ps->alarm_pct, low = pct > 5 ? pct - 5 : 0;
    bool full, high;

    if (!pct || !p->size)
        return;
    full = p->in_use >= p->size;
    high = p->in_use * 100 >= pct * p->size ||
           (p->alarm_high && p->in_use && p->in_use * 100 >= low * p->size);
    if (full == p->alarm_full && high == p->alarm_high)
        return;
    res_of(p, res, sizeof(res));
    if (full != p->alarm_full) {
        if (full)
            alarm_raise(ALARM_POOL_EXHAUSTED, res, ALARM_SEV_CRITICAL,
                        "every one of the pool's %" PRIu64 " addresses is in use: new clients get none; enlarge the "
                        "pool",
                        p->size);
        else
            alarm_clear(ALARM_POOL_EXHAUSTED, res);
        p->alarm_full = full;
    }
    if (high != p->alarm_high) {
        if (high)
            alarm_raise(ALARM_POOL_USAGE_HIGH, res, ALARM_SEV_MAJOR,
                        "the pool's addresses in use reached %" PRIu64 "%% of its %" PRIu64
                        " (pools/usage-alarm-threshold)",
                        pct, p->size);
        else
            alarm_clear(ALARM_POOL_USAGE_HIGH, res);
        p->alarm_high = high;
    }
}

static bool lease_add(struct pool_set *ps, struct pool *p, uint32_t addr, const uint8_t key[16], uint64_t owner,
                      bool claimed)
{
    struct range *r = p ? pool_range_of(p, addr) : NULL;
    struct lease *l;

    if ((p && !r) || !(l = calloc(1, sizeof(*l))))
        return false;
    if (r) {
        uint64_t off = addr - r->start;

        r->bits[off / 64] |= 1ULL << (off % 64);
        p->nheld++;
        if (in_slice(r, addr)) { /* a claim of another member's slice is not this headend's use */
            p->in_use++;
            level(ps, p);
        }
    }
    memcpy(l->key, key, 16);
    l->addr = addr;
    l->owner = owner;
    l->pool = p;
    l->claimed = claimed;
    HASH_ADD(hh, ps->held, key, sizeof(l->key), l);
    return true;
}

static void lease_del(struct pool_set *ps, struct lease *l)
{
    struct range *r = l->pool ? pool_range_of(l->pool, l->addr) : NULL;

    if (r) {
        uint64_t off = l->addr - r->start;

        r->bits[off / 64] &= ~(1ULL << (off % 64));
        l->pool->nheld--;
        if (in_slice(r, l->addr)) {
            l->pool->in_use--;
            level(ps, l->pool);
        }
    }
    HASH_DEL(ps->held, l);
    free(l);
}

/* The first clear bit at or after @from and below @n in a range, else n. */
static uint64_t scan(const struct range *r, uint64_t from, uint64_t n)
{
    for (uint64_t w = from / 64; w * 64 < n; w++) {
        uint64_t free_bits = ~r->bits[w];

        if (w == from / 64)
            free_bits &= ~0ULL << (from % 64);
        if (free_bits) {
            uint64_t off = w * 64 + (uint64_t)__builtin_ctzll(free_bits);
            return off < n ? off : n;
        }
    }
    return n;
}

int pool_alloc(struct pool_set *ps, const char *name, uint64_t owner, uint32_t *addr)
{
    struct pool *p = pool_find(ps, name);
    uint8_t key[16];

    if (!p)
        return -ENOENT;
    if (p->in_use < p->size) {
        /* each range's slice from its hint to the end, then from its start */
        for (size_t i = 0; i < p->nr; i++) {
            struct range *r = &p->r[i];
            uint64_t n = r->hi, off = scan(r, r->next, n);

            if (off == n)
                off = scan(r, r->lo, n);
            if (off == n)
                continue;
            lease_key(p, r->start + (uint32_t)off, key);
            if (!lease_add(ps, p, r->start + (uint32_t)off, key, owner, false))
                return -ENOMEM;
            r->next = off + 1 < n ? off + 1 : r->lo;
            *addr = r->start + (uint32_t)off;
            return 0;
        }
    }
    p->failures++;
    return -ENOSPC;
}

bool pool_release(struct pool_set *ps, const char *name, uint32_t addr)
{
    struct pool *p = pool_find(ps, name);
    struct lease *l;
    uint8_t key[16];

    if (!p)
        return false;
    lease_key(p, addr, key);
    l = held(ps, key);
    if (!l || l->pool != p || l->claimed)
        return false;
    lease_del(ps, l);
    return true;
}

/* The IPv4 pool whose ranges hold @addr, NULL if none. */
static struct pool *pool4_of(const struct pool_set *ps, uint32_t addr)
{
    size_t at = pool_span_at(ps, addr);

    return at < ps->nv4 && ps->v4[at].start <= addr ? ps->v4[at].pool : NULL;
}

/* The IPv6 pool and lease index that @addr/@plen falls on, NULL if none: the
 * index is read from the bits between the pool's prefix and its assigned
 * length, and must map back onto @addr. */
static struct pool *pool6_of(const struct pool_set *ps, const uint8_t addr[16], unsigned plen, uint32_t *index)
{
    struct pool *p, *tmp;

    HASH_ITER(hh, ps->pools, p, tmp) {
        uint8_t a[16], b[16];
        uint64_t v = 0;

        if (!p->ipv6 || plen < p->plen)
            continue;
        key6(addr, p->plen, a);
        if (memcmp(a, p->prefix, 16))
            continue;
        for (unsigned bit = p->alen > p->plen + 32 ? p->alen - 32 : p->plen; bit < p->alen; bit++)
            v = v << 1 | ((addr[bit / 8] >> (7 - bit % 8)) & 1);
        if (v < p->r[0].start || v > p->r[0].end)
            continue;
        prefix_of(p, (uint32_t)v, a);
        key6(addr, p->alen, b);
        if (!memcmp(a, b, 16)) {
            *index = (uint32_t)v;
            return p;
        }
    }
    return NULL;
}

/* Whether @addr/@plen, shorter than the assigned length of IPv6 pool @p, covers
 * one of the slots @p hands out: the slots it covers are the indexes whose bits
 * between the pool's prefix and @plen are @addr's (a contiguous run), all of
 * them when @plen is not longer than the pool's prefix. */
static bool spans_slots(const struct pool *p, const uint8_t addr[16], unsigned plen)
{
    unsigned common = plen < p->plen ? plen : p->plen;
    uint8_t a[16], b[16];
    uint64_t lo = 0, hi = 0;
    bool lo_big = false, hi_big = false;

    if (!p->ipv6 || plen >= p->alen)
        return false;
    key6(addr, common, a);
    key6(p->prefix, common, b);
    if (memcmp(a, b, 16))
        return false;
    for (unsigned bit = plen > p->plen ? p->plen : p->alen; bit < p->alen; bit++) {
        unsigned w = p->alen - 1 - bit; /* the bit's weight in the index */
        bool set = bit >= plen || ((addr[bit / 8] >> (7 - bit % 8)) & 1);
        bool fixed = bit < plen && set;

        if (w >= 63) { /* beyond any index a pool has */
            lo_big = lo_big || fixed;
            hi_big = hi_big || set;
            continue;
        }
        lo |= (uint64_t)fixed << w;
        hi |= (uint64_t)set << w;
    }
    if (plen <= p->plen)
        return true; /* the whole pool */
    return !lo_big && lo <= p->r[0].end && (hi_big || hi >= p->r[0].start);
}

/* A claim of @key (in @p at @addr, or outside every pool). */
static int claim(struct pool_set *ps, struct pool *p, uint32_t addr, const uint8_t key[16], const uint8_t orig[16],
                 unsigned plen, bool v6, uint64_t owner, uint64_t *holder)
{
    struct lease *l = held(ps, key);

    if (l) {
        if (holder)
            *holder = l->owner;
        return l->owner == owner && l->claimed ? 0 : -EADDRINUSE;
    }
    if (!lease_add(ps, p, addr, key, owner, true))
        return -ENOMEM;
    l = held(ps, key);
    memcpy(l->orig, orig, 16);
    l->plen = plen;
    l->v6 = v6;
    return 0;
}

int pool_claim(struct pool_set *ps, uint32_t addr, uint64_t owner, uint64_t *holder)
{
    uint8_t key[16];

    key4(addr, key);
    return claim(ps, pool4_of(ps, addr), addr, key, key, 32, false, owner, holder);
}

int pool_claim6(struct pool_set *ps, const uint8_t addr[16], unsigned plen, uint64_t owner, uint64_t *holder)
{
    uint32_t index = 0;
    struct pool *p, *tmp;
    uint8_t key[16];

    if (plen > 128)
        return -EINVAL;
    /* a prefix that covers several of a pool's assigned prefixes would share
     * them with the sessions the pool gives them to */
    HASH_ITER(hh, ps->pools, p, tmp) {
        if (spans_slots(p, addr, plen))
            return -ERANGE;
    }
    p = pool6_of(ps, addr, plen, &index);
    if (p)
        prefix_of(p, index, key);
    else
        key6(addr, plen, key);
    return claim(ps, p, index, key, addr, plen, true, owner, holder);
}

static bool unclaim(struct pool_set *ps, const uint8_t key[16], uint64_t owner)
{
    struct lease *l = held(ps, key);

    if (!l || !l->claimed || l->owner != owner)
        return false;
    lease_del(ps, l);
    return true;
}

bool pool_unclaim(struct pool_set *ps, uint32_t addr, uint64_t owner)
{
    uint8_t key[16];

    key4(addr, key);
    return unclaim(ps, key, owner);
}

bool pool_unclaim6(struct pool_set *ps, const uint8_t addr[16], unsigned plen, uint64_t owner)
{
    uint32_t index;
    struct pool *p = plen <= 128 ? pool6_of(ps, addr, plen, &index) : NULL;
    uint8_t key[16];

    if (plen > 128)
        return false;
    if (p)
        prefix_of(p, index, key);
    else
        key6(addr, plen, key);
    return unclaim(ps, key, owner);
}

uint32_t pool_netmask(const struct pool_set *ps, const char *name)
{
    const struct pool *p = pool_find(ps, name);

    return p ? p->netmask : 0;
}

/* Where lease @l of an old set goes in @nw: the pool of the same name (an IPv6
 * pool only if its prefix is unchanged), or for a claim, wherever its address
 * now falls. */
static bool carry_one(struct pool_set *nw, const struct lease *l)
{
    struct pool *q;
    uint8_t key[16];

    if (l->claimed && l->v6)
        return pool_claim6(nw, l->orig, l->plen, l->owner, NULL) == 0;
    if (l->claimed)
        return pool_claim(nw, (uint32_t)l->orig[12] << 24 | (uint32_t)l->orig[13] << 16 |
                                  (uint32_t)l->orig[14] << 8 | l->orig[15], l->owner, NULL) == 0;
    q = pool_find(nw, l->pool->name);
    if (q && (q->ipv6 != l->pool->ipv6 ||
              (q->ipv6 && (q->plen != l->pool->plen || q->alen != l->pool->alen ||
                           memcmp(q->prefix, l->pool->prefix, 16)))))
        q = NULL;
    if (!q || !pool_range_of(q, l->addr) || !in_slice(pool_range_of(q, l->addr), l->addr))
        return false;
    lease_key(q, l->addr, key);
    return !held(nw, key) && lease_add(nw, q, l->addr, key, l->owner, false);
}

int pool_take(struct pool_set *ps, const char *name, bool ipv6, uint32_t addr, uint64_t owner)
{
    struct pool *p = pool_find(ps, name);
    uint8_t key[16];
    struct lease *l;

    if (!p || p->ipv6 != ipv6)
        return -ENOENT;
    if (!pool_range_of(p, addr) || !in_slice(pool_range_of(p, addr), addr))
        return -ERANGE;
    lease_key(p, addr, key);
    l = held(ps, key);
    if (l)
        return l->owner == owner && l->pool == p && !l->claimed ? 0 : -EADDRINUSE;
    return lease_add(ps, p, addr, key, owner, false) ? 0 : -ENOMEM;
}

size_t pool_set_carry(struct pool_set *nw, const struct pool_set *old,
                      void (*misfit)(const char *pool, uint32_t addr, uint64_t owner, void *arg), void *arg)
{
    struct pool *p, *tmp;
    struct lease *l, *ltmp;
    size_t bad = 0;

    HASH_ITER(hh, old->pools, p, tmp) {
        struct pool *q = p->failures ? pool_find(nw, p->name) : NULL; /* none: the new pool's 0 is right */

        if (q && q->ipv6 == p->ipv6)
            q->failures = p->failures;
    }
    /* the pools' own leases first: a claim never takes an address from one */
    for (int claims = 0; claims < 2; claims++) {
        HASH_ITER(hh, old->held, l, ltmp) {
            if (l->claimed != claims || carry_one(nw, l))
                continue;
            bad++;
            if (misfit)
                misfit(l->pool ? l->pool->name : "", l->addr, l->owner, arg);
        }
    }
    return bad;
}

void pool_set_foreach(const struct pool_set *ps, void (*fn)(const struct pool_info *pi, void *arg), void *arg)
{
    const struct pool *p, *tmp;

    HASH_ITER(hh, ps->pools, p, tmp) {
        struct pool_info pi = {.name = p->name, .ipv6 = p->ipv6, .size = p->size, .in_use = p->in_use,
                               .failures = p->failures, .netmask = p->netmask};
        fn(&pi, arg);
    }
}

struct alarm_sets {
    const struct pool_set *v4, *v6;
};

static bool pool_listed(const char *resource, void *arg)
{
    const struct alarm_sets *a = arg;
    const struct pool_set *sets[2] = {a->v4, a->v6};
    const struct pool *p, *tmp;
    char res[ALARM_RESOURCE_MAX];

    for (int i = 0; i < 2; i++) {
        if (!sets[i])
            continue;
        HASH_ITER(hh, sets[i]->pools, p, tmp) {
            res_of(p, res, sizeof(res));
            if (!strcmp(res, resource))
                return true;
        }
    }
    return false;
}

void pool_set_alarms(struct pool_set *v4, struct pool_set *v6, unsigned int old_pct, unsigned int pct)
{
    struct pool_set *sets[2] = {v4, v6};
    struct alarm_sets a = {v4, v6};
    struct pool *p, *tmp;
    char res[ALARM_RESOURCE_MAX];

    /* pools gone first */
    alarm_clear_unless(ALARM_POOL_EXHAUSTED, "/raven-vpn:pools/", pool_listed, &a);
    alarm_clear_unless(ALARM_POOL_USAGE_HIGH, "/raven-vpn:pools/", pool_listed, &a);
    for (int i = 0; i < 2; i++) {
        if (!sets[i])
            continue;
        sets[i]->alarm_pct = pct;
        HASH_ITER(hh, sets[i]->pools, p, tmp) {
            /* what the pool of the same name raised before this set was in
             * force: kept down to the clear level, as after a lease, unless
             * the threshold was raised above its usage (then cleared at
             * once), so that a commit of something else changes nothing */
            uint64_t keep = pct > old_pct ? pct : pct > 5 ? pct - 5 : 0;

            res_of(p, res, sizeof(res));
            p->alarm_full = alarm_is_active(ALARM_POOL_EXHAUSTED, res);
            p->alarm_high = alarm_is_active(ALARM_POOL_USAGE_HIGH, res) && pct && p->in_use &&
                            p->in_use * 100 >= keep * p->size;
            if (!p->alarm_high)
                alarm_clear(ALARM_POOL_USAGE_HIGH, res);
            if (!pct && p->alarm_full) {
                alarm_clear(ALARM_POOL_EXHAUSTED, res);
                p->alarm_full = false;
            }
            level(sets[i], p);
        }
    }
}
