/* The NMDA operations of RFC 8526: get-data from running, candidate, startup or
 * operational (ravend's state with running, and this process's monitoring state),
 * with a subtree or XPath filter, config-filter, max-depth and with-defaults; and
 * edit-data of running or candidate (startup refused by ravend, as for
 * edit-config). Origin annotations (the "origin"
 * feature) are not offered, so libnetconf2 refuses with-origin and the origin
 * filters as unknown elements while it parses the request. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/netconf/nc_impl.h"
#include "daemon/base/poison.h"

/* The datastore an identity names: a cfg_ds, CFG_DS_COUNT for operational, -1 for
 * one Raven does not have (intended, or another module's). */
static int ds_of(const char *v)
{
    static const struct {
        const char *name;
        int ds;
    } map[] = {{"ietf-datastores:running", CFG_DS_RUNNING},
               {"ietf-datastores:candidate", CFG_DS_CANDIDATE},
               {"ietf-datastores:startup", CFG_DS_STARTUP},
               {"ietf-datastores:operational", CFG_DS_COUNT}};

    for (size_t i = 0; v && i < sizeof(map) / sizeof(map[0]); i++)
        if (!strcmp(v, map[i].name))
            return map[i].ds;
    return -1;
}

static const struct lyd_node *child_node(const struct lyd_node *n, const char *name)
{
    const struct lyd_node *c;

    LY_LIST_FOR(lyd_child(n), c) {
        if (c->schema && !strcmp(c->schema->name, name))
            return c;
    }
    return NULL;
}

/* The XPaths of the subtree-filter or xpath-filter (NULL: none). */
static int filter_xpaths(struct nc_api *api, const struct lyd_node *rpc, char ***xp, struct cfg_errs *errs)
{
    const struct lyd_node *f;

    *xp = NULL;
    if ((f = child_node(rpc, "xpath-filter"))) {
        /* yang:xpath1.0: libyang has put module names for the client's prefixes */
        *xp = calloc(2, sizeof(char *));
        if (!*xp || !((*xp)[0] = strdup(lyd_get_value(f)))) {
            nc_filter_free(*xp);
            *xp = NULL;
            return -ENOMEM;
        }
        return 0;
    }
    if ((f = child_node(rpc, "subtree-filter"))) {
        const struct lyd_node_any *any = (const struct lyd_node_any *)f;

        if (any->value_type != LYD_ANYDATA_DATATREE && any->value.str) {
            cfg_err_add(errs, CFG_ERR_BAD_ELEMENT, CFG_ERRT_PROTOCOL, NULL, "the subtree filter cannot be read");
            return -EINVAL;
        }
        return nc_filter_subtree_xpaths(api->ctx, any->value_type == LYD_ANYDATA_DATATREE ? any->value.tree : NULL,
                                        xp);
    }
    return 0;
}

/* config-filter: keeps only configuration (@config: state nested in it too is
 * dropped, RFC 8526 3.1.1) or only state with the configuration above it and
 * list keys. Whether @n is kept. */
static bool keep_config(struct lyd_node *n, bool config)
{
    struct lyd_node *c, *next;
    bool any = false;

    if (!n->schema)
        return config;
    if (n->schema->flags & LYS_CONFIG_R)
        return !config;
    LY_LIST_FOR_SAFE(lyd_child(n), next, c) {
        if (c->schema && lysc_is_key(c->schema))
            continue;
        if (keep_config(c, config))
            any = true;
        else
            lyd_free_tree(c);
    }
    return config || any;
}

/* max-depth: nodes deeper than @depth levels (top-level: 1) dropped, list keys
 * kept with their list. */
static void cut_depth(struct lyd_node *n, unsigned int level, unsigned int depth)
{
    struct lyd_node *c, *next;

    LY_LIST_FOR_SAFE(lyd_child(n), next, c) {
        if (level >= depth && !(c->schema && lysc_is_key(c->schema)))
            lyd_free_tree(c);
        else
            cut_depth(c, level + 1, depth);
    }
}

static void prune(struct lyd_node **data, const char *config, const char *depth)
{
    struct lyd_node *n, *next;
    unsigned int d = depth && strcmp(depth, "unbounded") ? (unsigned int)strtoul(depth, NULL, 10) : 0;

    LY_LIST_FOR_SAFE(*data, next, n) {
        if (config && !keep_config(n, !strcmp(config, "true"))) {
            if (n == *data)
                *data = next;
            lyd_free_tree(n);
            continue;
        }
        if (d)
            cut_depth(n, 1, d);
    }
}

struct nc_server_reply *nc_op_get_data(struct rpc_req *r)
{
    struct nc_api *api = r->api;
    struct cfg_errs errs = {0};
    struct lyd_node *data = NULL, *mon = NULL;
    const char *dsv = nc_child_val(r->rpc, "datastore"), *depth = nc_child_val(r->rpc, "max-depth");
    int ds = ds_of(dsv), rc;
    struct mc_page pg = {0};
    bool paged = nc_page_of(r->rpc, &pg);
    char **xp = NULL;

    if (ds < 0) {
        cfg_err_add(&errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL,
                    "datastore %s is not one of this server's: running, candidate, startup, operational",
                    dsv ? dsv : "?");
        return nc_reply_errs(api->ctx, &errs);
    }
    rc = filter_xpaths(api, r->rpc, &xp, &errs);
    if (!rc && xp && depth && strcmp(depth, "unbounded")) {
        cfg_err_add(&errs, CFG_ERR_OPERATION_NOT_SUPPORTED, CFG_ERRT_PROTOCOL, NULL,
                    "max-depth together with a filter is not supported; max-depth counts from the top level");
        rc = -EOPNOTSUPP;
    }
    if (!rc && paged && ds != CFG_DS_COUNT) {
        cfg_err_add(&errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL,
                    "list-pagination pages the session list of the operational datastore only");
        rc = -EINVAL;
    }
    if (!rc && ds != CFG_DS_COUNT) {
        rc = mc_get(api->mc, &r->actor, (enum cfg_ds)ds, (const char *const *)xp, &data, &errs);
    } else if (!rc) {
        rc = nc_local_state(api, &r->actor, xp, &mon, &errs);
        if (!rc) {
            rc = nc_read_state(r, xp, paged ? &pg : NULL, mon, &data, &errs);
            mon = NULL; /* adopted */
        }
    }
    lyd_free_siblings(mon);
    nc_filter_free(xp);
    if (rc) {
        lyd_free_siblings(data);
        return nc_reply_errs(api->ctx, &errs);
    }
    prune(&data, nc_child_val(r->rpc, "config-filter"), depth);
    return nc_reply_data(r->rpc, data, nc_wd_mode(r->rpc));
}

struct nc_server_reply *nc_op_edit_data(struct rpc_req *r)
{
    struct nc_api *api = r->api;
    struct cfg_errs errs = {0};
    const char *dsv = nc_child_val(r->rpc, "datastore");
    const struct lyd_node *cfgnode = child_node(r->rpc, "config");
    struct lyd_node *tree = NULL;
    int ds = ds_of(dsv), rc;

    if (ds == CFG_DS_COUNT || ds < 0) {
        cfg_err_add(&errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL,
                    ds < 0 ? "datastore %s is not one of this server's: running, candidate, startup"
                           : "datastore %s is not writable; edit running, candidate or startup",
                    dsv ? dsv : "?");
        return nc_reply_errs(api->ctx, &errs);
    }
    if (!cfgnode) {
        cfg_err_add(&errs, child_node(r->rpc, "url") ? CFG_ERR_OPERATION_NOT_SUPPORTED : CFG_ERR_MISSING_ELEMENT,
                    CFG_ERRT_PROTOCOL, NULL, "edit-data needs <config> (the :url capability is not supported)");
        return nc_reply_errs(api->ctx, &errs);
    }
    rc = nc_any_tree(api, cfgnode, &tree, &errs);
    if (!rc)
        rc = mc_edit(api->mc, &r->actor, (enum cfg_ds)ds, tree,
                     nc_parse_defop(nc_child_val(r->rpc, "default-operation")), CFG_TEST_THEN_SET, CFG_ERROPT_STOP,
                     &errs);
    nc_any_tree_return(cfgnode, tree);
    return nc_reply_rc(api->ctx, rc, &errs);
}
