/**
 * The measuring side of `ebpf sockmap-accel --bench`, run as its own process: it moves itself
 * into the cgroup it is given (so its sockets are the ones sock_ops sees), then measures a TCP
 * connection on 127.0.0.1 — throughput (one side writes for a while, the other counts) and
 * round-trip latency (ping-pong of small messages) — and prints one JSON line. Every phase
 * ends by its deadline.
 *
 * Arguments: one JSON object, {@link WorkerRequest}.
 */
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import type { WorkerRequest, WorkerResult } from './sockmap-bench.js';

const now = (): number => Number(process.hrtime.bigint()) / 1e3; // µs

async function pair(): Promise<{ client: net.Socket; server: net.Socket; close(): void }> {
  const listener = net.createServer();
  await new Promise<void>((resolve, reject) => listener.once('error', reject).listen(0, '127.0.0.1', resolve));
  const port = (listener.address() as net.AddressInfo).port;
  const accepted = new Promise<net.Socket>((resolve) => listener.once('connection', resolve));
  const client = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => client.once('connect', resolve).once('error', reject));
  const server = await accepted;
  listener.close();
  // A socket error ends the measurement loudly (left alone, the destroyed socket would just
  // stop making progress).
  for (const [side, socket] of [['client', client], ['server', server]] as const) {
    socket.on('error', (err) => {
      process.stderr.write(`${side} socket: ${err.message}\n`);
      process.exit(4);
    });
  }
  client.setNoDelay(true);
  server.setNoDelay(true);
  return { client, server, close: () => { client.destroy(); server.destroy(); } };
}

async function throughput(request: WorkerRequest): Promise<{ bytes: number; us: number }> {
  const { client, server, close } = await pair();
  try {
    const chunk = Buffer.alloc(request.chunkSize, 0x5a);
    let received = 0;
    const start = now();
    const done = new Promise<number>((resolve) => {
      server.on('data', (d: Buffer) => { received += d.length; });
      server.once('end', () => resolve(now()));
    });
    const deadline = start + request.seconds * 1e6;
    await new Promise<void>((resolve) => {
      const pump = (): void => {
        while (now() < deadline) {
          if (!client.write(chunk)) {
            client.once('drain', pump);
            return;
          }
        }
        client.end(resolve);
      };
      pump();
    });
    const end = await Promise.race([done, new Promise<number>((resolve) => setTimeout(() => resolve(now()), 5000))]);
    return { bytes: received, us: end - start };
  } finally {
    close();
  }
}

async function latency(request: WorkerRequest): Promise<number[]> {
  const { client, server, close } = await pair();
  try {
    server.on('data', (d: Buffer) => server.write(d));
    const message = Buffer.alloc(request.pingSize, 0x61);
    const samples: number[] = [];
    const deadline = now() + request.seconds * 1e6;
    await new Promise<void>((resolve) => {
      let got = 0;
      let sent = 0;
      const ping = (): void => {
        if (now() >= deadline || samples.length >= request.maxRounds) {
          resolve();
          return;
        }
        got = 0;
        sent = now();
        client.write(message);
      };
      client.on('data', (d: Buffer) => {
        got += d.length;
        if (got < message.length) return;
        samples.push(now() - sent);
        ping();
      });
      ping();
    });
    return samples;
  } finally {
    close();
  }
}

async function main(): Promise<void> {
  const request = JSON.parse(process.argv[2] ?? '{}') as WorkerRequest;
  // Keeps the process alive until a result is out, and bounds it: a phase whose sockets stop
  // making progress must not end the process quietly (an empty event loop exits with 0).
  setTimeout(() => {
    process.stderr.write(`stalled: no result after ${request.seconds * 2 + 10} s\n`);
    process.exit(3);
  }, (request.seconds * 2 + 10) * 1000);
  if (request.cgroup) writeFileSync(join(request.cgroup, 'cgroup.procs'), `${process.pid}\n`);
  const t = await throughput(request);
  const rtts = await latency(request);
  const sorted = rtts.sort((a, b) => a - b);
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
  const result: WorkerResult = {
    bytes: t.bytes, microseconds: t.us, roundTrips: sorted.length,
    rttMeanUs: sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : 0, rttP50Us: at(50), rttP99Us: at(99),
  };
  // Exit only once the line is out: stdout is a pipe, written asynchronously.
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
}

main().catch((err: unknown) => {
  process.stderr.write(`sockmap bench worker: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
