/* atelier tokenize: encodes text to token ids with a model's tokenizer.json, or decodes ids
 * back to text, and prints the result on stdout. */
#include "commands.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "tok.h"

#define TOKENIZE_MAX_STDIN_BYTES ((size_t)8 << 20) /* the most that tok_encode takes */

static void usage(FILE *f)
{
    fprintf(f, "usage: atelier tokenize --model DIR [--no-special] [--tokens] [TEXT]\n"
               "       atelier tokenize --model DIR --chat [--tokens] [MESSAGES]\n"
               "       atelier tokenize --model DIR --decode [--no-special] [IDS]\n"
               "\n"
               "Encodes TEXT with DIR/tokenizer.json (and DIR/tokenizer_config.json when present)\n"
               "and prints the token ids as a JSON array. Without TEXT, or with TEXT \"-\", the\n"
               "text is read from standard input.\n"
               "\n"
               "  --model DIR    model directory that contains tokenizer.json\n"
               "  --no-special   encode: do not add BOS/EOS from the post-processor;\n"
               "                 decode: leave out special tokens\n"
               "  --tokens       encode: print the token strings as a second JSON array\n"
               "  --chat         read a JSON array of {\"role\", \"content\"} messages, render it\n"
               "                 with the model's chat template and an assistant prompt at the\n"
               "                 end, and print the rendered text (a JSON string) and its ids\n"
               "  --decode       read a JSON array of ids (IDS) and print the decoded text\n"
               "  --help         show this help\n");
}

/* Reads all of standard input; returns NULL (with a message printed) on failure. */
static char *read_stdin(size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);

    while (buf != NULL) {
        size_t got;

        if (n + 1 >= cap) {
            char *p = cap > TOKENIZE_MAX_STDIN_BYTES ? NULL : realloc(buf, cap * 2);

            if (p == NULL) {
                fprintf(stderr,
                        "atelier tokenize: standard input is over %zu bytes or out of "
                        "memory\n",
                        TOKENIZE_MAX_STDIN_BYTES);
                free(buf);
                return NULL;
            }
            buf = p;
            cap *= 2;
        }
        got = fread(buf + n, 1, cap - n - 1, stdin);
        n += got;
        if (got == 0)
            break;
    }
    if (buf != NULL) {
        buf[n] = '\0';
        *len = n;
    }
    return buf;
}

static int print_ids_json(const int32_t *ids, size_t n)
{
    putchar('[');
    for (size_t i = 0; i < n; i++)
        printf("%s%d", i > 0 ? "," : "", ids[i]);
    printf("]\n");
    return 0;
}

static int print_tokens_json(const struct tok *tok, const int32_t *ids, size_t n)
{
    json_t *arr = json_array();
    char *text;

    for (size_t i = 0; arr != NULL && i < n; i++) {
        const char *t = tok_id_to_token(tok, ids[i]);

        json_array_append_new(arr, json_string(t != NULL ? t : ""));
    }
    text = arr != NULL ? json_dumps(arr, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(arr);
    if (text == NULL)
        return -1;
    printf("%s\n", text);
    free(text);
    return 0;
}

static int run_encode(const struct tok *tok, const char *text, size_t len, bool add_special,
                      bool show_tokens)
{
    struct tr_error err = {{0}};
    int32_t *ids = NULL;
    size_t n = 0;

    if (tok_encode(tok, text, len, add_special, &ids, &n, &err) < 0) {
        fprintf(stderr, "atelier tokenize: %s\n", err.msg);
        return 1;
    }
    print_ids_json(ids, n);
    if (show_tokens)
        print_tokens_json(tok, ids, n);
    free(ids);
    return 0;
}

static int encode_chat(const struct tok *tok, const char *model_dir, json_t *list, bool show_tokens)
{
    struct tr_error err = {{0}};
    struct chat_template t;
    struct chat_render r = {0};
    struct chat_message *msgs = NULL;
    const int32_t *prefix;
    int32_t slot, *ids = NULL, *all = NULL;
    size_t n = json_array_size(list), n_prefix, n_ids = 0;
    char *quoted = NULL;
    json_t *text = NULL;
    int rc = 1;

    if (chat_template_detect(&t, tok, model_dir, &err) < 0) {
        fprintf(stderr, "atelier tokenize: %s\n", err.msg);
        return 1;
    }
    msgs = calloc(n + 1, sizeof(*msgs));
    for (size_t i = 0; msgs != NULL && i < n; i++) {
        json_t *m = json_array_get(list, i);

        msgs[i].role = json_string_value(json_object_get(m, "role"));
        msgs[i].content = json_string_value(json_object_get(m, "content"));
        if (msgs[i].role == NULL || msgs[i].content == NULL) {
            fprintf(stderr,
                    "atelier tokenize: message %zu needs \"role\" and \"content\" "
                    "strings\n",
                    i);
            goto out;
        }
    }
    if (msgs == NULL || chat_render(&r, &t, msgs, n, true, &err) < 0 ||
        tok_encode(tok, r.text, r.len, false, &ids, &n_ids, &err) < 0) {
        fprintf(stderr, "atelier tokenize: %s\n", msgs == NULL ? "out of memory" : err.msg);
        goto out;
    }
    n_prefix = chat_prefix_ids(tok, &t, &prefix, &slot);
    all = malloc((n_prefix + n_ids + 1) * sizeof(*all));
    text = json_string(r.text);
    quoted = text != NULL ? json_dumps(text, JSON_ENCODE_ANY) : NULL;
    if (all == NULL || quoted == NULL)
        goto out;
    if (n_prefix > 0)
        memcpy(all, prefix, n_prefix * sizeof(*all));
    if (n_ids > 0)
        memcpy(all + n_prefix, ids, n_ids * sizeof(*all));
    printf("%s\n", quoted);
    print_ids_json(all, n_prefix + n_ids);
    if (show_tokens)
        print_tokens_json(tok, all, n_prefix + n_ids);
    rc = 0;
out:
    json_decref(text);
    free(quoted);
    free(all);
    free(ids);
    free(msgs);
    chat_render_dispose(&r);
    chat_template_dispose(&t);
    return rc;
}

static int run_chat(const struct tok *tok, const char *model_dir, const char *text, size_t len,
                    bool show_tokens)
{
    json_error_t jerr;
    json_t *list = json_loadb(text, len, 0, &jerr);
    int rc;

    if (!json_is_array(list) || json_array_size(list) == 0) {
        fprintf(stderr,
                "atelier tokenize: --chat expects a non-empty JSON array of messages "
                "such as [{\"role\": \"user\", \"content\": \"Hi\"}], got: %.60s\n",
                text);
        json_decref(list);
        return 1;
    }
    rc = encode_chat(tok, model_dir, list, show_tokens);
    json_decref(list);
    return rc;
}

static int run_decode(const struct tok *tok, const char *text, size_t len, bool skip_special)
{
    struct tr_error err = {{0}};
    json_error_t jerr;
    json_t *arr = json_loadb(text, len, 0, &jerr);
    int32_t *ids = NULL;
    char *out = NULL;
    size_t n;
    int rc = 1;

    if (!json_is_array(arr)) {
        fprintf(stderr,
                "atelier tokenize: --decode expects a JSON array of token ids such as "
                "[1, 15043], got: %.60s\n",
                text);
        goto out;
    }
    n = json_array_size(arr);
    ids = malloc((n + 1) * sizeof(*ids));
    if (ids == NULL)
        goto out;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(arr, i);

        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            (size_t)json_integer_value(v) >= tok_vocab_size(tok)) {
            fprintf(stderr,
                    "atelier tokenize: element %zu of the ids is not a token id in [0, "
                    "%zu)\n",
                    i, tok_vocab_size(tok));
            goto out;
        }
        ids[i] = (int32_t)json_integer_value(v);
    }
    if (tok_decode(tok, ids, n, skip_special, &out, &err) < 0) {
        fprintf(stderr, "atelier tokenize: %s\n", err.msg);
        goto out;
    }
    printf("%s\n", out);
    rc = 0;
out:
    free(out);
    free(ids);
    json_decref(arr);
    return rc;
}

int cmd_tokenize(int argc, char **argv)
{
    const char *model_dir = NULL, *text = NULL;
    bool no_special = false, decode = false, show_tokens = false, chat = false;
    struct tr_error err = {{0}};
    struct tok *tok = NULL;
    char *input = NULL;
    size_t len;
    int rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
            model_dir = argv[++i];
        } else if (strncmp(argv[i], "--model=", 8) == 0) {
            model_dir = argv[i] + 8;
        } else if (strcmp(argv[i], "--no-special") == 0) {
            no_special = true;
        } else if (strcmp(argv[i], "--decode") == 0) {
            decode = true;
        } else if (strcmp(argv[i], "--chat") == 0) {
            chat = true;
        } else if (strcmp(argv[i], "--tokens") == 0) {
            show_tokens = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--") == 0 && i + 1 < argc && text == NULL) {
            text = argv[++i];
        } else if (argv[i][0] == '-' && strcmp(argv[i], "-") != 0) {
            fprintf(stderr, "atelier tokenize: unknown option %s (see --help)\n", argv[i]);
            return 2;
        } else if (text == NULL) {
            text = argv[i];
        } else {
            fprintf(stderr, "atelier tokenize: more than one TEXT argument; quote the text as "
                            "one argument\n");
            return 2;
        }
    }
    if (model_dir == NULL) {
        fprintf(stderr, "atelier tokenize: missing --model DIR (the directory that contains "
                        "tokenizer.json)\n");
        return 2;
    }
    if (tok_open(&tok, model_dir, &err) < 0) {
        fprintf(stderr, "atelier tokenize: %s\n", err.msg);
        return 1;
    }
    if (text == NULL || strcmp(text, "-") == 0) {
        input = read_stdin(&len);
        if (input == NULL) {
            tok_free(tok);
            return 1;
        }
        text = input;
    } else {
        len = strlen(text);
    }
    if (decode)
        rc = run_decode(tok, text, len, no_special);
    else if (chat)
        rc = run_chat(tok, model_dir, text, len, show_tokens);
    else
        rc = run_encode(tok, text, len, !no_special, show_tokens);
    free(input);
    tok_free(tok);
    return rc;
}
