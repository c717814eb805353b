// Every object fixture, parsed by loadObjectSpec and checked against llvm-readelf-19,
// llvm-objdump-19 and libbpf itself (libbpf-oracle.c: open, and load for loadable fixtures).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadObjectSpec, MapType, ProgramType, type MapSpec, type ObjectSpec } from '../../src/object/index.js';
import { needTool } from '../support/tools.js';
import { repoRoot, sharedPath } from '../support/shared.js';
import { kernelSkip } from '../support/kernel.js';
import {
  libbpfDataMapName, libbpfOracle, loadableFixtures, objdump, objdumpFunctions, objectFixtures, objectsDir, oracleReport,
  readelf, readelfJson, scratchBpffs, type OracleMap,
} from './support.js';

const options = { programTypes: { custom_filter: { type: ProgramType.SOCKET_FILTER } } };
const load = (name: string): ObjectSpec => loadObjectSpec(readFileSync(join(objectsDir, name)), options);
const isData = (m: MapSpec): boolean => ['data', 'rodata', 'bss', 'kconfig'].includes(m.origin);

test('every fixture has its source and parses', () => {
  assert.ok(objectFixtures.length >= 10, objectFixtures.join(','));
  for (const f of objectFixtures) {
    assert.ok(existsSync(join(objectsDir, f.replace(/\.o$/, '.c'))), `${f} has a .c source`);
    const spec = load(f);
    assert.ok(spec.programs.length > 0, `${f}: programs`);
    assert.ok(spec.license.length > 0, `${f}: license`);
    for (const p of spec.programs) {
      const slots = p.instructions.reduce((n, i) => n + (i.kind === 'lddw' ? 2 : 1), 0);
      const last = p.functions[p.functions.length - 1]!;
      assert.equal(slots, last.slot + last.slotCount, `${f}/${p.name}: function spans cover the program`);
      assert.equal(p.functions[0]!.name, p.name, `${f}/${p.name}: entry function first`);
      for (const r of p.references) assert.equal(p.instructions[r.insn]!.kind, r.kind === 'kfunc' ? 'call' : 'lddw', `${f}/${p.name}: reference at ${r.insn}`);
    }
  }
});

test('programs, functions and data sections agree with llvm-readelf-19', { skip: needTool(readelf, 'llvm-readelf-19') }, () => {
  for (const f of objectFixtures) {
    const spec = load(f);
    const elf = readelfJson(join(objectsDir, f));
    const secName = (i: number) => elf.sections[i]!.name;
    const exec = new Set(elf.sections.filter((s) => (s.flags & 4) !== 0 && s.size > 0).map((s) => s.index));
    const funcs = elf.symbols.filter((s) => s.type === 'Function' && exec.has(s.section));
    const entries = funcs.filter((s) => secName(s.section) !== '.text')
      .sort((a, b) => a.section - b.section || a.value - b.value);
    assert.deepEqual(spec.programs.map((p) => [p.name, p.sectionName]), entries.map((s) => [s.name, secName(s.section)]), `${f}: programs`);
    const size = new Map(funcs.map((s) => [s.name, s.size / 8]));
    const textFuncs = new Set(funcs.filter((s) => secName(s.section) === '.text').map((s) => s.name));
    for (const p of spec.programs) {
      for (const fn of p.functions) assert.equal(fn.slotCount, size.get(fn.name), `${f}/${p.name}/${fn.name}: symbol size`);
      // Every relocation inside a placed function, except calls and function addresses, is a reference.
      let expected = 0;
      for (const fn of p.functions) {
        const sym = funcs.find((s) => s.name === fn.name)!;
        const rels = elf.relocations.get(`.rel${fn.section}`) ?? [];
        expected += rels.filter((r) => r.offset >= sym.value && r.offset < sym.value + sym.size
          && r.symbol !== '.text' && !textFuncs.has(r.symbol)).length;
      }
      assert.equal(p.references.length, expected, `${f}/${p.name}: references`);
    }
    const dataSections = elf.sections.filter((s) => /^\.(data|rodata|bss)(\.|$)/.test(s.name) && s.size > 0);
    assert.deepEqual(spec.maps.filter((m) => ['data', 'rodata', 'bss'].includes(m.origin)).map((m) => [m.name, m.valueSize]),
      dataSections.map((s) => [s.name, s.size]), `${f}: global-data maps`);
    const mapSection = elf.sections.find((s) => s.name === '.maps' || s.name === 'maps');
    const mapSymbols = mapSection === undefined ? [] : elf.symbols.filter((s) => s.section === mapSection.index && s.type === 'Object').map((s) => s.name).sort();
    assert.deepEqual(spec.maps.filter((m) => m.origin === 'btf' || m.origin === 'legacy').map((m) => m.name).sort(), mapSymbols, `${f}: map definitions`);
  }
});

test('function sizes agree with llvm-objdump-19', { skip: needTool(objdump, 'llvm-objdump-19') }, () => {
  for (const f of objectFixtures) {
    const listing = objdumpFunctions(join(objectsDir, f));
    for (const p of load(f).programs) {
      for (const fn of p.functions) {
        assert.deepEqual({ section: fn.section, slots: fn.slotCount }, listing.get(fn.name), `${f}/${p.name}/${fn.name}`);
      }
    }
  }
});

function compareMap(f: string, ours: MapSpec, theirs: OracleMap): void {
  const what = `${f}: map ${ours.name}`;
  assert.deepEqual(
    { type: ours.type, key: ours.keySize, value: ours.valueSize, max: ours.maxEntries, flags: ours.flags, numa: ours.numaNode, extra: Number(ours.mapExtra), pinned: ours.pinning === 1 },
    { type: theirs.type, key: theirs.key, value: theirs.value, max: theirs.max, flags: theirs.flags, numa: theirs.numa, extra: theirs.extra, pinned: theirs.pinned },
    what);
  if (ours.innerMap === undefined) assert.equal(theirs.inner, null, `${what}: inner map`);
  else compareMap(f, ours.innerMap, theirs.inner!);
}

const oracle = libbpfOracle();
const bench = sharedPath('bench', 'kern');

/**
 * Compares our spec of `file` with libbpf's. Programs whose section this libbpf does not know
 * (type 0) get a placeholder type from us and are not compared on type.
 */
function compareWithLibbpf(oraclePath: string, file: string): 'compared' | 'refused' {
  const theirs = oracleReport(oraclePath, file);
  if (theirs.error !== undefined) return 'refused';
  const unknown = Object.fromEntries(theirs.programs.filter((p) => p.type === 0).map((p) => [p.name, { type: ProgramType.SOCKET_FILTER }]));
  const spec = loadObjectSpec(readFileSync(file), { programTypes: { ...unknown, ...options.programTypes } });
  const f = file.replace(`${objectsDir}/`, '');
  assert.deepEqual(spec.programs.map((p) => p.name).sort(), theirs.programs.map((p) => p.name).sort(), `${f}: program names`);
  for (const t of theirs.programs) {
    const p = spec.program(t.name)!;
    assert.equal(p.sectionName.replace(/^\?/, ''), t.section, `${f}/${t.name}: section`);
    assert.equal(p.autoload, t.autoload, `${f}/${t.name}: autoload`);
    assert.equal(p.functions[0]!.slotCount, t.insns, `${f}/${t.name}: instructions before linking`);
    // libbpf 1.1 leaves sections it does not know (added in later releases) as UNSPEC.
    if (t.type !== 0) assert.deepEqual([p.type, p.expectedAttachType], [t.type, t.attach], `${f}/${t.name}: type and attach type`);
  }
  const byName = new Map(spec.maps.map((m) => [isData(m) ? libbpfDataMapName(file, m.name) : m.name, m]));
  assert.deepEqual([...byName.keys()].sort(), theirs.maps.map((m) => m.name).sort(), `${f}: map names`);
  for (const m of theirs.maps) compareMap(f, byName.get(m.name)!, m);
  return 'compared';
}

test('programs and maps agree with libbpf (open)', { skip: 'skip' in oracle ? oracle.skip : false }, () => {
  const path = (oracle as { path: string }).path;
  for (const f of objectFixtures) {
    const outcome = compareWithLibbpf(path, join(objectsDir, f));
    if (outcome === 'refused') assert.equal(f, 'maps_legacy.o', 'only the legacy-maps fixture is refused by libbpf 1.x');
  }
});

test('the other objects of the repository agree with libbpf (open)', { skip: 'skip' in oracle ? oracle.skip : false }, (t) => {
  const path = (oracle as { path: string }).path;
  const dirs = [join(repoRoot, 'bpf', 'fixtures'), ...(bench.path === undefined ? [] : [bench.path])];
  let compared = 0;
  for (const dir of dirs) {
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.o')).sort()) {
      if (compareWithLibbpf(path, join(dir, f)) === 'compared') compared++;
    }
  }
  t.diagnostic(`${compared} objects compared`);
  assert.ok(compared >= 3);
});

test('a big-endian object gives the same spec as its little-endian twin', () => {
  const fixtures = join(repoRoot, 'bpf', 'fixtures');
  const le = loadObjectSpec(readFileSync(join(fixtures, 'isa_mix.o')));
  const be = loadObjectSpec(readFileSync(join(fixtures, 'isa_mix.bpfeb.o')));
  assert.equal(be.bigEndian, true);
  // clang schedules some byte-order-dependent code differently, so compare the shape, not each instruction.
  const shape = (spec: ObjectSpec) => spec.programs.map((p) => [p.name, p.sectionName, p.type, p.functions.map((f) => [f.name, f.slotCount]),
    p.references.map((r) => [r.kind, r.kind === 'map' || r.kind === 'map_value' ? r.map : r.extern]), p.funcInfo.length]);
  assert.deepEqual(shape(be), shape(le));
  assert.deepEqual(be.variables, le.variables);
  assert.deepEqual(be.maps.map((m) => [m.name, m.type, m.keySize, m.valueSize, m.maxEntries, m.flags]),
    le.maps.map((m) => [m.name, m.type, m.keySize, m.valueSize, m.maxEntries, m.flags]));
});

test('linked programs agree with libbpf and the kernel (load)', { skip: ('skip' in oracle ? oracle.skip : false) || kernelSkip() }, () => {
  const path = (oracle as { path: string }).path;
  const bpffs = scratchBpffs();
  if ('skip' in bpffs) throw new Error(bpffs.skip);
  try {
    for (const f of loadableFixtures) {
      const theirs = oracleReport(path, join(objectsDir, f), bpffs.path);
      assert.equal(theirs.loaded, true, `${f}: libbpf loads it`);
      const spec = load(f);
      for (const t of theirs.linked!) {
        const p = spec.program(t.name)!;
        const last = p.functions[p.functions.length - 1]!;
        assert.equal(last.slot + last.slotCount, t.insns, `${f}/${t.name}: linked instruction count`);
        assert.deepEqual(p.funcInfo.map((fi) => fi.typeId), t.funcTypes, `${f}/${t.name}: functions in libbpf's order`);
        // The verifier drops the line info of dead code (branches on .rodata constants).
        if (f === 'globals.o') assert.ok(p.lineInfo.length >= t.lineInfo, `${f}/${t.name}: line info records`);
        else assert.equal(p.lineInfo.length, t.lineInfo, `${f}/${t.name}: line info records`);
      }
      if (f === 'maps_pinned.o') {
        // libbpf pins a LIBBPF_PIN_BY_NAME map at <pin root>/<name>.
        assert.ok(existsSync(join(bpffs.path, 'shared_counts')), 'shared_counts pinned by name');
        assert.ok(!existsSync(join(bpffs.path, 'private_count')), 'private_count not pinned');
      }
    }
  } finally {
    bpffs.cleanup();
  }
});

test('map definitions of maps_btf.o', () => {
  const spec = load('maps_btf.o');
  const m = (name: string) => spec.map(name)!;
  assert.deepEqual([m('flows').type, m('flows').keySize, m('flows').valueSize, m('flows').maxEntries], [MapType.HASH, 16, 16, 1024]);
  assert.equal(spec.btf!.type(m('flows').keyTypeId).name, 'flow_key');
  assert.equal(spec.btf!.type(m('flows').valueTypeId).name, 'pkt_stats');
  assert.deepEqual(m('perf_events').keyTypeId, 0, 'key_size form has no key type');
  assert.equal(m('routes').flags, 1, 'BPF_F_NO_PREALLOC');
  assert.equal(m('bloom').mapExtra, 3n);
  assert.equal(m('on_node0').numaNode, 0);
  assert.deepEqual(m('outer_array').slots, [{ index: 0, name: 'inner_a' }, { index: 3, name: 'inner_b' }]);
  assert.deepEqual(m('jump_table').slots, [{ index: 1, name: 'tail_pass' }, { index: 2, name: 'tail_drop' }]);
  assert.equal(m('outer_hash').innerMap?.name, 'outer_hash.inner');
  assert.deepEqual(m('outer_hash').slots, [{ index: 5, name: 'inner_h' }]);
  assert.deepEqual([m('outer_hash').innerMap!.type, m('outer_hash').innerMap!.valueSize], [MapType.HASH, 8]);
  assert.equal(m('events').type, MapType.RINGBUF);
  assert.equal(m('events').maxEntries, 256 * 1024);
});

test('legacy maps section', () => {
  const spec = load('maps_legacy.o');
  assert.deepEqual(spec.maps.map((m) => [m.name, m.origin, m.type, m.keySize, m.valueSize, m.maxEntries, m.flags]), [
    ['packet_count', 'legacy', MapType.ARRAY, 4, 8, 256, 0],
    ['conn_table', 'legacy', MapType.HASH, 8, 16, 4096, 1],
  ]);
  assert.equal(spec.kernelVersion, 0x060c00);
  const prog = spec.program('legacy_counter')!;
  assert.deepEqual(prog.references.map((r) => r.kind === 'map' && r.map), ['packet_count', 'conn_table']);
  for (const r of prog.references) {
    const insn = prog.instructions[r.insn]!;
    assert.deepEqual([insn.kind, insn.src, insn.imm], ['lddw', 1, 0], 'BPF_PSEUDO_MAP_FD, fd left for the loader');
  }
});
