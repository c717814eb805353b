/**
 * XSKMAP with real AF_XDP sockets, bound inside a test network namespace (to its veth and its
 * loopback): the VM's host table holds the same sockets with their fd numbers as ids, so the
 * same value bytes go to both sides. Host updates with every flag (the same socket again, a
 * second socket, a bad fd), deletes, lookups (EOPNOTSUPP) and get_next_key compared; then
 * bpf_redirect_map over the filled maps in XDP test runs, return values compared.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ip, createVethPair, netnsSkip } from '../../support/netns.js';
import { withNetns } from '../../../src/kernel/link/netns.js';
import { ProgramType } from '../../../src/kernel/index.js';
import { MapRegistry, MapType, Memory, runXdp, setMapEnvironment, DEFAULT_MAP_ENVIRONMENT, type VmXskSocket } from '../../../src/vm/index.js';
import { kernelSkip } from '../../support/kernel.js';
import { runDifferential, type Op } from './differential.js';
import { pinToCpu0, possibleCpus, prng } from './kernel-maps.js';
import { ProgramSides, u32s } from './program-sides.js';
import { createXskSocket, type XskSocket } from './xsk-socket.js';

const skip = kernelSkip() || netnsSkip();

describe('XSKMAP with AF_XDP sockets against the kernel', { skip }, () => {
  it('host commands and bpf_redirect_map', (t) => {
    pinToCpu0();
    using pair = createVethPair();
    const vethIndex = Number(/^(\d+):/.exec(ip('-n', pair.a.netns, '-o', 'link', 'show', 'veth-a'))![1]);
    const sockets: XskSocket[] = withNetns(pair.a.netns, () => {
      const first = createXskSocket(vethIndex, 0);
      try {
        return [first, createXskSocket(1, 0)];
      } catch (err) {
        first.close();
        throw err;
      }
    });
    try {
      const table: VmXskSocket[] = sockets.map((s) => ({ id: s.fd, ifindex: s.ifindex, queueId: s.queueId }));
      const registry = new MapRegistry(new Memory(), { cpus: possibleCpus(), cpu: 0 });
      setMapEnvironment(registry, { ...DEFAULT_MAP_ENVIRONMENT, xskSockets: table });
      const rand = prng(11);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
      const fds = [sockets[0]!.fd, sockets[1]!.fd, 999_999];
      const ops: Op[] = [];
      for (let i = 0; i < 600; i++) {
        const r = rand();
        const key = u32s(Math.floor(rand() * 7));
        if (r < 0.55) ops.push({ op: 'update', key, value: u32s(pick(fds)), flags: pick([0, 0, 1, 1, 2, 2, 3]) });
        else if (r < 0.7) ops.push({ op: 'lookup', key });
        else if (r < 0.85) ops.push({ op: 'delete', key });
        else ops.push({ op: 'nextKey', key: rand() < 0.2 ? undefined : key });
      }
      const tally = runDifferential(registry, { type: MapType.XSKMAP, keySize: 4, valueSize: 4, maxEntries: 5 }, ops, true);
      const errs = Object.entries(tally.errnos).map(([k, v]) => `${k}×${v}`).join(' ');
      t.diagnostic(`${tally.ops} host commands compared (${errs})`);

      using sides = new ProgramSides({ xskSockets: table });
      const xsk = sides.map('xsk', { type: MapType.XSKMAP, keySize: 4, valueSize: 4, maxEntries: 4 });
      for (const [key, s] of [[0, sockets[0]!], [2, sockets[1]!]] as const) {
        assert.equal(xsk.kernel.update(u32s(key), u32s(s.fd)), 0);
        xsk.vm.update(u32s(key), u32s(s.fd));
      }
      let runs = 0;
      for (const key of [0, 1, 2, 3, 4]) {
        for (const flags of [0, 1, 2, 3, 8, 16]) {
          const text = `
            r1 = map(xsk)
            r2 = ${key}
            r3 = ${flags}
            call 51
            exit`;
          const want = sides.kernelRun(sides.kernelProgram(text, ProgramType.XDP), { data: new Uint8Array(64) });
          const got = runXdp(sides.vmProgram(text), new Uint8Array(64));
          assert.equal(got.verdict, want, `key ${key} flags ${flags}`);
          if (got.verdict === 4) assert.equal(got.redirect?.xsk?.id, key === 0 ? sockets[0]!.fd : sockets[1]!.fd);
          runs++;
        }
      }
      t.diagnostic(`${runs} bpf_redirect_map runs compared`);
    } finally {
      for (const s of sockets) s.close();
    }
  });
});
