/* Unit tests of the RADIUS client's dead servers (daemon/aaa/radius_client.c)
 * and their radius-server-dead alarm, on loopback: a server is in several
 * groups and on two ports, each instance marked dead on its own; the alarm of
 * the server stays while any instance is dead, whichever others answer, and
 * goes with the last one (answered again, or removed). The servers are two
 * UDP sockets made here: one answers every Accounting-Request with Raven's
 * own codec, the other never answers. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/aaa/radius_client.h"
#include "daemon/base/alarm.h"

#define SECRET "s3cret"
#define RES "/raven-vpn:aaa/radius-server[name='r1']"

static struct {
    struct event_base *base;
    int answering, silent; /* the two servers' sockets */
    struct sockaddr_storage answering_addr, silent_addr;
    bool answer;           /* the answering server answers */
    int done, last_err;
} T;

static void on_server(evutil_socket_t fd, short what, void *arg)
{
    uint8_t buf[4096];
    struct sockaddr_storage from;
    socklen_t fl = sizeof(from);
    ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
    struct rad_view v;
    struct rad_pkt p;

    (void)what;
    (void)arg;
    if (n <= 0 || !T.answer || rad_parse(buf, (size_t)n, &v) || v.code != RAD_ACCOUNTING_REQUEST)
        return;
    rad_init(&p, RAD_ACCOUNTING_RESPONSE, v.id, NULL);
    assert_int_not_equal(rad_finish_reply(&p, v.buf + 4, SECRET, strlen(SECRET)), 0);
    sendto(fd, p.buf, p.len, 0, (struct sockaddr *)&from, fl);
}

static int udp(struct sockaddr_storage *addr)
{
    struct sockaddr_in *in = (struct sockaddr_in *)addr;
    socklen_t al = sizeof(*in);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    memset(addr, 0, sizeof(*addr));
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)in, al), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)in, &al), 0);
    return fd;
}

static void build(struct rad_pkt *p, uint8_t id, const uint8_t auth[16], const char *secret, void *arg)
{
    (void)secret;
    (void)arg;
    rad_init(p, RAD_ACCOUNTING_REQUEST, id, auth);
    rad_add_u32(p, RAD_ACCT_STATUS_TYPE, 1);
}

static void done(const struct rad_view *v, int err, const char *server, const uint8_t req_auth[16],
                 const char *secret, void *arg)
{
    (void)v;
    (void)server;
    (void)req_auth;
    (void)secret;
    (void)arg;
    T.done++;
    T.last_err = err;
    event_base_loopbreak(T.base);
}

/* One request to @group, answered or failed. */
static int ask(struct rad_client *c, const char *group)
{
    int before = T.done;

    assert_non_null(rad_client_send(c, group, build, done, NULL));
    event_base_loopexit(T.base, &(struct timeval){.tv_sec = 10});
    event_base_dispatch(T.base);
    assert_int_equal(T.done, before + 1);
    return T.last_err;
}

static struct rad_server_conf r1(const struct sockaddr_storage *addr)
{
    return (struct rad_server_conf){
        .name = "r1", .addr = *addr, .secret = SECRET, .timeout_ms = 50, .retransmits = 0, .deadtime_s = 30};
}

static void test_dead_per_server(void **st)
{
    struct rad_client *c;
    struct event *ev;
    struct rad_server_conf alive, silent;
    struct rad_server_stats stats;

    (void)st;
    alarm_reset();
    memset(&T, 0, sizeof(T));
    assert_non_null(T.base = event_base_new());
    T.answering = udp(&T.answering_addr);
    T.silent = udp(&T.silent_addr);
    T.answer = true;
    assert_non_null(ev = event_new(T.base, T.answering, EV_READ | EV_PERSIST, on_server, NULL));
    event_add(ev, NULL);
    assert_non_null(c = rad_client_new(T.base));
    /* r1 answers on the port of group "auth" and not on that of "acct"
     * (an accounting port that went dead) */
    alive = r1(&T.answering_addr);
    silent = r1(&T.silent_addr);
    assert_int_equal(rad_client_set_group(c, "auth", &alive, 1), 0);
    assert_int_equal(rad_client_set_group(c, "acct", &silent, 1), 0);
    assert_int_equal(rad_client_set_group(c, "other", &alive, 1), 0);
    assert_int_equal(ask(c, "auth"), 0);
    assert_false(alarm_is_active(ALARM_RADIUS_SERVER_DEAD, RES));
    assert_int_equal(ask(c, "acct"), -ETIMEDOUT);
    assert_true(alarm_is_active(ALARM_RADIUS_SERVER_DEAD, RES));
    /* another instance answering does not clear it: "acct" is still dead */
    assert_int_equal(ask(c, "auth"), 0);
    assert_true(alarm_is_active(ALARM_RADIUS_SERVER_DEAD, RES));
    assert_true(rad_client_stats(c, "acct", "r1", &stats) && stats.dead);
    assert_true(rad_client_stats(c, "auth", "r1", &stats) && !stats.dead);
    /* a second instance dies (the server stops answering): still one alarm */
    T.answer = false;
    assert_int_equal(ask(c, "other"), -ETIMEDOUT);
    assert_true(alarm_is_active(ALARM_RADIUS_SERVER_DEAD, RES));
    assert_int_equal(alarm_raised_total(ALARM_RADIUS_SERVER_DEAD), 1);
    /* it answers again there (every server of the group is dead: tried all
     * the same): "acct" is still dead */
    T.answer = true;
    assert_int_equal(ask(c, "other"), 0);
    assert_true(rad_client_stats(c, "other", "r1", &stats) && !stats.dead);
    assert_true(alarm_is_active(ALARM_RADIUS_SERVER_DEAD, RES));
    /* "other" dies again, then goes: "acct" is still dead */
    T.answer = false;
    assert_int_equal(ask(c, "other"), -ETIMEDOUT);
    T.answer = true;
    assert_int_equal(rad_client_set_group(c, "other", NULL, 0), 0);
    assert_true(alarm_is_active(ALARM_RADIUS_SERVER_DEAD, RES));
    /* the last dead instance goes: cleared */
    assert_int_equal(rad_client_set_group(c, "acct", NULL, 0), 0);
    assert_false(alarm_is_active(ALARM_RADIUS_SERVER_DEAD, RES));
    assert_int_equal(alarm_raised_total(ALARM_RADIUS_SERVER_DEAD), 1);
    /* and a death after that raises it again */
    assert_int_equal(rad_client_set_group(c, "acct", &silent, 1), 0);
    assert_int_equal(ask(c, "acct"), -ETIMEDOUT);
    assert_true(alarm_is_active(ALARM_RADIUS_SERVER_DEAD, RES));
    assert_int_equal(alarm_raised_total(ALARM_RADIUS_SERVER_DEAD), 2);
    rad_client_free(c);
    assert_false(alarm_is_active(ALARM_RADIUS_SERVER_DEAD, RES));
    event_free(ev);
    close(T.answering);
    close(T.silent);
    event_base_free(T.base);
    alarm_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dead_per_server),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
