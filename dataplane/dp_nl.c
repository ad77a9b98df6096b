/* The dataplane's view of the kernel (see dp_nl.h): one thread owns two rtnetlink
 * sockets (multicast events, and requests: dumps and route queries), a private
 * copy of the kernel's neighbour table and the interfaces' data (dp_nl_kernel.c);
 * it resolves the destinations workers ask for and is the only writer of the
 * next-hop cache (dp_nl_cache.c, states in dp_nl_int.h). This file: the
 * resolution, the thread and its events, the life cycle and the API. */

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/filter.h>
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

/* The protocol of the blackhole routes ravend adds for its sessions' addresses
 * and accepted subnets (IKE_ROUTE_PROTO, daemon/ike/ike_route.c). */
#define SESSION_ROUTE_PROTO 245

/* Routes to IPv6 link-local or multicast destinations (a link coming up gets its
 * fe80:: address and their routes a moment later) change no lookup the
 * dataplane makes: its destinations are clients' and inside hosts' global
 * addresses. Nor do the sessions' blackhole routes, one or more per session
 * coming up or going: the dataplane sends to a session's addresses by its own
 * SA table, never by a kernel next hop, and while they are routed there a
 * next hop for them is not looked up (when they go, the kernel would have sent
 * a packet to them nowhere either way). Everything else flushes the cache. */
static bool route_event_matters(const struct nlmsghdr *m)
{
    const struct rtmsg *rtm = mnl_nlmsg_get_payload(m);
    const struct nlattr *a;

    if (m->nlmsg_len < NLMSG_LENGTH(sizeof(*rtm)))
        return true;
    if (rtm->rtm_protocol == SESSION_ROUTE_PROTO && rtm->rtm_type == RTN_BLACKHOLE)
        return false;
    if (rtm->rtm_family != AF_INET6)
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

/* --- resolution ----------------------------------------------------------------------- */

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
    l = nl_link_get(nl, r.oif, false);
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
        nl_link_msg(nl, m, m->nlmsg_type == RTM_DELLINK);
        break;
    case RTM_NEWADDR:
    case RTM_DELADDR:
        nl_addr_msg(nl, m, m->nlmsg_type == RTM_DELADDR);
        break;
    case RTM_NEWNEIGH:
    case RTM_DELNEIGH:
        nl_neigh_msg(nl, m, m->nlmsg_type == RTM_DELNEIGH);
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

/* The sessions' route events (route_event_matters) are dropped by the kernel
 * before they wake the thread: a socket filter on the first message of each
 * datagram (the kernel sends route events one per datagram). Classic BPF loads
 * half words in network order, hence ntohs on nlmsg_type. On error the thread
 * reads them and drops them itself. */
static void nl_filter_session_routes(int fd)
{
    const size_t ty = offsetof(struct nlmsghdr, nlmsg_type), rtm = NLMSG_LENGTH(0);
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, NLMSG_LENGTH(sizeof(struct rtmsg)), 0, 8),
        BPF_STMT(BPF_LD | BPF_H | BPF_ABS, (uint32_t)ty),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ntohs(RTM_NEWROUTE), 1, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ntohs(RTM_DELROUTE), 0, 5),
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, (uint32_t)(rtm + offsetof(struct rtmsg, rtm_protocol))),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SESSION_ROUTE_PROTO, 0, 3),
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, (uint32_t)(rtm + offsetof(struct rtmsg, rtm_type))),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, RTN_BLACKHOLE, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, 0),
        BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
    };
    struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};

    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
        log_warn("dataplane", "netlink events: socket filter: %s; session routes are dropped in user space",
                 strerror(errno));
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
    nl_filter_session_routes(fd);
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
    nl_kernel_free(nl);
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
