/* hf_http: the Hugging Face Hub API (repos, info, listings, tree, refs, commits, preupload,
 * the NDJSON commit), file downloads under /{id}/resolve and /{id}/raw, and the git-lfs batch
 * API with its basic transfer. The wire formats follow what huggingface_hub (Python),
 * @huggingface/hub (npm), transformers.js and git-lfs send and expect. */
#ifndef HF_HTTP_H
#define HF_HTTP_H

#include "http.h"
#include "hub_config.h"

/** Opens what the handlers share (the blob store, the LFS URL signing key). Call once before
 * the listener opens. Returns 0 or HUB_E*. Main thread. */
int hf_http_open(const struct hub_config *config, struct hub_error *err);

/** Releases what hf_http_open opened. Safe to call when it failed or never ran. */
void hf_http_close(void);

/** Adds the Hub API, resolve and LFS routes. */
void hf_http_register(struct http_router *router);

#endif
