/* Internals of the dataplane's view of the kernel (see dp_nl.h), shared by the
 * next-hop cache (dp_nl_cache.c) and the netlink side (dp_nl.c): one thread owns
 * two rtnetlink sockets, a private copy of the kernel's neighbour table and the
 * interfaces' data, and is the only writer of the next-hop cache that the workers
 * read lock-free.
 *
 * Next-hop cache: a liburcu lock-free hash table (QSBR flavour) keyed by
 * (family, destination). An entry's state and next hop never change once it is
 * published, so a worker reads a consistent entry without locks; the netlink
 * thread changes a state by publishing a new entry in place of the old one and
 * freeing the old one after a grace period (call_rcu).
 *
 *   absent      --worker lookup--------------------------> PENDING (queued once)
 *   PENDING     --route, and a usable neighbour----------> RESOLVED
 *   PENDING     --route, no usable neighbour yet---------> PENDING, waits for that neighbour
 *   PENDING     --no route; blackhole, local, ... route--> UNREACHABLE
 *   RESOLVED    --neighbour's MAC changed----------------> RESOLVED (new MAC)
 *   RESOLVED    --neighbour gone or failed---------------> absent
 *   PENDING, UNREACHABLE: retried about once a second, absent after 10 s
 *   RESOLVED    --unused for a sweep period (30 s)-------> absent
 *   any         --route, rule, nexthop change; link MAC,
 *                 up or carrier change; lost events------> absent (whole cache)
 *
 * Absent means the next worker lookup starts over, so dropping entries is always
 * correct; the cache only ever trades a few packets through the kernel for
 * simplicity.
 *
 * An entry created by a worker is also linked in the request queue until the
 * netlink thread takes it out; removed before that, it is only marked and is
 * freed when dequeued, since the queue still points to it. */
#ifndef RAVEN_DATAPLANE_DP_NL_INT_H
#define RAVEN_DATAPLANE_DP_NL_INT_H

#include <linux/neighbour.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <uthash.h>
#include <libmnl/libmnl.h>

/* The QSBR flavour's API must be in scope before rculfhash.h, which binds the
 * table to the flavour included first. */
#include <urcu-qsbr.h>
#include <urcu/rculfhash.h>
#include <urcu/wfcqueue.h>

#include "dataplane/dp_nl.h"

#define NH_RETRY_MS 1000     /* PENDING/UNREACHABLE entries are asked again this often */
#define NH_GIVE_UP_MS 10000  /* ... and dropped after this long; a later lookup starts over */
#define NH_IDLE_MS 30000     /* RESOLVED entries unused for a whole period are dropped */
/* Each distinct destination a client sends to makes an entry: a bound keeps a
 * client that scans addresses from growing the cache without limit. Past it,
 * new destinations simply go through the kernel. */
#define NH_MAX_ENTRIES (1L << 18)
#define NL_BUF_SIZE 65536   /* the kernel's dump skbs are at most 32 KiB; a link with many VFs needs more */
#define NL_QUEUE_BATCH 256  /* requests per wake-up, so that events are not starved */
#define NL_EVENT_BATCH 64   /* event reads per wake-up, for the same reason */
#define NL_EV_RCVBUF (4 << 20)

#define NUD_USABLE (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP)

enum nh_state {
    NH_PENDING,
    NH_RESOLVED,
    NH_UNREACHABLE,
};

/* Hashed and compared as bytes: always built with key_init(). */
struct nh_key {
    uint32_t family;
    uint8_t addr[16];
    int32_t vrf; /* the VRF device whose table routes it, 0: the main table */
};

/* A neighbour as the kernel keys it: link-local gateways are only unique per
 * interface. Hashed and compared as bytes. */
struct nl_nkey {
    int32_t ifindex;
    uint32_t family;
    uint8_t addr[16];
};

struct nh_entry {
    struct cds_lfht_node node;
    struct nh_key key;
    /* Read by workers; never written once the entry is published. */
    enum nh_state state;
    struct dp_nh nh; /* RESOLVED; in a PENDING entry, the netlink thread's draft */
    /* Set by workers, cleared by the idle sweep. */
    atomic_bool used;
    /* Netlink thread only (and the creating worker before publication). */
    bool in_queue, removed, has_dep;
    struct nl_nkey dep; /* the neighbour a RESOLVED or waiting PENDING entry needs */
    uint64_t since, last_try;
    struct cds_wfcq_node qnode;
    struct rcu_head rcu;
};

struct nl_addr {
    int family;
    unsigned char scope;
    uint8_t addr[16];
    bool seen;
    struct nl_addr *next;
};

struct nl_link {
    int ifindex;
    bool known; /* false while only addresses have been seen (events race with dumps) */
    bool seen;
    unsigned flags;
    uint8_t mac_len;
    struct dp_link pub;
    struct nl_addr *addrs; /* in the kernel's order: the first one is the primary */
    UT_hash_handle hh;
};

struct nl_neigh {
    struct nl_nkey key;
    uint16_t state;
    bool has_mac;
    bool seen;
    uint8_t mac[6];
    UT_hash_handle hh;
};

struct nl_route {
    bool ok;
    unsigned char type;
    int oif;
    bool has_gw;
    uint32_t gw_family;
    uint8_t gw[16];
};

enum { EV_NETLINK = 1, EV_WAKE = 2, EV_TIMER = 4 };

struct dp_nl {
    struct dp_nl_hooks hooks;
    struct mnl_socket *ev, *req;
    unsigned req_portid;
    uint32_t seq;
    int epfd, efd, tfd;
    pthread_t thread;
    bool started;
    bool live; /* netlink thread only: the cache exists for workers (false during dp_nl_new's dumps) */
    atomic_bool stop;
    uint64_t hkey[2];

    struct cds_lfht *cache;
    atomic_long count;
    struct __cds_wfcq_head qhead;
    struct cds_wfcq_tail qtail;

    pthread_mutex_t link_lock; /* links and their addresses: read from any thread */
    struct nl_link *links;
    struct nl_neigh *neighs; /* netlink thread only */

    pthread_mutex_t ctl_lock; /* flush requests from other threads */
    pthread_cond_t ctl_cond;
    uint64_t flush_req, flush_done;
    bool exited;

    uint64_t now, last_sweep;
    bool flush_pending;
    char *evbuf, *reqbuf;
};

/* --- small helpers shared by both sides ------------------------------------------ */

static inline size_t addr_len(int family)
{
    return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

static inline bool neigh_usable(const struct nl_neigh *n)
{
    return n && n->has_mac && (n->state & NUD_USABLE);
}

/* Wakes the netlink thread (a worker queued a request, or a flush is asked for). */
static inline void nl_wake(struct dp_nl *nl)
{
    uint64_t one = 1;
    ssize_t r = write(nl->efd, &one, sizeof(one));

    (void)r; /* EAGAIN means the counter is already non-zero: the thread will wake anyway */
}

/* --- the next-hop cache's updates (dp_nl_cache.c; netlink thread, online) -------- */

bool nh_key_init(struct nh_key *k, int family, const void *dst);
unsigned long nh_hash(const struct dp_nl *nl, const struct nh_key *key);
void nh_remove(struct dp_nl *nl, struct nh_entry *e);
/* call_rcu callback freeing an entry (one dequeued after its removal). */
void nh_free_rcu(struct rcu_head *head);
/* Publishes a new entry for @old's destination in its place. */
void nh_publish(struct dp_nl *nl, struct nh_entry *old, enum nh_state state, const struct dp_nh *nh,
                const struct nl_nkey *dep);
void nh_flush_all(struct dp_nl *nl);
/* The neighbour @k became usable (@n) or unusable (@n NULL or not usable). */
void nh_neigh_changed(struct dp_nl *nl, const struct nl_nkey *k, const struct nl_neigh *n);

/* --- the kernel's links, addresses and neighbours (dp_nl_kernel.c; netlink thread) - */

/* Link lock held: the link of @ifindex, made (unknown, no addresses) if @create. */
struct nl_link *nl_link_get(struct dp_nl *nl, int ifindex, bool create);
/* An RTM_NEWLINK/DELLINK, RTM_NEWADDR/DELADDR, RTM_NEWNEIGH/DELNEIGH message
 * (@del: a DEL) applied to the copy; address changes reach the addr hook. */
void nl_link_msg(struct dp_nl *nl, const struct nlmsghdr *m, bool del);
void nl_addr_msg(struct dp_nl *nl, const struct nlmsghdr *m, bool del);
void nl_neigh_msg(struct dp_nl *nl, const struct nlmsghdr *m, bool del);
/* Loads links, addresses and neighbours, and forgets those the kernel no longer
 * has: at start, and after events were lost. 0 or -errno (the copy is kept). */
int nl_dump_all(struct dp_nl *nl);
/* 0 and @r for a usable unicast route to @key; -ENETUNREACH when the kernel has
 * none we may use; another -errno when the question failed (ask again later). */
int nl_route_get(struct dp_nl *nl, const struct nh_key *key, struct nl_route *r);
/* Frees the links, their addresses and the neighbours (the thread is gone). */
void nl_kernel_free(struct dp_nl *nl);

#endif
