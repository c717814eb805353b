/**
 * The verifier against the kernel on the project's own objects (bpf/objects, bpf/fixtures,
 * examples): each object is loaded into the running kernel with `loadObject` (CO-RE applied
 * against /sys/kernel/btf/vmlinux, maps created), and the instructions the kernel verified are
 * verified by us with the same maps. A false accept fails the test, and so does a false reject
 * other than the ones listed in KNOWN_FALSE_REJECTS (the program kinds another part of the
 * verifier has yet to model), so every other program must get the kernel's verdict.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { compareObjectWithKernel, type ObjectProgramVerdict } from '../../src/cli/verify-objects.js';
import { ProgramType } from '../../src/object/uapi-types.js';
import { kernelSkip } from '../support/kernel.js';
import { repoRoot } from '../support/shared.js';

const DIRS = ['bpf/objects', 'bpf/fixtures', 'examples'];

/**
 * Program types for sections libbpf's table does not know: examples/checksum.o's `exec` is this
 * repository's convention for `ebpf exec`; the kernel gets it as a socket filter (and refuses it:
 * R2 is not an argument there), so its verdict is compared too.
 */
const PROGRAM_TYPES: Readonly<Record<string, Readonly<Record<string, { type: number }>>>> = {
  'checksum.o': { checksum: { type: ProgramType.SOCKET_FILTER } },
};

/**
 * Programs the kernel accepts and this verifier does not yet, by `file:program`, each with what
 * is missing. Any other difference fails the test.
 */
const KNOWN_FALSE_REJECTS: ReadonlyMap<string, string> = new Map<string, string>([]);

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
        const types = PROGRAM_TYPES[file.split('/').pop()!];
        verdicts.push(...compareObjectWithKernel(file, types === undefined ? {} : { programTypes: types }));
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
    const unexpected = falseRejects.map(rel).filter((name) => !KNOWN_FALSE_REJECTS.has(name));
    assert.deepEqual(unexpected, [], 'programs the kernel accepts and we reject, not in KNOWN_FALSE_REJECTS');
    // A listed program the kernel no longer accepts, or one now accepted by us, is taken off the list.
    const stale = [...KNOWN_FALSE_REJECTS.keys()].filter((name) => !falseRejects.some((v) => rel(v) === name));
    assert.deepEqual(stale, [], 'KNOWN_FALSE_REJECTS entries that no longer differ');
    assert.ok(verdicts.some((v) => rel(v) === 'examples/checksum.o:checksum'), 'examples/checksum.o was not compared');
    assert.ok(verdicts.length >= 50, `only ${verdicts.length} programs compared`);
    assert.ok(agree.length >= 80, `agreement fell to ${agree.length}`);
  });
});
