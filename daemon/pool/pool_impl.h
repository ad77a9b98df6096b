/* The pools' insides, shared by pool.c (sets, leases, claims, carry, alarms)
 * and pool_patch.c (IPv4 pools changed in place); nothing outside
 * daemon/pool includes it (pool.h is the interface). */
#ifndef RAVEN_POOL_POOL_IMPL_H
#define RAVEN_POOL_POOL_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uthash.h>

#include "daemon/pool/pool.h"

/* One held address. Every lease of a set is in the set's one hash, keyed by
 * the address (IPv4: ::ffff:a.b.c.d; IPv6: the assigned prefix, or a claimed
 * prefix masked to its length), so that a claim finds any holder and a release
 * is one lookup. */
struct lease {
    uint8_t key[16];
    uint32_t addr;     /* in @pool: the IPv4 address or the IPv6 lease index */
    uint64_t owner;
    struct pool *pool; /* NULL: a claim outside every range */
    bool claimed;      /* from AAA or DHCP, not handed out by pool_alloc */
    bool v6;           /* a claim: IPv6 */
    uint8_t orig[16];  /* a claim: the address as claimed (IPv4 as the key) */
    unsigned plen;     /* a claimed IPv6 prefix's length */
    UT_hash_handle hh;
};

struct range {
    uint32_t start, end;
    uint64_t lo, hi; /* the offsets this headend hands out, [lo, hi): its partition slice */
    uint64_t *bits;  /* bit set = leased (a claim may set one outside the slice) */
    uint64_t next;   /* where the next search starts (offset in the range) */
};

struct pool {
    char *name;
    bool ipv6;
    uint8_t prefix[16];
    unsigned plen, alen;
    uint32_t netmask;
    struct range *r;
    size_t nr;
    uint64_t size, in_use, failures; /* size and in_use: of the slices */
    uint64_t nheld;                  /* leases and claims of its ranges, in the slices or not */
    bool alarm_high, alarm_full; /* its usage alarms are raised (in a set in force) */
    UT_hash_handle hh;
};

/* Every IPv4 range of a set, sorted by start (they never overlap): adding a
 * range and finding the pool of an address are binary searches, not a walk over
 * every pool. */
struct span {
    uint32_t start, end;
    struct pool *pool;
};

struct pool_set {
    unsigned int alarm_pct; /* the set in force: its pools' usage alarms (0: none) */
    unsigned int part_count, part_index; /* pools/partition (count 0: none) */
    struct pool *pools;
    struct lease *held;
    struct span *v4;
    size_t nv4, cap4;
};

void pool_free_one(struct pool *p);
/* The index of the first span of @ps that ends at or after @addr (nv4 if none). */
size_t pool_span_at(const struct pool_set *ps, uint32_t addr);
struct pool *pool_find(const struct pool_set *ps, const char *name);
/* A range @start..@end of @ps's pools, its slice set by the set's partition
 * (bits NULL when memory is short). */
struct range pool_range_new(const struct pool_set *ps, uint32_t start, uint32_t end);
/* The range of @p that holds @addr, NULL if none. */
struct range *pool_range_of(struct pool *p, uint32_t addr);

#endif
