// An OS definition: ic-os/<os>/os.yaml (docs/os-definition.md). Data, checked by this schema; the
// build reads everything it needs about an OS from here and from the files it names.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { z } from "zod";
import { ValidationError } from "../errors.ts";
import { IC_OS_DIR } from "../paths.ts";
import { expected, oneOf, readYamlFile, strict, zodProblems } from "./data-file.ts";

/**
 * What kind of image an OS is; src/build/recipes.ts maps each kind to the stages that build it.
 * ab-gpt-disk: a GPT disk with A/B boot+root(+var) partition sets (GuestOS, Boundary-guestOS).
 * ab-lvm-disk: the A/B sets are LVM volumes on one physical volume (HostOS).
 * installer-disk: boots once, embeds other targets' images and installs them (SetupOS).
 */
export const OS_KINDS = ["ab-gpt-disk", "ab-lvm-disk", "installer-disk"] as const;
export type OsKind = (typeof OS_KINDS)[number];

const name = z.string({ error: expected("a name") }).regex(/^[a-z0-9][a-z0-9-]*$/, "expected lower-case letters, digits and '-'");
const str = z.string({ error: expected("a string") });
const strList = z.array(str, { error: expected("a list of strings") });

const unitList = z
  .array(z.string().regex(/^[A-Za-z0-9@._:-]+\.(service|socket|timer|path|target|mount|automount)$/, "expected a systemd unit name such as foo.service"), { error: expected("a list of unit names") })
  .default([]);

export const osSchema = strict(
  {
    name: name.describe("the OS name; also the folder under ic-os/"),
    description: str.optional().describe("one line for humans"),
    kind: z.enum(OS_KINDS, { error: oneOf(OS_KINDS) }).default("ab-gpt-disk").describe("what kind of image this is; picks the build recipe (docs/architecture.md)"),
    layout: str.default("layout.yaml").describe("the layout file, relative to the OS folder"),
    sourceDateEpoch: z.number({ error: expected("seconds since 1970") }).int().nonnegative().describe("every timestamp in the image"),
    bootstrap: strict(
      {
        suite: str.describe("distribution suite, e.g. bookworm (or an Ubuntu suite with its mirror)"),
        mirror: z.url({ error: expected("a URL") }).describe("archive mirror"),
        components: strList.default(["main"]).describe("archive components"),
        variant: z.enum(["minbase", "essential", "apt", "required", "important", "standard"]).default("minbase").describe("mmdebstrap variant"),
        include: strList.default([]).describe("packages in the bootstrap itself"),
        dpkgExclude: strList.default([]).describe("dpkg path-exclude patterns, kept for later installs too"),
        dpkgInclude: strList.default([]).describe("dpkg path-include patterns (exceptions to the excludes)"),
      },
      "a bootstrap section",
    ).describe("the bootstrap stage: the base root filesystem from the archive (mmdebstrap)"),
    bases: z
      .record(name, strList, { error: expected("a map of base flavour to package files") })
      .describe("pinned bases: Dockerfile.base flavours, each a list of package files in context/"),
    variants: z
      .record(
        name,
        strict(
          {
            base: name.describe("which base flavour"),
            target: str.describe("the Dockerfile stage to build (--target)"),
            buildArgs: z.record(str, str).default({}).describe("extra --build-arg values"),
            unsignedUpgrades: z
              .boolean({ error: expected("true or false") })
              .default(false)
              .describe("the image installs update images that no trusted key signed (dev variants; it says so on the console)"),
            layout: str.optional().describe("this variant's layout file, relative to the OS folder (default: the OS's layout)"),
            embed: z
              .record(str, z.string({ error: expected("a target like guestos/dev") }).regex(/^[a-z0-9-]+\/[a-z0-9-]+$/, "expected a target like guestos/dev"))
              .default({})
              .describe("partition name -> another target whose disk.img the build writes into it (built first; its digest is part of the disk's cache key)"),
          },
          "a variant",
        ),
        { error: expected("a map of variant name to settings") },
      )
      .describe("build variants (prod, dev, ...): what the image stage builds, per variant"),
    components: strList
      .default([])
      .describe("folders of ic-os/components/, laid into the root tree after the Dockerfile (their initramfs-tools files also go into its context as initramfs/)"),
    enableUnits: unitList.describe("systemd units enabled after the components are laid in (systemctl --root enable)"),
    maskUnits: unitList.describe("systemd units masked after that (systemctl --root mask): what the image never needs to start"),
    fileModes: z
      .record(z.string().regex(/^\/[^\0]+$/, "expected an absolute path in the image"), z.string().regex(/^0[0-7]{3}$/, 'expected an octal mode such as "0440"'), { error: expected("a map of image path to mode") })
      .default({})
      .describe('modes git cannot record (it keeps only the executable bit), e.g. { /etc/sudoers.d/x: "0440" }'),
    kernelArgs: str.default("").describe("kernel command line; icos adds root= and dfinity.system= (and the verity arguments)"),
    rootVerity: z
      .boolean({ error: expected("true or false") })
      .default(false)
      .describe("seal the root filesystem with dm-verity (hash tree in the root partition past the filesystem; root hash on the kernel command line); the image's initramfs must open it (the verity-root component)"),
  },
  "an OS definition",
);

export type OsDefinition = z.output<typeof osSchema> & { dir: string; file: string };

function crossProblems(os: z.output<typeof osSchema>, dir: string): string[] {
  const problems: string[] = [];
  for (const [v, def] of Object.entries(os.variants)) {
    if (!(def.base in os.bases)) problems.push(`variants.${v}.base: unknown base flavour ${JSON.stringify(def.base)} (defined: ${Object.keys(os.bases).join(", ")})`);
  }
  for (const [b, files] of Object.entries(os.bases)) {
    files.forEach((f, i) => {
      if (!existsSync(join(dir, "context", f))) problems.push(`bases.${b}[${i}]: no such file context/${f}`);
    });
  }
  os.components.forEach((c, i) => {
    if (!existsSync(join(IC_OS_DIR, "components", c))) problems.push(`components[${i}]: no component folder ic-os/components/${c}`);
  });
  if (!existsSync(join(dir, os.layout))) problems.push(`layout: no such file ${os.layout}`);
  for (const [v, def] of Object.entries(os.variants)) {
    if (def.layout !== undefined && !existsSync(join(dir, def.layout))) problems.push(`variants.${v}.layout: no such file ${def.layout}`);
  }
  for (const f of ["Dockerfile.base", "Dockerfile"]) {
    if (!existsSync(join(dir, "context", f))) problems.push(`(context): missing context/${f}`);
  }
  return problems;
}

/** The layout file of one variant of an OS: its own, or the OS's. */
export function layoutFileOf(os: OsDefinition, variant: string): string {
  return join(os.dir, os.variants[variant]?.layout ?? os.layout);
}

export function loadOs(file: string): OsDefinition {
  const data = readYamlFile(file, "OS definition");
  const r = osSchema.safeParse(data, { reportInput: true });
  if (!r.success) throw new ValidationError(file, zodProblems(r.error, data));
  const dir = dirname(file);
  const problems = crossProblems(r.data, dir);
  if (problems.length) throw new ValidationError(file, problems);
  return { ...r.data, dir, file };
}
