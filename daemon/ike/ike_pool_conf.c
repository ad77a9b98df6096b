/* The address book compiled at prepare (ike_conf.h): the IPv4 and IPv6 pools
 * with their ranges and the checks that they share no address. A commit that
 * changes no pool builds none (apply hands the one in force over); one that
 * changes a few IPv4 pools no session leases from patches the one in force
 * (pool.h pool_patch), built beside it here and applied with it; any other
 * builds the whole address book, into which prepare carries the leases. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/ike/ike_eng.h"
#include "daemon/pool/pool.h"
#include "daemon/base/poison.h"

#define V "/raven-vpn:"

/* pools/partition: every range of every pool (IPv4 and IPv6) is cut into
 * count slices and this headend hands out slice index only (pool.h
 * pool_slice). A change of it touches pools but no pool entry: the address
 * book is built whole, and prepare's carry refuses it when a lease falls out
 * of the new slice. */
static void set_partition(const struct ike_conf *c, struct pool_set *ps)
{
    const char *count = ike_leaf(c->src, V "pools/partition/count");
    const char *index = ike_leaf(c->src, V "pools/partition/index");

    if (count && index)
        pool_set_partition(ps, (unsigned)atoi(count), (unsigned)atoi(index));
}

static bool build_pools(struct ike_conf *c, ike_err_fn err, void *arg)
{
    struct ly_set *set = NULL;
    bool ok = true;

    c->pools = pool_set_new();
    if (!c->pools) {
        ike_errf(err, arg, NULL, "out of memory");
        return false;
    }
    set_partition(c, c->pools);
    if (!c->src || lyd_find_xpath(c->src, V "pools/ipv4-pool", &set))
        return true;
    for (uint32_t i = 0; i < set->count; i++) {
        const struct lyd_node *pn = set->dnodes[i], *r;
        const char *mask = ike_leaf(pn, "netmask");
        struct in_addr m = {0};
        struct pool *p;

        if (mask)
            inet_pton(AF_INET, mask, &m);
        p = pool_set_add(c->pools, ike_leaf(pn, "name"), ntohl(m.s_addr));
        if (!p) { /* the names are keys: only memory can fail */
            ike_errf(err, arg, pn, "out of memory");
            ok = false;
            break;
        }
        LY_LIST_FOR(lyd_child(pn), r) {
            struct in_addr s, e;
            int rc;

            if (strcmp(r->schema->name, "range"))
                continue;
            if (inet_pton(AF_INET, ike_leaf(r, "start"), &s) != 1 || inet_pton(AF_INET, ike_leaf(r, "end"), &e) != 1)
                continue;
            rc = pool_add_range(c->pools, p, ntohl(s.s_addr), ntohl(e.s_addr));
            if (rc == -EINVAL) {
                ike_errf(err, arg, r, "range start %s is above its end %s", ike_leaf(r, "start"), ike_leaf(r, "end"));
                ok = false;
            } else if (rc == -EEXIST) {
                ike_errf(err, arg, r, "range %s..%s overlaps another range of an IPv4 pool; pools must not share addresses",
                     ike_leaf(r, "start"), ike_leaf(r, "end"));
                ok = false;
            } else if (rc) {
                ok = false;
            }
        }
    }
    ly_set_free(set, NULL);
    return ok;
}

/* Whether two IPv6 prefixes share addresses (one contains the other). */
static bool prefixes_overlap(const uint8_t *a, unsigned al, const uint8_t *b, unsigned bl)
{
    unsigned n = al < bl ? al : bl;

    if (memcmp(a, b, n / 8))
        return false;
    return n % 8 == 0 || !((a[n / 8] ^ b[n / 8]) & (uint8_t)(0xff << (8 - n % 8)));
}

static bool build_pools6(struct ike_conf *c, ike_err_fn err, void *arg)
{
    struct ly_set *set = NULL;
    bool ok = true;
    uint8_t (*seen)[16] = NULL;
    unsigned *seen_len = NULL;
    size_t nseen = 0;

    c->pools6 = pool_set_new();
    if (!c->pools6) {
        ike_errf(err, arg, NULL, "out of memory");
        return false;
    }
    set_partition(c, c->pools6);
    if (!c->src || lyd_find_xpath(c->src, V "pools/ipv6-pool", &set))
        return true;
    for (uint32_t i = 0; i < set->count; i++) {
        const struct lyd_node *pn = set->dnodes[i];
        const char *pfx = ike_leaf(pn, "prefix"), *al = ike_leaf(pn, "assigned-length"), *slash;
        char a[INET6_ADDRSTRLEN];
        uint8_t raw[16];

        slash = pfx ? strchr(pfx, '/') : NULL;
        if (!slash || (size_t)(slash - pfx) >= sizeof(a))
            continue;
        memcpy(a, pfx, (size_t)(slash - pfx));
        a[slash - pfx] = 0;
        if (inet_pton(AF_INET6, a, raw) != 1 ||
            !pool_set_add6(c->pools6, ike_leaf(pn, "name"), raw, (unsigned)atoi(slash + 1), al ? (unsigned)atoi(al) : 128)) {
            ike_errf(err, arg, pn, "IPv6 pool %s cannot be built from prefix %s", ike_leaf(pn, "name"), pfx);
            ok = false;
            continue;
        }
        for (size_t j = 0; j < nseen; j++) {
            if (prefixes_overlap(seen[j], seen_len[j], raw, (unsigned)atoi(slash + 1))) {
                ike_errf(err, arg, pn, "prefix %s of IPv6 pool %s overlaps another IPv6 pool; pools must not share "
                     "addresses", pfx, ike_leaf(pn, "name"));
                ok = false;
                break;
            }
        }
        if (!seen) {
            seen = calloc(set->count, sizeof(*seen));
            seen_len = calloc(set->count, sizeof(*seen_len));
            if (!seen || !seen_len) {
                ike_errf(err, arg, pn, "out of memory");
                ok = false;
                break;
            }
        }
        memcpy(seen[nseen], raw, 16);
        seen_len[nseen++] = (unsigned)atoi(slash + 1);
    }
    free(seen);
    free(seen_len);
    ly_set_free(set, NULL);
    return ok;
}

/* ---- a few IPv4 pools changed: a patch of the address book in force ---- */

struct pool_edit {
    uint32_t (*gone)[2], (*added)[2]; /* the changed pools' ranges before and after */
    size_t ngone, nadded, cap_gone, cap_added;
};

static bool edit_add(uint32_t (**v)[2], size_t *n, size_t *cap, uint32_t start, uint32_t end)
{
    if (*n == *cap) {
        size_t nc = *cap ? 2 * *cap : 8;
        uint32_t(*nv)[2] = realloc(*v, nc * sizeof(**v));

        if (!nv)
            return false;
        *v = nv;
        *cap = nc;
    }
    (*v)[*n][0] = start;
    (*v)[(*n)++][1] = end;
    return true;
}

/* Pool @name as c->src has it (or its removal) into @pp, its ranges before and
 * after into @ed; false when the address book is to be built whole instead
 * (the pool is leased, a range is wrong: the whole build says what and where). */
static bool patch_pool(struct ike_conf *c, struct pool_patch *pp, const char *name, struct pool_edit *ed)
{
    const struct lyd_node *pn = strchr(name, '\'') ? NULL : ike_find(c->src, V "pools/ipv4-pool[name='%s']", name), *r;
    uint32_t old[64][2];
    size_t nold = pool_ranges4(c->prev->pools, name, old, 64);
    struct in_addr m = {0};
    const char *mask;
    struct pool *p;

    if (strchr(name, '\'') || nold > 64)
        return false;
    for (size_t i = 0; i < nold; i++) {
        if (!edit_add(&ed->gone, &ed->ngone, &ed->cap_gone, old[i][0], old[i][1]))
            return false;
    }
    if (!pn)
        return !pool_patch_del(pp, name);
    if ((mask = ike_leaf(pn, "netmask")))
        inet_pton(AF_INET, mask, &m);
    if (pool_patch_put(pp, name, ntohl(m.s_addr), &p))
        return false;
    LY_LIST_FOR(lyd_child(pn), r) {
        struct in_addr s, e;

        if (strcmp(r->schema->name, "range") || inet_pton(AF_INET, ike_leaf(r, "start"), &s) != 1 ||
            inet_pton(AF_INET, ike_leaf(r, "end"), &e) != 1)
            continue;
        if (pool_patch_range(pp, p, ntohl(s.s_addr), ntohl(e.s_addr)) ||
            !edit_add(&ed->added, &ed->nadded, &ed->cap_added, ntohl(s.s_addr), ntohl(e.s_addr)))
            return false;
    }
    return true;
}

static void range4(struct ike_range *x, uint32_t start, uint32_t end)
{
    uint32_t lo = htonl(start), hi = htonl(end);

    memset(x, 0, sizeof(*x));
    x->family = AF_INET;
    memcpy(x->lo, &lo, 4);
    memcpy(x->hi, &hi, 4);
}

/* The pools' ranges: the previous generation's without @ed's gone, with its added. */
static bool patch_ranges(struct ike_conf *c, const struct pool_edit *ed)
{
    const struct ike_conf *prev = c->prev;

    c->pool_ranges = calloc(prev->npool_ranges + ed->nadded + 1, sizeof(*c->pool_ranges));
    if (!c->pool_ranges)
        return false;
    for (size_t i = 0; i < prev->npool_ranges; i++) {
        const struct ike_range *x = &prev->pool_ranges[i];
        bool gone = false;

        for (size_t j = 0; x->family == AF_INET && !gone && j < ed->ngone; j++) {
            struct ike_range g;

            range4(&g, ed->gone[j][0], ed->gone[j][1]);
            gone = !memcmp(x->lo, g.lo, 4) && !memcmp(x->hi, g.hi, 4);
        }
        if (!gone)
            c->pool_ranges[c->npool_ranges++] = *x;
    }
    for (size_t j = 0; j < ed->nadded; j++)
        range4(&c->pool_ranges[c->npool_ranges++], ed->added[j][0], ed->added[j][1]);
    return true;
}

/* Only IPv4 pools changed, entry by entry, none of them leased: a patch of the
 * address book in force, applied with it at apply (ike_conf_take_pools), and
 * the pools' ranges those before with the changed pools' replaced; 10 000
 * pools are not built again for one. False (nothing kept) when the address
 * book is to be built whole. */
static bool patch_pools(struct ike_conf *c)
{
    struct pool_edit ed = {0};
    struct pool_patch *pp = NULL;
    char **names;
    size_t n;
    bool done;

    if (!c->prev || !c->prev->pools || !c->prev->pools6 ||
        !ike_changed_keys(c, V "pools", V "pools/ipv4-pool", &names, &n))
        return false;
    done = n && (pp = pool_patch_new(c->prev->pools));
    for (size_t i = 0; done && i < n; i++) {
        if (i && !strcmp(names[i], names[i - 1]))
            continue;
        done = patch_pool(c, pp, names[i], &ed);
    }
    done = done && !pool_patch_ready(pp) && patch_ranges(c, &ed);
    if (n && !done) {
        pool_patch_free(pp);
        free(c->pool_ranges);
        c->pool_ranges = NULL;
        c->npool_ranges = 0;
    }
    if (done) {
        c->pool_patch = pp;
        c->pools_moved = true;
    }
    free(ed.gone);
    free(ed.added);
    ike_keys_free(names, n);
    return done;
}

bool ike_pools_compile(struct ike_conf *c, ike_err_fn err, void *arg)
{
    bool ok;

    /* no pool changed: the address book in force goes on (apply hands it over) */
    c->pools_moved = c->prev && c->prev->pools && c->prev->pools6 && !ike_conf_touched(c, V "pools");
    if (c->pools_moved || patch_pools(c))
        return true;
    ok = build_pools(c, err, arg);
    return build_pools6(c, err, arg) && ok;
}

void ike_conf_take_pools(struct ike_conf *c, struct ike_conf *old)
{
    if (!c->pools_moved || !old)
        return;
    c->pools = old->pools;
    c->pools6 = old->pools6;
    old->pools = old->pools6 = NULL;
    c->pools_moved = false;
    if (c->pool_patch) /* cannot fail: checked and made room for at prepare */
        pool_patch_apply(c->pool_patch);
    c->pool_patch = NULL;
}
