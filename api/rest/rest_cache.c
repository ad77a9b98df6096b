/* The cache of reads: replies by request, valid while the epoch (bumped by every
 * change of running, session event and operation) stays, and, for replies with
 * state, for REST_STATE_CACHE_MS. Any thread; one mutex. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/rest/rest_impl.h"
#include "daemon/base/monotime.h"
#include "daemon/base/poison.h"

void rest_api_state_changed(struct rest_api *api)
{
    if (api)
        atomic_fetch_add(&api->epoch, 1);
}

char *rest_cache_key(const struct rest_req *r)
{
    char *k = NULL;

    /* per user: NACM may let each read something else */
    if (asprintf(&k, "%s|%d|%d|%d|%u|%d|%s|%s", r->who.user, (int)r->dsel, (int)r->out_fmt, (int)r->query.wd,
                 r->query.depth, (int)r->query.content, r->query.fields ? r->query.fields : "", r->rel) < 0)
        return NULL;
    return k;
}

/* A cached reply for @key still valid at @epoch, copied into @rep. */
bool rest_cache_get(struct rest_api *api, const char *key, uint64_t epoch, struct rest_reply *rep, enum rest_fmt fmt)
{
    bool hit = false;

    pthread_mutex_lock(&api->cache_lock);
    for (unsigned int i = 0; i < REST_CACHE_SIZE && !hit; i++) {
        struct rest_cache_ent *e = &api->cache[i];

        if (e->key && e->epoch == epoch && (!e->expires_ms || monotime_ms() < e->expires_ms) && !strcmp(e->key, key)) {
            rep->body = malloc(e->len + 1);
            if (rep->body) {
                memcpy(rep->body, e->body, e->len + 1);
                rep->len = e->len;
                rep->ctype = rest_ctype(fmt);
                memcpy(rep->etag, e->etag, sizeof(rep->etag));
                rep->last_modified = e->last_modified;
                rep->status = 200;
                hit = true;
            }
        }
    }
    pthread_mutex_unlock(&api->cache_lock);
    return hit;
}

void rest_cache_put(struct rest_api *api, char *key, uint64_t epoch, const struct rest_reply *rep)
{
    struct rest_cache_ent *e;
    char *body = malloc(rep->len + 1);

    if (!body) {
        free(key);
        return;
    }
    memcpy(body, rep->body, rep->len);
    body[rep->len] = '\0';
    pthread_mutex_lock(&api->cache_lock);
    e = &api->cache[api->cache_next++ % REST_CACHE_SIZE];
    free(e->key);
    free(e->body);
    e->key = key;
    e->body = body;
    e->len = rep->len;
    memcpy(e->etag, rep->etag, sizeof(e->etag));
    e->last_modified = rep->last_modified;
    e->epoch = epoch;
    /* configuration (an entity tag) lasts until running changes; state a moment */
    e->expires_ms = rep->etag[0] ? 0 : monotime_ms() + REST_STATE_CACHE_MS;
    pthread_mutex_unlock(&api->cache_lock);
}

void rest_cache_clear(struct rest_api *api)
{
    for (unsigned int i = 0; i < REST_CACHE_SIZE; i++) {
        free(api->cache[i].key);
        free(api->cache[i].body);
        api->cache[i].key = api->cache[i].body = NULL;
    }
}
