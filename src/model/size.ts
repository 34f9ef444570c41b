// Sizes as people write them in layout files: "100M", "1.5G", "16896". Suffixes are binary
// (K = 1024), as in sfdisk and mke2fs, because partition sizes are about sectors, not marketing.
import { UserError } from "../errors.ts";

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
export const TiB = 1024 * GiB;
/** The largest byte count (a size, or an offset on a disk) icos computes with exactly: 2^53 - 1, about 8 PiB. */
export const MAX_BYTES = Number.MAX_SAFE_INTEGER;

const UNITS: Readonly<Record<string, bigint>> = { "": 1n, K: 1024n, M: 1024n ** 2n, G: 1024n ** 3n, T: 1024n ** 4n };
// Largest first, so formatSize picks the shortest exact spelling.
const FORMAT_UNITS = ["T", "G", "M", "K"] as const;
const MAX_FRACTION_DIGITS = 3;

export type SizeResult = { ok: true; bytes: number } | { ok: false; message: string };

/** Parses a size; never throws. The message quotes the bad value and fits after `path: `. */
export function checkSize(value: unknown): SizeResult {
  const bad = (why?: string): SizeResult => ({
    ok: false,
    message: `expected a size like "512M", got ${JSON.stringify(value) ?? String(value)}` + (why ? ` (${why})` : ""),
  });
  if (typeof value !== "string") return bad();
  const text = value.trim();
  if (text.startsWith("-")) return bad("sizes cannot be negative");
  const m = /^(\d+)(?:\.(\d+))?([A-Za-z]*)$/.exec(text);
  if (!m) return bad();
  const [, whole = "", fraction = "", suffix = ""] = m;
  const unit = UNITS[suffix];
  if (unit === undefined) return bad(`unknown suffix "${suffix}"; use K, M, G or T (powers of 1024), or none for bytes`);
  // Exact arithmetic: "1.5G" is fine, "1.3" or "0.3K" is not a whole number of bytes.
  const scale = 10n ** BigInt(fraction.length);
  const scaled = BigInt(whole + fraction) * unit;
  if (scaled % scale !== 0n) return bad("not a whole number of bytes");
  const bytes = scaled / scale;
  if (bytes > BigInt(MAX_BYTES)) return bad(`too large: at most ${MAX_BYTES} bytes, about 8P`);
  return { ok: true, bytes: Number(bytes) };
}

/** "100M" -> 104857600. Throws a UserError quoting the bad value. */
export function parseSize(text: string): number {
  const r = checkSize(text);
  if (!r.ok) throw new UserError(r.message);
  return r.bytes;
}

/**
 * 104857600 -> "100M", 1610612736 -> "1.5G", 16896 -> "16.5K", 512 -> "512". Always exact (the
 * largest unit that needs at most 3 decimals, else bytes), so parseSize(formatSize(n)) === n.
 */
export function formatSize(bytes: number): string {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`formatSize: not a byte count: ${bytes}`);
  const n = BigInt(bytes);
  const digits = 10n ** BigInt(MAX_FRACTION_DIGITS);
  for (const suffix of FORMAT_UNITS) {
    const unit = UNITS[suffix] ?? 1n;
    if (n < unit || (n * digits) % unit !== 0n) continue;
    const whole = n / unit;
    const fraction = (((n % unit) * digits) / unit).toString().padStart(MAX_FRACTION_DIGITS, "0").replace(/0+$/, "");
    return `${whole}${fraction ? "." + fraction : ""}${suffix}`;
  }
  return String(bytes);
}

/** Rounds up to a multiple of `unit` (both in bytes or both in sectors). */
export function roundUp(value: number, unit: number): number {
  return Math.ceil(value / unit) * unit;
}

/** Bytes as `ls -h` shows them (binary units): 512B, 4.0K, 100M, 1.5G. */
export function humanSize(bytes: number): string {
  const units = ["B", "K", "M", "G", "T", "P"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${bytes}B`;
  // One decimal below 10 (as ls -h), unless rounding takes it to 10.
  const text = value < 9.95 ? value.toFixed(1) : String(Math.round(value));
  return `${text}${units[unit]}`;
}
