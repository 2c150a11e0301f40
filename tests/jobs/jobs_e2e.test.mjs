// End to end: the real daemon on 127.0.0.1 trains a LoRA adapter of stories260K as a queued
// job and survives a killed worker. It publishes the adapter, which the @huggingface/hub
// client then pulls. It also cancels jobs, enforces the per-user limits and keeps its queue
// across a restart.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync,
  utimesSync, writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import {
  addUser, admin, createToken, prepareDataDir, startDaemon, waitForLog,
} from "../hub/daemon.mjs";
import {
  api, findProcesses, followEvents, hub, killDataDirProcesses, pushFolder, waitForJob,
  waitForLogOnly, workFolderEntries,
} from "./jobs_client.mjs";

const bin = process.env.ATELIER_BIN;
const root = process.env.ATELIER_SOURCE_ROOT;
const corpus = process.env.ATELIER_CORPUS;
const modelDir = join(corpus, "models/stories260K");
const styleDir = join(root, "tests/data/style");

// Small enough for two shared cores: one step of stories260K with batch 2 and 64 tokens
// takes tens of milliseconds.
const trainParams = {
  rank: 8, alpha: 16, targets: "all-linear", lr: 0.002, steps: 80, batch: 2, seq_len: 64,
  seed: 1, threads: 1, checkpoint_every: 10,
};

// The job limits as serve flags: a short cancel grace and two queued jobs per user.
const serveArgs = ["--workers", "1", "--job-cancel-grace", "2", "--max-queued-jobs-per-user", "2"];

let dataDir, daemon, alice, bob, bobRead, carol;
const jobs = {};

// Returns the audit log rows about repo ("model:ns/name"), oldest first.
function auditRows(repo) {
  const sql = `SELECT user, action, detail FROM audit_log WHERE repo = '${repo}' ORDER BY id;`;
  const r = spawnSync("sqlite3", ["-json", join(dataDir, "atelier.sqlite3")],
    { input: sql, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim() === "" ? [] : JSON.parse(r.stdout);
}

// Returns the state and error columns of job id, read from the database file, which works
// while no daemon runs.
function jobRow(id) {
  const r = spawnSync("sqlite3", ["-json", join(dataDir, "atelier.sqlite3")],
    { input: `SELECT state, error FROM jobs WHERE id = ${Number(id)};`, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout)[0];
}

// Polls until no worker process of job id is left.
async function waitForWorkerExit(url, id) {
  await waitForJob(url, alice, id, () =>
    findProcesses(["worker", dataDir, "--job", String(id)]).length === 0, 20000);
}

// Polls the log of job id until re matches it, for at most timeoutMs, and returns the log.
async function waitForJobLog(url, id, re, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const log = (await api(url, alice, "GET", `/api/jobs/${id}/log`)).text;
    if (re.test(log) || Date.now() > deadline) return log;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function trainRequest(overrides = {}) {
  return {
    type: "train", base_model: "alice/stories260K", dataset: "alice/style",
    train_file: "train.jsonl", eval_file: "eval.jsonl", output_repo: "alice/style-lora",
    params: { ...trainParams }, ...overrides,
  };
}

before(async () => {
  dataDir = prepareDataDir();
  alice = createToken(dataDir, "alice");
  bob = createToken(dataDir, "bob");
  bobRead = createToken(dataDir, "bob", { write: false, label: "read" });
  addUser(dataDir, "carol");
  carol = createToken(dataDir, "carol");
  daemon = await startDaemon({ dataDir, extraArgs: serveArgs });
  const skipScripts = (p) => p.endsWith(".py");
  await pushFolder(daemon.url, alice, "model", "alice/stories260K", modelDir,
    { skip: (p) => p.startsWith("original") });
  await pushFolder(daemon.url, alice, "dataset", "alice/style", styleDir, { skip: skipScripts });
  await pushFolder(daemon.url, alice, "dataset", "alice/secret", styleDir,
    { skip: skipScripts, isPrivate: true });
});

after(async () => {
  if (daemon) await daemon.stop({ keepData: true });
  if (dataDir) killDataDirProcesses(dataDir);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test("job requests are validated", async () => {
  const url = daemon.url;
  let r = await api(url, null, "POST", "/api/jobs", trainRequest());
  assert.equal(r.status, 401);

  r = await api(url, alice, "POST", "/api/jobs",
    trainRequest({ params: { rank: 4, learning_rate: 0.1, epoch: 2 } }));
  assert.equal(r.status, 400);
  assert.match(r.json.error, /unknown params 'learning_rate', 'epoch'/);

  r = await api(url, alice, "POST", "/api/jobs", "{\"type\":");
  assert.equal(r.status, 400);
  assert.match(r.json.error, /invalid JSON/);

  r = await api(url, alice, "POST", "/api/jobs", trainRequest({ dataset: "alice/nothing" }));
  assert.equal(r.status, 404);
  assert.match(r.json.error, /dataset repo 'alice\/nothing' not found/);

  r = await api(url, alice, "POST", "/api/jobs", trainRequest({ train_file: "missing.jsonl" }));
  assert.equal(r.status, 404);
  assert.match(r.json.error, /missing\.jsonl/);

  r = await api(url, alice, "POST", "/api/jobs", trainRequest({ base_revision: "v9" }));
  assert.equal(r.status, 404);
  assert.match(r.json.error, /revision 'v9'/);

  // bob may not read alice's private dataset, and it looks missing to him.
  r = await api(url, bob, "POST", "/api/jobs",
    trainRequest({ dataset: "alice/secret", output_repo: "bob/secret-lora" }));
  assert.equal(r.status, 404);
  assert.match(r.json.error, /alice\/secret/);

  r = await api(url, bob, "POST", "/api/jobs", trainRequest({ output_repo: "alice/bobs-lora" }));
  assert.equal(r.status, 403);
  assert.match(r.json.error,
    /you cannot create repos under 'alice'; use your own namespace, such as 'bob\/bobs-lora'/);

  r = await api(url, bobRead, "POST", "/api/jobs", trainRequest({ output_repo: "bob/lora" }));
  assert.equal(r.status, 403);

  // The base of a training job must be a full model: not empty, not an adapter. Both are
  // rejected when queued, before any output repo is created.
  const emptyBase = { type: "model", name: "alice/empty-base" };
  await hub.createRepo({ repo: emptyBase, accessToken: alice, hubUrl: url });
  r = await api(url, alice, "POST", "/api/jobs",
    trainRequest({ base_model: "alice/empty-base", output_repo: "alice/from-empty" }));
  assert.equal(r.status, 400);
  assert.match(r.json.error, /base_model 'alice\/empty-base' has no config\.json at 'main'/);
  const adapterBase = { type: "model", name: "alice/an-adapter" };
  await hub.createRepo({ repo: adapterBase, accessToken: alice, hubUrl: url });
  await hub.uploadFiles({ repo: adapterBase, accessToken: alice, hubUrl: url, files: [
    { path: "adapter_config.json",
      content: new Blob(['{"base_model_name_or_path": "alice/stories260K", "r": 8}']) }] });
  r = await api(url, alice, "POST", "/api/jobs",
    trainRequest({ base_model: "alice/an-adapter", output_repo: "alice/from-adapter" }));
  assert.equal(r.status, 400);
  assert.match(r.json.error, /base_model 'alice\/an-adapter' is a LoRA adapter/);
  // An existing output repo takes a new adapter revision only when it is an adapter of the
  // job's base or contains nothing yet.
  const otherBase = { type: "model", name: "alice/other-adapter" };
  await hub.createRepo({ repo: otherBase, accessToken: alice, hubUrl: url });
  await hub.uploadFiles({ repo: otherBase, accessToken: alice, hubUrl: url, files: [
    { path: "adapter_config.json",
      content: new Blob(['{"base_model_name_or_path": "alice/another-base", "r": 8}']) }] });
  r = await api(url, alice, "POST", "/api/jobs",
    trainRequest({ output_repo: "alice/other-adapter" }));
  assert.equal(r.status, 409);
  assert.match(r.json.error,
    /output_repo 'alice\/other-adapter' belongs to base model 'alice\/another-base', not to 'alice\/stories260K'/);
  const plain = { type: "model", name: "alice/plain-model" };
  await hub.createRepo({ repo: plain, accessToken: alice, hubUrl: url });
  await hub.uploadFiles({ repo: plain, accessToken: alice, hubUrl: url, files: [
    { path: "config.json", content: new Blob(['{"model_type": "llama"}']) }] });
  r = await api(url, alice, "POST", "/api/jobs", trainRequest({ output_repo: "alice/plain-model" }));
  assert.equal(r.status, 409);
  assert.match(r.json.error,
    /output_repo 'alice\/plain-model' already holds files that are not an adapter of 'alice\/stories260K', such as config\.json; choose another output_repo/);
  // seq_len above the base's max_position_embeddings (512 for stories260K) fails at once,
  // not in the worker with the trainer's --seq-len wording.
  r = await api(url, alice, "POST", "/api/jobs", trainRequest({
    output_repo: "alice/from-long-seq", params: { ...trainParams, seq_len: 1024 } }));
  assert.equal(r.status, 400);
  assert.match(r.json.error, new RegExp("invalid param 'seq_len' 1024: above the context of " +
    "base_model 'alice/stories260K' at 'main', 512 tokens"));
  assert.match(r.json.error, /use a seq_len of at most 512/);
  // With epochs, the step count comes from the train file: train.jsonl has 80 examples, so
  // one epoch of batch 2 is 40 steps, and a longer warmup fails at once.
  const epochParams = { ...trainParams, steps: undefined, epochs: 1, batch: 2 };
  r = await api(url, alice, "POST", "/api/jobs", trainRequest({
    output_repo: "alice/from-long-warmup", params: { ...epochParams, warmup: 41 } }));
  assert.equal(r.status, 400);
  assert.match(r.json.error, new RegExp("^invalid param 'warmup' 41: more than the 40 steps " +
    "that 'epochs' 1 gives for the 80 examples of 'train\\.jsonl' in dataset 'alice/style' at " +
    "'main' with batch 2 and grad_accum 1; lower warmup to at most 40 or raise epochs$"));
  r = await api(url, alice, "POST", "/api/jobs", trainRequest({
    output_repo: "alice/from-long-warmup", params: { ...epochParams, epochs: 2, grad_accum: 4,
      warmup: 21 } }));
  assert.equal(r.status, 400);
  assert.match(r.json.error, /'warmup' 21: more than the 20 steps that 'epochs' 2 gives/);
  for (const name of ["from-empty", "from-adapter", "from-long-seq", "from-long-warmup"]) {
    r = await api(url, alice, "GET", `/api/models/alice/${name}`);
    assert.equal(r.status, 404, `no output repo alice/${name} was created`);
  }

  // An evaluated adapter's base_model_name_or_path must name a readable model repo here,
  // because the worker evaluates the adapter against it.
  const evalRequest = (model) => ({
    type: "eval", model, dataset: "alice/style", eval_file: "eval.jsonl" });
  const adapterOf = async (name, base) => {
    const repo = { type: "model", name };
    await hub.createRepo({ repo, accessToken: alice, hubUrl: url });
    await hub.uploadFiles({ repo, accessToken: alice, hubUrl: url, files: [
      { path: "adapter_config.json",
        content: new Blob([JSON.stringify({ base_model_name_or_path: base, r: 8 })]) }] });
  };
  await adapterOf("alice/local-name-lora", "stories260K");
  r = await api(url, alice, "POST", "/api/jobs", evalRequest("alice/local-name-lora"));
  assert.equal(r.status, 400);
  assert.match(r.json.error, new RegExp("model 'alice/local-name-lora' is a LoRA adapter whose " +
    "adapter_config.json at 'main' names base_model_name_or_path 'stories260K', which is not a " +
    "repo id"));
  // The whole message arrives, up to its last words, and names the request's base_model
  // field as a fix.
  assert.match(r.json.error, /name the base model on this hub in the request's base_model field/);
  assert.match(r.json.error, /retrain it with the base's repo id as --base-name, or edit /);
  assert.match(r.json.error, /or edit base_model_name_or_path in adapter_config\.json$/);
  await adapterOf("alice/remote-base-lora", "HuggingFaceTB/SmolLM-135M-Instruct");
  r = await api(url, alice, "POST", "/api/jobs", evalRequest("alice/remote-base-lora"));
  assert.equal(r.status, 404);
  assert.match(r.json.error, new RegExp("model repo 'HuggingFaceTB/SmolLM-135M-Instruct' not " +
    "found: adapter 'alice/remote-base-lora' names it as base_model_name_or_path"));
  assert.match(r.json.error, /name the copy that is here in the request's base_model field$/);
  await adapterOf("alice/no-base-lora", "");
  r = await api(url, alice, "POST", "/api/jobs", evalRequest("alice/no-base-lora"));
  assert.equal(r.status, 400);
  assert.match(r.json.error, /has no base_model_name_or_path; name the base model on this hub, /);
  assert.match(r.json.error, /in the request's base_model field, or set base_model_name_or_path/);
  // The request's base_model names the base in place of the adapter's own field, so it must
  // be a full model here, and it is only for adapters.
  r = await api(url, alice, "POST", "/api/jobs",
    { ...evalRequest("alice/stories260K"), base_model: "alice/an-adapter" });
  assert.equal(r.status, 400);
  assert.match(r.json.error, /invalid field 'base_model' 'alice\/an-adapter': model 'alice\/stories260K' at 'main' is a full model/);
  r = await api(url, alice, "POST", "/api/jobs",
    { ...evalRequest("alice/local-name-lora"), base_model: "alice/an-adapter" });
  assert.equal(r.status, 400);
  assert.match(r.json.error, /base_model 'alice\/an-adapter' is a LoRA adapter/);
  r = await api(url, alice, "POST", "/api/jobs",
    { ...evalRequest("alice/local-name-lora"), base_model: "alice/nothing" });
  assert.equal(r.status, 404);
  assert.equal(r.json.error, "base_model 'alice/nothing' not found");
  r = await api(url, alice, "GET", "/api/jobs");
  assert.deepEqual(r.json, [], "no rejected request was queued");

  r = await api(url, alice, "GET", "/api/jobs/abc");
  assert.equal(r.status, 400);
  r = await api(url, alice, "GET", "/api/jobs/99999");
  assert.equal(r.status, 404);
});

test("training job survives a killed worker and publishes the adapter", async () => {
  const url = daemon.url;
  let r = await api(url, alice, "POST", "/api/jobs", trainRequest());
  assert.equal(r.status, 201, r.text);
  // The scheduler's periodic tick may claim the job before the reply is built.
  assert.ok(["queued", "running"].includes(r.json.state), r.json.state);
  assert.equal(r.json.owner, "alice");
  assert.equal(r.json.spec.params.steps, 80);
  assert.equal(r.headers.get("location"), `/api/jobs/${r.json.id}`);
  const id = r.json.id;
  jobs.trained = id;
  // The output repo exists from now on; its info has no evaluations yet (and is cached).
  r = await api(url, alice, "GET", "/api/models/alice/style-lora");
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.evaluations, []);

  // Queued behind it (one worker): a long job for the restart test, then an evaluation. The
  // queue limit is 2, so both fit only once the first job has left the queue.
  await waitForJob(url, alice, id, (j) => j.state !== "queued");
  r = await api(url, alice, "POST", "/api/jobs",
    trainRequest({ output_repo: "alice/long-lora", params: { ...trainParams, steps: 100000 } }));
  assert.equal(r.status, 201, r.text);
  jobs.long = r.json.id;
  r = await api(url, alice, "POST", "/api/jobs", {
    type: "eval", model: "alice/stories260K", dataset: "alice/style", eval_file: "eval.jsonl",
  });
  assert.equal(r.status, 201, r.text);
  jobs.evaluation = r.json.id;

  let killedPid = 0;
  const events = await followEvents(url, alice, id, async (ev) => {
    if (killedPid !== 0 || ev.event !== "progress" || ev.data.step < 20) return;
    const { json } = await api(url, alice, "GET", `/api/jobs/${id}`);
    assert.ok(json.worker_pid > 0, "a running job shows its worker pid");
    killedPid = json.worker_pid;
    process.kill(killedPid, "SIGKILL");
  });
  assert.ok(killedPid > 0, "the test killed the worker mid-job");
  const states = events.filter((e) => e.event === "state").map((e) => e.data);
  assert.deepEqual(states.map((s) => s.state),
    ["queued", "running", "queued", "running", "succeeded"]);
  assert.match(states[2].message, /killed by signal 9/);
  assert.ok(events.some((e) => e.event === "progress" && e.data.loss > 0));
  assert.ok(events.some((e) => e.event === "eval"));
  // The worker's own lines and the trainer's stderr reach the stream as log events. The
  // trainer marks its warning that 64 tokens cut the style stories with "warning: ", and that
  // prefix gives the event its level. Its other notes are info.
  const logEvents = events.filter((e) => e.event === "log").map((e) => e.data);
  assert.ok(logEvents.some((d) => /staged alice\/stories260K@/.test(d.line) && d.level === "info"));
  assert.ok(logEvents.some((d) => /running atelier train/.test(d.line)));
  assert.ok(logEvents.some((d) => /^atelier train: warning: .*were truncated/.test(d.line) &&
    d.level === "warning"), JSON.stringify(logEvents.slice(0, 20)));
  assert.ok(logEvents.some((d) => /^atelier train: seed 1,/.test(d.line) && d.level === "info"),
    JSON.stringify(logEvents.slice(0, 20)));
  // The trainer's plan line is its last stderr line before the first step, and it reaches
  // the stream before that step's progress.
  const planIndex = events.findIndex((e) => e.event === "log" &&
    /^atelier train: \d+ training and \d+ eval examples, 80 steps/.test(e.data.line));
  assert.ok(planIndex >= 0, JSON.stringify(logEvents.slice(0, 20)));
  assert.equal(events[planIndex].data.level, "info");
  assert.ok(planIndex < events.findIndex((e) => e.event === "progress"),
    JSON.stringify(events.slice(0, 30)));
  // The final log line is stored once, just before the final state event that ends the
  // stream, so the stream and the job page show it as the log file does.
  const finalLines = logEvents.filter((d) => /job succeeded$/.test(d.line));
  assert.equal(finalLines.length, 1, JSON.stringify(logEvents.slice(-5)));
  assert.equal(finalLines[0].level, "info");
  assert.equal(events.at(-2).event, "log");
  assert.equal(events.at(-2).data, finalLines[0]);
  // Event ids count up from 1, so a client can resume with Last-Event-ID.
  assert.deepEqual(events.map((e) => Number(e.id)), events.map((_, i) => i + 1));
  const resumed = await followEvents(url, alice, id, () => {}, { after: events.length - 1 });
  assert.equal(resumed.length, 1);

  const reply = await api(url, alice, "GET", `/api/jobs/${id}`);
  const job = reply.json;
  assert.equal(job.state, "succeeded");
  // Reals carry at most 10 significant digits, not binary noise such as 0.00020000000000000001.
  assert.doesNotMatch(reply.text, /\.\d{16,}/);
  assert.equal(job.attempts, 2);
  assert.equal(job.progress.step, 80);
  assert.match(job.result.commit, /^[0-9a-f]{40}$/);
  assert.equal(job.result.repo, "alice/style-lora");
  assert.ok(job.result.metrics.eval.adapter.mean_nll > 0);
  // The worker's evaluation cuts the examples at the job's seq_len of 64 tokens, as the
  // trainer's own eval loss does, so both count the same truncated examples.
  assert.ok(job.result.metrics.eval.adapter.truncated > 0, JSON.stringify(job.result.metrics));
  assert.equal(job.result.metrics.eval.base.truncated, job.result.metrics.eval.adapter.truncated);
  // The adapter is committed, so the work folder keeps only the log, which is still served.
  assert.deepEqual(await waitForLogOnly(dataDir, id), ["log"]);
  const log = (await api(url, alice, "GET", `/api/jobs/${id}/log`)).text;
  assert.match(log, /attempt 2 of 3/);
  assert.match(log, /--resume from the last checkpoint/);
  assert.match(log, /job succeeded/);
  assert.ok(log.includes(`${finalLines[0].line}\n`), log);
  // The evaluation's metrics are logged as one line per model, not as multi-line JSON.
  for (const side of ["base", "adapter"]) {
    const line = logEvents.find((d) => d.line.includes(`evaluation of the ${side}: `));
    assert.ok(line, JSON.stringify(logEvents.slice(-8)));
    assert.match(line.line, /: mean_nll \d[\d.]*, perplexity \d[\d.]*, token_accuracy /);
    assert.equal(line.level, "info");
  }
  assert.ok(logEvents.every((d) => !d.line.includes("\n")), JSON.stringify(logEvents.slice(-8)));

  // The evaluation is stored against the exact commit.
  const evals = (await api(url, alice, "GET", "/api/evals?repo=alice/style-lora")).json;
  assert.equal(evals[0].revision, job.result.commit);
  assert.equal(evals[0].job_id, id);
  // The adapter's row names the base commit that the job trained on and scored against.
  assert.equal(evals[0].base_model, "alice/stories260K");
  assert.equal(evals[0].base_revision, job.pinned_commits.model);
  assert.match(evals[0].base_revision, /^[0-9a-f]{40}$/);
  // The model info carries them too, so a cached info body from before is not served.
  const info = await api(url, alice, "GET", "/api/models/alice/style-lora");
  assert.equal(info.json.evaluations.length, 1);
  assert.equal(info.json.evaluations[0].revision, job.result.commit);
  assert.ok(info.json.evaluations[0].metrics.mean_nll > 0);
  assert.doesNotMatch(info.text, /\.\d{16,}/);

  // Pull the adapter as any Hugging Face client would, and evaluate it against the base.
  const pulled = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), "atelier-adapter-"));
  try {
    for (const path of ["adapter_config.json", "adapter_model.safetensors", "README.md"]) {
      const blob = await hub.downloadFile({
        repo: { type: "model", name: "alice/style-lora" }, path, hubUrl: url,
        accessToken: alice, revision: job.result.commit,
      });
      assert.ok(blob, `${path} is in the adapter repo`);
      writeFileSync(join(pulled, path), Buffer.from(await blob.arrayBuffer()));
    }
    const config = JSON.parse(readFileSync(join(pulled, "adapter_config.json"), "utf8"));
    assert.equal(config.peft_type, "LORA");
    assert.match(readFileSync(join(pulled, "README.md"), "utf8"), /base_model: "?alice\/stories260K/);
    // The card's loading example names the hub repo, not the worker's folder.
    assert.match(readFileSync(join(pulled, "README.md"), "utf8"),
      /PeftModel\.from_pretrained\(base_model, "alice\/style-lora"\)/);
    const ev = spawnSync(bin, ["eval", "--base", modelDir, "--adapter", pulled, "--data",
      join(styleDir, "eval.jsonl")], { encoding: "utf8" });
    assert.equal(ev.status, 0, ev.stderr);
    const scores = JSON.parse(ev.stdout);
    assert.ok(scores.adapter.mean_nll < scores.base.mean_nll,
      `held-out loss ${scores.adapter.mean_nll} is below the base's ${scores.base.mean_nll}`);
  } finally {
    rmSync(pulled, { recursive: true, force: true });
  }
});

test("jobs are private to their owner and admins", async () => {
  const url = daemon.url;
  let r = await api(url, bob, "GET", `/api/jobs/${jobs.trained}`);
  assert.equal(r.status, 404);
  r = await api(url, bob, "POST", `/api/jobs/${jobs.long}/cancel`);
  assert.equal(r.status, 404);
  r = await api(url, bob, "GET", "/api/jobs");
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, []);
  r = await api(url, bob, "GET", "/api/jobs?owner=alice");
  assert.equal(r.status, 403);
  r = await api(url, alice, "GET", "/api/jobs?state=succeeded&repo=alice/style-lora");
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.map((j) => j.id), [jobs.trained]);
  r = await api(url, alice, "GET", "/api/jobs?limit=1");
  assert.equal(r.json.length, 1);
  assert.equal(r.headers.get("x-total-count"), "3");
  assert.match(r.headers.get("link"), /offset=1.*rel="next"/);
  r = await api(url, alice, "GET", "/api/jobs?state=done");
  assert.equal(r.status, 400);
  // limit is 1 to 200, as docs/jobs.md documents, so 0 is rejected instead of listing all jobs.
  for (const limit of ["0", "201", "500"]) {
    r = await api(url, alice, "GET", `/api/jobs?limit=${limit}`);
    assert.equal(r.status, 400, `limit=${limit}`);
    assert.equal(r.json.error, `invalid query parameter 'limit' '${limit}': expected 1 to 200`);
  }
  r = await api(url, alice, "GET", "/api/jobs?limit=200");
  assert.equal(r.status, 200);
  assert.equal(r.json.length, 3);
});

test("restart keeps the queue, limits and cancel work", async () => {
  // The long job runs now; stopping the daemon puts it back in the queue.
  await waitForJob(daemon.url, alice, jobs.long, (j) => j.state === "running" && j.progress.step > 0);
  assert.equal(await daemon.stop({ keepData: true }), 0);
  assert.doesNotMatch(daemon.log(), /Sanitizer|runtime error/);

  // What a crash between recording the outcome and cleaning up leaves: a checkpoint and a
  // staged model whose weights link into the blob store. The queued evaluation gets files of
  // its own, which must survive the restart.
  const trainedDir = join(dataDir, "jobs", String(jobs.trained));
  const linkTarget = join(dataDir, "link-target.bin");
  writeFileSync(linkTarget, "a blob that base/ links to");
  mkdirSync(join(trainedDir, "out/style-lora/checkpoint"), { recursive: true });
  writeFileSync(join(trainedDir, "out/style-lora/checkpoint/state.bin"), "left over");
  mkdirSync(join(trainedDir, "base"), { recursive: true });
  rmSync(join(trainedDir, "base/model.safetensors"), { force: true });
  symlinkSync(linkTarget, join(trainedDir, "base/model.safetensors"));
  const queuedDir = join(dataDir, "jobs", String(jobs.evaluation));
  mkdirSync(join(queuedDir, "data/eval"), { recursive: true });
  writeFileSync(join(queuedDir, "data/eval/eval.jsonl"), "{}\n");

  daemon = await startDaemon({ dataDir, extraArgs: serveArgs });
  let url = daemon.url;
  let job = await waitForJob(url, alice, jobs.long, (j) => j.state === "running" && j.worker_pid > 0);
  assert.equal(job.attempts, 1, "a daemon stop does not use up an attempt");
  const events = (await api(url, alice, "GET", `/api/jobs/${jobs.evaluation}`)).json;
  assert.equal(events.state, "queued");

  // The scheduler sweeps before it starts a worker, so the sweep is done by now: the finished
  // job keeps only its log, the link target stays, and the queued job's files are untouched.
  assert.deepEqual(workFolderEntries(dataDir, jobs.trained), ["log"]);
  assert.ok(existsSync(linkTarget), "the sweep does not follow symlinks");
  assert.match(await waitForLog(daemon, /cleaned the work folders of finished jobs folders=1 failures=0/),
    /cleaned the work folders of finished jobs folders=1 failures=0/);
  assert.equal(readFileSync(join(queuedDir, "data/eval/eval.jsonl"), "utf8"), "{}\n");
  assert.match((await api(url, alice, "GET", `/api/jobs/${jobs.trained}/log`)).text,
    /job succeeded/);

  // Per-user queue limit (2 in this test).
  const evalRequest = { type: "eval", model: "alice/stories260K", dataset: "alice/style",
    eval_file: "eval.jsonl" };
  const first = await api(url, bob, "POST", "/api/jobs", evalRequest);
  const second = await api(url, bob, "POST", "/api/jobs", evalRequest);
  const third = await api(url, bob, "POST", "/api/jobs", evalRequest);
  assert.equal(first.status, 201);
  assert.equal(second.status, 201);
  assert.equal(third.status, 429);
  assert.match(third.json.error, /bob already has 2 queued jobs/);
  const overLimit = await api(url, bob, "POST", "/api/jobs",
    trainRequest({ output_repo: "bob/never-created" }));
  assert.equal(overLimit.status, 429);
  assert.equal((await api(url, bob, "GET", "/api/models/bob/never-created")).status, 404);
  // A queued job that ran before has a checkpoint to resume from. Once the job is canceled
  // nothing resumes, so the cancel removes the checkpoint and keeps the log.
  const retriedDir = join(dataDir, "jobs", String(first.json.id));
  mkdirSync(join(retriedDir, "out/style-lora/checkpoint"), { recursive: true });
  writeFileSync(join(retriedDir, "out/style-lora/checkpoint/state.bin"), "earlier attempt");
  writeFileSync(join(retriedDir, "log"), "attempt 1 of 3 started\n");
  for (const r of [first, second]) {
    const c = await api(url, bob, "POST", `/api/jobs/${r.json.id}/cancel`);
    assert.equal(c.status, 202);
    assert.equal(c.json.state, "canceled");
    assert.equal(c.json.error, "canceled by bob before it started");
  }
  assert.deepEqual(workFolderEntries(dataDir, first.json.id), ["log"]);
  assert.equal(workFolderEntries(dataDir, second.json.id), null, "a job that never ran has no folder");
  const again = await api(url, bob, "POST", `/api/jobs/${first.json.id}/cancel`);
  assert.equal(again.status, 409);
  // alice is an admin: her list has every user's jobs unless she names an owner.
  const all = (await api(url, alice, "GET", "/api/jobs")).json;
  assert.ok(all.some((j) => j.id === first.json.id && j.owner === "bob"), JSON.stringify(all));
  const own = (await api(url, alice, "GET", "/api/jobs?owner=alice")).json;
  assert.ok(own.length > 0);
  assert.ok(own.every((j) => j.owner === "alice"), JSON.stringify(own));

  // A crashed daemon leaves its worker running; the next daemon adopts it.
  const workerPid = job.worker_pid;
  const daemonPids = findProcesses(["serve", "--data", dataDir]);
  assert.equal(daemonPids.length, 1);
  process.kill(daemonPids[0], "SIGKILL");
  await daemon.stop({ keepData: true });
  assert.deepEqual(findProcesses(["worker", dataDir, "--job", String(jobs.long)]), [workerPid]);
  // Long enough that a loaded machine does not miss heartbeats every 2 s.
  daemon = await startDaemon({ dataDir,
    extraArgs: [...serveArgs, "--job-heartbeat-timeout", "15"] });
  url = daemon.url;
  job = (await api(url, alice, "GET", `/api/jobs/${jobs.long}`)).json;
  assert.equal(job.state, "running");
  assert.equal(job.worker_pid, workerPid);
  assert.match(await waitForLog(daemon, /adopting worker of an earlier daemon/),
    /adopting worker of an earlier daemon/);

  // A worker that stops sending heartbeats is killed and its job retried.
  process.kill(workerPid, "SIGSTOP");
  job = await waitForJob(url, alice, jobs.long,
    (j) => j.attempts === 2 && j.state === "running" && j.worker_pid > 0, 60000);
  // The reason went to the daemon log and the job's events. The job's error is cleared once
  // the retry runs.
  const heartbeatLine = new RegExp(`warn jobs: worker sent no heartbeat for over 15 s; ` +
    `retrying from the last checkpoint \\(attempt 1 of 3 failed\\) job=${jobs.long} attempt=1`);
  assert.match(await waitForLog(daemon, heartbeatLine), heartbeatLine);
  assert.equal(job.error, null);
  assert.notEqual(job.worker_pid, workerPid);
  await waitForJob(url, alice, jobs.long, () =>
    !findProcesses(["worker", dataDir, "--job", String(jobs.long)]).includes(workerPid), 20000);

  // Cancel the retried job: its worker stops within seconds and the log is kept. The cancel
  // waits for the second worker's start line, which the checks below look after.
  assert.match(await waitForJobLog(url, jobs.long, /attempt 2 of 3 started/),
    /attempt 2 of 3 started/);
  const c = await api(url, alice, "POST", `/api/jobs/${jobs.long}/cancel`);
  assert.equal(c.status, 202);
  job = await waitForJob(url, alice, jobs.long, (j) => j.state === "canceled", 20000);
  assert.equal(job.error, "canceled by alice; worker stopped");
  const log = (await api(url, alice, "GET", `/api/jobs/${jobs.long}/log`)).text;
  assert.match(log, /atelier train/);
  // The scheduler records the cancel and says that the trainer's hint to rerun with --resume
  // is void, however the worker ended.
  const canceledLine = "the job was canceled, so its checkpoint is removed and no attempt resumes it";
  assert.ok(log.includes(canceledLine), log);
  assert.ok(log.lastIndexOf(canceledLine) > log.lastIndexOf("rerun with --resume"), log);
  // The worker's note that the job resumes on its own follows only the daemon stop above,
  // never the canceled attempt 2.
  assert.equal(log.indexOf("resumes from this checkpoint on its own",
    log.lastIndexOf("attempt 2 of 3 started")), -1, log);
  await waitForJob(url, alice, jobs.long, () =>
    findProcesses(["worker", dataDir, "--job", String(jobs.long)]).length === 0, 20000);
  assert.deepEqual(await waitForLogOnly(dataDir, jobs.long), ["log"]);

  // The evaluation queued before the restart runs now.
  job = await waitForJob(url, alice, jobs.evaluation, (j) => j.state === "succeeded");
  assert.ok(job.result.metrics.mean_nll > 0);
  assert.deepEqual(await waitForLogOnly(dataDir, jobs.evaluation), ["log"]);
  const evals = (await api(url, alice, "GET", "/api/evals?repo=alice/stories260K")).json;
  const stored = evals.find((e) => e.job_id === jobs.evaluation);
  assert.ok(stored, JSON.stringify(evals));
  assert.match(stored.revision, /^[0-9a-f]{40}$/);
  // /api/evals takes the evaluated model's id; the error names the whole value sent.
  const prefixed = await api(url, alice, "GET", "/api/evals?repo=datasets/alice/style");
  assert.equal(prefixed.status, 400);
  assert.match(prefixed.json.error,
    /^invalid query parameter 'repo' 'datasets\/alice\/style': expected namespace\/name of the evaluated model without a type prefix/);
  // Only models have evaluations, so type=dataset is rejected. Otherwise a readable dataset
  // would return the evaluations of a model that shares its id.
  const asDataset = await api(url, alice, "GET", "/api/evals?repo=alice/style&type=dataset");
  assert.equal(asDataset.status, 400);
  assert.match(asDataset.json.error,
    /^invalid query parameter 'type' 'dataset': evaluations are of models; leave 'type' out/);
  const asModel = await api(url, alice, "GET", "/api/evals?repo=alice/stories260K&type=model");
  assert.equal(asModel.status, 200);
  assert.ok(asModel.json.some((e) => e.job_id === jobs.evaluation));
  // The job's result names the evaluated model at the commit that /api/evals stored.
  assert.equal(job.result.repo, "alice/stories260K");
  assert.equal(job.result.commit, stored.revision);
});

test("failed job keeps only its log", async () => {
  const url = daemon.url;
  const brokenDir = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), "atelier-broken-"));
  try {
    // Line 3 of a file in a folder of the repo ends in the middle of a JSON object.
    mkdirSync(join(brokenDir, "data"));
    writeFileSync(join(brokenDir, "data/train.jsonl"),
      '{"text": "one"}\n{"text": "two"}\n{"text": "thr\n');
    await pushFolder(url, alice, "dataset", "alice/broken", brokenDir);
  } finally {
    rmSync(brokenDir, { recursive: true, force: true });
  }
  const commit = (await api(url, alice, "GET", "/api/datasets/alice/broken")).json.sha;
  assert.match(commit, /^[0-9a-f]{40}$/);
  const r = await api(url, alice, "POST", "/api/jobs", trainRequest({
    dataset: "alice/broken", train_file: "data/train.jsonl", eval_file: undefined,
    output_repo: "alice/broken-lora",
  }));
  assert.equal(r.status, 201, r.text);
  const id = r.json.id;
  const job = await waitForJob(url, alice, id, (j) => j.state === "failed");
  assert.equal(job.attempts, 1, "invalid data fails without a retry");
  // The error names the dataset file as the request did, not the hub's staged copy, and the
  // trainer's "atelier train: " prefix does not repeat the command.
  assert.match(job.error, new RegExp("^atelier train failed with status 1: " +
    `alice/broken@${commit.slice(0, 7)}: data/train\\.jsonl: line 3: invalid JSON at column \\d+`));
  assert.ok(!job.error.includes(dataDir), job.error);
  assert.equal(job.error.match(/atelier train/g).length, 1, job.error);
  const events = await followEvents(url, alice, id);
  const failed = events.filter((e) => e.event === "state" && e.data.state === "failed");
  assert.equal(failed.length, 1);
  assert.equal(failed[0].data.message, job.error);
  const finalLines = events.filter((e) => e.event === "log" && /job failed: /.test(e.data.line));
  assert.equal(finalLines.length, 1);
  assert.equal(finalLines[0].data.level, "error");
  // The failed state follows the final line. The line about the deleted output repo may come
  // after both, because the repo is deleted once the failure is stored.
  assert.equal(events[events.indexOf(finalLines[0]) + 1], failed[0]);

  // The log keeps the trainer's own line with the staged path.
  assert.deepEqual(await waitForLogOnly(dataDir, id), ["log"]);
  const log = await api(url, alice, "GET", `/api/jobs/${id}/log`);
  assert.equal(log.status, 200);
  assert.match(log.text, /running atelier train/);
  const staged = join(dataDir, "jobs", String(id), "data/train/train.jsonl");
  assert.ok(log.text.includes(`atelier train: ${staged}: line 3: invalid JSON`), log.text);
  assert.ok(log.text.includes(`job failed: atelier train failed with status 1: ${staged}: line 3`),
    log.text);
  assert.ok(log.text.includes(`${finalLines[0].data.line}\n`), log.text);

  // The job created alice/broken-lora and committed nothing to it, so it deleted the repo,
  // after recording the failure.
  assert.equal(job.repo_created_by_job, true);
  const deleted = await waitForJob(url, alice, id, (j) => j.repo_deleted_at !== null);
  assert.match(deleted.repo_deleted_at, /^\d{4}-\d\d-\d\dT/);
  assert.equal((await api(url, alice, "GET", "/api/models/alice/broken-lora")).status, 404);
  const finalLog = (await api(url, alice, "GET", `/api/jobs/${id}/log`)).text;
  const deletedLine =
    /deleted the output repo alice\/broken-lora: this job created it and committed nothing to it/;
  assert.match(finalLog, deletedLine);
  // The job page shows the log events, so the line is one too, after the final state.
  const laterEvents = await followEvents(url, alice, id);
  const deletedEvents = laterEvents.filter((e) => e.event === "log" && deletedLine.test(e.data.line));
  assert.equal(deletedEvents.length, 1, JSON.stringify(laterEvents.slice(-3)));
  assert.equal(deletedEvents[0].data.level, "info");
  assert.ok(laterEvents.indexOf(deletedEvents[0]) > laterEvents.indexOf(
    laterEvents.find((e) => e.event === "state" && e.data.state === "failed")));
  const audit = auditRows("model:alice/broken-lora");
  assert.equal(audit.length, 1, JSON.stringify(audit));
  assert.equal(audit[0].action, "repo.delete");
  assert.equal(audit[0].user, "");
  assert.match(audit[0].detail, new RegExp(`^job ${id} of alice was failed`));
  assert.match(await waitForLog(daemon, /deleted output repo repo=alice\/broken-lora/),
    /deleted output repo/);
  // The daemon log has the failure as a warning with the error, the job and its owner.
  const failedLine = `warn jobs: job failed: ${job.error} job=${id} owner=alice attempt=1\n`;
  const daemonLog = await waitForLog(daemon, new RegExp(`job failed: .* job=${id} `));
  assert.ok(daemonLog.includes(failedLine), daemonLog.slice(-2000));
});

test("trainer error line has level error", async () => {
  const url = daemon.url;
  const longDir = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), "atelier-long-"));
  try {
    // One example far over the 512-token context of stories260K. The trainer's error for it
    // contains none of the words "error", "failed", "invalid" and "cannot".
    const story = "Once upon a time, there was a little girl named Anna. ".repeat(200);
    writeFileSync(join(longDir, "train.jsonl"), `${JSON.stringify({ text: story })}\n`);
    await pushFolder(url, alice, "dataset", "alice/long-story", longDir);
  } finally {
    rmSync(longDir, { recursive: true, force: true });
  }
  const r = await api(url, alice, "POST", "/api/jobs", trainRequest({
    dataset: "alice/long-story", eval_file: undefined, output_repo: "alice/long-story-lora",
  }));
  assert.equal(r.status, 201, r.text);
  const job = await waitForJob(url, alice, r.json.id, (j) => j.state === "failed");
  assert.match(job.error, /the example is \d+ tokens, over the limit of 512/);
  const logEvents = (await followEvents(url, alice, r.json.id))
    .filter((e) => e.event === "log").map((e) => e.data);
  const errorLine = logEvents.find((d) => /^atelier train: .*over the limit of 512/.test(d.line));
  assert.ok(errorLine, JSON.stringify(logEvents));
  assert.equal(errorLine.level, "error");
  // The trainer's lines before its error stay info.
  const seedLine = logEvents.find((d) => /^atelier train: seed 1,/.test(d.line));
  assert.ok(seedLine, JSON.stringify(logEvents));
  assert.equal(seedLine.level, "info");
  await waitForWorkerExit(url, r.json.id);
});

test("trainer error names the job param", async () => {
  const url = daemon.url;
  // Every prompt of completion.jsonl is longer than 8 tokens, so no target token is left.
  const r = await api(url, alice, "POST", "/api/jobs", trainRequest({
    train_file: "completion.jsonl", eval_file: undefined, output_repo: "alice/short-seq-lora",
    params: { ...trainParams, seq_len: 8 },
  }));
  assert.equal(r.status, 201, r.text);
  const job = await waitForJob(url, alice, r.json.id, (j) => j.state === "failed");
  assert.match(job.error, /no scored tokens because --seq-len 8 cuts off every target token/);
  assert.match(job.error, / \(in the job request: --seq-len is params\.seq_len\)$/);
  const logEvents = (await followEvents(url, alice, r.json.id))
    .filter((e) => e.event === "log").map((e) => e.data);
  const errorLine = logEvents.find((d) => /^atelier train: step 1 has no scored/.test(d.line));
  assert.ok(errorLine, JSON.stringify(logEvents));
  assert.equal(errorLine.level, "error");
  await waitForWorkerExit(url, r.json.id);
});

test("eval job takes base_model", async () => {
  const url = daemon.url;
  // A copy of the adapter whose base_model_name_or_path is the local name the trainer records
  // without --base-name. base_model in the request names the base on this hub instead.
  const copyDir = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), "atelier-copy-"));
  try {
    for (const path of ["adapter_config.json", "adapter_model.safetensors"]) {
      const file = await hub.downloadFile({ repo: { type: "model", name: "alice/style-lora" },
        path, accessToken: alice, hubUrl: url });
      assert.ok(file, `${path} is in the adapter repo`);
      let bytes = Buffer.from(await file.arrayBuffer());
      if (path === "adapter_config.json") {
        const config = JSON.parse(bytes.toString("utf8"));
        config.base_model_name_or_path = "stories260K";
        bytes = Buffer.from(JSON.stringify(config));
      }
      writeFileSync(join(copyDir, path), bytes);
    }
    await pushFolder(url, alice, "model", "alice/renamed-base-lora", copyDir);
  } finally {
    rmSync(copyDir, { recursive: true, force: true });
  }

  const request = { type: "eval", model: "alice/renamed-base-lora", dataset: "alice/style",
    eval_file: "eval.jsonl" };
  let r = await api(url, alice, "POST", "/api/jobs", request);
  assert.equal(r.status, 400, r.text);
  r = await api(url, alice, "POST", "/api/jobs", { ...request, base_model: "alice/stories260K" });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.spec.base_model, "alice/stories260K");

  const job = await waitForJob(url, alice, r.json.id, (j) => j.state === "succeeded");
  assert.ok(job.result.metrics.base.mean_nll > 0, JSON.stringify(job.result));
  assert.ok(job.result.metrics.adapter.mean_nll > 0, JSON.stringify(job.result));
  assert.equal(job.pinned_commits.adapter_base.length, 40);
  const evals = (await api(url, alice, "GET", "/api/evals?repo=alice/stories260K")).json;
  assert.ok(evals.some((e) => e.job_id === job.id), JSON.stringify(evals));
  await waitForWorkerExit(url, job.id);
});

test("failed job keeps an output repo it did not create", async () => {
  const url = daemon.url;
  // An empty repo that alice made herself: only its first commit, like one a job creates.
  await hub.createRepo({ repo: { type: "model", name: "alice/own-lora" }, accessToken: alice,
    hubUrl: url });
  const r = await api(url, alice, "POST", "/api/jobs", trainRequest({
    dataset: "alice/broken", train_file: "data/train.jsonl", eval_file: undefined,
    output_repo: "alice/own-lora",
  }));
  assert.equal(r.status, 201, r.text);
  const id = r.json.id;
  assert.equal(r.json.repo_created_by_job, false);
  await waitForJob(url, alice, id, (j) => j.state === "failed");
  await waitForWorkerExit(url, id);
  const job = (await api(url, alice, "GET", `/api/jobs/${id}`)).json;
  assert.equal(job.repo_deleted_at, null);
  assert.equal((await api(url, alice, "GET", "/api/models/alice/own-lora")).status, 200);
  assert.deepEqual(auditRows("model:alice/own-lora").filter((a) => a.action === "repo.delete"), []);
  assert.doesNotMatch((await api(url, alice, "GET", `/api/jobs/${id}/log`)).text,
    /output repo/);
});

test("canceled jobs delete only empty output repos", async () => {
  const url = daemon.url;
  let r = await api(url, alice, "POST", "/api/jobs", trainRequest({
    output_repo: "alice/busy-lora", params: { ...trainParams, steps: 100000 },
  }));
  assert.equal(r.status, 201, r.text);
  const running = r.json.id;
  await waitForJob(url, alice, running, (j) => j.state === "running" && j.progress.step > 0);

  // A job queued behind it is canceled before it starts: its new repo goes at once.
  r = await api(url, alice, "POST", "/api/jobs", trainRequest({ output_repo: "alice/waiting-lora" }));
  assert.equal(r.status, 201, r.text);
  const queued = r.json.id;
  r = await api(url, alice, "POST", `/api/jobs/${queued}/cancel`);
  assert.equal(r.status, 202);
  assert.equal(r.json.state, "canceled");
  assert.notEqual(r.json.repo_deleted_at, null);
  assert.equal((await api(url, alice, "GET", "/api/models/alice/waiting-lora")).status, 404);
  const audit = auditRows("model:alice/waiting-lora");
  assert.equal(audit.length, 1, JSON.stringify(audit));
  assert.match(audit[0].detail, new RegExp(`^job ${queued} of alice was canceled`));

  // A job of carol waits behind it, and an admin disables carol before it starts: the worker
  // fails it instead of training and committing under her name.
  r = await api(url, carol, "POST", "/api/jobs", trainRequest({ output_repo: "carol/style-lora" }));
  assert.equal(r.status, 201, r.text);
  const disabledOwnerJob = r.json.id;
  admin(dataDir, ["user", "disable", "carol"]);

  // The running job's repo gets a commit from alice, so canceling the job keeps it.
  await hub.uploadFiles({
    repo: { type: "model", name: "alice/busy-lora" }, accessToken: alice, hubUrl: url,
    files: [{ path: "NOTES.md", content: new Blob(["notes written while the job ran\n"]) }],
  });
  assert.equal((await api(url, alice, "POST", `/api/jobs/${running}/cancel`)).status, 202);
  await waitForJob(url, alice, running, (j) => j.state === "canceled", 20000);
  const log = await waitForJobLog(url, running, /kept the output repo/);
  // The job's step is the one the trainer stopped at, even when the rate limit on stored
  // progress held that step line back.
  const stoppedAt = log.match(/stopped by a signal after step (\d+) of 100000/);
  assert.ok(stoppedAt, log);
  assert.match(log, /kept the output repo alice\/busy-lora, which this job created, because main is at commit/);
  const keptEvents = (await followEvents(url, alice, running)).filter(
    (e) => e.event === "log" && /kept the output repo alice\/busy-lora/.test(e.data.line));
  assert.equal(keptEvents.length, 1);
  const job = (await api(url, alice, "GET", `/api/jobs/${running}`)).json;
  assert.equal(job.progress.step, Number(stoppedAt[1]));
  assert.equal(job.repo_created_by_job, true);
  assert.equal(job.repo_deleted_at, null);
  assert.equal((await api(url, alice, "GET", "/api/models/alice/busy-lora")).status, 200);
  await waitForWorkerExit(url, running);

  const disabled = await waitForJob(url, alice, disabledOwnerJob, (j) => j.state === "failed");
  assert.match(disabled.error, /^owner carol is disabled; /);
  assert.equal(disabled.attempts, 1);
  assert.equal(disabled.result, null);
  await waitForWorkerExit(url, disabledOwnerJob);
});

test("disabling owner stops running job", async () => {
  const url = daemon.url;
  addUser(dataDir, "dave");
  const dave = createToken(dataDir, "dave");
  const r = await api(url, dave, "POST", "/api/jobs", trainRequest({
    output_repo: "dave/stopped-lora", params: { ...trainParams, steps: 100000 },
  }));
  assert.equal(r.status, 201, r.text);
  const id = r.json.id;
  await waitForJob(url, alice, id, (j) => j.state === "running" && j.progress.step > 0);
  const trainer = ["train", `--out=${join(dataDir, "jobs", String(id), "out", "stopped-lora")}`];
  assert.equal(findProcesses(trainer).length, 1, "the trainer runs before the disable");

  // The admin command is its own process. It marks the job in the database, and the
  // daemon's scheduler stops the worker and the trainer.
  const out = admin(dataDir, ["user", "disable", "dave"]);
  assert.match(out, /^disabled dave: .*1 running job\(s\) canceled/);
  const job = await waitForJob(url, alice, id, (j) => j.state === "canceled", 20000);
  assert.equal(job.error, "canceled because an admin disabled owner dave; worker stopped");
  assert.equal(job.result, null);
  await waitForWorkerExit(url, id);
  await waitForJob(url, alice, id, () => findProcesses(trainer).length === 0, 20000);
  assert.deepEqual(findProcesses(trainer), []);

  // The job created its output repo, and the scheduler deletes that repo only while main is
  // still at its first commit, so a deleted repo means that no adapter was committed.
  const ended = await waitForJob(url, alice, id, (j) => j.repo_deleted_at !== null, 20000);
  assert.equal(ended.repo_created_by_job, true);
  assert.equal((await api(url, alice, "GET", "/api/models/dave/stopped-lora")).status, 404);
  const log = await waitForJobLog(url, id, /the job was canceled/);
  assert.match(log, /the job was canceled, so its checkpoint is removed/);
  assert.doesNotMatch(log, /committed [0-9a-f]{40} to dave\/stopped-lora/);
  assert.deepEqual(await waitForLogOnly(dataDir, id), ["log"]);
});

test("repo delete rejects repos that jobs use", async () => {
  const url = daemon.url;
  await pushFolder(url, alice, "dataset", "alice/del-data", styleDir,
    { skip: (p) => p.endsWith(".py") });
  let r = await api(url, alice, "POST", "/api/jobs", trainRequest({
    dataset: "alice/del-data", output_repo: "alice/del-lora",
    params: { ...trainParams, steps: 100000 },
  }));
  assert.equal(r.status, 201, r.text);
  const running = r.json.id;
  await waitForJob(url, alice, running, (j) => j.state === "running" && j.progress.step > 0);
  // Queued behind it (one worker), with a dataset of its own.
  await pushFolder(url, alice, "dataset", "alice/del-later", styleDir,
    { skip: (p) => p.endsWith(".py") });
  r = await api(url, alice, "POST", "/api/jobs", trainRequest({
    dataset: "alice/del-later", output_repo: "alice/del-later-lora",
  }));
  assert.equal(r.status, 201, r.text);
  const queued = r.json.id;

  const deleteRepo = (name, type) => api(url, alice, "DELETE", "/api/repos/delete",
    { name, organization: "alice", type });
  const cases = [
    ["del-lora", "model", running, "running"],
    ["stories260K", "model", running, "running"],
    ["del-data", "dataset", running, "running"],
    ["del-later", "dataset", queued, "queued"],
  ];
  for (const [name, type, id, state] of cases) {
    r = await deleteRepo(name, type);
    assert.equal(r.status, 409, `${type} alice/${name}: ${r.text}`);
    assert.equal(r.json.error, `cannot delete ${type} alice/${name} while ${state} job ${id} ` +
      `uses it: cancel job ${id} first (on its job page or with POST /api/jobs/${id}/cancel), ` +
      "then delete the repo");
  }
  assert.equal((await api(url, alice, "GET", "/api/datasets/alice/del-data")).status, 200);
  assert.equal((await api(url, alice, "GET", "/api/models/alice/del-lora")).status, 200);
  assert.equal((await api(url, alice, "GET", `/api/jobs/${running}`)).json.state, "running");

  // Once both jobs are canceled, the datasets can go.
  for (const id of [queued, running])
    assert.equal((await api(url, alice, "POST", `/api/jobs/${id}/cancel`)).status, 202);
  await waitForJob(url, alice, running, (j) => j.state === "canceled", 20000);
  await waitForWorkerExit(url, running);
  assert.equal((await deleteRepo("del-data", "dataset")).status, 200);
  assert.equal((await deleteRepo("del-later", "dataset")).status, 200);
  assert.equal((await api(url, alice, "GET", "/api/datasets/alice/del-data")).status, 404);
});

test("resumed job trains on the commits of its first attempt", async () => {
  let url = daemon.url;
  await pushFolder(url, alice, "dataset", "alice/moving", styleDir,
    { skip: (p) => p.endsWith(".py") });
  const first = (await api(url, alice, "GET", "/api/datasets/alice/moving")).json.sha;
  assert.match(first, /^[0-9a-f]{40}$/);
  const r = await api(url, alice, "POST", "/api/jobs", trainRequest({
    dataset: "alice/moving", output_repo: "alice/pinned-lora", params: { ...trainParams, steps: 300 },
  }));
  assert.equal(r.status, 201, r.text);
  const id = r.json.id;
  assert.equal(r.json.pinned_commits, null);

  let job = await waitForJob(url, alice, id, (j) => j.state === "running" && j.progress.step >= 15);
  assert.equal(job.pinned_commits.dataset, first);
  assert.match(job.pinned_commits.model, /^[0-9a-f]{40}$/);
  assert.equal(job.pinned_commits.adapter_base, null);
  const model = job.pinned_commits.model;

  // Main of the dataset moves while the job runs, and a daemon stop makes the job resume.
  await hub.uploadFiles({
    repo: { type: "dataset", name: "alice/moving" }, accessToken: alice, hubUrl: url,
    files: [{ path: "train.jsonl", content: new Blob(['{"text": "a different story"}\n']) }],
  });
  const moved = (await api(url, alice, "GET", "/api/datasets/alice/moving")).json.sha;
  assert.notEqual(moved, first);
  assert.equal(await daemon.stop({ keepData: true }), 0);
  daemon = await startDaemon({ dataDir, extraArgs: serveArgs });
  url = daemon.url;
  job = await waitForJob(url, alice, id, (j) => j.state === "succeeded" || j.state === "failed");
  const log = (await api(url, alice, "GET", `/api/jobs/${id}/log`)).text;
  assert.equal(job.state, "succeeded", log);
  assert.deepEqual(job.pinned_commits, { model, dataset: first, adapter_base: null });

  // Both runs staged the first commit, and the second one resumed from its checkpoint.
  const staged = [...log.matchAll(/staged alice\/stories260K@([0-9a-f]+) and alice\/moving@([0-9a-f]+)(.*)/g)];
  assert.equal(staged.length, 2, log);
  for (const m of staged) {
    assert.equal(m[1], model.slice(0, 12));
    assert.equal(m[2], first.slice(0, 12));
  }
  assert.equal(staged[0][3], "");
  assert.equal(staged[1][3], ", the commits that the first attempt used");
  assert.match(log, /atelier train: resuming from \S+ at step \d+ of 300/);

  // The adapter's card and its evaluation name the first commit too.
  const card = await hub.downloadFile({
    repo: { type: "model", name: "alice/pinned-lora" }, path: "README.md", hubUrl: url,
    accessToken: alice, revision: job.result.commit,
  });
  assert.ok((await card.text()).includes(`alice/moving at commit \`${first}\``));
  const evals = (await api(url, alice, "GET", "/api/evals?repo=alice/pinned-lora")).json;
  assert.equal(evals[0].dataset_revision, first);
});

// Root reads a file whatever its mode, so only another user sees the checkpoint as unreadable.
const asRoot = process.getuid() === 0;
test("unreadable checkpoint is kept for a retry",
  { skip: asRoot && "root can read a file with mode 000" }, async () => {
    let url = daemon.url;
    const r = await api(url, alice, "POST", "/api/jobs", trainRequest({
      output_repo: "alice/locked-lora", params: { ...trainParams, steps: 300 },
    }));
    assert.equal(r.status, 201, r.text);
    const id = r.json.id;
    const checkpoint = join(dataDir, "jobs", String(id), "out/locked-lora/checkpoint/state.bin");
    await waitForJob(url, alice, id, (j) => j.state === "running" && j.progress.step >= 15);
    assert.ok(existsSync(checkpoint), "the first checkpoint exists before the stop");
    assert.equal(await daemon.stop({ keepData: true }), 0);
    chmodSync(checkpoint, 0o000);
    daemon = await startDaemon({ dataDir, extraArgs: serveArgs });
    url = daemon.url;

    // Every attempt finds the checkpoint unreadable and fails, to be retried, without
    // removing it: the next attempt meets the same file.
    const job = await waitForJob(url, alice, id, (j) => j.state === "failed" || j.state === "succeeded");
    const log = (await api(url, alice, "GET", `/api/jobs/${id}/log`)).text;
    assert.equal(job.state, "failed", log);
    assert.equal(job.attempts, job.max_attempts);
    const unreadable = log.match(new RegExp(`cannot open the checkpoint ${checkpoint}: ` +
      "Permission denied \\(errno 13\\)", "g"));
    assert.equal(unreadable?.length, job.max_attempts, log);
    assert.doesNotMatch(log, /starting over without --resume/);
    assert.equal(log.match(/running atelier train/g).length, 1, log);
    await waitForJob(url, alice, id, (j) => j.repo_deleted_at !== null);
    assert.deepEqual(await waitForLogOnly(dataDir, id), ["log"]);
  });


test("daemon stop resumes the job from its checkpoint", async () => {
  let url = daemon.url;
  const r = await api(url, alice, "POST", "/api/jobs", trainRequest({
    output_repo: "alice/resumed-lora", params: { ...trainParams, steps: 300 },
  }));
  assert.equal(r.status, 201, r.text);
  const id = r.json.id;
  const checkpoint = join(dataDir, "jobs", String(id), "out/resumed-lora/checkpoint/state.bin");

  // Stop the daemon once the trainer has written its first checkpoint (every 10 steps) and
  // gone past it, so a restart from step 0 cannot be mistaken for a resume.
  await waitForJob(url, alice, id, (j) => j.state === "running" && j.progress.step >= 15);
  assert.ok(existsSync(checkpoint), "the first checkpoint exists before the stop");
  assert.equal(await daemon.stop({ keepData: true }), 0);
  // While the job waits for the next start, its error is the reason of the stop.
  assert.deepEqual(jobRow(id), { state: "queued",
    error: "the daemon stopped; the job runs again when it restarts" });
  daemon = await startDaemon({ dataDir, extraArgs: serveArgs });
  url = daemon.url;
  // Once it runs again, the reason of the stop no longer applies.
  const rerun = await waitForJob(url, alice, id, (j) => j.state !== "queued");
  assert.equal(rerun.state, "running");
  assert.equal(rerun.error, null);
  const job = await waitForJob(url, alice, id, (j) => j.state === "succeeded");
  assert.equal(job.attempts, 1, "a daemon stop does not use up an attempt");
  assert.equal(job.progress.step, 300);

  const log = (await api(url, alice, "GET", `/api/jobs/${id}/log`)).text;
  assert.match(log, /running atelier train --resume from the last checkpoint/);
  // The trainer's hint to rerun with --resume is followed by a note that the job does that.
  const rerunAt = log.indexOf("rerun with --resume to continue");
  assert.ok(rerunAt > 0, log);
  const noteAt = log.indexOf("note: the job resumes from this checkpoint on its own", rerunAt);
  assert.ok(noteAt > rerunAt, log);
  assert.equal(log.slice(rerunAt, noteAt).split("\n").length, 2, "the note is the next line");
  const resumedAt = log.match(/atelier train: resuming from \S+ at step (\d+) of 300/);
  assert.ok(resumedAt, `the trainer resumed from its checkpoint:\n${log}`);
  const resumedStep = Number(resumedAt[1]);
  assert.ok(resumedStep >= 10, `resumed at step ${resumedStep}, after the first checkpoint`);

  // The second run continues after the checkpoint step instead of training from step 1.
  const events = await followEvents(url, alice, id);
  const states = events.filter((e) => e.event === "state").map((e) => e.data.state);
  assert.deepEqual(states, ["queued", "running", "queued", "running", "succeeded"]);
  const runs = events.flatMap((e, i) => (e.event === "state" && e.data.state === "running" ? [i] : []));
  const firstStep = events.slice(runs[1]).find((e) => e.event === "progress");
  assert.ok(firstStep, "the second run stored progress");
  assert.equal(firstStep.data.step, resumedStep + 1);
  assert.deepEqual(await waitForLogOnly(dataDir, id), ["log"]);
});

test("fresh job ignores a stale checkpoint", async () => {
  const url = daemon.url;
  // A running job takes the only worker, so the two jobs below stay queued while the test
  // puts checkpoint files that no run of theirs wrote in their folders.
  let r = await api(url, alice, "POST", "/api/jobs", trainRequest({
    output_repo: "alice/blocker-lora", params: { ...trainParams, steps: 300 },
  }));
  assert.equal(r.status, 201, r.text);
  const blocker = r.json.id;
  await waitForJob(url, alice, blocker, (j) => j.state === "running" && j.progress.step >= 15);
  const realCheckpoint = join(dataDir, "jobs", String(blocker), "out/blocker-lora/checkpoint/state.bin");

  const cases = [
    // A real checkpoint dated before the job was created, like the folder that another job
    // with the same id leaves behind when the database is restored from a backup.
    { name: "old-lora", reason: /was written before the job was created/ },
    { name: "garbage-lora", reason: /is not a training checkpoint/ },
  ];
  for (const c of cases) {
    r = await api(url, alice, "POST", "/api/jobs", trainRequest({
      output_repo: `alice/${c.name}`, params: { ...trainParams, steps: 20 },
    }));
    assert.equal(r.status, 201, r.text);
    c.id = r.json.id;
    const folder = join(dataDir, "jobs", String(c.id), "out", c.name, "checkpoint");
    mkdirSync(folder, { recursive: true });
    if (c.name === "old-lora") {
      copyFileSync(realCheckpoint, join(folder, "state.bin"));
      const hourAgo = new Date(Date.now() - 3600 * 1000);
      utimesSync(join(folder, "state.bin"), hourAgo, hourAgo);
    } else {
      writeFileSync(join(folder, "state.bin"), "not a checkpoint");
    }
  }
  assert.equal((await api(url, alice, "POST", `/api/jobs/${blocker}/cancel`)).status, 202);

  for (const c of cases) {
    const job = await waitForJob(url, alice, c.id, (j) => j.state === "succeeded" || j.state === "failed");
    const log = (await api(url, alice, "GET", `/api/jobs/${c.id}/log`)).text;
    assert.equal(job.state, "succeeded", log);
    assert.match(log, /starting over without --resume: /);
    assert.match(log, c.reason);
    assert.doesNotMatch(log, /resuming from/);
    assert.equal(job.progress.step, 20);
  }
});

test("daemon and workers stop cleanly", async () => {
  const stopped = daemon;
  daemon = null;
  assert.equal(await stopped.stop({ keepData: true }), 0);
  // Workers log to the daemon's stderr, so sanitizer reports of either land here.
  assert.doesNotMatch(stopped.log(), /Sanitizer|runtime error/);
  assert.doesNotMatch(stopped.log(), / error jobs: /);
});
