/**
 * The Internet checksum (RFC 1071): the ones' complement of the ones' complement sum of
 * 16-bit big-endian words, as IPv4, ICMP, UDP and TCP use it, with the pseudo-headers of
 * UDP/TCP/ICMPv6 over IPv4 (RFC 768) and IPv6 (RFC 8200 §8.1).
 */

/** Adds `bytes` as big-endian 16-bit words (an odd last byte padded with zero) to `sum`. */
export function onesSum(bytes: Uint8Array, sum = 0): number {
  const n = bytes.length;
  for (let i = 0; i + 1 < n; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (n % 2 === 1) sum += bytes[n - 1]! << 8;
  // Fold often enough that the sum stays a small integer.
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** The checksum field value for `bytes` (with its checksum field zeroed) plus a partial `sum`. */
export function internetChecksum(bytes: Uint8Array, sum = 0): number {
  return ~onesSum(bytes, sum) & 0xffff;
}

/** Partial sum of the pseudo-header that UDP, TCP and ICMPv6 checksums cover. */
export function pseudoHeaderSum(src: Uint8Array, dst: Uint8Array, protocol: number, length: number): number {
  let sum = onesSum(dst, onesSum(src));
  // IPv4: zero, protocol, 16-bit length; IPv6: 32-bit length, three zeros, next header.
  sum += protocol + (length & 0xffff) + (src.length === 16 ? Math.floor(length / 0x10000) : 0);
  return onesSum(new Uint8Array(0), sum);
}
