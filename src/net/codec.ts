/**
 * The shape every protocol module implements, and the tables that link them: which header
 * follows an EtherType or an IP protocol number. `buildPacket` and `parsePacket` are the users.
 */
import { parseIpv4, parseIpv6 } from './address.js';
import { EtherType, IpProtocol, type Header, type HeaderKind } from './headers.js';

/** A header to build: its kind and any fields; the rest get defaults or are computed. */
export type HeaderInit<H extends Header = Header> = H extends Header ? Partial<Omit<H, 'kind'>> & { readonly kind: H['kind'] } : never;

/** What an encoder knows about its neighbours. */
export interface EncodeContext {
  /** The header right after this one (undefined before raw payload). */
  readonly next: HeaderInit | undefined;
  /** Addresses of the nearest enclosing IP header, for pseudo-header checksums. */
  readonly ip: { readonly src: Uint8Array; readonly dst: Uint8Array } | undefined;
}

/** A decoded header and where its payload lies. */
export interface Decoded<H extends Header = Header> {
  readonly header: H;
  /** Bytes of the header itself. */
  readonly length: number;
  /** Bytes the header says its payload has (IPv4/IPv6/UDP lengths), when it says. */
  readonly payloadLength?: number;
  /** Kind of the next header, when this one names one this module knows. */
  readonly next?: HeaderKind;
}

/** Encoder and decoder of one protocol's header. */
export interface Codec<H extends Header = Header> {
  /** Prepends this header to `payload`. */
  encode(init: HeaderInit<H>, payload: Uint8Array, context: EncodeContext): Uint8Array;
  /** Decodes the header at the start of `bytes`; a string says why it cannot. */
  decode(bytes: Uint8Array, context: { readonly ip: EncodeContext['ip']; readonly whole: boolean }): Decoded<H> | string;
}

/** Kind of the header that follows an EtherType. */
export const ETHERTYPE_NEXT: ReadonlyMap<number, HeaderKind> = new Map([
  [EtherType.IPV4, 'ipv4'], [EtherType.IPV6, 'ipv6'], [EtherType.ARP, 'arp'],
  [EtherType.VLAN, 'vlan'], [EtherType.QINQ, 'vlan'], [EtherType.QINQ_OLD, 'vlan'],
]);

/** Kind of the header that follows an IP protocol number. */
export const PROTOCOL_NEXT: ReadonlyMap<number, HeaderKind> = new Map([
  [IpProtocol.ICMP, 'icmp'], [IpProtocol.TCP, 'tcp'], [IpProtocol.UDP, 'udp'],
  [IpProtocol.ICMPV6, 'icmpv6'], [IpProtocol.IPIP, 'ipv4'], [IpProtocol.IPV6, 'ipv6'],
]);

/** The EtherType announcing `next` (0 when it is not a link-layer payload). */
export function etherTypeOf(next: HeaderInit | undefined): number {
  if (next === undefined) return 0;
  if (next.kind === 'vlan') return next.tpid ?? EtherType.VLAN;
  for (const [type, kind] of ETHERTYPE_NEXT) if (kind === next.kind) return type;
  return 0;
}

/** The IP protocol number announcing `next` (0 when none fits). */
export function protocolOf(next: HeaderInit | undefined): number {
  if (next === undefined) return 0;
  for (const [proto, kind] of PROTOCOL_NEXT) if (kind === next.kind) return proto;
  return 0;
}

/** The addresses of an IP header to build, as bytes. */
export function ipAddresses(init: HeaderInit): EncodeContext['ip'] {
  if (init.kind === 'ipv4') return { src: parseIpv4(init.src ?? '0.0.0.0'), dst: parseIpv4(init.dst ?? '0.0.0.0') };
  if (init.kind === 'ipv6') return { src: parseIpv6(init.src ?? '::'), dst: parseIpv6(init.dst ?? '::') };
  return undefined;
}

/** `header` followed by `payload`. */
export function prepend(header: Uint8Array, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(header.length + payload.length);
  out.set(header);
  out.set(payload, header.length);
  return out;
}

/** A DataView over exactly `bytes`. */
export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
