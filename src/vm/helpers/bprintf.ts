/**
 * The kernel's printf for BPF programs (bpf_trace_printk, bpf_trace_vprintk, bpf_snprintf), in
 * its two steps:
 *
 * 1. bpf_bprintf_prepare (kernel/bpf/helpers.c) checks the format and turns the program's u64
 *    arguments into "binary arguments": numbers as 4 or 8 bytes, strings and `%pI4`-style
 *    addresses copied (and pre-formatted) into a 512-byte buffer, so that a bad pointer reads
 *    as an empty string instead of faulting. Only `%d %i %u %x %X` (with `l`/`ll`), `%c`, `%s`,
 *    `%p`, `%pK %px %ps %pS %pB %pks %pus %pI4 %pi4 %pI6 %pi6` and `%%` pass, with the flags
 *    `0 + - space` and a width; anything else — a precision, `%#x`, `%hd`, `%n`, an ASCII control
 *    character other than white space, more conversions than arguments — is -EINVAL. Bytes
 *    from 0x80 up pass (UTF-8 text; measured on Linux 6.18).
 * 2. bstr_printf (lib/vsprintf.c) formats them, padding as C does.
 *
 * Where the VM cannot be the kernel: pointers print unhashed (as with `no_hash_pointers`) and
 * symbol formats print `0x` and the address (no kallsyms).
 */

/** MAX_BPRINTF_BIN_ARGS: the buffer that holds the binary arguments. */
export const MAX_BPRINTF_BIN_ARGS = 512;
/** MAX_BPRINTF_VARARGS: arguments bpf_snprintf and bpf_trace_vprintk take at most. */
export const MAX_BPRINTF_VARARGS = 12;

const EINVAL = 22;
const ENOSPC = 28;

/** How the printf reads the program's pointers. */
export interface BprintfMemory {
  /**
   * strncpy_from_*_nofault of the string at `address` into `out` (`%s` reads by address as
   * the compat helpers do, `%pks` kernel and `%pus` user memory): bytes used including the
   * NUL, or a negative errno.
   */
  readString(kind: 's' | 'k' | 'u', address: bigint, out: Uint8Array): number;
  /** copy_from_kernel_nofault: `size` bytes at `address`, or undefined (`%pI4`, `%pI6`). */
  readKernel(address: bigint, size: number): Uint8Array | undefined;
}

/** A binary argument, in the order the format consumes them. */
type BinArg =
  | { readonly kind: 'num'; readonly value: bigint; readonly size: 4 | 8 }
  | { readonly kind: 'char'; readonly value: number }
  /** A string copied or pre-formatted by the prepare step. */
  | { readonly kind: 'str'; readonly bytes: Uint8Array };

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);
const isPrint = (c: number): boolean => c >= 0x20 && c <= 0x7e;
const isAlnum = (c: number): boolean => isDigit(c) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const isPunct = (c: number): boolean => isPrint(c) && c !== 0x20 && !isAlnum(c);
const ch = (s: string): number => s.charCodeAt(0);

/**
 * Formats `fmt` (the bytes before its NUL) with `args`, of which the format may use
 * `numArgs`. Returns the whole output (the caller truncates it to its buffer) or a negative
 * errno: -EINVAL for a format the kernel refuses, -ENOSPC when the copied strings overflow
 * the argument buffer.
 */
export function bprintf(fmt: Uint8Array, args: readonly bigint[], numArgs: number, memory: BprintfMemory): Uint8Array | number {
  const bin = prepare(fmt, args, numArgs, memory);
  return typeof bin === 'number' ? bin : format(fmt, bin);
}

/** bpf_bprintf_prepare: checks `fmt` and makes the binary arguments, or returns -errno. */
function prepare(fmt: Uint8Array, raw: readonly bigint[], numArgs: number, memory: BprintfMemory): BinArg[] | number {
  const at = (i: number): number => fmt[i] ?? 0; // the format is NUL-terminated
  const out: BinArg[] = [];
  // The argument buffer exists only when there are arguments (kernel: tmp_buf stays NULL).
  let used = 0;
  const room = (): number => MAX_BPRINTF_BIN_ARGS - used;
  const number = (value: bigint, size: 4 | 8): number => {
    used = Math.ceil(used / 4) * 4;
    if (room() < size) return -ENOSPC;
    used += size;
    out.push({ kind: 'num', value, size });
    return 0;
  };
  const text = (bytes: Uint8Array, advance: number): void => {
    used += advance;
    out.push({ kind: 'str', bytes });
  };
  for (let i = 0; i < fmt.length; i++) {
    const c = at(i);
    if (c < 0x80 && !isPrint(c) && !isSpace(c)) return -EINVAL;
    if (c !== ch('%')) continue;
    if (at(i + 1) === ch('%')) { i++; continue; }
    if (out.length >= numArgs) return -EINVAL;
    const arg = raw[out.length] ?? 0n;
    i++;
    while (at(i) === ch('0') || at(i) === ch('+') || at(i) === ch('-') || at(i) === ch(' ')) i++;
    if (at(i) >= ch('1') && at(i) <= ch('9')) {
      i++;
      while (isDigit(at(i))) i++;
    }
    let ptype = 0;
    if (at(i) === ch('p')) {
      const next = at(i + 1);
      if (next === 0 || isSpace(next) || isPunct(next)) {
        const err = number(arg, 8);
        if (err) return err;
        continue;
      }
      if ((next === ch('k') || next === ch('u')) && at(i + 2) === ch('s')) {
        ptype = next;
        i += 2;
      } else if (next === ch('K') || next === ch('x') || next === ch('s') || next === ch('S')) {
        i++;
        const err = number(arg, 8);
        if (err) return err;
        continue;
      } else if (next === ch('B')) {
        i++;
        const s = symbol(arg);
        text(truncated(s, room()), s.length + 1);
        continue;
      } else {
        if ((next !== ch('i') && next !== ch('I')) || (at(i + 2) !== ch('4') && at(i + 2) !== ch('6'))) return -EINVAL;
        i += 2;
        const size = at(i) === ch('4') ? 4 : 16;
        if (room() < size) return -ENOSPC;
        const ip = memory.readKernel(arg, size) ?? new Uint8Array(size);
        const s = ipText(ip, next === ch('I'));
        text(truncated(s, room()), s.length + 1);
        continue;
      }
    } else if (at(i) === ch('s')) {
      ptype = ch('s');
    } else if (at(i) === ch('c')) {
      if (room() === 0) return -ENOSPC;
      used += 1;
      out.push({ kind: 'char', value: Number(arg & 0xffn) });
      continue;
    }
    if (ptype !== 0) {
      const next = at(i + 1);
      if (next !== 0 && !isSpace(next) && !isPunct(next)) return -EINVAL;
      if (room() === 0) return -ENOSPC;
      const buf = new Uint8Array(room());
      let n = memory.readString(String.fromCharCode(ptype) as 's' | 'k' | 'u', arg, buf);
      if (n < 0) { buf[0] = 0; n = 1; }
      const end = buf.indexOf(0);
      text(buf.slice(0, end < 0 ? buf.length : end), n);
      continue;
    }
    let size: 4 | 8 = 4;
    if (at(i) === ch('l')) { size = 8; i++; }
    if (at(i) === ch('l')) i++;
    const conv = at(i);
    if (conv !== ch('i') && conv !== ch('d') && conv !== ch('u') && conv !== ch('x') && conv !== ch('X')) return -EINVAL;
    const err = number(size === 8 ? arg : arg & 0xffffffffn, size);
    if (err) return err;
  }
  return out;
}

/** `s` as snprintf into `room` bytes keeps it: at most room - 1 characters. */
function truncated(s: string, room: number): Uint8Array {
  return ascii(room <= 0 ? '' : s.slice(0, room - 1));
}

function ascii(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** What `%pS` and `%pB` print for an address kallsyms does not know. */
function symbol(address: bigint): string {
  return `0x${BigInt.asUintN(64, address).toString(16)}`;
}

/** `%pI4` 1.2.3.4, `%pi4` 001.002.003.004, `%pI6` 0001:0db8:…, `%pi6` 00010db8…. */
function ipText(ip: Uint8Array, dotted: boolean): string {
  if (ip.length === 4) return [...ip].map((b) => (dotted ? String(b) : String(b).padStart(3, '0'))).join('.');
  const groups: string[] = [];
  for (let g = 0; g < 8; g++) groups.push(((ip[2 * g]! << 8) | ip[2 * g + 1]!).toString(16).padStart(4, '0'));
  return groups.join(dotted ? ':' : '');
}

interface Spec {
  left: boolean;
  plus: boolean;
  space: boolean;
  zero: boolean;
  width: number;
}

/** bstr_printf over the prepared arguments: the whole output, untruncated. */
function format(fmt: Uint8Array, bin: readonly BinArg[]): Uint8Array {
  const out: number[] = [];
  const at = (i: number): number => fmt[i] ?? 0;
  let next = 0;
  const take = (): BinArg | undefined => bin[next++];
  let i = 0;
  while (i < fmt.length) {
    const c = at(i);
    if (c !== ch('%')) { out.push(c); i++; continue; }
    i++;
    if (at(i) === ch('%')) { out.push(c); i++; continue; }
    const spec: Spec = { left: false, plus: false, space: false, zero: false, width: -1 };
    for (;; i++) {
      const f = at(i);
      if (f === ch('-')) spec.left = true;
      else if (f === ch('+')) spec.plus = true;
      else if (f === ch(' ')) spec.space = true;
      else if (f === ch('0')) spec.zero = true;
      else break;
    }
    if (isDigit(at(i))) {
      spec.width = 0;
      while (isDigit(at(i))) spec.width = spec.width * 10 + at(i++) - 0x30;
    }
    if (spec.left) spec.zero = false;
    const conv = at(i);
    if (conv === ch('c')) {
      i++;
      const a = take();
      pad(out, [a?.kind === 'char' ? a.value : 0], spec, false);
    } else if (conv === ch('s')) {
      i++;
      const a = take();
      pad(out, a?.kind === 'str' ? [...a.bytes] : [], spec, false);
    } else if (conv === ch('p')) {
      i++;
      const kind = at(i);
      const a = take();
      if (kind === ch('K') || kind === ch('x') || !isAlnum(kind)) {
        pointer(out, a?.kind === 'num' ? a.value : 0n, spec);
      } else if (kind === ch('s') || kind === ch('S')) {
        pad(out, [...ascii(symbol(a?.kind === 'num' ? a.value : 0n))], spec, false);
      } else if (a?.kind === 'str') {
        // Pre-formatted by the prepare step (%pks, %pus, %pB, %pI4, …): copied, unpadded.
        for (const b of a.bytes) out.push(b);
      }
      while (isAlnum(at(i))) i++;
    } else {
      let size = 4;
      while (at(i) === ch('l')) { size = 8; i++; }
      const t = at(i++);
      const a = take();
      const raw = a?.kind === 'num' ? a.value : 0n;
      const signed = t === ch('d') || t === ch('i');
      const value = signed ? BigInt.asIntN(size * 8, raw) : BigInt.asUintN(size * 8, raw);
      integer(out, value, signed, t === ch('x') ? 16 : t === ch('X') ? -16 : 10, spec);
    }
  }
  return Uint8Array.from(out);
}

/** Writes `body` padded with spaces to the width (strings and chars never zero-pad). */
function pad(out: number[], body: readonly number[], spec: Spec, zeroPad: boolean, sign?: number): void {
  const len = body.length + (sign === undefined ? 0 : 1);
  const fill = Math.max(0, spec.width - len);
  if (!spec.left && !zeroPad) for (let k = 0; k < fill; k++) out.push(0x20);
  if (sign !== undefined) out.push(sign);
  if (!spec.left && zeroPad) for (let k = 0; k < fill; k++) out.push(0x30);
  for (const b of body) out.push(b);
  if (spec.left) for (let k = 0; k < fill; k++) out.push(0x20);
}

/** lib/vsprintf.c number(): base 10 or 16 (-16 upper case), with sign, zero or space padding. */
function integer(out: number[], value: bigint, signed: boolean, base: number, spec: Spec): void {
  let sign: number | undefined;
  let magnitude = value;
  if (signed) {
    if (value < 0n) { sign = ch('-'); magnitude = -value; }
    else if (spec.plus) sign = ch('+');
    else if (spec.space) sign = ch(' ');
  }
  let digits = magnitude.toString(Math.abs(base));
  if (base < 0) digits = digits.toUpperCase();
  pad(out, [...ascii(digits)], spec, spec.zero, sign);
}

/** A pointer as `%px` prints it: 16 zero-padded hex digits unless a width is given. */
function pointer(out: number[], value: bigint, spec: Spec): void {
  const s = spec.width === -1 ? { ...spec, width: 16, zero: true } : spec;
  integer(out, BigInt.asUintN(64, value), false, 16, s);
}
