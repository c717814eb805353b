// The ObjectSpec API: global variables and constants, externs, linking details, determinism.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseBtf } from '../../src/btf/parse.js';
import { applyCoreRelocations } from '../../src/btf/core.js';
import { EbpfError } from '../../src/errors.js';
import {
  BPF_PSEUDO_FUNC, BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE,
} from '../../src/isa/opcodes.js';
import { loadObjectSpec, MapFlag, MapType } from '../../src/object/index.js';
import { needTool } from '../support/tools.js';
import { objectsDir, readelf, readelfJson } from './support.js';

const bytesOf = (name: string): Uint8Array => new Uint8Array(readFileSync(join(objectsDir, name)));

/** A section's bytes as `llvm-readelf -x` dumps them. */
function hexDump(file: string, section: string): Uint8Array {
  const r = spawnSync(readelf!, ['-x', section, file], { encoding: 'utf8' });
  const bytes: number[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /^\s*0x[0-9a-f]+ ((?:[0-9a-f]{2,8} ?){1,4})/.exec(line);
    if (m) for (const word of m[1]!.trim().split(' ')) for (let i = 0; i < word.length; i += 2) bytes.push(parseInt(word.slice(i, i + 2), 16));
  }
  return new Uint8Array(bytes);
}

test('global data maps hold their sections; variables sit where the symbols say', { skip: needTool(readelf, 'llvm-readelf-19') }, () => {
  const file = join(objectsDir, 'globals.o');
  const spec = loadObjectSpec(bytesOf('globals.o'));
  for (const m of spec.maps) {
    if (m.origin === 'bss') assert.deepEqual(m.data, new Uint8Array(m.valueSize), `${m.name} is zero`);
    else assert.deepEqual(m.data, hexDump(file, m.name), `${m.name} contents`);
    assert.equal(m.flags & MapFlag.RDONLY_PROG, m.origin === 'rodata' ? MapFlag.RDONLY_PROG : 0, `${m.name}: read-only to programs`);
  }
  const { symbols, sections } = readelfJson(file);
  for (const v of spec.variables) {
    const sym = symbols.find((s) => s.name === v.name && s.type === 'Object');
    if (sym === undefined) continue; // static variables the compiler made (____fmt) have no symbol
    assert.deepEqual([sections[sym.section]!.name, sym.value, sym.size], [v.section, v.offset, v.size], v.name);
  }
  assert.deepEqual(spec.variables.filter((v) => v.linkage === 'static').map((v) => v.name), ['globals_socket.____fmt', 'hidden_seen']);
  // The BTF the spec carries has libbpf's fixed-up DATASECs: real sizes and offsets.
  const rodata = spec.btf!.type(spec.map('.rodata')!.valueTypeId);
  assert.equal(rodata.kind, 'datasec');
  assert.equal(rodata.kind === 'datasec' && rodata.size, 64);
  assert.deepEqual(rodata.kind === 'datasec' && rodata.vars.map((v) => v.offset), [0, 4, 8, 16, 20, 28, 44, 50]);
});

test('getVariable decodes and setConstant/setVariable encode by BTF type', () => {
  const input = bytesOf('globals.o');
  const before = input.slice();
  const spec = loadObjectSpec(input);
  assert.equal(spec.getVariable('threshold'), -5n);
  assert.equal(spec.getVariable('default_verdict'), 'VERDICT_PASS');
  assert.deepEqual(spec.getVariable('limits'), { min_len: 14, max_len: 1514, ports: [22, 80, 443, 0] });
  spec.setConstant('target_pid', 1234);
  spec.setConstant('enabled', false);
  spec.setConstant('tag', 'lo');
  spec.setConstant('limits', { min_len: 60, max_len: 9000, ports: [1, 2, 3, 4] });
  spec.setConstant('default_verdict', 'VERDICT_DROP');
  spec.setConstant('mac', new Uint8Array([1, 2, 3, 4, 5, 6]));
  const data = spec.map('.rodata')!.data!;
  assert.deepEqual([...data.subarray(0, 5)], [0xd2, 0x04, 0, 0, 0]);
  assert.deepEqual([...data.subarray(16, 26)], [2, 0, 0, 0, 0x6c, 0x6f, 0, 0, 0, 0]);
  assert.deepEqual(spec.getVariable('limits'), { min_len: 60, max_len: 9000, ports: [1, 2, 3, 4] });
  assert.deepEqual(spec.getVariable('mac'), [1, 2, 3, 4, 5, 6]);
  spec.setVariable('packets', 7n);
  assert.equal(spec.getVariable('packets'), 7n);
  spec.setVariable('histogram', [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(spec.map('.bss')!.data![8], 1);
  assert.throws(() => spec.setConstant('packets', 1n), /not a read-only \.rodata section/);
  assert.throws(() => spec.setConstant('nope', 1), (e: unknown) => e instanceof EbpfError && /no global variable 'nope'/.test(e.message));
  assert.throws(() => spec.setConstant('mac', new Uint8Array(3)), /3 bytes given, the variable has 6/);
  assert.throws(() => spec.setConstant('target_pid', 'x'), (e: unknown) => e instanceof EbpfError && /set variable 'target_pid'/.test(e.message));
  assert.deepEqual(input, before, 'the input bytes are not written');
  // A fresh spec from the same bytes is unaffected, and equal to any other parse of them.
  const again = loadObjectSpec(bytesOf('globals.o'));
  assert.equal(again.getVariable('target_pid'), 0);
  assert.deepEqual(again.programs, loadObjectSpec(bytesOf('globals.o')).programs);
});

test('global data references: lddw BPF_PSEUDO_MAP_VALUE with the offset in imm2', () => {
  const spec = loadObjectSpec(bytesOf('globals.o'));
  const xdp = spec.program('globals_xdp')!;
  for (const r of xdp.references) {
    assert.equal(r.kind, 'map_value');
    const insn = xdp.instructions[r.insn]!;
    assert.ok(insn.kind === 'lddw');
    assert.deepEqual([insn.src, insn.imm, insn.kind === 'lddw' && insn.imm2], [BPF_PSEUDO_MAP_VALUE, 0, r.kind === 'map_value' && r.offset]);
  }
  const refs = xdp.references.map((r) => r.kind === 'map_value' && [r.map, r.offset, r.symbol]);
  assert.deepEqual(refs, [['.rodata', 28, 'limits'], ['.rodata.str1.1', 0, undefined], ['.rodata', 8, 'threshold'], ['.data', 0, 'packets']]);
  // `limits.ports[1]` is read at .rodata+28+10 by the instruction after the lddw.
  const next = xdp.instructions[xdp.references[0]!.insn + 1]!;
  assert.deepEqual([next.kind, next.off], ['ldx', 10]);
});

test('externs: .kconfig laid out like libbpf, ksyms and kfuncs stay symbolic', () => {
  const spec = loadObjectSpec(bytesOf('externs.o'));
  const kconfig = spec.externs.filter((e) => e.kind === 'kconfig');
  // libbpf: by alignment (largest first), then size, then name.
  assert.deepEqual(kconfig.map((e) => [e.name, e.offset, e.size, e.kind === 'kconfig' && e.type]), [
    ['CONFIG_BPF_JIT', 0, 4, 'tristate'], ['CONFIG_HZ', 4, 4, 'int'], ['LINUX_KERNEL_VERSION', 8, 4, 'int'],
    ['CONFIG_BPF_SYSCALL', 12, 1, 'bool'], ['CONFIG_LOCALVERSION', 13, 16, 'char_array'],
  ]);
  const map = spec.map('.kconfig')!;
  assert.deepEqual([map.type, map.valueSize, map.maxEntries, map.flags], [MapType.ARRAY, 29, 1, MapFlag.RDONLY_PROG | MapFlag.MMAPABLE]);
  const datasec = spec.btf!.type(map.valueTypeId);
  assert.ok(datasec.kind === 'datasec' && datasec.size === 29);
  const ksyms = spec.externs.filter((e) => e.kind === 'ksym');
  assert.deepEqual(ksyms.map((e) => [e.name, e.kind === 'ksym' && e.func, e.kind === 'ksym' && e.typeId === 0]), [
    ['bpf_prog_active', false, false], ['bpf_rcu_read_lock', true, false], ['bpf_rcu_read_unlock', true, false], ['init_task', false, true],
  ]);
  const prog = spec.program('on_switch')!;
  for (const r of prog.references) {
    const insn = prog.instructions[r.insn]!;
    if (r.kind === 'kfunc') assert.deepEqual([insn.kind, insn.src, insn.imm], ['call', BPF_PSEUDO_KFUNC_CALL, 0]);
    else if (r.kind === 'ksym') assert.deepEqual([insn.kind, insn.src, insn.imm], ['lddw', 0, 0]);
    else if (r.kind === 'map_value' && r.map === '.kconfig') {
      assert.equal(insn.kind === 'lddw' && insn.imm2, spec.externs.find((e) => e.name === r.extern && e.kind === 'kconfig')!.kind === 'kconfig' ? r.offset : -1);
    }
  }
  assert.deepEqual(prog.references.filter((r) => r.kind === 'kfunc').map((r) => r.kind === 'kfunc' && r.extern), ['bpf_rcu_read_lock', 'bpf_rcu_read_unlock']);
});

test('linking: calls and callbacks point at the appended subprograms', () => {
  const spec = loadObjectSpec(bytesOf('subprogs.o'));
  const prog = spec.program('sub_socket')!;
  const starts = new Map(prog.functions.map((f) => [f.slot, f.name]));
  const slotOf: number[] = [];
  let slot = 0;
  for (const insn of prog.instructions) {
    slotOf.push(slot);
    slot += insn.kind === 'lddw' ? 2 : 1;
  }
  const targets: string[] = [];
  prog.instructions.forEach((insn, i) => {
    if ((insn.kind === 'call' && insn.target === 'local') || (insn.kind === 'lddw' && insn.src === BPF_PSEUDO_FUNC)) {
      const target = slotOf[i]! + insn.imm + 1;
      assert.ok(starts.has(target), `insn ${i} targets slot ${target}, the start of a function`);
      targets.push(`${insn.kind}:${starts.get(target)}`);
    }
  });
  assert.deepEqual(targets, [
    'lddw:loop_body', 'lddw:each_elem', 'call:sum_squares', 'call:global_clamp', 'call:square', 'call:square', 'call:square',
  ]);
  assert.deepEqual(prog.functions.map((f) => f.name), ['sub_socket', 'loop_body', 'square', 'each_elem', 'sum_squares', 'global_clamp']);
  assert.deepEqual(spec.program('sub_tc')!.functions.map((f) => [f.name, f.global, f.hidden]), [
    ['sub_tc', true, false], ['hidden_twice', true, true], ['global_clamp', true, false], ['sum_squares', false, false], ['square', false, false],
  ]);
  // One func_info per function, at its first slot; line info sorted inside the program.
  assert.deepEqual(prog.funcInfo.map((f) => f.slot), prog.functions.map((f) => f.slot));
  for (const fi of prog.funcInfo) assert.equal(spec.btf!.type(fi.typeId).name, starts.get(fi.slot));
  for (const li of prog.lineInfo) {
    assert.equal(slotOf[li.insn], li.slot);
    assert.match(li.fileName, /subprogs\.c$/);
  }
  assert.ok(prog.lineInfo.some((l) => l.lineText.includes('bpf_loop(16, loop_body, &c, 0)')));
  // The map reference is BPF_PSEUDO_MAP_FD.
  const ref = prog.references.find((r) => r.kind === 'map')!;
  assert.deepEqual([prog.instructions[ref.insn]!.src, ref.kind === 'map' && ref.map], [BPF_PSEUDO_MAP_FD, 'values']);
  // The exception callback named by a BTF decl tag is appended last, though nothing calls it.
  const throwing = loadObjectSpec(bytesOf('exception_cb.o')).program('throwing_tc')!;
  assert.deepEqual(throwing.functions.map((f) => f.name), ['throwing_tc', 'check_len', 'exc_handler']);
});

test('CO-RE records are relative to the linked program and apply against vmlinux', { skip: existsSync('/sys/kernel/btf/vmlinux') ? false : 'no /sys/kernel/btf/vmlinux' }, () => {
  const vmlinux = parseBtf(new Uint8Array(readFileSync('/sys/kernel/btf/vmlinux')));
  const spec = loadObjectSpec(bytesOf('subprogs.o'));
  for (const prog of spec.programs) {
    for (const r of prog.coreRelocations) {
      assert.equal(r.insnOff, r.slot * 8);
      assert.equal(prog.instructions[r.insn]!.kind, 'ldx', `${prog.name}: CO-RE on a load of __sk_buff`);
    }
    const { results } = applyCoreRelocations(prog.instructions, prog.coreRelocations, spec.btf!, vmlinux, { programName: prog.name });
    assert.equal(results.length, prog.coreRelocations.length);
    for (const res of results) assert.equal(res.poisoned, false);
  }
});

test('section names: attach targets and flags reach the programs', () => {
  const trace = loadObjectSpec(bytesOf('sections_trace.o'));
  const p = (name: string) => trace.program(name)!;
  assert.deepEqual([p('sec_lsm_s').sleepable, p('sec_lsm_s').attachTarget], [true, 'bprm_committed_creds']);
  assert.equal(p('sec_uprobe_s').attachTarget, '/proc/self/exe:main');
  assert.equal(p('sec_fentry_no_target').attachTarget, undefined);
  const net = loadObjectSpec(bytesOf('sections_net.o'));
  assert.equal(net.program('sec_xdp_frags')!.xdpFrags, true);
  assert.equal(net.program('sec_tracepoint')!.attachTarget, 'syscalls/sys_enter_execve');
  const fresh = loadObjectSpec(bytesOf('sections_new.o'));
  assert.equal(fresh.program('sec_xdp_not_autoloaded')!.autoload, false);
  assert.equal(fresh.program('sec_socket_optional')!.sectionName, '?socket');
});

test('an unknown section needs an explicit program type', () => {
  const bytes = bytesOf('unknown_section.o');
  assert.throws(() => loadObjectSpec(bytes), (e: unknown) => e instanceof EbpfError
    && /program 'custom_filter': unknown section name 'my_filter\/v1'/.test(e.message));
  const bySection = loadObjectSpec(bytes, { programTypes: { 'my_filter/v1': { type: 1 } } });
  assert.equal(bySection.program('custom_filter')!.type, 1);
  const byName = loadObjectSpec(bytes, { programTypes: { custom_filter: { type: 3, expectedAttachType: 46 } } });
  assert.deepEqual([byName.programs[0]!.type, byName.programs[0]!.expectedAttachType, byName.programs[0]!.attachTarget], [3, 46, undefined]);
});
