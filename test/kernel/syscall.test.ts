/**
 * The syscall layer against the running kernel: load, test-run, verifier rejections with their
 * log, log-buffer growth, and no leaked file descriptors. Skips without a usable bpf()
 * (fails instead under EBPF_REQUIRE_KERNEL=1).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { assembleConformance, encodeProgram } from '../../src/isa/index.js';
import {
  Errno, KernelError, LogLevel, ProgramType, loadProgram, testRun, type Program,
} from '../../src/kernel/index.js';
import { EbpfError } from '../../src/errors.js';
import { kernelSkip } from '../support/kernel.js';

const asm = (text: string): Uint8Array => encodeProgram(assembleConformance(text));
const RETURN_42 = asm('mov %r0, 42\nexit');
/** Reads r0 before writing it: the verifier says `R0 !read_ok` (EACCES). */
const READS_R0 = asm('exit');
/** Stores to the stack through an unaligned-by-design bad offset: out of the 512-byte frame (EACCES). */
const OUT_OF_STACK = asm('stdw [%r10-520], 1\nmov %r0, 0\nexit');
/** Opcode 0xff does not exist: rejected before verification (EINVAL). */
const BAD_OPCODE = new Uint8Array([0xff, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);

const openFds = (): number => readdirSync('/proc/self/fd').length;

const load = (instructions: Uint8Array, extra: Partial<Parameters<typeof loadProgram>[0]> = {}): Program =>
  loadProgram({ type: ProgramType.SOCKET_FILTER, instructions, license: 'GPL', ...extra });

describe('kernel syscalls', { skip: kernelSkip() }, () => {
  it('loads a program and test-runs it', () => {
    // SCHED_CLS hands the whole packet back; a socket filter returns the Ethernet header zeroed.
    using program = load(RETURN_42, { name: 'ret42', type: ProgramType.SCHED_CLS });
    assert.ok(program.fd > 2);
    assert.equal(program.name, 'ret42');
    assert.equal(program.log, '');
    const data = new Uint8Array(64).map((_, i) => i);
    const result = testRun(program, { data, repeat: 3 });
    assert.equal(result.retval, 42);
    assert.deepEqual(result.dataOut, data);
    assert.equal(result.ctxOut, undefined);
    assert.equal(typeof result.durationNs, 'number');
  });

  it('test-runs by fd too, and returns r0 truncated to u32', () => {
    using program = load(asm('lddw %r0, 0x1234567880000001\nexit'));
    assert.equal(testRun(program.fd, { data: new Uint8Array(64) }).retval, 0x80000001);
  });

  it('returns the verifier log when asked, growing a buffer that is too small', () => {
    using program = load(RETURN_42, { logLevel: LogLevel.LEVEL2, logSize: 16 });
    assert.match(program.log, /r0 = 42/);
    assert.match(program.log, /processed 2 insns/);
  });

  it('rejects a program that reads r0 uninitialised: EACCES with the log', () => {
    assertKernelError(thrown(() => load(READS_R0, { name: 'bad' })), 'EACCES', /R0 !read_ok/);
  });

  it('rejects a stack access out of the frame: EACCES and the reason in the message', () => {
    const err = thrown(() => load(OUT_OF_STACK));
    assertKernelError(err, 'EACCES', /invalid (write to )?stack/);
    assert.ok(err instanceof EbpfError);
    assert.match((err as Error).message, /^load program \(BPF_PROG_TYPE_SOCKET_FILTER\): EACCES \(Permission denied\): /);
  });

  it('rejects an unknown opcode: EINVAL with the log', () => {
    assertKernelError(thrown(() => load(BAD_OPCODE, { logLevel: LogLevel.LEVEL1 })), 'EINVAL', /unknown opcode ff/);
  });

  it('reports ENOTSUPP/EINVAL for a test run the program type does not support', () => {
    // A kprobe program cannot be test-run (kernel: no .test_run in kprobe_prog_ops).
    using program = loadProgram({ type: ProgramType.KPROBE, instructions: RETURN_42, license: 'GPL' });
    const err = thrown(() => testRun(program, { data: new Uint8Array(64) }));
    assert.ok(err instanceof KernelError);
    assert.ok(err.code === 'ENOTSUPP' || err.code === 'EINVAL', err.message);
  });

  it('reports ENOSPC when data_out is too small', () => {
    using program = load(RETURN_42);
    const err = thrown(() => testRun(program, { data: new Uint8Array(64), dataSizeOut: 8 }));
    assert.ok(err instanceof KernelError);
    assert.equal(err.errno, Errno.ENOSPC);
    assert.match(err.message, /data 64 bytes for 8/);
  });

  it('closes idempotently and refuses the fd afterwards', () => {
    const program = load(RETURN_42);
    assert.equal(program.open, true);
    program.close();
    program.close();
    assert.equal(program.open, false);
    assert.throws(() => program.fd, /closed/);
  });

  it('leaks no file descriptors over 200 loads, runs and rejections', () => {
    const before = openFds();
    for (let i = 0; i < 200; i++) {
      using program = load(RETURN_42);
      assert.equal(testRun(program, { data: new Uint8Array(64) }).retval, 42);
      if (i % 4 === 0) assert.throws(() => load(READS_R0), KernelError);
    }
    assert.equal(openFds(), before);
  });
});

/** The error `fn` throws (node 20's assert.throws does not return it). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  assert.fail('did not throw');
}

function assertKernelError(err: unknown, code: string, log: RegExp): void {
  assert.ok(err instanceof KernelError, `not a KernelError: ${String(err)}`);
  assert.equal(err.code, code);
  assert.equal(err.errno, Errno[code as keyof typeof Errno]);
  assert.ok(err.log !== undefined, 'no log');
  assert.match(err.log, log);
  assert.match(err.message, log);
}
