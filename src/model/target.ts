// The one place that turns what a user names on the command line into OSes, targets and files:
//   - the OSes: folders of IC_OS_DIR holding an os.yaml (buildable) or at least a layout.yaml;
//   - a target "<os>/<variant>" (guestos/dev): the OS's os.yaml and one of its variants;
//   - a target's output directory: <output root>/<os>/<variant>, the root being --output-dir,
//     else $ICOS_OUT_DIR, else <repo>/out (build writes there; run, inspect, upgrade look there);
//   - an image argument (run, inspect, upgrade): a target, an output directory of `icos build`
//     (manifest.json, disk.img, ...) or a file.
// Every mistake is a UserError naming the bad value, with a hint.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { UserError } from "../errors.ts";
import { IC_OS_DIR, outRoot } from "../paths.ts";
import { inputFile } from "../user-files.ts";
import { readYamlFile } from "./data-file.ts";
import { loadOs, type OsDefinition } from "./os.ts";

const NAME = "[a-z0-9][a-z0-9-]*";
const TARGET = new RegExp(`^(${NAME})/(${NAME})$`);

export interface Target {
  os: OsDefinition;
  variant: string;
  /** "guestos/dev" */
  id: string;
}

/** An OS folder of IC_OS_DIR. Without osFile it has only a layout and cannot be built yet. */
export interface OsFolder {
  name: string;
  dir: string;
  osFile?: string;
  layoutFile?: string;
}

export interface DefinitionsOptions {
  /** The folder of OS definitions; default IC_OS_DIR ($ICOS_IC_OS_DIR or <repo>/ic-os). */
  icOsDir?: string;
}

export interface OutputOptions {
  /** --output-dir: the output root; default $ICOS_OUT_DIR or <repo>/out. */
  outputDir?: string;
  env?: NodeJS.ProcessEnv;
}

/** Every OS under the definitions folder, by name. */
export function discoverOses(opts: DefinitionsOptions = {}): OsFolder[] {
  const root = opts.icOsDir ?? IC_OS_DIR;
  let names: string[];
  try {
    names = readdirSync(root, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (e) {
    throw new UserError(`cannot read the OS definitions folder ${root}: ${(e as Error).message}`, "set ICOS_IC_OS_DIR to a folder like ic-os/ (one folder per OS)");
  }
  const oses: OsFolder[] = [];
  for (const name of names.sort()) {
    if (!new RegExp(`^${NAME}$`).test(name)) continue;
    const dir = join(root, name);
    const osFile = join(dir, "os.yaml");
    const layoutFile = join(dir, "layout.yaml");
    const os: OsFolder = { name, dir };
    if (existsSync(osFile)) os.osFile = osFile;
    if (existsSync(layoutFile)) os.layoutFile = layoutFile;
    if (os.osFile || os.layoutFile) oses.push(os);
  }
  return oses;
}

export function osNames(opts: DefinitionsOptions = {}): string[] {
  return discoverOses(opts).map((o) => o.name);
}

const knownHint = (oses: OsFolder[]) =>
  oses.length ? `known: ${oses.map((o) => o.name).join(", ")} (\`icos targets\` lists them)` : "no OS folder here has an os.yaml or a layout.yaml";

/** The folder of an OS by name; `context` is how the name was given (for the message). */
export function findOs(name: string, opts: DefinitionsOptions & { context?: string } = {}): OsFolder {
  const oses = discoverOses(opts);
  const os = oses.find((o) => o.name === name);
  if (!os) throw new UserError(`unknown OS ${JSON.stringify(name)}${opts.context ? ` in ${opts.context}` : ""}`, knownHint(oses));
  return os;
}

/** An OS's definition (os.yaml), checked; an OS with only a layout is refused: it cannot be built. */
export function loadOsNamed(name: string, opts: DefinitionsOptions & { context?: string } = {}): OsDefinition {
  const folder = findOs(name, opts);
  if (!folder.osFile) {
    throw new UserError(`${name} has a layout but no os.yaml yet: it cannot be built`, "an OS is built from its os.yaml (docs/os-definition.md); `icos targets` lists what can be built now");
  }
  const os = loadOs(folder.osFile);
  if (os.name !== name) throw new UserError(`${folder.osFile}: name: ${JSON.stringify(os.name)} differs from its folder ${JSON.stringify(name)}`, "an OS is named after its folder under ic-os/");
  return os;
}

/** The layout file of an OS (its os.yaml's `layout`, default layout.yaml), or the argument itself when it is an existing file. */
export function layoutFileOf(osOrPath: string, opts: DefinitionsOptions = {}): string {
  const oses = discoverOses(opts);
  const os = oses.find((o) => o.name === osOrPath);
  if (os) {
    const data = os.osFile ? readYamlFile(os.osFile, "OS definition") : undefined;
    const named = (data as { layout?: unknown } | undefined)?.layout;
    return join(os.dir, typeof named === "string" ? named : "layout.yaml");
  }
  if (existsSync(osOrPath) && statSync(osOrPath).isFile()) return resolve(osOrPath);
  throw new UserError(`unknown OS or missing layout file: ${osOrPath}`, `use an OS name (${oses.map((o) => o.name).join(", ")}) or a path to a layout.yaml`);
}

/** Does `text` have the shape of a target (<os>/<variant>)? Says nothing about whether it exists. */
export function looksLikeTarget(text: string): boolean {
  return TARGET.test(text);
}

/** "<os>/<variant>" to its OS definition and variant. */
export function parseTarget(text: string, opts: DefinitionsOptions = {}): Target {
  const m = TARGET.exec(text);
  if (!m) {
    const os = discoverOses(opts).find((o) => o.name === text && o.osFile);
    const variants = os ? Object.keys(loadOsNamed(text, opts).variants) : [];
    const hint = os ? `${text} has: ${variants.map((v) => `${text}/${v}`).join(", ")}` : "`icos targets` lists them";
    throw new UserError(`bad target ${JSON.stringify(text)}: expected <os>/<variant>, e.g. guestos/dev`, hint);
  }
  const [, osName, variant] = m as unknown as [string, string, string];
  const os = loadOsNamed(osName, { ...opts, context: `target ${text}` });
  if (!(variant in os.variants)) {
    throw new UserError(`unknown variant ${JSON.stringify(variant)} of ${osName}`, `${osName} has: ${Object.keys(os.variants).join(", ")}`);
  }
  return { os, variant, id: `${osName}/${variant}` };
}

/** The output root: --output-dir, else $ICOS_OUT_DIR, else <repo>/out. */
export function outputRoot(opts: OutputOptions = {}): string {
  return opts.outputDir !== undefined ? resolve(opts.outputDir) : outRoot(opts.env);
}

/** Where a target's build results are: <output root>/<os>/<variant>. */
export function outDirOf(target: { os: { name: string }; variant: string }, opts: OutputOptions = {}): string {
  return join(outputRoot(opts), target.os.name, target.variant);
}

export interface ArtifactRequest extends DefinitionsOptions, OutputOptions {
  /** The file wanted from a target or an output directory, e.g. "disk.img". */
  file: string;
  /** Starts messages about a file the user named, e.g. "--to x.tar.zst" (default: the argument). */
  label?: string;
  /** What a good argument is, for hints: e.g. "a disk image file". */
  what: string;
}

export interface ResolvedArtifact {
  /** The file to use: a readable regular file. */
  path: string;
  /** How the argument named it. */
  from: "target" | "output-dir" | "file";
  /** The target, when one was named. */
  target?: Target;
}

/**
 * An argument of run, inspect or upgrade: a target (guestos/dev: <output root>/guestos/dev/FILE),
 * an output directory of `icos build` (DIR/FILE) or a file. A relative path shaped like a target
 * of a known OS means the target; write ./guestos/dev for the directory.
 */
export function resolveArtifact(arg: string, req: ArtifactRequest): ResolvedArtifact {
  const label = req.label ?? arg;
  const hint = `give a target such as guestos/dev (\`icos targets\` lists them), an output directory of \`icos build\`, or ${req.what}`;
  const m = TARGET.exec(arg);
  if (m) {
    const oses = discoverOses(req);
    if (oses.some((o) => o.name === m[1]) || !existsSync(arg)) {
      if (!oses.some((o) => o.name === m[1])) throw new UserError(`${label}: no such file, and ${JSON.stringify(m[1])} is not an OS`, `OSes: ${oses.map((o) => o.name).join(", ")}; or give an existing file or output directory`);
      const target = parseTarget(arg, req);
      const dir = outDirOf(target, req);
      const path = join(dir, req.file);
      const build = `icos build ${arg}` + (req.outputDir !== undefined ? ` --output-dir ${req.outputDir}` : "");
      if (!existsSync(path)) throw new UserError(`${arg}: no ${req.file} in ${dir}`, `run \`${build}\` first` + (req.outputDir === undefined ? ", or give --output-dir DIR if it was built into DIR" : ""));
      inputFile(path, path, { hint: `rebuild it with \`${build}\`` });
      return { path, from: "target", target };
    }
  }
  let isDir = false;
  try {
    isDir = statSync(arg).isDirectory();
  } catch {
    // missing or unreadable: inputFile says which
  }
  if (isDir) {
    const path = join(arg, req.file);
    if (!existsSync(path)) {
      throw new UserError(`${label}: is a directory without ${req.file}`, `${hint}; an output directory holds manifest.json and ${req.file}`);
    }
    inputFile(path, path, { hint });
    return { path, from: "output-dir" };
  }
  inputFile(arg, label, { hint });
  return { path: arg, from: "file" };
}
