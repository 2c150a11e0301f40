/* test_chat: renders one conversation with each chat template form and compares the text
 * with what the form's reference template produces. It also checks the assistant spans,
 * the Mistral variants over two turns, the Qwen default system messages read from the
 * corpus configs, and the errors. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "harness.h"
#include "tok.h"

static const char tiny_tokenizer[] =
    "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"</s>\": 1}, \"merges\": []}}";

static const struct chat_message convo[] = {
    {"system", "You are terse."},
    {"user", "Hi"},
    {"assistant", "Hello."},
    {"user", "2+2?"},
};

/* The tiny tokenizer with a BOS token, as Mistral models have. */
static const char bos_tokenizer[] = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, "
                                    "\"</s>\": 1, \"<s>\": 2}, \"merges\": []}}";

/* Opens tokenizer_json with a config that contains tmpl and eos_token "</s>". */
static struct tok *open_with_template(const char *tokenizer_json, const char *tmpl)
{
    struct tr_error err = {{0}};
    struct tok *tok = NULL;
    json_t *config = json_pack("{s:s, s:s}", "chat_template", tmpl, "eos_token", "</s>");
    char *text = json_dumps(config, 0);

    if (tok_open_json(&tok, tokenizer_json, strlen(tokenizer_json), text, strlen(text), "inline",
                      &err) < 0)
        printf("# %s\n", err.msg);
    free(text);
    json_decref(config);
    return tok;
}

static struct tok *with_template(const char *tmpl)
{
    return open_with_template(tiny_tokenizer, tmpl);
}

/* Mistral chat templates in the shape the tokenizer_config.json files of Mistral's instruct
 * models have them: Mistral-7B-Instruct-v0.2 (v1), Mistral-Large-Instruct-2407 (v3),
 * Mistral-Nemo-Instruct-2407 (v3-tekken), Mistral-Large-Instruct-2411 (v7) and
 * Mistral-Small-3.1-24B-Instruct-2503 (v7-tekken). The expected texts are what Jinja renders from
 * them with bos_token "" and eos_token "</s>". */
static const char mistral_v1[] =
    "{%- if messages[0]['role'] == 'system' %}\n"
    "    {%- set system_message = messages[0]['content'] %}\n"
    "    {%- set loop_messages = messages[1:] %}\n"
    "{%- else %}\n"
    "    {%- set loop_messages = messages %}\n"
    "{%- endif %}\n"
    "{{- bos_token }}\n"
    "{%- for message in loop_messages %}\n"
    "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}\n"
    "        {{- raise_exception('user and assistant turns must alternate') }}\n"
    "    {%- endif %}\n"
    "    {%- if message['role'] == 'user' %}\n"
    "        {%- if loop.first and system_message is defined %}\n"
    "            {{- ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}\n"
    "        {%- else %}\n"
    "            {{- ' [INST] ' + message['content'] + ' [/INST]' }}\n"
    "        {%- endif %}\n"
    "    {%- elif message['role'] == 'assistant' %}\n"
    "        {{- ' ' + message['content'] + eos_token }}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n";

static const char mistral_v3[] =
    "{%- if messages[0][\"role\"] == \"system\" %}\n"
    "    {%- set system_message = messages[0][\"content\"] %}\n"
    "    {%- set loop_messages = messages[1:] %}\n"
    "{%- else %}\n"
    "    {%- set loop_messages = messages %}\n"
    "{%- endif %}\n"
    "{%- set user_messages = loop_messages | selectattr(\"role\", \"equalto\", \"user\") | list "
    "%}\n"
    "{{- bos_token }}\n"
    "{%- for message in loop_messages %}\n"
    "    {%- if message[\"role\"] == \"user\" %}\n"
    "        {%- if tools is defined and tools and message == user_messages[-1] %}\n"
    "            {{- \"[AVAILABLE_TOOLS] \" + tools | tojson + \"[/AVAILABLE_TOOLS]\" }}\n"
    "        {%- endif %}\n"
    "        {%- if loop.last and system_message is defined %}\n"
    "            {{- \"[INST] \" + system_message + \"\\n\\n\" + message[\"content\"] + "
    "\"[/INST]\" }}\n"
    "        {%- else %}\n"
    "            {{- \"[INST] \" + message[\"content\"] + \"[/INST]\" }}\n"
    "        {%- endif %}\n"
    "    {%- elif message[\"role\"] == \"assistant\" %}\n"
    "        {{- \" \" + message[\"content\"] | trim + eos_token }}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n";

static const char mistral_v3_tekken[] =
    "{%- if messages[0][\"role\"] == \"system\" %}\n"
    "    {%- set system_message = messages[0][\"content\"] %}\n"
    "    {%- set loop_messages = messages[1:] %}\n"
    "{%- else %}\n"
    "    {%- set loop_messages = messages %}\n"
    "{%- endif %}\n"
    "{{- bos_token }}\n"
    "{%- for message in loop_messages %}\n"
    "    {%- if message[\"role\"] == \"user\" %}\n"
    "        {%- if loop.last and system_message is defined %}\n"
    "            {{- \"[INST]\" + system_message + \"\\n\\n\" + message[\"content\"] + \"[/INST]\" "
    "}}\n"
    "        {%- else %}\n"
    "            {{- \"[INST]\" + message[\"content\"] + \"[/INST]\" }}\n"
    "        {%- endif %}\n"
    "    {%- elif message[\"role\"] == \"assistant\" %}\n"
    "        {{- message[\"content\"] + eos_token }}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n";

static const char mistral_v7[] =
    "{{ bos_token }}{% for message in messages %}"
    "{% if message['role'] == 'system' %}"
    "{{ '[SYSTEM_PROMPT] ' + message['content'] + '[/SYSTEM_PROMPT]' }}"
    "{% elif message['role'] == 'user' %}{{ '[INST] ' + message['content'] + '[/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'] + eos_token }}"
    "{% else %}{{ raise_exception('roles are system, user and assistant') }}{% endif %}"
    "{% endfor %}";

static const char mistral_v7_tekken[] =
    "{%- set today = strftime_now('%Y-%m-%d') %}\n"
    "{%- set default_system_message = 'You are a helpful assistant. Today is ' + today + '.' %}\n"
    "{{- bos_token }}\n"
    "{%- if messages[0]['role'] == 'system' %}\n"
    "    {%- set system_message = messages[0]['content'] %}\n"
    "    {%- set loop_messages = messages[1:] %}\n"
    "{%- else %}\n"
    "    {%- set system_message = default_system_message %}\n"
    "    {%- set loop_messages = messages %}\n"
    "{%- endif %}\n"
    "{{- '[SYSTEM_PROMPT]' + system_message + '[/SYSTEM_PROMPT]' }}\n"
    "{%- for message in loop_messages %}\n"
    "    {%- if message['role'] == 'user' %}\n"
    "        {{- '[INST]' + message['content'] + '[/INST]' }}\n"
    "    {%- elif message['role'] == 'system' %}\n"
    "        {{- '[SYSTEM_PROMPT]' + message['content'] + '[/SYSTEM_PROMPT]' }}\n"
    "    {%- elif message['role'] == 'assistant' %}\n"
    "        {{- message['content'] + eos_token }}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n";

/* Detects the chat form of tok's template. On failure prints why, fails a check, frees tok
 * and returns false. */
static bool detect_or_fail(struct tok *tok, struct chat_template *t, struct tr_error *err)
{
    if (tok != NULL && chat_template_detect(t, tok, "inline", err) == 0)
        return true;
    printf("# %s\n", tok != NULL ? err->msg : "no tokenizer");
    CHECK(!"template not recognised");
    tok_free(tok);
    return false;
}

static void check_form(const char *tmpl, enum chat_form form, const char *expected,
                       const char *reply)
{
    struct tok *tok = with_template(tmpl);
    struct chat_template t;
    struct chat_render r;
    struct tr_error err = {{0}};

    if (!detect_or_fail(tok, &t, &err))
        return;
    printf("# form %s\n", chat_form_name(form));
    CHECK_EQ_INT(t.form, form);
    CHECK(chat_render(&r, &t, convo, 4, true, &err) == 0);
    CHECK_EQ_STR(r.text, expected);
    CHECK_EQ_INT(r.n_spans, 1);
    if (r.n_spans == 1) {
        char span[256];

        snprintf(span, sizeof(span), "%.*s", (int)(r.spans[1] - r.spans[0]), r.text + r.spans[0]);
        CHECK_EQ_STR(span, reply);
    }
    chat_render_dispose(&r);
    chat_template_dispose(&t);
    tok_free(tok);
}

static void test_forms(void)
{
    check_form("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
               "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}",
               CHAT_CHATML,
               "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
               "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n"
               "<|im_start|>assistant\n",
               "Hello.<|im_end|>");
    check_form("{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}"
               "<|end_header_id|>\n\n{{ m['content'] | trim }}<|eot_id|>{% endfor %}",
               CHAT_LLAMA3,
               "<|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
               "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
               "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
               "<|start_header_id|>user<|end_header_id|>\n\n2+2?<|eot_id|>"
               "<|start_header_id|>assistant<|end_header_id|>\n\n",
               "Hello.<|eot_id|>");
    check_form("{{ bos_token + '[INST] ' + '<<SYS>>\\n' }}", CHAT_LLAMA2,
               "[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi [/INST] Hello. </s><s>[INST] 2+2? "
               "[/INST]",
               " Hello. </s>");
    check_form(mistral_v1, CHAT_MISTRAL_V1,
               " [INST] You are terse.\n\nHi [/INST] Hello.</s> [INST] 2+2? [/INST]",
               " Hello.</s>");
    check_form(mistral_v3, CHAT_MISTRAL_V3,
               "[INST] Hi[/INST] Hello.</s>[INST] You are terse.\n\n2+2?[/INST]", " Hello.</s>");
    check_form(mistral_v3_tekken, CHAT_MISTRAL_V3_TEKKEN,
               "[INST]Hi[/INST]Hello.</s>[INST]You are terse.\n\n2+2?[/INST]", "Hello.</s>");
    check_form(mistral_v7, CHAT_MISTRAL_V7,
               "[SYSTEM_PROMPT] You are terse.[/SYSTEM_PROMPT][INST] Hi[/INST] Hello.</s>"
               "[INST] 2+2?[/INST]",
               " Hello.</s>");
    check_form(mistral_v7_tekken, CHAT_MISTRAL_V7_TEKKEN,
               "[SYSTEM_PROMPT]You are terse.[/SYSTEM_PROMPT][INST]Hi[/INST]Hello.</s>"
               "[INST]2+2?[/INST]",
               "Hello.</s>");
    check_form("{% for m in messages %}<|user|>\n<|assistant|>\n{% endfor %}", CHAT_ZEPHYR,
               "<|system|>\nYou are terse.</s>\n<|user|>\nHi</s>\n<|assistant|>\nHello.</s>\n"
               "<|user|>\n2+2?</s>\n<|assistant|>\n",
               "Hello.</s>");
}

static const struct chat_message two_turns[] = {
    {"system", "You are terse."}, {"user", "Hi"}, {"assistant", "Hello."}, {"user", "2+2?"},
    {"assistant", "4"},
};

/* Renders a system message and two full turns with a Mistral template, and checks the text,
 * the BOS id that goes before it and the two assistant spans with their EOS. */
static void check_mistral_turns(const char *tmpl, enum chat_form form, const char *expected,
                                const char *reply1, const char *reply2)
{
    struct tok *tok = open_with_template(bos_tokenizer, tmpl);
    struct chat_template t;
    struct chat_render r;
    struct tr_error err = {{0}};
    const int32_t *prefix = NULL;
    int32_t slot;
    char span[256];

    if (!detect_or_fail(tok, &t, &err))
        return;
    printf("# two turns, form %s\n", chat_form_name(form));
    CHECK_EQ_INT(t.form, form);
    CHECK(t.bos_first);
    CHECK_EQ_INT(chat_prefix_ids(tok, &t, &prefix, &slot), 1);
    CHECK_EQ_INT(prefix[0], 2);
    CHECK(chat_render(&r, &t, two_turns, 5, false, &err) == 0);
    CHECK_EQ_STR(r.text, expected);
    CHECK_EQ_INT(r.n_spans, 2);
    if (r.n_spans == 2) {
        snprintf(span, sizeof(span), "%.*s", (int)(r.spans[1] - r.spans[0]), r.text + r.spans[0]);
        CHECK_EQ_STR(span, reply1);
        snprintf(span, sizeof(span), "%.*s", (int)(r.spans[3] - r.spans[2]), r.text + r.spans[2]);
        CHECK_EQ_STR(span, reply2);
        CHECK_EQ_INT(r.spans[3], r.len);
        CHECK_EQ_INT(r.last_reply_start, r.spans[2]);
    }
    chat_render_dispose(&r);
    chat_template_dispose(&t);
    tok_free(tok);
}

/* Renders msgs with tmpl and compares the text with expected. */
static void check_render(const char *tmpl, const struct chat_message *msgs, size_t n,
                         const char *expected)
{
    struct tok *tok = with_template(tmpl);
    struct chat_template t;
    struct chat_render r;
    struct tr_error err = {{0}};

    CHECK(tok != NULL);
    if (!detect_or_fail(tok, &t, &err))
        return;
    CHECK(chat_render(&r, &t, msgs, n, true, &err) == 0);
    CHECK_EQ_STR(r.text, expected);
    chat_render_dispose(&r);
    chat_template_dispose(&t);
    tok_free(tok);
}

static void test_mistral_forms(void)
{
    static const struct chat_message padded[] = {{"user", "Hi"}, {"assistant", "  Hello.  "}};
    static const struct chat_message no_system[] = {{"user", "Hi"}};
    static const char first_turn_v3[] =
        "{{- bos_token }}{%- for message in loop_messages %}"
        "{%- if loop.first and system_message is defined %}"
        "{{- \"[INST] \" + system_message + \"\\n\\n\" + message[\"content\"] + \"[/INST]\" }}"
        "{%- else %}{{- \"[INST] \" + message[\"content\"] + \"[/INST]\" }}{%- endif %}"
        "{%- endfor %}";

    check_mistral_turns(mistral_v1, CHAT_MISTRAL_V1,
                        " [INST] You are terse.\n\nHi [/INST] Hello.</s> [INST] 2+2? [/INST] 4</s>",
                        " Hello.</s>", " 4</s>");
    /* Jinja drops the system message here because the conversation ends with a reply. The
     * renderer keeps it in the last user turn, where inference puts it. */
    check_mistral_turns(mistral_v3, CHAT_MISTRAL_V3,
                        "[INST] Hi[/INST] Hello.</s>[INST] You are terse.\n\n2+2?[/INST] 4</s>",
                        " Hello.</s>", " 4</s>");
    check_mistral_turns(mistral_v3_tekken, CHAT_MISTRAL_V3_TEKKEN,
                        "[INST]Hi[/INST]Hello.</s>[INST]You are terse.\n\n2+2?[/INST]4</s>",
                        "Hello.</s>", "4</s>");
    check_mistral_turns(mistral_v7, CHAT_MISTRAL_V7,
                        "[SYSTEM_PROMPT] You are terse.[/SYSTEM_PROMPT][INST] Hi[/INST] "
                        "Hello.</s>[INST] 2+2?[/INST] 4</s>",
                        " Hello.</s>", " 4</s>");
    check_mistral_turns(mistral_v7_tekken, CHAT_MISTRAL_V7_TEKKEN,
                        "[SYSTEM_PROMPT]You are terse.[/SYSTEM_PROMPT][INST]Hi[/INST]Hello.</s>"
                        "[INST]2+2?[/INST]4</s>",
                        "Hello.</s>", "4</s>");

    /* v3 trims the reply, v1 and v3-tekken keep its spaces. */
    check_render(mistral_v3, padded, 2, "[INST] Hi[/INST] Hello.</s>");
    check_render(mistral_v3_tekken, padded, 2, "[INST]Hi[/INST]  Hello.  </s>");
    check_render(mistral_v1, padded, 2, " [INST] Hi [/INST]   Hello.  </s>");
    /* A template whose loop condition puts the system message into the first turn. */
    check_render(first_turn_v3, two_turns, 5,
                 "[INST] You are terse.\n\nHi[/INST] Hello.</s>[INST] 2+2?[/INST] 4</s>");
    /* v7 without a system message writes none, unless the template has a default. */
    check_render(mistral_v7, no_system, 1, "[INST] Hi[/INST]");
    {
        struct tok *tok = with_template(mistral_v7_tekken);
        struct chat_template t;
        struct chat_render r;
        struct tr_error err = {{0}};

        CHECK(chat_template_detect(&t, tok, "inline", &err) == 0);
        CHECK(t.system_required);
        CHECK(chat_render(&r, &t, no_system, 1, true, &err) < 0);
        printf("# %s\n", err.msg);
        CHECK(strstr(err.msg, "default system message") != NULL);
        CHECK(strstr(err.msg, "start the conversation with a system message") != NULL);
        chat_template_dispose(&t);
        tok_free(tok);
    }
}

/* Checks that [INST] templates of no known Mistral form are rejected with the file name and
 * the {"prompt", "completion"} alternative. */
static void test_unknown_inst_forms(void)
{
    static const char *const templates[] = {
        /* The early Mistral-7B-Instruct-v0.2 template: "[INST] " with " [/INST]" and replies
         * without a leading space. */
        "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
        "{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == "
        "'assistant' %}{{ message['content'] + eos_token }}{% endif %}{% endfor %}",
        /* [INST] written as template text instead of a string literal. */
        "{{ bos_token }}{% for m in messages %}[INST] {{ m['content'] }} [/INST]{% endfor %}",
        /* v1 and v3-tekken literals mixed. */
        "{{ ' [INST] ' + m['content'] + ' [/INST]' }}{{ '[INST]' + m['content'] + '[/INST]' }}",
        /* [SYSTEM_PROMPT] with v1 spacing. */
        "{{ '[SYSTEM_PROMPT] ' + s + '[/SYSTEM_PROMPT]' }}{{ ' [INST] ' + u + ' [/INST]' }}",
    };

    for (size_t i = 0; i < sizeof(templates) / sizeof(templates[0]); i++) {
        struct tok *tok = with_template(templates[i]);
        struct chat_template t;
        struct tr_error err = {{0}};

        CHECK(tok != NULL);
        CHECK(chat_template_detect(&t, tok, "models/mymistral", &err) < 0);
        printf("# %s\n", err.msg);
        CHECK(strstr(err.msg, "models/mymistral/tokenizer_config.json") != NULL);
        CHECK(strstr(err.msg, "none of the known Mistral forms") != NULL);
        CHECK(strstr(err.msg, "{\"prompt\", \"completion\"}") != NULL);
        tok_free(tok);
    }
}

/* Renders a conversation without a system message with a corpus tokenizer_config.json. */
static void check_corpus_default_system(const char *corpus, const char *name,
                                        const char *expected_start)
{
    char path[4096];
    json_error_t jerr;
    json_t *config;
    struct tok *tok = NULL;
    struct chat_template t;
    struct chat_render r;
    struct tr_error err = {{0}};

    snprintf(path, sizeof(path), "%s/tokenizers/%s/tokenizer_config.json", corpus, name);
    config = json_load_file(path, 0, &jerr);
    CHECK(config != NULL);
    if (config == NULL)
        return;
    tok = with_template(json_string_value(json_object_get(config, "chat_template")));
    json_decref(config);
    CHECK(tok != NULL);
    if (tok == NULL)
        return;
    CHECK(chat_template_detect(&t, tok, name, &err) == 0);
    CHECK_EQ_INT(t.form, CHAT_CHATML);
    CHECK(chat_render(&r, &t, convo + 1, 2, false, &err) == 0);
    printf("# %s renders: %s\n", name, r.text);
    CHECK(strncmp(r.text, expected_start, strlen(expected_start)) == 0);
    chat_render_dispose(&r);
    /* With a system message of its own, no default is added. */
    CHECK(chat_render(&r, &t, convo, 2, false, &err) == 0);
    CHECK(strncmp(r.text, "<|im_start|>system\nYou are terse.<|im_end|>\n", 44) == 0);
    chat_render_dispose(&r);
    chat_template_dispose(&t);
    tok_free(tok);
}

static void test_errors(const char *corpus)
{
    struct tok *tok = with_template("{{ messages }}");
    struct chat_template t;
    struct chat_render r;
    struct tr_error err = {{0}};
    static const struct chat_message swapped[] = {{"assistant", "Hello."}, {"user", "Hi"}};
    static const struct chat_message tool[] = {{"tool", "42"}};
    char dir[4096];

    CHECK(chat_template_detect(&t, tok, "mymodel", &err) < 0);
    printf("# %s\n", err.msg);
    CHECK(strstr(err.msg, "mymodel/tokenizer_config.json") != NULL &&
          strstr(err.msg, "not one of the recognised forms") != NULL);
    tok_free(tok);

    snprintf(dir, sizeof(dir), "%s/tokenizers/gpt2", corpus);
    CHECK(tok_open(&tok, dir, &err) == 0);
    CHECK(chat_template_detect(&t, tok, dir, &err) < 0);
    CHECK(strstr(err.msg, "has no chat_template") != NULL);
    tok_free(tok);

    tok = with_template("[INST] <<SYS>>");
    CHECK(chat_template_detect(&t, tok, "inline", &err) == 0);
    CHECK(chat_render(&r, &t, swapped, 2, false, &err) < 0);
    printf("# %s\n", err.msg);
    CHECK(strstr(err.msg, "message 0 has role \"assistant\"") != NULL);
    CHECK(chat_render(&r, &t, tool, 1, false, &err) < 0);
    CHECK(strstr(err.msg, "role \"tool\"") != NULL);
    chat_template_dispose(&t);
    tok_free(tok);
}

int main(void)
{
    const char *corpus = getenv("ATELIER_CORPUS");

    if (corpus == NULL)
        corpus = "../shared/corpus";
    test_forms();
    test_mistral_forms();
    test_unknown_inst_forms();
    check_corpus_default_system(corpus, "qwen2-0.5b",
                                "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n"
                                "<|im_start|>user\nHi<|im_end|>\n");
    check_corpus_default_system(corpus, "qwen2.5-0.5b-instruct",
                                "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You "
                                "are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi");
    check_corpus_default_system(corpus, "smollm-135m-instruct", "<|im_start|>user\nHi<|im_end|>\n");
    test_errors(corpus);
    return test_finish();
}
