/* Internals of the etcd client shared by etcd.c (transfers, endpoints,
 * authentication, watches) and etcd_parse.c (what etcd's JSON gateway
 * answers, and the stream of a watch split into its messages); not a public
 * interface. The parsers are apart so that tests/fuzz/fuzz_etcd.c reaches
 * every one of them without a network.
 *
 * The gateway's JSON (etcd 3.4, grpc-gateway): keys and values are base64,
 * int64 fields are JSON strings ("revision":"12"), fields at their zero value
 * are left out (a PUT event has no "type", a failed txn no "succeeded", a
 * keepalive of a lost lease no "TTL"). An error is
 * {"error":"...","message":"...","code":N} (N a gRPC code: 16 is
 * Unauthenticated), or inside a stream {"error":{"grpc_code":N,"message":...}}.
 * Streaming calls (/v3/watch, /v3/lease/keepalive) wrap each message in
 * {"result":{...}} and write them one after another. */
#ifndef RAVEN_CLUSTER_ETCD_INT_H
#define RAVEN_CLUSTER_ETCD_INT_H

#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/cluster/etcd.h"

#define ETCD_MAX_BODY (4u << 20)     /* an answer larger than this is an error */
#define ETCD_MAX_WATCH_MSG (1u << 20) /* a watch message larger than this ends the watch */
#define ETCD_ERRLEN 256

/* base64 of @n bytes (standard alphabet, padded), NUL-terminated; NULL when
 * out of memory. */
char *etcd_b64_encode(const void *p, size_t n);
/* Decodes @s (standard alphabet, padded, no white space) into a new buffer
 * with a NUL after its @outlen bytes; false (nothing allocated) when @s is not
 * base64 or out of memory. */
bool etcd_b64_decode(const char *s, size_t slen, char **out, size_t *outlen);
/* The end of the range of every key starting with @prefix (@n bytes): the
 * prefix with its last byte below 0xff incremented and what follows dropped;
 * "\0" (every key from the prefix on) when there is none. NUL-terminated in
 * a new buffer, its length in @outlen; NULL when out of memory. */
char *etcd_prefix_end(const char *prefix, size_t n, size_t *outlen);

/* The JSON of an answer; NULL with @err set when it is not a JSON object. */
json_t *etcd_json_load(const char *body, size_t len, char *err, size_t errlen);
/* Whether @root is an error of etcd's: its message in @err, its gRPC code in
 * @code (-1 when it has none). */
bool etcd_json_error(const json_t *root, int *code, char *err, size_t errlen);
/* Whether the error @code/@msg says that the token sent is no longer valid
 * (a new one is to be asked for). */
bool etcd_auth_invalid(int code, const char *msg);
/* The int64 @name of @obj: absent is 0; a JSON string of digits or a JSON
 * integer. False with @err when it is something else. */
bool etcd_json_i64(const json_t *obj, const char *name, int64_t *v, char *err, size_t errlen);

/* Key-values decoded from an answer, each key and value in its own buffer. */
struct etcd_kvs {
    struct etcd_kv *v;
    size_t n;
};
void etcd_kvs_fini(struct etcd_kvs *k);
/* One kv object of a range answer or a watch event, appended to @k. */
bool etcd_kv_parse(const json_t *o, struct etcd_kvs *k, char *err, size_t errlen);

/* /v3/kv/range: the kvs and the header's revision. */
bool etcd_parse_range(const json_t *root, struct etcd_kvs *k, int64_t *revision, char *err, size_t errlen);
/* /v3/kv/put, /v3/kv/deleterange, /v3/lease/revoke: an answer with a header. */
bool etcd_parse_header(const json_t *root, int64_t *revision, char *err, size_t errlen);
/* /v3/kv/txn: whether its compare succeeded. */
bool etcd_parse_txn(const json_t *root, bool *succeeded, char *err, size_t errlen);
/* /v3/lease/grant (ID, TTL at the top) and /v3/lease/keepalive (inside
 * "result"; no TTL: the lease is gone). */
bool etcd_parse_lease(const json_t *root, int64_t *id, int64_t *ttl, char *err, size_t errlen);
/* /v3/auth/authenticate: the token, copied into a new string. */
bool etcd_parse_auth(const json_t *root, char **token, char *err, size_t errlen);

/* One message of a watch stream. */
struct etcd_watch_msg {
    bool created, canceled;
    int64_t compact_revision;
    char reason[ETCD_ERRLEN]; /* cancel_reason, or the error's message */
    bool error;               /* the message is an error of the gateway's */
    int error_code;
    struct etcd_kvs kvs; /* the events' key-values, in order */
    enum etcd_event *types; /* of each of kvs */
};
void etcd_watch_msg_fini(struct etcd_watch_msg *m);
bool etcd_parse_watch_msg(const char *msg, size_t len, struct etcd_watch_msg *m, char *err, size_t errlen);

/* The stream of a watch cut into its JSON objects, by their braces (strings
 * and escapes followed), whatever white space lies between them. */
struct etcd_split {
    char *buf;
    size_t len, cap;
    size_t head;     /* where the first message not yet taken begins */
    size_t scan;     /* how far the braces were followed */
    size_t complete; /* end of the last complete message */
    unsigned depth;
    bool in_str, esc;
};
void etcd_split_fini(struct etcd_split *s);
/* Appends @n bytes; false with @err when the stream is not a sequence of JSON
 * objects, when a message grows past ETCD_MAX_WATCH_MSG, or out of memory. */
bool etcd_split_feed(struct etcd_split *s, const char *p, size_t n, char *err, size_t errlen);
/* The next complete message (valid until the next feed or next call); false
 * when there is none yet. */
bool etcd_split_next(struct etcd_split *s, const char **msg, size_t *len);

/* Authentication tokens fetched by @e so far (for tests). */
unsigned etcd_auth_count(const struct etcd *e);

/* ---- the client's internals (etcd.c, etcd_kv.c, etcd_watch.c) ---- */

#define ETCD_MAX_ENDPOINT 512 /* bytes of an endpoint URL */

enum req_kind { RQ_RANGE, RQ_PUT, RQ_DELETE, RQ_CREATE, RQ_GRANT, RQ_KEEPALIVE, RQ_REVOKE, RQ_AUTH, RQ_WATCH };
enum req_state {
    RS_NEW,       /* not yet sent */
    RS_WAIT_AUTH, /* waits for a token */
    RS_SENT,      /* its transfer is under way */
    RS_DEAD,      /* ended or cancelled: freed when no callback runs */
};

struct etcd_req {
    struct etcd *e;
    enum req_kind kind;
    enum req_state state;
    const char *path;
    char *body; /* the JSON sent (with a password for RQ_AUTH: wiped) */
    size_t blen;
    union {
        etcd_done_cb done;
        etcd_lease_cb lease;
        etcd_range_cb range;
        etcd_create_cb create;
    } cb;
    void *arg;
    CURL *easy;
    struct curl_slist *hdrs;
    char *resp;
    size_t rlen, rcap;
    bool too_big;
    size_t ep, tries;     /* the endpoint of this attempt; endpoints tried */
    unsigned token_gen;   /* of the token sent */
    bool auth_retried;    /* a new token was asked for once already */
    char curl_err[CURL_ERROR_SIZE];
    struct etcd_req *next;
};

/* a watch is a request whose answer is a stream */
struct etcd_watch {
    struct etcd_req r; /* first: the request is the watch */
    etcd_watch_cb cb;
    etcd_watch_lost_cb lost;
    struct etcd_split split;
    struct event *ev_ack; /* etcd did not say created in time */
    bool acked;  /* etcd said created */
    bool failed; /* the stream broke (err says why) */
    char err[ETCD_ERRLEN];
};

struct etcd_sock {
    struct event *ev;
    struct etcd_sock *next, **pprev;
};

struct etcd {
    struct event_base *base;
    CURLM *multi;
    struct event *ev_timeout;
    struct etcd_sock *socks;
    char **endpoints;
    size_t nendpoints, cur;
    char *user, *password;
    char *ca_pem, *cert_pem, *key_pem;
    unsigned timeout_ms;
    char *token; /* NULL until authenticated */
    unsigned token_gen, auth_count;
    struct etcd_req *auth; /* the authentication under way */
    struct etcd_req *reqs;
    unsigned depth; /* callbacks running */
    bool freed;     /* etcd_free() was called while they ran */
    uint64_t writes;
};

/* Around callbacks of the client's from the loop: while they run, requests
 * that end and the client itself (etcd_free) are only marked; etcd_leave
 * frees them once the outermost returns (@e may be gone after it). */
void etcd_enter(struct etcd *e);
void etcd_leave(struct etcd *e);
/* Sends @r: at once, or once a token is had when etcd wants one. -ENOMEM
 * when it cannot be sent. */
int etcd_req_send(struct etcd_req *r);
/* A new request of @kind (@size bytes: a struct etcd_watch for watches) to
 * @path with the JSON @j (adopted), sent; NULL (nothing sent) when out of
 * memory or @j is NULL. */
struct etcd_req *etcd_req_new(struct etcd *e, enum req_kind kind, const char *path, json_t *j, size_t size);
/* Ends @r's transfer, if any. */
void etcd_req_detach(struct etcd_req *r);
/* @r ends (its callback ran, or it is cancelled): freed now, or when the
 * callbacks running return. */
void etcd_req_kill(struct etcd_req *r);
/* After a transport failure (@why): the next endpoint, unless all were tried.
 * False when @r was not sent again. */
bool etcd_req_failover(struct etcd_req *r, const char *why);
/* etcd said the token @r sent is not (or no longer) valid: @r waits for a new
 * one, once. False when @r was not sent again. */
bool etcd_req_auth_again(struct etcd_req *r);

/* libcurl's write callback of a watch (etcd_watch.c) */
size_t etcd_watch_body(char *data, size_t size, size_t n, void *arg);
/* The watch ended with @err: its lost callback, then it is killed. */
void etcd_watch_lost(struct etcd_watch *w, const char *err);
/* Hands out the complete messages of every watch's stream. */
void etcd_watch_dispatch(struct etcd *e);
/* The timer of a watch's acknowledgement (@arg the watch) fired: the next
 * endpoint, or the watch is lost. */
void etcd_watch_on_ack(evutil_socket_t fd, short what, void *arg);
/* @w's transfer ended with @rc. */
void etcd_watch_ended(struct etcd_watch *w, CURLcode rc);

/* JSON of the requests (etcd_kv.c): @n bytes as a base64 string; an int64 as
 * a string; {"key", "range_end"} of @key, or of every key under the prefix
 * @key. NULL when out of memory. */
json_t *etcd_json_b64(const void *p, size_t n);
json_t *etcd_json_i64str(int64_t v);
json_t *etcd_json_range(const char *key, bool prefix);

#endif
