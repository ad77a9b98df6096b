/* The IKEv2 service's life cycle and configuration (see ike_engine.h): sockets and
 * their receive path, the engine's creation and end, the transaction hooks that
 * compile a configuration, move leases and open or close sockets, and
 * clear-session. Received messages go to ike_engine.c, which hands them to the
 * exchanges' files (README.md). */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/base/cpool.h"
#include "daemon/base/log.h"
#include "daemon/ike/ike_certcheck.h"
#include "daemon/ike/ike_eng.h"
#include "daemon/pki/pki_crl.h"
#include "daemon/pool/pool.h"
#include "daemon/base/poison.h"

#define IKE_RCVBUF (8 << 20) /* bytes of an IKE socket's receive buffer */

#define IKE_RX_BATCH 16 /* datagrams taken from the kernel in one recvmmsg */
#define IKE_RX_ROUNDS 4 /* recvmmsg calls per wake-up, before other events get their turn */

/* The datagram @mh (@n bytes) that arrived on @sk, to the engine. */
static void rx_one(struct ike_sock *sk, struct msghdr *mh, size_t n)
{
    struct sockaddr_storage local = sk->addr;
    const uint8_t *p = mh->msg_iov->iov_base;

    sk->rx_ifindex = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO && local.ss_family == AF_INET) {
            struct in_pktinfo pi;

            memcpy(&pi, CMSG_DATA(c), sizeof(pi));
            ((struct sockaddr_in *)&local)->sin_addr = pi.ipi_addr;
            sk->rx_ifindex = pi.ipi_ifindex;
        } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO && local.ss_family == AF_INET6) {
            struct in6_pktinfo pi;

            memcpy(&pi, CMSG_DATA(c), sizeof(pi));
            ((struct sockaddr_in6 *)&local)->sin6_addr = pi.ipi6_addr;
            sk->rx_ifindex = (int)pi.ipi6_ifindex;
        }
    }
    if (sk->natt) {
        /* RFC 3948: a NAT keepalive is one 0xFF byte; ESP has a non-zero SPI where
         * IKE has the zero non-ESP marker (ESP belongs to the dataplane) */
        if (n == 1 && p[0] == 0xff)
            return;
        if (n < 4 || memcmp(p, "\0\0\0\0", 4)) {
            sk->e->c.dropped++;
            return;
        }
        p += 4;
        n -= 4;
    }
    ike_handle_dgram(sk, &local, mh->msg_name, p, n);
}

/* Datagrams in batches (one system call for up to IKE_RX_BATCH of them, and
 * one for the COOKIEs they are answered with: a flood's cost per datagram
 * falls), at most IKE_RX_ROUNDS batches a turn. */
static void on_read(evutil_socket_t fd, short what, void *arg)
{
    static uint8_t bufs[IKE_RX_BATCH][IKE_MAX_MSG_LEN + 4];
    static union {
        char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
        struct cmsghdr align;
    } cms[IKE_RX_BATCH];
    static struct sockaddr_storage peers[IKE_RX_BATCH];
    static struct iovec iovs[IKE_RX_BATCH];
    static struct mmsghdr mm[IKE_RX_BATCH];
    struct ike_sock *sk = arg;

    (void)what;
    for (int round = 0; round < IKE_RX_ROUNDS; round++) {
        int n;

        for (int i = 0; i < IKE_RX_BATCH; i++) {
            iovs[i] = (struct iovec){.iov_base = bufs[i], .iov_len = sizeof(bufs[i])};
            mm[i].msg_hdr = (struct msghdr){.msg_name = &peers[i], .msg_namelen = sizeof(peers[i]),
                                            .msg_iov = &iovs[i], .msg_iovlen = 1, .msg_control = cms[i].buf,
                                            .msg_controllen = sizeof(cms[i].buf)};
        }
        n = recvmmsg(fd, mm, IKE_RX_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return;
        sk->batch = true; /* the batch's COOKIEs go out together (ike_xmit_short) */
        for (int i = 0; i < n; i++)
            rx_one(sk, &mm[i].msg_hdr, mm[i].msg_len);
        sk->batch = false;
        ike_xmit_flush();
        if (n < IKE_RX_BATCH)
            return;
    }
}

/* ---- sockets ---- */

static void sock_close(struct ike_sock *sk)
{
    if (!sk)
        return;
    ike_xmit_drain(); /* nothing queued may outlive its socket */
    if (sk->ev)
        event_free(sk->ev);
    if (sk->fd >= 0)
        close(sk->fd);
    free(sk);
}

/* A socket on @addr, in front-door VRF @vrf ("" the default table): bound to the
 * VRF device, it receives what arrives on that VRF's interfaces and sends by its
 * table. With @share (SO_REUSEADDR, when there are VRFs) the default table's
 * socket and the VRFs' share the port: the kernel gives each packet to the socket
 * of its VRF. Without VRFs a port held elsewhere stays an error. */
static int sock_open(struct ike_engine *e, const struct sockaddr_storage *addr, bool natt, const char *vrf,
                     bool share, struct ike_sock **out)
{
    struct ike_sock *sk = calloc(1, sizeof(*sk));
    int one = 1, rc;

    if (!sk)
        return -ENOMEM;
    sk->e = e;
    sk->serial = ++e->sock_serial;
    sk->addr = *addr;
    sk->natt = natt;
    snprintf(sk->vrf, sizeof(sk->vrf), "%s", vrf);
    sk->fd = socket(addr->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (sk->fd < 0)
        goto fail;
    if (share)
        setsockopt(sk->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (vrf[0] && setsockopt(sk->fd, SOL_SOCKET, SO_BINDTODEVICE, vrf, (socklen_t)strlen(vrf)))
        goto fail;
    if (addr->ss_family == AF_INET)
        setsockopt(sk->fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
    else {
        setsockopt(sk->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        setsockopt(sk->fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
    }
    /* room for a flood's bursts while the control thread is busy or not
     * scheduled, so that a client's request is not lost among spoofed ones
     * (beyond net.core.rmem_max with CAP_NET_ADMIN; else what it allows) */
    if (setsockopt(sk->fd, SOL_SOCKET, SO_RCVBUFFORCE, &(int){IKE_RCVBUF}, sizeof(int)))
        setsockopt(sk->fd, SOL_SOCKET, SO_RCVBUF, &(int){IKE_RCVBUF}, sizeof(int));
    if (bind(sk->fd, (const struct sockaddr *)addr, ike_sa_len(addr)))
        goto fail;
    /* read from apply on (sock_start): until then the kernel only queues */
    sk->ev = event_new(e->base, sk->fd, EV_READ | EV_PERSIST, on_read, sk);
    if (!sk->ev)
        goto fail;
    *out = sk;
    return 0;
fail:
    rc = errno ? -errno : -ENOMEM;
    sock_close(sk);
    return rc;
}

static void sock_start(struct ike_sock *sk)
{
    if (event_add(sk->ev, NULL))
        log_err("ike", "cannot watch the IKE socket on port %u: %s", ike_port_of(&sk->addr), strerror(errno));
}

/* ---- engine ---- */

static void on_dp_poll(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    sess_dp_poll(&((struct ike_engine *)arg)->sm);
    ike_mobike_dp_poll(arg); /* ESP from new NAT mappings (RFC 7296 2.23) */
}

struct ike_engine *ike_engine_new(struct event_base *base, const struct ly_ctx *ctx, struct dp *dp)
{
    struct ike_engine *e = calloc(1, sizeof(*e));

    if (!e)
        return NULL;
    e->base = base;
    sess_mgr_init(&e->sm, base, &ike_sess_ops);
    e->ctx = ctx;
    e->dp = dp;
    sess_mgr_set_dp(&e->sm, dp, NULL);
    e->c.discontinuity = time(NULL);
    e->redirect_grace_ms = IKE_REDIRECT_GRACE_S * 1000;
    for (int i = 0; i < 2; i++)
        e->detached[i] = (struct ike_sock){.fd = -1, .natt = i == 1, .e = e, .keep = true};
    /* the first cookie secret (no previous one: no cookie of version 0 is good) */
    ike_cookie_rotate(e);
    if (!e->cookie_mac[0]) {
        free(e);
        return NULL;
    }
    if (base && (e->ev_dp = event_new(base, -1, EV_PERSIST, on_dp_poll, e))) {
        struct timeval tv = {.tv_sec = 1};
        event_add(e->ev_dp, &tv);
    }
    if (base)
        e->dhcp = dhcp_client_new(base);
    sess_mgr_set_dhcp(&e->sm, e->dhcp);
    return e;
}

void ike_engine_set_output(struct ike_engine *e, ike_output_fn out, void *arg)
{
    e->output = out;
    e->output_arg = arg;
}

void ike_engine_input(struct ike_engine *e, const struct sockaddr_storage *local, const struct sockaddr_storage *peer,
                      bool natt, const uint8_t *buf, size_t len)
{
    struct ike_sock *sk = &e->detached[natt ? 1 : 0];

    sk->addr = *local;
    ike_handle_dgram(sk, local, peer, buf, len);
}

void ike_engine_free(struct ike_engine *e)
{
    struct ike_sess *s, *tmp;

    if (!e)
        return;
    if (e->crl)
        pki_crl_set_notify(e->crl, NULL, NULL); /* the cache outlives the engine */
    HASH_ITER(hh_id, e->by_id, s, tmp) {
        if (s->state == IKE_SA_DELETING || e->keeping)
            ike_sess_abandon(s); /* kept: the next process takes it over from the arena */
        else
            ike_sess_end(s, "admin-clear", true);
    }
    HASH_ITER(hh_r, e->by_r, s, tmp)
        ike_sess_abandon(s); /* half-open SAs and the stubs of rekeyed ones */
    cpool_free(e->pool); /* after the sessions: the jobs still out are dropped */
    e->pool = NULL;
    ike_initx_stop(e);
    e->nlent = 0; /* the sockets go */
    for (size_t i = 0; i < e->nsocks; i++)
        sock_close(e->socks[i]);
    ike_xmit_stop();
    ike_engine_abort(e);
    /* the engine's reference; sessions are gone, and whatever frees one later
     * finds no configuration in force */
    ike_conf_unref(e->conf);
    e->conf = NULL;
    ike_conf_flush(); /* generations replaced by the last commits */
    sess_mgr_set_pools(&e->sm, NULL, NULL);
    ike_route_stop(e);
    dhcp_client_free(e->dhcp); /* after the sessions: their leases are released */
    if (e->ev_dp)
        event_free(e->ev_dp);
    if (e->ev_persist)
        event_free(e->ev_persist);
    free(e->dirty);
    ike_cookie_fini(e);
    free(e);
}

unsigned ike_crypto_threads_auto(unsigned cpus)
{
    if (!cpus)
        return 1;
    return cpus > IKE_CRYPTO_THREADS_MAX ? IKE_CRYPTO_THREADS_MAX : cpus;
}

/* The CPUs this process may run on (a taskset or a container's cpuset counts),
 * else the online ones. */
static unsigned usable_cpus(void)
{
    cpu_set_t set;
    long n;

    if (!sched_getaffinity(0, sizeof(set), &set))
        return (unsigned)CPU_COUNT(&set);
    n = sysconf(_SC_NPROCESSORS_ONLN); /* more CPUs than a cpu_set_t holds */
    return n > 0 ? (unsigned)n : 1;
}

int ike_engine_set_crypto_threads(struct ike_engine *e, unsigned n)
{
    unsigned threads, cap;

    if (e->pool || (n != IKE_CRYPTO_THREADS_AUTO && n > IKE_CRYPTO_THREADS_MAX))
        return -EINVAL;
    threads = n == IKE_CRYPTO_THREADS_AUTO ? ike_crypto_threads_auto(usable_cpus()) : n;
    if (!threads)
        return 0;
    cap = IKE_CRYPTO_QUEUE_PER_THREAD * threads;
    if (cap < IKE_CRYPTO_QUEUE_MIN)
        cap = IKE_CRYPTO_QUEUE_MIN;
    e->pool = cpool_new(e->base, threads, cap);
    if (!e->pool)
        return -ENOMEM;
    log_info("ike", "%u crypto threads for IKE_SA_INIT, a queue of %u", threads, cap);
    return 0;
}

void ike_engine_set_event(struct ike_engine *e, ike_event_fn fn, void *arg)
{
    e->event = fn;
    e->event_arg = arg;
}

void ike_engine_set_event_wanted(struct ike_engine *e, ike_event_wanted_fn fn)
{
    e->event_wanted = fn;
}

void ike_engine_set_event_xml(struct ike_engine *e, ike_event_xml_fn fn)
{
    e->event_xml = fn;
}

void ike_engine_set_aaa(struct ike_engine *e, struct aaa *aaa)
{
    e->aaa = aaa;
    sess_mgr_set_aaa(&e->sm, aaa);
}

static void misfit(const char *pool, uint32_t addr, uint64_t owner, void *arg)
{
    struct ike_engine *e = arg;
    struct ike_sess *s;
    struct in_addr ia = {.s_addr = htonl(addr)};
    char a[INET_ADDRSTRLEN], msg[512], path[300];

    HASH_FIND(hh_id, e->by_id, &owner, sizeof(owner), s);
    inet_ntop(AF_INET, &ia, a, sizeof(a));
    snprintf(path, sizeof(path), "/raven-vpn:pools/ipv4-pool[name='%s']", pool);
    snprintf(msg, sizeof(msg),
             "the change takes address %s of pool %s away from session %" PRIu64 " (%s); keep the address in "
             "the pool (and in this headend's slice of it, pools/partition) or clear the session first",
             a, pool, owner, s && s->ss.remote_id ? s->ss.remote_id : "?");
    if (e->err)
        e->err(e->err_arg, path, msg);
    e->nerr++;
}

static void misfit6(const char *pool, uint32_t index, uint64_t owner, void *arg)
{
    struct ike_engine *e = arg;
    struct ike_sess *s;
    char a[INET6_ADDRSTRLEN] = "?", msg[512], path[300];
    uint8_t raw[16];
    unsigned alen = 128;

    HASH_FIND(hh_id, e->by_id, &owner, sizeof(owner), s);
    if (!*pool) { /* a claim (pool_set_carry): AAA's address now shares a pool prefix with another session's */
        snprintf(msg, sizeof(msg),
                 "the change puts the IPv6 address AAA gave session %" PRIu64 " (%s) into a pool prefix another "
                 "session holds, or makes it span prefixes a pool hands out; change the IPv6 pools or clear one of "
                 "the sessions first",
                 owner, s && s->ss.remote_id ? s->ss.remote_id : "?");
        if (e->err)
            e->err(e->err_arg, "/raven-vpn:pools/ipv6-pool", msg);
        e->nerr++;
        return;
    }
    if (e->conf && pool6_addr(e->conf->pools6, pool, index, raw, &alen))
        inet_ntop(AF_INET6, raw, a, sizeof(a));
    snprintf(path, sizeof(path), "/raven-vpn:pools/ipv6-pool[name='%s']", pool);
    snprintf(msg, sizeof(msg),
             "the change takes prefix %s/%u of IPv6 pool %s away from session %" PRIu64 " (%s); keep the pool "
             "and its partition as they are or clear the session first",
             a, alen, pool, owner, s && s->ss.remote_id ? s->ss.remote_id : "?");
    if (e->err)
        e->err(e->err_arg, path, msg);
    e->nerr++;
}

static struct ike_sock *find_sock(struct ike_sock *const *v, size_t n, const struct sockaddr_storage *a, bool natt,
                                  const char *vrf)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i]->natt == natt && ike_sa_equal(&v[i]->addr, a) && !strcmp(v[i]->vrf, vrf))
            return v[i];
    }
    return NULL;
}

/* The sockets of listen address @a, port kind @natt: in the default table and
 * each front-door VRF of @c that has the address (a specific address is in one
 * table or some; the wildcard in all). 0 when at least one is open or kept and
 * no table that has the address refused it. With @dry_run a new socket is closed
 * as soon as it is bound and a live one is not marked as kept: only the check
 * remains. A live socket given SO_REUSEADDR here gets its setting back at abort
 * (a dry run is always aborted). */
static int listen_on(struct ike_engine *e, const struct ike_conf *c, const struct sockaddr_storage *a, bool natt,
                     bool dry_run)
{
    int first = 0, opened = 0, hard = 0;

    for (size_t v = 0; v <= c->nfvrf; v++) {
        const char *vrf = v ? c->fvrf[v - 1] : "";
        struct ike_sock *sk = find_sock(e->socks, e->nsocks, a, natt, vrf);
        int rc;

        if (sk) {
            int one = 1, was = 1;
            socklen_t wl = sizeof(was);

            sk->keep = sk->keep || !dry_run;
            opened++;
            /* a socket of the default table kept from before there were VRFs
             * must let the VRFs' bind the port too; lent until apply */
            if (c->nfvrf && !getsockopt(sk->fd, SOL_SOCKET, SO_REUSEADDR, &was, &wl) && !was &&
                e->nlent < IKE_MAX_SOCKS)
                e->lent[e->nlent++] = sk;
            if (c->nfvrf)
                setsockopt(sk->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
            continue;
        }
        if (find_sock(e->new_socks, e->nnew_socks, a, natt, vrf)) {
            opened++;
            continue;
        }
        if (e->nnew_socks == IKE_MAX_SOCKS)
            return -ENOSPC;
        rc = sock_open(e, a, natt, vrf, c->nfvrf > 0, &sk);
        if (!rc && dry_run) { /* it could listen: that is all a dry run asks */
            sock_close(sk);
            opened++;
        } else if (!rc) {
            e->new_socks[e->nnew_socks++] = sk;
            opened++;
        } else {
            if (!first)
                first = rc;
            if (rc != -EADDRNOTAVAIL && !hard) /* not merely an address of another table */
                hard = rc;
        }
    }
    return hard ? hard : opened ? 0 : first;
}

int ike_engine_prepare(struct ike_engine *e, const struct lyd_node *tree, bool dry_run, ike_err_fn err, void *arg)
{
    return ike_engine_prepare_changed(e, tree, NULL, 0, dry_run, err, arg);
}

int ike_engine_prepare_changed(struct ike_engine *e, const struct lyd_node *tree, const char *const *changed,
                               size_t nchanged, bool dry_run, ike_err_fn err, void *arg)
{
    struct ike_conf *c;

    ike_engine_abort(e);
    e->err = err;
    e->err_arg = arg;
    e->nerr = 0;
    c = ike_conf_build_delta(e->ctx, tree, e->conf, changed, nchanged, err, arg);
    if (!c) {
        e->err = NULL;
        return -EINVAL;
    }
    /* leases of live sessions are copied into the new pools (the live pools are
     * the engine's until apply switches to the new configuration); when no pool
     * changed, apply hands the live ones over instead */
    if (e->conf && !c->pools_moved &&
        (pool_set_carry(c->pools, e->conf->pools, misfit, e) +
         pool_set_carry(c->pools6, e->conf->pools6, misfit6, e))) {
        ike_conf_unref(c);
        e->err = NULL;
        return -EBUSY;
    }
    /* keep marks the sockets the new configuration still listens on; apply reads
     * them, and a dry run (never applied) does not touch them */
    for (size_t i = 0; i < e->nsocks && !dry_run; i++)
        e->socks[i]->keep = false;
    for (size_t i = 0; i < c->nlisten; i++) {
        for (int natt = 0; natt < 2; natt++) {
            struct sockaddr_storage a = c->listen[i];
            int rc;

            ike_set_port(&a, natt ? c->natt_port : c->port);
            rc = listen_on(e, c, &a, natt, dry_run);
            if (rc) {
                char as[INET6_ADDRSTRLEN], msg[300];

                snprintf(msg, sizeof(msg), "IKE cannot listen on %s port %u: %s; choose another address or port",
                         ike_addr_str(&a, as, sizeof(as)), ike_port_of(&a), strerror(-rc));
                if (err)
                    err(arg, "/raven-vpn:ikev2/global/listen", msg);
                ike_conf_unref(c);
                e->err = NULL;
                ike_engine_abort(e);
                return rc;
            }
        }
    }
    e->pending = c;
    e->err = NULL;
    return 0;
}

void ike_engine_apply(struct ike_engine *e)
{
    struct ike_sock *keep[IKE_MAX_SOCKS];
    struct ike_sess *s, *tmp;
    unsigned int old_pct;
    size_t n = 0;

    if (!e->pending)
        return;
    for (size_t i = 0; i < e->nsocks; i++) {
        if (e->socks[i]->keep) {
            keep[n++] = e->socks[i];
            continue;
        }
        /* SAs on a socket that goes away keep running: their messages are sent
         * from another socket of the same port if there is one. Every SA is in
         * the SPI table: half-open, established and the stubs of rekeyed ones. */
        HASH_ITER(hh_r, e->by_r, s, tmp) {
            if (s->sock == e->socks[i])
                s->sock = NULL;
            if (s->mob.rx.sock == e->socks[i])
                s->mob.rx.sock = NULL;
            if (s->mob.mv && s->mob.mv->rr_to.sock == e->socks[i])
                s->mob.mv->rr_to.sock = NULL;
        }
        sock_close(e->socks[i]);
    }
    for (size_t i = 0; i < e->nnew_socks; i++) {
        sock_start(e->new_socks[i]);
        keep[n++] = e->new_socks[i];
    }
    memcpy(e->socks, keep, n * sizeof(keep[0]));
    e->nsocks = n;
    e->nnew_socks = 0;
    e->nlent = 0; /* the configuration in force has VRFs: the port is shared */
    HASH_ITER(hh_r, e->by_r, s, tmp) {
        if (!s->sock) {
            for (size_t i = 0; i < e->nsocks; i++) {
                if (e->socks[i]->natt == (ike_port_of(&s->local) == e->pending->natt_port) &&
                    e->socks[i]->addr.ss_family == s->local.ss_family && !strcmp(e->socks[i]->vrf, s->fvrf))
                    s->sock = e->socks[i];
            }
        }
    }
    /* the new generation is in force, numbered after the one it replaces; the
     * old one's address book goes (its leases moved at prepare), the rest of it
     * lives on with the sessions negotiated under it (ike_conf.h) */
    e->pending->generation = (e->conf ? e->conf->generation : 0) + 1;
    old_pct = e->conf ? e->conf->pool_alarm_pct : 0;
    ike_conf_take_pools(e->pending, e->conf); /* no pool changed: the same address book goes on */
    if (e->conf && e->conf->refs > 1) { /* sessions keep it: without the address book */
        pool_set_free(e->conf->pools);
        pool_set_free(e->conf->pools6);
        e->conf->pools = e->conf->pools6 = NULL;
    }
    ike_certcheck_report(e, e->conf, e->pending);
    /* the last reference (no session negotiated under it) goes with its
     * address book in the next turn of the loop: the commit's reply does not
     * wait for it */
    ike_conf_unref_later(e->conf, e->base);
    e->conf = e->pending;
    e->pending = NULL;
    sess_mgr_set_pools(&e->sm, e->conf->pools, e->conf->pools6);
    pool_set_alarms(e->conf->pools, e->conf->pools6, old_pct, e->conf->pool_alarm_pct);
    ike_certcheck_alarms(e->conf);
    /* the dataplane takes ESP in UDP on the NAT traversal port and hands IKE
     * fragmented on either port to the sockets opened above: the ports in force
     * (the defaults without listen configuration), also for sessions adopted
     * from an earlier process, whose programs this process's replace */
    if (e->dp)
        dp_set_udp_ports(e->dp, &e->conf->natt_port, 1, &e->conf->port, 1);
    pki_crl_sync(e->crl, e->conf->tps, e->conf->ntps); /* crl-url sources follow the trustpoints */
    {
        char a[INET6_ADDRSTRLEN];

        for (size_t i = 0; i < e->conf->nlisten; i++)
            log_info("ike", "listening on %s ports %u and %u", ike_addr_str(&e->conf->listen[i], a, sizeof(a)),
                     e->conf->port, e->conf->natt_port);
        for (size_t i = 0; i < e->conf->nfvrf; i++)
            log_info("ike", "listening in front-door VRF %s too", e->conf->fvrf[i]);
    }
}

void ike_engine_abort(struct ike_engine *e)
{
    for (size_t i = 0; i < e->nlent; i++) {
        int zero = 0;

        setsockopt(e->lent[i]->fd, SOL_SOCKET, SO_REUSEADDR, &zero, sizeof(zero));
    }
    e->nlent = 0;
    for (size_t i = 0; i < e->nnew_socks; i++)
        sock_close(e->new_socks[i]);
    e->nnew_socks = 0;
    ike_conf_unref(e->pending);
    e->pending = NULL;
}

/* Whether @identity names the session as the model's clear-session says: its
 * IKE identity, its EAP identity or its authorized user. */
static bool sess_has_identity(const struct ike_sess *s, const char *identity)
{
    return (s->ss.remote_id && !strcmp(s->ss.remote_id, identity)) ||
           (s->ss.eap_identity && !strcmp(s->ss.eap_identity, identity)) ||
           (s->ss.user && !strcmp(s->ss.user, identity));
}

uint32_t ike_engine_clear(struct ike_engine *e, uint64_t id, const char *peer, const char *identity, bool all)
{
    struct ike_sess *s, *tmp;
    uint32_t n = 0;

    HASH_ITER(hh_id, e->by_id, s, tmp) {
        char a[INET6_ADDRSTRLEN];

        if (!ike_sa_up(s))
            continue;
        if (all || (id && s->ss.id == id) || (peer && !strcmp(ike_addr_str(&s->peer, a, sizeof(a)), peer)) ||
            (identity && sess_has_identity(s, identity))) {
            ike_sess_end(s, "admin-clear", true);
            n++;
        }
    }
    return n;
}

void ike_engine_clear_counters(struct ike_engine *e)
{
    memset(&e->c, 0, sizeof(e->c));
    e->c.discontinuity = time(NULL);
}

void ike_engine_check_certs(struct ike_engine *e)
{
    if (e && e->conf)
        ike_certcheck_alarms(e->conf);
}
