/* Internals of api/netconf shared by its files. */
#ifndef RAVEN_API_NC_IMPL_H
#define RAVEN_API_NC_IMPL_H

#include <libnetconf2/netconf.h>
#include <libnetconf2/messages_server.h>
#include <libnetconf2/session_server.h>
#include <pthread.h>
#include <stdatomic.h>

#include "api/netconf/nc_api.h"

#define NC_POLL_THREADS 2

/* The counters of ietf-netconf-monitoring (RFC 6022) of a session, or of all. */
struct nc_counters {
    uint64_t in_rpcs, in_bad_rpcs, out_rpc_errors, out_notifs;
};

/* A live session as the registry knows it: used by kill-session, notifications and
 * role checks. Entries are added on accept and removed before the session is freed. */
struct nc_sess {
    struct nc_session *s;
    uint32_t sid;
    enum mc_role role; /* as ravend answered the login */
    bool subscribed;
    /* a subscription with startTime (RFC 5277 replay): replay_pending until the
     * notification thread asks ravend for the log, which it does once the reply to
     * create-subscription is sent (replay_ready), replaying (live notifications
     * held back) until the replay ends; stop_ns: its stopTime (0: none), when
     * notificationComplete ends it */
    bool replay_pending, replay_ready, replaying;
    int64_t start_ns, stop_ns;
    struct nc_counters c; /* ietf-netconf-monitoring's session counters */
    struct nc_sess *next;
};

struct nc_notif_item {
    struct lyd_node *event; /* notification tree, adopted; NULL: the end of a replay */
    char *time;
    char **deny; /* users it must not reach (NACM), adopted */
    int64_t ns; /* the same time, ns since the epoch */
    uint64_t id;
    uint32_t replay; /* the session it is replayed for, 0: live */
    struct nc_notif_item *next;
};

/* An endpoint as set in libnetconf2: @fd is the descriptor libnetconf2 listens on,
 * which holds ravend's socket since it was adopted (nc_endpt.c). */
struct nc_ep {
    char *name;
    char *address;
    uint16_t port;
    int fd;
};

struct nc_api {
    struct ly_ctx *ctx;
    struct mc *mc;
    struct nc_pollsession *ps;
    atomic_bool stop;
    pthread_t accept_thr, poll_thr[NC_POLL_THREADS], notif_thr;
    bool started;

    /* the login that succeeded last, by the accept thread (which runs the SSH
     * handshake of one connection at a time): the session it belongs to, its user
     * and role; taken over by the registry when the session is accepted */
    const struct nc_session *auth_sess;
    char *auth_user;
    enum mc_role auth_role;

    /* SSH host key of the last `listen` event, as libnetconf2's hostkey callback
     * wants it: the PEM body (base64 DER) and its type */
    pthread_mutex_t hostkey_lock;
    char *hostkey_b64;
    NC_SSH_KEY_TYPE hostkey_type;

    /* endpoints, changed only by the `listen` event under ep_lock */
    pthread_mutex_t ep_lock;
    struct nc_ep *eps;
    size_t neps;

    pthread_mutex_t sess_lock; /* also held while sending a notification */
    struct nc_sess *sessions;
    /* ietf-netconf-monitoring statistics (sess_lock): the counters of the sessions
     * that ended, and since when this process serves */
    struct nc_counters ended;
    uint64_t in_sessions, dropped_sessions, bad_hellos;
    time_t start;

    pthread_mutex_t notif_lock;
    pthread_cond_t notif_cond; /* an item queued, a replay asked, or stopping */
    bool replay_asked;         /* some session has replay_pending (notif_lock) */
    struct nc_notif_item *notif_head, *notif_tail;
    size_t notif_len;
};

/* nc_auth.c */
void nc_auth_init(struct nc_api *api);
/* Sets the host key from a PEM private key; 0 or -EINVAL (a type libnetconf2 cannot
 * take from memory: encrypted, OpenSSH's own format). */
int nc_auth_set_hostkey(struct nc_api *api, const char *pem);
/* Accept thread: the role ravend gave @s's login, or -1 if it logged in otherwise. */
int nc_auth_take_role(struct nc_api *api, const struct nc_session *s);
void nc_auth_fini(struct nc_api *api);

/* nc_endpt.c */
void nc_endpt_clear(struct nc_api *api);

/* nc_rpc.c: an RPC being answered, and what the operations share */
struct rpc_req {
    struct nc_api *api;
    struct lyd_node *rpc;
    struct cfg_actor actor;
    int role;
};
struct nc_server_reply *nc_reply_errs(const struct ly_ctx *ctx, struct cfg_errs *errs);
struct nc_server_reply *nc_reply_rc(const struct ly_ctx *ctx, int rc, struct cfg_errs *errs);
/* The <data> output of @rpc holding @data (adopted). */
struct nc_server_reply *nc_reply_data(struct lyd_node *rpc, struct lyd_node *data, NC_WD_MODE wd);
/* The tree of an anydata of configuration (<config>), reparsed when needed. */
int nc_any_tree(struct nc_api *api, const struct lyd_node *any, struct lyd_node **tree, struct cfg_errs *errs);
/* Gives the tree nc_any_tree took from @any back to it (freed with the request,
 * after the reply), or frees it. */
void nc_any_tree_return(const struct lyd_node *any, struct lyd_node *tree);
/* This process's monitoring state selected by @xp (NULL: all). */
int nc_local_state(struct nc_api *api, const struct cfg_actor *who, char **xp, struct lyd_node **out,
                   struct cfg_errs *errs);
NC_WD_MODE nc_wd_mode(const struct lyd_node *rpc);
/* <list-pagination> of @rpc (raven-list-pagination): whether present, its values
 * in @pg; and the annotations of the page on the reply's vpn-state. */
bool nc_page_of(const struct lyd_node *rpc, struct mc_page *pg);
int nc_page_meta(struct nc_api *api, struct lyd_node **data, const struct mc_page *pg);
/* The operational state of @r's read: ravend's, selected by @xp and paged by @pg
 * (NULL: not paged), with this process's own state @mon (adopted) merged in,
 * in *data. */
int nc_read_state(const struct rpc_req *r, char **xp, struct mc_page *pg, struct lyd_node *mon,
                  struct lyd_node **data, struct cfg_errs *errs);
const char *nc_child_val(const struct lyd_node *n, const char *name);
enum cfg_op nc_parse_defop(const char *v);
struct nc_server_reply *nc_rpc_dispatch(struct lyd_node *rpc, struct nc_session *session);
extern struct nc_api *nc_rpc_api; /* libnetconf2's callbacks carry no user data */

/* nc_server.c */
struct nc_sess *nc_sess_find(struct nc_api *api, uint32_t sid); /* sess_lock held */
/* The role of session @sid, or -1 when it is not (or no longer) in the registry. */
int nc_sess_role(struct nc_api *api, uint32_t sid);
void nc_sess_end(struct nc_api *api, uint32_t sid); /* tell ravend */

/* nc_mon.c: ietf-netconf-monitoring's sessions, statistics and datastores (their
 * locks, from ravend) under the netconf-state node @ncs */
void nc_mon_state(struct nc_api *api, struct lyd_node *ncs);
/* Counts what nc_ps_poll said (@r, NC_PSPOLL_*) of session @s. */
void nc_mon_count(struct nc_api *api, const struct nc_session *s, int r);
/* partial-lock and partial-unlock (RFC 5717), held by ravend */
struct nc_server_reply *nc_op_partial_lock(struct rpc_req *r);
struct nc_server_reply *nc_op_partial_unlock(struct rpc_req *r);

/* nc_nmda.c: get-data and edit-data (RFC 8526) */
struct nc_server_reply *nc_op_get_data(struct rpc_req *r);
struct nc_server_reply *nc_op_edit_data(struct rpc_req *r);

/* nc_notif.c */
int nc_notif_start(struct nc_api *api);
void nc_notif_stop(struct nc_api *api);
/* Tells ravend whether any session subscribes now (after a subscription is
 * registered and before it is acknowledged, and after a subscriber leaves).
 * 0 or -errno. */
int nc_notif_interest(struct nc_api *api);
/* Poll thread, after an RPC of @s was answered: a replay its create-subscription
 * asked for may start now that the <ok/> is out (RFC 5277: replayed
 * notifications follow the reply). */
void nc_notif_replied(struct nc_api *api, const struct nc_session *s);
/* nc-notifications:netconf/streams (the NETCONF stream, its replay log's creation)
 * under @data. */
void nc_notif_streams(struct nc_api *api, struct lyd_node **data);

#endif
