/**
 * sock_ops programs, the kernel against the VM: bpf/fixtures/vm_sockmap.c's log_ops attached to
 * a cgroup logs every callback of a loopback TCP connection's life — listen, connect, the
 * request socket, both ends established, a message, the client closing, then the server and
 * the listener — with and without STATE_CB enabled (bpf_sock_ops_cb_flags_set) and with the
 * established sockets put into a SOCKMAP (bpf_sock_map_update). In the kernel the connection
 * is made by a child process inside a test cgroup; in the VM by simulated sockets of a cgroup
 * path. The transcripts of callbacks must be equal.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadObject } from '../../../src/kernel/object/index.js';
import { SockOp, SockOpsCbFlag } from '../../../src/vm/sockets/sock-ops-events.js';
import { TcpState } from '../../../src/vm/sockets/socket.js';
import { loadObjectVm } from '../../../src/vm/object/load.js';
import { cgroupSkip, createTestCgroup } from '../../support/cgroup.js';
import { kernelSkip } from '../../support/kernel.js';
import { assertSameTranscript } from './backends.js';

const OBJECT = readFileSync(new URL('../../../../bpf/fixtures/vm_sockmap.o', import.meta.url));

/** The connection's life in a child process: listen, connect, one message, client closes, server closes, listener closes. */
const CHILD = `
const net = require('node:net');
let c;
const server = net.createServer((s) => {
  s.once('data', () => c.destroy());
  // The server closes a moment after the client: its FIN carries the ACK of the client's FIN.
  s.on('end', () => setTimeout(() => { s.destroy(); setTimeout(() => server.close(() => setTimeout(() => process.exit(0), 50)), 50); }, 100));
});
server.listen(0, '127.0.0.1', () => {
  c = net.connect(server.address().port, '127.0.0.1', () => c.write('hello'));
});
setTimeout(() => process.exit(3), 5000);
`;

const OP_NAMES = new Map<number, string>(Object.entries(SockOp).map(([k, v]) => [v, k]));
const STATE_NAMES = new Map<number, string>(Object.entries(TcpState).map(([k, v]) => [v, k]));

interface OpsEvent {
  op: number; is_fullsock: number; state: number; family: number; local_port: number; remote_port: number;
  args0: number; args1: number; cb_flags: number; ret: number; has_cookie: number;
}

interface ObjectLike {
  maps: Record<string, { get(key: unknown): unknown; keys(): Iterable<unknown> } | undefined>;
}

/** The logged callbacks, ports named: the listening port `server`, any other `client`. */
function transcript(obj: ObjectLike): string[] {
  const count = Number((obj.maps['.bss']!.get(0) as { ops_count: number }).ops_count);
  const events = Array.from({ length: Math.min(count, 64) }, (_, i) => obj.maps.ops_log!.get(i) as OpsEvent);
  const serverPort = events.find((e) => e.op === SockOp.TCP_LISTEN_CB)?.local_port;
  const port = (p: number): string => (p === 0 ? '0' : p === serverPort ? 'server' : 'client');
  const state = (s: number): string => STATE_NAMES.get(s) ?? String(s);
  const lines = [`callbacks: ${count}`];
  for (const e of events) {
    const args = e.op === SockOp.STATE_CB ? `${state(e.args0)}->${state(e.args1)}` : `${e.args0},${e.args1}`;
    lines.push(`${OP_NAMES.get(e.op) ?? e.op} fullsock ${e.is_fullsock} ${state(e.state)} family ${e.family} ` +
      `${port(e.local_port)}<-${port(e.remote_port)} args ${args} flags ${e.cb_flags} ret ${e.ret | 0} cookie ${e.has_cookie}`);
  }
  lines.push(`sock_map after: ${[...obj.maps.sock_map!.keys()].filter((k) => obj.maps.sock_map!.get(k) !== undefined).length} sockets`);
  return lines;
}

function kernelRun(variables: Record<string, number>): string[] {
  using cgroup = createTestCgroup();
  using obj = loadObject(OBJECT, { variables, programs: ['log_ops'] });
  {
    using _link = obj.programs.log_ops!.attach({ cgroup: cgroup.path });
    const r = cgroup.node(CHILD);
    assert.equal(r.status, 0, `child: ${r.stdout}${r.stderr}`);
  }
  return transcript(obj as unknown as ObjectLike);
}

function vmRun(variables: Record<string, number>): string[] {
  using obj = loadObjectVm(OBJECT, { variables, programs: ['log_ops'] });
  using _link = obj.programs.log_ops!.attach({ cgroup: '/test' });
  const w = obj.sockets;
  const listener = w.tcpListen({ cgroup: '/test' });
  const client = w.tcpConnect('127.0.0.1', listener.local.port, { cgroup: '/test' });
  const server = listener.accept();
  client.send(new TextEncoder().encode('hello'));
  server.receive();
  client.close();
  server.close();
  listener.close();
  return transcript(obj as unknown as ObjectLike);
}

const CASES: ReadonlyArray<[string, Record<string, number>]> = [
  ['no callback flags', {}],
  ['STATE_CB enabled when established and listening', { ops_set_flags: SockOpsCbFlag.STATE }],
  ['established sockets put into a SOCKMAP', { ops_add_to_map: 1 }],
  ['unknown flags come back from cb_flags_set, known ones are kept', { ops_set_flags: 0x180 | SockOpsCbFlag.STATE | SockOpsCbFlag.RTO | SockOpsCbFlag.RETRANS }],
];

describe('sock_ops callbacks, VM against the kernel', { skip: kernelSkip() || cgroupSkip() }, () => {
  for (const [name, variables] of CASES) {
    it(name, () => {
      assertSameTranscript(vmRun(variables), kernelRun(variables));
    });
  }
});

describe('sock_ops in the VM', () => {
  it('refuses to enable callbacks it cannot simulate (RTT, TCP header options)', () => {
    using obj = loadObjectVm(OBJECT, { variables: { ops_set_flags: SockOpsCbFlag.RTT }, programs: ['log_ops'] });
    using _link = obj.programs.log_ops!.attach();
    assert.throws(() => obj.sockets.tcpPair(), /no RTT or TCP header option callbacks/);
  });

  it('runs only for sockets of the attached cgroup and below', () => {
    using obj = loadObjectVm(OBJECT, { programs: ['log_ops'] });
    using _link = obj.programs.log_ops!.attach({ cgroup: '/a' });
    obj.sockets.tcpPair({ cgroup: '/b' });
    assert.equal((obj.maps['.bss']!.get(0) as { ops_count: number }).ops_count, 0);
    obj.sockets.tcpListen({ cgroup: '/a/child' });
    assert.equal((obj.maps['.bss']!.get(0) as { ops_count: number }).ops_count, 1);
  });
});
