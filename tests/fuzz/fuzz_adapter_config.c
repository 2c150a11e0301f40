/* Fuzz target: adapter_config.json text through adapter_config_parse. */
#include <stddef.h>
#include <stdint.h>

#include "adapter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct adapter_config cfg;
    struct tr_error err = {{0}};

    adapter_config_parse(&cfg, (const char *)data, size, "fuzz", &err);
    adapter_config_dispose(&cfg);
    return 0;
}
