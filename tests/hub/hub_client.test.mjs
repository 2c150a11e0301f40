// The @huggingface/hub npm client against a real daemon: repo creation, uploads (regular and
// LFS), listing, downloads, model info, deletes, and the tiny stories260K model uploaded and
// downloaded back byte for byte.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, statSync, rmSync } from "node:fs";
import { join } from "node:path";
import { prepareDataDir, createToken, startDaemon } from "./daemon.mjs";

const hubPath = join(process.env.ATELIER_SOURCE_ROOT, "tests/js/node_modules/@huggingface/hub");
const hub = await import(join(hubPath, "dist/index.mjs"));

let daemon, dataDir, token;

before(async () => {
  dataDir = prepareDataDir();
  token = createToken(dataDir, "alice", { write: true, label: "client" });
  daemon = await startDaemon({ dataDir });
});

after(async () => {
  const code = await daemon.stop();
  rmSync(dataDir, { recursive: true, force: true });
  assert.equal(code, 0, "daemon exits 0 on SIGTERM");
});

const creds = () => ({ accessToken: token, hubUrl: daemon.url });

test("whoAmI returns the token's user", async () => {
  const me = await hub.whoAmI(creds());
  assert.equal(me.name, "alice");
  assert.equal(me.auth.accessToken.role, "write");
});

test("create, upload, list, download, info, delete", async () => {
  const repo = { type: "model", name: "alice/client-m1" };
  const created = await hub.createRepo({ repo, ...creds() });
  assert.match(created.repoUrl, /alice\/client-m1$/);

  await assert.rejects(hub.createRepo({ repo, ...creds() }), /already|409|exist/i);

  const small = new TextEncoder().encode('{"hidden_size": 8}\n');
  const big = new Uint8Array(3 * 1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
  await hub.uploadFiles({
    repo,
    files: [
      { path: "config.json", content: new Blob([small]) },
      { path: "weights/model.safetensors", content: new Blob([big]) },
    ],
    commitTitle: "Add config and weights",
    ...creds(),
  });

  const files = [];
  for await (const f of hub.listFiles({ repo, recursive: true, ...creds() })) files.push(f);
  const byPath = Object.fromEntries(files.map((f) => [f.path, f]));
  assert.ok(byPath["config.json"], "config.json listed");
  assert.equal(byPath["weights/model.safetensors"].size, big.length);
  assert.ok(byPath["weights/model.safetensors"].lfs, "the safetensors file is stored as LFS");
  assert.equal(byPath["weights/model.safetensors"].lfs.oid,
    createHash("sha256").update(big).digest("hex"));

  const gotSmall = await hub.downloadFile({ repo, path: "config.json", ...creds() });
  assert.deepEqual(new Uint8Array(await gotSmall.arrayBuffer()), small);
  const gotBig = await hub.downloadFile({ repo, path: "weights/model.safetensors", ...creds() });
  assert.equal(createHash("sha256").update(new Uint8Array(await gotBig.arrayBuffer())).digest("hex"),
    createHash("sha256").update(big).digest("hex"));
  assert.equal(await hub.downloadFile({ repo, path: "missing.bin", ...creds() }), null);

  const info = await hub.modelInfo({ name: repo.name, ...creds(),
    additionalFields: ["sha", "siblings"] });
  assert.equal(info.name, "alice/client-m1");
  assert.match(info.sha, /^[0-9a-f]{40}$/);

  await hub.deleteFile({ repo, path: "config.json", ...creds() });
  assert.equal(await hub.downloadFile({ repo, path: "config.json", ...creds() }), null);
  // A path ending in '/' names a folder, and the error names the way to delete one.
  await assert.rejects(hub.deleteFile({ repo, path: "weights/", ...creds() }),
    /'weights\/'.*names a folder.*deletedFolder/);

  await hub.deleteRepo({ repo, ...creds() });
  assert.equal(await hub.repoExists({ repo, ...creds() }), false);
});

function listDir(dir, prefix = "") {
  const out = [];
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...listDir(full, prefix + name + "/"));
    else out.push(prefix + name);
  }
  return out;
}

test("stories260K uploads and downloads byte-identical", async () => {
  const src = join(process.env.ATELIER_CORPUS, "models/stories260K");
  const repo = { type: "model", name: "alice/stories260K" };
  await hub.createRepo({ repo, ...creds() });
  const paths = listDir(src).filter((p) => !p.startsWith("original/"));
  await hub.uploadFiles({
    repo,
    files: paths.map((p) => ({ path: p, content: new Blob([readFileSync(join(src, p))]) })),
    ...creds(),
  });
  for (const p of paths) {
    const got = await hub.downloadFile({ repo, path: p, ...creds() });
    assert.ok(got, `${p} downloads`);
    const want = readFileSync(join(src, p));
    assert.equal(Buffer.from(await got.arrayBuffer()).compare(want), 0, `${p} is byte-identical`);
  }
  const files = [];
  for await (const f of hub.listFiles({ repo, recursive: true, ...creds() })) files.push(f.path);
  assert.ok(files.includes("model.safetensors"));
  const st = (await (await fetch(`${daemon.url}/api/models/alice/stories260K/tree/main`)).json())
    .find((e) => e.path === "model.safetensors");
  assert.ok(st.lfs, "model.safetensors is an LFS file");
});

test("createRepo files routed to LFS are LFS", async () => {
  const repo = { type: "model", name: "alice/created-weights" };
  const weights = new Uint8Array(40000);
  for (let i = 0; i < weights.length; i++) weights[i] = (i * 13) & 0xff;
  const oid = createHash("sha256").update(weights).digest("hex");
  await hub.createRepo({ repo, files: [{ path: "model.safetensors", content: new Blob([weights]) }],
    ...creds() });
  const files = [];
  for await (const f of hub.listFiles({ repo, ...creds() })) files.push(f);
  const listed = files.find((f) => f.path === "model.safetensors");
  assert.equal(listed?.lfs?.oid, oid);
  assert.equal(listed?.lfs?.size, weights.length);
  const blob = await hub.downloadFile({ repo, path: "model.safetensors", ...creds() });
  assert.deepEqual(new Uint8Array(await blob.arrayBuffer()), weights);
});

test("createRepo with files: card data, tags and the filter of listings", async () => {
  const repo = { type: "model", name: "alice/carded" };
  const card = "---\nlicense: mit\ntags:\n  - demo-tag\nlibrary_name: peft\n---\n# Carded\n";
  await hub.createRepo({ repo, files: [{ path: "README.md", content: new Blob([card]) }],
    ...creds() });
  const info = await (await fetch(`${daemon.url}/api/models/alice/carded`)).json();
  assert.equal(info.cardData.license, "mit");
  assert.ok(info.tags.includes("demo-tag"));
  assert.ok(info.tags.includes("license:mit"));
  assert.equal(info.library_name, "peft");
  const listed = [];
  for await (const m of hub.listModels({ search: { tags: ["demo-tag"] }, ...creds() })) {
    listed.push(m.name);
  }
  assert.deepEqual(listed, ["alice/carded"]);
});

test("createRepo id and listModels by task", async () => {
  const created = await hub.createRepo({ repo: { type: "model", name: "alice/vision" },
    files: [{ path: "README.md",
      content: new Blob(["---\npipeline_tag: image-classification\nlicense: apache-2.0\n---\n"]) }],
    ...creds() });
  const info = await hub.modelInfo({ name: "alice/vision", ...creds() });
  assert.equal(created.id, info.id, "createRepo and modelInfo give the same id");
  // The card names no library, and the client types library_name as an optional string.
  const raw = await (await fetch(`${daemon.url}/api/models/alice/vision`)).json();
  assert.equal(raw.pipeline_tag, "image-classification");
  assert.equal("library_name" in raw, false, "library_name is left out, not null");

  const listed = [];
  for await (const m of hub.listModels({ search: { task: "image-classification" },
    additionalFields: ["cardData"], ...creds() })) {
    listed.push(m);
  }
  assert.deepEqual(listed.map((m) => m.name), ["alice/vision"]);
  assert.equal(listed[0].task, "image-classification");
  assert.equal(listed[0].cardData.license, "apache-2.0");

  await assert.rejects(async () => {
    for await (const m of hub.listModels({ search: { inferenceProviders: ["hf-inference"] },
      ...creds() })) assert.fail(`listed ${m.name}`);
  }, /inference_provider/);
});

test("modelInfo config and LFS safetensors", async () => {
  const src = join(process.env.ATELIER_CORPUS, "models/stories260K");
  const repo = { type: "model", name: "alice/counted" };
  await hub.createRepo({ repo, ...creds() });
  const weights = readFileSync(join(src, "model.safetensors"));
  await hub.uploadFiles({ repo, files: [
    { path: "config.json", content: new Blob([readFileSync(join(src, "config.json"))]) },
    { path: "model.safetensors", content: new Blob([weights]) },
  ], ...creds() });

  // The expected counts, from the header of the file as the safetensors format defines it.
  const headerLength = Number(weights.readBigUInt64LE(0));
  const header = JSON.parse(weights.subarray(8, 8 + headerLength).toString("utf8"));
  const parameters = {};
  let total = 0;
  for (const [name, t] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const n = t.shape.reduce((a, b) => a * b, 1);
    parameters[t.dtype] = (parameters[t.dtype] ?? 0) + n;
    total += n;
  }

  const info = await hub.modelInfo({ name: repo.name, additionalFields: ["config", "safetensors"],
    ...creds() });
  assert.deepEqual(info.config, { model_type: "llama", architectures: ["LlamaForCausalLM"] });
  assert.deepEqual(info.safetensors, { parameters, total });
  assert.ok(total > 0);
});
