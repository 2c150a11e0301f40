/* test_data: loads the corpus datasets and small files of each format with real tokenizers
 * and checks the ids, the loss mask, the prompt/completion fields, the SHA-256 and every
 * error (with its line number). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data.h"
#include "tok_internal.h"
#include "harness.h"
#include "tok.h"

static char tmp_dir[4096];
static const char *corpus;

static struct tok *open_tok(const char *name)
{
    char dir[4096];
    struct tr_error err = {{0}};
    struct tok *tok = NULL;

    snprintf(dir, sizeof(dir), "%s/%s", corpus, name);
    if (tok_open(&tok, dir, &err) < 0)
        printf("# %s: %s\n", name, err.msg);
    return tok;
}

static const char *write_file(const char *name, const char *content)
{
    static char path[4200];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", tmp_dir, name);
    f = fopen(path, "wb");
    if (f != NULL) {
        fputs(content, f);
        fclose(f);
    }
    return path;
}

/* Decodes the tokens of ex whose mask is 1. */
static char *decode_targets(const struct tok *tok, const struct data_example *ex)
{
    int32_t *ids = malloc((ex->n + 1) * sizeof(*ids));
    size_t n = 0;
    char *text = NULL;
    struct tr_error err = {{0}};

    for (size_t i = 0; ids != NULL && i < ex->n; i++) {
        if (ex->mask[i])
            ids[n++] = ex->ids[i];
    }
    if (ids != NULL)
        tok_decode(tok, ids, n, false, &text, &err);
    free(ids);
    return text;
}

static struct data_set *load(const char *path, const struct tok *tok, size_t max_tokens)
{
    struct tr_error err = {{0}};
    struct data_set *ds = NULL;

    if (data_load(&ds, path, tok, max_tokens, &err) < 0)
        printf("# %s\n", err.msg);
    return ds;
}

/* Loads path and expects an error whose message contains every one of the given parts. */
static void expect_error(const char *path, const struct tok *tok, size_t max_tokens,
                         const char *part1, const char *part2)
{
    struct tr_error err = {{0}};
    struct data_set *ds = NULL;

    CHECK(data_load(&ds, path, tok, max_tokens, &err) < 0);
    printf("# error: %s\n", err.msg);
    CHECK(ds == NULL);
    CHECK(strstr(err.msg, part1) != NULL);
    CHECK(part2 == NULL || strstr(err.msg, part2) != NULL);
    data_set_free(ds);
}

static void test_corpus_text(const struct tok *gpt2)
{
    char path[4200];
    struct data_set *ds;
    bool all_ok = true;

    snprintf(path, sizeof(path), "%s/datasets/llama-factory-c4_demo.jsonl", corpus);
    ds = load(path, gpt2, 0);
    CHECK(ds != NULL);
    if (ds == NULL)
        return;
    printf("# c4_demo: %zu examples\n", ds->n);
    CHECK_EQ_INT(ds->n, 300);
    CHECK_EQ_STR(ds->sha256_hex,
                 "f51528081ef22279f2840c02c4cd7cdfc372138be0817c5b8714d200af692b78");
    for (size_t i = 0; i < ds->n; i++) {
        const struct data_example *ex = &ds->ex[i];

        all_ok = all_ok && ex->n > 1 && ex->ids[ex->n - 1] == 50256 && ex->line == i + 1 &&
                 ex->prompt == NULL && ex->n_prompt == 0;
        for (size_t k = 0; k < ex->n; k++)
            all_ok = all_ok && ex->mask[k] == 1;
    }
    CHECK(all_ok);
    data_set_free(ds);
}

static void test_corpus_alpaca(const struct tok *smol, const struct tok *gpt2)
{
    char path[4200];
    struct data_set *ds;
    char *targets;

    snprintf(path, sizeof(path), "%s/datasets/llama-factory-identity.json", corpus);
    ds = load(path, smol, 2048);
    CHECK(ds != NULL);
    if (ds != NULL) {
        CHECK_EQ_INT(ds->n, 91);
        CHECK_EQ_INT(ds->ex[0].line, 1);
        CHECK_EQ_STR(ds->ex[0].prompt, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
        CHECK_EQ_STR(ds->ex[0].completion, "Hello! I am {{name}}, an AI assistant developed by "
                                           "{{author}}. How can I assist you today?");
        targets = decode_targets(smol, &ds->ex[0]);
        CHECK_EQ_STR(targets, "Hello! I am {{name}}, an AI assistant developed by {{author}}. "
                              "How can I assist you today?<|im_end|>");
        free(targets);
        data_set_free(ds);
    }
    /* Without a chat template the alpaca sections are used and EOS ends the output. */
    ds = load(path, gpt2, 1024);
    CHECK(ds != NULL);
    if (ds != NULL) {
        CHECK_EQ_STR(ds->ex[2].prompt, "### Instruction:\nWho are you?\n\n### Response:\n");
        targets = decode_targets(gpt2, &ds->ex[2]);
        CHECK_EQ_STR(targets, "I am {{name}}, an AI assistant developed by {{author}}. How can "
                              "I assist you today?<|endoftext|>");
        free(targets);
        data_set_free(ds);
    }
}

static void test_corpus_chat(const struct tok *tiny, const struct tok *gpt2)
{
    char path[4200];
    struct data_set *ds;
    char *targets;

    snprintf(path, sizeof(path), "%s/datasets/llama-factory-mllm_demo.json", corpus);
    ds = load(path, tiny, 2048);
    CHECK(ds != NULL);
    if (ds != NULL) {
        CHECK_EQ_INT(ds->n, 6);
        CHECK_EQ_INT(ds->ex[0].ids[0], 1); /* BOS, as the TinyLlama tokenizer adds it */
        targets = decode_targets(tiny, &ds->ex[0]);
        /* The second reply follows a newline, so its first token has no "▁" (space). */
        CHECK_EQ_STR(targets, "They're Kane and Gretzka from Bayern Munich.</s>They are "
                              "celebrating on the soccer field.</s>");
        free(targets);
        /* Two replies: not a prompt/completion pair for exact match. */
        CHECK(ds->ex[0].completion == NULL);
        CHECK(ds->ex[0].prompt == NULL);
        data_set_free(ds);
    }
    expect_error(path, gpt2, 0, "element 1", "has no chat_template");

    snprintf(path, sizeof(path), "%s/datasets/cli_qa.jsonl", corpus);
    ds = load(path, tiny, 2048);
    CHECK(ds != NULL);
    if (ds != NULL) {
        CHECK_EQ_INT(ds->n, 160);
        CHECK_EQ_STR(ds->ex[0].prompt, "<|user|>\nHow do I cargo locate-project?</s>\n"
                                       "<|assistant|>\n");
        targets = decode_targets(tiny, &ds->ex[0]);
        CHECK_EQ_STR(targets, "cargo locate-project</s>");
        free(targets);
        data_set_free(ds);
    }
}

static void test_prompt_completion(const struct tok *gpt2)
{
    const char *path =
        write_file("pc.jsonl", "{\"prompt\": \"2+2=\", \"completion\": \" 4\"}\r\n"
                               "\n"
                               "{\"prompt\": \"Say hi:\", \"completion\": \" hi\"}\n");
    struct data_set *ds = load(path, gpt2, 0);
    struct tr_error err = {{0}};
    int32_t *ids = NULL;
    size_t n = 0;

    CHECK(ds != NULL);
    if (ds == NULL)
        return;
    CHECK_EQ_INT(ds->n, 2);
    CHECK_EQ_INT(ds->ex[1].line, 3);
    CHECK(tok_encode(gpt2, "2+2= 4", 6, false, &ids, &n, &err) == 0);
    CHECK_EQ_INT(ds->ex[0].n, n + 1);
    CHECK(ds->ex[0].n >= n && memcmp(ds->ex[0].ids, ids, n * sizeof(*ids)) == 0);
    CHECK_EQ_INT(ds->ex[0].ids[n], 50256);
    free(ids);
    CHECK(tok_encode(gpt2, "2+2=", 4, false, &ids, &n, &err) == 0);
    CHECK_EQ_INT(ds->ex[0].n_prompt, n);
    free(ids);
    CHECK_EQ_STR(ds->ex[0].prompt, "2+2=");
    CHECK_EQ_STR(ds->ex[0].completion, " 4");
    data_set_free(ds);
}

static void test_errors(const struct tok *gpt2, const struct tok *tiny)
{
    const char *path;
    char missing[4200];
    struct data_set *ds;

    path = write_file("bad_json.jsonl", "{\"text\": \"a\"}\n{\"text\": \"b\"}\n{\"text\": \n");
    expect_error(path, gpt2, 0, "line 3", "invalid JSON");
    path = write_file("no_fields.jsonl", "{\"text\": \"a\"}\n{\"question\": \"b\"}\n");
    expect_error(path, gpt2, 0, "line 2", "no known fields (found \"question\"); each example");
    path = write_file("other_fields.jsonl", "{\"title\": \"a\", \"story\": \"b\"}\n");
    expect_error(path, gpt2, 0, "line 1", "(found \"title\", \"story\")");
    path = write_file("empty_object.jsonl", "{}\n");
    expect_error(path, gpt2, 0, "line 1", "no known fields (the object is empty)");
    path = write_file("not_string.jsonl", "{\"text\": 5}\n");
    expect_error(path, gpt2, 0, "line 1", "\"text\" must be a string");
    path = write_file("no_completion.jsonl", "{\"prompt\": \"a\"}\n");
    expect_error(path, gpt2, 0, "line 1", "missing \"completion\"");
    path = write_file("empty_completion.jsonl", "{\"prompt\": \"a\", \"completion\": \"\"}\n");
    expect_error(path, gpt2, 0, "line 1", "completion is empty");
    path = write_file("no_output.json", "[{\"instruction\": \"a\", \"input\": \"\"}]");
    expect_error(path, gpt2, 0, "element 1", "\"output\"");
    path = write_file("empty.jsonl", "");
    expect_error(path, gpt2, 0, "no examples", NULL);
    path = write_file("blank.jsonl", "\n  \n\r\n");
    expect_error(path, gpt2, 0, "no examples", NULL);
    path = write_file("empty_array.json", " [ ] ");
    expect_error(path, gpt2, 0, "no examples", NULL);
    path = write_file("array_item.json", "[{\"text\": \"a\"}, 7]");
    expect_error(path, gpt2, 0, "element 2", "expected a JSON object");
    path = write_file("no_reply.jsonl", "{\"messages\": [{\"role\": \"user\", \"content\": "
                                        "\"Hi\"}]}\n");
    expect_error(path, tiny, 0, "line 1", "no assistant message");
    path = write_file("bad_message.jsonl", "{\"messages\": [{\"role\": \"user\"}]}\n");
    expect_error(path, tiny, 0, "messages[0]", "missing \"content\"");
    snprintf(missing, sizeof(missing), "%s/does-not-exist.jsonl", tmp_dir);
    expect_error(missing, gpt2, 0, "does-not-exist.jsonl", "cannot open");

    /* "Hello world" is 2 tokens plus EOS: a limit of 3 passes, 2 is one short. */
    path = write_file("limit.jsonl", "{\"text\": \"Hi\"}\n{\"text\": \"Hello world\"}\n");
    ds = load(path, gpt2, 3);
    CHECK(ds != NULL);
    data_set_free(ds);
    expect_error(path, gpt2, 2, "line 2", "3 tokens, over the limit of 2");
}

/* Writes a byte-level tokenizer (one token per byte, no merges) with the Llama 3 and Llama 2
 * special tokens into a new model directory and returns the tokenizer loaded from it. */
static struct tok *byte_model(const char *name, const char *config, bool bos_template)
{
    static const char *const specials[] = {"<|begin_of_text|>",
                                           "<|start_header_id|>",
                                           "<|end_header_id|>",
                                           "<|eot_id|>",
                                           "<s>",
                                           "</s>"};
    char dir[4200], file[4300];
    char *json = malloc(32768);
    size_t pos = 0;
    FILE *f;
    struct tok *tok = NULL;
    struct tr_error err = {{0}};

    snprintf(dir, sizeof(dir), "%s/%s", tmp_dir, name);
    if (json == NULL || mkdir(dir, 0700) != 0) {
        free(json);
        return NULL;
    }
    pos += (size_t)snprintf(json, 32768, "{\"added_tokens\": [");
    for (size_t i = 0; i < 6; i++)
        pos += (size_t)snprintf(json + pos, 32768 - pos,
                                "%s{\"id\": %zu, \"content\": \"%s\", \"special\": true}",
                                i ? ", " : "", 256 + i, specials[i]);
    pos += (size_t)snprintf(json + pos, 32768 - pos,
                            "], \"pre_tokenizer\": {\"type\": \"ByteLevel\", "
                            "\"add_prefix_space\": false}, \"decoder\": {\"type\": \"ByteLevel\"},"
                            " \"post_processor\": %s, \"model\": {\"type\": \"BPE\","
                            " \"merges\": [], \"vocab\": {",
                            bos_template ? "{\"type\": \"TemplateProcessing\", \"single\": "
                                           "[{\"SpecialToken\": {\"id\": \"<s>\"}}, "
                                           "{\"Sequence\": {\"id\": \"A\"}}], "
                                           "\"special_tokens\": {\"<s>\": {\"ids\": [260]}}}"
                                         : "null");
    for (unsigned b = 0; b < 256; b++) {
        char ch[2];
        size_t n = tok_byte_char(b, ch);

        pos += (size_t)snprintf(json + pos, 32768 - pos, "%s\"%s%.*s\": %u", b ? ", " : "",
                                ch[0] == '"' || ch[0] == '\\' ? "\\" : "", (int)n, ch, b);
    }
    snprintf(json + pos, 32768 - pos, "}}}");
    snprintf(file, sizeof(file), "%s/tokenizer.json", dir);
    f = fopen(file, "w");
    if (f != NULL) {
        fputs(json, f);
        fclose(f);
    }
    free(json);
    snprintf(file, sizeof(file), "%s/tokenizer_config.json", dir);
    f = fopen(file, "w");
    if (f != NULL) {
        fputs(config, f);
        fclose(f);
    }
    if (tok_open(&tok, dir, &err) < 0)
        printf("# %s: %s\n", name, err.msg);
    return tok;
}

static size_t count_id(const struct data_example *ex, int32_t id)
{
    size_t count = 0;

    for (size_t i = 0; i < ex->n; i++)
        count += ex->ids[i] == id;
    return count;
}

/* The Llama 3 template writes bos_token itself, so BOS is added once even though this
 * tokenizer's post-processor adds nothing. Llama 2 text repeats <s> before later turns. */
static void test_bos_rules(void)
{
    static const char convo[] =
        "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": "
        "\"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello.\"},"
        " {\"role\": \"user\", \"content\": \"And?\"}, {\"role\": \"assistant\", "
        "\"content\": \"Fine.\"}]}\n";
    struct tok *llama3 = byte_model("llama3",
                                    "{\"bos_token\": \"<|begin_of_text|>\", \"eos_token\": "
                                    "\"<|eot_id|>\", \"chat_template\": \"{{ bos_token }}"
                                    "<|start_header_id|><|end_header_id|>\"}",
                                    false);
    struct tok *llama2 = byte_model("llama2",
                                    "{\"bos_token\": \"<s>\", \"eos_token\": \"</s>\", "
                                    "\"chat_template\": \"[INST] <<SYS>>\"}",
                                    true);
    const char *path = write_file("convo.jsonl", convo);
    struct data_set *ds;
    char *targets;

    CHECK(llama3 != NULL);
    CHECK(llama2 != NULL);
    if (llama3 == NULL || llama2 == NULL)
        goto out;
    ds = load(path, llama3, 0);
    CHECK(ds != NULL);
    if (ds != NULL) {
        CHECK_EQ_INT(ds->ex[0].ids[0], 256);
        CHECK_EQ_INT(count_id(&ds->ex[0], 256), 1);
        targets = decode_targets(llama3, &ds->ex[0]);
        CHECK_EQ_STR(targets, "Hello.<|eot_id|>Fine.<|eot_id|>");
        free(targets);
        data_set_free(ds);
    }
    ds = load(path, llama2, 0);
    CHECK(ds != NULL);
    if (ds != NULL) {
        CHECK_EQ_INT(ds->ex[0].ids[0], 260);
        CHECK_EQ_INT(count_id(&ds->ex[0], 260), 2);
        targets = decode_targets(llama2, &ds->ex[0]);
        CHECK_EQ_STR(targets, " Hello. </s> Fine. </s>");
        free(targets);
        data_set_free(ds);
    }
out:
    tok_free(llama3);
    tok_free(llama2);
}

/* Writes one chat line of count messages (user turns, then one reply) and loads it. */
static void check_message_limit(const struct tok *tiny, size_t count, bool accepted)
{
    size_t cap = count * 48 + 64, pos;
    char *line = malloc(cap);
    const char *path;
    struct data_set *ds;

    if (line == NULL)
        return;
    pos = (size_t)snprintf(line, cap, "{\"messages\": [");
    for (size_t i = 0; i + 1 < count; i++)
        pos +=
            (size_t)snprintf(line + pos, cap - pos, "{\"role\": \"user\", \"content\": \"x\"}, ");
    snprintf(line + pos, cap - pos, "{\"role\": \"assistant\", \"content\": \"y\"}]}\n");
    path = write_file("many_messages.jsonl", line);
    free(line);
    if (accepted) {
        ds = load(path, tiny, 0);
        CHECK(ds != NULL);
        data_set_free(ds);
    } else {
        expect_error(path, tiny, 0, "line 1", "4097 entries, over the limit of 4096");
    }
}

/* A prompt list with a completion list is one chat, and text parts of a content list are
 * joined; an image part is rejected. */
static void test_chat_variants(const struct tok *tiny)
{
    const char *path = write_file(
        "variants.jsonl",
        "{\"prompt\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"completion\": "
        "[{\"role\": \"assistant\", \"content\": \"Hello.\"}]}\n"
        "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": "
        "\"Hi \"}, {\"type\": \"text\", \"text\": \"there\"}]}, {\"role\": \"assistant\", "
        "\"content\": \"Hello.\"}]}\n");
    struct data_set *ds = load(path, tiny, 0);
    char *targets;

    CHECK(ds != NULL);
    if (ds != NULL) {
        CHECK_EQ_INT(ds->n, 2);
        targets = decode_targets(tiny, &ds->ex[0]);
        CHECK_EQ_STR(targets, "Hello.</s>");
        free(targets);
        CHECK_EQ_STR(ds->ex[0].completion, "Hello.");
        CHECK_EQ_STR(ds->ex[1].prompt, "<|user|>\nHi there</s>\n<|assistant|>\n");
        data_set_free(ds);
    }
    path = write_file("image_part.jsonl",
                      "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": "
                      "\"image\"}]}, {\"role\": \"assistant\", \"content\": \"A cat.\"}]}\n");
    expect_error(path, tiny, 0, "messages[0]: content[0] has type \"image\"", "only text parts");
    path = write_file("bad_pair.jsonl", "{\"prompt\": [{\"role\": \"user\", \"content\": "
                                        "\"Hi\"}], \"completion\": 3}\n");
    expect_error(path, tiny, 0, "line 1", "\"completion\" must be a list of messages");
}

int main(void)
{
    struct tok *gpt2, *smol, *tiny;
    const char *base = getenv("TMPDIR");

    corpus = getenv("ATELIER_CORPUS");
    if (corpus == NULL)
        corpus = "../shared/corpus";
    snprintf(tmp_dir, sizeof(tmp_dir), "%s/atelier-data-XXXXXX", base ? base : "/tmp");
    if (mkdtemp(tmp_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    gpt2 = open_tok("tokenizers/gpt2");
    smol = open_tok("tokenizers/smollm-135m-instruct");
    tiny = open_tok("tokenizers/tinyllama-1.1b-chat-v1.0");
    CHECK(gpt2 != NULL);
    CHECK(smol != NULL);
    CHECK(tiny != NULL);
    if (gpt2 != NULL && smol != NULL && tiny != NULL) {
        test_corpus_text(gpt2);
        test_corpus_alpaca(smol, gpt2);
        test_corpus_chat(tiny, gpt2);
        test_prompt_completion(gpt2);
        test_errors(gpt2, tiny);
        test_chat_variants(tiny);
        check_message_limit(tiny, 4096, true);
        check_message_limit(tiny, 4097, false);
    }
    test_bos_rules();
    tok_free(gpt2);
    tok_free(smol);
    tok_free(tiny);
    {
        char cmd[4200];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
        if (system(cmd) != 0)
            printf("# could not remove %s\n", tmp_dir);
    }
    return test_finish();
}
