/**
 * Map values with a bpf_spin_lock or a bpf_timer, and lookups in arrays with constant keys
 * (kernel 6.13+ elides their NULL check), against the running kernel: each small program is
 * loaded into the kernel and verified by us with the same maps; the verdicts must agree.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ProgramType } from '../../src/object/uapi-types.js';
import { kernelSkip } from '../support/kernel.js';
import { type KernelCase, disagreements, runKernelCases } from './kernel-cases.js';

/** r0 = lookup(map, key 0 on the stack); return 0 when NULL; r6 = value. */
const lookup = (map: string, key = 0): string => `
  *(u32 *)(r10 - 4) = ${key}
  r2 = r10
  r2 += -4
  r1 = MAP_${map} ll
  call bpf_map_lookup_elem#1
  if r0 == 0 goto out
  r6 = r0`;
const OUT = `
out:
  r0 = 0
  exit`;
const lock = (reg = 'r6', off = 4): string => `
  r1 = ${reg}
  r1 += ${off}
  call bpf_spin_lock#93`;
const unlock = (reg = 'r6', off = 4): string => `
  r1 = ${reg}
  r1 += ${off}
  call bpf_spin_unlock#94`;

const SPIN_LOCK: KernelCase[] = [
  { name: 'lock and unlock, hash', text: `${lookup('HL')}${lock()}${unlock()}${OUT}` },
  { name: 'lock and unlock, array', text: `${lookup('L')}${lock()}${unlock()}${OUT}` },
  { name: 'update under the lock', text: `${lookup('HL')}${lock()}
  r1 = *(u32 *)(r6 + 0)
  r1 += 1
  *(u32 *)(r6 + 0) = r1${unlock()}${OUT}` },
  { name: 'unlock through a copy', text: `${lookup('HL')}${lock()}
  r7 = r6${unlock('r7')}${OUT}` },
  { name: 'lock twice', text: `${lookup('HL')}${lock()}${lock()}${unlock()}${OUT}` },
  { name: 'unlock without lock', text: `${lookup('HL')}${unlock()}${OUT}` },
  { name: 'exit while locked', text: `${lookup('HL')}${lock()}${OUT}` },
  { name: 'helper call while locked', text: `${lookup('HL')}${lock()}
  call bpf_ktime_get_ns#5${unlock()}${OUT}` },
  { name: 'lock at the wrong offset', text: `${lookup('HL')}${lock('r6', 0)}${unlock('r6', 0)}${OUT}` },
  { name: 'lock at a variable offset', text: `${lookup('HL')}
  r1 = *(u32 *)(r6 + 0)
  r1 &= 4
  r1 += r6
  call bpf_spin_lock#93${unlock()}${OUT}` },
  { name: 'load of the lock field', text: `${lookup('HL')}
  r0 = *(u32 *)(r6 + 4)
  exit${OUT}` },
  { name: 'store over the lock field', text: `${lookup('HL')}
  *(u64 *)(r6 + 0) = 0${OUT}` },
  { name: 'load next to the lock field', text: `${lookup('HL')}
  r0 = *(u32 *)(r6 + 0)
  exit${OUT}` },
  { name: 'lock in a map without one', text: `${lookup('H')}${lock()}${unlock()}${OUT}` },
  { name: 'lock on a maybe-NULL value', text: `
  *(u32 *)(r10 - 4) = 0
  r2 = r10
  r2 += -4
  r1 = MAP_HL ll
  call bpf_map_lookup_elem#1
  r6 = r0${lock()}${unlock()}${OUT}` },
  { name: 'unlock of a different element', text: `${lookup('HL')}
  *(u32 *)(r10 - 8) = 1
  r2 = r10
  r2 += -8
  r1 = MAP_HL ll
  call bpf_map_lookup_elem#1
  if r0 == 0 goto out
  r7 = r0${lock()}${unlock('r7')}${OUT}` },
  { name: 'lock in a socket filter', progType: ProgramType.SOCKET_FILTER, text: `${lookup('HL')}${lock()}${unlock()}${OUT}` },
  { name: 'lock in a kprobe', progType: ProgramType.KPROBE, text: `${lookup('HL')}${lock()}${unlock()}${OUT}` },
  { name: 'lock in XDP', progType: ProgramType.XDP, text: `${lookup('HL')}${lock()}${unlock()}${OUT}` },
  { name: 'branches under the lock', text: `${lookup('HL')}${lock()}
  r1 = *(u32 *)(r6 + 0)
  if r1 > 5 goto big
  r1 = 1
  goto store
big:
  r1 = 2
store:
  *(u32 *)(r6 + 0) = r1${unlock()}${OUT}` },
  { name: 'unlock on one branch only', text: `${lookup('HL')}${lock()}
  r1 = *(u32 *)(r6 + 0)
  if r1 > 5 goto out${unlock()}${OUT}` },
  { name: 'LD_ABS while locked', text: `
  r9 = r1${lookup('HL')}${lock()}
  r6 = r9
  r0 = *(u8 *)skb[0]
  r6 = r0${OUT}` },
  { name: 'static call while locked', funcs: [['fn', 'cb']], text: `${lookup('HL')}${lock()}
  call fn${unlock()}${OUT}
fn:
  r0 = 0
  exit` },
  { name: 'static call that unlocks', funcs: [['fn', 'cb']], text: `${lookup('HL')}${lock()}
  r1 = r6
  call fn${OUT}
fn:
  r1 += 4
  call bpf_spin_unlock#94
  r0 = 0
  exit` },
  { name: 'global call while locked', funcs: [['fn', 'glob']], text: `${lookup('HL')}${lock()}
  call fn${unlock()}${OUT}
fn:
  r0 = 0
  exit` },
  { name: 'global-data-like direct value lock', text: `${lookup('L')}${lock()}
  r0 = *(u32 *)(r6 + 0)${unlock()}${OUT}` },
];

const TIMER: KernelCase[] = [
  { name: 'init, set_callback, start, cancel', funcs: [['cb', 'cb']], text: `${lookup('T')}
  r1 = r6
  r1 += 8
  r2 = MAP_T ll
  r3 = 1
  call bpf_timer_init#169
  r1 = r6
  r1 += 8
  r2 = FUNC_cb ll
  call bpf_timer_set_callback#170
  r1 = r6
  r1 += 8
  r2 = 1000
  r3 = 0
  call bpf_timer_start#171
  r1 = r6
  r1 += 8
  call bpf_timer_cancel#172${OUT}
cb:
  r0 = *(u32 *)(r3 + 0)
  r0 = *(u32 *)(r2 + 0)
  r0 = 0
  exit` },
  { name: 'init with another map', text: `${lookup('T')}
  r1 = r6
  r1 += 8
  r2 = MAP_T2 ll
  r3 = 1
  call bpf_timer_init#169${OUT}` },
  { name: 'init, hash map', text: `${lookup('HT')}
  r1 = r6
  r1 += 8
  r2 = MAP_HT ll
  r3 = 1
  call bpf_timer_init#169${OUT}` },
  { name: 'timer at the wrong offset', text: `${lookup('T')}
  r1 = r6
  r2 = MAP_T ll
  r3 = 1
  call bpf_timer_init#169${OUT}` },
  { name: 'timer in a map without one', text: `${lookup('H')}
  r1 = r6
  r2 = MAP_H ll
  r3 = 1
  call bpf_timer_init#169${OUT}` },
  { name: 'timer on a maybe-NULL value', text: `
  *(u32 *)(r10 - 4) = 0
  r2 = r10
  r2 += -4
  r1 = MAP_HT ll
  call bpf_map_lookup_elem#1
  r1 = r0
  r1 += 8
  call bpf_timer_cancel#172${OUT}` },
  { name: 'load of the timer field', text: `${lookup('T')}
  r0 = *(u64 *)(r6 + 16)
  r0 = *(u64 *)(r6 + 8)
  exit${OUT}` },
  { name: 'load after the timer field', text: `${lookup('T')}
  r0 = *(u64 *)(r6 + 16)
  r0 = *(u32 *)(r6 + 0)
  exit${OUT}` },
  { name: 'callback returns 1', funcs: [['cb', 'cb']], text: `${lookup('T')}
  r1 = r6
  r1 += 8
  r2 = FUNC_cb ll
  call bpf_timer_set_callback#170${OUT}
cb:
  r0 = 1
  exit` },
  { name: 'callback reads past its value', funcs: [['cb', 'cb']], text: `${lookup('T')}
  r1 = r6
  r1 += 8
  r2 = FUNC_cb ll
  call bpf_timer_set_callback#170${OUT}
cb:
  r0 = *(u64 *)(r3 + 24)
  r0 = 0
  exit` },
  { name: 'callback reads R4', funcs: [['cb', 'cb']], text: `${lookup('T')}
  r1 = r6
  r1 += 8
  r2 = FUNC_cb ll
  call bpf_timer_set_callback#170${OUT}
cb:
  r0 = r4
  r0 = 0
  exit` },
  { name: 'callback re-arms the timer', funcs: [['cb', 'cb']], text: `${lookup('T')}
  r1 = r6
  r1 += 8
  r2 = FUNC_cb ll
  call bpf_timer_set_callback#170${OUT}
cb:
  r1 = r3
  r1 += 8
  r2 = 10
  r3 = 0
  call bpf_timer_start#171
  r0 = 0
  exit` },
  { name: 'callback sets itself as the callback again', funcs: [['cb', 'cb']], text: `${lookup('T')}
  r1 = r6
  r1 += 8
  r2 = FUNC_cb ll
  call bpf_timer_set_callback#170${OUT}
cb:
  r1 = r3
  r1 += 8
  r2 = FUNC_cb ll
  call bpf_timer_set_callback#170
  r0 = 0
  exit` },
  { name: 'callback with its own stack', funcs: [['cb', 'cb']], text: `${lookup('T')}
  *(u64 *)(r10 - 400) = 0
  r1 = r6
  r1 += 8
  r2 = FUNC_cb ll
  call bpf_timer_set_callback#170${OUT}
cb:
  *(u64 *)(r10 - 200) = 0
  r0 = 0
  exit` },
  { name: 'callback with a loop', funcs: [['cb', 'cb']], text: `${lookup('T')}
  r1 = r6
  r1 += 8
  r2 = FUNC_cb ll
  call bpf_timer_set_callback#170${OUT}
cb:
  r1 = 0
loop:
  r1 += 1
  if r1 < 10 goto loop
  r0 = 0
  exit` },
  { name: 'global callback', funcs: [['cb', 'glob']], text: `${lookup('T')}
  r1 = r6
  r1 += 8
  r2 = FUNC_cb ll
  call bpf_timer_set_callback#170${OUT}
cb:
  r0 = 0
  exit` },
  { name: 'timer in a kprobe', progType: ProgramType.KPROBE, text: `${lookup('T')}
  r1 = r6
  r1 += 8
  call bpf_timer_cancel#172${OUT}` },
  { name: 'timer in a socket filter', progType: ProgramType.SOCKET_FILTER, text: `${lookup('T')}
  r1 = r6
  r1 += 8
  call bpf_timer_cancel#172${OUT}` },
];

/** A lookup whose result is dereferenced without a NULL check. */
const deref = (map: string, keyStore: string, keyOff = -4, helper = 'bpf_map_lookup_elem#1', extra = ''): string => `
  ${keyStore}
  r2 = r10
  r2 += ${keyOff}
  r1 = MAP_${map} ll${extra}
  call ${helper}
  r0 = *(u64 *)(r0 + 0)
  exit`;

const ELIDE: KernelCase[] = [
  { name: 'array, key 0', text: deref('A', '*(u32 *)(r10 - 4) = 0') },
  { name: 'hash, key 0', text: deref('H', '*(u32 *)(r10 - 4) = 0') },
  { name: 'array, key 3', text: deref('A', '*(u32 *)(r10 - 4) = 3') },
  { name: 'array, key 4 (out of range)', text: deref('A', '*(u32 *)(r10 - 4) = 4') },
  { name: 'array, key -1', text: deref('A', '*(u32 *)(r10 - 4) = -1') },
  { name: 'array, st at an aligned slot', text: deref('A', '*(u32 *)(r10 - 8) = 2', -8) },
  { name: 'array, register spill of 4 bytes', text: deref('A', 'r1 = 2\n  *(u32 *)(r10 - 8) = r1', -8) },
  { name: 'array, register spill of 8 bytes', text: deref('A', 'r1 = 2\n  *(u64 *)(r10 - 8) = r1', -8) },
  { name: 'array, zero register spill of 8 bytes', text: deref('A', 'r1 = 0\n  *(u64 *)(r10 - 8) = r1', -8) },
  { name: 'array, unaligned register store', text: deref('A', 'r1 = 2\n  *(u32 *)(r10 - 4) = r1') },
  { name: 'array, zero bytes of u64', text: deref('A', '*(u64 *)(r10 - 8) = 0', -8) },
  { name: 'array, key from two halves', text: deref('A', '*(u16 *)(r10 - 4) = 0\n  *(u16 *)(r10 - 2) = 0') },
  { name: 'array, half-zero key', text: deref('A', '*(u16 *)(r10 - 4) = 0\n  *(u16 *)(r10 - 2) = 1') },
  { name: 'array, unknown key', text: deref('A', 'call bpf_get_prandom_u32#7\n  *(u32 *)(r10 - 4) = r0') },
  { name: 'array, bounded unknown key', text: deref('A', 'call bpf_get_prandom_u32#7\n  r0 &= 3\n  *(u32 *)(r10 - 8) = r0', -8) },
  { name: 'large array, key 0xffff', text: deref('A8', '*(u32 *)(r10 - 8) = 0xffff', -8) },
  { name: 'percpu array, key 1', text: deref('PA', '*(u32 *)(r10 - 8) = 1', -8) },
  { name: 'percpu array, lookup_percpu_elem', text: deref('PA', '*(u32 *)(r10 - 8) = 1', -8, 'bpf_map_lookup_percpu_elem#195', '\n  r3 = 0') },
  { name: 'array with a lock, key 0', text: deref('L', '*(u32 *)(r10 - 4) = 0') },
  { name: 'array with a lock, lock without NULL check', text: `
  *(u32 *)(r10 - 4) = 0
  r2 = r10
  r2 += -4
  r1 = MAP_L ll
  call bpf_map_lookup_elem#1
  r6 = r0${lock()}${unlock()}${OUT}` },
  { name: 'array, NULL check kept', text: `${lookup('A')}
  r0 = *(u64 *)(r6 + 0)
  exit${OUT}` },
];

describe('special fields and constant-key lookups against the kernel', () => {
  for (const [name, cases] of [['bpf_spin_lock', SPIN_LOCK], ['bpf_timer', TIMER], ['lookup nullness elided', ELIDE]] as const) {
    it(name, { skip: kernelSkip() }, () => {
      const outcomes = runKernelCases(cases);
      assert.deepEqual(disagreements(outcomes), []);
      const accepts = outcomes.filter((o) => o.kernel === 'accept').length;
      assert.ok(accepts >= 2 && outcomes.length - accepts >= 2, `kernel verdicts: ${accepts} accepts of ${outcomes.length}`);
    });
  }
});
