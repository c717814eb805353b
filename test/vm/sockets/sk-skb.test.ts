/**
 * sk_skb verdict programs, the kernel against the VM: bpf/fixtures/vm_sockmap.c's skb_prog
 * (BPF_SK_SKB_VERDICT) and stream_prog (BPF_SK_SKB_STREAM_VERDICT, no parser) attached to a
 * SOCKMAP, judging what a socket of the map receives: pass, drop, redirect by map or hash to
 * another socket's receive queue or out through it, and bpf_skb_pull_data making bytes of the
 * segment linear (on a TCP receive the linear part starts empty, a UDP datagram is linear), on
 * TCP and UDP receivers, and an egress redirect sent through the target's own sk_msg program.
 * The transcripts — what the programs saw in each run and which bytes arrived where — must be
 * equal.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadObject } from '../../../src/kernel/object/index.js';
import { loadObjectVm } from '../../../src/vm/object/load.js';
import { kernelSkip } from '../../support/kernel.js';
import { assertSameTranscript, KernelBackend, VmBackend, type SockBackend } from './backends.js';

const OBJECT = readFileSync(new URL('../../../../bpf/fixtures/vm_sockmap.o', import.meta.url));

interface ObjectLike extends Disposable {
  programs: Record<string, { attach(options: { map: unknown }): Disposable } | undefined>;
  maps: Record<string, { set(key: unknown, value: unknown): unknown; get(key: unknown): unknown } | undefined>;
}

interface Scenario {
  readonly name: string;
  readonly program: 'skb_prog' | 'stream_prog';
  readonly variables: Record<string, number | bigint>;
  readonly sends: readonly number[];
  readonly target?: 'b_client' | 'b_server';
  /** a_client and a_server are UDP sockets (a_client connected to a_server). */
  readonly udp?: boolean;
  /** msg_prog is attached to the map too (the sockets send through it). */
  readonly withMsg?: boolean;
}

const SCENARIOS: readonly Scenario[] = [
  { name: 'verdict: pass', program: 'skb_prog', variables: { skb_verdict: 1 }, sends: [10, 300] },
  { name: 'verdict: drop', program: 'skb_prog', variables: { skb_verdict: 0 }, sends: [10, 5] },
  { name: 'verdict: pull_data 4', program: 'skb_prog', variables: { skb_verdict: 1, skb_pull: 4 }, sends: [10] },
  { name: 'verdict: pull_data past the end', program: 'skb_prog', variables: { skb_verdict: 1, skb_pull: 20 }, sends: [10] },
  { name: 'verdict: redirect_map ingress', program: 'skb_prog', variables: { skb_verdict: 1, skb_redirect: 1, skb_redir_key: 2, skb_redir_flags: 1n }, sends: [10] },
  { name: 'verdict: redirect_map egress', program: 'skb_prog', variables: { skb_verdict: 1, skb_redirect: 1, skb_redir_key: 2 }, sends: [10] },
  { name: 'verdict: redirect to an empty slot passes', program: 'skb_prog', variables: { skb_verdict: 1, skb_redirect: 1, skb_redir_key: 3 }, sends: [10] },
  { name: 'verdict: redirect then SK_DROP', program: 'skb_prog', variables: { skb_verdict: 0, skb_redirect: 1, skb_redir_key: 2, skb_redir_flags: 1n }, sends: [10] },
  { name: 'verdict: unknown redirect flags', program: 'skb_prog', variables: { skb_verdict: 1, skb_redirect: 1, skb_redir_key: 2, skb_redir_flags: 4n }, sends: [10] },
  { name: 'stream_verdict: redirect_hash ingress to the server side', program: 'stream_prog', variables: { skb_verdict: 1, skb_redirect: 2, skb_redir_key: 2, skb_redir_flags: 1n }, sends: [10, 20], target: 'b_server' },
  { name: 'stream_verdict: pass with pull_data', program: 'stream_prog', variables: { skb_verdict: 1, skb_pull: 8 }, sends: [8, 9] },
  { name: 'verdict on UDP: pass (a datagram is linear)', program: 'skb_prog', variables: { skb_verdict: 1, skb_pull: 4 }, sends: [10, 6], udp: true },
  { name: 'verdict on UDP: redirect ingress to a TCP socket', program: 'skb_prog', variables: { skb_verdict: 1, skb_redirect: 1, skb_redir_key: 2, skb_redir_flags: 1n }, sends: [10], udp: true },
  { name: 'verdict on UDP: drop', program: 'skb_prog', variables: { skb_verdict: 0 }, sends: [10], udp: true },
  { name: "egress redirect goes through the target's sk_msg program (SK_DROP)", program: 'skb_prog', variables: { skb_verdict: 1, skb_redirect: 1, skb_redir_key: 2, msg_verdict: 0 }, sends: [10], withMsg: true },
  { name: "egress redirect goes through the target's sk_msg program (SK_PASS)", program: 'skb_prog', variables: { skb_verdict: 1, skb_redirect: 1, skb_redir_key: 2, msg_verdict: 1 }, sends: [10], withMsg: true },
];

function payload(size: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (seed * 31 + i * 7 + 1) & 0xff);
}

function show(bytes: Uint8Array): string {
  return bytes.length <= 48 ? Buffer.from(bytes).toString('hex') : `${bytes.length} bytes ${Buffer.from(bytes.subarray(0, 8)).toString('hex')}…`;
}

function transcript(obj: ObjectLike, sockets: SockBackend, s: Scenario, settle: () => void): string[] {
  const log: string[] = [];
  using _link = obj.programs[s.program]!.attach({ map: obj.maps.sock_map! });
  using _msgLink = s.withMsg ? obj.programs.msg_prog!.attach({ map: obj.maps.sock_map! }) : undefined;
  const [udpClient, udpServer] = s.udp ? sockets.udpPair() : [undefined, undefined];
  const fds = {
    a_client: udpClient ?? sockets.open('tcp-client'), a_server: udpServer ?? sockets.open('tcp-server'),
    b_client: sockets.open('tcp-client'), b_server: sockets.open('tcp-server'),
  };
  const portNames = new Map<number, string>();
  for (const [name, fd] of Object.entries(fds)) portNames.set(sockets.localPort(fd), name);
  const port = (p: number): string => portNames.get(p) ?? 'other';
  const target = fds[s.target ?? 'b_client'];
  obj.maps.sock_map!.set(0, fds.a_server);
  obj.maps.sock_map!.set(2, target);
  obj.maps.sock_hash!.set(2, target);
  s.sends.forEach((size, i) => log.push(`send ${size}: ${sockets.send(fds.a_client, payload(size, i))}`));
  settle();
  for (const name of ['a_server', 'b_client', 'b_server', 'a_client'] as const) log.push(`${name} received: ${show(sockets.receive(fds[name]))}`);
  const bss = obj.maps['.bss']!.get(0) as { skb_count: number; msg_count: number };
  const count = Number(bss.skb_count);
  log.push(`program runs: ${count}, sk_msg runs: ${bss.msg_count}`);
  for (let i = 0; i < Math.min(count, 64); i++) {
    const e = obj.maps.skb_log!.get(i) as Record<string, number>;
    log.push(`run ${i}: len ${e.len} family ${e.family} local ${port(e.local_port!)} remote ${port(e.remote_port!)} ` +
      `ip ${e.local_ip4!.toString(16)}->${e.remote_ip4!.toString(16)} linear ${e.linear} first ${e.first!.toString(16)} ret ${e.ret} pull ${e.pull_ret} pulled ${e.pulled_linear}`);
  }
  return log;
}

describe('sk_skb verdict programs, VM against the kernel', { skip: kernelSkip() }, () => {
  for (const s of SCENARIOS) {
    it(s.name, () => {
      let kernel: string[];
      {
        using obj = loadObject(OBJECT, { variables: s.variables, programs: [s.program, 'msg_prog'] }) as unknown as ObjectLike;
        using sockets = new KernelBackend();
        // Redirected segments go through the target's work queue: give it a moment (even on a busy machine).
        kernel = transcript(obj, sockets, s, () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100));
      }
      using vmObj = loadObjectVm(OBJECT, { variables: s.variables, programs: [s.program, 'msg_prog'] });
      using sockets = new VmBackend(vmObj.registry);
      assertSameTranscript(transcript(vmObj as unknown as ObjectLike, sockets, s, () => {}), kernel);
    });
  }
});

/** Which programs a map takes: one sk_msg, one sk_skb verdict of either kind. */
function attachTranscript(obj: ObjectLike): string[] {
  const links: Disposable[] = [];
  const attach = (program: string): string => {
    try {
      links.push(obj.programs[program]!.attach({ map: obj.maps.sock_map! }));
      return 'ok';
    } catch (err) {
      return /EBUSY/.test(String(err)) ? 'EBUSY' : String(err);
    }
  };
  try {
    return [
      `skb_prog: ${attach('skb_prog')}`, `stream_prog: ${attach('stream_prog')}`, `msg_prog: ${attach('msg_prog')}`,
      `msg_prog again: ${attach('msg_prog')}`, `skb_prog again: ${attach('skb_prog')}`,
    ];
  } finally {
    for (const l of links.reverse()) l[Symbol.dispose]();
  }
}

describe('sk_skb attach rules, VM against the kernel', { skip: kernelSkip() }, () => {
  it('a map takes one verdict program of either kind, and one sk_msg program (EBUSY)', () => {
    const programs = ['skb_prog', 'stream_prog', 'msg_prog'];
    let kernel: string[];
    {
      using obj = loadObject(OBJECT, { programs }) as unknown as ObjectLike;
      kernel = attachTranscript(obj);
    }
    using vmObj = loadObjectVm(OBJECT, { programs });
    const vm = attachTranscript(vmObj as unknown as ObjectLike);
    assertSameTranscript(vm, kernel);
    assert.deepEqual(vm, ['skb_prog: ok', 'stream_prog: EBUSY', 'msg_prog: ok', 'msg_prog again: EBUSY', 'skb_prog again: EBUSY']);
  });
});
