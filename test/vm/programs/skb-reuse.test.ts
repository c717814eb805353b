/**
 * The reused `__sk_buff` context of `ebpf run` (reusableSkbContextModels, context-batch.ts)
 * against a fresh context per packet (skbContextModel, itself checked against the kernel): the
 * same programs over the same packets, one after the other, must return the same and leave the
 * same packet — nothing a run changes (ctx fields, software hash, packet shape, vlan tag) may
 * leak into the next.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assemble } from '../../../src/isa/index.js';
import { ProgramType } from '../../../src/object/uapi-types.js';
import { Interpreter, Memory, SK_BUFF, legacyPacket } from '../../../src/vm/index.js';
import { skbHelpers } from '../../../src/vm/programs/skb-helpers.js';
import { reusableSkbContextModels } from '../../../src/vm/object/context-batch.js';
import { skbContextModel } from '../../../src/vm/object/context-packet.js';
import type { ContextModel } from '../../../src/vm/object/context.js';
import { exampleTraffic } from '../../../bench/pcap.js';
import { PACKETS } from './packets.js';

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

const PROGRAMS: Array<[string, number, string]> = [
  // cb[0] and mark accumulate if the struct is not reset; the result mixes both with the length.
  ['ctx fields', ProgramType.SCHED_CLS, `r2 = *(u32 *)(r1 + ${SK_BUFF.cb})
r2 += 1
*(u32 *)(r1 + ${SK_BUFF.cb}) = r2
r3 = *(u32 *)(r1 + ${SK_BUFF.mark})
r4 = *(u32 *)(r1 + ${SK_BUFF.len})
r3 += r4
*(u32 *)(r1 + ${SK_BUFF.mark}) = r3
r0 = r3
r0 <<= 8
r0 |= r2
exit`],
  // A software hash set on odd-length packets only: the others must recompute theirs.
  ['software hash', ProgramType.SCHED_CLS, `r6 = r1
r2 = *(u32 *)(r6 + ${SK_BUFF.len})
r2 &= 1
if r2 == 0 goto recalc
r1 = r6
r2 = 0x77
call 48
recalc:
r1 = r6
call 34
exit`],
  // A second vlan push moves the first tag into the packet; the packet grows and changes shape.
  ['vlan push and change_head', ProgramType.SCHED_CLS, `r6 = r1
r1 = r6
r2 = 0x81
r3 = 9
call 18
r1 = r6
r2 = 0x81
r3 = 10
call 18
r1 = r6
r2 = 20
r3 = 0
call 43
r0 = *(u32 *)(r6 + ${SK_BUFF.len})
r1 = *(u32 *)(r6 + ${SK_BUFF.vlan_present})
r0 <<= 1
r0 |= r1
exit`],
  ['socket filter with ld_abs', ProgramType.SOCKET_FILTER, `r6 = r1
r0 = *(u8 *)skb[9]
r1 = *(u32 *)(r6 + ${SK_BUFF.len})
r0 <<= 16
r0 |= r1
exit`],
];

describe('reused sk_buff context (ebpf run)', () => {
  it('gives what a fresh context per packet gives', () => {
    const frames = [...PACKETS.map((p) => p.frame).filter((f) => f.length >= 20 && f.length <= 3000), ...exampleTraffic(300, 3)];
    let runs = 0;
    for (const [name, type, source] of PROGRAMS) {
      const insns = assemble(source);
      const sides = [skbContextModel, reusableSkbContextModels().get(type)!].map((model: ContextModel) => {
        const memory = new Memory();
        return { model, memory, vm: new Interpreter(insns, { memory, packet: legacyPacket(memory), helpers: skbHelpers }) };
      });
      const target = { name, type, expectedAttachType: 0 };
      for (const [i, data] of frames.entries()) {
        const [fresh, reused] = sides.map(({ model, memory, vm }) => {
          const run = model(memory, { data }, target);
          try {
            const r0 = vm.run(run.ctx).r0;
            return { r0, out: hex(run.finish(r0).dataOut) };
          } finally {
            run.release();
          }
        });
        assert.deepEqual(reused, fresh, `${name}, packet ${i}`);
        runs++;
      }
    }
    assert.ok(runs > 1000);
  });
});
