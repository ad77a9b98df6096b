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

/* A live session as the registry knows it: used by kill-session, notifications and
 * role checks. Entries are added on accept and removed before the session is freed. */
struct nc_sess {
    struct nc_session *s;
    uint32_t sid;
    bool subscribed;
    struct nc_sess *next;
};

struct nc_notif_item {
    struct lyd_node *event; /* notification tree, adopted */
    char *time;
    struct nc_notif_item *next;
};

struct nc_api {
    struct ly_ctx *ctx;
    struct cfg *cfg;
    struct ctlq *q;
    char *state_dir;
    char *hostkey_path;
    struct nc_pollsession *ps;
    atomic_bool stop;
    pthread_t accept_thr, poll_thr[NC_POLL_THREADS], notif_thr;
    bool started;

    /* users, replaced by the control thread on apply, read by auth callbacks */
    pthread_mutex_t users_lock;
    struct nc_user *users;
    size_t nusers;

    /* endpoints as currently set in libnetconf2 (control thread only) */
    struct nc_endpoint *eps;
    size_t neps;

    pthread_mutex_t sess_lock; /* also held while sending a notification */
    struct nc_sess *sessions;

    pthread_mutex_t notif_lock;
    pthread_cond_t notif_cond;
    struct nc_notif_item *notif_head, *notif_tail;

    /* the daemon's operational state and RPCs (control thread) */
    nc_state_fn state_fn;
    nc_rpc_fn rpc_fn;
    void *hooks_arg;
};

/* nc_auth.c */
int nc_auth_init(struct nc_api *api);
/* The role of @user, or -1 when unknown. */
int nc_auth_role(struct nc_api *api, const char *user);

/* nc_rpc.c */
struct nc_server_reply *nc_rpc_dispatch(struct lyd_node *rpc, struct nc_session *session);
extern struct nc_api *nc_rpc_api; /* libnetconf2's callbacks carry no user data */

/* nc_server.c */
struct nc_sess *nc_sess_find(struct nc_api *api, uint32_t sid); /* sess_lock held */
void nc_sess_end(struct nc_api *api, uint32_t sid);              /* tell the control thread */

/* nc_notif.c */
int nc_notif_start(struct nc_api *api);
void nc_notif_stop(struct nc_api *api);

#endif
