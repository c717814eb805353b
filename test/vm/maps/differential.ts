/**
 * The engine of the map differential tests: one sequence of pseudo-random operations driven
 * through a VM map (host API) and the same map in the kernel (raw bpf()), every answer —
 * errno, value, next key — compared as it happens, then the final contents. With
 * BPF_F_ZERO_SEED the kernel's hash order is deterministic and compared exactly; otherwise
 * contents are compared as sets.
 */
import assert from 'node:assert/strict';
import { assemble, encodeProgram } from '../../../src/isa/index.js';
import { loadProgram, ProgramType, testRun, type Program } from '../../../src/kernel/index.js';
import { MapError, type MapOptions, type MapRegistry, type MapValue, type VmMap } from '../../../src/vm/index.js';
import { hex, KernelMap, pinToCpu, type Reply } from './kernel-maps.js';

const ENOENT = 2;

/** An operation both sides perform. */
export type Op =
  | { op: 'update'; key: Uint8Array | undefined; value: Uint8Array; flags: number }
  | { op: 'lookup'; key: Uint8Array | undefined }
  | { op: 'delete'; key: Uint8Array | undefined }
  | { op: 'nextKey'; key: Uint8Array | undefined }
  | { op: 'lookupAndDelete'; key: Uint8Array | undefined }
  /** A lookup by a program (sets LRU ref bits): bpf_map_lookup_elem in a test-run socket filter. */
  | { op: 'progLookup'; key: Uint8Array }
  /** Both sides move to another CPU (the test thread is re-pinned; the registry's CPU changes). */
  | { op: 'cpu'; cpu: number };

/** Counts of what was compared. */
export interface Tally {
  ops: number;
  errnos: Record<string, number>;
  finalKeys: number;
}

/** The VM's answer to a host op as errno + bytes, like the kernel's. */
function vmDo(map: VmMap, op: Op, cpus: number): Reply {
  try {
    switch (op.op) {
      case 'update': {
        const value = map.perCpu ? splitPerCpu(op.value, map.valueSize, cpus) : op.value;
        map.update(op.key, value, op.flags);
        return { errno: 0 };
      }
      case 'lookup': {
        const v = map.lookup(op.key);
        return v === undefined ? { errno: ENOENT } : { errno: 0, bytes: joinValue(v, map.valueSize) };
      }
      case 'delete':
        return { errno: map.delete(op.key!) ? 0 : ENOENT };
      case 'nextKey': {
        const k = map.nextKey(op.key);
        return k === undefined ? { errno: ENOENT } : { errno: 0, bytes: k };
      }
      case 'lookupAndDelete': {
        const v = map.lookupAndDelete(op.key);
        return v === undefined ? { errno: ENOENT } : { errno: 0, bytes: joinValue(v, map.valueSize) };
      }
      case 'progLookup':
        return { errno: map.programLookup(op.key) === 0 ? ENOENT : 0 };
      case 'cpu':
        map.registry.cpu = op.cpu;
        return { errno: 0 };
    }
  } catch (err) {
    if (err instanceof MapError) return { errno: err.errno };
    throw err;
  }
}

/** A per-CPU host value from the kernel's flat buffer (one `round_up(value_size, 8)` slot per CPU). */
export function splitPerCpu(flat: Uint8Array, valueSize: number, cpus: number): Uint8Array[] {
  const stride = Math.ceil(valueSize / 8) * 8;
  return Array.from({ length: cpus }, (_, c) => flat.slice(c * stride, c * stride + valueSize));
}

/** The kernel's flat layout of a VM value (per-CPU values padded to 8 bytes each). */
export function joinValue(v: MapValue, valueSize: number): Uint8Array {
  if (!Array.isArray(v)) return v;
  const stride = Math.ceil(valueSize / 8) * 8;
  const out = new Uint8Array(stride * v.length);
  v.forEach((x, c) => out.set(x, c * stride));
  return out;
}

/** Compares what bpf() read back with the VM's bytes (per-CPU padding is not compared). */
function sameBytes(kernel: Uint8Array | undefined, vm: Uint8Array | undefined, valueSize: number, perCpu: boolean, cpus: number): boolean {
  if (kernel === undefined || vm === undefined) return kernel === vm;
  if (!perCpu) return hex(kernel) === hex(vm);
  return splitPerCpu(kernel, valueSize, cpus).map(hex).join() === splitPerCpu(vm, valueSize, cpus).map(hex).join();
}

/** A socket filter that looks up the key at packet offset 0 (skb_load_bytes) and returns whether it was found. */
export function lookupProgram(mapFd: number, keySize: number): Program {
  const slot = Math.ceil(keySize / 8) * 8;
  const text = `
    r6 = r1
    r1 = r6
    r2 = 0
    r3 = r10
    r3 += -${slot}
    r4 = ${keySize}
    call 26
    ld_pseudo r1, 1, ${mapFd}
    r2 = r10
    r2 += -${slot}
    call 1
    if r0 == 0 goto miss
    r0 = 1
    exit
  miss:
    r0 = 0
    exit`;
  return loadProgram({ type: ProgramType.SOCKET_FILTER, instructions: encodeProgram(assemble(text)), license: 'GPL', name: 'lookup' });
}

/** Test-run input for {@link lookupProgram}: an Ethernet header (pulled off by the kernel) then the key. */
export function keyPacket(key: Uint8Array): Uint8Array {
  const data = new Uint8Array(14 + Math.max(key.length, 50));
  data.set(key, 14);
  return data;
}

function kernelDo(k: KernelMap, op: Op, prog: Program | undefined): Reply {
  switch (op.op) {
    case 'update': return { errno: k.update(op.key, op.value, BigInt(op.flags)) };
    case 'lookup': return k.lookup(op.key);
    case 'delete': return { errno: k.delete(op.key) };
    case 'nextKey': return k.nextKey(op.key);
    case 'lookupAndDelete': return k.lookupAndDelete(op.key);
    case 'progLookup': return { errno: testRun(prog!, { data: keyPacket(op.key) }).retval === 1 ? 0 : ENOENT };
    case 'cpu':
      pinToCpu(op.cpu);
      return { errno: 0 };
  }
}

function describeOp(op: Op): string {
  const parts: string[] = [op.op];
  if (op.op === 'cpu') parts.push(String(op.cpu));
  if ('key' in op) parts.push(`key=${hex(op.key)}`);
  if (op.op === 'update') parts.push(`value=${hex(op.value)}`, `flags=${op.flags}`);
  return parts.join(' ');
}

/**
 * Runs `ops` on a fresh kernel map and a fresh VM map made with `options`, comparing every
 * answer, then the final contents (in order when `ordered`).
 */
export function runDifferential(registry: MapRegistry, options: MapOptions, ops: Op[], ordered: boolean): Tally {
  const k = KernelMap.create({ ...options, mapExtra: BigInt(options.mapExtra ?? 0) });
  if (typeof k === 'number') throw new Error(`kernel refused the map: errno ${k}`);
  using kernel = k;
  using vm = registry.create(options);
  const cpus = registry.cpus;
  const needsProg = ops.some((o) => o.op === 'progLookup');
  using prog = needsProg ? lookupProgram(kernel.fd, options.keySize) : undefined;
  const tally: Tally = { ops: 0, errnos: {}, finalKeys: 0 };
  ops.forEach((op, i) => {
    const want = kernelDo(kernel, op, prog);
    const got = vmDo(vm, op, cpus);
    const where = `op ${i}: ${describeOp(op)}`;
    assert.equal(got.errno, want.errno, `${where}: errno`);
    assert.ok(sameBytes(want.bytes, got.bytes, options.valueSize, vm.perCpu && op.op !== 'nextKey', cpus),
      `${where}: kernel ${hex(want.bytes)}, VM ${hex(got.bytes)}`);
    tally.ops++;
    const name = `${op.op}:${want.errno}`;
    tally.errnos[name] = (tally.errnos[name] ?? 0) + 1;
  });
  pinToCpu(0);
  registry.cpu = 0;
  if (options.keySize === 0) {
    // Keyless (queue, stack): drain both and compare what comes out.
    for (;;) {
      const want = kernel.lookupAndDelete(undefined);
      const got = vmDo(vm, { op: 'lookupAndDelete', key: undefined }, cpus);
      assert.equal(got.errno, want.errno, 'final drain errno');
      assert.equal(hex(got.bytes), hex(want.bytes), 'final drain value');
      if (want.errno !== 0) break;
      tally.finalKeys++;
    }
    return tally;
  }
  const kernelKeys = kernel.keys().map(hex);
  const vmKeys = [...vm.keys()].map(hex);
  if (ordered) assert.deepEqual(vmKeys, kernelKeys, 'final keys in get_next_key order');
  else assert.deepEqual([...vmKeys].sort(), [...kernelKeys].sort(), 'final keys as a set');
  for (const key of kernel.keys()) {
    const want = kernel.lookup(key);
    const got = vmDo(vm, { op: 'lookup', key }, cpus);
    assert.equal(got.errno, want.errno, `final lookup ${hex(key)}`);
    assert.ok(sameBytes(want.bytes, got.bytes, options.valueSize, vm.perCpu, cpus), `final value of ${hex(key)}: kernel ${hex(want.bytes)}, VM ${hex(got.bytes)}`);
  }
  tally.finalKeys = kernelKeys.length;
  return tally;
}

/** Random ops over `keySpace` keys of `keySize` bytes (values of `valueBytes`), with `mix` weights. */
export function randomOps(rand: () => number, count: number, keySize: number, valueBytes: number, keySpace: number,
  mix: Partial<Record<Op['op'], number>>, flagChoices: number[] = [0, 0, 0, 1, 2], cpus = 1): Op[] {
  const keys = Array.from({ length: keySpace }, (_, i) => {
    const key = new Uint8Array(keySize);
    for (let j = 0; j < keySize; j++) key[j] = Math.floor(rand() * 256);
    key[0] = i & 0xff;
    if (keySize > 1) key[1] = (i >> 8) & 0xff;
    return key;
  });
  const pickKey = (): Uint8Array | undefined => (keySize === 0 ? undefined : keys[Math.floor(rand() * keys.length)]!);
  const entries = Object.entries(mix) as Array<[Op['op'], number]>;
  const total = entries.reduce((s, [, w]) => s + w, 0);
  const ops: Op[] = [];
  for (let i = 0; i < count; i++) {
    let r = rand() * total;
    const [kind] = entries.find(([, w]) => (r -= w) < 0) ?? entries[0]!;
    switch (kind) {
      case 'update': {
        const value = new Uint8Array(valueBytes);
        for (let j = 0; j < valueBytes; j++) value[j] = Math.floor(rand() * 256);
        ops.push({ op: 'update', key: pickKey(), value, flags: flagChoices[Math.floor(rand() * flagChoices.length)]! });
        break;
      }
      case 'nextKey': ops.push({ op: 'nextKey', key: rand() < 0.2 ? undefined : pickKey() }); break;
      case 'progLookup': ops.push({ op: 'progLookup', key: pickKey()! }); break;
      case 'cpu': ops.push({ op: 'cpu', cpu: Math.floor(rand() * cpus) }); break;
      default: ops.push({ op: kind, key: pickKey() } as Op);
    }
  }
  return ops;
}
