/**
 * The core helpers against a host the test controls: clocks, the prandom generator (the
 * kernel's self-test vectors), CPU id, the current task, the probe-read family over host
 * memory regions, the trace pipe, and the checks of bpf_tail_call's interpreter side.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assemble, encodeProgram } from '../../../src/isa/index.js';
import {
  coreHelpers, ExecutionState, hostClock, Interpreter, MapRegistry, MapType, Memory, PrandomState, stringHelpers, traceHelpers,
  VmError, VmHost, type ClockId, type VmHostOptions,
} from '../../../src/vm/index.js';

/** An interpreter for `source` with the core, string and trace helpers of `host`. */
function vm(source: string, host: VmHost, registry = new MapRegistry(new Memory())): Interpreter {
  const helpers = new Map([...coreHelpers(host, { registry }), ...stringHelpers(host), ...traceHelpers(host)]);
  return new Interpreter(encodeProgram(assemble(source)), { memory: registry.memory, helpers });
}

const run = (source: string, options: VmHostOptions = {}): bigint => vm(source, new VmHost(options)).run().r0;
const neg = (n: number): bigint => BigInt.asUintN(64, BigInt(n));

describe('clocks', () => {
  it('each ktime helper reads its clock', () => {
    const clock = (id: ClockId): bigint => ({ monotonic: 11n, boot: 22n, coarse: 33n, tai: 44n })[id];
    assert.deepEqual([5, 125, 160, 208].map((id) => run(`call ${id}\nexit`, { clock })), [11n, 22n, 33n, 44n]);
  });

  it('the host clocks: monotonic, coarse on a tick, TAI near the wall clock', () => {
    const a = hostClock('monotonic');
    const b = hostClock('monotonic');
    assert.ok(b >= a);
    assert.equal(hostClock('coarse') % 4_000_000n, 0n);
    const tai = hostClock('tai');
    const wall = BigInt(Date.now()) * 1_000_000n;
    assert.ok(tai - wall > 36_000_000_000n && tai - wall < 38_000_000_000n);
  });
});

describe('bpf_get_prandom_u32', () => {
  it('is the kernel\'s taus113 generator: lib/random32.c self-test vectors', () => {
    const vectors: Array<[number, number]> = [[1, 3484351685], [2, 2623130059], [3, 3125133893], [4, 984847254]];
    for (const [seed, first] of vectors) assert.equal(new PrandomState(seed).next(), first, `seed ${seed}`);
  });

  it('the helper draws from the host\'s seeded state', () => {
    const program = 'call 7\nr6 = r0\ncall 7\nr0 ^= r6\nexit';
    assert.equal(run(program, { seed: 7 }), run(program, { seed: 7 }));
    assert.notEqual(run(program, { seed: 7 }), run(program, { seed: 8 }));
    const state = new PrandomState(1);
    assert.equal(run('call 7\nexit', { seed: 1 }), BigInt(state.next()));
  });
});

describe('CPU and task', () => {
  it('bpf_get_smp_processor_id is the registry\'s CPU', () => {
    const registry = new MapRegistry(new Memory(), { cpus: 4, cpu: 3 });
    assert.equal(vm('call 8\nexit', new VmHost(), registry).run().r0, 3n);
  });

  it('bpf_get_current_pid_tgid and _uid_gid pack the task\'s ids', () => {
    const task = { pid: 100, tgid: 200, uid: 1000, gid: 2000 };
    assert.equal(run('call 14\nexit', { task }), (200n << 32n) | 100n);
    assert.equal(run('call 15\nexit', { task }), (2000n << 32n) | 1000n);
  });

  it('bpf_get_current_comm copies at most 15 bytes, a NUL and zeros', () => {
    const comm = (name: string, size: number): number[] => {
      const host = new VmHost({ task: { comm: name } });
      const interp = vm(`r1 = r10\nr1 += -16\nr2 = ${size}\ncall 16\nexit`, host);
      const stack = interp.memory.bytes;
      interp.run();
      const top = interp.state.stackTop;
      return [...stack.subarray(top - 16, top - 16 + size)];
    };
    const bytes = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));
    assert.deepEqual(comm('bash', 8), [...bytes('bash'), 0, 0, 0, 0]);
    assert.deepEqual(comm('bash', 3), [...bytes('ba'), 0]);
    assert.deepEqual(comm('a-very-long-command-name', 16), [...bytes('a-very-long-com'), 0]);
  });
});

describe('probe reads', () => {
  const user = { address: 0x7f00_0000_1000n, bytes: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 0x68, 0x69, 0, 9) };
  const kernel = { address: 0xffff_8880_0000_0000n, bytes: Uint8Array.of(0x6b, 0x65, 0x72, 0x6e, 0) };
  const host = (): VmHost => new VmHost({ userMemory: [user], kernelMemory: [kernel] });

  /** Fills 16 stack bytes with 0xff, calls `helper(dst, size, address)`; r0 and the bytes. */
  function probe(helper: number, size: number, address: bigint | string): { r0: bigint; dst: number[] } {
    const interp = vm(`
      r1 = -1
      *(u64 *)(r10 - 16) = r1
      *(u64 *)(r10 - 8) = r1
      r1 = r10
      r1 += -16
      r2 = ${size}
      ${typeof address === 'string' ? address : `r3 = 0x${address.toString(16)} ll`}
      call ${helper}
      exit`, host());
    const r0 = interp.run().r0;
    const top = interp.state.stackTop;
    return { r0, dst: [...interp.memory.bytes.subarray(top - 16, top - 16 + size)] };
  }

  it('bpf_probe_read_user copies from user memory, or zeroes the destination and answers -EFAULT', () => {
    assert.deepEqual(probe(112, 4, user.address + 2n), { r0: 0n, dst: [3, 4, 5, 6] });
    assert.deepEqual(probe(112, 4, user.address + 10n), { r0: neg(-14), dst: [0, 0, 0, 0] }); // runs past the region
    assert.deepEqual(probe(112, 4, kernel.address), { r0: neg(-14), dst: [0, 0, 0, 0] });
    assert.deepEqual(probe(112, 0, 0n), { r0: 0n, dst: [] });
  });

  it('bpf_probe_read_kernel reads the VM\'s memory and the host\'s kernel regions', () => {
    assert.deepEqual(probe(113, 4, kernel.address), { r0: 0n, dst: [0x6b, 0x65, 0x72, 0x6e] });
    // The stack itself: the first 8 bytes were set to 0xff.
    assert.deepEqual(probe(113, 4, 'r3 = r10\nr3 += -16'), { r0: 0n, dst: [0xff, 0xff, 0xff, 0xff] });
    assert.deepEqual(probe(113, 4, user.address), { r0: neg(-14), dst: [0, 0, 0, 0] });
    assert.deepEqual(probe(113, 4, 0n), { r0: neg(-14), dst: [0, 0, 0, 0] });
  });

  it('the _str forms: length with the NUL, truncation, -EFAULT', () => {
    assert.deepEqual(probe(114, 8, user.address + 8n), { r0: 3n, dst: [0x68, 0x69, 0, 0xff, 0xff, 0xff, 0xff, 0xff] });
    assert.deepEqual(probe(114, 2, user.address + 8n), { r0: 2n, dst: [0x68, 0] });
    assert.deepEqual(probe(115, 8, kernel.address), { r0: 5n, dst: [0x6b, 0x65, 0x72, 0x6e, 0, 0xff, 0xff, 0xff] });
    // A string that runs off its region without a NUL faults.
    assert.deepEqual(probe(114, 8, user.address + 11n), { r0: neg(-14), dst: [0, 0, 0, 0, 0, 0, 0, 0] });
  });

  it('the legacy helpers pick user memory by address, kernel memory otherwise', () => {
    assert.deepEqual(probe(4, 2, user.address), { r0: 0n, dst: [1, 2] });
    assert.deepEqual(probe(4, 2, kernel.address), { r0: 0n, dst: [0x6b, 0x65] });
    assert.deepEqual(probe(45, 4, user.address + 8n), { r0: 3n, dst: [0x68, 0x69, 0, 0xff] });
  });
});

describe('trace output', () => {
  it('lines go to the pipe and its callback; the line is cut at 1023 bytes, the length is not', () => {
    const seen: string[] = [];
    const host = new VmHost({ onTrace: (line) => seen.push(line) });
    const interp = vm(`
      r1 = 0x000a64252069 ll
      *(u64 *)(r10 - 8) = r1
      r1 = r10
      r1 += -8
      r2 = 8
      r3 = -3
      call 6
      exit`, host); // "i %d\n"
    assert.equal(interp.run().r0, 5n);
    assert.deepEqual(seen, ['i -3']);
    assert.deepEqual(host.tracePipe.read(), ['i -3']);
    assert.deepEqual(host.tracePipe.read(), []);
    const wide = vm(`
      r1 = 0x64303030322500 ll
      *(u64 *)(r10 - 8) = r1
      r1 = r10
      r1 += -7
      r2 = 7
      r3 = 5
      call 6
      exit`, host); // "%2000d"
    assert.equal(wide.run().r0, 2000n);
    assert.equal(host.tracePipe.read()[0]!.length, 1023);
  });
});

describe('bpf_tail_call in the interpreter', () => {
  const tailCall = 'r2 = 0x%MAP% ll\nr3 = 0\ncall 12\nr0 = 99\nexit';

  it('needs a program array and a program that shares the execution state', () => {
    const registry = new MapRegistry(new Memory());
    const host = new VmHost();
    const helpers = coreHelpers(host, { registry });
    const array = registry.create({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
    const code = (map: number): Uint8Array => encodeProgram(assemble(tailCall.replace('%MAP%', map.toString(16))));
    const notProgArray = new Interpreter(code(array.address), { memory: registry.memory, helpers });
    assert.throws(() => notProgArray.run(), (e: unknown) => e instanceof VmError && /not a program array/.test(e.message));

    const progs = registry.create({ type: MapType.PROG_ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
    const state = new ExecutionState(registry.memory);
    const caller = new Interpreter(code(progs.address), { memory: registry.memory, helpers, state });
    const target = new Interpreter(encodeProgram(assemble('r0 = 7\nexit')), { memory: registry.memory, helpers, state });
    (progs as unknown as { set(i: number, p: unknown): void }).set(0, target);
    assert.equal(caller.run().r0, 7n);
    assert.equal(caller.run().instructions, 5); // lddw, mov, call; then the target's two

    const stranger = new Interpreter(encodeProgram(assemble('r0 = 8\nexit')), { memory: registry.memory, helpers });
    (progs as unknown as { set(i: number, p: unknown): void }).set(0, stranger);
    assert.throws(() => caller.run(), (e: unknown) => e instanceof VmError && /execution state/.test(e.message));
  });

  it('an execution state belongs to one memory', () => {
    assert.throws(() => new Interpreter(encodeProgram(assemble('exit')), { memory: new Memory(), state: new ExecutionState(new Memory()) }), RangeError);
  });
});
