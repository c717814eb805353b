/**
 * JSON for the kernel commands (`prog`, `map`): decoded BTF values hold bigints (u64 counters)
 * and byte arrays, which JSON.stringify refuses or mangles. bpftool prints 64-bit numbers as
 * plain digits, so do we: a bigint is written exactly, a Uint8Array as an array of numbers.
 */

/** `value` as JSON text; `indent` as JSON.stringify's. Bigints become exact JSON numbers. */
export function toJson(value: unknown, indent?: number): string {
  const marks = new Map<string, string>();
  let n = 0;
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') {
      const mark = `\u0000bigint${n++}\u0000`;
      marks.set(mark, v.toString());
      return mark;
    }
    if (v instanceof Uint8Array) return Array.from(v);
    return v;
  }, indent);
  if (marks.size === 0) return text;
  return text.replace(/"\\u0000bigint\d+\\u0000"/g, (quoted) => marks.get(JSON.parse(quoted) as string) ?? quoted);
}

/** Parses JSON where integers too large for a double become bigints (for map keys and values given on the command line). */
export function parseJsonValue(text: string): unknown {
  // Integers beyond 2^53 lose precision in JSON.parse: quote them first, then turn them back.
  const quoted = text.replace(/("(?:[^"\\]|\\.)*")|(-?\d{16,})(?![.eE\d])/g, (m, str: string | undefined, big: string | undefined) =>
    (str !== undefined ? m : `"\\u0000${big}"`));
  return JSON.parse(quoted, (_key, v: unknown) => (typeof v === 'string' && v.startsWith('\u0000') ? BigInt(v.slice(1)) : v));
}

/** Bytes as bpftool's JSON writes them: `["0x01","0x00",…]`. */
export function hexArray(bytes: Uint8Array): string[] {
  return Array.from(bytes, (b) => `0x${b.toString(16).padStart(2, '0')}`);
}

/** Bytes as bpftool's text dump writes them: `01 00 00 00`. */
export function hexBytes(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}
