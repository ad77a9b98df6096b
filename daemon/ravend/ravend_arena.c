/* The session arena of this ravend (daemon/session/sess_arena.h): which file,
 * opened at start before the configuration is applied, adopted once it is, and
 * shown in vpn-state/daemon. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <linux/magic.h>

#include "daemon/base/log.h"
#include "daemon/ike/ike_engine.h"
#include "daemon/session/sess_arena.h"
#include "daemon/ravend/ravend.h"
#include "daemon/base/poison.h"

/* The default: under /run when it is a tmpfs (systemd's RuntimeDirectory),
 * else under /dev/shm; NULL when neither is. */
static const char *default_path(void)
{
    static const char *const dirs[][2] = {{"/run", "/run/raven/arena"}, {"/dev/shm", "/dev/shm/raven/arena"}};

    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        struct statfs st;

        if (!statfs(dirs[i][0], &st) && (st.f_type == TMPFS_MAGIC || st.f_type == RAMFS_MAGIC))
            return dirs[i][1];
    }
    return NULL;
}

int ravend_arena_open(struct ravend_daemon *d, const char *opt, const char *state_dir)
{
    char owner[PATH_MAX], why[256] = "";
    enum sess_arena_found found = SESS_ARENA_NEW;
    const char *path = opt ? opt : default_path();
    int rc;

    d->started_at = time(NULL);
    d->arena_state = "none";
    if (opt && !strcmp(opt, "none"))
        return 0;
    if (!path) {
        log_warn("ravend", "no tmpfs at /run or /dev/shm for the session arena: sessions will not survive a "
                 "restart of ravend (--arena PATH names one)");
        return 0;
    }
    if (!realpath(state_dir, owner))
        return -errno;
    rc = sess_arena_open(&(struct sess_arena_opts){.path = path, .owner = owner}, &d->arena, &found, why,
                         sizeof(why));
    if (rc) {
        if (opt) { /* named on the command line: the operator wants it */
            log_err("ravend", "session arena %s: %s", path, why[0] ? why : strerror(-rc));
            return rc;
        }
        log_warn("ravend", "session arena %s: %s; sessions will not survive a restart of ravend", path,
                 why[0] ? why : strerror(-rc));
        return 0;
    }
    d->arena_path = strdup(path);
    switch (found) {
    case SESS_ARENA_ADOPTED:
        d->arena_state = "adopted";
        break;
    case SESS_ARENA_SET_ASIDE:
        d->arena_state = "set-aside";
        log_warn("ravend", "session arena %s was not valid (%s): set aside, starting without sessions", path, why);
        break;
    default:
        d->arena_state = "new";
        break;
    }
    return 0;
}

void ravend_arena_adopt_begin(struct ravend_daemon *d, struct ike_engine *ike)
{
    struct ike_adopt_result r = {0};

    if (!d->arena)
        return;
    ike_engine_adopt_begin(ike, &r); /* in a new arena: nothing, but its slots are free */
    d->unreadable = r.unreadable;
}

void ravend_arena_adopt(struct ravend_daemon *d, struct ike_engine *ike, uint64_t digest, bool fresh)
{
    struct ike_adopt_result r = {0};

    if (!d->arena)
        return;
    if (!strcmp(d->arena_state, "adopted") && sess_arena_generation(d->arena) != digest)
        log_info("ravend", "the configuration changed while ravend was stopped: each session of the arena is "
                 "checked against it");
    ike_engine_adopt(ike, fresh, &r);
    d->adopted = r.adopted;
    d->ended = r.ended;
    if (!strcmp(d->arena_state, "adopted"))
        log_info("ravend", "session arena %s: %" PRIu32 " session(s) taken over, %" PRIu32 " ended, %" PRIu32
                 " unreadable", d->arena_path, r.adopted, r.ended, d->unreadable);
    sess_arena_set_generation(d->arena, digest);
}

void ravend_arena_state(const struct ravend_daemon *d, struct lyd_node *vpn_state)
{
    struct lyd_node *n = NULL;
    char buf[32];
    struct tm tm;

    if (!d || lyd_new_inner(vpn_state, NULL, "daemon", 0, &n))
        return;
    gmtime_r(&d->started_at, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    lyd_new_term(n, NULL, "started-at", buf, 0, NULL);
    lyd_new_term(n, NULL, "arena", d->arena_state, 0, NULL);
    if (d->arena_path)
        lyd_new_term(n, NULL, "arena-path", d->arena_path, 0, NULL);
    snprintf(buf, sizeof(buf), "%" PRIu32, d->adopted);
    lyd_new_term(n, NULL, "sessions-adopted", buf, 0, NULL);
    snprintf(buf, sizeof(buf), "%" PRIu32, d->ended);
    lyd_new_term(n, NULL, "sessions-ended-at-start", buf, 0, NULL);
}

void ravend_arena_close(struct ravend_daemon *d)
{
    sess_arena_close(d->arena);
    d->arena = NULL;
    free(d->arena_path);
    d->arena_path = NULL;
}
