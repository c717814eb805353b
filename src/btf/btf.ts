/**
 * `Btf`: a parsed set of BTF types with lookups. Plain data plus indexes built on demand;
 * parsing lives in parse.ts, encoding in serialize.ts. A split BTF (kernel module BTF)
 * has a `base` whose ids it continues: `types[0]` of a split BTF has id `base.length`.
 */
import { EbpfError } from '../errors.js';
import type { BtfStrings } from './strings.js';
import type { BtfType } from './types.js';

/** An id that names no type, a loop in the type graph, or a type without a size. */
export class BtfError extends EbpfError {
  override name = 'BtfError';
}

const VOID: BtfType = { kind: 'void', name: '' };

/** Maximum chain of typedefs/qualifiers followed before declaring a loop (libbpf: MAX_RESOLVE_DEPTH). */
export const MAX_RESOLVE_DEPTH = 32;

export interface BtfOptions {
  /** Base BTF of a split BTF. */
  base?: Btf;
  /** Byte order the BTF was read in (and is written in by default). */
  bigEndian?: boolean;
  /**
   * The string section the BTF was read from (set by parseBtf). `.BTF.ext` names its
   * strings by offsets into it, and serializeBtf reuses it so offsets stay the same.
   */
  strings?: BtfStrings;
}

export class Btf {
  /** This BTF's own types, in id order: id `firstId + i` is `own[i]`. For a base BTF own[0] is void. */
  readonly own: readonly BtfType[];
  readonly base: Btf | undefined;
  readonly bigEndian: boolean;
  /** The string section this BTF was parsed from, when it was parsed (see BtfOptions.strings). */
  readonly strings: BtfStrings | undefined;
  /** Id of `own[0]`: 0 for a base BTF (own[0] is void), `base.length` for a split BTF. */
  readonly firstId: number;
  private byName: Map<string, number[]> | undefined;

  /**
   * @param own this BTF's types; for a base BTF the first must be void (id 0) —
   *   it is added when missing.
   */
  constructor(own: readonly BtfType[], options: BtfOptions = {}) {
    this.base = options.base;
    this.bigEndian = options.bigEndian ?? options.base?.bigEndian ?? false;
    this.strings = options.strings;
    if (this.base === undefined) {
      this.own = own[0]?.kind === 'void' ? own : [VOID, ...own];
      this.firstId = 0;
    } else {
      this.own = own;
      this.firstId = this.base.length;
    }
  }

  /** One past the largest id (base included). */
  get length(): number {
    return this.firstId + this.own.length;
  }

  /** The type with `id`; throws BtfError for an id out of range. */
  type(id: number): BtfType {
    if (id < this.firstId) {
      if (this.base !== undefined) return this.base.type(id);
      throw new BtfError(`BTF type id ${id} is out of range`);
    }
    const t = this.own[id - this.firstId];
    if (t === undefined) throw new BtfError(`BTF type id ${id} is out of range (${this.length} types)`);
    return t;
  }

  /** True when `id` names a type of this BTF or its base. */
  has(id: number): boolean {
    return Number.isInteger(id) && id >= 0 && id < this.length;
  }

  /** Ids of all types named `name` (base first), optionally of one kind. */
  findByName(name: string, kind?: BtfType['kind']): number[] {
    const fromBase = this.base?.findByName(name, kind) ?? [];
    if (this.byName === undefined) {
      this.byName = new Map();
      this.own.forEach((t, i) => {
        if (t.name === '') return;
        const list = this.byName!.get(t.name);
        if (list === undefined) this.byName!.set(t.name, [this.firstId + i]);
        else list.push(this.firstId + i);
      });
    }
    const ownIds = this.byName.get(name) ?? [];
    const all = fromBase.length ? [...fromBase, ...ownIds] : ownIds;
    return kind === undefined ? all : all.filter((id) => this.type(id).kind === kind);
  }

  /** Skips const/volatile/restrict/type_tag (not typedefs); returns the id reached. */
  skipModifiers(id: number): number {
    for (let depth = 0; depth < MAX_RESOLVE_DEPTH; depth++) {
      const t = this.type(id);
      if (t.kind !== 'const' && t.kind !== 'volatile' && t.kind !== 'restrict' && t.kind !== 'type_tag') return id;
      id = t.type;
    }
    throw new BtfError(`BTF type id ${id}: qualifier chain too long or looping`);
  }

  /** Skips typedefs and modifiers; returns the id of the underlying type. */
  resolve(id: number): number {
    for (let depth = 0; depth < MAX_RESOLVE_DEPTH; depth++) {
      const t = this.type(id);
      if (t.kind !== 'typedef' && t.kind !== 'const' && t.kind !== 'volatile' && t.kind !== 'restrict' && t.kind !== 'type_tag') return id;
      id = t.type;
    }
    throw new BtfError(`BTF type id ${id}: typedef chain too long or looping`);
  }

  /** Size in bytes of a value of type `id` (libbpf: btf__resolve_size). */
  sizeof(id: number): number {
    let elems = 1;
    for (let depth = 0; depth < MAX_RESOLVE_DEPTH; depth++) {
      const t = this.type(id);
      switch (t.kind) {
        case 'int': case 'struct': case 'union': case 'enum': case 'enum64': case 'datasec': case 'float':
          return elems * t.size;
        case 'ptr':
          return elems * 8;
        case 'typedef': case 'volatile': case 'const': case 'restrict': case 'type_tag': case 'var':
          id = t.type;
          break;
        case 'array':
          elems *= t.nelems;
          id = t.type;
          break;
        default:
          throw new BtfError(`BTF type id ${id} (${t.kind}) has no size`);
      }
    }
    throw new BtfError(`BTF type id ${id}: type chain too long or looping`);
  }
}
