/**
 * What loadProgram sends for an object's program — prog_btf_fd, func_info, line_info, fd_array,
 * the attach target — and libbpf's retry on EAGAIN, checked through a recording syscall layer
 * (no kernel needed).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PROG_LOAD } from '../../src/kernel/attr.js';
import { Command, Errno, KernelError, ProgramType, loadProgram, type Syscalls } from '../../src/kernel/index.js';

/** A syscall layer that answers BPF_PROG_LOAD from `answers` and records each attr and the memory it pointed to. */
function recording(answers: number[]): { syscalls: Syscalls; calls: { attr: DataView; inputs: Map<bigint, Uint8Array> }[] } {
  const calls: { attr: DataView; inputs: Map<bigint, Uint8Array> }[] = [];
  let inputs = new Map<bigint, Uint8Array>();
  let next = 0x1000n;
  const syscalls: Syscalls = {
    bpf(cmd, attr) {
      assert.equal(cmd, Command.PROG_LOAD);
      calls.push({ attr: new DataView(attr.slice().buffer), inputs });
      return answers.shift() ?? -Errno.EINVAL;
    },
    close: () => 0,
    withMemory(use) {
      inputs = new Map();
      return use({
        input(bytes) {
          const address = next;
          next += 0x1000n;
          inputs.set(address, bytes.slice());
          return address;
        },
        output(size) {
          const address = next;
          next += BigInt(size) + 0x1000n;
          return { address, size, read: () => new Uint8Array(size) };
        },
      });
    },
  };
  return { syscalls, calls };
}

const instructions = new Uint8Array([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);

describe('loadProgram for object programs', () => {
  it('sends the BTF, func_info, line_info, fd_array and attach target', () => {
    const { syscalls, calls } = recording([7]);
    const program = loadProgram({
      type: ProgramType.TRACING, instructions, license: 'GPL', name: 'p', syscalls,
      btf: { fd: 11 }, funcInfo: [{ insnOff: 0, typeId: 5 }], attachBtfId: 99, attachBtfObjFd: 12, fdArray: [0, 13],
      lineInfo: [{ insnOff: 1, fileNameOff: 20, lineOff: 30, line: 42, column: 3 }],
    });
    assert.equal(program.fd, 7);
    const [{ attr, inputs }] = calls as [typeof calls[0]];
    const u32 = (off: number) => attr.getUint32(off, true);
    const words = (off: number, n: number) => {
      const bytes = inputs.get(attr.getBigUint64(off, true))!;
      return Array.from({ length: n }, (_, i) => new DataView(bytes.buffer).getUint32(i * 4, true));
    };
    assert.deepEqual([u32(PROG_LOAD.prog_btf_fd), u32(PROG_LOAD.attach_btf_id), u32(PROG_LOAD.attach_prog_fd)], [11, 99, 12]);
    assert.deepEqual([u32(PROG_LOAD.func_info_rec_size), u32(PROG_LOAD.func_info_cnt)], [8, 1]);
    assert.deepEqual(words(PROG_LOAD.func_info, 2), [0, 5]);
    assert.deepEqual([u32(PROG_LOAD.line_info_rec_size), u32(PROG_LOAD.line_info_cnt)], [16, 1]);
    assert.deepEqual(words(PROG_LOAD.line_info, 4), [1, 20, 30, (42 << 10) | 3]);
    assert.deepEqual(words(PROG_LOAD.fd_array, 2), [0, 13]);
  });

  it('without BTF, no func_info or line_info reach the kernel', () => {
    const { syscalls, calls } = recording([7]);
    loadProgram({ type: ProgramType.SOCKET_FILTER, instructions, license: 'GPL', syscalls, funcInfo: [{ insnOff: 0, typeId: 5 }] });
    assert.equal(calls[0]!.attr.getUint32(PROG_LOAD.func_info_cnt, true), 0);
  });

  it('retries EAGAIN as libbpf does (5 attempts), then reports it', () => {
    const ok = recording([-Errno.EAGAIN, -Errno.EAGAIN, 9]);
    assert.equal(loadProgram({ type: ProgramType.SOCKET_FILTER, instructions, license: 'GPL', syscalls: ok.syscalls }).fd, 9);
    assert.equal(ok.calls.length, 3);
    const busy = recording(Array(20).fill(-Errno.EAGAIN));
    assert.throws(() => loadProgram({ type: ProgramType.SOCKET_FILTER, instructions, license: 'GPL', syscalls: busy.syscalls }),
      (err: unknown) => err instanceof KernelError && err.code === 'EAGAIN');
    // Five attempts without a log, five more with one (the retry that says why).
    assert.equal(busy.calls.length, 10);
  });
});
