/* Fuzzes the edit engine: the input is edit-config content (XML with
 * ietf-netconf:operation attributes) applied to the candidate with each error
 * option, copied or moved out of the edit (cfg_edit_take), then validated and
 * discarded. The candidate must come back equal to
 * running after every discard. */
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_env *env = fuzz_env_get();
    struct cfg_actor actor = {.sid = 1, .user = "fuzz"};
    struct lyd_node *edit = NULL;
    struct cfg_errs errs = {0};
    char *s;

    if (size < 1)
        return 0;
    s = fuzz_cstr(data + 1, size - 1);
    if (lyd_parse_data_mem(env->ctx, s, LYD_XML, LYD_PARSE_ONLY | LYD_PARSE_STRICT | LYD_PARSE_NO_STATE, 0, &edit) ==
        LY_SUCCESS) {
        enum cfg_op defop = (enum cfg_op)(data[0] % 3); /* none, merge, replace */
        enum cfg_err_opt eo = (enum cfg_err_opt)((data[0] >> 2) % 3);

        if (data[0] & 0x80) /* also the running path: a full transaction */
            cfg_edit(env->cfg, CFG_DS_RUNNING, edit, defop, CFG_TEST_ONLY, eo, &actor, &errs);
        cfg_errs_clear(&errs);
        /* as ravend edits for a front end: the new subtrees move out of the edit */
        if (data[0] & 0x40)
            cfg_edit_take(env->cfg, CFG_DS_CANDIDATE, &edit, defop, CFG_TEST_THEN_SET, eo, &actor, &errs);
        else
            cfg_edit(env->cfg, CFG_DS_CANDIDATE, edit, defop, CFG_TEST_THEN_SET, eo, &actor, &errs);
        cfg_errs_clear(&errs);
        cfg_validate(env->cfg, CFG_DS_CANDIDATE, NULL, &errs);
        cfg_errs_clear(&errs);
        cfg_discard(env->cfg, &actor, &errs);
        if (cfg_candidate_dirty(env->cfg))
            abort();
    }
    ly_err_clean(env->ctx, NULL);
    lyd_free_siblings(edit);
    cfg_errs_clear(&errs);
    free(s);
    return 0;
}
