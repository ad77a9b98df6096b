/* Logging for every part of Raven: log_<level>(SUBSYS, fmt, ...) with printf checking.
 * The level is global and may be changed at run time; lines go to stderr with a
 * timestamp, level and subsystem. Never pass secrets to these functions. */
#ifndef RAVEN_BASE_LOG_H
#define RAVEN_BASE_LOG_H

#include <stdbool.h>

enum log_level {
    LOG_LVL_ERR = 0,
    LOG_LVL_WARN,
    LOG_LVL_INFO,
    LOG_LVL_DEBUG,
};

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "error", "warning", "info" or "debug"; returns false for anything else. */
bool log_level_parse(const char *name, enum log_level *level);
void log_msg(enum log_level level, const char *subsys, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_err(sub, ...) log_msg(LOG_LVL_ERR, sub, __VA_ARGS__)
#define log_warn(sub, ...) log_msg(LOG_LVL_WARN, sub, __VA_ARGS__)
#define log_info(sub, ...) log_msg(LOG_LVL_INFO, sub, __VA_ARGS__)
#define log_debug(sub, ...)                                                                        \
    do {                                                                                           \
        if (log_get_level() >= LOG_LVL_DEBUG)                                                      \
            log_msg(LOG_LVL_DEBUG, sub, __VA_ARGS__);                                              \
    } while (0)

#endif
