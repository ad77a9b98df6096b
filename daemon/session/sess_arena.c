/* The session arena (sess_arena.h): the file, its validation, the record write
 * protocol and the slot allocators. The file format (version 2) is described
 * once, in daemon/session/README.md; the structures below are its definition. */
#include "daemon/session/sess_arena.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/base/log.h"
#include "daemon/session/sess_arena_fs.h"
#include "dataplane/dp.h"

#include "daemon/base/poison.h"

#define SUBSYS "session"

#define ARENA_MAGIC "RVNARENA"
#define ARENA_PAGE 4096u
#define ARENA_HDR_SIZE ARENA_PAGE
#define ARENA_OWNER_MAX 255u
/* Bounds on what a file may claim (and what a caller may ask for). */
#define ARENA_REC_LIMIT (1u << 20)
#define ARENA_SA_LIMIT (1u << 22)
#define ARENA_SLOT_MIN 256u
#define ARENA_SLOT_MAX (128u * 1024u)
#define ARENA_SLOT_ALIGN 128u
/* What a new arena gets: 32 KiB record slots, two halves of 16 KiB (and the
 * small place in the first page, for records of up to 1984 bytes). */
#define ARENA_SLOT_DEFAULT (32u * 1024u)
#define ARENA_REC_DEFAULT 131072u

/* The header, at offset 0 of the file, in host byte order (the file never
 * leaves the machine). Bytes 0..323 are fixed at creation and covered by crc;
 * generation, opens and last_id change in place, each by one aligned 8-byte
 * store. The rest of the header's page is reserved (zero, not checked). */
struct arena_hdr {
    char magic[8];          /* "RVNARENA" */
    uint32_t version;       /* SESS_ARENA_VERSION */
    uint32_t header_size;   /* 4096 */
    uint32_t rec_slot_size; /* bytes per record slot: two halves */
    uint32_t sa_slot_size;  /* sizeof(struct dp_sa_live) */
    uint32_t max_records;
    uint32_t max_sas;
    uint64_t rec_offset;    /* == header_size */
    uint64_t sa_offset;     /* rec_offset + max_records * rec_slot_size, up to a page */
    uint64_t file_size;     /* sa_offset + max_sas * sa_slot_size */
    int64_t created;        /* Unix time */
    uint32_t owner_len;     /* <= 255 */
    char owner[256];        /* owner_len bytes, then zeros */
    uint32_t crc;           /* CRC32C of bytes 0..323 */
    _Atomic uint64_t generation;
    _Atomic uint64_t opens;
    _Atomic uint64_t last_id; /* the highest session id handed out */
};
_Static_assert(offsetof(struct arena_hdr, rec_offset) == 32, "arena header layout");
_Static_assert(offsetof(struct arena_hdr, created) == 56, "arena header layout");
_Static_assert(offsetof(struct arena_hdr, owner) == 68, "arena header layout");
_Static_assert(offsetof(struct arena_hdr, crc) == 324, "arena header layout");
_Static_assert(offsetof(struct arena_hdr, generation) == 328, "arena header layout");
_Static_assert(offsetof(struct arena_hdr, opens) == 336, "arena header layout");
_Static_assert(offsetof(struct arena_hdr, last_id) == 344, "arena header layout");
_Static_assert(sizeof(struct arena_hdr) <= ARENA_HDR_SIZE, "arena header layout");

/* The header of one place of a record slot; the record's bytes follow it. A
 * place holds a record when seq != 0, len fits and crc (CRC32C of the slot
 * index as 4 bytes, seq as 8, len as 4, then the record) matches. A slot has
 * three places: 0 and 1 at its start and middle, 2 (small records) at
 * arena_small_off(), covered by a long record in place 0 (README "Record
 * region"). */
struct arena_half {
    _Atomic uint64_t seq;
    uint32_t len;
    uint32_t crc;
    uint8_t reserved[48];
};
_Static_assert(sizeof(struct arena_half) == 64, "record half header");
_Static_assert(sizeof(struct dp_sa_live) % 64 == 0, "SA slots stay 64-byte aligned");

/* What the process knows of each record slot and SA slot (rebuilt at open). */
enum { REC_FREE, REC_EMPTY, REC_P0, REC_P1, REC_P2 };
#define REC_PLACES 3u
enum { SA_FREE, SA_USED, SA_UNCLAIMED };

struct arena_layout {
    uint32_t nrec, nsa, slot;
    uint64_t rec_off, sa_off, size;
};

struct sess_arena {
    char *path;
    int fd;          /* -1: a buffer being checked (sess_arena_check) */
    bool ramfs;      /* holes found with mincore, not SEEK_DATA */
    uint8_t *base;
    size_t size;
    struct arena_layout lay;
    size_t rec_max;
    uint8_t *rec_state;
    uint32_t *rec_free; /* stack of free slots, lowest on top */
    uint32_t rec_nfree, rec_used;
    uint32_t *rec_rsv;  /* per place (3 per slot): bytes this process reserved with
                         * fallocate; a free slot keeps its pages for the next
                         * session, so that steady churn costs no system call */
    uint8_t *sa_state;
    uint32_t *sa_free;
    uint32_t sa_nfree, sa_used;
    uint8_t *sa_rsv;    /* per SA slot: its pages reserved by this process */
    bool adopting;      /* SA slots not claimed yet count as in use */
    bool locked_warned;
};

/* ---- CRC32C (Castagnoli), slicing by 8: a restart checks every record ---- */

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        crc_table[0][i] = c;
    }
    for (int t = 1; t < 8; t++)
        for (int i = 0; i < 256; i++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

static uint32_t crc_update(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;

    pthread_once(&crc_once, crc_init);
    for (; len >= 8; p += 8, len -= 8) {
        crc ^= (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        crc = crc_table[7][crc & 0xff] ^ crc_table[6][(crc >> 8) & 0xff] ^ crc_table[5][(crc >> 16) & 0xff] ^
              crc_table[4][crc >> 24] ^ crc_table[3][p[4]] ^ crc_table[2][p[5]] ^ crc_table[1][p[6]] ^
              crc_table[0][p[7]];
    }
    for (; len; p++, len--)
        crc = crc_table[0][(crc ^ *p) & 0xff] ^ (crc >> 8);
    return crc;
}

static uint32_t arena_hdr_crc(const struct arena_hdr *h)
{
    return ~crc_update(~0u, h, offsetof(struct arena_hdr, crc));
}

static uint32_t arena_rec_crc(uint32_t slot, uint64_t seq, uint32_t len, const void *rec)
{
    uint8_t pre[16];

    memcpy(pre, &slot, 4);
    memcpy(pre + 4, &seq, 8);
    memcpy(pre + 12, &len, 4);
    return ~crc_update(crc_update(~0u, pre, sizeof(pre)), rec, len);
}

/* ---- layout and header validation (shared by open and check) ---- */

static uint64_t round_up(uint64_t v, uint64_t to)
{
    return (v + to - 1) / to * to;
}

/* The layout of a file of these counts; false (with @why) when out of bounds.
 * Counts are bounded before any product, so nothing overflows. */
static bool arena_layout_make(uint32_t nrec, uint32_t nsa, uint32_t slot, struct arena_layout *l, char *why,
                              size_t whylen)
{
    if (nrec == 0 || nrec > ARENA_REC_LIMIT) {
        snprintf(why, whylen, "record count %u outside 1..%u", nrec, ARENA_REC_LIMIT);
        return false;
    }
    if (nsa == 0 || nsa > ARENA_SA_LIMIT) {
        snprintf(why, whylen, "SA slot count %u outside 1..%u", nsa, ARENA_SA_LIMIT);
        return false;
    }
    if (slot < ARENA_SLOT_MIN || slot > ARENA_SLOT_MAX || slot % ARENA_SLOT_ALIGN) {
        snprintf(why, whylen, "record slot size %u not a multiple of %u in %u..%u", slot, ARENA_SLOT_ALIGN,
                 ARENA_SLOT_MIN, ARENA_SLOT_MAX);
        return false;
    }
    l->nrec = nrec;
    l->nsa = nsa;
    l->slot = slot;
    l->rec_off = ARENA_HDR_SIZE;
    l->sa_off = round_up(l->rec_off + (uint64_t)nrec * slot, ARENA_PAGE);
    l->size = l->sa_off + (uint64_t)nsa * sizeof(struct dp_sa_live);
    return true;
}

/* Checks a header (ARENA_HDR_SIZE bytes, 8-byte aligned) against the size of its
 * file and the expected owner; fills @l. False with @why saying what is wrong. */
static bool arena_hdr_check(const struct arena_hdr *h, uint64_t file_len, const char *owner, struct arena_layout *l,
                            char *why, size_t whylen)
{
    size_t olen = strlen(owner);

    if (memcmp(h->magic, ARENA_MAGIC, sizeof(h->magic)) != 0) {
        snprintf(why, whylen, "not a session arena (bad magic)");
        return false;
    }
    if (h->version != SESS_ARENA_VERSION) {
        snprintf(why, whylen, "arena version %u, this ravend reads version %u", h->version, SESS_ARENA_VERSION);
        return false;
    }
    if (arena_hdr_crc(h) != h->crc) {
        snprintf(why, whylen, "header checksum mismatch");
        return false;
    }
    if (h->owner_len != olen || memcmp(h->owner, owner, olen) != 0) {
        char shown[ARENA_OWNER_MAX + 1];
        size_t n = h->owner_len > ARENA_OWNER_MAX ? 0 : h->owner_len;

        for (size_t i = 0; i < n; i++) /* the file's bytes, made safe to log */
            shown[i] = h->owner[i] >= 0x20 && h->owner[i] < 0x7f ? h->owner[i] : '?';
        shown[n] = '\0';
        snprintf(why, whylen, "arena of another owner (\"%s\", not \"%s\")", shown, owner);
        return false;
    }
    for (size_t i = olen; i < sizeof(h->owner); i++) {
        if (h->owner[i] != 0) {
            snprintf(why, whylen, "owner field not zero-padded");
            return false;
        }
    }
    if (h->header_size != ARENA_HDR_SIZE || h->sa_slot_size != sizeof(struct dp_sa_live)) {
        snprintf(why, whylen, "header size %u / SA slot size %u, expected %u / %zu", h->header_size,
                 h->sa_slot_size, ARENA_HDR_SIZE, sizeof(struct dp_sa_live));
        return false;
    }
    if (!arena_layout_make(h->max_records, h->max_sas, h->rec_slot_size, l, why, whylen))
        return false;
    if (h->rec_offset != l->rec_off || h->sa_offset != l->sa_off || h->file_size != l->size) {
        snprintf(why, whylen, "region offsets inconsistent with the counts");
        return false;
    }
    if (file_len != l->size) {
        snprintf(why, whylen, "file is %llu bytes, its header says %llu (truncated?)", (unsigned long long)file_len,
                 (unsigned long long)l->size);
        return false;
    }
    return true;
}

/* ---- holes: the file is sparse; reading a hole through the mapping would
 * allocate it (tmpfs), so scans skip them ---- */

/* The first offset >= @off whose page may hold data (a->size if none). */
static size_t arena_data_next(const struct sess_arena *a, size_t off)
{
    size_t pg, end;
    unsigned char vec[256];

    if (off >= a->size)
        return a->size;
    if (a->fd < 0)
        return off;
    if (!a->ramfs) {
        off_t d = lseek(a->fd, (off_t)off, SEEK_DATA);
        if (d < 0)
            return errno == ENXIO ? a->size : off;
        return (size_t)d;
    }
    /* ramfs: never swapped, so a page not in core was never written */
    for (pg = off / ARENA_PAGE * ARENA_PAGE; pg < a->size; pg = end) {
        end = pg + sizeof(vec) * (size_t)ARENA_PAGE;
        if (end > a->size)
            end = a->size;
        if (mincore(a->base + pg, end - pg, vec) < 0)
            return off > pg ? off : pg;
        for (size_t i = 0; pg + i * ARENA_PAGE < end; i++) {
            if (vec[i] & 1)
                return off > pg + i * ARENA_PAGE ? off : pg + i * ARENA_PAGE;
        }
    }
    return a->size;
}

static bool arena_present(const struct sess_arena *a, size_t off)
{
    size_t pg = off / ARENA_PAGE * ARENA_PAGE;

    return arena_data_next(a, pg) < pg + ARENA_PAGE;
}

/* Zeroes [off, off + len): whole pages are punched out (their memory returned),
 * the rest cleared only where it holds data. */
static void arena_zero(struct sess_arena *a, size_t off, size_t len)
{
    size_t end = off + len, lo = round_up(off, ARENA_PAGE), hi = end / ARENA_PAGE * ARENA_PAGE;
    bool punched = false;

    if (a->fd >= 0 && hi > lo)
        punched = fallocate(a->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)lo, (off_t)(hi - lo)) == 0;
    for (size_t p = off; p < end;) {
        size_t d = arena_data_next(a, p), pe;

        if (d >= end)
            break;
        if (punched && d >= lo && d < hi) {
            p = hi;
            continue;
        }
        pe = d / ARENA_PAGE * ARENA_PAGE + ARENA_PAGE;
        if (pe > end)
            pe = end;
        memset(a->base + d, 0, pe - d);
        p = pe;
    }
}

/* ---- record slots ---- */

/* Place 2's offset in a slot: in the slot's first page, before place 1. */
static size_t arena_small_off(const struct sess_arena *a)
{
    return a->lay.slot / 4 < ARENA_PAGE / 2 ? a->lay.slot / 4 : ARENA_PAGE / 2;
}

/* The longest record place @p holds. */
static size_t arena_place_max(const struct sess_arena *a, unsigned p)
{
    return p == 2 ? arena_small_off(a) - sizeof(struct arena_half) : a->rec_max;
}

static size_t arena_half_off(const struct sess_arena *a, uint32_t slot, unsigned p)
{
    size_t in = p == 2 ? arena_small_off(a) : p * (size_t)(a->lay.slot / 2);

    return a->lay.rec_off + (size_t)slot * a->lay.slot + in;
}

static struct arena_half *arena_half(const struct sess_arena *a, uint32_t slot, unsigned p)
{
    return (struct arena_half *)(a->base + arena_half_off(a, slot, p));
}

/* The sequence number a place claims (0: empty, or a hole). */
static uint64_t arena_half_seq(const struct sess_arena *a, uint32_t slot, unsigned p)
{
    if (!arena_present(a, arena_half_off(a, slot, p)))
        return 0;
    return atomic_load_explicit(&arena_half(a, slot, p)->seq, memory_order_acquire);
}

static bool arena_half_valid(const struct sess_arena *a, uint32_t slot, unsigned p, uint64_t seq)
{
    const struct arena_half *hh = arena_half(a, slot, p);

    /* seq 0 first: a place in a hole is not read (reading would allocate it) */
    return seq != 0 && hh->len <= arena_place_max(a, p) &&
           arena_rec_crc(slot, seq, hh->len, hh + 1) == hh->crc;
}

/* Whether the record in place 0 reaches place 2 (which then holds nothing). */
static bool arena_p0_covers(const struct sess_arena *a, uint32_t slot)
{
    return arena_half(a, slot, 0)->len > arena_place_max(a, 2);
}

enum slot_state { SLOT_EMPTY, SLOT_VALID, SLOT_BAD };

/* The state of a slot as found in the file: SLOT_VALID with the place holding
 * its record, the valid one of the highest sequence number (the lowest place on
 * a tie); place 2 counts only when place 0's len (even invalid) does not cover it. */
static enum slot_state arena_slot_read(const struct sess_arena *a, uint32_t slot, unsigned *cur)
{
    uint64_t seq[REC_PLACES], best = 0;
    bool valid[REC_PLACES], any = false;

    for (unsigned p = 0; p < REC_PLACES; p++) {
        seq[p] = arena_half_seq(a, slot, p);
        valid[p] = arena_half_valid(a, slot, p, seq[p]);
        any |= seq[p] != 0;
    }
    if (arena_present(a, arena_half_off(a, slot, 0)) && arena_p0_covers(a, slot))
        valid[2] = false;
    for (unsigned p = 0; p < REC_PLACES; p++) {
        if (valid[p] && seq[p] > best) {
            best = seq[p];
            *cur = p;
        }
    }
    if (best)
        return SLOT_VALID;
    return any ? SLOT_BAD : SLOT_EMPTY;
}

/* Walks the record slots that hold data: a valid record's slot is allocated,
 * a slot whose halves hold something but no valid record is dropped (zeroed,
 * logged) when @wipe. Counts both. */
static void arena_scan(struct sess_arena *a, bool wipe, uint32_t *nvalid, uint32_t *nbad)
{
    uint32_t s = 0;
    unsigned cur;

    *nvalid = *nbad = 0;
    while (s < a->lay.nrec) {
        size_t off = a->lay.rec_off + (size_t)s * a->lay.slot;
        size_t d = arena_data_next(a, off);

        if (d >= a->lay.rec_off + (size_t)a->lay.nrec * a->lay.slot)
            break;
        if (d >= off + a->lay.slot) {
            s = (uint32_t)((d - a->lay.rec_off) / a->lay.slot);
            continue;
        }
        switch (arena_slot_read(a, s, &cur)) {
        case SLOT_VALID:
            if (a->rec_state)
                a->rec_state[s] = (uint8_t)(REC_P0 + cur);
            ++*nvalid;
            break;
        case SLOT_BAD:
            ++*nbad;
            if (wipe) {
                log_warn(SUBSYS, "session arena %s: record slot %u holds no valid record (checksum), dropped",
                         a->path, s);
                arena_zero(a, off, a->lay.slot);
            }
            break;
        case SLOT_EMPTY:
            break;
        }
        s++;
    }
}

/* ---- in-memory allocators ---- */

/* Builds the free stacks from the states (lowest free index on top). */
static void arena_rec_stack(struct sess_arena *a)
{
    a->rec_nfree = a->rec_used = 0;
    for (uint32_t i = a->lay.nrec; i-- > 0;) {
        if (a->rec_state[i] == REC_FREE)
            a->rec_free[a->rec_nfree++] = i;
        else
            a->rec_used++;
    }
}

static void arena_sa_stack(struct sess_arena *a)
{
    a->sa_nfree = a->sa_used = 0;
    for (uint32_t i = a->lay.nsa; i-- > 0;) {
        if (a->sa_state[i] == SA_FREE)
            a->sa_free[a->sa_nfree++] = i;
        else
            a->sa_used++;
    }
}

static int arena_index(struct sess_arena *a, bool adopt)
{
    uint32_t nvalid, nbad;

    a->rec_max = a->lay.slot / 2 - sizeof(struct arena_half);
    a->rec_state = calloc(a->lay.nrec, 1);
    a->rec_free = calloc(a->lay.nrec, sizeof(*a->rec_free));
    a->sa_state = calloc(a->lay.nsa, 1);
    a->sa_free = calloc(a->lay.nsa, sizeof(*a->sa_free));
    a->rec_rsv = calloc((size_t)a->lay.nrec * REC_PLACES, sizeof(*a->rec_rsv));
    a->sa_rsv = calloc(a->lay.nsa, 1);
    if (!a->rec_state || !a->rec_free || !a->sa_state || !a->sa_free || !a->rec_rsv || !a->sa_rsv)
        return -ENOMEM;
    if (adopt) {
        arena_scan(a, true, &nvalid, &nbad);
        memset(a->sa_state, SA_UNCLAIMED, a->lay.nsa);
        a->adopting = true;
    }
    arena_rec_stack(a);
    arena_sa_stack(a);
    return 0;
}

/* ---- the file ---- */

static void arena_free(struct sess_arena *a)
{
    if (!a)
        return;
    if (a->base && a->fd >= 0)
        munmap(a->base, a->size);
    if (a->fd >= 0)
        close(a->fd);
    free(a->rec_state);
    free(a->rec_free);
    free(a->sa_state);
    free(a->sa_free);
    free(a->rec_rsv);
    free(a->sa_rsv);
    free(a->path);
    free(a);
}

static int arena_map(struct sess_arena *a, size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, a->fd, 0);

    if (p == MAP_FAILED)
        return -errno;
    a->base = p;
    a->size = size;
    /* keys stay out of core dumps; pages are touched one at a time, not 2 MiB */
    madvise(p, size, MADV_DONTDUMP);
    madvise(p, size, MADV_NOHUGEPAGE);
    /* and out of swap while this process runs: each page locked as it is
     * touched (ravend keeps CAP_IPC_LOCK) */
    if (mlock2(p, size, MLOCK_ONFAULT) < 0 && !a->locked_warned) {
        log_warn(SUBSYS, "session arena %s: its pages cannot be locked in memory (%s): with swap they may be "
                 "written to it", a->path, strerror(errno));
        a->locked_warned = true;
    }
    return 0;
}

/* Validates the open file: 0 (mapped), -EINVAL with @why (not valid), or
 * another -errno (a system error). */
static int arena_load(struct sess_arena *a, const char *owner, char *why, size_t whylen)
{
    _Alignas(64) uint8_t hdr[ARENA_HDR_SIZE];
    struct stat st;
    ssize_t n;

    if (fstat(a->fd, &st) < 0)
        return -errno;
    if (st.st_size < (off_t)ARENA_HDR_SIZE) {
        snprintf(why, whylen, "file is %lld bytes, shorter than its header (truncated)", (long long)st.st_size);
        return -EINVAL;
    }
    n = pread(a->fd, hdr, sizeof(hdr), 0);
    if (n < 0)
        return -errno;
    if ((size_t)n != sizeof(hdr)) {
        snprintf(why, whylen, "short read of the header");
        return -EINVAL;
    }
    if (!arena_hdr_check((const struct arena_hdr *)hdr, (uint64_t)st.st_size, owner, &a->lay, why, whylen))
        return -EINVAL;
    return arena_map(a, a->lay.size);
}

/* Sizes a new, empty file and writes its header (the checksum last). */
static int arena_create(struct sess_arena *a, const struct sess_arena_opts *o, char *why, size_t whylen)
{
    uint32_t nrec = o->max_records ? o->max_records : ARENA_REC_DEFAULT;
    uint32_t nsa = o->max_sas ? o->max_sas : (nrec <= ARENA_SA_LIMIT / 4 ? 4 * nrec : ARENA_SA_LIMIT);
    struct arena_hdr *h;
    int rc;

    if (!arena_layout_make(nrec, nsa, ARENA_SLOT_DEFAULT, &a->lay, why, whylen))
        return -EINVAL;
    if (ftruncate(a->fd, 0) < 0 || ftruncate(a->fd, (off_t)a->lay.size) < 0 ||
        (fallocate(a->fd, 0, 0, ARENA_HDR_SIZE) < 0 && errno != EOPNOTSUPP)) {
        rc = -errno;
        snprintf(why, whylen, "cannot size %s: %s", a->path, strerror(-rc));
        return rc;
    }
    rc = arena_map(a, a->lay.size);
    if (rc < 0) {
        snprintf(why, whylen, "cannot map %s: %s", a->path, strerror(-rc));
        return rc;
    }
    h = (struct arena_hdr *)a->base;
    memcpy(h->magic, ARENA_MAGIC, sizeof(h->magic));
    h->version = SESS_ARENA_VERSION;
    h->header_size = ARENA_HDR_SIZE;
    h->rec_slot_size = a->lay.slot;
    h->sa_slot_size = sizeof(struct dp_sa_live);
    h->max_records = nrec;
    h->max_sas = nsa;
    h->rec_offset = a->lay.rec_off;
    h->sa_offset = a->lay.sa_off;
    h->file_size = a->lay.size;
    h->created = (int64_t)time(NULL);
    h->owner_len = (uint32_t)strlen(o->owner);
    memcpy(h->owner, o->owner, h->owner_len);
    atomic_thread_fence(memory_order_release);
    h->crc = arena_hdr_crc(h);
    return 0;
}

/* Opens, validates or makes the file; sets *found. */
static int arena_setup(struct sess_arena *a, const struct sess_arena_opts *o, enum sess_arena_found *found,
                       char *why, size_t whylen)
{
    char reason[512];
    bool made;
    int rc;

    *found = SESS_ARENA_NEW;
    for (int round = 0; round < 2; round++) {
        struct stat st;

        rc = sess_arena_fs_lock(o->path, &a->fd, &made, why, whylen);
        if (rc < 0)
            return rc;
        if (fstat(a->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
            snprintf(why, whylen, "%s is not a regular file", o->path);
            return -EINVAL;
        }
        if (st.st_uid != geteuid()) {
            snprintf(why, whylen, "%s belongs to uid %u, not to us", o->path, (unsigned)st.st_uid);
            return -EACCES;
        }
        if ((st.st_mode & 077) && fchmod(a->fd, 0600) < 0) {
            rc = -errno;
            snprintf(why, whylen, "cannot make %s private (mode 0600): %s", o->path, strerror(-rc));
            return rc;
        }
        if (made || st.st_size == 0)
            return arena_create(a, o, why, whylen);
        rc = arena_load(a, o->owner, reason, sizeof(reason));
        if (rc == 0) {
            *found = SESS_ARENA_ADOPTED;
            return 0;
        }
        if (rc != -EINVAL) {
            snprintf(why, whylen, "cannot read %s: %s", o->path, strerror(-rc));
            return rc;
        }
        sess_arena_fs_set_aside(o->path, reason);
        snprintf(why, whylen, "%s", reason);
        *found = SESS_ARENA_SET_ASIDE;
        close(a->fd);
        a->fd = -1;
    }
    snprintf(why, whylen, "%s: set aside, and its replacement was not new", o->path);
    return -EAGAIN;
}

int sess_arena_open(const struct sess_arena_opts *opts, struct sess_arena **out, enum sess_arena_found *found,
                    char *why, size_t whylen)
{
    struct sess_arena *a = NULL;
    enum sess_arena_found f = SESS_ARENA_NEW;
    char tmp[16];
    int rc = -EINVAL;

    if (!why || whylen == 0) {
        why = tmp;
        whylen = sizeof(tmp);
    }
    why[0] = '\0';
    *out = NULL;
    if (!opts || !opts->path || !opts->path[0] || strlen(opts->path) > PATH_MAX - 64 || !opts->owner ||
        strlen(opts->owner) > ARENA_OWNER_MAX || opts->max_records > ARENA_REC_LIMIT ||
        opts->max_sas > ARENA_SA_LIMIT) {
        snprintf(why, whylen, "invalid arena options (path, owner of at most %u bytes, at most %u records and %u "
                              "SA slots)", ARENA_OWNER_MAX, ARENA_REC_LIMIT, ARENA_SA_LIMIT);
        goto out;
    }
    a = calloc(1, sizeof(*a));
    if (!a || !(a->path = strdup(opts->path))) {
        rc = -ENOMEM;
        goto out;
    }
    a->fd = -1;
    rc = sess_arena_fs_dir(opts->path, &a->ramfs, why, whylen);
    if (rc < 0)
        goto out;
    rc = arena_setup(a, opts, &f, why, whylen);
    if (rc < 0)
        goto out;
    rc = arena_index(a, f == SESS_ARENA_ADOPTED);
    if (rc < 0) {
        snprintf(why, whylen, "no memory for the arena's index");
        goto out;
    }
    atomic_fetch_add(&((struct arena_hdr *)a->base)->opens, 1);
    if (f == SESS_ARENA_ADOPTED) {
        log_info(SUBSYS, "session arena %s: %u records to adopt (opened %u times)", a->path, a->rec_used,
                 sess_arena_opens(a));
        if ((opts->max_records && opts->max_records != a->lay.nrec) || (opts->max_sas && opts->max_sas != a->lay.nsa))
            log_info(SUBSYS, "session arena %s keeps its sizes (%u records, %u SA slots); the sizes asked for "
                     "apply to a new arena", a->path, a->lay.nrec, a->lay.nsa);
    }
    *out = a;
    a = NULL;
out:
    if (found)
        *found = f;
    arena_free(a);
    return rc;
}

void sess_arena_close(struct sess_arena *a)
{
    arena_free(a);
}

void sess_arena_destroy(struct sess_arena *a)
{
    if (a && a->path && unlink(a->path) < 0 && errno != ENOENT)
        log_warn(SUBSYS, "cannot remove session arena %s: %s", a->path, strerror(errno));
    arena_free(a);
}

uint64_t sess_arena_last_id(const struct sess_arena *a)
{
    return atomic_load(&((struct arena_hdr *)a->base)->last_id);
}

void sess_arena_set_last_id(struct sess_arena *a, uint64_t id)
{
    atomic_store(&((struct arena_hdr *)a->base)->last_id, id);
}

uint64_t sess_arena_generation(const struct sess_arena *a)
{
    return atomic_load(&((struct arena_hdr *)a->base)->generation);
}

void sess_arena_set_generation(struct sess_arena *a, uint64_t gen)
{
    atomic_store(&((struct arena_hdr *)a->base)->generation, gen);
}

time_t sess_arena_created(const struct sess_arena *a)
{
    return (time_t)((const struct arena_hdr *)a->base)->created;
}

uint32_t sess_arena_opens(const struct sess_arena *a)
{
    uint64_t n = atomic_load(&((struct arena_hdr *)a->base)->opens);

    return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

/* ---- records ---- */

size_t sess_arena_rec_max(const struct sess_arena *a)
{
    return a->rec_max;
}

uint32_t sess_arena_rec_alloc(struct sess_arena *a)
{
    uint32_t slot;

    if (a->rec_nfree == 0)
        return SESS_ARENA_NONE;
    slot = a->rec_free[--a->rec_nfree];
    a->rec_state[slot] = REC_EMPTY;
    a->rec_used++;
    return slot;
}

/* The place the next record of @len bytes goes to, given the current one (@cur,
 * REC_PLACES: none): never the current place nor one it covers (README). */
static unsigned arena_next_place(const struct sess_arena *a, uint32_t slot, unsigned cur, size_t len)
{
    if (len <= arena_place_max(a, 2))
        return cur != 0 ? 0 : arena_p0_covers(a, slot) ? 1 : 2;
    return cur == 0 || cur == 2 ? 1 : 0;
}

/* The write protocol (README "Record region"): the record's place is first made
 * invalid (seq 0), and place 2 with place 0 unless place 2 is current (the new
 * record may cover it); its bytes, length and checksum follow; a store of the
 * next sequence number makes it current. Killed before that store, the current
 * place still holds the previous record; after it, the new record is whole. */
int sess_arena_rec_write(struct sess_arena *a, uint32_t slot, const void *data, size_t len)
{
    struct arena_half *h;
    uint64_t seq = 1;
    unsigned cur = REC_PLACES, next;
    uint32_t *rsv;

    if (slot >= a->lay.nrec || a->rec_state[slot] == REC_FREE || (len && !data))
        return -EINVAL;
    if (len > a->rec_max)
        return -EMSGSIZE;
    if (a->rec_state[slot] != REC_EMPTY) {
        cur = a->rec_state[slot] - REC_P0;
        seq = atomic_load_explicit(&arena_half(a, slot, cur)->seq, memory_order_relaxed) + 1;
    }
    next = arena_next_place(a, slot, cur, len);
    rsv = &a->rec_rsv[REC_PLACES * (size_t)slot];
    /* the pages first, so that a full tmpfs is an error here and not SIGBUS
     * (once per place and size: a free slot keeps its pages) */
    if (sizeof(*h) + len > rsv[next]) {
        if (fallocate(a->fd, 0, (off_t)arena_half_off(a, slot, next), (off_t)(sizeof(*h) + len)) < 0 &&
            errno != EOPNOTSUPP)
            return -errno;
        rsv[next] = (uint32_t)(sizeof(*h) + len);
    }
    h = arena_half(a, slot, next);
    /* place 2 before place 0 (README); the length before the bytes */
    if (next == 0 && cur != 2 && (rsv[2] || arena_present(a, arena_half_off(a, slot, 2))))
        atomic_store_explicit(&arena_half(a, slot, 2)->seq, 0, memory_order_relaxed);
    atomic_store_explicit(&h->seq, 0, memory_order_release);
    h->len = (uint32_t)len;
    atomic_thread_fence(memory_order_release);
    if (len)
        memcpy(h + 1, data, len);
    h->crc = arena_rec_crc(slot, seq, (uint32_t)len, data ? data : "");
    atomic_store_explicit(&h->seq, seq, memory_order_release);
    a->rec_state[slot] = (uint8_t)(REC_P0 + next);
    return 0;
}

/* The other places are made invalid before the current one (not place 2 when
 * the current place 0 covers it), so that a kill in between leaves the record
 * as it was, never an older one. */
void sess_arena_rec_free(struct sess_arena *a, uint32_t slot)
{
    uint32_t *rsv;

    if (slot >= a->lay.nrec || a->rec_state[slot] == REC_FREE)
        return;
    rsv = &a->rec_rsv[REC_PLACES * (size_t)slot];
    if (a->rec_state[slot] != REC_EMPTY) {
        unsigned cur = a->rec_state[slot] - REC_P0;
        bool covered = cur == 0 && arena_p0_covers(a, slot);

        for (unsigned p = 0; p < REC_PLACES; p++) {
            /* a place this process reserved has its pages: no lseek to ask */
            if (p != cur && !(p == 2 && covered) && (rsv[p] || arena_present(a, arena_half_off(a, slot, p))))
                atomic_store_explicit(&arena_half(a, slot, p)->seq, 0, memory_order_release);
        }
        atomic_thread_fence(memory_order_release);
        atomic_store_explicit(&arena_half(a, slot, cur)->seq, 0, memory_order_release);
        atomic_thread_fence(memory_order_release);
    }
    /* the record's bytes (keys) wiped; pages this process reserved are kept for
     * the slot's next session, others (an adopted record's) returned */
    for (unsigned p = 0; p < REC_PLACES; p++) {
        if (rsv[p])
            memset(arena_half(a, slot, p), 0, rsv[p]);
    }
    if (!rsv[1])
        arena_zero(a, arena_half_off(a, slot, 1), a->lay.slot / 2);
    if (!rsv[0]) {
        arena_zero(a, arena_half_off(a, slot, 0), a->lay.slot / 2);
        rsv[2] = 0; /* its page may have been punched out */
    } else if (!rsv[2]) {
        arena_zero(a, arena_half_off(a, slot, 2), arena_small_off(a));
    }
    a->rec_state[slot] = REC_FREE;
    a->rec_free[a->rec_nfree++] = slot;
    a->rec_used--;
}

const void *sess_arena_rec_next(struct sess_arena *a, uint32_t *slot, size_t *len)
{
    for (uint32_t s = *slot; s < a->lay.nrec; s++) {
        if (a->rec_state[s] >= REC_P0) {
            const struct arena_half *h = arena_half(a, s, a->rec_state[s] - REC_P0);

            *len = h->len;
            *slot = s + 1;
            return h + 1;
        }
    }
    *slot = a->lay.nrec;
    *len = 0;
    return NULL;
}

/* ---- SA slots ---- */

uint32_t sess_arena_sa_max(const struct sess_arena *a)
{
    return a->lay.nsa;
}

struct dp_sa_live *sess_arena_sa(struct sess_arena *a, uint32_t idx)
{
    if (idx >= a->lay.nsa)
        return NULL;
    return (struct dp_sa_live *)(a->base + a->lay.sa_off + (size_t)idx * sizeof(struct dp_sa_live));
}

uint32_t sess_arena_sa_alloc(struct sess_arena *a)
{
    uint32_t idx;

    if (a->adopting || a->sa_nfree == 0)
        return SESS_ARENA_NONE;
    idx = a->sa_free[a->sa_nfree - 1];
    if (!a->sa_rsv[idx] &&
        fallocate(a->fd, 0, (off_t)((uint8_t *)sess_arena_sa(a, idx) - a->base), sizeof(struct dp_sa_live)) < 0 &&
        errno != EOPNOTSUPP) {
        log_warn(SUBSYS, "session arena %s: no memory for an SA slot: %s", a->path, strerror(errno));
        return SESS_ARENA_NONE;
    }
    a->sa_rsv[idx] = 1;
    a->sa_nfree--;
    memset(sess_arena_sa(a, idx), 0, sizeof(struct dp_sa_live));
    a->sa_state[idx] = SA_USED;
    a->sa_used++;
    return idx;
}

bool sess_arena_sa_claim(struct sess_arena *a, uint32_t idx)
{
    if (idx >= a->lay.nsa || a->sa_state[idx] != SA_UNCLAIMED)
        return false;
    a->sa_state[idx] = SA_USED;
    return true;
}

void sess_arena_adopt_done(struct sess_arena *a)
{
    uint32_t i = 0, j;

    if (!a->adopting)
        return;
    /* zero each run of unclaimed slots in one go */
    while (i < a->lay.nsa) {
        if (a->sa_state[i] != SA_UNCLAIMED) {
            i++;
            continue;
        }
        for (j = i; j < a->lay.nsa && a->sa_state[j] == SA_UNCLAIMED; j++)
            a->sa_state[j] = SA_FREE;
        arena_zero(a, a->lay.sa_off + (size_t)i * sizeof(struct dp_sa_live),
                   (size_t)(j - i) * sizeof(struct dp_sa_live));
        i = j;
    }
    a->adopting = false;
    arena_sa_stack(a);
}

void sess_arena_sa_free(struct sess_arena *a, uint32_t idx)
{
    if (idx >= a->lay.nsa || a->sa_state[idx] == SA_FREE)
        return;
    memset(sess_arena_sa(a, idx), 0, sizeof(struct dp_sa_live));
    a->sa_state[idx] = SA_FREE;
    a->sa_free[a->sa_nfree++] = idx;
    a->sa_used--;
}

uint32_t sess_arena_rec_used(const struct sess_arena *a)
{
    return a->rec_used;
}

uint32_t sess_arena_sa_used(const struct sess_arena *a)
{
    return a->sa_used;
}

/* ---- TESTS ---- */

int sess_arena_check(const void *file, size_t len, const char *owner, char *why, size_t whylen)
{
    struct sess_arena a = {.fd = -1, .path = (char *)"(buffer)"};
    uint8_t *copy = NULL;
    uint32_t nvalid, nbad;
    char tmp[16];
    int rc = -EINVAL;

    if (!why || whylen == 0) {
        why = tmp;
        whylen = sizeof(tmp);
    }
    why[0] = '\0';
    if (!file || len < ARENA_HDR_SIZE || !owner) {
        snprintf(why, whylen, "%zu bytes, shorter than the header (truncated)", len);
        goto out;
    }
    /* the structures need their alignment: work on an aligned copy if need be */
    if ((uintptr_t)file % 64) {
        copy = aligned_alloc(64, round_up(len, 64));
        if (!copy) {
            rc = -ENOMEM;
            goto out;
        }
        memcpy(copy, file, len);
        file = copy;
    }
    if (!arena_hdr_check(file, len, owner, &a.lay, why, whylen))
        goto out;
    a.base = (uint8_t *)file;
    a.size = len;
    a.rec_max = a.lay.slot / 2 - sizeof(struct arena_half);
    arena_scan(&a, false, &nvalid, &nbad);
    snprintf(why, whylen, "valid: %u records, %u dropped", nvalid, nbad);
    rc = 0;
out:
    free(copy);
    return rc;
}
