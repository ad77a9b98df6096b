/* This headend as a member of a cluster, on etcd (etcd.h): the member's lease,
 * its key and its sessions' keys, and the watched view of every member.
 *
 * States (vpn-state/cluster/etcd-state):
 *   connecting   a lease is being asked (at start, or after etcd said the
 *                lease was gone): grant, then the member key and every session
 *                key put under it, then the prefix ranged into the tables and
 *                watched from the next revision;
 *   connected    the range answered: the lease is kept alive every TTL/3, the
 *                watch keeps the tables; a lost watch is followed by a new range
 *                and watch;
 *   unreachable  a request failed (transport, authentication, a refusal): the
 *                cluster-etcd-unreachable alarm is raised, the tables are
 *                emptied, nobody is redirected, and the lease is asked again
 *                after a back-off (0.5 s doubling to 5 s); once connected again
 *                the previous lease is revoked so that keys of sessions that
 *                ended meanwhile go with it.
 * Records are checked by cluster_rec.c: one that does not pass is ignored,
 * logged once per key and revision and counted. Another member advertising
 * this member's partition index raises cluster-partition-conflict (resource:
 * its name) until it no longer does. Control thread only. */
#ifndef RAVEN_CLUSTER_CLUSTER_H
#define RAVEN_CLUSTER_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "daemon/cluster/cluster_rec.h"

struct event_base;
struct etcd;
struct cluster;

#define CLUSTER_ADDRS_MAX 8

struct cluster_conf {
    const char *name, *address, *prefix;
    const char *cluster_addrs[CLUSTER_ADDRS_MAX];
    size_t ncluster_addrs;
    uint32_t capacity;
    bool draining;
    unsigned lease_ttl; /* seconds */
    int partition;      /* pools/partition/index, -1: none */
};

/* Puts every session key of this headend again (cluster_session_put), after
 * a new lease was granted. */
typedef void (*cluster_resync_fn)(struct cluster *c, void *arg);

/* Starts the member on @etcd (adopted; freed with the member). @c is copied.
 * NULL when out of memory (@etcd is freed then too). */
struct cluster *cluster_new(struct event_base *base, struct etcd *etcd, const struct cluster_conf *c,
                            cluster_resync_fn resync, void *arg);
/* Stops at once: the lease is left to expire. */
void cluster_free(struct cluster *c);
/* Leaves the cluster: the lease is revoked (its keys go with it), then the
 * member frees itself on a later turn of the loop (after at most 3 s without
 * an answer), calling @gone just before; cluster_free() may still end it
 * before that. */
void cluster_leave(struct cluster *c, void (*gone)(struct cluster *c, void *arg), void *arg);

/* The pools/partition/index advertised (-1: none), re-put at once. */
void cluster_set_partition(struct cluster *c, int partition);
/* This headend's established sessions: the count is advertised coalesced (at
 * most one member put a second); a session's key is put at session up and
 * deleted at down, under the lease (nothing while there is no lease: the
 * resync puts it). */
void cluster_set_sessions(struct cluster *c, uint32_t sessions);
void cluster_session_put(struct cluster *c, uint64_t id, const struct cluster_session *s);
void cluster_session_delete(struct cluster *c, uint64_t id);

enum cluster_state { CLUSTER_CONNECTING, CLUSTER_CONNECTED, CLUSTER_UNREACHABLE };
struct cluster_info {
    enum cluster_state state;
    const char *endpoint, *error; /* borrowed; error "" when none */
    bool distributing;
    uint64_t ignored, writes;
};
void cluster_info(const struct cluster *c, struct cluster_info *i);
const char *cluster_state_name(enum cluster_state s);
const char *cluster_name(const struct cluster *c);
/* The members known now (borrowed until the next turn of the loop). */
const struct cluster_member *cluster_members(const struct cluster *c, size_t *n);
/* Every session published in etcd, by member. */
void cluster_foreach_session(const struct cluster *c,
                             void (*fn)(const char *member, uint64_t id, const struct cluster_session *s, void *arg),
                             void *arg);

/* Where a new client that arrived at @local should go (an IP address in @gw):
 * false to serve it here (etcd not connected; @local not a cluster-address
 * and this member not draining; this member is the pick; no member to take
 * it). A draining member sends every new client to the best other member. */
bool cluster_redirect_init(struct cluster *c, const struct sockaddr *local, char *gw, size_t gwlen);
/* The best member other than this one, for moving an established session.
 * Both count the member chosen (this one too, when it serves the client) one
 * session more in the table until its own record says otherwise, so that
 * clients arriving faster than the members' counts spread all the same. */
bool cluster_redirect_other(struct cluster *c, char *gw, size_t gwlen);

#endif
