/**
 * Objects the BTF tests read: the checked-in fixtures, the shared benchmark objects, and
 * test/btf/kinds.bpf.c (every BTF kind and every CO-RE relocation kind) compiled here with
 * clang-19 for both byte orders, once per process.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseElf, type ElfFile } from '../../src/elf/index.js';
import { repoRoot, sharedPath } from '../support/shared.js';
import { findTool, needTool } from '../support/tools.js';

export const kindsSource = join(repoRoot, 'test', 'btf', 'kinds.bpf.c');

/** Every `.o` of bpf/fixtures and ../shared/bench/kern that has a `.BTF` section. */
export function btfObjects(): string[] {
  const dirs = [join(repoRoot, 'bpf', 'fixtures')];
  const kern = sharedPath('bench', 'kern');
  if (kern.skip === false) dirs.push(kern.path);
  return dirs.flatMap((dir) => readdirSync(dir).filter((f) => f.endsWith('.o')).sort().map((f) => join(dir, f)))
    .filter((path) => parseElf(new Uint8Array(readFileSync(path))).sections.some((s) => s.name === '.BTF'));
}

/** The bytes of a section of an ELF file (throws when absent). */
export function sectionData(elf: ElfFile, name: string): Uint8Array {
  const s = elf.sections.find((x) => x.name === name);
  if (s === undefined) throw new Error(`no section ${name}`);
  return s.data;
}

let built: { le: string; be: string } | string | undefined;

/** Paths of kinds.bpf.c compiled little- and big-endian, or a skip reason without clang. */
export function kindsObjects(): { le: string; be: string; skip: false } | { skip: string } {
  if (built === undefined) {
    const clang = findTool('clang-19', 'clang');
    const skip = needTool(clang, 'clang-19');
    if (skip !== false) {
      built = skip;
    } else {
      const dir = mkdtempSync(join(tmpdir(), 'ebpf-btf-'));
      const out = { le: join(dir, 'kinds.o'), be: join(dir, 'kinds.bpfeb.o') };
      for (const [target, path] of [['bpfel', out.le], ['bpfeb', out.be]] as const) {
        const r = spawnSync(clang!, ['-O2', '-g', '-mcpu=v3', '-fdebug-compilation-dir=.', '-target', target, '-c', 'kinds.bpf.c', '-o', path],
          { cwd: join(repoRoot, 'test', 'btf'), encoding: 'utf8' });
        if (r.status !== 0 || !existsSync(path)) throw new Error(`clang failed on kinds.bpf.c: ${r.stderr}`);
      }
      built = out;
    }
  }
  return typeof built === 'string' ? { skip: built } : { ...built, skip: false };
}

/** Reads an ELF file. */
export function readElf(path: string): ElfFile {
  return parseElf(new Uint8Array(readFileSync(path)));
}
