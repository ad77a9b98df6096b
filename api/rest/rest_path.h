/* RFC 8040 request URIs: the api-path of a data resource (§3.5.3) turned into a
 * libyang XPath and its schema node, percent-decoding, and the "fields" query
 * parameter (§4.8.3) expanded into relative paths. Pure functions of their input and
 * the YANG context: safe on any thread, fuzzed by fuzz_rest_path. */
#ifndef RAVEN_API_REST_PATH_H
#define RAVEN_API_REST_PATH_H

#include <libyang/libyang.h>
#include <stdbool.h>
#include <stdint.h>

#include "daemon/config/cfg_err.h"

struct rest_path {
    char *xpath;                   /* NULL: the datastore itself */
    char *parent_xpath;            /* NULL: the target is top-level (or the datastore) */
    const struct lysc_node *snode; /* NULL: the datastore */
    bool all_instances;            /* the last segment names a list or leaf-list without keys */
    char *name;                    /* the target's name as RFC 7951 qualifies it at top level: "module:node" */
};

/* Parses @path (the part after ".../data/", raw, still percent-encoded; "" is the
 * datastore). Returns 0, or -EINVAL/-ENOENT with @errs naming the bad segment
 * (-ENOENT: no such schema node, a 404). */
int rest_path_parse(const struct ly_ctx *ctx, const char *path, struct rest_path *out, struct cfg_errs *errs);
void rest_path_clear(struct rest_path *p);

/* Percent-decodes @len bytes of @in into a new string; -EINVAL on a bad escape or an
 * encoded NUL. */
int rest_pct_decode(const char *in, size_t len, char **out);

/* Expands a "fields" value into relative paths ("a/b", "mod:c"), NULL-terminated, in
 * *paths (free with rest_fields_free). Returns 0 or -EINVAL with @errs. */
int rest_fields_parse(const char *fields, char ***paths, struct cfg_errs *errs);
void rest_fields_free(char **paths);

/* Paging of a list (the RESTCONF mapping of the IETF list-pagination work, a
 * subset): "limit" (1..4294967295 or "unbounded"), "offset" (0..4294967295) and
 * "cursor" (the value a previous page gave as its next cursor: a session id,
 * 1..2^63-1). */
struct rest_page {
    bool paged; /* any of them given */
    uint64_t limit; /* 0: unbounded */
    uint64_t offset;
    bool has_cursor;
    uint64_t cursor;
};

/* Whether @key is one of the paging parameters; if so its value @v is checked and
 * stored in @pg, or a message for a 400 (invalid-value) written to @err. */
bool rest_page_param(struct rest_page *pg, const char *key, const char *v, char *err, size_t errlen);

/* Replay of an event stream (RFC 8040 §4.8.7, §4.8.8, §6.3): "start-time" and
 * "stop-time" (RFC 3339 date-and-time) as ns since the epoch (0: not given), and
 * the SSE Last-Event-ID. */
struct rest_replay {
    int64_t start_ns, stop_ns;
    uint64_t after_id; /* 0: none */
};

/* Whether @key is "start-time" or "stop-time"; if so its value @v is checked and
 * stored in @rp, or a message for a 400 (invalid-value) written to @err. */
bool rest_replay_param(struct rest_replay *rp, const char *key, const char *v, char *err, size_t errlen);
/* An RFC 3339 date-and-time ("2026-01-31T12:00:00.5Z", "...+01:00"), strictly, from
 * 1970 to 2262 (what ns since the epoch hold in 63 bits), in *ns. 0 or -EINVAL. */
int rest_time_parse(const char *v, int64_t *ns);
/* A Last-Event-ID header as the streams send ids: 1..2^63-1 in decimal. 0 or
 * -EINVAL. */
int rest_event_id_parse(const char *v, uint64_t *id);

/* An XPath string literal of @v ('v' or "v"), or NULL if @v holds both quotes. */
char *rest_xpath_literal(const char *v);

#endif
