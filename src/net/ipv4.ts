/** IPv4 header (RFC 791) with its header checksum; options are kept as raw bytes. */
import { formatIpv4, parseIpv4 } from './address.js';
import { internetChecksum, onesSum } from './checksum.js';
import { PROTOCOL_NEXT, prepend, protocolOf, viewOf, type Codec } from './codec.js';
import type { Ipv4Header } from './headers.js';

export const IPV4_MIN_HLEN = 20;

export const ipv4Codec: Codec<Ipv4Header> = {
  encode(init, payload, { next }) {
    const options = init.options ?? new Uint8Array(0);
    const optionBytes = Math.ceil(options.length / 4) * 4;
    const hlen = IPV4_MIN_HLEN + optionBytes;
    const h = new Uint8Array(hlen);
    const v = viewOf(h);
    h[0] = 0x40 | ((init.ihl ?? hlen / 4) & 0xf);
    h[1] = init.tos ?? 0;
    v.setUint16(2, init.totalLength ?? hlen + payload.length);
    v.setUint16(4, init.id ?? 0);
    v.setUint16(6, ((init.flags ?? 0) & 7) << 13 | ((init.fragmentOffset ?? 0) & 0x1fff));
    h[8] = init.ttl ?? 64;
    h[9] = init.protocol ?? protocolOf(next);
    h.set(parseIpv4(init.src ?? '0.0.0.0'), 12);
    h.set(parseIpv4(init.dst ?? '0.0.0.0'), 16);
    h.set(options, IPV4_MIN_HLEN);
    v.setUint16(10, init.checksum ?? internetChecksum(h));
    return prepend(h, payload);
  },
  decode(bytes) {
    if (bytes.length < IPV4_MIN_HLEN) return `IPv4 header needs ${IPV4_MIN_HLEN} bytes, ${bytes.length} left`;
    const v = viewOf(bytes);
    const version = bytes[0]! >> 4;
    if (version !== 4) return `IPv4 header has version ${version}`;
    const ihl = bytes[0]! & 0xf;
    const hlen = ihl * 4;
    if (hlen < IPV4_MIN_HLEN) return `IPv4 header length ${hlen} is below ${IPV4_MIN_HLEN}`;
    if (hlen > bytes.length) return `IPv4 header with options needs ${hlen} bytes, ${bytes.length} left`;
    const totalLength = v.getUint16(2);
    if (totalLength < hlen) return `IPv4 total length ${totalLength} is below the header length ${hlen}`;
    const fragment = v.getUint16(6);
    const protocol = bytes[9]!;
    const header: Ipv4Header = {
      kind: 'ipv4', ihl, tos: bytes[1]!, totalLength, id: v.getUint16(4), flags: fragment >> 13,
      fragmentOffset: fragment & 0x1fff, ttl: bytes[8]!, protocol, checksum: v.getUint16(10),
      src: formatIpv4(bytes.subarray(12, 16)), dst: formatIpv4(bytes.subarray(16, 20)),
      options: bytes.slice(IPV4_MIN_HLEN, hlen), checksumValid: onesSum(bytes.subarray(0, hlen)) === 0xffff,
    };
    // A later fragment carries no transport header.
    const next = header.fragmentOffset === 0 ? PROTOCOL_NEXT.get(protocol) : undefined;
    return { header, length: hlen, payloadLength: totalLength - hlen, ...(next && { next }) };
  },
};
