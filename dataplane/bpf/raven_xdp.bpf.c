// SPDX-License-Identifier: GPL-2.0
/* Raven's XDP program: steers the dataplane's packets to the AF_XDP socket of their
 * receive queue and leaves everything else to the kernel.
 *
 * Outside interface: ESP (IP protocol 50) and UDP-encapsulated ESP (destination a
 * NAT traversal port, 4500 unless configured otherwise: the "natt_ports" map kept by
 * the control plane, dp_set_udp_ports; with a non-zero first word: RFC 3948 2.2)
 * addressed to one of our addresses. IKE (its port, and the NAT traversal ports
 * with the zero non-ESP marker), NAT keepalives (one 0xff byte) and all other
 * traffic pass. IPv4 and IPv6 alike (IPv6 past hop-by-hop,
 * routing and destination options headers).
 * Fragments of ESP and of UDP addressed to us go to the socket as well: the
 * workers reassemble them (only the first fragment carries the UDP ports, so the
 * program cannot tell ESP in UDP from IKE in the others); a reassembled datagram
 * that is IKE (fragmented on an IKE or NAT traversal port) is handed to the kernel by the worker,
 * other UDP is dropped there. Without a socket on the queue (ravend down) fragments pass to the
 * kernel, which reassembles IKE as before.
 * Inside interface: IPv4/IPv6 packets whose destination is in a client prefix (the
 * LPM maps kept by the control plane) go to the socket.
 *
 * What is the dataplane's but finds no socket on its queue is dropped (counted
 * RAVEN_XDP_NO_SOCKET), never passed: the program stays attached while ravend
 * restarts (dp_keep_programs, or a killed process), and the kernel would route
 * clear traffic to a client by its own routes, past the tunnel, and answer ESP in
 * UDP with ICMP port unreachable. The same holds for a queue not served.
 *
 * One program is loaded per interface; all instances share the maps but the XSKMAP,
 * which holds that interface's sockets by queue. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "raven_xdp.h"

struct {
    __uint(type, BPF_MAP_TYPE_XSKMAP);
    __uint(max_entries, RAVEN_XDP_MAX_QUEUES);
    __type(key, __u32);
    __type(value, __u32);
} xsks SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, RAVEN_XDP_CONF_N);
    __type(key, __u32);
    __type(value, __u32);
} conf SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_LPM_TRIE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, RAVEN_XDP_MAX_CLIENT_PREFIXES);
    __type(key, struct raven_lpm4);
    __type(value, __u32);
} clients4 SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_LPM_TRIE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, RAVEN_XDP_MAX_CLIENT_PREFIXES);
    __type(key, struct raven_lpm6);
    __type(value, __u32);
} clients6 SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, RAVEN_XDP_MAX_LOCAL);
    __type(key, struct raven_local);
    __type(value, __u32);
} local SEC(".maps");

/* the NAT traversal ports (network order): ESP in UDP arrives there */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, RAVEN_XDP_MAX_NATT_PORTS);
    __type(key, __u16);
    __type(value, __u32);
} natt_ports SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, RAVEN_XDP_STATS);
    __type(key, __u32);
    __type(value, __u64);
} stats SEC(".maps");

#define ESP_PROTO 50
#define IP_MF_OFFSET 0x3fff

static __always_inline int count(__u32 slot, int verdict)
{
    __u64 *c = bpf_map_lookup_elem(&stats, &slot);

    if (c)
        (*c)++;
    return verdict;
}

static __always_inline int to_socket(struct xdp_md *ctx)
{
    /* XDP_DROP when the queue has no socket (see the top) */
    return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_DROP);
}

/* For fragments: the kernel reassembles when no worker serves the queue. */
static __always_inline int to_socket_or_pass(struct xdp_md *ctx)
{
    return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
}

static __always_inline int is_local4(__u32 daddr)
{
    struct raven_local k = {};

    k.addr[10] = 0xff;
    k.addr[11] = 0xff;
    __builtin_memcpy(&k.addr[12], &daddr, 4);
    return bpf_map_lookup_elem(&local, &k) != 0;
}

static __always_inline int udp_natt(struct xdp_md *ctx, struct udphdr *udp, void *end);

static __always_inline int outside4(struct xdp_md *ctx, void *l3, void *end)
{
    struct iphdr *ip = l3;
    struct udphdr *udp;

    if ((void *)(ip + 1) > end || ip->version != 4 || ip->ihl < 5)
        return XDP_PASS;
    if (ip->protocol != ESP_PROTO && ip->protocol != IPPROTO_UDP)
        return XDP_PASS;
    if (!is_local4(ip->daddr))
        return XDP_PASS;
    if (ip->protocol == ESP_PROTO)
        return to_socket(ctx);
    if (ip->frag_off & bpf_htons(IP_MF_OFFSET))
        return to_socket_or_pass(ctx); /* UDP fragments: the worker reassembles */
    udp = (void *)ip + ip->ihl * 4;
    return udp_natt(ctx, udp, end);
}

static __always_inline int is_local6(struct in6_addr *a)
{
    struct raven_local k = {};

    __builtin_memcpy(k.addr, a, 16);
    return bpf_map_lookup_elem(&local, &k) != 0;
}

#define IP6_HOP 0
#define IP6_ROUTING 43
#define IP6_FRAGMENT 44
#define IP6_DSTOPTS 60
#define IP6_MAX_EXT 4

static __always_inline int outside6(struct xdp_md *ctx, void *l3, void *end)
{
    struct ipv6hdr *ip6 = l3;
    void *p = ip6 + 1;
    __u8 nh;

    if ((void *)(ip6 + 1) > end || ip6->version != 6)
        return XDP_PASS;
    if (!is_local6(&ip6->daddr))
        return XDP_PASS;
    nh = ip6->nexthdr;
    /* the extension headers a sender puts before ESP or a fragment header (RFC
     * 8200 4.1); a longer or truncated chain is left to the kernel */
#pragma unroll
    for (int i = 0; i < IP6_MAX_EXT; i++) {
        __u8 *ext = p;

        if (nh != IP6_HOP && nh != IP6_ROUTING && nh != IP6_DSTOPTS)
            break;
        if ((void *)(ext + 2) > end)
            return XDP_PASS;
        nh = ext[0];
        p += (ext[1] + 1) * 8;
    }
    if (nh == ESP_PROTO)
        return to_socket(ctx);
    if (nh == IP6_FRAGMENT) {
        __u8 *fh = p;

        if ((void *)(fh + 8) > end)
            return XDP_PASS;
        if (fh[0] == ESP_PROTO || fh[0] == IPPROTO_UDP)
            return to_socket_or_pass(ctx);
        return XDP_PASS;
    }
    if (nh != IPPROTO_UDP)
        return XDP_PASS;
    return udp_natt(ctx, p, end);
}

/* UDP to us: ESP in UDP (a NAT traversal port, non-zero first word) to the socket. */
static __always_inline int udp_natt(struct xdp_md *ctx, struct udphdr *udp, void *end)
{
    __u32 *marker;
    __u16 port;

    if ((void *)(udp + 1) > end)
        return XDP_PASS;
    port = udp->dest;
    if (!bpf_map_lookup_elem(&natt_ports, &port))
        return XDP_PASS;
    /* the UDP length, not the frame: a one-byte keepalive in a frame padded to the
     * Ethernet minimum is followed by padding, not by a marker */
    if (bpf_ntohs(udp->len) < sizeof(*udp) + 8)
        return XDP_PASS;
    marker = (void *)(udp + 1);
    if ((void *)(marker + 1) > end || *marker == 0)
        return XDP_PASS; /* IKE (non-ESP marker) or a one-byte NAT keepalive */
    return to_socket(ctx);
}

static __always_inline int inside4(struct xdp_md *ctx, void *l3, void *end)
{
    struct iphdr *ip = l3;
    struct raven_lpm4 k = {.plen = 32};

    if ((void *)(ip + 1) > end || ip->version != 4)
        return XDP_PASS;
    __builtin_memcpy(k.addr, &ip->daddr, 4);
    if (!bpf_map_lookup_elem(&clients4, &k))
        return XDP_PASS;
    return to_socket(ctx);
}

static __always_inline int inside6(struct xdp_md *ctx, void *l3, void *end)
{
    struct ipv6hdr *ip6 = l3;
    struct raven_lpm6 k = {.plen = 128};

    if ((void *)(ip6 + 1) > end || ip6->version != 6)
        return XDP_PASS;
    __builtin_memcpy(k.addr, &ip6->daddr, 16);
    if (!bpf_map_lookup_elem(&clients6, &k))
        return XDP_PASS;
    return to_socket(ctx);
}

SEC("xdp")
int raven_xdp(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    __u32 key = RAVEN_XDP_CONF_ROLE;
    __u32 *role;
    int verdict = XDP_PASS;

    if ((void *)(eth + 1) > end)
        return count(RAVEN_XDP_PASS, XDP_PASS);
    role = bpf_map_lookup_elem(&conf, &key);
    if (!role)
        return count(RAVEN_XDP_PASS, XDP_PASS);
    if (*role == RAVEN_XDP_ROLE_OUTSIDE) {
        if (eth->h_proto == bpf_htons(ETH_P_IP))
            verdict = outside4(ctx, eth + 1, end);
        else if (eth->h_proto == bpf_htons(ETH_P_IPV6))
            verdict = outside6(ctx, eth + 1, end);
    } else if (eth->h_proto == bpf_htons(ETH_P_IP)) {
        verdict = inside4(ctx, eth + 1, end);
    } else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
        verdict = inside6(ctx, eth + 1, end);
    }
    return count(verdict == XDP_REDIRECT ? RAVEN_XDP_REDIRECT
                 : verdict == XDP_DROP   ? RAVEN_XDP_NO_SOCKET
                                         : RAVEN_XDP_PASS,
                 verdict);
}

char _license[] SEC("license") = "Dual BSD/GPL";
