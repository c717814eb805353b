/**
 * The context rules and return ranges of the program types modelled from net/core/filter.c,
 * kernel/bpf/cgroup.c and net/netfilter/nf_bpf_link.c (LWT, sock_ops, cgroup device, sk_reuseport,
 * flow dissector, cgroup sysctl and sockopt, netfilter), against the running kernel: every aligned
 * load and store of 1, 2, 4 and 8 bytes over each context struct (and a little past it), and R0
 * values around each return range, are loaded into the kernel and checked by our verifier. The
 * verdicts must agree; the only accepted difference is the netfilter context, whose two fields
 * are BTF pointers this verifier does not model (it refuses them).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeSlots, type RawInstruction } from '../../src/isa/index.js';
import { KernelError, loadProgram } from '../../src/kernel/index.js';
import { AttachType, ProgramType } from '../../src/object/uapi-types.js';
import { verify } from '../../src/verifier/index.js';
import { kernelSkip } from '../support/kernel.js';

const raw = (code: number, dst = 0, src = 0, off = 0, imm = 0): RawInstruction => ({ code, dst, src, off, imm });
const SIZE_BITS = new Map([[1, 0x10], [2, 0x08], [4, 0x00], [8, 0x18]]);
const LDX = 0x61, STX = 0x63, MOV64_K = 0xb7, EXIT = 0x95;

interface Case {
  readonly name: string;
  readonly progType: number;
  readonly attachType: number;
  /** sizeof the context struct. */
  readonly size: number;
}

const CASES: readonly Case[] = [
  { name: 'lwt_in', progType: ProgramType.LWT_IN, attachType: 0, size: 192 },
  { name: 'lwt_out', progType: ProgramType.LWT_OUT, attachType: 0, size: 192 },
  { name: 'lwt_xmit', progType: ProgramType.LWT_XMIT, attachType: 0, size: 192 },
  { name: 'sockops', progType: ProgramType.SOCK_OPS, attachType: 0, size: 224 },
  { name: 'cgroup/dev', progType: ProgramType.CGROUP_DEVICE, attachType: 0, size: 12 },
  { name: 'sk_reuseport', progType: ProgramType.SK_REUSEPORT, attachType: AttachType.SK_REUSEPORT_SELECT, size: 56 },
  { name: 'sk_reuseport/migrate', progType: ProgramType.SK_REUSEPORT, attachType: AttachType.SK_REUSEPORT_SELECT_OR_MIGRATE, size: 56 },
  { name: 'flow_dissector', progType: ProgramType.FLOW_DISSECTOR, attachType: 0, size: 192 },
  { name: 'cgroup/sysctl', progType: ProgramType.CGROUP_SYSCTL, attachType: 0, size: 8 },
  { name: 'cgroup/getsockopt', progType: ProgramType.CGROUP_SOCKOPT, attachType: AttachType.CGROUP_GETSOCKOPT, size: 40 },
  { name: 'cgroup/setsockopt', progType: ProgramType.CGROUP_SOCKOPT, attachType: AttachType.CGROUP_SETSOCKOPT, size: 40 },
  { name: 'netfilter', progType: ProgramType.NETFILTER, attachType: AttachType.NETFILTER, size: 16 },
];

function kernelAccepts(c: Case, insns: RawInstruction[]): boolean {
  try {
    loadProgram({ type: c.progType, expectedAttachType: c.attachType, instructions: encodeSlots(insns), license: 'GPL' }).close();
    return true;
  } catch (err) {
    if (!(err instanceof KernelError)) throw err;
    return false;
  }
}

describe('program types against the kernel', () => {
  for (const c of CASES) {
    it(`${c.name}: context loads and stores, return values`, { skip: kernelSkip() }, (t) => {
      const programs: { what: string; insns: RawInstruction[] }[] = [];
      for (const [size, bits] of SIZE_BITS) {
        for (let off = 0; off < c.size + 8; off += size) {
          programs.push({ what: `r2 = *(u${size * 8} *)(r1 + ${off})`, insns: [raw(LDX | bits, 2, 1, off), raw(MOV64_K, 0, 0, 0, 1), raw(EXIT)] });
          programs.push({
            what: `*(u${size * 8} *)(r1 + ${off}) = r2`,
            insns: [raw(MOV64_K, 2, 0, 0, 0), raw(STX | bits, 1, 2, off), raw(MOV64_K, 0, 0, 0, 1), raw(EXIT)],
          });
        }
      }
      for (let r0 = -2; r0 <= 4; r0++) programs.push({ what: `return ${r0}`, insns: [raw(MOV64_K, 0, 0, 0, r0), raw(EXIT)] });
      const falseAccepts: string[] = [];
      const falseRejects: string[] = [];
      for (const p of programs) {
        const kernel = kernelAccepts(c, p.insns);
        const ours = verify(p.insns, { progType: c.progType, expectedAttachType: c.attachType });
        if (kernel && ours.verdict === 'reject') falseRejects.push(`${p.what}: ${ours.error!.message}`);
        if (!kernel && ours.verdict === 'accept') falseAccepts.push(p.what);
      }
      t.diagnostic(`${programs.length} programs: ${falseAccepts.length} false accepts, ${falseRejects.length} false rejects`);
      assert.deepEqual(falseAccepts, []);
      // The netfilter context holds BTF pointers (state, skb), which this verifier refuses to load.
      const expected = c.progType === ProgramType.NETFILTER
        ? ['r2 = *(u64 *)(r1 + 0): invalid bpf_context access off=0 size=8', 'r2 = *(u64 *)(r1 + 8): invalid bpf_context access off=8 size=8']
        : [];
      assert.deepEqual(falseRejects, expected);
    });
  }
});
