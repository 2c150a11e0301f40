/* meta_internal: helpers shared by the meta_*.c files; not for use outside storage/. */
#ifndef META_INTERNAL_H
#define META_INTERNAL_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hub_error.h"
#include "meta.h"

/** Prepares sql on db's connection. Returns 0 or HUB_E* from meta_error_from_sqlite. */
int meta_stmt_prepare(sqlite3_stmt **out, struct meta *db, const char *sql, struct hub_error *err);

/** Runs one statement that returns no rows; binds nothing. Returns 0 or HUB_E*. */
int meta_exec(struct meta *db, const char *sql, struct hub_error *err);

/** Steps a statement that returns no rows and finalizes it. Returns 0 or HUB_E*. */
int meta_stmt_run(sqlite3_stmt *stmt, struct meta *db, const char *what, struct hub_error *err);

/** Copies text column col into dst of cap bytes, cut to fit and NUL-terminated. */
void meta_column_copy(char *dst, size_t cap, sqlite3_stmt *stmt, int col);

/** Fills buf with len bytes from OpenSSL's CSPRNG. Returns 0 or HUB_EINTERNAL. */
int meta_random_bytes(unsigned char *buf, size_t len, struct hub_error *err);

/** Writes the SHA-256 of len bytes into out. Returns 0 or HUB_ENOMEM. */
int meta_sha256(unsigned char out[32], const void *buf, size_t len, struct hub_error *err);

/** Grows *items (each item_bytes) to hold at least need items; *cap tracks the capacity.
 * Returns 0 or HUB_ENOMEM. */
int meta_array_reserve(void **items, size_t *cap, size_t need, size_t item_bytes,
                       struct hub_error *err);

/** Copies the current row of stmt into item. It must not step or finalize stmt. */
typedef void (*meta_row_fn)(void *item, sqlite3_stmt *stmt);

/** Steps stmt to the end and copies each row with fill into a new array of item_bytes items.
 * On success *out is that array (the caller frees it with free(); NULL when no row matched)
 * and *count its length. On failure *out and *count are left unchanged. Finalizes stmt on
 * every path. Returns 0, HUB_ENOMEM, or HUB_E* from a failed step, whose message names what. */
int meta_stmt_collect(void **out, size_t *count, sqlite3_stmt *stmt, size_t item_bytes,
                      meta_row_fn fill, struct meta *db, const char *what, struct hub_error *err);

/** Steps stmt once and, when it returns a row, copies it into out with fill (skipped when fill
 * is NULL). Sets *found to whether there was a row, so the caller can report its own
 * not-found error. Finalizes stmt on every path. Returns 0, or HUB_E* from a failed step,
 * whose message names what. */
int meta_stmt_get_row(bool *found, void *out, sqlite3_stmt *stmt, meta_row_fn fill, struct meta *db,
                      const char *what, struct hub_error *err);

/** Steps stmt once and stores column 0 of its row in *out, for queries such as count(*) that
 * always return one row. Finalizes stmt. Returns 0, or HUB_E* naming what when the step
 * fails or returns no row. */
int meta_stmt_get_int64(int64_t *out, sqlite3_stmt *stmt, struct meta *db, const char *what,
                        struct hub_error *err);

/** Runs stmt, an INSERT of a user or an organisation called name, and finalizes it. Sets
 * *out_id (when not NULL) to the new row id. Users and organisations share one namespace, so
 * a constraint failure is reported as the name being taken. Returns 0, HUB_ECONFLICT, or
 * HUB_E* naming what. */
int meta_stmt_insert_named(int64_t *out_id, sqlite3_stmt *stmt, struct meta *db, const char *name,
                           const char *what, struct hub_error *err);

/** Runs stmt, a write that should change at least one row because of the row with this id,
 * and finalizes it. noun names that row's kind in the error, as in "user id 7 not found".
 * Returns 0, HUB_ENOTFOUND when no row changed, or HUB_E* naming what. */
int meta_stmt_run_by_id(sqlite3_stmt *stmt, struct meta *db, const char *what, const char *noun,
                        int64_t id, struct hub_error *err);

#endif
