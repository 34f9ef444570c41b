// A resolved layout as a GPT: partition and disk GUIDs are name-based (image + partition name),
// so the same layout always gives the same table.
import { PARTITION_TYPES, type GptDisk } from "../formats/gpt.ts";
import { nameGuid } from "../formats/guid.ts";
import type { ResolvedLayout } from "../model/layout.ts";

export function gptFromLayout(layout: ResolvedLayout): GptDisk {
  return {
    sectorSize: layout.sectorSize,
    sizeBytes: layout.sizeBytes,
    diskGuid: nameGuid(layout.name, "disk"),
    entryCount: 128,
    entrySize: 128,
    partitions: layout.partitions.map((p) => ({
      index: p.index,
      typeGuid: PARTITION_TYPES[p.type],
      partGuid: nameGuid(layout.name, p.name),
      firstLba: p.startLba,
      lastLba: p.startLba + p.sizeLba - 1,
      attributes: 0n,
      name: p.name,
    })),
  };
}
