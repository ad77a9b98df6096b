/* NETCONF operations: each RPC is parsed by libnetconf2 on the poll thread that
 * received it and runs there; what needs the datastore or the daemon is a request to
 * ravend (api/mgmt/mc.h) for the session's user. Datastore errors (struct cfg_err,
 * as ravend sent them) become rpc-errors here. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/netconf/nc_impl.h"
#include "daemon/base/log.h"
#include "daemon/base/poison.h"

struct nc_api *nc_rpc_api;

static const NC_ERR tag_map[] = {
    [CFG_ERR_IN_USE] = NC_ERR_IN_USE,
    [CFG_ERR_INVALID_VALUE] = NC_ERR_INVALID_VALUE,
    [CFG_ERR_TOO_BIG] = NC_ERR_TOO_BIG,
    [CFG_ERR_MISSING_ATTRIBUTE] = NC_ERR_MISSING_ATTR,
    [CFG_ERR_BAD_ATTRIBUTE] = NC_ERR_BAD_ATTR,
    [CFG_ERR_UNKNOWN_ATTRIBUTE] = NC_ERR_UNKNOWN_ATTR,
    [CFG_ERR_MISSING_ELEMENT] = NC_ERR_MISSING_ELEM,
    [CFG_ERR_BAD_ELEMENT] = NC_ERR_BAD_ELEM,
    [CFG_ERR_UNKNOWN_ELEMENT] = NC_ERR_UNKNOWN_ELEM,
    [CFG_ERR_UNKNOWN_NAMESPACE] = NC_ERR_UNKNOWN_NS,
    [CFG_ERR_ACCESS_DENIED] = NC_ERR_ACCESS_DENIED,
    [CFG_ERR_LOCK_DENIED] = NC_ERR_LOCK_DENIED,
    [CFG_ERR_RESOURCE_DENIED] = NC_ERR_RES_DENIED,
    [CFG_ERR_ROLLBACK_FAILED] = NC_ERR_ROLLBACK_FAILED,
    [CFG_ERR_DATA_EXISTS] = NC_ERR_DATA_EXISTS,
    [CFG_ERR_DATA_MISSING] = NC_ERR_DATA_MISSING,
    [CFG_ERR_OPERATION_NOT_SUPPORTED] = NC_ERR_OP_NOT_SUPPORTED,
    [CFG_ERR_OPERATION_FAILED] = NC_ERR_OP_FAILED,
    [CFG_ERR_MALFORMED_MESSAGE] = NC_ERR_MALFORMED_MSG,
};

static const NC_ERR_TYPE type_map[] = {NC_ERR_TYPE_TRAN, NC_ERR_TYPE_RPC, NC_ERR_TYPE_PROT, NC_ERR_TYPE_APP};

/* The last name of a data path ("/a:b/c[k='v']" -> "c"), for bad-element. */
static char *last_elem(const char *path)
{
    const char *s, *e;

    if (!path)
        return strdup("");
    s = strrchr(path, '/');
    s = s ? s + 1 : path;
    if (strchr(s, ':'))
        s = strchr(s, ':') + 1;
    e = strchr(s, '[');
    return strndup(s, e ? (size_t)(e - s) : strlen(s));
}

static struct lyd_node *err_node(const struct ly_ctx *ctx, const struct cfg_err *e)
{
    NC_ERR tag = tag_map[e->tag];
    NC_ERR_TYPE type = type_map[e->type];
    struct lyd_node *n = NULL;
    char *elem = NULL;

    switch (tag) {
    case NC_ERR_MISSING_ATTR:
    case NC_ERR_BAD_ATTR:
    case NC_ERR_UNKNOWN_ATTR:
        elem = e->bad_element ? strdup(e->bad_element) : last_elem(e->path);
        n = nc_err(ctx, tag, type, e->bad_attribute ? e->bad_attribute : "operation", elem ? elem : "");
        break;
    case NC_ERR_MISSING_ELEM:
    case NC_ERR_BAD_ELEM:
    case NC_ERR_UNKNOWN_ELEM:
        elem = e->bad_element ? strdup(e->bad_element) : last_elem(e->path);
        n = nc_err(ctx, tag, type, elem ? elem : "");
        break;
    case NC_ERR_UNKNOWN_NS:
        elem = e->bad_element ? strdup(e->bad_element) : last_elem(e->path);
        n = nc_err(ctx, tag, type, elem ? elem : "", e->bad_namespace ? e->bad_namespace : "");
        break;
    case NC_ERR_LOCK_DENIED:
        n = nc_err(ctx, tag, e->lock_sid);
        break;
    case NC_ERR_DATA_EXISTS:
    case NC_ERR_DATA_MISSING:
    case NC_ERR_MALFORMED_MSG:
        n = nc_err(ctx, tag);
        break;
    default:
        n = nc_err(ctx, tag, type);
        break;
    }
    free(elem);
    if (!n)
        return NULL;
    if (e->msg)
        nc_err_set_msg(n, e->msg, "en");
    if (e->path && e->path[0] == '/')
        nc_err_set_path(n, e->path);
    if (e->app_tag)
        nc_err_set_app_tag(n, e->app_tag);
    return n;
}

struct nc_server_reply *nc_reply_errs(const struct ly_ctx *ctx, struct cfg_errs *errs)
{
    struct nc_server_reply *r = NULL;

    if (!errs->count)
        cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, NULL, "operation failed");
    for (const struct cfg_err *e = errs->head; e; e = e->next) {
        struct lyd_node *n = err_node(ctx, e);

        if (!n)
            continue;
        if (!r)
            r = nc_server_reply_err(n);
        else
            nc_server_reply_add_err(r, n);
    }
    cfg_errs_clear(errs);
    return r;
}

struct nc_server_reply *nc_reply_rc(const struct ly_ctx *ctx, int rc, struct cfg_errs *errs)
{
    if (rc || errs->count)
        return nc_reply_errs(ctx, errs);
    return nc_server_reply_ok();
}

static const struct lyd_node *child(const struct lyd_node *n, const char *name)
{
    const struct lyd_node *c;

    LY_LIST_FOR(lyd_child(n), c) {
        if (c->schema && !strcmp(c->schema->name, name))
            return c;
    }
    return NULL;
}

const char *nc_child_val(const struct lyd_node *n, const char *name)
{
    const struct lyd_node *c = child(n, name);

    return c ? lyd_get_value(c) : NULL;
}

static struct cfg_err *opaque_err(struct cfg_errs *errs, enum cfg_err_tag tag, const struct lyd_node *n,
                                  const char *what, const char *arg)
{
    const struct lyd_node_opaq *o = (const struct lyd_node_opaq *)n;
    char *path = lyd_parent(n) && lyd_parent(n)->schema ? lyd_path(lyd_parent(n), LYD_PATH_STD, NULL, 0) : NULL;
    struct cfg_err *e = cfg_err_add(errs, tag, CFG_ERRT_APPLICATION, path, "element \"%s\"%s%s: %s%s%s", o->name.name,
                                    path ? " under " : "", path ? path : "", what, arg ? arg : "", arg ? "\"" : "");

    if (e)
        e->bad_element = strdup(o->name.name);
    free(path);
    return e;
}

/* Content that libyang could not bind to the schema: name what is wrong when it is
 * an element or namespace the schema does not have, or a bad operation attribute
 * (RFC 6241 appendix A); anything else is left to the strict parse. */
static bool opaque_check(struct nc_api *api, const struct lyd_node *top, struct cfg_errs *errs)
{
    static const char *const ops[] = {"merge", "replace", "create", "delete", "remove", "none"};
    const struct lyd_node *n;

    LYD_TREE_DFS_BEGIN(top, n) {
        const struct lyd_node_opaq *o = (const struct lyd_node_opaq *)n;
        const struct lys_module *mod;
        const struct lysc_node *parent;

        if (n->schema)
            goto next;
        mod = o->name.module_ns ? ly_ctx_get_module_implemented_ns(api->ctx, o->name.module_ns) : NULL;
        if (!mod) {
            struct cfg_err *e = opaque_err(errs, CFG_ERR_UNKNOWN_NAMESPACE, n,
                                           "no module of this server has the namespace \"",
                                           o->name.module_ns ? o->name.module_ns : "");
            if (e && o->name.module_ns)
                e->bad_namespace = strdup(o->name.module_ns);
            return true;
        }
        parent = lyd_parent(n) ? lyd_parent(n)->schema : NULL;
        if ((!lyd_parent(n) || parent) && !lys_find_child(parent, mod, o->name.name, 0, 0, 0)) {
            opaque_err(errs, CFG_ERR_UNKNOWN_ELEMENT, n, "not part of the schema here", NULL);
            return true;
        }
        for (const struct lyd_attr *a = o->attr; a; a = a->next) {
            bool known = false;

            if (strcmp(a->name.name, "operation") || !a->name.module_ns ||
                strcmp(a->name.module_ns, "urn:ietf:params:xml:ns:netconf:base:1.0"))
                continue;
            for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
                known = known || !strcmp(a->value, ops[i]);
            if (!known) {
                struct cfg_err *e = opaque_err(errs, CFG_ERR_BAD_ATTRIBUTE, n, "unknown operation \"", a->value);
                if (e)
                    e->bad_attribute = strdup("operation");
                return true;
            }
        }
next:
        LYD_TREE_DFS_END(top, n);
    }
    return false;
}

/* The contents of an anyxml/anydata node as configuration data. libyang has already
 * bound them to the schema when it could; otherwise (opaque nodes) they are printed
 * and parsed again strictly, which yields the precise error. */
int nc_any_tree(struct nc_api *api, const struct lyd_node *any, struct lyd_node **tree, struct cfg_errs *errs)
{
    const struct lyd_node_any *a = (const struct lyd_node_any *)any;
    const struct lyd_node *n, *top;
    bool bound = a->value_type == LYD_ANYDATA_DATATREE;
    char *s = NULL;
    int rc = 0;

    *tree = NULL;
    if (bound && !a->value.tree)
        return 0;
    if (bound) {
        LY_LIST_FOR(a->value.tree, top) {
            LYD_TREE_DFS_BEGIN(top, n) {
                if ((!n->schema && !cfg_edit_is_leaf_delete(n, NULL, NULL)) ||
                    (n->schema && (n->schema->flags & LYS_CONFIG_R)))
                    bound = false;
                LYD_TREE_DFS_END(top, n);
            }
        }
    }
    log_debug("netconf", "<%s> contents %s", any->schema->name, bound ? "bound to the schema" : "reparsed");
    if (bound) {
        /* take the tree over: the request is freed after the reply anyway, and a
         * copy of a large configuration costs as much as parsing it */
        struct lyd_node_any *w = (struct lyd_node_any *)any;

        *tree = w->value.tree;
        w->value.tree = NULL;
        return 0;
    }
    if (a->value_type == LYD_ANYDATA_DATATREE) {
        LY_LIST_FOR(a->value.tree, top) {
            if (opaque_check(api, top, errs))
                return -EINVAL;
        }
    }
    if (lyd_any_value_str(any, &s)) {
        cfg_err_add(errs, CFG_ERR_MALFORMED_MESSAGE, CFG_ERRT_RPC, NULL, "cannot read the <%s> contents",
                    any->schema->name);
        return -EINVAL;
    }
    if (s && lyd_parse_data_mem(api->ctx, s, LYD_XML, LYD_PARSE_ONLY | LYD_PARSE_STRICT | LYD_PARSE_NO_STATE, 0,
                                tree)) {
        cfg_err_from_ly(errs, api->ctx, "the configuration data is not valid");
        lyd_free_siblings(*tree);
        *tree = NULL;
        rc = -EINVAL;
    }
    free(s);
    return rc;
}

/* Gives @tree, which nc_any_tree took from @any, back to it when it can hold it
 * (frees it otherwise): the request, and the tree with it, is freed after the
 * reply has gone, so that freeing a large edit does not delay the reply. */
void nc_any_tree_return(const struct lyd_node *any, struct lyd_node *tree)
{
    struct lyd_node_any *w = (struct lyd_node_any *)any;

    if (!tree)
        return;
    if (w && w->value_type == LYD_ANYDATA_DATATREE && !w->value.tree) {
        w->value.tree = tree;
        return;
    }
    lyd_free_siblings(tree);
}

/* <target>/<source>: a datastore name, or inline <config> when @inline_ok. */
static int parse_ds(struct nc_api *api, const struct lyd_node *rpc, const char *which, bool inline_ok, int *ds,
                    struct lyd_node **tree, struct cfg_errs *errs)
{
    const struct lyd_node *w = child(rpc, which), *c;

    *ds = CFG_DS_COUNT; /* none yet */
    if (tree)
        *tree = NULL;
    if (!w)
        goto bad;
    LY_LIST_FOR(lyd_child(w), c) {
        const char *n = c->schema ? c->schema->name : "";

        if (!strcmp(n, "running"))
            *ds = CFG_DS_RUNNING;
        else if (!strcmp(n, "candidate"))
            *ds = CFG_DS_CANDIDATE;
        else if (!strcmp(n, "startup"))
            *ds = CFG_DS_STARTUP;
        else if (!strcmp(n, "config") && inline_ok && tree) {
            *ds = CFG_SRC_INLINE; /* *tree NULL = an empty configuration */
            return nc_any_tree(api, c, tree, errs);
        }
        else if (!strcmp(n, "url")) {
            cfg_err_add(errs, CFG_ERR_OPERATION_NOT_SUPPORTED, CFG_ERRT_PROTOCOL, NULL,
                        "the :url capability is not supported");
            return -EOPNOTSUPP;
        }
        if (*ds != CFG_DS_COUNT)
            return 0;
    }
bad:
    cfg_err_add(errs, CFG_ERR_MISSING_ELEMENT, CFG_ERRT_PROTOCOL, NULL, "<%s> must name a datastore%s", which,
                inline_ok ? " or hold <config>" : "");
    return -EINVAL;
}

/* with-defaults parameter (RFC 6243) */
NC_WD_MODE nc_wd_mode(const struct lyd_node *rpc)
{
    const char *v = nc_child_val(rpc, "with-defaults");

    if (!v)
        return NC_WD_UNKNOWN;
    if (!strcmp(v, "report-all"))
        return NC_WD_ALL;
    if (!strcmp(v, "report-all-tagged"))
        return NC_WD_ALL_TAG;
    if (!strcmp(v, "trim"))
        return NC_WD_TRIM;
    return NC_WD_EXPLICIT;
}

/* <data> reply of get / get-config, @data adopted. report-all-tagged data goes as
 * XML text printed by cfg_print_xml_tagged(): libyang alone would tag defaults in
 * another namespace than RFC 6243 section 6 names. */
struct nc_server_reply *nc_reply_data(struct lyd_node *rpc, struct lyd_node *data, NC_WD_MODE wd)
{
    struct lyd_node *out = NULL;
    char *xml = NULL;
    LY_ERR lr;

    if (lyd_dup_single(rpc, NULL, 0, &out))
        goto fail;
    if (wd == NC_WD_ALL_TAG) {
        if (cfg_print_xml_tagged(data, LYD_PRINT_SHRINK, &xml))
            goto fail;
        lr = lyd_new_any(out, NULL, "data", xml ? xml : "", 0, LYD_ANYDATA_XML, 1, NULL);
        free(xml);
        lyd_free_siblings(data);
        data = NULL;
    } else {
        lr = lyd_new_any(out, NULL, "data", data, 1, LYD_ANYDATA_DATATREE, 1, NULL);
    }
    if (lr)
        goto fail;
    return nc_server_reply_data(out, wd, NC_PARAMTYPE_FREE);
fail:
    lyd_free_siblings(data);
    lyd_free_tree(out);
    return NULL;
}

/* For what this process answers alone (create-subscription, kill-session,
 * get-schema): ravend's NACM decides, with the rules and roles the
 * configuration gives now, as for everything it is asked. */
static bool nacm_allows(struct rpc_req *r, const char *mod, const char *name, struct cfg_errs *errs)
{
    char exec[160];

    snprintf(exec, sizeof(exec), "%s:%s", mod, name);
    return !mc_nacm_check(r->api->mc, &r->actor, exec, NULL, errs);
}

/* ietf-netconf-monitoring and yang-library state for <get>: this process's own, as
 * libnetconf2 here announces the capabilities and serves the schemas. */
static void add_monitoring(struct nc_api *api, struct lyd_node **data)
{
    struct lyd_node *yl = NULL, *ncs = NULL, *caps = NULL, *schemas = NULL;
    const struct lys_module *mod;
    const char **cpblts;
    uint32_t idx = 0;

    if (!ly_ctx_get_yanglib_data(api->ctx, &yl, "%u", ly_ctx_get_change_count(api->ctx)))
        lyd_merge_siblings(data, yl, LYD_MERGE_DESTRUCT);
    if (lyd_new_inner(NULL, ly_ctx_get_module_implemented(api->ctx, "ietf-netconf-monitoring"), "netconf-state", 0,
                      &ncs))
        return;
    lyd_new_inner(ncs, NULL, "capabilities", 0, &caps);
    cpblts = nc_server_get_cpblts(api->ctx);
    for (size_t i = 0; cpblts && cpblts[i]; i++) {
        lyd_new_term(caps, NULL, "capability", cpblts[i], 0, NULL);
        lydict_remove(api->ctx, cpblts[i]); /* the strings live in the context's dictionary */
    }
    free(cpblts);
    lyd_new_inner(ncs, NULL, "schemas", 0, &schemas);
    while ((mod = ly_ctx_get_module_iter(api->ctx, &idx))) {
        struct lyd_node *s = NULL;

        if (lyd_new_list(schemas, NULL, "schema", 0, &s, mod->name, mod->revision ? mod->revision : "", "yang"))
            continue;
        lyd_new_term(s, NULL, "namespace", mod->ns, 0, NULL);
        lyd_new_term(s, NULL, "location", "NETCONF", 0, NULL);
    }
    nc_mon_state(api, ncs);
    lyd_merge_siblings(data, ncs, LYD_MERGE_DESTRUCT);
    nc_notif_streams(api, data);
}

/* The monitoring state selected by @xp (NULL = all of it) in *out. The client's
 * XPath is evaluated here first, so that a libyang crash on it ends this process
 * rather than ravend, which evaluates it again on its own data. */
/* Whether NACM lets @who read the node at @path (ravend decides; any failure
 * to ask is a refusal). */
static bool may_read(struct nc_api *api, const struct cfg_actor *who, const char *path)
{
    struct cfg_errs errs = {0};
    int rc = mc_nacm_check(api->mc, who, NULL, path, &errs);

    cfg_errs_clear(&errs);
    return !rc;
}

/* This process's own state that NACM lets @who read: each top node, and each
 * part of netconf-state (sessions, datastores, statistics, schemas,
 * capabilities) on its own. */
static void nacm_local(struct nc_api *api, const struct cfg_actor *who, struct lyd_node **mon)
{
    struct lyd_node *t, *next, *c, *cnext;

    LY_LIST_FOR_SAFE(*mon, next, t) {
        char path[128];

        snprintf(path, sizeof(path), "/%s:%s", t->schema->module->name, t->schema->name);
        if (!may_read(api, who, path)) {
            if (t == *mon)
                *mon = next;
            lyd_free_tree(t);
            continue;
        }
        if (strcmp(t->schema->name, "netconf-state"))
            continue;
        LY_LIST_FOR_SAFE(lyd_child(t), cnext, c) {
            char sub[192];

            snprintf(sub, sizeof(sub), "%s/%s", path, c->schema->name);
            if (!may_read(api, who, sub))
                lyd_free_tree(c);
        }
    }
}

int nc_local_state(struct nc_api *api, const struct cfg_actor *who, char **xp, struct lyd_node **out,
                   struct cfg_errs *errs)
{
    struct lyd_node *mon = NULL;
    int rc = 0;

    *out = NULL;
    if (xp) {
        /* a filter wholly in raven-vpn (no union) selects none of it: not built */
        size_t i;

        for (i = 0; xp[i] && !strncmp(xp[i], "/raven-vpn:", 11) && !strchr(xp[i], '|'); i++)
            ;
        if (i && !xp[i])
            return 0;
    }
    add_monitoring(api, &mon);
    nacm_local(api, who, &mon);
    if (xp) {
        rc = cfg_tree_select_ctx(api->ctx, mon, (const char *const *)xp, out, errs);
        lyd_free_siblings(mon);
    } else {
        *out = mon;
    }
    return rc;
}

/* <list-pagination> of a <get> (raven-list-pagination): whether present, its
 * values in @pg. */
bool nc_page_of(const struct lyd_node *rpc, struct mc_page *pg)
{
    const struct lyd_node *lp = NULL, *c;

    LY_LIST_FOR(lyd_child(rpc), c) {
        if (c->schema && !strcmp(c->schema->name, "list-pagination") &&
            !strcmp(c->schema->module->name, "raven-list-pagination"))
            lp = c;
    }
    if (!lp)
        return false;
    LY_LIST_FOR(lyd_child(lp), c) {
        const char *v = lyd_get_value(c);

        if (!strcmp(c->schema->name, "limit"))
            pg->limit = strcmp(v, "unbounded") ? strtoull(v, NULL, 10) : 0;
        else if (!strcmp(c->schema->name, "offset"))
            pg->offset = strtoull(v, NULL, 10);
        else if (!strcmp(c->schema->name, "cursor")) {
            pg->cursor = strtoull(v, NULL, 10);
            pg->has_cursor = true;
        }
    }
    return true;
}

int nc_read_state(const struct rpc_req *r, char **xp, struct mc_page *pg, struct lyd_node *mon,
                  struct lyd_node **data, struct cfg_errs *errs)
{
    struct nc_api *api = r->api;
    int rc = pg ? mc_get_state_page(api->mc, &r->actor, (const char *const *)xp, pg, data, errs)
                : mc_get_state(api->mc, &r->actor, (const char *const *)xp, data, errs);

    if (!rc && pg && (rc = nc_page_meta(api, data, pg)))
        cfg_err_add(errs, CFG_ERR_RESOURCE_DENIED, CFG_ERRT_APPLICATION, NULL, "out of memory");
    if (rc || !mon) {
        lyd_free_siblings(mon);
        return rc;
    }
    /* merged, or part of *data */
    if (lyd_merge_siblings(data, mon, LYD_MERGE_DESTRUCT)) {
        cfg_err_add(errs, CFG_ERR_RESOURCE_DENIED, CFG_ERRT_APPLICATION, NULL, "out of memory");
        return -ENOMEM;
    }
    return 0;
}

/* The annotations total, remaining and next on the reply's vpn-state, an empty
 * one added when the page selected none, so that a client walking the pages
 * always learns whether more remain. */
int nc_page_meta(struct nc_api *api, struct lyd_node **data, const struct mc_page *pg)
{
    const struct lys_module *mod = ly_ctx_get_module_implemented(api->ctx, "raven-list-pagination");
    const struct lys_module *vpn = ly_ctx_get_module_implemented(api->ctx, "raven-vpn");
    struct lyd_node *vs = NULL, *n;
    char v[24];

    LY_LIST_FOR(*data, n) {
        if (n->schema && !strcmp(n->schema->name, "vpn-state") && !strcmp(n->schema->module->name, "raven-vpn"))
            vs = n;
    }
    if (!mod || !vpn)
        return 0;
    if (!vs) {
        if (lyd_new_inner(NULL, vpn, "vpn-state", 0, &vs))
            return -ENOMEM;
        vs->flags &= ~LYD_DEFAULT; /* printed although empty */
        if (!*data)
            *data = vs;
        else if (lyd_insert_sibling(*data, vs, data)) {
            lyd_free_tree(vs);
            return -ENOMEM;
        }
    }
    snprintf(v, sizeof(v), "%llu", (unsigned long long)pg->total);
    lyd_new_meta(NULL, vs, mod, "total", v, 0, NULL);
    snprintf(v, sizeof(v), "%llu", (unsigned long long)pg->remaining);
    lyd_new_meta(NULL, vs, mod, "remaining", v, 0, NULL);
    if (pg->next) {
        snprintf(v, sizeof(v), "%llu", (unsigned long long)pg->next);
        lyd_new_meta(NULL, vs, mod, "next", v, 0, NULL);
    }
    return 0;
}

static struct nc_server_reply *op_get(struct rpc_req *r, bool config_only)
{
    struct nc_api *api = r->api;
    struct cfg_errs errs = {0};
    struct lyd_node *data = NULL, *mon = NULL;
    struct mc_page pg = {0};
    bool paged = !config_only && nc_page_of(r->rpc, &pg);
    char **xp = NULL;
    int ds = CFG_DS_RUNNING, rc;

    rc = nc_filter_from_rpc(api->ctx, r->rpc, &xp, &errs);
    if (!rc && config_only)
        rc = parse_ds(api, r->rpc, "source", false, &ds, NULL, &errs);
    if (!rc && (xp || !config_only))
        rc = nc_local_state(api, &r->actor, xp, &mon, &errs);
    if (!rc && config_only) {
        lyd_free_siblings(mon);
        mon = NULL;
        rc = mc_get(api->mc, &r->actor, (enum cfg_ds)ds, (const char *const *)xp, &data, &errs);
    } else if (!rc) {
        rc = nc_read_state(r, xp, paged ? &pg : NULL, mon, &data, &errs);
        mon = NULL; /* adopted */
    }
    lyd_free_siblings(mon);
    nc_filter_free(xp);
    if (rc) {
        lyd_free_siblings(data);
        return nc_reply_errs(api->ctx, &errs);
    }
    return nc_reply_data(r->rpc, data, nc_wd_mode(r->rpc));
}

enum cfg_op nc_parse_defop(const char *v)
{
    if (!v || !strcmp(v, "merge"))
        return CFG_OP_MERGE;
    if (!strcmp(v, "replace"))
        return CFG_OP_REPLACE;
    return CFG_OP_NONE;
}

static struct nc_server_reply *op_edit(struct rpc_req *r)
{
    struct nc_api *api = r->api;
    struct cfg_errs errs = {0};
    struct lyd_node *tree = NULL;
    const struct lyd_node *cfgnode;
    const char *t = nc_child_val(r->rpc, "test-option"), *e = nc_child_val(r->rpc, "error-option");
    enum cfg_test_opt to = CFG_TEST_THEN_SET;
    enum cfg_err_opt eo = CFG_ERROPT_STOP;
    int ds, rc;

    if (t)
        to = !strcmp(t, "test-only") ? CFG_TEST_ONLY : !strcmp(t, "set") ? CFG_TEST_SET : CFG_TEST_THEN_SET;
    if (e)
        eo = !strcmp(e, "continue-on-error") ? CFG_ERROPT_CONTINUE :
             !strcmp(e, "rollback-on-error") ? CFG_ERROPT_ROLLBACK : CFG_ERROPT_STOP;
    rc = parse_ds(api, r->rpc, "target", false, &ds, NULL, &errs);
    if (rc)
        return nc_reply_errs(api->ctx, &errs);
    cfgnode = child(r->rpc, "config");
    if (!cfgnode) {
        cfg_err_add(errs.count ? &errs : &errs, child(r->rpc, "url") ? CFG_ERR_OPERATION_NOT_SUPPORTED :
                                                                       CFG_ERR_MISSING_ELEMENT,
                    CFG_ERRT_PROTOCOL, NULL, "edit-config needs <config> (the :url capability is not supported)");
        return nc_reply_errs(api->ctx, &errs);
    }
    rc = nc_any_tree(api, cfgnode, &tree, &errs);
    if (!rc)
        rc = mc_edit(api->mc, &r->actor, (enum cfg_ds)ds, tree,
                     nc_parse_defop(nc_child_val(r->rpc, "default-operation")), to, eo, &errs);
    nc_any_tree_return(cfgnode, tree);
    return nc_reply_rc(api->ctx, rc, &errs);
}

static struct nc_server_reply *op_copy(struct rpc_req *r)
{
    struct nc_api *api = r->api;
    struct cfg_errs errs = {0};
    struct lyd_node *tree = NULL;
    int dst, src, rc;

    rc = parse_ds(api, r->rpc, "target", false, &dst, NULL, &errs);
    if (!rc)
        rc = parse_ds(api, r->rpc, "source", true, &src, &tree, &errs);
    if (!rc)
        rc = mc_copy(api->mc, &r->actor, (enum cfg_ds)dst, src, tree, &errs);
    lyd_free_siblings(tree);
    return nc_reply_rc(api->ctx, rc, &errs);
}

static struct nc_server_reply *op_simple(struct rpc_req *r, const char *name)
{
    struct nc_api *api = r->api;
    struct cfg_errs errs = {0};
    struct lyd_node *tree = NULL;
    int ds = -1, rc = 0;

    if (!strcmp(name, "lock") || !strcmp(name, "unlock")) {
        /* ravend refuses a read-only user's lock: it would block every writer */
        rc = parse_ds(api, r->rpc, "target", false, &ds, NULL, &errs);
        if (!rc)
            rc = name[0] == 'l' ? mc_lock(api->mc, &r->actor, (enum cfg_ds)ds, &errs) :
                                  mc_unlock(api->mc, &r->actor, (enum cfg_ds)ds, &errs);
    } else if (!strcmp(name, "validate")) {
        rc = parse_ds(api, r->rpc, "source", true, &ds, &tree, &errs);
        if (!rc)
            rc = mc_validate(api->mc, &r->actor, ds, tree, &errs);
    } else if (!strcmp(name, "delete-config")) {
        rc = parse_ds(api, r->rpc, "target", false, &ds, NULL, &errs);
        if (!rc)
            rc = mc_delete_ds(api->mc, &r->actor, (enum cfg_ds)ds, &errs);
    } else if (!strcmp(name, "discard-changes")) {
        rc = mc_discard(api->mc, &r->actor, &errs);
    } else if (!strcmp(name, "commit")) {
        struct cfg_commit_opts o = {0};
        const char *to = nc_child_val(r->rpc, "confirm-timeout");

        o.confirmed = child(r->rpc, "confirmed") != NULL;
        o.timeout_s = to ? (uint32_t)strtoul(to, NULL, 10) : 0;
        o.persist = nc_child_val(r->rpc, "persist");
        o.persist_id = nc_child_val(r->rpc, "persist-id");
        rc = mc_commit(api->mc, &r->actor, &o, &errs);
    } else if (!strcmp(name, "cancel-commit")) {
        rc = mc_cancel_commit(api->mc, &r->actor, nc_child_val(r->rpc, "persist-id"), &errs);
    }
    lyd_free_siblings(tree);
    return nc_reply_rc(api->ctx, rc, &errs);
}

static void time_err(struct cfg_errs *errs, enum cfg_err_tag tag, const char *elem, const char *msg)
{
    struct cfg_err *e = cfg_err_add(errs, tag, CFG_ERRT_PROTOCOL, NULL, "%s", msg);

    if (e)
        e->bad_element = strdup(elem);
}

/* startTime and stopTime of create-subscription (RFC 5277 2.1.1) in ns since the
 * epoch (0: absent). 0, or -EINVAL with the error in @errs. */
static int replay_times(struct rpc_req *r, int64_t *start, int64_t *stop, struct cfg_errs *errs)
{
    const char *name[2] = {"startTime", "stopTime"};
    int64_t *out[2] = {start, stop};
    struct timespec now;

    for (int i = 0; i < 2; i++) {
        const char *v = nc_child_val(r->rpc, name[i]);
        struct timespec ts;

        *out[i] = 0;
        if (!v)
            continue;
        if (ly_time_str2ts(v, &ts) || ts.tv_sec <= 0) {
            time_err(errs, CFG_ERR_BAD_ELEMENT, name[i], "not a date and time after 1970");
            return -EINVAL;
        }
        *out[i] = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    }
    clock_gettime(CLOCK_REALTIME, &now);
    if (*stop && !*start) {
        time_err(errs, CFG_ERR_MISSING_ELEMENT, "startTime", "stopTime needs startTime (RFC 5277)");
        return -EINVAL;
    }
    if (*start > (int64_t)now.tv_sec * 1000000000 + now.tv_nsec) {
        time_err(errs, CFG_ERR_BAD_ELEMENT, "startTime", "startTime is later than the current time");
        return -EINVAL;
    }
    if (*stop && *stop < *start) {
        time_err(errs, CFG_ERR_BAD_ELEMENT, "stopTime", "stopTime is earlier than startTime");
        return -EINVAL;
    }
    return 0;
}

/* create-subscription on the NETCONF stream; with startTime, the notifications of
 * ravend's replay log from then (to stopTime) come first, then replayComplete
 * (nc_notif.c). */
static struct nc_server_reply *op_subscribe(struct rpc_req *r, struct nc_session *session)
{
    struct nc_api *api = r->api;
    struct cfg_errs errs = {0};
    const char *stream = nc_child_val(r->rpc, "stream");
    struct lyd_node *c;
    int64_t start, stop;
    struct nc_sess *s;

    if (stream && strcmp(stream, "NETCONF")) {
        cfg_err_add(&errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_APPLICATION, NULL,
                    "unknown stream \"%s\"; the only stream is NETCONF", stream);
        return nc_reply_errs(api->ctx, &errs);
    }
    LY_LIST_FOR(lyd_child(r->rpc), c) {
        if (c->schema && !strcmp(c->schema->name, "filter")) {
            cfg_err_add(&errs, CFG_ERR_OPERATION_NOT_SUPPORTED, CFG_ERRT_PROTOCOL, NULL,
                        "create-subscription takes no filter here: the NETCONF stream comes whole (what NACM "
                        "lets the user read); subscribe without <filter>");
            return nc_reply_errs(api->ctx, &errs);
        }
    }
    if (replay_times(r, &start, &stop, &errs))
        return nc_reply_errs(api->ctx, &errs);
    pthread_mutex_lock(&api->sess_lock);
    s = nc_sess_find(api, r->actor.sid);
    if (s && s->subscribed) {
        pthread_mutex_unlock(&api->sess_lock);
        cfg_err_add(&errs, CFG_ERR_IN_USE, CFG_ERRT_PROTOCOL, NULL, "this session already has a subscription");
        return nc_reply_errs(api->ctx, &errs);
    }
    if (s) {
        s->subscribed = true;
        s->replay_pending = start != 0;
        s->replay_ready = false;
        s->replaying = false;
        s->start_ns = start;
        s->stop_ns = stop;
        nc_session_inc_notif_status(session);
    }
    pthread_mutex_unlock(&api->sess_lock);
    /* ravend sends events only while someone subscribes: once it has
     * acknowledged the interest, no event can be missed */
    if (s && nc_notif_interest(api)) {
        pthread_mutex_lock(&api->sess_lock);
        s = nc_sess_find(api, r->actor.sid);
        if (s && s->subscribed) {
            s->subscribed = false;
            s->replay_pending = false;
            nc_session_dec_notif_status(session);
        }
        pthread_mutex_unlock(&api->sess_lock);
        cfg_err_add(&errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, NULL,
                    "the daemon is not reachable; try again");
        return nc_reply_errs(api->ctx, &errs);
    }
    /* with startTime, the notification thread asks for the log once this reply is
     * out (nc_notif_replied) */
    return nc_server_reply_ok();
}

/* get-schema (RFC 6022): the YANG or YIN text of a module of the context. Answered
 * here rather than by libnetconf2's built-in handler, whose reply reads freed text. */
static struct nc_server_reply *op_get_schema(struct rpc_req *r)
{
    struct nc_api *api = r->api;
    struct cfg_errs errs = {0};
    const char *id = nc_child_val(r->rpc, "identifier"), *ver = nc_child_val(r->rpc, "version");
    const char *fmt = nc_child_val(r->rpc, "format");
    const struct lys_module *mod = NULL;
    const struct lysp_submodule *sub = NULL;
    LYS_OUTFORMAT of = LYS_OUT_YANG;
    struct lyd_node *out = NULL;
    char *text = NULL;

    if (fmt && strstr(fmt, "yin"))
        of = LYS_OUT_YIN;
    else if (fmt && !strstr(fmt, "yang")) {
        cfg_err_add(&errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_APPLICATION, NULL,
                    "schema format \"%s\" is not available; use yang or yin", fmt);
        return nc_reply_errs(api->ctx, &errs);
    }
    if (id) {
        mod = ver && ver[0] ? ly_ctx_get_module(api->ctx, id, ver) : ly_ctx_get_module_latest(api->ctx, id);
        if (!mod)
            sub = ly_ctx_get_submodule(api->ctx, id, ver && ver[0] ? ver : NULL);
    }
    if (!mod && !sub) {
        cfg_err_add(&errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_APPLICATION, NULL,
                    "no schema \"%s\"%s%s in this server", id ? id : "", ver && ver[0] ? " revision " : "",
                    ver && ver[0] ? ver : "");
        return nc_reply_errs(api->ctx, &errs);
    }
    if ((mod ? lys_print_mem(&text, mod, of, 0) : lys_print_submodule(NULL, sub, of, 0, 0)) || !text) {
        cfg_err_add(&errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, NULL, "cannot print schema %s", id);
        return nc_reply_errs(api->ctx, &errs);
    }
    if (lyd_dup_single(r->rpc, NULL, 0, &out) ||
        lyd_new_any(out, NULL, "data", text, 0, LYD_ANYDATA_STRING, 1, NULL)) {
        free(text);
        lyd_free_tree(out);
        return NULL;
    }
    free(text);
    return nc_server_reply_data(out, NC_WD_EXPLICIT, NC_PARAMTYPE_FREE);
}

/* An RPC of the raven modules, run by ravend. */
static struct nc_server_reply *op_daemon(struct rpc_req *r)
{
    struct nc_api *api = r->api;
    struct cfg_errs errs = {0};
    struct lyd_node *out = NULL;
    int rc;

    if (lyd_dup_single(r->rpc, NULL, 0, &out))
        return nc_reply_rc(api->ctx, -ENOMEM, &errs);
    rc = mc_rpc(api->mc, &r->actor, r->rpc, out, &errs);
    if (rc) {
        lyd_free_tree(out);
        return nc_reply_rc(api->ctx, rc, &errs);
    }
    if (!lyd_child(out)) {
        lyd_free_tree(out);
        return nc_server_reply_ok();
    }
    return nc_server_reply_data(out, NC_WD_EXPLICIT, NC_PARAMTYPE_FREE);
}

static struct nc_server_reply *op_ravend(struct rpc_req *r)
{
    const char *name = r->rpc->schema->name;

    if (strcmp(r->rpc->schema->module->name, "ietf-netconf"))
        return op_daemon(r);
    if (!strcmp(name, "get"))
        return op_get(r, false);
    if (!strcmp(name, "get-config"))
        return op_get(r, true);
    if (!strcmp(name, "edit-config"))
        return op_edit(r);
    if (!strcmp(name, "copy-config"))
        return op_copy(r);
    return op_simple(r, name);
}

static struct nc_server_reply *op_kill(struct rpc_req *r)
{
    struct nc_api *api = r->api;
    struct cfg_errs errs = {0};
    const char *v = nc_child_val(r->rpc, "session-id");
    uint32_t sid = v ? (uint32_t)strtoul(v, NULL, 10) : 0;
    struct nc_sess *s;

    if (sid == r->actor.sid) {
        cfg_err_add(&errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL,
                    "kill-session cannot end the session it is sent on; use close-session");
        return nc_reply_errs(api->ctx, &errs);
    }
    pthread_mutex_lock(&api->sess_lock);
    s = nc_sess_find(api, sid);
    if (s) {
        nc_session_set_term_reason(s->s, NC_SESSION_TERM_KILLED);
        nc_session_set_killed_by(s->s, r->actor.sid);
        nc_session_set_status(s->s, NC_STATUS_INVALID);
    }
    pthread_mutex_unlock(&api->sess_lock);
    if (!s) {
        cfg_err_add(&errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL, "no session with id %u", sid);
        return nc_reply_errs(api->ctx, &errs);
    }
    log_info("netconf", "session %u killed by session %u", sid, r->actor.sid);
    /* release its locks now, so the killer can take them at once */
    nc_sess_end(api, sid);
    return nc_server_reply_ok();
}

struct nc_server_reply *nc_rpc_dispatch(struct lyd_node *rpc, struct nc_session *session)
{
    struct nc_api *api = nc_rpc_api;
    struct rpc_req r = {.api = api, .rpc = rpc};
    const char *name = rpc->schema ? rpc->schema->name : "";
    const char *mod = rpc->schema ? rpc->schema->module->name : "";
    struct cfg_errs errs = {0};

    r.actor.sid = nc_session_get_id(session);
    r.actor.user = nc_session_get_username(session);
    r.actor.host = nc_session_get_host(session);
    r.role = nc_sess_role(api, r.actor.sid);
    if (r.role < 0) {
        cfg_err_add(&errs, CFG_ERR_ACCESS_DENIED, CFG_ERRT_PROTOCOL, NULL, "session %u is not registered",
                    r.actor.sid);
        return nc_reply_errs(api->ctx, &errs);
    }
    /* the operations this process answers itself (the others ravend checks) */
    if ((!strcmp(mod, "notifications") && !strcmp(name, "create-subscription")) ||
        (!strcmp(mod, "ietf-netconf") && !strcmp(name, "kill-session")) ||
        (!strcmp(mod, "ietf-netconf-monitoring") && !strcmp(name, "get-schema")) ||
        !strcmp(mod, "ietf-netconf-partial-lock") || !strcmp(mod, "ietf-netconf-nmda")) {
        if (!nacm_allows(&r, mod, name, &errs))
            return nc_reply_errs(api->ctx, &errs);
    }
    if (!strcmp(mod, "notifications") && !strcmp(name, "create-subscription"))
        return op_subscribe(&r, session);
    if (!strcmp(mod, "ietf-netconf") && !strcmp(name, "kill-session"))
        return op_kill(&r);
    if (!strcmp(mod, "ietf-netconf-monitoring") && !strcmp(name, "get-schema"))
        return op_get_schema(&r);
    if (!strcmp(mod, "ietf-netconf-partial-lock") && !strcmp(name, "partial-lock"))
        return nc_op_partial_lock(&r);
    if (!strcmp(mod, "ietf-netconf-partial-lock") && !strcmp(name, "partial-unlock"))
        return nc_op_partial_unlock(&r);
    if (!strcmp(mod, "ietf-netconf-nmda") && !strcmp(name, "get-data"))
        return nc_op_get_data(&r);
    if (!strcmp(mod, "ietf-netconf-nmda") && !strcmp(name, "edit-data"))
        return nc_op_edit_data(&r);
    if (strcmp(mod, "ietf-netconf") && strcmp(mod, "raven-vpn")) {
        cfg_err_add(&errs, CFG_ERR_OPERATION_NOT_SUPPORTED, CFG_ERRT_PROTOCOL, NULL,
                    "operation %s:%s is not supported yet", mod, name);
        return nc_reply_errs(api->ctx, &errs);
    }
    return op_ravend(&r);
}
