/* Datastores: the running, candidate and startup trees, locks, and the operations the
 * management APIs call (get, edit, copy, delete, validate, discard, commit, lock).
 * The candidate is materialised lazily: while it equals running it is NULL. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/base/fsutil.h"
#include "daemon/base/log.h"
#include "daemon/config/cfg_impl.h"
#include "daemon/base/poison.h"

static const char *const ds_names[] = {"running", "candidate", "startup"};

struct cfg *cfg_new(struct ly_ctx *ctx, const struct cfg_opts *opts)
{
    struct cfg *cfg = calloc(1, sizeof(*cfg));

    if (!cfg)
        return NULL;
    cfg->ctx = ctx;
    cfg->state_dir = strdup(opts->state_dir);
    cfg->initial_file = opts->initial_file ? strdup(opts->initial_file) : NULL;
    cfg->default_xml = strdup(opts->default_xml ? opts->default_xml : "");
    cfg->jfd = -1;
    cfg->compact_bytes = opts->compact_bytes ? opts->compact_bytes : 256u << 10;
    if (!cfg->state_dir || !cfg->default_xml || (opts->initial_file && !cfg->initial_file)) {
        cfg_free(cfg);
        return NULL;
    }
    return cfg;
}

void cfg_free(struct cfg *cfg)
{
    if (!cfg)
        return;
    cfg_journal_close(cfg);
    cfg_plock_end(cfg, 0);
    lyd_free_siblings(cfg->running);
    lyd_free_siblings(cfg->candidate);
    lyd_free_siblings(cfg->startup);
    lyd_free_siblings(cfg->spare);
    chg_vec_clear(&cfg->spare_chg);
    chg_vec_clear(&cfg->txn_made);
    lyd_free_siblings(cfg->confirm_rollback);
    chg_vec_clear(&cfg->cand_chg);
    ly_set_free(cfg->secrets, NULL);
    free(cfg->refs);
    for (size_t i = 0; i < cfg->nwhen; i++)
        free(cfg->when_paths[i]);
    free(cfg->when_paths);
    free(cfg->confirm_persist);
    free(cfg->regs);
    free(cfg->state_dir);
    free(cfg->initial_file);
    free(cfg->default_xml);
    free(cfg);
}

struct ly_ctx *cfg_ctx(const struct cfg *cfg)
{
    return cfg->ctx;
}

void cfg_set_notify(struct cfg *cfg, cfg_notify_fn fn, void *arg)
{
    cfg->notify = fn;
    cfg->notify_arg = arg;
}

void cfg_set_reaper(struct cfg *cfg, void (*reap)(struct lyd_node *tree, void *arg), void *arg)
{
    cfg->reap = reap;
    cfg->reap_arg = arg;
}

void cfg_set_loaded(struct cfg *cfg, void (*loaded)(const struct lyd_node *running, void *arg), void *arg)
{
    cfg->loaded = loaded;
    cfg->loaded_arg = arg;
}

void cfg_set_access(struct cfg *cfg, const struct cfg_access *access)
{
    cfg->access = access ? *access : (struct cfg_access){0};
}

static int dup_tree(struct cfg *cfg, const struct lyd_node *src, struct lyd_node **out, struct cfg_errs *errs);

/* Whether @actor's writes go through the access check. */
static bool restricted(struct cfg *cfg, const struct cfg_actor *actor)
{
    return cfg->access.check && actor && actor->sid && cfg->access.restricted &&
           cfg->access.restricted(actor, cfg->access.arg);
}

/* The access check of a restricted actor's change of @old into @new. */
int cfg_access_check(struct cfg *cfg, const struct cfg_actor *actor, const struct lyd_node *old,
                     const struct lyd_node *new, struct cfg_errs *errs)
{
    return restricted(cfg, actor) ? cfg->access.check(actor, old, new, errs, cfg->access.arg) : 0;
}

/* A restricted actor's edit of the candidate, tried on a copy first: the
 * candidate is edited in place and only if the access check passes. */
static int access_trial(struct cfg *cfg, const struct lyd_node *edit, enum cfg_op defop, enum cfg_err_opt erropt,
                        const struct cfg_actor *actor, struct cfg_errs *errs)
{
    const struct lyd_node *base = cfg->cand_active ? cfg->candidate : cfg->running;
    struct cfg_errs scratch = {0};
    struct chg_vec chg = {0};
    struct lyd_node *work = NULL;
    int rc;

    if (!restricted(cfg, actor))
        return 0;
    rc = dup_tree(cfg, base, &work, errs);
    if (rc)
        return rc;
    /* its own errors come again from the real edit */
    cfg_edit_tree(cfg, &work, edit, NULL, defop, erropt, &chg, &scratch);
    rc = cfg->access.check(actor, base, work, errs, cfg->access.arg);
    cfg_errs_clear(&scratch);
    chg_vec_clear(&chg);
    lyd_free_siblings(work);
    return rc;
}

void cfg_set_timer(struct cfg *cfg, void (*arm)(int64_t ms, void *arg), void *arg)
{
    cfg->timer_arm = arm;
    cfg->timer_arg = arg;
}

bool cfg_candidate_dirty(const struct cfg *cfg)
{
    return cfg->cand_active;
}

void cfg_cand_reset(struct cfg *cfg)
{
    lyd_free_siblings(cfg->candidate);
    cfg->candidate = NULL;
    cfg->cand_active = false;
    cfg->cand_validated = false;
    chg_vec_clear(&cfg->cand_chg);
}

static void reap(struct cfg *cfg, struct lyd_node *tree)
{
    if (cfg->reap && tree)
        cfg->reap(tree, cfg->reap_arg);
    else
        lyd_free_siblings(tree);
}

/* The previous running @old after a commit of @chg is kept as the next candidate's
 * starting point, instead of copying the whole of running at the next edit; it is
 * brought level with running (only the changed subtrees are copied) when that
 * edit comes, so the commit does not wait for it. */
static void spare_offer(struct cfg *cfg, struct lyd_node *old, const struct chg_vec *chg)
{
    reap(cfg, cfg->spare);
    cfg->spare = NULL;
    chg_vec_clear(&cfg->spare_chg);
    /* nodes removed by validation are not in the change set: no spare then; nor
     * after a failed attempt, whose validation changed the candidate in place (what
     * it removed is then in neither the change set nor this validation's diff) */
    bool none = cfg->txn_when_del || cfg->cand_validated || cfg->txn_made_lost;

    for (size_t i = 0; !none && i < chg->n; i++) {
        if (chg_vec_add_path(&cfg->spare_chg, chg->v[i].op, chg->v[i].snode, chg->v[i].path))
            break;
    }
    /* and what validation added (defaults, containers under a when now true) */
    for (size_t i = 0; !none && i < cfg->txn_made.n; i++) {
        const struct cfg_change *c = &cfg->txn_made.v[i];

        if (chg_vec_add_path(&cfg->spare_chg, c->op, c->snode, c->path))
            break;
    }
    if (none || cfg->spare_chg.n != chg->n + cfg->txn_made.n) {
        chg_vec_clear(&cfg->spare_chg);
        reap(cfg, old);
        return;
    }
    cfg->spare = old;
    cfg->spare_gen = cfg->running_gen;
}

/* The spare, level with running, for a new candidate; NULL if there is none. */
static struct lyd_node *spare_take(struct cfg *cfg)
{
    struct lyd_node *t = cfg->spare;

    cfg->spare = NULL;
    if (t && (cfg->spare_gen != cfg->running_gen || cfg_tree_sync(&t, cfg->running, &cfg->spare_chg))) {
        reap(cfg, t);
        t = NULL;
    }
    chg_vec_clear(&cfg->spare_chg);
    if (t)
        cfg->spares_used++;
    return t;
}

static int dup_tree(struct cfg *cfg, const struct lyd_node *src, struct lyd_node **out, struct cfg_errs *errs)
{
    *out = NULL;
    if (src && lyd_dup_siblings(src, NULL, LYD_DUP_RECURSIVE | LYD_DUP_WITH_FLAGS, out)) {
        cfg_err_from_ly(errs, cfg->ctx, "out of memory copying a datastore");
        return -ENOMEM;
    }
    return 0;
}

static int check_lock(struct cfg *cfg, enum cfg_ds ds, const struct cfg_actor *actor, struct cfg_errs *errs)
{
    struct cfg_err *e;

    if (!cfg->lock[ds] || cfg->lock[ds] == actor->sid)
        return 0;
    e = cfg_err_add(errs, CFG_ERR_IN_USE, CFG_ERRT_PROTOCOL, NULL,
                    "the %s datastore is locked by session %u; wait for it to unlock or kill that session",
                    ds_names[ds], cfg->lock[ds]);
    if (e)
        e->lock_sid = cfg->lock[ds];
    return -EBUSY;
}

/* While a confirmed commit is pending, running changes only by commit (and
 * by the session that made it): its rollback then undoes nothing but the
 * confirmed changes, which no other session's direct edit could be lost in. */
static int check_confirm(struct cfg *cfg, enum cfg_ds ds, const struct cfg_actor *actor, struct cfg_errs *errs)
{
    if (ds != CFG_DS_RUNNING || !cfg->confirm_pending || !actor->sid || actor->sid == cfg->confirm_sid)
        return 0;
    cfg_err_add(errs, CFG_ERR_IN_USE, CFG_ERRT_PROTOCOL, NULL,
                "a confirmed commit of session %u is pending: running can be changed only by commit until it is "
                "confirmed or cancelled",
                cfg->confirm_sid);
    return -EBUSY;
}

/* One record appended to running.journal; a snapshot when the change set is the
 * whole configuration (or the journal cannot take it). */
int cfg_persist_running(struct cfg *cfg, const struct lyd_node *new, void *arg, struct cfg_errs *errs)
{
    int rc = cfg_journal_append(cfg, cfg->running, new, cfg->txn_chg);

    (void)arg;
    if (rc == -EAGAIN)
        rc = cfg_store_save(cfg, "running", new);
    if (rc)
        cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, NULL,
                    "cannot save the running configuration in %s: %s; nothing was changed", cfg->state_dir,
                    strerror(-rc));
    return rc;
}

/* A whole new running.xml: for copy-config and rollbacks, which replace running
 * rather than change it, and leave the journal empty. */
int cfg_persist_snapshot(struct cfg *cfg, const struct lyd_node *new, void *arg, struct cfg_errs *errs)
{
    int rc = cfg_store_save(cfg, "running", new);

    (void)arg;
    if (rc)
        cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, NULL,
                    "cannot save the running configuration in %s: %s; nothing was changed", cfg->state_dir,
                    strerror(-rc));
    return rc;
}

int cfg_running_set(struct cfg *cfg, struct lyd_node **newp, const struct chg_vec *chg, const struct cfg_actor *actor,
                    bool dry_run, cfg_persist_fn persist, void *persist_arg, struct lyd_node **prev,
                    struct cfg_errs *errs)
{
    int rc;

    if (prev)
        *prev = NULL;
    rc = cfg_plock_check(cfg, chg, actor, errs);
    if (rc)
        return rc;
    rc = cfg_txn_run(cfg, cfg->running, newp, chg, dry_run, false, persist ? persist : cfg_persist_running,
                     persist_arg, errs);
    if (rc || dry_run)
        return rc;
    if (prev)
        *prev = cfg->running;
    else if (cfg->reap && cfg->running)
        cfg->reap(cfg->running, cfg->reap_arg);
    else
        lyd_free_siblings(cfg->running);
    cfg->running = *newp;
    *newp = NULL;
    cfg->running_gen++;
    cfg->running_mtime = time(NULL);
    reap(cfg, cfg->spare); /* level with the previous running only */
    cfg->spare = NULL;
    chg_vec_clear(&cfg->spare_chg);
    cfg_journal_tick(cfg);
    if (cfg->notify) /* also without changes: running's generation moved */
        cfg->notify(actor, chg->v, chg->n, cfg->notify_arg);
    return 0;
}

static const struct lyd_node *ds_tree(const struct cfg *cfg, enum cfg_ds ds)
{
    switch (ds) {
    case CFG_DS_RUNNING:
        return cfg->running;
    case CFG_DS_CANDIDATE:
        return cfg->cand_active ? cfg->candidate : cfg->running;
    case CFG_DS_STARTUP:
        return cfg->startup;
    default:
        return NULL;
    }
}

static int need_startup(struct cfg *cfg, enum cfg_ds ds, struct cfg_errs *errs)
{
    if (ds == CFG_DS_STARTUP && !cfg->startup) {
        cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL,
                    "the startup datastore does not exist; create it with copy-config from running");
        return -ENOENT;
    }
    return 0;
}

/* Whether @p (in @s) is the value of an xmlns:PREFIX declaration inside a tag.
 * libyang escapes < and > in text and " in attribute values, so a leaf's value
 * that merely holds the same characters is told apart. */
static bool ns_decl_at(const char *s, const char *p)
{
    const char *q = p;

    while (q > s && (isalnum((unsigned char)q[-1]) || q[-1] == '_' || q[-1] == '-' || q[-1] == '.'))
        q--;
    if (q == p || q - s < 7 || strncmp(q - 6, "xmlns:", 6) || !isspace((unsigned char)q[-7]))
        return false;
    for (q -= 7; q > s && *q != '<' && *q != '>'; q--)
        ;
    return *q == '<';
}

int cfg_print_xml_tagged(const struct lyd_node *tree, uint32_t flags, char **out)
{
    static const char ly_ns[] = "=\"urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults\"";
    static const char rfc_ns[] = "=\"urn:ietf:params:xml:ns:netconf:default:1.0\"";
    char *s = NULL, *o, *w;
    const char *r, *p;

    *out = NULL;
    if (lyd_print_mem(&s, tree, LYD_XML, flags | LYD_PRINT_WD_ALL_TAG | LYD_PRINT_WITHSIBLINGS))
        return -ENOMEM;
    if (!s)
        return 0;
    /* the replacement is shorter; the original is read while the copy is made */
    if (!(o = malloc(strlen(s) + 1))) {
        free(s);
        return -ENOMEM;
    }
    for (r = s, w = o; (p = strstr(r, ly_ns)); r = p + sizeof(ly_ns) - 1) {
        bool decl = ns_decl_at(s, p);

        memcpy(w, r, (size_t)(p - r));
        w += p - r;
        memcpy(w, decl ? rfc_ns : ly_ns, decl ? sizeof(rfc_ns) - 1 : sizeof(ly_ns) - 1);
        w += decl ? sizeof(rfc_ns) - 1 : sizeof(ly_ns) - 1;
    }
    memcpy(w, r, strlen(r) + 1);
    free(s);
    *out = o;
    return 0;
}

int cfg_tree_select(struct cfg *cfg, const struct lyd_node *src, const char *const *xpaths, struct lyd_node **out,
                    struct cfg_errs *errs)
{
    return cfg_tree_select_ctx(cfg->ctx, src, xpaths, out, errs);
}

int cfg_tree_select_ctx(const struct ly_ctx *ctx, const struct lyd_node *src, const char *const *xpaths,
                        struct lyd_node **out, struct cfg_errs *errs)
{
    struct lyd_node *res = NULL;
    int rc = 0;

    *out = NULL;
    if (!xpaths) {
        if (src && lyd_dup_siblings(src, NULL, LYD_DUP_RECURSIVE | LYD_DUP_WITH_FLAGS, out)) {
            cfg_err_from_ly(errs, ctx, "out of memory copying a datastore");
            return -ENOMEM;
        }
        return 0;
    }
    for (const char *const *xp = xpaths; *xp && src && !rc; xp++) {
        struct ly_set *set = NULL;

        if (lyd_find_xpath(src, *xp, &set)) {
            cfg_err_from_ly(errs, ctx, "invalid XPath filter");
            cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL,
                        "XPath filter \"%s\" cannot be evaluated", *xp);
            rc = -EINVAL;
            break;
        }
        for (uint32_t i = 0; i < set->count && !rc; i++) {
            struct lyd_node *d = NULL, *top;

            if (!set->dnodes[i]->schema) /* opaque node: nothing to select */
                continue;
            if (lyd_dup_single(set->dnodes[i], NULL, LYD_DUP_RECURSIVE | LYD_DUP_WITH_PARENTS | LYD_DUP_WITH_FLAGS,
                               &d)) {
                rc = -ENOMEM;
                break;
            }
            for (top = d; top->parent; top = lyd_parent(top))
                ;
            if (lyd_merge_siblings(&res, top, LYD_MERGE_DESTRUCT | LYD_MERGE_WITH_FLAGS))
                rc = -ENOMEM;
        }
        ly_set_free(set, NULL);
    }
    if (rc) {
        lyd_free_siblings(res);
        if (rc == -ENOMEM)
            cfg_err_add(errs, CFG_ERR_RESOURCE_DENIED, CFG_ERRT_APPLICATION, NULL, "out of memory");
        return rc;
    }
    *out = res;
    return 0;
}

int cfg_get(struct cfg *cfg, enum cfg_ds ds, const char *const *xpaths, bool with_secrets, struct lyd_node **out,
            struct cfg_errs *errs)
{
    int rc;

    *out = NULL;
    if (ds == CFG_DS_STARTUP && !cfg->startup)
        return need_startup(cfg, ds, errs);
    if (xpaths && !with_secrets && cfg->secrets && cfg->secrets->count) {
        /* mask before selecting: a filter must not be able to test a secret's value */
        struct lyd_node *masked = NULL;

        rc = dup_tree(cfg, ds_tree(cfg, ds), &masked, errs);
        if (rc)
            return rc;
        cfg_secret_mask(cfg, masked);
        rc = cfg_tree_select(cfg, masked, xpaths, out, errs);
        lyd_free_siblings(masked);
        return rc;
    }
    rc = cfg_tree_select(cfg, ds_tree(cfg, ds), xpaths, out, errs);
    if (!rc && !with_secrets)
        cfg_secret_mask(cfg, *out);
    return rc;
}

/* cfg_edit and cfg_edit_take: @take NULL, or the edit (then @edit is *take). */
static int edit_ds(struct cfg *cfg, enum cfg_ds ds, const struct lyd_node *edit, struct lyd_node **take,
                   enum cfg_op defop, enum cfg_test_opt testopt, enum cfg_err_opt erropt,
                   const struct cfg_actor *actor, struct cfg_errs *errs)
{
    struct chg_vec chg = {0};
    struct lyd_node *work = NULL;
    int rc;

    if (ds == CFG_DS_STARTUP) {
        cfg_err_add(errs, CFG_ERR_OPERATION_NOT_SUPPORTED, CFG_ERRT_PROTOCOL, NULL,
                    "edit-config cannot target startup; edit candidate or running and copy it to startup");
        return -EOPNOTSUPP;
    }
    rc = check_lock(cfg, ds, actor, errs);
    if (!rc && testopt != CFG_TEST_ONLY)
        rc = check_confirm(cfg, ds, actor, errs);
    if (rc)
        return rc;
    if (ds == CFG_DS_CANDIDATE && testopt != CFG_TEST_ONLY) {
        /* The candidate may be inconsistent until commit (RFC 6241 8.3): edits are
         * checked against the schema here, the whole tree at validate/commit. */
        bool fresh = !cfg->cand_active;

        rc = access_trial(cfg, edit, defop, erropt, actor, errs);
        if (rc)
            return rc;
        if (fresh) {
            if (!(cfg->candidate = spare_take(cfg)) && (rc = dup_tree(cfg, cfg->running, &cfg->candidate, errs))) {
                return rc;
            }
            cfg->cand_active = true;
            cfg->cand_base_gen = cfg->running_gen;
        }
        rc = cfg_edit_tree(cfg, &cfg->candidate, edit, take, defop, erropt, &cfg->cand_chg, errs);
        if (fresh && !cfg->cand_chg.n)
            cfg_cand_reset(cfg);
        return rc;
    }

    rc = dup_tree(cfg, ds_tree(cfg, ds), &work, errs);
    if (rc)
        return rc;
    if (ds == CFG_DS_CANDIDATE) {
        /* test-only on the candidate: edit a copy, validate it, keep nothing */
        rc = cfg_edit_tree(cfg, &work, edit, take, defop, erropt, &chg, errs);
        if (!rc || erropt == CFG_ERROPT_CONTINUE) {
            int vrc = cfg_validate_tree(cfg, &work, errs);
            rc = rc ? rc : vrc;
        }
        lyd_free_siblings(work);
        chg_vec_clear(&chg);
        return rc;
    }

    /* running: one transaction per edit */
    rc = cfg_edit_tree(cfg, &work, edit, take, defop, erropt, &chg, errs);
    if ((!rc || erropt == CFG_ERROPT_CONTINUE) && testopt != CFG_TEST_ONLY) {
        int arc = cfg_access_check(cfg, actor, cfg->running, work, errs);

        if (arc) {
            lyd_free_siblings(work);
            chg_vec_clear(&chg);
            return arc;
        }
    }
    if (rc && erropt != CFG_ERROPT_CONTINUE) {
        lyd_free_siblings(work);
    } else {
        int trc = cfg_running_set(cfg, &work, &chg, actor, testopt == CFG_TEST_ONLY, NULL, NULL, NULL, errs);
        rc = rc ? rc : trc;
        lyd_free_siblings(work);
    }
    chg_vec_clear(&chg);
    return rc;
}

int cfg_edit(struct cfg *cfg, enum cfg_ds ds, const struct lyd_node *edit, enum cfg_op defop,
             enum cfg_test_opt testopt, enum cfg_err_opt erropt, const struct cfg_actor *actor, struct cfg_errs *errs)
{
    return edit_ds(cfg, ds, edit, NULL, defop, testopt, erropt, actor, errs);
}

int cfg_edit_take(struct cfg *cfg, enum cfg_ds ds, struct lyd_node **edit, enum cfg_op defop,
                  enum cfg_test_opt testopt, enum cfg_err_opt erropt, const struct cfg_actor *actor,
                  struct cfg_errs *errs)
{
    return edit_ds(cfg, ds, *edit, edit, defop, testopt, erropt, actor, errs);
}

/* A copy of the source of copy-config / validate, with masked secrets resolved
 * against @keep (the datastore the data replaces). */
static int source_tree(struct cfg *cfg, int src_ds, const struct lyd_node *src_tree, const struct lyd_node *keep,
                       struct lyd_node **out, struct cfg_errs *errs)
{
    struct lyd_node *n;
    int rc;

    if (src_ds != CFG_SRC_INLINE) {
        if (src_ds < 0 || src_ds >= CFG_DS_COUNT) {
            cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL, "no such source datastore");
            return -EINVAL;
        }
        rc = need_startup(cfg, (enum cfg_ds)src_ds, errs);
        if (rc)
            return rc;
        return dup_tree(cfg, ds_tree(cfg, (enum cfg_ds)src_ds), out, errs);
    }
    rc = dup_tree(cfg, src_tree, out, errs);
    if (rc)
        return rc;
    LY_LIST_FOR(*out, n) {
        rc = cfg_secret_restore(cfg, n, cfg_find_instance(keep, n), errs);
        if (rc) {
            lyd_free_siblings(*out);
            *out = NULL;
            return rc;
        }
    }
    return 0;
}

int cfg_copy(struct cfg *cfg, enum cfg_ds dst, int src_ds, const struct lyd_node *src_tree,
             const struct cfg_actor *actor, struct cfg_errs *errs)
{
    struct chg_vec chg = {0};
    struct lyd_node *t = NULL;
    int rc;

    if (src_ds == (int)dst) {
        cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL,
                    "copy-config source and target are both %s", ds_names[dst]);
        return -EINVAL;
    }
    rc = check_lock(cfg, dst, actor, errs);
    if (!rc)
        rc = check_confirm(cfg, dst, actor, errs);
    if (rc)
        return rc;
    rc = source_tree(cfg, src_ds, src_tree, ds_tree(cfg, dst) ? ds_tree(cfg, dst) : cfg->running, &t, errs);
    if (rc)
        return rc;
    rc = cfg_access_check(cfg, actor, ds_tree(cfg, dst), t, errs);
    if (rc) {
        lyd_free_siblings(t);
        return rc;
    }

    switch (dst) {
    case CFG_DS_RUNNING:
        rc = chg_vec_diff_top(&chg, cfg->running, t);
        if (rc) {
            lyd_free_siblings(t);
            break;
        }
        rc = cfg_running_set(cfg, &t, &chg, actor, false, cfg_persist_snapshot, NULL, NULL, errs);
        lyd_free_siblings(t);
        break;
    case CFG_DS_CANDIDATE:
        chg_vec_clear(&cfg->cand_chg);
        rc = chg_vec_diff_top(&cfg->cand_chg, cfg->running, t);
        lyd_free_siblings(cfg->candidate);
        cfg->candidate = t;
        cfg->cand_active = true;
        cfg->cand_base_gen = cfg->running_gen;
        if (!rc && !cfg->cand_chg.n) /* identical to running */
            cfg_cand_reset(cfg);
        break;
    case CFG_DS_STARTUP:
        rc = cfg_validate_tree(cfg, &t, errs);
        if (!rc)
            rc = cfg_store_save(cfg, "startup", t);
        if (rc) {
            if (errs->count == 0)
                cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, NULL,
                            "cannot save the startup configuration: %s", strerror(-rc));
            lyd_free_siblings(t);
            break;
        }
        lyd_free_siblings(cfg->startup);
        cfg->startup = t;
        break;
    default:
        lyd_free_siblings(t);
        rc = -EINVAL;
    }
    chg_vec_clear(&chg);
    return rc;
}

int cfg_delete_ds(struct cfg *cfg, enum cfg_ds ds, const struct cfg_actor *actor, struct cfg_errs *errs)
{
    int rc;

    if (ds != CFG_DS_STARTUP) {
        cfg_err_add(errs, CFG_ERR_OPERATION_NOT_SUPPORTED, CFG_ERRT_PROTOCOL, NULL,
                    "delete-config can only delete startup; the %s datastore cannot be deleted", ds_names[ds]);
        return -EOPNOTSUPP;
    }
    rc = check_lock(cfg, ds, actor, errs);
    if (!rc)
        rc = cfg_access_check(cfg, actor, cfg->startup, NULL, errs);
    if (rc)
        return rc;
    rc = cfg_store_remove(cfg, "startup");
    if (rc) {
        cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, NULL, "cannot delete startup: %s",
                    strerror(-rc));
        return rc;
    }
    lyd_free_siblings(cfg->startup);
    cfg->startup = NULL;
    return 0;
}

/* The changes committing the candidate makes: its recorded edits, unless running
 * changed since the candidate was copied (an edit of running, a rollback); then the
 * edits alone would not undo those changes, so every top-level subtree that differs
 * is reported instead. */
static const struct chg_vec *candidate_changes(struct cfg *cfg, struct chg_vec *tmp)
{
    if (cfg->cand_base_gen == cfg->running_gen)
        return &cfg->cand_chg;
    if (chg_vec_diff_top(tmp, cfg->running, cfg->candidate))
        return &cfg->cand_chg;
    return tmp;
}

int cfg_validate(struct cfg *cfg, int src_ds, const struct lyd_node *src_tree, struct cfg_errs *errs)
{
    struct lyd_node *t = NULL;
    int rc;

    rc = source_tree(cfg, src_ds, src_tree, cfg->running, &t, errs);
    if (rc)
        return rc;
    if (src_ds == CFG_DS_CANDIDATE && cfg->cand_active) {
        /* also ask the subsystems, so validate catches what commit would refuse */
        struct chg_vec tmp = {0};

        rc = cfg_txn_run(cfg, cfg->running, &t, candidate_changes(cfg, &tmp), true, false, NULL, NULL, errs);
        chg_vec_clear(&tmp);
    } else {
        rc = cfg_validate_tree(cfg, &t, errs);
    }
    lyd_free_siblings(t);
    return rc;
}

int cfg_discard(struct cfg *cfg, const struct cfg_actor *actor, struct cfg_errs *errs)
{
    int rc = check_lock(cfg, CFG_DS_CANDIDATE, actor, errs);

    if (rc)
        return rc;
    cfg_cand_reset(cfg);
    return 0;
}

/* Persists a commit: with a new confirmed commit, the rollback point first, so a
 * crash between the two writes still finds a pending commit to undo. */
struct commit_persist {
    const struct cfg_commit_opts *o;
    const struct cfg_actor *actor;
};

static int commit_persist(struct cfg *cfg, const struct lyd_node *new, void *arg, struct cfg_errs *errs)
{
    struct commit_persist *cp = arg;
    int rc;

    if (cp->o->confirmed) {
        rc = cfg_confirm_begin(cfg, cp->o, cp->actor, errs);
        if (rc)
            return rc;
    }
    return cfg_persist_running(cfg, new, NULL, errs);
}

int cfg_commit(struct cfg *cfg, const struct cfg_commit_opts *o, const struct cfg_actor *actor, struct cfg_errs *errs)
{
    struct commit_persist cp = {.o = o, .actor = actor};
    struct cfg_confirm_saved saved = {0};
    struct lyd_node *prev = NULL;
    bool was_pending = cfg->confirm_pending;
    int rc;

    rc = check_lock(cfg, CFG_DS_RUNNING, actor, errs);
    if (rc)
        return rc;
    rc = cfg_confirm_check(cfg, o, actor, errs);
    /* the whole change, not only the candidate's checked edits: running may
     * have changed since (another user's edit the candidate would undo), and
     * the candidate may hold another session's edits */
    if (!rc && cfg->cand_active)
        rc = cfg_access_check(cfg, actor, cfg->running, cfg->candidate, errs);
    if (rc)
        return rc;
    if (was_pending)
        cfg_confirm_save(cfg, &saved);

    if (cfg->cand_active) {
        /* on failure the candidate keeps its edits */
        struct chg_vec tmp = {0};

        const struct chg_vec *chg = candidate_changes(cfg, &tmp);

        rc = cfg_running_set(cfg, &cfg->candidate, chg, actor, false, commit_persist, &cp, &prev, errs);
        if (!rc && !o->confirmed) {
            spare_offer(cfg, prev, chg);
            prev = NULL;
        }
        chg_vec_clear(&tmp);
        if (rc) {
            cfg->cand_validated = true;
            if (o->confirmed && !was_pending && cfg->confirm_pending)
                cfg_confirm_end(cfg);
            else if (o->confirmed && was_pending)
                cfg_confirm_restore(cfg, &saved);
            free(saved.persist);
            return rc;
        }
        cfg_cand_reset(cfg); /* its tree became running */
    } else if (o->confirmed) {
        rc = cfg_confirm_begin(cfg, o, actor, errs); /* running itself is unchanged */
        if (rc) {
            if (!was_pending && cfg->confirm_pending)
                cfg_confirm_end(cfg);
            else if (was_pending)
                cfg_confirm_restore(cfg, &saved);
            free(saved.persist);
            return rc;
        }
        rc = dup_tree(cfg, cfg->running, &prev, errs);
        if (rc) {
            free(saved.persist);
            return rc;
        }
    }

    if (o->confirmed) {
        /* keep the oldest rollback point across follow-up confirmed commits */
        if (!cfg->confirm_rollback) {
            cfg->confirm_rollback = prev;
            prev = NULL;
        }
    } else if (cfg->confirm_pending && cfg_confirm_end(cfg)) {
        cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, NULL,
                    "the commit is confirmed, but its pending state could not be removed from %s; "
                    "fix the state directory, or a restart will roll the commit back", cfg->state_dir);
        rc = -EIO;
    }
    free(saved.persist);
    if (cfg->reap && prev)
        cfg->reap(prev, cfg->reap_arg);
    else
        lyd_free_siblings(prev);
    return rc;
}

int cfg_lock(struct cfg *cfg, enum cfg_ds ds, const struct cfg_actor *actor, struct cfg_errs *errs)
{
    struct cfg_err *e;

    if (cfg->lock[ds]) {
        e = cfg_err_add(errs, CFG_ERR_LOCK_DENIED, CFG_ERRT_PROTOCOL, NULL,
                        "the %s datastore is already locked by session %u", ds_names[ds], cfg->lock[ds]);
        if (e)
            e->lock_sid = cfg->lock[ds];
        return -EBUSY;
    }
    if (ds == CFG_DS_CANDIDATE && cfg->cand_active) {
        e = cfg_err_add(errs, CFG_ERR_LOCK_DENIED, CFG_ERRT_PROTOCOL, NULL,
                        "the candidate has uncommitted changes; commit or discard-changes before locking it");
        return -EBUSY;
    }
    if (ds == CFG_DS_RUNNING && cfg_plock_others(cfg, actor->sid)) {
        for (const struct cfg_plock *p = cfg->plocks; p; p = p->next) {
            if (p->sid == actor->sid)
                continue;
            e = cfg_err_add(errs, CFG_ERR_LOCK_DENIED, CFG_ERRT_PROTOCOL, NULL,
                            "session %u holds a partial lock of running (lock %u)", p->sid, p->id);
            if (e)
                e->lock_sid = p->sid;
            break;
        }
        return -EBUSY;
    }
    cfg->lock[ds] = actor->sid;
    return 0;
}

int cfg_unlock(struct cfg *cfg, enum cfg_ds ds, const struct cfg_actor *actor, struct cfg_errs *errs)
{
    if (cfg->lock[ds] != actor->sid) {
        cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_PROTOCOL, NULL,
                    cfg->lock[ds] ? "the %s datastore is locked by another session" :
                                    "the %s datastore is not locked",
                    ds_names[ds]);
        return -EPERM;
    }
    cfg->lock[ds] = 0;
    return 0;
}

uint32_t cfg_lock_holder(const struct cfg *cfg, enum cfg_ds ds)
{
    return cfg->lock[ds];
}

void cfg_session_end(struct cfg *cfg, uint32_t sid)
{
    struct cfg_actor actor = {.sid = sid};
    struct cfg_errs errs = {0};

    if (cfg->lock[CFG_DS_CANDIDATE] == sid) {
        /* RFC 6241 7.5: the candidate lock ends with its changes discarded */
        cfg_cand_reset(cfg);
    }
    for (int ds = 0; ds < CFG_DS_COUNT; ds++) {
        if (cfg->lock[ds] == sid)
            cfg->lock[ds] = 0;
    }
    if (sid)
        cfg_plock_end(cfg, sid);
    if (cfg->confirm_pending && cfg->confirm_sid == sid && !cfg->confirm_persist) {
        log_info("config", "session %u ended during its confirmed commit: rolling back", sid);
        if (cfg_confirm_rollback(cfg, &actor, &errs))
            log_err("config", "rollback of the confirmed commit failed: %s",
                    errs.head ? errs.head->msg : "unknown error");
        cfg_errs_clear(&errs);
    }
}

int cfg_start(struct cfg *cfg, struct cfg_errs *errs)
{
    struct chg_vec chg = {0};
    struct lyd_node *t = NULL;
    const char *seeded = NULL;
    char *data = NULL;
    int rc;

    rc = fs_mkdir_p(cfg->state_dir, 0700);
    if (rc) {
        cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, NULL, "cannot create state directory %s: %s",
                    cfg->state_dir, strerror(-rc));
        return rc;
    }
    cfg_journal_clean(cfg);
    rc = cfg_secret_init(cfg);
    if (!rc)
        rc = cfg_when_init(cfg);
    if (!rc)
        rc = cfg_scope_init(cfg);
    if (rc)
        return rc;
    rc = cfg_store_load(cfg, "startup", &cfg->startup, errs);
    if (rc && rc != -ENOENT)
        return rc;
    rc = cfg_store_load(cfg, "running", &t, errs);
    if (rc == -ENOENT) {
        if (cfg->startup) {
            seeded = "the startup datastore";
            rc = dup_tree(cfg, cfg->startup, &t, errs);
        } else if (cfg->initial_file) {
            seeded = cfg->initial_file;
            rc = fs_read_all(cfg->initial_file, &data, NULL);
            if (rc)
                cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, NULL, "cannot read %s: %s",
                            cfg->initial_file, strerror(-rc));
            else
                rc = cfg_parse_data(cfg, data, cfg->initial_file, &t, errs);
            free(data);
        } else {
            seeded = "the built-in default configuration";
            rc = cfg_parse_data(cfg, cfg->default_xml, "built-in default configuration", &t, errs);
        }
    }
    if (rc)
        return rc;
    if (cfg->loaded)
        cfg->loaded(t, cfg->loaded_arg);

    rc = chg_vec_add_path(&chg, CFG_CHG_REPLACE, NULL, "/");
    if (!rc)
        rc = cfg_txn_run(cfg, NULL, &t, &chg, false, true, seeded ? cfg_persist_running : NULL, NULL, errs);
    chg_vec_clear(&chg);
    if (rc) {
        lyd_free_siblings(t);
        return rc;
    }
    cfg->running = t;
    cfg->running_mtime = time(NULL);
    cfg_journal_tick(cfg);
    if (seeded)
        log_info("config", "running configuration seeded from %s", seeded);
    return cfg_confirm_load(cfg, errs);
}

uint64_t cfg_spares_used(const struct cfg *cfg)
{
    return cfg->spares_used;
}

uint64_t cfg_running_gen(const struct cfg *cfg, time_t *mtime)
{
    if (mtime)
        *mtime = cfg->running_mtime;
    return cfg->running_gen;
}
