/* The requests of etcd.h other than watches: the JSON each sends (keys and
 * values base64, int64 values as strings) to its path of etcd's gateway. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/cluster/etcd_int.h"

/* @n bytes of @p as a base64 JSON string; NULL when out of memory. */
json_t *etcd_json_b64(const void *p, size_t n)
{
    char *s = etcd_b64_encode(p, n);
    json_t *j = s ? json_string(s) : NULL;

    free(s);
    return j;
}

json_t *etcd_json_i64str(int64_t v)
{
    char s[24];

    snprintf(s, sizeof(s), "%" PRId64, v);
    return json_string(s);
}

/* {"key": @key, "range_end": end of the prefix @key} (without range_end
 * unless @prefix): an empty prefix is every key, from "\0" on. */
json_t *etcd_json_range(const char *key, bool prefix)
{
    size_t n = strlen(key), elen;
    json_t *j = json_object();
    char *end = NULL;
    bool ok;

    if (!n && prefix)
        ok = j && !json_object_set_new(j, "key", etcd_json_b64("", 1));
    else
        ok = j && !json_object_set_new(j, "key", etcd_json_b64(key, n));
    if (ok && prefix)
        ok = (end = etcd_prefix_end(key, n, &elen)) && !json_object_set_new(j, "range_end", etcd_json_b64(end, elen));
    free(end);
    if (!ok) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* the fields of a put: key, value, and the lease unless 0 */
static json_t *put_json(const char *key, const void *val, size_t vlen, int64_t lease)
{
    json_t *j = json_object();

    if (!j || json_object_set_new(j, "key", etcd_json_b64(key, strlen(key))) ||
        json_object_set_new(j, "value", etcd_json_b64(val, vlen)) ||
        (lease && json_object_set_new(j, "lease", etcd_json_i64str(lease)))) {
        json_decref(j);
        return NULL;
    }
    return j;
}

int etcd_lease_grant(struct etcd *e, int64_t ttl, etcd_lease_cb cb, void *arg)
{
    struct etcd_req *r = etcd_req_new(e, RQ_GRANT, "/v3/lease/grant", json_pack("{s:o}", "TTL", etcd_json_i64str(ttl)),
                                 sizeof(*r));

    if (!r)
        return -1;
    r->cb.lease = cb;
    r->arg = arg;
    return 0;
}

int etcd_lease_keepalive(struct etcd *e, int64_t lease, etcd_lease_cb cb, void *arg)
{
    struct etcd_req *r = etcd_req_new(e, RQ_KEEPALIVE, "/v3/lease/keepalive", json_pack("{s:o}", "ID", etcd_json_i64str(lease)),
                                 sizeof(*r));

    if (!r)
        return -1;
    r->cb.lease = cb;
    r->arg = arg;
    return 0;
}

int etcd_lease_revoke(struct etcd *e, int64_t lease, etcd_done_cb cb, void *arg)
{
    struct etcd_req *r = etcd_req_new(e, RQ_REVOKE, "/v3/lease/revoke", json_pack("{s:o}", "ID", etcd_json_i64str(lease)),
                                 sizeof(*r));

    if (!r)
        return -1;
    r->cb.done = cb;
    r->arg = arg;
    return 0;
}

int etcd_put(struct etcd *e, const char *key, const void *val, size_t vlen, int64_t lease, etcd_done_cb cb,
             void *arg)
{
    struct etcd_req *r = etcd_req_new(e, RQ_PUT, "/v3/kv/put", put_json(key, val, vlen, lease), sizeof(*r));

    if (!r)
        return -1;
    r->cb.done = cb;
    r->arg = arg;
    return 0;
}

int etcd_delete(struct etcd *e, const char *key, bool prefix, etcd_done_cb cb, void *arg)
{
    struct etcd_req *r = etcd_req_new(e, RQ_DELETE, "/v3/kv/deleterange", etcd_json_range(key, prefix), sizeof(*r));

    if (!r)
        return -1;
    r->cb.done = cb;
    r->arg = arg;
    return 0;
}

int etcd_range_prefix(struct etcd *e, const char *prefix, etcd_range_cb cb, void *arg)
{
    struct etcd_req *r = etcd_req_new(e, RQ_RANGE, "/v3/kv/range", etcd_json_range(prefix, true), sizeof(*r));

    if (!r)
        return -1;
    r->cb.range = cb;
    r->arg = arg;
    return 0;
}

int etcd_create(struct etcd *e, const char *key, const void *val, size_t vlen, int64_t lease, etcd_create_cb cb,
                void *arg)
{
    json_t *put = put_json(key, val, vlen, lease);
    json_t *j = put ? json_pack("{s:[{s:o, s:s, s:s, s:s}], s:[{s:o}]}", "compare", "key",
                                etcd_json_b64(key, strlen(key)), "target", "CREATE", "result", "EQUAL",
                                "create_revision", "0", "success", "request_put", put)
                    : NULL;
    struct etcd_req *r = etcd_req_new(e, RQ_CREATE, "/v3/kv/txn", j, sizeof(*r));

    if (!r)
        return -1;
    r->cb.create = cb;
    r->arg = arg;
    return 0;
}
