// Shared by the slow tier: make sure the pinned bases exist (a fresh machine builds them once),
// and run icos with JSON output.
import assert from "node:assert/strict";
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
