/* The one interface from the control plane to the ESP dataplane (DESIGN.md
 * "Dataplane"). The IKE engine installs and removes child SAs and the routes to
 * clients' addresses through these calls only, and reads the counters back.
 *
 * All calls are made on the control thread. Packet workers (one per served queue,
 * see dp_set_interfaces) read the tables lock-free: an SA or route becomes visible
 * only once complete (whole entries are published, userspace RCU), and removing one
 * waits until no worker can still use it, so that its final counters are exact. */
#ifndef RAVEN_DATAPLANE_DP_H
#define RAVEN_DATAPLANE_DP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct dp;

/* ESP transforms (IANA numbers of IKEv2 transform types 1 and 3). */
enum dp_cipher {
    /* ESP_NULL (RFC 2410) without integrity: never negotiated by the IKE engine;
     * static SAs of benchmarks use it to measure the dataplane without crypto */
    DP_CIPHER_NULL = 11,
    DP_CIPHER_AES_CBC = 12,
    DP_CIPHER_AES_GCM_16 = 20,
    DP_CIPHER_CHACHA20_POLY1305 = 28,
};

enum dp_integ {
    DP_INTEG_NONE = 0,
    DP_INTEG_HMAC_SHA1_96 = 2,
    DP_INTEG_HMAC_SHA2_256_128 = 12,
    DP_INTEG_HMAC_SHA2_384_192 = 13,
    DP_INTEG_HMAC_SHA2_512_256 = 14,
};

#define DP_MAX_KEY 36   /* AES-256 or ChaCha20 key + 4-byte salt */
#define DP_MAX_INTEG_KEY 64

/* An inner address range (a traffic selector without ports/protocol). */
struct dp_range {
    sa_family_t family;
    uint8_t start[16], end[16];
};

/* as many as the IKE engine negotiates in a TSi (IKE_MAX_TS): with route accept a
 * client's address and its accepted subnets, which must all pass and be routed */
#define DP_MAX_SELECTORS 32

#define DP_MAX_WORKERS 16

/* The state of an SA that its packets change: the outbound sequence number, the
 * inbound replay window, the per-worker counters and the hard lifetime's charge.
 * The caller may give its memory (dp_sa.live: the session arena, which outlives
 * the process), so that a new process continues the SA exactly where the
 * previous one left it, even after kill -9: workers update it in place.
 * Its layout is part of the session arena's format (SESS_ARENA_VERSION): change it
 * only with that version. No pointers, fixed size. */
#define DP_LIVE_REPLAY_WORDS 64 /* a window of up to 4096 packets */
struct dp_sa_live_ctr {
    uint64_t packets, bytes, replay, auth, selector;
} __attribute__((aligned(64)));
struct dp_sa_live {
    _Atomic uint64_t seq;                 /* outbound: the last sequence number used */
    uint64_t replay_top;                  /* inbound: highest sequence number verified */
    uint64_t replay_bits[DP_LIVE_REPLAY_WORDS];
    _Atomic uint64_t life_bytes, life_packets; /* charged against the hard lifetime */
    _Atomic uint32_t expired;             /* the hard lifetime was reached */
    uint32_t reserved;
    struct dp_sa_live_ctr ctr[DP_MAX_WORKERS];
};

/* An SA is named by (session, direction, SPI): inbound SPIs are chosen by the
 * headend and unique; outbound ones are the peers' choice and may repeat across
 * sessions (RFC 4301 4.1), so the session is part of their name. */
struct dp_sa {
    uint32_t spi;    /* host order */
    bool inbound;    /* decrypt (peer -> headend), else encrypt */
    uint64_t session_id;
    enum dp_cipher cipher;
    uint8_t key[DP_MAX_KEY];
    size_t key_len;  /* AEAD: cipher key + 4-byte salt */
    enum dp_integ integ;
    uint8_t integ_key[DP_MAX_INTEG_KEY];
    size_t integ_key_len;
    bool esn;
    uint32_t replay_window; /* inbound; 0 = anti-replay off */
    /* outer header: our address/port and the peer's, both IPv4 or both IPv6; UDP
     * encapsulation (RFC 3948) when NAT was detected or the peer uses port 4500 */
    struct sockaddr_storage local, peer;
    bool udp_encap;
    /* the VRF device (ifindex; 0: the main table) whose routing table forwards
     * this SA's packets: inbound, the decrypted ones (the inside VRF);
     * outbound, the ESP packets to the peer (the front-door VRF) */
    int vrf;
    /* report when this many bytes/packets have passed (0 = no limit), so that
     * the control plane rekeys */
    uint64_t soft_bytes, soft_packets;
    /* the hard lifetime (RFC 4301 4.4.2.1): at most this many bytes/packets (0 =
     * no limit) pass; once the limit is reached the SA carries nothing more and is
     * reported by dp_hard_expired() */
    uint64_t hard_bytes, hard_packets;
    /* the session's attributes (S7 interface-config): the MSS option of TCP SYNs
     * through the SA is clamped to tcp_mss, in both directions (0 = no clamp);
     * outbound: inner packets larger than mtu get ICMP "fragmentation needed" /
     * "packet too big" with it, as if the tunnel were that small (0 = the path's
     * MTU only; for IPv6 never below its minimum, 1280) */
    uint16_t tcp_mss, mtu;
    /* where the SA's changing state lives (see struct dp_sa_live): memory of the
     * caller's that stays valid until dp_sa_del() returns, or NULL (the dataplane
     * keeps it). With @adopt the state found there is continued (an SA taken over
     * from an earlier process: sequence number, replay window, counters, hard
     * lifetime charge), the SA given as it was then (replay_window and esn say
     * how the window's bits read); without, it is reset. One SA per memory. */
    struct dp_sa_live *live;
    bool adopt;
    /* inbound: the inner source must fall in one of these (the client's
     * traffic selectors); outbound: the destinations routed to this SA. Last:
     * the dataplane keeps only the first nsel of them */
    size_t nsel;
    struct dp_range sel[DP_MAX_SELECTORS];
};

/* Counters of one SA: packets and bytes are inner packets that passed (decrypted
 * and forwarded, or encrypted and sent); drops are the SA's own. */
struct dp_sa_stats {
    uint64_t packets, bytes;
    uint64_t replay_drops, auth_failures, selector_drops;
    uint64_t seq; /* outbound: the last sequence number sent; inbound: the top of the replay window */
};

/* Interfaces the dataplane runs on (YANG /dataplane/interface). */
enum dp_role {
    DP_ROLE_OUTSIDE, /* clients' ESP arrives here */
    DP_ROLE_INSIDE,  /* clear traffic to and from the protected networks */
};

enum dp_xdp_mode {
    DP_XDP_AUTO,    /* native where the driver has it, generic otherwise */
    DP_XDP_NATIVE,
    DP_XDP_GENERIC,
};

#define DP_IFNAMSIZ 16
#define DP_MAX_IFACES 8

struct dp_if_conf {
    char name[DP_IFNAMSIZ];
    enum dp_role role;
    enum dp_xdp_mode mode;
    uint16_t queues; /* 0: all receive queues of the interface */
};

/* Why the dataplane dropped a packet. */
enum dp_drop {
    DP_DROP_NO_SA,       /* unknown SPI, or no SA routes the destination */
    DP_DROP_REPLAY,
    DP_DROP_AUTH,        /* ICV / AEAD tag did not verify */
    DP_DROP_MALFORMED,   /* truncated, bad lengths, bad padding, bad inner packet */
    DP_DROP_SELECTOR,    /* inner source outside the session's selectors */
    DP_DROP_NO_ROUTE,    /* no route, or TTL expired */
    DP_DROP_MTU,         /* too big for the tunnel and not fragmentable */
    DP_DROP_RING_FULL,   /* no TX ring slot or no free frame */
    DP_DROP_FRAGMENT,    /* a fragment refused by reassembly, or reassembled ESP larger than a frame */
    DP_DROP_EXPIRED,     /* the SA is past its hard byte/packet lifetime */
    DP_DROP_POLICED,     /* over its session's bandwidth limit (dp_session_police) */
    DP_DROP_OTHER,       /* anything else (e.g. sequence number space exhausted) */
    DP_DROP_N,
};

enum dp_mode_in_use {
    DP_MODE_DOWN,
    DP_MODE_NATIVE,
    DP_MODE_GENERIC,
};

struct dp_if_stats {
    char name[DP_IFNAMSIZ];
    enum dp_role role;
    enum dp_mode_in_use mode;
    uint16_t queues;
    uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
    uint64_t to_kernel; /* left to the kernel by the XDP program or handed to it by a worker */
    uint64_t drops[DP_DROP_N];
};

struct dp_worker_stats {
    uint16_t id, cpu, queue;
    uint64_t packets_decrypted, bytes_decrypted, packets_encrypted, bytes_encrypted;
    uint64_t drops; /* all reasons */
    uint64_t busy_polls; /* loop rounds that moved packets */
    uint64_t idle_polls; /* sleeps in poll() for lack of packets */
    uint64_t busy_ns;    /* time in rounds that moved packets: packets / busy time is
                          * the worker's rate whatever the offered load */
    /* outer fragments (ESP, ESP in UDP, and UDP to us: dataplane/dp_frag.h) */
    uint64_t frag_received;    /* fragments taken into reassembly */
    uint64_t frag_reassembled; /* datagrams completed */
    uint64_t frag_timeouts;    /* datagrams discarded incomplete (2 s) */
    uint64_t frag_invalid;     /* fragments or datagrams refused: overlap, over 65535, bad length */
    uint64_t frag_evictions;   /* datagrams discarded for want of a reassembly slot */
    /* inner IPv4 packets without DF fragmented before encryption (RFC 4459) */
    uint64_t inner_fragmented, inner_fragments;
};

/* An SA that crossed its soft (or hard) byte/packet limit (reported once). */
struct dp_sa_ref {
    uint64_t session_id;
    uint32_t spi;
    bool inbound;
};

/* A dataplane instance (its tables; packet workers attach to it). */
struct dp *dp_new(void);
void dp_free(struct dp *dp);
/* With @keep, an interface's XDP program stays attached, with its maps, when the
 * dataplane lets the interface go (dp_free(), an empty set or one without the
 * interface at dp_ifset_apply()) instead of being detached: set it before a
 * restart of ravend (the state of its SAs outlives the process, dataplane/
 * README.md "Restarts"), so that while it is down the dataplane's packets are
 * dropped, not handed to the kernel in clear. The next process's program
 * replaces the one it finds atomically. Off by default. */
void dp_keep_programs(struct dp *dp, bool keep);

/* Adds an SA; -EEXIST when its name is in use, -EINVAL for a key or selector the
 * transform cannot take, -ENOMEM. */
int dp_sa_add(struct dp *dp, const struct dp_sa *sa);
/* The peer's outer address changed (NAT mapping, float to 4500): takes effect for
 * every SA of the session in both directions. Returns the number of SAs changed. */
size_t dp_session_move(struct dp *dp, uint64_t session_id, const struct sockaddr_storage *local,
                       const struct sockaddr_storage *peer, bool udp_encap);
/* Removes an SA; its final counters go to @last if not NULL. -ENOENT if absent. */
int dp_sa_del(struct dp *dp, uint64_t session_id, uint32_t spi, bool inbound, struct dp_sa_stats *last);
int dp_sa_stats(const struct dp *dp, uint64_t session_id, uint32_t spi, bool inbound, struct dp_sa_stats *out);
/* Whether an inbound SPI is taken (the IKE engine picks unused ones). */
bool dp_spi_in_use(const struct dp *dp, uint32_t spi);
size_t dp_sa_count(const struct dp *dp);
/* How many SAs dp_soft_expired, dp_hard_expired and dp_floated look at: those
 * with a soft or hard limit or taken over already expired, and the inbound ones
 * that are or were UDP-encapsulated (only those can float); an SA stays watched
 * until it is deleted. The others cost those calls nothing. */
size_t dp_watch_count(const struct dp *dp);
/* SAs that crossed soft_bytes/soft_packets since the last call, each reported
 * once; returns how many were written to @out. */
size_t dp_soft_expired(struct dp *dp, struct dp_sa_ref *out, size_t max);
/* SAs that reached hard_bytes/hard_packets since the last call, each reported once:
 * they carry no more traffic; the control plane deletes them. */
size_t dp_hard_expired(struct dp *dp, struct dp_sa_ref *out, size_t max);
/* Inbound SAs whose newest authentic packet (UDP-encapsulated, its sequence
 * number above the replay window's top, RFC 7296 2.23) came from another outer
 * address or port than the SA's peer since the last call: @peer is where it
 * came from. Nothing moves by itself: the control plane decides (it follows a
 * NAT mapping change with dp_session_move, or not when MOBIKE is in use). */
struct dp_float {
    uint64_t session_id;
    uint32_t spi;
    struct sockaddr_storage peer;
};
size_t dp_floated(struct dp *dp, struct dp_float *out, size_t max);

/* A session's bandwidth limits (authorization policy rate-limit, RADIUS
 * raven:rate-limit-*), one per direction: inbound is what the client sends
 * (decrypted packets), outbound what is sent to it (before encryption). Each is
 * a token bucket of @burst bytes filled at @kbps kilobits (1000 bits) a second,
 * charged with the inner packet's length after authentication (a forged packet
 * costs the session nothing); a packet the bucket cannot pay is dropped and
 * counted (policed). kbps 0: no limit; burst 0: the bytes of 250 ms at the
 * rate; a burst is never below 3000 bytes (two full packets). The buckets are
 * shared by the workers (one atomic compare-and-swap per packet, a virtual
 * scheduling clock on CLOCK_MONOTONIC) and by every child SA of the session. */
struct dp_police_conf {
    uint32_t kbps, burst;
};
struct dp_police_stats {
    uint64_t packets[2], bytes[2]; /* policed: [0] inbound, [1] outbound */
};
/* Sets (or changes: at once, without touching the SAs' keys or sequence
 * numbers, each bucket starting full) the limits of session @session_id, for
 * its SAs in the dataplane and those added later. 0, -ENOMEM. */
int dp_session_police(struct dp *dp, uint64_t session_id, const struct dp_police_conf *in,
                      const struct dp_police_conf *out);
/* The session is over: its limits go with its last SA (nothing if none). */
void dp_session_police_del(struct dp *dp, uint64_t session_id);
/* Its policed packets and bytes since dp_session_police(); -ENOENT without. */
int dp_session_police_stats(const struct dp *dp, uint64_t session_id, struct dp_police_stats *out);

/* The UDP ports the dataplane takes as IKE's (YANG /ikev2/global/listen port and
 * nat-t-port). @natt: NAT traversal ports, where UDP whose first word is non-zero
 * is ESP (RFC 3948 2.2: the XDP program steers it to the workers) and the rest is
 * IKE (the non-ESP marker) or a NAT keepalive, the kernel's; @ike: IKE only
 * ports, all the kernel's. Workers hand a fragmented datagram to one of these
 * ports to the kernel (the IKE socket), and drop other fragmented UDP. At most
 * DP_MAX_UDP_PORTS of each, none 0; a port in both is a NAT traversal port; with
 * both empty, the defaults (IKE 500, NAT traversal 4500), which are also in force
 * until the first call. Returns 0, or -EINVAL and changes nothing. Control thread
 * only; takes effect for packets that arrive after it returns, on every
 * interface, those attached later included (a program kept from an earlier
 * process keeps that process's ports until this process's replaces it). */
#define DP_MAX_UDP_PORTS 8
int dp_set_udp_ports(struct dp *dp, const uint16_t *natt, size_t nnatt, const uint16_t *ike, size_t nike);

/* Replaces the set of interfaces in the two steps of a configuration transaction.
 * dp_ifset_prepare() builds the new set beside the running one, which it leaves
 * alone: it checks it (dp_check_interfaces), loads each interface's XDP program
 * into the kernel (the verifier runs here) and makes each worker's UMEM, rings and
 * raw sockets; *out is then the caller's, for dp_ifset_apply() or dp_ifset_free().
 * dp_ifset_apply() (@set adopted) switches: workers stop, the new programs
 * replace the previous ones (those of interfaces the new set lacks are detached,
 * unless kept), AF_XDP sockets are bound and workers started (SAs stay). Only what cannot be reserved while the previous set holds it is
 * left to it: the attachment (a driver may refuse native mode) and the AF_XDP
 * binds (one socket per queue); if either fails, @err says what was wrong and the
 * previous set is built again: -EIO, or -ENETDOWN when that failed too and no
 * interface is served. An empty set stops the dataplane (SAs are kept but no
 * packets flow). A Raven XDP program already on an interface (the previous set's,
 * or one an earlier process left: dp_keep_programs, or killed) is replaced
 * atomically at apply, in the mode it is in if the configured mode allows it
 * (else detached first); another program on the interface is an error at
 * prepare. A process taking over SAs adds them (dp_sa.adopt) before its first
 * apply, so that its programs start with every client prefix.
 * dp_set_interfaces() is both steps at once. */
struct dp_ifset;
int dp_ifset_prepare(struct dp *dp, const struct dp_if_conf *ifs, size_t n, struct dp_ifset **out, char *err,
                     size_t errlen);
int dp_ifset_apply(struct dp *dp, struct dp_ifset *set, char *err, size_t errlen);
void dp_ifset_free(struct dp_ifset *set);
int dp_set_interfaces(struct dp *dp, const struct dp_if_conf *ifs, size_t n, char *err, size_t errlen);
/* Checks a set of interfaces as dp_set_interfaces() would take it, acting on
 * nothing (no worker stops, no XDP program is attached, detached or loaded, no
 * socket is bound): not too many, none twice, each exists and has the queues
 * configured, none carries another XDP program, and the XDP object file opens
 * with Raven's maps. Returns 0 or -errno with @err saying what was wrong. What it
 * cannot know without acting: whether the driver takes the XDP program in native
 * mode, and whether the kernel lets an AF_XDP socket bind each queue. */
int dp_check_interfaces(struct dp *dp, const struct dp_if_conf *ifs, size_t n, char *err, size_t errlen);
size_t dp_if_count(const struct dp *dp);
int dp_if_stats(const struct dp *dp, size_t i, struct dp_if_stats *out);
/* What the interface served @i looks like in the kernel now, for the
 * interface-down and xdp-detached alarms: whether it exists (false only when
 * the kernel says ENODEV or ENXIO), administratively up, with carrier
 * (IFF_RUNNING), and whether it still carries the XDP program attached to it
 * (false also when none was attached: mode DP_MODE_DOWN). 0, or -errno when
 * the kernel could not be asked (no socket: EMFILE...): nothing is known.
 * Control thread. */
struct dp_if_health {
    bool exists, up, running;
    bool xdp_expected, xdp_attached;
};
int dp_if_health(const struct dp *dp, size_t i, struct dp_if_health *out);
size_t dp_worker_count(const struct dp *dp);
int dp_worker_stats(const struct dp *dp, size_t i, struct dp_worker_stats *out);
/* Resets interface and worker counters (SA counters stay). */
void dp_clear_counters(struct dp *dp);
/* The crypto backend of ESP (YANG /dataplane/crypto-backend): intel-ipsec-mb
 * where the CPU makes it faster than OpenSSL (AES-NI with AVX2/AVX-512) and its
 * known-answer self-test passed, else OpenSSL EVP (auto); or one forced. It
 * applies to SAs added after the call: an SA keeps the backend it was added
 * with, so SAs of both may run side by side. Process-wide (all dp instances).
 * dp_check_crypto_backend() says whether @b can be taken: -ENOTSUP with @err
 * when ipsec-mb is forced but not usable here (its self-test, run once on the
 * first call of either, is logged). */
enum dp_crypto_backend {
    DP_CRYPTO_AUTO,
    DP_CRYPTO_OPENSSL,
    DP_CRYPTO_IPSEC_MB,
};
int dp_check_crypto_backend(enum dp_crypto_backend b, char *err, size_t errlen);
int dp_set_crypto_backend(struct dp *dp, enum dp_crypto_backend b, char *err, size_t errlen);
struct dp_crypto_info {
    enum dp_crypto_backend configured;
    const char *in_use;         /* what SAs added now get: "openssl" or "ipsec-mb" */
    bool ipsec_mb_usable;
    const char *ipsec_mb_arch;  /* its code path: "avx512-vaes", "avx512", "avx2" or "none" */
    const char *ipsec_mb_status; /* "self-test passed", or why it is not used */
    uint64_t xforms_openssl, xforms_ipsec_mb; /* the SAs' transforms alive, per backend */
};
void dp_crypto_info(const struct dp *dp, struct dp_crypto_info *out);

/* Path of the XDP object file: $RAVEN_XDP_OBJECT, else the one built with Raven. */
const char *dp_xdp_object(void);

#endif
