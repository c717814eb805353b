// The `ebpf` command, run as a user runs it (a child process of bin/ebpf.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { repoRoot, sharedPath } from '../support/shared.js';
import { findTool } from '../support/tools.js';

const bin = join(repoRoot, 'bin', 'ebpf.js');
const ebpf = (args: string[], input?: string) =>
  spawnSync(process.execPath, [bin, ...args], { cwd: repoRoot, encoding: 'utf8', input });

test('every command has --help, and the top level lists them', () => {
  const top = ebpf(['--help']);
  assert.equal(top.status, 0);
  for (const name of ['exec', 'asm', 'disasm', 'conformance-plugin']) {
    assert.match(top.stdout, new RegExp(`\\b${name}\\b`));
    const r = ebpf([name, '--help']);
    assert.equal(r.status, 0, `${name} --help`);
    assert.match(r.stdout, new RegExp(`^Usage: ebpf ${name}`));
  }
  const bad = ebpf(['frobnicate']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown command 'frobnicate'/);
});

test("README's main command computes the IPv4 header checksum", () => {
  const r = ebpf(['exec', 'examples/checksum.o', '--mem', '45 00 00 73 00 00 40 00 40 11 00 00 c0 a8 00 01 c0 a8 00 c7']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^r0 = 47201 \(0xb861\), \d+ instructions$/m);
  const json = ebpf(['exec', 'examples/checksum.o', '-j', '--mem', '00 01 f2 03 f4 f5 f6 f7']);
  assert.equal(JSON.parse(json.stdout).r0, String(0xffff - 0xddf2)); // RFC 1071 section 3 example: sum 0xddf2
});

test('asm then exec, in both syntaxes; errors name line and column', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ebpf-cli-'));
  try {
    writeFileSync(join(dir, 'a.s'), 'r0 = 40\nr0 += 2\nexit\n');
    writeFileSync(join(dir, 'b.s'), 'mov %r0, 40\nadd %r0, 2\nexit\n');
    for (const f of ['a', 'b']) {
      assert.equal(ebpf(['asm', join(dir, `${f}.s`), '-o', join(dir, `${f}.bin`)]).status, 0);
      assert.match(ebpf(['exec', join(dir, `${f}.bin`)]).stdout, /^r0 = 42 /);
    }
    assert.deepEqual(readFileSync(join(dir, 'a.bin')), readFileSync(join(dir, 'b.bin')));
    writeFileSync(join(dir, 'bad.s'), 'r0 = 1\n  r11 = 2\nexit\n');
    const bad = ebpf(['asm', join(dir, 'bad.s')]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /line 2, column 3/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('exec reports a fault with its instruction and exits 1, never a stack trace', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ebpf-cli-'));
  try {
    writeFileSync(join(dir, 'f.bin'), Buffer.from('b70100000000000061120000000000009500000000000000', 'hex'));
    const r = ebpf(['exec', join(dir, 'f.bin')]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /insn 1: invalid read of 4 bytes at 0x0: null pointer dereference/);
    writeFileSync(join(dir, 't.bin'), Buffer.from('b7010000000000', 'hex'));
    const t = ebpf(['exec', join(dir, 't.bin')]);
    assert.equal(t.status, 1);
    assert.match(t.stderr, /multiple of 8/);
    assert.doesNotMatch(t.stderr + r.stderr, /at .*\.js:\d+/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const conformance = sharedPath('testdata', 'bpf_conformance', 'preassembled.jsonl');
test('conformance-plugin speaks the bpf_conformance protocol', { skip: conformance.skip }, () => {
  const cases = readFileSync(conformance.path!, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { file: string; mem: string; program: string; result: string });
  for (const name of ['ldxb.data', 'callx.data', 'lock_cmpxchg.data', 'be64.data']) {
    const c = cases.find((x) => x.file === name)!;
    const r = ebpf(['conformance-plugin', ...(c.mem ? [c.mem] : [])], c.program);
    assert.equal(r.status, 0, `${name}: ${r.stderr}`);
    assert.equal(BigInt(`0x${r.stdout.trim()}`), BigInt(c.result), name);
  }
  const bad = ebpf(['conformance-plugin'], 'ff00000000000000');
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /unknown opcode/);
});

const objdump = findTool('llvm-objdump-19');
test('disasm of the example object equals llvm-objdump-19 -d', { skip: objdump === undefined && 'llvm-objdump-19 not installed' }, () => {
  const ours = ebpf(['disasm', 'examples/checksum.o']);
  const theirs = spawnSync(objdump!, ['-d', 'examples/checksum.o'], { cwd: repoRoot, encoding: 'utf8' });
  assert.equal(ours.stdout, theirs.stdout);
});
