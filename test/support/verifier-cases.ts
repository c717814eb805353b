/**
 * The kernel's test_verifier cases for tests: read from ../shared/testdata/kernel-verifier
 * (skipped when absent), parsed into the case model of src/verifier/cases.ts, and loaded into
 * the kernel the way test_verifier.c does it (src/cli/verify-kernel.ts).
 */
import { readFileSync } from 'node:fs';
import { parseVerifierCases, type VerifierCase } from '../../src/verifier/index.js';
import { sharedPath } from './shared.js';

export {
  caseInstructions, compareWithKernel, createCaseMaps, kernelVerdict, probeTestingFlags,
  type CaseComparison, type CaseMaps, type ComparisonSummary, type KernelVerdict,
} from '../../src/cli/verify-kernel.js';
export { applyFixups, caseNotRunnable, caseProgFlags, parseVerifierCases, type VerifierCase } from '../../src/verifier/index.js';

/** The two JSON files the tests and the report use. */
export const VERIFIER_CASE_FILES = ['test_verifier_6.12.json', 'test_verifier_6.1.json'] as const;

/** The path of a case file, or a skip reason when ../shared is absent. */
export function verifierCaseFile(name: string): { path: string; skip: false } | { path: undefined; skip: string } {
  return sharedPath('testdata', 'kernel-verifier', name);
}

/** Reads and parses a case file. */
export function readVerifierCases(path: string): VerifierCase[] {
  return parseVerifierCases(JSON.parse(readFileSync(path, 'utf8')));
}
