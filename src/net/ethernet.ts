/** Ethernet II (14 bytes) and 802.1Q / 802.1ad VLAN tags (4 bytes each). */
import { formatMac, parseMac } from './address.js';
import { ETHERTYPE_NEXT, etherTypeOf, prepend, viewOf, type Codec } from './codec.js';
import { EtherType, type EthernetHeader, type VlanHeader } from './headers.js';

export const ETH_HLEN = 14;
export const VLAN_HLEN = 4;

export const ethernetCodec: Codec<EthernetHeader> = {
  encode(init, payload, { next }) {
    const h = new Uint8Array(ETH_HLEN);
    h.set(parseMac(init.dst ?? 'ff:ff:ff:ff:ff:ff'), 0);
    h.set(parseMac(init.src ?? '00:00:00:00:00:00'), 6);
    viewOf(h).setUint16(12, init.type ?? etherTypeOf(next));
    return prepend(h, payload);
  },
  decode(bytes) {
    if (bytes.length < ETH_HLEN) return `Ethernet header needs ${ETH_HLEN} bytes, ${bytes.length} left`;
    const type = viewOf(bytes).getUint16(12);
    const header: EthernetHeader = { kind: 'ethernet', dst: formatMac(bytes.subarray(0, 6)), src: formatMac(bytes.subarray(6, 12)), type };
    const next = ETHERTYPE_NEXT.get(type);
    return next ? { header, length: ETH_HLEN, next } : { header, length: ETH_HLEN };
  },
};

export const vlanCodec: Codec<VlanHeader> = {
  encode(init, payload, { next }) {
    const h = new Uint8Array(VLAN_HLEN);
    const v = viewOf(h);
    v.setUint16(0, ((init.pcp ?? 0) & 7) << 13 | (init.dei ? 0x1000 : 0) | ((init.id ?? 0) & 0xfff));
    v.setUint16(2, init.type ?? etherTypeOf(next));
    return prepend(h, payload);
  },
  decode(bytes) {
    if (bytes.length < VLAN_HLEN) return `VLAN tag needs ${VLAN_HLEN} bytes, ${bytes.length} left`;
    const v = viewOf(bytes);
    const tci = v.getUint16(0);
    const type = v.getUint16(2);
    // The TPID belongs to the header before; parsePacket fills it in.
    const header: VlanHeader = { kind: 'vlan', tpid: EtherType.VLAN, pcp: tci >> 13, dei: (tci & 0x1000) !== 0, id: tci & 0xfff, type };
    const next = ETHERTYPE_NEXT.get(type);
    return next ? { header, length: VLAN_HLEN, next } : { header, length: VLAN_HLEN };
  },
};
