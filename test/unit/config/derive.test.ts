import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { deriveMac, eui64Address, formatIpv6, guestHostname, guestIpv6, guestMac, type NodeType, normalisePrefix, parseIpv6 } from "../../../src/config/derive.ts";
import { UserError } from "../../../src/errors.ts";
import { loadConfig } from "../../../src/config/versions.ts";
import { ROOT } from "../../../src/paths.ts";

interface Vector {
  mgmt_mac: string;
  deployment_environment: string;
  node_type: NodeType;
  slot: number;
  prefix: string;
  mac: string;
  ipv6: string;
  hostname?: string;
}
const VECTORS = (JSON.parse(readFileSync(join(ROOT, "test/fixtures/config/derive-vectors.json"), "utf8")) as { vectors: Vector[] }).vectors;
const V110 = join(ROOT, "test/fixtures/config/v1.1.0.json");

describe("derive: deterministic MAC", () => {
  it("the IC-OS vector: 70:B5:E8:E8:25:DE, testnet, HostOS -> 6a:00:f8:87:a4:8a", () => {
    assert.equal(deriveMac({ mgmtMac: "70:B5:E8:E8:25:DE", deploymentEnvironment: "testnet", nodeType: "HostOS" }), "6a:00:f8:87:a4:8a");
  });

  it("GuestOS slot 0 and slot 17 (the slot >= 16 form)", () => {
    const base = { mgmtMac: "70:B5:E8:E8:25:DE", deploymentEnvironment: "testnet", nodeType: "GuestOS" } as const;
    assert.equal(deriveMac({ ...base, slot: 0 }), "6a:01:f8:87:a4:8a");
    assert.equal(deriveMac({ ...base, slot: 17 }), "7a:01:11:f8:87:a4");
  });

  it("the seed is case-insensitive in MAC and environment and takes any MAC notation", () => {
    const want = "6a:00:f8:87:a4:8a";
    for (const mgmtMac of ["70:b5:e8:e8:25:de", "70-B5-E8-E8-25-DE", "70b5e8e825de"]) {
      assert.equal(deriveMac({ mgmtMac, deploymentEnvironment: "TestNet", nodeType: "HostOS" }), want);
    }
    assert.notEqual(deriveMac({ mgmtMac: "70:b5:e8:e8:25:de", deploymentEnvironment: "mainnet", nodeType: "HostOS" }), want);
  });

  it("rejects a bad MAC, slot or node type", () => {
    const o = { mgmtMac: "70:b5:e8:e8:25:de", deploymentEnvironment: "testnet", nodeType: "GuestOS" } as const;
    assert.throws(() => deriveMac({ ...o, mgmtMac: "70:b5" }), (e: unknown) => e instanceof UserError && e.message === `mgmt MAC: expected a MAC address like "70:b5:e8:e8:25:de", got "70:b5"`);
    assert.throws(() => deriveMac({ ...o, slot: 256 }), /slot must be an integer 0-255, got 256/);
    assert.throws(() => deriveMac({ ...o, slot: 1.5 }), /slot must be an integer 0-255/);
    assert.throws(() => deriveMac({ ...o, nodeType: "Boundary" as NodeType }), /unknown node type "Boundary"/);
  });
});

describe("derive: test/fixtures/config/derive-vectors.json", () => {
  for (const v of VECTORS) {
    it(`${v.mgmt_mac} ${v.deployment_environment} ${v.node_type} slot ${v.slot} in ${v.prefix}`, () => {
      const mac = deriveMac({ mgmtMac: v.mgmt_mac, deploymentEnvironment: v.deployment_environment, nodeType: v.node_type, slot: v.slot });
      assert.equal(mac, v.mac);
      assert.equal(eui64Address(v.prefix, mac), v.ipv6);
    });
  }

  it("GuestOS vectors: the whole chain from a config (MAC, IPv6, hostname)", () => {
    const base = loadConfig(V110);
    for (const v of VECTORS.filter((x) => x.node_type === "GuestOS" && x.slot === 0)) {
      const config = structuredClone(base);
      config.icos_settings.mgmt_mac = v.mgmt_mac.toLowerCase();
      config.icos_settings.deployment_environment = v.deployment_environment as "mainnet" | "testnet";
      config.network_settings.ipv6_config = { Deterministic: { prefix: normalisePrefix(v.prefix)!, prefix_length: 64, gateway: "fe80::1" } };
      config.guestos_settings = {};
      assert.equal(guestMac(config), v.mac);
      assert.equal(guestIpv6(config), v.ipv6);
      assert.equal(guestHostname(config), v.hostname);
    }
  });

  it("covers the cases it claims to", () => {
    assert.ok(VECTORS.some((v) => v.node_type === "HostOS" && v.mac === "6a:00:f8:87:a4:8a"));
    for (const slot of [0, 15, 16, 17, 255]) assert.ok(VECTORS.some((v) => v.slot === slot), `slot ${slot}`);
    for (const t of ["SetupOS", "HostOS", "GuestOS", "UpgradeGuestOS"]) assert.ok(VECTORS.some((v) => v.node_type === t), t);
  });
});

describe("derive: IPv6", () => {
  it("EUI-64: flip bit 0x02 of the first octet, ff:fe in the middle; prefix with or without ::", () => {
    // IC-OS's own SLAAC vector (rs/ic_os/deterministic_ips): 6a01e5962d49 in 2a04:9dc0:0:108
    for (const prefix of ["2a04:9dc0:0:108", "2a04:9dc0:0:108::", "2A04:9DC0:0000:0108::"]) {
      assert.equal(eui64Address(prefix, "6a:01:e5:96:2d:49"), "2a04:9dc0:0:108:6801:e5ff:fe96:2d49");
    }
    assert.equal(eui64Address("fd00::", "02:00:00:00:00:01"), "fd00::ff:fe00:1");
    assert.throws(() => eui64Address("2a04:9dc0:0", "6a:01:e5:96:2d:49"), /expected a \/64 prefix/);
  });

  it("formatIpv6 writes RFC 5952 text (Node's URL parser as the oracle)", () => {
    for (const a of ["::", "::1", "1::", "2a00:fb01:400:200::1", "1:0:0:2:0:0:0:3", "1:0:2:0:3:0:4:0", "fd00:0:0:1:6801:6ff:fe8b:6c09", "::ffff:192.0.2.1", "0:0:1:0:0:0:0:0"]) {
      const canonical = new URL(`http://[${a}]/`).hostname.slice(1, -1);
      assert.equal(formatIpv6(parseIpv6(a)!), canonical, a);
    }
    assert.equal(formatIpv6(parseIpv6("1:0:0:2:0:0:0:3")!), "1:0:0:2::3");
    assert.equal(parseIpv6("fe80::1%eth0"), undefined);
  });

  it("guestIpv6 for each ipv6_config kind", () => {
    const config = loadConfig(V110);
    assert.equal(guestIpv6(config), "2a00:fb01:400:200:6801:f8ff:fe87:a48a");
    config.network_settings.ipv6_config = { Fixed: { address: "2a00:fb01:400:200:0::10/64", gateway: "fe80::1" } };
    assert.equal(guestIpv6(config), "2a00:fb01:400:200::10");
    config.network_settings.ipv6_config = "RouterAdvertisement";
    assert.equal(guestIpv6(config), undefined);
  });
});

describe("derive: hostname", () => {
  it("guest-<mgmt mac, lowercase hex> unless the dev hostname is set", () => {
    const config = loadConfig(V110);
    assert.equal(guestHostname(config), "guest-70b5e8e825de");
    config.guestos_settings = { guestos_dev_settings: { hostname: "my-node" } };
    assert.equal(guestHostname(config), "my-node");
  });
});
