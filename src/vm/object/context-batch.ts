/**
 * Reusable contexts for running one program over many packets (`ebpf run`).
 *
 * A reusable XDP context: one frame and
 * one `struct xdp_md` allocated once, each packet copied into the frame and the struct's
 * pointers rewritten — what the kernel's test run lays out per run (see context-packet.ts),
 * without allocating a frame and a struct for every packet.
 *
 * Only for programs that do not move the packet's edges: the bpf_xdp_adjust_* helpers find
 * their context by address among the per-run XdpContexts, so {@link usesXdpEdgeHelpers} tells
 * when a program (or one it may tail-call) needs the per-packet model instead.
 */
import { EbpfError } from '../../errors.js';
import type { Instruction } from '../../isa/instruction.js';
import { ProgramType } from '../../object/uapi-types.js';
import type { Memory } from '../memory.js';
import { allocContext, releaseContext, type ContextStruct } from '../programs/layout.js';
import { PacketBuffer } from '../programs/packet-buffer.js';
import { SkbContext } from '../programs/skb.js';
import type { ContextModel, ContextModels } from './context.js';
import { skbContextModel } from './context-packet.js';
import { XDP_FRAME_SIZE, XDP_MD, XDP_MD_SIZE, XDP_PACKET_HEADROOM, XDP_SHARED_INFO_SIZE } from '../programs/xdp.js';
import {
  BPF_FUNC_xdp_adjust_head, BPF_FUNC_xdp_adjust_meta, BPF_FUNC_xdp_adjust_tail, BPF_FUNC_xdp_get_buff_len,
} from '../programs/xdp-helpers.js';

const EDGE_HELPERS = new Set([BPF_FUNC_xdp_adjust_head, BPF_FUNC_xdp_adjust_meta, BPF_FUNC_xdp_adjust_tail, BPF_FUNC_xdp_get_buff_len]);

/** Whether `instructions` call a helper that needs the per-packet XdpContext. */
export function usesXdpEdgeHelpers(instructions: readonly Instruction[]): boolean {
  return instructions.some((insn) => insn.kind === 'call' && insn.target === 'helper' && EDGE_HELPERS.has(insn.imm));
}

/** Longest packet the reusable frame holds linearly (longer ones need fragments: use the per-packet model). */
export const XDP_LINEAR_MAX = XDP_FRAME_SIZE - XDP_PACKET_HEADROOM - XDP_SHARED_INFO_SIZE;

/** One XDP frame and `struct xdp_md`, loaded with packet after packet. */
export class ReusableXdpContext {
  readonly #memory: Memory;
  readonly #buffer: PacketBuffer;
  readonly #struct: ContextStruct;
  #released = false;

  constructor(memory: Memory, options: { ingressIfindex?: number; rxQueueIndex?: number } = {}) {
    this.#memory = memory;
    this.#buffer = new PacketBuffer(memory, new Uint8Array(0), XDP_PACKET_HEADROOM, XDP_FRAME_SIZE - XDP_PACKET_HEADROOM, 'xdp packet');
    const image = new Uint8Array(XDP_MD_SIZE);
    const v = new DataView(image.buffer);
    v.setUint32(XDP_MD.ingress_ifindex, options.ingressIfindex ?? 1, true);
    v.setUint32(XDP_MD.rx_queue_index, options.rxQueueIndex ?? 0, true);
    this.#struct = allocContext(memory, 'xdp_md', XDP_MD_SIZE, image);
  }

  /** Address of the struct: the program's r1. */
  get address(): number {
    return this.#struct.address;
  }

  /** Puts `packet` (at most {@link XDP_LINEAR_MAX} bytes, at least 14) in the frame. */
  load(packet: Uint8Array): void {
    if (packet.length > XDP_LINEAR_MAX || packet.length < 14) throw new RangeError(`packet of ${packet.length} bytes does not fit a reusable XDP frame`);
    const data = this.#buffer.bufferStart + XDP_PACKET_HEADROOM;
    const end = data + packet.length;
    this.#memory.bytes.set(packet, data);
    this.#buffer.setWindow(data, end);
    const v = this.#memory.view;
    const at = this.#struct.address;
    v.setUint32(at + XDP_MD.data, data, true);
    v.setUint32(at + XDP_MD.data_end, end, true);
    v.setUint32(at + XDP_MD.data_meta, data, true);
  }

  /** The packet as the program left it (test_run's data_out). */
  packet(): Uint8Array {
    return this.#buffer.read(this.#buffer.region.start, this.#buffer.region.end);
  }

  /** Frees the frame and the struct. Idempotent. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    releaseContext(this.#memory, this.#struct);
    this.#buffer.release();
  }

  [Symbol.dispose](): void {
    this.release();
  }
}

const ETH_HLEN = 14;
const SKB_TYPES = [ProgramType.SOCKET_FILTER, ProgramType.SCHED_CLS, ProgramType.SCHED_ACT, ProgramType.CGROUP_SKB];

/**
 * BPF_PROG_TEST_RUN's `__sk_buff` model (context-packet.ts) with one {@link SkbContext} per
 * memory and program type, loaded with packet after packet instead of allocating a struct and a
 * packet buffer for every run (`ebpf run` over a capture). A run given a `ctx` goes through the
 * full model. The context is never released: it lives as long as the object's memory.
 *
 * @example
 * const obj = loadObjectVm(bytes, { contexts: reusableSkbContextModels() });
 */
export function reusableSkbContextModels(): ContextModels {
  const cache = new WeakMap<Memory, Map<number, SkbContext>>();
  const model: ContextModel = (memory, input, program) => {
    if (input.ctx !== undefined && input.ctx.length > 0) return skbContextModel(memory, input, program);
    const data = input.data ?? new Uint8Array(0);
    let contexts = cache.get(memory);
    if (contexts === undefined) cache.set(memory, contexts = new Map());
    let ctx = contexts.get(program.type);
    try {
      if (ctx === undefined) contexts.set(program.type, ctx = new SkbContext(memory, program.type, data));
      else ctx.load(data);
    } catch (err) {
      if (err instanceof RangeError) throw new EbpfError(`test run program '${program.name}': ${err.message} (the kernel answers EINVAL)`);
      throw err;
    }
    const skb = ctx;
    return {
      ctx: skb.address,
      packet: skb.packet,
      finish: () => {
        const packet = skb.buffer.read(skb.data, skb.dataEnd);
        if (skb.macHeader.length === 0) return { dataOut: packet, ctxOut: undefined };
        // As the full model: the kernel pushes back a zeroed Ethernet header.
        const dataOut = new Uint8Array(ETH_HLEN + packet.length);
        dataOut.set(packet, ETH_HLEN);
        return { dataOut, ctxOut: undefined };
      },
      release: () => {},
    };
  };
  return new Map(SKB_TYPES.map((t) => [t, model]));
}
