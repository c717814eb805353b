/**
 * Socket pointers and their references against the running kernel: lookups that acquire a
 * reference (bpf_sk_lookup_tcp/udp, bpf_skc_lookup_tcp, lookups in a sockmap), bpf_sk_release,
 * the casts that share the reference (bpf_sk_fullsock, bpf_tcp_sock), bpf_get_listener_sock,
 * bpf_sk_assign, leaks at exit and tail calls, and every field of struct bpf_sock and struct
 * bpf_tcp_sock by offset and size. Each program is loaded into the kernel and verified by us
 * with the same maps; the verdicts must agree.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ProgramType } from '../../src/object/uapi-types.js';
import { kernelSkip } from '../support/kernel.js';
import { type KernelCase, disagreements, runKernelCases } from './kernel-cases.js';

/** r6 = ctx; a zeroed 40-byte tuple at fp-40; r0 = bpf_<helper>(ctx, tuple, 12, -1, 0). */
const lookupCall = (helper = 'bpf_sk_lookup_tcp#84'): string => `
  r6 = r1
  *(u64 *)(r10 - 8) = 0
  *(u64 *)(r10 - 16) = 0
  *(u64 *)(r10 - 24) = 0
  *(u64 *)(r10 - 32) = 0
  *(u64 *)(r10 - 40) = 0
  r1 = r6
  r2 = r10
  r2 += -40
  r3 = 12
  r4 = -1
  r5 = 0
  call ${helper}`;
/** The same, NULL-checked, the socket in r7. */
const lookup = (helper?: string): string => `${lookupCall(helper)}
  if r0 == 0 goto out
  r7 = r0`;
const release = (reg = 'r7'): string => `
  r1 = ${reg}
  call bpf_sk_release#86`;
const OUT = `
out:
  r0 = 0
  exit`;

const CASES: KernelCase[] = [
  { name: 'lookup and release', text: `${lookup()}${release()}${OUT}` },
  { name: 'udp lookup and release', text: `${lookup('bpf_sk_lookup_udp#85')}${release()}${OUT}` },
  { name: 'skc lookup and release', text: `${lookup('bpf_skc_lookup_tcp#99')}${release()}${OUT}` },
  { name: 'lookup in XDP', progType: ProgramType.XDP, text: `${lookup()}${release()}${OUT}` },
  { name: 'lookup in cgroup_skb', progType: ProgramType.CGROUP_SKB, text: `${lookup()}${release()}
  r0 = 1
  exit
out:
  r0 = 1
  exit` },
  { name: 'lookup in a socket filter', progType: ProgramType.SOCKET_FILTER, text: `${lookup()}${release()}${OUT}` },
  { name: 'lookup without release', text: `${lookup()}${OUT}` },
  { name: 'lookup, result unused', text: `${lookupCall()}
  r0 = 0
  exit` },
  { name: 'release without NULL check', text: `${lookupCall()}
  r1 = r0
  call bpf_sk_release#86${OUT}` },
  { name: 'release twice', text: `${lookup()}${release()}${release()}${OUT}` },
  { name: 'use after release', text: `${lookup()}${release()}
  r0 = *(u32 *)(r7 + 4)
  exit${OUT}` },
  { name: 'release of skb->sk', text: `
  r1 = *(u64 *)(r1 + 168)
  if r1 == 0 goto out
  call bpf_sk_release#86${OUT}` },
  { name: 'release of NULL', text: `
  r1 = 0
  call bpf_sk_release#86${OUT}` },
  { name: 'write into a socket', text: `${lookup()}
  *(u32 *)(r7 + 4) = 0${release()}${OUT}` },
  { name: 'arithmetic on a socket', text: `${lookup()}
  r7 += 4${release()}${OUT}` },
  { name: 'arithmetic before the NULL check', text: `${lookupCall()}
  r0 += 4
  exit` },
  { name: 'load before the NULL check', text: `${lookupCall()}
  r1 = *(u32 *)(r0 + 4)
  exit` },
  { name: 'release the fullsock cast', text: `${lookup('bpf_skc_lookup_tcp#99')}
  r1 = r7
  call bpf_sk_fullsock#95
  if r0 == 0 goto rel
  r1 = r0
  call bpf_sk_release#86
  r0 = 0
  exit
rel:${release()}${OUT}` },
  { name: 'tcp_sock cast used after release', text: `${lookup()}
  r1 = r7
  call bpf_tcp_sock#96
  if r0 == 0 goto rel
  r8 = r0${release()}
  r0 = *(u32 *)(r8 + 0)
  exit
rel:${release()}${OUT}` },
  { name: 'tcp_sock cast then release', text: `${lookup()}
  r1 = r7
  call bpf_tcp_sock#96
  if r0 == 0 goto rel
  r0 = *(u32 *)(r0 + 0)
rel:${release()}${OUT}` },
  { name: 'fullsock of skb->sk', text: `
  r1 = *(u64 *)(r1 + 168)
  if r1 == 0 goto out
  call bpf_sk_fullsock#95
  if r0 == 0 goto out
  r0 = *(u32 *)(r0 + 8)
  r0 = 0
  exit${OUT}` },
  { name: 'fullsock of skb->sk before its NULL check', text: `
  r1 = *(u64 *)(r1 + 168)
  call bpf_sk_fullsock#95${OUT}` },
  { name: 'get_listener_sock, then release', text: `
  r1 = *(u64 *)(r1 + 168)
  if r1 == 0 goto out
  call bpf_get_listener_sock#98
  if r0 == 0 goto out
  r1 = r0
  call bpf_sk_release#86${OUT}` },
  { name: 'get_listener_sock, field read', text: `
  r1 = *(u64 *)(r1 + 168)
  if r1 == 0 goto out
  call bpf_get_listener_sock#98
  if r0 == 0 goto out
  r0 = *(u32 *)(r0 + 72)
  r0 = 0
  exit${OUT}` },
  { name: 'sk_assign and release', text: `${lookup()}
  r1 = r6
  r2 = r7
  r3 = 0
  call bpf_sk_assign#124${release()}${OUT}` },
  { name: 'sk_assign of NULL', text: `
  r2 = 0
  r3 = 0
  call bpf_sk_assign#124${OUT}` },
  { name: 'tail call holding a reference', text: `${lookup()}
  r1 = r6
  r2 = MAP_PROG ll
  r3 = 0
  call bpf_tail_call#12${release()}${OUT}` },
  { name: 'LD_ABS holding a reference', text: `${lookup()}
  r0 = *(u8 *)skb[0]${release()}${OUT}` },
  { name: 'spill and fill a socket', text: `${lookup()}
  *(u64 *)(r10 - 48) = r7
  r1 = *(u64 *)(r10 - 48)
  call bpf_sk_release#86${OUT}` },
  { name: 'release in a static function', funcs: [['rel', 'cb']], text: `${lookup()}
  r1 = r7
  call rel${OUT}
rel:
  call bpf_sk_release#86
  r0 = 0
  exit` },
  { name: 'two lookups, both released', text: `${lookup()}
  r1 = r6
  r2 = r10
  r2 += -40
  r3 = 12
  r4 = -1
  r5 = 0
  call bpf_sk_lookup_udp#85
  if r0 == 0 goto rel
  r1 = r0
  call bpf_sk_release#86
rel:${release()}${OUT}` },
  { name: 'lookup with a zero tuple size', text: `${lookup().replace('r3 = 12', 'r3 = 0')}${release()}${OUT}` },
  { name: 'lookup with a NULL tuple', text: `${lookup().replace('r2 += -40', 'r2 = 0').replace('r3 = 12', 'r3 = 0')}${release()}${OUT}` },
  { name: 'udp lookup with a zero tuple size', text: `${lookup('bpf_sk_lookup_udp#85').replace('r3 = 12', 'r3 = 0')}${release()}${OUT}` },
  { name: 'skc lookup with a zero tuple size', text: `${lookup('bpf_skc_lookup_tcp#99').replace('r3 = 12', 'r3 = 0')}${release()}${OUT}` },
  { name: 'tcp_check_syncookie with zero sizes', text: `${lookup()}
  r1 = r7
  r2 = r10
  r2 += -40
  r3 = 0
  r4 = r10
  r4 += -20
  r5 = 0
  call bpf_tcp_check_syncookie#100${release()}${OUT}` },
  { name: 'lookup with a tuple past the stack', text: `${lookup().replace('r3 = 12', 'r3 = 48')}${release()}${OUT}` },
  { name: 'tcp_check_syncookie', text: `${lookup()}
  r1 = r7
  r2 = r10
  r2 += -40
  r3 = 20
  r4 = r10
  r4 += -20
  r5 = 20
  call bpf_tcp_check_syncookie#100${release()}${OUT}` },
  { name: 'sockmap lookup, field, release', progType: ProgramType.SK_SKB, text: `
  *(u32 *)(r10 - 4) = 0
  r2 = r10
  r2 += -4
  r1 = MAP_SM ll
  call bpf_map_lookup_elem#1
  if r0 == 0 goto out
  r7 = r0
  r0 = *(u32 *)(r7 + 8)${release()}${OUT}` },
  { name: 'sockhash lookup without release', progType: ProgramType.SK_SKB, text: `
  *(u32 *)(r10 - 4) = 0
  r2 = r10
  r2 += -4
  r1 = MAP_SH ll
  call bpf_map_lookup_elem#1
  if r0 == 0 goto out
  r0 = *(u32 *)(r0 + 8)${OUT}` },
  { name: 'sk_storage_get on skb->sk, lock its value', text: `
  r1 = *(u64 *)(r1 + 168)
  if r1 == 0 goto out
  r2 = r1
  r1 = MAP_SKS ll
  r3 = 0
  r4 = 1
  call bpf_sk_storage_get#107
  if r0 == 0 goto out
  r6 = r0
  r1 = r6
  r1 += 4
  call bpf_spin_lock#93
  r1 = r6
  r1 += 4
  call bpf_spin_unlock#94${OUT}` },
  { name: 'sk_storage_get with a stack value', text: `
  r1 = *(u64 *)(r1 + 168)
  if r1 == 0 goto out
  *(u64 *)(r10 - 8) = 0
  r2 = r1
  r1 = MAP_SKS ll
  r3 = r10
  r3 += -8
  r4 = 1
  call bpf_sk_storage_get#107
  if r0 == 0 goto out
  r0 = *(u32 *)(r0 + 0)${OUT}` },
  { name: 'sk_storage_get, load of the lock', text: `
  r1 = *(u64 *)(r1 + 168)
  if r1 == 0 goto out
  r2 = r1
  r1 = MAP_SKS ll
  r3 = 0
  r4 = 1
  call bpf_sk_storage_get#107
  if r0 == 0 goto out
  r0 = *(u32 *)(r0 + 4)${OUT}` },
  { name: 'sk_storage_get on a maybe-NULL skb->sk', text: `
  r2 = *(u64 *)(r1 + 168)
  r1 = MAP_SKS ll
  r3 = 0
  r4 = 0
  call bpf_sk_storage_get#107${OUT}` },
  { name: 'sk_storage_delete on a looked-up socket', text: `${lookup()}
  r1 = MAP_SKS ll
  r2 = r7
  call bpf_sk_storage_delete#108${release()}${OUT}` },
  { name: 'xskmap lookup, queue_id', progType: ProgramType.XDP, text: `
  *(u32 *)(r10 - 4) = 0
  r2 = r10
  r2 += -4
  r1 = MAP_XSK ll
  call bpf_map_lookup_elem#1
  if r0 == 0 goto out
  r0 = *(u32 *)(r0 + 0)${OUT}` },
  { name: 'xskmap lookup, load past queue_id', progType: ProgramType.XDP, text: `
  *(u32 *)(r10 - 4) = 0
  r2 = r10
  r2 += -4
  r1 = MAP_XSK ll
  call bpf_map_lookup_elem#1
  if r0 == 0 goto out
  r0 = *(u32 *)(r0 + 4)${OUT}` },
  { name: 'xskmap lookup, narrow load', progType: ProgramType.XDP, text: `
  *(u32 *)(r10 - 4) = 0
  r2 = r10
  r2 += -4
  r1 = MAP_XSK ll
  call bpf_map_lookup_elem#1
  if r0 == 0 goto out
  r0 = *(u16 *)(r0 + 0)${OUT}` },
  { name: 'xskmap lookup, write', progType: ProgramType.XDP, text: `
  *(u32 *)(r10 - 4) = 0
  r2 = r10
  r2 += -4
  r1 = MAP_XSK ll
  call bpf_map_lookup_elem#1
  if r0 == 0 goto out
  *(u32 *)(r0 + 0) = 1${OUT}` },
  { name: 'xskmap lookup, release', progType: ProgramType.XDP, text: `
  *(u32 *)(r10 - 4) = 0
  r2 = r10
  r2 += -4
  r1 = MAP_XSK ll
  call bpf_map_lookup_elem#1
  if r0 == 0 goto out
  r1 = r0
  call bpf_sk_release#86${OUT}` },
  { name: 'map_lookup_elem on sk storage', text: `
  *(u32 *)(r10 - 4) = 0
  r2 = r10
  r2 += -4
  r1 = MAP_SKS ll
  call bpf_map_lookup_elem#1${OUT}` },
];

/** A load of each size at each offset through the socket `setup` leaves in r8 (r7 released after, at `rel`). */
function fieldCases(kind: string, setup: string, max: number): KernelCase[] {
  const out: KernelCase[] = [];
  const sizes: [number, string][] = [[1, 'u8'], [2, 'u16'], [4, 'u32'], [8, 'u64']];
  for (const [size, type] of sizes) {
    for (let off = 0; off <= max; off += size) {
      out.push({ name: `${kind} load ${type} at ${off}`, text: `${setup}
  r0 = *(${type} *)(r8 + ${off})
rel:${release()}${OUT}` });
    }
  }
  return out;
}

describe('socket references against the kernel', () => {
  it('lookups, releases, casts and leaks', { skip: kernelSkip() }, () => {
    const outcomes = runKernelCases(CASES);
    assert.deepEqual(disagreements(outcomes), []);
    const accepts = outcomes.filter((o) => o.kernel === 'accept').length;
    assert.ok(accepts >= 8 && outcomes.length - accepts >= 8, `kernel verdicts: ${accepts} accepts of ${outcomes.length}`);
  });

  it('struct bpf_sock, sock_common and bpf_tcp_sock fields', { skip: kernelSkip() }, () => {
    const sock = fieldCases('sock', `${lookup()}
  r8 = r7`, 84);
    const common = fieldCases('sock_common', `${lookup('bpf_skc_lookup_tcp#99')}
  r8 = r7`, 84);
    const tcp = fieldCases('tcp_sock', `${lookup()}
  r1 = r7
  call bpf_tcp_sock#96
  if r0 == 0 goto rel
  r8 = r0`, 116);
    const outcomes = runKernelCases([...sock, ...common, ...tcp]);
    assert.deepEqual(disagreements(outcomes), []);
    const accepts = outcomes.filter((o) => o.kernel === 'accept').length;
    assert.ok(accepts >= 30 && outcomes.length - accepts >= 30, `kernel verdicts: ${accepts} accepts of ${outcomes.length}`);
  });
});
