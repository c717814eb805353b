/** ARP over Ethernet for IPv4 (RFC 826): 28 bytes. */
import { formatIpv4, formatMac, parseIpv4, parseMac } from './address.js';
import { prepend, viewOf, type Codec } from './codec.js';
import { EtherType, type ArpHeader } from './headers.js';

export const ARP_LEN = 28;
/** ARP `operation` values. */
export const ArpOp = { REQUEST: 1, REPLY: 2 } as const;

export const arpCodec: Codec<ArpHeader> = {
  encode(init, payload) {
    const h = new Uint8Array(ARP_LEN);
    const v = viewOf(h);
    v.setUint16(0, init.hardwareType ?? 1);
    v.setUint16(2, init.protocolType ?? EtherType.IPV4);
    h[4] = 6;
    h[5] = 4;
    v.setUint16(6, init.operation ?? ArpOp.REQUEST);
    h.set(parseMac(init.senderMac ?? '00:00:00:00:00:00'), 8);
    h.set(parseIpv4(init.senderIp ?? '0.0.0.0'), 14);
    h.set(parseMac(init.targetMac ?? '00:00:00:00:00:00'), 18);
    h.set(parseIpv4(init.targetIp ?? '0.0.0.0'), 24);
    return prepend(h, payload);
  },
  decode(bytes) {
    if (bytes.length < 8) return `ARP header needs 8 bytes, ${bytes.length} left`;
    if (bytes[4] !== 6 || bytes[5] !== 4) return `ARP with address lengths ${bytes[4]}/${bytes[5]} is not Ethernet/IPv4`;
    if (bytes.length < ARP_LEN) return `ARP packet needs ${ARP_LEN} bytes, ${bytes.length} left`;
    const v = viewOf(bytes);
    const header: ArpHeader = {
      kind: 'arp', hardwareType: v.getUint16(0), protocolType: v.getUint16(2), operation: v.getUint16(6),
      senderMac: formatMac(bytes.subarray(8, 14)), senderIp: formatIpv4(bytes.subarray(14, 18)),
      targetMac: formatMac(bytes.subarray(18, 24)), targetIp: formatIpv4(bytes.subarray(24, 28)),
    };
    return { header, length: ARP_LEN };
  },
};
