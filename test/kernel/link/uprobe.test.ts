/**
 * uprobes against the running kernel: a small C program built here with gcc calls
 * `ebpf_target(i)` a given number of times; a uprobe and a uretprobe on it count the calls, by
 * symbol (resolved from the ELF symbol table), by raw file offset, with a pid filter, and
 * through uprobe_multi.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AttachType, KernelError, ProgramType } from '../../../src/kernel/index.js';
import {
  LinkType, PerfEventLinkType, attachProgram, attachUprobe, attachUprobeMulti, resolveElfFunction, uprobeOffset,
} from '../../../src/kernel/link/index.js';
import { kernelSkip } from '../../support/kernel.js';
import { getpidSyscall } from '../../support/sockets.js';
import { findTool, needTool } from '../../support/tools.js';
import { bump, count, counterMap, load, onlyThisProcess, openFds, spinUntil } from './programs.js';

const gcc = findTool('gcc', 'cc');

const SOURCE = `
#include <stdlib.h>
#include <unistd.h>
__attribute__((noinline)) int ebpf_target(int x) { __asm__ volatile(""); return x * 2; }
__attribute__((noinline)) int ebpf_other(int x) { __asm__ volatile(""); return x + 1; }
int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1;
  int sleep_ms = argc > 2 ? atoi(argv[2]) : 0;
  if (sleep_ms) usleep(sleep_ms * 1000);
  volatile int sum = 0;
  for (int i = 0; i < n; i++) sum += ebpf_target(i);
  sum += ebpf_other(sum);
  return 0;
}
`;

/** Counts calls into map[0] (entry) or map[1] (return). */
function counterProgram(counters: ReturnType<typeof counterMap>, slot: number, options = {}) {
  return load(ProgramType.KPROBE, `uprobe_${slot}`, `
    ${bump(counters, slot)}
    r0 = 0
    exit`, options);
}

describe('uprobes', { skip: kernelSkip() || needTool(gcc, 'gcc') }, () => {
  let dir = '';
  let binary = '';

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ebpf-uprobe-'));
    writeFileSync(join(dir, 'target.c'), SOURCE);
    binary = join(dir, 'target');
    const r = spawnSync(gcc!, ['-O1', '-o', binary, join(dir, 'target.c')], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const run = (n: number): void => {
    const r = spawnSync(binary, [String(n)], { timeout: 10_000 });
    assert.equal(r.status, 0);
  };

  it('resolves a function to its file offset through the symbol table', () => {
    const sym = resolveElfFunction(binary, 'ebpf_target');
    assert.ok(sym.offset > 0 && sym.size > 0);
    assert.equal(uprobeOffset(binary, { symbol: 'ebpf_target', offset: 4 }), sym.offset + 4);
    assert.throws(() => resolveElfFunction(binary, 'no_such_function'), /no function symbol/);
  });

  it('a uprobe and a uretprobe count the calls of a function', () => {
    const fds = openFds();
    using counters = counterMap();
    using entry = counterProgram(counters, 0);
    using exit = counterProgram(counters, 1);
    {
      using probe = attachUprobe(entry, binary, { symbol: 'ebpf_target' });
      using retprobe = attachUprobe(exit, binary, { symbol: 'ebpf_target', retprobe: true });
      assert.equal(probe.kind, 'uprobe');
      assert.equal(retprobe.kind, 'uretprobe');
      run(7);
      assert.equal(count(counters, 0), 7n);
      assert.equal(count(counters, 1), 7n);
      const info = probe.info();
      assert.equal(info.type, LinkType.PERF_EVENT);
      assert.ok(info.detail.kind === 'perf_event' && info.detail.perfEventType === PerfEventLinkType.UPROBE);
      assert.ok(info.detail.kind === 'perf_event' && info.detail.name === binary);
    }
    run(3);
    assert.equal(count(counters, 0), 7n);
    entry.close();
    exit.close();
    counters.close();
    assert.equal(openFds(), fds);
  });

  it('a uprobe at a raw file offset, and through the dispatcher from a section name', () => {
    using counters = counterMap();
    using prog = counterProgram(counters, 0);
    const offset = resolveElfFunction(binary, 'ebpf_other').offset;
    {
      using _link = attachUprobe(prog, binary, { offset });
      run(2);
    }
    assert.equal(count(counters, 0), 1n);
    {
      using link = attachProgram(prog, { section: `uprobe/${binary}:ebpf_target` });
      assert.equal(link.kind, 'uprobe');
      run(5);
    }
    assert.equal(count(counters, 0), 6n);
  });

  it('a pid filter limits a uprobe to one process', async () => {
    using counters = counterMap();
    using prog = counterProgram(counters, 0);
    // Started sleeping 300 ms, so the probe is in place before it calls the function 4 times.
    const child = spawn(binary, ['4', '300'], { stdio: 'ignore' });
    try {
      using _link = attachUprobe(prog, binary, { symbol: 'ebpf_target', pid: child.pid! });
      run(10); // another process: not counted
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      assert.equal(code, 0);
      assert.equal(count(counters, 0), 4n);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('uprobe_multi attaches one program to several functions', (t) => {
    using counters = counterMap();
    using prog = counterProgram(counters, 0, { expectedAttachType: AttachType.TRACE_UPROBE_MULTI });
    let link;
    try {
      link = attachUprobeMulti(prog, binary, { symbols: ['ebpf_target', 'ebpf_other'] });
    } catch (err) {
      if (err instanceof KernelError && ['EINVAL', 'EOPNOTSUPP', 'ENOTSUPP'].includes(err.code)) {
        t.skip(`uprobe_multi refused: ${err.message}`);
        return;
      }
      throw err;
    }
    using _link = link;
    assert.equal(link.info().type, LinkType.UPROBE_MULTI);
    run(3);
    assert.ok(spinUntil(() => count(counters, 0) === 4n, 1000), `count ${count(counters, 0)}`);
  });

  it("a uprobe on the stripped libc's getpid (.dynsym), for this process only", () => {
    const libc = readFileSync('/proc/self/maps', 'utf8').split('\n').map((line) => line.split(/\s+/)[5])
      .find((path) => path !== undefined && /\/libc\.so\.6$/.test(path));
    assert.ok(libc, 'libc mapped');
    assert.ok(resolveElfFunction(libc, 'getpid').offset > 0);
    using counters = counterMap();
    // A uprobe's pid filter is the whole process (its mm): Node's other threads may call getpid
    // too, so the program counts only this (the main) thread's calls.
    using prog = load(ProgramType.KPROBE, 'uprobe_main', `
      ${onlyThisProcess('skip')}
      ${bump(counters, 0)}
    skip:
      r0 = 0
      exit`);
    getpidSyscall(); // bind libc's getpid (koffi's first call) before counting
    let inWindow: bigint;
    {
      using _link = attachUprobe(prog, libc, { symbol: 'getpid', pid: process.pid });
      // Counted between two reads of the map, so calls the attach or detach path makes do not count.
      const before = count(counters, 0);
      for (let i = 0; i < 12; i++) getpidSyscall();
      inWindow = count(counters, 0) - before;
    }
    const afterDetach = count(counters, 0);
    getpidSyscall();
    assert.equal(inWindow, 12n);
    assert.equal(count(counters, 0), afterDetach, 'a call after detach is not counted');
  });
});
