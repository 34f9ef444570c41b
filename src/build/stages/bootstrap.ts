// Stage: the distribution's base root filesystem, made by mmdebstrap into a tar.
import { join } from "node:path";
import { run } from "../../exec.ts";
import type { OsDefinition } from "../../model/os.ts";
import type { Stage } from "../stage.ts";

export const bootstrapStage: Stage<OsDefinition, { tar: string }> = {
  name: "bootstrap",
  version: 1,
  tools: ["mmdebstrap"],
  key: (os) => ({ bootstrap: os.bootstrap, sde: os.sourceDateEpoch }),
  subject: (os) => `${os.name} (${os.bootstrap.suite})`,
  async run(dir, os) {
    const b = os.bootstrap;
    const args = [
      `--variant=${b.variant}`,
      "--mode=root",
      "--format=tar",
      `--components=${b.components.join(",")}`,
      "--aptopt=Acquire::Languages \"none\"",
      ...(b.include.length ? [`--include=${b.include.join(",")}`] : []),
      ...b.dpkgExclude.map((p) => `--dpkgopt=path-exclude=${p}`),
      ...b.dpkgInclude.map((p) => `--dpkgopt=path-include=${p}`),
      // Keep the host's hostname and resolver out; machine-id is made on first boot.
      '--customize-hook=echo localhost > "$1/etc/hostname"; rm -f "$1/etc/resolv.conf"; : > "$1/etc/machine-id"',
      b.suite,
      join(dir, "base.tar"),
      `deb ${b.mirror} ${b.suite} ${b.components.join(" ")}`,
    ];
    await run("mmdebstrap", args, { env: { SOURCE_DATE_EPOCH: String(os.sourceDateEpoch) }, context: `bootstrap (${os.name}, mmdebstrap)` });
    return { suite: b.suite };
  },
  output: (dir) => ({ tar: join(dir, "base.tar") }),
};
