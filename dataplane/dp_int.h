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
#include <stddef.h>
#include <stdatomic.h>
#include <urcu-qsbr.h>
#include <urcu/rculfhash.h>
#include <uthash.h>
#include "dataplane/dp.h"
#include "dataplane/dp_frag.h"
#include "dataplane/esp.h"

#define DP_CACHELINE 64

/* The outer header an outbound SA sends with (replaced whole on a session move). */
struct dp_outer {
    struct rcu_head rcu;
    int family;                 /* AF_INET, AF_INET6; 0: no usable addresses (nothing sent) */
    uint8_t local[16], peer[16]; /* network order; IPv4 in the first 4 bytes */
    uint16_t local_port, peer_port; /* network order */
    bool udp_encap;
};

/* One direction's bucket of a session's bandwidth limit (dp_police.c). GCRA
 * (the virtual scheduling form of a token bucket): tat is when the bucket is
 * full again (ns of CLOCK_MONOTONIC); a packet of L bytes passes when, charged
 * L * cost, the debt beyond now stays within tau, the burst's time, or when
 * the bucket is full. cost is ns per byte in 16.16 fixed point, 0: no limit.
 * Written by the control thread (cost and tau under the sequence count seq,
 * odd while they change; tat reset), raced by workers on tat only
 * (compare-and-swap). */
struct dp_bucket {
    _Atomic uint64_t tat, cost, tau;
    _Atomic unsigned seq;
};

/* A session's limits, shared by its SAs (dp_rsa.police). Control thread: the
 * hash by session, refs (its SAs), wanted (dp_session_police set, not yet
 * dp_session_police_del): freed after a grace period once neither holds. */
struct dp_police {
    struct dp_bucket b[2]; /* [0] inbound, [1] outbound */
    _Atomic uint64_t drop_packets[2], drop_bytes[2];
    struct rcu_head rcu;
    uint64_t session_id;
    unsigned refs;
    bool wanted;
    UT_hash_handle hh;
};

struct dp_rsa;
struct dp;

/* Whether bucket @b lets @len bytes pass at @now_ns (worker side). */
bool dp_bucket_take(struct dp_bucket *b, uint64_t now_ns, size_t len);
/* Sets @b to @c (control thread side; starts full). */
void dp_bucket_set(struct dp_bucket *b, const struct dp_police_conf *c);
/* dp_police.c, control thread: the SA @r joins the limits of its session, if
 * any (at add), or leaves them (at delete, after the grace period). */
void dp_police_attach(struct dp *dp, struct dp_rsa *r);
void dp_police_detach(struct dp *dp, struct dp_rsa *r);
void dp_police_free_all(struct dp *dp);

/* An SA as the workers see it. Keys and parameters are immutable once published;
 * what packets change (sequence number, replay window, counters, hard lifetime
 * charge) is in *live, under the rules noted there. The fields every packet reads
 * come first (the hash node the lookup walks, copies of the configuration's
 * per-packet scalars, the live state's and outer header's pointers, the window
 * and its lock, the transforms): two cache lines before the transforms, apart
 * from the keys, selectors and control-thread fields that follow. */
struct dp_rsa {
    /* hot */
    struct cds_lfht_node in_node; /* in dp->in_ht (inbound SAs) */
    uint32_t spi;                 /* = conf.spi */
    bool inbound, esn;            /* = conf.inbound, conf.esn */
    uint16_t tcp_mss, mtu;        /* = conf.tcp_mss, conf.mtu */
    int vrf;                      /* = conf.vrf */
    uint64_t hard_bytes, hard_packets; /* = conf.hard_bytes, conf.hard_packets */
    /* the caller's (dp_sa.live) or own_live: the sequence number (outbound, one
     * atomic add per packet), the replay window's top and bits (inbound, under
     * replay_lock), the per-worker counters (each worker its own), the hard
     * lifetime's charge (atomic adds, only when the SA has a hard limit) */
    struct dp_sa_live *live;
    struct dp_outer *outer;       /* RCU pointer */
    struct esp_replay replay;     /* the window's size and ESN (its state: *live) */
    /* inbound: check + update of the window, taken once per run of the SA's
     * packets in a burst for the checks and once for the updates (dp_fwd.c).
     * Process-private: the window's state outlives the process, a lock a killed
     * process held must not */
    pthread_spinlock_t replay_lock;
    /* inbound: an authentic ESP-in-UDP packet, the newest of the SA, came from
     * another outer address or port than the peer's (a NAT mapping changed):
     * float_* say where (network order, IPv4 in the first 4 bytes), written by
     * workers under replay_lock with floated set to 1, taken by dp_floated() on
     * the control thread under the same lock; floated 0: none */
    _Atomic uint32_t floated;
    _Atomic(struct esp_xform *) xf[DP_MAX_WORKERS]; /* made by each worker on first use */
    struct dp_police *_Atomic police; /* its session's limits (NULL: none); RCU pointer */
    /* cold */
    struct rcu_head rcu;
    struct esp_params params;     /* points into conf */
    bool soft_reported, hard_reported; /* control thread only */
    int float_family;
    uint8_t float_addr[16];
    uint16_t float_port;
    struct dp_sa_live *own_live;  /* allocated when the caller gave none, else NULL */
    /* control thread: its place on dp->watch (watch_prev NULL: not on it) */
    struct dp_rsa *watch_next, **watch_prev;
    /* as added (keys, limits, selectors). Last, and allocated only up to its
     * conf.nsel selectors (DP_RSA_SIZE): never copy or size it whole */
    struct dp_sa conf;
};

/* The bytes of an SA with @nsel selectors, and of its conf. */
#define DP_SA_CONF_SIZE(nsel) (offsetof(struct dp_sa, sel) + (nsel) * sizeof(struct dp_range))
#define DP_RSA_SIZE(nsel) (offsetof(struct dp_rsa, conf) + DP_SA_CONF_SIZE(nsel))

/* The UDP ports of IKE (dp_set_udp_ports), as the workers see them: replaced
 * whole (RCU); dp->ports NULL: the defaults. Host order. dp_ports.c. */
struct dp_ports {
    struct rcu_head rcu;
    size_t nnatt, nike;
    uint16_t natt[DP_MAX_UDP_PORTS], ike[DP_MAX_UDP_PORTS];
};

extern const struct dp_ports dp_ports_default; /* IKE 500, NAT traversal 4500 */
enum dp_port_kind { DP_PORT_OTHER, DP_PORT_IKE, DP_PORT_NATT };
/* What @port (host order) is under @p (NULL: the defaults); RCU read side. */
enum dp_port_kind dp_port_kind(const struct dp_ports *p, uint16_t port);
/* Puts the NAT traversal ports of @p into the XDP programs' shared
 * "natt_ports" map and removes those of @old that @p lacks (NULL: the defaults,
 * for either); nothing before the map exists. */
void dp_ports_map_sync(struct dp *dp, const struct dp_ports *p, const struct dp_ports *old);

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
    enum dp_mode_in_use mode; /* DP_MODE_DOWN until attached */
    struct bpf_object *obj;   /* the XDP program, loaded in prepare, attached in apply */
    int prog_fd;
    int xsks_fd, stats_fd;
    struct dp_if_ctr ctr[DP_MAX_WORKERS];
    uint64_t xdp_pass_base;   /* XDP pass count at the last counter reset */
    uint64_t xdp_nosock_base; /* XDP drops for want of a socket, likewise */
};

struct dp_wk_ctr {
    uint64_t dec_packets, dec_bytes, enc_packets, enc_bytes;
    uint64_t busy_polls, idle_polls, busy_ns;
    uint64_t inner_fragmented, inner_fragments; /* RFC 4459: inner IPv4 packets split, pieces made */
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
    /* the SAs that dp_soft_expired, dp_hard_expired and dp_floated look at, in
     * the order they joined (dp_watch_count says which): the rest have nothing
     * to report, and the once-a-second calls cost what is watched, not all SAs */
    struct dp_rsa *watch, **watch_tail;
    size_t nwatch;
    struct dp_police *police; /* sessions' bandwidth limits, by session id */
    /* shared with workers */
    struct cds_lfht *in_ht;          /* inbound SPI -> dp_rsa */
    struct cds_lfht *route_ht;       /* dp_route_key -> dp_route */
    _Atomic uint64_t plens4[1], plens6[3]; /* prefix lengths in use, for LPM */
    unsigned plen_refs4[33], plen_refs6[129];
    /* interfaces and workers */
    struct dp_nl *nl;
    /* maps shared by every program instance (in this order: closed as a range) */
    int clients4_fd, clients6_fd, local_fd, natt_fd;
    struct dp_ports *ports;          /* RCU pointer: the UDP ports of IKE (NULL: defaults) */
    size_t nifaces;
    struct dp_iface *ifaces[DP_MAX_IFACES];
    size_t nworkers;
    struct dp_worker *workers[DP_MAX_WORKERS];
    struct dp_wk_ctr wctr[DP_MAX_WORKERS];
    _Atomic bool stop;
    bool keep_programs; /* dp_keep_programs() */
};

/* Control-thread RCU bracket for table updates (registers the thread once). */
void dp_rcu_enter(void);
void dp_rcu_leave(void);

/* Worker-side lookups (RCU read side, online). */
struct dp_rsa *dp_lookup_in(struct dp *dp, uint32_t spi);
struct dp_rsa *dp_lookup_route(struct dp *dp, int family, const uint8_t *addr);
bool dp_sel_match(const struct dp_sa *sa, int family, const uint8_t *addr);

/* dp_inner.c: on an inner IPv4/IPv6 packet of @len bytes (its total length).
 * Completes a TCP/UDP checksum that the sender left to offload (CHECKSUM_PARTIAL:
 * the field holds the folded pseudo-header sum); any other checksum, right or
 * wrong, stays. Returns whether it changed the packet. */
bool dp_inner_csum_complete(uint8_t *ip, size_t len, int family);
/* Lowers the MSS option of a TCP SYN (or SYN-ACK) above @mss to @mss, with the
 * checksum updated incrementally (a wrong one stays wrong). Returns whether it
 * changed the packet. */
bool dp_inner_mss_clamp(uint8_t *ip, size_t len, int family, uint16_t mss);

/* dp_xsk.c */
int dp_lpm_update(struct dp *dp, const struct dp_route_key *k, bool add);
void dp_ifaces_free(struct dp *dp);

/* dp_worker.c: one worker's loop */
void *dp_worker_main(void *arg);

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
    bool has_addr4, has_addr6;
    struct in_addr addr4; /* sources of ICMP errors sent on this interface */
    struct in6_addr addr6;
};

struct dp_nh;

/* An inbound ESP packet between its parse (SA found) and the burst's replay
 * check, decryption and forwarding (dp_fwd.c); its esp_open_job alongside. */
struct dp_in_pkt {
    struct dp_xs *xs;
    uint64_t addr;
    uint8_t *ip;
    struct dp_rsa *sa;
    uint32_t ihl;
    uint8_t proto;
};

/* An inner packet between its sequence number and the burst's sealing and
 * sending (dp_fwd.c); its esp_seal_job alongside. */
struct dp_out_pkt {
    struct dp_xs *xs;  /* where it came from (counters, hand-off) */
    struct dp_xs *out; /* where it goes; NULL: through the kernel */
    uint64_t addr;
    struct dp_rsa *sa;
    const struct dp_outer *outer;
    uint8_t dst_mac[6], src_mac[6];
    uint8_t tos;
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
    /* fragmented ESP / ESP in UDP / UDP to us in reassembly (dp_frag.h); its
     * counters are read by dp_worker_stats() without a lock (plain words) */
    struct dp_frag frag;
    /* detached workers only (dp->nl NULL): the next hop of every destination, or
     * none (everything goes to the kernel) */
    const struct dp_nh *detached_nh;
    /* the current burst's ESP packets, handed to the crypto backend at once */
    unsigned nin, nout;
    struct dp_in_pkt in[ESP_BURST_MAX];
    struct esp_open_job in_job[ESP_BURST_MAX];
    struct dp_out_pkt out[ESP_BURST_MAX];
    struct esp_seal_job out_job[ESP_BURST_MAX];
};

/* A frame back to the worker's pool. */
static inline void dp_frame_put(struct dp_worker *w, uint64_t addr)
{
    w->free[w->nfree++] = addr & ~(uint64_t)(DP_FRAME_SIZE - 1);
}

/* dp_fwd.c: stages the frame data at @start (@len bytes) for sending on @xs. */
void dp_tx_stage(struct dp_worker *w, struct dp_xs *xs, const uint8_t *start, uint32_t len);
/* dp_fwd.c: the frames staged on @xs onto its TX ring (what does not fit is
 * dropped, ring-full). */
void dp_tx_flush(struct dp_worker *w, struct dp_xs *xs);
/* dp_fwd.c: one receive burst of @xs (at most DP_BATCH packets) through the
 * stages, its outbound packets sealed and staged; returns how many it took. */
unsigned dp_rx_burst(struct dp_worker *w, struct dp_xs *xs);
/* dp_icmp.c: ICMP "fragmentation needed" (IPv4 with DF) and ICMPv6 "packet too
 * big" with @mtu back to the sender of the Ethernet frame pkt[0..len), on @xs,
 * when the RFC 1812 / RFC 4443 rules let one answer it and a frame is free. */
void dp_icmp_frag_needed(struct dp_worker *w, struct dp_xs *xs, const uint8_t *pkt, size_t len, unsigned mtu);
void dp_icmp_too_big(struct dp_worker *w, struct dp_xs *xs, const uint8_t *pkt, size_t len, unsigned mtu);

/* TESTS ONLY (dp_xsk.c): a worker that runs no thread and has no sockets, for
 * feeding frames to dp_fwd_one() in-process: a UMEM area of DP_FRAMES frames, all
 * on its free list, and one dp_xs per role in @roles (at most DP_MAX_IFACES), each
 * on an interface of its own that is not in dp->ifaces (ifindex -1, -2.. in
 * order: never a kernel interface; MTU 1500, no address). Its id is 0, it sends
 * nothing to the kernel (raw4/raw6 are -1: hand-offs fail and count no-route) and
 * it stages frames to send on xs[i].txq only: call dp_worker_detached_drain()
 * after each frame. Use it only while @dp has no interfaces (dp->nl NULL, no
 * running worker 0 to share counters with). NULL with errno set on failure. */
struct dp_worker *dp_worker_detached(struct dp *dp, const enum dp_role *roles, size_t n);
/* Takes every frame staged on the worker's TX queues as sent (counted tx on its
 * interface) and puts it back on the free list; returns how many there were. */
size_t dp_worker_detached_drain(struct dp_worker *w);
void dp_worker_detached_free(struct dp_worker *w);
/* TESTS ONLY (dp_fwd.c): processes the frame received at @addr (the address of its
 * data in the worker's UMEM, headroom skipped) of @len bytes on @xs exactly as a
 * worker's receive burst does, by the role of @xs's interface. The caller is a
 * registered RCU thread, online (the tables are read under QSBR). */
void dp_fwd_one(struct dp_worker *w, struct dp_xs *xs, uint64_t addr, uint32_t len);

/* dp_fwd.c, the replay stages of an inbound burst, for jobs[0..n) all of @sa:
 * dp_replay_check_run() infers and checks each job's sequence number (from its
 * ESP header) against the window under one hold of sa->replay_lock: rc 0 and seq
 * set, or rc DP_RC_REPLAY; dp_replay_update_run() records, under one hold, those
 * whose rc is ESP_OK (decrypted): rc DP_RC_REPLAY for one recorded meanwhile (a
 * duplicate that raced its check on another worker). */
#define DP_RC_REPLAY 1
void dp_replay_check_run(struct dp_rsa *sa, struct esp_open_job *jobs, unsigned n);
void dp_replay_update_run(struct dp_rsa *sa, struct esp_open_job *jobs, unsigned n);

#endif
