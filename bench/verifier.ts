/**
 * Verification time of the shared test_verifier corpora: this package's verifier beside the
 * kernel's own load time (BPF_PROG_LOAD, which is mostly verification) for the same cases,
 * measured in the same run.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { caseNotRunnable, parseVerifierCases } from '../src/verifier/cases.js';
import { caseInstructions, createCaseMaps, kernelVerdict, probeTestingFlags } from '../src/cli/verify-kernel.js';
import { verifyCase } from '../src/cli/verify.js';

export interface VerifierBench {
  readonly file: string;
  readonly cases: number;
  readonly oursMs: number;
  readonly kernelMs: number;
}

/** Times both verifiers over every runnable case of each file (maps made for the fixups). */
export function benchVerifier(files: readonly string[]): VerifierBench[] {
  const testing = probeTestingFlags();
  return files.map((file) => {
    const cases = parseVerifierCases(JSON.parse(readFileSync(file, 'utf8')));
    let oursNs = 0n, kernelNs = 0n, n = 0;
    for (const c of cases) {
      if (caseNotRunnable(c) !== undefined) continue;
      let maps;
      try { maps = createCaseMaps(c); } catch { continue; }
      try {
        const insns = caseInstructions(c, maps);
        const t0 = process.hrtime.bigint();
        kernelVerdict(c, insns);
        const t1 = process.hrtime.bigint();
        verifyCase(c, insns, maps.mapOf, testing);
        const t2 = process.hrtime.bigint();
        kernelNs += t1 - t0;
        oursNs += t2 - t1;
        n++;
      } finally {
        maps.close();
      }
    }
    return { file: file.split('/').pop() ?? file, cases: n, oursMs: Number(oursNs) / 1e6, kernelMs: Number(kernelNs) / 1e6 };
  });
}

/** The shared corpora under `shared`. */
export function verifierCorpora(shared: string): string[] {
  return ['test_verifier_6.12.json', 'test_verifier_6.1.json'].map((f) => join(shared, 'testdata', 'kernel-verifier', f));
}
