/**
 * bpf_fib_lookup and bpf_clone_redirect (src/vm/programs/fib.ts) against the kernel: a test
 * network namespace gets devices, routes and neighbours (netns-network.ts); the kernel runs the
 * programs with BPF_PROG_TEST_RUN inside it (setns), the VM with the same network read back
 * through `ip -j`. The lookup programs (TC and XDP) take a `struct bpf_fib_lookup` and flags from
 * the packet and write the struct back into it, so one program covers every lookup: return
 * value and the struct as the helper left it must agree.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assemble, type Instruction } from '../../../src/isa/index.js';
import { ProgramType, withNetns } from '../../../src/kernel/index.js';
import { parseAddress } from '../../../src/vm/programs/net-table.js';
import { FibResult, netHelpers, takeSkbClones, BPF_FIB_LOOKUP_SIZE } from '../../../src/vm/programs/fib.js';
import { skbHelpers } from '../../../src/vm/programs/skb-helpers.js';
import { xdpHelpers } from '../../../src/vm/programs/xdp-helpers.js';
import { mergeHelperTables } from '../../../src/vm/object/helper-tables.js';
import { VmHost } from '../../../src/vm/helpers/host.js';
import { Interpreter, Memory, legacyPacket, runSkb } from '../../../src/vm/index.js';
import { kernelSkip } from '../../support/kernel.js';
import { netnsSkip, type TestNetns } from '../../support/netns.js';
import type { VmNetwork } from '../../../src/vm/programs/net-table.js';
import { isRefused, kernelProgram, kernelSkb, kernelXdp, vmSkb, vmXdp, type Outcome, type Refused } from './both.js';
import { fibNetns, readNetwork } from './netns-network.js';

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const ETH = Uint8Array.of(2, 0, 0, 0, 0, 0xaa, 2, 0, 0, 0, 0, 0xbb, 0x08, 0x00);

/** TC: params (64 bytes) and flags (u32) from packet offset 14 to the stack, the lookup, the params back. */
function tcProgram(plen: number): Instruction[] {
  return assemble(`r6 = r1
r2 = 14
r3 = r10
r3 += -72
r4 = 68
call 26
if r0 != 0 goto fail
r9 = *(u32 *)(r10 - 8)
r1 = r6
r2 = r10
r2 += -72
r3 = ${plen}
r4 = r9
call 69
r7 = r0
r1 = r6
r2 = 14
r3 = r10
r3 += -72
r4 = 64
r5 = 0
call 9
r0 = r7
exit
fail:
r0 = 4095
exit`);
}

/** XDP: the same through direct packet access. */
function xdpProgram(): Instruction[] {
  const copyIn = Array.from({ length: 8 }, (_, i) => `r5 = *(u64 *)(r2 + ${14 + 8 * i})\n*(u64 *)(r10 - ${72 - 8 * i}) = r5`).join('\n');
  const copyOut = Array.from({ length: 8 }, (_, i) => `r5 = *(u64 *)(r10 - ${72 - 8 * i})\n*(u64 *)(r2 + ${14 + 8 * i}) = r5`).join('\n');
  return assemble(`r6 = r1
r2 = *(u32 *)(r6 + 0)
r3 = *(u32 *)(r6 + 4)
r4 = r2
r4 += 82
if r4 > r3 goto fail
${copyIn}
r4 = *(u32 *)(r2 + 78)
r1 = r6
r2 = r10
r2 += -72
r3 = 64
call 69
r7 = r0
r2 = *(u32 *)(r6 + 0)
r3 = *(u32 *)(r6 + 4)
r4 = r2
r4 += 82
if r4 > r3 goto fail
${copyOut}
r0 = r7
exit
fail:
r0 = 4095
exit`);
}

/** A frame carrying a `struct bpf_fib_lookup` and flags, padded to `length`. */
function lookupFrame(p: { family: number; ifindex: number; src: string; dst: string; totLen?: number; tbid?: number; l4?: number; tos?: number }, flags: number, length = 82): Uint8Array {
  const frame = new Uint8Array(Math.max(82, length));
  frame.set(ETH);
  const v = new DataView(frame.buffer, 14, BPF_FIB_LOOKUP_SIZE + 4);
  v.setUint8(0, p.family);
  v.setUint8(1, p.l4 ?? 17);
  v.setUint16(2, 0x3412);
  v.setUint16(4, 0x3500);
  v.setUint16(6, p.totLen ?? 0, true);
  v.setUint32(8, p.ifindex, true);
  v.setUint8(12, p.tos ?? 0);
  frame.set(parseAddress(p.src), 14 + 16);
  frame.set(parseAddress(p.dst), 14 + 32);
  v.setUint32(48, p.tbid ?? 0, true);
  v.setUint32(64, flags, true);
  return frame;
}

const D = 1, O = 2, SKIP = 4, T = 8, S = 16, M = 32;

describe('bpf_fib_lookup and bpf_clone_redirect: VM against the kernel in a test netns', { skip: kernelSkip() || netnsSkip() }, () => {
  let ns: TestNetns | undefined;
  let network: VmNetwork;
  before(() => {
    ns = fibNetns();
    network = readNetwork(ns.name);
  });
  after(() => ns?.close());

  it('finds the kernel\'s routes, neighbours, MTUs and sources, and returns its codes', (t) => {
    const netns = ns!.name;
    const index = (name: string): number => network.devices.find((d) => d.name === name)!.ifindex;
    const helpers = mergeHelperTables([skbHelpers, xdpHelpers, netHelpers(new VmHost({ network }))]);
    const vmOf = (insns: Instruction[]): Interpreter => {
      const memory = new Memory();
      return new Interpreter(insns, { memory, packet: legacyPacket(memory), helpers });
    };
    const frames: Array<[string, Uint8Array]> = [];
    const ifindices = [index('veth0'), index('veth1'), index('dummy0'), 1, 99];
    const v4 = ['10.9.0.5', '10.9.1.5', '10.9.2.5', '10.9.3.5', '10.66.0.1', '10.67.0.1', '10.68.0.1', '10.70.0.1', '10.71.0.1',
      '10.72.0.1', '10.73.0.1', '10.74.0.1', '10.201.0.1', '10.201.0.2', '10.201.0.9', '10.201.0.255', '10.202.0.2', '8.8.8.8', '127.0.0.1'];
    const flagSets = [0, D, O, SKIP, S, D | T, O | S | SKIP, M, 0x40, D | O];
    // Every flag set on veth0; the other devices (forwarding off, loopback, none) with fewer.
    for (const dst of v4) {
      for (const ifindex of ifindices) {
        for (const flags of ifindex === ifindices[0] ? flagSets : [0, O]) {
          for (const totLen of flags === 0 ? [0, 1350, 1500] : [0]) {
            for (const tbid of flags & T ? [100, 254, 77] : [0]) {
              frames.push([`v4 ${dst} if${ifindex} f${flags} len${totLen} tb${tbid}`, lookupFrame({ family: 2, ifindex, src: '10.201.0.9', dst, totLen, tbid }, flags)]);
            }
          }
        }
      }
    }
    const v6 = ['2001:db8:9::5', '2001:db8:a::5', '2001:db8:dead::1', '2001:db8:beef::1', '2001:db8:cafe::1', '2001:db8:1::2',
      '2001:db8:1::1', '2001:db8:1::9', '2001:db8:b::1', '2001:db8:c::1', '2001:db8:d::1', 'fe80::1', 'ff02::1', '2001:db9::1', '::1'];
    for (const dst of v6) {
      for (const ifindex of [index('veth0'), index('veth1'), 99]) {
        for (const flags of [0, D, O, SKIP, S, O | S]) {
          for (const totLen of flags === 0 ? [0, 1300, 1500] : [0]) {
            frames.push([`v6 ${dst} if${ifindex} f${flags} len${totLen}`, lookupFrame({ family: 10, ifindex, src: '2001:db8:1::1', dst, totLen }, flags)]);
          }
        }
      }
    }
    frames.push(['v6 link-local source', lookupFrame({ family: 10, ifindex: index('veth0'), src: 'fe80::5', dst: '2001:db8:9::5' }, 0)]);
    frames.push(['family 0', lookupFrame({ family: 0, ifindex: index('veth0'), src: '10.201.0.9', dst: '10.9.0.5' }, 0)]);
    // Against the skb's length (no tot_len): veth1's MTU is 1400.
    for (const length of [82, 1418, 1419, 1450]) {
      frames.push([`v4 via veth1, ${length}-byte skb`, lookupFrame({ family: 2, ifindex: index('veth0'), src: '10.201.0.9', dst: '10.202.0.2' }, 0, length)]);
    }
    const programs: Array<[string, number, Instruction[]]> = [['tc', ProgramType.SCHED_CLS, tcProgram(64)], ['tc plen 63', ProgramType.SCHED_CLS, tcProgram(63)], ['xdp', ProgramType.XDP, xdpProgram()]];
    let compared = 0;
    const mismatches: string[] = [];
    const codes = new Map<number, number>();
    const byProgram = new Map<string, number>();
    for (const [label, type, insns] of programs) {
      using kernel = kernelProgram(type, insns);
      const vm = vmOf(insns);
      const xdp = type === ProgramType.XDP;
      // A short plen fails before anything else: a few frames show it.
      const inputs = label === 'tc plen 63' ? frames.slice(0, 5) : frames;
      const kernelOut: Array<Outcome | Refused> = withNetns(netns, () => inputs.map(([, frame]) => (xdp ? kernelXdp(kernel, frame) : kernelSkb(kernel, frame))));
      inputs.forEach(([name, frame], i) => {
        const k = kernelOut[i]!;
        if (isRefused(k)) { mismatches.push(`${label} ${name}: the kernel refused the run (${k.refused})`); return; }
        let v: Outcome;
        try {
          v = xdp ? vmXdp(vm, frame) : vmSkb(vm, type, frame);
        } catch (err) {
          mismatches.push(`${label} ${name}: VM threw ${(err as Error).message}`);
          return;
        }
        compared++;
        byProgram.set(label, (byProgram.get(label) ?? 0) + 1);
        codes.set(k.retval | 0, (codes.get(k.retval | 0) ?? 0) + 1);
        const diffs: string[] = [];
        if (k.retval !== v.retval) diffs.push(`retval kernel ${k.retval | 0} VM ${v.retval | 0}`);
        if (hex(k.data) !== hex(v.data)) diffs.push(`params kernel ${hex(k.data.subarray(14, 78))} VM ${hex(v.data.subarray(14, 78))}`);
        if (diffs.length > 0) mismatches.push(`${label} ${name}: ${diffs.join('; ')}`);
      });
    }
    t.diagnostic(`${compared} lookups compared (${JSON.stringify(Object.fromEntries(byProgram))}); kernel results ${JSON.stringify(Object.fromEntries(codes))}`);
    if (process.env.CTXDIFF_DUMP) console.log(mismatches.join('\n'));
    assert.deepEqual(mismatches.slice(0, 20), [], `${mismatches.length} differ`);
    // The table exercised every outcome the helper has but lwt and the IPv6 source.
    for (const code of [FibResult.SUCCESS, FibResult.BLACKHOLE, FibResult.UNREACHABLE, FibResult.PROHIBIT, FibResult.NOT_FWDED, FibResult.FWD_DISABLED, FibResult.NO_NEIGH, FibResult.FRAG_NEEDED, -19, -22, -97]) {
      assert.ok(codes.has(code), `no lookup returned ${code}`);
    }
  });

  it('clones packets to the kernel\'s devices with its return values', (t) => {
    const netns = ns!.name;
    const index = (name: string): number => network.devices.find((d) => d.name === name)!.ifindex;
    const host = new VmHost({ network });
    const helpers = mergeHelperTables([skbHelpers, netHelpers(host)]);
    const insns = assemble(`r6 = r1
r2 = *(u32 *)(r6 + 76)
r3 = *(u32 *)(r6 + 80)
r4 = r2
r4 += 30
if r4 > r3 goto fail
r7 = *(u32 *)(r2 + 14)
r8 = *(u64 *)(r2 + 18)
r1 = r6
r2 = r7
r3 = r8
call 13
exit
fail:
r0 = 4095
exit`);
    using kernel = kernelProgram(ProgramType.SCHED_CLS, insns);
    const memory = new Memory();
    const vm = new Interpreter(insns, { memory, packet: legacyPacket(memory), helpers });
    let compared = 0;
    const mismatches: string[] = [];
    for (const ifindex of [1, index('veth0'), index('veth1'), index('dummy0'), index('dummy1'), 99]) {
      for (const flags of [0n, 1n, 2n, 1n << 16n, 1n << 32n]) {
        for (const gsoSize of [0, 100]) {
          const frame = new Uint8Array(60);
          frame.set(ETH);
          const v = new DataView(frame.buffer);
          v.setUint32(14, ifindex, true);
          v.setBigUint64(18, flags, true);
          const options = gsoSize === 0 ? {} : { gsoSize, gsoSegs: 1 };
          const k = withNetns(netns, () => kernelSkb(kernel, frame, options));
          if (isRefused(k)) { mismatches.push(`if${ifindex} flags ${flags}: kernel refused ${k.refused}`); continue; }
          const o = vmSkb(vm, ProgramType.SCHED_CLS, frame, options);
          compared++;
          if (k.retval !== o.retval || hex(k.data) !== hex(o.data)) mismatches.push(`if${ifindex} flags ${flags} gso ${gsoSize}: kernel ${k.retval | 0} VM ${o.retval | 0}`);
        }
      }
    }
    t.diagnostic(`${compared} clone_redirect runs compared`);
    assert.deepEqual(mismatches, []);
    // The VM kept the copies it sent.
    const r = runSkb(vm, ProgramType.SCHED_CLS, (() => { const f = new Uint8Array(60); f.set(ETH); new DataView(f.buffer).setUint32(14, index('veth0'), true); return f; })());
    assert.equal(r.retval, 0);
    const sent = takeSkbClones(memory);
    assert.equal(sent.at(-1)?.ifindex, index('veth0'));
    assert.equal(sent.at(-1)?.packet.length, 60);
  });
});

describe('bpf_fib_lookup in the VM', () => {
  it('answers the reused XDP frame of ebpf run as it answers a fresh XDP context', async () => {
    const { ReusableXdpContext } = await import('../../../src/vm/object/context-batch.js');
    const { xdpContext } = await import('../../../src/vm/programs/xdp.js');
    const network: VmNetwork = {
      devices: [{ ifindex: 1, name: 'lo', mtu: 65536 }, { ifindex: 2, name: 'eth0', mac: '02:00:00:00:00:01', mtu: 1500, addresses: ['10.0.0.1/24'] }],
      routes: [{ dst: '10.0.0.0/24', ifindex: 2, prefsrc: '10.0.0.1' }, { dst: 'default', gateway: '10.0.0.254', ifindex: 2 }],
      neighbours: [{ ifindex: 2, address: '10.0.0.254', mac: '02:00:00:00:00:fe' }],
    };
    const helpers = mergeHelperTables([xdpHelpers, netHelpers(new VmHost({ network }))]);
    const insns = xdpProgram();
    for (const [dst, flags, totLen] of [['8.8.8.8', 0, 0], ['10.0.0.7', 0, 0], ['8.8.8.8', S, 1600], ['10.0.0.1', D, 0]] as const) {
      const frame = lookupFrame({ family: 2, ifindex: 2, src: '10.0.0.9', dst, totLen }, flags);
      const outcomes = [true, false].map((reused) => {
        const memory = new Memory();
        const vm = new Interpreter(insns, { memory, helpers });
        if (reused) {
          using ctx = new ReusableXdpContext(memory);
          ctx.load(frame);
          return { r0: vm.run(ctx.address).r0, out: hex(ctx.packet()) };
        }
        using ctx = xdpContext(memory, frame);
        return { r0: vm.run(ctx.address).r0, out: hex(ctx.readBack().packet) };
      });
      assert.deepEqual(outcomes[0], outcomes[1], dst);
    }
  });
});
