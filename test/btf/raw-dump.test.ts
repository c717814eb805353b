// formatBtfRaw / formatBtfJson against bpftool's own output: every object with BTF, the
// kinds.bpf.c object, /sys/kernel/btf/vmlinux, and a split BTF on vmlinux (bpftool -B).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Btf, btfFromElf, formatBtfJson, formatBtfRaw, parseBtf, serializeBtf } from '../../src/btf/index.js';
import { findTool, needTool } from '../support/tools.js';
import { btfObjects, kindsObjects, readElf } from './btf-fixtures.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';
const bpftool = findTool('bpftool');

/** bpftool's output for `args` (without the leading `bpftool`). */
function runBpftool(args: string[]): string {
  const r = spawnSync(bpftool!, args, { encoding: 'utf8', maxBuffer: 1 << 30 });
  assert.equal(r.status, 0, `bpftool ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Equal texts, or a failure naming the first line that differs (not a 17 MB diff). */
function assertSameText(ours: string, theirs: string, what: string): void {
  if (ours === theirs) return;
  const a = ours.split('\n');
  const b = theirs.split('\n');
  const i = a.findIndex((line, k) => line !== b[k]);
  const at = i < 0 ? a.length : i;
  assert.fail(`${what}: line ${at + 1} differs\n  ours:    ${JSON.stringify(a[at])}\n  bpftool: ${JSON.stringify(b[at])}`);
}

/** Compares raw, -j and -j -p dumps of `file` (base `base` if split). */
function compareAll(btf: Btf, file: string, baseFile?: string, formats: readonly ('raw' | 'json' | 'pretty')[] = ['raw', 'json', 'pretty']): void {
  const pre = baseFile === undefined ? [] : ['-B', baseFile];
  for (const f of formats) {
    const flags = f === 'raw' ? [] : f === 'json' ? ['-j'] : ['-j', '-p'];
    const ours = f === 'raw' ? formatBtfRaw(btf) : formatBtfJson(btf, { pretty: f === 'pretty' });
    assertSameText(ours, runBpftool([...pre, ...flags, 'btf', 'dump', 'file', file]), `${file} (${f})`);
  }
}

test('raw and JSON dumps equal bpftool\'s for every object with BTF', (t) => {
  const skip = needTool(bpftool, 'bpftool');
  if (skip !== false) return t.skip(skip);
  const files = btfObjects();
  const objs = kindsObjects();
  if (objs.skip === false) files.push(objs.le, objs.be);
  assert.ok(files.length > 0);
  for (const file of files) compareAll(btfFromElf(readElf(file))!, file);
});

test('vmlinux dumps equal bpftool\'s', (t) => {
  const skip = needTool(bpftool, 'bpftool');
  if (skip !== false) return t.skip(skip);
  if (!existsSync(VMLINUX)) return t.skip(`${VMLINUX} not found`);
  const btf = parseBtf(new Uint8Array(readFileSync(VMLINUX)));
  compareAll(btf, VMLINUX, undefined, ['raw', 'json']);
});

test('a split BTF on vmlinux dumps like bpftool -B vmlinux', (t) => {
  const skip = needTool(bpftool, 'bpftool');
  if (skip !== false) return t.skip(skip);
  if (!existsSync(VMLINUX)) return t.skip(`${VMLINUX} not found`);
  const base = parseBtf(new Uint8Array(readFileSync(VMLINUX)));
  const int = base.findByName('int', 'int')[0]!;
  const task = base.findByName('task_struct', 'struct')[0]!;
  const first = base.length;
  const split = new Btf([
    { kind: 'struct', name: 'module_thing', size: 24, kindFlag: true, members: [
      { name: 'count', type: int, bitOffset: 0, bitfieldSize: 0 },
      { name: 'bits', type: int, bitOffset: 32, bitfieldSize: 5 },
      { name: 'task', type: first + 1, bitOffset: 64, bitfieldSize: 0 },
      { name: 'self', type: first + 2, bitOffset: 128, bitfieldSize: 0 },
    ] },
    { kind: 'ptr', name: '', type: task },
    { kind: 'ptr', name: '', type: first },
    { kind: 'var', name: 'module_var', type: first, linkage: 1 },
    { kind: 'datasec', name: '.data', size: 24, vars: [{ type: first + 3, offset: 0, size: 24 }, { type: int, offset: 0, size: 4 }] },
    { kind: 'enum64', name: 'module_e', size: 8, signed: true, values: [{ name: 'M_NEG', value: -3n }, { name: 'M_BIG', value: 1n << 40n }] },
  ], { base });
  const dir = mkdtempSync(join(tmpdir(), 'ebpf-split-'));
  try {
    const file = join(dir, 'module.btf');
    writeFileSync(file, serializeBtf(split));
    const parsed = parseBtf(new Uint8Array(readFileSync(file)), { base });
    assert.equal(formatBtfRaw(parsed).split('\n')[0], `[${first}] STRUCT 'module_thing' size=24 vlen=4`);
    compareAll(parsed, file, VMLINUX);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the dump of chosen ids, and names that need JSON escapes', () => {
  const btf = new Btf([
    { kind: 'int', name: 'int', size: 4, encoding: 1, offset: 0, bits: 32 },
    { kind: 'decl_tag', name: 'say "hi"\tnow', type: 1, componentIdx: -1 },
    { kind: 'var', name: 'v', type: 1, linkage: 7 },
    { kind: 'int', name: 'odd', size: 4, encoding: 3, offset: 0, bits: 32 },
  ]);
  assert.equal(formatBtfRaw(btf, { ids: [3, 1] }), "[3] VAR 'v' type_id=1, linkage=(unknown)\n[1] INT 'int' size=4 bits_offset=0 nr_bits=32 encoding=SIGNED\n");
  assert.equal(formatBtfRaw(btf, { ids: [4] }), "[4] INT 'odd' size=4 bits_offset=0 nr_bits=32 encoding=UNKN\n");
  const json = formatBtfJson(btf, { ids: [2] });
  assert.equal(json, '{"types":[{"id":2,"kind":"DECL_TAG","name":"say \\"hi\\"\\tnow","type_id":1,"component_idx":-1}]}\n');
  assert.deepEqual(JSON.parse(json).types[0].name, 'say "hi"\tnow');
  assert.equal(formatBtfJson(new Btf([]), { pretty: true }), '{\n    "types": []\n}\n');
});
