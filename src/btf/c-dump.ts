/**
 * BTF to a C header: `formatBtfAsC(btf)` writes what `bpftool btf dump file … format c`
 * writes (the `vmlinux.h` of CO-RE programs), and `CDumper` writes chosen types with just
 * the declarations they need.
 *
 * Two passes per requested type, as libbpf's btf_dump.c does:
 * 1. order: a depth-first walk that puts every named definition after the ones it embeds.
 *    A type reached through a pointer only needs to be declared, not defined, unless it is
 *    anonymous (its definition is written inline) — the "weak" and "strong" links of
 *    btf_dump_order_type. A strong cycle cannot be written in C and is an error.
 * 2. emit: write each ordered definition, first writing `struct x;` for any named
 *    struct/union that a member reaches through a pointer while x itself is still being
 *    written (a cycle through pointers), and a typedef early when only a pointer needs it.
 */
import { BtfError, type Btf } from './btf.js';
import { CDeclWriter } from './c-decl.js';
import { CLayout } from './c-layout.js';
import type { BtfType } from './types.js';

const enum Order { None, Ordering, Ordered }
const enum Emit { None, Emitting, Emitted }

/** Options of `formatBtfAsC`. */
export interface FormatCOptions {
  /** Include guard macro; false for none. Default `__VMLINUX_H__`. */
  guard?: string | false;
  /**
   * Wrap the types in `#pragma clang attribute push (__attribute__((preserve_access_index)),
   * apply_to = record)` (skippable by defining BPF_NO_PRESERVE_ACCESS_INDEX), so that every
   * field access of a program compiled against the header is a CO-RE relocation. Default true.
   */
  preserveAccessIndex?: boolean;
  /**
   * Types to write, with what they depend on; default every type (of a split BTF: its own
   * and its base's).
   */
  types?: Iterable<number>;
  /** Pointer size in bytes; default the size of the BTF's `long`, else 8. */
  ptrSize?: number;
}

/**
 * The C header for `btf`: every type (or `options.types` and their dependencies) in an
 * order a C compiler accepts, with bpftool's guard and CO-RE pragma around it.
 *
 * @example
 * ```ts
 * const btf = parseBtf(readFileSync('/sys/kernel/btf/vmlinux'));
 * writeFileSync('vmlinux.h', formatBtfAsC(btf));
 * ```
 */
export function formatBtfAsC(btf: Btf, options: FormatCOptions = {}): string {
  const guard = options.guard ?? '__VMLINUX_H__';
  const pai = options.preserveAccessIndex ?? true;
  const dumper = new CDumper(btf, options.ptrSize === undefined ? {} : { ptrSize: options.ptrSize });
  const parts: string[] = [];
  if (guard !== false) parts.push(`#ifndef ${guard}\n#define ${guard}\n\n`);
  if (pai) {
    parts.push('#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n'
      + '#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n'
      + '#endif\n\n');
  }
  if (options.types === undefined) {
    for (let id = 1; id < btf.length; id++) dumper.dumpType(id);
  } else {
    for (const id of options.types) dumper.dumpType(id);
  }
  parts.push(dumper.take());
  if (pai) parts.push('#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n');
  if (guard !== false) parts.push(`#endif /* ${guard} */\n`);
  return parts.join('');
}

/**
 * The C declaration of a `name` of type `id` (`struct sk_buff *skb`, `int (*f)(void)`), or
 * of the type alone when `name` is omitted. Anonymous structs, unions and enums are written
 * inline.
 */
export function formatCDecl(btf: Btf, id: number, name = ''): string {
  const w = new CDeclWriter(btf);
  w.typeDecl(id, name, 0);
  return w.take();
}

/**
 * Writes C definitions of BTF types on demand, remembering what it has written: dumping a
 * type writes the types it needs first, and each only once (libbpf's btf_dump).
 */
export class CDumper extends CDeclWriter {
  private readonly order: Uint8Array;
  private readonly emit: Uint8Array;
  private readonly fwdEmitted: Uint8Array;
  /** Types some other type refers to: an anonymous enum nobody refers to is a top-level one. */
  private readonly referenced: Uint8Array;
  /** Non-record types on the current orderType path, to stop reference loops. */
  private readonly walking: Uint8Array;
  private queue: number[] = [];

  constructor(btf: Btf, options: { ptrSize?: number } = {}) {
    super(btf, options.ptrSize === undefined ? new CLayout(btf) : new CLayout(btf, options.ptrSize));
    const n = btf.length;
    this.order = new Uint8Array(n);
    this.emit = new Uint8Array(n);
    this.fwdEmitted = new Uint8Array(n);
    this.referenced = new Uint8Array(n);
    this.walking = new Uint8Array(n);
    this.order[0] = Order.Ordered;
    this.emit[0] = Emit.Emitted;
    for (let id = 1; id < n; id++) this.markReferenced(btf.type(id));
  }

  private markReferenced(t: BtfType): void {
    const r = this.referenced;
    switch (t.kind) {
      case 'ptr': case 'typedef': case 'const': case 'volatile': case 'restrict': case 'type_tag':
      case 'func': case 'var': case 'decl_tag':
        r[t.type] = 1;
        break;
      case 'array':
        r[t.type] = 1;
        r[t.indexType] = 1;
        break;
      case 'struct': case 'union':
        for (const m of t.members) r[m.type] = 1;
        break;
      case 'func_proto':
        r[t.returnType] = 1;
        for (const p of t.params) r[p.type] = 1;
        break;
      case 'datasec':
        for (const v of t.vars) r[v.type] = 1;
        break;
      default:
        break;
    }
  }

  /**
   * Writes type `id` and, before it, every type it needs that was not written yet.
   * Throws BtfError for a cycle C cannot express (a struct that embeds itself).
   */
  dumpType(id: number): void {
    if (!this.btf.has(id)) throw new BtfError(`BTF type id ${id} is out of range`);
    this.queue = [];
    this.orderType(id, false);
    for (const q of this.queue) this.emitType(q, 0);
  }

  /**
   * Queues the named definitions `id` needs, dependencies first. Returns true when `id`
   * must be complete where it is used (a "strong" link), false when a forward declaration
   * will do.
   */
  private orderType(id: number, throughPtr: boolean): boolean {
    const state = this.order[id];
    const kind = this.btf.type(id).kind;
    // Structs and unions track their own cycles (Order.Ordering) and may recur through pointers.
    if (kind === 'struct' || kind === 'union') return this.orderTypeOnce(id, throughPtr, state);
    if (this.walking[id] === 1) {
      // Met again behind a pointer (`typedef struct t_s { t *next; } t;`): a weak link, as for
      // a named struct. Without a pointer the loop is of typedefs, qualifiers or arrays only,
      // which no C declaration can express.
      if (throughPtr) return false;
      throw new BtfError(`BTF type id ${id}: reference loop through ${this.btf.type(id).kind} types`);
    }
    this.walking[id] = 1;
    try {
      return this.orderTypeOnce(id, throughPtr, state);
    } finally {
      this.walking[id] = 0;
    }
  }

  private orderTypeOnce(id: number, throughPtr: boolean, state: number | undefined): boolean {
    if (state === Order.Ordered) return true;
    const t = this.btf.type(id);
    if (state === Order.Ordering) {
      if ((t.kind === 'struct' || t.kind === 'union') && throughPtr && t.name !== '') return false;
      throw new BtfError(`BTF type id ${id} (${t.kind} '${t.name}'): unsatisfiable type cycle`);
    }
    switch (t.kind) {
      case 'int': case 'float':
        this.order[id] = Order.Ordered;
        return false;
      case 'ptr': {
        const strong = this.orderType(t.type, true);
        this.order[id] = Order.Ordered;
        return strong;
      }
      case 'array':
        return this.orderType(t.type, false);
      case 'struct': case 'union': {
        // Named and behind a pointer: a declaration suffices, the definition comes whenever.
        if (throughPtr && t.name !== '') return false;
        this.order[id] = Order.Ordering;
        for (const m of t.members) this.orderType(m.type, false);
        if (t.name !== '') this.queue.push(id);
        this.order[id] = Order.Ordered;
        return true;
      }
      case 'enum': case 'enum64': case 'fwd':
        if (t.name !== '' || !this.referenced[id]) this.queue.push(id);
        this.order[id] = Order.Ordered;
        return true;
      case 'typedef': {
        const strong = this.orderType(t.type, throughPtr);
        if (throughPtr && !strong) return false;
        this.queue.push(id);
        this.order[id] = Order.Ordered;
        return true;
      }
      case 'const': case 'volatile': case 'restrict': case 'type_tag':
        return this.orderType(t.type, throughPtr);
      case 'func_proto': {
        let strong = this.orderType(t.returnType, throughPtr);
        for (const p of t.params) if (this.orderType(p.type, throughPtr)) strong = true;
        return strong;
      }
      default:
        // func, var, datasec, decl_tag: nothing of C type syntax to write.
        this.order[id] = Order.Ordered;
        return false;
    }
  }

  /**
   * Writes `id` if it is a definition to write at top level (`cont` = 0), or makes sure the
   * declarations a use of `id` inside the definition of `cont` needs are written.
   */
  private emitType(id: number, cont: number): void {
    const state = this.emit[id];
    if (state === Emit.Emitted) return;
    const t = this.btf.type(id);
    if (state === Emit.Emitting) {
      // A cycle: `id` is being defined further up. A pointer to it needs a declaration.
      if (this.fwdEmitted[id]) return;
      if (t.kind === 'struct' || t.kind === 'union') {
        if (id === cont || t.name === '') return;
        this.fwdDecl(id, t);
        this.write(';\n\n');
        this.fwdEmitted[id] = 1;
      } else if (t.kind === 'typedef') {
        // The typedef itself serves as the declaration (usable behind pointers only).
        if (!isBlacklisted(t)) {
          this.typedefDef(id, t, 0);
          this.write(';\n\n');
        }
        this.fwdEmitted[id] = 1;
      }
      return;
    }
    switch (t.kind) {
      case 'int':
        this.missingAlias(t.name);
        this.emit[id] = Emit.Emitted;
        break;
      case 'enum': case 'enum64':
        if (cont === 0) {
          this.enumDef(id, t, 0);
          this.write(';\n\n');
        }
        this.emit[id] = Emit.Emitted;
        break;
      case 'ptr': case 'const': case 'volatile': case 'restrict': case 'type_tag': case 'array':
        this.emitType(t.type, cont);
        break;
      case 'fwd':
        this.fwdDecl(id, t);
        this.write(';\n\n');
        this.emit[id] = Emit.Emitted;
        break;
      case 'typedef':
        this.emit[id] = Emit.Emitting;
        this.emitType(t.type, id);
        if (!this.fwdEmitted[id] && !isBlacklisted(t)) {
          this.typedefDef(id, t, 0);
          this.write(';\n\n');
        }
        this.emit[id] = Emit.Emitted;
        break;
      case 'struct': case 'union': {
        this.emit[id] = Emit.Emitting;
        if (cont === 0 || t.name === '') {
          // Its members are written out here (top level) or inline (anonymous): what they
          // reach needs declaring first.
          const inner = t.name === '' ? cont : id;
          for (const m of t.members) this.emitType(m.type, inner);
        } else if (!this.fwdEmitted[id] && id !== cont) {
          this.fwdDecl(id, t);
          this.write(';\n\n');
          this.fwdEmitted[id] = 1;
        }
        if (cont === 0) {
          this.structDef(id, t, 0);
          this.write(';\n\n');
          this.emit[id] = Emit.Emitted;
        } else {
          this.emit[id] = Emit.None;
        }
        break;
      }
      case 'func_proto':
        this.emitType(t.returnType, cont);
        for (const p of t.params) this.emitType(p.type, cont);
        break;
      default:
        break;
    }
  }
}

/**
 * `__builtin_va_list` is the compiler's own; a typedef of it (from the compiler that built
 * the kernel) does not compile with another one.
 */
function isBlacklisted(t: BtfType): boolean {
  return t.name === '__builtin_va_list';
}
