/* Operational alarms (after RFC 8632's alarm list): a condition of one resource
 * that an operator should act on, raised when it appears and cleared when it
 * goes. An alarm is keyed by its type and resource (a YANG instance path such as
 * /raven-vpn:pools/ipv4-pool[name='p1'], a URL or a program's name); raising one
 * already raised with the same severity and text changes nothing, a new severity
 * or text is a change. Active alarms stay listed; cleared ones are kept, the
 * one cleared longest ago dropped first, up to ALARM_KEEP_CLEARED. Every change (raised, changed,
 * cleared) is logged and handed to the listener, which ravend turns into the
 * alarm-notification and vpn-state/alarms. Like the log, the registry is one
 * per process, so that any part raises an alarm where it finds the condition
 * without a handle passed down; control thread only. */
#ifndef RAVEN_BASE_ALARM_H
#define RAVEN_BASE_ALARM_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

enum alarm_type {
    ALARM_RADIUS_SERVER_DEAD,
    ALARM_POOL_USAGE_HIGH,
    ALARM_POOL_EXHAUSTED,
    ALARM_CERT_EXPIRING,
    ALARM_CRL_UNOBTAINABLE,
    ALARM_OCSP_UNOBTAINABLE,
    ALARM_INTERFACE_DOWN,
    ALARM_XDP_DETACHED,
    ALARM_FRONTEND_RESTARTED,
    ALARM_COMMIT_REFUSED,
    ALARM_CLUSTER_ETCD_UNREACHABLE,
    ALARM_CLUSTER_PARTITION_CONFLICT,
    ALARM_TYPE_N
};

/* RFC 8632's severity-with-clear, without "cleared" (is_cleared says it) */
enum alarm_sev {
    ALARM_SEV_INDETERMINATE = 2,
    ALARM_SEV_WARNING,
    ALARM_SEV_MINOR,
    ALARM_SEV_MAJOR,
    ALARM_SEV_CRITICAL,
};

#define ALARM_MAX 256          /* alarms listed, active and cleared */
#define ALARM_KEEP_CLEARED 32  /* cleared alarms kept */
#define ALARM_RESOURCE_MAX 256 /* longer resources are cut */
#define ALARM_TEXT_MAX 320

struct alarm {
    enum alarm_type type;
    enum alarm_sev sev;
    bool cleared;
    char resource[ALARM_RESOURCE_MAX];
    char text[ALARM_TEXT_MAX];
    time_t created;      /* first raised while listed */
    time_t last_raised;  /* last raised (from cleared) */
    time_t last_changed; /* raised, changed or cleared */
    uint64_t seq;        /* the order of that change among all (finer than the clock) */
    uint64_t raised;     /* times raised while listed */
};

/* Raises (or changes) the alarm @type of @resource. */
void alarm_raise(enum alarm_type type, const char *resource, enum alarm_sev sev, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Clears it; nothing if it is not active. */
void alarm_clear(enum alarm_type type, const char *resource);
/* Clears every active alarm of @type whose resource starts with @prefix and
 * that @keep (NULL: none) does not want kept. */
void alarm_clear_unless(enum alarm_type type, const char *prefix, bool (*keep)(const char *resource, void *arg),
                        void *arg);
bool alarm_is_active(enum alarm_type type, const char *resource);

/* Each listed alarm, oldest first (@a borrowed for the call). */
void alarm_foreach(void (*fn)(const struct alarm *a, void *arg), void *arg);
/* Alarms of @type active now, and raised since the start. */
unsigned int alarm_active_count(enum alarm_type type);
uint64_t alarm_raised_total(enum alarm_type type);

/* Called after every change with the alarm as it now is (@a borrowed). */
void alarm_set_listener(void (*fn)(const struct alarm *a, void *arg), void *arg);
/* Forgets every alarm and the listener (tests, and the end of ravend). */
void alarm_reset(void);

/* raven-vpn's names: alarm-type and alarm-severity enums */
const char *alarm_type_name(enum alarm_type type);
const char *alarm_sev_name(enum alarm_sev sev);

#endif
