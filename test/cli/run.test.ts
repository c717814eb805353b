// `ebpf run OBJ --pcap IN` (and `ebpf prog run --backend vm`), run as a user runs it: the example
// firewall over examples/traffic.pcap, its verdicts against the kernel's test runs of the same packets.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exampleTraffic, kernelVerdicts } from '../../bench/pcap.js';
import { readCapture } from '../../src/net/index.js';
import { loadPacketObject, packetProgram, runPackets } from '../../src/cli/run.js';
import { repoRoot } from '../support/shared.js';
import { kernelSkip } from '../support/kernel.js';

const bin = join(repoRoot, 'bin', 'ebpf.js');
const ebpf = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd: repoRoot, encoding: 'utf8' });
const json = <T>(args: string[]): T => {
  const r = ebpf(args);
  assert.equal(r.status, 0, `ebpf ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
};

interface RunReport {
  program: string; type: string; packets: number; pps: number; passed: number; dropped: number;
  verdicts: Record<string, number>; maps: Record<string, Array<{ key: unknown; value: unknown }>>;
}

const PCAP = 'examples/traffic.pcap';
const OBJ = 'examples/xdp_firewall.o';

describe('ebpf run', () => {
  it('examples/traffic.pcap is what scripts/make-example-pcap.js writes', () => {
    const packets = [...readCapture(readFileSync(join(repoRoot, PCAP)))].map((p) => p.data);
    assert.equal(packets.length, 300);
    assert.deepEqual(packets.map((p) => Buffer.from(p).toString('hex')), exampleTraffic(300, 1).map((p) => Buffer.from(p).toString('hex')));
  });

  it('counts verdicts, writes passed and dropped packets, and shows the maps afterwards', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ebpf-run-'));
    try {
      const passedPath = join(dir, 'passed.pcap'), droppedPath = join(dir, 'dropped.pcap');
      const r = json<RunReport>(['run', OBJ, '--pcap', PCAP, '--out', passedPath, '--dropped', droppedPath, '-j']);
      assert.equal(r.program, 'xdp_firewall');
      assert.equal(r.type, 'xdp');
      assert.equal(r.packets, 300);
      assert.ok(r.pps > 0);
      assert.ok(r.dropped > 30 && r.passed > 200, `${r.passed} passed, ${r.dropped} dropped`);
      assert.deepEqual(r.verdicts, { XDP_PASS: r.passed, XDP_DROP: r.dropped });
      // The program's own per-verdict counters and per-source drops agree.
      const counters = Object.fromEntries(r.maps.verdicts!.map((e) => [e.key, e.value]));
      assert.deepEqual(counters, { 0: 0, 1: r.dropped, 2: r.passed, 3: 0, 4: 0 });
      const blocked = new Set([0x4200000a, 0x250da8c0, 0x0a6433c6]);
      for (const e of r.maps.drops!) assert.ok(blocked.has(e.key as number), `drop from ${String(e.key)}`);
      assert.deepEqual((r.maps['.rodata']![0]!.value as { default_count: number }).default_count, 3);
      const passed = [...readCapture(readFileSync(passedPath))];
      const dropped = [...readCapture(readFileSync(droppedPath))];
      assert.equal(passed.length, r.passed);
      assert.equal(dropped.length, r.dropped);
      // Truncated IPv4 frames are dropped too; every other dropped packet comes from a blocked source.
      for (const p of dropped) {
        if (p.data.length < 34) continue;
        assert.ok(blocked.has(new DataView(p.data.buffer, p.data.byteOffset).getUint32(26, true)));
      }
      const text = ebpf(['run', OBJ, '--pcap', PCAP]);
      assert.equal(text.status, 0, text.stderr);
      assert.match(text.stdout, /^xdp_firewall \(xdp\): 300 packets in [\d.]+ ms, \d+ packets\/s/);
      assert.match(text.stdout, new RegExp(`XDP_DROP\\s+${r.dropped}\\n`));
      assert.match(text.stdout, /maps:\n/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a program that is not a packet program, and a missing --pcap', () => {
    const r = ebpf(['run', 'bpf/objects/sections_net.o', '--prog', 'sec_kprobe', '--pcap', PCAP]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /not a packet program/);
    assert.notEqual(ebpf(['run', OBJ]).status, 0);
  });

  it('gives the kernel\'s verdict for every packet of the example pcap', { skip: kernelSkip() }, () => {
    const packets = [...readCapture(readFileSync(join(repoRoot, PCAP)))].map((p) => p.data);
    const kernel = kernelVerdicts(packets, join(repoRoot, OBJ));
    assert.ok(kernel !== undefined, 'the kernel loads the example firewall');
    const counts: Record<string, number> = {};
    for (const v of kernel) counts[v] = (counts[v] ?? 0) + 1;
    assert.deepEqual(json<RunReport>(['run', OBJ, '--pcap', PCAP, '-j']).verdicts, counts);
  });
});

describe('runPackets', () => {
  it('gives testRun\'s verdicts and data_out in its reused XDP frame, and per packet where helpers move the edges', () => {
    const packets = exampleTraffic(200, 5);
    using obj = loadPacketObject(readFileSync(join(repoRoot, 'bpf/fixtures/vm_contexts.o')));
    for (const name of ['xdp_swap', 'xdp_strip', 'tc_mark', 'sock_udp']) {
      const program = packetProgram(obj, name);
      const seen: Array<[number, string]> = [];
      const result = runPackets(program, packets, (_i, _input, _verdict, dataOut, retval) => seen.push([retval, Buffer.from(dataOut()).toString('hex')]));
      assert.equal(result.packets, packets.length);
      const expected = packets.map((data): [number, string] => {
        const r = program.testRun({ data });
        return [r.retval, Buffer.from(r.dataOut).toString('hex')];
      });
      assert.deepEqual(seen, expected, name);
    }
  });
});

describe('ebpf prog run --backend vm', () => {
  const packet = exampleTraffic(1, 3)[0]!;
  const run = (dir: string, backend: string, extra: string[] = []) => {
    const data = join(dir, 'data.bin');
    writeFileSync(data, packet);
    return json<{ retval: number; durationNs: number; dataOut: string; ctxOut?: string }>(
      ['prog', 'run', 'bpf/fixtures/vm_contexts.o', '--prog', 'tc_mark', '--data-in', data, '--backend', backend, '-j', ...extra]);
  };

  it('runs the program in the VM with the kernel backend\'s output shape', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ebpf-run-'));
    try {
      // Repeated runs work on one packet, as the kernel's: three runs invert the first byte three times.
      const r = run(dir, 'vm', ['--repeat', '3']);
      assert.deepEqual(Object.keys(r).sort(), ['dataOut', 'durationNs', 'retval']);
      assert.equal(r.retval, packet.length > 100 ? 2 : 0);
      assert.equal(r.dataOut.slice(0, 2), (packet[0]! ^ 0xff).toString(16).padStart(2, '0'));
      const text = ebpf(['prog', 'run', 'bpf/fixtures/vm_contexts.o', '--prog', 'tc_mark', '--data-in', join(dir, 'data.bin'), '--backend', 'vm']);
      assert.match(text.stdout, /^Return value: \d+, duration: \d+ns\n$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives the same output as --backend kernel', { skip: kernelSkip() }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'ebpf-run-'));
    try {
      const vm = run(dir, 'vm');
      const kernel = run(dir, 'kernel');
      assert.deepEqual({ ...vm, durationNs: 0 }, { ...kernel, durationNs: 0 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

