/* The front ends run as an unprivileged user, which must be able to execute their
 * programs and read the YANG modules and the dashboard's files. An installed tree
 * (/usr) always allows it; a build tree may not (a checkout under /root, mode
 * 0700). Then what the front ends need is copied into a directory they can reach,
 * made for this run and removed at exit, instead of their failing at every start. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/base/log.h"
#include "daemon/ravend/ravend.h"
#include "daemon/base/poison.h"

/* Whether @uid/@gid may use @st as @want (a permission bit of "other": 1 x, 4 r). */
static bool may(const struct stat *st, uid_t uid, gid_t gid, unsigned int want)
{
    if (st->st_uid == uid)
        return (st->st_mode >> 6 & want) == want;
    if (st->st_gid == gid)
        return (st->st_mode >> 3 & want) == want;
    return (st->st_mode & want) == want;
}

/* Whether the user can reach @path (every directory above it searchable) and use
 * it as @want (files: 4 read or 5 read and execute; directories: 5 list). */
static bool reachable(const char *path, uid_t uid, gid_t gid, unsigned int want)
{
    char buf[PATH_MAX];
    struct stat st;

    if (!realpath(path, buf))
        return false;
    if (stat(buf, &st) || !may(&st, uid, gid, want))
        return false;
    for (char *slash = strrchr(buf, '/'); slash; slash = strrchr(buf, '/')) {
        *slash = '\0';
        if (stat(buf[0] ? buf : "/", &st) || !may(&st, uid, gid, 1))
            return false;
        if (!buf[0])
            break;
    }
    return true;
}

/* Whether the user can reach the tree @path and read all of it. */
static bool tree_reachable(const char *path, uid_t uid, gid_t gid)
{
    DIR *d;
    struct dirent *e;
    bool ok;

    if (!reachable(path, uid, gid, 5))
        return false;
    d = opendir(path);
    ok = d != NULL;
    while (ok && (e = readdir(d))) {
        char *p = NULL;
        struct stat st;

        if (e->d_name[0] == '.')
            continue;
        if (asprintf(&p, "%s/%s", path, e->d_name) < 0 || stat(p, &st))
            ok = false;
        else if (S_ISDIR(st.st_mode))
            ok = tree_reachable(p, uid, gid);
        else
            ok = !S_ISREG(st.st_mode) || may(&st, uid, gid, 4);
        free(p);
    }
    if (d)
        closedir(d);
    return ok;
}

static int copy_file(const char *src, const char *dst, mode_t mode)
{
    char b[65536];
    int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc = 0;
    ssize_t n;

    if (in >= 0)
        out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    while (in >= 0 && out >= 0 && (n = read(in, b, sizeof(b))) > 0) {
        if (write(out, b, (size_t)n) != n) {
            rc = -EIO;
            break;
        }
    }
    if (in < 0 || out < 0)
        rc = -errno;
    if (in >= 0)
        close(in);
    if (out >= 0 && fchmod(out, mode) && !rc)
        rc = -errno;
    if (out >= 0)
        close(out);
    return rc;
}

/* Copies the tree @src to @dst (a new directory), files readable by all. */
static int copy_tree(const char *src, const char *dst)
{
    DIR *d = opendir(src);
    struct dirent *e;
    int rc = 0;

    if (!d)
        return -errno;
    if (mkdir(dst, 0755) && errno != EEXIST) {
        closedir(d);
        return -errno;
    }
    while (!rc && (e = readdir(d))) {
        char *s = NULL, *t = NULL;
        struct stat st;

        if (e->d_name[0] == '.')
            continue;
        if (asprintf(&s, "%s/%s", src, e->d_name) < 0 || asprintf(&t, "%s/%s", dst, e->d_name) < 0)
            rc = -ENOMEM;
        else if (stat(s, &st))
            rc = -errno;
        else if (S_ISDIR(st.st_mode))
            rc = copy_tree(s, t);
        else if (S_ISREG(st.st_mode))
            rc = copy_file(s, t, 0644);
        free(s);
        free(t);
    }
    closedir(d);
    return rc;
}

/* Makes *@path reachable: copies it under @stage as @name (a program, or a
 * directory tree) and points *@path at the copy. */
static int stage_one(char **path, const char *stage, const char *name, bool program)
{
    char *dst = NULL;
    int rc;

    if (asprintf(&dst, "%s/%s", stage, name) < 0)
        return -ENOMEM;
    rc = program ? copy_file(*path, dst, 0755) : copy_tree(*path, dst);
    if (rc) {
        log_err("ravend", "cannot copy %s to %s for the front ends: %s", *path, dst, strerror(-rc));
        free(dst);
        return rc;
    }
    free(*path);
    *path = dst;
    return 0;
}

static int rm_tree(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;

    if (!d)
        return unlink(path) ? -errno : 0;
    while ((e = readdir(d))) {
        char *p = NULL;

        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || asprintf(&p, "%s/%s", path, e->d_name) < 0)
            continue;
        rm_tree(p);
        free(p);
    }
    closedir(d);
    return rmdir(path) ? -errno : 0;
}

int ravend_stage(struct ravend_stage *st, uid_t uid, gid_t gid)
{
    static const char *const names[RAVEN_STAGE_N] = {"raven-netconfd", "raven-restd", "yang", "web"};
    bool need[RAVEN_STAGE_N];
    bool any = false;
    char tmpl[] = "/tmp/raven-frontends-XXXXXX";

    for (int i = 0; i < RAVEN_STAGE_N; i++) {
        need[i] = st->path[i] && !(i < 2 ? reachable(st->path[i], uid, gid, 5) : tree_reachable(st->path[i], uid, gid));
        any |= need[i];
    }
    if (!any)
        return 0;
    if (!mkdtemp(tmpl) || chmod(tmpl, 0755)) {
        log_err("ravend", "cannot make a directory for the front ends' files: %s", strerror(errno));
        return -errno;
    }
    st->dir = strdup(tmpl);
    if (!st->dir)
        return -ENOMEM;
    for (int i = 0; i < RAVEN_STAGE_N; i++) {
        int rc;

        if (!need[i])
            continue;
        log_info("ravend", "%s cannot be reached by the front ends' user (uid %u): copied to %s", st->path[i],
                 (unsigned int)uid, st->dir);
        rc = stage_one(&st->path[i], st->dir, names[i], i < 2);
        if (rc)
            return rc;
    }
    return 0;
}

void ravend_stage_clear(struct ravend_stage *st)
{
    if (st->dir)
        rm_tree(st->dir);
    free(st->dir);
    for (int i = 0; i < RAVEN_STAGE_N; i++)
        free(st->path[i]);
    memset(st, 0, sizeof(*st));
}
