/* RESTCONF operations (/restconf/operations) and YANG modules (/restconf/yang), on
 * the request's thread: the NETCONF operations and the raven RPCs are ravend's,
 * reached through the management client. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/rest/rest_impl.h"
#include "daemon/base/poison.h"

/* ---- schemas ---- */

/* GET /restconf/yang/NAME[@REVISION]: the module's YANG text (what NETCONF's
 * get-schema returns). */
void rest_schema_run(struct rest_req *r)
{
    char name[128], *at, *text = NULL;
    const struct lys_module *m;
    struct cfg_actor a = rest_actor(r);
    struct cfg_errs errs = {0};
    int rc;

    /* NACM: as NETCONF's get-schema */
    rc = mc_nacm_check(r->api->mc, &a, "ietf-netconf-monitoring:get-schema", NULL, &errs);
    if (rc) {
        rest_reply_errs(&r->rep, r->out_fmt, &errs, rc == -EACCES ? 403 : rc == -ESHUTDOWN ? 503 : 500);
        cfg_errs_clear(&errs);
        return;
    }
    snprintf(name, sizeof(name), "%s", r->rel);
    at = strchr(name, '@');
    if (at)
        *at++ = '\0';
    m = at ? ly_ctx_get_module(r->api->ctx, name, at) : ly_ctx_get_module_latest(r->api->ctx, name);
    if (!*name || strlen(r->rel) >= sizeof(name) || !m) {
        rest_reply_err(&r->rep, r->out_fmt, 404, CFG_ERR_INVALID_VALUE, NULL, "no YANG module \"%s\"", r->rel);
        return;
    }
    if (lys_print_mem(&text, m, LYS_OUT_YANG, 0) || !text) {
        rest_reply_err(&r->rep, r->out_fmt, 500, CFG_ERR_OPERATION_FAILED, NULL, "cannot print module %s", name);
        return;
    }
    rest_set_body(&r->rep, text, "application/yang");
    r->rep.status = 200;
}

/* ---- operations ---- */

static const char *const netconf_ops[] = {"commit",     "cancel-commit", "discard-changes", "validate",
                                          "copy-config", "delete-config", NULL};

/* The datastore named under @rpc's @which container (candidate, running, startup),
 * or -1. */
static int ds_child(const struct lyd_node *rpc, const char *which)
{
    static const char *const names[] = {"running", "candidate", "startup"};
    static const enum cfg_ds ds[] = {CFG_DS_RUNNING, CFG_DS_CANDIDATE, CFG_DS_STARTUP};
    char path[64];
    struct lyd_node *c = NULL;

    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", which, names[i]);
        if (!lyd_find_path(rpc, path, 0, &c))
            return (int)ds[i];
    }
    return -1;
}

static bool op_allowed(const struct lysc_node *op)
{
    if (!strcmp(op->module->name, "ietf-netconf")) {
        for (size_t i = 0; netconf_ops[i]; i++)
            if (!strcmp(op->name, netconf_ops[i]))
                return true;
        return false;
    }
    return !strncmp(op->module->name, "raven-", 6);
}

static void ops_list(struct rest_req *r)
{
    const struct lys_module *mod;
    uint32_t idx = 0;
    char *buf = NULL;
    size_t len = 0;
    bool first = true;
    FILE *f = open_memstream(&buf, &len);

    if (!f)
        return;
    fputs(r->out_fmt == REST_XML ? "<operations xmlns=\"" NS_RESTCONF "\">" : "{\"ietf-restconf:operations\":{", f);
    while ((mod = ly_ctx_get_module_iter(r->api->ctx, &idx))) {
        if (!mod->implemented || !mod->compiled)
            continue;
        for (const struct lysc_node_action *a = mod->compiled->rpcs; a; a = (const struct lysc_node_action *)a->next) {
            if (!op_allowed(&a->node))
                continue;
            if (r->out_fmt == REST_XML)
                fprintf(f, "<%s xmlns=\"%s\">/restconf/operations/%s:%s</%s>", a->name, mod->ns, mod->name, a->name,
                        a->name);
            else
                fprintf(f, "%s\"%s:%s\":[null]", first ? "" : ",", mod->name, a->name);
            first = false;
        }
    }
    fputs(r->out_fmt == REST_XML ? "</operations>\n" : "}}\n", f);
    fclose(f);
    rest_set_body(&r->rep, buf, rest_ctype(r->out_fmt));
    r->rep.status = 200;
}

static const char *child_val(const struct lyd_node *n, const char *name)
{
    struct lyd_node *c = NULL;

    if (lyd_find_path(n, name, 0, &c))
        return NULL;
    return lyd_get_value(c);
}

static int netconf_op(struct rest_req *r, const struct lyd_node *rpc, struct cfg_errs *errs)
{
    struct cfg_actor a = rest_actor(r);
    struct mc *mc = r->api->mc;
    const char *name = rpc->schema->name;
    struct lyd_node *c = NULL;

    if (!strcmp(name, "commit")) {
        struct cfg_commit_opts o = {0};
        const char *t = child_val(rpc, "confirm-timeout");

        o.confirmed = !lyd_find_path(rpc, "confirmed", 0, &c);
        o.timeout_s = t ? (uint32_t)strtoul(t, NULL, 10) : 0;
        o.persist = child_val(rpc, "persist");
        o.persist_id = child_val(rpc, "persist-id");
        return mc_commit(mc, &a, &o, errs);
    }
    if (!strcmp(name, "cancel-commit"))
        return mc_cancel_commit(mc, &a, child_val(rpc, "persist-id"), errs);
    if (!strcmp(name, "discard-changes"))
        return mc_discard(mc, &a, errs);
    if (!strcmp(name, "copy-config") || !strcmp(name, "delete-config")) {
        int dst = ds_child(rpc, "target"), src = ds_child(rpc, "source");

        if (dst < 0) {
            cfg_err_add(errs, CFG_ERR_MISSING_ELEMENT, CFG_ERRT_PROTOCOL, NULL,
                        "%s needs a target datastore: running, candidate or startup", name);
            return -EINVAL;
        }
        if (!strcmp(name, "delete-config"))
            return mc_delete_ds(mc, &a, (enum cfg_ds)dst, errs);
        if (src < 0) {
            cfg_err_add(errs, CFG_ERR_MISSING_ELEMENT, CFG_ERRT_PROTOCOL, NULL,
                        "copy-config needs a source datastore: running, candidate or startup");
            return -EINVAL;
        }
        return mc_copy(mc, &a, (enum cfg_ds)dst, src, NULL, errs);
    }
    /* validate */
    if (!lyd_find_path(rpc, "source/candidate", 0, &c))
        return mc_validate(mc, &a, CFG_DS_CANDIDATE, NULL, errs);
    if (!lyd_find_path(rpc, "source/startup", 0, &c))
        return mc_validate(mc, &a, CFG_DS_STARTUP, NULL, errs);
    if (!lyd_find_path(rpc, "source/running", 0, &c))
        return mc_validate(mc, &a, CFG_DS_RUNNING, NULL, errs);
    if (!lyd_find_path(rpc, "source/config", 0, &c)) {
        const struct lyd_node_any *any = (const struct lyd_node_any *)c;
        struct lyd_node *tree = NULL;
        int rc;

        if (any->value_type == LYD_ANYDATA_DATATREE)
            return mc_validate(mc, &a, CFG_SRC_INLINE, any->value.tree, errs);
        if (any->value_type == LYD_ANYDATA_JSON || any->value_type == LYD_ANYDATA_XML || any->value_type == LYD_ANYDATA_STRING) {
            struct ly_in *in = NULL;

            if (any->value_type != LYD_ANYDATA_XML && rest_json_check(any->value.str, errs))
                return -EINVAL;
            if (ly_in_new_memory(any->value.str, &in))
                return -ENOMEM;
            if (lyd_parse_data(r->api->ctx, NULL, in, any->value_type == LYD_ANYDATA_XML ? LYD_XML : LYD_JSON,
                               LYD_PARSE_ONLY | LYD_PARSE_STRICT | LYD_PARSE_NO_STATE, 0, &tree)) {
                ly_in_free(in, 0);
                cfg_err_from_ly(errs, r->api->ctx, "the configuration to validate cannot be parsed");
                return -EINVAL;
            }
            ly_in_free(in, 0);
            rc = mc_validate(mc, &a, CFG_SRC_INLINE, tree, errs);
            lyd_free_all(tree);
            return rc;
        }
    }
    cfg_err_add(errs, CFG_ERR_MISSING_ELEMENT, CFG_ERRT_PROTOCOL, NULL,
                "validate needs a source: candidate, running, startup or config");
    return -EINVAL;
}

/* {"mod:output": {...}} from the RPC node holding output children. */
static char *print_output(struct rest_req *r, const struct lyd_node *out)
{
    const char *mod = out->schema->module->name, *name = out->schema->name;
    char *s = NULL, *res = NULL;

    if (lyd_print_mem(&s, out, r->out_fmt == REST_XML ? LYD_XML : LYD_JSON, LYD_PRINT_SHRINK) || !s)
        return NULL;
    if (r->out_fmt == REST_JSON) {
        json_t *root = json_loads(s, 0, NULL), *inner;
        char key[160];

        snprintf(key, sizeof(key), "%s:%s", mod, name);
        inner = root ? json_object_get(root, key) : NULL;
        if (inner) {
            json_t *w = json_pack("{s:O}", "", inner);

            snprintf(key, sizeof(key), "%s:output", mod);
            json_decref(w);
            w = json_object();
            json_object_set(w, key, inner);
            res = json_dumps(w, JSON_COMPACT);
            json_decref(w);
        }
        json_decref(root);
    } else {
        size_t nl = strlen(name), sl = strlen(s);

        /* <name xmlns="...">...</name> -> <output xmlns="...">...</output> */
        while (sl && (s[sl - 1] == '\n' || s[sl - 1] == ' '))
            sl--;
        if (sl > 2 * nl + 4 && s[0] == '<' && !strncmp(s + 1, name, nl) && s[sl - 1] == '>' &&
            asprintf(&res, "<output%.*s</output>\n", (int)(sl - 1 - nl - (nl + 3)), s + 1 + nl) < 0)
            res = NULL;
    }
    free(s);
    return res;
}

void rest_ops_run(struct rest_req *r)
{
    struct rest_api *api = r->api;
    struct cfg_errs errs = {0};
    const struct lys_module *mod;
    const struct lysc_node_action *op = NULL;
    struct lyd_node *rpc = NULL, *tree = NULL, *out = NULL;
    const char *colon = strchr(r->rel, ':'), *why = NULL;
    char modname[128], *text = NULL;
    int rc;

    if (!*r->rel) {
        if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD")) {
            r->rep.allow = "OPTIONS, GET, HEAD";
            rest_reply_err(&r->rep, r->out_fmt, 405, CFG_ERR_OPERATION_NOT_SUPPORTED, NULL,
                           "POST names an operation: /restconf/operations/module:name");
            return;
        }
        ops_list(r);
        return;
    }
    if (!colon || (size_t)(colon - r->rel) >= sizeof(modname) || strchr(r->rel, '/')) {
        rest_reply_err(&r->rep, r->out_fmt, 404, CFG_ERR_INVALID_VALUE, NULL,
                       "operations are named module:name, e.g. raven-vpn:clear-session");
        return;
    }
    memcpy(modname, r->rel, (size_t)(colon - r->rel));
    modname[colon - r->rel] = '\0';
    mod = ly_ctx_get_module_implemented(api->ctx, modname);
    for (const struct lysc_node_action *a = mod && mod->compiled ? mod->compiled->rpcs : NULL; a;
         a = (const struct lysc_node_action *)a->next)
        if (!strcmp(a->name, colon + 1))
            op = a;
    if (!op || !op_allowed(&op->node)) {
        rest_reply_err(&r->rep, r->out_fmt, 404, CFG_ERR_INVALID_VALUE, NULL, "no operation \"%s\"", r->rel);
        return;
    }
    if (strcmp(r->method, "POST")) {
        r->rep.allow = "OPTIONS, POST";
        rest_reply_err(&r->rep, r->out_fmt, 405, CFG_ERR_OPERATION_NOT_SUPPORTED, NULL, "operations are called with POST");
        return;
    }
    /* the body, if any, is "module:input"; libyang parses the operation itself */
    {
        char inname[160], opname[160];
        struct ly_in *in = NULL;

        snprintf(inname, sizeof(inname), "%s:input", modname);
        snprintf(opname, sizeof(opname), "%s:%s", modname, op->name);
        if (r->body_len) {
            text = rest_unwrap(r->body, r->in_fmt, inname, r->in_fmt == REST_JSON ? opname : op->name, &why);
            if (!text) {
                rest_reply_err(&r->rep, r->out_fmt, 400, CFG_ERR_MALFORMED_MESSAGE, NULL, "%s (%s)", why, inname);
                return;
            }
            if (r->in_fmt == REST_XML && !strstr(text, mod->ns)) {
                /* <input> without the module's namespace: supply it */
                char *w = NULL;
                size_t on = strlen(op->name);

                if (asprintf(&w, "<%s xmlns=\"%s\"%s", op->name, mod->ns, text + 1 + on) < 0)
                    w = NULL;
                free(text);
                text = w;
            }
        } else if (asprintf(&text, r->in_fmt == REST_XML ? "<%s xmlns=\"%s\"/>" : "{\"%s\":{}}",
                            r->in_fmt == REST_XML ? op->name : opname, mod->ns) < 0) {
            text = NULL;
        }
        if (text && r->in_fmt != REST_XML && rest_json_check(text, &errs)) {
            free(text);
            rest_reply_errs_rc(r, &errs, -EINVAL, 400);
            return;
        }
        if (!text || ly_in_new_memory(text, &in)) {
            free(text);
            rest_reply_err(&r->rep, r->out_fmt, 500, CFG_ERR_RESOURCE_DENIED, NULL, "out of memory");
            return;
        }
        if (lyd_parse_op(api->ctx, NULL, in, r->body_len && r->in_fmt == REST_XML ? LYD_XML
                                              : r->body_len                         ? LYD_JSON
                                              : r->in_fmt == REST_XML               ? LYD_XML
                                                                                    : LYD_JSON,
                         LYD_TYPE_RPC_YANG, &tree, &rpc) ||
            !rpc || lyd_validate_op(tree, NULL, LYD_TYPE_RPC_YANG, NULL)) {
            ly_in_free(in, 0);
            free(text);
            lyd_free_all(tree);
            cfg_err_from_ly(&errs, api->ctx, "the operation's input is invalid");
            for (struct cfg_err *x = errs.head; x; x = x->next)
                if (x->tag == CFG_ERR_OPERATION_FAILED)
                    x->tag = CFG_ERR_INVALID_VALUE;
            rest_reply_errs_rc(r, &errs, -EINVAL, 400);
            return;
        }
        ly_in_free(in, 0);
        free(text);
    }
    if (!strcmp(op->module->name, "ietf-netconf")) {
        rc = netconf_op(r, rpc, &errs);
        if (rc)
            rest_reply_errs_rc(r, &errs, rc, 0);
        else
            r->rep.status = 204;
    } else if (lyd_dup_single(rpc, NULL, 0, &out)) {
        rest_reply_err(&r->rep, r->out_fmt, 500, CFG_ERR_RESOURCE_DENIED, NULL, "out of memory");
    } else {
        struct cfg_actor a = rest_actor(r);

        rc = mc_rpc(api->mc, &a, rpc, out, &errs);
        if (rc) {
            rest_reply_errs_rc(r, &errs, rc, 0);
        } else if (!lyd_child(out)) {
            r->rep.status = 204;
        } else {
            char *s = print_output(r, out);

            rest_set_body(&r->rep, s, rest_ctype(r->out_fmt));
            r->rep.status = s ? 200 : 500;
        }
        lyd_free_tree(out);
    }
    lyd_free_all(tree);
    /* the operation may have changed state (sessions, counters): cached reads go */
    rest_api_state_changed(api);
}
