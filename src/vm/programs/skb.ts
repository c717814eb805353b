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
 * a 'packet' region exactly [data, data_end); the struct is read-only except the fields the
 * program type may write.
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
import { SK_BUFF, SK_BUFF_SIZE, SK_BUFF_WRITABLE, decodeSkBuff, encodeSkBuff, type SkBuff } from './sk-buff.js';
import { bindLegacyPacket } from './legacy-packet.js';

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

/** A `struct __sk_buff` and its packet in VM memory, for one program type. */
export class SkbContext {
  readonly programType: number;
  readonly struct: ContextStruct;
  readonly buffer: PacketBuffer;
  /** The Ethernet header bytes in front of `data` (empty when data starts at it). */
  readonly macHeader: Uint8Array;
  readonly #memory: Memory;
  readonly #initial: SkBuff;
  #unbind: () => void;

  constructor(memory: Memory, programType: number, frame: Uint8Array, options: SkbOptions = {}) {
    const writable = SK_BUFF_WRITABLE.get(programType);
    if (writable === undefined) throw new RangeError(`program type ${programType} has no __sk_buff context here`);
    if (frame.length < ETH_HLEN) throw new RangeError(`a frame needs an Ethernet header: ${frame.length} bytes is below ${ETH_HLEN}`);
    this.#memory = memory;
    this.programType = programType;
    const l2 = programType === ProgramType.SCHED_CLS || programType === ProgramType.SCHED_ACT || options.dataStart === 'mac';
    const skip = l2 ? 0 : ETH_HLEN;
    this.macHeader = frame.slice(0, skip);
    this.buffer = new PacketBuffer(memory, frame.subarray(skip), NET_SKB_PAD + skip, 0, 'skb data');
    const device = options.device ?? LOOPBACK;
    const protocol = ethTypeTrans(frame);
    const len = frame.length - skip;
    const fields: Partial<SkBuff> = {
      len,
      pkt_type: packetType(frame.subarray(0, 6), device),
      mark: options.mark ?? 0,
      queue_mapping: options.queueMapping ?? 0,
      protocol: swap16(protocol),
      vlan_present: options.vlan ? 1 : 0,
      vlan_tci: options.vlan?.tci ?? 0,
      vlan_proto: options.vlan ? swap16(options.vlan.proto ?? 0x8100) : 0,
      priority: options.priority ?? 0,
      ingress_ifindex: options.ingressIfindex ?? 0,
      ifindex: device.ifindex,
      tc_index: options.tcIndex ?? 0,
      cb: [...(options.cb ?? []), 0, 0, 0, 0, 0].slice(0, 5),
      hash: options.hash ?? 0,
      tc_classid: options.tcClassid ?? 0,
      data: this.buffer.region.start,
      data_end: this.buffer.region.end,
      napi_id: options.napiId ?? 0,
      data_meta: this.buffer.region.start,
      tstamp: options.tstamp ?? 0n,
      wire_len: options.wireLen ?? len,
      gso_segs: options.gsoSegs ?? 0,
      gso_size: options.gsoSize ?? 0,
      hwtstamp: options.hwtstamp ?? 0n,
      ...socketFields(frame, protocol),
    };
    const image = encodeSkBuff(fields);
    this.#initial = decodeSkBuff(image);
    this.struct = allocContext(memory, '__sk_buff', SK_BUFF_SIZE, image, writable);
    this.#unbind = bindLegacyPacket(memory, this.buffer.region);
  }

  /** Address of the struct: the program's r1. */
  get address(): number {
    return this.struct.address;
  }

  /** The packet region (what `ld_abs`/`ld_ind` and direct packet access read). */
  get packet(): Region {
    return this.buffer.region;
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
    const frame = new Uint8Array(this.macHeader.length + packet.length);
    frame.set(this.macHeader);
    frame.set(packet, this.macHeader.length);
    return { packet, frame, ctx };
  }

  /** Frees the struct and the packet. Idempotent. */
  release(): void {
    this.#unbind();
    this.#unbind = () => {};
    releaseContext(this.#memory, this.struct);
    this.buffer.release();
  }

  [Symbol.dispose](): void {
    this.release();
  }
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

/** `eth_skb_pkt_type`: the frame's destination against the device's addresses. */
function packetType(dst: Uint8Array, device: NetDevice): number {
  if (sameBytes(dst, device.mac)) return PacketType.HOST;
  if ((dst[0]! & 1) === 0) return PacketType.OTHERHOST;
  return sameBytes(dst, device.broadcast) ? PacketType.BROADCAST : PacketType.MULTICAST;
}

/** The test_run socket's family and addresses (local = the packet's source). */
function socketFields(frame: Uint8Array, protocol: number): Partial<SkBuff> {
  const net = frame.subarray(ETH_HLEN);
  const word = (at: number): number => (net[at]! | net[at + 1]! << 8 | net[at + 2]! << 16 | net[at + 3]! << 24) >>> 0;
  if (protocol === ETH_P_IP) {
    return net.length >= 20 ? { family: AF_INET, local_ip4: word(12), remote_ip4: word(16) } : { family: AF_INET };
  }
  if (protocol === ETH_P_IPV6) {
    if (net.length < 40) return { family: AF_INET6 };
    return { family: AF_INET6, local_ip6: [8, 12, 16, 20].map(word), remote_ip6: [24, 28, 32, 36].map(word) };
  }
  return {};
}

function swap16(v: number): number {
  return ((v & 0xff) << 8) | ((v >> 8) & 0xff);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export { SK_BUFF };
