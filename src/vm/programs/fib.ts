/**
 * The packet helpers that ask the host's network (`VmHost.network`, see net-table.ts), with the
 * kernel's checks and return values (net/core/filter.c, Linux 6.18):
 *
 * - bpf_fib_lookup (69), for TC and XDP programs: the route to `params->ipv4_dst`/`ipv6_dst` —
 *   rules local → main → default (or one table with BPF_FIB_LOOKUP_DIRECT/TBID), longest prefix
 *   then lowest metric, BPF_FIB_LOOKUP_OUTPUT matching the nexthop's device, the MTU check
 *   (`tot_len`, or the skb's length against the device), the neighbour's MAC (unless
 *   BPF_FIB_LOOKUP_SKIP_NEIGH) and, with BPF_FIB_LOOKUP_SRC, the source address; returns
 *   BPF_FIB_LKUP_RET_* or a negative errno;
 * - bpf_clone_redirect (13): a copy of the packet sent to a device's egress (or ingress with
 *   BPF_F_INGRESS); returns 0 (the copy went), NET_RX_DROP/NET_XMIT_CN (1/2) for a device that is
 *   down, or -errno.
 *   The copies are kept for the host ({@link takeSkbClones}).
 *
 * Simplified against the kernel: no policy rules besides the default ones (fwmark, iif, … are
 * not matched), one nexthop per route (multipath takes the first), no route exceptions (PMTU
 * learnt from ICMP), and source address selection that takes the device's first address (IPv4:
 * in the gateway's subnet when there is one; IPv6: its first global address).
 */
import { VmError } from '../errors.js';
import type { HelperContext, HelperTable } from '../helpers.js';
import type { VmHost } from '../helpers/host.js';
import type { Memory } from '../memory.js';
import {
  NUD_VALID, parseAddress, parseMacText, parsePrefix, prefixMatch, type VmNetDevice, type VmNetwork, type VmRoute,
} from './net-table.js';
import { SkbContext } from './skb.js';
import { XdpContext } from './xdp.js';

export const BPF_FUNC_clone_redirect = 13;
export const BPF_FUNC_fib_lookup = 69;

/** bpf_fib_lookup's flags. */
export const BPF_FIB_LOOKUP_DIRECT = 1 << 0;
export const BPF_FIB_LOOKUP_OUTPUT = 1 << 1;
export const BPF_FIB_LOOKUP_SKIP_NEIGH = 1 << 2;
export const BPF_FIB_LOOKUP_TBID = 1 << 3;
export const BPF_FIB_LOOKUP_SRC = 1 << 4;
export const BPF_FIB_LOOKUP_MARK = 1 << 5;
const FIB_LOOKUP_MASK = 0x3f;

/** bpf_fib_lookup's results (enum BPF_FIB_LKUP_RET_*). */
export const FibResult = {
  SUCCESS: 0, BLACKHOLE: 1, UNREACHABLE: 2, PROHIBIT: 3, NOT_FWDED: 4, FWD_DISABLED: 5,
  UNSUPP_LWT: 6, NO_NEIGH: 7, FRAG_NEEDED: 8, NO_SRC_ADDR: 9,
} as const;

/** sizeof(struct bpf_fib_lookup) and its fields' offsets. */
export const BPF_FIB_LOOKUP_SIZE = 64;
const P = { family: 0, l4_protocol: 1, sport: 2, dport: 4, tot_len: 6, ifindex: 8, tos: 12, src: 16, dst: 32, h_vlan_proto: 48, h_vlan_TCI: 50, tbid: 48, smac: 52, dmac: 58 } as const;

const AF_INET = 2, AF_INET6 = 10;
const RT_TABLE_MAIN = 254, RT_TABLE_LOCAL = 255, RT_TABLE_DEFAULT = 253;
const ENODEV = 19, EINVAL = 22, EBADMSG = 74, EAFNOSUPPORT = 97;
const ETH_HLEN = 14, VLAN_HLEN = 4;
/** What sending a copy to a device that is down returns: to its ingress, to its egress. */
const NET_RX_DROP = 1, NET_XMIT_CN = 2;
/** IP_MAX_MTU. */
const IP_MAX_MTU = 0xffff;
const BPF_F_INGRESS = 1n;

/** A copy bpf_clone_redirect sent. */
export interface SkbClone {
  readonly ifindex: number;
  readonly ingress: boolean;
  readonly packet: Uint8Array;
}

const clones = new WeakMap<Memory, SkbClone[]>();

/** The copies bpf_clone_redirect sent in `memory` since the last call, oldest first. */
export function takeSkbClones(memory: Memory): SkbClone[] {
  const list = clones.get(memory) ?? [];
  clones.delete(memory);
  return list;
}

function device(network: VmNetwork, ifindex: number): VmNetDevice | undefined {
  return network.devices.find((d) => d.ifindex === ifindex);
}

const mtuOf = (dev: VmNetDevice): number => dev.mtu ?? 1500;
const macOf = (dev: VmNetDevice): Uint8Array => (dev.mac === undefined ? new Uint8Array(6) : parseMacText(dev.mac));

/** A route matched for a lookup. */
interface Match {
  readonly route: VmRoute;
  readonly length: number;
}

/**
 * The tables a lookup reads in order (as sets of table ids): one, or the default rules' local,
 * main, default. IPv4 keeps local and main in one table while there are only the default rules
 * (fib_trie's merged tables), so they are searched together, longest prefix first.
 */
function tables(family: number, table: number | undefined): number[][] {
  const merged = [RT_TABLE_LOCAL, RT_TABLE_MAIN];
  if (family === AF_INET) return table === undefined ? [merged, [RT_TABLE_DEFAULT]] : merged.includes(table) ? [merged] : [[table]];
  return table === undefined ? [[RT_TABLE_LOCAL], [RT_TABLE_MAIN]] : [[table]];
}

/** The best route to `dst` in `table`: longest prefix, then lowest metric; `oif` (IPv4 OUTPUT) must be the nexthop's device. */
function tableLookup(network: VmNetwork, table: readonly number[], dst: Uint8Array, oif: number): Match | undefined {
  let best: Match | undefined;
  for (const route of network.routes ?? []) {
    if (!table.includes(route.table ?? RT_TABLE_MAIN)) continue;
    const prefix = parsePrefix(route.dst);
    if (prefix.address.length !== dst.length || !prefixMatch(prefix.address, dst, prefix.length)) continue;
    const type = route.type ?? 'unicast';
    if (oif !== 0 && (type === 'unicast' || type === 'local') && route.ifindex !== oif) continue;
    if (best === undefined || prefix.length > best.length
      || (prefix.length === best.length && (route.metric ?? 0) < (best.route.metric ?? 0))) best = { route, length: prefix.length };
  }
  return best;
}

/** The route a lookup finds, or the result code that ends it. */
function findRoute(network: VmNetwork, family: number, dst: Uint8Array, oif: number, table: number | undefined): VmRoute | number {
  const list = tables(family, table);
  const exists = table === undefined || table === RT_TABLE_MAIN || table === RT_TABLE_LOCAL
    || (network.routes ?? []).some((r) => (r.table ?? RT_TABLE_MAIN) === table && parsePrefix(r.dst).address.length === dst.length);
  if (!exists) return FibResult.NOT_FWDED; // fib_get_table: no such table
  for (const t of list) {
    const m = tableLookup(network, t, dst, family === AF_INET ? oif : 0);
    if (m === undefined) continue;
    switch (m.route.type ?? 'unicast') {
      case 'throw': continue;
      case 'blackhole': return FibResult.BLACKHOLE;
      case 'unreachable': return FibResult.UNREACHABLE;
      case 'prohibit': return FibResult.PROHIBIT;
      case 'unicast': return m.route;
      default: return FibResult.NOT_FWDED;
    }
  }
  return FibResult.NOT_FWDED;
}

/** rt6_need_strict: multicast, link-local or loopback. */
function ipv6Strict(a: Uint8Array): boolean {
  if (a[0] === 0xff) return true;
  if (a[0] === 0xfe && (a[1]! & 0xc0) === 0x80) return true;
  return a.subarray(0, 15).every((b) => b === 0) && a[15] === 1;
}

/** The first address of `dev` of the family of `like` (in `subnetOf`'s subnet when one is), for BPF_FIB_LOOKUP_SRC. */
function deviceSource(network: VmNetwork, dev: VmNetDevice, size: number, subnetOf: Uint8Array | undefined): Uint8Array | undefined {
  const parsed = (d: VmNetDevice): Array<{ address: Uint8Array; length: number }> =>
    (d.addresses ?? []).map(parsePrefix).filter((p) => p.address.length === size);
  const usable = (p: { address: Uint8Array }): boolean => size === 4 || !ipv6Strict(p.address);
  const own = parsed(dev).filter(usable);
  if (subnetOf !== undefined) {
    const same = own.find((p) => prefixMatch(p.address, subnetOf, p.length));
    if (same !== undefined) return same.address;
  }
  if (own[0] !== undefined) return own[0].address;
  for (const other of network.devices) {
    const first = parsed(other).filter(usable).find((p) => size === 16 || p.address[0] !== 127);
    if (first !== undefined) return first.address;
  }
  return undefined;
}

/** bpf_ipv4_fib_lookup / bpf_ipv6_fib_lookup on the params at `view`. */
function familyLookup(network: VmNetwork, p: DataView, flags: number, checkMtu: boolean): number {
  const family = p.getUint8(P.family);
  const v6 = family === AF_INET6;
  const size = v6 ? 16 : 4;
  const bytes = (at: number): Uint8Array => new Uint8Array(p.buffer, p.byteOffset + at, size).slice();
  const src = bytes(P.src), dst = bytes(P.dst);
  if (v6 && (ipv6Strict(dst) || ipv6Strict(src))) return FibResult.NOT_FWDED;
  const ifindex = p.getUint32(P.ifindex, true);
  const inDev = device(network, ifindex);
  if (inDev === undefined) return -ENODEV;
  if (!(v6 ? inDev.forwarding6 ?? true : inDev.forwarding ?? true)) return FibResult.FWD_DISABLED;
  const output = (flags & BPF_FIB_LOOKUP_OUTPUT) !== 0;
  let table: number | undefined;
  if ((flags & BPF_FIB_LOOKUP_DIRECT) !== 0) {
    table = RT_TABLE_MAIN;
    if ((flags & BPF_FIB_LOOKUP_TBID) !== 0) {
      table = p.getUint32(P.tbid, true);
      p.setUint32(P.tbid, 0, true);
    }
  }
  const found = findRoute(network, family, dst, output ? ifindex : 0, table);
  if (typeof found === 'number') return found;
  const dev = found.ifindex === undefined ? undefined : device(network, found.ifindex);
  if (dev === undefined) return FibResult.NOT_FWDED;
  let mtu = 0;
  if (checkMtu) {
    // ip_mtu_from_fib_result / ip6_mtu_from_fib6: a route's MTU counts only when locked.
    mtu = found.mtuLocked && found.mtu !== undefined ? found.mtu : Math.min(mtuOf(dev), IP_MAX_MTU);
    if (p.getUint16(P.tot_len, true) > mtu) {
      p.setUint16(P.tot_len, mtu, true);
      return FibResult.FRAG_NEEDED;
    }
  }
  p.setUint32(P.tos, found.metric ?? 0, true);
  p.setUint32(P.ifindex, dev.ifindex, true);
  const gateway = found.gateway === undefined ? undefined : parseAddress(found.gateway);
  if ((flags & BPF_FIB_LOOKUP_SRC) !== 0) {
    const source = found.prefsrc !== undefined ? parseAddress(found.prefsrc) : deviceSource(network, dev, size, v6 ? dst : gateway);
    if (source === undefined) {
      if (v6) return FibResult.NO_SRC_ADDR;
      new Uint8Array(p.buffer, p.byteOffset + P.src, 4).fill(0);
    } else {
      new Uint8Array(p.buffer, p.byteOffset + P.src, source.length).set(source);
    }
  }
  let next = dst;
  if (gateway !== undefined) {
    if (!v6 && gateway.length === 16) p.setUint8(P.family, AF_INET6);
    new Uint8Array(p.buffer, p.byteOffset + P.dst, gateway.length).set(gateway);
    next = gateway;
  }
  if ((flags & BPF_FIB_LOOKUP_SKIP_NEIGH) === 0) {
    const neighbour = (network.neighbours ?? []).find((n) => n.ifindex === dev.ifindex && sameBytes(parseAddress(n.address), next));
    if (neighbour === undefined || !NUD_VALID.has(neighbour.state ?? 'permanent')) return FibResult.NO_NEIGH;
    new Uint8Array(p.buffer, p.byteOffset + P.dmac, 6).set(parseMacText(neighbour.mac));
    new Uint8Array(p.buffer, p.byteOffset + P.smac, 6).set(macOf(dev));
  }
  // bpf_fib_set_fwd_params
  p.setUint16(P.h_vlan_TCI, 0, true);
  p.setUint16(P.h_vlan_proto, 0, true);
  if (mtu !== 0) p.setUint16(P.tot_len, mtu, true);
  return FibResult.SUCCESS;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * bpf_fib_lookup for the context r1 names: an `xdp_md` (always MTU-checked; the reused frame of
 * `ebpf run` included) or an sk_buff.
 */
function fibLookup(host: VmHost, h: HelperContext): number {
  const memory = h.memory;
  const ctxAddress = h.argNumber(1);
  const ctxRegion = memory.near(ctxAddress);
  const xdp = XdpContext.at(memory, ctxAddress) !== undefined || (ctxRegion?.kind === 'context' && ctxRegion.name === 'xdp_md');
  const skb = xdp ? undefined : SkbContext.at(memory, ctxAddress);
  if (!xdp && skb === undefined) throw new VmError(`helper argument r1 (0x${ctxAddress.toString(16)}) is not a packet context`, h.index);
  const plen = h.argU32(3) | 0;
  const flags = h.argU32(4);
  if (plen < BPF_FIB_LOOKUP_SIZE) return -EINVAL;
  const at = h.argNumber(2);
  const region = memory.find(at, BPF_FIB_LOOKUP_SIZE);
  if (region === undefined || !region.writable) throw new VmError(`helper argument r2 (0x${at.toString(16)}, ${BPF_FIB_LOOKUP_SIZE} bytes) is not writable memory`, h.index);
  if ((flags & ~FIB_LOOKUP_MASK) !== 0) return -EINVAL;
  const params = new DataView(memory.bytes.buffer, at, BPF_FIB_LOOKUP_SIZE);
  const family = params.getUint8(P.family);
  if (family !== AF_INET && family !== AF_INET6) return -EAFNOSUPPORT;
  const network = host.network;
  const checkMtu = xdp || params.getUint16(P.tot_len, true) !== 0;
  const rc = familyLookup(network, params, flags, checkMtu);
  if (skb !== undefined && rc === FibResult.SUCCESS && !checkMtu) {
    // is_skb_forwardable against the nexthop's device, whose MTU the helper reports.
    const dev = device(network, params.getUint32(P.ifindex, true))!;
    params.setUint16(P.tot_len, mtuOf(dev) & 0xffff, true);
    const up = dev.up ?? true;
    if (!up || (skb.length > mtuOf(dev) + ETH_HLEN + VLAN_HLEN && !skb.isGso)) return FibResult.FRAG_NEEDED;
  }
  return rc;
}

/** bpf_clone_redirect. */
function cloneRedirect(host: VmHost, h: HelperContext): number {
  const memory = h.memory;
  const address = h.argNumber(1);
  const skb = SkbContext.at(memory, address);
  if (skb === undefined) throw new VmError(`helper argument r1 (0x${address.toString(16)}) is not a struct __sk_buff made by SkbContext`, h.index);
  const flags = h.arg(3);
  if ((flags & ~BPF_F_INGRESS) !== 0n) return -EINVAL;
  // test_run's GSO packets have no gso_type.
  if (skb.isGso) return -EBADMSG;
  const dev = device(host.network, h.argU32(2));
  if (dev === undefined) return -EINVAL;
  const ingress = (flags & BPF_F_INGRESS) !== 0n;
  if (skb.macHeaderAt >= skb.networkHeader || skb.length === 0) return -34; // -ERANGE: no link-layer header
  // A device that is down drops the copy: dev_forward_skb says NET_RX_DROP, its noop qdisc NET_XMIT_CN.
  if (!(dev.up ?? true)) return ingress ? NET_RX_DROP : NET_XMIT_CN;
  let list = clones.get(memory);
  if (list === undefined) clones.set(memory, list = []);
  list.push({ ifindex: dev.ifindex, ingress, packet: memory.bytes.slice(Math.min(skb.macHeaderAt, skb.data), skb.dataEnd) });
  return 0;
}

/** The helpers that read the host's network; add them to the helper table of TC and XDP programs. */
export function netHelpers(host: VmHost): HelperTable {
  return new Map([
    [BPF_FUNC_clone_redirect, (h: HelperContext) => cloneRedirect(host, h)],
    [BPF_FUNC_fib_lookup, (h: HelperContext) => fibLookup(host, h)],
  ]);
}
