/**
 * Event readers of the VM (openRingBuffer, openPerfBuffer) against the kernel backend's on
 * the same object and packets: the same records, decoded the same way, the same samples, and
 * as many samples kept when a perf ring fills up; wakeups follow BPF_RB_NO_WAKEUP.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as kernel from '../../../src/kernel/index.js';
import { loadObjectVm, openPerfBuffer, openRingBuffer, type VmObject } from '../../../src/vm/index.js';
import { kernelSkip } from '../../support/kernel.js';
import { repoRoot } from '../../support/shared.js';

const OBJECT = readFileSync(join(repoRoot, 'bpf/fixtures/vm_events.o'));
/** Packet lengths: a plain one, the discarded one (100), a NO_WAKEUP one (>200), another plain one. */
const LENGTHS = [60, 100, 300, 80];

interface PktEvent { seq: bigint; len: number; half: number }

const load = (): VmObject => loadObjectVm(OBJECT, { verify: true });

/** What the VM's readers give for LENGTHS. */
function vmEvents(): { ring: PktEvent[]; perf: Uint8Array[] } {
  using obj = load();
  using ring = openRingBuffer<PktEvent>(obj.maps.ring!, { type: 'struct pkt_event' });
  using perf = openPerfBuffer(obj.maps.perf!);
  for (const n of LENGTHS) assert.equal(obj.programs.emit!.testRun({ data: new Uint8Array(n) }).retval, 1);
  const samples = perf.drain().map((r) => (r.type === 'sample' ? r.data : assert.fail(`lost ${r.lost}`)));
  return { ring: ring.drain(), perf: samples };
}

describe('VM event readers', () => {
  it('read decoded ring records (discarded ones skipped) and perf samples', () => {
    const { ring, perf } = vmEvents();
    assert.deepEqual(ring.map((e) => e.seq), [1n, 3n, 4n]);
    assert.equal(perf.length, LENGTHS.length);
    for (const e of ring) assert.equal(e.half, e.len >>> 1);
  });

  it('wake a waiting read as the kernel notifies: not for BPF_RB_NO_WAKEUP, nor while older records wait', async () => {
    using obj = load();
    using ring = openRingBuffer<PktEvent>(obj.maps.ring!, { type: 'pkt_event' });
    const got: Array<PktEvent | undefined> = [];
    const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
    let pending = ring.read().then((r) => { got.push(r); });
    obj.programs.emit!.testRun({ data: new Uint8Array(300) }); // NO_WAKEUP
    await settle();
    assert.equal(got.length, 0, 'a NO_WAKEUP submit woke the reader');
    // The kernel notifies only for a record at the consumer position: record 1 is still unread.
    obj.programs.emit!.testRun({ data: new Uint8Array(60) });
    await settle();
    assert.equal(got.length, 0, 'a submit behind an unread record woke the reader');
    assert.deepEqual(ring.drain().map((e) => e.seq), [1n, 2n]);
    // Caught up: the next submit notifies.
    obj.programs.emit!.testRun({ data: new Uint8Array(60) });
    await pending;
    assert.deepEqual(got.map((e) => e?.seq), [3n]);
    pending = ring.read().then((r) => { got.push(r); });
    ring.close();
    await pending;
    assert.equal(got[1], undefined, 'close ends a waiting read');
  });

  it('iterate with for await until closed, and push records to onRecord', async () => {
    using obj = load();
    const ring = openRingBuffer<PktEvent>(obj.maps.ring!, { type: 'struct pkt_event' });
    const pushed: bigint[] = [];
    const stop = ring.onRecord((e) => pushed.push(e.seq));
    const iterated: bigint[] = [];
    const loop = (async () => { for await (const e of ring) iterated.push(e.seq); })();
    obj.programs.emit!.testRun({ data: new Uint8Array(70) });
    stop();
    obj.programs.emit!.testRun({ data: new Uint8Array(70) });
    await new Promise((resolve) => setImmediate(resolve));
    ring.close();
    await loop;
    assert.deepEqual(pushed, [1n]);
    assert.deepEqual(iterated, [2n]);
    assert.throws(() => ring.drain(), /reader is closed/);
  });

  it('refuse maps of another type, and records without BTF to decode them', () => {
    using obj = load();
    assert.throws(() => openRingBuffer(obj.maps.perf!), /not a ring buffer/);
    assert.throws(() => openPerfBuffer(obj.maps.ring!), /not a perf event array/);
    assert.throws(() => openRingBuffer(obj.maps.ring!.map, { type: 'struct pkt_event' }), /needs BTF/);
    assert.throws(() => openPerfBuffer(obj.maps.perf!, { pagesPerCpu: 3 }), /power of 2/);
  });

  it('give what the kernel backend\'s readers give for the same runs', { skip: kernelSkip() }, () => {
    const ours = vmEvents();
    using obj = kernel.loadObject(OBJECT);
    using ring = kernel.openRingBuffer<PktEvent>(obj.maps.ring!, { type: 'struct pkt_event' });
    using perf = kernel.openPerfBuffer(obj.maps.perf!.map);
    for (const n of LENGTHS) assert.equal(obj.programs.emit!.testRun({ data: new Uint8Array(n) }).retval, 1);
    assert.deepEqual(ours.ring, ring.drain());
    const theirs = perf.drain().map((r) => (r.type === 'sample' ? r.data : assert.fail(`lost ${r.lost}`)));
    assert.deepEqual(ours.perf, theirs);
  });

  it('keep as many samples as the kernel\'s ring of the same size when it fills up', { skip: kernelSkip() }, () => {
    const RUNS = 150;
    let vmSamples: number;
    {
      using obj = load();
      using perf = openPerfBuffer(obj.maps.perf!, { pagesPerCpu: 1 });
      obj.programs.emit!.testRun({ data: new Uint8Array(60), repeat: RUNS });
      vmSamples = perf.drain().filter((r) => r.type === 'sample').length;
      assert.equal(perf.lost, RUNS - vmSamples);
    }
    using obj = kernel.loadObject(OBJECT);
    using perf = kernel.openPerfBuffer(obj.maps.perf!.map, { pagesPerCpu: 1 });
    obj.programs.emit!.testRun({ data: new Uint8Array(60), repeat: RUNS });
    const kernelSamples = perf.drain().filter((r) => r.type === 'sample').length;
    assert.ok(vmSamples < RUNS, 'the ring did not fill up');
    assert.equal(vmSamples, kernelSamples);
  });
});
