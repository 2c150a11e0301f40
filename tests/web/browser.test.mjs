// The pages in a real browser: headless Chromium driven by playwright-core against the real
// daemon on 127.0.0.1 with a temporary data directory. A user logs in, finds the demo model,
// reads its card, opens files and history, starts a training job from the form, watches the
// progress update until the job finishes, and opens the adapter it made. A second, long job
// is canceled from its page, and a queued job's page is watched as the job starts. A model is
// created with the New model form, gets a protected branch in its Settings tab and is deleted
// there. Screenshots of the main pages go to WEB_SCREENSHOT_DIR (the meson build dir).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const bin = process.env.ATELIER_BIN;
const corpus = process.env.ATELIER_CORPUS;
const sourceRoot = process.env.ATELIER_SOURCE_ROOT;
if (!bin || !corpus || !sourceRoot) {
  throw new Error("ATELIER_BIN, ATELIER_CORPUS and ATELIER_SOURCE_ROOT must be set: run through meson");
}
const { chromium } = await import(join(sourceRoot, "tests/js/node_modules/playwright-core/index.mjs"));

const shotDir = process.env.WEB_SCREENSHOT_DIR ?? join(tmpdir(), "atelier-web-screenshots");
const password = "alice-password";
let workDir, dataDir, daemon, baseUrl, context, page, jobsApi = false, jobUrl;
// Script errors and Content-Security-Policy violations seen on any page.
const pageProblems = [];

function admin(args, input = "") {
  const r = spawnSync(bin, ["admin", "--data", dataDir, ...args], { input, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`atelier admin ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

// Writes a small training set of made-up sentences and a card for it.
function writeDataset(dir) {
  mkdirSync(dir, { recursive: true });
  const sentences = [
    "Once upon a time a little cat played in the warm sun.",
    "The dog ran to the park and found a big red ball.",
    "Lily and Tom walked to the sea to look for shells.",
    "A small bird sang a happy song in the tall tree.",
  ];
  const lines = [];
  for (let i = 0; i < 32; i++) lines.push(JSON.stringify({ text: sentences[i % sentences.length] }));
  writeFileSync(join(dir, "train.jsonl"), lines.join("\n") + "\n");
  writeFileSync(join(dir, "README.md"), "---\nlicense: mit\ntags: [stories]\n---\n# Tiny stories\n\nShort made-up sentences.\n");
}

// A card whose raw HTML must stay inert.
function writeHostileRepo(dir) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "README.md"),
    "---\nlicense: mit\ntags: ['<script>window.pwnedTag = 1</script>']\n---\n" +
    "# Hostile card\n\n<script>window.pwned = 1</script>\n\n<img src=x onerror=\"window.pwnedImg = 1\">\n\n" +
    "[click me](javascript:window.pwnedLink=1)\n");
}

// A card with a table of long numbers, wider than a phone screen.
function writeWideTableRepo(dir) {
  mkdirSync(dir, { recursive: true });
  const row = (label) => `| ${label} | 123456789012345678 | 234567890123456789 | 345678901234567890 |`;
  writeFileSync(join(dir, "README.md"), "---\nlicense: mit\n---\n# Wide table\n\n" +
    "| run | tokens | steps | seed |\n| --- | --- | --- | --- |\n" + row("a") + "\n" + row("b") + "\n");
}

// Fills the training form with a job of steps steps that writes to output.
async function fillJobForm(output, steps) {
  await page.goto(baseUrl + "/jobs/new");
  await page.getByLabel("Base model").selectOption("alice/stories260K");
  await page.getByLabel("Dataset").selectOption("alice/tiny-stories");
  await page.getByLabel("Output repository").fill(output);
  await page.getByLabel("Training steps").fill(String(steps));
  await page.getByLabel("Batch size").fill("2");
  await page.getByLabel("Sequence length").fill("32");
}

async function startDaemon() {
  const child = spawn(bin, ["serve", "--data", dataDir, "--listen", "127.0.0.1:0", "--threads", "4",
    "--workers", "1"], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the daemon did not start:\n${log}`)), 20000);
    child.stderr.on("data", (chunk) => {
      log += chunk.toString();
      const m = log.match(/listening host=\S+ port=(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the daemon exited with ${code} before listening:\n${log}`));
    });
  });
  return {
    port,
    log: () => log,
    stop: () => new Promise((resolve) => {
      if (child.exitCode !== null) return resolve(child.exitCode);
      child.on("exit", (code) => resolve(code));
      child.kill("SIGTERM");
    }),
  };
}

async function shot(name, { fullPage = true } = {}) {
  await page.screenshot({ path: join(shotDir, name + ".png"), fullPage });
}

before(async () => {
  mkdirSync(shotDir, { recursive: true });
  workDir = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), "atelier-web-"));
  dataDir = join(workDir, "data");
  admin(["user", "add", "alice", "--admin"], password + "\n");
  admin(["repo", "import", "alice/stories260K", join(corpus, "models/stories260K"), "--owner", "alice",
    "--message", "Import stories260K"]);
  writeDataset(join(workDir, "dataset"));
  admin(["repo", "import", "alice/tiny-stories", join(workDir, "dataset"), "--type", "dataset", "--owner", "alice"]);
  daemon = await startDaemon();
  baseUrl = `http://127.0.0.1:${daemon.port}`;
  context = await chromium.launchPersistentContext(join(workDir, "chromium-profile"), {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1280, height: 900 },
  });
  page = context.pages()[0] ?? await context.newPage();
  page.setDefaultTimeout(20000);
  page.on("pageerror", (error) => pageProblems.push(`${page.url()}: ${error.message}`));
  page.on("console", (message) => {
    // The 404 page, the wrong password and the new model form with an invalid name are
    // visited on purpose. Their statuses show up as failed resource loads.
    if (message.type() === "error" && !/status of (400|401|404)\b/.test(message.text())) {
      pageProblems.push(`${page.url()}: ${message.text()}`);
    }
  });
});

after(async () => {
  if (context) await context.close();
  const code = daemon ? await daemon.stop() : 0;
  // Kept beside the screenshots, so a failed run can be read afterwards.
  if (daemon) writeFileSync(join(shotDir, "serve.log"), daemon.log());
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  assert.equal(code, 0, "the daemon exits 0 on SIGTERM");
});

test("home lists the demo model to anonymous visitors", async () => {
  const response = await page.goto(baseUrl + "/");
  assert.equal(response.status(), 200);
  await page.getByRole("link", { name: "alice/stories260K" }).waitFor();
  await shot("home");
});

test("login with the form sets a session", async () => {
  await page.goto(baseUrl + "/login?next=/");
  await page.getByLabel("User name").fill("alice");
  await page.getByLabel("Password").fill("wrong-password");
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByText("Invalid user name or password").waitFor();
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(baseUrl + "/");
  await page.getByRole("link", { name: "alice", exact: true }).waitFor();
  const cookies = await context.cookies(baseUrl);
  const session = cookies.find((c) => c.name === "atelier_session");
  assert.ok(session, "atelier_session cookie is set");
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, "Lax");
});

test("pages send caching and framing headers", async () => {
  // Anonymous: node's fetch sends no cookie.
  const anonymous = await fetch(baseUrl + "/");
  assert.equal(anonymous.status, 200);
  const html = await anonymous.text();
  assert.equal(anonymous.headers.get("cache-control"), "no-cache");
  assert.equal(anonymous.headers.get("x-content-type-options"), "nosniff");
  assert.equal(anonymous.headers.get("content-security-policy"), "frame-ancestors 'none'");
  assert.equal(anonymous.headers.get("x-frame-options"), "DENY");
  assert.equal(anonymous.headers.get("access-control-allow-origin"), null);

  // The browser context sends the session cookie.
  const settings = await page.request.get(baseUrl + "/settings");
  assert.equal(settings.status(), 200);
  assert.equal(settings.headers()["cache-control"], "no-store");
  assert.equal(settings.headers()["access-control-allow-origin"], undefined);

  const css = html.match(/href="(\/static\/atelier\.css\?v=[^"]+)"/);
  assert.ok(css, "the layout links the stylesheet with its version");
  const asset = await fetch(baseUrl + css[1]);
  assert.equal(asset.status, 200);
  await asset.arrayBuffer();
  assert.equal(asset.headers.get("cache-control"), "public, max-age=31536000, immutable");
  assert.equal(asset.headers.get("x-content-type-options"), "nosniff");

  // The API keeps its CORS headers for other origins.
  const api = await fetch(baseUrl + "/api/models");
  await api.arrayBuffer();
  assert.equal(api.headers.get("access-control-allow-origin"), "*");
});

test("search finds the model and its card renders", async () => {
  await page.getByLabel("Search").fill("stories");
  await page.getByRole("button", { name: "Apply" }).click();
  await page.getByRole("link", { name: "alice/stories260K" }).click();
  await page.waitForURL(baseUrl + "/alice/stories260K");
  await page.locator("article.card-body").waitFor();
  const meta = await page.locator("dl.meta").innerText();
  assert.match(meta, /License\s+mit/);
  await page.getByText("git clone " + baseUrl + "/alice/stories260K").waitFor();
  await shot("model-card");
});

test("files tab lists files and the tensor table", async () => {
  await page.getByRole("navigation", { name: "Repository" }).getByRole("link", { name: "Files" }).click();
  const row = page.locator("table.files tr", { hasText: "model.safetensors" });
  await row.getByText("LFS").waitFor();
  await shot("files");
  await row.getByRole("link", { name: "model.safetensors", exact: true }).click();
  assert.equal(await page.locator("#tensor-count").innerText(), "48");
  assert.equal(await page.locator("#param-count").innerText(), "292800");
  await shot("tensors");
});

test("history lists commits and opens one", async () => {
  await page.getByRole("navigation", { name: "Repository" }).getByRole("link", { name: "History" }).click();
  await page.getByRole("link", { name: "Import stories260K" }).click();
  await page.locator("#commit-id").waitFor();
  assert.ok(await page.locator("section.diff").count() > 0, "the commit shows changed files");
  await shot("commit", { fullPage: false });
});

// The hostile repo is imported here, after the home, card and files screenshots, so its
// markup probes do not show up in the images in docs/screenshots. The admin command writes to
// the database of the running daemon, which reads the new repo on the next request.
test("a card with raw HTML stays inert", async () => {
  writeHostileRepo(join(workDir, "hostile"));
  admin(["repo", "import", "alice/hostile", join(workDir, "hostile"), "--owner", "alice"]);
  await page.goto(baseUrl + "/alice/hostile");
  await page.getByRole("heading", { name: "Hostile card" }).waitFor();
  const flags = await page.evaluate(() => [window.pwned, window.pwnedImg, window.pwnedTag]);
  assert.deepEqual(flags, [undefined, undefined, undefined]);
  const href = await page.getByRole("link", { name: "click me" }).getAttribute("href");
  assert.ok(!href || !href.startsWith("javascript:"), `link target is ${href}`);
});

test("list shows raw HTML tags as text", async () => {
  await page.goto(baseUrl + "/");
  await page.getByRole("link", { name: "alice/hostile" }).waitFor();
  const tag = "<script>window.pwnedTag = 1</script>";
  await page.getByText(tag, { exact: true }).first().waitFor();
  assert.equal(await page.evaluate(() => window.pwnedTag), undefined);
});

test("missing pages explain themselves", async () => {
  const response = await page.goto(baseUrl + "/alice/no-such-model");
  assert.equal(response.status(), 404);
  await page.getByRole("heading", { name: "Page not found" }).waitFor();
});

test("jobs API is available", async () => {
  const response = await page.request.get(baseUrl + "/api/jobs");
  jobsApi = response.status() !== 404;
});

test("start a training job from the form", async (t) => {
  if (!jobsApi) return t.skip("the jobs API answers 404");
  await page.goto(baseUrl + "/jobs/new");
  await page.getByLabel("Base model").selectOption("alice/stories260K");
  await page.getByLabel("Dataset").selectOption("alice/tiny-stories");
  await page.getByLabel("Output repository").fill("alice/stories-lora");
  await page.getByLabel("Training steps").fill("12");
  await page.getByLabel("Batch size").fill("2");
  await page.getByLabel("Sequence length").fill("32");
  await page.getByLabel("Checkpoint every").fill("6");
  await shot("job-form");
  await page.getByRole("button", { name: "Start training" }).click();
  await page.waitForURL(/\/jobs\/\d+$/);
  jobUrl = page.url();
});

test("job progress updates live and the job finishes", async (t) => {
  if (!jobsApi) return t.skip("the jobs API answers 404");
  // The live view draws one chart point per progress event from the SSE stream. On a fast
  // machine the job may end before the page opens; the server then draws the stored points.
  // The 12 steps can end within a second, so the running screenshot comes from a longer job
  // in a later test.
  await page.waitForFunction(() => {
    const svg = document.getElementById("loss-chart");
    const live = document.getElementById("job-live");
    const ended = ["succeeded", "failed", "canceled"].includes(live?.getAttribute("data-state"));
    return (live?.getAttribute("data-live") === "1" || ended) &&
      Number(svg?.getAttribute("data-count") ?? 0) >= 2;
  }, null, { timeout: 120000 });
  await page.waitForFunction(() => ["succeeded", "failed", "canceled"]
    .includes(document.getElementById("job-live")?.getAttribute("data-state")), null, { timeout: 240000 });
  await page.waitForLoadState();
  const state = await page.locator("#job-state").innerText();
  if (state !== "succeeded") {
    const error = await page.locator("#job-error-text").innerText().catch(() => "(no message)");
    assert.fail(`the job ended ${state}: ${error}`);
  }
  await page.locator("#job-adapter-link").waitFor();
  // The log view ends with the job's final line, shown once.
  const logText = await page.locator("#job-log").innerText();
  assert.equal(logText.match(/job succeeded/g)?.length, 1, logText);
  assert.equal(logText.match(/running atelier train/g)?.length, 1, logText);
  // The finished bar is as wide as the loss chart under it, not the browser's 128 px default.
  const widths = await page.evaluate(() => ({
    bar: document.getElementById("job-progress").getBoundingClientRect().width,
    chart: document.getElementById("loss-chart").getBoundingClientRect().width,
  }));
  assert.ok(Math.abs(widths.bar - widths.chart) <= 2, `bar and chart widths: ${JSON.stringify(widths)}`);
  await shot("job-finished");
});

test("the adapter the job made links its base", async (t) => {
  if (!jobsApi) return t.skip("the jobs API answers 404");
  await page.locator("#job-adapter-link").click();
  await page.waitForURL(baseUrl + "/alice/stories-lora");
  await page.locator("p.notice", { hasText: "LoRA adapter for" }).waitFor();
  await page.getByRole("link", { name: "alice/stories260K" }).first().waitFor();
  await shot("adapter");
  await page.goto(baseUrl + "/jobs");
  await page.locator("#jobs").getByText("succeeded").waitFor();
  await shot("jobs");
  await page.goto(baseUrl + "/alice/stories260K");
  await page.locator("#adapters-h").waitFor();
  assert.match(await page.locator("section[aria-labelledby=adapters-h]").innerText(), /alice\/stories-lora/);
  await page.goto(jobUrl);
});

test("a long job shows progress and cancels", async (t) => {
  if (!jobsApi) return t.skip("the jobs API answers 404");
  await page.goto(baseUrl + "/jobs/new");
  await page.getByLabel("Base model").selectOption("alice/stories260K");
  await page.getByLabel("Dataset").selectOption("alice/tiny-stories");
  await page.getByLabel("Output repository").fill("alice/stories-lora-long");
  // At about 6 ms a step on two shared cores, 200,000 steps take about 20 minutes, so the
  // job is still running when the screenshot is taken. The test cancels it below.
  await page.getByLabel("Training steps").fill("200000");
  await page.getByLabel("Batch size").fill("2");
  await page.getByLabel("Sequence length").fill("32");
  await page.getByRole("button", { name: "Start training" }).click();
  await page.waitForURL(/\/jobs\/\d+$/);
  assert.notEqual(page.url(), jobUrl, "the second job has a page of its own");

  // The page may have opened while the job was queued. Once it runs, a reload shows the
  // server-side fields (started, attempts, log) as they are, and the chart gets about two
  // seconds of points (a worker stores at most four progress events a second).
  await page.waitForFunction(() =>
    document.getElementById("job-live")?.getAttribute("data-state") === "running", null, { timeout: 120000 });
  const streamRequest = page.waitForRequest((r) => /\/api\/jobs\/\d+\/events\?/.test(r.url()));
  await page.reload();
  // The stream asks for a 401 without the Basic challenge, which it gets even without a cookie.
  const streamUrl = (await streamRequest).url();
  assert.match(streamUrl, /[?&]from=page(&|$)/);
  const anonymousStream = await fetch(streamUrl);
  await anonymousStream.arrayBuffer();
  assert.equal(anonymousStream.status, 401);
  assert.equal(anonymousStream.headers.get("www-authenticate"), null, "no Basic login dialog");
  await page.waitForFunction(() => {
    const live = document.getElementById("job-live");
    return live?.getAttribute("data-live") === "1" && live.getAttribute("data-state") === "running" &&
      Number(document.getElementById("loss-chart")?.getAttribute("data-count") ?? 0) >= 8;
  }, null, { timeout: 120000 });
  await shot("job-running");

  await page.getByRole("button", { name: "Cancel job" }).click();
  // The live view shows the canceled state first, then reloads into the page of an ended
  // job, which has no cancel button.
  await page.waitForFunction(() =>
    document.getElementById("job-live")?.getAttribute("data-state") === "canceled", null, { timeout: 60000 });
  await page.getByRole("button", { name: "Cancel job" }).waitFor({ state: "detached", timeout: 30000 });
  assert.equal(await page.locator("#job-state").innerText(), "canceled");
  assert.match(await page.locator("#job-error-text").innerText(), /^canceled by alice/);
});

test("a queued job's page updates when it starts", async (t) => {
  if (!jobsApi) return t.skip("the jobs API answers 404");
  // The daemon runs one worker, so a second job waits until the first one is canceled.
  await fillJobForm("alice/stories-lora-first", 200000);
  await page.getByRole("button", { name: "Start training" }).click();
  await page.waitForURL(/\/jobs\/\d+$/);
  const firstUrl = page.url();
  await page.waitForFunction(() =>
    document.getElementById("job-live")?.getAttribute("data-state") === "running", null, { timeout: 120000 });

  await fillJobForm("alice/stories-lora-second", 200000);
  await page.getByRole("button", { name: "Start training" }).click();
  await page.waitForURL(/\/jobs\/\d+$/);
  assert.equal(await page.locator("#job-state").innerText(), "queued");
  assert.equal(await page.locator("#job-started").innerText(), "never");
  assert.equal(await page.locator("#job-attempts").innerText(), "0 of 3");

  const csrf = await page.locator("form[action$='/cancel'] input[name=csrf]").getAttribute("value");
  const canceled = await page.request.post(firstUrl + "/cancel", { form: { csrf }, maxRedirects: 0 });
  assert.equal(canceled.status(), 303);

  // No reload: the state event of the second job fills in the fields.
  await page.waitForFunction(() =>
    document.getElementById("job-live")?.getAttribute("data-state") === "running", null, { timeout: 120000 });
  assert.equal(await page.locator("#job-state").innerText(), "running");
  assert.equal(await page.locator("#job-started").innerText(), "just now");
  assert.equal(await page.locator("#job-attempts").innerText(), "1 of 3");
  await page.getByRole("button", { name: "Cancel job" }).click();
  await page.getByRole("button", { name: "Cancel job" }).waitFor({ state: "detached", timeout: 30000 });
});

test("settings creates a token shown once", async () => {
  await page.goto(baseUrl + "/settings");
  await page.getByLabel("Label").fill("laptop");
  await page.getByLabel("Scope").selectOption("write");
  await page.getByRole("button", { name: "Create token" }).click();
  const secret = await page.locator("#new-token").innerText();
  assert.match(secret, /^hf_[A-Za-z0-9]{34}$/);
  const whoami = await page.request.get(baseUrl + "/api/whoami-v2", { headers: { Authorization: "Bearer " + secret } });
  assert.equal(whoami.status(), 200);
  // The form redirected, so a reload shows the list and creates no second token.
  await page.reload();
  assert.equal(await page.locator("#new-token").count(), 0);
  assert.equal(await page.locator("td", { hasText: /^laptop$/ }).count(), 1);
  await page.goto(baseUrl + "/settings");
  assert.equal(await page.locator("#new-token").count(), 0);
  await shot("settings");
});

test("create a model with the form, protect a branch and delete it", async () => {
  await page.goto(baseUrl + "/");
  await page.getByRole("link", { name: "New model" }).click();
  await page.waitForURL(baseUrl + "/new");
  await page.getByLabel("Model name").fill("bad name");
  await page.getByRole("button", { name: "Create model" }).click();
  await page.locator("#form-error", { hasText: "invalid repo name" }).waitFor();
  assert.equal(await page.getByLabel("Model name").inputValue(), "bad name");

  await page.getByLabel("Model name").fill("classroom-demo");
  await page.getByLabel("License").selectOption("mit");
  await page.getByRole("radio", { name: /Private/ }).check();
  await shot("new-model");
  await page.getByRole("button", { name: "Create model" }).click();
  await page.waitForURL(baseUrl + "/alice/classroom-demo");
  await page.locator(".repo-head .badge.private").waitFor();
  assert.match(await page.locator("dl.meta").innerText(), /License\s+mit/);
  await page.goto(baseUrl + "/?owner=alice");
  await page.getByRole("link", { name: "alice/classroom-demo" }).click();

  await page.getByRole("navigation", { name: "Repository" }).getByRole("link", { name: "Settings" }).click();
  await page.waitForURL(baseUrl + "/alice/classroom-demo/settings");
  await page.getByLabel("Branch").fill("main");
  await page.getByRole("button", { name: "Protect branch" }).click();
  await page.getByRole("button", { name: "Unprotect main" }).waitFor();
  await page.getByLabel("Branch").fill("main");
  await page.getByRole("button", { name: "Protect branch" }).click();
  await page.locator("#form-result", { hasText: "Branch main is already protected, so nothing changed." }).waitFor();
  await page.getByLabel("Branch").fill("nope");
  await page.getByRole("button", { name: "Protect branch" }).click();
  await page.locator("#form-result", { hasText: "No branch named nope exists yet" }).waitFor();
  await page.getByRole("button", { name: "Unprotect nope" }).waitFor();
  await shot("repo-settings");

  await page.getByLabel("Type alice/classroom-demo to confirm").fill("alice/classroom-demo");
  await page.getByRole("button", { name: "Delete this repository" }).click();
  await page.waitForURL(baseUrl + "/");
  assert.equal(await page.getByRole("link", { name: "alice/classroom-demo" }).count(), 0);
  const deletedPage = await page.goto(baseUrl + "/alice/classroom-demo");
  assert.equal(deletedPage.status(), 404);
});

test("review and merge a student's pull request", async () => {
  admin(["user", "add", "bob"], "password-bob\n");
  const tokenOf = (user) => admin(["token", "create", user, "--write", "--label", "review"])
    .split(/\s+/).find((w) => w.startsWith("hf_"));
  const aliceToken = tokenOf("alice");
  const bobToken = tokenOf("bob");
  const created = await fetch(baseUrl + "/api/repos/create", { method: "POST",
    headers: { Authorization: `Bearer ${aliceToken}`, "Content-Type": "application/json" },
    body: JSON.stringify({ name: "review-demo" }) });
  assert.equal(created.status, 200);
  await created.arrayBuffer();
  // bob can read the public repo but not write it, so he proposes his change as a pull request.
  const lines = [
    { key: "header", value: { summary: "Add training notes", description: "Learning rate 2e-4 worked best." } },
    { key: "file", value: { path: "NOTES.md", content: "# Notes\n\nlr 2e-4, rank 8\n" } },
  ];
  const opened = await fetch(baseUrl + "/api/models/alice/review-demo/commit/main?create_pr=1", {
    method: "POST",
    headers: { Authorization: `Bearer ${bobToken}`, "Content-Type": "application/x-ndjson" },
    body: lines.map((l) => JSON.stringify(l)).join("\n") });
  assert.equal(opened.status, 200);
  assert.match((await opened.json()).pullRequestUrl, /\/alice\/review-demo\/discussions\/1$/);

  await page.goto(baseUrl + "/alice/review-demo");
  await page.getByRole("navigation", { name: "Repository" })
    .getByRole("link", { name: "Pull requests" }).click();
  await page.getByRole("link", { name: "Add training notes" }).click();
  await page.waitForURL(baseUrl + "/alice/review-demo/discussions/1");
  await page.getByText("NOTES.md").first().waitFor();
  await shot("pull-request");
  await page.getByRole("button", { name: "Merge" }).click();
  await page.waitForURL(baseUrl + "/alice/review-demo/discussions/1");
  await page.getByText(/Merged refs\/pr\/1 into main/).waitFor();
  const file = await fetch(baseUrl + "/alice/review-demo/resolve/main/NOTES.md");
  assert.equal(file.status, 200);
  assert.match(await file.text(), /lr 2e-4, rank 8/);
});

async function logIn(user, userPassword) {
  await page.getByLabel("User name").fill(user);
  await page.getByLabel("Password").fill(userPassword);
  await page.getByRole("button", { name: "Log in" }).click();
}

test("a student opens a pull request from the form", async () => {
  // bob has an account since the review test, and its pull request #1 is merged.
  await page.goto(baseUrl + "/alice/review-demo");
  await page.getByRole("link", { name: "New pull request" }).waitFor();
  await page.getByRole("button", { name: "Log out" }).click();
  await page.waitForURL(baseUrl + "/");
  await page.goto(baseUrl + "/alice/review-demo");
  await page.locator("#pr-new-login").getByRole("link", { name: "Log in" }).click();
  await logIn("bob", "password-bob");
  await page.waitForURL(baseUrl + "/alice/review-demo/discussions/new");

  await page.getByLabel("Title").fill("Try rank 16");
  await page.getByLabel("Description").fill("Rank 16 may fit **better**.");
  assert.equal(await page.getByLabel("Target branch").inputValue(), "main");
  await page.getByRole("button", { name: "Open pull request" }).click();
  await page.waitForURL(baseUrl + "/alice/review-demo/discussions/2");
  await page.locator(".pr-description strong", { hasText: "better" }).waitFor();
  const commands = await page.locator("#pr-push-hint pre").innerText();
  assert.match(commands, new RegExp(`^git clone ${baseUrl}/alice/review-demo$`, "m"));
  assert.match(commands, /^git fetch origin refs\/pr\/2:pr\/2$/m);
  assert.match(commands, /^git push origin pr\/2:refs\/pr\/2$/m);
  await page.locator("#pr-token-hint").getByRole("link", { name: "settings page" }).waitFor();
  await shot("pull-request-new");

  // Back and submitting the same form again shows pull request #2 instead of opening #3.
  await page.goBack();
  await page.waitForURL(baseUrl + "/alice/review-demo/discussions/new");
  if (await page.getByLabel("Title").inputValue() === "") {
    await page.getByLabel("Title").fill("Try rank 16");
    await page.getByLabel("Description").fill("Rank 16 may fit **better**.");
  }
  await page.getByRole("button", { name: "Open pull request" }).click();
  await page.waitForURL(baseUrl + "/alice/review-demo/discussions/2");
  await page.goto(baseUrl + "/alice/review-demo/discussions");
  assert.equal(await page.getByRole("link", { name: /Try rank 16/ }).count(), 1);

  // A logout in another tab ends the session: the form keeps the text and links to the
  // login, after which the form has the text again.
  await page.goto(baseUrl + "/alice/review-demo/discussions/new");
  await page.getByLabel("Title").fill("Try rank 32");
  await page.getByLabel("Description").fill("Typed before the logout.");
  const otherTab = await page.context().newPage();
  await otherTab.goto(baseUrl + "/");
  await otherTab.getByRole("button", { name: "Log out" }).click();
  await otherTab.waitForURL(baseUrl + "/");
  await otherTab.close();
  await page.getByRole("button", { name: "Open pull request" }).click();
  await page.getByRole("alert").getByText("Your session expired").waitFor();
  assert.equal(await page.getByLabel("Title").inputValue(), "Try rank 32");
  await page.getByRole("link", { name: "log in again" }).click();
  await logIn("bob", "password-bob");
  await page.waitForURL(baseUrl + "/alice/review-demo/discussions/new");
  assert.equal(await page.getByLabel("Title").inputValue(), "Try rank 32");
  assert.equal(await page.getByLabel("Description").inputValue(), "Typed before the logout.");
  await page.getByRole("button", { name: "Open pull request" }).click();
  await page.waitForURL(baseUrl + "/alice/review-demo/discussions/3");

  // A title of spaces is rejected, and the field says so.
  await page.goto(baseUrl + "/alice/review-demo/discussions/new");
  await page.getByLabel("Title").fill("   ");
  await page.getByRole("button", { name: "Open pull request" }).click();
  await page.getByRole("alert").getByText("missing pull request title").waitFor();
  assert.equal(await page.getByLabel("Title").getAttribute("aria-invalid"), "true");

  // alice logs in again for the tests that follow.
  await page.getByRole("button", { name: "Log out" }).click();
  await page.waitForURL(baseUrl + "/");
  await page.goto(baseUrl + "/login?next=/");
  await logIn("alice", password);
  await page.waitForURL(baseUrl + "/");
});

test("phone width and dark mode render", async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.emulateMedia({ colorScheme: "dark" });
  await page.goto(baseUrl + "/alice/stories260K");
  const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.notEqual(background, "rgb(255, 255, 255)");
  const pageOverflows = () => page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  assert.equal(await pageOverflows(), false, "no horizontal scrolling on a phone");
  await shot("model-card-phone-dark");

  // The SHA-256 of an LFS file wraps.
  await page.goto(baseUrl + "/alice/stories260K/blob/main/model.safetensors");
  await page.locator("code.oid").waitFor();
  assert.equal(await pageOverflows(), false, "the LFS file page fits a phone");

  // A wide card table scrolls on its own and keeps each number on one line.
  writeWideTableRepo(join(workDir, "wide-table"));
  admin(["repo", "import", "alice/wide-table", join(workDir, "wide-table"), "--owner", "alice"]);
  await page.goto(baseUrl + "/alice/wide-table");
  const table = page.locator("article.card-body table");
  await table.waitFor();
  const sizes = await table.evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth }));
  assert.ok(sizes.scroll > sizes.client, `the table scrolls: ${JSON.stringify(sizes)}`);
  const cellLines = await page.locator("article.card-body td", { hasText: "123456789012345678" }).first()
    .evaluate((el) => {
      const range = document.createRange();
      range.selectNodeContents(el);
      return new Set(Array.from(range.getClientRects(), (r) => Math.round(r.top))).size;
    });
  assert.equal(cellLines, 1, "the number stays on one line");
  assert.equal(await pageOverflows(), false, "the page itself does not scroll sideways");
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.emulateMedia({ colorScheme: "light" });
});

test("an expired session shows a login link on the job form", async (t) => {
  if (!jobsApi) return t.skip("the jobs API answers 404");
  await fillJobForm("alice/stories-lora-expired", 12);
  const oldSession = (await context.cookies(baseUrl)).find((c) => c.name === "atelier_session").value;
  // Setting the password ends every session of alice, as it expiring would.
  admin(["user", "password", "alice"], password + "\n");

  const replyPromise = page.waitForResponse((r) => r.url() === baseUrl + "/api/jobs" && r.request().method() === "POST");
  await page.getByRole("button", { name: "Start training" }).click();
  const reply = await replyPromise;
  assert.equal(reply.status(), 401);
  assert.equal(reply.headers()["www-authenticate"], undefined, "no Basic login dialog");
  const error = page.locator("#job-error");
  await error.getByText("Your session expired").waitFor();
  const login = error.getByRole("link", { name: "log in again" });
  assert.equal(await login.getAttribute("href"), "/login?next=%2Fjobs%2Fnew");
  assert.equal(await page.getByRole("button", { name: "Start training" }).isEnabled(), true);

  // The job page's event stream sends the same cookie, and API clients keep the Basic challenge.
  const stream = await fetch(baseUrl + "/api/jobs/1/events", { headers: { Cookie: `atelier_session=${oldSession}` } });
  await stream.arrayBuffer();
  assert.equal(stream.status, 401);
  assert.equal(stream.headers.get("www-authenticate"), null);
  const client = await fetch(baseUrl + "/api/jobs/1/events");
  await client.arrayBuffer();
  assert.equal(client.status, 401);
  assert.match(client.headers.get("www-authenticate") ?? "", /^Basic /);

  await login.click();
  await page.getByLabel("User name").fill("alice");
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(baseUrl + "/jobs/new");
  await page.getByRole("button", { name: "Start training" }).waitFor();
});

test("keyboard users get a skip link and logout works", async () => {
  await page.goto(baseUrl + "/");
  await page.keyboard.press("Tab");
  const focused = await page.evaluate(() => document.activeElement?.textContent);
  assert.equal(focused, "Skip to content");
  await page.getByRole("button", { name: "Log out" }).click();
  await page.waitForURL(baseUrl + "/");
  await page.getByRole("link", { name: "Log in" }).waitFor();
});

test("no page had a script error or a blocked resource", () => {
  assert.deepEqual(pageProblems, []);
});
