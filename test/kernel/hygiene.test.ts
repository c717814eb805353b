/**
 * Resource hygiene of the kernel backend: an object with a map and a program is loaded,
 * attached (a raw tracepoint) and disposed 10,000 times, and the process's open fds
 * (/proc/self/fd) are the same at the end as at the start; the kernel holds none of the
 * programs afterwards. A second attachment to the same tracepoint stays in place for the whole
 * run: attaching the first probe to a tracepoint patches kernel text (a static key) and takes
 * ~12 ms, the next ones ~0.3 ms — the test measures our fds, not the kernel's text patching.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fdById, nativeSyscalls, programIds, programInfo } from '../../src/kernel/index.js';
import { loadObject } from '../../src/kernel/object/index.js';
import { loadObjectSpec } from '../../src/object/index.js';
import { kernelSkip } from '../support/kernel.js';
import { compiledObject, openFds, readBytes } from './collection-support.js';

const ROUNDS = 10_000;
const compiled = compiledObject('hygiene');

/** How many programs named `name` the kernel holds (they go when their last reference does). */
function kernelPrograms(name: string): number {
  let n = 0;
  for (const id of programIds()) {
    let fd: number;
    try {
      fd = fdById('program', id);
    } catch {
      continue;
    }
    try {
      if (programInfo(fd).name === name) n++;
    } catch { /* gone */ } finally {
      nativeSyscalls().close(fd);
    }
  }
  return n;
}

describe('hygiene', { skip: kernelSkip() || compiled.skip }, () => {
  it(`load, attach and dispose ${ROUNDS} times: no fd leaks`, async () => {
    const spec = loadObjectSpec(readBytes(compiled.path!));
    using keeper = loadObject(spec);
    keeper.programs.count_renames!.attach();

    const before = openFds();
    const start = performance.now();
    let maxDuring = before;
    for (let i = 0; i < ROUNDS; i++) {
      const obj = loadObject(spec);
      obj.programs.count_renames!.attach();
      if (i % 1000 === 0) maxDuring = Math.max(maxDuring, openFds());
      obj.dispose();
    }
    const seconds = (performance.now() - start) / 1000;
    const after = openFds();
    console.log(`hygiene: ${ROUNDS} load+attach+dispose in ${seconds.toFixed(1)} s (${(seconds * 1e6 / ROUNDS).toFixed(0)} µs each); fds ${before} → ${after} (at most ${maxDuring} while loaded)`);
    assert.equal(after, before, 'open fds after disposing every object');
    assert.ok(seconds < 60, `${seconds.toFixed(1)} s`);
    // Only the keeper's program is left in the kernel once the freed ones are gone (freeing is deferred).
    let left = kernelPrograms('count_renames');
    for (let i = 0; i < 50 && left > 1; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      left = kernelPrograms('count_renames');
    }
    assert.equal(left, 1);
  });

  it('objects dropped without dispose() are released when garbage-collected', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const spec = loadObjectSpec(readBytes(compiled.path!));
    const before = openFds();
    const leak = (): void => {
      for (let i = 0; i < 20; i++) loadObject(spec).programs.count_renames!.testRun({ ctx: new Uint8Array(8), repeat: 0, ctxSizeOut: 0 });
    };
    leak();
    assert.ok(openFds() >= before + 40, 'the dropped objects still hold their fds');
    for (let i = 0; i < 50 && openFds() > before; i++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(openFds(), before);
  });
});
