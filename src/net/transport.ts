/**
 * UDP (RFC 768), TCP (RFC 9293) and ICMP / ICMPv6 (RFC 792, RFC 4443) headers with their
 * checksums. UDP, TCP and ICMPv6 checksums cover the enclosing IP header's pseudo-header, so
 * they are computed (and checked) only when there is one.
 */
import { internetChecksum, onesSum, pseudoHeaderSum } from './checksum.js';
import { prepend, viewOf, type Codec, type EncodeContext } from './codec.js';
import { IpProtocol, type IcmpHeader, type Icmpv6Header, type TcpHeader, type UdpHeader } from './headers.js';

export const UDP_HLEN = 8;
export const TCP_MIN_HLEN = 20;
export const ICMP_HLEN = 8;

/** Checksum of a whole segment whose checksum field is at `at`, with the pseudo-header when `ip` is known. */
function segmentChecksum(segment: Uint8Array, at: number, protocol: number, ip: EncodeContext['ip']): number {
  viewOf(segment).setUint16(at, 0);
  const start = ip ? pseudoHeaderSum(ip.src, ip.dst, protocol, segment.length) : 0;
  return internetChecksum(segment, start);
}

/** Whether a received segment's checksum is right (undefined when it cannot be told). */
function verify(bytes: Uint8Array, protocol: number, ip: EncodeContext['ip'], whole: boolean): boolean | undefined {
  if (!whole || (ip === undefined && protocol !== IpProtocol.ICMP)) return undefined;
  const start = ip && protocol !== IpProtocol.ICMP ? pseudoHeaderSum(ip.src, ip.dst, protocol, bytes.length) : 0;
  return onesSum(bytes, start) === 0xffff;
}

export const udpCodec: Codec<UdpHeader> = {
  encode(init, payload, { ip }) {
    const out = prepend(new Uint8Array(UDP_HLEN), payload);
    const v = viewOf(out);
    v.setUint16(0, init.srcPort ?? 0);
    v.setUint16(2, init.dstPort ?? 0);
    v.setUint16(4, init.length ?? out.length);
    // A computed 0 is sent as 0xffff: 0 means "no checksum" (RFC 768).
    v.setUint16(6, init.checksum ?? (ip ? segmentChecksum(out, 6, IpProtocol.UDP, ip) || 0xffff : 0));
    return out;
  },
  decode(bytes, { ip, whole }) {
    if (bytes.length < UDP_HLEN) return `UDP header needs ${UDP_HLEN} bytes, ${bytes.length} left`;
    const v = viewOf(bytes);
    const length = v.getUint16(4);
    if (length < UDP_HLEN) return `UDP length ${length} is below ${UDP_HLEN}`;
    const checksum = v.getUint16(6);
    const checked = checksum === 0 && ip?.src.length === 4 ? true : verify(bytes.subarray(0, length), IpProtocol.UDP, ip, whole && length <= bytes.length);
    const header: UdpHeader = { kind: 'udp', srcPort: v.getUint16(0), dstPort: v.getUint16(2), length, checksum, ...(checked !== undefined && { checksumValid: checked }) };
    return { header, length: UDP_HLEN, payloadLength: length - UDP_HLEN };
  },
};

export const tcpCodec: Codec<TcpHeader> = {
  encode(init, payload, { ip }) {
    const options = init.options ?? new Uint8Array(0);
    const hlen = TCP_MIN_HLEN + Math.ceil(options.length / 4) * 4;
    const out = prepend(new Uint8Array(hlen), payload);
    out.set(options, TCP_MIN_HLEN);
    const v = viewOf(out);
    v.setUint16(0, init.srcPort ?? 0);
    v.setUint16(2, init.dstPort ?? 0);
    v.setUint32(4, (init.seq ?? 0) >>> 0);
    v.setUint32(8, (init.ack ?? 0) >>> 0);
    out[12] = ((init.dataOffset ?? hlen / 4) & 0xf) << 4;
    out[13] = init.flags ?? 0;
    v.setUint16(14, init.window ?? 65535);
    v.setUint16(18, init.urgent ?? 0);
    v.setUint16(16, init.checksum ?? segmentChecksum(out, 16, IpProtocol.TCP, ip));
    return out;
  },
  decode(bytes, { ip, whole }) {
    if (bytes.length < TCP_MIN_HLEN) return `TCP header needs ${TCP_MIN_HLEN} bytes, ${bytes.length} left`;
    const v = viewOf(bytes);
    const dataOffset = bytes[12]! >> 4;
    const hlen = dataOffset * 4;
    if (hlen < TCP_MIN_HLEN) return `TCP data offset ${hlen} is below ${TCP_MIN_HLEN}`;
    if (hlen > bytes.length) return `TCP header with options needs ${hlen} bytes, ${bytes.length} left`;
    const checked = verify(bytes, IpProtocol.TCP, ip, whole);
    const header: TcpHeader = {
      kind: 'tcp', srcPort: v.getUint16(0), dstPort: v.getUint16(2), seq: v.getUint32(4), ack: v.getUint32(8),
      dataOffset, flags: bytes[13]!, window: v.getUint16(14), checksum: v.getUint16(16), urgent: v.getUint16(18),
      options: bytes.slice(TCP_MIN_HLEN, hlen), ...(checked !== undefined && { checksumValid: checked }),
    };
    return { header, length: hlen };
  },
};

/** ICMP and ICMPv6 share their first 8 bytes; only the checksum's coverage differs. */
function icmpCodec<H extends IcmpHeader | Icmpv6Header>(kind: H['kind'], protocol: number): Codec<H> {
  return {
    encode(init, payload, { ip }) {
      const out = prepend(new Uint8Array(ICMP_HLEN), payload);
      const v = viewOf(out);
      out[0] = init.type ?? 0;
      out[1] = init.code ?? 0;
      v.setUint16(4, init.id ?? 0);
      v.setUint16(6, init.sequence ?? 0);
      v.setUint16(2, init.checksum ?? segmentChecksum(out, 2, protocol, protocol === IpProtocol.ICMP ? undefined : ip));
      return out;
    },
    decode(bytes, { ip, whole }) {
      if (bytes.length < ICMP_HLEN) return `${kind.toUpperCase()} header needs ${ICMP_HLEN} bytes, ${bytes.length} left`;
      const v = viewOf(bytes);
      const checked = verify(bytes, protocol, ip, whole);
      const header = {
        kind, type: bytes[0]!, code: bytes[1]!, checksum: v.getUint16(2), id: v.getUint16(4), sequence: v.getUint16(6),
        ...(checked !== undefined && { checksumValid: checked }),
      } as H;
      return { header, length: ICMP_HLEN };
    },
  };
}

export const icmpCodec4: Codec<IcmpHeader> = icmpCodec<IcmpHeader>('icmp', IpProtocol.ICMP);
export const icmpCodec6: Codec<Icmpv6Header> = icmpCodec<Icmpv6Header>('icmpv6', IpProtocol.ICMPV6);
