/* raven-restd: the REST front end as a process of its own. ravend starts it with
 * --mgmt (its management socket), unprivileged and without capabilities; it parses
 * every byte of HTTP, JSON and XML its clients send, and reaches the datastore,
 * the daemon's state and the users only through that socket (api/README.md). When
 * the connection is lost it exits at once, and ravend starts a new one. */
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "api/mgmt/mc.h"
#include "api/rest/rest_api.h"
#include "daemon/base/log.h"
#include "daemon/config/cfg.h"
#include "daemon/base/poison.h"

static struct event_base *loop_base;
static atomic_bool lost, stopping;

static void on_lost(void *arg)
{
    (void)arg;
    if (atomic_load(&stopping))
        return;
    atomic_store(&lost, true);
    log_err("rest", "the connection to ravend is lost: exiting");
    event_base_loopbreak(loop_base);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    (void)arg;
    log_info("rest", "signal %d: exiting", (int)sig);
    event_base_loopbreak(loop_base);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: raven-restd --mgmt PATH [--yang-dir DIR] [--web-dir DIR] [--log-level LEVEL]\n"
               "  --mgmt PATH       ravend's management socket (\"@name\": abstract namespace)\n"
               "  --yang-dir DIR    the raven YANG modules (default %s)\n"
               "  --web-dir DIR     the dashboard's files (default %s)\n"
               "  --log-level LVL   error, warning, info (default) or debug\n",
            RAVEN_YANG_DIR, RAVEN_WEB_DIR);
}

struct restd_opts {
    const char *mgmt, *yang_dir, *web_dir;
};

/* 0, 1 (asked for help or the version: exit 0) or -1 (bad usage, said). */
static int parse_args(int argc, char **argv, struct restd_opts *o)
{
    static const struct option longopts[] = {
        {"mgmt", required_argument, NULL, 'm'},      {"yang-dir", required_argument, NULL, 'y'},
        {"web-dir", required_argument, NULL, 'w'},   {"log-level", required_argument, NULL, 'l'},
        {"version", no_argument, NULL, 'V'},         {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    enum log_level lvl;
    int c;

    while ((c = getopt_long(argc, argv, "m:y:w:l:Vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'm':
            o->mgmt = optarg;
            break;
        case 'y':
            o->yang_dir = optarg;
            break;
        case 'w':
            o->web_dir = *optarg ? optarg : NULL;
            break;
        case 'l':
            if (!log_level_parse(optarg, &lvl)) {
                fprintf(stderr, "raven-restd: bad log level \"%s\" (error, warning, info or debug)\n", optarg);
                return -1;
            }
            log_set_level(lvl);
            break;
        case 'V':
            printf("raven-restd %s\n", RAVEN_VERSION);
            return 1;
        case 'h':
            usage(stdout);
            return 1;
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "raven-restd: unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    if (!o->mgmt) {
        fprintf(stderr, "raven-restd: --mgmt PATH is required (ravend starts raven-restd with its management "
                        "socket)\n");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct restd_opts o = {.yang_dir = RAVEN_YANG_DIR, .web_dir = RAVEN_WEB_DIR};
    struct event *sigterm = NULL, *sigint = NULL;
    struct rest_api *api = NULL;
    struct ly_ctx *ctx = NULL;
    struct mc *mc = NULL;
    struct mc_hooks hooks;
    int rc = parse_args(argc, argv, &o), status = 1;

    if (rc)
        return rc > 0 ? 0 : 2;
    /* ravend sets these when it starts us; they also hold for a start by hand */
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    signal(SIGPIPE, SIG_IGN);
    if (geteuid() == 0)
        log_warn("rest", "running as root: ravend starts raven-restd as an unprivileged user");
    if (evthread_use_pthreads() || !(loop_base = event_base_new())) {
        log_err("rest", "cannot set up the event loop");
        return 1;
    }
    ctx = cfg_yang_ctx(o.yang_dir, RAVEN_IETF_YANG_DIR);
    api = ctx ? rest_api_new(ctx, loop_base, &(struct rest_opts){.web_dir = o.web_dir}) : NULL;
    if (!api) {
        log_err("rest", ctx ? "out of memory" : "cannot build the YANG context from %s", o.yang_dir);
        goto out;
    }
    hooks = rest_api_hooks(api);
    hooks.lost = on_lost;
    mc = mc_connect(o.mgmt, "rest", ctx, &hooks);
    if (!mc) {
        log_err("rest", "cannot reach ravend's management socket %s: %s", o.mgmt, strerror(errno));
        goto out;
    }
    rest_api_set_mc(api, mc);
    sigterm = evsignal_new(loop_base, SIGTERM, on_signal, NULL);
    sigint = evsignal_new(loop_base, SIGINT, on_signal, NULL);
    if (!sigterm || !sigint || event_add(sigterm, NULL) || event_add(sigint, NULL)) {
        log_err("rest", "cannot handle signals");
        goto out;
    }
    log_info("rest", "connected to ravend (%s)", o.mgmt);
    event_base_dispatch(loop_base);
    status = atomic_load(&lost) ? 1 : 0;
out:
    atomic_store(&stopping, true);
    /* requests in flight still need the client: serving stops first */
    rest_api_stop(api);
    mc_free(mc);
    rest_api_free(api);
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    event_base_free(loop_base);
    if (ctx)
        ly_ctx_destroy(ctx);
    return status;
}
