/* Fuzzes what etcd's JSON gateway answers, as the etcd client reads it
 * (daemon/cluster/etcd_parse.c): the input as the body of an answer to every
 * call (range, put/delete/revoke, txn, lease grant and keepalive,
 * authenticate, and etcd's error objects), and as a watch stream: fed to the
 * splitter in pieces whose sizes the first byte chooses (as libcurl's writes
 * would cut it), each message that comes out parsed as a watch message. The
 * input as base64 goes through the decoder and, as a prefix, through the
 * range end. The seeds are answers of etcd 3.4.23. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/cluster/etcd_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void answer(const char *body, size_t len)
{
    char err[ETCD_ERRLEN];
    json_t *root = etcd_json_load(body, len, err, sizeof(err));
    struct etcd_kvs kvs = {0};
    int64_t rev, id, ttl;
    bool ok;
    char *token = NULL;
    int code;

    if (!root)
        return;
    if (etcd_json_error(root, &code, err, sizeof(err)))
        (void)etcd_auth_invalid(code, err);
    if (etcd_parse_range(root, &kvs, &rev, err, sizeof(err))) {
        for (size_t i = 0; i < kvs.n; i++) {
            /* what a callback may read: key NUL-terminated, vlen bytes and a NUL */
            if (strlen(kvs.v[i].key) == 0 || kvs.v[i].val[kvs.v[i].vlen] != 0)
                abort();
        }
        etcd_kvs_fini(&kvs);
    }
    (void)etcd_parse_header(root, &rev, err, sizeof(err));
    (void)etcd_parse_txn(root, &ok, err, sizeof(err));
    (void)etcd_parse_lease(root, &id, &ttl, err, sizeof(err));
    if (etcd_parse_auth(root, &token, err, sizeof(err)))
        free(token);
    json_decref(root);
}

static void stream(const uint8_t *data, size_t size)
{
    struct etcd_split s = {0};
    char err[ETCD_ERRLEN];
    size_t piece = size ? (size_t)data[0] % 64 + 1 : 1, off = 1;

    while (off < size) {
        size_t n = size - off < piece ? size - off : piece;
        const char *m;
        size_t mlen;

        if (!etcd_split_feed(&s, (const char *)data + off, n, err, sizeof(err)))
            break;
        off += n;
        while (etcd_split_next(&s, &m, &mlen)) {
            struct etcd_watch_msg w;

            if (etcd_parse_watch_msg(m, mlen, &w, err, sizeof(err)))
                etcd_watch_msg_fini(&w);
        }
    }
    etcd_split_fini(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *out, *end;
    size_t outlen;

    answer((const char *)data, size);
    stream(data, size);
    if (etcd_b64_decode((const char *)data, size, &out, &outlen)) {
        char *again = etcd_b64_encode(out, outlen);

        /* what decodes encodes back to itself */
        if (!again || strlen(again) != size || memcmp(again, data, size))
            abort();
        free(again);
        free(out);
    }
    if ((end = etcd_prefix_end((const char *)data, size, &outlen))) {
        if (size && (outlen > size || outlen == 0))
            abort();
        free(end);
    }
    return 0;
}
