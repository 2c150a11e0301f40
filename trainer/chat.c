/* chat: recognises the chat template form from the template text (the way llama.cpp keys
 * templates on fingerprints) and renders conversations with the strings of that form,
 * marking the assistant replies. Whitespace control and trim_blocks are already folded into
 * the literal strings here, so the output equals what transformers renders for the usual
 * templates of each form. */
#include "chat.h"

#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

const char *chat_form_name(enum chat_form form)
{
    switch (form) {
    case CHAT_CHATML:
        return "chatml";
    case CHAT_LLAMA2:
        return "llama2";
    case CHAT_LLAMA3:
        return "llama3";
    case CHAT_ZEPHYR:
        return "zephyr";
    case CHAT_MISTRAL_V1:
        return "mistral-v1";
    case CHAT_MISTRAL_V3:
        return "mistral-v3";
    case CHAT_MISTRAL_V3_TEKKEN:
        return "mistral-v3-tekken";
    case CHAT_MISTRAL_V7:
        return "mistral-v7";
    case CHAT_MISTRAL_V7_TEKKEN:
        return "mistral-v7-tekken";
    }
    return "unknown";
}

/* Finds the text of a literal default system message, written in the template as
 * '<|im_start|>system\nTEXT<|im_end|>' (Qwen2 writes a real newline, Qwen2.5 a \n escape).
 * Occurrences that concatenate the first message's content are skipped. */
static char *find_default_system(const char *tmpl)
{
    static const char head[] = "<|im_start|>system";
    const char *p = tmpl;

    while ((p = strstr(p, head)) != NULL) {
        const char *body = p + strlen(head), *end;
        struct tok_buf b = {0};

        p = body;
        if (body[0] == '\n')
            body += 1;
        else if (body[0] == '\\' && body[1] == 'n')
            body += 2;
        else
            continue;
        end = strstr(body, "<|im_end|>");
        if (end == NULL || end == body || memchr(body, '\'', (size_t)(end - body)) != NULL ||
            memchr(body, '"', (size_t)(end - body)) != NULL)
            continue;
        for (const char *c = body; c < end; c++) {
            int r;

            if (c[0] == '\\' && c + 1 < end && c[1] == 'n') {
                r = tok_buf_append(&b, "\n", 1);
                c++;
            } else {
                r = tok_buf_append(&b, c, 1);
            }
            if (r < 0) {
                tok_buf_dispose(&b);
                return NULL;
            }
        }
        return b.s;
    }
    return NULL;
}

/* Returns whether the template contains s as a whole Jinja string literal, 's' or "s". The
 * Mistral forms differ only in the spaces inside these literals. */
static bool writes_literal(const char *tmpl, const char *s)
{
    static const char quotes[] = {'\'', '"'};
    size_t len = strlen(s);

    for (size_t q = 0; q < sizeof(quotes); q++) {
        for (const char *p = strchr(tmpl, quotes[q]); p != NULL; p = strchr(p + 1, quotes[q])) {
            if (strncmp(p + 1, s, len) == 0 && p[1 + len] == quotes[q])
                return true;
        }
    }
    return false;
}

/* Tells the Mistral forms apart by the literals their templates write. The forms are
 * mistral-common's tokenizer versions, as the tokenizer_config.json files of
 * Mistral-7B-Instruct-v0.2 (v1), Mistral-Large-Instruct-2407 (v3), Mistral-Nemo-Instruct-2407
 * (v3-tekken), Mistral-Large-Instruct-2411 (v7) and Mistral-Small-3.1 (v7-tekken) write them:
 *   v1         ' [INST] ' + content + ' [/INST]'
 *   v3         "[INST] " + content + "[/INST]"
 *   v3-tekken  "[INST]" + content + "[/INST]"
 *   v7         '[SYSTEM_PROMPT] ' ... '[INST] ' + content + '[/INST]'
 *   v7-tekken  '[SYSTEM_PROMPT]' ... '[INST]' + content + '[/INST]'
 * A template that mixes them, or writes "[INST] " with " [/INST]" (the early
 * Mistral-7B-Instruct-v0.2 template, whose assistant turns have no leading space), is not
 * recognised. Returns -1 when none of the forms matches. */
static int detect_mistral(struct chat_template *out, const char *tmpl)
{
    bool open_v1 = writes_literal(tmpl, " [INST] ");
    bool open_spaced = writes_literal(tmpl, "[INST] ");
    bool open_tight = writes_literal(tmpl, "[INST]");
    bool close_spaced = writes_literal(tmpl, " [/INST]");
    bool close_tight = writes_literal(tmpl, "[/INST]");

    if (strstr(tmpl, "[SYSTEM_PROMPT]") != NULL) {
        if (close_spaced || open_v1 || !close_tight || open_spaced == open_tight)
            return -1;
        if (open_spaced && writes_literal(tmpl, "[SYSTEM_PROMPT] "))
            out->form = CHAT_MISTRAL_V7;
        else if (open_tight && writes_literal(tmpl, "[SYSTEM_PROMPT]"))
            out->form = CHAT_MISTRAL_V7_TEKKEN;
        else
            return -1;
        out->system_required = strstr(tmpl, "default_system_message") != NULL;
        return 0;
    }
    if (open_v1 && close_spaced && !open_spaced && !open_tight && !close_tight) {
        out->form = CHAT_MISTRAL_V1;
        out->system_last = false;
    } else if (open_spaced && close_tight && !open_v1 && !open_tight && !close_spaced) {
        out->form = CHAT_MISTRAL_V3;
        out->system_last = true;
    } else if (open_tight && close_tight && !open_v1 && !open_spaced && !close_spaced) {
        out->form = CHAT_MISTRAL_V3_TEKKEN;
        out->system_last = true;
    } else {
        return -1;
    }
    /* Mistral's own templates put the system message into the first user turn for v1 and
     * into the last for v3. Edited copies name the turn in their loop condition. */
    if (strstr(tmpl, "loop.first and system_message") != NULL)
        out->system_last = false;
    else if (strstr(tmpl, "loop.last and system_message") != NULL)
        out->system_last = true;
    return 0;
}

int chat_template_detect(struct chat_template *out, const struct tok *tok, const char *source,
                         struct tr_error *err)
{
    const char *tmpl = tok_chat_template(tok);
    const char *eos = tok_eos_token(tok);

    memset(out, 0, sizeof(*out));
    if (tmpl == NULL)
        return tr_error_set(err,
                            "%s/tokenizer_config.json has no chat_template, so "
                            "{\"messages\"} data cannot be rendered; use a model with a "
                            "chat template or {\"prompt\", \"completion\"} data",
                            source);
    if (strstr(tmpl, "<|im_start|>") != NULL) {
        out->form = CHAT_CHATML;
        out->default_system = find_default_system(tmpl);
    } else if (strstr(tmpl, "<|start_header_id|>") != NULL &&
               strstr(tmpl, "<|end_header_id|>") != NULL) {
        out->form = CHAT_LLAMA3;
        out->bos_first = true;
    } else if (strstr(tmpl, "[INST]") != NULL && strstr(tmpl, "<<SYS>>") != NULL) {
        out->form = CHAT_LLAMA2;
        out->bos_first = true;
    } else if (strstr(tmpl, "[INST]") != NULL) {
        if (detect_mistral(out, tmpl) < 0)
            return tr_error_set(err,
                                "%s/tokenizer_config.json: the chat_template writes [INST] but "
                                "matches none of the known Mistral forms (v1 ' [INST] ', v3 "
                                "'[INST] ' with '[/INST]', v3-tekken '[INST]', v7 and "
                                "v7-tekken [SYSTEM_PROMPT]), so it cannot be rendered "
                                "exactly; use {\"prompt\", \"completion\"} data instead",
                                source);
        out->bos_first = true;
    } else if (strstr(tmpl, "<|user|>") != NULL && strstr(tmpl, "<|assistant|>") != NULL) {
        out->form = CHAT_ZEPHYR;
    } else {
        return tr_error_set(err,
                            "%s/tokenizer_config.json: the chat_template is not one of the "
                            "recognised forms (ChatML <|im_start|>, Llama 2 [INST] <<SYS>>, "
                            "Llama 3 <|start_header_id|>, Zephyr <|user|>, Mistral "
                            "[INST]); use {\"prompt\", \"completion\"} data instead",
                            source);
    }
    if (out->form != CHAT_CHATML && out->form != CHAT_LLAMA3) {
        if (eos == NULL)
            return tr_error_set(err,
                                "%s/tokenizer_config.json: the %s chat template needs "
                                "eos_token, which is not set",
                                source, chat_form_name(out->form));
        out->eos = strdup(eos);
        if (out->eos == NULL)
            return tr_error_set(err, "out of memory");
    }
    return 0;
}

void chat_template_dispose(struct chat_template *t)
{
    free(t->default_system);
    free(t->eos);
    memset(t, 0, sizeof(*t));
}

struct renderer {
    struct tok_buf text;
    size_t *spans;
    size_t n_spans, spans_cap;
    size_t reply_start, last_reply_start;
    bool failed;
};

static void put_len(struct renderer *w, const char *s, size_t len)
{
    if (!w->failed && tok_buf_append(&w->text, s, len) < 0)
        w->failed = true;
}

static void put(struct renderer *w, const char *s)
{
    put_len(w, s, strlen(s));
}

/* Appends s without leading and trailing whitespace, as Python's str.strip() and Jinja's
 * trim filter do. */
static void put_stripped(struct renderer *w, const char *s)
{
    size_t start = 0, end = strlen(s);
    int32_t cp;

    while (start < end) {
        size_t n = tok_utf8_next(s + start, end - start, &cp);

        if (n == 0 || !tok_cp_is_whitespace(cp))
            break;
        start += n;
    }
    while (end > start) {
        size_t k = end - 1;

        while (k > start && ((unsigned char)s[k] & 0xC0) == 0x80)
            k--;
        if (tok_utf8_next(s + k, end - k, &cp) == 0 || !tok_cp_is_whitespace(cp))
            break;
        end = k;
    }
    put_len(w, s + start, end - start);
}

static void reply_begin(struct renderer *w)
{
    w->reply_start = w->text.len;
    w->last_reply_start = w->text.len;
}

static void reply_end(struct renderer *w)
{
    if (w->failed)
        return;
    if (w->n_spans + 2 > w->spans_cap) {
        size_t cap = w->spans_cap ? w->spans_cap * 2 : 16;
        size_t *p = realloc(w->spans, cap * sizeof(*p));

        if (p == NULL) {
            w->failed = true;
            return;
        }
        w->spans = p;
        w->spans_cap = cap;
    }
    w->spans[w->n_spans++] = w->reply_start;
    w->spans[w->n_spans++] = w->text.len;
}

static bool is_role(const struct chat_message *m, const char *role)
{
    return strcmp(m->role, role) == 0;
}

static int check_roles(const struct chat_template *t, const struct chat_message *msgs, size_t n,
                       struct tr_error *err)
{
    for (size_t i = 0; i < n; i++) {
        const struct chat_message *m = &msgs[i];

        if (m->role[0] == '\0' || strchr(m->role, '\n') != NULL)
            return tr_error_set(err, "message %zu has an empty or multi-line role", i);
        if (t->form != CHAT_CHATML && !is_role(m, "system") && !is_role(m, "user") &&
            !is_role(m, "assistant"))
            return tr_error_set(err,
                                "message %zu has role \"%.40s\"; the %s chat template "
                                "takes only system, user and assistant",
                                i, m->role, chat_form_name(t->form));
    }
    if (t->system_required && (n == 0 || !is_role(&msgs[0], "system")))
        return tr_error_set(err,
                            "message 0 is not a system message, and the %s chat template of "
                            "this model then writes a default system message (with today's "
                            "date) that is not reproduced; start the conversation with a "
                            "system message",
                            chat_form_name(t->form));
    if (t->form == CHAT_LLAMA2 || t->form == CHAT_MISTRAL_V1 || t->form == CHAT_MISTRAL_V3 ||
        t->form == CHAT_MISTRAL_V3_TEKKEN) {
        size_t first = n > 0 && is_role(&msgs[0], "system") ? 1 : 0;

        for (size_t i = first; i < n; i++) {
            const char *want = (i - first) % 2 == 0 ? "user" : "assistant";

            if (!is_role(&msgs[i], want))
                return tr_error_set(err,
                                    "message %zu has role \"%.40s\" but the %s chat template "
                                    "needs %s here: after an optional system message, "
                                    "user and assistant turns alternate",
                                    i, msgs[i].role, chat_form_name(t->form), want);
        }
    }
    return 0;
}

static void render_chatml(struct renderer *w, const struct chat_template *t,
                          const struct chat_message *msgs, size_t n, bool gen)
{
    if (t->default_system != NULL && n > 0 && !is_role(&msgs[0], "system")) {
        put(w, "<|im_start|>system\n");
        put(w, t->default_system);
        put(w, "<|im_end|>\n");
    }
    for (size_t i = 0; i < n; i++) {
        bool reply = is_role(&msgs[i], "assistant");

        put(w, "<|im_start|>");
        put(w, msgs[i].role);
        put(w, "\n");
        if (reply)
            reply_begin(w);
        put(w, msgs[i].content);
        put(w, "<|im_end|>");
        if (reply)
            reply_end(w);
        put(w, "\n");
    }
    if (gen)
        put(w, "<|im_start|>assistant\n");
}

/* NOTE: this is the basic Llama 3 form. The Llama 3.1+ templates also write a system header
 * with "Cutting Knowledge Date" and "Today Date" lines, which is not reproduced. */
static void render_llama3(struct renderer *w, const struct chat_message *msgs, size_t n, bool gen)
{
    for (size_t i = 0; i < n; i++) {
        bool reply = is_role(&msgs[i], "assistant");

        put(w, "<|start_header_id|>");
        put(w, msgs[i].role);
        put(w, "<|end_header_id|>\n\n");
        if (reply)
            reply_begin(w);
        put_stripped(w, msgs[i].content);
        put(w, "<|eot_id|>");
        if (reply)
            reply_end(w);
    }
    if (gen)
        put(w, "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

/* Llama 2 puts the system message into the first user turn. Every turn after the first
 * starts with the BOS string, and the caller adds the first BOS as an id. */
static void render_llama2(struct renderer *w, const struct chat_template *t,
                          const struct chat_message *msgs, size_t n)
{
    size_t first = n > 0 && is_role(&msgs[0], "system") ? 1 : 0;

    for (size_t i = first; i < n; i++) {
        if (is_role(&msgs[i], "user")) {
            struct renderer inner = {0};

            if (i > first)
                put(w, "<s>");
            put(w, "[INST] ");
            if (i == first && first == 1) {
                put(&inner, "<<SYS>>\n");
                put(&inner, msgs[0].content);
                put(&inner, "\n<</SYS>>\n\n");
            }
            put(&inner, msgs[i].content);
            if (inner.failed)
                w->failed = true;
            else
                put_stripped(w, inner.text.s);
            tok_buf_dispose(&inner.text);
            put(w, " [/INST]");
        } else {
            reply_begin(w);
            put(w, " ");
            put_stripped(w, msgs[i].content);
            put(w, " ");
            put(w, t->eos);
            reply_end(w);
        }
    }
}

/* Mistral v1, v3 and v3-tekken, which differ in the spaces around [INST] and [/INST] and
 * before the reply (v3 also trims the reply). The system message has no block of its own but
 * opens the first user turn, or the last one with system_last (v3). The caller adds BOS as an
 * id.
 * NOTE: Mistral's v3 templates write the system message only when the conversation ends with
 * that user turn, so for a conversation that ends with an assistant reply transformers drops
 * it. Here it goes into the last user turn in either case, as mistral-common encodes it. */
static void render_mistral_inst(struct renderer *w, const struct chat_template *t,
                                const struct chat_message *msgs, size_t n)
{
    bool v1 = t->form == CHAT_MISTRAL_V1, tekken = t->form == CHAT_MISTRAL_V3_TEKKEN;
    const char *open = "[INST] ";
    size_t first = n > 0 && is_role(&msgs[0], "system") ? 1 : 0;
    size_t system_turn = first;

    if (t->system_last) {
        for (size_t i = first; i < n; i++) {
            if (is_role(&msgs[i], "user"))
                system_turn = i;
        }
    }
    if (v1)
        open = " [INST] ";
    else if (tekken)
        open = "[INST]";
    for (size_t i = first; i < n; i++) {
        if (is_role(&msgs[i], "user")) {
            put(w, open);
            if (i == system_turn && first == 1) {
                put(w, msgs[0].content);
                put(w, "\n\n");
            }
            put(w, msgs[i].content);
            put(w, v1 ? " [/INST]" : "[/INST]");
        } else {
            reply_begin(w);
            if (!tekken)
                put(w, " ");
            if (t->form == CHAT_MISTRAL_V3)
                put_stripped(w, msgs[i].content);
            else
                put(w, msgs[i].content);
            put(w, t->eos);
            reply_end(w);
        }
    }
}

/* Mistral v7 and v7-tekken: system messages get a [SYSTEM_PROMPT] block where they appear,
 * and v7 writes a space after each opening marker and before the reply. */
static void render_mistral_v7(struct renderer *w, const struct chat_template *t,
                              const struct chat_message *msgs, size_t n)
{
    const char *space = t->form == CHAT_MISTRAL_V7 ? " " : "";

    for (size_t i = 0; i < n; i++) {
        if (is_role(&msgs[i], "system")) {
            put(w, "[SYSTEM_PROMPT]");
            put(w, space);
            put(w, msgs[i].content);
            put(w, "[/SYSTEM_PROMPT]");
        } else if (is_role(&msgs[i], "user")) {
            put(w, "[INST]");
            put(w, space);
            put(w, msgs[i].content);
            put(w, "[/INST]");
        } else {
            reply_begin(w);
            put(w, space);
            put(w, msgs[i].content);
            put(w, t->eos);
            reply_end(w);
        }
    }
}

static void render_zephyr(struct renderer *w, const struct chat_template *t,
                          const struct chat_message *msgs, size_t n, bool gen)
{
    for (size_t i = 0; i < n; i++) {
        bool reply = is_role(&msgs[i], "assistant");

        put(w, "<|");
        put(w, msgs[i].role);
        put(w, "|>\n");
        if (reply)
            reply_begin(w);
        put(w, msgs[i].content);
        put(w, t->eos);
        if (reply)
            reply_end(w);
        put(w, "\n");
    }
    if (gen)
        put(w, "<|assistant|>\n");
}

int chat_render(struct chat_render *out, const struct chat_template *t,
                const struct chat_message *msgs, size_t n, bool add_generation_prompt,
                struct tr_error *err)
{
    struct renderer w = {0};

    memset(out, 0, sizeof(*out));
    if (check_roles(t, msgs, n, err) < 0)
        return -1;
    put(&w, "");
    switch (t->form) {
    case CHAT_CHATML:
        render_chatml(&w, t, msgs, n, add_generation_prompt);
        break;
    case CHAT_LLAMA3:
        render_llama3(&w, msgs, n, add_generation_prompt);
        break;
    case CHAT_LLAMA2:
        render_llama2(&w, t, msgs, n);
        break;
    case CHAT_MISTRAL_V1:
    case CHAT_MISTRAL_V3:
    case CHAT_MISTRAL_V3_TEKKEN:
        render_mistral_inst(&w, t, msgs, n);
        break;
    case CHAT_MISTRAL_V7:
    case CHAT_MISTRAL_V7_TEKKEN:
        render_mistral_v7(&w, t, msgs, n);
        break;
    case CHAT_ZEPHYR:
        render_zephyr(&w, t, msgs, n, add_generation_prompt);
        break;
    }
    if (w.failed) {
        tok_buf_dispose(&w.text);
        free(w.spans);
        return tr_error_set(err, "out of memory rendering a chat");
    }
    out->text = w.text.s;
    out->len = w.text.len;
    out->spans = w.spans;
    out->n_spans = w.n_spans / 2;
    out->last_reply_start = w.last_reply_start;
    return 0;
}

size_t chat_prefix_ids(const struct tok *tok, const struct chat_template *t, const int32_t **ids,
                       int32_t *slot)
{
    size_t n = tok_special_prefix(tok, ids);

    if (n == 0 && t->bos_first && tok_bos_id(tok) >= 0) {
        *slot = tok_bos_id(tok);
        *ids = slot;
        n = 1;
    }
    return n;
}

void chat_render_dispose(struct chat_render *r)
{
    free(r->text);
    free(r->spans);
    memset(r, 0, sizeof(*r));
}
