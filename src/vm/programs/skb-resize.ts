/**
 * The sk_buff helpers that change the packet's shape, bound to the {@link SkbContext} their r1
 * names, with the kernel's checks and return values (net/core/filter.c and net/core/skbuff.c,
 * Linux 6.18) for the linear sk_buff BPF_PROG_TEST_RUN builds:
 *
 * - bpf_skb_vlan_push (18) / bpf_skb_vlan_pop (19): the accelerated (out-of-band) tag of
 *   `vlan_present`/`vlan_tci`/`vlan_proto`; a second push writes the first tag into the frame,
 *   a pop with no accelerated tag takes one out of the frame and moves the next one out of band;
 * - bpf_skb_change_proto (31): IPv4 ⇄ IPv6, making or removing the 20 bytes the headers differ by
 *   behind the MAC header; bpf_skb_change_type (32);
 * - bpf_skb_change_tail (38), bpf_skb_change_head (43): the packet's end, or zeroed bytes in front;
 * - bpf_skb_adjust_room (50): room at the MAC or network header, with the encap/decap flags.
 *
 * Each moves `data`/`data_end` (the verifier has invalidated the program's packet pointers) and
 * clears the flow hash where the kernel does. Not modelled: GSO types (test_run's GSO packets
 * have none, so adjust_room on them is -ENOTSUPP, as in the kernel) and skb->csum.
 */
import { VmError } from '../errors.js';
import type { HelperContext, HelperTable } from '../helpers.js';
import { SKB_MAX_ALLOC, SkbContext, ETH_HLEN } from './skb.js';
import { SK_BUFF } from './sk-buff.js';
import { skbHelperState } from './skb-state.js';

export const BPF_FUNC_skb_vlan_push = 18;
export const BPF_FUNC_skb_vlan_pop = 19;
export const BPF_FUNC_skb_change_proto = 31;
export const BPF_FUNC_skb_change_type = 32;
export const BPF_FUNC_skb_change_tail = 38;
export const BPF_FUNC_skb_change_head = 43;
export const BPF_FUNC_skb_adjust_room = 50;

/** bpf_skb_adjust_room's modes and flags (include/uapi/linux/bpf.h). */
export const BPF_ADJ_ROOM_NET = 0;
export const BPF_ADJ_ROOM_MAC = 1;
export const BPF_F_ADJ_ROOM_FIXED_GSO = 1n << 0n;
export const BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 = 1n << 1n;
export const BPF_F_ADJ_ROOM_ENCAP_L3_IPV6 = 1n << 2n;
export const BPF_F_ADJ_ROOM_ENCAP_L4_GRE = 1n << 3n;
export const BPF_F_ADJ_ROOM_ENCAP_L4_UDP = 1n << 4n;
export const BPF_F_ADJ_ROOM_NO_CSUM_RESET = 1n << 5n;
export const BPF_F_ADJ_ROOM_ENCAP_L2_ETH = 1n << 6n;
export const BPF_F_ADJ_ROOM_DECAP_L3_IPV4 = 1n << 7n;
export const BPF_F_ADJ_ROOM_DECAP_L3_IPV6 = 1n << 8n;
const ENCAP_L2_SHIFT = 56n;
const ENCAP_L3_MASK = BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | BPF_F_ADJ_ROOM_ENCAP_L3_IPV6;
const DECAP_L3_MASK = BPF_F_ADJ_ROOM_DECAP_L3_IPV4 | BPF_F_ADJ_ROOM_DECAP_L3_IPV6;
const ADJ_ROOM_MASK = BPF_F_ADJ_ROOM_FIXED_GSO | ENCAP_L3_MASK | BPF_F_ADJ_ROOM_ENCAP_L4_GRE | BPF_F_ADJ_ROOM_ENCAP_L4_UDP
  | BPF_F_ADJ_ROOM_ENCAP_L2_ETH | (0xffn << ENCAP_L2_SHIFT) | DECAP_L3_MASK;

const ETH_P_IP = 0x0800, ETH_P_IPV6 = 0x86dd, ETH_P_8021Q = 0x8100, ETH_P_8021AD = 0x88a8;
const ETH_P_802_3 = 0x0001, ETH_P_802_2 = 0x0004;
const VLAN_HLEN = 4, IPV4_HLEN = 20, IPV6_HLEN = 40;
/** The pkt_type values bpf_skb_change_type accepts (skb_pkt_type_ok: up to PACKET_OTHERHOST). */
const PACKET_OTHERHOST = 3;

const ENOMEM = 12, EFAULT = 14, EINVAL = 22, EALREADY = 114, ENOTSUPP = 524;

/** The SkbContext r1 names. */
function context(h: HelperContext): SkbContext {
  const address = h.argNumber(1);
  const skb = SkbContext.at(h.memory, address);
  if (skb === undefined) throw new VmError(`helper argument r1 (0x${address.toString(16)}) is not a struct __sk_buff made by SkbContext`, h.index);
  return skb;
}

const swap16 = (v: number): number => ((v & 0xff) << 8) | ((v >> 8) & 0xff);
const isVlan = (proto: number): boolean => proto === ETH_P_8021Q || proto === ETH_P_8021AD;

/** skb_clear_hash. */
function clearHash(h: HelperContext, skb: SkbContext): void {
  skb.setField(SK_BUFF.hash, 0);
  skbHelperState(h.memory, skb.address).swHash = false;
}

/** skb->mac_len as skb_mac_header_len computes it: network header − mac header. */
const macLength = (skb: SkbContext): number => skb.networkHeader - skb.macHeaderAt;

/** __vlan_hwaccel_put_tag / clear_tag: the out-of-band tag in the struct. */
function setAccelTag(skb: SkbContext, proto: number, tci: number): void {
  skb.setField(SK_BUFF.vlan_present, 1);
  skb.setField(SK_BUFF.vlan_proto, swap16(proto));
  skb.setField(SK_BUFF.vlan_tci, tci & 0xffff);
}

function clearAccelTag(skb: SkbContext): void {
  skb.setField(SK_BUFF.vlan_present, 0);
  skb.setField(SK_BUFF.vlan_proto, 0);
  skb.setField(SK_BUFF.vlan_tci, 0);
}

/** __vlan_insert_tag: a tag written behind the MAC addresses (data is at the MAC header). */
function insertTag(skb: SkbContext, proto: number, tci: number): number {
  if (skb.data !== skb.macHeaderAt) return -EINVAL;
  if (!skb.pushAt(2 * 6, VLAN_HLEN)) return -ENOMEM;
  // The network header moves with the front too (observed: bpf_skb_change_tail's floor stays
  // 14 bytes past data after the tag goes in).
  skb.macHeaderAt -= VLAN_HLEN;
  skb.networkHeader -= VLAN_HLEN;
  const view = skb.view;
  view.setUint16(skb.data + 12, proto);
  view.setUint16(skb.data + 14, tci & 0xffff);
  return 0;
}

/** __skb_vlan_pop: the tag behind the MAC addresses taken out; its TCI, or a negative errno. */
function removeTag(skb: SkbContext): number | { tci: number } {
  if (skb.data !== skb.macHeaderAt) return -EINVAL;
  if (skb.length < ETH_HLEN + VLAN_HLEN) return -ENOMEM; // skb_ensure_writable(skb, VLAN_ETH_HLEN)
  const view = skb.view;
  const tci = view.getUint16(skb.data + 14);
  const inner = view.getUint16(skb.data + 16);
  // vlan_set_encap_proto
  skb.protocol = inner >= 0x0600 ? inner : view.getUint16(skb.data + 18) === 0xffff ? ETH_P_802_3 : ETH_P_802_2;
  skb.popAt(2 * 6, VLAN_HLEN);
  skb.macHeaderAt += VLAN_HLEN;
  if (skb.networkHeader - skb.data < ETH_HLEN) skb.networkHeader = skb.data + ETH_HLEN;
  return { tci };
}

function vlanPush(h: HelperContext): number {
  const skb = context(h);
  let proto = swap16(h.argU32(2) & 0xffff);
  const tci = h.argU32(3) & 0xffff;
  if (!isVlan(proto)) proto = ETH_P_8021Q;
  if (skb.field(SK_BUFF.vlan_present) !== 0) {
    const oldProto = swap16(skb.field(SK_BUFF.vlan_proto) & 0xffff);
    const err = insertTag(skb, oldProto, skb.field(SK_BUFF.vlan_tci));
    if (err !== 0) return err;
    skb.protocol = oldProto;
  }
  setAccelTag(skb, proto, tci);
  return 0;
}

function vlanPop(h: HelperContext): number {
  const skb = context(h);
  if (skb.field(SK_BUFF.vlan_present) !== 0) {
    clearAccelTag(skb);
  } else {
    if (!isVlan(skb.protocol)) return 0;
    const r = removeTag(skb);
    if (typeof r === 'number') return r;
  }
  if (!isVlan(skb.protocol)) return 0;
  const proto = skb.protocol;
  const r = removeTag(skb);
  if (typeof r === 'number') return r;
  setAccelTag(skb, proto, r.tci);
  return 0;
}

/** bpf_skb_net_hdr_push: `len` bytes at `off`, the headers moved with the front. */
function netHeaderPush(skb: SkbContext, off: number, len: number): number {
  const transSame = skb.transportHeader === skb.networkHeader;
  if (!skb.pushAt(off, len)) return -ENOMEM;
  skb.macHeaderAt -= len;
  skb.networkHeader -= len;
  if (transSame) skb.transportHeader = skb.networkHeader;
  return 0;
}

/** bpf_skb_net_hdr_pop. */
function netHeaderPop(skb: SkbContext, off: number, len: number): number {
  if (off + len > skb.length) return -ENOMEM; // pskb_may_pull
  const transSame = skb.transportHeader === skb.networkHeader;
  skb.popAt(off, len);
  skb.macHeaderAt += len;
  skb.networkHeader += len;
  if (transSame) skb.transportHeader = skb.networkHeader;
  return 0;
}

function changeProto(h: HelperContext): number {
  const skb = context(h);
  const to = swap16(h.argU32(2) & 0xffff);
  if (h.arg(3) !== 0n) return -EINVAL;
  const from = skb.protocol;
  const diff = IPV6_HLEN - IPV4_HLEN;
  let err: number;
  if (from === ETH_P_IP && to === ETH_P_IPV6) err = netHeaderPush(skb, macLength(skb), diff);
  else if (from === ETH_P_IPV6 && to === ETH_P_IP) err = netHeaderPop(skb, macLength(skb), diff);
  else return -ENOTSUPP;
  if (err !== 0) return err;
  skb.protocol = to;
  clearHash(h, skb);
  return 0;
}

function changeType(h: HelperContext): number {
  const skb = context(h);
  const type = h.argU32(2);
  if ((skb.field(SK_BUFF.pkt_type) & 0xff) > PACKET_OTHERHOST || type > PACKET_OTHERHOST) return -EINVAL;
  skb.setField(SK_BUFF.pkt_type, type);
  return 0;
}

/** __bpf_skb_min_len: the packet may not be cut into its network/transport headers. */
function minLength(skb: SkbContext): number {
  let min = 0;
  const network = skb.networkHeader - skb.data;
  if (network > 0) min = network;
  if (skb.transportHeader !== undefined && skb.transportHeader - skb.data > 0) min = skb.transportHeader - skb.data;
  return min;
}

/** skb_gso_reset. */
function gsoReset(skb: SkbContext): void {
  skb.setField(SK_BUFF.gso_size, 0);
  skb.setField(SK_BUFF.gso_segs, 0);
}

function changeTail(h: HelperContext): number {
  const skb = context(h);
  const len = h.argU32(2);
  if (h.arg(3) !== 0n || len > SKB_MAX_ALLOC || len < minLength(skb)) return -EINVAL;
  if (skb.encapsulation) return -ENOTSUPP;
  if (!skb.setLength(len)) return -ENOMEM;
  if (skb.isGso) gsoReset(skb);
  return 0;
}

function changeHead(h: HelperContext): number {
  const skb = context(h);
  const room = h.argU32(2);
  const newLength = skb.length + room;
  if (h.arg(3) !== 0n || room > 0x7fffffff || (!skb.isGso && newLength > SKB_MAX_ALLOC)) return -EINVAL;
  if (!skb.pushAt(0, room)) return -ENOMEM;
  skb.macHeaderAt = skb.data;
  return 0;
}

/** bpf_skb_net_base_len: the fixed IP header of skb->protocol, or ~0. */
function baseLength(proto: number): number {
  return proto === ETH_P_IP ? IPV4_HLEN : proto === ETH_P_IPV6 ? IPV6_HLEN : 0xffffffff;
}

function netShrink(skb: SkbContext, off: number, len: number, flags: bigint): number {
  if ((flags & ~(BPF_F_ADJ_ROOM_FIXED_GSO | DECAP_L3_MASK | BPF_F_ADJ_ROOM_NO_CSUM_RESET)) !== 0n) return -EINVAL;
  // test_run's GSO packets have no gso_type: neither TCP nor UDP_L4.
  if (skb.isGso) return -ENOTSUPP;
  const err = netHeaderPop(skb, off, len);
  if (err !== 0) return err;
  if (skb.protocol === ETH_P_IP && (flags & BPF_F_ADJ_ROOM_DECAP_L3_IPV6) !== 0n) skb.protocol = ETH_P_IPV6;
  else if (skb.protocol === ETH_P_IPV6 && (flags & BPF_F_ADJ_ROOM_DECAP_L3_IPV4) !== 0n) skb.protocol = ETH_P_IP;
  return 0;
}

function netGrow(skb: SkbContext, off: number, len: number, flags: bigint): number {
  const innerMacLength = Number((flags >> ENCAP_L2_SHIFT) & 0xffn);
  const encap = (flags & ENCAP_L3_MASK) !== 0n;
  if (skb.isGso) return -ENOTSUPP;
  let macLen = 0;
  if (encap) {
    if (skb.protocol !== ETH_P_IP && skb.protocol !== ETH_P_IPV6) return -ENOTSUPP;
    if ((flags & ENCAP_L3_MASK) === ENCAP_L3_MASK) return -EINVAL;
    if ((flags & BPF_F_ADJ_ROOM_ENCAP_L4_GRE) !== 0n && (flags & BPF_F_ADJ_ROOM_ENCAP_L4_UDP) !== 0n) return -EINVAL;
    if ((flags & BPF_F_ADJ_ROOM_ENCAP_L2_ETH) !== 0n && innerMacLength < ETH_HLEN) return -EINVAL;
    if (skb.encapsulation) return -EALREADY;
    macLen = macLength(skb);
    if (innerMacLength > len) return -EINVAL;
  }
  const err = netHeaderPush(skb, off, len);
  if (err !== 0) return err;
  if (encap) {
    skb.encapsulation = true;
    skb.networkHeader = skb.data + macLen;
    if ((flags & (BPF_F_ADJ_ROOM_ENCAP_L4_GRE | BPF_F_ADJ_ROOM_ENCAP_L4_UDP)) !== 0n) {
      skb.transportHeader = skb.data + macLen + ((flags & BPF_F_ADJ_ROOM_ENCAP_L3_IPV6) !== 0n ? IPV6_HLEN : IPV4_HLEN);
    }
    if (skb.protocol === ETH_P_IP && (flags & BPF_F_ADJ_ROOM_ENCAP_L3_IPV6) !== 0n) skb.protocol = ETH_P_IPV6;
    else if (skb.protocol === ETH_P_IPV6 && (flags & BPF_F_ADJ_ROOM_ENCAP_L3_IPV4) !== 0n) skb.protocol = ETH_P_IP;
  }
  return 0;
}

function adjustRoom(h: HelperContext): number {
  const skb = context(h);
  const diff = h.argU32(2) | 0;
  const mode = h.argU32(3);
  const flags = h.arg(4);
  const abs = Math.abs(diff);
  const shrink = diff < 0;
  let min = baseLength(skb.protocol);
  if ((flags & ~(ADJ_ROOM_MASK | BPF_F_ADJ_ROOM_NO_CSUM_RESET)) !== 0n) return -EINVAL;
  if (abs > 0xfff) return -EFAULT;
  if (skb.protocol !== ETH_P_IP && skb.protocol !== ETH_P_IPV6) return -ENOTSUPP;
  let off = macLength(skb);
  if (mode === BPF_ADJ_ROOM_NET) off += baseLength(skb.protocol);
  else if (mode !== BPF_ADJ_ROOM_MAC) return -ENOTSUPP;
  if ((flags & DECAP_L3_MASK) !== 0n) {
    if (!shrink) return -EINVAL;
    const decap = flags & DECAP_L3_MASK;
    if (decap === BPF_F_ADJ_ROOM_DECAP_L3_IPV4) min = IPV4_HLEN;
    else if (decap === BPF_F_ADJ_ROOM_DECAP_L3_IPV6) min = IPV6_HLEN;
    else return -EINVAL;
  }
  const current = skb.length - (skb.networkHeader - skb.data);
  if ((shrink && (abs >= current || current - abs < min)) || (!shrink && skb.length + abs > SKB_MAX_ALLOC && !skb.isGso)) return -ENOTSUPP;
  return shrink ? netShrink(skb, off, abs, flags) : netGrow(skb, off, abs, flags);
}

/** The sk_buff helpers that change the packet's shape (merged into `skbHelpers`). */
export const skbResizeHelpers: HelperTable = new Map([
  [BPF_FUNC_skb_vlan_push, vlanPush],
  [BPF_FUNC_skb_vlan_pop, vlanPop],
  [BPF_FUNC_skb_change_proto, changeProto],
  [BPF_FUNC_skb_change_type, changeType],
  [BPF_FUNC_skb_change_tail, changeTail],
  [BPF_FUNC_skb_change_head, changeHead],
  [BPF_FUNC_skb_adjust_room, adjustRoom],
]);
