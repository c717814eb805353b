#!/usr/bin/env node
// The verifier report: every runnable case of the kernel's test_verifier (6.12 and 6.1 JSON,
// from ../shared/testdata/kernel-verifier) loaded into the running kernel and checked by this
// package's verifier. Prints the agreement, the false accepts (the kernel rejects, we accept:
// must be zero), the false rejects, and every disagreement. Needs root and a built tree
// (npm run build). Usage: node scripts/verifier-report.js [-j] [FILE.json ...]
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const { reportOnFiles, formatReport } = await import(join(root, 'dist/src/cli/verify.js'));
const { unprivOracleUnavailable } = await import(join(root, 'dist/src/cli/verify-unpriv.js'));

const args = process.argv.slice(2);
const json = args.includes('-j') || args.includes('--json');
let files = args.filter((a) => !a.startsWith('-'));
if (files.length === 0) {
  const shared = process.env.EBPF_SHARED ?? join(root, '..', 'shared');
  files = ['test_verifier_6.12.json', 'test_verifier_6.1.json'].map((f) => join(shared, 'testdata', 'kernel-verifier', f));
}
const missing = files.filter((f) => !existsSync(f));
if (missing.length > 0) {
  console.error(`verifier-report: not found: ${missing.join(', ')}`);
  process.exit(2);
}
// The unprivileged column: the socket filter / cgroup_skb cases loaded by an unprivileged child.
const unprivWhy = unprivOracleUnavailable();
if (unprivWhy !== undefined) console.error(`verifier-report: no unprivileged column: ${unprivWhy}`);
const reports = reportOnFiles(files, { unprivileged: unprivWhy === undefined });
if (json) process.stdout.write(`${JSON.stringify(reports, null, 2)}\n`);
else process.stdout.write(formatReport(reports));
process.exit(reports.some((r) => r.summary.falseAccepts > 0 || (r.unprivileged?.falseAccepts ?? 0) > 0) ? 1 : 0);
