// Comparing two build outputs (out/<os>/<variant>/): every published file by its digest, every
// partition by the block digest in the manifests, and for a partition that differs, the files inside it
// that differ (ext4 dumped with debugfs, vfat copied out with mtools; no loop devices, no root).
// `icos verify` uses it on two builds of the same sources; `icos diff` on any two builds.
import { mkdir, readFile, readlink, rm } from "node:fs/promises";
import { join } from "node:path";
import { UserError } from "../errors.ts";
import { run } from "../exec.ts";
import { listTree } from "../fs/files.ts";
import { sha256 } from "../fs/hash.ts";

export interface BuildOutput {
  outDir: string;
  manifest: Record<string, unknown>;
}

interface ManifestPartition {
  index: number;
  name: string;
  startLba: number;
  sizeLba: number;
  blockSha256: string;
}

export interface Comparison {
  identical: boolean;
  differences: string[];
}

/** A build output directory's manifest.json (what `icos build` wrote there). */
export async function readBuildOutput(outDir: string): Promise<BuildOutput> {
  const text = await readFile(join(outDir, "manifest.json"), "utf8").catch(() => undefined);
  if (text === undefined) throw new UserError(`${outDir}: no manifest.json`, "give an output directory of `icos build` (or a target that was built)");
  try {
    return { outDir, manifest: JSON.parse(text) as Record<string, unknown> };
  } catch {
    throw new UserError(`${outDir}/manifest.json: not JSON`);
  }
}

/** Every path of a filesystem image with its metadata and content hash: ext4 by debugfs, vfat by mtools. */
async function filesOf(image: string, fstype: string, dump: string): Promise<Map<string, string>> {
  await rm(dump, { recursive: true, force: true });
  await mkdir(dump, { recursive: true });
  if (fstype === "ext4") await run("debugfs", ["-R", `rdump / ${dump}`, image], { context: "debugfs rdump (compare)" });
  else await run("mcopy", ["-s", "-p", "-m", "-n", "-i", image, "::/*", dump], { env: { MTOOLS_SKIP_CHECK: "1" }, context: "mcopy (compare)" });
  const files = new Map<string, string>();
  for (const e of await listTree(dump)) {
    const { mode, uid, gid, mtimeMs, size } = e.stat;
    // rdump cannot give a symlink its recorded time: a link is its target.
    if (e.stat.isSymbolicLink()) {
      files.set(e.path, `symlink -> ${await readlink(e.abs)}`);
      continue;
    }
    const content = e.stat.isFile() ? sha256(await readFile(e.abs)) : "";
    // vfat has no owners or modes: mtools makes them up, so only size, time and content count.
    files.set(e.path, fstype === "ext4" ? `mode ${mode.toString(8)} owner ${uid}:${gid} mtime ${mtimeMs / 1000} size ${size} ${content}` : `mtime ${mtimeMs / 1000} size ${size} ${content}`);
  }
  return files;
}

/** Cut a partition out of a disk (only the partitions that differ, so this stays cheap). */
async function extract(disk: string, p: ManifestPartition, out: string): Promise<void> {
  await run("dd", [`if=${disk}`, `of=${out}`, "bs=512", `skip=${p.startLba}`, `count=${p.sizeLba}`, "conv=sparse", "status=none"]);
}

async function explain(a: BuildOutput, b: BuildOutput, p: ManifestPartition, scratch: string, maxFiles: number): Promise<string[]> {
  const imgs = [join(scratch, "a.img"), join(scratch, "b.img")] as const;
  await mkdir(scratch, { recursive: true });
  await extract(join(a.outDir, "disk.img"), p, imgs[0]);
  await extract(join(b.outDir, "disk.img"), p, imgs[1]);
  const types = await Promise.all(imgs.map(async (i) => (await run("blkid", ["-p", "-o", "value", "-s", "TYPE", i], { allowFailure: true })).stdout.trim()));
  const fstype = types[0] === types[1] ? types[0] : "";
  if (fstype !== "ext4" && fstype !== "vfat") return [`partition ${p.index} (${p.name}) differs`];
  const [fa, fb] = [await filesOf(imgs[0], fstype, join(scratch, "a")), await filesOf(imgs[1], fstype, join(scratch, "b"))];
  const paths = [...new Set([...fa.keys(), ...fb.keys()])].sort();
  const changed = paths.filter((x) => fa.get(x) !== fb.get(x));
  if (changed.length === 0) return [`partition ${p.index} (${p.name}) differs, but no file does (filesystem metadata)`];
  const line = (x: string) => {
    const [va, vb] = [fa.get(x), fb.get(x)];
    return va === undefined ? `  + /${x}: ${vb}` : vb === undefined ? `  - /${x}: ${va}` : `  ~ /${x}: ${va} -> ${vb}`;
  };
  return [
    `partition ${p.index} (${p.name}) differs in ${changed.length} file(s):`,
    ...changed.slice(0, maxFiles).map(line),
    ...(changed.length > maxFiles ? [`  ... and ${changed.length - maxFiles} more`] : []),
  ];
}

/** What differs between two build outputs: published files, then partitions with the files inside them. */
export async function compareBuilds(a: BuildOutput, b: BuildOutput, scratch: string, opts: { maxFiles?: number } = {}): Promise<Comparison> {
  const differences: string[] = [];
  // Archives by sha256, sparse images by block digest (manifests from before block digests have none).
  const sumsA = { ...(a.manifest.sha256 as Record<string, string>), ...((a.manifest.blockSha256 ?? {}) as Record<string, string>) };
  const sumsB = { ...(b.manifest.sha256 as Record<string, string>), ...((b.manifest.blockSha256 ?? {}) as Record<string, string>) };
  for (const f of [...new Set([...Object.keys(sumsA), ...Object.keys(sumsB)])].sort()) {
    if (sumsA[f] !== sumsB[f]) differences.push(`${f}: ${sumsA[f] ?? "(missing)"} vs ${sumsB[f] ?? "(missing)"}`);
  }
  const pa = a.manifest.partitions as ManifestPartition[];
  const pb = b.manifest.partitions as ManifestPartition[];
  for (const p of pa) {
    const q = pb.find((x) => x.index === p.index);
    if (!q) differences.push(`partition ${p.index} (${p.name}) is only in ${a.outDir}`);
    else if (q.startLba !== p.startLba || q.sizeLba !== p.sizeLba) differences.push(`partition ${p.index} (${p.name}) has another place or size`);
    else if (q.blockSha256 !== p.blockSha256) differences.push(...(await explain(a, b, p, join(scratch, `p${p.index}`), opts.maxFiles ?? 20)));
  }
  for (const q of pb) if (!pa.some((x) => x.index === q.index)) differences.push(`partition ${q.index} (${q.name}) is only in ${b.outDir}`);
  return { identical: differences.length === 0, differences };
}
