/* Write-only configuration: leaves marked with the raven-types "secret" extension are
 * returned masked by every read. Writing the mask back means "keep the value": this
 * lets a client read, modify and write back a subtree without knowing its secrets. */
#include <errno.h>
#include <libyang/plugins_exts.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config/cfg_impl.h"
#include "daemon/base/poison.h"

static LY_ERR collect_secret(struct lysc_node *node, void *data, ly_bool *dfs_continue)
{
    struct ly_set *set = data;
    LY_ARRAY_COUNT_TYPE u;

    (void)dfs_continue;
    LY_ARRAY_FOR(node->exts, u) {
        const struct lysc_ext *def = node->exts[u].def;

        if (!strcmp(def->name, "secret") && !strcmp(def->module->name, "raven-types"))
            return ly_set_add(set, node, 1, NULL);
    }
    return LY_SUCCESS;
}

int cfg_secret_init(struct cfg *cfg)
{
    const struct lys_module *mod;
    uint32_t idx = 0;

    if (ly_set_new(&cfg->secrets))
        return -ENOMEM;
    while ((mod = ly_ctx_get_module_iter(cfg->ctx, &idx))) {
        if (mod->implemented && mod->compiled && lysc_module_dfs_full(mod, collect_secret, cfg->secrets))
            return -ENOMEM;
    }
    return 0;
}

bool cfg_secret_is(const struct cfg *cfg, const struct lysc_node *snode)
{
    return cfg->secrets && snode && ly_set_contains(cfg->secrets, (void *)snode, NULL);
}

void cfg_secret_mask(const struct cfg *cfg, struct lyd_node *tree)
{
    struct ly_set *drop = NULL;
    struct lyd_node *top, *n;

    if (!cfg->secrets || !cfg->secrets->count)
        return;
    LY_LIST_FOR(tree, top) {
        LYD_TREE_DFS_BEGIN(top, n) {
            if (cfg_secret_is(cfg, n->schema) && lyd_change_term(n, CFG_SECRET_MASK) == LY_EINVAL) {
                /* the type cannot hold the mask: leave the value out entirely */
                if (!drop && ly_set_new(&drop))
                    return;
                ly_set_add(drop, n, 1, NULL);
            }
            LYD_TREE_DFS_END(top, n);
        }
    }
    if (drop) {
        for (uint32_t i = 0; i < drop->count; i++)
            lyd_free_tree(drop->dnodes[i]);
        ly_set_free(drop, NULL);
    }
}

static int restore_node(const struct cfg *cfg, struct lyd_node *c, const struct lyd_node *old,
                        struct cfg_errs *errs)
{
    struct lyd_node *cc;
    int rc = 0;

    if (cfg_secret_is(cfg, c->schema) && !strcmp(lyd_get_value(c), CFG_SECRET_MASK)) {
        if (!old) {
            char *p = lyd_path(c, LYD_PATH_STD, NULL, 0);
            cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_APPLICATION, p,
                        "%s: \"%s\" is the masked form of a secret and there is no stored value to keep; "
                        "give the real value", p ? p : "?", CFG_SECRET_MASK);
            free(p);
            return -EINVAL;
        }
        return lyd_change_term(c, lyd_get_value(old)) == LY_EINVAL ? -EINVAL : 0;
    }
    LY_LIST_FOR(lyd_child(c), cc) {
        rc = restore_node(cfg, cc, old ? cfg_find_instance(lyd_child(old), cc) : NULL, errs);
        if (rc)
            break;
    }
    return rc;
}

int cfg_secret_restore(const struct cfg *cfg, struct lyd_node *copy, const struct lyd_node *old,
                       struct cfg_errs *errs)
{
    if (!cfg->secrets || !cfg->secrets->count)
        return 0;
    return restore_node(cfg, copy, old, errs);
}
