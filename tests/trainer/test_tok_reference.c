/* test_tok_reference: encodes every reference string of the tokenizers in the corpus and
 * compares the ids (and for the Python baselines the decodes) with the references. Each
 * mismatch prints the text, the expected ids and the actual ids. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tok.h"

static void print_ids(const char *label, const int32_t *ids, size_t n)
{
    printf("#   %s [", label);
    for (size_t i = 0; i < n; i++)
        printf("%s%d", i ? "," : "", ids[i]);
    printf("]\n");
}

static int32_t *json_ids(json_t *arr, size_t *n)
{
    int32_t *ids = malloc((json_array_size(arr) + 1) * sizeof(*ids));

    *n = json_array_size(arr);
    for (size_t i = 0; ids != NULL && i < *n; i++)
        ids[i] = (int32_t)json_integer_value(json_array_get(arr, i));
    return ids;
}

/* Encodes text and checks the ids; returns true when they match. */
static bool check_encoding(const struct tok *tok, const char *name, const char *text, size_t len,
                           json_t *expected_arr)
{
    struct tr_error err = {{0}};
    int32_t *ids = NULL, *want = NULL;
    size_t n = 0, n_want = 0;
    bool same;

    want = json_ids(expected_arr, &n_want);
    if (tok_encode(tok, text, len, true, &ids, &n, &err) < 0) {
        printf("# %s: encode failed: %s\n", name, err.msg);
        free(want);
        CHECK(!"encode failed");
        return false;
    }
    same = n == n_want && (n == 0 || memcmp(ids, want, n * sizeof(*ids)) == 0);
    if (!same) {
        printf("# %s: mismatch for text \"%s\"\n", name, text);
        print_ids("expected", want, n_want);
        print_ids("actual  ", ids, n);
    }
    CHECK(same);
    free(ids);
    free(want);
    return same;
}

static void check_jsonl(const char *corpus, const char *dir)
{
    char path[4200], model_dir[4096], line[1 << 16];
    struct tr_error err = {{0}};
    struct tok *tok = NULL;
    FILE *f;
    int lines = 0;

    snprintf(model_dir, sizeof(model_dir), "%s/%s", corpus, dir);
    snprintf(path, sizeof(path), "%s/encodings.jsonl", model_dir);
    if (tok_open(&tok, model_dir, &err) < 0) {
        printf("# %s: %s\n", dir, err.msg);
        CHECK(!"tok_open failed");
        return;
    }
    f = fopen(path, "r");
    CHECK(f != NULL);
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        json_error_t jerr;
        json_t *row = json_loads(line, JSON_ALLOW_NUL, &jerr);
        json_t *text = json_object_get(row, "text");

        if (row == NULL)
            continue;
        check_encoding(tok, dir, json_string_value(text), json_string_length(text),
                       json_object_get(row, "ids"));
        lines++;
        json_decref(row);
    }
    if (f != NULL)
        fclose(f);
    printf("# %s: %d reference lines\n", dir, lines);
    CHECK(lines >= 30);
    tok_free(tok);
}

static void check_decode(const struct tok *tok, const char *name, const char *id, json_t *entry,
                         const char *key, bool skip)
{
    json_t *want = json_object_get(entry, key);
    int32_t *ids;
    size_t n;
    char *text = NULL;
    struct tr_error err = {{0}};

    if (!json_is_string(want))
        return;
    ids = json_ids(json_object_get(entry, "input_ids"), &n);
    if (tok_decode(tok, ids, n, skip, &text, &err) < 0)
        printf("# %s %s: decode failed: %s\n", name, id, err.msg);
    if (text == NULL || strcmp(text, json_string_value(want)) != 0)
        printf("# %s %s (%s): expected \"%s\", got \"%s\"\n", name, id, key,
               json_string_value(want), text ? text : "(null)");
    CHECK_EQ_STR(text, json_string_value(want));
    free(text);
    free(ids);
}

static void check_baseline(const char *corpus, const char *tok_dir, const char *baseline)
{
    char path[4200], model_dir[4096];
    struct tr_error err = {{0}};
    struct tok *tok = NULL;
    json_error_t jerr;
    json_t *inputs, *base, *list, *entries;
    int count = 0;

    snprintf(path, sizeof(path), "%s/tokenizers/_python_baselines/inputs.json", corpus);
    inputs = json_load_file(path, 0, &jerr);
    snprintf(path, sizeof(path), "%s/tokenizers/_python_baselines/%s", corpus, baseline);
    base = json_load_file(path, 0, &jerr);
    snprintf(model_dir, sizeof(model_dir), "%s/tokenizers/%s", corpus, tok_dir);
    CHECK(inputs != NULL);
    CHECK(base != NULL);
    if (tok_open(&tok, model_dir, &err) < 0) {
        printf("# %s: %s\n", tok_dir, err.msg);
        CHECK(!"tok_open failed");
        goto out;
    }
    list = json_object_get(inputs, "inputs");
    entries = json_object_get(base, "entries");
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *in = json_array_get(list, i);
        const char *id = json_string_value(json_object_get(in, "id"));
        json_t *text = json_object_get(in, "text");
        json_t *entry = json_object_get(entries, id);

        if (entry == NULL)
            continue;
        check_encoding(tok, baseline, json_string_value(text), json_string_length(text),
                       json_object_get(entry, "input_ids"));
        check_decode(tok, baseline, id, entry, "decoded_with_special", false);
        check_decode(tok, baseline, id, entry, "decoded_skip_special", true);
        count++;
    }
    printf("# %s: %d baseline entries\n", baseline, count);
    CHECK(count >= 30);
out:
    tok_free(tok);
    json_decref(inputs);
    json_decref(base);
}

int main(void)
{
    const char *corpus = getenv("ATELIER_CORPUS");

    if (corpus == NULL)
        corpus = "../shared/corpus";
    check_jsonl(corpus, "tokenizers/gpt2");
    check_jsonl(corpus, "tokenizers/mistral-7b-v0.1");
    check_jsonl(corpus, "tokenizers/smollm-135m-instruct");
    check_jsonl(corpus, "tokenizers/tinyllama-1.1b-chat-v1.0");
    check_jsonl(corpus, "models/stories260K");
    check_baseline(corpus, "gpt2", "openai-community__gpt2.json");
    check_baseline(corpus, "tinyllama-1.1b-chat-v1.0", "TinyLlama__TinyLlama-1.1B-Chat-v1.0.json");
    return test_finish();
}
