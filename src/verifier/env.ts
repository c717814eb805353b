/**
 * What every check reads and updates while one program is verified (kernel: struct
 * bpf_verifier_env): the program, its type, options, the id generator and the log.
 */
import type { Instruction } from '../isa/index.js';
import type { MapInfo } from './reg.js';

/** A rejection: the kernel's words for the problem and the instruction (slot index) where it was found. */
export class VerifierReject extends Error {
  override name = 'VerifierReject';
  readonly insn: number;
  constructor(message: string, insn: number) {
    super(message);
    this.insn = insn;
  }
}

/** kernel: BPF_MAX_VAR_OFF, BPF_MAX_VAR_SIZ, MAX_PACKET_OFF. */
export const BPF_MAX_VAR_OFF = 1 << 29;
export const BPF_MAX_VAR_SIZ = 1 << 29;
export const MAX_PACKET_OFF = 0xffff;

export interface Env {
  readonly progType: number;
  readonly attachType: number;
  /** BPF_F_STRICT_ALIGNMENT: check alignment of every pointer, not only the stack's. */
  readonly strictAlignment: boolean;
  /** BPF_F_TEST_REG_INVARIANTS: contradictory bounds are an error rather than a reset. */
  readonly testRegInvariants: boolean;
  /**
   * The loader has CAP_BPF/CAP_PERFMON (kernel: env->bpf_capable, allow_ptr_leaks,
   * bypass_spec_v1/v4, allow_uninit_stack all true). False: the unprivileged rules of unpriv.ts.
   */
  readonly privileged: boolean;
  /** The program's license is GPL-compatible (kernel: prog->gpl_compatible): GPL-only helpers are allowed. */
  readonly gplCompatible: boolean;
  /** Instructions by slot index; the second slot of an lddw is undefined. */
  readonly slots: readonly (Instruction | undefined)[];
  /** Map descriptions by the fd (imm) an lddw names. */
  readonly mapOf: (fd: number) => MapInfo | undefined;
  /** Subprogram start slots, sorted, [0] = 0. */
  readonly subprogs: readonly number[];
  /** Deepest stack use seen per subprogram, in bytes. */
  readonly stackDepth: number[];
  /** Subprograms called from each subprogram (bpf-to-bpf calls seen). */
  readonly calls: Set<number>[];
  idGen: number;
  /** Index of the instruction being checked. */
  insnIdx: number;
  /** Appends a line to the log when the log is on. */
  readonly log: (line: string) => void;
  readonly logLevel: number;
}

/** Throws the rejection for the current instruction. */
export function reject(env: Env, message: string): never {
  throw new VerifierReject(message, env.insnIdx);
}

/** Index of the subprogram containing slot `idx`. */
export function subprogOf(env: Env, idx: number): number {
  let lo = 0;
  let hi = env.subprogs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (env.subprogs[mid]! <= idx) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
