// Stage 1: the distribution's base root filesystem, made by mmdebstrap into a tar.
import { join } from "node:path";
import { run } from "../../exec.ts";
import { toolVersions } from "../../host/doctor.ts";
import type { OsDefinition } from "../../model/os.ts";
import { digestOf } from "../digest.ts";
import type { Progress } from "../progress.ts";
import type { Store } from "../store.ts";

const VERSION = 1; // bump when the same inputs would now give other bytes

export async function bootstrapDigest(os: OsDefinition): Promise<string> {
  return digestOf({ stage: "bootstrap", version: VERSION, bootstrap: os.bootstrap, sde: os.sourceDateEpoch, tools: await toolVersions(["mmdebstrap"]) });
}

/** Returns the path of base.tar in the store. */
export async function bootstrap(store: Store, os: OsDefinition, progress: Progress): Promise<string> {
  const digest = await bootstrapDigest(os);
  return progress.stage("bootstrap", `${os.name} (${os.bootstrap.suite})`, digest, async () => {
    const hit = store.get("bootstrap", digest);
    if (hit) return { value: join(hit.path, "base.tar"), cache: "hit" };
    const b = os.bootstrap;
    const entry = await store.put("bootstrap", digest, async (dir) => {
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
    });
    return { value: join(entry.path, "base.tar"), cache: "miss" };
  });
}
