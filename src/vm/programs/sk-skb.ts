/**
 * sk_skb verdict programs (BPF_PROG_TYPE_SK_SKB attached as BPF_SK_SKB_VERDICT or
 * BPF_SK_SKB_STREAM_VERDICT without a parser): they run on each segment a socket of their
 * SOCKMAP/SOCKHASH receives (net/core/skmsg.c sk_psock_verdict_recv), and pass it to the
 * socket, drop it, or redirect it with bpf_sk_redirect_map/hash to another socket's receive
 * queue (BPF_F_INGRESS) or out through it. The `__sk_buff` context has the segment's length,
 * its socket's addresses and ports, and `data`..`data_end` over the linear part of the segment,
 * which on a TCP receive is empty until bpf_skb_pull_data pulls bytes into it, and for a UDP
 * datagram is all of it — as in the kernel.
 *
 * The VM receives each send as one segment (the kernel cuts large sends by its size goal).
 */
import { VmError } from '../errors.js';
import type { Helper, HelperContext } from '../helpers.js';
import { readArg } from '../helpers/args.js';
import type { Interpreter } from '../interpreter.js';
import type { MapRegistry } from '../maps/registry.js';
import { SockHash, SockMap } from '../maps/sock-map.js';
import type { Memory, Region } from '../memory.js';
import { AddressFamily } from '../sockets/address.js';
import { IpProtocol, type SkbVerdictRun, type VmSocket } from '../sockets/socket.js';
import { BPF_F_INGRESS } from '../sockets/tcp-bpf.js';
import { writeAddressFields } from './bpf-sock.js';
import { allocContext, releaseContext } from './layout.js';
import { SK_BUFF, SK_BUFF_SIZE } from './sk-buff.js';
import { SkAction } from './verdicts.js';

/** Helper ids of the sk_skb helpers (`enum bpf_func_id`). */
export const SkSkbHelperId = { skb_pull_data: 39, sk_redirect_map: 52, sk_redirect_hash: 72 } as const;

/** A segment being judged: its bytes, how much is linear, and the redirect the program chose. */
export interface SkbSegment {
  readonly bytes: Uint8Array;
  linear: number;
  redirect: { sk: VmSocket; ingress: boolean } | undefined;
}

interface ActiveSkb {
  readonly segment: SkbSegment;
  readonly data: Region;
  readonly ctx: number;
}

const active = new WeakMap<Memory, Map<number, ActiveSkb>>();

function activeIn(memory: Memory): Map<number, ActiveSkb> {
  let m = active.get(memory);
  if (m === undefined) active.set(memory, (m = new Map()));
  return m;
}

/** `skb->protocol` as the context reads it: the EtherType in network byte order. */
function protocolOf(family: number): number {
  return family === AddressFamily.INET6 ? 0xdd86 : 0x0008;
}

/** The `struct __sk_buff` bytes of a segment received by `sk`. */
function skBuffBytes(sk: VmSocket, segment: SkbSegment, data: number): Uint8Array {
  const out = new Uint8Array(SK_BUFF_SIZE);
  const dv = new DataView(out.buffer);
  dv.setUint32(SK_BUFF.len, segment.bytes.length, true);
  dv.setUint32(SK_BUFF.protocol, protocolOf(sk.family), true);
  dv.setUint32(SK_BUFF.data, data, true);
  dv.setUint32(SK_BUFF.data_end, data + segment.linear, true);
  dv.setUint32(SK_BUFF.family, sk.family, true);
  writeAddressFields(out, sk.view, { remoteIp4: SK_BUFF.remote_ip4, remotePort: SK_BUFF.remote_port });
  return out;
}

/** The run function a psock keeps for an sk_skb verdict program. */
export function skSkbVerdict(name: string, interpreter: Interpreter): SkbVerdictRun {
  return (sk, bytes) => {
    const memory = interpreter.memory;
    // A TCP segment's payload sits in page fragments (nothing linear); a UDP datagram is linear.
    const segment: SkbSegment = { bytes, linear: sk.protocol === IpProtocol.UDP ? bytes.length : 0, redirect: undefined };
    const data = memory.alloc(bytes.length, { kind: 'packet', name: `sk_skb data of '${name}'`, init: bytes });
    const ctx = allocContext(memory, `__sk_buff of '${name}'`, SK_BUFF_SIZE, skBuffBytes(sk, segment, data.start), [
      ['priority', SK_BUFF.priority, 4], ['tc_index', SK_BUFF.tc_index, 4],
    ]);
    const runs = activeIn(memory);
    runs.set(ctx.address, { segment, data, ctx: ctx.address });
    try {
      const { r0 } = interpreter.run(ctx.address);
      // The program may have written the linear part.
      const out = bytes.slice();
      out.set(memory.bytes.subarray(data.start, data.start + segment.linear));
      return { r0: Number(r0 & 0xffffffffn), bytes: out, redirect: segment.redirect };
    } finally {
      runs.delete(ctx.address);
      releaseContext(memory, ctx);
      memory.release(data);
    }
  };
}

function skbArg(registry: MapRegistry, ctx: HelperContext): ActiveSkb | undefined {
  return activeIn(registry.memory).get(ctx.argNumber(1));
}

/** bpf_sk_redirect_map/hash once the socket is found. */
function redirect(segment: SkbSegment, sk: VmSocket | undefined, flags: bigint): number {
  if (flags & ~BigInt(BPF_F_INGRESS)) return SkAction.DROP;
  if (sk === undefined || !sk.redirectAllowed) return SkAction.DROP;
  segment.redirect = { sk, ingress: (flags & BigInt(BPF_F_INGRESS)) !== 0n };
  return SkAction.PASS;
}

/**
 * The sk_skb helpers for programs of `registry`'s memory. `skbPullData` is the helper of the
 * other skb program types, which bpf_skb_pull_data falls back to for their contexts.
 */
export function skSkbHelpers(registry: MapRegistry, skbPullData: Helper | undefined): Map<number, Helper> {
  return new Map<number, Helper>([
    [SkSkbHelperId.sk_redirect_map, (ctx) => {
      const a = skbArg(registry, ctx);
      if (a === undefined) throw new VmError('bpf_sk_redirect_map: r1 is not the context of a running sk_skb program', ctx.index);
      const map = registry.byAddress(ctx.argNumber(2));
      if (!(map instanceof SockMap)) throw new VmError('bpf_sk_redirect_map: r2 is not a SOCKMAP', ctx.index);
      return redirect(a.segment, map.socket(ctx.argU32(3)), ctx.arg(4));
    }],
    [SkSkbHelperId.sk_redirect_hash, (ctx) => {
      const a = skbArg(registry, ctx);
      if (a === undefined) throw new VmError('bpf_sk_redirect_hash: r1 is not the context of a running sk_skb program', ctx.index);
      const map = registry.byAddress(ctx.argNumber(2));
      if (!(map instanceof SockHash)) throw new VmError('bpf_sk_redirect_hash: r2 is not a SOCKHASH', ctx.index);
      return redirect(a.segment, map.socket(readArg(ctx, 3, map.keySize)), ctx.arg(4));
    }],
    [SkSkbHelperId.skb_pull_data, (ctx) => {
      const a = skbArg(registry, ctx);
      if (a === undefined) {
        if (skbPullData === undefined) throw new VmError('bpf_skb_pull_data: r1 is not an skb context', ctx.index);
        return skbPullData(ctx);
      }
      // sk_skb_pull_data: pskb_may_pull(len) makes `len` bytes linear (ENOMEM past the
      // segment), then data_end is recomputed.
      const len = ctx.argU32(2);
      if (len > a.segment.bytes.length) return -12;
      a.segment.linear = Math.max(a.segment.linear, len);
      registry.memory.view.setUint32(a.ctx + SK_BUFF.data_end, a.data.start + a.segment.linear, true);
      return 0;
    }],
  ]);
}
