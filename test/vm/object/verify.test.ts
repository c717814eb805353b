/**
 * The VM's loader verifies every program as the kernel does at BPF_PROG_LOAD: what the
 * kernel refuses the VM refuses too, with the same words, and what it accepts runs.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VerifierError } from '../../../src/errors.js';
import { loadObject } from '../../../src/kernel/index.js';
import { loadObjectVm } from '../../../src/vm/index.js';
import { kernelSkip } from '../../support/kernel.js';
import { repoRoot } from '../../support/shared.js';

const OBJECT = readFileSync(join(repoRoot, 'bpf/fixtures/vm_rejected.o'));
const REFUSED = ['null_deref', 'leak', 'out_of_bounds'];

/** The VM's verdict on one program: undefined when it loads, the VerifierError otherwise. */
function vmVerdict(name: string): VerifierError | undefined {
  try {
    loadObjectVm(OBJECT, { programs: [name], verify: true }).dispose();
    return undefined;
  } catch (err) {
    assert.ok(err instanceof VerifierError, `${name}: ${String(err)}`);
    return err;
  }
}

describe('the VM verifies what it loads', () => {
  it('runs a program the verifier accepts', () => {
    using obj = loadObjectVm(OBJECT, { programs: ['checked'], verify: true });
    const out = obj.programs.checked!.testRun({ data: new Uint8Array(66) });
    assert.equal(out.retval, 1);
    // One element counted the packet (which one depends on skb->len, the packet less its Ethernet header).
    assert.deepEqual([...obj.maps.counts!.entries()].map(([, v]) => v).sort(), [0n, 0n, 0n, 1n]);
  });

  it('refuses the others with a VerifierError naming the program, the instruction and the reason', () => {
    for (const name of REFUSED) {
      const err = vmVerdict(name);
      assert.ok(err !== undefined, `${name} was accepted`);
      assert.match(err.message, new RegExp(`^load program '${name}': verifier rejected it: .+ \\(insn \\d+\\)$`));
      assert.ok(err.log.includes(err.reason), `${name}: the log carries the reason`);
    }
  });

  it('loads anything with verify: false, and the checked memory still stops a bad access', () => {
    using obj = loadObjectVm(OBJECT, { programs: ['null_deref'], verify: false });
    // The hash map is empty: the lookup returns NULL and the write through it faults.
    assert.throws(() => obj.programs.null_deref!.testRun({ data: new Uint8Array(60) }), /fault|NULL|address/i);
  });

  it('gives the kernel\'s verdict and words for each program', { skip: kernelSkip() }, () => {
    for (const name of ['checked', ...REFUSED]) {
      let kernelLog: string | undefined;
      try {
        loadObject(OBJECT, { programs: [name], logLevel: 1 }).dispose();
      } catch (err) {
        kernelLog = (err as { log?: string }).log ?? String(err);
      }
      const ours = vmVerdict(name);
      assert.equal(ours === undefined, kernelLog === undefined, `${name}: kernel ${kernelLog === undefined ? 'accepts' : 'rejects'}`);
      if (ours !== undefined) {
        const lines = kernelLog!.split('\n').map((l) => l.trim());
        assert.ok(lines.includes(ours.reason), `${name}: the kernel's log has no line '${ours.reason}':\n${kernelLog}`);
      }
    }
  });
});
