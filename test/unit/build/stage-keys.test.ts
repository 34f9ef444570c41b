// Each stage's cache key: which input changes it (a rebuild) and which does not (a hit). The key is
// what `stageDigest` hashes with the stage's name, version and tool versions.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { digestOf } from "../../../src/build/digest.ts";
import type { Stage } from "../../../src/build/stage.ts";
import { artifactsStage, type ArtifactsInput } from "../../../src/build/stages/artifacts.ts";
import { bootloaderInput, bootloaderStage } from "../../../src/build/stages/bootloader.ts";
import { bootstrapStage } from "../../../src/build/stages/bootstrap.ts";
import { diskStage, type DiskInput } from "../../../src/build/stages/disk.ts";
import { imageStage, type ImageInput } from "../../../src/build/stages/image.ts";
import { rootfsStage, type RootfsInput } from "../../../src/build/stages/rootfs.ts";
import { loadBootCycleTable } from "../../../src/model/boot-cycle.ts";
import { deviceContract } from "../../../src/model/device-contract.ts";
import { loadLayout, resolveLayout } from "../../../src/model/layout.ts";
import { loadOs } from "../../../src/model/os.ts";
import { IC_OS_DIR } from "../../../src/paths.ts";

const os = loadOs(join(IC_OS_DIR, "guestos", "os.yaml"));
const target = (variant: string) => ({ os, variant, id: `guestos/${variant}` });
const layout = resolveLayout(loadLayout(join(IC_OS_DIR, "guestos", "layout.yaml")), { scale: 1 / 64 });
const contract = deviceContract(layout, loadBootCycleTable());
const key = <In>(stage: Stage<In, unknown>, input: In) => digestOf(stage.key(input));

/** `base` keeps its key under every `same` change and gets a new one under every `changes` change. */
function checkKey<In>(stage: Stage<In, unknown>, base: In, cases: { changes: Record<string, (i: In) => In>; same: Record<string, (i: In) => In> }) {
  const k = key(stage, base);
  for (const [what, f] of Object.entries(cases.changes)) assert.notEqual(key(stage, f(base)), k, `${stage.name}: ${what} must change the key`);
  for (const [what, f] of Object.entries(cases.same)) assert.equal(key(stage, f(base)), k, `${stage.name}: ${what} must not change the key`);
}

test("bootstrap: the bootstrap settings and the timestamp; not the OS's variants", () => {
  checkKey(bootstrapStage, os, {
    changes: { suite: (o) => ({ ...o, bootstrap: { ...o.bootstrap, suite: "trixie" } }), "a package": (o) => ({ ...o, bootstrap: { ...o.bootstrap, include: [...o.bootstrap.include, "vim"] } }), sourceDateEpoch: (o) => ({ ...o, sourceDateEpoch: 1 }) },
    same: { variants: (o) => ({ ...o, variants: {} }), components: (o) => ({ ...o, components: [] }), "its folder": (o) => ({ ...o, dir: "/elsewhere" }) },
  });
});

test("image: the base, the context's digest, the variant's Dockerfile target and build args; not where the context sits", () => {
  const base: ImageInput = { target: target("dev"), baseImage: "sha256:1", context: "/tmp/a/context", contextDigest: "c1" };
  checkKey(imageStage, base, {
    changes: { base: (i) => ({ ...i, baseImage: "sha256:2" }), context: (i) => ({ ...i, contextDigest: "c2" }), "variant (prod's target)": (i) => ({ ...i, target: target("prod") }), "build args (dev-sev)": (i) => ({ ...i, target: target("dev-sev") }) },
    same: { "context path": (i) => ({ ...i, context: "/tmp/b/context" }) },
  });
});

test("rootfs: the image, sizes, version, trust, target and the device contract", () => {
  const base: RootfsInput = { target: target("dev"), imageId: "sha256:1", componentsDigest: "k1", contract, bootBytes: 1 << 27, rootBytes: 1 << 30, version: "1.0.0", trust: { keys: [], unsigned: true } };
  checkKey(rootfsStage, base, {
    changes: {
      image: (i) => ({ ...i, imageId: "sha256:2" }),
      "the components laid in": (i) => ({ ...i, componentsDigest: "k2" }),
      "root size": (i) => ({ ...i, rootBytes: 2 << 30 }),
      version: (i) => ({ ...i, version: "1.0.1" }),
      "unsigned policy": (i) => ({ ...i, trust: { ...i.trust, unsigned: false } }),
      "a trusted key": (i) => ({ ...i, trust: { ...i.trust, keys: [{ fingerprint: "ab".repeat(32), pem: "-----BEGIN PUBLIC KEY-----\n" }] as RootfsInput["trust"]["keys"] } }),
      target: (i) => ({ ...i, target: target("dev-sev") }),
      "the contract": (i) => ({ ...i, contract: { ...i.contract, switchCycles: [] } }),
      "kernel args": (i) => ({ ...i, target: { ...i.target, os: { ...os, kernelArgs: "quiet" } } }),
    },
    same: { "the layout's var size (not in the contract)": (i) => ({ ...i, contract: deviceContract(resolveLayout(loadLayout(join(IC_OS_DIR, "guestos", "layout.yaml")), { scale: 1 / 32 }), loadBootCycleTable()) }) },
  });
});

test("bootloader: partition sizes, the rendered GRUB files and the OS name; not the root filesystem", async () => {
  const base = await bootloaderInput({ osName: "guestos", sourceDateEpoch: 1, contract, espName: "esp", espBytes: 1 << 25, grubBytes: 1 << 25 });
  checkKey(bootloaderStage, base, {
    changes: { "grub size": (i) => ({ ...i, grubBytes: 1 << 26 }), "grub.cfg": (i) => ({ ...i, files: { ...i.files, grubCfg: i.files.grubCfg + "\n" } }), "OS name (volume IDs)": (i) => ({ ...i, osName: "other" }) },
    same: { "the contract object (only the rendered files count)": (i) => ({ ...i, contract: { ...i.contract, updateImageMembers: [] } }) },
  });
});

test("disk: the GPT and the digest of what fills each partition; not the paths or the recorded block digests", () => {
  const base: DiskInput = { subject: "x", layout, fill: { 1: { source: "/a/esp.img", blockSha256: "s1", digest: "d1:esp.img" }, 4: { source: "/a/boot.img", blockSha256: "s4", digest: "d4:boot.img" } } };
  checkKey(diskStage, base, {
    changes: {
      "a partition's source digest": (i) => ({ ...i, fill: { ...i.fill, 4: { ...i.fill[4]!, digest: "d5:boot.img" } } }),
      "another partition filled (the B set, an embedded target)": (i) => ({ ...i, fill: { ...i.fill, 7: i.fill[4]! } }),
      layout: (i) => ({ ...i, layout: resolveLayout(loadLayout(join(IC_OS_DIR, "guestos", "layout.yaml")), { scale: 1 / 32 }) }),
    },
    same: { "source paths": (i) => ({ ...i, fill: { ...i.fill, 4: { ...i.fill[4]!, source: "/b/boot.img" } } }), subject: (i) => ({ ...i, subject: "y" }) },
  });
});

test("artifacts: the disk and slot digests, version, target and signer; not the paths", () => {
  const base: ArtifactsInput = { subject: "x", disk: { img: "/a/disk.img", digest: "d" }, slot: { bootImg: "/a/boot.img", rootImg: "/a/root.img", digest: "r" }, version: "1.0.0", sourceDateEpoch: 1, target: "guestos/dev", osName: "guestos" };
  checkKey(artifactsStage, base, {
    changes: {
      disk: (i) => ({ ...i, disk: { ...i.disk, digest: "e" } }),
      "no update images": (i) => ({ ...i, slot: undefined }),
      version: (i) => ({ ...i, version: "2" }),
      "OS (verity salt)": (i) => ({ ...i, osName: "hostos" }),
      target: (i) => ({ ...i, target: "guestos/prod" }),
      signer: (i) => ({ ...i, signing: { fingerprint: "f" } as ArtifactsInput["signing"] }),
    },
    same: { paths: (i) => ({ ...i, disk: { ...i.disk, img: "/b/disk.img" }, slot: { ...i.slot!, bootImg: "/b/boot.img" } }) },
  });
});
