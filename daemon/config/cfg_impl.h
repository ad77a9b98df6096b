/* Internals shared by the files of daemon/config; not for other parts. */
#ifndef RAVEN_CONFIG_CFG_IMPL_H
#define RAVEN_CONFIG_CFG_IMPL_H

#include <sys/types.h>

#include "daemon/config/cfg.h"

#define CFG_SECRET_MASK "********"

/* A change set of more changes than this is a bulk load: its whole-tree
 * validation keeps no diff (what it added is not noted: no spare, and handlers
 * take everything as changed), and running's journal may take a snapshot
 * instead of a record. Finding, widening or levelling thousands of paths one by
 * one costs more than the whole tree's copy or print. */
#define CFG_BULK_CHANGES 4096

struct chg_vec {
    struct cfg_change *v;
    size_t n, cap;
};

struct cfg_reg {
    struct cfg_handler h;
    const struct lysc_node *snode;
};

struct cfg_txn {
    struct cfg *cfg;
    const struct lyd_node *old;
    const struct lyd_node *new;
    const struct chg_vec *all;
    struct cfg_change *mine; /* routed to the handler being called */
    size_t nmine;
    bool initial;
    bool dry_run; /* validate: every prepared handler is aborted, nothing applied */
};

struct cfg {
    struct ly_ctx *ctx;
    char *state_dir;
    char *initial_file;
    char *default_xml;

    struct lyd_node *running;   /* validated, with implicit defaults */
    struct lyd_node *candidate; /* when cand_active; NULL is then an empty configuration */
    bool cand_active;           /* false while the candidate equals running */
    struct chg_vec cand_chg;    /* edits of the candidate since it left running */
    uint64_t running_gen;       /* bumped whenever running changes */
    uint64_t running_digest;    /* of running as last persisted or loaded (cfg_store.c) */
    /* running.journal (cfg_journal.c) */
    int jfd;                         /* open for appending, -1 until needed */
    uint64_t jsize;                  /* its bytes */
    uint64_t jseq;                   /* sequence of the last persisted change set */
    bool jbroken;                    /* an append could not be taken back: snapshot next */
    pid_t cpid;                      /* compaction child, 0 if none */
    uint64_t cseq;                   /* sequence its snapshot holds */
    uint64_t snap_size;              /* bytes of running.xml (the journal's compaction throttle moves it) */
    uint64_t snap_bytes;             /* bytes of running.xml as last written or read */
    uint64_t snap_seq;               /* sequence running.xml holds (may hold) */
    unsigned compact_fails;          /* compactions failed in a row (back-off) */
    uint64_t compact_bytes;          /* journal bytes before a compaction is worth it */
    const struct chg_vec *txn_chg;   /* the change set being persisted */
    time_t running_mtime;       /* when running last changed (load time at start) */
    uint64_t cand_base_gen;     /* running_gen the candidate was copied from */
    struct lyd_node *startup;   /* NULL when startup does not exist */
    struct lyd_node *spare;     /* the previous running, spare_chg away from running */
    struct chg_vec spare_chg;   /* the commit that made running from it */
    uint64_t spare_gen;         /* running_gen it is a commit away from */
    uint64_t spares_used;       /* candidates started from the spare */
    bool txn_when_del;          /* the last transaction's validation removed nodes */
    struct chg_vec txn_made;    /* what its whole-tree validation created or deleted */
    bool txn_made_lost;         /* ... not all of it could be noted */
    bool cand_validated;        /* a failed commit attempt may have changed the candidate */
    uint32_t lock[CFG_DS_COUNT];
    struct cfg_plock *plocks; /* partial locks of running (cfg_plock.c) */
    uint32_t plock_next;

    struct cfg_reg *regs;
    size_t nregs;
    struct ly_set *secrets; /* schema nodes marked raven-types:secret */
    char **when_paths;      /* data paths of the schema nodes with a "when" */
    struct cfg_ref *refs;   /* constraints by the schema nodes they read (cfg_scope.c) */
    size_t nrefs, caprefs;
    bool scope_off;         /* every validation is whole-tree */
    uint64_t nscoped, nfull; /* validations done each way */
    size_t nwhen;

    /* confirmed commit in progress */
    bool confirm_pending;
    struct lyd_node *confirm_rollback; /* running before the first confirmed commit */
    char *confirm_persist;             /* persist token, NULL if none */
    uint32_t confirm_sid;
    bool confirm_undoing; /* a rollback of the confirmed commit runs: no partial lock holds it */
    int64_t confirm_deadline; /* CLOCK_REALTIME seconds */

    void (*reap)(struct lyd_node *tree, void *arg);
    void *reap_arg;

    cfg_notify_fn notify;
    struct cfg_access access; /* cfg_set_access */
    void *notify_arg;
    void (*loaded)(const struct lyd_node *running, void *arg); /* cfg_set_loaded */
    void *loaded_arg;
    void (*timer_arm)(int64_t ms, void *arg);
    void *timer_arg;
};

/* The instance among @first and its siblings that @node (from another tree) would
 * replace: same schema node, and for lists and leaf-lists the same keys/value. */
struct lyd_node *cfg_find_instance(const struct lyd_node *first, const struct lyd_node *node);

/* change vectors */
int chg_vec_add(struct chg_vec *cv, enum cfg_chg_op op, const struct lyd_node *node);
int chg_vec_add_path(struct chg_vec *cv, enum cfg_chg_op op, const struct lysc_node *snode, const char *path);
void chg_vec_clear(struct chg_vec *cv);
/* One REPLACE per top-level node that differs between @a and @b (linear compare). */
int chg_vec_diff_top(struct chg_vec *cv, const struct lyd_node *a, const struct lyd_node *b);

/* edit engine (cfg_edit.c): edits *root in place; on failure (except with
 * continue-on-error) the tree is restored exactly. Changes are appended to @chg.
 * With @take (then @edit is ignored), the edit is *take and subtrees without
 * metadata that become new nodes are moved out of it into *root instead of being
 * copied (*take follows when its first node goes; what was not moved stays). */
int cfg_edit_tree(struct cfg *cfg, struct lyd_node **root, const struct lyd_node *edit, struct lyd_node **take,
                  enum cfg_op defop, enum cfg_err_opt erropt, struct chg_vec *chg, struct cfg_errs *errs);

/* transaction (cfg_txn.c): validates *newp (adding defaults), prepares and applies
 * the handlers concerned by @chg. With @dry_run, every prepared handler is aborted. */
typedef int (*cfg_persist_fn)(struct cfg *cfg, const struct lyd_node *new, void *arg, struct cfg_errs *errs);
int cfg_txn_run(struct cfg *cfg, const struct lyd_node *old, struct lyd_node **newp, const struct chg_vec *chg,
                bool dry_run, bool initial, cfg_persist_fn persist, void *persist_arg, struct cfg_errs *errs);
int cfg_validate_tree(struct cfg *cfg, struct lyd_node **tree, struct cfg_errs *errs);

/* Scoped validation (cfg_scope.c): the index of constraints, built at start, and
 * whether @tree (valid before @chg) is proven valid by looking at @chg alone. */
int cfg_scope_init(struct cfg *cfg);
bool cfg_scope_valid(struct cfg *cfg, const struct lyd_node *tree, const struct chg_vec *chg);

/* Collects the configuration nodes that have a "when" (cfg_txn.c). */
int cfg_when_init(struct cfg *cfg);

/* secrets (cfg_secret.c) */
int cfg_secret_init(struct cfg *cfg);
bool cfg_secret_is(const struct cfg *cfg, const struct lysc_node *snode);
void cfg_secret_mask(const struct cfg *cfg, struct lyd_node *tree);
/* In a freshly copied subtree @copy, replaces masked secret values with the values at
 * the same place under @old (may be NULL). Errors for masks with nothing to keep. */
int cfg_secret_restore(const struct cfg *cfg, struct lyd_node *copy, const struct lyd_node *old,
                       struct cfg_errs *errs);

/* Makes the candidate equal to running again (discarding its edits). */
void cfg_cand_reset(struct cfg *cfg);

/* persistence (cfg_store.c) */
int cfg_store_save(struct cfg *cfg, const char *name, const struct lyd_node *tree);
/* running.xml from @tree with the next journal sequence; @keep_digest: the same
 * configuration as the journal's, so its digest stays. */
int cfg_store_snapshot(struct cfg *cfg, const struct lyd_node *tree, bool keep_digest);
int cfg_store_load(struct cfg *cfg, const char *name, struct lyd_node **tree, struct cfg_errs *errs);
int cfg_store_remove(struct cfg *cfg, const char *name);
int cfg_parse_data(struct cfg *cfg, const char *data, const char *what, struct lyd_node **tree,
                   struct cfg_errs *errs);

/* running.journal (cfg_journal.c): append one change set (-EAGAIN: it needs a
 * snapshot instead), replay at start, compaction in a forked child. */
uint64_t cfg_fnv(uint64_t h, const void *data, size_t len);
int cfg_journal_append(struct cfg *cfg, const struct lyd_node *old, const struct lyd_node *new,
                       const struct chg_vec *chg);
int cfg_journal_replay(struct cfg *cfg, struct lyd_node **tree, struct cfg_errs *errs);
int cfg_snapshot_header(char *buf, size_t len, uint64_t seq, uint64_t digest, uint64_t body);
/* Reads a snapshot's header (sequence, digest); returns where its XML starts. */
const char *cfg_snapshot_parse(struct cfg *cfg, const char *data);
void cfg_journal_reset(struct cfg *cfg);
void cfg_journal_tick(struct cfg *cfg); /* after running changed: reap, maybe compact */
void cfg_journal_wait(struct cfg *cfg); /* before a snapshot: no older one may land after it */
void cfg_journal_close(struct cfg *cfg);
void cfg_journal_clean(struct cfg *cfg); /* at start: removes interrupted compactions' files */
/* Makes *@dst equal to @src at every change of @chg (whole subtrees, widened like the
 * journal's records); -EAGAIN when the change set is the whole tree. */
int cfg_tree_sync(struct lyd_node **dst, const struct lyd_node *src, const struct chg_vec *chg);

/* confirmed commit (cfg_confirm.c) */
/* NACM: refuses (-EACCES) a restricted actor's change of @old into @new. */
int cfg_access_check(struct cfg *cfg, const struct cfg_actor *actor, const struct lyd_node *old,
                     const struct lyd_node *new, struct cfg_errs *errs);
int cfg_confirm_load(struct cfg *cfg, struct cfg_errs *errs);
int cfg_confirm_begin(struct cfg *cfg, const struct cfg_commit_opts *o, const struct cfg_actor *actor,
                      struct cfg_errs *errs);
int cfg_confirm_end(struct cfg *cfg);
int cfg_confirm_rollback(struct cfg *cfg, const struct cfg_actor *actor, struct cfg_errs *errs);
int cfg_confirm_check(struct cfg *cfg, const struct cfg_commit_opts *o, const struct cfg_actor *actor,
                      struct cfg_errs *errs);
/* The pending state before a follow-up confirmed commit, to put back if it fails. */
struct cfg_confirm_saved {
    char *persist;
    uint32_t sid;
    int64_t deadline;
};
void cfg_confirm_save(const struct cfg *cfg, struct cfg_confirm_saved *sv);
void cfg_confirm_restore(struct cfg *cfg, struct cfg_confirm_saved *sv);

/* Runs the transaction from running to *newp and, when it succeeds, makes it running
 * (*newp adopted and set to NULL): persisted by @persist (default: cfg_persist_running, the journal)
 * before the subsystems apply, then notified. On failure *newp stays the caller's.
 * The previous running goes to *prev when @prev is not NULL, else is freed. */
int cfg_running_set(struct cfg *cfg, struct lyd_node **newp, const struct chg_vec *chg, const struct cfg_actor *actor,
                    bool dry_run, cfg_persist_fn persist, void *persist_arg, struct lyd_node **prev,
                    struct cfg_errs *errs);
/* running.journal gets the change set (a snapshot when it is the whole tree) */
int cfg_persist_running(struct cfg *cfg, const struct lyd_node *new, void *arg, struct cfg_errs *errs);
/* running.xml gets the whole tree and the journal is emptied */
int cfg_persist_snapshot(struct cfg *cfg, const struct lyd_node *new, void *arg, struct cfg_errs *errs);

/* ---- partial locks (cfg_plock.c) ---- */

/* -EBUSY (in-use) when a change of @chg touches a node another session than
 * @actor's holds partially locked. */
int cfg_plock_check(const struct cfg *cfg, const struct chg_vec *chg, const struct cfg_actor *actor,
                    struct cfg_errs *errs);
/* Whether a session other than @sid holds a partial lock. */
bool cfg_plock_others(const struct cfg *cfg, uint32_t sid);
/* Releases the partial locks of @sid (0: all). */
void cfg_plock_end(struct cfg *cfg, uint32_t sid);

#endif
