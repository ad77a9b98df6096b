/* ravend: the Raven headend daemon. Builds the YANG context, the datastore and its
 * handler table, the NETCONF server, and runs the control thread's event loop until
 * SIGTERM. Configuration changes only through the management APIs. */
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <getopt.h>
#include <libnetconf2/log.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/aaa/aaa.h"
#include "daemon/base/ctlq.h"
#include "daemon/base/fsutil.h"
#include "daemon/base/log.h"
#include "daemon/ike/ike_engine.h"
#include "daemon/pki/pki_crl.h"
#include "dataplane/dp.h"
#include "daemon/ravend.h"
#include "daemon/base/poison.h"

#define NS "urn:raven:params:xml:ns:yang:raven-vpn"

/* Built-in default configuration: management on loopback only. */
static const char default_config[] =
    "<management xmlns=\"" NS "\">"
    "<netconf><endpoint><name>default</name><address>127.0.0.1</address><port>830</port></endpoint></netconf>"
    "<rest><endpoint><name>default</name><address>127.0.0.1</address><port>8443</port></endpoint></rest>"
    "</management>";

struct ravend {
    struct event_base *base;
    struct event *confirm_timer;
    struct cfg *cfg;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ravend [options]\n"
            "  -d, --state-dir DIR   state directory (running configuration, keys) [/var/lib/raven]\n"
            "  -c, --config FILE     configuration (XML or JSON) that seeds running at first start\n"
            "                        [built-in default: NETCONF on 127.0.0.1:830, HTTPS on 127.0.0.1:8443]\n"
            "  -k, --admin-key FILE  OpenSSH public key for the admin user created at first start\n"
            "  -f, --foreground      do not detach\n"
            "  -l, --log-level LVL   error | warning | info | debug [info]\n"
            "  -y, --yang-dir DIR    directory of the raven YANG modules [%s]\n"
            "  -w, --web-dir DIR     the dashboard's files, served under /ui/ [%s]\n"
            "  -V, --version         print the version\n"
            "  -h, --help            this text\n",
            RAVEN_YANG_DIR, RAVEN_WEB_DIR);
}

static void ly_log(LY_LOG_LEVEL level, const char *msg, const char *path)
{
    if (level <= LY_LLWRN)
        log_debug("yang", "%s%s%s", msg, path ? " at " : "", path ? path : "");
}

static void nc_log(NC_VERB_LEVEL level, const char *msg)
{
    if (level == NC_VERB_ERROR)
        log_warn("netconf", "%s", msg);
    else
        log_debug("netconf", "%s", msg);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct ravend *d = arg;

    if (sig == SIGHUP) {
        log_info("ravend", "SIGHUP ignored: the configuration changes only through the management APIs");
        return;
    }
    log_info("ravend", "signal %d: shutting down", (int)sig);
    event_base_loopbreak(d->base);
}

static void on_confirm_timer(evutil_socket_t fd, short what, void *arg)
{
    cfg_confirm_timeout(((struct ravend *)arg)->cfg);
}

static void arm_confirm_timer(int64_t ms, void *arg)
{
    struct ravend *d = arg;
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

    if (ms < 0)
        evtimer_del(d->confirm_timer);
    else
        evtimer_add(d->confirm_timer, &tv);
}

static void free_tree_job(void *tree)
{
    lyd_free_siblings(tree);
}

/* Old configuration trees are freed after the reply to the commit has gone out. */
static void reap_tree(struct lyd_node *tree, void *arg)
{
    if (ctlq_post(arg, free_tree_job, tree))
        lyd_free_siblings(tree);
}

static void print_errs(const char *what, const struct cfg_errs *errs)
{
    fprintf(stderr, "ravend: %s\n", what);
    for (const struct cfg_err *e = errs->head; e; e = e->next)
        fprintf(stderr, "  %s%s%s\n", e->path ? e->path : "", e->path ? ": " : "", e->msg);
}

static struct ly_ctx *yang_context(const char *yang_dir)
{
    struct ly_ctx *ctx = NULL;
    char *dirs = NULL;

    if (asprintf(&dirs, "%s:%s", yang_dir, RAVEN_IETF_YANG_DIR) < 0)
        return NULL;
    if (ly_ctx_new(dirs, 0, &ctx)) {
        free(dirs);
        return NULL;
    }
    free(dirs);
    if (!ly_ctx_load_module(ctx, "raven-types", NULL, NULL) || !ly_ctx_load_module(ctx, "raven-vpn", NULL, NULL)) {
        log_err("ravend", "cannot load the raven YANG modules from %s", yang_dir);
        ly_ctx_destroy(ctx);
        return NULL;
    }
    return ctx;
}

static int detach(void)
{
    pid_t pid = fork();

    if (pid < 0)
        return -errno;
    if (pid > 0)
        _exit(0);
    if (setsid() < 0)
        return -errno;
    if (!freopen("/dev/null", "r", stdin))
        return -errno;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"state-dir", required_argument, NULL, 'd'}, {"config", required_argument, NULL, 'c'},
        {"admin-key", required_argument, NULL, 'k'}, {"foreground", no_argument, NULL, 'f'},
        {"log-level", required_argument, NULL, 'l'}, {"yang-dir", required_argument, NULL, 'y'},
        {"web-dir", required_argument, NULL, 'w'},
        {"version", no_argument, NULL, 'V'},         {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    struct cfg_opts co = {.state_dir = "/var/lib/raven", .default_xml = default_config};
    const char *yang_dir = RAVEN_YANG_DIR, *admin_key = NULL, *web_dir = RAVEN_WEB_DIR;
    struct ravend d = {0};
    struct ctlq *q = NULL;
    struct nc_api *nc = NULL;
    struct rest_api *rest = NULL;
    struct ravend_apis apis = {0};
    struct ike_engine *ike = NULL;
    struct aaa *aaa = NULL;
    struct pki_crl *crl = NULL;
    struct dp *dp = NULL;
    struct ly_ctx *ctx = NULL;
    struct cfg_errs errs = {0};
    struct event *sigs[3] = {0};
    const int signums[3] = {SIGTERM, SIGINT, SIGHUP};
    bool foreground = false;
    enum log_level lvl;
    int opt, rc = 1;

    while ((opt = getopt_long(argc, argv, "d:c:k:fl:y:w:Vh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'd':
            co.state_dir = optarg;
            break;
        case 'c':
            co.initial_file = optarg;
            break;
        case 'k':
            admin_key = optarg;
            break;
        case 'f':
            foreground = true;
            break;
        case 'l':
            if (!log_level_parse(optarg, &lvl)) {
                fprintf(stderr, "ravend: unknown log level \"%s\"\n", optarg);
                return 2;
            }
            log_set_level(lvl);
            break;
        case 'y':
            yang_dir = optarg;
            break;
        case 'w':
            web_dir = optarg;
            break;
        case 'V':
            printf("ravend %s\n", RAVEN_VERSION);
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
        fprintf(stderr, "ravend: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (!foreground && detach()) {
        fprintf(stderr, "ravend: cannot detach: %s\n", strerror(errno));
        return 1;
    }
    /* before any thread exists: threads keep the capabilities they started with */
    if (ravend_privs_drop())
        return 1;
    signal(SIGPIPE, SIG_IGN);
    ly_log_options(LY_LOLOG | LY_LOSTORE);
    ly_set_log_clb(ly_log, 1);
    nc_verbosity(log_get_level() >= LOG_LVL_DEBUG ? NC_VERB_VERBOSE : NC_VERB_ERROR);
    nc_set_print_clb(nc_log);
    evthread_use_pthreads();

    if (fs_mkdir_p(co.state_dir, 0700)) {
        log_err("ravend", "cannot create state directory %s: %s", co.state_dir, strerror(errno));
        goto out;
    }
    ctx = yang_context(yang_dir);
    if (!ctx)
        goto out;
    d.base = event_base_new();
    q = d.base ? ctlq_new(d.base) : NULL;
    d.cfg = cfg_new(ctx, &co);
    if (!q || !d.cfg)
        goto out;
    nc = nc_api_new(ctx, d.cfg, q, co.state_dir);
    if (!nc)
        goto out;
    /* libnetconf2 installs its own libyang logger; clients' invalid data is not
     * the daemon's warning: it goes back to them as rpc-errors */
    ly_set_log_clb(ly_log, 1);
    d.confirm_timer = evtimer_new(d.base, on_confirm_timer, &d);
    cfg_set_timer(d.cfg, arm_confirm_timer, &d);
    rest = rest_api_new(ctx, d.cfg, q, d.base, &(struct rest_opts){.state_dir = co.state_dir, .web_dir = web_dir});
    if (!rest)
        goto out;
    apis = (struct ravend_apis){.ctx = ctx, .nc = nc, .rest = rest};
    cfg_set_notify(d.cfg, ravend_config_changed, &apis);
    cfg_set_reaper(d.cfg, reap_tree, q);
    dp = dp_new();
    ike = dp ? ike_engine_new(d.base, ctx, dp) : NULL;
    aaa = ike ? aaa_new(d.base) : NULL;
    if (!aaa)
        goto out;
    ike_engine_set_event(ike, ravend_vpn_event, &apis);
    {
        int err = ike_engine_routes_start(ike);

        if (err)
            log_warn("ravend", "sessions' routes will not reach the kernel: no rtnetlink socket: %s", strerror(-err));
    }
    ike_engine_set_aaa(ike, aaa);
    crl = pki_crl_new(d.base);
    if (!crl)
        log_warn("ravend", "CRL fetching unavailable (libcurl did not start): only configured CRLs are checked");
    ike_engine_set_crl(ike, crl);
    nc_api_set_hooks(nc, ravend_vpn_state, ravend_vpn_rpc, NULL);
    rest_api_set_hooks(rest, ravend_vpn_state, ravend_vpn_rpc, NULL);
    if (ravend_handlers_register(d.cfg, nc, rest) || ravend_vpn_register(d.cfg, ike, aaa, dp))
        goto out;
    if (cfg_handlers_check(d.cfg, "raven-", &errs)) {
        print_errs("refusing to start: configuration nodes without a handler", &errs);
        goto out;
    }
    if (cfg_start(d.cfg, &errs)) {
        print_errs("refusing to start: the configuration cannot be loaded", &errs);
        goto out;
    }
    if (ravend_admin_ensure(d.cfg, admin_key))
        goto out;
    for (int i = 0; i < 3; i++) {
        sigs[i] = evsignal_new(d.base, signums[i], on_signal, &d);
        if (!sigs[i] || event_add(sigs[i], NULL))
            goto out;
    }
    if (nc_api_start(nc))
        goto out;
    ravend_print_endpoints(d.cfg);
    printf("ravend: ready (state directory %s)\n", co.state_dir);
    fflush(stdout);
    event_base_dispatch(d.base);
    rc = 0;
out:
    if (rc)
        log_err("ravend", "start failed");
    /* stop the front end, then run what its threads posted (a session's end may
     * roll back a confirmed commit, which still needs the front end's state),
     * then free */
    if (q)
        ctlq_shutdown(q);
    nc_api_stop(nc);
    /* REST requests now fail fast (the queue is shut); no event reaches it after */
    apis.rest = NULL;
    rest_api_free(rest);
    if (q)
        ctlq_drain(q);
    if (d.cfg)
        cfg_set_notify(d.cfg, NULL, NULL);
    /* sessions end with a DELETE to each peer, while the event loop still exists */
    ike_engine_free(ike);
    pki_crl_free(crl); /* after the engine, its listener */
    aaa_free(aaa); /* after the sessions: their Stop records are sent */
    dp_free(dp);
    nc_api_free(nc);
    for (int i = 0; i < 3; i++) {
        if (sigs[i])
            event_free(sigs[i]);
    }
    if (d.confirm_timer)
        event_free(d.confirm_timer);
    cfg_free(d.cfg);
    ctlq_free(q);
    if (d.base)
        event_base_free(d.base);
    if (ctx)
        ly_ctx_destroy(ctx);
    cfg_errs_clear(&errs);
    log_info("ravend", "stopped");
    return rc;
}
