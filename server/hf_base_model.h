/* hf_base_model: records which base model an adapter repo is built on, after a commit
 * (the commit API) or a push (git smart HTTP) that moved main. */
#ifndef HF_BASE_MODEL_H
#define HF_BASE_MODEL_H

struct meta;
struct meta_repo;
struct repo;

/** Reads the base model at commit, the base_model key of the README.md card or else
 * base_model_name_or_path of adapter_config.json, and stores it in row's base_model column
 * when it changed. A value that is not a repo id ("ns/name"), such as a local path, is
 * skipped with a warning in the log that names the repo and the value. A failed write is
 * logged the same way, so the commit or push that called this still succeeds. module is the
 * log module ("hf" or "git"), request_id the request id for the log. */
void hf_base_model_refresh(struct meta *db, struct repo *git, const struct meta_repo *row,
                           const char *commit, const char *module, const char *request_id);

#endif
