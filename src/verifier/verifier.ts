/**
 * The verifier's main loop (kernel: verifier.c bpf_check and do_check): every path from the
 * first instruction is followed with an abstract state, branches are queued, states are
 * checkpointed at prune points and paths that an explored state covers are cut.
 */
import { decodeRawProgram, type Instruction, type RawInstruction } from '../isa/index.js';
import { ProgramType } from '../object/uapi-types.js';
import { checkAlu, checkEndian, checkReadable, checkWritable } from './alu.js';
import { branchTaken, markPtrOrNull, matchPktPointers, setMinMax, syncLinked } from './branch.js';
import { CALLBACK_HELPERS, callGlobal, checkHelperCall, enterSubprog, exitSubprog, globalEntryState } from './call.js';
import type { GlobalSignature } from './global-func.js';
import { HELPER_PROTOS } from './helpers.js';
import { checkControlFlow, jumpTarget } from './cfg.js';
import { effectiveAttachType, mayAccessSkb, returnRange } from './ctx.js';
import { type Env, VerifierReject, reject, subprogOf } from './env.js';
import {
  type RegisterInfo, alignState, formatFrame, formatKernelInsn, formatReg, formatVerifierState, registerSnapshot, touchedRegs,
} from './log.js';
import { liveRegsTable } from './live-regs.js';
import { memAccess, typeName } from './mem.js';
import type { Btf } from '../btf/index.js';
import { btfEnv, setBtfEnv } from './btf-ptr.js';
import { type ExceptionCallback, isBpfThrow, mayThrow } from './exception.js';
import { TracingTargetError, canBeSleepable, sleepableMapsError, tracingSetup } from './ctx-tracing.js';
import { statesEqual } from './prune.js';
import {
  checkLeak, checkReturnLeak, checkTailCallMaps, checkUnprivProgram, isPointerValue, nospecRecoverable, pruneOptions,
  recordTailCallMap, setSpeculative, takeSpeculativeSim,
} from './unpriv.js';
import { type MapInfo, Reg, isNullScalar, markKnown, markNotInit, markPointer, markUnknown } from './reg.js';
import { type Checkpoint, Frame, type PathStep, VerifierState, extendTrail, trailToPath } from './state.js';

/** kernel: BPF_COMPLEXITY_LIMIT_INSNS, BPF_COMPLEXITY_LIMIT_JMP_SEQ. */
export const COMPLEXITY_LIMIT_INSNS = 1_000_000;
const COMPLEXITY_LIMIT_JMP_SEQ = 8192;
/** Callback iterations on one path before differing scalars are widened (see Run.widenCallbackLoop). */
const CALLBACK_WIDEN_AFTER = 16;
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

/** One subprogram's BTF func_info as the verifier needs it. */
export interface FuncInfo {
  /** Slot index of the subprogram's first instruction. */
  readonly insn: number;
  /** BTF_FUNC_STATIC (0), BTF_FUNC_GLOBAL (1) or BTF_FUNC_EXTERN (2). */
  readonly linkage: number;
  /** The return type is an integer of at most 8 bytes or an enum (kernel: scalar_return). */
  readonly scalarReturn: boolean;
  /** The function's name (for the log). */
  readonly name?: string;
  /**
   * A global function's arguments as its BTF types them (`describeGlobalFunc` in global-func.ts),
   * or why calls to it are refused; a global function without either is refused when called.
   */
  readonly params?: GlobalSignature['params'];
  readonly globalError?: string;
}

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
  /**
   * The structured log, for tools: called before each instruction the verifier processes,
   * with its slot index, the instruction the path came from (-1 when it ran on) and every
   * register and stack slot of every frame.
   */
  onStep?: (step: VerifierStep) => void;
  /** Processed-instruction limit (default 1,000,000, the kernel's). */
  insnLimit?: number;
  /**
   * The kernel's BTF (`/sys/kernel/btf/vmlinux` parsed with `parseBtf`): types the context of
   * TRACING programs and the structs their `btf_id` pointers reach. Without it TRACING
   * programs are rejected as not modelled.
   */
  btf?: Btf;
  /** attach_btf_id: the id in `btf` of the attach target (`btf_trace_<tp>` typedef, `bpf_iter_<target>` function). */
  attachBtfId?: number;
  /** Instead of `attachBtfId`: the target as libbpf's section names it (`sched_switch` for tp_btf, `task` for iter). */
  attachTarget?: string;
  /**
   * The license is GPL-compatible (kernel: license_is_gpl_compatible, see `licenseIsGplCompatible`):
   * needed for GPL-only helpers and to read kernel structs. Default true, as test_verifier's
   * programs are "GPL"; pass the object's license (`licenseIsGplCompatible(prog.license)`).
   */
  gplCompatible?: boolean;
  /**
   * The exception callback the program's BTF names (`findExceptionCallback` in exception.ts):
   * verified as a second entry point; `bpf_throw` (a kfunc, needs `btf`) then returns through it.
   */
  exceptionCallback?: ExceptionCallback;
  /**
   * The program's BTF func_info, one entry per subprogram in order, when the loader passes it
   * (prog_btf_fd, func_info): a callback (`lddw` of a function) needs it, and subprograms with
   * tail calls or LD_ABS must return a scalar. Without it the kernel's no-BTF rules apply.
   */
  funcInfo?: readonly FuncInfo[];
  /**
   * The loader's privileges. true (the default): root, or CAP_BPF + CAP_PERFMON. false: a loader
   * without capabilities (kernel.unprivileged_bpf_disabled = 0): only socket filters and
   * cgroup_skb programs, no pointer leaks, no loops, no bpf-to-bpf calls, pointer arithmetic
   * that Spectre masking can bound (unpriv.ts).
   */
  privileged?: boolean;
}

/** One entry of the structured log ({@link VerifyOptions.onStep}). */
export interface VerifierStep {
  /** Slot index of the instruction about to be checked. */
  readonly insn: number;
  /** The instruction the path jumped from, or -1 when it ran on from the previous one. */
  readonly from: number;
  /** The state before it: registers and stack slots of every frame. */
  readonly registers: readonly RegisterInfo[];
}

export interface VerifyError {
  /** Slot index of the instruction where verification failed. */
  readonly insn: number;
  /** The kernel's words for the problem (`R2 !read_ok`). */
  readonly message: string;
  /**
   * The path that led to the rejection, from the first instruction to `insn` (the last
   * {@link MAX_REPORTED_PATH} steps), with the direction of each conditional jump. Absent for
   * rejections found before any path was followed (structure, CFG, stack depth checks).
   */
  readonly path?: readonly PathStep[];
  /** Steps left off the front of `path` because it was longer than {@link MAX_REPORTED_PATH}. */
  readonly pathDropped?: number;
  /** The failing state's registers and stack slots, every frame. */
  readonly registers?: readonly RegisterInfo[];
  /** References the failing path held: id and the instruction that acquired each. */
  readonly refs?: readonly { readonly id: number; readonly insn: number }[];
}

/** The longest path a {@link VerifyError} reports. */
export const MAX_REPORTED_PATH = 10_000;

/**
 * What check() saw of a rejection, handed to finish() by the log function both get (one per
 * verify() call), so the failing path reaches the result.
 */
const failures = new WeakMap<(line: string) => void, Omit<VerifyError, 'insn' | 'message'>>();

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
  ProgramType.LWT_IN, ProgramType.LWT_OUT, ProgramType.LWT_XMIT, ProgramType.SOCK_OPS, ProgramType.CGROUP_DEVICE,
  ProgramType.SK_REUSEPORT, ProgramType.FLOW_DISSECTOR, ProgramType.CGROUP_SYSCTL, ProgramType.CGROUP_SOCKOPT,
  ProgramType.NETFILTER,
]);

// Tracing (ctx-tracing.ts): tp_btf and iterators, writable raw tracepoints, syscall programs.
for (const t of [ProgramType.TRACING, ProgramType.RAW_TRACEPOINT_WRITABLE, ProgramType.SYSCALL]) PROG_TYPES_MODELLED.add(t);

/** Program types this verifier can check (others are rejected as not modelled). */
export function isProgramTypeModelled(progType: number): boolean {
  return PROG_TYPES_MODELLED.has(progType === 0 ? ProgramType.SOCKET_FILTER : progType);
}

/**
 * Verifies a program as the kernel's verifier would for a privileged (root) loader (or, with
 * `privileged: false`, for one without capabilities), and returns the verdict, the first
 * error and the log. Conservative: what this verifier cannot
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
    privileged: options.privileged !== false,
    gplCompatible: options.gplCompatible !== false,
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
  run.onStep = options.onStep;
  run.funcInfo = options.funcInfo;
  try {
    if (slots.length === 0) throw new VerifierReject('empty program', 0);
    if (slots.length > COMPLEXITY_LIMIT_INSNS) throw new VerifierReject(`BPF program is too large. Processed ${slots.length} insn`, 0);
    if (!PROG_TYPES_MODELLED.has(progType)) throw new VerifierReject(`program type ${progType} is not modelled by this verifier`, 0);
    // kernel: bpf_prog_load's flag mask, and check_attach_btf_id's "can be sleepable" (no type modelled here can be).
    // A sleepable kprobe (a uprobe.s) loads; the maps it may use are restricted, so only a program without maps is modelled.
    const sleepable = ((options.flags ?? 0) & BPF_F_SLEEPABLE) !== 0;
    // Tracing (ctx-tracing.ts): sleepable programs may use only some map types; maps named by index are not modelled.
    const mapTypes = slots.flatMap((insn) => (insn?.kind === 'lddw' && (insn.src === 1 || insn.src === 2) ? [env.mapOf(insn.imm)?.type ?? -1] : []));
    const byIndex = slots.some((insn) => insn?.kind === 'lddw' && (insn.src === 5 || insn.src === 6));
    const sleepableOk = canBeSleepable(progType, env.attachType) && !byIndex;
    if (sleepable && sleepableOk) {
      const mapsError = sleepableMapsError(mapTypes);
      if (mapsError !== undefined) throw new VerifierReject(mapsError, 0);
    }
    const unmodelledFlags = (options.flags ?? 0) & ~MODELLED_PROG_FLAGS & ~(sleepableOk ? BPF_F_SLEEPABLE : 0);
    if (unmodelledFlags !== 0) throw new VerifierReject(`prog_flags 0x${unmodelledFlags.toString(16)} (sleepable, device-bound, token…) are not modelled by this verifier`, 0);
    if (env.attachType === -1) throw new VerifierReject(`expected attach type ${options.expectedAttachType ?? 0} is not valid for program type ${progType}`, 0);
    // Tracing (btf-ptr.ts, ctx-tracing.ts): the attach target and the kernel BTF.
    try {
      const { target } = tracingSetup(progType, env.attachType, { ...options, sleepable });
      if (options.btf !== undefined) {
        setBtfEnv(env, { btf: options.btf, sleepable, gplCompatible: options.gplCompatible !== false, maxTpAccess: 0, ...(target ? { target } : {}) });
      }
    } catch (err) {
      if (err instanceof TracingTargetError) throw new VerifierReject(err.message, 0);
      throw err;
    }
    // Exceptions (exception.ts): the callback is a second root of the CFG and a second entry point.
    run.kernelBtf = options.btf;
    run.exceptionInsn = options.exceptionCallback?.insn;
    if (options.exceptionCallback !== undefined && !options.exceptionCallback.singleScalarArg) {
      throw new VerifierReject('exception cb only supports single integer argument', options.exceptionCallback.insn);
    }
    checkUnprivProgram(env); // unpriv.ts: program type, maps, bpf-to-bpf calls
    run.prepare();
    run.check();
    run.checkGlobalSubprogs(); // global-func.ts: each global function called, verified on its own
    if (run.exceptionInsn !== undefined) {
      run.entry = run.exceptionInsn;
      run.check();
    }
    run.checkMaxStackDepth();
    checkTailCallMaps(env); // unpriv.ts: do_misc_fixups
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
  const failure = failures.get(log);
  failures.delete(log);
  if (error !== undefined && failure !== undefined) error = { ...error, ...failure };
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

/** kernel: is_tracing_prog_type. */
const TRACING_PROG_TYPES: ReadonlySet<number> = new Set([ProgramType.KPROBE, ProgramType.TRACEPOINT, ProgramType.PERF_EVENT,
  ProgramType.RAW_TRACEPOINT, ProgramType.RAW_TRACEPOINT_WRITABLE]);

/** kernel: check_map_prog_compatibility, its special-field part: where spin locks and timers may be used. */
function checkMapProgCompatibility(env: Env, map: MapInfo): void {
  if (map.spinLockOff !== undefined) {
    if (env.progType === ProgramType.SOCKET_FILTER) reject(env, 'socket filter progs cannot use bpf_spin_lock yet');
    if (TRACING_PROG_TYPES.has(env.progType)) reject(env, 'tracing progs cannot use bpf_spin_lock yet');
  }
  if (map.timerOff !== undefined && TRACING_PROG_TYPES.has(env.progType)) reject(env, 'tracing progs cannot use bpf_timer yet');
}

/** One verification: the queue of pending paths and the checkpoints. */
class Run {
  readonly env: Env;
  readonly limit: number;
  readonly collected: Map<number, string[]> | undefined;
  onStep: ((step: VerifierStep) => void) | undefined;
  processed = 0;
  totalStates = 0;
  prunePoints: Uint8Array = new Uint8Array(0);
  readonly pending: VerifierState[] = [];
  readonly explored = new Map<number, Checkpoint[]>();
  /** Pointer type each load/store instruction was used with (kernel: insn_aux_data.ptr_type). */
  readonly ptrTypes = new Map<number, string>();
  /** The loader's BTF func_info (VerifyOptions.funcInfo). */
  funcInfo: readonly FuncInfo[] | undefined;
  /** Global functions (global-func.ts): called on a verified path, verified on their own, and the one being verified. */
  readonly globalCalled = new Set<number>();
  readonly globalVerified = new Set<number>();
  globalEntry: number | undefined;
  /** Subprograms run as async callbacks (bpf_timer_set_callback): their own call chains. */
  readonly asyncSubprogs = new Set<number>();
  /** Exceptions (exception.ts): the kernel BTF kfunc calls name, the callback's first slot, and where check() starts. */
  kernelBtf: Btf | undefined;
  exceptionInsn: number | undefined;
  entry = 0;
  /** The log while check() runs (undefined otherwise). */
  logBuf: string[] | undefined;
  /** The next log line continues the last one (after a level-1 reset, see nextPath). */
  joinNext = false;

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
        checkMapProgCompatibility(env, map);
        if (insn.src === 2) {
          if (map.type !== 2 || map.maxEntries < 1) reject(env, 'map direct value access is only modelled for arrays');
          if (insn.imm2 < 0 || insn.imm2 >= map.valueSize) reject(env, `invalid access to map value pointer, value_size=${map.valueSize} off=${insn.imm2}`);
        }
      } else if (insn.src === 4) {
        // BPF_PSEUDO_FUNC: a callback's address. kernel: resolve_pseudo_ldimm64 / check_ld_imm.
        if (insn.imm2 !== 0) reject(env, 'unrecognized bpf_ld_imm64 insn');
        if (this.funcInfo === undefined) reject(env, 'missing btf func_info');
      } else if (insn.src !== 0) {
        reject(env, `lddw with pseudo source ${insn.src} is not modelled by this verifier`);
      }
    });
    if (this.exceptionInsn !== undefined) this.checkExceptionSlots(this.exceptionInsn);
    const cfg = checkControlFlow(env.slots, env.privileged, this.exceptionInsn === undefined ? [] : [this.exceptionInsn]);
    (env as { subprogs: readonly number[] }).subprogs = cfg.subprogs;
    for (let i = 0; i < cfg.subprogs.length; i++) { env.stackDepth[i] = 0; env.calls[i] = new Set(); }
    const info = this.funcInfo;
    if (info !== undefined) {
      // kernel: check_btf_func_early / check_btf_func: one record per subprogram, at its start.
      env.insnIdx = 0;
      if (info.length !== cfg.subprogs.length) reject(env, 'number of funcs in func_info doesn\'t match number of subprogs');
      info.forEach((f, i) => { if (f.insn !== cfg.subprogs[i]) reject(env, 'func_info BTF section doesn\'t match subprog layout in BPF program'); });
    }
    env.slots.forEach((insn, i) => {
      if (insn === undefined) return;
      env.insnIdx = i;
      const sub = subprogOf(env, i);
      if (sub === 0) return;
      const ldAbs = insn.kind === 'ld_abs' || insn.kind === 'ld_ind';
      const tailCall = insn.kind === 'call' && insn.target === 'helper' && insn.imm === 12;
      if (!ldAbs && !tailCall) return;
      // kernel: check_abnormal_return without BTF; with it, the subprogram must return a scalar.
      const what = ldAbs ? 'LD_ABS' : 'tail_call';
      if (info === undefined) reject(env, `${what} is not allowed in subprogs without BTF`);
      if (!info[sub]!.scalarReturn) reject(env, `${what} is only allowed in functions that return 'int'.`);
    });
    // The call graph is static, dead calls included; a callback's address counts as a call (kernel: check_max_stack_depth).
    env.slots.forEach((insn, i) => {
      env.insnIdx = i;
      if (insn?.kind === 'call' && insn.target === 'local') env.calls[subprogOf(env, i)]!.add(subprogOf(env, i + insn.imm + 1));
      if (insn?.kind === 'lddw' && insn.src === 4) {
        const target = subprogOf(env, i + insn.imm + 1);
        if (info !== undefined && info[target]!.linkage !== 0) reject(env, 'callback function not static');
        env.calls[subprogOf(env, i)]!.add(target);
      }
    });
    this.prunePoints = cfg.prunePoints;
  }

  /** kernel: check_max_stack_depth: the deepest chain of calls may use at most 512 bytes of stack. */
  checkMaxStackDepth(): void {
    const env = this.env;
    const round = (d: number): number => Math.ceil(Math.max(d, 1) / 32) * 32;
    const hasTailCall = (sub: number): boolean => env.slots.some((insn, i) =>
      insn?.kind === 'call' && insn.target === 'helper' && insn.imm === 12 && subprogOf(env, i) === sub);
    const walk = (sub: number, depth: number, frame: number): void => {
      // kernel: with tail calls below bpf-to-bpf calls, the frames above may use less than 256 bytes.
      if (sub !== 0 && depth >= 256 && hasTailCall(sub)) {
        reject(env, `tail_calls are not allowed when call stack of previous frames is ${depth} bytes. Too large`);
      }
      const total = depth + round(env.stackDepth[sub] ?? 0);
      if (total > 512) reject(env, `combined stack size of ${frame + 1} calls is ${total}. Too large`);
      for (const callee of env.calls[sub] ?? []) {
        if (this.asyncSubprogs.has(callee)) continue; // an async callback's chain is walked on its own
        if (frame + 1 >= 8) reject(env, `the call stack of ${frame + 1} frames is too deep !`);
        walk(callee, total, frame + 1);
      }
    };
    env.insnIdx = 0;
    walk(0, 0, 0);
    for (const sub of this.asyncSubprogs) walk(sub, 0, 0);
    // Exceptions (exception.ts): the exception callback's call chain has its own stack.
    if (this.exceptionInsn !== undefined) {
      const cb = subprogOf(env, this.exceptionInsn);
      const reach = new Set<number>([cb]);
      for (const s of reach) for (const c of env.calls[s] ?? []) reach.add(c);
      env.slots.forEach((insn, i) => {
        if (insn === undefined || !reach.has(subprogOf(env, i))) return;
        env.insnIdx = i;
        if (isBpfThrow(this.kernelBtf, insn)) reject(env, `bpf_throw kfunc (insn ${i}) cannot be called from callback subprog ${subprogOf(env, i)}`);
        if (insn.kind === 'call' && insn.target === 'helper' && insn.imm === 12) reject(env, 'cannot tail call within exception cb');
      });
      env.insnIdx = 0;
      walk(cb, 0, 0);
    }
  }

  /** Exceptions (exception.ts): what this verifier models of the callback and of bpf_throw. */
  checkExceptionSlots(cbInsn: number): void {
    const env = this.env;
    env.insnIdx = cbInsn;
    if (cbInsn <= 0 || cbInsn >= env.slots.length || env.slots[cbInsn] === undefined) reject(env, 'call to invalid destination');
    env.slots.forEach((insn, i) => {
      env.insnIdx = i;
      if (insn?.kind === 'call' && insn.target === 'local' && i + insn.imm + 1 === cbInsn) reject(env, `insn ${i} cannot call exception cb directly`);
      if (insn?.kind === 'lddw' && insn.src === 4 && i + insn.imm + 1 === cbInsn) reject(env, 'the exception callback as a callback: not modelled by this verifier');
    });
  }

  /**
   * kernel: do_check_subprogs: every global function a verified path called is verified on its
   * own, once; those it calls in turn are verified after it.
   */
  checkGlobalSubprogs(): void {
    for (;;) {
      const next = [...this.globalCalled].sort((a, b) => a - b).find((sub) => !this.globalVerified.has(sub));
      if (next === undefined) break;
      this.globalVerified.add(next);
      this.explored.clear();
      this.globalEntry = next;
      try {
        this.check();
      } finally {
        this.globalEntry = undefined;
      }
    }
  }

  /**
   * Whether a call of subprogram `sub` may change packet data: a helper that does, or a tail
   * call, in it or in what it calls (kernel: subprog_info.changes_pkt_data).
   */
  changesPktData(sub: number): boolean {
    const env = this.env;
    const seen = new Set<number>();
    const visit = (s: number): boolean => {
      if (seen.has(s)) return false;
      seen.add(s);
      const own = env.slots.some((insn, i) => insn?.kind === 'call' && insn.target === 'helper' && subprogOf(env, i) === s
        && HELPER_PROTOS.get(insn.imm)?.changesPktData === true);
      return own || [...(env.calls[s] ?? [])].some(visit);
    };
    return visit(sub);
  }

  /**
   * kernel: check_kfunc_call for bpf_rcu_read_lock/unlock (common kfuncs every program type
   * may call; GPL only): one RCU read section at a time, closed before exit; R0–R5 clobbered.
   */
  rcuKfunc(state: VerifierState, name: string, idx: number): number {
    const env = this.env;
    if (!env.gplCompatible) reject(env, 'cannot call kernel function from non-GPL compatible program');
    if (name === 'bpf_rcu_read_lock') {
      if (state.activeRcuLock) reject(env, `nested rcu read lock (kernel function ${name})`);
      state.activeRcuLock = true;
    } else {
      if (!state.activeRcuLock) reject(env, `unmatched rcu read unlock (kernel function ${name})`);
      state.activeRcuLock = false;
    }
    for (let r = 0; r <= 5; r++) markNotInit(state.cur.regs[r]!);
    return idx + 1;
  }

  initialState(): VerifierState {
    // Global functions (global-func.ts): verified from their own entry with BTF-typed arguments.
    if (this.globalEntry !== undefined) return globalEntryState(this.env, this.globalEntry, this.funcInfo?.[this.globalEntry] ?? {});
    if (this.entry !== 0) {
      // Exceptions (exception.ts): the exception callback's frame; R1 is the cookie (kernel: do_check_common).
      const frame = new Frame(0, subprogOf(this.env, this.entry), -1);
      markUnknown(frame.regs[1]!);
      const state = new VerifierState([frame]);
      state.insnIdx = this.entry;
      return state;
    }
    const frame = new Frame(0, 0, -1);
    markPointer(frame.regs[1]!, 'ctx');
    return new VerifierState([frame]);
  }

  /**
   * kernel: check_kfunc_call for bpf_throw, then process_bpf_exit_full(exception_exit): the
   * path ends; R1 is the program's return value when there is no exception callback.
   */
  bpfThrow(state: VerifierState): undefined {
    const env = this.env;
    if (!mayThrow(env.progType)) reject(env, 'calling kernel function bpf_throw is not allowed');
    if (btfEnv(env)?.gplCompatible !== true) reject(env, 'cannot call kernel function from non-GPL compatible program');
    if (env.slots.some((insn) => insn?.kind === 'lddw' && insn.src === 4)) reject(env, 'bpf_throw in a program with callbacks: not modelled by this verifier');
    const r1 = checkReadable(env, state, 1);
    if (r1.type !== 'scalar') reject(env, 'R1 is not a scalar');
    if (this.exceptionInsn === undefined) {
      const range = returnRange(env.progType, env.attachType);
      if (range !== undefined && (r1.smin < range[0] || r1.smax > range[1] || r1.umax > range[1])) {
        reject(env, `At program exit the register R1 has ${formatReg(r1)} should have been in [${range[0]}, ${range[1]}]`);
      }
    }
    if (state.refs.length > 0) {
      const ref = state.refs[0]!;
      env.log(`Unreleased reference id=${ref.id} alloc_insn=${ref.insn}`);
      reject(env, 'BPF_EXIT instruction in main prog would lead to reference leak');
    }
    return undefined;
  }

  /**
   * kernel: do_check. The log follows the kernel's: each instruction before it is checked, the
   * registers and stack slots it scratched appended to its line (or on a line of their own when
   * something was logged in between), `from X to Y:` and the full state when a queued path
   * starts (level 2), and at level 1 only the path that failed (kernel: pop_log).
   */
  check(): void {
    const env = this.env;
    const sink = env.log;
    const buf: string[] = [];
    this.logBuf = buf;
    this.joinNext = false;
    (env as { log: (line: string) => void }).log = (line) => {
      if (env.logLevel === 0) return;
      if (this.joinNext && buf.length > 0) buf[buf.length - 1] += line;
      else buf.push(line);
      this.joinNext = false;
    };
    let state: VerifierState | undefined = this.initialState();
    try {
      if (env.logLevel > 1) {
        env.subprogs.forEach((start, i) => env.log(`func#${i} @${start}`));
        for (const line of liveRegsTable(env.slots, (i) => this.namer(i))) env.log(line);
      }
      let doPrint = false;
      /** What the last instruction scratched; undefined: everything (a path starts). */
      let scratched: { regs: Set<number>; slots: Set<number> } | undefined;
      /** Index in buf of the last instruction line, -1 when the next state goes on a line of its own. */
      let insnLine = -1;
      const isCondJump = (i: number): boolean => env.slots[i]?.kind === 'jump';
      while (state !== undefined) {
        const idx = state.insnIdx;
        env.insnIdx = idx;
        setSpeculative(env, state.speculative);
        let insn: Instruction | undefined;
        try {
          if (idx < 0 || idx >= env.slots.length) reject(env, `invalid insn idx ${idx} insn_cnt ${env.slots.length}`);
          insn = env.slots[idx];
          if (insn === undefined) reject(env, `jump into the middle of ldimm64 insn ${idx - 1}`);
          if (++this.processed > this.limit) reject(env, `BPF program is too large. Processed ${this.processed} insn`);

          if (this.prunePoints[idx] === 1 && this.isStateVisited(state, idx) === 'pruned') {
            if (env.logLevel > 0) {
              if (doPrint) env.log('');
              env.log(doPrint ? `from ${state.prevInsnIdx} to ${idx}${state.speculative ? ' (speculative execution)' : ''}: safe` : `${idx}: safe`);
            }
            state = this.nextPath(state);
            doPrint = true;
            scratched = undefined;
            insnLine = -1;
            continue;
          }
          const refs = state.refs.map((r) => r.id);
          if (env.logLevel > 1 && doPrint) {
            env.log('');
            env.log(`from ${state.prevInsnIdx} to ${idx}${state.speculative ? ' (speculative execution)' : ''}:`
              + formatVerifierState(state.cur, state.curframe, refs));
            insnLine = -1;
          }
          doPrint = false;
          if (env.logLevel > 0 && (scratched === undefined || scratched.regs.size > 0 || scratched.slots.size > 0)) {
            const text = formatVerifierState(state.cur, state.curframe, refs, scratched);
            if (insnLine >= 0 && insnLine === buf.length - 1) buf[insnLine] = `${alignState(buf[insnLine]!)};${text}`;
            else env.log(`${idx}:${text}`);
          }
          if (this.onStep !== undefined) this.onStep({ insn: idx, from: state.prevInsnIdx, registers: registerSnapshot(state.frames) });
          if (this.collected !== undefined) {
            const list = this.collected.get(idx) ?? [];
            list.push(this.formatState(state));
            this.collected.set(idx, list);
          }
          if (env.logLevel > 0) {
            env.log(`${idx}: ${formatKernelInsn(insn, (i) => this.namer(i))}`);
            insnLine = buf.length - 1;
          }
          const slots = env.logLevel > 0 ? this.stackSlotsTouched(state, insn) : new Set<number>();
          const callee = { frame: state.cur, frameno: state.curframe };
          const next = this.step(state, insn, idx);
          state.trail = extendTrail(state.trail, idx, next);
          if (next === undefined) {
            state = this.nextPath(state);
            doPrint = true;
            scratched = undefined;
            insnLine = -1;
          } else if (insn.kind === 'call' && insn.target === 'local' && state.frames.length > callee.frameno + 1) {
            // kernel: check_func_call prints both frames; the callee then starts with everything scratched.
            if (env.logLevel > 0) {
              env.log('caller:');
              env.log(formatVerifierState(state.frames[state.curframe - 1]!, state.curframe - 1, refs));
              env.log('callee:');
              env.log(formatVerifierState(state.cur, state.curframe, refs));
            }
            state.insnIdx = next;
            state.prevInsnIdx = -1;
            scratched = undefined;
          } else if (insn.kind === 'exit') {
            // kernel: prepare_func_exit prints both frames; do_check then prints the state as for a new path.
            if (env.logLevel > 0) {
              env.log('returning from callee:');
              env.log(formatVerifierState(callee.frame, callee.frameno, refs));
              env.log(`to caller at ${next}:`);
              env.log(formatVerifierState(state.cur, state.curframe, refs));
            }
            state.insnIdx = next;
            state.prevInsnIdx = idx;
            doPrint = true;
            scratched = { regs: new Set(), slots: new Set() };
            insnLine = -1;
          } else {
            state.insnIdx = next;
            state.prevInsnIdx = -1;
            scratched = { regs: touchedRegs(insn), slots };
          }
        } catch (err) {
          // unpriv.ts: kernel do_check — an error on a speculative path puts a barrier (nospec)
          // before the instruction and ends that path instead of rejecting the program.
          if (err instanceof VerifierReject && state?.speculative === true && nospecRecoverable(env, err.message)) {
            env.log(err.message); // the kernel's verbose() of the error stays in the log
            state = this.nextPath(state);
            doPrint = true;
            scratched = undefined;
            insnLine = -1;
            continue;
          }
          if (err instanceof VerifierReject && state !== undefined) {
            const trail = extendTrail(state.trail, idx, undefined);
            const path = trailToPath(trail, isCondJump, MAX_REPORTED_PATH);
            failures.set(sink, {
              path, ...(trail.length > path.length ? { pathDropped: trail.length - path.length } : {}),
              registers: registerSnapshot(state.frames), refs: state.refs.map((r) => ({ id: r.id, insn: r.insn })),
            });
          }
          throw err;
        }
      }
      // A level-1 log of an accepted program keeps none of the paths (kernel: each pop_log reset).
      if (env.logLevel === 1) buf.length = 0;
    } finally {
      (env as { log: (line: string) => void }).log = sink;
      this.logBuf = undefined;
      for (const line of buf) sink(line);
    }
  }

  /** Stack slots (of the current frame) a load or store through a constant fp offset touches: the kernel scratches them. */
  stackSlotsTouched(state: VerifierState, insn: Instruction): Set<number> {
    const slots = new Set<number>();
    if (insn.kind !== 'ldx' && insn.kind !== 'st' && insn.kind !== 'stx' && insn.kind !== 'atomic') return slots;
    const base = state.cur.reg(insn.kind === 'ldx' ? insn.src : insn.dst);
    if (base.type !== 'fp' || base.frameno !== state.curframe || base.varOff.mask !== 0n) return slots;
    const start = Number(BigInt.asIntN(64, base.varOff.value)) + base.off + insn.off;
    for (let b = start; b < start + insn.size; b++) if (b < 0 && b >= -512) slots.add(Math.floor((-b - 1) / 8));
    return slots;
  }

  /**
   * Ends a path and starts the next queued one. A level-1 log forgets the finished path (kernel:
   * pop_stack with pop_log resets the log to where the state was queued). The kernel's reset keeps
   * one byte of what replaced the newline when the state after the branch was appended to its
   * line, so the branch line ends in a space and the next output continues it.
   */
  nextPath(state: VerifierState): VerifierState | undefined {
    const next = this.endPath(state);
    const buf = this.logBuf;
    if (next !== undefined && this.env.logLevel === 1 && buf !== undefined && next.logPos <= buf.length) {
      buf.length = next.logPos;
      const last = buf[buf.length - 1];
      if (last !== undefined && next.logLine !== undefined && last !== next.logLine && last.startsWith(next.logLine)) {
        buf[buf.length - 1] = `${next.logLine} `;
        this.joinNext = true;
      }
    }
    return next;
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
    // The queued path went from `from` to `idx`; the current one records `from` after the step.
    copy.trail = extendTrail(state.trail, from, idx);
    copy.logPos = this.logBuf?.length ?? 0;
    copy.logLine = this.logBuf?.[copy.logPos - 1];
    if (copy.parent !== undefined) copy.parent.pending++;
    this.pending.push(copy);
    return copy;
  }

  /** kernel: is_state_visited. */
  isStateVisited(state: VerifierState, idx: number): 'pruned' | 'new' {
    const list = this.explored.get(idx) ?? [];
    const insn = this.env.slots[idx];
    const callsCallback = insn?.kind === 'call' && insn.target === 'helper' && CALLBACK_HELPERS.has(insn.imm);
    for (const cp of list) {
      if (cp.pending === 0) {
        if (statesEqual(cp.state, state, false, pruneOptions(this.env))) { cp.hits++; return 'pruned'; }
        cp.misses++;
      } else if (callsCallback && statesEqual(cp.state, state, false, pruneOptions(this.env))) {
        // kernel: at a call that schedules a callback, a state within one still being explored
        // there adds nothing: the callback's iterations have converged.
        cp.hits++;
        return 'pruned';
      }
    }
    // A loop that came back to the same state cannot terminate (kernel: "infinite loop detected").
    // Inside a callback an equal state may be the next iteration (the kernel tells them apart by
    // callback_unroll_depth); a real endless loop there ends at the instruction limit instead.
    const inCallback = state.frames.some((f) => f.callback);
    for (let cp = state.parent; cp !== undefined && !callsCallback && !inCallback; cp = cp.parent) {
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
      case 'alu': {
        checkAlu(env, state, insn);
        const sim = takeSpeculativeSim(env); // unpriv.ts: sanitize_ptr_alu's do_sim
        if (sim !== undefined) {
          const spec = this.push(state, idx + 1, idx);
          spec.speculative = true;
          spec.cur.reg(insn.dst).assign(sim);
        }
        return idx + 1;
      }
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
          const callee = subprogOf(env, idx + insn.imm + 1);
          const info = this.funcInfo?.[callee];
          if (info?.linkage === 1) {
            // kernel: check_func_call for a global function (global-func.ts).
            if (state.activeLock !== undefined) reject(env, 'global function calls are not allowed while holding a lock,\nuse static function instead');
            if (state.frames.length >= 8) reject(env, `the call stack of ${state.frames.length + 1} frames is too deep`);
            env.calls[subprogOf(env, idx)]!.add(callee);
            callGlobal(env, state, callee, info.name ?? `func#${callee}`, info, this.changesPktData(callee));
            env.log(`Func#${callee} ('${info.name ?? ''}') is global and assumed valid.`);
            this.globalCalled.add(callee);
            return idx + 1;
          }
          const target = enterSubprog(env, state, insn, idx);
          return target;
        }
        if (insn.target === 'kfunc' && isBpfThrow(this.kernelBtf, insn)) return this.bpfThrow(state); // exception.ts
        if (insn.target === 'kfunc') {
          const name = kfuncName(this.kernelBtf, insn.imm);
          if (name === 'bpf_rcu_read_lock' || name === 'bpf_rcu_read_unlock') return this.rcuKfunc(state, name, idx);
          reject(env, 'kernel function calls are not modelled by this verifier');
        }
        if (insn.target === 'helper' && insn.imm === 12 && state.activeRcuLock) reject(env, 'tail_call cannot be used inside bpf_rcu_read_lock-ed region');
        if (insn.target === 'helper' && insn.imm === 12) recordTailCallMap(env, regs[2]!); // unpriv.ts: record_func_map
        checkHelperCall(env, state, insn, (target, setup) => {
          // An async callback (bpf_timer_set_callback) is a root of its own for stack depth (kernel: is_async_cb).
          if (insn.imm === 170) this.asyncSubprogs.add(subprogOf(env, target));
          setup(this.push(state, target, idx));
        });
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
    const special = (x: string): boolean => x === 'ctx' || x === 'sock' || x === 'sock_common' || x === 'tcp_sock' || x === 'xdp_sock' || x === 'btf_id';
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
    if (insn.src === 4) {
      // kernel: check_ld_imm for BPF_PSEUDO_FUNC: PTR_TO_FUNC naming the callback's subprogram.
      markPointer(dst, 'func');
      dst.subprog = env.insnIdx + insn.imm + 1;
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

  /**
   * kernel: widen_imprecise_scalars after a callback returns to its call: scalars that differ
   * from the state still being explored at that call become unknown, so the iterations converge.
   * Without precision marks every differing scalar is widened, and only after
   * CALLBACK_WIDEN_AFTER iterations on the path, so short loops keep their exact values.
   */
  widenCallbackLoop(state: VerifierState, callsite: number): void {
    if (state.cur.callbackDepth < CALLBACK_WIDEN_AFTER) return;
    const list = this.explored.get(callsite) ?? [];
    const same = (cp: Checkpoint): boolean => cp.pending > 0 && cp.state.frames.length === state.frames.length
      && cp.state.frames.every((f, i) => f.callsite === state.frames[i]!.callsite && f.subprog === state.frames[i]!.subprog);
    let prev: Checkpoint | undefined;
    for (let i = list.length - 1; i >= 0 && prev === undefined; i--) if (same(list[i]!)) prev = list[i];
    if (prev === undefined) return;
    const exact = (a: Reg, b: Reg): boolean => a.umin === b.umin && a.umax === b.umax && a.smin === b.smin && a.smax === b.smax
      && a.u32min === b.u32min && a.u32max === b.u32max && a.s32min === b.s32min && a.s32max === b.s32max
      && a.varOff.value === b.varOff.value && a.varOff.mask === b.varOff.mask;
    const widen = (old: Reg | undefined, cur: Reg | undefined): void => {
      if (old?.type === 'scalar' && cur?.type === 'scalar' && !exact(old, cur)) markUnknown(cur);
    };
    prev.state.frames.forEach((of, f) => {
      const cf = state.frames[f]!;
      of.regs.forEach((r, i) => widen(r, cf.regs[i]));
      of.spills.forEach((r, i) => widen(r, cf.spills[i]));
    });
  }

  /** kernel: check_atomic. */
  atomic(state: VerifierState, insn: Instruction & { kind: 'atomic' }): void {
    const env = this.env;
    if (insn.op === 'load_acq' || insn.op === 'store_rel') reject(env, 'load-acquire and store-release are not modelled by this verifier');
    if (insn.size !== 4 && insn.size !== 8) reject(env, 'invalid atomic operand size');
    checkReadable(env, state, insn.src);
    const dst = checkReadable(env, state, insn.dst);
    if (insn.op === 'cmpxchg') checkReadable(env, state, 0);
    // unpriv.ts: kernel check_atomic_rmw — cmpxchg's R0 first, then the source.
    if (insn.op === 'cmpxchg') checkLeak(env, state.cur.reg(0), 0, 'mem');
    checkLeak(env, state.cur.reg(insn.src), insn.src, 'mem');
    if (dst.type === 'ctx' || dst.isPkt || dst.type === 'flow_keys' || dst.type === 'sock' || dst.type === 'sock_common' || dst.type === 'tcp_sock' || dst.type === 'xdp_sock') {
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
    if (state.activeLock !== undefined) reject(env, 'BPF_LD_[ABS|IND] cannot be used inside bpf_spin_lock-ed region');
    if (state.activeRcuLock) reject(env, 'BPF_LD_[ABS|IND] cannot be used inside bpf_rcu_read_lock-ed region');
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
    if (state.frames.length > 1) {
      const callback = state.cur.callback;
      const next = exitSubprog(env, state);
      if (callback) this.widenCallbackLoop(state, next);
      return next;
    }
    // kernel: check_resource_leak for the exit of the main program (or of an async callback's frame 0).
    if (state.activeLock !== undefined) reject(env, 'BPF_EXIT instruction in main prog cannot be used inside bpf_spin_lock-ed region');
    if (state.activeRcuLock) reject(env, 'BPF_EXIT instruction in main prog cannot be used inside bpf_rcu_read_lock-ed region');
    if (state.refs.length > 0) {
      const ref = state.refs[0]!;
      reject(env, `Unreleased reference id=${ref.id} alloc_insn=${ref.insn}`);
    }
    const r0 = checkReadable(env, state, 0);
    checkReturnLeak(env, r0); // unpriv.ts
    if (state.cur.asyncCallback) {
      // kernel: check_return_code for in_async_callback_fn: callback_ret_range [0, 0].
      if (r0.type !== 'scalar') reject(env, 'At async callback return the register R0 is not a known value (' + typeName(r0) + ')');
      if (r0.smin < 0n || r0.smax > 0n || r0.umax > 0n) {
        reject(env, `At async callback return the register R0 has ${formatReg(r0)} should have been in [0, 0]`);
      }
      return undefined;
    }
    if (this.globalEntry !== undefined) {
      // kernel: check_return_code for a global subprogram verified on its own: any scalar.
      if (r0.type !== 'scalar') reject(env, `At subprogram exit the register R0 is not a scalar value (${typeName(r0)})`);
      return undefined;
    }
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
      // unpriv.ts: kernel check_cond_jmp_op, only packet pointers may be compared with each other.
      if (!(dst.isPkt || dst.type === 'pkt_end') || !(src.isPkt || src.type === 'pkt_end')) {
        if (isPointerValue(env, src)) reject(env, `R${insn.src} pointer comparison prohibited`);
      }
    } else {
      src = new Reg();
      markKnown(src, BigInt(insn.imm));
    }
    const target = idx + insn.off + 1;
    const pred = branchTaken(dst, src, insn.op, insn.jmp32);
    if (pred === 1 || pred === 0) {
      // unpriv.ts: kernel sanitize_speculative_path — the branch not taken is walked too, as
      // the CPU may speculate into it, with the compared registers unknown.
      if (!env.privileged) {
        const spec = this.push(state, pred === 1 ? idx + 1 : target, idx);
        spec.speculative = true;
        markUnknown(spec.cur.reg(insn.dst));
        if (insn.useReg) markUnknown(spec.cur.reg(insn.src));
      }
      return pred === 1 ? target : idx + 1;
    }

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
    } else if (!(insn.useReg && matchPktPointers(insn.op, insn.jmp32, state, other, dst, src, odst, osrc)) && isPointerValue(env, dst)) {
      reject(env, `R${insn.dst} pointer comparison prohibited`); // unpriv.ts
    }
    void isNullScalar;
    return idx + 1;
  }
}

/** The name of the kernel function a kfunc call names (its FUNC in the kernel's BTF), if known. */
function kfuncName(btf: Btf | undefined, id: number): string | undefined {
  if (btf === undefined || !btf.has(id)) return undefined;
  const t = btf.type(id);
  return t.kind === 'func' ? t.name : undefined;
}
