// Checks the host for every tool and file icos uses (src/host-tools.ts), with versions, which of
// them a command needs and which only the tests do, and whether QEMU can use KVM here.
import { closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync } from "node:fs";
import { release } from "node:os";
import { dirname, join } from "node:path";
import { run, which } from "../exec.ts";
import { HOST_FILES, HOST_TOOLS } from "../host-tools.ts";
import { cacheDir } from "../paths.ts";

/**
 * Tools no icos command runs: the tests' oracles and linters (sgdisk, grub-editenv, lvm,
 * shellcheck), and two the host table lists for checks not written yet (cryptsetup,
 * virt-xml-validate). Missing, they are a warning; test/unit/host/doctor.test.ts holds that no
 * file under src/ runs one of them.
 */
export const FOR_TESTS: ReadonlySet<string> = new Set(["sgdisk", "grub-editenv", "lvm", "shellcheck", "cryptsetup", "virt-xml-validate"]);

export interface HostCheck {
  name: string;
  kind: "tool" | "file" | "runtime";
  /** required: a command of icos needs it; tests: only the test tiers do (missing is a warning). */
  need: "required" | "tests";
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
    { name: "node", kind: "runtime", need: "required", pkg: "nodejs (>= 20.15)", found: major > 20 || (major === 20 && minor >= 15), path: process.execPath, version: `v${node}`, purpose: "runs icos" },
  ];
  const tools = await Promise.all(
    HOST_TOOLS.map(async (t): Promise<HostCheck> => {
      const path = await which(t.command);
      const version = path ? await toolVersion(t.versionCommand ?? t.command, t.versionArgs) : undefined;
      return { name: t.command, kind: "tool", need: FOR_TESTS.has(t.command) ? "tests" : "required", pkg: t.pkg, found: !!path, path, version, purpose: t.purpose };
    }),
  );
  const files = HOST_FILES.map((f): HostCheck => ({ name: f.path, kind: "file", need: "required", pkg: f.pkg, found: existsSync(f.path), path: f.path, purpose: f.purpose }));
  return [...checks, ...tools, ...files];
}

export interface KvmCheck {
  /** /dev/kvm opens read-write (what QEMU needs to try KVM at all). */
  usable: boolean;
  /** What `icos run` will use: kvm, tcg, or "probe" when it decides on its first run. */
  accel: "kvm" | "tcg" | "probe";
  /** Why, in words. */
  reason: string;
}

export interface KvmCheckOptions {
  env?: NodeJS.ProcessEnv;
  device?: string;
  /** QEMU's version, to tell whether a cached probe verdict still applies. */
  qemuVersion?: string;
}

/**
 * What `icos run` will do for acceleration, without starting QEMU: ICOS_ACCEL if set, else
 * whether /dev/kvm opens read-write and what the cached KVM probe said (src/vm/accel.ts writes
 * <cache>/accel.json, keyed by kernel release and QEMU version). Opening the device is not
 * enough on some hosts, which is why `icos run` probes before it trusts KVM.
 */
export function checkKvm(o: KvmCheckOptions = {}): KvmCheck {
  const env = o.env ?? process.env;
  const device = o.device ?? "/dev/kvm";
  const wanted = env.ICOS_ACCEL;
  let usable = true;
  let problem = "";
  try {
    closeSync(openSync(device, constants.O_RDWR));
  } catch (e) {
    usable = false;
    const code = (e as NodeJS.ErrnoException).code;
    problem = code === "ENOENT" ? `${device} does not exist (no KVM in this kernel, or a VM without nested virtualisation)` : `cannot open ${device} read-write (${code ?? String(e)})`;
  }
  const tcg = "icos run uses TCG (emulation: works, several times slower)";
  if (wanted === "kvm" || wanted === "tcg") {
    return { usable, accel: wanted, reason: `ICOS_ACCEL=${wanted} chooses it` + (usable ? "" : `; ${problem}`) };
  }
  if (!usable) return { usable, accel: "tcg", reason: `${problem}: ${tcg}` };
  const file = join(cacheDir(env), "accel.json");
  let cached: { kernel?: unknown; qemu?: unknown; ok?: unknown; reason?: unknown; probedAt?: unknown } | undefined;
  try {
    cached = JSON.parse(readFileSync(file, "utf8")) as typeof cached;
  } catch {
    // no verdict yet
  }
  const current = cached && cached.kernel === release() && (o.qemuVersion === undefined || cached.qemu === o.qemuVersion);
  if (!current || typeof cached?.ok !== "boolean") {
    return { usable, accel: "probe", reason: `${device} opens read-write; icos run probes KVM once (boots the firmware for a few seconds) and uses TCG if that fails` };
  }
  const when = `probed ${String(cached.probedAt)}, cached in ${file}`;
  return cached.ok
    ? { usable, accel: "kvm", reason: `${device} opens read-write and the KVM probe passed (${when})` }
    : { usable, accel: "tcg", reason: `${device} opens read-write, but the KVM probe failed: ${String(cached.reason)} (${when}): ${tcg}` };
}

const versionCache = new Map<string, Promise<string>>();

/** Versions of host tools, for build digests and manifests (asked once per process, remembered on disk). */
export async function toolVersions(commands: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const command of commands) {
    const tool = HOST_TOOLS.find((t) => t.command === command);
    if (!versionCache.has(command)) {
      versionCache.set(command, rememberedToolVersion(tool?.versionCommand ?? command, tool?.versionArgs ?? ["--version"], join(cacheDir(env), VERSIONS_FILE)));
    }
    out[command] = await versionCache.get(command)!;
  }
  return out;
}

// Asking a tool its version costs 0.1-0.3 s each (mmdebstrap is perl, podman asks conmon and
// runc), a second of every build for ten tools. The answers are kept in the cache directory, each
// under the identity of the binary that gave it (real path, size, mtime, inode): an upgraded or
// replaced tool is asked again.
const VERSIONS_FILE = "tool-versions.json";

/** The executable `command` resolves to on PATH, identified; undefined when there is none. */
function binaryIdentity(command: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? "").split(":")) {
    try {
      const real = realpathSync(join(dir || ".", command));
      const st = statSync(real);
      if (st.isFile() && st.mode & 0o111) return `${real}:${st.size}:${st.mtimeMs}:${st.ino}`;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** The versions remembered in `file`; none when it is missing or unreadable (they are asked again). */
function rememberedVersions(file: string): Record<string, string> {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Record<string, string>;
  } catch {
    return {};
  }
}

/** toolVersion(command, args) ("unknown" when it prints none), remembered in `file` per binary. */
export async function rememberedToolVersion(command: string, args: string[], file: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const id = binaryIdentity(command, env);
  const key = `${id} ${args.join(" ")}`;
  const known = rememberedVersions(file)[key];
  if (id && typeof known === "string") return known;
  const version = (await toolVersion(command, args)) ?? "unknown";
  if (id) {
    try {
      mkdirSync(dirname(file), { recursive: true });
      const tmp = `${file}.tmp-${process.pid}`;
      // Read again: another build may have added its tools meanwhile.
      writeFileSync(tmp, JSON.stringify({ ...rememberedVersions(file), [key]: version }, null, 1) + "\n", { mode: 0o644 });
      renameSync(tmp, file);
    } catch {
      // a read-only cache only costs the next build the same questions
    }
  }
  return version;
}
