/* The session arena: a memory-mapped file on tmpfs that outlives ravend
 * (DESIGN.md "Processes and threads"), so that a new ravend process (after a
 * restart, a crash or an upgrade) takes over the established sessions.
 *
 * It holds two kinds of entries:
 *  - records: one per session, an opaque byte string of at most
 *    sess_arena_rec_max() bytes that the IKE engine writes whenever the session
 *    changes (its IKE SA, child SAs, leases, accounting). A write replaces the
 *    record whole or not at all, even when the process is killed at any
 *    instruction of it: a new process reads either the previous record or the
 *    new one, never a mixture (each record is checked by a CRC).
 *  - SA slots: one struct dp_sa_live per dataplane SA (dataplane/dp.h), which the
 *    packet workers update in place (sequence numbers, replay window, counters),
 *    so that they are exact after kill -9.
 *
 * The file's format is versioned (SESS_ARENA_VERSION) and documented in
 * daemon/session/README.md. Nothing in it is ever written to persistent storage:
 * sess_arena_open() refuses a path whose file system is not tmpfs or ramfs.
 *
 * All calls are made on the control thread. */
#ifndef RAVEN_SESSION_SESS_ARENA_H
#define RAVEN_SESSION_SESS_ARENA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct dp_sa_live;

/* The format of the file, records included (their encoding belongs to the IKE
 * engine, daemon/ike/ike_persist.c, and is part of this version). A file of
 * another version is not adopted. */
#define SESS_ARENA_VERSION 2u

#define SESS_ARENA_NONE UINT32_MAX

struct sess_arena_opts {
    const char *path;        /* the file; its directory is made (0700) if missing */
    const char *owner;       /* what the arena belongs to (ravend: the real path of
                              * its state directory, at most 255 bytes): an arena
                              * of another owner is foreign */
    uint32_t max_records;    /* sessions it can hold (0: 131072) */
    uint32_t max_sas;        /* SA slots (0: 4 * max_records) */
};

enum sess_arena_found {
    SESS_ARENA_NEW,      /* no file: a new, empty arena */
    SESS_ARENA_ADOPTED,  /* a valid arena of this version and owner: its records
                          * and SA slots are there to adopt */
    SESS_ARENA_SET_ASIDE,/* a file that was not valid (truncated, corrupt, another
                          * version or owner): renamed to PATH.bad-<UTC time> for
                          * inspection; a new, empty arena is used. *why says what
                          * was wrong */
};

struct sess_arena;

/* Opens (or makes) the arena at opts->path and locks it (flock, exclusive: a
 * second ravend on the same file gets -EBUSY). Returns 0 with *out, or -errno
 * with @why saying what was wrong (-EXDEV: not on tmpfs or ramfs; -EBUSY: in
 * use; -ENOMEM, -EACCES, ...). *found says what was found. A file that is not
 * valid never makes it fail: it is set aside and a new one made. */
int sess_arena_open(const struct sess_arena_opts *opts, struct sess_arena **out, enum sess_arena_found *found,
                    char *why, size_t whylen);
/* Unmaps and unlocks; the file stays for the next process. */
void sess_arena_close(struct sess_arena *a);
/* Unmaps, unlocks and removes the file (nothing left to adopt). */
void sess_arena_destroy(struct sess_arena *a);

/* The generation of the configuration the arena's records were written under
 * (0 in a new arena), and setting it (ravend: after every commit). */
uint64_t sess_arena_generation(const struct sess_arena *a);
void sess_arena_set_generation(struct sess_arena *a, uint64_t gen);
/* The highest session id any process of this arena handed out (0 in a new
 * arena), and recording a new one: ids stay unique over the arena's life. */
uint64_t sess_arena_last_id(const struct sess_arena *a);
void sess_arena_set_last_id(struct sess_arena *a, uint64_t id);
/* When the arena was made, and how many times a process opened it. */
time_t sess_arena_created(const struct sess_arena *a);
uint32_t sess_arena_opens(const struct sess_arena *a);

/* ---- records ---- */
size_t sess_arena_rec_max(const struct sess_arena *a);
/* A free record slot (its record empty), SESS_ARENA_NONE when full. */
uint32_t sess_arena_rec_alloc(struct sess_arena *a);
/* Writes the record of slot @slot (replacing it whole, see above). -EMSGSIZE
 * when @len exceeds sess_arena_rec_max(); -EINVAL for a slot not allocated. */
int sess_arena_rec_write(struct sess_arena *a, uint32_t slot, const void *data, size_t len);
/* Empties and frees the slot (its session is not adopted by a later process). */
void sess_arena_rec_free(struct sess_arena *a, uint32_t slot);
/* After an adopting open: each slot with a valid record, in slot order. @slot
 * starts at 0; returns the record (valid until it is written or freed) and its
 * length, and sets *slot to the next slot to ask for; NULL at the end. A slot
 * returned is allocated: adopt it (keep writing it) or free it. A slot whose
 * record does not verify is freed and skipped (logged). */
const void *sess_arena_rec_next(struct sess_arena *a, uint32_t *slot, size_t *len);

/* ---- SA slots ---- */
uint32_t sess_arena_sa_max(const struct sess_arena *a);
/* A free SA slot, zeroed; SESS_ARENA_NONE when full. */
uint32_t sess_arena_sa_alloc(struct sess_arena *a);
/* The slot @idx (NULL if @idx is out of range). Its memory stays valid until
 * sess_arena_close/destroy. */
struct dp_sa_live *sess_arena_sa(struct sess_arena *a, uint32_t idx);
/* Adoption: after an adopting open every SA slot counts as in use. An adopted
 * session claims the slots its record names (false: out of range or claimed
 * already); sess_arena_adopt_done() then frees (zeroes) every slot not claimed.
 * sess_arena_sa_alloc() is not called before sess_arena_adopt_done(). */
bool sess_arena_sa_claim(struct sess_arena *a, uint32_t idx);
void sess_arena_adopt_done(struct sess_arena *a);
void sess_arena_sa_free(struct sess_arena *a, uint32_t idx);

/* Usage, for vpn-state. */
uint32_t sess_arena_rec_used(const struct sess_arena *a);
uint32_t sess_arena_sa_used(const struct sess_arena *a);

/* TESTS (the fuzz target of the loader): checks the bytes of an arena file
 * in memory as sess_arena_open() does, and walks its records. 0 if valid, else
 * -EINVAL with @why. */
int sess_arena_check(const void *file, size_t len, const char *owner, char *why, size_t whylen);

#endif
