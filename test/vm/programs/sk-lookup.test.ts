/**
 * sk_lookup test runs in the VM against the kernel's: every field of struct bpf_sk_lookup the
 * program reads (each read bit by bit, as a program may return only SK_DROP or SK_PASS), the
 * verdict, the ctx out, and the kernel's refusals of bad contexts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assemble } from '../../../src/isa/index.js';
import { AttachType, KernelError, ProgramType, testRun } from '../../../src/kernel/index.js';
import { Interpreter, Memory } from '../../../src/vm/index.js';
import { BPF_SK_LOOKUP_SIZE, skLookupContextModel } from '../../../src/vm/object/context-sk-lookup.js';
import { kernelSkip } from '../../support/kernel.js';
import { kernelProgram } from './both.js';

/** u32 fields (offset) of struct bpf_sk_lookup a program may read, and the u16 read of remote_port. */
const FIELDS: Array<[string, number, 'u32' | 'u16']> = [
  ['family', 8, 'u32'], ['protocol', 12, 'u32'], ['remote_ip4', 16, 'u32'], ['remote_ip6[0]', 20, 'u32'], ['remote_ip6[3]', 32, 'u32'],
  ['remote_port', 36, 'u32'], ['remote_port(u16)', 36, 'u16'], ['local_ip4', 40, 'u32'], ['local_ip6[0]', 44, 'u32'], ['local_ip6[3]', 56, 'u32'],
  ['local_port', 60, 'u32'], ['ingress_ifindex', 64, 'u32'],
];

function ctxOf(family: number, protocol: number, remotePort: number, localPort: number): Uint8Array {
  const c = new Uint8Array(BPF_SK_LOOKUP_SIZE);
  const v = new DataView(c.buffer);
  v.setUint32(8, family, true);
  v.setUint32(12, protocol, true);
  c.set([10, 0, 0, 1], 16);
  for (let i = 0; i < 16; i++) c[20 + i] = 0x20 + i;
  v.setUint16(36, remotePort, false);
  c.set([192, 168, 1, 2], 40);
  for (let i = 0; i < 16; i++) c[44 + i] = 0xf0 - i;
  v.setUint32(60, localPort, true);
  return c;
}

function vmRun(insns: ReturnType<typeof assemble>, ctx: Uint8Array): { retval: number; ctxOut: Uint8Array | undefined } {
  const memory = new Memory();
  const vm = new Interpreter(insns, { memory });
  const run = skLookupContextModel(memory, { ctx }, { name: 'lk', type: ProgramType.SK_LOOKUP, expectedAttachType: AttachType.SK_LOOKUP });
  try {
    const { r0 } = vm.run(run.ctx);
    return { retval: Number(r0 & 0xffffffffn), ctxOut: run.finish(r0).ctxOut };
  } finally {
    run.release();
  }
}

describe('sk_lookup test runs', () => {
  it('show the program the fields the kernel shows it, and give its verdict and ctx', { skip: kernelSkip() }, () => {
    const ctxs = [ctxOf(2, 6, 40000, 80), ctxOf(10, 17, 53, 5353)];
    let compared = 0;
    for (const [name, off, size] of FIELDS) {
      for (let bit = 0; bit < (size === 'u16' ? 16 : 32); bit++) {
        const insns = assemble(`r0 = *(${size} *)(r1 + ${off})\nr0 >>= ${bit}\nr0 &= 1\nexit`);
        const prog = kernelProgram(ProgramType.SK_LOOKUP, insns, { expectedAttachType: AttachType.SK_LOOKUP });
        try {
          for (const ctx of ctxs) {
            const k = testRun(prog, { ctx, ctxSizeOut: BPF_SK_LOOKUP_SIZE });
            const v = vmRun(insns, ctx);
            assert.equal(v.retval, k.retval, `${name} bit ${bit}, family ${ctx[8]}`);
            assert.deepEqual(v.ctxOut, k.ctxOut, `${name}: ctx out`);
            compared++;
          }
        } finally {
          prog.close();
        }
      }
    }
    assert.equal(compared, 2 * (11 * 32 + 16));
  });

  it('refuse the contexts the kernel refuses', { skip: kernelSkip() }, () => {
    const insns = assemble('r0 = 1\nexit');
    const prog = kernelProgram(ProgramType.SK_LOOKUP, insns, { expectedAttachType: AttachType.SK_LOOKUP });
    try {
      const bad = [ctxOf(3, 6, 1, 1), ctxOf(2, 6, 1, 70000), (() => { const c = ctxOf(2, 6, 1, 1); c[64] = 1; return c; })(), (() => { const c = ctxOf(2, 6, 1, 1); c[0] = 1; return c; })()];
      for (const ctx of bad) {
        let kernel = '';
        try { testRun(prog, { ctx, ctxSizeOut: BPF_SK_LOOKUP_SIZE }); } catch (err) { kernel = (err as KernelError).code; }
        assert.notEqual(kernel, '', 'the kernel refuses it');
        assert.throws(() => vmRun(insns, ctx), new RegExp(`kernel answers ${kernel}`));
      }
    } finally {
      prog.close();
    }
  });
});
