/**
 * The sk_buff helpers (src/vm/programs/skb-helpers.ts) against the kernel's BPF_PROG_TEST_RUN:
 * hand-assembled sched_cls and socket filter programs calling each helper with good and bad
 * arguments, run over every test packet; return value, data out and ctx out must agree.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assemble, type Instruction } from '../../../src/isa/index.js';
import { ProgramType } from '../../../src/kernel/index.js';
import { Memory, SK_BUFF, runSkb, Interpreter, legacyPacket } from '../../../src/vm/index.js';
import { skbHelpers, takeSkbRedirect, csumPartial } from '../../../src/vm/programs/skb-helpers.js';
import { kernelSkip } from '../../support/kernel.js';
import { isRefused, kernelProgram, kernelSkb, vmProgram, vmSkb } from './both.js';
import { PACKETS } from './packets.js';

const CB0 = SK_BUFF.cb, CB1 = SK_BUFF.cb + 4, CB2 = SK_BUFF.cb + 8;
const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** r1 = ctx kept in r6. Sets a 64-bit register from a constant. */
const ld = (reg: string, v: number | bigint): string => `${reg} = ${BigInt.asIntN(64, BigInt(v))} ll`;

function loadBytes(offset: number, len: number): string {
  return `r6 = r1
${ld('r2', offset)}
r3 = r10
r3 += -64
r4 = ${len}
call 26
r7 = *(u32 *)(r10 - 64)
*(u32 *)(r6 + ${CB0}) = r7
r7 = *(u32 *)(r10 - ${64 - Math.max(0, len - 4)})
*(u32 *)(r6 + ${CB1}) = r7
exit`;
}

function storeBytes(offset: number, len: number, flags: number): string {
  return `r6 = r1
${ld('r2', 0x1122334455667788n)}
*(u64 *)(r10 - 16) = r2
*(u64 *)(r10 - 8) = r2
r2 = 0x5a5a5a5a
call 48
r1 = r6
${ld('r2', offset)}
r3 = r10
r3 += -16
r4 = ${len}
${ld('r5', flags)}
call 9
r7 = *(u32 *)(r6 + ${SK_BUFF.hash})
*(u32 *)(r6 + ${CB2}) = r7
exit`;
}

/** bpf_csum_diff over 32 bytes of the packet from offset 14 (zeros when the packet is shorter). */
function csumDiff(fromSize: number, toSize: number, seed: number): string {
  return `r6 = r1
r2 = 14
r3 = r10
r3 += -32
r4 = 32
call 26
r1 = r10
r1 += -32
r2 = ${fromSize}
r3 = r10
r3 += -16
r4 = ${toSize}
${ld('r5', seed)}
call 28
exit`;
}

function csumReplace(id: 10 | 11, offset: number | bigint, from: number | bigint, to: number | bigint, flags: number | bigint, preset?: number): string {
  const set = preset === undefined ? '' : `r6 = r1
r2 = ${preset}
*(u16 *)(r10 - 8) = r2
r2 = ${offset}
r3 = r10
r3 += -8
r4 = 2
r5 = 0
call 9
r1 = r6
`;
  return `${set}${ld('r2', offset)}
${ld('r3', from)}
${ld('r4', to)}
${ld('r5', flags)}
call ${id}
exit`;
}

type Case = readonly [name: string, type: number, source: string];

function cases(): Case[] {
  const out: Case[] = [];
  const TC = ProgramType.SCHED_CLS, SF = ProgramType.SOCKET_FILTER;
  for (const [off, len] of [[0, 8], [12, 4], [14, 20], [26, 4], [34, 8], [60, 4], [100, 16], [1400, 8], [3990, 8], [4000, 8], [0xffff, 4], [0x10000, 4], [0x7fffffff, 4], [0x80000000, 4], [0xffffffff, 4], [0, 64]] as const) {
    out.push([`skb_load_bytes(${off}, ${len}) tc`, TC, loadBytes(off, len)], [`skb_load_bytes(${off}, ${len}) socket`, SF, loadBytes(off, len)]);
  }
  for (const [off, len] of [[0, 8], [6, 16], [30, 4], [50, 1], [1490, 16], [4000, 8], [0xffff, 4], [0x7fffffff, 4], [0x80000000, 4]] as const) {
    for (const flags of [0, 1, 2, 3, 4, 0x100000000]) out.push([`skb_store_bytes(${off}, ${len}, ${flags})`, TC, storeBytes(off, len, flags)]);
  }
  for (const [f, t] of [[0, 0], [0, 8], [8, 0], [8, 8], [4, 16], [16, 16], [3, 4], [4, 6], [0, 2]] as const) {
    for (const seed of [0, 0xffff, 0xdeadbeef, 0xffffffff]) out.push([`csum_diff(${f}, ${t}, ${seed})`, TC, csumDiff(f, t, seed)]);
  }
  // IPv4 header checksum at 24, source address at 26; UDP checksum at 40, TCP at 50.
  for (const [off, from, to, flags] of [
    [24, 0x0100000a, 0x0a0a0a0a, 4], [24, 0x0100, 0x0a0a, 2], [24, 0, 0x12345678, 0], [24, 1, 2, 0], [24, 0, 0, 0],
    [24, 0xffffffff, 0, 4], [24, 0x1ffff, 0x2ffff, 2], [24, 1, 2, 3], [24, 1, 2, 0x10], [25, 1, 2, 4], [0x10000, 1, 2, 4],
    [1500, 1, 2, 2], [4094, 1, 2, 2], [12, 0x0008, 0xdd86, 2],
  ] as const) out.push([`l3_csum_replace(${off}, ${from}, ${to}, ${flags})`, TC, csumReplace(10, off, from, to, flags)]);
  for (const off of [40, 50]) {
    for (const flags of [0, 2, 4, 0x12, 0x14, 0x22, 0x24, 0x34, 0x62, 0x84, 0x94, 0x10, 3, 0x100, 0x80000000]) {
      out.push([`l4_csum_replace(${off}, _, _, ${flags})`, TC, csumReplace(11, off, flags % 16 === 0 ? 0 : 0x0100000a, 0xc0a80101, flags)]);
    }
    out.push([`l4_csum_replace(${off}, diff, 0x34)`, TC, csumReplace(11, off, 0, 0x12345, 0x30)]);
  }
  // A checksum the replacement makes 0, and a zero checksum, with and without BPF_F_MARK_MANGLED_0/ENFORCE.
  for (const [preset, flags] of [[0xffff, 2], [0xffff, 0x22], [0, 0x22], [0, 0x62], [0, 2]] as const) {
    out.push([`l4_csum_replace to 0 (preset ${preset}, flags ${flags})`, TC, csumReplace(11, 40, 0x1234, 0x1234, flags, preset)]);
  }
  out.push([`l4_csum_replace(odd offset)`, TC, csumReplace(11, 41, 1, 2, 2)], [`l4_csum_replace(past end)`, TC, csumReplace(11, 4094, 1, 2, 2)]);
  for (const flags of [0, 1, 2, 3, 0x10, 0x100000000]) out.push([`redirect(5, ${flags})`, TC, `r1 = 5\n${ld('r2', flags)}\ncall 23\nexit`]);
  out.push(
    ['set_hash + get_hash_recalc', TC, `r6 = r1\nr2 = 0x12345678\ncall 48\nr1 = r6\ncall 34\nr7 = *(u32 *)(r6 + ${SK_BUFF.hash})\n*(u32 *)(r6 + ${CB0}) = r7\nexit`],
    ['set_hash(0) + get_hash_recalc', TC, `r6 = r1\nr2 = 0\ncall 48\nr1 = r6\ncall 34\nexit`],
  );
  for (const len of [0, 14, 60, 100, 1514, 5000, 0x7fffffff]) {
    out.push([`skb_pull_data(${len})`, TC, `r6 = r1\n${ld('r2', len)}\ncall 39\nr2 = *(u32 *)(r6 + ${SK_BUFF.data})\nr3 = *(u32 *)(r6 + ${SK_BUFF.data_end})\nr3 -= r2\n*(u32 *)(r6 + ${CB0}) = r3\nexit`]);
  }
  return out;
}

describe('sk_buff helpers: VM against the kernel test run', { skip: kernelSkip() }, () => {
  it('gives the kernel\'s return values, packets and ctx fields', (t) => {
    let compared = 0, refused = 0, programs = 0;
    const mismatches: string[] = [];
    for (const [name, type, source] of cases()) {
      const insns: Instruction[] = assemble(source);
      let kernel;
      try {
        kernel = kernelProgram(type, insns);
      } catch (err) {
        mismatches.push(`${name}: the kernel refused the program: ${(err as Error).message}`);
        continue;
      }
      using k = kernel;
      programs++;
      const vm = vmProgram(insns, skbHelpers);
      for (const { name: pkt, frame } of PACKETS) {
        const ko = kernelSkb(k, frame);
        if (isRefused(ko)) { refused++; continue; }
        let vo;
        try {
          vo = vmSkb(vm, type, frame);
        } catch (err) {
          mismatches.push(`${name} on ${pkt}: VM threw ${(err as Error).message}`);
          continue;
        }
        compared++;
        const diffs: string[] = [];
        if (ko.retval !== vo.retval) diffs.push(`retval kernel 0x${ko.retval.toString(16)} VM 0x${vo.retval.toString(16)}`);
        if (hex(ko.data) !== hex(vo.data)) diffs.push(`data kernel ${hex(ko.data).slice(0, 120)} VM ${hex(vo.data).slice(0, 120)}`);
        for (const [f, v] of Object.entries(ko.ctx)) if (String(v) !== String(vo.ctx[f])) diffs.push(`ctx.${f} kernel ${String(v)} VM ${String(vo.ctx[f])}`);
        if (diffs.length > 0) mismatches.push(`${name} on ${pkt}: ${diffs.join('; ')}`);
      }
    }
    t.diagnostic(`${programs} programs, ${compared} runs compared, ${refused} inputs refused by test_run`);
    if (process.env.CTXDIFF_DUMP) console.log(mismatches.join('\n'));
    assert.deepEqual(mismatches.slice(0, 30), [], `${mismatches.length} differ`);
  });
});

describe('sk_buff helpers in the VM', () => {
  it('records bpf_redirect\'s target', () => {
    const memory = new Memory();
    const vm = new Interpreter(assemble('r1 = 7\nr2 = 1\ncall 23\nexit'), { memory, packet: legacyPacket(memory), helpers: skbHelpers });
    const r = runSkb(vm, ProgramType.SCHED_CLS, PACKETS[0]!.frame);
    assert.equal(r.retval, 7);
    assert.deepEqual(takeSkbRedirect(memory), { ifindex: 7, flags: 1 });
    assert.equal(takeSkbRedirect(memory), undefined);
  });

  it('sums like csum_partial', () => {
    assert.equal(csumPartial(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0), 0), 1);
    assert.equal(csumPartial(new Uint8Array(8), 0x1234), 0x1234);
  });
});
