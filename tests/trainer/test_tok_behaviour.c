/* test_tok_behaviour: tokenizer features that the corpus references do not reach, such as
 * Split behaviours, the Llama 3 and Qwen2 regexes, Metaspace schemes, added-token flags,
 * normalizers and streaming decode. It also checks the special token ids of the corpus
 * tokenizers and the errors for unsupported or malformed files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "tok.h"

static struct tok *open_text(const char *json, const char *config, char *msg, size_t msg_size)
{
    struct tr_error err = {{0}};
    struct tok *tok = NULL;

    if (tok_open_json(&tok, json, strlen(json), config, config ? strlen(config) : 0, "inline",
                      &err) < 0) {
        snprintf(msg, msg_size, "%s", err.msg);
        return NULL;
    }
    return tok;
}

/* Encodes text without special tokens and writes the ids as "a,b,c" into out. */
static const char *ids_of(const struct tok *tok, const char *text, bool add_special)
{
    static char out[1024];
    struct tr_error err = {{0}};
    int32_t *ids = NULL;
    size_t n = 0, pos = 0;

    if (tok == NULL)
        return "(no tokenizer)";
    if (tok_encode(tok, text, strlen(text), add_special, &ids, &n, &err) < 0) {
        snprintf(out, sizeof(out), "error: %s", err.msg);
        return out;
    }
    out[0] = '\0';
    for (size_t i = 0; i < n && pos < sizeof(out) - 16; i++)
        pos += (size_t)snprintf(out + pos, sizeof(out) - pos, "%s%d", i ? "," : "", ids[i]);
    free(ids);
    return out;
}

/* Builds a tokenizer whose vocab contains whole pieces and sets ignore_merges, so every
 * pre-token found in the vocab comes out as one id and the ids show how text was split. */
static struct tok *piece_tokenizer(const char *pre_tokenizer, const char *vocab, const char *extra)
{
    char json[8192], msg[512];
    struct tok *tok;

    snprintf(json, sizeof(json),
             "{\"added_tokens\": [%s], \"normalizer\": null, \"pre_tokenizer\": %s,"
             " \"model\": {\"type\": \"BPE\", \"ignore_merges\": true, \"vocab\": {%s},"
             " \"merges\": []}, \"post_processor\": null, \"decoder\": null}",
             extra, pre_tokenizer, vocab);
    tok = open_text(json, NULL, msg, sizeof(msg));
    if (tok == NULL)
        printf("# piece tokenizer failed: %s\n", msg);
    return tok;
}

static void test_split_behaviours(void)
{
    static const char vocab[] =
        "\"the\": 0, \"-\": 1, \"final\": 2, \"countdown\": 3, \"--\": 4, \"the-\": 5, "
        "\"final-\": 6, \"-final\": 7, \"-countdown\": 8";
    static const char *const behaviours[] = {"Removed", "Isolated", "MergedWithPrevious",
                                             "MergedWithNext", "Contiguous"};
    static const char *const expected[] = {"0,2,3", "0,1,2,1,1,3", "5,6,1,3", "0,7,1,8",
                                           "0,1,2,4,3"};

    for (size_t i = 0; i < 5; i++) {
        char pre[256];
        struct tok *tok;

        snprintf(pre, sizeof(pre),
                 "{\"type\": \"Split\", \"pattern\": {\"String\": \"-\"}, \"behavior\": \"%s\","
                 " \"invert\": false}",
                 behaviours[i]);
        tok = piece_tokenizer(pre, vocab, "");
        printf("# Split %s\n", behaviours[i]);
        CHECK_EQ_STR(ids_of(tok, "the-final--countdown", false), expected[i]);
        tok_free(tok);
    }
}

static void test_llama3_and_qwen_regex(void)
{
    static const char llama3[] =
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| "
        "?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+";
    static const char qwen[] =
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}| "
        "?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+";
    /* Byte-level alphabet: a space is "Ġ". */
    static const char vocab[] = "\"Hello\": 0, \"Ġworld\": 1, \"Ġ\": 2, \"123\": 3, \"45\": 4,"
                                " \"1\": 5, \"2\": 6, \"3\": 7, \"4\": 8, \"5\": 9, \"'LL\": 10,"
                                " \"ĠWe\": 11, \"Ġé\": 12";
    char pre[1024];
    struct tok *tok;

    snprintf(pre, sizeof(pre),
             "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": "
             "{\"Regex\": \"%s\"}, \"behavior\": \"Isolated\", \"invert\": false}, {\"type\": "
             "\"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": false}]}",
             llama3);
    tok = piece_tokenizer(pre, vocab, "");
    /* Digits group by three from the left; the case-insensitive contraction matches 'LL. */
    CHECK_EQ_STR(ids_of(tok, "Hello world 12345", false), "0,1,2,3,4");
    CHECK_EQ_STR(ids_of(tok, " We'LL", false), "11,10");
    tok_free(tok);

    snprintf(pre, sizeof(pre),
             "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": "
             "{\"Regex\": \"%s\"}, \"behavior\": \"Isolated\", \"invert\": false}, {\"type\": "
             "\"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": false}]}",
             qwen);
    tok = piece_tokenizer(pre, vocab, "");
    CHECK_EQ_STR(ids_of(tok, "Hello world 12345", false), "0,1,2,5,6,7,8,9");
    tok_free(tok);
}

static void test_metaspace(void)
{
    static const char vocab[] = "\"▁a\": 0, \"▁b\": 1, \"a\": 2, \"b\": 3, \"<x>\": 4, \"▁a▁b\": 5";
    static const char added[] = "{\"id\": 4, \"content\": \"<x>\", \"special\": true}";
    struct tok *tok;

    tok = piece_tokenizer("{\"type\": \"Metaspace\", \"replacement\": \"▁\", "
                          "\"prepend_scheme\": \"always\", \"split\": true}",
                          vocab, added);
    CHECK_EQ_STR(ids_of(tok, "a b", false), "0,1");
    CHECK_EQ_STR(ids_of(tok, "<x>a", false), "4,0");
    tok_free(tok);
    tok = piece_tokenizer("{\"type\": \"Metaspace\", \"replacement\": \"▁\", "
                          "\"prepend_scheme\": \"first\", \"split\": true}",
                          vocab, added);
    /* Only text at the very start of the input gets the prefix. */
    CHECK_EQ_STR(ids_of(tok, "a", false), "0");
    CHECK_EQ_STR(ids_of(tok, "<x>a", false), "4,2");
    tok_free(tok);
    tok = piece_tokenizer("{\"type\": \"Metaspace\", \"replacement\": \"▁\", "
                          "\"prepend_scheme\": \"never\", \"split\": false}",
                          vocab, added);
    CHECK_EQ_STR(ids_of(tok, "a", false), "2");
    CHECK_EQ_STR(ids_of(tok, " a b", false), "5");
    tok_free(tok);
}

static void test_added_token_flags(void)
{
    static const char vocab[] = "\"a\": 0, \"Ġ\": 1, \"b\": 2, \"Ġb\": 3, \"ab\": 4";
    static const char added[] =
        "{\"id\": 10, \"content\": \"<L>\", \"lstrip\": true, \"special\": true},"
        "{\"id\": 11, \"content\": \"<R>\", \"rstrip\": true, \"special\": true},"
        "{\"id\": 12, \"content\": \"ab\", \"single_word\": true, \"special\": false,"
        " \"normalized\": false}";
    struct tok *tok =
        piece_tokenizer("{\"type\": \"ByteLevel\", \"add_prefix_space\": false}", vocab, added);

    CHECK_EQ_STR(ids_of(tok, "a <L>", false), "0,10");
    CHECK_EQ_STR(ids_of(tok, "<R> b", false), "11,2");
    CHECK_EQ_STR(ids_of(tok, "a <R> b", false), "0,1,11,2");
    /* single_word: "ab" inside "aab" is not a match, so BPE encodes the whole word. */
    CHECK_EQ_STR(ids_of(tok, "ab", false), "12");
    CHECK(strcmp(ids_of(tok, "aab", false), "12") != 0);
    /* Punctuation (U+3002 here) is not a word character, so "ab" next to it still matches;
     * the punctuation itself has no token and is dropped. */
    CHECK_EQ_STR(ids_of(tok, "ab\xE3\x80\x82", false), "12");
    CHECK(!tok_is_special(tok, 12));
    CHECK(tok_is_special(tok, 10));
    tok_free(tok);
}

static void test_normalizers(void)
{
    static const char vocab[] = "\"é\": 0, \"e\": 1, \"́\": 2, \"abc\": 3, \"x\": 4";
    struct tok *tok;
    char json[2048], msg[512];

    snprintf(json, sizeof(json),
             "{\"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"NFC\"},"
             " {\"type\": \"Lowercase\"}, {\"type\": \"Strip\", \"strip_left\": true,"
             " \"strip_right\": true}]}, \"pre_tokenizer\": null, \"model\": {\"type\": \"BPE\","
             " \"ignore_merges\": true, \"vocab\": {%s}, \"merges\": []}}",
             vocab);
    tok = open_text(json, NULL, msg, sizeof(msg));
    CHECK(tok != NULL);
    /* e + combining acute (U+0301) composes to é; ABC lowercases; spaces are stripped. */
    CHECK_EQ_STR(ids_of(tok, "e\xCC\x81", false), "0");
    CHECK_EQ_STR(ids_of(tok, "  ABC ", false), "3");
    tok_free(tok);

    snprintf(json, sizeof(json),
             "{\"normalizer\": {\"type\": \"NFKD\"}, \"model\": {\"type\": \"BPE\","
             " \"vocab\": {%s}, \"merges\": []}}",
             vocab);
    tok = open_text(json, NULL, msg, sizeof(msg));
    CHECK_EQ_STR(ids_of(tok, "é", false), "1,2");
    tok_free(tok);
}

static void test_merges_forms(void)
{
    char msg[512];
    struct tok *a = open_text("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1,"
                              " \"ab\": 2, \"abb\": 3}, \"merges\": [\"a b\", \"ab b\"]}}",
                              NULL, msg, sizeof(msg));
    struct tok *b = open_text("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1,"
                              " \"ab\": 2, \"abb\": 3}, \"merges\": [[\"a\", \"b\"], [\"ab\","
                              " \"b\"]]}}",
                              NULL, msg, sizeof(msg));

    CHECK_EQ_STR(ids_of(a, "abbab", false), "3,2");
    CHECK_EQ_STR(ids_of(b, "abbab", false), "3,2");
    tok_free(a);
    tok_free(b);
}

static void test_unsupported_and_malformed(void)
{
    char msg[512] = "";
    struct tr_error err = {{0}};
    struct tok *tok;

    tok = open_text("{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", -1.0]]}}", NULL, msg,
                    sizeof(msg));
    CHECK(tok == NULL);
    printf("# %s\n", msg);
    CHECK(strstr(msg, "Unigram") != NULL);
    CHECK(strstr(msg, "only BPE") != NULL);
    tok = open_text("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}}", NULL, msg,
                    sizeof(msg));
    CHECK(tok == NULL);
    CHECK(strstr(msg, "WordPiece") != NULL);
    tok = open_text("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": "
                    "[\"a q\"]}}",
                    NULL, msg, sizeof(msg));
    CHECK(tok == NULL);
    CHECK(strstr(msg, "merges[0]") != NULL);
    tok =
        open_text("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}", NULL, msg, sizeof(msg));
    printf("# %s\n", msg);
    CHECK(tok == NULL);
    CHECK(strstr(msg, "tokenizer.json: invalid JSON") != NULL);
    tok = open_text("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []},"
                    " \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(\"},"
                    " \"behavior\": \"Isolated\"}}",
                    NULL, msg, sizeof(msg));
    CHECK(tok == NULL);
    CHECK(strstr(msg, "invalid regex") != NULL);
    tok = open_text("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []},"
                    " \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}}",
                    NULL, msg, sizeof(msg));
    CHECK(tok == NULL);
    CHECK(strstr(msg, "BertPreTokenizer") != NULL);
    CHECK(tok_open(&tok, "/nonexistent/model", &err) < 0);
    printf("# %s\n", err.msg);
    CHECK(strstr(err.msg, "/nonexistent/model") != NULL);
    CHECK(strstr(err.msg, "tokenizer.json") != NULL);

    tok = open_text("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}", NULL,
                    msg, sizeof(msg));
    CHECK(tok != NULL);
    CHECK(strstr(ids_of(tok, "a\xC3(", false), "not valid UTF-8 at byte 1") != NULL);
    {
        int32_t bad = 7;
        char *text = NULL;

        CHECK(tok_decode(tok, &bad, 1, false, &text, &err) < 0);
        CHECK(strstr(err.msg, "token id 7") != NULL);
    }
    tok_free(tok);
}

static void open_corpus(struct tok **tok, const char *corpus, const char *name)
{
    char dir[4096];
    struct tr_error err = {{0}};

    snprintf(dir, sizeof(dir), "%s/tokenizers/%s", corpus, name);
    if (tok_open(tok, dir, &err) < 0)
        printf("# %s: %s\n", name, err.msg);
}

static void test_special_ids(const char *corpus)
{
    struct tok *gpt2 = NULL, *tiny = NULL, *smol = NULL;
    struct timespec t0, t1;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    open_corpus(&smol, corpus, "smollm-135m-instruct");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("# SmolLM tokenizer (49152 tokens) loaded in %.3f s\n",
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    open_corpus(&gpt2, corpus, "gpt2");
    open_corpus(&tiny, corpus, "tinyllama-1.1b-chat-v1.0");
    CHECK(gpt2 != NULL);
    CHECK(tiny != NULL);
    CHECK(smol != NULL);
    if (gpt2 == NULL || tiny == NULL || smol == NULL)
        goto out;
    CHECK_EQ_INT(tok_vocab_size(gpt2), 50257);
    CHECK_EQ_INT(tok_eos_id(gpt2), 50256);
    CHECK_EQ_INT(tok_bos_id(tiny), 1);
    CHECK_EQ_INT(tok_eos_id(tiny), 2);
    CHECK_EQ_INT(tok_pad_id(tiny), 2);
    CHECK_EQ_INT(tok_eos_id(smol), 2);
    CHECK_EQ_INT(tok_bos_id(smol), 1);
    CHECK(tok_is_special(smol, 2));
    CHECK(!tok_is_special(smol, 100));
    CHECK_EQ_INT(tok_token_to_id(gpt2, "Ġworld"), 995);
    CHECK_EQ_STR(tok_id_to_token(gpt2, 995), "Ġworld");
    CHECK(tok_chat_template(smol) != NULL);
    CHECK(tok_chat_template(gpt2) == NULL);
    /* add_special only changes tokenizers with a post-processor that adds tokens. */
    CHECK_EQ_STR(ids_of(tiny, "Hi", true), "1,6324");
    CHECK_EQ_STR(ids_of(tiny, "Hi", false), "6324");
    CHECK_EQ_STR(ids_of(gpt2, "Hi", true), "17250");
out:
    tok_free(gpt2);
    tok_free(tiny);
    tok_free(smol);
}

/* Decodes ids one at a time with tok_decode_piece and joins the pieces. */
static void check_streaming(const struct tok *tok, const char *text)
{
    struct tr_error err = {{0}};
    int32_t *ids = NULL;
    size_t n = 0;
    char joined[1024] = "", *full = NULL;

    CHECK(tok_encode(tok, text, strlen(text), false, &ids, &n, &err) == 0);
    for (size_t i = 1; i <= n; i++) {
        char *piece = NULL;

        if (tok_decode_piece(tok, ids, i, false, &piece, &err) == 0 &&
            strlen(joined) + strlen(piece) < sizeof(joined))
            strcat(joined, piece);
        /* A piece never ends inside a UTF-8 character. */
        CHECK(piece != NULL &&
              (strlen(piece) == 0 || ((unsigned char)piece[strlen(piece) - 1] & 0xC0) != 0xC0));
        free(piece);
    }
    CHECK(tok_decode(tok, ids, n, false, &full, &err) == 0);
    CHECK_EQ_STR(joined, full);
    free(full);
    free(ids);
}

static void test_decode(const char *corpus)
{
    struct tok *gpt2 = NULL, *tiny = NULL;
    struct tr_error err = {{0}};
    char *text = NULL;
    int32_t bad_bytes[] = {1, 3 + 0xC6, 3 + 0xC7}; /* <s>, then <0xC6><0xC7>: not UTF-8 */

    open_corpus(&gpt2, corpus, "gpt2");
    open_corpus(&tiny, corpus, "tinyllama-1.1b-chat-v1.0");
    if (gpt2 == NULL || tiny == NULL) {
        CHECK(!"corpus tokenizers missing");
        goto out;
    }
    check_streaming(gpt2, "héllo wörld 😀 日本語");
    check_streaming(tiny, "héllo wörld 😀 日本語");
    /* Byte tokens that are not valid UTF-8 become one U+FFFD each. */
    CHECK(tok_decode(tiny, bad_bytes + 1, 2, false, &text, &err) == 0);
    CHECK_EQ_STR(text, "\xEF\xBF\xBD\xEF\xBF\xBD");
    free(text);
    text = NULL;
    CHECK(tok_decode(tiny, bad_bytes, 1, true, &text, &err) == 0);
    CHECK_EQ_STR(text, "");
    free(text);
out:
    tok_free(gpt2);
    tok_free(tiny);
}

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[4200];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    if (f != NULL) {
        fputs(text, f);
        fclose(f);
    }
}

/* special_tokens_map.json and chat_template.jinja fill what tokenizer_config.json leaves
 * out; add_eos_token of a Llama-style config makes encoding add EOS. */
static void test_side_files(void)
{
    static const char json[] =
        "{\"added_tokens\": [{\"id\": 1, \"content\": \"<s>\", \"special\": true},"
        " {\"id\": 2, \"content\": \"</s>\", \"special\": true}],"
        " \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\":"
        " {\"id\": \"<s>\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}],"
        " \"special_tokens\": {\"<s>\": {\"id\": \"<s>\", \"ids\": [1]}}},"
        " \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"<s>\": 1, \"</s>\": 2},"
        " \"merges\": []}}";
    char dir[4096], cmd[4200];
    const char *base = getenv("TMPDIR");
    struct tr_error err = {{0}};
    struct tok *tok = NULL;

    snprintf(dir, sizeof(dir), "%s/atelier-tok-XXXXXX", base ? base : "/tmp");
    CHECK(mkdtemp(dir) != NULL);
    write_text(dir, "tokenizer.json", json);
    write_text(dir, "special_tokens_map.json",
               "{\"eos_token\": {\"content\": \"</s>\", \"lstrip\": false}, \"pad_token\": \"a\"}");
    write_text(dir, "chat_template.jinja", "{% for m in messages %}<|im_start|>{% endfor %}");
    CHECK(tok_open(&tok, dir, &err) == 0);
    if (tok != NULL) {
        CHECK_EQ_INT(tok_eos_id(tok), 2);
        CHECK_EQ_INT(tok_pad_id(tok), 0);
        CHECK(tok_chat_template(tok) != NULL &&
              strstr(tok_chat_template(tok), "<|im_start|>") != NULL);
        CHECK_EQ_STR(ids_of(tok, "a", true), "1,0");
        tok_free(tok);
        tok = NULL;
    }
    write_text(dir, "tokenizer_config.json",
               "{\"tokenizer_class\": \"LlamaTokenizer\", \"add_bos_token\": true,"
               " \"add_eos_token\": true, \"bos_token\": \"<s>\", \"eos_token\": \"</s>\","
               " \"model_max_length\": 1000000000000000019884624838656}");
    CHECK(tok_open(&tok, dir, &err) == 0);
    CHECK_EQ_STR(ids_of(tok, "a", true), "1,0,2");
    tok_free(tok);
    tok = NULL;
    write_text(dir, "tokenizer_config.json", "{\"eos_token\": ");
    CHECK(tok_open(&tok, dir, &err) < 0);
    printf("# %s\n", err.msg);
    CHECK(strstr(err.msg, "tokenizer_config.json: invalid JSON") != NULL);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

/* continuing_subword_prefix marks non-initial characters and is dropped from the right half
 * of a merge; end_of_word_suffix marks the last character. */
static void test_subword_affixes(void)
{
    char msg[512];
    struct tok *tok = open_text("{\"model\": {\"type\": \"BPE\", \"continuing_subword_prefix\":"
                                " \"##\", \"vocab\": {\"a\": 0, \"##b\": 1, \"ab\": 2, \"##a\": 3},"
                                " \"merges\": [[\"a\", \"##b\"]]}}",
                                NULL, msg, sizeof(msg));

    CHECK_EQ_STR(ids_of(tok, "ab", false), "2");
    CHECK_EQ_STR(ids_of(tok, "aa", false), "0,3");
    tok_free(tok);
    tok = open_text("{\"model\": {\"type\": \"BPE\", \"end_of_word_suffix\": \"</w>\","
                    " \"vocab\": {\"a\": 0, \"b</w>\": 1, \"ab</w>\": 2},"
                    " \"merges\": [\"a b</w>\"]}}",
                    NULL, msg, sizeof(msg));
    CHECK_EQ_STR(ids_of(tok, "ab", false), "2");
    tok_free(tok);
}

/* Builds a tokenizer.json whose normalizer is levels nested Sequences around Lowercase. */
static struct tok *nested_normalizer(int levels, char *msg, size_t msg_size)
{
    char json[4096] = "{\"normalizer\": ";
    struct tok *tok;

    for (int i = 0; i < levels; i++)
        strcat(json, "{\"type\": \"Sequence\", \"normalizers\": [");
    strcat(json, "{\"type\": \"Lowercase\"}");
    for (int i = 0; i < levels; i++)
        strcat(json, "]}");
    strcat(json, ", \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}");
    tok = open_text(json, NULL, msg, msg_size);
    return tok;
}

/* Each input limit: the maximum loads and one past it is rejected with a message. */
static void test_limits(void)
{
    char msg[512] = "";
    char *json = malloc(16384);
    struct tok *tok;

    tok = nested_normalizer(16, msg, sizeof(msg));
    CHECK(tok != NULL);
    tok_free(tok);
    tok = nested_normalizer(17, msg, sizeof(msg));
    CHECK(tok == NULL);
    CHECK(strstr(msg, "nesting deeper than 16") != NULL);
    if (json == NULL)
        return;
    for (int len = 4096; len <= 4097; len++) {
        int pos = snprintf(json, 16384,
                           "{\"model\": {\"type\": \"BPE\", \"merges\": [], "
                           "\"vocab\": {\"");

        memset(json + pos, 'x', (size_t)len);
        snprintf(json + pos + len, 16384 - (size_t)(pos + len), "\": 0}}}");
        tok = open_text(json, NULL, msg, sizeof(msg));
        if (len == 4096) {
            CHECK(tok != NULL);
        } else {
            CHECK(tok == NULL);
            CHECK(strstr(msg, "over the limit of 4096") != NULL);
        }
        tok_free(tok);
    }
    free(json);

    /* The largest text one encode call takes, and one byte more. */
    tok = open_text("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}", NULL,
                    msg, sizeof(msg));
    json = malloc(((size_t)8 << 20) + 1);
    if (tok != NULL && json != NULL) {
        struct tr_error err = {{0}};
        int32_t *ids = NULL;
        size_t n = 0;

        memset(json, 'a', ((size_t)8 << 20) + 1);
        CHECK(tok_encode(tok, json, (size_t)8 << 20, false, &ids, &n, &err) == 0);
        CHECK_EQ_INT(n, (size_t)8 << 20);
        free(ids);
        ids = NULL;
        CHECK(tok_encode(tok, json, ((size_t)8 << 20) + 1, false, &ids, &n, &err) < 0);
        CHECK(strstr(err.msg, "over the limit of 8388608 bytes") != NULL);
    }
    free(json);
    tok_free(tok);
}

/* Post-processors add their special tokens only with add_special: a Sequence of ByteLevel and
 * TemplateProcessing (as Llama 3 ships), and RobertaProcessing's cls/sep pair. */
static void test_post_processors(void)
{
    char msg[512];
    struct tok *tok = open_text(
        "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"<b>\": 1, \"<e>\": 2},"
        " \"merges\": []}, \"post_processor\": {\"type\": \"Sequence\", \"processors\":"
        " [{\"type\": \"ByteLevel\"}, {\"type\": \"TemplateProcessing\", \"single\":"
        " [{\"SpecialToken\": {\"id\": \"<b>\", \"type_id\": 0}}, {\"Sequence\": {\"id\":"
        " \"A\", \"type_id\": 0}}, {\"SpecialToken\": {\"id\": \"<e>\", \"type_id\": 0}}],"
        " \"special_tokens\": {\"<b>\": {\"id\": \"<b>\", \"ids\": [1]}, \"<e>\": {\"id\":"
        " \"<e>\", \"ids\": [2]}}}]}}",
        NULL, msg, sizeof(msg));

    CHECK_EQ_STR(ids_of(tok, "aa", true), "1,0,0,2");
    CHECK_EQ_STR(ids_of(tok, "aa", false), "0,0");
    tok_free(tok);
    tok = open_text("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"<s>\": 1,"
                    " \"</s>\": 2}, \"merges\": []}, \"post_processor\": {\"type\":"
                    " \"RobertaProcessing\", \"sep\": [\"</s>\", 2], \"cls\": [\"<s>\", 1]}}",
                    NULL, msg, sizeof(msg));
    CHECK_EQ_STR(ids_of(tok, "a", true), "1,0,2");
    tok_free(tok);
}

int main(void)
{
    const char *corpus = getenv("ATELIER_CORPUS");

    if (corpus == NULL)
        corpus = "../shared/corpus";
    test_split_behaviours();
    test_llama3_and_qwen_regex();
    test_metaspace();
    test_added_token_flags();
    test_normalizers();
    test_merges_forms();
    test_unsupported_and_malformed();
    test_special_ids(corpus);
    test_decode(corpus);
    test_side_files();
    test_subword_affixes();
    test_limits();
    test_post_processors();
    return test_finish();
}
