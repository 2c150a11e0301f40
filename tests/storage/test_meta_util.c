/* Tests for the shared statement helpers in meta_util.c (meta_stmt_collect, meta_stmt_get_row,
 * meta_stmt_get_int64, meta_stmt_insert_named, meta_stmt_run_by_id), on a real SQLite file in a
 * temp data directory with two small tables of its own. The failure cases use abs() of the smallest
 * 64-bit integer, which makes SQLite fail the step with "integer overflow" on that row. */
#include "fixture.h"
#include "harness.h"

#include "meta.h"
#include "meta_internal.h"

#define ROW_COUNT 40 /* grows meta_array_reserve's array twice: 16, 32, then 64 items */

/* Returns the rows with x from 0 to 19, then fails the step on the row with x = 20. */
#define SELECT_FAILING_AT_ROW_20                                                                   \
    "SELECT CASE WHEN x < 20 THEN x ELSE abs(-9223372036854775807 - 1) END, label FROM items "     \
    "ORDER BY x"

struct item {
    int64_t x;
    char label[8];
};

static void item_from_row(void *out, sqlite3_stmt *stmt)
{
    struct item *it = out;

    it->x = sqlite3_column_int64(stmt, 0);
    meta_column_copy(it->label, sizeof(it->label), stmt, 1);
}

static sqlite3_stmt *prepare(struct meta *db, const char *sql)
{
    struct hub_error err = HUB_ERROR_INIT;
    sqlite3_stmt *stmt = NULL;

    if (meta_stmt_prepare(&stmt, db, sql, &err) < 0) {
        fprintf(stderr, "prepare failed: %s\n", err.msg);
        exit(2);
    }
    return stmt;
}

static void test_collect(struct meta *db)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct item *items = NULL, *sentinel = (struct item *)&err;
    size_t count = 99;
    bool in_order = true;

    /* No rows: success with a NULL array and a count of 0. */
    CHECK_EQ_INT(meta_stmt_collect((void **)&items, &count,
                                   prepare(db, "SELECT x, label FROM items WHERE x < 0"),
                                   sizeof(*items), item_from_row, db, "list nothing", &err),
                 0);
    CHECK(items == NULL);
    CHECK_EQ_INT(count, 0);

    /* Every row, in query order, across several growths of the array. */
    CHECK_EQ_INT(meta_stmt_collect((void **)&items, &count,
                                   prepare(db, "SELECT x, label FROM items ORDER BY x"),
                                   sizeof(*items), item_from_row, db, "list items", &err),
                 0);
    CHECK_EQ_INT(count, ROW_COUNT);
    for (size_t i = 0; items != NULL && i < count; i++) {
        char want[24];

        snprintf(want, sizeof(want), "n%zu", i);
        if (items[i].x != (int64_t)i || strcmp(items[i].label, want) != 0)
            in_order = false;
    }
    CHECK(in_order);
    free(items);

    /* A step that fails after 20 rows: the rows read so far are freed (the ASAN build checks
     * for the leak) and the outputs keep their values. */
    items = sentinel;
    count = 7;
    CHECK_EQ_INT(meta_stmt_collect((void **)&items, &count, prepare(db, SELECT_FAILING_AT_ROW_20),
                                   sizeof(*items), item_from_row, db, "list failing", &err),
                 HUB_EIO);
    CHECK(items == sentinel);
    CHECK_EQ_INT(count, 7);
    CHECK(strstr(err.msg, "list failing") != NULL);
    CHECK(strstr(err.msg, "integer overflow") != NULL);
}

static void test_get_row(struct meta *db)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct item it = {.x = -1, .label = "unset"};
    bool found = false;
    sqlite3_stmt *stmt;

    stmt = prepare(db, "SELECT x, label FROM items WHERE x = ?");
    sqlite3_bind_int64(stmt, 1, 7);
    CHECK_EQ_INT(meta_stmt_get_row(&found, &it, stmt, item_from_row, db, "read item", &err), 0);
    CHECK(found);
    CHECK_EQ_INT(it.x, 7);
    CHECK_EQ_STR(it.label, "n7");

    /* No row: success, found is false and out is not written. */
    it.x = -1;
    stmt = prepare(db, "SELECT x, label FROM items WHERE x = ?");
    sqlite3_bind_int64(stmt, 1, ROW_COUNT + 5);
    CHECK_EQ_INT(meta_stmt_get_row(&found, &it, stmt, item_from_row, db, "read item", &err), 0);
    CHECK(!found);
    CHECK_EQ_INT(it.x, -1);

    /* A NULL fill only tests whether a row exists. */
    CHECK_EQ_INT(meta_stmt_get_row(&found, NULL, prepare(db, "SELECT 1 FROM items WHERE x = 3"),
                                   NULL, db, "check item", &err),
                 0);
    CHECK(found);

    found = true;
    CHECK_EQ_INT(meta_stmt_get_row(&found, &it,
                                   prepare(db, "SELECT abs(-9223372036854775807 - 1), 'x'"),
                                   item_from_row, db, "read failing", &err),
                 HUB_EIO);
    CHECK(!found);
    CHECK(strstr(err.msg, "read failing") != NULL);
}

static void test_get_int64(struct meta *db)
{
    struct hub_error err = HUB_ERROR_INIT;
    int64_t value = -1;

    CHECK_EQ_INT(meta_stmt_get_int64(&value, prepare(db, "SELECT count(*) FROM items"), db,
                                     "count items", &err),
                 0);
    CHECK_EQ_INT(value, ROW_COUNT);

    /* A query with no row is a failure, because callers expect exactly one. */
    value = -1;
    CHECK_EQ_INT(meta_stmt_get_int64(&value, prepare(db, "SELECT x FROM items WHERE x < 0"), db,
                                     "read nothing", &err),
                 HUB_EIO);
    CHECK_EQ_INT(value, -1);
    CHECK(strstr(err.msg, "read nothing") != NULL);
}

static void test_insert_named(struct meta *db)
{
    struct hub_error err = HUB_ERROR_INIT;
    int64_t id = 0;
    sqlite3_stmt *stmt;

    stmt = prepare(db, "INSERT INTO names (name) VALUES ('alice')");
    CHECK_EQ_INT(meta_stmt_insert_named(&id, stmt, db, "alice", "add name", &err), 0);
    CHECK(id > 0);

    stmt = prepare(db, "INSERT INTO names (name) VALUES ('bob')");
    CHECK_EQ_INT(meta_stmt_insert_named(NULL, stmt, db, "bob", "add name", &err), 0);

    id = 0;
    stmt = prepare(db, "INSERT INTO names (name) VALUES ('alice')");
    CHECK_EQ_INT(meta_stmt_insert_named(&id, stmt, db, "alice", "add name", &err), HUB_ECONFLICT);
    CHECK_EQ_INT(id, 0);
    CHECK_EQ_STR(err.msg, "name 'alice' is already taken by a user or an organisation");
}

static void test_run_by_id(struct meta *db)
{
    struct hub_error err = HUB_ERROR_INIT;
    sqlite3_stmt *stmt;

    stmt = prepare(db, "UPDATE items SET label = 'first' WHERE x = ?");
    sqlite3_bind_int64(stmt, 1, 0);
    CHECK_EQ_INT(meta_stmt_run_by_id(stmt, db, "rename item", "item", 0, &err), 0);

    stmt = prepare(db, "UPDATE items SET label = 'none' WHERE x = ?");
    sqlite3_bind_int64(stmt, 1, 999);
    CHECK_EQ_INT(meta_stmt_run_by_id(stmt, db, "rename item", "item", 999, &err), HUB_ENOTFOUND);
    CHECK_EQ_STR(err.msg, "item id 999 not found");

    stmt = prepare(db, "UPDATE items SET x = abs(-9223372036854775807 - 1) WHERE x = 1");
    CHECK_EQ_INT(meta_stmt_run_by_id(stmt, db, "renumber item", "item", 1, &err), HUB_EIO);
    CHECK(strstr(err.msg, "renumber item") != NULL);
}

static void fill_items(struct meta *db)
{
    struct hub_error err = HUB_ERROR_INIT;
    int rc;

    rc = meta_exec(db,
                   "CREATE TABLE items (x INTEGER PRIMARY KEY, label TEXT NOT NULL);"
                   "CREATE TABLE names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)",
                   &err);
    for (int i = 0; rc == 0 && i < ROW_COUNT; i++) {
        char sql[96];

        snprintf(sql, sizeof(sql), "INSERT INTO items VALUES (%d, 'n%d')", i, i);
        rc = meta_exec(db, sql, &err);
    }
    if (rc < 0) {
        fprintf(stderr, "fixture failed: %s\n", err.msg);
        exit(2);
    }
}

int main(void)
{
    struct hub_error err = HUB_ERROR_INIT;
    struct meta *db = NULL;
    char data[512];

    fixture_dir_make(data, sizeof(data));
    if (meta_open_unchecked(&db, data, &err) < 0) {
        fprintf(stderr, "open failed: %s\n", err.msg);
        fixture_dir_remove(data);
        return 2;
    }
    fill_items(db);
    test_collect(db);
    test_get_row(db);
    test_get_int64(db);
    test_insert_named(db);
    test_run_by_id(db);
    meta_close(db);
    fixture_dir_remove(data);
    return test_finish();
}
