#!/usr/bin/env bash
# Sets up a demo hub and queues a first training job. It installs the packages, builds, and
# creates a data directory with an admin user and a write token. It hosts stories260K as
# demo/stories260K and the style dataset as demo/style, starts `atelier serve` on 127.0.0.1,
# and queues a LoRA training job over the REST API.
#
# Usage: deploy/demo.sh [--foreground] [--no-install] [DATA_DIR]   (default ./demo-data)
#   --foreground   keep the hub in the foreground after queueing the job (Ctrl-C stops it)
#   --no-install   skip deploy/install-deps.sh, for a machine that already has the packages
# Environment: ATELIER_CORPUS (default ../shared/corpus next to the repo),
#              ATELIER_DEMO_PORT (default 8080), BUILD_DIR (default build).
# Running it again reuses the data directory, its admin account and its token, and shows the
# job it queued before instead of queueing a second one (unless that job failed or was
# canceled).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
foreground=0
install=1
while [ $# -gt 0 ]; do
  case "$1" in
    --foreground) foreground=1 ;;
    --no-install) install=0 ;;
    -*) printf 'demo: unknown option %s; see the usage at the top of %s\n' "$1" "$0" >&2
        exit 2 ;;
    *) break ;;
  esac
  shift
done
# A relative DATA_DIR or ATELIER_CORPUS is taken from where the script was run, because the
# script changes to the repository later. The default data dir is in the repository.
absolute() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
data=$(absolute "${1:-$here/demo-data}")
port=${ATELIER_DEMO_PORT:-8080}
build=${BUILD_DIR:-build}
corpus=$(absolute "${ATELIER_CORPUS:-$here/../shared/corpus}")
url="http://127.0.0.1:$port"

say() { printf 'demo: %s\n' "$*"; }
fail() { printf 'demo: %s\n' "$*" >&2; exit 1; }

model_dir="$corpus/models/stories260K"
[ -f "$model_dir/model.safetensors" ] ||
  fail "stories260K not found in $model_dir; set ATELIER_CORPUS to the folder holding models/stories260K"

if [ "$install" -eq 1 ]; then
  say "installing packages"
  "$here/deploy/install-deps.sh"
fi

say "building into $build"
cd "$here"
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build"
fi
meson compile -C "$build"
atelier="$here/$build/server/atelier"

mkdir -p "$data"
data=$(cd "$data" && pwd)
admin() { "$atelier" admin --data "$data" "$@"; }
token_file="$data/admin-token"
password_file="$data/admin-password"

if [ ! -s "$token_file" ]; then
  say "creating the admin user and a write token in $data"
  admin migrate
  umask 077
  head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$password_file"
  admin user add admin --admin < "$password_file"
  admin token create admin --write --label demo > "$token_file"
  umask 022
  admin org add demo
  admin org member add demo admin --role admin
fi
token=$(cat "$token_file")

if [ ! -d "$data/repos/models/demo/stories260K.git" ]; then
  say "importing $model_dir as demo/stories260K"
  admin repo import demo/stories260K "$model_dir" --type model --owner admin \
    --message "Import stories260K"
fi
if [ ! -d "$data/repos/datasets/demo/style.git" ]; then
  say "importing tests/data/style as the dataset demo/style"
  style=$(mktemp -d)
  cp "$here/tests/data/style/train.jsonl" "$here/tests/data/style/eval.jsonl" "$style/"
  admin repo import demo/style "$style" --type dataset --owner admin \
    --message "Import the style dataset"
  rm -rf "$style"
fi

pid_file="$data/serve.pid"
log_file="$data/serve.log"

# Prints the error lines that atelier serve wrote after line $1 of the log (its start-up
# failure is a plain "atelier serve: ..." line), or its last lines when none is an error.
print_serve_errors() {
  local new_lines
  new_lines=$(tail -n "+$(($1 + 1))" "$log_file" 2>/dev/null || true)
  printf '%s\n' "$new_lines" | grep -e ' error ' -e '^atelier serve: ' >&2 ||
    printf '%s\n' "$new_lines" | tail -n 5 >&2
}

# Succeeds when something accepts TCP connections on 127.0.0.1:$port.
port_in_use() { (exec 3<> "/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

started_here=0
if [ -s "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
  say "atelier serve is already running (pid $(cat "$pid_file"))"
  curl -fs "$url/healthz" > /dev/null 2>&1 ||
    fail "atelier serve (pid $(cat "$pid_file")) does not reply to $url/healthz; set" \
      "ATELIER_DEMO_PORT to the port it listens on (see $log_file) or stop it with" \
      "kill $(cat "$pid_file")"
else
  port_in_use &&
    fail "port $port on 127.0.0.1 is already in use by another server; stop it or set" \
      "ATELIER_DEMO_PORT to a free port"
  say "starting atelier serve on $url (log: $log_file)"
  touch "$log_file"
  log_start=$(wc -l < "$log_file")
  "$atelier" serve --data "$data" --listen "127.0.0.1:$port" --workers 1 \
    >> "$log_file" 2>&1 &
  echo $! > "$pid_file"
  # Another server that took the port after the check above would also reply to /healthz, so
  # the hub counts as started only once this process has logged that it listens.
  for _ in $(seq 1 100); do
    kill -0 "$(cat "$pid_file")" 2>/dev/null || break
    if tail -n "+$((log_start + 1))" "$log_file" | grep -q ' serve: listening ' &&
      curl -fs "$url/healthz" > /dev/null 2>&1; then
      started_here=1
      break
    fi
    sleep 0.1
  done
  if ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then
    print_serve_errors "$log_start"
    fail "atelier serve exited; see $log_file"
  fi
  [ "$started_here" -eq 1 ] ||
    fail "atelier serve (pid $(cat "$pid_file")) timed out: no reply from $url/healthz" \
      "after 10 s; see $log_file"
fi

# A data directory from an earlier run may have a training job into admin/style-lora
# already: show that one, unless it failed or was canceled, instead of queueing a duplicate.
# repo= also matches jobs that only read admin/style-lora (an evaluation of it, or a training
# job that uses it as the base), so keep only admin's train jobs whose output repo it is. The
# reply lists the newest job first, and each job object starts with id, type, owner, state and
# repo in that order. NOTE: only the 200 newest matching jobs are searched.
existing=$(curl -fsS "$url/api/jobs?repo=admin/style-lora&owner=admin&limit=200" \
  -H "Authorization: Bearer $token") || fail "listing the jobs failed; see $log_file"
existing_job=$(printf '%s' "$existing" |
  grep -o '{"id":[0-9]*,"type":"train","owner":"admin","state":"[a-z]*","repo":"admin/style-lora"' |
  head -n 1 || true)
existing_id=$(printf '%s' "$existing_job" | sed -n 's/^{"id":\([0-9]*\),.*/\1/p')
existing_state=$(printf '%s' "$existing_job" | sed -n 's/.*"state":"\([a-z]*\)".*/\1/p')
case "$existing_state" in
  queued|running|succeeded)
    job=$existing_id
    if [ "$existing_state" = succeeded ]; then
      say "job $job for admin/style-lora has already succeeded; not queueing another one"
    else
      say "job $job for admin/style-lora is already $existing_state; not queueing another one"
    fi
    ;;
  *)
    say "queueing a training job"
    # The style stories are 131 to 196 tokens long with stories260K's tokenizer (measured
    # with atelier tokenize), so a seq_len of 256 trains on every example whole.
    reply=$(curl -fsS -X POST "$url/api/jobs" \
      -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
      -d '{"type": "train", "base_model": "demo/stories260K", "dataset": "demo/style",
           "train_file": "train.jsonl", "eval_file": "eval.jsonl",
           "output_repo": "admin/style-lora",
           "params": {"rank": 8, "alpha": 16, "targets": "all-linear", "lr": 0.002,
                      "steps": 60, "batch": 4, "seq_len": 256, "seed": 1,
                      "checkpoint_every": 20}}') ||
      fail "queueing the job failed; see $log_file"
    job=$(printf '%s' "$reply" | sed -n 's/^{"id":\([0-9]*\).*/\1/p')
    [ -n "$job" ] || fail "unexpected reply to POST /api/jobs: $reply"
    ;;
esac

cat <<EOF

Atelier is running on $url (pid $(cat "$pid_file"), log $data/serve.log).
  admin login:  admin / $(cat "$password_file")   (saved in $password_file)
  write token:  saved in $token_file, readable only by you

Job $job trains a LoRA adapter of demo/stories260K on demo/style into admin/style-lora:
  page:     $url/jobs/$job
  job:      curl -s $url/api/jobs/$job -H "Authorization: Bearer \$(cat $token_file)"
  progress: curl -sN $url/api/jobs/$job/events -H "Authorization: Bearer \$(cat $token_file)"
  log:      curl -s $url/api/jobs/$job/log -H "Authorization: Bearer \$(cat $token_file)"
  adapter:  $url/admin/style-lora   (when the job succeeded)

Stop the hub with: kill \$(cat $pid_file)
EOF

if [ "$foreground" -eq 1 ]; then
  say "running in the foreground; Ctrl-C stops the hub"
  # The trap exits, so that a signal ends the script after stopping the hub, instead of
  # returning from wait into the next command.
  trap 'kill "$(cat "$pid_file")" 2>/dev/null || true; exit 0' INT TERM
  if [ "$started_here" -eq 1 ]; then
    wait "$(cat "$pid_file")" || fail "atelier serve exited with status $?; see $log_file"
  else
    # A hub started by an earlier run is no child of this shell, so wait cannot follow it.
    # tail --pid ends with the hub, and runs in the background so that the trap runs at once.
    tail -f --pid="$(cat "$pid_file")" "$log_file" &
    wait $!
  fi
fi
