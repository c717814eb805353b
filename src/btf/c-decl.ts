/**
 * C syntax for BTF types: declarators (`int (*handlers[4])(void *)`), struct, union and
 * enum definitions with their padding and attributes, typedefs. What to write when is
 * decided by c-dump.ts; this file only knows how.
 *
 * The declarator algorithm (libbpf: btf_dump.c btf_dump_emit_type_decl): follow the chain of
 * pointers, qualifiers, arrays and function prototypes from the declared type down to a
 * "terminal" (int, struct, enum, typedef, …) on a stack, then print from the terminal back
 * up. Qualifiers right above the terminal go before it (`const char`), the rest after the
 * `*` they qualify (`char * const`); an array or function below a pointer needs parentheses.
 */
import type { Btf } from './btf.js';
import { CLayout, memberBits, paddingMembers } from './c-layout.js';
import { NameSpace } from './c-names.js';
import type { BtfComposite, BtfEnum, BtfRef, BtfType } from './types.js';

const MAX_INDENT = 13;
const TABS = '\t'.repeat(MAX_INDENT);

/** `lvl` tabs (at most 13, as libbpf). */
export function indent(lvl: number): string {
  return TABS.slice(0, Math.min(lvl, MAX_INDENT));
}

/** Longest pointer/qualifier/array chain followed before giving up on a malformed BTF. */
const MAX_CHAIN = 1024;

/**
 * GCC's typedefs to its internal ARM SIMD types, which no other compiler knows: when the
 * int is reached, a typedef to a standard type is written first (libbpf: missing_base_types).
 */
const MISSING_BASE_TYPES: ReadonlyMap<string, string> = new Map([
  ['__Poly8_t', 'unsigned char'],
  ['__Poly16_t', 'unsigned short'],
  ['__Poly64_t', 'unsigned long long'],
  ['__Poly128_t', 'unsigned __int128'],
]);

/** Writes C text for types of one BTF, keeping the unique names it has handed out. */
export class CDeclWriter {
  readonly btf: Btf;
  readonly layout: CLayout;
  /** struct/union/enum tags. */
  protected readonly tags = new NameSpace();
  /** typedef names and enumerators. */
  protected readonly idents = new NameSpace();
  private readonly names: (string | undefined)[] = [];
  protected out: string[] = [];

  constructor(btf: Btf, layout = new CLayout(btf)) {
    this.btf = btf;
    this.layout = layout;
  }

  /** The text written so far; clears it. */
  take(): string {
    const s = this.out.join('');
    this.out = [];
    return s;
  }

  protected write(s: string): void {
    this.out.push(s);
  }

  /** C name of a struct, union, enum or fwd, made unique in the tag namespace on first use. */
  tagName(id: number): string {
    return this.resolveName(id, this.tags);
  }

  /** C name of a typedef, made unique among identifiers on first use. */
  identName(id: number): string {
    return this.resolveName(id, this.idents);
  }

  private resolveName(id: number, space: NameSpace): string {
    const t = this.btf.type(id);
    if (t.name === '') return '';
    const known = this.names[id];
    if (known !== undefined) return known;
    // A forward declaration or an enum without values may name the same type as a full
    // definition elsewhere (libbpf stopped counting them in 1.2): they keep their name.
    const name = t.kind === 'fwd' || ((t.kind === 'enum' || t.kind === 'enum64') && t.values.length === 0)
      ? t.name
      : space.unique(t.name);
    this.names[id] = name;
    return name;
  }

  /** Writes a declaration of `name` with type `id` (`name` may be empty: an abstract declarator). */
  typeDecl(id: number, name: string, lvl: number): void {
    const stack: number[] = [];
    for (let n = 0; n < MAX_CHAIN; n++) {
      stack.push(id);
      if (id === 0) break;
      const t = this.btf.type(id);
      if (t.kind === 'ptr' || t.kind === 'const' || t.kind === 'volatile' || t.kind === 'restrict' || t.kind === 'type_tag' || t.kind === 'array') {
        id = t.type;
      } else if (t.kind === 'func_proto') {
        id = t.returnType;
      } else {
        break;
      }
    }
    this.chain(stack, name, lvl);
  }

  /** Qualifiers that sit right above the terminal type are written before it. */
  private leadingQualifiers(stack: number[]): void {
    while (stack.length > 0) {
      const t = this.btf.type(stack[stack.length - 1]!);
      if (t.kind !== 'const' && t.kind !== 'volatile' && t.kind !== 'restrict') return;
      this.write(`${t.kind} `);
      stack.pop();
    }
  }

  /**
   * Qualifiers of an array or a function are meaningless in C (GCC adds them for arrays of
   * const elements and for noreturn function pointers); they are dropped.
   */
  private dropQualifiers(stack: number[]): void {
    while (stack.length > 0) {
      const k = this.btf.type(stack[stack.length - 1]!).kind;
      if (k !== 'const' && k !== 'volatile' && k !== 'restrict' && k !== 'type_tag') return;
      stack.pop();
    }
  }

  private writeName(name: string, lastWasPtr: boolean): void {
    if (name !== '') this.write(lastWasPtr ? name : ` ${name}`);
  }

  private chain(stack: number[], name: string, lvl: number): void {
    // `int ***p`, not `int * * * p`: a `*` after a `*` (or first of all, for the `(*f)` of a
    // function pointer) takes no space before it.
    let lastWasPtr = true;
    while (stack.length > 0) {
      const id = stack.pop()!;
      if (id === 0) {
        this.leadingQualifiers(stack);
        this.write('void');
        lastWasPtr = false;
        continue;
      }
      const t = this.btf.type(id);
      switch (t.kind) {
        case 'int': case 'float':
          this.leadingQualifiers(stack);
          this.write(t.name);
          break;
        case 'struct': case 'union':
          this.leadingQualifiers(stack);
          if (t.name === '') this.structDef(id, t, lvl);
          else this.write(`${t.kind} ${this.tagName(id)}`);
          break;
        case 'enum': case 'enum64':
          this.leadingQualifiers(stack);
          if (t.name === '') this.enumDef(id, t, lvl);
          else this.write(`enum ${this.tagName(id)}`);
          break;
        case 'fwd':
          this.leadingQualifiers(stack);
          this.write(`${t.union ? 'union' : 'struct'} ${this.tagName(id)}`);
          break;
        case 'typedef':
          this.leadingQualifiers(stack);
          this.write(this.identName(id));
          break;
        case 'ptr':
          this.write(lastWasPtr ? '*' : ' *');
          break;
        case 'const': case 'volatile': case 'restrict':
          this.write(` ${t.kind}`);
          break;
        case 'type_tag':
          this.leadingQualifiers(stack);
          // With the kind flag the tag is a plain attribute (kernel 6.14+: address_space(1)).
          this.write(t.attribute === true ? ` __attribute__((${t.name}))` : ` __attribute__((btf_type_tag("${t.name}")))`);
          break;
        case 'array': {
          this.dropQualifiers(stack);
          if (stack.length === 0) {
            this.writeName(name, lastWasPtr);
            this.write(`[${t.nelems}]`);
            return;
          }
          // `int (*p)[4]` needs parentheses, `int m[2][3]` does not.
          const multidim = this.btf.type(stack[stack.length - 1]!).kind === 'array';
          if (name !== '' && !lastWasPtr) this.write(' ');
          if (!multidim) this.write('(');
          this.chain(stack, name, lvl);
          if (!multidim) this.write(')');
          this.write(`[${t.nelems}]`);
          return;
        }
        case 'func_proto': {
          this.dropQualifiers(stack);
          if (stack.length > 0) {
            this.write(' (');
            this.chain(stack, name, lvl);
            this.write(')');
          } else {
            this.writeName(name, lastWasPtr);
          }
          const params = t.params;
          // clang writes `f(void)` as one parameter of type void.
          if (params.length === 0 || (params.length === 1 && params[0]!.type === 0)) {
            this.write('(void)');
            return;
          }
          this.write('(');
          params.forEach((p, i) => {
            if (i > 0) this.write(', ');
            if (i === params.length - 1 && p.type === 0) this.write('...');
            else this.typeDecl(p.type, p.name, lvl);
          });
          this.write(')');
          return;
        }
        default:
          // A kind that cannot appear in a declaration (var, func, datasec, decl_tag).
          this.write(`/* unexpected ${t.kind} [${id}] */`);
          return;
      }
      lastWasPtr = t.kind === 'ptr';
    }
    this.writeName(name, lastWasPtr);
  }

  /** `struct name {…}` (or `union`), with padding members and `packed` as the layout needs. */
  structDef(id: number, t: BtfComposite, lvl: number): void {
    const packed = this.layout.isPacked(t);
    const ptrSize = this.layout.ptrSize;
    this.write(t.name === '' ? `${t.kind} {` : `${t.kind} ${this.tagName(id)} {`);
    const inner = indent(lvl + 1);
    let end = 0;
    let prevBitfield = false;
    for (const m of t.members) {
      const { bitOffset, bitfieldSize } = memberBits(this.btf, t, m);
      const align = packed ? 1 : this.layout.alignOf(m.type);
      for (const pad of paddingMembers(end, bitOffset, align, prevBitfield && bitfieldSize !== 0, ptrSize)) {
        this.write(`\n${inner}${pad};`);
      }
      this.write(`\n${inner}`);
      this.typeDecl(m.type, m.name, lvl + 1);
      if (bitfieldSize !== 0) {
        this.write(`: ${bitfieldSize}`);
        end = bitOffset + bitfieldSize;
        prevBitfield = true;
      } else {
        end = bitOffset + this.layout.sizeOf(m.type) * 8;
        prevBitfield = false;
      }
      this.write(';');
    }
    if (t.kind === 'struct') {
      for (const pad of paddingMembers(end, t.size * 8, this.layout.alignOf(id), false, ptrSize)) {
        this.write(`\n${inner}${pad};`);
      }
    }
    // Keep `struct empty {}` on one line.
    if (t.members.length > 0 || t.size > 0) this.write(`\n${indent(lvl)}}`);
    else this.write('}');
    if (packed) this.write(' __attribute__((packed))');
  }

  /** `enum name {…}`, with `mode(byte)`/`mode(word)` when its size is not the default. */
  enumDef(id: number, t: BtfEnum, lvl: number): void {
    this.write(t.name === '' ? 'enum' : `enum ${this.tagName(id)}`);
    if (t.values.length === 0) return;
    this.write(' {');
    const inner = indent(lvl + 1);
    let high32 = false;
    for (const v of t.values) {
      // Enumerators share the identifier namespace with typedefs.
      const n = this.idents.use(v.name);
      const name = n > 1 ? `${v.name}___${n}` : v.name;
      let value: string;
      if (t.kind === 'enum64') {
        const u = BigInt.asUintN(64, BigInt(v.value));
        if (u >> 32n !== 0n) high32 = true;
        value = t.signed ? `${BigInt.asIntN(64, u)}LL` : `${u}ULL`;
      } else {
        const x = Number(v.value);
        value = String(t.signed ? x | 0 : x >>> 0);
      }
      this.write(`\n${inner}${name} = ${value},`);
    }
    this.write(`\n${indent(lvl)}}`);
    if (t.size === 1) {
      this.write(' __attribute__((mode(byte)))');
    } else if (t.size === 8 && this.layout.ptrSize === 8 && (t.kind === 'enum' || !high32)) {
      // An 8-byte enum whose values all fit in 32 bits would shrink to 4 without it.
      this.write(' __attribute__((mode(word)))');
    }
  }

  /** `typedef <decl> name`. */
  typedefDef(id: number, t: BtfRef, lvl: number): void {
    const name = this.identName(id);
    // Old GCC wrote __gnuc_va_list as a typedef of void.
    if (t.type === 0 && name === '__gnuc_va_list') {
      this.write('typedef __builtin_va_list __gnuc_va_list');
      return;
    }
    this.write('typedef ');
    this.typeDecl(t.type, name, lvl);
  }

  /** `struct name`/`union name` of a fwd or a named struct/union. */
  protected fwdDecl(id: number, t: BtfType): void {
    const kind = t.kind === 'fwd' ? (t.union ? 'union' : 'struct') : t.kind;
    this.write(`${kind} ${this.tagName(id)}`);
  }

  /** The typedef an int needs first, if any (see MISSING_BASE_TYPES). */
  protected missingAlias(name: string): void {
    const base = MISSING_BASE_TYPES.get(name);
    if (base !== undefined) this.write(`typedef ${base} ${name};\n\n`);
  }
}
