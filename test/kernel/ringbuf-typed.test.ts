/**
 * Ring-buffer records decoded through BTF: the record type found by name in an object's BTF
 * (no kernel needed), then against the running kernel the opensnoop tool's object read
 * through `openRingBuffer(obj.maps.events, { type: 'struct event' })` — plain objects with
 * the path this process opened — and the same through the kernel's copy of the BTF and
 * through a decode function of one's own.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadObjectSpec } from '../../src/object/index.js';
import { findRecordType, loadObject, openRingBuffer, recordDecoder, type KernelObject } from '../../src/kernel/index.js';
import { kernelSkip } from '../support/kernel.js';

const OPENSNOOP = fileURLToPath(new URL('../../../bpf/tools/opensnoop.o', import.meta.url));
const bytes = (): Uint8Array => new Uint8Array(readFileSync(OPENSNOOP));

interface OpenRecord { time_ns: bigint; pid: number; tid: number; uid: number; ret: number; flags: number; comm: string; path: string }

describe('recordDecoder', () => {
  const btf = loadObjectSpec(bytes()).btf!;

  it('finds the record type by name, with or without its kind', () => {
    const id = findRecordType(btf, 'struct event');
    assert.equal(btf.type(id).kind, 'struct');
    assert.equal(findRecordType(btf, 'event'), id);
    assert.equal(findRecordType(btf, '  struct   event '), id);
    assert.throws(() => findRecordType(btf, 'struct nothing_like_it'), /no type 'struct nothing_like_it' in the BTF: clang keeps only/);
    assert.throws(() => findRecordType(btf, 'union event'), /no type 'union event'/);
  });

  it('decodes a record into a plain object; a short record reads as zero-padded', () => {
    const decode = recordDecoder<OpenRecord>(btf, 'struct event');
    const record = new Uint8Array(8 + 4 * 5 + 16 + 256);
    const view = new DataView(record.buffer);
    view.setBigUint64(0, 123n, true);
    view.setUint32(8, 42, true);
    view.setUint32(12, 43, true);
    view.setInt32(20, -2, true);
    record.set(new TextEncoder().encode('cat'), 28);
    record.set(new TextEncoder().encode('/etc/hosts'), 44);
    assert.deepEqual(decode(record), { time_ns: 123n, pid: 42, tid: 43, uid: 0, ret: -2, flags: 0, comm: 'cat', path: '/etc/hosts' });
    assert.deepEqual(decode(record.subarray(0, 16)), { time_ns: 123n, pid: 42, tid: 43, uid: 0, ret: 0, flags: 0, comm: '', path: '' });
  });
});

describe('openRingBuffer with records decoded through BTF', { skip: kernelSkip() }, () => {
  /** opensnoop's object, for this process only, attached. */
  function attached(): KernelObject & { detach(): void } {
    const obj = loadObject(bytes(), { objectName: 'opensnoop', constants: { target_pid: process.pid } });
    const links = Object.values(obj.programs).map((p) => p.attach());
    return Object.assign(obj, { detach: () => links.forEach((l) => l.close()) });
  }

  /** Opens `path` (or fails to) and returns the fd or -errno. */
  function open(path: string): number {
    try {
      const fd = openSync(path, 'r');
      closeSync(fd);
      return fd;
    } catch (err) {
      return -((err as { errno?: number }).errno === undefined ? 0 : Math.abs((err as { errno: number }).errno));
    }
  }

  it('obj.maps.events with type: the map’s own BTF', async () => {
    const obj = attached();
    try {
      using reader = openRingBuffer<OpenRecord>(obj.maps.events!, { type: 'struct event' });
      const fd = open('/etc/hostname');
      const missing = open('/nonexistent/ebpf-ringbuf-typed');
      const seen: OpenRecord[] = [];
      const deadline = Date.now() + 5000;
      while (seen.filter((r) => r.path === '/etc/hostname' || r.path.startsWith('/nonexistent/')).length < 2 && Date.now() < deadline) {
        const r = await reader.read(AbortSignal.timeout(1000));
        if (r !== undefined) seen.push(r);
      }
      const hostname = seen.find((r) => r.path === '/etc/hostname');
      const nothing = seen.find((r) => r.path === '/nonexistent/ebpf-ringbuf-typed');
      assert.deepEqual([hostname?.pid, hostname?.ret, typeof hostname?.time_ns], [process.pid, fd, 'bigint']);
      assert.deepEqual([nothing?.pid, nothing?.ret], [process.pid, missing]);
      assert.equal(missing, -2);
    } finally {
      obj.detach();
      obj.dispose();
    }
  });

  it('the kernel’s copy of the BTF (obj.btf), consume/drain, and a decode function of one’s own', () => {
    const obj = attached();
    try {
      using typed = openRingBuffer<OpenRecord>(obj.maps.events!.map, { type: 'event', btf: obj.btf! });
      open('/etc/hostname');
      const drained = typed.drain();
      assert.ok(drained.some((r) => r.path === '/etc/hostname' && r.pid === process.pid), 'drain gives decoded records');
      using lengths = openRingBuffer(obj.maps.events!, { decode: (record) => record.length });
      open('/etc/hostname');
      const sizes: number[] = [];
      assert.ok(lengths.consume((n) => sizes.push(n)) >= 1);
      // sizeof(struct event): 300 bytes of members, padded to a multiple of 8.
      assert.ok(sizes.every((n) => n === 304), `record sizes ${sizes.join(', ')}`);
      assert.throws(() => openRingBuffer(obj.maps.events!.map, { type: 'struct event' }), /need BTF/);
      assert.throws(() => openRingBuffer(obj.maps.events!, { type: 'struct missing' }), /open ring buffer 'events': no type 'struct missing'/);
    } finally {
      obj.detach();
      obj.dispose();
    }
  });
});
