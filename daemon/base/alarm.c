/* The process's alarm list (alarm.h): a small array in raise order, searched
 * linearly (it holds at most ALARM_MAX entries and changes only when a
 * condition does). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "daemon/base/alarm.h"
#include "daemon/base/log.h"
#include "daemon/base/poison.h"

static struct {
    struct alarm list[ALARM_MAX];
    size_t n, ncleared;
    uint64_t raised[ALARM_TYPE_N];
    uint64_t dropped;
    uint64_t seq; /* of the last change (struct alarm.seq) */
    void (*fn)(const struct alarm *a, void *arg);
    void *arg;
} reg;

static const char *const type_names[ALARM_TYPE_N] = {
    [ALARM_RADIUS_SERVER_DEAD] = "radius-server-dead",
    [ALARM_POOL_USAGE_HIGH] = "pool-usage-high",
    [ALARM_POOL_EXHAUSTED] = "pool-exhausted",
    [ALARM_CERT_EXPIRING] = "certificate-expiring",
    [ALARM_CRL_UNOBTAINABLE] = "crl-unobtainable",
    [ALARM_OCSP_UNOBTAINABLE] = "ocsp-unobtainable",
    [ALARM_INTERFACE_DOWN] = "interface-down",
    [ALARM_XDP_DETACHED] = "xdp-detached",
    [ALARM_FRONTEND_RESTARTED] = "front-end-restarted",
    [ALARM_COMMIT_REFUSED] = "commit-refused",
    [ALARM_CLUSTER_ETCD_UNREACHABLE] = "cluster-etcd-unreachable",
    [ALARM_CLUSTER_PARTITION_CONFLICT] = "cluster-partition-conflict",
};

const char *alarm_type_name(enum alarm_type type)
{
    return (unsigned)type < ALARM_TYPE_N ? type_names[type] : "unknown";
}

const char *alarm_sev_name(enum alarm_sev sev)
{
    switch (sev) {
    case ALARM_SEV_WARNING:
        return "warning";
    case ALARM_SEV_MINOR:
        return "minor";
    case ALARM_SEV_MAJOR:
        return "major";
    case ALARM_SEV_CRITICAL:
        return "critical";
    default:
        return "indeterminate";
    }
}

static struct alarm *find(enum alarm_type type, const char *resource)
{
    for (size_t i = 0; i < reg.n; i++)
        if (reg.list[i].type == type && !strncmp(reg.list[i].resource, resource, ALARM_RESOURCE_MAX - 1))
            return &reg.list[i];
    return NULL;
}

static void drop(size_t i)
{
    if (reg.list[i].cleared)
        reg.ncleared--;
    memmove(&reg.list[i], &reg.list[i + 1], (reg.n - i - 1) * sizeof(reg.list[0]));
    reg.n--;
}

/* The cleared alarm changed least recently (cleared first) goes, so that the
 * most recently cleared are kept (false: none is cleared). */
static bool drop_oldest_cleared(void)
{
    size_t victim = reg.n;

    for (size_t i = 0; i < reg.n; i++)
        if (reg.list[i].cleared && (victim == reg.n || reg.list[i].seq < reg.list[victim].seq))
            victim = i;
    if (victim == reg.n)
        return false;
    drop(victim);
    return true;
}

static void changed(const struct alarm *a)
{
    if (reg.fn)
        reg.fn(a, reg.arg);
}

void alarm_raise(enum alarm_type type, const char *resource, enum alarm_sev sev, const char *fmt, ...)
{
    char text[ALARM_TEXT_MAX];
    struct alarm *a;
    time_t now = time(NULL);
    va_list ap;

    if ((unsigned)type >= ALARM_TYPE_N || !resource)
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    a = find(type, resource);
    if (a && !a->cleared && a->sev == sev && !strcmp(a->text, text))
        return;
    if (!a) {
        if (reg.n == ALARM_MAX && !drop_oldest_cleared()) {
            if (!reg.dropped++)
                log_err("alarm", "%u alarms are active: %s of %s not listed", ALARM_MAX, type_names[type], resource);
            return;
        }
        a = &reg.list[reg.n++];
        memset(a, 0, sizeof(*a));
        a->type = type;
        snprintf(a->resource, sizeof(a->resource), "%s", resource);
        a->created = now;
        a->cleared = true;
        reg.ncleared++;
    }
    if (a->cleared) {
        a->cleared = false;
        reg.ncleared--;
        a->last_raised = now;
        a->raised++;
        reg.raised[type]++;
    }
    a->sev = sev;
    memcpy(a->text, text, sizeof(text));
    a->last_changed = now;
    a->seq = ++reg.seq;
    log_warn("alarm", "raised %s (%s) of %s: %s", type_names[type], alarm_sev_name(sev), a->resource, a->text);
    changed(a);
}

static void clear_one(struct alarm *a)
{
    struct alarm copy;

    a->cleared = true;
    a->last_changed = time(NULL);
    a->seq = ++reg.seq;
    reg.ncleared++;
    log_info("alarm", "cleared %s of %s", type_names[a->type], a->resource);
    copy = *a; /* the list may move below */
    while (reg.ncleared > ALARM_KEEP_CLEARED && drop_oldest_cleared())
        ;
    changed(&copy);
}

void alarm_clear(enum alarm_type type, const char *resource)
{
    struct alarm *a = resource ? find(type, resource) : NULL;

    if (a && !a->cleared)
        clear_one(a);
}

void alarm_clear_unless(enum alarm_type type, const char *prefix, bool (*keep)(const char *resource, void *arg),
                        void *arg)
{
    size_t plen = prefix ? strlen(prefix) : 0;

    /* clear_one may drop older cleared entries: start again after each */
    for (bool again = true; again;) {
        again = false;
        for (size_t i = 0; i < reg.n; i++) {
            struct alarm *a = &reg.list[i];

            if (a->type != type || a->cleared || strncmp(a->resource, prefix ? prefix : "", plen) ||
                (keep && keep(a->resource, arg)))
                continue;
            clear_one(a);
            again = true;
            break;
        }
    }
}

bool alarm_is_active(enum alarm_type type, const char *resource)
{
    const struct alarm *a = resource ? find(type, resource) : NULL;

    return a && !a->cleared;
}

void alarm_foreach(void (*fn)(const struct alarm *a, void *arg), void *arg)
{
    for (size_t i = 0; i < reg.n; i++)
        fn(&reg.list[i], arg);
}

unsigned int alarm_active_count(enum alarm_type type)
{
    unsigned int n = 0;

    for (size_t i = 0; i < reg.n; i++)
        n += reg.list[i].type == type && !reg.list[i].cleared;
    return n;
}

uint64_t alarm_raised_total(enum alarm_type type)
{
    return (unsigned)type < ALARM_TYPE_N ? reg.raised[type] : 0;
}

void alarm_set_listener(void (*fn)(const struct alarm *a, void *arg), void *arg)
{
    reg.fn = fn;
    reg.arg = arg;
}

void alarm_reset(void)
{
    memset(&reg, 0, sizeof(reg));
}
