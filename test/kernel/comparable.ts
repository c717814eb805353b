/**
 * Which kernel-accepted programs can be compared between the kernel and the VM by their
 * return value alone. A test run in the kernel differs from one in the VM in what neither
 * the program nor its input fixes:
 *
 * - the context: the kernel passes a `struct sk_buff` (or `xdp_buff`, …) in r1 whose fields
 *   hold real values; the VM either builds the same context (socket filter, TC, cgroup skb and
 *   XDP: src/vm/programs, described by a {@link ContextModel}) or passes zeroed bytes;
 * - addresses: r10 is a kernel stack address in one and a VM offset in the other;
 * - uninitialised stack: the kernel's stack holds garbage where the VM's holds zeroes, and root
 *   may read it (CAP_PERFMON's allow_uninit_stack).
 *
 * {@link taintOf} follows these by abstract interpretation: every register and stored stack
 * range carries one of the values of {@link Val}, joined where paths meet, until nothing
 * changes. Calls are followed per call string (as if inlined), so a callee writing through a
 * pointer into its caller's frame is tracked exactly. A program is comparable when no
 * machine-dependent value reaches r0 at exit or a branch condition and every memory access
 * lands where the VM has memory too.
 *
 * The verifier guarantees an accepted program never reads an uninitialised register on a path
 * that runs, so a path that does is dead code (the verifier pruned it) and is dropped here.
 */
import type { Instruction } from '../../src/isa/instruction.js';
import { slotIndexes } from '../../src/isa/validate.js';

/**
 * Abstract value of a register or stored stack bytes:
 * `u` not written; `s` a number, the same on both machines; `m` machine-dependent (context
 * data, part of an address, uninitialised stack, a mix); `p` the address `off` bytes from r10
 * of call frame `frame` (off null: unknown); `c` the context pointer plus `off`.
 */
type Val =
  | { readonly k: 'u' | 's' | 'm' }
  /** A pointer into the packet (data, data_end, data_meta, plus anything): the same layout on both machines. */
  | { readonly k: 'k' }
  | { readonly k: 'p'; readonly frame: number; readonly off: number | null }
  | { readonly k: 'c'; readonly off: number | null }
  /** With a {@link MapModel}: the map pointer of `lddw rX, map fd` (fd = the instruction's imm). */
  | { readonly k: 'f'; readonly fd: number }
  /**
   * With a {@link MapModel}: a pointer into a map value (or NULL): the same bytes on both
   * machines, since both start from the same map contents and only same values are stored.
   */
  | { readonly k: 'v' }
  /** With a {@link MapModel}: a pointer to memory the kernel does not clear (a ring-buffer record), or NULL. */
  | { readonly k: 'r' };

const U: Val = { k: 'u' };
const S: Val = { k: 's' };
const M: Val = { k: 'm' };
const K: Val = { k: 'k' };
/** Entry of `State.narrowed` saying the packet holds a machine-dependent value. */
const PACKET_DIRTY = -1;

/**
 * What reading the context gives when the VM builds the kernel's context: values that agree,
 * except pointers and the narrow loads and stores the kernel rewrites (src/vm/programs/sk-buff.ts).
 */
export interface ContextModel {
  /** Size of the struct; accesses beyond it cannot be compared. */
  readonly size: number;
  /** [offset, size] of fields holding packet pointers (data, data_end, data_meta). */
  readonly packetPointers: ReadonlyArray<readonly [number, number]>;
  /** [offset, size] of fields holding other pointers (sk): machine-dependent. */
  readonly otherPointers: ReadonlyArray<readonly [number, number]>;
  /** Field offset → bytes the kernel keeps it in, when fewer than 4 (narrow loads and stores differ). */
  readonly narrow: ReadonlyMap<number, number>;
  /** Whether legacy ld_abs/ld_ind read the same packet in the VM. */
  readonly legacyPacket: boolean;
}

function join(a: Val, b: Val): Val {
  if (a.k === 'u') return b;
  if (b.k === 'u') return a;
  if (a.k === 's' && b.k === 's') return S;
  if (a.k === 'k' && b.k === 'k') return K;
  if (a.k === 'p' && b.k === 'p' && a.frame === b.frame) return a.off === b.off ? a : { k: 'p', frame: a.frame, off: null };
  if (a.k === 'c' && b.k === 'c') return a.off === b.off ? a : { k: 'c', off: null };
  if (a.k === 'f' && b.k === 'f' && a.fd === b.fd) return a;
  if ((a.k === 'v' && b.k === 'v') || (a.k === 'r' && b.k === 'r')) return a;
  return M;
}

const same = (a: Val, b: Val): boolean => {
  if (a.k !== b.k) return false;
  if (a.k === 'p' && b.k === 'p') return a.frame === b.frame && a.off === b.off;
  if (a.k === 'c' && b.k === 'c') return a.off === b.off;
  if (a.k === 'f' && b.k === 'f') return a.fd === b.fd;
  return true;
};

/** Stored stack bytes of one frame: start offset from r10 → size and value (non-overlapping). */
type Frame = Map<number, { size: number; val: Val }>;

interface State {
  regs: Val[];
  /** Stack frames by call depth (0 = the main program). */
  frames: Frame[];
  /**
   * 4-byte words of the context that no longer hold the same value on both machines: written
   * with a machine-dependent value, or a narrow field written at all (the VM stores 32 bits where
   * the kernel keeps fewer).
   */
  narrowed: Set<number>;
}

/** Why a program's r0 may differ between the kernel and the VM. */
export type Taint =
  | 'machine-dependent value (context field, address, uninitialised stack) reaches r0 or a branch'
  | 'accesses the context beyond the VM region'
  | 'narrow context load the kernel widens (the VM does not rewrite context loads yet)'
  | 'legacy packet load at a negative offset (SKF_NET_OFF/SKF_LL_OFF)'
  | 'memory access the analysis cannot follow'
  | 'instruction the analysis does not model'
  | 'no path reaches exit (analysis)'
  // With a MapModel:
  | 'machine-dependent value stored in a map'
  | 'machine-dependent bytes passed to a helper'
  | 'calls a helper the analysis has no prototype for';

/**
 * What {@link taintOf} needs to follow programs that use maps and helpers (test_verifier cases
 * with fixup maps): the maps behind `lddw rX, map fd`, and helper prototypes. Without it, a
 * helper's result is machine-dependent and map pointers cannot be followed.
 */
export interface MapModel {
  /** Key and value size of the map whose fd an lddw loads, or undefined when not known. */
  readonly mapOf: (fd: number) => { readonly keySize: number; readonly valueSize: number } | undefined;
  /**
   * A helper's prototype (src/verifier/helpers.ts): what its arguments point at and what it
   * returns. Helpers must already be deterministic (the caller excludes clocks and random).
   */
  readonly helper: (id: number) => { readonly args: readonly string[]; readonly ret: string } | undefined;
}

const clone = (s: State): State => ({ regs: [...s.regs], frames: s.frames.map((f) => new Map(f)), narrowed: new Set(s.narrowed) });

/** Joins `b` into `a`; returns whether `a` changed. */
function joinInto(a: State, b: State): boolean {
  let changed = false;
  for (let r = 0; r < a.regs.length; r++) {
    const v = join(a.regs[r]!, b.regs[r]!);
    if (!same(v, a.regs[r]!)) {
      a.regs[r] = v;
      changed = true;
    }
  }
  for (const off of b.narrowed) {
    if (!a.narrowed.has(off)) {
      a.narrowed.add(off);
      changed = true;
    }
  }
  a.frames.forEach((fa, depth) => {
    const fb = b.frames[depth] ?? new Map();
    for (const [off, ea] of [...fa]) {
      const eb = fb.get(off);
      // Bytes written on one path only are uninitialised on the other: dropped, read as `m`.
      const v = eb !== undefined && eb.size === ea.size ? join(ea.val, eb.val) : undefined;
      if (v === undefined) fa.delete(off);
      else if (!same(v, ea.val)) fa.set(off, { size: ea.size, val: v });
      if (v === undefined || !same(v, ea.val)) changed = true;
    }
  });
  return changed;
}

function readFrame(frame: Frame, off: number, size: number): Val {
  const exact = frame.get(off);
  if (exact !== undefined && exact.size === size) return exact.val;
  let covered = 0;
  let val: Val = S;
  for (const [start, e] of frame) {
    const lo = Math.max(start, off);
    const hi = Math.min(start + e.size, off + size);
    if (lo >= hi) continue;
    covered += hi - lo;
    val = join(val, e.val.k === 's' ? S : M); // part of an address is machine-dependent
  }
  return covered === size ? val : M; // bytes never written: kernel garbage vs VM zeroes
}

function writeFrame(frame: Frame, off: number, size: number, val: Val): void {
  for (const [start, e] of [...frame]) {
    const end = start + e.size;
    if (end <= off || start >= off + size) continue;
    frame.delete(start);
    const rest = e.val.k === 's' ? S : M; // what remains of an overwritten address is no address
    for (let b = start; b < end; b++) if (b < off || b >= off + size) frame.set(b, { size: 1, val: rest });
  }
  frame.set(off, { size, val: size === 8 || val.k === 's' ? val : M });
}

/** A value used as a number: addresses and context pointers become machine-dependent. */
const num = (v: Val): Val => (v.k === 's' || v.k === 'u' ? v : M);

function arith(op: string, alu64: boolean, dst: Val, src: Val, imm: number | undefined): Val {
  if (dst.k === 's' && src.k === 's') return S;
  if (!alu64) return M;
  if ((dst.k === 'p' || dst.k === 'c') && src.k === 's' && (op === 'add' || op === 'sub')) {
    const off = imm === undefined || dst.off === null ? null : dst.off + (op === 'add' ? imm : -imm);
    return { ...dst, off };
  }
  if (dst.k === 's' && (src.k === 'p' || src.k === 'c') && op === 'add') return { ...src, off: null };
  if ((dst.k === 'v' || dst.k === 'r') && src.k === 's' && (op === 'add' || op === 'sub')) return dst;
  if (dst.k === 's' && (src.k === 'v' || src.k === 'r') && op === 'add') return src;
  if ((dst.k === 'k' && src.k === 's' && (op === 'add' || op === 'sub')) || (dst.k === 's' && src.k === 'k' && op === 'add')) return K;
  if (dst.k === 'k' && src.k === 'k' && op === 'sub') return S;
  // The distance between two addresses of one frame is the same on both machines.
  if (dst.k === 'p' && src.k === 'p' && op === 'sub' && dst.frame === src.frame) return S;
  return M;
}

/** Abstract interpretation state of one point: a slot in a call context (return slots, outermost first). */
interface Point { slot: number; calls: readonly number[] }

const key = (p: Point): string => `${p.calls.join('/')}:${p.slot}`;

/**
 * The first reason found why `program`'s return value may differ between the kernel and the
 * VM, or undefined when it cannot. `context` is the size of the zeroed bytes the VM's r1
 * points at, or the model of the context the VM builds like the kernel.
 */
export function taintOf(program: readonly Instruction[], context: number | ContextModel, maps?: MapModel): Taint | undefined {
  const model = typeof context === 'number' ? undefined : context;
  const ctxSize = typeof context === 'number' ? context : context.size;
  const slots = slotIndexes(program);
  const bySlot = new Map(slots.map((s, i) => [s, program[i]!]));
  const states = new Map<string, State>();
  const points = new Map<string, Point>();
  /** Pre-call state of each call, by the callee context's key prefix. */
  const preCall = new Map<string, State>();
  /** Joined exit states of each callee context. */
  const exits = new Map<string, State>();
  const work: string[] = [];
  let reason: Taint | undefined;
  let exited = false;

  const flow = (point: Point, state: State): void => {
    const k = key(point);
    const old = states.get(k);
    if (old === undefined) {
      states.set(k, clone(state));
      points.set(k, point);
      work.push(k);
    } else if (joinInto(old, state)) {
      work.push(k);
    }
  };
  const returnTo = (pre: State, exit: State): State => {
    const depth = pre.frames.length;
    const out: State = { regs: [...exit.regs], frames: exit.frames.slice(0, depth).map((f) => new Map(f)), narrowed: new Set(exit.narrowed) };
    for (let r = 1; r <= 5; r++) out.regs[r] = U;
    for (let r = 6; r <= 10; r++) out.regs[r] = pre.regs[r]!;
    return out;
  };

  const entry: Val[] = Array.from({ length: 11 }, () => U);
  entry[1] = { k: 'c', off: 0 };
  entry[10] = { k: 'p', frame: 0, off: 0 };
  flow({ slot: 0, calls: [] }, { regs: entry, frames: [new Map()], narrowed: new Set() });

  while (work.length > 0 && reason === undefined) {
    const k = work.pop()!;
    const point = points.get(k)!;
    const { slot, calls } = point;
    const insn = bySlot.get(slot);
    if (insn === undefined) continue;
    const st = clone(states.get(k)!);
    const R = st.regs;
    const depth = calls.length;
    const next = slot + (insn.kind === 'lddw' ? 2 : 1);
    const to = (target: number): Point => ({ slot: target, calls });
    let dead = false;

    /** Reads register `r`; an uninitialised one means this path never runs. */
    const read = (r: number): Val => {
      const v = R[r]!;
      if (v.k === 'u') dead = true;
      return v;
    };
    const tainted = (): void => {
      reason ??= 'machine-dependent value (context field, address, uninitialised stack) reaches r0 or a branch';
    };
    /** Loads `size` bytes at base register `r` + `off`. */
    const load = (r: number, off: number, size: number): Val => {
      const base = read(r);
      if (base.k === 'c') {
        ctxAccess(base.off, off, size);
        return ctxRead(base.off, off, size);
      }
      if (base.k === 'k') return st.narrowed.has(PACKET_DIRTY) ? M : S; // packet bytes: the same input on both machines
      if (base.k === 'v') return S; // map value bytes: machine-dependent stores are refused below
      if (base.k === 'r') return M; // a ring-buffer record: kernel garbage until written
      if (base.k !== 'p') {
        if (!dead) reason ??= 'memory access the analysis cannot follow';
        return M;
      }
      const frame = st.frames[base.frame];
      return frame === undefined || base.off === null ? M : readFrame(frame, base.off + off, size);
    };
    const store = (r: number, off: number, size: number, val: Val): void => {
      const base = read(r);
      if (base.k === 'c') {
        ctxAccess(base.off, off, size);
        if (model !== undefined && base.off !== null) {
          const at = base.off + off;
          for (let word = at & ~3; word < at + size; word += 4) if (val.k !== 's' || model.narrow.has(word)) st.narrowed.add(word);
        }
        return;
      }
      if (base.k === 'k') {
        if (val.k !== 's') st.narrowed.add(PACKET_DIRTY);
        return;
      }
      if (base.k === 'v') {
        if (val.k !== 's' && !dead) reason ??= 'machine-dependent value stored in a map';
        return;
      }
      if (base.k === 'r') return;
      if (base.k !== 'p') {
        if (!dead) reason ??= 'memory access the analysis cannot follow';
        return;
      }
      const frame = st.frames[base.frame];
      if (frame === undefined) return;
      if (base.off !== null) writeFrame(frame, base.off + off, size, val);
      // A store at an unknown offset may hit any byte: what was known there is now a mix.
      else for (const [start, e] of frame) frame.set(start, { size: e.size, val: join(e.val, num(val)) });
    };
    /** A context field's value: the same in the VM's context, except pointers and rewritten narrow fields. */
    const ctxRead = (base: number | null, off: number, size: number): Val => {
      if (model === undefined || base === null) return M; // a field of the kernel's sk_buff, zero in the VM
      const at = base + off;
      if (model.packetPointers.some(([o, n]) => overlaps(at, size, o, n))) return at % 4 === 0 && size === 4 ? K : M;
      if (model.otherPointers.some(([o, n]) => overlaps(at, size, o, n))) return M;
      for (let word = at & ~3; word < at + size; word += 4) if (st.narrowed.has(word)) return M;
      const field = at & ~3;
      const storage = model.narrow.get(field);
      if (storage !== undefined && size >= storage && at !== field) reason ??= 'narrow context load the kernel widens (the VM does not rewrite context loads yet)';
      return S;
    };
    const ctxAccess = (base: number | null, off: number, size: number): void => {
      if (base === null || base + off < 0 || base + off + size > ctxSize) reason ??= 'accesses the context beyond the VM region';
    };

    switch (insn.kind) {
      case 'alu': {
        const src: Val = insn.useReg ? read(insn.src) : S;
        if (insn.op === 'mov') R[insn.dst] = insn.alu64 ? src : num(src);
        else if (insn.op === 'movsx') R[insn.dst] = num(src);
        else R[insn.dst] = arith(insn.op, insn.alu64, read(insn.dst), src, insn.useReg ? undefined : insn.imm);
        break;
      }
      case 'endian':
        R[insn.dst] = num(read(insn.dst));
        break;
      case 'lddw':
        R[insn.dst] = insn.src === 0 ? S : maps !== undefined && insn.src === 1 ? { k: 'f', fd: insn.imm } : maps !== undefined && insn.src === 2 ? { k: 'v' } : M;
        break;
      case 'ldx':
        R[insn.dst] = load(insn.src, insn.off, insn.size);
        break;
      case 'st':
        store(insn.dst, insn.off, insn.size, S);
        break;
      case 'stx':
        store(insn.dst, insn.off, insn.size, read(insn.src));
        break;
      case 'atomic': {
        if (insn.op === 'load_acq') {
          R[insn.dst] = load(insn.src, insn.off, insn.size); // dst = load_acquire(src + off)
          break;
        }
        const operand = read(insn.src);
        if (insn.op === 'store_rel') {
          store(insn.dst, insn.off, insn.size, operand);
          break;
        }
        const old = load(insn.dst, insn.off, insn.size);
        if (insn.op === 'xchg') {
          store(insn.dst, insn.off, insn.size, operand);
          R[insn.src] = old;
        } else if (insn.op === 'cmpxchg') {
          // Whether the store happens depends on r0 == old: machine-dependent unless both are numbers.
          const decided = read(0).k === 's' && old.k === 's' ? U : M;
          store(insn.dst, insn.off, insn.size, join(join(old, operand), decided));
          R[0] = old;
        } else {
          store(insn.dst, insn.off, insn.size, old.k === 's' && operand.k === 's' ? S : M);
          if (insn.fetch) R[insn.src] = old;
        }
        break;
      }
      case 'ld_abs':
      case 'ld_ind':
        if (model?.legacyPacket) {
          if (insn.kind === 'ld_ind') read(insn.src);
          // The kernel reads the MAC or network header at these offsets; the interpreter ends the program.
          if (insn.imm < 0) reason ??= 'legacy packet load at a negative offset (SKF_NET_OFF/SKF_LL_OFF)';
          R[0] = S;
          for (let r = 1; r <= 5; r++) R[r] = U; // clobbered, as after a call
          break;
        }
        // Legacy packet loads read the kernel's skb: the VM has no packet here.
        reason ??= 'accesses the context beyond the VM region';
        break;
      case 'jump': {
        const a = read(insn.dst);
        const b: Val = insn.useReg ? read(insn.src) : S;
        if (dead) continue;
        // A pointer is never equal to a small constant (NULL included) on either machine.
        const pointerVsSmall = (a.k === 'p' || a.k === 'c' || a.k === 'k' || a.k === 'v' || a.k === 'r') && !insn.useReg && Math.abs(insn.imm) < 4096
          && (insn.op === 'jeq' || insn.op === 'jne') && !insn.jmp32;
        const sameFrame = a.k === 'p' && b.k === 'p' && a.frame === b.frame && !insn.jmp32;
        const samePacket = a.k === 'k' && b.k === 'k' && !insn.jmp32;
        if (!pointerVsSmall && !sameFrame && !samePacket && (a.k !== 's' || b.k !== 's')) tainted();
        if ((a.k === 'v' || a.k === 'r') && insn.imm === 0 && pointerVsSmall) {
          // A map value (or ring-buffer record) pointer found NULL is 0 on both machines.
          const isNull = clone(st);
          isNull.regs[insn.dst] = S;
          flow(to(next), insn.op === 'jne' ? isNull : st);
          flow(to(slot + 1 + insn.off), insn.op === 'jeq' ? isNull : st);
          continue;
        }
        flow(to(next), st);
        flow(to(slot + 1 + insn.off), st);
        continue;
      }
      case 'ja':
        flow(to(slot + 1 + (insn.long ? insn.imm : insn.off)), st);
        continue;
      case 'may_goto':
        flow(to(next), st);
        flow(to(slot + 1 + insn.off), st);
        continue;
      case 'call': {
        if (insn.target === 'helper' && maps !== undefined) {
          R[0] = helperCall(insn.imm, R, st, maps, (why) => { if (!dead) reason ??= why; });
          for (let r = 1; r <= 5; r++) R[r] = U;
          break;
        }
        if (insn.target !== 'local') {
          // Helpers are classified before this analysis; here they only clobber r1..r5.
          R[0] = M;
          for (let r = 1; r <= 5; r++) R[r] = U;
          break;
        }
        const callee = { slot: slot + 1 + insn.imm, calls: [...calls, next] };
        const prefix = callee.calls.join('/');
        const pre = preCall.get(prefix);
        if (pre === undefined) preCall.set(prefix, clone(st));
        else joinInto(pre, st);
        const inner = clone(st);
        for (const r of [0, 6, 7, 8, 9]) inner.regs[r] = U;
        inner.regs[10] = { k: 'p', frame: depth + 1, off: 0 };
        inner.frames[depth + 1] = new Map(); // a fresh frame: garbage until written
        flow(callee, inner);
        const exit = exits.get(prefix);
        if (exit !== undefined) flow(to(next), returnTo(preCall.get(prefix)!, exit));
        continue;
      }
      case 'exit': {
        if (depth === 0) {
          const r0 = read(0);
          if (dead) continue;
          exited = true;
          if (r0.k !== 's') tainted();
          continue;
        }
        // A subprogram may return with r0 unset (the verifier checks r0 only where it is read).
        const prefix = calls.join('/');
        const prev = exits.get(prefix);
        if (prev === undefined) exits.set(prefix, clone(st));
        else if (!joinInto(prev, st)) continue;
        const back: Point = { slot: calls[depth - 1]!, calls: calls.slice(0, -1) };
        flow(back, returnTo(preCall.get(prefix)!, exits.get(prefix)!));
        continue;
      }
      default: // callx, addr_space_cast
        reason ??= 'instruction the analysis does not model';
        continue;
    }
    if (!dead) flow(to(next), st);
  }
  // Every path dropped as dead would be a bug here (the kernel accepted the program).
  return reason ?? (exited ? undefined : 'no path reaches exit (analysis)');
}

/**
 * A helper call under a {@link MapModel}: the bytes it reads through stack pointers must be the
 * same on both machines (a map key or value exactly: key_size/value_size bytes; other memory:
 * every byte stored from the pointer up to the frame's top), and its result is a map value
 * pointer, a ring-buffer record, or a number the same on both machines.
 */
function helperCall(id: number, R: Val[], st: State, maps: MapModel, taint: (why: Taint) => void): Val {
  const proto = maps.helper(id);
  if (proto === undefined) {
    taint('calls a helper the analysis has no prototype for');
    return M;
  }
  const map = R[1]!.k === 'f' ? maps.mapOf((R[1] as { fd: number }).fd) : undefined;
  proto.args.forEach((arg, i) => {
    const v = R[i + 1]!;
    if (v.k === 'u') return;
    if (v.k === 'm' && (arg === 'map_key' || arg === 'map_value' || arg === 'mem' || arg === 'mem_or_null' || arg === 'const_str')) {
      taint('machine-dependent bytes passed to a helper');
      return;
    }
    if (v.k !== 'p' || v.off === null) return;
    const frame = st.frames[v.frame];
    if (frame === undefined) return;
    const size = arg === 'map_key' ? map?.keySize : arg === 'map_value' ? map?.valueSize : undefined;
    if (size !== undefined) {
      if (readFrame(frame, v.off, size).k !== 's') taint('machine-dependent bytes passed to a helper');
    } else if (arg === 'mem' || arg === 'mem_or_null' || arg === 'map_key' || arg === 'map_value' || arg === 'const_str') {
      for (const [start, e] of frame) if (start + e.size > v.off && start < 0 && e.val.k !== 's') taint('machine-dependent bytes passed to a helper');
    } else if (arg === 'uninit_mem' || arg === 'map_value_uninit' || arg === 'mem_or_null_write' || arg === 'fixed_mem8_uninit') {
      // Written by the helper, how much the analysis does not know: what was there is no longer known.
      for (const [start] of [...frame]) if (start >= v.off) frame.delete(start);
    }
  });
  switch (proto.ret) {
    case 'map_value_or_null': return { k: 'v' };
    case 'ringbuf_mem_or_null': return { k: 'r' };
    case 'void': return U;
    default: return S;
  }
}

function overlaps(a: number, an: number, b: number, bn: number): boolean {
  return a < b + bn && b < a + an;
}
