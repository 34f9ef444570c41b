// The text rules of the node configuration as regular expressions, so that one rule set serves
// both validators: zod checks them on the host, and they travel in the generated JSON Schema as
// `pattern` to the device, where a jq program checks them (ic-os/components/config-injection).
// They use only syntax that ECMAScript and Oniguruma (jq) read the same way: groups, classes,
// counted repeats, one back-reference; anchors are ^...$ around the whole pattern (the device
// turns them into \A...\z, since Oniguruma's $ also matches before a final newline).

const HEX_GROUP = "[0-9A-Fa-f]{1,4}";
const ZERO_GROUP = "0{1,4}";
const V4_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])";
const V4 = `${V4_OCTET}(?:\\.${V4_OCTET}){3}`;
const V4_ZERO = "0\\.0\\.0\\.0";

const whole = (body: string): RegExp => new RegExp(`^(?:${body})$`);

/** `n` groups each matching `g`, joined by ":" ("" for none). */
function groups(g: string, n: number): string {
  return n === 0 ? "" : n === 1 ? g : `${g}(?::${g}){${n - 1}}`;
}

/**
 * Every textual IPv6 form (RFC 4291 2.2: full, "::"-compressed, IPv4-embedded), no zone index.
 * `at(i)` is the pattern allowed for the 16-bit group at position i (0-7); `v4` the pattern for
 * an embedded IPv4 address in positions 6-7. Enumerates the compressed forms by how many groups
 * stand left (k) and right (j) of "::" (k + j <= 7), so positions are known.
 */
function ipv6Body(at: (i: number) => string, v4: string, o: { compressedOnly?: boolean } = {}): string {
  const seq = (from: number, n: number) => Array.from({ length: n }, (_, i) => at(from + i)).join(":");
  const forms = o.compressedOnly ? [] : [seq(0, 8), `${seq(0, 6)}:${v4}`];
  for (let k = 0; k <= 7; k++) {
    for (let j = 0; j <= 7 - k; j++) {
      forms.push(`${seq(0, k)}::${seq(8 - j, j)}`);
      if (j >= 2) forms.push(`${seq(0, k)}::${j > 2 ? `${seq(8 - j, j - 2)}:` : ""}${v4}`);
    }
  }
  return forms.map((f) => `(?:${f})`).join("|");
}

/** An IPv6 address (what node:net's isIPv6 accepts, without a zone). */
export const IPV6 = whole(ipv6Body(() => HEX_GROUP, V4));
/** An IPv4 address in dotted decimal, no leading zeros (node:net's isIPv4). */
export const IPV4 = whole(V4);
/** An IPv6 address with a prefix length 0-128 (one to three digits). */
export const IPV6_CIDR = new RegExp(`^(?:${ipv6Body(() => HEX_GROUP, V4)})/(?:0?[0-9]?[0-9]|1[01][0-9]|12[0-8])$`);
/**
 * A /64 prefix: four groups ("2a00:fb01:400:200") or a "::"-compressed IPv6 address with nothing
 * set past bit 64 ("2a00:fb01:400:200::").
 */
export const PREFIX64 = whole(`${groups(HEX_GROUP, 4)}|${ipv6Body((i) => (i < 4 ? HEX_GROUP : ZERO_GROUP), V4_ZERO, { compressedOnly: true })}`);
/** A MAC address: six hex pairs, all separated by ":" or all by "-", or not at all. */
export const MAC = /^[0-9A-Fa-f]{2}([:-]?)[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4}$/;

const LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
const DOMAIN = `${LABEL}(?:\\.${LABEL})*`;
/** An RFC 1123 host name label. */
export const HOSTNAME = whole(LABEL);
/** A DNS domain name (its length, at most 253, is checked apart). */
export const DOMAIN_NAME = whole(DOMAIN);

const PORT = "(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}|0)";
// RFC 3986's unreserved, reserved and "%" characters: no spaces, quotes or control characters.
const URL_REST = "[A-Za-z0-9._~:/?#\\[\\]@!$&'()*+,;=%-]*";

/** A URL of one of `schemes` with a host (name, IPv4 or [IPv6]), optional port and path; no user info. */
export function urlPattern(schemes: readonly string[]): RegExp {
  const host = `(?:${DOMAIN}|${V4}|\\[(?:${ipv6Body(() => HEX_GROUP, V4)})\\])`;
  return whole(`(?:${schemes.join("|")})://${host}(?::${PORT})?(?:[/?#]${URL_REST})?`);
}

/** Free text that is written into files on the device: no control characters. */
export const PRINTABLE = /^[^\x00-\x1f\x7f]+$/;
/** A node reward type like "type3.1". */
export const NODE_REWARD_TYPE = /^type[0-9]+(\.[0-9]+)?$/;
