/** IPv4 addresses and prefixes as the tools take them on the command line (`10.0.0.2`, `10.0.0.0/8`). */

/** An IPv4 prefix: the address with its host bits cleared, and the prefix length. */
export interface Ipv4Prefix {
  /** The four bytes, in network order. */
  readonly address: readonly [number, number, number, number];
  readonly prefixlen: number;
}

/** Parses `A.B.C.D` (a /32) or `A.B.C.D/N`; host bits are cleared. Throws TypeError. */
export function parseIpv4Prefix(text: string): Ipv4Prefix {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(text.trim());
  const bytes = m?.slice(1, 5).map(Number);
  const prefixlen = m?.[5] === undefined ? 32 : Number(m[5]);
  if (bytes === undefined || bytes.some((b) => b > 255) || prefixlen > 32) {
    throw new TypeError(`'${text}' is not an IPv4 address or prefix (A.B.C.D or A.B.C.D/N)`);
  }
  const value = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
  const masked = prefixlen === 0 ? 0 : (value & (0xffff_ffff << (32 - prefixlen))) >>> 0;
  return { address: [masked >>> 24, (masked >>> 16) & 0xff, (masked >>> 8) & 0xff, masked & 0xff], prefixlen };
}

/** `A.B.C.D/N`. */
export function formatIpv4Prefix(prefix: { readonly address: ArrayLike<number>; readonly prefixlen: number }): string {
  return `${Array.from(prefix.address).join('.')}/${prefix.prefixlen}`;
}
