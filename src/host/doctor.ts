// Checks the host for every tool and file icos uses (src/host-tools.ts), with versions.
import { existsSync } from "node:fs";
import { run, which } from "../exec.ts";
import { HOST_FILES, HOST_TOOLS } from "../host-tools.ts";

export interface HostCheck {
  name: string;
  kind: "tool" | "file" | "runtime";
  pkg: string;
  found: boolean;
  path?: string;
  version?: string;
  purpose: string;
}

export async function toolVersion(command: string, args: string[]): Promise<string | undefined> {
  const r = await run(command, args, { allowFailure: true });
  return /\d+\.\d+[\w.+~:()-]*/.exec(`${r.stdout}\n${r.stderr}`)?.[0];
}

export async function checkHost(): Promise<HostCheck[]> {
  const node = process.versions.node;
  const [major, minor] = node.split(".").map(Number) as [number, number];
  const checks: HostCheck[] = [
    { name: "node", kind: "runtime", pkg: "nodejs (>= 20.15)", found: major > 20 || (major === 20 && minor >= 15), path: process.execPath, version: `v${node}`, purpose: "runs icos" },
  ];
  const tools = await Promise.all(
    HOST_TOOLS.map(async (t): Promise<HostCheck> => {
      const path = await which(t.command);
      const version = path ? await toolVersion(t.versionCommand ?? t.command, t.versionArgs) : undefined;
      return { name: t.command, kind: "tool", pkg: t.pkg, found: !!path, path, version, purpose: t.purpose };
    }),
  );
  const files = HOST_FILES.map((f): HostCheck => ({ name: f.path, kind: "file", pkg: f.pkg, found: existsSync(f.path), path: f.path, purpose: f.purpose }));
  return [...checks, ...tools, ...files];
}

const versionCache = new Map<string, Promise<string>>();

/** Versions of host tools, for build digests and manifests (asked once per process). */
export async function toolVersions(commands: readonly string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const command of commands) {
    const tool = HOST_TOOLS.find((t) => t.command === command);
    if (!versionCache.has(command)) {
      versionCache.set(command, toolVersion(tool?.versionCommand ?? command, tool?.versionArgs ?? ["--version"]).then((v) => v ?? "unknown"));
    }
    out[command] = await versionCache.get(command)!;
  }
  return out;
}
