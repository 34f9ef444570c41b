// The disk layout of an image: a YAML file (ic-os/<os>/layout.yaml) checked in three steps, as
// LinuxKit does: the schema below (types, defaults, descriptions in one place), then the
// cross-field rules in layout-rules.ts, then resolveLayout turns sizes into sectors.
import { z } from "zod";
import { ValidationError } from "../errors.ts";
import { expected, oneOf, parseYaml, readYamlFile, show, strict, zodProblems } from "./data-file.ts";
import { layoutProblems } from "./layout-rules.ts";
import { checkSize } from "./size.ts";

export { resolveLayout, scaleLayout } from "./layout-resolve.ts";
export type { ResolvedLayout, ResolvedLvm, ResolvedPartition, ResolvedVolume } from "./layout-resolve.ts";

export const SECTOR_SIZE = 512;
export const PARTITION_TYPES = ["esp", "linux", "lvm", "msdata"] as const;
export const FILESYSTEMS = ["vfat", "ext4", "none"] as const;
export const CONTENTS = ["esp", "grub", "config", "boot", "root", "var", "data", "empty", "lvm", "guestos"] as const;
export const SLOTS = ["A", "B"] as const;
/** GPT stores names as 36 UTF-16 code units (72 bytes). */
export const GPT_NAME_MAX = 36;

// A size field: a string ("512M") only, since a bare YAML number (512) is ambiguous.
const sizeText = z.string({ error: (iss) => (iss.input === undefined ? "required" : sizeMessage(iss.input)) });
function sizeMessage(input: unknown): string {
  const r = checkSize(input);
  return r.ok ? "" : r.message;
}
function toBytes(s: string, ctx: z.core.$RefinementCtx<string>): number {
  const r = checkSize(s);
  if (r.ok) return r.bytes;
  ctx.issues.push({ code: "custom", message: r.message, input: s });
  return z.NEVER;
}
const size = sizeText.transform(toBytes);
const positiveSize = size.refine((b) => b > 0, "must be larger than 0");
const partitionSize = sizeText
  .transform((s, ctx) => (s === "rest" ? ("rest" as const) : toBytes(s, ctx)))
  .refine((b) => b === "rest" || b > 0, "must be larger than 0");

const LVM_NAME = /^[A-Za-z0-9+_.][A-Za-z0-9+_.-]{0,126}$/;
const lvmName = z.string({ error: expected("an LVM name") }).regex(LVM_NAME, {
  error: (iss) => `expected an LVM name (letters, digits, + _ . -; at most 127), got ${show(iss.input)}`,
});
const contents = z.enum(CONTENTS, { error: oneOf(CONTENTS) });
const filesystem = z.enum(FILESYSTEMS, { error: oneOf(FILESYSTEMS) });
const slot = z.enum(SLOTS, { error: oneOf(SLOTS) });
const mountPoint = z
  .string({ error: expected("an absolute path") })
  .regex(/^(\/[A-Za-z0-9._-]+)+$/, { error: (iss) => `expected an absolute path such as /boot/config, got ${show(iss.input)}` })
  .describe("where the running system mounts it (the device contract tells the boot scripts)");

export const lvmVolumeSchema = strict(
  {
    name: lvmName.describe("logical volume name, e.g. A_root (the device is /dev/<vg>/<name>)"),
    size: positiveSize.describe('size, e.g. "10G"; a multiple of the extent size'),
    minSize: size.optional().describe("floor when tests scale the layout down"),
    contents: contents.describe("what fills the volume"),
    filesystem: filesystem.default("none").describe("filesystem the build makes; none = raw or made on first boot"),
    slot: slot.optional().describe("A or B, for volumes of an A/B set"),
    mountPoint: mountPoint.optional(),
  },
  "a volume mapping",
);

export const lvmSchema = strict(
  {
    vg: lvmName.describe("volume group name, e.g. hostlvm"),
    extentSize: positiveSize.prefault("4M").describe("LVM physical extent size; a power of two"),
    volumes: z.array(lvmVolumeSchema, { error: expected("a list of volumes") }).min(1, "needs at least one volume").describe("logical volumes, laid out in this order"),
  },
  "an lvm mapping",
);

export const partitionSchema = strict(
  {
    name: z
      .string({ error: expected("a GPT partition name") })
      .min(1, "must not be empty")
      .refine((s) => s.length <= GPT_NAME_MAX, {
        error: (iss) => `GPT names hold at most ${GPT_NAME_MAX} characters, got ${String(iss.input).length}`,
      })
      .describe("GPT partition name, e.g. A_root"),
    type: z.enum(PARTITION_TYPES, { error: oneOf(PARTITION_TYPES) }).describe("GPT partition type (mapped to a type GUID)"),
    size: partitionSize.describe('size, e.g. "10G"; "rest" = to the end of a fixed diskSize (last partition only)'),
    start: size.optional().describe("explicit start; by default right after the previous partition"),
    minSize: size.optional().describe("floor when tests scale the layout down"),
    filesystem: filesystem.default("none").describe("filesystem the build makes; none = raw or made on first boot"),
    label: z.string({ error: expected("a filesystem label") }).min(1, "must not be empty").optional().describe("filesystem label"),
    contents: contents.describe("what fills the partition"),
    slot: slot.optional().describe("A or B, for partitions of an A/B set"),
    mountPoint: mountPoint.optional(),
    lvm: lvmSchema.optional().describe("the volume group on this partition (type lvm only)"),
  },
  "a partition mapping",
);

export const layoutSchema = strict(
  {
    name: z
      .string({ error: expected("an image name") })
      .regex(/^[a-z0-9][a-z0-9-]*$/, { error: (iss) => `expected a lower-case name like "guestos", got ${show(iss.input)}` })
      .describe("the image this layout is for, e.g. guestos"),
    sectorSize: z.literal(SECTOR_SIZE, { error: expected(String(SECTOR_SIZE)) }).default(SECTOR_SIZE).describe("logical sector size in bytes; only 512 for now"),
    alignment: positiveSize.prefault("1M").describe("partitions start and end on multiples of this"),
    diskSize: size.optional().describe("fixed disk size; by default just large enough for the partitions"),
    partitions: z
      .array(partitionSchema, { error: expected("a list of partitions") })
      .min(1, "needs at least one partition")
      .max(128, "GPT holds at most 128 partitions")
      .describe("partitions in GPT order (the first is partition 1)"),
  },
  "a layout mapping",
);

export type Layout = z.output<typeof layoutSchema>;
export type LayoutPartition = Layout["partitions"][number];
export type LvmVolume = z.output<typeof lvmVolumeSchema>;
export type PartitionType = (typeof PARTITION_TYPES)[number];
export type Filesystem = (typeof FILESYSTEMS)[number];
export type Contents = (typeof CONTENTS)[number];

export type LayoutResult = { ok: true; layout: Layout } | { ok: false; problems: string[] };

/** Schema, then cross-field rules; problems as `path: message`, never throws. */
export function parseLayout(data: unknown): LayoutResult {
  const r = layoutSchema.safeParse(data, { reportInput: true });
  if (!r.success) return { ok: false, problems: zodProblems(r.error, data) };
  const problems = layoutProblems(r.data);
  return problems.length > 0 ? { ok: false, problems } : { ok: true, layout: r.data };
}

/** Like parseLayout, but throws a ValidationError naming `file`. */
export function validateLayout(data: unknown, file: string): Layout {
  const r = parseLayout(data);
  if (!r.ok) throw new ValidationError(file, r.problems);
  return r.layout;
}

/** Parses YAML text; syntax errors come back as `file:line:col: message`, all of them. */
export function parseLayoutYaml(text: string, file: string): Layout {
  return validateLayout(parseYaml(text, file), file);
}

/** Reads and validates a layout file (ic-os/<os>/layout.yaml). */
export function loadLayout(file: string): Layout {
  return validateLayout(readYamlFile(file, "layout file"), file);
}
