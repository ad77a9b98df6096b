/* The front ends' supervisor (daemon/mgmt/mgmt_super.c) with /bin/sh and /bin/sleep
 * standing in for the front ends: a process that ends is started again, one that
 * keeps failing waits longer each time, only a spawned child's pid and user pass
 * super_peer, privileges are dropped (when the test runs as root), and super_free
 * leaves no child behind, even one that ignores SIGTERM. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <libyang/libyang.h>

#include "daemon/mgmt/mgmt_super.h"

struct fx {
    struct event_base *base;
    struct super *s;
    struct ly_ctx *ctx;
    uint32_t pings;
    uint32_t last_seq;
    char tmp[64];
};

static void on_ping(int idx, uint32_t seq, void *arg)
{
    struct fx *f = arg;

    f->pings++;
    f->last_seq = seq;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->base = event_base_new();
    assert_non_null(f->base);
    f->s = super_new(f->base, &(struct super_opts){0}, &(struct super_ops){.ping = on_ping, .arg = f});
    assert_non_null(f->s);
    assert_int_equal(ly_ctx_new(RAVEN_YANG_DIR ":" RAVEN_IETF_YANG_DIR, 0, &f->ctx), LY_SUCCESS);
    assert_non_null(ly_ctx_load_module(f->ctx, "raven-vpn", NULL, NULL));
    snprintf(f->tmp, sizeof(f->tmp), "/tmp/test_mgmt_super.XXXXXX");
    assert_non_null(mkdtemp(f->tmp));
    /* the children may run as another user (nobody, when the test runs as root) */
    assert_int_equal(chmod(f->tmp, 0777), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char path[128];

    super_free(f->s);
    snprintf(path, sizeof(path), "%s/starts", f->tmp);
    unlink(path);
    rmdir(f->tmp);
    ly_ctx_destroy(f->ctx);
    event_base_free(f->base);
    free(f);
    return 0;
}

static void run_for(struct fx *f, long ms)
{
    event_base_loopexit(f->base, &(struct timeval){.tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000});
    event_base_dispatch(f->base);
}

/* The front end's entry of vpn-state/management, as super_state prints it. */
static char *entry(struct fx *f, const char *name, const char *leaf)
{
    struct lyd_node *st = NULL, *mgmt = NULL;
    struct ly_set *set = NULL;
    char xp[128], *v = NULL;

    assert_int_equal(lyd_new_inner(NULL, ly_ctx_get_module_implemented(f->ctx, "raven-vpn"), "vpn-state", 0, &st), 0);
    assert_int_equal(lyd_new_inner(st, NULL, "management", 0, &mgmt), 0);
    assert_int_equal(super_state(f->s, mgmt), 0);
    assert_int_equal(lyd_validate_module(&st, ly_ctx_get_module_implemented(f->ctx, "raven-vpn"), 0, NULL),
                     LY_SUCCESS);
    if (name)
        snprintf(xp, sizeof(xp), "front-end[name='%s']/%s", name, leaf);
    else
        snprintf(xp, sizeof(xp), "%s", leaf);
    assert_int_equal(lyd_find_xpath(mgmt, xp, &set), LY_SUCCESS);
    if (set->count)
        v = strdup(lyd_get_value(set->dnodes[0]));
    ly_set_free(set, NULL);
    lyd_free_all(st);
    return v;
}

static long entry_num(struct fx *f, const char *name, const char *leaf)
{
    char *v = entry(f, name, leaf);
    long n = v ? strtol(v, NULL, 10) : -1;

    free(v);
    return n;
}

static void assert_entry(struct fx *f, const char *name, const char *leaf, const char *want)
{
    char *v = entry(f, name, leaf);

    assert_non_null(v);
    assert_string_equal(v, want);
    free(v);
}

static int add_sleeper(struct fx *f, const char *name)
{
    char *const argv[] = {"sleep", "30", NULL};

    return super_add(f->s, name, "/bin/sleep", argv);
}

/* A front end killed from outside is started again at once, with the reason
 * recorded and the restart counted; a connected one is pinged. */
static void test_exit_restarts(void **state)
{
    struct fx *f = *state;
    long pid, pid2;

    assert_int_equal(add_sleeper(f, "rest"), 0);
    assert_entry(f, "rest", "state", "stopped");
    assert_int_equal(super_start(f->s), 0);
    assert_string_equal(super_name(f->s, 0), "rest");
    assert_entry(f, "rest", "state", "starting");
    pid = entry_num(f, "rest", "pid");
    assert_true(pid > 0);
    {
        char *t = entry(f, "rest", "last-start");

        assert_non_null(t);
        free(t);
    }

    super_connected(f->s, 0);
    assert_entry(f, "rest", "state", "running");
    super_seen(f->s, 0);
    run_for(f, 600);
    assert_true(f->pings >= 1);
    assert_int_equal(f->last_seq, f->pings);

    /* its connection closes as it dies (before it can be reaped): the reason is
     * its own end, not the closed connection */
    assert_int_equal(kill((pid_t)pid, SIGKILL), 0);
    super_disconnected(f->s, 0);
    run_for(f, 200);
    pid2 = entry_num(f, "rest", "pid");
    assert_true(pid2 > 0 && pid2 != pid);
    assert_entry(f, "rest", "state", "starting");
    assert_int_equal(entry_num(f, "rest", "restarts"), 1);
    assert_entry(f, "rest", "last-exit", "killed by signal 9");
    /* the old process is reaped, not left a zombie */
    assert_int_equal(kill((pid_t)pid, 0), -1);
    assert_int_equal(errno, ESRCH);

    /* a closed connection kills it (after 100 ms), with that reason; failing
     * again so soon after its start, it waits 250 ms before the next start */
    super_connected(f->s, 0);
    super_disconnected(f->s, 0);
    run_for(f, 50);
    assert_int_equal(entry_num(f, "rest", "pid"), pid2);
    run_for(f, 150);
    assert_entry(f, "rest", "state", "backoff");
    assert_null(entry(f, "rest", "pid"));
    run_for(f, 250);
    assert_int_equal(entry_num(f, "rest", "restarts"), 2);
    assert_entry(f, "rest", "last-exit", "connection closed");
    assert_true(entry_num(f, "rest", "pid") != pid2);
}

/* A front end that fails at once every time: the first restart is immediate, the
 * next ones wait 250 ms, then 500 ms (the starts are stamped in a file). */
static void test_crash_loop_backs_off(void **state)
{
    struct fx *f = *state;
    char script[256], path[128], line[64];
    long long t[8];
    int n = 0;
    FILE *fp;

    snprintf(path, sizeof(path), "%s/starts", f->tmp);
    snprintf(script, sizeof(script), "date +%%s%%N >> %s; exit 3", path);
    char *const argv[] = {"sh", "-c", script, NULL};
    assert_int_equal(super_add(f->s, "netconf", "/bin/sh", argv), 0);
    assert_int_equal(super_start(f->s), 0);
    run_for(f, 1000);
    assert_entry(f, "netconf", "state", "backoff");
    assert_entry(f, "netconf", "last-exit", "exited with status 3");
    assert_null(entry(f, "netconf", "pid"));

    fp = fopen(path, "r");
    assert_non_null(fp);
    while (n < 8 && fgets(line, sizeof(line), fp))
        t[n++] = strtoll(line, NULL, 10) / 1000000;
    fclose(fp);
    /* starts at about 0, 0, 250 and 750 ms */
    assert_int_equal(n, 4);
    assert_int_equal(entry_num(f, "netconf", "restarts"), 3);
    assert_true(t[1] - t[0] < 200);
    assert_true(t[2] - t[1] >= 240 && t[2] - t[1] < 450);
    assert_true(t[3] - t[2] >= 490 && t[3] - t[2] < 750);
}

/* Only a spawned, not yet connected child, with its pid and the front-end user,
 * is a peer; a program that cannot be run is reported by super_start. */
static void test_peer_and_privileges(void **state)
{
    struct fx *f = *state;
    char *const bad[] = {"nope", NULL};
    char path[64], line[256];
    long pid;
    FILE *fp;

    assert_int_equal(add_sleeper(f, "rest"), 0);
    assert_int_equal(super_add(f->s, "netconf", "/nonexistent/raven-netconfd", bad), 1);
    assert_int_equal(super_start(f->s), -ENOENT);
    pid = entry_num(f, "rest", "pid");
    assert_true(pid > 0);

    assert_int_equal(super_peer(f->s, (pid_t)pid, super_uid(f->s)), 0);
    assert_int_equal(super_peer(f->s, (pid_t)pid, super_uid(f->s) + 1), -1);
    assert_int_equal(super_peer(f->s, getpid(), super_uid(f->s)), -1);
    assert_int_equal(super_peer(f->s, (pid_t)pid + 100000, super_uid(f->s)), -1);
    super_connected(f->s, 0);
    assert_int_equal(super_peer(f->s, (pid_t)pid, super_uid(f->s)), -1);

    run_for(f, 100);
    {
        char *why = entry(f, "netconf", "last-exit");

        assert_non_null(why);
        assert_non_null(strstr(why, "could not start: exec: No such file or directory"));
        free(why);
    }

    /* what the child runs with */
    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    fp = fopen(path, "r");
    assert_non_null(fp);
    while (fgets(line, sizeof(line), fp)) {
        unsigned r, e, sv, fs;

        if (sscanf(line, "Uid:\t%u\t%u\t%u\t%u", &r, &e, &sv, &fs) == 4) {
            assert_int_equal(r, super_uid(f->s));
            assert_int_equal(e, super_uid(f->s));
            assert_int_equal(sv, super_uid(f->s));
            if (geteuid() == 0)
                assert_int_not_equal(e, 0);
        } else if (!strncmp(line, "CapEff:", 7) || !strncmp(line, "CapPrm:", 7) || !strncmp(line, "CapAmb:", 7) ||
                   !strncmp(line, "CapInh:", 7) || (geteuid() == 0 && !strncmp(line, "CapBnd:", 7))) {
            assert_int_equal(strtoull(line + 8, NULL, 16), 0);
        } else if (!strncmp(line, "NoNewPrivs:", 11)) {
            assert_int_equal(atoi(line + 12), 1);
        } else if (geteuid() == 0 && !strncmp(line, "Groups:", 7)) {
            assert_true(strspn(line + 7, " \t\n") == strlen(line + 7)); /* no supplementary group */
        }
    }
    fclose(fp);
}

/* super_free stops a child that ignores SIGTERM too (after 2 s) and reaps it. */
static void test_free_kills_and_reaps(void **state)
{
    struct fx *f = *state;
    char *const stubborn[] = {"sh", "-c", "trap '' TERM; exec sleep 30", NULL};
    long p0, p1;

    assert_int_equal(add_sleeper(f, "rest"), 0);
    assert_int_equal(super_add(f->s, "netconf", "/bin/sh", stubborn), 1);
    assert_int_equal(super_start(f->s), 0);
    run_for(f, 100); /* the shell sets its trap */
    p0 = entry_num(f, "rest", "pid");
    p1 = entry_num(f, "netconf", "pid");
    assert_true(p0 > 0 && p1 > 0);
    super_free(f->s);
    f->s = NULL;
    assert_int_equal(kill((pid_t)p0, 0), -1);
    assert_int_equal(kill((pid_t)p1, 0), -1);
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exit_restarts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_loop_backs_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_and_privileges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_kills_and_reaps, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
