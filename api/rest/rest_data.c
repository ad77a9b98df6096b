/* The RESTCONF data resources: /restconf/data and /restconf/ds/... (RFC 8527), on
 * the request's thread: the datastore and the daemon's state are ravend's,
 * reached through the management client. Here: reads, entity tags, request
 * bodies, and the helpers writes share; the writes themselves are in
 * rest_write.c, YANG Patch in rest_patch.c, the operations in rest_ops.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/rest/rest_impl.h"
#include "daemon/base/poison.h"

#define YANG_LIBRARY_VERSION "2019-01-04"

void rest_set_body(struct rest_reply *rep, char *body, const char *ctype)
{
    free(rep->body);
    rep->body = body;
    rep->len = body ? strlen(body) : 0;
    rep->ctype = ctype;
}

void rest_root_reply(struct rest_req *r)
{
    char *s = NULL;

    if (!strcmp(r->url, "/restconf/yang-library-version")) {
        if (r->out_fmt == REST_XML)
            s = strdup("<yang-library-version xmlns=\"" NS_RESTCONF "\">" YANG_LIBRARY_VERSION
                       "</yang-library-version>\n");
        else
            s = strdup("{\"ietf-restconf:yang-library-version\":\"" YANG_LIBRARY_VERSION "\"}\n");
    } else if (r->out_fmt == REST_XML) {
        s = strdup("<restconf xmlns=\"" NS_RESTCONF "\"><data/><operations/><yang-library-version>" YANG_LIBRARY_VERSION
                   "</yang-library-version></restconf>\n");
    } else {
        s = strdup("{\"ietf-restconf:restconf\":{\"data\":{},\"operations\":{},\"yang-library-version\":\"" YANG_LIBRARY_VERSION
                   "\"}}\n");
    }
    rest_set_body(&r->rep, s, rest_ctype(r->out_fmt));
    r->rep.status = s ? 200 : 500;
}

int rest_print(struct rest_req *r, const struct lyd_node *tree, uint32_t flags)
{
    char *s = NULL;

    int rc;

    /* XML report-all-tagged: the attribute in RFC 6243's namespace (JSON's
     * "ietf-netconf-with-defaults:default" annotation is right as libyang prints it) */
    if (r->out_fmt == REST_XML && (flags & LYD_PRINT_WD_MASK) == LYD_PRINT_WD_ALL_TAG)
        rc = cfg_print_xml_tagged(tree, flags & ~LYD_PRINT_WD_MASK, &s);
    else
        rc = lyd_print_mem(&s, tree, r->out_fmt == REST_XML ? LYD_XML : LYD_JSON, flags | LYD_PRINT_WITHSIBLINGS)
                 ? -EIO : 0;
    if (rc) {
        rest_reply_err(&r->rep, r->out_fmt, 500, CFG_ERR_OPERATION_FAILED, NULL, "cannot encode the reply");
        return -EIO;
    }
    if (!s)
        s = strdup(r->out_fmt == REST_XML ? "" : "{}");
    rest_set_body(&r->rep, s, rest_ctype(r->out_fmt));
    r->rep.status = 200;
    return 0;
}

struct cfg_actor rest_actor(const struct rest_req *r)
{
    struct cfg_actor a = {.sid = REST_SID, .user = r->who.user, .host = NULL};

    return a;
}

/* A copy of @ds for the request's user, secrets masked. */
int rest_get(struct rest_req *r, enum cfg_ds ds, const char *const *xpaths, struct lyd_node **out,
             struct cfg_errs *errs)
{
    struct cfg_actor a = rest_actor(r);

    return mc_get(r->api->mc, &a, ds, xpaths, out, errs);
}

void rest_reply_errs_rc(struct rest_req *r, struct cfg_errs *errs, int rc, unsigned int status)
{
    if (!errs->head)
        cfg_err_add(errs, rc == -ENOMEM ? CFG_ERR_RESOURCE_DENIED : CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION,
                    NULL, "%s", rc == -ENOMEM ? "out of memory" : "the request failed");
    rest_reply_errs(&r->rep, r->out_fmt, errs, status ? status : rest_status_of(errs, rc));
    cfg_errs_clear(errs);
}

/* ---- entity tags ---- */

/* Whether @sn or anything below it is state (config false). */
static bool has_state(const struct lysc_node *sn)
{
    const struct lysc_node *c = NULL;

    if (sn->flags & LYS_CONFIG_R)
        return true;
    while ((c = lys_getnext(c, sn, NULL, 0)))
        if (has_state(c))
            return true;
    return false;
}

void rest_set_etag(struct rest_req *r, uint64_t gen, time_t mtime)
{
    snprintf(r->rep.etag, sizeof(r->rep.etag), "\"%016llx-%llu\"", (unsigned long long)r->api->boot,
             (unsigned long long)gen);
    r->rep.last_modified = mtime;
}

/* If-Match / If-None-Match: a list of tags or "*". */
bool rest_etag_matches(const char *hdr, const char *etag)
{
    const char *p = hdr;
    size_t n = strlen(etag);

    if (!strcmp(hdr, "*"))
        return true;
    while ((p = strstr(p, etag))) {
        if (p[n] == '\0' || p[n] == ',' || p[n] == ' ')
            return true;
        p += n;
    }
    return false;
}

/* ---- reading ---- */

enum cfg_ds rest_ds_of(enum rest_dsel d)
{
    switch (d) {
    case REST_DS_CANDIDATE:
        return CFG_DS_CANDIDATE;
    case REST_DS_STARTUP:
        return CFG_DS_STARTUP;
    default:
        return CFG_DS_RUNNING;
    }
}

static uint32_t wd_flags(enum rest_wd wd)
{
    switch (wd) {
    case REST_WD_TRIM:
        return LYD_PRINT_WD_TRIM;
    case REST_WD_ALL:
        return LYD_PRINT_WD_ALL;
    case REST_WD_ALL_TAGGED:
        return LYD_PRINT_WD_ALL_TAG;
    default:
        return LYD_PRINT_WD_EXPLICIT;
    }
}

/* Removes children deeper than @depth (the node itself is at @level); list keys stay
 * so that entries can be told apart. */
static void prune(struct lyd_node *n, unsigned int depth, unsigned int level)
{
    struct lyd_node *c, *next;

    LY_LIST_FOR_SAFE(lyd_child(n), next, c)
    {
        if (level >= depth) {
            if (!lysc_is_key(c->schema))
                lyd_free_tree(c);
        } else {
            prune(c, depth, level + 1);
        }
    }
}

/* Frees the configuration of @n's siblings and descendants that holds no state
 * (content=nonconfig); list keys stay so that entries can be told apart. */
static void drop_config(struct lyd_node **first)
{
    struct lyd_node *n, *next;

    LY_LIST_FOR_SAFE(*first, next, n)
    {
        if (!n->schema || lysc_is_key(n->schema) || (n->schema->flags & LYS_CONFIG_R))
            continue;
        if (!has_state(n->schema)) {
            if (n == *first)
                *first = next;
            lyd_free_tree(n);
            continue;
        }
        {
            struct lyd_node *c = lyd_child(n);

            if (c)
                drop_config(&c);
        }
    }
}

/* The parts of @src selected by @xpaths, with their parents (as cfg_tree_select, on
 * this process's own tree). */
static int select_local(struct rest_req *r, const struct lyd_node *src, const char *const *xpaths,
                        struct lyd_node **out, struct cfg_errs *errs)
{
    struct lyd_node *res = NULL;

    *out = NULL;
    for (const char *const *xp = xpaths; *xp && src; xp++) {
        struct ly_set *set = NULL;

        if (lyd_find_xpath(src, *xp, &set)) {
            cfg_err_from_ly(errs, r->api->ctx, "invalid XPath filter");
            lyd_free_siblings(res);
            return -EINVAL;
        }
        for (uint32_t i = 0; i < set->count; i++) {
            struct lyd_node *d = NULL, *top;

            if (!set->dnodes[i]->schema ||
                lyd_dup_single(set->dnodes[i], NULL, LYD_DUP_RECURSIVE | LYD_DUP_WITH_PARENTS | LYD_DUP_WITH_FLAGS,
                               &d))
                continue;
            for (top = d; top->parent; top = lyd_parent(top))
                ;
            lyd_merge_siblings(&res, top, LYD_MERGE_DESTRUCT | LYD_MERGE_WITH_FLAGS);
        }
        ly_set_free(set, NULL);
    }
    *out = res;
    return 0;
}

/* Running and the daemon's state from ravend (only the parts @xpaths select), and
 * the YANG library of this process's context (the same modules as ravend's). */
static int get_state(struct rest_req *r, const struct rest_path *p, const char *const *xpaths, bool want_cfg,
                     struct mc_page *pg, struct lyd_node **tree, struct cfg_errs *errs)
{
    struct rest_api *api = r->api;
    struct lyd_node *yl = NULL, *sel = NULL;
    bool daemon = !p->snode || strcmp(p->snode->module->name, "ietf-yang-library");
    bool yanglib = !p->snode || !daemon;
    struct cfg_actor a = rest_actor(r);
    int rc = 0;

    if (daemon)
        rc = pg ? mc_get_state_page(api->mc, &a, xpaths, pg, tree, errs) : mc_get_state(api->mc, &a, xpaths, tree, errs);
    if (!rc && !want_cfg)
        drop_config(tree);
    if (!rc && yanglib) {
        /* this process's own state, as far as NACM lets the user read it */
        struct cfg_errs denied = {0};

        yanglib = mc_nacm_check(api->mc, &a, NULL, "/ietf-yang-library:yang-library", &denied) != -EACCES;
        cfg_errs_clear(&denied);
    }
    if (rc || !yanglib || ly_ctx_get_yanglib_data(api->ctx, &yl, "%u", ly_ctx_get_change_count(api->ctx)))
        return rc;
    if (xpaths) {
        rc = select_local(r, yl, xpaths, &sel, errs);
        lyd_free_siblings(yl);
        yl = sel;
    }
    if (!rc && yl)
        lyd_merge_siblings(tree, yl, LYD_MERGE_DESTRUCT);
    return rc;
}

/* Whether @p is the session list, the one list that can be read in pages. */
static bool pageable(const struct rest_path *p)
{
    const struct lysc_node *sn = p->snode;

    return sn && p->all_instances && sn->nodetype == LYS_LIST && !strcmp(sn->name, "session") && sn->parent &&
           !strcmp(sn->parent->name, "vpn-state") && !strcmp(sn->module->name, "raven-vpn");
}

/* No data at @xpath: 404, or 403 when NACM hides it from the user (RFC 8040
 * section 4.3: the user is not authorized to read the target resource). */
static void reply_missing(struct rest_req *r, const char *xpath)
{
    struct cfg_actor a = rest_actor(r);
    struct cfg_errs denied = {0};

    if (mc_nacm_check(r->api->mc, &a, NULL, xpath, &denied) == -EACCES)
        rest_reply_errs(&r->rep, r->out_fmt, &denied, 403);
    else
        rest_reply_err(&r->rep, r->out_fmt, 404, CFG_ERR_INVALID_VALUE, xpath, "no data at this path");
    cfg_errs_clear(&denied);
}

static void data_get(struct rest_req *r, struct rest_path *p)
{
    struct rest_api *api = r->api;
    struct cfg_errs errs = {0};
    struct lyd_node *sel = NULL, *out = NULL;
    const char *xps[2] = {p->xpath, NULL};
    char **fields = NULL, **fxp = NULL;
    bool want_cfg = r->query.content != REST_CONTENT_NONCONFIG;
    bool want_state = r->query.content != REST_CONTENT_CONFIG;
    bool etag = false;
    struct mc_page pg = {.limit = r->query.page.limit, .offset = r->query.page.offset,
                         .cursor = r->query.page.cursor, .has_cursor = r->query.page.has_cursor};
    uint64_t gen;
    time_t mtime;
    int rc = 0;

    if (r->dsel == REST_DS_RUNNING || r->dsel == REST_DS_CANDIDATE || r->dsel == REST_DS_STARTUP)
        want_state = false;
    if (p->snode && (p->snode->flags & LYS_CONFIG_R))
        want_cfg = false;
    if (p->snode && want_state && !has_state(p->snode))
        want_state = false;
    if (r->query.page.paged &&
        (!pageable(p) || !want_state || (r->dsel != REST_DS_UNIFIED && r->dsel != REST_DS_OPERATIONAL))) {
        rest_reply_err(&r->rep, r->out_fmt, 400, CFG_ERR_INVALID_VALUE, NULL,
                       "limit, offset and cursor page the list /restconf/data/raven-vpn:vpn-state/session only");
        return;
    }
    gen = mc_running_gen(api->mc, &mtime);
    etag = !want_state && want_cfg && r->dsel != REST_DS_CANDIDATE && r->dsel != REST_DS_STARTUP;
    if (etag) {
        rest_set_etag(r, gen, mtime);
        if ((r->if_none_match && rest_etag_matches(r->if_none_match, r->rep.etag)) ||
            (!r->if_none_match && r->if_modified_since && mtime <= r->if_modified_since)) {
            r->rep.status = 304;
            return;
        }
    }
    if (r->query.fields) {
        rc = rest_fields_parse(r->query.fields, &fields, &errs);
        if (rc) {
            rest_reply_errs_rc(r, &errs, rc, 400);
            return;
        }
        for (size_t i = 0; fields[i]; i++) {
            char **t = realloc(fxp, (i + 2) * sizeof(*t));

            if (!t) {
                rc = -ENOMEM;
                break;
            }
            fxp = t;
            fxp[i + 1] = NULL;
            if (asprintf(&fxp[i], "%s/%s", p->xpath ? p->xpath : "", fields[i]) < 0) {
                fxp[i] = NULL;
                rc = -ENOMEM;
                break;
            }
        }
        rest_fields_free(fields);
        if (rc) {
            rest_fields_free(fxp);
            rest_reply_errs_rc(r, &errs, rc, 500);
            return;
        }
    }

    if (want_cfg && !want_state)
        rc = rest_get(r, rest_ds_of(r->dsel), fxp ? (const char *const *)fxp : p->xpath ? xps : NULL, &sel, &errs);
    else if (want_state)
        rc = get_state(r, p, fxp ? (const char *const *)fxp : p->xpath ? xps : NULL, want_cfg,
                       r->query.page.paged ? &pg : NULL, &sel, &errs);
    rest_fields_free(fxp);
    if (rc) {
        lyd_free_siblings(sel);
        rest_reply_errs_rc(r, &errs, rc, 0);
        return;
    }

    if (r->query.page.paged) {
        r->rep.paged = true;
        r->rep.total = pg.total;
        r->rep.remaining = pg.remaining;
        r->rep.next = pg.next;
    }
    if (p->xpath) {
        struct ly_set *set = NULL;

        if (r->query.page.paged && (lyd_find_xpath(sel, p->xpath, &set) || !set->count)) {
            /* an empty page: an empty list, not a missing resource */
            ly_set_free(set, NULL);
            lyd_free_siblings(sel);
            rest_set_body(&r->rep, strdup(r->out_fmt == REST_XML ? "<data xmlns=\"" NS_RESTCONF "\"/>\n" :
                                                               "{\"raven-vpn:session\":[]}\n"),
                          rest_ctype(r->out_fmt));
            r->rep.status = r->rep.body ? 200 : 500;
            return;
        }
        ly_set_free(set, NULL);
        set = NULL;
        if (lyd_find_xpath(sel, p->xpath, &set) || !set->count) {
            ly_set_free(set, NULL);
            lyd_free_siblings(sel);
            reply_missing(r, p->xpath);
            return;
        }
        for (uint32_t i = 0; i < set->count; i++) {
            if (set->dnodes[i] == sel)
                sel = sel->next; /* a top-level target: @sel keeps the rest */
            lyd_unlink_tree(set->dnodes[i]);
            lyd_insert_sibling(out, set->dnodes[i], &out);
        }
        ly_set_free(set, NULL);
        /* the rest goes after the reply, off the control thread */
        r->spare = sel;
        sel = NULL;
        {
            struct lyd_node *n;

            /* the target is printed even if only defaults are below it */
            LY_LIST_FOR(out, n)
            {
                n->flags &= ~LYD_DEFAULT;
                if (r->query.depth)
                    prune(n, r->query.depth, 1);
            }
        }
        r->tree = out;
        r->wrap = REST_WRAP_TARGET;
    } else {
        struct lyd_node *n;

        if (r->query.depth)
            LY_LIST_FOR(sel, n)
            prune(n, r->query.depth, 1);
        r->tree = sel;
        r->wrap = REST_WRAP_DATASTORE;
    }
    r->print_flags = wd_flags(r->query.wd) | (r->query.depth ? LYD_PRINT_KEEPEMPTYCONT : 0);
    r->rep.status = 200;
    if (!etag) {
        r->rep.etag[0] = '\0';
        r->rep.last_modified = 0;
    }
}

void rest_data_print(struct rest_req *r)
{
    struct lyd_node *t = r->tree;
    char *w = NULL;
    int rc;

    lyd_free_siblings(r->spare);
    r->spare = NULL;
    if (!r->wrap)
        return;
    if (r->wrap == REST_WRAP_TARGET) {
        rc = rest_print(r, t, r->print_flags | LYD_PRINT_SHRINK);
        if (!rc && t && r->rep.body && (!strcmp(r->rep.body, "{}") || !*r->rep.body))
            rc = rest_print(r, t, r->print_flags | LYD_PRINT_SHRINK | LYD_PRINT_KEEPEMPTYCONT); /* an empty container */
        if (!rc && r->out_fmt == REST_XML && t && t->next && r->rep.body) {
            /* several entries of a list: one XML document needs one root */
            if (asprintf(&w, "<data xmlns=\"" NS_RESTCONF "\">%s</data>", r->rep.body) >= 0)
                rest_set_body(&r->rep, w, rest_ctype(r->out_fmt));
        }
    } else if (!rest_print(r, t, r->print_flags | LYD_PRINT_SHRINK)) {
        const char *b = r->rep.body ? r->rep.body : "";

        if (r->out_fmt == REST_XML)
            rc = asprintf(&w, "<data xmlns=\"" NS_RESTCONF "\">%s</data>", b);
        else
            rc = asprintf(&w, "{\"ietf-restconf:data\":%s}", *b && strcmp(b, "{}") ? b : "{}");
        if (rc >= 0)
            rest_set_body(&r->rep, w, rest_ctype(r->out_fmt));
    }
    /* one line, ended like a text file */
    if (r->rep.body && r->rep.status == 200) {
        size_t n = strlen(r->rep.body);

        while (n && r->rep.body[n - 1] == '\n')
            n--;
        w = realloc(r->rep.body, n + 2);
        if (w) {
            w[n] = '\n';
            w[n + 1] = '\0';
            r->rep.body = w;
            r->rep.len = n + 1;
        }
    }
    lyd_free_siblings(t);
    r->tree = NULL;
    r->wrap = REST_WRAP_NONE;
}

/* ---- writing ---- */

/* The first member name of @j (at any depth) that is an RFC 7951 metadata
 * annotation ("@..."), NULL if none. */
static const char *json_meta(json_t *j, int depth)
{
    const char *k, *m;
    json_t *v;
    size_t i;

    if (depth > 64)
        return NULL;
    if (json_is_object(j)) {
        json_object_foreach(j, k, v) {
            if (k[0] == '@')
                return k;
            if ((m = json_meta(v, depth + 1)))
                return m;
        }
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v) {
            if ((m = json_meta(v, depth + 1)))
                return m;
        }
    }
    return NULL;
}

/* JSON reaches libyang only after jansson has accepted it and no member is a
 * metadata annotation: libyang 2.1's JSON parser reads through a NULL pointer on
 * some of those (an annotation of a list entry, "@module:list": [...]), and no
 * Raven resource takes annotations. Returns 0 or -EINVAL with a malformed-message
 * error saying what and where. */
int rest_json_check(const char *text, struct cfg_errs *errs)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    const char *meta;

    if (!j) {
        cfg_err_add(errs, CFG_ERR_MALFORMED_MESSAGE, CFG_ERRT_PROTOCOL, NULL,
                    "the body is not valid JSON (line %d, column %d): %s", jerr.line, jerr.column, jerr.text);
        return -EINVAL;
    }
    meta = json_meta(j, 0);
    if (meta)
        cfg_err_add(errs, CFG_ERR_MALFORMED_MESSAGE, CFG_ERRT_PROTOCOL, NULL,
                    "metadata annotations are not supported: member \"%.64s\"", meta);
    json_decref(j);
    return meta ? -EINVAL : 0;
}

/* The inner document of an envelope: {"ietf-restconf:data": {...}} or
 * <data xmlns="...ietf-restconf">...</data> (also "module:input"/<input>). @name is
 * "ietf-restconf:data" style for JSON; the XML root's local name must equal the part
 * after the colon. Returns a new string or NULL with *why set. */
char *rest_unwrap(const char *body, enum rest_fmt fmt, const char *name, const char *wrap_as, const char **why)
{
    if (fmt == REST_JSON) {
        json_error_t jerr;
        json_t *root = json_loads(body, JSON_REJECT_DUPLICATES, &jerr), *inner, *w;
        char *s = NULL;

        if (!root || !json_is_object(root)) {
            *why = "the body is not a JSON object";
            json_decref(root);
            return NULL;
        }
        inner = json_object_get(root, name);
        if (json_object_size(root) != 1 || !json_is_object(inner)) {
            *why = "the body must be one object member named as the resource";
            json_decref(root);
            return NULL;
        }
        if (wrap_as) {
            w = json_pack("{s:O}", wrap_as, inner);
            s = w ? json_dumps(w, JSON_COMPACT) : NULL;
            json_decref(w);
        } else {
            s = json_dumps(inner, JSON_COMPACT);
        }
        json_decref(root);
        return s;
    } else {
        const char *local = strchr(name, ':') ? strchr(name, ':') + 1 : name;
        const char *p = body, *tag, *gt, *end;
        size_t ln = strlen(local);
        char *s = NULL;

        /* skip the XML declaration, comments and space */
        for (;;) {
            while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
                p++;
            if (!strncmp(p, "<?", 2) && (gt = strstr(p, "?>")))
                p = gt + 2;
            else if (!strncmp(p, "<!--", 4) && (gt = strstr(p, "-->")))
                p = gt + 3;
            else
                break;
        }
        if (*p != '<') {
            *why = "the body is not an XML element";
            return NULL;
        }
        tag = p + 1;
        if (strchr(tag, ':') && strchr(tag, ':') < tag + strcspn(tag, " />"))
            tag = strchr(tag, ':') + 1;
        if (strncmp(tag, local, ln) || !strchr(" \t\r\n/>", tag[ln])) {
            *why = "the body's root element must be named as the resource";
            return NULL;
        }
        gt = strchr(tag, '>');
        if (!gt) {
            *why = "the body is not well-formed XML";
            return NULL;
        }
        if (gt[-1] == '/') { /* <data/> */
            end = gt + 1;
            if (wrap_as)
                return asprintf(&s, "<%s/>", wrap_as) < 0 ? NULL : s;
            return strdup("");
        }
        /* the last end tag closes the root */
        end = body + strlen(body);
        while (end > gt && (end[-1] == ' ' || end[-1] == '\n' || end[-1] == '\r' || end[-1] == '\t'))
            end--;
        {
            const char *lt = end;

            while (lt > gt && *lt != '<')
                lt--;
            if (lt <= gt || lt[1] != '/' || end[-1] != '>') {
                *why = "the body is not well-formed XML";
                return NULL;
            }
            if (wrap_as) {
                /* keep the root's attributes (namespace declarations) */
                int an = (int)(gt - (tag + ln));

                if (asprintf(&s, "<%s%.*s>%.*s</%s>", wrap_as, an, tag + ln, (int)(lt - gt - 1), gt + 1, wrap_as) < 0)
                    s = NULL;
            } else {
                s = strndup(gt + 1, (size_t)(lt - gt - 1));
            }
        }
        return s;
    }
}

/* Parses @text as configuration under @parent (NULL: top level) without
 * validation; the new nodes are appended to @parent's children or returned in
 * *top. */
int rest_parse_config(struct rest_req *r, struct lyd_node *parent, const char *text, struct lyd_node **top,
                      struct cfg_errs *errs)
{
    struct ly_in *in = NULL;
    LY_ERR e;

    if (r->in_fmt == REST_JSON && rest_json_check(text, errs))
        return -EINVAL;
    if (ly_in_new_memory(text, &in))
        return -ENOMEM;
    e = lyd_parse_data(r->api->ctx, parent, in, r->in_fmt == REST_XML ? LYD_XML : LYD_JSON,
                       LYD_PARSE_ONLY | LYD_PARSE_STRICT | LYD_PARSE_NO_STATE, 0, parent ? NULL : top);
    ly_in_free(in, 0);
    if (e) {
        cfg_err_from_ly(errs, r->api->ctx, "the body cannot be parsed as configuration");
        for (struct cfg_err *x = errs->head; x; x = x->next)
            if (x->tag == CFG_ERR_OPERATION_FAILED)
                x->tag = CFG_ERR_MALFORMED_MESSAGE;
        return -EINVAL;
    }
    return 0;
}

int rest_set_op(struct rest_api *api, struct lyd_node *n, const char *op)
{
    return lyd_new_meta(api->ctx, n, NULL, "ietf-netconf:operation", op, 0, NULL) ? -ENOMEM : 0;
}

int rest_run_edit(struct rest_req *r, struct lyd_node *edit, struct cfg_errs *errs)
{
    struct cfg_actor a = rest_actor(r);

    while (edit && edit->parent)
        edit = lyd_parent(edit);
    while (edit && edit->prev->next)
        edit = edit->prev;
    /* the preconditions checked must still hold when ravend runs the edit */
    return mc_edit_if(r->api->mc, &a, r->checked ? &r->gen_checked : NULL, rest_ds_of(r->dsel), edit, CFG_OP_MERGE,
                      CFG_TEST_THEN_SET, CFG_ERROPT_ROLLBACK, errs);
}

void rest_data_run(struct rest_req *r)
{
    struct cfg_errs errs = {0};
    struct rest_path p;
    int rc = rest_path_parse(r->api->ctx, r->rel, &p, &errs);

    if (rc) {
        rest_reply_errs_rc(r, &errs, rc, rc == -ENOENT ? 404 : 400);
        return;
    }
    if (!strcmp(r->method, "GET") || !strcmp(r->method, "HEAD"))
        data_get(r, &p);
    else
        rest_data_write(r, &p);
    rest_path_clear(&p);
}
