/** `ebpf verify`: verdicts, the kernel-format log, JSON output and test_verifier cases. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/command.js';
import { assemble, encodeProgram } from '../../src/isa/index.js';
import { KernelError, ProgramType, loadProgram } from '../../src/kernel/index.js';
import { kernelSkip } from '../support/kernel.js';
import { repoRoot } from '../support/shared.js';

/** Runs `ebpf verify ARGS`, files read by `read`. */
function runWith(args: string[], read: (path: string) => Uint8Array): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: Io = {
    out: (t) => { out += t; },
    err: (t) => { err += t; },
    stdin: async () => new Uint8Array(),
    readFile: read,
    writeFile: () => undefined,
  };
  return main(['verify', ...args], io).then((code) => ({ code, out, err }));
}

/** `ebpf verify` on files of the repository. */
const runRepo = (args: string[]): Promise<{ code: number; out: string; err: string }> =>
  runWith(args, (p) => new Uint8Array(readFileSync(join(repoRoot, p))));

/** `ebpf verify` on files given as text. */
const run = (args: string[], files: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> =>
  runWith(args, (p) => {
    const text = files[p];
    if (text === undefined) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT', syscall: 'open' });
    return new TextEncoder().encode(text);
  });

describe('ebpf verify OBJ', () => {
  it('verifies an object program as the VM loads it: func_info for callbacks, frozen .rodata, the license', async () => {
    const loop = await runRepo(['bpf/fixtures/vm_loop.o', '--prog', 'loop_sum']);
    assert.match(loop.out, /^ACCEPT bpf\/fixtures\/vm_loop\.o:loop_sum/m);
    const printf = await runRepo(['bpf/fixtures/vm_printf.o', '--prog', 'snprintf_cases']);
    assert.match(printf.out, /^ACCEPT /m);
    const bad = await runRepo(['bpf/fixtures/vm_rejected.o', '--prog', 'null_deref', '--explain']);
    assert.equal(bad.code, 1);
    assert.match(bad.out, /^REJECT bpf\/fixtures\/vm_rejected\.o:null_deref: R0 invalid mem access 'map_value_or_null'/m);
    assert.match(bad.out, /came from bpf_map_lookup_elem at insn \d+/);
  });

  it('types tracing contexts and resolves kfuncs with this kernel\'s BTF', { skip: existsSync('/sys/kernel/btf/vmlinux') ? false : 'no /sys/kernel/btf/vmlinux' }, async () => {
    assert.match((await runRepo(['bpf/objects/sections_trace.o', '--prog', 'sec_tp_btf'])).out, /^ACCEPT /m);
    assert.match((await runRepo(['bpf/objects/exception_cb.o'])).out, /^ACCEPT bpf\/objects\/exception_cb\.o:throwing_tc/m);
  });

  it('takes a program type for a section libbpf does not know', async () => {
    const r = await runRepo(['examples/checksum.o', '--prog', 'checksum', '--type', 'socket_filter']);
    assert.match(r.out, /^(ACCEPT|REJECT) examples\/checksum\.o:checksum/m);
  });
});

describe('ebpf verify', () => {
  it('accepts a valid program', async () => {
    const r = await run(['p.s'], { 'p.s': 'r0 = 0\nexit\n' });
    assert.equal(r.code, 0);
    assert.match(r.out, /^ACCEPT p\.s \(processed 2 insns\)/m);
  });

  it('--unprivileged applies the rules for a loader without capabilities', async () => {
    const files = { 'p.s': 'r0 = r10\nexit\n' };
    const root = await run(['p.s'], files);
    assert.equal(root.code, 0);
    const r = await run(['p.s', '--unprivileged'], files);
    assert.equal(r.code, 1);
    assert.match(r.out, /^REJECT p\.s: R0 leaks addr as return value \(insn 1\)$/m);
  });

  it('rejects with the kernel\'s words and prints the log', async () => {
    const r = await run(['p.s', '--log-level', '1'], { 'p.s': 'r0 = r2\nexit\n' });
    assert.equal(r.code, 1);
    assert.match(r.out, /^0: \(bf\) r0 = r2$/m);
    assert.match(r.out, /^R2 !read_ok$/m);
    assert.match(r.out, /^REJECT p\.s: R2 !read_ok \(insn 0\)$/m);
  });

  it('prints register states at log level 2 and JSON with -j', async () => {
    const r2 = await run(['p.s', '--log-level', '2'], { 'p.s': 'r0 = 1\nexit\n' });
    assert.match(r2.out, /^0: \(b7\) r0 = 1 +; R0=1$/m);
    const j = await run(['p.s', '-j', '--type', 'xdp'], { 'p.s': 'r0 = *(u32 *)(r1 + 0)\nexit\n' });
    const parsed = JSON.parse(j.out) as { verdict: string; processed: number };
    assert.equal(parsed.verdict, 'accept');
  });

  it('gives the structured log with -j --log-level 2: each processed insn with the registers before it', async () => {
    const src = 'r0 = 0\nif r1 == 0 goto +1\nr0 = 1\nexit\n';
    const j = await run(['p.s', '-j', '--log-level', '2'], { 'p.s': src });
    const parsed = JSON.parse(j.out) as { processed: number; steps: Array<{ insn: number; from: number; registers: Array<{ name: string; type: string; text: string }> }> };
    assert.equal(parsed.steps.length, parsed.processed);
    assert.deepEqual(parsed.steps.map((s) => s.insn), [0, 1, 2, 3, 3]);
    // The branch taken to insn 3 comes from insn 1 with r0 known 0; before insn 1, r1 is the context.
    const fromBranch = parsed.steps.find((s) => s.from === 1)!;
    assert.equal(fromBranch.insn, 3);
    assert.equal(fromBranch.registers.find((r) => r.name === 'r0')?.text, '0');
    assert.equal(parsed.steps[1]!.registers.find((r) => r.name === 'r1')?.type, 'ctx');
  });

  it('knows the context rules of the program type', async () => {
    const xdp = await run(['p.s', '--type', 'xdp'], { 'p.s': 'r0 = *(u32 *)(r1 + 24)\nexit\n' });
    assert.match(xdp.out, /REJECT p\.s: invalid bpf_context access off=24 size=4/);
  });

  it('runs test_verifier cases from JSON', async () => {
    const cases = JSON.stringify([
      { index: 0, descr: 'ok', result: 'ACCEPT', prog_type: 0, insns: [[183, 0, 0, 0, 0], [149, 0, 0, 0, 0]] },
      { index: 1, descr: 'uninit', result: 'REJECT', prog_type: 0, insns: [[191, 0, 2, 0, 0], [149, 0, 0, 0, 0]] },
    ]);
    const r = await run(['--cases', 'c.json'], { 'c.json': cases });
    assert.equal(r.code, 0);
    assert.match(r.out, /#0 ok: recorded ACCEPT, ours ACCEPT/);
    assert.match(r.out, /#1 uninit: recorded REJECT, ours REJECT: R2 !read_ok/);
  });

  it('--explain names where the NULL pointer came from, the path and the missing check', async () => {
    const prog = 'r1 = 0\n*(u64 *)(r10 - 8) = r1\nr2 = r10\nr2 += -8\nr1 = 0\ncall bpf_map_lookup_elem#1\nr1 = *(u64 *)(r0 + 0)\nr0 = 0\nexit\n';
    // r1 = 0 is not a map: the verifier stops at the call, with the argument explained.
    const bad = await run(['p.s', '--explain'], { 'p.s': prog });
    assert.equal(bad.code, 1);
    assert.match(bad.out, /^REJECT p\.s: R1 type=scalar expected=map_ptr \(insn 5\)$/m);
    assert.match(bad.out, /^Argument 1 of bpf_map_lookup_elem \(r1\) must be map_ptr, but at insn 5 r1 is scalar: `r1 = 0` at insn 4\.$/m);
    assert.match(bad.out, /^Path: 0…5$/m);
    assert.match(bad.out, /^Origin: insn 4 \(r1 = 0\)$/m);
    assert.match(bad.out, /^Registers at insn 5: r1=0 r2=fp-8 r10=fp0 fp-8=0$/m);
  });

  it('--explain on a clobbered register, and nothing to explain for an accepted program', async () => {
    const r = await run(['p.s', '--explain'], { 'p.s': 'r1 = 1\nr6 = 2\ncall bpf_ktime_get_ns#5\nr0 = r1\nexit\n' });
    assert.equal(r.code, 1);
    assert.match(r.out, /^REJECT p\.s: R1 !read_ok \(insn 3\)$/m);
    assert.match(r.out, /^r1 is read at insn 3 but holds no value: it was clobbered by the call to bpf_ktime_get_ns at insn 2, and the path 2→3 does not write it again\.$/m);
    const ok = await run(['p.s', '--explain'], { 'p.s': 'r0 = 0\nexit\n' });
    assert.equal(ok.code, 0);
    assert.equal(ok.out, 'ACCEPT p.s (processed 2 insns)\n');
  });

  it('-j prints verdict, processed, log and the error with its path, registers and explanation', async () => {
    const j = await run(['p.s', '-j', '--log-level', '1'], { 'p.s': 'r0 = 0\nif r1 == 0 goto +1\nr0 = r3\nexit\n' });
    assert.equal(j.code, 1);
    const parsed = JSON.parse(j.out) as {
      verdict: string; processed: number; log: string;
      error: { insn: number; message: string; path: { insn: number; taken?: boolean }[]; registers: { name: string; type: string; text: string }[]; explanation: string; kind: string };
    };
    assert.equal(parsed.verdict, 'reject');
    assert.equal(parsed.processed, 3);
    assert.match(parsed.log, /^2: \(bf\) r0 = r3\nR3 !read_ok\n/m);
    assert.equal(parsed.error.insn, 2);
    assert.equal(parsed.error.message, 'R3 !read_ok');
    assert.deepEqual(parsed.error.path, [{ insn: 0 }, { insn: 1, taken: false }, { insn: 2 }]);
    assert.deepEqual(parsed.error.registers.map((r) => `${r.name}=${r.type}`), ['r0=scalar', 'r1=ctx', 'r10=fp']);
    assert.equal(parsed.error.kind, 'uninit-reg');
    assert.match(parsed.error.explanation, /^r3 is read at insn 2 but no instruction on the path 0→1→2 writes it/);
    const ok = JSON.parse((await run(['p.s', '-j'], { 'p.s': 'r0 = 0\nexit\n' })).out) as { verdict: string; error: unknown };
    assert.equal(ok.verdict, 'accept');
    assert.equal(ok.error, null);
  });

  it('--log-level 1 and 2 print what the kernel prints for the same program', { skip: kernelSkip() }, async () => {
    const programs: Array<{ what: string; type: string; progType: number; text: string }> = [
      // Two paths: the fall-through one passes, the jump to 4 fails. Level 1 keeps only the failing path.
      { what: 'two paths', type: 'socket_filter', progType: ProgramType.SOCKET_FILTER, text: 'r0 = 0\nif r1 == 0 goto +2\nr0 = 1\nexit\nr0 = r3\nexit\n' },
      // A bpf-to-bpf call: caller/callee frames, the return, `from 5 to 2`.
      { what: 'subprogram', type: 'socket_filter', progType: ProgramType.SOCKET_FILTER, text: 'r1 = 1\ncall pc+2\nr0 = 0\nexit\nr0 = r1\nexit\n' },
      // Packet bounds: a packet pointer past pkt_end prints its range as the kernel's 64-bit hex.
      {
        what: 'packet', type: 'xdp', progType: ProgramType.XDP,
        text: 'r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr4 = r2\nr4 += 14\nif r4 > r3 goto +2\nr0 = *(u8 *)(r2 + 12)\nexit\nr0 = 2\nexit\n',
      },
      // LD_ABS scratches R0-R5 and R6; a pruned path prints `safe`.
      { what: 'ld_abs', type: 'socket_filter', progType: ProgramType.SOCKET_FILTER, text: 'r6 = r1\nr0 = *(u8 *)skb[12]\nr0 = 0\nexit\n' },
      { what: 'pruned', type: 'socket_filter', progType: ProgramType.SOCKET_FILTER, text: 'r0 = *(u32 *)(r1 + 0)\nif r0 > 5 goto +1\nr0 = 1\nr0 = 0\nexit\n' },
    ];
    for (const p of programs) {
      for (const level of [1, 2] as const) {
        let kernelLog = '';
        try {
          using prog = loadProgram({ type: p.progType, instructions: encodeProgram(assemble(p.text)), license: 'GPL', logLevel: level });
          kernelLog = prog.log;
        } catch (err) {
          if (!(err instanceof KernelError)) throw err;
          kernelLog = err.log ?? '';
        }
        const r = await run(['p.s', '--type', p.type, '--log-level', String(level)], { 'p.s': p.text });
        // The counters on the last line come from pruning heuristics, not the log format.
        const body = (log: string): string[] => log.split('\n').filter((l) => !l.startsWith('processed ') && !/^(REJECT|ACCEPT) /.test(l));
        assert.deepEqual(body(r.out), body(kernelLog), `${p.what}, level ${level}`);
      }
    }
  });
});
