/* The kernel's view the dataplane needs, kept in sync over rtnetlink (libmnl) on
 * a thread of its own: next hops (route lookup + neighbour MAC) for destinations
 * the workers forward to, and the interfaces' MAC, MTU and addresses.
 *
 * Workers read next hops lock-free: they are userspace-RCU (liburcu QSBR)
 * readers, registered with rcu_register_thread() and online while they call
 * dp_nl_next_hop(). A destination not yet resolved makes the call return -EAGAIN
 * and queue one resolution request; the worker then hands that packet to the
 * kernel, which resolves the neighbour, and the entry appears when the kernel's
 * neighbour table has it. Route, link and neighbour changes update or drop the
 * entries that depend on them. */
#ifndef RAVEN_DATAPLANE_DP_NL_H
#define RAVEN_DATAPLANE_DP_NL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

struct dp_nl;

/* Where a packet to a destination leaves: the egress interface and the Ethernet
 * addresses to write. */
struct dp_nh {
    int ifindex;
    uint8_t src_mac[6], dst_mac[6];
};

/* What the dataplane learns about an interface. */
struct dp_link {
    int ifindex;
    unsigned mtu;
    uint8_t mac[6];
    bool has_addr4, has_addr6;
    struct in_addr addr4;   /* first IPv4 address (source of ICMP errors) */
    struct in6_addr addr6;  /* first global IPv6 address */
};

struct dp_nl_hooks {
    /* An address was added to or removed from an interface (also called for
     * every address present at start). Called on the netlink thread; for the
     * addresses present at start, from dp_nl_new() before it returns. */
    void (*addr)(void *arg, int ifindex, int family, const void *addr, bool added);
    void *arg;
};

/* Starts the netlink thread after an initial dump of links, addresses and
 * neighbours; NULL with errno set on failure. */
struct dp_nl *dp_nl_new(const struct dp_nl_hooks *hooks);
/* Stops the thread and frees everything (after an RCU grace period). */
void dp_nl_free(struct dp_nl *nl);

/* Worker side (RCU reader, online). @family is AF_INET or AF_INET6, @dst the
 * 4- or 16-byte address. 0 and *out filled; -EAGAIN when not resolved yet (a
 * request is queued at most once per destination until it resolves or fails;
 * unresolvable destinations are retried about once a second while asked for);
 * -ENETUNREACH when the kernel has no route. */
int dp_nl_next_hop(struct dp_nl *nl, int family, const void *dst, struct dp_nh *out);
/* The same with the routing table of VRF device @vrf (its ifindex; 0 the main
 * table): the kernel's answer for a lookup out of that VRF. */
int dp_nl_next_hop_vrf(struct dp_nl *nl, int family, const void *dst, int vrf, struct dp_nh *out);

/* Any thread: the interface's current data; -ENODEV if unknown. */
int dp_nl_link(struct dp_nl *nl, int ifindex, struct dp_link *out);

/* Drops every cached next hop (tests; resolution restarts on demand). */
void dp_nl_flush(struct dp_nl *nl);

#endif
