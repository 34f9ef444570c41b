// sha256 of bytes and of files: the ground-floor hashing every layer uses (the build cache's
// digests in src/build/digest.ts, stage meta.json, update image signatures, upgrades).
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { pipeline } from "node:stream/promises";

export function sha256(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** sha256 of a file, streamed (disk images are many GiB). Stages record it in their meta.json. */
export async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  await pipeline(createReadStream(path, { highWaterMark: 1 << 22 }), h);
  return h.digest("hex");
}
