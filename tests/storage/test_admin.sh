#!/bin/bash
# Tests for `atelier admin` through the built binary. They cover users with the password on
# stdin, disabled users, tokens printed alone on stdout, organisations, migrate --status, repo
# import with LFS files, fsck, gc and backup, and migrations beside a running daemon. They
# also cover a missing data directory, reserved names, and the exit status 2 with one line for
# usage errors. Output is TAP.
set -u
unset ATELIER_DATA

BIN=${ATELIER_BIN:?ATELIER_BIN is not set}
MIGRATIONS_DIR="$(dirname "$0")/../../migrations"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/atelier-admin-XXXXXX")
serve_pid=
trap 'if [ -n "$serve_pid" ]; then kill "$serve_pid"; wait "$serve_pid"; fi
      chmod -R u+w "$WORK"; rm -rf "$WORK"' EXIT
DATA="$WORK/data"
NEWEST_MIGRATION=$(ls "$MIGRATIONS_DIR" | grep '\.sql$' | sort | tail -n 1)
NEWEST_MIGRATION=${NEWEST_MIGRATION%.sql}
n=0
failed=0

check() { # check NAME COMMAND...: runs the command, ok when it exits 0
    n=$((n + 1))
    if "${@:2}"; then
        echo "ok $n - $1"
    else
        echo "not ok $n - $1"
        failed=$((failed + 1))
    fi
}

admin() {
    "$BIN" admin --data "$DATA" "$@"
}

# Starts `atelier serve` on $DATA in the background and waits for its listening line.
serve_start() {
    "$BIN" serve --data "$DATA" --listen 127.0.0.1:0 >"$WORK/serve.log" 2>&1 &
    serve_pid=$!
    for _ in $(seq 300); do
        grep -q "listening host=" "$WORK/serve.log" && return 0
        kill -0 "$serve_pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

serve_stop() {
    kill -TERM "$serve_pid"
    wait "$serve_pid"
    serve_pid=
}

# version: the newest migration tells which data directories the binary can serve
"$BIN" --version >"$WORK/out" 2>&1
check "--version exits 0" test $? -eq 0
check "--version names the newest migration" \
    grep -qE "^atelier [0-9.]+ \((commit [0-9a-f]{12}(-dirty)?, )?newest migration $NEWEST_MIGRATION\)$" "$WORK/out"
if git -C "$MIGRATIONS_DIR" rev-parse --git-dir >/dev/null 2>&1; then
    check "--version of a git build names the commit" grep -q "(commit [0-9a-f]\{12\}" "$WORK/out"
fi

# a missing data directory: only the commands that set a hub up create it
"$BIN" admin --data "$WORK/typo" user list >/dev/null 2>"$WORK/err"
check "user list on a missing data dir exits 2" test $? -eq 2
check "missing data dir error is one line" test "$(wc -l <"$WORK/err")" -eq 1
check "missing data dir error names the path" grep -q "'$WORK/typo' does not exist" "$WORK/err"
check "missing data dir error names the fix" grep -q "admin --data $WORK/typo migrate" "$WORK/err"
"$BIN" admin --data "$WORK/typo" fsck >/dev/null 2>"$WORK/err"
check "fsck on a missing data dir exits 2" test $? -eq 2
check "failed commands create no data dir" test ! -e "$WORK/typo"

# users
echo 'first password' | admin user add alice --admin >"$WORK/out" 2>"$WORK/err"
check "user add exits 0" test $? -eq 0
check "user add names the user" grep -q "added user alice" "$WORK/out"
check "user add says it created the data dir" grep -qx "atelier admin: created the data directory $DATA" "$WORK/err"
check "user add logs the first migration" grep -q "info meta: applied migration 0001_core$" "$WORK/err"
check "user add logs one line per migration" \
    test "$(grep -c "applied migration" "$WORK/err")" -eq "$(ls "$MIGRATIONS_DIR" | grep -c '\.sql$')"
# On a terminal the password is asked for with a prompt and not echoed.
python3 - "$BIN" "$DATA" >"$WORK/pty" 2>&1 <<'PY'
import os, pty, select, subprocess, sys, time
main, sub = pty.openpty()
p = subprocess.Popen([sys.argv[1], "admin", "--data", sys.argv[2], "user", "add", "tty-user"],
                     stdin=sub, stdout=sub, stderr=sub, close_fds=True)
os.close(sub)
out = b""
deadline = time.time() + 60


def read_some():
    # Waits at most until the deadline, so a stuck child fails the checks instead of hanging.
    global out
    ready, _, _ = select.select([main], [], [], max(0.0, deadline - time.time()))
    if not ready:
        return False
    try:
        chunk = os.read(main, 4096)
    except OSError:
        return False
    out += chunk
    return bool(chunk)


while b"password for tty-user: " not in out and read_some():
    pass
os.write(main, b"secret-on-screen\n")
while read_some():
    pass
if p.poll() is None:
    p.kill()
p.wait()
print(out.decode(errors="replace"))
PY
check "user add prompts on a terminal" grep -q "password for tty-user: " "$WORK/pty"
check "user add on a terminal does not echo the password" bash -c "! grep -q secret-on-screen '$WORK/pty'"
check "user add on a terminal adds the user" grep -q "added user tty-user" "$WORK/pty"
echo 'other password' | admin user add erin >/dev/null 2>"$WORK/err"
check "user add on an existing data dir says nothing" test ! -s "$WORK/err"
admin user add bob </dev/null >"$WORK/out" 2>"$WORK/err"
check "user add without a password exits 2" test $? -eq 2
check "missing password error is one line" test "$(wc -l <"$WORK/err")" -eq 1
check "missing password error names stdin" grep -q "stdin" "$WORK/err"
echo 'short' | admin user add bob >/dev/null 2>"$WORK/err"
check "short password exits 1" test $? -eq 1
check "short password error names the user" grep -q "password for user 'bob' is too short" "$WORK/err"
check "short password error names the minimum" grep -q "at least 8 bytes" "$WORK/err"
echo 'long enough' | admin user add 'bad..name' >/dev/null 2>"$WORK/err"
check "invalid user name exits 1" test $? -eq 1
check "invalid name error names the value" grep -q "bad..name" "$WORK/err"
echo 'short' | admin user add 'bad..name' >/dev/null 2>"$WORK/err"
check "invalid name is reported before a short password" grep -q "bad..name" "$WORK/err"
echo 'short' | admin user add ALICE >/dev/null 2>"$WORK/err"
check "duplicate name exits 1" test $? -eq 1
check "duplicate name is reported before a short password" grep -q "user 'alice' already exists" "$WORK/err"
echo 'second password' | admin user add bob >/dev/null 2>&1
admin user list >"$WORK/out" 2>&1
check "user list shows both users" test "$(grep -cE '^[0-9]+ +(alice|bob) ' "$WORK/out")" -eq 2
check "user list shows the state" grep -qE "^[0-9]+ +bob +no +enabled " "$WORK/out"

# disabled users
admin user disable bob >"$WORK/out" 2>&1
check "user disable exits 0" test $? -eq 0
check "user disable names the user" grep -q "disabled bob" "$WORK/out"
admin user list >"$WORK/out" 2>&1
check "user list shows a disabled user" grep -qE "^[0-9]+ +bob +no +disabled " "$WORK/out"
admin user disable bob >"$WORK/out" 2>&1
check "disabling twice exits 0" test $? -eq 0
check "disabling twice changes nothing" grep -q "bob is already disabled; nothing changed" "$WORK/out"
admin user enable bob >"$WORK/out" 2>&1
check "user enable exits 0" test $? -eq 0
admin user list >"$WORK/out" 2>&1
check "user list shows bob enabled again" grep -qE "^[0-9]+ +bob +no +enabled " "$WORK/out"
admin user disable alice >/dev/null 2>"$WORK/err"
check "disabling the last enabled admin exits 1" test $? -eq 1
check "last admin error names the user" grep -q "alice is the last enabled admin" "$WORK/err"
check "last admin error names both fixes" grep -q "(\`user admin NAME on\`) or enable a disabled admin (\`user enable NAME\`)" "$WORK/err"
admin user disable nobody >/dev/null 2>"$WORK/err"
check "disabling a missing user exits 1" test $? -eq 1
check "missing user error names user list" grep -q "user 'nobody' not found; \`user list\` shows the users" "$WORK/err"
admin user remove bob >/dev/null 2>"$WORK/err"
check "user remove exits 2" test $? -eq 2
check "user remove points to disable" grep -q "user disable NAME" "$WORK/err"
echo 'bob password 2' | admin user password bob >"$WORK/out" 2>&1
check "user password reports logged out sessions" grep -q "password of bob changed; 0 browser session(s) logged out" "$WORK/out"
echo 'short' | admin user password bob >/dev/null 2>"$WORK/err"
check "user password with a short password exits 1" test $? -eq 1
check "user password short error names the user" grep -q "password for user 'bob' is too short" "$WORK/err"

# names the hub's URLs use
echo 'long enough' | admin user add new >/dev/null 2>"$WORK/err"
check "user add of a reserved name exits 1" test $? -eq 1
check "reserved user name error names it" grep -q "namespace 'new' is reserved for the hub's URLs" "$WORK/err"
echo 'long enough' | admin user add API >/dev/null 2>"$WORK/err"
check "user add of a reserved name in capitals exits 1" test $? -eq 1
check "reserved name in capitals error names it" grep -q "namespace 'API' is reserved for the hub's URLs" "$WORK/err"
admin org add Metrics >/dev/null 2>"$WORK/err"
check "org add of a reserved name in mixed case exits 1" test $? -eq 1
admin org add api >/dev/null 2>"$WORK/err"
check "org add of a reserved name exits 1" test $? -eq 1
check "reserved org name error names it" grep -q "namespace 'api' is reserved for the hub's URLs" "$WORK/err"
admin user list >"$WORK/out" 2>&1
check "reserved user was not added" bash -c "! grep -qE '^[0-9]+ +new ' '$WORK/out'"

# tokens
token=$(admin token create alice --write --label laptop 2>"$WORK/err")
check "token create exits 0" test $? -eq 0
check "token create prints only the token" bash -c "[[ '$token' =~ ^hf_[A-Za-z0-9]{34}\$ ]]"
check "token create says it is shown once" grep -q "shown only once" "$WORK/err"
admin token list alice >"$WORK/out" 2>&1
check "token list shows the label" grep -q "laptop" "$WORK/out"
check "token list never shows the secret" bash -c "! grep -q '$token' '$WORK/out'"
admin token revoke 1 >/dev/null 2>&1
check "token revoke exits 0" test $? -eq 0
admin token revoke 1 >"$WORK/out" 2>&1
check "revoking twice exits 0" test $? -eq 0
check "revoking twice says it was revoked already" grep -q "token 1 was already revoked at" "$WORK/out"
# stderr a pipe with no reader: the token on stdout must still be written before the stderr
# line ends the process with SIGPIPE.
python3 -c 'import os, subprocess, sys
r, w = os.pipe()
os.close(r)
with open(sys.argv[1], "w") as out:
    subprocess.run(sys.argv[2:], stdout=out, stderr=w)' "$WORK/piped" \
  "$BIN" admin --data "$DATA" token create alice --label piped
check "token create with closed stderr writes the token" grep -qE "^hf_[A-Za-z0-9]{34}$" "$WORK/piped"
admin token list alice >"$WORK/out" 2>&1
check "token written under a closed stderr is not revoked" grep -qE " - +piped$" "$WORK/out"
admin token create ALICE >/dev/null 2>"$WORK/err"
check "token create names the stored user name" grep -q "for alice;" "$WORK/err"
admin token create alice --label "$(printf 'two\nlines')" >"$WORK/out" 2>"$WORK/err"
check "token label with a newline exits 1" test $? -eq 1
check "token label error names the character" grep -q "control character 0x0a" "$WORK/err"
check "rejected token prints no token" test ! -s "$WORK/out"
admin token revoke 99 >/dev/null 2>"$WORK/err"
check "revoking a missing token exits 1" test $? -eq 1
check "missing token error names token list" grep -q "token id 99 not found; \`token list USER\` shows" "$WORK/err"
admin user disable erin >/dev/null 2>&1
admin token create erin >/dev/null 2>"$WORK/err"
check "token create for a disabled user exits 0" test $? -eq 0
check "token create warns about a disabled user" grep -q "user erin is disabled, so the token works only after \`user enable erin\`" "$WORK/err"
admin user enable erin >/dev/null 2>&1
admin token create erin >/dev/null 2>"$WORK/err"
check "token create for an enabled user does not warn" bash -c "! grep -q warning '$WORK/err'"
admin token revoke abc >/dev/null 2>"$WORK/err"
check "token revoke with a bad id exits 2" test $? -eq 2
admin token create nobody >/dev/null 2>&1
check "token for a missing user exits 1" test $? -eq 1

# organisations
admin org add class >/dev/null 2>&1
check "org add exits 0" test $? -eq 0
admin org member add class bob --role read >/dev/null 2>&1
check "org member add exits 0" test $? -eq 0
admin org member add class bob --role owner >/dev/null 2>"$WORK/err"
check "invalid role exits 2" test $? -eq 2
check "invalid role error names the value" grep -q "owner" "$WORK/err"
admin org member list class >"$WORK/out" 2>&1
check "org member list shows the role" grep -qE "^bob +read" "$WORK/out"
admin org member add class bob --role write >"$WORK/out" 2>&1
check "org member add of a member says the role changed" grep -q "changed the role of bob in class from read to write" "$WORK/out"
admin org member add class bob --role write >"$WORK/out" 2>&1
check "org member add with the same role changes nothing" grep -q "nothing changed" "$WORK/out"
admin org member remove class alice >/dev/null 2>"$WORK/err"
check "removing a non-member exits 1" test $? -eq 1
check "non-member error names both" grep -q "alice is not a member of class" "$WORK/err"
admin org member list nope >/dev/null 2>"$WORK/err"
check "missing organisation exits 1" test $? -eq 1
check "missing organisation error names org list" grep -q "organisation 'nope' not found; \`org list\` shows" "$WORK/err"
admin org remove class >/dev/null 2>"$WORK/err"
check "unknown org command exits 2" test $? -eq 2
check "unknown org command is quoted" grep -q "unknown org command 'remove'" "$WORK/err"

# migrations
admin migrate --status >"$WORK/out" 2>&1
check "migrate --status exits 0" test $? -eq 0
check "migrate --status lists 0001 as applied" grep -qE "^0001_core +applied" "$WORK/out"
admin migrate >"$WORK/out" 2>&1
check "migrate again applies nothing" grep -q "applied 0 migration" "$WORK/out"
"$BIN" admin --data "$WORK/fresh" migrate --status >"$WORK/out" 2>&1
check "migrate --status on a new folder lists pending" grep -qE "^0001_core +pending" "$WORK/out"
check "migrate --status creates no database" test ! -e "$WORK/fresh/atelier.sqlite3"
"$BIN" admin --data "$WORK/fresh" migrate >/dev/null 2>"$WORK/err"
check "migrate creates a missing data dir" test -f "$WORK/fresh/atelier.sqlite3"
check "migrate says it created the data dir" grep -q "created the data directory $WORK/fresh" "$WORK/err"

# migrations beside a running daemon: a daemon rejects a database that has migrations it does
# not know, so admin applies none while a daemon holds serve.lock. Undoing migration 0014 and
# its schema_version row under the daemon gives the database of an older daemon.
undo_0014="ALTER TABLE pull_requests DROP COLUMN target_before_merge;
  DELETE FROM schema_version WHERE version = 14"
schema_0014_count() { # prints how many schema_version rows 0014 has, and whether its column exists
    sqlite3 "$DATA/atelier.sqlite3" "SELECT count(*) FROM schema_version WHERE version = 14"
    sqlite3 "$DATA/atelier.sqlite3" "SELECT count(*) FROM pragma_table_info('pull_requests')
      WHERE name = 'target_before_merge'"
}
serve_start
check "serve starts on the data dir" test $? -eq 0
check "serve start line names the newest migration" grep -q " migration=$NEWEST_MIGRATION$" "$WORK/serve.log"
admin user list >"$WORK/out" 2>"$WORK/err"
check "user list beside a daemon on the same schema exits 0" test $? -eq 0
check "user list beside a daemon lists users" grep -qE "^[0-9]+ +alice " "$WORK/out"
sqlite3 "$DATA/atelier.sqlite3" "$undo_0014"
admin user list >"$WORK/out" 2>"$WORK/err"
check "user list beside a daemon with a pending migration exits 1" test $? -eq 1
check "pending migration error is one line" test "$(wc -l <"$WORK/err")" -eq 1
check "pending migration error names the daemon pid" grep -q "atelier serve (pid $serve_pid) is running on it" "$WORK/err"
check "pending migration error names the migration" grep -q "(0014_pr_target_before_merge first)" "$WORK/err"
check "pending migration error names the fix" \
    grep -q "Stop the hub, then run \`atelier admin --data $DATA migrate\`, or start the new atelier serve" "$WORK/err"
check "refused user list changes no schema" test "$(schema_0014_count | tr '\n' ' ')" = "0 0 "
admin migrate >"$WORK/out" 2>"$WORK/err"
check "migrate beside a daemon with a pending migration exits 1" test $? -eq 1
check "refused migrate names the daemon pid" grep -q "(pid $serve_pid)" "$WORK/err"
check "refused migrate changes no schema" test "$(schema_0014_count | tr '\n' ' ')" = "0 0 "
admin migrate --status >"$WORK/out" 2>&1
check "migrate --status beside a daemon exits 0" test $? -eq 0
check "migrate --status beside a daemon lists 0014 pending" grep -qE "^0014_pr_target_before_merge +pending" "$WORK/out"
serve_stop
admin migrate >"$WORK/out" 2>&1
check "migrate after the daemon stopped exits 0" test $? -eq 0
check "migrate after the daemon stopped applies 0014" grep -q "applied 1 migration" "$WORK/out"
check "migrate restores 0014" test "$(schema_0014_count | tr '\n' ' ')" = "1 1 "

# repo import: small files in git, .bin and large files as LFS
SRC="$WORK/src"
mkdir -p "$SRC/sub"
echo '{"model_type": "llama"}' >"$SRC/config.json"
head -c 4096 /dev/urandom >"$SRC/sub/weights.bin"
head -c $((10 * 1024 * 1024 + 1)) /dev/zero | tr '\0' 'a' >"$SRC/big.txt"
ln -s /etc/hostname "$SRC/outside-link"
admin repo import alice/tiny "$SRC" --message "Import tiny" >"$WORK/out" 2>"$WORK/err"
check "repo import exits 0" test $? -eq 0
check "repo import counts 2 LFS files" grep -q "(2 LFS files" "$WORK/out"
check "repo import skips symbolic links" grep -q "skipping symbolic link" "$WORK/err"
check "repo import counts 3 files" grep -q "imported 3 files" "$WORK/out"
GIT_DIR="$DATA/repos/models/alice/tiny.git"
if command -v git >/dev/null; then
    git --git-dir="$GIT_DIR" show main:sub/weights.bin >"$WORK/pointer"
    check "LFS file is a pointer in git" grep -q "^oid sha256:" "$WORK/pointer"
    oid=$(sha256sum "$SRC/sub/weights.bin" | cut -c1-64)
    check "blob is stored under its SHA-256" test -f "$DATA/lfs/objects/${oid:0:2}/${oid:2:2}/$oid"
    check "small file is in git" bash -c "git --git-dir='$GIT_DIR' show main:config.json | grep -q llama"
    check "commit message is kept" bash -c "git --git-dir='$GIT_DIR' log -1 --format=%s main | grep -qx 'Import tiny'"
fi
admin repo import alice/tiny "$SRC" >/dev/null 2>"$WORK/err"
check "second import of the same id exits 1" test $? -eq 1
admin repo import ghost/x "$SRC" >/dev/null 2>"$WORK/err"
check "import into a missing namespace exits 1" test $? -eq 1
check "missing namespace error says how to fix it" grep -q "user add ghost" "$WORK/err"
check "failed import leaves no repo" test ! -e "$DATA/repos/models/ghost/x.git"
admin repo import alice/y "$WORK/nope" >/dev/null 2>"$WORK/err"
check "import of a missing folder exits 2" test $? -eq 2
admin repo import "$SRC" alice/z >/dev/null 2>"$WORK/err"
check "import with the folder first exits 2" test $? -eq 2
check "folder-first error names the order" grep -q "is a folder, not a repo id: the repo id comes first" "$WORK/err"
admin repo import new/x "$SRC" >/dev/null 2>"$WORK/err"
check "import into a reserved namespace exits 1" test $? -eq 1
check "reserved namespace error names it" grep -q "namespace 'new' is reserved for the hub's URLs" "$WORK/err"

# repo list and delete, admin rights, member removal
admin repo list >"$WORK/out" 2>&1
check "repo list shows the import" grep -qE "^alice/tiny +model +no " "$WORK/out"
admin repo import alice/gone "$SRC" --type dataset --private >/dev/null 2>&1
admin repo list --type dataset >"$WORK/out" 2>&1
check "repo list --type dataset shows private repos" grep -qE "^alice/gone +dataset +yes " "$WORK/out"
check "repo list --type dataset leaves out models" bash -c "! grep -q '^alice/tiny ' '$WORK/out'"
admin repo list >"$WORK/out" 2>&1
check "repo list without --type shows datasets" grep -qE "^alice/gone +dataset +yes " "$WORK/out"
check "repo list without --type shows models" grep -qE "^alice/tiny +model +no " "$WORK/out"
admin repo delete alice/gone >/dev/null 2>"$WORK/err"
check "repo delete of a dataset without --type exits 1" test $? -eq 1
check "repo delete hints --type dataset" grep -q "add --type dataset" "$WORK/err"
# A queued job that trains on the dataset keeps it until the job is canceled.
sqlite3 "$DATA/atelier.sqlite3" "INSERT INTO jobs (type, owner_id, owner, state, spec, repo,
  dataset_repo, created_at) VALUES ('train', 1, 'alice', 'queued', '{}', 'alice/out',
  'alice/gone', 0)"
job_id=$(sqlite3 "$DATA/atelier.sqlite3" "SELECT max(id) FROM jobs")
admin repo delete alice/gone --type dataset >/dev/null 2>"$WORK/err"
check "repo delete used by a queued job exits 1" test $? -eq 1
check "repo delete names the job and the fix" \
    grep -q "cannot delete dataset alice/gone while queued job $job_id uses it: cancel job $job_id first" "$WORK/err"
check "repo delete used by a job keeps the repo" test -e "$DATA/repos/datasets/alice/gone.git"
sqlite3 "$DATA/atelier.sqlite3" "UPDATE jobs SET state = 'canceled' WHERE id = $job_id"
admin repo delete alice/gone --type dataset >"$WORK/out" 2>&1
check "repo delete exits 0" test $? -eq 0
check "repo delete removes the folder" test ! -e "$DATA/repos/datasets/alice/gone.git"
admin repo delete alice/gone --type dataset >/dev/null 2>&1
check "repo delete of a missing repo exits 1" test $? -eq 1
admin user admin alice off >/dev/null 2>"$WORK/err"
check "removing the last admin exits 1" test $? -eq 1
admin user admin bob maybe >/dev/null 2>"$WORK/err"
check "user admin with a bad value exits 2" test $? -eq 2
check "user admin bad value error names it" grep -q "'maybe'" "$WORK/err"
admin user admin alice on >"$WORK/out" 2>&1
check "user admin on for an admin changes nothing" grep -q "alice is already an admin; nothing changed" "$WORK/out"
admin user admin bob on >/dev/null 2>&1
check "user admin on exits 0" test $? -eq 0
admin user admin alice off >/dev/null 2>&1
check "user admin off exits 0 with another admin" test $? -eq 0
admin org member remove class bob >/dev/null 2>&1
check "org member remove exits 0" test $? -eq 0
admin org member list class >"$WORK/out" 2>&1
check "removed member is gone" bash -c "! grep -q '^bob' '$WORK/out'"

# fsck and gc
admin fsck >"$WORK/out" 2>&1
check "fsck of a good store exits 0" test $? -eq 0
stray="$WORK/stray"
echo "not referenced" >"$stray"
soid=$(sha256sum "$stray" | cut -c1-64)
mkdir -p "$DATA/lfs/objects/${soid:0:2}/${soid:2:2}"
cp "$stray" "$DATA/lfs/objects/${soid:0:2}/${soid:2:2}/$soid"
admin gc --grace-hours 0 --dry-run >"$WORK/out" 2>&1
check "gc --dry-run names the stray blob" grep -q "would delete $soid" "$WORK/out"
check "gc --dry-run keeps it" test -f "$DATA/lfs/objects/${soid:0:2}/${soid:2:2}/$soid"
admin gc >"$WORK/out" 2>&1
check "gc keeps a young blob" test -f "$DATA/lfs/objects/${soid:0:2}/${soid:2:2}/$soid"
admin gc --grace-hours 0 >"$WORK/out" 2>&1
check "gc deletes the unreferenced blob" test ! -e "$DATA/lfs/objects/${soid:0:2}/${soid:2:2}/$soid"
check "gc keeps referenced blobs" test -f "$DATA/lfs/objects/${oid:0:2}/${oid:2:2}/$oid"
# backup: a data directory of its own that passes fsck
mkdir -p "$DATA/jobs/7/work"
echo "step 1 loss 2.5" >"$DATA/jobs/7/log"
echo "scratch" >"$DATA/jobs/7/work/tmp.bin"
admin backup "$WORK/backup" >"$WORK/out" 2>&1
check "backup exits 0" test $? -eq 0
check "backup counts the job log" grep -q "and 1 job logs to" "$WORK/out"
check "backup copies the job log" grep -qx "step 1 loss 2.5" "$WORK/backup/jobs/7/log"
check "backup leaves out job work folders" test ! -e "$WORK/backup/jobs/7/work"
check "backup leaves no partial folder" bash -c "! compgen -G '$WORK/backup.partial-*'"
"$BIN" admin --data "$WORK/backup" fsck >"$WORK/out" 2>&1
check "fsck of the backup exits 0" test $? -eq 0
"$BIN" admin --data "$WORK/backup" repo list >"$WORK/out" 2>&1
check "backup lists the imported repo" grep -qE "^alice/tiny " "$WORK/out"
check "backup holds the blob" test -f "$WORK/backup/lfs/objects/${oid:0:2}/${oid:2:2}/$oid"
admin backup "$WORK/backup" >/dev/null 2>&1
check "backup into an existing folder exits 2" test $? -eq 2
admin backup "$DATA/inner" >/dev/null 2>"$WORK/err"
check "backup inside the data dir exits 2" test $? -eq 2
check "backup inside error is one line" test "$(wc -l <"$WORK/err")" -eq 1
check "backup inside error names both" grep -q "'$DATA/inner' is inside the data directory '$DATA'" "$WORK/err"
check "backup inside creates nothing" test ! -e "$DATA/inner"
admin backup "$WORK/no-such-dir/x" >/dev/null 2>"$WORK/err"
check "backup under a missing folder exits 2" test $? -eq 2
check "backup names the missing parent" grep -q "parent folder of backup folder '$WORK/no-such-dir/x' does not exist" "$WORK/err"
rm -rf "$WORK/backup"
# A file size limit (ulimit -f) simulates a full disk: the job log is copied last and does not fit.
head -c $((2 * 1024 * 1024)) /dev/zero >"$DATA/jobs/7/log"
(trap '' XFSZ; ulimit -f 1024; admin backup "$WORK/backup") >"$WORK/out" 2>"$WORK/err"
check "backup that runs out of space exits 1" test $? -eq 1
check "failed backup says it removed the copy" grep -q "backup to $WORK/backup failed and was removed" "$WORK/err"
check "failed backup leaves no DEST" test ! -e "$WORK/backup"
check "failed backup leaves no partial folder" bash -c "! compgen -G '$WORK/backup.partial-*'"
admin backup "$WORK/backup" >/dev/null 2>&1
check "backup after a failed one exits 0" test $? -eq 0
rm -rf "$WORK/backup" "$DATA/jobs/7"

chmod u+w "$DATA/lfs/objects/${oid:0:2}/${oid:2:2}/$oid"
echo "corrupted" >"$DATA/lfs/objects/${oid:0:2}/${oid:2:2}/$oid"
admin fsck >"$WORK/out" 2>&1
check "fsck of a corrupted blob exits 1" test $? -eq 1
check "fsck names the corrupted blob" grep -q "blob $oid" "$WORK/out"
check "fsck names the file using the corrupted blob" \
    grep -q "repo alice/tiny: sub/weights.bin points to LFS object $oid, whose content is corrupt" "$WORK/out"
check "fsck names the fix for a corrupted blob" \
    grep -q "copy lfs/objects/${oid:0:2}/${oid:2:2}/$oid from a backup" "$WORK/out"
rm -f "$DATA/lfs/objects/${oid:0:2}/${oid:2:2}/$oid"
cp "$SRC/sub/weights.bin" "$DATA/lfs/objects/${oid:0:2}/${oid:2:2}/$oid"

# malformed git objects in their own repo: a commit without an author e-mail, as an older
# daemon accepted before it checked pushes with receive.fsckObjects, and a tree with
# zero-padded file modes, which git fsck only warns about
if command -v git >/dev/null; then
    mkdir "$WORK/src-small"
    echo '{"model_type": "llama"}' >"$WORK/src-small/config.json"
    admin repo import alice/malformed "$WORK/src-small" >/dev/null 2>&1
    MGIT="$DATA/repos/models/alice/malformed.git"
    mgit() { git --git-dir="$MGIT" "$@"; }
    good=$(mgit rev-parse main)
    printf 'tree %s\nparent %s\nauthor Old Pusher 1700000000 +0000\ncommitter Old Pusher <old@example.com> 1700000000 +0000\n\nNo e-mail\n' \
        "$(mgit rev-parse 'main^{tree}')" "$good" >"$WORK/bad-commit"
    bad=$(mgit hash-object -t commit --literally -w "$WORK/bad-commit")
    mgit update-ref refs/heads/main "$bad"
    admin fsck >"$WORK/out" 2>&1
    check "fsck of a malformed commit on a branch exits 1" test $? -eq 1
    check "fsck calls the commit malformed" \
        grep -q "repo alice/malformed: git commit $bad is malformed (git fsck: missingEmail: " "$WORK/out"
    check "fsck names the branch that reaches it" grep -q "and refs/heads/main reaches it;" "$WORK/out"
    check "fsck names the force push fix" \
        grep -q "\`git push --force URL COMMIT:refs/heads/main\`, or delete the branch" "$WORK/out"
    check "fsck does not call a malformed commit missing" bash -c "! grep -q 'is missing' '$WORK/out'"
    check "fsck suggests no backup for a malformed commit" bash -c "! grep -q 'from a backup' '$WORK/out'"
    mgit update-ref refs/heads/dev "$bad"
    admin fsck >"$WORK/out" 2>&1
    check "fsck names every ref that reaches it" \
        grep -q "and refs/heads/dev, refs/heads/main reach it; push a valid commit to each with" "$WORK/out"
    mgit update-ref -d refs/heads/dev
    # what a force push of a valid commit leaves behind: the malformed commit, reached by no ref
    mgit update-ref refs/heads/main "$good"
    admin fsck >"$WORK/out" 2>&1
    check "fsck of an unreachable malformed commit exits 0" test $? -eq 0
    check "fsck warns about the unreachable commit" \
        grep -q "warning: git commit $bad is malformed (git fsck: missingEmail: .*), but no ref reaches it, so it is unreachable and harmless to the hub" "$WORK/out"
    check "fsck names repo prune for it" \
        grep -q "\`atelier admin --data $DATA repo prune alice/malformed\` deletes it" "$WORK/out"
    zblob=$(echo padded | mgit hash-object -w --stdin)
    zblob_raw() { printf "$(echo "$zblob" | sed 's/../\\x&/g')"; } # the 20 bytes a tree entry holds
    ztree=$( (printf '0100644 padded.txt\0'; zblob_raw) |
        mgit hash-object -t tree --literally -w --stdin)
    zcommit=$(printf 'tree %s\nauthor A <a@example.com> 1700000000 +0000\ncommitter A <a@example.com> 1700000000 +0000\n\nPadded modes\n' "$ztree" |
        mgit hash-object -t commit -w --stdin)
    mgit update-ref refs/heads/padded "$zcommit"
    admin fsck >"$WORK/out" 2>&1
    check "fsck with only a git fsck warning exits 0" test $? -eq 0
    check "fsck prints the git fsck warning" \
        grep -q "repo alice/malformed: warning: git tree $ztree has odd metadata that git still reads (git fsck: zeroPaddedFilemode: " "$WORK/out"
    # a malformed tree: the refs that reach it are found by listing each ref's objects
    dtree=$( (printf '100644 twice.txt\0'; zblob_raw; printf '100644 twice.txt\0'; zblob_raw) |
        mgit hash-object -t tree --literally -w --stdin)
    dcommit=$(printf 'tree %s\nauthor A <a@example.com> 1700000000 +0000\ncommitter A <a@example.com> 1700000000 +0000\n\nTwice\n' "$dtree" |
        mgit hash-object -t commit -w --stdin)
    mgit update-ref refs/heads/twice "$dcommit"
    admin fsck >"$WORK/out" 2>&1
    check "fsck of a malformed tree on a branch exits 1" test $? -eq 1
    check "fsck names the branch that reaches the tree" \
        grep -q "git tree $dtree is malformed (git fsck: duplicateEntries: .*) and refs/heads/twice reaches it" "$WORK/out"
    mgit update-ref -d refs/heads/twice
    mgit update-ref -d refs/heads/padded
    admin repo prune alice/malformed >"$WORK/out" 2>&1
    check "repo prune exits 0" test $? -eq 0
    check "repo prune counts the objects" \
        grep -qE "^pruned model alice/malformed: [0-9]+ git objects before, [0-9]+ after; " "$WORK/out"
    check "repo prune names what it costs" grep -q "commits of deleted branches can no longer be fetched by id" "$WORK/out"
    check "repo prune deletes the unreachable commit" bash -c "! git --git-dir='$MGIT' cat-file -e $bad 2>/dev/null"
    check "repo prune deletes the deleted branch's tree" bash -c "! git --git-dir='$MGIT' cat-file -e $ztree 2>/dev/null"
    check "repo prune keeps the branch head" mgit cat-file -e "$good"
    admin fsck >"$WORK/out" 2>&1
    check "fsck after repo prune exits 0" test $? -eq 0
    check "fsck after repo prune has no warning" bash -c "! grep -q warning '$WORK/out'"
    admin repo prune alice/nothing-here >/dev/null 2>"$WORK/err"
    check "repo prune of a missing repo exits 1" test $? -eq 1
    admin repo prune >/dev/null 2>"$WORK/err"
    check "repo prune without an id exits 2" test $? -eq 2
    check "repo prune usage names the command" grep -q "usage: repo prune NS/NAME" "$WORK/err"
    admin repo import alice/prunable "$SRC" --type dataset >/dev/null 2>&1
    admin repo prune alice/prunable >/dev/null 2>"$WORK/err"
    check "repo prune of a dataset without --type exits 1" test $? -eq 1
    check "repo prune hints --type dataset" grep -q "add --type dataset to prune it" "$WORK/err"
    admin repo prune alice/prunable --type dataset >/dev/null 2>&1
    check "repo prune of a dataset with --type exits 0" test $? -eq 0
    admin repo delete alice/prunable --type dataset >/dev/null 2>&1
    admin repo delete alice/malformed >/dev/null 2>&1
fi

# a corrupted loose git object
if command -v git >/dev/null; then
    admin fsck >"$WORK/out" 2>&1
    check "fsck after restoring the blob exits 0" test $? -eq 0
    check "fsck summary counts git objects" grep -q "1 repos (0 bad git objects)" "$WORK/out"
    goid=$(git --git-dir="$GIT_DIR" rev-parse main:config.json)
    gfile="$GIT_DIR/objects/${goid:0:2}/${goid:2}"
    chmod u+w "$gfile"
    echo "garbage" >"$gfile"
    admin fsck >"$WORK/out" 2>&1
    check "fsck of a corrupted git object exits 1" test $? -eq 1
    check "fsck names the corrupted git object" grep -q "repo alice/tiny: git object $goid is corrupt" "$WORK/out"
    check "fsck names the fix for a git object" grep -q "restore the folder $GIT_DIR from a backup" "$WORK/out"
    check "fsck summary counts the bad git object" grep -q "1 repos (1 bad git objects)" "$WORK/out"
fi

# another user's data directory: root is warned, a user who cannot write gets the path
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
    OTHER="$WORK/other"
    echo 'some password' | "$BIN" admin --data "$OTHER" user add owner >/dev/null 2>&1
    chmod 755 "$WORK"
    chmod -R a+rX "$OTHER"
    as_nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
    if "${as_nobody[@]}" test -r "$OTHER/atelier.sqlite3"; then
        "${as_nobody[@]}" "$BIN" admin --data "$OTHER" user list >/dev/null 2>"$WORK/err"
        check "read-only database exits 1" test $? -eq 1
        check "read-only database names the file" \
            grep -q "cannot write $OTHER/atelier.sqlite3: Permission denied; run atelier admin as the user who owns" "$WORK/err"
    else
        echo "# skipped the read-only database check: nobody cannot reach $OTHER"
    fi
    chown -R nobody "$OTHER"
    "$BIN" admin --data "$OTHER" user list >/dev/null 2>"$WORK/err"
    check "root on a service user's data dir is warned" \
        grep -q "warning: $OTHER belongs to user nobody, not to the user running this command" "$WORK/err"
    chown -R root "$OTHER"
else
    echo "# skipped the data directory owner checks: needs root, setpriv and user nobody"
fi

# usage errors
admin >/dev/null 2>"$WORK/err"
check "missing command exits 2" test $? -eq 2
admin frobnicate >/dev/null 2>"$WORK/err"
check "unknown command exits 2" test $? -eq 2
check "unknown command error names it" grep -q "frobnicate" "$WORK/err"
"$BIN" admin user list >/dev/null 2>"$WORK/err" </dev/null
check "missing --data exits 2" test $? -eq 2
admin gc --grace-hours -1 >/dev/null 2>"$WORK/err"
check "negative grace period exits 2" test $? -eq 2

echo "1..$n"
echo "# $((n - failed)) passed, $failed failed"
test "$failed" -eq 0
