/* A stand-in for the supervisor (mgmt_super.h) until it is merged: it spawns
 * nothing and accepts no peer. Delete this file when mgmt_super.c lands. */
#include <errno.h>
#include <stdlib.h>

#include "daemon/mgmt/mgmt_super.h"

struct super {
    int n;
};

struct super *super_new(struct event_base *base, const struct super_opts *o, const struct super_ops *ops)
{
    return calloc(1, sizeof(struct super));
}

int super_add(struct super *s, const char *name, const char *exe, char *const argv[])
{
    return s->n++;
}

int super_start(struct super *s)
{
    return 0;
}

int super_peer(struct super *s, pid_t pid, uid_t uid)
{
    return -1;
}

const char *super_name(struct super *s, int idx)
{
    return "?";
}

void super_connected(struct super *s, int idx)
{
}

void super_seen(struct super *s, int idx)
{
}

void super_disconnected(struct super *s, int idx)
{
}

void super_note_refused(struct super *s)
{
}

uid_t super_uid(const struct super *s)
{
    return 65534;
}

gid_t super_gid(const struct super *s)
{
    return 65534;
}

int super_state(struct super *s, struct lyd_node *mgmt)
{
    return 0;
}

void super_free(struct super *s)
{
    free(s);
}
