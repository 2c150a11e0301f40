/* chat: renders {"role", "content"} conversations with a model's chat template. The form
 * (ChatML, Llama 2, Llama 3, Zephyr, Mistral v1, v3, v3-tekken, v7, v7-tekken) is recognised from
 * the chat_template text of tokenizer_config.json. Built-in code then writes the exact strings of
 * that form, so no Jinja is evaluated. The rendering records which bytes are assistant output,
 * which gives the loss mask. */
#ifndef CHAT_H
#define CHAT_H

#include <stdbool.h>
#include <stddef.h>

#include "tok.h"
#include "tr_error.h"

enum chat_form {
    CHAT_CHATML,
    CHAT_LLAMA2,
    CHAT_LLAMA3,
    CHAT_ZEPHYR,
    CHAT_MISTRAL_V1,        /* " [INST] user [/INST] reply</s>" */
    CHAT_MISTRAL_V3,        /* "[INST] user[/INST] reply</s>" */
    CHAT_MISTRAL_V3_TEKKEN, /* "[INST]user[/INST]reply</s>" */
    CHAT_MISTRAL_V7, /* "[SYSTEM_PROMPT] system[/SYSTEM_PROMPT][INST] user[/INST] reply</s>" */
    CHAT_MISTRAL_V7_TEKKEN, /* "[SYSTEM_PROMPT]system[/SYSTEM_PROMPT][INST]user[/INST]reply</s>" */
};

struct chat_template {
    enum chat_form form;
    char *default_system; /* ChatML templates that add a system message when none is given
                           * (Qwen2); NULL otherwise */
    char *eos;            /* the EOS string the template writes (Zephyr, Llama 2, Mistral) */
    bool bos_first;       /* the template starts with bos_token; the renderer leaves it out of
                           * the text and the caller adds the BOS id */
    bool system_last;     /* Mistral v1 and v3: the system message goes into the last user turn
                           * instead of the first */
    bool system_required; /* Mistral v7 templates that write a default system message of their
                           * own (with today's date), which is not reproduced */
};

struct chat_message {
    const char *role; /* "system", "user" or "assistant" (ChatML also takes other roles) */
    const char *content;
};

/* A rendered conversation. spans[2i], spans[2i+1] are the byte range [start, end) of the
 * i-th assistant reply together with its end-of-turn marker; n_spans counts replies. */
struct chat_render {
    char *text;
    size_t len;
    size_t *spans;
    size_t n_spans;
    size_t last_reply_start; /* start of the final assistant reply (its header excluded) */
};

/** Recognises the chat template of tok (tokenizer_config.json's chat_template). source names
 * the model directory in errors. */
int chat_template_detect(struct chat_template *out, const struct tok *tok, const char *source,
                         struct tr_error *err);
void chat_template_dispose(struct chat_template *t);

/** Returns the name of a form ("chatml", "llama2", "llama3", "zephyr", "mistral-v1",
 * "mistral-v3", "mistral-v3-tekken", "mistral-v7", "mistral-v7-tekken"). */
const char *chat_form_name(enum chat_form form);

/** Renders n messages. add_generation_prompt appends the header of an assistant turn. Errors
 * name the message index and the problem (unknown role, wrong turn order). */
int chat_render(struct chat_render *out, const struct chat_template *t,
                const struct chat_message *msgs, size_t n, bool add_generation_prompt,
                struct tr_error *err);
void chat_render_dispose(struct chat_render *r);

/** Returns the number of ids that go before a rendered chat and points *ids at them: the
 * tokenizer's post-processor prefix, or else the BOS id when the template starts with
 * bos_token (*ids may point at slot). Templates that write bos_token get it only once. */
size_t chat_prefix_ids(const struct tok *tok, const struct chat_template *t, const int32_t **ids,
                       int32_t *slot);

#endif
