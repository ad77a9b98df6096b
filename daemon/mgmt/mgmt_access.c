/* NACM (RFC 8341) where ravend applies it: the handler of /ietf-netconf-acm:nacm
 * and of the users (rules compiled at apply, the lock-out guard at prepare), the
 * datastore's write check, protocol operations, the pruning of reads, the users
 * each notification must not reach, the `nacm-check` request of the front ends,
 * and the counters of /nacm. The rule engine is mgmt_nacm.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/log.h"
#include "daemon/mgmt/mgmt_impl.h"
#include "daemon/mgmt/mgmt_nacm.h"
#include "daemon/base/poison.h"

#define NACM_PATH "/ietf-netconf-acm:nacm"
#define USERS_PATH "/raven-vpn:management/user"
#define MAX_NOTIF_PATHS MGMT_NOTIF_PATHS
/* not a data path: only an unrestricted user reads it (nacm_read_path) */
#define NOTIF_TOO_MANY "*"

/* ---- the handler ---- */

/* Every rule's path resolves against the schema: a typo would otherwise match
 * nothing, and a deny rule so written would permit. */
static int paths_check(struct mgmt *m, const struct lyd_node *tree, struct cfg_errs *errs)
{
    struct ly_set *rules = NULL;
    int rc = 0;

    if (!tree || lyd_find_xpath(tree, NACM_PATH "/rule-list/rule[path]", &rules))
        return 0;
    for (uint32_t i = 0; !rc && i < rules->count; i++) {
        const struct lyd_node *r = rules->dnodes[i], *p = NULL, *name = NULL, *list = lyd_parent(r);
        struct ly_set *set = NULL;
        char *where;

        lyd_find_path(r, "path", 0, (struct lyd_node **)&p);
        lyd_find_path(r, "name", 0, (struct lyd_node **)&name);
        if (!p || !lys_find_xpath(m->ctx, NULL, lyd_get_value(p), 0, &set)) {
            ly_set_free(set, NULL);
            continue;
        }
        where = lyd_path(p, LYD_PATH_STD, NULL, 0);
        cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_APPLICATION, where,
                    "NACM rule \"%s\" of rule-list \"%s\": path %s names no node of the schema",
                    name ? lyd_get_value(name) : "?", list ? lyd_get_value(lyd_child(list)) : "?", lyd_get_value(p));
        free(where);
        rc = -EINVAL;
    }
    ly_set_free(rules, NULL);
    return rc;
}

static int nacm_prepare(struct cfg_txn *txn, void *arg, struct cfg_errs *errs)
{
    struct mgmt *m = arg;
    struct nacm *next;
    const char *why = NULL;
    bool ok;

    /* at start-up a rule that fails to resolve denies when it denies at all */
    if (cfg_txn_is_initial(txn))
        return 0;
    if (paths_check(m, cfg_txn_new(txn), errs))
        return -EINVAL;
    next = nacm_new(m->ctx);
    if (!next || nacm_load(next, cfg_txn_new(txn))) {
        nacm_free(next);
        cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, NACM_PATH, "out of memory");
        return -ENOMEM;
    }
    ok = nacm_admin_left(next, &why);
    nacm_free(next);
    if (ok)
        return 0;
    cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, NACM_PATH, "%s", why);
    return -EPERM;
}

static void nacm_apply(struct cfg_txn *txn, void *arg)
{
    struct mgmt *m = arg;

    log_debug("mgmt", "NACM rules compiled");
    if (nacm_load(m->nacm, cfg_txn_new(txn)))
        log_err("mgmt", "cannot compile the NACM rules (out of memory); the previous rules stay");
}

/* ---- writes, through the datastore ---- */

static bool restricted(const struct cfg_actor *actor, void *arg)
{
    struct mgmt *m = arg;

    return actor->user && !nacm_unrestricted(m->nacm, actor->user);
}

static int check_write(const struct cfg_actor *actor, const struct lyd_node *old, const struct lyd_node *new,
                       struct cfg_errs *errs, void *arg)
{
    struct mgmt *m = arg;
    unsigned int op = 0;
    char *path = NULL;
    int rc = nacm_check_write(m->nacm, actor->user, old, new, &path, &op);

    if (rc == -EACCES) {
        nacm_counters(m->nacm)->denied_data_writes++;
        cfg_err_add(errs, CFG_ERR_ACCESS_DENIED, CFG_ERRT_APPLICATION, path,
                    "user \"%s\" may not %s %s (NACM)", actor->user, nacm_op_name(op), path ? path : "this node");
        log_info("mgmt", "NACM: %s of %s by user %s denied", nacm_op_name(op), path ? path : "?", actor->user);
    } else if (rc) {
        cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, NULL, "out of memory checking access");
    }
    free(path);
    return rc;
}

int mgmt_nacm_register(struct mgmt *m)
{
    struct cfg_handler h = {.name = "nacm", .path = NACM_PATH, .prepare = nacm_prepare, .apply = nacm_apply,
                            .arg = m};
    struct cfg_access a = {.restricted = restricted, .check = check_write, .arg = m};
    int rc;

    if (!m->nacm)
        return -ENOMEM;
    rc = cfg_handler_register(m->cfg, &h);
    /* roles and the recovery user are part of the rules too */
    h.name = "nacm-users";
    h.path = USERS_PATH;
    if (!rc)
        rc = cfg_handler_register(m->cfg, &h);
    if (!rc)
        cfg_set_access(m->cfg, &a);
    return rc;
}

/* ---- operations, reads ---- */

int mgmt_nacm_exec(struct mgmt *m, const char *user, const char *module, const char *name, struct cfg_errs *errs)
{
    if (nacm_exec(m->nacm, user, module, name))
        return 0;
    nacm_counters(m->nacm)->denied_operations++;
    cfg_err_add(errs, CFG_ERR_ACCESS_DENIED, CFG_ERRT_PROTOCOL, NULL, "user \"%s\" may not run %s:%s (NACM)", user,
                module, name);
    log_info("mgmt", "NACM: operation %s:%s by user %s denied", module, name, user);
    return -EACCES;
}

bool mgmt_nacm_restricted(struct mgmt *m, const char *user)
{
    return !nacm_unrestricted(m->nacm, user);
}

void mgmt_nacm_prune(struct mgmt *m, const char *user, struct lyd_node **tree)
{
    nacm_prune(m->nacm, user, tree);
}

void mgmt_nacm_state(struct mgmt *m, struct lyd_node **tree)
{
    const struct nacm_counters *c = nacm_counters(m->nacm);
    const struct {
        const char *leaf;
        uint64_t v;
    } leaves[] = {
        {"denied-operations", c->denied_operations},
        {"denied-data-writes", c->denied_data_writes},
        {"denied-notifications", c->denied_notifications},
    };

    for (size_t i = 0; i < 3; i++) {
        char path[64], v[24];
        struct lyd_node *top = NULL;

        snprintf(path, sizeof(path), NACM_PATH "/%s", leaves[i].leaf);
        snprintf(v, sizeof(v), "%llu", (unsigned long long)leaves[i].v);
        if (lyd_new_path2(*tree, m->ctx, path, v, 0, 0, LYD_NEW_PATH_UPDATE, &top, NULL))
            continue;
        if (!*tree && top)
            *tree = top;
    }
    if (*tree)
        *tree = lyd_first_sibling(*tree);
}

/* {"op": "nacm-check", "exec": "module:name"} or {..., "read": "/path"}: whether
 * the user may run a protocol operation the front end answers itself, or read
 * a resource it serves from data (/metrics). */
int mgmt_nacm_check(struct mgmt *m, const char *user, const char *exec, const char *read, struct cfg_errs *errs)
{
    char mod[64];
    const char *colon = exec ? strchr(exec, ':') : NULL;

    if (exec) {
        if (!colon || (size_t)(colon - exec) >= sizeof(mod)) {
            cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL, "exec is module:name");
            return -EINVAL;
        }
        memcpy(mod, exec, (size_t)(colon - exec));
        mod[colon - exec] = 0;
        return mgmt_nacm_exec(m, user, mod, colon + 1, errs);
    }
    if (read && !nacm_read_path(m->nacm, user, read)) {
        cfg_err_add(errs, CFG_ERR_ACCESS_DENIED, CFG_ERRT_PROTOCOL, read, "user \"%s\" may not read %s (NACM)", user,
                    read);
        return -EACCES;
    }
    return 0;
}

/* ---- notifications ---- */

/* The data paths notification @name of @mod reveals: a config change's
 * targets, a session event's session, the state for Raven's other events. */
size_t mgmt_nacm_notif_paths(const char *mod, const char *name, const struct lyd_node *notif, const char *xml,
                             char **paths)
{
    const struct lyd_node *c;
    size_t n = 0;

    if (!strcmp(mod, "ietf-netconf-notifications")) {
        LY_LIST_FOR(notif ? lyd_child(notif) : NULL, c) {
            const struct lyd_node *t = NULL;

            if (!c->schema || strcmp(c->schema->name, "edit") || lyd_find_path(c, "target", 0, (struct lyd_node **)&t))
                continue;
            if (n == MAX_NOTIF_PATHS) {
                /* more targets than are kept: a path nobody restricted may read */
                free(paths[n - 1]);
                paths[n - 1] = strdup(NOTIF_TOO_MANY);
                break;
            }
            if ((paths[n] = strdup(lyd_get_value(t))))
                n++;
        }
        return n;
    }
    if (strcmp(mod, "raven-vpn"))
        return 0;
    if (!strcmp(name, "session-up") || !strcmp(name, "session-down")) {
        const char *v = NULL, *s;
        unsigned long long id = 0;

        LY_LIST_FOR(notif ? lyd_child(notif) : NULL, c) {
            if (c->schema && !strcmp(c->schema->name, "session-id"))
                v = lyd_get_value(c);
        }
        if (!v && xml && (s = strstr(xml, "<session-id>")))
            v = s + strlen("<session-id>");
        if (v)
            id = strtoull(v, NULL, 10);
        return asprintf(&paths[0], "/raven-vpn:vpn-state/session[id='%llu']", id) < 0 ? 0 : 1;
    }
    paths[0] = strdup("/raven-vpn:vpn-state");
    return paths[0] ? 1 : 0;
}

static bool listed(json_t *a, const char *user)
{
    json_t *e;
    size_t i;

    json_array_foreach(a, i, e) {
        if (!strcmp(json_string_value(e), user))
            return true;
    }
    return false;
}

json_t *mgmt_nacm_notif_deny(struct mgmt *m, struct mconn *only, const char *mod, const char *name,
                             char *const *paths, size_t npaths)
{
    json_t *deny = json_array(), *seen = json_array();

    for (struct mconn *c = only ? only : m->conns; deny && seen && c; c = only ? NULL : c->next) {
        /* the users removed since they logged in move to c->gone */
        mconn_users_sync(c);
        for (size_t i = 0; i < c->nusers + c->ngone; i++) {
            const char *u = i < c->nusers ? c->users[i] : c->gone[i - c->nusers];

            if (listed(seen, u))
                continue;
            json_array_append_new(seen, json_string(u));
            if (!nacm_notif(m->nacm, u, mod, name, (const char *const *)paths, npaths)) {
                json_array_append_new(deny, json_string(u));
                nacm_counters(m->nacm)->denied_notifications++;
            }
        }
    }
    json_decref(seen);
    return deny;
}
