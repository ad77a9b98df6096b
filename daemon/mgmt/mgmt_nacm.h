/* NETCONF access control (RFC 8341, ietf-netconf-acm) of every request the
 * front ends forward: the rule engine, compiled from the configuration's /nacm
 * and /raven-vpn:management/user (roles and the recovery user). Pure: no
 * socket, no datastore; the control thread only. daemon/mgmt/README.md says how
 * roles, the built-in rule lists and the recovery user fit together. */
#ifndef RAVEN_MGMT_NACM_H
#define RAVEN_MGMT_NACM_H

#include <libyang/libyang.h>
#include <stdbool.h>
#include <stdint.h>

/* Access operations (the bits of ietf-netconf-acm:access-operations-type). */
enum {
    NACM_CREATE = 1,
    NACM_READ = 2,
    NACM_UPDATE = 4,
    NACM_DELETE = 8,
    NACM_EXEC = 16,
    NACM_ALL = 31,
};

struct nacm;

/* An engine with no configuration (enabled, RFC defaults, no user). */
struct nacm *nacm_new(struct ly_ctx *ctx);
void nacm_free(struct nacm *n);
/* Compiles the rules of the configuration @tree (siblings; NULL: none),
 * replacing the engine's. 0 or -ENOMEM (the engine then keeps its rules). */
int nacm_load(struct nacm *n, const struct lyd_node *tree);

/* Whether NACM leaves @user alone: enable-nacm false, the recovery user, or a
 * user only the built-in admin rule list concerns. Every check is then true. */
bool nacm_unrestricted(const struct nacm *n, const char *user);
/* Protocol operation @module:@name (an RPC, or a NETCONF operation). */
bool nacm_exec(const struct nacm *n, const char *user, const char *module, const char *name);
/* Notification @module:@name, and the data paths it reveals (@paths, @npaths:
 * each must be readable, e.g. a config change's targets; for a session event
 * also what lies below its session). False for a user not configured. */
bool nacm_notif(const struct nacm *n, const char *user, const char *module, const char *name,
                const char *const *paths, size_t npaths);
/* Read access to the data node at @path (an instance path with module-name
 * prefixes, e.g. /raven-vpn:vpn-state). False for a path naming no node. */
bool nacm_read_path(const struct nacm *n, const char *user, const char *path);
/* Removes from *tree (siblings) every node @user may not read (RFC 8341 3.4.5). */
void nacm_prune(const struct nacm *n, const char *user, struct lyd_node **tree);
/* The writes that turn @old into @new (siblings, either may be NULL), each
 * checked as create, update or delete of its node. 0, or -EACCES with the
 * first refused node's path (*path, to free) and access (*op). */
int nacm_check_write(const struct nacm *n, const char *user, const struct lyd_node *old, const struct lyd_node *new,
                     char **path, unsigned int *op);
/* Whether the rules of @n let some configured user that can log in (a
 * password or a key) run edit-config and create, update and delete
 * /ietf-netconf-acm:nacm and /raven-vpn:management; always true while NACM is
 * off or a recovery user that can log in is configured. On false, *why says
 * what is missing. */
bool nacm_admin_left(const struct nacm *n, const char **why);
/* "create", "read", ... for one access bit. */
const char *nacm_op_name(unsigned int op);

/* Counters of ietf-netconf-acm (state of /nacm). */
struct nacm_counters {
    uint64_t denied_operations;
    uint64_t denied_data_writes;
    uint64_t denied_notifications;
};
struct nacm_counters *nacm_counters(struct nacm *n);

#endif
