/**
 * Runs a program in the kernel (BPF_PROG_TEST_RUN) and in the VM with the same input, for the
 * differential tests of program contexts. The VM side builds its context with
 * src/vm/programs; the kernel side passes the same options as `ctx_in`.
 */
import { encodeProgram, type Instruction } from '../../../src/isa/index.js';
import { KernelError, ProgramType, loadProgram, testRun, type Program } from '../../../src/kernel/index.js';
import {
  Interpreter, Memory, SK_BUFF_SIZE, XDP_MD, XDP_MD_SIZE, decodeSkBuff, encodeSkBuff, legacyPacket, runSkb, runXdp,
  xdpHelpers, type HelperTable, type SkBuff, type SkbOptions, type XdpOptions,
} from '../../../src/vm/index.js';
import { SKB_MAX_ALLOC } from '../../../src/vm/programs/skb.js';

/** What one side made of one run. */
export interface Outcome {
  readonly retval: number;
  /** The data as test_run returns it. */
  readonly data: Uint8Array;
  /** The context fields both sides report. */
  readonly ctx: Record<string, unknown>;
}

/** A kernel refusal of the input (EINVAL for a frame test_run does not take), as an errno name. */
export type Refused = { readonly refused: string };

/** Loads `insns` as `type` in the kernel. */
export function kernelProgram(type: number, insns: readonly Instruction[], options: { flags?: number; expectedAttachType?: number } = {}): Program {
  return loadProgram({ type, instructions: encodeProgram(insns), license: 'GPL', name: 'ctxdiff', ...options });
}

/** The __sk_buff fields test_run copies back into ctx_out (net/bpf/test_run.c convert_skb_to___skb) and gso_size (kept from ctx_in). */
const SKB_OUT_FIELDS = ['mark', 'priority', 'ingress_ifindex', 'ifindex', 'tstamp', 'cb', 'wire_len', 'gso_segs', 'hwtstamp', 'gso_size'] as const;

function skbCtxIn(options: SkbOptions): Uint8Array {
  return encodeSkBuff({
    mark: options.mark ?? 0, priority: options.priority ?? 0, ingress_ifindex: options.ingressIfindex ?? 0,
    ifindex: options.device?.ifindex ?? 0, cb: [...(options.cb ?? []), 0, 0, 0, 0, 0].slice(0, 5), tstamp: options.tstamp ?? 0n,
    wire_len: options.wireLen ?? 0, gso_segs: options.gsoSegs ?? 0, gso_size: options.gsoSize ?? 0, hwtstamp: options.hwtstamp ?? 0n,
  }, new Uint8Array(SK_BUFF_SIZE));
}

const pick = (ctx: SkBuff): Record<string, unknown> => Object.fromEntries(SKB_OUT_FIELDS.map((f) => [f, ctx[f]]));

/** Runs an skb program in the kernel with `options` as ctx_in (room in data_out for a packet grown to SKB_MAX_ALLOC). */
export function kernelSkb(program: Program, frame: Uint8Array, options: SkbOptions = {}): Outcome | Refused {
  try {
    const r = testRun(program, { data: frame, ctx: skbCtxIn(options), ctxSizeOut: SK_BUFF_SIZE, dataSizeOut: frame.length + SKB_MAX_ALLOC + 512 });
    return { retval: r.retval, data: r.dataOut, ctx: pick(decodeSkBuff(r.ctxOut!)) };
  } catch (err) {
    if (err instanceof KernelError) return { refused: err.code };
    throw err;
  }
}

/** An interpreter for `insns` with the legacy packet and XDP helpers wired to its memory. */
export function vmProgram(insns: readonly Instruction[], helpers: HelperTable = xdpHelpers): Interpreter {
  const memory = new Memory();
  return new Interpreter(insns, { memory, packet: legacyPacket(memory), helpers });
}

/** Runs an skb program in the VM; the data is what test_run returns (the Ethernet header zeroed when data starts after it). */
export function vmSkb(vm: Interpreter, type: number, frame: Uint8Array, options: SkbOptions = {}): Outcome {
  const r = runSkb(vm, type, frame, options);
  // test_run pushes back a zeroed Ethernet header for types that see data from the network header.
  const data = r.frame.slice();
  const l2 = type === ProgramType.SCHED_CLS || type === ProgramType.SCHED_ACT;
  if (!l2) data.fill(0, 0, 14);
  return { retval: r.retval, data, ctx: pick(r.ctx) };
}

/** Runs an XDP program in the kernel; metadata goes in front of the packet with a ctx_in saying its length. */
export function kernelXdp(program: Program, packet: Uint8Array, options: XdpOptions = {}): Outcome | Refused {
  const meta = options.meta ?? new Uint8Array(0);
  const data = new Uint8Array(meta.length + packet.length);
  data.set(meta);
  data.set(packet, meta.length);
  const ctx = new Uint8Array(XDP_MD_SIZE);
  const v = new DataView(ctx.buffer);
  v.setUint32(XDP_MD.data, meta.length, true);
  v.setUint32(XDP_MD.data_end, data.length, true);
  v.setUint32(XDP_MD.ingress_ifindex, options.ingressIfindex ?? 0, true);
  v.setUint32(XDP_MD.rx_queue_index, options.rxQueueIndex ?? 0, true);
  try {
    const r = testRun(program, { data, ctx, ctxSizeOut: XDP_MD_SIZE, dataSizeOut: data.length + 512 });
    const out = new DataView(r.ctxOut!.buffer, r.ctxOut!.byteOffset, XDP_MD_SIZE);
    return {
      retval: r.retval, data: r.dataOut,
      ctx: { data: out.getUint32(XDP_MD.data, true), data_end: out.getUint32(XDP_MD.data_end, true), ingress_ifindex: out.getUint32(XDP_MD.ingress_ifindex, true), rx_queue_index: out.getUint32(XDP_MD.rx_queue_index, true) },
    };
  } catch (err) {
    if (err instanceof KernelError) return { refused: err.code };
    throw err;
  }
}

/** Runs an XDP program in the VM; the data is metadata followed by the packet, as test_run returns it. */
export function vmXdp(vm: Interpreter, packet: Uint8Array, options: XdpOptions = {}): Outcome {
  const r = runXdp(vm, packet, options);
  const data = new Uint8Array(r.meta.length + r.packet.length);
  data.set(r.meta);
  data.set(r.packet, r.meta.length);
  return { retval: r.verdict, data, ctx: { data: r.ctx.data, data_end: r.ctx.data_end, ingress_ifindex: r.ctx.ingress_ifindex, rx_queue_index: r.ctx.rx_queue_index } };
}

export const isRefused = (o: Outcome | Refused): o is Refused => 'refused' in o;

/**
 * One program on both sides, run over many inputs; every run that the kernel accepts is
 * compared (return value, data out, context out) and a difference is recorded with its input.
 */
export class Pair implements Disposable {
  readonly name: string;
  readonly type: number;
  readonly kernel: Program;
  readonly vm: Interpreter;
  compared = 0;
  refused = 0;
  readonly mismatches: string[] = [];

  /** `vmInsns` replaces `insns` on the VM side (a load rewritten the way the kernel rewrites it). */
  constructor(name: string, type: number, insns: readonly Instruction[], load: { flags?: number; expectedAttachType?: number } = {}, vmInsns = insns) {
    this.name = name;
    this.type = type;
    this.kernel = kernelProgram(type, insns, load);
    this.vm = vmProgram(vmInsns);
  }

  /** Runs one input on both sides; `label` names it in a mismatch. */
  run(label: string, frame: Uint8Array, options: SkbOptions & XdpOptions = {}): void {
    const xdp = this.type === ProgramType.XDP;
    const k = xdp ? kernelXdp(this.kernel, frame, options) : kernelSkb(this.kernel, frame, options);
    if (isRefused(k)) {
      this.refused++;
      return;
    }
    let v: Outcome;
    try {
      v = xdp ? vmXdp(this.vm, frame, options) : vmSkb(this.vm, this.type, frame, options);
    } catch (err) {
      this.mismatches.push(`${this.name} on ${label}: kernel retval ${k.retval}, VM threw ${(err as Error).message}`);
      return;
    }
    this.compared++;
    const diffs: string[] = [];
    if (k.retval !== v.retval) diffs.push(`retval kernel 0x${k.retval.toString(16)} VM 0x${v.retval.toString(16)}`);
    if (hex(k.data) !== hex(v.data)) diffs.push(`data out differs (kernel ${k.data.length} bytes ${hex(k.data).slice(0, 80)}…, VM ${v.data.length} bytes ${hex(v.data).slice(0, 80)}…)`);
    for (const [field, value] of Object.entries(k.ctx)) {
      if (String(value) !== String(v.ctx[field])) diffs.push(`ctx.${field} kernel ${String(value)} VM ${String(v.ctx[field])}`);
    }
    if (diffs.length > 0) this.mismatches.push(`${this.name} on ${label}: ${diffs.join('; ')}`);
  }

  [Symbol.dispose](): void {
    this.kernel.close();
  }
}

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
