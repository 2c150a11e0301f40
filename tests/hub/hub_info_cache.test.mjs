// Repo info bodies are cached per HTTP thread. These tests warm that cache, change the repo
// through the write paths a user has (API commits, git push, settings, the base model of
// another repo, deletion), and check that the next info request shows the change. The
// daemon runs one HTTP thread, so the request after a change reaches the thread that keeps
// the cached body.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { admin, prepareDataDir, createToken, startDaemon } from "./daemon.mjs";

let daemon, dataDir;
const tok = {};

before(async () => {
  dataDir = prepareDataDir();
  tok.alice = createToken(dataDir, "alice", { write: true, label: "alice-write" });
  tok.bob = createToken(dataDir, "bob", { write: true, label: "bob-write" });
  daemon = await startDaemon({ dataDir, extraArgs: ["--threads", "1"] });
});

after(async () => {
  const code = await daemon.stop();
  rmSync(dataDir, { recursive: true, force: true });
  assert.equal(code, 0, "daemon exits 0 on SIGTERM");
});

const b64 = (s) => Buffer.from(s).toString("base64");

function req(path, { method = "GET", token, headers = {}, body } = {}) {
  const auth = token ? { Authorization: `Bearer ${token}` } : {};
  return fetch(daemon.url + path, { method, headers: { ...auth, ...headers }, body });
}

function jsonReq(path, method, token, value) {
  return req(path, { method, token, headers: { "Content-Type": "application/json" },
    body: JSON.stringify(value) });
}

async function createRepo(token, name, extra = {}) {
  const r = await jsonReq("/api/repos/create", "POST", token,
    { name, organization: null, type: "model", ...extra });
  const text = await r.text();
  assert.equal(r.status, 200, `create ${name}: ${text}`);
}

async function commitFiles(token, id, files) {
  const lines = [{ key: "header", value: { summary: "update", description: "" } },
    ...Object.entries(files).map(([path, text]) =>
      ({ key: "file", value: { path, content: b64(text), encoding: "base64" } }))];
  const r = await req(`/api/models/${id}/commit/main`, { method: "POST", token,
    headers: { "Content-Type": "application/x-ndjson" },
    body: lines.map((l) => JSON.stringify(l)).join("\n") });
  const text = await r.text();
  assert.equal(r.status, 200, `commit to ${id}: ${text}`);
  return JSON.parse(text).commitOid;
}

// Fetches info twice, so the second response comes from the cache when there is one.
async function info(id, token, suffix = "/revision/main") {
  await (await req(`/api/models/${id}${suffix}`, { token })).arrayBuffer();
  return req(`/api/models/${id}${suffix}`, { token });
}

async function infoJson(id, token, suffix) {
  const r = await info(id, token, suffix);
  assert.equal(r.status, 200, `info of ${id}`);
  return r.json();
}

const names = (body) => body.siblings.map((s) => s.rfilename).sort();

test("info after an API commit", async () => {
  await createRepo(tok.alice, "commits");
  const first = await commitFiles(tok.alice, "alice/commits", { "a.txt": "a" });
  const before1 = await infoJson("alice/commits");
  assert.equal(before1.sha, first);
  assert.ok(names(before1).includes("a.txt"));
  assert.ok(!names(before1).includes("b.txt"));

  const second = await commitFiles(tok.alice, "alice/commits", { "b.txt": "b" });
  assert.notEqual(second, first);
  for (const suffix of ["/revision/main", ""]) {
    const after1 = await infoJson("alice/commits", undefined, suffix);
    assert.equal(after1.sha, second, `sha of info${suffix}`);
    assert.ok(names(after1).includes("b.txt"), `siblings of info${suffix}`);
  }
  const withBlobs = await infoJson("alice/commits", undefined, "/revision/main?blobs=true");
  assert.equal(withBlobs.siblings.find((s) => s.rfilename === "b.txt").size, 1);
  const old = await infoJson("alice/commits", undefined, `/revision/${first}`);
  assert.equal(old.sha, first, "info of an older commit still shows that commit");
  assert.ok(!names(old).includes("b.txt"));
});

test("info after a git push", async () => {
  await createRepo(tok.alice, "pushed");
  const head = await commitFiles(tok.alice, "alice/pushed", { "a.txt": "a" });
  assert.equal((await infoJson("alice/pushed")).sha, head);

  const work = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), "atelier-push-"));
  const remote = `http://alice:${tok.alice}@127.0.0.1:${daemon.port}/alice/pushed`;
  const env = { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_LFS_SKIP_SMUDGE: "1",
    GIT_AUTHOR_NAME: "alice", GIT_AUTHOR_EMAIL: "alice@example.org",
    GIT_COMMITTER_NAME: "alice", GIT_COMMITTER_EMAIL: "alice@example.org" };
  const git = (...args) => {
    const r = spawnSync("git", args, { cwd: work, env, encoding: "utf8" });
    assert.equal(r.status, 0, `git ${args[0]}: ${r.stderr}`);
    return r.stdout.trim();
  };
  try {
    git("clone", "-q", remote, "clone");
    writeFileSync(join(work, "clone", "pushed.txt"), "pushed\n");
    git("-C", "clone", "add", "pushed.txt");
    git("-C", "clone", "commit", "-q", "-m", "Add pushed.txt");
    const pushed = git("-C", "clone", "rev-parse", "HEAD");
    git("-C", "clone", "push", "-q", "origin", "main");
    const after1 = await infoJson("alice/pushed");
    assert.equal(after1.sha, pushed);
    assert.ok(names(after1).includes("pushed.txt"));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test("info after making a repo private", async () => {
  await createRepo(tok.alice, "flip");
  await commitFiles(tok.alice, "alice/flip", { "a.txt": "a" });
  assert.equal((await infoJson("alice/flip")).private, false);
  assert.equal((await infoJson("alice/flip", tok.bob)).private, false);

  const hide = await jsonReq("/api/models/alice/flip/settings", "PUT", tok.alice, { private: true });
  assert.equal(hide.status, 200);
  assert.equal((await info("alice/flip")).status, 404, "anonymous info of a private repo");
  assert.equal((await info("alice/flip", tok.bob)).status, 404, "bob's info of a private repo");
  assert.equal((await infoJson("alice/flip", tok.alice)).private, true, "the owner sees it");

  const show = await jsonReq("/api/models/alice/flip/settings", "PUT", tok.alice,
    { private: false });
  assert.equal(show.status, 200);
  assert.equal((await infoJson("alice/flip")).private, false, "public again for anonymous");
});

test("adapters after base model and visibility changes", async () => {
  await createRepo(tok.alice, "base");
  await commitFiles(tok.alice, "alice/base", { "config.json": "{}" });
  assert.deepEqual((await infoJson("alice/base")).adapters, []);

  await createRepo(tok.alice, "lora");
  await commitFiles(tok.alice, "alice/lora",
    { "README.md": "---\nbase_model: alice/base\n---\n# LoRA\n" });
  assert.deepEqual((await infoJson("alice/base")).adapters, ["alice/lora"]);

  const hide = await jsonReq("/api/models/alice/lora/settings", "PUT", tok.alice, { private: true });
  assert.equal(hide.status, 200);
  assert.deepEqual((await infoJson("alice/base")).adapters, [], "anonymous: private one hidden");
  assert.deepEqual((await infoJson("alice/base", tok.alice)).adapters, ["alice/lora"],
    "the owner still sees the private adapter");
});

test("adapters after a membership change by another process", async () => {
  // The admin CLI writes to the database from its own process, so only SQLite's data version
  // tells the daemon's cache that bob can now read the organisation's private adapter.
  admin(dataDir, ["org", "add", "lab2"]);
  await createRepo(tok.alice, "base2");
  await commitFiles(tok.alice, "alice/base2", { "config.json": "{}" });
  await createRepo(tok.alice, "lora2", { organization: "lab2", private: true });
  await commitFiles(tok.alice, "lab2/lora2",
    { "README.md": "---\nbase_model: alice/base2\n---\n# LoRA\n" });
  assert.deepEqual((await infoJson("alice/base2", tok.bob)).adapters, [], "not a member yet");

  admin(dataDir, ["org", "member", "add", "lab2", "bob", "--role", "write"]);
  assert.deepEqual((await infoJson("alice/base2", tok.bob)).adapters, ["lab2/lora2"],
    "a member sees the organisation's private adapter");
});

test("info after delete and re-create", async () => {
  await createRepo(tok.alice, "gone");
  const old = await commitFiles(tok.alice, "alice/gone", { "old.txt": "old" });
  assert.equal((await infoJson("alice/gone")).sha, old);

  const del = await jsonReq("/api/repos/delete", "DELETE", tok.alice,
    { name: "gone", organization: null, type: "model" });
  assert.equal(del.status, 200);
  assert.equal((await info("alice/gone")).status, 404, "anonymous info after delete");
  assert.equal((await info("alice/gone", tok.alice)).status, 404, "owner's info after delete");

  await createRepo(tok.alice, "gone");
  const fresh = await commitFiles(tok.alice, "alice/gone", { "new.txt": "new" });
  const body = await infoJson("alice/gone");
  assert.equal(body.sha, fresh);
  assert.ok(names(body).includes("new.txt"));
  assert.ok(!names(body).includes("old.txt"), "no file of the deleted repo");
});

// A safetensors file with one F32 tensor of n elements.
function safetensorsF32(n) {
  const header = Buffer.from(JSON.stringify({ w: { dtype: "F32", shape: [n], data_offsets: [0, 4 * n] } }));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([length, header, Buffer.alloc(4 * n)]);
}

test("info with and without expand=safetensors", async () => {
  await createRepo(tok.alice, "tensors");
  const r = await req("/api/models/alice/tensors/commit/main", { method: "POST", token: tok.alice,
    headers: { "Content-Type": "application/x-ndjson" },
    body: [{ key: "header", value: { summary: "weights", description: "" } },
      { key: "file", value: { path: "model.safetensors", encoding: "base64",
        content: safetensorsF32(5).toString("base64") } }].map((l) => JSON.stringify(l)).join("\n") });
  assert.equal(r.status, 200, await r.text());

  assert.equal((await infoJson("alice/tensors")).safetensors, undefined, "not expanded");
  assert.deepEqual((await infoJson("alice/tensors", null, "/revision/main?expand=safetensors"))
    .safetensors, { parameters: { F32: 5 }, total: 5 });
  assert.equal((await infoJson("alice/tensors")).safetensors, undefined,
    "the expanded body is not served for a plain request");
});
