/**
 * Reader of the bpf_conformance `.data` test format (../shared/testdata/bpf_conformance):
 *
 * ```
 * # comment
 * -- asm
 * mov32 %r0, 1
 * exit
 * -- mem
 * 00 01 02 03
 * -- result
 * 0x1
 * ```
 *
 * Sections: `-- asm` (assembly), `-- raw` (bytecode), `-- mem` (hex bytes), `-- result`
 * (expected r0), `-- error` (expected error text), `-- c` and `-- no register offset`
 * (ignored notes). A `-- raw` section holds either 64-bit slots as `0x…` values (the low
 * byte is the opcode, as bpf_conformance reinterprets a little-endian u64) or space-separated
 * hex bytes (the form of negative/unused-*.data).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { sharedPath } from './shared.js';

/** One parsed `.data` file. */
export interface ConformanceTest {
  /** File name, e.g. `add.data`. */
  readonly name: string;
  readonly path: string;
  /** The `-- asm` section, comments included, as the assembler sees it. */
  readonly asm?: string;
  /** 1-based line of the file where the first line of `asm` sits (for error positions). */
  readonly asmLine?: number;
  /** The `-- raw` section as bytes (8 per slot, little-endian). */
  readonly raw?: Uint8Array;
  /** The `-- mem` bytes (empty when absent). */
  readonly mem: Uint8Array;
  /** The expected r0 as an unsigned 64-bit value. */
  readonly result?: bigint;
  /** The expected error text; `''` when the section is present but empty. */
  readonly error?: string;
  /** The `-- c` section, when present. */
  readonly c?: string;
}

/** A directive that is none of the known sections (bpf_conformance skips such files). */
export class UnknownDirectiveError extends Error {
  override name = 'UnknownDirectiveError';
}

type Section = 'asm' | 'raw' | 'mem' | 'result' | 'error' | 'c' | 'ignore';

const DIRECTIVES: Readonly<Record<string, Section>> = {
  asm: 'asm', raw: 'raw', mem: 'mem', result: 'result', error: 'error', c: 'c',
  'no register offset': 'ignore',
};

const stripComment = (line: string): string => {
  const i = line.indexOf('#');
  return i < 0 ? line : line.slice(0, i);
};

/** Parses the text of a `.data` file. Throws `UnknownDirectiveError` for an unknown `-- x` line. */
export function parseConformanceData(text: string, name = '<input>', path = name): ConformanceTest {
  const lines = new Map<Section, string[]>();
  let asmLine: number | undefined;
  let section: Section | undefined;
  text.split(/\r?\n/).forEach((line, i) => {
    const directive = /^--\s+(.*?)\s*$/.exec(line);
    if (directive !== null) {
      const next = DIRECTIVES[directive[1]!];
      if (next === undefined) throw new UnknownDirectiveError(`${name}:${i + 1}: unknown directive '${line}'`);
      section = next;
      if (!lines.has(next)) lines.set(next, []);
      if (next === 'asm') asmLine = i + 2;
      return;
    }
    // Lines before the first directive are the licence header.
    if (section !== undefined) lines.get(section)!.push(line);
  });

  const body = (s: Section): string | undefined => lines.get(s)?.join('\n');
  const words = (s: Section): string[] | undefined =>
    lines.get(s)?.flatMap((l) => stripComment(l).split(/\s+/).filter((w) => w !== ''));

  const test: { -readonly [K in keyof ConformanceTest]: ConformanceTest[K] } = {
    name, path, mem: hexBytes(words('mem') ?? [], name, 'mem'),
  };
  const asm = body('asm');
  if (asm !== undefined) { test.asm = asm; test.asmLine = asmLine!; }
  const raw = words('raw');
  if (raw !== undefined) test.raw = rawBytes(raw, name);
  const result = words('result');
  if (result !== undefined && result.length > 0) test.result = parseResult(result, name);
  const error = lines.get('error');
  if (error !== undefined) test.error = error.map(stripComment).join('\n').trim();
  const c = body('c');
  if (c !== undefined) test.c = c;
  return test;
}

function hexBytes(tokens: string[], name: string, what: string): Uint8Array {
  return Uint8Array.from(tokens, (t) => {
    if (!/^[0-9a-fA-F]{1,2}$/.test(t)) throw new Error(`${name}: bad byte '${t}' in -- ${what}`);
    return parseInt(t, 16);
  });
}

function rawBytes(tokens: string[], name: string): Uint8Array {
  if (!tokens.every((t) => /^0x[0-9a-fA-F]{1,16}$/i.test(t))) return hexBytes(tokens, name, 'raw');
  const out = new Uint8Array(tokens.length * 8);
  const view = new DataView(out.buffer);
  tokens.forEach((t, i) => view.setBigUint64(i * 8, BigInt(t), true));
  return out;
}

function parseResult(tokens: string[], name: string): bigint {
  const [t, ...extra] = tokens;
  if (t === undefined || extra.length > 0 || !/^(0x[0-9a-fA-F]+|-?\d+)$/i.test(t)) {
    throw new Error(`${name}: bad -- result '${tokens.join(' ')}'`);
  }
  return BigInt.asUintN(64, BigInt(t));
}

/** Reads and parses one `.data` file. */
export function readConformanceData(path: string): ConformanceTest {
  return parseConformanceData(readFileSync(path, 'utf8'), basename(path), path);
}

/** The `.data` files of `tests/` or `negative/`, sorted by name, or a skip reason. */
export function conformanceFiles(folder: 'tests' | 'negative'): { files: string[]; skip: false } | { files: []; skip: string } {
  const dir = sharedPath('testdata', 'bpf_conformance', folder);
  if (dir.skip !== false) return { files: [], skip: dir.skip };
  const files = readdirSync(dir.path).filter((f) => f.endsWith('.data')).sort().map((f) => join(dir.path, f));
  return { files, skip: false };
}

/** One line of preassembled.jsonl. */
export interface PreassembledTest {
  readonly file: string;
  readonly mem: string;
  /** Hex of the program, 8-byte little-endian slots. */
  readonly program: string;
  readonly result: string;
  readonly error: string;
  readonly cpu_version: number;
  /** Bitmask: 1 base32, 2 base64, 4 atomic32, 8 atomic64, 16 divmul32, 32 divmul64, 64 packet, 128 callx. */
  readonly groups: number;
  readonly n_insts: number;
}

/** preassembled.jsonl keyed by file name, or a skip reason. */
export function preassembled(): { tests: Map<string, PreassembledTest>; skip: false } | { tests: undefined; skip: string } {
  const p = sharedPath('testdata', 'bpf_conformance', 'preassembled.jsonl');
  if (p.skip !== false) return { tests: undefined, skip: p.skip };
  const tests = new Map<string, PreassembledTest>();
  for (const line of readFileSync(p.path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const t = JSON.parse(line) as PreassembledTest;
    tests.set(t.file, t);
  }
  return { tests, skip: false };
}

/** Bytes of a hex string (`"b400…"`). */
export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Hex string of bytes. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
