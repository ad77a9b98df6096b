/* The dataplane's view of the kernel (see dp_nl.h): one thread owns two rtnetlink
 * sockets (multicast events, and requests: dumps and route queries), a private
 * copy of the kernel's neighbour table and the interfaces' data; it resolves the
 * destinations workers ask for and is the only writer of the next-hop cache
 * (dp_nl_cache.c, states in dp_nl_int.h). */

#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "daemon/base/log.h"
#include "daemon/base/monotime.h"
#include "dataplane/dp_nl_int.h"

#include "daemon/base/poison.h"

/* Routes to IPv6 link-local or multicast destinations (a link coming up gets its
 * fe80:: address and their routes a moment later) change no lookup the
 * dataplane makes: its destinations are clients' and inside hosts' global
 * addresses. Everything else flushes the cache. */
static bool route_event_matters(const struct nlmsghdr *m)
{
    const struct rtmsg *rtm = mnl_nlmsg_get_payload(m);
    const struct nlattr *a;

    if (m->nlmsg_len < NLMSG_LENGTH(sizeof(*rtm)) || rtm->rtm_family != AF_INET6)
        return true;
    mnl_attr_for_each(a, m, sizeof(*rtm)) {
        const uint8_t *d;
        if (mnl_attr_get_type(a) != RTA_DST || mnl_attr_get_payload_len(a) < 16)
            continue;
        d = mnl_attr_get_payload(a);
        if (d[0] == 0xff || (d[0] == 0xfe && (d[1] & 0xc0) == 0x80))
            return rtm->rtm_dst_len < 8; /* only a route as wide as all of them matters */
    }
    return true;
}

/* --- netlink I/O ---------------------------------------------------------------- */

typedef void (*nl_msg_cb)(struct dp_nl *nl, const struct nlmsghdr *m, void *data);

struct nl_attrs {
    const struct nlattr **tb;
    unsigned max;
};

static int attr_cb(const struct nlattr *a, void *data)
{
    struct nl_attrs *t = data;
    unsigned type = mnl_attr_get_type(a);

    if (type <= t->max)
        t->tb[type] = a;
    return MNL_CB_OK;
}

/* Attributes of @m after its family header of @hdr bytes, by type; false when the
 * message is too short or malformed. */
static bool attrs_parse(const struct nlmsghdr *m, size_t hdr, const struct nlattr **tb, unsigned max)
{
    struct nl_attrs t = {.tb = tb, .max = max};

    memset(tb, 0, (max + 1) * sizeof(*tb));
    if (mnl_nlmsg_get_payload_len(m) < hdr)
        return false;
    return mnl_attr_parse(m, (unsigned)hdr, attr_cb, &t) >= 0;
}

static bool attr_addr(const struct nlattr *a, int family, uint8_t out[16])
{
    size_t len = addr_len(family);

    if (!a || !len || mnl_attr_get_payload_len(a) != len)
        return false;
    memset(out, 0, 16);
    memcpy(out, mnl_attr_get_payload(a), len);
    return true;
}

static bool attr_u32(const struct nlattr *a, uint32_t *out)
{
    if (!a || mnl_attr_get_payload_len(a) != sizeof(uint32_t))
        return false;
    *out = mnl_attr_get_u32(a);
    return true;
}

/* Sends @nlh on the request socket and hands each message of the answer to @cb.
 * Returns 0 when the answer is complete, with the kernel's -errno in *kerr (0 if
 * it reported none); -EINTR when a dump was interrupted by a change (run it
 * again); another -errno when the socket failed or timed out. */
static int nl_transact(struct dp_nl *nl, struct nlmsghdr *nlh, nl_msg_cb cb, void *data, int *kerr)
{
    bool dump = nlh->nlmsg_flags & NLM_F_DUMP, intr = false;
    uint32_t seq = ++nl->seq;

    *kerr = 0;
    nlh->nlmsg_seq = seq;
    if (mnl_socket_sendto(nl->req, nlh, nlh->nlmsg_len) < 0)
        return -errno;
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(nl->req, nl->reqbuf, NL_BUF_SIZE);
        int len;

        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
        len = (int)n;
        for (const struct nlmsghdr *m = (const struct nlmsghdr *)nl->reqbuf; mnl_nlmsg_ok(m, len);
             m = mnl_nlmsg_next(m, &len)) {
            if (m->nlmsg_seq != seq || m->nlmsg_pid != nl->req_portid)
                continue; /* the rest of an answer that timed out earlier */
            if (m->nlmsg_flags & NLM_F_DUMP_INTR)
                intr = true;
            if (m->nlmsg_type == NLMSG_DONE) {
                if (mnl_nlmsg_get_payload_len(m) >= sizeof(int))
                    memcpy(kerr, mnl_nlmsg_get_payload(m), sizeof(int));
                return intr ? -EINTR : 0;
            }
            if (m->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *err = mnl_nlmsg_get_payload(m);

                if (mnl_nlmsg_get_payload_len(m) < sizeof(*err))
                    return -EBADMSG;
                *kerr = err->error;
                return 0;
            }
            if (m->nlmsg_type < NLMSG_MIN_TYPE)
                continue;
            cb(nl, m, data);
            if (!dump)
                return 0;
        }
    }
}

/* --- links and addresses ------------------------------------------------------------ */

struct addr_note {
    int ifindex, family;
    uint8_t addr[16];
    bool added;
    struct addr_note *next;
};

static void notes_call(struct dp_nl *nl, struct addr_note *notes)
{
    /* Outside the link lock (a hook may call dp_nl_link) and offline (a hook may
     * wait for a thread that waits for a grace period). */
    bool offline = notes && nl->live;

    if (offline)
        rcu_thread_offline();
    while (notes) {
        struct addr_note *next = notes->next;

        if (nl->hooks.addr)
            nl->hooks.addr(nl->hooks.arg, notes->ifindex, notes->family, notes->addr, notes->added);
        free(notes);
        notes = next;
    }
    if (offline)
        rcu_thread_online();
}

static void note_add(struct addr_note **notes, int ifindex, const struct nl_addr *a, bool added)
{
    struct addr_note *n = calloc(1, sizeof(*n)), **tail = notes;

    if (!n)
        return; /* the hook misses one call rather than the daemon stopping */
    n->ifindex = ifindex;
    n->family = a->family;
    memcpy(n->addr, a->addr, sizeof(n->addr));
    n->added = added;
    while (*tail)
        tail = &(*tail)->next;
    *tail = n;
}

/* Link lock held. */
static void link_first_addrs(struct nl_link *l)
{
    l->pub.has_addr4 = l->pub.has_addr6 = false;
    memset(&l->pub.addr4, 0, sizeof(l->pub.addr4));
    memset(&l->pub.addr6, 0, sizeof(l->pub.addr6));
    for (const struct nl_addr *a = l->addrs; a; a = a->next) {
        if (a->family == AF_INET && !l->pub.has_addr4) {
            memcpy(&l->pub.addr4, a->addr, 4);
            l->pub.has_addr4 = true;
        } else if (a->family == AF_INET6 && a->scope == RT_SCOPE_UNIVERSE && !l->pub.has_addr6) {
            memcpy(&l->pub.addr6, a->addr, 16);
            l->pub.has_addr6 = true;
        }
    }
}

/* Link lock held. */
static struct nl_link *link_get(struct dp_nl *nl, int ifindex, bool create)
{
    struct nl_link *l;

    HASH_FIND_INT(nl->links, &ifindex, l);
    if (l || !create)
        return l;
    l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->ifindex = ifindex;
    l->pub.ifindex = ifindex;
    HASH_ADD_INT(nl->links, ifindex, l);
    return l;
}

/* Link lock held: removes @l, noting its addresses' removal. */
static void link_drop(struct dp_nl *nl, struct nl_link *l, struct addr_note **notes)
{
    while (l->addrs) {
        struct nl_addr *a = l->addrs;

        l->addrs = a->next;
        note_add(notes, l->ifindex, a, false);
        free(a);
    }
    if (l->known)
        nl->flush_pending = true;
    HASH_DEL(nl->links, l);
    free(l);
}

static void link_msg(struct dp_nl *nl, const struct nlmsghdr *m, bool del)
{
    const struct nlattr *tb[IFLA_MAX + 1];
    const struct ifinfomsg *ifi;
    struct addr_note *notes = NULL;
    struct nl_link *l;
    const struct nlattr *mac;
    uint32_t mtu = 0;
    size_t mac_len;

    if (!attrs_parse(m, sizeof(*ifi), tb, IFLA_MAX))
        return;
    ifi = mnl_nlmsg_get_payload(m);
    if (ifi->ifi_family != AF_UNSPEC || ifi->ifi_index <= 0)
        return; /* AF_BRIDGE: a port joining or leaving a bridge, not the interface itself */
    mac = tb[IFLA_ADDRESS];
    mac_len = mac ? mnl_attr_get_payload_len(mac) : 0;
    pthread_mutex_lock(&nl->link_lock);
    l = link_get(nl, ifi->ifi_index, !del);
    if (!l)
        goto out;
    if (del) {
        link_drop(nl, l, &notes);
        goto out;
    }
    /* Next hops carry the interface's MAC; a link going down or losing carrier
     * loses its neighbours and (IPv4) its routes without always telling us. */
    if (l->known && (mac_len != l->mac_len || (mac_len == 6 && memcmp(l->pub.mac, mnl_attr_get_payload(mac), 6)) ||
                     ((l->flags ^ ifi->ifi_flags) & (IFF_UP | IFF_LOWER_UP | IFF_RUNNING))))
        nl->flush_pending = true;
    l->known = true;
    l->seen = true;
    l->flags = ifi->ifi_flags;
    l->mac_len = (uint8_t)(mac_len > 255 ? 255 : mac_len);
    if (mac_len == 6)
        memcpy(l->pub.mac, mnl_attr_get_payload(mac), 6);
    else
        memset(l->pub.mac, 0, sizeof(l->pub.mac));
    if (attr_u32(tb[IFLA_MTU], &mtu))
        l->pub.mtu = mtu;
out:
    pthread_mutex_unlock(&nl->link_lock);
    notes_call(nl, notes);
}

static void addr_msg(struct dp_nl *nl, const struct nlmsghdr *m, bool del)
{
    const struct nlattr *tb[IFA_MAX + 1];
    const struct ifaddrmsg *ifa;
    struct addr_note *notes = NULL;
    struct nl_addr *a, **pa;
    struct nl_link *l;
    uint8_t addr[16];

    if (!attrs_parse(m, sizeof(*ifa), tb, IFA_MAX))
        return;
    ifa = mnl_nlmsg_get_payload(m);
    if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
        return;
    /* IFA_LOCAL is ours; IFA_ADDRESS is the peer's on point-to-point links. */
    if (!attr_addr(tb[IFA_LOCAL], ifa->ifa_family, addr) && !attr_addr(tb[IFA_ADDRESS], ifa->ifa_family, addr))
        return;
    pthread_mutex_lock(&nl->link_lock);
    l = link_get(nl, (int)ifa->ifa_index, !del);
    if (!l)
        goto out;
    for (pa = &l->addrs; *pa; pa = &(*pa)->next)
        if ((*pa)->family == ifa->ifa_family && !memcmp((*pa)->addr, addr, sizeof(addr)))
            break;
    a = *pa;
    if (del) {
        if (a) {
            *pa = a->next;
            note_add(&notes, l->ifindex, a, false);
            free(a);
        }
    } else if (a) {
        a->seen = true; /* the kernel repeats addresses on flag and lifetime changes */
        a->scope = ifa->ifa_scope;
    } else if ((a = calloc(1, sizeof(*a)))) {
        a->family = ifa->ifa_family;
        a->scope = ifa->ifa_scope;
        memcpy(a->addr, addr, sizeof(addr));
        a->seen = true;
        *pa = a;
        note_add(&notes, l->ifindex, a, true);
    }
    link_first_addrs(l);
out:
    pthread_mutex_unlock(&nl->link_lock);
    notes_call(nl, notes);
}

/* --- neighbours --------------------------------------------------------------------- */

static void neigh_set(struct dp_nl *nl, const struct nl_nkey *k, int state, const uint8_t *mac)
{
    struct nl_neigh *n;
    bool was_usable, moved;
    uint8_t old_mac[6];

    HASH_FIND(hh, nl->neighs, k, sizeof(*k), n);
    was_usable = neigh_usable(n);
    if (n)
        memcpy(old_mac, n->mac, sizeof(old_mac));
    if (state < 0) {
        if (!n)
            return;
        HASH_DEL(nl->neighs, n);
        free(n);
        n = NULL;
    } else {
        if (!n) {
            n = calloc(1, sizeof(*n));
            if (!n)
                return;
            n->key = *k;
            HASH_ADD(hh, nl->neighs, key, sizeof(n->key), n);
        }
        n->state = (uint16_t)state;
        n->has_mac = mac != NULL;
        if (mac)
            memcpy(n->mac, mac, sizeof(n->mac));
        n->seen = true;
    }
    /* REACHABLE <-> STALE churn changes nothing the cache holds: walk it only when
     * usability or the MAC changes (no entry waits for a neighbour that was usable). */
    moved = neigh_usable(n) && was_usable && memcmp(old_mac, n->mac, sizeof(old_mac));
    if (was_usable != neigh_usable(n) || moved)
        nh_neigh_changed(nl, k, n);
}

static void neigh_msg(struct dp_nl *nl, const struct nlmsghdr *m, bool del)
{
    const struct nlattr *tb[NDA_MAX + 1];
    const struct ndmsg *nd;
    struct nl_nkey k;
    const struct nlattr *ll;

    if (!attrs_parse(m, sizeof(*nd), tb, NDA_MAX))
        return;
    nd = mnl_nlmsg_get_payload(m);
    if ((nd->ndm_family != AF_INET && nd->ndm_family != AF_INET6) || (nd->ndm_flags & NTF_PROXY))
        return;
    memset(&k, 0, sizeof(k));
    k.ifindex = nd->ndm_ifindex;
    k.family = nd->ndm_family;
    if (!attr_addr(tb[NDA_DST], nd->ndm_family, k.addr))
        return;
    ll = tb[NDA_LLADDR];
    if (ll && mnl_attr_get_payload_len(ll) != 6)
        ll = NULL; /* not Ethernet: nothing the dataplane can write */
    neigh_set(nl, &k, del ? -1 : nd->ndm_state, ll ? mnl_attr_get_payload(ll) : NULL);
}

/* --- dumps --------------------------------------------------------------------------- */

static void dump_cb(struct dp_nl *nl, const struct nlmsghdr *m, void *data)
{
    switch (m->nlmsg_type) {
    case RTM_NEWLINK:
        link_msg(nl, m, false);
        break;
    case RTM_NEWADDR:
        addr_msg(nl, m, false);
        break;
    case RTM_NEWNEIGH:
        neigh_msg(nl, m, false);
        break;
    default:
        break;
    }
}

static int nl_dump_one(struct dp_nl *nl, uint16_t type, size_t hdr)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh;
    int err = -EINTR, kerr = 0;

    /* A dump interrupted by a change is complete but may be inconsistent: run it
     * again (events for the change follow anyway). */
    for (int tries = 0; tries < 5 && err == -EINTR; tries++) {
        nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        mnl_nlmsg_put_extra_header(nlh, hdr); /* zeroed: AF_UNSPEC, every interface */
        if (type == RTM_GETLINK)
            mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
        err = nl_transact(nl, nlh, dump_cb, NULL, &kerr);
    }
    if (err == -EINTR)
        err = 0;
    return err ? err : kerr;
}

/* Loads links, addresses and neighbours, and forgets those the kernel no longer
 * has (mark and sweep): at start, and after events were lost. */
static int nl_dump_all(struct dp_nl *nl)
{
    struct addr_note *notes = NULL;
    struct nl_link *l, *ltmp;
    struct nl_neigh *n, *ntmp;
    int err;

    pthread_mutex_lock(&nl->link_lock);
    HASH_ITER(hh, nl->links, l, ltmp) {
        l->seen = false;
        for (struct nl_addr *a = l->addrs; a; a = a->next)
            a->seen = false;
    }
    pthread_mutex_unlock(&nl->link_lock);
    HASH_ITER(hh, nl->neighs, n, ntmp)
        n->seen = false;

    err = nl_dump_one(nl, RTM_GETLINK, sizeof(struct ifinfomsg));
    if (!err)
        err = nl_dump_one(nl, RTM_GETADDR, sizeof(struct ifaddrmsg));
    if (!err)
        err = nl_dump_one(nl, RTM_GETNEIGH, sizeof(struct ndmsg));
    if (err)
        return err; /* keep what we have rather than forget everything */

    pthread_mutex_lock(&nl->link_lock);
    HASH_ITER(hh, nl->links, l, ltmp) {
        if (!l->seen) {
            link_drop(nl, l, &notes);
            continue;
        }
        for (struct nl_addr **pa = &l->addrs; *pa;) {
            struct nl_addr *a = *pa;

            if (a->seen) {
                pa = &a->next;
                continue;
            }
            *pa = a->next;
            note_add(&notes, l->ifindex, a, false);
            free(a);
        }
        link_first_addrs(l);
    }
    pthread_mutex_unlock(&nl->link_lock);
    notes_call(nl, notes);
    HASH_ITER(hh, nl->neighs, n, ntmp) {
        if (!n->seen) {
            struct nl_nkey k = n->key; /* neigh_set frees n */

            neigh_set(nl, &k, -1, NULL);
        }
    }
    return 0;
}

/* --- resolution ----------------------------------------------------------------------- */

static void route_cb(struct dp_nl *nl, const struct nlmsghdr *m, void *data)
{
    const struct nlattr *tb[RTA_MAX + 1];
    struct nl_route *r = data;
    const struct rtmsg *rtm;
    uint32_t oif;

    if (m->nlmsg_type != RTM_NEWROUTE || !attrs_parse(m, sizeof(*rtm), tb, RTA_MAX))
        return;
    rtm = mnl_nlmsg_get_payload(m);
    r->ok = true;
    r->type = rtm->rtm_type;
    if (attr_u32(tb[RTA_OIF], &oif))
        r->oif = (int)oif;
    if (attr_addr(tb[RTA_GATEWAY], rtm->rtm_family, r->gw)) {
        r->has_gw = true;
        r->gw_family = rtm->rtm_family;
    } else if (tb[RTA_VIA] && mnl_attr_get_payload_len(tb[RTA_VIA]) >= sizeof(struct rtvia)) {
        /* An IPv4 route via an IPv6 gateway (RFC 5549): the neighbour is IPv6. */
        const struct rtvia *via = mnl_attr_get_payload(tb[RTA_VIA]);
        size_t len = addr_len(via->rtvia_family);

        if (len && mnl_attr_get_payload_len(tb[RTA_VIA]) == sizeof(*via) + len) {
            memcpy(r->gw, via->rtvia_addr, len);
            r->has_gw = true;
            r->gw_family = via->rtvia_family;
        }
    }
}

/* 0 and @r for a usable unicast route; -ENETUNREACH when the kernel has none we may
 * use; another -errno when the question failed (ask again later). */
static int nl_route_get(struct dp_nl *nl, const struct nh_key *key, struct nl_route *r)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    struct rtmsg *rtm;
    size_t len = addr_len((int)key->family);
    int err, kerr;

    memset(r, 0, sizeof(*r));
    nlh->nlmsg_type = RTM_GETROUTE;
    nlh->nlmsg_flags = NLM_F_REQUEST;
    rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
    rtm->rtm_family = (unsigned char)key->family;
    rtm->rtm_dst_len = (unsigned char)(len * 8);
    mnl_attr_put(nlh, RTA_DST, len, key->addr);
    if (key->vrf > 0) /* a lookup out of the VRF device uses its table (l3mdev), as "ip route get vrf" */
        mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)key->vrf);
    err = nl_transact(nl, nlh, route_cb, r, &kerr);
    if (err) {
        log_warn("dataplane", "route query on netlink failed: %s", strerror(-err));
        return err;
    }
    switch (-kerr) {
    case 0:
        break;
    case ENOMEM:
    case ENOBUFS:
    case EBUSY:
    case EINTR:
        return kerr;
    default:
        /* ENETUNREACH (no route), EHOSTUNREACH (unreachable), EACCES (prohibit),
         * EINVAL (blackhole), EAGAIN (throw), ... */
        return -ENETUNREACH;
    }
    if (!r->ok)
        return -EBADMSG;
    /* RTN_LOCAL: never forward to our own addresses; broadcast, multicast and the
     * rest are not next hops either. */
    if (r->type != RTN_UNICAST || r->oif <= 0)
        return -ENETUNREACH;
    return 0;
}

/* Asks the kernel about @e's destination and publishes what it says. */
static void nh_resolve(struct dp_nl *nl, struct nh_entry *e)
{
    struct dp_nh nh = {0};
    struct nl_route r;
    struct nl_nkey k;
    struct nl_link *l;
    struct nl_neigh *n;
    bool has_mac = false;
    int err;

    e->last_try = nl->now;
    err = nl_route_get(nl, &e->key, &r);
    if (err == -ENETUNREACH) {
        if (e->state != NH_UNREACHABLE)
            nh_publish(nl, e, NH_UNREACHABLE, NULL, NULL);
        return;
    }
    if (err)
        return; /* the timer asks again */
    nh.ifindex = r.oif;
    pthread_mutex_lock(&nl->link_lock);
    l = link_get(nl, r.oif, false);
    if (l && l->known && l->mac_len == 6) {
        memcpy(nh.src_mac, l->pub.mac, 6);
        has_mac = true;
    }
    pthread_mutex_unlock(&nl->link_lock);
    if (!has_mac) {
        /* Not an Ethernet interface (or not known yet): the kernel forwards these. */
        if (e->state != NH_PENDING)
            nh_publish(nl, e, NH_PENDING, NULL, NULL);
        else
            e->has_dep = false;
        return;
    }
    memset(&k, 0, sizeof(k));
    k.ifindex = r.oif;
    if (r.has_gw) {
        k.family = r.gw_family;
        memcpy(k.addr, r.gw, sizeof(k.addr));
    } else {
        k.family = e->key.family;
        memcpy(k.addr, e->key.addr, sizeof(k.addr));
    }
    HASH_FIND(hh, nl->neighs, &k, sizeof(k), n);
    if (neigh_usable(n)) {
        memcpy(nh.dst_mac, n->mac, 6);
        if (e->state != NH_RESOLVED || memcmp(&e->nh, &nh, sizeof(nh)) || memcmp(&e->dep, &k, sizeof(k)))
            nh_publish(nl, e, NH_RESOLVED, &nh, &k);
        return;
    }
    /* Wait for the neighbour: the worker hands its packets to the kernel, which
     * resolves it, and its RTM_NEWNEIGH resolves this entry. */
    if (e->state != NH_PENDING) {
        nh_publish(nl, e, NH_PENDING, &nh, &k);
    } else {
        e->nh = nh;
        e->dep = k;
        e->has_dep = true;
    }
}

static void nl_drain_queue(struct dp_nl *nl, bool resolve)
{
    struct cds_wfcq_node *qn;

    for (int i = 0; !resolve || i < NL_QUEUE_BATCH; i++) {
        struct nh_entry *e;

        qn = __cds_wfcq_dequeue_blocking(&nl->qhead, &nl->qtail);
        if (!qn)
            return;
        e = caa_container_of(qn, struct nh_entry, qnode);
        e->in_queue = false;
        if (e->removed) {
            call_rcu(&e->rcu, nh_free_rcu);
            continue;
        }
        e->since = nl->now;
        if (resolve)
            nh_resolve(nl, e);
    }
    if (!cds_wfcq_empty(&nl->qhead, &nl->qtail))
        nl_wake(nl); /* more next time round, after pending events */
}

static void nh_tick(struct dp_nl *nl)
{
    struct cds_lfht_iter it;
    struct nh_entry *e;
    bool sweep = nl->now - nl->last_sweep >= NH_IDLE_MS;

    if (sweep)
        nl->last_sweep = nl->now;
    cds_lfht_for_each_entry(nl->cache, &it, e, node) {
        if (e->in_queue)
            continue; /* not seen by the thread yet */
        if (e->state == NH_RESOLVED) {
            if (!sweep)
                continue;
            if (atomic_load_explicit(&e->used, memory_order_relaxed))
                atomic_store_explicit(&e->used, false, memory_order_relaxed);
            else
                nh_remove(nl, e);
        } else if (nl->now - e->since >= NH_GIVE_UP_MS) {
            nh_remove(nl, e);
        } else if (nl->now - e->last_try >= NH_RETRY_MS - NH_RETRY_MS / 10) {
            nh_resolve(nl, e); /* the tick is about NH_RETRY_MS: allow for its jitter */
        }
    }
}

/* --- the thread ---------------------------------------------------------------------- */

static void ev_msg(struct dp_nl *nl, const struct nlmsghdr *m)
{
    switch (m->nlmsg_type) {
    case RTM_NEWLINK:
    case RTM_DELLINK:
        link_msg(nl, m, m->nlmsg_type == RTM_DELLINK);
        break;
    case RTM_NEWADDR:
    case RTM_DELADDR:
        addr_msg(nl, m, m->nlmsg_type == RTM_DELADDR);
        break;
    case RTM_NEWNEIGH:
    case RTM_DELNEIGH:
        neigh_msg(nl, m, m->nlmsg_type == RTM_DELNEIGH);
        break;
    case RTM_NEWROUTE:
    case RTM_DELROUTE:
        if (!route_event_matters(m))
            break;
        nl->flush_pending = true;
        break;
    case RTM_NEWRULE:
    case RTM_DELRULE:
    case RTM_NEWNEXTHOP:
    case RTM_DELNEXTHOP:
        nl->flush_pending = true; /* any of them may change any route lookup */
        break;
    default:
        break;
    }
}

static void ev_read(struct dp_nl *nl)
{
    bool lost = false;

    for (int i = 0; i < NL_EVENT_BATCH; i++) {
        ssize_t n = mnl_socket_recvfrom(nl->ev, nl->evbuf, NL_BUF_SIZE);
        int len;

        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == ENOBUFS || errno == ENOSPC) {
                lost = true; /* the socket overflowed: whatever was dropped is unknown */
                continue;
            }
            if (errno == EINTR)
                continue;
            log_warn("dataplane", "netlink events: %s", strerror(errno));
            break;
        }
        len = (int)n;
        for (const struct nlmsghdr *m = (const struct nlmsghdr *)nl->evbuf; mnl_nlmsg_ok(m, len);
             m = mnl_nlmsg_next(m, &len))
            ev_msg(nl, m);
    }
    if (lost) {
        log_warn("dataplane", "netlink events lost (receive buffer full): reloading links, addresses and "
                              "neighbours, dropping cached next hops");
        nh_flush_all(nl);
        if (nl_dump_all(nl))
            log_warn("dataplane", "reloading from netlink failed; next hops may lag until the next change");
    }
    if (nl->flush_pending)
        nh_flush_all(nl);
}

static void ctl_flush(struct dp_nl *nl)
{
    uint64_t req;

    pthread_mutex_lock(&nl->ctl_lock);
    req = nl->flush_req;
    pthread_mutex_unlock(&nl->ctl_lock);
    if (req == nl->flush_done)
        return; /* only this thread writes flush_done */
    nh_flush_all(nl);
    pthread_mutex_lock(&nl->ctl_lock);
    nl->flush_done = req;
    pthread_cond_broadcast(&nl->ctl_cond);
    pthread_mutex_unlock(&nl->ctl_lock);
}

static void *nl_thread(void *arg)
{
    struct dp_nl *nl = arg;
    struct epoll_event evs[4];

    rcu_register_thread();
    while (!atomic_load(&nl->stop)) {
        unsigned ready = 0;
        uint64_t v;
        int n;

        /* Offline while blocked: a QSBR reader that sleeps online stalls every
         * grace period. */
        rcu_thread_offline();
        n = epoll_wait(nl->epfd, evs, 4, -1);
        rcu_thread_online();
        if (n < 0) {
            if (errno == EINTR)
                continue;
            log_err("dataplane", "netlink thread: epoll_wait: %s; next hops are no longer resolved",
                    strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++)
            ready |= evs[i].data.u32;
        nl->now = (uint64_t)monotime_ms();
        /* Events first: a route change must flush before new requests resolve. */
        if (ready & EV_NETLINK)
            ev_read(nl);
        if (ready & EV_WAKE) {
            if (read(nl->efd, &v, sizeof(v)) < 0) {
                /* EAGAIN: another wake-up consumed it; nothing to do */
            }
            if (atomic_load(&nl->stop))
                break;
            ctl_flush(nl);
            nl_drain_queue(nl, true);
        }
        if (ready & EV_TIMER) {
            if (read(nl->tfd, &v, sizeof(v)) < 0) {
                /* EAGAIN: spurious */
            }
            nh_tick(nl);
        }
    }
    /* Workers are gone (dp_nl_free's contract): free what is queued or cached. */
    nl_drain_queue(nl, false);
    nh_flush_all(nl);
    pthread_mutex_lock(&nl->ctl_lock);
    nl->exited = true;
    pthread_cond_broadcast(&nl->ctl_cond);
    pthread_mutex_unlock(&nl->ctl_lock);
    rcu_thread_offline();
    rcu_unregister_thread();
    return NULL;
}

/* --- lifecycle and API ------------------------------------------------------------------ */

static struct mnl_socket *nl_open(unsigned groups)
{
    struct mnl_socket *s = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);

    if (s && mnl_socket_bind(s, groups, MNL_SOCKET_AUTOPID) < 0) {
        int err = errno;

        mnl_socket_close(s);
        errno = err;
        return NULL;
    }
    return s;
}

static int nl_open_events(struct dp_nl *nl)
{
    /* Rules and nexthop objects change lookups without route events; their groups
     * are past the 32 bits of the legacy bind mask. */
    static const int extra[] = {RTNLGRP_IPV4_RULE, RTNLGRP_IPV6_RULE, RTNLGRP_NEXTHOP};
    int fd, size = NL_EV_RCVBUF;

    nl->ev = nl_open(RTMGRP_LINK | RTMGRP_NEIGH | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE |
                     RTMGRP_IPV6_ROUTE);
    if (!nl->ev)
        return -errno;
    for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
        int group = extra[i];

        if (mnl_socket_setsockopt(nl->ev, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0)
            log_warn("dataplane", "netlink group %d: %s; changes there are not followed", group, strerror(errno));
    }
    fd = mnl_socket_get_fd(nl->ev);
    /* A burst (a routing daemon loading a table) must not overflow the socket;
     * FORCE needs CAP_NET_ADMIN, which the dataplane has, otherwise rmem_max caps it. */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
        return -errno;
    return 0;
}

static int nl_open_requests(struct dp_nl *nl)
{
    /* The kernel always answers; the timeout only keeps a lost answer from
     * stopping the thread. */
    struct timeval tv = {.tv_sec = 1};

    nl->req = nl_open(0);
    if (!nl->req)
        return -errno;
    nl->req_portid = mnl_socket_get_portid(nl->req);
    if (setsockopt(mnl_socket_get_fd(nl->req), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
        return -errno;
    return 0;
}

static int nl_open_loop(struct dp_nl *nl)
{
    struct itimerspec its = {.it_interval = {.tv_sec = NH_RETRY_MS / 1000}, .it_value = {.tv_sec = NH_RETRY_MS / 1000}};
    struct {
        int fd;
        uint32_t tag;
    } fds[3];

    nl->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    nl->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    nl->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (nl->efd < 0 || nl->tfd < 0 || nl->epfd < 0 || timerfd_settime(nl->tfd, 0, &its, NULL) < 0)
        return -errno;
    fds[0].fd = mnl_socket_get_fd(nl->ev);
    fds[0].tag = EV_NETLINK;
    fds[1].fd = nl->efd;
    fds[1].tag = EV_WAKE;
    fds[2].fd = nl->tfd;
    fds[2].tag = EV_TIMER;
    for (int i = 0; i < 3; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = fds[i].tag};

        if (epoll_ctl(nl->epfd, EPOLL_CTL_ADD, fds[i].fd, &ev) < 0)
            return -errno;
    }
    return 0;
}

static int nl_start(struct dp_nl *nl)
{
    sigset_t all, old;
    int err;

    /* Signals are the daemon's business, on its own threads. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    nl->live = true; /* from here on only the thread touches it */
    err = pthread_create(&nl->thread, NULL, nl_thread, nl);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err) {
        nl->live = false;
        return -err;
    }
    pthread_setname_np(nl->thread, "raven-netlink");
    nl->started = true;
    return 0;
}

struct dp_nl *dp_nl_new(const struct dp_nl_hooks *hooks)
{
    struct dp_nl *nl = calloc(1, sizeof(*nl));
    int err;

    if (!nl)
        return NULL;
    nl->efd = nl->tfd = nl->epfd = -1;
    if (hooks)
        nl->hooks = *hooks;
    pthread_mutex_init(&nl->link_lock, NULL);
    pthread_mutex_init(&nl->ctl_lock, NULL);
    pthread_cond_init(&nl->ctl_cond, NULL);
    __cds_wfcq_init(&nl->qhead, &nl->qtail);
    atomic_init(&nl->count, 0);
    atomic_init(&nl->stop, false);
    nl->evbuf = malloc(NL_BUF_SIZE);
    nl->reqbuf = malloc(NL_BUF_SIZE);
    if (!nl->evbuf || !nl->reqbuf) {
        err = -ENOMEM;
        goto fail;
    }
    if (getrandom(nl->hkey, sizeof(nl->hkey), 0) != sizeof(nl->hkey)) {
        err = -errno;
        goto fail;
    }
    nl->cache = cds_lfht_new(1024, 1024, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
    if (!nl->cache) {
        err = -ENOMEM;
        goto fail;
    }
    /* Subscribe before dumping, so that no change falls between the two. */
    err = nl_open_events(nl);
    if (!err)
        err = nl_open_requests(nl);
    if (!err)
        err = nl_open_loop(nl);
    if (!err)
        err = nl_dump_all(nl);
    if (!err) {
        nl->now = nl->last_sweep = (uint64_t)monotime_ms();
        err = nl_start(nl);
    }
    if (err)
        goto fail;
    return nl;
fail:
    dp_nl_free(nl); /* the caller reports errno */
    errno = -err;
    return NULL;
}

void dp_nl_free(struct dp_nl *nl)
{
    struct nl_link *l, *ltmp;
    struct nl_neigh *n, *ntmp;
    bool online;

    if (!nl)
        return;
    if (nl->started) {
        atomic_store(&nl->stop, true);
        nl_wake(nl);
        pthread_join(nl->thread, NULL);
    }
    /* The thread handed the last entries to call_rcu: wait for those frees. A QSBR
     * caller that is online would wait for itself. */
    online = rcu_read_ongoing();
    if (online)
        rcu_thread_offline();
    rcu_barrier();
    if (nl->cache)
        cds_lfht_destroy(nl->cache, NULL);
    if (online)
        rcu_thread_online();
    HASH_ITER(hh, nl->links, l, ltmp) {
        while (l->addrs) {
            struct nl_addr *a = l->addrs;

            l->addrs = a->next;
            free(a);
        }
        HASH_DEL(nl->links, l);
        free(l);
    }
    HASH_ITER(hh, nl->neighs, n, ntmp) {
        HASH_DEL(nl->neighs, n);
        free(n);
    }
    if (nl->epfd >= 0)
        close(nl->epfd);
    if (nl->tfd >= 0)
        close(nl->tfd);
    if (nl->efd >= 0)
        close(nl->efd);
    if (nl->ev)
        mnl_socket_close(nl->ev);
    if (nl->req)
        mnl_socket_close(nl->req);
    pthread_cond_destroy(&nl->ctl_cond);
    pthread_mutex_destroy(&nl->ctl_lock);
    pthread_mutex_destroy(&nl->link_lock);
    free(nl->evbuf);
    free(nl->reqbuf);
    free(nl);
}

int dp_nl_link(struct dp_nl *nl, int ifindex, struct dp_link *out)
{
    struct nl_link *l;
    int ret = -ENODEV;

    pthread_mutex_lock(&nl->link_lock);
    HASH_FIND_INT(nl->links, &ifindex, l);
    if (l && l->known) {
        *out = l->pub;
        ret = 0;
    }
    pthread_mutex_unlock(&nl->link_lock);
    return ret;
}

void dp_nl_flush(struct dp_nl *nl)
{
    uint64_t ticket;
    bool online;

    /* Only the netlink thread removes entries (it alone knows which are queued). */
    if (nl->started && pthread_equal(pthread_self(), nl->thread)) {
        nh_flush_all(nl);
        return;
    }
    online = rcu_read_ongoing(); /* waiting online would stall grace periods */
    if (online)
        rcu_thread_offline();
    pthread_mutex_lock(&nl->ctl_lock);
    ticket = ++nl->flush_req;
    nl_wake(nl);
    while (nl->flush_done < ticket && !nl->exited)
        pthread_cond_wait(&nl->ctl_cond, &nl->ctl_lock);
    pthread_mutex_unlock(&nl->ctl_lock);
    if (online)
        rcu_thread_online();
}
