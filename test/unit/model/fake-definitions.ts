// A copy of ic-os/ with extra OSes, shared by the resolver's tests and `icos targets`'s.
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { recipeFor } from "../../../src/build/recipes.ts";
import { OS_KINDS } from "../../../src/model/os.ts";
import { IC_OS_DIR } from "../../../src/paths.ts";

/** A kind without a recipe yet (undefined once every kind has one). */
export const KIND_WITHOUT_RECIPE = OS_KINDS.find((k) => "missing" in recipeFor(k));

/** A copy of ic-os/ with fooos, lvmos and misnamed, and an output root where guestos/dev is built. */
export function fakeDefinitions(dir: string): { icOsDir: string; out: string } {
  const icOsDir = join(dir, "ic-os");
  cpSync(IC_OS_DIR, icOsDir, { recursive: true });
  mkdirSync(join(icOsDir, "fooos"));
  cpSync(join(IC_OS_DIR, "hostos/layout.yaml"), join(icOsDir, "fooos/layout.yaml"));
  const osYaml = readFileSync(join(IC_OS_DIR, "guestos/os.yaml"), "utf8");
  for (const [name, edit] of [
    ["lvmos", (y: string) => y.replace("name: guestos", "name: lvmos").replace("kind: ab-gpt-disk", `kind: ${KIND_WITHOUT_RECIPE ?? "ab-gpt-disk"}`)],
    ["misnamed", (y: string) => y],
  ] as const) {
    cpSync(join(IC_OS_DIR, "guestos"), join(icOsDir, name), { recursive: true });
    writeFileSync(join(icOsDir, name, "os.yaml"), edit(osYaml));
  }
  const out = join(dir, "out");
  mkdirSync(join(out, "guestos/dev"), { recursive: true });
  for (const f of ["manifest.json", "disk.img", "update-img.tar.zst"]) writeFileSync(join(out, "guestos/dev", f), "x");
  return { icOsDir, out };
}
