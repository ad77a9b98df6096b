/* What a read of the operational state needs (mgmt.h, struct mgmt_state_sel),
 * from its XPaths: running only for an XPath outside vpn-state, the session list
 * only when an XPath can select sessions, and one session when every XPath that
 * names the list carries the same key ("session[id='7']", with or without module
 * prefixes, as RESTCONF paths and NETCONF subtree filters write them). Anything
 * this does not recognise selects everything, as before: the selection of the
 * XPaths themselves is still made on the built tree (cfg_tree_select). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/mgmt/mgmt.h"

#define MOD "raven-vpn:"

/* Skips "raven-vpn:" at @p. */
static const char *unprefix(const char *p)
{
    return strncmp(p, MOD, strlen(MOD)) ? p : p + strlen(MOD);
}

/* Whether @p starts with the step @name, ended by @p's end, '/' or '['. The
 * rest after it in *rest. */
static bool step(const char *p, const char *name, const char **rest)
{
    size_t n = strlen(name);

    p = unprefix(p);
    if (strncmp(p, name, n) || (p[n] && p[n] != '/' && p[n] != '['))
        return false;
    *rest = p + n;
    return true;
}

/* A predicate "[id='N']" (or "id=\"N\"", "raven-vpn:id") that is the only one,
 * followed by the end or '/': true with N in @id. */
static bool key_pred(const char *p, uint64_t *id)
{
    char q, *end;
    unsigned long long v;

    if (*p++ != '[')
        return false;
    p = unprefix(p);
    if (strncmp(p, "id=", 3))
        return false;
    p += 3;
    q = *p++;
    if ((q != '\'' && q != '"') || *p < '0' || *p > '9')
        return false;
    v = strtoull(p, &end, 10);
    if (*end != q || end[1] != ']' || (end[2] && end[2] != '/'))
        return false;
    *id = (uint64_t)v;
    return true;
}

void mgmt_sel_from_xpaths(struct mgmt_state_sel *sel, const char *const *xpaths)
{
    bool keyed = true, any_session = false;
    uint64_t key = 0;

    sel->config = sel->others = sel->sessions = false;
    sel->one = false;
    if (!xpaths) {
        sel->config = sel->others = sel->sessions = true;
        return;
    }
    for (size_t i = 0; xpaths[i]; i++) {
        const char *x = xpaths[i], *rest;
        uint64_t id = 0;

        if (x[0] != '/' || !step(x + 1, "vpn-state", &rest)) {
            /* another top-level node of raven-vpn is configuration only */
            const char *p = x + 1;

            if (x[0] == '/' && !strncmp(p, MOD, strlen(MOD)) && strcmp(p + strlen(MOD), "vpn-state")) {
                p += strlen(MOD) + strspn(p + strlen(MOD), "abcdefghijklmnopqrstuvwxyz0123456789-_");
                if (p > x + 1 + strlen(MOD) && (!*p || *p == '/' || *p == '[')) {
                    sel->config = true;
                    continue;
                }
            }
            sel->config = sel->others = sel->sessions = true;
            keyed = false;
            continue;
        }
        if (!*rest) { /* all of vpn-state */
            sel->others = sel->sessions = true;
            keyed = false;
            continue;
        }
        if (*rest != '/') { /* a predicate on vpn-state: whatever it means */
            sel->others = sel->sessions = true;
            keyed = false;
            continue;
        }
        if (!step(rest + 1, "session", &rest)) {
            sel->others = true;
            continue;
        }
        sel->sessions = true;
        if (!key_pred(rest, &id) || (any_session && id != key))
            keyed = false;
        key = id;
        any_session = true;
    }
    if (sel->sessions && any_session && keyed) {
        sel->one = true;
        sel->id = key;
    }
}
