// Printing shared by the commands: aligned tables, JSON, the error report (as text, and as JSON
// for --json), and whether escape codes may be written at all.
import { CommanderError } from "commander";
import { ToolFailedError, ToolMissingError, UserError, ValidationError } from "../errors.ts";
import { FormatError } from "../formats/format-error.ts";

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2) + "\n");
}

/**
 * Escape codes only for a terminal, never when NO_COLOR is set to anything (no-color.org) or
 * TERM=dumb: output that goes to a file, a pipe or a CI log stays plain text.
 */
export function colorAllowed(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && !env.NO_COLOR && env.TERM !== "dumb";
}

/** Removes ANSI escape sequences (CSI, OSC, then any two-byte ESC x), e.g. from a tool's output for a log. */
export function stripEscapes(text: string): string {
  return text
    .replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, "")
    .replace(/\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g, "")
    .replace(/\x1b[0-~]/g, "");
}

/** `error:` in bold red on a terminal that allows it, plain otherwise. */
export function errorLabel(color: boolean): string {
  return color ? "\x1b[1;31merror:\x1b[0m" : "error:";
}

/** One error, as the top-level catch reports it; the same fields go into --json's { error }. */
export interface ErrorReport {
  /** The error class: UserError, ValidationError, ToolMissingError, ToolFailedError, VmError, UsageError, InternalError ... */
  name: string;
  message: string;
  hint?: string;
  exitCode: number;
  /** More fields by kind: problems of a file, the failed command, a VM's failure kind. */
  [detail: string]: unknown;
}

const JSON_FIELDS = Symbol("icos.jsonFields");

/**
 * Fields a command wants beside `error` in its --json error object, so that a failed command
 * still prints one JSON document (e.g. `icos run --json`'s summary of a boot that failed).
 */
export function withJsonFields<E extends object>(err: E, fields: Record<string, unknown>): E {
  Object.defineProperty(err, JSON_FIELDS, { value: fields, enumerable: false });
  return err;
}

export function jsonFieldsOf(err: unknown): Record<string, unknown> {
  return (typeof err === "object" && err !== null && (err as Record<symbol, Record<string, unknown>>)[JSON_FIELDS]) || {};
}

export function describeError(err: unknown, icosVersion: string): ErrorReport {
  if (err instanceof CommanderError) {
    return { name: "UsageError", message: err.message.replace(/^error: /, ""), hint: "run with --help for usage", exitCode: 2, code: err.code };
  }
  if (err instanceof UserError) {
    const report: ErrorReport = { name: err.name, message: err.message, hint: err.hint, exitCode: err.exitCode };
    if (err instanceof ValidationError) Object.assign(report, { file: err.file, problems: err.problems });
    if (err instanceof ToolMissingError) Object.assign(report, { command: err.command, package: err.pkg });
    return report;
  }
  if (err instanceof ToolFailedError) {
    const report: ErrorReport = { name: err.name, message: err.message, exitCode: err.exitCode, command: err.commandLine, status: err.status, stderrTail: err.stderrTail };
    if (err.context !== undefined) report.context = err.context;
    const kind = (err as { kind?: unknown }).kind; // VmError: timeout, panic, ...
    if (typeof kind === "string") report.kind = kind;
    return report;
  }
  if (err instanceof FormatError) return { name: err.name, message: err.message, exitCode: 2 };
  return {
    name: "InternalError",
    message: err instanceof Error ? err.message : String(err),
    hint: "this is a bug in icos, please report it with the stack",
    exitCode: 70,
    icosVersion,
    stack: err instanceof Error ? err.stack : undefined,
  };
}

/** The report as text for stderr: `error: message` and `  hint: ...`; an internal error with its stack. */
export function errorText(report: ErrorReport, color: boolean): string {
  if (report.name === "InternalError") {
    return `internal error in icos ${String(report.icosVersion)} (this is a bug, please report it):\n${typeof report.stack === "string" ? report.stack : report.message}`;
  }
  return `${errorLabel(color)} ${report.message}` + (report.hint ? `\n  hint: ${report.hint}` : "");
}
