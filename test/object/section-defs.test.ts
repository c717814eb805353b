// libbpf's section table and its matching rules; checked against the system's libbpf
// (libbpf_prog_type_by_name) for every name that libbpf release knows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AttachType, BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS, matchSection, ProgramType, SECTION_DEFS, SecFlag,
} from '../../src/object/index.js';
import { libbpfOracle, oracleSections } from './support.js';

test('the table is libbpf 1.x section_defs: 116 rules, no duplicates', () => {
  assert.equal(SECTION_DEFS.length, 116);
  assert.equal(new Set(SECTION_DEFS.map((d) => d.sec)).size, SECTION_DEFS.length);
  for (const d of SECTION_DEFS) {
    assert.match(d.sec, /^[a-z0-9_.]+(\/[a-z0-9_]+)?[+/]?$/, d.sec);
    assert.ok(Object.values(ProgramType).includes(d.programType as never), `${d.sec}: program type`);
    assert.ok(d.attachType === 0 || Object.values(AttachType).includes(d.attachType as never), `${d.sec}: attach type`);
  }
});

test('exact names, prefix+ and the first match wins', () => {
  const m = (name: string) => {
    const r = matchSection(name);
    return r === undefined ? undefined : [r.programType, r.attachType, r.target];
  };
  assert.deepEqual(m('xdp'), [ProgramType.XDP, AttachType.XDP, undefined]);
  assert.equal(m('xdp_prog'), undefined, 'exact rules do not match longer names');
  assert.equal(m('xdp/'), undefined);
  assert.equal(m('socket1'), undefined);
  assert.deepEqual(m('tp/syscalls/sys_enter_execve'), [ProgramType.TRACEPOINT, 0, 'syscalls/sys_enter_execve']);
  assert.deepEqual(m('tracepoint'), [ProgramType.TRACEPOINT, 0, undefined], "'+' allows the bare name");
  assert.equal(m('tpx/a'), undefined, "'+' needs a '/' after the name");
  assert.deepEqual(m('kprobe/do_unlinkat'), [ProgramType.KPROBE, 0, 'do_unlinkat']);
  assert.deepEqual(m('kprobe.multi/tcp_*'), [ProgramType.KPROBE, AttachType.TRACE_KPROBE_MULTI, 'tcp_*']);
  assert.deepEqual(m('uprobe//bin/bash:readline'), [ProgramType.KPROBE, 0, '/bin/bash:readline']);
  assert.deepEqual(m('sk_reuseport/migrate'), [ProgramType.SK_REUSEPORT, AttachType.SK_REUSEPORT_SELECT_OR_MIGRATE, undefined]);
  assert.deepEqual(m('sk_reuseport'), [ProgramType.SK_REUSEPORT, AttachType.SK_REUSEPORT_SELECT, undefined]);
  assert.deepEqual(m('tc/ingress'), [ProgramType.SCHED_CLS, AttachType.TCX_INGRESS, undefined]);
  assert.equal(m('tc/other'), undefined, "'tc' is exact; only tc/ingress and tc/egress exist");
  assert.deepEqual(m('cgroup/connect4'), [ProgramType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET4_CONNECT, undefined]);
  assert.deepEqual(m('iter/task'), [ProgramType.TRACING, AttachType.TRACE_ITER, 'task']);
  assert.deepEqual(m('struct_ops/whatever'), [ProgramType.STRUCT_OPS, 0, undefined], 'libbpf ignores the struct_ops name');
  assert.deepEqual(m('fentry'), [ProgramType.TRACING, AttachType.TRACE_FENTRY, undefined]);
});

test('flags: sleepable, xdp frags, attach BTF, autoload', () => {
  const lsm = matchSection('lsm.s/bprm_committed_creds')!;
  assert.equal(lsm.programFlags, BPF_F_SLEEPABLE);
  assert.ok(lsm.def.flags & SecFlag.ATTACH_BTF);
  assert.equal(matchSection('lsm/file_open')!.programFlags, 0);
  assert.equal(matchSection('syscall')!.programFlags, BPF_F_SLEEPABLE);
  assert.equal(matchSection('xdp.frags')!.programFlags, BPF_F_XDP_HAS_FRAGS);
  assert.equal(matchSection('xdp.frags/devmap')!.attachType, AttachType.XDP_DEVMAP);
  assert.equal(matchSection('usdt.s/x')!.programFlags, BPF_F_SLEEPABLE);
  assert.ok(matchSection('usdt/x')!.def.flags & SecFlag.USDT);
  assert.equal(matchSection('?xdp')!.autoload, false);
  assert.equal(matchSection('xdp')!.autoload, true);
  assert.equal(matchSection('?tp/a/b')!.target, 'a/b');
});

/** Names that exercise each rule: the bare name, and `name/extra` where a suffix is allowed. */
function sampleNames(): string[] {
  const out: string[] = [];
  for (const d of SECTION_DEFS) {
    const stem = d.sec.replace(/[+/]$/, '');
    if (d.sec.endsWith('+')) out.push(stem, `${stem}/target_fn`);
    else if (d.sec.endsWith('/')) out.push(`${stem}/`, `${stem}/target_fn`);
    else out.push(stem, `${stem}x`, `${stem}/x`);
  }
  return out;
}

const oracle = libbpfOracle();

test('agrees with libbpf_prog_type_by_name wherever the system libbpf knows the name', { skip: 'skip' in oracle ? oracle.skip : false }, () => {
  const names = sampleNames();
  const theirs = oracleSections((oracle as { path: string }).path, names);
  let compared = 0;
  for (const name of names) {
    const expected = theirs[name];
    const ours = matchSection(name);
    if (ours === undefined) assert.equal(expected, null, `${name}: unknown to us, so to libbpf`);
    // Unknown to this libbpf but known to us: a rule from a newer libbpf release.
    if (expected === null || expected === undefined) continue;
    assert.ok(ours, `${name}: libbpf knows it`);
    assert.deepEqual([ours.programType, ours.attachType], expected, name);
    compared++;
  }
  assert.ok(compared > 100, `compared ${compared} names`);
  // Names that no libbpf accepts are unknown to us as well.
  for (const name of ['xdp_prog', 'socket1', 'tcx', 'cgroup/unknown', 'kprobex/y', 'maps', '.text']) {
    assert.equal(matchSection(name), undefined, name);
    assert.equal(theirs[name] ?? oracleSections((oracle as { path: string }).path, [name])[name], null, `${name}: libbpf agrees`);
  }
});
