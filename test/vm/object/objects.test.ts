/**
 * The project's objects (bpf/objects, bpf/fixtures) loaded into the VM: global data and
 * `.rodata` constants through `maps.NAME` with BTF-decoded values, legacy and BTF-defined maps,
 * maps of maps, tail calls set up by the object, subprograms, bpf_loop (against the kernel
 * too), and the NotSupportedErrors for what the VM cannot run.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseBtf } from '../../../src/btf/parse.js';
import { NotSupportedError, VerifierError } from '../../../src/errors.js';
import { loadObjectSpec } from '../../../src/object/index.js';
import { loadObjectVm, MapError, RingbufMap, VmHost, type VmObject } from '../../../src/vm/index.js';
import { kernelSkip } from '../../support/kernel.js';
import { repoRoot } from '../../support/shared.js';
import { KernelObjectForTest } from './kernel-link.js';

const read = (path: string): Uint8Array => readFileSync(join(repoRoot, path));
const VMLINUX = '/sys/kernel/btf/vmlinux';

/** A context struct of `size` zeroed bytes with the given u32 fields (by byte offset). */
function ctx(obj: VmObject, size: number, fields: Record<number, number> = {}): number {
  const region = obj.memory.alloc(size, { kind: 'context', name: 'ctx' });
  for (const [offset, value] of Object.entries(fields)) obj.memory.view.setUint32(region.start + Number(offset), value, true);
  return region.start;
}

describe('global data', () => {
  const globals = read('bpf/objects/globals.o');

  it('is read and written through maps.NAME, decoded by BTF, and updated by the program', () => {
    using obj = loadObjectVm(globals);
    assert.deepEqual(obj.maps['.data']!.get(0), { packets: 100n, last_len: 7 });
    assert.equal((obj.maps['.rodata']!.get(0) as { tag: string }).tag, 'eth0');
    const r = obj.programs.globals_socket!.run(ctx(obj, 192, { 0: 97 })); // skb->len (CO-RE, UAPI)
    assert.equal(r.r0, 97n);
    assert.deepEqual(obj.maps['.data']!.get(0), { packets: 101n, last_len: 97 });
    const bss = obj.maps['.bss']!.get(0) as { drops: bigint; histogram: number[]; hidden_seen: number };
    assert.equal(bss.drops, 0n);
    assert.deepEqual(bss.histogram, [0, 1, 0, 0, 0, 0, 0, 0]);
    assert.equal(bss.hidden_seen, 1);
    assert.deepEqual(obj.maps['.data.custom']!.get(0), { custom_counter: 44n, custom_pair: [1, 2] });
    // len == mac[5] + tag[0] + threshold = 1 + 'e' - 5: bpf_printk fires.
    assert.deepEqual(obj.tracePipe.read(), ['odd length 97']);

    obj.maps['.data']!.set(0, { packets: 5n, last_len: 0 });
    obj.programs.globals_socket!.run(ctx(obj, 192, { 0: 64 }));
    assert.deepEqual(obj.maps['.data']!.get(0), { packets: 6n, last_len: 64 });
  });

  it('.rodata takes constants before load and is frozen after', () => {
    using obj = loadObjectVm(globals, { constants: { target_pid: 42 }, host: { task: { pid: 9, tgid: 7 } } });
    assert.equal((obj.maps['.rodata']!.get(0) as { target_pid: number }).target_pid, 42);
    assert.equal(obj.programs.globals_socket!.run(ctx(obj, 192, { 0: 64 })).r0, 0n); // tgid 7 is not 42
    obj.host.task = { ...obj.host.task, tgid: 42 };
    assert.equal(obj.programs.globals_socket!.run(ctx(obj, 192, { 0: 64 })).r0, 64n);
    assert.throws(() => obj.maps['.rodata']!.set(0, obj.maps['.rodata']!.get(0)), (e: unknown) => e instanceof MapError && e.errno === 1);

    using off = loadObjectVm(globals, { constants: { enabled: false } });
    assert.equal(off.programs.globals_socket!.run(ctx(off, 192, { 0: 64 })).r0, 0n);
    assert.equal((off.maps['.bss']!.get(0) as { drops: bigint }).drops, 1n);
  });

  it('a disposed object closes its maps and runs nothing', () => {
    const obj = loadObjectVm(globals);
    const data = obj.maps['.data']!.map;
    obj.dispose();
    assert.equal(data.open, false);
    assert.throws(() => obj.programs.globals_socket!.run(0), /disposed/);
    obj[Symbol.dispose]();
  });

  it('a spec given to the loader stays as it was', () => {
    const spec = loadObjectSpec(globals);
    using obj = loadObjectVm(spec, { constants: { target_pid: 5 } });
    assert.equal(spec.getVariable('target_pid'), 0);
    assert.equal(obj.spec.getVariable('target_pid'), 5);
  });

  it('an XDP program reads its xdp_md, the string literal of .rodata.str1.1 is its format', () => {
    using obj = loadObjectVm(globals);
    const r = obj.programs.globals_xdp!.run(ctx(obj, 24, { 0: 0x100, 4: 0x110, 12: 3 }));
    assert.equal(r.r0, 1n); // packets > threshold compares as u64: XDP_DROP
    assert.deepEqual(obj.tracePipe.read(), ['xdp sees 3']);
  });
});

describe('CO-RE', () => {
  it('relocations rooted at UAPI context structs resolve against the object\'s BTF, flavors and poison included', () => {
    using obj = loadObjectVm(read('bpf/fixtures/core_fields.o'), { programs: ['core_skb_ctx', 'core_xdp_ctx'] });
    // __sk_buff: len at 0, protocol at 16, cb[2] at 56; the u16 view of len reads 4 bytes (widened).
    obj.programs.core_skb_ctx!.run(ctx(obj, 192, { 0: 1234, 16: 0x0800, 56: 77 }));
    obj.programs.core_xdp_ctx!.run(ctx(obj, 24, { 0: 0x100, 4: 0x140, 12: 9 }));
    const out = (obj.maps['.bss']!.get(0) as { out: bigint[] }).out;
    assert.deepEqual(out.slice(17, 24), [1234n, 0x800n, 77n, 1234n, 0n, 0x40n, 9n]); // out[21]: the poisoned read is dead code
  });

  it('with a target BTF, relocations against kernel types resolve too', { skip: existsSync(VMLINUX) ? false : `${VMLINUX} not found` }, () => {
    const targetBtf = parseBtf(readFileSync(VMLINUX));
    // core_stores relocates struct iphdr fields; the same program fails without the target.
    assert.throws(() => loadObjectVm(read('bpf/fixtures/core_stores.o')), NotSupportedError);
    using obj = loadObjectVm(read('bpf/fixtures/core_stores.o'), { targetBtf });
    assert.deepEqual(Object.keys(obj.programs), ['core_stores']);
  });
});

describe('maps', () => {
  it('legacy maps: raw bytes without BTF, number keys for arrays', () => {
    using obj = loadObjectVm(read('bpf/objects/maps_legacy.o'));
    const prog = obj.programs.legacy_counter!;
    assert.equal(prog.run(ctx(obj, 192, { 0: 60 })).r0, 0n);
    obj.maps.conn_table!.set(Uint8Array.of(60, 0, 0, 0, 0, 0, 0, 0), new Uint8Array(16));
    assert.equal(prog.run(ctx(obj, 192, { 0: 60 })).r0, 1n);
    assert.deepEqual([...obj.maps.packet_count!.get(6) as Uint8Array], [2, 0, 0, 0, 0, 0, 0, 0]);
    assert.equal([...obj.maps.conn_table!.keys()].length, 1);
  });

  it('BTF maps: structs, per-CPU arrays, LRU, maps of maps and the object\'s own tail calls', () => {
    using obj = loadObjectVm(read('bpf/objects/maps_btf.o'), { cpus: 2 });
    assert.equal('sk_store' in obj.maps, false); // SK_STORAGE: not in the VM, and no program uses it
    assert.equal(obj.maps.outer_array!.get(0), obj.maps.inner_a!.map.id);
    assert.equal(obj.maps.outer_array!.get(1), undefined);
    assert.equal(obj.maps.outer_hash!.get(5), obj.maps.inner_h!.map.id);
    obj.maps.flows!.set({ saddr: 0, daddr: 0, sport: 0, dport: 0, proto: 6 }, { packets: 5n, bytes: 0n });
    const xdp = obj.programs.xdp_maps!;
    assert.equal(xdp.run(ctx(obj, 24)).r0, 2n); // tail call to tail_pass: XDP_PASS
    assert.deepEqual(obj.maps.flows!.get({ saddr: 0, daddr: 0, sport: 0, dport: 0, proto: 6 }), { packets: 6n, bytes: 0n });
    assert.equal(obj.maps.counters!.get(1), 1n);
    assert.deepEqual(obj.maps.percpu_array!.get(1), [1n, 0n]);
    obj.maps.jumps?.delete(1);
    obj.maps.jump_table!.set(1, obj.programs.tail_drop!);
    assert.equal(xdp.run(ctx(obj, 24)).r0, 1n);
    obj.maps.lru!.set(0n, 1);
    assert.equal(xdp.run(ctx(obj, 24)).r0, 1n); // the lru hit returns XDP_DROP before the tail call
    assert.equal(obj.maps.counters!.get(1), 3n);
  });

  it('ring buffer, perf event array and queue of a socket program', () => {
    using obj = loadObjectVm(read('bpf/objects/maps_btf.o'));
    obj.programs.socket_events!.run(ctx(obj, 192, { 0: 77 }));
    const ring = obj.maps.events!.map as RingbufMap;
    assert.deepEqual(ring.drain().map((s) => [...s]), [[77, 0, 0, 0]]);
    assert.equal(obj.maps.queue!.pop(), 77n);
    assert.equal(obj.maps.queue!.pop(), undefined);
  });

  it('subprograms share the object\'s globals', () => {
    using obj = loadObjectVm(read('bpf/objects/subprogs.o'), { programs: ['sub_tc'] });
    obj.programs.sub_tc!.run(ctx(obj, 192, { 0: 10 }));
    assert.deepEqual(obj.maps['.bss']!.get(0), { total: 1609n }); // v = 20 + clamp(20); total = v² + 9
  });
});

describe('bpf_loop', () => {
  const loop = read('bpf/fixtures/vm_loop.o');

  it('runs the static callback with the kernel\'s return values', () => {
    using obj = loadObjectVm(loop);
    assert.equal(obj.programs.loop_sum!.run(0).r0, BigInt.asUintN(64, -22n));
    assert.deepEqual(obj.maps['.bss']!.get(0), { result: [4950n, 100n, 10n, 45n * 1000n + 110n] });
  });

  it('in a syscall program, whose test run passes its context in and out', () => {
    using obj = loadObjectVm(loop);
    const r = obj.programs.sum_to!.testRun({ ctx: Uint8Array.of(10, 0, 0, 0, 0, 0, 0, 0) });
    assert.equal(r.retval, 10);
    assert.deepEqual([...r.ctxOut!], [10, 0, 0, 0, 45, 0, 0, 0]);
    assert.deepEqual(r.dataOut, new Uint8Array(0));
  });

  it('agrees with the kernel', { skip: kernelSkip() }, () => {
    using kernel = new KernelObjectForTest(loadObjectSpec(loop));
    const retval = kernel.run('loop_sum', new Uint8Array(64));
    using obj = loadObjectVm(loop);
    const r0 = obj.programs.loop_sum!.run(0).r0;
    assert.equal(Number(r0 & 0xffffffffn), retval);
    assert.deepEqual([...(obj.maps['.bss']!.map.lookup(new Uint8Array(4)) as Uint8Array)], [...kernel.data('.bss')]);
  });
});

describe('what the VM cannot run is refused at load, by name', () => {
  const refused = (path: string, options: Parameters<typeof loadObjectVm>[1], pattern: RegExp): void => {
    assert.throws(() => loadObjectVm(read(path), options), (e: unknown) => e instanceof NotSupportedError && pattern.test(e.message));
  };

  it('helpers the VM lacks', () => {
    refused('bpf/fixtures/vm_missing_helper.o', {},
      /^load program 'writes_user': bpf_probe_write_user \(#36\) is not implemented by the VM$/);
  });

  it('kfuncs and kernel symbols', () => {
    refused('bpf/objects/exception_cb.o', {}, /kfunc 'bpf_throw' is not implemented by the VM/);
    refused('bpf/objects/externs.o', {}, /kernel symbol 'bpf_prog_active' \(__ksym\) does not exist in the VM/);
  });

  it('CO-RE relocations against kernel types, naming the first', () => {
    refused('bpf/fixtures/core_types.o', {}, /CO-RE relocation #0 \(type_exists of struct task_struct, access 0, insn 0\) needs the kernel's BTF/);
  });

  it('big-endian objects', () => {
    refused('bpf/fixtures/isa_mix.bpfeb.o', {}, /little-endian/);
  });

  it('test runs of program types without a context model', () => {
    // XDP, TC, socket filter and cgroup skb programs have theirs (test/vm/object/contexts.test.ts).
    // sock_ops programs run on the simulated sockets' events instead (test/vm/sockets); the kernel has no test run for them either.
    using obj = loadObjectVm(read('bpf/objects/sections_net.o'), { programs: ['sec_sockops'] });
    assert.throws(() => obj.programs.sec_sockops!.testRun({ data: new Uint8Array(64) }),
      (e: unknown) => e instanceof NotSupportedError && /no context model for BPF_PROG_TYPE_SOCK_OPS/.test(e.message));
  });
});

describe('every object of the project', () => {
  it('loads program by program, or fails with NotSupportedError or the verifier\'s VerifierError', () => {
    let loaded = 0;
    for (const dir of ['bpf/objects', 'bpf/fixtures']) {
      for (const file of readdirSync(join(repoRoot, dir)).filter((f) => f.endsWith('.o'))) {
        let spec;
        try {
          spec = loadObjectSpec(read(`${dir}/${file}`));
        } catch {
          continue; // not an object the spec loader accepts: its own tests cover that
        }
        for (const p of spec.programs) {
          try {
            loadObjectVm(spec, { programs: [p.name], host: new VmHost({ seed: 0 }) }).dispose();
            loaded++;
          } catch (err) {
            // What the verifier refuses is compared with the kernel's verdict in test/verifier/objects.test.ts.
            assert.ok(err instanceof NotSupportedError || err instanceof VerifierError, `${file} ${p.name}: ${String(err)}`);
          }
        }
      }
    }
    assert.ok(loaded >= 100, `${loaded} programs loaded`);
  });
});
