/* The wire of the session records (daemon/ike/ike_persist.c): a growing
 * buffer of tagged fields (a 16-bit tag, a 16-bit length, the value,
 * little-endian), its reader, and the tables of plain fields of a structure,
 * written without their zero values and read strictly. Internal to the IKE
 * engine. */
#ifndef RAVEN_IKE_PWIRE_H
#define RAVEN_IKE_PWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PW_FIELD_HDR 4
#define PW_FIELD_MAX 0xffffu

enum fkind {
    F_BOOL,  /* bool: 1 byte, 0 or 1 */
    F_BOOLZ, /* a bool (as F_BOOL: every field is written only when not zero) */
    F_U8,
    F_U16,
    F_U32,
    F_U32Z,  /* a uint32_t (as F_U32): a session without the setting keeps a record
              * that a build without its tag reads too */
    F_I32,   /* int */
    F_U64,
    F_TIME,  /* time_t: 8 bytes */
    F_SIZE,  /* size_t: 8 bytes, at most max */
    F_ENUM,  /* an enum: 4 bytes, at most max */
    F_BYTES, /* a fixed array of size bytes */
    F_TEXT,  /* a fixed char array of size bytes: a NUL-terminated string */
    F_STR,   /* a char * (absent: NULL) */
};

struct fdesc {
    uint16_t tag;
    enum fkind kind;
    size_t off, size;
    uint64_t max; /* F_SIZE, F_ENUM, F_U8..F_U32: the largest value (0: the type's) */
};


struct wbuf {
    uint8_t *p;
    size_t len, cap;
    bool oom;
    bool too_long; /* and oom: a field's value was over PW_FIELD_MAX bytes */
};

struct rbuf {
    const uint8_t *p;
    size_t len, off;
};

/* ---- the writer (a failure sets oom: nothing more is written) ---- */
uint8_t *pw_room(struct wbuf *w, size_t n);
void pw_le(uint8_t *p, uint64_t v, size_t n);
void pw_field(struct wbuf *w, uint16_t tag, const void *v, size_t len);
void pw_uint(struct wbuf *w, uint16_t tag, uint64_t v, size_t n);
/* A field whose value is written afterwards: returns its offset for pw_close. */
size_t pw_open(struct wbuf *w, uint16_t tag);
void pw_close(struct wbuf *w, size_t at);

/* ---- the reader ---- */
uint64_t pw_rd_le(const uint8_t *p, size_t n);
/* The next field: false at the end (or on a truncated one: *bad set). */
bool pw_next(struct rbuf *r, uint16_t *tag, const uint8_t **v, size_t *len, bool *bad);

/* ---- tables of fields ---- */
/* Writes the fields of table @t whose value is not zero (trailing zero bytes of
 * F_BYTES left out too). */
void pw_fields(struct wbuf *w, const struct fdesc *t, size_t n, const void *obj);
/* Before a record's fields are read: every field of @t but F_STR set to zero
 * (what an absent field means). */
void pw_zero_fields(const struct fdesc *t, size_t n, void *obj);
const struct fdesc *pw_find(const struct fdesc *t, size_t n, uint16_t tag);
/* Reads field @d's value @v/@len into @obj; false when it does not fit or is
 * not in its one encoding (a zero written, trailing zero bytes). */
bool pw_rd_field(const struct fdesc *d, const uint8_t *v, size_t len, void *obj);

#endif
