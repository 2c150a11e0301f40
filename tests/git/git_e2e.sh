#!/usr/bin/env bash
# git_e2e: drives Debian's git and git-lfs against a real `atelier serve` on 127.0.0.1 with a
# temporary data directory prepared by git_fixture. Prints TAP.
# Usage: git_e2e.sh FIXTURE_BIN (ATELIER_BIN and ATELIER_CORPUS come from the environment).
set -u

fixture=$1
atelier=${ATELIER_BIN:?ATELIER_BIN is not set}
corpus=${ATELIER_CORPUS:?ATELIER_CORPUS is not set}
model_dir=$corpus/models/stories260K

work=$(mktemp -d "${TMPDIR:-/tmp}/atelier-git-e2e.XXXXXX")
data=$work/data
daemon_pid=

cleanup() {
  if [ -n "$daemon_pid" ]; then
    kill "$daemon_pid" 2>/dev/null
    wait "$daemon_pid" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT

test_count=0
failed_count=0
ok() {
  test_count=$((test_count + 1))
  echo "ok $test_count - $1"
}
not_ok() {
  test_count=$((test_count + 1))
  failed_count=$((failed_count + 1))
  echo "not ok $test_count - $1"
  shift
  for line in "$@"; do
    echo "#   $line"
  done
}
# check NAME COMMAND...: one TAP line for the exit status of COMMAND.
check() {
  local name=$1
  shift
  if "$@" >"$work/check.out" 2>&1; then
    ok "$name"
  else
    not_ok "$name" "command failed: $*" "$(tail -n 5 "$work/check.out")"
  fi
}
# check_output NAME PATTERN FILE: FILE contains the extended regex PATTERN.
check_output() {
  if grep -Eq -- "$2" "$3"; then
    ok "$1"
  else
    not_ok "$1" "expected /$2/ in:" "$(tail -n 8 "$3")"
  fi
}
finish() {
  echo "1..$test_count"
  echo "# $((test_count - failed_count)) passed, $failed_count failed"
  [ "$failed_count" -eq 0 ]
  exit $?
}

# A clean git environment: no global or system config, no prompts, no credential helper.
export HOME=$work/home
export GIT_CONFIG_NOSYSTEM=1
export GIT_TERMINAL_PROMPT=0
export GIT_ASKPASS=/bin/false
export SSH_ASKPASS=/bin/false
mkdir -p "$HOME"
git config --global user.name "Test User"
git config --global user.email "test@localhost"
git config --global init.defaultBranch main
git config --global advice.detachedHead false
git lfs install --skip-repo >/dev/null

# ---- Setup ---------------------------------------------------------------------------------

if ! "$fixture" "$data" "$model_dir" >"$work/tokens.env" 2>"$work/fixture.err"; then
  not_ok "fixture setup" "$(cat "$work/fixture.err")"
  finish
fi
. "$work/tokens.env"
# The demo model also goes in the way a teacher imports it.
check "admin repo import of demo model" "$atelier" admin --data "$data" repo import alice/demo \
  "$model_dir" --owner alice

# carol's token is valid until the test disables her.
echo 'carol password' | "$atelier" admin --data "$data" user add carol >/dev/null 2>&1
CAROL_TOKEN=$("$atelier" admin --data "$data" token create carol --write 2>/dev/null |
  grep -o 'hf_[A-Za-z0-9_]*' | head -n 1)

# dave may read alice's public repos, as bob may; he pushes to bob's pull request.
echo 'dave password' | "$atelier" admin --data "$data" user add dave >/dev/null 2>&1
DAVE_TOKEN=$("$atelier" admin --data "$data" token create dave --write 2>/dev/null |
  grep -o 'hf_[A-Za-z0-9_]*' | head -n 1)

"$atelier" serve --data "$data" --listen 127.0.0.1:0 --threads 4 2>"$work/serve.log" &
daemon_pid=$!
port=
for _ in $(seq 1 100); do
  port=$(sed -n 's/.*listening host=[^ ]* port=\([0-9]*\).*/\1/p' "$work/serve.log" | head -n 1)
  [ -n "$port" ] && break
  if ! kill -0 "$daemon_pid" 2>/dev/null; then
    break
  fi
  sleep 0.1
done
if [ -z "$port" ]; then
  not_ok "daemon starts" "$(tail -n 20 "$work/serve.log")"
  finish
fi
ok "daemon starts"

base=http://127.0.0.1:$port
auth_base() {
  echo "http://user:$1@127.0.0.1:$port"
}
cd "$work"

# ---- Clone ---------------------------------------------------------------------------------

check "anonymous clone of public repo" git clone -q "$base/alice/stories" stories
check "LFS weights match byte for byte" cmp stories/model.safetensors "$model_dir/model.safetensors"
check "regular file matches" cmp stories/config.json "$model_dir/config.json"
check "clone of admin-imported model" git clone -q "$base/alice/demo" demo
check "imported weights match byte for byte" cmp demo/model.safetensors "$model_dir/model.safetensors"
check "imported tokenizer matches" cmp demo/tokenizer.json "$model_dir/tokenizer.json"
check "clone with .git suffix" git clone -q "$base/alice/stories.git" stories-dotgit
# Repo ids match without regard to case, as on the Hub, for git, LFS and the API alike.
check "clone with the id in another case" git clone -q "$base/ALICE/Stories" stories-case
check "other-case clone brings LFS weights" cmp stories-case/model.safetensors \
  "$model_dir/model.safetensors"
check "other-case tree listing" curl -sf -o /dev/null "$base/api/models/Alice/STORIES/tree/main"
check "other-case resolve of LFS file" curl -sf -o "$work/case.bin" \
  "$base/Alice/Stories/resolve/main/model.safetensors"
check "other-case resolve matches" cmp "$work/case.bin" "$model_dir/model.safetensors"

check "shallow clone with --depth 1" git clone -q --depth 1 "$base/alice/stories" shallow
count=$(git -C shallow rev-list --count HEAD 2>/dev/null)
if [ "$count" = "1" ] && [ -f shallow/.git/shallow ]; then
  ok "shallow clone has one commit"
else
  not_ok "shallow clone has one commit" "rev-list count: $count"
fi

check "partial clone with blob filter" git clone -q --no-checkout --filter=blob:none \
  "$base/alice/stories" partial
missing=$(git -C partial rev-list --objects --missing=print HEAD 2>/dev/null | grep -c '^?')
if [ "${missing:-0}" -ge 1 ]; then
  ok "partial clone leaves blobs out"
else
  not_ok "partial clone leaves blobs out" "missing objects: $missing"
fi

check "clone of a dataset" git clone -q "$base/datasets/alice/corpus" corpus
check "dataset README matches" grep -q "Corpus" corpus/README.md
check "clone of a dataset with .git suffix" git clone -q "$base/datasets/alice/corpus.git" corpus2

GIT_TRACE_PACKET=1 git -c protocol.version=2 ls-remote "$base/alice/stories" >"$work/v2.log" 2>&1
check_output "protocol v2 when requested" "git< version 2" "$work/v2.log"

# ---- Private repos -------------------------------------------------------------------------

git clone -q "$base/alice/secret" secret-anon >"$work/anon.log" 2>&1
status=$?
if [ "$status" -ne 0 ] && [ ! -d secret-anon/.git ]; then
  ok "private clone without token fails"
else
  not_ok "private clone without token fails" "exit status $status"
fi
# git prompts for a username only after a 401 with WWW-Authenticate: Basic.
check_output "private clone asks for credentials" "could not read Username|Authentication failed" \
  "$work/anon.log"
check "private clone with token" git clone -q "$(auth_base "$READ_TOKEN")/alice/secret" secret
check "private clone has README" grep -q "Secret" secret/README.md
git clone -q "$(auth_base "$BOB_TOKEN")/alice/secret" secret-bob >"$work/bob.log" 2>&1
check_output "private clone by other user not found" "not found|404" "$work/bob.log"
# git prints an error body as `remote:` lines only when it is text/plain.
check_output "private clone by other user shows hub message" \
  "^remote: repository alice/secret not found" "$work/bob.log"
git clone -q "$(auth_base "$READ_TOKEN")/alice/nothing" nothing >"$work/unknown.log" 2>&1
check_output "clone of unknown repo shows hub message" "^remote: repository alice/nothing not found" \
  "$work/unknown.log"
git clone -q "$(auth_base hf_not_a_token)/alice/secret" secret-bad >"$work/bad-token.log" 2>&1
check_output "clone with unknown token shows hub message" \
  "^remote: Invalid credentials in Authorization header" "$work/bad-token.log"
# An account password is not a token, and the message says what to enter instead.
git clone -q "http://carol:carol%20password@127.0.0.1:$port/alice/secret" secret-password \
  >"$work/password.log" 2>&1
check_output "clone with account password asks for a write token" \
  "^remote: .*the password is not an access token. Create a write token on http://127.0.0.1:$port/settings" \
  "$work/password.log"

# ---- Push with git-lfs ---------------------------------------------------------------------

write_base=$(auth_base "$WRITE_TOKEN")
check "clone adapters with write token" git clone -q "$write_base/alice/adapters" adapters
head -c 300000 /dev/urandom >"$work/adapter_model.safetensors"
(
  cd adapters &&
    git lfs track "*.safetensors" >/dev/null &&
    cp "$work/adapter_model.safetensors" . &&
    echo '{"r": 8, "base_model_name_or_path": "alice/demo"}' >adapter_config.json &&
    git add .gitattributes adapter_model.safetensors adapter_config.json &&
    git commit -q -m "Add an adapter"
)
check "push adapter with LFS file" git -C adapters push -q origin main
check "adapter is stored as LFS pointer" \
  bash -c "git -C adapters cat-file -p HEAD:adapter_model.safetensors | grep -q '^oid sha256:'"

curl -s -o "$work/resolved.bin" -w '%{http_code}' \
  "$base/alice/adapters/resolve/main/adapter_model.safetensors" >"$work/resolve.code"
check "HF API resolve returns pushed file" cmp "$work/resolved.bin" "$work/adapter_model.safetensors"
curl -s "$base/api/models/alice/adapters" >"$work/info.json"
pushed=$(git -C adapters rev-parse HEAD)
check_output "HF API repo info shows pushed commit" "\"sha\" *: *\"$pushed\"" "$work/info.json"
check_output "pushed adapter has baseModel" '"baseModel" *: *"alice/demo"' "$work/info.json"
check_output "pushed adapter has base_model tag" '"base_model:adapter:alice/demo"' "$work/info.json"
curl -s "$base/api/models/alice/demo" >"$work/base-info.json"
check_output "base model lists pushed adapter" '"adapters" *: *\[[^]]*"alice/adapters"' \
  "$work/base-info.json"

check "fresh clone brings pushed adapter" git clone -q "$base/alice/adapters" adapters-copy
check "cloned adapter matches" cmp adapters-copy/adapter_model.safetensors "$work/adapter_model.safetensors"

db=$data/atelier.sqlite3
links=$(sqlite3 "$db" "SELECT count(*) FROM repo_objects JOIN repos ON repos.id = repo_objects.repo_id
  WHERE repos.name = 'adapters'" 2>&1)
if [ "$links" = "1" ]; then
  ok "push links LFS object to repo"
else
  not_ok "push links LFS object to repo" "repo_objects rows: $links"
fi
audits=$(sqlite3 "$db" "SELECT count(*) FROM audit_log WHERE action = 'repo.push'
  AND repo = 'model:alice/adapters'" 2>&1)
if [ "${audits:-0}" -ge 1 ] 2>/dev/null; then
  ok "push writes audit entry"
else
  not_ok "push writes audit entry" "audit rows: $audits"
fi
head_commit=$(sqlite3 "$db" "SELECT head_commit FROM repos WHERE name = 'adapters'" 2>&1)
if [ "$head_commit" = "$pushed" ]; then
  ok "push updates repo head_commit"
else
  not_ok "push updates repo head_commit" "head_commit: $head_commit, pushed: $pushed"
fi

# ---- Commit API file lines that .gitattributes routes to LFS -------------------------------

# A `file` line for a path that the default .gitattributes routes to LFS (*.safetensors) is
# stored as an LFS object, so git-lfs checks it out and the clone has a clean `git status`.
code=$(curl -s -o "$work/routed-create.json" -w '%{http_code}' -X POST \
  -H "Authorization: Bearer $WRITE_TOKEN" -H "Content-Type: application/json" \
  -d '{"name":"routed","type":"model"}' "$base/api/repos/create")
if [ "$code" = "200" ]; then
  ok "create repo for routed file"
else
  not_ok "create repo for routed file" "HTTP $code: $(cat "$work/routed-create.json")"
fi
head -c 50000 /dev/urandom >"$work/routed.safetensors"
code=$(printf '%s\n{"key":"file","value":{"path":"model.safetensors","encoding":"base64","content":"%s"}}\n' \
  '{"key":"header","value":{"summary":"Add weights as a file line"}}' \
  "$(base64 -w 0 "$work/routed.safetensors")" |
  curl -s -o "$work/routed-commit.json" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $WRITE_TOKEN" -H "Content-Type: application/x-ndjson" \
    --data-binary @- "$base/api/models/alice/routed/commit/main")
if [ "$code" = "200" ]; then
  ok "commit routed file as a file line"
else
  not_ok "commit routed file as a file line" "HTTP $code: $(cat "$work/routed-commit.json")"
fi
git clone -q "$base/alice/routed" routed >"$work/routed-clone.log" 2>&1
if grep -q "should have been a pointer" "$work/routed-clone.log"; then
  not_ok "clone of routed file has no pointer warning" "$(cat "$work/routed-clone.log")"
else
  ok "clone of routed file has no pointer warning"
fi
check "routed file checked out by git-lfs" cmp routed/model.safetensors "$work/routed.safetensors"
git -C routed status --porcelain >"$work/routed-status.txt" 2>&1
if [ ! -s "$work/routed-status.txt" ]; then
  ok "clone of routed file has clean status"
else
  not_ok "clone of routed file has clean status" "$(cat "$work/routed-status.txt")"
fi
git -C routed lfs ls-files >"$work/routed-lfs.txt" 2>&1
check_output "git-lfs lists routed file" "model\.safetensors" "$work/routed-lfs.txt"

# ---- git-lfs locks ------------------------------------------------------------------------

check "lfs lock a file" git -C adapters lfs lock adapter_model.safetensors
git -C adapters lfs locks >"$work/locks.log" 2>&1
check_output "lfs locks lists the lock" "adapter_model\.safetensors[[:space:]]+alice" "$work/locks.log"
if git -C adapters lfs lock adapter_model.safetensors >"$work/relock.log" 2>&1; then
  not_ok "second lock of same file rejected" "lock succeeded"
else
  ok "second lock of same file rejected"
fi
check_output "second lock names the lock owner" "already locked by alice" "$work/relock.log"
code=$(curl -s -o "$work/relock.json" -w '%{http_code}' -X POST \
  -H "Accept: application/vnd.git-lfs+json" -H "Content-Type: application/vnd.git-lfs+json" \
  -d '{"path":"adapter_model.safetensors"}' -u "user:$WRITE_TOKEN" \
  "$base/alice/adapters.git/info/lfs/locks")
if [ "$code" = "409" ]; then
  ok "lock of locked path gets 409"
else
  not_ok "lock of locked path gets 409" "HTTP $code: $(cat "$work/relock.json")"
fi
check_output "409 reply carries the existing lock" \
  '"lock":\{[^}]*"path":"adapter_model\.safetensors"' "$work/relock.json"
code=$(curl -s -o "$work/dotdot-lock.json" -w '%{http_code}' -X POST \
  -H "Accept: application/vnd.git-lfs+json" -H "Content-Type: application/vnd.git-lfs+json" \
  -d '{"path":"a/../adapter_config.json"}' -u "user:$WRITE_TOKEN" \
  "$base/alice/adapters.git/info/lfs/locks")
if [ "$code" = "422" ]; then
  ok "lock path with .. segment gets 422"
else
  not_ok "lock path with .. segment gets 422" "HTTP $code: $(cat "$work/dotdot-lock.json")"
fi
curl -s -X POST -H "Accept: application/vnd.git-lfs+json" \
  -H "Content-Type: application/vnd.git-lfs+json" -d '{}' -u "user:$WRITE_TOKEN" \
  "$base/alice/adapters.git/info/lfs/locks/verify" >"$work/verify.json"
check_output "locks verify puts own lock in ours" '"ours":\[\{[^]]*"path":"adapter_model\.safetensors"' \
  "$work/verify.json"
(cd adapters && echo '{"r": 16}' >adapter_config.json && git commit -q -am "Change the config")
check "push by lock owner accepted" git -C adapters push -q origin main
git clone -q "$(auth_base "$BOB_TOKEN")/alice/adapters" bob-adapters >/dev/null 2>&1
if git -C bob-adapters lfs lock adapter_config.json >"$work/bob-lock.log" 2>&1; then
  not_ok "lock without write access rejected" "lock succeeded"
else
  ok "lock without write access rejected"
fi
check_output "git lfs lock prints the hub's rejection" \
  "lock request for alice/adapters rejected: user bob has no write access" "$work/bob-lock.log"
check_output "rejection without write access names the ways forward" \
  "no write access; ask the owner for it, or propose the change as a pull request" \
  "$work/bob-lock.log"
code=$(curl -s -o "$work/bob-lock.json" -w '%{http_code}' -X POST -u "user:$BOB_TOKEN" \
  -H "Accept: application/vnd.git-lfs+json" -H "Content-Type: application/vnd.git-lfs+json" \
  -d '{"path":"adapter_config.json"}' "$base/alice/adapters.git/info/lfs/locks")
if [ "$code" = "403" ]; then
  ok "API lock without write access gets 403"
else
  not_ok "API lock without write access gets 403" "HTTP $code: $(cat "$work/bob-lock.json")"
fi
check_output "lock rejection names the lock request" \
  "lock request for alice/adapters rejected: user bob has no write access" "$work/bob-lock.json"
curl -s -u "user:$WRITE_TOKEN" -H "Accept: application/vnd.git-lfs+json" \
  "$base/alice/adapters.git/info/lfs/locks?path=adapter_model.safetensors" >"$work/alice-locks.json"
alice_lock_id=$(sed -n 's/.*"id":"\([0-9]*\)".*/\1/p' "$work/alice-locks.json")
code=$(curl -s -o "$work/bob-unlock.json" -w '%{http_code}' -X POST -u "user:$BOB_TOKEN" \
  -H "Accept: application/vnd.git-lfs+json" -H "Content-Type: application/vnd.git-lfs+json" \
  -d '{"force":true}' "$base/alice/adapters.git/info/lfs/locks/$alice_lock_id/unlock")
if [ "$code" = "403" ]; then
  ok "force unlock without write access gets 403"
else
  not_ok "force unlock without write access gets 403" \
    "HTTP $code (lock id '$alice_lock_id'): $(cat "$work/bob-unlock.json")"
fi
check_output "unlock rejection names the unlock request" \
  "unlock request for alice/adapters rejected: user bob has no write access" \
  "$work/bob-unlock.json"
# A reader may push to the ref of their pull request, and git-lfs verifies locks first.
code=$(curl -s -o "$work/bob-verify.json" -w '%{http_code}' -X POST -u "user:$BOB_TOKEN" \
  -H "Accept: application/vnd.git-lfs+json" -H "Content-Type: application/vnd.git-lfs+json" \
  -d '{}' "$base/alice/adapters.git/info/lfs/locks/verify")
if [ "$code" = "200" ]; then
  ok "locks verify needs read access only"
else
  not_ok "locks verify needs read access only" "HTTP $code: $(cat "$work/bob-verify.json")"
fi
check_output "reader's verify puts the owner's lock in theirs" \
  '"theirs":\[\{[^]]*"path":"adapter_model\.safetensors"' "$work/bob-verify.json"
# bob may open a pull request, but he cannot break alice's lock, so the 409 does not tell
# him to use --force.
code=$(printf '%s\n%s\n' \
  '{"key":"header","value":{"summary":"Remove the weights"}}' \
  '{"key":"deletedFile","value":{"path":"adapter_model.safetensors"}}' |
  curl -s -o "$work/bob-locked-pr.json" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $BOB_TOKEN" -H "Content-Type: application/x-ndjson" \
    --data-binary @- "$base/api/models/alice/adapters/commit/main?create_pr=1")
if [ "$code" = "409" ]; then
  ok "pull request changing locked file rejected"
else
  not_ok "pull request changing locked file rejected" "HTTP $code: $(cat "$work/bob-locked-pr.json")"
fi
check_output "reader's lock rejection points to a writer" \
  "adapter_model\.safetensors is locked by alice; ask them to run .git lfs unlock adapter_model\.safetensors., or ask a user with write access to alice/adapters to break the lock" \
  "$work/bob-locked-pr.json"
if grep -q -- "--force" "$work/bob-locked-pr.json"; then
  not_ok "reader's lock rejection does not offer --force" "$(cat "$work/bob-locked-pr.json")"
else
  ok "reader's lock rejection does not offer --force"
fi
check "lfs unlock a file" git -C adapters lfs unlock adapter_model.safetensors
git -C adapters lfs locks >"$work/locks-after.log" 2>&1
if grep -q adapter_model "$work/locks-after.log"; then
  not_ok "unlocked file no longer listed" "$(cat "$work/locks-after.log")"
else
  ok "unlocked file no longer listed"
fi

# The server enforces locks too: a push that skips git-lfs's own check (--no-verify) and
# changes a file someone else locked is rejected.
check "clone shared repo as alice" git clone -q "$write_base/class/shared" shared-alice
(cd shared-alice && echo "draft" >notes.txt && git add notes.txt && git commit -q -m "Add notes")
check "push shared notes" git -C shared-alice push -q origin main
check "alice locks shared notes" git -C shared-alice lfs lock notes.txt
check "clone shared repo as bob" git clone -q "$(auth_base "$BOB_TOKEN")/class/shared" shared-bob
(cd shared-bob && echo "edit" >>notes.txt && git commit -q -am "Edit notes")
if git -C shared-bob push --no-verify origin main >"$work/locked.log" 2>&1; then
  not_ok "push changing locked file rejected" "push succeeded"
else
  ok "push changing locked file rejected"
fi
check_output "locked file rejection names owner" "notes\.txt is locked by alice" "$work/locked.log"
# A change made in a merge commit itself counts too: git log lists no files for a merge
# unless asked for its combined diff.
check "clone shared repo for a merge" git clone -q "$(auth_base "$BOB_TOKEN")/class/shared" shared-merge
(cd shared-merge && git checkout -q -b side && echo "side" >side.txt && git add side.txt &&
  git commit -q -m "Add a side file" && git checkout -q main && echo "other" >other.txt &&
  git add other.txt && git commit -q -m "Add another file" && git merge -q --no-commit side &&
  echo "edit in the merge" >>notes.txt && git add notes.txt && git commit -q -m "Merge side")
if git -C shared-merge push --no-verify origin main >"$work/locked-merge.log" 2>&1; then
  not_ok "merge changing locked file rejected" "push succeeded"
else
  ok "merge changing locked file rejected"
fi
check_output "merge lock rejection names owner" "notes\.txt is locked by alice" \
  "$work/locked-merge.log"
# The commit API applies the same rule.
code=$(printf '%s\n%s\n' \
  '{"key":"header","value":{"summary":"Remove the notes"}}' \
  '{"key":"deletedFile","value":{"path":"notes.txt"}}' |
  curl -s -o "$work/locked-commit.json" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $BOB_TOKEN" -H "Content-Type: application/x-ndjson" \
    --data-binary @- "$base/api/models/class/shared/commit/main")
if [ "$code" = "409" ]; then
  ok "API commit changing locked file rejected"
else
  not_ok "API commit changing locked file rejected" "HTTP $code: $(cat "$work/locked-commit.json")"
fi
check_output "API lock rejection names owner" "notes\.txt is locked by alice" \
  "$work/locked-commit.json"
check_output "writer's lock rejection offers --force" "git lfs unlock --force notes\.txt" \
  "$work/locked-commit.json"
curl -s -o "$work/folder-lock.json" -X POST -u "user:$WRITE_TOKEN" \
  -H "Accept: application/vnd.git-lfs+json" -H "Content-Type: application/vnd.git-lfs+json" \
  -d '{"path":"drafts/plan.txt"}' "$base/class/shared.git/info/lfs/locks"
folder_lock_id=$(sed -n 's/.*"id":"\([0-9]*\)".*/\1/p' "$work/folder-lock.json")
code=$(printf '%s\n%s\n' \
  '{"key":"header","value":{"summary":"Remove the drafts"}}' \
  '{"key":"deletedFolder","value":{"path":"drafts"}}' |
  curl -s -o "$work/locked-folder.json" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $BOB_TOKEN" -H "Content-Type: application/x-ndjson" \
    --data-binary @- "$base/api/models/class/shared/commit/main")
if [ "$code" = "409" ]; then
  ok "API folder deletion over locked file rejected"
else
  not_ok "API folder deletion over locked file rejected" \
    "HTTP $code: $(cat "$work/locked-folder.json")"
fi
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -u "user:$WRITE_TOKEN" \
  -H "Accept: application/vnd.git-lfs+json" -H "Content-Type: application/vnd.git-lfs+json" \
  -d '{}' "$base/class/shared.git/info/lfs/locks/$folder_lock_id/unlock")
if [ "$code" = "200" ]; then
  ok "unlock folder lock"
else
  not_ok "unlock folder lock" "HTTP $code (lock id '$folder_lock_id')"
fi
# The next lock gets a new id, so an id read before the unlock never names another lock.
curl -s -o "$work/next-lock.json" -X POST -u "user:$WRITE_TOKEN" \
  -H "Accept: application/vnd.git-lfs+json" -H "Content-Type: application/vnd.git-lfs+json" \
  -d '{"path":"drafts/other.txt"}' "$base/class/shared.git/info/lfs/locks"
next_lock_id=$(sed -n 's/.*"id":"\([0-9]*\)".*/\1/p' "$work/next-lock.json")
if [ -n "$next_lock_id" ] && [ "$next_lock_id" != "$folder_lock_id" ]; then
  ok "lock id not reused after unlock"
else
  not_ok "lock id not reused after unlock" "first '$folder_lock_id', next '$next_lock_id'"
fi
curl -s -o /dev/null -X POST -u "user:$WRITE_TOKEN" \
  -H "Accept: application/vnd.git-lfs+json" -H "Content-Type: application/vnd.git-lfs+json" \
  -d '{}' "$base/class/shared.git/info/lfs/locks/$next_lock_id/unlock"
check "alice unlocks shared notes" git -C shared-alice lfs unlock notes.txt
check "push after unlock accepted" git -C shared-bob push -q --no-verify origin main

# ---- Rejected pushes -----------------------------------------------------------------------

check "clone adapters with read token" git clone -q "$(auth_base "$READ_TOKEN")/alice/adapters" readonly
(cd readonly && echo "more" >notes.txt && git add notes.txt && git commit -q -m "Add notes")
if git -C readonly push -q origin main >"$work/readonly.log" 2>&1; then
  not_ok "push with read token rejected" "push succeeded"
else
  ok "push with read token rejected"
fi
check_output "read token rejection says read-only" "read-only|403" "$work/readonly.log"
check_output "read token rejection shows hub message" \
  "^remote: push to alice/adapters rejected: the token is read-only; create a write token" \
  "$work/readonly.log"
# git-lfs shows the `message` of an error reply from the batch API, not `error`.
head -c 2048 /dev/urandom >readonly/extra.bin
(cd readonly && git lfs track "extra.bin" >/dev/null && git add .gitattributes extra.bin &&
  git commit -q -m "Add an LFS file")
git -C readonly lfs push origin main >"$work/readonly-lfs.log" 2>&1
check_output "git-lfs shows the batch API's reason" "this token is read-only" \
  "$work/readonly-lfs.log"

# A pointer to an object that was never uploaded. --no-verify skips git-lfs's own pre-push
# upload, as a client without git-lfs would.
missing_oid=$(printf 'never uploaded' | sha256sum | cut -c1-64)
(
  cd adapters &&
    printf 'version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize 14\n' "$missing_oid" \
      >ghost.safetensors &&
    git add ghost.safetensors && git commit -q -m "Add a pointer without its object"
)
if git -C adapters push --no-verify origin main >"$work/ghost.log" 2>&1; then
  not_ok "push of missing LFS object rejected" "push succeeded"
else
  ok "push of missing LFS object rejected"
fi
check_output "missing LFS object rejection names file" "ghost\.safetensors" "$work/ghost.log"
check_output "daemon logs rejected push" \
  "push rejected by the pre-receive hook repo=model:alice/adapters user=alice" "$work/serve.log"
git -C adapters reset -q --hard HEAD~1

# ---- LFS objects of other users' repos -----------------------------------------------------

# alice keeps a file in her private repo. bob learns its oid and size but not its bytes.
check "clone secret repo with write token" git clone -q "$write_base/alice/secret" secret-write
head -c 200000 /dev/urandom >"$work/private.bin"
(
  cd secret-write &&
    git lfs track "*.bin" >/dev/null &&
    cp "$work/private.bin" . &&
    git add .gitattributes private.bin && git commit -q -m "Add a private file"
)
check "push private LFS file" git -C secret-write push -q origin main
private_oid=$(sha256sum "$work/private.bin" | cut -c1-64)

# The setup docs/git.md recommends: the token in a credential helper, never in the URL.
# git-lfs sends its batch request without credentials first and requests them from the
# helper only after a 401, so the batch route must not reply 404 to an anonymous caller.
echo "http://user:$READ_TOKEN@127.0.0.1:$port" >"$work/git-credentials"
chmod 600 "$work/git-credentials"
helper="store --file=$work/git-credentials"
check "private clone with credential helper" \
  git -c credential.helper="$helper" clone -q "$base/alice/secret" secret-helper
check "credential helper clone has LFS bytes" cmp secret-helper/private.bin "$work/private.bin"
rm -rf secret-helper
check "skip-smudge clone with credential helper" env GIT_LFS_SKIP_SMUDGE=1 \
  git -c credential.helper="$helper" clone -q "$base/alice/secret" secret-helper
check "lfs pull with credential helper" \
  git -C secret-helper -c credential.helper="$helper" lfs pull
check "lfs pull brings LFS bytes" cmp secret-helper/private.bin "$work/private.bin"
curl -s -o "$work/anon-batch.json" -D "$work/anon-batch.head" -X POST \
  -H "Accept: application/vnd.git-lfs+json" -H "Content-Type: application/vnd.git-lfs+json" \
  -d "{\"operation\":\"download\",\"objects\":[{\"oid\":\"$private_oid\",\"size\":200000}]}" \
  "$base/alice/secret.git/info/lfs/objects/batch"
check_output "anonymous batch on private repo gets 401" "^HTTP/1.1 401" "$work/anon-batch.head"
check_output "anonymous batch 401 asks for basic auth" "^WWW-Authenticate: Basic" \
  "$work/anon-batch.head"
check_output "anonymous batch 401 is JSON" '"error"' "$work/anon-batch.json"
curl -s -o /dev/null -D "$work/bob-batch.head" -X POST -u "user:$BOB_TOKEN" \
  -H "Accept: application/vnd.git-lfs+json" -H "Content-Type: application/vnd.git-lfs+json" \
  -d "{\"operation\":\"download\",\"objects\":[{\"oid\":\"$private_oid\",\"size\":200000}]}" \
  "$base/alice/secret.git/info/lfs/objects/batch"
check_output "batch by user who cannot read gets 404" "^HTTP/1.1 404" "$work/bob-batch.head"

bob_base=$(auth_base "$BOB_TOKEN")
code=$(curl -s -o "$work/bob-create.json" -w '%{http_code}' -X POST \
  -H "Authorization: Bearer $BOB_TOKEN" -H "Content-Type: application/json" \
  -d '{"name":"copy","type":"model"}' "$base/api/repos/create")
if [ "$code" = "200" ]; then
  ok "bob creates his own repo"
else
  not_ok "bob creates his own repo" "HTTP $code: $(cat "$work/bob-create.json")"
fi
check "clone own repo as bob" git clone -q "$bob_base/bob/copy" bob-copy
(
  cd bob-copy &&
    printf 'version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize 200000\n' \
      "$private_oid" >stolen.bin &&
    git add stolen.bin && git commit -q -m "Point to a file of another user"
)
if git -C bob-copy push --no-verify origin main >"$work/stolen.log" 2>&1; then
  not_ok "push of pointer to unreadable object rejected" "push succeeded"
else
  ok "push of pointer to unreadable object rejected"
fi
check_output "unreadable object rejection names file" "stolen\.bin" "$work/stolen.log"
check_output "unreadable object rejection names git lfs push" "git lfs push --all" \
  "$work/stolen.log"
git -C bob-copy reset -q --hard HEAD~1

# The same pointer at a tracked path, pushed with lfs.allowincompletepush=true, so git-lfs's
# pre-push hook skips the object that is missing locally and the server must reject it.
(
  cd bob-copy &&
    git lfs track "*.bin" >/dev/null &&
    printf 'version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize 200000\n' \
      "$private_oid" >tracked.bin &&
    git add .gitattributes tracked.bin && git commit -q -m "Point to a file of another user"
)
if git -C bob-copy -c lfs.allowincompletepush=true push origin main >"$work/tracked.log" 2>&1; then
  not_ok "incomplete push of unreadable object rejected" "push succeeded"
else
  ok "incomplete push of unreadable object rejected"
fi
check_output "incomplete push rejection names file" "tracked\.bin" "$work/tracked.log"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $BOB_TOKEN" \
  "$base/bob/copy/resolve/main/tracked.bin")
if [ "$code" = "404" ]; then
  ok "rejected pointer does not resolve"
else
  not_ok "rejected pointer does not resolve" "HTTP $code"
fi
git -C bob-copy reset -q --hard HEAD~1

lfs_batch() {
  curl -s -X POST -u "user:$BOB_TOKEN" -H "Accept: application/vnd.git-lfs+json" \
    -H "Content-Type: application/vnd.git-lfs+json" \
    -d "{\"operation\":\"upload\",\"objects\":[{\"oid\":\"$1\",\"size\":$2}]}" \
    "$base/bob/copy.git/info/lfs/objects/batch"
}
lfs_batch "$private_oid" 200000 >"$work/stolen-batch.json"
check_output "batch asks for upload of unreadable object" '"upload":\{"href":' \
  "$work/stolen-batch.json"
links=$(sqlite3 "$db" "SELECT count(*) FROM repo_objects JOIN repos ON repos.id = repo_objects.repo_id
  WHERE repos.ns = 'bob' AND repo_objects.oid = '$private_oid'" 2>&1)
if [ "$links" = "0" ]; then
  ok "unreadable object stays unlinked"
else
  not_ok "unreadable object stays unlinked" "repo_objects rows: $links"
fi

# bob has the same bytes himself: the push is rejected until git-lfs uploads them.
(
  cd bob-copy &&
    git lfs track "*.bin" >/dev/null &&
    cp "$work/private.bin" own.bin &&
    git add .gitattributes own.bin && git commit -q -m "Add a file bob has"
)
if git -C bob-copy push --no-verify origin main >"$work/own.log" 2>&1; then
  not_ok "push of own copy without upload rejected" "push succeeded"
else
  ok "push of own copy without upload rejected"
fi
check_output "own copy rejection names file" "own\.bin" "$work/own.log"
check "git lfs push --all uploads own copy" git -C bob-copy lfs push --all origin main
check "push after git lfs push accepted" git -C bob-copy push -q --no-verify origin main
check "clone brings bob's uploaded copy" git clone -q "$bob_base/bob/copy" bob-copy-check
check "bob's uploaded copy matches" cmp bob-copy-check/own.bin "$work/private.bin"

# An object of a public repo is linked without an upload, as when a class copies a demo model.
public_oid=$(sha256sum "$model_dir/model.safetensors" | cut -c1-64)
public_size=$(stat -c %s "$model_dir/model.safetensors")
lfs_batch "$public_oid" "$public_size" >"$work/public-batch.json"
if grep -q '"actions"' "$work/public-batch.json"; then
  not_ok "batch links public object without upload" "$(cat "$work/public-batch.json")"
else
  ok "batch links public object without upload"
fi
(
  cd bob-copy &&
    printf 'version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %s\n' \
      "$public_oid" "$public_size" >base.bin &&
    git add base.bin && git commit -q -m "Point to the public demo weights"
)
check "push of pointer to public object accepted" git -C bob-copy push -q --no-verify origin main
check "clone brings public object" git clone -q "$bob_base/bob/copy" bob-copy-public
check "public object matches" cmp bob-copy-public/base.bin "$model_dir/model.safetensors"

# ---- Concurrent pushes, fast-forward rules -------------------------------------------------

check "clone first copy" git clone -q "$write_base/alice/adapters" first
check "clone second copy" git clone -q "$write_base/alice/adapters" second
(cd first && echo one >race.txt && git add race.txt && git commit -q -m "First")
(cd second && echo two >race.txt && git add race.txt && git commit -q -m "Second")
git -C first push origin main >"$work/first.log" 2>&1 &
first_pid=$!
git -C second push origin main >"$work/second.log" 2>&1 &
second_pid=$!
wait "$first_pid"
first_status=$?
wait "$second_pid"
second_status=$?
if [ $((first_status == 0)) -ne $((second_status == 0)) ]; then
  ok "one of two concurrent pushes wins"
else
  not_ok "one of two concurrent pushes wins" "exit statuses $first_status and $second_status"
fi
loser_log=$work/second.log
[ "$first_status" -ne 0 ] && loser_log=$work/first.log
check_output "losing push is told to fetch" "fetch first|git pull|non-fast-forward|changed since" \
  "$loser_log"

loser=second
[ "$first_status" -ne 0 ] && loser=first
if git -C "$loser" push origin main >"$work/nonff.log" 2>&1; then
  not_ok "non-fast-forward push without force rejected" "push succeeded"
else
  ok "non-fast-forward push without force rejected"
fi
check "forced non-fast-forward push accepted" git -C "$loser" push -q --force origin main

check "clone protected repo" git clone -q "$write_base/alice/guarded" guarded
(cd guarded && git commit -q --amend -m "Rewritten history")
if git -C guarded push --force origin main >"$work/guarded.log" 2>&1; then
  not_ok "force push to protected branch rejected" "push succeeded"
else
  ok "force push to protected branch rejected"
fi
check_output "protected branch rejection says why" "protected" "$work/guarded.log"
(cd guarded && git reset -q --hard origin/main && echo x >more.txt && git add more.txt &&
  git commit -q -m "Fast-forward")
check "fast-forward push to protected branch accepted" git -C guarded push -q origin main

check "push a new branch" git -C guarded push -q origin main:feature
check "delete an unprotected branch" git -C guarded push -q origin :feature
if git -C guarded push origin :main >"$work/delete-main.log" 2>&1; then
  not_ok "deleting protected branch rejected" "push succeeded"
else
  ok "deleting protected branch rejected"
fi

# A pack over git's 1 MiB http.postBuffer arrives with chunked transfer encoding after a
# probe request.
head -c 3000000 /dev/urandom >"$work/large.dat"
(cd guarded && cp "$work/large.dat" . && git add large.dat && git commit -q -m "Add a large file")
check "push of 3 MB pack" git -C guarded push -q origin main
check "clone after large push" git clone -q "$base/alice/guarded" guarded-copy
check "large file matches after clone" cmp guarded-copy/large.dat "$work/large.dat"

# Protection set through the API: a read token may not change it, a write token may.
api=$base/api/models/alice/guarded/git/protected-branches
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $READ_TOKEN" \
  "$api/release")
if [ "$code" = "403" ]; then
  ok "protect branch with read token rejected"
else
  not_ok "protect branch with read token rejected" "HTTP $code"
fi
code=$(curl -s -o "$work/protect.json" -w '%{http_code}' -X PUT \
  -H "Authorization: Bearer $WRITE_TOKEN" "$api/release")
if [ "$code" = "200" ]; then
  ok "protect branch through API"
else
  not_ok "protect branch through API" "HTTP $code: $(cat "$work/protect.json")"
fi
# release is pushed only below: the rule is kept, and the reply reports the branch as missing.
check_output "protect reply says the branch is new" '"changed": *true' "$work/protect.json"
check_output "protect reply says the branch does not exist" '"branch_exists": *false' \
  "$work/protect.json"
curl -s -o "$work/protect-again.json" -X PUT -H "Authorization: Bearer $WRITE_TOKEN" "$api/release"
check_output "protecting twice changes nothing" '"changed": *false' "$work/protect-again.json"
# A branch name with a slash may go in unencoded or as one encoded segment.
curl -s -o "$work/protect-slash.json" -X PUT -H "Authorization: Bearer $WRITE_TOKEN" "$api/lts/1.0"
check_output "protect an unencoded slash branch" '"branch": *"lts/1.0", *"protected": *true, *"changed": *true' \
  "$work/protect-slash.json"
curl -s -o "$work/unprotect-slash.json" -X DELETE -H "Authorization: Bearer $WRITE_TOKEN" \
  "$api/lts%2F1.0"
check_output "unprotect it through the encoded name" '"branch": *"lts/1.0", *"protected": *false, *"changed": *true' \
  "$work/unprotect-slash.json"
curl -s -o "$work/unprotect-none.json" -X DELETE -H "Authorization: Bearer $WRITE_TOKEN" \
  "$api/nope"
check_output "unprotecting an unprotected branch changes nothing" '"changed": *false' \
  "$work/unprotect-none.json"
audits=$(sqlite3 "$db" "SELECT count(*) FROM audit_log WHERE repo = 'model:alice/guarded'
  AND ((action = 'repo.branch_protect' AND detail = 'release')
    OR (action = 'repo.branch_unprotect' AND detail = 'nope'))" 2>&1)
if [ "$audits" = "1" ]; then
  ok "only a change writes a protection audit entry"
else
  not_ok "only a change writes a protection audit entry" "audit rows: $audits"
fi
check_output "protection change is logged" \
  "branch protected repo=model:alice/guarded branch=release user=alice" "$work/serve.log"
code=$(curl -s -o "$work/protect-bad.json" -w '%{http_code}' -X PUT \
  -H "Authorization: Bearer $WRITE_TOKEN" "$api/bad..name")
if [ "$code" = "400" ]; then
  ok "protect invalid branch name gets 400"
else
  not_ok "protect invalid branch name gets 400" "HTTP $code: $(cat "$work/protect-bad.json")"
fi
check_output "invalid branch name error names the rule" \
  "invalid branch name 'bad\.\.name': a branch name may not contain '\.\.'" "$work/protect-bad.json"
curl -s "$api" >"$work/protected.json"
check_output "protected branch list" '"branches": *\["main", *"release"\]' "$work/protected.json"
check "push release branch" git -C guarded push -q origin main:release
(cd guarded && git commit -q --amend -m "Rewritten again")
if git -C guarded push --force origin HEAD:release >"$work/release.log" 2>&1; then
  not_ok "force push to API-protected branch rejected" "push succeeded"
else
  ok "force push to API-protected branch rejected"
fi
# The API's branch routes follow the same protection: no deletion, no rewind.
release_parent=$(git -C guarded rev-parse origin/release~1)
branch_api=$base/api/models/alice/guarded/branch
code=$(curl -s -o "$work/overwrite.json" -w '%{http_code}' -X POST \
  -H "Authorization: Bearer $WRITE_TOKEN" -H "Content-Type: application/json" \
  -d "{\"startingPoint\":\"$release_parent\",\"overwrite\":true}" "$branch_api/release")
if [ "$code" = "403" ]; then
  ok "API rewind of protected branch rejected"
else
  not_ok "API rewind of protected branch rejected" "HTTP $code: $(cat "$work/overwrite.json")"
fi
check_output "API rewind error names protection" "release' is protected" "$work/overwrite.json"
code=$(curl -s -o "$work/overwrite-main.json" -w '%{http_code}' -X POST \
  -H "Authorization: Bearer $WRITE_TOKEN" -H "Content-Type: application/json" \
  -d "{\"startingPoint\":\"$release_parent\",\"overwrite\":true}" "$branch_api/main")
if [ "$code" = "403" ]; then
  ok "API rewind of protected main rejected"
else
  not_ok "API rewind of protected main rejected" "HTTP $code: $(cat "$work/overwrite-main.json")"
fi
code=$(curl -s -o "$work/delete-branch.json" -w '%{http_code}' -X DELETE \
  -H "Authorization: Bearer $WRITE_TOKEN" "$branch_api/release")
if [ "$code" = "403" ]; then
  ok "API delete of protected branch rejected"
else
  not_ok "API delete of protected branch rejected" "HTTP $code: $(cat "$work/delete-branch.json")"
fi
git -C guarded ls-remote origin refs/heads/release >"$work/release-ref.txt"
check_output "protected branch kept its commit" "^$(git -C guarded rev-parse origin/release)" \
  "$work/release-ref.txt"
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $WRITE_TOKEN" \
  "$api/release")
if [ "$code" = "200" ]; then
  ok "unprotect branch through API"
else
  not_ok "unprotect branch through API" "HTTP $code"
fi
release_before=$(git -C guarded rev-parse origin/release)
code=$(curl -s -o "$work/overwrite.json" -w '%{http_code}' -X POST \
  -H "Authorization: Bearer $WRITE_TOKEN" -H "Content-Type: application/json" \
  -d "{\"startingPoint\":\"$release_parent\",\"overwrite\":true}" "$branch_api/release")
if [ "$code" = "200" ]; then
  ok "API rewind after unprotect accepted"
else
  not_ok "API rewind after unprotect accepted" "HTTP $code: $(cat "$work/overwrite.json")"
fi
git -C guarded ls-remote origin refs/heads/release >"$work/release-ref.txt"
check_output "API rewind moved the branch" "^$release_parent" "$work/release-ref.txt"
check_output "API rewind logs the move" \
  "branch moved repo=alice/guarded branch=release old=$release_before new=$release_parent" \
  "$work/serve.log"
check "force push after unprotect accepted" git -C guarded push -q --force origin HEAD:release
git -C guarded reset -q --hard origin/main

# ---- API commits are visible to git --------------------------------------------------------

api_commit=$(printf '%s\n%s\n' \
  '{"key":"header","value":{"summary":"Add a file through the API"}}' \
  '{"key":"file","value":{"content":"aGVsbG8K","path":"api.txt","encoding":"base64"}}' |
  curl -s -o "$work/commit.json" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $WRITE_TOKEN" -H "Content-Type: application/x-ndjson" \
    --data-binary @- "$base/api/models/alice/guarded/commit/main")
if [ "$api_commit" = "200" ]; then
  check "fetch sees API commit" git -C guarded pull -q origin main
  check "API file is in the working tree" grep -q hello guarded/api.txt
else
  not_ok "fetch sees API commit" "commit API returned HTTP $api_commit: $(head -c 200 "$work/commit.json")"
fi

# ---- Base model that names no repo on the hub ----------------------------------------------

# A local path as the base model: the push or commit succeeds, the recorded base model stays,
# and the daemon logs a warning that names the repo and the value.
check "clone adapters for a local base model" git clone -q "$write_base/alice/adapters" local-base
(
  cd local-base &&
    echo '{"r": 8, "base_model_name_or_path": "../models/stories260K"}' >adapter_config.json &&
    git commit -q -am "Point the adapter at a local folder"
)
check "push adapter with local base model" git -C local-base push -q origin main
check_output "push warning names repo and local path" \
  "base model not recorded.*repo=alice/adapters base_model=\.\./models/stories260K" \
  "$work/serve.log"
curl -s "$base/api/models/alice/adapters" >"$work/local-info.json"
check_output "push keeps recorded baseModel" '"baseModel" *: *"alice/demo"' "$work/local-info.json"

config=$(printf '{"base_model_name_or_path": "/srv/models/stories260K"}' | base64 -w0)
api_commit=$(printf '%s\n%s\n' \
  '{"key":"header","value":{"summary":"Point the adapter at an absolute path"}}' \
  "{\"key\":\"file\",\"value\":{\"content\":\"$config\",\"path\":\"adapter_config.json\",\"encoding\":\"base64\"}}" |
  curl -s -o "$work/local-commit.json" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $WRITE_TOKEN" -H "Content-Type: application/x-ndjson" \
    --data-binary @- "$base/api/models/alice/adapters/commit/main")
if [ "$api_commit" = "200" ]; then
  ok "API commit with local base model succeeds"
else
  not_ok "API commit with local base model succeeds" \
    "HTTP $api_commit: $(head -c 200 "$work/local-commit.json")"
fi
check_output "API commit warning names repo and path" \
  "base model not recorded.*repo=alice/adapters base_model=/srv/models/stories260K" \
  "$work/serve.log"
curl -s "$base/api/models/alice/adapters" >"$work/local-info.json"
check_output "API commit keeps recorded baseModel" '"baseModel" *: *"alice/demo"' \
  "$work/local-info.json"

# ---- Invalid tokens on public repos ---------------------------------------------------------

# An unknown token, or the token of a disabled user, reads public repos as anonymous, as the
# Hub API does. A push with it still gets the 401 that names the invalid credentials.
bearer() {
  echo "http.extraHeader=Authorization: Bearer $1"
}
check "clone public repo with unknown token" git -c "$(bearer hf_not_a_token)" clone -q \
  "$base/alice/stories" stories-bad-token
check "unknown token clone brings LFS weights" cmp stories-bad-token/model.safetensors \
  "$model_dir/model.safetensors"
if [ -n "$CAROL_TOKEN" ]; then
  ok "token of carol created"
else
  not_ok "token of carol created" "atelier admin token create printed no hf_ token"
fi
check "clone as carol before disabling" git -c "$(bearer "$CAROL_TOKEN")" clone -q \
  "$base/alice/adapters" carol-adapters
check "disable carol" "$atelier" admin --data "$data" user disable carol
check "ls-remote public repo as disabled user" git -c "$(bearer "$CAROL_TOKEN")" ls-remote \
  "$base/alice/stories"
code=$(curl -s -o "$work/carol-locks.json" -w '%{http_code}' \
  -H "Authorization: Bearer $CAROL_TOKEN" -H "Accept: application/vnd.git-lfs+json" \
  "$base/alice/adapters.git/info/lfs/locks")
if [ "$code" = "200" ]; then
  ok "lock list of public repo as disabled user"
else
  not_ok "lock list of public repo as disabled user" "HTTP $code: $(cat "$work/carol-locks.json")"
fi
# With the token in the URL, git prints the 401 body instead of asking for credentials.
git ls-remote "$(auth_base "$CAROL_TOKEN")/alice/secret" >"$work/carol-secret.log" 2>&1
check_output "private repo as disabled user names invalid credentials" \
  "^remote: Invalid credentials in Authorization header" "$work/carol-secret.log"
(cd carol-adapters && echo carol >carol.txt && git add carol.txt && git commit -q -m "Add carol")
git -C carol-adapters push "$(auth_base "$CAROL_TOKEN")/alice/adapters" main \
  >"$work/carol-push.log" 2>&1
check_output "push as disabled user names invalid credentials" \
  "^remote: Invalid credentials in Authorization header" "$work/carol-push.log"
# git erases a token that got 401 from its credential helper, so after `user enable` carol
# must enter it again, as docs/storage.md documents.
echo "http://user:$CAROL_TOKEN@127.0.0.1:$port" >"$work/carol-credentials"
chmod 600 "$work/carol-credentials"
git -C carol-adapters -c credential.helper="store --file=$work/carol-credentials" \
  push "$base/alice/adapters" main >"$work/carol-helper-push.log" 2>&1
if grep -q "$CAROL_TOKEN" "$work/carol-credentials"; then
  not_ok "rejected push erases the token from the helper" "$(cat "$work/carol-helper-push.log")"
else
  ok "rejected push erases the token from the helper"
fi
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $CAROL_TOKEN" \
  "$base/alice/adapters/info/refs?service=git-receive-pack")
if [ "$code" = "401" ]; then
  ok "push advertisement as disabled user gets 401"
else
  not_ok "push advertisement as disabled user gets 401" "HTTP $code"
fi

# ---- Repo of the other type ----------------------------------------------------------------

# alice/corpus is a dataset. A model URL for it names the dataset URL. An anonymous caller
# gets it in the body of a 401, so that git still asks for credentials, and a private model
# with the id of a public dataset gets the same reply.
code=$(curl -s -o "$work/wrong-type.txt" -D "$work/wrong-type.headers" -w '%{http_code}' \
  "$base/alice/corpus/info/refs?service=git-upload-pack")
if [ "$code" = "401" ]; then
  ok "anonymous model URL of a dataset gets 401"
else
  not_ok "anonymous model URL of a dataset gets 401" "HTTP $code: $(cat "$work/wrong-type.txt")"
fi
check_output "anonymous 401 asks for credentials" "^WWW-Authenticate: Basic" \
  "$work/wrong-type.headers"
check_output "anonymous model URL of a dataset names the dataset" \
  "^no model alice/corpus without a token; a dataset of that name exists at $base/datasets/alice/corpus\\. " \
  "$work/wrong-type.txt"
git ls-remote "$base/alice/corpus" >"$work/wrong-type.log" 2>&1
check_output "anonymous git ls-remote of a dataset asks for a username" \
  "could not read Username" "$work/wrong-type.log"
for kind in dataset model; do
  curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $WRITE_TOKEN" \
    -H "Content-Type: application/json" \
    -d "{\"name\":\"twin\",\"type\":\"$kind\",\"private\":$([ $kind = model ] && echo true || echo false)}" \
    "$base/api/repos/create" >"$work/twin-$kind.code"
done
if [ "$(cat "$work/twin-dataset.code") $(cat "$work/twin-model.code")" = "200 200" ]; then
  ok "create public dataset and private model alice/twin"
else
  not_ok "create public dataset and private model alice/twin" \
    "$(cat "$work/twin-dataset.code") $(cat "$work/twin-model.code")"
fi
for caller in anonymous bob; do
  auth=()
  [ "$caller" = bob ] && auth=(-H "Authorization: Bearer $BOB_TOKEN")
  missing=$(curl -s -w ' %{http_code}' "${auth[@]}" \
    "$base/alice/corpus/info/refs?service=git-upload-pack" | sed 's/corpus/NAME/g')
  private=$(curl -s -w ' %{http_code}' "${auth[@]}" \
    "$base/alice/twin/info/refs?service=git-upload-pack" | sed 's/twin/NAME/g')
  if [ "$missing" = "$private" ]; then
    ok "$caller model URL: private model beside a dataset looks missing"
  else
    not_ok "$caller model URL: private model beside a dataset looks missing" \
      "missing: $missing; private: $private"
  fi
done
git ls-remote "$(auth_base "$READ_TOKEN")/alice/twin" >"$work/twin-owner.log" 2>&1
check_output "owner lists private model beside a dataset" "refs/heads/main" "$work/twin-owner.log"
git ls-remote "$(auth_base "$READ_TOKEN")/alice/corpus" >"$work/wrong-type-token.log" 2>&1
check_output "model URL of a dataset with a token names the dataset" \
  "^remote: no model alice/corpus; a dataset of that name exists" "$work/wrong-type-token.log"
git ls-remote "$(auth_base "$BOB_TOKEN")/datasets/alice/stories" >"$work/wrong-type-model.log" 2>&1
check_output "dataset URL of a model names the model" \
  "^remote: no dataset alice/stories; a model of that name exists at $base/alice/stories$" \
  "$work/wrong-type-model.log"
# alice/secret is a private model, so the hint names it only to callers who may read it.
code=$(curl -s -o /dev/null -w '%{http_code}' \
  "$base/datasets/alice/secret/info/refs?service=git-upload-pack")
if [ "$code" = "401" ]; then
  ok "anonymous dataset URL of a private model gets 401"
else
  not_ok "anonymous dataset URL of a private model gets 401" "HTTP $code"
fi
git ls-remote "$(auth_base "$BOB_TOKEN")/datasets/alice/secret" >"$work/wrong-type-bob.log" 2>&1
check_output "dataset URL of an unreadable model is plain not found" \
  "^remote: repository alice/secret not found" "$work/wrong-type-bob.log"
git ls-remote "$(auth_base "$READ_TOKEN")/datasets/alice/secret" >"$work/wrong-type-owner.log" 2>&1
check_output "dataset URL of own private model names the model" \
  "^remote: no dataset alice/secret; a model of that name exists" "$work/wrong-type-owner.log"

# ---- Push rules that match the Hub API -----------------------------------------------------

code=$(curl -s -o "$work/rules-create.json" -w '%{http_code}' -X POST \
  -H "Authorization: Bearer $WRITE_TOKEN" -H "Content-Type: application/json" \
  -d '{"name":"rules","type":"model"}' "$base/api/repos/create")
if [ "$code" = "200" ]; then
  ok "create repo for push rules"
else
  not_ok "create repo for push rules" "HTTP $code: $(cat "$work/rules-create.json")"
fi
check "clone rules repo" git clone -q "$write_base/alice/rules" rules

# Deleting the default branch gets the hub's message, not git's receive.denyDeleteCurrent
# advice, which a hub user cannot act on.
if git -C rules push origin :main >"$work/delete-default.log" 2>&1; then
  not_ok "deleting the default branch rejected" "push succeeded"
else
  ok "deleting the default branch rejected"
fi
check_output "default branch rejection names the branch" \
  "^remote: rejected refs/heads/main: the default branch 'main' cannot be deleted" \
  "$work/delete-default.log"
if grep -q denyDeleteCurrent "$work/delete-default.log"; then
  not_ok "default branch rejection has no git config advice" "$(cat "$work/delete-default.log")"
else
  ok "default branch rejection has no git config advice"
fi
git init -q -b trunk no-main
(cd no-main && echo x >x.txt && git add x.txt && git commit -q -m "Only trunk")
if git -C no-main push --mirror "$write_base/alice/rules" >"$work/mirror-no-main.log" 2>&1; then
  not_ok "mirror push without main rejected" "push succeeded"
else
  ok "mirror push without main rejected"
fi
check_output "mirror push without main names the default branch" \
  "the default branch 'main' cannot be deleted" "$work/mirror-no-main.log"

# New branch and tag names follow the API's rules, and the message names the rule.
if git -C rules push origin HEAD:refs/heads/HEAD >"$work/branch-head.log" 2>&1; then
  not_ok "push of branch named HEAD rejected" "push succeeded"
else
  ok "push of branch named HEAD rejected"
fi
check_output "branch named HEAD rejection names the rule" \
  "^remote: rejected refs/heads/HEAD: invalid branch name 'HEAD': a branch may not be named '@' or 'HEAD'" \
  "$work/branch-head.log"
if git -C rules push origin HEAD:refs/heads/a,b >"$work/branch-comma.log" 2>&1; then
  not_ok "push of branch with comma rejected" "push succeeded"
else
  ok "push of branch with comma rejected"
fi
check_output "branch with comma rejection names the rule" \
  "invalid branch name 'a,b': a branch name may not contain ','" "$work/branch-comma.log"
if git -C rules push origin HEAD:refs/tags/@ >"$work/tag-at.log" 2>&1; then
  not_ok "push of tag named @ rejected" "push succeeded"
else
  ok "push of tag named @ rejected"
fi
check_output "tag named @ rejection names the rule" "invalid tag name '@'" "$work/tag-at.log"
code=$(curl -s -o "$work/branch-comma.json" -w '%{http_code}' -X POST \
  -H "Authorization: Bearer $WRITE_TOKEN" "$base/api/models/alice/rules/branch/c,d")
if [ "$code" = "400" ]; then
  ok "API branch with comma gets 400"
else
  not_ok "API branch with comma gets 400" "HTTP $code: $(cat "$work/branch-comma.json")"
fi
# A branch made before the rule (here written into the bare repo) can still move and go.
git -C "$data/repos/models/alice/rules.git" update-ref refs/heads/old,name refs/heads/main
(cd rules && echo more >more.txt && git add more.txt && git commit -q -m "More")
check "push to existing branch with comma accepted" git -C rules push -q origin HEAD:old,name
check "delete existing branch with comma accepted" git -C rules push -q origin :old,name

# File paths follow the commit API's rules, so resolve can serve every pushed file.
(cd rules && echo x >'back\slash.txt' && git add . && git commit -q -m "Add a backslash path")
if git -C rules push origin main >"$work/path-backslash.log" 2>&1; then
  not_ok "push of backslash path rejected" "push succeeded"
else
  ok "push of backslash path rejected"
fi
check_output "backslash rejection names file and rule" \
  'rejected refs/heads/main: file "back\\\\slash.txt" has a path the hub cannot serve: contains a backslash' \
  "$work/path-backslash.log"
git -C rules reset -q --hard HEAD~1
(cd rules && echo x >"$(printf 'new\nline.txt')" && git add . && git commit -q -m "Add a newline path")
if git -C rules push origin main >"$work/path-newline.log" 2>&1; then
  not_ok "push of newline path rejected" "push succeeded"
else
  ok "push of newline path rejected"
fi
check_output "newline rejection names file and rule" \
  'file "new\\nline.txt" has a path the hub cannot serve: contains control character 0x0a' \
  "$work/path-newline.log"
git -C rules reset -q --hard HEAD~1
deep=$(printf 'd/%.0s' $(seq 1 200))
(cd rules && mkdir -p "$deep" && echo x >"${deep}deep.txt" && git add . &&
  git commit -q -m "Add a deep path")
if git -C rules push origin main >"$work/path-deep.log" 2>&1; then
  not_ok "push of path with 201 segments rejected" "push succeeded"
else
  ok "push of path with 201 segments rejected"
fi
check_output "deep path rejection names the rule" "more than 200 segments between slashes" \
  "$work/path-deep.log"
# A bad path that a later commit of the same push removes is not in the new tree, so history
# like that (as in a mirror) can be pushed.
(cd rules && git rm -q -r d && git commit -q -m "Remove the deep path")
check "push that removes its bad path again accepted" git -C rules push -q origin main
code=$(printf '%s\n{"key":"file","value":{"path":"%sdeep.txt","encoding":"base64","content":"eAo="}}\n' \
  '{"key":"header","value":{"summary":"Add a deep path"}}' "$deep" |
  curl -s -o "$work/deep-commit.json" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $WRITE_TOKEN" -H "Content-Type: application/x-ndjson" \
    --data-binary @- "$base/api/models/alice/rules/commit/main")
if [ "$code" = "400" ]; then
  ok "API commit of path with 201 segments gets 400"
else
  not_ok "API commit of path with 201 segments gets 400" "HTTP $code: $(cat "$work/deep-commit.json")"
fi

# The recipe of docs/git.md for an unrelated local history: after the pull, `git add
# --renormalize .` stores the weights committed before .gitattributes in LFS.
curl -s -o /dev/null -X POST -H "Authorization: Bearer $WRITE_TOKEN" \
  -H "Content-Type: application/json" -d '{"name":"unrelated","type":"model"}' \
  "$base/api/repos/create"
git init -q unrelated
head -c 4000 /dev/urandom >"$work/unrelated.safetensors"
(
  cd unrelated && git lfs install >/dev/null &&
    cp "$work/unrelated.safetensors" model.safetensors && git add model.safetensors &&
    git commit -q -m "Add weights before .gitattributes" &&
    git remote add origin "$write_base/alice/unrelated"
)
check "pull of unrelated history" git -C unrelated pull -q --no-rebase \
  --allow-unrelated-histories origin main
check "renormalize after the pull" git -C unrelated add --renormalize .
check "commit the renormalized files" git -C unrelated commit -q -m "Store large files in LFS"
check "push of renormalized history" git -C unrelated push -q origin main
git clone -q "$base/alice/unrelated" unrelated-copy >/dev/null 2>&1
git -C unrelated-copy cat-file -p HEAD:model.safetensors >"$work/unrelated-blob.txt" 2>&1
check_output "renormalized weights are an LFS pointer" "^oid sha256:" "$work/unrelated-blob.txt"
check "renormalized weights match after clone" cmp unrelated-copy/model.safetensors \
  "$work/unrelated.safetensors"

# A mirror that contains pull request refs: they are rejected, and the message shows how to
# push only branches and tags.
code=$(printf '%s\n%s\n' \
  '{"key":"header","value":{"summary":"Propose a change"}}' \
  '{"key":"file","value":{"content":"aGVsbG8K","path":"proposal.txt","encoding":"base64"}}' |
  curl -s -o "$work/rules-pr.json" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $WRITE_TOKEN" -H "Content-Type: application/x-ndjson" \
    --data-binary @- "$base/api/models/alice/rules/commit/main?create_pr=1")
if [ "$code" = "200" ]; then
  ok "open pull request on rules repo"
else
  not_ok "open pull request on rules repo" "HTTP $code: $(cat "$work/rules-pr.json")"
fi
check "mirror clone with pull request refs" git clone -q --mirror "$write_base/alice/rules" \
  rules-mirror.git
curl -s -o /dev/null -X POST -H "Authorization: Bearer $WRITE_TOKEN" \
  -H "Content-Type: application/json" -d '{"name":"rules-copy","type":"model"}' \
  "$base/api/repos/create"
if git -C rules-mirror.git push --mirror "$write_base/alice/rules-copy" >"$work/mirror-pr.log" 2>&1; then
  not_ok "mirror push with pull request refs rejected" "push succeeded"
else
  ok "mirror push with pull request refs rejected"
fi
check_output "mirror push rejection names the pull request ref" "rejected refs/pr/1" \
  "$work/mirror-pr.log"
check_output "mirror push rejection says how to push branches and tags" \
  "git push $base/alice/rules-copy 'refs/heads/\*:refs/heads/\*' 'refs/tags/\*:refs/tags/\*'" \
  "$work/mirror-pr.log"
check "push of branches and tags of the mirror accepted" git -C rules-mirror.git push -q --force \
  "$write_base/alice/rules-copy" 'refs/heads/*:refs/heads/*' 'refs/tags/*:refs/tags/*'
git ls-remote "$base/alice/rules-copy" refs/heads/main >"$work/rules-copy-ref.txt"
check_output "mirror copy has the mirrored main" "^$(git -C rules-mirror.git rev-parse main)" \
  "$work/rules-copy-ref.txt"

# ---- Merges, submodules and tags of trees in listings ------------------------------------

curl -s -o /dev/null -X POST -H "Authorization: Bearer $WRITE_TOKEN" \
  -H "Content-Type: application/json" -d '{"name":"merges","type":"model"}' "$base/api/repos/create"
check "clone merges repo" git clone -q "$write_base/alice/merges" merges
(
  cd merges && echo a >side.txt && git add side.txt && git commit -q -m "Add side.txt" &&
    git checkout -q -b side && echo s2 >side.txt && git commit -q -a -m "side2" &&
    git checkout -q main && echo m >main.txt && git add main.txt && git commit -q -m "mainchange" &&
    git merge -q --no-edit side &&
    git update-index --add --cacheinfo "160000,$(git rev-parse HEAD~1),vendor/sub" &&
    git commit -q -m "Add a submodule" && git tag treetag 'HEAD^{tree}'
)
check "push merge, submodule and tag of a tree" git -C merges push -q origin main treetag
git_title=$(git -C merges log -1 --format=%s -- side.txt)
curl -s "$base/api/models/alice/merges/tree/main?expand=true" >"$work/merges-tree.json"
# [^}]* stays inside the entry of side.txt, so the title is the one of its lastCommit.
check_output "tree lastCommit after a merge is the one git log shows" \
  "\"path\":\"side.txt\"[^}]*\"title\":\"$git_title\"" "$work/merges-tree.json"
curl -s -X POST -H "Content-Type: application/json" -d '{"paths":["side.txt"],"expand":true}' \
  "$base/api/models/alice/merges/paths-info/main" >"$work/merges-paths.json"
check_output "paths-info lastCommit after a merge is the one git log shows" \
  "\"title\":\"$git_title\"" "$work/merges-paths.json"
check_output "folder with only a submodule is listed" '"path":"vendor"' "$work/merges-tree.json"
code=$(curl -s -o "$work/merges-vendor.json" -w '%{http_code}' \
  "$base/api/models/alice/merges/tree/main/vendor")
if [ "$code" = "200" ] && [ "$(cat "$work/merges-vendor.json")" = "[]" ]; then
  ok "folder with only a submodule lists no entries"
else
  not_ok "folder with only a submodule lists no entries" "HTTP $code: $(cat "$work/merges-vendor.json")"
fi
code=$(curl -s -o "$work/merges-treetag.json" -w '%{http_code}' \
  "$base/api/models/alice/merges/revision/treetag")
if [ "$code" = "404" ]; then
  ok "revision of a tag of a tree gets 404"
else
  not_ok "revision of a tag of a tree gets 404" "HTTP $code: $(cat "$work/merges-treetag.json")"
fi
check_output "tag of a tree error names the object type" \
  "refs/tags/treetag points to a tree, not a commit" "$work/merges-treetag.json"

# ---- Pushes to pull request refs -----------------------------------------------------------

# A reader opens a pull request through the discussions API, fetches its ref, commits a
# git-lfs file and pushes it back, as on the Hugging Face Hub.
curl -s -o /dev/null -X POST -H "Authorization: Bearer $WRITE_TOKEN" \
  -H "Content-Type: application/json" -d '{"name":"prpush","type":"model"}' "$base/api/repos/create"
check "clone prpush as alice" git clone -q "$write_base/alice/prpush" prpush-alice
# A new repo's first commit already routes *.bin to git-lfs.
check "new repo tracks .bin files with LFS" grep -q '^\*\.bin filter=lfs' prpush-alice/.gitattributes
pr_base=$(git -C prpush-alice rev-parse HEAD)
pr_api=$base/api/models/alice/prpush
# open_pr TOKEN TITLE: opens an empty pull request and prints its number.
open_pr() {
  curl -s -X POST -H "Authorization: Bearer $1" -H "Content-Type: application/json" \
    -d "{\"title\": \"$2\", \"pullRequest\": true}" "$pr_api/discussions" |
    sed -n 's/.*"num" *: *\([0-9]*\).*/\1/p'
}
pr_num=$(open_pr "$BOB_TOKEN" "Add weights")
if [ "$pr_num" = "1" ]; then
  ok "reader opens an empty pull request"
else
  not_ok "reader opens an empty pull request" "number: '$pr_num'"
fi

bob_base=$(auth_base "$BOB_TOKEN")
check "clone prpush as bob" git clone -q "$bob_base/alice/prpush" prpush-bob
check "fetch the pull request ref" git -C prpush-bob fetch -q origin refs/pr/1:pr/1
check "check out the pull request" git -C prpush-bob checkout -q pr/1
head -c 200000 /dev/urandom >"$work/pr-weights.bin"
(
  cd prpush-bob && cp "$work/pr-weights.bin" weights.bin && git add weights.bin &&
    git commit -q -m "Add weights from bob"
)
# GIT_CURL_VERBOSE makes git-lfs print its batch request, which names the pushed ref.
GIT_CURL_VERBOSE=1 git -C prpush-bob push origin pr/1:refs/pr/1 >"$work/pr-push.log" 2>&1
push_status=$?
if [ "$push_status" = "0" ]; then
  ok "pull request author without write access pushes to refs/pr/1"
else
  not_ok "pull request author without write access pushes to refs/pr/1" \
    "$(grep -v '^[<>]' "$work/pr-push.log" | tail -n 8)"
fi
check_output "git-lfs uploads with the pull request ref" \
  '"operation":"upload".*"ref":\{"name":"refs/pr/1"\}' "$work/pr-push.log"
bob_head=$(git -C prpush-bob rev-parse HEAD)
git ls-remote "$base/alice/prpush" refs/pr/1 >"$work/pr-ref.txt"
check_output "refs/pr/1 moved to the pushed commit" "^$bob_head" "$work/pr-ref.txt"
curl -s "$pr_api/discussions/1" >"$work/pr-details.json"
check_output "pull request events list the pushed commit" \
  "\"type\":\"commit\",[^{]*\{[^}]*\},\"data\":\{\"subject\":\"Add weights from bob\"" \
  "$work/pr-details.json"
check_output "pull request head is the pushed commit" "\"headCommit\" *: *\"$bob_head\"" \
  "$work/pr-details.json"
curl -s "$pr_api/tree/refs%2Fpr%2F1" >"$work/pr-tree.json"
check_output "tree at refs/pr/1 lists the LFS file" '"path" *: *"weights.bin"[^}]*"lfs"' \
  "$work/pr-tree.json"
curl -s -o "$work/pr-resolved.bin" "$base/alice/prpush/resolve/refs%2Fpr%2F1/weights.bin"
check "LFS file of refs/pr/1 resolves byte for byte" cmp "$work/pr-resolved.bin" \
  "$work/pr-weights.bin"
curl -s "$base/alice/prpush/discussions/1" >"$work/pr-page.html"
check_output "pull request page lists the pushed commit" "Add weights from bob" "$work/pr-page.html"
audit=$(sqlite3 "$db" "SELECT count(*) FROM audit_log WHERE action = 'repo.push'
  AND repo = 'model:alice/prpush' AND user = 'bob' AND detail LIKE 'refs/pr/1 %'" 2>&1)
if [ "$audit" = "1" ]; then
  ok "push to refs/pr/1 writes an audit entry"
else
  not_ok "push to refs/pr/1 writes an audit entry" "audit rows: $audit"
fi

# The author may rewrite the pull request, as long as it still starts at its base commit.
(cd prpush-bob && git commit -q --amend -m "Add weights")
check "author force-pushes an amended commit" git -C prpush-bob push -q --force origin \
  pr/1:refs/pr/1
(
  cd prpush-bob && git checkout -q --orphan unrelated && git rm -q -rf . &&
    echo other >other.txt && git add other.txt && git commit -q -m "Unrelated history"
)
if git -C prpush-bob push --force origin unrelated:refs/pr/1 >"$work/pr-orphan.log" 2>&1; then
  not_ok "push of a head without the base commit rejected" "push succeeded"
else
  ok "push of a head without the base commit rejected"
fi
check_output "base commit rejection names the base commit" \
  "rejected refs/pr/1: the new head [0-9a-f]+ does not contain ${pr_base:0:12}" "$work/pr-orphan.log"
git -C prpush-bob checkout -q pr/1

# A writer may push to the pull request too.
check "writer fetches the pull request" git -C prpush-alice fetch -q origin refs/pr/1:pr/1
(
  cd prpush-alice && git checkout -q pr/1 && echo "reviewed" >REVIEW.md && git add REVIEW.md &&
    git commit -q -m "Review notes"
)
check "writer pushes to refs/pr/1" git -C prpush-alice push -q origin pr/1:refs/pr/1

# A reader who did not open the pull request may not push to it.
check "clone prpush as dave" git clone -q "$(auth_base "$DAVE_TOKEN")/alice/prpush" prpush-dave
(
  cd prpush-dave && git fetch -q origin refs/pr/1:pr/1 && git checkout -q pr/1 &&
    echo "dave" >dave.txt && git add dave.txt && git commit -q -m "Dave's change"
)
if git -C prpush-dave push origin pr/1:refs/pr/1 >"$work/pr-dave.log" 2>&1; then
  not_ok "push by a reader who is not the author rejected" "push succeeded"
else
  ok "push by a reader who is not the author rejected"
fi
check_output "non-author rejection names the author" \
  "rejected refs/pr/1: user dave may not push to pull request #1: only its author \(bob\)" \
  "$work/pr-dave.log"

# Everything but the refs of their own open pull requests needs write access.
check "bob fetches the writer's commit" git -C prpush-bob pull -q origin refs/pr/1
# git-lfs sends its batch request first, and the batch API rejects the upload for a branch.
if git -C prpush-bob push origin pr/1:main >"$work/pr-branch-lfs.log" 2>&1; then
  not_ok "reader push to a branch stopped by git-lfs" "push succeeded"
else
  ok "reader push to a branch stopped by git-lfs"
fi
check_output "git-lfs rejection says the reader may not write" \
  "user bob may read but not write alice/prpush" "$work/pr-branch-lfs.log"
# Without git-lfs's pre-push hook, the pre-receive hook rejects it.
if git -C prpush-bob push --no-verify origin pr/1:main >"$work/pr-branch.log" 2>&1; then
  not_ok "reader push to a branch rejected" "push succeeded"
else
  ok "reader push to a branch rejected"
fi
check_output "branch rejection says write access is needed" \
  "rejected refs/heads/main: pushing to branches and tags needs write access, which user bob" \
  "$work/pr-branch.log"
if git -C prpush-bob push --no-verify origin pr/1:refs/tags/v1 >"$work/pr-tag.log" 2>&1; then
  not_ok "reader push of a tag rejected" "push succeeded"
else
  ok "reader push of a tag rejected"
fi
check_output "tag rejection says write access is needed" "rejected refs/tags/v1: pushing to" \
  "$work/pr-tag.log"
check_output "reader's rejected ref gets the hook's reason" \
  "\\[remote rejected\\] pr/1 -> v1 \\(pre-receive hook declined\\)" "$work/pr-tag.log"
# The daemon rejects a reader's branch push before it takes the repo lock, so the push gets
# its rejection while another process holds the lock. The holder waits on a FIFO, so it keeps
# the lock until the test releases it, and timeout ends a push that waits for the lock.
prpush_lock=$data/repos/models/alice/prpush.git/atelier.lock
mkfifo "$work/lock-release"
flock "$prpush_lock" -c "touch '$work/lock-held'; read -r _ <'$work/lock-release'" &
lock_holder=$!
for _ in $(seq 600); do
  [ -e "$work/lock-held" ] && break
  sleep 0.1
done
check "test holds the repo lock of prpush" test -e "$work/lock-held"
timeout 120 git -C prpush-bob push --no-verify origin pr/1:main pr/1:refs/heads/dev \
  >"$work/pr-branch-locked.log" 2>&1
push_status=$?
if [ "$push_status" -eq 124 ]; then
  not_ok "reader push to a branch rejected while locked" "push waited for the repo lock"
elif [ "$push_status" -eq 0 ]; then
  not_ok "reader push to a branch rejected while locked" "push succeeded"
else
  ok "reader push to a branch rejected while locked"
fi
check_output "locked rejection says write access is needed" \
  "remote: rejected refs/heads/main: pushing to branches and tags needs write access" \
  "$work/pr-branch-locked.log"
check_output "locked rejection names every rejected ref" "remote: rejected refs/heads/dev: " \
  "$work/pr-branch-locked.log"
echo >"$work/lock-release"
wait "$lock_holder"
if git -C prpush-bob push --no-verify origin pr/1:refs/pr/9 >"$work/pr-missing.log" 2>&1; then
  not_ok "push to a missing pull request rejected" "push succeeded"
else
  ok "push to a missing pull request rejected"
fi
check_output "missing pull request rejection points to the discussions API" \
  "rejected refs/pr/9: no pull request has this ref.*$pr_api/discussions.*create_pr=1" \
  "$work/pr-missing.log"
if git -C prpush-bob push origin :refs/pr/1 >"$work/pr-delete.log" 2>&1; then
  not_ok "deletion of refs/pr/1 rejected" "push succeeded"
else
  ok "deletion of refs/pr/1 rejected"
fi
check_output "deletion rejection says to close the pull request" \
  "rejected refs/pr/1: pull request refs cannot be deleted; close pull request #1" \
  "$work/pr-delete.log"
code=$(curl -s -o "$work/pr-verify.json" -w '%{http_code}' -X POST -u "user:$BOB_TOKEN" \
  -H "Accept: application/vnd.git-lfs+json" -H "Content-Type: application/vnd.git-lfs+json" \
  -d '{"ref":{"name":"refs/pr/1"}}' "$base/alice/prpush.git/info/lfs/locks/verify")
if [ "$code" = "200" ]; then
  ok "locks verify by a reader succeeds"
else
  not_ok "locks verify by a reader succeeds" "HTTP $code: $(cat "$work/pr-verify.json")"
fi

# The merge through the API brings the pushed LFS file to main, and the merged pull request
# takes no more pushes.
code=$(curl -s -o "$work/pr-merge.json" -w '%{http_code}' -X POST \
  -H "Authorization: Bearer $WRITE_TOKEN" -H "Content-Type: application/json" -d '{}' \
  "$pr_api/discussions/1/merge")
if [ "$code" = "200" ]; then
  ok "merge of the pushed pull request"
else
  not_ok "merge of the pushed pull request" "HTTP $code: $(cat "$work/pr-merge.json")"
fi
curl -s -o "$work/pr-main.bin" "$base/alice/prpush/resolve/main/weights.bin"
check "merged LFS file resolves on main byte for byte" cmp "$work/pr-main.bin" \
  "$work/pr-weights.bin"
(cd prpush-bob && echo "late" >late.txt && git add late.txt && git commit -q -m "Too late")
if git -C prpush-bob push origin pr/1:refs/pr/1 >"$work/pr-merged.log" 2>&1; then
  not_ok "push to a merged pull request rejected" "push succeeded"
else
  ok "push to a merged pull request rejected"
fi
check_output "merged rejection names the state" \
  "rejected refs/pr/1: pull request #1 is merged; pushes go only to open pull requests" \
  "$work/pr-merged.log"

pr_closed=$(open_pr "$BOB_TOKEN" "Closed later")
curl -s -o /dev/null -X POST -H "Authorization: Bearer $BOB_TOKEN" \
  -H "Content-Type: application/json" -d '{"status": "closed"}' \
  "$pr_api/discussions/$pr_closed/status"
if git -C prpush-bob push origin "pr/1:refs/pr/$pr_closed" >"$work/pr-closed.log" 2>&1; then
  not_ok "push to a closed pull request rejected" "push succeeded"
else
  ok "push to a closed pull request rejected"
fi
check_output "closed rejection names the state" \
  "rejected refs/pr/$pr_closed: pull request #$pr_closed is closed; pushes go only to open pull" \
  "$work/pr-closed.log"

# The author resolves a merge conflict without write access: they merge main into the pull
# request's ref and push it, and the merge then goes through.
(
  cd prpush-alice && git checkout -q main && git pull -q origin main && echo base >notes.txt &&
    git add notes.txt && git commit -q -m "Add notes"
)
check "push notes to prpush main" git -C prpush-alice push -q origin main
pr_conflict=$(open_pr "$BOB_TOKEN" "Edit notes")
(
  cd prpush-bob && git fetch -q origin "refs/pr/$pr_conflict:pr/$pr_conflict" &&
    git checkout -q "pr/$pr_conflict" && echo bob >notes.txt && git commit -q -am "Notes by bob"
)
check "author pushes the conflicting change" git -C prpush-bob push -q origin \
  "pr/$pr_conflict:refs/pr/$pr_conflict"
(cd prpush-alice && echo alice >notes.txt && git commit -q -am "Notes by alice")
check "push the other side of the conflict" git -C prpush-alice push -q origin main
code=$(curl -s -o "$work/pr-conflict.json" -w '%{http_code}' -X POST \
  -H "Authorization: Bearer $WRITE_TOKEN" -H "Content-Type: application/json" -d '{}' \
  "$pr_api/discussions/$pr_conflict/merge")
if [ "$code" = "409" ]; then
  ok "merge of the conflicting pull request gets 409"
else
  not_ok "merge of the conflicting pull request gets 409" "HTTP $code: $(cat "$work/pr-conflict.json")"
fi
check_output "conflict message tells the author to merge main into the ref" \
  "The author can merge main into refs/pr/$pr_conflict with git" "$work/pr-conflict.json"
git -C prpush-bob pull -q --no-rebase origin main >/dev/null 2>&1
(cd prpush-bob && echo resolved >notes.txt && git add notes.txt && git commit -q --no-edit)
check "author pushes the resolved merge" git -C prpush-bob push -q origin \
  "pr/$pr_conflict:refs/pr/$pr_conflict"
code=$(curl -s -o "$work/pr-resolved.json" -w '%{http_code}' -X POST \
  -H "Authorization: Bearer $WRITE_TOKEN" -H "Content-Type: application/json" -d '{}' \
  "$pr_api/discussions/$pr_conflict/merge")
if [ "$code" = "200" ]; then
  ok "merge after the author's resolution"
else
  not_ok "merge after the author's resolution" "HTTP $code: $(cat "$work/pr-resolved.json")"
fi
curl -s "$base/alice/prpush/resolve/main/notes.txt" >"$work/pr-notes.txt"
check_output "main has the resolved file" "^resolved$" "$work/pr-notes.txt"

# ---- Pushed objects, push options and fetches by id ----------------------------------------

code=$(curl -s -o "$work/objects-create.json" -w '%{http_code}' -X POST \
  -H "Authorization: Bearer $WRITE_TOKEN" -H "Content-Type: application/json" \
  -d '{"name":"objects","type":"model"}' "$base/api/repos/create")
if [ "$code" = "200" ]; then
  ok "create repo for pushed objects"
else
  not_ok "create repo for pushed objects" "HTTP $code: $(cat "$work/objects-create.json")"
fi
check "clone objects repo" git clone -q "$write_base/alice/objects" objects
objects_head=$(git -C objects rev-parse HEAD)
objects_tree=$(git -C objects rev-parse "HEAD^{tree}")

# Commits that libgit2 cannot parse would make every API route of the branch fail, so git's
# fsck rejects them, and its message names the commit and the problem.
no_email=$(printf 'tree %s\nparent %s\nauthor NoEmail 1200000000 +0000\ncommitter NoEmail 1200000000 +0000\n\nx\n' \
  "$objects_tree" "$objects_head" | git -C objects hash-object -t commit -w --literally --stdin)
if git -C objects push origin "$no_email:refs/heads/main" >"$work/no-email.log" 2>&1; then
  not_ok "commit without author e-mail rejected" "push succeeded"
else
  ok "commit without author e-mail rejected"
fi
check_output "no e-mail rejection names the commit and the problem" \
  "^remote: error: object $no_email: missingEmail" "$work/no-email.log"
bad_date=$(printf 'tree %s\nparent %s\nauthor Bad <bad> notadate\ncommitter Bad <bad> notadate\n\nx\n' \
  "$objects_tree" "$objects_head" | git -C objects hash-object -t commit -w --literally --stdin)
if git -C objects push origin "$bad_date:refs/heads/main" >"$work/bad-date.log" 2>&1; then
  not_ok "commit with invalid date rejected" "push succeeded"
else
  ok "commit with invalid date rejected"
fi
check_output "invalid date rejection names the commit and the problem" \
  "^remote: error: object $bad_date: badDate" "$work/bad-date.log"
code=$(curl -s -o "$work/objects-tree.json" -w '%{http_code}' "$base/api/models/alice/objects/tree/main")
if [ "$code" = "200" ]; then
  ok "branch stays readable after rejected commits"
else
  not_ok "branch stays readable after rejected commits" "HTTP $code: $(cat "$work/objects-tree.json")"
fi

# A repo may hold such a commit from before the check: the API names it and the fix, and a
# forced push of a valid commit repairs the branch. The commit goes in on disk, as an older
# daemon would have stored it.
objects_dir=$data/repos/models/alice/objects.git
git -C objects cat-file commit "$no_email" |
  git --git-dir="$objects_dir" hash-object -t commit -w --literally --stdin >/dev/null &&
  git --git-dir="$objects_dir" update-ref refs/heads/broken "$no_email"
code=$(curl -s -o "$work/broken-tree.json" -w '%{http_code}' "$base/api/models/alice/objects/tree/broken")
if [ "$code" = "500" ]; then
  ok "branch with a malformed commit gets 500"
else
  not_ok "branch with a malformed commit gets 500" "HTTP $code: $(cat "$work/broken-tree.json")"
fi
check_output "malformed commit error names the commit" \
  "refs/heads/broken points to commit $no_email, which is malformed" "$work/broken-tree.json"
check_output "malformed commit error names the fix" "git push --force URL COMMIT:refs/heads/broken" \
  "$work/broken-tree.json"
check "forced push of a valid commit repairs the branch" \
  git -C objects push -q --force origin "$objects_head:refs/heads/broken"
check "repaired branch is readable" curl -sf -o /dev/null "$base/api/models/alice/objects/tree/broken"

# Objects that a plain `git fsck` only warns about, as old real histories contain, are
# accepted, and the hub reads them: a tree with a zero-padded file mode (0100644) and a
# commit message with a NUL byte.
padded_blob=$(echo "padded" | git -C objects hash-object -w --stdin)
padded_tree=$({
  printf '0100644 padded.txt\0'
  echo "$padded_blob" | xxd -r -p
} | git -C objects hash-object -t tree -w --literally --stdin)
padded_commit=$(printf 'tree %s\nparent %s\nauthor A <a@b> 1200000000 +0000\ncommitter A <a@b> 1200000000 +0000\n\nZero-padded mode\n' \
  "$padded_tree" "$objects_head" | git -C objects hash-object -t commit -w --literally --stdin)
check "push of a zero-padded file mode accepted" \
  git -C objects push origin "$padded_commit:refs/heads/zero-padded"
cp "$work/check.out" "$work/padded-push.log"
check_output "zero-padded file mode push prints fsck's warning" \
  "^remote: warning: object $padded_tree: zeroPaddedFilemode" "$work/padded-push.log"
curl -s -o "$work/padded-tree.json" "$base/api/models/alice/objects/tree/zero-padded"
check_output "tree API lists the zero-padded file" '"path":"padded.txt"' "$work/padded-tree.json"
curl -s -o "$work/padded-raw.txt" "$base/alice/objects/raw/zero-padded/padded.txt"
check "raw file of a zero-padded mode matches" test "$(cat "$work/padded-raw.txt")" = "padded"
code=$(curl -s -o "$work/padded-page.html" -w '%{http_code}' "$base/alice/objects/tree/zero-padded")
if [ "$code" = "200" ]; then
  ok "tree page of a zero-padded mode"
else
  not_ok "tree page of a zero-padded mode" "HTTP $code"
fi
check_output "tree page lists the zero-padded file" 'padded\.txt' "$work/padded-page.html"
nul_commit=$(printf 'tree %s\nparent %s\nauthor A <a@b> 1200000000 +0000\ncommitter A <a@b> 1200000000 +0000\n\nBefore NUL\0after\n' \
  "$objects_tree" "$objects_head" | git -C objects hash-object -t commit -w --literally --stdin)
check "push of a commit message with a NUL byte accepted" \
  git -C objects push -q origin "$nul_commit:refs/heads/nul-message"
curl -s -o "$work/nul-commits.json" "$base/api/models/alice/objects/commits/nul-message"
check_output "commits API reads a message with a NUL byte" '"title":"Before NUL"' \
  "$work/nul-commits.json"

# A regular file above the commit API's file size limit (64 MiB) is rejected with its path
# and the git-lfs command that moves it out of git. Zeros keep the pack small.
head -c 70000000 /dev/zero >"objects/large data.txt"
(cd objects && git add "large data.txt" && git commit -q -m "Add a large regular file")
if git -C objects push origin main >"$work/large-file.log" 2>&1; then
  not_ok "push of a large regular file rejected" "push succeeded"
else
  ok "push of a large regular file rejected"
fi
check_output "large file rejection names the ref, path, size and limit" \
  '^remote: rejected refs/heads/main: file "large data\.txt" \(blob [0-9a-f]{12}\) has 70000000 bytes, more than the 67108864 bytes' \
  "$work/large-file.log"
check_output "large file rejection names the git-lfs fix" \
  "git lfs migrate import --include='large data\\.txt'" "$work/large-file.log"
(cd objects && git lfs migrate import --include="large data.txt" >/dev/null 2>&1)
check "push after git lfs migrate import accepted" git -C objects push -q origin main
check_output "large file rejection names git lfs checkout" 'git lfs checkout. restores the file' \
  "$work/large-file.log"
(cd objects && git lfs checkout "large data.txt" >/dev/null 2>&1)
check "git lfs checkout restores the migrated file" \
  test "$(stat -c %s "objects/large data.txt")" -eq 70000000
curl -s -o "$work/large-raw.txt" "$base/alice/objects/raw/main/large%20data.txt"
check_output "migrated file is an LFS pointer on the hub" "^version https://git-lfs" \
  "$work/large-raw.txt"

# /resolve of a regular file streams it from git, ranges included.
head -c 3000000 /dev/urandom >"objects/medium.txt"
(cd objects && git add medium.txt && git commit -q -m "Add a medium regular file")
check "push of a medium regular file" git -C objects push -q origin main
check "resolve of a medium regular file" curl -sf -o "$work/medium.out" \
  "$base/alice/objects/resolve/main/medium.txt"
check "resolved medium file matches" cmp "$work/medium.out" objects/medium.txt
curl -sf -r 1000000-1000099 -o "$work/medium-range.out" \
  "$base/alice/objects/resolve/main/medium.txt"
tail -c +1000001 objects/medium.txt | head -c 100 >"$work/medium-range.expected"
check "range of a medium regular file matches" cmp "$work/medium-range.out" \
  "$work/medium-range.expected"

# Push options are accepted and ignored.
(cd objects && echo "options" >options.txt && git add options.txt && git commit -q -m "Add options")
check "push with a push option" git -C objects push -q -o ci.skip origin main

# A push from a shallow clone gets a message about the missing history, not an internal one.
check "shallow clone of stories" git clone -q --depth 1 "$base/alice/stories" shallow-push
(cd shallow-push && echo "more" >>README.md && git commit -q -am "Edit in a shallow clone")
git -C shallow-push push "$write_base/alice/objects" HEAD:refs/heads/from-shallow \
  >"$work/shallow-push.log" 2>&1
check_output "shallow push says how to fix it" "git fetch --unshallow" "$work/shallow-push.log"
if grep -q "atelier hook:" "$work/shallow-push.log"; then
  not_ok "shallow push prints no internal error" "$(cat "$work/shallow-push.log")"
else
  ok "shallow push prints no internal error"
fi

# Protocol v0 serves objects by id, as v2 does: partial clones and fetches of a commit that
# no ref points to.
check "partial clone with protocol v0" git -c protocol.version=0 clone -q --filter=blob:none \
  "$base/alice/stories" partial-v0
check "partial clone with protocol v0 checks out the files" test -s partial-v0/config.json
git init -q fetch-by-id
check "fetch of a commit by id with protocol v0" git -C fetch-by-id -c protocol.version=0 \
  fetch -q "$base/alice/objects" "$objects_head"

# Hints fit the push: a plain delete of the default branch does not mention --mirror, and a
# rejected ref outside the accepted namespaces is not called a pull request ref.
git -C objects push origin --delete main >"$work/delete-main.log" 2>&1
check_output "plain delete of main rejected" "the default branch 'main' cannot be deleted" \
  "$work/delete-main.log"
if grep -q -- "--mirror" "$work/delete-main.log"; then
  not_ok "plain delete of main has no --mirror remark" "$(cat "$work/delete-main.log")"
else
  ok "plain delete of main has no --mirror remark"
fi
(cd objects && echo "notes" >notes-base.txt && git add notes-base.txt && git commit -q -m "Notes base" &&
  git notes add -m "a note" HEAD)
git -C objects push origin main refs/notes/commits >"$work/notes-push.log" 2>&1
check_output "notes push names the accepted namespaces" \
  "only branches \(refs/heads/\), tags \(refs/tags/\) and pull request refs" "$work/notes-push.log"
if grep -q "pull request refs, push only" "$work/notes-push.log"; then
  not_ok "notes push hint does not mention pull request refs" "$(cat "$work/notes-push.log")"
else
  ok "notes push hint does not mention pull request refs"
fi
check_output "notes push hint shows the branches and tags command" \
  "^remote: hint: .*to push only the branches and tags" "$work/notes-push.log"

# Many tags in one push: the hook checks each distinct tree once, and still finds a bad path
# in the one tag that differs.
(
  cd objects && git checkout -q -b many-tags &&
    for i in $(seq 1 40); do git tag "v0.$i" HEAD; done &&
    printf 'x' >'back\slash.txt' && git add 'back\slash.txt' && git commit -q -m "Bad path" &&
    git tag v0.bad HEAD && git checkout -q main
)
if git -C objects push origin 'refs/tags/v0.*' >"$work/many-tags.log" 2>&1; then
  not_ok "tags with one bad path rejected" "push succeeded"
else
  ok "tags with one bad path rejected"
fi
check_output "tag rejection names the bad path" \
  'rejected refs/tags/v0\.bad: file "back\\\\slash\.txt" has a path the hub cannot serve' \
  "$work/many-tags.log"
git -C objects tag -d v0.bad >/dev/null
check "many tags of one commit accepted" git -C objects push -q origin 'refs/tags/v0.*'
tag_count=$(git ls-remote "$base/alice/objects" 'refs/tags/v0.*' | wc -l)
if [ "$tag_count" = "40" ]; then
  ok "all pushed tags listed"
else
  not_ok "all pushed tags listed" "tags: $tag_count"
fi

# ---- Commit text and paths that are not UTF-8 ----------------------------------------------

# Imported histories have commits with an encoding header (converted as `git log` does) and
# raw Latin-1 bytes without one (shown with U+FFFD). Both must stay in every listing.
curl -s -o /dev/null -X POST -H "Authorization: Bearer $WRITE_TOKEN" \
  -H "Content-Type: application/json" -d '{"name":"encodings","type":"model"}' \
  "$base/api/repos/create"
check "clone encodings repo" git clone -q "$write_base/alice/encodings" encodings
enc_api=$base/api/models/alice/encodings
enc_main=$(git -C encodings rev-parse main)
enc_tree=$(git -C encodings rev-parse 'main^{tree}')
# raw_commit PARENT HEADER MESSAGE: writes a commit whose author is "Ren\xe9" in Latin-1
# bytes, with HEADER ("" for none) after the committer, and prints its id.
raw_commit() {
  printf 'tree %s\nparent %s\nauthor Ren\351 <r@x.test> 1700000000 +0100\ncommitter Ren\351 <r@x.test> 1700000000 +0100\n%s\n%s\n' \
    "$enc_tree" "$1" "$2" "$3" | git -C encodings hash-object -t commit -w --stdin --literally
}
latin1=$(raw_commit "$enc_main" "encoding ISO-8859-1
" "$(printf 'Caf\351\n\nLe g\342teau.')")
raw=$(raw_commit "$enc_main" "" "$(printf 'Caf\351 raw')")
check "push commit with an ISO-8859-1 header" git -C encodings push -q origin "$latin1:refs/heads/latin1"
check "push commit with raw Latin-1 bytes" git -C encodings push -q origin "$raw:refs/heads/raw"

curl -s -D "$work/enc-latin1.head" "$enc_api/commits/latin1" >"$work/enc-latin1.json"
check_output "commits list counts both commits" "^X-Total-Count: 2" "$work/enc-latin1.head"
check_output "commits list has the Latin-1 commit" "\"id\":\"$latin1\"" "$work/enc-latin1.json"
check_output "commits list has the parent" "\"id\":\"$enc_main\"" "$work/enc-latin1.json"
check_output "Latin-1 title converted to UTF-8" '"title":"Café"' "$work/enc-latin1.json"
check_output "Latin-1 message converted to UTF-8" '"message":"Café\\n\\nLe gâteau.' \
  "$work/enc-latin1.json"
check_output "Latin-1 author converted to UTF-8" '"user":"René"' "$work/enc-latin1.json"

curl -s "$enc_api/commits/raw" >"$work/enc-raw.json"
check_output "commits list has the raw commit" "\"id\":\"$raw\"" "$work/enc-raw.json"
check_output "raw bytes shown as U+FFFD in the title" '"title":"Caf� raw"' "$work/enc-raw.json"
check_output "raw bytes shown as U+FFFD in the author" '"user":"Ren�"' "$work/enc-raw.json"

curl -s "$base/alice/encodings/commit/$latin1" >"$work/enc-commit.html"
check_output "commit page shows the converted title" "Café" "$work/enc-commit.html"
check_output "commit page shows the converted author" "René" "$work/enc-commit.html"
curl -s "$base/alice/encodings/commits/raw" >"$work/enc-history.html"
check_output "history page shows U+FFFD for raw bytes" "Caf� raw" "$work/enc-history.html"

enc_pr=$(curl -s -X POST -H "Authorization: Bearer $WRITE_TOKEN" -H "Content-Type: application/json" \
  -d '{"title": "Latin-1 commit", "pullRequest": true}' "$enc_api/discussions" |
  sed -n 's/.*"num" *: *\([0-9]*\).*/\1/p')
check "push Latin-1 commit to the pull request" \
  git -C encodings push -q origin "$latin1:refs/pr/${enc_pr:-0}"
curl -s "$enc_api/discussions/${enc_pr:-0}" >"$work/enc-pr.json"
check_output "pull request events list the Latin-1 commit" \
  "\"type\":\"commit\",[^{]*\{\"name\":\"René\"\},\"data\":\{\"subject\":\"Café\",\"oid\":\"$latin1\"" \
  "$work/enc-pr.json"

# A pushed file whose path is not valid UTF-8 is rejected, with the bytes escaped.
(
  cd encodings && git checkout -q main && printf 'x\n' >"$(printf 'caf\351.txt')" &&
    git add . && git commit -q -m "Add a Latin-1 file name"
)
if git -C encodings push origin main >"$work/enc-path.log" 2>&1; then
  not_ok "push of a path that is not UTF-8 rejected" "push succeeded"
else
  ok "push of a path that is not UTF-8 rejected"
fi
check_output "path rejection names the path and the rule" \
  '^remote: rejected refs/heads/main: file "caf\\xe9.txt" has a path the hub cannot serve: is not valid UTF-8' \
  "$work/enc-path.log"

# Branch names must be UTF-8 too, so the refs listing can show them.
if git -C encodings push origin "$enc_main:refs/heads/$(printf 'caf\351')" >"$work/enc-branch.log" 2>&1; then
  not_ok "push of a branch name that is not UTF-8 rejected" "push succeeded"
else
  ok "push of a branch name that is not UTF-8 rejected"
fi
check_output "branch name rejection names the rule" "a branch name must be UTF-8" \
  "$work/enc-branch.log"

# A tree stored before that check (written here straight into the bare repo) still lists
# such a file, with U+FFFD, in the tree, the model info and the files page.
enc_bare=$data/repos/models/alice/encodings.git
enc_blob=$(printf 'old\n' | git -C "$enc_bare" hash-object -w --stdin)
enc_old_tree=$( (git -C "$enc_bare" ls-tree main && printf '100644 blob %s\tcaf\351.txt\n' "$enc_blob") |
  git -C "$enc_bare" mktree)
enc_old=$(git -C "$enc_bare" commit-tree "$enc_old_tree" -p main -m "Old Latin-1 file name")
git -C "$enc_bare" update-ref refs/heads/legacy "$enc_old"
git -C "$enc_bare" update-ref "refs/heads/old-$(printf '\351')" "$enc_old"
curl -s "$enc_api/refs" >"$work/enc-refs.json"
check_output "refs list an old branch name with U+FFFD" '"name":"old-�","ref":"refs/heads/old-�"' \
  "$work/enc-refs.json"
check_output "refs still list main" '"name":"main"' "$work/enc-refs.json"
curl -s "$enc_api/tree/legacy" >"$work/enc-tree.json"
check_output "tree lists the old file with U+FFFD" '"path":"caf�.txt"' "$work/enc-tree.json"
check_output "tree still lists .gitattributes" '"path":".gitattributes"' "$work/enc-tree.json"
curl -s "$enc_api/revision/legacy" >"$work/enc-info.json"
check_output "model info siblings list the old file" '"rfilename":"caf�.txt"' "$work/enc-info.json"
curl -s "$base/alice/encodings/tree/legacy" >"$work/enc-files.html"
check_output "files page lists the old file with U+FFFD" "caf�.txt" "$work/enc-files.html"
check_output "files page links the old file by its bytes" 'href="/alice/encodings/blob/legacy/caf%E9.txt"' \
  "$work/enc-files.html"
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/alice/encodings/blob/legacy/caf%E9.txt")
if [ "$code" = "200" ]; then
  ok "file page of the old file opens"
else
  not_ok "file page of the old file opens" "HTTP $code"
fi
code=$(curl -s -o "$work/enc-resolve.json" -w '%{http_code}' \
  "$base/alice/encodings/resolve/legacy/caf%E9.txt")
if [ "$code" = "400" ]; then
  ok "resolve of a path that is not UTF-8 gets 400"
else
  not_ok "resolve of a path that is not UTF-8 gets 400" "HTTP $code: $(cat "$work/enc-resolve.json")"
fi
code=$(curl -s -o "$work/enc-paths-info.json" -w '%{http_code}' \
  -H "Content-Type: application/x-www-form-urlencoded" --data 'paths=caf%E9.txt' \
  "$enc_api/paths-info/legacy")
if [ "$code" = "400" ]; then
  ok "paths-info of a path that is not UTF-8 gets 400"
else
  not_ok "paths-info of a path that is not UTF-8 gets 400" "HTTP $code: $(cat "$work/enc-paths-info.json")"
fi
check_output "paths-info error names the rule" "invalid path 'caf�.txt': is not valid UTF-8" \
  "$work/enc-paths-info.json"

# ---- Protocol details ----------------------------------------------------------------------

code=$(curl -s -o /dev/null -w '%{http_code}' "$base/alice/stories/info/refs")
if [ "$code" = "403" ]; then
  ok "dumb protocol request rejected"
else
  not_ok "dumb protocol request rejected" "HTTP $code"
fi
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/alice/nothing/info/refs?service=git-upload-pack")
if [ "$code" = "401" ]; then
  ok "anonymous fetch of missing repo gets 401"
else
  not_ok "anonymous fetch of missing repo gets 401" "HTTP $code"
fi
curl -s -o "$work/bad-cursor.json" -H "Accept: application/vnd.git-lfs+json" \
  "$base/alice/adapters.git/info/lfs/locks?cursor=zzz"
check_output "bad lock cursor names the cursor" "invalid cursor 'zzz'" "$work/bad-cursor.json"
curl -s -o "$work/bad-limit.json" -H "Accept: application/vnd.git-lfs+json" \
  "$base/alice/adapters.git/info/lfs/locks?limit=0"
check_output "bad lock limit names the limit" "invalid limit '0': use a number from 1 to 1000" \
  "$work/bad-limit.json"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Accept: application/vnd.git-lfs+json" \
  -H "Content-Type: application/vnd.git-lfs+json" -d '{}' \
  "$base/alice/adapters.git/info/lfs/locks/verify")
if [ "$code" = "401" ]; then
  ok "anonymous locks verify gets 401"
else
  not_ok "anonymous locks verify gets 401" "HTTP $code"
fi

# Errors of the git routes are text/plain for git; git-lfs and API routes keep JSON.
content_type() {
  curl -s -o /dev/null -w '%{content_type}' "$@"
}
reply_type=$(content_type -u "user:$BOB_TOKEN" "$base/alice/secret/info/refs?service=git-upload-pack")
if [ "${reply_type%%;*}" = "text/plain" ]; then
  ok "git route error is text/plain"
else
  not_ok "git route error is text/plain" "Content-Type: $reply_type"
fi
www_auth=$(curl -s -o /dev/null -D - "$base/alice/secret/info/refs?service=git-upload-pack" |
  grep -ci '^WWW-Authenticate: Basic')
if [ "$www_auth" = "1" ]; then
  ok "git route 401 keeps WWW-Authenticate"
else
  not_ok "git route 401 keeps WWW-Authenticate" "WWW-Authenticate lines: $www_auth"
fi
reply_type=$(content_type -X POST -H "Content-Type: application/x-git-upload-pack-request" \
  --data-binary '0000' -u "user:$BOB_TOKEN" "$base/alice/secret/git-upload-pack")
if [ "${reply_type%%;*}" = "text/plain" ]; then
  ok "git RPC route error is text/plain"
else
  not_ok "git RPC route error is text/plain" "Content-Type: $reply_type"
fi
reply_type=$(content_type -X POST -H "Accept: application/vnd.git-lfs+json" \
  -H "Content-Type: application/vnd.git-lfs+json" -d '{}' \
  "$base/alice/adapters.git/info/lfs/locks/verify")
if [ "$reply_type" = "application/json" ]; then
  ok "git-lfs locks error stays JSON"
else
  not_ok "git-lfs locks error stays JSON" "Content-Type: $reply_type"
fi
reply_type=$(content_type -X PUT -H "Authorization: Bearer $READ_TOKEN" "$api/release")
if [ "$reply_type" = "application/json" ]; then
  ok "protected branch API error stays JSON"
else
  not_ok "protected branch API error stays JSON" "Content-Type: $reply_type"
fi

# ---- Regular files above a lowered file size limit -----------------------------------------

# A file stored under the default limit stays valid after the daemon restarts with a lower
# one: copies, renames and new branches of its blob are accepted, new large files are not.
code=$(curl -s -o "$work/sizes-create.json" -w '%{http_code}' -X POST \
  -H "Authorization: Bearer $WRITE_TOKEN" -H "Content-Type: application/json" \
  -d '{"name":"sizes","type":"model"}' "$base/api/repos/create")
if [ "$code" = "200" ]; then
  ok "create repo for file sizes"
else
  not_ok "create repo for file sizes" "HTTP $code: $(cat "$work/sizes-create.json")"
fi
check "clone sizes repo" git clone -q "$write_base/alice/sizes" sizes
head -c 1500000 /dev/urandom >sizes/stored.txt
(cd sizes && git add stored.txt && git commit -q -m "Add a 1.5 MB regular file")
check "push of a 1.5 MB file under the default limit" git -C sizes push -q origin main

kill "$daemon_pid" 2>/dev/null
wait "$daemon_pid" 2>/dev/null
"$atelier" serve --data "$data" --listen 127.0.0.1:0 --threads 4 \
  --max-commit-file-bytes 1048576 2>"$work/serve-small.log" &
daemon_pid=$!
port=
for _ in $(seq 1 100); do
  port=$(sed -n 's/.*listening host=[^ ]* port=\([0-9]*\).*/\1/p' "$work/serve-small.log" |
    head -n 1)
  [ -n "$port" ] && break
  kill -0 "$daemon_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$port" ]; then
  not_ok "daemon restarts with a 1 MiB file limit" "$(tail -n 20 "$work/serve-small.log")"
  finish
fi
ok "daemon restarts with a 1 MiB file limit"
base=http://127.0.0.1:$port
write_base=$(auth_base "$WRITE_TOKEN")
git -C sizes remote set-url origin "$write_base/alice/sizes"

(cd sizes && git mv stored.txt renamed.txt && git commit -q -m "Rename the stored file")
check "rename of a stored blob accepted" git -C sizes push -q origin main
check "new branch at a stored commit accepted" git -C sizes push -q origin main:refs/heads/same
(cd sizes && git rm -q renamed.txt && git commit -q -m "Remove the stored file")
check "removal of a stored file accepted" git -C sizes push -q origin main
# The blob is in no tree of the new branch's parent, so only the object store has it.
(cd sizes && git checkout -q -b copy && git show HEAD~1:renamed.txt >copy.txt &&
  git add copy.txt && git commit -q -m "Restore a copy of the stored file")
check "copy of a stored blob on a new branch accepted" git -C sizes push -q origin copy
git -C sizes checkout -q main

# Names that a shell or git-lfs would read as syntax: the printed command works when pasted.
for name in 'a,b.txt' 'cost$HOME.txt' 'x[1].txt' "it's (1).txt"; do
  head -c 1500000 /dev/urandom >"sizes/$name"
  (cd sizes && git add -- "$name" && git commit -q -m "Add $name")
  if git -C sizes push origin main >"$work/name-large.log" 2>&1; then
    not_ok "large file $name rejected" "push succeeded"
    continue
  fi
  ok "large file $name rejected"
  quoted=$(printf '%s' "$name" | sed 's/[][$.*^()]/\\&/g')
  check_output "rejection of $name names the ref and file" \
    "^remote: rejected refs/heads/main: file \"$quoted\" \\(blob [0-9a-f]{12}\\) has 1500000 bytes, more than the 1048576 bytes" \
    "$work/name-large.log"
  fix=$(sed -n 's/^remote: hint: .*`\(git lfs migrate import [^`]*\)`.*/\1/p' "$work/name-large.log")
  check "printed migrate command for $name runs" sh -c "cd sizes && $fix"
  check "push after the printed migrate command for $name" git -C sizes push -q origin main
  curl -s -o "$work/name-raw.txt" "$base/alice/sizes/raw/main/$(printf '%s' "$name" |
    jq -sRr @uri)"
  check_output "$name is an LFS pointer on the hub" "^version https://git-lfs" "$work/name-raw.txt"
done

# Several large files, one of them added and removed again in the same push: one line per
# file, the removed one with its commit, and one migrate command for all of them.
(
  cd sizes &&
    head -c 1500000 /dev/urandom >gone.txt && git add gone.txt && git commit -q -m "Add gone.txt" &&
    git rm -q gone.txt && git commit -q -m "Remove gone.txt" &&
    head -c 1500000 /dev/urandom >one.txt && head -c 1600000 /dev/urandom >two.txt &&
    git add one.txt two.txt && git commit -q -m "Add two large files"
)
gone_commit=$(git -C sizes rev-parse --short=12 HEAD~2)
if git -C sizes push origin main >"$work/several-large.log" 2>&1; then
  not_ok "several large files rejected" "push succeeded"
else
  ok "several large files rejected"
fi
check_output "removed large file names the commit that adds it" \
  "^remote: rejected refs/heads/main: file \"gone\\.txt\" \\(blob [0-9a-f]{12}, added in commit $gone_commit and removed before the new head\\) has 1500000 bytes" \
  "$work/several-large.log"
check_output "rejection names one.txt" '^remote: rejected refs/heads/main: file "one\.txt"' \
  "$work/several-large.log"
check_output "rejection names two.txt" \
  '^remote: rejected refs/heads/main: file "two\.txt" \(blob [0-9a-f]{12}\) has 1600000 bytes' \
  "$work/several-large.log"
hint_count=$(grep -c '^remote: hint: .*git lfs migrate import' "$work/several-large.log")
if [ "$hint_count" = "1" ]; then
  ok "several large files get one migrate command"
else
  not_ok "several large files get one migrate command" "commands: $hint_count"
fi
fix=$(sed -n 's/^remote: hint: .*`\(git lfs migrate import [^`]*\)`.*/\1/p' "$work/several-large.log")
check_output "migrate command covers every file" \
  "--include='(gone|one|two)\.txt,(gone|one|two)\.txt,(gone|one|two)\.txt'" "$work/several-large.log"
check "printed migrate command for several files runs" sh -c "cd sizes && $fix"
check "push after migrating several files" git -C sizes push -q origin main

finish
