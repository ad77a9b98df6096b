/* Errors of the datastore, in RFC 6241 terms (tag, type, app-tag, path, message).
 * Every front end renders these in its own format (NETCONF rpc-error, RESTCONF
 * ietf-restconf:errors). */
#ifndef RAVEN_CONFIG_CFG_ERR_H
#define RAVEN_CONFIG_CFG_ERR_H

#include <stddef.h>

struct ly_ctx;

enum cfg_err_tag {
    CFG_ERR_IN_USE = 0,
    CFG_ERR_INVALID_VALUE,
    CFG_ERR_TOO_BIG,
    CFG_ERR_MISSING_ATTRIBUTE,
    CFG_ERR_BAD_ATTRIBUTE,
    CFG_ERR_UNKNOWN_ATTRIBUTE,
    CFG_ERR_MISSING_ELEMENT,
    CFG_ERR_BAD_ELEMENT,
    CFG_ERR_UNKNOWN_ELEMENT,
    CFG_ERR_UNKNOWN_NAMESPACE,
    CFG_ERR_ACCESS_DENIED,
    CFG_ERR_LOCK_DENIED,
    CFG_ERR_RESOURCE_DENIED,
    CFG_ERR_ROLLBACK_FAILED,
    CFG_ERR_DATA_EXISTS,
    CFG_ERR_DATA_MISSING,
    CFG_ERR_OPERATION_NOT_SUPPORTED,
    CFG_ERR_OPERATION_FAILED,
    CFG_ERR_MALFORMED_MESSAGE,
};

enum cfg_err_type {
    CFG_ERRT_TRANSPORT = 0,
    CFG_ERRT_RPC,
    CFG_ERRT_PROTOCOL,
    CFG_ERRT_APPLICATION,
};

struct cfg_err {
    enum cfg_err_tag tag;
    enum cfg_err_type type;
    char *app_tag; /* may be NULL */
    char *path;    /* may be NULL */
    char *msg;
    char *bad_element; /* may be NULL */
    char *bad_attribute; /* may be NULL */
    char *bad_namespace; /* may be NULL */
    unsigned int lock_sid; /* lock-denied: the holder */
    struct cfg_err *next;
};

struct cfg_errs {
    struct cfg_err *head, *tail;
    size_t count;
};

const char *cfg_err_tag_name(enum cfg_err_tag tag);
const char *cfg_err_type_name(enum cfg_err_type type);
/* The inverse of the two above: the enum value of @name, or -1. */
int cfg_err_tag_parse(const char *name);
int cfg_err_type_parse(const char *name);
/* Appends an error; @path may be NULL. Returns the new error (NULL only on ENOMEM,
 * in which case the list keeps a preallocated out-of-memory error). */
struct cfg_err *cfg_err_add(struct cfg_errs *errs, enum cfg_err_tag tag, enum cfg_err_type type,
                            const char *path, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Appends the errors libyang recorded in @ctx (validation, parsing), mapping its
 * validation codes to RFC 6241 tags, and clears them from the context. If libyang
 * recorded nothing, appends @fallback as operation-failed. */
void cfg_err_from_ly(struct cfg_errs *errs, const struct ly_ctx *ctx, const char *fallback);
void cfg_errs_clear(struct cfg_errs *errs);

#endif
