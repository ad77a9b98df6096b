/* The session arena's file in its file system (sess_arena.c's helpers): the
 * directory and the tmpfs rule, opening and locking, and setting an invalid
 * file aside. Internal to daemon/session. */
#ifndef RAVEN_SESSION_SESS_ARENA_FS_H
#define RAVEN_SESSION_SESS_ARENA_FS_H

#include <stdbool.h>
#include <stddef.h>

/* Makes the directory of @path (0700) if missing and checks that it is on tmpfs
 * (*ramfs false) or ramfs (true): -EXDEV otherwise, with @why. */
int sess_arena_fs_dir(const char *path, bool *ramfs, char *why, size_t whylen);
/* Opens @path (O_NOFOLLOW, O_CLOEXEC; made 0600 when missing: *made) and locks
 * it (flock, exclusive, not waiting: -EBUSY). The lock is held on the inode
 * the path names once locked. 0 with *fd, or -errno with @why. */
int sess_arena_fs_lock(const char *path, int *fd, bool *made, char *why, size_t whylen);
/* Renames the invalid file @path to PATH.bad-<UTC YYYYmmddTHHMMSS>[-N], logs
 * @reason, and removes the oldest set-aside files beyond the newest three. */
void sess_arena_fs_set_aside(const char *path, const char *reason);

#endif
