// Reading the data files of OS definitions (YAML) and reporting problems as `path: message`:
// YAML syntax errors with file:line:col, schema errors with the path through the document, each
// list entry named by its `name` when it has one.
import { readFileSync } from "node:fs";
import { LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { UserError, ValidationError } from "../errors.ts";

export const show = (v: unknown): string => JSON.stringify(v) ?? String(v);
// Every leaf says what it wanted and quotes what it got; a missing key just says "required".
export const expected = (what: string) => (iss: { input?: unknown }) =>
  iss.input === undefined ? "required" : `expected ${what}, got ${show(iss.input)}`;
export const oneOf = (values: readonly string[]) => expected(`one of ${values.join(", ")}`);

export function strict<T extends z.ZodRawShape>(shape: T, what: string) {
  const keys = Object.keys(shape).join(", ");
  // zodProblems() puts each unknown key into the path, so the message only lists the valid ones.
  return z.strictObject(shape, {
    error: (iss) => (iss.code === "unrecognized_keys" ? `unknown key (valid keys: ${keys})` : expected(what)(iss)),
  });
}

/** YAML text to plain data; every syntax error reported as `file:line:col: message`. */
export function parseYaml(text: string, file: string): unknown {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const at = (pos: number) => {
      const { line, col } = lineCounter.linePos(pos);
      return `${file}:${line}:${col}`;
    };
    throw new ValidationError(file, doc.errors.map((e) => `${at(e.pos[0])}: ${e.message}`));
  }
  try {
    return doc.toJS();
  } catch (e) {
    // e.g. an alias to an undefined anchor, found only when building the value
    throw new ValidationError(file, [`${file}: ${(e as Error).message}`]);
  }
}

export function readYamlFile(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new UserError(`cannot read ${what} ${file}: ${(e as Error).message}`);
  }
  return parseYaml(text, file);
}

/** A zod error as `path: message` lines; an unknown key gets its own line with its path. */
export function zodProblems(error: z.ZodError, data: unknown): string[] {
  return error.issues.flatMap((iss) =>
    iss.code === "unrecognized_keys"
      ? iss.keys.map((key) => `${describePath([...iss.path, key], data)}: ${iss.message}`)
      : [`${describePath(iss.path, data)}: ${iss.message}`],
  );
}

// `partitions[3] (A_root).lvm.volumes[0] (config).size`: indices as in the file (from 0), plus the
// name the file gives that entry, so the reader need not count.
function describePath(path: readonly PropertyKey[], data: unknown): string {
  let out = "";
  let node = data;
  for (const key of path) {
    node = typeof node === "object" && node !== null ? (node as Record<PropertyKey, unknown>)[key] : undefined;
    if (typeof key === "number") {
      const name = typeof node === "object" && node !== null ? (node as { name?: unknown }).name : undefined;
      out += `[${key}]` + (typeof name === "string" && name !== "" ? ` (${name})` : "");
    } else out += (out ? "." : "") + String(key);
  }
  return out || "(top level)";
}
