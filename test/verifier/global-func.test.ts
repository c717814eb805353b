/**
 * Global functions against the running kernel: each one called is verified once on its own,
 * with its arguments typed by its BTF prototype (scalars, the context, memory of the pointee's
 * size that may be NULL), and every call is checked against that prototype and returns an
 * unknown scalar. Each program is loaded into the kernel (with BTF func_info) and verified by us;
 * the verdicts must agree.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { kernelSkip } from '../support/kernel.js';
import { type KernelCase, disagreements, runKernelCases } from './kernel-cases.js';

const EXIT0 = `
  r0 = 0
  exit`;

const CASES: KernelCase[] = [
  { name: 'call without arguments', funcs: [['g', 'glob']], text: `
  call g
  exit
g:${EXIT0}` },
  { name: 'body reads an argument it does not have', funcs: [['g', 'glob']], text: `
  r1 = 1
  call g
  exit
g:
  r0 = r1
  exit` },
  { name: 'scalar arguments', funcs: [['g', 'gscalar']], text: `
  r1 = 1
  r2 = 2
  call g
  exit
g:
  r0 = r1
  r0 += r2
  exit` },
  { name: 'pointer as a scalar argument', funcs: [['g', 'gscalar']], text: `
  r2 = 2
  call g
  exit
g:${EXIT0}` },
  { name: 'second argument not set', funcs: [['g', 'gscalar']], text: `
  r1 = 1
  call g
  exit
g:${EXIT0}` },
  { name: 'body relies on the caller\'s constant', funcs: [['g', 'gscalar']], text: `
  r1 = 1
  r2 = 2
  call g
  exit
g:
  r3 = r10
  r3 += -16
  r3 += r1
  *(u8 *)(r3 + 0) = 0${EXIT0}` },
  { name: 'body bounds its argument', funcs: [['g', 'gscalar']], text: `
  r1 = 1
  r2 = 2
  call g
  exit
g:
  if r1 > 8 goto done
  r3 = r10
  r3 += -16
  r3 += r1
  *(u8 *)(r3 + 0) = 0
done:${EXIT0}` },
  { name: 'context argument', funcs: [['g', 'gctx']], text: `
  call g
  exit
g:
  r0 = *(u32 *)(r1 + 0)
  exit` },
  { name: 'modified context argument', funcs: [['g', 'gctx']], text: `
  r1 += 4
  call g
  exit
g:${EXIT0}` },
  { name: 'scalar as the context argument', funcs: [['g', 'gctx']], text: `
  r1 = 0
  call g
  exit
g:${EXIT0}` },
  { name: 'context and scalar', funcs: [['g', 'gctxint']], text: `
  r2 = 7
  call g
  exit
g:
  r0 = r2
  exit` },
  { name: 'memory argument without NULL check', funcs: [['g', 'gint']], text: `
  *(u32 *)(r10 - 8) = 0
  r1 = r10
  r1 += -8
  call g
  exit
g:
  r0 = *(u32 *)(r1 + 0)
  exit` },
  { name: 'memory argument with NULL check', funcs: [['g', 'gint']], text: `
  *(u32 *)(r10 - 8) = 0
  r1 = r10
  r1 += -8
  call g
  exit
g:
  if r1 == 0 goto null
  r0 = *(u32 *)(r1 + 0)
  exit
null:${EXIT0}` },
  { name: 'NULL as the memory argument', funcs: [['g', 'gint']], text: `
  r1 = 0
  call g
  exit
g:${EXIT0}` },
  { name: 'maybe-NULL map value as the memory argument', funcs: [['g', 'gint']], text: `
  *(u32 *)(r10 - 4) = 0
  r2 = r10
  r2 += -4
  r1 = MAP_H ll
  call bpf_map_lookup_elem#1
  r1 = r0
  call g
  exit
g:${EXIT0}` },
  { name: 'struct argument read within its size', funcs: [['g', 'gpair']], text: `
  r1 = r10
  r1 += -16
  r2 = 1
  call g
  exit
g:
  if r1 == 0 goto null
  r0 = *(u64 *)(r1 + 8)
  exit
null:${EXIT0}` },
  { name: 'struct argument read past its size', funcs: [['g', 'gpair']], text: `
  r1 = r10
  r1 += -24
  r2 = 1
  call g
  exit
g:
  if r1 == 0 goto null
  r0 = *(u64 *)(r1 + 16)
  exit
null:${EXIT0}` },
  { name: 'struct argument with too little stack', funcs: [['g', 'gpair']], text: `
  r1 = r10
  r1 += -8
  r2 = 1
  call g
  exit
g:${EXIT0}` },
  { name: 'ctx as the memory argument', funcs: [['g', 'gint']], text: `
  call g
  exit
g:${EXIT0}` },
  { name: 'call clobbers a spilled pointer it may write', funcs: [['g', 'gpair']], text: `
  *(u64 *)(r10 - 16) = r1
  r1 = r10
  r1 += -16
  r2 = 1
  call g
  r1 = *(u64 *)(r10 - 16)
  r0 = *(u32 *)(r1 + 0)
  exit
g:${EXIT0}` },
  { name: 'void pointer argument', funcs: [['g', 'gvoidp']], text: `
  r1 = 0
  call g
  exit
g:${EXIT0}` },
  { name: 'void return', funcs: [['g', 'gvoidret']], text: `
  r1 = 0
  call g
  r0 = 0
  exit
g:
  exit` },
  { name: 'call never reached', funcs: [['g', 'gvoidp']], text: `
  r1 = 0
  if r1 != 0 goto callit${EXIT0}
callit:
  call g
  exit
g:
  r0 = *(u64 *)(r1 + 0)
  exit` },
  { name: 'returns a pointer', funcs: [['g', 'gctx']], text: `
  call g
  r0 = 0
  exit
g:
  r0 = r1
  exit` },
  { name: 'R0 not set', funcs: [['g', 'glob']], text: `
  call g
  r0 = 0
  exit
g:
  exit` },
  { name: 'caller uses R0 as a scalar', funcs: [['g', 'glob']], text: `
  call g
  r1 = r10
  r1 += r0
  r0 = 0
  exit
g:${EXIT0}` },
  { name: 'caller relies on the returned constant', funcs: [['g', 'glob']], text: `
  call g
  if r0 > 3 goto big
  r1 = r10
  r1 += -8
  r1 += r0
  *(u8 *)(r1 + 0) = 0
big:${EXIT0}
g:${EXIT0}` },
  { name: 'nested global calls', funcs: [['g', 'gctx'], ['h', 'gscalar']], text: `
  call g
  exit
g:
  r1 = 5
  r2 = 6
  call h
  exit
h:
  r0 = *(u8 *)(r10 - 1)
  exit` },
  { name: 'nested global call with a bad body', funcs: [['g', 'gctx'], ['h', 'gscalar']], text: `
  call g
  exit
g:
  r1 = 5
  r2 = 6
  call h
  exit
h:
  r0 = *(u8 *)(r1 + 0)
  exit` },
  { name: 'packet pointers after a call that may move the packet', funcs: [['g', 'gctx']], text: `
  r6 = r1
  r2 = *(u32 *)(r1 + 76)
  r3 = *(u32 *)(r1 + 80)
  r4 = r2
  r4 += 8
  if r4 > r3 goto out
  r7 = r2
  r1 = r6
  call g
  r0 = *(u8 *)(r7 + 0)
out:${EXIT0}
g:
  r2 = 0
  call bpf_skb_pull_data#39${EXIT0}` },
  { name: 'packet pointers after a call that keeps the packet', funcs: [['g', 'gctx']], text: `
  r6 = r1
  r2 = *(u32 *)(r1 + 76)
  r3 = *(u32 *)(r1 + 80)
  r4 = r2
  r4 += 8
  if r4 > r3 goto out
  r7 = r2
  r1 = r6
  call g
  r0 = *(u8 *)(r7 + 0)
out:${EXIT0}
g:${EXIT0}` },
  { name: 'static function still verified in place', funcs: [['g', 'cb']], text: `
  r1 = 1
  call g
  exit
g:
  r0 = r1
  exit` },
  { name: 'global function holding a reference at exit', funcs: [['g', 'gctx']], text: `
  call g
  exit
g:
  r6 = r1
  *(u64 *)(r10 - 8) = 0
  *(u64 *)(r10 - 16) = 0
  r2 = r10
  r2 += -16
  r3 = 12
  r4 = -1
  r5 = 0
  call bpf_sk_lookup_tcp#84${EXIT0}` },
];

describe('global functions against the kernel', () => {
  it('each global function verified on its own, calls checked against its BTF prototype', { skip: kernelSkip() }, () => {
    const outcomes = runKernelCases(CASES);
    assert.deepEqual(disagreements(outcomes), []);
    const accepts = outcomes.filter((o) => o.kernel === 'accept').length;
    assert.ok(accepts >= 8 && outcomes.length - accepts >= 8, `kernel verdicts: ${accepts} accepts of ${outcomes.length}`);
  });
});
