// Set every in-use inode's times of an ext4 image in place. mke2fs -d copies atime, mtime and ctime
// from the source tree (ctime cannot be set there); debugfs, one `sif` per field and inode, takes
// seconds for a root filesystem. This reads and rewrites only the initialised part of each
// group's inode table (src/formats/ext4-inodes.ts): the same bytes debugfs writes (the fast tier
// compares them), in a fraction of a second.
import { open } from "node:fs/promises";
import { EXT4_SUPERBLOCK, inodeTables, parseSuperblock, setTableTimes } from "../formats/ext4-inodes.ts";
import { FormatError } from "../formats/format-error.ts";
import { UserError } from "../errors.ts";

/**
 * Set atime, ctime and mtime of every in-use inode of the ext4 image `path` to `seconds`, and the
 * root directory's permission bits to `rootMode` when given; fsynced. Returns the inodes changed.
 */
export async function setInodeTimes(path: string, seconds: number, o: { rootMode?: number } = {}): Promise<number> {
  const fh = await open(path, "r+");
  try {
    const read = async (offset: number, bytes: number): Promise<Buffer> => {
      const buf = Buffer.alloc(bytes);
      const { bytesRead } = await fh.read(buf, 0, bytes, offset);
      if (bytesRead !== bytes) throw new FormatError(`ext4: ${bytes} bytes at offset ${offset} run past the end of the image`);
      return buf;
    };
    let changed = 0;
    try {
      const geo = parseSuperblock(await read(EXT4_SUPERBLOCK.offset, EXT4_SUPERBLOCK.bytes));
      for (const t of inodeTables(geo, await read(geo.gdtOffset, geo.gdtBytes))) {
        const table = await read(t.tableOffset, t.count * geo.inodeSize);
        const n = setTableTimes(geo, t, table, await read(t.bitmapOffset, geo.blockSize), seconds, o.rootMode);
        if (n > 0) await fh.write(table, 0, table.length, t.tableOffset);
        changed += n;
      }
    } catch (e) {
      if (e instanceof FormatError) throw new UserError(`${path}: ${e.message}`);
      throw e;
    }
    await fh.sync();
    return changed;
  } finally {
    await fh.close();
  }
}
