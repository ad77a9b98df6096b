/* The NACM rule engine (RFC 8341): groups, rule lists and their rules compiled
 * from /ietf-netconf-acm:nacm, the roles of /raven-vpn:management/user as
 * implicit groups with two built-in rule lists after the configured ones, and
 * the checks of protocol operations, data nodes (read, create, update, delete)
 * and notifications, rule by rule in order, the first match deciding. */
#include <errno.h>
#include <libyang/plugins_exts.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/mgmt/mgmt_nacm.h"
#include "daemon/base/poison.h"

#define NACM_MOD "ietf-netconf-acm"
#define ROLE_ADMIN "admin"
#define ROLE_RO "read-only"

enum rtype { RT_ANY = 0, RT_OP, RT_NOTIF, RT_DATA };

struct rule {
    char *module; /* NULL: any ("*") */
    enum rtype type;
    char *target; /* rpc-name, notification-name (NULL: "*"), path */
    unsigned int ops;
    bool permit;
    size_t idx; /* among every rule of the engine */
};

struct rlist {
    char **groups; /* "*" matches every user */
    size_t ngroups;
    struct rule *rules;
    size_t nrules;
    bool builtin_admin;
};

struct group {
    char *name;
    char **users;
    size_t nusers;
};

struct user {
    char *name;
    bool admin;
    bool recovery;
    bool can_login; /* a password or a key */
};

struct nacm {
    struct ly_ctx *ctx;
    bool enabled, read_permit, write_permit, exec_permit;
    struct group *groups;
    size_t ngroups;
    struct rlist *lists;
    size_t nlists;
    size_t nrules; /* in all lists */
    struct user *users;
    size_t nusers;
    struct nacm_counters cnt;
};

/* A check's user: which rule lists concern it. */
struct who {
    bool *apply; /* per rule list */
    bool free_pass;
};

/* The per-rule node sets of data-node rules over one tree, made when first
 * needed. */
struct eval {
    const struct nacm *n;
    const struct lyd_node *tree;
    struct ly_set **sets;
    bool *done, *failed;
};

/* ---- compiling ---- */

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void lists_free(struct rlist *l, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        strv_free(l[i].groups, l[i].ngroups);
        for (size_t k = 0; k < l[i].nrules; k++) {
            free(l[i].rules[k].module);
            free(l[i].rules[k].target);
        }
        free(l[i].rules);
    }
    free(l);
}

static void groups_free(struct group *g, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(g[i].name);
        strv_free(g[i].users, g[i].nusers);
    }
    free(g);
}

static void users_free(struct user *u, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(u[i].name);
    free(u);
}

static void clear(struct nacm *n)
{
    lists_free(n->lists, n->nlists);
    groups_free(n->groups, n->ngroups);
    users_free(n->users, n->nusers);
    n->lists = NULL;
    n->groups = NULL;
    n->users = NULL;
    n->nlists = n->ngroups = n->nusers = n->nrules = 0;
    n->enabled = n->read_permit = n->exec_permit = true;
    n->write_permit = false;
}

struct nacm *nacm_new(struct ly_ctx *ctx)
{
    struct nacm *n = calloc(1, sizeof(*n));

    if (!n)
        return NULL;
    n->ctx = ctx;
    clear(n);
    if (nacm_load(n, NULL)) {
        free(n);
        return NULL;
    }
    return n;
}

void nacm_free(struct nacm *n)
{
    if (!n)
        return;
    clear(n);
    free(n);
}

struct nacm_counters *nacm_counters(struct nacm *n)
{
    return &n->cnt;
}

static bool is(const struct lyd_node *d, const char *name)
{
    return d->schema && !strcmp(d->schema->name, name);
}

static const char *child_val(const struct lyd_node *d, const char *name)
{
    const struct lyd_node *c;

    LY_LIST_FOR(lyd_child(d), c) {
        if (is(c, name))
            return lyd_get_value(c);
    }
    return NULL;
}

static int strv_add(char ***v, size_t *n, const char *s)
{
    char **nv = realloc(*v, (*n + 1) * sizeof(**v));

    if (!nv)
        return -ENOMEM;
    *v = nv;
    if (!(nv[*n] = strdup(s)))
        return -ENOMEM;
    (*n)++;
    return 0;
}

static unsigned int ops_of(const char *v)
{
    static const char *const names[] = {"create", "read", "update", "delete", "exec"};
    unsigned int ops = 0;

    if (!v)
        return 0;
    if (!strcmp(v, "*"))
        return NACM_ALL;
    for (size_t i = 0; i < 5; i++) {
        const char *p = strstr(v, names[i]);
        size_t l = strlen(names[i]);

        if (p && (p == v || p[-1] == ' ') && (p[l] == 0 || p[l] == ' '))
            ops |= 1u << i;
    }
    return ops;
}

const char *nacm_op_name(unsigned int op)
{
    static const char *const names[] = {"create", "read", "update", "delete", "exec"};

    for (size_t i = 0; i < 5; i++) {
        if (op == 1u << i)
            return names[i];
    }
    return "access";
}

static struct rule *rule_add(struct rlist *l)
{
    struct rule *nv = realloc(l->rules, (l->nrules + 1) * sizeof(*nv));

    if (!nv)
        return NULL;
    l->rules = nv;
    memset(&nv[l->nrules], 0, sizeof(nv[0]));
    return &nv[l->nrules++];
}

static char *dup_star(const char *s)
{
    return s && strcmp(s, "*") ? strdup(s) : NULL;
}

static int rule_from(struct rlist *l, const struct lyd_node *d)
{
    struct rule *r = rule_add(l);
    const char *m = child_val(d, "module-name"), *v;

    if (!r)
        return -ENOMEM;
    r->module = dup_star(m ? m : "*");
    r->ops = ops_of(child_val(d, "access-operations"));
    v = child_val(d, "action");
    r->permit = v && !strcmp(v, "permit");
    if ((v = child_val(d, "rpc-name"))) {
        r->type = RT_OP;
        r->target = dup_star(v);
    } else if ((v = child_val(d, "notification-name"))) {
        r->type = RT_NOTIF;
        r->target = dup_star(v);
    } else if ((v = child_val(d, "path"))) {
        r->type = RT_DATA;
        r->target = strdup(v);
        if (!r->target)
            return -ENOMEM;
    }
    return 0;
}

static struct rlist *list_add(struct nacm *n)
{
    struct rlist *nv = realloc(n->lists, (n->nlists + 1) * sizeof(*nv));

    if (!nv)
        return NULL;
    n->lists = nv;
    memset(&nv[n->nlists], 0, sizeof(nv[0]));
    return &nv[n->nlists++];
}

static int list_from(struct nacm *n, const struct lyd_node *d)
{
    struct rlist *l = list_add(n);
    const struct lyd_node *c;

    if (!l)
        return -ENOMEM;
    LY_LIST_FOR(lyd_child(d), c) {
        if (is(c, "group") && strv_add(&l->groups, &l->ngroups, lyd_get_value(c)))
            return -ENOMEM;
        if (is(c, "rule") && rule_from(l, c))
            return -ENOMEM;
    }
    return 0;
}

static int group_from(struct nacm *n, const struct lyd_node *d)
{
    struct group *nv = realloc(n->groups, (n->ngroups + 1) * sizeof(*nv));
    const struct lyd_node *c;

    if (!nv)
        return -ENOMEM;
    n->groups = nv;
    memset(&nv[n->ngroups], 0, sizeof(nv[0]));
    nv = &nv[n->ngroups++];
    if (!(nv->name = strdup(child_val(d, "name"))))
        return -ENOMEM;
    LY_LIST_FOR(lyd_child(d), c) {
        if (is(c, "user-name") && strv_add(&nv->users, &nv->nusers, lyd_get_value(c)))
            return -ENOMEM;
    }
    return 0;
}

/* The built-in rule lists, after the configured ones: the role admin may do
 * everything; read-only may read everything and run only the operations that
 * change nothing. */
static int builtin_lists(struct nacm *n)
{
    static const char *const ro_ops[][2] = {
        {"ietf-netconf", "get"},           {"ietf-netconf", "get-config"},
        {"ietf-netconf", "validate"},      {"ietf-netconf", "close-session"},
        {"ietf-netconf-nmda", "get-data"}, {"ietf-netconf-monitoring", "get-schema"},
        {"notifications", "create-subscription"},
    };
    struct rlist *l = list_add(n);
    struct rule *r;

    if (!l || strv_add(&l->groups, &l->ngroups, ROLE_ADMIN) || !(r = rule_add(l)))
        return -ENOMEM;
    l->builtin_admin = true;
    *r = (struct rule){.ops = NACM_ALL, .permit = true};
    if (!(l = list_add(n)) || strv_add(&l->groups, &l->ngroups, ROLE_RO))
        return -ENOMEM;
    for (size_t i = 0; i < sizeof(ro_ops) / sizeof(ro_ops[0]); i++) {
        if (!(r = rule_add(l)))
            return -ENOMEM;
        *r = (struct rule){.module = strdup(ro_ops[i][0]), .type = RT_OP, .target = strdup(ro_ops[i][1]),
                           .ops = NACM_EXEC, .permit = true};
        if (!r->module || !r->target)
            return -ENOMEM;
    }
    if (!(r = rule_add(l)))
        return -ENOMEM;
    *r = (struct rule){.ops = NACM_READ, .permit = true};
    if (!(r = rule_add(l)))
        return -ENOMEM;
    *r = (struct rule){.ops = NACM_ALL & ~NACM_READ, .permit = false};
    return 0;
}

/* Roles and the recovery user from /raven-vpn:management/user. */
static int users_from(struct nacm *n, const struct lyd_node *mgmt)
{
    const struct lyd_node *c;

    LY_LIST_FOR(lyd_child(mgmt), c) {
        struct user *nv;
        const char *role, *rec;

        if (!is(c, "user"))
            continue;
        nv = realloc(n->users, (n->nusers + 1) * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        n->users = nv;
        role = child_val(c, "role");
        rec = child_val(c, "nacm-recovery");
        nv[n->nusers] = (struct user){.name = strdup(child_val(c, "name")), .admin = role && !strcmp(role, ROLE_ADMIN),
                                      .recovery = rec && !strcmp(rec, "true"),
                                      .can_login = child_val(c, "password-hash") || child_val(c, "authorized-key")};
        if (!nv[n->nusers++].name)
            return -ENOMEM;
    }
    return 0;
}

static int compile(struct nacm *n, const struct lyd_node *tree)
{
    const struct lyd_node *top, *c;
    int rc = 0;

    LY_LIST_FOR(tree ? lyd_first_sibling(tree) : NULL, top) {
        if (!top->schema)
            continue;
        /* /raven-vpn:management/user/role, /raven-vpn:management/user/nacm-recovery */
        if (!strcmp(top->schema->module->name, "raven-vpn") && is(top, "management") && (rc = users_from(n, top)))
            return rc;
        if (strcmp(top->schema->module->name, NACM_MOD) || !is(top, "nacm"))
            continue;
        LY_LIST_FOR(lyd_child(top), c) {
            const char *v = lyd_get_value(c);

            if (is(c, "enable-nacm"))
                n->enabled = !strcmp(v, "true");
            else if (is(c, "read-default"))
                n->read_permit = !strcmp(v, "permit");
            else if (is(c, "write-default"))
                n->write_permit = !strcmp(v, "permit");
            else if (is(c, "exec-default"))
                n->exec_permit = !strcmp(v, "permit");
            else if (is(c, "rule-list"))
                rc = list_from(n, c);
            else if (is(c, "groups")) {
                const struct lyd_node *g;

                LY_LIST_FOR(lyd_child(c), g) {
                    if (!rc && is(g, "group"))
                        rc = group_from(n, g);
                }
            }
            if (rc)
                return rc;
        }
    }
    return builtin_lists(n);
}

int nacm_load(struct nacm *n, const struct lyd_node *tree)
{
    struct nacm next = {.ctx = n->ctx};
    int rc;

    clear(&next);
    rc = compile(&next, tree);
    if (rc) {
        clear(&next);
        return rc;
    }
    clear(n);
    next.cnt = n->cnt;
    for (size_t i = 0; i < next.nlists; i++) {
        for (size_t k = 0; k < next.lists[i].nrules; k++)
            next.lists[i].rules[k].idx = next.nrules++;
    }
    *n = next;
    return 0;
}

/* ---- who ---- */

static const struct user *user_find(const struct nacm *n, const char *name)
{
    for (size_t i = 0; name && i < n->nusers; i++) {
        if (!strcmp(n->users[i].name, name))
            return &n->users[i];
    }
    return NULL;
}

static bool in_group(const struct nacm *n, const struct user *u, const char *user, const char *group)
{
    if (!strcmp(group, "*"))
        return true;
    if (u && !strcmp(group, u->admin ? ROLE_ADMIN : ROLE_RO))
        return true;
    for (size_t i = 0; i < n->ngroups; i++) {
        if (strcmp(n->groups[i].name, group))
            continue;
        for (size_t k = 0; k < n->groups[i].nusers; k++) {
            if (!strcmp(n->groups[i].users[k], user))
                return true;
        }
    }
    return false;
}

/* 0, or -ENOMEM (the check then denies). */
static int who_init(const struct nacm *n, const char *user, struct who *w)
{
    const struct user *u = user_find(n, user);
    bool first = true;

    w->free_pass = !n->enabled || (u && u->recovery);
    w->apply = calloc(n->nlists + 1, sizeof(*w->apply));
    if (!w->apply)
        return -ENOMEM;
    for (size_t i = 0; user && i < n->nlists; i++) {
        for (size_t g = 0; !w->apply[i] && g < n->lists[i].ngroups; g++)
            w->apply[i] = in_group(n, u, user, n->lists[i].groups[g]);
        /* the built-in admin list first: nothing else can refuse */
        if (w->apply[i] && first && n->lists[i].builtin_admin)
            w->free_pass = true;
        first &= !w->apply[i];
    }
    return 0;
}

static void who_clear(struct who *w)
{
    free(w->apply);
}

bool nacm_unrestricted(const struct nacm *n, const char *user)
{
    struct who w;
    bool r;

    if (who_init(n, user, &w))
        return false;
    r = w.free_pass;
    who_clear(&w);
    return r;
}

/* ---- the extensions default-deny-write and default-deny-all ---- */

static bool has_ext(const struct lysc_node *s, const char *name)
{
    LY_ARRAY_COUNT_TYPE i;

    for (; s; s = s->parent) {
        LY_ARRAY_FOR(s->exts, i) {
            const struct lysc_ext *e = s->exts[i].def;

            if (e && !strcmp(e->module->name, NACM_MOD) &&
                (!strcmp(e->name, name) || !strcmp(e->name, "default-deny-all")))
                return true;
        }
    }
    return false;
}

/* ---- decisions ---- */

static bool module_ok(const struct rule *r, const char *module)
{
    return !r->module || !strcmp(r->module, module);
}

bool nacm_exec(const struct nacm *n, const char *user, const char *module, const char *name)
{
    const struct lysc_node *s;
    struct who w;
    char path[256];

    if (!strcmp(module, "ietf-netconf") && !strcmp(name, "close-session"))
        return true;
    if (who_init(n, user, &w))
        return false;
    if (w.free_pass) {
        who_clear(&w);
        return true;
    }
    for (size_t i = 0; i < n->nlists; i++) {
        for (size_t k = 0; w.apply[i] && k < n->lists[i].nrules; k++) {
            const struct rule *r = &n->lists[i].rules[k];

            if (!(r->ops & NACM_EXEC) || !module_ok(r, module) || r->type == RT_NOTIF || r->type == RT_DATA)
                continue;
            if (r->type == RT_OP && r->target && strcmp(r->target, name))
                continue;
            who_clear(&w);
            return r->permit;
        }
    }
    who_clear(&w);
    /* RFC 8341 3.2.6: these two are default-deny-all whatever the module says */
    if (!strcmp(module, "ietf-netconf") && (!strcmp(name, "kill-session") || !strcmp(name, "delete-config")))
        return false;
    snprintf(path, sizeof(path), "/%s:%s", module, name);
    s = lys_find_path(n->ctx, NULL, path, 0);
    if (s && has_ext(s, "default-deny-all"))
        return false;
    return n->exec_permit;
}

static bool in_set(struct eval *ev, const struct rule *r, const struct lyd_node *node)
{
    struct ly_set *set;

    if (!ev->done[r->idx]) {
        ev->done[r->idx] = true;
        if (ev->tree && lyd_find_xpath(ev->tree, r->target, &ev->sets[r->idx])) {
            ev->sets[r->idx] = NULL;
            ev->failed[r->idx] = true;
        }
    }
    /* a path that cannot be evaluated: a deny rule matches (fails closed) */
    if (ev->failed[r->idx])
        return node && !r->permit;
    set = ev->sets[r->idx];
    for (; set && node; node = lyd_parent(node)) {
        if (ly_set_contains(set, node, NULL))
            return true;
    }
    return false;
}

static int eval_init(struct eval *ev, const struct nacm *n, const struct lyd_node *tree)
{
    *ev = (struct eval){.n = n, .tree = tree};
    ev->sets = calloc(n->nrules + 1, sizeof(*ev->sets));
    ev->done = calloc(n->nrules + 1, sizeof(*ev->done));
    ev->failed = calloc(n->nrules + 1, sizeof(*ev->failed));
    return ev->sets && ev->done && ev->failed ? 0 : -ENOMEM;
}

static void eval_clear(struct eval *ev)
{
    for (size_t i = 0; ev->sets && i < ev->n->nrules; i++)
        ly_set_free(ev->sets[i], NULL);
    free(ev->sets);
    free(ev->done);
    free(ev->failed);
}

/* The decision for access @op to @node (of ev->tree). */
static bool data_ok(struct eval *ev, const struct who *w, const struct lyd_node *node, unsigned int op)
{
    const struct nacm *n = ev->n;
    const char *module;

    if (w->free_pass || !node->schema)
        return true;
    module = node->schema->module->name;
    for (size_t i = 0; i < n->nlists; i++) {
        for (size_t k = 0; w->apply[i] && k < n->lists[i].nrules; k++) {
            const struct rule *r = &n->lists[i].rules[k];

            if (!(r->ops & op) || !module_ok(r, module) || r->type == RT_OP || r->type == RT_NOTIF)
                continue;
            if (r->type == RT_DATA && !in_set(ev, r, node))
                continue;
            return r->permit;
        }
    }
    if (has_ext(node->schema, op == NACM_READ ? "default-deny-all" : "default-deny-write"))
        return false;
    return op == NACM_READ ? n->read_permit : n->write_permit;
}

/* A scratch tree holding the node at @path (or, for a leaf that needs a value,
 * its parent); the node in *node. */
static struct lyd_node *scratch(const struct nacm *n, const char *path, struct lyd_node **node)
{
    struct lyd_node *top = NULL;
    char *p = strdup(path);

    *node = NULL;
    while (p && *p && lyd_new_path2(NULL, n->ctx, p, NULL, 0, 0, 0, &top, node)) {
        /* cut the last step, outside predicates */
        char *cut = NULL;
        int depth = 0;

        for (char *q = p; *q; q++) {
            if (*q == '[')
                depth++;
            else if (*q == ']')
                depth--;
            else if (*q == '/' && !depth)
                cut = q;
        }
        if (!cut || cut == p) {
            *node = NULL;
            break;
        }
        *cut = 0;
        top = NULL;
    }
    free(p);
    if (*node)
        return top;
    lyd_free_all(top);
    return NULL;
}

bool nacm_read_path(const struct nacm *n, const char *user, const char *path)
{
    struct lyd_node *node, *tree;
    struct eval ev;
    struct who w;
    bool ok = false;

    if (who_init(n, user, &w))
        return false;
    if (w.free_pass) {
        who_clear(&w);
        return true;
    }
    /* the node itself: its ancestors are kept as its path (nacm_prune) */
    tree = scratch(n, path, &node);
    if (tree && !eval_init(&ev, n, tree))
        ok = data_ok(&ev, &w, node, NACM_READ);
    if (tree)
        eval_clear(&ev);
    lyd_free_all(tree);
    who_clear(&w);
    return ok;
}

/* Whether @s is a strict descendant of @anc. */
static bool below(const struct lysc_node *s, const struct lysc_node *anc)
{
    for (s = s ? lysc_data_parent(s) : NULL; s; s = lysc_data_parent(s)) {
        if (s == anc)
            return true;
    }
    return false;
}

/* Whether a read rule of @w's that denies (a deny rule whose path cannot be
 * resolved included) names a node below the one at @path: the scratch tree
 * of nacm_read_path holds the node and its keys only, where such a rule
 * matches nothing; it denies. (Rule paths take key predicates only, which
 * the scratch tree has.) */
static bool denied_below(const struct nacm *n, const struct who *w, const char *path)
{
    struct lyd_node *node, *tree = scratch(n, path, &node);
    const struct lysc_node *at = node ? node->schema : NULL;
    bool denied = !at;

    for (size_t i = 0; !denied && i < n->nlists; i++) {
        for (size_t k = 0; !denied && w->apply[i] && k < n->lists[i].nrules; k++) {
            const struct rule *r = &n->lists[i].rules[k];
            struct ly_set *set = NULL;

            if (r->type != RT_DATA || r->permit || !(r->ops & NACM_READ) || !module_ok(r, at->module->name))
                continue;
            if (lys_find_xpath(n->ctx, NULL, r->target, 0, &set)) {
                denied = true;
                continue;
            }
            for (uint32_t j = 0; !denied && j < set->count; j++)
                denied = below(set->snodes[j], at);
            ly_set_free(set, NULL);
        }
    }
    lyd_free_all(tree);
    return denied;
}

bool nacm_notif(const struct nacm *n, const char *user, const char *module, const char *name,
                const char *const *paths, size_t npaths)
{
    const struct lysc_node *s;
    bool ok = false, matched = false;
    struct who w;
    char path[256];

    /* a user removed from the configuration (still subscribed) gets none */
    if (!user_find(n, user) || who_init(n, user, &w))
        return false;
    if (w.free_pass) {
        who_clear(&w);
        return true;
    }
    for (size_t i = 0; !matched && i < n->nlists; i++) {
        for (size_t k = 0; !matched && w.apply[i] && k < n->lists[i].nrules; k++) {
            const struct rule *r = &n->lists[i].rules[k];

            if (!(r->ops & NACM_READ) || !module_ok(r, module) || r->type == RT_OP || r->type == RT_DATA)
                continue;
            if (r->type == RT_NOTIF && r->target && strcmp(r->target, name))
                continue;
            matched = true;
            ok = r->permit;
        }
    }
    if (!matched) {
        snprintf(path, sizeof(path), "/%s:%s", module, name);
        s = lys_find_path(n->ctx, NULL, path, 0);
        ok = !(s && has_ext(s, "default-deny-all")) && n->read_permit;
    }
    for (size_t i = 0; ok && i < npaths; i++) {
        ok = paths[i] && nacm_read_path(n, user, paths[i]);
        /* a session's events carry its values (user, addresses): what a
         * rule hides below the session hides the event */
        if (ok && !strcmp(module, "raven-vpn") && !strncmp(name, "session-", 8))
            ok = !denied_below(n, &w, paths[i]);
    }
    who_clear(&w);
    return ok;
}

/* Whether @n has a child other than its list keys. */
static bool has_content(const struct lyd_node *n)
{
    const struct lyd_node *c;

    LY_LIST_FOR(lyd_child(n), c) {
        if (!c->schema || !lysc_is_key(c->schema))
            return true;
    }
    return false;
}

/* Prunes @n's children; whether @n itself stays: readable, or denied but the
 * ancestor of a readable node (kept, as its path, without its other content). */
static bool prune_node(struct eval *ev, const struct who *w, struct lyd_node *n)
{
    bool ok = data_ok(ev, w, n, NACM_READ);
    struct lyd_node *c, *next;

    if (!ok && !(n->schema->nodetype & (LYS_CONTAINER | LYS_LIST)))
        return false;
    LY_LIST_FOR_SAFE(lyd_child(n), next, c) {
        if (c->schema && !lysc_is_key(c->schema) && !prune_node(ev, w, c))
            lyd_free_tree(c);
    }
    return ok || has_content(n);
}

void nacm_prune(const struct nacm *n, const char *user, struct lyd_node **tree)
{
    struct lyd_node *t, *next;
    struct eval ev;
    struct who w;

    if (!*tree || who_init(n, user, &w))
        return;
    if (!w.free_pass && !eval_init(&ev, n, *tree)) {
        /* every node set now: pruning frees nodes the sets are found from */
        for (size_t i = 0; i < n->nlists; i++) {
            for (size_t k = 0; w.apply[i] && k < n->lists[i].nrules; k++) {
                if (n->lists[i].rules[k].type == RT_DATA)
                    in_set(&ev, &n->lists[i].rules[k], NULL);
            }
        }
        LY_LIST_FOR_SAFE(*tree, next, t) {
            if (!t->schema || prune_node(&ev, &w, t))
                continue;
            if (t == *tree)
                *tree = next;
            lyd_free_tree(t);
        }
    }
    if (!w.free_pass)
        eval_clear(&ev);
    who_clear(&w);
}

/* ---- writes ---- */

struct wcheck {
    struct eval old, new;
    const struct who *w;
    char **path;
    unsigned int *op;
};

static bool deny_at(struct wcheck *c, const struct lyd_node *node, unsigned int op)
{
    *c->path = lyd_path(node, LYD_PATH_STD, NULL, 0);
    *c->op = op;
    return true;
}

/* Every node of the subtree @node created (@op NACM_CREATE, in the new tree)
 * or deleted (NACM_DELETE, in the old): true when one is refused. */
static bool subtree_denied(struct wcheck *c, const struct lyd_node *node, unsigned int op)
{
    struct eval *ev = op == NACM_DELETE ? &c->old : &c->new;
    const struct lyd_node *e;

    LYD_TREE_DFS_BEGIN(node, e) {
        if (!(e->flags & LYD_DEFAULT) && !data_ok(ev, c->w, e, op))
            return deny_at(c, e, op);
        LYD_TREE_DFS_END(node, e);
    }
    return false;
}

/* The instance of @n among @siblings (another tree): the same list entry or
 * leaf-list value, the same leaf or container whatever its value. */
static struct lyd_node *instance(const struct lyd_node *siblings, const struct lyd_node *n)
{
    struct lyd_node *m = NULL;

    if (!siblings)
        return NULL;
    siblings = lyd_first_sibling(siblings);
    if (n->schema->nodetype & (LYS_LIST | LYS_LEAFLIST))
        lyd_find_sibling_first(siblings, n, &m);
    else
        lyd_find_sibling_val(siblings, n->schema, NULL, 0, &m);
    return m;
}

static bool siblings_denied(struct wcheck *c, const struct lyd_node *old, const struct lyd_node *new)
{
    const struct lyd_node *n, *o;
    struct lyd_node *m;

    LY_LIST_FOR(new ? lyd_first_sibling(new) : NULL, n) {
        if (!n->schema || (n->schema->flags & LYS_CONFIG_R))
            continue;
        m = instance(old, n);
        if (!m) {
            if (subtree_denied(c, n, NACM_CREATE))
                return true;
        } else if (n->schema->nodetype & (LYS_LEAF | LYS_ANYDATA)) {
            if (lyd_compare_single(m, n, 0) && !((m->flags & LYD_DEFAULT) && (n->flags & LYD_DEFAULT)) &&
                !data_ok(&c->new, c->w, n, NACM_UPDATE))
                return deny_at(c, n, NACM_UPDATE);
        } else if (siblings_denied(c, lyd_child(m), lyd_child(n))) {
            return true;
        }
    }
    LY_LIST_FOR(old ? lyd_first_sibling(old) : NULL, o) {
        if (!o->schema || (o->schema->flags & LYS_CONFIG_R))
            continue;
        m = instance(new, o);
        if (!m && subtree_denied(c, o, NACM_DELETE))
            return true;
    }
    return false;
}

int nacm_check_write(const struct nacm *n, const char *user, const struct lyd_node *old, const struct lyd_node *new,
                     char **path, unsigned int *op)
{
    struct wcheck c = {.path = path, .op = op};
    struct who w;
    bool denied;

    *path = NULL;
    *op = 0;
    if (who_init(n, user, &w))
        return -ENOMEM;
    if (w.free_pass) {
        who_clear(&w);
        return 0;
    }
    c.w = &w;
    if (eval_init(&c.old, n, old) || eval_init(&c.new, n, new)) {
        eval_clear(&c.old);
        eval_clear(&c.new);
        who_clear(&w);
        return -ENOMEM;
    }
    denied = siblings_denied(&c, old, new);
    eval_clear(&c.old);
    eval_clear(&c.new);
    who_clear(&w);
    return denied ? -EACCES : 0;
}

/* ---- the lock-out guard ---- */

/* What recovering from any rule set takes: NACM turned off, rule lists and
 * their rules created and deleted, a user made recovery user or given a role;
 * each node (in a scratch tree of its own) with the accesses it needs. */
static const struct {
    const char *path, *value;
    unsigned int ops;
} recovery[] = {
    {"/ietf-netconf-acm:nacm/enable-nacm", "true", NACM_UPDATE},
    {"/ietf-netconf-acm:nacm/rule-list[name='r']", NULL, NACM_CREATE | NACM_DELETE},
    {"/ietf-netconf-acm:nacm/rule-list[name='r']/rule[name='r']/action", "deny", NACM_CREATE | NACM_DELETE},
    {"/raven-vpn:management/user[name='r']/nacm-recovery", "true", NACM_CREATE | NACM_UPDATE},
    {"/raven-vpn:management/user[name='r']/role", "admin", NACM_CREATE | NACM_UPDATE},
};
#define NRECOVERY (sizeof(recovery) / sizeof(recovery[0]))

static bool can_administer(const struct nacm *n, const char *user, struct lyd_node *const *trees,
                           struct lyd_node *const *nodes)
{
    static const unsigned int ops[] = {NACM_CREATE, NACM_UPDATE, NACM_DELETE};
    bool ok = nacm_exec(n, user, "ietf-netconf", "edit-config");
    struct eval ev;
    struct who w;

    if (!ok || who_init(n, user, &w))
        return false;
    for (size_t i = 0; ok && i < NRECOVERY; i++) {
        ok = !eval_init(&ev, n, trees[i]);
        for (size_t k = 0; ok && k < 3; k++)
            ok = !(recovery[i].ops & ops[k]) || data_ok(&ev, &w, nodes[i], ops[k]);
        eval_clear(&ev);
    }
    who_clear(&w);
    return ok;
}

bool nacm_admin_left(const struct nacm *n, const char **why)
{
    struct lyd_node *trees[NRECOVERY] = {0}, *nodes[NRECOVERY] = {0};
    bool ok = true;

    *why = NULL;
    if (!n->enabled)
        return true;
    for (size_t i = 0; i < n->nusers; i++) {
        if (n->users[i].recovery && n->users[i].can_login)
            return true;
    }
    for (size_t i = 0; ok && i < NRECOVERY; i++)
        ok = !lyd_new_path2(NULL, n->ctx, recovery[i].path, recovery[i].value, 0, 0, 0, &trees[i], &nodes[i]) &&
             nodes[i];
    *why = ok ? NULL : "out of memory";
    for (size_t i = 0; !ok && i < NRECOVERY; i++)
        lyd_free_all(trees[i]);
    if (!ok)
        return false;
    ok = false;
    for (size_t i = 0; !ok && i < n->nusers; i++)
        ok = n->users[i].can_login && can_administer(n, n->users[i].name, trees, nodes);
    for (size_t i = 0; i < NRECOVERY; i++)
        lyd_free_all(trees[i]);
    if (!ok)
        *why = "the NACM rules would leave no user that can log in able to run edit-config and recover (update "
               "/ietf-netconf-acm:nacm/enable-nacm, create and delete rule lists and rules, create and update the "
               "nacm-recovery and role of /raven-vpn:management/user), locking every administrator out; keep such "
               "a user, or configure a recovery user with a password or key (/raven-vpn:management/user/nacm-recovery)";
    return ok;
}
