/**
 * CGROUP_ARRAY, CGROUP_STORAGE and PERCPU_CGROUP_STORAGE against the kernel, with a cgroup v2
 * directory the test makes (and removes) under the unified hierarchy. On the kernel side
 * values are fds of the cgroup directories; on the VM side the cgroups' ids (their inode
 * numbers) in the host's cgroup table — the same cgroups, so every answer must agree:
 *
 * - cgroup array host commands (update, delete, lookup, get_next_key);
 * - bpf_current_task_under_cgroup (raw tracepoint) and bpf_skb_under_cgroup (sched_cls, whose
 *   test-run skb belongs to the running task), the test process sitting in the root cgroup;
 * - cgroup storages made by attaching a cgroup_skb program that uses them (to the test cgroup,
 *   ingress then egress) — `attach` on the VM side — then host lookups, updates with every flag,
 *   deletes and get_next_key over both storages and missing keys.
 */
import { after, before, describe, it } from 'node:test';
import { createSocket } from 'node:dgram';
import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { attachCgroup, AttachType, ProgramType, type Link } from '../../../src/kernel/index.js';
import { MapError, MapType, type CgroupStorageMap, type VmMap } from '../../../src/vm/index.js';
import { kernelSkip } from '../../support/kernel.js';
import { hex, possibleCpus, type KernelMap } from './kernel-maps.js';
import { ProgramSides, u32s } from './program-sides.js';
import { joinValue, splitPerCpu } from './differential.js';

const UNIFIED = '/sys/fs/cgroup/unified';
const kernel = kernelSkip();
/** The v2 hierarchy, and that this process is at its root ("0::/"). */
const skip = kernel || (!existsSync(`${UNIFIED}/cgroup.procs`) && !existsSync('/sys/fs/cgroup/cgroup.procs') ? 'no cgroup v2 hierarchy' : false);
const root = existsSync(`${UNIFIED}/cgroup.procs`) ? UNIFIED : '/sys/fs/cgroup';

function inRootCgroup(): boolean {
  return readFileSync('/proc/self/cgroup', 'utf8').split('\n').some((l) => l === '0::/');
}

const BAD_FD = 999_999;

function vmErrno(f: () => unknown): number {
  try {
    const r = f();
    return r === undefined || r === false ? 2 : 0;
  } catch (e) {
    if (e instanceof MapError) return e.errno;
    throw e;
  }
}

describe('cgroup maps against the kernel', { skip }, () => {
  const dir = `${root}/ebpf-vm-test-${process.pid}`;
  let rootFd = -1, childFd = -1;
  let rootId = 0n, childId = 0n;

  before(() => {
    mkdirSync(dir);
    rootFd = openSync(root, 'r');
    childFd = openSync(dir, 'r');
    rootId = BigInt(statSync(root).ino);
    childId = BigInt(statSync(dir).ino);
  });
  after(() => {
    if (rootFd >= 0) closeSync(rootFd);
    if (childFd >= 0) closeSync(childFd);
    if (existsSync(dir)) rmdirSync(dir);
  });

  const sidesFor = (): ProgramSides => new ProgramSides({
    cgroups: [{ id: rootId, path: '/' }, { id: childId, parent: rootId, path: dir }],
    cgroup: rootId,
  });

  it('cgroup array: host commands and the under_cgroup helpers', (t) => {
    assert.ok(inRootCgroup(), 'the test process must be in the root cgroup');
    using sides = sidesFor();
    const cg = sides.map('cg', { type: MapType.CGROUP_ARRAY, keySize: 4, valueSize: 4, maxEntries: 4 });
    const values = { root: [rootFd, rootId], child: [childFd, childId], bad: [BAD_FD, BigInt(BAD_FD)] } as const;
    const ops: Array<[op: 'update' | 'delete' | 'lookup' | 'nextKey', index: number | undefined, value?: keyof typeof values, flags?: number]> = [
      ['lookup', 0], ['nextKey', undefined], ['update', 0, 'root'], ['update', 1, 'child'], ['update', 2, 'bad'], ['update', 4, 'root'],
      ['update', 3, 'root', 1], ['update', 3, 'root', 2], ['lookup', 0], ['lookup', 4], ['delete', 2], ['delete', 4], ['update', 3, 'child'],
      ['delete', 3], ['delete', 3], ['nextKey', 0], ['nextKey', 3], ['nextKey', 9], ['update', 2, 'bad', 0],
    ];
    for (const [op, index, value, flags = 0] of ops) {
      const key = index === undefined ? undefined : u32s(index);
      const label = `${op} ${index}${value ? ` ${value}` : ''} flags ${flags}`;
      switch (op) {
        case 'update': {
          const [fd, id] = values[value!];
          assert.equal(vmErrno(() => { cg.vm.update(key, u32s(Number(id)), flags); return true; }), cg.kernel.update(key, u32s(fd), BigInt(flags)), label);
          break;
        }
        case 'delete': assert.equal(vmErrno(() => cg.vm.delete(key!)), cg.kernel.delete(key), label); break;
        case 'lookup': assert.equal(vmErrno(() => cg.vm.lookup(key)), cg.kernel.lookup(key).errno, label); break;
        case 'nextKey': {
          const want = cg.kernel.nextKey(key);
          assert.equal(hex(cg.vm.nextKey(key)), want.errno === 0 ? hex(want.bytes) : '-', label);
        }
      }
    }
    // Slots now: 0 root, 1 child, 2 and 3 empty.
    let helperCalls = 0;
    const task = `
      r6 = r1
      r2 = *(u32 *)(r6 + 0)
      r1 = map(cg)
      call 37
      exit`;
    const taskKernel = sides.kernelProgram(task, ProgramType.RAW_TRACEPOINT);
    const taskVm = sides.vmProgram(task);
    for (const index of [0, 1, 2, 3, 4, 0xffffffff]) {
      const ctx = new Uint8Array(8);
      ctx.set(u32s(index));
      const want = sides.kernelRun(taskKernel, { ctx, ctxSizeOut: 0 }) | 0;
      const region = sides.registry.memory.alloc(8, { kind: 'context', init: ctx });
      const got = Number(BigInt.asIntN(32, taskVm.run(region.start).r0 & 0xffffffffn));
      sides.registry.memory.release(region);
      assert.equal(got, want, `bpf_current_task_under_cgroup index ${index}`);
      helperCalls++;
    }
    for (const index of [0, 1, 2, 4]) {
      const skb = `
        r2 = map(cg)
        r3 = ${index}
        call 33
        exit`;
      const want = sides.kernelRun(sides.kernelProgram(skb, ProgramType.SCHED_CLS), { data: new Uint8Array(64) }) | 0;
      const got = Number(BigInt.asIntN(32, sides.vmProgram(skb).run(0).r0 & 0xffffffffn));
      assert.equal(got, want, `bpf_skb_under_cgroup index ${index}`);
      helperCalls++;
    }
    t.diagnostic(`${ops.length} host commands and ${helperCalls} helper calls compared`);
  });

  it('the cgroup helpers with the test process moved into the test cgroup', (t) => {
    assert.ok(inRootCgroup(), 'the test process must start in the root cgroup');
    using sides = sidesFor();
    sides.host.cgroup = childId;
    const cg = sides.map('cg', { type: MapType.CGROUP_ARRAY, keySize: 4, valueSize: 4, maxEntries: 2 });
    assert.equal(cg.kernel.update(u32s(0), u32s(rootFd)), 0);
    assert.equal(cg.kernel.update(u32s(1), u32s(childFd)), 0);
    cg.vm.update(u32s(0), u32s(Number(rootId)));
    cg.vm.update(u32s(1), u32s(Number(childId)));
    // r0 = current_task_under_cgroup(cg, arg0) + 2 * (current_cgroup_id == ctx arg1) + 4 * (ancestor(arg2) == ctx arg3)
    const text = `
      r6 = r1
      r1 = map(cg)
      r2 = *(u32 *)(r6 + 0)
      call 37
      r7 = r0
      call 80
      r1 = *(u64 *)(r6 + 8)
      if r0 != r1 goto +1
      r7 += 2
      r1 = *(u64 *)(r6 + 16)
      call 123
      r1 = *(u64 *)(r6 + 24)
      if r0 != r1 goto +1
      r7 += 4
      r0 = r7
      exit`;
    const kernelProg = sides.kernelProgram(text, ProgramType.RAW_TRACEPOINT);
    const vmProg = sides.vmProgram(text);
    const cases: Array<[index: number, id: bigint, level: bigint, ancestor: bigint]> = [
      [0, childId, 0n, rootId], [1, childId, 1n, childId], [1, rootId, 2n, 0n], [0, 0n, 0n, childId], [3, childId, 0xffffffffn, 0n],
    ];
    let compared = 0;
    writeFileSync(`${dir}/cgroup.procs`, `${process.pid}\n`);
    try {
      for (const [index, id, level, ancestor] of cases) {
        const ctx = new Uint8Array(32);
        const v = new DataView(ctx.buffer);
        v.setBigUint64(0, BigInt(index), true);
        v.setBigUint64(8, id, true);
        v.setBigUint64(16, level, true);
        v.setBigUint64(24, ancestor, true);
        const want = sides.kernelRun(kernelProg, { ctx, ctxSizeOut: 0 }) | 0;
        const region = sides.registry.memory.alloc(32, { kind: 'context', init: ctx });
        const got = Number(BigInt.asIntN(32, vmProg.run(region.start).r0 & 0xffffffffn));
        sides.registry.memory.release(region);
        assert.equal(got, want, `index ${index}, id ${id}, ancestor level ${level} = ${ancestor}`);
        compared++;
      }
      // The test-run skb's socket is made by this task: its cgroup is ours (low 32 bits of the ids as retval).
      for (const [text, what] of [['call 79', 'skb_cgroup_id'], ['r2 = 0\n call 83', 'skb_ancestor_cgroup_id(0)'],
        ['r2 = 1\n call 83', 'skb_ancestor_cgroup_id(1)'], ['r2 = 2\n call 83', 'skb_ancestor_cgroup_id(2)']] as const) {
        const source = `${text}\n exit`;
        const want = sides.kernelRun(sides.kernelProgram(source, ProgramType.SCHED_CLS), { data: new Uint8Array(64) });
        assert.equal(Number(sides.vmProgram(source).run(0).r0 & 0xffffffffn), want, what);
        compared++;
      }
    } finally {
      writeFileSync(`${root}/cgroup.procs`, `${process.pid}\n`);
    }
    assert.ok(inRootCgroup(), 'back in the root cgroup');
    t.diagnostic(`${compared} runs compared, in cgroup ${childId} under ${rootId}`);
  });

  it('bpf_get_local_storage: the storage of the cgroup and attach type the program runs for', async (t) => {
    assert.ok(inRootCgroup(), 'the test process must start in the root cgroup');
    using sides = sidesFor();
    const st = sides.map('st', { type: MapType.CGROUP_STORAGE, keySize: 16, valueSize: 8, maxEntries: 0 });
    // Counts its runs in the storage, lets the packet through.
    const text = `
      r1 = map(st)
      r2 = 0
      call 81
      r1 = *(u64 *)(r0 + 0)
      r1 += 1
      *(u64 *)(r0 + 0) = r1
      r0 = 1
      exit`;
    const DATAGRAMS = 5;
    const links: Link[] = [];
    try {
      for (const attachType of [AttachType.CGROUP_INET_INGRESS, AttachType.CGROUP_INET_EGRESS]) {
        links.push(attachCgroup(sides.kernelProgram(text, ProgramType.CGROUP_SKB, attachType), { cgroup: childFd, attachType }));
        (st.vm as CgroupStorageMap).attach(childId, attachType);
      }
      // Sockets made inside the test cgroup: their packets run the programs, egress at the
      // sender and ingress at the receiver.
      writeFileSync(`${dir}/cgroup.procs`, `${process.pid}\n`);
      try {
        const rx = createSocket('udp4');
        const tx = createSocket('udp4');
        try {
          await new Promise<void>((resolve) => rx.bind(0, '127.0.0.1', resolve));
          let received = 0;
          const all = new Promise<void>((resolve) => rx.on('message', () => { if (++received === DATAGRAMS) resolve(); }));
          for (let i = 0; i < DATAGRAMS; i++) {
            await new Promise<void>((resolve, reject) => tx.send(Uint8Array.of(i), rx.address().port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
          }
          await Promise.race([all, new Promise((_, reject) => setTimeout(() => reject(new Error(`${received} of ${DATAGRAMS} datagrams arrived`)), 3000))]);
        } finally {
          rx.close();
          tx.close();
        }
      } finally {
        writeFileSync(`${root}/cgroup.procs`, `${process.pid}\n`);
      }
      // The VM runs the program as often, for each attach type in turn.
      const vm = sides.vmProgram(text);
      sides.host.cgroup = childId;
      for (const attachType of [AttachType.CGROUP_INET_INGRESS, AttachType.CGROUP_INET_EGRESS]) {
        sides.host.cgroupAttachType = attachType;
        for (let i = 0; i < DATAGRAMS; i++) assert.equal(vm.run(0).r0, 1n);
      }
      const keys = st.kernel.keys();
      assert.deepEqual([...st.vm.keys()].map(hex), keys.map(hex), 'storages, newest first');
      for (const key of keys) {
        const want = st.kernel.lookup(key).bytes!;
        assert.equal(new DataView(want.buffer, want.byteOffset).getBigUint64(0, true), BigInt(DATAGRAMS), `kernel count of ${hex(key)}`);
        assert.equal(hex(st.vm.lookup(key) as Uint8Array), hex(want), `storage ${hex(key)}`);
      }
      t.diagnostic(`${keys.length} storages compared after ${DATAGRAMS} datagrams each way`);
    } finally {
      for (const l of links.reverse()) l.close();
    }
  });

  for (const type of [MapType.CGROUP_STORAGE, MapType.PERCPU_CGROUP_STORAGE]) {
    for (const keySize of [16, 8]) {
      it(`${type === MapType.CGROUP_STORAGE ? 'CGROUP_STORAGE' : 'PERCPU_CGROUP_STORAGE'} with ${keySize}-byte keys: host commands on attached storages`, (t) => {
        using sides = sidesFor();
        const st = sides.map('st', { type, keySize, valueSize: 12, maxEntries: 0 });
        const text = `
          r1 = map(st)
          r2 = 0
          call 81
          r0 = 1
          exit`;
        const links: Link[] = [];
        try {
          for (const attachType of [AttachType.CGROUP_INET_INGRESS, AttachType.CGROUP_INET_EGRESS]) {
            const program = sides.kernelProgram(text, ProgramType.CGROUP_SKB, attachType);
            links.push(attachCgroup(program, { cgroup: childFd, attachType }));
            (st.vm as CgroupStorageMap).attach(childId, attachType);
          }
          t.diagnostic(`${compareStorage(st.vm, st.kernel, keySize, [rootId, childId])} host commands compared`);
        } finally {
          for (const l of links.reverse()) l.close();
        }
      });
    }
  }
});

function storageKey(id: bigint, attachType: number, keySize: number): Uint8Array {
  const key = new Uint8Array(keySize);
  const v = new DataView(key.buffer);
  v.setBigUint64(0, id, true);
  if (keySize === 16) v.setUint32(8, attachType, true);
  return key;
}

/** Host commands on both storages; returns how many were compared. */
function compareStorage(vm: VmMap, kernel: KernelMap, keySize: number, ids: bigint[]): number {
  const cpus = possibleCpus();
  const flat = vm.perCpu ? 16 * cpus : 12;
  const keys = ids.flatMap((id) => [0, 1, 2].map((a) => storageKey(id, a, keySize)));
  let n = 0;
  const lookup = (key: Uint8Array, label: string): void => {
    const want = kernel.lookup(key);
    let got: Uint8Array | undefined;
    const errno = vmErrno(() => {
      const v = vm.lookup(key);
      if (v !== undefined) got = joinValue(v, 12);
      return v;
    });
    assert.equal(errno, want.errno, `${label}: lookup ${hex(key)}`);
    if (vm.perCpu && got) assert.deepEqual(splitPerCpu(got, 12, cpus).map(hex), splitPerCpu(want.bytes!, 12, cpus).map(hex), `${label}: value of ${hex(key)}`);
    else assert.equal(hex(got), want.errno === 0 ? hex(want.bytes) : '-', `${label}: value of ${hex(key)}`);
    n++;
  };
  const walk = (label: string): void => {
    const want = kernel.keys().map(hex);
    assert.deepEqual([...vm.keys()].map(hex), want, `${label}: keys in get_next_key order`);
    for (const key of keys) {
      const k = kernel.nextKey(key);
      assert.equal(hex(vm.nextKey(key)), k.errno === 0 ? hex(k.bytes) : '-', `${label}: next key after ${hex(key)}`);
      n++;
    }
  };
  walk('attached');
  for (const key of keys) lookup(key, 'fresh');
  let fill = 1;
  for (const flags of [0, 1, 2, 3, 4, 8]) {
    for (const key of keys) {
      const value = new Uint8Array(flat).map((_, i) => (vm.perCpu && i % 16 >= 12 ? 0 : fill + i));
      fill += 3;
      const hostValue = vm.perCpu ? splitPerCpu(value, 12, cpus) : value;
      assert.equal(vmErrno(() => { vm.update(key, hostValue, flags); return true; }), kernel.update(key, value, BigInt(flags)), `update ${hex(key)} flags ${flags}`);
      n++;
      lookup(key, `after update flags ${flags}`);
    }
  }
  for (const key of keys) {
    assert.equal(vmErrno(() => vm.delete(key)), kernel.delete(key), `delete ${hex(key)}`);
    n++;
  }
  walk('after updates');
  return n;
}
