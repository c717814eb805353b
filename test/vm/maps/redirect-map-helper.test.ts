/**
 * bpf_redirect_map in XDP programs, run with BPF_PROG_TEST_RUN in the kernel and runXdp in the
 * VM: every (map, key, flags) case's return value compared — XDP_REDIRECT on a hit or a
 * broadcast, the flags' fallback action on a miss, XDP_ABORTED for unknown flag bits — and the
 * VM's reported target checked against the entries the test put in the map.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ProgramType } from '../../../src/kernel/index.js';
import { MapType, runXdp, XdpAction, type VmMap } from '../../../src/vm/index.js';
import { kernelSkip } from '../../support/kernel.js';
import { pinToCpu0 } from './kernel-maps.js';
import { ProgramSides, u32s } from './program-sides.js';

const skip = kernelSkip();

const KEYS = [0n, 1n, 2n, 3n, 7n, 8n, 100n, 0xffffffffn, (1n << 32n) | 3n, (5n << 40n) | 100n];
const FLAGS = [0n, 1n, 2n, 3n, 4n, 8n, 8n | 16n, 16n, 8n | 2n, 16n | 1n, 32n, 1n << 32n, 0xffffffffn];

/** An Ethernet frame (what XDP test runs take). */
const PACKET = new Uint8Array(64).fill(0xab);

describe('bpf_redirect_map against the kernel', { skip }, () => {
  it('returns what the kernel returns for devmaps, devmap hashes, cpumaps and xskmaps', (t) => {
    pinToCpu0();
    using sides = new ProgramSides();
    const dev = sides.map('dev', { type: MapType.DEVMAP, keySize: 4, valueSize: 4, maxEntries: 8 });
    const devHash = sides.map('dev_hash', { type: MapType.DEVMAP_HASH, keySize: 4, valueSize: 8, maxEntries: 8 });
    const cpu = sides.map('cpu', { type: MapType.CPUMAP, keySize: 4, valueSize: 4, maxEntries: 4 });
    sides.map('xsk', { type: MapType.XSKMAP, keySize: 4, valueSize: 4, maxEntries: 4 });
    const put = (m: { vm: VmMap; kernel: { update(k: Uint8Array, v: Uint8Array): number } }, key: number, value: Uint8Array): void => {
      assert.equal(m.kernel.update(u32s(key), value), 0);
      m.vm.update(u32s(key), value);
    };
    put(dev, 0, u32s(1));
    put(dev, 3, u32s(1));
    put(devHash, 1, u32s(1, 0));
    put(devHash, 100, u32s(1, 0));
    put(cpu, 0, u32s(192));
    const hits: Record<string, Set<number>> = { dev: new Set([0, 3]), dev_hash: new Set([1, 100]), cpu: new Set([0]), xsk: new Set() };
    let compared = 0, redirects = 0;
    for (const name of ['dev', 'dev_hash', 'cpu', 'xsk']) {
      for (const key of KEYS) {
        for (const flags of FLAGS) {
          const text = `
            r1 = map(${name})
            r2 = 0x${key.toString(16)} ll
            r3 = 0x${flags.toString(16)} ll
            call 51
            exit`;
          const kernel = sides.kernelRun(sides.kernelProgram(text, ProgramType.XDP), { data: PACKET });
          const vm = runXdp(sides.vmProgram(text), PACKET);
          const label = `${name} key 0x${key.toString(16)} flags 0x${flags.toString(16)}`;
          assert.equal(vm.verdict, kernel, label);
          compared++;
          if (vm.verdict !== XdpAction.REDIRECT) {
            assert.equal(vm.redirect, undefined, `${label}: no target without XDP_REDIRECT`);
            continue;
          }
          redirects++;
          const index = Number(key & 0xffffffffn);
          const r = vm.redirect;
          assert.ok(r !== undefined, `${label}: a target`);
          assert.equal(r.key, index, label);
          if (name === 'cpu') assert.equal(r.cpu, index, label);
          else if (flags & 8n) assert.deepEqual(r.ifindexes, flags & 16n ? [] : [1, 1], `${label}: broadcast to every entry but the ingress lo`);
          else {
            assert.ok(hits[name]!.has(index), label);
            assert.deepEqual(r.ifindexes, [1], label);
          }
        }
      }
    }
    // bpf_map_lookup_elem on the devmaps: the entry's read-only bpf_devmap_val (ifindex), or NULL.
    let lookups = 0;
    for (const name of ['dev', 'dev_hash']) {
      for (const key of [0, 1, 2, 3, 7, 8, 100, 0xffffffff]) {
        const text = `
          *(u32 *)(r10 - 4) = ${key | 0}
          r1 = map(${name})
          r2 = r10
          r2 += -4
          call 1
          if r0 == 0 goto miss
          r0 = *(u32 *)(r0 + 0)
          exit
        miss:
          r0 = 1000
          exit`;
        const kernel = sides.kernelRun(sides.kernelProgram(text, ProgramType.XDP), { data: PACKET });
        assert.equal(runXdp(sides.vmProgram(text), PACKET).verdict, kernel, `lookup ${name} ${key}`);
        lookups++;
      }
    }
    t.diagnostic(`${compared} bpf_redirect_map calls compared (${redirects} XDP_REDIRECT), ${lookups} devmap lookups`);
  });
});
