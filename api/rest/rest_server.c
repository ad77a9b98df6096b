/* The HTTPS server: libmicrohttpd daemons per endpoint (epoll, a thread pool) on
 * the sockets ravend bound, limits, request bodies, authentication, routing and the
 * dashboard's static files. Datastore work (rest_data.c, rest_ops.c) runs on the
 * request's thread, through the client of ravend; see README.md. The front end's
 * object and the management socket's events are in rest_api.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/rest/rest_impl.h"
#include "daemon/base/fsutil.h"
#include "daemon/base/log.h"
#include "daemon/base/poison.h"

#define THREADS_PER_ENDPOINT 2
#define BEARER_CHALLENGE "Bearer realm=\"raven\""

/* Per-connection request state: the body as it arrives. */
struct conn_req {
    char *body;
    size_t len;
    bool too_big;
    bool answered;
};

/* ---- responses ---- */

static void add_common_headers(struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
}

static void add_ui_headers(struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; "
                            "form-action 'self'");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
}

static void http_date(time_t t, char *buf, size_t n)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, n, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static time_t parse_http_date(const char *s)
{
    struct tm tm = {0};

    if (!s || !strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm))
        return 0;
    return timegm(&tm);
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, struct rest_reply *rep, const char *cookie)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;
    char date[64];

    resp = MHD_create_response_from_buffer(rep->len, rep->body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(rep->body);
        return MHD_NO;
    }
    rep->body = NULL;
    add_common_headers(resp);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (rep->len && rep->ctype)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, rep->ctype);
    if (rep->location)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, rep->location);
    if (rep->etag[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, rep->etag);
    if (rep->last_modified) {
        http_date(rep->last_modified, date, sizeof(date));
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LAST_MODIFIED, date);
    }
    if (rep->allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, rep->allow);
    if (rep->paged) {
        char v[24];

        snprintf(v, sizeof(v), "%llu", (unsigned long long)rep->total);
        MHD_add_response_header(resp, "Raven-List-Total", v);
        snprintf(v, sizeof(v), "%llu", (unsigned long long)rep->remaining);
        MHD_add_response_header(resp, "Raven-List-Remaining", v);
        if (rep->next) {
            snprintf(v, sizeof(v), "%llu", (unsigned long long)rep->next);
            MHD_add_response_header(resp, "Raven-List-Next", v);
        }
    }
    /* a Basic challenge only to clients that use Basic or nothing: a browser would
     * answer one with its own password dialog */
    if (rep->status == 401)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                rep->challenge ? rep->challenge : "Basic realm=\"raven\", charset=\"UTF-8\"");
    if (cookie)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, cookie);
    ret = MHD_queue_response(conn, rep->status, resp);
    MHD_destroy_response(resp);
    free(rep->location);
    rep->location = NULL;
    return ret;
}

static enum MHD_Result send_err(struct MHD_Connection *conn, enum rest_fmt fmt, unsigned int status,
                                enum cfg_err_tag tag, const char *allow, const char *msg)
{
    struct rest_reply rep = {0};

    rest_reply_err(&rep, fmt, status, tag, NULL, "%s", msg);
    rep.allow = allow;
    return send_reply(conn, &rep, NULL);
}

/* ---- media types, query ---- */

static int accept_fmt(struct MHD_Connection *conn, enum rest_fmt *fmt)
{
    const char *a = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
    const char *x, *j;

    *fmt = REST_JSON;
    if (!a || !*a)
        return 0;
    x = strstr(a, "yang-data+xml");
    if (!x)
        x = strstr(a, "application/xml");
    j = strstr(a, "yang-data+json");
    if (!j)
        j = strstr(a, "application/json");
    if (x && (!j || x < j)) {
        *fmt = REST_XML;
        return 0;
    }
    if (j || strstr(a, "*/*") || strstr(a, "application/*"))
        return 0;
    return -1;
}

static int content_fmt(struct MHD_Connection *conn, enum rest_fmt *fmt)
{
    const char *c = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);

    if (!c)
        return -1;
    if (!strncasecmp(c, "application/yang-data+json", 26) || !strncasecmp(c, "application/json", 16) ||
        !strncasecmp(c, "application/yang-patch+json", 27)) {
        *fmt = REST_JSON;
        return 0;
    }
    if (!strncasecmp(c, "application/yang-data+xml", 25) || !strncasecmp(c, "application/xml", 15) ||
        !strncasecmp(c, "application/yang-patch+xml", 26)) {
        *fmt = REST_XML;
        return 0;
    }
    return -1;
}

struct qparse {
    struct rest_query *q;
    bool stream, get;
    unsigned int seen;
    char err[200];
};

static enum MHD_Result query_iter(void *cls, enum MHD_ValueKind kind, const char *key, const char *raw)
{
    struct qparse *p = cls;
    static const char *const names[] = {"depth", "fields", "content", "with-defaults", "interval",
                                        "limit", "offset", "cursor", "start-time", "stop-time"};
    char *v = NULL;
    unsigned int bit = 0;
    size_t i;

    (void)kind;
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcmp(key, names[i]))
            break;
    if (i == sizeof(names) / sizeof(names[0]) || (i == 4 || i >= 8) != p->stream || (i != 4 && i < 8 && !p->get)) {
        snprintf(p->err, sizeof(p->err), "query parameter \"%.60s\" is not supported here", key);
        return MHD_NO;
    }
    bit = 1u << i;
    if (p->seen & bit) {
        snprintf(p->err, sizeof(p->err), "query parameter \"%s\" given twice", key);
        return MHD_NO;
    }
    p->seen |= bit;
    if (!raw || rest_pct_decode(raw, strlen(raw), &v)) {
        snprintf(p->err, sizeof(p->err), "query parameter \"%s\": bad or missing value", key);
        return MHD_NO;
    }
    switch (i) {
    case 0: {
        char *end;
        unsigned long d = strtoul(v, &end, 10);

        if (!strcmp(v, "unbounded"))
            p->q->depth = 0;
        else if (*v && !*end && d >= 1 && d <= 65535)
            p->q->depth = (unsigned int)d;
        else
            snprintf(p->err, sizeof(p->err), "depth must be 1..65535 or \"unbounded\", not \"%.40s\"", v);
        break;
    }
    case 1:
        p->q->fields = v;
        v = NULL;
        break;
    case 2:
        if (!strcmp(v, "all"))
            p->q->content = REST_CONTENT_ALL;
        else if (!strcmp(v, "config"))
            p->q->content = REST_CONTENT_CONFIG;
        else if (!strcmp(v, "nonconfig"))
            p->q->content = REST_CONTENT_NONCONFIG;
        else
            snprintf(p->err, sizeof(p->err), "content must be config, nonconfig or all, not \"%.40s\"", v);
        break;
    case 3:
        if (!strcmp(v, "explicit"))
            p->q->wd = REST_WD_EXPLICIT;
        else if (!strcmp(v, "trim"))
            p->q->wd = REST_WD_TRIM;
        else if (!strcmp(v, "report-all"))
            p->q->wd = REST_WD_ALL;
        else if (!strcmp(v, "report-all-tagged"))
            p->q->wd = REST_WD_ALL_TAGGED;
        else
            snprintf(p->err, sizeof(p->err),
                     "with-defaults must be report-all, report-all-tagged, trim or explicit, not \"%.40s\"", v);
        break;
    case 4: {
        char *end;
        unsigned long d = strtoul(v, &end, 10);

        if (*v && !*end && d >= 1 && d <= 60)
            p->q->interval = (unsigned int)d;
        else
            snprintf(p->err, sizeof(p->err), "interval must be 1..60 seconds, not \"%.40s\"", v);
        break;
    }
    case 8:
    case 9:
        rest_replay_param(&p->q->replay, key, v, p->err, sizeof(p->err));
        break;
    default:
        rest_page_param(&p->q->page, key, v, p->err, sizeof(p->err));
        break;
    }
    free(v);
    return p->err[0] ? MHD_NO : MHD_YES;
}

/* ---- routing ---- */

static bool prefix(const char *url, const char *p, const char **rest)
{
    size_t n = strlen(p);

    if (strncmp(url, p, n) || (url[n] && url[n] != '/'))
        return false;
    *rest = url[n] ? url + n + 1 : url + n;
    return true;
}

static const char *mime_of(const char *path)
{
    static const char *const map[][2] = {{".html", "text/html; charset=utf-8"},
                                         {".js", "text/javascript; charset=utf-8"},
                                         {".css", "text/css; charset=utf-8"},
                                         {".svg", "image/svg+xml"},
                                         {".png", "image/png"},
                                         {".ico", "image/x-icon"},
                                         {".json", "application/json"}};
    const char *dot = strrchr(path, '.');

    for (size_t i = 0; dot && i < sizeof(map) / sizeof(map[0]); i++)
        if (!strcmp(dot, map[i][0]))
            return map[i][1];
    return "application/octet-stream";
}

static enum MHD_Result serve_static(struct rest_api *api, struct MHD_Connection *conn, const char *rel)
{
    struct MHD_Response *resp;
    struct stat st;
    char *path = NULL;
    enum MHD_Result ret;
    int fd;

    if (!*rel)
        rel = "index.html";
    for (const char *c = rel; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              strchr("._-/", *c)))
            return send_err(conn, REST_JSON, 404, CFG_ERR_INVALID_VALUE, NULL, "no such file");
    if (strstr(rel, "..") || rel[0] == '/' || !api->web_dir)
        return send_err(conn, REST_JSON, 404, CFG_ERR_INVALID_VALUE, NULL, "no such file");
    if (asprintf(&path, "%s/%s", api->web_dir, rel) < 0)
        return MHD_NO;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return send_err(conn, REST_JSON, 404, CFG_ERR_INVALID_VALUE, NULL, "no such file");
    }
    resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    if (!resp) {
        close(fd);
        return MHD_NO;
    }
    add_common_headers(resp);
    add_ui_headers(resp);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, mime_of(rel));
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    ret = MHD_queue_response(conn, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result redirect(struct MHD_Connection *conn, const char *to)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret;

    if (!resp)
        return MHD_NO;
    add_common_headers(resp);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, to);
    ret = MHD_queue_response(conn, 302, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result host_meta(struct MHD_Connection *conn)
{
    static const char xrd[] = "<XRD xmlns=\"http://docs.oasis-open.org/ns/xri/xrd-1.0\">\n"
                              "  <Link rel=\"restconf\" href=\"/restconf\"/>\n"
                              "</XRD>\n";
    struct MHD_Response *resp = MHD_create_response_from_buffer(sizeof(xrd) - 1, (void *)xrd, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret;

    if (!resp)
        return MHD_NO;
    add_common_headers(resp);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/xrd+xml");
    ret = MHD_queue_response(conn, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void client_addr(struct MHD_Connection *conn, char *buf, size_t n)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;

    snprintf(buf, n, "?");
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)n);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, (socklen_t)n);
}

/* 429 for an address blocked after too many failed logins. */
static enum MHD_Result too_many(struct MHD_Connection *conn, enum rest_fmt fmt, const char *addr, unsigned int left)
{
    struct MHD_Response *resp;
    struct rest_reply rep = {0};
    enum MHD_Result ret;
    char ra[16];

    rest_reply_err(&rep, fmt, 429, CFG_ERR_RESOURCE_DENIED, NULL,
                   "too many failed logins from %s: refused for %u more seconds", addr, left);
    resp = MHD_create_response_from_buffer(rep.len, rep.body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(rep.body);
        return MHD_NO;
    }
    add_common_headers(resp);
    snprintf(ra, sizeof(ra), "%u", left ? left : 1);
    MHD_add_response_header(resp, "Retry-After", ra);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, rep.ctype);
    ret = MHD_queue_response(conn, 429, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* POST /auth/token (Basic or a JSON body) and DELETE /auth/token. */
static enum MHD_Result token_endpoint(struct rest_api *api, struct MHD_Connection *conn, const char *method,
                                      struct conn_req *cr)
{
    struct rest_reply rep = {0};
    struct rest_who who;
    char token[65], *cookie = NULL, addr[48];
    unsigned int left = 0;
    time_t now;
    json_t *o;
    int rc;

    client_addr(conn, addr, sizeof(addr));
    if (!strcmp(method, "DELETE")) {
        rc = rest_auth_check(api->auth, conn, false, addr, &who, &left);
        if (rc == -ESHUTDOWN)
            return send_err(conn, REST_JSON, 503, CFG_ERR_OPERATION_FAILED, NULL, "the daemon is not reachable");
        if (rc || !who.token[0]) {
            rest_reply_err(&rep, REST_JSON, 401, CFG_ERR_ACCESS_DENIED, NULL,
                           "DELETE /auth/token needs the bearer token to revoke");
            rep.challenge = BEARER_CHALLENGE;
            return send_reply(conn, &rep, NULL);
        }
        rest_auth_token_revoke(api->auth, who.token);
        rest_events_token_revoked(api->ev, who.token);
        OPENSSL_cleanse(who.token, sizeof(who.token));
        rep.status = 204;
        return send_reply(conn, &rep, "raven_token=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict");
    }
    if (strcmp(method, "POST"))
        return send_err(conn, REST_JSON, 405, CFG_ERR_OPERATION_NOT_SUPPORTED, "POST, DELETE",
                        "/auth/token takes POST (get a token) or DELETE (revoke it)");
    if (cr->len) {
        json_error_t jerr;
        json_t *root = json_loadb(cr->body, cr->len, 0, &jerr);
        const char *u = NULL, *p = NULL;

        if (!root || json_unpack(root, "{s:s, s:s}", "username", &u, "password", &p)) {
            json_decref(root);
            return send_err(conn, REST_JSON, 400, CFG_ERR_MALFORMED_MESSAGE, NULL,
                            "the body must be {\"username\": \"...\", \"password\": \"...\"}");
        }
        rc = rest_auth_password(api->auth, u, p, addr, &who, &left);
        json_decref(root);
    } else {
        rc = rest_auth_check(api->auth, conn, false, addr, &who, &left);
    }
    if (rc == -EAGAIN)
        return too_many(conn, REST_JSON, addr, left);
    if (rc == -ESHUTDOWN)
        return send_err(conn, REST_JSON, 503, CFG_ERR_OPERATION_FAILED, NULL, "the daemon is not reachable");
    if (rc) {
        log_info("rest", "token refused: bad credentials from %s", addr);
        rest_reply_err(&rep, REST_JSON, 401, CFG_ERR_ACCESS_DENIED, NULL, "wrong user name or password");
        if (cr->len)
            rep.challenge = BEARER_CHALLENGE; /* a form's login, not Basic */
        return send_reply(conn, &rep, NULL);
    }
    if (rest_auth_token_new(api->auth, &who, token))
        return send_err(conn, REST_JSON, 500, CFG_ERR_OPERATION_FAILED, NULL, "cannot issue a token");
    now = time(NULL);
    o = json_pack("{s:s, s:I, s:s, s:s}", "token", token, "expires-in",
                  (json_int_t)(who.expires > now ? who.expires - now : 0), "role",
                  who.role == REST_ROLE_ADMIN ? "admin" : "read-only", "username", who.user);
    rep.body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    rep.len = rep.body ? strlen(rep.body) : 0;
    rep.ctype = "application/json";
    rep.status = 200;
    if (asprintf(&cookie, "raven_token=%s; Path=/; Max-Age=%lld; Secure; HttpOnly; SameSite=Strict", token,
                 (long long)(who.expires > now ? who.expires - now : 0)) < 0)
        cookie = NULL;
    OPENSSL_cleanse(token, sizeof(token));
    enum MHD_Result ret = send_reply(conn, &rep, cookie);
    if (cookie)
        OPENSSL_cleanse(cookie, strlen(cookie));
    free(cookie);
    return ret;
}

static bool is_write(const char *m)
{
    return !strcmp(m, "PUT") || !strcmp(m, "POST") || !strcmp(m, "PATCH") || !strcmp(m, "DELETE");
}

/* GET of running and state: from the cache, or from ravend and then into the
 * cache. Configuration stays cached until running changes; replies
 * with state for REST_STATE_CACHE_MS, or until a session event, an operation or a
 * change of running. The candidate and startup are never cached. */
static enum MHD_Result cached_read(struct rest_api *api, struct MHD_Connection *conn, struct rest_req *r)
{
    uint64_t epoch = atomic_load(&api->epoch);
    char *key = r->query.page.paged ? NULL : rest_cache_key(r); /* a page's headers are not cached */
    enum MHD_Result ret;

    if (key && rest_cache_get(api, key, epoch, &r->rep, r->out_fmt)) {
        free(key);
        free(r->query.fields);
        if ((r->if_none_match && strstr(r->if_none_match, r->rep.etag)) ||
            (!r->if_none_match && r->if_modified_since && r->rep.last_modified <= r->if_modified_since)) {
            free(r->rep.body);
            r->rep.body = NULL;
            r->rep.len = 0;
            r->rep.status = 304;
        }
        return send_reply(conn, &r->rep, NULL);
    }
    rest_data_run(r);
    rest_data_print(r);
    if (key && r->rep.status == 200 && r->rep.body && r->dsel != REST_DS_CANDIDATE && r->dsel != REST_DS_STARTUP)
        rest_cache_put(api, key, epoch, &r->rep);
    else
        free(key);
    ret = send_reply(conn, &r->rep, NULL);
    free(r->query.fields);
    return ret;
}

/* Runs @fn for @r here (it blocks on ravend's answers) and sends the reply. */
static enum MHD_Result run(struct rest_api *api, struct MHD_Connection *conn, void (*fn)(struct rest_req *),
                           struct rest_req *r)
{
    (void)api;
    fn(r);
    rest_data_print(r);
    if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD"))
        log_info("rest", "%s %s by %s: %u", r->method, r->url, r->who.user, r->rep.status); /* audit trail */
    enum MHD_Result ret = send_reply(conn, &r->rep, NULL);
    free(r->query.fields);
    return ret;
}

/* The resources served without authentication: host-meta, the dashboard's files,
 * the token endpoint. True, with the reply's result in *ret, when @url is one. */
static bool serve_public(struct rest_api *api, struct MHD_Connection *conn, const char *url, const char *method,
                         struct conn_req *cr, enum MHD_Result *ret)
{
    const char *rest = NULL;

    if (!strcmp(url, "/.well-known/host-meta"))
        *ret = !strcmp(method, "GET") || !strcmp(method, "HEAD")
                   ? host_meta(conn)
                   : send_err(conn, REST_JSON, 405, CFG_ERR_OPERATION_NOT_SUPPORTED, "GET, HEAD", "read-only resource");
    else if (!strcmp(url, "/") || !strcmp(url, "/ui"))
        *ret = redirect(conn, "/ui/");
    else if (prefix(url, "/ui", &rest))
        *ret = !strcmp(method, "GET") || !strcmp(method, "HEAD")
                   ? serve_static(api, conn, rest)
                   : send_err(conn, REST_JSON, 405, CFG_ERR_OPERATION_NOT_SUPPORTED, "GET, HEAD", "read-only resource");
    else if (!strcmp(url, "/auth/token"))
        *ret = token_endpoint(api, conn, method, cr);
    else
        return false;
    return true;
}

/* The reply format the client accepts, its credentials (the cookie only for
 * reads; an address guessing passwords is refused for a while) and the size of
 * its body. False, with the refusal sent (*ret), when one fails. */
static bool admit(struct rest_api *api, struct MHD_Connection *conn, const char *url, const char *method,
                  struct conn_req *cr, struct rest_req *r, enum MHD_Result *ret)
{
    const char *rest = NULL;
    char addr[48];
    unsigned int left = 0;
    int rc;

    if (accept_fmt(conn, &r->out_fmt) && strcmp(url, "/metrics") && !prefix(url, "/restconf/streams", &rest) &&
        !prefix(url, "/restconf/yang", &rest)) {
        *ret = send_err(conn, REST_JSON, 406, CFG_ERR_INVALID_VALUE, NULL,
                        "Accept must allow application/yang-data+json or application/yang-data+xml");
        return false;
    }
    client_addr(conn, addr, sizeof(addr));
    rc = rest_auth_check(api->auth, conn, !strcmp(method, "GET") || !strcmp(method, "HEAD"), addr, &r->who, &left);
    if (rc == -EAGAIN) {
        *ret = too_many(conn, r->out_fmt, addr, left);
        return false;
    }
    if (rc == -ESHUTDOWN) {
        *ret = send_err(conn, r->out_fmt, 503, CFG_ERR_OPERATION_FAILED, NULL, "the daemon is not reachable");
        return false;
    }
    if (rc) {
        struct rest_reply rep = {0};

        const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);

        rest_reply_err(&rep, r->out_fmt, 401, CFG_ERR_ACCESS_DENIED, NULL,
                       rc == -ENOENT ? "authentication required (HTTP Basic or a bearer token)"
                                     : "wrong user name, password or token");
        if ((h && strncasecmp(h, "Basic ", 6)) ||
            (!h && MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, "raven_token")))
            rep.challenge = BEARER_CHALLENGE;
        *ret = send_reply(conn, &rep, NULL);
        return false;
    }
    if (cr->too_big) {
        *ret = send_err(conn, r->out_fmt, 413, CFG_ERR_TOO_BIG, NULL, "the request body exceeds 4 MiB");
        return false;
    }
    return true;
}

/* The RESTCONF resources a request may go on to (after its query and headers). */
enum rest_res { RES_STREAM, RES_DATA, RES_OPS };

/* The datastore a /restconf/ds/NAME/... names: its base URI and selector; *sub
 * is what follows. False when there is no such datastore. */
static bool datastore_of(const char *rest, struct rest_req *r, const char **sub)
{
    static const struct {
        const char *name, *uri;
        enum rest_dsel d;
    } dss[] = {{"ietf-datastores:running", "/restconf/ds/ietf-datastores:running", REST_DS_RUNNING},
               {"ietf-datastores:candidate", "/restconf/ds/ietf-datastores:candidate", REST_DS_CANDIDATE},
               {"ietf-datastores:startup", "/restconf/ds/ietf-datastores:startup", REST_DS_STARTUP},
               {"ietf-datastores:operational", "/restconf/ds/ietf-datastores:operational", REST_DS_OPERATIONAL}};

    for (size_t i = 0; i < sizeof(dss) / sizeof(dss[0]); i++) {
        if (prefix(rest, dss[i].name, sub)) {
            r->base_uri = dss[i].uri;
            r->dsel = dss[i].d;
            return true;
        }
    }
    return false;
}

/* Which resource @url is. The simple ones (/metrics, /restconf/yang, the API
 * root) are served here and unknown ones refused: false, with *ret. Otherwise
 * *res, and *rest is the URL below the resource's root. */
static bool locate(struct rest_api *api, struct MHD_Connection *conn, const char *url, const char *method,
                   struct rest_req *r, const char **rest, enum rest_res *res, enum MHD_Result *ret)
{
    const char *sub;

    if (!strcmp(url, "/metrics")) {
        if (strcmp(method, "GET") && strcmp(method, "HEAD"))
            *ret = send_err(conn, REST_JSON, 405, CFG_ERR_OPERATION_NOT_SUPPORTED, "GET, HEAD", "read-only resource");
        else
            *ret = run(api, conn, rest_metrics_run, r);
        return false;
    }
    if (prefix(url, "/restconf/yang", rest)) {
        if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
            *ret = send_err(conn, r->out_fmt, 405, CFG_ERR_OPERATION_NOT_SUPPORTED, "GET, HEAD", "read-only resource");
        } else {
            r->rel = *rest;
            *ret = run(api, conn, rest_schema_run, r);
        }
        return false;
    }
    if (prefix(url, "/restconf/streams", rest)) {
        *res = RES_STREAM;
    } else if (prefix(url, "/restconf/data", rest)) {
        *res = RES_DATA;
        r->base_uri = "/restconf/data";
        r->dsel = REST_DS_UNIFIED;
    } else if (prefix(url, "/restconf/ds", rest)) {
        if (!datastore_of(*rest, r, &sub)) {
            *ret = send_err(conn, r->out_fmt, 404, CFG_ERR_INVALID_VALUE, NULL,
                            "no such datastore; use ietf-datastores:running, candidate, startup or operational");
            return false;
        }
        *res = RES_DATA;
        *rest = sub;
    } else if (prefix(url, "/restconf/operations", rest)) {
        *res = RES_OPS;
    } else if (!strcmp(url, "/restconf") || !strcmp(url, "/restconf/") || !strcmp(url, "/restconf/yang-library-version")) {
        if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
            *ret = send_err(conn, r->out_fmt, 405, CFG_ERR_OPERATION_NOT_SUPPORTED, "GET, HEAD",
                            "read-only resource");
        } else {
            r->rel = url;
            rest_root_reply(r);
            *ret = send_reply(conn, &r->rep, NULL);
        }
        return false;
    } else {
        *ret = send_err(conn, r->out_fmt, 404, CFG_ERR_INVALID_VALUE, NULL, "no such resource");
        return false;
    }
    return true;
}

/* GET /restconf/streams/NAME/{json,xml}. */
static enum MHD_Result serve_stream(struct rest_api *api, struct MHD_Connection *conn, const char *method,
                                    const char *rest, struct rest_req *r)
{
    const char *slash = strchr(rest, '/');
    char name[64];
    enum rest_fmt f;

    if (strcmp(method, "GET")) {
        free(r->query.fields);
        return send_err(conn, r->out_fmt, 405, CFG_ERR_OPERATION_NOT_SUPPORTED, "GET", "event streams take GET");
    }
    if (!slash || (size_t)(slash - rest) >= sizeof(name) || (strcmp(slash, "/json") && strcmp(slash, "/xml")))
        return send_err(conn, r->out_fmt, 404, CFG_ERR_INVALID_VALUE, NULL,
                        "streams are /restconf/streams/NAME/json or /restconf/streams/NAME/xml");
    memcpy(name, rest, (size_t)(slash - rest));
    name[slash - rest] = '\0';
    f = !strcmp(slash, "/xml") ? REST_XML : REST_JSON;
    return rest_events_serve(api, conn, name, f, r);
}

/* The request's body, its format, and its conditional headers into @r. False,
 * with the refusal sent (*ret), when the body's Content-Type is not one of ours. */
static bool read_request(struct MHD_Connection *conn, const char *rest, struct conn_req *cr, struct rest_req *r,
                         enum MHD_Result *ret)
{
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);

    r->rel = rest;
    r->body = cr->body;
    r->body_len = cr->len;
    r->yang_patch = ct && !strncasecmp(ct, "application/yang-patch+", 23);
    if (cr->len && content_fmt(conn, &r->in_fmt)) {
        struct rest_reply rep = {0};

        free(r->query.fields);
        rest_reply_err(&rep, r->out_fmt, 415, CFG_ERR_INVALID_VALUE, NULL,
                       "Content-Type must be application/yang-data+json or application/yang-data+xml");
        *ret = send_reply(conn, &rep, NULL);
        return false;
    }
    r->if_match = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_MATCH);
    r->if_none_match = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    r->if_modified_since =
        parse_http_date(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_MODIFIED_SINCE));
    r->if_unmodified_since =
        parse_http_date(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_UNMODIFIED_SINCE));
    return true;
}

/* An event stream, data resource or operation, once located: its query, method
 * and role, then the request itself. */
static enum MHD_Result serve_restconf(struct rest_api *api, struct MHD_Connection *conn, const char *method,
                                      struct conn_req *cr, struct rest_req *r, const char *rest, enum rest_res res)
{
    bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    struct qparse qp = {.q = &r->query, .stream = res == RES_STREAM, .get = res == RES_DATA && get};
    enum MHD_Result ret;

    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, query_iter, &qp);
    if (qp.err[0]) {
        free(r->query.fields);
        return send_err(conn, r->out_fmt, 400, CFG_ERR_INVALID_VALUE, NULL, qp.err);
    }
    if (res == RES_STREAM)
        return serve_stream(api, conn, method, rest, r);
    if (!strcmp(method, "OPTIONS")) {
        r->rep.status = 200;
        r->rep.allow = res == RES_OPS ? "OPTIONS, POST" : "OPTIONS, GET, HEAD, POST, PUT, PATCH, DELETE";
        return send_reply(conn, &r->rep, NULL);
    }
    if (!read_request(conn, rest, cr, r, &ret))
        return ret;
    if (res == RES_DATA && get &&
        (!strcmp(rest, "ietf-restconf-monitoring:restconf-state") ||
         !strcmp(rest, "ietf-restconf-monitoring:restconf-state/streams"))) {
        free(r->query.fields);
        r->rep.body = rest_events_streams_doc(api, r->out_fmt);
        r->rep.len = r->rep.body ? strlen(r->rep.body) : 0;
        r->rep.ctype = rest_ctype(r->out_fmt);
        r->rep.status = r->rep.body ? 200 : 500;
        return send_reply(conn, &r->rep, NULL);
    }
    if (res == RES_OPS) {
        if (strcmp(method, "POST") && !get) {
            free(r->query.fields);
            return send_err(conn, r->out_fmt, 405, CFG_ERR_OPERATION_NOT_SUPPORTED, "OPTIONS, GET, HEAD, POST",
                            "operations are called with POST");
        }
        return run(api, conn, rest_ops_run, r);
    }
    if (!get && !is_write(method)) {
        free(r->query.fields);
        return send_err(conn, r->out_fmt, 405, CFG_ERR_OPERATION_NOT_SUPPORTED,
                        "OPTIONS, GET, HEAD, POST, PUT, PATCH, DELETE", "method not allowed on a data resource");
    }
    if (get)
        return cached_read(api, conn, r);
    return run(api, conn, rest_data_run, r);
}

static enum MHD_Result dispatch(struct rest_api *api, struct MHD_Connection *conn, const char *url, const char *method,
                                struct conn_req *cr)
{
    struct rest_req r = {.api = api, .conn = conn, .method = method, .url = url};
    const char *rest = NULL;
    enum rest_res res;
    enum MHD_Result ret;

    atomic_fetch_add(&api->nreq, 1);
    if (serve_public(api, conn, url, method, cr, &ret))
        return ret;
    if (!admit(api, conn, url, method, cr, &r, &ret) || !locate(api, conn, url, method, &r, &rest, &res, &ret))
        return ret;
    return serve_restconf(api, conn, method, cr, &r, rest, res);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    struct rest_srv *srv = cls;
    struct rest_api *api = srv->api;
    struct conn_req *cr = *con_cls;

    (void)version;
    if (!cr) {
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

        cr = calloc(1, sizeof(*cr));
        if (!cr)
            return MHD_NO;
        *con_cls = cr;
        if (cl && strtoull(cl, NULL, 10) > REST_BODY_MAX) {
            cr->answered = true;
            return send_err(conn, REST_JSON, 413, CFG_ERR_TOO_BIG, NULL, "the request body exceeds 4 MiB");
        }
        return MHD_YES;
    }
    if (cr->answered) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!cr->too_big && cr->len + *upload_size <= REST_BODY_MAX) {
            char *b = realloc(cr->body, cr->len + *upload_size + 1);

            if (!b)
                return MHD_NO;
            memcpy(b + cr->len, upload, *upload_size);
            cr->body = b;
            cr->len += *upload_size;
            b[cr->len] = '\0';
        } else {
            cr->too_big = true;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    cr->answered = true;
    return dispatch(api, conn, url, method, cr);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    struct conn_req *cr = *con_cls;

    (void)cls;
    (void)conn;
    (void)toe;
    if (cr) {
        free(cr->body);
        free(cr);
        *con_cls = NULL;
    }
}

/* RFC 8040 keys are percent-encoded in the path: keep the URL raw and decode each
 * part ourselves. */
static size_t no_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    return strlen(s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char buf[512];

    (void)cls;
    vsnprintf(buf, sizeof(buf), fmt, ap);
    buf[strcspn(buf, "\n")] = '\0';
    log_debug("rest", "%s", buf);
}

/* The HTTPS daemon of endpoint @s on the listening socket @fd (its thread pool,
 * limits, TLS 1.2/1.3 with @cert and @key, this file's request handlers); NULL if it
 * cannot serve. */
struct MHD_Daemon *rest_server_listen(struct rest_srv *s, int fd, const char *cert, const char *key)
{
    struct rest_api *api = s->api;

    return MHD_start_daemon(
        MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC |
            MHD_USE_ERROR_LOG,
        0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, api, MHD_OPTION_LISTEN_SOCKET,
        (MHD_socket)fd, MHD_OPTION_HTTPS_MEM_CERT, cert,
        MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_HTTPS_PRIORITIES, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2",
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)THREADS_PER_ENDPOINT, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)REST_CONN_MAX, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)REST_CONN_PER_IP,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)REST_IDLE_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)(64 * 1024), MHD_OPTION_NOTIFY_COMPLETED, on_completed, api, MHD_OPTION_UNESCAPE_CALLBACK,
        no_unescape, api, MHD_OPTION_END);
}
