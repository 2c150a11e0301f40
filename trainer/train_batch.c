/* train_batch: padded, shifted batches for model_forward. */
#include "train_batch.h"

size_t train_batch_width(const struct data_example *const *ex, size_t b, size_t seq_len)
{
    size_t width = 1;

    for (size_t i = 0; i < b; i++) {
        size_t n = ex[i]->n < seq_len ? ex[i]->n : seq_len;

        if (n > width)
            width = n;
    }
    return width;
}

size_t train_batch_fill(int32_t *tokens, int32_t *targets, const struct data_example *const *ex,
                        size_t b, size_t t, int32_t pad_id)
{
    size_t scored = 0;

    for (size_t i = 0; i < b; i++) {
        const struct data_example *e = ex[i];
        size_t n = e->n < t ? e->n : t;
        int32_t *tok_row = tokens + i * t;
        int32_t *tgt_row = targets + i * t;

        for (size_t j = 0; j < t; j++) {
            tok_row[j] = j < n ? e->ids[j] : pad_id;
            tgt_row[j] = TRAIN_IGNORE_INDEX;
            if (j + 1 < n && e->mask[j + 1]) {
                tgt_row[j] = e->ids[j + 1];
                scored++;
            }
        }
    }
    return scored;
}

size_t train_batch_count_targets(const struct data_example *ex, size_t seq_len)
{
    size_t n = ex->n < seq_len ? ex->n : seq_len;
    size_t scored = 0;

    for (size_t j = 1; j < n; j++)
        scored += ex->mask[j] != 0;
    return scored;
}
