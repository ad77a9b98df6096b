/* Pieces of ravend shared by its files. */
#ifndef RAVEN_RAVEND_H
#define RAVEN_RAVEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "daemon/config/cfg.h"
#include "daemon/mgmt/mgmt.h"

/* Registers every configuration handler but the VPN's (ravend_handlers.c). */
int ravend_handlers_register(struct cfg *cfg, struct mgmt *mgmt);
struct ike_engine;
/* The VPN subtrees' handler and the engine's hooks (ravend_vpn.c). */
struct dp;
struct aaa;
int ravend_vpn_register(struct cfg *cfg, struct ike_engine *ike, struct aaa *aaa, struct dp *dp);
/* Before running is applied (cfg_set_loaded): the dataplane's ESP crypto backend
 * as /dataplane/crypto-backend in @running says, so that the SAs taken over at
 * start get it; OpenSSL, with a warning, where a forced ipsec-mb is not usable. */
void ravend_vpn_crypto_preset(const struct lyd_node *running);
int ravend_vpn_state(struct ly_ctx *ctx, struct lyd_node **data, struct mgmt_state_sel *sel, void *arg);
int ravend_vpn_rpc(const struct lyd_node *rpc, struct lyd_node *output, struct cfg_errs *errs, void *arg);
/* rpc redirect-sessions (ravend_redirect.c), for ravend_vpn_rpc. */
int ravend_redirect_rpc(struct ike_engine *ike, const struct lyd_node *rpc, struct lyd_node *output,
                        struct cfg_errs *errs);
/* The management socket that receives events; NULL once it is gone (at shutdown,
 * the engine's last events are dropped). */
struct ravend_daemon;
struct ravend_apis {
    struct ly_ctx *ctx;
    struct mgmt *mgmt;
    struct cfg *cfg;
    struct ravend_daemon *daemon;
};
/* An event of the engine (adopted): to the front ends (@arg: ravend_apis). The
 * state hook ravend_vpn_state takes the same @arg. */
void ravend_vpn_event(struct lyd_node *notif, void *arg);
/* ike_event_wanted_fn: the session state moved (`changed`, coalesced); whether a
 * front end subscribes to @name. */
bool ravend_vpn_event_wanted(const char *name, void *arg);
/* ike_event_xml_fn: a session event as XML text, to the front ends. */
void ravend_vpn_event_xml(const char *name, const char *xml, size_t len, void *arg);
/* ravend_alarm.c: alarm changes to the front ends as alarm-notification (from
 * the loop's next turn), the dataplane's interfaces checked every second and
 * the certificates every hour; vpn-state/alarms into @st. */
struct event_base;
int ravend_alarm_start(struct event_base *base, struct ravend_apis *apis, struct dp *dp, struct ike_engine *ike);
void ravend_alarm_stop(void);
int ravend_alarm_state(struct lyd_node *st);
/* cfg_notify_fn: `changed` and netconf-config-change for the front ends (@arg:
 * ravend_apis). */
void ravend_config_changed(const struct cfg_actor *actor, const struct cfg_change *chg, size_t n, void *arg);
/* When running has no management user, creates "admin" with a random password
 * (printed once, stored as a hash) and/or the public key in @key_file. */
int ravend_admin_ensure(struct cfg *cfg, const char *key_file);

/* Keeps only the capabilities ravend uses (ravend_privs.c lists them and why) and
 * sets no-new-privs; called before any thread starts. 0 or -errno. */
int ravend_privs_drop(void);

/* ravend_stage.c: what the front ends need (their programs, the YANG modules, the
 * dashboard's files), copied for this run into a directory their user can reach
 * when it cannot reach the originals (a build tree in a private home). */
enum { RAVEN_STAGE_NETCONFD, RAVEN_STAGE_RESTD, RAVEN_STAGE_YANG, RAVEN_STAGE_WEB, RAVEN_STAGE_N };
struct ravend_stage {
    char *path[RAVEN_STAGE_N]; /* owned; replaced by the copy's path when staged */
    char *dir;                 /* the copies' directory, NULL when none was needed */
};
int ravend_stage(struct ravend_stage *st, uid_t uid, gid_t gid);
/* Removes the copies and frees the paths. */
void ravend_stage_clear(struct ravend_stage *st);
/* ravend_arena.c: this process and its session arena (vpn-state/daemon). */
struct sess_arena;
struct ravend_daemon {
    time_t started_at;
    struct sess_arena *arena; /* NULL: none */
    char *arena_path;
    const char *arena_state;  /* none | new | adopted | set-aside */
    uint32_t adopted, ended, unreadable;
};
/* Opens the arena @opt names ("none": none; NULL: the default on tmpfs) for the
 * state directory @state_dir. An arena named on the command line that cannot be
 * used is an error (-errno); the default one only a warning. */
int ravend_arena_open(struct ravend_daemon *d, const char *opt, const char *state_dir);
/* Takes the sessions over in the engine's two phases (ike_engine.h): before the
 * configuration is applied, then once it is (@fresh: ends them); @digest:
 * running's (cfg_running_digest). */
struct ike_engine;
void ravend_arena_adopt_begin(struct ravend_daemon *d, struct ike_engine *ike);
void ravend_arena_adopt(struct ravend_daemon *d, struct ike_engine *ike, uint64_t digest, bool fresh);
void ravend_arena_state(const struct ravend_daemon *d, struct lyd_node *vpn_state);
void ravend_arena_close(struct ravend_daemon *d);
/* ravend_cluster.c: the cluster member (/raven-vpn:cluster, advertising
 * /raven-vpn:pools/partition/index), vpn-state/cluster, the engine's redirect
 * hooks and this headend's sessions published from its session events. */
struct sockaddr;
int ravend_cluster_register(struct cfg *cfg, const struct ly_ctx *ctx, struct event_base *base,
                            struct ike_engine *ike);
void ravend_cluster_free(void);
void ravend_cluster_state(struct lyd_node *vpn_state);
bool ravend_cluster_session_wanted(const char *name);
void ravend_cluster_session_event(const char *name, const char *xml, size_t len);
/* ike_redirect_init_fn and ike_redirect_other_fn (ike_engine.h) */
bool ravend_cluster_redirect_init(void *arg, const struct sockaddr *local, const struct sockaddr *remote, char *gw,
                                  size_t gwlen);
bool ravend_cluster_redirect_other(void *arg, char *gw, size_t gwlen);
/* Prints where the management APIs listen, from running. */
void ravend_print_endpoints(struct cfg *cfg);

#endif
