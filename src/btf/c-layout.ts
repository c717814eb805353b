/**
 * Struct layout facts the C writer needs: a type's alignment as a C compiler would infer it
 * from BTF alone, whether a struct must have been `packed`, the bitfield view of a member,
 * and the anonymous padding members that pin the next field at its BTF offset.
 *
 * The rules follow libbpf (btf.c btf__align_of, btf_dump.c btf_is_struct_packed and
 * btf_dump_emit_bit_padding) so that our vmlinux.h lays out every struct as bpftool's does.
 */
import type { Btf } from './btf.js';
import type { BtfComposite, BtfMember } from './types.js';

/** Pointer size of a BTF: the size of its `long` (libbpf: determine_ptr_size), else 8. */
export function pointerSize(btf: Btf): number {
  for (const name of ['long int', 'long unsigned int', 'long', 'unsigned long', 'long signed int', 'unsigned long int']) {
    for (const id of btf.findByName(name, 'int')) {
      const t = btf.type(id);
      if (t.kind === 'int' && (t.size === 4 || t.size === 8)) return t.size;
    }
  }
  return 8;
}

/** A member's place as C sees it: bit offset and bitfield width (0 when not a bitfield). */
export interface MemberBits {
  readonly bitOffset: number;
  readonly bitfieldSize: number;
}

/**
 * The bitfield view of member `m` of `t`. With the kind flag the member says it; without it
 * a bitfield is an INT member whose `bits`/`offset` do not cover its storage (the legacy
 * encoding, kernel: btf_member_bitfield_size of a non-kflag struct is 0 and the int carries it).
 */
export function memberBits(btf: Btf, t: BtfComposite, m: BtfMember): MemberBits {
  if (t.kindFlag) return m;
  const mt = btf.type(m.type);
  if (mt.kind === 'int' && (mt.offset !== 0 || mt.bits !== mt.size * 8)) {
    return { bitOffset: m.bitOffset + mt.offset, bitfieldSize: mt.bits };
  }
  return { bitOffset: m.bitOffset, bitfieldSize: 0 };
}

/** Alignment and packing of types, cached per id. */
export class CLayout {
  readonly btf: Btf;
  readonly ptrSize: number;
  private readonly aligns = new Map<number, number>();

  constructor(btf: Btf, ptrSize = pointerSize(btf)) {
    this.btf = btf;
    this.ptrSize = ptrSize;
  }

  /**
   * Alignment in bytes a compiler gives type `id` when declared from BTF; 1 for a struct
   * that must be packed; 0 for a type without one (void, fwd, function).
   */
  alignOf(id: number): number {
    const cached = this.aligns.get(id);
    if (cached !== undefined) return cached;
    const a = this.computeAlign(id, 0);
    this.aligns.set(id, a);
    return a;
  }

  private computeAlign(id: number, depth: number): number {
    if (depth > 64) return 0;
    const t = this.btf.type(id);
    switch (t.kind) {
      case 'int': case 'enum': case 'enum64': case 'float':
        return Math.min(this.ptrSize, t.size);
      case 'ptr':
        return this.ptrSize;
      case 'typedef': case 'volatile': case 'const': case 'restrict': case 'type_tag': case 'array':
        return this.alignOf(t.type);
      case 'struct': case 'union': {
        let max = 1;
        for (const m of t.members) {
          const a = this.alignOf(m.type);
          if (a <= 0) return 0;
          max = Math.max(max, a);
          if (memberBits(this.btf, t, m).bitfieldSize === 0 && m.bitOffset % (8 * a) !== 0) return 1;
        }
        return t.size % max !== 0 ? 1 : max;
      }
      default:
        return 0;
    }
  }

  /**
   * True when struct `t` cannot be laid out naturally: a non-bitfield member sits off its
   * alignment, or the size is not a multiple of the largest member alignment. A struct that
   * was declared packed but happens to be naturally aligned is not reported (nor needed).
   */
  isPacked(t: BtfComposite): boolean {
    if (t.kind !== 'struct') return false;
    let max = 1;
    for (const m of t.members) {
      const a = this.alignOf(m.type);
      if (a !== 0 && memberBits(this.btf, t, m).bitfieldSize === 0 && m.bitOffset % (8 * a) !== 0) return true;
      max = Math.max(max, a);
    }
    return t.size % max !== 0;
  }

  /** Size in bytes of `id`, 0 for types without one (flexible arrays, fwd, void). */
  sizeOf(id: number): number {
    try {
      return Math.max(0, this.btf.sizeof(id));
    } catch {
      return 0;
    }
  }
}

/** The integer types used for anonymous padding, widest first. */
function padTypes(ptrSize: number): ReadonlyArray<readonly [name: string, bits: number]> {
  return [['long', ptrSize * 8], ['int', 32], ['short', 16], ['char', 8]];
}

const roundUp = (x: number, to: number): number => Math.ceil(x / to) * to;

/**
 * The anonymous bitfields (`long: 64;`, `int: 0;`, …) that move a struct from bit `from`
 * to bit `to`, each as `type: bits`. `nextAlign` is the alignment (bytes) of the member at
 * `to`, so that an explicit zero-width alignment mark is emitted only when the compiler would
 * not align there by itself; `inBitfield` says both sides are bitfields, where the compiler
 * would pack the next one right after the previous.
 */
export function paddingMembers(from: number, to: number, nextAlign: number, inBitfield: boolean, ptrSize: number): string[] {
  const out: string[] = [];
  if (from >= to) return out;
  const pads = padTypes(ptrSize);
  // The widest type whose next boundary is still within the gap: filling with it lets the
  // compiler's own alignment do most of the work.
  let [padName, padBits] = pads[pads.length - 1]!;
  let boundary = roundUp(from, padBits);
  for (const [name, bits] of pads) {
    const b = roundUp(from, bits);
    if (b <= to) {
      [padName, padBits, boundary] = [name, bits, b];
      break;
    }
  }
  let at = from;
  if (boundary > from && boundary <= to) {
    const needMark = inBitfield
      || (boundary === to && roundUp(from, nextAlign * 8) !== boundary)
      || (boundary !== to && to - boundary <= boundary - from);
    if (needMark) out.push(`${padName}: ${inBitfield ? boundary - from : 0}`);
    at = boundary;
  }
  while (at < to) {
    const bits = Math.min(to - at, padBits);
    if (bits === padBits) {
      out.push(`${padName}: ${padBits}`);
      at += bits;
      continue;
    }
    // The narrowest type that holds the remainder: reads better than `long: 3`.
    const fit = [...pads].reverse().find(([, b]) => b >= bits)!;
    out.push(`${fit[0]}: ${bits}`);
    at += bits;
  }
  return out;
}
