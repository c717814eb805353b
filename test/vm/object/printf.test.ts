/**
 * bpf_snprintf, bpf_trace_printk, bpf_trace_vprintk, bpf_strncmp and bpf_probe_read_kernel(_str)
 * in the VM against the kernel: bpf/fixtures/vm_printf.o run in both, its `.bss` (formatted
 * strings, return values, copied bytes) compared byte for byte.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadObjectSpec } from '../../../src/object/index.js';
import { loadObjectVm, VmHost } from '../../../src/vm/index.js';
import { kernelSkip } from '../../support/kernel.js';
import { repoRoot } from '../../support/shared.js';
import { KernelObjectForTest } from './kernel-link.js';

const bytes = readFileSync(join(repoRoot, 'bpf/fixtures/vm_printf.o'));
const PROGRAMS = ['snprintf_cases', 'printk_cases', 'string_cases'];

interface Bss { out: string[]; rets: bigint[]; copied: string[] }

/** Runs `name` in the VM; returns the decoded `.bss` and the trace lines. */
function vmRun(name: string): { bss: Bss; raw: Uint8Array; trace: string[] } {
  using obj = loadObjectVm(bytes, { host: new VmHost({ seed: 1 }) });
  obj.programs[name]!.run(0);
  return {
    bss: obj.maps['.bss']!.get(0) as Bss,
    raw: obj.maps['.bss']!.map.lookup(new Uint8Array(4)) as Uint8Array,
    trace: obj.tracePipe.read(),
  };
}

describe('printf and string helpers in the VM', () => {
  it('bpf_snprintf formats as the kernel does', () => {
    const { bss } = vmRun('snprintf_cases');
    assert.equal(bss.out[0], '-5 -6 4294967289|-2147483646'); // %d takes the low 32 bits
    assert.equal(bss.out[3], '[   42|42   |-0042|+7| 7|8]');
    assert.equal(bss.out[4], '[hello|   hello|stack   |]');
    assert.equal(bss.out[8], '192.168.1.20 192.168.001.020');
    assert.equal(bss.rets[13], 18n);           // "truncated 1234567" and its NUL
    assert.equal(bss.out[13], 'truncat');
    assert.equal(bss.rets[14], -28n);          // -ENOSPC
  });

  it('bpf_trace_printk writes its line to the trace pipe and returns its length', () => {
    const { bss, trace } = vmRun('printk_cases');
    assert.equal(bss.rets[24], BigInt('vm printk 7 hello'.length));
    assert.equal(trace[0], 'vm printk 7 hello');
    assert.equal(bss.rets[27], -22n);          // %.2d: -EINVAL
  });
});

describe('printf and string helpers: VM vs kernel', { skip: kernelSkip() }, () => {
  for (const name of PROGRAMS) {
    it(name, () => {
      using kernel = new KernelObjectForTest(loadObjectSpec(bytes));
      kernel.run(name, new Uint8Array(64));
      const vm = vmRun(name);
      const want = kernel.data('.bss');
      const spec = loadObjectSpec(bytes);
      const decode = (raw: Uint8Array): Bss => {
        using obj = loadObjectVm(spec, { programs: [] });
        return obj.maps['.bss']!.map.registry && (obj.maps['.bss']!.set(0, raw).get(0) as Bss);
      };
      assert.deepEqual(vm.bss, decode(want));
      assert.deepEqual([...vm.raw], [...want]);
    });
  }
});
