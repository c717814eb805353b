/**
 * The tracing tools as the command line runs them, against the running kernel: execsnoop
 * sees a command the test starts (its pid, parent and arguments), opensnoop sees files the
 * test process opens (fd, or errno), hello prints bpf_trace_printk's line for an exec.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kernelSkip } from '../support/kernel.js';
import { eventually, runTool, startTool } from './run-tool.js';

const rootSkip = (): string | false => kernelSkip() || (process.getuid?.() === 0 ? false : 'the tools need root');

/** Runs `argv` and resolves with its pid once it exited (bounded). */
function runCommand(argv: readonly [string, ...string[]]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: 'ignore' });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${argv.join(' ')} did not exit`)); }, 10_000);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('exit', () => { clearTimeout(timer); resolve(child.pid!); });
  });
}

describe('ebpf execsnoop', { skip: rootSkip() }, () => {
  it('reports an exec the test starts: pid, parent, arguments, return value', async () => {
    const marker = `ebpf-test-${randomBytes(4).toString('hex')}`;
    using tool = startTool(['execsnoop', '-j', '-l', marker, '-c', '1', '-d', '30']);
    await tool.waitFor(/tracing/);
    const pid = await runCommand(['/bin/true', marker, 'second arg']);
    assert.equal(await tool.exited(), 0, tool.stderr());
    const [event, ...more] = tool.jsonLines();
    assert.equal(more.length, 0, '-c 1 stops after one line');
    assert.deepEqual(
      { pcomm: event?.pcomm, pid: event?.pid, ppid: event?.ppid, ret: event?.ret, args: event?.args, truncated: event?.truncated },
      { pcomm: 'true', pid, ppid: process.pid, ret: 0, args: ['/bin/true', marker, 'second arg'], truncated: false },
    );
    assert.equal(typeof event?.time, 'number');
  });

  it('prints BCC columns, and failed execs with -x', async () => {
    const marker = `ebpf-test-${randomBytes(4).toString('hex')}`;
    using tool = startTool(['execsnoop', '-x', '-l', marker, '-d', '30']);
    await tool.waitFor(/tracing/);
    const pid = await runCommand(['/bin/echo', marker]);
    // execve of a missing file fails with ENOENT in the forked child.
    await assert.rejects(runCommand([`/nonexistent/${marker}`]));
    const lines = await eventually(() => {
      const found = tool.stdout().split('\n').filter((l) => l.includes(marker));
      return found.length >= 2 ? found : undefined;
    }, 10_000);
    assert.equal(await tool.stop(), 0, tool.stderr());
    assert.match(tool.stdout().split('\n')[0]!, /^PCOMM\s+PID\s+PPID\s+RET ARGS$/);
    assert.ok(lines, `both execs reported:\n${tool.stdout()}`);
    assert.match(lines[0]!, new RegExp(`^echo\\s+${pid}\\s+${process.pid}\\s+0 /bin/echo ${marker}$`));
    assert.match(lines[1]!, new RegExp(`\\s+${process.pid}\\s+-2 /nonexistent/${marker}$`));
  });
});

describe('ebpf opensnoop', { skip: rootSkip() }, () => {
  it("sees this process's opens: the fd of a file it opens, the errno of one it cannot", async () => {
    const path = join(tmpdir(), `ebpf-opensnoop-${randomBytes(4).toString('hex')}`);
    writeFileSync(path, 'x');
    using tool = startTool(['opensnoop', '-j', '-p', String(process.pid), '-d', '30']);
    try {
      await tool.waitFor(/tracing/);
      const fd = openSync(path, 'r');
      closeSync(fd);
      assert.throws(() => openSync(`${path}.missing`, 'r'), { code: 'ENOENT' });
      const events = await eventually(() => {
        const mine = tool.jsonLines().filter((e) => String(e.path).startsWith(path));
        return mine.length >= 2 ? mine : undefined;
      }, 10_000);
      assert.equal(await tool.stop(), 0, tool.stderr());
      assert.ok(events, `both opens reported:\n${tool.stdout()}`);
      const [ok, missing] = events;
      assert.deepEqual({ pid: ok!.pid, fd: ok!.fd, err: ok!.err, path: ok!.path }, { pid: process.pid, fd, err: 0, path });
      assert.deepEqual({ pid: missing!.pid, fd: missing!.fd, err: missing!.err, path: missing!.path }, { pid: process.pid, fd: -1, err: 2, path: `${path}.missing` });
      // -p: nothing from other processes.
      assert.ok(tool.jsonLines().every((e) => e.pid === process.pid));
    } finally {
      rmSync(path, { force: true });
    }
  });

  it('prints BCC columns', async () => {
    const path = join(tmpdir(), `ebpf-opensnoop-${randomBytes(4).toString('hex')}`);
    using tool = startTool(['opensnoop', '-p', String(process.pid), '-x', '-d', '30']);
    await tool.waitFor(/tracing/);
    assert.throws(() => openSync(path, 'r'));
    const line = await eventually(() => tool.stdout().split('\n').find((l) => l.endsWith(path)), 10_000);
    assert.equal(await tool.stop(), 0, tool.stderr());
    assert.match(tool.stdout().split('\n')[0]!, /^PID\s+COMM\s+FD ERR PATH$/);
    assert.match(line ?? '', new RegExp(`^${process.pid}\\s+\\S+\\s+-1\\s+2 ${path}$`));
  });
});

describe('ebpf hello', { skip: rootSkip() }, () => {
  it("prints the program's bpf_trace_printk line for an exec, from its own tracefs instance", async () => {
    using tool = startTool(['hello', '-j', '-d', '30']);
    await tool.waitFor(/tracing/);
    const instance = /reading (\S+)\/trace_pipe/.exec(tool.stderr())?.[1];
    assert.match(instance ?? '', /\/instances\/ebpf-\d+-\d+$/);
    const pid = await runCommand(['/bin/true']);
    const line = await eventually(() => tool.jsonLines().find((l) => l.pid === pid), 10_000);
    assert.equal(await tool.stop(), 0, tool.stderr());
    assert.ok(line, `a line from pid ${pid}:\n${tool.stdout()}`);
    assert.equal(line.message, 'hello, exec of /bin/true');
    assert.equal(typeof line.time, 'number');
    assert.equal(typeof line.cpu, 'number');
    // The instance goes with the tool.
    assert.equal(existsSync(instance!), false);
  });
});

describe('tool command lines', () => {
  for (const name of ['execsnoop', 'opensnoop', 'hello', 'xdp-firewall', 'tc-redirect', 'sockmap-accel']) {
    it(`${name} --help`, () => {
      const r = runTool([name, '--help']);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^Usage: ebpf ${name} `));
    });
  }

  it('usage errors exit 2', () => {
    for (const args of [['xdp-firewall'], ['execsnoop', '-d', 'soon'], ['tc-redirect', 'eth9', 'add', '99999', 'x'], ['sockmap-accel'], ['opensnoop', 'extra']]) {
      const r = runTool(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /Usage: ebpf /);
    }
  });
});
