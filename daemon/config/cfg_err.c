/* Datastore errors: construction, the libyang → RFC 6241 mapping, list handling. */
#include "daemon/config/cfg_err.h"

#include <libyang/libyang.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/poison.h"

static const char *const tag_names[] = {
    [CFG_ERR_IN_USE] = "in-use",
    [CFG_ERR_INVALID_VALUE] = "invalid-value",
    [CFG_ERR_TOO_BIG] = "too-big",
    [CFG_ERR_MISSING_ATTRIBUTE] = "missing-attribute",
    [CFG_ERR_BAD_ATTRIBUTE] = "bad-attribute",
    [CFG_ERR_UNKNOWN_ATTRIBUTE] = "unknown-attribute",
    [CFG_ERR_MISSING_ELEMENT] = "missing-element",
    [CFG_ERR_BAD_ELEMENT] = "bad-element",
    [CFG_ERR_UNKNOWN_ELEMENT] = "unknown-element",
    [CFG_ERR_UNKNOWN_NAMESPACE] = "unknown-namespace",
    [CFG_ERR_ACCESS_DENIED] = "access-denied",
    [CFG_ERR_LOCK_DENIED] = "lock-denied",
    [CFG_ERR_RESOURCE_DENIED] = "resource-denied",
    [CFG_ERR_ROLLBACK_FAILED] = "rollback-failed",
    [CFG_ERR_DATA_EXISTS] = "data-exists",
    [CFG_ERR_DATA_MISSING] = "data-missing",
    [CFG_ERR_OPERATION_NOT_SUPPORTED] = "operation-not-supported",
    [CFG_ERR_OPERATION_FAILED] = "operation-failed",
    [CFG_ERR_MALFORMED_MESSAGE] = "malformed-message",
};

static const char *const type_names[] = {"transport", "rpc", "protocol", "application"};

/* Returned when even the error cannot be allocated; never freed. */
static struct cfg_err oom_err = {
    .tag = CFG_ERR_RESOURCE_DENIED,
    .type = CFG_ERRT_APPLICATION,
    .msg = (char *)"out of memory",
};

const char *cfg_err_tag_name(enum cfg_err_tag tag)
{
    return tag_names[tag];
}

const char *cfg_err_type_name(enum cfg_err_type type)
{
    return type_names[type];
}

int cfg_err_tag_parse(const char *name)
{
    for (size_t i = 0; name && i < sizeof(tag_names) / sizeof(tag_names[0]); i++) {
        if (tag_names[i] && !strcmp(tag_names[i], name))
            return (int)i;
    }
    return -1;
}

int cfg_err_type_parse(const char *name)
{
    for (size_t i = 0; name && i < sizeof(type_names) / sizeof(type_names[0]); i++) {
        if (type_names[i] && !strcmp(type_names[i], name))
            return (int)i;
    }
    return -1;
}

static void cfg_err_append(struct cfg_errs *errs, struct cfg_err *e)
{
    e->next = NULL;
    if (errs->tail)
        errs->tail->next = e;
    else
        errs->head = e;
    errs->tail = e;
    errs->count++;
}

static struct cfg_err *cfg_err_vadd(struct cfg_errs *errs, enum cfg_err_tag tag, enum cfg_err_type type,
                                    const char *path, const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

static struct cfg_err *cfg_err_vadd(struct cfg_errs *errs, enum cfg_err_tag tag, enum cfg_err_type type,
                                    const char *path, const char *fmt, va_list ap)
{
    struct cfg_err *e = calloc(1, sizeof(*e));

    if (!e || vasprintf(&e->msg, fmt, ap) < 0 || (path && !(e->path = strdup(path)))) {
        if (e) {
            free(e->path);
            free(e);
        }
        if (errs->tail != &oom_err)
            cfg_err_append(errs, &oom_err);
        return NULL;
    }
    e->tag = tag;
    e->type = type;
    cfg_err_append(errs, e);
    return e;
}

struct cfg_err *cfg_err_add(struct cfg_errs *errs, enum cfg_err_tag tag, enum cfg_err_type type,
                            const char *path, const char *fmt, ...)
{
    struct cfg_err *e;
    va_list ap;

    va_start(ap, fmt);
    e = cfg_err_vadd(errs, tag, type, path, fmt, ap);
    va_end(ap);
    return e;
}

/* libyang reports 'Schema location "/a:b/c", data location "/a:b[k='v']"' or
 * 'Data location "/a:b/c", line number 3.': keep the most precise path, the data
 * location when there is one; NULL when there is no path at all. */
static char *ly_path_clean(const char *p)
{
    const char *keys[] = {"ata location \"", "chema location \""};

    for (size_t i = 0; i < 2; i++) {
        const char *q = strstr(p, keys[i]), *end;

        if (q && (end = strchr(q + strlen(keys[i]), '"')))
            return strndup(q + strlen(keys[i]), (size_t)(end - q - strlen(keys[i])));
    }
    return p[0] == '/' ? strdup(p) : NULL;
}

/* The first double-quoted word of a libyang message ('Node "x" not found ...'). */
static char *first_quoted(const char *msg)
{
    const char *q = strchr(msg, '"'), *end = q ? strchr(q + 1, '"') : NULL;

    return end ? strndup(q + 1, (size_t)(end - q - 1)) : NULL;
}

static enum cfg_err_tag ly_item_tag(const struct ly_err_item *it)
{
    const char *app = it->apptag ? it->apptag : "";
    const char *msg = it->msg ? it->msg : "";

    switch (it->vecode) {
    case LYVE_SYNTAX_XML:
    case LYVE_SYNTAX_JSON:
    case LYVE_SYNTAX:
        return CFG_ERR_MALFORMED_MESSAGE;
    case LYVE_REFERENCE:
        if (strstr(msg, "not found"))
            return CFG_ERR_UNKNOWN_ELEMENT;
        if (strstr(msg, "namespace") || strstr(msg, "module"))
            return CFG_ERR_UNKNOWN_NAMESPACE;
        return CFG_ERR_INVALID_VALUE;
    case LYVE_DATA:
        /* RFC 7950 section 15 */
        if (!strcmp(app, "instance-required") || !strcmp(app, "missing-choice"))
            return CFG_ERR_DATA_MISSING;
        if (!strcmp(app, "must-violation") || !strcmp(app, "too-many-elements") ||
            !strcmp(app, "too-few-elements") || !strcmp(app, "data-not-unique"))
            return CFG_ERR_OPERATION_FAILED;
        if (strstr(msg, "Mandatory node"))
            return CFG_ERR_MISSING_ELEMENT;
        if (strstr(msg, "Duplicate instance"))
            return CFG_ERR_DATA_EXISTS;
        return CFG_ERR_INVALID_VALUE;
    default:
        return it->no == LY_EMEM ? CFG_ERR_RESOURCE_DENIED : CFG_ERR_INVALID_VALUE;
    }
}

void cfg_err_from_ly(struct cfg_errs *errs, const struct ly_ctx *ctx, const char *fallback)
{
    const struct ly_err_item *it;
    size_t before = errs->count;

    for (it = ly_err_first(ctx); it; it = it->next) {
        struct cfg_err *e;

        if (it->level != LY_LLERR)
            continue;
        e = cfg_err_add(errs, ly_item_tag(it), CFG_ERRT_APPLICATION, NULL, "%s", it->msg ? it->msg : "invalid data");
        if (e && it->path)
            e->path = ly_path_clean(it->path);
        if (e && it->msg && (e->tag == CFG_ERR_UNKNOWN_ELEMENT || e->tag == CFG_ERR_UNKNOWN_NAMESPACE))
            e->bad_element = first_quoted(it->msg);
        if (e && it->apptag)
            e->app_tag = strdup(it->apptag);
    }
    ly_err_clean((struct ly_ctx *)ctx, NULL);
    if (errs->count == before)
        cfg_err_add(errs, CFG_ERR_OPERATION_FAILED, CFG_ERRT_APPLICATION, NULL, "%s",
                    fallback ? fallback : "operation failed");
}

void cfg_errs_clear(struct cfg_errs *errs)
{
    struct cfg_err *e, *next;

    for (e = errs->head; e; e = next) {
        next = e->next;
        if (e == &oom_err)
            continue;
        free(e->app_tag);
        free(e->path);
        free(e->msg);
        free(e->bad_element);
        free(e->bad_attribute);
        free(e->bad_namespace);
        free(e);
    }
    errs->head = errs->tail = NULL;
    errs->count = 0;
}
