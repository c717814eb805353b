/**
 * Small programs for the attach tests, assembled from LLVM-syntax text: each proves it ran by
 * adding to a slot of an ARRAY map of u64 counters.
 */
import { readdirSync } from 'node:fs';
import { assemble, encodeProgram } from '../../../src/isa/index.js';
import {
  MapType, createMap, loadProgram, type KernelMap, type LoadProgramOptions, type Program,
} from '../../../src/kernel/index.js';

/** An ARRAY of `slots` u64 counters. */
export function counterMap(slots = 4): KernelMap {
  return createMap({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: slots, name: 'counters' });
}

/** The counter in `slot`. */
export function count(map: KernelMap, slot = 0): bigint {
  const key = new Uint8Array(new Uint32Array([slot]).buffer);
  const value = map.lookup(key);
  if (!value) throw new Error(`no slot ${slot}`);
  return new DataView(value.buffer, value.byteOffset).getBigUint64(0, true);
}

/**
 * Assembly that adds 1 to `map[slot]` (clobbers r0–r5); `label` must be unique in the program.
 */
export function bump(map: KernelMap, slot = 0, label = 'bumped'): string {
  return `
    r1 = ${slot}
    *(u32 *)(r10 - 4) = r1
    r2 = r10
    r2 += -4
    ld_pseudo r1, 1, ${map.fd}
    call 1
    if r0 == 0 goto ${label}
    r1 = 1
    lock *(u64 *)(r0 + 0) += r1
  ${label}:`;
}

/**
 * Assembly that jumps to `label` unless the current thread is this process's main thread
 * (bpf_get_current_pid_tgid() = tgid << 32 | tid, both the pid): other threads of Node (libuv,
 * V8) make system calls of their own. Clobbers r0 and r1.
 */
export function onlyThisProcess(label: string): string {
  return `
    call 14
    r1 = ${(BigInt(process.pid) << 32n) | BigInt(process.pid)} ll
    if r0 != r1 goto ${label}`;
}

/** Loads `text` as a program of `type` (GPL, named `name`). */
export function load(type: number, name: string, text: string, options: Partial<LoadProgramOptions> = {}): Program {
  return loadProgram({ type, name, license: 'GPL', instructions: encodeProgram(assemble(text)), ...options });
}

/** Open fds of this process (for leak checks). */
export function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Waits (synchronously, bounded) until `done()` or `timeoutMs` passes; returns `done()`. */
export function spinUntil(done: () => boolean, timeoutMs: number): boolean {
  const deadline = Date.now() + timeoutMs;
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  while (!done()) {
    if (Date.now() >= deadline) return false;
    Atomics.wait(sleeper, 0, 0, 10);
  }
  return true;
}
