/**
 * `ebpf run`'s engine on sk_buff programs: packets per second of a TC classifier and a socket
 * filter over the example traffic (bench/pcap.ts), the number the reused skb context of
 * src/vm/object/context-batch.ts is for.
 *
 *   node dist/bench/pcap-skb.js [COUNT]
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadPacketObject, packetProgram, runPackets } from '../src/cli/run.js';
import { exampleTraffic } from './pcap.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Objects and programs of the skb benchmarks: a TC classifier and a socket filter (with ld_abs). */
export const SKB_BENCH_PROGRAMS = [
  { label: 'tc (tc_mark: ctx writes)', object: `${root}bpf/fixtures/vm_contexts.o`, program: 'tc_mark' },
  { label: 'socket filter (sock_udp: ld_abs)', object: `${root}bpf/fixtures/vm_contexts.o`, program: 'sock_udp' },
] as const;

/** What one run measured. */
export interface SkbBenchResult {
  readonly packets: number;
  readonly seconds: number;
  readonly pps: number;
}

/** Packets per second of `ebpf run`'s engine running `program` of `objectPath` over `count` packets. */
export function benchSkbProgram(objectPath: string, program: string, count = 200_000): SkbBenchResult {
  const pool = exampleTraffic(4096, 7);
  function* packets(): Generator<Uint8Array> {
    for (let i = 0; i < count; i++) yield pool[i & 4095]!;
  }
  const obj = loadPacketObject(readFileSync(objectPath));
  try {
    const r = runPackets(packetProgram(obj, program), packets(), undefined, obj);
    return { packets: r.packets, seconds: r.seconds, pps: r.pps };
  } finally {
    obj.dispose();
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const count = Number(process.argv[2] ?? 200_000);
  for (const { label, object, program } of SKB_BENCH_PROGRAMS) {
    const r = benchSkbProgram(object, program, count);
    console.log(`ebpf run engine, ${label}: ${r.packets} packets in ${r.seconds.toFixed(2)} s = ${Math.round(r.pps)} packets/s`);
  }
}
