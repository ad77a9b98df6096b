/* What etcd's JSON gateway answers, read strictly (the format is described in
 * etcd_int.h): base64, int64 strings, the answers of each call, the messages of
 * a watch and the splitting of its stream. Nothing here does I/O: the fuzz
 * target calls these as etcd.c does. */
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/cluster/etcd_int.h"

char *etcd_b64_encode(const void *p, size_t n)
{
    char *out;

    if (n > INT32_MAX / 2) /* EVP_EncodeBlock counts in int */
        return NULL;
    if (!(out = malloc(4 * ((n + 2) / 3) + 1)))
        return NULL;
    EVP_EncodeBlock((unsigned char *)out, p, (int)n); /* NUL-terminates */
    return out;
}

static bool b64_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

bool etcd_b64_decode(const char *s, size_t slen, char **out, size_t *outlen)
{
    size_t pad = 0;
    char *buf;
    int n;

    /* EVP_DecodeBlock skips white space and counts the padding as zero bytes:
     * what it would accept loosely is refused here, and the padding taken off */
    if (slen % 4 || slen > INT32_MAX / 2)
        return false;
    if (slen && s[slen - 1] == '=')
        pad = (slen >= 2 && s[slen - 2] == '=') ? 2 : 1;
    for (size_t i = 0; i < slen - pad; i++) {
        if (!b64_char((unsigned char)s[i]))
            return false;
    }
    /* the bits the padding leaves over are zero (what etcd writes): one
     * encoding per value */
    if (pad) {
        static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t v = (size_t)(strchr(alphabet, s[slen - pad - 1]) - alphabet);

        if (v & (pad == 2 ? 0x0f : 0x03))
            return false;
    }
    if (!(buf = malloc(slen / 4 * 3 + 1)))
        return false;
    n = slen ? EVP_DecodeBlock((unsigned char *)buf, (const unsigned char *)s, (int)slen) : 0;
    if (n < 0 || (size_t)n < pad) {
        free(buf);
        return false;
    }
    n -= (int)pad;
    buf[n] = 0;
    *out = buf;
    *outlen = (size_t)n;
    return true;
}

char *etcd_prefix_end(const char *prefix, size_t n, size_t *outlen)
{
    char *end = malloc(n + 1);
    size_t i = n;

    if (!end)
        return NULL;
    memcpy(end, prefix, n);
    while (i > 0 && (unsigned char)end[i - 1] == 0xff)
        i--;
    if (i == 0) { /* no byte to increment: every key from the prefix on */
        end[0] = 0;
        *outlen = 1;
        return end;
    }
    end[i - 1] = (char)((unsigned char)end[i - 1] + 1);
    end[i] = 0;
    *outlen = i;
    return end;
}

json_t *etcd_json_load(const char *body, size_t len, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root;

    if (!len) {
        snprintf(err, errlen, "empty answer");
        return NULL;
    }
    if (!(root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je))) {
        snprintf(err, errlen, "answer is not JSON (%.120s at line %d, column %d)", je.text, je.line, je.column);
        return NULL;
    }
    if (!json_is_object(root)) {
        snprintf(err, errlen, "answer is not a JSON object");
        json_decref(root);
        return NULL;
    }
    return root;
}

bool etcd_json_error(const json_t *root, int *code, char *err, size_t errlen)
{
    const json_t *e = json_object_get(root, "error"), *m, *c;

    *code = -1;
    if (!e)
        return false;
    if (json_is_object(e)) { /* inside a stream */
        m = json_object_get(e, "message");
        c = json_object_get(e, "grpc_code");
    } else {
        m = json_object_get(root, "message");
        if (!json_is_string(m))
            m = e;
        c = json_object_get(root, "code");
    }
    if (json_is_integer(c) && json_integer_value(c) >= 0 && json_integer_value(c) < 100)
        *code = (int)json_integer_value(c);
    snprintf(err, errlen, "etcd: %.200s", json_is_string(m) ? json_string_value(m) : "error without a message");
    return true;
}

bool etcd_auth_invalid(int code, const char *msg)
{
    /* gRPC Unauthenticated; etcd says "invalid auth token" (also when the
     * token expired) and "... auth token is not provided" */
    return code == 16 || (msg && strstr(msg, "invalid auth token"));
}

bool etcd_json_i64(const json_t *obj, const char *name, int64_t *v, char *err, size_t errlen)
{
    const json_t *j = json_object_get(obj, name);
    const char *s;
    char *end;
    long long x;

    *v = 0;
    if (!j)
        return true;
    if (json_is_integer(j)) {
        *v = json_integer_value(j);
        return true;
    }
    if (!json_is_string(j))
        goto bad;
    s = json_string_value(j);
    if (json_string_length(j) == 0 || json_string_length(j) > 20 || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
        goto bad;
    errno = 0;
    x = strtoll(s, &end, 10);
    if (errno || *end)
        goto bad;
    *v = x;
    return true;
bad:
    snprintf(err, errlen, "field %s is not an int64", name);
    return false;
}

void etcd_kvs_fini(struct etcd_kvs *k)
{
    for (size_t i = 0; i < k->n; i++) {
        free((char *)k->v[i].key);
        free((char *)k->v[i].val);
    }
    free(k->v);
    k->v = NULL;
    k->n = 0;
}

/* The base64 string @name of @o decoded; absent is empty. */
static bool b64_field(const json_t *o, const char *name, char **out, size_t *outlen, char *err, size_t errlen)
{
    const json_t *j = json_object_get(o, name);

    if (!j)
        return etcd_b64_decode("", 0, out, outlen) || (snprintf(err, errlen, "out of memory"), false);
    if (!json_is_string(j) || !etcd_b64_decode(json_string_value(j), json_string_length(j), out, outlen)) {
        snprintf(err, errlen, "field %s is not base64", name);
        return false;
    }
    return true;
}

bool etcd_kv_parse(const json_t *o, struct etcd_kvs *k, char *err, size_t errlen)
{
    struct etcd_kv kv = {0};
    char *key = NULL, *val = NULL;
    size_t klen, vlen;
    struct etcd_kv *v;

    if (!json_is_object(o)) {
        snprintf(err, errlen, "a kv is not an object");
        return false;
    }
    if (!etcd_json_i64(o, "create_revision", &kv.create_revision, err, errlen) ||
        !etcd_json_i64(o, "mod_revision", &kv.mod_revision, err, errlen) ||
        !etcd_json_i64(o, "lease", &kv.lease, err, errlen) || !b64_field(o, "key", &key, &klen, err, errlen) ||
        !b64_field(o, "value", &val, &vlen, err, errlen))
        goto fail;
    if (!klen || memchr(key, 0, klen)) {
        snprintf(err, errlen, "a kv has an empty key or one with a NUL byte");
        goto fail;
    }
    if (!(v = realloc(k->v, (k->n + 1) * sizeof(*v)))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    k->v = v;
    kv.key = key;
    kv.val = val;
    kv.vlen = vlen;
    k->v[k->n++] = kv;
    return true;
fail:
    free(key);
    free(val);
    return false;
}

bool etcd_parse_header(const json_t *root, int64_t *revision, char *err, size_t errlen)
{
    const json_t *h = json_object_get(root, "header");

    if (!json_is_object(h)) {
        snprintf(err, errlen, "answer has no header");
        return false;
    }
    return etcd_json_i64(h, "revision", revision, err, errlen);
}

bool etcd_parse_range(const json_t *root, struct etcd_kvs *k, int64_t *revision, char *err, size_t errlen)
{
    const json_t *kvs = json_object_get(root, "kvs"), *o;
    size_t i;

    if (!etcd_parse_header(root, revision, err, errlen))
        return false;
    if (kvs && !json_is_array(kvs)) {
        snprintf(err, errlen, "kvs is not an array");
        return false;
    }
    json_array_foreach(kvs, i, o) {
        if (!etcd_kv_parse(o, k, err, errlen)) {
            etcd_kvs_fini(k);
            return false;
        }
    }
    return true;
}

bool etcd_parse_txn(const json_t *root, bool *succeeded, char *err, size_t errlen)
{
    const json_t *s = json_object_get(root, "succeeded");
    int64_t rev;

    if (!etcd_parse_header(root, &rev, err, errlen))
        return false;
    if (s && !json_is_boolean(s)) {
        snprintf(err, errlen, "succeeded is not a boolean");
        return false;
    }
    *succeeded = json_is_true(s);
    return true;
}

bool etcd_parse_lease(const json_t *root, int64_t *id, int64_t *ttl, char *err, size_t errlen)
{
    const json_t *r = json_object_get(root, "result");
    int64_t rev;

    if (r && !json_is_object(r)) {
        snprintf(err, errlen, "result is not an object");
        return false;
    }
    if (r)
        root = r;
    if (!etcd_parse_header(root, &rev, err, errlen) || !etcd_json_i64(root, "ID", id, err, errlen) ||
        !etcd_json_i64(root, "TTL", ttl, err, errlen))
        return false;
    if (!*id) {
        snprintf(err, errlen, "answer has no lease ID");
        return false;
    }
    return true;
}

bool etcd_parse_auth(const json_t *root, char **token, char *err, size_t errlen)
{
    const json_t *t = json_object_get(root, "token");
    const char *s;

    if (!json_is_string(t) || !json_string_length(t) || json_string_length(t) > 4096) {
        snprintf(err, errlen, "answer has no token");
        return false;
    }
    /* it goes into an HTTP header: printable ASCII only */
    for (s = json_string_value(t); *s; s++) {
        if (*s < 0x21 || *s > 0x7e) {
            snprintf(err, errlen, "the token has a character that cannot be sent");
            return false;
        }
    }
    if (!(*token = strdup(json_string_value(t)))) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    return true;
}

void etcd_watch_msg_fini(struct etcd_watch_msg *m)
{
    etcd_kvs_fini(&m->kvs);
    free(m->types);
    m->types = NULL;
}

static bool watch_events(const json_t *evs, struct etcd_watch_msg *m, char *err, size_t errlen)
{
    const json_t *ev;
    size_t i;

    if (!evs)
        return true;
    if (!json_is_array(evs)) {
        snprintf(err, errlen, "events is not an array");
        return false;
    }
    if (json_array_size(evs) && !(m->types = calloc(json_array_size(evs), sizeof(*m->types)))) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    json_array_foreach(evs, i, ev) {
        const json_t *t = json_object_get(ev, "type");

        if (!json_is_object(ev)) {
            snprintf(err, errlen, "an event is not an object");
            return false;
        }
        if (!t || (json_is_string(t) && !strcmp(json_string_value(t), "PUT")))
            m->types[i] = ETCD_EV_PUT;
        else if (json_is_string(t) && !strcmp(json_string_value(t), "DELETE"))
            m->types[i] = ETCD_EV_DELETE;
        else {
            snprintf(err, errlen, "an event has an unknown type");
            return false;
        }
        if (!etcd_kv_parse(json_object_get(ev, "kv"), &m->kvs, err, errlen))
            return false;
    }
    return true;
}

bool etcd_parse_watch_msg(const char *msg, size_t len, struct etcd_watch_msg *m, char *err, size_t errlen)
{
    json_t *root = etcd_json_load(msg, len, err, errlen), *r;
    const json_t *reason;
    bool ok = false;

    memset(m, 0, sizeof(*m));
    if (!root)
        return false;
    if (etcd_json_error(root, &m->error_code, m->reason, sizeof(m->reason))) {
        m->error = true;
        ok = true;
        goto out;
    }
    r = json_object_get(root, "result");
    if (!json_is_object(r)) {
        snprintf(err, errlen, "watch message has no result");
        goto out;
    }
    if (!etcd_json_i64(r, "compact_revision", &m->compact_revision, err, errlen))
        goto out;
    m->created = json_is_true(json_object_get(r, "created"));
    m->canceled = json_is_true(json_object_get(r, "canceled"));
    reason = json_object_get(r, "cancel_reason");
    if (json_is_string(reason))
        snprintf(m->reason, sizeof(m->reason), "%s", json_string_value(reason));
    if (!watch_events(json_object_get(r, "events"), m, err, errlen))
        goto out;
    ok = true;
out:
    if (!ok)
        etcd_watch_msg_fini(m);
    json_decref(root);
    return ok;
}

void etcd_split_fini(struct etcd_split *s)
{
    free(s->buf);
    memset(s, 0, sizeof(*s));
}

bool etcd_split_feed(struct etcd_split *s, const char *p, size_t n, char *err, size_t errlen)
{
    if (s->head && s->head == s->len) { /* everything taken: start again at 0 */
        s->len = s->scan = s->complete = s->head = 0;
    }
    if (n > s->cap - s->len) {
        size_t cap = s->cap ? s->cap : 4096;
        char *b;

        while (cap - s->len < n) {
            if (cap > ETCD_MAX_WATCH_MSG * 4) {
                snprintf(err, errlen, "watch message larger than 1 MiB");
                return false;
            }
            cap *= 2;
        }
        if (!(b = realloc(s->buf, cap))) {
            snprintf(err, errlen, "out of memory");
            return false;
        }
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    for (; s->scan < s->len; s->scan++) {
        char c = s->buf[s->scan];

        if (s->in_str) {
            if (s->esc)
                s->esc = false;
            else if (c == '\\')
                s->esc = true;
            else if (c == '"')
                s->in_str = false;
        } else if (c == '"' && s->depth) {
            s->in_str = true;
        } else if (c == '{' || c == '[') {
            s->depth++;
        } else if ((c == '}' || c == ']') && s->depth) {
            if (!--s->depth)
                s->complete = s->scan + 1;
        } else if (!s->depth && c != ' ' && c != '\n' && c != '\r' && c != '\t') {
            snprintf(err, errlen, "watch stream is not a sequence of JSON objects (byte 0x%02x between them)",
                     (unsigned char)c);
            return false;
        }
    }
    if (s->len - s->complete > ETCD_MAX_WATCH_MSG) {
        snprintf(err, errlen, "watch message larger than 1 MiB");
        return false;
    }
    /* what was taken is dropped once it is most of the buffer */
    if (s->head > s->len / 2 && s->head <= s->complete) {
        memmove(s->buf, s->buf + s->head, s->len - s->head);
        s->len -= s->head;
        s->scan -= s->head;
        s->complete -= s->head;
        s->head = 0;
    }
    return true;
}

bool etcd_split_next(struct etcd_split *s, const char **msg, size_t *len)
{
    unsigned depth = 0;
    bool in_str = false, esc = false;
    size_t i;

    while (s->head < s->complete && s->buf[s->head] != '{' && s->buf[s->head] != '[')
        s->head++; /* white space between messages */
    if (s->head >= s->complete)
        return false;
    /* the first message's end: the braces followed again from its start */
    for (i = s->head; i < s->complete; i++) {
        char c = s->buf[i];

        if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if ((c == '}' || c == ']') && !--depth) {
            break;
        }
    }
    *msg = s->buf + s->head;
    *len = i + 1 - s->head;
    s->head = i + 1;
    return true;
}
