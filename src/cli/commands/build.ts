import { Option, type Command } from "commander";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { build, type BuildOptions, type BuildResult } from "../../build/pipeline.ts";
import { humanBytes } from "../../build/progress.ts";
import { UserError } from "../../errors.ts";
import { outDirOf, outputRoot, parseTarget } from "../../model/target.ts";
import { outputDirectory } from "../../user-files.ts";
import { printJson } from "../output.ts";
import { loadSigningKey, loadTrustedKey } from "../../image/update-signature.ts";
import { addOutputDirFlag } from "./output-dir.ts";

export function parseScale(text: string | undefined): number {
  if (text === undefined) return 1;
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const value = m ? Number(m[1]) / Number(m[2]) : Number(text);
  if (!(value > 0 && value <= 1)) throw new UserError(`--scale: expected a factor in (0, 1] such as 1/64, got ${text}`);
  return value;
}

/** The output root named by --output-dir (or the default), checked: a directory or nothing yet. */
export function checkedOutputRoot(outputDir: string | undefined): string {
  const root = outputRoot({ outputDir });
  outputDirectory(root, outputDir === undefined ? `output directory ${root}` : `--output-dir ${outputDir}`, "name a directory for <os>/<variant>/ (created if missing)");
  return root;
}

/** The flags every command that builds takes (build, verify). */
export interface BuildFlags {
  scale?: string;
  fillB?: boolean;
  artifacts?: boolean;
  imageVersion: string;
  signingKey?: string;
  trustKey?: string[];
  json?: boolean;
  outputDir?: string;
  verbose?: boolean;
}

/** The image's version was `--version` until 0.1; that name is icos's own version (`icos --version`). */
function refuseOldVersionFlag(): never {
  throw new UserError(
    "--version is not an option of build or verify: the image's version is --image-version <v>",
    "e.g. icos build guestos/prod --image-version 1.2.0; `icos --version` prints icos's own version",
  );
}

export function addBuildFlags(command: Command): Command {
  return command
    .option("--scale <factor>", "scale partition sizes down, e.g. 1/64 (tests); default: the real IC-OS sizes")
    .option("--fill-b", "also write the B partition set (for tests)")
    .option("--artifacts", "also make the compressed release archives: disk-img.tar.zst and the update images (the dev loop needs disk.img only)")
    .option("--image-version <version>", "the image version (version.txt, VERSION.TXT)", "0.0.0")
    // Hidden: only there to say what replaced it (commander would call it an unknown option).
    .addOption(new Option("--version [value]").hideHelp())
    .on("option:version", refuseOldVersionFlag)
    .option("--signing-key <key.pem>", "sign the update images with this Ed25519 or ECDSA private key (through openssl); the image trusts its public key for later upgrades")
    .option("--trust-key <pub.pem>", "also trust this public key for upgrades (repeatable; e.g. the next signing key)", (v: string, all: string[] = []) => [...all, v])
    .option("--json", "print the result as JSON")
    .option("--verbose", "show what the tools print (on stderr), as `icos --verbose` does");
}

export async function buildOptionsOf(flags: BuildFlags): Promise<BuildOptions> {
  // The device accepts at most 64 of these characters in VERSION.TXT (manageboot.sh).
  if (!/^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/.test(flags.imageVersion)) {
    throw new UserError(`--image-version: expected up to 64 letters, digits, '.', '_', '+' or '-', got ${JSON.stringify(flags.imageVersion)}`);
  }
  return {
    scale: parseScale(flags.scale),
    fillB: !!flags.fillB,
    artifacts: !!flags.artifacts,
    version: flags.imageVersion,
    quiet: !!flags.json,
    signingKey: flags.signingKey === undefined ? undefined : await loadSigningKey(flags.signingKey),
    trustedKeys: await Promise.all((flags.trustKey ?? []).map(loadTrustedKey)),
  };
}

export function register(program: Command): void {
  addOutputDirFlag(
    addBuildFlags(
      program
        .command("build")
        .description("build an image (<os>/<variant>) into out/<os>/<variant>/: disk.img, BLOCKSUMS, manifest.json; with --artifacts also the archives and SHA256SUMS")
        .argument("<target>", "e.g. guestos/dev, guestos/prod (`icos targets` lists them)"),
    ),
    "where the results go",
  )
    .addHelpText(
      "after",
      "\nExample:\n  $ icos build guestos/dev\n  $ icos build guestos/prod --scale 1/64 --json\n  $ icos build guestos/prod --artifacts --signing-key release.pem --image-version 1.2.0\n  $ icos build guestos/dev --output-dir /tmp/out    # /tmp/out/guestos/dev/",
    )
    .action(async (text: string, flags: BuildFlags) => {
      const started = Date.now();
      const target = parseTarget(text);
      checkedOutputRoot(flags.outputDir);
      const options = await buildOptionsOf(flags);
      const r = await build(target, { ...options, outDir: outDirOf(target, { outputDir: flags.outputDir }) });
      if (flags.json) printJson({ outDir: r.outDir, manifest: r.manifest, stages: r.stages });
      else console.log(buildSummary(target.id, r, (Date.now() - started) / 1000));
    });
}

/**
 * The closing lines of a build on stdout: what was built, how long it took, and each file in the
 * output directory with its size (and, for a sparse disk, what it takes on disk).
 */
export function buildSummary(target: string, r: Pick<BuildResult, "outDir" | "stages">, seconds: number): string {
  const built = r.stages.filter((s) => s.cache === "miss").length;
  const head = `built ${target} in ${seconds.toFixed(1)} s (${r.stages.length} stages: ${built} built, ${r.stages.length - built} cached): ${r.outDir}`;
  const files = readdirSync(r.outDir).sort().flatMap((name) => {
    const st = statSync(join(r.outDir, name));
    if (!st.isFile()) return [];
    const allocated = st.blocks * 512;
    const sparse = allocated < st.size - 1024 * 1024 ? ` (${humanBytes(allocated)} allocated)` : "";
    return [[name, humanBytes(st.size) + sparse]];
  });
  const width = Math.max(0, ...files.map(([name]) => name!.length));
  return [head, ...files.map(([name, size]) => `  ${name!.padEnd(width)}  ${size}`)].join("\n");
}
