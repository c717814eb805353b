/** External tools some tests compare against (llvm-objdump-19, clang-19, bpftool). */
import { spawnSync } from 'node:child_process';

/** First of `names` found on PATH, or undefined. */
export function findTool(...names: string[]): string | undefined {
  for (const name of names) {
    const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return undefined;
}

/**
 * Skip reason for a test that needs `tool`, or false when present. Under
 * EBPF_REQUIRE_KERNEL=1 (CI) a missing tool is a failure, since .ci/run installs it.
 */
export function needTool(tool: string | undefined, name: string): string | false {
  if (tool !== undefined) return false;
  if (process.env.EBPF_REQUIRE_KERNEL === '1') throw new Error(`${name} is required in CI but not installed`);
  return `${name} not installed`;
}
