/**
 * Frames for the differential tests of program contexts: every protocol the builders know,
 * link-layer oddities (VLAN, QinQ, 802.3 lengths, raw IPX), addresses that change pkt_type, and
 * short, truncated and oversized frames.
 */
import {
  EtherType, TcpFlag, arp, buildPacket, ethernet, icmp, icmpv6, ipv4, ipv6, tcp, udp, vlan,
} from '../../../src/net/index.js';

const HOST = { src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' };
const V4 = { src: '10.0.0.1', dst: '192.168.1.200' };
const V6 = { src: '2001:db8::1', dst: '2001:db8:ffff::2' };
const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff);

/** A named frame. */
export interface TestPacket {
  readonly name: string;
  readonly frame: Uint8Array;
}

export const PACKETS: readonly TestPacket[] = [
  { name: 'ipv4-udp', frame: buildPacket([ethernet(HOST), ipv4(V4), udp({ srcPort: 5353, dstPort: 53 })], bytes(20)) },
  { name: 'ipv4-dns-5000', frame: buildPacket([ethernet(HOST), ipv4(V4), udp({ srcPort: 40000, dstPort: 5000 })], bytes(4)) },
  { name: 'ipv4-tcp-syn', frame: buildPacket([ethernet(HOST), ipv4({ ...V4, flags: 2 }), tcp({ srcPort: 40000, dstPort: 443, flags: TcpFlag.SYN, options: Uint8Array.of(2, 4, 5, 0xb4) })]) },
  { name: 'ipv4-icmp-echo', frame: buildPacket([ethernet(HOST), ipv4(V4), icmp({ type: 8, id: 1, sequence: 1 })], bytes(56)) },
  { name: 'ipv4-options', frame: buildPacket([ethernet(HOST), ipv4({ ...V4, options: Uint8Array.of(0x94, 4, 0, 0) }), udp({ srcPort: 1, dstPort: 2 })], bytes(3)) },
  { name: 'ipv4-fragment', frame: buildPacket([ethernet(HOST), ipv4({ ...V4, protocol: 17, fragmentOffset: 185 })], bytes(40)) },
  { name: 'ipv4-host-dst', frame: buildPacket([ethernet({ src: HOST.src, dst: '00:00:00:00:00:00' }), ipv4(V4), udp({ srcPort: 9, dstPort: 9 })], bytes(10)) },
  { name: 'ipv4-broadcast', frame: buildPacket([ethernet({ src: HOST.src, dst: 'ff:ff:ff:ff:ff:ff' }), ipv4({ src: '10.0.0.1', dst: '10.0.0.255' }), udp({ srcPort: 67, dstPort: 68 })], bytes(30)) },
  { name: 'ipv4-multicast', frame: buildPacket([ethernet({ src: HOST.src, dst: '01:00:5e:00:00:fb' }), ipv4({ src: '10.0.0.1', dst: '224.0.0.251' }), udp({ srcPort: 5353, dstPort: 5353 })], bytes(12)) },
  { name: 'ipv4-1500', frame: buildPacket([ethernet(HOST), ipv4(V4), udp({ srcPort: 1, dstPort: 2 })], bytes(1500 - 28)) },
  { name: 'ipv4-truncated', frame: buildPacket([ethernet(HOST), ipv4({ ...V4, totalLength: 1500 }), udp({ srcPort: 1, dstPort: 2, length: 1480 })]) },
  { name: 'ipv6-udp', frame: buildPacket([ethernet(HOST), ipv6(V6), udp({ srcPort: 546, dstPort: 547 })], bytes(33)) },
  { name: 'ipv6-tcp', frame: buildPacket([ethernet(HOST), ipv6({ ...V6, flowLabel: 0xabcde, trafficClass: 0x20 }), tcp({ srcPort: 22, dstPort: 50000, flags: TcpFlag.ACK | TcpFlag.PSH, seq: 1, ack: 2 })], bytes(17)) },
  { name: 'ipv6-icmpv6', frame: buildPacket([ethernet({ src: HOST.src, dst: '33:33:00:00:00:01' }), ipv6({ src: 'fe80::1', dst: 'ff02::1', hopLimit: 255 }), icmpv6({ type: 128, id: 7, sequence: 1 })], bytes(8)) },
  { name: 'arp-request', frame: buildPacket([ethernet({ src: HOST.src, dst: 'ff:ff:ff:ff:ff:ff' }), arp({ operation: 1, senderMac: HOST.src, senderIp: '10.0.0.1', targetIp: '10.0.0.2' })]) },
  { name: 'vlan-ipv4', frame: buildPacket([ethernet(HOST), vlan({ id: 100, pcp: 3 }), ipv4(V4), udp({ srcPort: 1, dstPort: 2 })], bytes(8)) },
  { name: 'qinq-ipv6', frame: buildPacket([ethernet(HOST), vlan({ tpid: EtherType.QINQ, id: 10 }), vlan({ id: 20 }), ipv6(V6), udp({ srcPort: 3, dstPort: 4 })], bytes(5)) },
  { name: '802.3-llc', frame: buildPacket([ethernet({ ...HOST, type: 46 })], Uint8Array.of(0x42, 0x42, 0x03, ...bytes(43))) },
  { name: 'ipx-raw', frame: buildPacket([ethernet({ ...HOST, type: 40 })], Uint8Array.of(0xff, 0xff, ...bytes(38))) },
  { name: 'ethernet-only', frame: buildPacket([ethernet({ ...HOST, type: 0x88b5 })]) },
  { name: 'short-ipv4', frame: buildPacket([ethernet({ ...HOST, type: EtherType.IPV4 })], Uint8Array.of(0x45, 0, 0, 20, 0, 0)) },
  { name: 'short-ipv6', frame: buildPacket([ethernet({ ...HOST, type: EtherType.IPV6 })], bytes(30)) },
  { name: 'jumbo-4000', frame: buildPacket([ethernet(HOST), ipv4(V4), udp({ srcPort: 1, dstPort: 2 })], bytes(4000 - 42)) },
];
