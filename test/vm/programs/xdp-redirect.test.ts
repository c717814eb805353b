/**
 * bpf_redirect in XDP programs is the XDP version of the helper (bpf_xdp_redirect): XDP_REDIRECT,
 * or XDP_ABORTED for any flag — not the sk_buff version's TC verdicts. Compared with the kernel.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assemble } from '../../../src/isa/index.js';
import { ProgramType } from '../../../src/kernel/index.js';
import { kernelSkip } from '../../support/kernel.js';
import { Pair } from './both.js';

const FRAME = new Uint8Array(64).fill(0xab);

describe('bpf_redirect in XDP', () => {
  it('returns what the kernel returns for each ifindex and flags', { skip: kernelSkip() }, () => {
    const cases: Array<[number, bigint]> = [[1, 0n], [7, 0n], [0, 0n], [1, 1n], [1, 8n], [0xffffffff, 0n], [2, 1n << 40n]];
    for (const [ifindex, flags] of cases) {
      const insns = assemble(`r1 = ${ifindex} ll\nr2 = ${flags} ll\ncall 23\nexit`);
      using pair = new Pair(`redirect(${ifindex}, ${flags})`, ProgramType.XDP, insns);
      pair.run('frame', FRAME);
      pair.run('frame with ctx', FRAME, { ingressIfindex: 1 });
      assert.deepEqual(pair.mismatches, []);
      assert.equal(pair.compared, 2);
    }
  });
});
