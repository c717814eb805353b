/** `ebpf opensnoop`: every openat() on the system, BCC-style (src/tools/opensnoop.ts). */
import { parseArgs } from 'node:util';
import { startOpensnoop } from '../tools/opensnoop.js';
import { type Command, UsageError } from './command.js';
import { toJson } from './json-value.js';
import { parsePositive, parseRegExp, RUN_OPTIONS, streamToolEvents } from './tool-options.js';

const USAGE = `Usage: ebpf opensnoop [-T] [-p PID] [-x] [-n NAME] [-e] [-j] [-d SECONDS] [-c COUNT]

Traces openat() system calls: a line for each file opened, or failing to open
(BCC's opensnoop, on the syscalls/sys_enter_openat and sys_exit_openat tracepoints).

  PID, COMM  the process    FD  the file descriptor, -1 on failure
  ERR        the errno of a failure, else 0       PATH  the path as given

  -T              a TIME(s) column: seconds since the tool started
  -p PID          only this process
  -x              only failed opens
  -n NAME         only processes whose name matches the regular expression NAME
  -e              a FLAGS column: openat's flags, in octal
  -j, --json      a JSON object per line: {time, pid, tid, uid, comm, fd, err, flags, path}
  -d, --duration SECONDS   stop after this long (default: at Ctrl-C)
  -c, --count COUNT        stop after COUNT lines

Needs root. "tracing" on stderr says the programs are attached.`;

export const opensnoopCommand: Command = {
  name: 'opensnoop',
  summary: 'trace file opens: every openat() with its fd or error (BCC opensnoop)',
  usage: USAGE,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      options: {
        ...RUN_OPTIONS,
        timestamp: { type: 'boolean', short: 'T' },
        pid: { type: 'string', short: 'p' },
        failed: { type: 'boolean', short: 'x' },
        name: { type: 'string', short: 'n' },
        extended: { type: 'boolean', short: 'e' },
      },
      allowPositionals: true,
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const pid = parsePositive(values.pid, 'pid');
    const name = parseRegExp(values.name, 'name');
    const time = values.timestamp ? 'TIME(s)      ' : '';
    const flags = values.extended ? 'FLAGS    ' : '';
    return streamToolEvents(io, {
      duration: values.duration,
      count: values.count,
      start: () => startOpensnoop({ failedOnly: values.failed ?? false, ...(pid === undefined ? {} : { pid }) }),
      banner: 'opensnoop: tracing openat()s; Ctrl-C to end\n',
      header: values.json ? undefined : `${time}${'PID'.padEnd(7)} ${'COMM'.padEnd(16)} ${'FD'.padStart(4)} ERR ${flags}PATH\n`,
      format: (e, seconds) => {
        if (name && !name.test(e.comm)) return undefined;
        if (values.json) {
          return `${toJson({ time: Number(seconds.toFixed(6)), pid: e.pid, tid: e.tid, uid: e.uid, comm: e.comm, fd: e.fd, err: e.err, flags: e.flags, path: e.path })}\n`;
        }
        const t = values.timestamp ? `${seconds.toFixed(6).padEnd(12)} ` : '';
        const f = values.extended ? `${(e.flags >>> 0).toString(8).padStart(8, '0')} ` : '';
        return `${t}${String(e.pid).padEnd(7)} ${e.comm.padEnd(16)} ${String(e.fd).padStart(4)} ${String(e.err).padStart(3)} ${f}${e.path}\n`;
      },
    });
  },
};
