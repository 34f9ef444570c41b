// The addresses and name a node gets from its configuration, as IC-OS derives them
// (ic-os-facts.md, "Deterministic MAC"; IC-OS rs/ic_os/deterministic_ips):
//   seed = "<mgmt mac, lowercase colon form><deployment environment, lowercase>\n"; h = sha256(seed)
//   slot < 16:  6a : (type | slot<<4) : h0 : h1 : h2 : h3
//   slot >= 16: 7a : type : slot : h0 : h1 : h2
//   IPv6 = the EUI-64 (SLAAC) address of that MAC in the /64 prefix.
// The device side does the same in shell (ic-os/components/network-config/opt/ic/bin/icos-derive.sh);
// test/fixtures/config/derive-vectors.json holds vectors both implementations are checked against.
import { createHash } from "node:crypto";
import { UserError } from "../errors.ts";
import { IPV6 } from "./patterns.ts";
import type { NodeConfig } from "./schema.ts";

/** The type byte of each IC-OS node kind, in the second octet of its derived MAC. */
export const NODE_TYPES = { SetupOS: 0x0f, HostOS: 0x00, GuestOS: 0x01, UpgradeGuestOS: 0x02 } as const;
export type NodeType = keyof typeof NODE_TYPES;

const MAC_FORMS = /^[0-9A-Fa-f]{2}([:-]?)[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4}$/;

/** "70:B5:E8:E8:25:DE", "70-b5-..." or "70b5e8e825de" -> "70:b5:e8:e8:25:de"; undefined if not a MAC. */
export function normaliseMac(text: string): string | undefined {
  if (!MAC_FORMS.test(text)) return undefined;
  const hex = text.replace(/[:-]/g, "").toLowerCase();
  return hex.match(/../g)!.join(":");
}

function macBytes(mac: string, what: string): number[] {
  const norm = normaliseMac(mac);
  if (norm === undefined) throw new UserError(`${what}: expected a MAC address like "70:b5:e8:e8:25:de", got ${JSON.stringify(mac)}`);
  return norm.split(":").map((h) => parseInt(h, 16));
}

const hex2 = (b: number): string => b.toString(16).padStart(2, "0");

export interface DeriveMacOptions {
  /** The management (BMC) MAC of the machine, any case, with or without colons. */
  mgmtMac: string;
  /** "mainnet" or "testnet"; lowercased for the seed. */
  deploymentEnvironment: string;
  nodeType: NodeType;
  /** 0-255; 0 unless several VMs of one type run on a host. */
  slot?: number;
}

/** The deterministic MAC of a node, lowercase colon form. */
export function deriveMac(o: DeriveMacOptions): string {
  const mgmt = macBytes(o.mgmtMac, "mgmt MAC").map(hex2).join(":");
  const slot = o.slot ?? 0;
  if (!Number.isInteger(slot) || slot < 0 || slot > 255) throw new UserError(`deriveMac: slot must be an integer 0-255, got ${slot}`);
  const type = NODE_TYPES[o.nodeType];
  if (type === undefined) throw new UserError(`deriveMac: unknown node type ${JSON.stringify(o.nodeType)} (valid: ${Object.keys(NODE_TYPES).join(", ")})`);
  const h = createHash("sha256").update(`${mgmt}${o.deploymentEnvironment.toLowerCase()}\n`).digest();
  const bytes = slot < 16 ? [0x6a, type | (slot << 4), h[0]!, h[1]!, h[2]!, h[3]!] : [0x7a, type, slot, h[0]!, h[1]!, h[2]!];
  return bytes.map(hex2).join(":");
}

/** An IPv6 address as 16 bytes (IPv4-embedded forms included); undefined if not an address. */
export function parseIpv6(text: string): Uint8Array | undefined {
  if (!IPV6.test(text)) return undefined;
  const groups = (part: string): number[] => {
    if (part === "") return [];
    const out: number[] = [];
    for (const g of part.split(":")) {
      if (g.includes(".")) {
        const [a, b, c, d] = g.split(".").map(Number) as [number, number, number, number];
        out.push((a << 8) | b, (c << 8) | d);
      } else out.push(parseInt(g, 16));
    }
    return out;
  };
  const [head, tail] = text.split("::") as [string, string | undefined];
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return bytes;
}

/** RFC 5952 text: lowercase, no leading zeros, the longest run (2+) of zero groups as "::". */
export function formatIpv6(bytes: Uint8Array): string {
  const g = Array.from({ length: 8 }, (_, i) => (bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j === i ? i + 1 : j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best.len < 2) return hex.join(":");
  return `${hex.slice(0, best.at).join(":")}::${hex.slice(best.at + best.len).join(":")}`;
}

/**
 * The first 8 bytes of a /64 prefix written as IC-OS does ("2a00:fb01:400:200", exactly four
 * groups) or as an address ending in "::" ("2a00:fb01:400:200::", nothing set past bit 64);
 * undefined otherwise.
 */
export function parsePrefix64(prefix: string): Uint8Array | undefined {
  if (!prefix.includes("::")) {
    if (prefix.split(":").length !== 4) return undefined;
    return parseIpv6(`${prefix}::`)?.subarray(0, 8);
  }
  const bytes = parseIpv6(prefix);
  if (bytes === undefined || bytes.subarray(8).some((b) => b !== 0)) return undefined;
  return bytes.subarray(0, 8);
}

/** A /64 prefix in IC-OS's form: four groups, lowercase, no "::" ("2a00:fb01:400:200"). */
export function normalisePrefix(prefix: string): string | undefined {
  const b = parsePrefix64(prefix);
  if (b === undefined) return undefined;
  return Array.from({ length: 4 }, (_, i) => ((b[2 * i]! << 8) | b[2 * i + 1]!).toString(16)).join(":");
}

/** The EUI-64 SLAAC address of `mac` in the /64 `prefix`, RFC 5952 text. */
export function eui64Address(prefix: string, mac: string): string {
  const p = parsePrefix64(prefix);
  if (p === undefined) throw new UserError(`eui64Address: expected a /64 prefix like "2a00:fb01:400:200", got ${JSON.stringify(prefix)}`);
  const m = macBytes(mac, "eui64Address");
  const bytes = new Uint8Array(16);
  bytes.set(p, 0);
  bytes.set([m[0]! ^ 0x02, m[1]!, m[2]!, 0xff, 0xfe, m[3]!, m[4]!, m[5]!], 8);
  return formatIpv6(bytes);
}

/** The MAC of the GuestOS VM (slot 0 unless given) of a node. */
export function guestMac(config: NodeConfig, slot = 0): string {
  const { mgmt_mac, deployment_environment } = config.icos_settings;
  return deriveMac({ mgmtMac: mgmt_mac, deploymentEnvironment: deployment_environment, nodeType: "GuestOS", slot });
}

/**
 * The GuestOS's IPv6 address (no length): derived for Deterministic, as given for Fixed,
 * undefined for RouterAdvertisement (the router's prefix is not known here).
 */
export function guestIpv6(config: NodeConfig): string | undefined {
  const v6 = config.network_settings.ipv6_config;
  if (v6 === "RouterAdvertisement") return undefined;
  if ("Deterministic" in v6) return eui64Address(v6.Deterministic.prefix, guestMac(config));
  return formatIpv6(parseIpv6(v6.Fixed.address.split("/")[0]!)!);
}

/**
 * The GuestOS hostname, as IC-OS's setup-hostname names nodes `<type>-<mgmt mac>[-<node id>]`:
 * the dev override if set, else "guest-" + the mgmt MAC in lowercase hex without colons. The
 * "-<node id>" suffix is the device's to add (the node id exists only once the node has keys).
 */
export function guestHostname(config: NodeConfig): string {
  const override = config.guestos_settings.guestos_dev_settings?.hostname;
  if (override !== undefined) return override;
  return `guest-${config.icos_settings.mgmt_mac.replace(/:/g, "").toLowerCase()}`;
}
