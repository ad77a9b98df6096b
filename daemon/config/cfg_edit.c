/* The edit engine of NETCONF edit-config (RFC 6241 section 7.2) and of RESTCONF writes:
 * merge, replace, create, delete, remove and none, applied in place to a libyang tree.
 *
 * Every change to the tree is journaled (node inserted, node unlinked, leaf value
 * changed) so that a failed edit is undone exactly, in reverse order, without copying
 * the tree first. Each applied operation also appends to the change set the commit
 * transaction hands to the subsystems, so no tree diff is ever needed for edits.
 * Nodes flagged LYD_DEFAULT count as absent (RFC 6243 "explicit" semantics). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config/cfg_impl.h"
#include "daemon/base/poison.h"

enum undo_kind {
    UNDO_FREE,   /* node was inserted: free it */
    UNDO_RELINK, /* node was unlinked: put it back */
    UNDO_VALUE,  /* leaf value changed: restore old value and default flag */
    UNDO_DFLT,   /* implicit container made explicit: flag it default again */
    UNDO_MOVE,   /* user-ordered node moved: put it back before @next (NULL = last) */
};

struct undo {
    enum undo_kind kind;
    struct lyd_node *node;
    struct lyd_node *parent; /* RELINK */
    struct lyd_node *next;   /* RELINK: sibling it stood before, NULL = last */
    char *old_value;         /* VALUE */
    bool old_dflt;
};

struct edit {
    struct cfg *cfg;
    struct lyd_node **root;
    struct undo *undo;
    size_t nundo, capundo;
    struct chg_vec *chg;
    struct cfg_errs *errs;
    const struct lys_module *ncmod;
    const struct lys_module *yangmod; /* yang:insert, yang:value, yang:key */
    struct lyd_node *inserted;        /* the node the last do_insert_copy() made */
    struct lyd_node **take;           /* the edit, whose subtrees may be moved instead of copied */
};

static int undo_push(struct edit *x, const struct undo *u)
{
    if (x->nundo == x->capundo) {
        size_t cap = x->capundo ? x->capundo * 2 : 16;
        struct undo *nv = realloc(x->undo, cap * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        x->undo = nv;
        x->capundo = cap;
    }
    x->undo[x->nundo++] = *u;
    return 0;
}

/* Unlinks @node keeping the top-level root pointer valid. */
static void tree_unlink(struct edit *x, struct lyd_node *node)
{
    if (*x->root == node)
        *x->root = node->next;
    lyd_unlink_tree(node);
}

static int tree_insert(struct edit *x, struct lyd_node *parent, struct lyd_node *node)
{
    if (parent)
        return lyd_insert_child(parent, node) ? -EINVAL : 0;
    if (!*x->root) {
        *x->root = node;
        return 0;
    }
    return lyd_insert_sibling(*x->root, node, x->root) ? -EINVAL : 0;
}

static void append(struct edit *x, struct lyd_node *parent, struct lyd_node *node)
{
    if (parent)
        lyd_insert_child(parent, node);
    else if (*x->root)
        lyd_insert_sibling(*x->root, node, x->root);
    else
        *x->root = node;
    if (!parent)
        *x->root = lyd_first_sibling(node);
}

/* Puts an unlinked @node back where it was: before @next, its following instance of
 * the same list (NULL when it was the last). lyd_insert_before() serves only
 * user-ordered nodes; for the others the instances from @next on are moved behind
 * it, so that the order is exactly as before. */
static void relink(struct edit *x, struct lyd_node *parent, struct lyd_node *node, struct lyd_node *next)
{
    if (next && lysc_is_userordered(node->schema)) {
        lyd_insert_before(next, node);
        return;
    }
    append(x, parent, node);
    while (next && next != node) {
        struct lyd_node *after = next->next;

        while (after && after->schema != node->schema)
            after = after->next;
        tree_unlink(x, next);
        append(x, parent, next);
        next = after;
    }
}

/* The next instance of the same schema node after @n (same list), or NULL. */
static struct lyd_node *next_instance(struct lyd_node *n)
{
    struct lyd_node *s = n->next;

    return s && s->schema == n->schema ? s : NULL;
}

static void undo_run(struct edit *x, size_t to)
{
    while (x->nundo > to) {
        struct undo *u = &x->undo[--x->nundo];

        switch (u->kind) {
        case UNDO_FREE:
            tree_unlink(x, u->node);
            lyd_free_tree(u->node);
            break;
        case UNDO_RELINK:
            relink(x, u->parent, u->node, u->next);
            break;
        case UNDO_DFLT:
            u->node->flags |= LYD_DEFAULT;
            break;
        case UNDO_MOVE:
            if (u->next) {
                lyd_insert_before(u->next, u->node);
            } else {
                struct lyd_node *last = NULL, *it;
                LY_LIST_FOR(lyd_first_sibling(u->node), it) {
                    if (it->schema == u->node->schema)
                        last = it;
                }
                if (last && last != u->node)
                    lyd_insert_after(last, u->node);
            }
            if (!lyd_parent(u->node))
                *x->root = lyd_first_sibling(u->node);
            break;
        case UNDO_VALUE:
            lyd_change_term(u->node, u->old_value);
            if (u->old_dflt)
                u->node->flags |= LYD_DEFAULT;
            free(u->old_value);
            break;
        }
    }
}

/* The edit succeeded: drop the journal, freeing what was unlinked. */
static void undo_commit(struct edit *x)
{
    for (size_t i = 0; i < x->nundo; i++) {
        if (x->undo[i].kind == UNDO_RELINK)
            lyd_free_tree(x->undo[i].node);
        else if (x->undo[i].kind == UNDO_VALUE)
            free(x->undo[i].old_value);
    }
    x->nundo = 0;
}

static void edit_err(struct edit *x, enum cfg_err_tag tag, const struct lyd_node *e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void edit_err(struct edit *x, enum cfg_err_tag tag, const struct lyd_node *e, const char *fmt, ...)
{
    char *path = lyd_path(e, LYD_PATH_STD, NULL, 0);
    char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    cfg_err_add(x->errs, tag, CFG_ERRT_APPLICATION, path, "%s: %s", path ? path : "?", msg ? msg : "edit failed");
    free(msg);
    free(path);
}

static int node_op(struct edit *x, const struct lyd_node *e, enum cfg_op inherited, enum cfg_op *op)
{
    static const char *const names[] = {"none", "merge", "replace", "create", "delete", "remove"};
    struct lyd_meta *m;

    *op = inherited;
    for (m = e->meta; m; m = m->next) {
        const char *v;

        if (strcmp(m->name, "operation") || m->annotation->module != x->ncmod)
            continue;
        v = lyd_get_meta_value(m);
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            if (!strcmp(v, names[i])) {
                *op = (enum cfg_op)i;
                return 0;
            }
        }
        edit_err(x, CFG_ERR_BAD_ATTRIBUTE, e, "unknown operation \"%s\"", v);
        return -EINVAL;
    }
    return 0;
}

static struct lyd_node *find_match(struct edit *x, struct lyd_node *parent, const struct lyd_node *e)
{
    return cfg_find_instance(parent ? lyd_child(parent) : *x->root, e);
}

/* Forgets the last recorded change (it is folded into another one). */
static void chg_pop(struct edit *x)
{
    x->chg->n--;
    free(x->chg->v[x->chg->n].path);
}

static bool is_dflt(const struct lyd_node *n)
{
    return n && (n->flags & LYD_DEFAULT);
}

/* Removes @node (journaled) and records a DELETE. */
static int do_remove(struct edit *x, struct lyd_node *node)
{
    struct undo u = {.kind = UNDO_RELINK, .node = node, .parent = lyd_parent(node), .next = next_instance(node)};
    int rc;

    rc = chg_vec_add(x->chg, CFG_CHG_DELETE, node);
    if (rc)
        return rc;
    rc = undo_push(x, &u);
    if (rc)
        return rc;
    tree_unlink(x, node);
    return 0;
}

/* Whether no node of the subtree @e carries metadata (an operation, yang:insert):
 * then the subtree itself is what a copy without metadata would be. */
static bool no_meta(const struct lyd_node *e)
{
    const struct lyd_node *n;

    LYD_TREE_DFS_BEGIN(e, n) {
        if (n->meta)
            return false;
        LYD_TREE_DFS_END(e, n);
    }
    return true;
}

/* The edit subtree @e taken out of the edit when the caller gave it away (and it
 * holds no metadata, which a copy would leave behind), its flags as a copy's;
 * NULL otherwise. A copy of a large subtree costs as much as parsing it. */
static struct lyd_node *take_subtree(struct edit *x, const struct lyd_node *e)
{
    struct lyd_node *t = (struct lyd_node *)e, *n;

    if (!x->take || !no_meta(e))
        return NULL;
    if (*x->take == t)
        *x->take = t->next;
    lyd_unlink_tree(t);
    LYD_TREE_DFS_BEGIN(t, n) {
        n->flags = (n->flags & (LYD_DEFAULT | LYD_EXT)) | LYD_NEW;
        LYD_TREE_DFS_END(t, n);
    }
    return t;
}

/* Inserts a copy of the edit subtree @e under @parent (journaled), or @e itself
 * when it may be taken; @old is the subtree it replaces (already unlinked), used
 * to keep masked secrets. */
static int do_insert_copy(struct edit *x, struct lyd_node *parent, const struct lyd_node *e,
                          const struct lyd_node *old, enum cfg_chg_op chg)
{
    struct lyd_node *dup = take_subtree(x, e);
    struct undo u = {.kind = UNDO_FREE};
    int rc;

    if (!dup && lyd_dup_single(e, NULL, LYD_DUP_RECURSIVE | LYD_DUP_NO_META, &dup)) {
        cfg_err_from_ly(x->errs, x->cfg->ctx, "cannot copy edit data");
        return -EINVAL;
    }
    /* A default node of the same identity would make a duplicate: drop it first. */
    struct lyd_node *dfl = find_match(x, parent, e);
    if (dfl) {
        rc = do_remove(x, dfl);
        if (rc)
            goto fail;
        chg_pop(x); /* removing an implicit default is not a change of its own */
    }
    rc = tree_insert(x, parent, dup);
    if (rc) {
        cfg_err_from_ly(x->errs, x->cfg->ctx, "cannot insert edit data");
        goto fail;
    }
    u.node = dup;
    rc = undo_push(x, &u);
    if (rc) {
        tree_unlink(x, dup);
        goto fail;
    }
    /* in place, so that an error names the full path; undone with the insert */
    rc = cfg_secret_restore(x->cfg, dup, old, x->errs);
    if (rc)
        return rc;
    x->inserted = dup;
    return chg_vec_add(x->chg, chg, dup);
fail:
    lyd_free_tree(dup);
    return rc;
}

static int edit_node(struct edit *x, struct lyd_node *parent, const struct lyd_node *e, enum cfg_op inherited);

/* Whether any node below @e carries its own operation. */
static bool has_nested_ops(const struct edit *x, const struct lyd_node *e)
{
    const struct lyd_node *n, *c;

    LY_LIST_FOR(lyd_child(e), c) {
        LYD_TREE_DFS_BEGIN(c, n) {
            if (!n->schema) /* an opaque leaf deletion */
                return true;
            for (const struct lyd_meta *m = n->meta; m; m = m->next) {
                if (!strcmp(m->name, "operation") && m->annotation->module == x->ncmod)
                    return true;
            }
            LYD_TREE_DFS_END(c, n);
        }
    }
    return false;
}

static int edit_children(struct edit *x, struct lyd_node *target, const struct lyd_node *e, enum cfg_op op)
{
    struct lyd_node *c, *next;
    int rc;

    /* safe: a child may be moved into the target */
    LY_LIST_FOR_SAFE(lyd_child(e), next, c) {
        if (lysc_is_key(c->schema))
            continue;
        rc = edit_node(x, target, c, op);
        if (rc)
            return rc;
    }
    return 0;
}

static int edit_leaf_merge(struct edit *x, struct lyd_node *parent, const struct lyd_node *e,
                           struct lyd_node *match)
{
    const char *nv = lyd_get_value(e);
    struct undo u = {.kind = UNDO_VALUE};

    if (!match)
        return do_insert_copy(x, parent, e, NULL, CFG_CHG_CREATE);
    if (cfg_secret_is(x->cfg, e->schema) && !strcmp(nv, CFG_SECRET_MASK))
        return 0; /* the masked value written back means "unchanged" */
    if (!is_dflt(match) && !strcmp(lyd_get_value(match), nv))
        return 0;
    if (match->schema->nodetype != LYS_LEAF) /* anydata/anyxml: replace wholesale */
    {
        int rc = do_remove(x, match);
        if (rc)
            return rc;
        chg_pop(x);
        return do_insert_copy(x, parent, e, NULL, CFG_CHG_MODIFY);
    }
    u.node = match;
    u.old_dflt = is_dflt(match);
    u.old_value = strdup(lyd_get_value(match));
    if (!u.old_value)
        return -ENOMEM;
    if (lyd_change_term(match, nv) == LY_EINVAL) {
        free(u.old_value);
        cfg_err_from_ly(x->errs, x->cfg->ctx, "invalid value");
        return -EINVAL;
    }
    match->flags &= ~LYD_DEFAULT;
    if (undo_push(x, &u)) {
        free(u.old_value);
        return -ENOMEM;
    }
    return chg_vec_add(x->chg, CFG_CHG_MODIFY, match);
}

static const char *yang_meta(const struct edit *x, const struct lyd_node *e, const char *name)
{
    for (const struct lyd_meta *m = e->meta; m; m = m->next) {
        if (m->annotation->module == x->yangmod && !strcmp(m->name, name))
            return lyd_get_meta_value(m);
    }
    return NULL;
}

/* RFC 7950 7.8.6 / 7.7.9: place a user-ordered entry as yang:insert says
 * (first, last, before or after the entry named by yang:key or yang:value). */
static int apply_insert(struct edit *x, const struct lyd_node *e, struct lyd_node *node)
{
    const char *where = yang_meta(x, e, "insert");
    struct lyd_node *first = lyd_first_sibling(node), *anchor = NULL, *it, *last = NULL;
    struct undo u = {.kind = UNDO_MOVE, .node = node, .next = node->next};
    bool before;

    if (!where || !lysc_is_userordered(e->schema))
        return 0;
    if (u.next && u.next->schema != node->schema)
        u.next = NULL;
    LY_LIST_FOR(first, it) {
        if (it->schema != node->schema)
            continue;
        if (!anchor)
            anchor = it; /* the first instance */
        last = it;
    }
    if (!strcmp(where, "first") || !strcmp(where, "last")) {
        before = where[0] == 'f';
        if (!before)
            anchor = last;
    } else {
        const char *ref = yang_meta(x, e, e->schema->nodetype == LYS_LIST ? "key" : "value");

        before = !strcmp(where, "before");
        anchor = NULL;
        if (!ref || lyd_find_sibling_val(first, e->schema, ref, 0, &anchor) || anchor == NULL) {
            edit_err(x, CFG_ERR_BAD_ATTRIBUTE, e, "yang:insert=\"%s\" names %s, which does not exist", where,
                     ref ? ref : "no entry (yang:key or yang:value is missing)");
            if (x->errs->tail)
                x->errs->tail->app_tag = strdup("missing-instance");
            return -ENOENT;
        }
    }
    if (anchor == node)
        return 0;
    if (undo_push(x, &u))
        return -ENOMEM;
    if (before ? lyd_insert_before(anchor, node) : lyd_insert_after(anchor, node)) {
        cfg_err_from_ly(x->errs, x->cfg->ctx, "cannot move the entry");
        return -EINVAL;
    }
    if (!lyd_parent(node))
        *x->root = lyd_first_sibling(node);
    return chg_vec_add(x->chg, CFG_CHG_MODIFY, node);
}

static int edit_node_op(struct edit *x, struct lyd_node *parent, const struct lyd_node *e, enum cfg_op inherited);

bool cfg_edit_is_leaf_delete(const struct lyd_node *n, const struct lysc_node **snode, enum cfg_op *op)
{
    const struct lyd_node_opaq *o = (const struct lyd_node_opaq *)n;
    const struct lyd_node *parent = lyd_parent(n);
    const struct lysc_node *sn;
    const struct lys_module *mod;

    if (n->schema || !parent || !parent->schema || lyd_child(n) || !o->name.module_ns)
        return false;
    for (const char *v = o->value; v && *v; v++) {
        if (*v != ' ' && *v != '\t' && *v != '\n' && *v != '\r')
            return false;
    }
    mod = ly_ctx_get_module_implemented_ns(parent->schema->module->ctx, o->name.module_ns);
    sn = mod ? lys_find_child(parent->schema, mod, o->name.name, 0, LYS_LEAF, 0) : NULL;
    if (!sn)
        return false;
    for (const struct lyd_attr *a = o->attr; a; a = a->next) {
        if (strcmp(a->name.name, "operation") || !a->name.module_ns ||
            strcmp(a->name.module_ns, "urn:ietf:params:xml:ns:netconf:base:1.0"))
            continue;
        if (strcmp(a->value, "delete") && strcmp(a->value, "remove"))
            return false;
        if (snode)
            *snode = sn;
        if (op)
            *op = a->value[0] == 'd' ? CFG_OP_DELETE : CFG_OP_REMOVE;
        return true;
    }
    return false;
}

static int edit_node(struct edit *x, struct lyd_node *parent, const struct lyd_node *e, enum cfg_op inherited)
{
    int rc;

    x->inserted = NULL;
    rc = edit_node_op(x, parent, e, inherited);
    if (!rc && e->schema && lysc_is_userordered(e->schema) && yang_meta(x, e, "insert")) {
        struct lyd_node *node = x->inserted && x->inserted->schema == e->schema ? x->inserted :
                                                                                   find_match(x, parent, e);
        if (node)
            rc = apply_insert(x, e, node);
    }
    return rc;
}

static int edit_node_op(struct edit *x, struct lyd_node *parent, const struct lyd_node *e, enum cfg_op inherited)
{
    struct lyd_node *match, *created = NULL;
    enum cfg_op op;
    size_t nchg_before;
    int rc;

    if (!e->schema) {
        const struct lysc_node *sn;
        struct lyd_node *m = NULL;

        if (!cfg_edit_is_leaf_delete(e, &sn, &op)) {
            edit_err(x, CFG_ERR_UNKNOWN_ELEMENT, e, "unknown element");
            return -EINVAL;
        }
        if (parent && lyd_child(parent))
            lyd_find_sibling_val(lyd_child(parent), sn, NULL, 0, &m);
        if (m && !is_dflt(m))
            return do_remove(x, m);
        if (op == CFG_OP_REMOVE)
            return 0;
        edit_err(x, CFG_ERR_DATA_MISSING, e, "does not exist, so it cannot be deleted (\"remove\" ignores this)");
        return -ENOENT;
    }
    if (e->schema->flags & LYS_CONFIG_R) {
        edit_err(x, CFG_ERR_INVALID_VALUE, e, "state data cannot be configured");
        return -EINVAL;
    }
    rc = node_op(x, e, inherited, &op);
    if (rc)
        return rc;
    match = find_match(x, parent, e);

    switch (op) {
    case CFG_OP_CREATE:
        if (match && !is_dflt(match)) {
            edit_err(x, CFG_ERR_DATA_EXISTS, e, "already exists; use merge or replace to change it");
            return -EEXIST;
        }
        return do_insert_copy(x, parent, e, NULL, CFG_CHG_CREATE);
    case CFG_OP_DELETE:
        if (!match || is_dflt(match)) {
            edit_err(x, CFG_ERR_DATA_MISSING, e, "does not exist, so it cannot be deleted (\"remove\" ignores this)");
            return -ENOENT;
        }
        return do_remove(x, match);
    case CFG_OP_REMOVE:
        if (!match || is_dflt(match))
            return 0;
        return do_remove(x, match);
    case CFG_OP_REPLACE:
        if (match && !is_dflt(match)) {
            struct lyd_node *next = next_instance(match);

            rc = do_remove(x, match);
            if (rc)
                return rc;
            chg_pop(x); /* recorded as one REPLACE below */
            rc = do_insert_copy(x, parent, e, match, CFG_CHG_REPLACE);
            /* a replaced entry of an ordered list keeps its place */
            if (!rc && next && lysc_is_userordered(e->schema) && x->inserted)
                lyd_insert_before(next, x->inserted);
            return rc;
        }
        return do_insert_copy(x, parent, e, NULL, CFG_CHG_CREATE);
    case CFG_OP_MERGE:
    case CFG_OP_NONE:
        break;
    }

    if (e->schema->nodetype & (LYS_LEAF | LYS_ANYDATA)) {
        if (op == CFG_OP_NONE)
            return 0;
        return edit_leaf_merge(x, parent, e, match);
    }
    if (e->schema->nodetype == LYS_LEAFLIST) {
        if (op == CFG_OP_NONE || match)
            return 0;
        return do_insert_copy(x, parent, e, NULL, CFG_CHG_CREATE);
    }

    /* container or list: a new subtree with no nested operations is one copy and
     * one change; otherwise create the node itself and recurse */
    if (!match && op == CFG_OP_MERGE && !has_nested_ops(x, e))
        return do_insert_copy(x, parent, e, NULL, CFG_CHG_CREATE);
    nchg_before = x->chg->n;
    if (!match) {
        struct undo u = {.kind = UNDO_FREE};

        if (lyd_dup_single(e, NULL, LYD_DUP_NO_META, &created)) {
            cfg_err_from_ly(x->errs, x->cfg->ctx, "cannot copy edit data");
            return -EINVAL;
        }
        if (tree_insert(x, parent, created)) {
            lyd_free_tree(created);
            cfg_err_from_ly(x->errs, x->cfg->ctx, "cannot insert edit data");
            return -EINVAL;
        }
        u.node = created;
        if (undo_push(x, &u)) {
            tree_unlink(x, created);
            lyd_free_tree(created);
            return -ENOMEM;
        }
        rc = chg_vec_add(x->chg, CFG_CHG_CREATE, created);
        if (rc)
            return rc;
        match = created;
    } else if (is_dflt(match)) {
        struct undo u = {.kind = UNDO_DFLT, .node = match};

        if (undo_push(x, &u))
            return -ENOMEM;
        match->flags &= ~LYD_DEFAULT;
    }
    rc = edit_children(x, match, e, op);
    if (rc)
        return rc;
    if (created && op == CFG_OP_NONE && x->chg->n == nchg_before + 1) {
        /* "none" creates a level only to hold what a nested operation created. */
        undo_run(x, x->nundo - 1);
        chg_pop(x);
    }
    return 0;
}

int cfg_edit_tree(struct cfg *cfg, struct lyd_node **root, const struct lyd_node *edit, struct lyd_node **take,
                  enum cfg_op defop, enum cfg_err_opt erropt, struct chg_vec *chg, struct cfg_errs *errs)
{
    struct edit x = {.cfg = cfg, .root = root, .chg = chg, .errs = errs, .take = take};
    struct lyd_node *e, *next;
    size_t chg_start = chg->n;
    int rc = 0, first_rc = 0;

    x.ncmod = ly_ctx_get_module_implemented(cfg->ctx, "ietf-netconf");
    x.yangmod = ly_ctx_get_module_implemented(cfg->ctx, "yang");
    if (take)
        edit = *take;
    /* safe: a top-level node may be moved into *root */
    LY_LIST_FOR_SAFE((struct lyd_node *)edit, next, e) {
        size_t mark = x.nundo, cmark = chg->n;

        rc = edit_node(&x, NULL, e, defop);
        if (!rc)
            continue;
        if (!first_rc)
            first_rc = rc;
        if (erropt != CFG_ERROPT_CONTINUE)
            break;
        /* continue-on-error: drop just this top-level edit */
        undo_run(&x, mark);
        for (size_t i = cmark; i < chg->n; i++)
            free(chg->v[i].path);
        chg->n = cmark;
    }
    if (first_rc && erropt != CFG_ERROPT_CONTINUE) {
        undo_run(&x, 0);
        for (size_t i = chg_start; i < chg->n; i++)
            free(chg->v[i].path);
        chg->n = chg_start;
    } else {
        undo_commit(&x);
    }
    free(x.undo);
    return first_rc;
}
