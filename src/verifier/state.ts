/**
 * The verifier's state on one path: a stack of call frames (registers and stack slots each),
 * the references held, and the bookkeeping that links states for pruning
 * (kernel: struct bpf_verifier_state, struct bpf_func_state).
 */
import { type MapInfo, Reg, markNotInit, markPointer } from './reg.js';

export const MAX_BPF_STACK = 512;
export const BPF_REG_SIZE = 8;

/** Per-byte stack slot types (kernel: enum bpf_stack_slot_type). */
export const STACK_INVALID = 0;
export const STACK_SPILL = 1;
export const STACK_MISC = 2;
export const STACK_ZERO = 3;

/** One function's frame. Stack byte `b` is at `fp - 1 - b`; slot `b >> 3` holds spills. */
export class Frame {
  readonly regs: Reg[];
  readonly stack: Uint8Array;
  readonly spills: (Reg | undefined)[];
  /** Instruction index of the call that made this frame (-1 for the main program). */
  callsite: number;
  /** Index of the subprogram this frame runs. */
  subprog: number;
  /** Frame number (0 = main). */
  frameno: number;
  /** For callbacks (bpf_loop): the callback's return range, unused otherwise. */
  callback = false;
  /** Deepest stack byte used, in bytes from fp. */
  depth = 0;
  /** Times this frame's bpf_loop callback was entered on this path (kernel: bpf_func_state.callback_depth). */
  callbackDepth = 0;
  /** An async callback (bpf_timer_set_callback) run in a state of its own: it must return 0 (kernel: in_async_callback_fn). */
  asyncCallback = false;

  constructor(frameno: number, subprog: number, callsite: number, regs?: Reg[], stack?: Uint8Array, spills?: (Reg | undefined)[]) {
    this.frameno = frameno;
    this.subprog = subprog;
    this.callsite = callsite;
    this.regs = regs ?? Array.from({ length: 11 }, () => { const r = new Reg(); markNotInit(r); return r; });
    this.stack = stack ?? new Uint8Array(MAX_BPF_STACK);
    this.spills = spills ?? new Array<Reg | undefined>(MAX_BPF_STACK / BPF_REG_SIZE).fill(undefined);
    if (regs === undefined) {
      const fp = this.regs[10]!;
      markPointer(fp, 'fp');
      fp.frameno = frameno;
    }
  }

  clone(): Frame {
    const f = new Frame(this.frameno, this.subprog, this.callsite, this.regs.map((r) => r.clone()), this.stack.slice(),
      this.spills.map((s) => s?.clone()));
    f.callback = this.callback;
    f.depth = this.depth;
    f.callbackDepth = this.callbackDepth;
    f.asyncCallback = this.asyncCallback;
    return f;
  }

  reg(i: number): Reg {
    return this.regs[i]!;
  }
}

/**
 * The instructions a path went through, newest first: a persistent list, so a clone shares it
 * and a branch only adds its own step (clone stays O(1) in the path's length).
 */
export interface Trail {
  /** Slot index of the instruction. */
  readonly insn: number;
  /** Where the path went after it; undefined where the path stopped (exit, or the rejection). */
  readonly next: number | undefined;
  readonly prev: Trail | undefined;
  /** Steps in the list up to and including this one. */
  readonly length: number;
}

/** `trail` with one more step. */
export function extendTrail(trail: Trail | undefined, insn: number, next: number | undefined): Trail {
  return { insn, next, prev: trail, length: (trail?.length ?? 0) + 1 };
}

/** One step of a path as results report it: `taken` says which way a conditional jump went. */
export interface PathStep {
  readonly insn: number;
  /** For a conditional jump: true when the jump was taken, false when the path fell through. */
  readonly taken?: boolean;
}

/**
 * The path in execution order, at most `max` steps (the last ones). `isCondJump` tells which
 * instructions are conditional jumps, whose direction each step records.
 */
export function trailToPath(trail: Trail | undefined, isCondJump: (insn: number) => boolean, max = Infinity): PathStep[] {
  const out: PathStep[] = [];
  for (let t = trail; t !== undefined && out.length < max; t = t.prev) {
    out.push(isCondJump(t.insn) && t.next !== undefined ? { insn: t.insn, taken: t.next !== t.insn + 1 } : { insn: t.insn });
  }
  return out.reverse();
}

/** A reference the program holds and must release (kernel: struct bpf_reference_state). */
export interface RefState {
  readonly id: number;
  /** Instruction that acquired it. */
  readonly insn: number;
}

/**
 * The bpf_spin_lock a path holds (kernel: the REF_TYPE_LOCK reference state): the map whose
 * value holds it and the id of the map value pointer it was taken through.
 */
export interface ActiveLock {
  readonly map: MapInfo | undefined;
  readonly id: number;
  /** Instruction that took it. */
  readonly insn: number;
}

/** The whole state of one path. */
export class VerifierState {
  frames: Frame[];
  refs: RefState[];
  /** The spin lock held, if any (kernel: active_locks; one at a time). */
  activeLock: ActiveLock | undefined = undefined;
  /** Inside bpf_rcu_read_lock()/unlock() (kernel: active_rcu_locks; not nested). */
  activeRcuLock = false;
  /** The checkpoint this state descends from (for branch counting and loop detection). */
  parent: Checkpoint | undefined;
  /** Instruction index where this state continues. */
  insnIdx = 0;
  /** Instruction the path came from (for the "from X to Y" log line). */
  prevInsnIdx = -1;
  /** Instructions of the current path since the last checkpoint (loop heuristics). */
  speculative = false;
  /** The instructions this path went through (kept for explanations of a rejection). */
  trail: Trail | undefined = undefined;
  /** Log length when this state was queued: a level-1 log drops what came after when it is popped (kernel: pop_log). */
  logPos = 0;
  /** The last log line as it was when this state was queued (see Run.nextPath). */
  logLine: string | undefined = undefined;

  constructor(frames: Frame[], refs: RefState[] = [], parent?: Checkpoint) {
    this.frames = frames;
    this.refs = refs;
    this.parent = parent;
  }

  get cur(): Frame {
    return this.frames[this.frames.length - 1]!;
  }

  get curframe(): number {
    return this.frames.length - 1;
  }

  clone(): VerifierState {
    const s = new VerifierState(this.frames.map((f) => f.clone()), this.refs.slice(), this.parent);
    s.activeLock = this.activeLock;
    s.activeRcuLock = this.activeRcuLock;
    s.insnIdx = this.insnIdx;
    s.prevInsnIdx = this.prevInsnIdx;
    s.speculative = this.speculative;
    s.trail = this.trail;
    s.logPos = this.logPos;
    s.logLine = this.logLine;
    return s;
  }

  /** Calls `fn` on every register and spilled register of every frame. */
  forEachReg(fn: (reg: Reg) => void): void {
    for (const f of this.frames) {
      for (const r of f.regs) fn(r);
      for (const s of f.spills) if (s !== undefined) fn(s);
    }
  }
}

/**
 * A state kept at a pruning point. `pending` counts paths still being explored below it: a
 * checkpoint prunes other paths only once it has no pending paths left (every path from it
 * verified), which is the kernel's `branches == 0` rule.
 */
export interface Checkpoint {
  readonly state: VerifierState;
  readonly insnIdx: number;
  readonly parent: Checkpoint | undefined;
  pending: number;
  /** Times a later state was compared with this one without a match (kernel: miss_cnt). */
  misses: number;
  hits: number;
}
