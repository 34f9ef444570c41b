// Golden resolved partition tables: for each OS layout under ic-os/ (the checkout's, not
// $ICOS_IC_OS_DIR), resolveLayout(loadLayout(file)) at scale 1 and 1/64 must equal
// test/fixtures/layouts/<os>.json. A change to a layout, to the resolver or to ResolvedLayout (a
// new field, e.g. partition GUIDs) shows up here as a diff to review.
//
// Regenerate every golden file (then review `git diff test/fixtures/layouts/`):
//   ICOS_UPDATE_GOLDEN=1 node --import tsx --test test/unit/model/layout-golden.test.ts
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, it } from "node:test";
import { loadLayout, resolveLayout } from "../../../src/model/layout.ts";
import { discoverOses } from "../../../src/model/target.ts";
import { ROOT } from "../../../src/paths.ts";

const GOLDEN_DIR = join(ROOT, "test/fixtures/layouts");
const REGENERATE = "ICOS_UPDATE_GOLDEN=1 node --import tsx --test test/unit/model/layout-golden.test.ts";
const UPDATE = process.env.ICOS_UPDATE_GOLDEN === "1";
const SCALES: Record<string, number> = { "1": 1, "1/64": 1 / 64 };

interface Golden {
  regenerate: string;
  layout: string;
  scales: Record<string, unknown>;
}

/** The first place two JSON values differ, as a path and both values (assert's full diff of a table is long). */
function firstDifference(want: unknown, got: unknown, path = "$"): string | undefined {
  if (JSON.stringify(want) === JSON.stringify(got)) return undefined;
  if (typeof want === "object" && want !== null && typeof got === "object" && got !== null && Array.isArray(want) === Array.isArray(got)) {
    const w = want as Record<string, unknown>;
    const g = got as Record<string, unknown>;
    for (const k of new Set([...Object.keys(w), ...Object.keys(g)])) {
      const d = firstDifference(w[k], g[k], Array.isArray(want) ? `${path}[${k}]` : `${path}.${k}`);
      if (d) return d;
    }
  }
  return `${path}: golden ${JSON.stringify(want)}, now ${JSON.stringify(got)}`;
}

const oses = discoverOses({ icOsDir: join(ROOT, "ic-os") }).filter((o) => o.layoutFile);

describe("golden resolved layouts (test/fixtures/layouts/<os>.json)", () => {
  for (const os of oses) {
    it(`${os.name}: resolved at scales ${Object.keys(SCALES).join(", ")} equals its golden file`, (t) => {
      const layout = loadLayout(os.layoutFile!);
      const now: Golden = {
        regenerate: REGENERATE,
        layout: relative(ROOT, os.layoutFile!),
        // Through JSON, so optional fields left undefined compare as absent.
        scales: Object.fromEntries(Object.entries(SCALES).map(([name, scale]) => [name, JSON.parse(JSON.stringify(resolveLayout(layout, { scale })))])),
      };
      const file = join(GOLDEN_DIR, `${os.name}.json`);
      if (UPDATE) {
        writeFileSync(file, JSON.stringify(now, null, 2) + "\n");
        t.diagnostic(`wrote ${relative(ROOT, file)}`);
        return;
      }
      assert.ok(existsSync(file), `no golden file ${relative(ROOT, file)}; make it with: ${REGENERATE}`);
      const golden = JSON.parse(readFileSync(file, "utf8")) as Golden;
      const diff = firstDifference(golden, now);
      assert.equal(diff, undefined, `${relative(ROOT, file)} differs at ${diff}\nif the change is intended, regenerate with: ${REGENERATE}`);
    });
  }

  it("has no golden file for an OS that no longer has a layout", () => {
    const names = new Set(oses.map((o) => o.name));
    const stale = readdirSync(GOLDEN_DIR).filter((f) => f.endsWith(".json") && !names.has(f.slice(0, -".json".length)));
    assert.deepEqual(stale, [], `remove these from test/fixtures/layouts/`);
  });

  it("covers the four IC-OS layouts", () => {
    for (const name of ["guestos", "hostos", "setupos", "boundary-guestos"]) assert.ok(oses.some((o) => o.name === name), name);
  });
});
