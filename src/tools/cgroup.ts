/** cgroup v2 for the tools: where the hierarchy is mounted, and throwaway child cgroups. */
import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { EbpfError } from '../errors.js';

/** Where cgroup v2 is mounted (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified` on hybrid systems), or undefined. */
export function cgroup2Root(): string | undefined {
  try {
    for (const line of readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
      const [, dir, type] = line.split(' ');
      if (type === 'cgroup2' && dir) return dir;
    }
  } catch {
    // no /proc: no cgroups
  }
  return undefined;
}

/** A child cgroup made for a while; `close()` kills what is left in it and removes it. */
export interface TemporaryCgroup extends Disposable {
  readonly path: string;
  close(): void;
}

/** Creates `<cgroup2 root>/<prefix>-<pid>-<random>`. */
export function createTemporaryCgroup(prefix: string): TemporaryCgroup {
  const root = cgroup2Root();
  if (root === undefined) throw new EbpfError('no cgroup v2 hierarchy is mounted');
  const path = join(root, `${prefix}-${process.pid}-${randomBytes(3).toString('hex')}`);
  try {
    mkdirSync(path);
  } catch (err) {
    throw EbpfError.wrap(`create cgroup ${path}`, err);
  }
  const close = (): void => removeCgroup(path);
  return { path, close, [Symbol.dispose]: close };
}

/** Kills the processes left in `path` and removes it, retrying for a bounded while (a cgroup goes only once empty). */
export function removeCgroup(path: string): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let attempt = 0; existsSync(path); attempt++) {
    try {
      for (const pid of readFileSync(join(path, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // gone already
        }
      }
      rmdirSync(path);
    } catch (err) {
      if (attempt >= 100) throw EbpfError.wrap(`remove cgroup ${path}`, err);
      Atomics.wait(pause, 0, 0, 20);
    }
  }
}
