/* Internals of the IKEv2 engine shared by its files (not a public interface):
 * the compiled configuration, sessions and the engine itself. */
#ifndef RAVEN_IKE_ENG_H
#define RAVEN_IKE_ENG_H

#include <event2/event.h>
#include <libyang/libyang.h>
#include <netinet/in.h>
#include <string.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <uthash.h>
#include "dataplane/dp.h"

#include "daemon/aaa/aaa.h"
#include "daemon/ike/ike_child.h"
#include "daemon/ike/ike_conf.h"
#include "daemon/pool/dhcp.h"
#include "daemon/session/sess.h"
#include "daemon/ike/ike_engine.h"
#include "daemon/ike/ike_init.h"
#include "daemon/ike/ike_mobike.h"
#include "daemon/ike/ike_msg.h"
#include "daemon/ike/ike_sa.h"
#include "daemon/ike/ike_sk.h"

struct pool_set;
struct sess_arena;

/* Notify message types (RFC 7296 3.10.1 and IANA) */
enum {
    N_UNSUPPORTED_CRITICAL_PAYLOAD = 1,
    N_INVALID_IKE_SPI = 4,
    N_INVALID_MAJOR_VERSION = 5,
    N_INVALID_SYNTAX = 7,
    N_INVALID_MESSAGE_ID = 9,
    N_NO_PROPOSAL_CHOSEN = 14,
    N_AUTHENTICATION_FAILED = 24,
    N_SINGLE_PAIR_REQUIRED = 34,
    N_NO_ADDITIONAL_SAS = 35,
    N_INTERNAL_ADDRESS_FAILURE = 36,
    N_FAILED_CP_REQUIRED = 37,
    N_TS_UNACCEPTABLE = 38,
    N_INVALID_SELECTORS = 39,
    N_TEMPORARY_FAILURE = 43,
    N_CHILD_SA_NOT_FOUND = 44,
    N_INITIAL_CONTACT = 16384,
    N_SET_WINDOW_SIZE = 16385,
    N_COOKIE = 16390,
    N_USE_TRANSPORT_MODE = 16391,
    N_REKEY_SA = 16393,
    N_ESP_TFC_PADDING_NOT_SUPPORTED = 16394,
    N_NON_FIRST_FRAGMENTS_ALSO = 16395,
    N_MOBIKE_SUPPORTED = 16396,
    N_REDIRECT_SUPPORTED = 16406, /* RFC 5685 */
    N_REDIRECT = 16407,
    N_REDIRECTED_FROM = 16408,
    N_SIGNATURE_HASH_ALGORITHMS = 16431,
};

/* Configuration attribute types (RFC 7296 3.15.1, RFC 8598, Cisco Unity) */
enum {
    CFG_INTERNAL_IP4_ADDRESS = 1,
    CFG_INTERNAL_IP4_NETMASK = 2,
    CFG_INTERNAL_IP4_DNS = 3,
    CFG_INTERNAL_IP4_NBNS = 4,
    CFG_APPLICATION_VERSION = 7,
    CFG_INTERNAL_IP6_ADDRESS = 8,
    CFG_INTERNAL_IP6_DNS = 10,
    CFG_INTERNAL_IP4_SUBNET = 13,
    CFG_SUPPORTED_ATTRIBUTES = 14,
    CFG_INTERNAL_IP6_SUBNET = 15,
    CFG_INTERNAL_DNS_DOMAIN = 25,
    CFG_UNITY_BANNER = 28672,
    CFG_UNITY_SAVE_PASSWD = 28673,
    CFG_UNITY_DEF_DOMAIN = 28674,
    CFG_UNITY_SPLITDNS_NAME = 28675,
    CFG_UNITY_SPLIT_INCLUDE = 28676,
    CFG_UNITY_NATT_PORT = 28677,
    CFG_UNITY_LOCAL_LAN = 28678,
    CFG_UNITY_PFS = 28679,
    CFG_UNITY_FW_TYPE = 28680,
    CFG_UNITY_BACKUP_SERVERS = 28681,
    CFG_UNITY_DDNS_HOSTNAME = 28682,
    CFG_UNITY_SMARTCARD_REMOVAL_DISCONNECT = 28683,
    CFG_FLEXVPN_CONFIG_URL = 28689,      /* Cisco private range, as FlexVPN clients use */
    CFG_FLEXVPN_CONFIG_VERSION = 28690,
};

#define IKE_MAX_SOCKS (2 * IKE_MAX_LISTEN * (1 + IKE_MAX_FVRF))

struct ike_sock {
    int fd;
    struct event *ev;
    struct sockaddr_storage addr; /* bound address and port */
    bool natt;
    bool keep; /* prepare: wanted by the new configuration */
    struct ike_engine *e;
    char vrf[16];    /* the VRF device it is bound to (SO_BINDTODEVICE), "" none */
    int rx_ifindex;  /* interface of the datagram being handled (IP_PKTINFO) */
    bool batch;      /* a batch of received datagrams is being handled: short answers wait (ike_xmit_short) */
    uint64_t serial; /* which socket: never the same twice in an engine (0: a detached one) */
};

/* Child SAs of a session: at most the largest flow limit the model allows
 * (/ipsec/profile/flow-limit, ipsec:ipsec-flow-limit), and as many rekeyed
 * ones waiting for their DELETE. The table grows as children come
 * (ike_child_room), so a session pays only for the children it has. */
#define IKE_MAX_FLOWS 50000
#define IKE_MAX_CHILD (2 * IKE_MAX_FLOWS)

struct ike_child_sa {
    struct sess_child sc; /* its SAs in the dataplane, lifetimes, traffic (daemon/session) */
    struct ike_child_alg alg;
    struct ike_tss tsi, tsr;    /* as answered: tsi the client's side (owned: ike_child_remove) */
    bool rekeying;              /* our CREATE_CHILD_SA for it is under way */
    bool replaced;              /* a rekey of it completed: it waits for its DELETE */
    uint32_t replaced_by;       /* the inbound SPI of the child that replaced it */
    uint8_t peer_nonce[32];     /* the lowest nonce of the peer's rekey of it */
    size_t peer_nonce_len;      /* (RFC 7296 2.8.1 simultaneous rekeys) */
    /* with a session arena: the SAs' keys (for a later process to install them
     * again) */
    struct ike_child_keys keys;
};

/* A datagram kept for retransmission (one per fragment). */
struct ike_dgram {
    uint8_t *data;
    size_t len;
};

#define IKE_MAX_DGRAMS IKE_MAX_FRAGMENTS
/* RFC 5685 6: after answering our REDIRECT the client sets up an IKE SA with
 * the new gateway (a name to resolve, IKE_SA_INIT, IKE_AUTH with EAP or RADIUS
 * there, each with retransmissions) and then deletes this one. 30 s is ample
 * for that even over a lossy path; a session still here then is deleted. */
#define IKE_REDIRECT_GRACE_S 30

/* A message kept for retransmission: n datagrams, room for cap of them (at
 * most IKE_MAX_DGRAMS, allocated as they come: most messages are one). */
struct ike_out {
    struct ike_dgram *d;
    size_t n, cap;
};


/* The IKE_AUTH exchange under way, from its first request until the session
 * is up: the steps' progress (ike_auth_steps.h) and what they found on the
 * way, across EAP rounds (S3) and the waits for RADIUS (S5), DHCP and CRLs. */
struct ike_pend {
    uint8_t *req_buf;   /* the payloads of the first IKE_AUTH request, copied */
    struct ike_msg req; /* IDi, SA, TSi, TSr, CP, INITIAL_CONTACT, CERT... */
    uint32_t msg_id;    /* the request to answer */
    size_t step;        /* the step under way (ike_auth_steps.c) */
    bool initial;
    const char *method; /* "psk", "cert", "eap": authorization and accounting */
    X509_NAME *dn;      /* to mangle names from (a DN identity or the certificate's subject) */
    /* EAP */
    bool eap;               /* the client authenticates with EAP */
    bool eap_asked_identity; /* our EAP-Request/Identity is what the client answers next */
    uint8_t eap_id;
    uint8_t state[253];
    size_t state_len;
    uint8_t msk[64];
    size_t msk_len;
    uint8_t *idr; /* the IDr payload body we sent, for our final AUTH */
    size_t idr_len;
    /* a pre-shared key from AAA (keyring aaa): ours, when RADIUS gave one */
    char *psk_local;
    /* a post-quantum preshared key asked of AAA (ppk aaa-authorization-list,
     * ike_ppk.c): the answer came (ppk_asked), its key (NULL none, wiped once
     * mixed) or why there is none; with EAP the final request waits in fin */
    bool ppk_asked;
    uint8_t *ppk;
    size_t ppk_len;
    const char *ppk_why; /* a constant text */
    uint8_t *fin_buf;
    struct ike_msg fin;
    bool have_fin;
    /* an address from DHCP (S4), asked once authorization is done */
    struct dhcp_req *dhcp_op;
    struct dhcp_lease lease;
    bool have_lease;
    /* authorization from RADIUS */
    struct aaa_op *op;
    struct aaa_attrs cached, user_at, group_at;
    bool have_cached, have_user, have_group;
    int authz_step;
    /* our AUTH signature, while a crypto thread makes it (sign_job), then
     * until the respond step sends it (ike_authx.c) */
    struct ike_sign_job *sign_job;
    /* the client's signature AUTH and certificate chain, while a crypto
     * thread checks them (ike_authq.c) */
    struct ike_verify_job *verify_job;
    /* our response, while a crypto thread seals it, and what the steps from
     * ours on found until then (ike_authq.c) */
    struct ike_seal_job *seal_job;
    struct ike_auth_run *run;
    uint8_t *sig;
    size_t sig_len;
    uint8_t sig_method;
    /* a certificate whose first CRL is being fetched (ike_crl.c, IKE_SA_CRL_WAIT) */
    X509 *crl_cert;
    STACK_OF(X509) *crl_chain;
    /* the transfers it waits for (pki_crl_waits): only their end resumes it */
    uint64_t crl_waits[8];
    size_t ncrl_waits;
};

struct ike_sess {
    /* the session this IKE SA carries (daemon/session/sess.h): identities,
     * authorization result, leases, accounting, session lifetime; its id is
     * the session's */
    struct sess ss;
    enum ike_sa_state state; /* changed only by ike_sa_set_state (ike_sa.h) */
    struct ike_init in; /* algorithms, nonces, SPIs, keys */
    bool initiator;     /* we are the original initiator of this IKE SA (after our rekey) */
    uint8_t our_spi[8]; /* the SPI table's key: in.spi_r, or in.spi_i when initiator */
    struct {            /* our rekey of the IKE SA, while under way */
        uint8_t spi_i[8], ni[32];
        struct ike_dh *dh;
    } ikr;
    uint8_t *msg1, *msg2; /* the IKE_SA_INIT request and our response, as on the wire */
    size_t msg1_len, msg2_len;
    struct ike_sock *sock;
    struct sockaddr_storage local, peer;
    /* the peer's requests (window size 1) */
    uint32_t peer_next;
    struct ike_out last_resp;
    struct ike_frag *frag; /* a request's fragments being reassembled (NULL: none) */
    /* our requests */
    uint32_t our_next;
    struct ike_out req;
    int req_tries;
    bool req_pending;
    int req_kind; /* REQ_* below */
    struct ike_pend *pend;
    /* its IKE_SA_INIT's DH and keys, while a crypto thread computes them
     * (ike_initx.c): no answer yet */
    struct init_job *init_job;
    /* an IKE_AUTH request, while a crypto thread opens its SK payload
     * (ike_authq.c): its retransmissions are counted and dropped */
    struct ike_open_job *open_job;
    bool vid_unity, vid_flexvpn;
    bool cfg_set_accept; /* answer the client's CFG_SET with CFG_ACK */
    struct ike_child_sa *child; /* child_cap entries; pointers into it move when it grows */
    size_t nchild, child_cap;
    uint32_t flow_limit; /* UINT32_MAX: unlimited */
    struct ike_esp_algs esp;
    struct ike_tss allow_i, allow_r; /* bounds of every child's selectors (owned) */
    uint16_t pfs_group;
    uint16_t rekey_group; /* the DH group the peer asked for in our child rekeys */
    uint32_t child_lifetime, child_soft; /* seconds; soft 0 = 90% of the hard lifetime */
    uint64_t child_soft_bytes;           /* rekey after this much traffic on an SA (0: never) */
    uint64_t child_hard_bytes;           /* an SA carries no more than this (0: no limit) */
    uint64_t child_soft_packets, child_hard_packets; /* the same in packets (0: none) */
    uint16_t tcp_mss, mtu;               /* S7 interface-config (0: unset) */
    uint32_t replay_window;
    struct event *ev_child;
    /* our rekey of a child SA (RFC 7296 1.3.3), while under way */
    struct {
        uint32_t old_spi_in, new_spi_in;
        uint8_t ni[32];
        struct ike_dh *dh;
        struct ike_child_alg alg;
    } rk;
    uint32_t *del_q; /* inbound SPIs whose DELETE is still to be sent (child_cap long) */
    size_t ndel_q;
    uint32_t *del_sent; /* and those of the DELETE under way (child_cap long) */
    size_t ndel_sent;
    /* liveness and lifetimes */
    uint16_t dpd_interval, dpd_retry;
    bool dpd_periodic;
    uint32_t ike_lifetime;
    time_t last_rx;
    struct event *ev_retx, *ev_live, *ev_ikelife, *ev_ikerekey, *ev_ka;
    struct ike_engine *e;
    /* the configuration generation it is negotiated under (a reference, taken
     * at IKE_SA_INIT or adoption, dropped when it is freed; ike_conf.h) and
     * its profile there (NULL until IKE_AUTH chose one) */
    struct ike_conf *gen;
    const struct ike_prof *prof;
    UT_hash_handle hh_r;  /* by spi_r */
    UT_hash_handle hh_i;  /* half-open: by spi_i and peer */
    UT_hash_handle hh_id; /* by session id */
    uint8_t ikey[8 + 18]; /* spi_i | peer address | port */
    /* where its IKE_SA_INIT arrived: the interface (IP_PKTINFO) and the socket's
     * front-door VRF ("" the default table), for the profiles' match rules */
    int rx_ifindex;
    char fvrf[16];
    int fvrf_ifindex, ivrf_ifindex; /* the VRF devices for the dataplane (0: main table) */
    struct ike_kroute *routes; /* kernel routes of the session (ike_route.c) */
    size_t nroutes;
    bool route_accept;           /* route accept: its subnets join allow_i */
    uint8_t route_nfixed;        /* allow_i's first entries: the client's own addresses */
    uint8_t route_distance;
    uint32_t route_table, route_tag;
    time_t ike_since;    /* when the IKE SA was made or last rekeyed */
    uint32_t arena_slot; /* its record in the session arena (index + 1; 0: none) */
    bool persist_dirty;  /* its record is to be written at the end of this turn */
    bool hold_resp;      /* ike_sess_respond seals last_resp but does not send it:
                          * the caller sends it once the session's record holds
                          * what it answers (IKE_AUTH, the peer's IKE SA rekey) */
    /* taken over from the session arena, between the two phases of adoption
     * (ike_adopt.c): its socket's port and VRF, and why it cannot go on */
    bool adopting, adopt_natt;
    char adopt_vrf[16];
    const char *adopt_why;
    /* post-quantum preshared key (RFC 8784, ike_ppk.c): once used, in.keys'
     * SK_d, SK_pi and SK_pr are the PPK-mixed ones (and so every key made
     * from SK_d later: child SAs, rekeyed IKE SAs) */
    bool ppk_used;
    bool ppk_fallback; /* the client's AUTH is its NO_PPK_AUTH (no PPK) */
    char ppk_id[65];   /* the PPK_ID in use ("" none) */
    /* OCSP (ike_crl.c): the responder of its certificate's AIA, kept (arena
     * tag 111) so that a session taken over by a new process is asked about
     * again; NULL when its trustpoint names the responder (ocsp-url) or asks none */
    char *ocsp_url;
    /* it holds the OCSP answer of its certificate in the cache (pki_crl_hold):
     * refreshed while the session lasts, never evicted */
    bool ocsp_held;
    /* MOBIKE (RFC 4555) and the session's moves to new client addresses
     * (ike_mobike.c) */
    struct ike_mobike mob;
    /* RFC 5685 (ike_redirect.c): the client announced REDIRECT_SUPPORTED or
     * came with REDIRECTED_FROM (arena tag 142), and the gateway of our
     * REDIRECT, queued, under way or answered (tag 143) */
    bool redirect_ok;
    char *redirect_to;
    bool redirect_sent; /* redirect_to's request is under way or answered */
    /* armed when the client has answered our REDIRECT: the session, still here
     * when it fires, is deleted (the client did not follow) */
    struct event *ev_redirect;
};

struct ike_counters {
    uint64_t received, accepted, rejected;
    uint64_t sa_limit, in_negotiation_limit, resource_low, no_proposal, invalid_ke, invalid_syntax, auth_failed,
        ts_unacceptable, internal_address_failure;
    uint64_t cookie_sent, cookie_accepted, cookie_rejected, cookie_missing;
    /* of the requests above, those answered by ike_cookie_fast (no full parse) */
    uint64_t cookie_fast;
    uint64_t auth_completed, eap_started, eap_timeouts, create_child, ike_rekeys, dpd_sent, dpd_timeouts,
        retransmissions, fragments_received, dropped;
    uint64_t unsupported_critical, invalid_major_version, unprotected_limited; /* RFC 7296 2.5 answers */
    /* the crypto pool (ike_initx.c): jobs handed to it, cookies demanded because
     * it was half full, requests dropped because it was full or their source
     * had its share of it */
    uint64_t pool_jobs, pool_cookies, pool_full, pool_per_peer;
    /* RFC 5685 (ike_redirect.c): IKE_SA_INIT answered with REDIRECT, sessions
     * sent one, requests with REDIRECTED_FROM, REDIRECTs from clients ignored,
     * sessions deleted because their clients did not follow our REDIRECT */
    uint64_t redirect_at_init, redirect_established, redirect_from, redirect_refused, redirect_not_followed;
    time_t discontinuity;
};

struct ike_engine {
    struct event_base *base;
    struct sess_mgr sm; /* the sessions (daemon/session), reaching their IKE SAs through ike_sess_ops */
    struct aaa *aaa; /* RADIUS: EAP, authorization, accounting, dynamic authorization */
    struct dhcp_client *dhcp; /* DHCP as an address source */
    struct pki_crl *crl;      /* CRL fetching and cache (ike_crl.c) */
    const struct ly_ctx *ctx;
    struct dp *dp;
    struct ike_conf *conf, *pending;
    struct ike_sock *socks[IKE_MAX_SOCKS];
    uint64_t sock_serial; /* the last socket's serial */
    size_t nsocks;
    struct ike_sock *new_socks[IKE_MAX_SOCKS];
    size_t nnew_socks;
    /* live sockets prepare gave SO_REUSEADDR (the VRFs' share their port):
     * abort takes it back, apply keeps it */
    struct ike_sock *lent[IKE_MAX_SOCKS];
    size_t nlent;
    struct ike_sess *by_r, *by_i, *by_id;
    size_t half_open, established;
    uint64_t next_id;
    struct ike_counters c;
    /* the crypto threads (daemon/base/cpool.h; NULL: inline on this thread) */
    struct cpool *pool;
    struct ike_src_jobs *src_jobs; /* jobs outstanding by source address */
    uint8_t cookie_secret[32], cookie_prev[32];
    EVP_MAC_CTX *cookie_mac[2]; /* keyed with cookie_secret, cookie_prev (NULL: none yet) */
    uint32_t cookie_ver;
    time_t cookie_rotated;
    ike_event_fn event;
    ike_event_wanted_fn event_wanted; /* NULL: every event is built */
    ike_event_xml_fn event_xml;       /* NULL: session events as trees too */
    void *event_arg;
    ike_output_fn output;
    void *output_arg;
    struct ike_sock detached[2]; /* for ike_engine_input: no file descriptor */
    /* the token bucket of unprotected error notifications (RFC 7296 2.5) */
    uint32_t unprot_tokens;
    uint64_t unprot_ms; /* CLOCK_MONOTONIC of the last refill */
    struct event *ev_dp;         /* polls the dataplane for SAs past their volume limit */
    /* prepare's error sink, while it runs */
    ike_err_fn err;
    void *err_arg;
    size_t nerr;
    struct ike_rtnl *rt; /* kernel routes of sessions, once ike_engine_routes_start ran */
    /* the session arena (ike_adopt.c): records written as sessions change */
    struct sess_arena *arena;
    bool keeping;           /* exiting with the sessions kept for the next process */
    struct event *ev_persist; /* writes the records marked in this turn of the loop */
    uint64_t *dirty;          /* their session ids */
    size_t ndirty, dirty_cap;
    bool route_accept_seen; /* a session has had route accept: the subnet checks walk the sessions */
    /* where to redirect new clients and moved sessions when no static gateway
     * is configured (ike_engine_set_redirect_hooks; NULL: nowhere) */
    ike_redirect_init_fn redirect_init;
    ike_redirect_other_fn redirect_other;
    void *redirect_arg;
    /* how long a session whose client answered our REDIRECT may stay
     * (IKE_REDIRECT_GRACE_S; tests shorten it) */
    uint32_t redirect_grace_ms;
};

/* Socket addresses */
static inline uint16_t ike_port_of(const struct sockaddr_storage *a)
{
    return ntohs(a->ss_family == AF_INET ? ((const struct sockaddr_in *)a)->sin_port :
                                           ((const struct sockaddr_in6 *)a)->sin6_port);
}

static inline void ike_set_port(struct sockaddr_storage *a, uint16_t port)
{
    if (a->ss_family == AF_INET)
        ((struct sockaddr_in *)a)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)a)->sin6_port = htons(port);
}

static inline socklen_t ike_sa_len(const struct sockaddr_storage *a)
{
    return a->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

static inline bool ike_sa_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family || ike_port_of(a) != ike_port_of(b))
        return false;
    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr, 16);
}

/* ike_engine.c: sessions and the dispatch of received messages */
/* Processes one datagram received on @sk (the non-ESP marker removed). */
void ike_handle_dgram(struct ike_sock *sk, const struct sockaddr_storage *local, const struct sockaddr_storage *peer,
                      const uint8_t *buf, size_t len);
/* A new session (state NEW) with its timers, in no table; NULL when memory is short. */
struct ike_sess *ike_sess_new(struct ike_engine *e);
/* The IKE SA that carries session @ss. */
#define ike_of(ss) ((struct ike_sess *)((char *)(ss) - offsetof(struct ike_sess, ss)))
/* What the session module asks of a session's IKE SA (ike_engine.c). */
extern const struct sess_ops ike_sess_ops;
/* Frees a session that is in no table (or has just been taken out of them). */
void ike_sess_release(struct ike_sess *s);
/* Ends a session: it leaves the state and its child SAs and leases go at once;
 * with @send_delete the peer gets a DELETE of the IKE SA (after our request under
 * way, if there is one, has been answered). */
void ike_sess_end(struct ike_sess *s, const char *reason, bool send_delete);
/* Ends a half-open SA without a session (failed authentication). */
void ike_sess_abandon(struct ike_sess *s);
void ike_sess_established(struct ike_sess *s);
bool ike_sess_respond(struct ike_sess *s, uint8_t exchange, uint32_t msg_id, uint8_t first, const uint8_t *inner,
                      size_t inner_len);
void ike_sess_notify_event(struct ike_sess *s, const char *name, const char *reason, const char *message);
/* The session's traffic summed over its child SAs, rekeyed ones included: bytes in,
 * bytes out, packets in, packets out (ike_state.c). */
void ike_sess_totals(struct ike_sess *s, uint64_t v[4]);
void ike_sess_arm_timers(struct ike_sess *s);
/* Arms the retransmission timer of our request under way (dpd_retry, else 2
 * s), and the NAT keepalive timer (gen->nat_keepalive); each made on first
 * use (a failure logged: the timer is not armed). */
void ike_sess_retx_arm(struct ike_sess *s);
void ike_sess_keepalive_arm(struct ike_sess *s);
/* The IKE SA was rekeyed: its lifetime starts again. */
void ike_sess_ike_rekeyed(struct ike_sess *s);
char *ike_addr_str(const struct sockaddr_storage *a, char *buf, size_t len);

/* ike_xmit.c: what the engine sends */
/* Sends one datagram; IKE on the NAT-T port gets the non-ESP marker unless @raw
 * (a NAT keepalive is the single byte 0xFF, RFC 3948 2.3). */
void ike_xmit_dgram(struct ike_sock *sk, const struct sockaddr_storage *local, const struct sockaddr_storage *peer,
                    const uint8_t *data, size_t len, bool raw);
/* @s's reassembly of a request in fragments, allocated at its first fragment
 * (NULL: no memory); taken, complete, into @done (empty without one), which
 * the caller finishes with ike_frag_fini. */
struct ike_frag *ike_sess_frag(struct ike_sess *s);
void ike_sess_frag_take(struct ike_sess *s, struct ike_frag *done);
/* What sealing a message of @s needs, copied (its keys, header, fragment
 * size): a crypto thread seals with it alone. Wiped by the caller. */
struct ike_seal_ctx {
    struct ike_hdr h;
    bool cbc, fragmentation;
    enum ike_aead alg;
    enum ike_integ integ;
    uint8_t key[36], integ_key[64];
    size_t key_len, mtu, overhead;
};
void ike_seal_ctx_of(const struct ike_sess *s, uint8_t exchange, bool response, uint32_t msg_id,
                     struct ike_seal_ctx *c);
/* ike_xmit_seal with a context instead of the session (any thread). */
bool ike_seal_ctx_seal(const struct ike_seal_ctx *c, uint8_t first, const uint8_t *inner, size_t inner_len,
                       struct ike_out *o);
/* A datagram's header for @sk (only its fd, addr and natt are read): to
 * @peer, the non-ESP marker on the NAT-T port unless @raw (@iov: two entries,
 * the second @data), from @local when the socket is bound to every address. */
union ike_cmsg {
    char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
    struct cmsghdr align;
};
void ike_xmit_hdr(const struct ike_sock *sk, const struct sockaddr_storage *local, const struct sockaddr_storage *peer,
                  const uint8_t *data, size_t len, bool raw, struct iovec iov[2], union ike_cmsg *cm,
                  struct msghdr *mh);

/* ike_tx.c: short answers sent in batches, off the control thread */
#define IKE_TX_BATCH 16 /* short answers sent in one sendmmsg */
#define IKE_TX_SHORT 96 /* bytes of an answer that may wait for the batch */
/* A short unprotected answer (a COOKIE): while @sk's batch of received
 * datagrams is handled, queued, and sent with the others in one system call
 * by the sending thread (ike_xmit_flush); else at once, as ike_xmit_dgram. */
void ike_xmit_short(struct ike_sock *sk, const struct sockaddr_storage *local, const struct sockaddr_storage *peer,
                    const uint8_t *data, size_t len);
/* The queued short answers handed to the sending thread (sent here when it
 * cannot take them); at the end of each batch. */
void ike_xmit_flush(void);
/* Returns once nothing queued is left to send (before a socket closes). */
void ike_xmit_drain(void);
/* The sending thread ended (it starts again when next needed). */
void ike_xmit_stop(void);
/* Seals @inner (a payload chain starting with @first) into one message, or into
 * Encrypted Fragments when fragmentation was negotiated and it would not fit the
 * configured MTU (RFC 7383 2.5); @o gets the datagrams. */
bool ike_xmit_seal(struct ike_sess *s, uint8_t exchange, bool response, uint32_t msg_id, uint8_t first,
                   const uint8_t *inner, size_t inner_len, struct ike_out *o);
/* Sends the datagrams of @o to the session's peer (again). */
void ike_xmit_out(struct ike_sess *s, const struct ike_out *o);
/* Frees the datagrams of @o and their table. */
void ike_xmit_out_free(struct ike_out *o);
/* Room in @o for one more datagram: false at IKE_MAX_DGRAMS or out of memory. */
bool ike_xmit_out_room(struct ike_out *o);
/* Timers of a session: our request's retransmission (the session ends after
 * the last one), the NAT keepalive. */
void ike_xmit_on_retx(evutil_socket_t fd, short what, void *arg);
void ike_xmit_on_keepalive(evutil_socket_t fd, short what, void *arg);

/* ike_initx.c: IKE_SA_INIT */
/* The IKE_SA_INIT request @req (@buf as received): answered again, refused by
 * a limit or a cookie, or answered by a new half-open SA. */
void ike_initx_handle(struct ike_engine *e, struct ike_sock *sk, const struct sockaddr_storage *local,
                      const struct sockaddr_storage *peer, const uint8_t *buf, size_t len, const struct ike_msg *req);
/* A request the codec refused for its version or an unknown critical payload
 * (@rc): an unprotected error notification within the rate limit, or dropped. */
void ike_initx_unprotected(struct ike_engine *e, struct ike_sock *sk, const struct sockaddr_storage *local,
                           const struct sockaddr_storage *peer, const struct ike_msg *msg, enum ike_parse_rc rc);
/* A session freed while its IKE_SA_INIT job runs: the job's result is dropped. */
void ike_initx_forget(struct ike_sess *s);
/* After the pool is freed: the per-source counts go. */
void ike_initx_stop(struct ike_engine *e);
/* Whether the crypto pool is loaded (cookies are then demanded). */
bool ike_pool_loaded(const struct ike_engine *e);
/* Whether an IKE_SA_INIT from @peer with @spi_i has a half-open SA here. */
bool ike_initx_known(struct ike_engine *e, const uint8_t spi_i[8], const struct sockaddr_storage *peer);

/* ike_cookie.c: cookies (RFC 7296 2.6) */
/* A new cookie secret every few minutes; the previous one stays valid. */
void ike_cookie_rotate(struct ike_engine *e);
/* The secrets wiped and their MAC contexts freed. */
void ike_cookie_fini(struct ike_engine *e);
/* Whether new IKE_SA_INIT requests must bring a cookie. */
bool ike_cookie_demanded(const struct ike_engine *e);
/* Whether the IKE_SA_INIT request @h (its first known payload @first, its
 * Nonce @nonce, either NULL when absent) passes the cookie check; answered
 * with a COOKIE (counted) when it must bring one, dropped without a Nonce. */
bool ike_cookie_ok(struct ike_engine *e, struct ike_sock *sk, const struct sockaddr_storage *local,
                   const struct sockaddr_storage *peer, const struct ike_hdr *h, const struct ike_pld *first,
                   const struct ike_pld *nonce);
/* The datagram @buf, before it is parsed: true when it was a new IKE_SA_INIT
 * request without a good cookie while cookies are demanded, and is done with
 * (answered with a COOKIE exactly as ike_initx_handle would, or dropped
 * without a Nonce); false for everything else, which takes the full path. */
bool ike_cookie_fast(struct ike_engine *e, struct ike_sock *sk, const struct sockaddr_storage *local,
                     const struct sockaddr_storage *peer, const uint8_t *buf, size_t len);

/* ike_info.c: INFORMATIONAL */
/* The peer's INFORMATIONAL request @in (decrypted), answered. */
void ike_info_handle(struct ike_sess *s, const struct ike_msg *in, uint32_t msg_id);
/* DELETE of the IKE SA (RFC 7296 1.4.1), sent once with the next message ID. */
void ike_info_send_delete(struct ike_sess *s);

/* Moves the IKE SA of @s (SPIs, keys, message IDs, last response) into @stub,
 * which then stands for the old SA until the peer deletes it; @s leaves the SPI
 * table and gets a new IKE SA from the caller. */
bool ike_sess_stub(struct ike_sess *s, struct ike_sess *stub);
/* Our requests (one at a time, window size 1) */
enum { REQ_NONE = 0, REQ_DPD, REQ_DELETE, REQ_CHILD_REKEY, REQ_CHILD_DELETE, REQ_IKE_REKEY, REQ_CFG_SET,
       REQ_MOBIKE_RR, REQ_REDIRECT };
bool ike_sess_request(struct ike_sess *s, int kind, uint8_t exchange, uint8_t first, const uint8_t *inner,
                      size_t inner_len);

/* Room for one more child SA in s->child (and its DELETE in the queues): grows
 * the table, which moves every child (re-find pointers into it afterwards).
 * False at IKE_MAX_CHILD or when memory is short. */
bool ike_child_room(struct ike_sess *s);
/* A child SA the peer deleted: the one it replaced (if any) may be rekeyed again. */
void ike_child_forget(struct ike_sess *s, uint32_t spi_in);
/* ike_rekey.c: CREATE_CHILD_SA */
void ike_handle_create_child(struct ike_sess *s, const struct ike_msg *in, uint32_t msg_id);
/* Child SA lifetimes: sets a new child's deadlines, (re)arms the session's timer;
 * when a child's soft lifetime passes Raven rekeys it, at its hard lifetime it is
 * deleted. */
void ike_child_lifetimes(struct ike_sess *s, struct ike_child_sa *c);
/* The dataplane's SA @spi (@inbound or outbound) of one of the session's
 * children passed its soft volume limit (@hard false: the child is rekeyed) or
 * its hard one (the dataplane carries nothing more on it: it is deleted); its
 * poll is daemon/session's (sess_dp_poll), which also ends idle sessions. */
void ike_child_volume(struct ike_sess *s, bool inbound, uint32_t spi, bool hard);
void ike_child_timer_arm(struct ike_sess *s);
void ike_child_on_timer(struct ike_sess *s);
/* The peer's answer to our REQ_CHILD_REKEY / REQ_CHILD_DELETE. */
void ike_child_rekey_done(struct ike_sess *s, const struct ike_msg *in);
void ike_child_delete_done(struct ike_sess *s);
/* Our rekey of the IKE SA before its lifetime ends, and the peer's answer. */
bool ike_ike_rekey_start(struct ike_sess *s);
void ike_ike_rekey_done(struct ike_sess *s, const struct ike_msg *in);
/* Sends the queued child SA DELETEs once no request of ours is under way. */
void ike_child_flush_deletes(struct ike_sess *s);

/* ike_state.c: a leaf under @p (nothing when @v is NULL) */
void ike_add_str(struct lyd_node *p, const char *name, const char *v);
/* ike_evxml.c: session-up, session-down or authentication-failure of @s as XML
 * text (*len bytes, to free), or NULL (no memory, unknown @name). */
char *ike_evxml(struct ike_sess *s, const char *name, const char *reason, const char *message, size_t *len);
/* Whether @v is valid UTF-8 that XML 1.0 can carry. */
bool ike_evxml_text_ok(const char *v);
void ike_add_u64(struct lyd_node *p, const char *name, uint64_t v);

/* Identification payload types (RFC 7296 3.5) */
enum { ID_IPV4 = 1, ID_FQDN = 2, ID_RFC822 = 3, ID_IPV6 = 5, ID_DER_DN = 9, ID_KEY_ID = 11 };
/* Not an ID payload type: an EAP identity, for the name manglers (S6) */
#define ID_EAP 256

/* ike_authz.c: profile selection, keys, the sources of a session's
 * authorization (merged by sess_authorize, daemon/session/sess_authz.h) */
/* The RADIUS answers an authorization may use besides local policies. */
struct ike_authz_in {
    const struct aaa_attrs *user, *group, *cached;
};
/* The first profile, in configuration order, whose match rules accept the client:
 * its identity, or its certificate through a certificate map, and local address. */
const struct ike_prof *ike_select_profile(const struct ike_conf *c, const struct ike_id_pld *id,
                                          const struct ike_sess *s, X509 *cert);
/* The profile's trustpoints of a usage (IKE_TP_VERIFY or IKE_TP_SIGN; those of
 * IKE_TP_BOTH are either). */
size_t ike_profile_tps(const struct ike_prof *prof, enum ike_tp_usage usage, struct pki_tp **out, size_t cap);
/* The pre-shared key that authenticates the client (@remote) or us, NULL if none. */
const char *ike_psk(const struct ike_prof *prof, bool remote, const struct ike_id_pld *id,
                    const struct sockaddr_storage *peer);
/* User and group authorization for authentication method @method ("psk",
 * "cert", "eap"): the sources the profile names (local policies, the RADIUS
 * answers in @rad, else the policy named "default") merged by sess_authorize,
 * and the user's and group's names in @user/@group. */
void ike_authorize(const struct ike_conf *c, const struct ike_prof *prof, const char *method, int id_type,
                   const char *id, X509_NAME *dn, const struct ike_authz_in *rad, struct sess_attrs *a, char *user,
                   char *group, size_t cap);
/* The AAA name for authorization source @src (a user or group source of the
 * profile, or its keyring aaa): its user name, else the mangled identity (S6). */
void ike_authz_name(const struct ike_authz_src *src, int id_type, const char *id, X509_NAME *dn, char *out,
                    size_t cap);

/* ike_route.c: sessions' kernel routes (protocol IKE_ROUTE_PROTO), route set
 * interface, VRF devices */
#define IKE_ROUTE_PROTO 245
struct ike_kroute {
    uint8_t family, plen;
    uint8_t dst[16];
    uint32_t table, metric, realm;
    bool tried, installed;
};
/* The route attributes of authorization policy @pol, compiled into @p. */
void ike_route_compile_policy(const struct lyd_node *pol, struct sess_authz_pol *p);
/* route set interface: the interfaces' addresses join the split subnets. */
void ike_route_set_iface(const struct dp *dp, struct sess_attrs *a);
/* After the client's selector bounds (s->allow_i) are set: with route accept,
 * its acceptable subnets in @tsi_p join them; the session's kernel routes are
 * planned (installed by ike_route_install once it is up). @m marks what came
 * before the accepted subnets, for ike_route_accept_done when the first child
 * SA is not made. */
struct ike_route_mark;
void ike_route_plan(struct ike_sess *s, const struct ike_prof *prof, const struct sess_attrs *a,
                    const struct ike_pld *tsi_p, struct ike_route_mark *m);
/* A new child SA's selectors (CREATE_CHILD_SA): with route accept, the client's
 * acceptable subnets among @tsi join s->allow_i (@m remembers what was there);
 * ike_route_accept_done then routes them once the child is made, or takes them
 * back when it is refused (nothing was routed yet). */
struct ike_route_mark {
    uint8_t nts;
    size_t nroutes;
};
void ike_route_accept_child(struct ike_sess *s, const struct ike_ts_pld *tsi, struct ike_route_mark *m);
void ike_route_accept_done(struct ike_sess *s, const struct ike_route_mark *m, bool made);
/* The session whose accepted client subnets (route accept) hold an address of
 * @s, 0 if none. */
uint64_t ike_route_subnet_holder(const struct ike_sess *s);
/* Installs the routes not tried yet. */
void ike_route_install(struct ike_sess *s);
/* Removes the session's routes (every end path). */
void ike_route_remove(struct ike_sess *s);
void ike_route_stop(struct ike_engine *e);
/* The VRF device @name: its ifindex and table; -ENODEV, -EMEDIUMTYPE (not a VRF). */
int ike_route_vrf(const char *name, int *ifindex, uint32_t *table);
/* Every VRF device present joins @out[0..@n) once (at most @cap): the new count. */
size_t ike_route_vrf_devices(char (*out)[16], size_t n, size_t cap);
/* ike_route_conf.c (compiling, commit checks): the front-door VRFs to listen
 * in: those that match fvrf names, every VRF device present when one says
 * "any". */
size_t ike_route_fvrfs(const struct lyd_node *tree, char (*out)[16], size_t cap);
/* Commit checks: the VRF devices of @tree (the generation's copy: policies'
 * and profiles' fvrf, profiles' ivrf) exist; the route set interfaces of the
 * authorization policy @pol (as compiled, @p) exist. */
bool ike_route_check(const struct lyd_node *tree, ike_err_fn err, void *arg);
bool ike_route_check_policy(const struct lyd_node *pol, const struct sess_authz_pol *p, ike_err_fn err, void *arg);

/* ike_authx.c: the IKE_AUTH exchange (@inner: the decrypted request): the
 * first request starts its steps (ike_auth_steps.h), a later one continues
 * its EAP exchange. */
void ike_handle_auth(struct ike_sess *s, const struct ike_msg *inner);
/* Refuses the IKE_AUTH request @msg_id: AUTHENTICATION_FAILED, an
 * authentication-failure notification with @reason (an auth-failure-reason
 * name or NULL) and the half-open SA goes. */
void ike_auth_fail(struct ike_sess *s, uint32_t msg_id, const char *reason, const char *why);
/* The same after another answer was sent (an EAP-Failure): logged, counted,
 * notified, and the half-open SA goes. */
void ike_auth_refused(struct ike_sess *s, const char *reason, const char *why);
/* Our IDr, CERT and signature AUTH for the profile of @s (the first response of
 * an EAP exchange); the IDr body is kept in s->pend. False on failure. */
bool ike_auth_build_ours(struct ike_sess *s, const struct ike_prof *prof, struct ike_builder *ib);
/* Whether the shared key AUTH of request @req (IDi, AUTH) matches @key. */
bool ike_auth_psk_ok(const struct ike_sess *s, const struct ike_msg *req, const uint8_t *key, size_t key_len);

/* ike_crl.c: revocation of client certificates */
/* The session authenticated with @cert, whose revocation trustpoint @tp checks:
 * remembers its issuer and serial. */
void ike_crl_remember(struct ike_sess *s, X509 *cert, const struct pki_tp *tp);
/* Parks the IKE_AUTH of s->pend in CRL_WAIT until the CRL of @cert arrives
 * (adopts @cert and @chain); its steps go on when the fetch ends. */
void ike_crl_park(struct ike_sess *s, X509 *cert, STACK_OF(X509) *chain);
/* A session taken over from the session arena: its certificate's OCSP answer
 * is asked for again (the cache did not survive), and kept fresh. */
void ike_crl_adopted(struct ike_sess *s);
/* The session ends: it no longer holds its certificate's OCSP answer. */
void ike_crl_release(struct ike_sess *s);

/* ike_authq.c: IKE_AUTH's crypto on the crypto pool's threads */
/* With crypto threads, an IKE_AUTH request's SK payload (@buf as received, of
 * @len bytes, parsed into @msg) opened and parsed by a job, which then hands
 * it to ike_request_in: true when the job took it, false when there are no
 * threads or the queue is full (opened inline). */
bool ike_authq_open(struct ike_sess *s, const uint8_t *buf, size_t len, const struct ike_msg *msg,
                    struct ike_sock *sk, const struct sockaddr_storage *local, const struct sockaddr_storage *peer);
/* A session freed while its open job runs: the job's result is dropped. */
void ike_authq_open_forget(struct ike_sess *s);
/* A request (@buf, @len bytes) of the ID @s's open jobs are for: a copy of
 * one of theirs, byte for byte (a retransmission: answered once that one is
 * done), one that may have a job of its own (not authenticated yet: a forged
 * copy must not keep the genuine one out), or one over what a session may have
 * opened at once (IKE_AUTHQ_OPEN_MAX: dropped). */
enum ike_authq_copy { IKE_AUTHQ_NEW, IKE_AUTHQ_SAME, IKE_AUTHQ_FULL };
#define IKE_AUTHQ_OPEN_MAX (1 + IKE_MAX_FRAGMENTS) /* a whole message and each fragment of one */
enum ike_authq_copy ike_authq_copy(const struct ike_sess *s, const uint8_t *buf, size_t len);
/* The verify and seal jobs of @pd let go (their results dropped), and the
 * steps' saved findings freed. */
void ike_authq_forget(struct ike_pend *pd);
/* ike_engine.c: an authentic request's contents (@rc as opening its SK payload
 * found, @inner its payloads), handled as ike_handle_dgram would. */
void ike_request_in(struct ike_sess *s, enum ike_sk_rc rc, const struct ike_hdr *hdr, const struct ike_msg *inner,
                    struct ike_sock *sk, const struct sockaddr_storage *local, const struct sockaddr_storage *peer);

/* Whether the IKE_AUTH exchange of @s waits for RADIUS, DHCP, a CRL or a
 * crypto thread (our signature, the client's, the response's sealing): a
 * retransmission of its request is dropped, and so is a new request. */
bool ike_auth_waiting(const struct ike_sess *s);

/* ike_auth_steps.c: the exchange under way for request @in (copied), @msg_id
 * to answer. */
struct ike_pend *ike_pend_new(const struct ike_msg *in, uint32_t msg_id);
void ike_pend_free(struct ike_pend *p);
/* Keeps a copy of @in, the EAP exchange's final request, in p->fin while a
 * PPK is asked of RADIUS (ike_aaa.c); false when memory is short. */
bool ike_pend_keep_fin(struct ike_pend *p, const struct ike_msg *in);

/* ike_aaa.c: EAP pass-through and authorization over RADIUS */
/* A later IKE_AUTH request of an EAP exchange. */
void ike_eap_continue(struct ike_sess *s, const struct ike_msg *in, uint32_t msg_id);

/* The text form of an identification payload ("IPv4 address", FQDN, ...). */
char *ike_id_text(uint8_t type, const uint8_t *data, size_t len);
/* The raven-types identity of an ID type ("id-fqdn"), NULL if none. */
const char *ike_id_type_name(uint8_t type);
/* A fresh inbound SPI, unused in the dataplane. */
uint32_t ike_new_spi(struct ike_engine *e);
/* ike_childx.c: a child's two SAs in the dataplane */
void ike_child_dp_conf(const struct ike_sess *s, const struct ike_child_sa *c, const struct ike_child_keys *k,
                       struct dp_sa *in, struct dp_sa *out);
bool ike_child_install(struct ike_sess *s, struct ike_child_sa *c, const struct ike_child_keys *k);
void ike_child_remove(struct ike_sess *s, struct ike_child_sa *c);
/* ike_childx.c: the ESP settings of the profile's IPsec profile (the virtual
 * template's, else one naming the profile; defaults without one). */
void ike_childx_settings(struct ike_sess *s, const struct ike_prof *prof);

/* ike_mobike.c: MOBIKE (RFC 4555) and NAT mapping changes (RFC 7296 2.23) */
/* The respond step of IKE_AUTH (request @req): MOBIKE_SUPPORTED into @ib when
 * the client announced it and @prof allows it; its additional addresses. */
void ike_mobike_auth(struct ike_sess *s, const struct ike_prof *prof, const struct ike_msg *req,
                     struct ike_builder *ib);
/* An authentic request from @peer to @local on @sk: with MOBIKE the SA stays
 * (only UPDATE_SA_ADDRESSES moves it) and the answer goes where the request
 * came from; without it an established session follows (a NAT mapping
 * change), a half-open one floats to the NAT-T port. */
void ike_mobike_rx(struct ike_sess *s, struct ike_sock *sk, const struct sockaddr_storage *local,
                   const struct sockaddr_storage *peer);
/* Sends @o (a response) where the latest request came from. */
void ike_mobike_reply(struct ike_sess *s, const struct ike_out *o);
/* The MOBIKE notifies of the peer's INFORMATIONAL request @in: the answer's
 * NAT detection, COOKIE2, refusals go into @bd (*first set if it was empty). */
void ike_mobike_info(struct ike_sess *s, const struct ike_msg *in, struct ike_builder *bd, uint8_t *first);
/* After that answer went: the move, or its return routability check. */
void ike_mobike_info_done(struct ike_sess *s);
/* The peer's answer to our check (REQ_MOBIKE_RR), and a check that went
 * unanswered (nothing moves; the request goes on as a liveness check to the
 * address in use). */
void ike_mobike_rr_done(struct ike_sess *s, const struct ike_msg *in);
void ike_mobike_rr_failed(struct ike_sess *s);
/* A queued check sent once no request of ours is under way. */
void ike_mobike_flush(struct ike_sess *s);
/* Where our request @o goes: the new address while it is the check. */
void ike_mobike_request_to(struct ike_sess *s, const struct ike_out *o);
/* The dataplane's reports of ESP from new NAT mappings (dp_floated). */
void ike_mobike_dp_poll(struct ike_engine *e);
/* UDP encapsulation of the session's SAs (@natt: its socket is the NAT-T
 * port's): a MOBIKE session's latest update with NAT detection decides (RFC
 * 4555 3.5), else a NAT-T socket or a NAT found (RFC 7296 2.23). */
bool ike_mobike_encap(const struct ike_sess *s, bool natt);
/* A session taken over from the arena with a check pending: one whose new
 * address is another local address or port than the session's (its socket is
 * not kept in the record) is abandoned, as an unanswered one. */
void ike_mobike_adopted(struct ike_sess *s);
/* vpn-state session/mobility. */
void ike_mobike_state(const struct ike_sess *s, struct lyd_node *n);

/* ike_redirect.c: IKEv2 redirect (RFC 5685) */
/* Whether request @req announced redirect support: REDIRECT_SUPPORTED, or
 * REDIRECTED_FROM (*@from set: it was sent here by another gateway). */
bool ike_redirect_announced(const struct ike_msg *req, bool *from);
/* The IKE_SA_INIT request @req (past the limits and the cookie check): true
 * when it was answered with REDIRECT (no state kept); false when it goes on. */
bool ike_redirect_at_init(struct ike_engine *e, struct ike_sock *sk, const struct sockaddr_storage *local,
                          const struct sockaddr_storage *peer, const struct ike_msg *req);
/* A REDIRECT in the client's INFORMATIONAL request @in: logged, counted, ignored. */
void ike_redirect_from_client(struct ike_sess *s, const struct ike_msg *in);
/* The client's answer to our REDIRECT (REQ_REDIRECT). */
void ike_redirect_done(struct ike_sess *s, const struct ike_msg *in);
/* A REDIRECT queued behind our request under way, sent once none is. */
void ike_redirect_flush(struct ike_sess *s);

/* ike_adopt.c: the session arena. At exit with the sessions kept: frees what memory only the session holds and
 * gives nothing back outside (leases, routes, SAs, DHCP). */
void ike_persist_keep(struct ike_sess *s);

/* ike_engine.c: a session decoded from a record of the session arena put into
 * the tables as established (false: its id or SPI is in use). ike_xmit.c: our
 * request under way sent again (by an adopting process). */
bool ike_sess_adopt_insert(struct ike_sess *s);
void ike_sess_resend_request(struct ike_sess *s);

#endif
