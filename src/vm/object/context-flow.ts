/**
 * Test runs of flow dissector programs, as net/bpf/test_run.c runs them
 * (bpf_prog_test_run_flow_dissector, then bpf_flow_dissect): the packet from its Ethernet
 * header, read-only; a `struct __sk_buff` whose only readable fields are `data`, `data_end`
 * and `flow_keys` (what the verifier lets these programs read); the `struct bpf_flow_keys` the
 * program fills, set up with the packet's protocol and the network header's offset and
 * returned as the data out, its header offsets clamped to the packet.
 */
import { EbpfError } from '../../errors.js';
import type { Memory, Region } from '../memory.js';
import { SK_BUFF_SIZE } from '../programs/sk-buff.js';
import type { ContextModel } from './context.js';

/** sizeof(struct bpf_flow_keys) and the offsets the kernel sets (include/uapi/linux/bpf.h). */
export const BPF_FLOW_KEYS_SIZE = 56;
const FLOW_KEYS = { nhoff: 0, thoff: 2, n_proto: 10, flags: 48 } as const;
/** Offsets in struct __sk_buff of the fields a flow dissector reads. */
const SKB = { data: 76, data_end: 80, flow_keys: 144 } as const;
const ETH_HLEN = 14;

function refuse(name: string, why: string): never {
  throw new EbpfError(`test run program '${name}': ${why} (the kernel answers EINVAL)`);
}

/** The flow dissector's context model: see the module comment. */
export const flowDissectorContextModel: ContextModel = (memory, input, program) => {
  const data = input.data ?? new Uint8Array(0);
  if (data.length < ETH_HLEN) refuse(program.name, `a flow dissector run needs at least ${ETH_HLEN} bytes of data`);
  let flags = 0;
  const user = input.ctx !== undefined && input.ctx.length > 0 ? input.ctx : undefined;
  if (user !== undefined) {
    // kernel: bpf_ctx_init, then verify_user_bpf_flow_keys: only `flags` may be set.
    if (user.length > BPF_FLOW_KEYS_SIZE && user.subarray(BPF_FLOW_KEYS_SIZE).some((b) => b !== 0)) refuse(program.name, 'ctx is longer than struct bpf_flow_keys');
    const keys = new Uint8Array(BPF_FLOW_KEYS_SIZE);
    keys.set(user.subarray(0, BPF_FLOW_KEYS_SIZE));
    if (keys.some((b, i) => b !== 0 && (i < FLOW_KEYS.flags || i >= FLOW_KEYS.flags + 4))) refuse(program.name, 'only flags may be set in the bpf_flow_keys of ctx');
    flags = new DataView(keys.buffer).getUint32(FLOW_KEYS.flags, true);
  }
  const regions: Region[] = [];
  const alloc = (size: number, kind: 'packet' | 'context' | 'memory', name: string, writable: boolean, init?: Uint8Array): Region => {
    const r = memory.alloc(size, { kind, name, writable, ...(init ? { init } : {}) });
    regions.push(r);
    return r;
  };
  const packet = alloc(data.length, 'packet', `packet of '${program.name}'`, false, data);
  const keys = alloc(BPF_FLOW_KEYS_SIZE, 'memory', `flow_keys of '${program.name}'`, true);
  // bpf_flow_dissect: zeroed keys, then the protocol (as the frame has it), nhoff = thoff = ETH_HLEN, flags.
  const kv = memory.view;
  memory.bytes.set(data.subarray(12, 14), keys.start + FLOW_KEYS.n_proto);
  kv.setUint16(keys.start + FLOW_KEYS.nhoff, ETH_HLEN, true);
  kv.setUint16(keys.start + FLOW_KEYS.thoff, ETH_HLEN, true);
  kv.setUint32(keys.start + FLOW_KEYS.flags, flags, true);
  const image = new Uint8Array(SK_BUFF_SIZE);
  const iv = new DataView(image.buffer);
  iv.setUint32(SKB.data, packet.start, true);
  iv.setUint32(SKB.data_end, packet.end, true);
  iv.setBigUint64(SKB.flow_keys, BigInt(keys.start), true);
  const ctx = alloc(SK_BUFF_SIZE, 'context', `__sk_buff of '${program.name}'`, false, image);
  return {
    ctx: ctx.start,
    finish: () => {
      const v = memory.view;
      const clamp = (x: number, lo: number, hi: number): number => Math.min(Math.max(x, lo), hi);
      const nhoff = clamp(v.getUint16(keys.start + FLOW_KEYS.nhoff, true), ETH_HLEN, data.length);
      v.setUint16(keys.start + FLOW_KEYS.nhoff, nhoff, true);
      v.setUint16(keys.start + FLOW_KEYS.thoff, clamp(v.getUint16(keys.start + FLOW_KEYS.thoff, true), nhoff, data.length), true);
      return { dataOut: memory.bytes.slice(keys.start, keys.end), ctxOut: user?.slice() };
    },
    release: () => releaseAll(memory, regions),
  };
};

function releaseAll(memory: Memory, regions: readonly Region[]): void {
  for (const r of regions) memory.release(r);
}
