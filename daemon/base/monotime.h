/* The monotonic clock in milliseconds: timeouts, ages and rate limits that must
 * not jump with the wall clock. Used by every part (daemon, dataplane, front
 * ends); a system call-free read on Linux (vDSO). */
#ifndef RAVEN_BASE_MONOTIME_H
#define RAVEN_BASE_MONOTIME_H

#include <stdint.h>
#include <time.h>

/* Milliseconds of CLOCK_MONOTONIC: since an unspecified start, never going back. */
static inline int64_t monotime_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
