/* The front ends' client of ravend's management socket: see mc.h and api/README.md.
 * Requests may be in flight from several threads at once; one mutex serialises
 * sending, and the reader thread hands each reply to the request with its id. */
#include <errno.h>
#include <stddef.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "api/mgmt/mc.h"
#include "api/mgmt/mc_int.h"
#include "daemon/base/log.h"
#include "daemon/base/mwire.h"
#include "daemon/base/poison.h"

struct pending {
    uint64_t id;
    bool done;
    json_t *rep;
    char *buf; /* the frame: header then data */
    char *data;
    size_t dlen;
    struct pending *next;
};

struct mc {
    int fd;
    struct ly_ctx *ctx;
    struct mc_hooks hooks;
    pthread_t reader;
    bool reader_started;
    pthread_mutex_t send_lock;
    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t cond;
    uint64_t next_id;
    struct pending *pending;
    bool dead;
    uint64_t gen;
    time_t mtime;
    pthread_mutex_t interest_lock; /* held over an interest request */
    unsigned int interest;         /* as ravend was last told */
};

static const char *const ds_names[CFG_DS_COUNT] = {"running", "candidate", "startup"};

void mc_listen_clear(struct mc_listen *l)
{
    for (size_t i = 0; i < l->neps; i++) {
        free(l->eps[i].name);
        free(l->eps[i].address);
        if (l->eps[i].fd >= 0)
            close(l->eps[i].fd);
    }
    free(l->eps);
    free(l->hostkey_pem);
    free(l->cert_pem);
    free(l->key_pem);
    memset(l, 0, sizeof(*l));
}

static int send_json(struct mc *mc, json_t *hdr, const char *data, size_t dlen)
{
    char *h = json_dumps(hdr, JSON_COMPACT);
    int rc;

    if (!h)
        return -ENOMEM;
    pthread_mutex_lock(&mc->send_lock);
    rc = mwire_send(mc->fd, h, strlen(h), data, dlen, NULL, 0);
    pthread_mutex_unlock(&mc->send_lock);
    free(h);
    return rc;
}

static char *jstrdup(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));

    return s ? strdup(s) : NULL;
}

static void ev_listen(struct mc *mc, json_t *ev, int *fds, int nfds)
{
    struct mc_listen l = {0};
    json_t *eps = json_object_get(ev, "endpoints");
    size_t n = json_array_size(eps);

    l.enabled = json_is_true(json_object_get(ev, "enabled"));
    l.hostkey_pem = jstrdup(ev, "hostkey");
    l.cert_pem = jstrdup(ev, "certificate");
    l.key_pem = jstrdup(ev, "private-key");
    l.eps = calloc(n ? n : 1, sizeof(*l.eps));
    for (size_t i = 0; l.eps && i < n; i++) {
        json_t *e = json_array_get(eps, i);

        l.eps[i].name = jstrdup(e, "name");
        l.eps[i].address = jstrdup(e, "address");
        l.eps[i].port = (uint16_t)json_integer_value(json_object_get(e, "port"));
        l.eps[i].fd = i < (size_t)nfds ? fds[i] : -1;
        if (i < (size_t)nfds)
            fds[i] = -1;
        l.neps++;
    }
    if (l.neps != (size_t)nfds)
        log_err("mgmt", "listen event with %zu endpoints and %d sockets", l.neps, nfds);
    if (mc->hooks.listen)
        mc->hooks.listen(&l, mc->hooks.arg);
    mc_listen_clear(&l);
}

/* The users a notification must not reach (NACM); NULL (nobody: mc_deny_has) when ravend sent no list. */
static char **mc_deny_from(json_t *a)
{
    size_t n = json_array_size(a), k = 0;
    char **v = json_is_array(a) ? calloc(n + 1, sizeof(*v)) : NULL;

    for (size_t i = 0; v && i < n; i++) {
        const char *u = json_string_value(json_array_get(a, i));

        if (u && (v[k] = strdup(u)))
            k++;
    }
    return v;
}

bool mc_deny_has(char *const *deny, const char *user)
{
    /* without a list (none sent, out of memory) nobody gets it */
    if (!deny)
        return true;
    for (; *deny; deny++) {
        if (user && !strcmp(*deny, user))
            return true;
    }
    return false;
}

void mc_deny_free(char **deny)
{
    for (char **d = deny; d && *d; d++)
        free(*d);
    free(deny);
}

static void ev_notification(struct mc *mc, json_t *ev, const char *data, size_t dlen)
{
    struct lyd_node *tree = NULL, *op = NULL;
    struct ly_in *in = NULL;

    if (!data || ly_in_new_memory(data, &in))
        return;
    if (lyd_parse_op(mc->ctx, NULL, in, LYD_XML, LYD_TYPE_NOTIF_YANG, &tree, &op) || !tree) {
        log_err("mgmt", "cannot parse a notification from ravend");
        lyd_free_all(tree);
    } else if (mc->hooks.notification) {
        mc->hooks.notification(tree, json_string_value(json_object_get(ev, "time")),
                               (uint64_t)json_integer_value(json_object_get(ev, "id")),
                               (uint32_t)json_integer_value(json_object_get(ev, "replay")),
                               mc_deny_from(json_object_get(ev, "deny")), mc->hooks.arg);
    } else {
        lyd_free_all(tree);
    }
    ly_in_free(in, 0);
}

static void on_event(struct mc *mc, json_t *ev, const char *name, char *data, size_t dlen, int *fds, int nfds)
{
    if (!strcmp(name, "ping")) {
        json_t *pong = json_pack("{s:s, s:O?}", "ev", "pong", "seq", json_object_get(ev, "seq"));

        if (pong)
            send_json(mc, pong, NULL, 0);
        json_decref(pong);
    } else if (!strcmp(name, "listen")) {
        ev_listen(mc, ev, fds, nfds);
    } else if (!strcmp(name, "changed")) {
        uint64_t gen = (uint64_t)json_integer_value(json_object_get(ev, "gen"));
        time_t mtime = (time_t)json_integer_value(json_object_get(ev, "mtime"));
        bool config = json_is_true(json_object_get(ev, "config"));

        pthread_mutex_lock(&mc->lock);
        mc->gen = gen;
        mc->mtime = mtime;
        pthread_mutex_unlock(&mc->lock);
        if (mc->hooks.changed)
            mc->hooks.changed(gen, mtime, config, mc->hooks.arg);
    } else if (!strcmp(name, "users")) {
        if (mc->hooks.users)
            mc->hooks.users(mc->hooks.arg);
    } else if (!strcmp(name, "notification")) {
        ev_notification(mc, ev, data, dlen);
    } else if (!strcmp(name, "replay-end")) {
        if (mc->hooks.replay_end)
            mc->hooks.replay_end((uint32_t)json_integer_value(json_object_get(ev, "replay")),
                                 (uint64_t)json_integer_value(json_object_get(ev, "last-id")), mc->hooks.arg);
    } else {
        log_debug("mgmt", "event \"%s\" ignored", name);
    }
}

/* Hands a reply to its request; takes @rep and @buf. */
static void on_reply(struct mc *mc, json_t *rep, char *buf, char *data, size_t dlen)
{
    uint64_t id = (uint64_t)json_integer_value(json_object_get(rep, "id"));

    pthread_mutex_lock(&mc->lock);
    for (struct pending *p = mc->pending; p; p = p->next) {
        if (p->id == id && !p->done) {
            p->done = true;
            p->rep = rep;
            p->buf = buf;
            p->data = data;
            p->dlen = dlen;
            pthread_cond_broadcast(&mc->cond);
            pthread_mutex_unlock(&mc->lock);
            return;
        }
    }
    pthread_mutex_unlock(&mc->lock);
    log_warn("mgmt", "reply %llu matches no request", (unsigned long long)id);
    json_decref(rep);
    free(buf);
}

static void *reader_main(void *arg)
{
    struct mc *mc = arg;
    struct mwire_rx rx;

    mwire_rx_init(&rx);
    for (;;) {
        char *hdr, *data;
        size_t hlen, dlen;
        int fds[MWIRE_MAX_FDS], nfds = 0, rc = mwire_rx_read(&rx, mc->fd);
        json_t *j;
        const char *ev;

        if (rc <= 0) {
            if (rc != -EPIPE)
                log_err("mgmt", "connection to ravend failed: %s", strerror(rc ? -rc : EPROTO));
            break;
        }
        mwire_rx_take(&rx, &hdr, &hlen, &data, &dlen, fds, &nfds);
        j = json_loadb(hdr, hlen, JSON_REJECT_DUPLICATES, NULL);
        ev = json_string_value(json_object_get(j, "ev"));
        if (!json_is_object(j)) {
            log_err("mgmt", "ravend sent a frame that is not a JSON object");
            free(hdr);
        } else if (json_object_get(j, "error")) {
            log_err("mgmt", "ravend closes the connection: %s", json_string_value(json_object_get(j, "error")));
            free(hdr);
        } else if (ev) {
            on_event(mc, j, ev, data, dlen, fds, nfds);
            free(hdr);
        } else {
            on_reply(mc, j, hdr, data, dlen);
            j = NULL;
        }
        json_decref(j);
        for (int i = 0; i < nfds; i++) {
            if (fds[i] >= 0)
                close(fds[i]);
        }
    }
    mwire_rx_clear(&rx);
    pthread_mutex_lock(&mc->lock);
    mc->dead = true;
    pthread_cond_broadcast(&mc->cond);
    pthread_mutex_unlock(&mc->lock);
    if (mc->hooks.lost)
        mc->hooks.lost(mc->hooks.arg);
    return NULL;
}

static void errs_from_json(struct cfg_errs *errs, const json_t *arr)
{
    size_t i;
    json_t *e;

    json_array_foreach(arr, i, e) {
        int tag = cfg_err_tag_parse(json_string_value(json_object_get(e, "tag")));
        int type = cfg_err_type_parse(json_string_value(json_object_get(e, "type")));
        const char *msg = json_string_value(json_object_get(e, "message"));
        struct cfg_err *ce;

        ce = cfg_err_add(errs, tag < 0 ? CFG_ERR_OPERATION_FAILED : (enum cfg_err_tag)tag,
                         type < 0 ? CFG_ERRT_APPLICATION : (enum cfg_err_type)type,
                         json_string_value(json_object_get(e, "path")), "%s", msg ? msg : "");
        if (!ce)
            return;
        ce->app_tag = jstrdup(e, "app-tag");
        ce->bad_element = jstrdup(e, "bad-element");
        ce->bad_attribute = jstrdup(e, "bad-attribute");
        ce->bad_namespace = jstrdup(e, "bad-namespace");
        ce->lock_sid = (unsigned int)json_integer_value(json_object_get(e, "session-id"));
    }
}

/* Sends @req (its reference is taken) with @data and waits for the reply: *rep
 * (may be NULL) gets the reply's header; *rbuf the buffer to free and *rdata the
 * data in it. Returns the reply's rc, with @errs filled from its errors. */
static int call(struct mc *mc, json_t *req, const char *data, size_t dlen, json_t **rep, char **rbuf, char **rdata,
                size_t *rdlen, struct cfg_errs *errs)
{
    struct pending p = {0};
    int rc;

    if (!req) {
        if (errs)
            cfg_err_add(errs, CFG_ERR_RESOURCE_DENIED, CFG_ERRT_APPLICATION, NULL, "out of memory");
        return -ENOMEM;
    }
    pthread_mutex_lock(&mc->lock);
    p.id = ++mc->next_id;
    if (!mc->dead) {
        p.next = mc->pending;
        mc->pending = &p;
    }
    rc = mc->dead ? -ESHUTDOWN : 0;
    pthread_mutex_unlock(&mc->lock);
    if (!rc) {
        json_object_set_new(req, "id", json_integer((json_int_t)p.id));
        rc = send_json(mc, req, data, dlen);
        if (rc)
            log_err("mgmt", "cannot send to ravend: %s", strerror(-rc));
    }
    json_decref(req);
    pthread_mutex_lock(&mc->lock);
    while (!rc && !p.done && !mc->dead)
        pthread_cond_wait(&mc->cond, &mc->lock);
    for (struct pending **pp = &mc->pending; *pp; pp = &(*pp)->next) {
        if (*pp == &p) {
            *pp = p.next;
            break;
        }
    }
    pthread_mutex_unlock(&mc->lock);
    if (!p.done) {
        if (errs)
            cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, NULL,
                        "the daemon is not reachable; try again");
        return -ESHUTDOWN;
    }
    rc = (int)json_integer_value(json_object_get(p.rep, "rc"));
    if (errs)
        errs_from_json(errs, json_object_get(p.rep, "errors"));
    if (rc && errs && !errs->head)
        cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, NULL, "%s", strerror(-rc));
    if (rep)
        *rep = p.rep;
    else
        json_decref(p.rep);
    if (rbuf) {
        *rbuf = p.buf;
        *rdata = p.data;
        *rdlen = p.dlen;
    } else {
        free(p.buf);
    }
    return rc;
}

static int connect_to(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(path);
    socklen_t len;
    int fd;

    if (n >= sizeof(sa.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(sa.sun_path, path, n + 1);
    /* "@name": a socket in the abstract namespace (no file; peers are checked by
     * their credentials alone) */
    if (path[0] == '@')
        sa.sun_path[0] = '\0';
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '@' ? 0 : 1));
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, len)) {
        int e = errno;

        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

struct mc *mc_connect(const char *path, const char *kind, struct ly_ctx *ctx, const struct mc_hooks *hooks)
{
    struct mc *mc = calloc(1, sizeof(*mc));
    json_t *rep = NULL;
    struct cfg_errs errs = {0};
    int rc, e;

    if (!mc)
        return NULL;
    mc->ctx = ctx;
    if (hooks)
        mc->hooks = *hooks;
    pthread_mutex_init(&mc->send_lock, NULL);
    pthread_mutex_init(&mc->lock, NULL);
    pthread_mutex_init(&mc->interest_lock, NULL);
    pthread_cond_init(&mc->cond, NULL);
    mc->fd = connect_to(path);
    if (mc->fd < 0)
        goto fail;
    if ((e = pthread_create(&mc->reader, NULL, reader_main, mc))) {
        errno = e;
        goto fail;
    }
    mc->reader_started = true;
    rc = call(mc, json_pack("{s:s, s:s, s:i}", "op", "hello", "kind", kind, "version", 1), NULL, 0, &rep, NULL, NULL,
              NULL, &errs);
    if (rc) {
        log_err("mgmt", "ravend refused the hello: %s", errs.head ? errs.head->msg : strerror(-rc));
        cfg_errs_clear(&errs);
        errno = rc == -ESHUTDOWN ? ECONNREFUSED : -rc;
        goto fail;
    }
    pthread_mutex_lock(&mc->lock);
    mc->gen = (uint64_t)json_integer_value(json_object_get(rep, "gen"));
    mc->mtime = (time_t)json_integer_value(json_object_get(rep, "mtime"));
    pthread_mutex_unlock(&mc->lock);
    json_decref(rep);
    return mc;
fail:
    e = errno;
    mc->hooks.lost = NULL;
    mc_free(mc);
    errno = e;
    return NULL;
}

void mc_free(struct mc *mc)
{
    if (!mc)
        return;
    if (mc->fd >= 0)
        shutdown(mc->fd, SHUT_RDWR);
    if (mc->reader_started)
        pthread_join(mc->reader, NULL);
    if (mc->fd >= 0)
        close(mc->fd);
    pthread_mutex_destroy(&mc->send_lock);
    pthread_mutex_destroy(&mc->lock);
    pthread_mutex_destroy(&mc->interest_lock);
    pthread_cond_destroy(&mc->cond);
    free(mc);
}

uint64_t mc_running_gen(struct mc *mc, time_t *mtime)
{
    uint64_t g;

    pthread_mutex_lock(&mc->lock);
    g = mc->gen;
    if (mtime)
        *mtime = mc->mtime;
    pthread_mutex_unlock(&mc->lock);
    return g;
}

static enum mc_role role_of(const json_t *rep)
{
    const char *r = json_string_value(json_object_get(rep, "role"));

    return r && !strcmp(r, "admin") ? MC_ROLE_ADMIN : MC_ROLE_READ_ONLY;
}

int mc_auth_password(struct mc *mc, const char *user, const char *password, const char *from, enum mc_role *role,
                     unsigned int *retry_after)
{
    json_t *rep = NULL;
    int rc = call(mc,
                  json_pack("{s:s, s:s, s:s, s:s}", "op", "auth-password", "user", user ? user : "", "password",
                            password ? password : "", "from", from ? from : ""),
                  NULL, 0, &rep, NULL, NULL, NULL, NULL);

    if (!rc && role)
        *role = role_of(rep);
    if (rc == -EAGAIN && retry_after)
        *retry_after = (unsigned int)json_integer_value(json_object_get(rep, "retry-after"));
    json_decref(rep);
    return rc;
}

int mc_auth_key(struct mc *mc, const char *user, const char *key, enum mc_role *role)
{
    json_t *rep = NULL;
    int rc = call(mc, json_pack("{s:s, s:s, s:s}", "op", "auth-key", "user", user ? user : "", "key", key ? key : ""),
                  NULL, 0, &rep, NULL, NULL, NULL, NULL);

    if (!rc && role)
        *role = role_of(rep);
    json_decref(rep);
    return rc;
}

int mc_token_new(struct mc *mc, const char *user, char token[65], time_t *expires)
{
    json_t *rep = NULL;
    int rc = call(mc, json_pack("{s:s, s:s}", "op", "token-new", "user", user ? user : ""), NULL, 0, &rep, NULL, NULL,
                  NULL, NULL);

    if (!rc) {
        const char *t = json_string_value(json_object_get(rep, "token"));

        if (!t || strlen(t) != 64) {
            rc = -EPROTO;
        } else {
            memcpy(token, t, 65);
            if (expires)
                *expires = (time_t)json_integer_value(json_object_get(rep, "expires"));
        }
    }
    json_decref(rep);
    return rc;
}

int mc_token_check(struct mc *mc, const char *token, char user[40], enum mc_role *role, time_t *expires)
{
    json_t *rep = NULL;
    int rc = call(mc, json_pack("{s:s, s:s}", "op", "token-check", "token", token ? token : ""), NULL, 0, &rep, NULL,
                  NULL, NULL, NULL);

    if (!rc) {
        const char *u = json_string_value(json_object_get(rep, "user"));

        snprintf(user, 40, "%s", u ? u : "");
        if (role)
            *role = role_of(rep);
        if (expires)
            *expires = (time_t)json_integer_value(json_object_get(rep, "expires"));
    }
    json_decref(rep);
    return rc;
}

int mc_token_revoke(struct mc *mc, const char *token)
{
    return call(mc, json_pack("{s:s, s:s}", "op", "token-revoke", "token", token ? token : ""), NULL, 0, NULL, NULL,
                NULL, NULL, NULL);
}

/* A request on behalf of @who. */
static json_t *req_for(const char *op, const struct cfg_actor *who)
{
    json_t *r = json_pack("{s:s, s:s, s:I}", "op", op, "user", who && who->user ? who->user : "", "sid",
                          (json_int_t)(who ? who->sid : 0));

    if (r && who && who->host)
        json_object_set_new(r, "host", json_string(who->host));
    return r;
}

int mc_call(struct mc *mc, json_t *req, json_t **rep, struct cfg_errs *errs)
{
    return call(mc, req, NULL, 0, rep, NULL, NULL, NULL, errs);
}

json_t *mc_req_for(const char *op, const struct cfg_actor *who)
{
    return req_for(op, who);
}

/* @tree (with siblings) as canonical XML; *out NULL for an empty tree. */
static int print_xml(const struct lyd_node *tree, char **out, size_t *len, struct cfg_errs *errs)
{
    *out = NULL;
    *len = 0;
    if (!tree)
        return 0;
    if (lyd_print_mem(out, tree, LYD_XML, LYD_PRINT_WITHSIBLINGS | LYD_PRINT_SHRINK)) {
        cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, NULL, "cannot print the request's data");
        return -EINVAL;
    }
    *len = *out ? strlen(*out) : 0;
    return 0;
}

/* Parses the data of a reply as a data tree. */
static int parse_reply_tree(struct mc *mc, const char *data, struct lyd_node **out, struct cfg_errs *errs)
{
    *out = NULL;
    if (!data || !data[0])
        return 0;
    if (lyd_parse_data_mem(mc->ctx, data, LYD_XML, LYD_PARSE_ONLY | LYD_PARSE_STRICT, 0, out)) {
        cfg_err_from_ly(errs, mc->ctx, "cannot parse the daemon's reply");
        lyd_free_all(*out);
        *out = NULL;
        return -EPROTO;
    }
    return 0;
}

static json_t *xpaths_json(const char *const *xpaths)
{
    json_t *a;

    if (!xpaths)
        return json_null();
    a = json_array();
    for (size_t i = 0; a && xpaths[i]; i++)
        json_array_append_new(a, json_string(xpaths[i]));
    return a;
}

static int get_common(struct mc *mc, json_t *req, struct lyd_node **out, struct cfg_errs *errs)
{
    char *buf = NULL, *data = NULL;
    size_t dlen = 0;
    int rc = call(mc, req, NULL, 0, NULL, &buf, &data, &dlen, errs);

    *out = NULL;
    if (!rc)
        rc = parse_reply_tree(mc, data, out, errs);
    free(buf);
    return rc;
}

int mc_get(struct mc *mc, const struct cfg_actor *who, enum cfg_ds ds, const char *const *xpaths,
           struct lyd_node **out, struct cfg_errs *errs)
{
    json_t *r = req_for("get", who);

    if (r) {
        json_object_set_new(r, "ds", json_string(ds_names[ds]));
        json_object_set_new(r, "xpaths", xpaths_json(xpaths));
        json_object_set_new(r, "state", json_false());
    }
    return get_common(mc, r, out, errs);
}

int mc_get_state(struct mc *mc, const struct cfg_actor *who, const char *const *xpaths, struct lyd_node **out,
                 struct cfg_errs *errs)
{
    json_t *r = req_for("get", who);

    if (r) {
        json_object_set_new(r, "ds", json_string("running"));
        json_object_set_new(r, "xpaths", xpaths_json(xpaths));
        json_object_set_new(r, "state", json_true());
    }
    return get_common(mc, r, out, errs);
}

int mc_get_state_page(struct mc *mc, const struct cfg_actor *who, const char *const *xpaths, struct mc_page *pg,
                      struct lyd_node **out, struct cfg_errs *errs)
{
    json_t *r = req_for("get", who), *rep = NULL;
    char *buf = NULL, *data = NULL;
    size_t dlen = 0;
    int rc;

    if (r) {
        json_object_set_new(r, "ds", json_string("running"));
        json_object_set_new(r, "xpaths", xpaths_json(xpaths));
        json_object_set_new(r, "state", json_true());
        if (pg->limit)
            json_object_set_new(r, "limit", json_integer((json_int_t)pg->limit));
        if (pg->offset)
            json_object_set_new(r, "offset", json_integer((json_int_t)pg->offset));
        if (pg->has_cursor)
            json_object_set_new(r, "cursor", json_integer((json_int_t)pg->cursor));
        if (pg->count_only)
            json_object_set_new(r, "count-only", json_true());
    }
    rc = call(mc, r, NULL, 0, &rep, &buf, &data, &dlen, errs);
    *out = NULL;
    if (!rc)
        rc = parse_reply_tree(mc, data, out, errs);
    pg->total = (uint64_t)json_integer_value(json_object_get(rep, "total"));
    pg->remaining = (uint64_t)json_integer_value(json_object_get(rep, "remaining"));
    pg->next = (uint64_t)json_integer_value(json_object_get(rep, "next"));
    json_decref(rep);
    free(buf);
    return rc;
}

/* A request with an optional tree as its data, answered with rc and errors only. */
static int tree_call(struct mc *mc, json_t *req, const struct lyd_node *tree, struct cfg_errs *errs)
{
    char *xml = NULL;
    size_t len = 0;
    int rc = print_xml(tree, &xml, &len, errs);

    if (rc) {
        json_decref(req);
        return rc;
    }
    rc = call(mc, req, xml, len, NULL, NULL, NULL, NULL, errs);
    free(xml);
    return rc;
}

int mc_edit(struct mc *mc, const struct cfg_actor *who, enum cfg_ds ds, const struct lyd_node *edit,
            enum cfg_op defop, enum cfg_test_opt testopt, enum cfg_err_opt erropt, struct cfg_errs *errs)
{
    return mc_edit_if(mc, who, NULL, ds, edit, defop, testopt, erropt, errs);
}

int mc_edit_if(struct mc *mc, const struct cfg_actor *who, const uint64_t *if_gen, enum cfg_ds ds,
               const struct lyd_node *edit, enum cfg_op defop, enum cfg_test_opt testopt, enum cfg_err_opt erropt,
               struct cfg_errs *errs)
{
    static const char *const defops[] = {"none", "merge", "replace"};
    static const char *const tests[] = {"test-then-set", "set", "test-only"};
    static const char *const erropts[] = {"stop-on-error", "continue-on-error", "rollback-on-error"};
    json_t *r = req_for("edit", who);

    if (r) {
        json_object_set_new(r, "ds", json_string(ds_names[ds]));
        json_object_set_new(r, "default-operation", json_string(defop <= CFG_OP_REPLACE ? defops[defop] : "merge"));
        json_object_set_new(r, "test-option", json_string(tests[testopt]));
        json_object_set_new(r, "error-option", json_string(erropts[erropt]));
        if (if_gen)
            json_object_set_new(r, "if-gen", json_integer((json_int_t)*if_gen));
    }
    return tree_call(mc, r, edit, errs);
}

static const char *src_name(int src_ds)
{
    return src_ds == CFG_SRC_INLINE ? "inline" : ds_names[src_ds];
}

int mc_copy(struct mc *mc, const struct cfg_actor *who, enum cfg_ds dst, int src_ds, const struct lyd_node *src_tree,
            struct cfg_errs *errs)
{
    json_t *r = req_for("copy", who);

    if (r) {
        json_object_set_new(r, "target", json_string(ds_names[dst]));
        json_object_set_new(r, "source", json_string(src_name(src_ds)));
    }
    return tree_call(mc, r, src_ds == CFG_SRC_INLINE ? src_tree : NULL, errs);
}

static int ds_call(struct mc *mc, const char *op, const struct cfg_actor *who, enum cfg_ds ds, struct cfg_errs *errs)
{
    json_t *r = req_for(op, who);

    if (r)
        json_object_set_new(r, "target", json_string(ds_names[ds]));
    return call(mc, r, NULL, 0, NULL, NULL, NULL, NULL, errs);
}

int mc_delete_ds(struct mc *mc, const struct cfg_actor *who, enum cfg_ds ds, struct cfg_errs *errs)
{
    return ds_call(mc, "delete-config", who, ds, errs);
}

int mc_lock(struct mc *mc, const struct cfg_actor *who, enum cfg_ds ds, struct cfg_errs *errs)
{
    return ds_call(mc, "lock", who, ds, errs);
}

int mc_unlock(struct mc *mc, const struct cfg_actor *who, enum cfg_ds ds, struct cfg_errs *errs)
{
    return ds_call(mc, "unlock", who, ds, errs);
}

int mc_validate(struct mc *mc, const struct cfg_actor *who, int src_ds, const struct lyd_node *src_tree,
                struct cfg_errs *errs)
{
    json_t *r = req_for("validate", who);

    if (r)
        json_object_set_new(r, "source", json_string(src_name(src_ds)));
    return tree_call(mc, r, src_ds == CFG_SRC_INLINE ? src_tree : NULL, errs);
}

int mc_nacm_check(struct mc *mc, const struct cfg_actor *who, const char *exec, const char *read,
                  struct cfg_errs *errs)
{
    json_t *r = req_for("nacm-check", who);

    if (r)
        json_object_set_new(r, exec ? "exec" : "read", json_string(exec ? exec : read));
    return call(mc, r, NULL, 0, NULL, NULL, NULL, NULL, errs);
}

int mc_discard(struct mc *mc, const struct cfg_actor *who, struct cfg_errs *errs)
{
    return call(mc, req_for("discard-changes", who), NULL, 0, NULL, NULL, NULL, NULL, errs);
}

int mc_commit(struct mc *mc, const struct cfg_actor *who, const struct cfg_commit_opts *o, struct cfg_errs *errs)
{
    json_t *r = req_for("commit", who);

    if (r && o) {
        json_object_set_new(r, "confirmed", json_boolean(o->confirmed));
        json_object_set_new(r, "confirm-timeout", json_integer(o->timeout_s));
        if (o->persist)
            json_object_set_new(r, "persist", json_string(o->persist));
        if (o->persist_id)
            json_object_set_new(r, "persist-id", json_string(o->persist_id));
    }
    return call(mc, r, NULL, 0, NULL, NULL, NULL, NULL, errs);
}

int mc_cancel_commit(struct mc *mc, const struct cfg_actor *who, const char *persist_id, struct cfg_errs *errs)
{
    json_t *r = req_for("cancel-commit", who);

    if (r && persist_id)
        json_object_set_new(r, "persist-id", json_string(persist_id));
    return call(mc, r, NULL, 0, NULL, NULL, NULL, NULL, errs);
}

int mc_interest_update(struct mc *mc, unsigned int (*compute)(void *arg), void *arg)
{
    static const char *const names[] = {"sessions", "auth", "config", "other"};
    unsigned int mask;
    json_t *evs;
    int rc = 0;

    if (!mc)
        return 0;
    pthread_mutex_lock(&mc->interest_lock);
    mask = compute(arg) & MC_EV_ALL;
    if (mask != mc->interest) {
        evs = json_array();
        for (unsigned int i = 0; evs && i < 4; i++)
            if (mask & (1u << i))
                json_array_append_new(evs, json_string(names[i]));
        rc = call(mc, evs ? json_pack("{s:s, s:o}", "op", "interest", "events", evs) : NULL, NULL, 0, NULL, NULL, NULL,
                  NULL, NULL);
        if (!rc)
            mc->interest = mask;
    }
    pthread_mutex_unlock(&mc->interest_lock);
    return rc;
}

void mc_session_end(struct mc *mc, uint32_t sid)
{
    call(mc, json_pack("{s:s, s:I}", "op", "session-end", "sid", (json_int_t)sid), NULL, 0, NULL, NULL, NULL, NULL,
         NULL);
}

int mc_rpc(struct mc *mc, const struct cfg_actor *who, const struct lyd_node *rpc, struct lyd_node *output,
           struct cfg_errs *errs)
{
    char *xml = NULL, *buf = NULL, *data = NULL;
    size_t len = 0, dlen = 0;
    struct lyd_node *tree = NULL, *op = NULL, *c, *next;
    struct ly_in *in = NULL;
    int rc;

    if (lyd_print_mem(&xml, rpc, LYD_XML, LYD_PRINT_SHRINK) || !xml) {
        cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, NULL, "cannot print the RPC");
        free(xml);
        return -EINVAL;
    }
    len = strlen(xml);
    rc = call(mc, req_for("rpc", who), xml, len, NULL, &buf, &data, &dlen, errs);
    free(xml);
    if (rc || !data || !data[0]) {
        free(buf);
        return rc;
    }
    /* the output is the RPC's reply: its children go under @output */
    if (ly_in_new_memory(data, &in) ||
        lyd_parse_op(mc->ctx, NULL, in, LYD_XML, LYD_TYPE_REPLY_YANG, &tree, &op) || !op) {
        cfg_err_from_ly(errs, mc->ctx, "cannot parse the daemon's reply");
        rc = -EPROTO;
    } else {
        LY_LIST_FOR_SAFE(lyd_child(op), next, c) {
            lyd_unlink_tree(c);
            if (lyd_insert_child(output, c))
                lyd_free_tree(c);
        }
    }
    ly_in_free(in, 0);
    lyd_free_all(tree);
    free(buf);
    return rc;
}
