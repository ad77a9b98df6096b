/* Address pools (SPEC S4, S7 "pool", "ipv6 pool"): IPv4 ranges of addresses, and
 * IPv6 prefixes handing out one assigned-length prefix per session, leased to
 * sessions.
 * A pool set is also the one address book of its family: an address that comes
 * from elsewhere (AAA's Framed-IP-Address or IPv6 address, a DHCP lease) is
 * claimed in it, so that no two sessions hold the same address whatever gave
 * it: a claimed address inside a pool's range is never handed out by
 * pool_alloc, and an address a pool has handed out cannot be claimed.
 * Allocation takes the lowest free address after the last one handed out (a
 * bitmap per range, scanned a word at a time), release and unclaim are O(1)
 * in the leases (one hash of every held address per set; an IPv6 claim or
 * unclaim first finds the pool its prefix falls in, a walk over the few IPv6
 * pools, and a claim of IPv4 over the pools' ranges), and every lease records its owner
 * so that a configuration change that would take a leased address away can
 * name the sessions concerned.
 *
 * Partitioned pools (pools/partition, pool_set_partition): every range of every
 * pool of the set (an IPv6 pool's one range of lease indexes) is cut into
 * count slices and only slice index is handed out (pool_alloc, pool_take, the
 * leases a carry keeps); the ranges stay whole for everything else (overlaps,
 * claims, a client's subnet), and a claim is not partitioned. A pool's size
 * and in_use are its slices'.
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
    uint64_t size, in_use, failures; /* size, in_use: this headend's slices */
    uint32_t netmask; /* 0 when not configured */
};

struct pool_set *pool_set_new(void);
void pool_set_free(struct pool_set *ps);

/* Slice @index of @count of @n items: count slices of n / count items, the
 * last one taking the remainder too (so with fewer items than slices only
 * the last has any): its first item @first and length @len. A count below 2
 * is no partition (the whole), an index not below count the empty slice. */
void pool_slice(uint64_t n, unsigned int count, unsigned int index, uint64_t *first, uint64_t *len);
/* Makes the pools of @ps hand out slice @index of @count of each of their
 * ranges (count 0 or 1: all); before any pool is added. */
void pool_set_partition(struct pool_set *ps, unsigned int count, unsigned int index);

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
/* Leases address @addr of pool @name (IPv4; with @ipv6, the IPv6 pool's lease
 * index @addr) to @owner, as a session that a new process takes over held it: 0
 * (also when @owner holds it already), -ENOENT (no such pool of that family),
 * -ERANGE (not in the pool's ranges, or not in this headend's slice of them),
 * -EADDRINUSE (held by another) or -ENOMEM. */
int pool_take(struct pool_set *ps, const char *name, bool ipv6, uint32_t addr, uint64_t owner);
/* Returns a lease; false if @addr was not leased from @name (a claim is given
 * back with pool_unclaim). */
bool pool_release(struct pool_set *ps, const char *name, uint32_t addr);
/* Claims @addr (IPv4), given to @owner by another source (AAA, DHCP): 0 (also
 * when @owner has already claimed it), -EADDRINUSE (held by another session or
 * leased from a pool; @holder, if not NULL, gets the holder) or -ENOMEM. */
int pool_claim(struct pool_set *ps, uint32_t addr, uint64_t owner, uint64_t *holder);
/* The same for an IPv6 prefix @addr/@plen (an address: 128). Inside an IPv6
 * pool it is the assigned prefix it falls in that is held. -EINVAL if @plen >
 * 128; -ERANGE if the prefix is shorter than a pool's assigned length and covers
 * prefixes that pool hands out (it would share them with their sessions). */
int pool_claim6(struct pool_set *ps, const uint8_t addr[16], unsigned plen, uint64_t owner, uint64_t *holder);
/* Gives a claim back; false if @owner holds no claim of it. Pass what was
 * claimed: the set may have been carried into new pools since. */
bool pool_unclaim(struct pool_set *ps, uint32_t addr, uint64_t owner);
bool pool_unclaim6(struct pool_set *ps, const uint8_t addr[16], unsigned plen, uint64_t owner);
/* The pool's netmask (0 if none or no such pool). */
uint32_t pool_netmask(const struct pool_set *ps, const char *name);

/* Moves every lease and claim (and the failure counters) of @old into @nw, the
 * pools of a new configuration. A lease whose pool is gone or whose address is
 * outside the new ranges (or their slice, partitioned) is reported through @misfit and not moved, and so is a
 * claim that the new pools put on a prefix another claim holds (with pool "");
 * returns how many there were (0: @nw now holds every lease and @old may be
 * freed). A claim moves wherever its address falls: into a new pool's range, or
 * outside every range. */
size_t pool_set_carry(struct pool_set *nw, const struct pool_set *old,
                      void (*misfit)(const char *pool, uint32_t addr, uint64_t owner, void *arg), void *arg);

/* Makes @v4 and @v6 (either may be NULL) the sets in force for the alarms
 * (base/alarm.h): each pool's usage is checked now and after every change of
 * its leases against @pct percent (pool-usage-high, cleared 5 points below;
 * an alarm raised under the threshold @old_pct of the sets before, 0 none,
 * stays down to that level, unless @pct is higher than @old_pct and above
 * the usage: then it clears at once) and for exhaustion (pool-exhausted);
 * the alarms of pools in neither set are cleared. A set not in force (a
 * commit's new one until apply) raises nothing. */
void pool_set_alarms(struct pool_set *v4, struct pool_set *v6, unsigned int old_pct, unsigned int pct);

void pool_set_foreach(const struct pool_set *ps, void (*fn)(const struct pool_info *pi, void *arg), void *arg);

/* A change of some IPv4 pools of the live set @live, built beside it (nothing
 * in @live changes until pool_patch_apply, which cannot fail): for a commit
 * that changes a few pools among many, instead of a new set and a carry. Only
 * pools no lease or claim holds an address of can be changed: -EBUSY (build a
 * new set then). The new ranges are partitioned as @live is (a change of the
 * partition is a new set). pool_patch_del removes pool @name (nothing if there is none);
 * pool_patch_put adds pool @name, or replaces the live one of that name (its
 * allocation failures stay), as an empty pool @out to which pool_patch_range
 * adds ranges (-EINVAL start > end, -EEXIST: it meets a range of the set as
 * the patch leaves it so far: removals first); a name twice: -EEXIST. pool_patch_ready, last: -EBUSY
 * when a claim outside every range falls in a new range, -ENOMEM. Apply frees
 * the patch; pool_patch_free drops one not applied. */
struct pool_patch;
struct pool_patch *pool_patch_new(struct pool_set *live);
int pool_patch_del(struct pool_patch *pp, const char *name);
int pool_patch_put(struct pool_patch *pp, const char *name, uint32_t netmask, struct pool **out);
int pool_patch_range(struct pool_patch *pp, struct pool *p, uint32_t start, uint32_t end);
int pool_patch_ready(struct pool_patch *pp);
void pool_patch_apply(struct pool_patch *pp);
void pool_patch_free(struct pool_patch *pp);
/* The ranges of IPv4 pool @name ([start, end]; at most @cap written): how many
 * it has (0: none, or no such pool). */
size_t pool_ranges4(const struct pool_set *ps, const char *name, uint32_t (*out)[2], size_t cap);

#endif
