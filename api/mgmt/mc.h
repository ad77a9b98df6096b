/* The front ends' side of the management socket (api/README.md): a client of ravend
 * that the NETCONF and REST front ends call instead of the datastore. Every request
 * function is thread-safe and blocks until ravend has answered (requests from
 * several threads are sent one after another); a reader thread delivers the replies
 * and calls the event hooks. When the connection to ravend is lost, requests fail
 * with -ESHUTDOWN (errors filled with "the daemon is not reachable") and the
 * `lost` hook runs once: a front end then exits, and ravend starts a new one.
 *
 * The trees handed in are printed as XML and parsed again by ravend; the trees
 * handed out are parsed from ravend's XML and belong to the caller. Functions
 * mirror daemon/config/cfg.h: same arguments, same errors. */
#ifndef RAVEN_API_MC_H
#define RAVEN_API_MC_H

#include <libyang/libyang.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "daemon/config/cfg.h"

struct mc;

enum mc_role {
    MC_ROLE_READ_ONLY = 0,
    MC_ROLE_ADMIN,
};

/* A listening endpoint handed over by ravend. */
struct mc_listener {
    char *name;
    char *address;
    uint16_t port;
    int fd; /* listening TCP socket, owned by the receiver of the event */
};

/* The `listen` event: what the front end must serve from now on. */
struct mc_listen {
    bool enabled;
    struct mc_listener *eps;
    size_t neps;
    char *hostkey_pem; /* raven-netconfd: the SSH host key */
    char *cert_pem;    /* raven-restd: the configured certificate, else ravend's self-signed one */
    char *key_pem;
};
/* Frees the strings and the array and closes the descriptors still >= 0. */
void mc_listen_clear(struct mc_listen *l);

/* Event hooks, called on the reader thread (they may call request functions only
 * from another thread). Any may be NULL. */
struct mc_hooks {
    /* adopts the whole of *l (set each fd to -1 that it keeps, then may call
     * mc_listen_clear) */
    void (*listen)(struct mc_listen *l, void *arg);
    /* running changed (@config) or only operational state did */
    void (*changed)(uint64_t gen, time_t mtime, bool config, void *arg);
    /* users or roles changed: cached logins are stale */
    void (*users)(void *arg);
    /* a YANG notification (adopted), its event time (RFC 3339) and id (growing by
     * one per notification ravend sends; 0 unknown), @replay: the tag of the
     * mc_replay it answers, 0 for a live one; and the users it must not reach
     * (adopted, mc_deny_free; ravend's NACM decision; NULL when the event
     * has no `deny` list: then it reaches nobody) */
    void (*notification)(struct lyd_node *notif, const char *time, uint64_t id, uint32_t replay, char **deny,
                         void *arg);
    /* the mc_replay of tag @replay has sent all it had; every notification after
     * this one is live, with an id after @last_id */
    void (*replay_end)(uint32_t replay, uint64_t last_id, void *arg);
    /* the connection to ravend is gone */
    void (*lost)(void *arg);
    void *arg;
};

/* Whether a notification's deny list (see mc_hooks) names @user: the one
 * filter every delivery of it, replay included, goes through. */
bool mc_deny_has(char *const *deny, const char *user);
void mc_deny_free(char **deny);

/* Connects to @path (a file, or "@name" in the abstract namespace), says hello as @kind ("netconf" or "rest") and starts the
 * reader thread. @ctx (borrowed, must outlive the client) parses what ravend sends.
 * Returns NULL with errno set on failure. */
struct mc *mc_connect(const char *path, const char *kind, struct ly_ctx *ctx, const struct mc_hooks *hooks);
/* Closes the connection, stops the reader thread (not from a hook). */
void mc_free(struct mc *mc);

/* Classes of events (the `interest` request): ravend sends a notification only
 * to a front end that declared interest in its class. */
#define MC_EV_SESSIONS 1u /* session-up, session-down */
#define MC_EV_AUTH 2u     /* authentication-failure */
#define MC_EV_CONFIG 4u   /* netconf-config-change, certificate-warning */
#define MC_EV_OTHER 8u    /* any other notification */
#define MC_EV_ALL 15u
/* Tells ravend the classes this front end's subscribers want, as @compute(@arg)
 * returns them now, if that differs from what ravend was last told. Calls are
 * serialised (the last state computed is the last one sent), and once this
 * returns 0 every event of those classes comes: call it after a subscriber is
 * registered and before its subscription is acknowledged, and after one ends.
 * Not from a hook. 0, -ESHUTDOWN or -errno. */
int mc_interest_update(struct mc *mc, unsigned int (*compute)(void *arg), void *arg);

/* What ravend's replay log holds: since when (RFC 3339, kept in @created; ""
 * unknown), the event time of the newest notification it dropped (@aged, "" when
 * none), the oldest id kept and the last id given. */
struct mc_replay_info {
    char created[48], aged[48];
    uint64_t count, oldest_id, last_id, sent;
};
/* Replays the logged notifications of the classes @mask (MC_EV_*) with an id
 * after @after_id (when not 0) or an event time from @start_ns to @stop_ns (ns
 * since the epoch; -1: unbounded) as `notification` hooks tagged @tag (1..), then
 * the `replay_end` hook, all on the reader thread before this returns; with @tag
 * 0 nothing is sent, only @info filled. Not from a hook. 0 or -errno. */
int mc_replay(struct mc *mc, uint32_t tag, unsigned int mask, uint64_t after_id, int64_t start_ns, int64_t stop_ns,
              struct mc_replay_info *info);

/* A datastore's lock as ravend holds it: the datastore ("running", "candidate",
 * "startup"), the session holding it, since when (RFC 3339). */
struct mc_lock {
    char ds[12];
    uint32_t sid;
    char time[48];
};
/* A partial lock of running (RFC 5717) as ravend holds it. */
struct mc_plock {
    uint32_t id, sid;
    char time[48];
    char **select, **nodes; /* XPaths, and the data paths of the nodes locked */
    size_t nselect, nnodes;
};
/* The global locks held now, at most @max in @out, their number in *n; with
 * @partial, the partial locks in a new array (mc_plocks_free). 0 or -errno. */
int mc_locks(struct mc *mc, struct mc_lock *out, size_t max, size_t *n, struct mc_plock **partial, size_t *npartial);
void mc_plocks_free(struct mc_plock *v, size_t n);
/* Locks what @select (@n XPaths, module names as prefixes) finds in running for
 * @who: the lock's id in *id, the data paths of its nodes in a new array *nodes
 * (*nnodes of them; free each and the array). */
int mc_partial_lock(struct mc *mc, const struct cfg_actor *who, const char *const *select, size_t n, uint32_t *id,
                    char ***nodes, size_t *nnodes, struct cfg_errs *errs);
int mc_partial_unlock(struct mc *mc, const struct cfg_actor *who, uint32_t id, struct cfg_errs *errs);

/* Running's generation and when it last changed, as the last hello or `changed`
 * event said (no round trip). */
uint64_t mc_running_gen(struct mc *mc, time_t *mtime);

/* Authentication. On success *role is set; -EACCES wrong credentials (or unknown
 * user/token), -EAGAIN when @from is blocked after repeated failures
 * (*retry_after seconds, may be NULL), -ESHUTDOWN without ravend. */
int mc_auth_password(struct mc *mc, const char *user, const char *password, const char *from, enum mc_role *role,
                     unsigned int *retry_after);
/* @key: "TYPE BASE64" of an OpenSSH public key. */
int mc_auth_key(struct mc *mc, const char *user, const char *key, enum mc_role *role);
/* A bearer token for @user (authenticated on this connection): 64 hex digits in
 * @token, expiry in *expires (may be NULL). */
int mc_token_new(struct mc *mc, const char *user, char token[65], time_t *expires);
/* The user (copied to @user, up to 39 characters) and role a token stands for. */
int mc_token_check(struct mc *mc, const char *token, char user[40], enum mc_role *role, time_t *expires);
int mc_token_revoke(struct mc *mc, const char *token);

/* The datastore, as in cfg.h, for @who (user and sid). Secrets are always masked. */
int mc_get(struct mc *mc, const struct cfg_actor *who, enum cfg_ds ds, const char *const *xpaths,
           struct lyd_node **out, struct cfg_errs *errs);
/* Running configuration plus the daemon's operational state, then the parts
 * selected by @xpaths (NULL = everything). */
int mc_get_state(struct mc *mc, const struct cfg_actor *who, const char *const *xpaths, struct lyd_node **out,
                 struct cfg_errs *errs);
/* Paging of the session list (/raven-vpn:vpn-state/session) for
 * mc_get_state_page. In: at most @limit entries (0: no limit) in ascending id
 * order, after skipping @offset, starting after the session whose id is @cursor
 * (with @has_cursor; that session need not exist any more); or, with
 * @count_only, no session at all but their count. Out: the sessions up, those
 * after the page, and the cursor for the next page (0: none remain). */
struct mc_page {
    uint64_t limit, offset, cursor;
    bool has_cursor, count_only;
    uint64_t total, remaining, next;
};
/* mc_get_state with the session list paged by @pg (in and out). */
int mc_get_state_page(struct mc *mc, const struct cfg_actor *who, const char *const *xpaths, struct mc_page *pg,
                      struct lyd_node **out, struct cfg_errs *errs);
int mc_edit(struct mc *mc, const struct cfg_actor *who, enum cfg_ds ds, const struct lyd_node *edit,
            enum cfg_op defop, enum cfg_test_opt testopt, enum cfg_err_opt erropt, struct cfg_errs *errs);
/* mc_edit, done only if running is still at generation *@if_gen (NULL: always):
 * else -ESTALE with an operation-failed error, and nothing changed. For a check
 * made before the edit (an entity tag) to hold when the edit is done. */
int mc_edit_if(struct mc *mc, const struct cfg_actor *who, const uint64_t *if_gen, enum cfg_ds ds,
               const struct lyd_node *edit, enum cfg_op defop, enum cfg_test_opt testopt, enum cfg_err_opt erropt,
               struct cfg_errs *errs);
/* @src_ds a datastore or CFG_SRC_INLINE with @src_tree (NULL: empty). */
int mc_copy(struct mc *mc, const struct cfg_actor *who, enum cfg_ds dst, int src_ds, const struct lyd_node *src_tree,
            struct cfg_errs *errs);
int mc_delete_ds(struct mc *mc, const struct cfg_actor *who, enum cfg_ds ds, struct cfg_errs *errs);
int mc_validate(struct mc *mc, const struct cfg_actor *who, int src_ds, const struct lyd_node *src_tree,
                struct cfg_errs *errs);
int mc_discard(struct mc *mc, const struct cfg_actor *who, struct cfg_errs *errs);
int mc_commit(struct mc *mc, const struct cfg_actor *who, const struct cfg_commit_opts *o, struct cfg_errs *errs);
int mc_cancel_commit(struct mc *mc, const struct cfg_actor *who, const char *persist_id, struct cfg_errs *errs);
int mc_lock(struct mc *mc, const struct cfg_actor *who, enum cfg_ds ds, struct cfg_errs *errs);
int mc_unlock(struct mc *mc, const struct cfg_actor *who, enum cfg_ds ds, struct cfg_errs *errs);
/* The session @sid ended (no reply awaited for errors; best effort). */
void mc_session_end(struct mc *mc, uint32_t sid);
/* NACM for what a front end answers itself: may @who run protocol operation
 * @exec ("module:name"), or read the data at @read (a path)? 0, or -EACCES
 * with access-denied. */
int mc_nacm_check(struct mc *mc, const struct cfg_actor *who, const char *exec, const char *read,
                  struct cfg_errs *errs);
/* A raven-vpn RPC (@rpc, the RPC node): output children are added under @output
 * (the RPC's node, as nc_rpc_fn/rest_rpc_fn did). */
int mc_rpc(struct mc *mc, const struct cfg_actor *who, const struct lyd_node *rpc, struct lyd_node *output,
           struct cfg_errs *errs);

#endif
