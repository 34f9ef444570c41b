import assert from "node:assert/strict";
import { nameGuid } from "../../../src/formats/guid.ts";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { z } from "zod";
import { UserError, ValidationError } from "../../../src/errors.ts";
import { type Layout, layoutSchema, loadLayout, parseLayout, type ResolvedLayout, resolveLayout, scaleLayout, validateLayout } from "../../../src/model/layout.ts";
import { GiB, MiB } from "../../../src/model/size.ts";

const dir = mkdtempSync(join(tmpdir(), "icos-layout-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let count = 0;
function write(yaml: string): string {
  const file = join(dir, `layout-${count++}.yaml`);
  writeFileSync(file, yaml);
  return file;
}

/** Loads YAML text from a temp file and returns the problems of the ValidationError it must throw. */
function problemsOf(yaml: string): string[] {
  const file = write(yaml);
  try {
    loadLayout(file);
  } catch (e) {
    assert.ok(e instanceof ValidationError, `expected a ValidationError, got ${String(e)}`);
    assert.equal(e.file, file);
    return e.problems;
  }
  return assert.fail("expected a ValidationError");
}

const ESP = "  - { name: esp, type: esp, size: 100M, filesystem: vfat, contents: esp }\n";
const ROOT = "  - { name: root, type: linux, size: 1G, filesystem: ext4, contents: root }\n";
/** A small valid layout with the given partition lines (flow mappings) and top-level lines. */
const yaml = (partitions: string, top = "") => `name: test\n${top}partitions:\n${partitions}`;
const LVM = (volumes: string, extra = "") =>
  `  - { name: pv, type: lvm, size: 100M, contents: lvm, ${extra}lvm: { vg: vg0, volumes: [${volumes}] } }\n`;

// Each invalid input and exactly the problems it must produce.
const INVALID: [string, string, string[]][] = [
  // schema
  ["size as a bare number", yaml(ESP + "  - { name: root, type: linux, size: 512, contents: root }\n"), [`partitions[1] (root).size: expected a size like "512M", got 512`]],
  ["size garbage", yaml(ESP.replace("100M", "lots")), [`partitions[0] (esp).size: expected a size like "512M", got "lots"`]],
  ["negative size", yaml(ESP.replace("100M", "-1G")), [`partitions[0] (esp).size: expected a size like "512M", got "-1G" (sizes cannot be negative)`]],
  ["fractional bytes", yaml(ESP.replace("100M", `"0.3K"`)), [`partitions[0] (esp).size: expected a size like "512M", got "0.3K" (not a whole number of bytes)`]],
  ["unknown suffix", yaml(ESP.replace("100M", "100MB")), [`partitions[0] (esp).size: expected a size like "512M", got "100MB" (unknown suffix "MB"; use K, M, G or T (powers of 1024), or none for bytes)`]],
  ["zero size", yaml(ESP.replace("100M", `"0"`)), [`partitions[0] (esp).size: must be larger than 0`]],
  ["unknown type", yaml(ROOT.replace("type: linux", "type: ext4")), [`partitions[0] (root).type: expected one of esp, linux, lvm, msdata, got "ext4"`]],
  [
    "misspelt partition key",
    yaml(ROOT.replace("size:", "sise:")),
    [
      `partitions[0] (root).size: required`,
      `partitions[0] (root).sise: unknown key (valid keys: name, type, size, start, minSize, filesystem, label, contents, slot, mountPoint, lvm)`,
    ],
  ],
  ["misspelt top-level key", yaml(ESP, "alignmnet: 1M\n"), [`alignmnet: unknown key (valid keys: name, sectorSize, alignment, diskSize, partitions)`]],
  ["missing name", `partitions:\n${ESP}`, [`name: required`]],
  ["bad image name", yaml(ESP).replace("name: test", "name: Guest OS"), [`name: expected a lower-case name like "guestos", got "Guest OS"`]],
  ["sector size", yaml(ESP, "sectorSize: 4096\n"), [`sectorSize: expected 512, got 4096`]],
  ["unknown filesystem", yaml(ROOT.replace("ext4", "btrfs")), [`partitions[0] (root).filesystem: expected one of vfat, ext4, none, got "btrfs"`]],
  ["unknown slot", yaml(ROOT.replace("contents: root", "contents: root, slot: C")), [`partitions[0] (root).slot: expected one of A, B, got "C"`]],
  ["unknown contents", yaml(ROOT.replace("contents: root", "contents: rootfs")), [`partitions[0] (root).contents: expected one of esp, grub, config, boot, root, var, data, empty, lvm, guestos, got "rootfs"`]],
  ["GPT name too long", yaml(ROOT.replace("name: root", `name: ${"r".repeat(37)}`)), [`partitions[0] (${"r".repeat(37)}).name: GPT names hold at most 36 characters, got 37`]],
  ["no partitions", yaml("  []\n").replace(":\n  []", ": []"), [`partitions: needs at least one partition`]],
  ["partitions not a list", "name: test\npartitions: { esp: 100M }\n", [`partitions: expected a list of partitions, got {"esp":"100M"}`]],
  ["not a mapping", "- esp\n- root\n", [`(top level): expected a layout mapping, got ["esp","root"]`]],
  ["empty file", "", [`(top level): expected a layout mapping, got null`]],
  ["bad LVM name", yaml(LVM(`{ name: "a b", size: 8M, contents: root }`)), [`partitions[0] (pv).lvm.volumes[0] (a b).name: expected an LVM name (letters, digits, + _ . -; at most 127), got "a b"`]],
  ["no volumes", yaml(LVM("")), [`partitions[0] (pv).lvm.volumes: needs at least one volume`]],
  // cross-field rules
  ["duplicate names", yaml(ESP + ROOT.replace("name: root", "name: esp")), [`partitions[1] (esp).name: "esp" is already the name of partitions[0]`]],
  [
    "duplicate labels",
    yaml(ROOT.replace("ext4,", "ext4, label: ROOT,") + ROOT.replace("name: root", "name: root2").replace("ext4,", "ext4, label: ROOT,")),
    [`partitions[1] (root2).label: "ROOT" is already the label of partitions[0] (root)`],
  ],
  ["misaligned size", yaml(ESP + ROOT.replace("1G", "1000K")), [`partitions[1] (root).size: 1000K is not a multiple of the alignment 1M`]],
  ["misaligned start", yaml(ESP.replace("size: 100M", "start: 1536K, size: 100M")), [`partitions[0] (esp).start: 1.5M is not a multiple of the alignment 1M`]],
  [
    "overlapping explicit starts",
    yaml(ESP.replace("size:", "start: 1M, size:") + ROOT.replace("size:", "start: 50M, size:")),
    [`partitions[1] (root).start: 50M-1074M overlaps partitions[0] (esp) at 1M-101M`],
  ],
  ["start in the primary GPT", yaml(ESP.replace("size:", `start: "0", size:`)), [`partitions[0] (esp).start: 0 overlaps the primary GPT (the first 34 sectors)`]],
  ["disk too small", yaml(ESP + ROOT, "diskSize: 1G\n"), [`diskSize: 1G is too small: the partitions end at 1125M, and the backup GPT needs 33 sectors after them`]],
  ["rest not last", yaml(ESP.replace("100M", "rest") + ROOT), [`partitions[0] (esp).size: "rest" is only allowed for the last partition`]],
  ["rest without diskSize", yaml(ESP + ROOT.replace("1G", "rest")), [`partitions[1] (root).size: "rest" needs a fixed diskSize`]],
  ["lvm type without lvm block", yaml("  - { name: pv, type: lvm, size: 100M, contents: lvm }\n"), [`partitions[0] (pv).lvm: required for a partition of type lvm`]],
  [
    "lvm block on a linux partition",
    yaml(LVM(`{ name: a, size: 8M, contents: root }`).replace("type: lvm", "type: linux")),
    [`partitions[0] (pv).lvm: only a partition of type lvm has an lvm block (type is linux)`, `partitions[0] (pv).contents: type lvm and contents lvm go together (type is linux, contents lvm)`],
  ],
  ["filesystem on lvm", yaml(LVM(`{ name: a, size: 8M, contents: root }`, "filesystem: ext4, ")), [`partitions[0] (pv).filesystem: a partition of type lvm holds no filesystem, got ext4`]],
  [
    "volumes larger than the PV",
    yaml(LVM(`{ name: a, size: 64M, contents: root }, { name: b, size: 36M, contents: var }`)),
    [`partitions[0] (pv).lvm.volumes: the volumes need 100M but the physical volume holds 96M (100M minus 1M of LVM metadata, in whole 4M extents)`],
  ],
  ["volume not in extents", yaml(LVM(`{ name: a, size: 10M, contents: root }`)), [`partitions[0] (pv).lvm.volumes[0] (a).size: 10M is not a multiple of the extent size 4M`]],
  ["extent size not a power of two", yaml(LVM(`{ name: a, size: 12M, contents: root }`, "").replace("vg: vg0,", "vg: vg0, extentSize: 3M,")), [`partitions[0] (pv).lvm.extentSize: 3M is not a power of two of at least 512 bytes`]],
  [
    "duplicate volume names",
    yaml(LVM(`{ name: a, size: 8M, contents: root }, { name: a, size: 8M, contents: var }`)),
    [`partitions[0] (pv).lvm.volumes[1] (a).name: "a" is already the name of volumes[0]`],
  ],
  ["vfat label too long", yaml(ESP.replace("vfat,", "vfat, label: EFISYSTEMPART,")), [`partitions[0] (esp).label: "EFISYSTEMPART" is 13 bytes; a vfat label holds at most 11`]],
  ["ext4 label too long", yaml(ROOT.replace("ext4,", "ext4, label: root-filesystem-A1,")), [`partitions[0] (root).label: "root-filesystem-A1" is 18 bytes; an ext4 label holds at most 16`]],
  ["label without filesystem", yaml(ROOT.replace("ext4,", "none, label: ROOT,")), [`partitions[0] (root).label: a label needs a filesystem, but filesystem is none`]],
  ["minSize above size", yaml(ROOT.replace("1G,", "1G, minSize: 2G,")), [`partitions[0] (root).minSize: 2G is larger than size 1G`]],
  ["minSize misaligned", yaml(ROOT.replace("1G,", "1G, minSize: 1536K,")), [`partitions[0] (root).minSize: 1.5M is not a multiple of the alignment 1M`]],
  ["A without B", yaml(ROOT.replace("contents: root", "contents: root, slot: A")), [`partitions[0] (root).slot: no slot B partner with contents root`]],
  [
    "B size differs from A",
    yaml(ROOT.replace("name: root", "name: A_root").replace("contents: root", "contents: root, slot: A") + ROOT.replace("name: root", "name: B_root").replace("1G", "2G").replace("contents: root", "contents: root, slot: B")),
    [`partitions[1] (B_root).size: 2G differs from 1G of its slot A partner partitions[0] (A_root)`],
  ],
  ["alignment not in sectors", yaml(ESP, "alignment: \"1000\"\n"), [`alignment: 1000 is not a multiple of the sector size 512`]],
  ["diskSize not in sectors", yaml(ESP, "diskSize: \"1000000100\"\n"), [`diskSize: 1000000100 is not a multiple of the sector size 512`]],
];

describe("layout validation", () => {
  for (const [name, text, expected] of INVALID) {
    it(`reports ${name}`, () => assert.deepEqual(problemsOf(text), expected));
  }

  it("reports every schema problem of a file at once", () => {
    const text = yaml(ESP.replace("100M", "512M0") + ROOT.replace("ext4,", "xfs,").replace("linux", "ext4") + "  - { name: var, type: linux, size: 1G }\n", "sectorSize: 4K\n");
    const file = write(text);
    assert.throws(
      () => loadLayout(file),
      (e: unknown) => {
        assert.ok(e instanceof ValidationError);
        assert.deepEqual(e.problems, [
          `sectorSize: expected 512, got "4K"`,
          `partitions[0] (esp).size: expected a size like "512M", got "512M0"`,
          `partitions[1] (root).type: expected one of esp, linux, lvm, msdata, got "ext4"`,
          `partitions[1] (root).filesystem: expected one of vfat, ext4, none, got "xfs"`,
          `partitions[2] (var).contents: required`,
        ]);
        assert.match(e.message, /^.*layout-\d+\.yaml: 5 problems:\n {2}sectorSize: /);
        return true;
      },
    );
  });

  it("reports every cross-field problem of a file at once", () => {
    const text = yaml(ESP.replace("vfat,", "vfat, label: EFISYSTEMPART,") + ROOT.replace("1G", "1000K") + ROOT, "diskSize: 1G\n");
    assert.deepEqual(problemsOf(text), [
      `partitions[2] (root).name: "root" is already the name of partitions[1]`,
      `partitions[0] (esp).label: "EFISYSTEMPART" is 13 bytes; a vfat label holds at most 11`,
      `partitions[1] (root).size: 1000K is not a multiple of the alignment 1M`,
      `diskSize: 1G is too small: the partitions end at 1126M, and the backup GPT needs 33 sectors after them`,
    ]);
  });

  it("names file:line:col for YAML syntax errors", () => {
    const problems = problemsOf("name: test\npartitions:\n  - name: esp\n   type: esp\n");
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? "", /^.*layout-\d+\.yaml:4:1: \S/);
    const dup = problemsOf("name: test\nname: other\npartitions: []\n");
    assert.match(dup[0] ?? "", /^.*layout-\d+\.yaml:2:1: Map keys must be unique/);
  });

  it("reports a missing file as a UserError", () => {
    assert.throws(() => loadLayout(join(dir, "nope.yaml")), (e: unknown) => e instanceof UserError && /cannot read layout file .*nope\.yaml/.test(e.message));
  });

  it("validates data that is not from a file, and fills in defaults", () => {
    const data = { name: "test", partitions: [{ name: "esp", type: "esp", size: "100M", contents: "esp" }] };
    const layout = validateLayout(data, "inline");
    assert.deepEqual(layout, { name: "test", sectorSize: 512, alignment: MiB, partitions: [{ name: "esp", type: "esp", size: 100 * MiB, filesystem: "none", contents: "esp" }] });
    assert.deepEqual(parseLayout({ ...data, name: 1 }), { ok: false, problems: [`name: expected an image name, got 1`] });
  });

  it("describes every field (for generated docs and JSON Schema)", () => {
    const missing: string[] = [];
    const walk = (schema: unknown, at: string) => {
      const s = schema as { properties?: Record<string, { description?: string }>; items?: unknown };
      for (const [key, prop] of Object.entries(s.properties ?? {})) {
        if (!prop.description) missing.push(`${at}.${key}`);
        walk(prop, `${at}.${key}`);
      }
      if (s.items) walk(s.items, `${at}[]`);
    };
    walk(z.toJSONSchema(layoutSchema, { io: "input" }), "layout");
    assert.deepEqual(missing, []);
  });
});

const SHIPPED = new URL("../../../ic-os/", import.meta.url).pathname;
const shipped = readdirSync(SHIPPED, { withFileTypes: true })
  .filter((d) => d.isDirectory() && readdirSync(join(SHIPPED, d.name)).includes("layout.yaml"))
  .map((d) => d.name)
  .sort();

/** Partitions back to back from LBA 2048, all aligned, the disk ending right after the backup GPT. */
function assertContiguous(r: ResolvedLayout): void {
  const align = r.alignmentBytes / r.sectorSize;
  let next = align;
  r.partitions.forEach((p, i) => {
    assert.equal(p.index, i + 1);
    assert.equal(p.startLba, next, `${p.name} starts right after the previous partition`);
    assert.equal(p.startLba % align, 0, `${p.name} start aligned`);
    assert.equal(p.sizeLba % align, 0, `${p.name} size aligned`);
    assert.equal(p.startBytes, p.startLba * r.sectorSize);
    assert.equal(p.sizeBytes, p.sizeLba * r.sectorSize);
    next = p.startLba + p.sizeLba;
  });
  assert.equal(r.sizeLba % align, 0);
  assert.equal(r.sizeLba, Math.ceil((next + 33) / align) * align);
}

/** Every scaled partition and volume is at least its minSize. */
function assertMinSizes(layout: Layout, r: ResolvedLayout): void {
  layout.partitions.forEach((p, i) => {
    const got = r.partitions[i];
    assert.ok(got && got.sizeBytes >= (p.minSize ?? 0), `${p.name} keeps its minSize`);
    p.lvm?.volumes.forEach((v, j) => {
      const volume = got.lvm?.volumes[j];
      assert.ok(volume && volume.sizeBytes >= (v.minSize ?? 0), `${v.name} keeps its minSize`);
      assert.equal(volume.sizeBytes % got.lvm!.extentSizeBytes, 0);
    });
  });
}

describe("shipped layouts", () => {
  it("ships the four IC-OS layouts", () => {
    for (const os of ["boundary-guestos", "guestos", "hostos", "setupos"]) assert.ok(shipped.includes(os), os);
  });

  for (const os of shipped) {
    it(`${os}: loads, resolves contiguous and aligned, and scales by 1/64`, () => {
      const layout = loadLayout(join(SHIPPED, os, "layout.yaml"));
      assert.equal(layout.name, os);
      assertContiguous(resolveLayout(layout));
      const small = resolveLayout(layout, { scale: 1 / 64 });
      assert.equal(small.scale, 1 / 64);
      assertContiguous(small);
      assertMinSizes(layout, small);
    });
  }

  it("guestos: the IC-OS partition table, A_root as partition 5", () => {
    const r = resolveLayout(loadLayout(join(SHIPPED, "guestos", "layout.yaml")));
    assert.deepEqual(
      r.partitions.map((p) => p.name),
      ["esp", "grub", "config", "A_boot", "A_root", "A_var", "B_boot", "B_root", "B_var"],
    );
    const root = r.partitions[4];
    assert.equal(root?.index, 5);
    assert.equal(root.name, "A_root");
    // 1M alignment + esp, grub, config (100M each) + A_boot (1G) = 1325M = LBA 2713600
    assert.equal(root.startLba, 2713600);
    assert.equal(root.sizeBytes, 10 * GiB);
    assert.equal(r.partitions[7]?.name, "B_root");
    assert.equal(r.sizeBytes, 43310 * MiB);
  });

  it("hostos: one LVM partition holding VG hostlvm", () => {
    const r = resolveLayout(loadLayout(join(SHIPPED, "hostos", "layout.yaml")));
    const pv = r.partitions[2];
    assert.equal(pv?.type, "lvm");
    assert.equal(pv.lvm?.vg, "hostlvm");
    assert.equal(pv.lvm.extentSizeBytes, 4 * MiB);
    assert.deepEqual(
      pv.lvm.volumes.map((v) => [v.name, v.sizeBytes / MiB]),
      [["config", 100], ["A_boot", 1024], ["A_root", 10240], ["A_var", 10240], ["B_boot", 1024], ["B_root", 10240], ["B_var", 10240], ["guestos", 51200]],
    );
    const last = pv.lvm.volumes.at(-1)!;
    assert.ok(last.startExtent + last.extents <= pv.lvm.pvExtents);
  });

  it("hostos at 1/64: the guestos volume holds a scaled GuestOS disk", () => {
    const guest = resolveLayout(loadLayout(join(SHIPPED, "guestos", "layout.yaml")), { scale: 1 / 64 });
    const host = resolveLayout(loadLayout(join(SHIPPED, "hostos", "layout.yaml")), { scale: 1 / 64 });
    const volume = host.partitions[2]?.lvm?.volumes.find((v) => v.name === "guestos");
    assert.ok(volume && volume.sizeBytes >= guest.sizeBytes);
  });

  it("setupos: an operator-editable CONFIG partition", () => {
    const r = resolveLayout(loadLayout(join(SHIPPED, "setupos", "layout.yaml")));
    assert.deepEqual(
      r.partitions.map((p) => p.name),
      ["esp", "grub", "config", "data", "boot", "root"],
    );
    assert.deepEqual([r.partitions[2]?.filesystem, r.partitions[2]?.label, r.partitions[2]?.sizeBytes], ["vfat", "CONFIG", 50 * MiB]);
    assert.equal(r.partitions[5]?.sizeBytes, 1792 * MiB);
  });

  it("boundary-guestos: GuestOS with a 200M config partition", () => {
    const r = resolveLayout(loadLayout(join(SHIPPED, "boundary-guestos", "layout.yaml")));
    assert.equal(r.partitions[2]?.name, "config");
    assert.equal(r.partitions[2]?.sizeBytes, 200 * MiB);
    assert.equal(r.partitions.length, 9);
  });
});

describe("resolveLayout", () => {
  const load = (text: string) => loadLayout(write(text));

  it("resolves every field of a partition", () => {
    const r = resolveLayout(load(yaml(ESP.replace("vfat,", "vfat, label: EFI,") + ROOT.replace("root }", "root, slot: A }") + ROOT.replace(/root/g, "b").replace("b }", "root, slot: B }"))));
    assert.deepEqual(r.partitions[0], {
      index: 1,
      name: "esp",
      type: "esp",
      startLba: 2048,
      sizeLba: 204800,
      startBytes: MiB,
      sizeBytes: 100 * MiB,
      filesystem: "vfat",
      label: "EFI",
      contents: "esp",
      // Name-based (UUID v5 of layout and partition name): the same layout always gives the same GUIDs.
      partGuid: nameGuid("test", "esp"),
    });
    assert.equal(r.partitions[1]?.slot, "A");
    assert.equal(r.diskGuid, nameGuid("test", "disk"));
    assert.deepEqual([r.name, r.sectorSize, r.alignmentBytes, r.scale, r.sizeBytes], ["test", 512, MiB, 1, 2150 * MiB]);
  });

  it("honours explicit starts and a fixed disk with a rest partition", () => {
    const r = resolveLayout(load(yaml(ESP.replace("size:", "start: 4M, size:") + ROOT.replace("1G", "rest"), "diskSize: 2G\n")));
    assert.deepEqual(
      r.partitions.map((p) => [p.startBytes / MiB, p.sizeBytes / MiB]),
      [[4, 100], [104, 2048 - 104 - 1]],
    );
    assert.equal(r.sizeBytes, 2 * GiB);
  });

  it("lays out LVM volumes in extents after 1M of metadata", () => {
    const r = resolveLayout(load(yaml(LVM(`{ name: a, size: 8M, contents: root, slot: A }, { name: b, size: 8M, contents: root, slot: B }`))));
    assert.deepEqual(r.partitions[0]?.lvm, {
      vg: "vg0",
      extentSizeBytes: 4 * MiB,
      peStartBytes: MiB,
      pvExtents: 24,
      volumes: [
        { name: "a", contents: "root", filesystem: "none", slot: "A", startExtent: 0, extents: 2, sizeBytes: 8 * MiB },
        { name: "b", contents: "root", filesystem: "none", slot: "B", startExtent: 2, extents: 2, sizeBytes: 8 * MiB },
      ],
    });
  });

  it("validates a layout it is handed", () => {
    const bad = { ...load(yaml(ESP)), diskSize: MiB };
    assert.throws(
      () => resolveLayout(bad),
      (e: unknown) => e instanceof ValidationError && e.file === `layout "test"` && e.problems[0]?.startsWith("diskSize: 1M is too small") === true,
    );
  });
});

describe("scaling", () => {
  const load = (text: string) => loadLayout(write(text));

  it("divides sizes, rounds up to the alignment, keeps minSize and one alignment unit", () => {
    const layout = load(yaml(ESP.replace("100M,", "100M, minSize: 32M,") + ROOT + "  - { name: tiny, type: linux, size: 1M, contents: empty }\n"));
    const r = resolveLayout(layout, { scale: 1 / 64 });
    assert.deepEqual(
      r.partitions.map((p) => p.sizeBytes / MiB),
      [32, 16, 1],
    );
    assert.deepEqual(
      scaleLayout(layout, 1 / 100).partitions.map((p) => p.size),
      [32 * MiB, 11 * MiB, MiB], // 1G / 100 = 10.24M, rounded up to 11M
    );
  });

  it("rounds LVM volumes to extents and grows the PV and a fixed disk to hold them", () => {
    const layout = load(yaml(LVM(`{ name: a, size: 64M, minSize: 40M, contents: root }, { name: b, size: 28M, contents: var }`).replace("contents: lvm", "contents: lvm, minSize: 1M").replace("100M", "rest"), "diskSize: 102M\n"));
    const scaled = scaleLayout(layout, 1 / 64);
    assert.deepEqual(scaled.partitions[0]?.lvm?.volumes.map((v) => v.size / MiB), [40, 4]);
    // the disk grows to hold 1M (before the partition) + 1M metadata + 44M volumes + the backup GPT
    assert.equal(scaled.diskSize, 47 * MiB); // 46M rounded up past the 33 sectors
    const r = resolveLayout(layout, { scale: 1 / 64 });
    assert.equal(r.partitions[0]?.lvm?.pvExtents, 11);
  });

  it("validates the scaled layout again", () => {
    const layout = load(yaml(ESP.replace("size: 100M", "start: 1M, size: 100M, minSize: 64M") + ROOT.replace("size:", "start: 101M, size:")));
    assert.throws(
      () => resolveLayout(layout, { scale: 1 / 64 }),
      (e: unknown) => {
        assert.ok(e instanceof ValidationError);
        assert.equal(e.file, `layout "test" scaled by 1/64`);
        assert.deepEqual(e.problems, [`partitions[1] (root).start: 2M-18M overlaps partitions[0] (esp) at 1M-65M`]);
        return true;
      },
    );
  });

  it("rejects a scale that is not a positive number", () => {
    const layout = load(yaml(ESP));
    for (const scale of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) assert.throws(() => resolveLayout(layout, { scale }), UserError);
  });
});
