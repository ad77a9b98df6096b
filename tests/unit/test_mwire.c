/* The management socket's frames (daemon/base/mwire.c): round trips with data and
 * descriptors, frames split across reads, reads that never block on a blocking
 * socket, and the limits that close a connection. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/base/mwire.h"

static void pair(int sv[2], bool nonblock_rx)
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    if (nonblock_rx)
        fcntl(sv[1], F_SETFL, O_NONBLOCK);
}

static void test_round_trip_with_fds(void **state)
{
    int sv[2], pfd[2], fds[MWIRE_MAX_FDS], nfds = 0;
    struct mwire_rx rx;
    char *hdr, *data, c = 0;
    size_t hlen, dlen;

    pair(sv, true);
    assert_int_equal(pipe(pfd), 0);
    assert_int_equal(mwire_send(sv[0], "{\"ev\":\"x\"}", 10, "<a/>", 4, &pfd[1], 1), 0);
    assert_int_equal(mwire_send(sv[0], "{}", 2, NULL, 0, NULL, 0), 0);
    mwire_rx_init(&rx);
    assert_int_equal(mwire_rx_read(&rx, sv[1]), 1);
    mwire_rx_take(&rx, &hdr, &hlen, &data, &dlen, fds, &nfds);
    assert_int_equal(hlen, 10);
    assert_string_equal(hdr, "{\"ev\":\"x\"}");
    assert_int_equal(dlen, 4);
    assert_string_equal(data, "<a/>");
    assert_int_equal(nfds, 1);
    /* the descriptor received is the pipe's write end */
    assert_int_equal(write(fds[0], "z", 1), 1);
    assert_int_equal(read(pfd[0], &c, 1), 1);
    assert_int_equal(c, 'z');
    close(fds[0]);
    free(hdr);
    /* the second frame, without data */
    assert_int_equal(mwire_rx_read(&rx, sv[1]), 1);
    mwire_rx_take(&rx, &hdr, &hlen, &data, &dlen, NULL, NULL);
    assert_string_equal(hdr, "{}");
    assert_null(data);
    free(hdr);
    /* nothing more on a non-blocking socket; then an orderly close */
    assert_int_equal(mwire_rx_read(&rx, sv[1]), 0);
    close(sv[0]);
    assert_int_equal(mwire_rx_read(&rx, sv[1]), -EPIPE);
    mwire_rx_clear(&rx);
    close(sv[1]);
    close(pfd[0]);
    close(pfd[1]);
}

/* ravend's sockets stay blocking (for sends with a timeout) and are read with
 * mwire_rx_read_nb: a partial frame, then nothing, never blocks. */
static void test_read_nb_blocking_socket(void **state)
{
    int sv[2];
    struct mwire_rx rx;
    char *hdr, *data;
    size_t hlen, dlen;
    const unsigned char part[6] = {0, 0, 0, 2, 0, 0};

    (void)state;
    pair(sv, false);
    mwire_rx_init(&rx);
    assert_int_equal(mwire_rx_read_nb(&rx, sv[1]), 0);
    assert_int_equal(write(sv[0], part, sizeof(part)), (ssize_t)sizeof(part));
    assert_int_equal(mwire_rx_read_nb(&rx, sv[1]), 0);
    assert_int_equal(write(sv[0], "\0\0{}", 4), 4);
    assert_int_equal(mwire_rx_read_nb(&rx, sv[1]), 1);
    mwire_rx_take(&rx, &hdr, &hlen, &data, &dlen, NULL, NULL);
    assert_string_equal(hdr, "{}");
    free(hdr);
    assert_int_equal(mwire_rx_read_nb(&rx, sv[1]), 0);
    assert_int_equal(fcntl(sv[1], F_GETFL) & O_NONBLOCK, 0);
    close(sv[0]);
    assert_int_equal(mwire_rx_read_nb(&rx, sv[1]), -EPIPE);
    mwire_rx_clear(&rx);
    close(sv[1]);
}

static void test_split_feed(void **state)
{
    static const unsigned char frame[] = {0, 0, 0, 2, 0, 0, 0, 3, '{', '}', 'a', 'b', 'c'};
    struct mwire_rx rx;
    char *hdr, *data;
    size_t hlen, dlen, used;

    mwire_rx_init(&rx);
    /* one byte at a time: complete only at the last */
    for (size_t i = 0; i + 1 < sizeof(frame); i++) {
        assert_int_equal(mwire_rx_feed(&rx, frame + i, 1, &used), 0);
        assert_int_equal(used, 1);
    }
    assert_int_equal(mwire_rx_feed(&rx, frame + sizeof(frame) - 1, 1, &used), 1);
    mwire_rx_take(&rx, &hdr, &hlen, &data, &dlen, NULL, NULL);
    assert_string_equal(hdr, "{}");
    assert_string_equal(data, "abc");
    free(hdr);
    /* two frames in one buffer: the first is taken, the rest waits */
    {
        unsigned char two[2 * sizeof(frame)];

        memcpy(two, frame, sizeof(frame));
        memcpy(two + sizeof(frame), frame, sizeof(frame));
        assert_int_equal(mwire_rx_feed(&rx, two, sizeof(two), &used), 1);
        assert_int_equal(used, sizeof(frame));
        mwire_rx_take(&rx, &hdr, &hlen, &data, &dlen, NULL, NULL);
        free(hdr);
        assert_int_equal(mwire_rx_feed(&rx, two + used, sizeof(two) - used, &used), 1);
        mwire_rx_take(&rx, &hdr, &hlen, &data, &dlen, NULL, NULL);
        free(hdr);
    }
    mwire_rx_clear(&rx);
}

static void test_limits(void **state)
{
    static const unsigned char empty_hdr[] = {0, 0, 0, 0, 0, 0, 0, 0};
    static const unsigned char big_hdr[] = {0, 1, 0, 1, 0, 0, 0, 0};
    static const unsigned char big_data[] = {0, 0, 0, 2, 4, 0, 0, 1};
    struct mwire_rx rx;
    size_t used;
    int sv[2];

    mwire_rx_init(&rx);
    assert_int_equal(mwire_rx_feed(&rx, empty_hdr, sizeof(empty_hdr), &used), -EMSGSIZE);
    mwire_rx_clear(&rx);
    assert_int_equal(mwire_rx_feed(&rx, big_hdr, sizeof(big_hdr), &used), -EMSGSIZE);
    mwire_rx_clear(&rx);
    assert_int_equal(mwire_rx_feed(&rx, big_data, sizeof(big_data), &used), -EMSGSIZE);
    mwire_rx_clear(&rx);
    /* the sender refuses the same */
    pair(sv, true);
    assert_int_equal(mwire_send(sv[0], "{}", 0, NULL, 0, NULL, 0), -EMSGSIZE);
    assert_int_equal(mwire_send(sv[0], "{}", MWIRE_MAX_HDR + 1, NULL, 0, NULL, 0), -EMSGSIZE);
    assert_int_equal(mwire_send(sv[0], "{}", 2, "", MWIRE_MAX_DATA + 1u, NULL, 0), -EMSGSIZE);
    /* a close inside a frame is a truncated frame */
    assert_int_equal(write(sv[0], big_data, 5), 5);
    close(sv[0]);
    assert_int_equal(mwire_rx_read(&rx, sv[1]), -EPROTO);
    mwire_rx_clear(&rx);
    close(sv[1]);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* SO_SNDTIMEO is the time a whole frame may take: a peer that keeps reading a
 * little (each sendmsg moves some bytes, none times out) does not hold the
 * sender for longer. Without a timeout the same frame goes through. */
static void test_slow_reader_deadline(void **state)
{
    const size_t dlen = 2u << 20; /* 2 MiB at ~400 KiB/s: about 5 s */
    struct timeval tv = {.tv_usec = 200000};
    char *data = calloc(1, dlen);
    int sv[2], status;
    double t0, took;
    pid_t pid;

    (void)state;
    assert_non_null(data);
    pair(sv, false);
    assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (!pid) { /* the slow reader: 4 KiB every 10 ms, until the end */
        char buf[4096];

        close(sv[0]);
        while (read(sv[1], buf, sizeof(buf)) > 0)
            usleep(10000);
        _exit(0);
    }
    close(sv[1]);
    t0 = now_s();
    assert_int_equal(mwire_send(sv[0], "{}", 2, data, dlen, NULL, 0), -EAGAIN);
    took = now_s() - t0;
    assert_true(took >= 0.15);
    assert_true(took < 1.0);
    close(sv[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    /* no SO_SNDTIMEO: a blocking socket waits for all of it (a fast reader) */
    pair(sv, false);
    pid = fork();
    assert_true(pid >= 0);
    if (!pid) {
        char buf[65536];

        close(sv[0]);
        while (read(sv[1], buf, sizeof(buf)) > 0)
            ;
        _exit(0);
    }
    close(sv[1]);
    assert_int_equal(mwire_send(sv[0], "{}", 2, data, dlen, NULL, 0), 0);
    close(sv[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_with_fds),
        cmocka_unit_test(test_split_feed),
        cmocka_unit_test(test_read_nb_blocking_socket),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_slow_reader_deadline),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
