/** Options the tool commands share: output form, and how long they run. */
import { UsageError } from './command.js';

/** parseArgs definitions of `-j`, `-d SECONDS` and `-c COUNT`. */
export const RUN_OPTIONS = {
  json: { type: 'boolean', short: 'j' },
  duration: { type: 'string', short: 'd' },
  count: { type: 'string', short: 'c' },
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
