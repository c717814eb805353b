/**
 * Programs that call the map helpers, run in the VM's interpreter and in the kernel
 * (BPF_PROG_TEST_RUN): r0 (a checksum of every helper's return value and of the values read)
 * and the maps' final contents must agree.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ArrayOfMapsMap, HashOfMapsMap, MapFlag, MapType, RingbufMap } from '../../../src/vm/index.js';
import { kernelSkip } from '../../support/kernel.js';
import { hex, KernelRingbuf, pinToCpu0 } from '../maps/kernel-maps.js';
import { Sides } from './both.js';

const u32 = (n: number): Uint8Array => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n, true); return b; };
const u64 = (n: bigint): Uint8Array => { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, n, true); return b; };
/** r8 = r8 * 3 + rN: order-sensitive checksum of results. */
const mix = (reg = 'r0'): string => `r8 *= 3\n  r8 += ${reg}`;

const compared = { programs: 0, elements: 0, records: 0 };

describe('map helpers: VM interpreter vs kernel test run', { skip: kernelSkip() }, () => {
  before(() => pinToCpu0());

  it('hash: lookup, update with flags, delete, atomic add through the value pointer', (t) => {
    using s = new Sides();
    s.map('counts', { type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 8, flags: MapFlag.ZERO_SEED });
    s.run(`
      r6 = 0
      r8 = 0
    loop:
      r7 = r6
      r7 *= 7
      r7 %= 13
      *(u32 *)(r10 - 4) = r7
      r1 = map(counts)
      r2 = r10
      r2 += -4
      call 1
      if r0 == 0 goto insert
      r1 = 1
      lock *(u64 *)(r0 + 0) += r1
      r1 = *(u64 *)(r0 + 0)
      ${mix('r1')}
      goto del
    insert:
      *(u64 *)(r10 - 16) = r6
      r1 = map(counts)
      r2 = r10
      r2 += -4
      r3 = r10
      r3 += -16
      r4 = r6
      r4 &= 7
      call 2
      ${mix()}
    del:
      r1 = r6
      r1 %= 5
      if r1 != 0 goto next
      r7 = r6
      r7 *= 3
      r7 %= 13
      *(u32 *)(r10 - 8) = r7
      r1 = map(counts)
      r2 = r10
      r2 += -8
      call 3
      ${mix()}
    next:
      r6 += 1
      if r6 < 60 goto loop
      r0 = r8
      exit`);
    compared.programs++;
    compared.elements += s.compare('counts');
  });

  it('arrays and per-CPU arrays: update flags, out-of-range keys, lookup_percpu_elem', () => {
    using s = new Sides();
    s.map('arr', { type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 4 });
    const pc = s.map('pc', { type: MapType.PERCPU_ARRAY, keySize: 4, valueSize: 8, maxEntries: 4 });
    // CPU 1's values come from the host only.
    const perCpu = Array.from({ length: s.registry.cpus }, (_, c) => u64(BigInt(100 + c)));
    pc.vm.update(u32(1), perCpu);
    assert.equal(pc.kernel.update(u32(1), new Uint8Array(perCpu.flatMap((v) => [...v]))), 0);
    s.run(`
      r8 = 0
      r6 = 0
    loop:
      *(u32 *)(r10 - 4) = r6
      r1 = r6
      r1 *= 11
      *(u64 *)(r10 - 16) = r1
      r1 = map(arr)
      r2 = r10
      r2 += -4
      r3 = r10
      r3 += -16
      r4 = r6
      r4 &= 3
      call 2
      ${mix()}
      r1 = map(pc)
      r2 = r10
      r2 += -4
      r3 = r10
      r3 += -16
      r4 = 0
      if r6 == 1 goto skip_pc_update
      call 2
      ${mix()}
    skip_pc_update:
      r1 = map(pc)
      r2 = r10
      r2 += -4
      r3 = r6
      r3 %= 3
      call 195
      if r0 == 0 goto no_pc
      r1 = *(u64 *)(r0 + 0)
      ${mix('r1')}
    no_pc:
      r1 = map(pc)
      r2 = r10
      r2 += -4
      call 1
      if r0 == 0 goto no_pc2
      r1 = *(u64 *)(r0 + 0)
      ${mix('r1')}
    no_pc2:
      r1 = map(arr)
      r2 = r10
      r2 += -4
      call 1
      if r0 == 0 goto next
      r1 = *(u64 *)(r0 + 0)
      ${mix('r1')}
      r1 = map(arr)
      r2 = r10
      r2 += -4
      call 3
      ${mix()}
    next:
      r6 += 1
      if r6 < 6 goto loop
      r0 = r8
      exit`);
    compared.programs++;
    compared.elements += s.compare('arr') + s.compare('pc');
  });

  it('queue and stack: push with BPF_EXIST, pop and peek, empty maps', () => {
    using s = new Sides();
    s.map('q', { type: MapType.QUEUE, keySize: 0, valueSize: 8, maxEntries: 5 });
    s.map('s', { type: MapType.STACK, keySize: 0, valueSize: 4, maxEntries: 3 });
    s.run(`
      r8 = 0
      r6 = 1
    push:
      *(u64 *)(r10 - 8) = r6
      r1 = map(q)
      r2 = r10
      r2 += -8
      r3 = r6
      r3 &= 2
      call 87
      ${mix()}
      *(u32 *)(r10 - 12) = r6
      r1 = map(s)
      r2 = r10
      r2 += -12
      r3 = r6
      r3 &= 3
      call 87
      ${mix()}
      r6 += 1
      if r6 < 10 goto push
      r6 = 0
    pop:
      r1 = map(q)
      r2 = r10
      r2 += -8
      call 89
      ${mix()}
      r1 = *(u64 *)(r10 - 8)
      ${mix('r1')}
      r1 = map(q)
      r2 = r10
      r2 += -8
      call 88
      ${mix()}
      r1 = *(u64 *)(r10 - 8)
      ${mix('r1')}
      r1 = map(s)
      r2 = r10
      r2 += -16
      call 88
      ${mix()}
      r1 = *(u32 *)(r10 - 16)
      ${mix('r1')}
      r6 += 1
      if r6 < 8 goto pop
      r0 = r8
      exit`);
    compared.programs++;
  });

  it('LPM trie: longest-prefix lookups, inserts and deletes from the program', () => {
    using s = new Sides();
    const lpm = s.map('lpm', { type: MapType.LPM_TRIE, keySize: 8, valueSize: 8, maxEntries: 20, flags: MapFlag.NO_PREALLOC });
    const addr = (i: number): number => Math.imul(i, 0x01020304) >>> 0;
    const key = (prefixlen: number, a: number): Uint8Array => new Uint8Array([...u32(prefixlen), ...u32(a)]);
    [[0, 0], [8, 3], [16, 7], [24, 11], [28, 13], [32, 17], [12, 20], [20, 21], [4, 40]].forEach(([plen, i], n) => {
      lpm.vm.update(key(plen!, addr(i!)), u64(BigInt(n + 1)));
      assert.equal(lpm.kernel.update(key(plen!, addr(i!)), u64(BigInt(n + 1))), 0);
    });
    s.run(`
      r8 = 0
      r6 = 0
    loop:
      r1 = 32
      *(u32 *)(r10 - 8) = r1
      r1 = r6
      r1 *= 0x1020304
      *(u32 *)(r10 - 4) = r1
      r1 = map(lpm)
      r2 = r10
      r2 += -8
      call 1
      if r0 == 0 goto miss
      r1 = *(u64 *)(r0 + 0)
      ${mix('r1')}
    miss:
      r1 = r6
      r1 &= 3
      if r1 != 0 goto next
      r1 = 20
      *(u32 *)(r10 - 8) = r1
      *(u64 *)(r10 - 16) = r6
      r1 = map(lpm)
      r2 = r10
      r2 += -8
      r3 = r10
      r3 += -16
      r4 = r6
      r4 &= 1
      call 2
      ${mix()}
      r1 = r6
      r1 &= 7
      if r1 != 4 goto next
      r1 = 16
      *(u32 *)(r10 - 8) = r1
      r1 = map(lpm)
      r2 = r10
      r2 += -8
      call 3
      ${mix()}
    next:
      r6 += 1
      if r6 < 48 goto loop
      r0 = r8
      exit`);
    compared.programs++;
    compared.elements += s.compare('lpm');
  });

  it('LRU hash: a program\'s lookups keep elements, its updates evict others', () => {
    using s = new Sides();
    s.map('lru', { type: MapType.LRU_HASH, keySize: 4, valueSize: 8, maxEntries: 16, flags: MapFlag.ZERO_SEED });
    s.run(`
      r8 = 0
      r6 = 0
    loop:
      r7 = r6
      r7 *= 13
      r7 %= 40
      *(u32 *)(r10 - 4) = r7
      r1 = map(lru)
      r2 = r10
      r2 += -4
      call 1
      if r0 == 0 goto insert
      r1 = 1
      lock *(u64 *)(r0 + 0) += r1
      goto next
    insert:
      *(u64 *)(r10 - 16) = r6
      r1 = map(lru)
      r2 = r10
      r2 += -4
      r3 = r10
      r3 += -16
      r4 = 0
      call 2
      ${mix()}
    next:
      r6 += 1
      if r6 < 100 goto loop
      r0 = r8
      exit`);
    compared.programs++;
    compared.elements += s.compare('lru');
  });

  it('maps of maps: a lookup returns the inner map, which the program then uses', () => {
    using s = new Sides();
    s.map('tmpl', { type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 2 });
    const a = s.map('a', { type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 2 });
    const b = s.map('b', { type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 2 });
    const outer = s.map('outer', { type: MapType.ARRAY_OF_MAPS, keySize: 4, valueSize: 4, maxEntries: 4, inner: 'tmpl' });
    const hom = s.map('hom', { type: MapType.HASH_OF_MAPS, keySize: 4, valueSize: 4, maxEntries: 4, inner: 'tmpl' });
    (outer.vm as ArrayOfMapsMap).set(1, a.vm);
    (outer.vm as ArrayOfMapsMap).set(3, b.vm);
    (hom.vm as HashOfMapsMap).set(u32(5), b.vm);
    assert.equal(outer.kernel.update(u32(1), u32(a.kernel.fd)), 0);
    assert.equal(outer.kernel.update(u32(3), u32(b.kernel.fd)), 0);
    assert.equal(hom.kernel.update(u32(5), u32(b.kernel.fd)), 0);
    s.run(`
      r8 = 0
      r6 = 0
    loop:
      *(u32 *)(r10 - 4) = r6
      r1 = map(outer)
      r2 = r10
      r2 += -4
      call 1
      if r0 == 0 goto none
      r7 = r0
      r1 = 0
      *(u32 *)(r10 - 8) = r1
      r1 = r7
      r2 = r10
      r2 += -8
      call 1
      if r0 == 0 goto next
      r1 = r6
      r1 += 1
      lock *(u64 *)(r0 + 0) += r1
      goto next
    none:
      r1 = 7
      ${mix('r1')}
    next:
      r6 += 1
      if r6 < 5 goto loop
      r1 = 5
      *(u32 *)(r10 - 4) = r1
      r1 = map(hom)
      r2 = r10
      r2 += -4
      call 1
      if r0 == 0 goto out
      r7 = r0
      r1 = 1
      *(u32 *)(r10 - 8) = r1
      r1 = 0x55
      *(u64 *)(r10 - 16) = r1
      r1 = r7
      r2 = r10
      r2 += -8
      r3 = r10
      r3 += -16
      r4 = 0
      call 2
      ${mix()}
    out:
      r0 = r8
      exit`);
    compared.programs++;
    compared.elements += s.compare('a') + s.compare('b');
    assert.equal(hex(outer.vm.lookup(u32(1)) as Uint8Array), hex(u32(a.vm.id)), 'a host lookup of an ARRAY_OF_MAPS gives the inner map id');
  });

  it('bloom filter: push then peek, false positives included', () => {
    using s = new Sides();
    s.map('bloom', { type: MapType.BLOOM_FILTER, keySize: 0, valueSize: 4, maxEntries: 30, flags: MapFlag.ZERO_SEED, mapExtra: 3 });
    const r0 = s.run(`
      r8 = 0
      r6 = 0
    push:
      r1 = r6
      r1 *= 7
      *(u32 *)(r10 - 4) = r1
      r1 = map(bloom)
      r2 = r10
      r2 += -4
      r3 = 0
      call 87
      ${mix()}
      r6 += 1
      if r6 < 30 goto push
      r6 = 0
      r7 = 0
    peek:
      *(u32 *)(r10 - 4) = r6
      r1 = map(bloom)
      r2 = r10
      r2 += -4
      call 89
      if r0 != 0 goto absent
      r7 += 1
    absent:
      r6 += 1
      if r6 < 400 goto peek
      r1 = map(bloom)
      r2 = r10
      r2 += -4
      r3 = 1
      call 87
      ${mix()}
      r0 = r7
      r0 <<= 16
      r0 += r8
      exit`);
    assert.ok(Number(r0 >> 16n) > 30 - 1, 'every pushed value (and some others) tests positive');
    compared.programs++;
  });

  it('ring buffer: output until full, reserve/submit/discard, query, wrap-around; records read back', (t) => {
    using s = new Sides();
    const rb = s.map('rb', { type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096 });
    using reader = new KernelRingbuf(rb.kernel.fd, 4096);
    const vmRing = rb.vm as RingbufMap;
    const fill = `
      r8 = 0
      r1 = 0x0706050403020100 ll
      *(u64 *)(r10 - 40) = r1
      r1 = 0x0f0e0d0c0b0a0908 ll
      *(u64 *)(r10 - 32) = r1
      r1 = 0x1716151413121110 ll
      *(u64 *)(r10 - 24) = r1
      r1 = 0x1f1e1d1c1b1a1918 ll
      *(u64 *)(r10 - 16) = r1
      r1 = 0x2726252423222120 ll
      *(u64 *)(r10 - 8) = r1
      r6 = 0
    loop:
      *(u8 *)(r10 - 40) = r6
      r3 = r6
      r3 >>= 1
      r3 &= 3
      r3 *= 8
      r3 += 3
      r1 = map(rb)
      r2 = r10
      r2 += -40
      r4 = r6
      r4 &= 3
      call 130
      ${mix()}
      r6 += 1
      if r6 < 160 goto loop
      r1 = map(rb)
      r2 = 0
      call 134
      ${mix()}
      r1 = map(rb)
      r2 = 1
      call 134
      ${mix()}
      r1 = map(rb)
      r2 = 2
      call 134
      ${mix()}
      r1 = map(rb)
      r2 = 3
      call 134
      ${mix()}
      r1 = map(rb)
      r2 = 9
      call 134
      ${mix()}
      r0 = r8
      exit`;
    const reserve = `
      r8 = 0
      r1 = map(rb)
      r2 = 24
      r3 = 0
      call 131
      if r0 == 0 goto no1
      r6 = r0
      r1 = 0x1111
      *(u64 *)(r6 + 0) = r1
      *(u64 *)(r6 + 8) = r1
      *(u64 *)(r6 + 16) = r1
      r1 = r6
      r2 = 0
      call 132
      r8 += 1
    no1:
      r1 = map(rb)
      r2 = 16
      r3 = 0
      call 131
      if r0 == 0 goto no2
      r1 = r0
      r2 = 0
      call 133
      r8 += 2
    no2:
      r1 = map(rb)
      r2 = 8
      r3 = 1
      call 131
      if r0 == 0 goto no3
      r1 = r0
      r2 = 0
      call 133
      r8 += 4
    no3:
      r1 = map(rb)
      r2 = 5000
      r3 = 0
      call 131
      if r0 == 0 goto no4
      r1 = r0
      r2 = 0
      call 133
      r8 += 8
    no4:
      r1 = map(rb)
      r2 = 3
      call 134
      ${mix()}
      r0 = r8
      exit`;
    const drainBoth = (): void => {
      const kernel = reader.consume().filter((r) => !r.discarded).map((r) => hex(r.data));
      const vm = vmRing.drain().map(hex);
      assert.deepEqual(vm, kernel, 'records');
      assert.equal(vmRing.consumerPosition, reader.consumerPosition, 'consumer position');
      assert.equal(vmRing.producerPosition, reader.producerPosition, 'producer position');
      compared.records += kernel.length;
    };
    for (let round = 0; round < 4; round++) {
      s.run(fill);
      drainBoth();
      s.run(reserve);
      // Consume only the first half sometimes, so the next fill wraps around a partly full ring.
      if (round % 2 === 0) drainBoth();
      compared.programs += 2;
    }
    s.run(fill);
    drainBoth();
    t.diagnostic(`ring positions after 5 fills: producer ${vmRing.producerPosition}, wakeups ${vmRing.wakeups}`);
  });

  it('reports what was compared', (t) => {
    t.diagnostic(`${compared.programs} program runs compared by r0; ${compared.elements} final map elements; ${compared.records} ring buffer records`);
  });
});
