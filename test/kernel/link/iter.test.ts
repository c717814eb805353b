/**
 * A task iterator against the running kernel: an `iter/task` program (loaded with the BTF id of
 * `bpf_iter_task`) prints each task's pid with bpf_seq_printf(), its format string in a frozen
 * read-only map; reading the iterator lists the processes of /proc.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import {
  AttachType, MapFlag, MapType, ProgramType, createMap, type KernelMap,
} from '../../../src/kernel/index.js';
import { LinkType, attachBtfId, attachIter, attachProgram, structMemberOffset } from '../../../src/kernel/link/index.js';
import { kernelSkip } from '../../support/kernel.js';
import { load, openFds } from './programs.js';

/** A frozen BPF_F_RDONLY_PROG array holding `text` NUL-terminated: a constant string for helpers. */
function constString(text: string): KernelMap {
  const bytes = new TextEncoder().encode(`${text}\0`);
  const map = createMap({ type: MapType.ARRAY, keySize: 4, valueSize: bytes.length, maxEntries: 1, flags: MapFlag.RDONLY_PROG, name: 'fmt' });
  map.update(new Uint8Array(4), bytes);
  map.freeze();
  return map;
}

function taskIterProgram(fmt: KernelMap, length: number) {
  const pid = structMemberOffset('task_struct', 'pid');
  // ctx: struct bpf_iter__task { struct bpf_iter_meta *meta; struct task_struct *task; }
  return load(ProgramType.TRACING, 'iter_pids', `
    r6 = *(u64 *)(r1 + 0)
    r7 = *(u64 *)(r1 + 8)
    if r7 == 0 goto out
    r1 = *(u64 *)(r6 + 0)
    r2 = *(u32 *)(r7 + ${pid})
    *(u64 *)(r10 - 8) = r2
    ld_pseudo r2, 2, ${fmt.fd}, 0
    r3 = ${length}
    r4 = r10
    r4 += -8
    r5 = 8
    call 126
  out:
    r0 = 0
    exit`, { expectedAttachType: AttachType.TRACE_ITER, attachBtfId: attachBtfId(AttachType.TRACE_ITER, 'task') });
}

describe('iterators', { skip: kernelSkip() }, () => {
  it('an iter/task program lists every task, this process among them', () => {
    const before = openFds();
    {
      using fmt = constString('%d\n');
      using prog = taskIterProgram(fmt, 4);
      using iter = attachIter(prog);
      const pids = new Set(iter.read().trim().split('\n').map(Number));
      assert.ok(pids.has(process.pid), `this process (${process.pid})`);
      // Every process /proc lists (some may come and go between the two reads).
      const procs = readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number);
      const seen = procs.filter((pid) => pids.has(pid));
      assert.ok(seen.length >= procs.length * 0.8, `${seen.length} of ${procs.length} processes of /proc listed`);
      // Each read is a new walk.
      assert.ok(iter.read().length > 0);
      const info = iter.info();
      assert.equal(info.type, LinkType.ITER);
      assert.ok(info.detail.kind === 'iter' && info.detail.targetName === 'task', JSON.stringify(info.detail));
    }
    assert.equal(openFds(), before);
  });

  it('the dispatcher attaches an iterator from its section name', () => {
    using fmt = constString('%d\n');
    using prog = taskIterProgram(fmt, 4);
    using link = attachProgram(prog, { section: 'iter/task' });
    assert.equal(link.kind, 'iter');
    assert.equal(link.info().type, LinkType.ITER);
  });
});
