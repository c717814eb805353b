/**
 * The kernel verifier's log syntax: instructions as kernel/bpf/disasm.c prints them
 * (`0: (b7) r0 = 0`, not LLVM's syntax) and register states as print_verifier_state does
 * (`R1=ctx() R10=fp0`).
 */
import type { Instruction } from '../isa/index.js';
import { helperName } from './helpers.js';
import { Reg, S32_MAX, S32_MIN, S64_MAX, S64_MIN } from './reg.js';
import type { Frame } from './state.js';
import { BPF_REG_SIZE, STACK_INVALID, STACK_MISC, STACK_SPILL, STACK_ZERO } from './state.js';
import { U32_MAX, U64_MAX, tnumIsConst, tnumIsUnknown, formatTnum } from './tnum.js';

const ALU: Record<string, string> = {
  add: '+=', sub: '-=', mul: '*=', div: '/=', or: '|=', and: '&=', lsh: '<<=', rsh: '>>=', mod: '%=',
  xor: '^=', mov: '=', arsh: 's>>=', sdiv: 's/=', smod: 's%=', movsx: '=',
};
const JMP: Record<string, string> = {
  jeq: '==', jgt: '>', jlt: '<', jge: '>=', jle: '<=', jset: '&', jne: '!=', jsgt: 's>', jslt: 's<', jsge: 's>=', jsle: 's<=',
};
const LDST: Record<number, string> = { 1: 'u8', 2: 'u16', 4: 'u32', 8: 'u64' };
const LDSX: Record<number, string> = { 1: 's8', 2: 's16', 4: 's32' };

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');
const signed = (n: number): string => (n >= 0 ? `+${n}` : `${n}`);

/** Names an lddw immediate (maps by id) for the log; the default prints the value in hex. */
export type ImmNamer = (insn: Instruction & { kind: 'lddw' }) => string;

/** One instruction in the kernel's verifier-log syntax, without the index: `(b7) r0 = 0`. */
export function formatKernelInsn(insn: Instruction, namer?: ImmNamer): string {
  const c = `(${hex2(insn.code)})`;
  switch (insn.kind) {
    case 'alu': {
      const r = insn.alu64 ? 'r' : 'w';
      if (insn.op === 'neg') return `${c} ${r}${insn.dst} = -${r}${insn.dst}`;
      if (insn.useReg) {
        const sx = insn.op === 'movsx' ? `(s${insn.off})` : '';
        return `${c} ${r}${insn.dst} ${ALU[insn.op]} ${sx}${r}${insn.src}`;
      }
      return `${c} ${r}${insn.dst} ${ALU[insn.op]} ${insn.imm}`;
    }
    case 'endian':
      if (insn.op === 'bswap') return `${c} r${insn.dst} = bswap${insn.width} r${insn.dst}`;
      return `${c} r${insn.dst} = ${insn.op}${insn.width} r${insn.dst}`;
    case 'addr_space_cast':
      return `${c} r${insn.dst} = addr_space_cast(r${insn.src}, ${insn.imm >>> 16}, ${insn.imm & 0xffff})`;
    case 'stx':
      return `${c} *(${LDST[insn.size]} *)(r${insn.dst} ${signed(insn.off)}) = r${insn.src}`;
    case 'st':
      return `${c} *(${LDST[insn.size]} *)(r${insn.dst} ${signed(insn.off)}) = ${insn.imm}`;
    case 'ldx':
      return `${c} r${insn.dst} = *(${insn.signed ? LDSX[insn.size] : LDST[insn.size]} *)(r${insn.src} ${signed(insn.off)})`;
    case 'atomic': {
      const t = LDST[insn.size];
      const w = insn.size === 8 ? '64' : '';
      const mem = `(${t} *)(r${insn.dst} ${signed(insn.off)})`;
      if (insn.op === 'cmpxchg') return `${c} r0 = atomic${w}_cmpxchg(${mem}, r0, r${insn.src})`;
      if (insn.op === 'xchg') return `${c} r${insn.src} = atomic${w}_xchg(${mem}, r${insn.src})`;
      if (insn.op === 'load_acq') return `${c} r${insn.dst} = load_acquire((${t} *)(r${insn.src} ${signed(insn.off)}))`;
      if (insn.op === 'store_rel') return `${c} store_release(${mem}, r${insn.src})`;
      if (insn.fetch) return `${c} r${insn.src} = atomic${w}_fetch_${insn.op}(${mem}, r${insn.src})`;
      return `${c} lock *(${t} *)(r${insn.dst} ${signed(insn.off)}) ${ALU[insn.op]} r${insn.src}`;
    }
    case 'ld_abs':
      return `${c} r0 = *(${LDST[insn.size]} *)skb[${insn.imm}]`;
    case 'ld_ind':
      return `${c} r0 = *(${LDST[insn.size]} *)skb[r${insn.src} + ${insn.imm}]`;
    case 'lddw': {
      if (namer !== undefined) return `${c} r${insn.dst} = ${namer(insn)}`;
      if (insn.src === 4) return `${c} r${insn.dst} = subprog[${signed(insn.imm)}]`;
      const v = (BigInt(insn.imm2 >>> 0) << 32n) | BigInt(insn.imm >>> 0);
      return `${c} r${insn.dst} = 0x${v.toString(16)}`;
    }
    case 'call':
      if (insn.target === 'local') return `${c} call pc${signed(insn.imm)}`;
      if (insn.target === 'kfunc') return `${c} call kernel-function`;
      return `${c} call ${helperName(insn.imm)}#${insn.imm}`;
    case 'callx':
      return `${c} callx r${insn.dst}`;
    case 'ja':
      return insn.long ? `${c} gotol pc${signed(insn.imm)}` : `${c} goto pc${signed(insn.off)}`;
    case 'may_goto':
      return `${c} may_goto pc${signed(insn.off)}`;
    case 'exit':
      return `${c} exit`;
    case 'jump': {
      const r = insn.jmp32 ? 'w' : 'r';
      const rhs = insn.useReg ? `${r}${insn.src}` : `0x${(insn.imm >>> 0).toString(16)}`;
      return `${c} if ${r}${insn.dst} ${JMP[insn.op]} ${rhs} goto pc${signed(insn.off)}`;
    }
  }
}

// kernel: verbose_snum / verbose_unum (log.c): small numbers in decimal, others in hex.
const snum = (n: bigint): string => (n >= -32768n && n <= 32767n ? `${n}` : `0x${BigInt.asUintN(64, n).toString(16)}`);
const unum = (n: bigint): string => (n <= 32767n ? `${n}` : `0x${n.toString(16)}`);

/**
 * The range fields the kernel prints (log.c print_scalar_ranges): minimums share a name list
 * with equal minimums, maximums with maximums, never mixing negative and positive values.
 */
function scalarRanges(r: Reg): string[] {
  const s32v = (v: bigint): bigint => (v >= -32768n && v <= 32767n ? v : BigInt.asUintN(32, v));
  const items: Array<{ name: string; val: bigint; omit: boolean }> = [
    { name: 'smin', val: BigInt.asUintN(64, r.smin), omit: r.smin === S64_MIN },
    { name: 'smax', val: BigInt.asUintN(64, r.smax), omit: r.smax === S64_MAX },
    { name: 'umin', val: r.umin, omit: r.umin === 0n },
    { name: 'umax', val: r.umax, omit: r.umax === U64_MAX },
    { name: 'smin32', val: BigInt.asUintN(64, s32v(r.s32min)), omit: r.s32min === S32_MIN },
    { name: 'smax32', val: BigInt.asUintN(64, s32v(r.s32max)), omit: r.s32max === S32_MAX },
    { name: 'umin32', val: r.u32min, omit: r.u32min === 0n },
    { name: 'umax32', val: r.u32max, omit: r.u32max === U32_MAX },
  ];
  const out: string[] = [];
  const neg = (m: { name: string; val: bigint }): boolean => m.name[0] === 's' && BigInt.asIntN(64, m.val) < 0n;
  for (let i = 0; i < items.length; i++) {
    const m1 = items[i]!;
    if (m1.omit) continue;
    let text = `${m1.name}=`;
    for (let j = i + 2; j < items.length; j += 2) {
      const m2 = items[j]!;
      if (m2.omit || m2.val !== m1.val || neg(m2) !== neg(m1)) continue;
      m2.omit = true;
      text += `${m2.name}=`;
    }
    text += m1.name[0] === 's' ? snum(BigInt.asIntN(64, m1.val)) : unum(m1.val);
    out.push(text);
  }
  if (!tnumIsUnknown(r.varOff)) out.push(`var_off=${formatTnum(r.varOff)}`);
  return out;
}

/** A register's value as the log prints it after `R1=` (log.c print_reg_state). */
export function formatReg(r: Reg, frameno = r.frameno): string {
  if (r.type === 'scalar' && tnumIsConst(r.varOff)) return snum(BigInt.asIntN(64, r.varOff.value));
  if (r.type === 'fp' && tnumIsConst(r.varOff)) {
    return `fp${frameno !== r.frameno ? `[${r.frameno}]` : ''}${snum(BigInt.asIntN(64, r.varOff.value) + BigInt(r.off))}`;
  }
  const name = r.type + (r.maybeNull ? '_or_null' : '');
  const fields: string[] = [];
  if (r.id) fields.push(`id=${r.id}`);
  if (r.refObjId) fields.push(`ref_obj_id=${r.refObjId}`);
  if (r.map !== undefined && (r.type === 'map_ptr' || r.type === 'map_value' || r.type === 'map_key')) {
    fields.push(`ks=${r.map.keySize},vs=${r.map.valueSize}`);
  }
  if (r.type !== 'scalar' && r.off) fields.push(`off=${r.off}`);
  // verbose_unum of the int range: negative markers print as 64-bit hex.
  if (r.type === 'pkt' || r.type === 'pkt_meta') fields.push(`r=${unum(BigInt.asUintN(64, BigInt(r.range)))}`);
  if (r.type === 'mem' || r.type === 'ringbuf_mem') fields.push(`sz=${r.memSize}`);
  if (tnumIsConst(r.varOff)) {
    if (r.varOff.value !== 0n) fields.push(`imm=${r.varOff.value.toString(16)}`);
  } else {
    fields.push(...scalarRanges(r));
  }
  return `${name}(${fields.join(',')})`;
}

/**
 * Registers an instruction reads or writes: the ones the kernel marks scratched (check_reg_arg)
 * and its log prints after the instruction. A helper call scratches R0 and the argument
 * registers R1–R5 it clobbers; LD_ABS/LD_IND read R6 (and the index) and clobber R0–R5.
 */
export function touchedRegs(insn: Instruction): Set<number> {
  switch (insn.kind) {
    case 'alu': case 'endian': case 'jump':
      return new Set(insn.kind !== 'endian' && insn.useReg ? [insn.dst, insn.src] : [insn.dst]);
    case 'ldx': case 'stx': case 'atomic': case 'addr_space_cast':
      return new Set(insn.kind === 'atomic' && insn.op === 'cmpxchg' ? [0, insn.dst, insn.src] : [insn.dst, insn.src]);
    case 'st': case 'lddw':
      return new Set([insn.dst]);
    case 'call':
      return new Set(insn.target === 'helper' ? [0, 1, 2, 3, 4, 5] : [0]);
    case 'ld_abs':
      return new Set([0, 1, 2, 3, 4, 5, 6]);
    case 'ld_ind':
      return new Set([0, 1, 2, 3, 4, 5, 6, insn.src]);
    default:
      return new Set();
  }
}

/**
 * kernel: print_insn_state + vlog_alignment: the instruction text padded so that the `;` before
 * the state after it lands at round_up(max(len + 5, 40), 8) - 2 (len without the newline).
 */
export function alignState(text: string): string {
  const col = Math.ceil(Math.max(text.length + 5, 40) / 8) * 8 - 2;
  return text.padEnd(col);
}

const SLOT_CHAR = (b: number): string => (b === STACK_MISC ? 'm' : b === STACK_ZERO ? '0' : b === STACK_SPILL ? 'r' : '?');

/**
 * One stack slot as the log prints it (`fp-8=mmmmmmmm`, `fp-16=ctx()`, `fp-16=????scalar()` for a
 * 4-byte spill), or undefined for an unused slot. kernel: print_verifier_state: a slot whose lowest
 * byte holds a spill prints the byte types above the spill, then the spilled register.
 */
function formatSlot(f: Frame, spi: number, frameno: number): string | undefined {
  const types = Array.from({ length: BPF_REG_SIZE }, (_, j) => f.stack[spi * BPF_REG_SIZE + j]!);
  if (types.every((b) => b === STACK_INVALID)) return undefined;
  const off = -(spi + 1) * BPF_REG_SIZE;
  const spill = f.spills[spi];
  if (spill !== undefined && types[BPF_REG_SIZE - 1] === STACK_SPILL) {
    const above = types.slice(0, types.indexOf(STACK_SPILL)).map(SLOT_CHAR).join('');
    return `fp${off}=${above}${formatReg(spill, frameno)}`;
  }
  return `fp${off}=${types.map(SLOT_CHAR).join('')}`;
}

/**
 * The state of one frame as print_verifier_state (kernel/bpf/log.c) prints it, each item with
 * its leading space: ` frame1: R1=ctx() R10=fp0 fp-8=mmmmmmmm refs=2 cb`. With `regs`/`slots`
 * only those (the scratched ones) are printed; `refs` are the reference ids the path holds.
 */
export function formatVerifierState(f: Frame, frameno: number, refs: readonly number[],
  scratched?: { readonly regs: ReadonlySet<number>; readonly slots: ReadonlySet<number> }): string {
  let out = frameno > 0 ? ` frame${frameno}:` : '';
  f.regs.forEach((r, i) => {
    if (r.type !== 'not_init' && (scratched === undefined || scratched.regs.has(i))) out += ` R${i}=${formatReg(r, frameno)}`;
  });
  for (let spi = 0; spi < f.spills.length; spi++) {
    if (scratched !== undefined && !scratched.slots.has(spi)) continue;
    const slot = formatSlot(f, spi, frameno);
    if (slot !== undefined) out += ` ${slot}`;
  }
  if (refs.length > 0) out += ` refs=${refs.join(',')}`;
  if (f.callback) out += ' cb';
  return out;
}

/** `R0=... R1=ctx() R10=fp0 fp-8=mmmmmmmm` for one frame. */
export function formatFrame(f: Frame, frameno: number, only?: ReadonlySet<number>): string {
  const parts: string[] = [];
  f.regs.forEach((r, i) => {
    if (r.type !== 'not_init' && (only === undefined || only.has(i))) parts.push(`R${i}=${formatReg(r, frameno)}`);
  });
  if (only !== undefined) return parts.join(' ');
  for (let spi = 0; spi < f.spills.length; spi++) {
    const slot = formatSlot(f, spi, frameno);
    if (slot !== undefined) parts.push(slot);
  }
  return (frameno > 0 ? `frame${frameno}: ` : '') + parts.join(' ');
}

/**
 * One register or stack slot of a state in a form for tools (the structured side of the log):
 * bounds are decimal strings so the object survives JSON.
 */
export interface RegisterInfo {
  /** `r0`…`r10`, or `fp-8` for a stack slot. */
  readonly name: string;
  /** Call frame (0 = main program). */
  readonly frame: number;
  /** The kernel's type name (`map_value_or_null`, `scalar`, `fp`…); `stack` for a slot that holds no spilled register. */
  readonly type: string;
  /** The value as the log prints it (`map_value(ks=8,vs=16)`, `0`, `mmmmmmmm`). */
  readonly text: string;
  readonly id?: number;
  readonly refObjId?: number;
  /** Fixed offset of a pointer. */
  readonly off?: number;
  /** Signed and unsigned bounds of a scalar or of a pointer's variable offset, when known. */
  readonly smin?: string;
  readonly smax?: string;
  readonly umin?: string;
  readonly umax?: string;
  /** The map a map_ptr / map_value points into. */
  readonly map?: { readonly type: number; readonly keySize: number; readonly valueSize: number; readonly maxEntries: number };
  /** Packet pointers: bytes known to be in bounds. */
  readonly range?: number;
  /** mem / ringbuf_mem: size in bytes. */
  readonly memSize?: number;
}

function regInfo(name: string, frame: number, r: Reg): RegisterInfo {
  const pointer = r.type !== 'scalar';
  const bounded = (v: bigint, unbounded: bigint): string | undefined => (v === unbounded ? undefined : v.toString());
  return {
    name, frame, type: r.type + (r.maybeNull ? '_or_null' : ''), text: formatReg(r, frame),
    ...(r.id ? { id: r.id } : {}),
    ...(r.refObjId ? { refObjId: r.refObjId } : {}),
    ...(pointer && r.off ? { off: r.off } : {}),
    // A pointer's bounds are those of its variable offset: worth reporting only when it is not a constant.
    ...(r.type === 'not_init' || (pointer && tnumIsConst(r.varOff)) ? {} : {
      ...(bounded(r.smin, S64_MIN) !== undefined ? { smin: r.smin.toString() } : {}),
      ...(bounded(r.smax, S64_MAX) !== undefined ? { smax: r.smax.toString() } : {}),
      ...(r.umin !== 0n ? { umin: r.umin.toString() } : {}),
      ...(r.umax !== U64_MAX ? { umax: r.umax.toString() } : {}),
    }),
    ...(r.map !== undefined && pointer ? { map: { type: r.map.type, keySize: r.map.keySize, valueSize: r.map.valueSize, maxEntries: r.map.maxEntries } } : {}),
    ...(r.type === 'pkt' || r.type === 'pkt_meta' ? { range: r.range } : {}),
    ...(r.type === 'mem' || r.type === 'ringbuf_mem' ? { memSize: r.memSize } : {}),
  };
}

/** Every initialised register and used stack slot of every frame of a state, for tools. */
export function registerSnapshot(frames: readonly Frame[]): RegisterInfo[] {
  const out: RegisterInfo[] = [];
  frames.forEach((f, frameno) => {
    f.regs.forEach((r, i) => { if (r.type !== 'not_init') out.push(regInfo(`r${i}`, frameno, r)); });
    for (let spi = 0; spi < f.spills.length; spi++) {
      const text = formatSlot(f, spi, frameno);
      if (text === undefined) continue;
      const name = `fp${-(spi + 1) * BPF_REG_SIZE}`;
      const spill = f.spills[spi];
      const value = text.slice(name.length + 1);
      out.push(spill !== undefined && value.endsWith(formatReg(spill, frameno)) && f.stack[spi * BPF_REG_SIZE + BPF_REG_SIZE - 1] === STACK_SPILL
        ? { ...regInfo(name, frameno, spill) }
        : { name, frame: frameno, type: 'stack', text: value });
    }
  });
  return out;
}
