/* The REST front end (raven-restd): RESTCONF (RFC 8040), event streams, /metrics and
 * the dashboard over HTTPS (libmicrohttpd). Requests are served on libmicrohttpd's
 * threads; the datastore, the daemon's state and the users are reached only through
 * ravend's management socket (api/mgmt/mc.h), called directly from those threads.
 * The endpoints, the certificate and the key are what ravend's last `listen` event
 * said. See README.md for the resources. */
#ifndef RAVEN_API_REST_API_H
#define RAVEN_API_REST_API_H

#include <libyang/libyang.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/mgmt/mc.h"

struct event_base;
struct rest_api;

struct rest_opts {
    const char *web_dir; /* the dashboard's files; NULL = none */
};

/* Main thread. @base (evthread-enabled) runs the event streams' ticks and applies
 * the `listen` events. */
struct rest_api *rest_api_new(struct ly_ctx *ctx, struct event_base *base, const struct rest_opts *opts);
/* The hooks to hand mc_connect (their argument is @api). */
struct mc_hooks rest_api_hooks(struct rest_api *api);
/* The client, once connected: no request is served before. */
void rest_api_set_mc(struct rest_api *api, struct mc *mc);
/* Stops serving: closes every connection and stream (before mc_free, as requests
 * in flight still need the client). */
void rest_api_stop(struct rest_api *api);
/* After mc_free (no hook runs any more). */
void rest_api_free(struct rest_api *api);

/* Running or the daemon's state changed (any thread): cached reads are dropped. */
void rest_api_state_changed(struct rest_api *api);
/* A YANG notification for the event streams (borrowed; any thread), kept from
 * the users @deny names (NACM); @time, @id and @replay as in mc_hooks. */
void rest_api_notify(struct rest_api *api, const struct lyd_node *notif, const char *time, uint64_t id,
                     uint32_t replay, char *const *deny);
/* The replay tagged @replay is over: its stream gets live events from now on. */
void rest_api_replay_end(struct rest_api *api, uint32_t replay);

#endif
