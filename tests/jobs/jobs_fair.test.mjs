// End to end: with one worker, the real daemon takes turns between the owners of queued jobs,
// so a burst of jobs from one user waits behind the first job of each other user.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";

import { addUser, createToken, prepareDataDir, startDaemon, waitForLog } from "../hub/daemon.mjs";
import { api, killDataDirProcesses, pushJobInputs, waitForJob } from "./jobs_client.mjs";

let dataDir, daemon, alice, bob, carol, dave;

before(async () => {
  dataDir = prepareDataDir();
  addUser(dataDir, "carol");
  addUser(dataDir, "dave");
  alice = createToken(dataDir, "alice");
  bob = createToken(dataDir, "bob");
  carol = createToken(dataDir, "carol");
  dave = createToken(dataDir, "dave");
  daemon = await startDaemon({ dataDir,
    extraArgs: ["--workers", "1", "--job-cancel-grace", "2", "--max-queued-jobs-per-user", "5"] });
  await pushJobInputs(daemon.url, alice);
});

after(async () => {
  if (daemon) await daemon.stop({ keepData: true });
  if (dataDir) killDataDirProcesses(dataDir);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test("one worker takes turns between owners", async () => {
  const url = daemon.url;
  // dave's long training job occupies the only worker while the others queue theirs.
  let r = await api(url, dave, "POST", "/api/jobs", {
    type: "train", base_model: "alice/stories260K", dataset: "alice/style",
    train_file: "train.jsonl", output_repo: "dave/blocker-lora",
    params: { steps: 100000, batch: 2, seq_len: 64, threads: 1 },
  });
  assert.equal(r.status, 201, r.text);
  const blocker = r.json.id;
  await waitForJob(url, dave, blocker, (j) => j.state === "running");

  const evaluation = { type: "eval", model: "alice/stories260K", dataset: "alice/style",
    eval_file: "eval.jsonl" };
  const queue = async (token) => {
    const q = await api(url, token, "POST", "/api/jobs", evaluation);
    assert.equal(q.status, 201, q.text);
    return q.json.id;
  };
  const a1 = await queue(alice);
  const a2 = await queue(alice);
  const a3 = await queue(alice);
  const b1 = await queue(bob);
  const c1 = await queue(carol);
  assert.equal((await api(url, dave, "POST", `/api/jobs/${blocker}/cancel`)).status, 202);

  for (const [token, id] of [[alice, a1], [alice, a2], [alice, a3], [bob, b1], [carol, c1]])
    await waitForJob(url, token, id, (j) => j.state === "succeeded");
  const log = await waitForLog(daemon, new RegExp(`started worker job=${a3} `));
  const starts = [...log.matchAll(/started worker job=(\d+) attempt=1 /g)].map((m) => Number(m[1]));
  assert.deepEqual(starts, [blocker, a1, b1, c1, a2, a3]);
});
