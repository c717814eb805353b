/**
 * What the VM's helpers know about the world outside the program, supplied by the host: the
 * clocks behind bpf_ktime_get_*_ns, the random state of bpf_get_prandom_u32, the task that
 * bpf_get_current_* report, the memory bpf_probe_read_* may read besides the VM's own, and
 * where bpf_trace_printk's lines go. Everything is injectable, so a run can be deterministic.
 */
import type { Memory } from '../memory.js';
import { DEFAULT_MAP_ENVIRONMENT, ROOT_CGROUP_ID, type VmCgroup, type VmXskSocket } from '../maps/environment.js';
import { TracePipe } from './trace-pipe.js';
import { LOOPBACK_NETWORK, type VmNetwork } from '../programs/net-table.js';

/** The clocks of the ktime helpers: CLOCK_MONOTONIC, CLOCK_BOOTTIME, the coarse monotonic clock, CLOCK_TAI. */
export type ClockId = 'monotonic' | 'boot' | 'coarse' | 'tai';

/** The current task, as bpf_get_current_pid_tgid/uid_gid/comm report it. */
export interface VmTask {
  /** Thread id (the kernel's `pid`). */
  pid: number;
  /** Process id (the kernel's `tgid`). */
  tgid: number;
  uid: number;
  gid: number;
  /** Command name; the kernel keeps 15 bytes (TASK_COMM_LEN 16 with the NUL). */
  comm: string;
}

/** Bytes at an address outside the VM's linear memory (a traced process's memory, kernel data). */
export interface HostMemoryRegion {
  readonly address: bigint | number;
  readonly bytes: Uint8Array;
}

/**
 * A clock the host moves by hand (for deterministic runs and the VM's timers): the monotonic,
 * boot and coarse clocks read `now` (coarse rounded down to its tick), TAI reads `now` plus a
 * fixed offset. Give it as `VmHostOptions.clock`; `VmObject.advanceTime` moves it.
 */
export class ManualClock {
  #now: bigint;
  /** CLOCK_TAI − CLOCK_MONOTONIC. */
  readonly taiOffset: bigint;

  constructor(startNs: bigint | number = 0n, taiOffset: bigint | number = 0n) {
    this.#now = BigInt(startNs);
    this.taiOffset = BigInt(taiOffset);
  }

  /** CLOCK_MONOTONIC now, in nanoseconds. */
  get now(): bigint {
    return this.#now;
  }

  /** Sets the clock; it never goes back (RangeError). */
  set(ns: bigint): void {
    if (ns < this.#now) throw new RangeError(`the clock cannot go back (from ${this.#now} to ${ns} ns)`);
    this.#now = ns;
  }

  /** Moves the clock forward by `ns`. */
  advance(ns: bigint | number): void {
    this.set(this.#now + BigInt(ns));
  }

  /** Reads clock `clock`: the function a VmHost calls. */
  readonly read = (clock: ClockId): bigint => {
    if (clock === 'tai') return this.#now + this.taiOffset;
    return clock === 'coarse' ? this.#now - (this.#now % COARSE_TICK_NS) : this.#now;
  };
}

/** The call stacks bpf_get_stackid and bpf_get_stack see: return addresses, innermost first. */
export interface VmCallStack {
  readonly kernel?: readonly bigint[];
  readonly user?: readonly bigint[];
}

/** Options of a {@link VmHost}. */
export interface VmHostOptions {
  /** Nanoseconds of each clock, or a {@link ManualClock}; default the host's monotonic and wall clocks. */
  clock?: ((clock: ClockId) => bigint) | ManualClock;
  /** Seed of bpf_get_prandom_u32's generator; default a random one. */
  seed?: number | bigint;
  /** The current task; fields left out keep their defaults (pid/tgid 1, uid/gid 0, comm `ebpf-vm`). */
  task?: Partial<VmTask>;
  /** Memory bpf_probe_read_user(_str) reads (and the compat helpers, at these addresses). */
  userMemory?: readonly HostMemoryRegion[];
  /** Memory bpf_probe_read_kernel(_str) reads besides the VM's own linear memory. */
  kernelMemory?: readonly HostMemoryRegion[];
  /** Receives each line bpf_trace_printk and bpf_trace_vprintk write (also kept in `tracePipe`). */
  onTrace?: (line: string) => void;
  /** Devices, routes and neighbours bpf_fib_lookup and bpf_clone_redirect see; default loopback alone. */
  network?: VmNetwork;
  /** The cgroup hierarchy (ids as the kernel's cgroup inode ids); default the root (id 1) only. */
  cgroups?: readonly VmCgroup[];
  /** The current task's cgroup (the under_cgroup helpers, bpf_get_local_storage); default the root. */
  cgroup?: bigint;
  /** The attach type programs run under, for cgroup storages keyed by it; default 0 (BPF_CGROUP_INET_INGRESS). */
  cgroupAttachType?: number;
  /** The current task's net_cls classid (bpf_get_cgroup_classid); default 0, a cgroup-v2-only system's. */
  netClassid?: number;
  /** Bound AF_XDP sockets XSKMAPs can hold; default none. */
  xskSockets?: readonly VmXskSocket[];
  /** The call stacks the stack helpers walk; default empty (bpf_get_stackid answers -EFAULT). */
  stack?: VmCallStack;
}

/** Kernel's TAI − UTC offset since 2017 (the kernel's own comes from NTP; 37 s is today's). */
const TAI_OFFSET_NS = 37_000_000_000n;
/** The coarse clock advances once per tick; 4 ms is a tick at CONFIG_HZ=250. */
const COARSE_TICK_NS = 4_000_000n;

/** The host clocks: performance.now() for the monotonic ones, Date for TAI. Platform-neutral. */
export function hostClock(clock: ClockId): bigint {
  if (clock === 'tai') return BigInt(Date.now()) * 1_000_000n + TAI_OFFSET_NS;
  const ns = BigInt(Math.floor(performance.now() * 1e6));
  return clock === 'coarse' ? ns - (ns % COARSE_TICK_NS) : ns;
}

/**
 * bpf_get_prandom_u32's generator: the kernel's prandom state (lib/random32.c, a four-part
 * Tausworthe generator, L'Ecuyer's LFSR113). The kernel seeds it from its entropy pool; here a
 * seed is spread over the four parts the way the kernel's self-test seeds it
 * (prandom_seed_early: each part from the previous by the LCG x·69069), then warmed up, so
 * seeds 1..4 give the self-test's first outputs.
 */
export class PrandomState {
  #s1 = 0;
  #s2 = 0;
  #s3 = 0;
  #s4 = 0;

  /** `seed` as a u32 (a wider one is folded: high word xor low word). */
  constructor(seed: number | bigint) {
    const s = BigInt.asUintN(64, BigInt(seed));
    const u32 = Number(((s >> 32n) ^ s) & 0xffffffffn);
    // Each part needs a minimum value to leave the generator's degenerate states (__seed).
    const atLeast = (x: number, m: number): number => (x < m ? x + m : x);
    const lcg = (x: number): number => Math.imul(x, 69069) >>> 0;
    this.#s1 = atLeast(lcg(u32), 2);
    this.#s2 = atLeast(lcg(this.#s1), 8);
    this.#s3 = atLeast(lcg(this.#s2), 16);
    this.#s4 = atLeast(lcg(this.#s3), 128);
    for (let k = 0; k < 10; k++) this.next(); // prandom_warmup
  }

  /** The next u32. */
  next(): number {
    const s1 = this.#s1, s2 = this.#s2, s3 = this.#s3, s4 = this.#s4;
    this.#s1 = ((s1 & 0xfffffffe) << 18) ^ (((s1 << 6) ^ s1) >>> 13);
    this.#s2 = ((s2 & 0xfffffff8) << 2) ^ (((s2 << 2) ^ s2) >>> 27);
    this.#s3 = ((s3 & 0xfffffff0) << 7) ^ (((s3 << 13) ^ s3) >>> 21);
    this.#s4 = ((s4 & 0xffffff80) << 13) ^ (((s4 << 3) ^ s4) >>> 12);
    return (this.#s1 ^ this.#s2 ^ this.#s3 ^ this.#s4) >>> 0;
  }
}

function randomSeed(): bigint {
  const words = new Uint32Array(2);
  globalThis.crypto.getRandomValues(words);
  return (BigInt(words[0]!) << 32n) | BigInt(words[1]!);
}

/** The host side of the VM's helpers; see the module comment. Fields may change between runs. */
export class VmHost {
  clock: (clock: ClockId) => bigint;
  /** The clock when it was given as a {@link ManualClock} (what `advanceTime` moves). */
  readonly manualClock: ManualClock | undefined;
  random: PrandomState;
  task: VmTask;
  userMemory: readonly HostMemoryRegion[];
  kernelMemory: readonly HostMemoryRegion[];
  /** bpf_trace_printk's output. */
  readonly tracePipe: TracePipe;
  cgroups: readonly VmCgroup[];
  cgroup: bigint;
  cgroupAttachType: number;
  netClassid: number;
  xskSockets: readonly VmXskSocket[];
  stack: VmCallStack;
  /** The network namespace of the packet helpers (src/vm/programs/net-table.ts). */
  network: VmNetwork;

  constructor(options: VmHostOptions = {}) {
    this.manualClock = options.clock instanceof ManualClock ? options.clock : undefined;
    this.clock = options.clock instanceof ManualClock ? options.clock.read : options.clock ?? hostClock;
    this.random = new PrandomState(options.seed ?? randomSeed());
    this.task = { pid: 1, tgid: 1, uid: 0, gid: 0, comm: 'ebpf-vm', ...options.task };
    this.userMemory = options.userMemory ?? [];
    this.kernelMemory = options.kernelMemory ?? [];
    this.tracePipe = new TracePipe(options.onTrace);
    this.network = options.network ?? LOOPBACK_NETWORK;
    this.cgroups = options.cgroups ?? DEFAULT_MAP_ENVIRONMENT.cgroups;
    this.cgroup = options.cgroup ?? ROOT_CGROUP_ID;
    this.cgroupAttachType = options.cgroupAttachType ?? 0;
    this.netClassid = options.netClassid ?? 0;
    this.xskSockets = options.xskSockets ?? DEFAULT_MAP_ENVIRONMENT.xskSockets;
    this.stack = options.stack ?? {};
  }
}

/** The bytes of `regions` at `[address, address + size)`, when one region holds them all. */
function hostBytes(regions: readonly HostMemoryRegion[], address: bigint, size: number): Uint8Array | undefined {
  for (const r of regions) {
    const start = BigInt(r.address);
    if (address >= start && address + BigInt(size) <= start + BigInt(r.bytes.length)) {
      const at = Number(address - start);
      return r.bytes.subarray(at, at + size);
    }
  }
  return undefined;
}

/** The readable bytes from `address` to the end of whatever holds it (for string reads). */
function hostTail(regions: readonly HostMemoryRegion[], address: bigint): Uint8Array | undefined {
  for (const r of regions) {
    const start = BigInt(r.address);
    if (address >= start && address < start + BigInt(r.bytes.length)) return r.bytes.subarray(Number(address - start));
  }
  return undefined;
}

/** An address space the probe-read helpers read: the VM's memory and the host's regions. */
export type AddressSpace = 'user' | 'kernel';

/**
 * Reads `size` bytes at `address` of `space`: user space is the host's `userMemory`; kernel
 * space is the VM's linear memory (any region: stack, maps, context) then `kernelMemory`.
 * Undefined when the bytes are not all there — the kernel's fault.
 */
export function readSpace(host: VmHost, memory: Memory, space: AddressSpace, address: bigint, size: number): Uint8Array | undefined {
  if (size === 0) return new Uint8Array(0);
  if (space === 'user') return hostBytes(host.userMemory, address, size);
  if (address + BigInt(size) <= 0x1_0000_0000n) {
    const a = Number(address);
    // Regions may lie back to back (a context's parts): read across them as memory would.
    let at = a;
    while (at < a + size) {
      const r = memory.near(at);
      if (r === undefined) break;
      at = r.end;
    }
    if (at >= a + size) return memory.bytes.slice(a, a + size);
  }
  return hostBytes(host.kernelMemory, address, size);
}

/**
 * Copies a NUL-terminated string at `address` of `space` into `out`, as
 * strncpy_from_{user,kernel}_nofault do: at most `out.length - 1` bytes and a NUL; returns the
 * bytes used including the NUL (`out.length` when truncated), or -EFAULT when the string runs
 * into unreadable memory (with `out[0]` then 0). `out.length` 0 copies nothing and returns 0.
 */
export function copyString(host: VmHost, memory: Memory, space: AddressSpace, address: bigint, out: Uint8Array): number {
  const count = out.length;
  if (count === 0) return 0;
  let n = 0;
  while (n < count) {
    const chunk = stringChunk(host, memory, space, address + BigInt(n));
    if (chunk === undefined) {
      out[0] = 0;
      return -14; // -EFAULT
    }
    for (let i = 0; i < chunk.length && n < count; i++) {
      const b = chunk[i]!;
      out[n++] = b;
      if (b === 0) return n;
    }
  }
  out[count - 1] = 0;
  return count;
}

function stringChunk(host: VmHost, memory: Memory, space: AddressSpace, address: bigint): Uint8Array | undefined {
  if (space === 'kernel' && address < 0x1_0000_0000n) {
    const r = memory.near(Number(address));
    if (r !== undefined) return memory.bytes.subarray(Number(address), r.end);
  }
  return hostTail(space === 'user' ? host.userMemory : host.kernelMemory, address);
}

/**
 * The space the legacy helpers (bpf_probe_read, bpf_probe_read_str) and `%s` read at
 * `address`: the kernel picks by address (user below TASK_SIZE on x86); the VM's addresses are
 * small, so here an address inside a user region is user space and anything else kernel.
 */
export function compatSpace(host: VmHost, address: bigint): AddressSpace {
  return hostTail(host.userMemory, address) !== undefined ? 'user' : 'kernel';
}
