/* card: writes the model card of a trained adapter. Every user-given string that lands in
 * the YAML front matter goes through card_yaml_quote, so names with colons, quotes or
 * newlines cannot break the metadata the hub parses. */
#include "card.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "train_version.h"

/* The last line of a card: an HTML comment, which Markdown renderers hide, holding the
 * SHA-256 of every byte before it. A card edited after the trainer wrote it no longer
 * matches. Cards above CARD_MAX_BYTES are never the trainer's. */
#define CARD_MARKER_PREFIX "<!-- atelier train card sha256: "
#define CARD_MAX_BYTES     (1L << 20)

void card_yaml_quote(char *buf, size_t size, const char *s)
{
    size_t used = 0;

    if (size < 3) {
        if (size > 0)
            buf[0] = '\0';
        return;
    }
    buf[used++] = '"';
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        size_t n;

        if (c == '"' || c == '\\')
            n = (size_t)snprintf(esc, sizeof(esc), "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            n = (size_t)snprintf(esc, sizeof(esc), "\\x%02x", c);
        else
            n = (size_t)snprintf(esc, sizeof(esc), "%c", c);
        if (used + n + 2 > size)
            break;
        memcpy(buf + used, esc, n);
        used += n;
    }
    buf[used++] = '"';
    buf[used] = '\0';
}

/* Returns the last component of path, so the card names the --eval file without the local
 * folders above it. */
static const char *file_name_of(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash != NULL && slash[1] != '\0' ? slash + 1 : path;
}

/* Writes the model-index dataset of an --eval file: the file itself, not a split of the
 * training dataset, so neither the split nor the dataset revision applies. */
static void write_eval_file_dataset(FILE *f, const struct train_options *o)
{
    char eval_name[600];

    card_yaml_quote(eval_name, sizeof(eval_name), file_name_of(o->eval_path));
    fprintf(f, "    dataset:\n      type: %s\n      name: %s\n", eval_name, eval_name);
}

static void write_front_matter(FILE *f, const struct card_data *c)
{
    const struct train_options *o = c->opt;
    const struct train_result *r = c->result;
    char base[600], dataset[600], name[600];

    card_yaml_quote(base, sizeof(base), o->base_name != NULL ? o->base_name : o->base_dir);
    card_yaml_quote(dataset, sizeof(dataset),
                    o->dataset_name != NULL ? o->dataset_name : o->data_path);
    card_yaml_quote(name, sizeof(name), c->model_name);
    fprintf(f, "---\nbase_model: %s\nlibrary_name: peft\npipeline_tag: text-generation\n", base);
    fprintf(f, "tags:\n- lora\n- peft\n- atelier\ndatasets:\n- %s\n", dataset);
    fprintf(f, "model-index:\n- name: %s\n  results:\n", name);
    if (!r->has_eval) {
        fprintf(f, "  - task:\n      type: text-generation\n      name: Text Generation\n");
        fprintf(f, "    dataset:\n      type: %s\n      name: %s\n      split: train\n", dataset,
                dataset);
        fprintf(f,
                "    metrics:\n    - type: loss\n      value: %.6f\n      name: final "
                "training loss\n---\n",
                r->train_loss);
        return;
    }
    fprintf(f, "  - task:\n      type: text-generation\n      name: Text Generation\n");
    if (o->eval_path != NULL)
        write_eval_file_dataset(f, o);
    else
        fprintf(f, "    dataset:\n      type: %s\n      name: %s\n      split: %s\n", dataset,
                dataset, "held-out split of train");
    if (o->eval_path == NULL && o->dataset_revision != NULL) {
        char rev[300];

        card_yaml_quote(rev, sizeof(rev), o->dataset_revision);
        fprintf(f, "      revision: %s\n", rev);
    }
    fprintf(f, "    metrics:\n");
    fprintf(f,
            "    - type: loss\n      value: %.6f\n      name: eval loss (mean NLL per "
            "token)\n",
            r->eval_loss);
    fprintf(f, "    - type: perplexity\n      value: %.4f\n      name: eval perplexity\n",
            r->eval_perplexity);
    fprintf(f, "---\n");
}

static void write_body(FILE *f, const struct card_data *c)
{
    const struct train_options *o = c->opt;
    const struct train_result *r = c->result;

    fprintf(f, "\n# %s\n\n", c->model_name);
    fprintf(f, "A LoRA adapter for `%s`%s%s%s, trained with atelier %s.\n\n",
            o->base_name != NULL ? o->base_name : o->base_dir,
            o->base_revision != NULL ? " at revision `" : "",
            o->base_revision != NULL ? o->base_revision : "", o->base_revision != NULL ? "`" : "",
            TRAIN_ATELIER_VERSION);
    fprintf(f, "## Training data\n\n");
    fprintf(f, "- dataset: `%s`%s%s%s\n", o->dataset_name != NULL ? o->dataset_name : o->data_path,
            o->dataset_revision != NULL ? " at revision `" : "",
            o->dataset_revision != NULL ? o->dataset_revision : "",
            o->dataset_revision != NULL ? "`" : "");
    fprintf(f, "- SHA-256 of the training file: `%s`\n", c->dataset_sha256);
    if (o->eval_path != NULL) {
        fprintf(f, "- examples: %zu\n\n", c->n_train);
        fprintf(f, "## Evaluation data\n\n");
        fprintf(f, "- file: `%s`\n", file_name_of(o->eval_path));
        fprintf(f, "- SHA-256 of the eval file: `%s`\n", c->eval_sha256);
        fprintf(f, "- examples: %zu\n\n", c->n_eval);
    } else if (c->n_eval > 0) {
        fprintf(f, "- examples: %zu for training, %zu held out\n\n", c->n_train, c->n_eval);
    } else {
        fprintf(f, "- examples: %zu\n\n", c->n_train);
    }
    fprintf(f, "## Hyperparameters\n\n| setting | value |\n| --- | --- |\n");
    fprintf(f, "| target modules | %s |\n| rank | %d |\n| alpha | %g |\n", c->targets, o->rank,
            o->alpha);
    fprintf(f, "| dropout | %g |\n| rsLoRA | %s |\n", o->dropout, o->rslora ? "yes" : "no");
    fprintf(f, "| learning rate | %g (warmup %llu step%s, cosine decay) |\n", o->lr,
            (unsigned long long)o->warmup, o->warmup == 1 ? "" : "s");
    fprintf(f, "| optimizer steps | %llu |\n| batch | %d x %d accumulation |\n",
            (unsigned long long)r->steps, o->batch, o->grad_accum);
    fprintf(f, "| sequence length | %d |\n| gradient clipping | %g |\n", o->seq_len, o->clip);
    fprintf(f, "| weight decay | %g |\n| seed | %llu |\n", o->weight_decay,
            (unsigned long long)o->seed);
    fprintf(f, "| threads | %d |\n\n", c->threads);
    fprintf(f, "## Results\n\n| metric | value |\n| --- | --- |\n");
    fprintf(f, "| final training loss | %.4f |\n", r->train_loss);
    if (r->has_eval) {
        fprintf(f, "| eval loss | %.4f |\n| eval perplexity | %.4f |\n", r->eval_loss,
                r->eval_perplexity);
        fprintf(f, "| base model eval loss | %.4f |\n", r->base_eval_loss);
    }
    fprintf(f, "| target tokens trained on | %llu |\n| training time | %.1f s |\n\n",
            (unsigned long long)r->tokens, r->seconds);
    /* The bare folder name would only load from the folder above it, so the example uses
     * the hub repo id when one is given, else the path the adapter was written to. */
    fprintf(f,
            "Load it with PEFT: `PeftModel.from_pretrained(base_model, \"%s\")`, or "
            "evaluate it with `atelier eval --base BASE --adapter DIR --data FILE`.\n",
            o->repo_id != NULL ? o->repo_id : o->out_dir);
}

/* Fills hex with the SHA-256 of data[0..len). Returns false when OpenSSL fails. */
static bool sha256_hex(char hex[65], const char *data, size_t len)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    if (EVP_Digest(data, len, digest, &n, EVP_sha256(), NULL) != 1 || n != 32)
        return false;
    for (unsigned int i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    return true;
}

int card_write(const char *dir, const struct card_data *card, struct tr_error *err)
{
    char path[4096], tmp[4200], hex[65];
    char *text = NULL;
    size_t len = 0;
    FILE *mem, *f;
    bool ok;

    snprintf(path, sizeof(path), "%s/README.md", dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    mem = open_memstream(&text, &len);
    if (mem == NULL)
        return tr_error_set(err, "cannot build the model card: %s", strerror(errno));
    write_front_matter(mem, card);
    write_body(mem, card);
    ok = ferror(mem) == 0;
    if (fclose(mem) != 0 || !ok || !sha256_hex(hex, text, len)) {
        free(text);
        return tr_error_set(err, "cannot build the model card");
    }
    f = fopen(tmp, "w");
    if (f == NULL) {
        free(text);
        return tr_error_set(err, "cannot create %s: %s", tmp, strerror(errno));
    }
    fwrite(text, 1, len, f);
    fprintf(f, CARD_MARKER_PREFIX "%s -->\n", hex);
    free(text);
    if (ferror(f) != 0 || fclose(f) != 0) {
        unlink(tmp);
        return tr_error_set(err, "cannot write %s", tmp);
    }
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return tr_error_set(err, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    }
    return 0;
}

bool card_is_unchanged(const char *path)
{
    size_t prefix_len = strlen(CARD_MARKER_PREFIX);
    char *text = NULL, hex[65];
    const char *line;
    bool same = false;
    long size;
    FILE *f;

    f = fopen(path, "rb");
    if (f == NULL)
        return false;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) > 0 && size < CARD_MAX_BYTES &&
        fseek(f, 0, SEEK_SET) == 0 && (text = malloc((size_t)size + 1)) != NULL &&
        fread(text, 1, (size_t)size, f) == (size_t)size) {
        text[size] = '\0';
        /* The marker is the last line: find the start of the line before the final '\n'. */
        line = text + size - 1;
        while (line > text && line[-1] != '\n')
            line--;
        same = text[size - 1] == '\n' && strncmp(line, CARD_MARKER_PREFIX, prefix_len) == 0 &&
               sha256_hex(hex, text, (size_t)(line - text)) &&
               strncmp(line + prefix_len, hex, 64) == 0 &&
               strcmp(line + prefix_len + 64, " -->\n") == 0;
    }
    free(text);
    fclose(f);
    return same;
}
