/**
 * The `struct __sk_buff` context of socket filters, TC classifiers/actions and cgroup skb
 * programs, built from an Ethernet frame the way the kernel's BPF_PROG_TEST_RUN builds its
 * sk_buff (net/bpf/test_run.c bpf_prog_test_run_skb):
 *
 * - the frame is received on a device (loopback unless given): `eth_type_trans` sets
 *   `protocol` (an EtherType, or ETH_P_802_3/ETH_P_802_2 for 802.3 frames) and `pkt_type`
 *   (host, broadcast, multicast or other host, against the device's addresses);
 * - TC programs (sched_cls, sched_act) see the frame from its Ethernet header; socket filters
 *   and cgroup skb programs from the network header (`len` is 14 less) — or, with
 *   `dataStart: 'mac'`, from the Ethernet header as an AF_PACKET socket's filter does;
 * - the socket behind `family`, `local_ip4`, `remote_ip4`, … (cgroup skb) is the one test_run
 *   makes: its local address is the packet's source and its remote address the destination;
 * - `mark`, `priority`, `ingress_ifindex`, `cb`, `tstamp`, `wire_len`, `gso_segs`, `gso_size`
 *   and `hwtstamp` come from the options, as test_run takes them from `ctx_in`.
 *
 * `data`, `data_end` and `data_meta` hold VM addresses (they fit in 32 bits). The packet lives in
 * a buffer with the kernel's NET_SKB_PAD headroom (the Ethernet header of the network-header
 * types sits in it) and room behind for the resizing helpers (skb-resize.ts), which move
 * `data`/`data_end` inside it; the 'packet' region is exactly [data, data_end). The struct is
 * read-only except the fields the program type may write. Helpers find the context by the
 * address in r1 ({@link SkbContext.at}); `load` puts the next packet in the same context.
 *
 * Not modelled: `sk` is 0 (test_run gives a dummy socket, real TC ingress usually none); the
 * kernel narrows some writes when it rewrites context accesses (tc_index and tc_classid keep 16
 * bits, a queue_mapping ≥ 0xffff is ignored) — the VM stores 32 bits, and `readBack` applies the
 * narrowing to what it returns.
 */
import { ProgramType } from '../../object/uapi-types.js';
import type { Interpreter } from '../interpreter.js';
import type { Memory, Region } from '../memory.js';
import { allocContext, contextBytes, releaseContext, type ContextStruct } from './layout.js';
import { PacketBuffer } from './packet-buffer.js';
import { SK_BUFF, SK_BUFF_SIZE, SK_BUFF_WRITABLE, decodeSkBuff, type SkBuff } from './sk-buff.js';
import { bindLegacyPacket } from './legacy-packet.js';
import { resetSkbHelperState } from './skb-state.js';

export const ETH_HLEN = 14;
/** `skb->pkt_type` values (include/uapi/linux/if_packet.h). */
export const PacketType = { HOST: 0, BROADCAST: 1, MULTICAST: 2, OTHERHOST: 3 } as const;
/** Address families of the test_run socket. */
const AF_INET = 2, AF_INET6 = 10;
const ETH_P_IP = 0x0800, ETH_P_IPV6 = 0x86dd, ETH_P_802_3 = 0x0001, ETH_P_802_2 = 0x0004;
/** Headroom the kernel reserves in front of an skb's data (NET_SKB_PAD on x86_64). */
const NET_SKB_PAD = 64;

/** The receiving device: its ifindex and the addresses `pkt_type` is computed against. */
export interface NetDevice {
  readonly ifindex: number;
  readonly mac: Uint8Array;
  readonly broadcast: Uint8Array;
}

/** The loopback device (ifindex 1, all-zero address and broadcast), where test_run receives. */
export const LOOPBACK: NetDevice = { ifindex: 1, mac: new Uint8Array(6), broadcast: new Uint8Array(6) };

/** Options of {@link skbContext}: fields test_run takes from `ctx_in`, and some a real hook sets. */
export interface SkbOptions {
  /** Receiving device (default {@link LOOPBACK}); its ifindex is `ifindex`. */
  device?: NetDevice;
  mark?: number;
  priority?: number;
  ingressIfindex?: number;
  /** `cb[0..4]`. */
  cb?: readonly number[];
  tstamp?: bigint;
  /** Default `len` (test_run without a ctx leaves 0). */
  wireLen?: number;
  gsoSegs?: number;
  gsoSize?: number;
  hwtstamp?: bigint;
  /** Fields test_run always leaves 0; a host may set them to model a real hook. */
  queueMapping?: number;
  hash?: number;
  napiId?: number;
  tcIndex?: number;
  tcClassid?: number;
  /** An accelerated (out-of-band) VLAN tag: sets vlan_present, vlan_tci, vlan_proto. */
  vlan?: { readonly tci: number; readonly proto?: number };
  /**
   * Where `data` (and `ld_abs` offsets) start for socket filters and cgroup skb programs:
   * 'network' (test_run, inet sockets; default) or 'mac' (AF_PACKET sockets). TC always 'mac'.
   */
  dataStart?: 'network' | 'mac';
}

/** What {@link SkbContext.readBack} returns. */
export interface SkbReadBack {
  /** Bytes from data to data_end after the run. */
  readonly packet: Uint8Array;
  /** The whole frame: the Ethernet header (when `packet` starts after it) followed by `packet`. */
  readonly frame: Uint8Array;
  /** The context struct's fields after the run (with the kernel's narrowing of 16-bit fields). */
  readonly ctx: SkBuff;
}

/**
 * BPF_SKB_MAX_LEN (SKB_MAX_ALLOC on x86_64: four pages less the shared info): the longest packet
 * bpf_skb_change_head/change_tail/adjust_room make.
 */
export const SKB_MAX_ALLOC = 16384 - 320;
/** Room kept free past the longest packet, as the kernel keeps the shared info there. */
const SKB_TAIL_PAD = 320;

const registry = new WeakMap<Memory, Map<number, SkbContext>>();

/**
 * A `struct __sk_buff` and its packet in VM memory, for one program type.
 *
 * The packet lives in a buffer with NET_SKB_PAD bytes of headroom in front of the frame (the
 * Ethernet header of socket filters and cgroup skb programs sits in it, before `data`) and room
 * behind it for the longest packet the resizing helpers make ({@link SKB_MAX_ALLOC}, twice that
 * for GSO packets, which bpf_skb_change_head lets grow past it; beyond, the VM answers -ENOMEM); those
 * helpers ({@link pushAt}, {@link popAt}, {@link setLength}) move `data`/`data_end` inside it and
 * keep the kernel's header offsets (mac, network, transport), which their checks read.
 */
export class SkbContext {
  readonly programType: number;
  readonly struct: ContextStruct;
  readonly buffer: PacketBuffer;
  readonly #memory: Memory;
  readonly #l2: boolean;
  #initial!: SkbBase;
  #unbind: () => void;
  /** Header positions (absolute addresses): skb->mac_header, network_header, transport_header (undefined: unset). */
  macHeaderAt = 0;
  networkHeader = 0;
  transportHeader: number | undefined;
  /** skb->encapsulation, set by bpf_skb_adjust_room's encap flags. */
  encapsulation = false;
  /** The receiving device (skb->dev). */
  device: NetDevice = LOOPBACK;

  constructor(memory: Memory, programType: number, frame: Uint8Array, options: SkbOptions = {}) {
    const writable = SK_BUFF_WRITABLE.get(programType);
    if (writable === undefined) throw new RangeError(`program type ${programType} has no __sk_buff context here`);
    checkFrame(frame);
    this.#memory = memory;
    this.programType = programType;
    this.#l2 = programType === ProgramType.SCHED_CLS || programType === ProgramType.SCHED_ACT || options.dataStart === 'mac';
    // Twice the longest packet: GSO packets skip bpf_skb_change_head's length check.
    const capacity = NET_SKB_PAD + Math.max(frame.length, 2 * SKB_MAX_ALLOC) + SKB_TAIL_PAD;
    this.buffer = new PacketBuffer(memory, new Uint8Array(0), NET_SKB_PAD, capacity - NET_SKB_PAD, 'skb data');
    this.struct = allocContext(memory, '__sk_buff', SK_BUFF_SIZE, new Uint8Array(SK_BUFF_SIZE), writable);
    this.load(frame, options);
    this.#unbind = bindLegacyPacket(memory, this.buffer.region);
    let contexts = registry.get(memory);
    if (contexts === undefined) registry.set(memory, contexts = new Map());
    contexts.set(this.address, this);
  }

  /** The context registered at `address` in `memory` (what a helper's r1 names), if any. */
  static at(memory: Memory, address: number): SkbContext | undefined {
    return registry.get(memory)?.get(address);
  }

  /**
   * Puts `frame` in the buffer and rewrites the whole struct, as a fresh context for it would be
   * (the reused context of `ebpf run`); fields the program wrote are reset.
   */
  load(frame: Uint8Array, options: SkbOptions = {}): void {
    checkFrame(frame);
    if (NET_SKB_PAD + frame.length > this.buffer.bufferEnd - this.buffer.bufferStart) throw new RangeError(`a frame of ${frame.length} bytes does not fit this context's buffer`);
    const skip = this.#l2 ? 0 : ETH_HLEN;
    const mac = this.buffer.bufferStart + NET_SKB_PAD;
    this.#memory.bytes.set(frame, mac);
    this.buffer.setWindow(mac + skip, mac + frame.length);
    this.macHeaderAt = mac;
    this.networkHeader = mac + ETH_HLEN;
    this.transportHeader = undefined;
    this.encapsulation = false;
    const device = options.device ?? LOOPBACK;
    this.device = device;
    const protocol = ethTypeTrans(frame);
    const len = frame.length - skip;
    // Written field by field (no intermediate object): `ebpf run` loads a context per packet.
    const at = this.struct.address;
    const bytes = this.#memory.bytes, view = this.#memory.view;
    bytes.fill(0, at, at + SK_BUFF_SIZE);
    const u32 = (offset: number, value: number): void => view.setUint32(at + offset, value >>> 0, true);
    const queueMapping = options.queueMapping ?? 0, gsoSize = options.gsoSize ?? 0;
    u32(SK_BUFF.len, len);
    u32(SK_BUFF.pkt_type, packetType(frame, device));
    u32(SK_BUFF.mark, options.mark ?? 0);
    u32(SK_BUFF.queue_mapping, queueMapping);
    u32(SK_BUFF.protocol, swap16(protocol));
    if (options.vlan !== undefined) {
      u32(SK_BUFF.vlan_present, 1);
      u32(SK_BUFF.vlan_tci, options.vlan.tci);
      u32(SK_BUFF.vlan_proto, swap16(options.vlan.proto ?? 0x8100));
    }
    u32(SK_BUFF.priority, options.priority ?? 0);
    u32(SK_BUFF.ingress_ifindex, options.ingressIfindex ?? 0);
    u32(SK_BUFF.ifindex, device.ifindex);
    u32(SK_BUFF.tc_index, options.tcIndex ?? 0);
    options.cb?.slice(0, 5).forEach((w, i) => u32(SK_BUFF.cb + 4 * i, w));
    u32(SK_BUFF.hash, options.hash ?? 0);
    u32(SK_BUFF.tc_classid, options.tcClassid ?? 0);
    u32(SK_BUFF.data, this.buffer.region.start);
    u32(SK_BUFF.data_end, this.buffer.region.end);
    u32(SK_BUFF.napi_id, options.napiId ?? 0);
    u32(SK_BUFF.data_meta, this.buffer.region.start);
    view.setBigUint64(at + SK_BUFF.tstamp, BigInt.asUintN(64, options.tstamp ?? 0n), true);
    u32(SK_BUFF.wire_len, options.wireLen ?? len);
    u32(SK_BUFF.gso_segs, options.gsoSegs ?? 0);
    u32(SK_BUFF.gso_size, gsoSize);
    view.setBigUint64(at + SK_BUFF.hwtstamp, BigInt.asUintN(64, options.hwtstamp ?? 0n), true);
    writeSocketFields(u32, frame, protocol);
    this.#initial = { queue_mapping: queueMapping, gso_size: gsoSize };
    resetSkbHelperState(this.#memory, this.struct.address);
  }

  /** Address of the struct: the program's r1. */
  get address(): number {
    return this.struct.address;
  }

  /** The packet region (what `ld_abs`/`ld_ind` and direct packet access read). */
  get packet(): Region {
    return this.buffer.region;
  }

  /** The Ethernet header bytes in front of `data` (empty when data starts at it). */
  get macHeader(): Uint8Array {
    const data = this.buffer.region.start;
    return this.#l2 ? new Uint8Array(0) : this.buffer.read(Math.min(this.macHeaderAt, data), data);
  }

  /** skb->data and the end of the packet. */
  get data(): number { return this.buffer.region.start; }
  get dataEnd(): number { return this.buffer.region.end; }
  /** skb->len. */
  get length(): number { return this.dataEnd - this.data; }
  /** Free bytes in front of data and behind the packet's end. */
  get headroom(): number { return this.data - this.buffer.bufferStart; }
  get tailroom(): number { return this.buffer.bufferEnd - SKB_TAIL_PAD - this.dataEnd; }

  /** The memory's current DataView (for big-endian packet fields). */
  get view(): DataView { return this.#memory.view; }

  /** A u32 field of the struct. */
  field(offset: number): number {
    return this.#memory.view.getUint32(this.address + offset, true);
  }

  setField(offset: number, value: number): void {
    this.#memory.view.setUint32(this.address + offset, value >>> 0, true);
  }

  /** skb->protocol in host order. */
  get protocol(): number { return swap16(this.field(SK_BUFF.protocol) & 0xffff); }
  set protocol(p: number) { this.setField(SK_BUFF.protocol, swap16(p)); }

  /** skb_is_gso: a gso_size is set. */
  get isGso(): boolean { return this.field(SK_BUFF.gso_size) !== 0; }

  /**
   * Inserts `len` zero bytes at `off` bytes past data (bpf_skb_generic_push: the first `off`
   * bytes move to the new front), moving the buffer's contents when the headroom is short, as
   * skb_cow would reallocate. False when the buffer cannot hold the packet (the kernel's -ENOMEM).
   */
  pushAt(off: number, len: number): boolean {
    if (len > this.headroom && !this.#recentre(len)) return false;
    const data = this.data;
    const bytes = this.#memory.bytes;
    bytes.copyWithin(data - len, data, data + off);
    bytes.fill(0, data - len + off, data + off);
    this.#setData(data - len, this.dataEnd);
    return true;
  }

  /** Removes `len` bytes at `off` bytes past data (bpf_skb_generic_pop). */
  popAt(off: number, len: number): void {
    const data = this.data;
    this.#memory.bytes.copyWithin(data + len, data, data + off);
    this.#setData(data + len, this.dataEnd);
  }

  /** Grows (zero-filled) or trims the packet to `len` bytes. False when the buffer cannot hold it. */
  setLength(len: number): boolean {
    const end = this.data + len;
    if (len > this.length) {
      if (len - this.length > this.tailroom && !this.#recentre(0, len)) return false;
      this.#memory.bytes.fill(0, this.dataEnd, this.data + len);
      this.#setData(this.data, this.data + len);
      return true;
    }
    this.#setData(this.data, end);
    return true;
  }

  /** Moves the packet (and its headers) so that `head` bytes fit in front and `length` bytes in all. */
  #recentre(head: number, length = this.length): boolean {
    const start = this.buffer.bufferStart + NET_SKB_PAD + head;
    if (start + Math.max(length, this.length) > this.buffer.bufferEnd - SKB_TAIL_PAD) return false;
    const low = Math.min(this.macHeaderAt, this.data);
    const delta = start - this.data;
    if (low + delta < this.buffer.bufferStart) return false;
    this.#memory.bytes.copyWithin(low + delta, low, this.dataEnd);
    this.macHeaderAt += delta;
    this.networkHeader += delta;
    if (this.transportHeader !== undefined) this.transportHeader += delta;
    this.#setData(this.data + delta, this.dataEnd + delta);
    return true;
  }

  /** Moves the packet window and rewrites data, data_end, data_meta and len (bpf_compute_data_pointers). */
  #setData(start: number, end: number): void {
    this.buffer.setWindow(start, end);
    this.setField(SK_BUFF.data, start);
    this.setField(SK_BUFF.data_end, end);
    this.setField(SK_BUFF.data_meta, start);
    this.setField(SK_BUFF.len, end - start);
  }

  /** The struct's fields as they are now (no narrowing). */
  fields(): SkBuff {
    return decodeSkBuff(contextBytes(this.#memory, this.struct));
  }

  /** The packet and the context after a run. */
  readBack(): SkbReadBack {
    const ctx = this.fields();
    // kernel: bpf_convert_ctx_access stores tc_index and tc_classid as u16 and drops a
    // queue_mapping write of NO_QUEUE_MAPPING (0xffff) or more.
    ctx.tc_index &= 0xffff;
    ctx.tc_classid &= 0xffff;
    if (ctx.queue_mapping >= 0xffff) ctx.queue_mapping = this.#initial.queue_mapping;
    const packet = this.buffer.read(this.buffer.region.start, this.buffer.region.end);
    const mac = this.macHeader;
    const frame = new Uint8Array(mac.length + packet.length);
    frame.set(mac);
    frame.set(packet, mac.length);
    return { packet, frame, ctx };
  }

  /** Frees the struct and the packet. Idempotent. */
  release(): void {
    this.#unbind();
    this.#unbind = () => {};
    const contexts = registry.get(this.#memory);
    if (contexts?.get(this.address) === this) contexts.delete(this.address);
    releaseContext(this.#memory, this.struct);
    this.buffer.release();
  }

  [Symbol.dispose](): void {
    this.release();
  }
}

/** Fields kept from the options for readBack. */
interface SkbBase {
  readonly queue_mapping: number;
  readonly gso_size: number;
}

function checkFrame(frame: Uint8Array): void {
  if (frame.length < ETH_HLEN) throw new RangeError(`a frame needs an Ethernet header: ${frame.length} bytes is below ${ETH_HLEN}`);
}

/**
 * A `struct __sk_buff` for a program of `programType` (SOCKET_FILTER, SCHED_CLS, SCHED_ACT,
 * CGROUP_SKB) receiving `frame`. Release it when done (`using` works).
 */
export function skbContext(memory: Memory, programType: number, frame: Uint8Array, options: SkbOptions = {}): SkbContext {
  return new SkbContext(memory, programType, frame, options);
}

/** The outcome of {@link runSkb}. */
export interface SkbRunResult extends SkbReadBack {
  /** r0 as the kernel returns it: the low 32 bits. */
  readonly retval: number;
  readonly r0: bigint;
  readonly instructions: number;
}

/**
 * Runs `vm` once on `frame` as a program of `programType`, in the interpreter's memory (made
 * with `legacyPacket(memory)` as its `packet` option if the program uses ld_abs/ld_ind).
 */
export function runSkb(vm: Interpreter, programType: number, frame: Uint8Array, options: SkbOptions = {}): SkbRunResult {
  using ctx = skbContext(vm.memory, programType, frame, options);
  const { r0, instructions } = vm.run(ctx.address);
  return { ...ctx.readBack(), retval: Number(r0 & 0xffffffffn), r0, instructions };
}

/** `eth_type_trans`'s protocol for a frame (host order). */
function ethTypeTrans(frame: Uint8Array): number {
  const type = (frame[12]! << 8) | frame[13]!;
  if (type >= 0x0600) return type;
  // 802.3 length field: raw IPX (0xffff after the header) or 802.2 LLC.
  return frame[14] === 0xff && frame[15] === 0xff ? ETH_P_802_3 : ETH_P_802_2;
}

/** `eth_skb_pkt_type`: the frame's destination (its first 6 bytes) against the device's addresses. */
function packetType(frame: Uint8Array, device: NetDevice): number {
  if (sameMac(frame, device.mac)) return PacketType.HOST;
  if ((frame[0]! & 1) === 0) return PacketType.OTHERHOST;
  return sameMac(frame, device.broadcast) ? PacketType.BROADCAST : PacketType.MULTICAST;
}

/** The test_run socket's family and addresses (local = the packet's source). */
function writeSocketFields(u32: (offset: number, value: number) => void, frame: Uint8Array, protocol: number): void {
  const at = ETH_HLEN;
  const word = (o: number): number => (frame[at + o]! | frame[at + o + 1]! << 8 | frame[at + o + 2]! << 16 | frame[at + o + 3]! << 24) >>> 0;
  const net = frame.length - ETH_HLEN;
  if (protocol === ETH_P_IP) {
    u32(SK_BUFF.family, AF_INET);
    if (net >= 20) {
      u32(SK_BUFF.local_ip4, word(12));
      u32(SK_BUFF.remote_ip4, word(16));
    }
  } else if (protocol === ETH_P_IPV6) {
    u32(SK_BUFF.family, AF_INET6);
    if (net >= 40) {
      for (let i = 0; i < 4; i++) {
        u32(SK_BUFF.local_ip6 + 4 * i, word(8 + 4 * i));
        u32(SK_BUFF.remote_ip6 + 4 * i, word(24 + 4 * i));
      }
    }
  }
}

function swap16(v: number): number {
  return ((v & 0xff) << 8) | ((v >> 8) & 0xff);
}

function sameMac(frame: Uint8Array, mac: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (frame[i] !== mac[i]) return false;
  return true;
}

export { SK_BUFF };
