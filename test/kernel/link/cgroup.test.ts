/**
 * cgroup attachments against the running kernel, on a child cgroup the test creates: a process
 * spawned into it (and into a test network namespace, so its packets stay there) is refused
 * connect(), sysctl reads, device opens, socket creation and setsockopt() while a denying
 * program is attached, and counted by cgroup_skb and sock_ops programs; refusals end when the
 * link is closed. Also: the BPF_PROG_ATTACH fallback, pinning a link beyond its handle.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { AttachType, ProgramType } from '../../../src/kernel/index.js';
import { unpin } from '../../../src/kernel/pin.js';
import { LinkType, RawLink, attachCgroup, attachProgram, openPinnedLink } from '../../../src/kernel/link/index.js';
import { kernelSkip } from '../../support/kernel.js';
import { cgroupSkip, createTestCgroup } from '../../support/cgroup.js';
import { createNetns, netnsSkip } from '../../support/netns.js';
import { findTool } from '../../support/tools.js';
import { bump, count, counterMap, load, openFds } from './programs.js';

/** Node: listen on 127.0.0.1 and connect to it; prints `connected` or the error code. */
const CONNECT = `
  const net = require('net');
  const server = net.createServer((s) => s.end()).listen(0, '127.0.0.1', () => {
    const c = net.connect(server.address().port, '127.0.0.1');
    c.on('connect', () => { console.log('connected'); process.exit(0); });
    c.on('error', (e) => { console.log(e.code); process.exit(0); });
    setTimeout(() => { console.log('timeout'); process.exit(0); }, 3000);
  });`;

/** Node: one UDP datagram to 127.0.0.1; prints `sent` or the error code. */
const SEND_UDP = `
  const s = require('dgram').createSocket('udp4');
  s.on('error', (e) => { console.log(e.code); process.exit(0); });
  s.send('x', 9, '127.0.0.1', (e) => { console.log(e ? e.code : 'sent'); process.exit(0); });`;

const python = findTool('python3');

describe('cgroup attachments (child cgroup, test namespace)', { skip: kernelSkip() || cgroupSkip() || netnsSkip() }, () => {
  it('connect4: connect() from a process in the cgroup is refused while attached', () => {
    const fds = openFds();
    {
      using cgroup = createTestCgroup();
      using ns = createNetns();
      using counters = counterMap();
      using deny = load(ProgramType.CGROUP_SOCK_ADDR, 'deny_connect4', `${bump(counters)}\n r0 = 0\n exit`,
        { expectedAttachType: AttachType.CGROUP_INET4_CONNECT });
      assert.equal(cgroup.node(CONNECT, { netns: ns.name }).stdout.trim(), 'connected', 'baseline');
      {
        using link = attachProgram(deny, { section: 'cgroup/connect4', cgroup: cgroup.path });
        assert.equal(link.kind, 'cgroup');
        const info = link.info();
        assert.equal(info.type, LinkType.CGROUP);
        assert.ok(info.detail.kind === 'cgroup' && info.detail.attachType === AttachType.CGROUP_INET4_CONNECT);
        assert.equal(cgroup.node(CONNECT, { netns: ns.name }).stdout.trim(), 'EPERM');
        assert.equal(count(counters), 1n);
      }
      assert.equal(cgroup.node(CONNECT, { netns: ns.name }).stdout.trim(), 'connected', 'after close');
    }
    assert.equal(openFds(), fds);
  });

  it('the BPF_PROG_ATTACH fallback attaches and detaches the same way', () => {
    using cgroup = createTestCgroup();
    using ns = createNetns();
    using deny = load(ProgramType.CGROUP_SOCK_ADDR, 'deny_connect4', 'r0 = 0\n exit', { expectedAttachType: AttachType.CGROUP_INET4_CONNECT });
    {
      const dirFd = openSync(cgroup.path, 'r');
      const link = attachCgroup(deny, { cgroup: dirFd, attachType: AttachType.CGROUP_INET4_CONNECT, mode: 'attach' });
      assert.ok(link instanceof RawLink);
      // The link keeps its own program and cgroup fds: closing the caller's does not stop the detach.
      deny.close();
      closeSync(dirFd);
      using _link = link;
      assert.equal(cgroup.node(CONNECT, { netns: ns.name }).stdout.trim(), 'EPERM');
    }
    assert.equal(cgroup.node(CONNECT, { netns: ns.name }).stdout.trim(), 'connected');
  });

  it('a pinned link outlives its handle until unpinned', () => {
    using cgroup = createTestCgroup();
    using ns = createNetns();
    using deny = load(ProgramType.CGROUP_SOCK_ADDR, 'deny_connect4', 'r0 = 0\n exit', { expectedAttachType: AttachType.CGROUP_INET4_CONNECT });
    const path = `/sys/fs/bpf/ebpf-test-${randomBytes(4).toString('hex')}`;
    try {
      const link = attachCgroup(deny, { cgroup: cgroup.path, attachType: AttachType.CGROUP_INET4_CONNECT });
      link.pin(path);
      const id = link.info().id;
      link.close();
      assert.equal(cgroup.node(CONNECT, { netns: ns.name }).stdout.trim(), 'EPERM', 'still attached through the pin');
      using reopened = openPinnedLink(path);
      assert.equal(reopened.info().id, id);
      assert.equal(reopened.kind, 'cgroup');
      unpin(path);
    } finally {
      unpin(path);
    }
    assert.equal(cgroup.node(CONNECT, { netns: ns.name }).stdout.trim(), 'connected', 'detached with the last reference');
  });

  it('sysctl: reads of /proc/sys are refused', () => {
    using cgroup = createTestCgroup();
    using deny = load(ProgramType.CGROUP_SYSCTL, 'deny_sysctl', 'r0 = 0\n exit', { expectedAttachType: AttachType.CGROUP_SYSCTL });
    assert.equal(cgroup.run(['cat', '/proc/sys/kernel/ostype']).stdout.trim(), 'Linux');
    {
      using _link = attachProgram(deny, { section: 'cgroup/sysctl', cgroup: cgroup.path });
      const r = cgroup.run(['cat', '/proc/sys/kernel/ostype']);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /Operation not permitted/);
    }
    assert.equal(cgroup.run(['cat', '/proc/sys/kernel/ostype']).stdout.trim(), 'Linux');
  });

  it('device: opening /dev/zero is refused', () => {
    using cgroup = createTestCgroup();
    using deny = load(ProgramType.CGROUP_DEVICE, 'deny_dev', 'r0 = 0\n exit', { expectedAttachType: AttachType.CGROUP_DEVICE });
    assert.equal(cgroup.run(['head', '-c', '1', '/dev/zero']).status, 0);
    {
      using _link = attachProgram(deny, { section: 'cgroup/dev', cgroup: cgroup.path });
      const r = cgroup.run(['head', '-c', '1', '/dev/zero']);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /Operation not permitted/);
    }
    assert.equal(cgroup.run(['head', '-c', '1', '/dev/zero']).status, 0);
  });

  it('sock_create: creating an inet socket is refused', () => {
    using cgroup = createTestCgroup();
    using ns = createNetns();
    using deny = load(ProgramType.CGROUP_SOCK, 'deny_socket', 'r0 = 0\n exit', { expectedAttachType: AttachType.CGROUP_INET_SOCK_CREATE });
    {
      using _link = attachProgram(deny, { section: 'cgroup/sock_create', cgroup: cgroup.path });
      assert.equal(cgroup.node(SEND_UDP, { netns: ns.name }).stdout.trim(), 'EPERM');
    }
    assert.equal(cgroup.node(SEND_UDP, { netns: ns.name }).stdout.trim(), 'sent');
  });

  it('setsockopt: a sockopt program refuses setsockopt()', (t) => {
    if (!python) {
      t.skip('python3 not installed');
      return;
    }
    using cgroup = createTestCgroup();
    using ns = createNetns();
    // Only IPPROTO_TCP options: "ip netns exec" itself sets SO_SNDBUF on its netlink socket.
    // ctx: struct bpf_sockopt, level at 24.
    using deny = load(ProgramType.CGROUP_SOCKOPT, 'deny_setsockopt', `
      r2 = *(u32 *)(r1 + 24)
      r0 = 1
      if r2 != 6 goto out
      r0 = 0
    out:
      exit`, { expectedAttachType: AttachType.CGROUP_SETSOCKOPT });
    const script = `
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
try:
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    print('set')
except OSError as e:
    print(e.errno)`;
    {
      using _link = attachProgram(deny, { section: 'cgroup/setsockopt', cgroup: cgroup.path });
      const r = cgroup.run([python, '-c', script], { netns: ns.name });
      assert.equal(r.stdout.trim(), '1', r.stderr); // EPERM
    }
    assert.equal(cgroup.run([python, '-c', script], { netns: ns.name }).stdout.trim(), 'set');
  });

  it('cgroup_skb egress and sock_ops count the traffic of the cgroup', () => {
    using cgroup = createTestCgroup();
    using ns = createNetns();
    using counters = counterMap();
    using egress = load(ProgramType.CGROUP_SKB, 'count_egress', `${bump(counters, 0)}\n r0 = 1\n exit`,
      { expectedAttachType: AttachType.CGROUP_INET_EGRESS });
    using sockops = load(ProgramType.SOCK_OPS, 'count_sockops', `${bump(counters, 1)}\n r0 = 1\n exit`,
      { expectedAttachType: AttachType.CGROUP_SOCK_OPS });
    {
      using _egress = attachProgram(egress, { section: 'cgroup_skb/egress', cgroup: cgroup.path });
      using _sockops = attachProgram(sockops, { section: 'sockops', cgroup: cgroup.path });
      assert.equal(cgroup.node(SEND_UDP, { netns: ns.name }).stdout.trim(), 'sent');
      assert.ok(count(counters, 0) >= 1n, 'egress packet counted');
      assert.equal(cgroup.node(CONNECT, { netns: ns.name }).stdout.trim(), 'connected');
      assert.ok(count(counters, 1) >= 1n, 'sock_ops callbacks counted');
    }
    const after = [count(counters, 0), count(counters, 1)];
    cgroup.node(CONNECT, { netns: ns.name });
    assert.deepEqual([count(counters, 0), count(counters, 1)], after, 'nothing counted after close');
  });
});
