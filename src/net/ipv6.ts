/** IPv6 fixed header (RFC 8200); extension headers are left in the payload. */
import { formatIpv6, parseIpv6 } from './address.js';
import { PROTOCOL_NEXT, prepend, protocolOf, viewOf, type Codec } from './codec.js';
import type { Ipv6Header } from './headers.js';

export const IPV6_HLEN = 40;

export const ipv6Codec: Codec<Ipv6Header> = {
  encode(init, payload, { next }) {
    const h = new Uint8Array(IPV6_HLEN);
    const v = viewOf(h);
    v.setUint32(0, (0x6 << 28 | ((init.trafficClass ?? 0) & 0xff) << 20 | ((init.flowLabel ?? 0) & 0xfffff)) >>> 0);
    v.setUint16(4, init.payloadLength ?? payload.length);
    h[6] = init.nextHeader ?? protocolOf(next);
    h[7] = init.hopLimit ?? 64;
    h.set(parseIpv6(init.src ?? '::'), 8);
    h.set(parseIpv6(init.dst ?? '::'), 24);
    return prepend(h, payload);
  },
  decode(bytes) {
    if (bytes.length < IPV6_HLEN) return `IPv6 header needs ${IPV6_HLEN} bytes, ${bytes.length} left`;
    const v = viewOf(bytes);
    const word = v.getUint32(0);
    if (word >>> 28 !== 6) return `IPv6 header has version ${word >>> 28}`;
    const nextHeader = bytes[6]!;
    const header: Ipv6Header = {
      kind: 'ipv6', trafficClass: (word >>> 20) & 0xff, flowLabel: word & 0xfffff, payloadLength: v.getUint16(4),
      nextHeader, hopLimit: bytes[7]!, src: formatIpv6(bytes.subarray(8, 24)), dst: formatIpv6(bytes.subarray(24, 40)),
    };
    const next = PROTOCOL_NEXT.get(nextHeader);
    return { header, length: IPV6_HLEN, payloadLength: header.payloadLength, ...(next && { next }) };
  },
};
