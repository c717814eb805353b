/** The shape of one `ebpf` subcommand and the I/O it runs against (replaceable in tests). */
import { EbpfError } from '../errors.js';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Reads all of standard input. */
  stdin(): Promise<Uint8Array>;
  readFile(path: string): Uint8Array;
  writeFile(path: string, data: Uint8Array | string): void;
}

export interface Command {
  readonly name: string;
  /** One line for `ebpf --help`. */
  readonly summary: string;
  /** Full text for `ebpf NAME --help`. */
  readonly usage: string;
  /** Runs the command; returns the exit code. */
  run(args: string[], io: Io): Promise<number>;
}

/** A wrong command line: printed with the command's usage, exit code 2. */
export class UsageError extends EbpfError {
  override name = 'UsageError';
}

/** Parses hex bytes, allowing spaces, newlines and an optional `0x` prefix per group. */
export function parseHex(text: string, what: string): Uint8Array {
  const clean = text.replace(/0x/gi, '').replace(/[\s,]+/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-f]/i.test(clean)) {
    throw new UsageError(`${what} is not a string of hex bytes`);
  }
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Formats bytes as lowercase hex. */
export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}
