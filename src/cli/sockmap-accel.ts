/**
 * `ebpf sockmap-accel --cgroup DIR`: accelerate local TCP of the processes in a cgroup until
 * Ctrl-C; `--bench`: measure it, in a cgroup made for the occasion (src/tools/sockmap-*.ts).
 */
import { parseArgs } from 'node:util';
import { benchSockmap, type BenchRun } from '../tools/sockmap-bench.js';
import { SockmapAccel, type AccelStats } from '../tools/sockmap-accel.js';
import { armStop } from '../tools/stop.js';
import { type Command, type Io, UsageError } from './command.js';
import { toJson } from './json-value.js';
import { parseDuration } from './tool-options.js';

const USAGE = `Usage: ebpf sockmap-accel --cgroup DIR [-d SECONDS] [-j]
       ebpf sockmap-accel --bench [--seconds S] [-j]

Moves the data of local TCP connections (both ends on this host) from socket to socket
without the TCP/IP stack: a sock_ops program on the cgroup puts established sockets into a
SOCKHASH, an sk_msg program on it redirects each send into the peer socket
(bpf_msg_redirect_hash). Only sockets of processes in the cgroup are touched, and only those
established while attached.

  --cgroup DIR     the cgroup v2 directory to attach to; stays until Ctrl-C (SIGINT),
                   SIGTERM or the duration, then prints the counters and detaches
  --bench          measure throughput (MB/s) and round-trip latency (µs) between two TCP
                   sockets on 127.0.0.1, without then with the acceleration, in a child
                   cgroup made for it and removed after
  --seconds S      length of each bench phase (default 1; four phases)
  -d, --duration SECONDS   detach after this long
  -j, --json       the counters (or bench results) as JSON

Needs root and cgroup v2. "attached" on stderr says the programs are in place.`;

export const sockmapAccelCommand: Command = {
  name: 'sockmap-accel',
  summary: 'accelerate local TCP with a SOCKHASH and sk_msg redirects; --bench to measure',
  usage: USAGE,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      options: {
        json: { type: 'boolean', short: 'j' },
        duration: { type: 'string', short: 'd' },
        cgroup: { type: 'string' },
        bench: { type: 'boolean' },
        seconds: { type: 'string' },
      },
      allowPositionals: true,
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const json = values.json ?? false;
    if (values.bench) {
      if (values.cgroup !== undefined) throw new UsageError('--bench makes its own cgroup: no --cgroup with it');
      const ms = parseDuration(values.seconds);
      const seconds = ms === undefined ? 1 : ms / 1000;
      if (seconds > 10) throw new UsageError('--seconds: at most 10');
      io.err(`sockmap-accel: benchmarking, ${seconds}s a phase\n`);
      const r = await benchSockmap({ seconds });
      if (json) {
        io.out(`${toJson(r)}\n`);
      } else {
        io.out(`${''.padEnd(12)} ${'MB/s'.padStart(10)} ${'RTT mean µs'.padStart(12)} ${'p50 µs'.padStart(8)} ${'p99 µs'.padStart(8)} ${'round trips'.padStart(12)}\n`);
        io.out(benchLine('tcp', r.plain));
        io.out(benchLine('sockmap', r.accelerated));
        io.out(`speedup: throughput ×${(r.accelerated.throughputMBps / r.plain.throughputMBps).toFixed(2)}, latency ×${(r.plain.rttMeanUs / r.accelerated.rttMeanUs).toFixed(2)}\n`);
        io.out(statsLine(r.stats));
      }
      return 0;
    }
    if (values.cgroup === undefined) throw new UsageError('give --cgroup DIR (or --bench)');
    const durationMs = parseDuration(values.duration);
    using stop = armStop(durationMs === undefined ? {} : { durationMs });
    const accel = SockmapAccel.attach(values.cgroup);
    let stats: AccelStats;
    try {
      io.err(`sockmap-accel: attached to cgroup ${values.cgroup}; Ctrl-C to detach\n`);
      await stop.stopped;
      stats = accel.stats();
    } finally {
      accel.close();
    }
    if (json) io.out(`${toJson(stats)}\n`);
    else io.out(statsLine(stats));
    io.err(`sockmap-accel: detached (${stop.reason})\n`);
    return 0;
  },
};

function benchLine(name: string, r: BenchRun): string {
  return `${name.padEnd(12)} ${r.throughputMBps.toFixed(1).padStart(10)} ${r.rttMeanUs.toFixed(1).padStart(12)} ${r.rttP50Us.toFixed(1).padStart(8)} ${r.rttP99Us.toFixed(1).padStart(8)} ${String(r.roundTrips).padStart(12)}\n`;
}

function statsLine(s: AccelStats): string {
  return `sockets ${s.sockets}, redirected ${s.redirected} messages (${s.redirectedBytes} bytes), passed ${s.passed}\n`;
}

