/* raven-netconfd's endpoints (api/netconf/nc_endpt.c): ravend's listening socket
 * swapped in for the one libnetconf2 binds on a stand-in port, kept when a `listen`
 * event repeats it, closed when the endpoint goes; and the host key's PEM as
 * libnetconf2 takes it (nc_auth.c). Loopback only; no ravend. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/netconf/nc_impl.h"

struct fx {
    struct ly_ctx *ctx;
    struct nc_api *api;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    f->ctx = cfg_yang_ctx(RAVEN_YANG_DIR, RAVEN_IETF_YANG_DIR);
    assert_non_null(f->ctx);
    f->api = nc_api_new(f->ctx);
    assert_non_null(f->api);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    nc_api_free(f->api);
    ly_ctx_destroy(f->ctx);
    free(f);
    return 0;
}

/* A listening socket on 127.0.0.1 and a free port, as ravend would pass it. */
static int listener(uint16_t *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 8), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* Listening TCP sockets of this process on 127.0.0.1: on @port, and on others. */
static void count_listening(uint16_t port, int *on_port, int *others)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;

    *on_port = *others = 0;
    assert_non_null(d);
    while ((e = readdir(d))) {
        int fd = atoi(e->d_name), on = 0;
        struct sockaddr_in a;
        socklen_t len = sizeof(a), ol = sizeof(on);
        struct stat st;

        if (e->d_name[0] == '.' || fd == dirfd(d) || fstat(fd, &st) || !S_ISSOCK(st.st_mode))
            continue;
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &ol) || !on)
            continue;
        if (getsockname(fd, (struct sockaddr *)&a, &len) || a.sin_family != AF_INET)
            continue;
        if (ntohs(a.sin_port) == port)
            (*on_port)++;
        else if (a.sin_addr.s_addr == htonl(INADDR_LOOPBACK))
            (*others)++;
    }
    closedir(d);
}

static void send_listen(struct nc_api *api, bool enabled, const char *name, uint16_t port, int fd)
{
    struct mc_listen l = {.enabled = enabled};

    if (name) {
        l.eps = calloc(1, sizeof(*l.eps));
        l.eps[0].name = strdup(name);
        l.eps[0].address = strdup("127.0.0.1");
        l.eps[0].port = port;
        l.eps[0].fd = fd;
        l.neps = 1;
    }
    nc_api_listen(api, &l);
}

static void test_adopt_keep_remove(void **state)
{
    struct fx *f = *state;
    uint16_t port;
    int fd = listener(&port), on, others;

    send_listen(f->api, true, "default", port, fd);
    assert_int_equal(nc_server_endpt_count(), 1);
    /* libnetconf2's descriptor is ravend's socket now; its stand-in is gone */
    count_listening(port, &on, &others);
    assert_int_equal(on, 1);
    assert_int_equal(others, 0);
    assert_int_equal(f->api->neps, 1);
    assert_true(f->api->eps[0].fd >= 0);

    /* the same endpoint again, with the socket passed anew */
    fd = dup(f->api->eps[0].fd);
    send_listen(f->api, true, "default", port, fd);
    assert_int_equal(nc_server_endpt_count(), 1);
    count_listening(port, &on, &others);
    assert_int_equal(on, 1);
    assert_int_equal(others, 0);

    /* disabled: nothing listens any more */
    send_listen(f->api, false, NULL, 0, -1);
    assert_int_equal(nc_server_endpt_count(), 0);
    count_listening(port, &on, &others);
    assert_int_equal(on, 0);
    assert_int_equal(others, 0);
}

static void test_endpoint_without_socket(void **state)
{
    struct fx *f = *state;

    send_listen(f->api, true, "default", 830, -1);
    assert_int_equal(nc_server_endpt_count(), 0);
    assert_int_equal(f->api->neps, 0);
}

static void test_hostkey_pem(void **state)
{
    struct fx *f = *state;

    assert_int_equal(nc_auth_set_hostkey(f->api, "-----BEGIN PRIVATE KEY-----\nQUJD\nREVG\n-----END PRIVATE KEY-----\n"),
                     0);
    assert_string_equal(f->api->hostkey_b64, "QUJD\nREVG");
    assert_int_equal(f->api->hostkey_type, NC_SSH_KEY_UNKNOWN);
    assert_int_equal(nc_auth_set_hostkey(f->api, "-----BEGIN RSA PRIVATE KEY-----\r\nQUJD\r\n-----END RSA PRIVATE KEY-----"),
                     0);
    assert_string_equal(f->api->hostkey_b64, "QUJD");
    assert_int_equal(f->api->hostkey_type, NC_SSH_KEY_RSA);
    /* refused, and the previous key stays */
    assert_int_equal(nc_auth_set_hostkey(f->api, "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nQUJD\n"
                                                 "-----END RSA PRIVATE KEY-----\n"),
                     -EINVAL);
    assert_int_equal(nc_auth_set_hostkey(f->api, "-----BEGIN OPENSSH PRIVATE KEY-----\nQUJD\n"
                                                 "-----END OPENSSH PRIVATE KEY-----\n"),
                     -EINVAL);
    assert_int_equal(nc_auth_set_hostkey(f->api, "not a key"), -EINVAL);
    assert_string_equal(f->api->hostkey_b64, "QUJD");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_adopt_keep_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_endpoint_without_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostkey_pem, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
