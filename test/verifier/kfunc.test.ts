/**
 * The kfuncs the verifier models (bpf_rcu_read_lock/unlock), compared with the kernel: the
 * calls name the functions by their id in this kernel's BTF, as libbpf resolves them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseBtf } from '../../src/btf/parse.js';
import type { Btf } from '../../src/btf/btf.js';
import { assemble, encodeProgram, type Instruction } from '../../src/isa/index.js';
import { loadProgram, ProgramType } from '../../src/kernel/index.js';
import { verify } from '../../src/verifier/index.js';
import { kernelSkip } from '../support/kernel.js';

/** `asm` with each `call LOCK` / `call UNLOCK` turned into a kfunc call of that function. */
function program(btf: Btf, asm: string): Instruction[] {
  const ids = { LOCK: btf.findByName('bpf_rcu_read_lock', 'func')[0]!, UNLOCK: btf.findByName('bpf_rcu_read_unlock', 'func')[0]! };
  const lines = asm.trim().split('\n');
  return assemble(lines.map((l) => l.replace(/call (LOCK|UNLOCK)/, 'call 0')).join('\n')).map((insn, i) => {
    const m = /call (LOCK|UNLOCK)/.exec(lines[i]!);
    return m ? { ...insn, src: 2, imm: ids[m[1] as 'LOCK' | 'UNLOCK'], target: 'kfunc' } as Instruction : insn;
  });
}

const CASES: Array<[string, string]> = [
  ['lock, unlock', 'call LOCK\ncall UNLOCK\nr0 = 2\nexit'],
  ['unlock alone', 'call UNLOCK\nr0 = 2\nexit'],
  ['nested lock', 'call LOCK\ncall LOCK\ncall UNLOCK\ncall UNLOCK\nr0 = 2\nexit'],
  ['exit inside', 'call LOCK\nr0 = 2\nexit'],
  ['unlock on one path', 'r6 = r1\ncall LOCK\nr1 = *(u32 *)(r6 + 0)\nif r1 == 0 goto +1\ncall UNLOCK\nr0 = 2\nexit'],
  ['R1 clobbered', 'call LOCK\ncall UNLOCK\nr0 = r1\nexit'],
  ['helper inside', 'call LOCK\ncall 5\ncall UNLOCK\nr0 = 2\nexit'],
];

describe('kfuncs', () => {
  it('bpf_rcu_read_lock/unlock get the kernel\'s verdict and words', { skip: kernelSkip() }, () => {
    const btf = parseBtf(readFileSync('/sys/kernel/btf/vmlinux'));
    for (const license of ['GPL', 'Proprietary']) {
      for (const [name, asm] of CASES) {
        const insns = program(btf, asm);
        let kernel = '';
        try {
          loadProgram({ type: ProgramType.XDP, instructions: encodeProgram(insns), license, logLevel: 1 }).close();
        } catch (err) {
          kernel = (err as { log?: string }).log ?? String(err);
        }
        const ours = verify(insns, { progType: ProgramType.XDP, btf, gplCompatible: license === 'GPL' });
        assert.equal(ours.verdict, kernel === '' ? 'accept' : 'reject', `${name} (${license}): kernel ${kernel === '' ? 'accepts' : `rejects: ${kernel.trim().split('\n').slice(-2)[0]}`}, ours: ${ours.error?.message}`);
        if (ours.error !== undefined) assert.ok(kernel.split('\n').includes(ours.error.message), `${name}: '${ours.error.message}' is not a line of the kernel's log:\n${kernel}`);
      }
    }
  });
});
