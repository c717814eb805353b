/**
 * The tracing part of the verifier against the kernel: tp_btf and iterator programs (context
 * typed by the attach target's BTF prototype, PTR_TO_BTF_ID loads checked against the kernel
 * structs), writable raw tracepoints (PTR_TO_TP_BUFFER) and syscall programs (a user buffer
 * context). Each small program is loaded by the running kernel and verified by us with the
 * kernel's BTF; the verdicts must be equal. Struct offsets come from /sys/kernel/btf/vmlinux.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type Instruction, assemble, encodeProgram } from '../../src/isa/index.js';
import { Btf, serializeBtf } from '../../src/btf/index.js';
import { AttachType, KernelError, ProgramFlag, ProgramType, loadBtf, loadProgram } from '../../src/kernel/index.js';
import { findExceptionCallback } from '../../src/verifier/exception.js';
import { attachBtfId, structMemberOffset, vmlinuxBtf } from '../../src/kernel/link/btf-target.js';
import { type VerifyOptions, verify } from '../../src/verifier/index.js';
import { structAccess } from '../../src/verifier/btf-ptr.js';
import { kernelSkip } from '../support/kernel.js';

interface Case {
  readonly name: string;
  readonly asm: string;
  readonly type: number;
  readonly attachType?: number;
  /** tp_btf tracepoint or iterator target. */
  readonly target?: string;
  readonly flags?: number;
  readonly license?: string;
}

function kernelVerdict(c: Case): { verdict: 'accept' | 'reject'; message: string } {
  const id = c.target !== undefined && c.attachType !== undefined ? attachBtfId(c.attachType, c.target) : undefined;
  try {
    using _p = loadProgram({
      type: c.type, instructions: encodeProgram(assemble(c.asm)), license: c.license ?? 'GPL', name: 'trace_case',
      ...(c.attachType !== undefined ? { expectedAttachType: c.attachType } : {}),
      ...(id !== undefined ? { attachBtfId: id } : {}), ...(c.flags !== undefined ? { flags: c.flags } : {}),
    });
    return { verdict: 'accept', message: '' };
  } catch (err) {
    if (err instanceof KernelError) return { verdict: 'reject', message: err.message };
    throw err;
  }
}

function ourVerdict(c: Case): { verdict: 'accept' | 'reject'; message: string } {
  const btf = vmlinuxBtf();
  const options: VerifyOptions = {
    progType: c.type, btf, gplCompatible: (c.license ?? 'GPL') === 'GPL',
    ...(c.attachType !== undefined ? { expectedAttachType: c.attachType } : {}),
    ...(c.target !== undefined ? { attachTarget: c.target } : {}), ...(c.flags !== undefined ? { flags: c.flags } : {}),
  };
  const r = verify(assemble(c.asm), options);
  return { verdict: r.verdict, message: r.error?.message ?? '' };
}

/** offsetof(struct, member) where the member may sit in an anonymous union or struct. */
function nestedOffset(struct: string, member: string): number {
  const btf = vmlinuxBtf();
  const find = (id: number): number | undefined => {
    const t = btf.type(btf.resolve(id));
    if (t.kind !== 'struct' && t.kind !== 'union') return undefined;
    for (const m of t.members) {
      if (m.name === member) return m.bitOffset / 8;
      const inner = m.name === '' ? find(m.type) : undefined;
      if (inner !== undefined) return m.bitOffset / 8 + inner;
    }
    return undefined;
  };
  const off = find(btf.findByName(struct, 'struct')[0]!);
  if (off === undefined) throw new Error(`struct ${struct} has no member ${member}`);
  return off;
}

/** Cases built from the running kernel's struct layout (computed lazily: needs /sys/kernel/btf/vmlinux). */
function cases(): Case[] {
  const pid = structMemberOffset('task_struct', 'pid');
  const cred = structMemberOffset('task_struct', 'cred');
  const realParent = structMemberOffset('task_struct', 'real_parent');
  const comm = structMemberOffset('task_struct', 'comm');
  const fPath = nestedOffset('file', 'f_path');
  const dName = nestedOffset('dentry', 'd_name');
  const taskSize = vmlinuxBtf().sizeof(vmlinuxBtf().findByName('task_struct', 'struct')[0]!);
  const tp = { type: ProgramType.TRACING, attachType: AttachType.TRACE_RAW_TP, target: 'sched_switch' };
  const iter = { type: ProgramType.TRACING, attachType: AttachType.TRACE_ITER, target: 'task' };
  const iterFile = { ...iter, target: 'task_file', flags: ProgramFlag.SLEEPABLE };
  const rawW = { type: ProgramType.RAW_TRACEPOINT_WRITABLE };
  const sys = { type: ProgramType.SYSCALL, flags: ProgramFlag.SLEEPABLE };
  const end = 'r0 = 0\nexit';
  // sched_switch(bool preempt, struct task_struct *prev, struct task_struct *next, unsigned int prev_state)
  const prev = 'r2 = *(u64 *)(r1 + 8)';
  return [
    { name: 'tp_btf: read prev->pid', ...tp, asm: `${prev}\nr0 = *(u32 *)(r2 + ${pid})\n${end}` },
    { name: 'tp_btf: read preempt (a bool) with a byte load', ...tp, asm: `r0 = *(u8 *)(r1 + 0)\n${end}` },
    { name: 'tp_btf: read prev_state', ...tp, asm: `r0 = *(u32 *)(r1 + 24)\n${end}` },
    { name: 'tp_btf: any return value', ...tp, asm: 'r0 = 7\nexit' },
    { name: 'tp_btf: a pointer argument read with 4 bytes', ...tp, asm: `r2 = *(u32 *)(r1 + 8)\n${end}` },
    { name: 'tp_btf: an offset not a multiple of 8', ...tp, asm: `r2 = *(u32 *)(r1 + 4)\n${end}` },
    { name: 'tp_btf: past the last argument', ...tp, asm: `r2 = *(u64 *)(r1 + 32)\n${end}` },
    { name: 'tp_btf: write to the context', ...tp, asm: `r2 = 0\n*(u64 *)(r1 + 0) = r2\n${end}` },
    { name: 'tp_btf: write through a task pointer', ...tp, asm: `${prev}\nr3 = 1\n*(u32 *)(r2 + ${pid}) = r3\n${end}` },
    { name: 'tp_btf: read past the end of task_struct', ...tp, asm: `${prev}\nr0 = *(u64 *)(r2 + ${taskSize})\n${end}` },
    { name: 'tp_btf: 8 bytes across pid and tgid', ...tp, asm: `${prev}\nr0 = *(u64 *)(r2 + ${pid})\n${end}` },
    { name: 'tp_btf: half of a pointer field', ...tp, asm: `${prev}\nr0 = *(u32 *)(r2 + ${cred})\n${end}` },
    { name: 'tp_btf: comm bytes', ...tp, asm: `${prev}\nr0 = *(u64 *)(r2 + ${comm + 8})\n${end}` },
    { name: 'tp_btf: real_parent->pid (RCU, trusted by task_struct__safe_rcu)', ...tp,
      asm: `${prev}\nr3 = *(u64 *)(r2 + ${realParent})\nr0 = *(u32 *)(r3 + ${pid})\n${end}` },
    { name: 'tp_btf: cred->uid without a NULL check (MEM_RCU | PTR_MAYBE_NULL only when BTF has type tags)', ...tp,
      asm: `${prev}\nr3 = *(u64 *)(r2 + ${cred})\nr0 = *(u32 *)(r3 + 8)\n${end}` },
    { name: 'tp_btf: cred->uid after a NULL check', ...tp,
      asm: `${prev}\nr3 = *(u64 *)(r2 + ${cred})\nif r3 == 0 goto +1\nr0 = *(u32 *)(r3 + 8)\n${end}` },
    { name: 'tp_btf: real_parent->real_parent->pid', ...tp,
      asm: `${prev}\nr3 = *(u64 *)(r2 + ${realParent})\nr3 = *(u64 *)(r3 + ${realParent})\nr0 = *(u32 *)(r3 + ${pid})\n${end}` },
    { name: 'tp_btf: pointer arithmetic then a load', ...tp, asm: `${prev}\nr2 += ${pid}\nr0 = *(u32 *)(r2 + 0)\n${end}` },
    { name: 'tp_btf: a variable offset into task_struct', ...tp,
      asm: `${prev}\nr3 = *(u32 *)(r1 + 24)\nr3 &= 8\nr2 += r3\nr0 = *(u32 *)(r2 + ${pid})\n${end}` },
    { name: 'tp_btf: prev compared with NULL, read on both branches', ...tp,
      asm: `${prev}\nif r2 != 0 goto +0\nr0 = *(u32 *)(r2 + ${pid})\n${end}` },
    { name: 'iter/task_file: file->f_path.dentry->d_name.name[0] (untrusted memory)', ...iterFile,
      asm: `r2 = *(u64 *)(r1 + 24)\nif r2 == 0 goto +4\nr2 = *(u64 *)(r2 + ${fPath + 8})\nr2 = *(u64 *)(r2 + ${dName + 8})\nr0 = *(u8 *)(r2 + 0)\nr0 = *(u64 *)(r2 + 4096)\n${end}` },
    { name: 'iter/task_file: write to d_name.name (untrusted memory)', ...iterFile,
      asm: `r2 = *(u64 *)(r1 + 24)\nif r2 == 0 goto +4\nr2 = *(u64 *)(r2 + ${fPath + 8})\nr2 = *(u64 *)(r2 + ${dName + 8})\nr3 = 0\n*(u8 *)(r2 + 0) = r3\n${end}` },
    { name: 'tp_btf: a non-GPL program reads a kernel struct', ...tp, license: 'MIT', asm: `${prev}\nr0 = *(u32 *)(r2 + ${pid})\n${end}` },
    { name: 'tp_btf/sched_pi_setprio: pi_task (may be NULL, raw_tp_null_args) without a check',
      type: ProgramType.TRACING, attachType: AttachType.TRACE_RAW_TP, target: 'sched_pi_setprio',
      asm: `r2 = *(u64 *)(r1 + 8)\nr0 = *(u32 *)(r2 + ${pid})\n${end}` },
    { name: 'tp_btf/sched_pi_setprio: pi_task after a check',
      type: ProgramType.TRACING, attachType: AttachType.TRACE_RAW_TP, target: 'sched_pi_setprio',
      asm: `r2 = *(u64 *)(r1 + 8)\nif r2 == 0 goto +1\nr0 = *(u32 *)(r2 + ${pid})\n${end}` },
    { name: 'tp_btf/sched_pi_setprio: tsk needs no check',
      type: ProgramType.TRACING, attachType: AttachType.TRACE_RAW_TP, target: 'sched_pi_setprio',
      asm: `r2 = *(u64 *)(r1 + 0)\nr0 = *(u32 *)(r2 + ${pid})\n${end}` },
    { name: 'tp_btf/sched_wakeup (a DEFINE_EVENT: the typedef\'s prototype): p->pid',
      type: ProgramType.TRACING, attachType: AttachType.TRACE_RAW_TP, target: 'sched_wakeup',
      asm: `r2 = *(u64 *)(r1 + 0)\nr0 = *(u32 *)(r2 + ${pid})\n${end}` },
    { name: 'iter/bpf_map: map->max_entries after a check', type: ProgramType.TRACING, attachType: AttachType.TRACE_ITER, target: 'bpf_map',
      asm: `r2 = *(u64 *)(r1 + 8)\nif r2 == 0 goto +1\nr0 = *(u32 *)(r2 + ${structMemberOffset('bpf_map', 'max_entries')})\n${end}` },
    { name: 'iter/bpf_map: write the map pointer argument', type: ProgramType.TRACING, attachType: AttachType.TRACE_ITER, target: 'bpf_map',
      asm: `r2 = 0\n*(u64 *)(r1 + 8) = r2\n${end}` },
    { name: 'tp_btf: bpf_get_current_task_btf()->pid', ...tp, asm: `call 158\nr0 = *(u32 *)(r0 + ${pid})\n${end}` },
    { name: 'tp_btf: bpf_get_current_task_btf()->real_parent->pid', ...tp,
      asm: `call 158\nr0 = *(u64 *)(r0 + ${realParent})\nr0 = *(u32 *)(r0 + ${pid})\n${end}` },
    { name: 'tp_btf: bpf_get_current_task_btf from a non-GPL program', ...tp, license: 'MIT', asm: `call 158\n${end}` },
    { name: 'syscall: write through bpf_get_current_task_btf()', ...sys, asm: `call 158\nr1 = 0\n*(u32 *)(r0 + ${pid}) = r1\n${end}` },
    { name: 'raw_tp.w: bpf_get_current_task_btf()->comm', ...rawW, asm: `call 158\nr0 = *(u8 *)(r0 + ${comm})\n${end}` },
    { name: 'iter/task: task after a NULL check', ...iter, asm: `r2 = *(u64 *)(r1 + 8)\nif r2 == 0 goto +1\nr0 = *(u32 *)(r2 + ${pid})\n${end}` },
    { name: 'iter/task: task without a NULL check', ...iter, asm: `r2 = *(u64 *)(r1 + 8)\nr0 = *(u32 *)(r2 + ${pid})\n${end}` },
    { name: 'iter/task: meta->seq_num', ...iter, asm: `r2 = *(u64 *)(r1 + 0)\nr0 = *(u64 *)(r2 + 8)\n${end}` },
    { name: 'iter/task: return 1', ...iter, asm: 'r0 = 1\nexit' },
    { name: 'iter/task: return 2', ...iter, asm: 'r0 = 2\nexit' },
    { name: 'iter/task: sleepable, no NULL check', ...iter, flags: ProgramFlag.SLEEPABLE, asm: `r2 = *(u64 *)(r1 + 8)\nr0 = *(u32 *)(r2 + ${pid})\n${end}` },
    { name: 'iter.s/task_file: fd and task->real_parent->pid', ...iterFile,
      asm: `r0 = *(u32 *)(r1 + 16)\nr2 = *(u64 *)(r1 + 8)\nif r2 == 0 goto +2\nr3 = *(u64 *)(r2 + ${realParent})\nr0 = *(u32 *)(r3 + ${pid})\n${end}` },
    { name: 'iter.s/task_file: file without a NULL check', ...iterFile, asm: `r2 = *(u64 *)(r1 + 24)\nr0 = *(u32 *)(r2 + 0)\n${end}` },
    { name: 'raw_tp.w: read and write the buffer', ...rawW,
      asm: `r2 = *(u64 *)(r1 + 0)\nr3 = *(u32 *)(r2 + 100)\n*(u32 *)(r2 + 200) = r3\nr0 = *(u64 *)(r1 + 8)\n${end}` },
    { name: 'raw_tp.w: the buffer pointer read with 4 bytes', ...rawW, asm: `r2 = *(u32 *)(r1 + 0)\n${end}` },
    { name: 'raw_tp.w: a negative buffer offset', ...rawW, asm: `r2 = *(u64 *)(r1 + 0)\nr0 = *(u32 *)(r2 - 8)\n${end}` },
    { name: 'raw_tp.w: write an argument', ...rawW, asm: `r2 = 0\n*(u64 *)(r1 + 8) = r2\n${end}` },
    { name: 'syscall: read and write the context', ...sys,
      asm: `r2 = *(u32 *)(r1 + 0)\n*(u32 *)(r1 + 4) = r2\nr3 = *(u64 *)(r1 + 32760)\n*(u8 *)(r1 + 4001) = r3\n${end}` },
    { name: 'syscall: a misaligned context load', ...sys, asm: `r2 = *(u32 *)(r1 + 2)\n${end}` },
    { name: 'syscall: a negative context offset', ...sys, asm: `r2 = *(u32 *)(r1 - 4)\n${end}` },
    { name: 'syscall: not sleepable', type: ProgramType.SYSCALL, asm: end },
    { name: 'syscall: any return value', ...sys, asm: 'r0 = -1\nexit' },
  ];
}

describe('verifier: tracing programs against the kernel', () => {
  it('gives each program the kernel\'s verdict', { skip: kernelSkip() }, () => {
    const diffs: string[] = [];
    const verdicts = { accept: 0, reject: 0 };
    for (const c of cases()) {
      const k = kernelVerdict(c);
      const o = ourVerdict(c);
      verdicts[k.verdict]++;
      if (k.verdict !== o.verdict) diffs.push(`${c.name}: kernel ${k.verdict} (${k.message}), we ${o.verdict} (${o.message})`);
    }
    assert.deepEqual(diffs, []);
    // The cases must exercise both verdicts.
    assert.ok(verdicts.accept >= 10 && verdicts.reject >= 10, `kernel verdicts: ${JSON.stringify(verdicts)}`);
  });
});

/** `call bpf_throw` (a kfunc call naming the vmlinux BTF FUNC) in place of the `call 0xb5ad` placeholder. */
function withThrow(asm: string): Instruction[] {
  const id = vmlinuxBtf().findByName('bpf_throw', 'func')[0]!;
  return assemble(asm).map((insn) => (insn.kind === 'call' && insn.imm === 0xb5ad
    ? { code: 0x85, dst: 0, src: 2, off: 0, imm: id, kind: 'call', target: 'kfunc' } as Instruction : insn));
}

interface ThrowCase {
  readonly name: string;
  readonly asm: string;
  readonly type: number;
  readonly attachType?: number;
  readonly license?: string;
}

describe('verifier: bpf_throw without an exception callback, against the kernel', () => {
  it('gives each program the kernel\'s verdict', { skip: kernelSkip() }, () => {
    const THROW = 'call 0xb5ad';
    const tc = { type: ProgramType.SCHED_CLS };
    const ingress = { type: ProgramType.CGROUP_SKB, attachType: AttachType.CGROUP_INET_INGRESS };
    const cases: ThrowCase[] = [
      { name: 'tc: throw 7', ...tc, asm: `r1 = 7\n${THROW}\nr0 = 0\nexit` },
      { name: 'tc: throw on one branch', ...tc, asm: `r2 = *(u32 *)(r1 + 0)\nr1 = 7\nif r2 > 100 goto +1\n${THROW}\nr0 = 0\nexit` },
      { name: 'tc: throw a pointer', ...tc, asm: `r1 = r10\n${THROW}\nr0 = 0\nexit` },
      { name: 'tc: what follows bpf_throw is not verified', ...tc, asm: `r1 = 0\nr2 = 0\n${THROW}\nr0 = r5\nexit` },
      { name: 'tc: R1 unset', ...tc, asm: `r6 = r1\ncall 5\nr1 = r0\nr1 = r6\nr0 = 0\n${THROW}\nexit` },
      { name: 'tc: non-GPL', ...tc, license: 'MIT', asm: `r1 = 7\n${THROW}\nr0 = 0\nexit` },
      { name: 'cgroup_skb: throw 1 (in the return range)', ...ingress, asm: `r1 = 1\n${THROW}\nr0 = 0\nexit` },
      { name: 'cgroup_skb: throw 2 (out of the return range)', ...ingress, asm: `r1 = 2\n${THROW}\nr0 = 0\nexit` },
      { name: 'sched_act: bpf_throw is not in its kfunc set', type: ProgramType.SCHED_ACT, asm: `r1 = 0\n${THROW}\nr0 = 0\nexit` },
    ];
    const diffs: string[] = [];
    const verdicts = { accept: 0, reject: 0 };
    for (const c of cases) {
      const insns = withThrow(c.asm);
      let kernel: 'accept' | 'reject' = 'accept';
      let why = '';
      try {
        using _p = loadProgram({ type: c.type, instructions: encodeProgram(insns), license: c.license ?? 'GPL', name: 'throw_case',
          ...(c.attachType !== undefined ? { expectedAttachType: c.attachType } : {}) });
      } catch (err) {
        if (!(err instanceof KernelError)) throw err;
        kernel = 'reject';
        why = err.message;
      }
      const r = verify(insns, { progType: c.type, btf: vmlinuxBtf(), gplCompatible: (c.license ?? 'GPL') === 'GPL',
        ...(c.attachType !== undefined ? { expectedAttachType: c.attachType } : {}) });
      verdicts[kernel]++;
      if (kernel !== r.verdict) diffs.push(`${c.name}: kernel ${kernel} (${why}), we ${r.verdict} (${r.error?.message ?? ''})`);
    }
    assert.deepEqual(diffs, []);
    assert.ok(verdicts.accept >= 2 && verdicts.reject >= 4, `kernel verdicts: ${JSON.stringify(verdicts)}`);
  });
});

/**
 * A program BTF for `int main(int)` tagged `exception_callback:handler` and a global
 * `int handler(<arg>)`: the decl tag the kernel looks for (bpf_find_exception_callback_insn_off).
 */
function exceptionBtf(handlerArg: 'int' | 'ptr'): Btf {
  return new Btf([
    { kind: 'void', name: '' },
    { kind: 'int', name: 'int', size: 4, encoding: 1, offset: 0, bits: 32 }, // 1
    { kind: 'func_proto', name: '', returnType: 1, params: [{ name: 'x', type: 1 }] }, // 2
    { kind: 'func', name: 'main', type: 2, linkage: 1 }, // 3
    { kind: 'ptr', name: '', type: 1 }, // 4
    { kind: 'func_proto', name: '', returnType: 1, params: [{ name: 'cookie', type: handlerArg === 'int' ? 1 : 4 }] }, // 5
    { kind: 'func', name: 'handler', type: 5, linkage: 1 }, // 6
    { kind: 'decl_tag', name: 'exception_callback:handler', type: 3, componentIdx: -1 }, // 7
  ]);
}

describe('verifier: exception callbacks, against the kernel', () => {
  it('verifies the callback as a second entry point as the kernel does', { skip: kernelSkip() }, () => {
    const THROW = 'call 0xb5ad';
    // main: throws 7 when skb->len > 100; handler (at slot `cb`): returns cookie + 1 or something worse.
    const cases: { name: string; main: string; handler: string; arg?: 'int' | 'ptr'; type?: number }[] = [
      { name: 'tc: throw, handler returns cookie + 1', main: `r2 = *(u32 *)(r1 + 0)\nr1 = 7\nif r2 > 100 goto +1\n${THROW}\nr0 = 0\nexit`,
        handler: 'r0 = r1\nr0 += 1\nexit' },
      { name: 'tc: handler reads an unset register', main: `r1 = 7\n${THROW}\nr0 = 0\nexit`, handler: 'r0 = r2\nexit' },
      { name: 'tc: handler returns a pointer', main: `r1 = 7\n${THROW}\nr0 = 0\nexit`, handler: 'r0 = r10\nexit' },
      { name: 'tc: handler with a pointer argument', main: `r1 = 7\n${THROW}\nr0 = 0\nexit`, handler: 'r0 = 0\nexit', arg: 'ptr' },
      { name: 'tc: handler throws', main: `r1 = 7\n${THROW}\nr0 = 0\nexit`, handler: `r1 = 0\n${THROW}\nr0 = 0\nexit` },
      { name: 'cgroup_skb: handler returns 5', main: `r1 = 1\n${THROW}\nr0 = 1\nexit`, handler: 'r0 = 5\nexit', type: ProgramType.CGROUP_SKB },
      { name: 'cgroup_skb: handler returns 1, throw 9', main: `r1 = 9\n${THROW}\nr0 = 1\nexit`, handler: 'r0 = 1\nexit', type: ProgramType.CGROUP_SKB },
    ];
    const diffs: string[] = [];
    const verdicts = { accept: 0, reject: 0 };
    for (const c of cases) {
      const type = c.type ?? ProgramType.SCHED_CLS;
      const main = withThrow(c.main);
      const insns = [...main, ...withThrow(c.handler)];
      const cb = main.reduce((n, i) => n + (i.kind === 'lddw' ? 2 : 1), 0);
      const btf = exceptionBtf(c.arg ?? 'int');
      const records = [{ insnOff: 0, typeId: 3 }, { insnOff: cb, typeId: 6 }];
      let kernel: 'accept' | 'reject' = 'accept';
      let why = '';
      try {
        using kbtf = loadBtf(serializeBtf(btf));
        using _p = loadProgram({ type, instructions: encodeProgram(insns), license: 'GPL', name: 'exc_case', btf: kbtf, funcInfo: records,
          ...(type === ProgramType.CGROUP_SKB ? { expectedAttachType: AttachType.CGROUP_INET_INGRESS } : {}) });
      } catch (err) {
        if (!(err instanceof KernelError)) throw err;
        kernel = 'reject';
        why = err.message;
      }
      const exceptionCallback = findExceptionCallback(btf, records);
      const r = verify(insns, {
        progType: type, btf: vmlinuxBtf(), gplCompatible: true,
        ...(type === ProgramType.CGROUP_SKB ? { expectedAttachType: AttachType.CGROUP_INET_INGRESS } : {}),
        funcInfo: [{ insn: 0, linkage: 1, scalarReturn: true }, { insn: cb, linkage: 1, scalarReturn: true }],
        ...(exceptionCallback === undefined ? {} : { exceptionCallback }),
      });
      verdicts[kernel]++;
      if (kernel !== r.verdict) diffs.push(`${c.name}: kernel ${kernel} (${why}), we ${r.verdict} (${r.error?.message ?? ''})`);
    }
    assert.deepEqual(diffs, []);
    assert.ok(verdicts.accept >= 2 && verdicts.reject >= 3, `kernel verdicts: ${JSON.stringify(verdicts)}`);
  });
});

describe('verifier: btf_struct_access', () => {
  it('walks nested structs, arrays, pointers and the ends of members', { skip: kernelSkip() }, () => {
    const btf = vmlinuxBtf();
    const task = btf.findByName('task_struct', 'struct')[0]!;
    const pid = structMemberOffset('task_struct', 'pid');
    const comm = structMemberOffset('task_struct', 'comm');
    assert.deepEqual(structAccess(btf, task, pid, 4), { kind: 'scalar' });
    assert.equal(structAccess(btf, task, pid, 8).kind, 'error');
    // comm is char[16]: any part of it is a scalar, but not past its end.
    assert.deepEqual(structAccess(btf, task, comm + 3, 1), { kind: 'scalar' });
    assert.equal(structAccess(btf, task, comm + 12, 8).kind, 'error');
    const parent = structAccess(btf, task, structMemberOffset('task_struct', 'real_parent'), 8);
    assert.equal(parent.kind, 'ptr');
    assert.equal(parent.kind === 'ptr' ? parent.id : -1, task);
  });
});
