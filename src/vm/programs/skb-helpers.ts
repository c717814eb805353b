/**
 * Helpers of programs whose context is a `struct __sk_buff` (socket filters, TC classifiers and
 * actions), bound to the context their r1 names, by Linux helper id (include/uapi/linux/bpf.h),
 * with the kernel's return values and effects (net/core/filter.c, Linux 6.18) for the linear
 * sk_buff BPF_PROG_TEST_RUN builds (ip_summed CHECKSUM_NONE: checksum helpers change only the
 * packet, not skb->csum):
 *
 * - bpf_skb_store_bytes (9), bpf_l3_csum_replace (10), bpf_l4_csum_replace (11),
 *   bpf_redirect (23), bpf_skb_load_bytes (26), bpf_csum_diff (28), bpf_get_hash_recalc (34),
 *   bpf_skb_pull_data (39), bpf_set_hash (48);
 * - and those that change the packet's shape (skb-resize.ts): bpf_skb_vlan_push/pop (18, 19),
 *   bpf_skb_change_proto/type (31, 32), bpf_skb_change_tail (38), bpf_skb_change_head (43),
 *   bpf_skb_adjust_room (50).
 *
 * Checksums are computed the way x86-64 does (32-bit one's-complement sums of little-endian
 * words, folded with end-around carry), which is what the kernel's test runs return.
 *
 * bpf_get_hash_recalc's flow hash uses a random boot-time key in the kernel; the VM returns the
 * hash bpf_set_hash (or the host, through `SkbOptions.hash`) gave, else a stand-in computed from
 * the packet (FNV-1a) — not the kernel's value.
 */
import { VmError } from '../errors.js';
import type { Helper, HelperContext, HelperTable } from '../helpers.js';
import type { Memory } from '../memory.js';
import { SK_BUFF } from './sk-buff.js';
import { skbHelperState, type SkbHelperState } from './skb-state.js';
import { skbResizeHelpers } from './skb-resize.js';

export const BPF_FUNC_skb_store_bytes = 9;
export const BPF_FUNC_l3_csum_replace = 10;
export const BPF_FUNC_l4_csum_replace = 11;
export const BPF_FUNC_redirect = 23;
export const BPF_FUNC_skb_load_bytes = 26;
export const BPF_FUNC_csum_diff = 28;
export const BPF_FUNC_get_hash_recalc = 34;
export const BPF_FUNC_skb_pull_data = 39;
export const BPF_FUNC_set_hash = 48;

/** Flags of bpf_skb_store_bytes. */
export const BPF_F_RECOMPUTE_CSUM = 1;
export const BPF_F_INVALIDATE_HASH = 2;
/** Flags of bpf_l3/l4_csum_replace: the field size in the low 4 bits, then these. */
export const BPF_F_HDR_FIELD_MASK = 0xf;
export const BPF_F_PSEUDO_HDR = 1 << 4;
export const BPF_F_MARK_MANGLED_0 = 1 << 5;
export const BPF_F_MARK_ENFORCE = 1 << 6;
export const BPF_F_IPV6 = 1 << 7;
/** bpf_redirect's flag: to the device's ingress instead of its egress. */
export const BPF_F_INGRESS = 1;
/** TC verdicts bpf_redirect returns. */
export const TC_ACT_SHOT = 2;
export const TC_ACT_REDIRECT = 7;

const EFAULT = 14, EINVAL = 22, ENOMEM = 12;

/** csum_from32to16: a 32-bit sum folded to 16 bits (not complemented), as bpf_csum_diff returns it since Linux 6.12. */
function from32to16(sum: number): number {
  let s = (sum & 0xffff) + (sum >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return s;
}
const INT_MAX = 0x7fffffff;
/** CSUM_MANGLED_0: what a zero UDP checksum becomes. */
const CSUM_MANGLED_0 = 0xffff;
/** bpf_csum_diff's scratch buffer: at most 128 words of from and to together. */
const CSUM_DIFF_MAX = 512;

export { skbHelperState, type SkbHelperState } from './skb-state.js';

/** The sk_buff a helper's r1 names: its struct and packet window. */
class Skb {
  readonly memory: Memory;
  readonly address: number;
  readonly h: HelperContext;

  constructor(h: HelperContext) {
    this.h = h;
    this.memory = h.memory;
    this.address = h.argNumber(1);
    if (this.memory.near(this.address)?.kind !== 'context') {
      throw new VmError(`helper argument r1 (0x${this.address.toString(16)}) is not a struct __sk_buff`, h.index);
    }
  }

  field(offset: number): number {
    return this.memory.view.getUint32(this.address + offset, true);
  }

  setField(offset: number, value: number): void {
    this.memory.view.setUint32(this.address + offset, value >>> 0, true);
  }

  get data(): number { return this.field(SK_BUFF.data); }
  get dataEnd(): number { return this.field(SK_BUFF.data_end); }
  /** skb->len: the bytes from data to the packet's end (the skb is linear). */
  get len(): number { return this.dataEnd - this.data; }

  get state(): SkbHelperState { return skbHelperState(this.memory, this.address); }

  /** The bytes of pointer argument `n` (stack, map value, …), checked to lie in one region. */
  argBytes(n: number, size: number, write: boolean): Uint8Array {
    const at = this.h.argNumber(n);
    const region = size === 0 ? undefined : this.memory.find(at, size);
    if (size !== 0 && (region === undefined || (write && !region.writable))) {
      throw new VmError(`helper argument r${n} (0x${at.toString(16)}, ${size} bytes) is not ${write ? 'writable ' : ''}memory`, this.h.index);
    }
    return this.memory.bytes.subarray(at, at + size);
  }
}

/** A 32-bit one's-complement sum (end-around carry). */
function csumAdd(a: number, b: number): number {
  const s = (a >>> 0) + (b >>> 0);
  return s > 0xffffffff ? (s - 0xffffffff) >>> 0 : s >>> 0;
}

const csumSub = (a: number, b: number): number => csumAdd(a, ~b >>> 0);

/** csum_partial as x86-64 computes it: `seed` plus the bytes as little-endian 32-bit words. */
export function csumPartial(bytes: Uint8Array, seed: number): number {
  let sum = seed >>> 0;
  let i = 0;
  for (; i + 4 <= bytes.length; i += 4) sum = csumAdd(sum, (bytes[i]! | bytes[i + 1]! << 8 | bytes[i + 2]! << 16 | bytes[i + 3]! << 24) >>> 0);
  if (i < bytes.length) {
    let tail = 0;
    for (let k = 0; i + k < bytes.length; k++) tail |= bytes[i + k]! << (8 * k);
    sum = csumAdd(sum, tail >>> 0);
  }
  return sum;
}

/** csum_fold: a 32-bit sum folded to 16 bits and complemented. */
function csumFold(sum: number): number {
  let s = (sum & 0xffff) + (sum >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** csum16_add: 16-bit one's-complement addition. */
function csum16Add(a: number, b: number): number {
  const s = (a & 0xffff) + (b & 0xffff);
  return (s + (s >>> 16)) & 0xffff;
}

/** The 16-bit checksum at `offset` of the packet for l3/l4_csum_replace, or an error. */
function checksumAt(skb: Skb, offset: bigint): number | { error: number } {
  if (offset > 0xffffn || (offset & 1n) !== 0n) return { error: -EFAULT };
  const at = Number(offset);
  // bpf_try_make_writable(skb, offset + 2)
  if (at + 2 > skb.len) return { error: -EFAULT };
  return skb.data + at;
}

function skbLoadBytes(h: HelperContext): number {
  const skb = new Skb(h);
  const offset = h.argU32(2);
  const len = h.argNumber(4);
  const to = skb.argBytes(3, len, true);
  if (offset > INT_MAX || offset + len > skb.len) {
    to.fill(0);
    return -EFAULT;
  }
  to.set(skb.memory.bytes.subarray(skb.data + offset, skb.data + offset + len));
  return 0;
}

function skbStoreBytes(h: HelperContext): number {
  const skb = new Skb(h);
  const offset = h.argU32(2);
  const len = h.argNumber(4);
  const flags = h.arg(5);
  const from = skb.argBytes(3, len, false);
  if ((flags & ~BigInt(BPF_F_RECOMPUTE_CSUM | BPF_F_INVALIDATE_HASH)) !== 0n) return -EINVAL;
  if (offset > INT_MAX) return -EFAULT;
  if (offset + len > skb.len) return -EFAULT;
  skb.memory.bytes.copyWithin(skb.data + offset, from.byteOffset, from.byteOffset + len);
  if ((flags & BigInt(BPF_F_INVALIDATE_HASH)) !== 0n) clearHash(skb);
  return 0;
}

/** skb_clear_hash. */
function clearHash(skb: Skb): void {
  skb.setField(SK_BUFF.hash, 0);
  skb.state.swHash = false;
}

function csumDiff(h: HelperContext): number {
  const fromSize = h.argNumber(2);
  const toSize = h.argNumber(4);
  const seed = h.argU32(5);
  if (fromSize + toSize > CSUM_DIFF_MAX) return -EINVAL;
  const memory = h.memory;
  const bytes = (n: number, size: number): Uint8Array => {
    const at = h.argNumber(n);
    if (size !== 0 && memory.find(at, size) === undefined) throw new VmError(`helper argument r${n} (0x${at.toString(16)}, ${size} bytes) is not memory`, h.index);
    return memory.bytes.subarray(at, at + size);
  };
  const from = bytes(1, fromSize), to = bytes(3, toSize);
  if (fromSize !== 0 && toSize !== 0) return from32to16(csumSub(csumPartial(to, seed), csumPartial(from, 0)));
  if (toSize !== 0) return from32to16(csumPartial(to, seed));
  if (fromSize !== 0) return from32to16(~csumPartial(from, ~seed >>> 0) >>> 0);
  return from32to16(seed);
}

function l3CsumReplace(h: HelperContext): number {
  const skb = new Skb(h);
  const from = h.arg(3), to = h.arg(4), flags = h.arg(5);
  if ((flags & ~BigInt(BPF_F_HDR_FIELD_MASK)) !== 0n) return -EINVAL;
  const at = checksumAt(skb, h.arg(2));
  if (typeof at !== 'number') return at.error;
  const view = skb.memory.view;
  const sum = view.getUint16(at, true);
  switch (Number(flags) & BPF_F_HDR_FIELD_MASK) {
    case 0: // csum_replace_by_diff
      if (from !== 0n) return -EINVAL;
      view.setUint16(at, csumFold(csumAdd(Number(to & 0xffffffffn), ~sum >>> 0)), true);
      break;
    case 2: // csum_replace2
      view.setUint16(at, ~csum16Add(csum16Add(~sum, ~Number(from & 0xffffn)), Number(to & 0xffffn)) & 0xffff, true);
      break;
    case 4: // csum_replace4
      view.setUint16(at, csumFold(csumAdd(csumSub(~sum >>> 0, Number(from & 0xffffffffn)), Number(to & 0xffffffffn))), true);
      break;
    default:
      return -EINVAL;
  }
  return 0;
}

function l4CsumReplace(h: HelperContext): number {
  const skb = new Skb(h);
  const from = h.arg(3), to = h.arg(4), flags = h.arg(5);
  const allowed = BPF_F_MARK_MANGLED_0 | BPF_F_MARK_ENFORCE | BPF_F_PSEUDO_HDR | BPF_F_HDR_FIELD_MASK | BPF_F_IPV6;
  if ((flags & ~BigInt(allowed)) !== 0n) return -EINVAL;
  const f = Number(flags);
  const mangled0 = (f & BPF_F_MARK_MANGLED_0) !== 0, enforce = (f & BPF_F_MARK_ENFORCE) !== 0;
  const at = checksumAt(skb, h.arg(2));
  if (typeof at !== 'number') return at.error;
  const view = skb.memory.view;
  const sum = view.getUint16(at, true);
  if (mangled0 && !enforce && sum === 0) return 0;
  // ip_summed is not CHECKSUM_PARTIAL: the pseudo-header flag changes only skb->csum.
  switch (f & BPF_F_HDR_FIELD_MASK) {
    case 0: // inet_proto_csum_replace_by_diff
      if (from !== 0n) return -EINVAL;
      view.setUint16(at, csumFold(csumAdd(Number(to & 0xffffffffn), ~sum >>> 0)), true);
      break;
    case 2: case 4: { // inet_proto_csum_replace2/4: csum_partial({ ~from, to }, 8, ~sum)
      const mask = (f & BPF_F_HDR_FIELD_MASK) === 2 ? 0xffffn : 0xffffffffn;
      view.setUint16(at, csumFold(csumAdd(csumAdd(~sum >>> 0, ~Number(from & mask) >>> 0), Number(to & mask))), true);
      break;
    }
    default:
      return -EINVAL;
  }
  if (mangled0 && view.getUint16(at, true) === 0) view.setUint16(at, CSUM_MANGLED_0, true);
  return 0;
}

function redirect(h: HelperContext): number {
  const flags = h.arg(2);
  if ((flags & ~BigInt(BPF_F_INGRESS)) !== 0n) return TC_ACT_SHOT;
  redirects.set(h.memory, { ifindex: h.argU32(1), flags: Number(flags) });
  return TC_ACT_REDIRECT;
}

function getHashRecalc(h: HelperContext): number {
  const skb = new Skb(h);
  const hash = skb.field(SK_BUFF.hash);
  if (skb.state.swHash || hash !== 0) return hash;
  // Stand-in for the kernel's keyed flow hash: FNV-1a of the packet.
  let x = 0x811c9dc5;
  for (const b of skb.memory.bytes.subarray(skb.data, skb.dataEnd)) x = Math.imul(x ^ b, 0x01000193) >>> 0;
  skb.setField(SK_BUFF.hash, x);
  return x;
}

function setHash(h: HelperContext): number {
  const skb = new Skb(h);
  skb.setField(SK_BUFF.hash, h.argU32(2));
  skb.state.swHash = true;
  return 0;
}

function pullData(h: HelperContext): number {
  const skb = new Skb(h);
  const len = h.argU32(2);
  // bpf_try_make_writable(skb, len ?: skb_headlen(skb)): the skb is linear, so only a length past its end fails.
  return len > skb.len ? -ENOMEM : 0;
}

const redirects = new WeakMap<Memory, { readonly ifindex: number; readonly flags: number }>();

/** Sets bpf_redirect's target in `memory` (for the XDP variant of the helper). */
export function recordRedirect(memory: Memory, ifindex: number, flags: number): void {
  redirects.set(memory, { ifindex, flags });
}

/**
 * bpf_redirect's last target in `memory` (kernel: the per-CPU bpf_redirect_info; the helper takes
 * no context), cleared by reading it.
 */
export function takeSkbRedirect(memory: Memory): { readonly ifindex: number; readonly flags: number } | undefined {
  const r = redirects.get(memory);
  redirects.delete(memory);
  return r;
}

/** sk_buff helpers; add them to an interpreter's helper table for socket filter and TC programs. */
export const skbHelpers: HelperTable = new Map([
  [BPF_FUNC_skb_store_bytes, skbStoreBytes],
  [BPF_FUNC_l3_csum_replace, l3CsumReplace],
  [BPF_FUNC_l4_csum_replace, l4CsumReplace],
  [BPF_FUNC_redirect, redirect],
  [BPF_FUNC_skb_load_bytes, skbLoadBytes],
  [BPF_FUNC_csum_diff, csumDiff],
  [BPF_FUNC_get_hash_recalc, getHashRecalc],
  [BPF_FUNC_skb_pull_data, pullData],
  [BPF_FUNC_set_hash, setHash],
  ...(skbResizeHelpers as ReadonlyMap<number, Helper>),
]);
