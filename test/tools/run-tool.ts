/**
 * Runs `ebpf TOOL …` (bin/ebpf.js of this package) as a child process for the tool tests:
 * output collected as it comes, waits bounded by timeouts, and `close()` (or `using`) kills
 * the child if it is still running, so no test leaves a tool attached.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** bin/ebpf.js, from dist/test/tools/. */
export const EBPF_BIN = fileURLToPath(new URL('../../../bin/ebpf.js', import.meta.url));

/** A running tool. */
export interface RunningTool extends Disposable {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves once `pattern` appears in stderr (or stdout with `where: 'stdout'`); rejects after `timeoutMs` or when the tool exits first. */
  waitFor(pattern: RegExp, options?: { timeoutMs?: number; where?: 'stdout' | 'stderr' }): Promise<void>;
  /** Resolves with the exit code once the tool exits (signal name when killed); rejects after `timeoutMs`. */
  exited(timeoutMs?: number): Promise<number | string>;
  /** Sends `signal` (default SIGINT) and waits for the exit (bounded). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | string>;
  /** The JSON lines of stdout so far, parsed (other lines skipped). */
  jsonLines(): Record<string, unknown>[];
  close(): void;
}

/** Starts `ebpf ...args`. */
export function startTool(args: readonly string[]): RunningTool {
  const child = spawn(process.execPath, [EBPF_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let exit: number | string | undefined;
  const listeners = new Set<() => void>();
  const notify = (): void => listeners.forEach((l) => l());
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; notify(); });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; notify(); });
  child.on('exit', (code, signal) => { exit = code ?? signal ?? 'unknown'; notify(); });

  const until = (done: () => boolean, failed: () => string | undefined, timeoutMs: number, what: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (done()) finish();
        else {
          const why = failed();
          if (why !== undefined) finish(new Error(`${what}: ${why}\nstdout: ${out}\nstderr: ${err}`));
        }
      };
      const timer = setTimeout(() => finish(new Error(`${what}: timed out after ${timeoutMs} ms\nstdout: ${out}\nstderr: ${err}`)), timeoutMs);
      const finish = (e?: Error): void => {
        clearTimeout(timer);
        listeners.delete(check);
        if (e) reject(e);
        else resolve();
      };
      listeners.add(check);
      check();
    });

  const exited = async (timeoutMs = 15_000): Promise<number | string> => {
    await until(() => exit !== undefined, () => undefined, timeoutMs, `ebpf ${args.join(' ')}: exit`);
    return exit!;
  };
  const close = (): void => {
    if (exit === undefined) child.kill('SIGKILL');
  };
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    waitFor: (pattern, options = {}) => until(
      () => pattern.test(options.where === 'stdout' ? out : err),
      () => (exit !== undefined ? `exited (${exit}) first` : undefined),
      options.timeoutMs ?? 15_000,
      `ebpf ${args.join(' ')}: wait for ${pattern}`,
    ),
    exited,
    stop: async (signal = 'SIGINT', timeoutMs = 15_000) => {
      if (exit === undefined) child.kill(signal);
      return exited(timeoutMs);
    },
    jsonLines: () => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>),
    close,
    [Symbol.dispose]: close,
  };
}

/** Runs `ebpf ...args` to completion (bounded). */
export function runTool(args: readonly string[], timeoutMs = 20_000): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [EBPF_BIN, ...args], { encoding: 'utf8', timeout: timeoutMs });
}

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` every `intervalMs` until it gives a value other than undefined, or `timeoutMs` passes. */
export async function eventually<T>(probe: () => T | undefined, timeoutMs: number, intervalMs = 50): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined || Date.now() >= deadline) return value;
    await sleep(intervalMs);
  }
}
