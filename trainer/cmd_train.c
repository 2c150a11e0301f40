/* atelier train: parses the options of `atelier train`, runs train_run and maps the outcome
 * to the exit status the jobs worker relies on: 0 success, 1 failed run (one error line on
 * stderr), 2 usage error. */
#include "commands.h"

#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    "  --dropout X           dropout on the LoRA input, 0 <= X < 1 (default 0.05)\n"
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
    "  --eval-split X        hold out this share of the training data instead (0 < X < 1)\n"
    "  --checkpoint-every N  write ADAPTER_DIR/checkpoint/state.bin every N steps\n"
    "                        (0, the default: only at the end)\n"
    "  --resume              continue from ADAPTER_DIR/checkpoint/state.bin\n"
    "  --progress-fd FD      write the JSON progress lines to FD instead of stdout\n"
    "SIGTERM or SIGINT stops after the current step with a checkpoint (exit 1).\n"
    "recorded in the model card:\n"
    "  --base-name NAME  --base-revision REV  --dataset-name NAME  --dataset-revision REV\n";

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
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* Parses "q_proj,v_proj" or "all-linear" into a target mask. */
static bool parse_targets(unsigned *mask, const char *value)
{
    char buf[256];
    char *save = NULL;

    *mask = 0;
    if (strcasecmp(value, "all-linear") == 0) {
        *mask = (1u << LORA_NUM_TARGETS) - 1;
        return true;
    }
    if (strlen(value) >= sizeof(buf))
        goto bad;
    memcpy(buf, value, strlen(value) + 1);
    for (char *name = strtok_r(buf, ",", &save); name != NULL; name = strtok_r(NULL, ",", &save)) {
        enum lora_target t;

        while (*name == ' ')
            name++;
        if (!lora_target_parse(name, &t)) {
            fprintf(stderr,
                    "atelier train: invalid --targets entry \"%s\": expected q_proj, "
                    "k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj or all-linear\n",
                    name);
            return false;
        }
        *mask |= 1u << t;
    }
    if (*mask != 0)
        return true;
bad:
    fprintf(stderr,
            "atelier train: invalid --targets value \"%s\": expected a comma-separated "
            "list of PEFT module names or all-linear\n",
            value);
    return false;
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

/* Applies one option; returns false on a bad value (already reported). */
static bool apply_option(struct train_options *o, int c, const char *v, bool *steps_given,
                         bool *epochs_given)
{
    double d;

    switch (c) {
    case OPT_BASE:
        o->base_dir = v;
        return true;
    case OPT_DATA:
        o->data_path = v;
        return true;
    case OPT_OUT:
        o->out_dir = v;
        return true;
    case OPT_EVAL:
        o->eval_path = v;
        return true;
    case OPT_BASE_NAME:
        o->base_name = v;
        return true;
    case OPT_BASE_REVISION:
        o->base_revision = v;
        return true;
    case OPT_DATASET_NAME:
        o->dataset_name = v;
        return true;
    case OPT_DATASET_REVISION:
        o->dataset_revision = v;
        return true;
    case OPT_RSLORA:
        o->rslora = true;
        return true;
    case OPT_RESUME:
        o->resume = true;
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
    bool steps_given = false, epochs_given = false;
    int c;

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
        if (!apply_option(&o, c, optarg, &steps_given, &epochs_given))
            return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "atelier train: unexpected argument \"%s\" (see atelier train --help)\n",
                argv[optind]);
        return 2;
    }
    if (!check_required(&o, steps_given, epochs_given))
        return 2;
    install_stop_handlers();
    o.stop_requested = &stop_requested;
    if (train_run(&res, &o, &err) < 0) {
        fprintf(stderr, "atelier train: error: %s\n", err.msg);
        return 1;
    }
    if (o.progress != stdout)
        fclose(o.progress);
    return 0;
}
