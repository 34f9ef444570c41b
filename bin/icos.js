#!/usr/bin/env node
// Entry point: runs the compiled CLI in dist/, which `npm run build` makes (scripts/setup-host.sh
// runs it). Without dist/ say so, instead of node's ERR_MODULE_NOT_FOUND stack.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const main = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  const root = fileURLToPath(new URL("..", import.meta.url));
  process.stderr.write(
    `error: icos is not compiled: ${fileURLToPath(main)} does not exist\n` +
      `  hint: in ${root}: run \`npm run build\` (after \`npm ci\`), or run from source: node --import tsx src/cli/main.ts ...\n`,
  );
  process.exit(2);
}
await import(main.href);
