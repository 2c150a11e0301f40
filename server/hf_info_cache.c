/* hf_info_cache: a direct-mapped table of rendered info bodies per HTTP thread. */
#include "hf_info_cache.h"

#include "meta.h"
#include "meta_repo.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Slots per thread; a power of two. Colliding keys replace each other. */
#define INFO_CACHE_SLOTS 64u

/* Open git repos kept per thread. Each one keeps a few file descriptors open for its packs. */
#define REPO_HANDLE_SLOTS 8u

/* Room for DATA_DIR/repos/{models|datasets}/NS/NAME.git. */
#define REPO_HANDLE_PATH_BYTES 4096

struct info_entry {
    struct hf_info_key key;
    char *body; /* NULL when the slot is empty */
    size_t len;
};

/* An open git repo and what identifies the repo it was opened for. */
struct repo_handle {
    struct repo *git; /* NULL when the slot is empty */
    int64_t repo_id;
    int64_t created_at;
    dev_t dev;
    ino_t ino;
    char path[REPO_HANDLE_PATH_BYTES];
};

struct info_cache {
    struct info_entry slots[INFO_CACHE_SLOTS];
    size_t bytes; /* sum of len over the filled slots */
    struct repo_handle repos[REPO_HANDLE_SLOTS];
};

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_free(void *arg)
{
    struct info_cache *cache = arg;

    for (size_t i = 0; i < INFO_CACHE_SLOTS; i++)
        free(cache->slots[i].body);
    for (size_t i = 0; i < REPO_HANDLE_SLOTS; i++)
        repo_close(cache->repos[i].git);
    free(cache);
}

static void cache_key_create(void)
{
    if (pthread_key_create(&cache_key, cache_free) != 0)
        abort(); /* fails only when the process has used up its thread keys */
}

/* Returns the calling thread's cache, creating it when create is set; NULL without one. */
static struct info_cache *cache_get(bool create)
{
    struct info_cache *cache;

    pthread_once(&cache_once, cache_key_create);
    cache = pthread_getspecific(cache_key);
    if (cache != NULL || !create)
        return cache;
    cache = calloc(1, sizeof(*cache));
    if (cache == NULL)
        return NULL;
    if (pthread_setspecific(cache_key, cache) != 0) {
        free(cache);
        return NULL;
    }
    return cache;
}

/* FNV-1a over the fields that identify a body, data version excluded: a newer version of
 * the same body takes the same slot and replaces the stale one. */
static size_t slot_index(const struct hf_info_key *key)
{
    uint64_t h = 1469598103934665603ull;
    const unsigned char *p;

    h = (h ^ (uint64_t)key->repo_id) * 1099511628211ull;
    h = (h ^ (uint64_t)key->viewer_user_id) * 1099511628211ull;
    h = (h ^ (uint64_t)key->blobs) * 1099511628211ull;
    h = (h ^ (uint64_t)key->safetensors) * 1099511628211ull;
    for (p = (const unsigned char *)key->commit; *p != '\0'; p++)
        h = (h ^ *p) * 1099511628211ull;
    return (size_t)(h & (INFO_CACHE_SLOTS - 1));
}

static bool key_equal(const struct hf_info_key *a, const struct hf_info_key *b)
{
    return a->repo_id == b->repo_id && a->viewer_user_id == b->viewer_user_id &&
           a->data_version == b->data_version && a->blobs == b->blobs &&
           a->safetensors == b->safetensors && strcmp(a->commit, b->commit) == 0;
}

bool hf_info_data_version(uint32_t *out, struct meta *db)
{
    unsigned int version = 0;

    if (db == NULL ||
        sqlite3_file_control(meta_sqlite_get(db), "main", SQLITE_FCNTL_DATA_VERSION, &version) !=
            SQLITE_OK)
        return false;
    *out = version;
    return true;
}

bool hf_info_cache_get(char **body_out, size_t *len_out, const struct hf_info_key *key)
{
    struct info_cache *cache = cache_get(false);
    const struct info_entry *entry;
    char *copy;

    if (cache == NULL)
        return false;
    entry = &cache->slots[slot_index(key)];
    if (entry->body == NULL || !key_equal(&entry->key, key))
        return false;
    copy = malloc(entry->len > 0 ? entry->len : 1);
    if (copy == NULL)
        return false;
    memcpy(copy, entry->body, entry->len);
    *body_out = copy;
    *len_out = entry->len;
    return true;
}

void hf_info_cache_put(const struct hf_info_key *key, const char *body, size_t len)
{
    struct info_cache *cache;
    struct info_entry *entry;
    char *copy;

    if (len > HF_INFO_CACHE_MAX_BODY_BYTES)
        return;
    cache = cache_get(true);
    if (cache == NULL)
        return;
    entry = &cache->slots[slot_index(key)];
    if (cache->bytes - entry->len + len > HF_INFO_CACHE_MAX_THREAD_BYTES)
        return;
    copy = malloc(len > 0 ? len : 1);
    if (copy == NULL)
        return;
    memcpy(copy, body, len);
    free(entry->body);
    cache->bytes = cache->bytes - entry->len + len;
    entry->key = *key;
    entry->body = copy;
    entry->len = len;
}

int hf_info_repo_open(struct repo **out, const char *data_dir, const struct meta_repo *row,
                      struct hub_error *err)
{
    struct info_cache *cache = cache_get(true);
    char path[REPO_HANDLE_PATH_BYTES];
    struct repo_handle *handle;
    struct stat sb;
    int rc;

    *out = NULL;
    if (cache == NULL)
        return repo_open(out, data_dir, row->type, row->ns, row->name, err);
    rc = repo_path_build(path, sizeof(path), data_dir, row->type, row->ns, row->name, err);
    if (rc < 0)
        return rc;
    if (stat(path, &sb) != 0)
        return hub_error_set(err, HUB_ENOTFOUND, "%s repo %s/%s not found on disk",
                             hub_repo_type_name(row->type), row->ns, row->name);

    /* A repo deleted and created again under the same name gets a new row and directory. Its
     * id, creation time and inode can all match the old ones only when SQLite reused the id
     * and the file system the inode within one second. Even then libgit2 reads refs and loose
     * objects by path, and objects are addressed by their hash, so the response stays right. */
    handle = &cache->repos[(uint64_t)row->id & (REPO_HANDLE_SLOTS - 1)];
    if (handle->git != NULL && handle->repo_id == row->id && handle->created_at == row->created_at &&
        handle->dev == sb.st_dev && handle->ino == sb.st_ino && strcmp(handle->path, path) == 0) {
        *out = handle->git;
        return 0;
    }
    repo_close(handle->git);
    handle->git = NULL;
    rc = repo_open(&handle->git, data_dir, row->type, row->ns, row->name, err);
    if (rc < 0)
        return rc;
    handle->repo_id = row->id;
    handle->created_at = row->created_at;
    handle->dev = sb.st_dev;
    handle->ino = sb.st_ino;
    memcpy(handle->path, path, sizeof(path));
    *out = handle->git;
    return 0;
}
