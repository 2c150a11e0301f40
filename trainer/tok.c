/* tok: loads tokenizer.json and tokenizer_config.json and runs the encode pipeline of the
 * Hugging Face tokenizers library: split out added tokens, normalize, pre-tokenize, BPE,
 * post-process. Decoding maps ids back to token strings and runs the decoders. A loaded
 * struct tok is never modified, so threads may share it. */
#include "tok.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tok_internal.h"

/* ---- Reading files ---- */

static int read_file(char **out, size_t *len_out, const char *path, size_t max_bytes,
                     bool missing_ok, struct tr_error *err)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    char *buf;

    *out = NULL;
    *len_out = 0;
    if (f == NULL) {
        if (missing_ok && errno == ENOENT)
            return 0;
        return tr_error_set(err, "%s: cannot open: %s", path, strerror(errno));
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return tr_error_set(err, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > max_bytes) {
        fclose(f);
        return tr_error_set(err, "%s: %lld bytes is over the limit of %zu bytes", path,
                            (long long)st.st_size, max_bytes);
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        fclose(f);
        return tr_error_set(err, "%s: out of memory", path);
    }
    if (fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        fclose(f);
        free(buf);
        return tr_error_set(err, "%s: read failed", path);
    }
    fclose(f);
    buf[st.st_size] = '\0';
    *out = buf;
    *len_out = (size_t)st.st_size;
    return 0;
}

/* ---- Added tokens ---- */

static int added_index_build(struct tok *tok, struct tr_error *err)
{
    size_t size = 16;

    while (size < tok->n_added * 2 + 1)
        size *= 2;
    tok->added_index = calloc(size, sizeof(*tok->added_index));
    if (tok->added_index == NULL)
        return tr_error_set(err, "out of memory");
    tok->added_mask = size - 1;
    for (size_t k = 0; k < tok->n_added; k++) {
        const struct tok_added *a = &tok->added[k];
        size_t i = (size_t)tok_hash_bytes(a->content, a->len) & tok->added_mask;

        while (tok->added_index[i].key != NULL) {
            if (tok->added_index[i].len == a->len &&
                memcmp(tok->added_index[i].key, a->content, a->len) == 0)
                break;
            i = (i + 1) & tok->added_mask;
        }
        tok->added_index[i] = (struct tok_vocab_slot){a->content, (uint32_t)a->len, a->id};
    }
    return 0;
}

/* Makes room for id in the id tables (added tokens may lie past the model's vocab). */
static int grow_vocab(struct tok *tok, size_t id, struct tr_error *err)
{
    char **names;
    uint32_t *lens;

    if (id < tok->vocab_size)
        return 0;
    names = realloc(tok->id_to_token, (id + 2) * sizeof(*names));
    if (names == NULL)
        return tr_error_set(err, "out of memory");
    tok->id_to_token = names;
    lens = realloc(tok->token_len, (id + 2) * sizeof(*lens));
    if (lens == NULL)
        return tr_error_set(err, "out of memory");
    tok->token_len = lens;
    for (size_t i = tok->vocab_size; i <= id + 1; i++) {
        names[i] = NULL;
        lens[i] = 0;
    }
    tok->vocab_size = id + 1;
    return 0;
}

static int parse_added_token(struct tok *tok, json_t *obj, size_t index, struct tr_error *err)
{
    struct tok_added *a = &tok->added[tok->n_added];
    json_t *content = json_object_get(obj, "content");
    json_t *id = json_object_get(obj, "id");
    json_t *normalized = json_object_get(obj, "normalized");

    if (!json_is_string(content) || json_string_length(content) == 0 ||
        json_string_length(content) > TOK_MAX_TOKEN_BYTES || !json_is_integer(id) ||
        json_integer_value(id) < 0 || json_integer_value(id) >= TOK_MAX_VOCAB)
        return tr_error_set(err,
                            "added_tokens[%zu] needs a non-empty \"content\" and an \"id\" "
                            "in [0, %d)",
                            index, TOK_MAX_VOCAB);
    a->len = json_string_length(content);
    a->content = malloc(a->len + 1);
    if (a->content == NULL)
        return tr_error_set(err, "out of memory");
    memcpy(a->content, json_string_value(content), a->len + 1);
    tok->n_added++;
    a->id = (int32_t)json_integer_value(id);
    a->special = json_is_true(json_object_get(obj, "special"));
    a->lstrip = json_is_true(json_object_get(obj, "lstrip"));
    a->rstrip = json_is_true(json_object_get(obj, "rstrip"));
    a->single_word = json_is_true(json_object_get(obj, "single_word"));
    a->normalized = json_is_boolean(normalized) ? json_is_true(normalized) : !a->special;
    if (grow_vocab(tok, (size_t)a->id, err) < 0)
        return -1;
    if (tok->id_to_token[a->id] == NULL) {
        tok->id_to_token[a->id] = strdup(a->content);
        if (tok->id_to_token[a->id] == NULL)
            return tr_error_set(err, "out of memory");
        tok->token_len[a->id] = (uint32_t)a->len;
    }
    return 0;
}

static int load_added_tokens(struct tok *tok, json_t *list, struct tr_error *err)
{
    size_t n = json_array_size(list);

    if (list != NULL && !json_is_array(list) && !json_is_null(list))
        return tr_error_set(err, "added_tokens must be an array");
    if (n > TOK_MAX_VOCAB)
        return tr_error_set(err, "added_tokens has %zu entries, over the limit of %d", n,
                            TOK_MAX_VOCAB);
    tok->added = calloc(n + 1, sizeof(*tok->added));
    if (tok->added == NULL)
        return tr_error_set(err, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (parse_added_token(tok, json_array_get(list, i), i, err) < 0)
            return -1;
    }
    tok->special = calloc(tok->vocab_size + 1, 1);
    if (tok->special == NULL)
        return tr_error_set(err, "out of memory");
    for (size_t i = 0; i < tok->n_added; i++) {
        const struct tok_added *a = &tok->added[i];

        if (a->special)
            tok->special[a->id] = 1;
        tok->added_first[(unsigned char)a->content[0]] |= a->normalized ? 2 : 1;
    }
    return added_index_build(tok, err);
}

/* ---- Post-processor ---- */

static int push_ids(int32_t **ids, size_t *n, json_t *list, struct tr_error *err)
{
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *v = json_array_get(list, i);
        int32_t *p;

        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) >= TOK_MAX_VOCAB)
            return tr_error_set(err,
                                "post_processor: special token ids must be integers in "
                                "[0, %d)",
                                TOK_MAX_VOCAB);
        p = realloc(*ids, (*n + 1) * sizeof(*p));
        if (p == NULL)
            return tr_error_set(err, "out of memory");
        *ids = p;
        p[(*n)++] = (int32_t)json_integer_value(v);
    }
    return 0;
}

static int parse_template(struct tok *tok, json_t *obj, struct tr_error *err)
{
    json_t *single = json_object_get(obj, "single");
    json_t *specials = json_object_get(obj, "special_tokens");
    bool seen_a = false;

    if (!json_is_array(single))
        return tr_error_set(err, "post_processor TemplateProcessing: \"single\" must be an array");
    for (size_t i = 0; i < json_array_size(single); i++) {
        json_t *item = json_array_get(single, i);
        json_t *sp = json_object_get(item, "SpecialToken");

        if (json_object_get(item, "Sequence") != NULL) {
            seen_a = true;
            continue;
        }
        if (!json_is_object(sp) || !json_is_string(json_object_get(sp, "id")))
            return tr_error_set(err,
                                "post_processor TemplateProcessing: single[%zu] is neither "
                                "a Sequence nor a SpecialToken",
                                i);
        {
            const char *name = json_string_value(json_object_get(sp, "id"));
            json_t *entry = json_object_get(specials, name);

            if (!json_is_object(entry))
                return tr_error_set(err,
                                    "post_processor TemplateProcessing: special token "
                                    "\"%.60s\" is missing from special_tokens",
                                    name);
            if (seen_a ? push_ids(&tok->post_suffix, &tok->n_post_suffix,
                                  json_object_get(entry, "ids"), err) < 0
                       : push_ids(&tok->post_prefix, &tok->n_post_prefix,
                                  json_object_get(entry, "ids"), err) < 0)
                return -1;
        }
    }
    return 0;
}

/* BertProcessing and RobertaProcessing: {"cls": ["[CLS]", 101], "sep": ["[SEP]", 102]}. */
static int parse_cls_sep(struct tok *tok, json_t *obj, struct tr_error *err)
{
    json_t *cls = json_array_get(json_object_get(obj, "cls"), 1);
    json_t *sep = json_array_get(json_object_get(obj, "sep"), 1);
    json_t *one;
    int rc;

    if (!json_is_integer(cls) || !json_is_integer(sep))
        return tr_error_set(err, "post_processor: \"cls\" and \"sep\" must be [token, id]");
    one = json_pack("[O]", cls);
    rc = one != NULL ? push_ids(&tok->post_prefix, &tok->n_post_prefix, one, err) : -1;
    json_decref(one);
    if (rc < 0)
        return -1;
    one = json_pack("[O]", sep);
    rc = one != NULL ? push_ids(&tok->post_suffix, &tok->n_post_suffix, one, err) : -1;
    json_decref(one);
    return rc;
}

static int parse_post(struct tok *tok, json_t *obj, int depth, struct tr_error *err)
{
    json_t *t = json_object_get(obj, "type");
    const char *type = json_is_string(t) ? json_string_value(t) : "";

    if (json_is_null(obj) || obj == NULL)
        return 0;
    if (depth > TOK_MAX_COMPONENT_DEPTH)
        return tr_error_set(err, "post_processor: Sequence nesting too deep");
    if (strcmp(type, "TemplateProcessing") == 0)
        return parse_template(tok, obj, err);
    if (strcmp(type, "ByteLevel") == 0)
        return 0; /* only adjusts offsets, which tok does not report */
    if (strcmp(type, "BertProcessing") == 0 || strcmp(type, "RobertaProcessing") == 0)
        return parse_cls_sep(tok, obj, err);
    if (strcmp(type, "Sequence") == 0) {
        json_t *list = json_object_get(obj, "processors");

        for (size_t i = 0; i < json_array_size(list); i++) {
            if (parse_post(tok, json_array_get(list, i), depth + 1, err) < 0)
                return -1;
        }
        return 0;
    }
    return tr_error_set(err,
                        "post_processor type \"%s\" is not supported (supported: "
                        "TemplateProcessing, ByteLevel, BertProcessing, RobertaProcessing, "
                        "Sequence)",
                        type);
}

/* ---- tokenizer_config.json ---- */

/* Returns the token string of a config value: a plain string or {"content": ...}. */
static const char *config_token(json_t *config, const char *key)
{
    json_t *v = json_object_get(config, key);

    if (json_is_object(v))
        v = json_object_get(v, "content");
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int32_t first_known(const struct tok *tok, const char *const *names)
{
    for (size_t i = 0; names[i] != NULL; i++) {
        int32_t id = tok_token_to_id(tok, names[i]);

        if (id >= 0)
            return id;
    }
    return -1;
}

static int set_token(char **slot, int32_t *id_slot, const struct tok *tok, const char *name)
{
    if (name == NULL)
        return 0;
    *slot = strdup(name);
    if (*slot == NULL)
        return -1;
    *id_slot = tok_token_to_id(tok, name);
    return 0;
}

/* transformers rebuilds the post-processor of Llama-style tokenizers from add_bos_token
 * (default true) and add_eos_token (default false) when it loads them, so a config that
 * sets either flag decides which special tokens encoding adds. */
static int apply_add_bos_eos(struct tok *tok, json_t *config, struct tr_error *err)
{
    static const char *const classes[] = {"LlamaTokenizer",
                                          "LlamaTokenizerFast",
                                          "CodeLlamaTokenizer",
                                          "CodeLlamaTokenizerFast",
                                          "GemmaTokenizer",
                                          "GemmaTokenizerFast",
                                          NULL};
    const char *cls = json_string_value(json_object_get(config, "tokenizer_class"));
    json_t *add_bos = json_object_get(config, "add_bos_token");
    json_t *add_eos = json_object_get(config, "add_eos_token");
    bool known = false;

    for (size_t i = 0; cls != NULL && classes[i] != NULL; i++)
        known = known || strcmp(cls, classes[i]) == 0;
    if (!known || (!json_is_boolean(add_bos) && !json_is_boolean(add_eos)))
        return 0;
    free(tok->post_prefix);
    free(tok->post_suffix);
    tok->post_prefix = malloc(sizeof(int32_t));
    tok->post_suffix = malloc(sizeof(int32_t));
    tok->n_post_prefix = tok->n_post_suffix = 0;
    if (tok->post_prefix == NULL || tok->post_suffix == NULL)
        return tr_error_set(err, "out of memory");
    if (!json_is_false(add_bos) && tok->bos_id >= 0)
        tok->post_prefix[tok->n_post_prefix++] = tok->bos_id;
    if (json_is_true(add_eos) && tok->eos_id >= 0)
        tok->post_suffix[tok->n_post_suffix++] = tok->eos_id;
    return 0;
}

static int load_config(struct tok *tok, json_t *config, struct tr_error *err)
{
    static const char *const bos_names[] = {"<s>", "<|begin_of_text|>", "<|endoftext|>", NULL};
    static const char *const eos_names[] = {"</s>", "<|end_of_text|>", "<|endoftext|>", NULL};
    json_t *tmpl = json_object_get(config, "chat_template");
    json_t *cleanup = json_object_get(config, "clean_up_tokenization_spaces");

    if (set_token(&tok->bos_token, &tok->bos_id, tok, config_token(config, "bos_token")) < 0 ||
        set_token(&tok->eos_token, &tok->eos_id, tok, config_token(config, "eos_token")) < 0)
        return tr_error_set(err, "out of memory");
    if (config_token(config, "pad_token") != NULL)
        tok->pad_id = tok_token_to_id(tok, config_token(config, "pad_token"));
    if (config_token(config, "unk_token") != NULL)
        tok->unk_id = tok_token_to_id(tok, config_token(config, "unk_token"));
    /* Without a config entry, fall back to the usual names, as the library classes do. A
     * config that sets the token to null means "none". */
    if (tok->bos_token == NULL && !json_is_null(json_object_get(config, "bos_token"))) {
        tok->bos_id = tok->n_post_prefix > 0 ? tok->post_prefix[0] : first_known(tok, bos_names);
        if (tok->bos_id >= 0 && tok->id_to_token[tok->bos_id] != NULL)
            tok->bos_token = strdup(tok->id_to_token[tok->bos_id]);
    }
    if (tok->eos_token == NULL && !json_is_null(json_object_get(config, "eos_token"))) {
        tok->eos_id = first_known(tok, eos_names);
        if (tok->eos_id >= 0 && tok->id_to_token[tok->eos_id] != NULL)
            tok->eos_token = strdup(tok->id_to_token[tok->eos_id]);
    }
    if (json_is_array(tmpl)) {
        json_t *chosen = NULL;

        for (size_t i = 0; i < json_array_size(tmpl); i++) {
            json_t *e = json_array_get(tmpl, i);
            json_t *name = json_object_get(e, "name");

            if (json_is_string(name) && strcmp(json_string_value(name), "default") == 0)
                chosen = json_object_get(e, "template");
        }
        tmpl = chosen;
    }
    if (json_is_string(tmpl)) {
        tok->chat_template = strdup(json_string_value(tmpl));
        if (tok->chat_template == NULL)
            return tr_error_set(err, "out of memory");
    }
    tok->clean_up_spaces = json_is_true(cleanup);
    return apply_add_bos_eos(tok, config, err);
}

/* ---- Loading ---- */

static int load_model(struct tok *tok, json_t *model, struct tr_error *err)
{
    json_t *t = json_object_get(model, "type");
    const char *type = json_is_string(t) ? json_string_value(t) : NULL;

    if (!json_is_object(model))
        return tr_error_set(err, "missing \"model\" object");
    if (type == NULL && json_object_get(model, "merges") != NULL)
        type = "BPE"; /* old files leave out the type of a BPE model */
    if (type == NULL || strcmp(type, "BPE") != 0)
        return tr_error_set(err,
                            "model type \"%s\" is not supported: only BPE tokenizers "
                            "(byte-level like GPT-2, Llama 3, Qwen, or SentencePiece-style "
                            "with byte fallback like Llama 2, Mistral) can be loaded",
                            type != NULL ? type : "(missing)");
    return tok_bpe_load(tok, model, err);
}

static int load_component(void **out, size_t size, json_t *obj,
                          int (*parse)(void *, json_t *, int, struct tr_error *),
                          struct tr_error *err)
{
    if (obj == NULL || json_is_null(obj))
        return 0;
    *out = calloc(1, size);
    if (*out == NULL)
        return tr_error_set(err, "out of memory");
    return parse(*out, obj, 0, err);
}

static int parse_norm_cb(void *out, json_t *obj, int depth, struct tr_error *err)
{
    return tok_norm_parse(out, obj, depth, err);
}

static int parse_pre_cb(void *out, json_t *obj, int depth, struct tr_error *err)
{
    return tok_pre_parse(out, obj, depth, err);
}

static int parse_dec_cb(void *out, json_t *obj, int depth, struct tr_error *err)
{
    return tok_dec_parse(out, obj, depth, err);
}

static int load_root(struct tok *tok, json_t *root, json_t *config, struct tr_error *err)
{
    if (!json_is_object(root))
        return tr_error_set(err, "the top level must be a JSON object");
    if (load_model(tok, json_object_get(root, "model"), err) < 0)
        return -1;
    if (load_added_tokens(tok, json_object_get(root, "added_tokens"), err) < 0)
        return -1;
    if (load_component((void **)&tok->normalizer, sizeof(struct tok_norm),
                       json_object_get(root, "normalizer"), parse_norm_cb, err) < 0 ||
        load_component((void **)&tok->pre_tokenizer, sizeof(struct tok_pre),
                       json_object_get(root, "pre_tokenizer"), parse_pre_cb, err) < 0 ||
        load_component((void **)&tok->decoder, sizeof(struct tok_dec),
                       json_object_get(root, "decoder"), parse_dec_cb, err) < 0)
        return -1;
    if (parse_post(tok, json_object_get(root, "post_processor"), 0, err) < 0)
        return -1;
    tok->unk_id = tok->bpe.unk_id;
    return load_config(tok, config, err);
}

static json_t *parse_json(const char *text, size_t len, const char *what, size_t flags,
                          struct tr_error *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES | flags, &jerr);

    if (root == NULL)
        tr_error_set(err, "%s: invalid JSON at line %d column %d: %s", what, jerr.line, jerr.column,
                     jerr.text);
    return root;
}

int tok_open_json(struct tok **out, const char *tokenizer_json, size_t len, const char *config_json,
                  size_t config_len, const char *source, struct tr_error *err)
{
    struct tok *tok = NULL;
    json_t *root = NULL, *config = NULL;
    int rc = -1;

    *out = NULL;
    if (len > TOK_MAX_JSON_BYTES)
        return tr_error_set(err, "%s: tokenizer.json is %zu bytes, over the limit of %zu", source,
                            len, TOK_MAX_JSON_BYTES);
    tok = calloc(1, sizeof(*tok));
    if (tok == NULL)
        return tr_error_set(err, "out of memory");
    tok->source = strdup(source != NULL ? source : "tokenizer");
    tok->bos_id = tok->eos_id = tok->pad_id = tok->unk_id = -1;
    root = parse_json(tokenizer_json, len, "tokenizer.json", 0, err);
    if (root == NULL)
        goto out;
    if (config_json != NULL) {
        /* Configs hold integers beyond 64 bits (a model_max_length of 1e30), and no integer
         * in them is needed exactly, so all are read as reals. */
        config = parse_json(config_json, config_len, "tokenizer_config.json",
                            JSON_DECODE_INT_AS_REAL, err);
        if (config == NULL)
            goto out;
        if (!json_is_object(config)) {
            tr_error_set(err, "tokenizer_config.json: the top level must be a JSON object");
            goto out;
        }
    }
    if (load_root(tok, root, config, err) < 0) {
        if (err != NULL && strncmp(err->msg, "tokenizer", 9) != 0)
            tr_error_prefix(err, "tokenizer.json");
        goto out;
    }
    *out = tok;
    tok = NULL;
    rc = 0;
out:
    if (rc < 0 && tok != NULL)
        tr_error_prefix(err, "%s", tok->source);
    json_decref(root);
    json_decref(config);
    tok_free(tok);
    return rc;
}

/* Adds to config what transformers also reads from beside tokenizer_config.json: special
 * token strings from special_tokens_map.json and the template in chat_template.jinja, each
 * only where the config has no value of its own. */
static int merge_side_files(json_t *config, const char *model_dir, struct tr_error *err)
{
    static const char *const keys[] = {"bos_token", "eos_token", "unk_token", "pad_token", NULL};
    char path[4200], *text = NULL;
    size_t len;
    json_t *map;

    snprintf(path, sizeof(path), "%s/special_tokens_map.json", model_dir);
    if (read_file(&text, &len, path, TOK_MAX_CONFIG_BYTES, true, err) < 0)
        return -1;
    if (text != NULL) {
        map = parse_json(text, len, "special_tokens_map.json", JSON_DECODE_INT_AS_REAL, err);
        free(text);
        if (map == NULL)
            return tr_error_prefix(err, "%s", model_dir);
        for (size_t i = 0; keys[i] != NULL; i++) {
            json_t *v = json_object_get(map, keys[i]);

            if (v != NULL && json_object_get(config, keys[i]) == NULL)
                json_object_set(config, keys[i], v);
        }
        json_decref(map);
    }
    if (json_object_get(config, "chat_template") != NULL)
        return 0;
    snprintf(path, sizeof(path), "%s/chat_template.jinja", model_dir);
    if (read_file(&text, &len, path, TOK_MAX_CONFIG_BYTES, true, err) < 0)
        return -1;
    if (text != NULL)
        json_object_set_new(config, "chat_template", json_stringn(text, len));
    free(text);
    return 0;
}

int tok_open(struct tok **out, const char *model_dir, struct tr_error *err)
{
    char path[4200], cpath[4200];
    char *text = NULL, *config_text = NULL, *merged = NULL;
    json_t *config = NULL;
    struct stat st;
    size_t len, config_len;
    int rc = -1;

    *out = NULL;
    if (stat(model_dir, &st) != 0)
        return tr_error_set(err,
                            "model folder %s not found; pass a directory that contains "
                            "tokenizer.json",
                            model_dir);
    if (S_ISDIR(st.st_mode)) {
        snprintf(path, sizeof(path), "%s/tokenizer.json", model_dir);
        if (access(path, F_OK) != 0)
            return tr_error_set(err,
                                "model folder %s lacks tokenizer.json; pass a directory "
                                "that contains tokenizer.json",
                                model_dir);
    }
    if (!S_ISDIR(st.st_mode))
        return tr_error_set(err,
                            "%s is a file; pass the model directory that contains "
                            "tokenizer.json",
                            model_dir);
    snprintf(path, sizeof(path), "%s/tokenizer.json", model_dir);
    snprintf(cpath, sizeof(cpath), "%s/tokenizer_config.json", model_dir);
    if (read_file(&text, &len, path, TOK_MAX_JSON_BYTES, false, err) < 0)
        return -1;
    if (read_file(&config_text, &config_len, cpath, TOK_MAX_CONFIG_BYTES, true, err) < 0)
        goto out;
    config = config_text != NULL ? parse_json(config_text, config_len, "tokenizer_config.json",
                                              JSON_DECODE_INT_AS_REAL, err)
                                 : json_object();
    if (config == NULL) {
        tr_error_prefix(err, "%s", model_dir);
        goto out;
    }
    if (!json_is_object(config)) {
        tr_error_set(err, "%s: the top level must be a JSON object", cpath);
        goto out;
    }
    if (merge_side_files(config, model_dir, err) < 0)
        goto out;
    merged = json_dumps(config, JSON_COMPACT);
    if (merged == NULL) {
        tr_error_set(err, "out of memory");
        goto out;
    }
    rc = tok_open_json(out, text, len, merged, strlen(merged), model_dir, err);
out:
    free(text);
    free(config_text);
    free(merged);
    json_decref(config);
    return rc;
}

void tok_free(struct tok *tok)
{
    if (tok == NULL)
        return;
    for (size_t i = 0; tok->id_to_token != NULL && i < tok->vocab_size; i++)
        free(tok->id_to_token[i]);
    free(tok->id_to_token);
    free(tok->token_len);
    free(tok->special);
    tok_bpe_dispose(&tok->bpe);
    for (size_t i = 0; i < tok->n_added; i++)
        free(tok->added[i].content);
    free(tok->added);
    free(tok->added_index);
    tok_norm_dispose(tok->normalizer);
    free(tok->normalizer);
    tok_pre_dispose(tok->pre_tokenizer);
    free(tok->pre_tokenizer);
    tok_dec_dispose(tok->decoder);
    free(tok->decoder);
    free(tok->post_prefix);
    free(tok->post_suffix);
    free(tok->bos_token);
    free(tok->eos_token);
    free(tok->chat_template);
    free(tok->source);
    free(tok);
}

/* ---- Accessors ---- */

size_t tok_vocab_size(const struct tok *tok)
{
    return tok->vocab_size;
}

int tok_check_model_vocab(const struct tok *tok, long long model_vocab_size, const char *model_dir,
                          struct tr_error *err)
{
    size_t largest = tok->vocab_size;

    /* The id table may have holes, so the largest id is the last entry with a token. */
    while (largest > 0 && tok->id_to_token[largest - 1] == NULL)
        largest--;
    if (largest == 0 || (long long)(largest - 1) < model_vocab_size)
        return 0;
    return tr_error_set(err,
                        "%s/tokenizer.json has token ids up to %zu, but the vocab_size in "
                        "config.json is %lld, so the tokenizer belongs to another model; use "
                        "the tokenizer of the base model",
                        model_dir, largest - 1, model_vocab_size);
}

int32_t tok_bos_id(const struct tok *tok)
{
    return tok->bos_id;
}

int32_t tok_eos_id(const struct tok *tok)
{
    return tok->eos_id;
}

int32_t tok_pad_id(const struct tok *tok)
{
    return tok->pad_id;
}

bool tok_is_special(const struct tok *tok, int32_t id)
{
    return id >= 0 && (size_t)id < tok->vocab_size && tok->special[id] != 0;
}

int32_t tok_token_to_id(const struct tok *tok, const char *token)
{
    size_t len = strlen(token);
    int32_t id = tok_vocab_find(tok->added_index, tok->added_mask, token, len);

    if (id >= 0)
        return id;
    return tok_vocab_find(tok->bpe.vocab, tok->bpe.vocab_mask, token, len);
}

const char *tok_id_to_token(const struct tok *tok, int32_t id)
{
    if (id < 0 || (size_t)id >= tok->vocab_size)
        return NULL;
    return tok->id_to_token[id];
}

const char *tok_chat_template(const struct tok *tok)
{
    return tok->chat_template;
}

const char *tok_bos_token(const struct tok *tok)
{
    return tok->bos_token;
}

const char *tok_eos_token(const struct tok *tok)
{
    return tok->eos_token;
}

size_t tok_special_prefix(const struct tok *tok, const int32_t **ids)
{
    *ids = tok->post_prefix;
    return tok->n_post_prefix;
}
