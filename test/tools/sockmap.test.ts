/**
 * sockmap-accel as the command line runs it: attached to a cgroup the test creates, it
 * carries the bytes of a TCP connection between two processes' sockets of that cgroup (the
 * echo comes back intact, and the program's counters show the messages were redirected);
 * `--bench` measures with and without it in a cgroup of its own and prints numbers.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { kernelSkip } from '../support/kernel.js';
import { cgroup2Root, cgroupSkip, createTestCgroup } from '../support/cgroup.js';
import { runTool, startTool } from './run-tool.js';

/** A TCP echo on 127.0.0.1: the client sends `size` bytes, checks the echo, prints "ok N". */
const ECHO = (size: number): string => `
const net = require('node:net');
const payload = Buffer.alloc(${size}, 0).map((_, i) => (i * 7 + 3) & 0xff);
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

describe('ebpf sockmap-accel', { skip: kernelSkip() || cgroupSkip() }, () => {
  it("carries a connection's bytes between sockets of the cgroup, and counts the redirects", async () => {
    using cgroup = createTestCgroup();
    using tool = startTool(['sockmap-accel', '--cgroup', cgroup.path, '-j', '-d', '60']);
    await tool.waitFor(/attached/);
    const r = cgroup.node(ECHO(256 * 1024));
    assert.equal(r.status, 0, `echo: ${r.stdout}${r.stderr}`);
    assert.equal(r.stdout.trim(), `ok ${256 * 1024}`);
    assert.equal(await tool.stop(), 0, tool.stderr());
    const stats = tool.jsonLines().at(-1) as { sockets: number; redirected: number; redirectedBytes: number; passed: number };
    assert.ok(stats.sockets >= 2, `sockets added: ${stats.sockets}`);
    assert.ok(stats.redirected >= 2, `messages redirected: ${stats.redirected}`);
    assert.equal(stats.redirectedBytes, 2 * 256 * 1024, 'every byte, both ways, went through the redirect');
  });

  it('leaves sockets outside the cgroup alone', async () => {
    using cgroup = createTestCgroup();
    using tool = startTool(['sockmap-accel', '--cgroup', cgroup.path, '-j', '-d', '60']);
    await tool.waitFor(/attached/);
    const r = spawnSync(process.execPath, ['-e', ECHO(4096)], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.stdout.trim(), 'ok 4096');
    assert.equal(await tool.stop(), 0, tool.stderr());
    const stats = tool.jsonLines().at(-1) as { sockets: number; redirected: number };
    assert.deepEqual([stats.sockets, stats.redirected], [0, 0]);
  });

  it('--bench prints throughput and latency with and without, and cleans up its cgroup', () => {
    const before = new Set(listBenchCgroups());
    const r = runTool(['sockmap-accel', '--bench', '--seconds', '0.5', '-j'], 60_000);
    assert.equal(r.status, 0, r.stderr);
    const result = JSON.parse(r.stdout) as Record<'plain' | 'accelerated', { throughputMBps: number; rttMeanUs: number; roundTrips: number; bytes: number }> & { stats: { redirected: number } };
    for (const run of [result.plain, result.accelerated]) {
      assert.ok(run.throughputMBps > 0 && run.bytes > 0, `throughput ${run.throughputMBps}`);
      assert.ok(run.roundTrips > 10 && run.rttMeanUs > 0, `latency ${run.rttMeanUs} µs over ${run.roundTrips}`);
    }
    assert.ok(result.stats.redirected > 0, 'the accelerated run went through the sockmap');
    assert.deepEqual(listBenchCgroups().filter((c) => !before.has(c)), [], 'bench cgroup removed');
  });
});

function listBenchCgroups(): string[] {
  const root = cgroup2Root();
  if (root === undefined || !existsSync(root)) return [];
  return readdirSync(root).filter((n) => n.startsWith('ebpf-sockmap-bench'));
}
