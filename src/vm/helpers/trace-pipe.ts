/**
 * The VM's counterpart of /sys/kernel/tracing/trace_pipe for bpf_trace_printk and
 * bpf_trace_vprintk: each call is one line (the formatted message up to its first NUL, less
 * one trailing newline), kept in a bounded buffer and passed to a callback.
 */

/** Lines kept before the oldest are dropped (the kernel's trace buffer overwrites too). */
export const TRACE_PIPE_CAPACITY = 65536;

/** Where bpf_trace_printk's lines go. */
export class TracePipe {
  /** Called with every line as it is written. */
  onLine: ((line: string) => void) | undefined;
  readonly #lines: string[] = [];
  #dropped = 0;

  constructor(onLine?: (line: string) => void) {
    this.onLine = onLine;
  }

  /** Lines written and not yet read, oldest first. */
  get lines(): readonly string[] {
    return this.#lines;
  }

  /** Lines lost because the buffer was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Returns the buffered lines and empties the buffer (as reading trace_pipe consumes it). */
  read(): string[] {
    return this.#lines.splice(0);
  }

  /** Writes the message a program formatted (bytes up to the first NUL). */
  write(message: Uint8Array): void {
    const end = message.indexOf(0);
    let line = decoder.decode(end < 0 ? message : message.subarray(0, end));
    if (line.endsWith('\n')) line = line.slice(0, -1);
    if (this.#lines.length >= TRACE_PIPE_CAPACITY) {
      this.#lines.shift();
      this.#dropped++;
    }
    this.#lines.push(line);
    this.onLine?.(line);
  }
}

const decoder = new TextDecoder();
