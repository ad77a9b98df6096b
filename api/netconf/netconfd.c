/* raven-netconfd: the NETCONF front end as a process of its own. ravend starts it
 * unprivileged (no capabilities) with --mgmt; it reaches the datastore, the logins
 * and the daemon's state only through that management socket, and serves the
 * listening sockets ravend hands it. A crash here (libyang parses every RPC) costs
 * the NETCONF sessions only: ravend starts a new one. */
#include <errno.h>
#include <getopt.h>
#include <libnetconf2/log.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/mgmt/mc.h"
#include "api/netconf/nc_api.h"
#include "daemon/base/log.h"
#include "daemon/config/cfg.h"
#include "daemon/base/poison.h"

/* how long the threads get to finish at exit (a client may stall in its SSH
 * handshake, which libnetconf2 runs on the accept thread) */
#define NETCONFD_STOP_MS 2000

static void usage(FILE *f)
{
    fprintf(f,
            "usage: raven-netconfd --mgmt PATH [options]\n"
            "  -m, --mgmt PATH       ravend's management socket (\"@name\": abstract namespace)\n"
            "  -y, --yang-dir DIR    directory of the raven YANG modules [%s]\n"
            "  -l, --log-level LVL   error | warning | info | debug [info]\n"
            "  -V, --version         print the version\n"
            "  -h, --help            this text\n"
            "ravend starts and supervises this process; it is not meant to be run by hand.\n",
            RAVEN_YANG_DIR);
}

static void nc_log(NC_VERB_LEVEL level, const char *msg)
{
    if (level == NC_VERB_ERROR)
        log_warn("netconf", "%s", msg);
    else
        log_debug("netconf", "%s", msg);
}

static void on_listen(struct mc_listen *l, void *arg)
{
    nc_api_listen(arg, l);
}

static void on_notification(struct lyd_node *notif, const char *time, uint64_t id, uint32_t replay, char **deny,
                            void *arg)
{
    nc_api_notify(arg, notif, time, id, replay, deny);
}

static void on_replay_end(uint32_t replay, uint64_t last_id, void *arg)
{
    (void)last_id; /* every later notification is live */
    nc_api_replay_end(arg, replay);
}

/* Wakes main's sigwait: the hooks run on the client's reader thread. */
static void on_lost(void *arg)
{
    kill(getpid(), SIGUSR1);
}

/* Until SIGTERM or SIGINT (0), or the connection to ravend is lost (SIGUSR1). */
static int serve(const sigset_t *set, const char *mgmt)
{
    for (;;) {
        int sig = 0;

        if (sigwait(set, &sig))
            continue;
        if (sig == SIGHUP) {
            log_info("netconf", "SIGHUP ignored: the configuration comes from ravend");
            continue;
        }
        if (sig == SIGUSR1) {
            log_info("netconf", "the connection to ravend (%s) is lost: exiting, ravend starts a new front end", mgmt);
            return 0;
        }
        log_info("netconf", "signal %d: shutting down", sig);
        return 0;
    }
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"mgmt", required_argument, NULL, 'm'},      {"yang-dir", required_argument, NULL, 'y'},
        {"log-level", required_argument, NULL, 'l'}, {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},            {NULL, 0, NULL, 0}};
    const char *mgmt = NULL, *yang_dir = RAVEN_YANG_DIR;
    struct mc_hooks hooks = {.listen = on_listen, .notification = on_notification, .replay_end = on_replay_end, .lost = on_lost};
    struct ly_ctx *ctx = NULL;
    struct nc_api *api = NULL;
    struct mc *mc = NULL;
    enum log_level lvl;
    sigset_t set;
    int opt, rc = 1;

    while ((opt = getopt_long(argc, argv, "m:y:l:Vh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'm':
            mgmt = optarg;
            break;
        case 'y':
            yang_dir = optarg;
            break;
        case 'l':
            if (!log_level_parse(optarg, &lvl)) {
                fprintf(stderr, "raven-netconfd: unknown log level \"%s\"\n", optarg);
                return 2;
            }
            log_set_level(lvl);
            break;
        case 'V':
            printf("raven-netconfd %s\n", RAVEN_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "raven-netconfd: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (!mgmt) {
        fprintf(stderr, "raven-netconfd: --mgmt PATH is required: the management socket of the ravend that "
                        "starts this process\n");
        usage(stderr);
        return 2;
    }
    /* before any thread exists, so that every thread blocks them and main takes
     * them with sigwait */
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    nc_verbosity(log_get_level() >= LOG_LVL_DEBUG ? NC_VERB_VERBOSE : NC_VERB_ERROR);
    nc_set_print_clb(nc_log); /* also libyang's logger: cfg_yang_ctx replaces it */

    ctx = cfg_yang_ctx(yang_dir, RAVEN_IETF_YANG_DIR);
    if (!ctx) {
        log_err("netconf", "cannot build the YANG context from %s and %s", yang_dir, RAVEN_IETF_YANG_DIR);
        goto out;
    }
    api = nc_api_new(ctx);
    if (!api)
        goto out;
    /* libnetconf2 installs its own libyang logger; clients' invalid data is not
     * this process's warning: it goes back to them as rpc-errors */
    cfg_yang_log();
    hooks.arg = api;
    mc = mc_connect(mgmt, "netconf", ctx, &hooks);
    if (!mc) {
        log_err("netconf", "cannot reach ravend at %s: %s", mgmt, strerror(errno));
        goto out;
    }
    nc_api_set_mc(api, mc);
    if (nc_api_start(api)) {
        log_err("netconf", "cannot start the server threads");
        goto out;
    }
    log_info("netconf", "serving NETCONF for ravend at %s", mgmt);
    rc = serve(&set, mgmt);
out:
    if (nc_api_stop(api, NETCONFD_STOP_MS)) {
        /* a thread is stuck in a client's handshake: nothing is left to save */
        log_warn("netconf", "server threads did not stop within %d ms; exiting without cleanup", NETCONFD_STOP_MS);
        _exit(rc);
    }
    mc_free(mc); /* no hook runs after it */
    nc_api_free(api);
    if (ctx)
        ly_ctx_destroy(ctx);
    return rc;
}
