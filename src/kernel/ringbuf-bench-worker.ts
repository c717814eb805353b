/**
 * The producer thread of `ringbuf-bench.ts`: test-runs the program (by fd, shared with the main
 * thread) `runs` times, `chunk` runs per system call, then says so.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { nativeSyscalls } from './native.js';
import { testRun } from './test-run.js';

const { programFd, runs, chunk } = workerData as { programFd: number; runs: number; chunk: number };
try {
  const syscalls = nativeSyscalls();
  const data = new Uint8Array(64);
  for (let done = 0; done < runs; done += chunk) testRun(programFd, { data, repeat: Math.min(chunk, runs - done), syscalls });
  parentPort?.postMessage({});
} catch (err) {
  parentPort?.postMessage({ error: err instanceof Error ? err.message : String(err) });
}
