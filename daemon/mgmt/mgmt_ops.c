/* The requests of the management socket (api/README.md), decoded strictly and
 * mapped onto the datastore (daemon/config/cfg.h). A request that is malformed
 * (a member missing or of the wrong type, an unknown op, a session id outside
 * the front end's range) closes the connection; a request that is well formed but
 * refused (a user not authenticated on this connection, an operation NACM denies)
 * gets its errors in the reply. */
#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/log.h"
#include "daemon/mgmt/mgmt_impl.h"
#include "daemon/mgmt/mgmt_nacm.h"
#include "daemon/mgmt/mgmt_super.h"
#include "daemon/base/poison.h"

#define MAX_XPATHS 256
#define EDIT_FLAGS (LYD_PARSE_ONLY | LYD_PARSE_OPAQ | LYD_PARSE_NO_STATE | LYD_PARSE_STRICT)
#define CONFIG_FLAGS (LYD_PARSE_ONLY | LYD_PARSE_NO_STATE | LYD_PARSE_STRICT)
#define PRINT_FLAGS (LYD_PRINT_WITHSIBLINGS | LYD_PRINT_SHRINK)

struct req;

enum {
    F_ACTS = 1, /* carries user and sid */
    F_SID = 4,  /* carries sid only */
};

struct op {
    const char *name;
    unsigned int flags;
    int (*fn)(struct req *r);
    const char *nc; /* the ietf-netconf operation NACM checks (RFC 8040 maps REST's methods onto them) */
};

struct req {
    struct mconn *c;
    struct mgmt *m;
    json_t *j;
    const char *data;
    size_t dlen;
    json_t *rep;  /* members of the reply besides id, rc and errors */
    char *out;    /* data of the reply */
    struct cfg_errs errs;
    struct cfg_actor who;
    bool hello;   /* the listen event follows the reply */
    const struct op *op;
    const char *why;
};

/* Why a request was malformed; control thread only. */
static char why_buf[192];

static void bad(struct req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bad(struct req *r, const char *fmt, ...)
{
    va_list ap;

    if (r->why)
        return;
    va_start(ap, fmt);
    vsnprintf(why_buf, sizeof(why_buf), fmt, ap);
    va_end(ap);
    r->why = why_buf;
}

static const char *str_member(struct req *r, const char *k, bool required)
{
    json_t *v = json_object_get(r->j, k);

    if (!v && !required)
        return NULL;
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        bad(r, v ? "member \"%s\" must be a string without NUL" : "member \"%s\" is missing", k);
        return NULL;
    }
    return json_string_value(v);
}

static bool bool_member(struct req *r, const char *k)
{
    json_t *v = json_object_get(r->j, k);

    if (v && !json_is_boolean(v))
        bad(r, "member \"%s\" must be a boolean", k);
    return json_is_true(v);
}

static bool uint_member(struct req *r, const char *k, bool required, uint64_t max, uint64_t *out)
{
    json_t *v = json_object_get(r->j, k);

    *out = 0;
    if (!v && !required)
        return false;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max) {
        bad(r, v ? "member \"%s\" must be an integer in range" : "member \"%s\" is missing", k);
        return false;
    }
    *out = (uint64_t)json_integer_value(v);
    return true;
}

/* A member naming one of @names; its index, or -1 (the request is then bad). */
static int enum_member(struct req *r, const char *k, const char *const *names, int n)
{
    const char *s = str_member(r, k, true);

    for (int i = 0; s && i < n; i++) {
        if (!strcmp(s, names[i]))
            return i;
    }
    bad(r, "member \"%s\" has an unknown value", k);
    return -1;
}

static const char *const ds_names[] = {"running", "candidate", "startup"};

static int ds_member(struct req *r, const char *k, bool inline_ok)
{
    static const char *const with_inline[] = {"running", "candidate", "startup", "inline"};
    int i = inline_ok ? enum_member(r, k, with_inline, 4) : enum_member(r, k, ds_names, 3);

    return i == 3 ? CFG_SRC_INLINE : i;
}

static const char *role_name(bool admin)
{
    return admin ? "admin" : "read-only";
}

/* The request's data as a tree parsed with @flags (NULL data: an empty tree). */
static int parse_data(struct req *r, uint32_t flags, struct lyd_node **tree)
{
    *tree = NULL;
    if (!r->dlen)
        return 0;
    if (strlen(r->data) != r->dlen) {
        bad(r, "the %s holds a NUL byte", "data");
        return -EINVAL;
    }
    /* opaque nodes (an empty element deleting a leaf, which libyang cannot bind)
     * are rare and double the cost of a parse: the edit is parsed without them
     * first, and only with them when that fails */
    if ((flags & LYD_PARSE_OPAQ) &&
        !lyd_parse_data_mem(r->m->ctx, r->data, LYD_XML, flags & ~LYD_PARSE_OPAQ, 0, tree))
        return 0;
    lyd_free_siblings(*tree);
    *tree = NULL;
    ly_err_clean(r->m->ctx, NULL);
    if (lyd_parse_data_mem(r->m->ctx, r->data, LYD_XML, flags, 0, tree)) {
        cfg_err_from_ly(&r->errs, r->m->ctx, "the request's data does not parse");
        lyd_free_siblings(*tree);
        *tree = NULL;
        return -EINVAL;
    }
    return 0;
}

static void free_trash(evutil_socket_t fd, short what, void *arg)
{
    struct mgmt *m = arg;

    lyd_free_siblings(m->trash);
    m->trash = NULL;
}

/* Frees @tree once the reply has gone out (a large edit takes a while to free);
 * mgmt_free frees what is still waiting. */
static void free_later(struct req *r, struct lyd_node *tree)
{
    struct mgmt *m = r->m;

    if (!tree)
        return;
    lyd_free_siblings(m->trash);
    m->trash = tree;
    if (!m->base || event_base_once(m->base, -1, EV_TIMEOUT, free_trash, m, &(struct timeval){0}))
        free_trash(-1, 0, m);
}

static int print_tree(struct req *r, const struct lyd_node *tree, uint32_t flags)
{
    if (!tree)
        return 0;
    if (lyd_print_mem(&r->out, tree, LYD_XML, flags)) {
        cfg_err_add(&r->errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, NULL, "cannot print the reply");
        return -ENOMEM;
    }
    return 0;
}

/* ---- hello and authentication ---- */

static int op_hello(struct req *r)
{
    static const char *const kinds[] = {"netconf", "rest"};
    int k = enum_member(r, "kind", kinds, 2);
    uint64_t version;
    time_t mtime;
    uint64_t gen;

    if (uint_member(r, "version", true, UINT32_MAX, &version) && version != 1)
        bad(r, "member \"%s\": this ravend speaks version 1", "version");
    if (r->why)
        return 0;
    if (r->c->kind != MGMT_KIND_NONE) {
        bad(r, "a second %s", "hello");
        return 0;
    }
    if (r->m->sup && r->c->idx >= 0 && strcmp(super_name(r->m->sup, r->c->idx), kinds[k])) {
        bad(r, "hello as %s from another front end", kinds[k]);
        return 0;
    }
    r->c->kind = k == 0 ? MGMT_KIND_NETCONF : MGMT_KIND_REST;
    gen = cfg_running_gen(r->m->cfg, &mtime);
    json_object_set_new(r->rep, "gen", json_integer((json_int_t)gen));
    json_object_set_new(r->rep, "mtime", json_integer((json_int_t)mtime));
    r->hello = true;
    return 0;
}

static int op_auth_password(struct req *r)
{
    const char *user = str_member(r, "user", true), *pw = str_member(r, "password", true),
               *from = str_member(r, "from", true);
    unsigned int retry = 0;
    bool admin = false;
    int rc;

    if (r->why)
        return 0;
    rc = mauth_password(r->m->auth, user, pw, from, &admin, &retry);
    if (rc == -EAGAIN)
        json_object_set_new(r->rep, "retry-after", json_integer(retry));
    if (rc)
        return rc;
    mconn_user_add(r->c, user);
    json_object_set_new(r->rep, "role", json_string(role_name(admin)));
    return 0;
}

static int op_auth_key(struct req *r)
{
    const char *user = str_member(r, "user", true), *key = str_member(r, "key", true);
    bool admin = false;
    int rc;

    if (r->why)
        return 0;
    rc = mauth_key(r->m->auth, user, key, &admin);
    if (rc)
        return rc;
    mconn_user_add(r->c, user);
    json_object_set_new(r->rep, "role", json_string(role_name(admin)));
    return 0;
}

/* access-denied for @user: not authenticated on this connection. */
static int denied(struct req *r, const char *user)
{
    cfg_err_add(&r->errs, CFG_ERR_ACCESS_DENIED, CFG_ERRT_PROTOCOL, NULL,
                "user \"%s\" has not authenticated on this connection", user);
    return -EACCES;
}

static int op_token_new(struct req *r)
{
    const char *user = str_member(r, "user", true);
    char token[65];
    time_t exp;
    int rc;

    if (r->why)
        return 0;
    if (!mconn_user_ok(r->c, user))
        return denied(r, user);
    rc = mauth_token_new(r->m->auth, user, token, &exp);
    if (rc)
        return rc;
    json_object_set_new(r->rep, "token", json_string(token));
    json_object_set_new(r->rep, "expires", json_integer((json_int_t)exp));
    return 0;
}

static int op_token_check(struct req *r)
{
    const char *token = str_member(r, "token", true);
    char user[40];
    bool admin;
    time_t exp;
    int rc;

    if (r->why)
        return 0;
    rc = mauth_token_check(r->m->auth, token, user, &admin, &exp);
    if (rc)
        return rc;
    mconn_user_add(r->c, user);
    json_object_set_new(r->rep, "user", json_string(user));
    json_object_set_new(r->rep, "role", json_string(role_name(admin)));
    json_object_set_new(r->rep, "expires", json_integer((json_int_t)exp));
    return 0;
}

static int op_token_revoke(struct req *r)
{
    const char *token = str_member(r, "token", true);

    if (!r->why)
        mauth_token_revoke(r->m->auth, token);
    return 0;
}

/* ---- the datastore ---- */

/* Called by each operation once its members are decoded: the user must have
 * authenticated on this connection, and NACM (the rules and roles the
 * configuration gives now) let it run the operation. 0, or -EACCES with the
 * error. */
static int allowed(struct req *r)
{
    if (!mconn_user_ok(r->c, r->who.user))
        return denied(r, r->who.user);
    if (r->op->nc && mgmt_nacm_exec(r->m, r->who.user, "ietf-netconf", r->op->nc, &r->errs))
        return -EACCES;
    mconn_sid_add(r->c, r->who.sid);
    return 0;
}

/* @xpaths: an array of strings, or null or absent (everything). */
static const char **xpaths_member(struct req *r)
{
    json_t *v = json_object_get(r->j, "xpaths"), *e;
    const char **xp;
    size_t i;

    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_array(v) || json_array_size(v) > MAX_XPATHS) {
        bad(r, "member \"%s\" must be null or an array of at most 256 strings", "xpaths");
        return NULL;
    }
    xp = calloc(json_array_size(v) + 1, sizeof(*xp));
    if (!xp) {
        bad(r, "out of memory decoding %s", "xpaths");
        return NULL;
    }
    json_array_foreach(v, i, e) {
        if (!json_is_string(e) || strlen(json_string_value(e)) != json_string_length(e)) {
            bad(r, "member \"%s\" must hold strings only", "xpaths");
            free(xp);
            return NULL;
        }
        xp[i] = json_string_value(e);
    }
    return xp;
}

/* Running (when @sel needs it) with the daemon's operational state. */
static int get_state(struct req *r, struct mgmt_state_sel *sel, struct lyd_node **tree)
{
    int rc = sel->config ? cfg_get(r->m->cfg, CFG_DS_RUNNING, NULL, false, tree, &r->errs) : 0;

    if (!rc && r->m->hooks.state && (rc = r->m->hooks.state(r->m->ctx, tree, sel, r->m->hooks.arg)))
        cfg_err_add(&r->errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, NULL,
                    "cannot read the operational state: %s", strerror(-rc));
    return rc;
}

/* The paging of the session list: members "limit", "offset", "cursor" (see
 * api/mgmt/mc.h), "count-only". Whether any was given. */
static bool page_members(struct req *r, struct mgmt_state_sel *sel)
{
    json_t *c = json_object_get(r->j, "count-only");

    sel->paged = uint_member(r, "limit", false, UINT32_MAX, &sel->limit);
    sel->paged |= uint_member(r, "offset", false, UINT32_MAX, &sel->offset);
    sel->has_cursor = uint_member(r, "cursor", false, INT64_MAX, &sel->cursor);
    sel->paged |= sel->has_cursor;
    if (c && !json_is_boolean(c))
        bad(r, "member \"%s\" must be true or false", "count-only");
    sel->count_only = json_is_true(c);
    return sel->paged || sel->count_only;
}

static int op_get(struct req *r)
{
    int ds = ds_member(r, "ds", false);
    bool state = bool_member(r, "state");
    const char **xp = xpaths_member(r);
    struct mgmt_state_sel sel = {0};
    bool paging = page_members(r, &sel);
    bool restricted = mgmt_nacm_restricted(r->m, r->who.user);
    struct lyd_node *tree = NULL, *selected = NULL;
    int rc = 0;

    if (r->why || (rc = allowed(r)) ||
        (rc = mgmt_nacm_exec(r->m, r->who.user, "ietf-netconf", state ? "get" : "get-config", &r->errs))) {
        free(xp);
        return rc;
    }
    if (state) {
        mgmt_sel_from_xpaths(&sel, xp);
        if (sel.count_only)
            sel.sessions = true;
        if (sel.paged && !sel.sessions) {
            cfg_err_add(&r->errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL,
                        "limit, offset and cursor page /raven-vpn:vpn-state/session, which this read does not select");
            free(xp);
            return -EINVAL;
        }
        if (paging && (sel.filtered || sel.one)) {
            cfg_err_add(&r->errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL,
                        "limit, offset, cursor and count-only apply to the whole session list: a filter that "
                        "selects sessions by key or by their contents cannot be paged or counted");
            free(xp);
            return -EINVAL;
        }
        rc = get_state(r, &sel, &tree);
        if (!rc && sel.config)
            mgmt_nacm_state(r->m, &tree);
        /* a restricted user's filter runs on what it may read: its predicates
         * cannot test denied values, nor step around a rule's predicates */
        if (!rc && restricted)
            mgmt_nacm_prune(r->m, r->who.user, &tree);
        if (!rc)
            rc = cfg_tree_select(r->m->cfg, tree, xp, &selected, &r->errs);
        /* the counts of the list only to who may read its entries (a rule
         * hiding some sessions by key apart: those are counted too) */
        if (!rc && (paging || sel.sessions) &&
            (!restricted || nacm_read_path(r->m->nacm, r->who.user, "/raven-vpn:vpn-state/session[id='0']"))) {
            json_object_set_new(r->rep, "total", json_integer((json_int_t)sel.total));
            json_object_set_new(r->rep, "remaining", json_integer((json_int_t)sel.remaining));
            json_object_set_new(r->rep, "next", json_integer((json_int_t)sel.next));
        }
    } else if (paging) {
        cfg_err_add(&r->errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL,
                    "limit, offset, cursor and count-only page the session list of the operational state: "
                    "a read of a configuration datastore has none");
        rc = -EINVAL;
    } else if (restricted && xp) {
        rc = cfg_get(r->m->cfg, (enum cfg_ds)ds, NULL, false, &tree, &r->errs);
        if (!rc)
            mgmt_nacm_prune(r->m, r->who.user, &tree);
        if (!rc)
            rc = cfg_tree_select(r->m->cfg, tree, xp, &selected, &r->errs);
    } else {
        rc = cfg_get(r->m->cfg, (enum cfg_ds)ds, xp, false, &selected, &r->errs);
    }
    /* what the user may not read is left out (RFC 8341 3.4.5) */
    if (!rc && restricted)
        mgmt_nacm_prune(r->m, r->who.user, &selected);
    /* defaults tagged: the front end's parser marks them as defaults again */
    if (!rc)
        rc = print_tree(r, selected, PRINT_FLAGS | LYD_PRINT_WD_IMPL_TAG);
    lyd_free_siblings(tree);
    lyd_free_siblings(selected);
    free(xp);
    return rc;
}

static int op_edit(struct req *r)
{
    static const char *const defops[] = {"none", "merge", "replace"};
    static const char *const tests[] = {"test-then-set", "set", "test-only"};
    static const char *const erropts[] = {"stop-on-error", "continue-on-error", "rollback-on-error"};
    int ds = ds_member(r, "ds", false), d = enum_member(r, "default-operation", defops, 3),
        t = enum_member(r, "test-option", tests, 3), e = enum_member(r, "error-option", erropts, 3);
    struct lyd_node *edit = NULL;
    uint64_t if_gen, gen;
    bool conditional = uint_member(r, "if-gen", false, INT64_MAX, &if_gen);
    int rc;

    if (r->why || (rc = allowed(r)))
        return r->why ? 0 : rc;
    gen = cfg_running_gen(r->m->cfg, NULL);
    if (conditional && gen != if_gen) {
        cfg_err_add(&r->errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_PROTOCOL, NULL,
                    "running has changed since the check this edit depends on (generation %llu, now %llu)",
                    (unsigned long long)if_gen, (unsigned long long)gen);
        return -ESTALE;
    }
    rc = parse_data(r, EDIT_FLAGS, &edit);
    if (!rc && !r->why)
        rc = cfg_edit_take(r->m->cfg, (enum cfg_ds)ds, &edit, (enum cfg_op)d, (enum cfg_test_opt)t,
                           (enum cfg_err_opt)e, &r->who, &r->errs);
    free_later(r, edit); /* what the datastore did not take */
    return rc;
}

/* The tree of a `source` that is inline data (NULL otherwise); 0 or -EINVAL. */
static int inline_source(struct req *r, int src, struct lyd_node **tree)
{
    *tree = NULL;
    return src == CFG_SRC_INLINE ? parse_data(r, CONFIG_FLAGS, tree) : 0;
}

static int op_copy(struct req *r)
{
    int dst = ds_member(r, "target", false), src = ds_member(r, "source", true);
    struct lyd_node *tree = NULL;
    int rc = 0;

    if (r->why || (rc = allowed(r)))
        return r->why ? 0 : rc;
    rc = inline_source(r, src, &tree);
    if (!rc && !r->why)
        rc = cfg_copy(r->m->cfg, (enum cfg_ds)dst, src, tree, &r->who, &r->errs);
    free_later(r, tree);
    return rc;
}

static int op_delete(struct req *r)
{
    int ds = ds_member(r, "target", false);

    return r->why ? 0 : allowed(r) ? -EACCES : cfg_delete_ds(r->m->cfg, (enum cfg_ds)ds, &r->who, &r->errs);
}

static int op_validate(struct req *r)
{
    int src = ds_member(r, "source", true);
    struct lyd_node *tree = NULL;
    int rc = 0;

    if (r->why || (rc = allowed(r)))
        return r->why ? 0 : rc;
    rc = inline_source(r, src, &tree);
    if (!rc && !r->why)
        rc = cfg_validate(r->m->cfg, src, tree, &r->errs);
    lyd_free_siblings(tree);
    return rc;
}

static int op_discard(struct req *r)
{
    return allowed(r) ? -EACCES : cfg_discard(r->m->cfg, &r->who, &r->errs);
}

static int op_commit(struct req *r)
{
    struct cfg_commit_opts o = {.confirmed = bool_member(r, "confirmed")};
    uint64_t tmo;

    uint_member(r, "confirm-timeout", false, UINT32_MAX, &tmo);
    o.timeout_s = (uint32_t)tmo;
    o.persist = str_member(r, "persist", false);
    o.persist_id = str_member(r, "persist-id", false);
    return r->why ? 0 : allowed(r) ? -EACCES : cfg_commit(r->m->cfg, &o, &r->who, &r->errs);
}

static int op_cancel(struct req *r)
{
    const char *pid = str_member(r, "persist-id", false);

    return r->why ? 0 : allowed(r) ? -EACCES : cfg_cancel_commit(r->m->cfg, pid, &r->who, &r->errs);
}

static int op_lock(struct req *r)
{
    int ds = ds_member(r, "target", false), rc;

    if (r->why)
        return 0;
    rc = allowed(r) ? -EACCES : cfg_lock(r->m->cfg, (enum cfg_ds)ds, &r->who, &r->errs);
    if (!rc && ds >= 0 && ds < CFG_DS_COUNT) {
        /* for ietf-netconf-monitoring's locked-time */
        r->m->lock_sid[ds] = r->who.sid;
        r->m->lock_time[ds] = time(NULL);
    }
    return rc;
}

static int op_unlock(struct req *r)
{
    int ds = ds_member(r, "target", false);

    return r->why ? 0 : allowed(r) ? -EACCES : cfg_unlock(r->m->cfg, (enum cfg_ds)ds, &r->who, &r->errs);
}

/* partial-lock (RFC 5717) of running: "select", an array of XPaths; the reply
 * carries "lock-id" and "nodes", the data paths locked. */
static int op_partial_lock(struct req *r)
{
    json_t *sel = json_object_get(r->j, "select"), *v, *nodes;
    const struct cfg_plock *p = NULL;
    const char **xp;
    size_t i;
    int rc;

    if (!json_is_array(sel) || json_array_size(sel) > 64)
        bad(r, "member \"%s\" must be an array of at most 64 XPath strings", "select");
    json_array_foreach(r->why ? NULL : sel, i, v) {
        if (!json_is_string(v))
            bad(r, "member \"%s\" must be an array of at most 64 XPath strings", "select");
    }
    if (r->why)
        return 0;
    if (allowed(r))
        return -EACCES;
    xp = calloc(json_array_size(sel) + 1, sizeof(*xp));
    if (!xp)
        return -ENOMEM;
    json_array_foreach(sel, i, v)
        xp[i] = json_string_value(v);
    rc = cfg_partial_lock(r->m->cfg, xp, json_array_size(sel), &r->who, &p, &r->errs);
    free(xp);
    if (rc)
        return rc;
    /* the reply names the nodes found: none the user may not read (nor which) */
    for (i = 0; i < p->nnodes && nacm_read_path(r->m->nacm, r->who.user, p->nodes[i]); i++)
        ;
    if (i < p->nnodes) {
        struct cfg_errs ignored = {0};

        cfg_partial_unlock(r->m->cfg, p->id, &r->who, &ignored);
        cfg_errs_clear(&ignored);
        cfg_err_add(&r->errs, CFG_ERR_ACCESS_DENIED, CFG_ERRT_PROTOCOL, NULL,
                    "the select expressions find nodes user \"%s\" may not read (NACM)", r->who.user);
        return -EACCES;
    }
    nodes = json_array();
    for (i = 0; nodes && i < p->nnodes; i++)
        json_array_append_new(nodes, json_string(p->nodes[i]));
    json_object_set_new(r->rep, "lock-id", json_integer(p->id));
    json_object_set_new(r->rep, "nodes", nodes ? nodes : json_array());
    return 0;
}

static int op_partial_unlock(struct req *r)
{
    uint64_t id;

    uint_member(r, "lock-id", true, UINT32_MAX, &id);
    if (r->why)
        return 0;
    return allowed(r) ? -EACCES : cfg_partial_unlock(r->m->cfg, (uint32_t)id, &r->who, &r->errs);
}

static json_t *strs(char *const *v, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a ? a : json_array();
}

/* The partial locks: "partial": [{"id", "sid", "time", "select", "nodes"}]. */
static void partial_locks(struct req *r)
{
    json_t *a = json_array();

    for (const struct cfg_plock *p = cfg_partial_locks(r->m->cfg); a && p; p = p->next) {
        char *ts = NULL;

        if (ly_time_time2str(p->time, NULL, &ts))
            continue;
        json_array_append_new(a, json_pack("{s:I, s:I, s:s, s:o, s:o}", "id", (json_int_t)p->id, "sid",
                                           (json_int_t)p->sid, "time", ts, "select", strs(p->select, p->nselect),
                                           "nodes", strs(p->nodes, p->nnodes)));
        free(ts);
    }
    if (a)
        json_object_set_new(r->rep, "partial", a);
}

/* The locks held now: "locks": [{"ds", "sid", "time" (RFC 3339)}], and the
 * partial ones. Any role. */
static int op_locks(struct req *r)
{
    static const char *const names[] = {"running", "candidate", "startup"};
    json_t *a = json_array();

    if (r->why || !a) {
        json_decref(a);
        return r->why ? 0 : -ENOMEM;
    }
    for (int ds = 0; ds < 3; ds++) {
        uint32_t sid = cfg_lock_holder(r->m->cfg, (enum cfg_ds)ds);
        time_t t = r->m->lock_sid[ds] == sid ? r->m->lock_time[ds] : time(NULL);
        char *ts = NULL;

        if (!sid || ly_time_time2str(t, NULL, &ts))
            continue;
        json_array_append_new(a, json_pack("{s:s, s:I, s:s}", "ds", names[ds], "sid", (json_int_t)sid, "time", ts));
        free(ts);
    }
    json_object_set_new(r->rep, "locks", a);
    partial_locks(r);
    return 0;
}

static int op_session_end(struct req *r)
{
    if (r->why)
        return 0;
    cfg_session_end(r->m->cfg, r->who.sid);
    mconn_sid_del(r->c, r->who.sid);
    return 0;
}

/* A raven-vpn RPC, parsed and validated as one; the reply's data is the RPC node
 * holding its output children. */
static int op_rpc(struct req *r)
{
    struct lyd_node *tree = NULL, *op = NULL, *out = NULL;
    struct ly_in *in = NULL;
    int rc = -EINVAL;

    if (!r->dlen || strlen(r->data) != r->dlen) {
        bad(r, "the rpc request needs its RPC as %s", "data");
        return 0;
    }
    if (allowed(r))
        return -EACCES;
    if (ly_in_new_memory(r->data, &in) ||
        lyd_parse_op(r->m->ctx, NULL, in, LYD_XML, LYD_TYPE_RPC_YANG, &tree, &op) || !op) {
        cfg_err_from_ly(&r->errs, r->m->ctx, "the RPC does not parse");
    } else if (op->schema->nodetype != LYS_RPC || strcmp(op->schema->module->name, "raven-vpn") ||
               !r->m->hooks.rpc) {
        cfg_err_add(&r->errs, CFG_ERR_OPERATION_NOT_SUPPORTED, CFG_ERRT_PROTOCOL, NULL,
                    "operation %s is not supported here", op->schema->name);
        rc = -EOPNOTSUPP;
    } else if (mgmt_nacm_exec(r->m, r->who.user, "raven-vpn", op->schema->name, &r->errs)) {
        rc = -EACCES;
    } else if (lyd_dup_single(op, NULL, 0, &out)) {
        cfg_err_add(&r->errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, NULL, "out of memory");
        rc = -ENOMEM;
    } else {
        rc = r->m->hooks.rpc(op, out, &r->errs, r->m->hooks.arg);
        if (!rc && lyd_child(out))
            rc = print_tree(r, out, LYD_PRINT_SHRINK);
    }
    lyd_free_all(out);
    lyd_free_all(tree);
    ly_in_free(in, 0);
    return rc;
}

/* {"op": "nacm-check", "user", "sid", "exec": "module:name" | "read": "/path"}:
 * an operation the front end answers itself, or a resource it serves. */
static int op_nacm_check(struct req *r)
{
    const char *exec = str_member(r, "exec", false), *read = str_member(r, "read", false);

    if (!r->why && !exec == !read)
        bad(r, "nacm-check needs one of %s", "\"exec\" and \"read\"");
    if (r->why || allowed(r))
        return r->why ? 0 : -EACCES;
    return mgmt_nacm_check(r->m, r->who.user, exec, read, &r->errs);
}

/* ---- dispatch ---- */

static const struct op ops[] = {
    {"hello", 0, op_hello, NULL},
    {"auth-password", 0, op_auth_password, NULL},
    {"auth-key", 0, op_auth_key, NULL},
    {"token-new", 0, op_token_new, NULL},
    {"token-check", 0, op_token_check, NULL},
    {"token-revoke", 0, op_token_revoke, NULL},
    {"get", F_ACTS, op_get, NULL},
    {"edit", F_ACTS, op_edit, "edit-config"},
    {"copy", F_ACTS, op_copy, "copy-config"},
    {"delete-config", F_ACTS, op_delete, "delete-config"},
    {"validate", F_ACTS, op_validate, "validate"},
    {"discard-changes", F_ACTS, op_discard, "discard-changes"},
    {"commit", F_ACTS, op_commit, "commit"},
    {"cancel-commit", F_ACTS, op_cancel, "cancel-commit"},
    {"lock", F_ACTS, op_lock, "lock"},
    {"unlock", F_ACTS, op_unlock, "unlock"},
    {"session-end", F_SID, op_session_end, NULL},
    {"locks", 0, op_locks, NULL},
    /* NACM's exec check of partial-lock and partial-unlock (module
     * ietf-netconf-partial-lock) is raven-netconfd's nacm-check */
    {"partial-lock", F_ACTS, op_partial_lock, NULL},
    {"partial-unlock", F_ACTS, op_partial_unlock, NULL},
    {"rpc", F_ACTS, op_rpc, NULL},
    {"nacm-check", F_ACTS, op_nacm_check, NULL},
};

/* The session id of the request: NETCONF sessions' ids for raven-netconfd, the
 * one REST session for raven-restd. */
static void sid_member(struct req *r)
{
    uint64_t sid;

    if (!uint_member(r, "sid", true, UINT32_MAX, &sid))
        return;
    if (r->c->kind == MGMT_KIND_REST ? sid != MGMT_REST_SID : sid < 1 || sid > MGMT_NETCONF_SID_MAX)
        bad(r, "member \"%s\" is outside this front end's session ids", "sid");
    r->who.sid = (uint32_t)sid;
}

/* Who the request acts for: user, sid and host (for notifications). */
static void actor(struct req *r)
{
    r->who.user = str_member(r, "user", true);
    r->who.host = str_member(r, "host", false);
    sid_member(r);
}

static json_t *errs_json(const struct cfg_errs *errs)
{
    json_t *a = json_array();

    for (const struct cfg_err *e = errs->head; a && e; e = e->next) {
        json_t *o = json_pack("{s:s, s:s, s:s}", "type", cfg_err_type_name(e->type), "tag", cfg_err_tag_name(e->tag),
                              "message", e->msg ? e->msg : "");
        const char *opt[][2] = {{"app-tag", e->app_tag}, {"path", e->path}, {"bad-element", e->bad_element},
                                {"bad-attribute", e->bad_attribute}, {"bad-namespace", e->bad_namespace}};

        if (!o)
            continue;
        for (size_t i = 0; i < sizeof(opt) / sizeof(opt[0]); i++) {
            if (opt[i][1])
                json_object_set_new(o, opt[i][0], json_string(opt[i][1]));
        }
        if (e->lock_sid)
            json_object_set_new(o, "session-id", json_integer(e->lock_sid));
        json_array_append_new(a, o);
    }
    return a;
}

static const struct op *op_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof(ops) / sizeof(ops[0]); i++) {
        if (!strcmp(ops[i].name, name))
            return &ops[i];
    }
    return NULL;
}

int mgmt_dispatch(struct mconn *c, json_t *j, const char *data, size_t dlen, const char **why)
{
    struct req r = {.c = c, .m = c->m, .j = j, .data = data, .dlen = dlen};
    json_t *id = json_object_get(j, "id");
    const struct op *op = op_find(json_string_value(json_object_get(j, "op")));
    int rc = 0;

    if (!json_is_integer(id) || json_integer_value(id) < 0)
        *why = "a request needs \"id\", an unsigned integer";
    else if (!op)
        *why = "a request needs \"op\", one of the operations of api/README.md";
    else if (c->kind == MGMT_KIND_NONE && strcmp(op->name, "hello"))
        *why = "the first request must be hello";
    if (*why)
        return -1;
    r.rep = json_object();
    if (!r.rep) {
        *why = "out of memory";
        return -1;
    }
    r.op = op;
    if (op->flags & F_ACTS)
        actor(&r);
    else if (op->flags & F_SID)
        sid_member(&r);
    if (!r.why)
        rc = op->fn(&r);
    if (!r.why) {
        json_object_set(r.rep, "id", id);
        json_object_set_new(r.rep, "rc", json_integer(rc));
        json_object_set_new(r.rep, "errors", errs_json(&r.errs));
        mconn_send(c, r.rep, r.out, r.out ? strlen(r.out) : 0, NULL, 0);
        if (r.hello)
            mgmt_send_listen(c->m, c);
    }
    *why = r.why;
    json_decref(r.rep);
    free(r.out);
    cfg_errs_clear(&r.errs);
    return *why ? -1 : 0;
}
