/* Pieces of ravend shared by its files. */
#ifndef RAVEN_RAVEND_H
#define RAVEN_RAVEND_H

#include "api/netconf/nc_api.h"
#include "api/rest/rest_api.h"
#include "daemon/config/cfg.h"

/* Registers every configuration handler (ravend_handlers.c). */
int ravend_handlers_register(struct cfg *cfg, struct nc_api *nc, struct rest_api *rest);
struct ike_engine;
/* The VPN subtrees' handler and the engine's hooks (ravend_vpn.c). */
struct dp;
struct aaa;
int ravend_vpn_register(struct cfg *cfg, struct ike_engine *ike, struct aaa *aaa, struct dp *dp);
int ravend_vpn_state(struct ly_ctx *ctx, struct lyd_node **data, void *arg);
int ravend_vpn_rpc(const struct lyd_node *rpc, struct lyd_node *output, struct cfg_errs *errs, void *arg);
/* The management front ends that receive events. */
struct ravend_apis {
    struct ly_ctx *ctx;
    struct nc_api *nc;
    struct rest_api *rest;
};
/* An event of the engine (adopted): to the REST streams and NETCONF subscribers;
 * @arg is a struct ravend_apis. */
void ravend_vpn_event(struct lyd_node *notif, void *arg);
/* cfg_notify_fn: netconf-config-change for both front ends (@arg: ravend_apis). */
void ravend_config_changed(const struct cfg_actor *actor, const struct cfg_change *chg, size_t n, void *arg);
/* When running has no management user, creates "admin" with a random password
 * (printed once, stored as a hash) and/or the public key in @key_file. */
int ravend_admin_ensure(struct cfg *cfg, const char *key_file);

/* Keeps only the capabilities ravend uses (ravend_privs.c lists them and why) and
 * sets no-new-privs; called before any thread starts. 0 or -errno. */
int ravend_privs_drop(void);
/* Prints where the management APIs listen, from running. */
void ravend_print_endpoints(struct cfg *cfg);

#endif
