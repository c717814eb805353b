/**
 * The reference interpreter: executes eBPF bytecode with the kernel's exact semantics
 * (kernel/bpf/core.c ___bpf_prog_run, RFC 9669) over the VM's checked linear memory.
 *
 * The hot loop keeps registers as int32 halves in an Int32Array and dispatches on the opcode
 * byte of pre-decoded typed arrays; it never allocates. Every load and store is checked
 * against the region table (with a one-entry cache for reads and one for writes).
 */
import { InstructionError } from '../errors.js';
import { decodeRawProgram, decodeSlots } from '../isa/decode.js';
import type { Instruction, LddwInstruction } from '../isa/instruction.js';
import { toSlots } from '../isa/encode.js';
import { BPF_PSEUDO_FUNC, MAX_BPF_STACK, MAX_CALL_FRAMES } from '../isa/opcodes.js';
import { validateControlFlow } from '../isa/validate.js';
import {
  arsh64, bswap16, bswap32, lsh64, mul64, neg64, rsh64, scmp64, sdiv64, setBig, setNumber, smod64,
  toU64, ucmp64, udiv64, umod64,
} from './arith64.js';
import { BudgetExceeded, CallDepthExceeded, MemoryFault, UnknownHelper, VmError } from './errors.js';
import type { Helper, HelperContext, HelperTable, TailCallArray } from './helpers.js';
import { helperArray } from './helpers.js';
import { Memory, type Region } from './memory.js';

/** Default instruction budget per run; the kernel's verifier bounds a program to 1M processed insns. */
export const DEFAULT_MAX_INSTRUCTIONS = 10_000_000;
/** Initial `may_goto` budget per frame (kernel: BPF_MAX_LOOPS). */
const MAX_LOOPS = 8 * 1024 * 1024;
/** Tail calls one run may take (kernel: MAX_TAIL_CALL_CNT, include/linux/bpf.h). */
export const MAX_TAIL_CALL_CNT = 33;

/**
 * The registers, stack and call frames programs run on. Programs that tail-call each other
 * share one (option `state`): the kernel runs a tail-called program in its caller's frame —
 * same r1 (the context), same frame pointer and stack bytes — and counts the tail calls of
 * the whole run (`tail_call_cnt`, kernel/bpf/core.c JMP_TAIL_CALL).
 */
export class ExecutionState {
  readonly memory: Memory;
  /** r0..r10 as int32 halves (r10 = R[20..21]). */
  readonly R = new Int32Array(22);
  /** The stack of all frames; `start` moves with the call depth. */
  readonly stack: Region;
  readonly stackTop: number;
  readonly frameReturn = new Int32Array(MAX_CALL_FRAMES);
  readonly frameSaved = new Int32Array(MAX_CALL_FRAMES * 10);
  readonly loopBudget = new Int32Array(MAX_CALL_FRAMES);
  /** Tail calls taken since the current run started. */
  tailCalls = 0;

  constructor(memory: Memory) {
    this.memory = memory;
    this.stack = memory.alloc(MAX_BPF_STACK * MAX_CALL_FRAMES, { kind: 'stack', name: 'stack' });
    this.stackTop = this.stack.end;
    this.stack.start = this.stackTop - MAX_BPF_STACK;
  }
}

export interface InterpreterOptions {
  /** Helpers by Linux id. */
  helpers?: HelperTable;
  /** Memory to run in; a new one is created otherwise. */
  memory?: Memory;
  /**
   * Registers and stack to run on, shared with the programs this one tail-calls or is
   * tail-called from (they must share the memory too); a new one otherwise.
   */
  state?: ExecutionState;
  /** Instructions one run may execute before it stops with `BudgetExceeded`. */
  maxInstructions?: number;
  /** Region the legacy `ld_abs`/`ld_ind` packet loads read from (socket filters). */
  packet?: () => Region | undefined;
  /**
   * Value of an `lddw` with a pseudo source (map fd, map value, BTF id, …), supplied by the
   * loader that knows the maps; `slot` is the instruction's slot index. `BPF_PSEUDO_FUNC`
   * is resolved by the interpreter itself (to the function's code address).
   */
  resolveLddw?: (insn: LddwInstruction, slot: number) => bigint;
  /**
   * Called before every instruction this interpreter executes, with its slot index and the
   * register file (r0..r10 as int32 halves: rN = R[2N] low, R[2N + 1] high), which the callback
   * must not change and must copy if it keeps it. For differential tests that locate the first
   * instruction where two machines part; without it the loop pays one untaken branch.
   */
  trace?: InstructionTrace;
}

/** The per-instruction callback of {@link InterpreterOptions.trace}. */
export type InstructionTrace = (pc: number, registers: Int32Array) => void;

/** The outcome of one run. */
export interface RunResult {
  /** r0 at exit, as an unsigned 64-bit value. */
  readonly r0: bigint;
  /** Instructions executed. */
  readonly instructions: number;
}

/** Instruction sequences the interpreter accepts: bytes, decoded instructions, or raw slots. */
export type ProgramInput = Uint8Array | readonly Instruction[];

/**
 * A program prepared for repeated runs: decoded once, checked for structure (every jump in
 * range, a final exit), then run with `run(r1, r2, …)`.
 */
export class Interpreter {
  readonly memory: Memory;
  readonly program: readonly Instruction[];
  /** Number of 8-byte slots. */
  readonly length: number;

  private readonly code: Uint8Array;
  private readonly dst: Uint8Array;
  private readonly src: Uint8Array;
  private readonly off: Int16Array;
  private readonly imm: Int32Array;
  private readonly helpers: Array<Helper | undefined>;
  private readonly maxInstructions: number;
  private readonly packet: (() => Region | undefined) | undefined;
  private readonly trace: InstructionTrace | undefined;
  /** Registers, stack and frames, possibly shared with other programs (tail calls). */
  readonly state: ExecutionState;
  private readonly stack: Region;
  private readonly stackTop: number;
  // `declare`: no class-field definition as undefined before the constructor assigns them, so
  // V8 tracks these fields as typed arrays and the loop's register accesses need no checks
  // (measured: 10 ns more per run without it).
  private declare readonly R: Int32Array;
  private declare readonly frameReturn: Int32Array;
  private declare readonly frameSaved: Int32Array;
  private declare readonly loopBudget: Int32Array;
  private readonly helperContext: HelperContext;
  private readonly code_: Region;
  private stopped = false;
  /** The program a helper's successful bpf_tail_call jumps to, until the trampoline takes it. */
  private tailTarget: Interpreter | undefined = undefined;
  /** The current helper asked for a tail call (which keeps r0). */
  private tailCalling = false;
  /** The last loop ended the whole run (a helper's stop, a failed legacy packet load). */
  private halted = false;
  /** Call depth and instruction count at the current helper call, for callbacks. */
  private depth = 0;
  private count = 0;
  private stopValue: number | bigint = 0;
  // Region caches filled by `resolve`.
  private cLo = 0;
  private cHi = 0;

  constructor(program: ProgramInput, options: InterpreterOptions = {}) {
    const insns = program instanceof Uint8Array ? decodeRawProgram(decodeSlots(program)) : program;
    validateControlFlow(insns);
    const slots = toSlots(insns);
    this.program = insns;
    this.length = slots.length;
    this.code = new Uint8Array(slots.length);
    this.dst = new Uint8Array(slots.length);
    this.src = new Uint8Array(slots.length);
    this.off = new Int16Array(slots.length);
    this.imm = new Int32Array(slots.length);
    slots.forEach((s, i) => {
      this.code[i] = s.code;
      this.dst[i] = s.dst * 2;
      this.src[i] = s.src * 2;
      this.off[i] = s.off;
      this.imm[i] = s.imm;
    });
    this.memory = options.memory ?? new Memory();
    // Function pointers (lddw BPF_PSEUDO_FUNC, callback arguments) are addresses in a
    // read-only region standing for the code: slot i is at code.start + 8 * i.
    this.code_ = this.memory.alloc(slots.length * 8, { kind: 'code', name: 'code', writable: false });
    let slot = 0;
    for (const insn of insns) {
      if (insn.kind === 'lddw') {
        if (insn.src !== 0) {
          const value = insn.src === BPF_PSEUDO_FUNC
            ? BigInt(this.code_.start + 8 * (slot + 1 + insn.imm))
            : options.resolveLddw?.(insn, slot);
          if (value === undefined) {
            throw new InstructionError(`lddw with pseudo source ${insn.src} needs a loader to resolve it`, slot);
          }
          this.imm[slot] = Number(BigInt.asIntN(32, value));
          this.imm[slot + 1] = Number(BigInt.asIntN(32, value >> 32n));
        }
        // The second slot is never executed: opcode 0 is not a valid instruction.
        this.code[slot + 1] = 0;
        slot += 2;
      } else {
        if (insn.kind === 'addr_space_cast') {
          throw new InstructionError('addr_space_cast (arena) is not supported by the interpreter', slot);
        }
        if (insn.kind === 'call' && insn.target === 'kfunc') {
          throw new InstructionError(`kfunc call (BTF id ${insn.imm}) is not supported by the interpreter`, slot);
        }
        slot += 1;
      }
    }
    this.helpers = helperArray(options.helpers);
    this.maxInstructions = options.maxInstructions ?? DEFAULT_MAX_INSTRUCTIONS;
    this.packet = options.packet;
    this.trace = options.trace;
    const state = options.state ?? new ExecutionState(this.memory);
    if (state.memory !== this.memory) throw new RangeError('the execution state belongs to another memory');
    this.state = state;
    this.R = state.R;
    this.stack = state.stack;
    this.stackTop = state.stackTop;
    this.frameReturn = state.frameReturn;
    this.frameSaved = state.frameSaved;
    this.loopBudget = state.loopBudget;
    this.helperContext = this.makeHelperContext();
  }

  /**
   * Runs the program once with r1..r5 set from the arguments (numbers must be safe integers,
   * e.g. region addresses; missing ones are 0). Throws a `VmError` subclass on a fault.
   *
   * Like the kernel's, the stack is not cleared between runs: it is zeroed when the
   * interpreter is made, and a program that reads stack it did not write sees what an
   * earlier run left (the verifier rejects such programs).
   *
   * A run may continue in other programs through bpf_tail_call (at most MAX_TAIL_CALL_CNT
   * times); `instructions` then counts them all. Programs sharing an execution state must not
   * be run from inside each other's helpers: they share registers and stack.
   */
  run(r1: number | bigint = 0, r2: number | bigint = 0, r3: number | bigint = 0, r4: number | bigint = 0, r5: number | bigint = 0): RunResult {
    const state = this.state;
    const R = this.R;
    for (let i = 0; i < 22; i++) R[i] = 0;
    setArg(R, 2, r1);
    if (r2 !== 0) setArg(R, 4, r2);
    if (r3 !== 0) setArg(R, 6, r3);
    if (r4 !== 0) setArg(R, 8, r4);
    if (r5 !== 0) setArg(R, 10, r5);
    this.stack.start = this.stackTop - MAX_BPF_STACK;
    R[20] = this.stackTop;
    this.loopBudget[0] = MAX_LOOPS;
    this.count = 0;
    state.tailCalls = 0;
    const result = this.loop(0, 0, 0);
    return this.tailTarget === undefined ? result : this.followTailCalls(result, 0);
  }

  /** Whether code address `fn` (a BPF_PSEUDO_FUNC value) is an instruction of this program. */
  ownsFunction(fn: number | bigint): boolean {
    const target = (Number(fn) - this.code_.start) / 8;
    return Number.isInteger(target) && target >= 0 && target < this.length;
  }

  /**
   * Runs the program's function at code address `fn` (a BPF_PSEUDO_FUNC value the program
   * gave a helper, as bpf_timer_set_callback's callback) as a run of its own with r1..r5 from
   * `args`: what the kernel does when it fires an asynchronous callback. Same rules as run().
   */
  runFunction(fn: number | bigint, ...args: Array<number | bigint>): RunResult {
    const target = (Number(fn) - this.code_.start) / 8;
    if (!this.ownsFunction(fn)) {
      throw new VmError(`callback address 0x${BigInt(fn).toString(16)} is not a function of this program`, 0);
    }
    const R = this.R;
    for (let i = 0; i < 22; i++) R[i] = 0;
    for (let i = 0; i < args.length && i < 5; i++) setArg(R, 2 * (i + 1), args[i]!);
    this.stack.start = this.stackTop - MAX_BPF_STACK;
    R[20] = this.stackTop;
    this.loopBudget[0] = MAX_LOOPS;
    this.count = 0;
    this.state.tailCalls = 0;
    const result = this.loop(target, 0, 0);
    return this.tailTarget === undefined ? result : this.followTailCalls(result, 0);
  }

  /**
   * Continues a run whose loop (started at call depth `base`) ended in a tail call, until
   * the frame at depth `base` returns. A tail call replaces the frame it is made in: at the
   * segment's base depth the new program simply continues the run; from a deeper
   * (bpf-to-bpf) frame, the new program runs as that frame, and when it returns, its caller's
   * frame resumes in the program that made the call. The loop never sees another program's
   * code, and runs without tail calls never come here.
   */
  private followTailCalls(first: RunResult, base: number): RunResult {
    let result = first;
    let prog: Interpreter = this;
    let segmentBase = base;
    /** [program, segmentBase] pairs of the frames below a tail-called subprogram frame. */
    let suspended: Array<Interpreter | number> | undefined;
    let depth: number;
    let pc: number;
    for (;;) {
      const target = prog.tailTarget;
      if (target !== undefined) {
        prog.tailTarget = undefined;
        depth = prog.depth;
        if (depth !== segmentBase) {
          (suspended ??= []).push(prog, segmentBase);
          segmentBase = depth;
        }
        this.loopBudget[depth] = MAX_LOOPS;
        prog = target;
        pc = 0;
      } else if (prog.halted || suspended === undefined || suspended.length === 0) {
        prog.halted = false;
        return result;
      } else {
        // The tail-called program returned from the subprogram frame it took over: continue
        // in the caller of that frame, in the program that made the tail call, as the exit
        // instruction would have.
        depth = segmentBase - 1;
        segmentBase = suspended.pop() as number;
        prog = suspended.pop() as Interpreter;
        pc = this.frameReturn[depth]! + 1;
        this.R.set(this.frameSaved.subarray(depth * 10, depth * 10 + 10), 12);
        this.stack.start = this.stackTop - (depth + 1) * MAX_BPF_STACK;
      }
      prog.count = result.instructions;
      prog.halted = false; // a stop in an earlier run of `prog` left it set
      result = prog.loop(pc, segmentBase, depth);
    }
  }

  /**
   * bpf_tail_call's jump, as the kernel's x86-64 JIT does it (arch/x86/net/bpf_jit_comp.c
   * emit_bpf_tail_call_indirect/_direct, which the differential tests hold the VM to): an index
   * past the array falls through; so does a run that already made MAX_TAIL_CALL_CNT tail calls,
   * and an empty slot — without counting. A program in the slot is counted and ends the helper
   * call in a jump to its first instruction. r0 is left alone either way.
   */
  private tailCall(array: TailCallArray, index: number): boolean {
    this.tailCalling = true;
    if (index >>> 0 >= array.maxEntries) return false;
    const state = this.state;
    if (state.tailCalls >= MAX_TAIL_CALL_CNT) return false;
    const target = array.program(index >>> 0);
    if (target === undefined || target === null) return false;
    if (!(target instanceof Interpreter)) {
      throw new VmError('the prog array slot holds something other than a VM program', this.helperContext.index);
    }
    if (target.state !== state) {
      throw new VmError('the tail-called program does not share this program\'s execution state', this.helperContext.index);
    }
    state.tailCalls++;
    this.tailTarget = target;
    return true;
  }

  private makeHelperContext(): HelperContext {
    const R = this.R;
    const self = this;
    let index = 0;
    return {
      memory: this.memory,
      get index() { return index; },
      set index(v: number) { index = v; },
      arg: (n) => toU64(R[2 * n]!, R[2 * n + 1]!),
      argU32: (n) => R[2 * n]! >>> 0,
      argNumber: (n) => (R[2 * n + 1]! >>> 0) * 4294967296 + (R[2 * n]! >>> 0),
      stop(r0) {
        self.stopped = true;
        self.stopValue = r0;
      },
      call: (fn, ...args) => self.callback(fn, args),
      tailCall: (array, index) => self.tailCall(array, index),
    } as HelperContext & { index: number };
  }

  /** Finds the region for an access that missed the cache; sets cLo/cHi or throws. */
  private resolve(lo: number, hi: number, off: number, size: number, write: boolean, pc: number): void {
    const address = hi === 0 ? (lo >>> 0) + off : -1;
    const region = address >= 0 ? this.memory.find(address, size) : undefined;
    const access = write ? 'write' : 'read';
    if (region === undefined) {
      const full = (toU64(lo, hi) + BigInt(off)) & 0xffffffffffffffffn;
      const near = address >= 0 ? this.memory.near(address) : undefined;
      const detail = near
        ? `crosses the end of ${near.name} [0x${near.start.toString(16)}, 0x${near.end.toString(16)})`
        : full === 0n || full < 0x1000n ? 'null pointer dereference' : 'no region there';
      throw new MemoryFault(pc, Number(full), size, access, detail);
    }
    if (write && !region.writable) {
      throw new MemoryFault(pc, address, size, access, `${region.name} is read-only`);
    }
    this.cLo = region.start;
    this.cHi = region.end;
  }

  private callHelper(id: number, pc: number): boolean {
    const fn = this.helpers[id];
    if (fn === undefined) throw new UnknownHelper(pc, id);
    const ctx = this.helperContext as HelperContext & { index: number };
    ctx.index = pc;
    const result = fn(ctx);
    const R = this.R;
    if (this.tailCalling) {
      // bpf_tail_call leaves r0 alone, whether it jumps or falls through (kernel: JMP_TAIL_CALL).
      this.tailCalling = false;
      return this.tailTarget !== undefined;
    }
    if (result === undefined) { R[0] = 0; R[1] = 0; }
    else if (typeof result === 'bigint') setBig(R, 0, result);
    else setNumber(R, 0, result);
    if (this.stopped) {
      this.stopped = false;
      this.halted = true;
      const v = this.stopValue;
      if (typeof v === 'bigint') setBig(R, 0, v); else setNumber(R, 0, v);
      return true;
    }
    return false;
  }

  private packetLoad(pc: number, offset: number, size: number): boolean {
    const R = this.R;
    const region = this.packet?.();
    if (region === undefined) throw new VmError('ld_abs/ld_ind needs a packet (socket filter context)', pc);
    // Out-of-bounds legacy packet loads end the program with r0 = 0 (kernel: bpf_skb_load_helper).
    if (offset < 0 || offset + size > region.end - region.start) { R[0] = 0; R[1] = 0; this.halted = true; return true; }
    const v = this.memory.view;
    const a = region.start + offset;
    R[0] = size === 1 ? v.getUint8(a) : size === 2 ? v.getUint16(a, false) : v.getInt32(a, false);
    R[1] = 0;
    return false;
  }

  /**
   * Runs the bpf function at code address `fn` as a callback of the current helper (bpf_loop,
   * for_each_map_elem, timers): a new frame below the caller's, r1.. from `args`, r0 back.
   */
  private callback(fn: number | bigint, args: ReadonlyArray<number | bigint>): bigint {
    const pc = this.depth;
    const address = Number(fn) - this.code_.start;
    const target = address / 8;
    if (!Number.isInteger(target) || target < 0 || target >= this.length) {
      throw new VmError(`callback address 0x${BigInt(fn).toString(16)} is not a function of this program`, pc);
    }
    const depth = this.depth + 1;
    if (depth >= MAX_CALL_FRAMES) throw new CallDepthExceeded(this.depth, depth + 1);
    const R = this.R;
    const saved = R.slice();
    for (let i = 0; i < 10; i++) R[i] = 0;
    for (let i = 0; i < args.length && i < 5; i++) setArg(R, 2 * (i + 1), args[i]!);
    R[20] = this.stackTop - depth * MAX_BPF_STACK;
    R[21] = 0;
    this.stack.start = R[20] - MAX_BPF_STACK;
    this.loopBudget[depth] = MAX_LOOPS;
    const outer = this.depth;
    try {
      let result = this.loop(target, depth, depth);
      if (this.tailTarget !== undefined) result = this.followTailCalls(result, depth);
      this.count = result.instructions;
      return result.r0;
    } finally {
      this.depth = outer;
      R.set(saved);
      this.stack.start = this.stackTop - (outer + 1) * MAX_BPF_STACK;
      this.memory.generation++; // the caller's region caches saw another frame
    }
  }

  private loop(start: number, base: number, startDepth: number): RunResult {
    const R = this.R;
    const code = this.code, dsts = this.dst, srcs = this.src, offs = this.off, imms = this.imm;
    const max = this.maxInstructions;
    const length = this.length;
    const trace = this.trace;
    let view = this.memory.view;
    let generation = this.memory.generation;
    let rLo = 0, rHi = 0, wLo = 0, wHi = 0;
    let depth = startDepth;
    let count = this.count;
    let pc = start;

    for (;;) {
      if (++count > max) throw new BudgetExceeded(pc, max);
      if (pc >= length) throw new VmError('fell off the end of the program', pc);
      if (trace !== undefined) trace(pc, R);
      const d = dsts[pc]!;
      const s = srcs[pc]!;
      const off = offs[pc]!;
      const imm = imms[pc]!;
      switch (code[pc]) {
        // ---- ALU64, immediate and register operands ----
        case 0x07: { const a = R[d]!, lo = (a + imm) | 0; R[d] = lo; R[d + 1] = (R[d + 1]! + (imm >> 31) + ((lo >>> 0) < (a >>> 0) ? 1 : 0)) | 0; break; }
        case 0x0f: { const a = R[d]!, lo = (a + R[s]!) | 0; R[d] = lo; R[d + 1] = (R[d + 1]! + R[s + 1]! + ((lo >>> 0) < (a >>> 0) ? 1 : 0)) | 0; break; }
        case 0x17: { const a = R[d]!, lo = (a - imm) | 0; R[d] = lo; R[d + 1] = (R[d + 1]! - (imm >> 31) - ((a >>> 0) < (imm >>> 0) ? 1 : 0)) | 0; break; }
        case 0x1f: { const a = R[d]!, b = R[s]!; R[d] = (a - b) | 0; R[d + 1] = (R[d + 1]! - R[s + 1]! - ((a >>> 0) < (b >>> 0) ? 1 : 0)) | 0; break; }
        case 0x27: mul64(R, d, imm, imm >> 31); break;
        case 0x2f: mul64(R, d, R[s]!, R[s + 1]!); break;
        case 0x37: if (off === 1) sdiv64(R, d, imm, imm >> 31); else udiv64(R, d, imm, imm >> 31); break;
        case 0x3f: if (off === 1) sdiv64(R, d, R[s]!, R[s + 1]!); else udiv64(R, d, R[s]!, R[s + 1]!); break;
        case 0x47: R[d] = R[d]! | imm; R[d + 1] = R[d + 1]! | imm >> 31; break;
        case 0x4f: R[d] = R[d]! | R[s]!; R[d + 1] = R[d + 1]! | R[s + 1]!; break;
        case 0x57: R[d] = R[d]! & imm; R[d + 1] = R[d + 1]! & imm >> 31; break;
        case 0x5f: R[d] = R[d]! & R[s]!; R[d + 1] = R[d + 1]! & R[s + 1]!; break;
        case 0x67: lsh64(R, d, imm); break;
        case 0x6f: lsh64(R, d, R[s]!); break;
        case 0x77: rsh64(R, d, imm); break;
        case 0x7f: rsh64(R, d, R[s]!); break;
        case 0x87: neg64(R, d); break;
        case 0x97: if (off === 1) smod64(R, d, imm, imm >> 31); else umod64(R, d, imm, imm >> 31); break;
        case 0x9f: if (off === 1) smod64(R, d, R[s]!, R[s + 1]!); else umod64(R, d, R[s]!, R[s + 1]!); break;
        case 0xa7: R[d] = R[d]! ^ imm; R[d + 1] = R[d + 1]! ^ imm >> 31; break;
        case 0xaf: R[d] = R[d]! ^ R[s]!; R[d + 1] = R[d + 1]! ^ R[s + 1]!; break;
        case 0xb7: R[d] = imm; R[d + 1] = imm >> 31; break;
        case 0xbf:
          if (off === 0) { R[d] = R[s]!; R[d + 1] = R[s + 1]!; }
          else { const v = off === 8 ? (R[s]! << 24) >> 24 : off === 16 ? (R[s]! << 16) >> 16 : R[s]!; R[d] = v; R[d + 1] = v >> 31; }
          break;
        case 0xc7: arsh64(R, d, imm); break;
        case 0xcf: arsh64(R, d, R[s]!); break;
        case 0xd7: // bswap16/32/64
          if (imm === 16) { R[d] = bswap16(R[d]!); R[d + 1] = 0; }
          else if (imm === 32) { R[d] = bswap32(R[d]!); R[d + 1] = 0; }
          else { const lo = R[d]!; R[d] = bswap32(R[d + 1]!); R[d + 1] = bswap32(lo); }
          break;

        // ---- ALU (32-bit, result zero-extended) ----
        case 0x04: R[d] = (R[d]! + imm) | 0; R[d + 1] = 0; break;
        case 0x0c: R[d] = (R[d]! + R[s]!) | 0; R[d + 1] = 0; break;
        case 0x14: R[d] = (R[d]! - imm) | 0; R[d + 1] = 0; break;
        case 0x1c: R[d] = (R[d]! - R[s]!) | 0; R[d + 1] = 0; break;
        case 0x24: R[d] = Math.imul(R[d]!, imm); R[d + 1] = 0; break;
        case 0x2c: R[d] = Math.imul(R[d]!, R[s]!); R[d + 1] = 0; break;
        case 0x34: R[d] = off === 1 ? sdiv32(R[d]!, imm) : udiv32(R[d]!, imm); R[d + 1] = 0; break;
        case 0x3c: R[d] = off === 1 ? sdiv32(R[d]!, R[s]!) : udiv32(R[d]!, R[s]!); R[d + 1] = 0; break;
        case 0x44: R[d] = R[d]! | imm; R[d + 1] = 0; break;
        case 0x4c: R[d] = R[d]! | R[s]!; R[d + 1] = 0; break;
        case 0x54: R[d] = R[d]! & imm; R[d + 1] = 0; break;
        case 0x5c: R[d] = R[d]! & R[s]!; R[d + 1] = 0; break;
        case 0x64: R[d] = R[d]! << imm; R[d + 1] = 0; break;
        case 0x6c: R[d] = R[d]! << R[s]!; R[d + 1] = 0; break;
        case 0x74: R[d] = R[d]! >>> imm; R[d + 1] = 0; break;
        case 0x7c: R[d] = R[d]! >>> R[s]!; R[d + 1] = 0; break;
        case 0x84: R[d] = -R[d]! | 0; R[d + 1] = 0; break;
        case 0x94: R[d] = off === 1 ? smod32(R[d]!, imm) : umod32(R[d]!, imm); R[d + 1] = 0; break;
        case 0x9c: R[d] = off === 1 ? smod32(R[d]!, R[s]!) : umod32(R[d]!, R[s]!); R[d + 1] = 0; break;
        case 0xa4: R[d] = R[d]! ^ imm; R[d + 1] = 0; break;
        case 0xac: R[d] = R[d]! ^ R[s]!; R[d + 1] = 0; break;
        case 0xb4: R[d] = imm; R[d + 1] = 0; break;
        case 0xbc: R[d] = off === 8 ? (R[s]! << 24) >> 24 : off === 16 ? (R[s]! << 16) >> 16 : R[s]!; R[d + 1] = 0; break;
        case 0xc4: R[d] = R[d]! >> imm; R[d + 1] = 0; break;
        case 0xcc: R[d] = R[d]! >> R[s]!; R[d + 1] = 0; break;
        case 0xd4: // to little-endian: on a little-endian VM, truncation only
          if (imm === 16) { R[d] = R[d]! & 0xffff; R[d + 1] = 0; } else if (imm === 32) { R[d + 1] = 0; }
          break;
        case 0xdc: // to big-endian
          if (imm === 16) { R[d] = bswap16(R[d]!); R[d + 1] = 0; }
          else if (imm === 32) { R[d] = bswap32(R[d]!); R[d + 1] = 0; }
          else { const lo = R[d]!; R[d] = bswap32(R[d + 1]!); R[d + 1] = bswap32(lo); }
          break;

        // ---- jumps, 64-bit ----
        case 0x05: pc += off; break;
        case 0x15: if (R[d] === imm && R[d + 1] === imm >> 31) pc += off; break;
        case 0x1d: if (R[d] === R[s] && R[d + 1] === R[s + 1]) pc += off; break;
        case 0x55: if (R[d] !== imm || R[d + 1] !== imm >> 31) pc += off; break;
        case 0x5d: if (R[d] !== R[s] || R[d + 1] !== R[s + 1]) pc += off; break;
        case 0x45: if ((R[d]! & imm) !== 0 || (R[d + 1]! & (imm >> 31)) !== 0) pc += off; break;
        case 0x4d: if ((R[d]! & R[s]!) !== 0 || (R[d + 1]! & R[s + 1]!) !== 0) pc += off; break;
        case 0x25: if (ucmp64(R[d]!, R[d + 1]!, imm, imm >> 31) > 0) pc += off; break;
        case 0x2d: if (ucmp64(R[d]!, R[d + 1]!, R[s]!, R[s + 1]!) > 0) pc += off; break;
        case 0x35: if (ucmp64(R[d]!, R[d + 1]!, imm, imm >> 31) >= 0) pc += off; break;
        case 0x3d: if (ucmp64(R[d]!, R[d + 1]!, R[s]!, R[s + 1]!) >= 0) pc += off; break;
        case 0xa5: if (ucmp64(R[d]!, R[d + 1]!, imm, imm >> 31) < 0) pc += off; break;
        case 0xad: if (ucmp64(R[d]!, R[d + 1]!, R[s]!, R[s + 1]!) < 0) pc += off; break;
        case 0xb5: if (ucmp64(R[d]!, R[d + 1]!, imm, imm >> 31) <= 0) pc += off; break;
        case 0xbd: if (ucmp64(R[d]!, R[d + 1]!, R[s]!, R[s + 1]!) <= 0) pc += off; break;
        case 0x65: if (scmp64(R[d]!, R[d + 1]!, imm, imm >> 31) > 0) pc += off; break;
        case 0x6d: if (scmp64(R[d]!, R[d + 1]!, R[s]!, R[s + 1]!) > 0) pc += off; break;
        case 0x75: if (scmp64(R[d]!, R[d + 1]!, imm, imm >> 31) >= 0) pc += off; break;
        case 0x7d: if (scmp64(R[d]!, R[d + 1]!, R[s]!, R[s + 1]!) >= 0) pc += off; break;
        case 0xc5: if (scmp64(R[d]!, R[d + 1]!, imm, imm >> 31) < 0) pc += off; break;
        case 0xcd: if (scmp64(R[d]!, R[d + 1]!, R[s]!, R[s + 1]!) < 0) pc += off; break;
        case 0xd5: if (scmp64(R[d]!, R[d + 1]!, imm, imm >> 31) <= 0) pc += off; break;
        case 0xdd: if (scmp64(R[d]!, R[d + 1]!, R[s]!, R[s + 1]!) <= 0) pc += off; break;
        case 0xe5: // may_goto: jump once this frame's loop budget is spent
          if (this.loopBudget[depth] === 0) pc += off; else this.loopBudget[depth]!--;
          break;

        // ---- jumps, 32-bit ----
        case 0x06: pc += imm; break; // gotol
        case 0x16: if (R[d] === imm) pc += off; break;
        case 0x1e: if (R[d] === R[s]) pc += off; break;
        case 0x56: if (R[d] !== imm) pc += off; break;
        case 0x5e: if (R[d] !== R[s]) pc += off; break;
        case 0x46: if ((R[d]! & imm) !== 0) pc += off; break;
        case 0x4e: if ((R[d]! & R[s]!) !== 0) pc += off; break;
        case 0x26: if ((R[d]! >>> 0) > (imm >>> 0)) pc += off; break;
        case 0x2e: if ((R[d]! >>> 0) > (R[s]! >>> 0)) pc += off; break;
        case 0x36: if ((R[d]! >>> 0) >= (imm >>> 0)) pc += off; break;
        case 0x3e: if ((R[d]! >>> 0) >= (R[s]! >>> 0)) pc += off; break;
        case 0xa6: if ((R[d]! >>> 0) < (imm >>> 0)) pc += off; break;
        case 0xae: if ((R[d]! >>> 0) < (R[s]! >>> 0)) pc += off; break;
        case 0xb6: if ((R[d]! >>> 0) <= (imm >>> 0)) pc += off; break;
        case 0xbe: if ((R[d]! >>> 0) <= (R[s]! >>> 0)) pc += off; break;
        case 0x66: if (R[d]! > imm) pc += off; break;
        case 0x6e: if (R[d]! > R[s]!) pc += off; break;
        case 0x76: if (R[d]! >= imm) pc += off; break;
        case 0x7e: if (R[d]! >= R[s]!) pc += off; break;
        case 0xc6: if (R[d]! < imm) pc += off; break;
        case 0xce: if (R[d]! < R[s]!) pc += off; break;
        case 0xd6: if (R[d]! <= imm) pc += off; break;
        case 0xde: if (R[d]! <= R[s]!) pc += off; break;

        // ---- calls and exit ----
        case 0x85:
        case 0x8d: {
          // Local call (src = BPF_PSEUDO_CALL, doubled here), or callx to a code address.
          let target = -1;
          if (code[pc] === 0x85) {
            if (s === 2) target = pc + 1 + imm;
          } else if (R[d + 1] === 0) {
            const rel = (R[d]! >>> 0) - this.code_.start;
            if (rel >= 0 && rel < length * 8 && rel % 8 === 0) target = rel / 8;
          }
          if (target >= 0) {
            if (depth + 1 >= MAX_CALL_FRAMES) throw new CallDepthExceeded(pc, depth + 2);
            this.frameReturn[depth] = pc;
            this.frameSaved.set(R.subarray(12, 22), depth * 10);
            depth++;
            this.loopBudget[depth] = MAX_LOOPS;
            R[20] = this.stackTop - depth * MAX_BPF_STACK;
            R[21] = 0;
            this.stack.start = R[20] - MAX_BPF_STACK;
            rHi = wHi = 0;
            pc = target - 1;
            break;
          }
          // Helper call by id; callx holds the id in its register (uBPF and the conformance suite).
          let id = imm;
          if (code[pc] === 0x8d) {
            id = R[d + 1] === 0 ? R[d]! >>> 0 : -1;
            if (id < 0 || id > 0xffff) throw new UnknownHelper(pc, Number(toU64(R[d]!, R[d + 1]!) & 0xffffffffn));
          }
          this.depth = depth; this.count = count;
          if (this.callHelper(id, pc)) return { r0: toU64(R[0]!, R[1]!), instructions: count };
          count = this.count;
          if (this.memory.generation !== generation) { view = this.memory.view; generation = this.memory.generation; rHi = wHi = 0; }
          break;
        }
        case 0x95:
          if (depth === base) { this.count = count; return { r0: toU64(R[0]!, R[1]!), instructions: count }; }
          depth--;
          pc = this.frameReturn[depth]!;
          R.set(this.frameSaved.subarray(depth * 10, depth * 10 + 10), 12);
          this.stack.start = this.stackTop - (depth + 1) * MAX_BPF_STACK;
          rHi = wHi = 0;
          break;

        // ---- 64-bit immediate load ----
        case 0x18: R[d] = imm; R[d + 1] = imms[pc + 1]!; pc++; break;

        // ---- legacy packet loads (socket filters); r1-r5 are scratch after them ----
        case 0x20: case 0x28: case 0x30: case 0x40: case 0x48: case 0x50: {
          const c = code[pc]!;
          const size = c === 0x20 || c === 0x40 ? 4 : c === 0x28 || c === 0x48 ? 2 : 1;
          const offset = c >= 0x40 ? (R[s]! | 0) + imm : imm;
          if (this.packetLoad(pc, offset, size)) return { r0: 0n, instructions: count };
          break;
        }

        // ---- loads ----
        case 0x61: case 0x69: case 0x71: case 0x79: case 0x81: case 0x89: case 0x91: {
          const c = code[pc]!;
          const size = c === 0x79 ? 8 : c === 0x61 || c === 0x81 ? 4 : c === 0x69 || c === 0x89 ? 2 : 1;
          const a = R[s + 1] === 0 ? (R[s]! >>> 0) + off : -1;
          if (a < rLo || a + size > rHi) { this.resolve(R[s]!, R[s + 1]!, off, size, false, pc); rLo = this.cLo; rHi = this.cHi; }
          switch (c) {
            case 0x79: R[d] = view.getInt32(a, true); R[d + 1] = view.getInt32(a + 4, true); break;
            case 0x61: R[d] = view.getInt32(a, true); R[d + 1] = 0; break;
            case 0x69: R[d] = view.getUint16(a, true); R[d + 1] = 0; break;
            case 0x71: R[d] = view.getUint8(a); R[d + 1] = 0; break;
            case 0x81: { const v = view.getInt32(a, true); R[d] = v; R[d + 1] = v >> 31; break; }
            case 0x89: { const v = view.getInt16(a, true); R[d] = v; R[d + 1] = v >> 31; break; }
            default: { const v = view.getInt8(a); R[d] = v; R[d + 1] = v >> 31; break; }
          }
          break;
        }

        // ---- stores of an immediate, then of a register ----
        case 0x62: case 0x6a: case 0x72: case 0x7a:
        case 0x63: case 0x6b: case 0x73: case 0x7b: {
          const c = code[pc]!;
          const size = (c & 0x18) === 0x18 ? 8 : (c & 0x18) === 0 ? 4 : (c & 0x18) === 0x08 ? 2 : 1;
          const a = R[d + 1] === 0 ? (R[d]! >>> 0) + off : -1;
          if (a < wLo || a + size > wHi) { this.resolve(R[d]!, R[d + 1]!, off, size, true, pc); wLo = this.cLo; wHi = this.cHi; }
          const lo = (c & 7) === 2 ? imm : R[s]!;
          const hi = (c & 7) === 2 ? imm >> 31 : R[s + 1]!;
          if (size === 8) { view.setInt32(a, lo, true); view.setInt32(a + 4, hi, true); }
          else if (size === 4) view.setInt32(a, lo, true);
          else if (size === 2) view.setInt16(a, lo, true);
          else view.setInt8(a, lo);
          break;
        }

        // ---- atomics ----
        case 0xc3: case 0xdb: case 0xcb: case 0xd3: {
          const c = code[pc]!;
          const size = c === 0xdb ? 8 : c === 0xc3 ? 4 : c === 0xcb ? 2 : 1;
          const write = imm !== 0x100; // load-acquire only reads
          const base = imm === 0x100 ? s : d; // load_acq reads via src; everything else via dst
          const a = R[base + 1] === 0 ? (R[base]! >>> 0) + off : -1;
          if (write) {
            if (a < wLo || a + size > wHi) { this.resolve(R[base]!, R[base + 1]!, off, size, true, pc); wLo = this.cLo; wHi = this.cHi; }
          } else if (a < rLo || a + size > rHi) { this.resolve(R[base]!, R[base + 1]!, off, size, false, pc); rLo = this.cLo; rHi = this.cHi; }
          atomic(view, R, a, size, imm, d, s, pc);
          break;
        }

        default:
          throw new VmError(`unknown opcode 0x${code[pc]!.toString(16).padStart(2, '0')}`, pc);
      }
      pc++;
    }
  }
}

function setArg(R: Int32Array, d: number, v: number | bigint): void {
  if (typeof v === 'bigint') setBig(R, d, v);
  else setNumber(R, d, v);
}

function udiv32(a: number, b: number): number {
  return b === 0 ? 0 : Math.floor((a >>> 0) / (b >>> 0)) | 0;
}
function umod32(a: number, b: number): number {
  return b === 0 ? a : ((a >>> 0) % (b >>> 0)) | 0;
}
function sdiv32(a: number, b: number): number {
  if (b === 0) return 0;
  if (b === -1) return -a | 0;
  return (a / b) | 0; // `| 0` truncates toward zero
}
function smod32(a: number, b: number): number {
  if (b === 0) return a;
  if (b === -1) return 0;
  return a % b | 0;
}

/** Read-modify-write for BPF_ATOMIC (single-threaded, so plain loads and stores suffice). */
function atomic(view: DataView, R: Int32Array, a: number, size: number, imm: number, d: number, s: number, pc: number): void {
  if (imm === 0x100 || imm === 0x110) { // load-acquire / store-release
    if (imm === 0x100) {
      const lo = size === 8 || size === 4 ? view.getInt32(a, true) : size === 2 ? view.getUint16(a, true) : view.getUint8(a);
      R[d] = lo; R[d + 1] = size === 8 ? view.getInt32(a + 4, true) : 0;
    } else if (size === 8) { view.setInt32(a, R[s]!, true); view.setInt32(a + 4, R[s + 1]!, true); }
    else if (size === 4) view.setInt32(a, R[s]!, true);
    else if (size === 2) view.setInt16(a, R[s]!, true);
    else view.setInt8(a, R[s]!);
    return;
  }
  const wide = size === 8;
  const oldLo = view.getInt32(a, true);
  const oldHi = wide ? view.getInt32(a + 4, true) : 0;
  let lo: number, hi: number;
  const sl = R[s]!, sh = wide ? R[s + 1]! : 0;
  switch (imm & ~1) {
    case 0x00: { lo = (oldLo + sl) | 0; hi = (oldHi + sh + ((lo >>> 0) < (oldLo >>> 0) ? 1 : 0)) | 0; break; }
    case 0x40: lo = oldLo | sl; hi = oldHi | sh; break;
    case 0x50: lo = oldLo & sl; hi = oldHi & sh; break;
    case 0xa0: lo = oldLo ^ sl; hi = oldHi ^ sh; break;
    case 0xe0: lo = sl; hi = sh; break; // xchg
    case 0xf0: { // cmpxchg: compare with r0, write src if equal; r0 gets the old value
      const equal = wide ? R[0] === oldLo && R[1] === oldHi : R[0] === oldLo;
      lo = equal ? sl : oldLo; hi = equal ? sh : oldHi;
      R[0] = oldLo; R[1] = oldHi;
      break;
    }
    default: throw new VmError(`invalid atomic operation 0x${imm.toString(16)}`, pc);
  }
  view.setInt32(a, lo, true);
  if (wide) view.setInt32(a + 4, hi, true);
  if ((imm & 1) && (imm & ~1) !== 0xf0) { R[s] = oldLo; R[s + 1] = oldHi; }
}

/** Options of `execute`. */
export interface ExecuteOptions extends Omit<InterpreterOptions, 'memory'> {
  /** Bytes copied into a writable region; r1 = its address and r2 = its length. */
  memory?: Uint8Array;
}

/**
 * Runs a program once, the way the bpf_conformance suite does: `memory` (if any) in a region
 * whose address is passed in r1 and length in r2. Returns r0 and the instruction count.
 */
export function execute(program: ProgramInput, options: ExecuteOptions = {}): RunResult {
  const { memory: bytes, ...rest } = options;
  const vm = new Interpreter(program, rest);
  if (bytes === undefined || bytes.length === 0) return vm.run(0, 0);
  const region = vm.memory.alloc(bytes.length, { kind: 'memory', name: 'memory', init: bytes });
  return vm.run(region.start, bytes.length);
}
