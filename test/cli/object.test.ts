// `ebpf object show`, run as a user runs it, on every object fixture.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { ObjectReport } from '../../src/cli/object.js';
import { repoRoot } from '../support/shared.js';
import { needTool } from '../support/tools.js';
import { objdump, objdumpFunctions, objectFixtures, objectsDir } from '../object/support.js';

const bin = join(repoRoot, 'bin', 'ebpf.js');
const ebpf = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd: repoRoot, encoding: 'utf8' });
const show = (name: string, ...extra: string[]): ObjectReport => {
  const r = ebpf(['object', 'show', join('bpf', 'objects', name), '-j', ...extra]);
  assert.equal(r.status, 0, `${name}: ${r.stderr}`);
  return JSON.parse(r.stdout) as ObjectReport;
};

test('object show -j: instruction counts agree with llvm-objdump-19 for every fixture', { skip: needTool(objdump, 'llvm-objdump-19') }, () => {
  for (const f of objectFixtures) {
    const report = show(f, ...(f === 'unknown_section.o' ? ['--prog-type', 'custom_filter=socket_filter'] : []));
    const listing = objdumpFunctions(join(objectsDir, f));
    for (const p of report.programs) {
      assert.equal(p.insns, p.functions.reduce((n, fn) => n + listing.get(fn.name)!.slots, 0), `${f}/${p.name}: linked slots`);
      assert.equal(p.functions[0]!.insns, listing.get(p.name)!.slots, `${f}/${p.name}: entry function`);
    }
  }
});

test('object show -j: maps, globals, externs and program types', () => {
  const maps = show('maps_btf.o');
  assert.equal(maps.license, 'Dual BSD/GPL');
  const m = (name: string) => maps.maps.find((x) => x.name === name)!;
  assert.deepEqual([m('routes').type, m('routes').keySize, m('routes').valueSize, m('routes').maxEntries, m('routes').flagNames], ['lpm_trie', 8, 4, 255, ['NO_PREALLOC']]);
  assert.equal(m('flows').key, 'struct flow_key');
  assert.equal(m('bloom').mapExtra, '3');
  assert.equal(m('outer_hash').innerMap!.type, 'hash');
  assert.deepEqual(m('jump_table').slots, [{ index: 1, name: 'tail_pass' }, { index: 2, name: 'tail_drop' }]);
  assert.equal(show('maps_pinned.o').maps.find((x) => x.name === 'shared_counts')!.pinning, 'by_name');

  const globals = show('globals.o');
  const g = (name: string) => globals.globals.find((x) => x.name === name)!;
  assert.deepEqual([g('limits').section, g('limits').offset, g('limits').size, g('limits').constant], ['.rodata', 28, 16, true]);
  assert.equal(g('limits').type, 'volatile const struct limits');
  assert.equal(g('hidden_seen').linkage, 'static');

  const net = show('sections_net.o');
  const p = (name: string) => net.programs.find((x) => x.name === name)!;
  assert.deepEqual([p('sec_connect4').type, p('sec_connect4').attachType], ['cgroup_sock_addr', 'cgroup_inet4_connect']);
  assert.deepEqual([p('sec_cgroup_skb_ingress').attachType, p('sec_kprobe').attachType], ['cgroup_inet_ingress', null]);
  assert.deepEqual([p('sec_tracepoint').type, p('sec_tracepoint').attachTarget], ['tracepoint', 'syscalls/sys_enter_execve']);
  assert.equal(p('sec_syscall').sleepable, true);

  const ext = show('externs.o');
  assert.deepEqual(ext.externs.map((e) => e.name), ['CONFIG_BPF_JIT', 'CONFIG_HZ', 'LINUX_KERNEL_VERSION', 'CONFIG_BPF_SYSCALL', 'CONFIG_LOCALVERSION', 'bpf_prog_active', 'bpf_rcu_read_lock', 'bpf_rcu_read_unlock', 'init_task']);
});

test('object show: text output', () => {
  const r = ebpf(['object', 'show', 'bpf/objects/subprogs.o']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^bpf\/objects\/subprogs\.o: license "GPL"$/m);
  assert.match(r.stdout, /^ {2}sub_socket +socket +socket_filter +- +70 +sub_socket,loop_body,square,each_elem,sum_squares,global_clamp$/m);
  assert.match(r.stdout, /^ {2}values +array +4 +8 +8 +0$/m);
  assert.match(r.stdout, /^ {2}total +\.bss +0 +8 +__u64$/m);
});

test('object show: errors and usage', () => {
  const unknown = ebpf(['object', 'show', 'bpf/objects/unknown_section.o']);
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /unknown section name 'my_filter\/v1'.*--prog-type/);
  const typed = ebpf(['object', 'show', 'bpf/objects/unknown_section.o', '--prog-type', 'my_filter/v1=xdp', '-j']);
  assert.equal(typed.status, 0, typed.stderr);
  assert.equal((JSON.parse(typed.stdout) as ObjectReport).programs[0]!.type, 'xdp');
  assert.equal(ebpf(['object', 'show', 'bpf/objects/unknown_section.o', '--prog-type', 'x=nonsense']).status, 2);
  assert.equal(ebpf(['object', 'list', 'x.o']).status, 2);
  assert.equal(ebpf(['object']).status, 2);
  const missing = ebpf(['object', 'show', 'no/such/file.o']);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /ENOENT/);
  const help = ebpf(['object', '--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /^Usage: ebpf object show FILE/);
  const notElf = ebpf(['object', 'show', 'package.json']);
  assert.equal(notElf.status, 1);
  assert.match(notElf.stderr, /not an ELF file|too short/);
  assert.doesNotMatch(notElf.stderr + unknown.stderr, /at .*\.js:\d+/);
});
