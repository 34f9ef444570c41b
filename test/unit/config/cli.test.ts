import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { it } from "node:test";
import { ROOT } from "../../../src/paths.ts";
import { icos } from "../../helpers/cli.ts";
import { scratch } from "../../helpers/tmp.ts";

const FIXTURE = join(ROOT, "test/fixtures/config/v1.0.0.json");
// An ed25519 public key (32 zero bytes; the blob format is what matters here).
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA test@example\n";

it("icos config guestos writes the media and prints what it derived", (t) => {
  const dir = scratch(t);
  mkdirSync(join(dir, "keys"));
  writeFileSync(join(dir, "keys/admin"), KEY);
  const out = join(dir, "config.img");
  const r = icos(["config", "guestos", "--config", FIXTURE, "--ssh-keys", join(dir, "keys"), "--out", out]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(out));
  assert.match(r.stdout, /: README\.txt, accounts_ssh_authorized_keys\/admin, config\.json\n/);
  assert.match(r.stdout, /\(version 1\.0\.0, migrated to 1\.1\.0\)/);
  assert.match(r.stdout, /guestos: mac 6a:01:f8:87:a4:8a, ipv6 2a00:fb01:400:200:6801:f8ff:fe87:a48a, hostname guest-70b5e8e825de/);
});

it("icos config guestos exits 2 listing every problem and writes nothing", (t) => {
  const dir = scratch(t);
  const bad = JSON.parse(readFileSync(FIXTURE, "utf8"));
  bad.network_settings.ipv6_prefix = "not-a-prefix";
  bad.icos_settings.deployment_environment = "prod";
  const file = join(dir, "node.json");
  writeFileSync(file, JSON.stringify(bad));
  const out = join(dir, "config.img");
  const r = icos(["config", "guestos", "--config", file, "--out", out]);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    `error: ${file}: 3 problems:\n` +
      `  network_settings.ipv6_prefix: expected a /64 prefix like "2a00:fb01:400:200" or "2a00:fb01:400:200::", got "not-a-prefix"\n` +
      `  icos_settings.deployment_environment: expected one of mainnet, testnet, got "prod"\n` +
      `  icos_settings.ssh_authorized_keys: true, but no ssh keys directory was given (--ssh-keys DIR)\n`,
  );
  assert.ok(!existsSync(out));
});

it("icos config guestos: a newer config version exits 2 with a hint; a missing --out is a usage error", (t) => {
  const dir = scratch(t);
  const file = join(dir, "node.json");
  writeFileSync(file, JSON.stringify({ config_version: "9.0.0" }));
  const r = icos(["config", "guestos", "--config", file, "--out", join(dir, "c.img")]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /config_version: "9\.0\.0" is newer than this icos knows \(newest: 1\.1\.0\)\n {2}hint: use a newer icos/);
  const usage = icos(["config", "guestos", "--config", file]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /required option '--out <file>' not specified/);
});

it("icos config schema prints the device's config-schema.json", (t) => {
  const r = icos(["config", "schema"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, readFileSync(join(ROOT, "ic-os/components/config-injection/opt/ic/share/config-schema.json"), "utf8"));
  const out = join(scratch(t), "schema.json");
  assert.equal(icos(["config", "schema", "--out", out]).code, 0);
  assert.equal(readFileSync(out, "utf8"), r.stdout);
});
