/* Datastore errors as RFC 8040 §7 "ietf-restconf:errors", with the HTTP status that
 * goes with their error-tag. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/rest/rest_impl.h"
#include "daemon/base/poison.h"

const char *rest_ctype(enum rest_fmt fmt)
{
    return fmt == REST_XML ? "application/yang-data+xml" : "application/yang-data+json";
}

static unsigned int tag_status(enum cfg_err_tag tag)
{
    switch (tag) {
    case CFG_ERR_IN_USE:
    case CFG_ERR_LOCK_DENIED:
    case CFG_ERR_RESOURCE_DENIED:
    case CFG_ERR_DATA_EXISTS:
    case CFG_ERR_DATA_MISSING:
        return 409;
    case CFG_ERR_ACCESS_DENIED:
        return 403;
    case CFG_ERR_TOO_BIG:
        return 413;
    case CFG_ERR_OPERATION_NOT_SUPPORTED:
        return 501;
    case CFG_ERR_OPERATION_FAILED:
    case CFG_ERR_ROLLBACK_FAILED:
        return 500;
    default:
        return 400;
    }
}

unsigned int rest_status_of(const struct cfg_errs *errs, int rc)
{
    /* the entity tag or date checked before the edit no longer held when it ran */
    if (rc == -ESTALE)
        return 412;
    /* a subsystem refusing the change (prepare) is the request's fault, not ours */
    if (errs->head && errs->head->tag == CFG_ERR_OPERATION_FAILED && errs->head->type == CFG_ERRT_APPLICATION &&
        rc != -ENOMEM && rc != -EIO)
        return 400;
    if (errs->head)
        return tag_status(errs->head->tag);
    return rc == -ENOMEM ? 500 : 400;
}

static void xml_esc(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

static char *errs_xml(const struct cfg_errs *errs)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (!f)
        return NULL;
    fputs("<errors xmlns=\"urn:ietf:params:xml:ns:yang:ietf-restconf\">", f);
    for (const struct cfg_err *e = errs->head; e; e = e->next) {
        fprintf(f, "<error><error-type>%s</error-type><error-tag>%s</error-tag>", cfg_err_type_name(e->type),
                cfg_err_tag_name(e->tag));
        if (e->app_tag) {
            fputs("<error-app-tag>", f);
            xml_esc(f, e->app_tag);
            fputs("</error-app-tag>", f);
        }
        if (e->path) {
            fputs("<error-path>", f);
            xml_esc(f, e->path);
            fputs("</error-path>", f);
        }
        if (e->msg) {
            fputs("<error-message>", f);
            xml_esc(f, e->msg);
            fputs("</error-message>", f);
        }
        if (e->bad_element || e->bad_attribute || e->lock_sid) {
            fputs("<error-info>", f);
            if (e->bad_element) {
                fputs("<bad-element>", f);
                xml_esc(f, e->bad_element);
                fputs("</bad-element>", f);
            }
            if (e->bad_attribute) {
                fputs("<bad-attribute>", f);
                xml_esc(f, e->bad_attribute);
                fputs("</bad-attribute>", f);
            }
            if (e->lock_sid)
                fprintf(f, "<session-id>%u</session-id>", e->lock_sid);
            fputs("</error-info>", f);
        }
        fputs("</error>", f);
    }
    fputs("</errors>\n", f);
    fclose(f);
    return buf;
}

static char *errs_json(const struct cfg_errs *errs)
{
    json_t *list = json_array(), *root;
    char *s;

    for (const struct cfg_err *e = errs->head; e; e = e->next) {
        json_t *o = json_object(), *info = NULL;

        json_object_set_new(o, "error-type", json_string(cfg_err_type_name(e->type)));
        json_object_set_new(o, "error-tag", json_string(cfg_err_tag_name(e->tag)));
        if (e->app_tag)
            json_object_set_new(o, "error-app-tag", json_string(e->app_tag));
        if (e->path)
            json_object_set_new(o, "error-path", json_string(e->path));
        if (e->msg)
            json_object_set_new(o, "error-message", json_string(e->msg));
        if (e->bad_element || e->bad_attribute || e->lock_sid) {
            info = json_object();
            if (e->bad_element)
                json_object_set_new(info, "bad-element", json_string(e->bad_element));
            if (e->bad_attribute)
                json_object_set_new(info, "bad-attribute", json_string(e->bad_attribute));
            if (e->lock_sid)
                json_object_set_new(info, "session-id", json_integer(e->lock_sid));
            json_object_set_new(o, "error-info", info);
        }
        json_array_append_new(list, o);
    }
    root = json_pack("{s:{s:o}}", "ietf-restconf:errors", "error", list);
    s = root ? json_dumps(root, JSON_INDENT(2)) : NULL;
    json_decref(root);
    if (s) {
        /* a final newline, like libyang's output */
        size_t n = strlen(s);
        char *t = realloc(s, n + 2);

        if (t) {
            t[n] = '\n';
            t[n + 1] = '\0';
            s = t;
        }
    }
    return s;
}

void rest_reply_errs(struct rest_reply *rep, enum rest_fmt fmt, const struct cfg_errs *errs, unsigned int status)
{
    free(rep->body);
    rep->body = fmt == REST_XML ? errs_xml(errs) : errs_json(errs);
    rep->len = rep->body ? strlen(rep->body) : 0;
    rep->ctype = rest_ctype(fmt);
    rep->status = status;
}

void rest_reply_err(struct rest_reply *rep, enum rest_fmt fmt, unsigned int status, enum cfg_err_tag tag,
                    const char *path, const char *fmt_msg, ...)
{
    struct cfg_errs errs = {0};
    struct cfg_err *e;
    char *msg = NULL;
    va_list ap;

    va_start(ap, fmt_msg);
    if (vasprintf(&msg, fmt_msg, ap) < 0)
        msg = NULL;
    va_end(ap);
    e = cfg_err_add(&errs, tag, tag == CFG_ERR_OPERATION_FAILED ? CFG_ERRT_APPLICATION : CFG_ERRT_PROTOCOL, path,
                    "%s", msg ? msg : "error");
    (void)e;
    free(msg);
    rest_reply_errs(rep, fmt, &errs, status);
    cfg_errs_clear(&errs);
}
