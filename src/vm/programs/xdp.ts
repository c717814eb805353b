/**
 * The XDP context: `struct xdp_md` over a packet buffer laid out as the kernel's test run lays
 * it out (net/bpf/test_run.c bpf_prog_test_run_xdp): a frame of XDP_FRAME_SIZE bytes with
 * XDP_PACKET_HEADROOM (256) bytes before the packet — where metadata and bpf_xdp_adjust_head
 * grow into — and room for `struct skb_shared_info` (320 bytes) at its end. A packet longer
 * than the linear part keeps the rest as fragments (multi-buffer XDP), which direct packet
 * access cannot reach.
 *
 * `data`, `data_end` and `data_meta` hold VM addresses; the packet region is exactly
 * [data_meta, data_end). `struct xdp_md` is read-only (the kernel lets XDP programs write no field).
 */
import type { Interpreter } from '../interpreter.js';
import type { Memory, Region } from '../memory.js';
import { allocContext, contextBytes, releaseContext, type ContextStruct } from './layout.js';
import { PacketBuffer } from './packet-buffer.js';
import { clearXdpMapRedirect, takeXdpMapRedirect, type XdpRedirect } from '../helpers/redirect-map.js';
import { takeSkbRedirect } from './skb-helpers.js';
import { XdpAction, xdpActionName } from './verdicts.js';

/** sizeof(struct xdp_md). */
export const XDP_MD_SIZE = 24;
/** Headroom in front of an XDP packet (include/uapi/linux/bpf.h). */
export const XDP_PACKET_HEADROOM = 256;
/** The frame an XDP packet lives in: one page in test runs and most drivers. */
export const XDP_FRAME_SIZE = 4096;
/** SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) on x86_64: the end of the frame a packet may not use. */
export const XDP_SHARED_INFO_SIZE = 320;
/** sizeof(struct xdp_frame): the start of the headroom, which bpf_xdp_adjust_head/meta may not move into. */
export const XDP_FRAME_HEADER_SIZE = 40;
/** Size of each fragment page of a multi-buffer packet, and most fragments (MAX_SKB_FRAGS). */
export const XDP_FRAG_SIZE = 4096;
export const XDP_MAX_FRAGS = 17;
/** Largest metadata area (kernel: xdp_metalen_invalid). */
export const XDP_META_MAX = 255;

/** Field offsets of `struct xdp_md`. */
export const XDP_MD = { data: 0, data_end: 4, data_meta: 8, ingress_ifindex: 12, rx_queue_index: 16, egress_ifindex: 20 } as const;

/** Options of {@link xdpContext}. */
export interface XdpOptions {
  /** Receiving device; default 1 (loopback, as in test runs). */
  ingressIfindex?: number;
  rxQueueIndex?: number;
  /** Only devmap programs see it; default 0. */
  egressIfindex?: number;
  /** Metadata in front of the packet (test_run: the first `ctx.data` bytes of data_in); a multiple of 4. */
  meta?: Uint8Array;
}

/** What {@link XdpContext.readBack} returns. */
export interface XdpReadBack {
  /** Bytes from data to data_end, followed by any fragments. */
  readonly packet: Uint8Array;
  /** Bytes from data_meta to data. */
  readonly meta: Uint8Array;
  /** `struct xdp_md` as test_run returns it in ctx_out: offsets from data_meta. */
  readonly ctx: { data: number; data_end: number; data_meta: number; ingress_ifindex: number; rx_queue_index: number; egress_ifindex: number };
}

/** Helper errors (negative errno), as bpf_xdp_adjust_* return them. */
const EINVAL = 22, EACCES = 13;

const registry = new WeakMap<Memory, Map<number, XdpContext>>();

/** A `struct xdp_md` and its packet in VM memory. */
export class XdpContext {
  readonly struct: ContextStruct;
  readonly buffer: PacketBuffer;
  readonly #memory: Memory;
  /** Fragments past the linear part (multi-buffer, XDP_FRAG_SIZE pages); reachable only through helpers. */
  readonly #frags: Uint8Array[] = [];
  readonly #options: XdpOptions;
  #data: number;

  constructor(memory: Memory, packet: Uint8Array, options: XdpOptions = {}) {
    const meta = options.meta ?? new Uint8Array(0);
    if (meta.length % 4 !== 0 || meta.length > XDP_META_MAX) throw new RangeError(`XDP metadata of ${meta.length} bytes is not a multiple of 4 up to ${XDP_META_MAX}`);
    if (packet.length < 14) throw new RangeError(`an XDP packet needs an Ethernet header: ${packet.length} bytes is below 14`);
    this.#memory = memory;
    this.#options = options;
    const linearMax = XDP_FRAME_SIZE - XDP_PACKET_HEADROOM - XDP_SHARED_INFO_SIZE;
    const whole = new Uint8Array(meta.length + packet.length);
    whole.set(meta);
    whole.set(packet, meta.length);
    // test_run: headroom shrinks by the metadata, the linear part holds at most a page's worth.
    const linear = whole.subarray(0, Math.min(whole.length, linearMax + meta.length));
    for (let at = linear.length; at < whole.length; at += XDP_FRAG_SIZE) {
      if (this.#frags.length === XDP_MAX_FRAGS) throw new RangeError(`an XDP packet of ${packet.length} bytes needs more than ${XDP_MAX_FRAGS} fragments`);
      this.#frags.push(whole.slice(at, at + XDP_FRAG_SIZE));
    }
    const headroom = XDP_PACKET_HEADROOM - meta.length;
    this.buffer = new PacketBuffer(memory, linear, headroom, XDP_FRAME_SIZE - headroom - linear.length, 'xdp packet');
    this.#data = this.buffer.region.start + meta.length;
    const image = new Uint8Array(XDP_MD_SIZE);
    const v = new DataView(image.buffer);
    v.setUint32(XDP_MD.ingress_ifindex, options.ingressIfindex ?? 1, true);
    v.setUint32(XDP_MD.rx_queue_index, options.rxQueueIndex ?? 0, true);
    v.setUint32(XDP_MD.egress_ifindex, options.egressIfindex ?? 0, true);
    this.struct = allocContext(memory, 'xdp_md', XDP_MD_SIZE, image);
    this.#sync();
    let contexts = registry.get(memory);
    if (contexts === undefined) registry.set(memory, contexts = new Map());
    contexts.set(this.address, this);
  }

  /** The context registered at `address` in `memory` (what a helper's r1 names), if any. */
  static at(memory: Memory, address: number): XdpContext | undefined {
    return registry.get(memory)?.get(address);
  }

  /** Address of the struct: the program's r1. */
  get address(): number {
    return this.struct.address;
  }

  /** The packet region [data_meta, data_end). */
  get packet(): Region {
    return this.buffer.region;
  }

  get data(): number { return this.#data; }
  get dataEnd(): number { return this.buffer.region.end; }
  get dataMeta(): number { return this.buffer.region.start; }

  /** The bytes of the fragments, in order (empty for a linear packet). */
  get fragments(): Uint8Array {
    const out = new Uint8Array(this.#fragsLength());
    let at = 0;
    for (const f of this.#frags) { out.set(f, at); at += f.length; }
    return out;
  }

  /** The packet's length including fragments (bpf_xdp_get_buff_len). */
  get length(): number {
    return this.dataEnd - this.data + this.#fragsLength();
  }

  #fragsLength(): number {
    return this.#frags.reduce((n, f) => n + f.length, 0);
  }

  /**
   * bpf_xdp_adjust_head: moves data by `delta` (negative grows the packet at the front),
   * carrying the metadata along. Returns 0 or -EINVAL (kernel: net/core/filter.c).
   */
  adjustHead(delta: number): number {
    const metaLength = this.#data - this.dataMeta;
    const data = this.#data + delta;
    if (data < this.buffer.bufferStart + XDP_FRAME_HEADER_SIZE + metaLength || data > this.dataEnd - 14) return -EINVAL;
    if (metaLength > 0) this.#memory.bytes.copyWithin(this.dataMeta + delta, this.dataMeta, this.#data);
    this.#data = data;
    this.buffer.setWindow(data - metaLength, this.dataEnd);
    this.#sync();
    return 0;
  }

  /** bpf_xdp_adjust_meta: moves data_meta by `delta`. Returns 0, -EINVAL or -EACCES. */
  adjustMeta(delta: number): number {
    const meta = this.dataMeta + delta;
    if (meta < this.buffer.bufferStart + XDP_FRAME_HEADER_SIZE || meta > this.#data) return -EINVAL;
    const length = this.#data - meta;
    if (length % 4 !== 0 || length > XDP_META_MAX) return -EACCES;
    this.buffer.setWindow(meta, this.dataEnd);
    this.#sync();
    return 0;
  }

  /**
   * bpf_xdp_adjust_tail: moves the end of the packet by `delta`. A linear packet's data_end
   * stays at least an Ethernet header past data and short of the shared info at the frame's end;
   * a multi-buffer packet grows into its last fragment's page and shrinks fragments first, then
   * the linear part. Grown bytes are zero. Returns 0 or -EINVAL.
   */
  adjustTail(delta: number): number {
    const frags = this.#frags;
    if (frags.length > 0) {
      if (delta >= 0) {
        const last = frags[frags.length - 1]!;
        if (delta > XDP_FRAG_SIZE - last.length) return -EINVAL;
        const grown = new Uint8Array(last.length + delta);
        grown.set(last);
        frags[frags.length - 1] = grown;
        return 0;
      }
      let shrink = -delta;
      if (shrink > this.length - 14) return -EINVAL;
      while (shrink > 0 && frags.length > 0) {
        const last = frags[frags.length - 1]!;
        const cut = Math.min(shrink, last.length);
        shrink -= cut;
        if (cut === last.length) frags.pop();
        else frags[frags.length - 1] = last.subarray(0, last.length - cut);
      }
      if (frags.length === 0 && shrink > 0) this.buffer.setWindow(this.dataMeta, this.dataEnd - shrink);
      this.#sync();
      return 0;
    }
    const end = this.dataEnd + delta;
    if (end > this.buffer.bufferEnd - XDP_SHARED_INFO_SIZE || end < this.#data + 14) return -EINVAL;
    if (delta > 0) this.#memory.bytes.fill(0, this.dataEnd, end);
    this.buffer.setWindow(this.dataMeta, end);
    this.#sync();
    return 0;
  }

  /** The packet, metadata and context after a run. */
  readBack(): XdpReadBack {
    const linear = this.buffer.read(this.#data, this.dataEnd);
    const fragments = this.fragments;
    const packet = new Uint8Array(linear.length + fragments.length);
    packet.set(linear);
    packet.set(fragments, linear.length);
    const v = new DataView(contextBytes(this.#memory, this.struct).buffer);
    return {
      packet,
      meta: this.buffer.read(this.dataMeta, this.#data),
      ctx: {
        data: this.#data - this.dataMeta, data_end: this.dataEnd - this.dataMeta, data_meta: 0,
        ingress_ifindex: this.#options.ingressIfindex ?? 0, rx_queue_index: v.getUint32(XDP_MD.rx_queue_index, true), egress_ifindex: 0,
      },
    };
  }

  /** Frees the struct and the packet. Idempotent. */
  release(): void {
    registry.get(this.#memory)?.delete(this.address);
    releaseContext(this.#memory, this.struct);
    this.buffer.release();
  }

  [Symbol.dispose](): void {
    this.release();
  }

  /** Writes the pointer fields after the packet's edges moved (the kernel reads them from xdp_buff). */
  #sync(): void {
    const v = this.#memory.view;
    v.setUint32(this.address + XDP_MD.data, this.#data, true);
    v.setUint32(this.address + XDP_MD.data_end, this.dataEnd, true);
    v.setUint32(this.address + XDP_MD.data_meta, this.dataMeta, true);
  }
}

/** A `struct xdp_md` for `packet` (from its Ethernet header). Release it when done (`using` works). */
export function xdpContext(memory: Memory, packet: Uint8Array, options: XdpOptions = {}): XdpContext {
  return new XdpContext(memory, packet, options);
}

/** The outcome of {@link runXdp}. */
export interface XdpRunResult extends XdpReadBack {
  /** r0's low 32 bits: an `XdpAction` when the program is well behaved. */
  readonly verdict: number;
  /** `XDP_PASS`, `XDP_DROP`, …, or `XDP_UNKNOWN(n)`. */
  readonly action: string;
  readonly r0: bigint;
  readonly instructions: number;
  /**
   * With XDP_REDIRECT: where the frame goes — the devices, CPU or AF_XDP socket of the last
   * successful bpf_redirect_map, or bpf_redirect's ifindex. Undefined when nothing valid was
   * set (the kernel's xdp_do_redirect then fails and drops the frame).
   */
  readonly redirect?: XdpRedirect;
}

/** Runs `vm` once on `packet` as an XDP program, in the interpreter's memory. */
export function runXdp(vm: Interpreter, packet: Uint8Array, options: XdpOptions = {}): XdpRunResult {
  using ctx = xdpContext(vm.memory, packet, options);
  // The redirect info lives across runs in the kernel too, but each run starts from its own.
  clearXdpMapRedirect(vm.memory);
  takeSkbRedirect(vm.memory);
  const { r0, instructions } = vm.run(ctx.address);
  const verdict = Number(r0 & 0xffffffffn);
  const byMap = takeXdpMapRedirect(vm.memory, options.ingressIfindex ?? 1);
  const byIfindex = takeSkbRedirect(vm.memory);
  const redirect = verdict !== XdpAction.REDIRECT ? undefined
    : byMap ?? (byIfindex === undefined ? undefined : { flags: byIfindex.flags, ifindexes: [byIfindex.ifindex] });
  return { ...ctx.readBack(), verdict, action: xdpActionName(verdict), r0, instructions, ...(redirect === undefined ? {} : { redirect }) };
}
