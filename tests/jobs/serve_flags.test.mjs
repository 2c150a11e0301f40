// The flags of `atelier serve` and its start-up errors: a bad value stops the daemon before it
// starts, with one line that names the flag and its range, and exit status 2. A data
// directory the daemon cannot write stops it with one line that names the user to fix.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDaemon } from "../hub/daemon.mjs";

const bin = process.env.ATELIER_BIN;

function serve(args, env = {}) {
  const dir = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), "atelier-flags-"));
  try {
    return spawnSync(bin, ["serve", "--data", dir, "--listen", "127.0.0.1:0", ...args],
      { encoding: "utf8", timeout: 20000, env: { ...process.env, ...env } });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const badValues = [
  [["--max-queued-jobs-per-user", "-1"], /invalid --max-queued-jobs-per-user '-1': expected a whole number from 0 to 100000/],
  [["--max-running-jobs-per-user", "many"], /invalid --max-running-jobs-per-user 'many': expected a whole number from 0 to 1024/],
  [["--job-attempts", "0"], /invalid --job-attempts '0': expected a whole number from 1 to 100/],
  [["--job-heartbeat-timeout", "2"], /invalid --job-heartbeat-timeout '2': expected a whole number from 6 to 86400/],
  [["--job-cancel-grace", "5s"], /invalid --job-cancel-grace '5s': expected a whole number from 1 to 600/],
];

for (const [args, message] of badValues) {
  test(`serve rejects ${args.join(" ")}`, () => {
    const r = serve(args);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  });
}

test("serve rejects a bad ATELIER_JOBS_MAX_ATTEMPTS", () => {
  const r = serve([], { ATELIER_JOBS_MAX_ATTEMPTS: "lots" });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /invalid ATELIER_JOBS_MAX_ATTEMPTS 'lots'.*--job-attempts/);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
});

test("serve --help lists the job flags", () => {
  const r = spawnSync(bin, ["serve", "--help"], { encoding: "utf8" });
  assert.equal(r.status, 0);
  for (const flag of ["--max-queued-jobs-per-user", "--max-running-jobs-per-user",
    "--job-attempts", "--job-heartbeat-timeout", "--job-cancel-grace"]) {
    assert.match(r.stdout, new RegExp(flag));
  }
});

// Each option ends the command line, where a known flag would be missing its value.
for (const option of ["--bogus", "--help-me", "--data-dir"]) {
  test(`serve rejects unknown ${option} at the end`, () => {
    const r = serve([option]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`unknown option '${option}'`));
    assert.doesNotMatch(r.stderr, /needs a value/);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  });
}

test("serve reports a known flag without its value", () => {
  const r = serve(["--public-url"]);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /option --public-url needs a value/);
});

for (const url of ["http://", "https://", "http:///hub", "https://:8443", "http://?x=1"]) {
  test(`serve rejects --public-url ${url}`, () => {
    const r = serve(["--public-url", url]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /invalid --public-url '.*': the URL has no host/);
    assert.ok(r.stderr.includes(`'${url}'`), r.stderr);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  });
}

test("serve logs a data directory it creates", async () => {
  const parent = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), "atelier-new-"));
  const dir = join(parent, "fresh");
  const daemon = await startDaemon({ dataDir: dir, extraArgs: ["--log-level", "warn"] });
  try {
    assert.match(daemon.log(), new RegExp(`created the data directory ${dir}\n`));
  } finally {
    assert.equal(await daemon.stop(), 0);
    rmSync(parent, { recursive: true, force: true });
  }
});

for (const level of ["warn", "error"]) {
  test(`log level ${level} keeps the listening and stop lines`, async () => {
    // startDaemon reads the port from the listening line, so it fails without that line.
    const daemon = await startDaemon({ extraArgs: ["--log-level", level] });
    try {
      assert.ok(daemon.port > 0);
      assert.match(daemon.log(), /listening host=127\.0\.0\.1 port=\d+ /);
      assert.doesNotMatch(daemon.log(), /service started/, "other info lines stay hidden");
    } finally {
      assert.equal(await daemon.stop(), 0);
    }
    assert.match(daemon.log(), /stopping signal=SIGTERM/);
    assert.match(daemon.log(), /serve: stopped/);
  });
}

// Runs serve as a user other than root where the test runs as root, since root may write
// anywhere. Returns null when that is not possible here.
function serveAsUnprivileged(args) {
  if (process.getuid() !== 0) {
    return spawnSync(bin, ["serve", ...args], { encoding: "utf8", timeout: 20000 });
  }
  const probe = spawnSync("setpriv", ["--version"], { encoding: "utf8" });
  if (probe.status !== 0) return null;
  return spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", bin, "serve",
    ...args], { encoding: "utf8", timeout: 20000 });
}

test("unwritable data dir names the user", (t) => {
  const parent = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), "atelier-readonly-"));
  chmodSync(parent, 0o555);
  try {
    const r = serveAsUnprivileged(["--data", join(parent, "data"), "--listen", "127.0.0.1:0"]);
    if (r === null) return t.skip("running as root without setpriv to drop privileges");
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`cannot create data directory ${join(parent, "data")}: ` +
      "permission denied; give user \\S+ \\(who runs atelier\\) write access to " + parent));
    assert.equal(r.stderr.trim().split("\n").length, 1, `one line, not a log line too:\n${r.stderr}`);
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});
