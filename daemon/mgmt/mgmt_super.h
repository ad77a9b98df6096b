/* The supervisor of the management front ends (raven-netconfd, raven-restd):
 * starts each as the unprivileged front-end user with no capabilities and
 * no-new-privs, reaps it, restarts it with a growing delay while it keeps failing,
 * and kills it when it hangs (api/README.md, "Supervision"). Runs on ravend's
 * control thread: every function is called from there, and the callbacks run there.
 *
 * A front end is identified by its index (from super_add). Its life:
 *   stopped -> starting (spawned) -> running (super_connected) -> exit (reaped)
 *   -> starting again at once, or backoff -> starting after the delay.
 * The management server tells the supervisor what it sees on the socket
 * (connected, any frame, disconnected); the supervisor asks it to ping. */
#ifndef RAVEN_MGMT_SUPER_H
#define RAVEN_MGMT_SUPER_H

#include <libyang/libyang.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;
struct super;

struct super_ops {
    /* every 500 ms for each connected front end: send it {"ev": "ping", "seq"} */
    void (*ping)(int idx, uint32_t seq, void *arg);
    void *arg;
};

struct super_opts {
    /* the front-end user; NULL: "raven" if it exists, else "nobody". Ignored when
     * ravend is not root: the front ends then run as ravend's own user. */
    const char *user;
};

/* Resolves the user and sets up reaping (a SIGCHLD event on @base). NULL with
 * errno set (and logged) when the user does not exist, is root, or ravend runs as
 * root without the CAP_SETUID/CAP_SETGID it needs to change to it. */
struct super *super_new(struct event_base *base, const struct super_opts *o, const struct super_ops *ops);
/* Registers a front end (@name "netconf" or "rest", its program and argv, copied);
 * returns its index or -errno. */
int super_add(struct super *s, const char *name, const char *exe, char *const argv[]);
/* Spawns every front end and starts the watchdog. 0, or the first error of a
 * program that could not be started (it is tried again later all the same). */
int super_start(struct super *s);
/* The index of a spawned front end with process id @pid, running as @uid, not yet
 * connected; -1 for any other peer of the management socket. */
int super_peer(struct super *s, pid_t pid, uid_t uid);
const char *super_name(struct super *s, int idx);
/* Its connection said hello: the watchdog now expects it to answer pings. */
void super_connected(struct super *s, int idx);
/* Any frame from it (a pong or a request): it is alive. */
void super_seen(struct super *s, int idx);
/* Its connection closed: kills it if it still runs; it is restarted once reaped. */
void super_disconnected(struct super *s, int idx);
/* A peer of the management socket was refused (vpn-state/management/refused-connections). */
void super_note_refused(struct super *s);
/* The front-end user and its primary group (the management socket's group). */
uid_t super_uid(const struct super *s);
gid_t super_gid(const struct super *s);
/* Adds refused-connections and a front-end entry per front end under @mgmt, the
 * vpn-state/management container. 0 or -ENOMEM/-EINVAL. */
int super_state(struct super *s, struct lyd_node *mgmt);
/* Stops the front ends: SIGTERM, at most 2 s, then SIGKILL; each is reaped. NULL is fine. */
void super_free(struct super *s);

#endif
