/* Internals of daemon/mgmt shared by its files, the unit test and the fuzzer. */
#ifndef RAVEN_MGMT_IMPL_H
#define RAVEN_MGMT_IMPL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "daemon/base/mwire.h"
#include "daemon/mgmt/mgmt.h"

/* The REST front end's one session id (locks, confirmed commits). */
#define MGMT_REST_SID 0xfffffff0u
#define MGMT_NETCONF_SID_MAX 0xffffffefu
#define MGMT_SEND_TIMEOUT_S 2
#define MGMT_MAX_EPS MWIRE_MAX_FDS

enum mgmt_kind {
    MGMT_KIND_NONE = 0, /* before hello */
    MGMT_KIND_NETCONF,
    MGMT_KIND_REST,
    MGMT_KIND_COUNT,
};

/* Classes of events a front end may declare interest in (the `interest` request,
 * api/README.md): ravend builds and sends a notification only when some front
 * end wants its class. */
enum mgmt_ev {
    MGMT_EV_SESSIONS = 1, /* session-up, session-down */
    MGMT_EV_AUTH = 2,     /* authentication-failure */
    MGMT_EV_CONFIG = 4,   /* netconf-config-change, certificate-warning */
    MGMT_EV_OTHER = 8,    /* any other notification */
    MGMT_EV_ALL = 15,
};

/* ---- users, passwords, keys, tokens (mgmt_auth.c) ---- */

struct mauth;
struct mauth_user;

struct mauth *mauth_new(void);
void mauth_free(struct mauth *a);
/* The users of the management subtree of @tree (NULL: none), as a table that
 * mauth_set_users adopts. *err is set (-ENOMEM) on failure. */
struct mauth_user *mauth_users_build(const struct lyd_node *tree, int *err);
void mauth_users_free(struct mauth_user *users);
size_t mauth_users_count(const struct mauth_user *users);
/* Whether an admin can still log in (a password or a key). */
bool mauth_users_have_admin(const struct mauth_user *users);
/* Adopts @users. True when anything a login depends on changed (names, hashes,
 * roles, keys): logins and tokens of changed users are forgotten. */
bool mauth_set_users(struct mauth *a, struct mauth_user *users);
/* Bumped by every change of the users: logins made before are stale. */
uint64_t mauth_gen(const struct mauth *a);
/* 1 admin, 0 read-only, -1 unknown user. */
int mauth_role(const struct mauth *a, const char *user);
/* 0 (*admin set), -EACCES, -EAGAIN when @from is blocked (*retry_after s). */
int mauth_password(struct mauth *a, const char *user, const char *password, const char *from, bool *admin,
                   unsigned int *retry_after);
/* @key: "TYPE BASE64". 0 (*admin set) or -EACCES. */
int mauth_key(struct mauth *a, const char *user, const char *key, bool *admin);
int mauth_token_new(struct mauth *a, const char *user, char out[65], time_t *expires);
int mauth_token_check(struct mauth *a, const char *token, char user[40], bool *admin, time_t *expires);
void mauth_token_revoke(struct mauth *a, const char *token);

/* ---- the endpoints ravend binds and hands over (mgmt_listen.c) ---- */

struct mlisten;
struct mlisten *mlisten_new(const char *state_dir);
void mlisten_free(struct mlisten *l);
/* The `listen` event of @kind (NULL on ENOMEM), its descriptors (still owned by
 * @l) in @fds. */
json_t *mlisten_event(struct mlisten *l, enum mgmt_kind kind, int fds[MGMT_MAX_EPS], int *nfds);
/* Loads (or makes) the SSH host key. 0 or -errno. */
int mlisten_keys(struct mlisten *l);
/* The handler of /raven-vpn:management on @m's datastore. */
int mlisten_register(struct mgmt *m);

/* ---- keys in the state directory (mgmt_pem.c) ---- */

/* The SSH host key (PEM), generated at first use. 0 or -errno (logged). */
int mpem_hostkey(const char *state_dir, char **pem);
/* The REST self-signed certificate and key (PEM), generated at first use. */
int mpem_self_signed(const char *state_dir, char **cert, char **key);
/* 0 when @cert parses and @key is its private key; -EINVAL, -EKEYREJECTED. */
int mpem_check(const char *cert, const char *key);

/* ---- connections and the server (mgmt_server.c) ---- */

struct mconn {
    struct mgmt *m;
    int fd; /* -1: no socket (tests): the last frame sent is kept in last_hdr */
    struct event *ev;
    struct mwire_rx rx;
    int idx; /* the supervisor's front end, -1 without one */
    enum mgmt_kind kind;
    bool dead; /* a send failed: closed at the next safe point */
    /* users authenticated on this connection (those removed since are dropped when
     * auth_gen falls behind the users') */
    char **users;
    size_t nusers;
    /* users removed from the configuration while logged in here: their
     * sessions may still be subscribed, so every notification denies them */
    char **gone;
    size_t ngone;
    uint64_t auth_gen;
    unsigned int interest; /* enum mgmt_ev: what its subscribers want */
    uint32_t *sids; /* sessions the connection used */
    size_t nsids;
    char *last_hdr;
    uint64_t nsent; /* frames sent (tests) */
    struct mconn *next;
};

struct mgmt {
    struct event_base *base;
    struct cfg *cfg;
    struct ly_ctx *ctx;
    struct super *sup;
    struct mgmt_hooks hooks;
    int lfd;
    struct event *lev, *reap;
    struct lyd_node *trash; /* a request's tree, freed after its reply */
    struct mconn *conns;
    uint64_t refused;
    struct mauth *auth;
    struct mlisten *listen;
    struct nacm *nacm; /* access control (mgmt_access.c) */
    /* `changed` for operational state is coalesced: marked here, sent once at the
     * end of the loop iteration (or before the next request is answered) */
    struct event *changed_ev;
    bool state_dirty;
    uint64_t notif_built; /* notifications encoded (tests) */
    struct mreplay *replay; /* every notification sent, for replay */
    /* who took each datastore's lock last, and when (the lock itself is cfg's) */
    uint32_t lock_sid[CFG_DS_COUNT];
    time_t lock_time[CFG_DS_COUNT];
};

/* A connection over @fd (-1: none) for front end @idx. */
struct mconn *mconn_new(struct mgmt *m, int fd, int idx);
/* Ends the connection's sessions, tells the supervisor, closes and frees. */
void mconn_free(struct mconn *c);
/* Feeds received bytes: every complete frame is handled. 0, or -1 when the
 * connection must close (an error frame was sent). */
int mconn_feed(struct mconn *c, const void *p, size_t n);
/* One frame: decoded, dispatched, answered. 0, or -1 when the connection must
 * close. */
int mconn_frame(struct mconn *c, const char *hdr, size_t hlen, const char *data, size_t dlen);
/* Sends a frame; a failure marks the connection dead. 0 or -errno. */
int mconn_send(struct mconn *c, json_t *hdr, const char *data, size_t dlen, const int *fds, int nfds);
/* Sends a frame whose header is already encoded (@hdr, @hlen bytes). */
int mconn_send_raw(struct mconn *c, const char *hdr, size_t hlen, const char *data, size_t dlen);
/* Sends {"error": @msg} (the connection is then closed by the caller). */
void mconn_send_error(struct mconn *c, const char *msg);
/* Whether @user authenticated on @c and is still configured; remembers it. */
bool mconn_user_ok(struct mconn *c, const char *user);
/* Brings c->users and c->gone up to the configured users. */
void mconn_users_sync(struct mconn *c);
void mconn_user_add(struct mconn *c, const char *user);
void mconn_sid_add(struct mconn *c, uint32_t sid);
void mconn_sid_del(struct mconn *c, uint32_t sid);
/* Sends the event @hdr (stolen) to every front end past hello of @kind
 * (MGMT_KIND_NONE: all) that declared interest in a class of @cls (enum
 * mgmt_ev; 0: to each, whatever its interest). */
void mgmt_broadcast(struct mgmt *m, enum mgmt_kind kind, unsigned int cls, json_t *hdr, const char *data,
                    size_t dlen);
/* Sends front end @c its current `listen` event. */
void mgmt_send_listen(struct mgmt *m, struct mconn *c);
/* The users changed: `users` to every front end. */
void mgmt_users_changed(struct mgmt *m);

/* ---- requests (mgmt_ops.c) ---- */

/* Handles the request @req of @c (its data @data, may be NULL). Returns 0 after
 * replying, or -1 with *why set when the request is malformed. */
int mgmt_dispatch(struct mconn *c, json_t *req, const char *data, size_t dlen, const char **why);

/* ---- NACM (mgmt_access.c; the rule engine is mgmt_nacm.h) ---- */

/* The handler of /ietf-netconf-acm:nacm and the users, and the datastore's
 * write check. */
int mgmt_nacm_register(struct mgmt *m);
/* 0, or -EACCES with access-denied in @errs (counted). */
int mgmt_nacm_exec(struct mgmt *m, const char *user, const char *module, const char *name, struct cfg_errs *errs);
/* Removes what @user may not read from *tree. */
/* Whether NACM restricts @user's reads and writes at all (not an admin without
 * rules of its own, nor the recovery user, nor NACM off). */
bool mgmt_nacm_restricted(struct mgmt *m, const char *user);
void mgmt_nacm_prune(struct mgmt *m, const char *user, struct lyd_node **tree);
/* Adds the counters of /nacm to *tree. */
void mgmt_nacm_state(struct mgmt *m, struct lyd_node **tree);
/* The `nacm-check` request: @exec ("module:name") or @read (a data path). */
int mgmt_nacm_check(struct mgmt *m, const char *user, const char *exec, const char *read, struct cfg_errs *errs);
/* The data paths notification @name of @mod (@notif its tree, or @xml its
 * text) reveals, in @paths (at most MGMT_NOTIF_PATHS, each allocated): what NACM
 * judges it by. Their number. */
#define MGMT_NOTIF_PATHS 64
size_t mgmt_nacm_notif_paths(const char *mod, const char *name, const struct lyd_node *notif, const char *xml,
                             char **paths);
/* The users (authenticated on @only, or on any connection when NULL) that
 * notification @name of @mod revealing @paths must not reach: a JSON array of
 * names. Every delivery, replay included, goes through it. */
json_t *mgmt_nacm_notif_deny(struct mgmt *m, struct mconn *only, const char *mod, const char *name,
                             char *const *paths, size_t npaths);

/* ---- events (mgmt_notif.c) ---- */

/* The netconf-config-change notification of a commit (RFC 6470); NULL on error. */
struct lyd_node *mgmt_config_change_notif(struct ly_ctx *ctx, const struct cfg_actor *actor,
                                          const struct cfg_change *chg, size_t n);

/* The class (enum mgmt_ev) of notification @name of module @mod. */
unsigned int mgmt_ev_class(const char *mod, const char *name);
/* The union of the front ends' interests. */
unsigned int mgmt_interest_all(const struct mgmt *m);
/* The `interest` request of @c (before dispatch; mgmt_server.c): its interest
 * replaced, then the reply. 0, or -1 with *why set. */
int mgmt_interest(struct mconn *c, json_t *req, const char **why);
/* Sends a pending state `changed` now (replies must not overtake it). */
void mgmt_changed_flush(struct mgmt *m);

/* ---- the notification replay log (mgmt_replay.c) ---- */

/* Fixed bounds of the log: the oldest notifications are dropped beyond either. */
#define MREPLAY_MAX_EVENTS 1024
#define MREPLAY_MAX_BYTES (1024 * 1024)

struct mreplay_ent {
    uint64_t id;
    int64_t ns; /* event time, ns since the epoch */
    char *time; /* the same, RFC 3339 */
    unsigned int cls; /* enum mgmt_ev */
    char *xml; /* the notification element */
    size_t len;
    char *mod, *name; /* its module and name, and the paths it reveals (NACM) */
    char **paths;
    size_t npaths;
};

struct mreplay;
/* A log of at most @max_events notifications and @max_bytes bytes of XML, created
 * at @now_ns; NULL on ENOMEM. */
struct mreplay *mreplay_new(size_t max_events, size_t max_bytes, int64_t now_ns);
void mreplay_free(struct mreplay *r);
/* The event time of a notification made at @now_ns: never earlier than the one
 * before it, so that the log stays in time order (bisected by time) when the
 * clock steps back. */
int64_t mreplay_stamp(struct mreplay *r, int64_t now_ns);
/* Logs a copy of the notification @xml (@len bytes), @mod:@name, revealing
 * @paths (adopted, freed if not kept), and returns its id, dropping the oldest
 * while a bound would be passed. One larger than @max_bytes, or one that cannot
 * be copied, gets an id but is not kept. */
uint64_t mreplay_add(struct mreplay *r, unsigned int cls, int64_t ns, const char *time, const char *xml, size_t len,
                     const char *mod, const char *name, char **paths, size_t npaths);
size_t mreplay_count(const struct mreplay *r);
/* The entry @i (0: the oldest), NULL past the end. */
const struct mreplay_ent *mreplay_at(const struct mreplay *r, size_t i);
/* The index of the first entry with an id after @id, or of time @ns or later
 * (mreplay_count when none). */
size_t mreplay_after_id(const struct mreplay *r, uint64_t id);
size_t mreplay_from_time(const struct mreplay *r, int64_t ns);
/* The id given last (whether kept or not), the log's creation, and the event time
 * of the newest notification dropped (0: none). */
uint64_t mreplay_last_id(const struct mreplay *r);
int64_t mreplay_created(const struct mreplay *r);
int64_t mreplay_aged(const struct mreplay *r);
/* The `replay` request of @c (before dispatch; mgmt_server.c): the logged
 * notifications it asks for, `replay-end`, the reply. 0, or -1 with *why set. */
int mgmt_replay(struct mconn *c, json_t *req, const char **why);
/* Sends the logged notification @e to @c as a `notification` event, tagged with
 * "replay": @replay (0: a live one). The one path of every notification to a front
 * end (mgmt_notif.c). */
bool mgmt_notif_send(struct mconn *c, const struct mreplay_ent *e, uint32_t replay);

#endif
