// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) as e2fsprogs and the kernel use it for
// ext4 and LVM2 metadata: no inversion inside, so a caller passes ~0 to start a fresh checksum and
// chains the result into the next call.
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** Continue the CRC-32C `crc` over `bytes` (start with 0xffffffff; invert at the end for the standard CRC-32C). */
export function crc32c(crc: number, bytes: Uint8Array): number {
  let c = crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return c >>> 0;
}
