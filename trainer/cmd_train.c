/* atelier train: parses the options of `atelier train`, runs train_run and maps the outcome
 * to the exit status the jobs worker relies on: 0 success, 1 failed run (one error line on
 * stderr), 2 usage error. */
#include "commands.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "card.h"
#include "lora.h"
#include "train.h"
#include "train_cli.h"

static const char usage_text[] =
    "usage: atelier train --base MODEL_DIR --data TRAIN.jsonl --out ADAPTER_DIR [OPTIONS]\n"
    "\n"
    "Fine-tunes a LoRA adapter and writes ADAPTER_DIR/adapter_config.json,\n"
    "adapter_model.safetensors, README.md and train_results.json.\n"
    "\n"
    "adapter:\n"
    "  --targets LIST        PEFT module names, comma-separated (q_proj,k_proj,v_proj,o_proj,\n"
    "                        gate_proj,up_proj,down_proj) or all-linear (default q_proj,v_proj)\n"
    "  --rank N              LoRA rank, 1..4096 (default 8)\n"
    "  --alpha X             LoRA alpha; scale is alpha/rank (default 16)\n"
    "  --dropout X           dropout on the LoRA input, 0 <= X <= 0.99 (default 0.05)\n"
    "  --rslora              scale by alpha/sqrt(rank) instead\n"
    "optimization:\n"
    "  --lr X                peak learning rate of AdamW (default 2e-4)\n"
    "  --epochs X            passes over the training data (default 1)\n"
    "  --steps N             optimizer steps; overrides --epochs\n"
    "  --batch N             sequences per micro-batch (default 4)\n"
    "  --grad-accum N        micro-batches per optimizer step (default 1)\n"
    "  --seq-len N           tokens per sequence; longer examples are truncated (default 512)\n"
    "  --warmup N            linear warmup steps before the cosine decay (default 0)\n"
    "  --clip X              maximum global gradient norm, 0 to disable (default 1.0)\n"
    "  --weight-decay X      decoupled AdamW weight decay (default 0)\n"
    "  --seed N              seed of initialization, data order and dropout (default 42)\n"
    "  --threads N           compute threads; same seed and threads give identical output\n"
    "evaluation and checkpoints:\n"
    "  --eval FILE           held-out data scored at each checkpoint and at the end\n"
    "  --eval-split X        hold out this share of the training data instead (0 < X <= 0.5)\n"
    "  --checkpoint-every N  write ADAPTER_DIR/checkpoint/state.bin every N steps\n"
    "                        (0, the default: only at the end)\n"
    "  --resume              continue from ADAPTER_DIR/checkpoint/state.bin\n"
    "  --progress-fd FD      write the JSON progress lines to FD instead of stdout\n"
    "  --force               write into an ADAPTER_DIR that holds files atelier train did\n"
    "                        not write (they are kept; README.md is replaced)\n"
    "SIGTERM or SIGINT stops after the current step with a checkpoint (exit 1).\n"
    "recorded in the model card and adapter_config.json:\n"
    "  --base-name NS/NAME   hub repo id of the base model (default: \"_name_or_path\" of\n"
    "                        its config.json when that is a repo id, else the folder name)\n"
    "  --base-revision REV   commit of the base model\n"
    "  --dataset-name NS/NAME  hub repo id of the dataset (default: the file name)\n"
    "  --dataset-revision REV  commit of the dataset\n"
    "  --repo-id NS/NAME     hub repo id the adapter is published as; the card's loading\n"
    "                        example uses it (default: the ADAPTER_DIR path)\n";

enum {
    OPT_BASE = 256,
    OPT_DATA,
    OPT_OUT,
    OPT_TARGETS,
    OPT_RANK,
    OPT_ALPHA,
    OPT_DROPOUT,
    OPT_RSLORA,
    OPT_LR,
    OPT_EPOCHS,
    OPT_STEPS,
    OPT_BATCH,
    OPT_GRAD_ACCUM,
    OPT_SEQ_LEN,
    OPT_WARMUP,
    OPT_CLIP,
    OPT_WEIGHT_DECAY,
    OPT_SEED,
    OPT_THREADS,
    OPT_EVAL,
    OPT_EVAL_SPLIT,
    OPT_CHECKPOINT_EVERY,
    OPT_RESUME,
    OPT_PROGRESS_FD,
    OPT_BASE_NAME,
    OPT_BASE_REVISION,
    OPT_DATASET_NAME,
    OPT_DATASET_REVISION,
    OPT_REPO_ID,
    OPT_FORCE,
    OPT_HELP
};

static const struct option long_options[] = {
    {"base", required_argument, NULL, OPT_BASE},
    {"data", required_argument, NULL, OPT_DATA},
    {"out", required_argument, NULL, OPT_OUT},
    {"targets", required_argument, NULL, OPT_TARGETS},
    {"rank", required_argument, NULL, OPT_RANK},
    {"alpha", required_argument, NULL, OPT_ALPHA},
    {"dropout", required_argument, NULL, OPT_DROPOUT},
    {"rslora", no_argument, NULL, OPT_RSLORA},
    {"lr", required_argument, NULL, OPT_LR},
    {"epochs", required_argument, NULL, OPT_EPOCHS},
    {"steps", required_argument, NULL, OPT_STEPS},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"grad-accum", required_argument, NULL, OPT_GRAD_ACCUM},
    {"seq-len", required_argument, NULL, OPT_SEQ_LEN},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"clip", required_argument, NULL, OPT_CLIP},
    {"weight-decay", required_argument, NULL, OPT_WEIGHT_DECAY},
    {"seed", required_argument, NULL, OPT_SEED},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"eval", required_argument, NULL, OPT_EVAL},
    {"eval-split", required_argument, NULL, OPT_EVAL_SPLIT},
    {"checkpoint-every", required_argument, NULL, OPT_CHECKPOINT_EVERY},
    {"resume", no_argument, NULL, OPT_RESUME},
    {"progress-fd", required_argument, NULL, OPT_PROGRESS_FD},
    {"base-name", required_argument, NULL, OPT_BASE_NAME},
    {"base-revision", required_argument, NULL, OPT_BASE_REVISION},
    {"dataset-name", required_argument, NULL, OPT_DATASET_NAME},
    {"dataset-revision", required_argument, NULL, OPT_DATASET_REVISION},
    {"repo-id", required_argument, NULL, OPT_REPO_ID},
    {"force", no_argument, NULL, OPT_FORCE},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* Parses "q_proj,v_proj" or "all-linear" into a target mask. An empty entry, as in
 * "q_proj,,v_proj" or a trailing comma, is an error rather than skipped. */
static bool parse_targets(unsigned *mask, const char *value)
{
    const char *entry = value;

    *mask = 0;
    if (strcasecmp(value, "all-linear") == 0) {
        *mask = (1u << LORA_NUM_TARGETS) - 1;
        return true;
    }
    for (;;) {
        size_t len = strcspn(entry, ",");
        char name[64];
        enum lora_target t;

        while (len > 0 && *entry == ' ') {
            entry++;
            len--;
        }
        while (len > 0 && entry[len - 1] == ' ')
            len--;
        if (len == 0) {
            fprintf(stderr,
                    "atelier train: invalid --targets value \"%s\": it has an empty entry; "
                    "expected a comma-separated list of PEFT module names or all-linear\n",
                    value);
            return false;
        }
        snprintf(name, sizeof(name), "%.*s", (int)len, entry);
        if (len >= sizeof(name) || !lora_target_parse(name, &t)) {
            fprintf(stderr,
                    "atelier train: invalid --targets entry \"%s\": expected q_proj, "
                    "k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj or all-linear\n",
                    name);
            return false;
        }
        *mask |= 1u << t;
        entry += strcspn(entry, ",");
        if (*entry == '\0')
            return true;
        entry++;
    }
}

static bool open_progress_fd(FILE **out, const char *value)
{
    uint64_t fd;

    if (!train_cli_uint(&fd, "train", "--progress-fd", value, 0, 65535))
        return false;
    if (fcntl((int)fd, F_GETFD) < 0) {
        fprintf(stderr,
                "atelier train: invalid --progress-fd value \"%s\": file descriptor %s "
                "is not open\n",
                value, value);
        return false;
    }
    *out = fdopen((int)fd, "w");
    if (*out == NULL) {
        fprintf(stderr,
                "atelier train: invalid --progress-fd value \"%s\": file descriptor is "
                "not writable\n",
                value);
        return false;
    }
    return true;
}

static bool is_hub_repo_id(const char *id);

/* Returns false, after printing one line, when value of option is not a hub repo id. */
static bool check_repo_id_option(const char *option, const char *value)
{
    if (is_hub_repo_id(value))
        return true;
    fprintf(stderr,
            "atelier train: invalid %s value \"%s\": expected a hub repo id NAMESPACE/NAME of "
            "letters, digits, '-', '_' and '.'\n",
            option, value);
    return false;
}

/* Applies one option; returns false on a bad value (already reported). */
static bool apply_option(struct train_options *o, int c, const char *v, bool *steps_given,
                         bool *epochs_given, bool *force)
{
    double d;

    switch (c) {
    case OPT_BASE:
        o->base_dir = v;
        return train_cli_nonempty("train", "--base", v);
    case OPT_DATA:
        o->data_path = v;
        return train_cli_nonempty("train", "--data", v);
    case OPT_OUT:
        o->out_dir = v;
        return train_cli_nonempty("train", "--out", v);
    case OPT_EVAL:
        o->eval_path = v;
        return train_cli_nonempty("train", "--eval", v);
    case OPT_BASE_NAME:
        o->base_name = v;
        return check_repo_id_option("--base-name", v);
    case OPT_BASE_REVISION:
        o->base_revision = v;
        return true;
    case OPT_DATASET_NAME:
        o->dataset_name = v;
        return check_repo_id_option("--dataset-name", v);
    case OPT_DATASET_REVISION:
        o->dataset_revision = v;
        return true;
    case OPT_REPO_ID:
        o->repo_id = v;
        return check_repo_id_option("--repo-id", v);
    case OPT_RSLORA:
        o->rslora = true;
        return true;
    case OPT_RESUME:
        o->resume = true;
        return true;
    case OPT_FORCE:
        *force = true;
        return true;
    case OPT_TARGETS:
        return parse_targets(&o->target_mask, v);
    case OPT_RANK:
        return train_cli_int(&o->rank, "train", "--rank", v, 1, 4096);
    case OPT_BATCH:
        return train_cli_int(&o->batch, "train", "--batch", v, 1, 64);
    case OPT_GRAD_ACCUM:
        return train_cli_int(&o->grad_accum, "train", "--grad-accum", v, 1, 4096);
    case OPT_SEQ_LEN:
        return train_cli_int(&o->seq_len, "train", "--seq-len", v, 2, 1 << 20);
    case OPT_THREADS:
        return train_cli_int(&o->threads, "train", "--threads", v, 1, 1024);
    case OPT_SEED:
        return train_cli_uint(&o->seed, "train", "--seed", v, 0, UINT64_MAX);
    case OPT_WARMUP:
        return train_cli_uint(&o->warmup, "train", "--warmup", v, 0, 1000000000);
    case OPT_CHECKPOINT_EVERY:
        return train_cli_uint(&o->checkpoint_every, "train", "--checkpoint-every", v, 0,
                              1000000000);
    case OPT_STEPS:
        *steps_given = true;
        return train_cli_uint(&o->steps, "train", "--steps", v, 1, 1000000000);
    case OPT_EPOCHS:
        *epochs_given = true;
        return train_cli_double(&o->epochs, "train", "--epochs", v, 0.0, 100000.0, true);
    case OPT_LR:
        return train_cli_double(&o->lr, "train", "--lr", v, 0.0, 1.0, true);
    case OPT_CLIP:
        return train_cli_double(&o->clip, "train", "--clip", v, 0.0, 1e6, false);
    case OPT_WEIGHT_DECAY:
        return train_cli_double(&o->weight_decay, "train", "--weight-decay", v, 0.0, 1.0, false);
    case OPT_EVAL_SPLIT:
        if (!train_cli_double(&o->eval_split, "train", "--eval-split", v, 0.0, 0.5, true))
            return false;
        return true;
    case OPT_ALPHA:
        if (!train_cli_double(&d, "train", "--alpha", v, 0.0, 1e6, true))
            return false;
        o->alpha = (float)d;
        return true;
    case OPT_DROPOUT:
        if (!train_cli_double(&d, "train", "--dropout", v, 0.0, 0.99, false))
            return false;
        o->dropout = (float)d;
        return true;
    case OPT_PROGRESS_FD:
        return open_progress_fd(&o->progress, v);
    default:
        return false;
    }
}

static bool check_required(const struct train_options *o, bool steps_given, bool epochs_given)
{
    const char *missing = o->base_dir == NULL    ? "--base MODEL_DIR"
                          : o->data_path == NULL ? "--data TRAIN.jsonl"
                          : o->out_dir == NULL   ? "--out ADAPTER_DIR"
                                                 : NULL;

    if (missing != NULL) {
        fprintf(stderr, "atelier train: missing %s (see atelier train --help)\n", missing);
        return false;
    }
    if (steps_given && epochs_given) {
        fprintf(stderr, "atelier train: give either --steps or --epochs, not both\n");
        return false;
    }
    if (o->eval_path != NULL && o->eval_split > 0.0) {
        fprintf(stderr, "atelier train: give either --eval or --eval-split, not both\n");
        return false;
    }
    if (o->steps > 0 && o->warmup > o->steps) {
        fprintf(stderr,
                "atelier train: invalid --warmup value %llu: expected at most --steps "
                "%llu\n",
                (unsigned long long)o->warmup, (unsigned long long)o->steps);
        return false;
    }
    return true;
}

/* ---- the --out folder ---- */

/* Returns true when README.md in dir is a model card that atelier train wrote and that was
 * not edited since, so a rerun may replace it. */
static bool is_trainer_card(const char *dir)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/README.md", dir);
    return card_is_unchanged(path);
}

/* Returns true when the checkpoint folder holds only the files the trainer writes there. */
static bool is_trainer_checkpoint_dir(const char *dir)
{
    static const char *const names[] = {"state.bin", "state.bin.tmp", ".write-test"};
    char path[PATH_MAX];
    bool ours = true;
    struct dirent *e;
    DIR *d;

    snprintf(path, sizeof(path), "%s/checkpoint", dir);
    d = opendir(path);
    if (d == NULL)
        return false;
    while (ours && (e = readdir(d)) != NULL) {
        bool known = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;

        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !known; i++)
            known = strcmp(e->d_name, names[i]) == 0;
        ours = known;
    }
    closedir(d);
    return ours;
}

/* Returns true when name in dir is something atelier train writes, so replacing it loses
 * nothing of the user's. */
static bool is_trainer_output(const char *dir, const char *name)
{
    static const char *const files[] = {
        "adapter_config.json",           "adapter_config.json.tmp", "adapter_model.safetensors",
        "adapter_model.safetensors.tmp", "train_results.json",      "README.md.tmp",
    };

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        if (strcmp(name, files[i]) == 0)
            return true;
    }
    if (strcmp(name, "README.md") == 0)
        return is_trainer_card(dir);
    if (strcmp(name, "checkpoint") == 0)
        return is_trainer_checkpoint_dir(dir);
    return false;
}

/* Returns false, after printing one line, when --out would overwrite the base model or
 * files that atelier train did not write. --out must neither be the --base folder nor lie
 * inside or around it. Without --force the folder may hold only a previous adapter and
 * checkpoint of the trainer, which --resume and a rerun replace. */
static bool check_out_dir(const struct train_options *o, bool force)
{
    if (!train_cli_check_out_path("train", o->out_dir))
        return false;
    char out[PATH_MAX], base[PATH_MAX];

    if (train_cli_resolve_path(out, sizeof(out), o->out_dir) &&
        train_cli_resolve_path(base, sizeof(base), o->base_dir)) {
        const char *relation = strcmp(out, base) == 0             ? "is"
                               : train_cli_path_within(out, base) ? "is inside"
                               : train_cli_path_within(base, out) ? "contains"
                                                                  : NULL;

        if (relation != NULL) {
            fprintf(stderr,
                    "atelier train: --out %s %s the --base model folder %s, so training "
                    "would overwrite or mix with the model's files; choose a folder outside "
                    "it\n",
                    o->out_dir, relation, o->base_dir);
            return false;
        }
    }
    if (force)
        return true;
    return train_cli_check_foreign_entries("train", o->out_dir, is_trainer_output,
                                           "write the adapter files next to them",
                                           "the adapter's model card");
}

/* Returns the last component of path, ignoring trailing slashes, in buf. A path that has
 * none of its own ("." or "..") is resolved first, so the name is the real directory's. */
static void last_component(char *buf, size_t size, const char *path)
{
    char resolved[PATH_MAX];
    const char *end, *start;

    if (realpath(path, resolved) != NULL)
        path = resolved;
    end = path + strlen(path);
    while (end > path + 1 && end[-1] == '/')
        end--;
    start = end;
    while (start > path && start[-1] != '/')
        start--;
    snprintf(buf, size, "%.*s", (int)(end - start), start);
}

/* Returns true for a hub repo id of the form "namespace/name": exactly one slash, and each
 * part starts with a letter or digit and continues with letters, digits, '-', '_' or '.'. */
static bool is_hub_repo_id(const char *id)
{
    const char *slash = strchr(id, '/');
    size_t n = strlen(id);

    if (slash == NULL || slash == id || strchr(slash + 1, '/') != NULL || slash[1] == '\0' ||
        n > 200 || strstr(id, "..") != NULL)
        return false;
    if (!isalnum((unsigned char)id[0]) || !isalnum((unsigned char)slash[1]))
        return false;
    for (const char *p = id; *p != '\0'; p++) {
        if (p != slash && !isalnum((unsigned char)*p) && strchr("-_.", *p) == NULL)
            return false;
    }
    return true;
}

/* Fills buf with the base model's hub name: "_name_or_path" of its config.json when that
 * is a hub repo id, else the directory's last component. */
static void default_base_name(char *buf, size_t size, const char *base_dir)
{
    char path[PATH_MAX];
    json_error_t jerr;
    json_t *config;
    const char *name;

    snprintf(path, sizeof(path), "%s/config.json", base_dir);
    config = json_load_file(path, 0, &jerr);
    name = json_string_value(json_object_get(config, "_name_or_path"));
    if (name != NULL && is_hub_repo_id(name))
        snprintf(buf, size, "%s", name);
    else
        last_component(buf, size, base_dir);
    json_decref(config);
}

/* Records sensible hub names when --base-name or --dataset-name is absent, so the adapter
 * card does not link to a local path, and prints on stderr which flag sets the real id. */
static void fill_default_names(struct train_options *o, char *base_buf, size_t base_size,
                               char *dataset_buf, size_t dataset_size)
{
    struct stat st;

    /* A missing base folder fails the run with its own message, so no warning is due. */
    if (stat(o->base_dir, &st) != 0)
        return;
    if (o->base_name == NULL) {
        default_base_name(base_buf, base_size, o->base_dir);
        o->base_name = base_buf;
        fprintf(stderr,
                "atelier train: warning: no --base-name given, so the adapter records the "
                "base model as \"%s\"; --base-name NS/NAME sets the hub repo id recorded in "
                "the adapter\n",
                base_buf);
    }
    if (o->dataset_name == NULL) {
        last_component(dataset_buf, dataset_size, o->data_path);
        o->dataset_name = dataset_buf;
        fprintf(stderr,
                "atelier train: warning: no --dataset-name given, so the adapter records the "
                "dataset as \"%s\"; --dataset-name NS/NAME sets the hub repo id recorded in "
                "the adapter\n",
                dataset_buf);
    }
}

static volatile sig_atomic_t stop_requested;

static void request_stop(int signo)
{
    (void)signo;
    stop_requested = 1;
}

/* SIGTERM and SIGINT end the run after the current step with a checkpoint, so a cancelled
 * or preempted job can continue with --resume. */
static void install_stop_handlers(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = request_stop;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

int cmd_train(int argc, char **argv)
{
    struct train_options o;
    struct train_result res;
    struct tr_error err = {{0}};
    char base_name[256], dataset_name[256];
    bool steps_given = false, epochs_given = false, force = false;
    int c, rc;

    train_options_default(&o);
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
        if (c == 'h' || c == OPT_HELP) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (c == '?' || c == ':') {
            fprintf(stderr,
                    "atelier train: unknown or incomplete option \"%s\" (see atelier "
                    "train --help)\n",
                    argv[optind - 1]);
            return 2;
        }
        if (!apply_option(&o, c, optarg, &steps_given, &epochs_given, &force))
            return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "atelier train: unexpected argument \"%s\" (see atelier train --help)\n",
                argv[optind]);
        return 2;
    }
    if (!check_required(&o, steps_given, epochs_given))
        return 2;
    if (!train_cli_check_seq_len("train", o.base_dir, o.seq_len))
        return 2;
    if (!check_out_dir(&o, force))
        return 2;
    fill_default_names(&o, base_name, sizeof(base_name), dataset_name, sizeof(dataset_name));
    install_stop_handlers();
    o.stop_requested = &stop_requested;
    rc = train_run(&res, &o, &err);
    if (rc < 0) {
        fprintf(stderr, "atelier train: %s\n", err.msg);
        return rc == TRAIN_USAGE_ERROR ? 2 : 1;
    }
    if (o.progress != stdout)
        fclose(o.progress);
    return 0;
}
