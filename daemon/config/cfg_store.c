/* Persistence of datastores in the state directory: one XML file per datastore,
 * replaced atomically (daemon/base/fsutil.h), mode 0600 because it holds secrets;
 * running's file is a snapshot that running.journal continues (cfg_journal.c). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/fsutil.h"
#include "daemon/base/log.h"
#include "daemon/config/cfg_impl.h"
#include "daemon/base/poison.h"

static int store_path(const struct cfg *cfg, const char *name, char *buf, size_t len)
{
    if (snprintf(buf, len, "%s/%s.xml", cfg->state_dir, name) >= (int)len)
        return -ENAMETOOLONG;
    return 0;
}

/* running.xml starts with a header naming the journal sequence it holds and the
 * digest of running (cfg_journal.c); the digest tells a later process whether
 * running changed while ravend was stopped (the session arena keeps it). */
static int save_running(struct cfg *cfg, const char *path, const char *data, bool keep_digest)
{
    size_t dl = data ? strlen(data) : 0, hl;
    uint64_t body = cfg_fnv(0xcbf29ce484222325ULL, data ? data : "", dl);
    char hdr[128], *all;
    int rc;

    /* a compaction still printing an older running must not land after this */
    cfg_journal_wait(cfg);
    hl = (size_t)cfg_snapshot_header(hdr, sizeof(hdr), cfg->jseq + 1, keep_digest ? cfg->running_digest : body,
                                     body);
    if (!(all = malloc(hl + dl + 1)))
        return -ENOMEM;
    memcpy(all, hdr, hl);
    memcpy(all + hl, data ? data : "", dl);
    rc = fs_write_atomic(path, all, hl + dl, 0600);
    free(all);
    /* a failure may come after the rename (the directory's fsync): running.xml may
     * then hold this refused tree under seq J+1. That number is burnt, and the next
     * commit writes a snapshot with a higher one, so that no record numbered J+1 is
     * appended (replay would take it for part of this snapshot and skip it). */
    cfg->jseq++;
    cfg->snap_seq = cfg->jseq;
    if (rc) {
        cfg->jbroken = true;
        return rc;
    }
    if (!keep_digest)
        cfg->running_digest = body;
    cfg->snap_size = cfg->snap_bytes = hl + dl;
    cfg_journal_reset(cfg);
    return 0;
}

int cfg_store_snapshot(struct cfg *cfg, const struct lyd_node *tree, bool keep_digest)
{
    char path[PATH_MAX];
    char *data = NULL;
    int rc;

    rc = store_path(cfg, "running", path, sizeof(path));
    if (rc)
        return rc;
    if (tree && lyd_print_mem(&data, tree, LYD_XML, LYD_PRINT_WITHSIBLINGS | LYD_PRINT_WD_EXPLICIT))
        return -ENOMEM;
    rc = save_running(cfg, path, data, keep_digest);
    if (rc)
        log_err("config", "cannot write %s: %s", path, strerror(-rc));
    free(data);
    return rc;
}

int cfg_store_save(struct cfg *cfg, const char *name, const struct lyd_node *tree)
{
    char path[PATH_MAX];
    char *data = NULL;
    int rc;

    rc = store_path(cfg, name, path, sizeof(path));
    if (rc)
        return rc;
    if (tree && lyd_print_mem(&data, tree, LYD_XML, LYD_PRINT_WITHSIBLINGS | LYD_PRINT_WD_EXPLICIT))
        return -ENOMEM;
    if (!strcmp(name, "running"))
        rc = save_running(cfg, path, data, false);
    else
        rc = fs_write_atomic(path, data ? data : "", data ? strlen(data) : 0, 0600);
    if (rc)
        log_err("config", "cannot write %s: %s", path, strerror(-rc));
    free(data);
    return rc;
}

int cfg_parse_data(struct cfg *cfg, const char *data, const char *what, struct lyd_node **tree,
                   struct cfg_errs *errs)
{
    LYD_FORMAT fmt = LYD_XML;
    const char *p = data;

    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    if (*p == '{')
        fmt = LYD_JSON;
    *tree = NULL;
    if (lyd_parse_data_mem(cfg->ctx, data, fmt, LYD_PARSE_STRICT | LYD_PARSE_NO_STATE | LYD_PARSE_ONLY, 0,
                           tree)) {
        cfg_err_from_ly(errs, cfg->ctx, what);
        lyd_free_siblings(*tree);
        *tree = NULL;
        return -EINVAL;
    }
    return 0;
}

int cfg_store_load(struct cfg *cfg, const char *name, struct lyd_node **tree, struct cfg_errs *errs)
{
    char path[PATH_MAX];
    char *data = NULL;
    int rc;

    *tree = NULL;
    rc = store_path(cfg, name, path, sizeof(path));
    if (rc)
        return rc;
    rc = fs_read_all(path, &data, NULL);
    if (rc == -ENOENT)
        return rc;
    if (rc) {
        cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, NULL, "cannot read %s: %s", path,
                    strerror(-rc));
        return rc;
    }
    if (strcmp(name, "running")) {
        rc = cfg_parse_data(cfg, data, path, tree, errs);
    } else {
        cfg->snap_size = cfg->snap_bytes = strlen(data);
        rc = cfg_parse_data(cfg, cfg_snapshot_parse(cfg, data), path, tree, errs);
        if (!rc)
            rc = cfg_journal_replay(cfg, tree, errs);
        if (rc) {
            lyd_free_siblings(*tree);
            *tree = NULL;
        }
    }
    free(data);
    return rc;
}

uint64_t cfg_running_digest(const struct cfg *cfg)
{
    return cfg->running_digest;
}

int cfg_store_remove(struct cfg *cfg, const char *name)
{
    char path[PATH_MAX];
    int rc = store_path(cfg, name, path, sizeof(path));

    return rc ? rc : fs_remove_durable(path);
}
