/* The management client (api/mgmt/mc.h) of the fuzz targets: each call runs the
 * datastore of fuzz_common.c in-process, as ravend would on the other end of the
 * socket, so that a front end's request path is fuzzed down to the datastore. The
 * events, logins and RPCs of a live daemon are not there. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/mgmt/mc.h"
#include "tests/fuzz/fuzz_common.h"

static struct cfg *cfg(void)
{
    return fuzz_env_get()->cfg;
}

uint64_t mc_running_gen(struct mc *mc, time_t *mtime)
{
    (void)mc;
    return cfg_running_gen(cfg(), mtime);
}

int mc_get(struct mc *mc, const struct cfg_actor *who, enum cfg_ds ds, const char *const *xpaths,
           struct lyd_node **out, struct cfg_errs *errs)
{
    (void)mc;
    (void)who;
    return cfg_get(cfg(), ds, xpaths, false, out, errs);
}

int mc_get_state(struct mc *mc, const struct cfg_actor *who, const char *const *xpaths, struct lyd_node **out,
                 struct cfg_errs *errs)
{
    return mc_get(mc, who, CFG_DS_RUNNING, xpaths, out, errs);
}

int mc_get_state_page(struct mc *mc, const struct cfg_actor *who, const char *const *xpaths, struct mc_page *pg,
                      struct lyd_node **out, struct cfg_errs *errs)
{
    pg->total = pg->remaining = pg->next = 0;
    return mc_get(mc, who, CFG_DS_RUNNING, xpaths, out, errs);
}

int mc_edit(struct mc *mc, const struct cfg_actor *who, enum cfg_ds ds, const struct lyd_node *edit,
            enum cfg_op defop, enum cfg_test_opt testopt, enum cfg_err_opt erropt, struct cfg_errs *errs)
{
    (void)mc;
    return cfg_edit(cfg(), ds, edit, defop, testopt, erropt, who, errs);
}

int mc_edit_if(struct mc *mc, const struct cfg_actor *who, const uint64_t *if_gen, enum cfg_ds ds,
               const struct lyd_node *edit, enum cfg_op defop, enum cfg_test_opt testopt, enum cfg_err_opt erropt,
               struct cfg_errs *errs)
{
    if (if_gen && *if_gen != cfg_running_gen(cfg(), NULL)) {
        cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_PROTOCOL, NULL, "running has changed");
        return -ESTALE;
    }
    return mc_edit(mc, who, ds, edit, defop, testopt, erropt, errs);
}

int mc_copy(struct mc *mc, const struct cfg_actor *who, enum cfg_ds dst, int src_ds, const struct lyd_node *src_tree,
            struct cfg_errs *errs)
{
    (void)mc;
    return cfg_copy(cfg(), dst, src_ds, src_tree, who, errs);
}

int mc_delete_ds(struct mc *mc, const struct cfg_actor *who, enum cfg_ds ds, struct cfg_errs *errs)
{
    (void)mc;
    return cfg_delete_ds(cfg(), ds, who, errs);
}

int mc_validate(struct mc *mc, const struct cfg_actor *who, int src_ds, const struct lyd_node *src_tree,
                struct cfg_errs *errs)
{
    (void)mc;
    (void)who;
    return cfg_validate(cfg(), src_ds, src_tree, errs);
}

int mc_discard(struct mc *mc, const struct cfg_actor *who, struct cfg_errs *errs)
{
    (void)mc;
    return cfg_discard(cfg(), who, errs);
}

int mc_commit(struct mc *mc, const struct cfg_actor *who, const struct cfg_commit_opts *o, struct cfg_errs *errs)
{
    (void)mc;
    return cfg_commit(cfg(), o, who, errs);
}

int mc_cancel_commit(struct mc *mc, const struct cfg_actor *who, const char *persist_id, struct cfg_errs *errs)
{
    (void)mc;
    return cfg_cancel_commit(cfg(), persist_id, who, errs);
}

int mc_rpc(struct mc *mc, const struct cfg_actor *who, const struct lyd_node *rpc, struct lyd_node *output,
           struct cfg_errs *errs)
{
    (void)mc;
    (void)who;
    (void)rpc;
    (void)output;
    cfg_err_add(errs, CFG_ERR_OPERATION_NOT_SUPPORTED, CFG_ERRT_PROTOCOL, NULL, "no daemon in the fuzzer");
    return -EOPNOTSUPP;
}

/* NACM is ravend's (daemon/mgmt), not the datastore's: nothing is denied here. */
int mc_nacm_check(struct mc *mc, const struct cfg_actor *who, const char *exec, const char *read,
                  struct cfg_errs *errs)
{
    (void)mc;
    (void)who;
    (void)exec;
    (void)read;
    (void)errs;
    return 0;
}

bool mc_deny_has(char *const *deny, const char *user)
{
    for (; deny && *deny; deny++) {
        if (user && !strcmp(*deny, user))
            return true;
    }
    return false;
}

void mc_deny_free(char **deny)
{
    for (char **d = deny; d && *d; d++)
        free(*d);
    free(deny);
}
