/* hf_repo_fields: the optional fields of repo info and listings that come from the files of
 * a model (config, safetensors), and the parsing of the expand query parameter. */
#include "hf_internal.h"

#include "hub_log.h"
#include "meta_lfs.h"
#include "store.h"
#include "web_tensors.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* config.json bytes read for the config field. */
#define HF_MAX_CONFIG_BYTES (1u << 20)

bool hf_expand_has(const struct http_request *req, const char *field)
{
    static const char *const names[] = {"expand", "expand[]"};

    for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
        const char *values[64];
        size_t count = http_request_query_all(req, names[n], values, 64);

        if (count > 64)
            count = 64;
        for (size_t i = 0; i < count; i++) {
            if (strcmp(values[i], field) == 0)
                return true;
        }
    }
    return false;
}

json_t *hf_config_build(struct repo *git, const char *commit)
{
    struct hub_error err = HUB_ERROR_INIT;
    json_t *root, *out, *value;
    json_error_t jerr;
    char *text = NULL;
    size_t len = 0;

    if (repo_file_read(&text, &len, git, commit, "config.json", HF_MAX_CONFIG_BYTES, &err) < 0)
        return NULL;
    root = json_loadb(text, len, 0, &jerr);
    free(text);
    if (!json_is_object(root)) {
        json_decref(root);
        return NULL;
    }
    out = json_object();
    value = json_object_get(root, "model_type");
    if (json_is_string(value))
        json_object_set(out, "model_type", value);
    value = json_object_get(root, "architectures");
    if (json_is_array(value))
        json_object_set(out, "architectures", value);
    json_decref(root);
    if (json_object_size(out) == 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

static bool has_suffix(const char *text, const char *suffix)
{
    size_t n = strlen(text), m = strlen(suffix);

    return n >= m && strcmp(text + n - m, suffix) == 0;
}

/* Parses the safetensors header of entry: the LFS object when the repo links it, else the git
 * blob. */
static int tensors_read(struct web_tensors *out, struct meta *db, const struct meta_repo *row,
                        struct repo *git, const char *commit, const struct repo_entry *entry,
                        struct hub_error *err)
{
    uint64_t size = 0;
    bool linked = false;
    char *data = NULL;
    size_t len = 0;
    int fd = -1;
    int rc;

    if (!entry->is_lfs) {
        rc = repo_file_read(&data, &len, git, commit, entry->path, 0, err);
        if (rc == 0)
            rc = web_tensors_parse(out, (const unsigned char *)data, len, len, err);
        free(data);
        return rc;
    }
    rc = meta_lfs_is_linked(&linked, db, row->id, entry->lfs_oid, err);
    if (rc < 0)
        return rc;
    if (!linked)
        return hub_error_set(err, HUB_ENOTFOUND, "the LFS object was never uploaded to this repo");
    rc = store_blob_open(&fd, &size, hf_store(), entry->lfs_oid, err);
    if (rc < 0)
        return rc;
    rc = web_tensors_read_fd(out, fd, size, err);
    close(fd);
    return rc;
}

json_t *hf_safetensors_build(struct meta *db, const struct meta_repo *row, struct repo *git,
                             const char *commit, const struct repo_entry *entries, size_t count,
                             const char *request_id)
{
    json_t *parameters = NULL;
    json_int_t total = 0;

    for (size_t i = 0; i < count; i++) {
        struct hub_error err = HUB_ERROR_INIT;
        struct web_tensors tensors = WEB_TENSORS_INIT;

        if (entries[i].type != REPO_ENTRY_FILE || !has_suffix(entries[i].path, ".safetensors"))
            continue;
        if (tensors_read(&tensors, db, row, git, commit, &entries[i], &err) < 0) {
            /* One unreadable file leaves the others counted, and the log names it. */
            hub_log(HUB_LOG_WARN, "hf",
                    "cannot read the safetensors header of %s/%s %s at %s error=%s req=%s", row->ns,
                    row->name, entries[i].path, commit, err.msg,
                    request_id != NULL ? request_id : "-");
            web_tensors_dispose(&tensors);
            continue;
        }
        if (parameters == NULL)
            parameters = json_object();
        for (size_t t = 0; t < tensors.count; t++) {
            const struct web_tensor *tensor = &tensors.items[t];
            json_int_t sum = json_integer_value(json_object_get(parameters, tensor->dtype));

            json_object_set_new(parameters, tensor->dtype,
                                json_integer(sum + (json_int_t)tensor->numel));
            total += (json_int_t)tensor->numel;
        }
        web_tensors_dispose(&tensors);
    }
    if (parameters == NULL)
        return NULL;
    return json_pack("{s:o,s:I}", "parameters", parameters, "total", total);
}
