/* The events ravend pushes to the front ends: YANG notifications (the daemon's,
 * and netconf-config-change of RFC 6470 for every committed change), `changed`
 * when running or the operational state moved; and the management part of the
 * operational state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/log.h"
#include "daemon/mgmt/mgmt_impl.h"
#include "daemon/mgmt/mgmt_super.h"
#include "daemon/base/poison.h"

/* At most this many edits in one netconf-config-change. */
#define MAX_EDITS 256

int mgmt_register(struct mgmt *m)
{
    return mlisten_register(m);
}

static const char *edit_op(enum cfg_chg_op op)
{
    switch (op) {
    case CFG_CHG_CREATE:
        return "create";
    case CFG_CHG_DELETE:
        return "delete";
    case CFG_CHG_REPLACE:
        return "replace";
    default:
        return "merge";
    }
}

struct lyd_node *mgmt_config_change_notif(struct ly_ctx *ctx, const struct cfg_actor *actor,
                                          const struct cfg_change *chg, size_t n)
{
    const struct lys_module *mod = ly_ctx_get_module_implemented(ctx, "ietf-netconf-notifications");
    struct lyd_node *ev = NULL, *by = NULL, *edit;
    char sid[16];

    if (!mod || lyd_new_inner(NULL, mod, "netconf-config-change", 0, &ev))
        return NULL;
    lyd_new_inner(ev, NULL, "changed-by", 0, &by);
    if (actor && actor->sid) {
        snprintf(sid, sizeof(sid), "%u", actor->sid);
        lyd_new_term(by, NULL, "username", actor->user ? actor->user : "", 0, NULL);
        lyd_new_term(by, NULL, "session-id", sid, 0, NULL);
        if (actor->host)
            lyd_new_term(by, NULL, "source-host", actor->host, 0, NULL);
    } else {
        lyd_new_term(by, NULL, "server", NULL, 0, NULL);
    }
    lyd_new_term(ev, NULL, "datastore", "running", 0, NULL);
    for (size_t i = 0; i < n && i < MAX_EDITS; i++) {
        if (!chg[i].path || !strcmp(chg[i].path, "/"))
            continue;
        if (lyd_new_list(ev, NULL, "edit", 0, &edit))
            continue;
        if (lyd_new_term(edit, NULL, "target", chg[i].path, 0, NULL) ||
            lyd_new_term(edit, NULL, "operation", edit_op(chg[i].op), 0, NULL))
            lyd_free_tree(edit);
    }
    return ev;
}

static bool any_front_end(const struct mgmt *m)
{
    for (const struct mconn *c = m->conns; c; c = c->next) {
        if (c->kind != MGMT_KIND_NONE && !c->dead)
            return true;
    }
    return false;
}

void mgmt_notify(struct mgmt *m, struct lyd_node *notif)
{
    struct lyd_node *root = notif;
    char *xml = NULL, *t = NULL;

    while (root && lyd_parent(root))
        root = lyd_parent(root);
    if (m && root && any_front_end(m) && !ly_time_time2str(time(NULL), NULL, &t) &&
        !lyd_print_mem(&xml, root, LYD_XML, LYD_PRINT_SHRINK) && xml)
        mgmt_broadcast(m, MGMT_KIND_NONE, json_pack("{s:s, s:s}", "ev", "notification", "time", t), xml,
                       strlen(xml));
    free(xml);
    free(t);
    lyd_free_all(root);
}

static void changed(struct mgmt *m, bool config)
{
    time_t mtime;
    uint64_t gen = cfg_running_gen(m->cfg, &mtime);

    mgmt_broadcast(m, MGMT_KIND_NONE,
                   json_pack("{s:s, s:I, s:I, s:b}", "ev", "changed", "gen", (json_int_t)gen, "mtime",
                             (json_int_t)mtime, "config", config),
                   NULL, 0);
}

void mgmt_config_changed(const struct cfg_actor *actor, const struct cfg_change *chg, size_t n, void *arg)
{
    struct mgmt *m = arg;

    if (!m)
        return;
    changed(m, true);
    if (n && any_front_end(m))
        mgmt_notify(m, mgmt_config_change_notif(m->ctx, actor, chg, n));
}

void mgmt_state_changed(struct mgmt *m)
{
    if (m)
        changed(m, false);
}

int mgmt_state(struct mgmt *m, struct lyd_node *vpn_state)
{
    struct lyd_node *mg = NULL;

    if (!m || !m->sup)
        return 0;
    /* absent from a schema without vpn-state/management: nothing to add */
    if (lyd_new_inner(vpn_state, NULL, "management", 0, &mg))
        return 0;
    return super_state(m->sup, mg);
}
