/**
 * `ebpf sockmap-accel --bench`: TCP between two local sockets with and without the sockmap
 * acceleration, in a child cgroup made for the occasion (and removed after). A worker
 * process (sockmap-bench-worker.ts) joins the cgroup and measures; it runs once with nothing
 * attached, then once with the programs attached to the cgroup.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { EbpfError } from '../errors.js';
import { createTemporaryCgroup } from './cgroup.js';
import { SockmapAccel, type AccelStats } from './sockmap-accel.js';

/** What the worker is asked to do. */
export interface WorkerRequest {
  /** The cgroup to join ('' for none). */
  readonly cgroup: string;
  /** Length of each phase, seconds. */
  readonly seconds: number;
  /** Bytes per write in the throughput phase. */
  readonly chunkSize: number;
  /** Bytes per ping in the latency phase. */
  readonly pingSize: number;
  readonly maxRounds: number;
}

/** What the worker measured. */
export interface WorkerResult {
  readonly bytes: number;
  readonly microseconds: number;
  /** Round trips made, and their times in µs. */
  readonly roundTrips: number;
  readonly rttMeanUs: number;
  readonly rttP50Us: number;
  readonly rttP99Us: number;
}

/** One measured configuration. */
export interface BenchRun {
  /** Bytes received per second, in MB (10^6 bytes). */
  readonly throughputMBps: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly roundTrips: number;
  readonly rttMeanUs: number;
  readonly rttP50Us: number;
  readonly rttP99Us: number;
}

/** Both configurations and what the programs counted. */
export interface BenchResult {
  readonly plain: BenchRun;
  readonly accelerated: BenchRun;
  readonly stats: AccelStats;
}

/** Options of {@link benchSockmap}. */
export interface BenchOptions {
  /** Length of each of the four phases, seconds (default 1; at most 10). */
  seconds?: number;
  /** Bytes per write in the throughput phase (default 64 KiB). */
  chunkSize?: number;
  /** Bytes per ping (default 64). */
  pingSize?: number;
}

const WORKER = fileURLToPath(new URL('./sockmap-bench-worker.js', import.meta.url));

/** Runs the worker in `cgroup`; rejects if it fails or outlives its deadline. */
function runWorker(request: WorkerRequest): Promise<WorkerResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WORKER, JSON.stringify(request)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), (request.seconds * 2 + 15) * 1000);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new EbpfError(`sockmap bench worker ${signal ? `killed by ${signal}` : `exited with ${code}`}: ${err.trim()}`));
        return;
      }
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as WorkerResult);
      } catch (e) {
        reject(EbpfError.wrap(`sockmap bench worker: unreadable result '${out.trim().slice(0, 200)}' (stderr: ${err.trim().slice(0, 500)})`, e));
      }
    });
  });
}

function summarize(r: WorkerResult): BenchRun {
  const seconds = r.microseconds / 1e6;
  return {
    throughputMBps: seconds > 0 ? r.bytes / 1e6 / seconds : 0, bytes: r.bytes, seconds,
    roundTrips: r.roundTrips, rttMeanUs: r.rttMeanUs, rttP50Us: r.rttP50Us, rttP99Us: r.rttP99Us,
  };
}

/**
 * Measures local TCP without and with the acceleration (about four times `seconds` in all).
 * Only sockets of the worker, in a cgroup of its own, are ever accelerated.
 */
export async function benchSockmap(options: BenchOptions = {}): Promise<BenchResult> {
  const seconds = options.seconds ?? 1;
  if (!(seconds > 0 && seconds <= 10)) throw new RangeError(`bench seconds ${seconds}: more than 0, at most 10`);
  using cgroup = createTemporaryCgroup('ebpf-sockmap-bench');
  const request: WorkerRequest = {
    cgroup: cgroup.path, seconds, chunkSize: options.chunkSize ?? 64 << 10, pingSize: options.pingSize ?? 64, maxRounds: 1_000_000,
  };
  const plain = summarize(await runWorker(request));
  using accel = SockmapAccel.attach(cgroup.path);
  const accelerated = summarize(await runWorker(request));
  return { plain, accelerated, stats: accel.stats() };
}
