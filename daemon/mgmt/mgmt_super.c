/* The front ends' supervisor (mgmt_super.h): spawning with privileges dropped,
 * reaping, the restart schedule, the watchdog, and the front ends' operational
 * state.
 *
 * Restart schedule: a front end that ends is started again at once the first
 * time; while it keeps ending within FAIL_WINDOW of its start, each next start
 * waits a delay that doubles from BACKOFF_MIN to BACKOFF_MAX. A front end that
 * lived FAIL_WINDOW or longer counts as a first failure again.
 *
 * Watchdog: every TICK, each connected front end is pinged; one connected and not
 * heard from for HANG_AFTER, or spawned and not connected within CONNECT_WITHIN,
 * is killed with SIGKILL and takes the same restart path as a crash.
 *
 * Only our own children are reaped, each by its pid (never waitpid(-1)): other
 * parts of ravend may have children of their own. A pid stays ours until we reap
 * it, so a kill() on it never reaches another process. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cap-ng.h>
#include <event2/event.h>

#include "daemon/base/alarm.h"
#include "daemon/base/log.h"
#include "daemon/base/monotime.h"
#include "daemon/mgmt/mgmt_super.h"
#include "daemon/base/poison.h"

#define SUPER_MAX 4
#define TICK_MS 500
#define HANG_AFTER_MS 3000
#define CONNECT_WITHIN_MS 10000
#define FAIL_WINDOW_MS 10000
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 30000
#define STOP_WAIT_MS 2000
#define CLOSED_GRACE_MS 100

enum fe_state {
    FE_STOPPED = 0,
    FE_STARTING,
    FE_RUNNING,
    FE_BACKOFF,
};

static const char *const state_names[] = {"stopped", "starting", "running", "backoff"};

struct fe {
    struct super *s;
    int idx;
    char name[16];
    char *exe;
    char **argv;
    pid_t pid; /* 0: none runs (or it was reaped) */
    enum fe_state state;
    bool connected;
    uint32_t seq;
    unsigned fails;   /* ends in a row within FAIL_WINDOW of their start */
    uint64_t restarts;
    int64_t started;  /* monotonic ms */
    int64_t seen;     /* monotonic ms of its last frame */
    time_t last_start;
    const char *kill_reason; /* why we killed the running process, if we did */
    char spawn_err[96];      /* the child's failure before exec, if any */
    char last_exit[96];
    struct event *ev_restart;
    struct event *ev_closed; /* its connection closed: kill it unless it ends by itself */
};

struct super {
    struct event_base *base;
    struct super_ops ops;
    uid_t uid;
    gid_t gid;
    bool change_id;   /* root: change to uid/gid in the child */
    bool clear_bound; /* CAP_SETPCAP permitted: clear the child's bounding set */
    struct fe fe[SUPER_MAX];
    int n;
    uint64_t refused;
    struct event *ev_chld, *ev_tick;
    int64_t last_tick; /* monotonic ms of the previous tick */
};

static struct fe *fe_at(struct super *s, int idx)
{
    return s && idx >= 0 && idx < s->n ? &s->fe[idx] : NULL;
}

/* ---- the child, between fork and exec ----
 *
 * Order matters: the id change clears the parent-death signal (the kernel resets
 * it on any credential change), so it is set after, and getppid() is checked after
 * that in case ravend died in between. A failing step writes its name and errno to
 * the status pipe (close-on-exec: ravend reads nothing when exec succeeded). */

struct child_err {
    char step[48];
    int err;
};

static void __attribute__((noreturn)) child_fail(int pipe_fd, const char *step, int err)
{
    struct child_err ce = {.err = err};
    ssize_t n;

    snprintf(ce.step, sizeof(ce.step), "%s", step);
    n = write(pipe_fd, &ce, sizeof(ce));
    (void)n;
    _exit(127);
}

static void child_close_fds(int keep)
{
    /* every descriptor ravend holds (datastore files, sockets, the dataplane's)
     * but stdio and the status pipe */
    if (keep > 3 && close_range(3, (unsigned)keep - 1, 0) == 0 && close_range((unsigned)keep + 1, ~0U, 0) == 0)
        return;
    if (keep == 3 && close_range(4, ~0U, 0) == 0)
        return;
    for (long fd = 3, max = sysconf(_SC_OPEN_MAX); fd < (max > 0 ? max : 65536); fd++)
        if (fd != keep)
            close((int)fd);
}

static void __attribute__((noreturn)) child_run(const struct super *s, const struct fe *f, pid_t parent, int pipe_fd)
{
    sigset_t all;

    sigemptyset(&all);
    for (int sig = 1; sig < NSIG; sig++)
        signal(sig, SIG_DFL);
    sigprocmask(SIG_SETMASK, &all, NULL);
    child_close_fds(pipe_fd);
    if (s->change_id) {
        int rc;

        errno = 0;
        capng_clear(CAPNG_SELECT_BOTH);
        rc = capng_change_id((int)s->uid, (int)s->gid,
                             CAPNG_DROP_SUPP_GRP | (s->clear_bound ? CAPNG_CLEAR_BOUNDING : 0));
        if (rc) {
            char step[48];

            /* libcap-ng's code says which step; errno, what the kernel refused */
            snprintf(step, sizeof(step), "changing user (libcap-ng error %d)", rc);
            child_fail(pipe_fd, step, errno ? errno : EPERM);
        }
    } else {
        capng_clear(CAPNG_SELECT_CAPS);
        if (capng_apply(CAPNG_SELECT_CAPS))
            child_fail(pipe_fd, "dropping capabilities", EPERM);
    }
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0))
        child_fail(pipe_fd, "setting the parent-death signal", errno);
    if (getppid() != parent)
        _exit(1);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
        child_fail(pipe_fd, "setting no-new-privs", errno);
    execv(f->exe, f->argv);
    child_fail(pipe_fd, "exec", errno);
}

/* ---- spawning and restarting ---- */

static void fe_spawned(struct fe *f, pid_t pid)
{
    f->pid = pid;
    f->state = FE_STARTING;
    f->connected = false;
    f->kill_reason = NULL;
    f->started = monotime_ms();
    f->last_start = time(NULL);
}

/* Forks and execs @f; the child's own failure before exec is read back here (the
 * child has exited: it is reaped, and restarted, the usual way). */
static int fe_spawn(struct fe *f)
{
    struct child_err ce;
    int p[2], rc = 0;
    pid_t parent = getpid(), pid;
    ssize_t n;

    f->spawn_err[0] = '\0';
    if (pipe2(p, O_CLOEXEC))
        return -errno;
    pid = fork();
    if (pid == 0) {
        close(p[0]);
        child_run(f->s, f, parent, p[1]);
    }
    close(p[1]);
    if (pid < 0) {
        rc = -errno;
        close(p[0]);
        log_err("mgmt", "front end %s: cannot fork: %s", f->name, strerror(-rc));
        return rc;
    }
    fe_spawned(f, pid);
    do
        n = read(p[0], &ce, sizeof(ce));
    while (n < 0 && errno == EINTR);
    close(p[0]);
    if (n == (ssize_t)sizeof(ce)) {
        ce.step[sizeof(ce.step) - 1] = '\0';
        snprintf(f->spawn_err, sizeof(f->spawn_err), "could not start: %s: %s", ce.step, strerror(ce.err));
        log_err("mgmt", "front end %s (%s, pid %d): %s", f->name, f->exe, (int)pid, f->spawn_err);
        return -ce.err;
    }
    log_info("mgmt", "front end %s started: %s, pid %d, uid %u", f->name, f->exe, (int)pid, (unsigned)f->s->uid);
    return 0;
}

/* Spawns @f; when not even fork worked, tries again a second later. */
static int fe_start(struct fe *f)
{
    int rc = fe_spawn(f);

    if (rc < 0 && !f->pid) {
        f->fails++;
        f->state = FE_BACKOFF;
        evtimer_add(f->ev_restart, &(struct timeval){.tv_sec = 1});
    }
    return rc;
}

static void restart_cb(evutil_socket_t fd, short what, void *arg)
{
    struct fe *f = arg;

    if (f->state != FE_BACKOFF)
        return;
    f->restarts++;
    fe_start(f);
}

/* The delay before the next start, per the schedule at the top of this file. */
static unsigned fe_next_delay(struct fe *f, int64_t lived)
{
    unsigned d = BACKOFF_MIN_MS;

    if (lived >= FAIL_WINDOW_MS)
        f->fails = 0;
    f->fails++;
    if (f->fails == 1)
        return 0;
    for (unsigned i = 2; i < f->fails && d < BACKOFF_MAX_MS; i++)
        d *= 2;
    return d < BACKOFF_MAX_MS ? d : BACKOFF_MAX_MS;
}

static void exit_text(const struct fe *f, int status, char *b, size_t len)
{
    if (f->spawn_err[0] && WIFEXITED(status) && WEXITSTATUS(status) == 127)
        snprintf(b, len, "%s", f->spawn_err);
    else if (f->kill_reason && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        snprintf(b, len, "%s", f->kill_reason);
    else if (WIFSIGNALED(status))
        snprintf(b, len, "killed by signal %d%s", WTERMSIG(status), WCOREDUMP(status) ? " (core dumped)" : "");
    else
        snprintf(b, len, "exited with status %d", WEXITSTATUS(status));
}

static void fe_exited(struct fe *f, int status)
{
    int64_t lived = monotime_ms() - f->started;
    pid_t pid = f->pid;
    unsigned delay;

    exit_text(f, status, f->last_exit, sizeof(f->last_exit));
    f->pid = 0;
    f->connected = false;
    f->kill_reason = NULL;
    evtimer_del(f->ev_closed);
    delay = fe_next_delay(f, lived);
    alarm_raise(ALARM_FRONTEND_RESTARTED, f->name, delay ? ALARM_SEV_CRITICAL : ALARM_SEV_MAJOR,
                "front end %s (pid %d) ended after %lld ms: %s; %s", f->name, (int)pid, (long long)lived,
                f->last_exit, delay ? "restarted with a growing delay, it keeps failing" : "restarted");
    if (delay) {
        log_warn("mgmt", "front end %s (pid %d) ended after %lld ms: %s; restarting in %u ms (failing again and again)",
                 f->name, (int)pid, (long long)lived, f->last_exit, delay);
        struct timeval tv = {.tv_sec = delay / 1000, .tv_usec = delay % 1000 * 1000};

        f->state = FE_BACKOFF;
        evtimer_add(f->ev_restart, &tv);
        return;
    }
    log_warn("mgmt", "front end %s (pid %d) ended after %lld ms: %s; restarting now", f->name, (int)pid,
             (long long)lived, f->last_exit);
    f->restarts++;
    fe_start(f);
}

static void chld_cb(evutil_socket_t sig, short what, void *arg)
{
    struct super *s = arg;

    for (int i = 0; i < s->n; i++) {
        struct fe *f = &s->fe[i];
        int status;

        if (f->pid > 0 && waitpid(f->pid, &status, WNOHANG) == f->pid)
            fe_exited(f, status);
    }
}

/* A front end runs as another user than ravend (root), so signalling it takes
 * CAP_KILL: ravend keeps it permitted only, and this thread holds it effective
 * just for the kill(). */
static void fe_signal(const struct super *s, pid_t pid, int sig)
{
    bool raised = false;

    if (s->change_id && capng_get_caps_process() == 0 && capng_have_capability(CAPNG_EFFECTIVE, CAP_KILL) == 0 &&
        capng_have_capability(CAPNG_PERMITTED, CAP_KILL) == 1) {
        capng_update(CAPNG_ADD, CAPNG_EFFECTIVE, CAP_KILL);
        raised = capng_apply(CAPNG_SELECT_CAPS) == 0;
    }
    if (kill(pid, sig) && errno != ESRCH)
        log_err("mgmt", "cannot send signal %d to front end pid %d: %s%s", sig, (int)pid, strerror(errno),
                errno == EPERM ? " (ravend keeps no CAP_KILL)" : "");
    if (raised) {
        capng_update(CAPNG_DROP, CAPNG_EFFECTIVE, CAP_KILL);
        capng_apply(CAPNG_SELECT_CAPS);
    }
}

static void fe_kill(struct fe *f, const char *reason)
{
    if (f->pid <= 0 || f->kill_reason)
        return;
    f->kill_reason = reason;
    log_warn("mgmt", "front end %s (pid %d): %s: killing it", f->name, (int)f->pid, reason);
    fe_signal(f->s, f->pid, SIGKILL);
}

static void closed_cb(evutil_socket_t fd, short what, void *arg)
{
    fe_kill(arg, "connection closed");
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct super *s = arg;
    int64_t now = monotime_ms();
    /* ravend's own loop was held up (a large commit): the front ends' answers
     * wait unread in their sockets, so silence since then says nothing of them */
    bool stalled = s->last_tick && now - s->last_tick > 2 * TICK_MS;

    s->last_tick = now;
    for (int i = 0; i < s->n; i++) {
        struct fe *f = &s->fe[i];

        if (f->pid <= 0 || f->kill_reason)
            continue;
        if (stalled)
            f->seen = now;
        if (f->connected && now - f->seen >= HANG_AFTER_MS)
            fe_kill(f, "hang: no answer for 3 s");
        else if (!f->connected && now - f->started >= CONNECT_WITHIN_MS)
            fe_kill(f, "no connection: none within 10 s of its start");
        else if (f->connected && s->ops.ping)
            s->ops.ping(i, ++f->seq, s->ops.arg);
    }
}

/* ---- the user ---- */

static int pick_user(struct super *s, const struct super_opts *o)
{
    const char *name = o && o->user ? o->user : "raven";
    struct passwd *pw = getpwnam(name);

    if (!pw && !(o && o->user)) {
        name = "nobody";
        pw = getpwnam(name);
    }
    if (!pw) {
        log_err("mgmt", "the front-end user %s does not exist: create it (packaging/sysusers.d/raven.conf)", name);
        return -ENOENT;
    }
    if (pw->pw_uid == 0) {
        log_err("mgmt", "the front-end user %s is root: name an unprivileged user", name);
        return -EINVAL;
    }
    s->uid = pw->pw_uid;
    s->gid = pw->pw_gid;
    log_info("mgmt", "front ends run as user %s (uid %u, gid %u)", name, (unsigned)s->uid, (unsigned)s->gid);
    return 0;
}

/* Root changes to the front-end user; that needs CAP_SETUID and CAP_SETGID in
 * ravend's permitted set (raised in the child only), clearing the child's
 * bounding set CAP_SETPCAP, and signalling it afterwards CAP_KILL (raised for the
 * kill() only). Anyone else runs the front ends as itself. */
static int pick_identity(struct super *s, const struct super_opts *o)
{
    if (geteuid() != 0) {
        s->uid = geteuid();
        s->gid = getegid();
        log_info("mgmt", "ravend is not root: the front ends run as its own user (uid %u)", (unsigned)s->uid);
        return 0;
    }
    if (capng_get_caps_process() || capng_have_capability(CAPNG_PERMITTED, CAP_SETUID) != 1 ||
        capng_have_capability(CAPNG_PERMITTED, CAP_SETGID) != 1) {
        log_err("mgmt", "ravend runs as root without CAP_SETUID and CAP_SETGID: it cannot start the front ends "
                        "as an unprivileged user");
        return -EPERM;
    }
    s->change_id = true;
    s->clear_bound = capng_have_capability(CAPNG_PERMITTED, CAP_SETPCAP) == 1;
    if (capng_have_capability(CAPNG_PERMITTED, CAP_KILL) != 1)
        log_warn("mgmt", "no CAP_KILL: ravend cannot stop a front end that hangs or outlives its connection");
    if (!s->clear_bound)
        log_warn("mgmt", "no CAP_SETPCAP: the front ends keep ravend's capability bounding set (they hold no "
                         "capability and have no-new-privs all the same)");
    return pick_user(s, o);
}

/* ---- the interface ---- */

struct super *super_new(struct event_base *base, const struct super_opts *o, const struct super_ops *ops)
{
    struct super *s = calloc(1, sizeof(*s));
    int rc = -ENOMEM;

    if (!s)
        goto fail;
    s->base = base;
    if (ops)
        s->ops = *ops;
    rc = pick_identity(s, o);
    if (rc)
        goto fail;
    rc = -ENOMEM;
    s->ev_chld = evsignal_new(base, SIGCHLD, chld_cb, s);
    s->ev_tick = event_new(base, -1, EV_PERSIST, tick_cb, s);
    if (!s->ev_chld || !s->ev_tick || evsignal_add(s->ev_chld, NULL))
        goto fail;
    return s;
fail:
    super_free(s);
    errno = -rc;
    return NULL;
}

static char **argv_dup(char *const argv[])
{
    size_t n = 0;
    char **v;

    while (argv && argv[n])
        n++;
    v = calloc(n + 1, sizeof(*v));
    for (size_t i = 0; v && i < n; i++) {
        v[i] = strdup(argv[i]);
        if (!v[i]) {
            while (i--)
                free(v[i]);
            free(v);
            return NULL;
        }
    }
    return v;
}

int super_add(struct super *s, const char *name, const char *exe, char *const argv[])
{
    struct fe *f;

    if (!s || !name || !exe || !argv || !argv[0] || strlen(name) >= sizeof(f->name))
        return -EINVAL;
    if (s->n == SUPER_MAX)
        return -ENOSPC;
    f = &s->fe[s->n];
    memset(f, 0, sizeof(*f));
    f->s = s;
    f->idx = s->n;
    snprintf(f->name, sizeof(f->name), "%s", name);
    f->exe = strdup(exe);
    f->argv = argv_dup(argv);
    f->ev_restart = evtimer_new(s->base, restart_cb, f);
    f->ev_closed = evtimer_new(s->base, closed_cb, f);
    if (!f->exe || !f->argv || !f->ev_restart || !f->ev_closed) {
        free(f->exe);
        for (size_t i = 0; f->argv && f->argv[i]; i++)
            free(f->argv[i]);
        free(f->argv);
        if (f->ev_restart)
            event_free(f->ev_restart);
        if (f->ev_closed)
            event_free(f->ev_closed);
        memset(f, 0, sizeof(*f));
        return -ENOMEM;
    }
    return s->n++;
}

int super_start(struct super *s)
{
    int first = 0;

    if (!s)
        return -EINVAL;
    for (int i = 0; i < s->n; i++) {
        int rc;

        if (s->fe[i].state != FE_STOPPED)
            continue;
        rc = fe_start(&s->fe[i]);
        if (rc && !first)
            first = rc;
    }
    if (evtimer_add(s->ev_tick, &(struct timeval){.tv_usec = TICK_MS * 1000}))
        return first ? first : -ENOMEM;
    return first;
}

int super_peer(struct super *s, pid_t pid, uid_t uid)
{
    if (!s || pid <= 0 || uid != s->uid)
        return -1;
    for (int i = 0; i < s->n; i++)
        if (s->fe[i].pid == pid && !s->fe[i].connected && !s->fe[i].kill_reason && !s->fe[i].spawn_err[0])
            return i;
    return -1;
}

const char *super_name(struct super *s, int idx)
{
    struct fe *f = fe_at(s, idx);

    return f ? f->name : NULL;
}

void super_connected(struct super *s, int idx)
{
    struct fe *f = fe_at(s, idx);

    if (!f || f->pid <= 0)
        return;
    f->connected = true;
    f->state = FE_RUNNING;
    f->seen = monotime_ms();
    log_info("mgmt", "front end %s (pid %d) connected", f->name, (int)f->pid);
    alarm_clear(ALARM_FRONTEND_RESTARTED, f->name);
}

void super_seen(struct super *s, int idx)
{
    struct fe *f = fe_at(s, idx);

    if (f)
        f->seen = monotime_ms();
}

void super_disconnected(struct super *s, int idx)
{
    struct fe *f = fe_at(s, idx);

    if (!f)
        return;
    f->connected = false;
    /* most often it is ending (its descriptors are closed before it can be
     * reaped): a moment's grace lets its own exit status name the reason */
    if (f->pid > 0)
        evtimer_add(f->ev_closed, &(struct timeval){.tv_usec = CLOSED_GRACE_MS * 1000});
}

void super_note_refused(struct super *s)
{
    if (s)
        s->refused++;
}

uid_t super_uid(const struct super *s)
{
    return s->uid;
}

gid_t super_gid(const struct super *s)
{
    return s->gid;
}

static int fe_state(const struct fe *f, struct lyd_node *mgmt)
{
    struct lyd_node *e;
    char b[32];
    struct tm tm;

    if (lyd_new_list(mgmt, NULL, "front-end", 0, &e, f->name))
        return -EINVAL;
    if (f->pid > 0) {
        snprintf(b, sizeof(b), "%d", (int)f->pid);
        if (lyd_new_term(e, NULL, "pid", b, 0, NULL))
            return -EINVAL;
    }
    snprintf(b, sizeof(b), "%llu", (unsigned long long)f->restarts);
    if (lyd_new_term(e, NULL, "state", state_names[f->state], 0, NULL) || lyd_new_term(e, NULL, "restarts", b, 0, NULL))
        return -EINVAL;
    if (f->last_exit[0] && lyd_new_term(e, NULL, "last-exit", f->last_exit, 0, NULL))
        return -EINVAL;
    /* UTC, as ike_state.c writes times */
    if (f->last_start && gmtime_r(&f->last_start, &tm) && strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%SZ", &tm) &&
        lyd_new_term(e, NULL, "last-start", b, 0, NULL))
        return -EINVAL;
    return 0;
}

int super_state(struct super *s, struct lyd_node *mgmt)
{
    char b[24];

    if (!s || !mgmt)
        return -EINVAL;
    snprintf(b, sizeof(b), "%llu", (unsigned long long)s->refused);
    if (lyd_new_term(mgmt, NULL, "refused-connections", b, 0, NULL))
        return -EINVAL;
    for (int i = 0; i < s->n; i++) {
        int rc = fe_state(&s->fe[i], mgmt);

        if (rc)
            return rc;
    }
    return 0;
}

/* SIGTERM (and SIGCONT, for one stopped), up to STOP_WAIT for them all, then
 * SIGKILL; each reaped before return. */
static void stop_all(struct super *s)
{
    int64_t deadline = monotime_ms() + STOP_WAIT_MS;
    int left = 0;

    for (int i = 0; i < s->n; i++)
        if (s->fe[i].pid > 0) {
            fe_signal(s, s->fe[i].pid, SIGTERM);
            fe_signal(s, s->fe[i].pid, SIGCONT);
            left++;
        }
    while (left && monotime_ms() < deadline) {
        left = 0;
        for (int i = 0; i < s->n; i++) {
            struct fe *f = &s->fe[i];

            if (f->pid > 0 && waitpid(f->pid, NULL, WNOHANG) == f->pid)
                f->pid = 0;
            left += f->pid > 0;
        }
        if (left)
            nanosleep(&(struct timespec){.tv_nsec = 10 * 1000000}, NULL);
    }
    for (int i = 0; i < s->n; i++) {
        struct fe *f = &s->fe[i];

        if (f->pid <= 0)
            continue;
        log_warn("mgmt", "front end %s (pid %d) did not stop within 2 s: killing it", f->name, (int)f->pid);
        fe_signal(s, f->pid, SIGKILL);
        while (waitpid(f->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        f->pid = 0;
    }
}

void super_free(struct super *s)
{
    if (!s)
        return;
    stop_all(s);
    for (int i = 0; i < s->n; i++) {
        struct fe *f = &s->fe[i];

        f->state = FE_STOPPED;
        if (f->ev_restart)
            event_free(f->ev_restart);
        if (f->ev_closed)
            event_free(f->ev_closed);
        for (size_t j = 0; f->argv && f->argv[j]; j++)
            free(f->argv[j]);
        free(f->argv);
        free(f->exe);
    }
    if (s->ev_chld)
        event_free(s->ev_chld);
    if (s->ev_tick)
        event_free(s->ev_tick);
    free(s);
}
