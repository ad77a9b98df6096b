/* ravend's side of the management socket (api/README.md): the listening UNIX
 * socket the supervised front ends (raven-netconfd, raven-restd) connect to, the
 * requests they make on behalf of their users (mapped onto the datastore), the
 * users, passwords, keys and tokens, the management endpoints ravend binds and
 * hands over, and the events it pushes. Runs on the control thread only. */
#ifndef RAVEN_MGMT_H
#define RAVEN_MGMT_H

#include <event2/event.h>
#include <libyang/libyang.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/config/cfg.h"

struct mgmt;
struct super;

/* What a read of the state needs (mgmt_sel.c, from its XPaths and paging), so
 * that the hook builds only that: one session by key costs one session, a page of
 * the session list a page, /metrics no session at all. */
struct mgmt_state_sel {
    bool config;   /* running is needed: an XPath outside vpn-state */
    bool others;   /* vpn-state besides the session list */
    bool sessions; /* the session list (or, with @count_only, its count) */
    bool count_only;
    bool one; /* only the session @id (a key in every XPath that names the list) */
    /* an XPath may select sessions by their contents (a predicate, or one
     * outside what mgmt_sel.c recognises): paging and counting the list would
     * count sessions the filter drops, so they are refused */
    bool filtered;
    uint64_t id;
    /* paging of the session list, in ascending id order, when @paged */
    bool paged;
    uint64_t limit; /* entries at most; 0: unbounded */
    uint64_t offset;
    bool has_cursor; /* entries after the one whose id is @cursor */
    uint64_t cursor;
    /* filled in by the hook: sessions up, those after the page, and the id to
     * give as the next page's cursor (0 when none remain) */
    uint64_t total, remaining, next;
};

/* Fills @sel from a read's XPaths (NULL: everything). */
void mgmt_sel_from_xpaths(struct mgmt_state_sel *sel, const char *const *xpaths);

/* The daemon's part of a request: operational state added to @data (vpn-state),
 * as much as @sel asks for; and the raven-vpn RPCs (output children added under
 * @output). */
struct mgmt_hooks {
    int (*state)(struct ly_ctx *ctx, struct lyd_node **data, struct mgmt_state_sel *sel, void *arg);
    int (*rpc)(const struct lyd_node *rpc, struct lyd_node *output, struct cfg_errs *errs, void *arg);
    void *arg;
};

struct mgmt_opts {
    const char *state_dir; /* SSH host key, self-signed certificate */
};

/* @base may be NULL (tests, fuzzing: no socket). Nothing listens before mgmt_start. */
struct mgmt *mgmt_new(struct event_base *base, struct cfg *cfg, const struct mgmt_opts *o,
                      const struct mgmt_hooks *hooks);
/* The supervisor checks peers and is told of connections; set before mgmt_start. */
void mgmt_set_super(struct mgmt *m, struct super *sup);
/* Registers the /raven-vpn:management handler (users, endpoints). */
int mgmt_register(struct mgmt *m);
/* Listens on the management socket, "@raven-mgmt-PID" in the abstract namespace
 * (its name, as the front ends' --mgmt takes it, goes to @name). The socket, or
 * -errno (logged). */
#define MGMT_SOCK_NAME_MAX 40
int mgmt_socket_open(char name[MGMT_SOCK_NAME_MAX]);
/* Serves the socket @fd (adopted; closed by mgmt_free). 0 or -errno. */
int mgmt_start(struct mgmt *m, int fd);
void mgmt_free(struct mgmt *m);

/* super_ops.ping: asks front end @idx for a pong (@arg: the mgmt). */
void mgmt_ping(int idx, uint32_t seq, void *arg);
/* A notification already encoded as XML (@xml, @len bytes, borrowed: the
 * notification element of @mod's @name), sent like mgmt_notify's. */
void mgmt_notify_xml(struct mgmt *m, const char *mod, const char *name, const char *xml, size_t len);
/* Whether some front end has a subscriber for the raven-vpn notification @name:
 * only then is it worth building. */
bool mgmt_wants(const struct mgmt *m, const char *name);
/* A YANG notification (adopted) for the front ends that want it: encoded once,
 * the same frame to each. */
void mgmt_notify(struct mgmt *m, struct lyd_node *notif);
/* cfg_notify_fn (@arg: the mgmt): `changed` and netconf-config-change. */
void mgmt_config_changed(const struct cfg_actor *actor, const struct cfg_change *chg, size_t n, void *arg);
/* Only operational state changed: the front ends drop their caches. Coalesced:
 * one `changed` at the end of the event loop's iteration however many calls came
 * in it, and always before ravend answers another request (so a reply never
 * overtakes the `changed` of the state it shows). Without an event base (tests),
 * sent at once. */
void mgmt_state_changed(struct mgmt *m);
/* vpn-state/management under @vpn_state: refused connections and the front ends. */
int mgmt_state(struct mgmt *m, struct lyd_node *vpn_state);

#endif
