/**
 * A child cgroup v2 for the attach tests: created under the cgroup2 mount, with processes
 * spawned straight into it (`echo $$ > cgroup.procs && exec …`), and removed — after killing
 * whatever is left in it — by `close()` or an exit hook.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';

/** Where cgroup v2 is mounted (`/sys/fs/cgroup` or the hybrid `/sys/fs/cgroup/unified`), or undefined. */
export function cgroup2Root(): string | undefined {
  try {
    for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [, dir, type] = line.split(' ');
      if (type === 'cgroup2' && dir) return dir;
    }
  } catch {
    // no /proc/mounts: no cgroups
  }
  return undefined;
}

/** Skip reason when no cgroup v2 hierarchy can be used, or false. */
export function cgroupSkip(): string | false {
  if (process.getuid?.() !== 0) return 'creating cgroups needs root';
  return cgroup2Root() === undefined ? 'no cgroup v2 mount' : false;
}

/** Options of {@link TestCgroup.run}. */
export interface RunOptions {
  /** Run inside this network namespace (`ip netns exec`). */
  netns?: string;
  timeoutMs?: number;
}

/** A child cgroup of the test. */
export interface TestCgroup extends Disposable {
  readonly path: string;
  /** Runs `argv` as a process inside the cgroup and waits for it (bounded). */
  run(argv: readonly string[], options?: RunOptions): SpawnSyncReturns<string>;
  /** Runs `node -e script` inside the cgroup. */
  node(script: string, options?: RunOptions): SpawnSyncReturns<string>;
  close(): void;
}

const live = new Set<string>();
let hooked = false;

function removeCgroup(path: string): void {
  // A cgroup can be removed only once empty: kill what is left, then retry for a while.
  for (let attempt = 0; attempt < 50 && existsSync(path); attempt++) {
    try {
      for (const pid of readFileSync(join(path, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
      rmdirSync(path);
    } catch {
      spawnSync('sleep', ['0.05']);
    }
  }
  live.delete(path);
}

/** Creates `<cgroup2>/ebpf-test-<random>`. */
export function createTestCgroup(): TestCgroup {
  const root = cgroup2Root();
  if (root === undefined) throw new Error('no cgroup v2 mount');
  const path = join(root, `ebpf-test-${randomBytes(4).toString('hex')}`);
  mkdirSync(path);
  live.add(path);
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const p of [...live]) removeCgroup(p);
    });
  }
  const run = (argv: readonly string[], options: RunOptions = {}): SpawnSyncReturns<string> => {
    const command = options.netns ? ['ip', 'netns', 'exec', options.netns, ...argv] : [...argv];
    // $0 is the cgroup.procs file, "$@" the command: the shell moves itself, then becomes the command.
    return spawnSync('sh', ['-c', 'echo $$ > "$0" && exec "$@"', join(path, 'cgroup.procs'), ...command], {
      encoding: 'utf8',
      timeout: options.timeoutMs ?? 20_000,
    });
  };
  const close = (): void => removeCgroup(path);
  return {
    path,
    run,
    node: (script, options) => run([process.execPath, '-e', script], options),
    close,
    [Symbol.dispose]: close,
  };
}
