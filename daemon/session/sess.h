/* Sessions (DESIGN.md "Sessions, AAA, pools, PKI"): who a remote-access client
 * is, what it was given and what it owes. A session holds the identity chain
 * (IKE ID, EAP identity, the authorized user and group and where their
 * attributes came from), the certificate it authenticated with, its leases in
 * the one address book (pool, RADIUS or DHCP addresses), its accounting (RFC
 * 2866) and dynamic authorization (RFC 5176), and its session lifetime.
 *
 * The IKE engine makes one per IKE SA it answers (struct ike_sess holds it)
 * and calls this module downward: sess_init, the lease functions, the
 * accounting functions, sess_release. This module never includes daemon/ike:
 * it reaches the IKE SA of a session only through the ops table its manager
 * was given (sess_mgr_init): ending the session with a DELETE, its traffic
 * counters, whether it is up, its record in the session arena. */
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

struct pool_set;
struct sess;

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
    /* CoA changed its flow limit. */
    void (*flow_limit)(struct sess *ss, uint32_t limit);
};

/* The sessions of one IKE engine and what they are given from. */
struct sess_mgr {
    struct event_base *base;
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
    time_t created, established;
    struct event *ev_life;
    UT_hash_handle hh;
};

#endif
