/* fuzz_tensors: safetensors header parsing (web/web_tensors.c) on arbitrary bytes, read as a
 * whole file. */
#include "web_tensors.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct web_tensors tensors = WEB_TENSORS_INIT;
    struct hub_error err = HUB_ERROR_INIT;

    if (web_tensors_parse(&tensors, data, size, size, &err) == 0) {
        /* Every range must lie inside the data section that follows the header. */
        for (size_t i = 0; i < tensors.count; i++) {
            if (tensors.items[i].end > size - 8 - tensors.header_bytes)
                __builtin_trap();
        }
    }
    web_tensors_dispose(&tensors);
    return 0;
}
