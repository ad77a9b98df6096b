/* A dataplane worker: bursts of packets from its AF_XDP sockets, ESP decryption
 * towards the inside and encryption towards the clients (RFC 4303, RFC 3948; outer
 * IPv4 or IPv6; fragments reassembled and inner IPv4 fragmented: dp_frag.c), the
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
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "dataplane/dp_int.h"
#include "dataplane/dp_bytes.h"
#include "dataplane/dp_nl.h"

#define ETH_HLEN 14
#define IP4_HLEN 20
#define UDP_HLEN 8
#define ETH_P_IPV4 0x0800
#define ETH_P_IPV6 0x86dd
#define IPPROTO_ESP_ 50
#define NH_NONE 59 /* dummy packet (RFC 4303 2.6) */
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

    if (__builtin_expect(!sa->hard_bytes && !sa->hard_packets, 1))
        return true;
    if (atomic_load_explicit(&l->expired, memory_order_relaxed))
        return false;
    p = atomic_fetch_add_explicit(&l->life_packets, 1, memory_order_relaxed) + 1;
    b = atomic_fetch_add_explicit(&l->life_bytes, len, memory_order_relaxed) + len;
    if ((sa->hard_packets && p > sa->hard_packets) || (sa->hard_bytes && b > sa->hard_bytes)) {
        atomic_store_explicit(&l->expired, 1, memory_order_relaxed);
        return false;
    }
    /* this packet reaches the limit exactly: it passes, and the SA has expired
     * now (reported for deletion), not only when a next packet comes */
    if ((sa->hard_packets && p == sa->hard_packets) || (sa->hard_bytes && b == sa->hard_bytes))
        atomic_store_explicit(&l->expired, 1, memory_order_relaxed);
    return true;
}

/* The session's bandwidth limit in direction @d (0 inbound, 1 outbound):
 * false, counted on the session, when the packet of @len bytes is over it. */
static inline bool police_ok(struct dp_rsa *sa, int d, size_t len)
{
    struct dp_police *p = atomic_load_explicit(&sa->police, memory_order_acquire);
    struct timespec ts;

    if (!p || !atomic_load_explicit(&p->b[d].cost, memory_order_relaxed))
        return true;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (dp_bucket_take(&p->b[d], (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec, len))
        return true;
    atomic_fetch_add_explicit(&p->drop_packets[d], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->drop_bytes[d], len, memory_order_relaxed);
    return false;
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
        x = esp_xform_new(&sa->params, !sa->inbound);
        atomic_store_explicit(&sa->xf[w->id], x, memory_order_release);
    }
    return x;
}

void dp_tx_flush(struct dp_worker *w, struct dp_xs *xs)
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

void dp_tx_stage(struct dp_worker *w, struct dp_xs *xs, const uint8_t *start, uint32_t len)
{
    if (xs->ntx == sizeof(xs->txq) / sizeof(xs->txq[0]))
        dp_tx_flush(w, xs);
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
    dp_tx_stage(w, out, pkt, len + ETH_HLEN);
}

static void from_inside(struct dp_worker *w, struct dp_xs *xs, uint64_t addr, uint8_t *pkt, uint32_t len,
                        bool hairpin);

/* RFC 7296 2.23: an ESP-in-UDP packet that authenticated as the newest of its
 * SA (its sequence number the window's top now, so no replay) from another
 * outer address or port than the SA's peer is reported to the control thread
 * (dp_floated), which decides whether the session follows. The newest packet
 * decides: one from the peer again withdraws a report not yet taken. Compared
 * without a lock; the lock only when the address differs, or when a report
 * waits (rare). */
static void float_check(struct dp_rsa *sa, const uint8_t *ip, size_t ihl, uint8_t proto, uint64_t seq)
{
    const struct dp_outer *o = rcu_dereference(sa->outer);
    int family = ip[0] >> 4 == 6 ? AF_INET6 : AF_INET;
    const uint8_t *src = family == AF_INET ? ip + 12 : ip + 8;
    size_t alen = family == AF_INET ? 4 : 16;
    uint16_t sport;

    if (proto != IPPROTO_UDP || !o->udp_encap || !o->family)
        return;
    memcpy(&sport, ip + ihl, 2);
    if (family == o->family && !memcmp(src, o->peer, alen) && sport == o->peer_port) {
        if (atomic_load_explicit(&sa->floated, memory_order_relaxed)) {
            pthread_spin_lock(&sa->replay_lock);
            if (seq == sa->live->replay_top)
                atomic_store_explicit(&sa->floated, 0, memory_order_relaxed);
            pthread_spin_unlock(&sa->replay_lock);
        }
        return;
    }
    pthread_spin_lock(&sa->replay_lock);
    if (seq == sa->live->replay_top) {
        memset(sa->float_addr, 0, sizeof(sa->float_addr));
        memcpy(sa->float_addr, src, alen);
        sa->float_port = sport;
        sa->float_family = family;
        atomic_store_explicit(&sa->floated, 1, memory_order_relaxed);
    }
    pthread_spin_unlock(&sa->replay_lock);
}

static void from_outside(struct dp_worker *w, struct dp_xs *xs, uint64_t addr, uint8_t *pkt, uint32_t len);

enum outer_kind { OUTER_ESP, OUTER_IKE, OUTER_OTHER };

/* What a whole outer datagram @ip is: ESP, or ESP in UDP to a NAT traversal port
 * (a non-zero first word, RFC 3948 2.2), is the dataplane's; other UDP to an IKE
 * or NAT traversal port (dp_set_udp_ports) is IKE (or a keepalive), the IKE
 * socket's; anything else, other. */
static enum outer_kind outer_kind(const struct dp_ports *ports, const uint8_t *ip, size_t len, int family)
{
    enum dp_port_kind pk;
    uint8_t proto;
    size_t off;
    int up;

    if (family == AF_INET) {
        off = (ip[0] & 15) * 4u;
        proto = ip[9];
    } else {
        /* a fragment header left in a reassembled datagram (nested after
         * other headers) is not taken a second time */
        if ((up = dp_frag_ip6_upper(ip, len, &proto)) < 0 || proto == 44)
            return OUTER_OTHER;
        off = (size_t)up;
    }
    if (proto == IPPROTO_ESP_)
        return OUTER_ESP;
    if (proto != IPPROTO_UDP || off + UDP_HLEN > len ||
        (pk = dp_port_kind(ports, rd16(ip + off + 2))) == DP_PORT_OTHER)
        return OUTER_OTHER;
    if (pk == DP_PORT_NATT && off + UDP_HLEN + 8 <= len && rd16(ip + off + 4) >= UDP_HLEN + 8 &&
        rd32(ip + off + UDP_HLEN) != 0)
        return OUTER_ESP;
    return OUTER_IKE;
}

/* A fragment of ESP or of UDP to us (the XDP program sends all of them: only the
 * first carries the UDP ports): into the worker's reassembly; a datagram
 * completed goes on as if it had come whole, in this frame, when it is ESP; IKE
 * (fragmented by IP on an IKE or NAT traversal port) goes to the kernel, which delivers it to the
 * IKE socket. Other UDP is dropped: handed over, it would arrive through the
 * loopback interface, past firewall rules written for the outside one. */
static void reassemble(struct dp_worker *w, struct dp_xs *xs, uint64_t addr, uint8_t *pkt, int family, size_t tot)
{
    uint8_t *ip = pkt + ETH_HLEN;
    const uint8_t *d;
    size_t dlen, room;
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    switch (dp_frag_add(&w->frag, (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec, ip, tot, &d,
                        &dlen)) {
    case DP_FRAG_HELD:
        dp_frame_put(w, addr);
        return;
    case DP_FRAG_DONE:
        break;
    default:
        return drop(w, xs, addr, DP_DROP_FRAGMENT);
    }
    /* the worker is online (RCU read side) for the whole burst */
    switch (outer_kind(rcu_dereference(w->dp->ports), d, dlen, family)) {
    case OUTER_IKE:
        to_kernel(w, xs, addr, family, d, dlen, d + (family == AF_INET ? 16 : 24), 0);
        return;
    case OUTER_OTHER:
        return drop(w, xs, addr, DP_DROP_FRAGMENT);
    case OUTER_ESP:
        break;
    }
    /* the frame holds what ESP in one frame can be; a larger datagram could
     * only be decrypted to a packet no interface here sends whole */
    room = DP_FRAME_SIZE - (size_t)((ip - (uint8_t *)w->area) & (DP_FRAME_SIZE - 1));
    if (dlen + ESP_TAIL_MAX > room)
        return drop(w, xs, addr, DP_DROP_FRAGMENT);
    memcpy(ip, d, dlen);
    from_outside(w, xs, addr, pkt, (uint32_t)(ETH_HLEN + dlen));
}

static void in_flush(struct dp_worker *w);

/* ESP (or ESP in UDP) from a client, over IPv4 or IPv6: parsed, its SA found,
 * then queued for the burst's stages (in_flush); fragments go to reassembly
 * first. */
static void from_outside(struct dp_worker *w, struct dp_xs *xs, uint64_t addr, uint8_t *pkt, uint32_t len)
{
    uint8_t *ip = pkt + ETH_HLEN, *esp;
    size_t ihl, tot, esplen;
    struct dp_rsa *sa;
    struct esp_xform *xf;
    uint8_t proto;
    unsigned k;

    if (len >= ETH_HLEN + IP4_HLEN && rd16(pkt + 12) == ETH_P_IPV4 && ip[0] >> 4 == 4) {
        ihl = (ip[0] & 15) * 4u;
        tot = rd16(ip + 2);
        if (ihl < IP4_HLEN || tot < ihl || tot > len - ETH_HLEN)
            return drop(w, xs, addr, DP_DROP_MALFORMED);
        if (rd16(ip + 6) & 0x3fff)
            return reassemble(w, xs, addr, pkt, AF_INET, tot);
        proto = ip[9];
    } else if (len >= ETH_HLEN + 40 && rd16(pkt + 12) == ETH_P_IPV6 && ip[0] >> 4 == 6) {
        int up;

        tot = rd16(ip + 4) + 40u;
        if (tot > len - ETH_HLEN || (up = dp_frag_ip6_upper(ip, tot, &proto)) < 0)
            return drop(w, xs, addr, DP_DROP_MALFORMED);
        if (proto == 44)
            return reassemble(w, xs, addr, pkt, AF_INET6, tot);
        ihl = (size_t)up;
    } else {
        return drop(w, xs, addr, DP_DROP_MALFORMED);
    }
    if (proto == IPPROTO_ESP_) {
        esp = ip + ihl;
        esplen = tot - ihl;
    } else if (proto == IPPROTO_UDP && tot - ihl >= UDP_HLEN) {
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
    if (!(sa = dp_lookup_in(w->dp, rd32(esp))))
        return drop(w, xs, addr, DP_DROP_NO_SA);
    if (atomic_load_explicit(&sa->live->expired, memory_order_relaxed))
        return drop(w, xs, addr, DP_DROP_EXPIRED);
    if (!(xf = worker_xf(w, sa)))
        return drop(w, xs, addr, DP_DROP_OTHER);
    __builtin_prefetch(&sa->live->replay_top);
    if (w->nin == ESP_BURST_MAX)
        in_flush(w);
    k = w->nin++;
    w->in[k] = (struct dp_in_pkt){.xs = xs, .addr = addr, .ip = ip, .sa = sa, .ihl = (uint32_t)ihl, .proto = proto};
    w->in_job[k] = (struct esp_open_job){.x = xf, .esp = esp, .len = esplen};
}

void dp_replay_check_run(struct dp_rsa *sa, struct esp_open_job *jobs, unsigned n)
{
    struct dp_sa_live *l = sa->live;

    pthread_spin_lock(&sa->replay_lock);
    for (unsigned i = 0; i < n; i++)
        jobs[i].rc = esp_replay_check(&sa->replay, l->replay_top, l->replay_bits, rd32(jobs[i].esp + 4), &jobs[i].seq)
                         ? DP_RC_REPLAY
                         : ESP_OK;
    pthread_spin_unlock(&sa->replay_lock);
}

void dp_replay_update_run(struct dp_rsa *sa, struct esp_open_job *jobs, unsigned n)
{
    struct dp_sa_live *l = sa->live;

    pthread_spin_lock(&sa->replay_lock);
    for (unsigned i = 0; i < n; i++)
        if (jobs[i].rc == ESP_OK && esp_replay_update(&sa->replay, &l->replay_top, l->replay_bits, jobs[i].seq))
            jobs[i].rc = DP_RC_REPLAY;
    pthread_spin_unlock(&sa->replay_lock);
}

/* An inbound packet past the window update: the inner packet checked, charged,
 * counted and forwarded (or hairpinned to another client). */
static void in_finish(struct dp_worker *w, const struct dp_in_pkt *p, const struct esp_open_job *j)
{
    struct dp *dp = w->dp;
    struct dp_xs *xs = p->xs;
    uint64_t addr = p->addr;
    struct dp_rsa *sa = p->sa;
    struct dp_sa_live *live = sa->live;
    struct dp_sa_live_ctr *ctr = &live->ctr[w->id];
    uint8_t *inner = j->inner, nh = j->next_header;
    size_t ilen = j->inner_len;
    const uint8_t *src, *dst;
    int family;

    if (j->rc == ESP_E_AUTH) {
        ctr->auth++;
        return drop(w, xs, addr, DP_DROP_AUTH);
    }
    if (j->rc == DP_RC_REPLAY) {
        ctr->replay++;
        return drop(w, xs, addr, DP_DROP_REPLAY);
    }
    if (j->rc)
        return drop(w, xs, addr, j->rc == ESP_E_MALFORMED ? DP_DROP_MALFORMED : DP_DROP_OTHER);
    float_check(sa, p->ip, p->ihl, p->proto, j->seq);
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
    if (!police_ok(sa, 0, ilen))
        return drop(w, xs, addr, DP_DROP_POLICED);
    if (!life_take(sa, live, ilen))
        return drop(w, xs, addr, DP_DROP_EXPIRED);
    if (sa->tcp_mss)
        dp_inner_mss_clamp(inner, ilen, family, sa->tcp_mss);
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
    forward(w, xs, addr, family, inner, ilen, dst, sa->vrf);
}

/* The burst's inbound ESP packets in stages: the replay check (one hold of an
 * SA's lock per run of its packets), one call to the crypto backend for all
 * that passed, the window update (likewise), then each packet on its own. */
static void in_flush(struct dp_worker *w)
{
    struct dp_in_pkt *p = w->in;
    struct esp_open_job *j = w->in_job;
    unsigned n = w->nin, m = 0, e;

    w->nin = 0;
    for (unsigned i = 0; i < n; i = e) {
        for (e = i + 1; e < n && p[e].sa == p[i].sa; e++)
            ;
        dp_replay_check_run(p[i].sa, j + i, e - i);
    }
    for (unsigned i = 0; i < n; i++) {
        if (j[i].rc) {
            p[i].sa->live->ctr[w->id].replay++;
            drop(w, p[i].xs, p[i].addr, DP_DROP_REPLAY);
            continue;
        }
        if (m != i) {
            p[m] = p[i];
            j[m] = j[i];
        }
        m++;
    }
    if (!m)
        return;
    esp_open_burst(j, m);
    for (unsigned i = 0; i < m; i = e) {
        for (e = i + 1; e < m && p[e].sa == p[i].sa; e++)
            ;
        dp_replay_update_run(p[i].sa, j + i, e - i);
    }
    for (unsigned i = 0; i < m; i++)
        in_finish(w, &p[i], &j[i]);
}

/* The UDP checksum of ESP in UDP over IPv6: a zero one is refused there (RFC
 * 8200 8.1; RFC 6935's exception needs the receiver's consent). */
static void udp6_csum(uint8_t *ip6, uint8_t *udp, size_t ulen)
{
    uint16_t c;

    wr16(udp + 6, 0);
    c = csum(udp, ulen, csum_pseudo6(ip6, (uint32_t)ulen, IPPROTO_UDP));
    wr16(udp + 6, c ? c : 0xffff);
}

static void out_flush(struct dp_worker *w);

/* Queues the inner packet at ip[0..ilen) (in frame @addr, with the headroom of an
 * Ethernet, IPv6, UDP and ESP header before it) for sealing into @sa, with its
 * sequence number taken now, and sending on @out (towards the next hop @nh), or
 * through the kernel when @out is NULL: out_flush() seals the burst's packets in
 * one call to the crypto backend and sends them. */
static void seal_send(struct dp_worker *w, struct dp_xs *xs, uint64_t addr, struct dp_rsa *sa,
                      const struct dp_outer *outer, struct esp_xform *xf, struct dp_xs *out, const struct dp_nh *nh,
                      uint8_t *ip, size_t ilen, int family)
{
    struct dp_sa_live *live = sa->live;
    struct dp_out_pkt *p;
    uint64_t seq;
    unsigned k;

    if (!life_take(sa, live, ilen))
        return drop(w, xs, addr, DP_DROP_EXPIRED);
    seq = atomic_fetch_add_explicit(&live->seq, 1, memory_order_relaxed) + 1;
    if (!sa->esn && seq > UINT32_MAX)
        return drop(w, xs, addr, DP_DROP_OTHER); /* must rekey (RFC 4303 3.3.3) */
    if (w->nout == ESP_BURST_MAX)
        out_flush(w);
    k = w->nout++;
    p = &w->out[k];
    p->xs = xs;
    p->out = out;
    p->addr = addr;
    p->sa = sa;
    p->outer = outer;
    if (out) {
        memcpy(p->dst_mac, nh->dst_mac, 6);
        memcpy(p->src_mac, nh->src_mac, 6);
    }
    p->tos = family == AF_INET ? ip[1] : (uint8_t)((ip[0] & 15) << 4 | ip[1] >> 4);
    w->out_job[k] = (struct esp_seal_job){.x = xf, .spi = sa->spi, .seq = seq,
                                          .next_header = family == AF_INET ? 4 : 41, .inner = ip, .len = ilen};
}

/* A sealed packet: counted, its outer headers written, sent. */
static void seal_finish(struct dp_worker *w, const struct dp_out_pkt *p, const struct esp_seal_job *j)
{
    struct dp_xs *xs = p->xs;
    uint64_t addr = p->addr;
    const struct dp_outer *outer = p->outer;
    struct dp_sa_live *live = p->sa->live;
    bool udp = outer->udp_encap;
    uint8_t tos = p->tos, *o;
    size_t ilen = j->len, olen;

    if (j->rc < 0)
        return drop(w, xs, addr, DP_DROP_OTHER);
    live->ctr[w->id].packets++;
    live->ctr[w->id].bytes += ilen;
    w->dp->wctr[w->id].enc_packets++;
    w->dp->wctr[w->id].enc_bytes += ilen;
    o = j->inner - esp_head_len(j->x);
    olen = (size_t)j->rc;
    if (udp) {
        o -= UDP_HLEN;
        olen += UDP_HLEN;
        memcpy(o, &outer->local_port, 2);
        memcpy(o + 2, &outer->peer_port, 2);
        wr16(o + 4, (uint16_t)olen);
        wr16(o + 6, 0); /* RFC 3948 2.1: zero checksum (IPv4) */
    }
    if (outer->family == AF_INET) {
        o -= IP4_HLEN;
        olen += IP4_HLEN;
        o[0] = 0x45;
        o[1] = tos; /* DSCP and ECN copied (RFC 6040 normal mode) */
        wr16(o + 2, (uint16_t)olen);
        wr16(o + 4, w->ip_id++);
        wr16(o + 6, 0);
        o[8] = 64;
        o[9] = udp ? IPPROTO_UDP : IPPROTO_ESP_;
        wr16(o + 10, 0);
        memcpy(o + 12, outer->local, 4);
        memcpy(o + 16, outer->peer, 4);
        wr16(o + 10, csum(o, IP4_HLEN, 0));
    } else {
        o -= 40;
        o[0] = (uint8_t)(0x60 | tos >> 4);
        o[1] = (uint8_t)(tos << 4);
        o[2] = o[3] = 0;
        wr16(o + 4, (uint16_t)olen);
        o[6] = udp ? IPPROTO_UDP : IPPROTO_ESP_;
        o[7] = 64;
        memcpy(o + 8, outer->local, 16);
        memcpy(o + 24, outer->peer, 16);
        if (udp)
            udp6_csum(o, o + 40, olen);
        olen += 40;
    }
    if (!p->out) {
        to_kernel(w, xs, addr, outer->family, o, olen, outer->peer, p->sa->vrf);
        return;
    }
    o -= ETH_HLEN;
    memcpy(o, p->dst_mac, 6);
    memcpy(o + 6, p->src_mac, 6);
    wr16(o + 12, outer->family == AF_INET ? ETH_P_IPV4 : ETH_P_IPV6);
    dp_tx_stage(w, p->out, o, (uint32_t)(ETH_HLEN + olen));
}

/* The burst's outbound packets: sealed in one call, then sent. */
static void out_flush(struct dp_worker *w)
{
    unsigned n = w->nout;

    w->nout = 0;
    if (!n)
        return;
    esp_seal_burst(w->out_job, n);
    for (unsigned i = 0; i < n; i++)
        seal_finish(w, &w->out[i], &w->out_job[i]);
}

/* An inner IPv4 packet without DF larger than the tunnel's MTU @tmtu is split
 * into fragments that fit before each is sealed (RFC 4459 3: fragmenting the
 * inner packet leaves the reassembly to the client, not to a middle box and
 * not to the headend's peer stack twice). The pieces after the first get frames
 * of their own; the first stays in the packet's frame. */
static void split_send(struct dp_worker *w, struct dp_xs *xs, uint64_t addr, struct dp_rsa *sa,
                       const struct dp_outer *outer, struct esp_xform *xf, struct dp_xs *out, const struct dp_nh *nh,
                       uint8_t *ip, size_t ilen, unsigned tmtu, size_t n)
{
    size_t plen;
    uint64_t fa[DP_FRAG4_MAX_PIECES];

    /* the pool keeps its reserve for ICMP errors (refill()) */
    if (!n || n > DP_FRAG4_MAX_PIECES || n - 1 + 64 > w->nfree)
        return drop(w, xs, addr, DP_DROP_MTU);
    for (size_t k = 1; k < n; k++) {
        fa[k] = w->free[--w->nfree];
        dp_frag4_piece(ip, ilen, tmtu, k, (uint8_t *)w->area + fa[k] + 256);
    }
    plen = dp_frag4_piece(ip, ilen, tmtu, 0, ip); /* last: the others read its payload */
    w->dp->wctr[w->id].inner_fragmented++;
    w->dp->wctr[w->id].inner_fragments += n;
    seal_send(w, xs, addr, sa, outer, xf, out, nh, ip, plen, AF_INET);
    for (size_t k = 1; k < n; k++) {
        uint8_t *p = (uint8_t *)w->area + fa[k] + 256;
        seal_send(w, xs, fa[k], sa, outer, xf, out, nh, p, rd16(p + 2), AF_INET);
    }
}

/* Clear traffic from the inside to a client: encrypt and send to the client. */
static void from_inside(struct dp_worker *w, struct dp_xs *xs, uint64_t addr, uint8_t *pkt, uint32_t len,
                        bool hairpin)
{
    struct dp *dp = w->dp;
    uint8_t *ip = pkt + ETH_HLEN;
    size_t ilen, room, head;
    int family;
    const uint8_t *dst;
    struct dp_rsa *sa;
    struct dp_outer *outer;
    struct esp_xform *xf;
    struct dp_xs *out = NULL, *mtu_of;
    struct dp_nh nh;
    unsigned mtu, tmtu;
    size_t split = 0; /* the pieces of an inner IPv4 packet to fragment */

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
    if (!outer->family)
        return drop(w, xs, addr, DP_DROP_NO_ROUTE);
    if ((family == AF_INET && ip[8] <= 1) || (family == AF_INET6 && ip[7] <= 1))
        return drop(w, xs, addr, DP_DROP_NO_ROUTE);
    if (!(xf = worker_xf(w, sa)))
        return drop(w, xs, addr, DP_DROP_OTHER);
    if (!next_hop(w, outer->family, outer->peer, sa->vrf, &nh))
        out = xs_for(w, nh.ifindex);
    /* the egress MTU; the first outside interface's while the next hop is unknown */
    mtu_of = out ? out : first_outside(w);
    mtu = mtu_of ? mtu_of->mtu : 1500;
    tmtu = (unsigned)esp_inner_max(xf, mtu - (outer->family == AF_INET ? IP4_HLEN : 40) -
                                           (outer->udp_encap ? UDP_HLEN : 0));
    /* the session's MTU; for IPv6 never below its minimum (RFC 8200 5: no sender
     * goes under 1280, so a smaller one would only drop) */
    if (sa->mtu) {
        unsigned smtu = family == AF_INET6 && sa->mtu < 1280 ? 1280 : sa->mtu;
        if (smtu < tmtu)
            tmtu = smtu;
    }
    if (ilen > tmtu) {
        /* IPv4 without DF is fragmented (RFC 4459); with DF, and IPv6, the sender
         * is told; a hairpinned packet came from a client: no ICMP towards the inside */
        if (family == AF_INET && !(rd16(ip + 6) & 0x4000))
            split = dp_frag4_count(ip, ilen, tmtu);
        else if (!hairpin && family == AF_INET)
            dp_icmp_frag_needed(w, xs, pkt, ETH_HLEN + ilen, tmtu);
        else if (!hairpin && family == AF_INET6)
            dp_icmp_too_big(w, xs, pkt, ETH_HLEN + ilen, tmtu);
        if (!split)
            return drop(w, xs, addr, DP_DROP_MTU);
    }
    head = (size_t)((ip - (uint8_t *)w->area) & (DP_FRAME_SIZE - 1));
    room = DP_FRAME_SIZE - head;
    if (head < ETH_HLEN + (outer->family == AF_INET ? IP4_HLEN : 40u) + UDP_HLEN + ESP_HEAD_MAX ||
        room < ilen + ESP_TAIL_MAX)
        return drop(w, xs, addr, DP_DROP_MTU);
    if (!police_ok(sa, 1, ilen))
        return drop(w, xs, addr, DP_DROP_POLICED);
    if (family == AF_INET)
        ttl_dec4(ip);
    else
        ip[7]--;
    /* an inside host on veth (or in a container) leaves TCP/UDP checksums to an
     * offload that nothing does once XDP took the packet: complete them before
     * they are sealed; then the session's MSS (on the checksum made whole) */
    if (!hairpin)
        dp_inner_csum_complete(ip, ilen, family);
    if (sa->tcp_mss)
        dp_inner_mss_clamp(ip, ilen, family, sa->tcp_mss);
    if (split)
        split_send(w, xs, addr, sa, outer, xf, out, &nh, ip, ilen, tmtu, split);
    else
        seal_send(w, xs, addr, sa, outer, xf, out, &nh, ip, ilen, family);
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
    in_flush(w);
    out_flush(w);
}

unsigned dp_rx_burst(struct dp_worker *w, struct dp_xs *xs)
{
    uint32_t idx, n = xsk_ring_cons__peek(&xs->rx, DP_BATCH, &idx);
    struct dp_if_ctr *c = ictr(w, xs);
    bool outside = xs->ifc->conf.role == DP_ROLE_OUTSIDE;

    for (uint32_t i = 0; i < n; i++) {
        const struct xdp_desc *d = xsk_ring_cons__rx_desc(&xs->rx, idx + i);

        /* the kernel wrote these packets, maybe on another core: start fetching
         * the whole next one while this one is processed (AES reads all of it).
         * Inside, also the line before it: the frame's headroom, last written
         * when the frame was sent long ago, where the ESP header (across the
         * line's end, behind the inner packet's Ethernet header) and the outer
         * headers go, so that their first writes do not wait for it */
        if (i + 1 < n) {
            const struct xdp_desc *nd = xsk_ring_cons__rx_desc(&xs->rx, idx + i + 1);
            const uint8_t *np = xsk_umem__get_data(w->area, nd->addr);
            if (!outside)
                __builtin_prefetch(np - 64, 1);
            for (uint32_t o = 0; o < nd->len && o < 2048; o += 64)
                __builtin_prefetch(np + o, 1);
        }

        rx_one(w, xs, c, outside, d->addr, d->len);
    }
    /* decrypted packets to other clients join the outbound burst */
    in_flush(w);
    out_flush(w);
    if (n)
        xsk_ring_cons__release(&xs->rx, n);
    return n;
}
