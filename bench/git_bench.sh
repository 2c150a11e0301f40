#!/usr/bin/env bash
# git_bench: times git over Atelier against the usual static setup on the same machine.
#   1. git clone of a repo with one large LFS file, against nginx serving that file to curl,
#      and against the same clone from nginx: git http-backend for git, a fixed LFS batch
#      response and the file as a static download (the stock clients' own cost).
#      It also times two client steps with no server at all. git writes the file into a
#      working tree from the local LFS store, the last step of every such clone. git-lfs
#      hashes and stores the file from a local copy, as it does with every download.
#   2. git clone --bare and git fetch of a repo with many commits, against git http-backend
#      behind nginx and fcgiwrap.
# Everything runs on 127.0.0.1 with temporary directories. Prints one line per measurement
# (median of RUNS) and the ratios.
# Usage: bench/git_bench.sh BUILD_DIR
# Environment: LFS_BYTES (default 1073741824), COMMITS (default 1000), RUNS (default 3).
set -euo pipefail

build=$(cd "${1:?usage: bench/git_bench.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")/.." && pwd)
lfs_bytes=${LFS_BYTES:-1073741824}
commits=${COMMITS:-1000}
runs=${RUNS:-3}
corpus=${ATELIER_CORPUS:-$here/../shared/corpus}

work=$(mktemp -d "${TMPDIR:-/tmp}/atelier-git-bench.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "${BENCH_SERVE_LOG:-}" ] && [ -f "$work/serve.log" ]; then
    cp "$work/serve.log" "$BENCH_SERVE_LOG"
  fi
  rm -rf "$work"
}
trap cleanup EXIT

export HOME=$work/home GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0
mkdir -p "$HOME"
git config --global user.name Bench
git config --global user.email bench@localhost
git config --global init.defaultBranch main
git lfs install --skip-repo >/dev/null

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# median_seconds COMMAND...: runs COMMAND RUNS times (after `reset_step`) and prints the
# median wall time in seconds.
median_seconds() {
  local times=()
  for _ in $(seq 1 "$runs"); do
    reset_step
    local start end
    start=$(date +%s.%N)
    if ! "$@" >"$work/step.log" 2>&1; then
      echo "benchmark step failed: $*" >&2
      cat "$work/step.log" >&2
      exit 1
    fi
    end=$(date +%s.%N)
    times+=("$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')")
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p"
}

# ---- Atelier -------------------------------------------------------------------------------

data=$work/data
"$build/tests/git/git_fixture" "$data" "$corpus/models/stories260K" >"$work/tokens.env"
. "$work/tokens.env"
"$build/server/atelier" serve --data "$data" --listen 127.0.0.1:0 2>"$work/serve.log" &
pids+=($!)
port=
for _ in $(seq 1 100); do
  port=$(sed -n 's/.*listening host=[^ ]* port=\([0-9]*\).*/\1/p' "$work/serve.log" | head -n 1)
  [ -n "$port" ] && break
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "atelier serve did not start:" >&2
  tail -n 20 "$work/serve.log" >&2
  exit 1
fi
hub=http://127.0.0.1:$port
push_url=http://user:$WRITE_TOKEN@127.0.0.1:$port

echo "setup: $((lfs_bytes / 1048576)) MiB LFS file, $commits commits, median of $runs runs"
head -c "$lfs_bytes" /dev/urandom >"$work/large.bin"
git clone -q "$push_url/alice/adapters" "$work/push-lfs"
(
  cd "$work/push-lfs"
  git lfs track "*.bin" >/dev/null
  cp "$work/large.bin" .
  git add .gitattributes large.bin
  git commit -q -m "Add a large LFS file"
  start=$(date +%s.%N)
  git push -q origin main
  end=$(date +%s.%N)
  echo "atelier git push with LFS upload: $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }') s (one run)"
)

git clone -q "$push_url/alice/guarded" "$work/history"
(
  cd "$work/history"
  # fast-import builds the history in one process; each commit changes one small file.
  {
    parent=$(git rev-parse HEAD)
    for i in $(seq 1 "$commits"); do
      printf 'commit refs/heads/main\ncommitter Bench <bench@localhost> %d +0000\n' $((1700000000 + i))
      printf 'data 11\ncommit %04d\n' "$i"
      [ "$i" -eq 1 ] && printf 'from %s\n' "$parent"
      printf 'M 100644 inline file%d.txt\ndata %d\nline %d\n\n' $((i % 50)) $((6 + ${#i})) "$i"
    done
  } | git fast-import --quiet
  git reset -q --hard main
  git push -q origin main
)
# The incremental fetch brings the last 100 commits (half the history when it is shorter).
fetch_commits=$((commits >= 200 ? 100 : commits / 2))
behind=$(git -C "$work/history" rev-parse "main~$fetch_commits")

# ---- nginx and fcgiwrap --------------------------------------------------------------------

static_root=$work/static
git_root=$work/git-root
mkdir -p "$static_root" "$git_root" "$work/nginx"
ln "$work/large.bin" "$static_root/large.bin" 2>/dev/null || cp "$work/large.bin" "$static_root/"
git clone -q --bare "$hub/alice/guarded" "$git_root/guarded.git"
git clone -q --bare "$hub/alice/adapters" "$git_root/adapters.git"
nginx_port=$(free_port)
lfs_oid=$(sha256sum "$work/large.bin" | cut -c1-64)
# git-lfs posts its batch request to REMOTE/info/lfs/objects/batch. nginx returns the one
# object's download action, pointing at the static file, for every request there.
lfs_batch="{\"transfer\":\"basic\",\"objects\":[{\"oid\":\"$lfs_oid\",\"size\":$lfs_bytes,\"actions\":{\"download\":{\"href\":\"http://127.0.0.1:$nginx_port/large.bin\"}}}]}"
fcgi_sock=$work/fcgiwrap.sock
# One fcgiwrap process: with -c it preforks children that outlive a killed parent.
fcgiwrap -s "unix:$fcgi_sock" &
pids+=($!)
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 2;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
user root;
events { worker_connections 256; }
http {
  access_log off;
  sendfile on;
  client_body_temp_path $work/nginx/body;
  fastcgi_temp_path $work/nginx/fastcgi;
  proxy_temp_path $work/nginx/proxy;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    root $static_root;
    location = /adapters.git/info/lfs/objects/batch {
      default_type application/vnd.git-lfs+json;
      return 200 '$lfs_batch';
    }
    location ~ ^/.*\.git/(info/refs|git-upload-pack)\$ {
      client_max_body_size 0;
      include /etc/nginx/fastcgi_params;
      fastcgi_param SCRIPT_FILENAME /usr/lib/git-core/git-http-backend;
      fastcgi_param GIT_PROJECT_ROOT $git_root;
      fastcgi_param GIT_HTTP_EXPORT_ALL 1;
      fastcgi_param PATH_INFO \$uri;
      fastcgi_param GIT_PROTOCOL \$http_git_protocol;
      fastcgi_pass unix:$fcgi_sock;
    }
  }
}
EOF
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" -g 'daemon off;' &
pids+=($!)
sleep 1
nginx_url=http://127.0.0.1:$nginx_port

# ---- Measurements --------------------------------------------------------------------------

reset_step() {
  rm -rf "$work/out"
}

t_git_lfs=$(median_seconds git clone -q "$hub/alice/adapters" "$work/out")
t_nginx_file=$(median_seconds curl -sf -o "$work/out" "$nginx_url/large.bin")
t_nginx_lfs=$(median_seconds git clone -q "$nginx_url/adapters.git" "$work/out")
# The clients' floor: the smudge filter copies the object from .git/lfs/objects through git
# into the working tree, with no server involved. Every clone of the repo ends with this step.
git clone -q "$hub/alice/adapters" "$work/floor"
reset_step() {
  rm -f "$work/floor/large.bin"
}
t_checkout_floor=$(median_seconds git -C "$work/floor" checkout -- large.bin)
# git-lfs hashes every object it downloads while it writes it to .git/lfs/objects. `git lfs
# clean` does the same from a local file, again with no server.
clean_floor() {
  git -C "$work/floor" lfs clean <"$work/large.bin" >/dev/null
}
t_hash_floor=$(median_seconds clean_floor)
rm -rf "$work/floor"
reset_step() {
  rm -rf "$work/out"
}
# The same object through Atelier's LFS basic transfer, without git-lfs's hashing and copying.
oid=$(sha256sum "$work/large.bin" | cut -c1-64)
href=$(curl -sf -X POST -H "Accept: application/vnd.git-lfs+json" \
  -H "Content-Type: application/vnd.git-lfs+json" \
  -d "{\"operation\":\"download\",\"objects\":[{\"oid\":\"$oid\",\"size\":$lfs_bytes}]}" \
  "$hub/alice/adapters.git/info/lfs/objects/batch" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["objects"][0]["actions"]["download"]["href"])')
t_lfs_href=$(median_seconds curl -sf -o "$work/out" "$href")
t_atelier_clone=$(median_seconds git clone -q --bare "$hub/alice/guarded" "$work/out")
t_backend_clone=$(median_seconds git clone -q --bare "$nginx_url/guarded.git" "$work/out")

# Incremental fetch: a bare repo that has every object up to main~fetch_commits fetches the
# rest.
fetch_atelier() {
  git -C "$work/out" fetch -q "$hub/alice/guarded" main
}
fetch_backend() {
  git -C "$work/out" fetch -q "$nginx_url/guarded.git" main
}
reset_step() {
  rm -rf "$work/out"
  git clone -q --bare "$git_root/guarded.git" "$work/out"
  git -C "$work/out" update-ref refs/heads/main "$behind"
  git -C "$work/out" reflog expire --expire=now --all
  git -C "$work/out" gc -q --prune=now
}
t_atelier_fetch=$(median_seconds fetch_atelier)
t_backend_fetch=$(median_seconds fetch_backend)

ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
}
echo "git clone with $((lfs_bytes / 1048576)) MiB LFS file (atelier): $t_git_lfs s"
echo "curl of the same file (nginx): $t_nginx_file s"
echo "ratio atelier/nginx: $(ratio "$t_git_lfs" "$t_nginx_file")"
echo "git clone of the same repo from nginx (http-backend, static LFS batch and file): $t_nginx_lfs s"
echo "ratio atelier clone/nginx clone: $(ratio "$t_git_lfs" "$t_nginx_lfs")"
echo "git checkout of the file from the local LFS store (no server): $t_checkout_floor s"
echo "ratio checkout floor/nginx: $(ratio "$t_checkout_floor" "$t_nginx_file")"
echo "git lfs clean of the file, hashing and storing it (no server): $t_hash_floor s"
echo "ratio (checkout floor + hash floor)/nginx: $(ratio "$(awk -v a="$t_checkout_floor" -v b="$t_hash_floor" 'BEGIN { print a + b }')" "$t_nginx_file")"
echo "curl of the LFS download href (atelier): $t_lfs_href s"
echo "ratio atelier href/nginx: $(ratio "$t_lfs_href" "$t_nginx_file")"
echo "git clone --bare of $commits commits (atelier): $t_atelier_clone s"
echo "git clone --bare (git http-backend behind nginx+fcgiwrap): $t_backend_clone s"
echo "ratio atelier/http-backend: $(ratio "$t_atelier_clone" "$t_backend_clone")"
echo "git fetch of $fetch_commits new commits (atelier): $t_atelier_fetch s"
echo "git fetch of $fetch_commits new commits (http-backend behind nginx): $t_backend_fetch s"
echo "ratio atelier/http-backend: $(ratio "$t_atelier_fetch" "$t_backend_fetch")"
