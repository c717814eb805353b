/**
 * The verifier against the running kernel on the kernel's own test_verifier cases (6.12 and
 * 6.1): every runnable case is loaded into the kernel and checked by our verifier. A false
 * accept (the kernel rejects, we accept) fails the test; false rejects are reported.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { reportOnFiles } from '../../src/cli/verify.js';
import { kernelSkip } from '../support/kernel.js';
import { VERIFIER_CASE_FILES, verifierCaseFile } from '../support/verifier-cases.js';

describe('verifier vs kernel on test_verifier', () => {
  for (const name of VERIFIER_CASE_FILES) {
    const file = verifierCaseFile(name);
    it(`${name}: no false accepts`, { skip: file.skip || kernelSkip() }, (t) => {
      const [report] = reportOnFiles([file.path!]);
      const s = report!.summary;
      t.diagnostic(`${s.total} cases, ${s.compared} compared, ${s.skipped} skipped: agreement ${s.agreement.toFixed(1)}%, `
        + `${s.falseAccepts} false accepts, ${s.falseRejects} false rejects`);
      const falseAccepts = s.cases.filter((c) => c.status === 'false-accept')
        .map((c) => `#${c.index} ${c.descr}: kernel says ${c.kernel?.message}`);
      assert.deepEqual(falseAccepts, []);
      assert.ok(s.compared > (name.includes('6.1.') ? 1000 : 400), `only ${s.compared} cases compared`);
      assert.ok(s.agreement > 85, `agreement fell to ${s.agreement.toFixed(1)}%`);
    });
  }
});
