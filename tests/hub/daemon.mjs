// Starts a real `atelier serve` on 127.0.0.1 with a fresh data directory, makes users and
// tokens with the `atelier admin` CLI, and stops the daemon at the end. Shared by the
// end-to-end tests of this folder.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const bin = process.env.ATELIER_BIN;
if (!bin) throw new Error("ATELIER_BIN is not set: run the tests through meson");

export function admin(dataDir, args, input = "") {
  const r = spawnSync(bin, ["admin", "--data", dataDir, ...args], { input, encoding: "utf8" });
  if (r.status !== 0) {
    throw new Error(`atelier admin ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  }
  return r.stdout.trim();
}

export function addUser(dataDir, name, { isAdmin = false } = {}) {
  admin(dataDir, ["user", "add", name, ...(isAdmin ? ["--admin"] : [])], "password-" + name + "\n");
}

export function createToken(dataDir, user, { write = true, label = "test" } = {}) {
  const out = admin(dataDir, ["token", "create", user, ...(write ? ["--write"] : []), "--label", label]);
  const token = out.split(/\s+/).find((w) => w.startsWith("hf_"));
  if (!token) throw new Error(`token create printed no hf_ token: ${out}`);
  return token;
}

// Revokes the token of user whose label is label, reading its id from `token list`.
export function revokeToken(dataDir, user, label) {
  const list = admin(dataDir, ["token", "list", user]);
  const line = list.split("\n").find((l) => l.includes(label));
  const id = line && line.match(/\d+/);
  if (!id) throw new Error(`no token labelled ${label} in: ${list}`);
  admin(dataDir, ["token", "revoke", id[0]]);
}

// wrapper, when given, is a command line that runs the daemon's command line appended to it.
export async function startDaemon({ dataDir, extraArgs = [], wrapper = [] } = {}) {
  const dir = dataDir ?? mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), "atelier-hub-"));
  const argv = [...wrapper, bin, "serve", "--data", dir, "--listen", "127.0.0.1:0", "--threads",
    "2", ...extraArgs];
  const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  // One listener collects the whole log, so tests may count its lines.
  child.stderr.on("data", (chunk) => { log += chunk.toString(); });
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`daemon did not start:\n${log}`)), 20000);
    const waitForPort = () => {
      const m = log.match(/listening host=\S+ port=(\d+)/);
      if (m) {
        clearTimeout(timer);
        child.stderr.off("data", waitForPort);
        resolve(Number(m[1]));
      }
    };
    child.stderr.on("data", waitForPort);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`daemon exited with ${code} before listening:\n${log}`));
    });
  });
  const daemon = {
    dataDir: dir,
    pid: child.pid,
    port,
    url: `http://127.0.0.1:${port}`,
    log: () => log,
    // Sends signal (SIGTERM by default) and resolves with the exit code, or with the signal's
    // name when the daemon died of it.
    async stop({ keepData = false, signal = "SIGTERM" } = {}) {
      const code = await new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) {
          return resolve(child.exitCode ?? child.signalCode);
        }
        child.on("exit", (c, sig) => resolve(c ?? sig));
        child.kill(signal);
      });
      if (!keepData && !dataDir) rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
  return daemon;
}

// Creates a data directory with the migrations applied and users alice (admin) and bob.
export function prepareDataDir() {
  const dir = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), "atelier-hub-"));
  admin(dir, ["migrate"]);
  addUser(dir, "alice", { isAdmin: true });
  addUser(dir, "bob");
  return dir;
}

// Polls the daemon's log until it matches re, for at most timeoutMs, and returns the log. The
// daemon writes its lines from several threads and the test reads them from a pipe, so a line
// about work that is already visible through the API may still be on its way.
export async function waitForLog(daemon, re, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const log = daemon.log();
    if (re.test(log) || Date.now() > deadline) return log;
    await new Promise((r) => setTimeout(r, 50));
  }
}
