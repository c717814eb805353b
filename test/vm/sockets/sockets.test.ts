/**
 * The simulated sockets on their own: addresses, binding, connecting, sending and receiving,
 * UDP datagrams, and the errnos of the calls (the values of Linux's socket calls).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AddressFamily, formatIp, parseIp } from '../../../src/vm/sockets/address.js';
import { SocketError, TcpState } from '../../../src/vm/sockets/socket.js';
import { SocketWorld } from '../../../src/vm/sockets/world.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array): string => new TextDecoder().decode(b);
const errno = (fn: () => unknown): number | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    assert.ok(err instanceof SocketError, String(err));
    return err.errno;
  }
};

describe('simulated sockets', () => {
  it('parses and formats IPv4 and IPv6 addresses', () => {
    assert.deepEqual([...parseIp('127.0.0.1').bytes], [127, 0, 0, 1]);
    assert.equal(parseIp('::1').family, AddressFamily.INET6);
    assert.equal(parseIp('fe80:0:0:0:0:0:0:1').text, 'fe80::1');
    assert.equal(formatIp(parseIp('2001:db8::ff00:42:8329').bytes), '2001:db8::ff00:42:8329');
    assert.equal(parseIp('::ffff:10.0.0.1').text, '::ffff:a00:1');
    for (const bad of ['1.2.3', '256.0.0.1', '1::2::3', 'x']) assert.throws(() => parseIp(bad), TypeError);
  });

  it('connects a TCP pair: both established, addresses mirrored, bytes flow both ways in order', () => {
    const w = new SocketWorld();
    const { client, server } = w.tcpPair();
    assert.equal(client.state, TcpState.ESTABLISHED);
    assert.equal(server.state, TcpState.ESTABLISHED);
    assert.equal(client.remote.port, server.local.port);
    assert.equal(server.remote.port, client.local.port);
    assert.notEqual(client.cookie, server.cookie);
    client.send(bytes('hel'));
    client.send(bytes('lo'));
    assert.equal(text(server.receive(4)), 'hell');
    assert.equal(text(server.receive()), 'o');
    server.send(bytes('back'));
    assert.equal(text(client.receive()), 'back');
  });

  it('works over IPv6', () => {
    const w = new SocketWorld();
    const { client, server } = w.tcpPair({ address: '::1' });
    assert.equal(client.family, AddressFamily.INET6);
    assert.equal(server.local.address.text, '::1');
    client.send(bytes('six'));
    assert.equal(text(server.receive()), 'six');
  });

  it('answers the errnos of Linux: ECONNREFUSED, EADDRINUSE, EPIPE, EAGAIN, EDESTADDRREQ', () => {
    const w = new SocketWorld();
    assert.equal(errno(() => w.tcpConnect('127.0.0.1', 4000)), 111);
    const listener = w.tcpListen({ port: 4000 });
    assert.equal(errno(() => w.tcpListen({ port: 4000 })), 98);
    assert.equal(errno(() => listener.accept()), 11);
    assert.equal(errno(() => w.tcpSocket().send(bytes('x'))), 32);
    assert.equal(errno(() => w.udpSocket().send(bytes('x'))), 89);
  });

  it('closes a connection through FIN_WAIT and CLOSE_WAIT, and a closed socket leaves its world', () => {
    const w = new SocketWorld();
    const { client, server } = w.tcpPair();
    client.close();
    assert.equal(client.state, TcpState.FIN_WAIT1, 'the FIN waits for its ACK');
    assert.equal(server.state, TcpState.CLOSE_WAIT);
    assert.equal(w.byFd(client.fd), undefined);
    server.send(bytes('late'));
    assert.equal(client.state, TcpState.CLOSE, "the server's segment carried the ACK");
    server.close();
    assert.equal(server.state, TcpState.CLOSE);
  });

  it('sends UDP datagrams to a bound port, one per receive; a connected socket takes only its peer', () => {
    const w = new SocketWorld();
    const a = w.udpSocket();
    const b = w.udpSocket();
    const c = w.udpSocket();
    a.sendTo(bytes('one'), '127.0.0.1', b.local.port);
    a.sendTo(bytes('two'), '127.0.0.1', b.local.port);
    assert.equal(text(b.receive()), 'one');
    assert.equal(text(b.receive()), 'two');
    w.udpConnect(b, '127.0.0.1', a.local.port);
    c.sendTo(bytes('stranger'), '127.0.0.1', b.local.port);
    a.sendTo(bytes('peer'), '127.0.0.1', b.local.port);
    assert.equal(text(b.receive()), 'peer');
    assert.equal(b.queued, 0);
  });
});
