/**
 * STACK_TRACE maps and the stack helpers against the kernel. A raw tracepoint program run with
 * BPF_PROG_TEST_RUN calls bpf_get_stackid / bpf_get_stack from one call site, so the kernel
 * walks the same stack every run; the test reads that stack back from the kernel's map and
 * gives it to the VM's host (`VmHostOptions.stack.kernel`). Then both sides run the same
 * program over a sequence of flags (skips, BPF_F_FAST_STACK_CMP, BPF_F_REUSE_STACKID, bad
 * bits) — ids (the jhash2 bucket), -EEXIST, -ENOMEM, -EFAULT, -EINVAL compared — and the maps'
 * contents, host lookups, deletes and get_next_key after it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ProgramType } from '../../../src/kernel/index.js';
import { MapType, type Interpreter, type VmMap } from '../../../src/vm/index.js';
import { kernelSkip } from '../../support/kernel.js';
import { hex, type KernelMap } from './kernel-maps.js';
import { ProgramSides, u32s } from './program-sides.js';

const skip = kernelSkip();
const SKIP = (n: number): bigint => BigInt(n);
const FAST = 1n << 9n, REUSE = 1n << 10n;

function ctx8(...words: bigint[]): Uint8Array {
  const out = new Uint8Array(words.length * 8);
  const v = new DataView(out.buffer);
  words.forEach((w, i) => v.setBigUint64(i * 8, w, true));
  return out;
}

/** The ips of a stack trace value (the non-zero prefix). */
function ipsOf(value: Uint8Array): bigint[] {
  const v = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const out: bigint[] = [];
  for (let at = 0; at + 8 <= value.length; at += 8) {
    const ip = v.getBigUint64(at, true);
    if (ip === 0n) break;
    out.push(ip);
  }
  return out;
}

function runVm(sides: ProgramSides, vm: Interpreter, ctx: Uint8Array): number {
  const memory = sides.registry.memory;
  const region = memory.alloc(ctx.length, { kind: 'context', name: 'raw_tp args', init: ctx });
  try {
    return Number(BigInt.asIntN(32, vm.run(region.start).r0 & 0xffffffffn));
  } finally {
    memory.release(region);
  }
}

/** Keys (in get_next_key order) and values of both sides' maps, compared; returns how many. */
function compareMaps(vm: VmMap, kernel: KernelMap, what: string): number {
  const keys = kernel.keys();
  assert.deepEqual([...vm.keys()].map(hex), keys.map(hex), `${what}: ids in get_next_key order`);
  for (const key of keys) {
    const want = kernel.lookup(key);
    assert.equal(want.errno, 0);
    assert.equal(hex(vm.lookup(key) as Uint8Array), hex(want.bytes), `${what}: trace ${hex(key)}`);
  }
  return keys.length;
}

const STACKID = `
  r6 = r1
  r3 = *(u64 *)(r6 + 0)
  r2 = map(st)
  r1 = r6
  call 27
  exit`;

describe('stack trace maps against the kernel', { skip }, () => {
  it('bpf_get_stackid: ids, collisions, reuse, depth and errors as the kernel', (t) => {
    using sides = new ProgramSides();
    // max_entries 3 → 4 buckets: a fourth trace finds no free element (ENOMEM).
    const st = sides.map('st', { type: MapType.STACK_TRACE, keySize: 4, valueSize: 127 * 8, maxEntries: 3 });
    const kernelProg = sides.kernelProgram(STACKID, ProgramType.RAW_TRACEPOINT);
    // The kernel's stack at the call: the first run stores it whole.
    const first = sides.kernelRun(kernelProg, { ctx: ctx8(0n), ctxSizeOut: 0 });
    assert.ok(first >= 0, `first get_stackid: ${first}`);
    const ips = ipsOf(st.kernel.lookup(u32s(first)).bytes!);
    assert.ok(ips.length >= 4, `a kernel stack of ${ips.length} frames`);
    assert.equal(sides.kernelRun(kernelProg, { ctx: ctx8(0n), ctxSizeOut: 0 }), first, 'the same stack on every run');
    assert.equal(st.kernel.delete(u32s(first)), 0);
    sides.host.stack = { kernel: ips };
    const vmProg = sides.vmProgram(STACKID);

    const sequence = [
      0n, 0n, SKIP(1), SKIP(1), SKIP(2), SKIP(3), SKIP(4), SKIP(5), SKIP(6) | REUSE, SKIP(1) | FAST, SKIP(7) | FAST, SKIP(2) | REUSE,
      SKIP(8) | REUSE, SKIP(9) | REUSE | FAST, SKIP(3), 0n, SKIP(ips.length - 1), SKIP(ips.length), SKIP(200), 1n << 11n, 1n << 12n,
      1n << 32n, SKIP(10) | REUSE, SKIP(11) | REUSE,
    ];
    let compared = 0;
    const answers: Record<string, number> = {};
    for (const flags of sequence) {
      const want = sides.kernelRun(kernelProg, { ctx: ctx8(flags), ctxSizeOut: 0 }) | 0;
      const got = runVm(sides, vmProg, ctx8(flags));
      assert.equal(got, want, `get_stackid flags 0x${flags.toString(16)}`);
      const name = want >= 0 ? 'id' : `-${-want}`;
      answers[name] = (answers[name] ?? 0) + 1;
      compared++;
      compareMaps(st.vm, st.kernel, `after flags 0x${flags.toString(16)}`);
    }
    // Host commands on what the program stored.
    for (const id of [0, 1, 2, 3, 4, 0xffffffff]) {
      assert.equal(st.vm.lookup(u32s(id)) === undefined ? 2 : 0, st.kernel.lookup(u32s(id)).errno, `lookup ${id}`);
      const next = st.kernel.nextKey(u32s(id));
      assert.equal(hex(st.vm.nextKey(u32s(id))), next.errno === 0 ? hex(next.bytes) : '-', `next key after ${id}`);
    }
    assert.equal(st.kernel.update(u32s(0), new Uint8Array(127 * 8)), 22);
    assert.throws(() => st.vm.update(u32s(0), new Uint8Array(127 * 8)), { errno: 22 });
    for (const id of [3, 2, 5, 0xffffffff]) {
      let vmErrno = 0;
      try { if (!st.vm.delete(u32s(id))) vmErrno = 2; } catch (e) { vmErrno = (e as { errno: number }).errno; }
      assert.equal(vmErrno, st.kernel.delete(u32s(id)), `delete ${id}`);
    }
    const finals = compareMaps(st.vm, st.kernel, 'final');
    for (const key of [...st.kernel.keys(), u32s(9)]) {
      const want = st.kernel.lookupAndDelete(key);
      let got: { errno: number; bytes?: Uint8Array };
      try {
        const v = st.vm.lookupAndDelete(key);
        got = v === undefined ? { errno: 2 } : { errno: 0, bytes: v as Uint8Array };
      } catch (e) { got = { errno: (e as { errno: number }).errno }; }
      assert.equal(got.errno, want.errno, `lookup and delete ${hex(key)}`);
      assert.equal(hex(got.bytes), hex(want.bytes), `lookup and delete ${hex(key)}: value`);
    }
    compareMaps(st.vm, st.kernel, 'after lookup and delete');
    t.diagnostic(`${compared} bpf_get_stackid calls compared (${Object.entries(answers).map(([k, v]) => `${k}×${v}`).join(' ')}), ${finals} traces at the end, stack of ${ips.length} frames`);
  });

  it('BPF_F_STACK_BUILD_ID maps: kernel frames as the IP fallback entries, hashed by their ips', (t) => {
    using sides = new ProgramSides();
    const st = sides.map('st', { type: MapType.STACK_TRACE, keySize: 4, valueSize: 127 * 32, maxEntries: 2, flags: 1 << 5 });
    const kernelProg = sides.kernelProgram(STACKID, ProgramType.RAW_TRACEPOINT);
    const first = sides.kernelRun(kernelProg, { ctx: ctx8(0n), ctxSizeOut: 0 });
    assert.ok(first >= 0, `first get_stackid: ${first}`);
    const value = st.kernel.lookup(u32s(first)).bytes!;
    const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
    const ips: bigint[] = [];
    for (let at = 0; at < value.length && view.getInt32(at, true) !== 0; at += 32) ips.push(view.getBigUint64(at + 24, true));
    assert.ok(ips.length >= 3, `${ips.length} frames`);
    assert.equal(st.kernel.delete(u32s(first)), 0);
    sides.host.stack = { kernel: ips };
    const vmProg = sides.vmProgram(STACKID);
    const sequence = [0n, SKIP(1), SKIP(2), SKIP(1), SKIP(3) | REUSE, SKIP(2) | FAST, 0n];
    for (const flags of sequence) {
      const want = sides.kernelRun(kernelProg, { ctx: ctx8(flags), ctxSizeOut: 0 }) | 0;
      assert.equal(runVm(sides, vmProg, ctx8(flags)), want, `get_stackid flags 0x${flags.toString(16)}`);
      compareMaps(st.vm, st.kernel, `after flags 0x${flags.toString(16)}`);
    }
    t.diagnostic(`${sequence.length} bpf_get_stackid calls compared on a build-id map, stack of ${ips.length} frames`);
  });

  it('bpf_get_stack: bytes and lengths as the kernel, into the program\'s buffer', (t) => {
    using sides = new ProgramSides();
    const buf = sides.map('buf', { type: MapType.ARRAY, keySize: 4, valueSize: 128, maxEntries: 1 });
    const zero = Array.from({ length: 16 }, (_, i) => `  *(u64 *)(r10 - ${8 * (i + 1)}) = 0`).join('\n');
    const text = `
      r6 = r1
${zero}
      r4 = *(u64 *)(r6 + 0)
      r3 = *(u64 *)(r6 + 8)
      r3 &= 127
      r1 = r6
      r2 = r10
      r2 += -128
      call 67
      r7 = r0
      *(u32 *)(r10 - 132) = 0
      r1 = map(buf)
      r2 = r10
      r2 += -132
      r3 = r10
      r3 += -128
      r4 = 0
      call 2
      r0 = r7
      exit`;
    const kernelProg = sides.kernelProgram(text, ProgramType.RAW_TRACEPOINT);
    // The stack, 15 frames at a time, skipping ever more: enough of it for the cases below.
    const ips: bigint[] = [];
    for (let s = 0; s < 40; s += 15) {
      const n = sides.kernelRun(kernelProg, { ctx: ctx8(BigInt(s), 120n), ctxSizeOut: 0 });
      assert.ok(n >= 0, `get_stack: ${n}`);
      const got = ipsOf(buf.kernel.lookup(u32s(0)).bytes!.subarray(0, n));
      ips.push(...got);
      if (got.length < 15) break;
    }
    sides.host.stack = { kernel: ips };
    const vmProg = sides.vmProgram(text);
    const cases: Array<[bigint, bigint]> = [
      [0n, 120n], [0n, 8n], [0n, 0n], [3n, 64n], [1n, 16n], [0n, 12n], [0n, 100n], [BigInt(ips.length), 8n], [BigInt(ips.length + 1), 8n],
      [1n << 8n | 1n << 11n, 33n], [1n << 11n, 32n], [1n << 9n, 8n], [1n << 40n, 8n], [5n, 120n],
    ];
    for (const [flags, size] of cases) {
      const want = sides.kernelRun(kernelProg, { ctx: ctx8(flags, size), ctxSizeOut: 0 }) | 0;
      const got = runVm(sides, vmProg, ctx8(flags, size));
      const label = `get_stack flags 0x${flags.toString(16)} size ${size}`;
      assert.equal(got, want, label);
      assert.equal(hex(buf.vm.lookup(u32s(0)) as Uint8Array), hex(buf.kernel.lookup(u32s(0)).bytes), `${label}: buffer`);
    }
    t.diagnostic(`${cases.length} bpf_get_stack calls compared, stack of ${ips.length} frames`);
  });
});
