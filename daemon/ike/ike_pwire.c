/* The wire of the session records (ike_pwire.h). */
#include "daemon/ike/ike_pwire.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/base/poison.h"

/* ---- the writer ---- */

uint8_t *pw_room(struct wbuf *w, size_t n)
{
    if (w->oom)
        return NULL;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        uint8_t *p;

        while (cap < w->len + n)
            cap *= 2;
        p = realloc(w->p, cap);
        if (!p) {
            w->oom = true;
            return NULL;
        }
        w->p = p;
        w->cap = cap;
    }
    w->len += n;
    return w->p + w->len - n;
}

void pw_le(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void pw_field(struct wbuf *w, uint16_t tag, const void *v, size_t len)
{
    uint8_t *p = len > PW_FIELD_MAX ? NULL : pw_room(w, PW_FIELD_HDR + len);

    if (!p) {
        w->too_long |= len > PW_FIELD_MAX && !w->oom;
        w->oom = true; /* no room, or a value too long for a field */
        return;
    }
    pw_le(p, tag, 2);
    pw_le(p + 2, len, 2);
    if (len)
        memcpy(p + PW_FIELD_HDR, v, len);
}

void pw_uint(struct wbuf *w, uint16_t tag, uint64_t v, size_t n)
{
    uint8_t b[8];

    pw_le(b, v, n);
    pw_field(w, tag, b, n);
}

/* A field whose value is written afterwards: returns its offset for pw_close. */
size_t pw_open(struct wbuf *w, uint16_t tag)
{
    pw_field(w, tag, NULL, 0);
    return w->len;
}

void pw_close(struct wbuf *w, size_t at)
{
    if (!w->oom && w->len - at > PW_FIELD_MAX)
        w->oom = w->too_long = true;
    if (!w->oom)
        pw_le(w->p + at - 2, w->len - at, 2);
}

/* ---- the reader ---- */


uint64_t pw_rd_le(const uint8_t *p, size_t n)
{
    uint64_t v = 0;

    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* The next field: false at the end (or on a truncated one: *bad set). */
bool pw_next(struct rbuf *r, uint16_t *tag, const uint8_t **v, size_t *len, bool *bad)
{
    if (r->off == r->len)
        return false;
    if (r->len - r->off < PW_FIELD_HDR) {
        *bad = true;
        return false;
    }
    *tag = (uint16_t)pw_rd_le(r->p + r->off, 2);
    *len = (size_t)pw_rd_le(r->p + r->off + 2, 2);
    if (*len > r->len - r->off - PW_FIELD_HDR) {
        *bad = true;
        return false;
    }
    *v = r->p + r->off + PW_FIELD_HDR;
    r->off += PW_FIELD_HDR + *len;
    return true;
}

static const size_t f_width[] = {[F_BOOL] = 1, [F_BOOLZ] = 1, [F_U8] = 1, [F_U16] = 2, [F_U32] = 4, [F_U32Z] = 4,
                                 [F_I32] = 4, [F_U64] = 8, [F_TIME] = 8, [F_SIZE] = 8, [F_ENUM] = 4};

/* The value of a numeric field, as written. */
static uint64_t f_value(const struct fdesc *d, const void *p)
{
    int e;

    switch (d->kind) {
    case F_BOOL:
    case F_BOOLZ:
        return *(const bool *)p;
    case F_U8:
        return *(const uint8_t *)p;
    case F_U16:
        return *(const uint16_t *)p;
    case F_U32:
    case F_U32Z:
        return *(const uint32_t *)p;
    case F_I32:
        return (uint32_t) * (const int *)p;
    case F_ENUM:
        memcpy(&e, p, sizeof(e)); /* every enum of these structs is int-sized */
        return (uint32_t)e;
    case F_U64:
        return *(const uint64_t *)p;
    case F_TIME:
        return (uint64_t) * (const time_t *)p;
    case F_SIZE:
        return *(const size_t *)p;
    default:
        return 0;
    }
}

/* Writes the fields of table @t that are not zero (the file comment). */
void pw_fields(struct wbuf *w, const struct fdesc *t, size_t n, const void *obj)
{
    const uint8_t *base = obj;

    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = base + t[i].off;
        size_t len = t[i].size;
        uint64_t v;

        switch (t[i].kind) {
        case F_BYTES:
            while (len && !p[len - 1])
                len--;
            if (len)
                pw_field(w, t[i].tag, p, len);
            break;
        case F_TEXT:
            len = strnlen((const char *)p, t[i].size - 1);
            if (len)
                pw_field(w, t[i].tag, p, len);
            break;
        case F_STR:
            if (*(char *const *)p)
                pw_field(w, t[i].tag, *(char *const *)p, strlen(*(char *const *)p));
            break;
        default:
            v = f_value(&t[i], p);
            if (v)
                pw_uint(w, t[i].tag, v, f_width[t[i].kind]);
            break;
        }
    }
}

/* Before a record's fields are read: every field of table @t a record may
 * leave out (zero) set to zero. */
void pw_zero_fields(const struct fdesc *t, size_t n, void *obj)
{
    for (size_t i = 0; i < n; i++) {
        if (t[i].kind != F_STR)
            memset((uint8_t *)obj + t[i].off, 0,
                   t[i].kind == F_BYTES || t[i].kind == F_TEXT ? t[i].size : f_width[t[i].kind]);
    }
}

const struct fdesc *pw_find(const struct fdesc *t, size_t n, uint16_t tag)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].tag == tag)
            return &t[i];
    return NULL;
}

/* Reads field @d's value @v/@len into @obj; false when it does not fit. */
bool pw_rd_field(const struct fdesc *d, const uint8_t *v, size_t len, void *obj)
{
    uint8_t *p = (uint8_t *)obj + d->off;
    uint64_t x;

    /* one encoding per record: zero is left out, and so are trailing zeros */
    if (d->kind == F_BYTES) {
        if (len == 0 || len > d->size || !v[len - 1])
            return false;
        memcpy(p, v, len);
        memset(p + len, 0, d->size - len);
        return true;
    }
    if (d->kind == F_TEXT) {
        if (len == 0 || len >= d->size || memchr(v, 0, len))
            return false;
        memcpy(p, v, len);
        p[len] = 0;
        return true;
    }
    if (d->kind == F_STR) {
        char *s;

        if (len > 4096 || memchr(v, 0, len) || *(char **)p || !(s = malloc(len + 1)))
            return false;
        memcpy(s, v, len);
        s[len] = 0;
        *(char **)p = s;
        return true;
    }
    if (len != f_width[d->kind])
        return false;
    x = pw_rd_le(v, len);
    if (d->max && x > d->max)
        return false;
    if (!x) /* written only when not 0 */
        return false;
    switch (d->kind) {
    case F_BOOL:
    case F_BOOLZ:
        if (x > 1)
            return false;
        *(bool *)p = x != 0;
        break;
    case F_U8:
        *(uint8_t *)p = (uint8_t)x;
        break;
    case F_U16:
        *(uint16_t *)p = (uint16_t)x;
        break;
    case F_U32:
    case F_U32Z:
        *(uint32_t *)p = (uint32_t)x;
        break;
    case F_I32: {
        int i = (int)(int32_t)(uint32_t)x;

        if (d->max && i < 0)
            return false;
        *(int *)p = i;
        break;
    }
    case F_ENUM: {
        int e = (int)x;

        memcpy(p, &e, sizeof(e));
        break;
    }
    case F_U64:
        *(uint64_t *)p = x;
        break;
    case F_TIME: /* a time of this era (so that deadlines computed from it cannot overflow) */
        if (x >= (uint64_t)1 << 40)
            return false;
        *(time_t *)p = (time_t)(int64_t)x;
        break;
    case F_SIZE:
        *(size_t *)p = (size_t)x;
        break;
    default:
        return false;
    }
    return true;
}
