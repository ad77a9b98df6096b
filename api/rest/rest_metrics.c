/* /metrics: the daemon's operational state in the Prometheus text format (0.0.4).
 * Every numeric leaf of raven-vpn:vpn-state becomes a metric named after its path
 * (raven_dataplane_interface_rx_packets_total{interface="eth0"}), list keys become
 * labels; the session list is summarised (raven_sessions), not exported entry by
 * entry. Runs on the control thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/rest/rest_impl.h"
#include "daemon/base/poison.h"

struct sample {
    char *name;   /* metric name */
    char *labels; /* "{a=\"b\"}" or "" */
    char *value;
    const struct lysc_node *snode;
    bool counter;
    size_t order;
};

struct mvec {
    struct sample *v;
    size_t n, cap;
};

/* uint64 leaves are counters (yang:counter64) except these gauges */
static const char *const gauges64[] = {"id", "session-id", "free", "in-use", "size", "uptime", NULL};

static void sanitize(char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_'))
            *s = '_';
}

static void label_esc(FILE *f, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            fputc('\\', f);
        if (*v == '\n')
            fputs("\\n", f);
        else
            fputc(*v, f);
    }
}

static int add(struct mvec *m, const char *name, const char *labels, const char *value, const struct lysc_node *sn,
               bool counter)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 256;
        struct sample *v = realloc(m->v, cap * sizeof(*v));

        if (!v)
            return -ENOMEM;
        m->v = v;
        m->cap = cap;
    }
    m->v[m->n] = (struct sample){strdup(name), strdup(labels), strdup(value), sn, counter, m->n};
    m->n++;
    return 0;
}

static bool numeric(const struct lysc_node *sn, bool *counter, bool *boolean)
{
    LY_DATA_TYPE t;

    if (sn->nodetype != LYS_LEAF)
        return false;
    t = ((const struct lysc_node_leaf *)sn)->type->basetype;
    *boolean = t == LY_TYPE_BOOL;
    *counter = false;
    if (t == LY_TYPE_UINT64) {
        *counter = true;
        for (size_t i = 0; gauges64[i]; i++)
            if (!strcmp(sn->name, gauges64[i]))
                *counter = false;
    }
    return *boolean || t == LY_TYPE_UINT8 || t == LY_TYPE_UINT16 || t == LY_TYPE_UINT32 || t == LY_TYPE_UINT64 ||
           t == LY_TYPE_INT8 || t == LY_TYPE_INT16 || t == LY_TYPE_INT32 || t == LY_TYPE_INT64 || t == LY_TYPE_DEC64;
}

static void walk(struct mvec *m, const struct lyd_node *parent, const char *prefix, const char *labels)
{
    const struct lyd_node *c;

    LY_LIST_FOR(lyd_child(parent), c)
    {
        const struct lysc_node *sn = c->schema;
        char *name = NULL;
        bool counter, boolean;

        if (!sn || lysc_is_key(sn))
            continue;
        if (asprintf(&name, "%s_%s", prefix, sn->name) < 0)
            continue;
        sanitize(name);
        if (sn->nodetype == LYS_CONTAINER) {
            walk(m, c, name, labels);
        } else if (sn->nodetype == LYS_LIST) {
            /* keys become labels named after the list (one key) or list_key */
            char *lab = NULL;
            size_t len = 0;
            FILE *f = open_memstream(&lab, &len);
            const struct lyd_node *k;
            int nkeys = 0;

            if (f) {
                size_t ll = strlen(labels);
                bool any = ll > 0;

                fprintf(f, "%.*s", ll ? (int)(ll - 1) : 0, labels);
                LY_LIST_FOR(lyd_child(c), k)
                nkeys += k->schema && lysc_is_key(k->schema);
                LY_LIST_FOR(lyd_child(c), k)
                {
                    char *ln = NULL;

                    if (!k->schema || !lysc_is_key(k->schema))
                        continue;
                    if (asprintf(&ln, nkeys == 1 ? "%s" : "%s_%s", sn->name, k->schema->name) < 0)
                        continue;
                    sanitize(ln);
                    fprintf(f, "%s%s=\"", any ? "," : "{", ln);
                    any = true;
                    label_esc(f, lyd_get_value(k));
                    fputc('"', f);
                    free(ln);
                }
                fputs(any ? "}" : "", f);
                fclose(f);
                walk(m, c, name, lab ? lab : labels);
                free(lab);
            }
        } else if (numeric(sn, &counter, &boolean)) {
            const char *v = lyd_get_value(c);

            if (boolean)
                v = !strcmp(v, "true") ? "1" : "0";
            if (counter) {
                char *t = NULL;

                if (asprintf(&t, "%s_total", name) >= 0) {
                    add(m, t, labels, v, sn, true);
                    free(t);
                }
            } else {
                add(m, name, labels, v, sn, false);
            }
        }
        free(name);
    }
}

static int cmp(const void *a, const void *b)
{
    const struct sample *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    return c ? c : (x->order > y->order) - (x->order < y->order);
}

/* The first sentence of a description, on one line. */
static void help(FILE *f, const char *dsc)
{
    if (!dsc)
        return;
    while (*dsc == ' ' || *dsc == '\n')
        dsc++;
    for (; *dsc; dsc++) {
        if (*dsc == '.' && (dsc[1] == ' ' || dsc[1] == '\n' || !dsc[1]))
            break;
        if (*dsc == '\n' || *dsc == '\t') {
            fputc(' ', f);
            while (dsc[1] == ' ')
                dsc++;
        } else if (*dsc == '\\') {
            fputs("\\\\", f);
        } else {
            fputc(*dsc, f);
        }
    }
}

void rest_metrics_run(struct rest_req *r)
{
    struct rest_api *api = r->api;
    struct lyd_node *state = NULL, *vs = NULL;
    struct mvec m = {0};
    char *buf = NULL;
    size_t len = 0, nsess = 0;
    FILE *f;
    static const char *const xps[] = {"/raven-vpn:vpn-state", NULL};
    struct cfg_actor a = rest_actor(r);
    struct cfg_errs errs = {0};
    /* the sessions' count only: building 100 000 sessions to count them took seconds */
    struct mc_page pg = {.count_only = true};
    /* NACM: /metrics is a read of vpn-state (and the session count with it) */
    int rc = mc_nacm_check(api->mc, &a, NULL, xps[0], &errs);

    if (!rc)
        rc = mc_get_state_page(api->mc, &a, xps, &pg, &state, &errs);
    if (rc == -EACCES) {
        rest_reply_errs(&r->rep, REST_JSON, &errs, 403);
        cfg_errs_clear(&errs);
        return;
    }
    if (rc) {
        lyd_free_siblings(state);
        rest_reply_errs(&r->rep, REST_JSON, &errs, rc == -ESHUTDOWN ? 503 : 500);
        cfg_errs_clear(&errs);
        return;
    }
    if (state && !lyd_find_path(state, "/raven-vpn:vpn-state", 0, &vs)) {
        struct lyd_node *c, *next;

        nsess = (size_t)pg.total;
        LY_LIST_FOR_SAFE(lyd_child(vs), next, c)
        if (c->schema && !strcmp(c->schema->name, "session"))
            lyd_free_tree(c);
        walk(&m, vs, "raven", "");
    }
    lyd_free_siblings(state);
    if (m.n)
        qsort(m.v, m.n, sizeof(*m.v), cmp);

    f = open_memstream(&buf, &len);
    if (!f) {
        rest_reply_err(&r->rep, REST_JSON, 500, CFG_ERR_RESOURCE_DENIED, NULL, "out of memory");
        goto out;
    }
    fprintf(f, "# HELP raven_sessions Sessions that are up\n# TYPE raven_sessions gauge\nraven_sessions %zu\n", nsess);
    fprintf(f, "# HELP raven_rest_requests_total Requests served by the REST API\n"
               "# TYPE raven_rest_requests_total counter\nraven_rest_requests_total %llu\n",
            (unsigned long long)atomic_load(&api->nreq));
    for (size_t i = 0; i < m.n; i++) {
        if (!i || strcmp(m.v[i].name, m.v[i - 1].name)) {
            fprintf(f, "# HELP %s ", m.v[i].name);
            help(f, m.v[i].snode->dsc);
            fprintf(f, "\n# TYPE %s %s\n", m.v[i].name, m.v[i].counter ? "counter" : "gauge");
        }
        fprintf(f, "%s%s %s\n", m.v[i].name, m.v[i].labels, m.v[i].value);
    }
    fclose(f);
    free(r->rep.body);
    r->rep.body = buf;
    r->rep.len = len;
    r->rep.ctype = "text/plain; version=0.0.4; charset=utf-8";
    r->rep.status = 200;
out:
    for (size_t i = 0; i < m.n; i++) {
        free(m.v[i].name);
        free(m.v[i].labels);
        free(m.v[i].value);
    }
    free(m.v);
}
