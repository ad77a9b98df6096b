/* Internals of the AAA service shared by its files: the compiled configuration
 * (aaa_conf.c), the service's state (aaa.c) and the dynamic authorization server
 * (aaa_dae.c). Only daemon/aaa includes it. */
#ifndef RAVEN_AAA_INT_H
#define RAVEN_AAA_INT_H

#include <event2/util.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "daemon/aaa/aaa.h"

struct rad_client;

#define AAA_MAX_METHODS 16
#define AAA_ACCT_PREFIX "acct:" /* the client's group of a server group's accounting ports */

/* The aaa subtree compiled (aaa_conf.c): immutable once compiled; the service
 * holds the one in force and, between prepare and apply or abort, the next. */

struct aaa_server {
    char *name, *secret;
    struct sockaddr_storage auth, acct, source;
    unsigned int timeout_ms, retransmits;
    bool require_ma;
};

struct aaa_group {
    char *name;
    char **servers;
    size_t n;
    unsigned int deadtime_s;
};

struct aaa_list {
    char *name;
    enum aaa_list_kind kind;
    struct {
        bool local;
        char *group;
    } m[AAA_MAX_METHODS];
    size_t n;
};

struct aaa_dae_client {
    char *name, *secret;
    struct sockaddr_storage addr;
};

struct aaa_conf {
    struct aaa_server *servers;
    size_t nservers;
    struct aaa_group *groups;
    size_t ngroups;
    struct aaa_list *lists;
    size_t nlists;
    struct aaa_dae_client *dae;
    size_t ndae;
    uint16_t dae_port;
    uint32_t interim;
};

/* The service (aaa.c); its dynamic authorization socket is read by aaa_dae.c. */
struct aaa {
    struct event_base *base;
    struct rad_client *rc;
    struct aaa_conf *conf, *pending;
    int dae_fd, new_dae_fd;
    struct event *dae_ev, *new_dae_ev;
    uint16_t dae_port_bound, new_dae_port;
    aaa_dae_fn dae_fn;
    void *dae_arg;
    struct aaa_op *ops; /* under way */
    uint64_t dae_requests, dae_acks, dae_naks, dae_dropped;
};

/* --- the configuration (aaa_conf.c) --- */

/* Compiles the aaa subtree of the whole running @tree into @c (zeroed by the
 * caller): 0; -EINVAL, reported through @err with its path, for what cannot be
 * used; -ENOMEM. On failure @c holds what was compiled so far (aaa_conf_free). */
int aaa_conf_compile(const struct lyd_node *tree, struct aaa_conf *c, aaa_err_fn err, void *arg);
/* Frees @c (NULL is fine), wiping its secrets. */
void aaa_conf_free(struct aaa_conf *c);
const struct aaa_server *aaa_conf_server(const struct aaa_conf *c, const char *name);
/* The method list @name of @kind, NULL if @c or @name is NULL or there is none. */
const struct aaa_list *aaa_conf_list(const struct aaa_conf *c, enum aaa_list_kind kind, const char *name);

/* --- the dynamic authorization server (aaa_dae.c) --- */

/* A UDP socket bound to @port on every address (IPv6 and IPv4, else IPv4 only),
 * non-blocking; or -errno. */
int aaa_dae_open(uint16_t port);
/* The socket's read event (arg: the struct aaa): one request read, checked,
 * handed to the service's handler and answered. */
void aaa_dae_recv(evutil_socket_t fd, short what, void *arg);

#endif
