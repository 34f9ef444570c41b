// icos verify: build a target twice, each time with an empty stage store (the pinned base is
// reused), and compare every artifact and every partition. A difference is a bug: the report
// names the partition and, for ext4 partitions, the files whose contents or metadata differ.
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../exec.ts";
import { listTree } from "../fs/files.ts";
import type { Target } from "../model/target.ts";
import { sha256 } from "../fs/hash.ts";
import { build, type BuildOptions, type BuildResult } from "./pipeline.ts";

export interface VerifyResult {
  identical: boolean;
  sha256: Record<string, string>;
  differences: string[];
}

interface ManifestPartition {
  index: number;
  name: string;
  startLba: number;
  sizeLba: number;
  sha256: string;
}

/** Every path of an ext4 image (dumped with debugfs) with its metadata and content hash. */
async function ext4Files(image: string, scratch: string): Promise<Map<string, string>> {
  const dump = join(scratch, "dump");
  await rm(dump, { recursive: true, force: true });
  await mkdir(dump, { recursive: true });
  await run("debugfs", ["-R", `rdump / ${dump}`, image], { context: "debugfs rdump (verify)" });
  const files = new Map<string, string>();
  for (const e of await listTree(dump)) {
    const { mode, uid, gid, mtimeMs, size } = e.stat;
    const content = e.stat.isFile() ? sha256(await readFile(e.abs)) : "";
    files.set(e.path, `mode ${mode.toString(8)} owner ${uid}:${gid} mtime ${mtimeMs / 1000} size ${size} ${content}`);
  }
  return files;
}

/** Cut a partition out of a disk (only the partitions that differ, so this stays cheap). */
async function extract(disk: string, p: ManifestPartition, out: string): Promise<void> {
  await run("dd", [`if=${disk}`, `of=${out}`, "bs=512", `skip=${p.startLba}`, `count=${p.sizeLba}`, "conv=sparse", "status=none"]);
}

async function explain(a: BuildResult, b: BuildResult, p: ManifestPartition, scratch: string): Promise<string[]> {
  const imgs = [join(scratch, "a.img"), join(scratch, "b.img")];
  await extract(join(a.outDir, "disk.img"), p, imgs[0]!);
  await extract(join(b.outDir, "disk.img"), p, imgs[1]!);
  const probe = await run("blkid", ["-p", "-o", "value", "-s", "TYPE", imgs[0]!], { allowFailure: true });
  if (probe.stdout.trim() !== "ext4") return [`partition ${p.index} (${p.name}) differs`];
  const [fa, fb] = [await ext4Files(imgs[0]!, join(scratch, "a")), await ext4Files(imgs[1]!, join(scratch, "b"))];
  const paths = [...new Set([...fa.keys(), ...fb.keys()])].sort();
  const changed = paths.filter((x) => fa.get(x) !== fb.get(x));
  if (changed.length === 0) return [`partition ${p.index} (${p.name}) differs, but no file does (filesystem metadata)`];
  return [
    `partition ${p.index} (${p.name}) differs in ${changed.length} file(s):`,
    ...changed.slice(0, 20).map((x) => `  /${x}: ${fa.get(x) ?? "(missing)"} vs ${fb.get(x) ?? "(missing)"}`),
  ];
}

export async function verify(target: Target, opts: Omit<BuildOptions, "outDir" | "cacheDir">): Promise<VerifyResult> {
  const scratch = await mkdtemp(join(tmpdir(), "icos-verify-"));
  try {
    const builds: BuildResult[] = [];
    for (const n of [1, 2]) {
      builds.push(await build(target, { ...opts, cacheDir: join(scratch, `cache${n}`), outDir: join(scratch, `out${n}`) }));
      // Each build's store is thrown away: the second build must start from nothing too.
      await rm(join(scratch, `cache${n}`), { recursive: true, force: true });
    }
    const [a, b] = builds as [BuildResult, BuildResult];
    const differences: string[] = [];
    const sumsA = a.manifest.sha256 as Record<string, string>;
    const sumsB = b.manifest.sha256 as Record<string, string>;
    for (const f of Object.keys(sumsA)) if (sumsA[f] !== sumsB[f]) differences.push(`${f}: ${sumsA[f]} vs ${sumsB[f]}`);
    const pa = a.manifest.partitions as ManifestPartition[];
    const pb = b.manifest.partitions as ManifestPartition[];
    for (const p of pa) {
      const q = pb.find((x) => x.index === p.index);
      if (q?.sha256 !== p.sha256) differences.push(...(await explain(a, b, p, join(scratch, `p${p.index}`))));
    }
    return { identical: differences.length === 0, sha256: sumsA, differences };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
