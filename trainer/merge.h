/* merge: writes a base model with a LoRA adapter folded into its weights, W' = W +
 * scale * B A for every adapted linear, as PEFT's merge_and_unload does. The output is a
 * complete model directory that loads without the adapter. */
#ifndef MERGE_H
#define MERGE_H

#include "lora.h"
#include "model.h"
#include "st.h"
#include "tr_error.h"

/** Creates out_dir (when missing), copies config.json, generation_config.json and the
 * tokenizer files of base_dir, and writes out_dir/model.safetensors with every tensor of m,
 * the adapted ones merged with lora, stored as dtype (ST_F32, ST_F16 or ST_BF16). The files
 * are written into a staging folder next to out_dir and moved into it at the end, so a
 * failed merge leaves out_dir as it was. */
int merge_write(const char *out_dir, const char *base_dir, const struct model *m,
                const struct lora_set *lora, enum st_dtype dtype, struct tr_error *err);

#endif
