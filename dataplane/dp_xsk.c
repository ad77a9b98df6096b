/* Interfaces and workers of the dataplane: the XDP program on each configured
 * interface (libbpf, one program per interface), the maps every program instance
 * shares, and one worker per queue index with its UMEM and an AF_XDP socket (libxdp)
 * on each interface that has that queue (DESIGN.md "Dataplane"). A new set is
 * built beside the running one (dp_ifset_prepare) and switched to at apply. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/rand.h>
#include <xdp/libxdp.h>
#include "dataplane/bpf/raven_xdp.h"
#include "dataplane/dp_int.h"
#include "dataplane/dp_nl.h"

#ifndef RAVEN_XDP_OBJECT_PATH
#define RAVEN_XDP_OBJECT_PATH "raven_xdp.bpf.o"
#endif

const char *dp_xdp_object(void)
{
    const char *env = getenv("RAVEN_XDP_OBJECT");

    return env && *env ? env : RAVEN_XDP_OBJECT_PATH;
}

static void __attribute__((format(printf, 3, 4))) errf(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;

    if (!err || !len)
        return;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

static int quiet_xdp(enum libxdp_print_level level, const char *fmt, va_list ap)
{
    (void)level, (void)fmt, (void)ap;
    return 0;
}

static int quiet_bpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    (void)level, (void)fmt, (void)ap;
    return 0;
}

/* Local addresses go into the shared "local" map: ESP is taken only when it is
 * addressed to the headend. */
static void on_addr(void *arg, int ifindex, int family, const void *addr, bool added)
{
    struct dp *dp = arg;
    struct raven_local k = {0};
    uint32_t one = 1;

    (void)ifindex;
    if (family == AF_INET) {
        k.addr[10] = k.addr[11] = 0xff;
        memcpy(&k.addr[12], addr, 4);
    } else {
        memcpy(k.addr, addr, 16);
    }
    if (added)
        bpf_map_update_elem(dp->local_fd, &k, &one, BPF_ANY);
    else
        bpf_map_delete_elem(dp->local_fd, &k);
}

static int maps_create(struct dp *dp, char *err, size_t errlen)
{
    LIBBPF_OPTS(bpf_map_create_opts, lpm, .map_flags = BPF_F_NO_PREALLOC);
    struct dp_nl_hooks hooks = {.addr = on_addr, .arg = dp};

    if (dp->local_fd >= 0)
        return 0;
    /* one program per interface, ours: libxdp's dispatcher would hide a crashed
     * run's leftover behind its own name (and does not work on every kernel) */
    setenv("LIBXDP_SKIP_DISPATCHER", "1", 0);
    libxdp_set_print(quiet_xdp);
    libbpf_set_print(quiet_bpf);
    dp->clients4_fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "clients4", sizeof(struct raven_lpm4), 4,
                                     RAVEN_XDP_MAX_CLIENT_PREFIXES, &lpm);
    dp->clients6_fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "clients6", sizeof(struct raven_lpm6), 4,
                                     RAVEN_XDP_MAX_CLIENT_PREFIXES, &lpm);
    dp->local_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "local", sizeof(struct raven_local), 4, RAVEN_XDP_MAX_LOCAL,
                                  NULL);
    dp->natt_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "natt_ports", sizeof(__u16), 4, RAVEN_XDP_MAX_NATT_PORTS, NULL);
    if (dp->clients4_fd < 0 || dp->clients6_fd < 0 || dp->local_fd < 0 || dp->natt_fd < 0) {
        errf(err, errlen, "cannot create the dataplane's BPF maps: %s", strerror(errno));
        goto fail;
    }
    /* the ports in force (set before the first interface, or the defaults) */
    dp_ports_map_sync(dp, dp->ports, NULL);
    /* clients routed before the first interface came up */
    struct dp_route *rt, *tmp;
    HASH_ITER(hh, dp->routes, rt, tmp) {
        dp_lpm_update(dp, &rt->key, true);
    }
    if (!(dp->nl = dp_nl_new(&hooks))) {
        errf(err, errlen, "cannot follow the kernel's routes and neighbours over netlink: %s", strerror(errno));
        goto fail;
    }
    return 0;
fail:
    for (int *fd = &dp->clients4_fd; fd <= &dp->natt_fd; fd++) {
        if (*fd >= 0)
            close(*fd);
        *fd = -1;
    }
    return -1;
}

int dp_lpm_update(struct dp *dp, const struct dp_route_key *k, bool add)
{
    uint32_t one = 1;

    if (k->family == AF_INET) {
        struct raven_lpm4 key = {.plen = k->plen};
        if (dp->clients4_fd < 0)
            return 0;
        memcpy(key.addr, k->addr, 4);
        return add ? bpf_map_update_elem(dp->clients4_fd, &key, &one, BPF_ANY)
                   : bpf_map_delete_elem(dp->clients4_fd, &key);
    }
    struct raven_lpm6 key = {.plen = k->plen};
    if (dp->clients6_fd < 0)
        return 0;
    memcpy(key.addr, k->addr, 16);
    return add ? bpf_map_update_elem(dp->clients6_fd, &key, &one, BPF_ANY)
               : bpf_map_delete_elem(dp->clients6_fd, &key);
}

static unsigned if_queue_count(const char *name)
{
    char path[64];
    struct dirent *de;
    unsigned n = 0;
    DIR *d;

    snprintf(path, sizeof(path), "/sys/class/net/%s/queues", name);
    if (!(d = opendir(path)))
        return 1;
    while ((de = readdir(d)))
        if (!strncmp(de->d_name, "rx-", 3))
            n++;
    closedir(d);
    return n ? n : 1;
}

/* The Raven program attached to an interface, if any: *id (0: none) and the mode
 * flag it is attached in; another program is an error. */
static int find_raven_prog(int ifindex, const char *name, __u32 *id, __u32 *mode, char *err, size_t errlen)
{
    LIBBPF_OPTS(bpf_xdp_query_opts, q);
    const __u32 flags[] = {XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE};
    const __u32 *ids[] = {&q.drv_prog_id, &q.skb_prog_id};

    *id = 0;
    if (bpf_xdp_query(ifindex, 0, &q))
        return 0;
    /* the kernel has at most one of the two (native and generic exclude each other) */
    for (size_t i = 0; i < 2; i++) {
        struct bpf_prog_info info = {0};
        __u32 len = sizeof(info);
        int fd;

        if (!*ids[i])
            continue;
        fd = bpf_prog_get_fd_by_id(*ids[i]);
        if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len)) {
            if (fd >= 0)
                close(fd);
            errf(err, errlen, "interface %s has an XDP program (id %u) that cannot be inspected", name, *ids[i]);
            return -1;
        }
        close(fd);
        if (strcmp(info.name, "raven_xdp")) {
            errf(err, errlen, "interface %s already has another XDP program (%s, id %u)", name, info.name,
                 *ids[i]);
            return -1;
        }
        *id = *ids[i];
        *mode = flags[i];
        return 0;
    }
    return 0;
}

/* Detaches a Raven program left by an earlier run or set (or, with
 * @check_only, only looks); another program is an error. */
static int detach_leftover(int ifindex, const char *name, bool check_only, char *err, size_t errlen)
{
    __u32 id, mode;

    if (find_raven_prog(ifindex, name, &id, &mode, err, errlen))
        return -1;
    if (!id || check_only)
        return 0;
    if (bpf_xdp_detach(ifindex, mode, NULL)) {
        errf(err, errlen, "cannot detach the leftover XDP program of interface %s: %s", name, strerror(errno));
        return -1;
    }
    return 0;
}

/* Lets an interface go: its program is detached if it is attached and @detach
 * (else it stays, with its maps, until a later one replaces it). */
static void iface_down(struct dp_iface *ifc, bool detach)
{
    if (!ifc)
        return;
    if (ifc->mode != DP_MODE_DOWN && detach) {
        /* only our program: another one put there meanwhile stays */
        LIBBPF_OPTS(bpf_xdp_attach_opts, o, .old_prog_fd = ifc->prog_fd);
        bpf_xdp_detach(ifc->ifindex,
                       XDP_FLAGS_REPLACE | (ifc->mode == DP_MODE_NATIVE ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE), &o);
    }
    bpf_object__close(ifc->obj);
    free(ifc);
}

static int reuse_map(struct bpf_object *obj, const char *name, int fd)
{
    struct bpf_map *m = bpf_object__find_map_by_name(obj, name);

    return m ? bpf_map__reuse_fd(m, fd) : -ENOENT;
}

/* What can be known of an interface without acting on it: it exists and has the
 * queues configured. */
static int iface_check(const struct dp_if_conf *c, int *ifindex, unsigned *nq, char *err, size_t errlen)
{
    unsigned avail;

    if (!(*ifindex = (int)if_nametoindex(c->name))) {
        errf(err, errlen, "interface %s does not exist", c->name);
        return -ENODEV;
    }
    avail = if_queue_count(c->name);
    if ((c->queues ? c->queues : avail) > DP_MAX_WORKERS) {
        errf(err, errlen, "interface %s: at most %d queues are served (it has %u): set queues", c->name,
             DP_MAX_WORKERS, avail);
        return -EINVAL;
    }
    if (c->queues > avail) {
        errf(err, errlen, "interface %s has %u receive queue(s), %u configured", c->name, avail, c->queues);
        return -EINVAL;
    }
    *nq = c->queues ? c->queues : avail;
    return 0;
}

/* The XDP object file opens (user space only: nothing is loaded into the kernel)
 * and has every map Raven uses. */
static int prog_check(char *err, size_t errlen)
{
    static const char *const maps[] = {"clients4", "clients6", "local", "natt_ports", "xsks", "stats", "conf"};
    struct bpf_object *obj;
    int rc = 0;

    libbpf_set_print(quiet_bpf);
    obj = bpf_object__open_file(dp_xdp_object(), NULL);
    if (libbpf_get_error(obj)) {
        errf(err, errlen, "cannot open the XDP program %s: %s", dp_xdp_object(), strerror(errno));
        return -ENOENT;
    }
    for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]) && !rc; i++) {
        if (!bpf_object__find_map_by_name(obj, maps[i])) {
            errf(err, errlen, "the XDP program %s does not have Raven's map %s", dp_xdp_object(), maps[i]);
            rc = -EINVAL;
        }
    }
    if (!rc && !bpf_object__next_program(obj, NULL)) {
        errf(err, errlen, "the object %s holds no XDP program", dp_xdp_object());
        rc = -EINVAL;
    }
    bpf_object__close(obj);
    return rc;
}

int dp_check_interfaces(struct dp *dp, const struct dp_if_conf *ifs, size_t n, char *err, size_t errlen)
{
    (void)dp;
    if (n > DP_MAX_IFACES) {
        errf(err, errlen, "at most %d dataplane interfaces", DP_MAX_IFACES);
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        int ifindex, rc;
        unsigned nq;

        for (size_t j = 0; j < i; j++)
            if (!strcmp(ifs[i].name, ifs[j].name)) {
                errf(err, errlen, "interface %s is listed twice", ifs[i].name);
                return -EINVAL;
            }
        rc = iface_check(&ifs[i], &ifindex, &nq, err, errlen);
        if (!rc && detach_leftover(ifindex, ifs[i].name, true, err, errlen))
            rc = -EBUSY;
        if (rc)
            return rc;
    }
    return n ? prog_check(err, errlen) : 0;
}

/* An interface's XDP program opened, given the shared maps and its role, and
 * loaded into the kernel (the verifier has passed it), but not attached: nothing
 * that runs changes. */
static struct dp_iface *iface_load(struct dp *dp, const struct dp_if_conf *c, char *err, size_t errlen)
{
    struct dp_iface *ifc = aligned_alloc(DP_CACHELINE, sizeof(*ifc));
    __u32 key = RAVEN_XDP_CONF_ROLE, role = c->role == DP_ROLE_INSIDE ? RAVEN_XDP_ROLE_INSIDE : 0;
    struct bpf_program *prog;
    unsigned nq;
    int rc;

    if (!ifc) {
        errf(err, errlen, "out of memory");
        return NULL;
    }
    memset(ifc, 0, sizeof(*ifc));
    ifc->conf = *c;
    ifc->prog_fd = ifc->xsks_fd = ifc->stats_fd = -1;
    if (iface_check(c, &ifc->ifindex, &nq, err, errlen))
        goto fail;
    ifc->nq = (uint16_t)nq;
    ifc->obj = bpf_object__open_file(dp_xdp_object(), NULL);
    if (libbpf_get_error(ifc->obj)) {
        ifc->obj = NULL;
        errf(err, errlen, "cannot open the XDP program %s: %s", dp_xdp_object(), strerror(errno));
        goto fail;
    }
    if (reuse_map(ifc->obj, "clients4", dp->clients4_fd) || reuse_map(ifc->obj, "clients6", dp->clients6_fd) ||
        reuse_map(ifc->obj, "local", dp->local_fd) || reuse_map(ifc->obj, "natt_ports", dp->natt_fd) ||
        !(prog = bpf_object__next_program(ifc->obj, NULL))) {
        errf(err, errlen, "the XDP program %s does not have Raven's maps", dp_xdp_object());
        goto fail;
    }
    if ((rc = bpf_object__load(ifc->obj))) {
        errf(err, errlen, "the kernel does not load the XDP program %s for %s: %s", dp_xdp_object(), c->name,
             strerror(-rc));
        goto fail;
    }
    ifc->prog_fd = bpf_program__fd(prog);
    ifc->xsks_fd = bpf_map__fd(bpf_object__find_map_by_name(ifc->obj, "xsks"));
    ifc->stats_fd = bpf_map__fd(bpf_object__find_map_by_name(ifc->obj, "stats"));
    if (ifc->prog_fd < 0 || ifc->xsks_fd < 0 || ifc->stats_fd < 0 ||
        bpf_map_update_elem(bpf_map__fd(bpf_object__find_map_by_name(ifc->obj, "conf")), &key, &role, BPF_ANY)) {
        errf(err, errlen, "cannot configure the XDP program of %s", c->name);
        goto fail;
    }
    return ifc;
fail:
    iface_down(ifc, true);
    return NULL;
}

/* Replaces a Raven program left on the interface (by an earlier run whose
 * programs were kept, or by the set this one follows) atomically, in the mode it
 * is attached in, when the configured mode allows that mode: the interface is
 * never without a program. 0 if replaced. */
static int iface_replace(struct dp_iface *ifc, char *err, size_t errlen)
{
    const struct dp_if_conf *c = &ifc->conf;
    __u32 id, mode;
    int old, rc;

    if (find_raven_prog(ifc->ifindex, c->name, &id, &mode, err, errlen))
        return -EBUSY;
    if (!id || (c->mode == DP_XDP_NATIVE && mode != XDP_FLAGS_DRV_MODE) ||
        (c->mode == DP_XDP_GENERIC && mode != XDP_FLAGS_SKB_MODE))
        return -ENOENT;
    if ((old = bpf_prog_get_fd_by_id(id)) < 0)
        return -ENOENT;
    LIBBPF_OPTS(bpf_xdp_attach_opts, o, .old_prog_fd = old);
    rc = bpf_xdp_attach(ifc->ifindex, ifc->prog_fd, XDP_FLAGS_REPLACE | mode, &o);
    close(old);
    if (!rc)
        ifc->mode = mode == XDP_FLAGS_DRV_MODE ? DP_MODE_NATIVE : DP_MODE_GENERIC;
    return rc;
}

/* Attaches a loaded program: in place of a Raven program already there
 * (iface_replace), else native mode first unless generic is configured (a
 * leftover Raven program the kernel would not let us replace is detached first). */
static int iface_attach(struct dp_iface *ifc, char *err, size_t errlen)
{
    const struct dp_if_conf *c = &ifc->conf;
    int rc = iface_replace(ifc, err, errlen);

    if (!rc)
        return 0;
    /* refused (another mode asked for, say): detach, then attach */
    if (rc == -EBUSY || detach_leftover(ifc->ifindex, c->name, false, err, errlen))
        return -EBUSY;
    rc = -EOPNOTSUPP;
    if (c->mode != DP_XDP_GENERIC) {
        rc = bpf_xdp_attach(ifc->ifindex, ifc->prog_fd, XDP_FLAGS_DRV_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
        if (!rc)
            ifc->mode = DP_MODE_NATIVE;
    }
    if (rc && c->mode != DP_XDP_NATIVE) {
        rc = bpf_xdp_attach(ifc->ifindex, ifc->prog_fd, XDP_FLAGS_SKB_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
        if (!rc)
            ifc->mode = DP_MODE_GENERIC;
    }
    if (rc)
        errf(err, errlen, "cannot attach the XDP program to %s in %s mode: %s", c->name,
             c->mode == DP_XDP_NATIVE ? "native" : c->mode == DP_XDP_GENERIC ? "generic" : "native or generic",
             strerror(-rc));
    return rc;
}

static void worker_free(struct dp_worker *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->nxs; i++)
        xsk_socket__delete(w->xs[i].xsk);
    if (w->umem)
        xsk_umem__delete(w->umem);
    if (w->area)
        munmap(w->area, (size_t)DP_FRAMES * DP_FRAME_SIZE);
    if (w->raw4 >= 0)
        close(w->raw4);
    if (w->raw6 >= 0)
        close(w->raw6);
    dp_frag_fini(&w->frag);
    free(w->free);
    free(w);
}

static struct dp_worker *worker_new(struct dp *dp, unsigned q, char *err, size_t errlen)
{
    struct dp_worker *w = calloc(1, sizeof(*w));
    struct xsk_umem_config ucfg = {.fill_size = DP_RING, .comp_size = DP_RING, .frame_size = DP_FRAME_SIZE,
                                   .frame_headroom = 0};
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int rc;

    if (!w) {
        errf(err, errlen, "worker %u: out of memory", q);
        return NULL;
    }
    w->dp = dp;
    w->id = w->queue = q;
    /* outer IPv4 IDs: workers must not all count from the same place */
    RAND_bytes((unsigned char *)&w->ip_id, sizeof(w->ip_id));
    w->cpu = ncpu > 0 ? q % ncpu : 0;
    w->raw4 = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    w->raw6 = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    w->free = calloc(DP_FRAMES, sizeof(*w->free));
    w->area = mmap(NULL, (size_t)DP_FRAMES * DP_FRAME_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (w->area == MAP_FAILED)
        w->area = NULL;
    if (w->raw4 < 0 || w->raw6 < 0 || !w->free || !w->area || dp_frag_init(&w->frag)) {
        errf(err, errlen, "worker %u: %s", q, strerror(errno));
        goto fail;
    }
    /* the UMEM's own fill and completion rings are those of the first socket made on
     * it (xs[0]): libxdp then uses them as they are (a copy would need its cached
     * indexes zeroed, and a failed first attempt would unmap what the copy refers to) */
    if ((rc = xsk_umem__create(&w->umem, w->area, (size_t)DP_FRAMES * DP_FRAME_SIZE, &w->xs[0].fq, &w->xs[0].cq,
                               &ucfg))) {
        w->umem = NULL;
        errf(err, errlen, "worker %u: cannot create its UMEM: %s", q, strerror(-rc));
        goto fail;
    }
    for (uint32_t i = 0; i < DP_FRAMES; i++)
        w->free[w->nfree++] = (uint64_t)i * DP_FRAME_SIZE;
    return w;
fail:
    worker_free(w);
    return NULL;
}

/* Binds worker @w's AF_XDP sockets to its queue of every interface of the
 * dataplane that has it, and registers them with the interfaces' programs. */
static int worker_bind(struct dp_worker *w, char *err, size_t errlen)
{
    struct dp *dp = w->dp;
    unsigned q = w->queue;
    int rc = 0;

    for (size_t i = 0; i < dp->nifaces; i++) {
        struct dp_iface *ifc = dp->ifaces[i];
        struct xsk_socket_config cfg = {.rx_size = DP_RING, .tx_size = DP_RING,
                                        .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
                                        .bind_flags = XDP_USE_NEED_WAKEUP};
        struct dp_xs *xs = &w->xs[w->nxs];
        uint32_t idx, n;
        int fd;

        if (q >= ifc->nq)
            continue;
        xs->ifc = ifc;
        xs->ifx = i;
        /* the kernel frees a closed socket's hold on the queue from a work queue: a
         * set of interfaces set up again right after the previous one went can find
         * the queue busy for a moment */
        for (int tries = 0;; tries++) {
            rc = xsk_socket__create_shared(&xs->xsk, ifc->conf.name, q, w->umem, &xs->rx, &xs->tx, &xs->fq,
                                           &xs->cq, &cfg);
            if (rc != -EBUSY || tries == 200)
                break;
            usleep(10000);
        }
        if (rc) {
            xs->xsk = NULL;
            errf(err, errlen, "cannot open an AF_XDP socket on %s queue %u: %s", ifc->conf.name, q, strerror(-rc));
            return rc;
        }
        w->nxs++;
        fd = xsk_socket__fd(xs->xsk);
        if (bpf_map_update_elem(ifc->xsks_fd, &q, &fd, BPF_ANY)) {
            rc = -errno;
            errf(err, errlen, "cannot register the AF_XDP socket of %s queue %u: %s", ifc->conf.name, q,
                 strerror(errno));
            return rc;
        }
        /* half of the ring's worth of frames to receive into; the rest cover TX */
        n = xsk_ring_prod__reserve(&xs->fq, DP_RING / 2, &idx);
        for (uint32_t k = 0; k < n; k++)
            *xsk_ring_prod__fill_addr(&xs->fq, idx + k) = w->free[--w->nfree];
        xsk_ring_prod__submit(&xs->fq, n);
    }
    return 0;
}

struct dp_worker *dp_worker_detached(struct dp *dp, const enum dp_role *roles, size_t n)
{
    struct dp_worker *w;
    int err = ENOMEM;

    if (n > DP_MAX_IFACES) {
        errno = EINVAL;
        return NULL;
    }
    if (!(w = calloc(1, sizeof(*w))))
        return NULL;
    w->dp = dp;
    w->raw4 = w->raw6 = -1;
    w->free = calloc(DP_FRAMES, sizeof(*w->free));
    w->area = mmap(NULL, (size_t)DP_FRAMES * DP_FRAME_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (w->area == MAP_FAILED) {
        err = errno;
        w->area = NULL;
    }
    if (!w->free || !w->area || dp_frag_init(&w->frag))
        goto fail;
    for (uint32_t i = 0; i < DP_FRAMES; i++)
        w->free[w->nfree++] = (uint64_t)i * DP_FRAME_SIZE;
    for (size_t i = 0; i < n; i++) {
        struct dp_iface *ifc = aligned_alloc(DP_CACHELINE, sizeof(*ifc));
        struct dp_xs *xs = &w->xs[i];

        if (!ifc)
            goto fail;
        memset(ifc, 0, sizeof(*ifc));
        snprintf(ifc->conf.name, sizeof(ifc->conf.name), "detached%zu", i);
        ifc->conf.role = roles[i];
        ifc->ifindex = -1 - (int)i;
        ifc->nq = 1;
        ifc->xsks_fd = ifc->stats_fd = -1;
        xs->ifc = ifc;
        xs->ifx = i;
        xs->mtu = 1500;
        w->nxs++;
    }
    return w;
fail:
    dp_worker_detached_free(w);
    errno = err;
    return NULL;
}

size_t dp_worker_detached_drain(struct dp_worker *w)
{
    size_t n = 0;

    for (size_t i = 0; i < w->nxs; i++) {
        struct dp_xs *xs = &w->xs[i];
        struct dp_if_ctr *c = &xs->ifc->ctr[w->id];

        for (uint32_t k = 0; k < xs->ntx; k++) {
            c->tx_packets++;
            c->tx_bytes += xs->txq[k].len;
            dp_frame_put(w, xs->txq[k].addr);
        }
        n += xs->ntx;
        xs->ntx = 0;
    }
    return n;
}

void dp_worker_detached_free(struct dp_worker *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->nxs; i++)
        free(w->xs[i].ifc);
    dp_frag_fini(&w->frag);
    if (w->area)
        munmap(w->area, (size_t)DP_FRAMES * DP_FRAME_SIZE);
    free(w->free);
    free(w);
}

static void workers_stop(struct dp *dp)
{
    atomic_store(&dp->stop, true);
    for (size_t i = 0; i < dp->nworkers; i++) {
        struct dp_worker *w = dp->workers[i];
        if (w->running)
            pthread_join(w->th, NULL);
        worker_free(w);
        dp->workers[i] = NULL;
    }
    dp->nworkers = 0;
    atomic_store(&dp->stop, false);
}

struct dp_ifset;
static bool ifset_has(const struct dp_ifset *set, int ifindex);

/* Stops the workers and lets the interfaces go. Each one's program is detached,
 * unless programs are kept (dp_keep_programs) or @next (the set that follows)
 * has the interface: its program then replaces this one atomically. */
static void set_down(struct dp *dp, const struct dp_ifset *next)
{
    workers_stop(dp);
    for (size_t i = 0; i < dp->nifaces; i++) {
        struct dp_iface *ifc = dp->ifaces[i];
        iface_down(ifc, !dp->keep_programs && !ifset_has(next, ifc->ifindex));
    }
    dp->nifaces = 0;
    memset(dp->wctr, 0, sizeof(dp->wctr));
}

void dp_keep_programs(struct dp *dp, bool keep)
{
    dp->keep_programs = keep;
}

/* A set of interfaces built beside the running one (dp_ifset_prepare): programs
 * loaded, workers' memory, UMEMs and raw sockets made; nothing attached or bound. */
struct dp_ifset {
    size_t nifaces, nworkers;
    struct dp_iface *ifaces[DP_MAX_IFACES];
    struct dp_worker *workers[DP_MAX_WORKERS];
};

static bool ifset_has(const struct dp_ifset *set, int ifindex)
{
    for (size_t i = 0; set && i < set->nifaces; i++)
        if (set->ifaces[i]->ifindex == ifindex)
            return true;
    return false;
}

void dp_ifset_free(struct dp_ifset *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->nworkers; i++)
        worker_free(set->workers[i]);
    for (size_t i = 0; i < set->nifaces; i++)
        iface_down(set->ifaces[i], true); /* never attached */
    free(set);
}

int dp_ifset_prepare(struct dp *dp, const struct dp_if_conf *ifs, size_t n, struct dp_ifset **out, char *err,
                     size_t errlen)
{
    struct dp_ifset *set = NULL;
    unsigned nw = 0;
    int rc;

    *out = NULL;
    if ((rc = dp_check_interfaces(dp, ifs, n, err, errlen)))
        return rc;
    if (n && maps_create(dp, err, errlen)) /* shared, made once: idle until a program uses them */
        return -EIO;
    if (!(set = calloc(1, sizeof(*set)))) {
        errf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        struct dp_iface *ifc = iface_load(dp, &ifs[i], err, errlen);

        if (!ifc)
            goto fail;
        set->ifaces[set->nifaces++] = ifc;
        if (ifc->nq > nw)
            nw = ifc->nq;
    }
    for (unsigned q = 0; q < nw; q++) {
        struct dp_worker *w = worker_new(dp, q, err, errlen);

        if (!w)
            goto fail;
        set->workers[set->nworkers++] = w;
    }
    *out = set;
    return 0;
fail:
    dp_ifset_free(set);
    return -EIO;
}

/* Stops what runs and starts @set (adopted) in its place. */
static int ifset_switch(struct dp *dp, struct dp_ifset *set, char *err, size_t errlen)
{
    set_down(dp, set);
    memcpy(dp->ifaces, set->ifaces, set->nifaces * sizeof(set->ifaces[0]));
    dp->nifaces = set->nifaces;
    memcpy(dp->workers, set->workers, set->nworkers * sizeof(set->workers[0]));
    dp->nworkers = set->nworkers;
    free(set);
    for (size_t i = 0; i < dp->nifaces; i++) {
        if (iface_attach(dp->ifaces[i], err, errlen))
            goto fail;
    }
    for (size_t i = 0; i < dp->nworkers; i++) {
        if (worker_bind(dp->workers[i], err, errlen))
            goto fail;
    }
    for (size_t i = 0; i < dp->nworkers; i++) {
        struct dp_worker *w = dp->workers[i];
        if (pthread_create(&w->th, NULL, dp_worker_main, w)) {
            errf(err, errlen, "cannot start dataplane worker %u", w->id);
            goto fail;
        }
        w->running = true;
    }
    return 0;
fail:
    /* the previous programs the failure left in place of ours go too, unless kept */
    for (size_t i = 0; i < dp->nifaces && !dp->keep_programs; i++)
        if (dp->ifaces[i]->mode == DP_MODE_DOWN)
            detach_leftover(dp->ifaces[i]->ifindex, dp->ifaces[i]->conf.name, false, NULL, 0);
    set_down(dp, NULL);
    return -EIO;
}

int dp_ifset_apply(struct dp *dp, struct dp_ifset *set, char *err, size_t errlen)
{
    struct dp_if_conf old[DP_MAX_IFACES];
    size_t nold = dp->nifaces;
    struct dp_ifset *back = NULL;

    for (size_t i = 0; i < nold; i++)
        old[i] = dp->ifaces[i]->conf;
    if (!ifset_switch(dp, set, err, errlen))
        return 0;
    /* back to what ran before; an error here leaves the dataplane down */
    if (!dp_ifset_prepare(dp, old, nold, &back, NULL, 0) && !ifset_switch(dp, back, NULL, 0))
        return -EIO;
    return -ENETDOWN;
}

int dp_set_interfaces(struct dp *dp, const struct dp_if_conf *ifs, size_t n, char *err, size_t errlen)
{
    struct dp_ifset *set;
    int rc = dp_ifset_prepare(dp, ifs, n, &set, err, errlen);

    return rc ? rc : dp_ifset_apply(dp, set, err, errlen);
}

void dp_ifaces_free(struct dp *dp)
{
    set_down(dp, NULL);
    if (dp->nl)
        dp_nl_free(dp->nl);
    dp->nl = NULL;
    for (int *fd = &dp->clients4_fd; fd <= &dp->natt_fd; fd++) {
        if (*fd >= 0)
            close(*fd);
        *fd = -1;
    }
}

size_t dp_if_count(const struct dp *dp)
{
    return dp->nifaces;
}

/* A counter of the interface's XDP program (enum raven_xdp_stat), summed over CPUs. */
static uint64_t xdp_stat(const struct dp_iface *ifc, __u32 key)
{
    int ncpu = libbpf_num_possible_cpus();
    uint64_t sum = 0;

    if (ncpu <= 0)
        return 0;
    uint64_t v[ncpu];
    if (bpf_map_lookup_elem(ifc->stats_fd, &key, v))
        return 0;
    for (int i = 0; i < ncpu; i++)
        sum += v[i];
    return sum;
}

int dp_if_stats(const struct dp *dp, size_t i, struct dp_if_stats *out)
{
    const struct dp_iface *ifc;

    if (i >= dp->nifaces)
        return -ENOENT;
    ifc = dp->ifaces[i];
    memset(out, 0, sizeof(*out));
    memcpy(out->name, ifc->conf.name, sizeof(out->name));
    out->role = ifc->conf.role;
    out->mode = ifc->mode;
    out->queues = ifc->nq;
    out->to_kernel = xdp_stat(ifc, RAVEN_XDP_PASS) - ifc->xdp_pass_base;
    /* what the program dropped for want of a socket on its queue (a queue not
     * served, or between two sets) */
    out->drops[DP_DROP_OTHER] = xdp_stat(ifc, RAVEN_XDP_NO_SOCKET) - ifc->xdp_nosock_base;
    for (size_t w = 0; w < DP_MAX_WORKERS; w++) {
        const struct dp_if_ctr *c = &ifc->ctr[w];
        out->rx_packets += c->rx_packets;
        out->rx_bytes += c->rx_bytes;
        out->tx_packets += c->tx_packets;
        out->tx_bytes += c->tx_bytes;
        out->to_kernel += c->to_kernel;
        for (size_t d = 0; d < DP_DROP_N; d++)
            out->drops[d] += c->drops[d];
    }
    return 0;
}

size_t dp_worker_count(const struct dp *dp)
{
    return dp->nworkers;
}

int dp_worker_stats(const struct dp *dp, size_t i, struct dp_worker_stats *out)
{
    const struct dp_worker *w;
    const struct dp_wk_ctr *c;

    if (i >= dp->nworkers)
        return -ENOENT;
    w = dp->workers[i];
    c = &dp->wctr[w->id];
    memset(out, 0, sizeof(*out));
    out->id = w->id;
    out->cpu = w->cpu;
    out->queue = w->queue;
    out->packets_decrypted = c->dec_packets;
    out->bytes_decrypted = c->dec_bytes;
    out->packets_encrypted = c->enc_packets;
    out->bytes_encrypted = c->enc_bytes;
    out->busy_polls = c->busy_polls;
    out->idle_polls = c->idle_polls;
    out->busy_ns = c->busy_ns;
    out->frag_received = w->frag.ctr.fragments;
    out->frag_reassembled = w->frag.ctr.reassembled;
    out->frag_timeouts = w->frag.ctr.timeouts;
    out->frag_invalid = w->frag.ctr.invalid;
    out->frag_evictions = w->frag.ctr.evictions;
    out->inner_fragmented = c->inner_fragmented;
    out->inner_fragments = c->inner_fragments;
    for (size_t f = 0; f < dp->nifaces; f++)
        for (size_t d = 0; d < DP_DROP_N; d++)
            out->drops += dp->ifaces[f]->ctr[w->id].drops[d];
    return 0;
}

void dp_clear_counters(struct dp *dp)
{
    /* plain stores racing a worker's increment may lose that one increment;
     * clearing is an operator's action, not accounting */
    for (size_t i = 0; i < dp->nifaces; i++) {
        memset(dp->ifaces[i]->ctr, 0, sizeof(dp->ifaces[i]->ctr));
        dp->ifaces[i]->xdp_pass_base = xdp_stat(dp->ifaces[i], RAVEN_XDP_PASS);
        dp->ifaces[i]->xdp_nosock_base = xdp_stat(dp->ifaces[i], RAVEN_XDP_NO_SOCKET);
    }
    memset(dp->wctr, 0, sizeof(dp->wctr));
    for (size_t i = 0; i < dp->nworkers; i++)
        memset(&dp->workers[i]->frag.ctr, 0, sizeof(dp->workers[i]->frag.ctr));
}

int dp_if_health(const struct dp *dp, size_t i, struct dp_if_health *out)
{
    LIBBPF_OPTS(bpf_xdp_query_opts, q);
    const struct dp_iface *ifc;
    struct bpf_prog_info info = {0};
    __u32 len = sizeof(info);
    struct ifreq ifr = {0};
    int fd, rc = 0;

    if (i >= dp->nifaces)
        return -ENOENT;
    ifc = dp->ifaces[i];
    memset(out, 0, sizeof(*out));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifc->conf.name);
    /* only the kernel saying so means the interface is gone: a socket we
     * could not open (EMFILE) or another failure says nothing of it */
    if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
        return -errno;
    if (!ioctl(fd, SIOCGIFFLAGS, &ifr)) {
        out->exists = true;
        out->up = ifr.ifr_flags & IFF_UP;
        out->running = ifr.ifr_flags & IFF_RUNNING;
    } else if (errno != ENODEV && errno != ENXIO) {
        rc = -errno;
    }
    close(fd);
    if (rc)
        return rc;
    out->xdp_expected = ifc->mode != DP_MODE_DOWN && ifc->prog_fd >= 0;
    if (out->xdp_expected && out->exists && !bpf_obj_get_info_by_fd(ifc->prog_fd, &info, &len) &&
        !bpf_xdp_query((int)if_nametoindex(ifc->conf.name), 0, &q))
        out->xdp_attached = (q.drv_prog_id && q.drv_prog_id == info.id) || (q.skb_prog_id && q.skb_prog_id == info.id);
    return 0;
}
