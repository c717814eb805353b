/**
 * The producer thread of `ringbuf-bench.ts`: test-runs the program (by fd, shared with the main
 * thread) `runs` times, `chunk` runs per system call (paced to `runsPerSecond` when non-zero),
 * then says so.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { nativeSyscalls } from './native.js';
import { testRun } from './test-run.js';

const { programFd, runs, chunk, runsPerSecond } = workerData as { programFd: number; runs: number; chunk: number; runsPerSecond: number };
try {
  const syscalls = nativeSyscalls();
  const data = new Uint8Array(64);
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const start = performance.now();
  for (let done = 0; done < runs; done += chunk) {
    if (runsPerSecond > 0) {
      // Pace: wait until `done` runs are due (a worker thread may block).
      const due = start + (done / runsPerSecond) * 1000;
      const wait = due - performance.now();
      if (wait > 0) Atomics.wait(sleeper, 0, 0, wait);
    }
    testRun(programFd, { data, repeat: Math.min(chunk, runs - done), syscalls });
  }
  parentPort?.postMessage({});
} catch (err) {
  parentPort?.postMessage({ error: err instanceof Error ? err.message : String(err) });
}
