// deploy/atelier.service passes `systemd-analyze verify` without a warning. meson runs this
// only where systemd-analyze is installed. The unit's ExecStart names the installed binary,
// which the check requires to exist, so the copy under test points it at the build.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const unitPath = join(dirname(fileURLToPath(import.meta.url)), "../../deploy/atelier.service");

test("deploy unit passes systemd-analyze verify", () => {
  const unit = readFileSync(unitPath, "utf8");
  assert.match(unit, /^ExecStart=\/usr\/local\/bin\/atelier serve /m);
  assert.match(unit, /^LimitNOFILE=65536$/m, "room for --max-connections 1024 and open files");
  const dir = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), "atelier-unit-"));
  try {
    const copy = join(dir, "atelier.service");
    writeFileSync(copy, unit.replace("ExecStart=/usr/local/bin/atelier",
      `ExecStart=${process.env.ATELIER_BIN}`));
    const r = spawnSync("systemd-analyze", ["verify", copy], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    // verify exits 0 on unknown keys and bad values too, and only prints them.
    assert.equal(r.stderr.trim(), "", r.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
