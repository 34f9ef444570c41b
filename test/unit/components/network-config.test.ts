// The device-side scripts of ic-os/components/network-config, run on the host: the same answers
// as the host side (src/config/derive.ts) for the shared vectors, and the networkd file they write.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { IC_OS_DIR, ROOT } from "../../../src/paths.ts";
import { scratch } from "../../helpers/tmp.ts";
import * as hostDerive from "../../../src/config/derive.ts";
import { PREFIX64 } from "../../../src/config/patterns.ts";

const BIN = join(IC_OS_DIR, "components/network-config/opt/ic/bin");
const derive = (...args: string[]) => execFileSync(join(BIN, "icos-derive.sh"), args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
/** RFC 5952 form, so both spellings of an address compare equal. */
const canonical = (ipv6: string) => new URL(`http://[${ipv6}]/`).hostname.slice(1, -1);

interface Vector {
  mgmt_mac: string;
  deployment_environment: string;
  node_type: string;
  slot: number;
  prefix: string;
  mac: string;
  ipv6: string;
}
const { vectors } = JSON.parse(readFileSync(join(ROOT, "test/fixtures/config/derive-vectors.json"), "utf8")) as { vectors: Vector[] };

test("icos-derive.sh gives the host side's MAC and IPv6 for every shared vector", () => {
  assert.ok(vectors.length >= 10);
  for (const v of vectors) {
    const mac = derive("mac", v.mgmt_mac, v.deployment_environment, v.node_type, String(v.slot));
    assert.equal(mac, v.mac, JSON.stringify(v));
    assert.equal(canonical(derive("ipv6", v.prefix, mac)), v.ipv6, JSON.stringify(v));
  }
});

test("icos-derive.sh refuses bad input with a usage error", () => {
  const exit = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return { status: (e as { status: number }).status, stderr: String((e as { stderr: Buffer }).stderr) };
    }
    assert.fail("expected a failure");
  };
  assert.deepEqual(exit(() => derive("mac", "70:b5:e8:e8:25:de", "testnet", "router")), { status: 2, stderr: "icos-derive: unknown node type router\n" });
  assert.deepEqual(exit(() => derive("ipv6", "2a00:1:2:3:4", "6a:00:f8:87:a4:8a")), { status: 2, stderr: "icos-derive: not a /64 prefix: 2a00:1:2:3:4\n" });
});

test("generate-network-config.sh writes the networkd file for a Deterministic config", (t) => {
  const out = scratch(t);
  const config = join(ROOT, "test/fixtures/vm/node-deterministic.json");
  const cfgDir = scratch(t);
  execFileSync("cp", [config, join(cfgDir, "config.json")]);
  execFileSync(join(BIN, "generate-network-config.sh"), [join(cfgDir, "config.json"), out]);
  const network = readFileSync(join(out, "10-icos.network"), "utf8");
  const addr = derive("ipv6", "fd00:cafe::", derive("mac", "70:b5:e8:e8:25:de", "testnet", "guestos"));
  assert.match(network, new RegExp(`^Address=${addr}/64$`, "m"));
  assert.match(network, /^Gateway=fd00:cafe::2$/m);
  assert.match(network, /^IPv6AcceptRA=no$/m);
  assert.match(network, /^Address=10\.0\.2\.15\/24$/m);
  assert.equal(canonical(readFileSync(join(cfgDir, "ipv6-expected"), "utf8").trim()), "fd00:cafe::6801:f8ff:fe87:a48a");
});

test("icos-derive.sh reads every spelling of a /64 prefix the config schema accepts as the host does", () => {
  const mac = "6a:01:11:22:33:44";
  for (const prefix of ["fd00:cafe::", "fd00:cafe:0:0", "FD00:CAFE::", "a:b:c:d:0::", "a:b:c:d::0:0", "::0.0.0.0", "::", "1:2:3:4::0.0.0.0", "2a00:fb01:400:200::", "2a00:fb01:400:200"]) {
    assert.ok(PREFIX64.test(prefix), `${prefix} is a prefix the schema accepts`);
    assert.equal(canonical(derive("ipv6", prefix, mac)), hostDerive.eui64Address(prefix, mac), prefix);
  }
});
