import { test } from "node:test";
import assert from "node:assert/strict";
import { icos } from "../../helpers/cli.ts";
import { HOST_TOOLS } from "../../../src/host/tools.ts";

test("icos doctor: every tool found on a set-up host, with version and package", () => {
  const r = icos(["doctor", "--json"]);
  assert.equal(r.code, 0, r.stdout);
  const checks = JSON.parse(r.stdout) as { name: string; found: boolean; version?: string; pkg: string }[];
  for (const tool of HOST_TOOLS) {
    const c = checks.find((x) => x.name === tool.command);
    assert.ok(c?.found, `${tool.command} found`);
    assert.ok(c.version, `${tool.command} has a version`);
    assert.equal(c.pkg, tool.pkg);
  }
});

test("icos doctor: a missing tool is reported with its package and exit 1", () => {
  const r = icos(["doctor"], { hideSbin: true });
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^MISSING\s+sgdisk\s+gdisk$/m);
  assert.match(r.stdout, /^ok\s+podman\s/m);
  assert.match(r.stdout, /missing: install with scripts\/setup-host\.sh \(apt-get install .*\bgdisk\b/);
});
