import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assemble } from '../../../src/isa/index.js';
import { buildPacket, ethernet, ipv4, ipv6, udp } from '../../../src/net/index.js';
import { ProgramType } from '../../../src/object/index.js';
import {
  Interpreter, MemoryFault, Memory, PT_REGS_SIZE, SK_BUFF, XdpAction, callRegs, decodeSkBuff, encodeTracepointRecord,
  kprobeContext, legacyPacket, parseTracepointFormat, perfEventContext, ptRegsOffset, rawTracepointContext, runCgroupSkb,
  runSkb, runSocketFilter, runTc, runXdp, skbContext, syscallContext, tracepointContext, xdpContext, xdpHelpers,
} from '../../../src/vm/index.js';

const vmOf = (text: string, memory = new Memory()): Interpreter =>
  new Interpreter(assemble(text), { memory, packet: legacyPacket(memory), helpers: xdpHelpers });

const frame = buildPacket([ethernet({ src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' }), ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }), udp({ srcPort: 7, dstPort: 53 })], 'data');

describe('XDP context', () => {
  it('gives data/data_end over the packet and returns the packet after the run', () => {
    const vm = vmOf(`
      r2 = *(u32 *)(r1 + 0)
      r3 = *(u32 *)(r1 + 4)
      r4 = r2
      r4 += 14
      if r4 > r3 goto drop
      r5 = *(u8 *)(r2 + 0)
      r6 = *(u8 *)(r2 + 6)
      *(u8 *)(r2 + 0) = r6
      *(u8 *)(r2 + 6) = r5
      r0 = 3
      exit
    drop:
      r0 = 1
      exit`);
    const out = runXdp(vm, frame);
    assert.equal(out.verdict, XdpAction.TX);
    assert.equal(out.action, 'XDP_TX');
    assert.deepEqual([out.packet[0], out.packet[6]], [2, 2]);
    assert.equal(out.packet.length, frame.length);
    assert.equal(runXdp(vm, frame.subarray(0, 14)).verdict, XdpAction.TX);
  });

  it('faults outside [data_meta, data_end) and on writes to xdp_md', () => {
    const memory = new Memory();
    const beyond = vmOf('r2 = *(u32 *)(r1 + 4)\nr0 = *(u8 *)(r2 + 0)\nexit', memory);
    assert.throws(() => runXdp(beyond, frame), MemoryFault);
    const headroom = vmOf('r2 = *(u32 *)(r1 + 0)\nr0 = *(u8 *)(r2 - 1)\nexit', memory);
    assert.throws(() => runXdp(headroom, frame), MemoryFault);
    assert.throws(() => runXdp(vmOf('r2 = 0\n*(u32 *)(r1 + 16) = r2\nr0 = 2\nexit', memory), frame), /read-only/);
    assert.throws(() => runXdp(vmOf('r0 = *(u32 *)(r1 + 24)\nexit', memory), frame), MemoryFault, 'the struct is exactly 24 bytes');
  });

  it('moves the packet edges with bpf_xdp_adjust_head/meta/tail', () => {
    const memory = new Memory();
    using ctx = xdpContext(memory, frame, { meta: Uint8Array.of(1, 2, 3, 4) });
    assert.equal(ctx.data - ctx.dataMeta, 4);
    assert.equal(ctx.adjustHead(-14), 0);
    assert.equal(ctx.readBack().packet.length, frame.length + 14);
    assert.deepEqual([...ctx.readBack().meta], [1, 2, 3, 4], 'metadata moves with data');
    assert.equal(ctx.adjustHead(-1000), -22);
    assert.equal(ctx.adjustMeta(-6), -13, 'metadata length must stay a multiple of 4');
    assert.equal(ctx.adjustMeta(4), 0);
    assert.equal(ctx.adjustTail(-10), 0);
    assert.equal(ctx.readBack().packet.length, frame.length + 4);
    assert.equal(ctx.adjustTail(5000), -22);
    const big = xdpContext(memory, new Uint8Array(5000));
    assert.equal(big.dataEnd - big.data, 3520, 'the linear part of a test-run frame');
    assert.equal(big.length, 5000);
    assert.equal(big.readBack().packet.length, 5000);
    big.release();
  });
});

describe('__sk_buff context', () => {
  it('fills fields as the kernel test run does', () => {
    const memory = new Memory();
    using tc = skbContext(memory, ProgramType.SCHED_CLS, frame, { mark: 7, cb: [1, 2] });
    const f = tc.fields();
    assert.equal(f.len, frame.length);
    assert.equal(f.protocol, 0x0008, 'protocol is stored in network byte order');
    assert.equal(f.pkt_type, 3, 'not for the loopback address: PACKET_OTHERHOST');
    assert.equal(f.ifindex, 1);
    assert.equal(f.mark, 7);
    assert.deepEqual(f.cb, [1, 2, 0, 0, 0]);
    assert.equal(f.data_end - f.data, frame.length);
    using sf = skbContext(memory, ProgramType.SOCKET_FILTER, frame);
    assert.equal(sf.fields().len, frame.length - 14, 'socket filters see the packet from the network header');
    using cg = skbContext(memory, ProgramType.CGROUP_SKB, buildPacket([ethernet(), ipv6({ src: 'fe80::1', dst: 'fe80::2' }), udp()]));
    const c = cg.fields();
    assert.equal(c.family, 10);
    assert.deepEqual(c.local_ip6, [0x80fe, 0, 0, 0x01000000]);
    assert.deepEqual(c.remote_ip6, [0x80fe, 0, 0, 0x02000000]);
  });

  it('lets each program type write only its fields', () => {
    const memory = new Memory();
    const write = (off: number) => vmOf(`r2 = 5\n*(u32 *)(r1 + ${off}) = r2\nr0 = 0\nexit`, memory);
    assert.equal(runTc(write(SK_BUFF.mark), frame).ctx.mark, 5);
    assert.equal(runTc(write(SK_BUFF.tc_classid), frame).ctx.tc_classid, 5);
    assert.throws(() => runTc(write(SK_BUFF.len), frame), /read-only/);
    assert.throws(() => runSocketFilter(write(SK_BUFF.mark), frame), /read-only/);
    assert.deepEqual(runSocketFilter(write(SK_BUFF.cb + 16), frame).ctx.cb, [0, 0, 0, 0, 5]);
    assert.equal(runCgroupSkb(write(SK_BUFF.priority), frame).ctx.priority, 5);
    assert.throws(() => runCgroupSkb(write(SK_BUFF.tc_index), frame), /read-only/);
    assert.throws(() => runTc(vmOf('r0 = *(u32 *)(r1 + 192)\nexit', memory), frame), MemoryFault);
  });

  it('reads legacy ld_abs/ld_ind from skb->data and ends the program with 0 out of bounds', () => {
    const memory = new Memory();
    const vm = vmOf('r0 = *(u16 *)skb[12]\nexit', memory);
    assert.equal(runTc(vm, frame).retval, 0x0800, 'TC: offset 12 is the EtherType');
    assert.equal(runSocketFilter(vm, frame).retval, 0x0a00, 'socket filter: offset 12 is the IPv4 source address');
    assert.equal(runSocketFilter(vm, frame, { dataStart: 'mac' }).retval, 0x0800, 'AF_PACKET: from the MAC header');
    assert.equal(runSkb(vmOf('r0 = *(u8 *)skb[100]\nr0 = 9\nexit', memory), ProgramType.SOCKET_FILTER, frame).retval, 0);
    const keep = runSocketFilter(vmOf('r0 = 1000\nexit', memory), frame);
    assert.equal(keep.keep, frame.length - 14);
  });

  it('narrows 16-bit fields on read-back as the kernel stores them', () => {
    const memory = new Memory();
    const vm = vmOf(`
      r2 = 0x12345
      *(u32 *)(r1 + ${SK_BUFF.tc_index}) = r2
      *(u32 *)(r1 + ${SK_BUFF.queue_mapping}) = r2
      r0 = 0
      exit`, memory);
    const { ctx } = runTc(vm, frame);
    assert.equal(ctx.tc_index, 0x2345);
    assert.equal(ctx.queue_mapping, 0, 'a queue_mapping of 0xffff or more is ignored');
    assert.equal(decodeSkBuff(new Uint8Array(192)).len, 0);
  });
});

describe('tracing contexts', () => {
  it('lays out pt_regs for kprobes and perf events', () => {
    const memory = new Memory();
    using ctx = kprobeContext(memory, callRegs([11n, 22n, -1n], { ip: 0xffffffff81000000n }));
    const vm = new Interpreter(assemble(`r0 = *(u64 *)(r1 + ${ptRegsOffset('si')})\nr2 = *(u64 *)(r1 + ${ptRegsOffset('dx')})\nr0 += r2\nexit`), { memory });
    assert.equal(vm.run(ctx.address).r0, 21n);
    assert.equal(ctx.struct.size, PT_REGS_SIZE);
    assert.throws(() => new Interpreter(assemble('r2 = 1\n*(u64 *)(r1 + 0) = r2\nexit'), { memory }).run(ctx.address), /read-only/);
    using pe = perfEventContext(memory, { samplePeriod: 100n, addr: 0x1000n });
    assert.equal(new Interpreter(assemble(`r0 = *(u64 *)(r1 + ${PT_REGS_SIZE})\nexit`), { memory }).run(pe.address).r0, 100n);
  });

  it('builds tracepoint records from a format file, dynamic arrays included', () => {
    const format = parseTracepointFormat(`name: sched_process_exec
ID: 365
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:__data_loc char[] filename;\toffset:8;\tsize:4;\tsigned:0;
\tfield:pid_t pid;\toffset:12;\tsize:4;\tsigned:1;
\tfield:char comm[16];\toffset:16;\tsize:16;\tsigned:0;

print fmt: "filename=%s pid=%d", __get_str(filename), REC->pid`);
    assert.equal(format.id, 365);
    assert.deepEqual(format.fields.map((f) => [f.name, f.offset, f.size]), [
      ['common_type', 0, 2], ['common_flags', 2, 1], ['common_preempt_count', 3, 1], ['common_pid', 4, 4],
      ['filename', 8, 4], ['pid', 12, 4], ['comm', 16, 16],
    ]);
    assert.equal(format.fields[4]!.dynamic, 'data_loc');
    const record = encodeTracepointRecord(format, { filename: '/bin/sh', pid: -2, comm: 'sh' });
    const v = new DataView(record.buffer);
    assert.equal(v.getUint16(0, true), 365);
    assert.equal(v.getUint32(8, true), (8 << 16) | 32, 'length 8 (with NUL) at offset 32');
    assert.equal(new TextDecoder().decode(record.subarray(32, 39)), '/bin/sh');
    assert.equal(v.getInt32(12, true), -2);
    assert.throws(() => encodeTracepointRecord(format, { nope: 1 }), /no field 'nope'/);
    const memory = new Memory();
    using ctx = tracepointContext(memory, format, { pid: 42 });
    assert.equal(new Interpreter(assemble('r0 = *(u32 *)(r1 + 12)\nexit'), { memory }).run(ctx.address).r0, 42n);
    assert.throws(() => new Interpreter(assemble('r0 = *(u8 *)(r1 + 40)\nexit'), { memory }).run(ctx.address), MemoryFault);
  });

  it('gives raw tracepoint args and syscall contexts of exactly their size', () => {
    const memory = new Memory();
    using raw = rawTracepointContext(memory, [1n, 2n, 3n]);
    const sum = new Interpreter(assemble('r0 = *(u64 *)(r1 + 0)\nr2 = *(u64 *)(r1 + 16)\nr0 += r2\nexit'), { memory });
    assert.equal(sum.run(raw.address).r0, 4n);
    assert.throws(() => new Interpreter(assemble('r0 = *(u64 *)(r1 + 24)\nexit'), { memory }).run(raw.address), MemoryFault);
    using sys = syscallContext(memory, Uint8Array.of(1, 2, 3, 4));
    new Interpreter(assemble('r2 = *(u32 *)(r1 + 0)\nr2 += 1\n*(u32 *)(r1 + 0) = r2\nr0 = 0\nexit'), { memory }).run(sys.address);
    assert.deepEqual([...sys.bytes()], [2, 2, 3, 4]);
  });
});

describe('packets from a capture file through a program', () => {
  it('runs an XDP parser over every packet tcpdump captured', async () => {
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { repoRoot } = await import('../../support/shared.js');
    const { readCapture } = await import('../../../src/net/index.js');
    // XDP_PASS for UDP to port 53, XDP_DROP for other UDP, XDP_ABORTED for anything else.
    const vm = vmOf(`
      r2 = *(u32 *)(r1 + 0)
      r3 = *(u32 *)(r1 + 4)
      r0 = 0
      r4 = r2
      r4 += 42
      if r4 > r3 goto out
      r5 = *(u16 *)(r2 + 12)
      if r5 != 0x8 goto out
      r5 = *(u8 *)(r2 + 23)
      if r5 != 17 goto out
      r0 = 1
      r5 = *(u16 *)(r2 + 36)
      if r5 != 0x3500 goto out
      r0 = 2
    out:
      exit`);
    const file = new Uint8Array(readFileSync(join(repoRoot, 'test', 'net', 'fixtures', 'lo-us.pcap')));
    const actions = [...readCapture(file)].map((p) => runXdp(vm, p.data).action);
    assert.deepEqual(actions, ['XDP_DROP', 'XDP_ABORTED', 'XDP_ABORTED', 'XDP_ABORTED', 'XDP_DROP', 'XDP_ABORTED']);
  });
});
