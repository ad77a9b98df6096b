/* The kernel's links, addresses and neighbours as the dataplane's netlink thread
 * keeps them (see dp_nl_int.h): requests on the request socket and their answers,
 * the messages that change the copy (from events and from dumps), the full reload
 * with mark and sweep, and route queries. The link table is read from any thread
 * under the link lock; the neighbour table is the netlink thread's alone. */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/log.h"
#include "dataplane/dp_nl_int.h"

#include "daemon/base/poison.h"

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
struct nl_link *nl_link_get(struct dp_nl *nl, int ifindex, bool create)
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

void nl_link_msg(struct dp_nl *nl, const struct nlmsghdr *m, bool del)
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
    l = nl_link_get(nl, ifi->ifi_index, !del);
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

void nl_addr_msg(struct dp_nl *nl, const struct nlmsghdr *m, bool del)
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
    l = nl_link_get(nl, (int)ifa->ifa_index, !del);
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

void nl_neigh_msg(struct dp_nl *nl, const struct nlmsghdr *m, bool del)
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
        nl_link_msg(nl, m, false);
        break;
    case RTM_NEWADDR:
        nl_addr_msg(nl, m, false);
        break;
    case RTM_NEWNEIGH:
        nl_neigh_msg(nl, m, false);
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
int nl_dump_all(struct dp_nl *nl)
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

/* --- route queries ------------------------------------------------------------------ */

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
int nl_route_get(struct dp_nl *nl, const struct nh_key *key, struct nl_route *r)
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

/* --- freeing ------------------------------------------------------------------------ */

void nl_kernel_free(struct dp_nl *nl)
{
    struct nl_link *l, *ltmp;
    struct nl_neigh *n, *ntmp;

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
}
