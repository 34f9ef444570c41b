import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { configJsonSchema, CONFIG_VERSION, parseConfig } from "../../../src/config/schema.ts";
import { ROOT } from "../../../src/paths.ts";

/** A small valid current-version config; each case below changes one thing. */
function validConfig(): Record<string, any> {
  return {
    config_version: "1.1.0",
    network_settings: {
      ipv6_config: { Deterministic: { prefix: "2a00:fb01:400:200", prefix_length: 64, gateway: "2a00:fb01:400:200::1" } },
    },
    icos_settings: {
      mgmt_mac: "70:b5:e8:e8:25:de",
      deployment_environment: "testnet",
      nns_urls: ["https://icp-api.io"],
      use_node_operator_private_key: false,
      enable_trusted_execution_environment: false,
      use_ssh_authorized_keys: false,
    },
  };
}

function problemsOf(edit: (c: Record<string, any>) => void): string[] {
  const c = validConfig();
  edit(c);
  const r = parseConfig(c);
  assert.ok(!r.ok, "expected problems");
  return r.problems;
}

const DET = "network_settings.ipv6_config.Deterministic";
const PREFIX_WANT = `expected a /64 prefix like "2a00:fb01:400:200" or "2a00:fb01:400:200::"`;

const INVALID: [string, (c: Record<string, any>) => void, string[]][] = [
  ["wrong type (bool as string)", (c) => (c.icos_settings.use_ssh_authorized_keys = "yes"), [`icos_settings.use_ssh_authorized_keys: expected true or false, got "yes"`]],
  ["wrong type (section)", (c) => (c.network_settings = []), [`network_settings: expected an object, got []`]],
  ["config_version of the wrong type", (c) => Object.assign(c, { config_version: 1 }), [`config_version: expected "1.1.0", got 1`]],
  [
    "unknown field",
    (c) => (c.icos_settings.use_ssh_keys = true),
    [
      `icos_settings.use_ssh_keys: unknown key (valid keys: node_reward_type, mgmt_mac, deployment_environment, nns_urls, use_node_operator_private_key, enable_trusted_execution_environment, use_ssh_authorized_keys, icos_dev_settings)`,
    ],
  ],
  ["unknown top-level field", (c) => (c.setupos_settings = {}), [`setupos_settings: unknown key (valid keys: config_version, network_settings, icos_settings, hostos_settings, guestos_settings)`]],
  ["unknown dev setting", (c) => (c.icos_settings.icos_dev_settings = { x: 1 }), [`icos_settings.icos_dev_settings.x: unknown key (no icos dev settings are defined yet)`]],
  ["missing field", (c) => delete c.icos_settings.mgmt_mac, [`icos_settings.mgmt_mac: required`]],
  ["bad IPv6 prefix (garbage)", (c) => (c.network_settings.ipv6_config.Deterministic.prefix = "2a00:fb01:zz"), [`${DET}.prefix: ${PREFIX_WANT}, got "2a00:fb01:zz"`]],
  ["bad IPv6 prefix (3 groups)", (c) => (c.network_settings.ipv6_config.Deterministic.prefix = "2a00:fb01:400"), [`${DET}.prefix: ${PREFIX_WANT}, got "2a00:fb01:400"`]],
  ["bad IPv6 prefix (host bits)", (c) => (c.network_settings.ipv6_config.Deterministic.prefix = "2a00:fb01:400:200::1"), [`${DET}.prefix: ${PREFIX_WANT}, got "2a00:fb01:400:200::1"`]],
  ["bad IPv6 prefix (with length)", (c) => (c.network_settings.ipv6_config.Deterministic.prefix = "2a00:fb01:400:200::/64"), [`${DET}.prefix: ${PREFIX_WANT}, got "2a00:fb01:400:200::/64"`]],
  ["prefix length not 64", (c) => (c.network_settings.ipv6_config.Deterministic.prefix_length = 48), [`${DET}.prefix_length: expected 64 (EUI-64 addresses need a /64), got 48`]],
  ["bad MAC", (c) => (c.icos_settings.mgmt_mac = "70:b5:e8:e8:25"), [`icos_settings.mgmt_mac: expected a MAC address like "70:b5:e8:e8:25:de", got "70:b5:e8:e8:25"`]],
  ["MAC with mixed separators", (c) => (c.icos_settings.mgmt_mac = "70:b5-e8:e8:25:de"), [`icos_settings.mgmt_mac: expected a MAC address like "70:b5:e8:e8:25:de", got "70:b5-e8:e8:25:de"`]],
  ["bad URL", (c) => (c.icos_settings.nns_urls = ["https://icp-api.io", "icp0.io"]), [`icos_settings.nns_urls[1]: expected an http(s) URL like "https://icp-api.io", got "icp0.io"`]],
  ["URL of another scheme", (c) => (c.icos_settings.nns_urls = ["ftp://icp-api.io"]), [`icos_settings.nns_urls[0]: expected an http(s) URL like "https://icp-api.io", got "ftp://icp-api.io"`]],
  ["no URLs", (c) => (c.icos_settings.nns_urls = []), [`icos_settings.nns_urls: needs at least one URL`]],
  [
    "IPv6 gateway is IPv4",
    (c) => (c.network_settings.ipv6_config.Deterministic.gateway = "192.0.2.1"),
    [`${DET}.gateway: expected an IPv6 address (the gateway of an IPv6 network), got "192.0.2.1" (an IPv4 address; this must be IPv6)`],
  ],
  [
    "IPv4 gateway is IPv6",
    (c) => (c.network_settings.ipv4_config = { address: "192.0.2.10", prefix_length: 24, gateway: "2a00:fb01:400:200::1" }),
    [`network_settings.ipv4_config.gateway: expected an IPv4 address (the gateway of an IPv4 network), got "2a00:fb01:400:200::1" (an IPv6 address; this must be IPv4)`],
  ],
  ["IPv4 prefix length", (c) => (c.network_settings.ipv4_config = { address: "192.0.2.10", prefix_length: 33, gateway: "192.0.2.1" }), [`network_settings.ipv4_config.prefix_length: expected an integer 0-32, got 33`]],
  [
    "Fixed address without length",
    (c) => (c.network_settings.ipv6_config = { Fixed: { address: "2a00:fb01:400:200::10", gateway: "2a00:fb01:400:200::1" } }),
    [`network_settings.ipv6_config.Fixed.address: expected an IPv6 address with its length like "2a00:fb01:400:200::10/64", got "2a00:fb01:400:200::10"`],
  ],
  [
    "unknown ipv6_config kind",
    (c) => (c.network_settings.ipv6_config = "SLAAC"),
    [`network_settings.ipv6_config: expected {"Deterministic": {...}}, {"Fixed": {...}} or "RouterAdvertisement", got "SLAAC"`],
  ],
  [
    "two ipv6_config kinds",
    (c) => (c.network_settings.ipv6_config = { Fixed: {}, Deterministic: {} }),
    [`network_settings.ipv6_config: expected {"Deterministic": {...}}, {"Fixed": {...}} or "RouterAdvertisement", got {"Fixed":{},"Deterministic":{}} (only one of Fixed, Deterministic)`],
  ],
  ["unknown key in a variant", (c) => (c.network_settings.ipv6_config.Deterministic.address = "::1"), [`${DET}.address: unknown key (valid keys: prefix, prefix_length, gateway)`]],
  ["deployment environment", (c) => (c.icos_settings.deployment_environment = "Mainnet"), [`icos_settings.deployment_environment: expected one of mainnet, testnet, got "Mainnet"`]],
  ["node reward type", (c) => (c.icos_settings.node_reward_type = "3.1"), [`icos_settings.node_reward_type: expected a node reward type like "type3.1", got "3.1"`]],
  ["vm_cpu", (c) => (c.hostos_settings = { hostos_dev_settings: { vm_memory: 16, vm_cpu: "host" } }), [`hostos_settings.hostos_dev_settings.vm_cpu: expected one of kvm, qemu, got "host"`]],
  ["vm_memory", (c) => (c.hostos_settings = { hostos_dev_settings: { vm_memory: 0, vm_cpu: "kvm" } }), [`hostos_settings.hostos_dev_settings.vm_memory: expected a whole number of GiB (1-4096), got 0`]],
  [
    "dev hostname",
    (c) => (c.guestos_settings = { guestos_dev_settings: { hostname: "guest_1" } }),
    [`guestos_settings.guestos_dev_settings.hostname: expected a hostname (RFC 1123 label: letters, digits and "-", at most 63, not starting or ending with "-"), got "guest_1"`],
  ],
  [
    "socks proxy",
    (c) => (c.guestos_settings = { guestos_dev_settings: { socks_proxy: "proxy:1080" } }),
    [`guestos_settings.guestos_dev_settings.socks_proxy: expected a URL like "socks5://proxy.example:1080", got "proxy:1080"`],
  ],
  ["domain name", (c) => (c.network_settings.domain_name = "ic..org"), [`network_settings.domain_name: expected a domain name like "ic.example.org", got "ic..org"`]],
];

describe("config schema: each bad input and exactly its problems", () => {
  for (const [name, edit, want] of INVALID) it(name, () => assert.deepEqual(problemsOf(edit), want));
});

it("config schema: several problems are reported in one pass", () => {
  const problems = problemsOf((c) => {
    c.network_settings.ipv6_config.Deterministic.prefix = "nope";
    c.network_settings.ipv6_config.Deterministic.gateway = "10.0.0.1";
    c.icos_settings.mgmt_mac = "xx";
    c.icos_settings.nns_urls = ["gopher://x"];
    c.icos_settings.extra = 1;
    c.hostos_settings = { verbose: 1 };
  });
  assert.deepEqual(problems, [
    `${DET}.prefix: ${PREFIX_WANT}, got "nope"`,
    `${DET}.gateway: expected an IPv6 address (the gateway of an IPv6 network), got "10.0.0.1" (an IPv4 address; this must be IPv6)`,
    `icos_settings.mgmt_mac: expected a MAC address like "70:b5:e8:e8:25:de", got "xx"`,
    `icos_settings.nns_urls[0]: expected an http(s) URL like "https://icp-api.io", got "gopher://x"`,
    `icos_settings.extra: unknown key (valid keys: node_reward_type, mgmt_mac, deployment_environment, nns_urls, use_node_operator_private_key, enable_trusted_execution_environment, use_ssh_authorized_keys, icos_dev_settings)`,
    `hostos_settings.verbose: expected true or false, got 1`,
  ]);
});

describe("config schema: valid inputs", () => {
  it("normalises the MAC and the prefix and fills defaults", () => {
    const c = validConfig();
    c.icos_settings.mgmt_mac = "70-B5-E8-E8-25-DE";
    c.network_settings.ipv6_config.Deterministic.prefix = "2A00:FB01:0400:0200::";
    const r = parseConfig(c);
    assert.ok(r.ok);
    assert.equal(r.config.icos_settings.mgmt_mac, "70:b5:e8:e8:25:de");
    assert.deepEqual(r.config.network_settings.ipv6_config, { Deterministic: { prefix: "2a00:fb01:400:200", prefix_length: 64, gateway: "2a00:fb01:400:200::1" } });
    assert.deepEqual(r.config.hostos_settings, { verbose: false });
    assert.deepEqual(r.config.guestos_settings, {});
  });

  it("accepts every ipv6_config kind, IPv4 and the dev settings", () => {
    for (const ipv6 of ["RouterAdvertisement", { Fixed: { address: "2a00:fb01:400:200::10/64", gateway: "fe80::1" } }]) {
      const c = validConfig();
      c.network_settings.ipv6_config = ipv6;
      c.network_settings.ipv4_config = { address: "192.0.2.10", prefix_length: 24, gateway: "192.0.2.1" };
      c.network_settings.domain_name = "ic.example.org";
      c.icos_settings.mgmt_mac = "70b5e8e825de";
      c.hostos_settings = { verbose: true, hostos_dev_settings: { vm_memory: 16, vm_cpu: "qemu" } };
      c.guestos_settings = {
        guestos_dev_settings: {
          malicious_behavior: { allow_malicious_behaviour: true },
          socks_proxy: "socks5://proxy.example:1080",
          hostname: "my-node-1",
          query_stats_epoch_length: 60,
          bitcoind_addr: "[2001:db8::1]:8333",
          jaeger_addr: "http://[2001:db8::2]:4317",
        },
      };
      const r = parseConfig(c);
      assert.ok(r.ok, r.ok ? "" : r.problems.join("\n"));
      assert.equal(r.config.hostos_settings.hostos_dev_settings?.vm_nr_of_vcpus, 64);
    }
  });
});

// docs/config-schema.json is generated; regenerate it with
//   node --import tsx src/cli/main.ts config schema --out docs/config-schema.json
it("docs/config-schema.json is what the schema generates (regenerate: icos config schema --out docs/config-schema.json)", () => {
  const pinned = readFileSync(join(ROOT, "docs/config-schema.json"), "utf8");
  assert.equal(pinned, JSON.stringify(configJsonSchema(), null, 2) + "\n");
  const schema = JSON.parse(pinned) as { title: string; properties: Record<string, { description?: string }> };
  assert.match(schema.title, new RegExp(CONFIG_VERSION.replace(/\./g, "\\.")));
  for (const [key, prop] of Object.entries(schema.properties)) assert.ok(prop.description, `${key} has a description`);
});

it("config schema: every field of the JSON Schema has a description", () => {
  const missing: string[] = [];
  const walk = (node: any, path: string): void => {
    if (typeof node !== "object" || node === null) return;
    for (const [key, prop] of Object.entries<any>(node.properties ?? {})) {
      if (!prop.description) missing.push(`${path}${key}`);
      walk(prop, `${path}${key}.`);
    }
    for (const [i, option] of (node.anyOf ?? []).entries()) walk(option, `${path}[${i}].`);
    walk(node.items, `${path}[].`);
  };
  walk(configJsonSchema(), "");
  assert.deepEqual(missing, []);
});

it("docs/config.md mentions every field of the schema", () => {
  const doc = readFileSync(join(ROOT, "docs/config.md"), "utf8");
  const names = new Set<string>();
  const walk = (node: any): void => {
    if (typeof node !== "object" || node === null) return;
    for (const [key, prop] of Object.entries<any>(node.properties ?? {})) {
      names.add(key);
      walk(prop);
    }
    for (const option of node.anyOf ?? []) walk(option);
  };
  walk(configJsonSchema());
  assert.deepEqual([...names].filter((n) => !doc.includes(n)), []);
});
