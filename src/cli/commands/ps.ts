import type { Command } from "commander";
import { listVms, vmWhat, type VmRecord } from "../../vm/registry.ts";
import { printJson, table } from "../output.ts";

/** "45s", "12m05s", "3h07m", "2d04h". */
export function formatUptime(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const pad = (n: number) => String(n).padStart(2, "0");
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${pad(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86_400)}d${pad(Math.floor(s / 3600) % 24)}h`;
}

function asJson(v: VmRecord, now: number) {
  return {
    name: v.name,
    target: v.target ?? null,
    disk: v.disk,
    pid: v.pid,
    sshPort: v.sshPort,
    serialLog: v.serialLog,
    workDir: v.workDir,
    uptimeSeconds: Math.floor((now - v.startedAt) / 1000),
    startedAt: new Date(v.startedAt).toISOString(),
    accel: v.accel,
    configMedia: v.configMedia ?? null,
  };
}

export function register(program: Command): void {
  program
    .command("ps")
    .description("list the VMs `icos run` left running (--keep): name, target, QEMU pid, ssh port, uptime, serial log and work dir")
    .option("--json", "print [{ name, target, disk, pid, sshPort, serialLog, workDir, uptimeSeconds, startedAt, accel, configMedia }] as JSON")
    .addHelpText(
      "after",
      "\nExample:\n  $ icos ps\n  $ icos ps --json | jq -r '.[].name'\n" +
        "\nA VM is listed while its QEMU runs; a record whose QEMU is gone is dropped. VMs are found under $ICOS_CACHE_DIR/vm (default .icos-cache/vm).",
    )
    .action((opts: { json?: boolean }) => {
      const now = Date.now();
      const vms = listVms();
      if (opts.json) return printJson(vms.map((v) => asJson(v, now)));
      if (vms.length === 0) return console.log("no VMs running (start one with `icos run <target> --wait-ready --keep`)");
      console.log(
        table(
          ["name", "target", "pid", "ssh", "uptime", "serial log", "work dir"],
          vms.map((v) => [v.name, vmWhat(v), String(v.pid), `127.0.0.1:${v.sshPort}`, formatUptime(now - v.startedAt), v.serialLog, v.workDir]),
        ),
      );
    });
}
