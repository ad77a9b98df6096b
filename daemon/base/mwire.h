/* Frames of the management socket (api/README.md): an 8-byte prefix (header and data
 * lengths, big-endian), a JSON header and opaque data, with file descriptors passed
 * as SCM_RIGHTS on the first byte. Used by ravend (daemon/mgmt) and the front ends
 * (api/mgmt). Knows nothing of the messages themselves. */
#ifndef RAVEN_BASE_MWIRE_H
#define RAVEN_BASE_MWIRE_H

#include <stddef.h>
#include <stdint.h>

#define MWIRE_MAX_HDR (64u * 1024u)
#define MWIRE_MAX_DATA (64u * 1024u * 1024u)
#define MWIRE_MAX_FDS 16

/* Sends one frame on the (blocking, or blocking with SO_SNDTIMEO) stream socket @fd;
 * @fds (may be NULL) go with it. With SO_SNDTIMEO, that is the time the whole
 * frame may take (a peer that drains it slowly, in many partial writes, gets no
 * more). Returns 0 or -errno (-EMSGSIZE when a part is over its limit, -EAGAIN
 * on a send timeout: then part of the frame may have gone, and the stream is
 * unusable). */
int mwire_send(int fd, const char *hdr, size_t hlen, const void *data, size_t dlen, const int *fds, int nfds);

/* An incremental receiver for blocking or non-blocking sockets. */
struct mwire_rx {
    unsigned char prefix[8];
    size_t have;       /* bytes of the current frame received (prefix included) */
    uint32_t hlen, dlen;
    char *buf;         /* header, a NUL, then data, a NUL */
    int fds[MWIRE_MAX_FDS];
    int nfds;
};

void mwire_rx_init(struct mwire_rx *rx);
/* Reads from @fd until a frame is complete or the socket has nothing more.
 * Returns 1 with a complete frame (take it with mwire_rx_take), 0 when more bytes
 * are needed (non-blocking socket), -EPIPE on orderly close between frames,
 * -EPROTO on a close inside a frame, -EMSGSIZE when the prefix announces a part
 * over its limit or an empty header, or -errno. After an error the receiver must
 * be reset (mwire_rx_clear) before reuse. */
int mwire_rx_read(struct mwire_rx *rx, int fd);
/* mwire_rx_read that never blocks (MSG_DONTWAIT), on a socket left blocking for
 * its sends: no fcntl to switch modes per frame. */
int mwire_rx_read_nb(struct mwire_rx *rx, int fd);
/* Feeds bytes that were read elsewhere (the fuzzer); same results as mwire_rx_read,
 * *used says how many bytes of @p were consumed. */
int mwire_rx_feed(struct mwire_rx *rx, const void *p, size_t n, size_t *used);
/* Hands over the complete frame: *hdr (NUL-terminated, hlen bytes) and *data
 * (NUL-terminated, dlen bytes, NULL when dlen is 0) point into one buffer the
 * caller frees with free(*hdr); descriptors received are copied to @fds (up to
 * MWIRE_MAX_FDS) and their count returned in *nfds. The receiver is ready for the
 * next frame. */
void mwire_rx_take(struct mwire_rx *rx, char **hdr, size_t *hlen, char **data, size_t *dlen, int *fds, int *nfds);
/* Frees a partial frame and closes descriptors not taken. */
void mwire_rx_clear(struct mwire_rx *rx);

#endif
