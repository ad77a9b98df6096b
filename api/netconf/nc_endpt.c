/* Endpoints: the listening sockets ravend bound and handed over with the `listen`
 * event, served by libnetconf2. libnetconf2 2.0 binds its endpoints' sockets itself
 * and has no call to adopt one, and this process may not bind a port below 1024. So
 * each endpoint is added to libnetconf2 on 127.0.0.1 and a free ephemeral port, the
 * descriptor libnetconf2 created for it is found in /proc/self/fd, and ravend's
 * socket is dup2()ed over it: libnetconf2's accept thread then accepts on ravend's
 * socket without knowing. Every change happens here, on the thread that delivers
 * the event, under ep_lock; the accept thread keeps running. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/netconf/nc_impl.h"
#include "daemon/base/log.h"
#include "daemon/base/poison.h"

#define NC_EP_STANDIN_ADDR "127.0.0.1"
/* another process may take the free port before libnetconf2 binds it */
#define NC_EP_TRIES 8

/* A port of 127.0.0.1 that nothing uses right now, or 0 with errno set. */
static uint16_t free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    uint16_t port = 0;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return 0;
    if (!bind(fd, (struct sockaddr *)&a, sizeof(a)) && !getsockname(fd, (struct sockaddr *)&a, &len))
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static bool is_standin(int fd, uint16_t port)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    struct stat st;
    int listening = 0;
    socklen_t ol = sizeof(listening);

    if (fstat(fd, &st) || !S_ISSOCK(st.st_mode))
        return false;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ol) || !listening)
        return false;
    if (getsockname(fd, (struct sockaddr *)&a, &len) || len != sizeof(a) || a.sin_family != AF_INET)
        return false;
    return a.sin_port == htons(port) && a.sin_addr.s_addr == htonl(INADDR_LOOPBACK);
}

/* The descriptor of the listening socket libnetconf2 made on 127.0.0.1:@port. */
static int find_standin(uint16_t port)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int found = -ENOENT;

    if (!d)
        return -errno;
    while ((e = readdir(d))) {
        char *endp;
        long fd = strtol(e->d_name, &endp, 10);

        if (*endp || endp == e->d_name || fd == dirfd(d) || fd < 0 || fd > INT32_MAX)
            continue;
        if (is_standin((int)fd, port)) {
            found = (int)fd;
            break;
        }
    }
    closedir(d);
    return found;
}

/* What libnetconf2 sets on its listening sockets, which accepted ones inherit. */
static void copy_sockopts(int from, int to)
{
    static const struct {
        int level, name;
    } opts[] = {{SOL_SOCKET, SO_KEEPALIVE}, {IPPROTO_TCP, TCP_KEEPIDLE}, {IPPROTO_TCP, TCP_KEEPINTVL},
                {IPPROTO_TCP, TCP_KEEPCNT}, {IPPROTO_TCP, TCP_NODELAY}};

    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        int v;
        socklen_t l = sizeof(v);

        if (!getsockopt(from, opts[i].level, opts[i].name, &v, &l))
            setsockopt(to, opts[i].level, opts[i].name, &v, l);
    }
}

/* Makes libnetconf2's descriptor @lnc_fd refer to ravend's socket @fd (borrowed). */
static int adopt(int lnc_fd, int fd)
{
    int fdfl = fcntl(lnc_fd, F_GETFD), fl = fcntl(fd, F_GETFL), rc = 0;

    copy_sockopts(lnc_fd, fd);
    /* a connection reset between libnetconf2's poll and accept must not block the
     * accept thread */
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    if (dup2(fd, lnc_fd) < 0)
        rc = -errno;
    else
        fcntl(lnc_fd, F_SETFD, fdfl >= 0 ? fdfl | FD_CLOEXEC : FD_CLOEXEC);
    return rc;
}

/* Adds @m to libnetconf2 on a stand-in address and swaps in ravend's socket. */
static int ep_add(const struct mc_listener *m, int *lnc_fd)
{
    int rc = -EADDRINUSE;

    for (int i = 0; i < NC_EP_TRIES && rc == -EADDRINUSE; i++) {
        uint16_t port = free_port();

        if (!port)
            return -errno;
        if (nc_server_add_endpt(m->name, NC_TI_LIBSSH))
            return -EEXIST;
        if (nc_server_endpt_set_address(m->name, NC_EP_STANDIN_ADDR) || nc_server_endpt_set_port(m->name, port)) {
            nc_server_del_endpt(m->name, NC_TI_LIBSSH);
            continue;
        }
        if (nc_server_ssh_endpt_add_hostkey(m->name, "hostkey", -1) ||
            nc_server_ssh_endpt_set_auth_methods(m->name, NC_SSH_AUTH_PUBLICKEY | NC_SSH_AUTH_PASSWORD)) {
            rc = -EINVAL;
            break;
        }
        *lnc_fd = find_standin(port);
        rc = *lnc_fd < 0 ? *lnc_fd : adopt(*lnc_fd, m->fd);
        if (!rc)
            return 0;
        break;
    }
    nc_server_del_endpt(m->name, NC_TI_LIBSSH);
    return rc;
}

static const struct nc_ep *ep_find(const struct nc_ep *eps, size_t n, const struct mc_listener *m)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(eps[i].name, m->name) && eps[i].port == m->port && !strcmp(eps[i].address, m->address))
            return &eps[i];
    }
    return NULL;
}

static bool ep_kept(const struct mc_listen *l, const struct nc_ep *e)
{
    for (size_t i = 0; l->enabled && i < l->neps; i++) {
        if (l->eps[i].name && l->eps[i].address && l->eps[i].fd >= 0 && ep_find(e, 1, &l->eps[i]))
            return true;
    }
    return false;
}

static void ep_free_array(struct nc_ep *eps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(eps[i].name);
        free(eps[i].address);
    }
    free(eps);
}

/* Serves @m in the new set @now, taking its socket. */
static void ep_serve(struct nc_api *api, struct mc_listener *m, struct nc_ep *now, size_t *nnow)
{
    const struct nc_ep *old = ep_find(api->eps, api->neps, m);
    struct nc_ep *e = &now[*nnow];
    int fd = old ? old->fd : -1, rc;

    /* the same endpoint again: its socket may be a new one (ravend bound it again) */
    rc = old ? adopt(fd, m->fd) : ep_add(m, &fd);
    close(m->fd); /* libnetconf2's descriptor holds the socket now */
    m->fd = -1;
    if (rc) {
        log_err("netconf", "cannot serve %s port %u (endpoint %s): %s", m->address, m->port, m->name, strerror(-rc));
        if (old)
            nc_server_del_endpt(m->name, NC_TI_LIBSSH);
        return;
    }
    e->name = strdup(m->name);
    e->address = strdup(m->address);
    e->port = m->port;
    e->fd = fd;
    if (!e->name || !e->address) {
        free(e->name);
        free(e->address);
        nc_server_del_endpt(m->name, NC_TI_LIBSSH);
        return;
    }
    (*nnow)++;
    if (!old)
        log_info("netconf", "listening on %s port %u (endpoint %s)", m->address, m->port, m->name);
}

void nc_api_listen(struct nc_api *api, struct mc_listen *l)
{
    struct nc_ep *now = calloc(l->neps ? l->neps : 1, sizeof(*now));
    size_t nnow = 0;

    if (l->hostkey_pem && nc_auth_set_hostkey(api, l->hostkey_pem))
        log_err("netconf", "keeping the previous SSH host key");
    pthread_mutex_lock(&api->ep_lock);
    for (size_t i = 0; i < api->neps; i++) {
        const struct nc_ep *e = &api->eps[i];

        if (!now || !ep_kept(l, e)) {
            nc_server_del_endpt(e->name, NC_TI_LIBSSH);
            log_info("netconf", "stopped listening on %s port %u (endpoint %s)", e->address, e->port, e->name);
        }
    }
    for (size_t i = 0; now && l->enabled && i < l->neps; i++) {
        if (l->eps[i].name && l->eps[i].address && l->eps[i].fd >= 0)
            ep_serve(api, &l->eps[i], now, &nnow);
        else
            log_err("netconf", "ravend sent endpoint %zu without a name, an address or a socket", i);
    }
    ep_free_array(api->eps, api->neps);
    api->eps = now;
    api->neps = nnow;
    pthread_mutex_unlock(&api->ep_lock);
    mc_listen_clear(l);
}

void nc_endpt_clear(struct nc_api *api)
{
    pthread_mutex_lock(&api->ep_lock);
    for (size_t i = 0; i < api->neps; i++)
        nc_server_del_endpt(api->eps[i].name, NC_TI_LIBSSH);
    ep_free_array(api->eps, api->neps);
    api->eps = NULL;
    api->neps = 0;
    pthread_mutex_unlock(&api->ep_lock);
}
