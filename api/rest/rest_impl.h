/* Internals of the REST front end shared by its files. */
#ifndef RAVEN_API_REST_IMPL_H
#define RAVEN_API_REST_IMPL_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "api/rest/rest_api.h"
#include "api/rest/rest_path.h"

#define REST_BODY_MAX (4u << 20)
#define REST_CONN_MAX 256
#define REST_CONN_PER_IP 64
#define REST_IDLE_TIMEOUT_S 30
#define REST_STREAM_MAX 64
#define NS_RESTCONF "urn:ietf:params:xml:ns:yang:ietf-restconf"
#define REST_SID 0xfffffff0u /* the datastore's session id of REST requests */
#define REST_CACHE_SIZE 32
#define REST_STATE_CACHE_MS 500

enum rest_role {
    REST_ROLE_READ_ONLY = 0,
    REST_ROLE_ADMIN,
};

enum rest_fmt {
    REST_JSON = 0,
    REST_XML,
};

/* A served endpoint: one libmicrohttpd daemon on a socket ravend bound. */
struct rest_srv {
    struct rest_api *api;
    struct MHD_Daemon *mhd;
    char *name, *address;
    uint16_t port;
    struct rest_srv *next;
};

struct rest_auth;   /* rest_auth.c */
struct rest_events; /* rest_events.c */

struct rest_api {
    struct ly_ctx *ctx;
    struct mc *mc;
    struct event_base *base;
    char *web_dir;

    /* the served certificate and endpoints; changed only on the main thread */
    char *cert_pem, *key_pem;
    struct rest_srv *srvs;
    atomic_int retiring; /* endpoints being stopped on threads of their own */
    bool stopped;
    /* the last `listen` event, from the reader thread to the main thread */
    pthread_mutex_t listen_lock;
    struct mc_listen *listen_next;
    struct event *listen_ev;

    /* configuration reads, by request (they change only when running does) */
    pthread_mutex_t cache_lock;
    struct rest_cache_ent {
        char *key, *body;
        size_t len;
        char etag[48];
        time_t last_modified;
        uint64_t epoch;
        int64_t expires_ms; /* CLOCK_MONOTONIC; 0: until the epoch moves */
    } cache[REST_CACHE_SIZE];
    unsigned int cache_next;
    atomic_uint_fast64_t epoch; /* bumped by changes of running, session events, operations */

    struct rest_auth *auth;
    struct rest_events *ev;
    uint64_t boot; /* random: keeps entity tags unique across restarts */
    atomic_uint_fast64_t nreq;
};

/* The caller of a request, once authenticated. */
struct rest_who {
    char user[40];
    enum rest_role role;
    char token[65]; /* set when a bearer token (or the cookie) was used */
    time_t expires; /* the token's expiry */
};

/* What a handler answers: status, body (owned), content type, extra headers. */
struct rest_reply {
    unsigned int status;
    char *body;
    size_t len;
    const char *ctype;
    char *location;
    char etag[48];
    time_t last_modified;
    bool allow_set;
    const char *allow;
    const char *challenge; /* 401: WWW-Authenticate (default: Basic) */
    bool paged; /* a page of a list: Raven-List-{Total,Remaining,Next} headers */
    uint64_t total, remaining, next;
};

/* Query parameters of RFC 8040 §4.8 (and the traffic stream's interval). */
enum rest_content { REST_CONTENT_ALL = 0, REST_CONTENT_CONFIG, REST_CONTENT_NONCONFIG };
enum rest_wd { REST_WD_DEFAULT = 0, REST_WD_EXPLICIT, REST_WD_TRIM, REST_WD_ALL, REST_WD_ALL_TAGGED };

struct rest_query {
    unsigned int depth; /* 0: unbounded */
    char *fields;
    enum rest_content content;
    enum rest_wd wd;
    unsigned int interval; /* streams */
    struct rest_replay replay; /* streams: start-time, stop-time, Last-Event-ID */
    struct rest_page page; /* limit, offset, cursor: the session list only */
};

/* Which datastore a /restconf/data or /restconf/ds request addresses. */
enum rest_dsel { REST_DS_UNIFIED = 0, REST_DS_RUNNING, REST_DS_CANDIDATE, REST_DS_STARTUP, REST_DS_OPERATIONAL };

/* One request, served on a libmicrohttpd thread. */
struct rest_req {
    struct rest_api *api;
    struct MHD_Connection *conn;
    const char *method;
    const char *url;      /* raw (not unescaped), without the query */
    const char *base_uri; /* "/restconf/data" or "/restconf/ds/ietf-datastores:NAME" */
    const char *rel;      /* the api-path after base_uri, raw */
    enum rest_dsel dsel;
    const char *body; /* NUL-terminated, may be NULL */
    size_t body_len;
    enum rest_fmt in_fmt, out_fmt;
    bool yang_patch; /* the body is a YANG Patch (RFC 8072) */
    struct rest_query query;
    const char *if_match, *if_none_match;
    time_t if_modified_since, if_unmodified_since; /* 0: absent */
    bool checked;     /* a write's preconditions held at running's generation gen_checked */
    uint64_t gen_checked;
    struct rest_who who;
    struct rest_reply rep;
    /* a read: the tree to print (adopted) */
    struct lyd_node *tree, *spare;
    enum { REST_WRAP_NONE = 0, REST_WRAP_TARGET, REST_WRAP_DATASTORE } wrap;
    uint32_t print_flags;
};

/* rest_err.c */
void rest_reply_errs(struct rest_reply *rep, enum rest_fmt fmt, const struct cfg_errs *errs, unsigned int status);
void rest_reply_err(struct rest_reply *rep, enum rest_fmt fmt, unsigned int status, enum cfg_err_tag tag,
                    const char *path, const char *fmt_msg, ...) __attribute__((format(printf, 6, 7)));
unsigned int rest_status_of(const struct cfg_errs *errs, int rc);
const char *rest_ctype(enum rest_fmt fmt);

/* rest_cache.c */
char *rest_cache_key(const struct rest_req *r);
/* A cached reply for @key still valid at @epoch, copied into @rep. */
bool rest_cache_get(struct rest_api *api, const char *key, uint64_t epoch, struct rest_reply *rep, enum rest_fmt fmt);
/* Keeps a copy of @rep under @key (adopted), produced at @epoch. */
void rest_cache_put(struct rest_api *api, char *key, uint64_t epoch, const struct rest_reply *rep);
void rest_cache_clear(struct rest_api *api);

/* rest_auth.c: logins and tokens, checked by ravend, with a local cache of tokens
 * (flushed when the users change). Any thread but the client's reader. */
struct rest_auth *rest_auth_new(struct rest_api *api);
void rest_auth_free(struct rest_auth *a);
/* The users or roles changed (any thread, the reader's included). */
void rest_auth_flush(struct rest_auth *a);
/* 0 with @who filled; -EACCES (bad credentials: 401), -ENOENT (none given),
 * -EAGAIN (@from is blocked after failed logins: *retry_after seconds) or
 * -ESHUTDOWN (ravend is gone). */
int rest_auth_check(struct rest_auth *a, struct MHD_Connection *conn, bool allow_cookie, const char *from,
                    struct rest_who *who, unsigned int *retry_after);
/* Checks a user name and password; same results. */
int rest_auth_password(struct rest_auth *a, const char *user, const char *password, const char *from,
                       struct rest_who *who, unsigned int *retry_after);
/* Issues a token for @who (65 bytes at @out, its expiry in who->expires). */
int rest_auth_token_new(struct rest_auth *a, struct rest_who *who, char out[65]);
void rest_auth_token_revoke(struct rest_auth *a, const char *token);
/* Whether @who's token still stands for the same user and role (true for a
 * password login, which the streams end on a change of users instead). */
bool rest_auth_token_valid(struct rest_auth *a, const struct rest_who *who);

/* rest_data.c: the datastore resources and helpers shared with rest_ops.c. */
void rest_set_body(struct rest_reply *rep, char *body, const char *ctype);
struct cfg_actor rest_actor(const struct rest_req *r);
/* @errs (cleared) as the reply, with @status or the one of its first error. */
void rest_reply_errs_rc(struct rest_req *r, struct cfg_errs *errs, int rc, unsigned int status);
/* The inner document of an envelope ({"module:name": {...}} or <name>...</name>),
 * rewrapped as @wrap_as when given; NULL with *why set. */
char *rest_unwrap(const char *body, enum rest_fmt fmt, const char *name, const char *wrap_as, const char **why);
int rest_json_check(const char *text, struct cfg_errs *errs);
void rest_data_run(struct rest_req *r);
void rest_ops_run(struct rest_req *r);
void rest_schema_run(struct rest_req *r); /* GET /restconf/yang/NAME[@REV] */
void rest_root_reply(struct rest_req *r);
/* After rest_data_run: prints the tree it left. */
void rest_data_print(struct rest_req *r);
/* Prints @tree (siblings) as the body of @r, in its format with @wd print flags. */
int rest_print(struct rest_req *r, const struct lyd_node *tree, uint32_t flags);
/* Helpers of the data resources shared with rest_patch.c: a copy of @ds for the
 * request's user (secrets masked); the entity tag of running; the datastore a
 * request selects; a body parsed as configuration under @parent (*top: the new
 * top-level nodes); an ietf-netconf:operation on @n; @edit run against the
 * request's datastore. */
int rest_get(struct rest_req *r, enum cfg_ds ds, const char *const *xpaths, struct lyd_node **out,
             struct cfg_errs *errs);
void rest_set_etag(struct rest_req *r, uint64_t gen, time_t mtime);
enum cfg_ds rest_ds_of(enum rest_dsel d);
int rest_parse_config(struct rest_req *r, struct lyd_node *parent, const char *text, struct lyd_node **top,
                      struct cfg_errs *errs);
int rest_set_op(struct rest_api *api, struct lyd_node *n, const char *op);
int rest_run_edit(struct rest_req *r, struct lyd_node *edit, struct cfg_errs *errs);
/* If-Match / If-None-Match header @hdr (a list of tags, or "*") names @etag. */
bool rest_etag_matches(const char *hdr, const char *etag);

/* rest_write.c: PUT, POST, PATCH (not YANG Patch) and DELETE of /restconf/data
 * and /restconf/ds/... at @p. */
void rest_data_write(struct rest_req *r, struct rest_path *p);

/* rest_patch.c: PATCH with application/yang-patch+json, every edit in one
 * transaction. */
void rest_data_yang_patch(struct rest_req *r);

/* rest_events.c */
struct rest_events *rest_events_new(struct rest_api *api);
/* Stops the sampler and ends every stream; rest_events_release frees the structure
 * once the daemons (which free the subscribers) have stopped. */
void rest_events_free(struct rest_events *ev);
void rest_events_release(struct rest_events *ev);
/* The users changed (any thread): streams of password logins end now, those of
 * tokens are checked again on the next tick. */
void rest_events_users_changed(struct rest_events *ev);
/* Ends the streams of @token (revoked). */
void rest_events_token_revoked(struct rest_events *ev, const char *token);
/* Ends the streams of @mhd, which is about to stop. */
void rest_events_close_daemon(struct rest_events *ev, struct MHD_Daemon *mhd);
/* Answers GET /restconf/streams/... (may queue a streaming response). */
enum MHD_Result rest_events_serve(struct rest_api *api, struct MHD_Connection *conn, const char *name,
                                  enum rest_fmt fmt, struct rest_req *r);
/* The restconf-state/streams document. */
char *rest_events_streams_doc(struct rest_api *api, enum rest_fmt fmt);

/* rest_metrics.c */
void rest_metrics_run(struct rest_req *r);

/* rest_server.c: the HTTPS daemon of endpoint @s on the listening socket @fd
 * (adopted only on success), served by the request handlers; NULL if it cannot
 * serve. */
struct MHD_Daemon *rest_server_listen(struct rest_srv *s, int fd, const char *cert, const char *key);
/* rest_endpoint.c: serves exactly what @l says (adopting its descriptors): new
 * daemons start, then the old ones stop; unchanged endpoints keep theirs. Main
 * thread. */
void rest_endpoints_apply(struct rest_api *api, struct mc_listen *l);
/* Stops the endpoints of @list and frees them (@wait: before returning; else on a
 * thread of their own). */
void rest_endpoints_retire(struct rest_api *api, struct rest_srv *list, bool wait);

#endif
