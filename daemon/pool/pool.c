/* IPv4 address pools (see pool.h). */
#include "daemon/pool/pool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "daemon/base/poison.h"

struct lease {
    uint32_t addr;
    uint64_t owner;
    UT_hash_handle hh;
};

struct range {
    uint32_t start, end;
    uint64_t *bits; /* bit set = leased */
    uint64_t next;  /* where the next search starts (offset in the range) */
};

struct pool {
    char *name;
    bool ipv6;
    uint8_t prefix[16];
    unsigned plen, alen;
    uint32_t netmask;
    struct range *r;
    size_t nr;
    uint64_t size, in_use, failures;
    struct lease *leases;
    UT_hash_handle hh;
};

struct pool_set {
    struct pool *pools;
};

struct pool_set *pool_set_new(void)
{
    return calloc(1, sizeof(struct pool_set));
}

static void pool_free(struct pool *p)
{
    struct lease *l, *tmp;

    HASH_ITER(hh, p->leases, l, tmp) {
        HASH_DEL(p->leases, l);
        free(l);
    }
    for (size_t i = 0; i < p->nr; i++)
        free(p->r[i].bits);
    free(p->r);
    free(p->name);
    free(p);
}

void pool_set_free(struct pool_set *ps)
{
    struct pool *p, *tmp;

    if (!ps)
        return;
    HASH_ITER(hh, ps->pools, p, tmp) {
        HASH_DEL(ps->pools, p);
        pool_free(p);
    }
    free(ps);
}

static struct pool *find(const struct pool_set *ps, const char *name)
{
    struct pool *p;

    HASH_FIND_STR(ps->pools, name, p);
    return p;
}

struct pool *pool_set_add(struct pool_set *ps, const char *name, uint32_t netmask)
{
    struct pool *p;

    if (find(ps, name))
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
static int add_slots(struct pool *p, uint32_t first, uint64_t n)
{
    p->r = calloc(1, sizeof(*p->r));
    if (!p->r)
        return -ENOMEM;
    p->r[0] = (struct range){.start = first, .end = (uint32_t)(n - 1),
                             .bits = calloc((n - first + 63) / 64, sizeof(uint64_t))};
    if (!p->r[0].bits)
        return -ENOMEM;
    p->nr = 1;
    p->size = n - first;
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
        pool_free(p);
        return NULL;
    }
    if (add_slots(p, alen == 128 && plen < 128 ? 1 : 0, n)) {
        HASH_DEL(ps->pools, p);
        pool_free(p);
        return NULL;
    }
    return p;
}

bool pool6_addr(const struct pool_set *ps, const char *name, uint32_t index, uint8_t out[16], unsigned *alen)
{
    const struct pool *p = find(ps, name);
    uint64_t v = index;

    if (!p || !p->ipv6 || index < p->r[0].start || index > p->r[0].end)
        return false;
    memcpy(out, p->prefix, 16);
    /* the index goes into the bits between the pool's prefix and the assigned length */
    for (unsigned bit = p->alen; v && bit > 0; bit--, v >>= 1) {
        if (v & 1)
            out[(bit - 1) / 8] |= (uint8_t)(0x80 >> ((bit - 1) % 8));
    }
    *alen = p->alen;
    return true;
}

int pool_add_range(struct pool_set *ps, struct pool *p, uint32_t start, uint32_t end)
{
    struct pool *q, *tmp;
    struct range *nr;
    uint64_t n;

    if (start > end)
        return -EINVAL;
    HASH_ITER(hh, ps->pools, q, tmp) {
        for (size_t i = 0; !q->ipv6 && i < q->nr; i++) {
            if (start <= q->r[i].end && q->r[i].start <= end)
                return -EEXIST;
        }
    }
    n = (uint64_t)end - start + 1;
    nr = realloc(p->r, (p->nr + 1) * sizeof(*nr));
    if (!nr)
        return -ENOMEM;
    p->r = nr;
    nr[p->nr] = (struct range){.start = start, .end = end, .bits = calloc((n + 63) / 64, sizeof(uint64_t))};
    if (!nr[p->nr].bits)
        return -ENOMEM;
    p->nr++;
    p->size += n;
    return 0;
}

static struct range *range_of(struct pool *p, uint32_t addr)
{
    for (size_t i = 0; i < p->nr; i++) {
        if (addr >= p->r[i].start && addr <= p->r[i].end)
            return &p->r[i];
    }
    return NULL;
}

static bool lease_add(struct pool *p, uint32_t addr, uint64_t owner)
{
    struct range *r = range_of(p, addr);
    struct lease *l;
    uint64_t off;

    if (!r || !(l = calloc(1, sizeof(*l))))
        return false;
    off = addr - r->start;
    r->bits[off / 64] |= 1ULL << (off % 64);
    l->addr = addr;
    l->owner = owner;
    HASH_ADD(hh, p->leases, addr, sizeof(l->addr), l);
    p->in_use++;
    return true;
}

/* The first clear bit at or after @from in a range of @n addresses, else n. */
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
    struct pool *p = find(ps, name);

    if (!p)
        return -ENOENT;
    if (p->in_use < p->size) {
        /* each range from its hint to the end, then from its start */
        for (size_t i = 0; i < p->nr; i++) {
            struct range *r = &p->r[i];
            uint64_t n = (uint64_t)r->end - r->start + 1, off = scan(r, r->next, n);

            if (off == n)
                off = scan(r, 0, n);
            if (off == n)
                continue;
            if (!lease_add(p, r->start + (uint32_t)off, owner))
                return -ENOMEM;
            r->next = off + 1 < n ? off + 1 : 0;
            *addr = r->start + (uint32_t)off;
            return 0;
        }
    }
    p->failures++;
    return -ENOSPC;
}

bool pool_release(struct pool_set *ps, const char *name, uint32_t addr)
{
    struct pool *p = find(ps, name);
    struct lease *l;
    struct range *r;
    uint64_t off;

    if (!p)
        return false;
    HASH_FIND(hh, p->leases, &addr, sizeof(addr), l);
    if (!l || !(r = range_of(p, addr)))
        return false;
    off = addr - r->start;
    r->bits[off / 64] &= ~(1ULL << (off % 64));
    HASH_DEL(p->leases, l);
    free(l);
    p->in_use--;
    return true;
}

uint32_t pool_netmask(const struct pool_set *ps, const char *name)
{
    const struct pool *p = find(ps, name);

    return p ? p->netmask : 0;
}

size_t pool_set_carry(struct pool_set *nw, const struct pool_set *old,
                      void (*misfit)(const char *pool, uint32_t addr, uint64_t owner, void *arg), void *arg)
{
    struct pool *p, *tmp;
    size_t bad = 0;

    HASH_ITER(hh, old->pools, p, tmp) {
        struct pool *q = find(nw, p->name);
        struct lease *l, *ltmp;

        /* an IPv6 pool whose prefix changed: its indexes mean other prefixes */
        if (q && (q->ipv6 != p->ipv6 ||
                  (p->ipv6 && (q->plen != p->plen || q->alen != p->alen || memcmp(q->prefix, p->prefix, 16)))))
            q = NULL;
        if (q)
            q->failures = p->failures;
        HASH_ITER(hh, p->leases, l, ltmp) {
            if (!q || !range_of(q, l->addr) || !lease_add(q, l->addr, l->owner)) {
                bad++;
                if (misfit)
                    misfit(p->name, l->addr, l->owner, arg);
            }
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
