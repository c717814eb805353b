/** `ebpf hello`: bpf_trace_printk output of a program on execve, read from trace_pipe (src/tools/hello.ts). */
import { parseArgs } from 'node:util';
import { startHello } from '../tools/hello.js';
import { armStop } from '../tools/stop.js';
import { type Command, UsageError } from './command.js';
import { toJson } from './json-value.js';
import { parseDuration, parsePositive, RUN_OPTIONS } from './tool-options.js';

const USAGE = `Usage: ebpf hello [--global-pipe] [-j] [-d SECONDS] [-c COUNT]

Attaches a program to the syscalls/sys_enter_execve tracepoint that says hello with
bpf_trace_printk() for every exec(), and prints those lines as tracefs's trace_pipe gives them.

  TIME(s)  the trace clock    COMM, PID  the task that called execve
  MESSAGE  what the program printed

  --global-pipe   read /sys/kernel/tracing/trace_pipe itself, shared with other readers
                  (default: a tracefs instance of our own, removed at exit)
  -j, --json      a JSON object per line: {time, comm, pid, cpu, message}
  -d, --duration SECONDS   stop after this long (default: at Ctrl-C)
  -c, --count COUNT        stop after COUNT lines

Needs root and tracefs. "tracing" on stderr says the program is attached.`;

export const helloCommand: Command = {
  name: 'hello',
  summary: 'hello world: bpf_trace_printk on every exec(), read from trace_pipe',
  usage: USAGE,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      options: { ...RUN_OPTIONS, 'global-pipe': { type: 'boolean' } },
      allowPositionals: true,
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const durationMs = parseDuration(values.duration);
    const count = parsePositive(values.count, 'count') ?? Infinity;

    using stop = armStop(durationMs === undefined ? {} : { durationMs });
    using hello = startHello({ globalPipe: values['global-pipe'] ?? false });
    io.err(`hello: tracing exec()s, reading ${hello.pipe.path}; Ctrl-C to end\n`);
    if (!values.json) io.out(`${'TIME(s)'.padEnd(16)} ${'COMM'.padEnd(16)} ${'PID'.padEnd(7)} MESSAGE\n`);
    let printed = 0;
    for await (const line of hello.lines(stop.signal)) {
      if (values.json) {
        io.out(`${toJson({ time: line.timestamp, comm: line.comm, pid: line.pid, cpu: line.cpu, message: line.message })}\n`);
      } else {
        io.out(`${line.timestamp.toFixed(6).padEnd(16)} ${line.comm.padEnd(16)} ${String(line.pid).padEnd(7)} ${line.message}\n`);
      }
      if (++printed >= count) break;
    }
    return 0;
  },
};
