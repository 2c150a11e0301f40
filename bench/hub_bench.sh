#!/usr/bin/env bash
# Measures the hub's file serving against baselines on this machine:
#   1. downloading a 1 GiB LFS object through resolve, against nginx serving the same file;
#   2. uploading it through the LFS basic transfer (streamed and hashed), against cp;
#   3. repo info requests per second with wrk, against nginx serving the same JSON as a file;
#   4. resident memory of an idle daemon.
# Usage: bench/hub_bench.sh BUILD_DIR [SIZE_MIB]   (SIZE_MIB defaults to 1024)
# RUNS (default 3) sets how many uploads and downloads each side makes, alternating; the
# median counts.
# BEFORE_BUILD=DIR also runs repo info against DIR's atelier on the same data directory, to
# compare two builds side by side in one run.
# Needs curl, wrk and nginx (nginx-light). Everything runs on 127.0.0.1 in a temp folder.
set -euo pipefail

build=$(cd "${1:?usage: bench/hub_bench.sh BUILD_DIR [SIZE_MIB]}" && pwd)
size_mib=${2:-1024}
runs=${RUNS:-3}
bin=$build/server/atelier
work=$(mktemp -d "${TMPDIR:-/tmp}/atelier-bench-XXXXXX")
daemon_pid=""
before_pid=""
nginx_pid=""

cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null || true
  [ -n "$before_pid" ] && kill "$before_pid" 2>/dev/null || true
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

seconds() { date +%s.%N; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# Prints the seconds curl took to download URL to /dev/null.
download_s() { curl -sf -o /dev/null -w '%{time_total}' "$1"; }
rate() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f MiB/s (%.2f s)", b / 1048576 / s, s }'; }

data=$work/data
"$bin" admin --data "$data" migrate >/dev/null
echo "bench-password" | "$bin" admin --data "$data" user add bench --admin >/dev/null
token=$("$bin" admin --data "$data" token create bench --write --label bench | grep -o 'hf_[A-Za-z0-9]*')

# Prints the port a daemon logged to LOG once it listens.
wait_port() {
  local found=""
  for _ in $(seq 100); do
    found=$(grep -o 'listening host=[^ ]* port=[0-9]*' "$1" | grep -o '[0-9]*$' || true)
    [ -n "$found" ] && break
    sleep 0.1
  done
  echo "$found"
}

"$bin" serve --data "$data" --listen 127.0.0.1:0 --threads 4 2>"$work/serve.log" &
daemon_pid=$!
port=$(wait_port "$work/serve.log")
hub=http://127.0.0.1:$port
auth="Authorization: Bearer $token"
sleep 1
rss_idle=$(awk '/VmRSS/ { print $2 }' "/proc/$daemon_pid/status")

curl -sf -X POST -H "$auth" -H 'Content-Type: application/json' \
  -d '{"name":"b","organization":"bench","type":"model"}' "$hub/api/repos/create" >/dev/null

file=$work/object.bin
head -c "$((size_mib * 1048576))" /dev/urandom > "$file"
bytes=$(stat -c %s "$file")
oid=$(sha256sum "$file" | cut -d' ' -f1)
sync

# Upload: cp of the same file plus sync, then the LFS batch and the streamed PUT, RUNS times.
# Each PUT stores the object anew, because the run before it is removed from the store.
: > "$work/cp.times"
: > "$work/put.times"
for _ in $(seq "$runs"); do
  sync
  t0=$(seconds); cp "$file" "$work/copy.bin"; sync; t1=$(seconds)
  echo "$t1 - $t0" | bc >> "$work/cp.times"
  rm -f "$work/copy.bin"
  rm -f "$data/lfs/objects/${oid:0:2}/${oid:2:2}/$oid"
  sync
  href=$(curl -sf -X POST -H "$auth" -H 'Content-Type: application/vnd.git-lfs+json' \
    -d "{\"operation\":\"upload\",\"objects\":[{\"oid\":\"$oid\",\"size\":$bytes}]}" \
    "$hub/bench/b.git/info/lfs/objects/batch" | grep -o '"upload":{"href":"[^"]*' | cut -d'"' -f6)
  t0=$(seconds); curl -sf -X PUT -T "$file" "$href" >/dev/null; t1=$(seconds)
  echo "$t1 - $t0" | bc >> "$work/put.times"
done
cp_s=$(median < "$work/cp.times")
put_s=$(median < "$work/put.times")
printf '{"key":"header","value":{"summary":"bench"}}\n{"key":"lfsFile","value":{"path":"object.bin","algo":"sha256","oid":"%s","size":%s}}\n' \
  "$oid" "$bytes" | curl -sf -X POST -H "$auth" --data-binary @- "$hub/api/models/bench/b/commit/main" >/dev/null

# Download: nginx serving the same bytes with sendfile, then the hub's resolve.
mkdir -p "$work/www" "$work/nginx"
chmod o+rx "$work" "$work/www"   # nginx workers run as an unprivileged user
chmod o+r "$file"
ln "$file" "$work/www/object.bin" 2>/dev/null || cp "$file" "$work/www/object.bin"
nginx_port=$((port + 1))
cat > "$work/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  client_body_temp_path $work/nginx;
  proxy_temp_path $work/nginx;
  fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx;
  scgi_temp_path $work/nginx;
  server { listen 127.0.0.1:$nginx_port; root $work/www; }
}
EOF
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
nginx_pid=$!
sleep 1
curl -sf -o /dev/null "http://127.0.0.1:$nginx_port/object.bin"   # warm the page cache
: > "$work/nginx.times"
: > "$work/hub.times"
for _ in $(seq "$runs"); do
  download_s "http://127.0.0.1:$nginx_port/object.bin" >> "$work/nginx.times"; echo >> "$work/nginx.times"
  download_s "$hub/bench/b/resolve/main/object.bin" >> "$work/hub.times"; echo >> "$work/hub.times"
done
nginx_s=$(median < "$work/nginx.times")
hub_s=$(median < "$work/hub.times")

# Repo info: the hub's JSON body, then nginx serving that same body as a static file.
info_url="$hub/api/models/bench/b/revision/main"
curl -sf -o "$work/www/info.json" "$info_url"
chmod o+r "$work/www/info.json"
info_rate() { wrk -t2 -c16 -d5s "$1" | awk '/Requests\/sec/ { print $2 }'; }
hub_info=$(info_rate "$info_url")
nginx_info=$(info_rate "http://127.0.0.1:$nginx_port/info.json")
before_info=""
if [ -n "${BEFORE_BUILD:-}" ]; then
  "$BEFORE_BUILD/server/atelier" serve --data "$data" --listen 127.0.0.1:0 --threads 4 \
    2>"$work/before.log" &
  before_pid=$!
  before_port=$(wait_port "$work/before.log")
  before_info=$(info_rate "http://127.0.0.1:$before_port/api/models/bench/b/revision/main")
  kill "$before_pid"
  before_pid=""
fi
rss_after=$(awk '/VmRSS/ { print $2 }' "/proc/$daemon_pid/status")

echo "object: $size_mib MiB, $(nproc) CPUs, $(uname -r), median of $runs downloads each"
echo "download  hub resolve: $(rate "$bytes" "$hub_s")   nginx: $(rate "$bytes" "$nginx_s")" \
  "  hub/nginx: $(awk -v h="$hub_s" -v n="$nginx_s" 'BEGIN { printf "%.2f", n / h }')"
echo "upload    hub LFS PUT: $(rate "$bytes" "$put_s")   cp + sync: $(rate "$bytes" "$cp_s")" \
  "  hub/cp: $(awk -v h="$put_s" -v c="$cp_s" 'BEGIN { printf "%.2f", c / h }')"
echo "model info (wrk -t2 -c16 -d5s, $(stat -c %s "$work/www/info.json") bytes): hub $hub_info" \
  "requests/s   nginx static file: $nginx_info requests/s" \
  "  hub/nginx: $(awk -v h="$hub_info" -v n="$nginx_info" 'BEGIN { printf "%.2f", h / n }')"
if [ -n "$before_info" ]; then
  echo "model info of BEFORE_BUILD: $before_info requests/s" \
    "  this build/before: $(awk -v h="$hub_info" -v b="$before_info" 'BEGIN { printf "%.2f", h / b }')"
fi
echo "daemon RSS: idle $((rss_idle / 1024)) MiB, after the runs $((rss_after / 1024)) MiB"
