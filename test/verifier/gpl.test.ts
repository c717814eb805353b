/**
 * GPL-only helpers: a program whose license is not GPL-compatible may not call them. For every
 * helper id and several program types, `call N` in a proprietary program is loaded into the
 * kernel and verified by us: both refuse it as GPL-restricted, or neither does.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assemble, encodeProgram } from '../../src/isa/index.js';
import { loadProgram, ProgramType } from '../../src/kernel/index.js';
import { verify } from '../../src/verifier/index.js';
import { kernelSkip } from '../support/kernel.js';

const GPL_MESSAGE = 'cannot call GPL-restricted function from non-GPL compatible program';
const TYPES = [
  ProgramType.SOCKET_FILTER, ProgramType.KPROBE, ProgramType.SCHED_CLS, ProgramType.TRACEPOINT, ProgramType.XDP,
  ProgramType.PERF_EVENT, ProgramType.CGROUP_SKB, ProgramType.RAW_TRACEPOINT, ProgramType.SK_MSG, ProgramType.SOCK_OPS,
];
const MAX_HELPER = 211;

function kernelMessage(type: number, id: number): string {
  try {
    loadProgram({ type, instructions: encodeProgram(assemble(`call ${id}\nr0 = 0\nexit`)), license: 'Proprietary', logLevel: 1 }).close();
    return '';
  } catch (err) {
    return (err as { log?: string }).log ?? String(err);
  }
}

describe('GPL-only helpers', () => {
  it('are refused to a proprietary program where the kernel refuses them, and only there', { skip: kernelSkip() }, (t) => {
    let gplOnly = 0;
    let compared = 0;
    const differ: string[] = [];
    for (const type of TYPES) {
      for (let id = 1; id <= MAX_HELPER; id++) {
        const kernel = kernelMessage(type, id);
        const ours = verify(assemble(`call ${id}\nr0 = 0\nexit`), { progType: type, gplCompatible: false }).error?.message ?? '';
        // Helpers the type lacks (on either side) say nothing about GPL: the proto lookup comes first.
        if (/cannot use helper|invalid func|unknown func/.test(kernel) || /cannot use helper|invalid func/.test(ours)) continue;
        compared++;
        const k = kernel.includes(GPL_MESSAGE);
        if (k) gplOnly++;
        if (k !== (ours === GPL_MESSAGE)) differ.push(`type ${type} helper ${id}: kernel ${k ? 'GPL-only' : 'not GPL-only'}, ours: ${ours}`);
      }
    }
    t.diagnostic(`${compared} (type, helper) pairs compared, ${gplOnly} GPL-only`);
    assert.deepEqual(differ, []);
    assert.ok(gplOnly >= 50, `only ${gplOnly} GPL-only pairs: the probe did not reach the helpers`);
  });

  it('are allowed to a GPL program', () => {
    const r = verify(assemble('r1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\ncall 113\nr0 = 0\nexit'), { progType: ProgramType.KPROBE });
    assert.equal(r.verdict, 'accept', r.error?.message);
    const p = verify(assemble('r1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\ncall 113\nr0 = 0\nexit'), { progType: ProgramType.KPROBE, gplCompatible: false });
    assert.equal(p.error?.message, GPL_MESSAGE);
  });
});
