/* Address pools (SPEC S4, S7 "pool", "ipv6 pool"): IPv4 ranges of addresses, and
 * IPv6 prefixes handing out one assigned-length prefix per session, leased to
 * sessions.
 * Allocation takes the lowest free address after the last one handed out (a
 * bitmap per range, scanned a word at a time), release is O(1), and every lease
 * records its owner so that a configuration change that would take a leased
 * address away can name the sessions concerned.
 *
 * IPv4 addresses are in host byte order. An IPv6 pool leases indexes 0..n-1 of
 * its assigned prefixes (at most POOL6_MAX_SLOTS of them); pool6_addr() turns an
 * index into the prefix. Control thread only. */
#ifndef RAVEN_POOL_POOL_H
#define RAVEN_POOL_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pool_set;
struct pool;

#define POOL6_MAX_SLOTS 65536

struct pool_info {
    const char *name;
    bool ipv6;
    uint64_t size, in_use, failures;
    uint32_t netmask; /* 0 when not configured */
};

struct pool_set *pool_set_new(void);
void pool_set_free(struct pool_set *ps);

/* Adds an empty pool; NULL if the name exists or memory is short. */
struct pool *pool_set_add(struct pool_set *ps, const char *name, uint32_t netmask);
/* Adds an IPv6 pool: @prefix/@plen handing out /@alen prefixes. NULL if the name
 * exists, the lengths are wrong, or memory is short. */
struct pool *pool_set_add6(struct pool_set *ps, const char *name, const uint8_t prefix[16], unsigned plen,
                           unsigned alen);
/* The assigned prefix of lease @index of IPv6 pool @name (false if none). */
bool pool6_addr(const struct pool_set *ps, const char *name, uint32_t index, uint8_t out[16], unsigned *alen);

/* Adds the range @start..@end (inclusive) to @p: -EINVAL if start > end, -EEXIST
 * if it overlaps another range of the same set, -ENOMEM. */
int pool_add_range(struct pool_set *ps, struct pool *p, uint32_t start, uint32_t end);

/* Leases an address of pool @name to @owner: 0, -ENOENT (no such pool) or
 * -ENOSPC (exhausted; counted as an allocation failure). */
int pool_alloc(struct pool_set *ps, const char *name, uint64_t owner, uint32_t *addr);
/* Returns a lease; false if @addr was not leased from @name. */
bool pool_release(struct pool_set *ps, const char *name, uint32_t addr);
/* The pool's netmask (0 if none or no such pool). */
uint32_t pool_netmask(const struct pool_set *ps, const char *name);

/* Moves every lease (and the failure counters) of @old into @nw, the pools of a
 * new configuration. A lease whose pool is gone or whose address is outside the
 * new ranges is reported through @misfit and not moved; returns how many there
 * were (0: @nw now holds every lease and @old may be freed). */
size_t pool_set_carry(struct pool_set *nw, const struct pool_set *old,
                      void (*misfit)(const char *pool, uint32_t addr, uint64_t owner, void *arg), void *arg);

void pool_set_foreach(const struct pool_set *ps, void (*fn)(const struct pool_info *pi, void *arg), void *arg);

#endif
