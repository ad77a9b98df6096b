/* The configuration handler table of ravend: which subsystem acts on which subtree
 * of raven-vpn. cfg_handlers_check() refuses to start when a configuration node has
 * no handler, so adding a YANG node without deciding who owns it fails loudly.
 *
 * The management subtree is live: users, NETCONF and REST endpoints and the REST
 * certificate change on commit, and prepare refuses endpoints that cannot be
 * listened on (the REST server starts its new endpoints in prepare, answering 503
 * until apply; a dry run only probes them). The IKEv2, IPsec, pools,
 * access-list, PKI and AAA subtrees belong to the IKEv2 engine (ravend_vpn.c; the
 * RADIUS client will register on AAA too), the dataplane subtree to the dataplane
 * (ravend_vpn.c as well). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/log.h"
#include "daemon/ravend.h"
#include "daemon/base/poison.h"

#define MGMT "/raven-vpn:management"

struct mgmt {
    struct nc_api *nc;
    struct rest_api *rest;
    struct rest_conf rconf;
    /* built in prepare, handed over in apply, freed in abort */
    struct nc_user *users;
    size_t nusers;
    struct nc_endpoint *eps;
    size_t neps;
};

static void mgmt_clear(struct mgmt *m)
{
    nc_user_free_array(m->users, m->nusers);
    nc_endpoint_free_array(m->eps, m->neps);
    m->users = NULL;
    m->eps = NULL;
    m->nusers = m->neps = 0;
    rest_conf_clear(&m->rconf);
}

static char *val(const struct lyd_node *parent, const char *path)
{
    struct lyd_node *n = NULL;

    if (lyd_find_path(parent, path, 0, &n) || !n)
        return NULL;
    return strdup(lyd_get_value(n));
}

static int build_users(struct mgmt *m, const struct lyd_node *tree)
{
    struct ly_set *set = NULL;
    int rc = 0;

    if (!tree || lyd_find_xpath(tree, MGMT "/user", &set))
        return 0;
    m->users = calloc(set->count ? set->count : 1, sizeof(*m->users));
    if (!m->users) {
        rc = -ENOMEM;
        goto out;
    }
    for (uint32_t i = 0; i < set->count; i++) {
        struct nc_user *u = &m->users[m->nusers++];
        const struct lyd_node *c;
        char *role;

        u->name = val(set->dnodes[i], "name");
        u->password_hash = val(set->dnodes[i], "password-hash");
        role = val(set->dnodes[i], "role");
        u->role = role && !strcmp(role, "admin") ? NC_ROLE_ADMIN : NC_ROLE_READ_ONLY;
        free(role);
        LY_LIST_FOR(lyd_child(set->dnodes[i]), c) {
            char **nk;

            if (strcmp(c->schema->name, "authorized-key"))
                continue;
            nk = realloc(u->keys, (u->nkeys + 1) * sizeof(*nk));
            if (!nk) {
                rc = -ENOMEM;
                goto out;
            }
            u->keys = nk;
            u->keys[u->nkeys++] = strdup(lyd_get_value(c));
        }
    }
out:
    ly_set_free(set, NULL);
    return rc;
}

static int build_endpoints(struct mgmt *m, const struct lyd_node *tree, struct cfg_errs *errs)
{
    struct ly_set *set = NULL;
    struct lyd_node *en = NULL;
    int rc = 0;

    if (!tree)
        return 0;
    if (!lyd_find_path(tree, MGMT "/netconf/enabled", 0, &en) && en && !strcmp(lyd_get_value(en), "false"))
        return 0;
    if (lyd_find_xpath(tree, MGMT "/netconf/endpoint", &set))
        return 0;
    m->eps = calloc(set->count ? set->count : 1, sizeof(*m->eps));
    if (!m->eps) {
        rc = -ENOMEM;
        goto out;
    }
    for (uint32_t i = 0; i < set->count; i++) {
        struct nc_endpoint *e = &m->eps[m->neps++];
        char *port = val(set->dnodes[i], "port");
        int r;

        e->name = val(set->dnodes[i], "name");
        e->address = val(set->dnodes[i], "address");
        e->port = port ? (uint16_t)atoi(port) : 830;
        free(port);
        r = nc_api_can_listen(m->nc, e->address, e->port);
        if (r) {
            char *p = lyd_path(set->dnodes[i], LYD_PATH_STD, NULL, 0);
            cfg_err_add(errs, CFG_ERR_RESOURCE_DENIED, CFG_ERRT_APPLICATION, p,
                        "NETCONF endpoint %s cannot listen on %s port %u: %s; choose a free address and port",
                        e->name, e->address, e->port, strerror(-r));
            free(p);
            rc = r;
        }
    }
out:
    ly_set_free(set, NULL);
    return rc;
}

static int build_rest(struct mgmt *m, const struct lyd_node *tree, bool dry_run, struct cfg_errs *errs)
{
    struct ly_set *set = NULL;
    struct lyd_node *en = NULL;
    struct rest_conf *c = &m->rconf;

    c->enabled = !(tree && !lyd_find_path(tree, MGMT "/rest/enabled", 0, &en) && en &&
                   !strcmp(lyd_get_value(en), "false"));
    if (!tree || !c->enabled)
        return 0;
    c->cert_pem = val(tree, MGMT "/rest/certificate");
    c->key_pem = val(tree, MGMT "/rest/private-key");
    if (lyd_find_xpath(tree, MGMT "/rest/endpoint", &set))
        return 0;
    c->eps = calloc(set->count ? set->count : 1, sizeof(*c->eps));
    if (!c->eps) {
        ly_set_free(set, NULL);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < set->count; i++) {
        struct rest_endpoint *e = &c->eps[c->neps++];
        char *port = val(set->dnodes[i], "port");

        e->name = val(set->dnodes[i], "name");
        e->address = val(set->dnodes[i], "address");
        e->port = port ? (uint16_t)atoi(port) : 443;
        free(port);
    }
    ly_set_free(set, NULL);
    return rest_api_prepare(m->rest, c, dry_run, errs);
}

/* Whether @tree enables REST with at least one endpoint. */
static bool rest_would_serve(const struct lyd_node *tree)
{
    struct lyd_node *n = NULL;
    struct ly_set *set = NULL;
    bool any;

    if (!tree)
        return false;
    if (!lyd_find_path(tree, MGMT "/rest/enabled", 0, &n) && n && !strcmp(lyd_get_value(n), "false"))
        return false;
    if (lyd_find_xpath(tree, MGMT "/rest/endpoint", &set))
        return false;
    any = set->count > 0;
    ly_set_free(set, NULL);
    return any;
}

static bool has_admin(const struct mgmt *m)
{
    for (size_t i = 0; i < m->nusers; i++) {
        if (m->users[i].role == NC_ROLE_ADMIN && (m->users[i].password_hash || m->users[i].nkeys))
            return true;
    }
    return false;
}

static int mgmt_prepare(struct cfg_txn *txn, void *arg, struct cfg_errs *errs)
{
    struct mgmt *m = arg;
    int rc;

    mgmt_clear(m);
    rc = build_users(m, cfg_txn_new(txn));
    if (!rc)
        rc = build_endpoints(m, cfg_txn_new(txn), errs);
    if (!rc && !cfg_txn_is_initial(txn) && !m->neps &&
        !rest_would_serve(cfg_txn_new(txn))) {
        cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, MGMT,
                    "the change would leave no NETCONF or REST endpoint, locking every operator out; keep at "
                    "least one enabled endpoint");
        rc = -EPERM;
    }
    if (!rc)
        rc = build_rest(m, cfg_txn_new(txn), cfg_txn_is_dry_run(txn), errs);
    if (!rc && !cfg_txn_is_initial(txn) && !has_admin(m)) {
        cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, MGMT "/user",
                    "the change would leave no admin user with a password or key, locking every operator out; "
                    "keep at least one");
        rc = -EPERM;
    }
    if (rc) {
        rest_api_abort(m->rest);
        mgmt_clear(m);
    }
    return rc;
}

static void mgmt_abort(struct cfg_txn *txn, void *arg)
{
    struct mgmt *m = arg;

    rest_api_abort(m->rest);
    mgmt_clear(m);
}

static void mgmt_apply(struct cfg_txn *txn, void *arg)
{
    struct mgmt *m = arg;

    log_info("ravend", "management: %zu user(s), %zu NETCONF endpoint(s), %zu REST endpoint(s)", m->nusers, m->neps,
             m->rconf.enabled ? m->rconf.neps : 0);
    {
        struct rest_user *ru = calloc(m->nusers ? m->nusers : 1, sizeof(*ru));

        for (size_t i = 0; ru && i < m->nusers; i++) {
            ru[i].name = m->users[i].name;
            ru[i].password_hash = m->users[i].password_hash;
            ru[i].role = m->users[i].role == NC_ROLE_ADMIN ? REST_ROLE_ADMIN : REST_ROLE_READ_ONLY;
        }
        if (ru)
            rest_api_set_users(m->rest, ru, m->nusers);
        free(ru);
    }
    rest_api_commit(m->rest);
    nc_api_set_users(m->nc, m->users, m->nusers);
    m->users = NULL;
    m->nusers = 0;
    nc_api_set_endpoints(m->nc, m->eps, m->neps);
    mgmt_clear(m);
}

static struct mgmt mgmt_state;

int ravend_handlers_register(struct cfg *cfg, struct nc_api *nc, struct rest_api *rest)
{
    struct cfg_handler h = {.name = "management", .path = MGMT, .prepare = mgmt_prepare, .abort = mgmt_abort,
                            .apply = mgmt_apply, .arg = &mgmt_state};

    mgmt_state.nc = nc;
    mgmt_state.rest = rest;
    return cfg_handler_register(cfg, &h);
}
