/**
 * The Link machinery: how the dispatcher reads section names (no kernel needed), the
 * PERF_EVENT_IOC_SET_BPF fallback on a kernel that refuses perf links (simulated by a syscall
 * layer answering EINVAL to BPF_LINK_CREATE), links by id, and the safety net that closes a
 * link dropped without close() when it is garbage-collected.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { readlinkSync } from 'node:fs';
import net from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  AttachType, Command, ProgramType, nativeSyscalls, type Program, type Syscalls,
} from '../../../src/kernel/index.js';
import {
  BpfLink, RawLink, attachProgram, attachRawTracepoint, attachTracepoint, getLinkById, linkTypeName, planAttach, socketFdOf,
} from '../../../src/kernel/link/index.js';
import { linkIds } from '../../../src/kernel/ids.js';
import { kernelSkip } from '../../support/kernel.js';
import { getpidSyscall } from '../../support/sockets.js';
import { bump, count, counterMap, load, onlyThisProcess, openFds } from './programs.js';

const program = (type: number, name = 'p'): Pick<Program, 'type' | 'name'> => ({ type, name });

describe('attach planning from section names', () => {
  const cases: [string, number, string, number | undefined, string | undefined][] = [
    ['tp/syscalls/sys_enter_getpid', ProgramType.TRACEPOINT, 'tracepoint', undefined, 'syscalls/sys_enter_getpid'],
    ['tracepoint/sched/sched_switch', ProgramType.TRACEPOINT, 'tracepoint', undefined, 'sched/sched_switch'],
    ['raw_tp/sys_enter', ProgramType.RAW_TRACEPOINT, 'raw_tracepoint', undefined, 'sys_enter'],
    ['tp_btf/sched_switch', ProgramType.TRACING, 'tracing', AttachType.TRACE_RAW_TP, 'sched_switch'],
    ['fentry/do_unlinkat', ProgramType.TRACING, 'tracing', AttachType.TRACE_FENTRY, 'do_unlinkat'],
    ['fexit/do_unlinkat', ProgramType.TRACING, 'tracing', AttachType.TRACE_FEXIT, 'do_unlinkat'],
    ['lsm/file_open', ProgramType.LSM, 'tracing', AttachType.LSM_MAC, 'file_open'],
    ['iter/task', ProgramType.TRACING, 'iter', AttachType.TRACE_ITER, 'task'],
    ['kprobe/do_unlinkat', ProgramType.KPROBE, 'kprobe', undefined, 'do_unlinkat'],
    ['kretprobe/do_unlinkat', ProgramType.KPROBE, 'kretprobe', undefined, 'do_unlinkat'],
    ['ksyscall/openat', ProgramType.KPROBE, 'ksyscall', undefined, 'openat'],
    ['kprobe.multi/do_*', ProgramType.KPROBE, 'kprobe_multi', AttachType.TRACE_KPROBE_MULTI, 'do_*'],
    ['uprobe//bin/bash:readline', ProgramType.KPROBE, 'uprobe', undefined, '/bin/bash:readline'],
    ['uretprobe.s//bin/bash:readline', ProgramType.KPROBE, 'uretprobe', undefined, '/bin/bash:readline'],
    ['uprobe.multi//bin/bash:read*', ProgramType.KPROBE, 'uprobe_multi', AttachType.TRACE_UPROBE_MULTI, '/bin/bash:read*'],
    ['perf_event', ProgramType.PERF_EVENT, 'perf_event', undefined, undefined],
    ['xdp', ProgramType.XDP, 'xdp', AttachType.XDP, undefined],
    ['tc/ingress', ProgramType.SCHED_CLS, 'tcx', AttachType.TCX_INGRESS, undefined],
    ['tcx/egress', ProgramType.SCHED_CLS, 'tcx', AttachType.TCX_EGRESS, undefined],
    ['socket', ProgramType.SOCKET_FILTER, 'socket_filter', undefined, undefined],
    ['cgroup/connect4', ProgramType.CGROUP_SOCK_ADDR, 'cgroup', AttachType.CGROUP_INET4_CONNECT, undefined],
    ['cgroup_skb/egress', ProgramType.CGROUP_SKB, 'cgroup', AttachType.CGROUP_INET_EGRESS, undefined],
    ['sockops', ProgramType.SOCK_OPS, 'cgroup', AttachType.CGROUP_SOCK_OPS, undefined],
    ['lsm_cgroup/socket_bind', ProgramType.LSM, 'cgroup', AttachType.LSM_CGROUP, 'socket_bind'],
    ['sk_msg', ProgramType.SK_MSG, 'sockmap', AttachType.SK_MSG_VERDICT, undefined],
    ['sk_skb/stream_verdict', ProgramType.SK_SKB, 'sockmap', AttachType.SK_SKB_STREAM_VERDICT, undefined],
    ['sk_lookup', ProgramType.SK_LOOKUP, 'netns', AttachType.SK_LOOKUP, undefined],
    ['flow_dissector', ProgramType.FLOW_DISSECTOR, 'netns', AttachType.FLOW_DISSECTOR, undefined],
    ['netfilter', ProgramType.NETFILTER, 'netfilter', AttachType.NETFILTER, undefined],
  ];
  for (const [section, type, kind, attachType, target] of cases) {
    it(`${section} → ${kind}`, () => {
      assert.deepEqual(planAttach(program(type), { section }), { kind, attachType, target });
    });
  }

  it('explicit options override the section', () => {
    const plan = planAttach(program(ProgramType.TRACEPOINT), { section: 'tp/a/b', target: 'syscalls/sys_exit_getpid' });
    assert.equal(plan.target, 'syscalls/sys_exit_getpid');
    assert.equal(planAttach(program(ProgramType.KPROBE), { section: 'kprobe/f', kind: 'kretprobe' }).kind, 'kretprobe');
    assert.equal(planAttach(program(ProgramType.SCHED_CLS), { attachType: AttachType.TCX_EGRESS }).attachType, AttachType.TCX_EGRESS);
  });

  it('without a section the program type decides', () => {
    assert.equal(planAttach(program(ProgramType.XDP)).kind, 'xdp');
    assert.equal(planAttach(program(ProgramType.SK_MSG)).kind, 'sockmap');
  });

  it('refuses unknown sections, sections of another program type, and missing targets', () => {
    assert.throws(() => planAttach(program(ProgramType.XDP), { section: 'nonsense/x' }), /not one libbpf knows/);
    assert.throws(() => planAttach(program(ProgramType.XDP, 'f'), { section: 'tp/a/b' }), /program 'f' is a BPF_PROG_TYPE_XDP, but section 'tp\/a\/b' holds BPF_PROG_TYPE_TRACEPOINT/);
    const xdp = { type: ProgramType.XDP, name: 'x' } as Program;
    assert.throws(() => attachProgram(xdp, { section: 'xdp' }), /give an ifname or ifindex/);
    const tc = { type: ProgramType.SCHED_CLS, name: 't' } as Program;
    assert.throws(() => attachProgram(tc, { section: 'tc', ifname: 'x' }), /say the direction/);
    const cg = { type: ProgramType.CGROUP_SOCK_ADDR, name: 'c' } as Program;
    assert.throws(() => attachProgram(cg, { section: 'cgroup/connect4' }), /give the cgroup option/);
  });
});

/** The native syscalls, but BPF_LINK_CREATE answers EINVAL as on a kernel before perf links (5.15). */
function withoutLinkCreate(): Syscalls {
  const real = nativeSyscalls();
  return new Proxy(real, {
    get(target, property) {
      if (property === 'bpf') return (cmd: number, attr: Uint8Array) => (cmd === Command.LINK_CREATE ? -22 : target.bpf(cmd, attr));
      const value = (target as unknown as Record<string | symbol, unknown>)[property];
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** Collects garbage now (the test runner does not expose gc: enable it for a new context). */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

describe('socketFdOf', () => {
  // Bound or listening only: no packet is sent.
  it('finds the fd of a dgram socket and of a net server', async () => {
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    const server = net.createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      for (const socket of [udp, server]) {
        assert.match(readlinkSync(`/proc/self/fd/${socketFdOf(socket)}`), /^socket:/);
      }
      assert.throws(() => socketFdOf(new net.Socket()), /no file descriptor/);
    } finally {
      udp.close();
      server.close();
    }
  });
});

describe('links against the kernel', { skip: kernelSkip() }, () => {
  it('falls back to PERF_EVENT_IOC_SET_BPF when the kernel has no perf links', () => {
    const fds = openFds();
    {
      using counters = counterMap();
      using prog = load(ProgramType.TRACEPOINT, 'tp_ioctl', `
        ${onlyThisProcess('out')}
        ${bump(counters)}
      out:
        r0 = 0
        exit`, { syscalls: withoutLinkCreate() });
      {
        using link = attachTracepoint(prog, 'syscalls', 'sys_enter_getpid');
        assert.ok(link instanceof RawLink, 'the perf event itself is the attachment');
        assert.ok(link.fd >= 0);
        assert.throws(() => link.pin('/sys/fs/bpf/x'), /not a bpf_link/);
        for (let i = 0; i < 6; i++) getpidSyscall();
      }
      getpidSyscall();
      assert.equal(count(counters), 6n);
      // A cookie needs a bpf_link: no silent fallback.
      assert.throws(() => attachTracepoint(prog, 'syscalls', 'sys_enter_getpid', { cookie: 1n }), /EINVAL/);
    }
    assert.equal(openFds(), fds);
  });

  it('finds a link by id, and refuses a closed link', () => {
    using prog = load(ProgramType.RAW_TRACEPOINT, 'raw_nop', 'r0 = 0\n exit');
    const link = attachRawTracepoint(prog, 'sys_enter');
    const id = link.info().id;
    assert.ok([...linkIds()].includes(id));
    {
      using again = getLinkById(id);
      assert.ok(again instanceof BpfLink);
      assert.equal(again.kind, 'raw_tracepoint');
      assert.equal(linkTypeName(again.info().type), 'BPF_LINK_TYPE_RAW_TRACEPOINT');
    }
    link.close();
    link.close(); // idempotent
    assert.ok(link.closed);
    assert.throws(() => link.fd, /closed/);
    assert.throws(() => link.info(), /closed/);
    assert.ok(![...linkIds()].includes(id), 'the kernel freed the link');
  });

  it('a link dropped without close() is released when garbage-collected', async () => {
    using prog = load(ProgramType.RAW_TRACEPOINT, 'raw_nop', 'r0 = 0\n exit');
    const fds = openFds();
    const id = ((): number => attachRawTracepoint(prog, 'sys_enter').info().id)();
    assert.equal(openFds(), fds + 1);
    for (let i = 0; i < 50 && [...linkIds()].includes(id); i++) {
      collectGarbage();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(![...linkIds()].includes(id), 'the forgotten link was closed');
    assert.equal(openFds(), fds);
  });
});
