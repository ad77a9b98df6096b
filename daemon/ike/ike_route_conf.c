/* What the routes of sessions (ike_route.c) take from the configuration, read
 * from its tree when a generation is compiled or a commit is checked (SPEC S7,
 * S9; ike_conf.h): the front-door VRFs to listen in, an authorization policy's
 * route settings, and the check that the VRF devices and route set interfaces
 * the configuration names exist. No exchange calls these. */
#include <errno.h>
#include <libyang/libyang.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/ike/ike_eng.h"
#include "daemon/base/poison.h"

/* ---- front-door VRFs ---- */

size_t ike_route_fvrfs(const struct lyd_node *tree, char (*out)[16], size_t cap)
{
    static const char *const paths[] = {"/raven-vpn:ikev2/policy/match/fvrf", "/raven-vpn:ikev2/profile/match/fvrf"};
    size_t n = 0;
    bool any = false;

    for (size_t p = 0; tree && p < 2; p++) {
        struct ly_set *set = NULL;

        if (lyd_find_xpath(tree, paths[p], &set))
            continue;
        for (uint32_t i = 0; i < set->count; i++) {
            const char *v = lyd_get_value(set->dnodes[i]);
            bool dup = false;

            any = any || !strcmp(v, "any");
            for (size_t j = 0; j < n; j++)
                dup = dup || !strcmp(out[j], v);
            if (strcmp(v, "any") && !dup && n < cap)
                snprintf(out[n++], 16, "%s", v);
        }
        ly_set_free(set, NULL);
    }
    return any ? ike_route_vrf_devices(out, n, cap) : n;
}

/* ---- authorization policies: their route settings ---- */

void ike_route_compile_policy(const struct lyd_node *pol, struct sess_authz_pol *p)
{
    const struct lyd_node *acc = ike_find(pol, "route/accept"), *rt = ike_find(pol, "route"), *ch;
    const struct lyd_node *set = ike_find(pol, "route/set");
    const char *v;

    if (acc) {
        p->route_accept = true;
        p->route_tag = (v = ike_leaf(acc, "tag")) ? (uint32_t)strtoul(v, NULL, 10) : 0;
        p->route_distance = (v = ike_leaf(acc, "distance")) ? (uint8_t)atoi(v) : 0;
    }
    LY_LIST_FOR(rt ? lyd_child(rt) : NULL, ch) {
        if (!strcmp(ch->schema->name, "redistribute") && (v = ike_leaf(ch, "protocol")) && !strcmp(v, "connected"))
            p->route_connected = true;
    }
    LY_LIST_FOR(set ? lyd_child(set) : NULL, ch) {
        if (!strcmp(ch->schema->name, "interface") && p->nroute_ifaces < SESS_MAX_ATTR_LIST)
            p->route_ifaces[p->nroute_ifaces++] = lyd_get_value(ch);
    }
}

/* ---- commit checks ---- */

static void check_vrf(const struct lyd_node *n, const char *what, ike_err_fn err, void *arg, bool *ok)
{
    const char *v = lyd_get_value(n);
    int rc;
    char msg[300], *path;

    if (!strcmp(v, "any") && strcmp(what, "ivrf"))
        return;
    rc = ike_route_vrf(v, NULL, NULL);
    if (!rc)
        return;
    snprintf(msg, sizeof(msg), "%s %s: %s; create it first (ip link add %s type vrf table N)", what, v,
             rc == -ENODEV ? "no such device" : rc == -EMEDIUMTYPE ? "not a VRF device" : strerror(-rc), v);
    path = lyd_path(n, LYD_PATH_STD, NULL, 0);
    if (err)
        err(arg, path, msg);
    free(path);
    *ok = false;
}

bool ike_route_check(const struct lyd_node *tree, ike_err_fn err, void *arg)
{
    static const char *const paths[] = {"/raven-vpn:ikev2/policy/match/fvrf", "/raven-vpn:ikev2/profile/match/fvrf",
                                        "/raven-vpn:ikev2/profile/ivrf"};
    static const char *const what[] = {"front-door VRF", "front-door VRF", "ivrf"};
    bool ok = true;

    for (size_t p = 0; tree && p < 3; p++) {
        struct ly_set *set = NULL;

        if (lyd_find_xpath(tree, paths[p], &set))
            continue;
        for (uint32_t i = 0; i < set->count; i++)
            check_vrf(set->dnodes[i], what[p], err, arg, &ok);
        ly_set_free(set, NULL);
    }
    return ok;
}

bool ike_route_check_policy(const struct lyd_node *pol, const struct sess_authz_pol *p, ike_err_fn err, void *arg)
{
    const struct lyd_node *set = ike_find(pol, "route/set"), *ch;
    bool ok = true;

    if (!p->nroute_ifaces)
        return true;
    LY_LIST_FOR(set ? lyd_child(set) : NULL, ch) {
        char msg[300], *path;

        if (strcmp(ch->schema->name, "interface") || if_nametoindex(lyd_get_value(ch)))
            continue;
        snprintf(msg, sizeof(msg), "route set interface %s: no such interface; name an existing one",
                 lyd_get_value(ch));
        path = lyd_path(ch, LYD_PATH_STD, NULL, 0);
        if (err)
            err(arg, path, msg);
        free(path);
        ok = false;
    }
    return ok;
}
