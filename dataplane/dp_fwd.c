/* A dataplane worker: bursts of packets from its AF_XDP sockets, ESP decryption
 * towards the inside and encryption towards the clients (RFC 4303, RFC 3948), the
 * next hop's Ethernet header from the kernel's neighbour table (dp_nl), and the
 * hand-off to the kernel of what the worker cannot send itself.
 *
 * A frame belongs to exactly one place at a time: the worker's free list, a fill
 * ring, an RX ring, a TX ring or a completion ring. Every path below either puts
 * the frame on a TX ring or back on the free list. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "dataplane/dp_int.h"
#include "dataplane/dp_nl.h"

#define ETH_HLEN 14
#define IP4_HLEN 20
#define UDP_HLEN 8
#define ETH_P_IPV4 0x0800
#define ETH_P_IPV6 0x86dd
#define IPPROTO_ESP_ 50
#define NH_NONE 59 /* dummy packet (RFC 4303 2.6) */
/* Idle strategy: a few empty rounds spinning; then, while traffic was seen in the
 * last COALESCE_NS, short sleeps that let packets gather (a wake-up per packet
 * would cost more than the packet); after that, poll() until the kernel signals
 * one. */
#define IDLE_SPINS 8
#define COALESCE_NS 2000000u
#define COALESCE_SLEEP_NS 100000

static inline uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void wr16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v & 0xff;
}

static uint16_t csum(const uint8_t *p, size_t len, uint32_t sum)
{
    for (; len > 1; p += 2, len -= 2)
        sum += rd16(p);
    if (len)
        sum += p[0] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* TTL - 1 with the incremental checksum update of RFC 1624. */
static void ttl_dec4(uint8_t *ip)
{
    uint32_t sum = (uint16_t)~rd16(ip + 10) + (uint16_t)~rd16(ip + 8);

    ip[8]--;
    sum += rd16(ip + 8);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    wr16(ip + 10, (uint16_t)~sum);
}

static inline struct dp_if_ctr *ictr(struct dp_worker *w, struct dp_xs *xs)
{
    return &xs->ifc->ctr[w->id];
}

static inline void drop(struct dp_worker *w, struct dp_xs *xs, uint64_t addr, enum dp_drop why)
{
    ictr(w, xs)->drops[why]++;
    dp_frame_put(w, addr);
}

/* Charges a packet of @len inner bytes to the SA's hard lifetime (RFC 4301
 * 4.4.2.1): false once the SA is past it, and it carries nothing more. SAs
 * without a hard limit pay nothing. */
static inline bool life_take(struct dp_rsa *sa, struct dp_sa_live *l, size_t len)
{
    uint64_t p, b;

    if (__builtin_expect(!sa->conf.hard_bytes && !sa->conf.hard_packets, 1))
        return true;
    if (atomic_load_explicit(&l->expired, memory_order_relaxed))
        return false;
    p = atomic_fetch_add_explicit(&l->life_packets, 1, memory_order_relaxed) + 1;
    b = atomic_fetch_add_explicit(&l->life_bytes, len, memory_order_relaxed) + len;
    if ((sa->conf.hard_packets && p > sa->conf.hard_packets) || (sa->conf.hard_bytes && b > sa->conf.hard_bytes)) {
        atomic_store_explicit(&l->expired, 1, memory_order_relaxed);
        return false;
    }
    /* this packet reaches the limit exactly: it passes, and the SA has expired
     * now (reported for deletion), not only when a next packet comes */
    if ((sa->conf.hard_packets && p == sa->conf.hard_packets) || (sa->conf.hard_bytes && b == sa->conf.hard_bytes))
        atomic_store_explicit(&l->expired, 1, memory_order_relaxed);
    return true;
}

static struct dp_xs *xs_for(struct dp_worker *w, int ifindex)
{
    for (size_t i = 0; i < w->nxs; i++)
        if (w->xs[i].ifc->ifindex == ifindex)
            return &w->xs[i];
    return NULL;
}

static struct dp_xs *first_outside(struct dp_worker *w)
{
    for (size_t i = 0; i < w->nxs; i++)
        if (w->xs[i].ifc->conf.role == DP_ROLE_OUTSIDE)
            return &w->xs[i];
    return NULL;
}

static struct esp_xform *worker_xf(struct dp_worker *w, struct dp_rsa *sa)
{
    struct esp_xform *x = atomic_load_explicit(&sa->xf[w->id], memory_order_acquire);

    if (!x) {
        x = esp_xform_new(&sa->params, !sa->conf.inbound);
        atomic_store_explicit(&sa->xf[w->id], x, memory_order_release);
    }
    return x;
}

static void tx_flush(struct dp_worker *w, struct dp_xs *xs)
{
    uint32_t n = xs->ntx, idx, ok;
    struct dp_if_ctr *c = ictr(w, xs);

    if (!n)
        return;
    ok = xsk_prod_nb_free(&xs->tx, n);
    if (ok > n)
        ok = n;
    if (ok && xsk_ring_prod__reserve(&xs->tx, ok, &idx) == ok) {
        for (uint32_t i = 0; i < ok; i++) {
            *xsk_ring_prod__tx_desc(&xs->tx, idx + i) = xs->txq[i];
            c->tx_bytes += xs->txq[i].len;
        }
        xsk_ring_prod__submit(&xs->tx, ok);
        xs->tx_outstanding += ok;
        c->tx_packets += ok;
    } else {
        ok = 0;
    }
    for (uint32_t i = ok; i < n; i++)
        drop(w, xs, xs->txq[i].addr, DP_DROP_RING_FULL);
    xs->ntx = 0;
}

static void tx_stage(struct dp_worker *w, struct dp_xs *xs, const uint8_t *start, uint32_t len)
{
    if (xs->ntx == sizeof(xs->txq) / sizeof(xs->txq[0]))
        tx_flush(w, xs);
    xs->txq[xs->ntx].addr = (uint64_t)(start - (const uint8_t *)w->area);
    xs->txq[xs->ntx].len = len;
    xs->txq[xs->ntx].options = 0;
    xs->ntx++;
}

/* The next hop towards @dst (dp_nl_next_hop). A dataplane that never had an
 * interface follows no kernel (dp->nl NULL): only a detached test worker runs
 * then, with the next hop its test gave or none. */
static int next_hop(struct dp_worker *w, int family, const void *dst, int vrf, struct dp_nh *nh)
{
    if (__builtin_expect(w->dp->nl != NULL, 1))
        return dp_nl_next_hop_vrf(w->dp->nl, family, dst, vrf, nh);
    if (!w->detached_nh)
        return -ENETUNREACH;
    *nh = *w->detached_nh;
    return 0;
}

/* The kernel routes the packet (and resolves the neighbour for the next one), in
 * the table of VRF device @vrf when set: the packet leaves "out of" the VRF
 * device (IP_PKTINFO's interface), as a socket bound to it would send. */
static void to_kernel(struct dp_worker *w, struct dp_xs *xs, uint64_t addr, int family, const uint8_t *pkt,
                      size_t len, const uint8_t *dst, int vrf)
{
    struct sockaddr_storage ss = {0};
    union {
        char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
        struct cmsghdr align;
    } cm;
    struct iovec iov = {.iov_base = (void *)pkt, .iov_len = len};
    struct msghdr mh = {.msg_name = &ss, .msg_iov = &iov, .msg_iovlen = 1};
    ssize_t rc;

    memset(&cm, 0, sizeof(cm));
    if (vrf > 0) {
        mh.msg_control = cm.buf;
        mh.msg_controllen = family == AF_INET ? CMSG_SPACE(sizeof(struct in_pktinfo))
                                              : CMSG_SPACE(sizeof(struct in6_pktinfo));
    }
    if (family == AF_INET) {
        struct sockaddr_in *s = (void *)&ss;
        s->sin_family = AF_INET;
        memcpy(&s->sin_addr, dst, 4);
        mh.msg_namelen = sizeof(*s);
        if (vrf > 0) {
            struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
            struct in_pktinfo pi = {.ipi_ifindex = vrf};

            c->cmsg_level = IPPROTO_IP;
            c->cmsg_type = IP_PKTINFO;
            c->cmsg_len = CMSG_LEN(sizeof(pi));
            memcpy(CMSG_DATA(c), &pi, sizeof(pi));
        }
        rc = sendmsg(w->raw4, &mh, MSG_DONTWAIT);
    } else {
        struct sockaddr_in6 *s = (void *)&ss;
        s->sin6_family = AF_INET6;
        memcpy(&s->sin6_addr, dst, 16);
        mh.msg_namelen = sizeof(*s);
        if (vrf > 0) {
            struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
            struct in6_pktinfo pi = {.ipi6_ifindex = (unsigned)vrf};

            c->cmsg_level = IPPROTO_IPV6;
            c->cmsg_type = IPV6_PKTINFO;
            c->cmsg_len = CMSG_LEN(sizeof(pi));
            memcpy(CMSG_DATA(c), &pi, sizeof(pi));
        }
        rc = sendmsg(w->raw6, &mh, MSG_DONTWAIT);
    }
    if (rc < 0)
        ictr(w, xs)->drops[DP_DROP_NO_ROUTE]++;
    else
        ictr(w, xs)->to_kernel++;
    dp_frame_put(w, addr);
}

/* Sends the decrypted IP packet at pkt[0..len) (with room for an Ethernet header
 * before it) towards @dst: on an inside interface when the next hop is known, else
 * through the kernel. */
static void forward(struct dp_worker *w, struct dp_xs *in, uint64_t addr, int family, uint8_t *pkt, size_t len,
                    const uint8_t *dst, int vrf)
{
    struct dp_nh nh;
    struct dp_xs *out;
    int rc = next_hop(w, family, dst, vrf, &nh);

    /* unresolved, not ours to send, or no route (which includes our own
     * addresses): the kernel delivers, resolves or refuses it (counted no-route) */
    /* decrypted traffic never leaves in clear on an outside interface from here: what
     * the kernel routes there (full-tunnel clients to the internet) goes through
     * the kernel, its firewall and NAT */
    if (rc || !(out = xs_for(w, nh.ifindex)) || out->ifc->conf.role == DP_ROLE_OUTSIDE || len > out->mtu) {
        to_kernel(w, in, addr, family, pkt, len, dst, vrf);
        return;
    }
    pkt -= ETH_HLEN;
    memcpy(pkt, nh.dst_mac, 6);
    memcpy(pkt + 6, nh.src_mac, 6);
    wr16(pkt + 12, family == AF_INET ? ETH_P_IPV4 : ETH_P_IPV6);
    tx_stage(w, out, pkt, len + ETH_HLEN);
}

static void from_inside(struct dp_worker *w, struct dp_xs *xs, uint64_t addr, uint8_t *pkt, uint32_t len,
                        bool hairpin);

/* RFC 7296 2.23: an ESP-in-UDP packet that authenticated as the newest of its
 * SA (its sequence number the window's top now, so no replay) from another
 * outer address or port than the SA's peer is reported to the control thread
 * (dp_floated), which decides whether the session follows. One store per
 * change, not per packet. */
static void float_check(struct dp_rsa *sa, const uint8_t *ip, size_t ihl, uint64_t seq)
{
    const struct dp_outer *o = rcu_dereference(sa->outer);
    uint32_t src;
    uint16_t sport;
    uint64_t top, v;

    if (ip[9] != IPPROTO_UDP || !o->udp_encap || !o->peer)
        return;
    memcpy(&src, ip + 12, 4);
    memcpy(&sport, ip + ihl, 2);
    if (src == o->peer && sport == o->peer_port)
        return;
    pthread_spin_lock(&sa->replay_lock);
    top = sa->live->replay_top;
    pthread_spin_unlock(&sa->replay_lock);
    if (seq != top)
        return;
    v = 1ull << 63 | (uint64_t)ntohl(src) << 16 | ntohs(sport);
    if (atomic_load_explicit(&sa->floated, memory_order_relaxed) != v)
        atomic_store_explicit(&sa->floated, v, memory_order_relaxed);
}

/* ESP (or ESP in UDP) from a client: decrypt, check, forward inside. */
static void from_outside(struct dp_worker *w, struct dp_xs *xs, uint64_t addr, uint8_t *pkt, uint32_t len)
{
    struct dp *dp = w->dp;
    uint8_t *ip = pkt + ETH_HLEN, *esp, *inner, nh;
    size_t ihl, tot, esplen, ilen;
    struct dp_rsa *sa;
    struct dp_sa_live *live;
    struct dp_sa_live_ctr *ctr;
    struct esp_xform *xf;
    uint64_t seq;
    int rc, family;
    const uint8_t *src, *dst;

    if (len < ETH_HLEN + IP4_HLEN || rd16(pkt + 12) != ETH_P_IPV4 || ip[0] >> 4 != 4)
        return drop(w, xs, addr, DP_DROP_MALFORMED);
    ihl = (ip[0] & 15) * 4u;
    tot = rd16(ip + 2);
    if (ihl < IP4_HLEN || tot < ihl || tot > len - ETH_HLEN)
        return drop(w, xs, addr, DP_DROP_MALFORMED);
    if (rd16(ip + 6) & 0x3fff)
        return drop(w, xs, addr, DP_DROP_FRAGMENT);
    if (ip[9] == IPPROTO_ESP_) {
        esp = ip + ihl;
        esplen = tot - ihl;
    } else if (ip[9] == IPPROTO_UDP && tot - ihl >= UDP_HLEN) {
        uint8_t *udp = ip + ihl;
        size_t ulen = rd16(udp + 4);
        if (ulen < UDP_HLEN || ulen > tot - ihl)
            return drop(w, xs, addr, DP_DROP_MALFORMED);
        esp = udp + UDP_HLEN;
        esplen = ulen - UDP_HLEN;
    } else {
        return drop(w, xs, addr, DP_DROP_MALFORMED);
    }
    if (esplen < 8)
        return drop(w, xs, addr, DP_DROP_MALFORMED);
    if (!(sa = dp_lookup_in(dp, rd32(esp))))
        return drop(w, xs, addr, DP_DROP_NO_SA);
    live = sa->live;
    ctr = &live->ctr[w->id];
    if (atomic_load_explicit(&live->expired, memory_order_relaxed))
        return drop(w, xs, addr, DP_DROP_EXPIRED);
    pthread_spin_lock(&sa->replay_lock);
    rc = esp_replay_check(&sa->replay, live->replay_top, live->replay_bits, rd32(esp + 4), &seq);
    pthread_spin_unlock(&sa->replay_lock);
    if (rc) {
        ctr->replay++;
        return drop(w, xs, addr, DP_DROP_REPLAY);
    }
    if (!(xf = worker_xf(w, sa)))
        return drop(w, xs, addr, DP_DROP_OTHER);
    rc = esp_open(xf, seq, esp, esplen, &inner, &ilen, &nh);
    if (rc == ESP_E_AUTH) {
        ctr->auth++;
        return drop(w, xs, addr, DP_DROP_AUTH);
    }
    if (rc)
        return drop(w, xs, addr, rc == ESP_E_MALFORMED ? DP_DROP_MALFORMED : DP_DROP_OTHER);
    pthread_spin_lock(&sa->replay_lock);
    rc = esp_replay_update(&sa->replay, &live->replay_top, live->replay_bits, seq);
    pthread_spin_unlock(&sa->replay_lock);
    if (rc) {
        ctr->replay++;
        return drop(w, xs, addr, DP_DROP_REPLAY);
    }
    float_check(sa, ip, ihl, seq);
    if (nh == NH_NONE) /* a dummy packet (RFC 4303 2.6): it ends here, counted with other */
        return drop(w, xs, addr, DP_DROP_OTHER);
    if (nh == 4 && ilen >= IP4_HLEN && inner[0] >> 4 == 4 && (inner[0] & 15) >= 5 && rd16(inner + 2) <= ilen &&
        rd16(inner + 2) >= (inner[0] & 15) * 4u) {
        family = AF_INET;
        ilen = rd16(inner + 2); /* TFC padding goes */
        src = inner + 12;
        dst = inner + 16;
    } else if (nh == 41 && ilen >= 40 && inner[0] >> 4 == 6 && rd16(inner + 4) + 40u <= ilen) {
        family = AF_INET6;
        ilen = rd16(inner + 4) + 40u;
        src = inner + 8;
        dst = inner + 24;
    } else {
        return drop(w, xs, addr, DP_DROP_MALFORMED);
    }
    if (!dp_sel_match(&sa->conf, family, src)) {
        ctr->selector++;
        return drop(w, xs, addr, DP_DROP_SELECTOR);
    }
    if ((family == AF_INET && inner[8] <= 1) || (family == AF_INET6 && inner[7] <= 1))
        return drop(w, xs, addr, DP_DROP_NO_ROUTE);
    if (!life_take(sa, live, ilen))
        return drop(w, xs, addr, DP_DROP_EXPIRED);
    if (sa->conf.tcp_mss)
        dp_inner_mss_clamp(inner, ilen, family, sa->conf.tcp_mss);
    ctr->packets++;
    ctr->bytes += ilen;
    dp->wctr[w->id].dec_packets++;
    dp->wctr[w->id].dec_bytes += ilen;
    if (dp_lookup_route(dp, family, dst)) {
        /* to a client (another, or this one): through its tunnel, never in clear;
         * from_inside() takes the packet as if it had arrived inside */
        uint8_t *eth = inner - ETH_HLEN;
        memset(eth, 0, 12);
        wr16(eth + 12, family == AF_INET ? ETH_P_IPV4 : ETH_P_IPV6);
        from_inside(w, xs, addr, eth, (uint32_t)(ilen + ETH_HLEN), true);
        return;
    }
    if (family == AF_INET)
        ttl_dec4(inner);
    else
        inner[7]--;
    forward(w, xs, addr, family, inner, ilen, dst, sa->conf.vrf);
}

/* ICMP "fragmentation needed" (RFC 792, RFC 1191) back to the inside sender of an
 * IPv4 packet with DF that does not fit the tunnel, sent on the interface it came
 * from to the MAC it came from. */
/* Whether an ICMP error may answer this IPv4 packet (RFC 1812 4.3.2.7): not an
 * ICMP error itself, not a non-first fragment, from a unicast source. */
static bool icmp4_may_answer(const uint8_t *ip)
{
    size_t ihl = (ip[0] & 15) * 4u;
    uint8_t a = ip[12];

    if (rd16(ip + 6) & 0x1fff)
        return false;
    if (ip[9] == IPPROTO_ICMP && rd16(ip + 2) > ihl) {
        uint8_t type = ip[ihl];
        if (type == 3 || type == 4 || type == 5 || type == 11 || type == 12)
            return false;
    }
    if (a == 0 || a == 127 || a >= 224 || !memcmp(ip + 12, "\xff\xff\xff\xff", 4))
        return false;
    return true;
}

static void frag_needed(struct dp_worker *w, struct dp_xs *xs, const uint8_t *pkt, size_t len, unsigned mtu)
{
    const uint8_t *ip = pkt + ETH_HLEN;
    size_t quote = len - ETH_HLEN < 548 ? len - ETH_HLEN : 548;
    uint8_t *r, *rip, *icmp;
    uint64_t fa;

    if (!xs->has_addr4 || !w->nfree || !icmp4_may_answer(ip))
        return;
    if (mtu < 68)
        mtu = 68; /* the least an IPv4 path may have (RFC 791) */
    fa = w->free[--w->nfree];
    r = (uint8_t *)w->area + fa + 256;
    memcpy(r, pkt + 6, 6); /* back to the sender's MAC, from ours */
    memcpy(r + 6, pkt, 6);
    wr16(r + 12, ETH_P_IPV4);
    rip = r + ETH_HLEN;
    memset(rip, 0, IP4_HLEN);
    rip[0] = 0x45;
    rip[1] = 0xc0; /* internetwork control */
    wr16(rip + 2, IP4_HLEN + 8 + quote);
    wr16(rip + 4, w->ip_id++);
    rip[8] = 64;
    rip[9] = IPPROTO_ICMP;
    memcpy(rip + 12, &xs->addr4, 4);
    memcpy(rip + 16, ip + 12, 4);
    wr16(rip + 10, csum(rip, IP4_HLEN, 0));
    icmp = rip + IP4_HLEN;
    memset(icmp, 0, 8);
    icmp[0] = 3; /* destination unreachable */
    icmp[1] = 4; /* fragmentation needed and DF set */
    wr16(icmp + 6, mtu);
    memcpy(icmp + 8, ip, quote);
    wr16(icmp + 2, csum(icmp, 8 + quote, 0));
    tx_stage(w, xs, r, ETH_HLEN + IP4_HLEN + 8 + quote);
}

/* ICMPv6 "packet too big" (RFC 4443 3.2) back to the inside sender of an IPv6
 * packet that does not fit the tunnel: IPv6 routers do not fragment. Not for
 * ICMPv6 errors or multicast/unspecified sources (RFC 4443 2.4). */
static void packet_too_big(struct dp_worker *w, struct dp_xs *xs, const uint8_t *pkt, size_t len, unsigned mtu)
{
    const uint8_t *ip = pkt + ETH_HLEN;
    size_t quote = len - ETH_HLEN < 1280 - 40 - 8 ? len - ETH_HLEN : 1280 - 40 - 8;
    static const uint8_t unspec[16];
    uint8_t *r, *rip, *icmp;
    uint32_t sum = 0;
    uint64_t fa;

    if (!xs->has_addr6 || !w->nfree || ip[8] == 0xff || !memcmp(ip + 8, unspec, 16) ||
        (ip[6] == 58 && rd16(ip + 4) && ip[40] < 128))
        return;
    if (mtu < 1280)
        mtu = 1280; /* the IPv6 minimum (RFC 8200 5) */
    fa = w->free[--w->nfree];
    r = (uint8_t *)w->area + fa + 256;
    memcpy(r, pkt + 6, 6);
    memcpy(r + 6, pkt, 6);
    wr16(r + 12, ETH_P_IPV6);
    rip = r + ETH_HLEN;
    memset(rip, 0, 40);
    rip[0] = 0x60;
    wr16(rip + 4, (uint16_t)(8 + quote));
    rip[6] = 58; /* ICMPv6 */
    rip[7] = 255;
    memcpy(rip + 8, &xs->addr6, 16);
    memcpy(rip + 24, ip + 8, 16);
    icmp = rip + 40;
    memset(icmp, 0, 8);
    icmp[0] = 2; /* packet too big */
    icmp[4] = mtu >> 24;
    icmp[5] = (mtu >> 16) & 0xff;
    icmp[6] = (mtu >> 8) & 0xff;
    icmp[7] = mtu & 0xff;
    memcpy(icmp + 8, ip, quote);
    /* pseudo-header: addresses, upper-layer length, next header */
    for (int i = 8; i < 40; i += 2)
        sum += rd16(rip + i);
    sum += (uint32_t)(8 + quote) + 58;
    wr16(icmp + 2, csum(icmp, 8 + quote, sum));
    tx_stage(w, xs, r, ETH_HLEN + 40 + 8 + quote);
}

/* Clear traffic from the inside to a client: encrypt and send to the client. */
static void from_inside(struct dp_worker *w, struct dp_xs *xs, uint64_t addr, uint8_t *pkt, uint32_t len,
                        bool hairpin)
{
    struct dp *dp = w->dp;
    uint8_t *ip = pkt + ETH_HLEN, *esp, *o;
    size_t ilen, room;
    int family, esplen;
    const uint8_t *dst;
    struct dp_rsa *sa;
    struct dp_sa_live *live;
    struct dp_outer *outer;
    struct esp_xform *xf;
    struct dp_xs *out = NULL, *mtu_of;
    struct dp_nh nh;
    unsigned mtu, tmtu;
    uint64_t seq;
    bool udp;

    if (len >= ETH_HLEN + IP4_HLEN && rd16(pkt + 12) == ETH_P_IPV4 && ip[0] >> 4 == 4 && (ip[0] & 15) >= 5 &&
        rd16(ip + 2) <= len - ETH_HLEN && rd16(ip + 2) >= (ip[0] & 15) * 4u) {
        family = AF_INET;
        ilen = rd16(ip + 2);
        dst = ip + 16;
    } else if (len >= ETH_HLEN + 40 && rd16(pkt + 12) == ETH_P_IPV6 && ip[0] >> 4 == 6 &&
               rd16(ip + 4) + 40u <= len - ETH_HLEN) {
        family = AF_INET6;
        ilen = rd16(ip + 4) + 40u;
        dst = ip + 24;
    } else {
        return drop(w, xs, addr, DP_DROP_MALFORMED);
    }
    if (!(sa = dp_lookup_route(dp, family, dst)))
        return drop(w, xs, addr, DP_DROP_NO_SA);
    outer = rcu_dereference(sa->outer);
    if (!outer->peer)
        return drop(w, xs, addr, DP_DROP_NO_ROUTE);
    if ((family == AF_INET && ip[8] <= 1) || (family == AF_INET6 && ip[7] <= 1))
        return drop(w, xs, addr, DP_DROP_NO_ROUTE);
    if (!(xf = worker_xf(w, sa)))
        return drop(w, xs, addr, DP_DROP_OTHER);
    udp = outer->udp_encap;
    if (!next_hop(w, AF_INET, &outer->peer, sa->conf.vrf, &nh))
        out = xs_for(w, nh.ifindex);
    /* the egress MTU; the first outside interface's while the next hop is unknown */
    mtu_of = out ? out : first_outside(w);
    mtu = mtu_of ? mtu_of->mtu : 1500;
    tmtu = (unsigned)esp_inner_max(xf, mtu - IP4_HLEN - (udp ? UDP_HLEN : 0));
    /* the session's MTU; for IPv6 never below its minimum (RFC 8200 5: no sender
     * goes under 1280, so a smaller one would only drop) */
    if (sa->conf.mtu) {
        unsigned smtu = family == AF_INET6 && sa->conf.mtu < 1280 ? 1280 : sa->conf.mtu;
        if (smtu < tmtu)
            tmtu = smtu;
    }
    if (ilen > tmtu) {
        /* a hairpinned packet came from a client: no ICMP towards the inside */
        if (!hairpin && family == AF_INET && (rd16(ip + 6) & 0x4000))
            frag_needed(w, xs, pkt, ETH_HLEN + ilen, tmtu);
        else if (!hairpin && family == AF_INET6)
            packet_too_big(w, xs, pkt, ETH_HLEN + ilen, tmtu);
        return drop(w, xs, addr, DP_DROP_MTU);
    }
    room = DP_FRAME_SIZE - (size_t)((ip - (uint8_t *)w->area) & (DP_FRAME_SIZE - 1));
    if ((size_t)((ip - (uint8_t *)w->area) & (DP_FRAME_SIZE - 1)) < ETH_HLEN + IP4_HLEN + UDP_HLEN + ESP_HEAD_MAX ||
        room < ilen + ESP_TAIL_MAX)
        return drop(w, xs, addr, DP_DROP_MTU);
    live = sa->live;
    if (!life_take(sa, live, ilen))
        return drop(w, xs, addr, DP_DROP_EXPIRED);
    seq = atomic_fetch_add_explicit(&live->seq, 1, memory_order_relaxed) + 1;
    if (!sa->conf.esn && seq > UINT32_MAX)
        return drop(w, xs, addr, DP_DROP_OTHER); /* must rekey (RFC 4303 3.3.3) */
    if (family == AF_INET)
        ttl_dec4(ip);
    else
        ip[7]--;
    /* an inside host on veth (or in a container) leaves TCP/UDP checksums to an
     * offload that nothing does once XDP took the packet: complete them before
     * they are sealed; then the session's MSS (on the checksum made whole) */
    if (!hairpin)
        dp_inner_csum_complete(ip, ilen, family);
    if (sa->conf.tcp_mss)
        dp_inner_mss_clamp(ip, ilen, family, sa->conf.tcp_mss);
    uint8_t tos = family == AF_INET ? ip[1] : (uint8_t)((ip[0] & 15) << 4 | ip[1] >> 4);
    esplen = esp_seal(xf, sa->conf.spi, seq, family == AF_INET ? 4 : 41, ip, ilen);
    if (esplen < 0)
        return drop(w, xs, addr, DP_DROP_OTHER);
    live->ctr[w->id].packets++;
    live->ctr[w->id].bytes += ilen;
    dp->wctr[w->id].enc_packets++;
    dp->wctr[w->id].enc_bytes += ilen;
    esp = ip - esp_head_len(xf);
    o = esp;
    if (udp) {
        o -= UDP_HLEN;
        memcpy(o, &outer->local_port, 2);
        memcpy(o + 2, &outer->peer_port, 2);
        wr16(o + 4, UDP_HLEN + esplen);
        wr16(o + 6, 0); /* RFC 3948 2.1: zero checksum */
    }
    o -= IP4_HLEN;
    o[0] = 0x45;
    o[1] = tos; /* DSCP and ECN copied (RFC 6040 normal mode) */
    wr16(o + 2, IP4_HLEN + (udp ? UDP_HLEN : 0) + esplen);
    wr16(o + 4, w->ip_id++);
    wr16(o + 6, 0);
    o[8] = 64;
    o[9] = udp ? IPPROTO_UDP : IPPROTO_ESP_;
    wr16(o + 10, 0);
    memcpy(o + 12, &outer->local, 4);
    memcpy(o + 16, &outer->peer, 4);
    wr16(o + 10, csum(o, IP4_HLEN, 0));
    if (!out) {
        to_kernel(w, xs, addr, AF_INET, o, rd16(o + 2), (const uint8_t *)&outer->peer, sa->conf.vrf);
        return;
    }
    o -= ETH_HLEN;
    memcpy(o, nh.dst_mac, 6);
    memcpy(o + 6, nh.src_mac, 6);
    wr16(o + 12, ETH_P_IPV4);
    tx_stage(w, out, o, ETH_HLEN + rd16(o + ETH_HLEN + 2));
}

static inline void rx_one(struct dp_worker *w, struct dp_xs *xs, struct dp_if_ctr *c, bool outside, uint64_t addr,
                          uint32_t len)
{
    uint8_t *pkt = xsk_umem__get_data(w->area, addr);

    c->rx_packets++;
    c->rx_bytes += len;
    if (outside)
        from_outside(w, xs, addr, pkt, len);
    else
        from_inside(w, xs, addr, pkt, len, false);
}

void dp_fwd_one(struct dp_worker *w, struct dp_xs *xs, uint64_t addr, uint32_t len)
{
    rx_one(w, xs, ictr(w, xs), xs->ifc->conf.role == DP_ROLE_OUTSIDE, addr, len);
}

static unsigned rx_burst(struct dp_worker *w, struct dp_xs *xs)
{
    uint32_t idx, n = xsk_ring_cons__peek(&xs->rx, DP_BATCH, &idx);
    struct dp_if_ctr *c = ictr(w, xs);
    bool outside = xs->ifc->conf.role == DP_ROLE_OUTSIDE;

    for (uint32_t i = 0; i < n; i++) {
        const struct xdp_desc *d = xsk_ring_cons__rx_desc(&xs->rx, idx + i);

        /* the kernel wrote these packets, maybe on another core: start fetching
         * the whole next one while this one is processed (AES reads all of it) */
        if (i + 1 < n) {
            const struct xdp_desc *nd = xsk_ring_cons__rx_desc(&xs->rx, idx + i + 1);
            const uint8_t *np = xsk_umem__get_data(w->area, nd->addr);
            for (uint32_t o = 0; o < nd->len && o < 2048; o += 64)
                __builtin_prefetch(np + o, 1);
        }

        rx_one(w, xs, c, outside, d->addr, d->len);
    }
    if (n)
        xsk_ring_cons__release(&xs->rx, n);
    return n;
}

static void reclaim(struct dp_worker *w, struct dp_xs *xs)
{
    uint32_t idx, n;

    if (!xs->tx_outstanding)
        return;
    n = xsk_ring_cons__peek(&xs->cq, DP_RING, &idx);
    for (uint32_t i = 0; i < n; i++)
        dp_frame_put(w, *xsk_ring_cons__comp_addr(&xs->cq, idx + i));
    if (n) {
        xsk_ring_cons__release(&xs->cq, n);
        xs->tx_outstanding -= n;
    }
    /* copy-mode TX sends a limited number per kick: keep kicking while outstanding */
    if (xs->tx_outstanding && xsk_ring_prod__needs_wakeup(&xs->tx))
        sendto(xsk_socket__fd(xs->xsk), NULL, 0, MSG_DONTWAIT, NULL, 0);
}

static void refill(struct dp_worker *w, struct dp_xs *xs)
{
    /* each socket's fill ring holds at most its share of half the frames, so that
     * idle interfaces cannot take them all from a busy one */
    uint32_t cap = DP_FRAMES / (2 * (uint32_t)w->nxs), held, idx, n;

    if (cap > DP_RING)
        cap = DP_RING;
    held = DP_RING - xsk_prod_nb_free(&xs->fq, DP_RING);
    if (held >= cap)
        return;
    n = cap - held;
    /* keep a few frames for ICMP errors */
    if (n + 64 > w->nfree)
        n = w->nfree > 64 ? w->nfree - 64 : 0;
    if (!n || xsk_ring_prod__reserve(&xs->fq, n, &idx) != n)
        return;
    for (uint32_t i = 0; i < n; i++)
        *xsk_ring_prod__fill_addr(&xs->fq, idx + i) = w->free[--w->nfree];
    xsk_ring_prod__submit(&xs->fq, n);
    if (xsk_ring_prod__needs_wakeup(&xs->fq))
        recvfrom(xsk_socket__fd(xs->xsk), NULL, 0, MSG_DONTWAIT, NULL, NULL);
}

static uint64_t ts_ns(const struct timespec *ts)
{
    return (uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec;
}

/* Interface MTU and address, re-read about once a second (not per packet); @t is
 * the time of this round. */
static void links_refresh(struct dp_worker *w, uint64_t t)
{
    if (t - w->mtu_checked_ns < 1000000000u && w->mtu_checked_ns)
        return;
    w->mtu_checked_ns = t;
    for (size_t i = 0; i < w->nxs; i++) {
        struct dp_link l;
        if (dp_nl_link(w->dp->nl, w->xs[i].ifc->ifindex, &l))
            continue;
        w->xs[i].mtu = l.mtu ? l.mtu : 1500;
        w->xs[i].has_addr4 = l.has_addr4;
        w->xs[i].addr4 = l.addr4;
        w->xs[i].has_addr6 = l.has_addr6;
        w->xs[i].addr6 = l.addr6;
    }
}

void *dp_worker_main(void *arg)
{
    struct dp_worker *w = arg;
    struct dp *dp = w->dp;
    struct pollfd pfd[DP_MAX_IFACES];
    unsigned idle = 0;
    struct timespec last_busy = {0};
    cpu_set_t cpus;

    char name[16];

    snprintf(name, sizeof(name), "raven-dp-%u", w->id);
    pthread_setname_np(pthread_self(), name);
    CPU_ZERO(&cpus);
    CPU_SET(w->cpu, &cpus);
    pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus);
    for (size_t i = 0; i < w->nxs; i++) {
        pfd[i].fd = xsk_socket__fd(w->xs[i].xsk);
        pfd[i].events = POLLIN;
        w->xs[i].mtu = 1500;
    }
    rcu_register_thread();
    while (!atomic_load_explicit(&dp->stop, memory_order_relaxed)) {
        unsigned done = 0;
        bool pending = false;
        struct timespec t0, t1;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        links_refresh(w, ts_ns(&t0));
        for (size_t i = 0; i < w->nxs; i++) {
            reclaim(w, &w->xs[i]);
            refill(w, &w->xs[i]);
        }
        for (size_t i = 0; i < w->nxs; i++)
            done += rx_burst(w, &w->xs[i]);
        for (size_t i = 0; i < w->nxs; i++) {
            tx_flush(w, &w->xs[i]);
            if (w->xs[i].tx_outstanding) {
                pending = true;
                if (xsk_ring_prod__needs_wakeup(&w->xs[i].tx))
                    sendto(pfd[i].fd, NULL, 0, MSG_DONTWAIT, NULL, 0);
            }
        }
        rcu_quiescent_state();
        if (done) {
            clock_gettime(CLOCK_MONOTONIC, &t1);
            dp->wctr[w->id].busy_polls++;
            dp->wctr[w->id].busy_ns += ts_ns(&t1) - ts_ns(&t0);
        }
        if (done || pending) {
            idle = 0;
            if (done)
                last_busy = t1;
            continue;
        }
        if (++idle < IDLE_SPINS)
            continue;
        rcu_thread_offline();
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (ts_ns(&t0) - ts_ns(&last_busy) < COALESCE_NS) {
            struct timespec nap = {.tv_nsec = COALESCE_SLEEP_NS};
            nanosleep(&nap, NULL);
        } else {
            dp->wctr[w->id].idle_polls++;
            poll(pfd, w->nxs, 100);
        }
        rcu_thread_online();
    }
    rcu_unregister_thread();
    return NULL;
}
