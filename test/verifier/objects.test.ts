/**
 * The verifier against the kernel on the project's own objects (bpf/objects, bpf/fixtures,
 * examples): each object is loaded into the running kernel with `loadObject` (CO-RE applied
 * against /sys/kernel/btf/vmlinux, maps created), and the instructions the kernel verified are
 * verified by us with the same maps. A false accept fails the test; false rejects (where this
 * verifier is conservative) are printed as known differences.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { compareObjectWithKernel, type ObjectProgramVerdict } from '../../src/cli/verify-objects.js';
import { kernelSkip } from '../support/kernel.js';
import { repoRoot } from '../support/shared.js';

const DIRS = ['bpf/objects', 'bpf/fixtures', 'examples'];

function objectFiles(): string[] {
  const files: string[] = [];
  for (const dir of DIRS) {
    let names: string[];
    try {
      names = readdirSync(join(repoRoot, dir));
    } catch {
      continue;
    }
    // Big-endian builds cannot load on this host.
    for (const n of names.sort()) if (n.endsWith('.o') && !n.includes('bpfeb')) files.push(join(repoRoot, dir, n));
  }
  return files;
}

describe('verifier vs kernel on the project objects', () => {
  it('every program the kernel verified gets the same verdict or a known conservative reject', { skip: kernelSkip() }, (t) => {
    const verdicts: ObjectProgramVerdict[] = [];
    for (const file of objectFiles()) {
      try {
        verdicts.push(...compareObjectWithKernel(file));
      } catch (err) {
        // Objects the loader itself refuses (unknown section names, unresolved externs, bad opcodes on purpose).
        t.diagnostic(`not loadable: ${file.slice(repoRoot.length + 1)}: ${(err as Error).message.split('\n')[0]!.slice(0, 120)}`);
      }
    }
    const rel = (v: ObjectProgramVerdict): string => `${v.object.slice(repoRoot.length + 1)}:${v.name}`;
    const agree = verdicts.filter((v) => v.kernel === v.ours);
    const falseAccepts = verdicts.filter((v) => v.kernel === 'reject' && v.ours === 'accept').map(rel);
    const falseRejects = verdicts.filter((v) => v.kernel === 'accept' && v.ours === 'reject');
    t.diagnostic(`${verdicts.length} program loads compared: ${agree.length} agree `
      + `(${agree.filter((v) => v.kernel === 'accept').length} accepted by both), ${falseAccepts.length} false accepts, ${falseRejects.length} known false rejects`);
    for (const v of falseRejects) t.diagnostic(`known difference: ${rel(v)} (prog type ${v.progType}): kernel accepts, we reject: ${v.reason}`);
    assert.deepEqual(falseAccepts, []);
    assert.ok(verdicts.length >= 50, `only ${verdicts.length} programs compared`);
    assert.ok(agree.length >= 80, `agreement fell to ${agree.length}`);
  });
});
