/* The NETCONF front end: libnetconf2 2.0 over SSH. An accept thread and poll threads
 * own the sessions; every RPC is forwarded to the control thread through the control
 * queue, where the datastore (daemon/config) answers it. Users and endpoints come
 * from the configuration (management subtree) and change live on commit. */
#ifndef RAVEN_API_NC_API_H
#define RAVEN_API_NC_API_H

#include <libyang/libyang.h>
#include <stdbool.h>
#include <stdint.h>

#include "daemon/config/cfg.h"

struct ctlq;
struct nc_api;

enum nc_role {
    NC_ROLE_READ_ONLY = 0,
    NC_ROLE_ADMIN,
};

struct nc_user {
    char *name;
    char *password_hash; /* crypt(3) string, NULL = no password login */
    char **keys;         /* OpenSSH one-line public keys */
    size_t nkeys;
    enum nc_role role;
};

struct nc_endpoint {
    char *name;
    char *address;
    uint16_t port;
};

/* Loads what libnetconf2 needs into @ctx and initialises the server; the host key is
 * kept in @state_dir (created on first start). */
struct nc_api *nc_api_new(struct ly_ctx *ctx, struct cfg *cfg, struct ctlq *q, const char *state_dir);
int nc_api_start(struct nc_api *api);
/* Stops the threads (no RPC runs after it returns); the sessions stay open. */
void nc_api_stop(struct nc_api *api);
/* Stops the threads if still running, closes every session, releases libnetconf2. */
void nc_api_free(struct nc_api *api);

/* Control thread: the management subtree was applied. Both adopt their arrays. */
void nc_api_set_users(struct nc_api *api, struct nc_user *users, size_t n);
/* Makes the listening endpoints exactly @eps; returns 0 or -errno (the endpoints
 * that could be set stay). */
int nc_api_set_endpoints(struct nc_api *api, const struct nc_endpoint *eps, size_t n);
/* Control thread: whether @address:@port could be listened on now (for prepare). */
int nc_api_can_listen(const struct nc_api *api, const char *address, uint16_t port);
/* The netconf-config-change notification (RFC 6470) of a change of running. */
struct lyd_node *nc_config_change_notif(struct ly_ctx *ctx, const struct cfg_actor *actor, const struct cfg_change *chg,
                                        size_t n);
/* cfg_notify_fn: queues netconf-config-change for subscribed sessions. */
void nc_api_config_changed(const struct cfg_actor *actor, const struct cfg_change *chg, size_t n, void *arg);

/* The daemon's side of <get> and of the raven-vpn RPCs, called on the control
 * thread. nc_state_fn adds operational state to *data (which may be NULL: it then
 * creates the tree). nc_rpc_fn runs @rpc and adds its output under @output (the
 * RPC's output node) or fills @errs; it returns 0 or -errno. */
typedef int (*nc_state_fn)(struct ly_ctx *ctx, struct lyd_node **data, void *arg);
typedef int (*nc_rpc_fn)(const struct lyd_node *rpc, struct lyd_node *output, struct cfg_errs *errs, void *arg);
void nc_api_set_hooks(struct nc_api *api, nc_state_fn state, nc_rpc_fn rpc, void *arg);
/* Queues a YANG notification for every subscribed session (adopts @notif; any
 * thread). */
void nc_api_notify(struct nc_api *api, struct lyd_node *notif);

void nc_user_free_array(struct nc_user *users, size_t n);
void nc_endpoint_free_array(struct nc_endpoint *eps, size_t n);

/* Filters (nc_filter.c): turns a subtree filter (opaque nodes of the filter anyxml)
 * into XPath expressions, NULL-terminated, in *xpaths (caller frees with
 * nc_filter_free). Returns 0 or -errno. */
int nc_filter_subtree_xpaths(const struct ly_ctx *ctx, const struct lyd_node *filter_children, char ***xpaths);
void nc_filter_free(char **xpaths);
/* The <filter> of a get or get-config operation node: *xpaths NULL = everything,
 * otherwise a NULL-terminated list (possibly empty: select nothing). */
int nc_filter_from_rpc(const struct ly_ctx *ctx, const struct lyd_node *rpc, char ***xpaths, struct cfg_errs *errs);

#endif
