/* Internals of the dataplane shared by the table (dp_table.c), the interface and
 * worker set-up (dp_xsk.c) and packet processing (dp_fwd.c).
 *
 * Concurrency: the control thread is the only writer of the tables; workers read
 * them under userspace RCU (QSBR flavour: workers report a quiescent state after
 * every burst and go offline while they sleep). The control thread registers as an
 * RCU thread lazily and stays offline but while it touches the lock-free tables. */
#ifndef RAVEN_DATAPLANE_DP_INT_H
#define RAVEN_DATAPLANE_DP_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <urcu-qsbr.h>
#include <urcu/rculfhash.h>
#include <uthash.h>
#include "dataplane/dp.h"
#include "dataplane/esp.h"

#define DP_CACHELINE 64

/* Per-worker counters of one SA (summed on read). */
struct dp_sa_ctr {
    uint64_t packets, bytes, replay, auth, selector;
} __attribute__((aligned(DP_CACHELINE)));

/* The outer header an outbound SA sends with (replaced whole on a session move). */
struct dp_outer {
    struct rcu_head rcu;
    uint32_t local, peer;       /* IPv4, network order */
    uint16_t local_port, peer_port; /* network order */
    bool udp_encap;
};

/* An SA as the workers see it. Keys and parameters are immutable once published;
 * the sequence counter, replay window and counters change under the rules noted. */
struct dp_rsa {
    struct cds_lfht_node in_node; /* in dp->in_ht (inbound SAs) */
    struct rcu_head rcu;
    struct dp_sa conf;            /* as added (keys, selectors, limits) */
    struct esp_params params;     /* points into conf */
    struct dp_outer *outer;       /* RCU pointer */
    _Atomic uint64_t seq;         /* outbound: last sequence number used */
    pthread_spinlock_t replay_lock; /* inbound: check + update of the window */
    struct esp_replay replay;
    _Atomic(struct esp_xform *) xf[DP_MAX_WORKERS]; /* made by each worker on first use */
    struct dp_sa_ctr ctr[DP_MAX_WORKERS];
    bool soft_reported;           /* control thread only */
};

/* A client prefix routed to an outbound SA. */
struct dp_route_key {
    uint8_t family, plen;
    uint8_t addr[16]; /* masked */
};

struct dp_route {
    struct cds_lfht_node node;
    struct rcu_head rcu;
    struct dp_route_key key;
    struct dp_rsa *_Atomic sa; /* the newest outbound SA with this selector */
    unsigned refs;             /* control thread: SAs that carry the prefix */
    UT_hash_handle hh;         /* control thread's index of the same routes */
};

/* Per-interface, per-worker counters. */
struct dp_if_ctr {
    uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes, to_kernel;
    uint64_t drops[DP_DROP_N];
} __attribute__((aligned(DP_CACHELINE)));

struct dp_iface {
    struct dp_if_conf conf;
    int ifindex;
    uint16_t nq;
    enum dp_mode_in_use mode;
    struct xdp_program *prog;
    int xsks_fd, stats_fd;
    struct dp_if_ctr ctr[DP_MAX_WORKERS];
    uint64_t xdp_pass_base; /* XDP pass count at the last counter reset */
};

struct dp_wk_ctr {
    uint64_t dec_packets, dec_bytes, enc_packets, enc_bytes;
    uint64_t busy_polls, idle_polls, busy_ns;
} __attribute__((aligned(DP_CACHELINE)));

struct dp_worker;

/* The control-thread side index of SAs (all, both directions). */
struct dp_entry {
    struct {
        uint64_t session;
        uint32_t spi;
        uint32_t inbound;
    } key;
    struct dp_rsa *rsa;
    UT_hash_handle hh;
};

struct dp_nl;

struct dp {
    /* control thread */
    struct dp_entry *sas;
    struct dp_route *routes;
    /* shared with workers */
    struct cds_lfht *in_ht;          /* inbound SPI -> dp_rsa */
    struct cds_lfht *route_ht;       /* dp_route_key -> dp_route */
    _Atomic uint64_t plens4[1], plens6[3]; /* prefix lengths in use, for LPM */
    unsigned plen_refs4[33], plen_refs6[129];
    /* interfaces and workers */
    struct dp_nl *nl;
    int clients4_fd, clients6_fd, local_fd; /* maps shared by every program instance */
    size_t nifaces;
    struct dp_iface *ifaces[DP_MAX_IFACES];
    size_t nworkers;
    struct dp_worker *workers[DP_MAX_WORKERS];
    struct dp_wk_ctr wctr[DP_MAX_WORKERS];
    _Atomic bool stop;
};

/* Control-thread RCU bracket for table updates (registers the thread once). */
void dp_rcu_enter(void);
void dp_rcu_leave(void);

/* Worker-side lookups (RCU read side, online). */
struct dp_rsa *dp_lookup_in(struct dp *dp, uint32_t spi);
struct dp_rsa *dp_lookup_route(struct dp *dp, int family, const uint8_t *addr);
bool dp_sel_match(const struct dp_sa *sa, int family, const uint8_t *addr);

/* dp_xsk.c */
int dp_lpm_update(struct dp *dp, const struct dp_route_key *k, bool add);
void dp_ifaces_free(struct dp *dp);

/* dp_fwd.c: one worker's loop */
void *dp_worker_main(void *arg);

#endif

/* Workers (dp_xsk.c sets them up, dp_fwd.c runs them). */
#include <xdp/xsk.h>

#define DP_FRAME_SIZE 4096u
#define DP_FRAMES 8192u
#define DP_RING 2048u
#define DP_BATCH 64u

/* One AF_XDP socket of a worker: its queue on one interface. */
struct dp_xs {
    struct dp_iface *ifc;
    unsigned ifx; /* index in dp->ifaces (counters) */
    struct xsk_socket *xsk;
    struct xsk_ring_cons rx, cq;
    struct xsk_ring_prod tx, fq;
    uint32_t tx_outstanding;
    uint32_t ntx;
    struct xdp_desc txq[DP_BATCH * DP_MAX_IFACES];
    unsigned mtu;        /* interface MTU, refreshed about once a second */
    bool has_addr4;
    struct in_addr addr4; /* source of ICMP errors sent on this interface */
};

struct dp_worker {
    struct dp *dp;
    unsigned id, queue, cpu;
    pthread_t th;
    bool running;
    void *area;
    struct xsk_umem *umem;
    uint64_t *free;
    uint32_t nfree;
    size_t nxs;
    struct dp_xs xs[DP_MAX_IFACES];
    int raw4, raw6;
    uint16_t ip_id;
    uint64_t mtu_checked_ns;
};

/* A frame back to the worker's pool. */
static inline void dp_frame_put(struct dp_worker *w, uint64_t addr)
{
    w->free[w->nfree++] = addr & ~(uint64_t)(DP_FRAME_SIZE - 1);
}
