// The error taxonomy. The CLI's one top-level catch (src/cli/main.ts) turns these into
// messages and exit codes; anything else reaching it is our bug.

/** A user's mistake: bad input, bad arguments, a missing file. Exit code 2. */
export class UserError extends Error {
  readonly exitCode = 2;
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = "UserError";
  }
}

/** Every problem found in one input file, each as `path: message`. Exit code 2. */
export class ValidationError extends UserError {
  constructor(
    readonly file: string,
    readonly problems: string[],
    hint?: string,
  ) {
    super(`${file}: ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n` + problems.map((p) => `  ${p}`).join("\n"), hint);
    this.name = "ValidationError";
  }
}

/** A host tool icos needs is not installed. Exit code 2: setup fixes it, not a retry. */
export class ToolMissingError extends UserError {
  constructor(
    readonly command: string,
    readonly pkg: string | undefined,
  ) {
    super(
      `required tool '${command}' is not installed` + (pkg ? ` (Debian package: ${pkg})` : ""),
      "run scripts/setup-host.sh, then `icos doctor` to check",
    );
    this.name = "ToolMissingError";
  }
}

/** A tool ran and failed. Exit code 1. */
export class ToolFailedError extends Error {
  readonly exitCode = 1;
  constructor(
    readonly commandLine: string,
    readonly status: string,
    readonly stderrTail: string,
    readonly context?: string,
  ) {
    super(
      (context ? `${context} failed\n  ` : "") +
        `command: ${commandLine}\n  ${status}` +
        (stderrTail ? `; stderr (last lines):\n    ${stderrTail.split("\n").join("\n    ")}` : ""),
    );
    this.name = "ToolFailedError";
  }
}
