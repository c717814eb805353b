/**
 * When a tool stops: at SIGINT or SIGTERM (Ctrl-C, `kill`), after a duration, or when its
 * caller aborts — one AbortSignal for all of them. While the stop is armed the process stays
 * alive (a long-running attachment has nothing else keeping Node's event loop busy), and the
 * signal handlers replace Node's default of dying, so the tool detaches and cleans up first.
 */

/** Options of {@link armStop}. */
export interface StopOptions {
  /** Stop after this many milliseconds. */
  durationMs?: number;
  /** Also stop when this aborts. */
  signal?: AbortSignal;
  /** Stop at SIGINT/SIGTERM (default true). */
  processSignals?: boolean;
}

/** An armed stop: `signal` aborts when it is time; dispose it to disarm. */
export interface Stop extends Disposable {
  readonly signal: AbortSignal;
  /** Why it stopped: `'SIGINT'`, `'SIGTERM'`, `'duration'`, `'aborted'`; undefined while running. */
  readonly reason: string | undefined;
  /** Resolves when the stop fires. */
  readonly stopped: Promise<void>;
  /** Stops now, with `reason` (a count reached, an error). */
  stop(reason: string): void;
}

/** Arms a stop; see the module comment. */
export function armStop(options: StopOptions = {}): Stop {
  const controller = new AbortController();
  let reason: string | undefined;
  const stop = (why: string): void => {
    if (reason !== undefined) return;
    reason = why;
    controller.abort(why);
  };
  const onSigint = (): void => stop('SIGINT');
  const onSigterm = (): void => stop('SIGTERM');
  const onAbort = (): void => stop('aborted');
  const processSignals = options.processSignals ?? true;
  if (processSignals) {
    process.on('SIGINT', onSigint);
    process.on('SIGTERM', onSigterm);
  }
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) stop('aborted');
  const timer = options.durationMs === undefined ? undefined : setTimeout(() => stop('duration'), options.durationMs);
  // Keeps the event loop alive until the stop fires (timers of 2^31-1 ms are Node's longest).
  const keepAlive = setInterval(() => {}, 0x7fff_ffff);
  const stopped = new Promise<void>((resolve) => controller.signal.addEventListener('abort', () => resolve(), { once: true }));
  const disarm = (): void => {
    if (processSignals) {
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigterm);
    }
    options.signal?.removeEventListener('abort', onAbort);
    if (timer !== undefined) clearTimeout(timer);
    clearInterval(keepAlive);
  };
  controller.signal.addEventListener('abort', () => clearInterval(keepAlive), { once: true });
  return {
    signal: controller.signal,
    get reason() {
      return reason;
    },
    stopped,
    stop,
    [Symbol.dispose]: disarm,
  };
}
