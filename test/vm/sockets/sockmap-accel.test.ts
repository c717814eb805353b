/**
 * The project's sockmap-accel programs (bpf/tools/sockmap_accel.c: sock_ops puts local
 * established sockets into a SOCKHASH, sk_msg redirects what they send into the peer's receive
 * queue) in the kernel on a real loopback echo inside a test cgroup, and in the VM on simulated
 * sockets of a cgroup path: the echo comes back intact on both, and the program's counters
 * agree — sockets added, bytes redirected, messages passed to TCP.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { SockmapAccel } from '../../../src/tools/sockmap-accel.js';
import { loadObjectVm } from '../../../src/vm/object/load.js';
import { cgroupSkip, createTestCgroup } from '../../support/cgroup.js';
import { kernelSkip } from '../../support/kernel.js';
import { concat } from './backends.js';

const OBJECT = readFileSync(new URL('../../../../bpf/tools/sockmap_accel.o', import.meta.url));
const SIZE = 64 * 1024;

function payload(): Uint8Array {
  return Uint8Array.from({ length: SIZE }, (_, i) => (i * 7 + 3) & 0xff);
}

/** A TCP echo on 127.0.0.1 of one SIZE-byte message, printing "ok N" when it came back intact. */
const ECHO = `
const net = require('node:net');
const payload = Buffer.alloc(${SIZE}, 0).map((_, i) => (i * 7 + 3) & 0xff);
const server = net.createServer((s) => s.on('data', (d) => s.write(d)));
server.listen(0, '127.0.0.1', () => {
  const c = net.connect(server.address().port, '127.0.0.1', () => c.write(payload));
  const got = [];
  let n = 0;
  c.on('data', (d) => {
    got.push(d); n += d.length;
    if (n < payload.length) return;
    const same = Buffer.concat(got).equals(payload);
    console.log(same ? 'ok ' + n : 'mismatch');
    c.destroy(); server.close(); process.exit(same ? 0 : 1);
  });
});
setTimeout(() => { console.log('timeout'); process.exit(2); }, 10000);
`;

interface Counters {
  echo: string;
  sockets: bigint;
  redirectedBytes: bigint;
  passed: bigint;
}

function kernelRun(): Counters {
  using cgroup = createTestCgroup();
  using accel = SockmapAccel.attach(cgroup.path);
  const r = cgroup.node(ECHO);
  assert.equal(r.status, 0, `echo: ${r.stdout}${r.stderr}`);
  const s = accel.stats();
  return { echo: r.stdout.trim(), sockets: s.sockets, redirectedBytes: s.redirectedBytes, passed: s.passed };
}

function vmRun(serverCgroup = '/test'): Counters & { redirected: bigint } {
  using obj = loadObjectVm(OBJECT);
  using _msg = obj.programs.accel_redirect!.attach({ map: obj.maps.sock_hash! });
  using _ops = obj.programs.accel_sockops!.attach({ cgroup: '/test' });
  const { client, server } = obj.sockets.tcpPair({ cgroup: '/test', serverCgroup });
  const data = payload();
  assert.equal(client.send(data), SIZE);
  const got = server.receive();
  assert.equal(server.send(got), got.length);
  const back = concat([client.receive()]);
  const same = back.length === SIZE && back.every((b, i) => b === data[i]);
  const s = obj.maps.stats!.get(0) as { sockets: bigint; redirected: bigint; redirected_bytes: bigint; passed: bigint };
  return { echo: same ? `ok ${back.length}` : 'mismatch', sockets: s.sockets, redirectedBytes: s.redirected_bytes, passed: s.passed, redirected: s.redirected };
}

describe('sockmap-accel, VM against the kernel', { skip: kernelSkip() || cgroupSkip() }, () => {
  it('an echo inside the cgroup: intact, both sockets added, every byte redirected, nothing passed', () => {
    const kernel = kernelRun();
    const { redirected, ...vm } = vmRun();
    assert.deepEqual(vm, kernel);
    assert.equal(redirected, 2n, 'the VM runs the program once per send');
  });
});

describe('sockmap-accel in the VM', () => {
  it('a server outside the cgroup: only the client joins, its messages pass to TCP', () => {
    const r = vmRun('/elsewhere');
    assert.deepEqual(r, { echo: `ok ${SIZE}`, sockets: 1n, redirectedBytes: 0n, passed: 1n, redirected: 0n });
  });
});
