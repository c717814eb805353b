/**
 * Pointers typed by kernel BTF (kernel: PTR_TO_BTF_ID and the flags that qualify it, and
 * PTR_TO_TP_BUFFER). A `btf_id` register names a struct of the kernel's BTF by type id; loads
 * through it are checked against that struct (kernel: btf.c btf_struct_walk and
 * btf_struct_access, verifier.c check_ptr_to_btf_access): a read of a scalar field yields a
 * scalar, a read of a pointer-to-struct field yields a new `btf_id` whose trust follows the
 * kernel's rules (the `__safe_trusted`, `__safe_rcu`, … companion structs in vmlinux BTF), a
 * read of any other pointer field yields read-only untrusted memory. Writes are refused.
 *
 * The verifier keeps what it needs about the kernel BTF per verification in a side table keyed
 * by the `Env` ({@link setBtfEnv}), so the shared `Env` shape stays as it is.
 */
import type { Btf, BtfType } from '../btf/index.js';
import { BTF_MODIFIERS, skipModifiers } from './btf-util.js';
import type { TracingTarget } from './ctx-tracing.js';
import { type Env, reject } from './env.js';
import { type Reg, markPointer, markUnknown } from './reg.js';
import { formatTnum, tnumIsConst } from './tnum.js';

/**
 * Flags of a `btf_id` register (kernel: enum bpf_type_flag, the ones PTR_TO_BTF_ID carries);
 * PTR_MAYBE_NULL is the register's `maybeNull`.
 */
export const BtfFlag = {
  /** PTR_TRUSTED. */
  TRUSTED: 1 << 0,
  /** PTR_UNTRUSTED. */
  UNTRUSTED: 1 << 1,
  /** MEM_RCU. */
  RCU: 1 << 2,
  /** MEM_USER: a `__user` pointer; loads through it are refused. */
  USER: 1 << 3,
  /** MEM_PERCPU: a `__percpu` pointer; loads through it are refused. */
  PERCPU: 1 << 4,
  /**
   * Not a PTR_TO_BTF_ID but PTR_TO_MEM | MEM_RDONLY | PTR_UNTRUSTED of size 0: what a load of
   * a pointer field to a non-struct type yields. Loads through it go through probe memory and
   * are not bounds-checked; writes are refused.
   */
  MEM_RDONLY_UNTRUSTED: 1 << 5,
} as const;

/** What one verification knows of the kernel BTF (kernel: env->prog->aux, btf_vmlinux). */
export interface BtfEnv {
  /** The kernel BTF `btf_id` registers name types in (vmlinux). */
  readonly btf: Btf;
  /** The program is sleepable: outside an RCU read section (kernel: in_rcu_cs is false). */
  readonly sleepable: boolean;
  /** The program's license is GPL-compatible (kernel: prog->gpl_compatible). */
  readonly gplCompatible: boolean;
  /** TRACING programs: the attach target that types the context. */
  readonly target?: TracingTarget;
  /** Largest `off + size` accessed through PTR_TO_TP_BUFFER (kernel: aux->max_tp_access). */
  maxTpAccess: number;
}

const BTF_ENVS = new WeakMap<Env, BtfEnv>();

/** Attaches the kernel BTF description to a verification. */
export function setBtfEnv(env: Env, value: BtfEnv): void {
  BTF_ENVS.set(env, value);
}

/** The kernel BTF description of a verification, if it has one. */
export function btfEnv(env: Env): BtfEnv | undefined {
  return BTF_ENVS.get(env);
}

/** The attach target of a TRACING program being verified, if any. */
export function tracingTarget(env: Env): TracingTarget | undefined {
  return BTF_ENVS.get(env)?.target;
}

const isStruct = (t: BtfType): boolean => t.kind === 'struct' || t.kind === 'union';

/** A `btf_id` register pointing at the struct `btfId` with `flags` (kernel: mark_btf_ld_reg). */
export function markBtfPointer(env: Env, reg: Reg, btfId: number, flags: number, maybeNull: boolean): void {
  markPointer(reg, 'btf_id');
  reg.btfId = btfId;
  reg.btfFlags = flags;
  if (maybeNull) {
    reg.maybeNull = true;
    reg.id = ++env.idGen;
  }
}

/** kernel: is_trusted_reg for a PTR_TO_BTF_ID without a reference: PTR_TRUSTED and no unsafe flag. */
function isTrustedReg(reg: Reg): boolean {
  return reg.btfFlags === BtfFlag.TRUSTED && !reg.maybeNull;
}

/** The result of walking a struct to an access (kernel: enum bpf_struct_walk_result). */
type Walk =
  | { readonly kind: 'scalar' }
  | { readonly kind: 'ptr'; readonly id: number; readonly field: string }
  | { readonly kind: 'untrusted_ptr' }
  | { readonly kind: 'struct'; readonly id: number }
  | { readonly kind: 'error'; readonly message: string };

interface ResolvedSize {
  /** The member's type after typedefs and qualifiers; the array type when it is an array. */
  readonly type: BtfType;
  readonly size: number;
  /** Innermost element type (arrays linearised) and the id the last array names it by. */
  readonly elemType: BtfType;
  readonly elemId: number;
  readonly totalNelems: number;
  /** The id reached after the last qualifier (the member's own id without one). */
  readonly typeId: number;
}

const U32_MAX = 0xffff_ffff;

/** kernel: __btf_resolve_size. Undefined for a type without a size. */
function resolveSize(btf: Btf, id: number): ResolvedSize | undefined {
  let type = btf.type(id);
  let arrayType: BtfType | undefined;
  let lastArrayElem = 0;
  let nelems = 1;
  let typeId = id;
  for (let i = 0; i < 32; i++) {
    let size: number | undefined;
    switch (type.kind) {
      case 'int': case 'struct': case 'union': case 'enum': case 'float': case 'enum64':
        size = type.size;
        break;
      case 'ptr':
        size = 8;
        break;
      case 'typedef': case 'volatile': case 'const': case 'restrict': case 'type_tag':
        typeId = type.type;
        type = btf.type(type.type);
        continue;
      case 'array':
        arrayType ??= type;
        if (nelems !== 0 && type.nelems > U32_MAX / nelems) return undefined;
        nelems *= type.nelems;
        lastArrayElem = type.type;
        type = btf.type(type.type);
        continue;
      default:
        return undefined;
    }
    if (nelems !== 0 && size > U32_MAX / nelems) return undefined;
    return { type: arrayType ?? type, size: nelems * size, elemType: type, elemId: arrayType ? lastArrayElem : 0, totalNelems: nelems, typeId };
  }
  return undefined;
}

/** kernel: btf_struct_walk. `state.flag` collects PTR_UNTRUSTED (unions) and the pointee's tag. */
function structWalk(btf: Btf, start: BtfType, startOff: number, size: number, state: { flag: number }): Walk {
  let t = start;
  let off = startOff;
  for (;;) {
    if (BTF_MODIFIERS.has(t.kind)) t = btf.type(skipModifiers(btf, (t as { type: number }).type));
    if (t.kind !== 'struct' && t.kind !== 'union') return { kind: 'error', message: `Type '${t.name}' is not a struct` };
    const tname = t.name;
    const members = t.members;
    if (t.kind === 'union' && members.length !== 1 && (state.flag & BtfFlag.UNTRUSTED) === 0) state.flag |= BtfFlag.UNTRUSTED;
    if (off + size > t.size) {
      // A flexible array as the last member may be read past the struct's size.
      const beyond: Walk = { kind: 'error', message: `access beyond struct ${tname} at off ${off} size ${size}` };
      const last = members[members.length - 1];
      if (last === undefined) return beyond;
      const mtype = btf.type(skipModifiers(btf, last.type));
      if (mtype.kind !== 'array' || mtype.nelems !== 0) return beyond;
      const moff = Math.floor(last.bitOffset / 8);
      if (off < moff) return beyond;
      const elem = btf.type(skipModifiers(btf, mtype.type));
      if (elem.kind === 'int') return { kind: 'scalar' };
      if (elem.kind !== 'struct' && elem.kind !== 'union') return beyond;
      if (elem.size === 0) return beyond;
      off = (off - moff) % elem.size;
      t = elem;
      continue;
    }
    let next: BtfType | undefined;
    for (const member of members) {
      let moff = Math.floor(member.bitOffset / 8);
      if (off + size <= moff) break;
      if (member.bitfieldSize !== 0) {
        const endBit = member.bitOffset + member.bitfieldSize;
        if (off <= moff && Math.ceil(endBit / 8) <= off + size) return { kind: 'scalar' };
        continue;
      }
      if (off < moff) break;
      const resolved = resolveSize(btf, member.type);
      if (resolved === undefined) return { kind: 'error', message: `field ${member.name} doesn't have size` };
      let mtype = resolved.type;
      let mid = resolved.typeId;
      let msize = resolved.size;
      const mtrueEnd = moff + msize;
      if (off >= mtrueEnd) continue;
      if (mtype.kind === 'array') {
        if (moff === mtrueEnd) continue;
        msize = Math.floor(msize / resolved.totalNelems);
        const elemIdx = Math.floor((off - moff) / msize);
        moff += elemIdx * msize;
        mtype = resolved.elemType;
        mid = resolved.elemId;
      }
      if (isStruct(mtype)) {
        if (off === moff) return { kind: 'struct', id: mid };
        off -= moff;
        next = mtype;
        break;
      }
      if (mtype.kind === 'ptr') {
        if (msize !== size || off !== moff) {
          return { kind: 'error', message: `cannot access ptr member ${member.name} with moff ${moff} in struct ${tname} with off ${off} size ${size}` };
        }
        const pointee = btf.type(mtype.type);
        let tagFlag = 0;
        if (pointee.kind === 'type_tag' && pointee.attribute !== true) {
          if (pointee.name === 'user') tagFlag = BtfFlag.USER;
          if (pointee.name === 'percpu') tagFlag = BtfFlag.PERCPU;
          if (pointee.name === 'rcu') tagFlag = BtfFlag.RCU;
        }
        const sid = skipModifiers(btf, mtype.type);
        if (isStruct(btf.type(sid))) {
          state.flag |= tagFlag;
          return { kind: 'ptr', id: sid, field: member.name };
        }
        return { kind: 'untrusted_ptr' };
      }
      if (off + size > mtrueEnd && (state.flag & BtfFlag.UNTRUSTED) === 0) {
        return { kind: 'error', message: `access beyond the end of member ${member.name} (mend:${mtrueEnd}) in struct ${tname} with off ${off} size ${size}` };
      }
      return { kind: 'scalar' };
    }
    if (next === undefined) return { kind: 'error', message: `struct ${tname} doesn't have field at offset ${off}` };
    t = next;
  }
}

/** What a load through a `btf_id` register yields (kernel: btf_struct_access). */
export type StructAccess =
  | { readonly kind: 'scalar' }
  | { readonly kind: 'ptr'; readonly id: number; readonly flag: number; readonly field: string }
  | { readonly kind: 'mem' }
  | { readonly kind: 'error'; readonly message: string };

/** kernel: btf_struct_access: the field `size` bytes at `off` of struct `id`, nested structs followed. */
export function structAccess(btf: Btf, id: number, off: number, size: number): StructAccess {
  let t = btf.type(id);
  const state = { flag: 0 };
  for (let depth = 0; depth < 64; depth++) {
    const w = structWalk(btf, t, off, size, state);
    switch (w.kind) {
      case 'ptr': return { kind: 'ptr', id: w.id, flag: state.flag, field: w.field };
      case 'untrusted_ptr': return { kind: 'mem' };
      case 'scalar': return { kind: 'scalar' };
      case 'error': return w;
      case 'struct':
        t = btf.type(w.id);
        off = 0;
        break;
    }
  }
  return { kind: 'error', message: `struct nesting too deep at type ${id}` };
}

/**
 * kernel: btf_nested_type_is_trusted: vmlinux BTF has a struct `<name><suffix>` listing the
 * pointer fields of `<name>` that keep (or gain) trust, by name and pointee type.
 */
function nestedTypeIsSafe(btf: Btf, structId: number, field: string, targetId: number, suffix: string): boolean {
  const walkType = btf.type(structId);
  const safeName = `${walkType.name}${suffix}`;
  if (safeName.length >= 64) return false;
  const safeId = btf.findByName(safeName, walkType.kind)[0];
  if (safeId === undefined) return false;
  const safe = btf.type(safeId);
  if (safe.kind !== 'struct' && safe.kind !== 'union') return false;
  for (const m of safe.members) {
    const mtype = btf.type(m.type);
    if (mtype.kind !== 'ptr') continue;
    if (skipModifiers(btf, mtype.type) === targetId && m.name === field) return true;
  }
  return false;
}

/** The struct name a `btf_id` register points to, for messages. */
function structName(btf: Btf, reg: Reg): string {
  try {
    return btf.type(reg.btfId).name;
  } catch {
    return `<${reg.btfId}>`;
  }
}

/**
 * A load or store through a `btf_id` or `tp_buffer` register (kernel: check_mem_access's
 * PTR_TO_TP_BUFFER, PTR_TO_BTF_ID and untrusted PTR_TO_MEM branches). `off` is the
 * instruction's offset; the loaded value goes to `dst`. `lockHeld`: the path holds a
 * bpf_spin_lock, which puts even a sleepable program in an RCU read section. `inCallback`: a
 * callback frame is on the path (an async callback of a sleepable program is not sleepable).
 */
export function btfPointerAccess(env: Env, regno: number, reg: Reg, off: number, size: number, write: boolean, dst: Reg | undefined,
  lockHeld = false, inCallback = false): void {
  const full = off + reg.off;
  if (reg.type === 'tp_buffer') {
    // kernel: check_tp_buffer_access: any constant offset; the tracepoint's size is checked at attach.
    if (full < 0) reject(env, `R${regno} invalid tracepoint buffer access: off=${full}, size=${size}`);
    if (!tnumIsConst(reg.varOff) || reg.varOff.value !== 0n) {
      reject(env, `R${regno} invalid variable buffer offset: off=${full}, var_off=${formatTnum(reg.varOff)}`);
    }
    const be = btfEnv(env);
    if (be !== undefined && full + size > be.maxTpAccess) be.maxTpAccess = full + size;
    if (dst !== undefined) markUnknown(dst);
    return;
  }
  if ((reg.btfFlags & BtfFlag.MEM_RDONLY_UNTRUSTED) !== 0) {
    if (write) reject(env, `R${regno} cannot write into rdonly_untrusted_mem`);
    if (dst !== undefined) markUnknown(dst);
    return;
  }
  const be = btfEnv(env);
  if (be === undefined) reject(env, `R${regno} BTF pointer without kernel BTF: not modelled by this verifier`);
  const btf = be.btf;
  const tname = structName(btf, reg);
  if (!be.gplCompatible) reject(env, `Cannot access kernel 'struct ${tname}' from non-GPL compatible program`);
  if (full < 0) reject(env, `R${regno} is ptr_${tname} invalid negative access: off=${full}`);
  if (!tnumIsConst(reg.varOff) || reg.varOff.value !== 0n) {
    reject(env, `R${regno} is ptr_${tname} invalid variable offset: off=${full}, var_off=${formatTnum(reg.varOff)}`);
  }
  if ((reg.btfFlags & BtfFlag.USER) !== 0) reject(env, `R${regno} is ptr_${tname} access user memory: off=${full}`);
  if ((reg.btfFlags & BtfFlag.PERCPU) !== 0) reject(env, `R${regno} is ptr_${tname} access percpu memory: off=${full}`);
  // Tracing program types have no btf_struct_access callback: every write is refused.
  if (write) reject(env, 'only read is supported');
  const access = structAccess(btf, reg.btfId, full, size);
  if (access.kind === 'error') reject(env, access.message);
  if (dst === undefined) return;
  if (access.kind === 'scalar') {
    markUnknown(dst);
    return;
  }
  if (access.kind === 'mem') {
    markBtfPointer(env, dst, 0, BtfFlag.MEM_RDONLY_UNTRUSTED, false);
    return;
  }
  // kernel: check_ptr_to_btf_access: the trust of the loaded pointer.
  if (be.sleepable && inCallback && (isTrustedReg(reg) || (reg.btfFlags & BtfFlag.RCU) !== 0)) {
    reject(env, `R${regno} loading a pointer through a trusted kernel pointer in a callback of a sleepable program: not modelled by this verifier`);
  }
  let flag = access.flag;
  let maybeNull = false;
  // kernel: in_rcu_cs (bpf_rcu_read_lock is a kfunc, not modelled, so it is never held here).
  const inRcuCs = lockHeld || !be.sleepable;
  if ((reg.btfFlags & BtfFlag.UNTRUSTED) !== 0) {
    flag = BtfFlag.UNTRUSTED;
  } else if (isTrustedReg(reg) || (reg.btfFlags & BtfFlag.RCU) !== 0) {
    const safe = (suffix: string): boolean => nestedTypeIsSafe(btf, reg.btfId, access.field, access.id, suffix);
    if (safe('__safe_trusted')) {
      flag |= BtfFlag.TRUSTED;
    } else if (safe('__safe_trusted_or_null')) {
      flag |= BtfFlag.TRUSTED;
      maybeNull = true;
    } else if (inRcuCs && !reg.maybeNull) {
      const rcuOrNull = safe('__safe_rcu_or_null');
      if (safe('__safe_rcu')) {
        flag |= BtfFlag.RCU;
      } else if ((flag & BtfFlag.RCU) !== 0 || rcuOrNull) {
        flag |= BtfFlag.RCU;
        maybeNull = true;
        if (rcuOrNull && (flag & BtfFlag.UNTRUSTED) !== 0) flag &= ~BtfFlag.UNTRUSTED;
      } else if ((flag & (BtfFlag.PERCPU | BtfFlag.USER)) !== 0) {
        // kept as they are
      } else {
        flag &= ~(BtfFlag.TRUSTED | BtfFlag.RCU);
      }
    } else {
      flag = BtfFlag.UNTRUSTED;
    }
  } else {
    flag &= ~(BtfFlag.TRUSTED | BtfFlag.RCU);
  }
  markBtfPointer(env, dst, access.id, flag, maybeNull);
}
