/* The configuration datastore: running, candidate and startup trees of the raven YANG
 * modules, one edit engine for every management API, locks, the commit transaction
 * with its per-subtree callback table, confirmed commit and crash-safe persistence.
 *
 * Everything here runs on the control thread; no function is thread-safe. Management
 * front ends reach it through the control queue (daemon/base/ctlq.h).
 *
 * Trees handed out (cfg_get) are copies the caller frees; trees handed in are
 * borrowed unless a comment says adopted. */
#ifndef RAVEN_CONFIG_CFG_H
#define RAVEN_CONFIG_CFG_H

#include <libyang/libyang.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "daemon/config/cfg_err.h"

struct cfg;
struct cfg_txn;

enum cfg_ds {
    CFG_DS_RUNNING = 0,
    CFG_DS_CANDIDATE,
    CFG_DS_STARTUP,
    CFG_DS_COUNT,
};

enum cfg_op {
    CFG_OP_NONE = 0,
    CFG_OP_MERGE,
    CFG_OP_REPLACE,
    CFG_OP_CREATE,
    CFG_OP_DELETE,
    CFG_OP_REMOVE,
};

enum cfg_test_opt {
    CFG_TEST_THEN_SET = 0,
    CFG_TEST_SET,
    CFG_TEST_ONLY,
};

enum cfg_err_opt {
    CFG_ERROPT_STOP = 0,
    CFG_ERROPT_CONTINUE,
    CFG_ERROPT_ROLLBACK,
};

/* One change of a transaction. @path is the data path of the changed node (in old
 * for DELETE, in new otherwise); @snode its schema node. REPLACE means "this whole
 * subtree may differ in any way": handlers re-read it from the new tree. */
enum cfg_chg_op {
    CFG_CHG_CREATE = 0,
    CFG_CHG_MODIFY,
    CFG_CHG_DELETE,
    CFG_CHG_REPLACE,
};

struct cfg_change {
    enum cfg_chg_op op;
    const struct lysc_node *snode;
    char *path;
};

/* Who is asking: the NETCONF session id (0 for internal callers) and user name,
 * used for locks, confirmed commit ownership and change notifications. */
struct cfg_actor {
    uint32_t sid;
    const char *user;
    const char *host;
};

/* A subsystem's hooks for the part of the configuration it owns (FRR-style):
 * prepare checks the change against live state and reserves resources, abort undoes
 * a successful prepare, apply switches to the new configuration and cannot fail.
 * Prepare never changes what runs (sockets serving, XDP attachments, worker
 * threads, leases): it builds beside it, and apply switches. In a dry run
 * (cfg_txn_is_dry_run) prepare only checks: it may probe (bind and close a
 * socket) but keeps nothing, as abort follows at once. */
struct cfg_handler {
    const char *name;
    const char *path; /* schema path, e.g. "/raven-vpn:pools" */
    int (*prepare)(struct cfg_txn *txn, void *arg, struct cfg_errs *errs);
    void (*abort)(struct cfg_txn *txn, void *arg);
    void (*apply)(struct cfg_txn *txn, void *arg);
    void *arg;
};

/* Called after every committed change of running (commit, confirmed-commit rollback,
 * direct edit of running), with @n == 0 when running's generation moved without a
 * change: the front ends turn it into netconf-config-change and event-stream
 * messages, and drop what they cached. Runs on the control thread. */
typedef void (*cfg_notify_fn)(const struct cfg_actor *actor, const struct cfg_change *chg, size_t n,
                              void *arg);

struct cfg_opts {
    const char *state_dir;     /* running.xml, startup.xml, confirm files */
    const char *initial_file;  /* seeds running at first start; NULL = built-in default */
    const char *default_xml;   /* built-in default configuration (XML) */
    size_t compact_bytes;      /* running.journal size that starts a compaction; 0: 256 KiB */
};

/* The YANG context of every Raven process: the raven modules from @yang_dir and the
 * IETF NETCONF modules (ietf-netconf with its features, with-defaults, monitoring,
 * notifications) from @ietf_dirs (colon-separated). NULL on failure (logged). */
struct ly_ctx *cfg_yang_ctx(const char *yang_dir, const char *ietf_dirs);
/* Sends libyang's messages to the log at debug level (a client's invalid data is
 * returned to it as errors, not logged as the process's warnings), each stored for
 * cfg_err_from_ly. cfg_yang_ctx installs it; call again after a library (libnetconf2)
 * installed its own. */
void cfg_yang_log(void);

/* Creates the datastore over @ctx (borrowed, must outlive the cfg). Does not load
 * anything yet: register handlers first, then cfg_start(). */
struct cfg *cfg_new(struct ly_ctx *ctx, const struct cfg_opts *opts);
/* How many transactions were validated by looking at their change set alone, and
 * how many validated the whole tree (daemon/config/cfg_scope.c). */
void cfg_scope_stats(const struct cfg *cfg, uint64_t *scoped, uint64_t *full);
/* How many candidates started from the previous running brought level with the
 * last commit instead of a copy of running. */
uint64_t cfg_spares_used(const struct cfg *cfg);
void cfg_free(struct cfg *cfg);
struct ly_ctx *cfg_ctx(const struct cfg *cfg);

/* Registers @h (copied). Handlers are prepared and applied in registration order and
 * aborted in reverse. Returns 0 or -EINVAL if the schema path does not exist. */
int cfg_handler_register(struct cfg *cfg, const struct cfg_handler *h);
/* Checks that every configuration node of the implemented modules whose names start
 * with @module_prefix is covered by a handler registered on it or on an ancestor.
 * On failure fills @errs with one error per uncovered node. */
int cfg_handlers_check(struct cfg *cfg, const char *module_prefix, struct cfg_errs *errs);

/* Loads the state directory (running, startup, a pending confirmed commit), seeding
 * running from the initial file or the built-in default at first start, and applies
 * running through the handlers (every handler sees a REPLACE of its subtree).
 * Returns 0 or -errno with @errs saying what was wrong. */
int cfg_start(struct cfg *cfg, struct cfg_errs *errs);

void cfg_set_notify(struct cfg *cfg, cfg_notify_fn fn, void *arg);
/* Called when the confirmed-commit timer must be (re)armed: @ms from now, or -1 to
 * disarm. The daemon owns the timer and calls cfg_confirm_timeout() when it fires. */
void cfg_set_timer(struct cfg *cfg, void (*arm)(int64_t ms, void *arg), void *arg);

/* Large trees that a commit replaces are handed to @reap (adopted) instead of being
 * freed on the spot, so that the daemon can free them after the reply has gone
 * out. Without a reaper they are freed at once. */
void cfg_set_reaper(struct cfg *cfg, void (*reap)(struct lyd_node *tree, void *arg), void *arg);
/* Called by cfg_start() once running is loaded (or seeded) and before it is
 * applied: what must be set up from the configuration ahead of every handler
 * (ravend: the ESP crypto backend before the sessions of the previous process
 * are put back in the dataplane). */
void cfg_set_loaded(struct cfg *cfg, void (*loaded)(const struct lyd_node *running, void *arg), void *arg);

/* Access control of writes (NACM): for an actor @restricted says must be
 * checked, @check gets each datastore's tree before and after an edit, copy or
 * delete (either may be NULL) and refuses it with -EACCES and its errors; the
 * change is then not made. Test-only edits and validate are not checked. */
struct cfg_access {
    bool (*restricted)(const struct cfg_actor *actor, void *arg);
    int (*check)(const struct cfg_actor *actor, const struct lyd_node *old, const struct lyd_node *new,
                 struct cfg_errs *errs, void *arg);
    void *arg;
};
void cfg_set_access(struct cfg *cfg, const struct cfg_access *access);

/* Read: a copy of the datastore (with implicit defaults), secrets masked unless
 * @with_secrets. @xpaths (NULL-terminated, may be NULL = everything) select subtrees;
 * results are merged with their parents. */
int cfg_get(struct cfg *cfg, enum cfg_ds ds, const char *const *xpaths, bool with_secrets,
            struct lyd_node **out, struct cfg_errs *errs);
/* The parts of @src (any data tree, e.g. config plus state) selected by @xpaths, with
 * their parents, as a new tree; NULL @xpaths copies everything. */
int cfg_tree_select(struct cfg *cfg, const struct lyd_node *src, const char *const *xpaths, struct lyd_node **out,
                    struct cfg_errs *errs);
/* The same without a datastore: any thread, errors worded with @ctx (the front
 * ends select their own state, e.g. ietf-netconf-monitoring, with a client's filter). */
int cfg_tree_select_ctx(const struct ly_ctx *ctx, const struct lyd_node *src, const char *const *xpaths,
                        struct lyd_node **out, struct cfg_errs *errs);
/* @tree (with siblings) as XML where every node holding its schema default carries
 * wd:default="true" (with-defaults report-all-tagged, RFC 6243 section 6 and RFC
 * 8040 section 4.8.9): libyang names the attribute's namespace after the
 * ietf-netconf-with-defaults module, this prints the one the RFCs require. @flags
 * are more LYD_PRINT_* flags. *out is NULL for an empty tree. 0 or -errno. */
int cfg_print_xml_tagged(const struct lyd_node *tree, uint32_t flags, char **out);
/* Running's generation, bumped by every change, and when it last changed (@mtime
 * may be NULL): the entity tag and Last-Modified of the REST API. */
uint64_t cfg_running_gen(const struct cfg *cfg, time_t *mtime);
/* A digest of running as last persisted or loaded from the state directory,
 * which, unlike the generation, a later process computes alike: the session
 * arena records it, to tell whether running changed while ravend was stopped. */
uint64_t cfg_running_digest(const struct cfg *cfg);
/* Whether the candidate differs from running (uncommitted edits). */
bool cfg_candidate_dirty(const struct cfg *cfg);

/* edit-config: @edit is a data tree (siblings) whose nodes may carry the
 * ietf-netconf:operation metadata. Running is edited through a full transaction. */
int cfg_edit(struct cfg *cfg, enum cfg_ds ds, const struct lyd_node *edit, enum cfg_op defop,
             enum cfg_test_opt testopt, enum cfg_err_opt erropt, const struct cfg_actor *actor,
             struct cfg_errs *errs);
/* cfg_edit of an edit the caller gives away: the subtrees that become new nodes
 * are moved into the datastore instead of copied (those without metadata), and
 * *edit keeps the rest, for the caller to free (a large edit: after replying). */
int cfg_edit_take(struct cfg *cfg, enum cfg_ds ds, struct lyd_node **edit, enum cfg_op defop,
                  enum cfg_test_opt testopt, enum cfg_err_opt erropt, const struct cfg_actor *actor,
                  struct cfg_errs *errs);
/* Whether @n is an opaque edit node that deletes or removes a leaf named by an
 * empty element (<netmask nc:operation="delete"/>), which libyang cannot bind to a
 * leaf whose type has no empty value. The edit engine accepts such nodes. */
bool cfg_edit_is_leaf_delete(const struct lyd_node *n, const struct lysc_node **snode, enum cfg_op *op);

/* Source of copy-config and validate that is inline data (@src_tree, borrowed;
 * NULL is an empty configuration) rather than a datastore. */
#define CFG_SRC_INLINE (-1)

/* copy-config from a datastore or from inline data (@src_tree, borrowed) to @dst. */
int cfg_copy(struct cfg *cfg, enum cfg_ds dst, int src_ds, const struct lyd_node *src_tree,
             const struct cfg_actor *actor, struct cfg_errs *errs);
/* delete-config: only startup may be deleted. */
int cfg_delete_ds(struct cfg *cfg, enum cfg_ds ds, const struct cfg_actor *actor, struct cfg_errs *errs);
/* validate: @src_ds, or the inline @src_tree when @src_ds is CFG_SRC_INLINE. */
int cfg_validate(struct cfg *cfg, int src_ds, const struct lyd_node *src_tree, struct cfg_errs *errs);
int cfg_discard(struct cfg *cfg, const struct cfg_actor *actor, struct cfg_errs *errs);

struct cfg_commit_opts {
    bool confirmed;
    uint32_t timeout_s; /* 0 = default 600 */
    const char *persist;    /* confirmed: the persist token to set */
    const char *persist_id; /* confirming: the token given by the earlier persist */
};
int cfg_commit(struct cfg *cfg, const struct cfg_commit_opts *o, const struct cfg_actor *actor,
               struct cfg_errs *errs);
int cfg_cancel_commit(struct cfg *cfg, const char *persist_id, const struct cfg_actor *actor,
                      struct cfg_errs *errs);
/* The confirmed-commit timer fired: roll back. */
void cfg_confirm_timeout(struct cfg *cfg);
bool cfg_confirm_pending(const struct cfg *cfg);

int cfg_lock(struct cfg *cfg, enum cfg_ds ds, const struct cfg_actor *actor, struct cfg_errs *errs);
int cfg_unlock(struct cfg *cfg, enum cfg_ds ds, const struct cfg_actor *actor, struct cfg_errs *errs);
/* Holder of the lock on @ds, 0 if none. */
uint32_t cfg_lock_holder(const struct cfg *cfg, enum cfg_ds ds);
/* A partial lock of running (RFC 5717): its id, session, when it was taken, its
 * select expressions and the data paths of the nodes they found. */
struct cfg_plock {
    uint32_t id, sid;
    time_t time;
    char **select;
    size_t nselect;
    char **nodes;
    size_t nnodes;
    struct cfg_plock *next;
};
/* Locks the nodes of running that the XPaths @select (@n of them, module names as
 * prefixes) find, for @actor: *out is the lock. -EINVAL (no node, a bad
 * expression), -EBUSY (lock-denied: running is locked by another session, or a
 * node overlaps another session's partial lock). */
int cfg_partial_lock(struct cfg *cfg, const char *const *select, size_t n, const struct cfg_actor *actor,
                     const struct cfg_plock **out, struct cfg_errs *errs);
/* -ENOENT when @actor holds no partial lock @id. */
int cfg_partial_unlock(struct cfg *cfg, uint32_t id, const struct cfg_actor *actor, struct cfg_errs *errs);
/* The partial locks held now (a list). */
const struct cfg_plock *cfg_partial_locks(const struct cfg *cfg);
/* A session ended: release its locks, discard the candidate if it held that lock, and
 * roll back its confirmed commit unless it was given a persist token. */
void cfg_session_end(struct cfg *cfg, uint32_t sid);

/* Transaction accessors for handlers. */
const struct lyd_node *cfg_txn_old(const struct cfg_txn *txn);
const struct lyd_node *cfg_txn_new(const struct cfg_txn *txn);
/* The changes routed to the handler being called. */
const struct cfg_change *cfg_txn_changes(const struct cfg_txn *txn, size_t *n);
/* Every change of the transaction, whichever handler it is routed to (@chg,
 * @n), and what its whole-tree validation created or deleted besides (defaults,
 * a container under a "when" that became true: @made, @nmade): for a handler
 * that compiles several subtrees at once and rebuilds only what changed. False
 * when the transaction's change set is not the whole difference (the first
 * apply at start, or what validation changed could not all be noted): then
 * everything is to be taken as changed. */
bool cfg_txn_all_changes(const struct cfg_txn *txn, const struct cfg_change **chg, size_t *n,
                         const struct cfg_change **made, size_t *nmade);
/* True while running is first applied at start (every handler sees REPLACE). */
bool cfg_txn_is_initial(const struct cfg_txn *txn);
/* True when the transaction only checks the change (<validate>, an edit with
 * test-option test-only): prepare is followed by abort, never by apply. Any user,
 * read-only ones included, may start one, so prepare must then reserve nothing. */
bool cfg_txn_is_dry_run(const struct cfg_txn *txn);

#endif
