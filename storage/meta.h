/* meta: the SQLite metadata database DATA/atelier.sqlite3 and its migrations.
 *
 * A struct meta is one SQLite connection. Open one per thread (each HTTP thread, the
 * scheduler, each worker process) and never share it or its statements between threads;
 * SQLite's WAL mode lets the connections read while one writes. Every connection has
 * foreign keys on and a busy timeout, so a writer waits for another writer instead of
 * failing at once.
 *
 * The users, tokens, sessions, orgs, repos, LFS and audit queries live in meta_user.h,
 * meta_token.h, meta_session.h, meta_org.h, meta_repo.h, meta_lfs.h and meta_audit.h. Modules
 * that add their own tables through a migration (jobs, git, web) run their SQL through
 * meta_sqlite_get() and translate errors with meta_error_from_sqlite(). */
#ifndef META_H
#define META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hub_error.h"

struct meta;
struct sqlite3;

/* How long a connection waits for another connection's write lock, in milliseconds. */
#define META_BUSY_TIMEOUT_MS 10000

enum meta_open_flags {
    META_OPEN_MIGRATE = 1 << 0,   /* apply pending migrations before returning */
    META_OPEN_NO_CREATE = 1 << 1, /* fail with HUB_ENOTFOUND when the database file is missing */
};

/** Opens DATA_DIR/atelier.sqlite3 (creating it unless META_OPEN_NO_CREATE), turns on WAL,
 * foreign keys and the busy timeout. With META_OPEN_MIGRATE it applies the pending
 * migrations, each in its own transaction; without it, it still checks the schema version.
 * A database written by a newer binary (a migration version above the newest one built in)
 * is rejected with HUB_ECONFLICT and a message that names both versions. Without
 * META_OPEN_MIGRATE, a database with pending migrations is also HUB_ECONFLICT, naming
 * `atelier admin migrate`. *out belongs to the caller, who frees it with meta_close(). Any
 * thread; the connection belongs to that thread. */
int meta_open(struct meta **out, const char *data_dir, unsigned flags, struct hub_error *err);

/** Opens the database for `atelier admin migrate --status`: like meta_open without
 * META_OPEN_MIGRATE, but with no schema version check. */
int meta_open_unchecked(struct meta **out, const char *data_dir, struct hub_error *err);

/** Closes the connection and finalizes its statements. Accepts NULL. */
void meta_close(struct meta *db);

/** Returns the connection's sqlite3 handle, borrowed until meta_close(), for modules that
 * query their own tables. Use it only on the thread that owns db. */
struct sqlite3 *meta_sqlite_get(struct meta *db);

/** Fills err from a SQLite result code rc on db and returns the matching HUB_E* code:
 * SQLITE_CONSTRAINT -> HUB_ECONFLICT, SQLITE_NOMEM -> HUB_ENOMEM, SQLITE_TOOBIG ->
 * HUB_ETOOBIG, anything else -> HUB_EIO. what names the operation ("insert repo"). */
int meta_error_from_sqlite(struct hub_error *err, struct meta *db, int rc, const char *what);

/** Starts a write transaction (BEGIN IMMEDIATE, so it takes the write lock at once and waits
 * up to META_BUSY_TIMEOUT_MS for it). Transactions do not nest. Returns 0 or HUB_EIO. */
int meta_tx_begin(struct meta *db, struct hub_error *err);

/** Starts a read transaction (BEGIN DEFERRED): every read from the first one until
 * meta_tx_commit or meta_tx_rollback sees the same snapshot, while other connections go on
 * writing. Only reads belong in it, because a write would fail once another connection has
 * committed since the snapshot. Returns 0, HUB_EINTERNAL when a transaction is open, or
 * HUB_EIO. */
int meta_tx_begin_read(struct meta *db, struct hub_error *err);

/** Commits the transaction started by meta_tx_begin. Returns 0 or HUB_EIO. */
int meta_tx_commit(struct meta *db, struct hub_error *err);

/** Rolls the open transaction back; does nothing when none is open. Never fails. */
void meta_tx_rollback(struct meta *db);

/** Copies the whole database into a new SQLite file at dest_path with SQLite's online backup,
 * a consistent snapshot even while other connections write. dest_path must not exist.
 * Returns 0, HUB_ECONFLICT (dest_path exists) or HUB_EIO. */
int meta_backup(struct meta *db, const char *dest_path, struct hub_error *err);

/** Returns the current time in whole seconds since the Unix epoch, the unit of every
 * *_at column. Any thread. */
int64_t meta_now(void);

/* One migration built into the binary (migrations/NNNN_name.sql). */
struct meta_migration {
    int version;      /* NNNN, unique, increasing */
    const char *name; /* "0001_core" without .sql; static storage */
    const char *sql;  /* the file's text; static storage */
};

/** Returns the migrations built into the binary, ordered by version, in *count. The array
 * is static. Any thread. */
const struct meta_migration *meta_migrations_builtin(size_t *count);

/* One row of `atelier admin migrate --status`. */
struct meta_migration_status {
    int version;
    char name[128];
    bool applied;
    int64_t applied_at; /* seconds since the epoch; 0 when pending */
    bool known;         /* false for a version in the database that this binary lacks */
};

/** Lists every built-in migration and every version recorded in the database, ordered by
 * version. *out is malloc'd and belongs to the caller (free()). Returns 0 or HUB_E*. */
int meta_migration_status_list(struct meta_migration_status **out, size_t *count, struct meta *db,
                               struct hub_error *err);

/** Applies the pending migrations, each inside one transaction that also records it in
 * schema_version, and logs one hub_log line per applied migration. Sets *applied to how many
 * it applied (NULL allowed). Safe to run from
 * several processes at once: each migration is applied once. Returns 0, HUB_ECONFLICT for a
 * database newer than the binary, or HUB_EIO naming the migration that failed. */
int meta_migrate(int *applied, struct meta *db, struct hub_error *err);

#endif
