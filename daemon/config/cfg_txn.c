/* The commit transaction and the callback table (after FRRouting's northbound layer):
 * validate -> prepare (may fail; resources reserved) -> abort (only the prepared, in
 * reverse order) | apply (cannot fail). A handler owns a schema subtree; a change is
 * routed to every handler whose subtree contains it or lies below it (deleting a
 * container concerns every handler under it). A dry run (<validate>, test-only
 * edits) prepares and aborts; handlers see it through cfg_txn_is_dry_run() and
 * then check without reserving, since any user may ask for one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/alarm.h"
#include "daemon/base/log.h"
#include "daemon/config/cfg_impl.h"
#include "daemon/base/poison.h"

struct lyd_node *cfg_find_instance(const struct lyd_node *first, const struct lyd_node *node)
{
    struct lyd_node *match = NULL;

    if (!first)
        return NULL;
    if (node->schema->nodetype & (LYS_LIST | LYS_LEAFLIST)) {
        if (lyd_find_sibling_first(first, node, &match))
            return NULL;
    } else if (lyd_find_sibling_val(first, node->schema, NULL, 0, &match)) {
        return NULL;
    }
    return match;
}

int chg_vec_add_path(struct chg_vec *cv, enum cfg_chg_op op, const struct lysc_node *snode, const char *path)
{
    char *p = NULL;

    if (cv->n == cv->cap) {
        size_t cap = cv->cap ? cv->cap * 2 : 16;
        struct cfg_change *nv = realloc(cv->v, cap * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        cv->v = nv;
        cv->cap = cap;
    }
    if (path && !(p = strdup(path)))
        return -ENOMEM;
    cv->v[cv->n++] = (struct cfg_change){.op = op, .snode = snode, .path = p};
    return 0;
}

int chg_vec_add(struct chg_vec *cv, enum cfg_chg_op op, const struct lyd_node *node)
{
    char *path = lyd_path(node, LYD_PATH_STD, NULL, 0);
    int rc;

    if (!path)
        return -ENOMEM;
    rc = chg_vec_add_path(cv, op, node->schema, path);
    free(path);
    return rc;
}

void chg_vec_clear(struct chg_vec *cv)
{
    for (size_t i = 0; i < cv->n; i++)
        free(cv->v[i].path);
    free(cv->v);
    cv->v = NULL;
    cv->n = cv->cap = 0;
}

static const struct lyd_node *find_top(const struct lyd_node *first, const struct lysc_node *snode)
{
    const struct lyd_node *n;

    LY_LIST_FOR(first, n) {
        if (n->schema == snode)
            return n;
    }
    return NULL;
}

int chg_vec_diff_top(struct chg_vec *cv, const struct lyd_node *a, const struct lyd_node *b)
{
    const struct lyd_node *n, *m;
    int rc;

    LY_LIST_FOR(a, n) {
        m = find_top(b, n->schema);
        if (!m) {
            rc = chg_vec_add(cv, CFG_CHG_DELETE, n);
        } else if (lyd_compare_single(n, m, LYD_COMPARE_FULL_RECURSION | LYD_COMPARE_DEFAULTS)) {
            rc = chg_vec_add(cv, CFG_CHG_REPLACE, m);
        } else {
            rc = 0;
        }
        if (rc)
            return rc;
    }
    LY_LIST_FOR(b, m) {
        if (!find_top(a, m->schema)) {
            rc = chg_vec_add(cv, CFG_CHG_CREATE, m);
            if (rc)
                return rc;
        }
    }
    return 0;
}

int cfg_handler_register(struct cfg *cfg, const struct cfg_handler *h)
{
    const struct lysc_node *snode = lys_find_path(cfg->ctx, NULL, h->path, 0);
    struct cfg_reg *nv;

    if (!snode) {
        log_err("config", "handler %s: no schema node %s", h->name, h->path);
        return -EINVAL;
    }
    nv = realloc(cfg->regs, (cfg->nregs + 1) * sizeof(*nv));
    if (!nv)
        return -ENOMEM;
    cfg->regs = nv;
    cfg->regs[cfg->nregs++] = (struct cfg_reg){.h = *h, .snode = snode};
    return 0;
}

static bool snode_is_ancestor_or_self(const struct lysc_node *anc, const struct lysc_node *n)
{
    for (; n; n = n->parent) {
        if (n == anc)
            return true;
    }
    return false;
}

static bool covered(const struct cfg *cfg, const struct lysc_node *n)
{
    for (size_t i = 0; i < cfg->nregs; i++) {
        if (snode_is_ancestor_or_self(cfg->regs[i].snode, n))
            return true;
    }
    return false;
}

static bool holds_handler(const struct cfg *cfg, const struct lysc_node *n)
{
    for (size_t i = 0; i < cfg->nregs; i++) {
        if (snode_is_ancestor_or_self(n, cfg->regs[i].snode))
            return true;
    }
    return false;
}

static void check_node(const struct cfg *cfg, const struct lysc_node *n, struct cfg_errs *errs)
{
    const struct lysc_node *c;

    if (n->flags & LYS_CONFIG_R)
        return;
    if (covered(cfg, n))
        return;
    if (!holds_handler(cfg, n)) {
        char *p = lysc_path(n, LYSC_PATH_DATA, NULL, 0);
        cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, p,
                    "configuration node %s has no handler: no subsystem would act on it", p ? p : "?");
        free(p);
        return;
    }
    LY_LIST_FOR(lysc_node_child(n), c)
        check_node(cfg, c, errs);
}

int cfg_handlers_check(struct cfg *cfg, const char *module_prefix, struct cfg_errs *errs)
{
    const struct lys_module *mod;
    uint32_t idx = 0;
    size_t before = errs->count;

    while ((mod = ly_ctx_get_module_iter(cfg->ctx, &idx))) {
        const struct lysc_node *n;

        if (!mod->implemented || !mod->compiled || strncmp(mod->name, module_prefix, strlen(module_prefix)))
            continue;
        LY_LIST_FOR(mod->compiled->data, n)
            check_node(cfg, n, errs);
    }
    return errs->count > before ? -EINVAL : 0;
}

/* libyang names a missing mandatory node or a list with too few entries by its
 * schema path, which does not say which entry is at fault. Find the first parent
 * instance that lacks enough of the node and name it (".../ipv4-pool[name='x']/range"). */
static void locate_instance(struct cfg *cfg, const struct lyd_node *tree, struct cfg_err *e)
{
    const struct lysc_node *sn = e->path ? lys_find_path(cfg->ctx, NULL, e->path, 0) : NULL;
    struct ly_set *set = NULL;
    uint32_t min = 1;
    char *ppath;

    if (!sn || !sn->parent || !strchr(e->path + 1, '/'))
        return;
    if (sn->nodetype == LYS_LIST)
        min = ((const struct lysc_node_list *)sn)->min;
    else if (sn->nodetype == LYS_LEAFLIST)
        min = ((const struct lysc_node_leaflist *)sn)->min;
    ppath = lysc_path(sn->parent, LYSC_PATH_DATA, NULL, 0);
    if (ppath && !lyd_find_xpath(tree, ppath, &set)) {
        for (uint32_t i = 0; i < set->count; i++) {
            const struct lyd_node *c;
            uint32_t n = 0;

            LY_LIST_FOR(lyd_child(set->dnodes[i]), c) {
                if (c->schema == sn && !(c->flags & LYD_DEFAULT))
                    n++;
            }
            if (n < min) {
                char *ip = lyd_path(set->dnodes[i], LYD_PATH_STD, NULL, 0), *np = NULL;

                if (ip && asprintf(&np, "%s/%s", ip, sn->name) >= 0) {
                    free(e->path);
                    e->path = np;
                }
                free(ip);
                break;
            }
        }
    }
    ly_set_free(set, NULL);
    free(ppath);
}

/* The nodes validation created or deleted (defaults, non-presence containers under
 * a "when" that became true, nodes whose "when" became false), from its diff:
 * the topmost node of each operation. */
static bool diff_paths(const struct lyd_node *diff, struct chg_vec *made)
{
    const struct lyd_node *top, *n;
    bool ok = true;

    LY_LIST_FOR(diff, top)
    {
        LYD_TREE_DFS_BEGIN(top, n)
        {
            struct lyd_meta *m = lyd_find_meta(n->meta, NULL, "yang:operation");
            const char *v = m ? lyd_get_meta_value(m) : NULL;

            if (v && strcmp(v, "none")) {
                char *p = lyd_path(n, LYD_PATH_STD, NULL, 0);

                if (!p || chg_vec_add_path(made, strcmp(v, "delete") ? CFG_CHG_CREATE : CFG_CHG_DELETE, n->schema,
                                           p))
                    ok = false;
                free(p);
                LYD_TREE_DFS_continue = 1;
            }
            LYD_TREE_DFS_END(top, n);
        }
    }
    return ok;
}

static int validate_tree(struct cfg *cfg, struct lyd_node **tree, struct chg_vec *made, struct cfg_errs *errs)
{
    struct cfg_err *last = errs->tail;
    struct lyd_node *diff = NULL;
    LY_ERR lr = lyd_validate_all(tree, cfg->ctx, LYD_VALIDATE_NO_STATE, made ? &diff : NULL);

    if (made && !diff_paths(diff, made))
        cfg->txn_made_lost = true;
    lyd_free_all(diff);
    if (lr) {
        cfg_err_from_ly(errs, cfg->ctx, "configuration is not valid");
        for (struct cfg_err *e = last ? last->next : errs->head; e; e = e->next) {
            if (e->path && !strchr(e->path, '[') &&
                (e->tag == CFG_ERR_MISSING_ELEMENT || (e->app_tag && !strcmp(e->app_tag, "too-few-elements"))))
                locate_instance(cfg, *tree, e);
        }
        return -EINVAL;
    }
    return 0;
}

int cfg_validate_tree(struct cfg *cfg, struct lyd_node **tree, struct cfg_errs *errs)
{
    return validate_tree(cfg, tree, NULL, errs);
}

static LY_ERR collect_when(struct lysc_node *node, void *data, ly_bool *dfs_continue)
{
    struct cfg *cfg = data;
    char **nv, *p;

    (void)dfs_continue;
    if ((node->flags & LYS_CONFIG_R) || !lysc_node_when(node))
        return LY_SUCCESS;
    p = lysc_path(node, LYSC_PATH_DATA, NULL, 0);
    nv = p ? realloc(cfg->when_paths, (cfg->nwhen + 1) * sizeof(*nv)) : NULL;
    if (!nv) {
        free(p);
        return LY_EMEM;
    }
    cfg->when_paths = nv;
    cfg->when_paths[cfg->nwhen++] = p;
    return LY_SUCCESS;
}

int cfg_when_init(struct cfg *cfg)
{
    const struct lys_module *mod;
    uint32_t idx = 0;

    while ((mod = ly_ctx_get_module_iter(cfg->ctx, &idx))) {
        if (mod->implemented && mod->compiled && lysc_module_dfs_full(mod, collect_when, cfg))
            return -ENOMEM;
    }
    return 0;
}

/* Validation deletes the nodes whose "when" became false; the handlers must hear
 * of those too. The instances of the (few) schema nodes with a "when" are noted
 * before validation and looked for after it; each one gone is a DELETE. */
static void when_note(struct cfg *cfg, const struct lyd_node *tree, struct chg_vec *noted)
{
    for (size_t i = 0; i < cfg->nwhen && tree; i++) {
        struct ly_set *set = NULL;

        if (lyd_find_xpath(tree, cfg->when_paths[i], &set))
            continue;
        for (uint32_t k = 0; k < set->count; k++)
            chg_vec_add(noted, CFG_CHG_DELETE, set->dnodes[k]);
        ly_set_free(set, NULL);
    }
}

static const struct chg_vec *when_deleted(const struct lyd_node *tree, const struct chg_vec *chg,
                                          const struct chg_vec *noted, struct chg_vec *all)
{
    for (size_t i = 0; i < noted->n; i++) {
        struct lyd_node *m = NULL;

        if (tree && !lyd_find_path(tree, noted->v[i].path, 0, &m) && m)
            continue;
        if (!all->n) {
            for (size_t k = 0; k < chg->n; k++)
                chg_vec_add_path(all, chg->v[k].op, chg->v[k].snode, chg->v[k].path);
        }
        chg_vec_add_path(all, CFG_CHG_DELETE, noted->v[i].snode, noted->v[i].path);
    }
    return all->n ? all : chg;
}

static bool routed(const struct cfg_reg *r, const struct cfg_change *c)
{
    if (!c->snode) /* the whole configuration */
        return true;
    return snode_is_ancestor_or_self(r->snode, c->snode) || snode_is_ancestor_or_self(c->snode, r->snode);
}

/* Collects the changes of @chg routed to @r into txn->mine. */
static int txn_route(struct cfg_txn *txn, const struct cfg_reg *r, const struct chg_vec *chg)
{
    txn->nmine = 0;
    for (size_t i = 0; i < chg->n; i++) {
        if (routed(r, &chg->v[i]))
            txn->mine[txn->nmine++] = chg->v[i];
    }
    return (int)txn->nmine;
}

int cfg_txn_run(struct cfg *cfg, const struct lyd_node *old, struct lyd_node **newp, const struct chg_vec *chg,
                bool dry_run, bool initial, cfg_persist_fn persist, void *persist_arg, struct cfg_errs *errs)
{
    struct cfg_txn txn = {.cfg = cfg, .old = old, .initial = initial, .dry_run = dry_run};
    struct chg_vec all = {0}, noted = {0};
    size_t nprep = 0;
    int rc;

    chg_vec_clear(&cfg->txn_made);
    cfg->txn_made_lost = false;
    when_note(cfg, *newp, &noted);
    if (cfg_scope_valid(cfg, *newp, chg)) {
        log_debug("config", "%zu change(s) validated by their constraints alone", chg->n);
        rc = 0;
    } else {
        cfg->nfull++;
        /* a bulk load: the diff of its validation (the defaults of thousands of
         * new nodes) would cost a third of it, and levelling a spare with it more
         * than copying running */
        cfg->txn_made_lost = chg->n > CFG_BULK_CHANGES;
        rc = validate_tree(cfg, newp, cfg->txn_made_lost ? NULL : &cfg->txn_made, errs);
    }
    cfg->txn_when_del = false;
    if (!rc) {
        const struct chg_vec *in = chg;

        chg = when_deleted(*newp, chg, &noted, &all);
        cfg->txn_when_del = chg != in;
    }
    chg_vec_clear(&noted);
    if (rc)
        return rc;
    txn.all = chg;
    txn.new = *newp;
    txn.mine = calloc(chg->n ? chg->n : 1, sizeof(*txn.mine));
    if (!txn.mine)
        return -ENOMEM;

    for (nprep = 0; nprep < cfg->nregs; nprep++) {
        const struct cfg_reg *r = &cfg->regs[nprep];

        if (!txn_route(&txn, r, chg) || !r->h.prepare)
            continue;
        rc = r->h.prepare(&txn, r->h.arg, errs);
        if (rc) {
            log_info("config", "transaction refused by %s (%d)", r->h.name, rc);
            if (!errs->count)
                cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, r->h.path,
                            "%s refused the change", r->h.name);
            if (!dry_run) /* commit-refused: cleared by the next commit taken */
                alarm_raise(ALARM_COMMIT_REFUSED, r->h.path, ALARM_SEV_WARNING, "%s refused a commit: %s%s%s",
                            r->h.name, errs->head && errs->head->path ? errs->head->path : "",
                            errs->head && errs->head->path ? ": " : "", errs->head ? errs->head->msg : "");
            break;
        }
    }
    /* Persisting is the last step that may fail, so it comes before apply: a
     * commit that cannot be saved is aborted like a refused one. */
    if (!rc && !dry_run && persist) {
        cfg->txn_chg = chg;
        rc = persist(cfg, *newp, persist_arg, errs);
        cfg->txn_chg = NULL;
        if (rc) /* commit-refused of the datastore: cleared by the next commit taken */
            alarm_raise(ALARM_COMMIT_REFUSED, "running", ALARM_SEV_WARNING,
                        "a commit could not be saved, so it was not applied: %s",
                        errs->head ? errs->head->msg : strerror(rc < 0 ? -rc : rc));
    }
    if (rc || dry_run) {
        /* abort exactly the handlers that prepared, newest first */
        while (nprep-- > 0) {
            const struct cfg_reg *r = &cfg->regs[nprep];

            if (txn_route(&txn, r, chg) && r->h.abort)
                r->h.abort(&txn, r->h.arg);
        }
        goto out;
    }
    for (size_t i = 0; i < cfg->nregs; i++) {
        const struct cfg_reg *r = &cfg->regs[i];

        if (txn_route(&txn, r, chg) && r->h.apply)
            r->h.apply(&txn, r->h.arg);
    }
    alarm_clear_unless(ALARM_COMMIT_REFUSED, NULL, NULL, NULL);
out:
    free(txn.mine);
    chg_vec_clear(&all);
    return rc;
}

const struct lyd_node *cfg_txn_old(const struct cfg_txn *txn)
{
    return txn->old;
}

const struct lyd_node *cfg_txn_new(const struct cfg_txn *txn)
{
    return txn->new;
}

const struct cfg_change *cfg_txn_changes(const struct cfg_txn *txn, size_t *n)
{
    *n = txn->nmine;
    return txn->mine;
}

bool cfg_txn_all_changes(const struct cfg_txn *txn, const struct cfg_change **chg, size_t *n,
                         const struct cfg_change **made, size_t *nmade)
{
    *chg = txn->all->v;
    *n = txn->all->n;
    *made = txn->cfg->txn_made.v;
    *nmade = txn->cfg->txn_made.n;
    /* after a refused attempt, its validation may have changed the candidate
     * beyond what was recorded */
    return !txn->initial && !txn->cfg->txn_made_lost && !txn->cfg->cand_validated;
}

bool cfg_txn_is_initial(const struct cfg_txn *txn)
{
    return txn->initial;
}

bool cfg_txn_is_dry_run(const struct cfg_txn *txn)
{
    return txn->dry_run;
}
