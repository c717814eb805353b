/**
 * Tracepoints the host declares for the VM's hooks: a record laid out as the kernel lays out
 * trace events (struct trace_entry, then each field at its natural alignment), from C-like
 * field declarations.
 */
import type { TracepointField, TracepointFormat } from '../programs/tracepoint.js';

/** A field of a tracepoint the host declares: `u32 status`, `char path[32]`, `__data_loc char[] url`. */
export type TracepointFieldDecl = string;

/** The first 8 bytes of every trace record (struct trace_entry). */
const COMMON_FIELDS: readonly TracepointField[] = [
  { name: 'common_type', type: 'unsigned short', offset: 0, size: 2, signed: false },
  { name: 'common_flags', type: 'unsigned char', offset: 2, size: 1, signed: false },
  { name: 'common_preempt_count', type: 'unsigned char', offset: 3, size: 1, signed: false },
  { name: 'common_pid', type: 'int', offset: 4, size: 4, signed: true },
];

/** Sizes of the C scalar types a declared field may have. */
const SCALARS: Readonly<Record<string, [size: number, signed: boolean]>> = {
  u8: [1, false], s8: [1, true], char: [1, true], 'unsigned char': [1, false], bool: [1, false],
  u16: [2, false], s16: [2, true], short: [2, true], 'unsigned short': [2, false],
  u32: [4, false], s32: [4, true], int: [4, true], 'unsigned int': [4, false], pid_t: [4, true],
  u64: [8, false], s64: [8, true], long: [8, true], 'unsigned long': [8, false], 'long long': [8, true],
  'unsigned long long': [8, false], size_t: [8, false],
  /** Any pointer (`const char *name`): 8 bytes. */
  void_ptr: [8, false],
};

/**
 * Lays out a tracepoint's record as the kernel does (struct trace_entry, then each field at
 * its natural alignment), from declarations like `u32 status` or `char path[32]`.
 */
export function declareTracepointFormat(name: string, id: number, fields: readonly TracepointFieldDecl[]): TracepointFormat {
  const out: TracepointField[] = [...COMMON_FIELDS];
  let at = 8;
  for (const decl of fields) {
    const m = /^\s*(.*?)\s*([A-Za-z_]\w*)\s*(?:\[(\d*)\])?\s*$/.exec(decl.replace(/^.*\*\s*(\w+)$/, 'void_ptr $1'));
    if (!m) throw new TypeError(`tracepoint ${name}: cannot read field '${decl}'`);
    const [, type, fieldName, length] = m;
    if (type!.startsWith('__data_loc')) {
      at = Math.ceil(at / 4) * 4;
      out.push({ name: fieldName!, type: `${type}[]`, offset: at, size: 4, signed: false, dynamic: 'data_loc' });
      at += 4;
      continue;
    }
    const scalar = SCALARS[type!];
    if (scalar === undefined) throw new TypeError(`tracepoint ${name}: field '${decl}' has a type the VM cannot lay out (${Object.keys(SCALARS).join(', ')}, __data_loc)`);
    const [size, signed] = scalar;
    const count = length === undefined ? 1 : Number(length);
    if (length !== undefined && !(count > 0)) throw new TypeError(`tracepoint ${name}: field '${decl}' needs a length`);
    at = Math.ceil(at / size) * size;
    out.push({
      name: fieldName!, type: length === undefined ? type! : `${type}[${count}]`, offset: at, size: size * count, signed,
      ...(length === undefined ? {} : { arrayLength: count }),
    });
    at += size * count;
  }
  const size = out.reduce((n, f) => Math.max(n, f.offset + f.size), 0);
  return { name, id, fields: out, size };
}
