/* Shared set-up of the fuzz targets: the raven YANG context and a datastore in a
 * private state directory, created once per process. */
#ifndef RAVEN_FUZZ_COMMON_H
#define RAVEN_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/config/cfg.h"

struct fuzz_env {
    struct ly_ctx *ctx;
    struct cfg *cfg;
};

struct fuzz_env *fuzz_env_get(void);
/* A NUL-terminated copy of the fuzz input (caller frees). */
char *fuzz_cstr(const uint8_t *data, size_t size);

#endif
