/**
 * The sk_buff helpers that change the packet's shape (src/vm/programs/skb-resize.ts) against the
 * kernel's BPF_PROG_TEST_RUN: sched_cls programs call bpf_skb_vlan_push/pop, change_head/tail,
 * adjust_room, change_proto and change_type with good and bad arguments, then record the
 * context as the helper left it (vlan_present, vlan_tci, vlan_proto, protocol, len, pkt_type,
 * hash) in cb[] and write through `data` (so a misplaced data pointer shows in the packet out).
 * Return value, data out and ctx out must agree on every test packet.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assemble } from '../../../src/isa/index.js';
import { ProgramType } from '../../../src/kernel/index.js';
import { Memory, SK_BUFF, Interpreter, legacyPacket } from '../../../src/vm/index.js';
import { skbHelpers } from '../../../src/vm/programs/skb-helpers.js';
import { SkbContext } from '../../../src/vm/programs/skb.js';
import { kernelSkip } from '../../support/kernel.js';
import { isRefused, kernelProgram, kernelSkb, vmProgram, vmSkb } from './both.js';
import { PACKETS } from './packets.js';

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const ld = (reg: string, v: number | bigint): string => `${reg} = ${BigInt.asIntN(64, BigInt(v))} ll`;
const CB = (i: number): number => SK_BUFF.cb + 4 * i;
const htons = (v: number): number => ((v & 0xff) << 8) | ((v >> 8) & 0xff);

/** A call of helper `id` with r1 = ctx and r2.. = `args`. */
const call = (id: number, ...args: Array<number | bigint>): string =>
  `r1 = r6\n${args.map((a, i) => ld(`r${i + 2}`, a)).join('\n')}\ncall ${id}`;

/**
 * r6 = ctx, a software hash set (so clearing it shows), then `body` (calls; r0 of the last one is
 * the program's return), then the context recorded in cb[] and 0x5aa5 written at data[0..1].
 */
function program(body: string[]): string {
  return `r6 = r1
r1 = r6
r2 = 0x12345678
call 48
${body.join('\nr9 = r0\n')}
r7 = r0
*(u32 *)(r6 + ${CB(0)}) = r0
r2 = *(u32 *)(r6 + ${SK_BUFF.vlan_present})
r3 = *(u32 *)(r6 + ${SK_BUFF.vlan_tci})
r2 <<= 16
r2 |= r3
*(u32 *)(r6 + ${CB(1)}) = r2
r2 = *(u32 *)(r6 + ${SK_BUFF.vlan_proto})
r3 = *(u32 *)(r6 + ${SK_BUFF.protocol})
r2 <<= 16
r2 |= r3
*(u32 *)(r6 + ${CB(2)}) = r2
r2 = *(u32 *)(r6 + ${SK_BUFF.len})
*(u32 *)(r6 + ${CB(3)}) = r2
r2 = *(u32 *)(r6 + ${SK_BUFF.pkt_type})
r3 = *(u32 *)(r6 + ${SK_BUFF.hash})
r2 <<= 16
r3 &= 0xffff
r2 |= r3
*(u32 *)(r6 + ${CB(4)}) = r2
r2 = *(u32 *)(r6 + ${SK_BUFF.data})
r3 = *(u32 *)(r6 + ${SK_BUFF.data_end})
r4 = r2
r4 += 2
if r4 > r3 goto out
r5 = 0xa55a
*(u16 *)(r2 + 0) = r5
out:
r0 = r7
exit`;
}

const HELPER_NAMES: Record<number, string> = { 18: 'vlan_push', 19: 'vlan_pop', 31: 'change_proto', 32: 'change_type', 38: 'change_tail', 43: 'change_head', 50: 'adjust_room' };
const VLAN_PUSH = 18, VLAN_POP = 19, CHANGE_PROTO = 31, CHANGE_TYPE = 32, CHANGE_TAIL = 38, CHANGE_HEAD = 43, ADJUST_ROOM = 50;
const F = {
  FIXED_GSO: 1n, ENCAP_L3_IPV4: 2n, ENCAP_L3_IPV6: 4n, ENCAP_L4_GRE: 8n, ENCAP_L4_UDP: 16n, NO_CSUM_RESET: 32n,
  ENCAP_L2_ETH: 64n, DECAP_L3_IPV4: 128n, DECAP_L3_IPV6: 256n, L2: (n: number) => BigInt(n) << 56n,
};

type Case = readonly [name: string, body: string[]];

function cases(): Case[] {
  const out: Case[] = [];
  const add = (name: string, ...calls: string[]): void => { out.push([name, calls]); };
  for (const proto of [htons(0x8100), htons(0x88a8), 0x1234, 0]) {
    for (const tci of [5, 0xffff, 0x1e00f]) add(`vlan_push(${proto.toString(16)}, ${tci})`, call(VLAN_PUSH, proto, tci));
  }
  add('vlan_push twice', call(VLAN_PUSH, htons(0x88a8), 10), call(VLAN_PUSH, htons(0x8100), 20));
  add('vlan_push three times', call(VLAN_PUSH, htons(0x8100), 1), call(VLAN_PUSH, htons(0x8100), 2), call(VLAN_PUSH, htons(0x88a8), 3));
  add('vlan_pop', call(VLAN_POP));
  add('vlan_pop twice', call(VLAN_POP), call(VLAN_POP));
  add('vlan_push then pop', call(VLAN_PUSH, htons(0x8100), 7), call(VLAN_POP));
  add('vlan_push twice then pop', call(VLAN_PUSH, htons(0x8100), 7), call(VLAN_PUSH, htons(0x8100), 8), call(VLAN_POP));
  add('vlan_push twice then pop twice', call(VLAN_PUSH, htons(0x8100), 7), call(VLAN_PUSH, htons(0x88a8), 8), call(VLAN_POP), call(VLAN_POP));
  for (const room of [0, 1, 14, 100, 1000, 12000, 16064 - 60, 16064, 16065, 0x7fffffff, 0x80000000, 0xffffffff]) {
    for (const flags of [0, 1]) add(`change_head(${room}, ${flags})`, call(CHANGE_HEAD, room, flags));
  }
  add('change_head twice', call(CHANGE_HEAD, 14, 0), call(CHANGE_HEAD, 100, 0));
  for (const len of [0, 13, 14, 15, 20, 60, 100, 1500, 4000, 16064, 16065, 0xffffffff]) {
    for (const flags of [0, 1]) add(`change_tail(${len}, ${flags})`, call(CHANGE_TAIL, len, flags));
  }
  add('change_tail grow then shrink', call(CHANGE_TAIL, 3000, 0), call(CHANGE_TAIL, 40, 0));
  add('change_head then change_tail', call(CHANGE_HEAD, 200, 0), call(CHANGE_TAIL, 16064, 0));
  for (const proto of [htons(0x86dd), htons(0x0800), htons(0x8100), 0]) {
    for (const flags of [0, 1]) add(`change_proto(${proto.toString(16)}, ${flags})`, call(CHANGE_PROTO, proto, flags));
  }
  add('change_proto 4 to 6 to 4', call(CHANGE_PROTO, htons(0x86dd), 0), call(CHANGE_PROTO, htons(0x0800), 0));
  for (const type of [0, 1, 2, 3, 4, 7, 0xffffffff]) add(`change_type(${type})`, call(CHANGE_TYPE, type));
  for (const diff of [-0x1000, -0xfff, -40, -21, -20, -8, -1, 0, 1, 8, 20, 40, 0xfff, 0x1000]) {
    for (const mode of [0, 1, 2]) add(`adjust_room(${diff}, ${mode}, 0)`, call(ADJUST_ROOM, diff, mode, 0));
  }
  const flagSets: Array<[string, bigint]> = [
    ['FIXED_GSO', F.FIXED_GSO], ['ENCAP_L3_IPV4', F.ENCAP_L3_IPV4], ['ENCAP_L3_IPV6', F.ENCAP_L3_IPV6],
    ['ENCAP_L3 both', F.ENCAP_L3_IPV4 | F.ENCAP_L3_IPV6], ['IPV4|GRE', F.ENCAP_L3_IPV4 | F.ENCAP_L4_GRE],
    ['IPV6|UDP', F.ENCAP_L3_IPV6 | F.ENCAP_L4_UDP], ['IPV4|GRE|UDP', F.ENCAP_L3_IPV4 | F.ENCAP_L4_GRE | F.ENCAP_L4_UDP],
    ['GRE alone', F.ENCAP_L4_GRE], ['IPV4|GRE|L2_ETH|L2(14)', F.ENCAP_L3_IPV4 | F.ENCAP_L4_GRE | F.ENCAP_L2_ETH | F.L2(14)],
    ['IPV4|L2_ETH|L2(8)', F.ENCAP_L3_IPV4 | F.ENCAP_L2_ETH | F.L2(8)], ['IPV4|L2(40)', F.ENCAP_L3_IPV4 | F.L2(40)],
    ['DECAP_L3_IPV4', F.DECAP_L3_IPV4], ['DECAP_L3_IPV6', F.DECAP_L3_IPV6], ['DECAP both', F.DECAP_L3_IPV4 | F.DECAP_L3_IPV6],
    ['NO_CSUM_RESET', F.NO_CSUM_RESET], ['bit 9', 1n << 9n], ['bit 55', 1n << 55n],
  ];
  for (const [label, flags] of flagSets) {
    for (const diff of [-20, 8, 20, 40]) {
      for (const mode of [0, 1]) add(`adjust_room(${diff}, ${mode}, ${label})`, call(ADJUST_ROOM, diff, mode, flags));
    }
  }
  add('adjust_room encap twice', call(ADJUST_ROOM, 20, 1, F.ENCAP_L3_IPV4), call(ADJUST_ROOM, 20, 1, F.ENCAP_L3_IPV4));
  add('adjust_room encap then change_tail', call(ADJUST_ROOM, 28, 1, F.ENCAP_L3_IPV4 | F.ENCAP_L4_UDP), call(CHANGE_TAIL, 100, 0));
  add('adjust_room encap then shrink', call(ADJUST_ROOM, 28, 1, F.ENCAP_L3_IPV4 | F.ENCAP_L4_UDP), call(ADJUST_ROOM, -28, 1, 0));
  add('adjust_room grow then change_tail', call(ADJUST_ROOM, 40, 0, 0), call(CHANGE_TAIL, 20, 0));
  add('change_proto then adjust_room', call(CHANGE_PROTO, htons(0x86dd), 0), call(ADJUST_ROOM, -40, 1, F.DECAP_L3_IPV4));
  add('vlan_push twice then adjust_room', call(VLAN_PUSH, htons(0x8100), 1), call(VLAN_PUSH, htons(0x8100), 2), call(ADJUST_ROOM, 8, 1, 0));
  // change_tail's floor is the network header's offset: where the tag moves it.
  for (const len of [14, 17, 18]) add(`vlan_push twice then change_tail(${len})`, call(VLAN_PUSH, htons(0x8100), 1), call(VLAN_PUSH, htons(0x8100), 2), call(CHANGE_TAIL, len, 0));
  for (const len of [13, 14]) add(`vlan_pop then change_tail(${len})`, call(VLAN_POP), call(CHANGE_TAIL, len, 0));
  for (const len of [14, 15, 34, 35]) add(`change_head(20) then change_tail(${len})`, call(CHANGE_HEAD, 20, 0), call(CHANGE_TAIL, len, 0));
  for (const len of [14, 15, 33, 34]) add(`change_proto 4 to 6 then change_tail(${len})`, call(CHANGE_PROTO, htons(0x86dd), 0), call(CHANGE_TAIL, len, 0));
  for (const len of [34, 42, 43]) add(`adjust_room encap UDP then change_tail(${len})`, call(ADJUST_ROOM, 28, 1, F.ENCAP_L3_IPV4 | F.ENCAP_L4_UDP), call(CHANGE_TAIL, len, 0));
  add('vlan_push twice, pop, adjust_room', call(VLAN_PUSH, htons(0x8100), 1), call(VLAN_PUSH, htons(0x88a8), 2), call(VLAN_POP), call(ADJUST_ROOM, 8, 1, 0));
  add('vlan_pop then adjust_room', call(VLAN_POP), call(ADJUST_ROOM, 8, 1, 0));
  add('vlan_pop then change_proto', call(VLAN_POP), call(CHANGE_PROTO, htons(0x86dd), 0));
  add('vlan_push twice then change_proto', call(VLAN_PUSH, htons(0x8100), 1), call(VLAN_PUSH, htons(0x8100), 2), call(CHANGE_PROTO, htons(0x86dd), 0));
  return out;
}

/** GSO packets (gso_size from ctx_in): the checks that depend on skb_is_gso. */
function gsoCases(): Case[] {
  return [
    ['gso adjust_room grow', [call(ADJUST_ROOM, 8, 1, 0)]],
    ['gso adjust_room shrink FIXED_GSO', [call(ADJUST_ROOM, -8, 0, F.FIXED_GSO)]],
    ['gso change_head past max', [call(CHANGE_HEAD, 16064, 0)]],
    ['gso vlan_push twice', [call(VLAN_PUSH, htons(0x8100), 1), call(VLAN_PUSH, htons(0x8100), 2)]],
  ];
}

describe('sk_buff resizing helpers: VM against the kernel test run', { skip: kernelSkip() }, () => {
  it('gives the kernel\'s return values, packets and ctx fields', (t) => {
    let compared = 0, refused = 0, programs = 0;
    const mismatches: string[] = [];
    const byHelper = new Map<string, number>();
    const runAll = (list: Case[], options: { gsoSize?: number; gsoSegs?: number }): void => {
      for (const [name, body] of list) {
        const insns = assemble(program(body));
        let kernel;
        try {
          kernel = kernelProgram(ProgramType.SCHED_CLS, insns);
        } catch (err) {
          mismatches.push(`${name}: the kernel refused the program: ${(err as Error).message}`);
          continue;
        }
        using k = kernel;
        programs++;
        const vm = vmProgram(insns, skbHelpers);
        for (const { name: pkt, frame } of PACKETS) {
          const ko = kernelSkb(k, frame, options);
          if (isRefused(ko)) { refused++; continue; }
          let vo;
          try {
            vo = vmSkb(vm, ProgramType.SCHED_CLS, frame, options);
          } catch (err) {
            mismatches.push(`${name} on ${pkt}: VM threw ${(err as Error).message}`);
            continue;
          }
          compared++;
          for (const id of new Set(body.join('\n').match(/call \d+/g) ?? [])) {
            const helper = HELPER_NAMES[Number(id.slice(5))] ?? id;
            byHelper.set(helper, (byHelper.get(helper) ?? 0) + 1);
          }
          const diffs: string[] = [];
          if (ko.retval !== vo.retval) diffs.push(`retval kernel ${ko.retval | 0} VM ${vo.retval | 0}`);
          if (hex(ko.data) !== hex(vo.data)) diffs.push(`data kernel ${ko.data.length} ${hex(ko.data).slice(0, 100)} VM ${vo.data.length} ${hex(vo.data).slice(0, 100)}`);
          for (const [f, v] of Object.entries(ko.ctx)) if (String(v) !== String(vo.ctx[f])) diffs.push(`ctx.${f} kernel ${String(v)} VM ${String(vo.ctx[f])}`);
          if (diffs.length > 0) mismatches.push(`${name} on ${pkt}: ${diffs.join('; ')}`);
        }
      }
    };
    runAll(cases(), {});
    runAll(gsoCases(), { gsoSize: 100, gsoSegs: 3 });
    t.diagnostic(`${programs} programs, ${compared} runs compared, ${refused} inputs refused by test_run; runs calling each helper: ${JSON.stringify(Object.fromEntries(byHelper))}`);
    if (process.env.CTXDIFF_DUMP) console.log(mismatches.join('\n'));
    assert.deepEqual(mismatches.slice(0, 20), [], `${mismatches.length} differ`);
  });
});

describe('sk_buff resizing helpers in the VM', () => {
  it('keeps the packet inside its buffer and fails growth past SKB_MAX_ALLOC', () => {
    const memory = new Memory();
    const vm = new Interpreter(assemble(`${program([call(CHANGE_HEAD, 16000, 0), call(CHANGE_TAIL, 16064, 0), call(CHANGE_HEAD, 1, 0)])}`), {
      memory, packet: legacyPacket(memory), helpers: skbHelpers,
    });
    using ctx = new SkbContext(memory, ProgramType.SCHED_CLS, PACKETS[0]!.frame);
    const r0 = vm.run(ctx.address).r0;
    assert.equal(Number(BigInt.asIntN(32, r0)), -22);
    assert.equal(ctx.length, 16064);
    assert.ok(ctx.data >= ctx.buffer.bufferStart && ctx.dataEnd <= ctx.buffer.bufferEnd);
  });
});
