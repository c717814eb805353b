/** Options the tool commands share: output form, and how long they run. */
import { armStop } from '../tools/stop.js';
import { UsageError } from './command.js';

/** parseArgs definitions of `-j`, `-d SECONDS` and `-c COUNT`. */
export const RUN_OPTIONS = {
  json: { type: 'boolean', short: 'j' },
  duration: { type: 'string', short: 'd' },
  count: { type: 'string', short: 'c' },
} as const;

/** parseArgs definitions of the attach-and-pin tools (xdp-firewall, tc-redirect): `-j`, `-d`, `--netns`, `--pin-dir`, `--keep`. */
export const PINNED_TOOL_OPTIONS = {
  json: RUN_OPTIONS.json,
  duration: RUN_OPTIONS.duration,
  netns: { type: 'string' },
  'pin-dir': { type: 'string' },
  keep: { type: 'boolean' },
} as const;

/** `-d SECONDS` in milliseconds (fractions allowed), or undefined. */
export function parseDuration(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const seconds = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(seconds > 0)) throw new UsageError(`duration '${text}': a number of seconds above 0`);
  return Math.round(seconds * 1000);
}

/** A positive integer option (`-c COUNT`, `-p PID`), or undefined. */
export function parsePositive(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`${what} '${text}': a positive integer`);
  return n;
}

/** A regular expression option, or undefined. */
export function parseRegExp(text: string | undefined, what: string): RegExp | undefined {
  if (text === undefined) return undefined;
  try {
    return new RegExp(text);
  } catch (err) {
    throw new UsageError(`${what} '${text}': ${(err as Error).message}`);
  }
}

/** Seconds since `startNs` (a CLOCK_MONOTONIC reading, as bpf_ktime_get_ns and process.hrtime give). */
export function secondsSince(startNs: bigint, ns: bigint): number {
  return Number(ns - startNs) / 1e9;
}

/** HH:MM:SS of the wall clock now. */
export function clockTime(): string {
  return new Date().toTimeString().slice(0, 8);
}

/** What {@link streamToolEvents} needs of one tracing tool. */
export interface EventStream<E> {
  /** `-d SECONDS` as given, and `-c COUNT`. */
  readonly duration: string | undefined;
  readonly count: string | undefined;
  /** Opens the tool (its programs attached); disposed when the stream ends. */
  readonly start: () => Disposable & { events(signal: AbortSignal): AsyncIterable<E> };
  /** The line on stderr once the tool traces. */
  readonly banner: string;
  /** The column header (not printed with `-j`). */
  readonly header: string | undefined;
  /** The output line of one event (`-j` or not decided by the caller), or undefined to skip it. */
  readonly format: (event: E, seconds: number) => string | undefined;
}

/**
 * The loop every tracing tool runs: attach, print a header, print a line per event (with its
 * time since the start), until `-c COUNT` lines, `-d SECONDS` or Ctrl-C.
 */
export async function streamToolEvents<E extends { timeNs: bigint }>(io: { out(s: string): void; err(s: string): void }, stream: EventStream<E>): Promise<number> {
  const durationMs = parseDuration(stream.duration);
  const count = parsePositive(stream.count, 'count') ?? Infinity;
  using stop = armStop(durationMs === undefined ? {} : { durationMs });
  using tool = stream.start();
  const startNs = process.hrtime.bigint();
  io.err(stream.banner);
  if (stream.header !== undefined) io.out(stream.header);
  let printed = 0;
  for await (const e of tool.events(stop.signal)) {
    const line = stream.format(e, secondsSince(startNs, e.timeNs));
    if (line === undefined) continue;
    io.out(line);
    if (++printed >= count) break;
  }
  return 0;
}
