/* Pieces of ravend shared by its files. */
#ifndef RAVEN_RAVEND_H
#define RAVEN_RAVEND_H

#include "api/netconf/nc_api.h"
#include "daemon/config/cfg.h"

/* Registers every configuration handler (ravend_handlers.c). */
int ravend_handlers_register(struct cfg *cfg, struct nc_api *nc);
/* When running has no management user, creates "admin" with a random password
 * (printed once, stored as a hash) and/or the public key in @key_file. */
int ravend_admin_ensure(struct cfg *cfg, const char *key_file);
/* Prints where the management APIs listen, from running. */
void ravend_print_endpoints(struct cfg *cfg);

#endif
