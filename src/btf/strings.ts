/**
 * BTF string sections: `BtfStrings` reads one (NUL-terminated strings addressed by byte
 * offset), `StringTableBuilder` writes one. In split BTF (module BTF on vmlinux) the split
 * BTF's offsets continue the base's: offset `base.end` is the first byte of the split's own
 * section, and offsets below it name base strings.
 */
import { BtfError } from './btf.js';

const utf8 = new TextDecoder('utf-8');
const encoder = new TextEncoder();
const NUL = new Uint8Array(1);

/** A read-only BTF string section, possibly continuing a base BTF's. */
export class BtfStrings {
  /** This section's own bytes. */
  readonly bytes: Uint8Array;
  readonly base: BtfStrings | undefined;
  /** Offset of `bytes[0]`: 0, or the end of the base's strings for split BTF. */
  readonly firstOffset: number;
  /** The whole section as a string when it is all ASCII (byte offset = char offset), else null. */
  private text: string | null | undefined;
  private cache: Map<number, string> | undefined;

  constructor(bytes: Uint8Array, base?: BtfStrings) {
    this.bytes = bytes;
    this.base = base;
    this.firstOffset = base?.end ?? 0;
  }

  /** One past the last valid offset (base included). */
  get end(): number {
    return this.firstOffset + this.bytes.length;
  }

  /** True when `offset` is inside this section or its base's. */
  has(offset: number): boolean {
    return offset >= 0 && offset < this.end;
  }

  /**
   * The string starting at `offset`, or undefined when the offset is outside the section
   * (or, in a section not ending in NUL, names an unterminated string).
   */
  lookup(offset: number): string | undefined {
    if (offset < this.firstOffset) return this.base?.lookup(offset);
    const at = offset - this.firstOffset;
    if (at >= this.bytes.length) return undefined;
    if (this.text === undefined) this.text = isAscii(this.bytes) ? utf8.decode(this.bytes) : null;
    // ASCII (every BTF the kernel and clang write): a slice of the decoded section.
    if (this.text !== null) {
      const end = this.text.indexOf('\0', at);
      return end < 0 ? undefined : this.text.slice(at, end);
    }
    const cache = (this.cache ??= new Map());
    const cached = cache.get(at);
    if (cached !== undefined) return cached;
    const end = this.bytes.indexOf(0, at);
    if (end < 0) return undefined;
    const s = utf8.decode(this.bytes.subarray(at, end));
    cache.set(at, s);
    return s;
  }

  /** The string at `offset`; throws BtfError when there is none. */
  get(offset: number): string {
    const s = this.lookup(offset);
    if (s === undefined) throw new BtfError(`string offset ${offset} is outside the BTF string section (${this.end} bytes)`);
    return s;
  }

  /** Each string of this section's own bytes with its offset, in order (duplicates included). */
  *entries(): IterableIterator<[offset: number, value: string]> {
    let at = 0;
    while (at < this.bytes.length) {
      let end = this.bytes.indexOf(0, at);
      if (end < 0) end = this.bytes.length;
      yield [this.firstOffset + at, this.lookup(this.firstOffset + at) ?? utf8.decode(this.bytes.subarray(at, end))];
      at = end + 1;
    }
  }
}

function isAscii(bytes: Uint8Array): boolean {
  // Four bytes at a time over the 4-byte-aligned middle (vmlinux has 3 MB of strings).
  let i = 0;
  while (i < bytes.length && (bytes.byteOffset + i) % 4 !== 0) if (bytes[i++]! >= 0x80) return false;
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset + i, (bytes.length - i) >>> 2);
  for (let k = 0; k < words.length; k++) if ((words[k]! & 0x80808080) !== 0) return false;
  for (i += words.length * 4; i < bytes.length; i++) if (bytes[i]! >= 0x80) return false;
  return true;
}

/** Options of `StringTableBuilder`. */
export interface StringTableBuilderOptions {
  /** The base BTF's strings, for a split BTF: its strings are reused, new ones go after them. */
  base?: BtfStrings;
  /**
   * An existing section to start from (kept byte for byte, so the offsets of its strings do
   * not change). Its `firstOffset` must match the table being built.
   */
  seed?: BtfStrings;
}

/**
 * Builds a deduplicated BTF string section. `add` returns a string's offset, adding it when
 * new; `bytes()` is the section. A base BTF's section starts with the empty string at
 * offset 0; a split BTF's own section starts empty and its offsets start at `base.end`
 * (libbpf: btf__add_str looks in the base first).
 */
export class StringTableBuilder {
  readonly base: BtfStrings | undefined;
  /** Offset of the first byte of this table (see `BtfStrings.firstOffset`). */
  readonly firstOffset: number;
  private readonly offsets = new Map<string, number>();
  private baseOffsets: Map<string, number> | undefined;
  private buf = new Uint8Array(256);
  private size = 0;

  constructor(options: StringTableBuilderOptions = {}) {
    this.base = options.base;
    this.firstOffset = options.base?.end ?? 0;
    const seed = options.seed;
    if (seed !== undefined && seed.firstOffset === this.firstOffset && seed.bytes.length > 0) {
      this.push(seed.bytes);
      for (const [offset, value] of seed.entries()) if (!this.offsets.has(value)) this.offsets.set(value, offset);
      // A seed that does not end in NUL: terminate its last string so appended ones stay separate.
      if (seed.bytes[seed.bytes.length - 1] !== 0) this.push(NUL);
    }
    if (this.base === undefined && !this.offsets.has('')) this.add('');
  }

  /** Size in bytes of this table's own section. */
  get length(): number {
    return this.size;
  }

  /** The offset of `s` when present (base first), else undefined. */
  find(s: string): number | undefined {
    if (s === '') return this.base !== undefined ? 0 : this.offsets.get('');
    if (this.base !== undefined) {
      this.baseOffsets ??= indexStrings(this.base);
      const inBase = this.baseOffsets.get(s);
      if (inBase !== undefined) return inBase;
    }
    return this.offsets.get(s);
  }

  /** The offset of `s`, appending it when it is not there yet. */
  add(s: string): number {
    const found = this.find(s);
    if (found !== undefined) return found;
    const offset = this.firstOffset + this.size;
    const encoded = encoder.encode(s);
    if (encoded.includes(0)) throw new BtfError(`BTF string ${JSON.stringify(s)} contains a NUL byte`);
    this.push(encoded);
    this.push(NUL);
    this.offsets.set(s, offset);
    return offset;
  }

  /** A copy of the section's bytes. */
  bytes(): Uint8Array {
    return this.buf.slice(0, this.size);
  }

  private push(bytes: Uint8Array): void {
    if (this.size + bytes.length > this.buf.length) {
      const grown = new Uint8Array(Math.max(this.buf.length * 2, this.size + bytes.length));
      grown.set(this.buf.subarray(0, this.size));
      this.buf = grown;
    }
    this.buf.set(bytes, this.size);
    this.size += bytes.length;
  }
}

/** Every string of `strings` and its base, first offset wins. */
function indexStrings(strings: BtfStrings): Map<string, number> {
  const map = strings.base !== undefined ? new Map(indexStrings(strings.base)) : new Map<string, number>();
  for (const [offset, value] of strings.entries()) if (!map.has(value)) map.set(value, offset);
  return map;
}
