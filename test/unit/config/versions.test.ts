import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ValidationError } from "../../../src/errors.ts";
import { CONFIG_VERSION } from "../../../src/config/schema.ts";
import { CONFIG_VERSIONS, loadConfig, parseAnyVersion } from "../../../src/config/versions.ts";
import { ROOT } from "../../../src/paths.ts";
import { scratch } from "../../helpers/tmp.ts";

const FIXTURES = join(ROOT, "test/fixtures/config");
const fixture = (version: string): string => join(FIXTURES, `v${version}.json`);
const readFixture = (version: string): Record<string, any> => JSON.parse(readFileSync(fixture(version), "utf8"));

function problemsOf(data: unknown): { problems: string[]; hint?: string } {
  const r = parseAnyVersion(data);
  assert.ok(!r.ok, "expected problems");
  return { problems: r.problems, hint: r.hint };
}

describe("config versions: one fixture per version", () => {
  it("there is a fixture for every known version and the newest is current", () => {
    assert.equal(CONFIG_VERSIONS.at(-1)?.version, CONFIG_VERSION);
    for (const { version } of CONFIG_VERSIONS) assert.equal(readFixture(version).config_version, version);
  });

  for (const { version } of CONFIG_VERSIONS) {
    it(`v${version}.json loads, migrated to ${CONFIG_VERSION}, to the same value as the current fixture`, () => {
      const config = loadConfig(fixture(version));
      assert.equal(config.config_version, CONFIG_VERSION);
      assert.deepEqual(config, loadConfig(fixture(CONFIG_VERSION)));
      const r = parseAnyVersion(readFixture(version));
      assert.ok(r.ok);
      assert.equal(r.fromVersion, version);
    });
  }

  it("1.0.0 -> 1.1.0 moves each renamed field", () => {
    const old = readFixture("1.0.0");
    const c = loadConfig(fixture("1.0.0"));
    assert.deepEqual(c.network_settings.ipv6_config, { Deterministic: { prefix: old.network_settings.ipv6_prefix, prefix_length: 64, gateway: old.network_settings.ipv6_gateway } });
    assert.deepEqual(c.icos_settings.nns_urls, ["https://icp-api.io", "https://icp0.io"]);
    assert.equal(c.icos_settings.use_ssh_authorized_keys, old.icos_settings.ssh_authorized_keys);
    assert.equal(c.icos_settings.enable_trusted_execution_environment, false);
    assert.ok(!("ssh_authorized_keys" in c.icos_settings) && !("nns_url" in c.icos_settings));
  });

  it("a minimal 1.0.0 config (no optional fields) migrates without stray keys", () => {
    const old = readFixture("1.0.0");
    delete old.network_settings.ipv4_config;
    delete old.network_settings.domain_name;
    delete old.icos_settings.node_reward_type;
    delete old.hostos_settings;
    delete old.guestos_settings;
    const r = parseAnyVersion(old);
    assert.ok(r.ok);
    assert.deepEqual(Object.keys(r.config.network_settings), ["ipv6_config"]);
    assert.deepEqual(r.config.guestos_settings, {});
  });
});

describe("config versions: bad versions and old-version problems", () => {
  it("a 1.0.0 file is checked in its own terms (its own field names)", () => {
    const old = readFixture("1.0.0");
    old.network_settings.ipv6_prefix = "2a00:fb01";
    old.icos_settings.nns_url = "https://icp-api.io,icp0.io";
    old.icos_settings.use_ssh_authorized_keys = true;
    assert.deepEqual(problemsOf(old).problems, [
      `network_settings.ipv6_prefix: expected a /64 prefix like "2a00:fb01:400:200" or "2a00:fb01:400:200::", got "2a00:fb01"`,
      `icos_settings.nns_url: expected comma-separated http(s) URLs like "https://a.example,https://b.example", got "https://icp-api.io,icp0.io"`,
      `icos_settings.use_ssh_authorized_keys: unknown key (valid keys: node_reward_type, mgmt_mac, deployment_environment, nns_url, use_node_operator_private_key, ssh_authorized_keys, icos_dev_settings)`,
    ]);
  });

  it("a current-version field in a 1.1.0 file under the old name is an unknown key", () => {
    const c = readFixture("1.1.0");
    c.icos_settings.ssh_authorized_keys = true;
    assert.match(problemsOf(c).problems.join("\n"), /^icos_settings\.ssh_authorized_keys: unknown key/);
  });

  it("a newer version is an error with a hint", () => {
    const c = readFixture("1.1.0");
    c.config_version = "1.2.0";
    assert.deepEqual(problemsOf(c), {
      problems: [`config_version: "1.2.0" is newer than this icos knows (newest: ${CONFIG_VERSION})`],
      hint: "use a newer icos, or write the config in an older version",
    });
    c.config_version = "2.0.0";
    assert.match(problemsOf(c).problems[0]!, /is newer than this icos knows/);
  });

  it("an unknown older version, a malformed or missing version", () => {
    const c = readFixture("1.1.0");
    c.config_version = "0.9.0";
    assert.deepEqual(problemsOf(c).problems, [`config_version: unknown version "0.9.0" (known: 1.0.0, 1.1.0)`]);
    c.config_version = "1.1";
    assert.deepEqual(problemsOf(c).problems, [`config_version: expected a version like "1.1.0", got "1.1"`]);
    c.config_version = 1.1;
    assert.deepEqual(problemsOf(c).problems, [`config_version: expected a version like "1.1.0", got 1.1`]);
    delete c.config_version;
    assert.deepEqual(problemsOf(c).problems, [`config_version: required`]);
    assert.deepEqual(problemsOf([1]).problems, [`(top level): expected a config object, got [1]`]);
  });
});

describe("config versions: loadConfig reads files", () => {
  it("YAML as well as JSON", (t) => {
    const file = join(scratch(t), "node.yaml");
    const yaml = `# the v1.1.0 fixture, as YAML
config_version: "1.1.0"
network_settings:
  ipv6_config: { Deterministic: { prefix: "2a00:fb01:400:200::", prefix_length: 64, gateway: "2a00:fb01:400:200::1" } }
  ipv4_config: { address: 192.0.2.10, prefix_length: 24, gateway: 192.0.2.1 }
  domain_name: ic.example.org
icos_settings:
  node_reward_type: type3.1
  mgmt_mac: "70:b5:e8:e8:25:de"
  deployment_environment: testnet
  nns_urls: [https://icp-api.io, https://icp0.io]
  use_node_operator_private_key: false
  enable_trusted_execution_environment: false
  use_ssh_authorized_keys: true
hostos_settings:
  verbose: false
  hostos_dev_settings: { vm_memory: 16, vm_cpu: kvm, vm_nr_of_vcpus: 4 }
guestos_settings:
  guestos_dev_settings:
    socks_proxy: "socks5://[2a00:fb01:400:200::2]:1080"
`;
    writeFileSync(file, yaml);
    assert.deepEqual(loadConfig(file), loadConfig(fixture("1.1.0")));
  });

  it("a JSON syntax error names the file, line and column", (t) => {
    const dir = scratch(t);
    const file = join(dir, "node.json");
    writeFileSync(file, `{\n  "config_version": "1.1.0",\n}\n`);
    assert.throws(
      () => loadConfig(file),
      (e: unknown) => e instanceof ValidationError && e.problems.length === 1 && new RegExp(`^${file.replace(/[.]/g, "\\.")}:3:1: invalid JSON: `).test(e.problems[0]!),
    );
  });

  it("a missing file is a user error, and problems come as one ValidationError naming the file", (t) => {
    assert.throws(() => loadConfig("/nonexistent/node.json"), /cannot read config file \/nonexistent\/node\.json/);
    const file = join(scratch(t), "node.json");
    writeFileSync(file, JSON.stringify({ config_version: "1.1.0" }));
    assert.throws(
      () => loadConfig(file),
      (e: unknown) => e instanceof ValidationError && e.file === file && e.problems.join("|") === "network_settings: required|icos_settings: required",
    );
  });
});
