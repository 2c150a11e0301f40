// End to end: with --max-job-seconds, the real daemon cancels a job that runs past the limit,
// stops its worker and trainer, and names the flag in the job's error.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";

import { createToken, prepareDataDir, startDaemon, waitForLog } from "../hub/daemon.mjs";
import { api, findProcesses, killDataDirProcesses, pushJobInputs, waitForJob } from "./jobs_client.mjs";

let dataDir, daemon, alice;

before(async () => {
  dataDir = prepareDataDir();
  alice = createToken(dataDir, "alice");
  daemon = await startDaemon({ dataDir,
    extraArgs: ["--workers", "1", "--job-cancel-grace", "2", "--max-job-seconds", "3"] });
  await pushJobInputs(daemon.url, alice);
});

after(async () => {
  if (daemon) await daemon.stop({ keepData: true });
  if (dataDir) killDataDirProcesses(dataDir);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test("job over the time limit is canceled", async () => {
  const url = daemon.url;
  const r = await api(url, alice, "POST", "/api/jobs", {
    type: "train", base_model: "alice/stories260K", dataset: "alice/style",
    train_file: "train.jsonl", output_repo: "alice/endless-lora",
    params: { steps: 1000000, batch: 2, seq_len: 64, threads: 1 },
  });
  assert.equal(r.status, 201, r.text);
  const id = r.json.id;

  const job = await waitForJob(url, alice, id, (j) => j.state === "canceled", 60000);
  assert.equal(job.error,
    "canceled because it ran longer than this hub's limit of 3 s (--max-job-seconds); " +
    "ask for fewer steps or epochs; worker stopped");
  assert.equal(job.result, null);
  const warned = /canceling a job that ran longer than --max-job-seconds 3 job=\d+/;
  assert.match(await waitForLog(daemon, warned), warned);
  await waitForJob(url, alice, id, () =>
    findProcesses(["worker", dataDir, "--job", String(id)]).length === 0, 20000);
  // The job created its output repo and committed nothing, so the cancel deletes it, just
  // after it records the final state.
  const deadline = Date.now() + 20000;
  let status;
  for (;;) {
    status = (await api(url, alice, "GET", "/api/models/alice/endless-lora")).status;
    if (status !== 200 || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(status, 404);
});
