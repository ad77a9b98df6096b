/* The events ravend pushes to the front ends: YANG notifications (the daemon's,
 * and netconf-config-change of RFC 6470 for every committed change), built and
 * sent only when a front end declared interest in their class (`interest`), and
 * `changed` when running or the operational state moved (the latter coalesced);
 * and the management part of the operational state. */
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
    int rc = mlisten_register(m);

    return rc ? rc : mgmt_nacm_register(m);
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

/* ---- interest ---- */

static const char *const ev_names[] = {"sessions", "auth", "config", "other"};

unsigned int mgmt_ev_class(const char *mod, const char *name)
{
    if (!strcmp(mod, "ietf-netconf-notifications"))
        return MGMT_EV_CONFIG;
    if (!strcmp(name, "session-up") || !strcmp(name, "session-down"))
        return MGMT_EV_SESSIONS;
    if (!strcmp(name, "authentication-failure"))
        return MGMT_EV_AUTH;
    if (!strcmp(name, "certificate-warning"))
        return MGMT_EV_CONFIG;
    return MGMT_EV_OTHER;
}

unsigned int mgmt_interest_all(const struct mgmt *m)
{
    unsigned int all = 0;

    for (const struct mconn *c = m->conns; c; c = c->next) {
        if (c->kind != MGMT_KIND_NONE && !c->dead)
            all |= c->interest;
    }
    return all;
}

bool mgmt_wants(const struct mgmt *m, const char *name)
{
    /* the replay log keeps every notification, wanted now or not */
    return m && name && (m->replay || (mgmt_interest_all(m) & mgmt_ev_class("raven-vpn", name)));
}

/* {"op": "interest", "id": N, "events": ["sessions", ...]}: the classes the front
 * end's subscribers want from now on (replacing what it said before). Once the
 * reply is sent, every event of those classes goes to it. */
int mgmt_interest(struct mconn *c, json_t *req, const char **why)
{
    json_t *id = json_object_get(req, "id"), *evs = json_object_get(req, "events"), *e, *rep;
    unsigned int mask = 0;
    size_t i;

    if (!json_is_integer(id) || json_integer_value(id) < 0) {
        *why = "a request needs \"id\", an unsigned integer";
        return -1;
    }
    if (c->kind == MGMT_KIND_NONE) {
        *why = "the first request must be hello";
        return -1;
    }
    if (!json_is_array(evs)) {
        *why = "interest needs \"events\", an array of sessions, auth, config, other";
        return -1;
    }
    json_array_foreach(evs, i, e) {
        const char *n = json_string_value(e);
        size_t k = 0;

        while (n && k < sizeof(ev_names) / sizeof(ev_names[0]) && strcmp(n, ev_names[k]))
            k++;
        if (!n || k == sizeof(ev_names) / sizeof(ev_names[0])) {
            *why = "interest: an event class is one of sessions, auth, config, other";
            return -1;
        }
        mask |= 1u << k;
    }
    c->interest = mask;
    rep = json_pack("{s:O, s:i, s:[]}", "id", id, "rc", 0, "errors");
    if (rep)
        mconn_send(c, rep, NULL, 0, NULL, 0);
    json_decref(rep);
    return 0;
}

/* ---- notifications ---- */

/* The header of a `notification` event for the logged @e: its time and id, the
 * subscriber it is replayed for (0: live), and the users NACM keeps it from
 * (@deny, stolen). */
static json_t *notif_hdr(const struct mreplay_ent *e, uint32_t replay, json_t *deny)
{
    json_t *h = json_pack("{s:s, s:s, s:I, s:o}", "ev", "notification", "time", e->time, "id", (json_int_t)e->id,
                          "deny", deny);

    if (h && replay)
        json_object_set_new(h, "replay", json_integer(replay));
    return h;
}

bool mgmt_notif_send(struct mconn *c, const struct mreplay_ent *e, uint32_t replay)
{
    /* judged by the rules of now for the users of @c */
    json_t *h = notif_hdr(e, replay, mgmt_nacm_notif_deny(c->m, c, e->mod, e->name, e->paths, e->npaths));
    bool sent = h && !mconn_send(c, h, e->xml, e->len, NULL, 0);

    json_decref(h);
    return sent;
}

/* Every notification is logged for replay with the paths it reveals, and sent at
 * once to the front ends that want its class, with the users NACM keeps it from:
 * the header encoded once, the same frame to each. */
static void notif_out(struct mgmt *m, unsigned int cls, const char *mod, const char *name,
                      const struct lyd_node *tree, const char *xml, size_t len)
{
    struct mreplay_ent e = {.cls = cls, .xml = (char *)xml, .len = len};
    char **paths = calloc(MGMT_NOTIF_PATHS, sizeof(*paths));
    json_t *deny = NULL;
    struct timespec now;
    size_t np;

    if (!paths)
        return;
    np = mgmt_nacm_notif_paths(mod, name, tree, xml, paths);
    clock_gettime(CLOCK_REALTIME, &now);
    if (m->replay) {
        int64_t ns = mreplay_stamp(m->replay, (int64_t)now.tv_sec * 1000000000 + now.tv_nsec);

        now.tv_sec = ns / 1000000000;
        now.tv_nsec = ns % 1000000000;
    }
    if (ly_time_ts2str(&now, &e.time)) {
        for (size_t i = 0; i < np; i++)
            free(paths[i]);
        free(paths);
        return;
    }
    e.ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    m->notif_built++;
    if (mgmt_interest_all(m) & cls)
        deny = mgmt_nacm_notif_deny(m, NULL, mod, name, paths, np);
    if (m->replay) {
        e.id = mreplay_add(m->replay, cls, e.ns, e.time, xml, len, mod, name, paths, np);
    } else {
        for (size_t i = 0; i < np; i++)
            free(paths[i]);
        free(paths);
    }
    if (deny)
        mgmt_broadcast(m, MGMT_KIND_NONE, cls, notif_hdr(&e, 0, deny), xml, len);
    free(e.time);
}

void mgmt_notify_xml(struct mgmt *m, const char *mod, const char *name, const char *xml, size_t len)
{
    if (m && xml && mod && name)
        notif_out(m, mgmt_ev_class(mod, name), mod, name, NULL, xml, len);
}

void mgmt_notify(struct mgmt *m, struct lyd_node *notif)
{
    struct lyd_node *root = notif;
    char *xml = NULL;
    unsigned int cls = 0;

    while (root && lyd_parent(root))
        root = lyd_parent(root);
    if (root && root->schema)
        cls = mgmt_ev_class(root->schema->module->name, root->schema->name);
    /* encoded once: logged, and sent to the front ends that want it */
    if (m && cls && !lyd_print_mem(&xml, root, LYD_XML, LYD_PRINT_SHRINK) && xml)
        notif_out(m, cls, root->schema->module->name, root->schema->name, root, xml, strlen(xml));
    free(xml);
    lyd_free_all(root);
}

/* ---- changed ---- */

static void changed(struct mgmt *m, bool config)
{
    time_t mtime;
    uint64_t gen = cfg_running_gen(m->cfg, &mtime);

    /* any `changed` drops the front ends' caches: a pending one is covered */
    m->state_dirty = false;
    mgmt_broadcast(m, MGMT_KIND_NONE, 0,
                   json_pack("{s:s, s:I, s:I, s:b}", "ev", "changed", "gen", (json_int_t)gen, "mtime",
                             (json_int_t)mtime, "config", config),
                   NULL, 0);
}

void mgmt_config_changed(const struct cfg_actor *actor, const struct cfg_change *chg, size_t n, void *arg)
{
    struct mgmt *m = arg;

    if (!m)
        return;
    /* at once: the reply to the commit must find the new generation known */
    changed(m, true);
    if (n)
        mgmt_notify(m, mgmt_config_change_notif(m->ctx, actor, chg, n));
}

void mgmt_changed_flush(struct mgmt *m)
{
    if (m && m->state_dirty)
        changed(m, false);
}

void mgmt_state_changed(struct mgmt *m)
{
    if (!m || m->state_dirty)
        return;
    if (!m->changed_ev) {
        changed(m, false);
        return;
    }
    m->state_dirty = true;
    event_active(m->changed_ev, 0, 0);
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
