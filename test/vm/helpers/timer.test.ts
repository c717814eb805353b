/**
 * BPF timers (src/vm/helpers/timer.ts) against the kernel, on bpf/fixtures/vm_timer.c:
 * - the return values of bpf_timer_init/_set_callback/_start/_cancel in every state a test run
 *   reaches (errnos included) — same in both;
 * - callbacks firing: the order of expiries with a re-arming timer, a callback cancelling its
 *   own timer (-EDEADLK), timers of deleted and replaced hash/LRU elements not firing — the
 *   kernel's hrtimers on real time, the VM's on a ManualClock moved by advanceTime, with the same
 *   order log and map contents;
 * - the VM's clock semantics alone: nothing fires before its expiry, the callback sees the
 *   clock at its expiry, host deletes and closing the object cancel.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { ManualClock } from '../../../src/vm/helpers/host.js';
import type { KernelObject } from '../../../src/kernel/object/kernel-object.js';
import type { VmObject } from '../../../src/vm/object/load.js';
import { kernelSkip } from '../../support/kernel.js';
import { compareMaps, kernelObject, vmObject } from './kernel-compare.js';

const data = new Uint8Array(64);
const MS = 1_000_000n;

interface Bss { results: bigint[]; order: bigint[]; order_n: number; deadlk: bigint }
const bss = (obj: VmObject | KernelObject): Bss => obj.maps['.bss']!.get(0) as Bss;

/** A VM object on a ManualClock starting at 1 s. */
function manualVm(): { vm: VmObject; clock: ManualClock } {
  const clock = new ManualClock(1_000_000_000n);
  return { vm: vmObject('vm_timer', { host: { clock } }), clock };
}

/** Waits (at most 2 s) until the kernel object's callbacks have logged `n` firings. */
async function kernelFired(kernel: KernelObject, n: number): Promise<void> {
  for (let i = 0; i < 200 && bss(kernel).order_n < n; i++) await sleep(10);
  await sleep(20); // and a little more, for anything that should not fire
}

describe('bpf_timer', () => {
  it('helper return values in every state, as the kernel returns them', { skip: kernelSkip() }, () => {
    using kernel = kernelObject('vm_timer');
    using vm = vmObject('vm_timer');
    const k = kernel.programs.timer_errnos!.testRun({ data });
    const v = vm.programs.timer_errnos!.testRun({ data });
    assert.equal(v.retval, k.retval);
    const want = bss(kernel).results;
    assert.deepEqual(bss(vm).results, want);
    // The kernel's answers include each errno: -EINVAL, -EBUSY, 0 and 1 from cancel.
    for (const r of [-22n, -16n, 0n, 1n]) assert.ok(want.includes(r), `kernel results include ${r}`);
    compareMaps(vm, kernel, ['timers', '.bss']);
    assert.equal(vm.timers.list().filter((t) => t.expires !== undefined).length, 0, 'nothing left armed');
  });

  it('fires in expiry order with re-arms, as the kernel does', { skip: kernelSkip() }, async () => {
    using kernel = kernelObject('vm_timer');
    const { vm } = manualVm();
    using _vm = vm;
    assert.equal(kernel.programs.timer_order!.testRun({ data }).retval, 0);
    assert.equal(vm.programs.timer_order!.testRun({ data }).retval, 0);
    await kernelFired(kernel, 5);
    assert.equal(vm.advanceTime(80n * MS), 5);
    assert.deepEqual(bss(vm).order.slice(0, 5), [6n, 5n, 5n, 4n, 5n]);
    assert.deepEqual(bss(vm), bss(kernel));
    compareMaps(vm, kernel, ['timers', '.bss']);
  });

  it('a callback cancelling its own timer gets -EDEADLK, as in the kernel', { skip: kernelSkip() }, async () => {
    using kernel = kernelObject('vm_timer');
    const { vm } = manualVm();
    using _vm = vm;
    kernel.programs.timer_deadlock!.testRun({ data });
    vm.programs.timer_deadlock!.testRun({ data });
    for (let i = 0; i < 200 && (kernel.maps.htimers!.get(42n) as { fired: bigint }).fired === 0n; i++) await sleep(10);
    assert.equal(vm.advanceTime(2n * MS), 1);
    assert.equal(bss(vm).deadlk, -35n);
    assert.deepEqual(bss(vm), bss(kernel));
    compareMaps(vm, kernel, ['htimers', '.bss']);
  });

  it('timers of deleted and replaced elements do not fire, as in the kernel', { skip: kernelSkip() }, async () => {
    using kernel = kernelObject('vm_timer');
    const { vm } = manualVm();
    using _vm = vm;
    assert.equal(kernel.programs.timer_deleted!.testRun({ data }).retval, 0);
    assert.equal(vm.programs.timer_deleted!.testRun({ data }).retval, 0);
    await kernelFired(kernel, 5);
    assert.equal(vm.advanceTime(20n * MS), 5);
    assert.deepEqual(bss(vm).order.slice(0, 5), [100n, 201n, 102n, 202n, 203n]);
    assert.deepEqual(bss(vm), bss(kernel));
    compareMaps(vm, kernel, ['htimers', 'ltimers', '.bss']);
  });

  it('an update of an array element frees its timer, as in the kernel', { skip: kernelSkip() }, async () => {
    using kernel = kernelObject('vm_timer');
    const { vm } = manualVm();
    using _vm = vm;
    kernel.programs.timer_array_update!.testRun({ data });
    vm.programs.timer_array_update!.testRun({ data });
    const want = bss(kernel).results.slice(0, 7);
    assert.deepEqual(bss(vm).results.slice(0, 7), want);
    assert.deepEqual(want.slice(3, 6), [0n, -22n, -22n], 'the kernel freed the timer');
    // A host update frees it too; nothing fires.
    vm.maps.timers!.set(7, vm.maps.timers!.get(7));
    kernel.maps.timers!.set(7, kernel.maps.timers!.get(7));
    await kernelFired(kernel, 1);
    assert.equal(vm.advanceTime(10n * MS), 0);
    assert.deepEqual(bss(vm), bss(kernel));
    compareMaps(vm, kernel, ['timers', '.bss']);
  });

  it('VM clock: nothing fires early; re-arms follow the clock', () => {
    const { vm, clock } = manualVm();
    using _vm = vm;
    vm.programs.timer_order!.testRun({ data });
    assert.equal(vm.advanceTime(2n * MS - 1n), 0);
    assert.equal(vm.runTimers(), 0);
    assert.equal(vm.advanceTime(1n), 1); // element 6 at 2 ms
    assert.deepEqual(bss(vm).order.slice(0, 1), [6n]);
    assert.equal(vm.advanceTime(8n * MS), 1); // 5 at 10 ms, re-armed for 30 ms
    const armed = vm.timers.list().filter((t) => t.expires !== undefined).map((t) => t.expires! - 1_000_000_000n).sort((a, b) => (a < b ? -1 : 1));
    assert.deepEqual(armed, [30n * MS, 40n * MS]);
    assert.equal(clock.now, 1_000_000_000n + 10n * MS);
    assert.equal(vm.advanceTime(45n * MS), 3); // 5 at 30, 4 at 40, 5 at 50 ms
    assert.equal(bss(vm).order_n, 5);
    assert.equal(vm.advanceTime(100n * MS), 0, 'no re-arms left');
  });

  it('VM: a host delete of the element or closing the object cancels its timer', () => {
    const { vm } = manualVm();
    vm.programs.timer_deleted!.testRun({ data });
    assert.equal(vm.maps.htimers!.delete(0n), true);
    assert.equal(vm.advanceTime(3n * MS), 2); // l1 at 2.5 ms and h2 at 3 ms; h0 (1 ms) was deleted
    assert.deepEqual(bss(vm).order.slice(0, 2), [201n, 102n]);
    assert.equal(vm.timers.list().filter((t) => t.expires !== undefined).length, 2);
    vm.dispose();
    assert.equal(vm.timers.list().length, 0);
    assert.throws(() => vm.runTimers(), /disposed/);
  });

  it('advanceTime needs a ManualClock', () => {
    using vm = vmObject('vm_timer');
    assert.throws(() => vm.advanceTime(1), /ManualClock/);
    assert.equal(vm.runTimers(), 0);
  });
});
