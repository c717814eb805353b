/**
 * Reading what programs print with bpf_trace_printk() (libbpf's `bpf_printk`): the kernel
 * writes it as the `bpf_trace/bpf_trace_printk` trace event, and tracefs's `trace_pipe` gives
 * it as text, one line per event, consumed as read:
 *
 * ```
 *            bash-1234    [001] d..3. 5358.982275: bpf_trace_printk: hello, exec of /bin/ls
 *            comm-pid    (tgid) [cpu] flags  timestamp: event: message
 * ```
 *
 * (the `(tgid)` column only with the `record-tgid` option, the flags only with `irq-info`).
 * The file is opened non-blocking; an empty pipe is waited for through the shared epoll set of
 * the ring-buffer readers (poller.ts), so the event loop never blocks.
 *
 * The global trace_pipe is shared: every reader takes lines the others then miss. With
 * `instance: true` the reader makes a tracefs instance of its own (`instances/<name>`),
 * enables only the bpf_trace_printk event in it and reads its pipe, so it gets every line
 * while others keep theirs; the instance is removed on `close()`.
 */
import { closeSync, constants, mkdirSync, openSync, readSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EbpfError } from '../errors.js';
import { tracefsRoot } from './link/tracefs.js';
import { nativeSyscalls } from './native.js';
import { pollerFor, type Poller } from './poller.js';
import type { Syscalls } from './syscalls.js';

/** One line of trace_pipe. */
export interface TraceLine {
  /** The task's name (`comm`), as the kernel recorded it. */
  readonly comm: string;
  /** The thread id. */
  readonly pid: number;
  /** The process id, when the `record-tgid` option shows it. */
  readonly tgid: number | undefined;
  readonly cpu: number;
  /** irqs-off, need-resched, irq context, preempt depth, migrate-disable (`d..3.`); '' when not shown. */
  readonly flags: string;
  /** Seconds, by the instance's trace clock (`local` by default: CLOCK_MONOTONIC-like). */
  readonly timestamp: number;
  /** The trace event: `bpf_trace_printk` for programs' output. */
  readonly event: string;
  /** What follows the event's name: the printed text. */
  readonly message: string;
  /** The whole line. */
  readonly raw: string;
}

const LINE = /^\s*(.*?)-(\d+)\s+(?:\(\s*(\d+|-+)\)\s+)?\[(\d+)\]\s+(?:(\S+)\s+)?(\d+\.\d+):\s+([A-Za-z_][\w.]*):\s?(.*)$/;
const LOST = /^CPU:(\d+) \[LOST (\d+) EVENTS\]$/;

/**
 * Parses one line of trace_pipe (or `trace`), without its newline; undefined for lines that
 * are not an event (headers, `CPU:n [LOST m EVENTS]`).
 *
 * @example
 * parseTraceLine('  bash-1234  [001] d..3. 5358.982275: bpf_trace_printk: hi');
 * // { comm: 'bash', pid: 1234, cpu: 1, flags: 'd..3.', timestamp: 5358.982275, event: 'bpf_trace_printk', message: 'hi', … }
 */
export function parseTraceLine(line: string): TraceLine | undefined {
  const m = LINE.exec(line);
  if (m === null) return undefined;
  const tgid = m[3] === undefined || m[3].startsWith('-') ? undefined : Number(m[3]);
  return {
    comm: m[1]!, pid: Number(m[2]), tgid, cpu: Number(m[4]), flags: m[5] ?? '', timestamp: Number(m[6]),
    event: m[7]!, message: m[8]!, raw: line,
  };
}

/** Options of {@link openTracePipe}. */
export interface TracePipeOptions {
  /**
   * Read a tracefs instance of this reader's own with only bpf_trace_printk enabled (`true`,
   * named `ebpf-<pid>-<n>`, or the name to give it), removed on close. Default false: the
   * global trace_pipe, shared with every other reader.
   */
  instance?: boolean | string;
  /** Per-CPU buffer of a new instance in KiB (default 256). */
  bufferSizeKb?: number;
  /** Longest line kept; longer ones are cut to this many characters (default 64 KiB). */
  maxLineLength?: number;
  /** Discard what is already waiting in the pipe when it opens: only lines from now on. */
  fresh?: boolean;
  /** Longest a wait on an empty pipe lasts before reading again, in ms (default 1000). */
  pollIntervalMs?: number;
  syscalls?: Syscalls;
}

const CHUNK = 64 << 10;
let instances = 0;

/** Readers with an instance, closed by an exit hook if their owner never did (instances outlive processes). */
const liveInstances = new Set<TracePipeReader>();
let exitHooked = false;

function trackInstance(reader: TracePipeReader): void {
  liveInstances.add(reader);
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => {
    for (const r of [...liveInstances]) {
      try {
        r.close();
      } catch {
        // exiting: nothing more to do
      }
    }
  });
}

/**
 * A reader of trace_pipe lines. Owns its fd (and instance): `close()` it, or `using`.
 *
 * @example
 * using pipe = openTracePipe({ instance: true });
 * for await (const line of pipe) if (line.event === 'bpf_trace_printk') console.log(line.message);
 */
export class TracePipeReader implements AsyncIterable<TraceLine>, Disposable {
  /** The trace_pipe's fd (non-blocking). */
  readonly fd: number;
  /** The trace_pipe file. */
  readonly path: string;
  /** The instance directory, when the reader made one. */
  readonly instanceDir: string | undefined;
  /** Lines that were not events (headers and such). */
  unparsed = 0;
  /** Events the kernel reported lost (`CPU:n [LOST m EVENTS]`): the buffer was full. */
  lost = 0;
  readonly #poller: Poller;
  readonly #maxLine: number;
  readonly #pollMs: number;
  readonly #decoder = new TextDecoder();
  readonly #chunk = new Uint8Array(CHUNK);
  #partial = '';
  #queue: TraceLine[] = [];
  #closed = false;

  constructor(fd: number, path: string, options: { instanceDir?: string; maxLineLength?: number; pollIntervalMs?: number; syscalls: Syscalls }) {
    this.fd = fd;
    this.path = path;
    this.instanceDir = options.instanceDir;
    this.#maxLine = options.maxLineLength ?? 64 << 10;
    this.#pollMs = options.pollIntervalMs ?? 1000;
    this.#poller = pollerFor(options.syscalls);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The lines waiting now, without waiting for more. */
  drain(): TraceLine[] {
    while (this.#fill()) {
      // until the pipe is empty
    }
    const out = this.#queue;
    this.#queue = [];
    return out;
  }

  /** The next line, waiting for one; undefined once closed or when `signal` aborts first. */
  async read(signal?: AbortSignal): Promise<TraceLine | undefined> {
    for (;;) {
      if (this.#closed || signal?.aborted) return undefined;
      const next = this.#queue.shift();
      if (next !== undefined) return next;
      if (this.#fill()) continue;
      await this.#wait(signal);
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<TraceLine, void, undefined> {
    for (;;) {
      const line = await this.read();
      if (line === undefined) return;
      yield line;
    }
  }

  /** Closes the pipe (ending pending reads) and removes the instance the reader made. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#poller.cancel(this.fd);
    closeSync(this.fd);
    liveInstances.delete(this);
    if (this.instanceDir !== undefined) removeInstance(this.instanceDir);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** Reads one chunk into the queue; false when the pipe had nothing. */
  #fill(): boolean {
    if (this.#closed) return false;
    let n: number;
    try {
      n = readSync(this.fd, this.#chunk, 0, CHUNK, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return false;
      throw EbpfError.wrap(`read ${this.path}`, err);
    }
    if (n === 0) return false;
    const text = this.#partial + this.#decoder.decode(this.#chunk.subarray(0, n), { stream: true });
    const lines = text.split('\n');
    this.#partial = lines.pop()!.slice(0, this.#maxLine);
    for (const raw of lines) this.#push(raw.length > this.#maxLine ? raw.slice(0, this.#maxLine) : raw);
    return true;
  }

  #push(raw: string): void {
    if (raw === '') return;
    const line = parseTraceLine(raw);
    if (line !== undefined) {
      this.#queue.push(line);
      return;
    }
    const lost = LOST.exec(raw);
    if (lost !== null) this.lost += Number(lost[2]);
    else this.unparsed++;
  }

  /** Waits for the pipe to become readable, at most the poll interval (a safety net for missed wake-ups). */
  async #wait(signal?: AbortSignal): Promise<void> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.#pollMs);
    const onAbort = (): void => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await this.#poller.waitReadable(this.fd, controller.signal);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }
}

/** Removes an instance: its pipe must be closed; the kernel may take a moment to let go. */
function removeInstance(dir: string): void {
  for (let attempt = 0; ; attempt++) {
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || attempt >= 50) throw EbpfError.wrap(`remove tracefs instance ${dir}`, err);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
}

/**
 * Opens trace_pipe for reading without blocking (see the module comment). Throws
 * NotSupportedError when tracefs is not mounted.
 */
export function openTracePipe(options: TracePipeOptions = {}): TracePipeReader {
  const root = tracefsRoot();
  const syscalls = options.syscalls ?? nativeSyscalls();
  let instanceDir: string | undefined;
  if (options.instance) {
    const name = typeof options.instance === 'string' ? options.instance : `ebpf-${process.pid}-${instances++}`;
    if (!/^[A-Za-z0-9_.-]+$/.test(name) || name === '.' || name === '..') throw new TypeError(`tracefs instance name '${name}'`);
    instanceDir = join(root, 'instances', name);
    try {
      mkdirSync(instanceDir);
    } catch (err) {
      throw EbpfError.wrap(`create tracefs instance ${instanceDir}`, err);
    }
    try {
      writeFileSync(join(instanceDir, 'buffer_size_kb'), `${options.bufferSizeKb ?? 256}\n`);
      writeFileSync(join(instanceDir, 'events', 'bpf_trace', 'bpf_trace_printk', 'enable'), '1\n');
    } catch (err) {
      removeInstance(instanceDir);
      throw EbpfError.wrap(`enable bpf_trace_printk in tracefs instance ${instanceDir}`, err);
    }
  }
  const path = join(instanceDir ?? root, 'trace_pipe');
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    if (instanceDir !== undefined) removeInstance(instanceDir);
    throw EbpfError.wrap(`open ${path}`, err);
  }
  const reader = new TracePipeReader(fd, path, {
    syscalls,
    ...(instanceDir === undefined ? {} : { instanceDir }),
    ...(options.maxLineLength === undefined ? {} : { maxLineLength: options.maxLineLength }),
    ...(options.pollIntervalMs === undefined ? {} : { pollIntervalMs: options.pollIntervalMs }),
  });
  if (instanceDir !== undefined) trackInstance(reader);
  if (options.fresh) {
    reader.drain();
    reader.unparsed = 0;
    reader.lost = 0;
  }
  return reader;
}
