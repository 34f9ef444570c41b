// Build targets: "<os>/<variant>", e.g. guestos/dev.
import { join } from "node:path";
import { UserError } from "../errors.ts";
import { IC_OS_DIR, OS_NAMES } from "../paths.ts";
import { loadOs, type OsDefinition } from "./os.ts";

export interface Target {
  os: OsDefinition;
  variant: string;
  /** "guestos/dev" */
  id: string;
}

export function parseTarget(text: string): Target {
  const m = /^([a-z0-9-]+)\/([a-z0-9-]+)$/.exec(text);
  if (!m) throw new UserError(`bad target ${JSON.stringify(text)}: expected <os>/<variant>, e.g. guestos/dev`);
  const [, osName, variant] = m as unknown as [string, string, string];
  if (!(OS_NAMES as readonly string[]).includes(osName)) {
    throw new UserError(`unknown OS ${JSON.stringify(osName)} in target ${text}`, `known: ${OS_NAMES.join(", ")}`);
  }
  const os = loadOs(join(IC_OS_DIR, osName, "os.yaml"));
  if (!(variant in os.variants)) {
    throw new UserError(`unknown variant ${JSON.stringify(variant)} of ${osName}`, `${osName} has: ${Object.keys(os.variants).join(", ")}`);
  }
  return { os, variant, id: `${osName}/${variant}` };
}
