/* bench_ly_floor: what libyang alone costs for a raven-vpn configuration, the floor
 * that tests/bench/bench_datastore.py compares ravend's NETCONF operations with.
 *
 * Loads raven-types and raven-vpn into a fresh context (no NETCONF modules, no
 * datastore) and, for one XML data file, times N repetitions of
 *   parse+validate  lyd_parse_data_mem(STRICT | NO_STATE), validation NO_STATE
 *   parse only      the same with LYD_PARSE_ONLY (to split parse from validation)
 *   print           lyd_print_mem(XML, WITHSIBLINGS) of the validated tree
 * and prints the median of each in milliseconds, one "key=value" per line.
 *
 * Usage: bench_ly_floor [-n REPS] [-p SEARCHDIR]... FILE.xml
 * Without -p the search path is the source tree's yang/ and
 * /usr/share/yuma/modules/ietf. Exit status 0 on success, 1 if the data does not
 * parse or validate (libyang's message is printed), 2 on usage errors. */
#include <errno.h>
#include <libyang/libyang.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef BENCH_YANG_DIR
#define BENCH_YANG_DIR "yang"
#endif
#define BENCH_IETF_DIR "/usr/share/yuma/modules/ietf"
#define MAX_DIRS 16

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long sz;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
        goto out;
    buf = malloc((size_t)sz + 1);
    if (!buf)
        goto out;
    if (fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
        free(buf);
        buf = NULL;
        goto out;
    }
    buf[sz] = '\0';
    *len = (size_t)sz;
out:
    fclose(f);
    return buf;
}

static void ly_fail(const struct ly_ctx *ctx, const char *what)
{
    const struct ly_err_item *e = ly_err_last(ctx);

    fprintf(stderr, "bench_ly_floor: %s: %s%s%s%s\n", what, e && e->msg ? e->msg : "unknown libyang error",
            e && e->path ? " (" : "", e && e->path ? e->path : "", e && e->path ? ")" : "");
}

static void usage(FILE *out)
{
    fprintf(out, "usage: bench_ly_floor [-n REPS] [-p SEARCHDIR]... FILE.xml\n"
                 "  -n REPS       repetitions of each measurement (default 5)\n"
                 "  -p SEARCHDIR  YANG search directory; repeatable (default %s and %s)\n",
            BENCH_YANG_DIR, BENCH_IETF_DIR);
}

int main(int argc, char **argv)
{
    const char *dirs[MAX_DIRS];
    int ndirs = 0, reps = 5, opt, rc = 1;
    struct ly_ctx *ctx = NULL;
    struct lyd_node *tree = NULL;
    double *t_pv = NULL, *t_po = NULL, *t_pr = NULL;
    size_t len = 0, out_len = 0;
    uint32_t nodes = 0;
    char *data = NULL;

    while ((opt = getopt(argc, argv, "n:p:h")) != -1) {
        switch (opt) {
        case 'n':
            reps = atoi(optarg);
            if (reps < 1) {
                usage(stderr);
                return 2;
            }
            break;
        case 'p':
            if (ndirs == MAX_DIRS) {
                fprintf(stderr, "bench_ly_floor: at most %d search directories\n", MAX_DIRS);
                return 2;
            }
            dirs[ndirs++] = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    if (!ndirs) {
        dirs[ndirs++] = BENCH_YANG_DIR;
        dirs[ndirs++] = BENCH_IETF_DIR;
    }

    data = read_file(argv[optind], &len);
    if (!data) {
        fprintf(stderr, "bench_ly_floor: cannot read %s: %s\n", argv[optind], strerror(errno));
        return 1;
    }
    ly_log_options(LY_LOSTORE_LAST);
    if (ly_ctx_new(NULL, 0, &ctx)) {
        fprintf(stderr, "bench_ly_floor: cannot create a libyang context\n");
        goto out;
    }
    for (int i = 0; i < ndirs; i++)
        ly_ctx_set_searchdir(ctx, dirs[i]);
    if (!ly_ctx_load_module(ctx, "raven-types", NULL, NULL) || !ly_ctx_load_module(ctx, "raven-vpn", NULL, NULL)) {
        ly_fail(ctx, "cannot load raven-types and raven-vpn");
        goto out;
    }

    t_pv = calloc((size_t)reps, sizeof(double));
    t_po = calloc((size_t)reps, sizeof(double));
    t_pr = calloc((size_t)reps, sizeof(double));
    if (!t_pv || !t_po || !t_pr)
        goto out;

    for (int i = 0; i < reps; i++) {
        struct lyd_node *t = NULL;
        double t0 = now_ms();

        if (lyd_parse_data_mem(ctx, data, LYD_XML, LYD_PARSE_STRICT | LYD_PARSE_NO_STATE | LYD_PARSE_ONLY, 0, &t)) {
            ly_fail(ctx, "parse");
            lyd_free_all(t);
            goto out;
        }
        t_po[i] = now_ms() - t0;
        lyd_free_all(t);
    }

    for (int i = 0; i < reps; i++) {
        struct lyd_node *t = NULL;
        double t0 = now_ms();

        if (lyd_parse_data_mem(ctx, data, LYD_XML, LYD_PARSE_STRICT | LYD_PARSE_NO_STATE, LYD_VALIDATE_NO_STATE,
                               &t)) {
            ly_fail(ctx, "parse+validate");
            lyd_free_all(t);
            goto out;
        }
        t_pv[i] = now_ms() - t0;
        if (i == reps - 1)
            tree = t;
        else
            lyd_free_all(t);
    }

    for (int i = 0; i < reps; i++) {
        char *out = NULL;
        double t0 = now_ms();

        if (lyd_print_mem(&out, tree, LYD_XML, LYD_PRINT_WITHSIBLINGS)) {
            ly_fail(ctx, "print");
            goto out;
        }
        t_pr[i] = now_ms() - t0;
        out_len = out ? strlen(out) : 0;
        free(out);
    }

    {
        const struct lyd_node *top, *n;

        LY_LIST_FOR(tree, top) {
            LYD_TREE_DFS_BEGIN(top, n) {
                nodes++;
                LYD_TREE_DFS_END(top, n);
            }
        }
    }

    printf("file=%s\n", argv[optind]);
    printf("bytes=%zu\n", len);
    printf("nodes=%u\n", nodes);
    printf("reps=%d\n", reps);
    printf("parse_validate_ms=%.3f\n", median(t_pv, reps));
    printf("parse_only_ms=%.3f\n", median(t_po, reps));
    printf("print_ms=%.3f\n", median(t_pr, reps));
    printf("print_bytes=%zu\n", out_len);
    rc = 0;
out:
    lyd_free_all(tree);
    ly_ctx_destroy(ctx);
    free(t_pv);
    free(t_po);
    free(t_pr);
    free(data);
    return rc;
}
