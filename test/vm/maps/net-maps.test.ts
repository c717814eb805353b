/**
 * The VM's own rules for what the kernel comparisons cannot reach: devmap and cpumap entries
 * with programs (the kernel reads back its own program ids), devices other than `lo`, stacked
 * devices and BPF_F_EXCLUDE_INGRESS, AF_XDP sockets in XSKMAPs, the redirect target runXdp
 * reports, bpf_get_local_storage on attached storages, and user stacks / build ids.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assemble, encodeProgram } from '../../../src/isa/index.js';
import {
  bindHostEnvironment, CgroupStorageMap, Interpreter, MapError, MapRegistry, MapType, Memory, runXdp, VmHost, XdpAction,
  type VmDevice, type VmHostOptions, type VmMap,
} from '../../../src/vm/index.js';
import { mergeHelperTables, vmHelperTables } from '../../../src/vm/object/helper-tables.js';
import { u32s } from './program-sides.js';

function world(options: VmHostOptions = {}, cpus = 1): { registry: MapRegistry; host: VmHost; program: (text: string, maps: Record<string, VmMap>) => Interpreter } {
  const registry = new MapRegistry(new Memory(), { cpus });
  const host = new VmHost({ seed: 1, ...options });
  bindHostEnvironment(registry, host);
  const helpers = mergeHelperTables(vmHelperTables({ registry, host }));
  const program = (text: string, maps: Record<string, VmMap>): Interpreter => {
    const source = text.replace(/map\((\w+)\)/g, (_, name: string) => `0x${maps[name]!.address.toString(16)} ll`);
    return new Interpreter(encodeProgram(assemble(source)), { memory: registry.memory, helpers });
  };
  return { registry, host, program };
}

const errno = (f: () => unknown): number => {
  try {
    f();
    return 0;
  } catch (e) {
    if (e instanceof MapError) return e.errno;
    throw e;
  }
};

const PACKET = new Uint8Array(64);
const redirectText = (map: string, key: number, flags: number): string => `
  r1 = map(${map})
  r2 = ${key}
  r3 = ${flags}
  call 51
  exit`;

describe('devmaps and cpumaps in the VM', () => {
  const devices: VmDevice[] = [{ ifindex: 1, name: 'lo' }, { ifindex: 2, name: 'eth0', upper: [5] }, { ifindex: 3, name: 'eth1' }, { ifindex: 5, name: 'bond0' }];

  it('takes devices of the host network and programs of the registry, and reads back program ids', () => {
    const { registry } = world({ network: { devices } });
    using dev = registry.create({ type: MapType.DEVMAP, keySize: 4, valueSize: 8, maxEntries: 4 });
    const prog = registry.registerProgram({ name: 'devmap prog' });
    dev.update(u32s(0), u32s(2, prog));
    assert.deepEqual(dev.lookup(u32s(0)), u32s(2, prog));
    assert.equal(errno(() => dev.update(u32s(1), u32s(4, 0))), 22, 'no ifindex 4');
    assert.equal(errno(() => dev.update(u32s(1), u32s(2, prog + 1))), 22, 'no such program');
    assert.equal(errno(() => dev.update(u32s(1), u32s(0, prog))), 22, 'a program without a device');
    const typed = registry.registerProgram({ type: 6, spec: { expectedAttachType: 37 } });
    assert.equal(errno(() => dev.update(u32s(1), u32s(2, typed))), 22, 'an XDP program not made for devmaps');
    // A program's lookup points at a read-only bpf_devmap_val.
    const at = dev.programLookup(u32s(0));
    assert.notEqual(at, 0);
    assert.equal(registry.memory.find(at, 8)?.writable, false);
    using cpu = registry.create({ type: MapType.CPUMAP, keySize: 4, valueSize: 8, maxEntries: 4 });
    cpu.update(u32s(0), u32s(64, prog));
    assert.deepEqual(cpu.lookup(u32s(0)), u32s(64, prog));
    assert.equal(errno(() => cpu.update(u32s(1), u32s(64, 0))), 19, 'CPU 1 of a 1-CPU registry');
  });

  it('reports the redirect target: a device and its program, a broadcast without the ingress and its upper devices, a CPU', () => {
    const { registry, program } = world({ network: { devices } });
    using dev = registry.create({ type: MapType.DEVMAP_HASH, keySize: 4, valueSize: 8, maxEntries: 8 });
    const prog = registry.registerProgram({});
    for (const [key, ifindex] of [[10, 3], [11, 2], [12, 5], [13, 1]] as const) dev.update(u32s(key), u32s(ifindex, key === 10 ? prog : 0));
    const hit = runXdp(program(redirectText('dev', 10, 0), { dev }), PACKET, { ingressIfindex: 2 });
    assert.equal(hit.verdict, XdpAction.REDIRECT);
    assert.deepEqual(hit.redirect, { mapId: dev.id, mapType: MapType.DEVMAP_HASH, key: 10, flags: 0, ifindexes: [3], programId: prog });
    const miss = runXdp(program(redirectText('dev', 99, 2), { dev }), PACKET);
    assert.equal(miss.verdict, XdpAction.PASS);
    assert.equal(miss.redirect, undefined);
    // Buckets in order (key & 7: 10→2, 11→3, 12→4, 13→5); ingress eth0 and its bond excluded.
    const all = runXdp(program(redirectText('dev', 0, 8 | 16), { dev }), PACKET, { ingressIfindex: 2 });
    assert.deepEqual(all.redirect?.ifindexes, [3, 1]);
    const every = runXdp(program(redirectText('dev', 0, 8), { dev }), PACKET, { ingressIfindex: 2 });
    assert.deepEqual(every.redirect?.ifindexes, [3, 2, 5, 1]);
    using cpu = registry.create({ type: MapType.CPUMAP, keySize: 4, valueSize: 4, maxEntries: 2 });
    cpu.update(u32s(0), u32s(128));
    assert.equal(runXdp(program(redirectText('cpu', 0, 0), { cpu }), PACKET).redirect?.cpu, 0);
    assert.equal(runXdp(program(redirectText('cpu', 1, 1), { cpu }), PACKET).verdict, XdpAction.DROP);
  });
});

describe('XSKMAP in the VM', () => {
  it('holds the host\'s AF_XDP sockets by id, with the kernel\'s flag rules', () => {
    const { registry, program } = world({ xskSockets: [{ id: 7, ifindex: 1, queueId: 0 }, { id: 8, ifindex: 1, queueId: 1 }] });
    using xsk = registry.create({ type: MapType.XSKMAP, keySize: 4, valueSize: 4, maxEntries: 4 });
    assert.equal(errno(() => xsk.update(u32s(0), u32s(7), 2)), 2, 'BPF_EXIST on an empty slot');
    xsk.update(u32s(0), u32s(7), 1);
    assert.equal(errno(() => xsk.update(u32s(0), u32s(7), 1)), 0, 'the same socket again');
    assert.equal(errno(() => xsk.update(u32s(0), u32s(8), 1)), 17, 'another socket with BPF_NOEXIST');
    assert.equal(errno(() => xsk.update(u32s(1), u32s(9))), 9, 'no socket 9');
    assert.equal(errno(() => xsk.lookup(u32s(0))), 95, 'bpf() cannot read sockets back');
    assert.notEqual(xsk.programLookup(u32s(0)), 0);
    assert.equal(xsk.programLookup(u32s(1)), 0);
    const r = runXdp(program(redirectText('xsk', 0, 0), { xsk }), PACKET);
    assert.deepEqual(r.redirect?.xsk, { id: 7, ifindex: 1, queueId: 0 });
    assert.equal(runXdp(program(redirectText('xsk', 0, 8), { xsk }), PACKET).verdict, XdpAction.ABORTED, 'no broadcast for xskmaps');
  });
});

describe('cgroup storage in the VM', () => {
  const count = `
    r1 = map(st)
    r2 = 0
    call 81
    r1 = *(u64 *)(r0 + 0)
    r1 += 1
    *(u64 *)(r0 + 0) = r1
    r0 = r1
    exit`;

  it('bpf_get_local_storage gives the current cgroup\'s storage, made on first use and kept', () => {
    const { registry, host, program } = world({ cgroups: [{ id: 1n }, { id: 40n, parent: 1n }], cgroup: 40n, cgroupAttachType: 1 });
    using st = registry.create({ type: MapType.CGROUP_STORAGE, keySize: 16, valueSize: 8, maxEntries: 0 });
    const vm = program(count, { st });
    assert.equal(vm.run().r0, 1n);
    assert.equal(vm.run().r0, 2n);
    const key = new Uint8Array(16);
    new DataView(key.buffer).setBigUint64(0, 40n, true);
    key[8] = 1;
    assert.deepEqual(st.lookup(key), Uint8Array.of(2, 0, 0, 0, 0, 0, 0, 0));
    host.cgroup = 1n;
    assert.equal(vm.run().r0, 1n, 'another cgroup, another storage');
    assert.equal([...st.keys()].length, 2);
    assert.equal((st as CgroupStorageMap).detach(40n, 1), true);
    assert.equal([...st.keys()].length, 1);
  });

  it('per-CPU storages count per CPU', () => {
    const { registry, program } = world({}, 2);
    using st = registry.create({ type: MapType.PERCPU_CGROUP_STORAGE, keySize: 8, valueSize: 8, maxEntries: 0 });
    const vm = program(count, { st });
    vm.run();
    registry.cpu = 1;
    vm.run();
    vm.run();
    const key = new Uint8Array(8);
    key[0] = 1;
    assert.deepEqual(st.lookup(key), [Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0), Uint8Array.of(2, 0, 0, 0, 0, 0, 0, 0)]);
  });
});

describe('stack helpers in the VM', () => {
  it('walks the host\'s user stack, and gives build ids as the kernel\'s IP fallback', () => {
    const user = [0x401000n, 0x402000n, 0x403000n];
    const { registry, program } = world({ stack: { kernel: [0xffffffff81000000n], user } });
    using st = registry.create({ type: MapType.STACK_TRACE, keySize: 4, valueSize: 64, maxEntries: 8, flags: 1 << 5 });
    const id = program(`
      r2 = map(st)
      r3 = ${1 << 8 | 1}
      call 27
      exit`, { st }).run().r0;
    assert.ok(id >= 0n && id < 8n);
    const value = st.lookup(u32s(Number(id))) as Uint8Array;
    const v = new DataView(value.buffer);
    assert.equal(v.getInt32(0, true), 2, 'BPF_STACK_BUILD_ID_IP');
    assert.equal(v.getBigUint64(24, true), 0x402000n);
    assert.equal(v.getBigUint64(56, true), 0x403000n);
    // bpf_get_stack of the user stack into the stack frame, as build ids: 2 entries of 32 bytes.
    const got = program(`
      r2 = r10
      r2 += -64
      r3 = 64
      r4 = ${1 << 8 | 1 << 11}
      call 67
      exit`, { st }).run().r0;
    assert.equal(got, 64n);
    const empty = world({});
    using st2 = empty.registry.create({ type: MapType.STACK_TRACE, keySize: 4, valueSize: 64, maxEntries: 8 });
    assert.equal(BigInt.asIntN(64, empty.program(`
      r2 = map(st)
      r3 = 0
      call 27
      exit`, { st: st2 }).run().r0), -14n, 'no stack: -EFAULT');
  });
});
