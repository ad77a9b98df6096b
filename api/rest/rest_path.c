/* RFC 8040 api-paths and the "fields" parameter; see rest_path.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/rest/rest_path.h"
#include "daemon/base/poison.h"

#define PATH_MAX_SEGS 64
#define FIELDS_MAX_PATHS 256
#define FIELDS_MAX_DEPTH 16

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int rest_pct_decode(const char *in, size_t len, char **out)
{
    char *s = malloc(len + 1), *o = s;

    if (!s)
        return -ENOMEM;
    for (size_t i = 0; i < len; i++) {
        if (in[i] == '%') {
            int hi = i + 2 < len ? hexval(in[i + 1]) : -1, lo = i + 2 < len ? hexval(in[i + 2]) : -1;

            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(s);
                return -EINVAL;
            }
            *o++ = (char)(hi * 16 + lo);
            i += 2;
        } else if (in[i] == '\0') {
            free(s);
            return -EINVAL;
        } else {
            *o++ = in[i];
        }
    }
    *o = '\0';
    *out = s;
    return 0;
}

char *rest_xpath_literal(const char *v)
{
    char *s = NULL;

    if (!strchr(v, '\''))
        return asprintf(&s, "'%s'", v) < 0 ? NULL : s;
    if (!strchr(v, '"'))
        return asprintf(&s, "\"%s\"", v) < 0 ? NULL : s;
    return NULL;
}

static bool ident_ok(const char *s, size_t n)
{
    if (!n || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              c == '.'))
            return false;
    }
    return true;
}

/* Appends to a growing string; returns -ENOMEM. */
static int sappend(char **s, size_t *len, const char *add, size_t n)
{
    char *t = realloc(*s, *len + n + 1);

    if (!t)
        return -ENOMEM;
    memcpy(t + *len, add, n);
    *len += n;
    t[*len] = '\0';
    *s = t;
    return 0;
}

/* One segment "[module:]name[=k1,k2]" of @seg (@n bytes). */
static int parse_seg(const struct ly_ctx *ctx, const char *seg, size_t n, const struct lysc_node **snode,
                     const struct lys_module **mod, bool last, char **xp, size_t *xplen, bool *all, char **name,
                     struct cfg_errs *errs)
{
    const char *eq = memchr(seg, '=', n), *colon;
    size_t idn = eq ? (size_t)(eq - seg) : n, nn;
    const struct lys_module *m = *mod;
    const struct lysc_node *sn;
    const char *id = seg;
    int rc = 0;

    colon = memchr(seg, ':', idn);
    if (colon) {
        char modname[128];
        size_t ml = (size_t)(colon - seg);

        if (!ident_ok(seg, ml) || ml >= sizeof(modname)) {
            cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL, "bad module name in \"%.*s\"", (int)n,
                        seg);
            return -EINVAL;
        }
        memcpy(modname, seg, ml);
        modname[ml] = '\0';
        m = ly_ctx_get_module_implemented(ctx, modname);
        if (!m) {
            cfg_err_add(errs, CFG_ERR_UNKNOWN_ELEMENT, CFG_ERRT_PROTOCOL, NULL, "unknown module \"%s\"", modname);
            return -ENOENT;
        }
        id = colon + 1;
    } else if (!m) {
        cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL,
                    "the first segment \"%.*s\" must name its module (module:node)", (int)n, seg);
        return -EINVAL;
    }
    nn = idn - (size_t)(id - seg);
    if (!ident_ok(id, nn)) {
        cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL, "bad node name in \"%.*s\"", (int)n, seg);
        return -EINVAL;
    }
    sn = lys_find_child(*snode, m, id, nn, 0, 0);
    if (!sn || !(sn->nodetype & (LYS_CONTAINER | LYS_LIST | LYS_LEAF | LYS_LEAFLIST | LYS_ANYDATA | LYS_ANYXML))) {
        cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL, "no data node \"%.*s\"%s%s", (int)idn, seg,
                    *snode ? " under " : "", *snode ? (*snode)->name : "");
        return -ENOENT;
    }
    /* RFC 7951 names: qualified at top level and where the module changes */
    if (*xplen == 0 || sn->module != (*snode ? (*snode)->module : NULL)) {
        if ((rc = sappend(xp, xplen, "/", 1)) || (rc = sappend(xp, xplen, sn->module->name, strlen(sn->module->name))) ||
            (rc = sappend(xp, xplen, ":", 1)))
            return rc;
    } else if ((rc = sappend(xp, xplen, "/", 1))) {
        return rc;
    }
    if ((rc = sappend(xp, xplen, sn->name, strlen(sn->name))))
        return rc;
    free(*name);
    if (asprintf(name, "%s:%s", sn->module->name, sn->name) < 0) {
        *name = NULL;
        return -ENOMEM;
    }
    *all = false;
    if (sn->nodetype & (LYS_LIST | LYS_LEAFLIST)) {
        if (!eq) {
            if (!last) {
                cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL,
                            "list \"%s\" needs its key values (%s=...) in the path", sn->name, sn->name);
                return -EINVAL;
            }
            *all = !(sn->nodetype == LYS_LIST && (sn->flags & LYS_KEYLESS));
        } else if (sn->nodetype == LYS_LIST && (sn->flags & LYS_KEYLESS)) {
            cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL, "list \"%s\" has no keys", sn->name);
            return -EINVAL;
        }
    } else if (eq) {
        cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL,
                    "\"%s\" is not a list or leaf-list: it takes no key values", sn->name);
        return -EINVAL;
    }
    if (eq) {
        const char *kv = eq + 1, *end = seg + n;
        const struct lysc_node *key = NULL;
        bool leaflist = sn->nodetype == LYS_LEAFLIST;

        if (!leaflist)
            key = lysc_node_child(sn);
        for (;;) {
            const char *comma = leaflist ? end : memchr(kv, ',', (size_t)(end - kv));
            char *val = NULL, *lit;

            if (!comma)
                comma = end;
            if (!leaflist && (!key || !lysc_is_key(key))) {
                cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL,
                            "too many key values for list \"%s\"", sn->name);
                return -EINVAL;
            }
            if (rest_pct_decode(kv, (size_t)(comma - kv), &val)) {
                cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL,
                            "bad percent-encoding in the key of \"%s\"", sn->name);
                return -EINVAL;
            }
            lit = rest_xpath_literal(val);
            free(val);
            if (!lit) {
                cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL,
                            "a key value of \"%s\" holds both quote characters", sn->name);
                return -EINVAL;
            }
            rc = sappend(xp, xplen, "[", 1);
            if (!rc)
                rc = leaflist ? sappend(xp, xplen, ".", 1) : sappend(xp, xplen, key->name, strlen(key->name));
            if (!rc)
                rc = sappend(xp, xplen, "=", 1);
            if (!rc)
                rc = sappend(xp, xplen, lit, strlen(lit));
            if (!rc)
                rc = sappend(xp, xplen, "]", 1);
            free(lit);
            if (rc)
                break;
            if (!leaflist)
                key = key->next;
            if (comma == end)
                break;
            kv = comma + 1;
        }
        if (rc)
            return rc;
        if (!leaflist && key && lysc_is_key(key)) {
            cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL,
                        "missing value of key \"%s\" of list \"%s\"", key->name, sn->name);
            return -EINVAL;
        }
    }
    *snode = sn;
    *mod = sn->module;
    return 0;
}

int rest_path_parse(const struct ly_ctx *ctx, const char *path, struct rest_path *out, struct cfg_errs *errs)
{
    const struct lysc_node *sn = NULL;
    const struct lys_module *mod = NULL;
    const char *p = path;
    size_t xplen = 0, parent_len = 0;
    int nseg = 0, rc = 0;

    memset(out, 0, sizeof(*out));
    while (*p == '/')
        p++;
    if (!*p)
        return 0;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        bool last = !slash || !slash[1];

        if (!n) {
            cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL, "empty segment in the path");
            rc = -EINVAL;
            break;
        }
        if (++nseg > PATH_MAX_SEGS) {
            cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL, "the path has too many segments");
            rc = -EINVAL;
            break;
        }
        if (sn && (sn->nodetype & (LYS_LEAF | LYS_LEAFLIST | LYS_ANYDATA | LYS_ANYXML))) {
            cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL, "\"%s\" has no children", sn->name);
            rc = -ENOENT;
            break;
        }
        parent_len = xplen;
        rc = parse_seg(ctx, p, n, &sn, &mod, last, &out->xpath, &xplen, &out->all_instances, &out->name, errs);
        if (rc)
            break;
        p += n;
        if (*p == '/')
            p++;
    }
    if (!rc && parent_len) {
        out->parent_xpath = strndup(out->xpath, parent_len);
        if (!out->parent_xpath)
            rc = -ENOMEM;
    }
    if (rc) {
        rest_path_clear(out);
        return rc;
    }
    out->snode = sn;
    return 0;
}

void rest_path_clear(struct rest_path *p)
{
    free(p->xpath);
    free(p->parent_xpath);
    free(p->name);
    memset(p, 0, sizeof(*p));
}

/* fields-expr = path "(" fields-expr ")" / path ";" fields-expr / path */
struct fields_st {
    const char *s;
    size_t pos;
    char **out;
    size_t n;
    struct cfg_errs *errs;
};

static int fields_add(struct fields_st *st, const char *prefix, const char *p, size_t n)
{
    char *s = NULL, **t;

    if (st->n >= FIELDS_MAX_PATHS) {
        cfg_err_add(st->errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL, "\"fields\" selects too many paths");
        return -EINVAL;
    }
    if (asprintf(&s, "%s%s%.*s", prefix, *prefix ? "/" : "", (int)n, p) < 0)
        return -ENOMEM;
    t = realloc(st->out, (st->n + 2) * sizeof(*t));
    if (!t) {
        free(s);
        return -ENOMEM;
    }
    st->out = t;
    st->out[st->n++] = s;
    st->out[st->n] = NULL;
    return 0;
}

static int fields_expr(struct fields_st *st, const char *prefix, int depth);

/* path = api-identifier *("/" api-identifier); returns its extent. */
static int fields_path(struct fields_st *st, size_t *start, size_t *len)
{
    const char *s = st->s;

    *start = st->pos;
    for (;;) {
        size_t b = st->pos, colon = 0;

        while (s[st->pos] && !strchr("/;()", s[st->pos])) {
            if (s[st->pos] == ':' && !colon)
                colon = st->pos;
            st->pos++;
        }
        if (colon ? !ident_ok(s + b, colon - b) || !ident_ok(s + colon + 1, st->pos - colon - 1)
                  : !ident_ok(s + b, st->pos - b)) {
            cfg_err_add(st->errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL,
                        "\"fields\": bad node name at offset %zu", b);
            return -EINVAL;
        }
        if (s[st->pos] != '/')
            break;
        st->pos++;
    }
    *len = st->pos - *start;
    return 0;
}

static int fields_expr(struct fields_st *st, const char *prefix, int depth)
{
    int rc;

    if (depth > FIELDS_MAX_DEPTH) {
        cfg_err_add(st->errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL, "\"fields\" is nested too deeply");
        return -EINVAL;
    }
    for (;;) {
        size_t start, len;

        if ((rc = fields_path(st, &start, &len)))
            return rc;
        if (st->s[st->pos] == '(') {
            char *sub = NULL;

            st->pos++;
            if (asprintf(&sub, "%s%s%.*s", prefix, *prefix ? "/" : "", (int)len, st->s + start) < 0)
                return -ENOMEM;
            rc = fields_expr(st, sub, depth + 1);
            free(sub);
            if (rc)
                return rc;
            if (st->s[st->pos] != ')') {
                cfg_err_add(st->errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL,
                            "\"fields\": missing \")\" at offset %zu", st->pos);
                return -EINVAL;
            }
            st->pos++;
        } else if ((rc = fields_add(st, prefix, st->s + start, len))) {
            return rc;
        }
        if (st->s[st->pos] != ';')
            return 0;
        st->pos++;
    }
}

int rest_fields_parse(const char *fields, char ***paths, struct cfg_errs *errs)
{
    struct fields_st st = {.s = fields, .errs = errs};
    int rc = fields_expr(&st, "", 0);

    if (!rc && st.s[st.pos]) {
        cfg_err_add(errs, CFG_ERR_INVALID_VALUE, CFG_ERRT_PROTOCOL, NULL, "\"fields\": unexpected \"%c\" at offset %zu",
                    st.s[st.pos], st.pos);
        rc = -EINVAL;
    }
    if (rc) {
        rest_fields_free(st.out);
        return rc;
    }
    *paths = st.out;
    return 0;
}

void rest_fields_free(char **paths)
{
    for (size_t i = 0; paths && paths[i]; i++)
        free(paths[i]);
    free(paths);
}

/* A decimal number of at most 19 digits, no sign, no spaces, within @lo..@hi. */
static bool page_num(const char *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
    uint64_t n = 0;
    size_t i;

    for (i = 0; v[i]; i++) {
        if (v[i] < '0' || v[i] > '9' || i >= 19)
            return false;
        n = n * 10 + (uint64_t)(v[i] - '0');
    }
    if (!i || n < lo || n > hi)
        return false;
    *out = n;
    return true;
}

bool rest_page_param(struct rest_page *pg, const char *key, const char *v, char *err, size_t errlen)
{
    if (!strcmp(key, "limit")) {
        if (!strcmp(v, "unbounded"))
            pg->limit = 0;
        else if (!page_num(v, 1, UINT32_MAX, &pg->limit))
            snprintf(err, errlen, "limit must be 1..4294967295 or \"unbounded\", not \"%.40s\"", v);
    } else if (!strcmp(key, "offset")) {
        if (!page_num(v, 0, UINT32_MAX, &pg->offset))
            snprintf(err, errlen, "offset must be 0..4294967295, not \"%.40s\"", v);
    } else if (!strcmp(key, "cursor")) {
        if (!page_num(v, 1, INT64_MAX, &pg->cursor))
            snprintf(err, errlen, "cursor must be a value a page gave as its next cursor, not \"%.40s\"", v);
        pg->has_cursor = true;
    } else {
        return false;
    }
    pg->paged = true;
    return true;
}

/* ---- replay of event streams ---- */

static bool digits(const char *p, int n, int *out)
{
    *out = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        *out = *out * 10 + (p[i] - '0');
    }
    return true;
}

int rest_time_parse(const char *v, int64_t *ns)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, s, oh = 0, om = 0, sign = 0;
    long frac = 0, scale = 100000000;
    const char *p = v + 19;
    struct tm tm = {0};
    time_t t;

    if (strlen(v) < 20 || !digits(v, 4, &y) || v[4] != '-' || !digits(v + 5, 2, &mo) || v[7] != '-' ||
        !digits(v + 8, 2, &d) || (v[10] != 'T' && v[10] != 't') || !digits(v + 11, 2, &h) || v[13] != ':' ||
        !digits(v + 14, 2, &mi) || v[16] != ':' || !digits(v + 17, 2, &s))
        return -EINVAL;
    if (*p == '.') {
        if (p[1] < '0' || p[1] > '9')
            return -EINVAL;
        for (p++; *p >= '0' && *p <= '9'; p++) {
            frac += (*p - '0') * scale; /* digits past nanoseconds are dropped */
            scale /= 10;
        }
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return -EINVAL;
        p += 6;
    } else {
        return -EINVAL;
    }
    if (*p || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
        (mo == 2 && d == 29 && (y % 4 || (y % 100 == 0 && y % 400))) || h > 23 || mi > 59 || s > 60)
        return -EINVAL;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s > 59 ? 59 : s; /* a leap second counts as the second before it */
    t = timegm(&tm) - sign * (oh * 3600 + om * 60);
    if (t < 0 || t > INT64_MAX / 1000000000 - 1)
        return -EINVAL;
    *ns = (int64_t)t * 1000000000 + frac;
    return 0;
}

int rest_event_id_parse(const char *v, uint64_t *id)
{
    return page_num(v, 1, INT64_MAX, id) ? 0 : -EINVAL;
}

bool rest_replay_param(struct rest_replay *rp, const char *key, const char *v, char *err, size_t errlen)
{
    int64_t *out;

    if (!strcmp(key, "start-time"))
        out = &rp->start_ns;
    else if (!strcmp(key, "stop-time"))
        out = &rp->stop_ns;
    else
        return false;
    if (rest_time_parse(v, out) || !*out)
        snprintf(err, errlen, "%s must be a date and time (RFC 3339) from 1970 to 2262, not \"%.40s\"", key, v);
    return true;
}
