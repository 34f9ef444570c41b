// A resolved layout as a GPT. Partition and disk GUIDs come from the resolved layout (name-based,
// computed once there), so the same layout always gives the same table.
import { PARTITION_TYPES, type GptDisk } from "../formats/gpt.ts";
import type { ResolvedLayout } from "../model/layout.ts";

export function gptFromLayout(layout: ResolvedLayout): GptDisk {
  return {
    sectorSize: layout.sectorSize,
    sizeBytes: layout.sizeBytes,
    diskGuid: layout.diskGuid,
    entryCount: 128,
    entrySize: 128,
    partitions: layout.partitions.map((p) => ({
      index: p.index,
      typeGuid: PARTITION_TYPES[p.type],
      partGuid: p.partGuid,
      firstLba: p.startLba,
      lastLba: p.startLba + p.sizeLba - 1,
      attributes: 0n,
      name: p.name,
    })),
  };
}
