/* File helpers for state that must survive a crash at any instant. */
#ifndef RAVEN_BASE_FSUTIL_H
#define RAVEN_BASE_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* Replaces @path with @len bytes of @data atomically: writes "<path>.tmp", fsyncs it,
 * renames it over @path and fsyncs the directory. A reader sees either the old or
 * the new content, never a mix, even after a power cut. Returns 0 or -errno. */
int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* Removes @path (missing is fine) and fsyncs its directory. Returns 0 or -errno. */
int fs_remove_durable(const char *path);
/* Reads the whole file into a NUL-terminated buffer the caller frees.
 * Returns 0, -ENOENT when absent, or another -errno. */
int fs_read_all(const char *path, char **data, size_t *len);
/* Creates @path as a directory with @mode if missing. Returns 0 or -errno. */
int fs_mkdir_p(const char *path, mode_t mode);

#endif
