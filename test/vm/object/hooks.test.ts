/**
 * The VM's hooks (src/vm/object/hooks.ts) driven from JavaScript, on bpf/fixtures/vm_hooks.c:
 * an application tracepoint counted into a hash map and streamed into a ring buffer, a uprobe
 * and uretprobe on a wrapped JavaScript method (string argument read with
 * bpf_probe_read_user_str), a raw tracepoint, a kprobe and a perf_event program; links that
 * detach, wrappers that unwrap. Expected values come from the events the test fires.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NotSupportedError } from '../../../src/errors.js';
import { loadObjectSpec } from '../../../src/object/index.js';
import { RingbufMap } from '../../../src/vm/maps/ringbuf.js';
import { loadObjectVm, type VmObject } from '../../../src/vm/object/load.js';
import { declareTracepointFormat } from '../../../src/vm/object/hooks.js';
import { repoRoot } from '../../support/shared.js';
import { kernelSkip } from '../../support/kernel.js';
import { loadObject } from '../../../src/kernel/object/load-object.js';
import { encodeRawTracepointArgs } from '../../../src/vm/programs/raw-tracepoint.js';

const object = readFileSync(join(repoRoot, 'bpf/fixtures/vm_hooks.o'));
const load = (): VmObject => loadObjectVm(object, { host: { task: { pid: 4242, tgid: 4240 } } });

interface Globals { calls: bigint; bytes: bigint; returned: bigint; raw_sum: bigint; kprobe_arg: bigint; samples: bigint; last_path: Uint8Array | string }
const globals = (obj: VmObject): Globals => obj.maps['.bss']!.get(0) as Globals;
const text = (v: Uint8Array | string): string => (typeof v === 'string' ? v : new TextDecoder().decode(v)).replace(/\0.*$/s, '');

describe('VM hooks', () => {
  it('lays out a declared tracepoint as the kernel lays out records', () => {
    const f = declareTracepointFormat('app:request', 0x8000, ['u32 status', 'u64 latency_ns', '__data_loc char[] path', 'char tag[3]', 'u16 port', 'const char *name']);
    assert.deepEqual(f.fields.map((x) => [x.name, x.offset, x.size]), [
      ['common_type', 0, 2], ['common_flags', 2, 1], ['common_preempt_count', 3, 1], ['common_pid', 4, 4],
      ['status', 8, 4], ['latency_ns', 16, 8], ['path', 24, 4], ['tag', 28, 3], ['port', 32, 2], ['name', 40, 8],
    ]);
    assert.equal(f.size, 48);
    // The fixture's C struct for the same fields, as clang laid it out (its BTF).
    const spec = loadObjectSpec(object);
    const request = spec.btf!.type(spec.btf!.findByName('request', 'struct')[0]!);
    assert.ok(request.kind === 'struct');
    const declared = declareTracepointFormat('app:request', 1, ['u32 status', 'u64 latency_ns', '__data_loc char[] path_loc']);
    assert.deepEqual(declared.fields.map((x) => [x.name, x.offset]), request.members.map((m) => [m.name, m.bitOffset / 8]));
    assert.throws(() => declareTracepointFormat('x:y', 1, ['float f']), TypeError);
  });

  it('tracepoint app:request: counted by status and streamed to the ring buffer', () => {
    using obj = load();
    obj.declareTracepoint('app:request', ['u32 status', 'u64 latency_ns', '__data_loc char[] path']);
    assert.equal(obj.tracepoint('app:request', { status: 200, latency_ns: 1n, path: '/' }), 0, 'nothing attached yet');
    using link = obj.programs.on_request!.attach();
    assert.equal(link.description, 'tracepoint app:request');
    const requests: Array<[number, bigint, string]> = [[200, 1500n, '/index.html'], [404, 90n, '/missing'], [200, 700n, '/a/b']];
    for (const [status, latency, path] of requests) assert.equal(obj.tracepoint('app:request', { status, latency_ns: latency, path }), 1);
    assert.deepEqual(new Map(obj.maps.by_status!.entries()), new Map([[200, 2n], [404, 1n]]));
    const ring = obj.maps.events!.map as RingbufMap;
    const events = ring.drain().map((b) => {
      const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
      return [v.getUint32(0, true), v.getUint32(4, true), v.getBigUint64(8, true), text(b.subarray(16, 48))];
    });
    assert.deepEqual(events, requests.map(([s, l, p]) => [4240, s, l, p])); // tgid of the host's task
    link.close();
    assert.equal(obj.tracepoint('app:request', { status: 500 }), 0, 'detached');
    assert.equal(ring.drain().length, 0);
    // An attached program on a tracepoint with no declared format: fields cannot be encoded, raw bytes can.
    using other = obj.programs.on_request!.attach({ target: 'app:other' });
    assert.throws(() => obj.tracepoint('app:other', { status: 1 }), /no format declared/);
    const raw = new Uint8Array(32);
    new DataView(raw.buffer).setUint32(8, 302, true);
    new DataView(raw.buffer).setUint32(24, 28, true); // path: empty, at offset 28
    assert.equal(obj.tracepoint('app:other', raw), 1);
    assert.equal(obj.maps.by_status!.get(302), 1n);
    other.close();
  });

  it('uprobe and uretprobe on a wrapped JavaScript method; disposing unwraps', () => {
    using obj = load();
    const server = {
      served: [] as string[],
      handle(path: string, size: number): number {
        this.served.push(path);
        return size * 2;
      },
    };
    const original = server.handle;
    using entry = obj.programs.on_handle!.attach();
    using exit = obj.programs.on_handle_ret!.attach();
    assert.equal(entry.kind, 'uprobe');
    assert.equal(exit.kind, 'uretprobe');
    {
      using _probe = obj.uprobe(server, 'handle');
      assert.notEqual(server.handle, original);
      assert.equal(server.handle('/one', 10), 20);
      assert.equal(server.handle('/two/three', 5), 10);
      assert.deepEqual(server.served, ['/one', '/two/three'], 'the method still runs, with its this');
      const g = globals(obj);
      assert.deepEqual([g.calls, g.bytes, g.returned, text(g.last_path)], [2n, 15n, 30n, '/two/three']);
    }
    assert.equal(server.handle, original, 'unwrapped');
    server.handle('/three', 1);
    assert.equal(globals(obj).calls, 2n);
    // A wrapper that outlives its object runs the method unprobed.
    const other = load();
    const probe = other.uprobe(server, 'handle');
    using _l = other.programs.on_handle!.attach();
    other.dispose();
    assert.equal(server.handle('/four', 2), 4);
    probe[Symbol.dispose]();
    assert.equal(server.handle, original);
  });

  it('uretprobes see what an async method resolves to', async () => {
    using obj = load();
    const api = { async fetch(n: number): Promise<number> { return n + 1; } };
    using _exit = obj.programs.on_handle_ret!.attach({ target: 'fetch' });
    using _probe = obj.uprobe(api, 'fetch');
    assert.equal(await api.fetch(41), 42);
    assert.equal(globals(obj).returned, 42n);
  });

  it('raw tracepoint, kprobe and perf_event programs', () => {
    using obj = load();
    using _a = obj.programs.on_tick!.attach();
    using _b = obj.programs.on_work!.attach();
    using _c = obj.programs.on_sample!.attach();
    assert.equal(obj.rawTracepoint('app_tick', [3n, 4n]), 1);
    assert.equal(obj.rawTracepoint('app_tick', [10, 20]), 1);
    assert.equal(obj.kprobe('do_work', [7, 9]), 1);
    assert.equal(obj.kprobe('other', [1]), 0);
    assert.equal(obj.perfEvent({ samplePeriod: 1000 }), 1);
    assert.equal(obj.perfEvent({ samplePeriod: 24 }), 1);
    const g = globals(obj);
    assert.deepEqual([g.raw_sum, g.kprobe_arg, g.samples], [37n, 7009n + 4240n, 1024n]);
  });

  it('the kernel accepts every program; a raw tracepoint run gives the same globals as its test run', { skip: kernelSkip() }, () => {
    using kernel = loadObject(object);
    using obj = load();
    using _l = obj.programs.on_tick!.attach();
    for (const args of [[3n, 4n], [1n << 40n, 5n], [0n, 0n]]) {
      assert.equal(kernel.programs.on_tick!.testRun({ ctx: encodeRawTracepointArgs(args), ctxSizeOut: 0 }).retval, 0);
      assert.equal(obj.rawTracepoint('app_tick', args), 1);
    }
    assert.deepEqual(globals(obj), kernel.maps['.bss']!.get(0));
    assert.equal(globals(obj).raw_sum, 3n + 4n + (1n << 40n) + 5n);
  });

  it('refuses what it cannot attach, and attaching twice', () => {
    using obj = loadObjectVm(readFileSync(join(repoRoot, 'bpf/fixtures/vm_loop.o')));
    assert.throws(() => obj.programs.loop_sum!.attach(), NotSupportedError);
    using hooks = load();
    using _l = hooks.programs.on_tick!.attach();
    assert.throws(() => hooks.programs.on_tick!.attach(), /already attached/);
    hooks.dispose();
    assert.throws(() => hooks.programs.on_tick!.attach(), /disposed/);
  });
});
