/* The REST front end: RESTCONF (RFC 8040), event streams, /metrics and the dashboard
 * over HTTPS (libmicrohttpd). Requests are served on libmicrohttpd's threads; the
 * datastore and the daemon's state are reached only through the control queue.
 * Users, endpoints and the certificate come from the management subtree and change
 * live on commit. See README.md for the resources. */
#ifndef RAVEN_API_REST_API_H
#define RAVEN_API_REST_API_H

#include <libyang/libyang.h>
#include <stdbool.h>
#include <stdint.h>

#include "daemon/config/cfg.h"

struct ctlq;
struct event_base;
struct rest_api;

enum rest_role {
    REST_ROLE_READ_ONLY = 0,
    REST_ROLE_ADMIN,
};

struct rest_user {
    char *name;
    char *password_hash; /* crypt(3) string, NULL = no password login */
    enum rest_role role;
};

struct rest_endpoint {
    char *name;
    char *address;
    uint16_t port;
};

/* The management/rest subtree, as a whole: prepared, then applied or aborted. */
struct rest_conf {
    bool enabled;
    struct rest_endpoint *eps;
    size_t neps;
    char *cert_pem; /* NULL: the generated self-signed certificate */
    char *key_pem;
};

/* Hooks into the daemon, called on the control thread: operational state added to
 * *data (created when NULL), and the raven RPCs (output children added under
 * @output, the RPC's node; 0 or -errno with @errs filled). */
typedef int (*rest_state_fn)(struct ly_ctx *ctx, struct lyd_node **data, void *arg);
typedef int (*rest_rpc_fn)(const struct lyd_node *rpc, struct lyd_node *output, struct cfg_errs *errs, void *arg);

struct rest_opts {
    const char *state_dir; /* the self-signed certificate lives here */
    const char *web_dir;   /* the dashboard's files; NULL = none */
};

/* Control thread. */
struct rest_api *rest_api_new(struct ly_ctx *ctx, struct cfg *cfg, struct ctlq *q, struct event_base *base,
                              const struct rest_opts *opts);
void rest_api_set_hooks(struct rest_api *api, rest_state_fn state, rest_rpc_fn rpc, void *arg);
/* Stops serving: closes every connection and stream. */
void rest_api_free(struct rest_api *api);

/* Configuration (control thread). Users are copied. */
void rest_api_set_users(struct rest_api *api, const struct rest_user *users, size_t n);
/* Starts what @conf needs (binds the endpoints, loads the certificate); a new
 * endpoint answers 503 until rest_api_commit(); on failure @errs says what, and
 * nothing changed. With @dry_run it only checks:
 * each new endpoint's address is bound and released at once, the certificate
 * is parsed and matched with its key, and nothing is kept (no commit follows). */
int rest_api_prepare(struct rest_api *api, const struct rest_conf *conf, bool dry_run, struct cfg_errs *errs);
/* Serves the prepared configuration and retires the previous one. */
void rest_api_commit(struct rest_api *api);
/* Drops the prepared configuration. */
void rest_api_abort(struct rest_api *api);
void rest_conf_clear(struct rest_conf *conf);

/* Running or the daemon's state changed (control thread): cached reads are dropped. */
void rest_api_state_changed(struct rest_api *api);

/* Events (control thread): a YANG notification for the event streams (borrowed). */
void rest_api_notify(struct rest_api *api, const struct lyd_node *notif);

/* The endpoints being served, "https://ADDR:PORT" each, for the start-up banner;
 * NULL-terminated, caller frees each and the array. */
char **rest_api_urls(const struct rest_api *api);

#endif
