/**
 * The unprivileged oracle: programs loaded into the running kernel by a process without
 * capabilities (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN, CAP_NET_ADMIN), as test_verifier.c does
 * for its `/u` runs. The kernel refuses unprivileged loads while
 * /proc/sys/kernel/unprivileged_bpf_disabled is non-zero; as root this module sets it to 0 for
 * the time one child process (setpriv to nobody, unpriv-child.ts) needs to load a whole batch,
 * and always sets it back (a shell holding a lock does the toggling, so concurrent users of this
 * module take turns). Node only, needs root.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RawInstruction } from '../isa/index.js';
import { applyFixups, syntheticMapFds, type MapInfo, type VerifierCase } from '../verifier/index.js';
import type { UnprivProgramJson, UnprivVerdictJson } from './unpriv-child.js';
import { comparisonStatus, summarizeComparisons, type CaseComparison, type ComparisonSummary } from './verify-kernel.js';

export type { UnprivProgramJson as UnprivProgram, UnprivVerdictJson as UnprivVerdict } from './unpriv-child.js';

const SYSCTL = '/proc/sys/kernel/unprivileged_bpf_disabled';
const CHILD = fileURLToPath(new URL('./unpriv-child.js', import.meta.url));
/** The user the child runs as (nobody). */
const NOBODY = '65534';
/** Taken (flock) by every process that toggles the sysctl through this module. */
const LOCK = '/run/lock/ebpf-unpriv-bpf.lock';

/** Why the unprivileged oracle cannot run here, or undefined when it can. */
export function unprivOracleUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (to set kernel.unprivileged_bpf_disabled)';
  if (!existsSync(SYSCTL)) return `${SYSCTL} not found`;
  const value = readFileSync(SYSCTL, 'utf8').trim();
  if (value === '1') return 'kernel.unprivileged_bpf_disabled is 1 (cannot be cleared until reboot)';
  for (const tool of ['setpriv', 'flock']) {
    const r = spawnSync(tool, ['--version'], { encoding: 'utf8' });
    if (r.error !== undefined || r.status !== 0) return `${tool} (util-linux) not found`;
  }
  return undefined;
}

/**
 * Loads every program of `batch` through one unprivileged child process and returns the
 * kernel's verdicts in order (or `skipped` with the reason when the maps could not be made
 * unprivileged, as test_verifier skips). The sysctl is restored even when the child fails.
 */
export function unprivilegedVerdicts(batch: readonly UnprivProgramJson[]): UnprivVerdictJson[] {
  if (batch.length === 0) return [];
  const why = unprivOracleUnavailable();
  if (why !== undefined) throw new Error(`unprivileged oracle: ${why}`);
  // The sysctl is machine-wide: every user of this oracle takes the same lock, and the shell
  // that holds it restores the old value on any exit (the trap), even if this process dies.
  const script = [
    'exec 9>"$1"', 'flock 9', 'prev=$(cat "$2")', 'trap \'echo "$prev" > "$2"\' EXIT', "trap 'exit 1' HUP INT TERM",
    '[ "$prev" = 0 ] || echo 0 > "$2"',
    `setpriv --reuid=${NOBODY} --regid=${NOBODY} --clear-groups --inh-caps=-all "$3" "$4"`,
  ].join('\n');
  for (let attempt = 1; ; attempt++) {
    const result = spawnSync('sh', ['-c', script, 'sh', LOCK, SYSCTL, process.execPath, CHILD],
      { input: JSON.stringify(batch), encoding: 'utf8', maxBuffer: 1 << 30, timeout: 600_000 });
    if (result.error !== undefined) throw new Error(`unprivileged oracle: ${result.error.message}`);
    // 3: another process set kernel.unprivileged_bpf_disabled while the child ran; try again.
    if (result.status === 3 && attempt < 5) continue;
    if (result.status !== 0) throw new Error(`unprivileged oracle: child exited with ${result.status}: ${result.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    const out = JSON.parse(result.stdout) as UnprivVerdictJson[];
    if (out.length !== batch.length) throw new Error(`unprivileged oracle: ${out.length} verdicts for ${batch.length} programs`);
    return out;
  }
}

const PROG_TYPE_SOCKET_FILTER = 1;
const PROG_TYPE_CGROUP_SKB = 8;

/** test_verifier.c test_as_unpriv(): the cases it also runs without privileges. */
export function runsUnprivileged(c: VerifierCase): boolean {
  return c.progType === 0 || c.progType === PROG_TYPE_SOCKET_FILTER || c.progType === PROG_TYPE_CGROUP_SKB;
}

/**
 * The unprivileged half of the report: every case test_verifier runs as `/u` (socket filters
 * and cgroup_skb) loaded by one unprivileged child and checked by `verifyFn` (this package's
 * verifier with `privileged: false`) on the same fixups.
 */
export function compareUnprivileged(
  cases: readonly VerifierCase[],
  verifyFn: (c: VerifierCase, insns: readonly RawInstruction[], mapOf: (fd: number) => MapInfo | undefined) => NonNullable<CaseComparison['ours']>,
  notRunnable: (c: VerifierCase) => string | undefined,
): ComparisonSummary {
  const selected = cases.filter(runsUnprivileged);
  const out: CaseComparison[] = [];
  const toRun: VerifierCase[] = [];
  for (const c of selected) {
    const why = notRunnable(c);
    if (why !== undefined) out.push({ index: c.index, descr: c.descr, progType: c.progType, status: 'skipped', reason: why });
    else toRun.push(c);
  }
  const verdicts = unprivilegedVerdicts(toRun.map((c) => ({
    insns: c.insns, progType: c.progType || PROG_TYPE_SOCKET_FILTER, expectedAttachType: c.expectedAttachType, flags: c.flags,
    fixups: Object.fromEntries(c.fixups),
  })));
  toRun.forEach((c, i) => {
    const base = { index: c.index, descr: c.descr, progType: c.progType };
    const kernel = verdicts[i]!;
    if (kernel.verdict === 'skipped') { out.push({ ...base, status: 'skipped', reason: kernel.reason }); return; }
    if (kernel.verdict === 'reject' && kernel.code === 'ENOTSUPP') {
      out.push({ ...base, status: 'skipped', reason: 'the kernel does not support a feature the case uses (ENOTSUPP)', kernel });
      return;
    }
    const maps = syntheticMapFds(c);
    const ours = verifyFn(c, applyFixups(c, maps.fdOf), maps.mapOf);
    out.push({ ...base, status: comparisonStatus(ours.verdict, kernel.verdict), kernel, ours });
  });
  out.sort((a, b) => a.index - b.index);
  return summarizeComparisons(out);
}
