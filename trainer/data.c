/* data: loads datasets for training and evaluation. Each JSONL line or JSON array element
 * becomes one example. Its text is rendered (raw, prompt + completion, alpaca sections or a
 * chat template) and encoded once, and the tokens of the target side get mask 1. The ids are
 * exactly those of the whole rendered text, because target boundaries are located by
 * encoding only the piece of text before each boundary again. */
#include "data.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "chat.h"
#include "tok_internal.h"

#define DATA_MAX_FILE_BYTES ((size_t)1 << 30)
#define DATA_MAX_MESSAGES   4096

/* ---- Encoding with target spans ---- */

/* Counts the tokens of full (the encoding of text) that come before byte boundary. Tokens
 * never cross a raw added token, so only the segment that contains the boundary is encoded
 * again. A token that straddles the boundary counts on the side after it. */
static int count_before(size_t *out, const struct tok *tok, const char *text, size_t boundary,
                        const int32_t *full, const struct tok_segments *segs, struct tr_error *err)
{
    const struct tok_segment *seg = NULL;
    int32_t *ids = NULL;
    size_t n = 0, k = 0;

    for (size_t i = 0; i < segs->n && segs->s[i].start <= boundary; i++)
        seg = &segs->s[i];
    if (seg == NULL) {
        *out = 0;
        return 0;
    }
    if (boundary >= seg->end || boundary == seg->start) {
        *out = boundary == seg->start ? seg->ids_before : seg->ids_after;
        return 0;
    }
    if (tok_encode_raw_piece(tok, text, seg->start, boundary, &ids, &n, err) < 0)
        return -1;
    while (k < n && seg->ids_before + k < seg->ids_after && ids[k] == full[seg->ids_before + k])
        k++;
    free(ids);
    *out = seg->ids_before + k;
    return 0;
}

/* Encodes text with the BOS prefix (bos_ids) and marks the tokens inside spans (pairs of byte
 * offsets); append_eos adds the EOS id as a target. */
static int encode_spans(struct data_example *ex, const struct tok *tok, const int32_t *bos_ids,
                        size_t n_bos, const char *text, size_t len, const size_t *spans,
                        size_t n_spans, bool append_eos, struct tr_error *err)
{
    struct tok_segments segs = {0};
    int32_t *body = NULL;
    size_t n_body = 0, n, first_target;
    int32_t eos = tok_eos_id(tok);
    int rc = -1;

    if (append_eos && eos < 0)
        return tr_error_set(err, "the tokenizer has no EOS token to end the example with; set "
                                 "eos_token in tokenizer_config.json");
    if (tok_encode_segments(tok, text, len, &body, &n_body, &segs, err) < 0) {
        free(segs.s);
        return -1;
    }
    n = n_bos + n_body + (append_eos ? 1 : 0);
    ex->ids = malloc((n + 1) * sizeof(*ex->ids));
    ex->mask = calloc(n + 1, 1);
    if (ex->ids == NULL || ex->mask == NULL) {
        tr_error_set(err, "out of memory");
        goto out;
    }
    if (n_bos > 0)
        memcpy(ex->ids, bos_ids, n_bos * sizeof(*ex->ids));
    if (n_body > 0)
        memcpy(ex->ids + n_bos, body, n_body * sizeof(*ex->ids));
    for (size_t s = 0; s < n_spans; s++) {
        size_t a, b;

        if (count_before(&a, tok, text, spans[2 * s], body, &segs, err) < 0)
            goto out;
        if (spans[2 * s + 1] >= len)
            b = n_body;
        else if (count_before(&b, tok, text, spans[2 * s + 1], body, &segs, err) < 0)
            goto out;
        for (size_t k = a; k < b; k++)
            ex->mask[n_bos + k] = 1;
    }
    if (append_eos) {
        ex->ids[n - 1] = eos;
        ex->mask[n - 1] = 1;
    }
    ex->n = n;
    first_target = 0;
    while (first_target < n && ex->mask[first_target] == 0)
        first_target++;
    ex->n_prompt = first_target;
    rc = 0;
out:
    free(body);
    free(segs.s);
    return rc;
}

/* ---- Example formats ---- */

#define DATA_ACCEPTED_FORMATS                                                                      \
    "each example must be one of {\"text\"}, {\"prompt\", \"completion\"}, "                       \
    "{\"instruction\", \"input\", \"output\"} or {\"messages\"}"

static int string_field(const char **out, json_t *obj, const char *key, bool required,
                        struct tr_error *err)
{
    json_t *v = json_object_get(obj, key);

    *out = NULL;
    if (v == NULL || (json_is_null(v) && !required))
        return required ? tr_error_set(err, "missing \"%s\"", key) : 0;
    if (!json_is_string(v))
        return tr_error_set(err, "\"%s\" must be a string", key);
    if (strlen(json_string_value(v)) != json_string_length(v))
        return tr_error_set(err, "\"%s\" contains a NUL character", key);
    *out = json_string_value(v);
    return 0;
}

static int copy_text(char **out, const char *s, size_t len, struct tr_error *err)
{
    *out = strndup(s, len);
    return *out != NULL ? 0 : tr_error_set(err, "out of memory");
}

static size_t bos_prefix(const struct tok *tok, const struct chat_template *chat,
                         const int32_t **ids, int32_t *bos_slot)
{
    if (chat != NULL)
        return chat_prefix_ids(tok, chat, ids, bos_slot);
    return tok_special_prefix(tok, ids);
}

static int parse_text(struct data_example *ex, const struct tok *tok, const char *text,
                      struct tr_error *err)
{
    size_t len = strlen(text), span[2] = {0, len};
    const int32_t *bos;
    int32_t slot;
    size_t n_bos = bos_prefix(tok, NULL, &bos, &slot);

    if (len == 0)
        return tr_error_set(err, "\"text\" is empty");
    return encode_spans(ex, tok, bos, n_bos, text, len, span, 1, true, err);
}

static int parse_prompt_completion(struct data_example *ex, const struct tok *tok,
                                   const char *prompt, const char *completion, struct tr_error *err)
{
    struct tok_buf text = {0};
    size_t span[2];
    const int32_t *bos;
    int32_t slot;
    size_t n_bos = bos_prefix(tok, NULL, &bos, &slot);
    int rc;

    if (completion[0] == '\0')
        return tr_error_set(err, "the completion is empty, so there is nothing to learn");
    if (tok_buf_append(&text, prompt, strlen(prompt)) < 0 ||
        tok_buf_append(&text, completion, strlen(completion)) < 0) {
        tok_buf_dispose(&text);
        return tr_error_set(err, "out of memory");
    }
    span[0] = strlen(prompt);
    span[1] = text.len;
    rc = encode_spans(ex, tok, bos, n_bos, text.s, text.len, span, 1, true, err);
    if (rc == 0 && (copy_text(&ex->prompt, prompt, strlen(prompt), err) < 0 ||
                    copy_text(&ex->completion, completion, strlen(completion), err) < 0))
        rc = -1;
    tok_buf_dispose(&text);
    return rc;
}

static int parse_chat(struct data_example *ex, const struct tok *tok,
                      const struct chat_template *chat, const struct chat_message *msgs, size_t n,
                      struct tr_error *err)
{
    struct chat_render r = {0};
    const int32_t *bos;
    int32_t slot;
    size_t n_bos = bos_prefix(tok, chat, &bos, &slot);
    size_t replies = 0;
    int rc = -1;

    for (size_t i = 0; i < n; i++)
        replies += strcmp(msgs[i].role, "assistant") == 0;
    if (replies == 0)
        return tr_error_set(err, "no assistant message, so there is nothing to learn");
    if (chat_render(&r, chat, msgs, n, false, err) < 0)
        return -1;
    if (encode_spans(ex, tok, bos, n_bos, r.text, r.len, r.spans, r.n_spans, false, err) < 0)
        goto out;
    /* Exact-match evaluation generates from the first target token, so only a chat whose one
     * reply is its last message is a prompt/completion pair. */
    if (replies == 1 && strcmp(msgs[n - 1].role, "assistant") == 0 &&
        (copy_text(&ex->prompt, r.text, r.last_reply_start, err) < 0 ||
         copy_text(&ex->completion, msgs[n - 1].content, strlen(msgs[n - 1].content), err) < 0))
        goto out;
    rc = 0;
out:
    chat_render_dispose(&r);
    return rc;
}

/* Reads the content of one message: a string, or an array of parts of which the
 * {"type": "text", "text": ...} ones are joined (other parts, such as images, are rejected).
 * *owned is set when the text had to be joined and the caller frees it. */
static int message_content(const char **out, char **owned, json_t *m, struct tr_error *err)
{
    json_t *parts = json_object_get(m, "content");
    struct tok_buf joined = {0};

    *owned = NULL;
    if (!json_is_array(parts))
        return string_field(out, m, "content", true, err);
    if (tok_buf_append(&joined, "", 0) < 0)
        return tr_error_set(err, "out of memory");
    for (size_t i = 0; i < json_array_size(parts); i++) {
        json_t *part = json_array_get(parts, i);
        const char *type = json_string_value(json_object_get(part, "type"));
        const char *text = NULL;

        if (type == NULL || strcmp(type, "text") != 0) {
            tok_buf_dispose(&joined);
            return tr_error_set(err,
                                "content[%zu] has type \"%.40s\"; only text parts can be "
                                "trained on",
                                i, type != NULL ? type : "(missing)");
        }
        if (string_field(&text, part, "text", true, err) < 0 ||
            tok_buf_append(&joined, text, strlen(text)) < 0) {
            tok_buf_dispose(&joined);
            return text == NULL ? tr_error_prefix(err, "content[%zu]", i)
                                : tr_error_set(err, "out of memory");
        }
    }
    *owned = joined.s;
    *out = joined.s;
    return 0;
}

static int parse_messages(struct data_example *ex, const struct tok *tok,
                          const struct chat_template *chat, const char *chat_error, json_t *list,
                          struct tr_error *err)
{
    struct chat_message *msgs;
    char **owned;
    size_t n = json_array_size(list);
    int rc = -1;

    if (!json_is_array(list) || n == 0)
        return tr_error_set(err, "\"messages\" must be a non-empty array of {\"role\", "
                                 "\"content\"} objects");
    if (n > DATA_MAX_MESSAGES)
        return tr_error_set(err, "\"messages\" has %zu entries, over the limit of %d", n,
                            DATA_MAX_MESSAGES);
    if (chat == NULL)
        return tr_error_set(err, "%s", chat_error != NULL ? chat_error : "no chat template");
    msgs = calloc(n, sizeof(*msgs));
    owned = calloc(n, sizeof(*owned));
    if (msgs == NULL || owned == NULL) {
        tr_error_set(err, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(list, i);

        if (!json_is_object(m)) {
            tr_error_set(err, "messages[%zu] is not an object", i);
            goto out;
        }
        if (string_field(&msgs[i].role, m, "role", true, err) < 0 ||
            message_content(&msgs[i].content, &owned[i], m, err) < 0) {
            tr_error_prefix(err, "messages[%zu]", i);
            goto out;
        }
    }
    rc = parse_chat(ex, tok, chat, msgs, n, err);
out:
    for (size_t i = 0; owned != NULL && i < n; i++)
        free(owned[i]);
    free(owned);
    free(msgs);
    return rc;
}

/* Conversational prompt/completion data: "prompt" is a list of messages and "completion" a
 * list of assistant messages (or one string), trained as one chat. */
static int parse_chat_pair(struct data_example *ex, const struct tok *tok,
                           const struct chat_template *chat, const char *chat_error, json_t *obj,
                           struct tr_error *err)
{
    json_t *prompt = json_object_get(obj, "prompt");
    json_t *completion = json_object_get(obj, "completion");
    json_t *all = json_array();
    int rc;

    if (all == NULL)
        return tr_error_set(err, "out of memory");
    json_array_extend(all, prompt);
    if (json_is_array(completion)) {
        json_array_extend(all, completion);
    } else if (json_is_string(completion)) {
        json_array_append_new(all,
                              json_pack("{s:s, s:O}", "role", "assistant", "content", completion));
    } else {
        json_decref(all);
        return tr_error_set(err, "\"completion\" must be a list of messages or a string when "
                                 "\"prompt\" is a list of messages");
    }
    rc = parse_messages(ex, tok, chat, chat_error, all, err);
    json_decref(all);
    return rc < 0 ? tr_error_prefix(err, "prompt + completion") : 0;
}

static int parse_alpaca(struct data_example *ex, const struct tok *tok,
                        const struct chat_template *chat, json_t *obj, struct tr_error *err)
{
    const char *instruction, *input, *output, *system;
    struct tok_buf prompt = {0};
    int rc = -1;

    if (string_field(&instruction, obj, "instruction", true, err) < 0 ||
        string_field(&input, obj, "input", false, err) < 0 ||
        string_field(&system, obj, "system", false, err) < 0)
        return -1;
    if (json_object_get(obj, "output") != NULL) {
        if (string_field(&output, obj, "output", true, err) < 0)
            return -1;
    } else if (string_field(&output, obj, "response", true, err) < 0) {
        return tr_error_set(
            err,
            "alpaca data needs \"output\" (or \"response\") as a string; " DATA_ACCEPTED_FORMATS);
    }
    if (output[0] == '\0')
        return tr_error_set(err, "\"output\" is empty, so there is nothing to learn");
    if (chat != NULL) {
        struct chat_message msgs[3];
        size_t n = 0;

        if (system != NULL && system[0] != '\0')
            msgs[n++] = (struct chat_message){"system", system};
        if (tok_buf_append(&prompt, instruction, strlen(instruction)) < 0 ||
            (input != NULL && input[0] != '\0' &&
             (tok_buf_append(&prompt, "\n", 1) < 0 ||
              tok_buf_append(&prompt, input, strlen(input)) < 0))) {
            tr_error_set(err, "out of memory");
            goto out;
        }
        msgs[n++] = (struct chat_message){"user", prompt.s};
        msgs[n++] = (struct chat_message){"assistant", output};
        rc = parse_chat(ex, tok, chat, msgs, n, err);
        goto out;
    }
    if ((system != NULL && system[0] != '\0' &&
         (tok_buf_append(&prompt, system, strlen(system)) < 0 ||
          tok_buf_append(&prompt, "\n\n", 2) < 0)) ||
        tok_buf_append(&prompt, "### Instruction:\n", 17) < 0 ||
        tok_buf_append(&prompt, instruction, strlen(instruction)) < 0 ||
        (input != NULL && input[0] != '\0' &&
         (tok_buf_append(&prompt, "\n\n### Input:\n", 13) < 0 ||
          tok_buf_append(&prompt, input, strlen(input)) < 0)) ||
        tok_buf_append(&prompt, "\n\n### Response:\n", 16) < 0) {
        tr_error_set(err, "out of memory");
        goto out;
    }
    rc = parse_prompt_completion(ex, tok, prompt.s, output, err);
out:
    tok_buf_dispose(&prompt);
    return rc;
}

/* Reports an object without a known field, naming the keys it has so that a dataset with
 * other field names ("story", "question") shows what to rename. */
static int no_known_fields(json_t *obj, struct tr_error *err)
{
    char found[200] = "";
    size_t used = 0;
    size_t count = 0;
    const char *key;
    json_t *value;

    json_object_foreach(obj, key, value)
    {
        int n;

        (void)value;
        count++;
        if (count > 5) {
            n = snprintf(found + used, sizeof(found) - used, ", ...");
            used += n > 0 ? (size_t)n : 0;
            break;
        }
        n = snprintf(found + used, sizeof(found) - used, "%s\"%.40s\"", count > 1 ? ", " : "", key);
        used += n > 0 ? (size_t)n : 0;
        if (used >= sizeof(found))
            break;
    }
    if (count == 0)
        return tr_error_set(err, "no known fields (the object is empty); " DATA_ACCEPTED_FORMATS);
    return tr_error_set(err, "no known fields (found %s); " DATA_ACCEPTED_FORMATS, found);
}

/* Names the JSON type of a value that should have been an object, with its article. */
static const char *json_kind_name(const json_t *value)
{
    switch (json_typeof(value)) {
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

static int parse_object(struct data_example *ex, json_t *obj, const struct tok *tok,
                        const struct chat_template *chat, const char *chat_error,
                        struct tr_error *err)
{
    const char *a, *b;

    if (!json_is_object(obj))
        return tr_error_set(err, "expected a JSON object, found %s; " DATA_ACCEPTED_FORMATS,
                            json_kind_name(obj));
    if (json_object_get(obj, "messages") != NULL)
        return parse_messages(ex, tok, chat, chat_error, json_object_get(obj, "messages"), err);
    if (json_is_array(json_object_get(obj, "prompt")))
        return parse_chat_pair(ex, tok, chat, chat_error, obj, err);
    if (json_object_get(obj, "prompt") != NULL || json_object_get(obj, "completion") != NULL) {
        if (json_object_get(obj, "prompt") == NULL || json_object_get(obj, "completion") == NULL)
            return tr_error_set(err, "missing \"%s\"; " DATA_ACCEPTED_FORMATS,
                                json_object_get(obj, "prompt") == NULL ? "prompt" : "completion");
        if (string_field(&a, obj, "prompt", true, err) < 0 ||
            string_field(&b, obj, "completion", true, err) < 0)
            return -1;
        return parse_prompt_completion(ex, tok, a, b, err);
    }
    if (json_object_get(obj, "instruction") != NULL)
        return parse_alpaca(ex, tok, chat, obj, err);
    if (json_object_get(obj, "text") != NULL) {
        if (string_field(&a, obj, "text", true, err) < 0)
            return -1;
        return parse_text(ex, tok, a, err);
    }
    return no_known_fields(obj, err);
}

void data_example_dispose(struct data_example *ex)
{
    free(ex->ids);
    free(ex->mask);
    free(ex->prompt);
    free(ex->completion);
    memset(ex, 0, sizeof(*ex));
}

static int check_length(const struct data_example *ex, size_t max_tokens, struct tr_error *err)
{
    size_t targets = 0;

    for (size_t i = 0; i < ex->n; i++)
        targets += ex->mask[i];
    if (targets == 0)
        return tr_error_set(err, "no target tokens after encoding, so there is nothing to learn");
    if (max_tokens > 0 && ex->n > max_tokens)
        return tr_error_set(err,
                            "the example is %zu tokens, over the limit of %zu (the model "
                            "context); shorten or split it",
                            ex->n, max_tokens);
    return 0;
}

/* Returns the reason of a jansson parse error in the dataset's terms. jansson's own text
 * for a \u0000 escape names its JSON_ALLOW_NUL flag, which the user cannot set. */
static const char *json_error_reason(const json_error_t *jerr)
{
    if (json_error_code(jerr) == json_error_null_character)
        return "a string contains a NUL character (\\u0000), which is not allowed in text";
    return jerr->text;
}

int data_example_parse(struct data_example *out, const char *json, size_t len,
                       const struct tok *tok, const struct chat_template *chat,
                       const char *chat_error, size_t max_tokens, struct tr_error *err)
{
    json_error_t jerr;
    json_t *obj;
    int rc;

    memset(out, 0, sizeof(*out));
    obj = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL | JSON_DECODE_ANY,
                     &jerr);
    if (obj == NULL)
        return tr_error_set(err, "invalid JSON at column %d: %s", jerr.column,
                            json_error_reason(&jerr));
    rc = parse_object(out, obj, tok, chat, chat_error, err);
    json_decref(obj);
    if (rc == 0)
        rc = check_length(out, max_tokens, err);
    if (rc < 0)
        data_example_dispose(out);
    return rc;
}

/* ---- Files ---- */

struct loader {
    const char *path;
    const struct tok *tok;
    const struct chat_template *chat;
    const char *chat_error;
    size_t max_tokens;
    struct data_set *ds;
    size_t cap;
};

static int add_example(struct loader *ld, const char *json, size_t len, size_t line, bool array,
                       struct tr_error *err)
{
    struct data_example ex;

    if (ld->ds->n == ld->cap) {
        size_t cap = ld->cap ? ld->cap * 2 : 64;
        struct data_example *p = realloc(ld->ds->ex, cap * sizeof(*p));

        if (p == NULL)
            return tr_error_set(err, "out of memory");
        ld->ds->ex = p;
        ld->cap = cap;
    }
    if (data_example_parse(&ex, json, len, ld->tok, ld->chat, ld->chat_error, ld->max_tokens, err) <
        0)
        return tr_error_prefix(err, "%s: %s %zu", ld->path, array ? "element" : "line", line);
    ex.line = line;
    ld->ds->ex[ld->ds->n++] = ex;
    return 0;
}

static int load_jsonl(struct loader *ld, const char *buf, size_t len, struct tr_error *err)
{
    size_t pos = 0, line = 0;

    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - buf) : len;
        size_t k = pos;

        line++;
        while (k < end && (buf[k] == ' ' || buf[k] == '\t' || buf[k] == '\r'))
            k++;
        if (k < end && add_example(ld, buf + pos, end - pos, line, false, err) < 0)
            return -1;
        pos = end + 1;
    }
    return 0;
}

static int load_array(struct loader *ld, const char *buf, size_t len, struct tr_error *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &jerr);
    int rc = 0;

    if (root == NULL)
        return tr_error_set(err, "%s: invalid JSON at line %d column %d: %s", ld->path, jerr.line,
                            jerr.column, json_error_reason(&jerr));
    for (size_t i = 0; rc == 0 && i < json_array_size(root); i++) {
        char *text = json_dumps(json_array_get(root, i), JSON_ENCODE_ANY | JSON_COMPACT);

        if (text == NULL) {
            rc = tr_error_set(err, "out of memory");
            break;
        }
        rc = add_example(ld, text, strlen(text), i + 1, true, err);
        free(text);
    }
    json_decref(root);
    return rc;
}

static int read_whole(char **out, size_t *len, const char *path, struct tr_error *err)
{
    FILE *f = fopen(path, "rb");
    struct stat st;

    *out = NULL;
    if (f == NULL)
        return tr_error_set(err, "%s: cannot open the dataset: %s", path, strerror(errno));
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return tr_error_set(err,
                            "%s: the dataset is not a regular file (a pipe or device); write "
                            "it to a file first and pass that path",
                            path);
    }
    if ((uint64_t)st.st_size > DATA_MAX_FILE_BYTES) {
        fclose(f);
        return tr_error_set(err, "%s: the dataset is %lld bytes, over the limit of %zu bytes", path,
                            (long long)st.st_size, DATA_MAX_FILE_BYTES);
    }
    *out = malloc((size_t)st.st_size + 1);
    if (*out == NULL || fread(*out, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        fclose(f);
        free(*out);
        *out = NULL;
        return tr_error_set(err, "%s: cannot read the dataset", path);
    }
    fclose(f);
    (*out)[st.st_size] = '\0';
    *len = (size_t)st.st_size;
    return 0;
}

static int sha256_hex(char hex[65], const char *buf, size_t len, struct tr_error *err)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    if (EVP_Digest(buf, len, digest, &n, EVP_sha256(), NULL) != 1 || n != 32)
        return tr_error_set(err, "SHA-256 of the dataset failed");
    for (unsigned i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    return 0;
}

int data_load(struct data_set **out, const char *path, const struct tok *tok, size_t max_tokens,
              struct tr_error *err)
{
    struct loader ld = {path, tok, NULL, NULL, max_tokens, NULL, 0};
    struct chat_template chat;
    struct tr_error chat_err = {{0}};
    bool have_chat;
    char *buf = NULL;
    size_t len = 0, k = 0;
    int rc = -1;

    *out = NULL;
    have_chat = tok_chat_template(tok) != NULL &&
                chat_template_detect(&chat, tok, tok->source, &chat_err) == 0;
    if (tok_chat_template(tok) == NULL)
        chat_template_detect(&chat, tok, tok->source, &chat_err);
    ld.chat = have_chat ? &chat : NULL;
    ld.chat_error = chat_err.msg;
    ld.ds = calloc(1, sizeof(*ld.ds));
    if (ld.ds == NULL) {
        tr_error_set(err, "out of memory");
        goto out;
    }
    if (read_whole(&buf, &len, path, err) < 0 || sha256_hex(ld.ds->sha256_hex, buf, len, err) < 0)
        goto out;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        k = 3; /* UTF-8 byte order mark */
    while (k < len && (buf[k] == ' ' || buf[k] == '\t' || buf[k] == '\r' || buf[k] == '\n'))
        k++;
    if (k < len && buf[k] == '[')
        rc = load_array(&ld, buf + k, len - k, err);
    else
        rc = load_jsonl(&ld, buf + k, len - k, err);
    if (rc == 0 && ld.ds->n == 0)
        rc = tr_error_set(err,
                          "%s: the dataset has no examples; add JSONL lines or JSON array "
                          "elements",
                          path);
out:
    free(buf);
    if (have_chat)
        chat_template_dispose(&chat);
    if (rc < 0) {
        data_set_free(ld.ds);
        return -1;
    }
    *out = ld.ds;
    return 0;
}

void data_set_free(struct data_set *ds)
{
    if (ds == NULL)
        return;
    for (size_t i = 0; i < ds->n; i++)
        data_example_dispose(&ds->ex[i]);
    free(ds->ex);
    free(ds);
}
