// Helpers of the jobs end-to-end test: push repos with the @huggingface/hub client, call the
// jobs REST API, and follow a job's Server-Sent Events stream.
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";

const root = process.env.ATELIER_SOURCE_ROOT;
if (!root) throw new Error("ATELIER_SOURCE_ROOT is not set: run the tests through meson");
export const hub = await import(
  pathToFileURL(join(root, "tests/js/node_modules/@huggingface/hub/dist/index.mjs")).href);

// Lists the files below dir as paths relative to it.
function filesBelow(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...filesBelow(full).map((p) => join(name, p)));
    else out.push(name);
  }
  return out;
}

// Creates repo id of type and uploads every file of dir (except those skip matches) in one
// commit, the way a student pushes a model or a dataset.
export async function pushFolder(url, token, type, id, dir, { skip = () => false, isPrivate = false } = {}) {
  const repo = { type, name: id };
  await hub.createRepo({ repo, accessToken: token, hubUrl: url, private: isPrivate });
  const files = filesBelow(dir).filter((p) => !skip(p)).map((p) => ({
    path: p,
    content: new Blob([readFileSync(join(dir, p))]),
  }));
  await hub.uploadFiles({ repo, files, accessToken: token, hubUrl: url });
}

export async function api(url, token, method, path, body) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  let payload;
  if (typeof body === "string") payload = body;
  else if (body !== undefined) payload = JSON.stringify(body);
  const res = await fetch(url + path, { method, headers, body: payload });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, json, text, headers: res.headers };
}

// Reads the SSE stream of a job until it ends, calling onEvent({id, event, data}) for each
// event. Resolves with every event once the server closes the stream (the job ended).
export async function followEvents(url, token, jobId, onEvent = () => {}, { after } = {}) {
  const headers = { authorization: `Bearer ${token}`, accept: "text/event-stream" };
  if (after !== undefined) headers["last-event-id"] = String(after);
  const res = await fetch(`${url}/api/jobs/${jobId}/events`, { headers });
  if (res.status !== 200) throw new Error(`events of job ${jobId}: HTTP ${res.status}`);
  const events = [];
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of res.body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const ev = {};
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        if (colon < 0) continue;
        ev[line.slice(0, colon)] = line.slice(colon + 1).trimStart();
      }
      if (ev.data === undefined) continue;
      ev.data = JSON.parse(ev.data);
      events.push(ev);
      await onEvent(ev);
    }
  }
  return events;
}

// Polls GET /api/jobs/ID until pred(job) holds, for at most timeoutMs.
export async function waitForJob(url, token, jobId, pred, timeoutMs = 120000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { json } = await api(url, token, "GET", `/api/jobs/${jobId}`);
    if (json && pred(json)) return json;
    if (Date.now() > deadline) throw new Error(`job ${jobId} timed out: ${JSON.stringify(json)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// Returns the sorted names in the work folder DATA/jobs/ID/, or null when it does not exist.
export function workFolderEntries(dataDir, jobId) {
  const dir = join(dataDir, "jobs", String(jobId));
  return existsSync(dir) ? readdirSync(dir).sort() : null;
}

// Polls the work folder of a finished job until it contains nothing but its log, for at most
// timeoutMs, and returns its entries then, so a failed assertion shows what was left.
export async function waitForLogOnly(dataDir, jobId, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const entries = workFolderEntries(dataDir, jobId);
    if ((entries?.length === 1 && entries[0] === "log") || Date.now() > deadline) return entries;
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function relativeTo(dir, path) {
  return relative(dir, path);
}

// Returns the pids of the processes whose command line contains every string of parts.
export function findProcesses(parts) {
  const pids = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let args;
    try {
      args = readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0");
    } catch {
      continue;
    }
    if (parts.every((p) => args.includes(p))) pids.push(Number(name));
  }
  return pids;
}

// Kills every process whose command line names dataDir, and its process group: after a
// failed check, workers of a stopped daemon and their trainers may still run (each worker
// leads its own process group).
export function killDataDirProcesses(dataDir) {
  for (const pid of findProcesses([dataDir])) {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, "SIGKILL");
      } catch {
        // already gone, or not a group leader
      }
    }
  }
}

// Pushes the inputs most job tests share, as alice: the stories260K model as
// alice/stories260K (without its original/ folder) and tests/data/style as the dataset
// alice/style (without its scripts).
export async function pushJobInputs(url, token) {
  const modelDir = join(process.env.ATELIER_CORPUS, "models/stories260K");
  const styleDir = join(process.env.ATELIER_SOURCE_ROOT, "tests/data/style");
  await pushFolder(url, token, "model", "alice/stories260K", modelDir,
    { skip: (p) => p.startsWith("original") });
  await pushFolder(url, token, "dataset", "alice/style", styleDir,
    { skip: (p) => p.endsWith(".py") });
}
