/**
 * Network attachments against the running kernel, only ever on a veth pair between two
 * namespaces the test creates: UDP datagrams from 10.201.0.1 (namespace a) to 10.201.0.2
 * (namespace b) are dropped while an XDP, tcx, netfilter, sk_lookup or socket filter program
 * that drops is attached, and arrive again once the link is closed.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { AttachType, KernelError, ProgramType } from '../../../src/kernel/index.js';
import {
  LinkType, RawLink, attachNetfilter, attachNetns, attachProgram, attachSocketFilter, attachTc, attachTcx, attachXdp,
  openPacketSocket, socketFdOf, withNetns,
} from '../../../src/kernel/link/index.js';
import { nativeSyscalls } from '../../../src/kernel/native.js';
import { kernelSkip } from '../../support/kernel.js';
import { createVethPair, netnsSkip, type VethPair } from '../../support/netns.js';
import { boundPort, closeSocket, receive, sendTo, udpReaches, udpSocket } from '../../support/sockets.js';
import { bump, count, counterMap, load, openFds } from './programs.js';

const execFileAsync = promisify(execFile);

/** Sockets for datagrams from a to b: `tx` in a, `rx` bound in b. */
interface Udp extends Disposable {
  tx: number;
  rx: number;
  port: number;
  /** Datagrams reach rx within `ms`. */
  flows(ms?: number): boolean;
  /** `n` datagrams sent, none received. */
  blocked(n?: number): boolean;
}

function udp(pair: VethPair): Udp {
  const rx = udpSocket(pair.b.netns, pair.b.address, 0);
  const tx = udpSocket(pair.a.netns);
  const port = boundPort(rx);
  return {
    tx, rx, port,
    flows: (ms = 5000) => udpReaches(tx, rx, pair.b.address, port, ms),
    blocked: (n = 5) => {
      for (let i = 0; i < n; i++) {
        sendTo(tx, pair.b.address, port, new TextEncoder().encode(`blocked ${i}`));
        if (receive(rx, 60) !== undefined) return false;
      }
      return true;
    },
    [Symbol.dispose]: () => {
      closeSocket(tx);
      closeSocket(rx);
    },
  };
}

/** Skip reason for a kernel without the hook (the link command refused), else rethrows. */
function missing(err: unknown, what: string): string {
  if (err instanceof KernelError && ['EINVAL', 'EOPNOTSUPP', 'ENOTSUPP', 'EPERM'].includes(err.code)) return `${what}: ${err.message}`;
  throw err;
}

describe('network attachments (veth pair in test namespaces)', { skip: kernelSkip() || netnsSkip() }, () => {
  it('XDP drops datagrams while attached; update() swaps the program, close() detaches', () => {
    const fds = openFds();
    {
      using pair = createVethPair();
      using traffic = udp(pair);
      assert.ok(traffic.flows(), 'baseline: datagrams cross the veth pair');
      using counters = counterMap();
      using drop = load(ProgramType.XDP, 'xdp_drop', `${bump(counters, 0)}\n r0 = 1\n exit`);
      using pass = load(ProgramType.XDP, 'xdp_pass', `${bump(counters, 1)}\n r0 = 2\n exit`);
      {
        using link = attachXdp(drop, { ifname: 'veth-b', netns: pair.b.netns });
        assert.ok(traffic.blocked(), 'datagrams dropped by XDP');
        assert.ok(count(counters, 0) >= 5n, `drop program ran ${count(counters, 0)} times`);
        const info = link.info();
        assert.equal(info.type, LinkType.XDP);
        link.update(pass);
        assert.ok(traffic.flows(), 'datagrams pass after update()');
        assert.ok(count(counters, 1) >= 1n);
        link.update(drop);
        assert.ok(traffic.blocked(), 'dropped again');
        link.detach();
        assert.ok(traffic.flows(), 'datagrams pass after detach()');
      }
      {
        using _link = attachProgram(drop, { section: 'xdp', ifname: 'veth-b', netns: pair.b.netns, xdpMode: 'generic' });
        assert.ok(traffic.blocked(), 'dropped by generic-mode XDP from the dispatcher');
      }
      assert.ok(traffic.flows(), 'datagrams pass after close()');
    }
    assert.equal(openFds(), fds);
  });

  it('tcx: an ingress program drops, an egress program counts', (t) => {
    using pair = createVethPair();
    using traffic = udp(pair);
    assert.ok(traffic.flows());
    using counters = counterMap();
    // TCX_DROP (2) on b's ingress; TCX_NEXT (-1) on a's egress.
    using drop = load(ProgramType.SCHED_CLS, 'tcx_drop', `${bump(counters, 0)}\n r0 = 2\n exit`);
    using next = load(ProgramType.SCHED_CLS, 'tcx_count', `${bump(counters, 1)}\n r0 = -1\n exit`);
    let ingress;
    try {
      ingress = attachTcx(drop, { ifname: 'veth-b', netns: pair.b.netns, direction: 'ingress' });
    } catch (err) {
      t.skip(missing(err, 'tcx'));
      return;
    }
    {
      using _ingress = ingress;
      using egress = attachProgram(next, { section: 'tc/egress', ifname: 'veth-a', netns: pair.a.netns });
      assert.ok(traffic.blocked(), 'datagrams dropped on tcx ingress');
      assert.ok(count(counters, 0) >= 5n);
      assert.ok(count(counters, 1) >= 5n, 'egress program counted');
      const info = egress.info();
      assert.ok(info.detail.kind === 'tcx' && info.detail.attachType === 47);
    }
    assert.ok(traffic.flows(), 'datagrams pass after close()');
  });

  it('XDP and TC the older way, over rtnetlink: same effect, detached on close', () => {
    const fds = openFds();
    {
      using pair = createVethPair();
      using traffic = udp(pair);
      assert.ok(traffic.flows());
      using counters = counterMap();
      using xdp = load(ProgramType.XDP, 'xdp_drop', `${bump(counters, 0)}\n r0 = 1\n exit`);
      using tc = load(ProgramType.SCHED_CLS, 'tc_drop', `${bump(counters, 1)}\n r0 = 2\n exit`);
      {
        using link = attachXdp(xdp, { ifname: 'veth-b', netns: pair.b.netns, via: 'netlink', mode: 'generic' });
        assert.ok(link instanceof RawLink);
        assert.ok(traffic.blocked(), 'dropped by netlink-attached XDP');
        // A second netlink attach does not replace someone's program.
        assert.throws(() => attachXdp(xdp, { ifname: 'veth-b', netns: pair.b.netns, via: 'netlink', mode: 'generic' }), /EBUSY|EEXIST/);
      }
      assert.ok(traffic.flows(), 'passes after the netlink XDP link is closed');
      assert.ok(count(counters, 0) >= 5n);
      {
        using link = attachTcx(tc, { ifname: 'veth-b', netns: pair.b.netns, direction: 'ingress', via: 'netlink' });
        assert.equal(link.kind, 'tc');
        assert.ok(traffic.blocked(), 'dropped by a clsact bpf filter');
        using second = attachTc(tc, { ifname: 'veth-b', netns: pair.b.netns, direction: 'ingress', priority: 2 });
        assert.ok(traffic.blocked());
        second.close();
      }
      assert.ok(traffic.flows(), 'passes after the filter is deleted');
      assert.ok(count(counters, 1) >= 5n);
    }
    assert.equal(openFds(), fds);
  });

  it('netfilter: a LOCAL_IN program drops datagrams in its namespace', (t) => {
    using pair = createVethPair();
    using traffic = udp(pair);
    assert.ok(traffic.flows());
    using counters = counterMap();
    using prog = load(ProgramType.NETFILTER, 'nf_drop', `${bump(counters)}\n r0 = 0\n exit`, { expectedAttachType: AttachType.NETFILTER });
    let link;
    try {
      link = attachNetfilter(prog, { family: 'ipv4', hook: 'input', priority: -128, netns: pair.b.netns });
    } catch (err) {
      t.skip(missing(err, 'netfilter link'));
      return;
    }
    {
      using _link = link;
      assert.ok(traffic.blocked(), 'datagrams dropped by netfilter');
      assert.ok(count(counters) >= 5n);
      const info = link.info();
      assert.ok(info.detail.kind === 'netfilter' && info.detail.hooknum === 1 && info.detail.priority === -128);
    }
    assert.ok(traffic.flows());
  });

  it('sk_lookup: a program on a namespace drops lookups for its sockets', (t) => {
    using pair = createVethPair();
    using traffic = udp(pair);
    assert.ok(traffic.flows());
    using counters = counterMap();
    using prog = load(ProgramType.SK_LOOKUP, 'lookup_drop', `${bump(counters)}\n r0 = 0\n exit`, { expectedAttachType: AttachType.SK_LOOKUP });
    let link;
    try {
      link = attachNetns(prog, { netns: pair.b.netns });
    } catch (err) {
      t.skip(missing(err, 'sk_lookup'));
      return;
    }
    {
      using _link = link;
      assert.ok(traffic.blocked(), 'lookups answered SK_DROP');
      assert.ok(count(counters) >= 5n);
      assert.equal(link.info().type, LinkType.NETNS);
    }
    assert.ok(traffic.flows());
  });

  it('a socket filter drops what its socket receives, on a UDP socket and a packet socket', () => {
    using pair = createVethPair();
    using traffic = udp(pair);
    assert.ok(traffic.flows());
    using counters = counterMap();
    using drop = load(ProgramType.SOCKET_FILTER, 'sf_drop', `${bump(counters, 0)}\n r0 = 0\n exit`);
    {
      using link = attachSocketFilter(drop, traffic.rx);
      assert.equal(link.kind, 'socket_filter');
      assert.throws(() => link.info(), /not a bpf_link/);
      assert.ok(traffic.blocked(), 'filtered out');
      assert.ok(count(counters, 0) >= 5n);
    }
    assert.ok(traffic.flows(), 'received after the filter is detached');
    const sys = nativeSyscalls();
    const packets = openPacketSocket({ ifname: 'veth-b', netns: pair.b.netns });
    try {
      using _link = attachProgram(drop, { section: 'socket', socket: packets });
      const before = count(counters, 0);
      traffic.flows();
      assert.ok(count(counters, 0) > before, 'the packet socket saw the datagrams');
    } finally {
      sys.close(packets);
    }
  });

  it("a socket filter on a Node server's own socket (socketFdOf) sees its connections", async () => {
    using pair = createVethPair();
    using counters = counterMap();
    // Keeps every packet (returns its length, capped by the socket).
    using keep = load(ProgramType.SOCKET_FILTER, 'sf_count', `${bump(counters)}\n r0 = -1\n exit`);
    // listen() without a host binds synchronously: the socket is made inside the namespace.
    const server = withNetns(pair.b.netns, () => net.createServer((s) => s.end('hi')).listen(0));
    try {
      await new Promise<void>((resolve) => (server.listening ? resolve() : server.once('listening', resolve)));
      const port = (server.address() as net.AddressInfo).port;
      using _link = attachSocketFilter(keep, socketFdOf(server));
      // Asynchronous: the server answers from this process's event loop.
      const client = await execFileAsync('ip', ['netns', 'exec', pair.a.netns, process.execPath, '-e', `
        const s = require('net').connect(${port}, '${pair.b.address}');
        s.setTimeout(3000, () => { console.log('timeout'); process.exit(1); });
        s.on('data', (d) => { console.log(String(d)); process.exit(0); });
        s.on('error', (e) => { console.log(e.code); process.exit(1); });`], { encoding: 'utf8', timeout: 10_000 });
      assert.equal(client.stdout.trim(), 'hi', client.stderr);
      assert.ok(count(counters) >= 1n, 'the filter saw the connection');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
