// HTTP-level tests of the Hub API against a real daemon, with node's fetch: auth and private
// repos, the commit and LFS APIs, resolve with HEAD and Range (including multi-GiB offsets
// on a sparse object), pagination, refs, and the error of every kind of bad input.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import {
  closeSync, existsSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  addUser, admin, prepareDataDir, createToken, revokeToken, startDaemon, waitForLog,
} from "./daemon.mjs";

let daemon, dataDir;
const tok = {};

before(async () => {
  dataDir = prepareDataDir();
  tok.aliceWrite = createToken(dataDir, "alice", { write: true, label: "alice-write" });
  tok.aliceRead = createToken(dataDir, "alice", { write: false, label: "alice-read" });
  tok.bobWrite = createToken(dataDir, "bob", { write: true, label: "bob-write" });
  tok.revoked = createToken(dataDir, "bob", { write: true, label: "bob-revoked" });
  revokeToken(dataDir, "bob", "bob-revoked");
  daemon = await startDaemon({ dataDir, extraArgs: ["--max-json-body-bytes", "65536",
    "--max-commit-body-bytes", "1M", "--max-commit-file-bytes", "256K"] });
  await createRepo(tok.aliceWrite, "pub", {});
  await createRepo(tok.aliceWrite, "priv", { private: true });
  await commit(tok.aliceWrite, "alice/pub", [
    { key: "file", value: { path: "config.json", content: b64('{"a": 1}\n'), encoding: "base64" } },
    { key: "file", value: { path: "empty.txt", content: "" } },
    { key: "file", value: { path: "dir/sub/x.txt", content: "x" } },
    { key: "file", value: { path: "dir/y.txt", content: "y" } },
    { key: "file", value: { path: "dir/z.txt", content: "z" } },
  ]);
  await commit(tok.aliceWrite, "alice/priv", [
    { key: "file", value: { path: "secret.txt", content: "secret" } },
  ]);
});

after(async () => {
  const code = await daemon.stop();
  const log = daemon.log();
  rmSync(dataDir, { recursive: true, force: true });
  assert.equal(code, 0, "daemon exits 0 on SIGTERM");
  for (const t of Object.values(tok)) assert.ok(!log.includes(t), "no token in the log");
});

const b64 = (s) => Buffer.from(s).toString("base64");
const auth = (t) => (t ? { Authorization: `Bearer ${t}` } : {});

function req(path, { method = "GET", token, headers = {}, body } = {}) {
  return fetch(daemon.url + path, { method, headers: { ...auth(token), ...headers }, body });
}

async function createRepo(token, name, extra) {
  const r = await req("/api/repos/create", { method: "POST", token,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name, organization: null, type: "model", ...extra }) });
  return r;
}

function ndjson(lines, header = { summary: "test commit", description: "" }) {
  return [{ key: "header", value: header }, ...lines].map((l) => JSON.stringify(l)).join("\n");
}

async function commit(token, id, lines, header) {
  const r = await req(`/api/models/${id}/commit/main`, { method: "POST", token,
    headers: { "Content-Type": "application/x-ndjson" }, body: ndjson(lines, header) });
  return r;
}

async function headOf(id, token = tok.aliceWrite) {
  const refs = await (await req(`/api/models/${id}/refs`, { token })).json();
  return refs.branches.find((b) => b.name === "main").targetCommit;
}

async function expectError(r, status, { code, mention } = {}) {
  assert.equal(r.status, status, `status of ${r.url}`);
  assert.match(r.headers.get("content-type") ?? "", /^application\/json/);
  const body = await r.json();
  assert.equal(typeof body.error, "string");
  if (code) assert.equal(r.headers.get("x-error-code"), code);
  if (mention) assert.ok(body.error.includes(mention), `"${body.error}" names ${mention}`);
  return body;
}

test("healthz, metrics, CORS preflight, 405 and unknown routes", async () => {
  assert.equal((await req("/healthz")).status, 200);
  // A request is counted when the daemon has finished with it, which can be just after the
  // client has its response, so the first /metrics may not show it yet.
  const healthz = /atelier_http_requests_total\{route="healthz",status="200"\} \d+/;
  let metrics = "";
  for (let i = 0; i < 50 && !healthz.test(metrics); i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 100));
    metrics = await (await req("/metrics")).text();
  }
  assert.match(metrics, healthz);
  assert.match(metrics, /atelier_blob_store_bytes \d+/);
  assert.match(metrics, /atelier_lfs_uploads_in_progress 0/);
  const pre = await req("/api/models/alice/pub", { method: "OPTIONS" });
  assert.equal(pre.status, 204);
  assert.match(pre.headers.get("access-control-expose-headers"), /X-Repo-Commit/);
  await expectError(await req("/api/whoami-v2", { method: "DELETE", token: tok.aliceWrite }), 405);
  await expectError(await req("/api/no/such/route/here/at/all"), 404);
  // huggingface_hub's move_repo: the hub cannot rename, and the error explains how to move a
  // repo instead.
  await expectError(await req("/api/repos/move", { method: "POST", token: tok.aliceWrite,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ fromRepo: "alice/pub", toRepo: "alice/pub2", type: "model" }) }), 501,
  { mention: "moving or renaming repos is not supported by this hub; create the new repo" });
  assert.match(await waitForLog(daemon, /request method=GET path=\/healthz status=200 .*req=\w+/),
    /request method=GET path=\/healthz status=200 .*req=\w+/);
});

test("whoami with write, read, Basic, revoked and no token", async () => {
  const w = await (await req("/api/whoami-v2", { token: tok.aliceWrite })).json();
  assert.equal(w.name, "alice");
  assert.equal(w.auth.accessToken.role, "write");
  const r = await (await req("/api/whoami-v2", { token: tok.aliceRead })).json();
  assert.equal(r.auth.accessToken.role, "read");
  const basic = await req("/api/whoami-v2", { headers: {
    Authorization: "Basic " + Buffer.from("git:" + tok.bobWrite).toString("base64") } });
  assert.equal((await basic.json()).name, "bob");
  const anon = await req("/api/whoami-v2");
  await expectError(anon, 401);
  assert.match(anon.headers.get("www-authenticate"), /^Basic realm=/);
  // The job page's event stream adds from=page, so a missing cookie opens no Basic dialog.
  const fromPage = await req("/api/whoami-v2?from=page");
  await expectError(fromPage, 401, /log in again/);
  assert.equal(fromPage.headers.get("www-authenticate"), null);
  assert.equal(fromPage.headers.get("lfs-authenticate"), null);
  const revoked = await req("/api/whoami-v2", { token: tok.revoked });
  await expectError(revoked, 401);
  assert.equal(revoked.headers.get("x-error-message"), "Invalid credentials in Authorization header");
  // git sends what the user typed at its password prompt: an account password gets a hint.
  const password = await req("/api/whoami-v2", { headers: {
    Authorization: "Basic " + Buffer.from("bob:bob's password").toString("base64") } });
  const hint = await expectError(password, 401);
  assert.match(hint.error, /^Invalid credentials in Authorization header: the password is not an access token\. /);
  assert.match(hint.error, /Create a write token on http:\/\/127\.0\.0\.1:\d+\/settings and enter it as the password$/);
  assert.equal(password.headers.get("x-error-message"), hint.error);
});

test("private repos look missing to others; public ones are readable by anyone", async () => {
  assert.equal((await req("/api/models/alice/priv", { token: tok.aliceWrite })).status, 200);
  await expectError(await req("/api/models/alice/priv", { token: tok.bobWrite }), 404, { code: "RepoNotFound" });
  const anonymous = await expectError(await req("/api/models/alice/priv"), 404, { code: "RepoNotFound" });
  assert.equal(anonymous.error, "Repository not found: model alice/priv does not exist or you " +
    "have no access to it. If it is private, send the token of a user who can read it " +
    "(Authorization: Bearer hf_...)");
  await expectError(await req("/alice/priv/resolve/main/secret.txt"), 404, { code: "RepoNotFound" });
  await expectError(await req("/api/models/alice/nothing"), 404, { code: "RepoNotFound" });
  // A revoked token gets 401 where a repo is hidden, and reads public repos as anonymous.
  for (const path of ["/api/models/alice/priv", "/api/models/alice/nothing",
    "/alice/priv/resolve/main/secret.txt"]) {
    const r = await req(path, { token: tok.revoked });
    await expectError(r, 401);
    assert.equal(r.headers.get("x-error-message"), "Invalid credentials in Authorization header");
  }
  assert.equal((await req("/api/models/alice/pub", { token: tok.revoked })).status, 200);
  assert.equal((await req("/api/models/alice/pub")).status, 200);
  // An unknown or revoked token reading public content is treated as anonymous.
  assert.equal((await req("/api/models/alice/pub", { token: tok.revoked })).status, 200);
  const list = await (await req("/api/models?author=alice", { token: tok.bobWrite })).json();
  assert.deepEqual(list.map((m) => m.id).sort(), ["alice/pub"]);
  const own = await (await req("/api/models?author=alice", { token: tok.aliceWrite })).json();
  assert.deepEqual(own.map((m) => m.id).sort(), ["alice/priv", "alice/pub"]);
});

test("curl command on the model page fails on an error reply", async () => {
  const page = await (await req("/alice/pub")).text();
  const match = page.match(/<pre id="use-curl">([^<]*)<\/pre>/);
  assert.ok(match, "the model page shows a curl command");
  const command = match[1];
  assert.equal(command, `curl -fLO ${daemon.url}/alice/pub/resolve/main/README.md`);

  // alice/pub has no README.md, so the command as shown gets a 404. curl must then exit
  // non-zero and leave no file behind, instead of saving the JSON error as README.md.
  const dir = mkdtempSync(join(tmpdir(), "atelier-curl-"));
  try {
    const missing = spawnSync("sh", ["-c", command], { cwd: dir, encoding: "utf8" });
    assert.equal(missing.status, 22, missing.stderr);
    assert.ok(!existsSync(join(dir, "README.md")), "no error body saved as the file");

    const flags = command.split(" ").slice(1, 2);
    const secret = `${daemon.url}/alice/priv/resolve/main/secret.txt`;
    const anonymous = spawnSync("curl", [...flags, secret], { cwd: dir, encoding: "utf8" });
    assert.equal(anonymous.status, 22, anonymous.stderr);
    assert.ok(!existsSync(join(dir, "secret.txt")), "no error body saved as the private file");

    const withToken = spawnSync("curl",
      [...flags, "-H", `Authorization: Bearer ${tok.aliceRead}`, secret], { cwd: dir, encoding: "utf8" });
    assert.equal(withToken.status, 0, withToken.stderr);
    assert.equal(readFileSync(join(dir, "secret.txt"), "utf8"), "secret");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("writes need a write token with rights on the repo", async () => {
  await expectError(await createRepo(tok.aliceRead, "ro", {}), 403, { mention: "read-only token" });
  await expectError(await createRepo(undefined, "anon", {}), 401);
  const before = await headOf("alice/pub");
  await expectError(await commit(tok.bobWrite, "alice/pub", [
    { key: "file", value: { path: "bob.txt", content: "x" } }]), 403);
  await expectError(await commit(tok.aliceRead, "alice/pub", [
    { key: "file", value: { path: "ro.txt", content: "x" } }]), 403);
  assert.equal(await headOf("alice/pub"), before, "nothing was committed");
  const again = await createRepo(tok.aliceWrite, "pub", {});
  assert.equal(again.status, 409);
  assert.match((await again.json()).url, /\/alice\/pub$/);
});

test("info, tree pagination, paths-info, refs, commits", async () => {
  const info = await (await req("/api/models/alice/pub/revision/main?blobs=true")).json();
  assert.equal(info.id, "alice/pub");
  assert.match(info.sha, /^[0-9a-f]{40}$/);
  assert.ok(info.siblings.some((s) => s.rfilename === "dir/sub/x.txt" && s.size === 1));
  assert.match(info.lastModified, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

  let url = `/api/models/alice/pub/tree/main/dir?recursive=true&limit=2`;
  const seen = [];
  for (let page = 0; url && page < 10; page++) {
    const r = await req(url);
    assert.equal(r.status, 200);
    seen.push(...(await r.json()).map((e) => e.path));
    const link = r.headers.get("link");
    url = link ? new URL(link.match(/^<([^>]+)>; rel="next"$/)[1]).pathname +
      new URL(link.match(/^<([^>]+)>/)[1]).search : null;
  }
  assert.deepEqual(seen.sort(), ["dir/sub", "dir/sub/x.txt", "dir/y.txt", "dir/z.txt"]);
  await expectError(await req("/api/models/alice/pub/tree/main/nodir"), 404, { code: "EntryNotFound" });
  await expectError(await req("/api/models/alice/pub/tree/nobranch"), 404, { code: "RevisionNotFound" });

  const pi = await (await req("/api/models/alice/pub/paths-info/main", { method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: "paths=config.json&paths=dir%2Fy.txt&paths=missing&expand=true" })).json();
  assert.deepEqual(pi.map((e) => e.path).sort(), ["config.json", "dir/y.txt"]);
  assert.ok(pi[0].lastCommit.id);

  const br = await req("/api/models/alice/pub/branch/feat%2Fx", { method: "POST",
    token: tok.aliceWrite, headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ startingPoint: "main" }) });
  assert.equal(br.status, 200);
  assert.equal((await req("/api/models/alice/pub/branch/feat%2Fx", { method: "POST",
    token: tok.aliceWrite })).status, 409);
  // A missing starting point is worded like every other revision error; empty branches name
  // the way out.
  await expectError(await req("/api/models/alice/pub/branch/from-nowhere", { method: "POST",
    token: tok.aliceWrite, headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ startingPoint: "nope" }) }), 404, { code: "RevisionNotFound",
    mention: "Invalid rev id: nope: no branch, tag or commit of alice/pub has this name" });
  await expectError(await req("/api/models/alice/pub/branch/empty-one", { method: "POST",
    token: tok.aliceWrite, headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ emptyBranch: true }) }), 400,
  { mention: "leave out emptyBranch (empty in @huggingface/hub) to branch from main" });
  // `git check-ref-format --branch` rejects these names, so the API does too.
  for (const [name, rule] of [["-x", "may not start with '-'"], ["a.lock", "may end with '.lock'"],
    ["feat%2F-ok%2F.hidden", "may start with '.'"]]) {
    const bad = await expectError(await req(`/api/models/alice/pub/branch/${name}`,
      { method: "POST", token: tok.aliceWrite }), 400);
    assert.ok(bad.error.includes(rule), `"${bad.error}" names the rule ${rule}`);
  }
  // Tag names follow the same rules, checked before libgit2 creates the tag.
  for (const [name, rule] of [["-bad", "a tag name may not start with '-'"],
    ["a..b", "a tag name may not contain '..'"], ["x.lock", "may end with '.lock'"],
    ["sp ace", "may not contain spaces"], ["HEAD", "a tag may not be named"]]) {
    const bad = await expectError(await req("/api/models/alice/pub/tag/main", { method: "POST",
      token: tok.aliceWrite, headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ tag: name }) }), 400);
    assert.ok(bad.error.startsWith(`invalid tag name '${name}'`), bad.error);
    assert.ok(bad.error.includes(rule), `"${bad.error}" names the rule ${rule}`);
  }
  for (const body of [{ tag: "" }, {}]) {
    const missing = await expectError(await req("/api/models/alice/pub/tag/main", { method: "POST",
      token: tok.aliceWrite, headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body) }), 400);
    assert.match(missing.error, /^missing tag/);
  }
  const tag = await req("/api/models/alice/pub/tag/main", { method: "POST", token: tok.aliceWrite,
    headers: { "Content-Type": "application/json" }, body: JSON.stringify({ tag: "v1.0" }) });
  assert.equal(tag.status, 200);
  const tagCreated = /tag created repo=alice\/pub tag=v1\.0 rev=main user=alice req=\w+/;
  assert.match(await waitForLog(daemon, tagCreated), tagCreated);
  const refs = await (await req("/api/models/alice/pub/refs")).json();
  assert.deepEqual(refs.branches.map((b) => b.name).sort(), ["feat/x", "main"]);
  assert.deepEqual(refs.tags.map((t) => t.name), ["v1.0"]);
  assert.deepEqual(refs.converts, []);
  // JS sends revisions with slashes unencoded in tree/ and commits/.
  assert.equal((await req("/api/models/alice/pub/tree/feat/x/dir")).status, 200);
  const commits = await req("/api/models/alice/pub/commits/feat/x?limit=1");
  assert.equal(commits.status, 200);
  assert.equal(Number(commits.headers.get("x-total-count")), 2);
  assert.match(commits.headers.get("link"), /cursor=1>; rel="next"$/);
  const [c] = await commits.json();
  assert.equal(c.title, "test commit");
  assert.equal(c.authors[0].user, "alice");
  // curl users write a slash branch unencoded in the write routes too.
  const onFeat = await req("/api/models/alice/pub/commit/feat/x", { method: "POST",
    token: tok.aliceWrite, headers: { "Content-Type": "application/x-ndjson" },
    body: ndjson([{ key: "file", value: { path: "feat.txt", content: "on feat/x\n" } }]) });
  assert.equal(onFeat.status, 200, await onFeat.clone().text());
  assert.equal(await (await req("/alice/pub/resolve/feat%2Fx/feat.txt")).text(), "on feat/x\n");
  const featInfo = await req("/api/models/alice/pub/revision/feat/x");
  assert.equal(featInfo.status, 200);
  assert.ok((await featInfo.json()).siblings.some((f) => f.rfilename === "feat.txt"));
  await expectError(await req("/api/models/alice/pub/commit", { method: "POST",
    token: tok.aliceWrite, headers: { "Content-Type": "application/x-ndjson" }, body: ndjson([]) }),
    404);
  assert.equal((await req("/api/models/alice/pub/tag/v1.0", { method: "DELETE",
    token: tok.aliceWrite })).status, 200);
  const tagDeleted = /tag deleted repo=alice\/pub tag=v1\.0 user=alice req=\w+/;
  assert.match(await waitForLog(daemon, tagDeleted), tagDeleted);
  assert.equal((await req("/api/models/alice/pub/branch/feat%2Fx", { method: "DELETE",
    token: tok.aliceWrite })).status, 200);
  await expectError(await req("/api/models/alice/pub/branch/feat%2Fx", { method: "DELETE",
    token: tok.aliceWrite }), 404, { code: "RevisionNotFound" });
});

test("resolve: headers, HEAD, ranges, raw and transformers.js URLs", async () => {
  const full = await req("/alice/pub/resolve/main/config.json");
  assert.equal(full.status, 200);
  assert.equal(await full.text(), '{"a": 1}\n');
  assert.match(full.headers.get("etag"), /^"[0-9a-f]{40}"$/);
  assert.match(full.headers.get("x-repo-commit"), /^[0-9a-f]{40}$/);
  assert.equal(full.headers.get("content-length"), "9");
  assert.equal(full.headers.get("accept-ranges"), "bytes");
  assert.match(full.headers.get("content-disposition"), /filename="config.json"/);

  const cached = await req("/alice/pub/resolve/main/config.json",
    { headers: { "If-None-Match": `"x", ${full.headers.get("etag")}` } });
  assert.equal(cached.status, 304);
  assert.equal(cached.headers.get("etag"), full.headers.get("etag"));
  assert.equal(cached.headers.get("content-length"), "9", "a 304 carries the 200's length");
  assert.equal((await cached.arrayBuffer()).byteLength, 0);
  const stale = await req("/alice/pub/resolve/main/config.json",
    { headers: { "If-None-Match": '"0000"' } });
  assert.equal(stale.status, 200);
  await stale.arrayBuffer();

  const head = await req("/alice/pub/resolve/main/config.json", { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("content-length"), "9");
  assert.equal(head.headers.get("etag"), full.headers.get("etag"));

  const cases = [
    ["bytes=0-0", 206, "bytes 0-0/9", "{"],
    ["bytes=-2", 206, "bytes 7-8/9", "}\n"],
    ["bytes=5-", 206, "bytes 5-8/9", " 1}\n"],
    ["bytes=2-100", 206, "bytes 2-8/9", 'a": 1}\n'],
    ["bytes=0-1,3-4", 200, null, '{"a": 1}\n'],
  ];
  for (const [range, status, contentRange, body] of cases) {
    const r = await req("/alice/pub/resolve/main/config.json", { headers: { Range: range } });
    assert.equal(r.status, status, range);
    assert.equal(r.headers.get("content-range"), contentRange, range);
    assert.equal(await r.text(), body, range);
  }
  const past = await req("/alice/pub/resolve/main/config.json", { headers: { Range: "bytes=9-" } });
  assert.equal(past.status, 416);
  assert.equal(past.headers.get("content-range"), "bytes */9");
  await past.arrayBuffer();

  // If-Range: the range applies only while the file is the one the client names, compared
  // strongly; otherwise the whole file comes back.
  const ifRange = [[full.headers.get("etag"), 206, "{"], ['"zzz"', 200, '{"a": 1}\n'],
    [`W/${full.headers.get("etag")}`, 200, '{"a": 1}\n'],
    ["Sat, 05 Dec 2026 03:00:00 GMT", 200, '{"a": 1}\n']];
  for (const [validator, status, body] of ifRange) {
    const r = await req("/alice/pub/resolve/main/config.json",
      { headers: { Range: "bytes=0-0", "If-Range": validator } });
    assert.equal(r.status, status, validator);
    assert.equal(await r.text(), body, validator);
  }

  const empty = await req("/alice/pub/resolve/main/empty.txt", { headers: { Range: "bytes=0-0" } });
  assert.equal(empty.status, 200);
  assert.equal(empty.headers.get("content-range"), "bytes */0");
  assert.equal((await empty.arrayBuffer()).byteLength, 0);

  // transformers.js: {remoteHost}{model}/resolve/{encodeURIComponent(revision)}/{file}
  const tjs = await fetch(`${daemon.url}/alice/pub/resolve/${encodeURIComponent("main")}/config.json`);
  assert.equal(tjs.status, 200);
  await tjs.text();
  const missing = await req("/alice/pub/resolve/main/generation_config.json");
  await expectError(missing, 404, { code: "EntryNotFound" });
  assert.match(missing.headers.get("x-repo-commit"), /^[0-9a-f]{40}$/);
  const folder = await expectError(await req("/alice/pub/resolve/main/dir"), 404,
    { code: "EntryNotFound" });
  assert.equal(folder.error, "Entry not found: dir at revision main is a folder, not a file; " +
    "list its files with /api/models/alice/pub/tree/main/dir");
  await expectError(await req("/alice/pub/resolve/nope/config.json"), 404, { code: "RevisionNotFound" });
  const raw = await req("/alice/pub/raw/main/dir/y.txt");
  assert.equal(await raw.text(), "y");

  // Only a GET that sends the whole config.json counts as a download.
  const downloads = async () => (await (await req("/api/models/alice/pub")).json()).downloads;
  const before = await downloads();
  await (await req("/alice/pub/resolve/main/config.json", { headers: { Range: "bytes=0-0" } })).text();
  await (await req("/alice/pub/resolve/main/config.json",
    { headers: { "If-None-Match": full.headers.get("etag") } })).text();
  await (await req("/alice/pub/resolve/main/config.json", { method: "HEAD" })).text();
  assert.equal(await downloads(), before, "probes, revalidations and HEAD are not downloads");
  await (await req("/alice/pub/resolve/main/config.json")).text();
  assert.equal(await downloads(), before + 1);
});

async function uploadLfs(token, id, data) {
  const oid = createHash("sha256").update(data).digest("hex");
  const batch = await req(`/${id}.git/info/lfs/objects/batch`, { method: "POST", token,
    headers: { "Content-Type": "application/vnd.git-lfs+json", Accept: "application/vnd.git-lfs+json" },
    body: JSON.stringify({ operation: "upload", transfers: ["basic", "multipart", "xet"],
      hash_algo: "sha_256", ref: { name: "main" }, objects: [{ oid, size: data.length }] }) });
  assert.equal(batch.status, 200);
  const body = await batch.json();
  assert.equal(body.transfer, "basic");
  return { oid, object: body.objects[0] };
}

test("LFS batch, upload, verify, commit and download with ranges", async () => {
  const data = Buffer.alloc(200000, 7);
  const { oid, object } = await uploadLfs(tok.aliceWrite, "alice/pub", data);
  assert.ok(object.actions.upload.href.startsWith(daemon.url + "/"));
  // A PUT whose bytes do not hash to the oid is rejected and stores nothing.
  const bad = await fetch(object.actions.upload.href, { method: "PUT", body: Buffer.alloc(200000, 8) });
  await expectError(bad, 400);
  const short = await fetch(object.actions.upload.href, { method: "PUT", body: Buffer.alloc(10, 7) });
  await expectError(short, 400);
  const tampered = object.actions.upload.href.replace(/sig=[0-9a-f]/, "sig=x");
  await expectError(await fetch(tampered, { method: "PUT", body: data }), 403);
  const put = await fetch(object.actions.upload.href, { method: "PUT", body: data });
  assert.equal(put.status, 200);
  const verify = await fetch(object.actions.verify.href, { method: "POST",
    headers: { "Content-Type": "application/json", ...auth(tok.aliceWrite) },
    body: JSON.stringify({ oid, size: data.length }) });
  assert.equal(verify.status, 200);
  const again = await uploadLfs(tok.aliceWrite, "alice/pub", data);
  assert.equal(again.object.actions, undefined, "a stored object needs no upload");

  await expectError(await commit(tok.aliceWrite, "alice/pub", [
    { key: "lfsFile", value: { path: "w.bin", algo: "sha256", oid: "a".repeat(64), size: 5 } }]), 422);
  await expectError(await commit(tok.aliceWrite, "alice/pub", [
    { key: "lfsFile", value: { path: "w.bin", algo: "sha256", oid, size: data.length + 1 } }]),
  422, { mention: oid });
  const wrongSize = await fetch(object.actions.verify.href, { method: "POST",
    headers: { "Content-Type": "application/json" }, body: JSON.stringify({ oid, size: 5 }) });
  await expectError(wrongSize, 422);
  const ok = await commit(tok.aliceWrite, "alice/pub", [
    { key: "lfsFile", value: { path: "w.bin", algo: "sha256", oid, size: data.length } }]);
  assert.equal(ok.status, 200);
  const out = await ok.json();
  assert.match(out.commitUrl, new RegExp(`^${daemon.url}/alice/pub/commit/[0-9a-f]{40}$`));

  const r = await req("/alice/pub/resolve/main/w.bin", { headers: { Range: "bytes=199990-" } });
  assert.equal(r.status, 206);
  assert.equal(r.headers.get("etag"), `"${oid}"`);
  assert.equal(r.headers.get("x-linked-etag"), `"${oid}"`);
  assert.equal(r.headers.get("x-linked-size"), "200000");
  assert.equal(r.headers.get("content-range"), "bytes 199990-199999/200000");
  assert.equal(r.headers.get("accept-ranges"), "bytes", "sent once");
  assert.deepEqual(Buffer.from(await r.arrayBuffer()), Buffer.alloc(10, 7));
  const pointer = await (await req("/alice/pub/raw/main/w.bin")).text();
  assert.match(pointer, new RegExp(`^version https://git-lfs.github.com/spec/v1\noid sha256:${oid}\nsize 200000\n$`));

  const tree = await (await req("/api/models/alice/pub/tree/main")).json();
  const entry = tree.find((e) => e.path === "w.bin");
  assert.deepEqual(entry.lfs, { oid, size: 200000, pointerSize: pointer.length });
  const attrs = await (await req("/alice/pub/resolve/main/.gitattributes")).text();
  assert.match(attrs, /filter=lfs/);

  const down = await req("/alice/pub.git/info/lfs/objects/batch", { method: "POST",
    headers: { "Content-Type": "application/vnd.git-lfs+json" },
    body: JSON.stringify({ operation: "download", objects: [{ oid, size: 200000 },
      { oid: "b".repeat(64), size: 1 }, { oid: "NOT-HEX", size: 1 }] }) });
  const downBody = await down.json();
  assert.equal(downBody.objects[1].error.code, 404);
  assert.equal(downBody.objects[2].error.code, 422);
  const blob = await fetch(downBody.objects[0].actions.download.href);
  assert.equal(createHash("sha256").update(Buffer.from(await blob.arrayBuffer())).digest("hex"), oid);
});

test("file line routed by .gitattributes becomes LFS", async () => {
  assert.equal((await createRepo(tok.aliceWrite, "routed", {})).status, 200);
  const data = Buffer.alloc(150000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31) % 251;
  const oid = createHash("sha256").update(data).digest("hex");
  const pre = await (await req("/api/models/alice/routed/preupload/main", { method: "POST",
    token: tok.aliceWrite, headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ files: [{ path: "model.safetensors", size: data.length, sample: "" }] }),
  })).json();
  assert.equal(pre.files[0].uploadMode, "lfs");

  const r = await commit(tok.aliceWrite, "alice/routed", [
    { key: "file", value: { path: "model.safetensors", content: data.toString("base64"),
      encoding: "base64" } },
    { key: "file", value: { path: "config.json", content: '{"a": 1}' } }]);
  assert.equal(r.status, 200);

  const tree = await (await req("/api/models/alice/routed/tree/main")).json();
  const weights = tree.find((e) => e.path === "model.safetensors");
  assert.equal(weights.lfs?.oid, oid);
  assert.equal(weights.lfs?.size, data.length);
  assert.equal(weights.size, data.length);
  const config = tree.find((e) => e.path === "config.json");
  assert.equal(config.lfs, undefined, "config.json stays a git blob");
  const pointer = await (await req("/alice/routed/raw/main/model.safetensors")).text();
  assert.equal(pointer,
    `version https://git-lfs.github.com/spec/v1\noid sha256:${oid}\nsize ${data.length}\n`);
  const resolved = await req("/alice/routed/resolve/main/model.safetensors");
  assert.equal(resolved.status, 200);
  assert.equal(resolved.headers.get("x-linked-etag"), `"${oid}"`);
  assert.deepEqual(Buffer.from(await resolved.arrayBuffer()), data);
  const stored = /file stored as LFS object path=model\.safetensors oid=[0-9a-f]{64} .*repo=alice\/routed/;
  assert.match(await waitForLog(daemon, stored), stored);

  // The object is linked to the repo, so the batch API offers it without an upload.
  const again = await uploadLfs(tok.aliceWrite, "alice/routed", data);
  assert.equal(again.object.actions, undefined, "the stored object needs no upload");
});

test("LFS oid of another user's private object is not enough", async () => {
  assert.equal((await createRepo(tok.bobWrite, "copy", {})).status, 200);
  const secret = Buffer.alloc(120000, 41);
  const uploaded = await uploadLfs(tok.aliceWrite, "alice/priv", secret);
  assert.equal((await fetch(uploaded.object.actions.upload.href, { method: "PUT", body: secret })).status, 200);
  assert.equal((await commit(tok.aliceWrite, "alice/priv", [{ key: "lfsFile",
    value: { path: "secret.bin", algo: "sha256", oid: uploaded.oid, size: secret.length } }])).status, 200);

  // bob has the oid and size but not the bytes: the batch asks him to upload.
  const { oid, object } = await uploadLfs(tok.bobWrite, "bob/copy", secret);
  assert.equal(oid, uploaded.oid);
  assert.ok(object.actions?.upload?.href, "an object bob cannot read needs an upload");
  assert.ok(object.actions?.verify?.href);
  const otherSize = await req("/bob/copy.git/info/lfs/objects/batch", { method: "POST",
    token: tok.bobWrite, headers: { "Content-Type": "application/vnd.git-lfs+json" },
    body: JSON.stringify({ operation: "upload", objects: [{ oid, size: secret.length + 1 }] }) });
  const otherSizeObject = (await otherSize.json()).objects[0];
  assert.equal(otherSizeObject.error, undefined, "the reply does not reveal a stored size");
  assert.ok(otherSizeObject.actions.upload.href);

  const wrong = await fetch(object.actions.upload.href, { method: "PUT", body: Buffer.alloc(secret.length, 42) });
  await expectError(wrong, 400);
  const verify = await fetch(object.actions.verify.href, { method: "POST",
    headers: { "Content-Type": "application/json" }, body: JSON.stringify({ oid, size: secret.length }) });
  await expectError(verify, 404);
  await expectError(await commit(tok.bobWrite, "bob/copy", [{ key: "lfsFile",
    value: { path: "stolen.bin", algo: "sha256", oid, size: secret.length } }]), 422, { mention: oid });
  const down = await req("/bob/copy.git/info/lfs/objects/batch", { method: "POST", token: tok.bobWrite,
    headers: { "Content-Type": "application/vnd.git-lfs+json" },
    body: JSON.stringify({ operation: "download", objects: [{ oid, size: secret.length }] }) });
  assert.equal((await down.json()).objects[0].error.code, 404);

  // With the bytes, the upload links the object and the commit goes through.
  assert.equal((await fetch(object.actions.upload.href, { method: "PUT", body: secret })).status, 200);
  assert.equal((await commit(tok.bobWrite, "bob/copy", [{ key: "lfsFile",
    value: { path: "own.bin", algo: "sha256", oid, size: secret.length } }])).status, 200);
  const own = await req("/bob/copy/resolve/main/own.bin", { token: tok.bobWrite });
  assert.deepEqual(Buffer.from(await own.arrayBuffer()), secret);
});

test("LFS pointer to an unlinked object", async () => {
  assert.equal((await createRepo(tok.bobWrite, "b1", {})).status, 200);
  const secret = Buffer.alloc(70000, 73);
  const oid = await storeLfs(tok.aliceWrite, "alice/priv", secret, "x.bin");
  const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${oid}\nsize ${secret.length}\n`;

  // A "file" line whose content is pointer text follows the rule of "lfsFile" lines.
  await expectError(await commit(tok.bobWrite, "bob/b1", [{ key: "file",
    value: { path: "x.bin", content: b64(pointer), encoding: "base64" } }]), 422, { mention: "x.bin" });
  await expectError(await commit(tok.bobWrite, "bob/b1", [{ key: "file",
    value: { path: "y.bin", content: b64(pointer), encoding: "base64" } }]), 422, { mention: oid });

  // In its own repo, where the object is linked, the same line is accepted.
  assert.equal((await commit(tok.aliceWrite, "alice/priv", [{ key: "file",
    value: { path: "copy.bin", content: b64(pointer), encoding: "base64" } }])).status, 200);
  const own = await req("/alice/priv/resolve/main/copy.bin", { token: tok.aliceWrite });
  assert.deepEqual(Buffer.from(await own.arrayBuffer()), secret);

  // A pointer already in a repo whose link to the object is gone: resolve gives 404, not the
  // bytes. The link row is removed by hand, as for a pointer committed before the check.
  const { oid: bobOid, object } = await uploadLfs(tok.bobWrite, "bob/b1", secret);
  assert.equal(bobOid, oid);
  assert.equal((await fetch(object.actions.upload.href, { method: "PUT", body: secret })).status, 200);
  assert.equal((await commit(tok.bobWrite, "bob/b1", [{ key: "file",
    value: { path: "x.bin", content: b64(pointer), encoding: "base64" } }])).status, 200);
  const sql = `DELETE FROM repo_objects WHERE oid = '${oid}' AND repo_id =
    (SELECT id FROM repos WHERE ns = 'bob' AND name = 'b1');`;
  const unlink = spawnSync("sqlite3", [join(dataDir, "atelier.sqlite3")], { input: sql, encoding: "utf8" });
  assert.equal(unlink.status, 0, unlink.stderr);
  const body = await expectError(await req("/bob/b1/resolve/main/x.bin", { token: tok.bobWrite }), 404,
    { code: "EntryNotFound", mention: "never uploaded to this repo" });
  assert.ok(!body.error.includes("missing from the store"), body.error);
  const unlinkedLog = new RegExp(`LFS pointer to an object not linked to the repo repo=bob/b1 path=x\\.bin oid=${oid}`);
  assert.match(await waitForLog(daemon, unlinkedLog), unlinkedLog);
  const raw = await req("/bob/b1/raw/main/x.bin", { token: tok.bobWrite });
  assert.equal(await raw.text(), pointer, "raw still gives the pointer text");
});

test("LFS object of a public repo is linked without upload", async () => {
  const shared = Buffer.alloc(90000, 17);
  const uploaded = await uploadLfs(tok.aliceWrite, "alice/pub", shared);
  assert.equal((await fetch(uploaded.object.actions.upload.href, { method: "PUT", body: shared })).status, 200);
  assert.equal((await commit(tok.aliceWrite, "alice/pub", [{ key: "lfsFile",
    value: { path: "shared.bin", algo: "sha256", oid: uploaded.oid, size: shared.length } }])).status, 200);

  const res = await createRepo(tok.bobWrite, "student", {});
  assert.equal(res.status, 200);
  const { object } = await uploadLfs(tok.bobWrite, "bob/student", shared);
  assert.equal(object.actions, undefined, "a public object needs no upload");
  assert.equal((await commit(tok.bobWrite, "bob/student", [{ key: "lfsFile",
    value: { path: "base.bin", algo: "sha256", oid: uploaded.oid, size: shared.length } }])).status, 200);
  const r = await req("/bob/student/resolve/main/base.bin");
  assert.deepEqual(Buffer.from(await r.arrayBuffer()), shared);
});

async function storeLfs(token, id, data, path) {
  const { oid, object } = await uploadLfs(token, id, data);
  assert.equal((await fetch(object.actions.upload.href, { method: "PUT", body: data })).status, 200);
  assert.equal((await commit(token, id, [{ key: "lfsFile",
    value: { path, algo: "sha256", oid, size: data.length } }])).status, 200);
  return oid;
}

test("LFS links through organisation, admin and deleted repos", async () => {
  admin(dataDir, ["org", "add", "lfsorg"]);
  admin(dataDir, ["org", "member", "add", "lfsorg", "bob", "--role", "read"]);
  assert.equal((await createRepo(tok.aliceWrite, "weights", { organization: "lfsorg", private: true })).status, 200);
  assert.equal((await createRepo(tok.bobWrite, "mirror", {})).status, 200);
  assert.equal((await createRepo(tok.bobWrite, "gone", { private: true })).status, 200);

  // A member of the organisation may read its private repo, so the link needs no upload.
  const orgData = Buffer.alloc(70000, 23);
  await storeLfs(tok.aliceWrite, "lfsorg/weights", orgData, "org.bin");
  const member = await uploadLfs(tok.bobWrite, "bob/mirror", orgData);
  assert.equal(member.object.actions, undefined, "an organisation member needs no upload");

  // An admin may read every repo.
  const bobData = Buffer.alloc(60000, 29);
  await storeLfs(tok.bobWrite, "bob/gone", bobData, "mine.bin");
  const byAdmin = await uploadLfs(tok.aliceWrite, "alice/pub", bobData);
  assert.equal(byAdmin.object.actions, undefined, "an admin needs no upload");

  // Once the last repos that link a blob are gone, nobody may link it from its oid alone.
  const del = (token, name, organization) => req("/api/repos/delete", { method: "DELETE", token,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name, organization, type: "model" }) });
  const orphan = Buffer.alloc(50000, 31);
  assert.equal((await createRepo(tok.bobWrite, "gone2", { private: true })).status, 200);
  await storeLfs(tok.bobWrite, "bob/gone2", orphan, "lost.bin");
  assert.equal((await del(tok.bobWrite, "gone2", "bob")).status, 200);
  const relink = await uploadLfs(tok.bobWrite, "bob/mirror", orphan);
  assert.ok(relink.object.actions?.upload?.href, "a blob linked to no repo needs an upload");
});

test("multi-GiB object: ranges at large offsets are served from a sparse file", async () => {
  const size = 5 * 1024 * 1024 * 1024;
  // The store trusts its own files, so a sparse file named by an arbitrary oid replaces
  // for a 5 GiB object without writing 5 GiB.
  const oid = "5a".repeat(32);
  const dir = join(dataDir, "lfs/objects", oid.slice(0, 2), oid.slice(2, 4));
  mkdirSync(dir, { recursive: true });
  const fd = openSync(join(dir, oid), "w");
  ftruncateSync(fd, size);
  closeSync(fd);
  // A stored object is linked without an upload only through a repo that links it already,
  // so the test records the link the way an upload would.
  const sql = `INSERT INTO lfs_objects (oid, size, created_at) VALUES ('${oid}', ${size}, 0);
    INSERT INTO repo_objects (repo_id, oid, created_at)
    SELECT id, '${oid}', 0 FROM repos WHERE ns = 'alice' AND name = 'priv';`;
  const linked = spawnSync("sqlite3", [join(dataDir, "atelier.sqlite3")], { input: sql, encoding: "utf8" });
  assert.equal(linked.status, 0, linked.stderr);
  const batch = await req("/alice/pub.git/info/lfs/objects/batch", { method: "POST",
    token: tok.aliceWrite, headers: { "Content-Type": "application/vnd.git-lfs+json" },
    body: JSON.stringify({ operation: "upload", objects: [{ oid, size }] }) });
  assert.equal((await batch.json()).objects[0].actions, undefined);
  assert.equal((await commit(tok.aliceWrite, "alice/pub", [
    { key: "lfsFile", value: { path: "big.bin", algo: "sha256", oid, size } }])).status, 200);

  const head = await req("/alice/pub/resolve/main/big.bin", { method: "HEAD" });
  assert.equal(head.headers.get("content-length"), String(size));
  assert.equal(head.headers.get("x-linked-size"), String(size));
  const cases = [
    ["bytes=4831838208-4831838215", 206, `bytes 4831838208-4831838215/${size}`, 8],
    ["bytes=-4", 206, `bytes ${size - 4}-${size - 1}/${size}`, 4],
    [`bytes=${size - 3}-`, 206, `bytes ${size - 3}-${size - 1}/${size}`, 3],
    [`bytes=${size}-`, 416, `bytes */${size}`, null],
  ];
  for (const [range, status, contentRange, length] of cases) {
    const r = await req("/alice/pub/resolve/main/big.bin", { headers: { Range: range } });
    assert.equal(r.status, status, range);
    assert.equal(r.headers.get("content-range"), contentRange, range);
    const body = Buffer.from(await r.arrayBuffer());
    if (length !== null) assert.deepEqual(body, Buffer.alloc(length, 0), range);
  }
});

test("commit without a summary gets the default title and keeps its description", async () => {
  const description = "only a description here, longer than the missing summary";
  for (const header of [{ summary: "", description }, { description }]) {
    const r = await commit(tok.aliceWrite, "alice/pub", [
      { key: "file", value: { path: "nosummary.txt", content: String(Math.random()) } }], header);
    assert.equal(r.status, 200);
    assert.equal((await r.json()).commitMessage, "Upload files");
    const [last] = await (await req("/api/models/alice/pub/commits/main?limit=1",
      { token: tok.aliceWrite })).json();
    assert.equal(last.title, "Upload files");
    assert.equal(last.message, `Upload files\n\n${description}`);
  }
});

test("create with bad files makes no repo", async () => {
  const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${"c".repeat(64)}\nsize 3\n`;
  const cases = [
    { name: "files-b64", files: [{ path: "a.txt", content: "!!not base64!!" }], status: 400, mention: "a.txt" },
    { name: "files-dir", files: [{ path: "dir/", content: b64("x") }], status: 400, mention: "dir/" },
    { name: "files-obj", files: { path: "a.txt", content: b64("x") }, status: 400, mention: "array" },
    { name: "files-str", files: "a.txt", status: 400, mention: "array" },
    { name: "files-ptr", files: [{ path: "w.bin", content: b64(pointer) }], status: 422, mention: "w.bin" },
  ];
  for (const c of cases) {
    await expectError(await createRepo(tok.bobWrite, c.name, { files: c.files }), c.status,
      { mention: c.mention });
    const info = await req(`/api/models/bob/${c.name}`, { token: tok.bobWrite });
    assert.equal(info.status, 404, `${c.name}: the failed create made no repo`);
  }

  // The retry with good files creates the repo.
  const retry = await createRepo(tok.bobWrite, "files-b64", { files: [{ path: "a.txt", content: b64("ok") }] });
  assert.equal(retry.status, 200);
  assert.equal(await (await req("/bob/files-b64/resolve/main/a.txt")).text(), "ok");
  assert.equal((await createRepo(tok.bobWrite, "files-null", { files: null })).status, 200);
});

test("bad input gets a 4xx naming the value and changes nothing", async () => {
  const before = await headOf("alice/pub");
  const badPaths = ["../etc/passwd", "/abs.txt", "a\\b.txt", "ctl\u0001.txt", "a//b.txt"];
  for (const path of badPaths) {
    const r = await commit(tok.aliceWrite, "alice/pub", [
      { key: "file", value: { path, content: "x" } }]);
    await expectError(r, 400);
  }
  await expectError(await req("/api/models/alice/pub/commit/main", { method: "POST",
    token: tok.aliceWrite, body: '{"key":"header","value":{}}\n{oops' }), 400, { mention: "line 2" });
  await expectError(await req("/api/models/alice/pub/commit/main", { method: "POST",
    token: tok.aliceWrite, body: '{"key":"file","value":{"path":"a","content":"b"}}' }), 400);
  await expectError(await commit(tok.aliceWrite, "alice/pub", [
    { key: "deletedFile", value: { path: "nope.txt" } }]), 404, { code: "EntryNotFound",
    mention: "A file with this name doesn't exist" });
  const folderDelete = await expectError(await commit(tok.aliceWrite, "alice/pub", [
    { key: "deletedFile", value: { path: "dir/" } }]), 400, { mention: "deletedFolder" });
  assert.match(folderDelete.error, /^line 2: invalid path 'dir\/': a path ending in '\/' names a folder/);
  const fileFolder = await expectError(await commit(tok.aliceWrite, "alice/pub", [
    { key: "file", value: { path: "dir/", content: "x" } }]), 400);
  assert.match(fileFolder.error, /names a folder, not a file/);
  const stale = await expectError(await commit(tok.aliceWrite, "alice/pub", [
    { key: "file", value: { path: "p.txt", content: "x" } }],
    { summary: "stale", parentCommit: "0".repeat(40) }), 412);
  assert.equal(stale.error.split("0".repeat(40)).length, 2, `"${stale.error}" names the parent once`);
  assert.ok(stale.error.includes(before), `"${stale.error}" names the branch head`);
  await expectError(await req("/api/models/alice/pub/commit/v0", { method: "POST",
    token: tok.aliceWrite, body: ndjson([]) }), 404, { code: "RevisionNotFound" });
  // Over --max-commit-file-bytes (256 KiB) and over --max-commit-body-bytes (1 MiB).
  await expectError(await commit(tok.aliceWrite, "alice/pub", [
    { key: "file", value: { path: "big.txt", content: b64("x".repeat(300000)), encoding: "base64" } }]), 413);
  await expectError(await req("/api/models/alice/pub/commit/main", { method: "POST",
    token: tok.aliceWrite, body: "x".repeat(2 * 1024 * 1024) }), 413);
  assert.equal(await headOf("alice/pub"), before, "no failed commit moved main");

  await expectError(await createRepo(tok.aliceWrite, "bad..name", {}), 400, { mention: "bad..name" });
  await expectError(await createRepo(tok.aliceWrite, "-lead", {}), 400, { mention: "-lead" });
  await expectError(await req("/api/repos/create", { method: "POST", token: tok.aliceWrite,
    body: "{not json" }), 400);
  await expectError(await req("/api/repos/create", { method: "POST", token: tok.aliceWrite,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: "x", pad: "y".repeat(70000) }) }), 413);
  await expectError(await req("/alice/pub/resolve/main/a%00b"), 400);
  await expectError(await req("/alice/pub/resolve/main/..%2Fsecret"), 400);
  await expectError(await req("/api/models/alice/pub/paths-info/main", { method: "POST",
    headers: { "Content-Type": "application/json" }, body: JSON.stringify({ paths: ["../x"] }) }), 400);
  await expectError(await req("/api/models?limit=abc"), 400, { mention: "abc" });
  await expectError(await req("/api/models?sort=bogus"), 400, { mention: "bogus" });
  const batch = await req("/alice/pub.git/info/lfs/objects/batch", { method: "POST",
    token: tok.aliceWrite, headers: { "Content-Type": "application/vnd.git-lfs+json" },
    body: JSON.stringify({ operation: "upload", objects: [{ oid: "xyz", size: -1 }] }) });
  assert.equal((await batch.json()).objects[0].error.code, 422);
});

test("listening beyond loopback without an admin account is refused", () => {
  const dir = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), "atelier-noadmin-"));
  const r = spawnSync(process.env.ATELIER_BIN, ["serve", "--data", dir, "--listen", "0.0.0.0:0"],
    { encoding: "utf8", timeout: 20000 });
  rmSync(dir, { recursive: true, force: true });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /atelier admin --data .* user add NAME --admin/);
});

test("datasets, settings, listing pages and git-lfs style Basic auth", async () => {
  const create = await req("/api/repos/create", { method: "POST", token: tok.bobWrite,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: "d1", organization: "bob", type: "dataset" }) });
  assert.equal(create.status, 200);
  assert.equal((await create.json()).url, `${daemon.url}/datasets/bob/d1`);
  const c = await req("/api/datasets/bob/d1/commit/main", { method: "POST", token: tok.bobWrite,
    body: ndjson([{ key: "file", value: { path: "train.jsonl", content: '{"text": "hi"}\n' } }]) });
  assert.equal(c.status, 200);
  assert.equal(await (await req("/datasets/bob/d1/resolve/main/train.jsonl")).text(), '{"text": "hi"}\n');
  await expectError(await req("/bob/d1/resolve/main/train.jsonl"), 404, { code: "RepoNotFound" });

  // Making the dataset private hides it from others, and from anonymous callers.
  const set = await req("/api/datasets/bob/d1/settings", { method: "PUT", token: tok.bobWrite,
    headers: { "Content-Type": "application/json" }, body: JSON.stringify({ private: true }) });
  assert.equal(set.status, 200);
  await expectError(await req("/datasets/bob/d1/resolve/main/train.jsonl"), 404, { code: "RepoNotFound",
    mention: "dataset bob/d1 does not exist or you have no access to it. If it is private, send " +
      "the token of a user who can read it (Authorization: Bearer hf_...)" });
  assert.equal((await req("/api/datasets/bob/d1", { token: tok.aliceWrite })).status, 200,
    "admins read every repo");
  assert.equal((await req("/api/datasets/bob/d1", { token: tok.bobWrite })).status, 200);
  // The model routes with the id of that private dataset reply as for an id that nothing has,
  // so they do not reveal that the dataset exists.
  for (const path of ["/api/models/bob/NAME", "/api/models/bob/NAME/tree/main",
    "/bob/NAME/resolve/main/train.jsonl", "/bob/NAME"]) {
    const privateDataset = await req(path.replace("NAME", "d1"));
    const nothing = await req(path.replace("NAME", "d9"));
    assert.equal(privateDataset.status, nothing.status, path);
    assert.equal((await privateDataset.text()).replaceAll("bob/d1", "bob/d9"),
      await nothing.text(), path);
  }

  const page1 = await req("/api/models?limit=1&sort=id&direction=1", { token: tok.aliceWrite });
  const first = await page1.json();
  assert.equal(first.length, 1);
  const link = page1.headers.get("link");
  assert.match(link, /^<http:\/\/127\.0\.0\.1:\d+\/api\/models\?limit=1&sort=id&direction=1&cursor=1>; rel="next"$/);
  const page2 = await (await fetch(link.slice(1, link.indexOf(">")), {
    headers: auth(tok.aliceWrite) })).json();
  assert.equal(page2.length, 1);
  assert.ok(first[0].id < page2[0].id, "sort=id&direction=1 lists ids in ascending order");

  const basic = "Basic " + Buffer.from("git:" + tok.bobWrite).toString("base64");
  const batch = await req("/datasets/bob/d1.git/info/lfs/objects/batch", { method: "POST",
    headers: { Authorization: basic, "Content-Type": "application/vnd.git-lfs+json; charset=utf-8" },
    body: JSON.stringify({ operation: "upload", transfers: ["lfs-standalone-file", "basic"],
      ref: { name: "refs/heads/main" }, objects: [{ oid: "c".repeat(64), size: 3 }] }) });
  assert.equal(batch.status, 200);
  assert.match(batch.headers.get("content-type"), /^application\/vnd\.git-lfs\+json/);
  assert.ok((await batch.json()).objects[0].actions.upload.href);
  const anon = await req("/datasets/bob/d1.git/info/lfs/objects/batch", { method: "POST",
    headers: { "Content-Type": "application/vnd.git-lfs+json" },
    body: JSON.stringify({ operation: "upload", objects: [{ oid: "c".repeat(64), size: 3 }] }) });
  // git-lfs requests a token from git's credential helper only after a 401, so anonymous
  // batch requests get 401, for a private repo and a missing one alike.
  assert.equal(anon.status, 401, "anonymous git-lfs callers are asked for credentials");
  assert.match(anon.headers.get("www-authenticate") ?? "", /^Basic /);
  await anon.arrayBuffer();
  const anonMissing = await req("/datasets/bob/no-such-repo.git/info/lfs/objects/batch", {
    method: "POST", headers: { "Content-Type": "application/vnd.git-lfs+json" },
    body: JSON.stringify({ operation: "download", objects: [{ oid: "c".repeat(64), size: 3 }] }) });
  assert.equal(anonMissing.status, 401, "a missing repo looks like a private one");
  await anonMissing.arrayBuffer();
  const metrics = await (await req("/metrics")).text();
  assert.match(metrics, /atelier_http_requests_total\{route="lfs.batch",status="200"\} [1-9]/);
  assert.match(metrics, /atelier_blob_store_bytes [1-9]\d*/);
});

test("organisation repos: members with write create, only org admins delete", async () => {
  admin(dataDir, ["org", "add", "class1"]);
  admin(dataDir, ["org", "member", "add", "class1", "bob", "--role", "write"]);
  const body = JSON.stringify({ name: "lab", organization: "class1", private: true });
  const created = await req("/api/repos/create", { method: "POST", token: tok.bobWrite,
    headers: { "Content-Type": "application/json" }, body });
  assert.equal(created.status, 200);
  const firstInfo = await (await req("/api/models/class1/lab", { token: tok.bobWrite })).json();
  assert.match(firstInfo._id, /^[0-9a-f]{24}$/, "_id has the Hub's 24 hex digits");
  const del = JSON.stringify({ name: "lab", organization: "class1", type: "model" });
  await expectError(await req("/api/repos/delete", { method: "DELETE", token: tok.bobWrite,
    headers: { "Content-Type": "application/json" }, body: del }), 403, { mention: "class1" });
  assert.equal((await req("/api/repos/delete", { method: "DELETE", token: tok.aliceWrite,
    headers: { "Content-Type": "application/json" }, body: del })).status, 200);
  await expectError(await req("/api/models/class1/lab", { token: tok.aliceWrite }), 404,
    { code: "RepoNotFound" });
  // SQLite may hand the deleted row id to the next repo; its _id still differs once the
  // creation second does. The daemon's time(2) may lag the precise clock by a few
  // milliseconds, hence the margin past the next second.
  const nextSecondMs = Date.parse(firstInfo.createdAt) + 1000 + 200;
  while (Date.now() < nextSecondMs) await new Promise((r) => setTimeout(r, 50));
  const again = await req("/api/repos/create", { method: "POST", token: tok.bobWrite,
    headers: { "Content-Type": "application/json" }, body });
  assert.equal(again.status, 200);
  const secondInfo = await (await req("/api/models/class1/lab", { token: tok.bobWrite })).json();
  assert.notEqual(secondInfo._id, firstInfo._id, "a re-created repo gets a new _id");
  assert.equal((await req("/api/repos/delete", { method: "DELETE", token: tok.aliceWrite,
    headers: { "Content-Type": "application/json" }, body: del })).status, 200);
  await expectError(await req("/api/repos/create", { method: "POST", token: tok.bobWrite,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: "x", organization: "alice" }) }), 403);
  await expectError(await req("/api/repos/create", { method: "POST", token: tok.bobWrite,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: "x", organization: "nobody" }) }), 404, { mention: "nobody" });
  // A namespace named like a URL prefix cannot hold repos, and the admin CLI does not create
  // one, so the API check is reached with a name that exists only in the request.
  assert.throws(() => admin(dataDir, ["org", "add", "models"]), /reserved for the hub's URLs/);
  await expectError(await req("/api/repos/create", { method: "POST", token: tok.aliceWrite,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: "x", organization: "models" }) }), 400, { mention: "models" });
});

test("preupload: upload modes, current oids and .gitignore", async () => {
  const r = await req("/api/models/alice/pub/preupload/main", { method: "POST",
    token: tok.aliceWrite, headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ gitIgnore: "# build output\n*.log\nlogs/\n", files: [
      { path: "config.json", size: 9, sample: b64('{"a": 1}\n') },
      { path: "notes.txt", size: 5, sample: b64("hello") },
      { path: "weights.safetensors", size: 100, sample: b64("x") },
      { path: "huge.txt", size: 20 * 1024 * 1024, sample: b64("text") },
      { path: "blob.dat", size: 4, sample: Buffer.from([1, 0, 2, 3]).toString("base64") },
      { path: "run.log", size: 3, sample: b64("log") },
      { path: "logs/a.txt", size: 3, sample: b64("log") },
    ] }) });
  assert.equal(r.status, 200);
  const body = await r.json();
  const by = Object.fromEntries(body.files.map((f) => [f.path, f]));
  assert.equal(by["config.json"].uploadMode, "regular");
  assert.match(by["config.json"].oid, /^[0-9a-f]{40}$/, "existing files report their oid");
  assert.equal(by["notes.txt"].oid, null);
  assert.equal(by["weights.safetensors"].uploadMode, "lfs");
  assert.equal(by["huge.txt"].uploadMode, "lfs");
  assert.equal(by["blob.dat"].uploadMode, "lfs");
  assert.equal(by["run.log"].shouldIgnore, true);
  assert.equal(by["logs/a.txt"].shouldIgnore, true);
  assert.equal(by["notes.txt"].shouldIgnore, false);
  assert.match(body.commitOid, /^[0-9a-f]{40}$/);
  await expectError(await req("/api/models/alice/pub/preupload/main", { method: "POST",
    token: tok.aliceWrite, headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ files: [{ path: "../x", size: 1 }] }) }), 400, { mention: "../x" });
});

test("the browser session cookie from the login page authenticates API calls", async () => {
  const form = await req("/login");
  const loginCookie = form.headers.get("set-cookie").split(";")[0];
  const csrf = loginCookie.split("=")[1];
  await form.text();
  const login = await fetch(`${daemon.url}/login`, { method: "POST", redirect: "manual",
    headers: { Cookie: loginCookie, "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ username: "alice", password: "password-alice", csrf }) });
  await login.text();
  const session = (login.headers.get("set-cookie") ?? "").split(";")[0];
  assert.match(session, /^atelier_session=./);
  const who = await req("/api/whoami-v2", { headers: { Cookie: session } });
  assert.equal(who.status, 200);
  assert.equal((await who.json()).name, "alice");
  assert.equal((await req("/api/models/alice/priv", { headers: { Cookie: session } })).status, 200);
  await expectError(await req("/api/whoami-v2", { headers: { Cookie: "atelier_session=forged" } }), 401);

  // A write with the cookie alone could come from another site's page: it needs the
  // session's CSRF token, which the pages embed in their forms.
  const createBody = JSON.stringify({ name: "from-browser", type: "model" });
  const jsonCookie = { Cookie: session, "Content-Type": "application/json" };
  await expectError(await req("/api/repos/create", { method: "POST", headers: jsonCookie,
    body: createBody }), 401);
  await expectError(await req("/api/repos/create", { method: "POST",
    headers: { ...jsonCookie, "X-CSRF-Token": "wrong" }, body: createBody }), 401);
  const settings = await req("/settings", { headers: { Cookie: session } });
  const sessionCsrf = (await settings.text()).match(/name="csrf" value="([^"]+)"/)?.[1];
  assert.ok(sessionCsrf, "the settings page carries the session's CSRF token");
  const created = await req("/api/repos/create", { method: "POST",
    headers: { ...jsonCookie, "X-CSRF-Token": sessionCsrf }, body: createBody });
  assert.equal(created.status, 200);
  await created.text();
});

// Logs name in through the login form with password and returns the response of the POST.
async function loginPost(name, password) {
  const form = await req("/login");
  const loginCookie = form.headers.get("set-cookie").split(";")[0];
  await form.text();
  const r = await fetch(`${daemon.url}/login`, { method: "POST", redirect: "manual",
    headers: { Cookie: loginCookie, "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ username: name, password, csrf: loginCookie.split("=")[1] }) });
  await r.text();
  return r;
}

async function sessionOf(name, password) {
  const r = await loginPost(name, password);
  assert.equal(r.status, 303, `login of ${name} redirects`);
  return r.headers.get("set-cookie").split(";")[0];
}

// Returns the status of whoami, of the first request of a git clone and of a git push of the
// public repo alice/pub, and of the settings page, for a token or a session cookie.
async function statusesOf({ token, cookie }) {
  const headers = cookie ? { Cookie: cookie } : {};
  const gitHeaders = token
    ? { Authorization: "Basic " + Buffer.from("git:" + token).toString("base64") } : headers;
  const who = await req("/api/whoami-v2", { token, headers });
  const git = await req("/alice/pub.git/info/refs?service=git-upload-pack", { headers: gitHeaders });
  const gitPush = await req("/alice/pub.git/info/refs?service=git-receive-pack",
    { headers: gitHeaders });
  const page = await fetch(daemon.url + "/settings", { headers: { ...auth(token), ...headers },
    redirect: "manual" });
  await Promise.all([who.arrayBuffer(), git.arrayBuffer(), gitPush.arrayBuffer(),
    page.arrayBuffer()]);
  return { whoami: who.status, git: git.status, gitPush: gitPush.status, settings: page.status,
    location: page.headers.get("location") };
}

test("a disabled user is locked out at once and enabled again", async () => {
  admin(dataDir, ["user", "add", "carol"], "password-carol\n");
  const token = createToken(dataDir, "carol", { write: true, label: "carol-laptop" });
  const cookie = await sessionOf("carol", "password-carol");
  // carol may read alice/pub but not write it. receive-pack admits her, because a reader may
  // push to the ref of a pull request she opened, and the pre-receive hook rejects the rest.
  assert.deepEqual(await statusesOf({ token }),
    { whoami: 200, git: 200, gitPush: 200, settings: 200, location: null });
  assert.equal((await statusesOf({ cookie })).settings, 200, "the session opens the pages");

  const out = admin(dataDir, ["user", "disable", "carol"]);
  assert.match(out, /disabled carol: 1 browser session\(s\) logged out/);
  // The token now counts as anonymous: the public repo stays readable, a push gets 401.
  assert.deepEqual(await statusesOf({ token }),
    { whoami: 401, git: 200, gitPush: 401, settings: 303, location: "/login?next=/settings" });
  const byCookie = await statusesOf({ cookie });
  assert.equal(byCookie.whoami, 401, "the old session cookie is rejected by the API");
  assert.equal(byCookie.settings, 303, "the pages treat the old session as logged out");
  assert.equal(byCookie.location, "/login?next=/settings");
  assert.equal((await loginPost("carol", "password-carol")).status, 401, "login is rejected");
  assert.match(admin(dataDir, ["user", "list"]), /^\d+ +carol +no +disabled /m);

  admin(dataDir, ["user", "enable", "carol"]);
  assert.equal((await statusesOf({ token })).whoami, 200, "the token works again");
  assert.equal((await statusesOf({ cookie })).whoami, 401, "a deleted session stays deleted");
  assert.equal((await statusesOf({ cookie: await sessionOf("carol", "password-carol") })).whoami,
    200, "carol can log in again");
});

test("a password change logs every browser session out", async () => {
  admin(dataDir, ["user", "add", "dave"], "password-dave\n");
  const first = await sessionOf("dave", "password-dave");
  const second = await sessionOf("dave", "password-dave");
  assert.equal((await statusesOf({ cookie: first })).whoami, 200);
  const out = admin(dataDir, ["user", "password", "dave"], "another-password\n");
  assert.match(out, /password of dave changed; 2 browser session\(s\) logged out/);
  for (const cookie of [first, second]) {
    const after = await statusesOf({ cookie });
    assert.equal(after.whoami, 401, "the API rejects a session from before the change");
    assert.equal(after.settings, 303, "the pages ask for a new login");
  }
  assert.equal((await loginPost("dave", "password-dave")).status, 401, "the old password fails");
  await sessionOf("dave", "another-password");
});

test("LFS upload with chunked transfer encoding", async () => {
  const data = Buffer.alloc(150000, 3);
  const { oid, object } = await uploadLfs(tok.aliceWrite, "alice/pub", data);
  // A stream body has no Content-Length, so fetch sends it chunked.
  const body = new ReadableStream({
    start(controller) {
      for (let off = 0; off < data.length; off += 40000) controller.enqueue(data.subarray(off, off + 40000));
      controller.close();
    },
  });
  const put = await fetch(object.actions.upload.href, { method: "PUT", body, duplex: "half" });
  assert.equal(put.status, 200);
  await put.arrayBuffer();
  const again = await uploadLfs(tok.aliceWrite, "alice/pub", data);
  assert.equal(again.object.actions, undefined, `${oid} is stored`);
});

test("repo _id in create reply and after re-create", async () => {
  const ids = new Set();
  for (let i = 0; i < 3; i++) {
    const r = await createRepo(tok.aliceWrite, "again", {});
    assert.equal(r.status, 200);
    const created = await r.json();
    assert.match(created.id, /^[0-9a-f]{24}$/);
    const info = await (await req("/api/models/alice/again", { token: tok.aliceWrite })).json();
    assert.equal(created.id, info._id);
    const listed = await (await req("/api/models?search=alice/again")).json();
    assert.equal(listed[0]._id, info._id);
    ids.add(created.id);
    const del = await req("/api/repos/delete", { method: "DELETE", token: tok.aliceWrite,
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: "again", organization: "alice", type: "model" }) });
    assert.equal(del.status, 200);
  }
  assert.equal(ids.size, 3, `every re-created repo has a new _id: ${[...ids]}`);
  const exists = await createRepo(tok.aliceWrite, "pub", {});
  assert.equal(exists.status, 409);
  const info = await (await req("/api/models/alice/pub")).json();
  assert.equal((await exists.json()).id, info._id, "the 409 reply names the existing repo's _id");
});

test("private and visibility value checks", async () => {
  for (const value of ["yes", "true", 1, 0]) {
    await expectError(await createRepo(tok.aliceWrite, "vis", { private: value }), 400,
      { mention: 'invalid "private": expected true or false' });
  }
  await expectError(await createRepo(tok.aliceWrite, "vis", { visibility: "protected" }), 400,
    { mention: "'protected'" });
  await expectError(await createRepo(tok.aliceWrite, "vis", { visibility: true }), 400,
    { mention: '"visibility"' });
  await expectError(await createRepo(tok.aliceWrite, "vis", { type: "space" }), 400,
    { mention: "spaces are not supported" });
  assert.equal((await req("/api/models/alice/vis", { token: tok.aliceWrite })).status, 404,
    "no rejected request made the repo");

  const settings = (body) => req("/api/models/alice/pub/settings", { method: "PUT",
    token: tok.aliceWrite, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  await expectError(await settings({ private: "true" }), 400,
    { mention: 'invalid "private": expected true or false' });
  await expectError(await settings({ visibility: "hidden" }), 400, { mention: "'hidden'" });
  const info = await (await req("/api/models/alice/pub")).json();
  assert.equal(info.private, false, "the repo stays public");
});

test("ids without namespace and spaces", async () => {
  for (const path of ["/api/models/gpt2", "/api/models/gpt2/revision/HEAD",
    "/api/datasets/squad", "/gpt2/resolve/main/config.json", "/gpt2/raw/main/config.json"]) {
    await expectError(await req(path), 404, { code: "RepoNotFound", mention: "namespace/name" });
  }
  for (const path of ["/api/models/gpt2/tree/main", "/api/models/gpt2/commits/main",
    "/api/models/gpt2/refs", "/api/models/gpt2/tree/main/sub/dir", "/api/datasets/squad/tree/main",
    "/api/datasets/squad/refs", "/datasets/squad/resolve/main/x.json", "/datasets/squad/raw/main/x.json"]) {
    const body = await expectError(await req(path), 404, { code: "RepoNotFound", mention: "namespace/name" });
    assert.ok(!/model datasets|gpt2\/refs|squad\/refs/.test(body.error), `${path}: ${body.error}`);
  }
  for (const route of ["preupload", "paths-info", "commit"]) {
    await expectError(await req(`/api/models/gpt2/${route}/main`, { method: "POST", token: tok.aliceWrite,
      headers: { "Content-Type": "application/json" }, body: "{}" }), 404,
      { code: "RepoNotFound", mention: "namespace/name" });
  }
  // Repos named tree, refs or commits keep their routes.
  for (const name of ["tree", "refs", "commits"]) {
    assert.equal((await createRepo(tok.aliceWrite, name, {})).status, 200);
    assert.equal((await req(`/api/models/alice/${name}`)).status, 200, `info of alice/${name}`);
    assert.equal((await req(`/api/models/alice/${name}/refs`)).status, 200, `refs of alice/${name}`);
    assert.equal((await req(`/api/models/alice/${name}/tree/main`)).status, 200, `tree of alice/${name}`);
    assert.equal((await req(`/api/models/alice/${name}/commits/main`)).status, 200,
      `commits of alice/${name}`);
  }
  // A repo named like the keyword of a route is still served by the repo routes.
  assert.equal((await createRepo(tok.aliceWrite, "revision", {})).status, 200);
  assert.equal((await req("/api/models/alice/revision/refs")).status, 200);
  assert.equal((await createRepo(tok.aliceWrite, "resolve", {})).status, 200);
  assert.equal((await req("/alice/resolve/resolve/main/.gitattributes")).status, 200);
  const refs = await req("/alice/resolve/info/refs?service=git-upload-pack");
  assert.equal(refs.status, 200, "git reaches a repo named resolve");
  assert.match(refs.headers.get("content-type"), /git-upload-pack-advertisement/);
  const page = await req("/alice/resolve/tree/main");
  assert.equal(page.status, 200, "the web page of a repo named resolve");
  assert.match(page.headers.get("content-type"), /^text\/html/);
  assert.equal((await createRepo(tok.aliceWrite, "raw", {})).status, 200);
  assert.equal((await req("/alice/raw/blob/main/.gitattributes")).status, 200);
  // So is a dataset of a namespace called resolve.
  addUser(dataDir, "resolve");
  tok.resolveWrite = createToken(dataDir, "resolve", { write: true, label: "resolve-write" });
  const dataset = await req("/api/repos/create", { method: "POST", token: tok.resolveWrite,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: "d1", organization: "resolve", type: "dataset" }) });
  assert.equal(dataset.status, 200);
  assert.equal((await req("/datasets/resolve/d1/resolve/main/.gitattributes")).status, 200);
  assert.equal((await req("/datasets/resolve/d1/info/refs?service=git-upload-pack")).status, 200);

  await expectError(await req("/api/spaces"), 404, { mention: "spaces are not supported" });
  await expectError(await req("/api/spaces/alice/app"), 404,
    { code: "RepoNotFound", mention: "spaces are not supported" });
});

test("errors for revisions, tree paths and cursors", async () => {
  const nope = await expectError(await req("/api/models/alice/pub/revision/nope"), 404,
    { code: "RevisionNotFound" });
  assert.equal(nope.error.split("nope").length - 1, 1, `names the revision once: ${nope.error}`);
  await expectError(await req("/api/models/alice/pub/revision/e4612"), 404,
    { code: "RevisionNotFound", mention: "at least 7 hex digits" });
  await expectError(await req("/api/models/alice/pub/tree/main/config.json"), 404,
    { code: "EntryNotFound", mention: "'config.json' is a file, not a folder" });
  // On a branch with a slash, the download hint encodes the revision, so the URL resolves.
  assert.equal((await req("/api/models/alice/pub/branch/hint%2Fy", { method: "POST",
    token: tok.aliceWrite, headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ startingPoint: "main" }) })).status, 200);
  const hint = await expectError(await req("/api/models/alice/pub/tree/hint%2Fy/config.json"), 404,
    { code: "EntryNotFound", mention: "resolve/hint%2Fy/config.json" });
  const hinted = hint.error.match(/resolve\/\S+/)[0];
  assert.equal((await req(`/alice/pub/${hinted}`)).status, 200, `${hinted} resolves`);
  await expectError(await req("/api/models/alice/pub/tree/main/missing"), 404,
    { code: "EntryNotFound", mention: "folder 'missing' not found" });
  for (const path of ["/api/models?cursor=zzz", "/api/models/alice/pub/tree/main?cursor=zzz",
    "/api/models/alice/pub/commits/main?cursor=zzz"]) {
    await expectError(await req(path), 400, { mention: "Link header" });
  }
  await expectError(await req("/api/models/alice/pub/tree/main?recursive=maybe"), 400,
    { mention: "expected true, false, 1 or 0" });
  assert.equal((await req("/api/models/alice/pub/tree/main?recursive=1")).status, 200);

  // A tree, commits, paths-info or preupload path without a revision gets the form it needs. The reply depends on
  // the path alone, so a private repo and a missing one get the same reply.
  const missingRevision = [
    { path: "/api/models/alice/pub/tree", form: "/api/models/alice/pub/tree", tail: "[/PATH]" },
    { path: "/api/models/alice/pub/tree/", form: "/api/models/alice/pub/tree", tail: "[/PATH]" },
    { path: "/api/models/alice/priv/tree", form: "/api/models/alice/priv/tree", tail: "[/PATH]" },
    { path: "/api/datasets/alice/nothing/tree", form: "/api/datasets/alice/nothing/tree",
      tail: "[/PATH]" },
    { path: "/api/models/alice/pub/commits", form: "/api/models/alice/pub/commits", tail: "" },
    { path: "/api/models/alice/pub/paths-info", form: "/api/models/alice/pub/paths-info", tail: "",
      init: { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ paths: ["README.md"] }) } },
    { path: "/api/models/alice/priv/paths-info/", form: "/api/models/alice/priv/paths-info",
      tail: "", init: { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ paths: ["README.md"] }) } },
    { path: "/api/models/alice/pub/preupload", form: "/api/models/alice/pub/preupload", tail: "",
      init: { method: "POST", token: tok.aliceWrite, headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ files: [] }) } },
  ];
  for (const c of missingRevision) {
    const r = await req(c.path, c.init);
    assert.equal(r.headers.get("x-error-code"), null, c.path);
    const body = await expectError(r, 400,
      { mention: `expected ${c.form}/REVISION${c.tail}, such as ${c.form}/main` });
    assert.match(body.error, /^missing revision in \/api\//, c.path);
  }
});


// A safetensors file: a little-endian u64 header length, the JSON header, then the data.
function safetensors(tensors) {
  const header = {};
  let offset = 0;
  for (const [name, { dtype, shape, bytesPerItem }] of Object.entries(tensors)) {
    const size = shape.reduce((a, b) => a * b, 1) * bytesPerItem;
    header[name] = { dtype, shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, Buffer.alloc(offset)]);
}

test("listing by pipeline_tag and unsupported parameters", async () => {
  assert.equal((await createRepo(tok.aliceWrite, "task-img", {})).status, 200);
  assert.equal((await createRepo(tok.aliceWrite, "task-txt", {})).status, 200);
  assert.equal((await commit(tok.aliceWrite, "alice/task-img", [{ key: "file",
    value: { path: "README.md", content: "---\npipeline_tag: image-classification\n---\n" } }])).status, 200);
  assert.equal((await commit(tok.aliceWrite, "alice/task-txt", [{ key: "file",
    value: { path: "README.md", content: "---\npipeline_tag: text-generation\n---\n" } }])).status, 200);

  const img = await (await req("/api/models?pipeline_tag=image-classification&search=task-")).json();
  assert.deepEqual(img.map((m) => m.id), ["alice/task-img"]);
  assert.equal(img[0].pipeline_tag, "image-classification");
  const none = await (await req("/api/models?pipeline_tag=translation&search=task-")).json();
  assert.deepEqual(none, []);

  await expectError(await req("/api/models?inference_provider=hf-inference"), 400,
    { mention: "'inference_provider'" });
  await expectError(await req("/api/datasets?gated=true"), 400, { mention: "'gated'" });
  await expectError(await req("/api/models?full=maybe"), 400, { mention: "maybe" });
  await expectError(await req("/api/models?cardData=yes"), 400, { mention: "yes" });
});

test("listing expand and cardData parameters", async () => {
  assert.equal((await createRepo(tok.aliceWrite, "expand-m", {})).status, 200);
  assert.equal((await commit(tok.aliceWrite, "alice/expand-m", [
    { key: "file", value: { path: "README.md", content: "---\nlicense: mit\n---\n" } },
    { key: "file", value: { path: "config.json",
      content: '{"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 8}' } },
    { key: "file", value: { path: "model.safetensors", encoding: "base64",
      content: safetensors({ w: { dtype: "F32", shape: [2, 3], bytesPerItem: 4 } }).toString("base64") } },
  ])).status, 200);
  const get = async (query) =>
    (await (await req(`/api/models?search=expand-m&${query}`)).json())[0];

  const plain = await get("");
  assert.equal(plain.cardData, undefined);
  assert.equal(plain.config, undefined);
  assert.equal(plain.safetensors, undefined);
  assert.equal((await get("cardData=false")).cardData, undefined);
  assert.deepEqual((await get("cardData=true")).cardData, { license: "mit" });
  assert.deepEqual((await get("expand=cardData")).cardData, { license: "mit" });
  assert.deepEqual((await get("expand%5B%5D=cardData")).cardData, { license: "mit" });
  assert.deepEqual((await get("expand=config")).config,
    { model_type: "llama", architectures: ["LlamaForCausalLM"] });
  assert.deepEqual((await get("expand=safetensors")).safetensors,
    { parameters: { F32: 6 }, total: 6 });
  const siblings = (await get("expand=siblings")).siblings.map((s) => s.rfilename);
  assert.ok(siblings.includes("model.safetensors"), `siblings: ${siblings}`);
});

test("info config and expanded safetensors", async () => {
  assert.equal((await createRepo(tok.aliceWrite, "st", {})).status, 200);
  assert.equal((await commit(tok.aliceWrite, "alice/st", [
    { key: "file", value: { path: "config.json",
      content: '{"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_layer": 2}' } },
    { key: "file", value: { path: "model-00001-of-00002.safetensors", encoding: "base64",
      content: safetensors({ a: { dtype: "F32", shape: [4, 4], bytesPerItem: 4 },
        b: { dtype: "BF16", shape: [3], bytesPerItem: 2 } }).toString("base64") } },
    { key: "file", value: { path: "sub/model-00002-of-00002.safetensors", encoding: "base64",
      content: safetensors({ c: { dtype: "F32", shape: [5], bytesPerItem: 4 } }).toString("base64") } },
    { key: "file", value: { path: "broken.safetensors", content: "not a header" } },
  ])).status, 200);

  const plain = await (await req("/api/models/alice/st")).json();
  assert.deepEqual(plain.config, { model_type: "gpt2", architectures: ["GPT2LMHeadModel"] });
  assert.equal(plain.safetensors, undefined, "safetensors only with expand");
  const expanded = await (await req("/api/models/alice/st/revision/main?expand=safetensors")).json();
  assert.deepEqual(expanded.safetensors, { parameters: { F32: 21, BF16: 3 }, total: 24 });
  const bracket = await (await req("/api/models/alice/st?expand%5B%5D=safetensors")).json();
  assert.deepEqual(bracket.safetensors, expanded.safetensors);
  assert.match(await waitForLog(daemon, /cannot read the safetensors header of alice\/st broken\.safetensors/),
    /req=\w+/);

  const noConfig = await (await req("/api/models/alice/pub")).json();
  assert.equal(noConfig.config, undefined, "config.json that is no model config");
});

test("repo whose git folder is gone answers 404", async () => {
  // A deletion removes the folder before the row, so a request in between finds no repo.
  assert.equal((await req("/api/repos/create", { method: "POST", token: tok.aliceWrite,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: "vanishing", organization: "alice" }) })).status, 200);
  rmSync(join(dataDir, "repos/models/alice/vanishing.git"), { recursive: true, force: true });
  for (const path of ["/api/models/alice/vanishing", "/api/models/alice/vanishing/tree/main",
    "/alice/vanishing/resolve/main/README.md"]) {
    await expectError(await req(path), 404, { code: "RepoNotFound" });
  }
  const warned = /warn hf: git repo of alice\/vanishing is missing, so it counts as not found/;
  assert.match(await waitForLog(daemon, warned), warned);
});
