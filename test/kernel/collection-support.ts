/**
 * What the object-loading tests share: fixture paths, a scratch bpffs directory, the libbpf
 * references (bpftool prog loadall for whole objects, collection-oracle.c per program) and
 * test objects compiled from C with clang-19.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { repoRoot } from '../support/shared.js';
import { findTool, needTool } from '../support/tools.js';

export const objectsDir = join(repoRoot, 'bpf', 'objects');
export const fixturesDir = join(repoRoot, 'bpf', 'fixtures');
export const bpftool = findTool('bpftool');
const cc = findTool('cc', 'gcc', 'clang-19', 'clang');
const clang = findTool('clang-19', 'clang');

/** Every object of bpf/objects and bpf/fixtures, as paths. */
export function allFixtures(): string[] {
  return [objectsDir, fixturesDir].flatMap((dir) => readdirSync(dir).filter((f) => f.endsWith('.o')).sort().map((f) => join(dir, f)));
}

/** A file's bytes as a plain Uint8Array. */
export function readBytes(path: string): Uint8Array {
  const buf = readFileSync(path);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** libbpf's object name: the file name up to its first dot. */
export const objectName = (path: string): string => basename(path).split('.')[0]!;

/** The fds this process has open. */
export const openFds = (): number => readdirSync('/proc/self/fd').length;

/** A fresh directory in /sys/fs/bpf, removed with everything pinned in it when disposed. */
export function scratchPins(): { path: string } & Disposable {
  const path = join('/sys/fs/bpf', `ebpf-test-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
  mkdirSync(path);
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) };
}

/** Runs a command; its status and output. */
export function run(cmd: string, args: string[], cwd?: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...(cwd === undefined ? {} : { cwd }) });
}

/** Whether `bpftool prog loadall` loads the whole object, pinning under `dir` (which it needs empty). */
export function bpftoolLoadsAll(file: string, dir: string): boolean {
  mkdirSync(dir, { recursive: true });
  return run(bpftool!, ['prog', 'loadall', file, join(dir, 'progs'), 'pinmaps', join(dir, 'maps')]).status === 0;
}

/** What collection-oracle.c says: per program, whether libbpf loads it alone; or libbpf's open errno. */
export type OracleResult = { name: string; type: number; loaded: boolean; errno: number }[] | { error: number };

let oraclePath: { path: string } | { skip: string } | undefined;

/** The per-program libbpf oracle, built on first use; or a skip reason. */
export function collectionOracle(): { path: string } | { skip: string } {
  if (oraclePath !== undefined) return oraclePath;
  if (cc === undefined || !existsSync('/usr/include/bpf/libbpf.h')) {
    if (process.env.EBPF_REQUIRE_KERNEL === '1') throw new Error('the libbpf oracle needs a C compiler and libbpf-dev');
    return (oraclePath = { skip: 'no C compiler or libbpf-dev for the libbpf oracle' });
  }
  const dir = mkdtempSync(join(tmpdir(), 'ebpf-collection-oracle-'));
  const path = join(dir, 'collection-oracle');
  const r = run(cc, ['-O1', '-o', path, join(repoRoot, 'test', 'kernel', 'collection-oracle.c'), '-lbpf']);
  if (r.status !== 0) return (oraclePath = { skip: `cannot build the libbpf oracle: ${r.stderr.trim()}` });
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return (oraclePath = { path });
}

/** libbpf's per-program verdicts for `file`, maps pinned by name under `pinRoot`. */
export function oracleLoad(oracle: string, file: string, pinRoot: string): OracleResult {
  const r = run(oracle, [file, pinRoot]);
  if (r.status !== 0) throw new Error(`collection-oracle ${file}: exit ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as OracleResult;
}

const built = new Map<string, string | { skip: string }>();

/**
 * `test/kernel/NAME.bpf.c` compiled with clang-19 (once per process) — the path of the object,
 * or a skip reason without clang.
 */
export function compiledObject(name: string): { path: string; skip: false } | { path: undefined; skip: string } {
  let out = built.get(name);
  if (out === undefined) {
    const skip = needTool(clang, 'clang-19');
    if (skip !== false) {
      out = { skip };
    } else {
      const dir = mkdtempSync(join(tmpdir(), 'ebpf-kernel-obj-'));
      const path = join(dir, `${name}.o`);
      const r = run(clang!, ['-O2', '-g', '-target', 'bpfel', '-I', join(repoRoot, 'bpf', 'include'), '-fdebug-compilation-dir=.', '-c', `${name}.bpf.c`, '-o', path], join(repoRoot, 'test', 'kernel'));
      if (r.status !== 0) throw new Error(`clang failed on ${name}.bpf.c: ${r.stderr}`);
      process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
      out = path;
    }
    built.set(name, out);
  }
  return typeof out === 'string' ? { path: out, skip: false } : { path: undefined, skip: out.skip };
}

/** Throws unless `fn` throws; returns what it threw. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('did not throw');
}
