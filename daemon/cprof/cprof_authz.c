/* DNS and split-tunnel data of a client profile: what the local authorization
 * policies that the profile's sessions get say, read from the configuration as
 * the engine compiles and merges them (daemon/ike/ike_authz_conf.c,
 * ike_authz.c authz_policy, daemon/session/sess_authz.c sess_authorize): the
 * user source, then the group source (the other way round with override), else
 * the policy named "default" when the profile configures no authorization; the
 * first source that sets an attribute gives it. Only what is known before the
 * client connects counts: a source whose method list asks RADIUS first, or whose
 * name comes from a name mangler, gives nothing here (its answer depends on the
 * user and the server), which docs/clients.md says. */
#include <stdlib.h>
#include <string.h>

#include <libyang/libyang.h>

#include "daemon/cprof/cprof_int.h"
#include "daemon/base/poison.h"

/* The authorization policy an authorization source (a profile's aaa
 * authorization user|group eap|cert container) names, or NULL when the
 * configuration alone does not say: its method list must have a local method
 * and not start with a RADIUS group, and the name must be the fixed username or,
 * for EAP without a mangler, the user's identity. */
static const struct lyd_node *src_policy(const struct lyd_node *tree, const struct lyd_node *src, const char *user,
                                         bool eap, struct cprof_authz *a)
{
    const char *list = cprof_leaf(src, "method-list"), *name = cprof_leaf(src, "username");
    const struct lyd_node *l = list ? cprof_entry(cprof_top(tree, "aaa"), "authorization-list", list) : NULL;
    const struct lyd_node *m, *first = NULL;
    unsigned long best = ~0ul;
    bool local = false;

    LY_LIST_FOR(l ? lyd_child(l) : NULL, m) {
        const char *seq = strcmp(m->schema->name, "method") ? NULL : cprof_leaf(m, "sequence");

        if (!seq)
            continue;
        if (strtoul(seq, NULL, 10) < best) {
            best = strtoul(seq, NULL, 10);
            first = m;
        }
        local |= cprof_child(m, "local") != NULL;
    }
    a->radius |= (first && cprof_child(first, "group")) || cprof_child(src, "cached");
    if (!local || (first && cprof_child(first, "group")))
        return NULL;
    if (!name && eap && !cprof_leaf(src, "name-mangler"))
        name = user;
    return name ? cprof_entry(cprof_top(tree, "ikev2"), "authorization-policy", name) : NULL;
}

static void add_unique(const char **v, size_t *n, size_t cap, const char *s)
{
    for (size_t i = 0; i < *n; i++) {
        if (!strcmp(v[i], s))
            return;
    }
    if (*n < cap)
        v[(*n)++] = s;
}

/* The split subnets of policy @pol as ike_authz_conf.c compiles them: route set
 * remote, then the permits of route set access-list ipv4, ipv6 and
 * ipv6-subnet-acl. */
static void subnets(const struct lyd_node *tree, const struct lyd_node *pol, struct cprof_authz *a)
{
    const struct lyd_node *rem = cprof_path(pol, "route/set/remote"), *ch, *acl, *en;
    const char *acls[3] = {cprof_leaf(pol, "route/set/access-list/ipv4"), cprof_leaf(pol, "route/set/access-list/ipv6"),
                           cprof_leaf(pol, "ipv6-subnet-acl")};

    LY_LIST_FOR(rem ? lyd_child(rem) : NULL, ch) {
        if (!strcmp(ch->schema->name, "ipv4") || !strcmp(ch->schema->name, "ipv6"))
            add_unique(a->subnets, &a->nsubnets, CPROF_MAX_SUBNETS, lyd_get_value(ch));
    }
    for (int i = 0; i < 3; i++) {
        acl = acls[i] ? cprof_entry(cprof_top(tree, "access-lists"), "access-list", acls[i]) : NULL;
        LY_LIST_FOR(acl ? lyd_child(acl) : NULL, en) {
            const char *act = strcmp(en->schema->name, "entry") ? NULL : cprof_leaf(en, "action");
            const char *pfx = cprof_leaf(en, "prefix");

            if (act && !strcmp(act, "permit") && pfx)
                add_unique(a->subnets, &a->nsubnets, CPROF_MAX_SUBNETS, pfx);
        }
    }
}

/* What @pol sets and @a does not have yet. */
static void from_policy(const struct lyd_node *tree, const struct lyd_node *pol, struct cprof_authz *a)
{
    const char *v, *list = cprof_leaf(pol, "aaa-attribute-list");
    const struct lyd_node *ch;

    if (a->npolicies < 3)
        a->policies[a->npolicies++] = cprof_leaf(pol, "name");
    if (!a->ndns4) {
        if ((v = cprof_leaf(pol, "dns/primary")))
            a->dns4[a->ndns4++] = v;
        if ((v = cprof_leaf(pol, "dns/secondary")))
            a->dns4[a->ndns4++] = v;
    }
    if (!a->ndns6) {
        if ((v = cprof_leaf(pol, "ipv6-dns/primary")))
            a->dns6[a->ndns6++] = v;
        if ((v = cprof_leaf(pol, "ipv6-dns/secondary")))
            a->dns6[a->ndns6++] = v;
    }
    if (!a->def_domain)
        a->def_domain = cprof_leaf(pol, "def-domain");
    if (!a->nsplit_dns) {
        LY_LIST_FOR(lyd_child(pol), ch) {
            if (!strcmp(ch->schema->name, "split-dns"))
                add_unique(a->split_dns, &a->nsplit_dns, CPROF_MAX_LIST, lyd_get_value(ch));
        }
    }
    if (!a->nsubnets)
        subnets(tree, pol, a);
    if (!a->mtu && list && (v = cprof_leaf(cprof_entry(cprof_top(tree, "aaa"), "attribute-list", list), "mtu")))
        a->mtu = (unsigned)strtoul(v, NULL, 10);
}

/* A source container of the configuration, not one libyang made as a default. */
static const struct lyd_node *src_of(const struct lyd_node *prof, const char *p)
{
    const struct lyd_node *s = cprof_path(prof, p);

    return s && !(s->flags & LYD_DEFAULT) ? s : NULL;
}

void cprof_authz_read(const struct lyd_node *tree, const struct lyd_node *prof, bool eap, const char *user,
                      struct cprof_authz *out)
{
    const struct lyd_node *usrc = src_of(prof, eap ? "aaa/authorization/user/eap" : "aaa/authorization/user/cert");
    const struct lyd_node *gsrc = src_of(prof, eap ? "aaa/authorization/group/eap" : "aaa/authorization/group/cert");
    const struct lyd_node *up, *gp, *first, *second;

    memset(out, 0, sizeof(*out));
    up = usrc ? src_policy(tree, usrc, user, eap, out) : NULL;
    gp = gsrc ? src_policy(tree, gsrc, user, eap, out) : NULL;
    first = up;
    second = gp;
    if (!usrc && !gsrc)
        first = cprof_entry(cprof_top(tree, "ikev2"), "authorization-policy", "default");
    else if (gsrc && cprof_child(gsrc, "override"))
        first = gp, second = up;
    if (first)
        from_policy(tree, first, out);
    if (second)
        from_policy(tree, second, out);
}
