// Finding the partitions of an A/B set in a resolved layout.
import { UserError } from "../errors.ts";
import type { Contents, ResolvedLayout, ResolvedPartition } from "./layout.ts";

export function slotPartition(layout: ResolvedLayout, contents: Contents, slot: "A" | "B"): ResolvedPartition {
  const p = layout.partitions.find((x) => x.contents === contents && x.slot === slot);
  if (!p) throw new UserError(`layout ${layout.name}: no ${contents} partition for slot ${slot}`);
  return p;
}

export function partitionOf(layout: ResolvedLayout, contents: Contents): ResolvedPartition {
  const p = layout.partitions.find((x) => x.contents === contents);
  if (!p) throw new UserError(`layout ${layout.name}: no partition with contents ${contents}`);
  return p;
}
