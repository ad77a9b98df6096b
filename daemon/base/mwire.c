/* Frames of the management socket: see mwire.h. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "daemon/base/mwire.h"
#include "daemon/base/poison.h"

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The frame's deadline: @start plus the socket's SO_SNDTIMEO; false when it has
 * none (a plain blocking socket waits as long as it takes). */
static bool frame_deadline(int fd, const struct timespec *start, struct timespec *dl)
{
    struct timeval tv = {0};
    socklen_t len = sizeof(tv);

    if (getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &len) || (!tv.tv_sec && !tv.tv_usec))
        return false;
    dl->tv_sec = start->tv_sec + tv.tv_sec;
    dl->tv_nsec = start->tv_nsec + tv.tv_usec * 1000L;
    if (dl->tv_nsec >= 1000000000L) {
        dl->tv_sec++;
        dl->tv_nsec -= 1000000000L;
    }
    return true;
}

/* Waits until @fd can take more before @dl: 0, or -EAGAIN once it has passed. */
static int wait_writable(int fd, const struct timespec *dl)
{
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        struct timespec now;
        long long ms;
        int r;

        clock_gettime(CLOCK_MONOTONIC, &now);
        ms = (long long)(dl->tv_sec - now.tv_sec) * 1000 + (dl->tv_nsec - now.tv_nsec) / 1000000;
        if (ms <= 0)
            return -EAGAIN;
        r = poll(&pfd, 1, ms > 60000 ? 60000 : (int)ms);
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return -errno;
    }
}

int mwire_send(int fd, const char *hdr, size_t hlen, const void *data, size_t dlen, const int *fds, int nfds)
{
    unsigned char prefix[8];
    struct iovec iov[3];
    union {
        char buf[CMSG_SPACE(sizeof(int) * MWIRE_MAX_FDS)];
        struct cmsghdr align;
    } cbuf;
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 3};
    size_t total, sent = 0;
    bool first = true, asked = false, timed = false;
    int flags = MSG_NOSIGNAL | MSG_DONTWAIT, err; /* the first try never waits */
    struct timespec start, dl;

    if (!hlen || hlen > MWIRE_MAX_HDR || dlen > MWIRE_MAX_DATA || nfds < 0 || nfds > MWIRE_MAX_FDS)
        return -EMSGSIZE;
    put32(prefix, (uint32_t)hlen);
    put32(prefix + 4, (uint32_t)dlen);
    total = sizeof(prefix) + hlen + dlen;
    if (nfds) {
        struct cmsghdr *c;

        memset(&cbuf, 0, sizeof(cbuf));
        mh.msg_control = cbuf.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    /* SO_SNDTIMEO is the time the whole frame may take, however many partial
     * writes a slowly reading peer makes of it (the kernel restarts the timeout
     * each time it finds room, so a blocking sendmsg is not bounded by it) */
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (sent < total) {
        /* rebuild the vector past what has gone */
        size_t off = sent, n = 0;
        const struct {
            const void *p;
            size_t len;
        } parts[3] = {{prefix, sizeof(prefix)}, {hdr, hlen}, {data, dlen}};
        ssize_t r;

        for (int i = 0; i < 3; i++) {
            if (off >= parts[i].len) {
                off -= parts[i].len;
                continue;
            }
            iov[n].iov_base = (char *)parts[i].p + off;
            iov[n].iov_len = parts[i].len - off;
            off = 0;
            n++;
        }
        mh.msg_iovlen = n;
        r = sendmsg(fd, &mh, flags);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno != EWOULDBLOCK)
            return -errno;
        if (r > 0) {
            if (first) {
                /* the descriptors went with the first byte */
                mh.msg_control = NULL;
                mh.msg_controllen = 0;
                first = false;
            }
            sent += (size_t)r;
            if (sent == total)
                break;
        }
        /* the socket took less than all: with SO_SNDTIMEO, poll waits until the
         * frame's deadline; without, sendmsg blocks as long as it takes */
        if (!asked) {
            asked = true;
            timed = frame_deadline(fd, &start, &dl);
            if (!timed) {
                flags &= ~MSG_DONTWAIT;
                continue;
            }
        }
        if (!timed) {
            if (r < 0) /* a non-blocking socket */
                return -EAGAIN;
            continue;
        }
        err = wait_writable(fd, &dl);
        if (err)
            return err;
    }
    return 0;
}

void mwire_rx_init(struct mwire_rx *rx)
{
    memset(rx, 0, sizeof(*rx));
}

static void close_fds(struct mwire_rx *rx)
{
    for (int i = 0; i < rx->nfds; i++)
        close(rx->fds[i]);
    rx->nfds = 0;
}

void mwire_rx_clear(struct mwire_rx *rx)
{
    free(rx->buf);
    close_fds(rx);
    mwire_rx_init(rx);
}

/* Bytes still wanted by the frame in progress, and where they go. */
static size_t want(struct mwire_rx *rx, unsigned char **dst)
{
    if (rx->have < sizeof(rx->prefix)) {
        *dst = rx->prefix + rx->have;
        return sizeof(rx->prefix) - rx->have;
    }
    {
        size_t body = rx->have - sizeof(rx->prefix), hl = rx->hlen;

        /* the buffer holds hdr, NUL, data, NUL: skip the first NUL */
        *dst = (unsigned char *)rx->buf + body + (body >= hl ? 1 : 0);
        if (body < hl)
            return hl - body;
        return (size_t)rx->dlen - (body - hl);
    }
}

/* The prefix is complete: check it and allocate the body. */
static int prefix_done(struct mwire_rx *rx)
{
    rx->hlen = get32(rx->prefix);
    rx->dlen = get32(rx->prefix + 4);
    if (!rx->hlen || rx->hlen > MWIRE_MAX_HDR || rx->dlen > MWIRE_MAX_DATA)
        return -EMSGSIZE;
    rx->buf = malloc((size_t)rx->hlen + rx->dlen + 2);
    if (!rx->buf)
        return -ENOMEM;
    return 0;
}

static bool complete(const struct mwire_rx *rx)
{
    return rx->have >= sizeof(rx->prefix) && rx->buf && rx->have == sizeof(rx->prefix) + rx->hlen + rx->dlen;
}

/* Accounts @n new bytes; 1 when the frame is complete. */
static int advance(struct mwire_rx *rx, size_t n)
{
    bool had_prefix = rx->have >= sizeof(rx->prefix);
    int rc;

    rx->have += n;
    if (!had_prefix && rx->have == sizeof(rx->prefix)) {
        rc = prefix_done(rx);
        if (rc)
            return rc;
    }
    if (complete(rx)) {
        rx->buf[rx->hlen] = '\0';
        rx->buf[rx->hlen + 1 + rx->dlen] = '\0';
        return 1;
    }
    return 0;
}

int mwire_rx_feed(struct mwire_rx *rx, const void *p, size_t n, size_t *used)
{
    const unsigned char *s = p;

    *used = 0;
    while (*used < n) {
        unsigned char *dst;
        size_t w = want(rx, &dst), k = n - *used < w ? n - *used : w;
        int rc;

        memcpy(dst, s + *used, k);
        *used += k;
        rc = advance(rx, k);
        if (rc)
            return rc;
    }
    return 0;
}

static void keep_fds(struct mwire_rx *rx, struct msghdr *mh)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        size_t n;

        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;

            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (rx->nfds < MWIRE_MAX_FDS)
                rx->fds[rx->nfds++] = fd;
            else
                close(fd);
        }
    }
}

static int rx_read(struct mwire_rx *rx, int fd, int flags)
{
    for (;;) {
        unsigned char *dst;
        size_t w = want(rx, &dst);
        union {
            char buf[CMSG_SPACE(sizeof(int) * MWIRE_MAX_FDS)];
            struct cmsghdr align;
        } cbuf;
        struct iovec iov = {.iov_base = dst, .iov_len = w};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf,
                            .msg_controllen = sizeof(cbuf.buf)};
        ssize_t r;
        int rc;

        r = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | flags);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
        }
        if (mh.msg_controllen)
            keep_fds(rx, &mh);
        if (mh.msg_flags & MSG_CTRUNC)
            return -EMSGSIZE;
        if (r == 0)
            return rx->have ? -EPROTO : -EPIPE;
        rc = advance(rx, (size_t)r);
        if (rc)
            return rc;
    }
}

int mwire_rx_read(struct mwire_rx *rx, int fd)
{
    return rx_read(rx, fd, 0);
}

int mwire_rx_read_nb(struct mwire_rx *rx, int fd)
{
    return rx_read(rx, fd, MSG_DONTWAIT);
}

void mwire_rx_take(struct mwire_rx *rx, char **hdr, size_t *hlen, char **data, size_t *dlen, int *fds, int *nfds)
{
    *hdr = rx->buf;
    *hlen = rx->hlen;
    *data = rx->dlen ? rx->buf + rx->hlen + 1 : NULL;
    *dlen = rx->dlen;
    if (fds && nfds) {
        memcpy(fds, rx->fds, sizeof(int) * (size_t)rx->nfds);
        *nfds = rx->nfds;
        rx->nfds = 0;
    }
    close_fds(rx);
    mwire_rx_init(rx);
}
