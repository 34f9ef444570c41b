// Tool versions are part of every stage key; asking each tool costs 0.1-0.3 s, so the answers are
// remembered on disk per binary (src/host/doctor.ts rememberedToolVersion). A stand-in tool that
// counts its calls shows when it is asked.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { rememberedToolVersion } from "../../../src/host/doctor.ts";
import { scratch } from "../../helpers/tmp.ts";

test("a tool's version is asked once per binary: again only when the binary changes", async (t) => {
  const dir = scratch(t);
  const tool = join(dir, "icos-fake-tool");
  const calls = join(dir, "calls");
  const write = (version: string) => {
    writeFileSync(tool, `#!/bin/sh\necho x >> "${calls}"\necho "fake-tool ${version}"\n`);
    chmodSync(tool, 0o755);
  };
  write("1.2.3");
  writeFileSync(calls, "");
  const env = { ...process.env, PATH: `${dir}:${process.env.PATH}` };
  const file = join(dir, "cache", "tool-versions.json");
  const asked = () => readFileSync(calls, "utf8").split("\n").filter(Boolean).length;
  process.env.PATH = env.PATH; // toolVersion runs the tool from the process's PATH
  t.after(() => (process.env.PATH = env.PATH!.slice(dir.length + 1)));
  assert.equal(await rememberedToolVersion("icos-fake-tool", ["--version"], file, env), "1.2.3");
  assert.equal(await rememberedToolVersion("icos-fake-tool", ["--version"], file, env), "1.2.3");
  assert.equal(asked(), 1);
  write("1.2.4"); // same size, another mtime
  utimesSync(tool, new Date(), new Date(Date.now() + 5000));
  assert.equal(await rememberedToolVersion("icos-fake-tool", ["--version"], file, env), "1.2.4");
  assert.equal(asked(), 2);
  assert.equal(await rememberedToolVersion("icos-fake-tool", ["-V"], file, env), "1.2.4", "other arguments are another question");
  assert.equal(asked(), 3);
});
