import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { configJsonSchema, CONFIG_VERSION, parseConfig } from "../../../src/config/schema.ts";
import { mediaRules } from "../../../src/config/media.ts";
import { IC_OS_DIR, ROOT } from "../../../src/paths.ts";
import { DET, INVALID, PREFIX_WANT, validConfig, validVariants } from "../../fixtures/config/cases.ts";

function problemsOf(edit: (c: Record<string, any>) => void): string[] {
  const c = validConfig();
  edit(c);
  const r = parseConfig(c);
  assert.ok(!r.ok, "expected problems");
  return r.problems;
}

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
    for (const c of validVariants().slice(0, 2)) {
      const r = parseConfig(c);
      assert.ok(r.ok, r.ok ? "" : r.problems.join("\n"));
      assert.equal(r.config.hostos_settings.hostos_dev_settings?.vm_nr_of_vcpus, 64);
    }
  });
});

// The device validator's rule files are generated; regenerate them with
//   node --import tsx src/cli/main.ts config schema --out ic-os/components/config-injection/opt/ic/share/config-schema.json
//   node --import tsx src/cli/main.ts config media-rules --out ic-os/components/config-injection/opt/ic/share/config-media.json
const DEVICE_RULES = join(IC_OS_DIR, "components/config-injection/opt/ic/share");
it("config-injection's config-media.json is what src/config/media.ts generates (regenerate: icos config media-rules --out ...)", () => {
  assert.equal(readFileSync(join(DEVICE_RULES, "config-media.json"), "utf8"), JSON.stringify(mediaRules(), null, 2) + "\n");
});

it("config-injection's config-schema.json is what the schema generates (regenerate: icos config schema --out ...)", () => {
  const pinned = readFileSync(join(DEVICE_RULES, "config-schema.json"), "utf8");
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
