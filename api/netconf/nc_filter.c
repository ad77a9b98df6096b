/* NETCONF subtree filtering (RFC 6241 section 6) by translation into XPath: each
 * containment node becomes a path step, content-match leaves become predicates, and
 * selection nodes end a path. The datastore then selects with libyang's XPath. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/netconf/nc_api.h"
#include "daemon/base/poison.h"

struct xp_list {
    char **v;
    size_t n, cap;
};

static int xp_add(struct xp_list *l, char *s)
{
    if (!s)
        return -ENOMEM;
    if (l->n + 2 > l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        char **nv = realloc(l->v, cap * sizeof(*nv));
        if (!nv) {
            free(s);
            return -ENOMEM;
        }
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = s;
    l->v[l->n] = NULL;
    return 0;
}

static bool blank(const char *s)
{
    for (; s && *s; s++) {
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return false;
    }
    return true;
}

/* Filter elements arrive as schema-bound nodes when libyang recognised them and as
 * opaque nodes otherwise (e.g. a list entry without its keys): handle both. */

/* "mod:name" for a filter element, resolving its namespace; NULL when no module of
 * the context has that namespace (such a filter matches nothing). */
static char *qname(const struct ly_ctx *ctx, const struct lyd_node *n)
{
    const struct lyd_node_opaq *o = (const struct lyd_node_opaq *)n;
    const struct lys_module *mod;
    const char *name;
    char *s = NULL;

    if (n->schema) {
        mod = n->schema->module;
        name = n->schema->name;
    } else {
        mod = o->name.module_ns ? ly_ctx_get_module_implemented_ns(ctx, o->name.module_ns) : NULL;
        name = o->name.name;
    }
    if (!mod)
        return NULL;
    if (asprintf(&s, "%s:%s", mod->name, name) < 0)
        return NULL;
    return s;
}

/* The text of a leaf-like filter element, "" for containers. */
static const char *text(const struct lyd_node *n)
{
    if (!n->schema)
        return ((const struct lyd_node_opaq *)n)->value;
    if (n->schema->nodetype & LYD_NODE_TERM)
        return lyd_get_value(n);
    return "";
}

/* base + [name='value'], quoting with " when the value holds a ' */
static char *append_pred(char *base, const char *name, const char *value)
{
    char q = strchr(value, '\'') ? '"' : '\'';
    char *s = NULL;

    if (asprintf(&s, "%s[%s=%c%s%c]", base, name, q, value, q) < 0)
        s = NULL;
    free(base);
    return s;
}

static int walk(const struct ly_ctx *ctx, const struct lyd_node *e, const char *prefix, struct xp_list *l)
{
    const struct lyd_node *c;
    char *q, *path;
    bool more = false;
    int rc = 0;

    q = qname(ctx, e);
    if (!q)
        return 0; /* unknown namespace: selects nothing */
    if (asprintf(&path, "%s/%s", prefix, q) < 0) {
        free(q);
        return -ENOMEM;
    }
    free(q);
    /* content-match nodes become predicates */
    for (c = lyd_child(e); c && path; c = c->next) {
        char *cq;

        if (lyd_child(c) || blank(text(c)))
            continue;
        cq = qname(ctx, c);
        if (!cq)
            continue;
        path = append_pred(path, cq, text(c));
        free(cq);
    }
    if (!path)
        return -ENOMEM;
    for (c = lyd_child(e); c && !rc; c = c->next) {
        if (lyd_child(c)) {
            more = true;
            rc = walk(ctx, c, path, l);
        } else if (blank(text(c))) {
            char *cq = qname(ctx, c), *sel = NULL;

            more = true;
            if (cq && asprintf(&sel, "%s/%s", path, cq) >= 0)
                rc = xp_add(l, sel);
            free(cq);
        }
    }
    if (!rc && !more) {
        rc = xp_add(l, path);
        path = NULL;
    }
    free(path);
    return rc;
}

int nc_filter_subtree_xpaths(const struct ly_ctx *ctx, const struct lyd_node *filter_children, char ***xpaths)
{
    struct xp_list l = {0};
    const struct lyd_node *e;
    int rc = 0;

    *xpaths = NULL;
    l.v = calloc(1, sizeof(*l.v));
    if (!l.v)
        return -ENOMEM;
    l.cap = 1;
    LY_LIST_FOR(filter_children, e) {
        rc = walk(ctx, e, "", &l);
        if (rc)
            break;
    }
    if (rc) {
        nc_filter_free(l.v);
        return rc;
    }
    *xpaths = l.v;
    return 0;
}

void nc_filter_free(char **xpaths)
{
    if (!xpaths)
        return;
    for (char **p = xpaths; *p; p++)
        free(*p);
    free(xpaths);
}

int nc_filter_from_rpc(const struct ly_ctx *ctx, const struct lyd_node *rpc, char ***xpaths, struct cfg_errs *errs)
{
    const struct lyd_node *f = NULL, *c;
    const struct lyd_meta *type, *sel;
    const struct lyd_node_any *any;

    *xpaths = NULL;
    LY_LIST_FOR(lyd_child(rpc), c) {
        if (c->schema && !strcmp(c->schema->name, "filter"))
            f = c;
    }
    if (!f)
        return 0;
    type = lyd_find_meta(f->meta, NULL, "ietf-netconf:type");
    if (type && !strcmp(lyd_get_meta_value(type), "xpath")) {
        sel = lyd_find_meta(f->meta, NULL, "ietf-netconf:select");
        if (!sel) {
            cfg_err_add(errs, CFG_ERR_MISSING_ATTRIBUTE, CFG_ERRT_PROTOCOL, NULL,
                        "an XPath filter needs the select attribute");
            return -EINVAL;
        }
        *xpaths = calloc(2, sizeof(char *));
        if (!*xpaths || !((*xpaths)[0] = strdup(lyd_get_meta_value(sel)))) {
            nc_filter_free(*xpaths);
            *xpaths = NULL;
            return -ENOMEM;
        }
        return 0;
    }
    if (type && strcmp(lyd_get_meta_value(type), "subtree")) {
        cfg_err_add(errs, CFG_ERR_BAD_ATTRIBUTE, CFG_ERRT_PROTOCOL, NULL,
                    "filter type \"%s\" is not supported; use subtree or xpath", lyd_get_meta_value(type));
        return -EINVAL;
    }
    any = (const struct lyd_node_any *)f;
    if (any->value_type != LYD_ANYDATA_DATATREE && any->value.str) {
        cfg_err_add(errs, CFG_ERR_BAD_ELEMENT, CFG_ERRT_PROTOCOL, NULL, "the subtree filter cannot be read");
        return -EINVAL;
    }
    return nc_filter_subtree_xpaths(ctx, any->value_type == LYD_ANYDATA_DATATREE ? any->value.tree : NULL, xpaths);
}
