/* ravend: the Raven headend daemon. Builds the YANG context, the datastore and its
 * handler table, the management socket and the supervisor of the front ends
 * (raven-netconfd, raven-restd), and runs the control thread's event loop until
 * SIGTERM. Configuration changes only through the management APIs. */
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <getopt.h>
#include <limits.h>
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
#include "daemon/mgmt/mgmt_super.h"
#include "daemon/pki/pki_crl.h"
#include "dataplane/dp.h"
#include "daemon/ravend/ravend.h"
#include "daemon/base/poison.h"

#define NS "urn:raven:params:xml:ns:yang:raven-vpn"

/* Built-in default configuration: management on loopback only. */
static const char default_config[] =
    "<management xmlns=\"" NS "\">"
    "<netconf><endpoint><name>default</name><address>127.0.0.1</address><port>830</port></endpoint></netconf>"
    "<rest><endpoint><name>default</name><address>127.0.0.1</address><port>8443</port></endpoint></rest>"
    "</management>";

/* Everything main() builds, in the order it is built; stop() frees it in reverse. */
struct ravend {
    /* options */
    struct cfg_opts co;
    const char *yang_dir, *admin_key, *web_dir, *level;
    struct super_opts so;
    bool foreground;
    const char *arena_opt; /* --arena */
    bool fresh;            /* --fresh */
    unsigned crypto_threads; /* --crypto-threads */
    /* the session arena, and what this process found in it */
    struct ravend_daemon dmn;
    /* the control thread */
    struct ly_ctx *ctx;
    struct event_base *base;
    struct ctlq *q;
    struct event *confirm_timer;
    struct cfg *cfg;
    /* management */
    char sock[MGMT_SOCK_NAME_MAX];
    int mfd;
    struct mgmt *mgmt;
    struct super *sup;
    struct ravend_stage stage;
    struct ravend_apis apis;
    /* the VPN */
    struct dp *dp;
    struct ike_engine *ike;
    struct aaa *aaa;
    struct pki_crl *crl;
    struct event *sigs[3];
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
            "  -u, --frontend-user NAME  user of the management front ends [raven, else nobody]\n"
            "  -a, --arena PATH      the session arena, on tmpfs: established sessions survive a restart\n"
            "                        of ravend (SIGTERM and kill -9 alike); \"none\": they end when it\n"
            "                        stops [/run/raven/arena, else /dev/shm/raven/arena]\n"
            "      --fresh           end (DELETE, accounting Stop) the sessions found in the arena\n"
            "      --crypto-threads N  threads computing IKE_SA_INIT's Diffie-Hellman and keys, and the\n"
            "                        headend's AUTH signature; 0: on the control thread\n"
            "                        [one per usable CPU, at most %u]\n"
            "  -V, --version         print the version\n"
            "  -h, --help            this text\n"
            "\n"
            "Environment:\n"
            "  RAVEN_IPSEC_MB=off    (a test hook) ESP crypto as on a CPU without intel-ipsec-mb:\n"
            "                        crypto-backend auto is OpenSSL, ipsec-mb is not usable\n"
            "  RAVEN_SCOPED_VALIDATION=0  validate every commit against the whole configuration\n"
            "                        (scoped validation off)\n"
            "  RAVEN_XDP_OBJECT=PATH the XDP program loaded on the dataplane's interfaces\n",
            RAVEN_YANG_DIR, RAVEN_WEB_DIR, IKE_CRYPTO_THREADS_MAX);
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

/* A front end's program: beside ravend's own (an installed tree), else where the
 * build tree made it; NULL if neither exists. */
static char *frontend_exe(const char *name, const char *built)
{
    char self[PATH_MAX], *slash, *p = NULL;
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

    if (n > 0) {
        self[n] = '\0';
        slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            if (asprintf(&p, "%s/%s", self, name) < 0)
                p = NULL;
            if (p && access(p, X_OK) == 0)
                return p;
            free(p);
        }
    }
    return built[0] && access(built, X_OK) == 0 ? strdup(built) : NULL;
}

/* Registers raven-netconfd and raven-restd with the supervisor; @st gets the
 * paths they run from (copies when their user cannot reach the originals). */
static int frontends_add(struct super *sup, struct ravend_stage *st, const char *sock, const char *yang_dir,
                         const char *web_dir, const char *level)
{
    static const struct {
        const char *kind, *prog, *built;
    } fes[] = {{"netconf", "raven-netconfd", RAVEN_NETCONFD_BUILT}, {"rest", "raven-restd", RAVEN_RESTD_BUILT}};
    int rc;

    for (size_t i = 0; i < sizeof(fes) / sizeof(fes[0]); i++) {
        st->path[RAVEN_STAGE_NETCONFD + i] = frontend_exe(fes[i].prog, fes[i].built);
        if (!st->path[RAVEN_STAGE_NETCONFD + i])
            log_err("ravend", "cannot find %s beside ravend nor in the build tree: its API is not served",
                    fes[i].prog);
    }
    st->path[RAVEN_STAGE_YANG] = strdup(yang_dir);
    st->path[RAVEN_STAGE_WEB] = web_dir ? strdup(web_dir) : NULL;
    if (!st->path[RAVEN_STAGE_YANG] || (web_dir && !st->path[RAVEN_STAGE_WEB]))
        return -ENOMEM;
    rc = ravend_stage(st, super_uid(sup), super_gid(sup));
    if (rc)
        return rc;
    for (size_t i = 0; i < sizeof(fes) / sizeof(fes[0]); i++) {
        char *argv[] = {(char *)fes[i].prog, "--mgmt", (char *)sock, "--yang-dir", st->path[RAVEN_STAGE_YANG],
                        "--log-level", (char *)level, "--web-dir", st->path[RAVEN_STAGE_WEB], NULL};

        if (!st->path[RAVEN_STAGE_NETCONFD + i])
            continue;
        if (strcmp(fes[i].kind, "rest") || !argv[8])
            argv[7] = NULL; /* --web-dir is raven-restd's only */
        rc = super_add(sup, fes[i].kind, st->path[RAVEN_STAGE_NETCONFD + i], argv);
        if (rc < 0)
            return rc;
    }
    return 0;
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

/* Options into @d. Returns -1 to go on, else the exit status. */
static int parse_options(struct ravend *d, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"state-dir", required_argument, NULL, 'd'}, {"config", required_argument, NULL, 'c'},
        {"admin-key", required_argument, NULL, 'k'}, {"foreground", no_argument, NULL, 'f'},
        {"log-level", required_argument, NULL, 'l'}, {"yang-dir", required_argument, NULL, 'y'},
        {"web-dir", required_argument, NULL, 'w'},
        {"frontend-user", required_argument, NULL, 'u'},
        {"arena", required_argument, NULL, 'a'},     {"fresh", no_argument, NULL, 'F'},
        {"crypto-threads", required_argument, NULL, 'T'},
        {"version", no_argument, NULL, 'V'},         {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    enum log_level lvl;
    int opt;

    while ((opt = getopt_long(argc, argv, "d:c:k:fl:y:w:u:a:Vh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'd':
            d->co.state_dir = optarg;
            break;
        case 'c':
            d->co.initial_file = optarg;
            break;
        case 'k':
            d->admin_key = optarg;
            break;
        case 'f':
            d->foreground = true;
            break;
        case 'l':
            if (!log_level_parse(optarg, &lvl)) {
                fprintf(stderr, "ravend: unknown log level \"%s\"\n", optarg);
                return 2;
            }
            log_set_level(lvl);
            d->level = optarg;
            break;
        case 'y':
            d->yang_dir = optarg;
            break;
        case 'w':
            d->web_dir = optarg;
            break;
        case 'u':
            d->so.user = optarg;
            break;
        case 'a':
            d->arena_opt = optarg;
            break;
        case 'F':
            d->fresh = true;
            break;
        case 'T': {
            char *end;
            unsigned long n = strtoul(optarg, &end, 10);

            if (!*optarg || *end || optarg[0] == '-' || n > IKE_CRYPTO_THREADS_MAX) {
                fprintf(stderr, "ravend: --crypto-threads wants 0 to %u, not \"%s\"\n", IKE_CRYPTO_THREADS_MAX,
                        optarg);
                return 2;
            }
            d->crypto_threads = (unsigned)n;
            break;
        }
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
    return -1;
}

/* The state directory, the session arena, the YANG context, the event loop with
 * its control queue, the datastore and its confirmed-commit timer. */
static int start_control(struct ravend *d)
{
    if (fs_mkdir_p(d->co.state_dir, 0700)) {
        log_err("ravend", "cannot create state directory %s: %s", d->co.state_dir, strerror(errno));
        return -1;
    }
    if (ravend_arena_open(&d->dmn, d->arena_opt, d->co.state_dir))
        return -1;
    d->ctx = cfg_yang_ctx(d->yang_dir, RAVEN_IETF_YANG_DIR);
    if (!d->ctx)
        return -1;
    d->base = event_base_new();
    d->q = d->base ? ctlq_new(d->base) : NULL;
    d->cfg = cfg_new(d->ctx, &d->co);
    if (!d->q || !d->cfg)
        return -1;
    d->confirm_timer = evtimer_new(d->base, on_confirm_timer, d);
    cfg_set_timer(d->cfg, arm_confirm_timer, d);
    return 0;
}

/* ravend's side of the management socket and the front ends' supervisor, with
 * the front ends registered (not started yet). */
static int start_management(struct ravend *d)
{
    struct mgmt_opts mo = {.state_dir = d->co.state_dir};

    d->mgmt = mgmt_new(d->base, d->cfg, &mo,
                       &(struct mgmt_hooks){.state = ravend_vpn_state, .rpc = ravend_vpn_rpc, .arg = &d->apis});
    d->sup = d->mgmt ? super_new(d->base, &d->so, &(struct super_ops){.ping = mgmt_ping, .arg = d->mgmt}) : NULL;
    if (!d->sup)
        return -1;
    mgmt_set_super(d->mgmt, d->sup);
    if (frontends_add(d->sup, &d->stage, d->sock, d->yang_dir, d->web_dir, d->level))
        return -1;
    d->apis = (struct ravend_apis){.ctx = d->ctx, .mgmt = d->mgmt, .cfg = d->cfg, .daemon = &d->dmn};
    cfg_set_notify(d->cfg, ravend_config_changed, &d->apis);
    cfg_set_reaper(d->cfg, reap_tree, d->q);
    return 0;
}

/* cfg_start(): running loaded, not yet applied. The ESP crypto backend it
 * configures, then the sessions of the previous process back in the dataplane
 * (and their kernel routes) with it, before the configuration applies its
 * interfaces. */
static void on_running_loaded(const struct lyd_node *running, void *arg)
{
    struct ravend *d = arg;

    ravend_vpn_crypto_preset(running);
    ravend_arena_adopt_begin(&d->dmn, d->ike);
}

/* The dataplane, the IKEv2 engine, the AAA service and the CRL fetcher, wired to
 * each other, and every configuration handler registered. */
static int start_vpn(struct ravend *d)
{
    int err;

    d->dp = dp_new();
    d->ike = d->dp ? ike_engine_new(d->base, d->ctx, d->dp) : NULL;
    d->aaa = d->ike ? aaa_new(d->base) : NULL;
    if (!d->aaa)
        return -1;
    ike_engine_set_event(d->ike, ravend_vpn_event, &d->apis);
    ike_engine_set_event_wanted(d->ike, ravend_vpn_event_wanted);
    ike_engine_set_event_xml(d->ike, ravend_vpn_event_xml);
    err = ike_engine_set_crypto_threads(d->ike, d->crypto_threads);
    if (err) /* then the control thread computes IKE_SA_INIT (e->pool stays NULL) */
        log_warn("ravend", "cannot start the crypto threads (%s): IKE_SA_INIT is computed inline", strerror(-err));
    err = ike_engine_routes_start(d->ike);
    if (err)
        log_warn("ravend", "sessions' routes will not reach the kernel: no rtnetlink socket: %s", strerror(-err));
    ike_engine_set_aaa(d->ike, d->aaa);
    ike_engine_set_arena(d->ike, d->dmn.arena);
    d->crl = pki_crl_new(d->base);
    if (!d->crl)
        log_warn("ravend", "CRL fetching unavailable (libcurl did not start): only configured CRLs are checked");
    ike_engine_set_crl(d->ike, d->crl);
    /* the sessions of the previous process go back in the dataplane once running
     * is loaded (on_running_loaded) */
    cfg_set_loaded(d->cfg, on_running_loaded, d);
    if (ravend_handlers_register(d->cfg, d->mgmt) || ravend_vpn_register(d->cfg, d->ike, d->aaa, d->dp) ||
        ravend_cluster_register(d->cfg, d->ctx, d->base, d->ike) ||
        ravend_alarm_start(d->base, &d->apis, d->dp, d->ike))
        return -1;
    return 0;
}

/* Every configuration node has a handler; running loaded (and applied); the
 * sessions of the previous process taken over; an admin exists. */
static int load_config(struct ravend *d)
{
    struct cfg_errs errs = {0};
    int rc = -1;

    if (cfg_handlers_check(d->cfg, "raven-", &errs)) {
        print_errs("refusing to start: configuration nodes without a handler", &errs);
        goto out;
    }
    if (cfg_start(d->cfg, &errs)) {
        print_errs("refusing to start: the configuration cannot be loaded", &errs);
        goto out;
    }
    ravend_arena_adopt(&d->dmn, d->ike, cfg_running_digest(d->cfg), d->fresh);
    if (ravend_admin_ensure(d->cfg, d->admin_key))
        goto out;
    rc = 0;
out:
    cfg_errs_clear(&errs);
    return rc;
}

/* Signals, the management socket served, the front ends started: the loop runs
 * until SIGTERM or SIGINT. */
static int serve(struct ravend *d)
{
    static const int signums[3] = {SIGTERM, SIGINT, SIGHUP};
    int rc;

    for (int i = 0; i < 3; i++) {
        d->sigs[i] = evsignal_new(d->base, signums[i], on_signal, d);
        if (!d->sigs[i] || event_add(d->sigs[i], NULL))
            return -1;
    }
    rc = mgmt_start(d->mgmt, d->mfd);
    d->mfd = -1;
    if (rc)
        return -1;
    super_start(d->sup); /* a front end that cannot start is logged and tried again */
    ravend_print_endpoints(d->cfg);
    printf("ravend: ready (state directory %s)\n", d->co.state_dir);
    fflush(stdout);
    event_base_dispatch(d->base);
    return 0;
}

/* Frees what was built, whatever the step that failed. */
static void stop(struct ravend *d)
{
    /* close the front ends' connections (their sessions end: a confirmed commit
     * may roll back, and the other front end still hears of it), stop them, then
     * free */
    if (d->q)
        ctlq_shutdown(d->q);
    ravend_alarm_stop(); /* what stopping clears is no alarm */
    mgmt_free(d->mgmt);
    d->apis.mgmt = NULL; /* the engine's last events go nowhere */
    super_free(d->sup);
    ravend_stage_clear(&d->stage); /* the front ends are gone */
    if (d->q)
        ctlq_drain(d->q);
    if (d->cfg)
        cfg_set_notify(d->cfg, NULL, NULL);
    /* with a session arena the sessions stay for the next process (no DELETE, the
     * XDP programs stay attached); without, they end with a DELETE to each peer,
     * while the event loop still exists */
    if (d->ike && d->dmn.arena) {
        ike_engine_keep_sessions(d->ike);
        dp_keep_programs(d->dp, true);
    }
    ravend_cluster_free(); /* its lease expires: the sessions stay with the arena */
    ike_engine_free(d->ike);
    pki_crl_free(d->crl); /* after the engine, its listener */
    aaa_free(d->aaa); /* after the sessions: their Stop records are sent */
    dp_free(d->dp);
    for (int i = 0; i < 3; i++) {
        if (d->sigs[i])
            event_free(d->sigs[i]);
    }
    if (d->confirm_timer)
        event_free(d->confirm_timer);
    cfg_free(d->cfg);
    ravend_arena_close(&d->dmn); /* after the dataplane: its workers wrote to it */
    ctlq_free(d->q);
    if (d->base)
        event_base_free(d->base);
    if (d->ctx)
        ly_ctx_destroy(d->ctx);
    if (d->mfd >= 0)
        close(d->mfd);
}

int main(int argc, char **argv)
{
    struct ravend d = {
        .co = {.state_dir = "/var/lib/raven", .default_xml = default_config},
        .yang_dir = RAVEN_YANG_DIR,
        .web_dir = RAVEN_WEB_DIR,
        .level = "info",
        .mfd = -1,
        .crypto_threads = IKE_CRYPTO_THREADS_AUTO,
    };
    int rc = parse_options(&d, argc, argv);

    if (rc >= 0)
        return rc;
    if (!d.foreground && detach()) {
        fprintf(stderr, "ravend: cannot detach: %s\n", strerror(errno));
        return 1;
    }
    d.mfd = mgmt_socket_open(d.sock);
    if (d.mfd < 0)
        return 1;
    /* before any thread exists: threads keep the capabilities they started with */
    if (ravend_privs_drop()) {
        close(d.mfd);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    evthread_use_pthreads();

    rc = start_control(&d) || start_management(&d) || start_vpn(&d) || load_config(&d) || serve(&d) ? 1 : 0;
    if (rc)
        log_err("ravend", "start failed");
    stop(&d);
    log_info("ravend", "stopped");
    return rc;
}
