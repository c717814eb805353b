/**
 * The VM's context models of the packet program types (src/vm/object/context-packet.ts):
 * XDP, sched_cls, socket filter and cgroup_skb programs of bpf/fixtures/vm_contexts.o test-run
 * by loadObjectVm and by the kernel backend's loadObject on the same packets, with the same
 * retval, data_out and ctx_out.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadObject } from '../../../src/kernel/object/load-object.js';
import { arp, buildPacket, ethernet, ipv4, ipv6, tcp, udp } from '../../../src/net/index.js';
import type { TestRunInput } from '../../../src/object/loaded.js';
import { EbpfError } from '../../../src/errors.js';
import { loadObjectVm } from '../../../src/vm/object/load.js';
import { encodeSkBuff, SK_BUFF_SIZE } from '../../../src/vm/programs/sk-buff.js';
import { xdpHelpers } from '../../../src/vm/programs/xdp-helpers.js';
import { kernelSkip } from '../../support/kernel.js';
import { repoRoot } from '../../support/shared.js';

const object = readFileSync(join(repoRoot, 'bpf/fixtures/vm_contexts.o'));
const eth = ethernet({ src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' });

const PACKETS: Array<[string, Uint8Array]> = [
  ['udp to port 9', buildPacket([eth, ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }), udp({ srcPort: 1000, dstPort: 9 })], 'discard me')],
  ['udp, odd length', buildPacket([eth, ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }), udp({ srcPort: 1000, dstPort: 53 })], 'abc')],
  ['tcp, 150 bytes', buildPacket([eth, ipv4({ src: '192.168.1.1', dst: '10.0.0.2' }), tcp({ srcPort: 4000, dstPort: 80 })], new Uint8Array(96).fill(7))],
  ['ipv6', buildPacket([eth, ipv6({ src: '2001:db8::1', dst: '2001:db8::2' }), udp({ srcPort: 1, dstPort: 2 })], 'six')],
  ['arp', buildPacket([ethernet({ src: '02:00:00:00:00:01', dst: 'ff:ff:ff:ff:ff:ff' }), arp({ senderIp: '10.0.0.1', targetIp: '10.0.0.2' })])],
];

/** A `struct __sk_buff` ctx_in with fields test_run takes. */
const skbCtx = (): Uint8Array => encodeSkBuff({ mark: 5, priority: 3, cb: [1, 2, 3, 4, 5] }, new Uint8Array(SK_BUFF_SIZE));

const CASES: Array<{ program: string; ctx?: () => Uint8Array }> = [
  { program: 'xdp_swap' },
  { program: 'xdp_strip' },
  { program: 'tc_mark' },
  { program: 'tc_mark', ctx: skbCtx },
  { program: 'sock_udp' },
  { program: 'sock_udp', ctx: skbCtx },
  { program: 'cg_even' },
  { program: 'cg_even', ctx: skbCtx },
];

const hex = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : Buffer.from(b).toString('hex'));

describe('VM test runs of packet programs', () => {
  it('XDP: verdicts, rewritten packets, head moved and metadata in data_out', () => {
    using obj = loadObjectVm(object, { helpers: xdpHelpers });
    const udp9 = PACKETS[0]![1];
    assert.equal(obj.programs.xdp_swap!.testRun({ data: udp9 }).retval, 1);
    const tcp = PACKETS[2]![1];
    const swapped = obj.programs.xdp_swap!.testRun({ data: tcp });
    assert.equal(swapped.retval, 3);
    assert.deepEqual(swapped.dataOut.subarray(0, 6), tcp.subarray(6, 12));
    assert.equal(swapped.ctxOut, undefined);
    const strip = obj.programs.xdp_strip!.testRun({ data: tcp });
    assert.equal(strip.retval, 2);
    assert.equal(strip.dataOut.length, 4 + tcp.length - 14);
    assert.equal(new DataView(strip.dataOut.buffer).getUint32(0, true), tcp.length - 14);
    assert.deepEqual(strip.dataOut.subarray(4), tcp.subarray(14));
  });

  it('skb: socket filters see the packet from the network header; data_out has the Ethernet header zeroed', () => {
    using obj = loadObjectVm(object, { helpers: xdpHelpers });
    const p = PACKETS[1]![1];
    const r = obj.programs.sock_udp!.testRun({ data: p });
    assert.equal(r.retval, p.length - 14);
    assert.deepEqual(r.dataOut.subarray(0, 14), new Uint8Array(14));
    assert.deepEqual(r.dataOut.subarray(14), p.subarray(14));
    const tc = obj.programs.tc_mark!.testRun({ data: p, ctx: skbCtx() });
    assert.equal(tc.dataOut[0], p[0]! ^ 0xff);
    assert.equal(new DataView(tc.ctxOut!.buffer).getUint32(8, true), 5 + p.length, 'mark');
  });

  it('refuses what the kernel refuses: a frame shorter than an Ethernet header', () => {
    using obj = loadObjectVm(object, { helpers: xdpHelpers });
    assert.throws(() => obj.programs.xdp_swap!.testRun({ data: new Uint8Array(10) }), EbpfError);
    assert.throws(() => obj.programs.tc_mark!.testRun({ data: new Uint8Array(10) }), EbpfError);
  });

  it('gives the kernel\'s retval, data_out and ctx_out for every program and packet', { skip: kernelSkip() }, () => {
    using vm = loadObjectVm(object, { helpers: xdpHelpers });
    const kernel = loadObject(object);
    try {
      for (const { program, ctx } of CASES) {
        for (const [what, data] of PACKETS) {
          const input: TestRunInput = { data, ...(ctx === undefined ? {} : { ctx: ctx() }) };
          const k = kernel.programs[program]!.testRun(input);
          const v = vm.programs[program]!.testRun(input);
          const label = `${program}${ctx ? ' with ctx' : ''} on ${what}`;
          assert.equal(v.retval, k.retval, `${label}: retval`);
          assert.equal(hex(v.dataOut), hex(k.dataOut), `${label}: data_out`);
          assert.equal(hex(v.ctxOut), hex(k.ctxOut), `${label}: ctx_out`);
        }
      }
    } finally {
      kernel.dispose();
    }
  });
});
