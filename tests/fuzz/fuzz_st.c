/* Fuzz target for the safetensors reader: any byte string either parses into tensors whose
 * data lies inside the input, or is rejected with a message. Parsed F32/F16/BF16 tensors
 * are converted to floats so out-of-range data pointers would show up under ASan. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "st.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tr_error err = {0};
    struct st_file *f = NULL;

    if (st_parse(&f, data, size, "fuzz", &err) < 0)
        return 0;
    for (size_t i = 0; i < st_count(f); i++) {
        const struct st_tensor *t = st_tensor_at(f, i);
        float *buf;

        if ((const uint8_t *)t->data < data || (const uint8_t *)t->data + t->nbytes > data + size)
            abort();
        if (t->numel > (1u << 20))
            continue;
        buf = malloc((t->numel + 1) * sizeof(float));
        if (buf != NULL)
            st_tensor_to_f32(t, buf, &err);
        free(buf);
        if (st_find(f, t->name) == NULL)
            abort();
    }
    st_metadata_get(f, "format");
    st_close(f);
    return 0;
}
