/* running persisted incrementally: running.xml is a snapshot, running.journal an
 * append-only log of the change sets committed since. A commit appends one record
 * and fdatasyncs it before it is acknowledged; when the journal has grown, a
 * fork()ed child prints running to a new snapshot (written atomically) and the
 * journal is then cut to the records the snapshot does not hold.
 *
 * Record: "RVJ1", u32 payload length, u64 sequence, u64 FNV-1a of the sequence,
 * length and payload, then the payload: entries of one byte 'S' (set: the node at
 * the path becomes the XML's, a copy of it with its parents) or 'D' (delete), a
 * u32 length and the data path, and for 'S' a u32 length and the XML. A snapshot
 * starts with a comment naming the sequence it holds; replay applies the records
 * that follow it, in order, and stops at the first torn or foreign one, which a
 * crash in the middle of an append leaves: that commit was never acknowledged. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <dirent.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/base/fsutil.h"
#include "daemon/base/log.h"
#include "daemon/config/cfg_impl.h"
#include "daemon/base/poison.h"

#define REC_MAGIC "RVJ1"
#define REC_HDR 24

uint64_t cfg_fnv(uint64_t h, const void *data, size_t len)
{
    if (!len)
        return h; /* data may be NULL then */
    for (const unsigned char *p = data, *e = p + len; p < e; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    return h;
}

static int jpath(const struct cfg *cfg, const char *suffix, char *buf, size_t len)
{
    return snprintf(buf, len, "%s/running.journal%s", cfg->state_dir, suffix) >= (int)len ? -ENAMETOOLONG : 0;
}

struct buf {
    char *p;
    size_t n, cap;
};

static int buf_put(struct buf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *np;

        while (cap < b->n + n)
            cap *= 2;
        if (!(np = realloc(b->p, cap)))
            return -ENOMEM;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
    return 0;
}

static int buf_str(struct buf *b, const char *s, size_t n)
{
    uint32_t l = (uint32_t)n;

    return buf_put(b, &l, 4) ? -ENOMEM : buf_put(b, s, n);
}

/* The node a change at @path stands for: an entry of an ordered-by-user list
 * (or anything below one) is recorded as the whole list's parent, so that replay
 * keeps the order, and a node in a choice as the choice's parent, so that the
 * case it replaced goes too; NULL when that is a top-level node (then only a
 * snapshot will do). */
static const struct lyd_node *widen(const struct lyd_node *n, bool *whole, bool *choice)
{
    const struct lyd_node *w = n;

    for (const struct lyd_node *a = n; a; a = lyd_parent(a)) {
        const struct lysc_node *sp = a->schema->parent;
        bool c = sp && (sp->nodetype & (LYS_CHOICE | LYS_CASE));

        if (((a->schema->nodetype & (LYS_LIST | LYS_LEAFLIST)) && (a->schema->flags & LYS_ORDBY_USER)) || c)
            w = lyd_parent(a);
        if (c && choice)
            *choice = true;
        if (!w) {
            *whole = true;
            return NULL;
        }
    }
    return w;
}

/* Whether a change at @snode can replace or remove a secret's value: the old value
 * must then leave the disk with it (a snapshot), not linger in an older record. */
static bool holds_secret(const struct cfg *cfg, const struct lysc_node *snode)
{
    for (uint32_t i = 0; cfg->secrets && i < cfg->secrets->count; i++) {
        for (const struct lysc_node *n = cfg->secrets->snodes[i]; n; n = n->parent) {
            if (n == snode)
                return true;
        }
    }
    return false;
}

/* Whether a secret under @w in @old is gone from @new or has another value there:
 * a creation in a choice's other case removes the old case (validation does). */
static bool secret_dropped(const struct cfg *cfg, const struct lyd_node *old, const struct lyd_node *new,
                           const char *p)
{
    struct lyd_node *o = NULL, *n, *m;
    bool gone = false;

    if (!old || lyd_find_path(old, p, 0, &o) || !o)
        return false;
    LYD_TREE_DFS_BEGIN(o, n)
    {
        for (uint32_t i = 0; !gone && i < cfg->secrets->count; i++) {
            if (n->schema == cfg->secrets->snodes[i]) {
                char *np = lyd_path(n, LYD_PATH_STD, NULL, 0);

                m = NULL;
                gone = !np || !new || lyd_find_path(new, np, 0, &m) || !m ||
                       strcmp(lyd_get_value(m), lyd_get_value(n));
                free(np);
            }
        }
        if (gone)
            return true;
        LYD_TREE_DFS_END(o, n);
    }
    return false;
}

/* The paths a record already holds: a change at or under one of them is in it.
 * They are in an open-addressing hash table (a power of two, at most half
 * full), so that a change set of 20 000 paths is not compared pairwise: a path
 * is looked up once for each of its ancestors. */
struct seen {
    char **tab;
    size_t n, cap;
};

static size_t seen_slot(const struct seen *sn, const char *p, size_t l)
{
    size_t i = (size_t)cfg_fnv(0xcbf29ce484222325ULL, p, l) & (sn->cap - 1);

    while (sn->tab[i] && (strncmp(sn->tab[i], p, l) || sn->tab[i][l]))
        i = (i + 1) & (sn->cap - 1);
    return i;
}

static bool seen_covers(const struct seen *sn, const char *p)
{
    size_t len = strlen(p);

    for (size_t l = 1; sn->n && l <= len; l++) {
        if ((l == len || p[l] == '/') && sn->tab[seen_slot(sn, p, l)])
            return true;
    }
    return false;
}

/* Adds @p (owned by the table from now on, also on failure: freed). */
static int seen_add(struct seen *sn, char *p)
{
    if (2 * (sn->n + 1) > sn->cap) {
        struct seen bigger = {.cap = sn->cap ? 2 * sn->cap : 64};

        if (!(bigger.tab = calloc(bigger.cap, sizeof(*bigger.tab)))) {
            free(p);
            return -ENOMEM;
        }
        for (size_t i = 0; i < sn->cap; i++) {
            if (sn->tab[i])
                bigger.tab[seen_slot(&bigger, sn->tab[i], strlen(sn->tab[i]))] = sn->tab[i];
        }
        bigger.n = sn->n;
        free(sn->tab);
        *sn = bigger;
    }
    sn->tab[seen_slot(sn, p, strlen(p))] = p;
    sn->n++;
    return 0;
}

static void seen_free(struct seen *sn)
{
    for (size_t i = 0; i < sn->cap; i++)
        free(sn->tab[i]);
    free(sn->tab);
}

static int add_entry(const struct cfg *cfg, struct buf *b, struct seen *sn, const struct lyd_node *old,
                     const struct lyd_node *new, const char *path, bool *whole)
{
    struct lyd_node *n = NULL, *o = NULL, *d = NULL, *top;
    const struct lyd_node *w;
    char *p = NULL, *xml = NULL;
    bool choice = false;
    int rc = 0;

    /* widen with whichever tree holds the node (a deletion: the old one) */
    if (new && !lyd_find_path(new, path, 0, &n) && n && !(n->flags & LYD_DEFAULT)) {
        if (!(w = widen(n, whole, &choice)))
            return 0;
        if (choice && holds_secret(cfg, w->schema)) {
            char *wp = lyd_path(w, LYD_PATH_STD, NULL, 0);

            if (!wp)
                return -ENOMEM;
            *whole = secret_dropped(cfg, old, new, wp);
            free(wp);
            if (*whole)
                return 0;
        }
        n = (struct lyd_node *)w;
        p = lyd_path(n, LYD_PATH_STD, NULL, 0);
    } else if (old && !lyd_find_path(old, path, 0, &o) && o) {
        if (!(w = widen(o, whole, NULL)))
            return 0;
        p = lyd_path(w, LYD_PATH_STD, NULL, 0);
        n = NULL;
        /* the widened node may remain (only on LY_SUCCESS: LY_EINCOMPLETE gives an ancestor) */
        if (p && w != o && (!new || lyd_find_path(new, p, 0, &n) || !n || (n->flags & LYD_DEFAULT)))
            n = NULL;
    } else {
        p = strdup(path);
        n = NULL;
    }
    if (!p)
        return -ENOMEM;
    if (seen_covers(sn, p)) {
        free(p);
        return 0;
    }
    {
        char *keep = strdup(p);

        if (!keep || seen_add(sn, keep)) {
            free(p);
            return -ENOMEM;
        }
    }
    if (n && !lyd_parent(n)) { /* a top-level node prints as it is */
        rc = lyd_print_mem(&xml, n, LYD_XML, LYD_PRINT_WD_EXPLICIT) ? -ENOMEM : 0;
    } else if (n) { /* a copy with its parents, so that replay knows where it goes */
        if (lyd_dup_single(n, NULL, LYD_DUP_RECURSIVE | LYD_DUP_WITH_PARENTS | LYD_DUP_WITH_FLAGS, &d)) {
            free(p);
            return -ENOMEM;
        }
        for (top = d; top->parent; top = lyd_parent(top))
            ;
        rc = lyd_print_mem(&xml, top, LYD_XML, LYD_PRINT_WD_EXPLICIT) ? -ENOMEM : 0;
        lyd_free_all(top);
    }
    if (!rc && xml) {
        if (buf_put(b, "S", 1) || buf_str(b, p, strlen(p)) || buf_str(b, xml, strlen(xml)))
            rc = -ENOMEM;
    } else if (!rc) { /* absent, or only implicit defaults below it */
        if (buf_put(b, "D", 1) || buf_str(b, p, strlen(p)))
            rc = -ENOMEM;
    }
    free(xml);
    free(p);
    return rc;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

    if (fd < 0)
        return -errno;
    if (fsync(fd))
        rc = -errno;
    close(fd);
    return rc;
}

static int jopen(struct cfg *cfg)
{
    char path[PATH_MAX];
    struct stat st;
    int rc;

    if (cfg->jfd >= 0)
        return 0;
    if (jpath(cfg, "", path, sizeof(path)))
        return -ENAMETOOLONG;
    cfg->jfd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (cfg->jfd < 0 && errno == ENOENT) {
        /* a new file: its name must last as its first record does */
        cfg->jfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (cfg->jfd >= 0 && (rc = fsync_dir(cfg->state_dir))) {
            close(cfg->jfd);
            cfg->jfd = -1;
            return rc;
        }
    }
    if (cfg->jfd < 0)
        return -errno;
    if (fstat(cfg->jfd, &st)) {
        rc = -errno;
        close(cfg->jfd);
        cfg->jfd = -1;
        return rc;
    }
    cfg->jsize = (uint64_t)st.st_size;
    return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -errno : -EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int cfg_journal_append(struct cfg *cfg, const struct lyd_node *old, const struct lyd_node *new,
                       const struct chg_vec *chg)
{
    struct buf b = {0};
    struct seen sn = {0};
    bool whole = false;
    uint64_t seq = cfg->jseq + 1, sum;
    uint32_t len;
    int rc = 0;

    if (cfg->jbroken || !chg)
        return -EAGAIN;
    /* thousands of changes (a bulk load) cost more as records (each found,
     * widened and printed alone: some 20 us) than a snapshot of running (some
     * 60 ns a byte): then a snapshot */
    if (chg->n > CFG_BULK_CHANGES && chg->n * 300 > cfg->snap_bytes)
        return -EAGAIN;
    for (size_t i = 0; i < chg->n && !rc && !whole; i++) {
        if (!chg->v[i].snode || !chg->v[i].path || !strcmp(chg->v[i].path, "/") ||
            (chg->v[i].op != CFG_CHG_CREATE && holds_secret(cfg, chg->v[i].snode)))
            whole = true;
        else
            rc = add_entry(cfg, &b, &sn, old, new, chg->v[i].path, &whole);
    }
    seen_free(&sn);
    if (whole || rc || (rc = jopen(cfg))) {
        free(b.p);
        return whole ? -EAGAIN : rc;
    }
    len = (uint32_t)b.n;
    {
        char hdr[REC_HDR];

        memcpy(hdr, REC_MAGIC, 4);
        memcpy(hdr + 4, &len, 4);
        memcpy(hdr + 8, &seq, 8);
        sum = cfg_fnv(cfg_fnv(0xcbf29ce484222325ULL, hdr + 4, 12), b.p, b.n);
        memcpy(hdr + 16, &sum, 8);
        rc = write_all(cfg->jfd, hdr, REC_HDR);
        if (!rc)
            rc = write_all(cfg->jfd, b.p, b.n);
        if (!rc && fdatasync(cfg->jfd))
            rc = -errno;
    }
    free(b.p);
    if (rc) {
        /* not acknowledged: take the record back, or a snapshot must supersede it */
        if (ftruncate(cfg->jfd, (off_t)cfg->jsize) || fdatasync(cfg->jfd))
            cfg->jbroken = true;
        return rc;
    }
    cfg->jsize += REC_HDR + len;
    cfg->jseq = seq;
    cfg->running_digest = cfg_fnv(cfg->running_digest, &sum, sizeof(sum));
    return 0;
}

/* Applies one record's payload to @tree (parsed only, not validated). */
static int apply_payload(struct cfg *cfg, struct lyd_node **tree, const char *p, size_t n, struct cfg_errs *errs)
{
    const char *e = p + n;

    while (p < e) {
        char op = *p++;
        uint32_t pl, xl = 0;
        char *path, *xml = NULL;
        struct lyd_node *old = NULL, *frag = NULL;
        int rc = 0;

        if ((op != 'S' && op != 'D') || e - p < 4 || (memcpy(&pl, p, 4), (size_t)(e - p - 4) < pl))
            return -EINVAL;
        path = strndup(p + 4, pl);
        p += 4 + pl;
        if (op == 'S') {
            if (e - p < 4 || (memcpy(&xl, p, 4), (size_t)(e - p - 4) < xl)) {
                free(path);
                return -EINVAL;
            }
            xml = strndup(p + 4, xl);
            p += 4 + xl;
        }
        if (!path || (op == 'S' && !xml))
            rc = -ENOMEM;
        if (!rc && xml)
            rc = cfg_parse_data(cfg, xml, "running.journal", &frag, errs);
        if (!rc && *tree && !lyd_find_path(*tree, path, 0, &old) && old) {
            if (old == *tree)
                *tree = (*tree)->next;
            lyd_free_tree(old);
        }
        if (!rc && frag && lyd_merge_siblings(tree, frag, LYD_MERGE_DESTRUCT)) {
            cfg_err_from_ly(errs, cfg->ctx, "running.journal");
            rc = -EINVAL;
        } else {
            frag = NULL;
        }
        lyd_free_siblings(frag);
        free(path);
        free(xml);
        if (rc)
            return rc;
    }
    return 0;
}

int cfg_journal_replay(struct cfg *cfg, struct lyd_node **tree, struct cfg_errs *errs)
{
    char path[PATH_MAX];
    char *data = NULL;
    size_t len = 0, off = 0, good = 0;
    unsigned applied = 0;
    int rc;

    if (jpath(cfg, "", path, sizeof(path)))
        return -ENAMETOOLONG;
    rc = fs_read_all(path, &data, &len);
    if (rc == -ENOENT)
        return 0;
    if (rc) {
        cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, NULL, "cannot read %s: %s", path,
                    strerror(-rc));
        return rc;
    }
    while (len - off >= REC_HDR && !memcmp(data + off, REC_MAGIC, 4)) {
        uint32_t l;
        uint64_t seq, sum;

        memcpy(&l, data + off + 4, 4);
        memcpy(&seq, data + off + 8, 8);
        memcpy(&sum, data + off + 16, 8);
        if (len - off - REC_HDR < l ||
            cfg_fnv(cfg_fnv(0xcbf29ce484222325ULL, data + off + 4, 12), data + off + REC_HDR, l) != sum)
            break;
        if (seq > cfg->jseq) {
            if (seq != cfg->jseq + 1)
                break; /* a gap: what follows belongs to no snapshot of ours */
            rc = apply_payload(cfg, tree, data + off + REC_HDR, l, errs);
            if (rc) {
                cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, NULL,
                            "%s: record %" PRIu64 " cannot be applied", path, seq);
                free(data);
                return rc;
            }
            cfg->jseq = seq;
            cfg->running_digest = cfg_fnv(cfg->running_digest, &sum, sizeof(sum));
            applied++;
        }
        off += REC_HDR + l;
        good = off;
    }
    free(data);
    cfg->jsize = good;
    if (good < len) {
        /* the torn tail of an append that was never acknowledged */
        log_info("config", "%s: dropping %zu bytes after the last whole record", path, len - good);
        if (truncate(path, (off_t)good)) {
            /* appending after the torn tail would hide the new records: snapshots only */
            log_err("config", "cannot truncate %s: %s", path, strerror(errno));
            cfg->jbroken = true;
        }
    }
    if (applied)
        log_info("config", "running: %u change set(s) replayed from %s", applied, path);
    return 0;
}

/* The snapshot header: "<!-- raven-running seq=S digest=D body=B -->\n". */
int cfg_snapshot_header(char *buf, size_t len, uint64_t seq, uint64_t digest, uint64_t body)
{
    return snprintf(buf, len, "<!-- raven-running seq=%" PRIu64 " digest=%016" PRIx64 " body=%016" PRIx64 " -->\n",
                    seq, digest, body);
}

const char *cfg_snapshot_parse(struct cfg *cfg, const char *data)
{
    uint64_t seq, digest, body;
    int n = 0;
    const char *rest;

    cfg->jseq = 0;
    cfg->snap_seq = 0;
    if (sscanf(data, "<!-- raven-running seq=%" SCNu64 " digest=%" SCNx64 " body=%" SCNx64 " -->\n%n", &seq, &digest,
               &body, &n) != 3 ||
        !n) {
        cfg->running_digest = cfg_fnv(0xcbf29ce484222325ULL, data, strlen(data));
        return data;
    }
    rest = data + n;
    cfg->jseq = seq;
    cfg->snap_seq = seq;
    /* a snapshot edited by hand no longer has the body it names: a new digest */
    cfg->running_digest = cfg_fnv(0xcbf29ce484222325ULL, rest, strlen(rest));
    if (cfg->running_digest == body)
        cfg->running_digest = digest;
    return rest;
}

/* After a full snapshot: the journal's records are all older; empty it. */
void cfg_journal_reset(struct cfg *cfg)
{
    if (jopen(cfg))
        return;
    if (ftruncate(cfg->jfd, 0))
        return; /* its records are older than the snapshot, replay skips them */
    cfg->jsize = 0;
    /* a truncation that may not last could leave old bytes after new records */
    cfg->jbroken = fdatasync(cfg->jfd) != 0;
}

/* ---- compaction ---- */

/* running.xml.compact.<pid>: the compaction child's snapshot, renamed over
 * running.xml by the parent only (reap()), never by the child: a child orphaned
 * by a crash of ravend must not rename an older snapshot over one a restarted
 * ravend wrote. */
static int compact_path(const struct cfg *cfg, pid_t pid, char *buf, size_t len)
{
    return snprintf(buf, len, "%s/running.xml.compact.%ld", cfg->state_dir, (long)pid) >= (int)len ? -ENAMETOOLONG
                                                                                                    : 0;
}

static void child_snapshot(struct cfg *cfg, pid_t parent)
{
    char path[PATH_MAX], hdr[128];
    char *data = NULL, *all;
    size_t hl, dl;
    int fd;

    /* ends with ravend; and ravend may have ended before the line above */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
        _exit(1);
    if (compact_path(cfg, getpid(), path, sizeof(path)) ||
        lyd_print_mem(&data, cfg->running, LYD_XML, LYD_PRINT_WITHSIBLINGS | LYD_PRINT_WD_EXPLICIT))
        _exit(1);
    dl = data ? strlen(data) : 0;
    hl = (size_t)cfg_snapshot_header(hdr, sizeof(hdr), cfg->jseq, cfg->running_digest,
                                     cfg_fnv(0xcbf29ce484222325ULL, data ? data : "", dl));
    if (!(all = malloc(hl + dl + 1)))
        _exit(1);
    memcpy(all, hdr, hl);
    memcpy(all + hl, data ? data : "", dl);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write_all(fd, all, hl + dl) || fsync(fd))
        _exit(1);
    _exit(0);
}

/* At start: the snapshots of compactions a crash interrupted are older than
 * running.xml or equal to it plus its journal; they go. */
void cfg_journal_clean(struct cfg *cfg)
{
    char path[PATH_MAX];
    DIR *d = opendir(cfg->state_dir);
    struct dirent *e;

    if (!d)
        return;
    while ((e = readdir(d))) {
        if (!strncmp(e->d_name, "running.xml.compact.", 20) &&
            snprintf(path, sizeof(path), "%s/%s", cfg->state_dir, e->d_name) < (int)sizeof(path))
            unlink(path);
    }
    closedir(d);
}

/* The journal without the records the new snapshot holds (seq <= cfg->cseq),
 * replacing the old one atomically. */
static void cut_journal(struct cfg *cfg)
{
    char path[PATH_MAX];
    char *data = NULL;
    size_t len = 0, off = 0, keep = 0;
    struct stat st;

    if (jpath(cfg, "", path, sizeof(path)) || fs_read_all(path, &data, &len))
        return;
    while (len - off >= REC_HDR && !memcmp(data + off, REC_MAGIC, 4)) {
        uint32_t l;
        uint64_t seq;

        memcpy(&l, data + off + 4, 4);
        memcpy(&seq, data + off + 8, 8);
        if (len - off - REC_HDR < l)
            break;
        off += REC_HDR + l;
        if (seq <= cfg->cseq)
            keep = off;
    }
    if (!fs_write_atomic(path, data + keep, len - keep, 0600)) {
        if (cfg->jfd >= 0)
            close(cfg->jfd);
        cfg->jfd = -1;
        jopen(cfg);
    }
    free(data);
    if (snprintf(path, sizeof(path), "%s/running.xml", cfg->state_dir) < (int)sizeof(path) && !stat(path, &st))
        cfg->snap_size = cfg->snap_bytes = (uint64_t)st.st_size;
}

/* Reaps a finished compaction (@wait: waits for it): its snapshot replaces
 * running.xml if it is still newer than the one there, then the journal is cut. */
static void reap(struct cfg *cfg, bool wait)
{
    char cpath[PATH_MAX], path[PATH_MAX];
    int st = 0;
    pid_t r;

    if (cfg->cpid <= 0)
        return;
    r = waitpid(cfg->cpid, &st, wait ? 0 : WNOHANG);
    if (r == 0)
        return;
    if (compact_path(cfg, cfg->cpid, cpath, sizeof(cpath)))
        cpath[0] = 0;
    cfg->cpid = 0;
    if (r > 0 && WIFEXITED(st) && !WEXITSTATUS(st) && cpath[0] && cfg->cseq > cfg->snap_seq &&
        snprintf(path, sizeof(path), "%s/running.xml", cfg->state_dir) < (int)sizeof(path) && !rename(cpath, path)) {
        if (fsync_dir(cfg->state_dir)) {
            /* the rename may not last: records after the old snapshot stay */
            log_err("config", "cannot fsync %s after compacting running.journal", cfg->state_dir);
        } else {
            cfg->snap_seq = cfg->cseq;
            cut_journal(cfg);
        }
        cfg->compact_fails = 0;
        return;
    }
    if (cpath[0])
        unlink(cpath);
    if (r > 0 && WIFEXITED(st) && !WEXITSTATUS(st) && cfg->cseq <= cfg->snap_seq)
        return; /* superseded by a newer snapshot */
    /* tried again after the journal has grown by twice as much as last time */
    if (cfg->compact_fails < 16)
        cfg->compact_fails++;
    cfg->snap_size = (cfg->jsize * 2) << cfg->compact_fails;
    log_err("config", "compacting running.journal failed; it is tried again after the journal has grown");
}

void cfg_journal_tick(struct cfg *cfg)
{
    pid_t pid, parent;

    reap(cfg, false);
    if (cfg->cpid > 0 || cfg->jsize < cfg->compact_bytes || cfg->jsize < cfg->snap_size / 2)
        return;
    cfg->cseq = cfg->jseq;
    cfg->snap_size = cfg->jsize * 2; /* no new attempt per commit until this one ends */
    parent = getpid();
    pid = fork();
    if (pid == 0)
        child_snapshot(cfg, parent);
    if (pid < 0)
        log_err("config", "cannot fork to compact running.journal: %s", strerror(errno));
    else
        cfg->cpid = pid;
}

/* A whole snapshot is about to be written (or ravend stops): a compaction still
 * running would only be superseded, so it is ended rather than waited for, and
 * its file removed (only the parent renames a compaction's snapshot). */
static void cancel(struct cfg *cfg)
{
    char cpath[PATH_MAX];

    reap(cfg, false);
    if (cfg->cpid > 0) {
        kill(cfg->cpid, SIGKILL);
        waitpid(cfg->cpid, NULL, 0);
        if (!compact_path(cfg, cfg->cpid, cpath, sizeof(cpath)))
            unlink(cpath);
        cfg->cpid = 0;
    }
}

void cfg_journal_wait(struct cfg *cfg)
{
    cancel(cfg);
}

void cfg_journal_close(struct cfg *cfg)
{
    cancel(cfg);
    /* a clean stop leaves the whole of running in running.xml, digest unchanged */
    if (cfg->jsize && cfg->running && !cfg_store_snapshot(cfg, cfg->running, true))
        log_info("config", "running.journal folded into running.xml");
    if (cfg->jfd >= 0)
        close(cfg->jfd);
    cfg->jfd = -1;
}

/* ---- the spare: a tree kept equal to running, so that the candidate need not be
 * copied from running (cfg_ds.c) ---- */

/* Makes the node at @p in *@dst a copy of @n (NULL: removes it). */
static int sync_one(struct lyd_node **dst, const char *p, const struct lyd_node *n)
{
    struct lyd_node *d = NULL, *par = NULL, *dup = NULL, *top;
    char *pp;
    int rc = 0;

    if (*dst && !lyd_find_path(*dst, p, 0, &d) && d) {
        if (*dst == d)
            *dst = d->next;
        lyd_free_tree(d);
    }
    if (!n)
        return 0;
    pp = lyd_parent(n) ? lyd_path(lyd_parent(n), LYD_PATH_STD, NULL, 0) : NULL;
    if (lyd_parent(n) && !pp)
        return -ENOMEM;
    if (pp && (!*dst || lyd_find_path(*dst, pp, 0, &par) || !par)) {
        /* its parents are missing too: copy them along and merge */
        if (lyd_dup_single(n, NULL, LYD_DUP_RECURSIVE | LYD_DUP_WITH_PARENTS | LYD_DUP_WITH_FLAGS, &dup))
            rc = -ENOMEM;
        for (top = dup; !rc && top->parent; top = lyd_parent(top))
            ;
        if (!rc && lyd_merge_siblings(dst, top, LYD_MERGE_DESTRUCT | LYD_MERGE_WITH_FLAGS))
            rc = -ENOMEM;
    } else if (lyd_dup_single(n, NULL, LYD_DUP_RECURSIVE | LYD_DUP_WITH_FLAGS, &dup)) {
        rc = -ENOMEM;
    } else if (par) {
        rc = lyd_insert_child(par, dup) ? -EINVAL : 0;
    } else if (*dst) {
        rc = lyd_insert_sibling(*dst, dup, dst) ? -EINVAL : 0;
    } else {
        *dst = dup;
    }
    free(pp);
    return rc;
}

int cfg_tree_sync(struct lyd_node **dst, const struct lyd_node *src, const struct chg_vec *chg)
{
    for (size_t i = 0; i < chg->n; i++) {
        const struct cfg_change *c = &chg->v[i];
        struct lyd_node *n = NULL, *o = NULL;
        const struct lyd_node *w;
        bool whole = false;
        char *p;
        int rc;

        if (!c->snode || !c->path || !strcmp(c->path, "/"))
            return -EAGAIN;
        if (src && !lyd_find_path(src, c->path, 0, &n) && n) {
            if (!(w = widen(n, &whole, NULL)))
                return -EAGAIN;
            n = (struct lyd_node *)w;
            p = lyd_path(w, LYD_PATH_STD, NULL, 0);
        } else if (*dst && !lyd_find_path(*dst, c->path, 0, &o) && o) {
            if (!(w = widen(o, &whole, NULL)))
                return -EAGAIN;
            p = lyd_path(w, LYD_PATH_STD, NULL, 0);
            n = NULL;
            if (p && w != o && src && (lyd_find_path(src, p, 0, &n) || !n))
                n = NULL;
        } else {
            continue; /* in neither tree */
        }
        if (!p)
            return -ENOMEM;
        rc = sync_one(dst, p, n);
        free(p);
        if (rc)
            return rc;
    }
    return 0;
}
