/* Writes of RESTCONF data resources (RFC 8040 4.4-4.7, RFC 8527): PUT and PATCH of
 * the whole datastore or of a resource, POST creating a child (with its
 * Location), DELETE; the client's preconditions checked first and held to by
 * ravend when it runs the edit. YANG Patch is rest_patch.c's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/rest/rest_impl.h"
#include "daemon/base/poison.h"

/* Whether @xpath has an instance in @ds. */
static int exists(struct rest_req *r, enum cfg_ds ds, const char *xpath, bool *yes, struct cfg_errs *errs)
{
    const char *xps[2] = {xpath, NULL};
    struct lyd_node *t = NULL;
    int rc = rest_get(r, ds, xps, &t, errs);

    *yes = t != NULL;
    lyd_free_siblings(t);
    return rc;
}

/* The edit tree's skeleton down to @xpath (the parents with their keys); *at is the
 * node of @xpath. */
static int skeleton(struct rest_api *api, const char *xpath, struct lyd_node **top, struct lyd_node **at)
{
    *top = *at = NULL;
    if (!xpath)
        return 0;
    if (lyd_new_path(NULL, api->ctx, xpath, NULL, 0, top) || lyd_find_path(*top, xpath, 0, at)) {
        lyd_free_all(*top);
        *top = NULL;
        return -EINVAL;
    }
    return 0;
}

/* If-Match and If-Unmodified-Since against running (RFC 8040 3.4.1.1): true,
 * replied to with 412, when they fail; when they hold, the generation checked is
 * kept for the edit (rest_run_edit). */
static bool preconditions_fail(struct rest_req *r)
{
    time_t mtime;
    uint64_t gen;
    char cur[48];

    if (!r->if_match && !r->if_unmodified_since)
        return false;
    if (r->dsel == REST_DS_CANDIDATE || r->dsel == REST_DS_STARTUP)
        return false;
    gen = mc_running_gen(r->api->mc, &mtime);
    snprintf(cur, sizeof(cur), "\"%016llx-%llu\"", (unsigned long long)r->api->boot, (unsigned long long)gen);
    if ((r->if_match && !rest_etag_matches(r->if_match, cur)) ||
        (r->if_unmodified_since && mtime > r->if_unmodified_since)) {
        rest_reply_err(&r->rep, r->out_fmt, 412, CFG_ERR_OPERATION_FAILED, NULL,
                       "the datastore has changed since the entity tag or date given (now %s)", cur);
        return true;
    }
    r->checked = true;
    r->gen_checked = gen;
    return false;
}

/* A write done: @status, and the entity tag of running as it is now. */
static void after_write(struct rest_req *r, unsigned int status)
{
    time_t mtime;
    uint64_t gen = mc_running_gen(r->api->mc, &mtime);

    r->rep.status = status;
    if (r->dsel != REST_DS_CANDIDATE && r->dsel != REST_DS_STARTUP)
        rest_set_etag(r, gen, mtime);
}

/* Percent-encodes a key value for a URI. */
static char *pct_encode(const char *v)
{
    size_t n = strlen(v);
    char *s = malloc(3 * n + 1), *o = s;

    if (!s)
        return NULL;
    for (; *v; v++) {
        unsigned char c = (unsigned char)*v;

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-._~", c)) {
            *o++ = (char)c;
        } else {
            snprintf(o, 4, "%%%02X", c);
            o += 3;
        }
    }
    *o = '\0';
    return s;
}

/* The URI of @n, a child of the target of @r. */
static char *location(struct rest_req *r, const struct lyd_node *n)
{
    const struct lyd_node *par = lyd_parent(n);
    char *seg = NULL, *uri = NULL;
    size_t len;
    FILE *f = open_memstream(&seg, &len);

    if (!f)
        return NULL;
    if (!par || par->schema->module != n->schema->module)
        fprintf(f, "%s:", n->schema->module->name);
    fputs(n->schema->name, f);
    if (n->schema->nodetype == LYS_LIST && !(n->schema->flags & LYS_KEYLESS)) {
        const struct lyd_node *k;
        bool first = true;

        LY_LIST_FOR(lyd_child(n), k)
        {
            char *e;

            if (!k->schema || !lysc_is_key(k->schema))
                break;
            e = pct_encode(lyd_get_value(k));
            fprintf(f, "%c%s", first ? '=' : ',', e ? e : "");
            free(e);
            first = false;
        }
    } else if (n->schema->nodetype == LYS_LEAFLIST) {
        char *e = pct_encode(lyd_get_value(n));

        fprintf(f, "=%s", e ? e : "");
        free(e);
    }
    fclose(f);
    {
        const char *rel = r->rel ? r->rel : "";
        size_t rl = strlen(rel);

        while (rl && rel[rl - 1] == '/')
            rl--;
        if (asprintf(&uri, "%s%s%.*s/%s", r->base_uri, rl ? "/" : "", (int)rl, rel, seg) < 0)
            uri = NULL;
    }
    free(seg);
    return uri;
}

/* The single node the body holds, checked against the target; NULL with an error. */
static struct lyd_node *body_node(struct rest_req *r, struct lyd_node *parent, struct lyd_node *top,
                                  const struct lysc_node *want, struct cfg_errs *errs)
{
    struct lyd_node *first = parent ? lyd_child(parent) : top, *found = NULL, *n;
    size_t count = 0;

    LY_LIST_FOR(first, n)
    {
        if (n->schema && lysc_is_key(n->schema) && parent)
            continue;
        found = n;
        count++;
    }
    if (count != 1) {
        cfg_err_add(errs, CFG_ERR_MALFORMED_MESSAGE, CFG_ERRT_PROTOCOL, NULL,
                    "the body must hold exactly one data node, it holds %zu", count);
        return NULL;
    }
    if (want && found->schema != want) {
        cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL,
                    "the body holds \"%s\" but the target is \"%s\"", found->schema ? found->schema->name : "?",
                    want->name);
        return NULL;
    }
    return found;
}

/* Whether the target may be written at all (a writable datastore, configuration,
 * the client's preconditions); replied to when not. */
static bool write_allowed(struct rest_req *r, struct rest_path *p)
{
    if (r->dsel == REST_DS_OPERATIONAL) {
        r->rep.allow = "OPTIONS, GET, HEAD";
        rest_reply_err(&r->rep, r->out_fmt, 405, CFG_ERR_OPERATION_NOT_SUPPORTED, NULL,
                       "the operational datastore is read-only");
        return false;
    }
    if (p->snode && (p->snode->flags & LYS_CONFIG_R)) {
        r->rep.allow = "OPTIONS, GET, HEAD";
        rest_reply_err(&r->rep, r->out_fmt, 405, CFG_ERR_OPERATION_NOT_SUPPORTED, p->xpath,
                       "\"%s\" is state data: it cannot be written", p->snode->name);
        return false;
    }
    return !preconditions_fail(r);
}

/* Whether the method, body and path of a plain (not YANG Patch) write go together;
 * replied to when not. */
static bool write_well_formed(struct rest_req *r, struct rest_path *p)
{
    const char *m = r->method;
    bool post = !strcmp(m, "POST"), del = !strcmp(m, "DELETE");

    if (!del && !r->body_len) {
        rest_reply_err(&r->rep, r->out_fmt, 400, CFG_ERR_MALFORMED_MESSAGE, NULL, "%s needs a body", m);
        return false;
    }
    if (del && r->body_len) {
        rest_reply_err(&r->rep, r->out_fmt, 400, CFG_ERR_MALFORMED_MESSAGE, NULL, "DELETE takes no body");
        return false;
    }
    if (!p->xpath && del) {
        r->rep.allow = "OPTIONS, GET, HEAD, POST, PUT, PATCH";
        rest_reply_err(&r->rep, r->out_fmt, 405, CFG_ERR_OPERATION_NOT_SUPPORTED, NULL,
                       "the datastore itself cannot be deleted");
        return false;
    }
    if (p->all_instances && !post) {
        rest_reply_err(&r->rep, r->out_fmt, 400, CFG_ERR_INVALID_VALUE, p->xpath,
                       "%s needs the key values of \"%s\" in the path", m, p->snode->name);
        return false;
    }
    return true;
}

/* PUT (replace) or PATCH (merge) of the whole datastore. */
static void write_datastore(struct rest_req *r)
{
    struct cfg_actor a = rest_actor(r);
    struct cfg_errs errs = {0};
    struct lyd_node *top = NULL;
    const char *why = NULL;
    char *text;
    int rc;

    text = rest_unwrap(r->body, r->in_fmt, "ietf-restconf:data", NULL, &why);
    if (!text) {
        rest_reply_err(&r->rep, r->out_fmt, 400, CFG_ERR_MALFORMED_MESSAGE, NULL,
                       "%s of the datastore: %s (ietf-restconf:data)", r->method, why);
        return;
    }
    rc = *text ? rest_parse_config(r, NULL, text, &top, &errs) : 0;
    if (!rc && !strcmp(r->method, "PUT"))
        rc = mc_copy(r->api->mc, &a, rest_ds_of(r->dsel), CFG_SRC_INLINE, top, &errs);
    else if (!rc && top)
        rc = rest_run_edit(r, top, &errs);
    free(text);
    lyd_free_all(top);
    if (rc)
        rest_reply_errs_rc(r, &errs, rc, 0);
    else
        after_write(r, 204);
}

/* DELETE of a resource: an edit that names the existing node (a leaf needs its
 * value). */
static void write_delete(struct rest_req *r, struct rest_path *p)
{
    struct cfg_errs errs = {0};
    struct lyd_node *node = NULL;
    bool existed = false;
    int rc;

    rc = exists(r, rest_ds_of(r->dsel), p->xpath, &existed, &errs);
    if (!rc && !existed) {
        rest_reply_err(&r->rep, r->out_fmt, 404, CFG_ERR_DATA_MISSING, p->xpath, "no data at this path");
        return;
    }
    if (!rc) {
        const char *xps[2] = {p->xpath, NULL};
        struct lyd_node *cur = NULL;
        struct ly_set *set = NULL;

        rc = rest_get(r, rest_ds_of(r->dsel), xps, &cur, &errs);
        if (!rc && !lyd_find_xpath(cur, p->xpath, &set) && set->count == 1 &&
            !lyd_dup_single(set->dnodes[0], NULL, LYD_DUP_WITH_PARENTS | LYD_DUP_NO_META, &node))
            rc = rest_set_op(r->api, node, "delete");
        else if (!rc)
            rc = -EINVAL;
        ly_set_free(set, NULL);
        lyd_free_siblings(cur);
        if (!rc)
            rc = rest_run_edit(r, node, &errs);
        if (node) {
            while (node->parent)
                node = lyd_parent(node);
            lyd_free_all(node);
        }
    }
    if (rc)
        rest_reply_errs_rc(r, &errs, rc, 0);
    else
        after_write(r, 204);
}

/* POST: a child created in the target (or, for a URI naming a list, an entry
 * beside it), answered with its Location. */
static void write_create(struct rest_req *r, struct rest_path *p)
{
    const char *target = p->all_instances ? p->parent_xpath : p->xpath;
    struct cfg_errs errs = {0};
    struct lyd_node *top = NULL, *at = NULL, *node = NULL;
    bool existed = false;
    int rc = 0;

    if (target && (rc = exists(r, rest_ds_of(r->dsel), target, &existed, &errs)) == 0 && !existed) {
        rest_reply_err(&r->rep, r->out_fmt, 404, CFG_ERR_INVALID_VALUE, target,
                       "no data at this path to create a child in");
        return;
    }
    if (!rc && skeleton(r->api, target, &top, &at))
        rc = -ENOMEM;
    if (!rc)
        rc = rest_parse_config(r, at, r->body, &top, &errs);
    if (!rc && !(node = body_node(r, at, top, p->all_instances ? p->snode : NULL, &errs)))
        rc = -EINVAL;
    if (!rc)
        rc = rest_set_op(r->api, node, "create");
    if (!rc)
        rc = rest_run_edit(r, node, &errs);
    if (!rc) {
        r->rep.location = location(r, node);
        if (p->all_instances) {
            /* the URI named the list: the new entry sits next to it */
            char *l = r->rep.location, *slash = l ? strrchr(l, '/') : NULL;
            char *prev = slash ? slash - 1 : NULL;

            while (prev && prev > l && *prev != '/')
                prev--;
            if (prev && prev > l)
                memmove(prev, slash, strlen(slash) + 1);
        }
        after_write(r, 201);
    } else {
        rest_reply_errs_rc(r, &errs, rc, 0);
    }
    lyd_free_all(top);
}

/* PUT (replace, or create) or PATCH (merge) of a resource. */
static void write_resource(struct rest_req *r, struct rest_path *p)
{
    bool put = !strcmp(r->method, "PUT"), patch = !strcmp(r->method, "PATCH"), existed = false;
    struct cfg_errs errs = {0};
    struct lyd_node *top = NULL, *at = NULL, *node = NULL;
    int rc;

    rc = exists(r, rest_ds_of(r->dsel), p->xpath, &existed, &errs);
    if (!rc && patch && !existed) {
        rest_reply_err(&r->rep, r->out_fmt, 404, CFG_ERR_INVALID_VALUE, p->xpath,
                       "no data at this path to merge into (PUT creates)");
        return;
    }
    if (!rc && skeleton(r->api, p->parent_xpath, &top, &at))
        rc = -ENOMEM;
    if (!rc)
        rc = rest_parse_config(r, at, r->body, &top, &errs);
    if (!rc && !(node = body_node(r, at, top, p->snode, &errs)))
        rc = -EINVAL;
    if (!rc) {
        /* the body's keys must be the URI's */
        struct ly_set *set = NULL;
        struct lyd_node *root = node;

        while (root->parent)
            root = lyd_parent(root);
        if (lyd_find_xpath(root, p->xpath, &set) || set->count != 1 || set->dnodes[0] != node) {
            cfg_err_add(&errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, p->xpath,
                        "the key values in the body differ from those in the URI");
            rc = -EINVAL;
        }
        ly_set_free(set, NULL);
    }
    if (!rc)
        rc = rest_set_op(r->api, node, put ? "replace" : "merge");
    if (!rc)
        rc = rest_run_edit(r, node, &errs);
    if (rc) {
        rest_reply_errs_rc(r, &errs, rc, 0);
    } else {
        if (put && !existed) {
            if (asprintf(&r->rep.location, "%s", r->url) < 0)
                r->rep.location = NULL;
        }
        after_write(r, put && !existed ? 201 : 204);
    }
    lyd_free_all(top);
}

void rest_data_write(struct rest_req *r, struct rest_path *p)
{
    const char *m = r->method;

    if (!write_allowed(r, p))
        return;
    if (r->yang_patch) {
        if (strcmp(m, "PATCH") || r->in_fmt != REST_JSON)
            rest_reply_err(&r->rep, r->out_fmt, 415, CFG_ERR_INVALID_VALUE, NULL,
                           "a YANG Patch goes with PATCH, as application/yang-patch+json");
        else
            rest_data_yang_patch(r);
        return;
    }
    if (!write_well_formed(r, p))
        return;
    if (!p->xpath && (!strcmp(m, "PUT") || !strcmp(m, "PATCH")))
        write_datastore(r); /* PUT replaces the whole datastore, PATCH merges into it */
    else if (!strcmp(m, "DELETE"))
        write_delete(r, p);
    else if (!strcmp(m, "POST"))
        write_create(r, p);
    else
        write_resource(r, p);
}
