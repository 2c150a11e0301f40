/* web_summary: the facts the repository list shows that only git knows: whether a model is an
 * adapter, its base model, the card's tags, pipeline and license, and the total file size.
 * They are computed from the head of main and stored in the web_repo_summary table until the
 * head moves, so listing many repos opens git only for the ones that changed. */
#ifndef WEB_SUMMARY_H
#define WEB_SUMMARY_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "hub_error.h"
#include "hub_limits.h"
#include "meta_repo.h"

#define WEB_SUMMARY_MAX_README_BYTES (1u << 20) /* README.md read for tags and base model */

struct web_repo_summary {
    char commit[41];                            /* head of main, "" for an empty repo */
    bool is_adapter;                            /* adapter_config.json at the root */
    char base_model[HUB_MAX_REPO_ID_BYTES + 1]; /* "" when none */
    json_t *tags;                               /* JSON array of strings; owned */
    char pipeline_tag[64];
    char license[64];
    uint64_t size_bytes;
    uint64_t file_count;
};

/** Fills out for repo, from the table when its commit is still the head of main, else by
 * reading the git repo under data_dir and storing the result. Free out with
 * web_summary_dispose() on every path. Returns 0, HUB_ENOMEM or HUB_EIO; a repo whose git
 * folder is missing or broken gets an empty summary and a warning in the log. HTTP threads. */
int web_summary_get(struct web_repo_summary *out, struct meta *db, const char *data_dir,
                    const struct meta_repo *repo, struct hub_error *err);

/** Returns whether the summary's tags contain tag. */
bool web_summary_has_tag(const struct web_repo_summary *summary, const char *tag);

/** Frees what web_summary_get put in summary. Accepts a zeroed summary. */
void web_summary_dispose(struct web_repo_summary *summary);

/** Copies the base model of a card into out (cap bytes): base_model as a string, or the first
 * string of a base_model list. Returns false when the card names none. */
bool web_card_base_model(char *out, size_t cap, json_t *card_data);

#endif
