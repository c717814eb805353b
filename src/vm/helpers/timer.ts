/**
 * BPF timers (kernel/bpf/helpers.c): bpf_timer_init (#169), bpf_timer_set_callback (#170),
 * bpf_timer_start (#171) and bpf_timer_cancel (#172) on the `struct bpf_timer` of a map value,
 * with the kernel's return values, and a host-driven timer queue in place of hrtimers.
 *
 * - init: flags are a clock id (CLOCK_REALTIME 0, CLOCK_MONOTONIC 1, CLOCK_BOOTTIME 7; anything
 *   else -EINVAL); -EBUSY when the timer is already initialized; -EPERM once the map is closed
 *   (the kernel's "no user references").
 * - set_callback: -EINVAL before init. The callback runs as `callback(map, key, value)` and
 *   must return 0.
 * - start: flags BPF_F_TIMER_ABS (1) / BPF_F_TIMER_CPU_PIN (2), others -EINVAL; -EINVAL
 *   before init or without a callback. A started timer is (re)armed to fire `nsecs` after now
 *   on its clock (at `nsecs` with BPF_F_TIMER_ABS); a callback may re-arm its own timer.
 * - cancel: 1 when the timer was armed, 0 when not; -EINVAL before init; -EDEADLK from the
 *   timer's own callback.
 *
 * Timers fire only when the host asks ({@link VmTimers.run}, or `VmObject.advanceTime`, which
 * moves a ManualClock from expiry to expiry): earliest expiry first, ties in the order they were
 * armed (the hrtimer queue's order). The timer's word in the value holds the VM's timer id;
 * the maps zero it when the element is deleted or replaced (bpf_obj_free_fields), so a timer
 * whose element went away, or whose map was closed, never fires — the kernel cancels it.
 */
import { VmError } from '../errors.js';
import type { Helper, HelperContext } from '../helpers.js';
import type { Interpreter } from '../interpreter.js';
import { ArrayMap } from '../maps/array.js';
import { HashMap } from '../maps/hash.js';
import { LruHashMap } from '../maps/lru-hash.js';
import type { VmMap } from '../maps/map.js';
import type { MapRegistry } from '../maps/registry.js';
import { BPF_TIMER_SIZE } from '../maps/value-fields.js';
import { mapArg } from './args.js';
import type { VmHost } from './host.js';

export const BPF_FUNC_timer_init = 169;
export const BPF_FUNC_timer_set_callback = 170;
export const BPF_FUNC_timer_start = 171;
export const BPF_FUNC_timer_cancel = 172;

/** bpf_timer_start flags. */
export const BPF_F_TIMER_ABS = 1n;
export const BPF_F_TIMER_CPU_PIN = 2n;

const EPERM = 1;
const EBUSY = 16;
const EINVAL = 22;
const EDEADLK = 35;
/** MAX_CLOCKS (include/uapi/linux/time.h). */
const MAX_CLOCKS = 16n;
/** The kernel's TAI − UTC offset the VmHost assumes (CLOCK_REALTIME = CLOCK_TAI − 37 s). */
const TAI_OFFSET_NS = 37_000_000_000n;

/** The clocks a timer may run on, by clock id. */
const CLOCKS = new Map<bigint, TimerClock>([[0n, 'realtime'], [1n, 'monotonic'], [7n, 'boot']]);
export type TimerClock = 'realtime' | 'monotonic' | 'boot';

/** A timer the VM knows, as `VmTimers.list()` reports it. */
export interface TimerInfo {
  /** The VM's id of the timer (what its word in the map value holds). */
  readonly id: bigint;
  readonly map: string;
  /** Key of the element holding the timer. */
  readonly key: Uint8Array;
  readonly clock: TimerClock;
  /** Expiry on its clock, in nanoseconds, while armed. */
  readonly expires: bigint | undefined;
}

interface Timer {
  readonly id: bigint;
  readonly map: VmMap;
  readonly timerAddress: number;
  readonly valueAddress: number;
  readonly key: Uint8Array;
  readonly clock: TimerClock;
  callback: { fn: bigint; program: Interpreter } | undefined;
  expires: bigint | undefined;
  /** Arming order, for ties. */
  seq: number;
}

/** The timers of one map registry, with the programs their callbacks belong to. */
export class VmTimers {
  readonly registry: MapRegistry;
  readonly host: VmHost;
  /** The programs whose functions may be callbacks (set by the loader). */
  programs: readonly Interpreter[] = [];
  readonly #timers = new Map<bigint, Timer>();
  #nextId = 1n;
  #seq = 0;
  /** The timer whose callback is running. */
  #running: Timer | undefined;

  constructor(registry: MapRegistry, host: VmHost) {
    this.registry = registry;
    this.host = host;
  }

  /** Now on `clock`, from the host. */
  now(clock: TimerClock): bigint {
    if (clock === 'realtime') return this.host.clock('tai') - TAI_OFFSET_NS;
    return this.host.clock(clock);
  }

  /** The live timers. */
  list(): TimerInfo[] {
    return [...this.#timers.values()].filter((t) => this.#live(t)).map((t) => ({
      id: t.id, map: t.map.name, key: t.key.slice(), clock: t.clock, expires: t.expires,
    }));
  }

  /** Expiry of the next armed timer, as nanoseconds on the host's monotonic clock (undefined when none). */
  nextExpiry(): bigint | undefined {
    return this.#next()?.at;
  }

  /**
   * Fires every armed timer due now (its expiry at or before its clock's now), earliest
   * first, including timers their callbacks re-arm to a time already past; at most `limit`
   * callbacks. Returns the number fired.
   */
  run(limit = 1 << 20): number {
    let fired = 0;
    for (;;) {
      const next = this.#next();
      if (next === undefined || next.timer.expires! > this.now(next.timer.clock)) return fired;
      if (fired >= limit) return fired;
      this.#fire(next.timer);
      fired++;
    }
  }

  /** The armed timer that expires first, with its expiry in monotonic terms. */
  #next(): { timer: Timer; at: bigint } | undefined {
    let best: { timer: Timer; at: bigint } | undefined;
    for (const t of this.#timers.values()) {
      if (t.expires === undefined) continue;
      if (!this.#live(t)) {
        this.#timers.delete(t.id);
        continue;
      }
      // Expiries on the other clocks, moved to the monotonic clock's scale.
      const at = t.expires - (this.now(t.clock) - this.now('monotonic'));
      if (best === undefined || at < best.at || (at === best.at && t.seq < best.timer.seq)) best = { timer: t, at };
    }
    return best;
  }

  /** Still in its map: the map open and the timer's word its id (zeroed when the element is freed). */
  #live(t: Timer): boolean {
    if (!t.map.open) return false;
    return this.registry.memory.view.getBigUint64(t.timerAddress, true) === t.id;
  }

  /** bpf_timer_cb: disarm, then `callback(map, key, value)` with the key in a read-only region. */
  #fire(t: Timer): void {
    t.expires = undefined;
    const callback = t.callback;
    if (callback === undefined) return;
    const memory = this.registry.memory;
    const keyRegion = memory.alloc(t.key.length, { kind: 'map_key', name: `map '${t.map.name}' timer key`, writable: false, init: t.key });
    this.#running = t;
    try {
      const { r0 } = callback.program.runFunction(callback.fn, t.map.address, keyRegion.start, t.valueAddress);
      if (r0 !== 0n) throw new VmError(`the timer callback of map '${t.map.name}' returned ${r0}; timer callbacks must return 0 (the kernel's verifier refuses others)`, 0);
    } finally {
      this.#running = undefined;
      memory.release(keyRegion);
    }
  }

  /** The timer whose `struct bpf_timer` is at the address in r1, or undefined when not initialized. */
  #timerAt(ctx: HelperContext, name: string): Timer | undefined {
    const address = timerArg(this.registry, ctx, name);
    const id = this.registry.memory.view.getBigUint64(address, true);
    if (id === 0n) return undefined;
    const t = this.#timers.get(id);
    return t !== undefined && this.#live(t) ? t : undefined;
  }

  /** The four timer helpers. */
  helpers(): Map<number, Helper> {
    return new Map<number, Helper>([
      [BPF_FUNC_timer_init, (ctx) => {
        const flags = ctx.arg(3);
        const clock = CLOCKS.get(flags & (MAX_CLOCKS - 1n));
        if (flags >= MAX_CLOCKS || clock === undefined) return -EINVAL;
        const address = timerArg(this.registry, ctx, 'bpf_timer_init');
        const map = mapArg(this.registry, ctx, 2);
        const view = this.registry.memory.view;
        if (view.getBigUint64(address, true) !== 0n) return -EBUSY;
        if (!map.open) return -EPERM;
        const element = findElement(map, address);
        if (element === undefined) {
          throw new VmError(`bpf_timer_init: r1 (0x${address.toString(16)}) is not the bpf_timer of an element of map '${map.name}' in r2`, ctx.index);
        }
        const id = this.#nextId++;
        this.#timers.set(id, { id, map, timerAddress: address, ...element, clock, callback: undefined, expires: undefined, seq: 0 });
        view.setBigUint64(address, id, true);
        return 0;
      }],
      [BPF_FUNC_timer_set_callback, (ctx) => {
        const t = this.#timerAt(ctx, 'bpf_timer_set_callback');
        if (t === undefined) return -EINVAL;
        if (!t.map.open) return -EPERM;
        const fn = ctx.arg(2);
        const program = this.programs.find((p) => p.ownsFunction(fn));
        if (program === undefined) throw new VmError(`bpf_timer_set_callback: r2 (0x${fn.toString(16)}) is not a function of a loaded program`, ctx.index);
        t.callback = { fn, program };
        return 0;
      }],
      [BPF_FUNC_timer_start, (ctx) => {
        const nsecs = ctx.arg(2);
        const flags = ctx.arg(3);
        if (flags & ~(BPF_F_TIMER_ABS | BPF_F_TIMER_CPU_PIN)) return -EINVAL;
        const t = this.#timerAt(ctx, 'bpf_timer_start');
        if (t === undefined || t.callback === undefined) return -EINVAL;
        // ktime_t is signed: an absolute or relative time past 2^63 saturates (ns_to_ktime, ktime_add_safe).
        const KTIME_MAX = (1n << 63n) - 1n;
        const span = nsecs > KTIME_MAX ? KTIME_MAX : nsecs;
        const at = flags & BPF_F_TIMER_ABS ? span : this.now(t.clock) + span;
        t.expires = at > KTIME_MAX ? KTIME_MAX : at;
        t.seq = ++this.#seq;
        return 0;
      }],
      [BPF_FUNC_timer_cancel, (ctx) => {
        const t = this.#timerAt(ctx, 'bpf_timer_cancel');
        if (t === undefined) return -EINVAL;
        if (this.#running === t) return -EDEADLK;
        const armed = t.expires !== undefined;
        t.expires = undefined;
        return armed ? 1 : 0;
      }],
    ]);
  }
}

/** The address in r1, checked to be a bpf_timer-sized, aligned part of a writable map value. */
function timerArg(registry: MapRegistry, ctx: HelperContext, name: string): number {
  const address = ctx.argNumber(1);
  const region = registry.memory.find(address, BPF_TIMER_SIZE);
  if (region === undefined || region.kind !== 'map_value' || address % 8 !== 0) {
    throw new VmError(`${name}: r1 (0x${address.toString(16)}) is not the bpf_timer of a map value`, ctx.index);
  }
  return address;
}

/** The element of `map` whose value holds the bpf_timer at `address`: its key and value address. */
function findElement(map: VmMap, address: number): { key: Uint8Array; valueAddress: number } | undefined {
  const offset = map.fields?.timer;
  if (offset === undefined) return undefined;
  const valueAddress = address - offset;
  if (map instanceof ArrayMap) {
    const index = (valueAddress - map.region.start) / map.elemSize;
    if (!Number.isInteger(index) || index < 0 || index >= map.maxEntries) return undefined;
    return { key: Uint8Array.of(index & 0xff, (index >>> 8) & 0xff, (index >>> 16) & 0xff, index >>> 24), valueAddress };
  }
  if (map instanceof HashMap || map instanceof LruHashMap) {
    for (const key of map.keys()) if (map.valueAddress(key) === valueAddress) return { key, valueAddress };
  }
  return undefined;
}

const TIMERS = new WeakMap<MapRegistry, VmTimers>();

/** The timers of `registry` (made on first use, with `host`'s clocks). */
export function timersOf(registry: MapRegistry, host: VmHost): VmTimers {
  let timers = TIMERS.get(registry);
  if (timers === undefined) {
    timers = new VmTimers(registry, host);
    TIMERS.set(registry, timers);
  }
  return timers;
}

/** The timer helpers for the maps of `registry`, on `host`'s clocks. */
export function timerHelpers(registry: MapRegistry, host: VmHost): Map<number, Helper> {
  return timersOf(registry, host).helpers();
}
