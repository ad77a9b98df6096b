/* Routes of sessions in the kernel and routes pushed to clients (SPEC S7, S9):
 * `route redistribute connected` (a route for each client's assigned addresses),
 * `route accept` (the client's own subnets, offered in its traffic selectors
 * beside its virtual address: accepted into the child SA and routed), and
 * `route set interface` (the address of one of our interfaces pushed to the client
 * as a host route). Also the VRF devices profiles name (fvrf, ivrf); what of
 * this is read from the configuration's tree is in ike_route_conf.c.
 *
 * Kernel routes carry protocol IKE_ROUTE_PROTO so that a routing daemon (FRR's
 * zebra, BIRD's kernel protocol with `learn`) picks them up by protocol and
 * redistributes them, and so that Raven can flush what an earlier run left. They
 * are blackhole routes: the dataplane carries clients' traffic in user space, so
 * the kernel has no device to send it to; a packet the kernel itself would route
 * to a client is dropped rather than sent in clear along its default route. The
 * netlink socket is synchronous and used on the control thread only. The routes
 * of the sessions that came up in one turn of the event loop are added together
 * at its end: one send of all their requests, then their answers, each matched
 * to its route by sequence number (logged and recorded per route). */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "daemon/base/log.h"
#include "daemon/ike/ike_eng.h"
#include "daemon/base/poison.h"

/* A route to add: its session and index in the session's routes. */
struct route_add {
    uint64_t sess;
    size_t i;
    uint32_t seq; /* once sent */
    int rc;       /* the kernel's answer, once sent */
    bool sent, answered;
};

struct ike_rtnl {
    struct mnl_socket *nl;
    uint32_t seq;
    bool unread; /* answers may wait on the socket: a request given up on, or a removal not waited for */
    struct event *flush;     /* adds what is queued, at the end of the loop's turn */
    struct route_add *adds;  /* queued */
    size_t nadds, cap;
};

/* ---- netlink ---- */

static struct mnl_socket *rtnl_open(void)
{
    struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
    struct timeval tv = {.tv_sec = 2};

    if (!nl)
        return NULL;
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        mnl_socket_close(nl);
        return NULL;
    }
    /* never block the control thread for long on a kernel that does not answer */
    setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return nl;
}

/* Reads what waits on @nl without waiting: the answers to requests given up
 * on, and the errors of removals not waited for (logged). */
static void rtnl_drain(struct mnl_socket *nl)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];

    for (;;) {
        ssize_t n = recv(mnl_socket_get_fd(nl), buf, sizeof(buf), MSG_DONTWAIT);
        int left = (int)n;

        if (n < 0 && errno == ENOBUFS) /* some were lost: read the rest */
            continue;
        if (n <= 0)
            break;
        for (const struct nlmsghdr *m = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(m, left);
             m = mnl_nlmsg_next(m, &left)) {
            const struct nlmsgerr *err = mnl_nlmsg_get_payload(m);

            if (m->nlmsg_type == NLMSG_ERROR && m->nlmsg_len >= mnl_nlmsg_size(sizeof(*err)) && err->error &&
                err->error != -ESRCH && err->msg.nlmsg_type == RTM_DELROUTE)
                log_warn("ike", "cannot remove a route of an ended session: %s", strerror(-err->error));
        }
    }
}

/* Sends @nlh and runs @cb on the answers until the acknowledgement or the end of
 * a dump: 0, or -errno (the kernel's error included). @unread (NULL: a fresh
 * socket) says whether answers to earlier requests may wait on @nl. */
static int rtnl_talk(struct mnl_socket *nl, uint32_t *seq, bool *unread, struct nlmsghdr *nlh, mnl_cb_t cb,
                     void *data)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    unsigned portid = mnl_socket_get_portid(nl);
    ssize_t n;
    int rc;

    /* what answers a request given up on (SO_RCVTIMEO) arrives later and would
     * be read as this one's answer (a sequence mismatch, failing it and every
     * request after it): drop it first */
    if (unread && *unread) {
        rtnl_drain(nl);
        *unread = false;
    }
    nlh->nlmsg_seq = ++*seq;
    /* the answer ends with the acknowledgement (a dump's with NLMSG_DONE); a
     * request's NLM_F_EXCL has the bit of a dump's NLM_F_MATCH */
    if ((nlh->nlmsg_type != RTM_GETROUTE && nlh->nlmsg_type != RTM_GETLINK) || !(nlh->nlmsg_flags & NLM_F_DUMP))
        nlh->nlmsg_flags |= NLM_F_ACK;
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
        return -errno;
    do {
        n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
        if (n < 0) {
            if (unread)
                *unread = true; /* its answer may come later */
            return -errno;
        }
        rc = mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, portid, cb, data);
    } while (rc == MNL_CB_OK);
    return rc < 0 ? -errno : 0;
}

static size_t alen(uint8_t family)
{
    return family == AF_INET ? 4 : 16;
}

/* Adds or removes route @r, waiting for the kernel's answer unless @nowait (a
 * removal: the kernel answers only an error, read and logged before the next
 * request; the kernel handles a request before the send returns). */
/* Puts the request to add or remove @r at @buf (room for ROUTE_MSG_MAX). */
#define ROUTE_MSG_MAX 128
static struct nlmsghdr *route_put(void *buf, const struct ike_kroute *r, bool add)
{
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    struct rtmsg *rtm;

    nlh->nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
    nlh->nlmsg_flags = NLM_F_REQUEST | (add ? NLM_F_CREATE | NLM_F_EXCL : 0);
    rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
    rtm->rtm_family = r->family;
    rtm->rtm_dst_len = r->plen;
    rtm->rtm_table = r->table < 256 ? (uint8_t)r->table : RT_TABLE_UNSPEC;
    rtm->rtm_protocol = IKE_ROUTE_PROTO;
    rtm->rtm_scope = RT_SCOPE_UNIVERSE;
    rtm->rtm_type = RTN_BLACKHOLE;
    mnl_attr_put(nlh, RTA_DST, alen(r->family), r->dst);
    mnl_attr_put_u32(nlh, RTA_TABLE, r->table);
    if (r->metric)
        mnl_attr_put_u32(nlh, RTA_PRIORITY, r->metric);
    if (r->realm && r->family == AF_INET)
        mnl_attr_put_u32(nlh, RTA_FLOW, r->realm);
    return nlh;
}

static int route_msg(struct ike_rtnl *rt, const struct ike_kroute *r, bool add, bool nowait)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh = route_put(buf, r, add);

    if (nowait) {
        nlh->nlmsg_seq = ++rt->seq;
        rt->unread = true; /* an error, if any */
        return mnl_socket_sendto(rt->nl, nlh, nlh->nlmsg_len) < 0 ? -errno : 0;
    }
    return rtnl_talk(rt->nl, &rt->seq, &rt->unread, nlh, NULL, NULL);
}

struct flush_ctx {
    struct ike_kroute *v;
    size_t n, cap;
};

static int flush_cb(const struct nlmsghdr *m, void *data)
{
    struct flush_ctx *f = data;
    const struct rtmsg *rtm = mnl_nlmsg_get_payload(m);
    const struct nlattr *a;
    struct ike_kroute r = {0};

    if (m->nlmsg_type != RTM_NEWROUTE || mnl_nlmsg_get_payload_len(m) < sizeof(*rtm) ||
        rtm->rtm_protocol != IKE_ROUTE_PROTO || (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6))
        return MNL_CB_OK;
    r.family = rtm->rtm_family;
    r.plen = rtm->rtm_dst_len;
    r.table = rtm->rtm_table;
    mnl_attr_for_each(a, m, sizeof(*rtm)) {
        uint16_t t = mnl_attr_get_type(a);

        if (t == RTA_DST && mnl_attr_get_payload_len(a) == alen(r.family))
            memcpy(r.dst, mnl_attr_get_payload(a), alen(r.family));
        else if (t == RTA_TABLE && mnl_attr_get_payload_len(a) == 4)
            r.table = mnl_attr_get_u32(a);
        else if (t == RTA_PRIORITY && mnl_attr_get_payload_len(a) == 4)
            r.metric = mnl_attr_get_u32(a);
    }
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 16;
        struct ike_kroute *v = realloc(f->v, cap * sizeof(*v));

        if (!v)
            return MNL_CB_OK;
        f->v = v;
        f->cap = cap;
    }
    f->v[f->n++] = r;
    return MNL_CB_OK;
}

/* Deletes every route of our protocol, in every table: what a previous run left
 * (its sessions are gone with it). */
static void rtnl_flush(struct ike_rtnl *rt)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct flush_ctx f = {0};
    size_t gone = 0;

    for (int i = 0; i < 2; i++) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct rtmsg *rtm;
        int rc;

        nlh->nlmsg_type = RTM_GETROUTE;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
        rtm->rtm_family = i ? AF_INET6 : AF_INET;
        rc = rtnl_talk(rt->nl, &rt->seq, &rt->unread, nlh, flush_cb, &f);
        if (rc)
            log_warn("ike", "cannot list the kernel's routes to flush stale ones: %s", strerror(-rc));
    }
    for (size_t i = 0; i < f.n; i++)
        gone += route_msg(rt, &f.v[i], false, false) == 0;
    if (gone)
        log_info("ike", "flushed %zu stale route(s) of protocol %d", gone, IKE_ROUTE_PROTO);
    free(f.v);
}

static void adds_flush(struct ike_engine *e);
static void adds_flush_cb(evutil_socket_t fd, short what, void *arg);

int ike_engine_routes_start(struct ike_engine *e)
{
    struct ike_rtnl *rt;

    if (e->rt)
        return 0;
    rt = calloc(1, sizeof(*rt));
    if (!rt)
        return -ENOMEM;
    rt->seq = (uint32_t)time(NULL);
    rt->nl = rtnl_open();
    if (!rt->nl) {
        int rc = -errno;

        free(rt);
        return rc;
    }
    rtnl_flush(rt);
    rt->flush = e->base ? event_new(e->base, -1, 0, adds_flush_cb, e) : NULL; /* else each added at once */
    e->rt = rt;
    return 0;
}

void ike_route_stop(struct ike_engine *e)
{
    if (!e->rt)
        return;
    adds_flush(e); /* what was queued goes as it would have */
    if (e->rt->flush)
        event_free(e->rt->flush);
    free(e->rt->adds);
    mnl_socket_close(e->rt->nl);
    free(e->rt);
    e->rt = NULL;
}

/* ---- VRF devices ---- */

struct vrf_ctx {
    int ifindex;
    bool is_vrf;
    uint32_t table;
};

static int vrf_info_cb(const struct nlattr *a, void *data)
{
    struct vrf_ctx *v = data;
    const struct nlattr *d;

    if (mnl_attr_get_type(a) == IFLA_INFO_KIND && !strcmp(mnl_attr_get_str(a), "vrf"))
        v->is_vrf = true;
    if (mnl_attr_get_type(a) == IFLA_INFO_DATA) {
        mnl_attr_for_each_nested(d, a) {
            if (mnl_attr_get_type(d) == IFLA_VRF_TABLE && mnl_attr_get_payload_len(d) == 4)
                v->table = mnl_attr_get_u32(d);
        }
    }
    return MNL_CB_OK;
}

static int vrf_cb(const struct nlmsghdr *m, void *data)
{
    struct vrf_ctx *v = data;
    const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(m);
    const struct nlattr *a;

    if (m->nlmsg_type != RTM_NEWLINK || mnl_nlmsg_get_payload_len(m) < sizeof(*ifi))
        return MNL_CB_OK;
    v->ifindex = ifi->ifi_index;
    mnl_attr_for_each(a, m, sizeof(*ifi)) {
        if (mnl_attr_get_type(a) == IFLA_LINKINFO)
            mnl_attr_parse_nested(a, vrf_info_cb, v);
    }
    return MNL_CB_OK;
}

int ike_route_vrf(const char *name, int *ifindex, uint32_t *table)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    struct mnl_socket *nl = rtnl_open();
    struct vrf_ctx v = {0};
    uint32_t seq = (uint32_t)time(NULL);
    int rc;

    if (!nl)
        return -errno;
    nlh->nlmsg_type = RTM_GETLINK;
    nlh->nlmsg_flags = NLM_F_REQUEST;
    mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg));
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    rc = rtnl_talk(nl, &seq, NULL, nlh, vrf_cb, &v);
    mnl_socket_close(nl);
    if (rc)
        return rc == -EINVAL ? -ENODEV : rc;
    if (!v.ifindex)
        return -ENODEV;
    if (!v.is_vrf || !v.table)
        return -EMEDIUMTYPE;
    if (ifindex)
        *ifindex = v.ifindex;
    if (table)
        *table = v.table;
    return 0;
}

struct vrf_list {
    char (*out)[16];
    size_t n, cap;
};

static int vrf_list_cb(const struct nlmsghdr *m, void *data)
{
    struct vrf_list *l = data;
    struct vrf_ctx v = {0};
    const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(m);
    const struct nlattr *a;
    const char *name = NULL;

    if (m->nlmsg_type != RTM_NEWLINK || mnl_nlmsg_get_payload_len(m) < sizeof(*ifi))
        return MNL_CB_OK;
    mnl_attr_for_each(a, m, sizeof(*ifi)) {
        if (mnl_attr_get_type(a) == IFLA_LINKINFO)
            mnl_attr_parse_nested(a, vrf_info_cb, &v);
        else if (mnl_attr_get_type(a) == IFLA_IFNAME)
            name = mnl_attr_get_str(a);
    }
    if (v.is_vrf && name && strlen(name) < 16 && l->n < l->cap) {
        for (size_t i = 0; i < l->n; i++) {
            if (!strcmp(l->out[i], name))
                return MNL_CB_OK;
        }
        snprintf(l->out[l->n++], 16, "%s", name);
    }
    return MNL_CB_OK;
}

size_t ike_route_vrf_devices(char (*out)[16], size_t n, size_t cap)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    struct mnl_socket *nl = rtnl_open();
    struct vrf_list l = {.out = out, .n = n, .cap = cap};
    uint32_t seq = (uint32_t)time(NULL);

    nlh->nlmsg_type = RTM_GETLINK;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg));
    if (nl) {
        rtnl_talk(nl, &seq, NULL, nlh, vrf_list_cb, &l);
        mnl_socket_close(nl);
    }
    return l.n;
}

/* ---- route set interface ---- */

/* The first IPv4 address and the first global IPv6 address of interface @name. */
static void iface_addrs(const struct ifaddrs *ifa, const char *name, struct sess_prefixes *out)
{
    bool v4 = false, v6 = false;

    for (const struct ifaddrs *i = ifa; i; i = i->ifa_next) {
        struct sess_prefix *p;

        if (!i->ifa_addr || strcmp(i->ifa_name, name) || out->n >= SESS_MAX_PREFIXES)
            continue;
        p = &out->p[out->n];
        if (i->ifa_addr->sa_family == AF_INET && !v4) {
            *p = (struct sess_prefix){.family = AF_INET, .plen = 32};
            memcpy(p->addr, &((const struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
            out->n++;
            v4 = true;
        } else if (i->ifa_addr->sa_family == AF_INET6 && !v6) {
            const uint8_t *b = ((const struct sockaddr_in6 *)i->ifa_addr)->sin6_addr.s6_addr;

            if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
                continue; /* link-local: not reachable through the tunnel */
            *p = (struct sess_prefix){.family = AF_INET6, .plen = 128};
            memcpy(p->addr, b, 16);
            out->n++;
            v6 = true;
        }
    }
}

void ike_route_set_iface(const struct dp *dp, struct sess_attrs *a)
{
    const char *names[SESS_MAX_ATTR_LIST + 1];
    size_t n = 0;
    struct ifaddrs *ifa = NULL;
    struct dp_if_stats st;

    for (int i = 0; i < a->nroute_ifaces; i++)
        names[n++] = a->route_ifaces[i];
    if (!n && a->route_iface_inside) {
        /* RADIUS names no interface: the first inside interface of the
         * dataplane (the model has no unnumbered interface: yang/README.md) */
        const char *u = NULL;

        for (size_t i = 0; !u && dp && i < dp_if_count(dp); i++) {
            if (!dp_if_stats(dp, i, &st) && st.role == DP_ROLE_INSIDE)
                u = st.name;
        }
        if (u)
            names[n++] = u;
    }
    if (!n)
        return;
    if (getifaddrs(&ifa)) {
        log_warn("ike", "route set interface: cannot read the interfaces' addresses: %s", strerror(errno));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t before = a->subnets.n;

        iface_addrs(ifa, names[i], &a->subnets);
        if (a->subnets.n == before)
            log_warn("ike", "route set interface %s: the interface has no address to push", names[i]);
    }
    a->subnets_set = a->subnets.n > 0;
    freeifaddrs(ifa);
}

/* ---- routes of a session ---- */

/* Whether @ts is exactly a prefix (all protocols and ports): its length, else -1. */
static int ts_prefix(const struct ike_ts *ts)
{
    size_t n = ts->type == 7 ? 4 : 16;
    int len = 0;
    size_t i = 0;

    if (ts->ip_proto || ts->start_port != 0 || ts->end_port != 0xffff)
        return -1;
    for (; i < n && ts->start[i] == ts->end[i]; i++)
        len += 8;
    if (i < n) {
        uint8_t x = ts->start[i] ^ ts->end[i], bits = 0;

        while (bits < 8 && !(x & (0x80 >> bits)))
            bits++;
        /* the differing bits must run from 0s (start) to 1s (end) to the end */
        if ((ts->start[i] & (0xff >> bits)) || (uint8_t)(ts->end[i] | (0xff00 >> bits)) != 0xff)
            return -1;
        len += bits;
        for (i++; i < n; i++) {
            if (ts->start[i] != 0 || ts->end[i] != 0xff)
                return -1;
        }
    }
    return len;
}

static bool ts_overlaps(const struct ike_ts *a, const struct ike_ts *b)
{
    size_t n = a->type == 7 ? 4 : 16;

    return a->type == b->type && memcmp(a->start, b->end, n) <= 0 && memcmp(b->start, a->end, n) <= 0;
}

/* Whether pool range @r overlaps @ts (of the same family). */
static bool pool_overlaps(const struct ike_ts *ts, const struct ike_range *r)
{
    size_t n = ts->type == 7 ? 4 : 16;

    return r->family == (ts->type == 7 ? AF_INET : AF_INET6) && memcmp(ts->start, r->hi, n) <= 0 &&
           memcmp(r->lo, ts->end, n) <= 0;
}

/* Whether a client's subnet may be accepted: a prefix neither covering the
 * whole address space nor overlapping the client's own addresses, a subnet
 * accepted before or an address pool (the addresses of other clients: the
 * pools in force, @c). */
static bool acceptable(const struct ike_sess *s, const struct ike_conf *c, const struct ike_ts *ts)
{
    int len = ts_prefix(ts);
    struct ike_sess *o, *tmp;

    if (len <= 0)
        return false;
    for (uint8_t i = 0; i < s->allow_i.nts; i++) {
        if (ts_overlaps(ts, ike_tss_at(&s->allow_i, i)))
            return false;
    }
    /* nor another session's address or accepted subnet: the dataplane routes a
     * prefix to the newest SA that claims it, so a client must not take over
     * another's traffic */
    HASH_ITER(hh_id, s->e->by_id, o, tmp) {
        for (uint8_t i = 0; o != s && ike_sa_up(o) && i < o->allow_i.nts; i++) {
            if (ts_overlaps(ts, ike_tss_at(&o->allow_i, i)))
                return false;
        }
    }
    for (size_t i = 0; c && i < c->npool_ranges; i++) {
        if (pool_overlaps(ts, &c->pool_ranges[i]))
            return false;
    }
    return true;
}

static bool add_route(struct ike_sess *s, uint8_t family, const uint8_t *dst, unsigned plen, uint32_t table,
                      uint32_t metric, uint32_t realm)
{
    struct ike_kroute *v = realloc(s->routes, (s->nroutes + 1) * sizeof(*v));

    if (!v)
        return false;
    s->routes = v;
    v[s->nroutes] = (struct ike_kroute){.family = family, .plen = (uint8_t)plen, .table = table,
                                        .metric = metric, .realm = realm};
    memcpy(v[s->nroutes].dst, dst, alen(family));
    s->nroutes++;
    return true;
}

/* With route accept: the acceptable subnets among @tsi (those apart from the
 * client's own addresses, the first s->route_nfixed bounds) join s->allow_i and
 * get a route each. */
static void accept_subnets(struct ike_sess *s, const struct ike_ts_pld *tsi)
{
    for (uint8_t i = 0; i < tsi->nts && s->allow_i.nts < IKE_MAX_TS; i++) {
        const struct ike_ts *ts = &tsi->ts[i];
        bool known = false;

        /* the selector that covers the client's own address (the one it asks its
         * virtual address with) is narrowed as before; one accepted already
         * needs nothing more */
        for (uint8_t j = 0; j < s->allow_i.nts; j++) {
            if (j < s->route_nfixed ? ts_overlaps(ts, ike_tss_at(&s->allow_i, j))
                                    : !memcmp(ts, ike_tss_at(&s->allow_i, j), sizeof(*ts)))
                known = true;
        }
        if (known)
            continue;
        if (!acceptable(s, s->e->conf, ts)) {
            log_info("ike", "session %" PRIu64 ": a client subnet is not accepted (not a prefix, or it overlaps an "
                     "address or accepted subnet of this or another session, or a pool)", s->ss.id);
            continue;
        }
        if (!ike_tss_add(&s->allow_i, ts))
            continue;
        add_route(s, ts->type == 7 ? AF_INET : AF_INET6, ts->start, (unsigned)ts_prefix(ts), s->route_table,
                  s->route_distance, s->route_tag);
    }
}

void ike_route_plan(struct ike_sess *s, const struct ike_prof *prof, const struct sess_attrs *a,
                    const struct ike_pld *tsi_p, struct ike_route_mark *m)
{
    const char *ivrf = prof->ivrf;
    struct ike_ts_pld tsi;

    s->route_table = RT_TABLE_MAIN;
    s->ivrf_ifindex = 0;
    if (ivrf && ike_route_vrf(ivrf, &s->ivrf_ifindex, &s->route_table)) {
        log_warn("ike", "session %" PRIu64 ": inside VRF %s is gone; its traffic and routes use the main table",
                 s->ss.id, ivrf);
        s->route_table = RT_TABLE_MAIN;
        s->ivrf_ifindex = 0;
    }
    m->nts = s->allow_i.nts;
    m->nroutes = s->nroutes;
    if (a->route_accept <= 0 && a->route_connected <= 0)
        return;
    if (a->route_connected > 0) {
        if (s->ss.have_addr4) {
            uint32_t be = htonl(s->ss.addr4);

            add_route(s, AF_INET, (const uint8_t *)&be, 32, s->route_table, 0, 0);
        }
        if (s->ss.have_addr6)
            add_route(s, AF_INET6, s->ss.addr6, s->ss.alen6, s->route_table, 0, 0);
    }
    m->nts = s->allow_i.nts;
    m->nroutes = s->nroutes;
    if (a->route_accept <= 0)
        return;
    s->route_accept = true;
    s->e->route_accept_seen = true;
    s->route_tag = a->route_tag;
    s->route_distance = a->route_distance;
    s->route_nfixed = s->allow_i.nts;
    if (tsi_p && ike_ts_parse(tsi_p, &tsi))
        accept_subnets(s, &tsi);
}

void ike_route_accept_child(struct ike_sess *s, const struct ike_ts_pld *tsi, struct ike_route_mark *m)
{
    m->nts = s->allow_i.nts;
    m->nroutes = s->nroutes;
    if (s->route_accept)
        accept_subnets(s, tsi);
}

void ike_route_accept_done(struct ike_sess *s, const struct ike_route_mark *m, bool made)
{
    if (made) {
        if (s->nroutes != m->nroutes)
            ike_route_install(s);
        return;
    }
    /* a refused child: its subnets are not the client's, and stay free for
     * another session; the routes planned for them were never installed */
    ike_tss_trunc(&s->allow_i, m->nts);
    s->nroutes = m->nroutes;
}

uint64_t ike_route_subnet_holder(const struct ike_sess *s)
{
    struct ike_ts mine[2];
    struct ike_sess *o, *tmp;
    size_t n = 0;

    /* no session has accepted subnets: nothing to walk (a walk per new session
     * made setting up 100 000 sessions quadratic) */
    if (!s->e->route_accept_seen)
        return 0;
    if (s->ss.have_addr4)
        ike_ts_host4(s->ss.addr4, &mine[n++]);
    if (s->ss.have_addr6)
        ike_ts_prefix6(s->ss.addr6, s->ss.alen6, &mine[n++]);
    HASH_ITER(hh_id, s->e->by_id, o, tmp) {
        if (o == s || !ike_sa_up(o) || !o->route_accept)
            continue;
        /* past the client's own addresses: the subnets accepted from it */
        for (uint8_t i = o->route_nfixed; i < o->allow_i.nts; i++) {
            for (size_t k = 0; k < n; k++) {
                if (ts_overlaps(&mine[k], ike_tss_at(&o->allow_i, i)))
                    return o->ss.id;
            }
        }
    }
    return 0;
}

static void route_added(struct ike_sess *s, struct ike_kroute *r, int rc)
{
    char a[INET6_ADDRSTRLEN];

    inet_ntop(r->family, r->dst, a, sizeof(a));
    if (rc)
        log_warn("ike", "session %" PRIu64 ": cannot install the route %s/%u in table %" PRIu32 ": %s", s->ss.id, a,
                 r->plen, r->table, strerror(-rc));
    else
        log_info("ike", "session %" PRIu64 ": route %s/%u installed (table %" PRIu32 ", protocol %d)", s->ss.id, a,
                 r->plen, r->table, IKE_ROUTE_PROTO);
    r->installed = rc == 0;
}

/* The queued route of @a, NULL if its session ended (or dropped its routes). */
static struct ike_kroute *add_route_of(struct ike_engine *e, const struct route_add *a, struct ike_sess **sp)
{
    struct ike_sess *s;

    HASH_FIND(hh_id, e->by_id, &a->sess, sizeof(a->sess), s);
    *sp = s;
    return s && a->i < s->nroutes && s->routes[a->i].tried && !s->routes[a->i].installed ? &s->routes[a->i] : NULL;
}

/* Reads the answers to the requests of @v[0..n) sent together, until each has
 * its own or the socket times out (those left: that error). */
static void adds_answers(struct ike_rtnl *rt, struct route_add *v, size_t n, size_t waiting)
{
    char buf[8192];
    unsigned portid = mnl_socket_get_portid(rt->nl);

    while (waiting) {
        ssize_t got = recv(mnl_socket_get_fd(rt->nl), buf, sizeof(buf), 0);
        int left = (int)got;

        if (got < 0 && errno == ENOBUFS)
            continue;
        if (got <= 0) {
            int rc = got < 0 ? -errno : -EIO;

            for (size_t i = 0; i < n; i++) {
                if (v[i].sent && !v[i].answered) {
                    v[i].rc = rc;
                    v[i].answered = true;
                }
            }
            rt->unread = true; /* the rest may come later */
            return;
        }
        for (const struct nlmsghdr *m = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(m, left);
             m = mnl_nlmsg_next(m, &left)) {
            const struct nlmsgerr *err = mnl_nlmsg_get_payload(m);

            if (m->nlmsg_type != NLMSG_ERROR || m->nlmsg_pid != portid ||
                m->nlmsg_len < mnl_nlmsg_size(sizeof(*err)))
                continue;
            for (size_t i = 0; i < n; i++) {
                if (v[i].sent && !v[i].answered && v[i].seq == m->nlmsg_seq) {
                    v[i].rc = err->error;
                    v[i].answered = true;
                    waiting--;
                    break;
                }
            }
        }
    }
}

/* Adds the queued routes: as many requests a send as fit, then their answers. */
static void adds_flush(struct ike_engine *e)
{
    struct ike_rtnl *rt = e->rt;
    char out[8192];

    for (size_t done = 0, n; done < rt->nadds; done = n) {
        size_t len = 0, waiting = 0;
        struct ike_sess *s;
        struct ike_kroute *r;

        if (rt->unread) { /* answers to earlier requests first (see rtnl_talk) */
            rtnl_drain(rt->nl);
            rt->unread = false;
        }
        for (n = done; n < rt->nadds && len + ROUTE_MSG_MAX <= sizeof(out); n++) {
            struct route_add *a = &rt->adds[n];
            struct nlmsghdr *nlh;

            a->sent = a->answered = false;
            if (!(r = add_route_of(e, a, &s)))
                continue;
            nlh = route_put(out + len, r, true);
            nlh->nlmsg_flags |= NLM_F_ACK;
            nlh->nlmsg_seq = a->seq = ++rt->seq;
            len += MNL_ALIGN(nlh->nlmsg_len);
            a->sent = true;
            waiting++;
        }
        if (!len)
            continue;
        if (mnl_socket_sendto(rt->nl, out, len) < 0) {
            int rc = -errno;

            for (size_t i = done; i < n; i++)
                rt->adds[i].rc = rc;
        } else {
            adds_answers(rt, rt->adds + done, n - done, waiting);
        }
        for (size_t i = done; i < n; i++) {
            if (rt->adds[i].sent && (r = add_route_of(e, &rt->adds[i], &s)))
                route_added(s, r, rt->adds[i].rc);
        }
    }
    rt->nadds = 0;
}

static void adds_flush_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    adds_flush(arg);
}

void ike_route_install(struct ike_sess *s)
{
    struct ike_rtnl *rt = s->e->rt;

    for (size_t i = 0; rt && i < s->nroutes; i++) {
        struct ike_kroute *r = &s->routes[i];

        if (r->tried)
            continue;
        r->tried = true;
        if (rt->flush && rt->nadds == rt->cap) {
            size_t cap = rt->cap ? 2 * rt->cap : 16;
            struct route_add *v = realloc(rt->adds, cap * sizeof(*v));

            if (v) {
                rt->adds = v;
                rt->cap = cap;
            }
        }
        if (rt->flush && rt->nadds < rt->cap) { /* added at the end of the loop's turn */
            if (!rt->nadds)
                event_active(rt->flush, EV_TIMEOUT, 0);
            rt->adds[rt->nadds++] = (struct route_add){.sess = s->ss.id, .i = i};
        } else {
            route_added(s, r, route_msg(rt, r, true, false));
        }
    }
}

void ike_route_remove(struct ike_sess *s)
{
    struct ike_rtnl *rt = s->e->rt;

    for (size_t i = 0; rt && i < s->nroutes; i++) {
        int rc;

        if (!s->routes[i].installed)
            continue;
        rc = route_msg(rt, &s->routes[i], false, true); /* an error is logged when read */
        if (rc)
            log_warn("ike", "session %" PRIu64 ": cannot remove its route: %s", s->ss.id, strerror(-rc));
    }
    free(s->routes);
    s->routes = NULL;
    s->nroutes = 0;
}
