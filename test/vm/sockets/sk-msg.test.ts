/**
 * sk_msg programs, the kernel against the VM: bpf/fixtures/vm_sockmap.c's msg_prog attached to
 * a SOCKMAP, on two TCP connections of real loopback sockets and of simulated ones. Each
 * scenario configures the program (verdict, redirect by map or hash, ingress or egress,
 * apply_bytes, cork_bytes, pull_data), sends messages, and writes a transcript: what send()
 * answered, what the program saw in each run (size, family, ports by socket name, data),
 * and which bytes arrived at which socket. The transcripts must be equal.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadObject } from '../../../src/kernel/object/index.js';
import { loadObjectVm } from '../../../src/vm/object/load.js';
import { kernelSkip } from '../../support/kernel.js';
import { assertSameTranscript, KernelBackend, VmBackend, type SockBackend } from './backends.js';

const OBJECT = readFileSync(new URL('../../../../bpf/fixtures/vm_sockmap.o', import.meta.url));

/** The loaded-object surface both backends share, as the scenarios use it. */
interface ObjectLike extends Disposable {
  programs: Record<string, { attach(options: { map: unknown }): Disposable } | undefined>;
  maps: Record<string, { set(key: unknown, value: unknown): unknown; get(key: unknown): unknown } | undefined>;
}

interface Scenario {
  readonly name: string;
  readonly variables: Record<string, number | bigint>;
  /** Sizes of the messages a_client sends. */
  readonly sends: readonly number[];
  /** What sock_map[2] and sock_hash[2] hold (the redirect target). */
  readonly target?: 'b_client' | 'b_server' | 'listener';
  /** Bytes bpf_msg_push_data inserted [start, start + len) in what arrives: the kernel's are uninitialised, so not compared. */
  readonly pushed?: readonly [number, number];
}

const SCENARIOS: readonly Scenario[] = [
  { name: 'pass', variables: { msg_verdict: 1 }, sends: [10, 100] },
  { name: 'drop', variables: { msg_verdict: 0 }, sends: [10, 3] },
  { name: 'redirect_map egress', variables: { msg_verdict: 1, msg_redirect: 1, msg_redir_key: 2 }, sends: [12, 40] },
  { name: 'redirect_map ingress', variables: { msg_verdict: 1, msg_redirect: 1, msg_redir_key: 2, msg_redir_flags: 1n }, sends: [12, 40] },
  { name: 'redirect_hash ingress', variables: { msg_verdict: 1, msg_redirect: 2, msg_redir_key: 2, msg_redir_flags: 1n }, sends: [16] },
  { name: 'redirect_hash egress to the server side', variables: { msg_verdict: 1, msg_redirect: 2, msg_redir_key: 2 }, sends: [16], target: 'b_server' },
  { name: 'redirect to an empty slot passes', variables: { msg_verdict: 1, msg_redirect: 1, msg_redir_key: 3 }, sends: [8] },
  { name: 'redirect with unknown flags', variables: { msg_verdict: 1, msg_redirect: 1, msg_redir_key: 2, msg_redir_flags: 2n }, sends: [8] },
  { name: 'redirect to a listening socket', variables: { msg_verdict: 1, msg_redirect: 1, msg_redir_key: 2 }, sends: [8], target: 'listener' },
  { name: 'redirect then SK_DROP', variables: { msg_verdict: 0, msg_redirect: 1, msg_redir_key: 2, msg_redir_flags: 1n }, sends: [8, 9] },
  { name: 'apply_bytes 4, pass', variables: { msg_verdict: 1, msg_apply: 4 }, sends: [10, 3] },
  { name: 'apply_bytes 4, drop', variables: { msg_verdict: 0, msg_apply: 4 }, sends: [10] },
  { name: 'apply_bytes 5, redirect ingress', variables: { msg_verdict: 1, msg_apply: 5, msg_redirect: 1, msg_redir_key: 2, msg_redir_flags: 1n }, sends: [12] },
  { name: 'cork_bytes 20', variables: { msg_verdict: 1, msg_cork: 20 }, sends: [10, 5, 10, 30] },
  { name: 'cork_bytes 20, redirect ingress', variables: { msg_verdict: 1, msg_cork: 20, msg_redirect: 1, msg_redir_key: 2, msg_redir_flags: 1n }, sends: [8, 8, 8] },
  { name: 'pull_data 2..6', variables: { msg_verdict: 1, msg_pull_start: 2, msg_pull_end: 6 }, sends: [10] },
  { name: 'pull_data past the end', variables: { msg_verdict: 1, msg_pull_start: 8, msg_pull_end: 20 }, sends: [10] },
  { name: 'pull_data empty range', variables: { msg_verdict: 1, msg_pull_start: 5, msg_pull_end: 5 }, sends: [10] },
  { name: 'push_data 4 bytes at 3', variables: { msg_verdict: 1, msg_push_start: 3, msg_push_len: 4 }, sends: [10], pushed: [3, 4] },
  { name: 'push_data 5 bytes at 0', variables: { msg_verdict: 1, msg_push_start: 0, msg_push_len: 5 }, sends: [10], pushed: [0, 5] },
  { name: 'push_data past the end', variables: { msg_verdict: 1, msg_push_start: 11, msg_push_len: 2 }, sends: [10] },
  { name: 'push_data at the end', variables: { msg_verdict: 1, msg_push_start: 10, msg_push_len: 2 }, sends: [10], pushed: [10, 2] },
  { name: 'push_data then pop_data over the pushed bytes', variables: { msg_verdict: 1, msg_push_start: 0, msg_push_len: 3, msg_pop_start: 0, msg_pop_len: 5 }, sends: [10] },
  { name: 'push_data then pull_data across elements', variables: { msg_verdict: 1, msg_push_start: 2, msg_push_len: 3, msg_pull_start: 1, msg_pull_end: 8 }, sends: [10], pushed: [2, 3] },
  { name: 'pop_data from the middle', variables: { msg_verdict: 1, msg_pop_start: 2, msg_pop_len: 3 }, sends: [10] },
  { name: 'pop_data from the front', variables: { msg_verdict: 1, msg_pop_start: 0, msg_pop_len: 4 }, sends: [10] },
  { name: 'pop_data to the end', variables: { msg_verdict: 1, msg_pop_start: 6, msg_pop_len: 4 }, sends: [10] },
  { name: 'pop_data past the end', variables: { msg_verdict: 1, msg_pop_start: 6, msg_pop_len: 5 }, sends: [10] },
  { name: 'pop_data then SK_DROP: send answers the popped size', variables: { msg_verdict: 0, msg_pop_start: 2, msg_pop_len: 3 }, sends: [10, 10] },
  { name: 'pop_data with apply_bytes, redirect ingress', variables: { msg_verdict: 1, msg_apply: 4, msg_pop_start: 1, msg_pop_len: 2, msg_redirect: 1, msg_redir_key: 2, msg_redir_flags: 1n }, sends: [12] },
];

function payload(size: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (seed * 31 + i * 7 + 1) & 0xff);
}

function show(bytes: Uint8Array): string {
  return bytes.length <= 48 ? Buffer.from(bytes).toString('hex') : `${bytes.length} bytes ${Buffer.from(bytes.subarray(0, 8)).toString('hex')}…`;
}

/** Runs one scenario on a loaded object and its sockets. */
function transcript(obj: ObjectLike, sockets: SockBackend, s: Scenario): string[] {
  const log: string[] = [];
  using _link = obj.programs.msg_prog!.attach({ map: obj.maps.sock_map! });
  const fds = {
    a_client: sockets.open('tcp-client'), a_server: sockets.open('tcp-server'),
    b_client: sockets.open('tcp-client'), b_server: sockets.open('tcp-server'),
    listener: sockets.open('tcp-listen'),
  };
  const portNames = new Map<number, string>();
  for (const [name, fd] of Object.entries(fds)) if (name !== 'listener') portNames.set(sockets.localPort(fd), name);
  const port = (p: number): string => portNames.get(p) ?? (p === 0 ? '0' : 'other');
  const target = fds[s.target ?? 'b_client'];
  obj.maps.sock_map!.set(0, fds.a_client);
  obj.maps.sock_map!.set(2, target);
  obj.maps.sock_hash!.set(2, target);
  s.sends.forEach((size, i) => log.push(`send ${size}: ${sockets.send(fds.a_client, payload(size, i))}`));
  const count = Number((obj.maps['.bss']!.get(0) as { msg_count: number }).msg_count);
  log.push(`program runs: ${count}`);
  for (let i = 0; i < Math.min(count, 64); i++) {
    const e = obj.maps.msg_log!.get(i) as Record<string, number>;
    log.push(`run ${i}: size ${e.size} family ${e.family} local ${port(e.local_port!)} remote ${port(e.remote_port!)} ` +
      `ip ${e.local_ip4!.toString(16)}->${e.remote_ip4!.toString(16)} data ${e.data_len} first ${e.first!.toString(16)} ret ${e.ret} pull ${e.pull_ret} pulled ${e.pulled_len} ` +
      `push ${e.push_ret} pop ${e.pop_ret} then size ${e.size_after} data ${e.data_len_after}`);
  }
  for (const name of ['a_server', 'b_client', 'b_server'] as const) {
    const got = sockets.receive(fds[name]);
    if (s.pushed !== undefined && got.length > 0) got.fill(0xee, s.pushed[0], s.pushed[0] + s.pushed[1]);
    log.push(`${name} received: ${show(got)}`);
  }
  return log;
}

describe('sk_msg programs, VM against the kernel', { skip: kernelSkip() }, () => {
  for (const s of SCENARIOS) {
    it(s.name, () => {
      let kernel: string[];
      {
        using obj = loadObject(OBJECT, { variables: s.variables, programs: ['msg_prog'] }) as unknown as ObjectLike;
        using sockets = new KernelBackend();
        kernel = transcript(obj, sockets, s);
      }
      using vmObj = loadObjectVm(OBJECT, { variables: s.variables, programs: ['msg_prog'] });
      using sockets = new VmBackend(vmObj.registry);
      const vm = transcript(vmObj as unknown as ObjectLike, sockets, s);
      assertSameTranscript(vm, kernel);
    });
  }
});

describe('sk_msg programs in the VM', () => {
  it('redirect_map with BPF_F_INGRESS puts the bytes in the target socket, not the peer', () => {
    using obj = loadObjectVm(OBJECT, { variables: { msg_verdict: 1, msg_redirect: 1, msg_redir_key: 2, msg_redir_flags: 1n }, programs: ['msg_prog'] });
    using _link = obj.programs.msg_prog!.attach({ map: obj.maps.sock_map! });
    const a = obj.sockets.tcpPair();
    const b = obj.sockets.tcpPair();
    obj.maps.sock_map!.set(0, a.client.fd);
    obj.maps.sock_map!.set(2, b.client.fd);
    assert.equal(a.client.send(Uint8Array.of(1, 2, 3)), 3);
    assert.deepEqual([...b.client.receive()], [1, 2, 3]);
    assert.equal(a.server.queued, 0);
    assert.equal(b.server.queued, 0);
  });

  it('disposing the object takes its sockets out of its maps', () => {
    const obj = loadObjectVm(OBJECT, { variables: { msg_verdict: 0 }, programs: ['msg_prog'] });
    obj.programs.msg_prog!.attach({ map: obj.maps.sock_map! });
    const a = obj.sockets.tcpPair();
    obj.maps.sock_map!.set(0, a.client.fd);
    assert.notEqual(a.client.psock, undefined);
    obj.dispose();
    assert.equal(a.client.psock, undefined);
    assert.equal(a.client.send(Uint8Array.of(5)), 1, 'no program: the bytes go to the peer');
    assert.deepEqual([...a.server.receive()], [5]);
  });

  it('a socket added before the program was attached does not run it', () => {
    using obj = loadObjectVm(OBJECT, { variables: { msg_verdict: 0 }, programs: ['msg_prog'] });
    const a = obj.sockets.tcpPair();
    obj.maps.sock_map!.set(0, a.client.fd);
    using _link = obj.programs.msg_prog!.attach({ map: obj.maps.sock_map! });
    assert.equal(a.client.send(Uint8Array.of(9)), 1);
    assert.deepEqual([...a.server.receive()], [9]);
  });
});

/** Which sockets may join which maps once the map has an sk_msg program (sock_map_link's EBUSY). */
function psockTranscript(obj: ObjectLike, sockets: SockBackend): string[] {
  const log: string[] = [];
  const client = sockets.open('tcp-client');
  const server = sockets.open('tcp-server');
  const errno = (fn: () => unknown): string => {
    try {
      fn();
      return 'ok';
    } catch (err) {
      return `errno ${(err as { errno?: number }).errno}`;
    }
  };
  const link = obj.programs.msg_prog!.attach({ map: obj.maps.sock_map! });
  log.push(`client into sock_map[0]: ${errno(() => obj.maps.sock_map!.set(0, client))}`);
  log.push(`client into sock_map[1]: ${errno(() => obj.maps.sock_map!.set(1, client))}`);
  log.push(`client again into sock_map[0]: ${errno(() => obj.maps.sock_map!.set(0, client))}`);
  log.push(`client into sock_hash (no program): ${errno(() => obj.maps.sock_hash!.set(0, client))}`);
  log.push(`server into sock_hash, then sock_map[1]: ${errno(() => obj.maps.sock_hash!.set(1, server))} ${errno(() => obj.maps.sock_map!.set(1, server))}`);
  link[Symbol.dispose]();
  log.push(`after detaching, client into sock_map[2]: ${errno(() => obj.maps.sock_map!.set(2, client))}`);
  log.push(`client sends: ${sockets.send(client, Uint8Array.of(1, 2))}, program runs: ${(obj.maps['.bss']!.get(0) as { msg_count: number }).msg_count}`);
  log.push(`server received: ${show(sockets.receive(server))}`);
  return log;
}

describe('sk_msg program ownership, VM against the kernel', { skip: kernelSkip() }, () => {
  it('a socket takes one sk_msg program: EBUSY for a second map with one, fine without', () => {
    let kernel: string[];
    {
      using obj = loadObject(OBJECT, { variables: { msg_verdict: 1 }, programs: ['msg_prog'] }) as unknown as ObjectLike;
      using sockets = new KernelBackend();
      kernel = psockTranscript(obj, sockets);
    }
    using vmObj = loadObjectVm(OBJECT, { variables: { msg_verdict: 1 }, programs: ['msg_prog'] });
    using sockets = new VmBackend(vmObj.registry);
    assertSameTranscript(psockTranscript(vmObj as unknown as ObjectLike, sockets), kernel);
  });
});
