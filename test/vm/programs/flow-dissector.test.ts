/**
 * Flow dissector test runs in the VM against the kernel's: the bpf_flow_keys the program fills
 * (data out), set up with the frame's protocol and ETH_HLEN, header offsets clamped to the packet.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assemble } from '../../../src/isa/index.js';
import { ProgramType, testRun } from '../../../src/kernel/index.js';
import { Interpreter, Memory } from '../../../src/vm/index.js';
import { BPF_FLOW_KEYS_SIZE, flowDissectorContextModel } from '../../../src/vm/object/context-flow.js';
import { kernelSkip } from '../../support/kernel.js';
import { kernelProgram } from './both.js';

/**
 * Reads the byte at data + 23 (the IPv4 protocol of an Ethernet/IPv4 frame) into ip_proto after
 * checking it is in the packet, copies n_proto to addr_proto, and moves nhoff/thoff by what the
 * frame's byte 14 says (IHL * 4) — past the packet for short frames, which the clamp catches.
 */
const PROGRAM = `
  r6 = *(u64 *)(r1 + 144)
  r2 = *(u32 *)(r1 + 76)
  r3 = *(u32 *)(r1 + 80)
  r4 = r2
  r4 += 24
  if r4 > r3 goto +12
  r5 = *(u8 *)(r2 + 23)
  *(u8 *)(r6 + 9) = r5
  r5 = *(u16 *)(r6 + 10)
  *(u16 *)(r6 + 4) = r5
  r5 = *(u8 *)(r2 + 14)
  r5 &= 15
  r5 <<= 2
  r7 = *(u16 *)(r6 + 0)
  r7 += r5
  *(u16 *)(r6 + 2) = r7
  r0 = 0
  exit
  r0 = 1
  exit
`;

function frame(length: number, ihl: number, proto: number, ethType = 0x0800): Uint8Array {
  const f = new Uint8Array(length);
  f[12] = ethType >> 8; f[13] = ethType & 0xff;
  if (length > 14) f[14] = 0x40 | ihl;
  if (length > 23) f[23] = proto;
  return f;
}

function vmRun(insns: ReturnType<typeof assemble>, data: Uint8Array, ctx?: Uint8Array): { retval: number; dataOut: Uint8Array } {
  const memory = new Memory();
  const vm = new Interpreter(insns, { memory });
  const run = flowDissectorContextModel(memory, { data, ...(ctx ? { ctx } : {}) }, { name: 'fd', type: ProgramType.FLOW_DISSECTOR, expectedAttachType: 0 });
  try {
    const { r0 } = vm.run(run.ctx);
    return { retval: Number(r0 & 0xffffffffn), dataOut: run.finish(r0).dataOut };
  } finally {
    run.release();
  }
}

describe('flow dissector test runs', () => {
  it('fill the flow keys as the kernel\'s do', { skip: kernelSkip() }, () => {
    const insns = assemble(PROGRAM);
    using prog = { p: kernelProgram(ProgramType.FLOW_DISSECTOR, insns), [Symbol.dispose]() { this.p.close(); } };
    const frames = [frame(64, 5, 6), frame(64, 15, 17), frame(40, 15, 1), frame(24, 5, 6), frame(20, 5, 0), frame(14, 5, 0), frame(60, 5, 6, 0x86dd)];
    const flagSets = [undefined, 1, 4];
    let compared = 0;
    for (const f of frames) {
      for (const flags of flagSets) {
        const ctx = flags === undefined ? undefined : new Uint8Array(BPF_FLOW_KEYS_SIZE);
        if (ctx && flags !== undefined) new DataView(ctx.buffer).setUint32(48, flags, true);
        const k = testRun(prog.p, { data: f, dataSizeOut: BPF_FLOW_KEYS_SIZE, ...(ctx ? { ctx } : {}) });
        const v = vmRun(insns, f, ctx);
        assert.equal(v.retval, k.retval, `retval, frame of ${f.length}`);
        assert.deepEqual(v.dataOut, k.dataOut, `flow keys, frame of ${f.length} bytes, flags ${flags}`);
        compared++;
      }
    }
    assert.equal(compared, 21);
  });

  it('refuse a frame shorter than an Ethernet header and ctx fields other than flags', () => {
    const insns = assemble('r0 = 0\nexit');
    assert.throws(() => vmRun(insns, new Uint8Array(10)), /at least 14 bytes/);
    const ctx = new Uint8Array(BPF_FLOW_KEYS_SIZE);
    ctx[0] = 1;
    assert.throws(() => vmRun(insns, new Uint8Array(20), ctx), /only flags/);
  });
});
