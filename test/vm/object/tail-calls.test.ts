/**
 * bpf_tail_call in the VM against the kernel: bpf/fixtures/vm_tail.o loaded into both, each
 * scenario run once on a fresh object — r0 and the run counters must agree, and the limit is
 * MAX_TAIL_CALL_CNT (33) tail calls per run, counting only those that jump.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadObjectSpec } from '../../../src/object/index.js';
import { loadObjectVm, MAX_TAIL_CALL_CNT, type VmObject } from '../../../src/vm/index.js';
import { kernelSkip } from '../../support/kernel.js';
import { repoRoot } from '../../support/shared.js';
import { KernelObjectForTest } from './kernel-link.js';

const bytes = readFileSync(join(repoRoot, 'bpf/fixtures/vm_tail.o'));
const PACKET = new Uint8Array(64);
/** A socket filter's skb starts after the Ethernet header (BPF_PROG_TEST_RUN pulls it). */
const SKB_LEN = PACKET.length - 14;

/** Runs `name` in a fresh VM object with an `__sk_buff` whose len is the packet's. */
function vmRun(name: string): { r0: bigint; runs: number[]; instructions: number } {
  using obj = loadObjectVm(bytes);
  const r = obj.programs[name]!.run(skb(obj));
  return { r0: r.r0, runs: (obj.maps['.bss']!.get(0) as { runs: number[] }).runs, instructions: r.instructions };
}

function skb(obj: VmObject): number {
  const ctx = obj.memory.alloc(192, { kind: 'context', name: '__sk_buff' });
  obj.memory.view.setUint32(ctx.start, SKB_LEN, true);
  return ctx.start;
}

describe('tail calls in the VM', () => {
  it('a self tail call runs 1 + MAX_TAIL_CALL_CNT times', () => {
    const r = vmRun('chain');
    assert.equal(MAX_TAIL_CALL_CNT, 33);
    assert.equal(r.r0, 34n);
    assert.deepEqual(r.runs, [34, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('calls to an empty slot or past the end fall through without counting', () => {
    assert.deepEqual(vmRun('flaky').runs, [0, 34, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(vmRun('flaky_var').runs, [0, 0, 0, 0, 0, 34, 0, 0]);
    assert.deepEqual(vmRun('oob').runs, [0, 0, 34, 0, 0, 0, 0, 0]);
  });

  it('a tail call from a subprogram returns to the subprogram\'s caller with the context kept', () => {
    const r = vmRun('from_sub');
    assert.equal(r.r0, BigInt((5 + SKB_LEN) * 1000 + 1));
    assert.deepEqual(r.runs.slice(0, 5), [0, 0, 0, 1, 1]);
  });

  it('a prog array slot can be changed from the host, and emptied', () => {
    using obj = loadObjectVm(bytes);
    const jumps = obj.maps.jumps!;
    assert.equal(jumps.get(0), obj.programs.chain!.id);
    jumps.set(4, obj.programs.chain!);     // from_sub now tail-calls chain from its subprogram:
    const r = obj.programs.from_sub!.run(skb(obj));
    assert.equal(r.r0, 33n * 1000n + 1n);   // that call and chain's own 32 make the 33
    assert.equal(jumps.get(4), obj.programs.chain!.id);
    jumps.delete(4);                         // and now falls through to `return base`
    assert.equal(obj.programs.from_sub!.run(skb(obj)).r0, 7n * 1000n + 2n);
  });
});

describe('tail calls: VM vs kernel', { skip: kernelSkip() }, () => {
  for (const name of ['chain', 'flaky', 'flaky_var', 'oob', 'from_sub']) {
    it(name, () => {
      using kernel = new KernelObjectForTest(loadObjectSpec(bytes));
      const retval = kernel.run(name, PACKET);
      const kernelRuns = [...new Uint32Array(kernel.data('.bss').slice().buffer)];
      const vm = vmRun(name);
      assert.equal(Number(vm.r0 & 0xffffffffn), retval, `${name}: r0`);
      assert.deepEqual(vm.runs, kernelRuns, `${name}: runs`);
    });
  }
});
