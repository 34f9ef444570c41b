import type { Command } from "commander";
import { checkHost } from "../../host/doctor.ts";
import { printJson, table } from "../output.ts";

export function register(program: Command): void {
  program
    .command("doctor")
    .description("check that every host tool icos uses is installed; exit 1 if one is missing")
    .option("--json", "print the checks as JSON")
    .addHelpText("after", "\nExample:\n  $ icos doctor\n  $ icos doctor --json | jq '.[] | select(.found == false)'")
    .action(async (opts: { json?: boolean }) => {
      const checks = await checkHost();
      const missing = checks.filter((c) => !c.found);
      if (opts.json) printJson(checks);
      else {
        const rows = checks.map((c) => [c.found ? "ok" : "MISSING", c.name, c.version ?? "", c.pkg]);
        console.log(table(["status", "tool", "version", "package"], rows));
        console.log(
          missing.length === 0
            ? `\nall ${checks.length} checks passed`
            : `\n${missing.length} missing: install with scripts/setup-host.sh (apt-get install ${[...new Set(missing.map((m) => m.pkg))].join(" ")})`,
        );
      }
      if (missing.length > 0) process.exitCode = 1;
    });
}
