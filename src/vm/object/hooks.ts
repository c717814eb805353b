/**
 * The VM's hooks: where tracing programs of an object loaded into the VM attach, and how the
 * host fires them. The host plays the kernel's part — it says when an event happens and fills
 * the context the kernel would:
 *
 * - tracepoint programs (`SEC("tp/app/request")`) attach to `category:name` and run on
 *   {@link VmHooks.tracepoint} with the event's record (fields encoded by a format the host
 *   declares with {@link VmHooks.declareTracepoint}, or raw bytes);
 * - raw tracepoint programs (`SEC("raw_tp/name")`) run on {@link VmHooks.rawTracepoint} with u64 args;
 * - kprobe/kretprobe programs attach to a function name and run on {@link VmHooks.kprobe} /
 *   {@link VmHooks.kretprobe} with `struct pt_regs`;
 * - uprobe/uretprobe programs attach to a function name (`SEC("uprobe/method")`, or
 *   `binary:method`) and run whenever a JavaScript method wrapped by {@link VmHooks.uprobe}
 *   is called — arguments in the pt_regs argument registers, the return value in `ax`; strings
 *   and bytes are placed in the host's user memory so bpf_probe_read_user(_str) reads them;
 * - perf_event programs run on {@link VmHooks.perfEvent} with a sample.
 *
 * `attach()` gives a {@link VmLink}; closing it detaches the program.
 */
import { EbpfError, NotSupportedError } from '../../errors.js';
import { ProgramType } from '../../object/uapi-types.js';
import type { HostMemoryRegion, VmHost } from '../helpers/host.js';
import type { Interpreter } from '../interpreter.js';
import type { Memory } from '../memory.js';
import { HostContext } from '../programs/host-context.js';
import { encodePerfEventData, type PerfEventData } from '../programs/perf-event.js';
import { callRegs, encodePtRegs, PT_REGS_RC, type PtRegs } from '../programs/pt-regs.js';
import { encodeRawTracepointArgs } from '../programs/raw-tracepoint.js';
import { encodeTracepointRecord, parseTracepointFormat, type TracepointFormat, type TracepointValue } from '../programs/tracepoint.js';
import { VmLink } from './link.js';
import { declareTracepointFormat, type TracepointFieldDecl } from './tracepoint-decl.js';

export { VmLink } from './link.js';
export { declareTracepointFormat, type TracepointFieldDecl } from './tracepoint-decl.js';

/** What attaches: a program's name, type, section and interpreter (a VmProgram). */
export interface HookProgram {
  readonly name: string;
  readonly type: number;
  readonly spec: { readonly sectionName: string; readonly attachTarget: string | undefined };
  readonly interpreter: Interpreter;
}

/** Where to attach, overriding the section. */
export interface VmAttachOptions {
  /** Tracepoint `category:name`, raw tracepoint name, or probed function name. */
  target?: string;
  /** A kprobe/uprobe program as a return probe (default: as its section says). */
  retprobe?: boolean;
}

/** First event id of the tracepoints the host declares (the kernel's own are far below). */
const FIRST_EVENT_ID = 0x8000;
/** Where values a probe's arguments point to go in the host's user memory. */
const USER_BASE = 0x7f00_0000_0000n;

/** The kind of hook a program attaches to, from its type and section. */
function hookKind(program: HookProgram, options: VmAttachOptions): string {
  const section = program.spec.sectionName.replace(/^\?/, '');
  switch (program.type) {
    case ProgramType.TRACEPOINT: return 'tracepoint';
    case ProgramType.RAW_TRACEPOINT: return 'raw_tracepoint';
    case ProgramType.PERF_EVENT: return 'perf_event';
    case ProgramType.KPROBE: {
      const user = section.startsWith('uprobe') || section.startsWith('uretprobe');
      if (!user && !section.startsWith('kprobe') && !section.startsWith('kretprobe')) {
        throw new NotSupportedError(`attach program '${program.name}': the VM attaches kprobe, kretprobe, uprobe and uretprobe sections, not '${section}'`);
      }
      const ret = options.retprobe ?? (section.startsWith('uretprobe') || section.startsWith('kretprobe'));
      return `${user ? 'u' : 'k'}${ret ? 'ret' : ''}probe`;
    }
    default:
      throw new NotSupportedError(`attach program '${program.name}': the VM has no hook for its program type (${program.type})`);
  }
}

/** Where a program attaches: the option, else its section's target in the hook's own words. */
function hookTarget(program: HookProgram, kind: string, options: VmAttachOptions): string {
  if (kind === 'perf_event') return '';
  const raw = options.target ?? program.spec.attachTarget;
  if (raw === undefined || raw === '') throw new EbpfError(`attach program '${program.name}': its section '${program.spec.sectionName}' names no ${kind} target; give options.target`);
  if (options.target !== undefined) return raw;
  // tp/category/name → category:name; uprobe/binary:function → function; kprobe/function+off → function.
  if (kind === 'tracepoint') return raw.replace('/', ':');
  if (kind.endsWith('probe')) return raw.slice(raw.lastIndexOf(':') + 1).replace(/\+.*$/, '');
  return raw;
}

/** The programs attached to an object's hooks, and what fires them. */
export class VmHooks {
  readonly #memory: Memory;
  readonly #host: VmHost;
  readonly #checkOpen: () => void;
  /** kind → target → attached programs, in attach order. */
  readonly #attached = new Map<string, Map<string, Set<HookProgram>>>();
  readonly #formats = new Map<string, TracepointFormat>();
  #nextEventId = FIRST_EVENT_ID;
  #nextUser = USER_BASE;

  constructor(memory: Memory, host: VmHost, checkOpen: () => void) {
    this.#memory = memory;
    this.#host = host;
    this.#checkOpen = checkOpen;
  }

  /** Attaches `program` where its section (or `options`) says. */
  attach(program: HookProgram, options: VmAttachOptions = {}): VmLink {
    this.#checkOpen();
    const kind = hookKind(program, options);
    const target = hookTarget(program, kind, options);
    let byTarget = this.#attached.get(kind);
    if (byTarget === undefined) this.#attached.set(kind, byTarget = new Map());
    let set = byTarget.get(target);
    if (set === undefined) byTarget.set(target, set = new Set());
    if (set.has(program)) throw new EbpfError(`attach program '${program.name}': already attached to ${kind} ${target}`.trimEnd());
    set.add(program);
    const attached = set;
    return new VmLink(kind, `${kind} ${target}`.trimEnd(), () => attached.delete(program));
  }

  /** The programs attached to `kind` `target`, in attach order. */
  attached(kind: string, target = ''): HookProgram[] {
    return [...(this.#attached.get(kind)?.get(target) ?? [])];
  }

  /**
   * Declares tracepoint `category:name` for {@link tracepoint}: a parsed or textual format file
   * (`/sys/kernel/tracing/events/…/format`), or field declarations laid out after the common
   * header (`['u32 status', 'u64 latency_ns', '__data_loc char[] url']`).
   */
  declareTracepoint(name: string, format: TracepointFormat | string | readonly TracepointFieldDecl[]): TracepointFormat {
    const parsed = typeof format === 'string' ? parseTracepointFormat(format)
      : Array.isArray(format) ? declareTracepointFormat(name, this.#nextEventId++, format as readonly string[])
        : format as TracepointFormat;
    this.#formats.set(name, parsed);
    return parsed;
  }

  /**
   * Fires tracepoint `category:name`: every attached program runs on the record — `fields`
   * encoded by the declared format (`common_pid` defaults to the host task's pid), or raw
   * bytes as they are. Returns the number of programs run.
   */
  tracepoint(name: string, fields: Readonly<Record<string, TracepointValue>> | Uint8Array = {}): number {
    this.#checkOpen();
    const programs = this.attached('tracepoint', name);
    if (programs.length === 0) return 0;
    let bytes: Uint8Array;
    if (fields instanceof Uint8Array) bytes = fields;
    else {
      const format = this.#formats.get(name);
      if (format === undefined) throw new EbpfError(`tracepoint ${name}: no format declared (declareTracepoint), and the fields are not raw bytes`);
      bytes = encodeTracepointRecord(format, { common_pid: this.#host.task.pid, ...fields });
    }
    return this.#runAll(programs, `tracepoint ${name}`, bytes);
  }

  /** Fires raw tracepoint `name` with `args` (u64 each). Returns the number of programs run. */
  rawTracepoint(name: string, args: ReadonlyArray<bigint | number>): number {
    this.#checkOpen();
    const programs = this.attached('raw_tracepoint', name);
    return programs.length === 0 ? 0 : this.#runAll(programs, `raw_tracepoint ${name}`, encodeRawTracepointArgs(args.length === 0 ? [0] : args));
  }

  /** Fires the kprobes of kernel function `fn` with its arguments (and any other registers). */
  kprobe(fn: string, args: ReadonlyArray<bigint | number>, regs: PtRegs = {}): number {
    this.#checkOpen();
    const programs = this.attached('kprobe', fn);
    return programs.length === 0 ? 0 : this.#runAll(programs, `kprobe ${fn}`, encodePtRegs(callRegs(args, regs)));
  }

  /** Fires the kretprobes of kernel function `fn` with its return value. */
  kretprobe(fn: string, ret: bigint | number, regs: PtRegs = {}): number {
    this.#checkOpen();
    const programs = this.attached('kretprobe', fn);
    return programs.length === 0 ? 0 : this.#runAll(programs, `kretprobe ${fn}`, encodePtRegs({ ...regs, [PT_REGS_RC]: ret }));
  }

  /** Fires the perf_event programs with a sample. */
  perfEvent(data: PerfEventData = {}): number {
    this.#checkOpen();
    const programs = this.attached('perf_event');
    return programs.length === 0 ? 0 : this.#runAll(programs, 'perf_event', encodePerfEventData(data));
  }

  /**
   * Wraps `target[method]` so that each call runs the uprobes of `method` on its arguments
   * (numbers, bigints, booleans; strings — UTF-8 with a NUL — and bytes as pointers into user
   * memory; anything else as 0) before the original runs, and the uretprobes on its return
   * value after (an awaited value, for a promise). Disposing the result puts the method back.
   */
  uprobe<T extends object>(target: T, method: keyof T & string): Disposable {
    this.#checkOpen();
    const original = target[method];
    if (typeof original !== 'function') throw new TypeError(`uprobe: '${method}' is not a method of the target`);
    const hooks = this;
    const wrapper = function (this: unknown, ...args: unknown[]): unknown {
      hooks.#probeCall('uprobe', method, args);
      const result: unknown = (original as (...a: unknown[]) => unknown).apply(this, args);
      if (result instanceof Promise) return result.then((value: unknown) => { hooks.#probeReturn(method, value); return value; });
      hooks.#probeReturn(method, result);
      return result;
    };
    const had = Object.prototype.hasOwnProperty.call(target, method);
    (target as Record<string, unknown>)[method] = wrapper;
    let disposed = false;
    return {
      [Symbol.dispose]: () => {
        if (disposed) return;
        disposed = true;
        if ((target as Record<string, unknown>)[method] !== wrapper) return; // wrapped again since: leave the newer wrapper
        if (had) (target as Record<string, unknown>)[method] = original;
        else delete (target as Record<string, unknown>)[method];
      },
    };
  }

  /** Whether the object is still usable (a wrapped method outliving it just runs unprobed). */
  #open(): boolean {
    try {
      this.#checkOpen();
      return true;
    } catch {
      return false;
    }
  }

  #probeCall(kind: string, fn: string, args: readonly unknown[]): void {
    if (!this.#open() || !this.attached(kind, fn).length) return;
    this.#withUserValues(args, (values) => {
      this.#runAll(this.attached(kind, fn), `${kind} ${fn}`, encodePtRegs(callRegs(values.slice(0, 6))));
    });
  }

  #probeReturn(fn: string, value: unknown): void {
    if (!this.#open() || !this.attached('uretprobe', fn).length) return;
    this.#withUserValues([value], ([ret]) => {
      this.#runAll(this.attached('uretprobe', fn), `uretprobe ${fn}`, encodePtRegs({ [PT_REGS_RC]: ret! }));
    });
  }

  /** JS values as register values, strings and bytes placed in the host's user memory while `use` runs. */
  #withUserValues(values: readonly unknown[], use: (regs: bigint[]) => void): void {
    const placed: HostMemoryRegion[] = [];
    const regs = values.map((v): bigint => {
      if (typeof v === 'bigint') return BigInt.asUintN(64, v);
      if (typeof v === 'number') return Number.isInteger(v) ? BigInt.asUintN(64, BigInt(v)) : 0n;
      if (typeof v === 'boolean') return v ? 1n : 0n;
      const bytes = typeof v === 'string' ? new TextEncoder().encode(`${v}\0`) : v instanceof Uint8Array ? v : undefined;
      if (bytes === undefined) return 0n;
      const address = this.#nextUser;
      this.#nextUser += BigInt(Math.ceil((bytes.length + 1) / 4096) * 4096);
      placed.push({ address, bytes });
      return address;
    });
    const host = this.#host;
    const before = host.userMemory;
    host.userMemory = [...before, ...placed];
    try {
      use(regs);
    } finally {
      host.userMemory = before;
    }
  }

  /** Runs each program on its own read-only copy of the context `bytes`. */
  #runAll(programs: readonly HookProgram[], name: string, bytes: Uint8Array): number {
    for (const p of programs) {
      const ctx = new HostContext(this.#memory, name, bytes, false);
      try {
        p.interpreter.run(ctx.address);
      } catch (err) {
        throw EbpfError.wrap(`program '${p.name}' on ${name}`, err);
      }
      finally {
        ctx.release();
      }
    }
    return programs.length;
  }
}
