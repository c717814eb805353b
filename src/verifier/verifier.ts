/**
 * The verifier's main loop (kernel: verifier.c bpf_check and do_check): every path from the
 * first instruction is followed with an abstract state, branches are queued, states are
 * checkpointed at prune points and paths that an explored state covers are cut.
 */
import { decodeRawProgram, type Instruction, type RawInstruction } from '../isa/index.js';
import { ProgramType } from '../object/uapi-types.js';
import { checkAlu, checkEndian, checkReadable, checkWritable } from './alu.js';
import { branchTaken, markPtrOrNull, matchPktPointers, setMinMax, syncLinked } from './branch.js';
import { checkHelperCall, enterSubprog, exitSubprog } from './call.js';
import { checkControlFlow, jumpTarget } from './cfg.js';
import { effectiveAttachType, mayAccessSkb, returnRange } from './ctx.js';
import { type Env, VerifierReject, reject, subprogOf } from './env.js';
import { alignState, formatFrame, formatKernelInsn, formatReg, touchedRegs } from './log.js';
import { memAccess, typeName } from './mem.js';
import { statesEqual } from './prune.js';
import { type MapInfo, Reg, isNullScalar, markKnown, markNotInit, markPointer, markUnknown } from './reg.js';
import { type Checkpoint, Frame, VerifierState } from './state.js';

/** kernel: BPF_COMPLEXITY_LIMIT_INSNS, BPF_COMPLEXITY_LIMIT_JMP_SEQ. */
export const COMPLEXITY_LIMIT_INSNS = 1_000_000;
const COMPLEXITY_LIMIT_JMP_SEQ = 8192;
/** Checkpoints kept per instruction; past this, new states are not recorded there. */
const MAX_STATES_PER_INSN = 64;

/** prog_flags bits the verifier reads (include/uapi/linux/bpf.h). */
const BPF_F_STRICT_ALIGNMENT = 1 << 0;
const BPF_F_TEST_REG_INVARIANTS = 1 << 7;

/**
 * prog_flags this verifier accepts: STRICT_ALIGNMENT, ANY_ALIGNMENT, TEST_RND_HI32, TEST_STATE_FREQ,
 * XDP_HAS_FRAGS, TEST_REG_INVARIANTS. Others (SLEEPABLE, XDP_DEV_BOUND_ONLY, TOKEN_FD, unknown bits)
 * change what the kernel allows or refuses outright: rejected rather than guessed.
 */
const MODELLED_PROG_FLAGS = 1 | 2 | 4 | 8 | 32 | 128;
const BPF_F_SLEEPABLE = 1 << 4;

export interface VerifyOptions {
  /** `ProgramType.*`; 0 is taken as SOCKET_FILTER, as test_verifier does. */
  progType: number;
  /** `AttachType.*` (expected_attach_type). */
  expectedAttachType?: number;
  /** prog_flags (`ProgramFlag.*`): STRICT_ALIGNMENT and TEST_REG_INVARIANTS matter. */
  flags?: number;
  /** Describes the map an `lddw` of a map fd (or map value) names; undefined for a bad fd. */
  maps?: (fd: number) => MapInfo | undefined;
  /** 0: no log; 1: instructions on each path and the error; 2: also the state after each instruction. */
  logLevel?: 0 | 1 | 2;
  /** Keep the states seen before each instruction (formatted as the log prints them). */
  collectStates?: boolean;
  /** Processed-instruction limit (default 1,000,000, the kernel's). */
  insnLimit?: number;
}

export interface VerifyError {
  /** Slot index of the instruction where verification failed. */
  readonly insn: number;
  /** The kernel's words for the problem (`R2 !read_ok`). */
  readonly message: string;
}

export interface VerifyResult {
  readonly verdict: 'accept' | 'reject';
  /** Instructions processed over all paths (the kernel's `processed N insns`). */
  readonly processed: number;
  readonly error?: VerifyError;
  /** The log in the kernel's format (empty at log level 0). */
  readonly log: string;
  /** Checkpoints recorded (`total_states`). */
  readonly totalStates: number;
  /** Deepest stack use per subprogram. */
  readonly stackDepth: readonly number[];
  /** With `collectStates`: by slot index, every state seen before that instruction. */
  readonly states?: ReadonlyMap<number, string[]>;
}

const PROG_TYPES_MODELLED = new Set<number>([
  ProgramType.SOCKET_FILTER, ProgramType.KPROBE, ProgramType.SCHED_CLS, ProgramType.SCHED_ACT, ProgramType.TRACEPOINT,
  ProgramType.XDP, ProgramType.PERF_EVENT, ProgramType.CGROUP_SKB, ProgramType.SK_SKB, ProgramType.RAW_TRACEPOINT,
  ProgramType.CGROUP_SOCK_ADDR, ProgramType.CGROUP_SOCK, ProgramType.SK_MSG, ProgramType.SK_LOOKUP,
]);

/** Program types this verifier can check (others are rejected as not modelled). */
export function isProgramTypeModelled(progType: number): boolean {
  return PROG_TYPES_MODELLED.has(progType === 0 ? ProgramType.SOCKET_FILTER : progType);
}

/**
 * Verifies a program as the kernel's verifier would for a privileged (root) loader, and
 * returns the verdict, the first error and the log. Conservative: what this verifier cannot
 * model it rejects, with a message saying so.
 *
 * @example
 * const result = verify(assemble('r0 = 0\nexit'), { progType: ProgramType.SOCKET_FILTER });
 * result.verdict; // 'accept'
 */
export function verify(program: readonly Instruction[] | readonly RawInstruction[], options: VerifyOptions): VerifyResult {
  const lines: string[] = [];
  const logLevel = options.logLevel ?? 0;
  const log = (line: string): void => { if (logLevel > 0) lines.push(line); };
  const progType = options.progType === 0 ? ProgramType.SOCKET_FILTER : options.progType;
  let insns: readonly Instruction[];
  try {
    insns = program.length > 0 && 'kind' in program[0]! ? program as Instruction[] : decodeRawProgram(program as RawInstruction[]);
  } catch (err) {
    const message = (err as Error).message;
    const m = /^insn (\d+): /.exec(message);
    return finish(lines, { insn: m ? Number(m[1]) : 0, message }, 0, 0, [], undefined, log);
  }
  const slots: (Instruction | undefined)[] = [];
  for (const insn of insns) {
    slots.push(insn);
    if (insn.kind === 'lddw') slots.push(undefined);
  }
  const states = options.collectStates ? new Map<number, string[]>() : undefined;
  const env: Env = {
    progType,
    attachType: effectiveAttachType(progType, options.expectedAttachType ?? 0) ?? -1,
    strictAlignment: ((options.flags ?? 0) & BPF_F_STRICT_ALIGNMENT) !== 0,
    testRegInvariants: ((options.flags ?? 0) & BPF_F_TEST_REG_INVARIANTS) !== 0,
    slots,
    mapOf: options.maps ?? (() => undefined),
    subprogs: [0],
    stackDepth: [],
    calls: [],
    idGen: 0,
    insnIdx: 0,
    log,
    logLevel,
  };
  const run = new Run(env, options.insnLimit ?? COMPLEXITY_LIMIT_INSNS, states);
  try {
    if (slots.length === 0) throw new VerifierReject('empty program', 0);
    if (slots.length > COMPLEXITY_LIMIT_INSNS) throw new VerifierReject(`BPF program is too large. Processed ${slots.length} insn`, 0);
    if (!PROG_TYPES_MODELLED.has(progType)) throw new VerifierReject(`program type ${progType} is not modelled by this verifier`, 0);
    // kernel: bpf_prog_load's flag mask, and check_attach_btf_id's "can be sleepable" (no type modelled here can be).
    // A sleepable kprobe (a uprobe.s) loads; the maps it may use are restricted, so only a program without maps is modelled.
    const sleepableOk = progType === ProgramType.KPROBE
      && !slots.some((insn) => insn?.kind === 'lddw' && (insn.src === 1 || insn.src === 2 || insn.src === 5 || insn.src === 6));
    const unmodelledFlags = (options.flags ?? 0) & ~MODELLED_PROG_FLAGS & ~(sleepableOk ? BPF_F_SLEEPABLE : 0);
    if (unmodelledFlags !== 0) throw new VerifierReject(`prog_flags 0x${unmodelledFlags.toString(16)} (sleepable, device-bound, token…) are not modelled by this verifier`, 0);
    if (env.attachType === -1) throw new VerifierReject(`expected attach type ${options.expectedAttachType ?? 0} is not valid for program type ${progType}`, 0);
    run.prepare();
    run.check();
    run.checkMaxStackDepth();
  } catch (err) {
    if (!(err instanceof VerifierReject)) throw err;
    return finish(lines, { insn: err.insn, message: err.message }, run.processed, run.totalStates, env.stackDepth, states, log);
  }
  return finish(lines, undefined, run.processed, run.totalStates, env.stackDepth, states, log);
}

function finish(lines: string[], error: VerifyError | undefined, processed: number, totalStates: number, stackDepth: number[],
  states: Map<number, string[]> | undefined, log: (l: string) => void): VerifyResult {
  if (error !== undefined) log(error.message);
  log(`processed ${processed} insns (limit ${COMPLEXITY_LIMIT_INSNS}) max_states_per_insn 0 total_states ${totalStates} peak_states ${totalStates} mark_read 0`);
  return {
    verdict: error === undefined ? 'accept' : 'reject',
    processed,
    ...(error !== undefined ? { error } : {}),
    log: lines.length ? `${lines.join('\n')}\n` : '',
    totalStates,
    stackDepth: [...stackDepth],
    ...(states !== undefined ? { states } : {}),
  };
}

/** One verification: the queue of pending paths and the checkpoints. */
class Run {
  readonly env: Env;
  readonly limit: number;
  readonly collected: Map<number, string[]> | undefined;
  processed = 0;
  totalStates = 0;
  prunePoints: Uint8Array = new Uint8Array(0);
  readonly pending: VerifierState[] = [];
  readonly explored = new Map<number, Checkpoint[]>();
  /** Pointer type each load/store instruction was used with (kernel: insn_aux_data.ptr_type). */
  readonly ptrTypes = new Map<number, string>();

  constructor(env: Env, limit: number, collected: Map<number, string[]> | undefined) {
    this.env = env;
    this.limit = limit;
    this.collected = collected;
  }

  /** Structure checks, map references and subprograms (kernel: resolve_pseudo_ldimm64, check_subprogs, check_cfg). */
  prepare(): void {
    const env = this.env;
    env.slots.forEach((insn, i) => {
      if (insn?.kind !== 'lddw') return;
      env.insnIdx = i;
      if ((insn.src === 1 || insn.src === 5) && insn.imm2 !== 0) reject(env, 'unrecognized bpf_ld_imm64 insn');
      if (insn.src > 6) reject(env, 'unrecognized bpf_ld_imm64 insn');
      if (insn.src === 1 || insn.src === 2) {
        const map = env.mapOf(insn.imm);
        if (map === undefined) reject(env, `fd ${insn.imm} is not pointing to valid bpf_map`);
        if (insn.src === 2) {
          if (map.type !== 2 || map.maxEntries < 1) reject(env, 'map direct value access is only modelled for arrays');
          if (insn.imm2 < 0 || insn.imm2 >= map.valueSize) reject(env, `invalid access to map value pointer, value_size=${map.valueSize} off=${insn.imm2}`);
        }
      } else if (insn.src !== 0) {
        reject(env, `lddw with pseudo source ${insn.src} is not modelled by this verifier`);
      }
    });
    const cfg = checkControlFlow(env.slots, true);
    (env as { subprogs: readonly number[] }).subprogs = cfg.subprogs;
    for (let i = 0; i < cfg.subprogs.length; i++) { env.stackDepth[i] = 0; env.calls[i] = new Set(); }
    // Without BTF func_info, subprograms may not use LD_ABS/LD_IND (kernel: check_btf_func_early).
    env.slots.forEach((insn, i) => {
      if ((insn?.kind === 'ld_abs' || insn?.kind === 'ld_ind') && subprogOf(env, i) > 0) {
        env.insnIdx = i;
        reject(env, 'LD_ABS is not allowed in subprogs without BTF');
      }
    });
    // The call graph is static, dead calls included (kernel: check_max_stack_depth).
    env.slots.forEach((insn, i) => {
      if (insn?.kind === 'call' && insn.target === 'local') env.calls[subprogOf(env, i)]!.add(subprogOf(env, i + insn.imm + 1));
    });
    this.prunePoints = cfg.prunePoints;
  }

  /** kernel: check_max_stack_depth: the deepest chain of calls may use at most 512 bytes of stack. */
  checkMaxStackDepth(): void {
    const env = this.env;
    const round = (d: number): number => Math.ceil(Math.max(d, 1) / 32) * 32;
    const walk = (sub: number, depth: number, frame: number): void => {
      const total = depth + round(env.stackDepth[sub] ?? 0);
      if (total > 512) reject(env, `combined stack size of ${frame + 1} calls is ${total}. Too large`);
      for (const callee of env.calls[sub] ?? []) {
        if (frame + 1 >= 8) reject(env, `the call stack of ${frame + 1} frames is too deep !`);
        walk(callee, total, frame + 1);
      }
    };
    env.insnIdx = 0;
    walk(0, 0, 0);
  }

  initialState(): VerifierState {
    const frame = new Frame(0, 0, -1);
    markPointer(frame.regs[1]!, 'ctx');
    return new VerifierState([frame]);
  }

  /** kernel: do_check. */
  check(): void {
    const env = this.env;
    let state: VerifierState | undefined = this.initialState();
    env.log('func#0 @0');
    let doPrint = true;
    while (state !== undefined) {
      const idx = state.insnIdx;
      env.insnIdx = idx;
      if (idx < 0 || idx >= env.slots.length) reject(env, `invalid insn idx ${idx} insn_cnt ${env.slots.length}`);
      const insn = env.slots[idx];
      if (insn === undefined) reject(env, `jump into the middle of ldimm64 insn ${idx - 1}`);
      if (++this.processed > this.limit) reject(env, `BPF program is too large. Processed ${this.processed} insn`);

      if (this.prunePoints[idx] === 1) {
        const visit = this.isStateVisited(state, idx);
        if (visit === 'pruned') {
          if (env.logLevel > 0) env.log(`${idx}: safe`);
          state = this.endPath(state);
          doPrint = true;
          continue;
        }
      }
      if (env.logLevel > 0 && doPrint) {
        const from = state.prevInsnIdx >= 0 ? `from ${state.prevInsnIdx} to ${idx}: ` : `${idx}: `;
        env.log(`${from}${this.formatState(state)}`);
        doPrint = false;
      }
      if (this.collected !== undefined) {
        const list = this.collected.get(idx) ?? [];
        list.push(this.formatState(state));
        this.collected.set(idx, list);
      }
      let next: number | undefined;
      try {
        next = this.step(state, insn, idx);
      } catch (err) {
        // The kernel prints the instruction, then why it is refused.
        if (env.logLevel > 0) env.log(`${idx}: ${formatKernelInsn(insn, (i) => this.namer(i))}`);
        throw err;
      }
      if (env.logLevel > 0) {
        const text = `${idx}: ${formatKernelInsn(insn, (i) => this.namer(i))}`;
        const after = env.logLevel > 1 && next !== undefined ? formatFrame(state.cur, state.curframe, touchedRegs(insn)) : '';
        env.log(after !== '' ? `${alignState(text)}; ${after}` : text);
      }
      if (next === undefined) {
        state = this.endPath(state);
        doPrint = true;
      } else {
        state.insnIdx = next;
        state.prevInsnIdx = -1;
      }
    }
  }

  namer(i: Instruction & { kind: 'lddw' }): string {
    if (i.src === 1) return `map[id:${this.env.mapOf(i.imm)?.id ?? i.imm}]`;
    if (i.src === 2) return `map[id:${this.env.mapOf(i.imm)?.id ?? i.imm}][0]+${i.imm2}`;
    return `0x${((BigInt(i.imm2 >>> 0) << 32n) | BigInt(i.imm >>> 0)).toString(16)}`;
  }

  formatState(state: VerifierState): string {
    return state.frames.map((f, i) => formatFrame(f, i)).join(' ');
  }

  /** Ends the current path and returns the next queued one. */
  endPath(state: VerifierState): VerifierState | undefined {
    let cp = state.parent;
    while (cp !== undefined) {
      cp.pending--;
      if (cp.pending > 0) break;
      cp = cp.parent;
    }
    return this.pending.pop();
  }

  /** Queues a copy of `state` to continue at `idx` (kernel: push_stack). */
  push(state: VerifierState, idx: number, from: number): VerifierState {
    if (this.pending.length >= COMPLEXITY_LIMIT_JMP_SEQ) {
      reject(this.env, `The sequence of ${this.pending.length + 1} jumps is too complex.`);
    }
    const copy = state.clone();
    copy.insnIdx = idx;
    copy.prevInsnIdx = from;
    if (copy.parent !== undefined) copy.parent.pending++;
    this.pending.push(copy);
    return copy;
  }

  /** kernel: is_state_visited. */
  isStateVisited(state: VerifierState, idx: number): 'pruned' | 'new' {
    const list = this.explored.get(idx) ?? [];
    for (const cp of list) {
      if (cp.pending === 0) {
        if (statesEqual(cp.state, state)) { cp.hits++; return 'pruned'; }
        cp.misses++;
      }
    }
    // A loop that came back to the same state cannot terminate (kernel: "infinite loop detected").
    for (let cp = state.parent; cp !== undefined; cp = cp.parent) {
      if (cp.insnIdx === idx) {
        if (cp.pending > 0 && statesEqual(cp.state, state, true)) reject(this.env, `infinite loop detected at insn ${idx}`);
        break;
      }
    }
    if (list.length >= MAX_STATES_PER_INSN) {
      const i = list.findIndex((cp) => cp.pending === 0 && cp.misses > cp.hits * 3 + 8);
      if (i < 0) return 'new';
      list.splice(i, 1);
    }
    const cp: Checkpoint = { state: state.clone(), insnIdx: idx, parent: state.parent, pending: 1, misses: 0, hits: 0 };
    state.parent = cp;
    list.push(cp);
    this.explored.set(idx, list);
    this.totalStates++;
    return 'new';
  }

  /** Executes one instruction on `state`; returns the next slot, or undefined when the path ends. */
  step(state: VerifierState, insn: Instruction, idx: number): number | undefined {
    const env = this.env;
    const regs = state.cur.regs;
    switch (insn.kind) {
      case 'alu':
        checkAlu(env, state, insn);
        return idx + 1;
      case 'endian':
        checkEndian(env, state, insn.dst);
        return idx + 1;
      case 'addr_space_cast':
        reject(env, 'addr_space_cast is not modelled by this verifier');
        break;
      case 'ldx': {
        checkReadable(env, state, insn.src);
        checkWritable(env, insn.dst);
        const value = new Reg();
        markUnknown(value);
        const base = regs[insn.src]!.clone();
        memAccess(env, state, insn.src, insn.off, insn.size, { write: false, dst: value, signed: insn.signed });
        this.savePtrType(base);
        regs[insn.dst]!.assign(value);
        return idx + 1;
      }
      case 'st':
        checkReadable(env, state, insn.dst);
        memAccess(env, state, insn.dst, insn.off, insn.size, { write: true, value: { imm: insn.imm } });
        this.savePtrType(regs[insn.dst]!);
        return idx + 1;
      case 'stx': {
        checkReadable(env, state, insn.src);
        checkReadable(env, state, insn.dst);
        memAccess(env, state, insn.dst, insn.off, insn.size, { write: true, value: { reg: regs[insn.src]!.clone() } });
        this.savePtrType(regs[insn.dst]!);
        return idx + 1;
      }
      case 'atomic':
        this.atomic(state, insn);
        return idx + 1;
      case 'ld_abs':
      case 'ld_ind':
        this.ldAbs(state, insn);
        return idx + 1;
      case 'lddw':
        this.lddw(state, insn);
        return idx + 2;
      case 'call':
        if (insn.target === 'local') {
          const target = enterSubprog(env, state, insn, idx);
          return target;
        }
        if (insn.target === 'kfunc') reject(env, 'kernel function calls are not modelled by this verifier');
        checkHelperCall(env, state, insn);
        if (insn.imm === 12) {
          // bpf_tail_call: when it succeeds the program ends there.
        }
        return idx + 1;
      case 'callx':
        reject(env, 'callx is not modelled by this verifier');
        break;
      case 'ja':
        return jumpTarget(insn, idx)!;
      case 'may_goto':
        reject(env, 'may_goto is not modelled by this verifier');
        break;
      case 'exit':
        return this.exit(state);
      case 'jump':
        return this.condJump(state, insn, idx);
    }
    return undefined;
  }

  /** kernel: save_aux_ptr_type: one load/store may not mix a context (or socket) pointer with others. */
  savePtrType(reg: Reg): void {
    const t = reg.type;
    const prev = this.ptrTypes.get(this.env.insnIdx);
    if (prev === undefined) { this.ptrTypes.set(this.env.insnIdx, t); return; }
    const special = (x: string): boolean => x === 'ctx' || x === 'sock' || x === 'sock_common' || x === 'tcp_sock' || x === 'btf_id';
    if (prev !== t && (special(prev) || special(t))) reject(this.env, 'same insn cannot be used with different pointers');
  }

  lddw(state: VerifierState, insn: Instruction & { kind: 'lddw' }): void {
    const env = this.env;
    checkWritable(env, insn.dst);
    const dst = state.cur.reg(insn.dst);
    if (insn.src === 0) {
      markKnown(dst, (BigInt(insn.imm2 >>> 0) << 32n) | BigInt(insn.imm >>> 0));
      return;
    }
    const map = env.mapOf(insn.imm)!;
    if (insn.src === 1) {
      markPointer(dst, 'map_ptr');
      dst.map = map;
      return;
    }
    markPointer(dst, 'map_value');
    dst.map = map;
    dst.off = insn.imm2;
  }

  /** kernel: check_atomic. */
  atomic(state: VerifierState, insn: Instruction & { kind: 'atomic' }): void {
    const env = this.env;
    if (insn.op === 'load_acq' || insn.op === 'store_rel') reject(env, 'load-acquire and store-release are not modelled by this verifier');
    if (insn.size !== 4 && insn.size !== 8) reject(env, 'invalid atomic operand size');
    checkReadable(env, state, insn.src);
    const dst = checkReadable(env, state, insn.dst);
    if (insn.op === 'cmpxchg') checkReadable(env, state, 0);
    if (dst.type === 'ctx' || dst.isPkt || dst.type === 'flow_keys' || dst.type === 'sock' || dst.type === 'sock_common' || dst.type === 'tcp_sock') {
      reject(env, `BPF_ATOMIC stores into R${insn.dst} ${typeName(dst)} is not allowed`);
    }
    const loadReg = insn.op === 'cmpxchg' ? 0 : insn.src;
    const value = new Reg();
    markUnknown(value);
    if (insn.fetch) checkWritable(env, loadReg);
    memAccess(env, state, insn.dst, insn.off, insn.size, { write: false, dst: undefined, signed: false }, true);
    if (insn.fetch) memAccess(env, state, insn.dst, insn.off, insn.size, { write: false, dst: value, signed: false }, true);
    memAccess(env, state, insn.dst, insn.off, insn.size, { write: true, value: { unknown: true } }, true);
    this.savePtrType(dst);
    if (insn.fetch) {
      checkWritable(env, loadReg);
      state.cur.reg(loadReg).assign(value);
    }
  }

  /** kernel: check_ld_abs. */
  ldAbs(state: VerifierState, insn: Instruction & { kind: 'ld_abs' | 'ld_ind' }): void {
    const env = this.env;
    if (!mayAccessSkb(env.progType)) reject(env, 'BPF_LD_[ABS|IND] instructions not allowed for this program type');
    const r6 = checkReadable(env, state, 6);
    if (state.refs.length > 0) reject(env, 'BPF_LD_[ABS|IND] cannot be mixed with socket references');
    if (insn.kind === 'ld_ind') {
      const src = checkReadable(env, state, insn.src);
      if (src.type !== 'scalar') reject(env, `R${insn.src} invalid mem access '${typeName(src)}'`);
    }
    if (r6.type !== 'ctx' || r6.off !== 0 || r6.varOff.mask !== 0n || r6.varOff.value !== 0n) {
      reject(env, 'at the time of BPF_LD_ABS|IND R6 != pointer to skb');
    }
    const regs = state.cur.regs;
    for (let r = 1; r <= 5; r++) markNotInit(regs[r]!);
    markUnknown(regs[0]!);
  }

  exit(state: VerifierState): number | undefined {
    const env = this.env;
    if (state.frames.length > 1) return exitSubprog(env, state);
    if (state.refs.length > 0) {
      const ref = state.refs[0]!;
      reject(env, `Unreleased reference id=${ref.id} alloc_insn=${ref.insn}`);
    }
    const r0 = checkReadable(env, state, 0);
    const range = returnRange(env.progType, env.attachType);
    if (range !== undefined) {
      if (r0.type !== 'scalar') reject(env, `At program exit the register R0 is not a known value (${typeName(r0)})`);
      if (r0.smin < range[0] || r0.smax > range[1] || r0.umax > range[1]) {
        reject(env, `At program exit the register R0 has ${formatReg(r0)} should have been in [${range[0]}, ${range[1]}]`);
      }
    }
    return undefined;
  }

  /** kernel: check_cond_jmp_op. */
  condJump(state: VerifierState, insn: Instruction & { kind: 'jump' }, idx: number): number | undefined {
    const env = this.env;
    const dst = checkReadable(env, state, insn.dst);
    let src: Reg;
    if (insn.useReg) {
      src = checkReadable(env, state, insn.src);
    } else {
      src = new Reg();
      markKnown(src, BigInt(insn.imm));
    }
    const target = idx + insn.off + 1;
    const pred = branchTaken(dst, src, insn.op, insn.jmp32);
    if (pred === 1) return target;
    if (pred === 0) return idx + 1;

    const other = this.push(state, target, idx);
    const odst = other.cur.reg(insn.dst);
    const osrc = insn.useReg ? other.cur.reg(insn.src) : src.clone();
    const fsrc = insn.useReg ? src : src.clone();
    const ok = setMinMax(odst, osrc, dst, fsrc, insn.op, insn.jmp32);
    if (!ok) {
      if (env.testRegInvariants) reject(env, 'REG INVARIANTS VIOLATION: contradictory bounds after a comparison');
      // The kernel resets such registers to unknown; do the same.
      for (const r of [odst, osrc, dst, fsrc]) if (r.type === 'scalar') markUnknown(r);
    }
    if (insn.useReg && src.type === 'scalar' && src.id !== 0) {
      syncLinked(state, src);
      syncLinked(other, osrc);
    }
    if (dst.type === 'scalar' && dst.id !== 0) {
      syncLinked(state, dst);
      syncLinked(other, odst);
    }
    if (!insn.jmp32 && !insn.useReg && insn.imm === 0 && (insn.op === 'jeq' || insn.op === 'jne') && dst.maybeNull) {
      markPtrOrNull(state, dst, insn.op === 'jne');
      markPtrOrNull(other, odst, insn.op === 'jeq');
    } else if (!insn.jmp32 && insn.useReg && dst.isPointer && src.isPointer && dst.maybeNull !== src.maybeNull
      && (insn.op === 'jeq' || insn.op === 'jne')) {
      // A nullable pointer equal to a non-NULL one is not NULL.
      const nullable = dst.maybeNull ? insn.dst : insn.src;
      const eqState = insn.op === 'jeq' ? other : state;
      markPtrOrNull(eqState, eqState.cur.reg(nullable), false);
    } else if (insn.useReg) {
      matchPktPointers(insn.op, insn.jmp32, state, other, dst, src, odst, osrc);
    }
    void isNullScalar;
    return idx + 1;
  }
}
