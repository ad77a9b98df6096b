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
            "  -u, --frontend-user NAME  user of the management front ends [raven, else nobody]\n"
            "  -a, --arena PATH      the session arena, on tmpfs: established sessions survive a restart\n"
            "                        of ravend (SIGTERM and kill -9 alike); \"none\": they end when it\n"
            "                        stops [/run/raven/arena, else /dev/shm/raven/arena]\n"
            "      --fresh           end (DELETE, accounting Stop) the sessions found in the arena\n"
            "  -V, --version         print the version\n"
            "  -h, --help            this text\n",
            RAVEN_YANG_DIR, RAVEN_WEB_DIR);
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

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"state-dir", required_argument, NULL, 'd'}, {"config", required_argument, NULL, 'c'},
        {"admin-key", required_argument, NULL, 'k'}, {"foreground", no_argument, NULL, 'f'},
        {"log-level", required_argument, NULL, 'l'}, {"yang-dir", required_argument, NULL, 'y'},
        {"web-dir", required_argument, NULL, 'w'},
        {"frontend-user", required_argument, NULL, 'u'},
        {"arena", required_argument, NULL, 'a'},     {"fresh", no_argument, NULL, 'F'},
        {"version", no_argument, NULL, 'V'},         {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    struct cfg_opts co = {.state_dir = "/var/lib/raven", .default_xml = default_config};
    const char *yang_dir = RAVEN_YANG_DIR, *admin_key = NULL, *web_dir = RAVEN_WEB_DIR, *level = "info";
    const char *arena_opt = NULL;
    struct ravend_daemon dmn = {0};
    bool fresh = false;
    struct mgmt_opts mo = {0};
    char sock[MGMT_SOCK_NAME_MAX];
    struct ravend_stage stage = {0};
    struct super_opts so = {0};
    struct super *sup = NULL;
    struct mgmt *mgmt = NULL;
    struct ravend d = {0};
    struct ctlq *q = NULL;
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
    int opt, rc = 1, mfd = -1;

    while ((opt = getopt_long(argc, argv, "d:c:k:fl:y:w:u:a:Vh", longopts, NULL)) != -1) {
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
            level = optarg;
            break;
        case 'y':
            yang_dir = optarg;
            break;
        case 'w':
            web_dir = optarg;
            break;
        case 'u':
            so.user = optarg;
            break;
        case 'a':
            arena_opt = optarg;
            break;
        case 'F':
            fresh = true;
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
    mfd = mgmt_socket_open(sock);
    if (mfd < 0)
        return 1;
    /* before any thread exists: threads keep the capabilities they started with */
    if (ravend_privs_drop()) {
        close(mfd);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    evthread_use_pthreads();

    if (fs_mkdir_p(co.state_dir, 0700)) {
        log_err("ravend", "cannot create state directory %s: %s", co.state_dir, strerror(errno));
        goto out;
    }
    if (ravend_arena_open(&dmn, arena_opt, co.state_dir))
        goto out;
    ctx = cfg_yang_ctx(yang_dir, RAVEN_IETF_YANG_DIR);
    if (!ctx)
        goto out;
    d.base = event_base_new();
    q = d.base ? ctlq_new(d.base) : NULL;
    d.cfg = cfg_new(ctx, &co);
    if (!q || !d.cfg)
        goto out;
    d.confirm_timer = evtimer_new(d.base, on_confirm_timer, &d);
    cfg_set_timer(d.cfg, arm_confirm_timer, &d);
    mo.state_dir = co.state_dir;
    mgmt = mgmt_new(d.base, d.cfg, &mo,
                    &(struct mgmt_hooks){.state = ravend_vpn_state, .rpc = ravend_vpn_rpc, .arg = &apis});
    sup = mgmt ? super_new(d.base, &so, &(struct super_ops){.ping = mgmt_ping, .arg = mgmt}) : NULL;
    if (!sup)
        goto out;
    mgmt_set_super(mgmt, sup);
    if (frontends_add(sup, &stage, sock, yang_dir, web_dir, level))
        goto out;
    apis = (struct ravend_apis){.ctx = ctx, .mgmt = mgmt, .cfg = d.cfg, .daemon = &dmn};
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
    ike_engine_set_arena(ike, dmn.arena);
    crl = pki_crl_new(d.base);
    if (!crl)
        log_warn("ravend", "CRL fetching unavailable (libcurl did not start): only configured CRLs are checked");
    ike_engine_set_crl(ike, crl);
    if (ravend_handlers_register(d.cfg, mgmt) || ravend_vpn_register(d.cfg, ike, aaa, dp))
        goto out;
    if (cfg_handlers_check(d.cfg, "raven-", &errs)) {
        print_errs("refusing to start: configuration nodes without a handler", &errs);
        goto out;
    }
    if (cfg_start(d.cfg, &errs)) {
        print_errs("refusing to start: the configuration cannot be loaded", &errs);
        goto out;
    }
    /* the configuration is in force: the sessions of the previous process go on */
    ravend_arena_adopt(&dmn, ike, cfg_running_digest(d.cfg), fresh);
    if (ravend_admin_ensure(d.cfg, admin_key))
        goto out;
    for (int i = 0; i < 3; i++) {
        sigs[i] = evsignal_new(d.base, signums[i], on_signal, &d);
        if (!sigs[i] || event_add(sigs[i], NULL))
            goto out;
    }
    rc = mgmt_start(mgmt, mfd);
    mfd = -1;
    if (rc) {
        rc = 1;
        goto out;
    }
    super_start(sup); /* a front end that cannot start is logged and tried again */
    ravend_print_endpoints(d.cfg);
    printf("ravend: ready (state directory %s)\n", co.state_dir);
    fflush(stdout);
    event_base_dispatch(d.base);
    rc = 0;
out:
    if (rc)
        log_err("ravend", "start failed");
    /* close the front ends' connections (their sessions end: a confirmed commit
     * may roll back, and the other front end still hears of it), stop them, then
     * free */
    if (q)
        ctlq_shutdown(q);
    mgmt_free(mgmt);
    apis.mgmt = NULL; /* the engine's last events go nowhere */
    super_free(sup);
    ravend_stage_clear(&stage); /* the front ends are gone */
    if (q)
        ctlq_drain(q);
    if (d.cfg)
        cfg_set_notify(d.cfg, NULL, NULL);
    /* with a session arena the sessions stay for the next process (no DELETE, the
     * XDP programs stay attached); without, they end with a DELETE to each peer,
     * while the event loop still exists */
    if (ike && dmn.arena) {
        ike_engine_keep_sessions(ike);
        /* dp_keep_programs(dp, true); */
    }
    ike_engine_free(ike);
    pki_crl_free(crl); /* after the engine, its listener */
    aaa_free(aaa); /* after the sessions: their Stop records are sent */
    dp_free(dp);
    for (int i = 0; i < 3; i++) {
        if (sigs[i])
            event_free(sigs[i]);
    }
    if (d.confirm_timer)
        event_free(d.confirm_timer);
    cfg_free(d.cfg);
    ravend_arena_close(&dmn); /* after the dataplane: its workers wrote to it */
    ctlq_free(q);
    if (d.base)
        event_base_free(d.base);
    if (ctx)
        ly_ctx_destroy(ctx);
    cfg_errs_clear(&errs);
    if (mfd >= 0)
        close(mfd);
    log_info("ravend", "stopped");
    return rc;
}
