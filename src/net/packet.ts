/**
 * Building packets from headers and parsing them back, for tests and tools:
 *
 * ```ts
 * const frame = buildPacket([
 *   ethernet({ src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' }),
 *   ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }),
 *   udp({ srcPort: 1234, dstPort: 53 }),
 * ], new TextEncoder().encode('hello'));
 * parsePacket(frame).headers.map((h) => h.kind); // ['ethernet', 'ipv4', 'udp']
 * ```
 *
 * What a field left out becomes: EtherTypes, IP protocol numbers, lengths and checksums are
 * computed from the headers that follow; anything given is written as given, so malformed
 * packets (wrong lengths, bad checksums) are built the same way.
 */
import { arpCodec } from './arp.js';
import { ipAddresses, type Codec, type EncodeContext, type HeaderInit } from './codec.js';
import { ethernetCodec, vlanCodec } from './ethernet.js';
import type { Header, HeaderKind } from './headers.js';
import { ipv4Codec } from './ipv4.js';
import { ipv6Codec } from './ipv6.js';
import { LinkType } from './link-type.js';
import { icmpCodec4, icmpCodec6, tcpCodec, udpCodec } from './transport.js';

const CODECS: { readonly [K in HeaderKind]: Codec<Extract<Header, { kind: K }>> } = {
  ethernet: ethernetCodec, vlan: vlanCodec, ipv4: ipv4Codec, ipv6: ipv6Codec, arp: arpCodec,
  udp: udpCodec, tcp: tcpCodec, icmp: icmpCodec4, icmpv6: icmpCodec6,
};

const codec = (kind: HeaderKind): Codec => CODECS[kind] as Codec;

type Init<K extends HeaderKind> = Partial<Omit<Extract<Header, { kind: K }>, 'kind'>>;

/** An Ethernet II header to build (`type` from the next header). */
export const ethernet = (init: Init<'ethernet'> = {}): HeaderInit => ({ ...init, kind: 'ethernet' });
/** An 802.1Q tag (`tpid` 0x8100 unless given: 0x88a8 for 802.1ad). */
export const vlan = (init: Init<'vlan'> = {}): HeaderInit => ({ ...init, kind: 'vlan' });
/** An IPv4 header (TTL 64; protocol, lengths and checksum computed). */
export const ipv4 = (init: Init<'ipv4'> = {}): HeaderInit => ({ ...init, kind: 'ipv4' });
/** An IPv6 header (hop limit 64; next header and payload length computed). */
export const ipv6 = (init: Init<'ipv6'> = {}): HeaderInit => ({ ...init, kind: 'ipv6' });
/** A UDP header (length and checksum computed). */
export const udp = (init: Init<'udp'> = {}): HeaderInit => ({ ...init, kind: 'udp' });
/** A TCP header (window 65535; data offset and checksum computed). */
export const tcp = (init: Init<'tcp'> = {}): HeaderInit => ({ ...init, kind: 'tcp' });
/** An ICMP header (checksum computed); echo request is `{ type: 8 }`. */
export const icmp = (init: Init<'icmp'> = {}): HeaderInit => ({ ...init, kind: 'icmp' });
/** An ICMPv6 header (checksum computed); echo request is `{ type: 128 }`. */
export const icmpv6 = (init: Init<'icmpv6'> = {}): HeaderInit => ({ ...init, kind: 'icmpv6' });
/** An ARP request or reply for IPv4 over Ethernet. */
export const arp = (init: Init<'arp'> = {}): HeaderInit => ({ ...init, kind: 'arp' });

/**
 * The bytes of `headers` (outermost first) followed by `payload`. Parsed headers can be passed
 * back in: a packet parsed and rebuilt is the same bytes.
 */
export function buildPacket(headers: ReadonlyArray<HeaderInit | Header>, payload: Uint8Array | string = new Uint8Array(0)): Uint8Array {
  let bytes = typeof payload === 'string' ? new TextEncoder().encode(payload) : payload;
  const inits = headers as readonly HeaderInit[];
  for (let i = inits.length - 1; i >= 0; i--) {
    const init = inits[i]!;
    let ip: EncodeContext['ip'];
    for (let j = i - 1; j >= 0 && ip === undefined; j--) ip = ipAddresses(inits[j]!);
    bytes = codec(init.kind).encode(init, bytes, { next: inits[i + 1], ip });
  }
  return bytes;
}

/** The result of {@link parsePacket}. */
export interface ParsedPacket {
  /** Headers decoded, outermost first. */
  readonly headers: Header[];
  /** Bytes after the last decoded header, up to the end its enclosing lengths allow. */
  readonly payload: Uint8Array;
  /** Bytes after the IP datagram (Ethernet padding), or empty. */
  readonly trailer: Uint8Array;
  /** Why decoding stopped early (a truncated or malformed header), with its byte offset. */
  readonly error?: { readonly offset: number; readonly message: string };
  /** True when a length field says the packet is longer than the bytes captured. */
  readonly truncated: boolean;
}

/** First header kind of a frame of `linkType` (Ethernet, raw IP). */
function firstKind(bytes: Uint8Array, linkType: number): HeaderKind | undefined {
  switch (linkType) {
    case LinkType.ETHERNET: return 'ethernet';
    case LinkType.IPV4: return 'ipv4';
    case LinkType.IPV6: return 'ipv6';
    case LinkType.RAW: return bytes.length === 0 ? undefined : bytes[0]! >> 4 === 6 ? 'ipv6' : 'ipv4';
    default: return undefined;
  }
}

/**
 * Decodes the headers of a frame (Ethernet by default; `LinkType.RAW`/`IPV4`/`IPV6` start at
 * the IP header). Never throws for bad bytes: it stops at the first header that is truncated or
 * malformed and says why in `error`. Checksums are checked where the whole segment is present
 * (`checksumValid`).
 */
export function parsePacket(bytes: Uint8Array, linkType: number = LinkType.ETHERNET): ParsedPacket {
  const headers: Header[] = [];
  let offset = 0;
  let end = bytes.length;
  let datagramEnd = bytes.length;
  let truncated = false;
  let ip: EncodeContext['ip'];
  let kind = firstKind(bytes, linkType);
  let error: ParsedPacket['error'];
  while (kind !== undefined) {
    const decoded = codec(kind).decode(bytes.subarray(offset, end), { ip, whole: !truncated });
    if (typeof decoded === 'string') {
      error = { offset, message: decoded };
      break;
    }
    const { header } = decoded;
    const previous = headers[headers.length - 1];
    if (header.kind === 'vlan' && previous !== undefined && (previous.kind === 'ethernet' || previous.kind === 'vlan')) header.tpid = previous.type;
    headers.push(header);
    const start = offset + decoded.length;
    if (decoded.payloadLength !== undefined) {
      const claimed = start + decoded.payloadLength;
      if (claimed > end) truncated = true;
      end = Math.min(end, claimed);
      if (header.kind === 'ipv4' || header.kind === 'ipv6') datagramEnd = Math.min(datagramEnd, end);
    }
    if (header.kind === 'ipv4' || header.kind === 'ipv6') ip = ipAddresses(header);
    offset = start;
    kind = decoded.next;
  }
  const result = { headers, payload: bytes.subarray(offset, Math.max(offset, end)), trailer: bytes.subarray(Math.max(offset, datagramEnd)), truncated };
  return error ? { ...result, error } : result;
}
