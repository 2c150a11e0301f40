// The daemon's life cycle: flag errors, one daemon per data directory and a port in use.
// SIGTERM in the middle of a download must finish the download, refuse new connections and
// exit 0. SIGHUP stops the daemon the same way.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { Agent, request } from "node:http";
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, ftruncateSync, readFileSync,
  rmSync, utimesSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { admin, addUser, prepareDataDir, createToken, startDaemon, waitForLog } from "./daemon.mjs";

test("bad serve flags exit 2 and name the flag", () => {
  const dir = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), "atelier-flags-"));
  const cases = [
    [["--listen", "bogus"], /invalid --listen 'bogus'/],
    [["--max-upload-bytes", "10X"], /invalid --max-upload-bytes '10X'/],
    [["--threads", "0"], /invalid --threads '0'/],
    [["--log-level", "loud"], /invalid --log-level 'loud'/],
    [["--no-such-flag", "1"], /unknown option '--no-such-flag'/],
  ];
  for (const [args, message] of cases) {
    const r = spawnSync(process.env.ATELIER_BIN, ["serve", "--data", dir, ...args],
      { encoding: "utf8", timeout: 20000 });
    assert.equal(r.status, 2, args.join(" "));
    assert.match(r.stderr, message);
  }
  const missing = spawnSync(process.env.ATELIER_BIN, ["serve"], { encoding: "utf8" });
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /missing --data DIR/);
  const help = spawnSync(process.env.ATELIER_BIN, ["serve", "--help"], { encoding: "utf8" });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--max-commit-body-bytes/);
  rmSync(dir, { recursive: true, force: true });
});

test("second daemon on one data dir fails", async () => {
  const dataDir = prepareDataDir();
  const daemon = await startDaemon({ dataDir });
  const backup = join(mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), "atelier-backup-")), "copy");
  try {
    assert.equal(readFileSync(join(dataDir, "serve.lock"), "utf8").trim(), String(daemon.pid));
    const second = spawnSync(process.env.ATELIER_BIN, ["serve", "--data", dataDir, "--listen",
      "127.0.0.1:0"], { encoding: "utf8", timeout: 20000 });
    assert.equal(second.status, 1, second.stderr);
    const lines = second.stderr.trim().split("\n");
    assert.equal(lines.length, 1, `one line:\n${second.stderr}`);
    assert.ok(lines[0].includes(`data directory ${dataDir} is in use by another atelier serve`),
      lines[0]);
    assert.ok(lines[0].includes(`(pid ${daemon.pid})`), lines[0]);
    assert.match(lines[0], /stop that daemon first, or give this one another --data/);

    // Admin commands share the data directory with the running daemon.
    addUser(dataDir, "carol");
    assert.match(admin(dataDir, ["user", "list"]), /carol/);
    assert.match(admin(dataDir, ["backup", backup]), /backed up the database/);
    assert.ok(!existsSync(join(backup, "serve.lock")), "the backup has no lock file");
  } finally {
    assert.equal(await daemon.stop({ keepData: true }), 0);
  }
  try {
    // The lock goes with the daemon, although the file and its old pid stay.
    const next = await startDaemon({ dataDir });
    assert.equal(await next.stop({ keepData: true }), 0);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(join(backup, ".."), { recursive: true, force: true });
  }
});

test("port in use fails before job recovery", async () => {
  const daemon = await startDaemon();
  const dataDir = prepareDataDir();
  try {
    // A job an earlier daemon left running, with no worker: start-up recovery would queue it
    // again at once.
    const db = join(dataDir, "atelier.sqlite3");
    const sql = `INSERT INTO jobs (type, owner_id, owner, state, spec, repo, created_at, started_at,
      attempts, max_attempts) SELECT 'train', id, 'alice', 'running', '{}', 'alice/out', 0, 0, 1, 3
      FROM users WHERE name = 'alice';`;
    const inserted = spawnSync("sqlite3", [db], { input: sql, encoding: "utf8" });
    assert.equal(inserted.status, 0, inserted.stderr);

    const second = spawnSync(process.env.ATELIER_BIN, ["serve", "--data", dataDir, "--listen",
      `127.0.0.1:${daemon.port}`], { encoding: "utf8", timeout: 20000 });
    assert.equal(second.status, 1, second.stderr);
    assert.match(second.stderr, /cannot listen on 127\.0\.0\.1 port \d+: the address is already in use/);
    const state = spawnSync("sqlite3", [db, "SELECT state, attempts FROM jobs"], { encoding: "utf8" });
    assert.equal(state.stdout.trim(), "running|1", "the job was left as it was");
    assert.doesNotMatch(second.stderr, /scheduler started/);
    assert.equal(second.stderr.trim().split("\n").length, 1, `one line:\n${second.stderr}`);
  } finally {
    assert.equal(await daemon.stop(), 0);
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("SIGHUP stops the daemon cleanly", async () => {
  const daemon = await startDaemon();
  const health = await fetch(`${daemon.url}/healthz`);
  assert.equal(health.status, 200);
  await health.arrayBuffer();
  assert.equal(await daemon.stop({ signal: "SIGHUP" }), 0);
  assert.match(daemon.log(), /info serve: stopping signal=SIGHUP/);
  assert.match(daemon.log(), /info jobs: scheduler stopped/);
  assert.match(daemon.log(), /info serve: stopped/);
});

test("serve logs each migration it applies", async () => {
  // A fresh data directory: serve creates the database and applies every migration before it
  // listens, so the lines are in the log once startDaemon returns.
  const daemon = await startDaemon();
  const log = daemon.log();
  assert.equal(await daemon.stop(), 0);
  assert.match(log, /info meta: applied migration 0001_core\n/);
  assert.match(log, /info meta: applied migration 0012_job_attempt_start\n/);
});

test("JSON body limit names its flag", async () => {
  const dataDir = prepareDataDir();
  const token = createToken(dataDir, "alice", { write: true, label: "body-limit" });
  const daemon = await startDaemon({ dataDir, extraArgs: ["--max-json-body-bytes", "1024"] });
  const headers = { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };
  const body = JSON.stringify({ name: "big", organization: "alice", pad: "x".repeat(2000) });
  try {
    const announced = await fetch(`${daemon.url}/api/repos/create`, { method: "POST", headers,
      body });
    assert.equal(announced.status, 413);
    const error = (await announced.json()).error;
    assert.match(error, new RegExp(`request body of ${body.length} bytes is over the limit of 1024 bytes`));
    assert.match(error, /--max-json-body-bytes/);

    // Without a Content-Length the limit is found while the body arrives.
    const chunked = await fetch(`${daemon.url}/api/repos/create`, { method: "POST", headers,
      duplex: "half", body: new Blob([body]).stream() });
    assert.equal(chunked.status, 413);
    const chunkedError = (await chunked.json()).error;
    assert.match(chunkedError, /request body is over the limit of 1024 bytes/);
    assert.match(chunkedError, /--max-json-body-bytes/);
  } finally {
    await daemon.stop({ keepData: true });
    rmSync(dataDir, { recursive: true, force: true });
  }
});

// Sends GET /healthz on a new TCP connection and resolves with the raw reply, or with ""
// when the daemon closes or refuses the connection without one.
function healthzOnNewConnection(port) {
  return new Promise((resolve) => {
    let reply = "";
    const socket = connect(port, "127.0.0.1", () => {
      socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    });
    socket.on("data", (chunk) => { reply += chunk.toString(); });
    socket.on("error", () => resolve(reply));
    socket.on("close", () => resolve(reply));
  });
}

test("SIGTERM lets an in-flight download finish and exits 0", async () => {
  const dataDir = prepareDataDir();
  const token = createToken(dataDir, "alice", { write: true, label: "lifecycle" });
  const daemon = await startDaemon({ dataDir });
  const auth = { Authorization: `Bearer ${token}` };
  try {
    await fetch(`${daemon.url}/api/repos/create`, { method: "POST",
      headers: { ...auth, "Content-Type": "application/json" },
      body: JSON.stringify({ name: "big", organization: "alice" }) });
    // A sparse object replaces a large file; see the multi-GiB test in hub_http.
    const size = 256 * 1024 * 1024;
    const oid = "7e".repeat(32);
    const dir = join(dataDir, "lfs/objects", oid.slice(0, 2), oid.slice(2, 4));
    mkdirSync(dir, { recursive: true });
    const fd = openSync(join(dir, oid), "w");
    ftruncateSync(fd, size);
    closeSync(fd);
    // The batch API links a stored object without an upload only when a repo the user can
    // read links it already, so the test records that link the way an upload would.
    const sql = `INSERT INTO lfs_objects (oid, size, created_at) VALUES ('${oid}', ${size}, 0);
      INSERT INTO repo_objects (repo_id, oid, created_at)
      SELECT id, '${oid}', 0 FROM repos WHERE ns = 'alice' AND name = 'big';`;
    const linked = spawnSync("sqlite3", [join(dataDir, "atelier.sqlite3")], { input: sql,
      encoding: "utf8" });
    assert.equal(linked.status, 0, linked.stderr);
    await (await fetch(`${daemon.url}/alice/big.git/info/lfs/objects/batch`, { method: "POST",
      headers: { ...auth, "Content-Type": "application/vnd.git-lfs+json" },
      body: JSON.stringify({ operation: "upload", objects: [{ oid, size }] }) })).json();
    const commit = await fetch(`${daemon.url}/api/models/alice/big/commit/main`, { method: "POST",
      headers: auth, body: [JSON.stringify({ key: "header", value: { summary: "big" } }),
        JSON.stringify({ key: "lfsFile", value: { path: "big.bin", oid, size } })].join("\n") });
    assert.equal(commit.status, 200);

    // One kept-alive connection, opened before the stop, for a request sent after it.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const idle = await send(agent, "GET", `${daemon.url}/healthz`, {});
    assert.equal(idle.status, 200);
    const gitDir = join(dataDir, "repos/models/alice/big.git");
    const headBefore = gitHead(gitDir);

    const download = await fetch(`${daemon.url}/alice/big/resolve/main/big.bin`);
    assert.equal(download.status, 200);
    const reader = download.body.getReader();
    let received = (await reader.read()).value.length;
    const stopped = daemon.stop({ keepData: true });
    await waitFor(() => /stopping signal=SIGTERM/.test(daemon.log()));
    const late = await send(agent, "POST", `${daemon.url}/api/models/alice/big/commit/main`, auth,
      [JSON.stringify({ key: "header", value: { summary: "after SIGTERM" } }),
        JSON.stringify({ key: "file", value: { content: "bGF0ZQ==", path: "late.txt",
          encoding: "base64" } })].join("\n"));
    assert.equal(late.status, 503, "a request after SIGTERM is refused");
    assert.match(JSON.parse(late.body).error, /the hub is stopping/);
    assert.equal(late.headers.connection, "close");
    // While the download drains, the daemon closes each new connection without a reply.
    let reply = await healthzOnNewConnection(daemon.port);
    for (let tries = 0; tries < 100 && reply !== ""; tries++) {
      reply = await healthzOnNewConnection(daemon.port);
    }
    assert.equal(reply, "", "a new connection during the drain got a reply");
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      received += value.length;
    }
    assert.equal(received, size, "the whole body arrived after SIGTERM");
    assert.equal(await stopped, 0);
    agent.destroy();
    assert.equal(gitHead(gitDir), headBefore, "the refused commit did not land");
    await assert.rejects(fetch(`${daemon.url}/healthz`), "no new connections after stop");
    assert.match(daemon.log(), /stopping signal=SIGTERM/);
    assert.match(daemon.log(), /info serve: stopped/);
  } finally {
    await daemon.stop({ keepData: true });
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("start removes uploads a killed daemon left", async () => {
  const dataDir = prepareDataDir();
  const tmp = join(dataDir, "tmp");
  mkdirSync(tmp, { recursive: true });
  const stale = join(tmp, "upload-Stale1");
  const live = join(tmp, "upload-Live01");
  writeFileSync(stale, Buffer.alloc(4096, 1));
  writeFileSync(live, Buffer.alloc(100, 2));
  const hourAgo = Date.now() / 1000 - 3600;
  utimesSync(stale, hourAgo, hourAgo);
  const daemon = await startDaemon({ dataDir });
  try {
    assert.equal(existsSync(stale), false, "an upload idle for an hour is removed");
    assert.equal(existsSync(live), true, "a file written just now stays");
    assert.match(daemon.log(), /removed stale uploads of an earlier run files=1 bytes=4096/);
  } finally {
    await daemon.stop();
  }
});

// Sends one request through agent and resolves with its status, headers and body text.
function send(agent, method, url, headers, body) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => { text += chunk; });
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

function gitHead(gitDir) {
  const r = spawnSync("git", ["--git-dir", gitDir, "rev-parse", "main"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

async function waitFor(condition, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    assert.ok(Date.now() < deadline, "condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

// Makes 15 LFS uploads whose bytes do not hash to their oid on a daemon started with
// extraArgs; each logs the same warning call site. Returns the daemon's whole log.
async function rejectedUploadsLog(extraArgs) {
  const dataDir = prepareDataDir();
  const token = createToken(dataDir, "alice", { write: true, label: "log-limit" });
  const daemon = await startDaemon({ dataDir, extraArgs });
  const auth = { Authorization: `Bearer ${token}` };
  try {
    await fetch(`${daemon.url}/api/repos/create`, { method: "POST",
      headers: { ...auth, "Content-Type": "application/json" },
      body: JSON.stringify({ name: "noisy", organization: "alice" }) });
    const data = Buffer.alloc(1000, 1);
    const oid = createHash("sha256").update(data).digest("hex");
    const batch = await fetch(`${daemon.url}/alice/noisy.git/info/lfs/objects/batch`, {
      method: "POST", headers: { ...auth, "Content-Type": "application/vnd.git-lfs+json" },
      body: JSON.stringify({ operation: "upload", objects: [{ oid, size: data.length }] }) });
    assert.equal(batch.status, 200);
    const href = (await batch.json()).objects[0].actions.upload.href;
    for (let i = 0; i < 15; i++) {
      const put = await fetch(href, { method: "PUT", body: Buffer.alloc(1000, 2) });
      assert.equal(put.status, 400);
      await put.arrayBuffer();
    }
    assert.equal(await daemon.stop({ keepData: true }), 0);
    return daemon.log();
  } finally {
    await daemon.stop({ keepData: true });
    rmSync(dataDir, { recursive: true, force: true });
  }
}

test("repeated warnings are limited and summed up at stop", async () => {
  const log = await rejectedUploadsLog([]);
  const warnings = log.match(/ warn lfs: upload rejected /g) ?? [];
  assert.equal(warnings.length, 10, "the burst of one call site");
  const summaries = log.match(/ warn lfs: repeated lines suppressed count=(\d+) window_ms=10000 format="upload rejected oid=%s [^"]*"\n/g) ?? [];
  assert.equal(summaries.length, 1, `one summary line in:\n${log}`);
  assert.match(summaries[0], / count=5 /);
  const puts = log.match(/ info http: request method=PUT .*status=400 /g) ?? [];
  assert.equal(puts.length, 15, "every access line is written");
  assert.ok(log.indexOf("repeated lines suppressed") < log.indexOf("info serve: stopped"),
    "the summary comes before the last line");
});

test("log repeat flags set the burst and window", async () => {
  const limited = await rejectedUploadsLog(["--log-repeat-lines", "3", "--log-repeat-window-s", "60"]);
  assert.equal((limited.match(/ warn lfs: upload rejected /g) ?? []).length, 3);
  assert.match(limited, / warn lfs: repeated lines suppressed count=12 window_ms=60000 /);
  const unlimited = await rejectedUploadsLog(["--log-repeat-lines", "0"]);
  assert.equal((unlimited.match(/ warn lfs: upload rejected /g) ?? []).length, 15);
  assert.doesNotMatch(unlimited, /repeated lines suppressed/);
});

test("LFS batch names the object size and the upload limit", async () => {
  const dataDir = prepareDataDir();
  const token = createToken(dataDir, "alice", { write: true, label: "upload-limit" });
  const daemon = await startDaemon({ dataDir, extraArgs: ["--max-upload-bytes", "4096"] });
  const auth = { Authorization: `Bearer ${token}` };
  try {
    const created = await fetch(`${daemon.url}/api/repos/create`, { method: "POST",
      headers: { ...auth, "Content-Type": "application/json" },
      body: JSON.stringify({ name: "small", organization: "alice" }) });
    assert.equal(created.status, 200);
    await created.arrayBuffer();
    const batch = await fetch(`${daemon.url}/alice/small.git/info/lfs/objects/batch`, {
      method: "POST", headers: { ...auth, "Content-Type": "application/vnd.git-lfs+json" },
      body: JSON.stringify({ operation: "upload",
        objects: [{ oid: "d".repeat(64), size: 5000 }, { oid: "e".repeat(64), size: 4096 }] }) });
    assert.equal(batch.status, 200);
    const [tooBig, fits] = (await batch.json()).objects;
    assert.equal(tooBig.error.code, 422);
    assert.match(tooBig.error.message, /object of 5000 bytes/);
    assert.match(tooBig.error.message, /upload limit of 4096 bytes/);
    assert.match(tooBig.error.message, /--max-upload-bytes/);
    assert.equal(fits.error, undefined, "an object at the limit may be uploaded");
    assert.ok(fits.actions.upload.href);
  } finally {
    await daemon.stop({ keepData: true });
    rmSync(dataDir, { recursive: true, force: true });
  }
});

// A 1 MiB tmpfs over DATA/tmp, where uploads are written, makes the disk full. It is mounted in
// a user and mount namespace of its own, so the test needs no root but does need
// unprivileged user namespaces.
const fullDiskWrapper = (dataDir) => ["unshare", "-rm", "sh", "-c",
  'mount -t tmpfs -o size=1m atelier-full "$1/tmp" && shift && exec "$@"', "sh", dataDir];
const canMountTmpfs = spawnSync("unshare", ["-rm", "sh", "-c",
  "mount -t tmpfs -o size=1m atelier-full /tmp"]).status === 0;

test("full disk upload returns 507 and logs the path",
  { skip: canMountTmpfs ? false : "needs unshare with user namespaces and tmpfs" }, async () => {
    const dataDir = prepareDataDir();
    const token = createToken(dataDir, "alice", { write: true, label: "full-disk" });
    // The repo is made before the disk is full, because creating one also writes under tmp/.
    const source = join(dataDir, "..", `${dataDir.split("/").pop()}-src`);
    mkdirSync(source);
    writeFileSync(join(source, "config.json"), "{}\n");
    admin(dataDir, ["repo", "import", "alice/full", source]);
    rmSync(source, { recursive: true, force: true });
    const daemon = await startDaemon({ dataDir, wrapper: fullDiskWrapper(dataDir) });
    const auth = { Authorization: `Bearer ${token}` };
    try {
      const body = Buffer.alloc(2 * 1024 * 1024, 7);
      const oid = createHash("sha256").update(body).digest("hex");
      const batch = await fetch(`${daemon.url}/alice/full.git/info/lfs/objects/batch`, {
        method: "POST", headers: { ...auth, "Content-Type": "application/vnd.git-lfs+json" },
        body: JSON.stringify({ operation: "upload", objects: [{ oid, size: body.length }] }) });
      assert.equal(batch.status, 200);
      const upload = (await batch.json()).objects[0].actions.upload;
      const put = await fetch(upload.href, { method: "PUT",
        headers: { ...(upload.header ?? {}), "Content-Type": "application/octet-stream" }, body });
      const reply = await put.text();
      assert.equal(put.status, 507);
      assert.match(reply, /the hub's disk is full; ask the admin to free space/);
      assert.doesNotMatch(reply, new RegExp(dataDir));
      const log = await waitForLog(daemon, /No space left on device/);
      assert.match(log, new RegExp(`error=write to ${dataDir}/tmp/upload-\\S+ failed: No space left on device req=[0-9a-f]+`));
    } finally {
      await daemon.stop({ keepData: true });
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
