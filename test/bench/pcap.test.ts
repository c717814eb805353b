/**
 * The bench's full pcap comparison at test size: 20,000 packets of the generated capture through
 * `ebpf run`'s engine (the example XDP firewall in the VM) and, one by one, through the kernel's
 * BPF_PROG_TEST_RUN; every verdict and the firewall's maps afterwards must be the same.
 * `npm run bench` runs the same comparison on 1,000,000 packets.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { benchPcap, describePcapResult } from '../../bench/pcap.js';
import { kernelSkip } from '../support/kernel.js';

describe('ebpf run on a generated pcap against the kernel', { skip: kernelSkip() }, () => {
  it('gives every one of 20,000 packets the kernel\'s verdict and leaves the same maps', (t) => {
    const r = benchPcap(20_000);
    for (const line of describePcapResult(r)) t.diagnostic(line);
    assert.equal(r.packets, 20_000);
    assert.ok(r.kernel, `the kernel comparison did not run: ${r.kernelSkipped}`);
    assert.equal(r.kernel.packets, 20_000);
    assert.equal(r.kernel.mismatches, 0, `first mismatch: ${JSON.stringify(r.kernel.firstMismatch)}`);
    assert.deepEqual(r.verdicts, r.kernel.verdicts);
    // The capture has both outcomes, and the maps hold the per-verdict counters and per-source drops.
    assert.ok((r.verdicts.XDP_PASS ?? 0) > 0 && (r.verdicts.XDP_DROP ?? 0) > 0, JSON.stringify(r.verdicts));
    assert.ok(r.kernel.mapEntries > 5, `only ${r.kernel.mapEntries} map entries compared`);
    assert.ok(r.kernel.mapsEqual, r.kernel.mapDifference);
  });
});
