/* Partial locks of running (RFC 5717): a session locks the configuration nodes its
 * XPath expressions select (instances, found when the lock is taken); while it
 * holds them, no other session may change them, anything below them or an
 * ancestor that holds them (an edit, a commit of the candidate, a copy to running:
 * every change set of cfg_running_set), take the global lock of running, or lock
 * any of them partially. Server-made changes (sid 0) and every rollback of a
 * confirmed commit (cancel-commit, the committing session's end, the timeout:
 * cfg_confirm_rollback) are not held back. A session's partial locks end with it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/config/cfg_impl.h"
#include "daemon/base/poison.h"

/* Whether data paths @a and @b are the same node or one lies below the other. */
static bool overlap(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    if (la > lb)
        return overlap(b, a);
    return !strncmp(a, b, la) && (b[la] == '\0' || b[la] == '/' || la == 1);
}

static void plock_free(struct cfg_plock *p)
{
    for (size_t i = 0; i < p->nselect; i++)
        free(p->select[i]);
    for (size_t i = 0; i < p->nnodes; i++)
        free(p->nodes[i]);
    free(p->select);
    free(p->nodes);
    free(p);
}

/* A node of another session's partial lock overlapping @path, or NULL. */
static const struct cfg_plock *held_by_other(const struct cfg *cfg, const char *path, uint32_t sid)
{
    for (const struct cfg_plock *p = cfg->plocks; p; p = p->next) {
        if (p->sid == sid)
            continue;
        for (size_t i = 0; i < p->nnodes; i++)
            if (overlap(p->nodes[i], path))
                return p;
    }
    return NULL;
}

bool cfg_plock_others(const struct cfg *cfg, uint32_t sid)
{
    for (const struct cfg_plock *p = cfg->plocks; p; p = p->next)
        if (p->sid != sid)
            return true;
    return false;
}

int cfg_plock_check(const struct cfg *cfg, const struct chg_vec *chg, const struct cfg_actor *actor,
                    struct cfg_errs *errs)
{
    if (!actor || !actor->sid || !cfg->plocks || cfg->confirm_undoing)
        return 0;
    for (size_t i = 0; chg && i < chg->n; i++) {
        const struct cfg_plock *p = chg->v[i].path ? held_by_other(cfg, chg->v[i].path, actor->sid) : NULL;
        struct cfg_err *e;

        if (!p)
            continue;
        e = cfg_err_add(errs, CFG_ERR_IN_USE, CFG_ERRT_PROTOCOL, chg->v[i].path,
                        "%s is partially locked by session %u (lock %u)", chg->v[i].path, p->sid, p->id);
        if (e)
            e->lock_sid = p->sid;
        return -EBUSY;
    }
    return 0;
}

/* lock-denied: @what is held by session @sid. */
static void denied(struct cfg_errs *errs, uint32_t sid, const char *what)
{
    struct cfg_err *e = cfg_err_add(errs, CFG_ERR_LOCK_DENIED, CFG_ERRT_PROTOCOL, NULL, "%s is locked by session %u",
                                    what, sid);

    if (e)
        e->lock_sid = sid;
}

/* The paths of the nodes @select finds in running, in @p. */
static int select_nodes(struct cfg *cfg, struct cfg_plock *p, struct cfg_errs *errs)
{
    for (size_t i = 0; i < p->nselect; i++) {
        struct ly_set *set = NULL;

        if (!cfg->running || lyd_find_xpath(cfg->running, p->select[i], &set)) {
            if (cfg->running)
                cfg_err_from_ly(errs, cfg->ctx, "the select expression is not valid");
            else
                cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL, "running is empty");
            ly_set_free(set, NULL);
            return -EINVAL;
        }
        for (uint32_t k = 0; k < set->count; k++) {
            char **n = realloc(p->nodes, (p->nnodes + 1) * sizeof(*n));

            if (!n || !(n[p->nnodes] = lyd_path(set->dnodes[k], LYD_PATH_STD, NULL, 0))) {
                if (n)
                    p->nodes = n;
                ly_set_free(set, NULL);
                return -ENOMEM;
            }
            p->nodes = n;
            p->nnodes++;
        }
        ly_set_free(set, NULL);
    }
    return 0;
}

int cfg_partial_lock(struct cfg *cfg, const char *const *select, size_t n, const struct cfg_actor *actor,
                     const struct cfg_plock **out, struct cfg_errs *errs)
{
    struct cfg_plock *p;
    int rc;

    if (!n) {
        cfg_err_add(errs, CFG_ERR_MISSING_ELEMENT, CFG_ERRT_PROTOCOL, NULL, "partial-lock needs a select");
        return -EINVAL;
    }
    if (cfg->lock[CFG_DS_RUNNING] && cfg->lock[CFG_DS_RUNNING] != actor->sid) {
        denied(errs, cfg->lock[CFG_DS_RUNNING], "the running datastore");
        return -EBUSY;
    }
    p = calloc(1, sizeof(*p));
    if (!p || !(p->select = calloc(n, sizeof(char *)))) {
        free(p);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (!(p->select[i] = strdup(select[i]))) {
            plock_free(p);
            return -ENOMEM;
        }
        p->nselect++;
    }
    rc = select_nodes(cfg, p, errs);
    if (!rc && !p->nnodes) {
        cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL,
                    "the select expressions find no node of running to lock");
        rc = -EINVAL;
    }
    for (size_t i = 0; !rc && i < p->nnodes; i++) {
        const struct cfg_plock *o = held_by_other(cfg, p->nodes[i], actor->sid);

        if (o) {
            denied(errs, o->sid, p->nodes[i]);
            rc = -EBUSY;
        }
    }
    if (rc) {
        plock_free(p);
        return rc;
    }
    p->id = ++cfg->plock_next ? cfg->plock_next : ++cfg->plock_next;
    p->sid = actor->sid;
    p->time = time(NULL);
    p->next = cfg->plocks;
    cfg->plocks = p;
    *out = p;
    return 0;
}

int cfg_partial_unlock(struct cfg *cfg, uint32_t id, const struct cfg_actor *actor, struct cfg_errs *errs)
{
    for (struct cfg_plock **pp = &cfg->plocks; *pp; pp = &(*pp)->next) {
        struct cfg_plock *p = *pp;

        if (p->id != id)
            continue;
        if (p->sid != actor->sid)
            break;
        *pp = p->next;
        plock_free(p);
        return 0;
    }
    cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL,
                "this session holds no partial lock %u", id);
    return -ENOENT;
}

const struct cfg_plock *cfg_partial_locks(const struct cfg *cfg)
{
    return cfg->plocks;
}

void cfg_plock_end(struct cfg *cfg, uint32_t sid)
{
    for (struct cfg_plock **pp = &cfg->plocks; *pp;) {
        struct cfg_plock *p = *pp;

        if (p->sid == sid || !sid) {
            *pp = p->next;
            plock_free(p);
        } else {
            pp = &p->next;
        }
    }
}
