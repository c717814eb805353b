/**
 * The trace_pipe reader: its line parser on the shapes tracefs prints (no kernel needed), and
 * against the running kernel a tracefs instance of its own — lines written to the instance's
 * trace_marker come back parsed, waits end by abort or close, long lines are cut, and the
 * instance is removed on close.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openTracePipe, parseTraceLine } from '../../src/kernel/index.js';

describe('parseTraceLine', () => {
  it('reads comm, pid, cpu, flags, timestamp, event and message', () => {
    assert.deepEqual(parseTraceLine('            bash-1234    [001] d..3. 5358.982275: bpf_trace_printk: hello, exec of /bin/ls'), {
      comm: 'bash', pid: 1234, tgid: undefined, cpu: 1, flags: 'd..3.', timestamp: 5358.982275,
      event: 'bpf_trace_printk', message: 'hello, exec of /bin/ls',
      raw: '            bash-1234    [001] d..3. 5358.982275: bpf_trace_printk: hello, exec of /bin/ls',
    });
  });

  it('takes names with dashes and spaces, the tgid column, lines without flags, colons in the message', () => {
    const a = parseTraceLine(' kworker/u8:2-ev-77  [003] ..... 12.000001: bpf_trace_printk: a: b: c');
    assert.deepEqual([a?.comm, a?.pid, a?.cpu, a?.flags, a?.message], ['kworker/u8:2-ev', 77, 3, '.....', 'a: b: c']);
    const b = parseTraceLine('   Web Content-4242  (  4200) [000] .N.1. 99.5: tracing_mark_write: x');
    assert.deepEqual([b?.comm, b?.pid, b?.tgid, b?.event, b?.message], ['Web Content', 4242, 4200, 'tracing_mark_write', 'x']);
    const c = parseTraceLine('  <idle>-0     [002] 7.250000: bpf_trace_printk: no flags');
    assert.deepEqual([c?.comm, c?.pid, c?.flags, c?.timestamp, c?.message], ['<idle>', 0, '', 7.25, 'no flags']);
    const d = parseTraceLine('  <...>-12  (-------) [000] d..1. 1.0: bpf_trace_printk: ');
    assert.deepEqual([d?.comm, d?.tgid, d?.message], ['<...>', undefined, '']);
  });

  it('gives undefined for what is not an event', () => {
    for (const line of ['# tracer: nop', '#', 'CPU:2 [LOST 10 EVENTS]', '', 'garbage']) assert.equal(parseTraceLine(line), undefined, line);
  });
});

const skip = process.getuid?.() !== 0 ? 'tracefs needs root' : !existsSync('/sys/kernel/tracing/instances') ? 'no tracefs at /sys/kernel/tracing' : false;

describe('openTracePipe (a tracefs instance of its own)', { skip }, () => {
  it('reads what the instance records, as parsed lines, and removes the instance on close', async () => {
    const pipe = openTracePipe({ instance: true, pollIntervalMs: 200 });
    const dir = pipe.instanceDir!;
    try {
      assert.match(dir, /\/instances\/ebpf-\d+-\d+$/);
      assert.equal(existsSync(join(dir, 'trace_pipe')), true);
      assert.equal(readFlag(join(dir, 'events/bpf_trace/bpf_trace_printk/enable')), '1');
      assert.deepEqual(pipe.drain(), [], 'empty at first');
      const pending = pipe.read();
      appendFileSync(join(dir, 'trace_marker'), 'first line');
      appendFileSync(join(dir, 'trace_marker'), 'second: line');
      const first = await withTimeout(pending, 5000);
      assert.equal(first?.event, 'tracing_mark_write');
      assert.equal(first?.message, 'first line');
      assert.equal(first?.pid, process.pid);
      const second = await withTimeout(pipe.read(), 5000);
      assert.equal(second?.message, 'second: line');
      assert.ok(second!.timestamp >= first!.timestamp);
      // for await, ended by close()
      appendFileSync(join(dir, 'trace_marker'), 'third');
      const seen: string[] = [];
      for await (const line of pipe) {
        seen.push(line.message);
        pipe.close();
      }
      assert.deepEqual(seen, ['third']);
    } finally {
      pipe.close();
    }
    assert.equal(existsSync(dir), false, 'instance removed');
    assert.equal(await pipe.read(), undefined, 'a closed pipe reads nothing');
  });

  it('ends a wait when its signal aborts, and cuts lines to maxLineLength', async () => {
    using pipe = openTracePipe({ instance: true, maxLineLength: 120 });
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 100);
    assert.equal(await withTimeout(pipe.read(controller.signal), 5000), undefined);
    assert.ok(Date.now() - started < 2000);
    appendFileSync(join(pipe.instanceDir!, 'trace_marker'), 'y'.repeat(1000));
    const line = await withTimeout(pipe.read(), 5000);
    assert.equal(line?.raw.length, 120);
    assert.match(line?.message ?? '', /^y+$/);
  });
});

function readFlag(path: string): string {
  return readFileSync(path, 'utf8').trim();
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms); }),
  ]);
}
