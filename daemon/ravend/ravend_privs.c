/* ravend's privileges: right after start, before any thread exists (capabilities
 * are per thread, and threads inherit them), ravend keeps only the capabilities
 * its parts use, drops every other one from its permitted, effective, inheritable
 * and bounding sets, and sets no-new-privs so that nothing it could ever execute
 * gains more.
 *
 * What each kept capability is for:
 *   CAP_NET_ADMIN         XDP attach/detach, the dataplane's netlink, session routes
 *                         (rtnetlink protocol 245), SO_BINDTODEVICE on VRFs
 *   CAP_NET_RAW           AF_XDP sockets, the dataplane's raw hand-off to the kernel,
 *                         SO_BINDTODEVICE
 *   CAP_NET_BIND_SERVICE  IKE on UDP 500/4500, NETCONF on 830, DHCP relay on 67
 *   CAP_BPF, CAP_PERFMON  loading the XDP program and creating its maps
 *   CAP_SYS_ADMIN         the kernel asks it for looking a BPF program up by id
 *                         (BPF_PROG_GET_FD_BY_ID), which telling Raven's own XDP
 *                         program on an interface from another one needs
 *   CAP_IPC_LOCK          AF_XDP UMEMs past RLIMIT_MEMLOCK
 * and, permitted (and in the bounding set) but never effective, for the front ends
 * (daemon/mgmt/mgmt_super.c raises each only for the moment it is used):
 *   CAP_SETUID, CAP_SETGID  in the forked child, to become the front-end user
 *   CAP_SETPCAP             in the forked child, to empty its bounding set
 *   CAP_KILL                around kill(), to stop a front end that hangs (it runs
 *                           as another user)
 * A capability ravend does not hold at start (an unprivileged test run, a
 * systemd unit that already bounded them) is simply not kept. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/prctl.h>

#include <cap-ng.h>

#include "daemon/base/log.h"
#include "daemon/ravend/ravend.h"
#include "daemon/base/poison.h"

static const int kept[] = {CAP_NET_ADMIN, CAP_NET_RAW,  CAP_NET_BIND_SERVICE, CAP_BPF,
                           CAP_PERFMON,   CAP_SYS_ADMIN, CAP_IPC_LOCK};
static const int kept_for_front_ends[] = {CAP_SETUID, CAP_SETGID, CAP_SETPCAP, CAP_KILL};
#define NKEPT (sizeof(kept) / sizeof(kept[0]))
#define NFRONT (sizeof(kept_for_front_ends) / sizeof(kept_for_front_ends[0]))

int ravend_privs_drop(void)
{
    bool have[NKEPT], have_fe[NFRONT];
    unsigned int bset;
    capng_select_t select;
    int rc;

    if (capng_get_caps_process()) {
        log_err("ravend", "cannot read the process's capabilities");
        return -EPERM;
    }
    /* only what the process has: asking for more would fail the apply; and the
     * bounding set only when it may be changed (CAP_SETPCAP: not so for an
     * unprivileged run, which has nothing to drop there anyway) */
    for (size_t i = 0; i < NKEPT; i++)
        have[i] = capng_have_capability(CAPNG_PERMITTED, kept[i]) == 1;
    for (size_t i = 0; i < NFRONT; i++)
        have_fe[i] = capng_have_capability(CAPNG_PERMITTED, kept_for_front_ends[i]) == 1;
    select = capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP) == 1 ? CAPNG_SELECT_BOTH : CAPNG_SELECT_CAPS;
    bset = select == CAPNG_SELECT_BOTH ? CAPNG_BOUNDING_SET : 0;
    capng_clear(select);
    for (size_t i = 0; i < NKEPT; i++) {
        if (have[i] && capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | bset, kept[i])) {
            log_err("ravend", "cannot keep capability %s", capng_capability_to_name(kept[i]));
            return -EINVAL;
        }
    }
    for (size_t i = 0; i < NFRONT; i++) {
        if (have_fe[i] && capng_update(CAPNG_ADD, CAPNG_PERMITTED | bset, kept_for_front_ends[i])) {
            log_err("ravend", "cannot keep capability %s", capng_capability_to_name(kept_for_front_ends[i]));
            return -EINVAL;
        }
    }
    rc = capng_apply(select);
    if (rc) {
        log_err("ravend", "cannot drop capabilities (libcap-ng error %d)", rc);
        return -EPERM;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
        rc = -errno;
        log_err("ravend", "cannot set no-new-privs: %s", strerror(errno));
        return rc;
    }
    return 0;
}
