// The node configuration (IC-OS's GuestOS config.json), version CONFIG_VERSION: one zod schema
// with a description on every field, from which the JSON Schema the device validates with
// (ic-os/components/config-injection/opt/ic/share/config-schema.json) is generated. Keys are
// snake_case and the sections are IC-OS's (rs/ic_os/config_types). Older versions are migrated to
// this one by versions.ts before this schema sees them.
import { z } from "zod";
import { expected, oneOf, show, strict, zodProblems } from "../model/data-file.ts";
import { normaliseMac, normalisePrefix } from "./derive.ts";
import { DOMAIN_NAME, HOSTNAME, IPV4, IPV6, IPV6_CIDR, MAC, NODE_REWARD_TYPE, PREFIX64, PRINTABLE, urlPattern } from "./patterns.ts";

export const CONFIG_VERSION = "1.1.0";
export const DEPLOYMENT_ENVIRONMENTS = ["mainnet", "testnet"] as const;
export const VM_CPUS = ["kvm", "qemu"] as const;
export const IPV6_CONFIG_KINDS = ["Deterministic", "Fixed", "RouterAdvertisement"] as const;

// ---- leaf types, each rejecting with `expected <what>, got <value>` ----
// Text rules are regular expressions (patterns.ts), so the generated JSON Schema carries them as
// `pattern` to the device validator: one rule set, two consumers.

/** A string matching `re`; the message names what was wanted and quotes what came (plus `hint`). */
export function patternString(what: string, re: RegExp, hint: (s: string) => string = () => "") {
  return z
    .string({ error: expected(what) })
    .regex(re, { error: (iss) => `expected ${what}, got ${show(iss.input)}${hint(String(iss.input))}` })
    .meta({ "x-expected": what }); // the device validator's message
}

/** A string that must pass `ok` (a rule the JSON Schema cannot carry: only for old config versions, which the device never sees). */
export function checkedString(what: string, ok: (s: string) => boolean) {
  return z.string({ error: expected(what) }).refine(ok, { error: (iss) => `expected ${what}, got ${show(iss.input)}` });
}

export function intIn(min: number, max: number, what = `an integer ${min}-${max}`) {
  const error = expected(what);
  return z.int({ error }).min(min, { error }).max(max, { error });
}

export const bool = () => z.boolean({ error: expected("true or false") });

export const macAddress = patternString(`a MAC address like "70:b5:e8:e8:25:de"`, MAC).transform((s) => normaliseMac(s) ?? s);

export const ipv6Address = (role = "an IPv6 address") =>
  patternString(role, IPV6, (s) => (IPV4.test(s) ? " (an IPv4 address; this must be IPv6)" : ""));
export const ipv4Address = (role = "an IPv4 address") =>
  patternString(role, IPV4, (s) => (IPV6.test(s) ? " (an IPv6 address; this must be IPv4)" : ""));

export const ipv6Prefix = patternString(`a /64 prefix like "2a00:fb01:400:200" or "2a00:fb01:400:200::"`, PREFIX64).transform((s) => normalisePrefix(s) ?? s);

export const HTTP_URL = urlPattern(["http", "https"]);
export const isHttpUrl = (s: string): boolean => HTTP_URL.test(s);
export const httpUrl = patternString(`an http(s) URL like "https://icp-api.io"`, HTTP_URL);

export const hostname = patternString(`a hostname (RFC 1123 label: letters, digits and "-", at most 63, not starting or ending with "-")`, HOSTNAME);
const domainName = patternString(`a domain name like "ic.example.org"`, DOMAIN_NAME).max(253, "a domain name has at most 253 characters");
const nonEmpty = (what: string) =>
  z.string({ error: expected(what) }).min(1, "must not be empty").regex(PRINTABLE, { error: (iss) => `expected ${what} without control characters, got ${show(iss.input)}` });

// ---- sections ----

export const deterministicIpv6Schema = strict(
  {
    prefix: ipv6Prefix.describe(`the /64 the node's addresses are derived in, e.g. "2a00:fb01:400:200"; written to config.json as four groups without "::"`),
    prefix_length: z.literal(64, { error: expected("64 (EUI-64 addresses need a /64)") }).describe("length of the prefix; always 64"),
    gateway: ipv6Address("an IPv6 address (the gateway of an IPv6 network)").describe("IPv6 default gateway"),
  },
  "an object",
);
export const fixedIpv6Schema = strict(
  {
    address: patternString(`an IPv6 address with its length like "2a00:fb01:400:200::10/64"`, IPV6_CIDR).describe(
      `the node's IPv6 address with prefix length, e.g. "2a00:fb01:400:200::10/64"`,
    ),
    gateway: ipv6Address("an IPv6 address (the gateway of an IPv6 network)").describe("IPv6 default gateway"),
  },
  "an object",
);
export const ipv6ConfigSchema = z
  .union([
    strict({ Deterministic: deterministicIpv6Schema.describe("address derived from the mgmt MAC (EUI-64 of the derived MAC in the prefix)") }, "an object"),
    strict({ Fixed: fixedIpv6Schema.describe("a fixed address") }, "an object"),
    z.literal("RouterAdvertisement").describe("address from the router's advertisements (SLAAC)"),
  ])
  .describe(`how the node gets its IPv6 address: {"Deterministic": {...}}, {"Fixed": {...}} or "RouterAdvertisement"`);

export const ipv4ConfigSchema = strict(
  {
    address: ipv4Address().describe("the node's IPv4 address, e.g. 192.0.2.10"),
    prefix_length: intIn(0, 32).describe("length of the IPv4 network prefix, e.g. 24"),
    gateway: ipv4Address("an IPv4 address (the gateway of an IPv4 network)").describe("IPv4 default gateway"),
  },
  "an object",
);

export const networkSettingsSchema = strict(
  {
    ipv6_config: ipv6ConfigSchema,
    ipv4_config: ipv4ConfigSchema.optional().describe("static IPv4 address; none by default"),
    domain_name: domainName.optional().describe("DNS domain of the node, e.g. ic.example.org"),
  },
  "an object",
);

/** A strict object with no keys yet (IC-OS's ICOSDevSettings is empty too). */
const emptySection = (what: string) =>
  z.strictObject({}, { error: (iss) => (iss.code === "unrecognized_keys" ? `unknown key (no ${what} are defined yet)` : expected("an object")(iss)) });

export const icosSettingsShape = {
  node_reward_type: patternString(`a node reward type like "type3.1"`, NODE_REWARD_TYPE)
    .optional()
    .describe(`node reward type, e.g. "type3.1" (determines node rewards)`),
  mgmt_mac: macAddress.describe(`MAC address of the management (BMC) interface, e.g. "70:b5:e8:e8:25:de"; the seed of the node's MACs; normalised to lowercase colon form`),
  deployment_environment: z
    .enum(DEPLOYMENT_ENVIRONMENTS, { error: oneOf(DEPLOYMENT_ENVIRONMENTS) })
    .describe("mainnet or testnet (lowercase); part of the seed of the node's MACs"),
  nns_urls: z
    .array(httpUrl, { error: expected("a list of URLs") })
    .min(1, "needs at least one URL")
    .describe("http(s) URLs of NNS nodes, tried in order"),
  use_node_operator_private_key: bool().describe("the media carries node_operator_private_key.pem"),
  enable_trusted_execution_environment: bool().describe("run the VM under AMD SEV-SNP (checked at deployment)"),
  use_ssh_authorized_keys: bool().describe("the media carries accounts_ssh_authorized_keys/<account> for admin, readonly, backup"),
  icos_dev_settings: emptySection("icos dev settings").optional().describe("development settings shared by the IC-OS images (none yet)"),
};
export const icosSettingsSchema = strict(icosSettingsShape, "an object");

export const hostosSettingsSchema = strict(
  {
    verbose: bool().default(false).describe("verbose HostOS boot and logs"),
    hostos_dev_settings: strict(
      {
        vm_memory: intIn(1, 4096, "a whole number of GiB (1-4096)").describe("GuestOS VM memory in GiB"),
        vm_cpu: z.enum(VM_CPUS, { error: oneOf(VM_CPUS) }).describe("kvm (host CPU passthrough) or qemu (emulated CPU)"),
        vm_nr_of_vcpus: intIn(1, 1024).default(64).describe("number of vCPUs of the GuestOS VM"),
      },
      "an object",
    )
      .optional()
      .describe("development settings for the GuestOS VM HostOS runs"),
  },
  "an object",
);

export const guestosSettingsSchema = strict(
  {
    guestos_dev_settings: strict(
      {
        malicious_behavior: z
          .record(z.string(), z.unknown(), { error: expected("an object") })
          .optional()
          .describe("malicious behaviour for testing (passed to the replica as is)"),
        socks_proxy: patternString(`a URL like "socks5://proxy.example:1080"`, urlPattern(["socks5", "socks5h", "http", "https"]))
          .optional()
          .describe("SOCKS proxy for outgoing connections, e.g. socks5://proxy.example:1080"),
        hostname: hostname.optional().describe("hostname instead of the derived guest-<mgmt mac>"),
        query_stats_epoch_length: intIn(1, Number.MAX_SAFE_INTEGER, "a positive integer").optional().describe("query stats epoch length in blocks"),
        bitcoind_addr: nonEmpty("bitcoind addresses").optional().describe("bitcoind address(es) for the bitcoin adapter, e.g. [2001:db8::1]:8333"),
        jaeger_addr: nonEmpty("a jaeger address").optional().describe("jaeger (OpenTelemetry) collector address"),
      },
      "an object",
    )
      .optional()
      .describe("development-only GuestOS settings; production configs leave this out"),
  },
  "an object",
);

export const configSchema = strict(
  {
    config_version: z
      .literal(CONFIG_VERSION, { error: expected(`"${CONFIG_VERSION}"`) })
      .describe(`schema version of this file (semver); older versions are migrated when loaded`),
    network_settings: networkSettingsSchema.describe("how the node reaches the network"),
    icos_settings: icosSettingsSchema.describe("settings shared by the IC-OS images"),
    hostos_settings: hostosSettingsSchema.prefault({}).describe("HostOS settings"),
    guestos_settings: guestosSettingsSchema.prefault({}).describe("GuestOS settings"),
  },
  "a config object",
);

export type NodeConfig = z.output<typeof configSchema>;
export type NodeConfigInput = z.input<typeof configSchema>;
export type ConfigResult = { ok: true; config: NodeConfig } | { ok: false; problems: string[] };

// The ipv6_config variants by name, in the order of ipv6ConfigSchema's options.
const IPV6_VARIANTS = ["Deterministic", "Fixed"];
const IPV6_WHAT = `expected {"Deterministic": {...}}, {"Fixed": {...}} or "RouterAdvertisement"`;

/**
 * zod reports a failed union as one issue holding every option's issues. For ipv6_config the
 * variant the user meant is plain (the one key of the object), so report that option's issues
 * with their full paths, or say which forms there are.
 */
function expandUnions(issues: readonly z.core.$ZodIssue[], data: unknown): z.core.$ZodIssue[] {
  return issues.flatMap((iss): z.core.$ZodIssue[] => {
    if (iss.code !== "invalid_union") return [iss];
    const input = valueAt(data, iss.path);
    const keys = typeof input === "object" && input !== null && !Array.isArray(input) ? Object.keys(input) : [];
    const named = keys.filter((k) => IPV6_VARIANTS.includes(k));
    if (named.length === 1) {
      const branch = iss.errors[IPV6_VARIANTS.indexOf(named[0]!)] ?? [];
      return expandUnions(branch.map((b) => ({ ...b, path: [...iss.path, ...b.path] })), data);
    }
    if (input === undefined) return [{ ...iss, message: "required" }];
    const why = named.length > 1 ? ` (only one of ${named.join(", ")})` : "";
    return [{ ...iss, message: `${IPV6_WHAT}, got ${show(input)}${why}` }];
  });
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let node = data;
  for (const key of path) node = typeof node === "object" && node !== null ? (node as Record<PropertyKey, unknown>)[key] : undefined;
  return node;
}

/** `path: message` lines for a failed parse of any config schema (this version's or an older one's). */
export function configProblems(error: z.ZodError, data: unknown): string[] {
  return zodProblems(new z.ZodError(expandUnions(error.issues, data)), data);
}

/** Validates data of the current version; every problem as `path: message`, never throws. */
export function parseConfig(data: unknown): ConfigResult {
  const r = configSchema.safeParse(data, { reportInput: true });
  return r.success ? { ok: true, config: r.data } : { ok: false, problems: configProblems(r.error, data) };
}

/** The JSON Schema (draft 2020-12) of what a user writes for the current version. */
export function configJsonSchema(): Record<string, unknown> {
  const { $schema, ...schema } = z.toJSONSchema(configSchema, { io: "input", target: "draft-2020-12" });
  return { $schema, title: `IC-OS node configuration, version ${CONFIG_VERSION}`, ...schema };
}
