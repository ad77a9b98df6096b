/* The session arena's file in its file system (sess_arena_fs.h). */
#include "daemon/session/sess_arena_fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "daemon/base/fsutil.h"
#include "daemon/base/log.h"

#include "daemon/base/poison.h"

#define SUBSYS "session"
#define FS_BAD_KEEP 3

/* The directory of @path ("." for a bare name). */
static void arena_dirname(const char *path, char *dir, size_t size)
{
    const char *slash = strrchr(path, '/');

    if (!slash)
        snprintf(dir, size, ".");
    else if (slash == path)
        snprintf(dir, size, "/");
    else
        snprintf(dir, size, "%.*s", (int)(slash - path), path);
}

/* Makes the directory of @path (0700) if missing and checks that it is on
 * tmpfs or ramfs. */
int sess_arena_fs_dir(const char *path, bool *ramfs, char *why, size_t whylen)
{
    char dir[PATH_MAX];
    struct statfs sf;
    int rc;

    arena_dirname(path, dir, sizeof(dir));
    rc = fs_mkdir_p(dir, 0700);
    if (rc < 0) {
        snprintf(why, whylen, "cannot make directory %s: %s", dir, strerror(-rc));
        return rc;
    }
    if (statfs(dir, &sf) < 0) {
        rc = -errno;
        snprintf(why, whylen, "statfs %s: %s", dir, strerror(-rc));
        return rc;
    }
    if (sf.f_type != TMPFS_MAGIC && sf.f_type != RAMFS_MAGIC) {
        snprintf(why, whylen,
                 "%s is not on tmpfs or ramfs (file system type 0x%lx): the session arena holds keys, which "
                 "never go to persistent storage; give a path on tmpfs such as /run/raven",
                 dir, (unsigned long)sf.f_type);
        return -EXDEV;
    }
    *ramfs = sf.f_type == RAMFS_MAGIC;
    return 0;
}

/* Opens @path (making it when missing: *made) and locks it. The lock is taken
 * on the inode the path names after locking, so that a file set aside by
 * another process meanwhile is not the one held. */
int sess_arena_fs_lock(const char *path, int *fdp, bool *made, char *why, size_t whylen)
{
    struct stat fs, ps;
    int fd = -1, rc = 0;

    for (int tries = 0; tries < 8; tries++) {
        *made = false;
        fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 && errno == ENOENT) {
            fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
            *made = fd >= 0;
            if (fd < 0 && errno == EEXIST)
                continue;
        }
        if (fd < 0) {
            rc = -errno;
            snprintf(why, whylen, "cannot open %s: %s", path, strerror(-rc));
            return rc;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
            rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
            if (rc == -EBUSY)
                snprintf(why, whylen, "%s is in use by another process (is another ravend running?)", path);
            else
                snprintf(why, whylen, "cannot lock %s: %s", path, strerror(-rc));
            close(fd);
            return rc;
        }
        if (fstat(fd, &fs) == 0 && stat(path, &ps) == 0 && fs.st_dev == ps.st_dev && fs.st_ino == ps.st_ino) {
            *fdp = fd;
            return 0;
        }
        close(fd);
    }
    snprintf(why, whylen, "%s keeps changing under us", path);
    return -EAGAIN;
}

/* The suffix that makes a set-aside name of this second sort after the
 * earlier ones (version sort): 1 (none) when there are none. */
static int arena_bad_seq(const char *name, const char *prefix, const char *stamp)
{
    size_t pl = strlen(prefix), sl = strlen(stamp);
    const char *t = name + pl;
    char *end;
    unsigned long v;

    if (strncmp(name, prefix, pl) != 0 || strncmp(t, stamp, sl) != 0)
        return 1;
    if (t[sl] == '\0')
        return 2;
    if (t[sl] != '-')
        return 1;
    v = strtoul(t + sl + 1, &end, 10);
    return *end == '\0' && v < 1000 ? (int)v + 1 : 1;
}

/* Renames an invalid file to PATH.bad-<UTC time> (-N added when that second
 * has one already) and keeps the newest FS_BAD_KEEP of those. */
void sess_arena_fs_set_aside(const char *path, const char *reason)
{
    char dir[PATH_MAX], to[PATH_MAX + 64], stamp[32], prefix[NAME_MAX + 8];
    const char *slash = strrchr(path, '/');
    struct tm tm;
    time_t now = time(NULL);
    struct dirent **names = NULL;
    int n, seq = 1, matching = 0, excess, rc = -1;

    arena_dirname(path, dir, sizeof(dir));
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
    snprintf(prefix, sizeof(prefix), "%.*s.bad-", NAME_MAX, slash ? slash + 1 : path);
    n = scandir(dir, &names, NULL, versionsort);
    for (int i = 0; i < n; i++) {
        int q = arena_bad_seq(names[i]->d_name, prefix, stamp);

        matching += strncmp(names[i]->d_name, prefix, strlen(prefix)) == 0;
        seq = q > seq ? q : seq;
    }
    for (int tries = 0; tries < 100 && rc < 0; tries++, seq++) {
        if (seq == 1)
            snprintf(to, sizeof(to), "%s.bad-%s", path, stamp);
        else
            snprintf(to, sizeof(to), "%s.bad-%s-%d", path, stamp, seq);
        rc = renameat2(AT_FDCWD, path, AT_FDCWD, to, RENAME_NOREPLACE);
        if (rc < 0 && errno != EEXIST)
            break;
    }
    if (rc < 0) {
        log_err(SUBSYS, "session arena %s is not valid (%s) and could not be set aside (%s): removed", path,
                reason, strerror(errno));
        unlink(path);
        goto out;
    }
    log_warn(SUBSYS, "session arena %s is not valid: %s; set aside as %s, starting with an empty arena", path,
             reason, to);
    /* the oldest beyond FS_BAD_KEEP go, the one just made never */
    excess = matching + 1 - FS_BAD_KEEP;
    for (int i = 0; i < n && excess > 0; i++) {
        char old[PATH_MAX + NAME_MAX + 2];

        if (strncmp(names[i]->d_name, prefix, strlen(prefix)) != 0)
            continue;
        snprintf(old, sizeof(old), "%s/%s", dir, names[i]->d_name);
        if (unlink(old) == 0)
            log_info(SUBSYS, "removed old set-aside session arena %s", old);
        excess--;
    }
out:
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}
