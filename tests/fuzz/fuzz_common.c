/* Set-up shared by the fuzz targets (see fuzz_common.h). */
#include "tests/fuzz/fuzz_common.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/log.h"

#define NS "urn:raven:params:xml:ns:yang:raven-vpn"

/* A small valid configuration for edits to work on. */
static const char seed_xml[] =
    "<pools xmlns=\"" NS "\"><ipv4-pool><name>p1</name><range><start>10.0.0.1</start><end>10.0.0.9</end></range>"
    "</ipv4-pool></pools>"
    "<aaa xmlns=\"" NS "\"><radius-server><name>r1</name><address>127.0.0.1</address><key>s3cret</key>"
    "</radius-server></aaa>";

static struct fuzz_env env;

char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

static char state_dir[] = "/tmp/raven-fuzz-XXXXXX";

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* The state directory goes when the fuzzer exits. */
static void remove_state_dir(void)
{
    nftw(state_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

struct fuzz_env *fuzz_env_get(void)
{
    const char *feats[] = {"writable-running", "candidate", "confirmed-commit", "rollback-on-error", "validate",
                           "startup", "xpath", NULL};
    static const char *const tops[] = {"/raven-vpn:ikev2", "/raven-vpn:ipsec", "/raven-vpn:pools",
                                       "/raven-vpn:aaa", "/raven-vpn:pki", "/raven-vpn:access-lists",
                                       "/raven-vpn:dataplane", "/raven-vpn:management"};
    char *dir = state_dir;
    struct cfg_opts o = {.default_xml = seed_xml};
    struct cfg_errs errs = {0};

    if (env.cfg)
        return &env;
    log_set_level(LOG_LVL_ERR);
    ly_log_options(LY_LOSTORE);
    if (!mkdtemp(dir) || atexit(remove_state_dir) || ly_ctx_new(RAVEN_YANG_DIR ":" RAVEN_IETF_YANG_DIR, 0, &env.ctx) ||
        !ly_ctx_load_module(env.ctx, "ietf-netconf", NULL, feats) ||
        !ly_ctx_load_module(env.ctx, "raven-types", NULL, NULL) ||
        !ly_ctx_load_module(env.ctx, "raven-vpn", NULL, NULL) ||
        !ly_ctx_load_module(env.ctx, "ietf-netconf-acm", NULL, NULL))
        abort();
    o.state_dir = dir;
    env.cfg = cfg_new(env.ctx, &o);
    for (size_t i = 0; i < sizeof(tops) / sizeof(tops[0]); i++) {
        struct cfg_handler h = {.name = tops[i], .path = tops[i]};
        if (cfg_handler_register(env.cfg, &h))
            abort();
    }
    if (cfg_start(env.cfg, &errs)) {
        fprintf(stderr, "fuzz: cannot start datastore: %s\n", errs.head ? errs.head->msg : "?");
        abort();
    }
    return &env;
}
