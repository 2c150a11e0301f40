// transformers.js (the @huggingface/transformers npm package) against a real daemon, loading
// the tiny stories260K model's tokenizer and config the way a web app loads them from the Hub,
// with env.remoteHost pointing at Atelier. Checks the token ids against the corpus's reference
// encodings, a branch whose name holds a slash, and a private repo read with a token that an
// env.fetch wrapper adds (transformers.js sends HF_TOKEN to huggingface.co only).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { admin, prepareDataDir, createToken, startDaemon, waitForLog } from "./daemon.mjs";

const modules = join(process.env.ATELIER_SOURCE_ROOT, "tests/js/node_modules");
const hub = await import(join(modules, "@huggingface/hub/dist/index.mjs"));
const tjs = await import(join(modules, "@huggingface/transformers/dist/transformers.node.mjs"));
const { env, AutoTokenizer, AutoConfig } = tjs;
const defaultFetch = env.fetch;

const modelDir = join(process.env.ATELIER_CORPUS, "models/stories260K");
const encodings = readFileSync(join(modelDir, "encodings.jsonl"), "utf8")
  .split("\n")
  .filter((line) => line.trim() !== "")
  .map((line) => JSON.parse(line));
const config = JSON.parse(readFileSync(join(modelDir, "config.json"), "utf8"));

let daemon, dataDir, token;

before(async () => {
  dataDir = prepareDataDir();
  admin(dataDir, ["repo", "import", "alice/stories260K", modelDir]);
  admin(dataDir, ["repo", "import", "alice/hidden", modelDir, "--private"]);
  token = createToken(dataDir, "alice", { write: true, label: "tjs" });
  daemon = await startDaemon({ dataDir });
  env.remoteHost = daemon.url + "/";
  env.allowLocalModels = false;
  // Every load goes to the daemon: a cached file would hide a broken route.
  env.useFSCache = false;
  env.useBrowserCache = false;
});

after(async () => {
  env.fetch = defaultFetch;
  if (daemon) await daemon.stop();
});

test("tokenizer matches reference encodings", async () => {
  const tok = await AutoTokenizer.from_pretrained("alice/stories260K");
  assert.ok(encodings.length >= 3, "the corpus has reference encodings");
  for (const { text, ids } of encodings) {
    assert.deepEqual(tok.encode(text), ids, `ids of ${JSON.stringify(text)}`);
  }
  const tokenizerLine = /path=\/alice\/stories260K\/resolve\/main\/tokenizer\.json status=200/;
  const configLine = /path=\/alice\/stories260K\/resolve\/main\/tokenizer_config\.json status=20[06]/;
  assert.match(await waitForLog(daemon, tokenizerLine), tokenizerLine);
  assert.match(await waitForLog(daemon, configLine), configLine);
});

test("config has the model's fields", async () => {
  const cfg = await AutoConfig.from_pretrained("alice/stories260K");
  assert.equal(cfg.model_type, config.model_type);
  assert.equal(cfg.hidden_size, config.hidden_size);
  assert.equal(cfg.num_hidden_layers, config.num_hidden_layers);
  assert.equal(cfg.vocab_size, config.vocab_size);
});

test("slash branch revision reads that branch", async () => {
  const repo = { type: "model", name: "alice/stories260K" };
  const opts = { repo, accessToken: token, hubUrl: daemon.url };
  await hub.createBranch({ ...opts, branch: "exp/short-context" });
  const changed = { ...config, max_position_embeddings: 64 };
  await hub.uploadFile({
    ...opts,
    branch: "exp/short-context",
    file: { path: "config.json", content: new Blob([JSON.stringify(changed, null, 2)]) },
    commitTitle: "Shorten the context on a branch",
  });
  // transformers.js writes the revision into the URL with encodeURIComponent: exp%2Fshort-context.
  const onBranch = await AutoConfig.from_pretrained("alice/stories260K", { revision: "exp/short-context" });
  assert.equal(onBranch.max_position_embeddings, 64);
  const onMain = await AutoConfig.from_pretrained("alice/stories260K");
  assert.equal(onMain.max_position_embeddings, config.max_position_embeddings);
  assert.notEqual(config.max_position_embeddings, 64);
});

test("private repo reads with env.fetch token", async () => {
  await assert.rejects(AutoConfig.from_pretrained("alice/hidden"), (err) => {
    assert.match(String(err), /alice\/hidden/);
    return true;
  });
  const refusedLine = /path=\/alice\/hidden\/resolve\/main\/config\.json status=40[14]/;
  assert.match(await waitForLog(daemon, refusedLine), refusedLine);
  env.fetch = (url, init = {}) => {
    const headers = new Headers(init.headers);
    headers.set("Authorization", `Bearer ${token}`);
    return defaultFetch(url, { ...init, headers });
  };
  try {
    const tok = await AutoTokenizer.from_pretrained("alice/hidden");
    assert.deepEqual(tok.encode(encodings[0].text), encodings[0].ids);
    const cfg = await AutoConfig.from_pretrained("alice/hidden");
    assert.equal(cfg.hidden_size, config.hidden_size);
  } finally {
    env.fetch = defaultFetch;
  }
});
