// Cross-field rules for a layout that passed the schema: each a small function returning problems
// as `path: message`, naming the partition, so one run reports every problem in the file.
import type { Layout, LayoutPartition } from "./layout.ts";
import { formatSize as fmt, humanSize, MAX_BYTES, MiB, roundUp } from "./size.ts";

/** Protective MBR, GPT header, 32 sectors of entries (128 entries x 128 bytes); UEFI 2.10 5.3. */
export const GPT_PRIMARY_SECTORS = 34;
/** The backup entries and header at the end of the disk. */
export const GPT_BACKUP_SECTORS = 33;
/** LVM2's default pe_start: PV label and text metadata area before the first extent. */
export const LVM_METADATA_BYTES = MiB;
const VFAT_LABEL_MAX = 11;
const EXT4_LABEL_MAX = 16;

export const where = (i: number, p: { name: string }): string => `partitions[${i}] (${p.name})`;
const volumeWhere = (i: number, p: LayoutPartition, j: number, name: string) => `${where(i, p)}.lvm.volumes[${j}] (${name})`;

export interface Placement {
  startBytes: number;
  sizeBytes: number;
}

/**
 * Where each partition lands: at its start, else right after the previous one (aligned); "rest"
 * runs to the last aligned byte before the backup GPT. `endBytes` is where the partitions end
 * (a "rest" partition counted at max(minSize, one alignment unit)); the disk needs the backup GPT
 * after that.
 */
export function place(layout: Layout): { partitions: Placement[]; endBytes: number; neededBytes: number; diskBytes: number } {
  const backup = GPT_BACKUP_SECTORS * layout.sectorSize;
  let cursor = GPT_PRIMARY_SECTORS * layout.sectorSize;
  let end = 0;
  const partitions = layout.partitions.map((p) => {
    const startBytes = p.start ?? roundUp(cursor, layout.alignment);
    let sizeBytes: number;
    if (p.size === "rest") {
      const diskEnd = Math.floor(((layout.diskSize ?? 0) - backup) / layout.alignment) * layout.alignment;
      sizeBytes = Math.max(0, diskEnd - startBytes);
      end = Math.max(end, startBytes + Math.max(p.minSize ?? 0, layout.alignment));
    } else {
      sizeBytes = p.size;
      end = Math.max(end, startBytes + sizeBytes);
    }
    cursor = startBytes + sizeBytes;
    return { startBytes, sizeBytes };
  });
  const neededBytes = end + backup;
  return { partitions, endBytes: end, neededBytes, diskBytes: layout.diskSize ?? roundUp(neededBytes, layout.alignment) };
}

// Everything else divides by these, so they are checked first and alone.
function units(l: Layout): string[] {
  const out: string[] = [];
  if (l.alignment % l.sectorSize !== 0) out.push(`alignment: ${fmt(l.alignment)} is not a multiple of the sector size ${l.sectorSize}`);
  if (l.diskSize !== undefined && l.diskSize % l.sectorSize !== 0)
    out.push(`diskSize: ${fmt(l.diskSize)} is not a multiple of the sector size ${l.sectorSize}`);
  return out;
}

// Sizes are exact only up to MAX_BYTES; where partitions end and how large the disk is are sums
// that can pass it, after which every rule below computes with rounded numbers (and formatSize
// refuses them). So these are checked after units() and alone.
function bounds(l: Layout): string[] {
  const out: string[] = [];
  const beyond = `beyond the largest disk icos can lay out (${MAX_BYTES} bytes, about 8P)`;
  const { partitions: placed, diskBytes } = place(l);
  l.partitions.forEach((p, i) => {
    const a = placed[i];
    if (a && a.startBytes + a.sizeBytes > MAX_BYTES) {
      const field = p.start !== undefined && (p.size === "rest" || p.start >= p.size) ? "start" : "size";
      out.push(`${where(i, p)}.${field}: the partition would end at about ${humanSize(a.startBytes + a.sizeBytes)}, ${beyond}`);
    }
    const volumes = p.lvm?.volumes.reduce((sum, v) => sum + v.size, 0) ?? 0;
    if (volumes > MAX_BYTES) out.push(`${where(i, p)}.lvm.volumes: together about ${humanSize(volumes)}, ${beyond}`);
  });
  if (out.length === 0 && diskBytes > MAX_BYTES) out.push(`partitions: with the backup GPT the disk would be about ${humanSize(diskBytes)}, ${beyond}`);
  return out;
}

function uniqueNames(l: Layout): string[] {
  const out: string[] = [];
  const seen = new Map<string, number>();
  l.partitions.forEach((p, i) => {
    const first = seen.get(p.name);
    if (first === undefined) seen.set(p.name, i);
    else out.push(`${where(i, p)}.name: "${p.name}" is already the name of partitions[${first}]`);
    const volumes = new Map<string, number>();
    p.lvm?.volumes.forEach((v, j) => {
      const firstVolume = volumes.get(v.name);
      if (firstVolume === undefined) volumes.set(v.name, j);
      else out.push(`${volumeWhere(i, p, j, v.name)}.name: "${v.name}" is already the name of volumes[${firstVolume}]`);
    });
  });
  return out;
}

function labels(l: Layout): string[] {
  const out: string[] = [];
  const seen = new Map<string, number>();
  l.partitions.forEach((p, i) => {
    if (p.label === undefined) return;
    const at = `${where(i, p)}.label`;
    const first = seen.get(p.label);
    if (first === undefined) seen.set(p.label, i);
    else out.push(`${at}: "${p.label}" is already the label of ${where(first, l.partitions[first] ?? p)}`);
    const max = p.filesystem === "vfat" ? VFAT_LABEL_MAX : p.filesystem === "ext4" ? EXT4_LABEL_MAX : 0;
    const bytes = Buffer.byteLength(p.label);
    if (p.filesystem === "none") out.push(`${at}: a label needs a filesystem, but filesystem is none`);
    else if (bytes > max) out.push(`${at}: "${p.label}" is ${bytes} bytes; ${p.filesystem === "ext4" ? "an" : "a"} ${p.filesystem} label holds at most ${max}`);
  });
  return out;
}

function alignment(l: Layout): string[] {
  const out: string[] = [];
  const unit = fmt(l.alignment);
  l.partitions.forEach((p, i) => {
    for (const field of ["start", "size", "minSize"] as const) {
      const v = p[field];
      if (typeof v === "number" && v % l.alignment !== 0)
        out.push(`${where(i, p)}.${field}: ${fmt(v)} is not a multiple of the alignment ${unit}`);
    }
    if (p.minSize !== undefined && typeof p.size === "number" && p.minSize > p.size)
      out.push(`${where(i, p)}.minSize: ${fmt(p.minSize)} is larger than size ${fmt(p.size)}`);
  });
  return out;
}

function rest(l: Layout): string[] {
  const out: string[] = [];
  l.partitions.forEach((p, i) => {
    if (p.size !== "rest") return;
    if (i !== l.partitions.length - 1) out.push(`${where(i, p)}.size: "rest" is only allowed for the last partition`);
    else if (l.diskSize === undefined) out.push(`${where(i, p)}.size: "rest" needs a fixed diskSize`);
  });
  return out;
}

function lvmBlocks(l: Layout): string[] {
  const out: string[] = [];
  l.partitions.forEach((p, i) => {
    const at = where(i, p);
    if (p.type === "lvm" && !p.lvm) out.push(`${at}.lvm: required for a partition of type lvm`);
    if (p.type !== "lvm" && p.lvm) out.push(`${at}.lvm: only a partition of type lvm has an lvm block (type is ${p.type})`);
    if ((p.type === "lvm") !== (p.contents === "lvm"))
      out.push(`${at}.contents: type lvm and contents lvm go together (type is ${p.type}, contents ${p.contents})`);
    if (p.type === "lvm" && p.filesystem !== "none") out.push(`${at}.filesystem: a partition of type lvm holds no filesystem, got ${p.filesystem}`);
  });
  return out;
}

function lvmVolumes(l: Layout): string[] {
  const out: string[] = [];
  const placed = place(l).partitions;
  l.partitions.forEach((p, i) => {
    if (!p.lvm) return;
    const extent = p.lvm.extentSize;
    if (!Number.isInteger(Math.log2(extent)) || extent < l.sectorSize) {
      out.push(`${where(i, p)}.lvm.extentSize: ${fmt(extent)} is not a power of two of at least ${l.sectorSize} bytes`);
      return;
    }
    p.lvm.volumes.forEach((v, j) => {
      for (const field of ["size", "minSize"] as const) {
        const value = v[field];
        if (value !== undefined && value % extent !== 0)
          out.push(`${volumeWhere(i, p, j, v.name)}.${field}: ${fmt(value)} is not a multiple of the extent size ${fmt(extent)}`);
      }
      if (v.minSize !== undefined && v.minSize > v.size)
        out.push(`${volumeWhere(i, p, j, v.name)}.minSize: ${fmt(v.minSize)} is larger than size ${fmt(v.size)}`);
    });
    if (p.size === "rest" && l.diskSize === undefined) return; // rest() reports it
    const pvBytes = placed[i]?.sizeBytes ?? 0;
    const capacity = Math.floor(Math.max(0, pvBytes - LVM_METADATA_BYTES) / extent) * extent;
    const need = p.lvm.volumes.reduce((sum, v) => sum + roundUp(v.size, extent), 0);
    if (need > capacity)
      out.push(
        `${where(i, p)}.lvm.volumes: the volumes need ${fmt(need)} but the physical volume holds ${fmt(capacity)} ` +
          `(${fmt(pvBytes)} minus ${fmt(LVM_METADATA_BYTES)} of LVM metadata, in whole ${fmt(extent)} extents)`,
      );
  });
  return out;
}

// An upgrade writes the images built for slot A into slot B, so each A member needs a B twin.
function abSets(l: Layout): string[] {
  type Member = { at: string; contents: string; slot?: "A" | "B"; size: number | "rest" };
  const groups: Member[][] = [l.partitions.map((p, i) => ({ ...p, at: where(i, p) }))];
  l.partitions.forEach((p, i) => {
    if (p.lvm) groups.push(p.lvm.volumes.map((v, j) => ({ ...v, at: volumeWhere(i, p, j, v.name) })));
  });
  const out: string[] = [];
  for (const members of groups) {
    for (const [own, other] of [["A", "B"], ["B", "A"]] as const) {
      const twins = members.filter((m) => m.slot === other);
      for (const m of members.filter((m) => m.slot === own)) {
        const twin = twins.find((t) => t.contents === m.contents);
        if (!twin) out.push(`${m.at}.slot: no slot ${other} partner with contents ${m.contents}`);
        else if (own === "B" && twin.size !== m.size)
          out.push(`${m.at}.size: ${show(m.size)} differs from ${show(twin.size)} of its slot A partner ${twin.at}`);
      }
    }
  }
  return out;
}
const show = (size: number | "rest") => (size === "rest" ? "rest" : fmt(size));

function placement(l: Layout): string[] {
  const out: string[] = [];
  const { partitions: placed, endBytes, neededBytes } = place(l);
  const primaryEnd = GPT_PRIMARY_SECTORS * l.sectorSize;
  l.partitions.forEach((p, i) => {
    const a = placed[i];
    if (!a) return;
    const range = (x: Placement) => `${fmt(x.startBytes)}-${fmt(x.startBytes + x.sizeBytes)}`;
    if (a.startBytes < primaryEnd) out.push(`${where(i, p)}.start: ${fmt(a.startBytes)} overlaps the primary GPT (the first ${GPT_PRIMARY_SECTORS} sectors)`);
    placed.slice(0, i).forEach((b, j) => {
      const q = l.partitions[j];
      if (q && a.startBytes < b.startBytes + b.sizeBytes && b.startBytes < a.startBytes + a.sizeBytes)
        out.push(`${where(i, p)}.start: ${range(a)} overlaps ${where(j, q)} at ${range(b)}`);
    });
  });
  if (l.diskSize !== undefined && l.diskSize < neededBytes)
    out.push(
      `diskSize: ${fmt(l.diskSize)} is too small: the partitions end at ${fmt(endBytes)}, ` +
        `and the backup GPT needs ${GPT_BACKUP_SECTORS} sectors after them`,
    );
  return out;
}

const RULES = [uniqueNames, labels, alignment, rest, lvmBlocks, lvmVolumes, abSets, placement];

/** Every cross-field problem of a schema-valid layout; empty when it is fine. */
export function layoutProblems(layout: Layout): string[] {
  for (const first of [units, bounds]) {
    const problems = first(layout);
    if (problems.length > 0) return problems;
  }
  return RULES.flatMap((rule) => rule(layout));
}
