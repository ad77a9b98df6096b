/* The NETCONF front end: libnetconf2 2.0 over SSH, run by raven-netconfd. An accept
 * thread and poll threads own the sessions; every operation on the datastore, every
 * login and every raven-vpn RPC is a request to ravend over the management socket
 * (api/mgmt/mc.h), made on the poll or accept thread that needs it. Endpoints and
 * the host key come with ravend's `listen` event. */
#ifndef RAVEN_API_NC_API_H
#define RAVEN_API_NC_API_H

#include <libyang/libyang.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/mgmt/mc.h"
#include "daemon/config/cfg.h"

struct nc_api;

/* Initialises libnetconf2's server over @ctx (built by cfg_yang_ctx, borrowed). */
struct nc_api *nc_api_new(struct ly_ctx *ctx);
/* The connection to ravend (borrowed), before nc_api_start. */
void nc_api_set_mc(struct nc_api *api, struct mc *mc);
int nc_api_start(struct nc_api *api);
/* Stops the threads (no RPC runs after it returns); the sessions stay open. A thread
 * that has not ended within @timeout_ms (a client stalling in its SSH handshake)
 * makes it return -ETIMEDOUT: the caller then exits without freeing. */
int nc_api_stop(struct nc_api *api, int timeout_ms);
/* Stops the threads if still running, closes every session, releases libnetconf2. */
void nc_api_free(struct nc_api *api);

/* mc_hooks.listen: serve exactly @l's endpoints with its host key from now on
 * (adopts *l). */
void nc_api_listen(struct nc_api *api, struct mc_listen *l);
/* Queues a YANG notification for every subscribed session whose user @deny
 * does not name (adopts @notif and @deny, mc_deny_has; any thread). @time is
 * its eventTime (RFC 3339), NULL = now; @id ravend's id of it; @replay: the
 * session it is replayed for (0: live, for every subscriber). */
void nc_api_notify(struct nc_api *api, struct lyd_node *notif, const char *time, uint64_t id, uint32_t replay,
                   char **deny);
/* The replay for session @replay is over: replayComplete follows its replayed
 * notifications, then it gets live ones. */
void nc_api_replay_end(struct nc_api *api, uint32_t replay);

/* Filters (nc_filter.c): turns a subtree filter (opaque nodes of the filter anyxml)
 * into XPath expressions, NULL-terminated, in *xpaths (caller frees with
 * nc_filter_free). Returns 0 or -errno. */
int nc_filter_subtree_xpaths(const struct ly_ctx *ctx, const struct lyd_node *filter_children, char ***xpaths);
void nc_filter_free(char **xpaths);
/* The <filter> of a get or get-config operation node: *xpaths NULL = everything,
 * otherwise a NULL-terminated list (possibly empty: select nothing). */
int nc_filter_from_rpc(const struct ly_ctx *ctx, const struct lyd_node *rpc, char ***xpaths, struct cfg_errs *errs);

#endif
