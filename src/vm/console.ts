// What icos reads on a guest's serial console: the ready line, a kernel panic, boot milestones.
// Pure text functions, shared by the VM handle (vm.ts) and `icos run`.

/**
 * The line a guest prints on its console once boot is over:
 * `icos-ready: state=<systemctl is-system-running> failed=<number of failed units>`.
 * Not anchored at the start: kernel messages on the same console can share the line.
 */
export const READY_LINE = /icos-ready: state=([a-z-]+) failed=(\d+)/;
export const PANIC_LINE = /Kernel panic - not syncing/;

/** Boot stages recognisable on the console, in order; used for progress reports. */
export const MILESTONES: readonly { name: string; pattern: RegExp }[] = [
  { name: "firmware", pattern: /BdsDxe: / },
  { name: "bootloader", pattern: /Welcome to GRUB|GNU GRUB/ },
  { name: "kernel", pattern: /Linux version \d|EFI stub: / },
  { name: "systemd", pattern: /systemd\[1\]: |systemd \d+ running/ },
];


/** Console text without ANSI escape sequences, carriage returns or other control characters. */
export function cleanConsoleText(text: string): string {
  return text
    .replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, "") // CSI: colours, cursor moves, clear screen
    .replace(/\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g, "") // OSC
    .replace(/\x1b[@-Z\\-_]/g, "") // two-byte escapes
    .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, "");
}

export interface ReadyState {
  state: string;
  failed: number;
  /** state=running and no failed unit. */
  ok: boolean;
}

export function parseReadyLine(line: string): ReadyState | undefined {
  const m = READY_LINE.exec(line);
  if (!m) return undefined;
  const failed = Number(m[2]);
  return { state: m[1]!, failed, ok: m[1] === "running" && failed === 0 };
}

export function lastLines(text: string, n: number): string {
  return text.trim().split("\n").slice(-n).join("\n");
}
