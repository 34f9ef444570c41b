// GUIDs as GPT stores them. UEFI 2.10 Appendix A ("GUID and Time Formats"): the first three
// fields (time_low 4 bytes, time_mid 2, time_hi_and_version 2) are little-endian; the last two
// (clock_seq 2, node 6) are stored in text order. So the ESP type C12A7328-F81F-11D2-BA4B-...
// is stored as 28 73 2a c1 1f f8 d2 11 ba 4b ...
import { v5 as uuidv5 } from "uuid";
import { FormatError } from "./format-error.ts";

export const GUID_BYTES = 16;

/** The all-zero GUID: in a GPT entry it marks an unused slot (UEFI 2.10 section 5.3.3). */
export const ZERO_GUID = "00000000-0000-0000-0000-000000000000";

// Root of icos's name-based GUIDs. Never change it: every image's disk and partition GUIDs
// derive from it, and changing it changes every image's bytes.
export const ICOS_GUID_NAMESPACE = "B8C12E0A-17F5-471E-BFDA-3AE432E2F0DE";

const GUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// Byte order of each text hex pair in the stored form: field 1 reversed (bytes 3..0), field 2
// reversed (5,4), field 3 reversed (7,6), then bytes 8..15 as written.
const STORED_ORDER = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15] as const;

export function isGuid(text: string): boolean {
  return GUID_TEXT.test(text);
}

/** Canonical text form: upper case, as the UEFI spec and sgdisk print GUIDs. */
export function normalizeGuid(text: string): string {
  if (!isGuid(text)) {
    throw new FormatError(`guid: expected a GUID like "C12A7328-F81F-11D2-BA4B-00A0C93EC93B", got ${JSON.stringify(text)}`);
  }
  return text.toUpperCase();
}

/** Text -> the 16 bytes GPT stores (mixed-endian). */
export function guidToBytes(text: string): Buffer {
  const hex = normalizeGuid(text).replace(/-/g, "");
  const textOrder = Buffer.from(hex, "hex");
  const out = Buffer.alloc(GUID_BYTES);
  STORED_ORDER.forEach((from, to) => (out[to] = textOrder[from]!));
  return out;
}

/** The 16 stored bytes at `offset` -> upper-case text. */
export function guidFromBytes(bytes: Uint8Array, offset = 0): string {
  if (offset < 0 || offset + GUID_BYTES > bytes.length) {
    throw new FormatError(`guid: need ${GUID_BYTES} bytes at offset ${offset}, have ${bytes.length - offset}`);
  }
  const textOrder = Buffer.alloc(GUID_BYTES);
  STORED_ORDER.forEach((from, to) => (textOrder[from] = bytes[offset + to]!));
  const h = textOrder.toString("hex").toUpperCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * A deterministic name-based (RFC 9562 version 5) GUID for `name` within `namespace`, e.g.
 * nameGuid("guestos", "root_a"). The namespace string is itself first hashed under
 * ICOS_GUID_NAMESPACE, so any string (an image name) can serve as a namespace. Same inputs,
 * same GUID: this is what makes disk and partition GUIDs reproducible without randomness.
 */
export function nameGuid(namespace: string, name: string): string {
  const ns = uuidv5(namespace, ICOS_GUID_NAMESPACE.toLowerCase());
  return uuidv5(name, ns).toUpperCase();
}
