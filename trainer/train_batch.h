/* train_batch: turns data_set examples into the padded (b, t) token and target arrays that
 * model_forward takes. Targets are already shifted (targets[i] = ids[i + 1]) and are -100
 * wherever the next token is outside the loss mask, past the end of the example or cut off
 * by the sequence length. Padding goes on the right, so causal attention never lets a real
 * token see it. */
#ifndef TRAIN_BATCH_H
#define TRAIN_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "data.h"

#define TRAIN_IGNORE_INDEX (-100)

/** Returns the batch width for ex[0..b): the longest example, capped at seq_len. */
size_t train_batch_width(const struct data_example *const *ex, size_t b, size_t seq_len);

/** Fills tokens and targets (b, t), row stride t, from ex[0..b), cutting each example to
 * its first t tokens and padding with pad_id. Returns the number of scored targets. */
size_t train_batch_fill(int32_t *tokens, int32_t *targets, const struct data_example *const *ex,
                        size_t b, size_t t, int32_t pad_id);

/** Returns the number of scored targets example ex has when cut to seq_len tokens. */
size_t train_batch_count_targets(const struct data_example *ex, size_t seq_len);

#endif
