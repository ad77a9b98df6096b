/* Member and session records of the cluster (cluster_rec.h): parsed with
 * jansson, every field checked before anything is kept, and the pick. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "daemon/cluster/cluster_rec.h"
#include "daemon/base/poison.h"

int cluster_addr_family(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];

    if (!s)
        return 0;
    if (inet_pton(AF_INET, s, buf) == 1)
        return AF_INET;
    if (inet_pton(AF_INET6, s, buf) == 1)
        return AF_INET6;
    return 0;
}

static json_t *load(const char *val, size_t vlen, char *why, size_t whylen)
{
    json_error_t jerr;
    json_t *j = json_loadb(val, vlen, JSON_REJECT_DUPLICATES, &jerr);

    if (!j) {
        snprintf(why, whylen, "not JSON: %s", jerr.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        snprintf(why, whylen, "not a JSON object");
        json_decref(j);
        return NULL;
    }
    return j;
}

/* An integer field in [lo, hi]; @opt: absent is fine (1 returned). */
static int get_int(json_t *j, const char *k, json_int_t lo, json_int_t hi, bool opt, json_int_t *out, char *why,
                   size_t whylen)
{
    json_t *v = json_object_get(j, k);

    if (!v && opt)
        return 1;
    if (!v) {
        snprintf(why, whylen, "\"%s\" missing", k);
        return -1;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        snprintf(why, whylen, "\"%s\" is not an integer in %" PRId64 "..%" PRId64, k, (int64_t)lo, (int64_t)hi);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

static const char *get_str(json_t *j, const char *k, size_t max, char *why, size_t whylen)
{
    json_t *v = json_object_get(j, k);

    if (!v) {
        snprintf(why, whylen, "\"%s\" missing", k);
        return NULL;
    }
    if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) >= max ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        snprintf(why, whylen, "\"%s\" is not a string of 1..%zu characters", k, max - 1);
        return NULL;
    }
    return json_string_value(v);
}

int cluster_member_parse(const char *key_name, const char *val, size_t vlen, int family, struct cluster_member *m,
                         char *why, size_t whylen)
{
    json_t *j = load(val, vlen, why, whylen);
    const char *name, *addr, *health;
    json_int_t sessions, capacity, part = -1;
    int rc = -1, r;

    if (!j)
        return -1;
    memset(m, 0, sizeof(*m));
    if (!(name = get_str(j, "name", sizeof(m->name), why, whylen)) ||
        !(addr = get_str(j, "address", sizeof(m->address), why, whylen)) ||
        !(health = get_str(j, "health", 16, why, whylen)) ||
        get_int(j, "sessions", 0, UINT32_MAX, false, &sessions, why, whylen) ||
        get_int(j, "capacity", 1, UINT32_MAX, false, &capacity, why, whylen) ||
        (r = get_int(j, "partition", 0, 255, true, &part, why, whylen)) < 0)
        goto out;
    if (strcmp(name, key_name)) {
        snprintf(why, whylen, "\"name\" %s is not the key's %s", name, key_name);
        goto out;
    }
    if (strcmp(health, "up") && strcmp(health, "draining")) {
        snprintf(why, whylen, "\"health\" is neither up nor draining");
        goto out;
    }
    m->family = cluster_addr_family(addr);
    if (!m->family) {
        snprintf(why, whylen, "\"address\" %s is not an IP address", addr);
        goto out;
    }
    if (family && m->family != family) {
        snprintf(why, whylen, "\"address\" %s is of another family than this member's", addr);
        goto out;
    }
    snprintf(m->name, sizeof(m->name), "%s", name);
    snprintf(m->address, sizeof(m->address), "%s", addr);
    m->sessions = (uint32_t)sessions;
    m->capacity = (uint32_t)capacity;
    m->draining = !strcmp(health, "draining");
    m->partition = (int)part;
    rc = 0;
out:
    json_decref(j);
    return rc;
}

static char *dump(json_t *j, size_t *len)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

    json_decref(j);
    if (s)
        *len = strlen(s);
    return s;
}

char *cluster_member_json(const struct cluster_member *m, size_t *len)
{
    json_t *j = json_pack("{s:s, s:s, s:I, s:I, s:s}", "name", m->name, "address", m->address, "sessions",
                          (json_int_t)m->sessions, "capacity", (json_int_t)m->capacity, "health",
                          m->draining ? "draining" : "up");

    if (j && m->partition >= 0 && json_object_set_new(j, "partition", json_integer(m->partition))) {
        json_decref(j);
        return NULL;
    }
    return dump(j, len);
}

int cluster_session_parse(const char *val, size_t vlen, struct cluster_session *s, char *why, size_t whylen)
{
    json_t *j = load(val, vlen, why, whylen), *a, *v;
    const char *user;
    size_t i;
    int rc = -1;

    if (!j)
        return -1;
    memset(s, 0, sizeof(*s));
    if (!(user = get_str(j, "user", sizeof(s->user), why, whylen)))
        goto out;
    a = json_object_get(j, "addresses");
    if (!json_is_array(a) || json_array_size(a) > CLUSTER_SESS_ADDRS) {
        snprintf(why, whylen, "\"addresses\" is not an array of at most %d addresses", CLUSTER_SESS_ADDRS);
        goto out;
    }
    json_array_foreach(a, i, v) {
        if (!json_is_string(v) || !cluster_addr_family(json_string_value(v))) {
            snprintf(why, whylen, "\"addresses\" holds something that is not an IP address");
            goto out;
        }
        snprintf(s->addr[s->naddr++], sizeof(s->addr[0]), "%s", json_string_value(v));
    }
    snprintf(s->user, sizeof(s->user), "%s", user);
    rc = 0;
out:
    json_decref(j);
    return rc;
}

char *cluster_session_json(const struct cluster_session *s, size_t *len)
{
    json_t *j = json_pack("{s:s, s:[]}", "user", s->user, "addresses");
    json_t *a = j ? json_object_get(j, "addresses") : NULL;

    for (size_t i = 0; a && i < s->naddr; i++) {
        if (json_array_append_new(a, json_string(s->addr[i]))) {
            json_decref(j);
            return NULL;
        }
    }
    return dump(j, len);
}

int cluster_key_split(const char *rest, char *name, size_t namelen, uint64_t *id)
{
    const char *p, *slash;
    char *end;
    int kind;

    if (!strncmp(rest, "members/", 8)) {
        kind = 'm';
        p = rest + 8;
    } else if (!strncmp(rest, "sessions/", 9)) {
        kind = 's';
        p = rest + 9;
    } else
        return 0;
    slash = strchr(p, '/');
    if (kind == 'm' ? slash != NULL : slash == NULL)
        return 0;
    if (kind == 'm') {
        if (!*p || strlen(p) >= namelen)
            return 0;
        snprintf(name, namelen, "%s", p);
        return kind;
    }
    if (slash == p || (size_t)(slash - p) >= namelen || slash[1] < '0' || slash[1] > '9')
        return 0;
    errno = 0;
    *id = strtoull(slash + 1, &end, 10);
    if (*end || errno)
        return 0;
    snprintf(name, namelen, "%.*s", (int)(slash - p), p);
    return kind;
}

/* @a takes a smaller share of its capacity than @b (or the same and sorts first). */
static bool better(const struct cluster_member *a, const struct cluster_member *b)
{
    uint64_t l = (uint64_t)a->sessions * b->capacity, r = (uint64_t)b->sessions * a->capacity;

    if (l != r)
        return l < r;
    return strcmp(a->name, b->name) < 0;
}

long cluster_pick(const struct cluster_member *m, size_t n, const char *exclude)
{
    long best = -1;

    for (size_t i = 0; i < n; i++) {
        if (m[i].draining || !m[i].capacity || (exclude && !strcmp(m[i].name, exclude)))
            continue;
        if (best < 0 || better(&m[i], &m[best]))
            best = (long)i;
    }
    return best;
}
