// Every config version icos has known, oldest first, each with its own schema and a migration to
// the next. A file is validated against the schema of the version it names (so problems are
// reported in the file's own terms), then migrated step by step to CONFIG_VERSION.
//
// 1.0.0 (the first, documented in docs/config.md): IPv6 was always deterministic and given flat as
//   network_settings.ipv6_prefix + ipv6_gateway (prefix length 64 implied); the NNS URLs were one
//   comma-separated string icos_settings.nns_url; the ssh key flag was icos_settings.ssh_authorized_keys;
//   there was no TEE flag.
// 1.1.0 (current): network_settings.ipv6_config (Deterministic | Fixed | RouterAdvertisement),
//   icos_settings.nns_urls (a list), use_ssh_authorized_keys, enable_trusted_execution_environment.
import { z } from "zod";
import { ValidationError } from "../errors.ts";
import { checkNesting, expected, MAX_DATA_FILE_BYTES, parseYaml, show, strict } from "../model/data-file.ts";
import { readInputText } from "../user-files.ts";
import {
  bool,
  checkedString,
  CONFIG_VERSION,
  configProblems,
  configSchema,
  guestosSettingsSchema,
  hostosSettingsSchema,
  icosSettingsShape,
  ipv4ConfigSchema,
  ipv6Address,
  ipv6Prefix,
  isHttpUrl,
  networkSettingsSchema,
  type NodeConfig,
} from "./schema.ts";

/** Deeper documents are refused before validation (host and device alike). */
export const MAX_CONFIG_DEPTH = 32;

const splitUrls = (s: string): string[] => s.split(",").map((u) => u.trim());

export const configSchemaV1_0_0 = strict(
  {
    config_version: z.literal("1.0.0", { error: expected(`"1.0.0"`) }).describe("schema version of this file"),
    network_settings: strict(
      {
        ipv6_prefix: ipv6Prefix.describe("the /64 the node's IPv6 address is derived in"),
        ipv6_gateway: ipv6Address("an IPv6 address (the gateway of an IPv6 network)").describe("IPv6 default gateway"),
        ipv4_config: ipv4ConfigSchema.optional().describe("static IPv4 address"),
        domain_name: networkSettingsSchema.shape.domain_name,
      },
      "an object",
    ).describe("how the node reaches the network"),
    icos_settings: strict(
      {
        node_reward_type: icosSettingsShape.node_reward_type,
        mgmt_mac: icosSettingsShape.mgmt_mac,
        deployment_environment: icosSettingsShape.deployment_environment,
        nns_url: checkedString(`comma-separated http(s) URLs like "https://a.example,https://b.example"`, (s) => splitUrls(s).every(isHttpUrl)).describe(
          "NNS URLs, comma-separated",
        ),
        use_node_operator_private_key: icosSettingsShape.use_node_operator_private_key,
        ssh_authorized_keys: bool().describe("the media carries accounts_ssh_authorized_keys/<account>"),
        icos_dev_settings: icosSettingsShape.icos_dev_settings,
      },
      "an object",
    ).describe("settings shared by the IC-OS images"),
    hostos_settings: hostosSettingsSchema.prefault({}).describe("HostOS settings"),
    guestos_settings: guestosSettingsSchema.prefault({}).describe("GuestOS settings"),
  },
  "a config object",
);

/** The object without its undefined entries, so a migrated config equals one written anew. */
function defined<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function from1_0_0(c: z.output<typeof configSchemaV1_0_0>): z.input<typeof configSchema> {
  const n = c.network_settings;
  const { nns_url, ssh_authorized_keys, ...icos } = c.icos_settings;
  return {
    config_version: "1.1.0",
    network_settings: defined({
      ipv6_config: { Deterministic: { prefix: n.ipv6_prefix, prefix_length: 64 as const, gateway: n.ipv6_gateway } },
      ipv4_config: n.ipv4_config,
      domain_name: n.domain_name,
    }) as z.input<typeof configSchema>["network_settings"],
    icos_settings: {
      ...icos,
      nns_urls: splitUrls(nns_url),
      enable_trusted_execution_environment: false,
      use_ssh_authorized_keys: ssh_authorized_keys,
    },
    hostos_settings: c.hostos_settings,
    guestos_settings: c.guestos_settings,
  };
}

interface Version {
  version: string;
  schema: z.ZodType;
  /** From this version's parsed value to the next version's input. */
  up?: (value: never) => unknown;
}

/** Oldest first; the last is CONFIG_VERSION. */
export const CONFIG_VERSIONS: readonly Version[] = [
  { version: "1.0.0", schema: configSchemaV1_0_0, up: from1_0_0 },
  { version: CONFIG_VERSION, schema: configSchema },
];

export type LoadResult = { ok: true; config: NodeConfig; fromVersion: string } | { ok: false; problems: string[]; hint?: string };

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;
function newer(a: string, b: string): boolean {
  const [x, y] = [a, b].map((v) => SEMVER.exec(v)!.slice(1).map(Number)) as [number[], number[]];
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! > y[i]!;
  return false;
}

/**
 * How deeply `value` nests: 0 for a scalar or an empty container, else 1 + its deepest child
 * (jq's `[paths | length] | max`, which the device validator uses). Iterative: no stack to overflow.
 */
export function nestingDepth(value: unknown): number {
  let max = 0;
  const todo: [unknown, number][] = [[value, 0]];
  while (todo.length > 0) {
    const [v, d] = todo.pop()!;
    if (typeof v !== "object" || v === null) continue;
    for (const child of Object.values(v)) {
      max = Math.max(max, d + 1);
      todo.push([child, d + 1]);
    }
  }
  return max;
}

/** Validates a config of any known version and migrates it to CONFIG_VERSION; never throws for bad input. */
export function parseAnyVersion(data: unknown): LoadResult {
  const depth = nestingDepth(data);
  if (depth > MAX_CONFIG_DEPTH) return { ok: false, problems: [`(top level): nested ${depth} levels deep, more than ${MAX_CONFIG_DEPTH}`] };
  if (typeof data !== "object" || data === null || Array.isArray(data)) return { ok: false, problems: [`(top level): expected a config object, got ${show(data)}`] };
  const version = (data as { config_version?: unknown }).config_version;
  if (version === undefined) return { ok: false, problems: [`config_version: required`], hint: `the current version is "${CONFIG_VERSION}"` };
  if (typeof version !== "string" || !SEMVER.test(version)) return { ok: false, problems: [`config_version: expected a version like "${CONFIG_VERSION}", got ${show(version)}`] };
  const known = CONFIG_VERSIONS.map((v) => v.version);
  let at = known.indexOf(version);
  if (at < 0) {
    return newer(version, CONFIG_VERSION)
      ? { ok: false, problems: [`config_version: "${version}" is newer than this icos knows (newest: ${CONFIG_VERSION})`], hint: "use a newer icos, or write the config in an older version" }
      : { ok: false, problems: [`config_version: unknown version "${version}" (known: ${known.join(", ")})`] };
  }
  const first = CONFIG_VERSIONS[at]!.schema.safeParse(data, { reportInput: true });
  if (!first.success) return { ok: false, problems: configProblems(first.error, data) };
  let value: unknown = first.data;
  for (; at < CONFIG_VERSIONS.length - 1; at++) {
    const next = CONFIG_VERSIONS[at + 1]!;
    const input = CONFIG_VERSIONS[at]!.up!(value as never);
    const r = next.schema.safeParse(input);
    // The old version was valid, so a problem here is a bug in the migration, not the user's.
    if (!r.success) throw new Error(`config migration ${version} -> ${next.version} produced an invalid config:\n  ${configProblems(r.error, input).join("\n  ")}`);
    value = r.data;
  }
  return { ok: true, config: value as NodeConfig, fromVersion: version };
}

/**
 * The ssh-keys flag of a config of any version, read even when the config has other problems
 * (so the media writer can report a missing or unexpected keys directory with them), and the
 * flag's path in that version.
 */
export function sshKeysFlag(data: unknown): { path: string; value: boolean | undefined } {
  const d = data as { config_version?: unknown; icos_settings?: Record<string, unknown> } | null | undefined;
  const name = d?.config_version === "1.0.0" ? "ssh_authorized_keys" : "use_ssh_authorized_keys";
  const value = typeof d?.icos_settings === "object" && d.icos_settings !== null ? d.icos_settings[name] : undefined;
  return { path: `icos_settings.${name}`, value: typeof value === "boolean" ? value : undefined };
}

/**
 * A config file as plain data: JSON for *.json, YAML otherwise; syntax errors name line and
 * column. At most MAX_DATA_FILE_BYTES and MAX_DATA_NESTING deep; `label` starts the message when
 * the file cannot be read (the CLI names its flag: "--config node.json").
 */
export function readConfigFile(file: string, label = `cannot read config file ${file}`): unknown {
  const text = readInputText(file, label, { maxBytes: MAX_DATA_FILE_BYTES, hint: "give a node config file (JSON or YAML), e.g. examples/qemu-node.json" });
  if (!/\.json$/i.test(file)) return parseYaml(text, file);
  let data: unknown;
  try {
    data = JSON.parse(text) as unknown;
  } catch (e) {
    const message = (e as Error).message;
    const pos = /at position (\d+)/.exec(message);
    let where = file;
    if (pos) {
      const before = text.slice(0, Number(pos[1]));
      const line = before.split("\n").length;
      where += `:${line}:${before.length - before.lastIndexOf("\n")}`;
    }
    throw new ValidationError(file, [`${where}: invalid JSON: ${message}`]);
  }
  checkNesting(data, file);
  return data;
}

/** Reads, validates and migrates a config file to the current version; throws a ValidationError listing every problem. */
export function loadConfig(file: string): NodeConfig {
  const r = parseAnyVersion(readConfigFile(file));
  if (!r.ok) throw new ValidationError(file, r.problems, r.hint);
  return r.config;
}
