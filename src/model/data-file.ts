// Reading the data files of OS definitions (YAML) and reporting problems as `path: message`:
// YAML syntax errors with file:line:col, schema errors with the path through the document, each
// list entry named by its `name` when it has one.
import { LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { ValidationError } from "../errors.ts";
import { readInputText } from "../user-files.ts";

/** Data files (layouts, OS definitions, node configs) are a few KiB: larger is not one of ours. */
export const MAX_DATA_FILE_BYTES = 1 << 20;
/** Arrays and objects inside each other: ours nest at most 6 deep; the parsers and zod recurse. */
export const MAX_DATA_NESTING = 64;

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
    // The parser recurses into flow collections and reports running out of stack as an error.
    const message = (e: (typeof doc.errors)[number]) => (e.code === "RESOURCE_EXHAUSTION" ? `nested too deeply to parse (${e.message})` : e.message);
    throw new ValidationError(file, doc.errors.map((e) => `${at(e.pos[0])}: ${message(e)}`));
  }
  let data: unknown;
  try {
    data = doc.toJS(); // aliases are expanded here, within yaml's maxAliasCount
  } catch (e) {
    // e.g. an alias to an undefined anchor, found only when building the value
    throw new ValidationError(file, [`${file}: ${(e as Error).message}`]);
  }
  checkNesting(data, file);
  return data;
}

/** Throws a ValidationError when `data` nests deeper than MAX_DATA_NESTING (before zod recurses into it). */
export function checkNesting(data: unknown, file: string): void {
  if (nestedDeeperThan(data, MAX_DATA_NESTING)) {
    throw new ValidationError(file, [`(top level): arrays and objects are nested more than ${MAX_DATA_NESTING} levels deep`], "is this the right file? icos data files nest a few levels deep");
  }
}

/**
 * True when arrays and objects in `value` nest more than `limit` deep ([] is 1, [[]] is 2).
 * Iterative, so no depth overflows the stack, and linear in the nodes even when YAML aliases
 * share them (each node's height is kept once known); a cycle counts as too deep.
 */
export function nestedDeeperThan(value: unknown, limit: number): boolean {
  const isNode = (v: unknown): v is object => typeof v === "object" && v !== null;
  if (!isNode(value)) return false;
  const heights = new Map<object, number>();
  const stack: { node: object; kids: unknown[]; next: number; height: number }[] = [];
  const push = (node: object) => stack.push({ node, kids: Array.isArray(node) ? node : Object.values(node), next: 0, height: 1 });
  push(value);
  while (stack.length > 0) {
    if (stack.length > limit) return true;
    const top = stack[stack.length - 1]!;
    if (top.next < top.kids.length) {
      const kid = top.kids[top.next++];
      if (!isNode(kid)) continue;
      const known = heights.get(kid);
      if (known === undefined) push(kid);
      else if (stack.length + known > limit) return true;
      else top.height = Math.max(top.height, known + 1);
      continue;
    }
    stack.pop();
    heights.set(top.node, top.height);
    const parent = stack[stack.length - 1];
    if (parent) parent.height = Math.max(parent.height, top.height + 1);
  }
  return false;
}

/** A YAML data file, at most MAX_DATA_FILE_BYTES; unreadable or not a regular file is a UserError. */
export function readYamlFile(file: string, what: string): unknown {
  return parseYaml(readInputText(file, `cannot read ${what} ${file}`, { maxBytes: MAX_DATA_FILE_BYTES }), file);
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
