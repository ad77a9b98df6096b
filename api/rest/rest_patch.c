/* YANG Patch (RFC 8072) on the RESTCONF data resources: every edit of a patch
 * becomes part of one edit tree, applied in one transaction by ravend; the
 * reply is the yang-patch-status document. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/rest/rest_impl.h"
#include "daemon/base/poison.h"

static void patch_status(struct rest_req *r, const char *patch_id, struct cfg_errs *errs, unsigned int status)
{
    json_t *st = json_object(), *root;
    char *s;

    if (patch_id)
        json_object_set_new(st, "patch-id", json_string(patch_id));
    if (!errs) {
        json_object_set_new(st, "ok", json_pack("[n]"));
    } else {
        /* the errors of the whole patch, in the RESTCONF error format */
        struct rest_reply tmp = {0};
        json_t *e;

        rest_reply_errs(&tmp, REST_JSON, errs, status);
        e = tmp.body ? json_loads(tmp.body, 0, NULL) : NULL;
        free(tmp.body);
        if (e)
            json_object_set(st, "errors", json_object_get(json_object_get(e, "ietf-restconf:errors"), "error")
                                              ? json_object_get(e, "ietf-restconf:errors")
                                              : json_object());
        json_decref(e);
        cfg_errs_clear(errs);
    }
    root = json_pack("{s:o}", "ietf-yang-patch:yang-patch-status", st);
    s = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    rest_set_body(&r->rep, s, "application/yang-data+json");
    r->rep.status = status;
}

/* One edit of a patch added to the combined edit tree *top. */
static int patch_edit(struct rest_req *r, json_t *edit, struct lyd_node **top, struct cfg_errs *errs)
{
    struct rest_api *api = r->api;
    const char *id = json_string_value(json_object_get(edit, "edit-id"));
    const char *op = json_string_value(json_object_get(edit, "operation"));
    const char *target = json_string_value(json_object_get(edit, "target"));
    json_t *value = json_object_get(edit, "value");
    struct rest_path p = {0};
    struct lyd_node *at = NULL, *node = NULL;
    char *full = NULL, *text = NULL;
    int rc;

    if (!id || !op || !target) {
        cfg_err_add(errs, CFG_ERR_MISSING_ELEMENT, CFG_ERRT_PROTOCOL, NULL,
                    "every edit needs an edit-id, an operation and a target");
        return -EINVAL;
    }
    if (!strcmp(op, "insert") || !strcmp(op, "move")) {
        cfg_err_add(errs, CFG_ERR_OPERATION_NOT_SUPPORTED, CFG_ERRT_PROTOCOL, NULL,
                    "edit %s: %s is not supported; set the order of aaa/server-group/server by replacing the "
                    "server group",
                    id, op);
        return -EINVAL;
    }
    if (strcmp(op, "create") && strcmp(op, "merge") && strcmp(op, "replace") && strcmp(op, "delete") &&
        strcmp(op, "remove")) {
        cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL, "edit %s: unknown operation \"%s\"", id, op);
        return -EINVAL;
    }
    /* the target is relative to the request's resource */
    if (asprintf(&full, "%s/%s", r->rel ? r->rel : "", target[0] == '/' ? target + 1 : target) < 0)
        return -ENOMEM;
    rc = rest_path_parse(api->ctx, full, &p, errs);
    free(full);
    if (rc)
        return rc;
    if (!p.xpath || p.all_instances || (p.snode->flags & LYS_CONFIG_R)) {
        cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, p.xpath,
                    "edit %s: the target must be one configuration node (with its list keys)", id);
        rest_path_clear(&p);
        return -EINVAL;
    }
    if (!strcmp(op, "delete") || !strcmp(op, "remove")) {
        const char *xps[2] = {p.xpath, NULL};
        struct lyd_node *cur = NULL;
        struct ly_set *set = NULL;

        if (value) {
            cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, p.xpath, "edit %s: %s takes no value", id, op);
            rest_path_clear(&p);
            return -EINVAL;
        }
        rc = rest_get(r, rest_ds_of(r->dsel), xps, &cur, errs);
        if (!rc && !lyd_find_xpath(cur, p.xpath, &set) && set->count == 1) {
            /* the existing node, copied into the edit tree under its parents */
            struct lyd_node *dup = NULL;

            if (lyd_dup_single(set->dnodes[0], NULL, LYD_DUP_WITH_PARENTS | LYD_DUP_NO_META, &dup))
                rc = -ENOMEM;
            else {
                node = dup;
                while (dup->parent)
                    dup = lyd_parent(dup);
                if (lyd_merge_siblings(top, dup, LYD_MERGE_DESTRUCT) || lyd_find_path(*top, p.xpath, 0, &node))
                    rc = -ENOMEM;
            }
        } else if (!rc && !strcmp(op, "delete")) {
            cfg_err_add(errs, CFG_ERR_DATA_MISSING, CFG_ERRT_APPLICATION, p.xpath, "edit %s: no data to delete", id);
            rc = -ENOENT;
        }
        ly_set_free(set, NULL);
        lyd_free_siblings(cur);
        if (!rc && node) {
            struct lyd_meta *m = lyd_find_meta(node->meta, NULL, "ietf-netconf:operation");

            if (m) {
                cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, p.xpath,
                            "edit %s: another edit of the patch already changes this node", id);
                rc = -EINVAL;
            } else {
                rc = rest_set_op(api, node, op);
            }
        }
        rest_path_clear(&p);
        return rc;
    }
    if (!json_is_object(value) || json_object_size(value) != 1) {
        cfg_err_add(errs, CFG_ERR_MISSING_ELEMENT, CFG_ERRT_PROTOCOL, p.xpath,
                    "edit %s: %s needs a value holding the target node", id, op);
        rest_path_clear(&p);
        return -EINVAL;
    }
    text = json_dumps(value, JSON_COMPACT);
    rc = text ? 0 : -ENOMEM;
    /* the target's parents in the combined tree, then the value under them */
    if (!rc && p.parent_xpath && (!*top || lyd_find_path(*top, p.parent_xpath, 0, &at))) {
        at = NULL;
        if (lyd_new_path(*top, api->ctx, p.parent_xpath, NULL, 0, *top ? NULL : top)) {
            cfg_err_from_ly(errs, api->ctx, "the patch's edits cannot be combined");
            rc = -EINVAL;
        } else {
            *top = lyd_first_sibling(*top);
            if (lyd_find_path(*top, p.parent_xpath, 0, &at))
                rc = -EINVAL;
        }
    }
    if (!rc) {
        struct lyd_node *parsed = NULL;

        rc = rest_parse_config(r, at, text, at ? NULL : &parsed, errs);
        if (!rc && !at) {
            if (*top)
                rc = lyd_insert_sibling(*top, parsed, top) ? -EINVAL : 0;
            else
                *top = parsed;
        }
        if (!rc) {
            struct ly_set *set = NULL;

            if (lyd_find_xpath(*top, p.xpath, &set) || set->count != 1) {
                cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, p.xpath,
                            "edit %s: the value does not hold the target node (or holds it twice)", id);
                rc = -EINVAL;
            } else {
                node = set->dnodes[0];
            }
            ly_set_free(set, NULL);
        }
    }
    if (!rc) {
        if (lyd_find_meta(node->meta, NULL, "ietf-netconf:operation")) {
            cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, p.xpath,
                        "edit %s: another edit of the patch already changes this node", id);
            rc = -EINVAL;
        } else {
            rc = rest_set_op(api, node, op);
        }
    }
    free(text);
    rest_path_clear(&p);
    return rc;
}

/* PATCH with application/yang-patch+json: every edit in one transaction. */
void rest_data_yang_patch(struct rest_req *r)
{
    struct cfg_errs errs = {0};
    struct lyd_node *top = NULL;
    json_error_t jerr;
    json_t *root = json_loads(r->body, JSON_REJECT_DUPLICATES, &jerr), *yp, *edits;
    const char *pid = NULL;
    size_t i;
    int rc = 0;

    yp = root ? json_object_get(root, "ietf-yang-patch:yang-patch") : NULL;
    edits = yp ? json_object_get(yp, "edit") : NULL;
    pid = yp ? json_string_value(json_object_get(yp, "patch-id")) : NULL;
    if (!yp || !pid || !json_is_array(edits) || !json_array_size(edits)) {
        json_decref(root);
        rest_reply_err(&r->rep, r->out_fmt, 400, CFG_ERR_MALFORMED_MESSAGE, NULL,
                       "a YANG Patch is {\"ietf-yang-patch:yang-patch\": {\"patch-id\": ..., \"edit\": [...]}}");
        return;
    }
    json_array_foreach(edits, i, yp)
    {
        rc = patch_edit(r, yp, &top, &errs);
        if (rc)
            break;
    }
    if (!rc && top)
        rc = rest_run_edit(r, top, &errs);
    lyd_free_all(top);
    if (rc) {
        unsigned int st = rest_status_of(&errs, rc);

        if (!errs.head)
            cfg_err_add(&errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, NULL, "the patch failed");
        patch_status(r, pid, &errs, st);
    } else {
        patch_status(r, pid, NULL, 200);
        {
            time_t mtime;
            uint64_t gen = mc_running_gen(r->api->mc, &mtime);

            if (r->dsel != REST_DS_CANDIDATE && r->dsel != REST_DS_STARTUP)
                rest_set_etag(r, gen, mtime);
        }
    }
    json_decref(root);
}
