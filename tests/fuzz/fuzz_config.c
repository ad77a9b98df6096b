/* Fuzzes loading a configuration document (XML or JSON), as ravend does for the
 * initial file and the state directory, followed by copy-config into candidate and
 * validation. */
#include <stdlib.h>

#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_env *env = fuzz_env_get();
    struct cfg_actor actor = {.sid = 1, .user = "fuzz"};
    struct lyd_node *t = NULL;
    struct cfg_errs errs = {0};
    char *s = fuzz_cstr(data, size);
    LYD_FORMAT fmt = size && data[0] == '{' ? LYD_JSON : LYD_XML;

    if (lyd_parse_data_mem(env->ctx, s, fmt, LYD_PARSE_ONLY | LYD_PARSE_STRICT | LYD_PARSE_NO_STATE, 0, &t) ==
        LY_SUCCESS) {
        if (cfg_copy(env->cfg, CFG_DS_CANDIDATE, CFG_SRC_INLINE, t, &actor, &errs) == 0)
            cfg_validate(env->cfg, CFG_DS_CANDIDATE, NULL, &errs);
        cfg_errs_clear(&errs);
        cfg_discard(env->cfg, &actor, &errs);
    }
    ly_err_clean(env->ctx, NULL);
    lyd_free_siblings(t);
    cfg_errs_clear(&errs);
    free(s);
    return 0;
}
