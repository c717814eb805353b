/**
 * State pruning (kernel: verifier.c is_state_visited, states_equal, regsafe, stacksafe,
 * refsafe): a path reaching a checkpoint with a state that an already verified state there
 * covers need not be explored again. Ours is stricter than the kernel's (no liveness or
 * precision marks: every register and stack byte must be covered), so it prunes less, never
 * more.
 */
import { type MapInfo, Reg } from './reg.js';
import { BPF_REG_SIZE, STACK_INVALID, STACK_MISC, STACK_SPILL, STACK_ZERO, type Frame, type VerifierState } from './state.js';
import { tnumEquals, tnumIn } from './tnum.js';

/** Consistent renaming of ids between the old and the current state (kernel: check_ids). */
class IdMap {
  readonly #fwd = new Map<number, number>();
  readonly #rev = new Map<number, number>();
  check(oldId: number, curId: number): boolean {
    if (oldId === 0 && curId === 0) return true;
    if (oldId === 0 || curId === 0) return false;
    const f = this.#fwd.get(oldId);
    const r = this.#rev.get(curId);
    if (f === undefined && r === undefined) {
      this.#fwd.set(oldId, curId);
      this.#rev.set(curId, oldId);
      return true;
    }
    return f === curId && r === oldId;
  }
}

function rangeWithin(old: Reg, cur: Reg): boolean {
  return old.umin <= cur.umin && old.umax >= cur.umax && old.smin <= cur.smin && old.smax >= cur.smax
    && old.u32min <= cur.u32min && old.u32max >= cur.u32max && old.s32min <= cur.s32min && old.s32max >= cur.s32max
    && tnumIn(old.varOff, cur.varOff);
}

function rangeEqual(old: Reg, cur: Reg): boolean {
  return old.umin === cur.umin && old.umax === cur.umax && old.smin === cur.smin && old.smax === cur.smax
    && old.u32min === cur.u32min && old.u32max === cur.u32max && old.s32min === cur.s32min && old.s32max === cur.s32max
    && tnumEquals(old.varOff, cur.varOff);
}

/**
 * How a loader without privileges changes pruning (unpriv.ts): without allow_uninit_stack an
 * uninitialised byte is not covered by a misc one; with explore_alu_limits (an unprivileged
 * pointer moved by a variable offset) scalars must match exactly.
 */
export interface PruneOptions {
  readonly allowUninitStack?: boolean;
  readonly exactScalars?: boolean;
}

/** kernel: regsafe. `exact` demands equality (loop detection). */
function regsafe(old: Reg, cur: Reg, ids: IdMap, exact: boolean, opts: PruneOptions = {}): boolean {
  if (old.type === 'not_init') return exact ? cur.type === 'not_init' : true;
  if (old.type !== cur.type || old.maybeNull !== cur.maybeNull) return false;
  const within = exact || (opts.exactScalars === true && old.type === 'scalar') ? rangeEqual(old, cur) : rangeWithin(old, cur);
  if (!within) return false;
  if (!ids.check(old.id, cur.id)) return false;
  if (old.type === 'scalar') return true;
  if (old.off !== cur.off || old.map !== cur.map || old.frameno !== cur.frameno || old.memSize !== cur.memSize
    || old.rdonly !== cur.rdonly || old.subprog !== cur.subprog
    || old.btfId !== cur.btfId || old.btfFlags !== cur.btfFlags) return false;
  if (!ids.check(old.refObjId, cur.refObjId)) return false;
  if (old.type === 'pkt' || old.type === 'pkt_meta') {
    if (old.range < 0 || cur.range < 0 || exact) {
      if (old.range !== cur.range) return false;
    } else if (old.range > cur.range) return false;
  }
  return true;
}

function stacksafe(old: Frame, cur: Frame, ids: IdMap, exact: boolean, opts: PruneOptions = {}): boolean {
  for (let spi = 0; spi < old.spills.length; spi++) {
    for (let j = 0; j < BPF_REG_SIZE; j++) {
      const b = spi * BPF_REG_SIZE + j;
      const o = old.stack[b]!;
      const c = cur.stack[b]!;
      if (exact) {
        if (o !== c) return false;
        continue;
      }
      if (o === STACK_MISC && opts.allowUninitStack === false && c !== STACK_MISC && c !== STACK_ZERO) return false;
      if (o === STACK_INVALID || o === STACK_MISC) {
        // Both read as unknown bytes to a privileged program; a spilled pointer does not.
        if (c === STACK_SPILL && cur.spills[spi]?.type !== 'scalar') return false;
        continue;
      }
      if (o === STACK_ZERO) {
        if (c !== STACK_ZERO) return false;
        continue;
      }
      if (c !== STACK_SPILL) return false;
    }
    const os = old.stack[spi * BPF_REG_SIZE + BPF_REG_SIZE - 1] === STACK_SPILL ? old.spills[spi] : undefined;
    if (os !== undefined) {
      const cs = cur.spills[spi];
      if (cs === undefined || !regsafe(os, cs, ids, exact, opts)) return false;
    } else if (exact && cur.spills[spi] !== undefined && cur.stack[spi * BPF_REG_SIZE + BPF_REG_SIZE - 1] === STACK_SPILL) {
      return false;
    }
  }
  return true;
}

/** kernel: states_equal: every path from `old` having been verified, is `cur` safe too? */
export function statesEqual(old: VerifierState, cur: VerifierState, exact = false, opts: PruneOptions = {}): boolean {
  if (old.frames.length !== cur.frames.length) return false;
  // kernel: states_equal — a state from a speculative path covers only speculative ones.
  if (old.speculative && !cur.speculative) return false;
  if (old.refs.length !== cur.refs.length) return false;
  const ids = new IdMap();
  for (let i = 0; i < old.refs.length; i++) {
    if (!ids.check(old.refs[i]!.id, cur.refs[i]!.id)) return false;
  }
  if (old.activeRcuLock !== cur.activeRcuLock) return false;
  // kernel: refsafe on the REF_TYPE_LOCK state: the same lock (map and pointer id), or none.
  const ol = old.activeLock;
  const cl = cur.activeLock;
  if ((ol === undefined) !== (cl === undefined)) return false;
  if (ol !== undefined && cl !== undefined && (!sameMap(ol.map, cl.map) || !ids.check(ol.id, cl.id))) return false;
  for (let f = 0; f < old.frames.length; f++) {
    const of = old.frames[f]!;
    const cf = cur.frames[f]!;
    if (of.callsite !== cf.callsite || of.subprog !== cf.subprog) return false;
    for (let r = 0; r < of.regs.length; r++) {
      if (!regsafe(of.regs[r]!, cf.regs[r]!, ids, exact, opts)) return false;
    }
    if (!stacksafe(of, cf, ids, exact, opts)) return false;
  }
  return true;
}

/** Whether two map descriptions name the same map (by id when they have one). */
export function sameMap(a: MapInfo | undefined, b: MapInfo | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.id !== undefined && a.id === b.id);
}
