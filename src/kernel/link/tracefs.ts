/**
 * tracefs: where tracepoints are numbered (`events/<category>/<name>/id`) and where the legacy
 * kprobe/uprobe interface creates probe events (`kprobe_events`, `uprobe_events`), for kernels
 * without the kprobe/uprobe perf PMUs (before 4.17) — cilium/ebpf's internal/tracefs.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EbpfError, NotSupportedError } from '../../errors.js';

/** The tracefs mount points the kernel documents, newest first. */
const TRACEFS_ROOTS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

let root: string | undefined;

/**
 * The tracefs mount (with an `events` directory). Throws `NotSupportedError` when none is
 * mounted: `mount -t tracefs nodev /sys/kernel/tracing`.
 */
export function tracefsRoot(): string {
  if (root !== undefined) return root;
  const found = TRACEFS_ROOTS.find((dir) => existsSync(join(dir, 'events')));
  if (found === undefined) {
    throw new NotSupportedError(`tracefs is not mounted at ${TRACEFS_ROOTS.join(' or ')} (mount -t tracefs nodev /sys/kernel/tracing)`);
  }
  root = found;
  return root;
}

/** Names that are one path component of tracefs: no `/`, no `..`. */
const NAME = /^[A-Za-z0-9_.-]+$/;

function checkName(what: string, name: string): void {
  if (!NAME.test(name) || name === '.' || name === '..') throw new TypeError(`${what} '${name}': only [A-Za-z0-9_.-] allowed`);
}

/** An error of a tracefs event that does not exist: the kernel has no such tracepoint or probe. */
export class TracefsEventNotFoundError extends EbpfError {
  override name = 'TracefsEventNotFoundError';
  readonly code = 'ENOENT';
}

/**
 * The id of tracepoint `category/name` (`events/syscalls/sys_enter_getpid/id`): the `config`
 * of a PERF_TYPE_TRACEPOINT event.
 */
export function tracepointId(category: string, name: string): number {
  checkName('tracepoint category', category);
  checkName('tracepoint name', name);
  const path = join(tracefsRoot(), 'events', category, name, 'id');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new TracefsEventNotFoundError(`tracepoint ${category}/${name}: ${path} not readable`, { cause: err });
  }
  const id = Number.parseInt(text.trim(), 10);
  if (!Number.isInteger(id) || id < 0) throw new EbpfError(`tracepoint ${category}/${name}: bad id '${text.trim()}' in ${path}`);
  return id;
}

/** Which legacy probe file: `kprobe_events` or `uprobe_events`. */
export type ProbeEventType = 'kprobe' | 'uprobe';

/** A probe event created in tracefs; `remove()` deletes it (after its perf events are closed). */
export interface ProbeEvent {
  readonly type: ProbeEventType;
  readonly group: string;
  readonly event: string;
  /** Its tracepoint id, for perf_event_open. */
  readonly id: number;
  remove(): void;
}

let sequence = 0;

/**
 * Creates a probe event through `<type>_events` (`p:group/event target`, `r:` for a return
 * probe; `r<maxactive>:` to size a kretprobe's instance pool). The group is unique to this
 * process, so concurrent users do not collide. `target` is `symbol+offset` for kprobes,
 * `path:0xoffset` for uprobes.
 */
export function createProbeEvent(type: ProbeEventType, target: string, options: { retprobe?: boolean; maxActive?: number } = {}): ProbeEvent {
  const base = tracefsRoot();
  const eventsFile = join(base, `${type}_events`);
  if (!existsSync(eventsFile)) throw new NotSupportedError(`${type} events: ${eventsFile} does not exist (kernel without ${type === 'kprobe' ? 'CONFIG_KPROBE_EVENTS' : 'CONFIG_UPROBE_EVENTS'})`);
  if (/[\s]/.test(target)) throw new TypeError(`${type} target '${target}' contains white space`);
  const group = `ebpf_${process.pid}_${sequence++}`;
  const event = target.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 64) || 'probe';
  const prefix = options.retprobe ? `r${options.maxActive ? options.maxActive : ''}` : 'p';
  const line = `${prefix}:${group}/${event} ${target}\n`;
  try {
    appendFileSync(eventsFile, line);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // The kernel answers ENOENT for an unknown symbol and EILSEQ for an offset inside an instruction.
    throw new TracefsEventNotFoundError(`create ${type} event '${line.trim()}': ${code ?? String(err)}`, { cause: err });
  }
  const remove = (): void => {
    try {
      appendFileSync(eventsFile, `-:${group}/${event}\n`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw EbpfError.wrap(`remove ${type} event ${group}/${event}`, err);
    }
  };
  try {
    const id = tracepointId(group, event);
    return { type, group, event, id, remove };
  } catch (err) {
    remove();
    throw err;
  }
}
