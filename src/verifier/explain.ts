/**
 * Plain-language explanations of verifier rejections: from the program, the kernel's message,
 * the failing instruction and the path that led there (VerifyError.path), what went wrong, where
 * the offending value came from, and which check is missing. The path is replayed to learn, for
 * every register and stack slot, which instruction produced its value, the copies made of it,
 * the comparisons made on it and which way each went.
 */
import { decodeRawProgram, type Instruction, type RawInstruction } from '../isa/index.js';
import { jumpTarget } from './cfg.js';
import { HELPER_PROTOS, helperName } from './helpers.js';
import { type ImmNamer, type RegisterInfo, formatKernelInsn } from './log.js';
import type { PathStep } from './state.js';
import type { VerifyError } from './verifier.js';

/** Where the value a rejection is about came from. */
export interface Origin {
  /** Slot index of the instruction that produced the value (-1: the program's entry, e.g. r1 = ctx). */
  readonly insn: number;
  /** What produced it, in words: `bpf_map_lookup_elem`, `r0 = 0`, `the context pointer r1`. */
  readonly what: string;
}

/** An explanation of one rejection, in words and in a form for tools. */
export interface Explanation {
  /** Slot index of the rejected instruction. */
  readonly insn: number;
  /** The kernel's message. */
  readonly message: string;
  /** The kind of problem: `null-deref`, `uninit-reg`, `scalar-deref`, `out-of-bounds`, `unreleased-ref`, … or `other`. */
  readonly kind: string;
  /** The explanation: a first sentence that says what and why, then details. */
  readonly explanation: string;
  /** The rejected instruction in the kernel log's syntax. */
  readonly instruction: string;
  readonly path: readonly PathStep[];
  readonly registers: readonly RegisterInfo[];
  readonly origin?: Origin;
  /** The program's instructions by slot (the second slot of an lddw undefined), for formatting. */
  readonly slots?: readonly (Instruction | undefined)[];
}

// ---------------------------------------------------------------------------------------------
// Replaying the path

/** A value some instruction produced; copies share the object. */
interface Value {
  readonly insn: number;
  readonly kind: 'ctx' | 'fp' | 'helper' | 'map' | 'const' | 'load' | 'alu' | 'clobbered' | 'ret';
  /** Words for the producer: `bpf_map_lookup_elem`, `r0 = 0`. */
  readonly what: string;
  /** Moves and fills that copied it: [insn, where]. */
  readonly copies: Array<[number, string]>;
  /** Comparisons made on it: the jump, and whether the path took it. */
  readonly checks: Array<{ insn: number; taken: boolean; reg: number }>;
  /** Additions to it (pointer arithmetic): the instruction and the value added. */
  readonly added: Array<{ insn: number; value?: Value }>;
  /** A helper that released it (ringbuf submit/discard). */
  released?: number;
  /** May be a pointer: arithmetic on it moves the same pointer rather than making a new number. */
  ptr?: boolean;
}

interface Slot {
  readonly v: Value;
  /** For a stack pointer: its offset from the frame's fp, when constant. */
  readonly fpOff?: number;
  readonly fpFrame?: number;
}

interface FrameState {
  regs: (Slot | undefined)[];
  stack: Map<number, Slot>;
  callsite: number;
}

const RELEASE_HELPERS = new Set([132, 133]); // ringbuf_submit, ringbuf_discard

function value(insn: number, kind: Value['kind'], what: string): Value {
  return { insn, kind, what, copies: [], checks: [], added: [], ptr: kind === 'ctx' || kind === 'fp' || kind === 'helper' || kind === 'map' };
}

const bare = (insn: Instruction, namer?: ImmNamer): string => formatKernelInsn(insn, namer).replace(/^\([0-9a-f]{2}\) /, '');

/** Replays `steps` (all but the failing one) and returns the frames as they are at the failing instruction. */
function replay(slots: readonly (Instruction | undefined)[], steps: readonly PathStep[], namer?: ImmNamer): FrameState[] {
  const frames: FrameState[] = [{ regs: new Array(11).fill(undefined), stack: new Map(), callsite: -1 }];
  frames[0]!.regs[1] = { v: value(-1, 'ctx', 'the context pointer the program starts with in r1') };
  frames[0]!.regs[10] = { v: value(-1, 'fp', 'the frame pointer'), fpOff: 0, fpFrame: 0 };
  for (let s = 0; s < steps.length - 1; s++) {
    const { insn: idx, taken } = steps[s]!;
    const insn = slots[idx];
    if (insn === undefined) continue;
    const f = frames[frames.length - 1]!;
    const regs = f.regs;
    const text = bare(insn, namer);
    switch (insn.kind) {
      case 'alu': {
        const src = insn.useReg ? regs[insn.src] : undefined;
        if (insn.op === 'mov' && insn.useReg && insn.alu64 && src !== undefined) {
          src.v.copies.push([idx, `r${insn.dst}`]);
          regs[insn.dst] = src;
        } else if (insn.op === 'mov' && !insn.useReg) {
          regs[insn.dst] = { v: value(idx, 'const', text) };
        } else if ((insn.op === 'add' || insn.op === 'sub') && insn.alu64 && regs[insn.dst]?.v.ptr === true) {
          const dst = regs[insn.dst]!;
          dst.v.added.push({ insn: idx, ...(src !== undefined ? { value: src.v } : {}) });
          const delta = insn.useReg ? undefined : (insn.op === 'add' ? insn.imm : -insn.imm);
          regs[insn.dst] = { v: dst.v, ...(dst.fpOff !== undefined && delta !== undefined ? { fpOff: dst.fpOff + delta, fpFrame: dst.fpFrame! } : {}) };
        } else {
          regs[insn.dst] = { v: value(idx, 'alu', text) };
        }
        break;
      }
      case 'endian':
        regs[insn.dst] = { v: value(idx, 'alu', text) };
        break;
      case 'lddw':
        regs[insn.dst] = { v: value(idx, insn.src === 1 || insn.src === 2 ? 'map' : 'const', text) };
        break;
      case 'ldx': {
        const base = regs[insn.src];
        const spilled = base?.fpOff !== undefined ? frames[base.fpFrame!]?.stack.get(base.fpOff + insn.off) : undefined;
        if (spilled !== undefined && insn.size === 8) {
          spilled.v.copies.push([idx, `r${insn.dst}`]);
          regs[insn.dst] = spilled;
        } else {
          // Packet pointers (data, data_end, data_meta) are loaded from the context.
          regs[insn.dst] = { v: { ...value(idx, 'load', text), ptr: base?.v.kind === 'ctx' && base.v.insn === -1 } };
        }
        break;
      }
      case 'stx': case 'st': {
        const base = regs[insn.dst];
        if (base?.fpOff === undefined) break;
        const stack = frames[base.fpFrame!]?.stack;
        const at = base.fpOff + insn.off;
        if (insn.kind === 'stx' && insn.size === 8 && regs[insn.src] !== undefined) {
          regs[insn.src]!.v.copies.push([idx, `fp${at}`]);
          stack?.set(at, regs[insn.src]!);
        } else {
          stack?.set(at, { v: value(idx, 'const', text) });
        }
        break;
      }
      case 'atomic':
        if (insn.fetch) regs[insn.op === 'cmpxchg' ? 0 : insn.src] = { v: value(idx, 'load', text) };
        break;
      case 'ld_abs': case 'ld_ind':
        for (let r = 1; r <= 5; r++) regs[r] = { v: value(idx, 'clobbered', text) };
        regs[0] = { v: value(idx, 'load', text) };
        break;
      case 'call':
        if (insn.target === 'local') {
          const callee: FrameState = { regs: new Array(11).fill(undefined), stack: new Map(), callsite: idx };
          for (let r = 1; r <= 5; r++) callee.regs[r] = regs[r];
          callee.regs[10] = { v: value(idx, 'fp', 'the frame pointer'), fpOff: 0, fpFrame: frames.length };
          frames.push(callee);
        } else {
          const name = insn.target === 'helper' ? helperName(insn.imm) : 'a kernel function';
          if (insn.target === 'helper' && RELEASE_HELPERS.has(insn.imm) && regs[1] !== undefined) regs[1].v.released = idx;
          for (let r = 1; r <= 5; r++) regs[r] = { v: value(idx, 'clobbered', `the call to ${name}`) };
          regs[0] = { v: value(idx, 'helper', name) };
        }
        break;
      case 'exit':
        if (frames.length > 1) {
          const callee = frames.pop()!;
          const caller = frames[frames.length - 1]!;
          for (let r = 1; r <= 5; r++) caller.regs[r] = { v: value(callee.callsite, 'clobbered', 'the bpf-to-bpf call') };
          caller.regs[0] = callee.regs[0] !== undefined ? callee.regs[0] : { v: value(idx, 'ret', 'the subprogram') };
        }
        break;
      case 'jump':
        if (taken !== undefined) {
          regs[insn.dst]?.v.checks.push({ insn: idx, taken, reg: insn.dst });
          if (insn.useReg && insn.src !== insn.dst) regs[insn.src]?.v.checks.push({ insn: idx, taken, reg: insn.src });
        }
        break;
      default:
        break;
    }
  }
  return frames;
}

// ---------------------------------------------------------------------------------------------
// Words

/** A path for reading: straight runs of more than three instructions shortened to `a…b`. */
export function formatPath(path: readonly PathStep[], slots?: readonly (Instruction | undefined)[]): string {
  const parts: string[] = [];
  const width = (i: number): number => (slots?.[i]?.kind === 'lddw' ? 2 : 1);
  let i = 0;
  while (i < path.length) {
    let j = i;
    while (j + 1 < path.length && path[j + 1]!.insn === path[j]!.insn + width(path[j]!.insn) && path[j]!.taken === undefined) j++;
    if (j - i >= 3) parts.push(`${path[i]!.insn}…${path[j]!.insn}`);
    else for (let k = i; k <= j; k++) parts.push(String(path[k]!.insn));
    i = j + 1;
  }
  return parts.join('→');
}

/** The part of the path from the last visit of `from` (inclusive) to the end. */
function pathFrom(path: readonly PathStep[], from: number): PathStep[] {
  for (let i = path.length - 1; i >= 0; i--) if (path[i]!.insn === from) return path.slice(i);
  return [...path];
}

function describeOrigin(v: Value): string {
  switch (v.kind) {
    case 'helper': return `${v.what} at insn ${v.insn}`;
    case 'ctx': case 'fp': return v.what;
    case 'clobbered': return `clobbered by ${v.what} at insn ${v.insn}`;
    case 'ret': return `the return value of ${v.what}`;
    default: return `\`${v.what}\` at insn ${v.insn}`;
  }
}

/** The direction of a conditional jump on the path, in words. */
function branchWords(slots: readonly (Instruction | undefined)[], step: { insn: number; taken: boolean }, namer?: ImmNamer): string {
  const insn = slots[step.insn];
  const text = insn !== undefined ? bare(insn, namer) : '?';
  const target = insn !== undefined ? jumpTarget(insn, step.insn) : undefined;
  return `insn ${step.insn} \`${text}\` ${step.taken ? `jumped to ${target}` : 'fell through'}`;
}

function branchesOn(slots: readonly (Instruction | undefined)[], path: readonly PathStep[], namer?: ImmNamer): string[] {
  return path.filter((s) => s.taken !== undefined).map((s) => branchWords(slots, { insn: s.insn, taken: s.taken! }, namer));
}

/** Where else a value is held at the failing instruction (registers and spilled stack slots). */
function holders(frames: readonly FrameState[], v: Value, except: string): string[] {
  const out: string[] = [];
  const f = frames[frames.length - 1]!;
  f.regs.forEach((s, r) => { if (s?.v === v && `r${r}` !== except) out.push(`r${r}`); });
  for (const [off, s] of f.stack) if (s.v === v) out.push(`fp${off}`);
  return out;
}

const regOf = (registers: readonly RegisterInfo[], name: string): RegisterInfo | undefined => {
  const top = Math.max(0, ...registers.map((r) => r.frame));
  return registers.find((r) => r.name === name && r.frame === top);
};

/** What the comparison at a jump tells about a register, for `if r1 > 0x10` not taken: `r1 <= 16`. */
function implied(slots: readonly (Instruction | undefined)[], c: { insn: number; taken: boolean; reg: number }): string {
  const insn = slots[c.insn];
  if (insn?.kind !== 'jump') return '';
  const NEG: Record<string, string> = {
    jeq: 'jne', jne: 'jeq', jgt: 'jle', jle: 'jgt', jge: 'jlt', jlt: 'jge', jsgt: 'jsle', jsle: 'jsgt', jsge: 'jslt', jslt: 'jsge', jset: 'jset',
  };
  const SYM: Record<string, string> = {
    jeq: '==', jne: '!=', jgt: '>', jle: '<=', jge: '>=', jlt: '<', jsgt: 's>', jsle: 's<=', jsge: 's>=', jslt: 's<', jset: '&',
  };
  const op = c.taken ? insn.op : NEG[insn.op]!;
  const w = insn.jmp32 ? 'w' : 'r';
  const rhs = insn.useReg ? `${w}${insn.src}` : String(insn.imm);
  if (insn.op === 'jset' && !c.taken) return `${w}${insn.dst} & ${rhs} == 0`;
  return c.reg === insn.dst || !insn.useReg ? `${w}${insn.dst} ${SYM[op]} ${rhs}` : `${w}${insn.dst} ${SYM[op]} ${w}${insn.src}`;
}

function boundsText(r: RegisterInfo | undefined): string {
  if (r === undefined) return 'unknown';
  const lo = r.smin !== undefined && BigInt(r.smin) >= 0n ? r.smin : r.umin ?? r.smin ?? '-2^63';
  const hi = r.umax ?? r.smax ?? 'unbounded';
  return `[${lo}, ${hi}]`;
}

// ---------------------------------------------------------------------------------------------
// The explanations

interface Ctx {
  readonly slots: readonly (Instruction | undefined)[];
  readonly error: VerifyError;
  readonly path: readonly PathStep[];
  readonly frames: FrameState[];
  readonly insn: Instruction | undefined;
  readonly namer: ImmNamer | undefined;
}

type Result = { kind: string; lines: string[]; origin?: Origin };

function regValue(c: Ctx, reg: number): Value | undefined {
  return c.frames[c.frames.length - 1]!.regs[reg]?.v;
}

function originOf(v: Value): Origin {
  return { insn: v.insn, what: v.kind === 'helper' ? v.what : v.kind === 'clobbered' ? `clobbered by ${v.what}` : v.what };
}

function copiesLine(c: Ctx, v: Value, reg: number): string | undefined {
  const moves = v.copies.map(([i, where]) => `${where} at insn ${i}`);
  const held = holders(c.frames, v, `r${reg}`);
  if (moves.length === 0 && held.length === 0) return undefined;
  return `Copies of this value: ${moves.join(', ') || 'none made'}${held.length ? `; at insn ${c.error.insn} it is also in ${held.join(', ')}` : ''}.`;
}

function nullDeref(c: Ctx, reg: number, type: string): Result {
  const v = regValue(c, reg);
  const lines: string[] = [];
  if (v === undefined) return { kind: 'null-deref', lines: [`r${reg} may be NULL (${type}_or_null) at insn ${c.error.insn}, and no check of it against 0 is on the path.`] };
  const sub = pathFrom(c.path, v.insn);
  const checks = v.checks.filter((k) => sub.some((s) => s.insn === k.insn));
  const where = describeOrigin(v);
  lines.push(`r${reg} may be NULL at insn ${c.error.insn}: it came from ${where}, and the path ${formatPath(sub, c.slots)} has no check of r${reg} against 0.`);
  if (v.kind === 'helper') lines.push(`${v.what} returns NULL when it has nothing to give (no such key, no room); the verifier lets the pointer be used only on a path where a comparison with 0 proved it is not NULL.`);
  for (const k of checks) {
    const insn = c.slots[k.insn];
    const why = insn?.kind === 'jump' && insn.jmp32 ? 'it compares only the low 32 bits, which does not prove a 64-bit pointer non-NULL'
      : insn?.kind === 'jump' && (insn.useReg || insn.imm !== 0) ? 'it does not compare with 0'
        : insn?.kind === 'jump' && insn.op !== 'jeq' && insn.op !== 'jne' ? 'only == 0 and != 0 comparisons count as NULL checks'
          : 'it was made on this path but the verifier did not use it';
    lines.push(`The comparison at insn ${k.insn} (\`${insn ? bare(insn, c.namer) : '?'}\`) does not count: ${why}.`);
  }
  const copies = copiesLine(c, v, reg);
  if (copies) lines.push(copies);
  const br = branchesOn(c.slots, sub, c.namer);
  if (br.length) lines.push(`Branches on this path: ${br.join('; ')}.`);
  lines.push(`Fix: after insn ${v.insn}, add \`if r${reg === 0 ? 0 : reg} == 0 goto <out>\` (in C: \`if (!p) return 0;\`) before the first use.`);
  return { kind: 'null-deref', lines, origin: originOf(v) };
}

function uninitReg(c: Ctx, reg: number): Result {
  const v = regValue(c, reg);
  const inSub = c.frames.length > 1;
  if (v?.kind === 'clobbered') {
    const sub = pathFrom(c.path, v.insn);
    return {
      kind: 'uninit-reg', origin: originOf(v),
      lines: [
        `r${reg} is read at insn ${c.error.insn} but holds no value: it was clobbered by ${v.what} at insn ${v.insn}, and the path ${formatPath(sub, c.slots)} does not write it again.`,
        'A call leaves r1–r5 unreadable (only r0, the result, and r6–r9, which calls preserve, keep values); keep a value that must survive a call in r6–r9 or on the stack.',
      ],
    };
  }
  const last = [...c.path].reverse().find((s) => c.slots[s.insn]?.kind === 'call');
  return {
    kind: 'uninit-reg',
    lines: [
      `r${reg} is read at insn ${c.error.insn} but no instruction on the path ${formatPath(c.path, c.slots)} writes it${inSub ? ' in this subprogram (a subprogram starts with only r1–r5, its arguments, and r10)' : ''}.`,
      reg >= 1 && reg <= 5 && last !== undefined ? `The last call on the path, at insn ${last.insn}, would have clobbered it anyway.`
        : 'At the program\'s entry only r1 (the context) and r10 (the frame pointer) hold values.',
    ],
  };
}

function scalarDeref(c: Ctx, reg: number): Result {
  const v = regValue(c, reg);
  const lines: string[] = [];
  if (v === undefined) return { kind: 'scalar-deref', lines: [`r${reg} holds a number, not a pointer, at insn ${c.error.insn}.`] };
  if (v.kind === 'helper') {
    const nullCheck = v.checks.find((k) => {
      const insn = c.slots[k.insn];
      return insn?.kind === 'jump' && !insn.useReg && insn.imm === 0 && ((insn.op === 'jeq' && k.taken) || (insn.op === 'jne' && !k.taken));
    });
    if (nullCheck !== undefined) {
      lines.push(`r${reg} is NULL at insn ${c.error.insn}: it is the result of ${v.what} at insn ${v.insn}, and at insn ${nullCheck.insn} the path went the way where it equals 0 (${branchWords(c.slots, nullCheck, c.namer)}).`);
      lines.push('On that branch the verifier knows the pointer is 0, a number, which cannot be dereferenced; this path must not use it.');
      return { kind: 'scalar-deref', lines, origin: originOf(v) };
    }
    lines.push(`r${reg} holds the number returned by ${v.what} at insn ${v.insn}, not a pointer, at insn ${c.error.insn}.`);
  } else {
    lines.push(`r${reg} holds a number, not a pointer, at insn ${c.error.insn}: its value comes from ${describeOrigin(v)}.`);
  }
  const pointers = (c.frames[c.frames.length - 1]!.regs)
    .map((s, r) => [s, r] as const)
    .filter(([s, r]) => s !== undefined && r !== reg && r !== 10 && (s.v.kind === 'helper' || s.v.kind === 'map'))
    .map(([s, r]) => `r${r} (${describeOrigin(s!.v)})`);
  const prev = [...c.path].slice(0, -1).reverse().find((s) => {
    const i = c.slots[s.insn];
    return i !== undefined && 'dst' in i && i.dst === reg && s.insn >= v.insn;
  });
  if (prev !== undefined && prev.insn !== v.insn) lines.push(`insn ${prev.insn} last wrote r${reg}.`);
  if (pointers.length) lines.push(`Registers that do hold pointers here: ${pointers.join(', ')}.`);
  lines.push(`Only pointers (to the stack, context, a map value, packet, …) can be dereferenced; path: ${formatPath(pathFrom(c.path, Math.max(0, v.insn)), c.slots)}.`);
  return { kind: 'scalar-deref', lines, origin: originOf(v) };
}

/** The base register, offset and size of the failing memory access. */
function access(c: Ctx): { reg: number; off: number; size: number } | undefined {
  const i = c.insn;
  if (i?.kind === 'ldx') return { reg: i.src, off: i.off, size: i.size };
  if (i?.kind === 'st' || i?.kind === 'stx' || i?.kind === 'atomic') return { reg: i.dst, off: i.off, size: i.size };
  return undefined;
}

function outOfBounds(c: Ctx, object: string, reg: number | undefined, objectSize: number | undefined): Result {
  const a = access(c);
  const r = reg ?? a?.reg;
  const lines: string[] = [];
  const info = r !== undefined ? regOf(c.error.registers ?? [], `r${r}`) : undefined;
  const v = r !== undefined ? regValue(c, r) : undefined;
  const size = objectSize ?? info?.map?.valueSize ?? info?.memSize;
  const fixed = info?.off ?? 0;
  const variable = info !== undefined && !(info.umax === '0' || (info.smin === '0' && info.smax === '0'))
    && (info.umax !== undefined || info.smin !== undefined);
  if (object === 'stack') {
    // The stack's bounds are fixed; the message already says where the access went.
  } else if (a !== undefined && info !== undefined) {
    const lo = BigInt(info.smin !== undefined && BigInt(info.smin) >= 0n ? info.smin : info.umin ?? '0');
    const hiVar = info.umax !== undefined ? BigInt(info.umax) : undefined;
    const first = BigInt(fixed + a.off) + lo;
    const reach = !variable ? `bytes ${first}…${first + BigInt(a.size - 1)}` : hiVar !== undefined ? `bytes ${first}…${BigInt(fixed + a.off + a.size - 1) + hiVar}` : 'an unbounded range of bytes';
    lines.push(`insn ${c.error.insn} accesses ${a.size} byte${a.size > 1 ? 's' : ''} at r${r}${a.off >= 0 ? '+' : ''}${a.off}, where r${r} points into the ${object} at offset ${fixed}${variable ? ` plus a variable part in ${boundsText(info)}` : ''}: it may reach ${reach}${size !== undefined ? `, but the ${object} has ${size} bytes (offsets 0…${size - 1})` : ''}.`);
  } else {
    lines.push(`insn ${c.error.insn} accesses the ${object} outside the bytes the verifier knows are valid${size !== undefined ? ` (the ${object} has ${size} bytes)` : ''}.`);
  }
  if (v !== undefined) {
    lines.push(`r${r} comes from ${describeOrigin(v)}.`);
    for (const add of v.added) {
      const src = add.value;
      const srcInsn = c.slots[add.insn];
      lines.push(`At insn ${add.insn} (\`${srcInsn ? bare(srcInsn, c.namer) : '?'}\`) a value was added to it${src ? `: ${describeOrigin(src)}` : ''}.`);
      if (src !== undefined) {
        const bounds = src.checks.map((k) => `insn ${k.insn} ${k.taken ? 'jumped' : 'fell through'}, so ${implied(c.slots, k)}`);
        lines.push(bounds.length ? `Its bounds came from the comparisons on the path: ${bounds.join('; ')}.`
          : `No comparison on the path bounded it: its range ${variable ? boundsText(info) + ' ' : ''}comes from how it was computed (${describeOrigin(src)}).`);
      }
    }
    const ownChecks = v.checks.map((k) => `insn ${k.insn} ${k.taken ? 'jumped' : 'fell through'} (${implied(c.slots, k)})`);
    if (ownChecks.length && object === 'packet') lines.push(`Comparisons of the pointer on the path: ${ownChecks.join('; ')}.`);
  }
  if (!variable && a !== undefined && size !== undefined && object !== 'stack') {
    lines.push(`Fix: the access must end inside the ${object}: offset + size ≤ ${size}, here ${fixed + a.off} + ${a.size} = ${fixed + a.off + a.size}.`);
  } else if (/max value|unbounded|outside/.test(c.error.message) || object === 'map value') {
    lines.push(`Fix: bound the offset so that offset + ${a?.size ?? 'size'} ≤ ${size ?? 'the size'} on every path before the access (e.g. \`if (i >= ${size !== undefined && a !== undefined ? size - a.size + 1 : 'N'}) return 0;\` for an unsigned index).`);
  }
  return { kind: 'out-of-bounds', lines, ...(v !== undefined ? { origin: originOf(v) } : {}) };
}

/** A packet access past what the comparisons with data_end proved (`invalid access to packet`, `offset is outside of the packet`). */
function packetAccess(c: Ctx, reg: number): Result {
  const a = access(c);
  const info = regOf(c.error.registers ?? [], `r${reg}`);
  const v = regValue(c, reg);
  const range = info?.range ?? 0;
  const fixed = info?.off ?? 0;
  const lines: string[] = [];
  const start = fixed + (a?.off ?? 0);
  const end = start + (a?.size ?? 1);
  lines.push(`insn ${c.error.insn} ${c.insn?.kind === 'ldx' ? 'reads' : 'writes'} ${a?.size ?? '?'} bytes at r${reg}${(a?.off ?? 0) >= 0 ? '+' : ''}${a?.off ?? 0}, bytes ${start}…${end - 1} of the packet counted from where r${reg} started, but the verifier only knows that ${range > 0 ? `${range} bytes` : 'no bytes'} from there lie before data_end (r=${range}).`);
  if (v !== undefined) {
    const checks = v.checks.map((k) => `insn ${k.insn} \`${c.slots[k.insn] ? bare(c.slots[k.insn]!, c.namer) : '?'}\` ${k.taken ? 'jumped' : 'fell through'} (so ${implied(c.slots, k)})`);
    lines.push(checks.length ? `That range came from the comparison${checks.length > 1 ? 's' : ''} with data_end on the path: ${checks.join('; ')}.`
      : `No comparison of r${reg} (or a copy of it) with data_end is on the path ${formatPath(c.path, c.slots)}.`);
    const adds = v.added.map((x) => `insn ${x.insn} (\`${c.slots[x.insn] ? bare(c.slots[x.insn]!, c.namer) : '?'}\`)`);
    if (adds.length && checks.length) lines.push(`The register compared is r${reg} or a copy of it, moved forward at ${adds.join(', ')}.`);
    lines.push(`r${reg} comes from ${describeOrigin(v)}.`);
  }
  lines.push(`Fix: compare data + ${end} (not less) with data_end before the access (\`if (data + ${end} > data_end) return …;\`).`);
  return { kind: 'out-of-bounds', lines, ...(v !== undefined ? { origin: originOf(v) } : {}) };
}

function unreleased(c: Ctx, id: number, alloc: number): Result {
  const allocInsn = c.slots[alloc];
  const what = allocInsn?.kind === 'call' && allocInsn.target === 'helper' ? helperName(allocInsn.imm) : 'the acquiring call';
  const sub = pathFrom(c.path, alloc);
  const lines = [
    `The reference acquired by ${what} at insn ${alloc} (id ${id}) is still held when the program exits at insn ${c.error.insn}: the path ${formatPath(sub, c.slots)} never releases it.`,
    what.startsWith('bpf_ringbuf_reserve')
      ? 'Every path from a successful bpf_ringbuf_reserve to an exit must pass the record to bpf_ringbuf_submit or bpf_ringbuf_discard.'
      : 'Every path from the acquiring call to an exit must release the reference.',
  ];
  const v = c.frames[c.frames.length - 1]!.regs.find((s) => s?.v.insn === alloc && s.v.kind === 'helper')?.v
    ?? [...c.frames[c.frames.length - 1]!.stack.values()].find((s) => s.v.insn === alloc)?.v;
  if (v !== undefined) {
    const held = holders(c.frames, v, '');
    if (held.length) lines.push(`At the exit the record is still in ${held.join(', ')}.`);
  }
  const br = branchesOn(c.slots, sub, c.namer);
  if (br.length) lines.push(`Branches on this path: ${br.join('; ')}.`);
  return { kind: 'unreleased-ref', lines, origin: { insn: alloc, what } };
}

function loop(c: Ctx, at: number | undefined): Result {
  const lines: string[] = [];
  if (/infinite loop/.test(c.error.message) && at !== undefined) {
    const visits = c.path.map((s, i) => [s.insn, i] as const).filter(([insn]) => insn === at).map(([, i]) => i);
    const body = visits.length >= 2 ? c.path.slice(visits[visits.length - 2], visits[visits.length - 1]! + 1) : pathFrom(c.path, at);
    lines.push(`The path came back to insn ${at} in exactly the state it had the previous time (${formatPath(body, c.slots)}), so the loop can never end: nothing it does changes the value its exit condition tests.`);
    const br = branchesOn(c.slots, body, c.namer);
    if (br.length) lines.push(`Branches in the loop: ${br.join('; ')}.`);
    lines.push('Fix: make the loop counter change on every iteration and compare it with a constant bound.');
  } else if (/back-edge/.test(c.error.message)) {
    lines.push(`${c.error.message}: a jump goes backwards, making a loop the verifier must be able to bound; this verifier (as the kernel for unprivileged loaders) refuses it.`);
  } else {
    const counts = new Map<number, number>();
    for (const s of c.path) counts.set(s.insn, (counts.get(s.insn) ?? 0) + 1);
    const hot = [...counts].sort((a, b) => b[1] - a[1]).slice(0, 5).filter(([, n]) => n > 1);
    lines.push(`The verifier gave up at insn ${c.error.insn}: ${c.error.message.replace(/\.$/, '')} — it follows every path separately, and this program has too many paths or one too long to explore.`);
    if (hot.length) lines.push(`Most repeated instructions on the last path: ${hot.map(([i, n]) => `insn ${i} ×${n}`).join(', ')} — a loop whose bound the verifier cannot see, or branches whose outcomes multiply.`);
    lines.push('Fix: bound loops with a constant, use bpf_loop for long ones, or reduce branching so paths merge (equal states are pruned).');
  }
  return { kind: 'too-complex', lines };
}

function helperArg(c: Ctx, reg: number, type: string, expected: string): Result {
  const insn = c.insn;
  const v = regValue(c, reg);
  const fn = insn?.kind === 'call' && insn.target === 'helper' ? helperName(insn.imm) : undefined;
  const lines = [
    fn !== undefined
      ? `Argument ${reg} of ${fn} (r${reg}) must be ${expected.replace(/, /g, ' or ')}, but at insn ${c.error.insn} r${reg} is ${type}${v ? `: ${describeOrigin(v)}` : ''}.`
      : `r${reg} must be ${expected} at insn ${c.error.insn}, but it is ${type}${v ? `: ${describeOrigin(v)}` : ''}.`,
  ];
  const proto = insn?.kind === 'call' ? HELPER_PROTOS.get(insn.imm) : undefined;
  if (proto !== undefined && fn !== undefined) lines.push(`${fn} takes (${proto.args.map((a, i) => `r${i + 1}: ${a}`).join(', ')}).`);
  return { kind: 'helper-arg', lines, ...(v ? { origin: originOf(v) } : {}) };
}

function returnValue(c: Ctx, range: string | undefined): Result {
  const v = regValue(c, 0);
  const lines = [
    `At the exit (insn ${c.error.insn}) r0 ${range !== undefined ? `may be outside ${range}, the return values this program type allows` : 'is not a number the program type allows'}: r0 comes from ${v ? describeOrigin(v) : 'nowhere on this path'}.`,
  ];
  if (v !== undefined && v.checks.length) lines.push(`Comparisons of it on the path: ${v.checks.map((k) => `insn ${k.insn} (${implied(c.slots, k)})`).join('; ')}.`);
  lines.push('Fix: set r0 to an allowed constant before the exit (e.g. `r0 = 0` / `return XDP_PASS;`).');
  return { kind: 'return-value', lines, ...(v ? { origin: originOf(v) } : {}) };
}

function structure(c: Ctx): Result | undefined {
  const msg = c.error.message;
  let m: RegExpExecArray | null;
  if ((m = /^unreachable insn (\d+)/.exec(msg))) {
    return { kind: 'unreachable', lines: [`No jump and no fall-through reaches insn ${m[1]}: the verifier refuses dead code. Remove it, or fix the jump that was meant to reach it.`] };
  }
  if ((m = /^jump out of range from insn (\d+) to (-?\d+)/.exec(msg))) {
    const from = c.slots[Number(m[1])];
    return {
      kind: 'jump-out-of-range',
      lines: [`The jump at insn ${m[1]}${from ? ` (\`${bare(from, c.namer)}\`)` : ''} goes to insn ${m[2]}, outside the program (insns 0…${c.slots.length - 1}) or outside its subprogram.`],
    };
  }
  if (/^last insn is not an exit or jmp/.test(msg)) {
    return { kind: 'falls-off-end', lines: [`The last instruction (insn ${c.slots.length - 1}) is neither an exit nor a jump, so execution could run past the end of the program.`] };
  }
  if ((m = /^jump into the middle of ldimm64 insn (\d+)/.exec(msg))) {
    return { kind: 'jump-into-lddw', lines: [`A jump lands on the second half of the 16-byte lddw at insn ${m[1]}; jump to insn ${m[1]} itself or past it.`] };
  }
  return undefined;
}

function generic(c: Ctx): Result {
  const regs = new Set<string>();
  for (const m of c.error.message.matchAll(/R(\d+)/g)) regs.add(`r${m[1]}`);
  const lines = [`The verifier rejected insn ${c.error.insn}${c.insn ? ` (\`${bare(c.insn, c.namer)}\`)` : ''}: ${c.error.message}.`];
  for (const name of regs) {
    const v = regValue(c, Number(name.slice(1)));
    const info = regOf(c.error.registers ?? [], name);
    lines.push(`${name} is ${info?.text ?? 'not initialised'}${v ? `, from ${describeOrigin(v)}` : ''}.`);
  }
  if (c.path.length) lines.push(`Path: ${formatPath(c.path, c.slots)}.`);
  return { kind: 'other', lines };
}

function explainWith(c: Ctx): Result {
  const msg = c.error.message;
  let m: RegExpExecArray | null;
  const s = structure(c);
  if (s !== undefined) return s;
  if ((m = /^R(\d+) invalid mem access '(\w+)_or_null'/.exec(msg)) || (m = /^R(\d+) pointer arithmetic on (\w+)_or_null prohibited/.exec(msg))) {
    return nullDeref(c, Number(m[1]), m[2]!);
  }
  if ((m = /^R(\d+) !read_ok/.exec(msg))) return uninitReg(c, Number(m[1]));
  if ((m = /^R(\d+) invalid mem access 'scalar'/.exec(msg))) return scalarDeref(c, Number(m[1]));
  if ((m = /^invalid access to map value, value_size=(\d+) off=(-?\d+) size=(\d+)/.exec(msg))) return outOfBounds(c, 'map value', undefined, Number(m[1]));
  if ((m = /^R(\d+) (?:max value is outside|min value is outside|min value is negative|unbounded memory access)/.exec(msg))) {
    const info = regOf(c.error.registers ?? [], `r${m[1]}`);
    const object = info?.type.startsWith('map_value') ? 'map value' : info?.type === 'pkt' ? 'packet' : info?.type === 'fp' ? 'stack' : 'memory';
    return outOfBounds(c, object, Number(m[1]), undefined);
  }
  if ((m = /^invalid access to packet, off=-?\d+ size=\d+, R(\d+)\(/.exec(msg)) || (m = /^R(\d+) offset is outside of the packet/.exec(msg))) {
    return packetAccess(c, Number(m[1]));
  }
  if ((m = /^invalid access to (memory|ringbuf_mem|\w+), mem_size=(\d+) off=(-?\d+) size=(\d+)/.exec(msg))) return outOfBounds(c, 'memory', undefined, Number(m[2]));
  if ((m = /^invalid (?:variable-offset )?(read from|write to) stack R(\d+) off=(-?\d+) size=(\d+)/.exec(msg))) {
    const r = outOfBounds(c, 'stack', Number(m[2]), 512);
    r.lines.unshift(`insn ${c.error.insn} ${m[1] === 'read from' ? 'reads' : 'writes'} ${m[4]} bytes at fp${m[3]}: the stack is the 512 bytes below r10 (fp-512…fp-1), and the access must stay inside it.`);
    return r;
  }
  if ((m = /^invalid (?:indirect )?read from stack R?(\d*)\s*(?:var_)?off[= ]?(-?\S+)/.exec(msg))) {
    const slots = (c.error.registers ?? []).filter((r) => r.name.startsWith('fp'));
    return {
      kind: 'uninit-stack',
      lines: [
        `insn ${c.error.insn} reads stack bytes that no instruction on the path ${formatPath(c.path, c.slots)} wrote (${msg}).`,
        `Written stack slots at that point: ${slots.map((r) => `${r.name}=${r.text}`).join(' ') || 'none'}. Initialise the whole buffer (key, struct) before passing or reading it.`,
      ],
    };
  }
  if ((m = /^invalid bpf_context access off=(\d+) size=(\d+)/.exec(msg))) {
    const a = access(c);
    const v = a !== undefined ? regValue(c, a.reg) : undefined;
    return {
      kind: 'ctx-access', ...(v !== undefined ? { origin: originOf(v) } : {}),
      lines: [
        `insn ${c.error.insn} ${c.insn?.kind === 'ldx' ? 'reads' : 'writes'} ${m[2]} bytes at offset ${m[1]} of the context, and this program type has no field there that may be accessed that way (wrong offset, size, or a read-only field).`,
        ...(v ? [`r${a!.reg} is ${describeOrigin(v)}.`] : []),
        'Fix: access the context only through its struct (struct __sk_buff, struct xdp_md, …) with the field\'s own size.',
      ],
    };
  }
  if ((m = /^Unreleased reference id=(\d+) alloc_insn=(\d+)/.exec(msg))) return unreleased(c, Number(m[1]), Number(m[2]));
  if ((m = /^infinite loop detected at insn (\d+)/.exec(msg))) return loop(c, Number(m[1]));
  if (/^back-edge from insn|^BPF program is too large|^The sequence of \d+ jumps is too complex/.test(msg)) return loop(c, undefined);
  if ((m = /^R(\d+) type=(\S+) expected=(.+)$/.exec(msg))) return helperArg(c, Number(m[1]), m[2]!, m[3]!);
  if ((m = /^program of this type cannot use helper (\S+)#(\d+)/.exec(msg))) {
    return {
      kind: 'helper-not-allowed',
      lines: [
        `insn ${c.error.insn} calls ${m[1]}, which programs of this type may not call: each program type has its own list of helpers (the kernel's get_func_proto for the type).`,
        `Path: ${formatPath(c.path, c.slots)}.`,
        'Fix: load the program as a type that offers the helper (check the ELF section name), or do without it.',
      ],
    };
  }
  if ((m = /^At program exit the register R0 has .* should have been in (\[-?\d+, -?\d+\])/.exec(msg))) return returnValue(c, m[1]);
  if (/^At program exit the register R0 is not a known value/.test(msg)) return returnValue(c, undefined);
  return generic(c);
}

/** Options of {@link explainRejection}. */
export interface ExplainOptions {
  /** Names lddw immediates (maps) in the instructions quoted. */
  readonly namer?: ImmNamer;
}

/**
 * Explains a rejection in plain words, naming the instruction that produced the offending value,
 * the path from it, and the check that is missing. Never empty: a rejection this module has no
 * specific words for still gets the instruction, the path and the registers involved.
 *
 * @example
 * const result = verify(program, { progType: ProgramType.XDP, maps });
 * if (result.error) console.log(explainRejection(program, result.error).explanation);
 */
export function explainRejection(program: readonly Instruction[] | readonly RawInstruction[], error: VerifyError,
  options: ExplainOptions = {}): Explanation {
  let insns: readonly Instruction[] = [];
  try {
    insns = program.length > 0 && 'kind' in program[0]! ? program as Instruction[] : decodeRawProgram(program as RawInstruction[]);
  } catch {
    insns = [];
  }
  const slots: (Instruction | undefined)[] = [];
  for (const insn of insns) {
    slots.push(insn);
    if (insn.kind === 'lddw') slots.push(undefined);
  }
  const path = error.path ?? [];
  const c: Ctx = { slots, error, path, frames: replay(slots, path, options.namer), insn: slots[error.insn], namer: options.namer };
  const r = explainWith(c);
  if (error.pathDropped) r.lines.push(`(The path shown leaves off its first ${error.pathDropped} steps.)`);
  return {
    insn: error.insn,
    message: error.message,
    kind: r.kind,
    explanation: r.lines.join('\n'),
    instruction: c.insn !== undefined ? `${error.insn}: ${formatKernelInsn(c.insn, options.namer)}` : `${error.insn}: (none)`,
    path,
    registers: error.registers ?? [],
    slots,
    ...(r.origin !== undefined ? { origin: r.origin } : {}),
  };
}

/** An explanation as text for a terminal: the explanation, the path with its branches, the registers. */
export function formatExplanation(e: Explanation): string {
  const out = [`insn ${e.instruction}`, `  ${e.message}`, '', ...e.explanation.split('\n')];
  if (e.path.length && !/^Path: /m.test(e.explanation)) out.push('', `Path: ${formatPath(e.path, e.slots)}`);
  else out.push('');
  if (e.origin !== undefined && e.origin.insn >= 0) out.push(`Origin: insn ${e.origin.insn} (${e.origin.what})`);
  const top = Math.max(0, ...e.registers.map((r) => r.frame));
  const regs = e.registers.filter((r) => r.frame === top);
  if (regs.length) out.push(`Registers at insn ${e.insn}: ${regs.map((r) => `${r.name}=${r.text}`).join(' ')}`);
  return `${out.join('\n')}\n`;
}
