// `icos inspect`: what is on a disk image: its GPT (our decoder) and, per partition, the
// filesystem blkid finds there. blkid probes a byte range of the file (-O/-S), so no loop
// devices or root are needed.
import { humanSize } from "../model/size.ts";
import { ToolFailedError, UserError } from "../errors.ts";
import { run, shellQuote } from "../exec.ts";
import { FormatError } from "../formats/format-error.ts";
import { partitionTypeName } from "../formats/gpt.ts";
import { readGpt } from "./disk.ts";

export interface InspectedFs {
  /** blkid's TYPE: vfat, ext4, LVM2_member, crypto_LUKS, ... */
  type: string;
  label?: string;
  uuid?: string;
}

export interface InspectedPartition {
  index: number;
  name: string;
  /** Our type name (see PARTITION_TYPES), or the type GUID when we have none. */
  type: string;
  typeGuid: string;
  partGuid: string;
  startLba: number;
  sizeLba: number;
  startBytes: number;
  sizeBytes: number;
  /** The 64 attribute bits as 0x + 16 hex digits (a string, so the result is plain JSON). */
  attributes: string;
  fs?: InspectedFs;
}

export interface InspectResult {
  path: string;
  diskGuid: string;
  sizeBytes: number;
  sectorSize: number;
  partitions: InspectedPartition[];
  /** GPT problems (only with { strict: false }) and probes blkid found ambivalent. */
  warnings: string[];
}

// blkid exit codes (blkid(8)): 2 = nothing found, 8 = more than one signature (ambivalent).
const BLKID_NOTHING_FOUND = 2;
const BLKID_AMBIVALENT = 8;

/** blkid -o export output -> fields. Values escape shell-special characters with a backslash. */
function parseExport(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) fields.set(line.slice(0, eq), line.slice(eq + 1).replace(/\\(.)/g, "$1"));
  }
  return fields;
}

/** Probe the byte range [offsetBytes, offsetBytes + sizeBytes) of `path` for a filesystem. */
export async function probeFilesystem(path: string, offsetBytes: number, sizeBytes: number): Promise<{ fs?: InspectedFs; ambivalent: boolean }> {
  const args = ["-p", "-O", String(offsetBytes), "-S", String(sizeBytes), "-o", "export", path];
  const r = await run("blkid", args, { allowFailure: true, context: `probe ${path} at ${offsetBytes}` });
  if (r.code === BLKID_NOTHING_FOUND) return { ambivalent: false };
  if (r.code === BLKID_AMBIVALENT) return { ambivalent: true };
  if (r.code !== 0) {
    const tail = (r.stderr || r.stdout).trimEnd().split("\n").slice(-5).join("\n");
    throw new ToolFailedError(shellQuote(["blkid", ...args]), `exit code ${r.code}`, tail, `probe ${path} at ${offsetBytes}`);
  }
  const f = parseExport(r.stdout);
  const type = f.get("TYPE");
  if (type === undefined) return { ambivalent: false }; // e.g. only a PTTYPE: not a filesystem
  const fs: InspectedFs = { type };
  const label = f.get("LABEL");
  const uuid = f.get("UUID");
  if (label !== undefined) fs.label = label;
  if (uuid !== undefined) fs.uuid = uuid;
  return { fs, ambivalent: false };
}

/**
 * What blkid finds on the whole file when it holds no GPT we can read: "a vfat filesystem (label
 * CONFIG), not a partitioned disk", "an MBR (dos) partition table, not GPT"; undefined when it
 * finds a GPT (ours found it corrupt: our message says why), several signatures or nothing.
 */
export async function describeNonGpt(path: string): Promise<string | undefined> {
  const r = await run("blkid", ["-p", "-o", "export", path], { allowFailure: true, context: `probe ${path}` });
  if (r.code !== 0) return undefined;
  const f = parseExport(r.stdout);
  const [pttype, type, label] = [f.get("PTTYPE"), f.get("TYPE"), f.get("LABEL")];
  if (pttype === "gpt" || pttype === "PMBR") return undefined;
  if (pttype !== undefined) return `${pttype === "dos" ? "an MBR (dos)" : `a ${pttype}`} partition table, not GPT`;
  if (type === undefined) return undefined;
  const usage = f.get("USAGE");
  const what = usage === "crypto" ? "encrypted volume" : usage === "raid" ? "RAID or LVM member" : usage === "filesystem" || usage === undefined ? "filesystem" : `${usage} signature`;
  return `a ${type} ${what}${label ? ` (label ${label})` : ""}, not a partitioned disk`;
}

/** `icos inspect` probes at most this many partitions with blkid (one process each); the rest are listed unprobed. */
export const MAX_PROBED_PARTITIONS = 128;

export async function inspectDisk(path: string, opts: { strict?: boolean } = {}): Promise<InspectResult> {
  let decoded: ReturnType<typeof readGpt>;
  try {
    decoded = readGpt(path, opts);
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    const what = await describeNonGpt(path);
    if (what) throw new UserError(`${path}: ${what}`, "icos inspect lists the partitions of GPT disk images such as out/guestos/dev/disk.img");
    throw e;
  }
  const { disk, warnings } = decoded;
  const partitions: InspectedPartition[] = [];
  const sorted = [...disk.partitions].sort((a, b) => a.index - b.index);
  if (sorted.length > MAX_PROBED_PARTITIONS) {
    warnings.push(`${sorted.length} partitions: only the first ${MAX_PROBED_PARTITIONS} were probed for a filesystem`);
  }
  for (const [i, p] of sorted.entries()) {
    const sizeLba = p.lastLba - p.firstLba + 1;
    const part: InspectedPartition = {
      index: p.index,
      name: p.name,
      type: partitionTypeName(p.typeGuid) ?? p.typeGuid,
      typeGuid: p.typeGuid,
      partGuid: p.partGuid,
      startLba: p.firstLba,
      sizeLba,
      startBytes: p.firstLba * disk.sectorSize,
      sizeBytes: sizeLba * disk.sectorSize,
      attributes: `0x${p.attributes.toString(16).padStart(16, "0")}`,
    };
    if (i < MAX_PROBED_PARTITIONS) {
      const probe = await probeFilesystem(path, part.startBytes, part.sizeBytes);
      if (probe.fs) part.fs = probe.fs;
      if (probe.ambivalent) warnings.push(`partition ${p.index}: blkid found more than one signature; filesystem unknown`);
    }
    partitions.push(part);
  }
  return { path, diskGuid: disk.diskGuid, sizeBytes: disk.sizeBytes, sectorSize: disk.sectorSize, partitions, warnings };
}


/** A human table: one line per partition, columns padded to align. */
export function formatInspectTable(result: InspectResult): string {
  const header = ["#", "NAME", "TYPE", "START", "SIZE", "PART GUID", "FS", "LABEL", "UUID"];
  const rows = result.partitions.map((p) => [
    String(p.index),
    p.name || "-",
    p.type,
    humanSize(p.startBytes),
    humanSize(p.sizeBytes),
    p.partGuid,
    p.fs?.type ?? "-",
    p.fs?.label ?? "-",
    p.fs?.uuid ?? "-",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const rightAligned = new Set(["#", "START", "SIZE"]);
  const line = (cells: string[]) =>
    cells.map((c, i) => (rightAligned.has(header[i]!) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd();
  const title = `${result.path}: ${humanSize(result.sizeBytes)} (${result.sizeBytes} bytes), ${result.sectorSize}-byte sectors, disk GUID ${result.diskGuid}`;
  const warnings = result.warnings.map((w) => `warning: ${w}`);
  return [title, line(header), ...rows.map(line), ...warnings].join("\n") + "\n";
}
