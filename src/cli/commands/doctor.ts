import type { Command } from "commander";
import { checkHost, checkKvm, type HostCheck } from "../../host/doctor.ts";
import { printJson, table } from "../output.ts";

const install = (missing: HostCheck[]) => `apt-get install ${[...new Set(missing.map((m) => m.pkg))].join(" ")}`;

export function register(program: Command): void {
  program
    .command("doctor")
    .description("check the host: every tool icos uses (required by a command, or only by the tests) and whether QEMU can use KVM; exit 1 if a required one is missing")
    .option("--json", "print { ok, checks: [{ name, need, found, version, pkg, ... }], missing: { required, tests }, kvm: { usable, accel, reason } } as JSON")
    .addHelpText("after", "\nExample:\n  $ icos doctor\n  $ icos doctor --json | jq '.checks[] | select(.found == false)'")
    .action(async (opts: { json?: boolean }) => {
      const checks = await checkHost();
      const qemu = checks.find((c) => c.name === "qemu-system-x86_64")?.version;
      const kvm = checkKvm({ qemuVersion: qemu });
      const required = checks.filter((c) => !c.found && c.need === "required");
      const forTests = checks.filter((c) => !c.found && c.need === "tests");
      if (opts.json) {
        printJson({ ok: required.length === 0, checks, missing: { required: required.map((c) => c.name), tests: forTests.map((c) => c.name) }, kvm });
      } else {
        const status = (c: HostCheck) => (c.found ? "ok" : c.need === "required" ? "MISSING" : "warning");
        const rows = checks.map((c) => [status(c), c.name, c.version ?? "", c.pkg, c.need === "required" ? "required" : "for tests"]);
        const lines = [table(["status", "tool", "version", "package", "needed"], rows), ""];
        lines.push(`kvm: ${kvm.accel === "probe" ? "to be probed" : kvm.accel.toUpperCase()}: ${kvm.reason}`);
        const needed = checks.filter((c) => c.need === "required").length;
        lines.push(required.length === 0 ? `all ${needed} required checks passed` : `${required.length} required missing: install with scripts/setup-host.sh (${install(required)})`);
        if (forTests.length > 0) lines.push(`warning: ${forTests.length} used only by the tests missing: ${forTests.map((c) => c.name).join(", ")} (${install(forTests)}); icos's commands work without them`);
        console.log(lines.join("\n"));
      }
      if (required.length > 0) process.exitCode = 1;
    });
}
