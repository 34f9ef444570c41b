// The layers of src/ point one way (docs/architecture.md): formats import only formats; the ground
// floor (errors, exec, host-tools, user-files, fs/) imports nothing above it; nothing outside cli
// imports cli; only src/exec.ts starts processes. Every import and export-from of every file is read.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");

interface Import {
  /** The importing file, e.g. "src/vm/vm.ts". */
  file: string;
  line: number;
  specifier: string;
  /** For a relative specifier: the file it names, e.g. "src/errors.ts"; undefined for node: and npm. */
  target?: string;
}

/** The files below the rest of src/: they may import only each other, node: modules and npm packages. */
const GROUND_FILES = ["src/errors.ts", "src/exec.ts", "src/host-tools.ts", "src/user-files.ts"];
const GROUND_DIRS = ["src/fs/"];
const isGround = (path: string): boolean => GROUND_FILES.includes(path) || GROUND_DIRS.some((d) => path.startsWith(d));

function importsOf(file: string, text: string): Import[] {
  // preProcessFile finds import, import type, export ... from, import() and require().
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => ({
    file,
    line: text.slice(0, f.pos).split("\n").length,
    specifier: f.fileName,
    target: f.fileName.startsWith(".") ? posix.normalize(posix.join(posix.dirname(file), f.fileName)) : undefined,
  }));
}

interface Rule {
  name: string;
  appliesTo: (file: string) => boolean;
  /** undefined: allowed; else why not. */
  check: (imp: Import) => string | undefined;
}

const RULES: readonly Rule[] = [
  {
    name: "formats are pure codecs",
    appliesTo: (file) => file.startsWith("src/formats/"),
    check: (imp) => (imp.target === undefined || imp.target.startsWith("src/formats/") ? undefined : "src/formats/ may import only src/formats/ (and node: or npm)"),
  },
  {
    name: "the ground floor imports nothing above it",
    appliesTo: isGround,
    check: (imp) =>
      imp.target === undefined || isGround(imp.target) ? undefined : `the ground floor (${[...GROUND_FILES, ...GROUND_DIRS].join(", ")}) may import only itself (and node: or npm)`,
  },
  {
    name: "nothing imports cli",
    appliesTo: (file) => !file.startsWith("src/cli/"),
    check: (imp) => (imp.target?.startsWith("src/cli/") ? "only src/cli/ may import src/cli/" : undefined),
  },
  {
    name: "only src/exec.ts starts processes",
    appliesTo: (file) => file !== "src/exec.ts",
    check: (imp) => (/^(node:)?child_process$/.test(imp.specifier) ? "only src/exec.ts may import node:child_process (use run, start or runSync)" : undefined),
  },
];

function violations(imports: readonly Import[], rules: readonly Rule[] = RULES): string[] {
  const out: string[] = [];
  for (const rule of rules) {
    for (const imp of imports) {
      if (!rule.appliesTo(imp.file)) continue;
      const why = rule.check(imp);
      if (why) out.push(`${imp.file}:${imp.line} imports "${imp.specifier}"${imp.target ? ` (${imp.target})` : ""}: ${why}`);
    }
  }
  return out;
}

function sourceImports(): Import[] {
  const files = readdirSync(join(ROOT, "src"), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .map((f) => posix.join("src", f.split("\\").join("/")))
    .sort();
  return files.flatMap((file) => importsOf(file, readFileSync(join(ROOT, file), "utf8")));
}

describe("layers: src/ dependencies point one way", () => {
  const imports = sourceImports();

  it("reads the imports it checks: every relative import names a file that exists, the ground floor is there", () => {
    assert.ok(imports.length > 100, `only ${imports.length} imports found in src/`);
    assert.ok(imports.some((i) => i.file === "src/exec.ts" && i.target === "src/errors.ts"), "src/exec.ts -> src/errors.ts not found");
    const missing = imports.filter((i) => i.target !== undefined && !existsSync(join(ROOT, i.target))).map((i) => `${i.file}:${i.line} "${i.specifier}"`);
    assert.deepEqual(missing, [], "imports of files that do not exist");
    for (const f of GROUND_FILES) assert.ok(existsSync(join(ROOT, f)), `ground-floor file ${f} is gone: update GROUND_FILES`);
    for (const d of GROUND_DIRS) assert.ok(existsSync(join(ROOT, d)), `ground-floor folder ${d} is gone: update GROUND_DIRS`);
  });

  for (const rule of RULES) {
    it(rule.name, () => {
      const bad = violations(imports, [rule]);
      assert.ok(bad.length === 0, `${bad.length} import(s) break "${rule.name}":\n  ${bad.join("\n  ")}`);
    });
  }

  it("names the file, line and import of a violation (the checker can fail)", () => {
    const text = 'import { a } from "./gpt.ts";\nimport {\n  program,\n} from "../cli/main.ts";\nexport type { X } from "node:child_process";\n';
    assert.deepEqual(violations(importsOf("src/formats/x.ts", text)), [
      'src/formats/x.ts:4 imports "../cli/main.ts" (src/cli/main.ts): src/formats/ may import only src/formats/ (and node: or npm)',
      'src/formats/x.ts:4 imports "../cli/main.ts" (src/cli/main.ts): only src/cli/ may import src/cli/',
      'src/formats/x.ts:5 imports "node:child_process": only src/exec.ts may import node:child_process (use run, start or runSync)',
    ]);
    assert.deepEqual(violations(importsOf("src/fs/x.ts", 'import { run } from "../build/store.ts";\n')), [
      'src/fs/x.ts:1 imports "../build/store.ts" (src/build/store.ts): the ground floor (src/errors.ts, src/exec.ts, src/host-tools.ts, src/user-files.ts, src/fs/) may import only itself (and node: or npm)',
    ]);
  });
});
