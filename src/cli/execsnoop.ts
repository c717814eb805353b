/** `ebpf execsnoop`: every exec() on the system, BCC-style (src/tools/execsnoop.ts). */
import { parseArgs } from 'node:util';
import { startExecsnoop, type ExecEvent } from '../tools/execsnoop.js';
import { type Command, UsageError } from './command.js';
import { toJson } from './json-value.js';
import { clockTime, parsePositive, parseRegExp, RUN_OPTIONS, streamToolEvents } from './tool-options.js';

const USAGE = `Usage: ebpf execsnoop [-t | -T] [-x] [-q] [-n NAME] [-l LINE] [--max-args N] [-j] [-d SECONDS] [-c COUNT]

Traces exec() system calls: a line for each new program, once execve() returned
(BCC's execsnoop, on the syscalls/sys_enter_execve and sys_exit_execve tracepoints).

  PCOMM  the program's name    PID, PPID  the process and its parent
  RET    execve's return value ARGS       the file executed, then its arguments

  -t              a TIME(s) column: seconds since the tool started
  -T              a TIME column: the wall clock (HH:MM:SS)
  -x              include failed exec()s
  -q              quote the arguments ("…", with \\" for quotes inside)
  -n NAME         only programs whose name matches the regular expression NAME
  -l LINE         only commands whose arguments match the regular expression LINE
  --max-args N    arguments to read, the file name included (1 to 20; default 20)
  -j, --json      a JSON object per line: {time, pcomm, pid, ppid, uid, ret, args, truncated}
  -d, --duration SECONDS   stop after this long (default: at Ctrl-C)
  -c, --count COUNT        stop after COUNT lines

Needs root. "tracing" on stderr says the programs are attached.`;

export const execsnoopCommand: Command = {
  name: 'execsnoop',
  summary: 'trace new processes: every exec() with its arguments (BCC execsnoop)',
  usage: USAGE,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      options: {
        ...RUN_OPTIONS,
        timestamp: { type: 'boolean', short: 't' },
        time: { type: 'boolean', short: 'T' },
        fails: { type: 'boolean', short: 'x' },
        quote: { type: 'boolean', short: 'q' },
        name: { type: 'string', short: 'n' },
        line: { type: 'string', short: 'l' },
        'max-args': { type: 'string' },
      },
      allowPositionals: true,
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const name = parseRegExp(values.name, 'name');
    const line = parseRegExp(values.line, 'line');
    const maxArgs = parsePositive(values['max-args'], 'max args');
    const time = values.timestamp ? 'TIME(s)  ' : values.time ? 'TIME     ' : '';
    return streamToolEvents<ExecEvent>(io, {
      duration: values.duration,
      count: values.count,
      start: () => startExecsnoop({ includeFailed: values.fails ?? false, ...(maxArgs === undefined ? {} : { maxArgs }) }),
      banner: 'execsnoop: tracing exec()s; Ctrl-C to end\n',
      header: values.json ? undefined : `${time}${'PCOMM'.padEnd(16)} ${'PID'.padEnd(7)} ${'PPID'.padEnd(7)} RET ARGS\n`,
      format: (e, seconds) => {
        const argLine = formatArgs(e, values.quote ?? false);
        if ((name && !name.test(e.comm)) || (line && !line.test(argLine))) return undefined;
        if (values.json) {
          return `${toJson({ time: Number(seconds.toFixed(6)), pcomm: e.comm, pid: e.pid, ppid: e.ppid, uid: e.uid, ret: e.ret, args: e.args, truncated: e.truncated })}\n`;
        }
        const t = values.timestamp ? `${seconds.toFixed(3).padEnd(8)} ` : values.time ? `${clockTime()} ` : '';
        return `${t}${e.comm.padEnd(16)} ${String(e.pid).padEnd(7)} ${String(e.ppid).padEnd(7)} ${String(e.ret).padStart(3)} ${argLine}\n`;
      },
    });
  },
};

/** The arguments as one line, quoted with `-q`, with `...` when the program had more. */
function formatArgs(e: ExecEvent, quote: boolean): string {
  const parts = quote ? e.args.map((a) => `"${a.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`) : e.args;
  return parts.join(' ') + (e.truncated ? ' ...' : '');
}
