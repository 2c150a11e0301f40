/* Fuzz target: training checkpoint files through train_ckpt_parse. The payload it returns
 * is read in full and so are the header's strings, so an out-of-bounds view or a hex field
 * without its terminator shows up under ASan. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "train_ckpt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct train_ckpt_header h;
    struct tr_error err = {{0}};
    const float *payload = NULL;
    uint8_t *copy = malloc(size > 0 ? size : 1);
    volatile float sum = 0.0f;

    if (copy == NULL)
        return 0;
    /* A private copy gives the payload the alignment of a real file buffer. */
    memcpy(copy, data, size);
    if (train_ckpt_parse(&h, &payload, copy, size, "fuzz", &err) == 0) {
        for (uint64_t i = 0; i < 3 * h.n_params; i++)
            sum += payload[i];
        sum += (float)(h.lr + h.clip + h.weight_decay + h.eval_split) + (float)h.warmup +
               (float)h.seq_len + (float)h.batch + (float)h.grad_accum;
        sum += (float)(strlen(h.data_sha256) + strlen(h.eval_sha256));
    }
    free(copy);
    return 0;
}
