/**
 * Random programs, the kernel as the oracle: a deterministic generator (seeded) writes
 * valid-looking socket filter and XDP programs mixing ALU, forward branches, stack stores and
 * loads, map lookups on a real hash map (with and without the NULL check) and context / packet
 * accesses (with and without the bounds check). Each program is loaded into the kernel and
 * verified by us. A false accept (the kernel rejects, we accept) fails; agreement is printed.
 * The socket filters are also loaded by an unprivileged child (test/support/unpriv.ts) and
 * verified by us with `privileged: false`: no false accepts there either.
 * EBPF_FUZZ_SEED and EBPF_FUZZ_COUNT override the seed and the count.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeSlots, type RawInstruction } from '../../src/isa/index.js';
import { KernelError, createMap, loadProgram } from '../../src/kernel/index.js';
import { verify, type MapInfo } from '../../src/verifier/index.js';
import { kernelSkip } from '../support/kernel.js';
import { unprivSkip, unprivilegedVerdicts } from '../support/unpriv.js';
import { FIXUP_MAPS } from '../../src/verifier/index.js';

/** mulberry32: a small deterministic PRNG. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SOCKET_FILTER = 1;
const XDP = 6;
const VALUE_SIZE = 16;

const raw = (code: number, dst = 0, src = 0, off = 0, imm = 0): RawInstruction => ({ code, dst, src, off, imm });
// Opcodes (RFC 9669): class | op | source.
const ALU64_K = 0x07, ALU64_X = 0x0f, ALU_K = 0x04, ALU_X = 0x0c;
const ALU_OPS = [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0];
const JMP_OPS = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0];
const SIZES = [0x00, 0x08, 0x10, 0x18]; // W, H, B, DW
const BYTES = new Map([[0x00, 4], [0x08, 2], [0x10, 1], [0x18, 8]]);
const STX = 0x63, ST = 0x62, LDX = 0x61, JMP_K = 0x05, JMP_X = 0x0d, JMP32_K = 0x06, CALL = 0x85, EXIT = 0x95;

/** One random program for `progType`, using `mapFd` for lookups. */
function generate(next: () => number, progType: number, mapFd: number): RawInstruction[] {
  const int = (n: number): number => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const chance = (p: number): boolean => next() < p;
  const regs = [0, 1, 2, 3, 4, 5, 7, 8, 9];
  const out: RawInstruction[] = [raw(0xbf, 6, 1)]; // r6 = ctx
  // Start with some registers holding constants, and sometimes leave some uninitialised.
  for (const r of [0, 7, 8, 9]) if (chance(0.97)) out.push(raw(0xb7, r, 0, 0, int(64) - 8));
  const imm = (): number => (chance(0.7) ? int(32) - 4 : int(0x7fffffff) * (chance(0.5) ? 1 : -1));
  const body = 6 + int(22);
  while (out.length < body) {
    const room = body - out.length;
    switch (int(9)) {
      case 0: case 1: { // ALU
        const op = pick(ALU_OPS);
        const dst = chance(0.95) ? pick([0, 7, 8, 9]) : pick([2, 3]);
        if (chance(0.5)) out.push(raw((chance(0.7) ? ALU64_K : ALU_K) | op, dst, 0, 0, op === 0x60 || op === 0x70 || op === 0xc0 ? int(70) : imm()));
        else out.push(raw((chance(0.7) ? ALU64_X : ALU_X) | op, dst, chance(0.95) ? pick([0, 7, 8, 9]) : pick(regs)));
        break;
      }
      case 2: { // forward branch
        const k = int(Math.min(room, 6));
        if (chance(0.6)) out.push(raw((chance(0.8) ? JMP_K : JMP32_K) | pick(JMP_OPS), pick([0, 7, 8, 9]), 0, k, imm()));
        else out.push(raw(JMP_X | pick(JMP_OPS), pick([0, 7, 8, 9]), pick([0, 7, 8, 9]), k));
        break;
      }
      case 3: { // stack store
        const size = pick(SIZES);
        const off = -(1 + int(chance(0.9) ? 64 : 520));
        const aligned = chance(0.8) ? off - (((off % BYTES.get(size)!) + BYTES.get(size)!) % BYTES.get(size)!) : off;
        if (chance(0.5)) out.push(raw(STX | size, 10, chance(0.95) ? pick([0, 6, 7, 8, 9]) : pick(regs), aligned));
        else out.push(raw(ST | size, 10, 0, aligned, imm()));
        break;
      }
      case 4: { // stack load
        const size = pick(SIZES);
        const n = BYTES.get(size)!;
        const off = chance(0.8) ? -n * (1 + int(8)) : -(1 + int(64));
        out.push(raw(LDX | size, pick([7, 8, 9, 0]), 10, off));
        break;
      }
      case 5: case 6: { // map lookup
        out.push(raw(0x7a, 10, 0, -8, int(4))); // *(u64 *)(r10 - 8) = k
        out.push(raw(0x18, 1, 1, 0, mapFd), raw(0, 0, 0, 0, 0)); // r1 = map
        out.push(raw(0xbf, 2, 10), raw(ALU64_K, 2, 0, 0, chance(0.95) ? -8 : -4));
        out.push(raw(CALL, 0, 0, 0, 1));
        const checked = chance(0.85);
        const load = raw(LDX | pick(SIZES), pick([7, 8, 9]), 0, chance(0.85) ? int(VALUE_SIZE / 4) * 4 : int(VALUE_SIZE + 8) - 4);
        const store = raw(ST | 0x00, 0, 0, chance(0.9) ? 4 * int(4) : VALUE_SIZE - 2, imm());
        if (checked) out.push(raw(JMP_K | 0x10, 0, 0, chance(0.9) ? 2 : 1, 0)); // if r0 == 0 goto +2
        out.push(load, store);
        break;
      }
      case 7: case 8: { // context / packet
        if (progType === XDP) {
          const reach = 1 + int(40);
          out.push(raw(LDX | 0x00, 2, 6, 0), raw(LDX | 0x00, 3, 6, chance(0.95) ? 4 : 8));
          out.push(raw(0xbf, 4, 2), raw(ALU64_K, 4, 0, 0, reach));
          if (chance(0.85)) out.push(raw(JMP_X | 0x20, 4, 3, 1)); // if r4 > r3 goto +1
          const size = pick([0x10, 0x08, 0x00]);
          const at = chance(0.85) ? int(Math.max(1, reach - BYTES.get(size)! + 1)) : int(reach + 4);
          out.push(raw(LDX | size, pick([7, 8, 9]), 2, at));
        } else {
          const size = pick([0x00, 0x00, 0x08, 0x10, 0x18]);
          const off = chance(0.8) ? pick([0, 4, 8, 16, 20, 24, 32, 36, 40, 44, 48, 52, 56, 60, 64, 68, 88, 92, 96, 100, 164]) : int(200);
          if (chance(0.85)) out.push(raw(LDX | size, pick([7, 8, 9, 0]), 6, off));
          else out.push(raw(STX | size, 6, pick([7, 8]), 48 + 4 * int(6))); // cb[] or past it
        }
        break;
      }
    }
  }
  if (chance(0.9)) out.push(raw(0xb7, 0, 0, 0, progType === XDP ? int(4) : int(2)));
  out.push(raw(EXIT));
  return out;
}

describe('verifier fuzz against the kernel', () => {
  it('random programs: zero false accepts', { skip: kernelSkip() }, (t) => {
    const seed = Number(process.env.EBPF_FUZZ_SEED ?? 20261122);
    const count = Number(process.env.EBPF_FUZZ_COUNT ?? 10_000);
    const next = rng(seed);
    using map = createMap({ type: 1 /* HASH */, keySize: 8, valueSize: VALUE_SIZE, maxEntries: 16 });
    const info: MapInfo = { type: 1, keySize: 8, valueSize: VALUE_SIZE, maxEntries: 16, flags: 0, id: map.fd };
    const mapOf = (fd: number): MapInfo | undefined => (fd === map.fd ? info : undefined);
    let agree = 0;
    let kernelAccepts = 0;
    let falseRejects = 0;
    const falseAccepts: string[] = [];
    const rejectReasons = new Map<string, number>();
    const kernelReasons = new Map<string, number>();
    const rejectExamples = new Map<string, string>();
    for (let i = 0; i < count; i++) {
      const progType = i % 2 === 0 ? SOCKET_FILTER : XDP;
      const insns = generate(next, progType, map.fd);
      let kernel = true;
      try {
        loadProgram({ type: progType, instructions: encodeSlots(insns), license: 'GPL' }).close();
      } catch (err) {
        if (!(err instanceof KernelError)) throw err;
        kernel = false;
        const why = err.message.slice(err.message.lastIndexOf(': ') + 2).replace(/-?\d+/g, 'N');
        kernelReasons.set(why, (kernelReasons.get(why) ?? 0) + 1);
      }
      const ours = verify(insns, { progType, maps: mapOf });
      if (kernel) kernelAccepts++;
      if (kernel === (ours.verdict === 'accept')) agree++;
      else if (kernel) {
        falseRejects++;
        const why = ours.error!.message.replace(/-?\d+/g, 'N');
        rejectReasons.set(why, (rejectReasons.get(why) ?? 0) + 1);
        if (!rejectExamples.has(why)) rejectExamples.set(why, `program ${i}: ${ours.error!.message}`);
      } else {
        falseAccepts.push(`program ${i} (type ${progType}): ${JSON.stringify(insns.map((x) => [x.code, x.dst, x.src, x.off, x.imm]))}`);
      }
    }
    t.diagnostic(`seed ${seed}: ${count} programs, kernel accepted ${kernelAccepts}; agreement ${(100 * agree / count).toFixed(2)}% `
      + `(${agree}/${count}); false accepts ${falseAccepts.length}; false rejects ${falseRejects}`);
    for (const [why, n] of [...kernelReasons].sort((a, b) => b[1] - a[1]).slice(0, 6)) t.diagnostic(`kernel rejects x${n}: ${why}`);
    for (const [why, n] of [...rejectReasons].sort((a, b) => b[1] - a[1]).slice(0, 8)) t.diagnostic(`false reject x${n}: ${why} (first: ${rejectExamples.get(why)})`);
    assert.deepEqual(falseAccepts.slice(0, 5), []);
  });

  it('random socket filters, unprivileged: zero false accepts', { skip: unprivSkip() }, (t) => {
    const seed = Number(process.env.EBPF_FUZZ_SEED ?? 20261122) + 1;
    const count = Number(process.env.EBPF_FUZZ_COUNT ?? 10_000) / 2;
    const next = rng(seed);
    // The child makes its own map from test_verifier's fixup of the same shape (8-byte key, 16-byte value).
    const fixup = 'map_hash_16b';
    const spec = FIXUP_MAPS.get(fixup)!;
    assert.equal(spec.keySize, 8);
    assert.equal(spec.valueSize, VALUE_SIZE);
    const FD = 1000;
    const mapOf = (fd: number): MapInfo | undefined => (fd === FD ? { ...spec, id: FD } : undefined);
    const programs = Array.from({ length: count }, () => generate(next, SOCKET_FILTER, FD));
    const verdicts = unprivilegedVerdicts(programs.map((insns) => ({
      insns, progType: SOCKET_FILTER, fixups: { [fixup]: insns.flatMap((x, i) => (x.code === 0x18 && x.src === 1 ? [i] : [])) },
    })));
    let agree = 0;
    let kernelAccepts = 0;
    const falseAccepts: string[] = [];
    const rejectReasons = new Map<string, number>();
    programs.forEach((insns, i) => {
      const k = verdicts[i]!;
      assert.notEqual(k.verdict, 'skipped', `program ${i}: ${'reason' in k ? k.reason : ''}`);
      const ours = verify(insns, { progType: SOCKET_FILTER, maps: mapOf, privileged: false });
      if (k.verdict === 'accept') kernelAccepts++;
      if (k.verdict === ours.verdict) agree++;
      else if (k.verdict === 'accept') {
        const why = ours.error!.message.replace(/-?\d+/g, 'N');
        rejectReasons.set(why, (rejectReasons.get(why) ?? 0) + 1);
      } else {
        falseAccepts.push(`program ${i}: kernel says ${'message' in k ? k.message : ''}: ${JSON.stringify(insns.map((x) => [x.code, x.dst, x.src, x.off, x.imm]))}`);
      }
    });
    t.diagnostic(`seed ${seed}: ${count} programs, kernel accepted ${kernelAccepts}; agreement ${(100 * agree / count).toFixed(2)}% `
      + `(${agree}/${count}); false accepts ${falseAccepts.length}; false rejects ${count - agree - falseAccepts.length}`);
    for (const [why, n] of [...rejectReasons].sort((a, b) => b[1] - a[1]).slice(0, 8)) t.diagnostic(`false reject x${n}: ${why}`);
    assert.deepEqual(falseAccepts.slice(0, 5), []);
  });
});
