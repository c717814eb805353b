/**
 * The logic above the syscall boundary, without a kernel: bpf_attr layouts as the kernel reads
 * them, the load-retry-for-log rule, and the errno and enum tables. A fake {@link Syscalls}
 * records each call and plays the kernel's part.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  AttachType, Command, Errno, KernelError, LogLevel, ProgramFlag, ProgramType, attachTypeName, commandName,
  errnoMessage, errnoName, errnoNumber, loadProgram, programTypeName, testRun,
  type OutputBuffer, type Syscalls, type UserMemory,
} from '../../src/kernel/index.js';

/** A recorded bpf() call: the command and the attr as the kernel received it. */
interface Call { cmd: number; attr: DataView; memory: FakeMemory }

class FakeMemory implements UserMemory {
  readonly blocks = new Map<bigint, Uint8Array>();
  #next = 0x10000n;
  input(bytes: Uint8Array): bigint {
    return this.output(bytes.length, bytes).address;
  }
  output(size: number, init?: Uint8Array): OutputBuffer {
    if (size === 0) return { address: 0n, size, read: () => new Uint8Array(0) };
    const address = this.#next;
    this.#next += BigInt(size + 16);
    const block = new Uint8Array(size);
    if (init) block.set(init);
    this.blocks.set(address, block);
    return { address, size, read: () => block.slice() };
  }
  /** The block at `address` (the fake kernel's copy_from_user/copy_to_user). */
  at(address: bigint): Uint8Array {
    const block = this.blocks.get(address);
    assert.ok(block, `no block at 0x${address.toString(16)}`);
    return block;
  }
}

/** Syscalls whose bpf() is `kernel`; every call and close is recorded. */
function fakeSyscalls(kernel: (call: Call) => number): Syscalls & { calls: Call[]; closed: number[] } {
  let current: FakeMemory | undefined;
  const calls: Call[] = [];
  const closed: number[] = [];
  return {
    calls,
    closed,
    bpf(cmd, attr) {
      assert.ok(current, 'bpf() outside withMemory');
      const call = { cmd, attr: new DataView(attr.buffer, attr.byteOffset, attr.byteLength), memory: current };
      calls.push(call);
      return kernel(call);
    },
    close(fd) {
      closed.push(fd);
      return 0;
    },
    withMemory(use) {
      const outer = current;
      current = new FakeMemory();
      try {
        return use(current);
      } finally {
        current = outer;
      }
    },
  };
}

const cstr = (bytes: Uint8Array): string => new TextDecoder().decode(bytes.subarray(0, bytes.indexOf(0)));
const INSNS = new Uint8Array([0xb7, 0, 0, 0, 42, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);

describe('bpf_attr for BPF_PROG_LOAD', () => {
  it('lays out every field where include/uapi/linux/bpf.h puts it', () => {
    const sys = fakeSyscalls(({ attr, memory }) => {
      assert.equal(attr.byteLength, 168);
      assert.equal(attr.getUint32(0, true), ProgramType.XDP);
      assert.equal(attr.getUint32(4, true), 2);
      assert.deepEqual(memory.at(attr.getBigUint64(8, true)), INSNS);
      assert.equal(cstr(memory.at(attr.getBigUint64(16, true))), 'Dual MIT/GPL');
      assert.equal(attr.getUint32(24, true), LogLevel.LEVEL1);
      assert.equal(attr.getUint32(28, true), 4096);
      assert.equal(memory.at(attr.getBigUint64(32, true)).length, 4096);
      assert.equal(attr.getUint32(44, true), ProgramFlag.SLEEPABLE | ProgramFlag.TEST_RND_HI32);
      assert.equal(cstr(new Uint8Array(attr.buffer, 48, 16)), 'xdp_pass');
      assert.equal(attr.getUint32(68, true), AttachType.XDP);
      assert.equal(attr.getUint32(108, true), 77);
      new TextEncoder().encodeInto('all good\n', memory.at(attr.getBigUint64(32, true)));
      return 9;
    });
    const program = loadProgram({
      type: ProgramType.XDP, instructions: INSNS, license: 'Dual MIT/GPL', logLevel: LogLevel.LEVEL1,
      logSize: 4096, flags: ProgramFlag.SLEEPABLE | ProgramFlag.TEST_RND_HI32, name: 'xdp_pass',
      expectedAttachType: AttachType.XDP, attachBtfId: 77, syscalls: sys,
    });
    assert.equal(sys.calls.length, 1);
    assert.equal(sys.calls[0]!.cmd, Command.PROG_LOAD);
    assert.equal(program.fd, 9);
    assert.equal(program.log, 'all good\n');
    program[Symbol.dispose]();
    assert.deepEqual(sys.closed, [9]);
  });

  it('loads without a log, and retries a failure at log level 1 to say why', () => {
    const sys = fakeSyscalls(({ attr, memory }) => {
      if (attr.getUint32(24, true) === 0) {
        assert.equal(attr.getBigUint64(32, true), 0n, 'a log buffer without a log level is EINVAL');
        return -Errno.EACCES;
      }
      new TextEncoder().encodeInto('0: (95) exit\nR0 !read_ok\nprocessed 1 insns (limit 1000000)\n', memory.at(attr.getBigUint64(32, true)));
      return -Errno.EACCES;
    });
    const err = catchError(() => loadProgram({ type: ProgramType.SOCKET_FILTER, instructions: INSNS, license: 'GPL', name: 'p', syscalls: sys }));
    assert.ok(err instanceof KernelError);
    assert.equal(err.code, 'EACCES');
    assert.equal(err.message, "load program 'p' (BPF_PROG_TYPE_SOCKET_FILTER): EACCES (Permission denied): R0 !read_ok");
    assert.match(err.log ?? '', /processed 1 insns/);
    assert.equal(sys.calls.length, 2);
  });

  it('grows the log buffer to log_true_size when the kernel says ENOSPC', () => {
    const sizes: number[] = [];
    const sys = fakeSyscalls(({ attr }) => {
      const size = attr.getUint32(28, true);
      sizes.push(size);
      if (size < 5000) {
        attr.setUint32(140, 5000, true); // log_true_size
        return -Errno.ENOSPC;
      }
      return 3;
    });
    const program = loadProgram({ type: ProgramType.SOCKET_FILTER, instructions: INSNS, license: 'GPL', logLevel: 2, logSize: 100, syscalls: sys });
    assert.deepEqual(sizes, [100, 5000]);
    assert.equal(program.fd, 3);
  });

  it('refuses names the kernel would refuse, and partial instructions', () => {
    const sys = fakeSyscalls(() => assert.fail('called the kernel'));
    const base = { type: ProgramType.SOCKET_FILTER, instructions: INSNS, license: 'GPL', syscalls: sys };
    assert.throws(() => loadProgram({ ...base, name: 'has space' }), TypeError);
    assert.throws(() => loadProgram({ ...base, name: 'a_name_of_16_chr' }), TypeError);
    assert.throws(() => loadProgram({ ...base, instructions: INSNS.subarray(0, 12) }), RangeError);
  });
});

describe('bpf_attr for BPF_PROG_TEST_RUN', () => {
  it('lays out the test struct and reads retval, data_size_out and duration back', () => {
    const data = new Uint8Array([1, 2, 3, 4]);
    const ctx = new Uint8Array(20).fill(7);
    const sys = fakeSyscalls(({ cmd, attr, memory }) => {
      assert.equal(cmd, Command.PROG_TEST_RUN);
      assert.equal(attr.byteLength, 80);
      assert.equal(attr.getUint32(0, true), 5);
      assert.equal(attr.getUint32(8, true), 4);
      assert.equal(attr.getUint32(12, true), 4 + 256);
      assert.deepEqual(memory.at(attr.getBigUint64(16, true)), data);
      const out = memory.at(attr.getBigUint64(24, true));
      assert.equal(attr.getUint32(32, true), 10);
      assert.equal(attr.getUint32(40, true), 20);
      assert.equal(attr.getUint32(44, true), 20);
      assert.deepEqual(memory.at(attr.getBigUint64(48, true)), ctx);
      const ctxOut = memory.at(attr.getBigUint64(56, true));
      assert.equal(attr.getUint32(64, true), 1);
      assert.equal(attr.getUint32(68, true), 3);
      out.set([9, 8, 7]);
      ctxOut.set([5]);
      attr.setUint32(4, 0xfffffffe, true); // retval
      attr.setUint32(12, 3, true); // data_size_out
      attr.setUint32(36, 1234, true); // duration
      return 0;
    });
    const result = testRun(5, { data, ctx, repeat: 10, flags: 1, cpu: 3, syscalls: sys });
    assert.deepEqual(result, { retval: 0xfffffffe, dataOut: new Uint8Array([9, 8, 7]), ctxOut: new Uint8Array(20).fill(5, 0, 1), durationNs: 1234 });
  });

  it('passes no data_out without data, since size 0 means unbounded to the kernel', () => {
    const sys = fakeSyscalls(({ attr }) => {
      assert.equal(attr.getBigUint64(24, true), 0n);
      assert.equal(attr.getUint32(12, true), 0);
      return 0;
    });
    assert.equal(testRun(5, { syscalls: sys }).dataOut.length, 0);
  });
});

describe('kernel tables', () => {
  it('numbers errnos as Linux does, with names and messages', () => {
    assert.equal(Errno.EPERM, 1);
    assert.equal(Errno.EACCES, 13);
    assert.equal(Errno.E2BIG, 7);
    assert.equal(Errno.ENOSPC, 28);
    assert.equal(Errno.ENOTSUPP, 524);
    assert.equal(Errno.EOPNOTSUPP, 95);
    assert.equal(errnoName(22), 'EINVAL');
    assert.equal(errnoName(524), 'ENOTSUPP');
    assert.equal(errnoName(9999), 'E9999');
    assert.equal(errnoNumber('EEXIST'), 17);
    assert.equal(errnoNumber('toString'), undefined);
    assert.equal(errnoMessage(2), 'No such file or directory');
    const err = new KernelError('map update', 17);
    assert.equal(err.message, 'map update: EEXIST (File exists)');
    assert.equal(err.log, undefined);
  });

  it('numbers program types, attach types and commands as the UAPI does', () => {
    assert.equal(ProgramType.SOCKET_FILTER, 1);
    assert.equal(ProgramType.SCHED_CLS, 3);
    assert.equal(ProgramType.XDP, 6);
    assert.equal(ProgramType.TRACING, 26);
    assert.equal(ProgramType.SYSCALL, 31);
    assert.equal(ProgramType.NETFILTER, 32);
    assert.equal(Object.keys(ProgramType).length, 33);
    assert.equal(programTypeName(6), 'BPF_PROG_TYPE_XDP');
    assert.equal(programTypeName(99), 'BPF_PROG_TYPE_UNKNOWN(99)');
    assert.equal(AttachType.CGROUP_INET_INGRESS, 0);
    assert.equal(AttachType.TRACE_FENTRY, 24);
    assert.equal(AttachType.XDP, 37);
    assert.equal(AttachType.NETFILTER, 45);
    assert.equal(AttachType.TCX_INGRESS, 46);
    assert.equal(attachTypeName(37), 'BPF_XDP');
    assert.equal(Command.PROG_LOAD, 5);
    assert.equal(Command.PROG_TEST_RUN, 10);
    assert.equal(Command.LINK_CREATE, 28);
    assert.equal(commandName(10), 'BPF_PROG_TEST_RUN');
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  assert.fail('did not throw');
}
