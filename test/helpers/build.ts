// Shared by the slow tier: make sure the pinned bases exist (a fresh machine builds them once),
// run icos with JSON output, and build each target a test run needs once, shared by every file.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { icos, type CliResult, type IcosOptions } from "./cli.ts";

let basesReady = false;

/** `icos base update guestos --if-missing`: a no-op when the pinned bases are present. */
export function ensureGuestosBase(): void {
  if (basesReady) return;
  const r = icos(["base", "update", "guestos", "--if-missing"]);
  assert.equal(r.code, 0, `base update failed:\n${r.stderr}`);
  basesReady = true;
}

export function icosJson<T>(args: string[], opts: IcosOptions = {}): { result: CliResult; json: T } {
  const result = icos([...args, "--json"], opts);
  assert.equal(result.code, 0, `icos ${args.join(" ")} failed (exit ${result.code}):\n${result.stderr}`);
  return { result, json: JSON.parse(result.stdout) as T };
}

/**
 * `icos build ARGS` into the test run's shared output root (ICOS_TEST_SHARED_OUT, made and removed
 * by scripts/run-tests.sh; a directory of this process's own when one file runs alone), one
 * folder per argument list: the first file of a run that needs a target builds it, the others
 * find it up to date (a no-op build: stat checks only). Tests must not change what it returns;
 * copy disk.img first to write to it.
 */
let ownRoot: string | undefined;

export function sharedBuild<T extends { outDir: string }>(args: string[]): T {
  let root = process.env.ICOS_TEST_SHARED_OUT;
  if (root === undefined) {
    if (ownRoot === undefined) {
      const dir = join(tmpdir(), `icos-test-shared-${process.pid}`);
      process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
      ownRoot = dir;
    }
    root = ownRoot;
  }
  const out = join(root, createHash("sha256").update(args.join("\0")).digest("hex").slice(0, 16));
  mkdirSync(out, { recursive: true });
  ensureGuestosBase();
  return icosJson<T>(["build", ...args], { env: { ICOS_OUT_DIR: out } }).json;
}
