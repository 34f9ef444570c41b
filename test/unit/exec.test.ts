// run()'s --verbose echo: quiet by default; when on, each line a tool prints (stdout and stderr)
// is copied, tagged with the command, after the command line itself; binary output is named once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { echoToolOutput, run } from "../../src/exec.ts";

async function echoed(work: () => Promise<unknown>): Promise<string> {
  const chunks: string[] = [];
  echoToolOutput((text) => chunks.push(text));
  try {
    await work();
  } finally {
    echoToolOutput(undefined);
  }
  return chunks.join("");
}

test("nothing is echoed by default, and the caller still gets stdout", async () => {
  const r = await run("sh", ["-c", "echo out; echo err >&2"]);
  assert.equal(r.stdout, "out\n");
  assert.equal(r.stderr, "err\n");
});

test("with echo on: the command line, then each line of stdout and stderr tagged with the tool", async () => {
  let r: { stdout: string } | undefined;
  const text = await echoed(async () => (r = await run("sh", ["-c", "printf 'one\\ntwo'; echo err >&2"])));
  assert.equal(r!.stdout, "one\ntwo", "the caller's stdout is unchanged");
  const lines = text.split("\n");
  assert.equal(lines[0], `$ sh -c 'printf '\\''one\\ntwo'\\''; echo err >&2'`);
  assert.deepEqual(lines.slice(1).sort(), ["", "sh: err", "sh: one", "sh: two"]);
});

test("a failed tool's output is echoed too; binary output is named, not shown", async () => {
  const text = await echoed(async () => {
    await run("sh", ["-c", "echo why >&2; exit 3"], { allowFailure: true });
    await run("head", ["-c", "64", "/dev/zero"]);
  });
  assert.match(text, /^sh: why$/m);
  assert.match(text, /^head: \(binary output, not shown\)$/m);
  assert.doesNotMatch(text, /\0/);
});
