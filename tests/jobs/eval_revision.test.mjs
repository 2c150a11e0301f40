// End to end: an evaluation job of an adapter reads the base model at the commit that the
// adapter's adapter_config.json records as "revision", not at the base's main. So a later
// push to the base does not change the adapter's results. The real daemon trains the adapter
// as a job, and the @huggingface/hub client pushes the repos.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { createToken, prepareDataDir, startDaemon } from "../hub/daemon.mjs";
import { api, hub, killDataDirProcesses, pushFolder, pushJobInputs, waitForJob } from
  "./jobs_client.mjs";

const corpus = process.env.ATELIER_CORPUS;
const modelDir = join(corpus, "models/stories260K");

// Ten steps of stories260K with batch 2 and 64 tokens, so that the training job is short.
const trainParams = {
  rank: 4, alpha: 8, targets: "q_proj,v_proj", lr: 0.002, steps: 10, batch: 2, seq_len: 64,
  seed: 1, threads: 1, checkpoint_every: 10,
};

const evalRequest = {
  type: "eval", model: "alice/rev-lora", dataset: "alice/style", eval_file: "eval.jsonl",
};

let dataDir, daemon, alice;
// The commits of alice/stories260K: the one the adapter was trained on and the later push.
let trainedOn, pushedLater;

const isFinished = (job) => ["succeeded", "failed", "canceled"].includes(job.state);

// Queues an evaluation job, waits until it ends and returns the job with its log.
async function runEval(request) {
  const r = await api(daemon.url, alice, "POST", "/api/jobs", request);
  assert.equal(r.status, 201, r.text);
  const job = await waitForJob(daemon.url, alice, r.json.id, isFinished);
  const log = (await api(daemon.url, alice, "GET", `/api/jobs/${job.id}/log`)).text;
  assert.equal(job.state, "succeeded", `${job.error}\n${log}`);
  return { job, log };
}

// Returns a copy of a safetensors file with every F32 value of its data scaled by factor.
function scaledSafetensors(path, factor) {
  const bytes = Buffer.from(readFileSync(path));
  const headerLen = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLen).toString("utf8"));
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    assert.equal(info.dtype, "F32", `tensor ${name}`);
    const [begin, end] = info.data_offsets;
    for (let at = 8 + headerLen + begin; at < 8 + headerLen + end; at += 4)
      bytes.writeFloatLE(bytes.readFloatLE(at) * factor, at);
  }
  return bytes;
}

// Pushes the files of adapter repo "from" to a new repo "to", with the changes of
// configChanges merged into its adapter_config.json.
async function pushAdapterCopy(from, to, configChanges) {
  const dir = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), "atelier-adapter-"));
  try {
    for (const path of ["adapter_config.json", "adapter_model.safetensors"]) {
      const file = await hub.downloadFile({ repo: { type: "model", name: from }, path,
        accessToken: alice, hubUrl: daemon.url });
      assert.ok(file, `${path} is in ${from}`);
      let bytes = Buffer.from(await file.arrayBuffer());
      if (path === "adapter_config.json")
        bytes = Buffer.from(JSON.stringify({ ...JSON.parse(bytes.toString("utf8")), ...configChanges }));
      writeFileSync(join(dir, path), bytes);
    }
    await pushFolder(daemon.url, alice, "model", to, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

before(async () => {
  dataDir = prepareDataDir();
  alice = createToken(dataDir, "alice");
  daemon = await startDaemon({ dataDir, extraArgs: ["--workers", "1"] });
  await pushJobInputs(daemon.url, alice);
});

after(async () => {
  if (daemon) await daemon.stop({ keepData: true });
  if (dataDir) killDataDirProcesses(dataDir);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test("training job records the base commit", async () => {
  trainedOn = (await api(daemon.url, alice, "GET", "/api/models/alice/stories260K")).json.sha;
  assert.match(trainedOn, /^[0-9a-f]{40}$/);
  const r = await api(daemon.url, alice, "POST", "/api/jobs", {
    type: "train", base_model: "alice/stories260K", dataset: "alice/style",
    train_file: "train.jsonl", output_repo: "alice/rev-lora", params: trainParams,
  });
  assert.equal(r.status, 201, r.text);
  const job = await waitForJob(daemon.url, alice, r.json.id, isFinished);
  assert.equal(job.state, "succeeded", job.error);
  assert.equal(job.pinned_commits.model, trainedOn);

  const file = await hub.downloadFile({ repo: { type: "model", name: "alice/rev-lora" },
    path: "adapter_config.json", accessToken: alice, hubUrl: daemon.url });
  const config = JSON.parse(await file.text());
  assert.equal(config.base_model_name_or_path, "alice/stories260K");
  assert.equal(config.revision, trainedOn);
});

test("adapter eval uses the recorded base commit", async () => {
  assert.ok(trainedOn, "the training test ran");
  const atTrainedOn = await runEval(evalRequest);
  assert.deepEqual(atTrainedOn.job.result.base,
    { repo: "alice/stories260K", commit: trainedOn });

  // A new commit on the base's main with other weights.
  await hub.uploadFiles({
    repo: { type: "model", name: "alice/stories260K" }, accessToken: alice, hubUrl: daemon.url,
    files: [{ path: "model.safetensors",
      content: new Blob([scaledSafetensors(join(modelDir, "model.safetensors"), 0.5)]) }],
  });
  pushedLater = (await api(daemon.url, alice, "GET", "/api/models/alice/stories260K")).json.sha;
  assert.notEqual(pushedLater, trainedOn);

  const recorded = await runEval(evalRequest);
  assert.equal(recorded.job.pinned_commits.adapter_base, trainedOn);
  assert.deepEqual(recorded.job.result.base, { repo: "alice/stories260K", commit: trainedOn });
  assert.deepEqual(recorded.job.result.metrics, atTrainedOn.job.result.metrics);
  assert.ok(recorded.log.includes(`evaluating against alice/stories260K@${trainedOn.slice(0, 12)}, ` +
    `resolved from revision '${trainedOn}' (the base revision recorded in adapter_config.json)`),
    recorded.log);

  // The request's base_revision wins over the recorded one.
  const atMain = await runEval({ ...evalRequest, base_revision: "main" });
  assert.equal(atMain.job.spec.base_revision, "main");
  assert.deepEqual(atMain.job.result.base, { repo: "alice/stories260K", commit: pushedLater });
  assert.notEqual(atMain.job.result.metrics.base.mean_nll,
    atTrainedOn.job.result.metrics.base.mean_nll);
  assert.notEqual(atMain.job.result.metrics.adapter.mean_nll,
    atTrainedOn.job.result.metrics.adapter.mean_nll);
  const evals = (await api(daemon.url, alice, "GET", "/api/evals?repo=alice/stories260K")).json;
  assert.ok(evals.some((e) => e.job_id === atMain.job.id && e.revision === pushedLater),
    JSON.stringify(evals));
  assert.ok(evals.some((e) => e.job_id === recorded.job.id && e.revision === trainedOn),
    JSON.stringify(evals));
  // A full model's evaluations have no base.
  for (const e of evals) {
    assert.equal(e.base_model, null, JSON.stringify(e));
    assert.equal(e.base_revision, null, JSON.stringify(e));
  }

  // Each evaluation of the adapter names the base commit it was scored against: the first two
  // the commit it was trained on, the third the later commit of main. The training job had no
  // eval file, so it stored none.
  const adapterEvals =
    (await api(daemon.url, null, "GET", "/api/evals?repo=alice/rev-lora")).json;
  const baseOf = (jobId) => {
    const row = adapterEvals.find((e) => e.job_id === jobId);
    assert.ok(row, `job ${jobId} stored an evaluation: ${JSON.stringify(adapterEvals)}`);
    return { base_model: row.base_model, base_revision: row.base_revision };
  };
  assert.equal(adapterEvals.length, 3, JSON.stringify(adapterEvals));
  assert.deepEqual(baseOf(atTrainedOn.job.id),
    { base_model: "alice/stories260K", base_revision: trainedOn });
  assert.deepEqual(baseOf(recorded.job.id),
    { base_model: "alice/stories260K", base_revision: trainedOn });
  assert.deepEqual(baseOf(atMain.job.id),
    { base_model: "alice/stories260K", base_revision: pushedLater });
  // The model info lists the same rows.
  const info = (await api(daemon.url, null, "GET", "/api/models/alice/rev-lora")).json;
  assert.deepEqual(info.evaluations, adapterEvals.slice(0, 20));
});

// Evaluations of a public adapter name its dataset and base. Once alice makes them private,
// bob, who may still read the adapter, gets null in their place from both /api/evals and the
// model info; alice still sees them. The model info is cached per viewer, so bob's view must
// follow each visibility change.
test("evaluations hide private inputs from others", async () => {
  assert.ok(trainedOn, "the training test ran");
  const bob = createToken(dataDir, "bob", { write: false, label: "bob-read" });
  const evalsOf = async (token) =>
    (await api(daemon.url, token, "GET", "/api/evals?repo=alice/rev-lora")).json;
  const infoEvalsOf = async (token) =>
    (await api(daemon.url, token, "GET", "/api/models/alice/rev-lora")).json.evaluations;
  const setPrivate = async (kind, id, value) => {
    const r = await api(daemon.url, alice, "PUT", `/api/${kind}/${id}/settings`,
      { private: value });
    assert.equal(r.status, 200, r.text);
  };

  // Public inputs: bob sees the names, and this caches bob's info body.
  const shown = await evalsOf(bob);
  assert.ok(shown.length > 0, "the adapter has evaluations");
  for (const e of shown) {
    assert.equal(e.dataset, "alice/style");
    assert.equal(e.dataset_hidden, false);
    assert.equal(e.base_model, "alice/stories260K");
    assert.equal(e.base_model_hidden, false);
  }
  assert.deepEqual(await infoEvalsOf(bob), shown.slice(0, 20));

  await setPrivate("datasets", "alice/style", true);
  await setPrivate("models", "alice/stories260K", true);
  try {
    for (const rows of [await evalsOf(bob), await infoEvalsOf(bob)]) {
      assert.equal(rows.length, shown.length);
      for (const e of rows) {
        assert.equal(e.dataset, null, JSON.stringify(e));
        assert.equal(e.dataset_revision, null, JSON.stringify(e));
        assert.equal(e.dataset_hidden, true);
        assert.equal(e.base_model, null, JSON.stringify(e));
        assert.equal(e.base_revision, null, JSON.stringify(e));
        assert.equal(e.base_model_hidden, true);
        assert.equal(e.repo, "alice/rev-lora");
        assert.ok(e.metrics, "the scores stay");
      }
    }
    for (const rows of [await evalsOf(alice), await infoEvalsOf(alice)]) {
      for (const e of rows) {
        assert.equal(e.dataset, "alice/style");
        assert.match(e.dataset_revision, /^[0-9a-f]{40}$/);
        assert.equal(e.dataset_hidden, false);
        assert.equal(e.base_model, "alice/stories260K");
        assert.match(e.base_revision, /^[0-9a-f]{40}$/);
        assert.equal(e.base_model_hidden, false);
      }
    }

    // Only the dataset private: bob sees the base again.
    await setPrivate("models", "alice/stories260K", false);
    for (const rows of [await evalsOf(bob), await infoEvalsOf(bob)]) {
      for (const e of rows) {
        assert.equal(e.dataset, null);
        assert.equal(e.dataset_hidden, true);
        assert.equal(e.base_model, "alice/stories260K");
        assert.match(e.base_revision, /^[0-9a-f]{40}$/);
      }
    }
  } finally {
    await setPrivate("datasets", "alice/style", false);
    await setPrivate("models", "alice/stories260K", false);
  }
  assert.deepEqual(await infoEvalsOf(bob), shown.slice(0, 20), "bob's view is back");
});

test("eval rejects a recorded revision that is gone", async () => {
  assert.ok(trainedOn, "the training test ran");
  // A commit id that alice/stories260K does not have, as after a history rewrite.
  const missingCommit = "0123456789abcdef0123456789abcdef01234567";
  await pushAdapterCopy("alice/rev-lora", "alice/orphan-lora", { revision: missingCommit });
  const request = { ...evalRequest, model: "alice/orphan-lora" };

  let r = await api(daemon.url, alice, "POST", "/api/jobs", request);
  assert.equal(r.status, 404, r.text);
  assert.match(r.json.error, /alice\/orphan-lora/);
  assert.match(r.json.error, new RegExp(`revision '${missingCommit}' of base model 'alice/stories260K'`));
  assert.match(r.json.error, /base_revision/);

  r = await api(daemon.url, alice, "POST", "/api/jobs", { ...request, base_revision: "nope" });
  assert.equal(r.status, 404, r.text);
  assert.match(r.json.error, /^base_revision 'nope' not found in model repo 'alice\/stories260K'/);

  // The fix that the error names: an explicit base_revision.
  const fixed = await runEval({ ...request, base_revision: trainedOn });
  assert.deepEqual(fixed.job.result.base, { repo: "alice/stories260K", commit: trainedOn });
});

test("eval rejects invalid base revisions", async () => {
  assert.ok(trainedOn, "the training test ran");
  await pushAdapterCopy("alice/rev-lora", "alice/bad-rev-lora", { revision: "a b" });
  let r = await api(daemon.url, alice, "POST", "/api/jobs",
    { ...evalRequest, model: "alice/bad-rev-lora" });
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.error, /records revision 'a b' of its base, which is not a branch, tag or commit id/);

  // A null revision, PEFT's default when the base's revision was not given, means main.
  await pushAdapterCopy("alice/rev-lora", "alice/null-rev-lora", { revision: null });
  const atMain = await runEval({ ...evalRequest, model: "alice/null-rev-lora" });
  assert.deepEqual(atMain.job.result.base, { repo: "alice/stories260K", commit: pushedLater });

  // A full model has no base, so base_revision does not apply to it.
  r = await api(daemon.url, alice, "POST", "/api/jobs",
    { ...evalRequest, model: "alice/stories260K", base_revision: "main" });
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.error, /^invalid field 'base_revision' 'main': model 'alice\/stories260K'/);
});
