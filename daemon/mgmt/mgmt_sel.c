/* What a read of the operational state needs (mgmt.h, struct mgmt_state_sel),
 * from its XPaths: running only for an XPath outside vpn-state, the session list
 * only when an XPath can select sessions, and one session when every XPath that
 * names the list carries the same key ("session[id='7']", with or without module
 * prefixes, as RESTCONF paths and NETCONF subtree filters write them).
 *
 * Only a narrow grammar is recognised: an absolute path of plain child steps
 * ("/raven-vpn:name/name/..."), each step with at most literal equality
 * predicates on a child ("[name='literal']"), none on vpn-state itself. Such a
 * path selects within the subtree it names and its predicates read nothing
 * outside the node they sit on, so the parts of the tree it does not name can
 * be left unbuilt. Anything else (unions, wildcards, "..", axes, "//",
 * functions, whitespace, other predicates) may reach any node: it selects
 * everything. The selection of the XPaths themselves is still made on the built
 * tree (cfg_tree_select). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/mgmt/mgmt.h"

#define MOD "raven-vpn:"
#define MAX_STEPS 3 /* the steps a classification looks at */

/* One step of a path: its name (without "raven-vpn:"), whether it has
 * predicates, and whether they are exactly one key "[id='N']" (N in @id). */
struct step {
    const char *name;
    size_t len;
    bool pred, key;
    uint64_t id;
};

/* An identifier (YANG: a letter or '_', then letters, digits, '_', '-', '.')
 * at @p: its length, 0 when none. */
static size_t ident(const char *p)
{
    size_t n = 0;

    if (!((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= 'A' && p[0] <= 'Z') || p[0] == '_'))
        return 0;
    while ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z') || (p[n] >= '0' && p[n] <= '9') ||
           p[n] == '_' || p[n] == '-' || p[n] == '.')
        n++;
    return n;
}

/* Skips "raven-vpn:" at @p. */
static const char *unprefix(const char *p)
{
    return strncmp(p, MOD, strlen(MOD)) ? p : p + strlen(MOD);
}

/* A predicate "[name='literal']" (or "name=\"literal\"", "raven-vpn:name") at
 * @p: the position after it, NULL when @p holds anything else. Whether it is
 * the key "[id='N']" (N in decimal) in *@key, N in *@id. */
static const char *pred(const char *p, bool *key, uint64_t *id)
{
    const char *name, *lit, *end;
    size_t n;
    char q, *e;
    unsigned long long v;

    if (*p++ != '[')
        return NULL;
    name = p = unprefix(p);
    n = ident(p);
    p += n;
    if (!n || *p++ != '=' || (*p != '\'' && *p != '"'))
        return NULL;
    q = *p++;
    lit = p;
    end = strchr(p, q);
    if (!end || end[1] != ']')
        return NULL;
    *key = false;
    if (n == 2 && !strncmp(name, "id", 2) && end > lit && strspn(lit, "0123456789") == (size_t)(end - lit)) {
        errno = 0;
        v = strtoull(lit, &e, 10);
        if (e == end && !errno) {
            *key = true;
            *id = (uint64_t)v;
        }
    }
    return end + 2;
}

/* Parses @x in the grammar above: its first steps in @s (at most MAX_STEPS,
 * the count in *@n; a predicate on a later step sets s[MAX_STEPS - 1].pred).
 * False when @x is outside the grammar. */
static bool parse(const char *x, struct step *s, size_t *n)
{
    const char *p = x;
    size_t i = 0;

    *n = 0;
    if (*p != '/' || strncmp(p + 1, MOD, strlen(MOD)))
        return false; /* the first step names its module */
    while (*p) {
        struct step *cur = &s[i < MAX_STEPS ? i : MAX_STEPS - 1], st = {0};
        size_t npred = 0;
        bool key = false;
        uint64_t id = 0;

        if (*p++ != '/')
            return false;
        st.name = p = unprefix(p);
        st.len = ident(p);
        if (!st.len)
            return false;
        p += st.len;
        while (*p == '[') {
            if (!(p = pred(p, &key, &id)))
                return false;
            npred++;
        }
        if (*p && *p != '/')
            return false;
        st.pred = npred > 0;
        st.key = npred == 1 && key;
        st.id = id;
        if (i < MAX_STEPS)
            *cur = st;
        else
            cur->pred |= st.pred;
        i++;
    }
    *n = i < MAX_STEPS ? i : MAX_STEPS;
    return true;
}

static bool is(const struct step *s, const char *name)
{
    return s->len == strlen(name) && !strncmp(s->name, name, s->len);
}

void mgmt_sel_from_xpaths(struct mgmt_state_sel *sel, const char *const *xpaths)
{
    bool keyed = true, any_session = false;
    uint64_t key = 0;

    sel->config = sel->others = sel->sessions = false;
    sel->one = sel->filtered = false;
    if (!xpaths) {
        sel->config = sel->others = sel->sessions = true;
        return;
    }
    for (size_t i = 0; xpaths[i]; i++) {
        struct step s[MAX_STEPS];
        size_t n;

        if (!parse(xpaths[i], s, &n) || (is(&s[0], "vpn-state") && s[0].pred)) {
            /* may reach anything, sessions by any of their values */
            sel->config = sel->others = sel->sessions = true;
            sel->filtered = true;
            keyed = false;
            continue;
        }
        if (!is(&s[0], "vpn-state")) { /* another top-level node: configuration */
            sel->config = true;
            continue;
        }
        if (n == 1) { /* all of vpn-state */
            sel->others = sel->sessions = true;
            keyed = false;
            continue;
        }
        if (!is(&s[1], "session")) {
            sel->others = true;
            continue;
        }
        sel->sessions = true;
        if (s[1].pred || (n > 2 && s[2].pred))
            sel->filtered = true;
        if (!s[1].key || (n > 2 && s[2].pred) || (any_session && s[1].id != key))
            keyed = false;
        key = s[1].id;
        any_session = true;
    }
    if (sel->sessions && any_session && keyed) {
        sel->one = true;
        sel->id = key;
    }
}
