// Runs every program of the bpf_conformance suite in the interpreter and checks r0.
// Programs come pre-assembled (preassembled.jsonl), so this test depends only on the
// decoder and the interpreter; test/isa/conformance-syntax.test.ts covers the assembler.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execute, conformanceHelpers } from '../../src/vm/index.js';
import { sharedPath } from '../support/shared.js';

interface Case { file: string; mem: string; program: string; result: string; error: string }

const where = sharedPath('testdata', 'bpf_conformance', 'preassembled.jsonl');

const hexBytes = (hex: string): Uint8Array => {
  const clean = hex.replace(/\s+/g, '');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
};

test('bpf_conformance: every program gives the expected r0', { skip: where.skip }, () => {
  const cases: Case[] = readFileSync(where.path!, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Case);
  assert.equal(cases.length, 313);
  const failures: string[] = [];
  for (const c of cases) {
    try {
      const { r0 } = execute(hexBytes(c.program), { memory: hexBytes(c.mem), helpers: conformanceHelpers });
      const expected = BigInt(c.result);
      if (r0 !== expected) failures.push(`${c.file}: r0 = 0x${r0.toString(16)}, expected ${c.result}`);
    } catch (err) {
      failures.push(`${c.file}: ${(err as Error).message}`);
    }
  }
  assert.deepEqual(failures, [], `${failures.length} of ${cases.length} conformance programs failed`);
});

// The same suite from its source files: our conformance-syntax assembler, then the interpreter.
import { conformanceFiles, readConformanceData } from '../support/conformance.js';
import { assembleConformance } from '../../src/isa/index.js';

const files = conformanceFiles('tests');
test('bpf_conformance: every .data file assembles and runs to its result', { skip: files.skip }, () => {
  const failures: string[] = [];
  for (const path of files.files) {
    const t = readConformanceData(path);
    try {
      const program = t.raw ?? assembleConformance(t.asm ?? '');
      const { r0 } = execute(program, { memory: t.mem, helpers: conformanceHelpers });
      if (r0 !== t.result) failures.push(`${t.name}: r0 = 0x${r0.toString(16)}, expected 0x${t.result?.toString(16)}`);
    } catch (err) {
      failures.push(`${t.name}: ${(err as Error).message}`);
    }
  }
  assert.equal(files.files.length, 313);
  assert.deepEqual(failures, []);
});
