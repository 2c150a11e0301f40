/* hf_base_model: the base model of an adapter, read from the files at the head of main. */
#include "hf_base_model.h"

#include "../web/card.h" /* trainer/card.h shadows "card.h" on this include path */
#include "hub_limits.h"
#include "hub_log.h"
#include "hub_name.h"
#include "meta.h"
#include "meta_repo.h"
#include "repo.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* The largest README.md or adapter_config.json read for the base model. */
#define HF_BASE_MODEL_MAX_FILE_BYTES (1u << 20)

/* The maximum number of bytes of a rejected value written to the log. */
#define HF_BASE_MODEL_MAX_LOGGED_BYTES 256

void hf_base_model_refresh(struct meta *db, struct repo *git, const struct meta_repo *row,
                           const char *commit, const char *module, const char *request_id)
{
    char ns[HUB_MAX_REPO_NAME_BYTES + 1], name[HUB_MAX_REPO_NAME_BYTES + 1];
    struct hub_error err = HUB_ERROR_INIT;
    struct card card = CARD_INIT;
    char *text = NULL;
    size_t len = 0;
    const char *base = NULL;
    json_t *config = NULL;

    if (repo_file_read(&text, &len, git, commit, "README.md", HF_BASE_MODEL_MAX_FILE_BYTES,
                       &err) == 0 &&
        card_parse(&card, text, len, &err) == 0)
        base = card_get_string(&card, "base_model");
    free(text);
    text = NULL;
    if (base == NULL && repo_file_read(&text, &len, git, commit, "adapter_config.json",
                                       HF_BASE_MODEL_MAX_FILE_BYTES, &err) == 0) {
        config = json_loadb(text, len, 0, NULL);
        base = json_string_value(json_object_get(config, "base_model_name_or_path"));
    }
    if (base == NULL || base[0] == '\0' || strcmp(base, row->base_model) == 0)
        goto out;

    /* A bare name such as "gpt2" or a local path names no repo on this hub. The commit
     * stays, and the repo keeps the base model it had. */
    if (strlen(base) > HUB_MAX_REPO_ID_BYTES || hub_repo_id_parse(ns, name, base, &err) < 0) {
        hub_log(HUB_LOG_WARN, module,
                "base model not recorded, because it is not a repo id (namespace/name) "
                "repo=%s/%s base_model=%.*s req=%s",
                row->ns, row->name, HF_BASE_MODEL_MAX_LOGGED_BYTES, base, request_id);
        goto out;
    }
    if (meta_repo_set_base_model(db, row->id, base, &err) < 0)
        hub_log(HUB_LOG_WARN, module,
                "cannot record the base model repo=%s/%s base_model=%s error=%s req=%s", row->ns,
                row->name, base, err.msg, request_id);
out:
    json_decref(config);
    free(text);
    card_dispose(&card);
}
