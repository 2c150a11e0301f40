// Pull requests against a real daemon: commits with create_pr=1 and to refs/pr/N, the
// discussions API (list, details, create, merge, status), who may do what, LFS uploads by a
// reader who proposes a change, merge conflicts, git fetch of refs/pr/N, and the
// @huggingface/hub client's commit with isPullRequest.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { addUser, prepareDataDir, createToken, startDaemon } from "./daemon.mjs";

const hubPath = join(process.env.ATELIER_SOURCE_ROOT, "tests/js/node_modules/@huggingface/hub");
const hub = await import(join(hubPath, "dist/index.mjs"));

let daemon, dataDir;
const tok = {};

// alice owns the repos; bob and carol may read the public ones only.
before(async () => {
  dataDir = prepareDataDir();
  addUser(dataDir, "carol");
  tok.alice = createToken(dataDir, "alice", { write: true, label: "alice-write" });
  tok.bob = createToken(dataDir, "bob", { write: true, label: "bob-write" });
  tok.bobRead = createToken(dataDir, "bob", { write: false, label: "bob-read" });
  tok.carol = createToken(dataDir, "carol", { write: true, label: "carol-write" });
  daemon = await startDaemon({ dataDir });
  for (const [name, priv] of [["course", false], ["conflicts", false], ["secret", true],
    ["lfs", false], ["gitpr", false], ["client", false], ["resolve", false],
    ["pushmerge", false], ["race", false], ["rebased", false], ["mainin", false],
    ["pushed", false]]) {
    const r = await req("/api/repos/create", { method: "POST", token: tok.alice,
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name, type: "model", private: priv }) });
    assert.equal(r.status, 200, `create ${name}`);
    const c = await commit(tok.alice, `alice/${name}`, "main", [file("config.json", '{"a": 1}\n')]);
    assert.equal(c.status, 200, `first commit of ${name}`);
  }
});

after(async () => {
  const code = await daemon.stop();
  rmSync(dataDir, { recursive: true, force: true });
  assert.equal(code, 0, "daemon exits 0 on SIGTERM");
});

const auth = (t) => (t ? { Authorization: `Bearer ${t}` } : {});
const enc = encodeURIComponent;

function req(path, { method = "GET", token, headers = {}, body, redirect = "follow" } = {}) {
  return fetch(daemon.url + path, { method, headers: { ...auth(token), ...headers }, body,
    redirect });
}

function file(path, text) {
  return { key: "file", value: { path, content: Buffer.from(text).toString("base64"),
    encoding: "base64" } };
}

function commit(token, id, rev, lines, { createPr = false, summary = "test commit",
  description = "", parentCommit } = {}) {
  const header = { summary, description, ...(parentCommit ? { parentCommit } : {}) };
  const body = [{ key: "header", value: header }, ...lines].map((l) => JSON.stringify(l)).join("\n");
  return req(`/api/models/${id}/commit/${enc(rev)}${createPr ? "?create_pr=1" : ""}`,
    { method: "POST", token, headers: { "Content-Type": "application/x-ndjson" }, body });
}

function postJson(path, token, body) {
  return req(path, { method: "POST", token, headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body) });
}

async function refsOf(id) {
  return (await req(`/api/models/${id}/refs?include_prs=1`, { token: tok.alice })).json();
}

async function headOf(id, branch = "main") {
  return (await refsOf(id)).branches.find((b) => b.name === branch).targetCommit;
}

async function expectError(r, status, mention) {
  assert.equal(r.status, status, `status of ${r.url}`);
  assert.match(r.headers.get("content-type") ?? "", /^application\/json/);
  const body = await r.json();
  assert.equal(typeof body.error, "string", "the error is JSON {error}");
  if (mention) assert.match(body.error, mention);
  return body;
}

async function resolveText(id, rev, path, token = tok.alice) {
  const r = await req(`/${id}/resolve/${enc(rev)}/${path}`, { token });
  assert.equal(r.status, 200, `resolve ${rev}/${path}`);
  return r.text();
}

test("reader opens a pull request with create_pr", async () => {
  const mainBefore = await headOf("alice/course");
  const r = await commit(tok.bob, "alice/course", "main", [file("adapter.txt", "better\n")],
    { createPr: true, summary: "Better adapter", description: "Tuned on more data" });
  assert.equal(r.status, 200);
  const body = await r.json();
  assert.match(body.pullRequestUrl, /\/alice\/course\/discussions\/1$/);
  assert.match(body.commitOid, /^[0-9a-f]{40}$/);

  assert.equal(await headOf("alice/course"), mainBefore, "main does not move");
  const refs = await refsOf("alice/course");
  assert.deepEqual(refs.pullRequests.map((p) => [p.ref, p.targetCommit]),
    [["refs/pr/1", body.commitOid]]);

  // refs/pr/1 resolves as a revision in info, tree and resolve.
  const info = await (await req(`/api/models/alice/course/revision/${enc("refs/pr/1")}`)).json();
  assert.equal(info.sha, body.commitOid);
  const tree = await (await req("/api/models/alice/course/tree/refs/pr/1")).json();
  assert.ok(tree.some((e) => e.path === "adapter.txt"), "tree of refs/pr/1 lists the new file");
  const treeEncoded = await (await req(`/api/models/alice/course/tree/${enc("refs/pr/1")}`)).json();
  assert.deepEqual(treeEncoded.map((e) => e.path), tree.map((e) => e.path));
  assert.equal(await resolveText("alice/course", "refs/pr/1", "adapter.txt"), "better\n");
  const onMain = await req("/alice/course/resolve/main/adapter.txt");
  assert.equal(onMain.status, 404, "the file is not on main");

  const commitInfo = await (await req(`/api/models/alice/course/commits/${enc("refs/pr/1")}`)).json();
  assert.equal(commitInfo[1].id, mainBefore, "the pull request starts at the head of main");
});

test("reader still cannot commit to a branch", async () => {
  const denied = await expectError(await commit(tok.bob, "alice/course", "main",
    [file("x.txt", "x")]), 403, /may read but not write alice\/course/);
  assert.match(denied.error, /create_pr=1/, "the reader learns how to propose the change");
  assert.match(denied.error, /isPullRequest/);
  const preupload = await postJson("/api/models/alice/course/preupload/main", tok.bob,
    { files: [{ path: "x.txt", size: 1, sample: "eA==" }] });
  await expectError(preupload, 403, /create_pr=1/);
  const other = await postJson("/api/models/alice/course/discussions/1/merge", tok.bob, {});
  const otherBody = await expectError(other, 403);
  assert.doesNotMatch(otherBody.error, /create_pr/, "the hint is for commits only");
  const noBranch = await expectError(await commit(tok.bob, "alice/course", "nobranch",
    [file("x.txt", "x")], { createPr: true }), 404, /branch 'nobranch' not found in alice\/course/);
  assert.doesNotMatch(noBranch.error, /Invalid rev id/);
  await expectError(await commit(tok.bobRead, "alice/course", "main", [file("x.txt", "x")],
    { createPr: true }), 403, /read-only/);
  await expectError(await commit(undefined, "alice/course", "main", [file("x.txt", "x")],
    { createPr: true }), 401);
});

test("author and writers add commits to refs/pr/N", async () => {
  const first = (await refsOf("alice/course")).pullRequests[0].targetCommit;
  const r = await commit(tok.bob, "alice/course", "refs/pr/1", [file("card.md", "card\n")],
    { summary: "Fix the card" });
  assert.equal(r.status, 200);
  const second = (await r.json()).commitOid;
  const log = await (await req(`/api/models/alice/course/commits/${enc("refs/pr/1")}`)).json();
  assert.equal(log[0].id, second);
  assert.equal(log[1].id, first);

  await expectError(await commit(tok.carol, "alice/course", "refs/pr/1", [file("y.txt", "y")]),
    403, /only its author/);
  const byOwner = await commit(tok.alice, "alice/course", "refs/pr/1", [file("z.txt", "z")],
    { summary: "Owner touch-up" });
  assert.equal(byOwner.status, 200);
  await expectError(await commit(tok.bob, "alice/course", "refs/pr/99", [file("y.txt", "y")]),
    404);
  await expectError(await commit(tok.bob, "alice/course", "refs/pr/1", [file("y.txt", "y")],
    { createPr: true }), 400, /create_pr/);
});

test("discussions list and details", async () => {
  const list = await (await req("/api/models/alice/course/discussions")).json();
  assert.equal(list.count, 1);
  assert.equal(list.start, 0);
  const [pr] = list.discussions;
  assert.equal(pr.num, 1);
  assert.equal(pr.title, "Better adapter");
  assert.equal(pr.status, "open");
  assert.equal(pr.isPullRequest, true);
  assert.equal(pr.author.name, "bob");
  assert.deepEqual(pr.repo, { name: "alice/course", type: "model" });

  const closed = await (await req("/api/models/alice/course/discussions?status=closed")).json();
  assert.equal(closed.count, 0);
  const byCarol = await (await req("/api/models/alice/course/discussions?author=carol")).json();
  assert.equal(byCarol.count, 0);
  await expectError(await req("/api/models/alice/course/discussions?status=bogus"), 400, /bogus/);

  const details = await (await req("/api/models/alice/course/discussions/1")).json();
  assert.equal(details.changes.base, "refs/heads/main");
  assert.equal(details.changes.headCommit,
    (await refsOf("alice/course")).pullRequests[0].targetCommit);
  assert.deepEqual(details.filesWithConflicts, []);
  const commits = details.events.filter((e) => e.type === "commit").map((e) => e.data.subject);
  assert.deepEqual(commits, ["Better adapter", "Fix the card", "Owner touch-up"]);
  const comment = details.events.find((e) => e.type === "comment");
  assert.equal(comment.data.latest.raw, "Tuned on more data");
  await expectError(await req("/api/models/alice/course/discussions/7"), 404);
  await expectError(await req("/api/models/alice/course/discussions/abc"), 400,
    /'abc': expected a positive integer/);
});

test("reader cannot merge; writer merges with a fast-forward", async () => {
  const denied = await expectError(await postJson("/api/models/alice/course/discussions/1/merge",
    tok.bob, {}), 403, /^user bob may not merge pull request #1 of alice\/course: /);
  assert.match(denied.error, /only writers of the repo may merge pull requests/);
  await expectError(await postJson("/api/models/alice/course/discussions/1/merge", undefined, {}),
    401);
  const prHead = (await refsOf("alice/course")).pullRequests[0].targetCommit;
  const r = await postJson("/api/models/alice/course/discussions/1/merge", tok.alice, {});
  assert.equal(r.status, 200);
  const body = await r.json();
  assert.equal(body.fastForward, true);
  assert.equal(body.mergeCommitId, prHead);
  assert.equal(await headOf("alice/course"), prHead, "main moved to the pull request");
  assert.equal(await resolveText("alice/course", "main", "adapter.txt"), "better\n");
  const info = await (await req("/api/models/alice/course")).json();
  assert.equal(info.sha, prHead, "repo info sees the merge");

  const details = await (await req("/api/models/alice/course/discussions/1")).json();
  assert.equal(details.status, "merged");
  assert.equal(details.changes.mergeCommitId, prHead);
  await expectError(await postJson("/api/models/alice/course/discussions/1/merge", tok.alice, {}),
    409, /^pull request #1 is already merged$/);
  await expectError(await commit(tok.bob, "alice/course", "refs/pr/1", [file("late.txt", "l")]),
    409, /^pull request #1 is merged; commits go only to open pull requests, so open a new one$/);
  await expectError(await postJson("/api/models/alice/course/discussions/1/status", tok.bob,
    { status: "open" }), 409, /merged/);
});

test("merge of a diverged pull request makes a merge commit", async () => {
  const opened = await commit(tok.bob, "alice/course", "main", [file("b-side.txt", "pr\n")],
    { createPr: true, summary: "Add b-side" });
  assert.equal(opened.status, 200);
  assert.match((await opened.json()).pullRequestUrl, /\/discussions\/2$/);
  const onMain = await commit(tok.alice, "alice/course", "main", [file("a-side.txt", "main\n")]);
  assert.equal(onMain.status, 200);
  const mainHead = (await onMain.json()).commitOid;

  const r = await postJson("/api/models/alice/course/discussions/2/merge", tok.alice, {});
  assert.equal(r.status, 200);
  const body = await r.json();
  assert.equal(body.fastForward, false);
  assert.equal(await headOf("alice/course"), body.mergeCommitId);
  assert.equal(await resolveText("alice/course", "main", "a-side.txt"), "main\n");
  assert.equal(await resolveText("alice/course", "main", "b-side.txt"), "pr\n");
  const log = await (await req("/api/models/alice/course/commits/main")).json();
  assert.equal(log[0].id, body.mergeCommitId);
  assert.match(log[0].title, /Merge pull request #2/);
  assert.equal(log[1].id, mainHead, "the first parent is the old head of main");
});

test("merge conflict answers 409 and changes nothing", async () => {
  const opened = await commit(tok.bob, "alice/conflicts", "main",
    [file("config.json", '{"a": 2}\n')], { createPr: true, summary: "Set a to 2" });
  assert.equal(opened.status, 200);
  const onMain = await commit(tok.alice, "alice/conflicts", "main",
    [file("config.json", '{"a": 3}\n')]);
  assert.equal(onMain.status, 200);
  const mainHead = (await onMain.json()).commitOid;

  const details = await (await req("/api/models/alice/conflicts/discussions/1")).json();
  assert.deepEqual(details.filesWithConflicts, ["config.json"]);
  const body = await expectError(
    await postJson("/api/models/alice/conflicts/discussions/1/merge", tok.alice, {}), 409,
    /conflicts with branch 'main' in file config\.json\./);
  assert.deepEqual(body.filesWithConflicts, ["config.json"]);
  assert.doesNotMatch(body.error, /commit a resolution/, "that advice never worked");
  assert.match(body.error, /fetch refs\/pr\/1, merge it into main/);
  assert.match(body.error, /open a new pull request on top of the current main/);
  assert.match(body.error, /The author can merge main into refs\/pr\/1 with git, fix the conflicts and push refs\/pr\/1/);
  assert.match(body.error, /The git commands are in docs\/git\.md, Resolving a conflict\.$/);
  assert.equal(await headOf("alice/conflicts"), mainHead, "main does not move");
  const after = await (await req("/api/models/alice/conflicts/discussions/1")).json();
  assert.equal(after.status, "open");
});

test("merge into a deleted branch answers 409", async () => {
  const made = await postJson("/api/models/alice/course/branch/feat/gone", tok.alice, {});
  assert.equal(made.status, 200);
  const opened = await commit(tok.bob, "alice/course", "feat/gone", [file("gone.txt", "pr\n")],
    { createPr: true, summary: "Add to a branch that goes away" });
  assert.equal(opened.status, 200);
  const number = (await opened.json()).pullRequestUrl.split("/").pop();
  const deleted = await req("/api/models/alice/course/branch/feat/gone", { method: "DELETE",
    token: tok.alice });
  assert.equal(deleted.status, 200);

  await expectError(
    await postJson(`/api/models/alice/course/discussions/${number}/merge`, tok.alice, {}), 409,
    /targets branch 'feat\/gone', which no longer exists; create the branch again or close/);
  const after = await (await req(`/api/models/alice/course/discussions/${number}`)).json();
  assert.equal(after.status, "open");
});

test("close and reopen a pull request", async () => {
  await expectError(await postJson("/api/models/alice/conflicts/discussions/1/status", tok.carol,
    { status: "closed" }), 403, /only its author/);
  await expectError(await postJson("/api/models/alice/conflicts/discussions/1/status", tok.bob,
    { status: "merged" }), 400, /merge/);
  const closed = await postJson("/api/models/alice/conflicts/discussions/1/status", tok.bob,
    { status: "closed" });
  assert.equal(closed.status, 200);
  const event = (await closed.json()).newStatus;
  assert.equal(event.type, "status-change");
  assert.equal(event.data.status, "closed");
  const list = await (await req("/api/models/alice/conflicts/discussions?status=closed")).json();
  assert.deepEqual(list.discussions.map((d) => d.num), [1]);
  await expectError(await commit(tok.bob, "alice/conflicts", "refs/pr/1", [file("c.txt", "c")]),
    409, /^pull request #1 is closed; commits go only to open pull requests, so reopen it or open a new one$/);
  await expectError(await postJson("/api/models/alice/conflicts/discussions/1/merge", tok.alice,
    {}), 409, /closed/);

  const reopened = await postJson("/api/models/alice/conflicts/discussions/1/status", tok.alice,
    { status: "open" });
  assert.equal(reopened.status, 200);
  const details = await (await req("/api/models/alice/conflicts/discussions/1")).json();
  assert.equal(details.status, "open");
});

// Returns the status-change events of pull request num of repo id.
async function statusEvents(id, num) {
  const r = await req(`/api/models/${id}/discussions/${num}`);
  assert.equal(r.status, 200, `details of ${id} #${num}`);
  return (await r.json()).events.filter((e) => e.type === "status-change");
}

test("status changes name their authors", async () => {
  const id = "alice/history";
  const created = await postJson("/api/repos/create", tok.alice, { name: "history", type: "model" });
  assert.equal(created.status, 200);
  assert.equal((await commit(tok.alice, id, "main", [file("config.json", "{}\n")])).status, 200);
  const opened = await commit(tok.bob, id, "main", [file("notes.md", "n\n")],
    { createPr: true, summary: "Add notes", description: "Please review" });
  assert.equal(opened.status, 200);
  const url = `/api/models/${id}/discussions/1/status`;
  assert.deepEqual(await statusEvents(id, 1), [], "an open pull request has no status change");

  const closed = (await (await postJson(url, tok.bob, { status: "closed" })).json()).newStatus;
  assert.equal(closed.author.name, "bob");
  assert.equal(closed.data.status, "closed");
  const reopened = (await (await postJson(url, tok.alice, { status: "open" })).json()).newStatus;
  assert.equal(reopened.author.name, "alice");
  assert.equal(reopened.data.status, "open");
  assert.notEqual(reopened.id, closed.id, "the close and the reopen have their own ids");

  // Reopening an open pull request changes nothing and names the reopen that opened it.
  const again = (await (await postJson(url, tok.bob, { status: "open" })).json()).newStatus;
  assert.equal(again.id, reopened.id);
  assert.equal(again.author.name, "alice");

  const merged = await postJson(`/api/models/${id}/discussions/1/merge`, tok.alice, {});
  assert.equal(merged.status, 200);
  const mergedEvent = (await merged.json()).newStatus;
  assert.equal(mergedEvent.author.name, "alice");
  assert.equal(mergedEvent.data.status, "merged");

  const events = await statusEvents(id, 1);
  assert.deepEqual(events.map((e) => [e.data.status, e.author.name]),
    [["closed", "bob"], ["open", "alice"], ["merged", "alice"]]);
  assert.deepEqual(events.map((e) => e.id), [closed.id, reopened.id, mergedEvent.id],
    "the replies and the details give each change the same id");
  assert.equal(new Set(events.map((e) => e.id)).size, 3, "ids are distinct");
  assert.deepEqual((await statusEvents(id, 1)).map((e) => e.id), events.map((e) => e.id),
    "ids are the same on the next read");
  for (const e of events)
    assert.match(e.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/, "createdAt is an ISO time");

  // The description comes first, then the commit, then the status changes.
  const all = (await (await req(`/api/models/${id}/discussions/1`)).json()).events;
  assert.deepEqual(all.map((e) => e.type),
    ["comment", "commit", "status-change", "status-change", "status-change"]);

  const page = await (await req(`/${id}/discussions/1`)).text();
  assert.match(page, /<h2>Status changes<\/h2>/);
  assert.match(page, /Closed by bob .*Reopened by alice .*Merged by alice /s);
});

test("empty pull request through the discussions API", async () => {
  await expectError(await postJson("/api/models/alice/conflicts/discussions", tok.bob,
    { title: "Just talk", description: "" }), 400, /pullRequest/);
  await expectError(await postJson("/api/models/alice/conflicts/discussions", tok.bob,
    { pullRequest: true }), 400, /title/);
  const r = await postJson("/api/models/alice/conflicts/discussions", tok.bob,
    { title: "Rename the tokenizer", description: "Will push soon", pullRequest: true });
  assert.equal(r.status, 200);
  const pr = await r.json();
  assert.equal(pr.num, 2);
  assert.equal(pr.status, "open");
  const refs = await refsOf("alice/conflicts");
  assert.equal(refs.pullRequests.find((p) => p.ref === "refs/pr/2").targetCommit,
    await headOf("alice/conflicts"), "the new ref starts at the head of main");
  await expectError(await postJson("/api/models/alice/conflicts/discussions/2/merge", tok.alice,
    {}), 400, /no commits/);
  const added = await commit(tok.bob, "alice/conflicts", "refs/pr/2", [file("tok.txt", "t")]);
  assert.equal(added.status, 200);
  const merged = await postJson("/api/models/alice/conflicts/discussions/2/merge", tok.alice, {});
  assert.equal(merged.status, 200);
  assert.equal(await resolveText("alice/conflicts", "main", "tok.txt"), "t");
});

test("long commit message becomes a cut title", async () => {
  const summary = "é".repeat(150);
  const description = "d".repeat(5000);
  const r = await commit(tok.bob, "alice/conflicts", "main", [file("long.txt", "l")],
    { createPr: true, summary, description });
  assert.equal(r.status, 200);
  const num = Number((await r.json()).pullRequestUrl.split("/").pop());
  const details = await (await req(`/api/models/alice/conflicts/discussions/${num}`)).json();
  assert.equal(details.title, "é".repeat(100), "cut at 200 bytes, on a character boundary");
  assert.equal(details.description.length, 4096);
  const log = await (await req(`/api/models/alice/conflicts/commits/${enc(`refs/pr/${num}`)}`)).json();
  assert.equal(log[0].title, summary, "the commit keeps the whole summary");
});

test("dataset pull request URLs", async () => {
  const created = await req("/api/repos/create", { method: "POST", token: tok.alice,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: "rows", type: "dataset" }) });
  assert.equal(created.status, 200);
  const body = [{ key: "header", value: { summary: "Fix a row", description: "" } },
    file("train.jsonl", '{"text": "fixed"}\n')].map((l) => JSON.stringify(l)).join("\n");
  const r = await req("/api/datasets/alice/rows/commit/main?create_pr=true", { method: "POST",
    token: tok.bob, headers: { "Content-Type": "application/x-ndjson" }, body });
  assert.equal(r.status, 200);
  assert.match((await r.json()).pullRequestUrl, /\/datasets\/alice\/rows\/discussions\/1$/);
  const details = await (await req("/api/datasets/alice/rows/discussions/1")).json();
  assert.deepEqual(details.repo, { name: "alice/rows", type: "dataset" });
  const page = await req("/datasets/alice/rows/discussions/1");
  assert.equal(page.status, 200);
  assert.match(await page.text(), /Fix a row/);
});

// Logs user in through the login form and returns the session cookie.
async function login(user) {
  const form = await req("/login");
  const loginCookie = form.headers.get("set-cookie").split(";")[0];
  const csrf = loginCookie.split("=")[1];
  const r = await req("/login", { method: "POST", redirect: "manual",
    headers: { Cookie: loginCookie, "Content-Type": "application/x-www-form-urlencoded" },
    body: `csrf=${enc(csrf)}&username=${user}&password=password-${user}` });
  assert.equal(r.status, 303, "login redirects");
  return r.headers.get("set-cookie").split(";")[0];
}

test("web merge records the base model", async () => {
  const created = await req("/api/repos/create", { method: "POST", token: tok.alice,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: "lora", type: "model" }) });
  assert.equal(created.status, 200);
  const card = "---\nbase_model: alice/course\n---\n# LoRA\n";
  const opened = await commit(tok.bob, "alice/lora", "main", [file("README.md", card)],
    { createPr: true, summary: "Name the base model" });
  assert.equal(opened.status, 200);

  const session = await login("alice");
  const page = await req("/alice/lora/discussions/1", { headers: { Cookie: session } });
  const html = await page.text();
  const csrf = html.match(/name="csrf" value="([^"]+)"/);
  assert.ok(csrf, "the page has a form with a CSRF token");
  assert.match(html, />Merge<\/button>/);
  const merged = await req("/alice/lora/discussions/1/merge", { method: "POST",
    redirect: "manual", body: `csrf=${enc(csrf[1])}`,
    headers: { Cookie: session, "Content-Type": "application/x-www-form-urlencoded" } });
  assert.equal(merged.status, 303);
  assert.equal(merged.headers.get("location"), "/alice/lora/discussions/1");

  const details = await (await req("/api/models/alice/lora/discussions/1")).json();
  assert.equal(details.status, "merged");
  const changes = details.events.filter((e) => e.type === "status-change");
  assert.deepEqual(changes.map((e) => [e.data.status, e.author.name]), [["merged", "alice"]]);
  const info = await (await req("/api/models/alice/lora")).json();
  assert.equal(info.sha, details.changes.mergeCommitId);
  assert.equal(info.baseModel, "alice/course", "the merge on the page records the base model");
});

test("private repo: a non-reader gets 404 everywhere", async () => {
  await expectError(await commit(tok.bob, "alice/secret", "main", [file("x.txt", "x")],
    { createPr: true }), 404);
  await expectError(await req("/api/models/alice/secret/discussions", { token: tok.bob }), 404);
  await expectError(await postJson("/api/models/alice/secret/discussions", tok.bob,
    { title: "t", pullRequest: true }), 404);
  await expectError(await req("/api/models/alice/secret/discussions/1", { token: tok.bob }), 404);
  await expectError(await postJson("/api/models/alice/secret/discussions/1/merge", tok.bob, {}),
    404);
  const own = await commit(tok.alice, "alice/secret", "main", [file("x.txt", "x")],
    { createPr: true });
  assert.equal(own.status, 200, "the owner may open one");
  await expectError(await req("/api/models/alice/secret/discussions/1", { token: tok.bob }), 404);
});

function batch(token, id, oid, size, ref) {
  return req(`/${id}.git/info/lfs/objects/batch`, { method: "POST", token,
    headers: { "Content-Type": "application/vnd.git-lfs+json", Accept: "application/vnd.git-lfs+json" },
    body: JSON.stringify({ operation: "upload", transfers: ["basic"], hash_algo: "sha256",
      ...(ref ? { ref: { name: ref } } : {}), objects: [{ oid, size }] }) });
}

test("reader uploads LFS files for a pull request, not for a branch", async () => {
  const data = Buffer.alloc(150000, 3);
  const oid = createHash("sha256").update(data).digest("hex");
  await expectError(await batch(tok.bob, "alice/lfs", oid, data.length, "main"), 403);
  await expectError(await batch(tok.bob, "alice/lfs", oid, data.length, "refs/heads/main"), 403);
  await expectError(await batch(tok.bobRead, "alice/lfs", oid, data.length), 403, /read-only/);
  await expectError(await batch(tok.bob, "alice/secret", oid, data.length), 404);

  // Hub clients send no ref while they open a pull request.
  const b = await batch(tok.bob, "alice/lfs", oid, data.length);
  assert.equal(b.status, 200);
  const object = (await b.json()).objects[0];
  assert.ok(object.actions.upload.href, "the reader gets an upload action");
  assert.equal((await fetch(object.actions.upload.href, { method: "PUT", body: data })).status, 200);
  const lfsLine = { key: "lfsFile", value: { path: "weights.bin", algo: "sha256", oid,
    size: data.length } };
  const opened = await commit(tok.bob, "alice/lfs", "main", [lfsLine],
    { createPr: true, summary: "Add weights" });
  assert.equal(opened.status, 200);
  const r = await req(`/alice/lfs/resolve/${enc("refs/pr/1")}/weights.bin`);
  assert.equal(r.status, 200);
  assert.equal(Buffer.from(await r.arrayBuffer()).compare(data), 0);

  // With the pull request's ref: its author may upload, another reader may not.
  const more = Buffer.alloc(150000, 4);
  const moreOid = createHash("sha256").update(more).digest("hex");
  assert.equal((await batch(tok.bob, "alice/lfs", moreOid, more.length, "refs/pr/1")).status, 200);
  await expectError(await batch(tok.carol, "alice/lfs", moreOid, more.length, "refs/pr/1"), 403);
  await expectError(await batch(tok.bob, "alice/lfs", moreOid, more.length, "refs/pr/5"), 404);
  // A commit to the pull request with an object that was never uploaded is rejected.
  const missing = await commit(tok.bob, "alice/lfs", "refs/pr/1", [{ key: "lfsFile",
    value: { path: "more.bin", algo: "sha256", oid: moreOid, size: more.length } }]);
  await expectError(missing, 422, /upload it/);

  const merged = await postJson("/api/models/alice/lfs/discussions/1/merge", tok.alice, {});
  assert.equal(merged.status, 200);
  const onMain = await req("/alice/lfs/resolve/main/weights.bin");
  assert.equal(Buffer.from(await onMain.arrayBuffer()).compare(data), 0);
});

test("git fetches refs/pr/N and pushes to it", async () => {
  const opened = await commit(tok.bob, "alice/gitpr", "main", [file("pr.txt", "from pr\n")],
    { createPr: true, summary: "Git visible" });
  assert.equal(opened.status, 200);
  const prHead = (await opened.json()).commitOid;

  const work = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), "atelier-pr-"));
  const remote = `http://alice:${tok.alice}@127.0.0.1:${daemon.port}/alice/gitpr`;
  const env = { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_LFS_SKIP_SMUDGE: "1",
    GIT_AUTHOR_NAME: "alice", GIT_AUTHOR_EMAIL: "alice@example.org",
    GIT_COMMITTER_NAME: "alice", GIT_COMMITTER_EMAIL: "alice@example.org" };
  const git = (...args) => spawnSync("git", args, { cwd: work, env, encoding: "utf8" });
  try {
    const remoteRefs = git("ls-remote", remote);
    assert.equal(remoteRefs.status, 0, remoteRefs.stderr);
    assert.match(remoteRefs.stdout, new RegExp(`^${prHead}\\s+refs/pr/1$`, "m"));
    assert.equal(git("clone", "-q", remote, "clone").status, 0);
    const fetched = git("-C", "clone", "fetch", "-q", "origin", "refs/pr/1");
    assert.equal(fetched.status, 0, fetched.stderr);
    assert.equal(git("-C", "clone", "rev-parse", "FETCH_HEAD").stdout.trim(), prHead);
    assert.equal(git("-C", "clone", "show", "FETCH_HEAD:pr.txt").stdout, "from pr\n");

    writeFileSync(join(work, "clone", "pushed.txt"), "pushed\n");
    git("-C", "clone", "checkout", "-q", "FETCH_HEAD");
    git("-C", "clone", "add", "pushed.txt");
    assert.equal(git("-C", "clone", "commit", "-q", "-m", "Push to the PR").status, 0);
    const pushedHead = git("-C", "clone", "rev-parse", "HEAD").stdout.trim();
    // A writer may push to an open pull request.
    const pushed = git("-C", "clone", "push", "origin", "HEAD:refs/pr/1");
    assert.equal(pushed.status, 0, pushed.stderr);
    assert.equal((await refsOf("alice/gitpr")).pullRequests[0].targetCommit, pushedHead);
    const missing = git("-C", "clone", "push", "origin", "HEAD:refs/pr/9");
    assert.notEqual(missing.status, 0, "a push to a missing pull request is rejected");
    assert.match(missing.stderr, /no pull request has this ref/);
    assert.match(missing.stderr, /discussions/);
    assert.match(missing.stderr, /create_pr=1/);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test("huggingface.js commit with isPullRequest", async () => {
  const repo = { type: "model", name: "alice/client" };
  const creds = { accessToken: tok.bob, hubUrl: daemon.url };
  const big = new Uint8Array(2 * 1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
  const out = await hub.commit({
    repo, ...creds, isPullRequest: true, title: "Add LoRA weights",
    operations: [
      { operation: "addOrUpdate", path: "adapter_model.safetensors", content: new Blob([big]) },
      { operation: "addOrUpdate", path: "README.md", content: new Blob(["# fixed card\n"]) },
    ],
  });
  assert.match(out.pullRequestUrl, /\/alice\/client\/discussions\/1$/);

  const added = await hub.commit({
    repo, ...creds, branch: "refs/pr/1", title: "Tweak the card",
    operations: [{ operation: "addOrUpdate", path: "README.md",
      content: new Blob(["# fixed card, again\n"]) }],
  });
  assert.equal((await refsOf("alice/client")).pullRequests[0].targetCommit, added.commit.oid);

  const files = [];
  for await (const f of hub.listFiles({ repo, revision: "refs/pr/1", ...creds })) files.push(f);
  const weights = files.find((f) => f.path === "adapter_model.safetensors");
  assert.ok(weights.lfs, "the weights are an LFS file");
  assert.equal(weights.lfs.oid, createHash("sha256").update(big).digest("hex"));
  const card = await hub.downloadFile({ repo, path: "README.md", revision: "refs/pr/1", ...creds });
  assert.equal(await card.text(), "# fixed card, again\n");
  assert.equal(await hub.downloadFile({ repo, path: "README.md", ...creds }), null,
    "main has no README.md yet");
});

// Clones repo id as alice into a temporary folder. Returns the folder (remove it when done),
// the clone's path and a function that runs git in the clone.
function cloneAsAlice(id) {
  return cloneAs("alice", id);
}

// Clones repo id as user, with the user's write token, as cloneAsAlice does.
function cloneAs(user, id) {
  const work = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), "atelier-pr-git-"));
  const remote = `http://${user}:${tok[user]}@127.0.0.1:${daemon.port}/${id}`;
  const env = { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_LFS_SKIP_SMUDGE: "1",
    GIT_AUTHOR_NAME: user, GIT_AUTHOR_EMAIL: `${user}@example.org`,
    GIT_COMMITTER_NAME: user, GIT_COMMITTER_EMAIL: `${user}@example.org` };
  const clone = join(work, "clone");
  const cloned = spawnSync("git", ["clone", "-q", remote, clone], { env, encoding: "utf8" });
  const git = (...args) => spawnSync("git", ["-C", clone, ...args], { env, encoding: "utf8" });
  return { work, clone, cloned, git };
}

test("writer resolves a conflict with git, then merge marks it merged", async () => {
  const opened = await commit(tok.bob, "alice/resolve", "main",
    [file("notes.md", "line from bob\n")], { createPr: true, summary: "Bob's notes" });
  assert.equal(opened.status, 200);
  const prHead = (await opened.json()).commitOid;
  const onMain = await commit(tok.alice, "alice/resolve", "main",
    [file("notes.md", "line from alice\n")]);
  assert.equal(onMain.status, 200);
  const url = "/api/models/alice/resolve/discussions/1/merge";
  await expectError(await postJson(url, tok.alice, {}), 409, /notes\.md/);

  // A resolution committed to refs/pr/1 still conflicts: its parent is the old head.
  const fix = await commit(tok.bob, "alice/resolve", "refs/pr/1",
    [file("notes.md", "line from alice\nline from bob\n")], { summary: "Resolve" });
  assert.equal(fix.status, 200);
  await expectError(await postJson(url, tok.alice, {}), 409, /notes\.md/);

  const { work, clone, cloned, git } = cloneAsAlice("alice/resolve");
  try {
    assert.equal(cloned.status, 0, cloned.stderr);
    assert.equal(git("fetch", "-q", "origin", "refs/pr/1").status, 0);
    assert.notEqual(git("merge", "-q", "--no-edit", "FETCH_HEAD").status, 0,
      "git reports the same conflict");
    writeFileSync(join(clone, "notes.md"), "line from alice\nline from bob\n");
    assert.equal(git("add", "notes.md").status, 0);
    assert.equal(git("commit", "-q", "--no-edit").status, 0);
    const pushed = git("push", "-q", "origin", "HEAD:main");
    assert.equal(pushed.status, 0, pushed.stderr);
    const resolved = git("rev-parse", "HEAD").stdout.trim();

    // The push itself marks the pull request merged, because main now contains refs/pr/1.
    const details = await (await req("/api/models/alice/resolve/discussions/1")).json();
    assert.equal(details.status, "merged");
    assert.equal(details.changes.mergeCommitId, resolved, "merged at the pushed head of main");
    assert.notEqual(details.changes.headCommit, prHead, "the ref kept the later commit");
    assert.equal(await headOf("alice/resolve"), resolved, "no new commit lands on main");
    await expectError(await postJson(url, tok.alice, {}), 409, /already merged/);
    assert.equal(await resolveText("alice/resolve", "main", "notes.md"),
      "line from alice\nline from bob\n");

    // A merge commit made by the API ends its message with a newline, as git does.
    const second = await commit(tok.bob, "alice/resolve", "main", [file("more.md", "more\n")],
      { createPr: true, summary: "More notes" });
    assert.equal(second.status, 200);
    assert.equal((await commit(tok.alice, "alice/resolve", "main",
      [file("other.md", "other\n")])).status, 200);
    const merged = await postJson("/api/models/alice/resolve/discussions/2/merge", tok.alice, {});
    assert.equal(merged.status, 200);
    const mergeId = (await merged.json()).mergeCommitId;
    assert.equal(git("fetch", "-q", "origin", "main").status, 0);
    const raw = git("cat-file", "-p", mergeId);
    assert.equal(raw.status, 0, raw.stderr);
    assert.ok(raw.stdout.endsWith("Merge pull request #2: More notes\n"), raw.stdout);
    assert.equal(raw.stdout.match(/^parent /gm).length, 2);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test("a push that contains a pull request marks only that one merged", async () => {
  const id = "alice/pushmerge";
  const first = await commit(tok.bob, id, "main", [file("a.md", "a\n")],
    { createPr: true, summary: "Add a" });
  assert.equal(first.status, 200);
  const other = await commit(tok.bob, id, "main", [file("b.md", "b\n")],
    { createPr: true, summary: "Add b" });
  assert.equal(other.status, 200);
  const empty = await postJson(`/api/models/${id}/discussions`, tok.bob,
    { title: "Nothing yet", description: "", pullRequest: true });
  assert.equal(empty.status, 200);

  const { work, cloned, git } = cloneAsAlice(id);
  try {
    assert.equal(cloned.status, 0, cloned.stderr);
    assert.equal(git("fetch", "-q", "origin", "refs/pr/1").status, 0);
    assert.equal(git("merge", "-q", "--ff-only", "FETCH_HEAD").status, 0);
    const pushed = git("push", "-q", "origin", "HEAD:main");
    assert.equal(pushed.status, 0, pushed.stderr);
    const head = git("rev-parse", "HEAD").stdout.trim();

    const status = async (n) =>
      (await (await req(`/api/models/${id}/discussions/${n}`)).json());
    const merged = await status(1);
    assert.equal(merged.status, "merged");
    assert.equal(merged.changes.mergeCommitId, head);
    const changes = merged.events.filter((e) => e.type === "status-change");
    assert.deepEqual(changes.map((e) => [e.data.status, e.author.name]), [["merged", "alice"]],
      "the pusher merged it, not the author of the pull request");
    assert.equal((await status(2)).status, "open", "a pull request main lacks stays open");
    assert.equal((await status(3)).status, "open", "an empty pull request stays open");
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test("merge stops at another user's lock", async () => {
  const created = await req("/api/repos/create", { method: "POST", token: tok.bob,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: "locking", type: "model" }) });
  assert.equal(created.status, 200);
  assert.equal((await commit(tok.bob, "bob/locking", "main",
    [file("weights.txt", "v1\n")])).status, 200);
  const lockReq = (token, path) => req("/bob/locking.git/info/lfs/locks", { method: "POST",
    headers: { Authorization: "Basic " + Buffer.from(`user:${token}`).toString("base64"),
      Accept: "application/vnd.git-lfs+json", "Content-Type": "application/vnd.git-lfs+json" },
    body: JSON.stringify({ path }) });
  const opened = await commit(tok.carol, "bob/locking", "main",
    [file("weights.txt", "v2\n"), file("notes.txt", "why\n")],
    { createPr: true, summary: "Retrain" });
  assert.equal(opened.status, 200);
  const num = Number((await opened.json()).pullRequestUrl.match(/\/discussions\/(\d+)$/)[1]);
  // The commits of the pull request were checked when they landed; bob locks the file after.
  assert.equal((await lockReq(tok.bob, "weights.txt")).status, 201);
  // A lock on a file the pull request leaves alone does not matter.
  assert.equal((await lockReq(tok.bob, "other.txt")).status, 201);
  const before = await headOf("bob/locking");

  // alice may write to every repo (admin), but the lock is bob's.
  const rejected = await postJson(`/api/models/bob/locking/discussions/${num}/merge`, tok.alice, {});
  assert.equal(rejected.status, 409);
  assert.match((await rejected.json()).error,
    /^pull request #\d+ changes weights\.txt, which bob locked with git-lfs; ask bob to run `git lfs unlock weights\.txt`, or break the lock with `git lfs unlock --force weights\.txt`$/);
  assert.equal(await headOf("bob/locking"), before, "main did not move");

  // The page shows alice the lock, before and after she posts the Merge form.
  const session = await login("alice");
  const page = await req(`/bob/locking/discussions/${num}`, { headers: { Cookie: session } });
  const html = await page.text();
  assert.match(html, /This pull request changes <code>weights\.txt<\/code>, which bob locked with git-lfs/);
  assert.match(html, /id="pr-merge-disabled" disabled/);
  assert.match(html, /The git-lfs lock above must be released before merging\./);
  const csrf = html.match(/name="csrf" value="([^"]+)"/)[1];
  const posted = await req(`/bob/locking/discussions/${num}/merge`, { method: "POST",
    redirect: "manual", body: `csrf=${enc(csrf)}`,
    headers: { Cookie: session, "Content-Type": "application/x-www-form-urlencoded" } });
  assert.equal(posted.status, 303);
  assert.equal(posted.headers.get("location"), `/bob/locking/discussions/${num}?merge=locked`);
  const notice = await (await req(posted.headers.get("location"),
    { headers: { Cookie: session } })).text();
  assert.match(notice, /was not merged because another user locked a file it changes with git-lfs/);
  assert.equal(await headOf("bob/locking"), before, "the form did not move main either");

  // The lock owner merges: a push of the change by bob would pass the same lock check.
  const merged = await postJson(`/api/models/bob/locking/discussions/${num}/merge`, tok.bob, {});
  assert.equal(merged.status, 200, await merged.clone().text());
  const text = await (await req("/bob/locking/resolve/main/weights.txt")).text();
  assert.equal(text, "v2\n");
});

// Lists the paths under folder at commit rev of repo id.
async function pathsAt(id, rev, folder) {
  const r = await req(`/api/models/${id}/tree/${rev}/${folder}`, { token: tok.alice });
  assert.equal(r.status, 200, `tree of ${folder} at ${rev}`);
  return (await r.json()).map((e) => e.path).sort();
}

// Each round opens a pull request, then sends commits to refs/pr/N in two loops, a merge,
// and status changes by the author in a loop while the merge runs. Each commit adds a file of
// its own, so a commit is in the merge exactly when its file is in the merge commit's tree. A
// race shows as a commit that got 200 but is missing from the merge, as a ref that moved after
// the merge, or as a merged pull request whose status was changed back.
test("merge races commits and status changes", async () => {
  const id = "alice/race";
  const rounds = 30, maxCommits = 12;
  let merges = 0;

  for (let round = 1; round <= rounds; round++) {
    const folder = `round${round}`;
    const opened = await commit(tok.bob, id, "main", [file(`${folder}/start.txt`, "start\n")],
      { createPr: true, summary: `Round ${round}` });
    assert.equal(opened.status, 200);
    const num = Number((await opened.json()).pullRequestUrl.match(/\/discussions\/(\d+)$/)[1]);
    const accepted = [`${folder}/start.txt`];
    let firstCommit, mergeDone = false;
    const started = new Promise((resolve) => { firstCommit = resolve; });

    // Commits until one is rejected because the pull request is no longer open.
    const commitLoop = async (loop) => {
      for (let i = 0; i < maxCommits; i++) {
        const path = `${folder}/loop${loop}-${i}.txt`;
        const r = await commit(tok.bob, id, `refs/pr/${num}`, [file(path, `${i}\n`)],
          { summary: `Commit ${loop}-${i}` });
        firstCommit();
        if (r.status !== 200) {
          await expectError(r, 409, /commits go only to open pull requests/);
          return;
        }
        accepted.push(path);
      }
    };
    const merge = started.then(async () => {
      const r = await postJson(`/api/models/${id}/discussions/${num}/merge`, tok.alice, {});
      mergeDone = true;
      return r;
    });
    // Odd rounds reopen the open pull request, even rounds close it, until the merge is done.
    const statusLoop = started.then(async () => {
      const status = round % 2 === 1 ? "open" : "closed";
      while (!mergeDone) {
        const r = await postJson(`/api/models/${id}/discussions/${num}/status`, tok.bob,
          { status });
        if (r.status !== 200) await expectError(r, 409, /is merged; its status is final/);
        if (status === "closed") break;
      }
    });
    const [merged] = await Promise.all([merge, statusLoop, commitLoop(1), commitLoop(2)]);

    const details = await (await req(`/api/models/${id}/discussions/${num}`)).json();
    if (merged.status !== 200) {
      // The author closed the pull request before the merge.
      await expectError(merged, 409, /is closed; reopen it before merging/);
      assert.equal(details.status, "closed", `round ${round}`);
      continue;
    }
    merges++;
    const { mergeCommitId, headCommit } = await merged.json();
    assert.equal(details.status, "merged", `round ${round}: a merged pull request stays merged`);
    assert.equal(details.changes.mergeCommitId, mergeCommitId, `round ${round}`);
    assert.equal(details.changes.headCommit, headCommit,
      `round ${round}: refs/pr/${num} is still at the head that the merge took`);
    const inMerge = await pathsAt(id, mergeCommitId, folder);
    assert.deepEqual(await pathsAt(id, details.changes.headCommit, folder),
      inMerge, `round ${round}: refs/pr/${num} did not move after the merge`);
    for (const path of accepted)
      assert.ok(inMerge.includes(path), `round ${round}: ${path} got 200 but was not merged`);
  }
  assert.ok(merges > 0, "at least one round merged");
});

// Opens a pull request of bob on repo id that adds student.md, then moves main on with a
// commit of alice that adds REFERENCE.md. Returns the head of main when the pull request was
// opened and after alice's commit.
async function openThenMoveMain(id) {
  const start = await headOf(id);
  const opened = await commit(tok.bob, id, "main", [file("student.md", "answer\n")],
    { createPr: true, summary: "Student answer" });
  assert.equal(opened.status, 200);
  const moved = await commit(tok.alice, id, "main", [file("REFERENCE.md", "reference\n")],
    { summary: "Teacher reference" });
  assert.equal(moved.status, 200);
  return { start, mainHead: (await moved.json()).commitOid };
}

// Checks that the details and the page of pull request 1 of id list only the given commit
// subjects and, as changed files, only student.md, and returns the details.
async function expectOwnChanges(id, subjects, label) {
  const details = await (await req(`/api/models/${id}/discussions/1`)).json();
  const listed = details.events.filter((e) => e.type === "commit").map((e) => e.data.subject);
  assert.deepEqual(listed, subjects, `${label}: commits of the API`);
  const page = await (await req(`/${id}/discussions/1`)).text();
  assert.match(page, new RegExp(`<h2>Commits \\(${subjects.length}\\)</h2>`), `${label}: page`);
  assert.match(page, /Student answer/, `${label}: page lists the student's commit`);
  assert.doesNotMatch(page, /Teacher reference/, `${label}: page lists no commit of main`);
  const changed = page.slice(page.indexOf("<h2>Changed files</h2>"));
  assert.match(changed, /student\.md/, `${label}: page shows the student's file`);
  assert.doesNotMatch(changed, /REFERENCE\.md/, `${label}: page shows no file of main`);
  return details;
}

test("rebased pull request shows only its own changes", async () => {
  const id = "alice/rebased";
  const { start, mainHead } = await openThenMoveMain(id);
  const { work, cloned, git } = cloneAs("bob", id);
  try {
    assert.equal(cloned.status, 0, cloned.stderr);
    assert.equal(git("fetch", "-q", "origin", "refs/pr/1:pr/1").status, 0);
    assert.equal(git("checkout", "-q", "pr/1").status, 0);
    const rebased = git("rebase", "-q", "origin/main");
    assert.equal(rebased.status, 0, rebased.stderr);
    const pushed = git("push", "-q", "-f", "origin", "pr/1:refs/pr/1");
    assert.equal(pushed.status, 0, pushed.stderr);
    const head = git("rev-parse", "HEAD").stdout.trim();

    const open = await expectOwnChanges(id, ["Student answer"], "after the rebase");
    assert.equal(open.changes.headCommit, head);
    assert.equal(open.changes.baseCommit, start, "baseCommit stays the commit it started from");
    assert.equal(open.changes.mergeBase, mainHead, "the diff starts at the head of main");

    // The web button merges it; the pull request then shows what it showed before.
    const session = await login("alice");
    const html = await (await req(`/${id}/discussions/1`, { headers: { Cookie: session } })).text();
    const csrf = html.match(/name="csrf" value="([^"]+)"/)[1];
    const merged = await req(`/${id}/discussions/1/merge`, { method: "POST", redirect: "manual",
      body: `csrf=${enc(csrf)}`,
      headers: { Cookie: session, "Content-Type": "application/x-www-form-urlencoded" } });
    assert.equal(merged.status, 303);
    assert.equal(merged.headers.get("location"), `/${id}/discussions/1`);
    const after = await expectOwnChanges(id, ["Student answer"], "after the web merge");
    assert.equal(after.status, "merged");
    assert.equal(after.changes.mergeBase, mainHead);
    assert.equal(after.changes.baseCommit, start);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test("merging main into a pull request keeps its diff", async () => {
  const id = "alice/mainin";
  const { mainHead } = await openThenMoveMain(id);
  const { work, cloned, git } = cloneAs("bob", id);
  try {
    assert.equal(cloned.status, 0, cloned.stderr);
    assert.equal(git("fetch", "-q", "origin", "refs/pr/1:pr/1").status, 0);
    assert.equal(git("checkout", "-q", "pr/1").status, 0);
    const pulled = git("pull", "-q", "--no-rebase", "--no-edit", "origin", "main");
    assert.equal(pulled.status, 0, pulled.stderr);
    const subject = git("log", "-1", "--format=%s").stdout.trim();
    const pushed = git("push", "-q", "origin", "pr/1:refs/pr/1");
    assert.equal(pushed.status, 0, pushed.stderr);

    const open = await expectOwnChanges(id, ["Student answer", subject], "after merging main");
    assert.equal(open.changes.mergeBase, mainHead);

    // The API merge fast-forwards main, and the view stays.
    const r = await postJson(`/api/models/${id}/discussions/1/merge`, tok.alice, {});
    assert.equal(r.status, 200);
    assert.equal((await r.json()).fastForward, true);
    const after = await expectOwnChanges(id, ["Student answer", subject], "after the API merge");
    assert.equal(after.status, "merged");
    assert.equal(after.changes.mergeBase, mainHead);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test("pull request merged by a push keeps its diff", async () => {
  const id = "alice/pushed";
  const { mainHead } = await openThenMoveMain(id);
  const bob = cloneAs("bob", id);
  const alice = cloneAsAlice(id);
  try {
    assert.equal(bob.cloned.status, 0, bob.cloned.stderr);
    assert.equal(bob.git("fetch", "-q", "origin", "refs/pr/1:pr/1").status, 0);
    assert.equal(bob.git("checkout", "-q", "pr/1").status, 0);
    assert.equal(bob.git("rebase", "-q", "origin/main").status, 0);
    const forced = bob.git("push", "-q", "-f", "origin", "pr/1:refs/pr/1");
    assert.equal(forced.status, 0, forced.stderr);
    await expectOwnChanges(id, ["Student answer"], "after the rebase");

    assert.equal(alice.cloned.status, 0, alice.cloned.stderr);
    assert.equal(alice.git("fetch", "-q", "origin", "refs/pr/1").status, 0);
    assert.equal(alice.git("merge", "-q", "--ff-only", "FETCH_HEAD").status, 0);
    const pushed = alice.git("push", "-q", "origin", "HEAD:main");
    assert.equal(pushed.status, 0, pushed.stderr);

    const after = await expectOwnChanges(id, ["Student answer"], "after the push");
    assert.equal(after.status, "merged");
    assert.equal(after.changes.mergeBase, mainHead);
  } finally {
    rmSync(bob.work, { recursive: true, force: true });
    rmSync(alice.work, { recursive: true, force: true });
  }
});

test("resolve with an unencoded ref names the encoded URL", async () => {
  const made = await postJson("/api/models/alice/rebased/branch/feat/keep", tok.alice, {});
  assert.equal(made.status, 200);
  const pr = await expectError(await req("/alice/rebased/resolve/refs/pr/1/student.md"), 404,
    /^Invalid rev id: refs: /);
  assert.match(pr.error, /percent-encode the slashes of refs\/pr\/1/);
  assert.match(pr.error, /\/alice\/rebased\/resolve\/refs%2Fpr%2F1\/student\.md$/);
  const raw = await expectError(await req("/alice/rebased/raw/refs/pr/1/student.md"), 404,
    /\/alice\/rebased\/raw\/refs%2Fpr%2F1\/student\.md$/);
  assert.match(raw.error, /^Invalid rev id: refs: /);
  const branch = await expectError(await req("/alice/rebased/resolve/feat/keep/config.json"), 404,
    /^Invalid rev id: feat: /);
  assert.match(branch.error, /\/alice\/rebased\/resolve\/feat%2Fkeep\/config\.json$/);
  const other = await expectError(await req("/alice/rebased/resolve/nothing/config.json"), 404,
    /^Invalid rev id: nothing: /);
  assert.doesNotMatch(other.error, /percent-encode/);
  assert.equal(await resolveText("alice/rebased", "refs/pr/1", "student.md"), "answer\n");
  assert.equal(await resolveText("alice/rebased", "feat/keep", "config.json"), '{"a": 1}\n');
});

test("opened pull request: errors and description html", async () => {
  const made = await req("/api/repos/create", { method: "POST", token: tok.alice,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: "described", type: "model" }) });
  assert.equal(made.status, 200);
  assert.equal((await commit(tok.alice, "alice/described", "main", [file("config.json", "{}\n")])).status, 200);
  const url = "/api/models/alice/described/discussions";

  const missing = await postJson(url, tok.bob, { title: "To nowhere", pullRequest: true, targetBranch: "nope" });
  assert.equal(missing.headers.get("x-error-code"), "RevisionNotFound");
  await expectError(missing, 404, /^target branch 'nope' not found in alice\/described$/);
  await expectError(await postJson(url, tok.bob, { title: "t".repeat(201), pullRequest: true }), 413,
    /title is longer than 200 bytes/);
  await expectError(await postJson(url, tok.bob, { title: "é".repeat(150), pullRequest: true }), 413,
    /^pull request title is longer than 200 bytes: it has 300 bytes \(150 characters of this text\); shorten it$/);
  // Titles that would show as nothing, or that hold control characters, are rejected.
  for (const title of ["   ", "\t", " \r\n "]) {
    await expectError(await postJson(url, tok.bob, { title, pullRequest: true }), 400,
      /^missing pull request title$/);
  }
  for (const [title, code] of [["a\nb", "U\\+000A"], ["a\u0007b\u001b[31m", "U\\+0007"],
    ["a\u007fb", "U\\+007F"], ["a\u009bb", "U\\+009B"]]) {
    await expectError(await postJson(url, tok.bob, { title, pullRequest: true }), 400,
      new RegExp(`^pull request title contains the control character ${code} at character 2; `));
  }
  await expectError(await postJson(url, tok.bob,
    { title: "Escape", description: "red \u001b[31m text", pullRequest: true }), 400,
    /^pull request description contains the control character U\+001B at character 5; only tabs and line breaks are allowed$/);
  await expectError(await postJson(url, tok.bob,
    { title: "Carriage", description: "over\rwrite", pullRequest: true }), 400, /U\+000D at character 5/);
  await expectError(await postJson(url, tok.bobRead, { title: "Read-only", pullRequest: true }), 403,
    /read-only/);

  const description = "# Plan\n\nUse **rank 8**, see [notes](docs/notes.md).\n\n<script>alert(1)</script>\n";
  const opened = await postJson(url, tok.bob, { title: "  Tune the rank\t", description, pullRequest: true });
  assert.equal(opened.status, 200);
  const { num } = await opened.json();
  const details = await (await req(`${url}/${num}`)).json();
  assert.equal(details.title, "Tune the rank", "the title is stored without the spaces around it");
  const comment = details.events.find((e) => e.type === "comment");
  assert.equal(comment.data.latest.raw, description);
  const html = comment.data.latest.html;
  assert.match(html, /<strong>rank 8<\/strong>/);
  assert.match(html, /<h2>Plan<\/h2>/);
  assert.ok(html.includes(`href="${daemon.url}/alice/described/blob/refs%2Fpr%2F${num}/docs/notes.md"`), html);
  assert.doesNotMatch(html, /<script>/);
});

test("target branch given as a full ref is stored short", async () => {
  const made = await req("/api/repos/create", { method: "POST", token: tok.alice,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: "fullref", type: "model" }) });
  assert.equal(made.status, 200);
  assert.equal((await commit(tok.alice, "alice/fullref", "main", [file("config.json", "{}\n")])).status, 200);
  const url = "/api/models/alice/fullref/discussions";

  for (const targetBranch of ["refs/heads/main", "HEAD"]) {
    const opened = await postJson(url, tok.bob, { title: `Onto ${targetBranch}`, pullRequest: true, targetBranch });
    assert.equal(opened.status, 200);
    const { num } = await opened.json();
    const details = await (await req(`${url}/${num}`)).json();
    assert.equal(details.changes.base, "refs/heads/main", `${targetBranch} is stored as main`);
    assert.equal((await commit(tok.bob, "alice/fullref", `refs/pr/${num}`,
      [file(`from-${num}.txt`, `${num}\n`)])).status, 200);
    const merged = await postJson(`${url}/${num}/merge`, tok.alice, {});
    assert.equal(merged.status, 200, `pull request #${num} onto ${targetBranch} merges`);
    assert.equal(await resolveText("alice/fullref", "main", `from-${num}.txt`), `${num}\n`);
  }
});
