/**
 * The BTF value codec: bytes of a map key or value, a global variable or a ring-buffer
 * record ⇄ plain JS values, by BTF type.
 *
 * | BTF type | JS value |
 * | --- | --- |
 * | int of 1, 2, 4 bytes | number |
 * | int of 8 or 16 bytes, pointer | bigint |
 * | `_Bool` | boolean |
 * | `char[N]` (element an int named `char` or with BTF_INT_CHAR) | string up to the first NUL |
 * | other arrays | arrays (of arrays, for more dimensions) |
 * | struct, union, datasec | object by member name; an anonymous member's fields sit on the containing object; a union decodes every member from the same bytes |
 * | enum | the enumerator's name, or the number when none matches (bigint for 8-byte enums) |
 * | bitfield | number up to 32 bits wide, else bigint; boolean/enum name as its type says |
 * | float, double | number |
 * | long double and other odd sizes | Uint8Array of its bytes |
 *
 * typedefs, const, volatile, restrict, type tags and vars are transparent. Decoding ignores
 * padding; encoding writes it as zero, as it does members the value leaves out. Encoding
 * checks each value against its type and throws CodecError with its path (`value.hdr.proto`).
 *
 * `codecFor` compiles a type once per Btf (cached in a WeakMap keyed by the Btf, each type
 * registered before its members are compiled); `decodeValue`/`encodeValue` use it.
 */
import { BtfError, type Btf } from './btf.js';
import { ArrayNode, RecordNode, StringNode, type Field } from './codec-aggregate.js';
import { bitRange } from './codec-bits.js';
import { CodecError } from './codec-error.js';
import {
  BitsField, BoolNode, EnumNode, EnumValues, FloatNode, IntNode, RawNode,
  type BitsMeaning, type BtfValue, type CodecNode,
} from './codec-scalar.js';
import { memberBits } from './c-layout.js';
import { BTF_INT_BOOL, BTF_INT_CHAR, BTF_INT_SIGNED, type BtfComposite, type BtfDatasec, type BtfEnumValue, type BtfType } from './types.js';

export { CodecError } from './codec-error.js';
export type { BtfValue } from './codec-scalar.js';

/** Options of the codec functions. */
export interface ValueCodecOptions {
  /** Byte order of the bytes; default the BTF's own (`btf.bigEndian`). */
  endianness?: 'little' | 'big';
}

/** A compiled codec for one type: see `codecFor`. */
export interface BtfCodec<T = BtfValue> {
  readonly btf: Btf;
  readonly typeId: number;
  /** Size in bytes of a value. */
  readonly size: number;
  readonly littleEndian: boolean;
  /**
   * Decodes a value from `bytes`, which must be exactly `size` bytes long; or, with
   * `offset`, from the `size` bytes at `offset`.
   */
  decode(bytes: Uint8Array, offset?: number): T;
  /** Encodes `value` into new zeroed bytes. */
  encode(value: unknown): Uint8Array;
  /** Encodes `value` into `target` at `offset` (default 0), zeroing the `size` bytes first. */
  encodeInto(value: unknown, target: Uint8Array, offset?: number): void;
}

const compilers = new WeakMap<Btf, { little?: Compiler; big?: Compiler }>();

/**
 * The codec of type `typeId`, compiled on first use and cached with the Btf (so repeated
 * map reads cost only the decoding). Throws BtfError for a type without a size (void,
 * function, forward declaration) or with members outside it.
 *
 * @example
 * ```ts
 * const codec = codecFor(btf, btf.findByName('event', 'struct')[0]!);
 * const event = codec.decode(record);   // { pid: 42, comm: 'bash', … }
 * ```
 */
export function codecFor<T = BtfValue>(btf: Btf, typeId: number, options: ValueCodecOptions = {}): BtfCodec<T> {
  const little = (options.endianness ?? (btf.bigEndian ? 'big' : 'little')) === 'little';
  let byOrder = compilers.get(btf);
  if (byOrder === undefined) {
    byOrder = {};
    compilers.set(btf, byOrder);
  }
  const compiler = little ? (byOrder.little ??= new Compiler(btf, true)) : (byOrder.big ??= new Compiler(btf, false));
  return compiler.codec(typeId) as unknown as BtfCodec<T>;
}

/** Decodes `bytes` (exactly the type's size) as a value of type `typeId`. */
export function decodeValue<T = BtfValue>(btf: Btf, typeId: number, bytes: Uint8Array, options?: ValueCodecOptions): T {
  return codecFor<T>(btf, typeId, options).decode(bytes);
}

/** Encodes `value` as type `typeId`: new bytes, with padding and absent members zero. */
export function encodeValue(btf: Btf, typeId: number, value: unknown, options?: ValueCodecOptions): Uint8Array {
  return codecFor(btf, typeId, options).encode(value);
}

class Codec implements BtfCodec {
  readonly size: number;
  constructor(readonly btf: Btf, readonly typeId: number, readonly littleEndian: boolean, private readonly node: CodecNode) {
    this.size = node.size;
  }

  decode(bytes: Uint8Array, offset?: number): BtfValue {
    const off = offset ?? 0;
    if (offset === undefined ? bytes.length !== this.size : off < 0 || off + this.size > bytes.length) {
      const where = offset === undefined ? '' : ` at offset ${off}`;
      throw new CodecError(`${this.node.label} takes ${this.size} bytes, got ${bytes.length}${where}`);
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return this.node.read(view, bytes, off);
  }

  encode(value: unknown): Uint8Array {
    const bytes = new Uint8Array(this.size);
    this.node.write(new DataView(bytes.buffer), bytes, 0, value);
    return bytes;
  }

  encodeInto(value: unknown, target: Uint8Array, offset = 0): void {
    if (offset < 0 || offset + this.size > target.length) {
      throw new CodecError(`${this.node.label} takes ${this.size} bytes, ${target.length - offset} left at offset ${offset}`);
    }
    target.fill(0, offset, offset + this.size);
    this.node.write(new DataView(target.buffer, target.byteOffset, target.byteLength), target, offset, value);
  }
}

/** Compiles types of one Btf in one byte order; nodes are shared by all its codecs. */
class Compiler {
  private readonly nodes = new Map<number, CodecNode>();
  private readonly codecs = new Map<number, Codec>();

  constructor(readonly btf: Btf, readonly littleEndian: boolean) {}

  codec(id: number): Codec {
    let c = this.codecs.get(id);
    if (c === undefined) {
      c = new Codec(this.btf, id, this.littleEndian, this.node(id));
      this.codecs.set(id, c);
    }
    return c;
  }

  private node(id: number): CodecNode {
    const known = this.nodes.get(id);
    if (known !== undefined) return known;
    const t = this.btf.type(id);
    let node: CodecNode;
    switch (t.kind) {
      case 'typedef': case 'const': case 'volatile': case 'restrict': case 'type_tag':
        node = this.node(this.btf.resolve(id));
        break;
      case 'var':
        node = this.node(t.type);
        break;
      case 'int':
        node = this.intNode(t.name, t.size, t.encoding, t.offset, t.bits);
        break;
      case 'ptr':
        node = new IntNode('pointer', 8, false, this.littleEndian);
        break;
      case 'float':
        node = t.size === 4 || t.size === 8 ? new FloatNode(t.name, t.size, this.littleEndian) : new RawNode(t.name, t.size);
        break;
      case 'enum': case 'enum64':
        node = this.enumNode(t.name, t.size, t.values, t.signed);
        break;
      case 'array':
        node = this.arrayNode(t.type, t.nelems);
        break;
      case 'struct': case 'union': case 'datasec': {
        // Registered before its members are compiled.
        const record = new RecordNode(labelOf(t), t.size, t.kind === 'union');
        this.nodes.set(id, record);
        try {
          record.setFields(t.kind === 'datasec' ? this.datasecFields(t) : this.memberFields(t, id));
        } catch (err) {
          this.nodes.delete(id); // not left behind half-built
          throw err;
        }
        return record;
      }
      default:
        throw new BtfError(`BTF type id ${id} (${t.kind}${t.name ? ` '${t.name}'` : ''}) has no size: it has no value to encode or decode`);
    }
    this.nodes.set(id, node);
    return node;
  }

  private intNode(name: string, size: number, encoding: number, offset: number, bits: number): CodecNode {
    const signed = (encoding & BTF_INT_SIGNED) !== 0;
    if (offset !== 0 || bits !== size * 8) {
      // An int narrower than its storage: its value is those bits.
      const field = new BitsField(name, bitRange(offset, bits, this.littleEndian), intMeaning(encoding));
      return {
        size, label: name,
        read: (_v, bytes, off) => field.read(bytes, off),
        write: (_v, bytes, off, value) => field.write(bytes, off, value),
      };
    }
    if ((encoding & BTF_INT_BOOL) !== 0) return new BoolNode(name, size, this.littleEndian);
    if (size === 1 || size === 2 || size === 4 || size === 8 || size === 16) return new IntNode(name, size, signed, this.littleEndian);
    return new RawNode(name, size);
  }

  private enumNode(name: string, size: number, values: readonly BtfEnumValue[], signed: boolean): CodecNode {
    const label = name === '' ? 'enum (anon)' : `enum ${name}`;
    if (size !== 1 && size !== 2 && size !== 4 && size !== 8) return new RawNode(label, size);
    return new EnumNode(label, size, new EnumValues(label, values, size * 8, signed, size === 8), this.littleEndian);
  }

  private arrayNode(elemId: number, nelems: number): CodecNode {
    const elem = this.btf.type(this.btf.resolve(elemId));
    if (elem.kind === 'int' && elem.size === 1 && ((elem.encoding & BTF_INT_CHAR) !== 0 || elem.name === 'char')) {
      return new StringNode(`char[${nelems}]`, nelems);
    }
    const node = this.node(elemId);
    return new ArrayNode(`${node.label}[${nelems}]`, node, nelems);
  }

  private memberFields(t: BtfComposite, id: number): Field[] {
    const fields: Field[] = [];
    const where = (name: string): string => `${labelOf(t)} (BTF type id ${id}) member '${name}'`;
    for (const m of t.members) {
      const { bitOffset, bitfieldSize } = memberBits(this.btf, t, m);
      if (bitfieldSize > 0) {
        if (bitOffset + bitfieldSize > t.size * 8) throw new BtfError(`${where(m.name)} lies outside its ${t.size} bytes`);
        if (m.name === '') continue; // an unnamed bitfield is padding
        const range = bitRange(bitOffset, bitfieldSize, this.littleEndian);
        fields.push({ kind: 'bits', name: m.name, field: new BitsField(m.name, range, this.bitsMeaning(m.type, where(m.name))) });
        continue;
      }
      if (bitOffset % 8 !== 0) throw new BtfError(`${where(m.name)} is not byte-aligned (bit offset ${bitOffset})`);
      const node = this.node(m.type);
      const offset = bitOffset / 8;
      if (offset + node.size > t.size) throw new BtfError(`${where(m.name)} lies outside its ${t.size} bytes`);
      if (m.name !== '') fields.push({ kind: 'value', name: m.name, offset, node });
      else if (node instanceof RecordNode) fields.push({ kind: 'inline', offset, node });
    }
    return fields;
  }

  private datasecFields(t: BtfDatasec): Field[] {
    const fields: Field[] = [];
    for (const v of t.vars) {
      const vt = this.btf.type(v.type);
      if (vt.kind !== 'var') continue; // .ksyms lists functions too
      const node = this.node(v.type);
      if (v.offset + node.size > t.size) throw new BtfError(`datasec '${t.name}' variable '${vt.name}' lies outside its ${t.size} bytes`);
      fields.push({ kind: 'value', name: vt.name, offset: v.offset, node });
    }
    return fields;
  }

  private bitsMeaning(typeId: number, where: string): BitsMeaning {
    const t = this.btf.type(this.btf.resolve(typeId));
    if (t.kind === 'int') return intMeaning(t.encoding);
    if (t.kind === 'enum' || t.kind === 'enum64') {
      const label = t.name === '' ? 'enum (anon)' : `enum ${t.name}`;
      return { kind: 'enum', values: new EnumValues(label, t.values, t.size * 8, t.signed, t.size === 8) };
    }
    throw new BtfError(`${where}: a bitfield of ${t.kind} is not an integer`);
  }
}

function intMeaning(encoding: number): BitsMeaning {
  return (encoding & BTF_INT_BOOL) !== 0 ? { kind: 'bool' } : { kind: 'int', signed: (encoding & BTF_INT_SIGNED) !== 0 };
}

function labelOf(t: BtfType): string {
  if (t.kind === 'datasec') return `datasec ${t.name}`;
  return t.name === '' ? `${t.kind} (anon)` : `${t.kind} ${t.name}`;
}
