// `ebpf btf dump`, run as a user runs it, against `bpftool btf dump`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Btf, parseBtf, serializeBtf } from '../../src/btf/index.js';
import { repoRoot } from '../support/shared.js';
import { findTool, needTool } from '../support/tools.js';
import { btfObjects, kindsObjects } from '../btf/btf-fixtures.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';
const bin = join(repoRoot, 'bin', 'ebpf.js');
const bpftool = findTool('bpftool');
const ebpf = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd: repoRoot, encoding: 'utf8', maxBuffer: 1 << 30 });
const tool = (args: string[]) => spawnSync(bpftool!, args, { encoding: 'utf8', maxBuffer: 1 << 30 });

function sameOutput(ours: string[], theirs: string[]): void {
  const a = ebpf(ours);
  assert.equal(a.status, 0, a.stderr);
  const b = tool(theirs);
  assert.equal(b.status, 0, b.stderr);
  assert.ok(a.stdout === b.stdout, `'ebpf ${ours.join(' ')}' differs from 'bpftool ${theirs.join(' ')}'`);
}

test('btf is listed and has --help', () => {
  assert.match(ebpf(['--help']).stdout, /^ {2}btf\s/m);
  const help = ebpf(['btf', '--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /^Usage: ebpf btf dump FILE/);
});

test('ebpf btf dump prints what bpftool btf dump prints (raw, -j, -j -p)', (t) => {
  const skip = needTool(bpftool, 'bpftool');
  if (skip !== false) return t.skip(skip);
  const objs = kindsObjects();
  const file = objs.skip === false ? objs.le : btfObjects()[0]!;
  sameOutput(['btf', 'dump', file], ['btf', 'dump', 'file', file]);
  sameOutput(['btf', 'dump', file, '--format', 'raw', '-j'], ['-j', 'btf', 'dump', 'file', file]);
  sameOutput(['btf', 'dump', '-j', '-p', file], ['-j', '-p', 'btf', 'dump', 'file', file]);
  if (existsSync(VMLINUX)) sameOutput(['btf', 'dump', VMLINUX], ['btf', 'dump', 'file', VMLINUX]);
});

test('ebpf btf dump --base reads split BTF like bpftool -B', (t) => {
  const skip = needTool(bpftool, 'bpftool');
  if (skip !== false) return t.skip(skip);
  if (!existsSync(VMLINUX)) return t.skip(`${VMLINUX} not found`);
  const base = parseBtf(new Uint8Array(readFileSync(VMLINUX)));
  const split = new Btf([
    { kind: 'typedef', name: 'module_int', type: base.findByName('int', 'int')[0]! },
    { kind: 'ptr', name: '', type: base.length },
  ], { base });
  const dir = mkdtempSync(join(tmpdir(), 'ebpf-cli-btf-'));
  try {
    const file = join(dir, 'split.btf');
    writeFileSync(file, serializeBtf(split));
    sameOutput(['btf', 'dump', file, '--base', VMLINUX], ['-B', VMLINUX, 'btf', 'dump', 'file', file]);
    const without = ebpf(['btf', 'dump', file]);
    assert.equal(without.status, 1);
    assert.match(without.stderr, /read BTF from '.*split\.btf': .*\(at byte offset \d+\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ebpf btf dump --format c writes a C header', () => {
  const file = btfObjects()[0]!;
  const r = ebpf(['btf', 'dump', file, '--format', 'c']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n/);
});

test('ebpf btf dump errors: usage (exit 2) and unreadable input (exit 1)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ebpf-cli-btf-'));
  try {
    for (const args of [['btf'], ['btf', 'show'], ['btf', 'dump'], ['btf', 'dump', 'a', 'b'], ['btf', 'dump', 'x', '--format', 'go'],
      ['btf', 'dump', 'x', '--format', 'c', '-j']]) {
      const r = ebpf(args);
      assert.equal(r.status, 2, args.join(' '));
      assert.match(r.stderr, /^ebpf btf: .*\n\nUsage: ebpf btf dump/);
    }
    const junk = join(dir, 'junk.bin');
    writeFileSync(junk, 'not btf at all');
    const r = ebpf(['btf', 'dump', junk]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /neither raw BTF nor an ELF object/);
    const truncated = join(dir, 'cut.btf');
    writeFileSync(truncated, serializeBtf(new Btf([{ kind: 'int', name: 'int', size: 4, encoding: 1, offset: 0, bits: 32 }])).subarray(0, 30));
    const cut = ebpf(['btf', 'dump', truncated]);
    assert.equal(cut.status, 1);
    assert.match(cut.stderr, /runs past the end .*\(at byte offset \d+\)/);
    const noBtf = join(repoRoot, 'bpf', 'fixtures', 'listing_edges.o');
    if (existsSync(noBtf)) assert.match(ebpf(['btf', 'dump', noBtf]).stderr, /has no \.BTF section/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
