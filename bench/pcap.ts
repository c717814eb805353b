/**
 * The engine of `ebpf run` on the example firewall (examples/xdp_firewall.o): packets per second
 * over 1,000,000 packets generated in memory, and its verdicts against the kernel's
 * BPF_PROG_TEST_RUN on a sample (when the kernel can run programs here).
 * `exampleTraffic` is also what scripts/make-example-pcap.js writes to examples/traffic.pcap.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildPacket, ethernet, ipv4, ipv6, udp, tcp, arp, icmp } from '../src/net/index.js';
import { loadObject } from '../src/kernel/object/load-object.js';
import { loadPacketObject, packetProgram, packetVerdict, runPackets } from '../src/cli/run.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
export const EXAMPLE_FIREWALL = `${root}examples/xdp_firewall.o`;

/** The example firewall's default blocked sources (examples/xdp_firewall.c `default_blocked`). */
export const EXAMPLE_BLOCKED = ['10.0.0.66', '192.168.13.37', '198.51.100.10'];

/** A small deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `count` Ethernet frames of mixed traffic, the same for the same seed: IPv4 UDP/TCP/ICMP from
 * many sources (about one in six from {@link EXAMPLE_BLOCKED}), IPv6, ARP and a few truncated
 * IPv4 frames.
 */
export function exampleTraffic(count: number, seed = 1): Uint8Array[] {
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const mac = (n: number): string => `02:00:00:00:00:${(n & 0xff).toString(16).padStart(2, '0')}`;
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const r = rand();
    const eth = { src: mac(1 + Math.floor(rand() * 20)), dst: mac(0xfe) };
    if (r < 0.06) {
      out.push(buildPacket([ethernet({ ...eth, dst: 'ff:ff:ff:ff:ff:ff' }), arp({ senderIp: `10.0.0.${1 + Math.floor(rand() * 200)}`, targetIp: '10.0.0.1' })]));
      continue;
    }
    if (r < 0.14) {
      out.push(buildPacket([ethernet(eth), ipv6({ src: `2001:db8::${Math.floor(rand() * 0xffff).toString(16)}`, dst: '2001:db8::1' }), udp({ srcPort: 5353, dstPort: 5353 })], 'ipv6 payload'));
      continue;
    }
    if (r < 0.16) {
      // A frame cut inside its IPv4 header.
      const whole = buildPacket([ethernet(eth), ipv4({ src: '10.0.0.7', dst: '10.0.0.1' }), udp({ srcPort: 1, dstPort: 2 })]);
      out.push(whole.slice(0, 14 + Math.floor(rand() * 19)));
      continue;
    }
    const src = r < 0.32 ? pick(EXAMPLE_BLOCKED) : `${pick([10, 172, 192, 203])}.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}.${1 + Math.floor(rand() * 254)}`;
    const dst = '10.0.0.1';
    const payload = new Uint8Array(Math.floor(rand() * 200));
    for (let j = 0; j < payload.length; j++) payload[j] = Math.floor(rand() * 256);
    const l4 = rand();
    const transport = l4 < 0.5 ? udp({ srcPort: 1024 + Math.floor(rand() * 60000), dstPort: pick([53, 123, 443, 8080]) })
      : l4 < 0.9 ? tcp({ srcPort: 1024 + Math.floor(rand() * 60000), dstPort: pick([22, 80, 443]) })
        : icmp({});
    out.push(buildPacket([ethernet(eth), ipv4({ src, dst }), transport], payload));
  }
  return out;
}

/** Verdicts of the kernel's test run of the example firewall on `packets`, or undefined without a kernel to ask. */
export function kernelVerdicts(packets: readonly Uint8Array[], objectPath = EXAMPLE_FIREWALL, program = 'xdp_firewall'): string[] | undefined {
  let obj;
  try {
    obj = loadObject(readFileSync(objectPath), { programs: [program] });
  } catch {
    return undefined;
  }
  try {
    const p = obj.programs[program]!;
    return packets.map((data) => packetVerdict(p.type, p.testRun({ data }).retval).name);
  } finally {
    obj.dispose();
  }
}

export interface BenchPcapResult {
  packets: number;
  seconds: number;
  pps: number;
  /** The sample compared with the kernel: its size and whether every verdict was the same (absent without a kernel). */
  kernel?: { sample: number; equal: boolean };
}

/** Packets per second of `ebpf run`'s engine on `count` generated packets through the example firewall. */
export function benchPcap(count = 1_000_000, sample = 2000): BenchPcapResult {
  const pool = exampleTraffic(4096, 7);
  function* packets(): Generator<Uint8Array> {
    for (let i = 0; i < count; i++) yield pool[i & 4095]!;
  }
  const obj = loadPacketObject(readFileSync(EXAMPLE_FIREWALL));
  let result;
  try {
    result = runPackets(packetProgram(obj, 'xdp_firewall'), packets(), undefined, obj);
  } finally {
    obj.dispose();
  }
  const out: BenchPcapResult = { packets: result.packets, seconds: result.seconds, pps: result.pps };
  const sampled = pool.slice(0, Math.min(sample, pool.length));
  const kernel = kernelVerdicts(sampled);
  if (kernel !== undefined) {
    const vm = loadPacketObject(readFileSync(EXAMPLE_FIREWALL));
    try {
      const names: string[] = [];
      runPackets(packetProgram(vm, 'xdp_firewall'), sampled, (_i, _d, v) => names.push(v.name), vm);
      out.kernel = { sample: sampled.length, equal: names.every((n, i) => n === kernel[i]) };
    } finally {
      vm.dispose();
    }
  }
  return out;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = benchPcap(Number(process.argv[2] ?? 1_000_000));
  console.log(`ebpf run engine, example firewall: ${r.packets} packets in ${r.seconds.toFixed(2)} s = ${Math.round(r.pps)} packets/s` +
    (r.kernel === undefined ? ' (no kernel to compare)' : `; kernel verdicts on ${r.kernel.sample} packets ${r.kernel.equal ? 'equal' : 'DIFFER'}`));
}
