/* The front ends' client of ravend's management socket, what NETCONF monitoring
 * and notification replay ask of it: the replay of ravend's notification log,
 * the datastores' locks and partial locks (mc.h, api/README.md). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/mgmt/mc.h"
#include "api/mgmt/mc_int.h"
#include "daemon/base/poison.h"

static void copy_str(char *dst, size_t n, json_t *v)
{
    snprintf(dst, n, "%s", json_is_string(v) ? json_string_value(v) : "");
}

int mc_replay(struct mc *mc, uint32_t tag, unsigned int mask, uint64_t after_id, int64_t start_ns, int64_t stop_ns,
              struct mc_replay_info *info)
{
    static const char *const names[] = {"sessions", "auth", "config", "other"};
    json_t *req = json_pack("{s:s, s:I}", "op", "replay", "for", (json_int_t)tag), *evs = json_array(), *rep = NULL;
    int rc;

    if (!mc) {
        json_decref(req);
        json_decref(evs);
        return -ENOTCONN;
    }
    for (unsigned int i = 0; evs && i < 4; i++)
        if (mask & (1u << i))
            json_array_append_new(evs, json_string(names[i]));
    if (!req || !evs) {
        json_decref(req);
        json_decref(evs);
        return -ENOMEM;
    }
    json_object_set_new(req, "events", evs);
    if (after_id)
        json_object_set_new(req, "after-id", json_integer((json_int_t)after_id));
    if (start_ns >= 0)
        json_object_set_new(req, "start", json_integer(start_ns));
    if (stop_ns >= 0)
        json_object_set_new(req, "stop", json_integer(stop_ns));
    rc = mc_call(mc, req, &rep, NULL);
    if (!rc && info) {
        copy_str(info->created, sizeof(info->created), json_object_get(rep, "created"));
        copy_str(info->aged, sizeof(info->aged), json_object_get(rep, "aged"));
        info->count = (uint64_t)json_integer_value(json_object_get(rep, "count"));
        info->oldest_id = (uint64_t)json_integer_value(json_object_get(rep, "oldest-id"));
        info->last_id = (uint64_t)json_integer_value(json_object_get(rep, "last-id"));
        info->sent = (uint64_t)json_integer_value(json_object_get(rep, "sent"));
    }
    json_decref(rep);
    return rc;
}

/* A new array of the strings of the JSON array @a, their number in *n. */
static char **strv(json_t *a, size_t *n)
{
    char **v = calloc(json_array_size(a) + 1, sizeof(*v));
    json_t *e;
    size_t i;

    *n = 0;
    json_array_foreach(v ? a : NULL, i, e) {
        if (json_is_string(e) && (v[*n] = strdup(json_string_value(e))))
            (*n)++;
    }
    return v;
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

void mc_plocks_free(struct mc_plock *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        strv_free(v[i].select, v[i].nselect);
        strv_free(v[i].nodes, v[i].nnodes);
    }
    free(v);
}

static void plocks(json_t *a, struct mc_plock **out, size_t *n)
{
    json_t *e;
    size_t i;

    *n = 0;
    *out = calloc(json_array_size(a) + 1, sizeof(**out));
    json_array_foreach(*out ? a : NULL, i, e) {
        struct mc_plock *p = &(*out)[(*n)++];

        p->id = (uint32_t)json_integer_value(json_object_get(e, "id"));
        p->sid = (uint32_t)json_integer_value(json_object_get(e, "sid"));
        copy_str(p->time, sizeof(p->time), json_object_get(e, "time"));
        p->select = strv(json_object_get(e, "select"), &p->nselect);
        p->nodes = strv(json_object_get(e, "nodes"), &p->nnodes);
    }
}

int mc_partial_lock(struct mc *mc, const struct cfg_actor *who, const char *const *select, size_t n, uint32_t *id,
                    char ***nodes, size_t *nnodes, struct cfg_errs *errs)
{
    json_t *req = mc_req_for("partial-lock", who), *a = json_array(), *rep = NULL;
    int rc;

    *nodes = NULL;
    *nnodes = 0;
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(select[i]));
    if (req && a)
        json_object_set(req, "select", a);
    json_decref(a);
    rc = mc_call(mc, a ? req : NULL, &rep, errs);
    if (!a)
        json_decref(req);
    if (!rc) {
        *id = (uint32_t)json_integer_value(json_object_get(rep, "lock-id"));
        *nodes = strv(json_object_get(rep, "nodes"), nnodes);
    }
    json_decref(rep);
    return rc;
}

int mc_partial_unlock(struct mc *mc, const struct cfg_actor *who, uint32_t id, struct cfg_errs *errs)
{
    json_t *req = mc_req_for("partial-unlock", who);

    if (req)
        json_object_set_new(req, "lock-id", json_integer(id));
    return mc_call(mc, req, NULL, errs);
}

int mc_locks(struct mc *mc, struct mc_lock *out, size_t max, size_t *n, struct mc_plock **partial, size_t *npartial)
{
    json_t *rep = NULL, *e;
    size_t i;
    int rc;

    *n = 0;
    if (partial) {
        *partial = NULL;
        *npartial = 0;
    }
    if (!mc)
        return -ENOTCONN;
    rc = mc_call(mc, json_pack("{s:s}", "op", "locks"), &rep, NULL);
    json_array_foreach(rc ? NULL : json_object_get(rep, "locks"), i, e) {
        if (*n == max)
            break;
        copy_str(out[*n].ds, sizeof(out[*n].ds), json_object_get(e, "ds"));
        copy_str(out[*n].time, sizeof(out[*n].time), json_object_get(e, "time"));
        out[*n].sid = (uint32_t)json_integer_value(json_object_get(e, "sid"));
        (*n)++;
    }
    if (!rc && partial)
        plocks(json_object_get(rep, "partial"), partial, npartial);
    json_decref(rep);
    return rc;
}
