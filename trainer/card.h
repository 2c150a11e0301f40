/* card: the README.md model card of a trained adapter. YAML front matter with base_model,
 * library_name peft, tags, datasets and a model-index entry holding the eval results, then
 * a Markdown body with the dataset hash, seed, hyperparameters, trainer version and final
 * metrics, so the card alone says how to reproduce the run. */
#ifndef CARD_H
#define CARD_H

#include <stdbool.h>
#include <stddef.h>

#include "train.h"
#include "tr_error.h"

struct card_data {
    const struct train_options *opt;
    const struct train_result *result;
    const char *model_name;     /* model-index name: the adapter's directory name */
    const char *dataset_sha256; /* hex SHA-256 of the training file */
    const char *targets;        /* comma-separated target modules */
    size_t n_train;             /* training examples */
    size_t n_eval;              /* eval examples; 0 when there was no eval set */
    const char *eval_sha256;    /* hex SHA-256 of the --eval file; NULL without --eval */
    int threads;                /* compute threads the run used */
};

/** Writes dir/README.md through a temporary file and rename. Its last line is an HTML
 * comment with the SHA-256 of the rest, so card_is_unchanged can spot later edits. */
int card_write(const char *dir, const struct card_data *card, struct tr_error *err);

/** Returns true when the file at path is a card that card_write wrote and that was not
 * edited since. */
bool card_is_unchanged(const char *path);

/** Writes s as a double-quoted YAML scalar into buf (escaping quotes, backslashes and
 * control characters); truncates to fit size. */
void card_yaml_quote(char *buf, size_t size, const char *s);

#endif
