/**
 * Protocol headers as plain data: what `parsePacket` returns and, as partial objects, what
 * `buildPacket` takes. Numbers are the wire values (ports, EtherTypes, protocol numbers);
 * addresses are text (`formatMac`/`formatIpv4`/`formatIpv6` forms).
 */

/** EtherType values (IEEE 802 numbers) used here. */
export const EtherType = {
  IPV4: 0x0800,
  ARP: 0x0806,
  VLAN: 0x8100,
  IPV6: 0x86dd,
  QINQ: 0x88a8,
  QINQ_OLD: 0x9100,
} as const;

/** IP protocol numbers (IANA) used here. */
export const IpProtocol = {
  ICMP: 1,
  IPIP: 4,
  TCP: 6,
  UDP: 17,
  IPV6: 41,
  ICMPV6: 58,
} as const;

/** TCP header flag bits. */
export const TcpFlag = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20, ECE: 0x40, CWR: 0x80 } as const;

/** Ethernet II header. `type` is the EtherType (or an 802.3 length below 0x600). */
export interface EthernetHeader { readonly kind: 'ethernet'; dst: string; src: string; type: number }

/** An 802.1Q/802.1ad tag; `tpid` is the EtherType that announced it, `type` the one after it. */
export interface VlanHeader { readonly kind: 'vlan'; tpid: number; pcp: number; dei: boolean; id: number; type: number }

/** IPv4 header (RFC 791). `fragmentOffset` is in 8-byte units; `flags` has DF = 2, MF = 1. */
export interface Ipv4Header {
  readonly kind: 'ipv4';
  /** Header length in 32-bit words (5 without options). */
  ihl: number;
  tos: number;
  totalLength: number;
  id: number;
  flags: number;
  fragmentOffset: number;
  ttl: number;
  protocol: number;
  checksum: number;
  src: string;
  dst: string;
  options: Uint8Array;
  /** Set by the parser: whether `checksum` is right. */
  checksumValid?: boolean;
}

/** IPv6 fixed header (RFC 8200); extension headers are not parsed (they stay payload). */
export interface Ipv6Header {
  readonly kind: 'ipv6';
  trafficClass: number;
  flowLabel: number;
  payloadLength: number;
  nextHeader: number;
  hopLimit: number;
  src: string;
  dst: string;
}

export interface UdpHeader {
  readonly kind: 'udp';
  srcPort: number;
  dstPort: number;
  length: number;
  checksum: number;
  checksumValid?: boolean;
}

export interface TcpHeader {
  readonly kind: 'tcp';
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** Header length in 32-bit words (5 without options). */
  dataOffset: number;
  /** `TcpFlag` bits (the low 8 bits of the flags field). */
  flags: number;
  window: number;
  checksum: number;
  urgent: number;
  options: Uint8Array;
  checksumValid?: boolean;
}

/** ICMP (v4) header: type, code, and the 4-byte rest of header as two 16-bit halves (id, sequence for echo). */
export interface IcmpHeader {
  readonly kind: 'icmp';
  type: number;
  code: number;
  checksum: number;
  id: number;
  sequence: number;
  checksumValid?: boolean;
}

/** ICMPv6 header, laid out like ICMP's (the checksum covers the IPv6 pseudo-header). */
export interface Icmpv6Header {
  readonly kind: 'icmpv6';
  type: number;
  code: number;
  checksum: number;
  id: number;
  sequence: number;
  checksumValid?: boolean;
}

/** ARP for Ethernet and IPv4 (RFC 826): `operation` 1 = request, 2 = reply. */
export interface ArpHeader {
  readonly kind: 'arp';
  hardwareType: number;
  protocolType: number;
  operation: number;
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
}

/** Any header this module builds and parses. */
export type Header = EthernetHeader | VlanHeader | Ipv4Header | Ipv6Header | UdpHeader | TcpHeader | IcmpHeader | Icmpv6Header | ArpHeader;

/** The kinds of {@link Header}. */
export type HeaderKind = Header['kind'];
