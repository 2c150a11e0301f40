/* tok_bpe: the BPE model of tokenizer.json. Loads the vocab and the merges (as "a b" strings
 * or ["a", "b"] pairs) into hash tables and encodes one pre-token by applying merges in rank
 * order with a min-heap, as the Hugging Face tokenizers library does. */
#include "tok_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t table_size_for(size_t n)
{
    size_t size = 16;

    while (size < n * 2 + 1)
        size *= 2;
    return size;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

static bool merge_lookup(const struct tok_bpe *bpe, int32_t a, int32_t b, int32_t *rank,
                         int32_t *merged)
{
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    size_t i;

    if (bpe->merges == NULL)
        return false;
    i = (size_t)mix64(key) & bpe->merges_mask;
    while (bpe->merges[i].rank >= 0) {
        if (bpe->merges[i].pair == key) {
            *rank = bpe->merges[i].rank;
            *merged = bpe->merges[i].merged;
            return true;
        }
        i = (i + 1) & bpe->merges_mask;
    }
    return false;
}

/* Inserts a merge unless the pair is already there (the first, lowest rank, wins). */
static void merge_insert(struct tok_bpe *bpe, int32_t a, int32_t b, int32_t rank, int32_t merged)
{
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    size_t i = (size_t)mix64(key) & bpe->merges_mask;

    while (bpe->merges[i].rank >= 0) {
        if (bpe->merges[i].pair == key)
            return;
        i = (i + 1) & bpe->merges_mask;
    }
    bpe->merges[i] = (struct tok_merge_slot){key, rank, merged};
}

static int load_vocab(struct tok *tok, json_t *vocab, struct tr_error *err)
{
    struct tok_bpe *bpe = &tok->bpe;
    const char *key;
    json_t *value;
    int64_t max_id = -1;
    size_t size;

    if (!json_is_object(vocab))
        return tr_error_set(err, "model.vocab must be an object of token -> id");
    json_object_foreach(vocab, key, value)
    {
        json_int_t id = json_is_integer(value) ? json_integer_value(value) : -1;

        if (id < 0 || id >= TOK_MAX_VOCAB)
            return tr_error_set(err,
                                "model.vocab: token \"%.60s\" has id %s, expected an "
                                "integer in [0, %d)",
                                key, json_is_integer(value) ? "out of range" : "not an integer",
                                TOK_MAX_VOCAB);
        if (id > max_id)
            max_id = id;
    }
    tok->vocab_size = (size_t)(max_id + 1);
    tok->id_to_token = calloc(tok->vocab_size + 1, sizeof(char *));
    tok->token_len = calloc(tok->vocab_size + 1, sizeof(uint32_t));
    size = table_size_for(json_object_size(vocab));
    bpe->vocab = calloc(size, sizeof(*bpe->vocab));
    bpe->vocab_mask = size - 1;
    if (tok->id_to_token == NULL || tok->token_len == NULL || bpe->vocab == NULL)
        return tr_error_set(err, "out of memory loading %zu vocab entries", tok->vocab_size);
    json_object_foreach(vocab, key, value)
    {
        size_t id = (size_t)json_integer_value(value);
        size_t len = strlen(key);
        size_t i;

        if (len > TOK_MAX_TOKEN_BYTES)
            return tr_error_set(err, "model.vocab: token %zu is %zu bytes, over the limit of %d",
                                id, len, TOK_MAX_TOKEN_BYTES);
        if (tok->id_to_token[id] != NULL)
            return tr_error_set(err,
                                "model.vocab: id %zu is used by both \"%.60s\" and "
                                "\"%.60s\"",
                                id, tok->id_to_token[id], key);
        tok->id_to_token[id] = strdup(key);
        if (tok->id_to_token[id] == NULL)
            return tr_error_set(err, "out of memory");
        tok->token_len[id] = (uint32_t)len;
        i = (size_t)tok_hash_bytes(key, len) & bpe->vocab_mask;
        while (bpe->vocab[i].key != NULL)
            i = (i + 1) & bpe->vocab_mask;
        bpe->vocab[i] = (struct tok_vocab_slot){tok->id_to_token[id], (uint32_t)len, (int32_t)id};
    }
    return 0;
}

/* Splits one merges entry into its two halves; returns false when it is malformed. */
static bool merge_parts(json_t *entry, const char **a, size_t *a_len, const char **b, size_t *b_len)
{
    if (json_is_string(entry)) {
        const char *s = json_string_value(entry);
        const char *sp = strchr(s, ' ');

        if (sp == NULL || strchr(sp + 1, ' ') != NULL)
            return false;
        *a = s;
        *a_len = (size_t)(sp - s);
        *b = sp + 1;
        *b_len = strlen(sp + 1);
        return true;
    }
    if (json_is_array(entry) && json_array_size(entry) == 2 &&
        json_is_string(json_array_get(entry, 0)) && json_is_string(json_array_get(entry, 1))) {
        *a = json_string_value(json_array_get(entry, 0));
        *a_len = json_string_length(json_array_get(entry, 0));
        *b = json_string_value(json_array_get(entry, 1));
        *b_len = json_string_length(json_array_get(entry, 1));
        return true;
    }
    return false;
}

static int load_merges(struct tok *tok, json_t *merges, struct tr_error *err)
{
    struct tok_bpe *bpe = &tok->bpe;
    size_t n = json_array_size(merges), size;
    char joined[2 * TOK_MAX_TOKEN_BYTES + 1];

    if (merges != NULL && !json_is_array(merges))
        return tr_error_set(err, "model.merges must be an array");
    if (n > (size_t)INT32_MAX / 4)
        return tr_error_set(err, "model.merges has %zu entries, too many", n);
    size = table_size_for(n);
    bpe->merges = malloc(size * sizeof(*bpe->merges));
    if (bpe->merges == NULL)
        return tr_error_set(err, "out of memory loading %zu merges", n);
    bpe->merges_mask = size - 1;
    for (size_t i = 0; i < size; i++)
        bpe->merges[i] = (struct tok_merge_slot){0, -1, -1};
    for (size_t r = 0; r < n; r++) {
        const char *a, *b;
        size_t a_len, b_len, m_len;
        int32_t ia, ib, im;

        if (!merge_parts(json_array_get(merges, r), &a, &a_len, &b, &b_len))
            return tr_error_set(err, "model.merges[%zu] is not \"a b\" or [\"a\", \"b\"]", r);
        ia = tok_vocab_find(bpe->vocab, bpe->vocab_mask, a, a_len);
        ib = tok_vocab_find(bpe->vocab, bpe->vocab_mask, b, b_len);
        if (ia < 0)
            return tr_error_set(err, "model.merges[%zu]: \"%.*s\" is not in the vocab", r,
                                (int)(a_len > 60 ? 60 : a_len), a);
        if (ib < 0)
            return tr_error_set(err, "model.merges[%zu]: \"%.*s\" is not in the vocab", r,
                                (int)(b_len > 60 ? 60 : b_len), b);
        if (bpe->prefix_len > 0 && b_len >= bpe->prefix_len &&
            memcmp(b, bpe->prefix, bpe->prefix_len) == 0) {
            b += bpe->prefix_len;
            b_len -= bpe->prefix_len;
        }
        if (a_len + b_len > 2 * TOK_MAX_TOKEN_BYTES)
            return tr_error_set(err, "model.merges[%zu] is too long", r);
        memcpy(joined, a, a_len);
        memcpy(joined + a_len, b, b_len);
        m_len = a_len + b_len;
        im = tok_vocab_find(bpe->vocab, bpe->vocab_mask, joined, m_len);
        if (im < 0)
            return tr_error_set(err,
                                "model.merges[%zu]: the merged token \"%.*s\" is not in "
                                "the vocab",
                                r, (int)(m_len > 60 ? 60 : m_len), joined);
        merge_insert(bpe, ia, ib, (int32_t)r, im);
    }
    return 0;
}

static int copy_affix(char **out, size_t *out_len, json_t *v)
{
    if (!json_is_string(v) || json_string_length(v) == 0)
        return 0;
    *out = strdup(json_string_value(v));
    if (*out == NULL)
        return -1;
    *out_len = strlen(*out);
    return 0;
}

int tok_bpe_load(struct tok *tok, json_t *model, struct tr_error *err)
{
    struct tok_bpe *bpe = &tok->bpe;
    json_t *unk = json_object_get(model, "unk_token");

    bpe->unk_id = -1;
    bpe->fuse_unk = json_is_true(json_object_get(model, "fuse_unk"));
    bpe->byte_fallback = json_is_true(json_object_get(model, "byte_fallback"));
    bpe->ignore_merges = json_is_true(json_object_get(model, "ignore_merges"));
    if (copy_affix(&bpe->prefix, &bpe->prefix_len,
                   json_object_get(model, "continuing_subword_prefix")) < 0 ||
        copy_affix(&bpe->suffix, &bpe->suffix_len, json_object_get(model, "end_of_word_suffix")) <
            0)
        return tr_error_set(err, "out of memory");
    if (load_vocab(tok, json_object_get(model, "vocab"), err) < 0)
        return -1;
    if (load_merges(tok, json_object_get(model, "merges"), err) < 0)
        return -1;
    if (json_is_string(unk)) {
        bpe->unk_id = tok_vocab_find(bpe->vocab, bpe->vocab_mask, json_string_value(unk),
                                     json_string_length(unk));
        if (bpe->unk_id < 0)
            return tr_error_set(err, "model.unk_token \"%.60s\" is not in the vocab",
                                json_string_value(unk));
    }
    for (unsigned b = 0; b < 256; b++) {
        char name[8];

        snprintf(name, sizeof(name), "<0x%02X>", b);
        bpe->byte_ids[b] = tok_vocab_find(bpe->vocab, bpe->vocab_mask, name, 6);
    }
    return 0;
}

void tok_bpe_dispose(struct tok_bpe *bpe)
{
    free(bpe->vocab);
    free(bpe->merges);
    free(bpe->prefix);
    free(bpe->suffix);
    memset(bpe, 0, sizeof(*bpe));
}

static int push_id(int32_t **ids, size_t *n, size_t *cap, int32_t id)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        int32_t *p = realloc(*ids, c * sizeof(*p));

        if (p == NULL)
            return -1;
        *ids = p;
        *cap = c;
    }
    (*ids)[(*n)++] = id;
    return 0;
}

/* A symbol of the word being merged: a doubly linked list over an array. */
struct symbol {
    int32_t id;
    int32_t prev, next; /* indices, -1 at the ends */
    bool alive;
};

struct heap_entry {
    int32_t rank;
    int32_t pos;         /* index of the left symbol */
    int32_t left, right; /* ids when pushed, to detect stale entries */
    int32_t merged;
};

static bool entry_less(const struct heap_entry *a, const struct heap_entry *b)
{
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

struct heap {
    struct heap_entry *e;
    size_t n, cap;
};

static int heap_push(struct heap *h, struct heap_entry v)
{
    size_t i;

    if (h->n == h->cap) {
        size_t c = h->cap ? h->cap * 2 : 64;
        struct heap_entry *p = realloc(h->e, c * sizeof(*p));

        if (p == NULL)
            return -1;
        h->e = p;
        h->cap = c;
    }
    i = h->n++;
    h->e[i] = v;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        struct heap_entry t;

        if (!entry_less(&h->e[i], &h->e[parent]))
            break;
        t = h->e[i];
        h->e[i] = h->e[parent];
        h->e[parent] = t;
        i = parent;
    }
    return 0;
}

static struct heap_entry heap_pop(struct heap *h)
{
    struct heap_entry top = h->e[0];
    size_t i = 0;

    h->e[0] = h->e[--h->n];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        struct heap_entry t;

        if (l < h->n && entry_less(&h->e[l], &h->e[m]))
            m = l;
        if (r < h->n && entry_less(&h->e[r], &h->e[m]))
            m = r;
        if (m == i)
            break;
        t = h->e[i];
        h->e[i] = h->e[m];
        h->e[m] = t;
        i = m;
    }
    return top;
}

static int heap_push_pair(const struct tok_bpe *bpe, struct heap *h, const struct symbol *sym,
                          int32_t pos)
{
    int32_t next = sym[pos].next, rank, merged;

    if (next < 0 || !merge_lookup(bpe, sym[pos].id, sym[next].id, &rank, &merged))
        return 0;
    return heap_push(h, (struct heap_entry){rank, pos, sym[pos].id, sym[next].id, merged});
}

/* Looks up each character of w, with the subword prefix and word suffix where configured, and
 * appends its symbol. Unknown characters become byte tokens, the unk token or nothing. */
static int initial_symbols(const struct tok *tok, const char *w, size_t len, struct symbol **out,
                           size_t *n_out)
{
    const struct tok_bpe *bpe = &tok->bpe;
    struct symbol *sym = malloc((len + 1) * sizeof(*sym)); /* at most one per byte */
    size_t n = 0, i = 0;
    bool last_unk = false;
    char buf[TOK_MAX_TOKEN_BYTES + 16];

    if (sym == NULL)
        return -1;
    while (i < len) {
        int32_t cp, id;
        size_t clen = tok_utf8_next(w + i, len - i, &cp), blen = 0;

        if (clen == 0)
            clen = 1; /* not reached: input is validated UTF-8 */
        if (i > 0 && bpe->prefix_len > 0) {
            memcpy(buf, bpe->prefix, bpe->prefix_len);
            blen = bpe->prefix_len;
        }
        memcpy(buf + blen, w + i, clen);
        blen += clen;
        if (i + clen == len && bpe->suffix_len > 0 && bpe->suffix_len <= TOK_MAX_TOKEN_BYTES) {
            memcpy(buf + blen, bpe->suffix, bpe->suffix_len);
            blen += bpe->suffix_len;
        }
        id = tok_vocab_find(bpe->vocab, bpe->vocab_mask, buf, blen);
        if (id >= 0) {
            sym[n++] = (struct symbol){id, -1, -1, true};
            last_unk = false;
        } else {
            bool bytes_ok = bpe->byte_fallback;

            for (size_t k = 0; bytes_ok && k < clen; k++)
                bytes_ok = bpe->byte_ids[(unsigned char)w[i + k]] >= 0;
            if (bytes_ok) {
                for (size_t k = 0; k < clen; k++)
                    sym[n++] =
                        (struct symbol){bpe->byte_ids[(unsigned char)w[i + k]], -1, -1, true};
                last_unk = false;
            } else if (bpe->unk_id >= 0) {
                if (!(bpe->fuse_unk && last_unk))
                    sym[n++] = (struct symbol){bpe->unk_id, -1, -1, true};
                last_unk = true;
            }
        }
        i += clen;
    }
    for (size_t k = 0; k < n; k++) {
        sym[k].prev = k == 0 ? -1 : (int32_t)k - 1;
        sym[k].next = k + 1 == n ? -1 : (int32_t)k + 1;
    }
    *out = sym;
    *n_out = n;
    return 0;
}

int tok_bpe_encode_word(const struct tok *tok, const char *w, size_t len, int32_t **ids, size_t *n,
                        size_t *cap, struct tr_error *err)
{
    const struct tok_bpe *bpe = &tok->bpe;
    struct symbol *sym = NULL;
    struct heap heap = {0};
    size_t n_sym = 0;
    int rc = -1;

    if (len == 0)
        return 0;
    if (bpe->ignore_merges) {
        int32_t id = tok_vocab_find(bpe->vocab, bpe->vocab_mask, w, len);

        if (id >= 0)
            return push_id(ids, n, cap, id) < 0 ? tr_error_set(err, "out of memory") : 0;
    }
    if (len > (size_t)INT32_MAX / 8)
        return tr_error_set(err, "a pre-token of %zu bytes is too long", len);
    if (initial_symbols(tok, w, len, &sym, &n_sym) < 0)
        goto out;
    for (size_t k = 0; k + 1 < n_sym; k++) {
        if (heap_push_pair(bpe, &heap, sym, (int32_t)k) < 0)
            goto out;
    }
    while (heap.n > 0) {
        struct heap_entry top = heap_pop(&heap);
        int32_t pos = top.pos, next = sym[pos].next;

        if (!sym[pos].alive || next < 0 || sym[pos].id != top.left || sym[next].id != top.right)
            continue; /* stale: one side was merged since this entry was pushed */
        sym[pos].id = top.merged;
        sym[next].alive = false;
        sym[pos].next = sym[next].next;
        if (sym[next].next >= 0)
            sym[sym[next].next].prev = pos;
        if (sym[pos].prev >= 0 && heap_push_pair(bpe, &heap, sym, sym[pos].prev) < 0)
            goto out;
        if (heap_push_pair(bpe, &heap, sym, pos) < 0)
            goto out;
    }
    for (int32_t k = n_sym > 0 ? 0 : -1; k >= 0; k = sym[k].next) {
        if (push_id(ids, n, cap, sym[k].id) < 0)
            goto out;
    }
    rc = 0;
out:
    free(sym);
    free(heap.e);
    return rc < 0 ? tr_error_set(err, "out of memory encoding a pre-token of %zu bytes", len) : 0;
}
