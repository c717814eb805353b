// `ebpf prog loadall|show|run`, run as a user runs it, against the kernel and bpftool's own -j output.
// Pins go to a per-test directory of /sys/fs/bpf, removed after.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoadAllReport, ProgramShowReport } from '../../src/cli/prog.js';
import { repoRoot } from '../support/shared.js';
import { kernelSkip } from '../support/kernel.js';
import { needTool } from '../support/tools.js';
import { bpftool, scratchPins } from '../kernel/collection-support.js';

const bin = join(repoRoot, 'bin', 'ebpf.js');
const ebpf = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd: repoRoot, encoding: 'utf8' });
const json = <T>(args: string[], status = 0): T => {
  const r = ebpf(args);
  assert.equal(r.status, status, `ebpf ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
};
const bpftoolJson = <T>(args: string[]): T => JSON.parse(spawnSync(bpftool!, ['-j', ...args], { encoding: 'utf8' }).stdout) as T;

describe('ebpf prog', { skip: kernelSkip() }, () => {
  it('loadall -j --pin: every program loaded, shown as bpftool shows it', { skip: needTool(bpftool, 'bpftool') }, () => {
    using pins = scratchPins();
    const report = json<LoadAllReport>(['prog', 'loadall', 'bpf/objects/globals.o', '--pin', pins.path, '-j']);
    assert.deepEqual(report.programs.map((p) => [p.name, p.type, p.loaded]), [['globals_socket', 'socket_filter', true], ['globals_xdp', 'xdp', true]]);
    assert.deepEqual(report.maps.map((m) => m.kernelName).sort(),
      ['.data.custom', '.rodata.limits', '.rodata.str1.1', 'globals.bss', 'globals.data', 'globals.rodata']);
    for (const p of report.programs) {
      const path = join(pins.path, p.name);
      const ours = json<ProgramShowReport>(['prog', 'show', 'pinned', path, '-j']);
      const theirs = bpftoolJson<ProgramShowReport>(['prog', 'show', 'pinned', path]);
      assert.ok(Math.abs(ours.loaded_at - theirs.loaded_at) <= 2, `loaded_at ${ours.loaded_at} vs ${theirs.loaded_at}`);
      assert.deepEqual({ ...ours, loaded_at: 0 }, { ...theirs, loaded_at: 0 }, p.name);
      assert.equal(ours.id, p.id);
      assert.equal(ours.tag, p.tag);
    }
    // All programs: ours among them; text output as bpftool's.
    const all = json<ProgramShowReport[]>(['prog', 'show', '-j']);
    assert.ok(report.programs.every((p) => all.some((x) => x.id === p.id)));
    const text = ebpf(['prog', 'show', 'id', String(report.programs[0]!.id)]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^${report.programs[0]!.id}: socket_filter  name globals_socket  tag [0-9a-f]{16}  gpl\\n\\tloaded_at `));
  });

  it('loadall reports each failure with the kernel error and the end of the verifier log', () => {
    const report = json<LoadAllReport>(['prog', 'loadall', 'bpf/fixtures/core_poison.o', '-j'], 1);
    const [p] = report.programs;
    assert.equal(p!.loaded, false);
    assert.equal(p!.errno, 'EINVAL');
    assert.match(p!.error!, /^load program 'core_poison'/);
    assert.ok(p!.log!.includes('invalid func unknown#195896080'), p!.log!.join('\n'));

    const trace = json<LoadAllReport>(['prog', 'loadall', 'bpf/objects/sections_trace.o', '-j'], 1);
    const byName = new Map(trace.programs.map((x) => [x.name, x]));
    assert.equal(byName.get('sec_tp_btf')!.loaded, true);
    assert.equal(byName.get('sec_iter_task')!.loaded, true);
    assert.match(byName.get('sec_fentry_no_target')!.error!, /no BTF-based attach target/);
    const text = ebpf(['prog', 'loadall', 'bpf/fixtures/core_poison.o']);
    assert.equal(text.status, 1);
    assert.match(text.stdout, /core_poison +raw_tracepoint +FAILED: load program 'core_poison'.*\n\t.*\n/);
    assert.match(text.stdout, /0\/1 programs loaded, 1 maps\n$/);
  });

  it('run: BPF_PROG_TEST_RUN of one program of an object, as bpftool prog run', { skip: needTool(bpftool, 'bpftool') }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'ebpf-prog-run-'));
    try {
      const data = join(dir, 'packet.bin');
      const packet = new Uint8Array(64).map((_, i) => i);
      writeFileSync(data, packet);
      const r = json<{ retval: number; durationNs: number; dataOut: string }>(
        ['prog', 'run', 'bpf/objects/globals.o', '--prog', 'globals_socket', '--data-in', data, '--repeat', '10', '-j']);
      assert.equal(r.retval, 50);
      assert.equal(typeof r.durationNs, 'number');
      // The packet comes back (the kernel rewrites the Ethernet addresses of an skb test run).
      assert.equal(r.dataOut.slice(28), Buffer.from(packet.subarray(14)).toString('hex'));
      const out = join(dir, 'out.bin');
      const text = ebpf(['prog', 'run', 'bpf/objects/maps_btf.o', '--prog', 'xdp_maps', '--data-in', data, '--data-out', out]);
      assert.equal(text.status, 0, text.stderr);
      assert.match(text.stdout, /^Return value: 2, duration: \d+ns\n$/);
      assert.deepEqual(new Uint8Array(readFileSync(out)), packet);

      // The same program pinned, run by bpftool and by us.
      using pins = scratchPins();
      json<LoadAllReport>(['prog', 'loadall', 'bpf/objects/globals.o', '--pin', pins.path, '-j']);
      const pinned = join(pins.path, 'globals_socket');
      const theirs = JSON.parse(spawnSync(bpftool!, ['-j', 'prog', 'run', 'pinned', pinned, 'data_in', data], { encoding: 'utf8' }).stdout) as { retval: number };
      const ours = json<{ retval: number }>(['prog', 'run', 'pinned', pinned, '--data-in', data, '-j']);
      assert.equal(ours.retval, theirs.retval);

      // A raw tracepoint takes a context and no repeat count.
      const ctx = join(dir, 'args.bin');
      writeFileSync(ctx, new Uint8Array(16));
      assert.equal(json<{ retval: number }>(['prog', 'run', 'bpf/fixtures/core_fields.o', '--prog', 'core_task_fields', '--ctx-in', ctx, '-j']).retval, 0);

      // The VM gives the kernel's answer (test/cli/run.test.ts has more).
      const args = ['prog', 'run', 'bpf/objects/globals.o', '--prog', 'globals_socket', '--data-in', data, '-j'];
      const vm = json<{ retval: number; dataOut: string }>([...args, '--backend', 'vm']);
      const kernel = json<{ retval: number; dataOut: string }>(args);
      assert.deepEqual([vm.retval, vm.dataOut], [kernel.retval, kernel.dataOut]);
      const usage = ebpf(['prog', 'run', 'bpf/objects/globals.o', '--data-in', data]);
      assert.equal(usage.status, 2);
      assert.match(usage.stderr, /--prog NAME: the object has 2 programs/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
