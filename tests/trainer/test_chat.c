/* test_chat: renders one conversation with each chat template form and compares the text
 * with what the form's reference template produces. It also checks the assistant spans,
 * the Qwen default system messages read from the corpus configs, and the errors. */
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

/* Opens the tiny tokenizer with a config that contains tmpl and eos_token "</s>". */
static struct tok *with_template(const char *tmpl)
{
    struct tr_error err = {{0}};
    struct tok *tok = NULL;
    json_t *config = json_pack("{s:s, s:s}", "chat_template", tmpl, "eos_token", "</s>");
    char *text = json_dumps(config, 0);

    if (tok_open_json(&tok, tiny_tokenizer, strlen(tiny_tokenizer), text, strlen(text), "inline",
                      &err) < 0)
        printf("# %s\n", err.msg);
    free(text);
    json_decref(config);
    return tok;
}

static void check_form(const char *tmpl, enum chat_form form, const char *expected,
                       const char *reply)
{
    struct tok *tok = with_template(tmpl);
    struct chat_template t;
    struct chat_render r;
    struct tr_error err = {{0}};

    if (tok == NULL || chat_template_detect(&t, tok, "inline", &err) < 0) {
        printf("# %s\n", err.msg);
        CHECK(!"template not recognised");
        tok_free(tok);
        return;
    }
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
    check_form("{{ bos_token }}{% for m in messages %}[INST] {{ m['content'] }} [/INST]"
               "{% endfor %}",
               CHAT_MISTRAL, " [INST] You are terse.\n\nHi [/INST] Hello.</s> [INST] 2+2? [/INST]",
               " Hello.</s>");
    check_form("{% for m in messages %}<|user|>\n<|assistant|>\n{% endfor %}", CHAT_ZEPHYR,
               "<|system|>\nYou are terse.</s>\n<|user|>\nHi</s>\n<|assistant|>\nHello.</s>\n"
               "<|user|>\n2+2?</s>\n<|assistant|>\n",
               "Hello.</s>");
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
