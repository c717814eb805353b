/**
 * Codec nodes of aggregate BTF types: char arrays (strings), arrays, and structs, unions and
 * datasecs (objects keyed by member name). Members of an anonymous struct or union appear
 * on the containing object, as C lets a program name them.
 */
import { CodecError, rethrowWithin } from './codec-error.js';
import type { BitsField, BtfValue, CodecNode } from './codec-scalar.js';

const utf8 = new TextDecoder('utf-8');
const utf8Encoder = new TextEncoder();

/** `char[N]`: a string up to the first NUL (UTF-8); encodes a string or raw bytes. */
export class StringNode implements CodecNode {
  /** `union`: members share bytes, and members given together must agree (see writeFrom). */
  constructor(readonly label: string, readonly size: number, readonly union = false) {}

  read(_view: DataView, bytes: Uint8Array, off: number): string {
    let end = off;
    const limit = off + this.size;
    while (end < limit && bytes[end] !== 0) end++;
    return utf8.decode(bytes.subarray(off, end));
  }

  write(_view: DataView, bytes: Uint8Array, off: number, value: unknown): void {
    let data: Uint8Array;
    if (typeof value === 'string') data = utf8Encoder.encode(value);
    else if (value instanceof Uint8Array) data = value;
    else throw new CodecError(`expected a string for ${this.label}, got ${value === null ? 'null' : typeof value}`);
    // Like C, a string that fills the array exactly goes without its NUL.
    if (data.length > this.size) throw new CodecError(`${data.length} bytes do not fit in ${this.label}`);
    bytes.set(data, off);
  }
}

/** `T[N]` as a JS array of N elements; encoding takes up to N (the rest stay zero). */
export class ArrayNode implements CodecNode {
  readonly size: number;
  constructor(readonly label: string, readonly elem: CodecNode, readonly length: number) {
    this.size = elem.size * length;
  }

  read(view: DataView, bytes: Uint8Array, off: number): BtfValue[] {
    const out = new Array<BtfValue>(this.length);
    const step = this.elem.size;
    for (let i = 0; i < this.length; i++) out[i] = this.elem.read(view, bytes, off + i * step);
    return out;
  }

  write(view: DataView, bytes: Uint8Array, off: number, value: unknown): void {
    if (!isArrayLike(value)) throw new CodecError(`expected an array for ${this.label}`);
    if (value.length > this.length) throw new CodecError(`${value.length} elements do not fit in ${this.label}`);
    const step = this.elem.size;
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      if (v === undefined || v === null) continue;
      try {
        this.elem.write(view, bytes, off + i * step, v);
      } catch (err) {
        rethrowWithin(err, `[${i}]`);
      }
    }
  }
}

function isArrayLike(value: unknown): value is ArrayLike<unknown> {
  return Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView));
}

/** One member of a struct, union or datasec. */
export type Field =
  | { readonly kind: 'value'; readonly name: string; readonly offset: number; readonly node: CodecNode }
  | { readonly kind: 'bits'; readonly name: string; readonly field: BitsField }
  /** An anonymous struct or union whose members belong to the containing object. */
  | { readonly kind: 'inline'; readonly offset: number; readonly node: RecordNode };

/**
 * A struct, union or datasec as an object. Built empty and filled afterwards (`setFields`),
 * so that it can be registered before its members are compiled.
 */
export class RecordNode implements CodecNode {
  private fields: readonly Field[] = [];
  private names: ReadonlySet<string> | undefined;

  /** `union`: members share bytes, and members given together must agree (see writeFrom). */
  constructor(readonly label: string, readonly size: number, readonly union = false) {}

  setFields(fields: readonly Field[]): void {
    this.fields = fields;
    this.names = undefined;
  }

  /** Every name this record accepts, those of inline members included. */
  memberNames(): ReadonlySet<string> {
    if (this.names === undefined) {
      const names = new Set<string>();
      for (const f of this.fields) {
        if (f.kind === 'inline') for (const n of f.node.memberNames()) names.add(n);
        else names.add(f.name);
      }
      this.names = names;
    }
    return this.names;
  }

  read(view: DataView, bytes: Uint8Array, off: number): { [name: string]: BtfValue } {
    const out: { [name: string]: BtfValue } = {};
    this.readInto(view, bytes, off, out);
    return out;
  }

  /** Decodes every member (of a union: each from the same bytes) into `out`. */
  readInto(view: DataView, bytes: Uint8Array, off: number, out: { [name: string]: BtfValue }): void {
    for (const f of this.fields) {
      if (f.kind === 'value') out[f.name] = f.node.read(view, bytes, off + f.offset);
      else if (f.kind === 'bits') out[f.name] = f.field.read(bytes, off);
      else f.node.readInto(view, bytes, off + f.offset, out);
    }
  }

  write(view: DataView, bytes: Uint8Array, off: number, value: unknown): void {
    if (typeof value !== 'object' || value === null || isArrayLike(value)) {
      throw new CodecError(`expected an object for ${this.label}`);
    }
    const names = this.memberNames();
    for (const key of Object.keys(value)) {
      if (!names.has(key)) throw new CodecError(`${this.label} has no member '${key}'`).within(`.${key}`);
    }
    this.writeFrom(view, bytes, off, value as Record<string, unknown>);
  }

  /**
   * Encodes the members present in `value` (absent ones stay zero). In a union, several
   * members may be given only if they agree on the bytes they share — as a decoded union
   * does — so that changing one member of a decoded value and writing it back is an error
   * naming both members, not a silent overwrite by whichever comes last.
   */
  writeFrom(view: DataView, bytes: Uint8Array, off: number, value: Record<string, unknown>): void {
    const written = this.union ? new Uint8Array(this.size) : undefined;
    let first = '';
    for (const f of this.fields) {
      let start: number, end: number, name: string;
      if (f.kind === 'inline') { start = f.offset; end = f.offset + f.node.size; name = '(anonymous)'; }
      else if (f.kind === 'value') { start = f.offset; end = f.offset + f.node.size; name = f.name; }
      else { start = f.field.range.start; end = start + f.field.range.span; name = f.name; }
      const present = f.kind === 'inline'
        ? [...f.node.memberNames()].some((n) => value[n] !== undefined && value[n] !== null)
        : value[f.name] !== undefined && value[f.name] !== null;
      if (!present) continue;
      const before = written === undefined ? undefined : bytes.slice(off, off + this.size);
      if (f.kind === 'inline') {
        f.node.writeFrom(view, bytes, off + f.offset, value);
      } else {
        try {
          if (f.kind === 'value') f.node.write(view, bytes, off + f.offset, value[f.name]);
          else f.field.write(bytes, off, value[f.name]);
        } catch (err) {
          rethrowWithin(err, `.${f.name}`);
        }
      }
      if (written === undefined || before === undefined) continue;
      for (let i = 0; i < this.size; i++) {
        if (written[i] === 1 && bytes[off + i] !== before[i]) {
          throw new CodecError(`members '${first}' and '${name}' of ${this.label} give different bytes: set only one of them`);
        }
      }
      if (first === '') first = name;
      written.fill(1, start, end);
    }
  }
}
