/* The AAA service of ravend (SPEC S3, S5, S9; DESIGN.md "Sessions, AAA"): the
 * RADIUS servers, server groups and method lists of the `aaa` subtree compiled
 * for the RADIUS client; Access-Requests for EAP pass-through and authorization
 * with the method list's groups tried in order; accounting (RFC 2866); the dynamic
 * authorization server (RFC 5176) for the configured clients; per-server
 * counters for vpn-state. Everything runs on the control thread's loop and
 * answers through callbacks. */
#ifndef RAVEN_AAA_H
#define RAVEN_AAA_H

#include <libyang/libyang.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "daemon/aaa/aaa_attrs.h"

struct event_base;
struct aaa;
struct aaa_op;

typedef void (*aaa_err_fn)(void *arg, const char *path, const char *msg);

struct aaa *aaa_new(struct event_base *base);
/* Cancels what is under way (no callbacks) and closes every socket. */
void aaa_free(struct aaa *a);
/* Transaction hooks for the whole new running @tree: prepare compiles the aaa
 * subtree and binds the dynamic authorization socket if its port changed
 * (failing when it cannot be bound; it is read only from apply on); apply puts it
 * in force, abort forgets it. With @dry_run the socket is bound and closed at once
 * (a check): only abort may follow. */
int aaa_prepare(struct aaa *a, const struct lyd_node *tree, bool dry_run, aaa_err_fn err, void *arg);
void aaa_apply(struct aaa *a);
void aaa_abort(struct aaa *a);

/* What a method list starts with: nothing (no such list), the local database, or
 * RADIUS server groups. */
enum aaa_source { AAA_NONE = 0, AAA_LOCAL, AAA_RADIUS };
enum aaa_list_kind { AAA_AUTHENTICATION, AAA_AUTHORIZATION, AAA_ACCOUNTING };
enum aaa_source aaa_list_source(const struct aaa *a, enum aaa_list_kind kind, const char *list);

/* An Access-Request. */
struct aaa_access {
    const char *user;
    const char *password;             /* PAP; NULL for EAP */
    const uint8_t *eap, *state;       /* EAP-Message, State (echoed from the challenge) */
    size_t eap_len, state_len;
    const char *calling_station;      /* the client's address */
    const char *nas_port_id;          /* the session, for the server's logs */
    uint32_t service_type;            /* 2 Framed (authentication), 5 Outbound (authorization) */
};

enum aaa_result { AAA_ACCEPT, AAA_REJECT, AAA_CHALLENGE, AAA_UNREACHABLE, AAA_FAILED };

struct aaa_reply {
    enum aaa_result result;
    const char *server;
    uint8_t eap[4096]; /* the EAP packet of the reply, if any */
    size_t eap_len;
    uint8_t state[253];
    size_t state_len;
    uint8_t msk[64]; /* MS-MPPE-Recv-Key | MS-MPPE-Send-Key (RFC 3748 MSK) */
    size_t msk_len;
    struct aaa_attrs attrs; /* of an Access-Accept; the callback may take them (then reinit) */
    char reply_message[128];
};

/* @r is valid during the call only; the operation is over when it returns. */
typedef void (*aaa_access_fn)(struct aaa_reply *r, void *arg);
/* Sends @q to the RADIUS groups of @list (of @kind) in order: the next group is
 * asked only when no server of the previous one answered. NULL when the list has
 * no group (nothing is called). */
struct aaa_op *aaa_access_send(struct aaa *a, enum aaa_list_kind kind, const char *list, const struct aaa_access *q,
                               aaa_access_fn done, void *arg);
/* Forgets an operation; its callback is not called. */
void aaa_cancel(struct aaa_op *op);

/* Accounting (RFC 2866). */
enum { AAA_ACCT_START = 1, AAA_ACCT_STOP = 2, AAA_ACCT_INTERIM = 3 };
struct aaa_acct {
    int status;
    const char *session_id, *user, *calling_station, *class_, *nas_port_id;
    bool has_addr;
    uint32_t addr; /* host order */
    uint64_t in_octets, out_octets, in_packets, out_packets;
    uint32_t session_time, terminate_cause;
};
/* Sends an Accounting-Request to @list's groups (fire and forget: failures are
 * logged and counted). */
void aaa_acct_send(struct aaa *a, const char *list, const struct aaa_acct *r);
/* The configured interim interval in seconds, 0 for none. */
uint32_t aaa_interim_interval(const struct aaa *a);

/* Dynamic authorization (RFC 5176): a verified Disconnect-Request or CoA-Request.
 * The handler finds the sessions (by Acct-Session-Id, User-Name or
 * Framed-IP-Address) and acts; it returns 0 (ACK) or an Error-Cause (NAK). */
struct aaa_dae {
    bool coa; /* else Disconnect */
    const char *session_id, *user;
    bool has_addr;
    uint32_t addr;
    struct aaa_attrs attrs; /* CoA: the new authorization attributes */
};
enum {
    AAA_EC_UNSUPPORTED_ATTRIBUTE = 401,
    AAA_EC_MISSING_ATTRIBUTE = 402,
    AAA_EC_INVALID_REQUEST = 404,
    AAA_EC_UNSUPPORTED_SERVICE = 405,
    AAA_EC_SESSION_NOT_FOUND = 503,
    AAA_EC_RESOURCES_UNAVAILABLE = 506,
};
typedef int (*aaa_dae_fn)(const struct aaa_dae *req, void *arg);
/* Reads a verified Disconnect-/CoA-Request @v into @req (its strings go to @sid
 * and @user, 254 octets each; free req->attrs after). 0, or the Error-Cause that
 * refuses it. */
int aaa_dae_read(const struct rad_view *v, struct aaa_dae *req, char sid[254], char user[254]);
void aaa_set_dae_handler(struct aaa *a, aaa_dae_fn fn, void *arg);

/* Adds the per-server counters (radius-server list) under vpn-state @state. */
void aaa_state(const struct aaa *a, struct lyd_node *state);

#endif
