/* The YANG context every Raven process builds alike: ravend and both front ends
 * parse each other's XML, so they load the same modules with the same features. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/log.h"
#include "daemon/config/cfg.h"
#include "daemon/base/poison.h"

static const char *const nc_features[] = {"writable-running", "candidate", "confirmed-commit", "rollback-on-error",
                                          "validate", "startup", "xpath", NULL};

static const char *const modules[] = {
    "raven-types",
    "raven-vpn",
    "ietf-netconf",
    "ietf-netconf-with-defaults",
    "ietf-netconf-monitoring",
    "ietf-netconf-notifications",
    "notifications",
    "nc-notifications",
    "ietf-netconf-acm", /* /nacm: access control of every management request */
    "ietf-datastores",
    "ietf-netconf-nmda",     /* get-data, edit-data (RFC 8526) */
    "raven-list-pagination", /* after ietf-netconf and ietf-netconf-nmda, whose get and get-data it augments */
    "ietf-netconf-partial-lock", /* RFC 5717 */
};

/* ietf-netconf-nmda: with-defaults on get-data as on get; no origin annotations */
static const char *const nmda_features[] = {"with-defaults", NULL};

static void ly_log(LY_LOG_LEVEL level, const char *msg, const char *path)
{
    if (level <= LY_LLWRN)
        log_debug("yang", "%s%s%s", msg, path ? " at " : "", path ? path : "");
}

void cfg_yang_log(void)
{
    ly_log_options(LY_LOLOG | LY_LOSTORE);
    ly_set_log_clb(ly_log, 1);
}

struct ly_ctx *cfg_yang_ctx(const char *yang_dir, const char *ietf_dirs)
{
    struct ly_ctx *ctx = NULL;
    char *dirs = NULL;

    cfg_yang_log();

    if (asprintf(&dirs, "%s:%s", yang_dir, ietf_dirs) < 0)
        return NULL;
    if (ly_ctx_new(dirs, 0, &ctx)) {
        free(dirs);
        return NULL;
    }
    free(dirs);
    for (size_t i = 0; i < sizeof(modules) / sizeof(modules[0]); i++) {
        const char **feat = i == 2                                  ? (const char **)nc_features :
                            !strcmp(modules[i], "ietf-netconf-nmda") ? (const char **)nmda_features :
                                                                      NULL;

        if (!ly_ctx_load_module(ctx, modules[i], NULL, feat)) {
            log_err("yang", "cannot load YANG module %s from %s or %s (is libyuma-base installed?)", modules[i],
                    yang_dir, ietf_dirs);
            ly_ctx_destroy(ctx);
            errno = ENOENT;
            return NULL;
        }
    }
    return ctx;
}
