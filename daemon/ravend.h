/* Pieces of ravend shared by its files. */
#ifndef RAVEN_RAVEND_H
#define RAVEN_RAVEND_H

#include "api/netconf/nc_api.h"
#include "daemon/config/cfg.h"

/* Registers every configuration handler (ravend_handlers.c). */
int ravend_handlers_register(struct cfg *cfg, struct nc_api *nc);
struct ike_engine;
/* The VPN subtrees' handler and the engine's hooks (ravend_vpn.c). */
struct dp;
int ravend_vpn_register(struct cfg *cfg, struct ike_engine *ike, struct dp *dp);
int ravend_vpn_state(struct ly_ctx *ctx, struct lyd_node **data, void *arg);
int ravend_vpn_rpc(const struct lyd_node *rpc, struct lyd_node *output, struct cfg_errs *errs, void *arg);
void ravend_vpn_event(struct lyd_node *notif, void *arg);
/* When running has no management user, creates "admin" with a random password
 * (printed once, stored as a hash) and/or the public key in @key_file. */
int ravend_admin_ensure(struct cfg *cfg, const char *key_file);
/* Prints where the management APIs listen, from running. */
void ravend_print_endpoints(struct cfg *cfg);

#endif
