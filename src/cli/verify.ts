/**
 * `ebpf verify`: checks a program with this package's verifier and prints the verdict and the
 * log in the kernel's format; with `--cases FILE.json` runs the kernel's test_verifier cases,
 * and with `--compare-kernel` loads each into the running kernel too and reports agreement.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Instruction, RawInstruction } from '../isa/index.js';
import type { Btf } from '../btf/btf.js';
import { parseBtf } from '../btf/parse.js';
import { loadObjectSpec } from '../object/load.js';
import { ObjectSpec } from '../object/index.js';
import { verifyObjectProgram } from '../vm/object/load.js';
import type { ProgramSpec } from '../object/spec.js';
import { ProgramType, programTypeName } from '../object/uapi-types.js';
import {
  type Explanation, type MapInfo, type VerifierCase, type VerifierStep, type VerifyResult, applyFixups, caseNotRunnable, caseProgFlags,
  explainRejection, formatExplanation, parseVerifierCases, syntheticMapFds, verify,
} from '../verifier/index.js';
import { type Command, UsageError } from './command.js';
import { isElf, loadProgramFile } from './program-file.js';
import { type ComparisonSummary, compareWithKernel, probeTestingFlags } from './verify-kernel.js';
import { compareUnprivileged } from './verify-unpriv.js';

const USAGE = `Usage: ebpf verify OBJ|FILE.bin|FILE.s [--prog NAME] [--type TYPE] [--log-level 1|2] [--explain] [--unprivileged] [-j]
       ebpf verify --cases FILE.json [--compare-kernel] [-j]

Checks a program with the userspace verifier (the kernel's rules for a privileged loader)
and prints ACCEPT or REJECT with the kernel's words for the problem and the instruction.
The verifier is conservative: what it does not model yet it rejects, saying so.

  --prog NAME        program of an ELF object (default: the first)
  --type TYPE        program type: a number or a name (socket_filter, xdp, sched_cls,
                     kprobe, tracepoint, ...); default: the ELF section's, else socket_filter
  --log-level N      1: instructions on each path; 2: and the register state after each
  --explain          explain a rejection in plain words: where the offending value came
                     from, the path that led to the instruction, the missing check
  --unprivileged     the rules for a loader without CAP_BPF/CAP_PERFMON: no pointer
                     leaks, comparisons or loops, Spectre-safe pointer arithmetic
  --cases FILE.json  run test_verifier-style cases (../shared/testdata/kernel-verifier)
  --compare-kernel   with --cases: load each case into the running kernel (root) and
                     report agreement, false accepts and false rejects
  -j, --json         print JSON: verdict, processed, log, and for a rejection the error
                     with its insn, message, path, registers and explanation; with
                     --log-level 2 also steps: each processed insn with the state before it`;

function parseType(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (/^\d+$/.test(text)) return Number(text);
  const key = text.toUpperCase().replace(/^BPF_PROG_TYPE_/, '').replace(/-/g, '_');
  const value = (ProgramType as Record<string, number>)[key];
  if (value === undefined) throw new UsageError(`unknown program type '${text}'`);
  return value;
}

/** This machine's kernel BTF (/sys/kernel/btf/vmlinux), when it has one. */
function hostKernelBtf(): Btf | undefined {
  try {
    return parseBtf(readFileSync('/sys/kernel/btf/vmlinux'));
  } catch {
    return undefined;
  }
}

/** lddw immediates as the verifier's log names them: maps by id, other values in hex. */
function mapNamer(i: Instruction & { kind: 'lddw' }): string {
  if (i.src === 1) return `map[id:${i.imm}]`;
  if (i.src === 2) return `map[id:${i.imm}][0]+${i.imm2}`;
  return `0x${((BigInt(i.imm2 >>> 0) << 32n) | BigInt(i.imm >>> 0)).toString(16)}`;
}

function formatResult(result: VerifyResult, json: boolean, what: string, explanation: Explanation | undefined, steps?: readonly VerifierStep[]): string {
  if (json) {
    const e = result.error;
    return `${JSON.stringify({
      program: what, verdict: result.verdict, processed: result.processed, log: result.log,
      ...(steps !== undefined ? { steps } : {}),
      error: e === undefined ? null : {
        insn: e.insn, message: e.message, path: e.path ?? [], ...(e.pathDropped ? { pathDropped: e.pathDropped } : {}),
        registers: e.registers ?? [], refs: e.refs ?? [],
        ...(explanation !== undefined ? {
          explanation: explanation.explanation, kind: explanation.kind, instruction: explanation.instruction,
          ...(explanation.origin !== undefined ? { origin: explanation.origin } : {}),
        } : {}),
      },
    })}\n`;
  }
  const head = result.verdict === 'accept'
    ? `ACCEPT ${what} (processed ${result.processed} insns)`
    : `REJECT ${what}: ${result.error!.message} (insn ${result.error!.insn})`;
  const explained = explanation !== undefined ? `\n${formatExplanation(explanation)}` : '';
  return `${result.log}${head}\n${explained}`;
}

/** Our verifier on a case, with the maps described by `mapOf`. */
export function verifyCase(c: VerifierCase, insns: readonly RawInstruction[], mapOf: (fd: number) => MapInfo | undefined,
  testingFlags: number, logLevel: 0 | 1 | 2 = 0, privileged = true): VerifyResult {
  return verify(insns, {
    progType: c.progType, expectedAttachType: c.expectedAttachType, flags: caseProgFlags(c.flags, testingFlags), maps: mapOf, logLevel,
    ...(privileged ? {} : { privileged: false }),
  });
}

export interface FileReport {
  readonly file: string;
  readonly summary: ComparisonSummary;
  /** The cases test_verifier also runs without privileges, compared with an unprivileged loader (verify-unpriv.ts). */
  readonly unprivileged?: ComparisonSummary;
}

/** The report of scripts/verifier-report.js: each file compared with the running kernel. */
export function reportOnFiles(files: readonly string[], options: { unprivileged?: boolean } = {}): FileReport[] {
  const testing = probeTestingFlags();
  return files.map((file) => {
    const cases = parseVerifierCases(JSON.parse(readFileSync(file, 'utf8')));
    const summary = compareWithKernel(cases, (c, insns, maps) => {
      const r = verifyCase(c, insns, maps.mapOf, testing);
      return { verdict: r.verdict, processed: r.processed, ...(r.error ? { insn: r.error.insn, message: r.error.message } : {}) };
    }, caseNotRunnable);
    if (!options.unprivileged) return { file, summary };
    const unprivileged = compareUnprivileged(cases, (c, insns, mapOf) => {
      const r = verifyCase(c, insns, mapOf, testing, 0, false);
      return { verdict: r.verdict, processed: r.processed, ...(r.error ? { insn: r.error.insn, message: r.error.message } : {}) };
    }, caseNotRunnable);
    return { file, summary, unprivileged };
  });
}

/** Human-readable text of reports: totals, then every disagreement. */
export function formatReport(reports: readonly FileReport[]): string {
  const out: string[] = [];
  const runs = reports.flatMap(({ file, summary, unprivileged }) => [
    { file: file.split('/').pop()!, summary },
    ...(unprivileged !== undefined ? [{ file: `${file.split('/').pop()!} unprivileged`, summary: unprivileged }] : []),
  ]);
  for (const { file, summary: s } of runs) {
    out.push(`${file}: ${s.total} cases, ${s.compared} compared with the kernel, ${s.skipped} skipped`);
    out.push(`  agreement ${s.agreement.toFixed(1)}% (${s.agree}/${s.compared}); false accepts ${s.falseAccepts}; false rejects ${s.falseRejects}`);
    for (const c of s.cases) {
      if (c.status !== 'false-accept' && c.status !== 'false-reject') continue;
      const kernel = c.kernel!.verdict === 'accept' ? 'kernel ACCEPT' : `kernel REJECT: ${c.kernel!.message}`;
      const ours = c.ours!.verdict === 'accept' ? 'ours ACCEPT' : `ours REJECT: ${c.ours!.message} (insn ${c.ours!.insn})`;
      out.push(`  ${c.status === 'false-accept' ? 'FALSE ACCEPT' : 'false reject'} #${c.index} [${programTypeName(c.progType || 1)}] ${c.descr}\n      ${kernel}\n      ${ours}`);
    }
    const reasons = new Map<string, number>();
    for (const c of s.cases) if (c.status === 'skipped') reasons.set(c.reason!, (reasons.get(c.reason!) ?? 0) + 1);
    for (const [r, n] of [...reasons].sort((a, b) => b[1] - a[1])) out.push(`  skipped ${n}: ${r}`);
  }
  return `${out.join('\n')}\n`;
}

export const verifyCommand: Command = {
  name: 'verify',
  summary: 'check a program with the userspace verifier; compare with the kernel on test_verifier cases',
  usage: USAGE,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        prog: { type: 'string' },
        type: { type: 'string' },
        'log-level': { type: 'string' },
        explain: { type: 'boolean' },
        cases: { type: 'string' },
        'compare-kernel': { type: 'boolean' },
        unprivileged: { type: 'boolean' },
        json: { type: 'boolean', short: 'j' },
      },
    });
    const json = values.json === true;
    const logLevel = Number(values['log-level'] ?? 0);
    if (![0, 1, 2].includes(logLevel)) throw new UsageError('--log-level must be 1 or 2');

    if (values.cases !== undefined) {
      const cases = parseVerifierCases(JSON.parse(new TextDecoder().decode(io.readFile(values.cases))));
      if (values['compare-kernel']) {
        const [report] = reportOnFiles([values.cases]);
        io.out(json ? `${JSON.stringify(report)}\n` : formatReport([report!]));
        return report!.summary.falseAccepts > 0 ? 1 : 0;
      }
      const rows = cases.map((c) => {
        const why = caseNotRunnable(c);
        if (why !== undefined) return { index: c.index, descr: c.descr, recorded: c.result, ours: 'skipped', reason: why };
        const maps = syntheticMapFds(c);
        const r = verifyCase(c, applyFixups(c, maps.fdOf), maps.mapOf, 0);
        return { index: c.index, descr: c.descr, recorded: c.result, ours: r.verdict, ...(r.error ? { error: { insn: r.error.insn, message: r.error.message } } : {}) };
      });
      if (json) io.out(`${JSON.stringify(rows)}\n`);
      else {
        for (const r of rows) {
          const e = 'error' in r && r.error ? `: ${r.error.message} (insn ${r.error.insn})` : 'reason' in r ? ` (${r.reason})` : '';
          io.out(`#${r.index} ${r.descr}: recorded ${r.recorded}, ours ${r.ours.toUpperCase()}${e}\n`);
        }
      }
      return 0;
    }

    const file = positionals[0];
    if (file === undefined || positionals.length > 1) throw new UsageError('expected one FILE (or --cases FILE.json)');
    const bytes = io.readFile(file);
    const progType = parseType(values.type);
    // -j with --log-level 2: the structured log too, a step per processed instruction.
    const steps: VerifierStep[] = [];
    const common = {
      logLevel: logLevel as 0 | 1 | 2,
      ...(values.unprivileged ? { privileged: false } : {}),
      ...(json && logLevel === 2 ? { onStep: (step: VerifierStep) => steps.push(step) } : {}),
    };
    let verified: { result: VerifyResult; instructions: readonly Instruction[] };
    let what = file;
    if (isElf(bytes)) {
      // As the VM's loader verifies it: CO-RE against this kernel's BTF when there is one,
      // maps created (.rodata frozen), func_info, license; the kernel's BTF for tracing contexts.
      // --type overrides (or supplies, for a section libbpf does not know) the type of --prog.
      const parsed = loadObjectSpec(bytes, progType !== undefined && values.prog !== undefined ? { programTypes: { [values.prog]: { type: progType } } } : {});
      const first = values.prog === undefined ? parsed.programs[0] : parsed.programs.find((p) => p.name === values.prog);
      if (first === undefined) throw new UsageError(values.prog === undefined ? 'the object has no program' : `no program '${values.prog}'`);
      const prog: ProgramSpec = progType === undefined || values.prog !== undefined ? first : { ...first, type: progType };
      const spec = prog === first ? parsed : new ObjectSpec({ ...parsed, programs: parsed.programs.map((p) => (p === first ? prog : p)) });
      const kernelBtf = hostKernelBtf();
      verified = verifyObjectProgram(spec, prog.name, { ...common, ...(kernelBtf !== undefined ? { targetBtf: kernelBtf, kernelBtf } : {}) });
      what = `${file}:${prog.name}`;
    } else {
      // Assembly and raw bytecode: no maps, and taken as GPL.
      const instructions = loadProgramFile(file, bytes);
      verified = { instructions, result: verify(instructions, { ...common, progType: progType ?? ProgramType.SOCKET_FILTER }) };
    }
    const { result, instructions } = verified;
    // JSON always carries the explanation of a rejection; text only with --explain.
    const explanation = result.error !== undefined && (values.explain || json)
      ? explainRejection(instructions, result.error, { namer: mapNamer })
      : undefined;
    io.out(formatResult(result, json, what, explanation, json && logLevel === 2 ? steps : undefined));
    return result.verdict === 'accept' ? 0 : 1;
  },
};
