/**
 * libbpf as the CO-RE oracle: loads an object with `bpftool -d prog loadall` (libbpf's debug log
 * lists every CO-RE relocation it resolves) and parses that log, and renders our own
 * `CoreRelocationResult`s in the same words so the two can be compared line for line.
 *
 * libbpf lines read (relo_core.c, libbpf.c bpf_object__relocate_core):
 *   prog 'p': relo #3: <byte_off> [10] struct task_struct.pid (0:92 @ offset 1264)
 *   prog 'p': relo #3: matching candidate #0 <byte_off> [114] struct task_struct.pid (0:92 @ offset 1264)
 *   prog 'p': relo #3: patched insn #3 (ALU/ALU64) imm 1264 -> 1264
 *   prog 'p': relo #3: patched insn #8 (LDX/ST/STX) mem_sz 2 -> 4
 *   prog 'p': relo #3: substituting insn #12 w/ invalid insn
 *   prog 'p': relo #3: relocation decision ambiguity: success 40 != success 280
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { BPF_ALU, BPF_ALU64, BPF_LD, cls, type Instruction } from '../../src/isa/index.js';
import type { CoreRelocationResult } from '../../src/btf/index.js';

/** What libbpf logged about one relocation. */
export interface LibbpfRelo {
  readonly prog: string;
  readonly index: number;
  /** Spec, matching-candidate, patch and poison lines, in log order, prefix removed. */
  readonly lines: string[];
  /** Other lines (warnings and errors), prefix removed. */
  readonly errors: string[];
}

const RELO_LINE = /^libbpf: prog '([^']+)': relo #(\d+): (.*)$/;

/** Relocations logged by libbpf, keyed `prog#index`, in log order. */
export function parseLibbpfCoreLog(log: string): Map<string, LibbpfRelo> {
  const out = new Map<string, LibbpfRelo>();
  for (const line of log.split('\n')) {
    const m = RELO_LINE.exec(line);
    if (m === null) continue;
    const [, prog, index, rest] = m as unknown as [string, string, string, string];
    const key = `${prog}#${index}`;
    let relo = out.get(key);
    if (relo === undefined) {
      relo = { prog, index: Number(index), lines: [], errors: [] };
      out.set(key, relo);
    }
    if (rest.startsWith('non-matching candidate') || rest === 'no matching targets found') continue;
    if (rest.startsWith('<') || rest.startsWith('matching candidate #') ||
        rest.startsWith('patched insn') || rest.startsWith('substituting insn')) {
      relo.lines.push(rest.replace(/^matching candidate #\d+ /, 'matching candidate '));
    } else {
      relo.errors.push(rest);
    }
  }
  return out;
}

const u64 = (n: number): bigint => BigInt.asUintN(64, BigInt(n));

function form(insn: Instruction): string {
  const c = cls(insn.code);
  if (c === BPF_ALU || c === BPF_ALU64) return 'ALU/ALU64';
  if (c === BPF_LD) return 'LDIMM64';
  return 'LDX/ST/STX';
}

/** Our result in libbpf's words: local spec, every matching candidate's spec, the patch. */
export function renderResult(r: CoreRelocationResult, original: Instruction): string[] {
  const lines = [r.localSpec, ...r.matches.map((m) => `matching candidate ${m.spec}`)];
  const p = r.patch;
  const at = `insn #${r.insnIndex} (${form(original)})`;
  switch (p.kind) {
    case 'poison':
      lines.push(`substituting insn #${r.insnIndex} w/ invalid insn`);
      if (original.kind === 'lddw') lines.push(`substituting insn #${r.insnIndex + 1} w/ invalid insn`);
      break;
    case 'imm':
      lines.push(`patched ${at} imm ${u64(p.from)} -> ${r.newValue}`);
      break;
    case 'off':
      lines.push(`patched ${at} off ${u64(p.from)} -> ${r.newValue}`);
      if (p.sizeFrom !== undefined) lines.push(`patched ${at} mem_sz ${p.sizeFrom} -> ${p.sizeTo}`);
      break;
    case 'imm64':
      lines.push(`patched ${at} imm64 ${p.from} -> ${p.to}`);
      break;
  }
  return lines;
}

/**
 * Runs `bpftool -d prog loadall obj <pin dir>` and returns its log and exit status. The pin
 * directory is unique to this process and always removed, even when bpftool fails.
 */
export function libbpfLoadAll(bpftool: string, obj: string, tag: string): { log: string; status: number } {
  const dir = `/sys/fs/bpf/ebpf-test-core-${process.pid}-${tag}`;
  try {
    const r = spawnSync(bpftool, ['-d', 'prog', 'loadall', obj, dir], { encoding: 'utf8', timeout: 60_000 });
    return { log: `${r.stdout ?? ''}${r.stderr ?? ''}`, status: r.status ?? -1 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
