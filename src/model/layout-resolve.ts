// A layout in sectors: where each partition (and LVM volume) lands and how large the disk is,
// optionally scaled down for test images. Re-exported by layout.ts, which owns the schema.
import { UserError, ValidationError } from "../errors.ts";
import { nameGuid } from "../formats/guid.ts";
import type { Contents, Filesystem, Layout, LayoutPartition, PartitionType } from "./layout.ts";
import { layoutProblems, LVM_METADATA_BYTES, place } from "./layout-rules.ts";
import { roundUp } from "./size.ts";

export interface ResolvedVolume {
  name: string;
  contents: Contents;
  filesystem: Filesystem;
  slot?: "A" | "B";
  mountPoint?: string;
  /** First extent of the volume (volumes are laid out in order, one segment each). */
  startExtent: number;
  extents: number;
  sizeBytes: number;
}

export interface ResolvedLvm {
  vg: string;
  extentSizeBytes: number;
  /** Offset of the first extent inside the partition (after the LVM label and metadata). */
  peStartBytes: number;
  /** Extents the physical volume holds. */
  pvExtents: number;
  volumes: ResolvedVolume[];
}

export interface ResolvedPartition {
  /** 1-based GPT slot. */
  index: number;
  name: string;
  type: PartitionType;
  startLba: number;
  sizeLba: number;
  startBytes: number;
  sizeBytes: number;
  filesystem: Filesystem;
  label?: string;
  contents: Contents;
  slot?: "A" | "B";
  mountPoint?: string;
  /** The GPT unique partition GUID (name-based: layout name + partition name). The GPT and the
   * kernel command line (root=PARTUUID=) both read it from here, so they cannot disagree. */
  partGuid: string;
  lvm?: ResolvedLvm;
}

export interface ResolvedLayout {
  name: string;
  sectorSize: number;
  alignmentBytes: number;
  /** The scale the sizes were multiplied by (1 = real sizes). */
  scale: number;
  /** The GPT disk GUID (name-based). */
  diskGuid: string;
  sizeBytes: number;
  sizeLba: number;
  partitions: ResolvedPartition[];
}

/**
 * Shrinks a valid layout for test images: each size, start and fixed diskSize is multiplied by
 * `scale` (e.g. 1/64) and rounded UP to the alignment (LVM volumes: to the extent size), never
 * below minSize or one unit. An lvm partition, and a fixed disk, grow to hold their scaled
 * contents; everything else that no longer fits is left for validation to report.
 */
export function scaleLayout(layout: Layout, scale: number): Layout {
  // Only down: a factor above 1 could take sizes past MAX_BYTES.
  if (!(scale > 0 && scale <= 1)) throw new UserError(`scale must be a number in (0, 1], such as 1/64; got ${scale}`);
  const shrink = (bytes: number, unit: number, min = 0) => Math.max(roundUp(Math.ceil(bytes * scale), unit), min, unit);
  const a = layout.alignment;
  const partitions = layout.partitions.map((p): LayoutPartition => {
    const out: LayoutPartition = { ...p, size: p.size === "rest" ? "rest" : shrink(p.size, a, p.minSize) };
    if (p.start !== undefined) out.start = roundUp(Math.ceil(p.start * scale), a);
    if (p.lvm) {
      const extent = p.lvm.extentSize;
      const volumes = p.lvm.volumes.map((v) => ({ ...v, size: shrink(v.size, extent, v.minSize) }));
      out.lvm = { ...p.lvm, volumes };
      const pvNeeds = roundUp(LVM_METADATA_BYTES + volumes.reduce((sum, v) => sum + v.size, 0), a);
      // A "rest" PV gets its room from the disk, which grows to at least its minSize (see place()).
      if (out.size === "rest") out.minSize = Math.max(out.minSize ?? 0, pvNeeds);
      else out.size = Math.max(out.size, pvNeeds);
    }
    return out;
  });
  const scaled: Layout = { ...layout, partitions, diskSize: undefined };
  if (layout.diskSize !== undefined)
    scaled.diskSize = Math.max(roundUp(Math.ceil(layout.diskSize * scale), a), roundUp(place(scaled).neededBytes, a));
  return scaled;
}

/**
 * Sizes to sectors: where each partition starts and ends, and how large the disk is (the end of
 * the last partition plus the backup GPT, rounded up to the alignment, unless diskSize is fixed).
 * Validates first, and again after scaling; throws a ValidationError.
 */
export function resolveLayout(layout: Layout, opts: { scale?: number; file?: string } = {}): ResolvedLayout {
  const source = opts.file ?? `layout "${layout.name}"`;
  const check = (l: Layout, what: string) => {
    const problems = layoutProblems(l);
    if (problems.length > 0) throw new ValidationError(what, problems);
  };
  check(layout, source);
  const scale = opts.scale ?? 1;
  const scaled = scale === 1 ? layout : scaleLayout(layout, scale);
  if (scaled !== layout) check(scaled, `${source} scaled by ${Number.isInteger(1 / scale) ? `1/${1 / scale}` : scale}`);
  const sector = scaled.sectorSize;
  const { partitions: placed, diskBytes } = place(scaled);
  const partitions = scaled.partitions.map((p, i): ResolvedPartition => {
    const { startBytes, sizeBytes } = placed[i] ?? { startBytes: 0, sizeBytes: 0 };
    const r: ResolvedPartition = {
      index: i + 1,
      name: p.name,
      type: p.type,
      startLba: startBytes / sector,
      sizeLba: sizeBytes / sector,
      startBytes,
      sizeBytes,
      filesystem: p.filesystem,
      contents: p.contents,
      partGuid: nameGuid(scaled.name, p.name),
    };
    if (p.mountPoint !== undefined) r.mountPoint = p.mountPoint;
    if (p.label !== undefined) r.label = p.label;
    if (p.slot !== undefined) r.slot = p.slot;
    if (p.lvm) r.lvm = resolveLvm(p.lvm, sizeBytes);
    return r;
  });
  return { name: scaled.name, sectorSize: sector, alignmentBytes: scaled.alignment, scale, diskGuid: nameGuid(scaled.name, "disk"), sizeBytes: diskBytes, sizeLba: diskBytes / sector, partitions };
}

function resolveLvm(lvm: NonNullable<LayoutPartition["lvm"]>, pvBytes: number): ResolvedLvm {
  const extent = lvm.extentSize;
  let next = 0;
  const volumes = lvm.volumes.map((v): ResolvedVolume => {
    const extents = v.size / extent;
    const r: ResolvedVolume = { name: v.name, contents: v.contents, filesystem: v.filesystem, startExtent: next, extents, sizeBytes: v.size };
    if (v.slot !== undefined) r.slot = v.slot;
    if (v.mountPoint !== undefined) r.mountPoint = v.mountPoint;
    next += extents;
    return r;
  });
  const pvExtents = Math.floor((pvBytes - LVM_METADATA_BYTES) / extent);
  return { vg: lvm.vg, extentSizeBytes: extent, peStartBytes: LVM_METADATA_BYTES, pvExtents, volumes };
}
