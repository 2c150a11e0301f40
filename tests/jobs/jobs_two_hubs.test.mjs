// End to end: a second hub on the same machine, started from a backup of the first while a job
// runs, must not adopt or kill the first hub's worker, although the job has the same id.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { admin, createToken, prepareDataDir, startDaemon, waitForLog } from "../hub/daemon.mjs";
import { api, findProcesses, killDataDirProcesses, pushJobInputs, waitForJob } from "./jobs_client.mjs";

let dataDir, copyParent, daemon, copy, alice;

before(async () => {
  dataDir = prepareDataDir();
  copyParent = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), "atelier-copy-"));
  alice = createToken(dataDir, "alice");
  daemon = await startDaemon({ dataDir, extraArgs: ["--workers", "1", "--job-cancel-grace", "2"] });
  await pushJobInputs(daemon.url, alice);
});

after(async () => {
  if (copy) await copy.stop({ keepData: true });
  if (daemon) await daemon.stop({ keepData: true });
  for (const dir of [dataDir, copyParent]) {
    if (dir) killDataDirProcesses(dir);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
});

test("hub from a backup leaves other workers", async () => {
  const r = await api(daemon.url, alice, "POST", "/api/jobs", {
    type: "train", base_model: "alice/stories260K", dataset: "alice/style",
    train_file: "train.jsonl", output_repo: "alice/long-lora",
    params: { steps: 1000000, batch: 2, seq_len: 64, threads: 1 },
  });
  assert.equal(r.status, 201, r.text);
  const id = r.json.id;
  const running = await waitForJob(daemon.url, alice, id, (j) => j.state === "running" &&
    j.worker_pid > 0);
  const workerPid = running.worker_pid;

  const copyDir = join(copyParent, "data");
  admin(dataDir, ["backup", copyDir]);
  copy = await startDaemon({ dataDir: copyDir, extraArgs: ["--workers", "1"] });
  const gone = new RegExp(`worker of an earlier daemon is gone.* job=${id} `);
  assert.match(await waitForLog(copy, gone), gone);
  assert.doesNotMatch(copy.log(), /adopting worker of an earlier daemon/);

  // The first hub's worker still runs its job.
  assert.deepEqual(findProcesses(["worker", dataDir, "--job", String(id)]), [workerPid]);
  const first = (await api(daemon.url, alice, "GET", `/api/jobs/${id}`)).json;
  assert.equal(first.state, "running");
  assert.equal(first.worker_pid, workerPid);
  assert.equal(first.attempts, 1);
  assert.equal((await api(daemon.url, alice, "POST", `/api/jobs/${id}/cancel`)).status, 202);
  await waitForJob(daemon.url, alice, id, (j) => j.state === "canceled");
});
