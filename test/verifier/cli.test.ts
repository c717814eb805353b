/** `ebpf verify`: verdicts, the kernel-format log, JSON output and test_verifier cases. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/command.js';

function run(args: string[], files: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: Io = {
    out: (t) => { out += t; },
    err: (t) => { err += t; },
    stdin: async () => new Uint8Array(),
    readFile: (p) => {
      const text = files[p];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT', syscall: 'open' });
      return new TextEncoder().encode(text);
    },
    writeFile: () => undefined,
  };
  return main(['verify', ...args], io).then((code) => ({ code, out, err }));
}

describe('ebpf verify', () => {
  it('accepts a valid program', async () => {
    const r = await run(['p.s'], { 'p.s': 'r0 = 0\nexit\n' });
    assert.equal(r.code, 0);
    assert.match(r.out, /^ACCEPT p\.s \(processed 2 insns\)/m);
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
});
