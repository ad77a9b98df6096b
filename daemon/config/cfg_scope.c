/* Validation scoped to a change set. libyang 2.1 validates only whole trees
 * (lyd_validate_all); at 10 000 list entries that is most of a one-leaf commit.
 * When the modules are loaded, every constraint that can look at data is indexed by
 * the schema nodes it reads (the atoms of must and when expressions and of leafref
 * paths, unique statements, instance-identifiers). A change set whose changes are
 * all new values of existing leaves (MODIFY) is then proven valid without the whole
 * tree when, for each such leaf:
 *   - a value whose type needs the tree (leafref, instance-identifier, a union of
 *     them) is checked with lyd_value_validate against the tree;
 *   - every constraint reading the leaf or one of its ancestors (an ancestor's
 *     string value contains the leaf's) is a "must" of the leaf or of one of its
 *     ancestors whose expression reads only inside its own node (every atom below
 *     it; no "..", no absolute path, no axis, no deref()), evaluated on that
 *     ancestor instance with lyd_eval_xpath3, and true.
 * Anything else (a when, a leafref or unique reading the leaf, a creation, a
 * deletion, a must that fails or reads elsewhere) goes to whole-tree validation,
 * which therefore also produces every error message: the scoped path only ever
 * accepts, and only what whole-tree validation accepts. A modification creates no
 * node and deletes none, so defaults, mandatory, min/max-elements, choices and
 * when-conditions (none reads the leaf) stay as the last whole validation left them.
 *
 * RAVEN_SCOPED_VALIDATION=0 in ravend's environment turns the scoped path off
 * (every transaction validates the whole tree). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/log.h"
#include "daemon/config/cfg_impl.h"
#include "daemon/base/poison.h"

struct cfg_ref {
    const struct lysc_node *atom;  /* read by the constraint */
    const struct lysc_node *owner; /* the node the constraint is on */
    const struct lysc_must *must;  /* NULL: not a must (when, leafref, unique) */
    bool local;                    /* a must reading only inside its owner */
};

static bool anc_or_self(const struct lysc_node *anc, const struct lysc_node *n)
{
    for (; n; n = n->parent) {
        if (n == anc)
            return true;
    }
    return false;
}

static int ref_add(struct cfg *cfg, const struct cfg_ref *r)
{
    if (cfg->nrefs == cfg->caprefs) {
        size_t cap = cfg->caprefs ? cfg->caprefs * 2 : 64;
        struct cfg_ref *v = realloc(cfg->refs, cap * sizeof(*v));

        if (!v)
            return -ENOMEM;
        cfg->refs = v;
        cfg->caprefs = cap;
    }
    cfg->refs[cfg->nrefs++] = *r;
    return 0;
}

/* Whether the text of an expression can only reach its context node's subtree. */
static bool text_relative(const char *e)
{
    if (!e || strstr(e, "..") || strstr(e, "::") || strstr(e, "deref") || strstr(e, "//"))
        return false;
    for (const char *p = e; *p; p++) {
        if (*p == '\'' || *p == '"') { /* literals may hold anything */
            const char *q = strchr(p + 1, *p);
            if (!q)
                return false;
            p = q;
            continue;
        }
        /* a '/' that starts a path (not one between two steps) is absolute */
        if (*p == '/') {
            const char *b = p;

            while (b > e && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\n'))
                b--;
            if (b == e || strchr("([,=!<>|+-*", b[-1]))
                return false;
        }
    }
    return true;
}

static int refs_of(struct cfg *cfg, const struct lysc_node *owner, const struct lysc_node *ctx_node,
                   const struct lyxp_expr *expr, const struct lysc_prefix *prefixes, const struct lysc_must *must,
                   bool path)
{
    struct ly_set *set = NULL;
    bool local;
    int rc = 0;

    if (lys_find_expr_atoms(ctx_node, owner->module, expr, prefixes, 0, &set)) {
        cfg->scope_off = true; /* an expression we cannot index: never scope */
        return 0;
    }
    local = must && text_relative(lyxp_get_expr(expr));
    for (uint32_t i = 0; local && i < set->count; i++)
        local = anc_or_self(owner, set->snodes[i]);
    for (uint32_t i = 0; !rc && i < set->count; i++) {
        const struct lysc_node *a = set->snodes[i];

        /* a leafref path reads only its leaves (the lists and containers on it are
         * steps); an expression may read any atom, a container's string value too */
        if (!(a->nodetype & (LYS_LEAF | LYS_LEAFLIST)) && path)
            continue;
        rc = ref_add(cfg, &(struct cfg_ref){.atom = a, .owner = owner, .must = must, .local = local});
    }
    ly_set_free(set, NULL);
    return rc;
}

static int type_refs(struct cfg *cfg, const struct lysc_node *n, const struct lysc_type *t)
{
    int rc = 0;

    if (t->basetype == LY_TYPE_LEAFREF) {
        const struct lysc_type_leafref *l = (const struct lysc_type_leafref *)t;

        return refs_of(cfg, n, n, l->path, l->prefixes, NULL, true);
    }
    if (t->basetype == LY_TYPE_INST) {
        cfg->scope_off = true; /* it may point at any node */
        return 0;
    }
    if (t->basetype == LY_TYPE_UNION) {
        const struct lysc_type_union *u = (const struct lysc_type_union *)t;
        LY_ARRAY_COUNT_TYPE i;

        LY_ARRAY_FOR(u->types, i) {
            if ((rc = type_refs(cfg, n, u->types[i])))
                break;
        }
    }
    return rc;
}

static LY_ERR index_node(struct lysc_node *n, void *data, ly_bool *dfs_continue)
{
    struct cfg *cfg = data;
    struct lysc_must *musts;
    struct lysc_when **whens;
    LY_ARRAY_COUNT_TYPE i;
    int rc = 0;

    (void)dfs_continue;
    if ((n->nodetype & (LYS_RPC | LYS_ACTION | LYS_NOTIF | LYS_INPUT | LYS_OUTPUT)) ||
        (n->flags & (LYS_CONFIG_R | LYS_IS_INPUT | LYS_IS_OUTPUT | LYS_IS_NOTIF)))
        return LY_SUCCESS;
    musts = lysc_node_musts(n);
    LY_ARRAY_FOR(musts, i) {
        if ((rc = refs_of(cfg, n, n, musts[i].cond, musts[i].prefixes, &musts[i], false)))
            return LY_EMEM;
    }
    whens = lysc_node_when(n);
    LY_ARRAY_FOR(whens, i) {
        if ((rc = refs_of(cfg, n, whens[i]->context, whens[i]->cond, whens[i]->prefixes, NULL, false)))
            return LY_EMEM;
    }
    if (n->nodetype & (LYS_LEAF | LYS_LEAFLIST))
        rc = type_refs(cfg, n, ((const struct lysc_node_leaf *)n)->type);
    if (!rc && n->nodetype == LYS_LIST) {
        const struct lysc_node_list *l = (const struct lysc_node_list *)n;
        LY_ARRAY_COUNT_TYPE k;

        LY_ARRAY_FOR(l->uniques, i) {
            LY_ARRAY_FOR(l->uniques[i], k) {
                if ((rc = ref_add(cfg, &(struct cfg_ref){.atom = (const struct lysc_node *)l->uniques[i][k], .owner = n})))
                    break;
            }
        }
    }
    return rc ? LY_EMEM : LY_SUCCESS;
}

int cfg_scope_init(struct cfg *cfg)
{
    const struct lys_module *mod;
    const char *env = getenv("RAVEN_SCOPED_VALIDATION");
    uint32_t idx = 0;

    if (env && !strcmp(env, "0")) {
        cfg->scope_off = true;
        log_info("config", "RAVEN_SCOPED_VALIDATION=0: every transaction validates the whole tree");
        return 0;
    }
    while ((mod = ly_ctx_get_module_iter(cfg->ctx, &idx))) {
        if (mod->implemented && mod->compiled && lysc_module_dfs_full(mod, index_node, cfg))
            return -ENOMEM;
    }
    return 0;
}

static bool tree_typed(const struct lysc_type *t)
{
    if (t->basetype == LY_TYPE_LEAFREF || t->basetype == LY_TYPE_INST)
        return true;
    if (t->basetype == LY_TYPE_UNION) {
        const struct lysc_type_union *u = (const struct lysc_type_union *)t;
        LY_ARRAY_COUNT_TYPE i;

        LY_ARRAY_FOR(u->types, i) {
            if (tree_typed(u->types[i]))
                return true;
        }
    }
    return false;
}

/* One MODIFY of leaf @l: true if it is proven to keep the tree valid. */
static bool leaf_ok(const struct cfg *cfg, const struct lyd_node *l)
{
    const struct lysc_node *s = l->schema;
    const char *v = lyd_get_value(l);

    if (tree_typed(((const struct lysc_node_leaf *)s)->type) &&
        lyd_value_validate(cfg->ctx, s, v, strlen(v), l, NULL, NULL))
        return false;
    for (size_t i = 0; i < cfg->nrefs; i++) {
        const struct cfg_ref *r = &cfg->refs[i];
        const struct lyd_node *inst;
        ly_bool res = 0;

        if (!anc_or_self(r->atom, s))
            continue;
        if (!r->must || !r->local || !anc_or_self(r->owner, s))
            return false;
        for (inst = l; inst && inst->schema != r->owner; inst = lyd_parent(inst))
            ;
        if (!inst || lyd_eval_xpath3(inst, r->owner->module, lyxp_get_expr(r->must->cond), LY_VALUE_SCHEMA_RESOLVED,
                                     r->must->prefixes, NULL, &res) ||
            !res)
            return false;
    }
    return true;
}

bool cfg_scope_valid(struct cfg *cfg, const struct lyd_node *tree, const struct chg_vec *chg)
{
    if (cfg->scope_off || !tree || !chg || !chg->n)
        return false;
    for (size_t i = 0; i < chg->n; i++) {
        const struct cfg_change *c = &chg->v[i];
        struct lyd_node *l = NULL;

        if (c->op != CFG_CHG_MODIFY || !c->snode || c->snode->nodetype != LYS_LEAF || lysc_is_key(c->snode) ||
            !c->path)
            return false;
        if (lyd_find_path(tree, c->path, 0, &l) || !l || l->schema != c->snode || (l->flags & LYD_DEFAULT) ||
            !leaf_ok(cfg, l))
            return false;
    }
    cfg->nscoped++;
    return true;
}

void cfg_scope_stats(const struct cfg *cfg, uint64_t *scoped, uint64_t *full)
{
    *scoped = cfg->nscoped;
    *full = cfg->nfull;
}
