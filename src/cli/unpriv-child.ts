/**
 * The child process of the unprivileged oracle (verify-unpriv.ts): started without
 * capabilities (setpriv to nobody), it reads a batch of programs as JSON on stdin, creates the
 * maps each one names, loads it into the kernel and writes every verdict as JSON on stdout.
 * Node only; run as a script, never imported.
 */
import { readFileSync } from 'node:fs';
import type { RawInstruction } from '../isa/index.js';
import type { VerifierCase } from '../verifier/index.js';
import { caseInstructions, createCaseMaps, kernelVerdict, type KernelVerdict } from './verify-kernel.js';

/** One program of a batch, as the parent sends it. */
export interface UnprivProgramJson {
  readonly insns: readonly RawInstruction[];
  readonly progType: number;
  readonly expectedAttachType?: number;
  /** test_verifier F_* bits (caseProgFlags). */
  readonly flags?: number;
  /** Fixup map name (FIXUP_MAPS) → instruction indexes whose imm gets its fd. */
  readonly fixups?: Readonly<Record<string, readonly number[]>>;
}

/** The child's answer for one program: a verdict, or why the maps could not be made. */
export type UnprivVerdictJson = KernelVerdict | { readonly verdict: 'skipped'; readonly reason: string };

function runOne(p: UnprivProgramJson): UnprivVerdictJson {
  const c: VerifierCase = {
    index: 0, descr: '', result: 'ACCEPT', errstr: undefined, progType: p.progType, flags: p.flags ?? 0,
    expectedAttachType: p.expectedAttachType ?? 0, retval: 0, insns: p.insns,
    fixups: new Map(Object.entries(p.fixups ?? {})), kfuncFixups: [], kfunc: undefined, usesFillHelper: false, needsProgramBtf: false,
  };
  let maps;
  try {
    maps = createCaseMaps(c);
  } catch (err) {
    return { verdict: 'skipped', reason: `maps: ${(err as Error).message}` };
  }
  try {
    return kernelVerdict(c, caseInstructions(c, maps));
  } finally {
    maps.close();
  }
}

/** Exit status telling the parent that someone set kernel.unprivileged_bpf_disabled again meanwhile. */
const DISTURBED = 3;
const disturbed = (): boolean => readFileSync('/proc/sys/kernel/unprivileged_bpf_disabled', 'utf8').trim() !== '0';

const batch = JSON.parse(readFileSync(0, 'utf8')) as UnprivProgramJson[];
const out: UnprivVerdictJson[] = [];
for (const p of batch) {
  let v: UnprivVerdictJson;
  try {
    v = runOne(p);
  } catch (err) {
    v = { verdict: 'skipped', reason: `child: ${(err as Error).message}` };
  }
  // An EPERM may be the sysctl, not the program: then the whole batch is void.
  if (/EPERM/.test((v as { reason?: string }).reason ?? (v as { message?: string }).message ?? '') && disturbed()) process.exit(DISTURBED);
  out.push(v);
}
process.stdout.write(JSON.stringify(out));
