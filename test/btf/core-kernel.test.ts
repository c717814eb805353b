/**
 * CO-RE against libbpf on this machine's kernel: every relocation of the bpf/fixtures/core_*.o
 * objects is resolved by us against /sys/kernel/btf/vmlinux and by libbpf (bpftool -d prog
 * loadall), and the two must agree on the specs, the candidates, the patched values and the
 * poisoned instructions — and fail on the same relocation with the same reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { loadObjectSpec } from '../../src/object/index.js';
import { join } from 'node:path';
import { parseElf, STT_FUNC, type ElfFile } from '../../src/elf/index.js';
import {
  applyCoreRelocations, btfExtFromElf, btfFromElf, CoreError, parseBtf,
  type Btf, type CoreCandidateCache, type CoreRelocationResult,
} from '../../src/btf/index.js';
import { decodeProgram, type Instruction } from '../../src/isa/index.js';
import { findTool, needTool } from '../support/tools.js';
import { repoRoot } from '../support/shared.js';
import { libbpfLoadAll, parseLibbpfCoreLog, renderResult } from './core-libbpf.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';
const fixtures = join(repoRoot, 'bpf', 'fixtures');
const bpftool = findTool('bpftool');

function skipReason(): string | false {
  if (process.platform !== 'linux') return 'needs Linux';
  const tool = needTool(bpftool, 'bpftool');
  if (tool !== false) return tool;
  if (process.getuid?.() !== 0) return 'bpftool prog loadall needs root';
  if (!existsSync(VMLINUX)) return `${VMLINUX} not found (kernel without BTF)`;
  if (!existsSync('/sys/fs/bpf')) return 'bpffs not mounted at /sys/fs/bpf';
  return false;
}
const skip = skipReason();

/** A file's bytes as a plain Uint8Array (a Buffer's `slice` is a view, not a copy). */
const readBytes = (path: string): Uint8Array => {
  const buf = readFileSync(path);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
};

let vmlinuxBtf: Btf | undefined;
const vmlinux = (): Btf => (vmlinuxBtf ??= parseBtf(readBytes(VMLINUX)));

/** Our outcome for one relocation, keyed like libbpf's log: `prog#sectionRelocationIndex`. */
type Ours = { result: CoreRelocationResult; original: Instruction } | { error: CoreError };

/** A program of a section: its symbol name and its first byte. */
function programsOf(elf: ElfFile, sectionIndex: number): { name: string; start: number; end: number }[] {
  const section = elf.sections[sectionIndex]!;
  const funcs = elf.symbols
    .filter((s) => s.section === sectionIndex && s.type === STT_FUNC)
    .sort((a, b) => a.value - b.value);
  return funcs.map((f, i) => ({ name: f.name, start: f.value, end: funcs[i + 1]?.value ?? section.data.length }));
}

/**
 * Applies the object's CO-RE relocations the way libbpf walks them: section by section in
 * `.BTF.ext` order, one candidate cache for the whole object, stopping at the first failure.
 */
function relocateObject(path: string): Map<string, Ours> {
  const elf = parseElf(readBytes(path));
  const btf = btfFromElf(elf)!;
  const ext = btfExtFromElf(elf, btf)!;
  const cache: CoreCandidateCache = new Map();
  const out = new Map<string, Ours>();
  for (const [sectionName, relos] of ext.coreRelos) {
    const section = elf.sections.find((s) => s.name === sectionName)!;
    for (const prog of programsOf(elf, section.index)) {
      const mine = relos
        .map((relo, index) => ({ relo, index }))
        .filter(({ relo }) => relo.insnOff >= prog.start && relo.insnOff < prog.end);
      if (mine.length === 0) continue;
      const instructions = decodeProgram(section.data.subarray(prog.start, prog.end));
      const bySlot = new Map<number, Instruction>();
      let slot = 0;
      for (const insn of instructions) { bySlot.set(slot, insn); slot += insn.kind === 'lddw' ? 2 : 1; }
      const relative = mine.map(({ relo }) => ({ ...relo, insnOff: relo.insnOff - prog.start }));
      const snapshot: CoreCandidateCache = new Map([...cache].map(([id, list]) => [id, [...list]]));
      const record = (results: readonly CoreRelocationResult[]): void => results.forEach((result, i) => {
        out.set(`${prog.name}#${mine[i]!.index}`, { result, original: bySlot.get(result.insnIndex)! });
      });
      try {
        record(applyCoreRelocations(instructions, relative, btf, vmlinux(), { programName: prog.name, cache }).results);
      } catch (err) {
        if (!(err instanceof CoreError)) throw err;
        // libbpf logs the relocations before the failing one: redo those alone.
        const before = relative.slice(0, err.relocationIndex);
        record(applyCoreRelocations(instructions, before, btf, vmlinux(), { programName: prog.name, cache: snapshot }).results);
        out.set(`${prog.name}#${mine[err.relocationIndex]!.index}`, { error: err });
        return out;
      }
    }
  }
  return out;
}

/** Totals over all fixtures, printed at the end. */
const totals = { compared: 0, agreed: 0 };

function compareWithLibbpf(t: { diagnostic: (msg: string) => void }, name: string, path = join(fixtures, `${name}.o`)): { status: number; log: string } {
  const ours = relocateObject(path);
  const { log, status } = libbpfLoadAll(bpftool!, path, name.replace(/[^A-Za-z0-9_]/g, '_'));
  const theirs = parseLibbpfCoreLog(log);
  assert.ok(theirs.size > 0, `libbpf logged no CO-RE relocation for ${name}:\n${log.slice(0, 2000)}`);
  let agreed = 0;
  for (const [key, lib] of theirs) {
    const mine = ours.get(key);
    assert.ok(mine, `${name}: libbpf relocated ${key}, we did not`);
    totals.compared++;
    if ('error' in mine) {
      const reason = lib.errors.find((e) => !e.startsWith('failed to relocate') && !e.startsWith('failed to patch'));
      assert.ok(reason, `${name} ${key}: we failed (${mine.error.message}), libbpf did not: ${lib.errors.join(' | ')}`);
      assert.ok(mine.error.reason.startsWith(reason), `${name} ${key}: we failed with '${mine.error.reason}', libbpf with '${reason}'`);
    } else {
      assert.deepEqual(renderResult(mine.result, mine.original), lib.lines, `${name} ${key}`);
    }
    agreed++;
    totals.agreed++;
  }
  assert.equal(ours.size, theirs.size, `${name}: we relocated ${[...ours.keys()]}, libbpf ${[...theirs.keys()]}`);
  t.diagnostic(`${name}: ${agreed}/${theirs.size} relocations agree with libbpf`);
  return { status, log };
}

test('CO-RE: field relocations agree with libbpf', { skip }, (t) => {
  const { status, log } = compareWithLibbpf(t, 'core_fields');
  assert.equal(status, 0, `libbpf failed to load core_fields.o:\n${log.slice(-3000)}`);
});

test('CO-RE: bitfield relocations agree with libbpf', { skip }, (t) => {
  const { status, log } = compareWithLibbpf(t, 'core_bitfields');
  assert.equal(status, 0, `libbpf failed to load core_bitfields.o:\n${log.slice(-3000)}`);
});

test('CO-RE: type and enum relocations agree with libbpf', { skip }, (t) => {
  const { status, log } = compareWithLibbpf(t, 'core_types');
  assert.equal(status, 0, `libbpf failed to load core_types.o:\n${log.slice(-3000)}`);
});

test('CO-RE: relocated stores agree with libbpf', { skip }, (t) => {
  const { status, log } = compareWithLibbpf(t, 'core_stores');
  assert.equal(status, 0, `libbpf failed to load core_stores.o:\n${log.slice(-3000)}`);
});

test('CO-RE: reachable poisoned instructions are what the verifier rejects', { skip }, (t) => {
  const { status, log } = compareWithLibbpf(t, 'core_poison');
  assert.notEqual(status, 0, 'the verifier accepted a reachable poisoned instruction');
  assert.match(log, /call unknown#195896080/);
});

test('CO-RE: ambiguous candidates fail as in libbpf', { skip }, (t) => {
  const { status, log } = compareWithLibbpf(t, 'core_ambiguous');
  assert.notEqual(status, 0);
  assert.match(log, /relocation decision ambiguity/);
});

test('CO-RE: candidates at different field offsets fail as in libbpf', { skip }, (t) => {
  const { log } = compareWithLibbpf(t, 'core_ambiguous_field');
  if (!/field offset ambiguity/.test(log)) t.diagnostic('this kernel has one struct walk_control: no ambiguity to compare');
});

test('CO-RE: a breadth of kernel fields, flavors and types agree with libbpf', { skip }, (t) => {
  const { status, log } = compareWithLibbpf(t, 'core_many');
  assert.equal(status, 0, `libbpf failed to load core_many.o:\n${log.slice(-3000)}`);
});

test('CO-RE: the object fixtures of src/object agree with libbpf', { skip }, (t) => {
  const dir = join(repoRoot, 'bpf', 'objects');
  const objects = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.o')).sort() : [];
  let compared = 0;
  for (const file of objects) {
    const path = join(dir, file);
    const elf = parseElf(readBytes(path));
    const btf = btfFromElf(elf);
    const ext = btf && btfExtFromElf(elf, btf);
    if (ext === undefined || [...ext.coreRelos.values()].every((r) => r.length === 0)) continue;
    // bpftool pins maps with LIBBPF_PIN_BY_NAME under /sys/fs/bpf itself, outside our scratch
    // directory: leave such objects to the object tests, which pin under a directory of their own.
    if (loadObjectSpec(readBytes(path)).maps.some((m) => m.pinning !== 0)) continue;
    // Some of these programs don't load here (attach types this kernel refuses): libbpf logs the
    // relocations before loading anyway.
    compareWithLibbpf(t, `objects/${file}`, path);
    compared++;
  }
  t.diagnostic(`${compared} objects of bpf/objects have CO-RE relocations`);
});

test('CO-RE: totals', { skip }, (t) => {
  t.diagnostic(`${totals.agreed}/${totals.compared} relocations agree with libbpf`);
});
