/* ravend's side of the operational alarms (daemon/base/alarm.h): each change
 * sent to the front ends as raven-vpn:alarm-notification, on the next turn of
 * the loop rather than from inside the part that found the condition (a front
 * end's exit, a refused prepare, a RADIUS timeout); vpn-state/alarms; and the
 * checks no part makes on its own: the dataplane's interfaces every second
 * (down or without carrier, Raven's XDP program detached by someone else) and
 * the certificates' ends every hour. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "daemon/base/alarm.h"
#include "daemon/base/log.h"
#include "daemon/ike/ike_engine.h"
#include "dataplane/dp.h"
#include "daemon/ravend/ravend.h"
#include "daemon/base/poison.h"

#define PENDING_MAX 64    /* changes waiting for the loop's next turn */
#define CERT_EVERY_S 3600 /* certificates checked again */
#define IF_RES "/raven-vpn:dataplane/interface[name='%s']"

static struct {
    struct ravend_apis *apis;
    struct dp *dp;
    struct ike_engine *ike;
    struct event *flush, *tick;
    struct alarm pending[PENDING_MAX];
    size_t npending;
    uint64_t lost, lost_turn; /* changes not sent: since the start, in this turn */
    unsigned int ticks;
} ra;

static void iso_time(time_t t, char *b, size_t len)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(b, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void on_change(const struct alarm *a, void *arg)
{
    (void)arg;
    if (ra.npending == PENDING_MAX) { /* counted, logged once for the turn at the flush */
        ra.lost++;
        ra.lost_turn++;
        return;
    }
    ra.pending[ra.npending++] = *a;
    event_active(ra.flush, EV_TIMEOUT, 0);
}

static void notify(const struct alarm *a)
{
    const struct lys_module *mod = ly_ctx_get_module_implemented(ra.apis->ctx, "raven-vpn");
    struct lyd_node *n = NULL;
    char t[32];

    if (!mod || lyd_new_inner(NULL, mod, "alarm-notification", 0, &n))
        return;
    iso_time(a->last_changed, t, sizeof(t));
    if (lyd_new_term(n, NULL, "type", alarm_type_name(a->type), 0, NULL) ||
        lyd_new_term(n, NULL, "resource", a->resource, 0, NULL) ||
        lyd_new_term(n, NULL, "is-cleared", a->cleared ? "true" : "false", 0, NULL) ||
        lyd_new_term(n, NULL, "perceived-severity", alarm_sev_name(a->sev), 0, NULL) ||
        lyd_new_term(n, NULL, "alarm-text", a->text, 0, NULL) || lyd_new_term(n, NULL, "time", t, 0, NULL)) {
        lyd_free_tree(n);
        return;
    }
    mgmt_notify(ra.apis->mgmt, n);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    for (size_t i = 0; i < ra.npending; i++)
        if (ra.apis->mgmt && mgmt_wants(ra.apis->mgmt, "alarm-notification"))
            notify(&ra.pending[i]);
    if (ra.npending && ra.apis->mgmt)
        mgmt_state_changed(ra.apis->mgmt);
    if (ra.lost_turn)
        log_warn("alarm", "%" PRIu64 " alarm changes at once beyond %d: not sent as notifications (%" PRIu64
                 " since the start; vpn-state/alarms has the alarms as they are)", ra.lost_turn, PENDING_MAX, ra.lost);
    ra.npending = 0;
    ra.lost_turn = 0;
}

struct if_names {
    char names[DP_MAX_IFACES][DP_IFNAMSIZ + sizeof(IF_RES)];
    size_t n;
};

static bool if_served(const char *resource, void *arg)
{
    const struct if_names *s = arg;

    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->names[i], resource))
            return true;
    return false;
}

/* interface-down and xdp-detached of each interface served */
static void check_interfaces(void)
{
    struct if_names served = {.n = 0};

    for (size_t i = 0; ra.dp && i < dp_if_count(ra.dp) && served.n < DP_MAX_IFACES; i++) {
        struct dp_if_stats st;
        struct dp_if_health h;
        char *res = served.names[served.n];

        if (dp_if_stats(ra.dp, i, &st))
            continue;
        snprintf(res, sizeof(served.names[0]), IF_RES, st.name);
        served.n++;
        if (dp_if_health(ra.dp, i, &h))
            continue; /* not known now (the kernel could not be asked): its alarms stay as they are */
        if (!h.exists)
            alarm_raise(ALARM_INTERFACE_DOWN, res, ALARM_SEV_CRITICAL,
                        "dataplane interface %s does not exist any more", st.name);
        else if (!h.up)
            alarm_raise(ALARM_INTERFACE_DOWN, res, ALARM_SEV_MAJOR, "dataplane interface %s is administratively down",
                        st.name);
        else if (!h.running)
            alarm_raise(ALARM_INTERFACE_DOWN, res, ALARM_SEV_MAJOR, "dataplane interface %s has no carrier",
                        st.name);
        else
            alarm_clear(ALARM_INTERFACE_DOWN, res);
        /* detached only while the interface exists and expects the
         * program; otherwise (attached again, the interface gone: then
         * interface-down says so, or no program expected) cleared */
        if (h.xdp_expected && h.exists && !h.xdp_attached)
            alarm_raise(ALARM_XDP_DETACHED, res, ALARM_SEV_CRITICAL,
                        "Raven's XDP program is no longer attached to %s: its ESP is not served; a commit that "
                        "changes the dataplane's interfaces, or a restart of ravend, attaches it again",
                        st.name);
        else
            alarm_clear(ALARM_XDP_DETACHED, res);
    }
    alarm_clear_unless(ALARM_INTERFACE_DOWN, "/raven-vpn:dataplane/interface[", if_served, &served);
    alarm_clear_unless(ALARM_XDP_DETACHED, "/raven-vpn:dataplane/interface[", if_served, &served);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    check_interfaces();
    if (++ra.ticks >= CERT_EVERY_S) {
        ra.ticks = 0;
        ike_engine_check_certs(ra.ike);
    }
}

int ravend_alarm_start(struct event_base *base, struct ravend_apis *apis, struct dp *dp, struct ike_engine *ike)
{
    ra.apis = apis;
    ra.dp = dp;
    ra.ike = ike;
    ra.flush = event_new(base, -1, 0, on_flush, NULL);
    ra.tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
    if (!ra.flush || !ra.tick || event_add(ra.tick, &(struct timeval){.tv_sec = 1}))
        return -1;
    alarm_set_listener(on_change, NULL);
    return 0;
}

void ravend_alarm_stop(void)
{
    alarm_reset();
    if (ra.flush)
        event_free(ra.flush);
    if (ra.tick)
        event_free(ra.tick);
    memset(&ra, 0, sizeof(ra));
}

static void add_alarm(const struct alarm *a, void *arg)
{
    struct lyd_node *n = NULL;
    char t[32], cnt[24];

    if (lyd_new_list(arg, NULL, "alarm", 0, &n, alarm_type_name(a->type), a->resource))
        return;
    lyd_new_term(n, NULL, "is-cleared", a->cleared ? "true" : "false", 0, NULL);
    lyd_new_term(n, NULL, "perceived-severity", alarm_sev_name(a->sev), 0, NULL);
    lyd_new_term(n, NULL, "alarm-text", a->text, 0, NULL);
    iso_time(a->created, t, sizeof(t));
    lyd_new_term(n, NULL, "time-created", t, 0, NULL);
    iso_time(a->last_raised, t, sizeof(t));
    lyd_new_term(n, NULL, "last-raised", t, 0, NULL);
    iso_time(a->last_changed, t, sizeof(t));
    lyd_new_term(n, NULL, "last-changed", t, 0, NULL);
    snprintf(cnt, sizeof(cnt), "%llu", (unsigned long long)a->raised);
    lyd_new_term(n, NULL, "raise-count", cnt, 0, NULL);
}

int ravend_alarm_state(struct lyd_node *st)
{
    struct lyd_node *top = NULL, *n;
    char v[24];

    if (lyd_new_inner(st, NULL, "alarms", 0, &top))
        return -1;
    alarm_foreach(add_alarm, top);
    for (int t = 0; t < ALARM_TYPE_N; t++) {
        if (lyd_new_list(top, NULL, "type", 0, &n, alarm_type_name(t)))
            return -1;
        snprintf(v, sizeof(v), "%u", alarm_active_count(t));
        lyd_new_term(n, NULL, "active", v, 0, NULL);
        snprintf(v, sizeof(v), "%llu", (unsigned long long)alarm_raised_total(t));
        lyd_new_term(n, NULL, "raised", v, 0, NULL);
    }
    return 0;
}
