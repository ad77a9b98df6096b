/* Sessions (DESIGN.md "Sessions, AAA, pools, PKI"): who a remote-access client
 * is, what it was given and what it owes. A session holds the identity chain
 * (IKE ID, EAP identity, the authorized user and group and where their
 * attributes came from), the certificate it authenticated with, its
 * authorization merged from its sources (sess_authz.h), its leases in the one
 * address book (pool, RADIUS or DHCP addresses), its child SAs' entries in the
 * dataplane, its RADIUS requests, accounting (RFC 2866) and dynamic
 * authorization (RFC 5176), its session lifetime and idle time.
 *
 * The IKE engine carries one per IKE SA it answers (struct ike_sess holds a
 * struct sess, each IKE child a struct sess_child) and calls this module
 * downward: sess_init and sess_add, sess_authorize, the lease functions,
 * sess_child_install/remove, the accounting functions, sess_end,
 * sess_release. This module never includes daemon/ike: it reaches the IKE SA
 * of a session only through the ops table its manager was given
 * (sess_mgr_init): ending the session with a DELETE, whether it is up, its
 * traffic, its record in the session arena, its flow limit, its peer's
 * address, a child SA at its volume limit. */
#ifndef RAVEN_SESS_H
#define RAVEN_SESS_H

#include <event2/event.h>
#include <openssl/asn1.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <uthash.h>

#include "daemon/aaa/aaa.h"
#include "daemon/pool/dhcp.h"
#include "daemon/session/sess_authz.h"
#include "dataplane/dp.h"

struct pool_set;
struct sess;

/* A child SA of a session as the dataplane carries it: its two SAs, their
 * lifetimes and the traffic of the SAs it replaced. The IKE engine's child SA
 * (the negotiation: algorithms, keys, selectors, rekey state) holds one. */
struct sess_child {
    uint32_t spi_in, spi_out;
    time_t established;
    uint32_t rekeys;
    time_t rekey_at, expire_at;           /* soft and hard lifetime */
    struct dp_sa_stats base_in, base_out; /* traffic of the SAs it replaced */
    /* with a session arena: the SAs' slots of changing state there (index + 1;
     * 0: none) */
    uint32_t live_in, live_out;
    bool in_dp; /* its SAs are in the dataplane (installed, or put back by adoption) */
};

/* A session's traffic so far: every child SA, both directions, also those
 * rekeyed away. */
struct sess_traffic {
    uint64_t in_octets, out_octets, in_packets, out_packets;
};

/* What the session module asks of the IKE SA that carries a session. */
struct sess_ops {
    /* End the session: DELETE to the client when @notify, accounting Stop with
     * @reason, every lease and child SA given back, the IKE SA freed (@ss
     * too: the caller must not touch it afterwards). */
    void (*end)(struct sess *ss, const char *reason, bool notify);
    /* Whether the session is established (its IKE SA up). */
    bool (*up)(const struct sess *ss);
    /* Its traffic so far. */
    void (*traffic)(const struct sess *ss, struct sess_traffic *t);
    /* It changed: its record in the session arena is to be written. */
    void (*changed)(struct sess *ss);
    /* CoA changed its flow limit (child SAs: UINT32_MAX unlimited). */
    void (*flow_limit)(struct sess *ss, uint32_t limit);
    /* The client's outer address as text (Calling-Station-Id). */
    void (*peer)(const struct sess *ss, char *buf, size_t cap);
    /* The dataplane says the SA @spi (@inbound or outbound) of one of its
     * child SAs passed its soft (@hard false: rekey it) or hard volume limit
     * (@hard: it carries nothing more; delete it). */
    void (*child_volume)(struct sess *ss, bool inbound, uint32_t spi, bool hard);
};

/* The sessions of one IKE engine and what they are given from. */
struct sess_arena;
struct sess_mgr {
    struct event_base *base;
    struct dp *dp;               /* the dataplane (NULL: none, as in some unit tests) */
    struct sess_arena *arena;    /* the session arena (NULL: none) */
    bool arena_full_logged;
    struct aaa *aaa;          /* RADIUS: accounting, dynamic authorization (NULL: none) */
    struct dhcp_client *dhcp; /* DHCP leases (NULL: none) */
    struct pool_set *pools, *pools6; /* the address book in force (sess_mgr_pools) */
    const struct sess_ops *ops;
    struct sess *by_id;       /* established and authenticating sessions, by id */
    uint32_t boot;            /* this process's start: Acct-Session-Id */
};

struct sess {
    uint64_t id;
    struct sess_mgr *m;
    /* who */
    uint8_t id_type; /* the IKE ID's type (RFC 7296 3.5) */
    char *remote_id, *local_id, *eap_identity;
    char *profile, *ipsec_profile, *auth_method;
    char *user, *group;
    char *authz_sources; /* where the attributes came from, e.g. "radius-cached radius-user policy-group" */
    /* the certificate it authenticated with, checked again at each CRL refresh */
    X509_NAME *cert_issuer;
    ASN1_INTEGER *cert_serial;
    char *cert_tp; /* the trustpoint that checked it */
    /* accounting (RFC 2866) */
    char *acct_list, *acct_class;
    char acct_id[24];
    struct event *ev_acct;
    /* leases, all in the one address book */
    char *pool, *pool6;
    uint32_t addr4, index6;
    bool have_addr4, have_addr6;
    bool addr4_aaa, addr6_aaa; /* the address came from RADIUS, not a pool */
    struct dhcp_lease *dhcp;   /* the IPv4 address came from DHCP */
    struct dhcp_req *dhcp_renewal;
    struct event *ev_dhcp;
    time_t dhcp_expires;
    uint8_t addr6[16];
    unsigned alen6;
    /* lifetimes */
    uint32_t session_lifetime; /* seconds from establishment, 0 none */
    uint32_t idle_time;        /* seconds without traffic that end the session (0: never) */
    time_t idle_since;         /* when the session's traffic last changed */
    uint64_t idle_traffic;     /* its packets then (both directions, every child) */
    time_t created, established;
    struct event *ev_life;
    /* bandwidth limits (authorization, RADIUS, CoA), in the dataplane while
     * rate_in_dp (sess_rate_apply) */
    struct sess_rate rate;
    bool rate_in_dp;
    bool listed; /* in m->by_id (sess_add) */
    UT_hash_handle hh;
};

/* ---- sess.c: the manager, a session's life ---- */

/* A manager with no session, calling @ops (which must outlive it). */
void sess_mgr_init(struct sess_mgr *m, struct event_base *base, const struct sess_ops *ops);
/* RADIUS for accounting and dynamic authorization (sess_dae is registered
 * with it), DHCP for leases (either may be NULL). */
void sess_mgr_set_aaa(struct sess_mgr *m, struct aaa *aaa);
void sess_mgr_set_dhcp(struct sess_mgr *m, struct dhcp_client *dhcp);
/* The address book in force (after each commit; NULL: none). */
void sess_mgr_set_pools(struct sess_mgr *m, struct pool_set *pools, struct pool_set *pools6);

/* A zeroed @ss made a session of @m (its timers); false when memory is short
 * (nothing to release then). */
bool sess_init(struct sess *ss, struct sess_mgr *m);
/* Lists @ss under ss->id (for dynamic authorization and INITIAL_CONTACT; at
 * most one session per id) and takes it off again. */
void sess_add(struct sess *ss);
void sess_del(struct sess *ss);
struct sess *sess_find(const struct sess_mgr *m, uint64_t id);
/* (Re)arms the session lifetime: ss->session_lifetime after ss->established
 * (at once when it passed); at its end ops->end(ss, "session-lifetime", true).
 * Nothing when the session has none. */
void sess_lifetime_arm(struct sess *ss);
/* The session is over (@reason: a session-down reason name): accounting Stop
 * when it was established (@was_up), its session lifetime stops. Its leases
 * and child SAs are given back when its IKE SA is freed (sess_lease_release,
 * sess_child_remove), or kept for the next process. */
void sess_end(struct sess *ss, const char *reason, bool was_up);
/* Frees what the session holds in memory (names, timers; off the list). Its
 * leases must have been given back first (sess_lease_release), or kept for
 * the next process. */
void sess_release(struct sess *ss);

/* The dataplane and the session arena child SAs are installed in (either may
 * be NULL). */
void sess_mgr_set_dp(struct sess_mgr *m, struct dp *dp, struct sess_arena *arena);

/* ---- sess_child.c: child SAs in the dataplane ---- */

/* Installs child @c's two SAs, @in and @out (built by the IKE engine:
 * algorithms, keys, selectors, lifetimes), with their changing state in the
 * session arena when there is one (slots kept in c->live_in/live_out; none
 * when it is full: those SAs then do not survive a restart); true when both
 * are in the dataplane (c->in_dp), false with neither (and no slot). Adoption
 * (@in->adopt and @out->adopt): c->live_in/live_out name the slots it claimed,
 * whose state the SAs continue; on failure they stay claimed until
 * sess_child_remove. */
bool sess_child_install(struct sess *ss, struct sess_child *c, struct dp_sa *in, struct dp_sa *out);
/* Takes @c's SAs out of the dataplane and gives their arena slots back; their
 * final counters join c->base_* (then the child's whole traffic, for the
 * caller to carry over to the child that replaced it if it wants). */
void sess_child_remove(struct sess *ss, struct sess_child *c);
/* A rekeyed child's traffic (@from, removed) carries over to the child that
 * replaced it (@to): the session's counters only grow. */
void sess_child_carry(struct sess_child *to, const struct sess_child *from);
/* @c's traffic: what the dataplane counted on its SAs plus c->base_*. */
void sess_child_stats(const struct sess *ss, const struct sess_child *c, struct dp_sa_stats *in,
                      struct dp_sa_stats *out);
/* The session's bandwidth limits (ss->rate) into the dataplane: set, or
 * changed at once on its SAs (a CoA), nothing re-keyed. A session without a
 * limit in either direction costs the dataplane nothing. 0, or -ENOMEM
 * (logged: the session then runs without them). */
int sess_rate_apply(struct sess *ss);
/* Its limits leave the dataplane (the session is over). */
void sess_rate_release(struct sess *ss);
/* What the dataplane policed on the session so far (zeros without limits). */
void sess_rate_stats(const struct sess *ss, struct dp_police_stats *out);

/* Every second: SAs past their soft or hard volume limit (ops->child_volume),
 * sessions idle for their idle-time end ("idle-timeout"). */
void sess_dp_poll(struct sess_mgr *m);

/* ---- sess_aaa.c: RADIUS requests, accounting (RFC 2866) and dynamic
 * authorization (RFC 5176) ---- */

/* Whether method list @list (NULL: none) of @kind asks a RADIUS server group
 * first. */
bool sess_aaa_radius(const struct sess *ss, enum aaa_list_kind kind, const char *list);
/* Access-Request @q to list @list of @kind on behalf of @ss (its
 * Calling-Station-Id and NAS-Port-Id filled in); @done with the answer. NULL
 * without RADIUS or a server group in the list (nothing is called). */
struct aaa_op *sess_aaa_access(struct sess *ss, enum aaa_list_kind kind, const char *list, struct aaa_access *q,
                               aaa_access_fn done, void *arg);
/* The authorization of @name asked of RADIUS list @list (S5: user, group, or a
 * key of keyring aaa); NULL when the list does not ask RADIUS first. */
struct aaa_op *sess_authz_query(struct sess *ss, const char *list, const char *name, aaa_access_fn done, void *arg);

/* Accounting Start of an established session (its Acct-Session-Id made from
 * m->boot and its id; nothing sent without ss->acct_list or RADIUS), and its
 * interim updates armed. */
void sess_acct_start(struct sess *ss);
/* An adopted session: interim updates go on (its Start was sent before). */
void sess_acct_resume(struct sess *ss);
/* Accounting Stop with the Acct-Terminate-Cause of @reason (a session-down
 * reason name); interim updates stop. */
void sess_acct_stop(struct sess *ss, const char *reason);
/* Disconnect-Request and CoA-Request on the sessions of @arg (a struct
 * sess_mgr), as registered with aaa_set_dae_handler: an RFC 5176 error cause,
 * 0 when done. */
int sess_dae(const struct aaa_dae *q, void *arg);

/* ---- sess_lease.c: leases, each held in the one address book ---- */

/* INITIAL_CONTACT (RFC 7296 2.4): the established sessions of the same remote
 * identity and profile end ("replaced", no DELETE), so that their addresses
 * are free again. */
void sess_initial_contact(struct sess *ss);
/* The per-user limit (ikev2/global/limit/max-sessions-per-user @max, 0 none),
 * after INITIAL_CONTACT: the user's other established sessions (the
 * authorized user, else the EAP identity, else the IKE identity; ASCII case
 * ignored) number fewer than @max, or with @replace the oldest end
 * ("replaced", DELETE to their clients) until they do: true. False (@why
 * says why) when @ss is to be refused. The session of the same IKE identity
 * and profile from the same address (ops->peer) is the one @ss replaces by
 * make-before-break re-authentication: not counted, or ended first. */
bool sess_user_limit(struct sess *ss, uint32_t max, bool replace, char *why, size_t cap);
/* An IPv4 address from AAA (Framed-IP-Address) or DHCP (@dhcp: the lease,
 * copied; NULL: AAA): claimed in the address book. 0, else -EADDRINUSE
 * (*@holder: the session that holds it), -ERANGE or -ENOMEM; @why (when not
 * NULL) says why for the refusal. */
int sess_lease4_claim(struct sess *ss, uint32_t addr, const struct dhcp_lease *dhcp, uint64_t *holder, char *why,
                      size_t cap);
/* An IPv4 address from pool @pool; 0, else a negative errno (no such pool,
 * exhausted). */
int sess_lease4_pool(struct sess *ss, const char *pool);
/* The netmask of the session's IPv4 pool or DHCP lease, 0 none. */
uint32_t sess_lease4_netmask(const struct sess *ss);
/* An IPv6 address or prefix from AAA, claimed; as sess_lease4_claim. */
int sess_lease6_claim(struct sess *ss, const uint8_t addr[16], unsigned plen, uint64_t *holder, char *why,
                      size_t cap);
/* An IPv6 address (prefix) from pool @pool6; 0, else a negative errno. */
int sess_lease6_pool(struct sess *ss, const char *pool6);
/* Adoption: the leases the session's record names (@v4, @v6: it had them)
 * taken again in the address book in force; NULL, else why not (what was not
 * taken is not held). */
const char *sess_lease_take(struct sess *ss, bool v4, bool v6);
/* Every lease given back: pool addresses released, AAA and DHCP addresses
 * unclaimed, a DHCP lease released to its server. */
void sess_lease_release(struct sess *ss);
/* At exit, the session kept for the next process: its leases stay held (in
 * the address book of the session arena's next reader, at the DHCP server);
 * only what they hold in this process goes (the DHCP lease's copy, its
 * renewal). */
void sess_lease_keep(struct sess *ss);
/* A DHCP lease's renewal at half its time (RFC 2131 4.4.5); a lease the
 * server takes back or that runs out ends the session ("dhcp-lease-lost"). */
void sess_dhcp_arm(struct sess *ss);

#endif
