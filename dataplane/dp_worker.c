/* A dataplane worker's loop: its rings (completions reclaimed, fill rings
 * refilled, receive bursts handed to dp_fwd.c, transmit kicks), the interfaces'
 * MTU and addresses re-read about once a second, and what it does when idle. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include "dataplane/dp_int.h"
#include "dataplane/dp_nl.h"

/* Idle strategy: a few empty rounds spinning; then, while traffic was seen in the
 * last COALESCE_NS, naps that let packets gather (a wake-up costs what tens of
 * packets cost: some 20 us of switching out and in on a loaded VM); after that,
 * poll() until the kernel signals one. The nap follows the traffic: it doubles
 * (up to NAP_MAX_NS) while the round after a nap finds fewer than NAP_LOW packets
 * and halves (down to NAP_MIN_NS) when it finds NAP_HIGH or more, so that a
 * steady flow is taken in bursts of a few tens of packets, with at most
 * NAP_MAX_NS (and the timer's slack) of added latency. */
#define IDLE_SPINS 8
#define COALESCE_NS 2000000u
#define NAP_MIN_NS 25000u
#define NAP_START_NS 100000u
#define NAP_MAX_NS 200000u
#define NAP_LOW 16u
#define NAP_HIGH 48u

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
    /* datagrams whose fragments stopped coming go (and are counted) even when no
     * other fragment arrives to find them out */
    dp_frag_expire(&w->frag, t);
}

void *dp_worker_main(void *arg)
{
    struct dp_worker *w = arg;
    struct dp *dp = w->dp;
    struct pollfd pfd[DP_MAX_IFACES];
    unsigned idle = 0;
    uint32_t nap_ns = NAP_START_NS;
    bool napped = false;
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
            done += dp_rx_burst(w, &w->xs[i]);
        for (size_t i = 0; i < w->nxs; i++) {
            dp_tx_flush(w, &w->xs[i]);
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
        if (napped) {
            /* what the nap let gather decides the next one's length */
            if (done < NAP_LOW && nap_ns < NAP_MAX_NS)
                nap_ns *= 2;
            else if (done >= NAP_HIGH && nap_ns > NAP_MIN_NS)
                nap_ns /= 2;
            napped = false;
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
            struct timespec nap = {.tv_nsec = nap_ns > NAP_MAX_NS ? NAP_MAX_NS : nap_ns};
            nanosleep(&nap, NULL);
            napped = true;
        } else {
            nap_ns = NAP_START_NS;
            dp->wctr[w->id].idle_polls++;
            poll(pfd, w->nxs, 100);
        }
        rcu_thread_online();
    }
    rcu_unregister_thread();
    return NULL;
}
