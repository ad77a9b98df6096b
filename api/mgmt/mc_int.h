/* Internal to api/mgmt: what mc.c lends the other files of the client. */
#ifndef RAVEN_API_MC_INT_H
#define RAVEN_API_MC_INT_H

#include <jansson.h>

#include "api/mgmt/mc.h"

/* Sends @req (its reference is taken) without data and waits for the reply: *rep
 * (may be NULL) gets its header. Returns the reply's rc, with @errs (may be NULL)
 * filled from its errors. */
int mc_call(struct mc *mc, json_t *req, json_t **rep, struct cfg_errs *errs);
/* A request @op on behalf of @who. */
json_t *mc_req_for(const char *op, const struct cfg_actor *who);

#endif
