/* IPv4 pools changed in place: a patch of the live set (pool.h pool_patch). */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/pool/pool.h"
#include "daemon/pool/pool_impl.h"

#include "daemon/base/poison.h"

struct pool_patch {
    struct pool_set *live;
    struct pool **put; /* the new pools, standalone (in no set) */
    struct pool **old; /* the live pool each replaces, NULL: none */
    size_t nput;
    struct pool **del; /* live pools removed */
    size_t ndel;
    size_t nspans; /* ranges the new pools bring */
};

struct pool_patch *pool_patch_new(struct pool_set *live)
{
    struct pool_patch *pp = calloc(1, sizeof(*pp));

    if (pp)
        pp->live = live;
    return pp;
}

void pool_patch_free(struct pool_patch *pp)
{
    if (!pp)
        return;
    for (size_t i = 0; i < pp->nput; i++)
        pool_free_one(pp->put[i]);
    free(pp->put);
    free(pp->old);
    free(pp->del);
    free(pp);
}

/* Whether the live pool @p goes (replaced or removed) with @pp. */
static bool patch_drops(const struct pool_patch *pp, const struct pool *p)
{
    for (size_t i = 0; i < pp->nput; i++) {
        if (pp->old[i] == p)
            return true;
    }
    for (size_t i = 0; i < pp->ndel; i++) {
        if (pp->del[i] == p)
            return true;
    }
    return false;
}

/* The live pool @name, which the patch may drop: -EBUSY when it is IPv6 or an
 * address of it is held, -EEXIST when the patch has it already. */
static int patch_target(const struct pool_patch *pp, const char *name, struct pool **live)
{
    *live = pool_find(pp->live, name);
    for (size_t i = 0; i < pp->nput; i++) {
        if (!strcmp(pp->put[i]->name, name))
            return -EEXIST;
    }
    if (*live && patch_drops(pp, *live))
        return -EEXIST;
    return *live && ((*live)->ipv6 || (*live)->nheld) ? -EBUSY : 0;
}

int pool_patch_del(struct pool_patch *pp, const char *name)
{
    struct pool *live, **nd;
    int rc = patch_target(pp, name, &live);

    if (rc || !live)
        return rc;
    if (!(nd = realloc(pp->del, (pp->ndel + 1) * sizeof(*nd))))
        return -ENOMEM;
    pp->del = nd;
    pp->del[pp->ndel++] = live;
    return 0;
}

int pool_patch_put(struct pool_patch *pp, const char *name, uint32_t netmask, struct pool **out)
{
    struct pool *live, *p, **np, **no;
    int rc = patch_target(pp, name, &live);

    if (rc)
        return rc;
    np = realloc(pp->put, (pp->nput + 1) * sizeof(*np));
    if (np)
        pp->put = np;
    no = np ? realloc(pp->old, (pp->nput + 1) * sizeof(*no)) : NULL;
    if (no)
        pp->old = no;
    p = no ? calloc(1, sizeof(*p)) : NULL;
    if (!p || !(p->name = strdup(name))) {
        free(p);
        return -ENOMEM;
    }
    p->netmask = netmask;
    pp->put[pp->nput] = p;
    pp->old[pp->nput++] = live;
    *out = p;
    return 0;
}

/* Whether @start..@end meets a range of the set as the patch leaves it. */
static bool patch_overlaps(const struct pool_patch *pp, uint32_t start, uint32_t end)
{
    const struct pool_set *ps = pp->live;

    for (size_t at = pool_span_at(ps, start); at < ps->nv4 && ps->v4[at].start <= end; at++) {
        if (!patch_drops(pp, ps->v4[at].pool))
            return true;
    }
    for (size_t i = 0; i < pp->nput; i++) {
        for (size_t j = 0; j < pp->put[i]->nr; j++) {
            if (start <= pp->put[i]->r[j].end && pp->put[i]->r[j].start <= end)
                return true;
        }
    }
    return false;
}

int pool_patch_range(struct pool_patch *pp, struct pool *p, uint32_t start, uint32_t end)
{
    struct range *nr;

    if (start > end)
        return -EINVAL;
    if (patch_overlaps(pp, start, end))
        return -EEXIST;
    nr = realloc(p->r, (p->nr + 1) * sizeof(*nr));
    if (!nr)
        return -ENOMEM;
    p->r = nr;
    nr[p->nr] = pool_range_new(pp->live, start, end); /* the live set's partition: a change of it builds a new set */
    if (!nr[p->nr].bits)
        return -ENOMEM;
    p->size += nr[p->nr].hi - nr[p->nr].lo;
    p->nr++;
    pp->nspans++;
    return 0;
}

int pool_patch_ready(struct pool_patch *pp)
{
    struct pool_set *ps = pp->live;
    const struct lease *l, *tmp;

    /* a claim outside every range that a new range would take in */
    HASH_ITER(hh, ps->held, l, tmp) {
        for (size_t i = 0; l->claimed && !l->v6 && i < pp->nput; i++) {
            if (pool_range_of(pp->put[i], l->addr))
                return -EBUSY;
        }
    }
    if (ps->nv4 + pp->nspans > ps->cap4) { /* apply inserts without allocating */
        size_t cap = ps->nv4 + pp->nspans;
        struct span *v = realloc(ps->v4, cap * sizeof(*v));

        if (!v)
            return -ENOMEM;
        ps->v4 = v;
        ps->cap4 = cap;
    }
    return 0;
}

size_t pool_ranges4(const struct pool_set *ps, const char *name, uint32_t (*out)[2], size_t cap)
{
    const struct pool *p = pool_find(ps, name);
    size_t n = 0;

    for (size_t i = 0; p && !p->ipv6 && i < p->nr; i++) {
        if (n < cap) {
            out[n][0] = p->r[i].start;
            out[n][1] = p->r[i].end;
        }
        n++;
    }
    return n;
}

void pool_patch_apply(struct pool_patch *pp)
{
    struct pool_set *ps = pp->live;
    size_t k = 0;

    /* checked at prepare, and nothing leases between prepare and apply: a
     * commit runs on the control thread without a turn of its loop */
    for (size_t i = 0; i < pp->nput; i++)
        assert(!pp->old[i] || !pp->old[i]->nheld);
    for (size_t i = 0; i < pp->ndel; i++)
        assert(!pp->del[i]->nheld);

    for (size_t i = 0; i < ps->nv4; i++) {
        if (!patch_drops(pp, ps->v4[i].pool))
            ps->v4[k++] = ps->v4[i];
    }
    ps->nv4 = k;
    for (size_t i = 0; i < pp->ndel; i++) {
        HASH_DEL(ps->pools, pp->del[i]);
        pool_free_one(pp->del[i]);
    }
    for (size_t i = 0; i < pp->nput; i++) {
        struct pool *p = pp->put[i], *o = pp->old[i];

        if (o) { /* the live pool takes the new ranges: its name, place and failures stay */
            for (size_t j = 0; j < o->nr; j++)
                free(o->r[j].bits);
            free(o->r);
            o->r = p->r;
            o->nr = p->nr;
            o->size = p->size;
            o->netmask = p->netmask;
            p->r = NULL;
            p->nr = 0;
            pool_free_one(p);
            p = o;
        } else {
            HASH_ADD_KEYPTR(hh, ps->pools, p->name, strlen(p->name), p);
        }
        for (size_t j = 0; j < p->nr; j++) {
            size_t at = pool_span_at(ps, p->r[j].start);

            memmove(&ps->v4[at + 1], &ps->v4[at], (ps->nv4 - at) * sizeof(*ps->v4));
            ps->v4[at] = (struct span){.start = p->r[j].start, .end = p->r[j].end, .pool = p};
            ps->nv4++;
        }
    }
    pp->nput = 0;
    pool_patch_free(pp);
}
