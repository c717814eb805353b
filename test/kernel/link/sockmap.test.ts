/**
 * sockmap programs against the running kernel, on TCP connections inside a test network
 * namespace: an sk_msg program redirects what one connection's client sends into another
 * client's receive queue (bpf_msg_redirect_map with BPF_F_INGRESS), so the bytes arrive where
 * TCP alone would never put them; an sk_skb stream verdict program sees received data.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AttachType, Errno, MapType, ProgramType, createMap, type KernelMap } from '../../../src/kernel/index.js';
import { BpfLink, LinkType, RawLink, attachProgram, attachSockmap, tryProgDetach } from '../../../src/kernel/link/index.js';
import { kernelSkip } from '../../support/kernel.js';
import { createNetns, netnsSkip } from '../../support/netns.js';
import { boundPort, closeSocket, receive, send, tcpAccept, tcpConnect, tcpListen } from '../../support/sockets.js';
import { bump, count, counterMap, load } from './programs.js';

const text = (bytes: Uint8Array | undefined): string | undefined => (bytes ? new TextDecoder().decode(bytes) : undefined);
const u32 = (n: number): Uint8Array => new Uint8Array(new Uint32Array([n]).buffer);

/** Two TCP connections on 127.0.0.1 of a fresh namespace: [client, server side] each. */
function connections(netns: string, n: number): { pairs: [number, number][]; close(): void } {
  const listener = tcpListen(netns);
  const port = boundPort(listener);
  const pairs: [number, number][] = [];
  try {
    for (let i = 0; i < n; i++) {
      const client = tcpConnect(netns, '127.0.0.1', port);
      pairs.push([client, tcpAccept(listener)]);
    }
  } finally {
    closeSocket(listener);
  }
  return { pairs, close: () => pairs.flat().forEach(closeSocket) };
}

function sockmap(): KernelMap {
  return createMap({ type: MapType.SOCKMAP, keySize: 4, valueSize: 4, maxEntries: 4, name: 'socks' });
}

describe('sockmap attachments (TCP in a test namespace)', { skip: kernelSkip() || netnsSkip() }, () => {
  it('sk_msg redirects what client 1 sends into client 2', () => {
    using ns = createNetns();
    using counters = counterMap();
    using socks = sockmap();
    using prog = load(ProgramType.SK_MSG, 'msg_redirect', `
      r6 = r1
      ${bump(counters)}
      r1 = r6
      ld_pseudo r2, 1, ${socks.fd}
      r3 = 1
      r4 = 1
      call 60
      exit`, { expectedAttachType: AttachType.SK_MSG_VERDICT });
    const conns = connections(ns.name, 2);
    try {
      const [[client1, server1], [client2, server2]] = conns.pairs as [[number, number], [number, number]];
      // Program first: a socket takes the map's programs when it is added.
      using link = attachSockmap(prog, { map: socks, attachType: AttachType.SK_MSG_VERDICT });
      assert.equal(link.kind, 'sockmap');
      socks.update(u32(0), u32(client1));
      socks.update(u32(1), u32(client2));
      assert.equal(send(client1, new TextEncoder().encode('steered')), 7);
      assert.equal(text(receive(client2, 2000)), 'steered', 'bytes arrive at client 2');
      assert.equal(receive(server1, 200), undefined, "client 1's peer got nothing");
      assert.equal(receive(server2, 50), undefined);
      assert.equal(count(counters), 1n);
    } finally {
      conns.close();
    }
  });

  it('sk_skb stream verdict runs on what a socket in the map receives', () => {
    using ns = createNetns();
    using counters = counterMap();
    using socks = sockmap();
    // SK_PASS (1): the data goes on to the socket.
    using prog = load(ProgramType.SK_SKB, 'skb_verdict', `${bump(counters)}\n r0 = 1\n exit`,
      { expectedAttachType: AttachType.SK_SKB_STREAM_VERDICT });
    const conns = connections(ns.name, 1);
    try {
      const [[client, server]] = conns.pairs as [[number, number]];
      using link = attachProgram(prog, { section: 'sk_skb/stream_verdict', map: socks });
      // A bpf_link on 6.10+, BPF_PROG_ATTACH before.
      if (link instanceof BpfLink) assert.equal(link.info().type, LinkType.SOCKMAP);
      socks.update(u32(0), u32(server));
      send(client, new TextEncoder().encode('verdict'));
      assert.equal(text(receive(server, 2000)), 'verdict');
      assert.ok(count(counters) >= 1n);
    } finally {
      conns.close();
    }
  });

  it('BPF_PROG_ATTACH to the map works the same, and detaches on close', () => {
    using ns = createNetns();
    using counters = counterMap();
    using socks = sockmap();
    using prog = load(ProgramType.SK_SKB, 'skb_verdict', `${bump(counters)}\n r0 = 1\n exit`,
      { expectedAttachType: AttachType.SK_SKB_STREAM_VERDICT });
    const conns = connections(ns.name, 1);
    try {
      const [[client, server]] = conns.pairs as [[number, number]];
      {
        using link = attachSockmap(prog, { map: socks, attachType: AttachType.SK_SKB_STREAM_VERDICT, mode: 'attach' });
        assert.ok(link instanceof RawLink);
        socks.update(u32(0), u32(server));
        send(client, new TextEncoder().encode('legacy'));
        assert.equal(text(receive(server, 2000)), 'legacy');
        assert.ok(count(counters) >= 1n);
      }
      // Detached: nothing left to detach.
      const ret = tryProgDetach(prog.syscalls, { target: socks.fd, programFd: prog.fd, attachType: AttachType.SK_SKB_STREAM_VERDICT });
      assert.equal(ret, -Errno.ENOENT);
    } finally {
      conns.close();
    }
  });
});
