/* Fuzzes the RESTCONF request path (api/rest): the api-path, the query parameters
 * "fields", "depth" and the paging ones ("limit", "offset", "cursor": after a '?'
 * in the path, "k=v&k=v" as libmicrohttpd hands them over, checked by
 * rest_page_param; "start-time", "stop-time" and "Last-Event-ID", checked by
 * rest_replay_param and rest_event_id_parse as a stream request has them), the request body in JSON or XML (envelopes included) and the
 * edit it becomes, run against a datastore in-process (fuzz_mc_cfg.c stands in for
 * the management client). The
 * input is "METHOD FMT PATH[?PAGING]\nQUERY\nBODY": the first byte picks the method
 * and formats, then the path, one line of "fields", and the body. */
#include <stdlib.h>
#include <string.h>

#include "api/rest/rest_impl.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const methods[] = {"GET", "PUT", "POST", "PATCH", "DELETE", "POST"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_env *env = fuzz_env_get();
    struct rest_api api = {.ctx = env->ctx, .boot = 1};
    struct rest_req r = {.api = &api, .base_uri = "/restconf/data", .url = "/restconf/data"};
    char *s, *path, *fields, *body;
    unsigned int sel;

    if (size < 1)
        return 0;
    sel = data[0];
    s = fuzz_cstr(data + 1, size - 1);
    path = s;
    fields = strchr(path, '\n');
    body = NULL;
    if (fields) {
        *fields++ = '\0';
        body = strchr(fields, '\n');
        if (body)
            *body++ = '\0';
    }
    {
        char *q = strchr(path, '?'), *kv, *save = NULL, err[200] = "";

        if (q)
            *q++ = '\0';
        for (kv = q ? strtok_r(q, "&", &save) : NULL; kv; kv = strtok_r(NULL, "&", &save)) {
            char *v = strchr(kv, '=');

            if (v)
                *v++ = '\0';
            if (!strcmp(kv, "Last-Event-ID")) { /* the header of a stream request */
                uint64_t id;

                rest_event_id_parse(v ? v : "", &id);
                continue;
            }
            if (rest_replay_param(&r.query.replay, kv, v ? v : "", err, sizeof(err))) {
                if (err[0]) {
                    free(s);
                    return 0;
                }
                continue;
            }
            if (!rest_page_param(&r.query.page, kv, v ? v : "", err, sizeof(err)) || err[0]) {
                free(s); /* the server answers 400 before any handler runs */
                return 0;
            }
        }
    }
    r.method = methods[sel % 6];
    r.in_fmt = (sel >> 3) & 1 ? REST_XML : REST_JSON;
    r.out_fmt = (sel >> 4) & 1 ? REST_XML : REST_JSON;
    r.dsel = (sel >> 5) & 1 ? REST_DS_CANDIDATE : REST_DS_RUNNING;
    r.rel = path;
    if (fields && *fields && !strcmp(r.method, "GET"))
        r.query.fields = strdup(fields);
    r.query.depth = (sel >> 6) & 3;
    r.yang_patch = sel % 6 == 3 && (sel & 0x80); /* PATCH as a YANG Patch */
    r.body = body;
    r.body_len = body ? strlen(body) : 0;
    r.who.role = REST_ROLE_ADMIN;
    if (sel % 6 == 5)
        rest_ops_run(&r);
    else
        rest_data_run(&r);
    rest_data_print(&r);
    free(r.rep.body);
    free(r.rep.location);
    free(r.query.fields);
    free(s);
    return 0;
}
