/**
 * Network namespaces for the attach tests, so that no program ever sees the host's traffic:
 * two fresh namespaces joined by a veth pair (`ip netns add ebpf-test-<random>-a/-b`), each
 * with its loopback up. Everything is deleted by `close()` (use `using`), and by an exit hook
 * for a test process that dies before its `finally` runs.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** Runs `ip` with `args` (bounded by a timeout); throws with its stderr on failure. */
export function ip(...args: string[]): string {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.error?.message ?? r.stderr.trim()}`);
  return r.stdout;
}

const live = new Set<string>();
let hooked = false;

function deleteNetns(name: string): void {
  spawnSync('ip', ['netns', 'del', name], { timeout: 10_000 });
  live.delete(name);
}

function track(name: string): void {
  live.add(name);
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const ns of [...live]) deleteNetns(ns);
    });
  }
}

/** A fresh network namespace with `lo` up. */
export interface TestNetns extends Disposable {
  readonly name: string;
  close(): void;
}

/** Creates `ebpf-test-<random>[-suffix]` with its loopback up. */
export function createNetns(suffix = ''): TestNetns {
  const name = `ebpf-test-${randomBytes(4).toString('hex')}${suffix}`;
  ip('netns', 'add', name);
  track(name);
  try {
    ip('-n', name, 'link', 'set', 'lo', 'up');
  } catch (err) {
    deleteNetns(name);
    throw err;
  }
  const close = (): void => deleteNetns(name);
  return { name, close, [Symbol.dispose]: close };
}

/**
 * Two namespaces, `a` and `b`, joined by a veth pair: `veth-a` (10.201.0.1/24) in `a`,
 * `veth-b` (10.201.0.2/24) in `b`. Packets between the addresses cross the pair and nothing else.
 */
export interface VethPair extends Disposable {
  readonly a: { readonly netns: string; readonly ifname: 'veth-a'; readonly address: string };
  readonly b: { readonly netns: string; readonly ifname: 'veth-b'; readonly address: string };
  close(): void;
}

export function createVethPair(): VethPair {
  const nsA = createNetns('-a');
  let nsB: TestNetns | undefined;
  try {
    nsB = createNetns('-b');
    ip('link', 'add', 'veth-a', 'netns', nsA.name, 'type', 'veth', 'peer', 'name', 'veth-b', 'netns', nsB.name);
    ip('-n', nsA.name, 'addr', 'add', '10.201.0.1/24', 'dev', 'veth-a');
    ip('-n', nsB.name, 'addr', 'add', '10.201.0.2/24', 'dev', 'veth-b');
    ip('-n', nsA.name, 'link', 'set', 'veth-a', 'up');
    ip('-n', nsB.name, 'link', 'set', 'veth-b', 'up');
  } catch (err) {
    nsB?.close();
    nsA.close();
    throw err;
  }
  const b = nsB;
  const close = (): void => {
    nsA.close();
    b.close();
  };
  return {
    a: { netns: nsA.name, ifname: 'veth-a', address: '10.201.0.1' },
    b: { netns: b.name, ifname: 'veth-b', address: '10.201.0.2' },
    close,
    [Symbol.dispose]: close,
  };
}

/** Skip reason when `ip netns` cannot be used here (not root, no iproute2), or false. */
export function netnsSkip(): string | false {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) return `ip netns not usable: ${r.error?.message ?? r.stderr.trim()}`;
  return false;
}
