/* Confirmed commit (RFC 6241 section 8.4, :confirmed-commit:1.1). The rollback point
 * and the pending state (deadline, persist token, owning session) are written to the
 * state directory before the confirmed commit is acknowledged, so that a restart in
 * the middle keeps the promise: with a persist token the commit stays pending with
 * the time it had left; without one the owning session is gone, so it rolls back. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/base/fsutil.h"
#include "daemon/base/log.h"
#include "daemon/config/cfg_impl.h"
#include "daemon/base/poison.h"

#define CONFIRM_DEFAULT_TIMEOUT 600
#define CONFIRM_RETRY_MS 10000

static int64_t now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec;
}

static void timer_arm(struct cfg *cfg, int64_t ms)
{
    if (cfg->timer_arm)
        cfg->timer_arm(ms, cfg->timer_arg);
}

static int meta_path(const struct cfg *cfg, char *buf, size_t len)
{
    return snprintf(buf, len, "%s/confirm.meta", cfg->state_dir) >= (int)len ? -ENAMETOOLONG : 0;
}

static int meta_save(struct cfg *cfg)
{
    char path[PATH_MAX], buf[1024];
    int n, rc;

    rc = meta_path(cfg, path, sizeof(path));
    if (rc)
        return rc;
    n = snprintf(buf, sizeof(buf), "deadline %" PRId64 "\nsession %u\npersist %s\n", cfg->confirm_deadline,
                 cfg->confirm_sid, cfg->confirm_persist ? cfg->confirm_persist : "");
    if (n < 0 || n >= (int)sizeof(buf))
        return -ENAMETOOLONG;
    return fs_write_atomic(path, buf, (size_t)n, 0600);
}

void cfg_confirm_save(const struct cfg *cfg, struct cfg_confirm_saved *sv)
{
    sv->persist = cfg->confirm_persist ? strdup(cfg->confirm_persist) : NULL;
    sv->sid = cfg->confirm_sid;
    sv->deadline = cfg->confirm_deadline;
}

void cfg_confirm_restore(struct cfg *cfg, struct cfg_confirm_saved *sv)
{
    int64_t left = sv->deadline - now_s();

    free(cfg->confirm_persist);
    cfg->confirm_persist = sv->persist;
    sv->persist = NULL;
    cfg->confirm_sid = sv->sid;
    cfg->confirm_deadline = sv->deadline;
    if (meta_save(cfg))
        log_err("config", "cannot restore the confirmed-commit state in %s", cfg->state_dir);
    timer_arm(cfg, left > 0 ? left * 1000 : 0);
}

/* A persist token is written to the state directory on one line. */
static bool persist_token_ok(const char *t)
{
    size_t n = strlen(t);

    if (n == 0 || n > 255)
        return false;
    for (; *t; t++) {
        if ((unsigned char)*t < 0x20 || *t == 0x7f)
            return false;
    }
    return true;
}

int cfg_confirm_check(struct cfg *cfg, const struct cfg_commit_opts *o, const struct cfg_actor *actor,
                      struct cfg_errs *errs)
{
    if (o->persist && !persist_token_ok(o->persist)) {
        cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL,
                    "persist must be 1 to 255 printable characters");
        return -EINVAL;
    }
    if (!cfg->confirm_pending) {
        if (o->persist_id) {
            cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL,
                        "persist-id given but no confirmed commit is pending");
            return -EINVAL;
        }
        return 0;
    }
    if (cfg->confirm_persist) {
        if (!o->persist_id || strcmp(o->persist_id, cfg->confirm_persist)) {
            cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL,
                        o->persist_id ? "persist-id does not match the pending confirmed commit" :
                                        "a confirmed commit with persist is pending: give its persist-id");
            return -EINVAL;
        }
        return 0;
    }
    if (o->persist_id) {
        cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL,
                    "the pending confirmed commit was given no persist token; persist-id does not apply");
        return -EINVAL;
    }
    if (actor->sid != cfg->confirm_sid) {
        cfg_err_add(errs, CFG_ERR_IN_USE, CFG_ERRT_PROTOCOL, NULL,
                    "a confirmed commit of session %u is pending; only that session can confirm or extend it",
                    cfg->confirm_sid);
        return -EBUSY;
    }
    return 0;
}

int cfg_confirm_begin(struct cfg *cfg, const struct cfg_commit_opts *o, const struct cfg_actor *actor,
                      struct cfg_errs *errs)
{
    uint32_t timeout = o->timeout_s ? o->timeout_s : CONFIRM_DEFAULT_TIMEOUT;
    char *persist = NULL;
    int rc;

    if (o->persist && !(persist = strdup(o->persist)))
        return -ENOMEM;
    if (!cfg->confirm_pending) {
        rc = cfg_store_save(cfg, "confirm-rollback", cfg->running);
        if (rc)
            goto fail;
    }
    free(cfg->confirm_persist);
    cfg->confirm_persist = persist;
    persist = NULL;
    cfg->confirm_sid = actor->sid;
    cfg->confirm_deadline = now_s() + timeout;
    cfg->confirm_pending = true;
    rc = meta_save(cfg);
    if (rc)
        goto fail;
    timer_arm(cfg, (int64_t)timeout * 1000);
    log_info("config", "confirmed commit by session %u: rolls back in %u s unless confirmed%s", actor->sid, timeout,
             cfg->confirm_persist ? " (persist token set)" : "");
    return 0;
fail:
    free(persist);
    cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, NULL,
                "cannot record the confirmed commit in %s: %s; nothing was changed", cfg->state_dir, strerror(-rc));
    return rc;
}

int cfg_confirm_end(struct cfg *cfg)
{
    char path[PATH_MAX];
    int rc;

    cfg->confirm_pending = false;
    lyd_free_siblings(cfg->confirm_rollback);
    cfg->confirm_rollback = NULL;
    free(cfg->confirm_persist);
    cfg->confirm_persist = NULL;
    cfg->confirm_sid = 0;
    timer_arm(cfg, -1);
    rc = meta_path(cfg, path, sizeof(path));
    if (!rc)
        rc = fs_remove_durable(path);
    if (!rc)
        rc = cfg_store_remove(cfg, "confirm-rollback");
    if (rc)
        log_err("config", "cannot remove the confirmed-commit state: %s", strerror(-rc));
    return rc;
}

bool cfg_confirm_pending(const struct cfg *cfg)
{
    return cfg->confirm_pending;
}

int cfg_confirm_rollback(struct cfg *cfg, const struct cfg_actor *actor, struct cfg_errs *errs)
{
    struct chg_vec chg = {0};
    struct lyd_node *t = cfg->confirm_rollback;
    int rc;

    cfg->confirm_rollback = NULL;
    rc = chg_vec_diff_top(&chg, cfg->running, t);
    /* whoever asks for it (cancel-commit, the session's end, the timeout, the
     * start), a rollback undoes what the commit did: partial locks taken since
     * do not hold it back (cfg_plock.c) */
    cfg->confirm_undoing = true;
    if (!rc)
        rc = cfg_running_set(cfg, &t, &chg, actor, false, cfg_persist_snapshot, NULL, NULL, errs);
    cfg->confirm_undoing = false;
    chg_vec_clear(&chg);
    if (rc) {
        cfg->confirm_rollback = t;
        cfg_err_add(errs, CFG_ERR_ROLLBACK_FAILED, CFG_ERRT_APPLICATION, NULL,
                    "rolling back the confirmed commit failed; it stays pending and is retried");
        timer_arm(cfg, CONFIRM_RETRY_MS);
        return rc;
    }
    /* the candidate was based on what is now undone; a candidate another session
     * holds locked stays (it is then older than running, which commit handles) */
    if (!cfg->lock[CFG_DS_CANDIDATE] || cfg->lock[CFG_DS_CANDIDATE] == cfg->confirm_sid)
        cfg_cand_reset(cfg);
    cfg_confirm_end(cfg);
    log_info("config", "confirmed commit rolled back");
    return 0;
}

int cfg_cancel_commit(struct cfg *cfg, const char *persist_id, const struct cfg_actor *actor, struct cfg_errs *errs)
{
    if (!cfg->confirm_pending) {
        cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_PROTOCOL, NULL, "no confirmed commit is pending");
        return -ENOENT;
    }
    if (cfg->confirm_persist) {
        if (!persist_id || strcmp(persist_id, cfg->confirm_persist)) {
            cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL,
                        persist_id ? "persist-id does not match the pending confirmed commit" :
                                     "the pending confirmed commit has a persist token: give it as persist-id");
            return -EINVAL;
        }
    } else if (persist_id) {
        cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL,
                    "the pending confirmed commit was given no persist token; persist-id does not apply");
        return -EINVAL;
    } else if (actor->sid != cfg->confirm_sid) {
        cfg_err_add(errs, CFG_ERR_IN_USE, CFG_ERRT_PROTOCOL, NULL,
                    "the pending confirmed commit belongs to session %u", cfg->confirm_sid);
        return -EBUSY;
    }
    /* a restricted user cancels only what it may write (the pending commit may
     * be another user's, through its persist token) */
    if (cfg_access_check(cfg, actor, cfg->running, cfg->confirm_rollback, errs))
        return -EACCES;
    return cfg_confirm_rollback(cfg, actor, errs);
}

void cfg_confirm_timeout(struct cfg *cfg)
{
    struct cfg_actor actor = {.sid = 0, .user = "ravend"};
    struct cfg_errs errs = {0};

    if (!cfg->confirm_pending)
        return;
    log_info("config", "confirmed commit of session %u timed out: rolling back", cfg->confirm_sid);
    if (cfg_confirm_rollback(cfg, &actor, &errs))
        log_err("config", "rollback failed: %s", errs.head ? errs.head->msg : "unknown error");
    cfg_errs_clear(&errs);
}

int cfg_confirm_load(struct cfg *cfg, struct cfg_errs *errs)
{
    char path[PATH_MAX], persist[512] = "";
    char *data = NULL;
    long long deadline = 0;
    unsigned sid = 0;
    int rc;

    rc = meta_path(cfg, path, sizeof(path));
    if (rc)
        return rc;
    rc = fs_read_all(path, &data, NULL);
    if (rc == -ENOENT) {
        cfg_store_remove(cfg, "confirm-rollback"); /* left by a crash before the meta file */
        return 0;
    }
    if (rc)
        return rc;
    if (sscanf(data, "deadline %lld\nsession %u\npersist %511[^\n]", &deadline, &sid, persist) < 2) {
        log_err("config", "%s is corrupt; ignoring the pending confirmed commit", path);
        free(data);
        fs_remove_durable(path);
        return 0;
    }
    free(data);
    rc = cfg_store_load(cfg, "confirm-rollback", &cfg->confirm_rollback, errs);
    if (rc) {
        log_err("config", "pending confirmed commit has no readable rollback point; keeping running as is");
        cfg_errs_clear(errs);
        fs_remove_durable(path);
        return 0;
    }
    cfg->confirm_pending = true;
    cfg->confirm_sid = sid;
    cfg->confirm_deadline = deadline;
    if (persist[0] && !(cfg->confirm_persist = strdup(persist)))
        return -ENOMEM;
    if (!cfg->confirm_persist) {
        struct cfg_actor actor = {.sid = 0, .user = "ravend"};

        log_info("config", "confirmed commit of session %u was pending at shutdown without persist: rolling back", sid);
        if (cfg_confirm_rollback(cfg, &actor, errs)) {
            /* start anyway: it stays pending and the rollback is retried */
            log_err("config", "rollback failed: %s", errs->head ? errs->head->msg : "unknown error");
            cfg_errs_clear(errs);
        }
        return 0;
    }
    int64_t left = deadline - now_s();
    log_info("config", "confirmed commit with persist token still pending: %lld s left", (long long)(left > 0 ? left : 0));
    timer_arm(cfg, left > 0 ? left * 1000 : 0);
    return 0;
}
