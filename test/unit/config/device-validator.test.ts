// One rule set, two consumers: the device validates config.json with a jq program
// (ic-os/components/config-injection/opt/ic/share/validate-config.jq) over the JSON Schema that
// the host generates from its zod schema. Both must give the same verdict on the shared table of
// good and bad configs, and on thousands of seeded mutations of them.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { CONFIG_VERSION } from "../../../src/config/schema.ts";
import { parseAnyVersion } from "../../../src/config/versions.ts";
import { IC_OS_DIR } from "../../../src/paths.ts";
import { INVALID, validConfig, validVariants } from "../../fixtures/config/cases.ts";
import { mulberry32 } from "../../helpers/prng.ts";

const SHARE = join(IC_OS_DIR, "components/config-injection/opt/ic/share");

/**
 * The device's config rules (validate-config.jq, the module validate-media.jq runs on the device)
 * over a stream of configs: one problem list each. `keys` are the ssh key files the media carries.
 */
function validatorRun(input: string, keys: Record<string, string> = {}): string[][] {
  const program = `include "validate-config"; config_problems($schema[0]; $rules[0]; $ARGS.named | with_entries(select(.key | startswith("key_")) | .key |= ltrimstr("key_")); false)`;
  const extra = Object.entries(keys).flatMap(([account, file]) => ["--rawfile", `key_${account}`, file]);
  const args = ["-c", "-L", SHARE, "--slurpfile", "schema", join(SHARE, "config-schema.json"), "--slurpfile", "rules", join(SHARE, "config-media.json"), ...extra, program];
  const r = spawnSync("jq", args, { input, encoding: "utf8", maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim().split("\n").map((l) => JSON.parse(l) as string[]);
}

/** The device's problems for each config, from one jq run over all of them. */
function deviceProblems(configs: unknown[]): string[][] {
  const out = validatorRun(configs.map((c) => JSON.stringify(c)).join("\n") + "\n");
  assert.equal(out.length, configs.length);
  return out;
}

/**
 * The host's verdict on a media carrying `c` and nothing else (no keys): `icos config guestos`
 * writes only configs of the current version, and refuses either key flag without its key.
 */
function hostOk(c: unknown): boolean {
  const r = parseAnyVersion(c);
  const s = r.ok ? r.config.icos_settings : undefined;
  return r.ok && r.fromVersion === CONFIG_VERSION && s!.use_ssh_authorized_keys !== true && s!.use_node_operator_private_key !== true;
}

describe("device validator: the shared table", () => {
  it("accepts every valid config", () => {
    const valid = [validConfig(), ...validVariants()];
    for (const [i, problems] of deviceProblems(valid).entries()) assert.deepEqual(problems, [], JSON.stringify(valid[i]));
  });

  it("refuses every invalid config, naming the field the host names", () => {
    const configs = INVALID.map(([, edit]) => {
      const c = validConfig();
      edit(c);
      return c;
    });
    const device = deviceProblems(configs);
    INVALID.forEach(([name, , want], i) => {
      assert.ok(device[i]!.length > 0, `${name}: the device accepted it`);
      const field = want[0]!.slice(0, want[0]!.indexOf(":"));
      assert.ok(device[i]!.some((p) => p.startsWith(`config.json: ${field}`)), `${name}: device says ${JSON.stringify(device[i])}, host ${JSON.stringify(want)}`);
    });
  });

  it("refuses the injections the review found: an array that would become shell words, a newline in a unit file", () => {
    const array = validConfig();
    array.network_settings.ipv6_config.Deterministic.prefix = ["x", "sh", "-c", "touch /pwned"];
    const newline = validConfig();
    newline.network_settings.domain_name = "example.org\n[Network]\nDNS=203.0.113.1";
    const [a, n] = deviceProblems([array, newline]);
    assert.match(a!.join("\n"), /network_settings\.ipv6_config\.Deterministic\.prefix: expected string, got \["x","sh"/);
    assert.match(n!.join("\n"), /network_settings\.domain_name: expected a domain name like "ic\.example\.org", got "example\.org\\n\[Network\]/);
  });

  it("refuses a config nested deeper than the bound, as the host does", () => {
    const c = validConfig();
    let deep: Record<string, unknown> = {};
    c.guestos_settings = { guestos_dev_settings: { malicious_behavior: deep } };
    for (let i = 0; i < 40; i++) deep = (deep.x = {}) as Record<string, unknown>;
    assert.equal(hostOk(c), false);
    assert.match(deviceProblems([c])[0]!.join(), /nested \d+ levels deep, more than 32/);
  });
});

// ---- the fuzz: seeded, bounded, the same verdict on every mutated config ----

const STRINGS = [
  "", " ", "x", "2a00:fb01:400:200", "2a00:fb01:400:200::", "2a00:fb01:400:200::1", "::", "::1", "fe80::1%eth0", "1:2:3:4:5:6:7:8", "::ffff:192.0.2.1",
  "192.0.2.1", "192.0.2.01", "256.1.1.1", "70:b5:e8:e8:25:de", "70-b5-e8-e8-25-de", "70b5e8e825de", "70:b5-e8:e8:25:de", "https://icp-api.io", "http://[2001:db8::1]:8080/x",
  "https://a b", "https://user@host", "socks5://proxy.example:1080", "http://host:65536", "ic.example.org", "-bad-", "a".repeat(64), "a".repeat(300),
  "type3.1", "type", "mainnet", "testnet", "Mainnet", "RouterAdvertisement", "Deterministic", "Fixed", "1.1.0", "1.0.0", "kvm", "qemu",
  "a\nb", "a\rb", "a\tb", "\u0000", "\u007f", "é", "\ud83d\ude00", "x\u2028y", "$(reboot)", "`id`", "'; rm -rf / #", "a/64", "2a00::10/64", "2a00::10/129", "2a00::10/064",
];
const NUMBERS = [0, -0, 1, -1, 1.5, 24, 32, 33, 64, 65, 128, 1024, 4096, 4097, 2 ** 53 - 1, 2 ** 53, 1e300, -1e300, 0.1];

function randomValue(rnd: () => number, depth = 0): unknown {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  switch (Math.floor(rnd() * (depth > 2 ? 4 : 6))) {
    case 0:
      return pick(STRINGS);
    case 1:
      return pick(NUMBERS);
    case 2:
      return pick([true, false, null]);
    case 3: {
      // A string with a few characters changed.
      const s = [...pick(STRINGS)];
      for (let i = 0; i < 1 + Math.floor(rnd() * 3); i++) s.splice(Math.floor(rnd() * (s.length + 1)), rnd() < 0.5 ? 1 : 0, pick([..."0123456789abcdefABCDEF:.-/%[]\n @_"]));
      return s.join("");
    }
    case 4:
      return Array.from({ length: Math.floor(rnd() * 3) }, () => randomValue(rnd, depth + 1));
    default:
      return Object.fromEntries(Array.from({ length: Math.floor(rnd() * 3) }, () => [pick(["Fixed", "Deterministic", "address", "gateway", "prefix", "x", "verbose"]), randomValue(rnd, depth + 1)]));
  }
}

/** Every path to a node of `v` (the root included). */
function pathsOf(v: unknown, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(at);
  if (typeof v === "object" && v !== null) for (const [k, child] of Object.entries(v)) pathsOf(child, [...at, Array.isArray(v) ? Number(k) : k], out);
  return out;
}

function mutate(config: unknown, rnd: () => number): unknown {
  const c = structuredClone(config) as Record<string, any>;
  for (let n = 0; n < 1 + Math.floor(rnd() * 3); n++) {
    const paths = pathsOf(c).filter((p) => p.length > 0);
    const path = paths[Math.floor(rnd() * paths.length)]!;
    const parent = path.slice(0, -1).reduce((node: any, k) => node[k], c);
    const key = path[path.length - 1]!;
    const r = rnd();
    if (r < 0.55) parent[key] = randomValue(rnd);
    else if (r < 0.7 && !Array.isArray(parent)) delete parent[key];
    else if (r < 0.8 && !Array.isArray(parent)) parent[`${String(key)}_x`] = parent[key];
    else if (typeof parent[key] === "string") parent[key] = randomValue(rnd);
    else if (Array.isArray(parent[key])) parent[key].push(randomValue(rnd));
    else parent[key] = randomValue(rnd, 1);
  }
  return c;
}

it("fuzz: host and device validators agree on every mutated config (seeded, a few seconds)", () => {
  const seed = Number(process.env.ICOS_FUZZ_SEED ?? 20261129);
  const rnd = mulberry32(seed);
  const bases = [validConfig(), ...validVariants()];
  const configs = Array.from({ length: 3000 }, () => mutate(bases[Math.floor(rnd() * bases.length)], rnd));
  const device = deviceProblems(configs);
  const disagree: string[] = [];
  let accepted = 0;
  configs.forEach((c, i) => {
    const host = hostOk(c);
    if (host) accepted++;
    if (host !== (device[i]!.length === 0)) disagree.push(`${JSON.stringify(c)}\n  host: ${host ? "ok" : JSON.stringify((parseAnyVersion(c) as { problems?: string[] }).problems)}\n  device: ${JSON.stringify(device[i])}`);
  });
  assert.deepEqual(disagree.slice(0, 5), [], `seed ${seed}: ${disagree.length} disagreements`);
  // Both verdicts occur, so the fuzz exercises both sides of every rule it reaches.
  assert.ok(accepted > 50 && accepted < configs.length - 50, `accepted ${accepted} of ${configs.length}`);
});

describe("device validator: ssh key files", () => {
  it("judges every line as the host does (blanks, comments, tabs, CR, BOM, odd spaces, truncated blobs)", async (t) => {
    const { writeConfigMedia } = await import("../../../src/config/media.ts");
    const { scratch } = await import("../../helpers/tmp.ts");
    const dir = scratch(t);
    const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
    const files = [
      `${key} admin@x\n`,
      `# keys\n\n  \t${key}\t comment with spaces \n`,
      `${key}\r\n`,
      `# a comment\r\n${key}\n`,
      `\ufeff${key}\n`,
      `ssh-ed25519\u0085${key.slice(12)}\n`,
      `${key}\u0085\n`,
      `ssh-ed25519 AAAAA\n`,
      `ssh-rsa ${key.slice(12)}\n`,
      `${key} x\u2028y\n`,
      `# only a comment\n`,
      `\n`,
    ];
    const config = validConfig();
    config.icos_settings.use_ssh_authorized_keys = true;
    for (const [i, text] of files.entries()) {
      const keys = join(dir, `keys${i}`);
      spawnSync("mkdir", ["-p", keys]);
      writeFileSync(join(keys, "admin"), text);
      const host = await writeConfigMedia({ config, configFile: "node.json", sshKeysDir: keys, out: join(dir, `m${i}.img`) }).then(
        () => true,
        () => false,
      );
      const [problems] = validatorRun(JSON.stringify(config), { admin: join(keys, "admin") });
      assert.equal(problems!.length === 0, host, `${JSON.stringify(text)}: host ${host ? "accepts" : "refuses"}, device ${JSON.stringify(problems)}`);
    }
  });
});
