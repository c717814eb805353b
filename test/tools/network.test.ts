/**
 * The network tools as the command line runs them, only ever on veth pairs between network
 * namespaces the test creates, with their pins in a bpffs directory of the test's own:
 *
 * - xdp-firewall attached in one invocation; `add`, `list` and `del` from others, through
 *   the pinned LPM trie: datagrams from the added source stop (and are counted), flow again
 *   after `del`; the pins go when the firewall detaches.
 * - tc-redirect: namespace A has two veth pairs, to B and to C (C's end has B's address and
 *   MAC, so it accepts B's packets). A route for one destination port sends A's datagrams to
 *   that port out of the second pair, into C; other ports still reach B; `del` restores it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { kernelSkip } from '../support/kernel.js';
import { createNetns, createVethPair, ip, netnsSkip, type TestNetns } from '../support/netns.js';
import { boundPort, closeSocket, receive, sendTo, udpReaches, udpSocket } from '../support/sockets.js';
import { runTool, startTool } from './run-tool.js';

/** A directory for pins, on bpffs, removed by dispose. */
function pinRoot(): { path: string } & Disposable {
  const path = mkdtempSync('/sys/fs/bpf/ebpf-test-');
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) };
}

/** `n` datagrams from `tx` to address:port, none of which reach `rx`. */
function blocked(tx: number, rx: number, address: string, port: number, n = 5): boolean {
  for (let i = 0; i < n; i++) {
    sendTo(tx, address, port, new TextEncoder().encode(`blocked ${i}`));
    if (receive(rx, 80) !== undefined) return false;
  }
  return true;
}

function ok(args: string[]): string {
  const r = runTool(args);
  assert.equal(r.status, 0, `ebpf ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

describe('ebpf xdp-firewall (veth pair in test namespaces)', { skip: kernelSkip() || netnsSkip() }, () => {
  it('add from a second invocation drops the source, list counts, del lets it through', async () => {
    using pins = pinRoot();
    using pair = createVethPair();
    const rx = udpSocket(pair.b.netns, pair.b.address, 0);
    const tx = udpSocket(pair.a.netns);
    try {
      const port = boundPort(rx);
      assert.ok(udpReaches(tx, rx, pair.b.address, port, 5000), 'baseline: datagrams cross the pair');
      const where = ['veth-b', '--netns', pair.b.netns, '--pin-dir', join(pins.path, 'fw')];
      using firewall = startTool(['xdp-firewall', ...where, '-j', '-d', '60']);
      await firewall.waitFor(/attached/);
      assert.ok(udpReaches(tx, rx, pair.b.address, port, 5000), 'attached, no rules: datagrams pass');

      ok(['xdp-firewall', ...where, 'add', pair.a.address]);
      assert.ok(blocked(tx, rx, pair.b.address, port), 'datagrams from the added source are dropped');
      const listed = JSON.parse(ok(['xdp-firewall', ...where, 'list', '-j'])) as {
        rules: { prefix: string; packets: number; bytes: number }[]; totals: { dropped: { packets: number }; passed: { packets: number } };
      };
      assert.equal(listed.rules.length, 1);
      assert.equal(listed.rules[0]!.prefix, `${pair.a.address}/32`);
      assert.ok(listed.rules[0]!.packets >= 5, `drop count ${listed.rules[0]!.packets}`);
      assert.ok(listed.rules[0]!.bytes >= 5 * 42, `drop bytes ${listed.rules[0]!.bytes}`);
      assert.equal(listed.totals.dropped.packets, listed.rules[0]!.packets);
      assert.ok(listed.totals.passed.packets >= 1);
      assert.match(ok(['xdp-firewall', ...where, 'list']), new RegExp(`^PREFIX\\s+PACKETS\\s+BYTES\\n${pair.a.address.replace(/\./g, '\\.')}/32\\s+\\d+\\s+\\d+\\n`));

      // Another prefix that does not cover the source changes nothing.
      ok(['xdp-firewall', ...where, 'add', '10.99.0.0/16']);
      ok(['xdp-firewall', ...where, 'del', pair.a.address]);
      assert.ok(udpReaches(tx, rx, pair.b.address, port, 5000), 'after del, datagrams pass again');
      assert.equal(runTool(['xdp-firewall', ...where, 'del', pair.a.address]).status, 1, 'deleting a missing rule fails');
      // A covering prefix drops again (longest-prefix match).
      ok(['xdp-firewall', ...where, 'add', '10.201.0.0/24']);
      assert.ok(blocked(tx, rx, pair.b.address, port), 'a /24 covering the source drops');

      assert.equal(await firewall.stop('SIGTERM'), 0, firewall.stderr());
      const summary = firewall.jsonLines().at(-1) as { rules: { prefix: string; packets: number }[] };
      assert.deepEqual(summary.rules.map((r) => r.prefix), ['10.99.0.0/16', '10.201.0.0/24']);
      assert.deepEqual(readdirSync(join(pins.path, 'fw')), [], 'pins removed at detach');
      assert.ok(udpReaches(tx, rx, pair.b.address, port, 5000), 'detached: datagrams pass');
      assert.notEqual(runTool(['xdp-firewall', ...where, 'list']).status, 0, 'nothing to list once detached');
    } finally {
      closeSocket(tx);
      closeSocket(rx);
    }
  });

  it('--keep leaves the rules pinned for the next firewall', async () => {
    using pins = pinRoot();
    using pair = createVethPair();
    const rx = udpSocket(pair.b.netns, pair.b.address, 0);
    const tx = udpSocket(pair.a.netns);
    try {
      const port = boundPort(rx);
      const where = ['veth-b', '--netns', pair.b.netns, '--pin-dir', pins.path];
      {
        using first = startTool(['xdp-firewall', ...where, '--rule', pair.a.address, '--keep', '-d', '60']);
        await first.waitFor(/attached/);
        assert.ok(blocked(tx, rx, pair.b.address, port), '--rule drops from the start');
        assert.equal(await first.stop(), 0, first.stderr());
      }
      assert.ok(existsSync(join(pins.path, 'rules')), 'rules still pinned');
      assert.ok(udpReaches(tx, rx, pair.b.address, port, 5000), 'detached: datagrams pass');
      {
        using second = startTool(['xdp-firewall', ...where, '-d', '60']);
        await second.waitFor(/attached/);
        assert.ok(blocked(tx, rx, pair.b.address, port), 'the kept rule applies again');
        assert.equal(await second.stop(), 0, second.stderr());
      }
      assert.equal(existsSync(join(pins.path, 'rules')), false, 'removed without --keep');
    } finally {
      closeSocket(tx);
      closeSocket(rx);
    }
  });
});

/** A's two veth pairs: a1 ↔ b1 (B), a2 ↔ c2 (C), where c2 has b1's address and MAC. */
function twoPairs(): { a: TestNetns; b: TestNetns; c: TestNetns } & Disposable {
  const made: TestNetns[] = [];
  try {
    const [a, b, c] = [createNetns('-a'), createNetns('-b'), createNetns('-c')] as const;
    made.push(a, b, c);
    ip('link', 'add', 'a1', 'netns', a.name, 'type', 'veth', 'peer', 'name', 'b1', 'netns', b.name);
    ip('link', 'add', 'a2', 'netns', a.name, 'type', 'veth', 'peer', 'name', 'c2', 'netns', c.name);
    const mac = /link\/ether ([0-9a-f:]+)/.exec(ip('-n', b.name, 'link', 'show', 'b1'))?.[1];
    if (mac === undefined) throw new Error('no MAC address on b1');
    ip('-n', c.name, 'link', 'set', 'c2', 'address', mac);
    ip('-n', a.name, 'addr', 'add', '10.201.0.1/24', 'dev', 'a1');
    ip('-n', b.name, 'addr', 'add', '10.201.0.2/24', 'dev', 'b1');
    ip('-n', c.name, 'addr', 'add', '10.201.0.2/24', 'dev', 'c2');
    for (const [ns, dev] of [[a, 'a1'], [a, 'a2'], [b, 'b1'], [c, 'c2']] as const) ip('-n', ns.name, 'link', 'set', dev, 'up');
    return { a, b, c, [Symbol.dispose]: () => made.forEach((ns) => ns.close()) };
  } catch (err) {
    made.forEach((ns) => ns.close());
    throw err;
  }
}

describe('ebpf tc-redirect (two veth pairs in test namespaces)', { skip: kernelSkip() || netnsSkip() }, () => {
  it('a route for a port carries its datagrams out of the other pair; other ports stay; del restores', async () => {
    using pins = pinRoot();
    using net = twoPairs();
    const inB = udpSocket(net.b.name, '10.201.0.2', 0);
    const port = boundPort(inB);
    const inC = udpSocket(net.c.name, '10.201.0.2', port);
    const otherB = udpSocket(net.b.name, '10.201.0.2', 0);
    const other = boundPort(otherB);
    const tx = udpSocket(net.a.name);
    try {
      assert.ok(udpReaches(tx, inB, '10.201.0.2', port, 5000), 'baseline: A reaches B');
      assert.equal(receive(inC, 50), undefined);
      const where = ['a1', '--netns', net.a.name, '--pin-dir', pins.path];
      using redirect = startTool(['tc-redirect', ...where, '-j', '-d', '60']);
      await redirect.waitFor(/attached/);
      assert.ok(udpReaches(tx, inB, '10.201.0.2', port, 5000), 'attached, no routes: A still reaches B');

      ok(['tc-redirect', ...where, 'add', String(port), 'a2']);
      assert.ok(udpReaches(tx, inC, '10.201.0.2', port, 5000), 'the routed port arrives in C');
      assert.ok(blocked(tx, inB, '10.201.0.2', port, 3), 'and no longer in B');
      assert.ok(udpReaches(tx, otherB, '10.201.0.2', other, 5000), 'another port still reaches B');

      const listed = JSON.parse(ok(['tc-redirect', ...where, 'list', '-j'])) as { routes: { port: number; ifname: string; packets: number }[] };
      assert.equal(listed.routes.length, 1);
      assert.equal(listed.routes[0]!.port, port);
      assert.equal(listed.routes[0]!.ifname, 'a2');
      assert.ok(listed.routes[0]!.packets >= 4, `redirected ${listed.routes[0]!.packets}`);
      assert.match(ok(['tc-redirect', ...where, 'list']), new RegExp(`^DPORT\\s+TARGET\\s+PACKETS\\s+BYTES\\n${port}\\s+a2\\s+\\d+`));

      ok(['tc-redirect', ...where, 'del', String(port)]);
      assert.ok(udpReaches(tx, inB, '10.201.0.2', port, 5000), 'after del, A reaches B again');
      assert.equal(runTool(['tc-redirect', ...where, 'add', String(port), 'no-such-if']).status, 1, 'an unknown target interface fails');

      assert.equal(await redirect.stop(), 0, redirect.stderr());
      assert.deepEqual(readdirSync(pins.path), [], 'pin removed at detach');
    } finally {
      for (const fd of [tx, inB, inC, otherB]) closeSocket(fd);
    }
  });
});
