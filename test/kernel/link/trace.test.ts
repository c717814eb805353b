/**
 * Tracing attachments against the running kernel, each shown to fire: a tracepoint and a raw
 * tracepoint counting this process's getpid() calls, tp_btf on sys_enter, perf_event sampling
 * on every CPU. Kinds this kernel may refuse (kprobes without CONFIG_KPROBES, fentry/fexit
 * without trampolines, an inactive BPF LSM) are probed and skipped with the kernel's reason.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  AttachType, KernelError, ProgramType,
} from '../../../src/kernel/index.js';
import {
  LinkType, PerfEventLinkType, attachBtfId, attachKprobe, attachPerfEvent, attachRawTracepoint,
  attachTracepoint, attachTracing, kprobesAvailable, syscallSymbol,
} from '../../../src/kernel/link/index.js';
import { kernelSkip } from '../../support/kernel.js';
import { getpidSyscall } from '../../support/sockets.js';
import { bump, count, counterMap, load, onlyThisProcess, openFds, spinUntil } from './programs.js';

/** `__NR_getpid` (x86-64 39, the asm-generic table 172). */
const NR_GETPID = process.arch === 'x64' ? 39 : 172;

function callGetpid(times: number): void {
  for (let i = 0; i < times; i++) getpidSyscall();
}

/** A skip reason from a refused load or attach of a kind this kernel may lack, else rethrows. */
function refusal(err: unknown, what: string): string {
  if (err instanceof KernelError && ['EPERM', 'ENOTSUPP', 'EOPNOTSUPP', 'EINVAL', 'ENOENT', 'ESRCH', 'EBUSY'].includes(err.code)) {
    return `${what} refused by this kernel: ${err.message}`;
  }
  throw err;
}

describe('tracing attachments', { skip: kernelSkip() }, () => {
  it('a tracepoint program counts exactly the getpid() calls of this process', () => {
    const before = openFds();
    using counters = counterMap();
    // Counts only while map[3] (armed) is set, so that nothing but the calls below can count:
    // a CI run once saw one getpid more from this thread around the attach.
    using prog = load(ProgramType.TRACEPOINT, 'tp_getpid', `
      r1 = 3
      *(u32 *)(r10 - 4) = r1
      r2 = r10
      r2 += -4
      ld_pseudo r1, 1, ${counters.fd}
      call 1
      if r0 == 0 goto out
      r1 = *(u64 *)(r0 + 0)
      if r1 == 0 goto out
      ${onlyThisProcess('out')}
      ${bump(counters)}
    out:
      r0 = 0
      exit`);
    const arm = (on: boolean): void => counters.update(Uint8Array.of(3, 0, 0, 0), new Uint8Array(new BigUint64Array([on ? 1n : 0n]).buffer));
    callGetpid(1); // bind libc's getpid before counting
    {
      using link = attachTracepoint(prog, 'syscalls', 'sys_enter_getpid');
      assert.equal(link.kind, 'tracepoint');
      arm(true);
      callGetpid(25);
      arm(false);
      assert.equal(count(counters), 25n);
      const info = link.info();
      assert.equal(info.type, LinkType.PERF_EVENT);
      assert.ok(info.detail.kind === 'perf_event' && info.detail.perfEventType === PerfEventLinkType.TRACEPOINT);
      assert.ok(info.detail.kind === 'perf_event' && info.detail.name === 'sys_enter_getpid', JSON.stringify(info.detail, (_, v) => typeof v === 'bigint' ? String(v) : v));
    }
    // Detached with the link: no more counts, even armed.
    arm(true);
    callGetpid(10);
    arm(false);
    assert.equal(count(counters), 25n);
    prog.close();
    counters.close();
    assert.equal(openFds(), before);
  });

  it('a tracepoint link passes its cookie to bpf_get_attach_cookie()', () => {
    using counters = counterMap();
    // map[0] = bpf_get_attach_cookie(ctx) (helper 174) for calls of this process.
    using prog = load(ProgramType.TRACEPOINT, 'tp_cookie', `
      r6 = r1
      ${onlyThisProcess('out')}
      r1 = r6
      call 174
      r7 = r0
      r1 = 0
      *(u32 *)(r10 - 4) = r1
      r2 = r10
      r2 += -4
      ld_pseudo r1, 1, ${counters.fd}
      call 1
      if r0 == 0 goto out
      *(u64 *)(r0 + 0) = r7
    out:
      r0 = 0
      exit`);
    using _link = attachTracepoint(prog, 'syscalls', 'sys_enter_getpid', { cookie: 0xc00c1en });
    callGetpid(1);
    assert.equal(count(counters), 0xc00c1en);
  });

  it('a raw tracepoint program on sys_enter counts getpid() by syscall number', () => {
    using counters = counterMap();
    // ctx: struct bpf_raw_tracepoint_args, args[1] = syscall id.
    using prog = load(ProgramType.RAW_TRACEPOINT, 'raw_sys_enter', `
      r6 = *(u64 *)(r1 + 8)
      if r6 != ${NR_GETPID} goto out
      ${onlyThisProcess('out')}
      ${bump(counters)}
    out:
      r0 = 0
      exit`);
    {
      using link = attachRawTracepoint(prog, 'sys_enter');
      callGetpid(17);
      const info = link.info();
      assert.equal(info.type, LinkType.RAW_TRACEPOINT);
      assert.ok(info.detail.kind === 'raw_tracepoint' && info.detail.name === 'sys_enter');
    }
    assert.equal(count(counters), 17n);
    callGetpid(3);
    assert.equal(count(counters), 17n);
  });

  it('a tp_btf program (BTF-typed raw tracepoint) fires on sys_enter', (t) => {
    using counters = counterMap();
    const text = `
      r6 = *(u64 *)(r1 + 8)
      if r6 != ${NR_GETPID} goto out
      ${onlyThisProcess('out')}
      ${bump(counters)}
    out:
      r0 = 0
      exit`;
    let prog;
    try {
      prog = load(ProgramType.TRACING, 'tp_btf_enter', text, {
        expectedAttachType: AttachType.TRACE_RAW_TP,
        attachBtfId: attachBtfId(AttachType.TRACE_RAW_TP, 'sys_enter'),
      });
    } catch (err) {
      t.skip(refusal(err, 'tp_btf load'));
      return;
    }
    using _prog = prog;
    {
      using link = attachTracing(prog, { attachType: AttachType.TRACE_RAW_TP, kind: 'tp_btf' });
      callGetpid(9);
      assert.equal(link.info().type, LinkType.RAW_TRACEPOINT);
    }
    assert.equal(count(counters), 9n);
  });

  for (const [kind, attachType] of [['fentry', AttachType.TRACE_FENTRY], ['fexit', AttachType.TRACE_FEXIT]] as const) {
    it(`an ${kind} program on __task_pid_nr_ns (under getpid) fires (or the kernel's refusal is reported)`, (t) => {
      using counters = counterMap();
      let prog;
      try {
        prog = load(ProgramType.TRACING, `${kind}_getpid`, `
          ${onlyThisProcess('out')}
          ${bump(counters)}
        out:
          r0 = 0
          exit`, { expectedAttachType: attachType, attachBtfId: attachBtfId(attachType, '__task_pid_nr_ns') });
      } catch (err) {
        t.skip(refusal(err, `${kind} load`));
        return;
      }
      using _prog = prog;
      let link;
      try {
        link = attachTracing(prog, { attachType, kind });
      } catch (err) {
        t.skip(refusal(err, `${kind} attach`));
        return;
      }
      using _link = link;
      callGetpid(5);
      // getpid() → task_tgid_vnr() → __task_pid_nr_ns(); other calls of this process may add.
      assert.ok(count(counters) >= 5n);
    });
  }

  it('an LSM program on file_open fires (or the inactive BPF LSM is reported)', (t) => {
    let lsms = '';
    try {
      lsms = readFileSync('/sys/kernel/security/lsm', 'utf8');
    } catch {
      // securityfs not mounted: the load below still tells
    }
    using counters = counterMap();
    let prog;
    try {
      prog = load(ProgramType.LSM, 'lsm_file_open', `
        ${onlyThisProcess('out')}
        ${bump(counters)}
      out:
        r0 = 0
        exit`, { expectedAttachType: AttachType.LSM_MAC, attachBtfId: attachBtfId(AttachType.LSM_MAC, 'file_open') });
    } catch (err) {
      t.skip(refusal(err, 'LSM load'));
      return;
    }
    using _prog = prog;
    let link;
    try {
      link = attachTracing(prog, { attachType: AttachType.LSM_MAC, kind: 'lsm' });
    } catch (err) {
      t.skip(refusal(err, 'LSM attach'));
      return;
    }
    using _link = link;
    readFileSync('/proc/self/stat');
    if (!lsms.split(',').includes('bpf')) {
      t.skip(`BPF LSM not active (lsm=${lsms.trim() || 'unknown'}): attached, but hooks do not run`);
      return;
    }
    assert.ok(count(counters) >= 1n);
  });

  it('a kprobe on the getpid syscall function fires (or the kernel without kprobes is reported)', (t) => {
    using counters = counterMap();
    using prog = load(ProgramType.KPROBE, 'kp_getpid', `
      ${onlyThisProcess('out')}
      ${bump(counters)}
    out:
      r0 = 0
      exit`);
    if (!kprobesAvailable()) {
      assert.throws(() => attachKprobe(prog, syscallSymbol('getpid')), /no kprobes/);
      t.skip('kernel has no kprobes (CONFIG_KPROBES off): kprobe programs load but cannot attach');
      return;
    }
    {
      using _link = attachKprobe(prog, syscallSymbol('getpid'));
      callGetpid(4);
    }
    assert.equal(count(counters), 4n);
  });

  it('a perf_event program samples on every CPU', () => {
    const before = openFds();
    using counters = counterMap();
    using prog = load(ProgramType.PERF_EVENT, 'sampler', `
      ${bump(counters)}
      r0 = 0
      exit`);
    {
      using group = attachPerfEvent(prog, { frequency: 1000 });
      assert.ok(group.links.length >= 1);
      // Keep a CPU busy; samples come on any CPU that runs.
      const fired = spinUntil(() => {
        let x = 0;
        for (let i = 0; i < 1e5; i++) x += i;
        return x > 0 && count(counters) >= 5n;
      }, 3000);
      assert.ok(fired, `only ${count(counters)} samples in 3 s`);
    }
    prog.close();
    counters.close();
    assert.equal(openFds(), before);
  });
});
