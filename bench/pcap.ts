/**
 * The engine of `ebpf run` on the example firewall (examples/xdp_firewall.o): packets per second
 * over a generated pcap of 1,000,000 packets, and every one of its verdicts against the kernel's
 * BPF_PROG_TEST_RUN on the same packets, with the firewall's maps compared at the end (when the
 * kernel can run programs here).
 * `exampleTraffic` is also what scripts/make-example-pcap.js writes to examples/traffic.pcap.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildPacket, ethernet, ipv4, ipv6, udp, tcp, arp, icmp, readCapture, writePcap } from '../src/net/index.js';
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

/** Verdict counts by name, in the order first seen. */
export type VerdictCounts = Record<string, number>;

/** One side of the full comparison: how long it took and what it decided. */
export interface PcapSide {
  readonly seconds: number;
  readonly pps: number;
  readonly verdicts: VerdictCounts;
}

/** The kernel side of {@link benchPcap}: every packet's verdict against `ebpf run`'s. */
export interface PcapKernelComparison extends PcapSide {
  /** Packets test-run by the kernel (all of them). */
  readonly packets: number;
  /** Packets whose verdict differs. */
  readonly mismatches: number;
  /** The first differing packet: its index, both verdicts, its bytes in hex. */
  readonly firstMismatch?: { index: number; vm: string; kernel: string; packet: string };
  /** Whether the maps (`verdicts` counters, `drops` per source) hold the same after the whole capture. */
  readonly mapsEqual: boolean;
  /** The first map difference, when there is one. */
  readonly mapDifference?: string;
  /** Map entries compared (the kernel's). */
  readonly mapEntries: number;
}

export interface BenchPcapResult extends PcapSide {
  packets: number;
  /** Bytes of the generated pcap. */
  pcapBytes: number;
  /** Distinct frames the capture cycles through. */
  distinct: number;
  /** Every packet through the kernel's BPF_PROG_TEST_RUN, compared with the VM (absent without a kernel). */
  kernel?: PcapKernelComparison;
  /** Why the kernel comparison did not run. */
  kernelSkipped?: string;
}

/** Options of {@link benchPcap}. */
export interface BenchPcapOptions {
  /** Distinct frames (from {@link exampleTraffic}, seed 7) the capture cycles through; default 16384. */
  distinct?: number;
  /** Compare with the kernel (default true; skipped with a reason when the kernel refuses). */
  kernel?: boolean;
}

/**
 * A pcap (nanosecond timestamps, packet i at i µs) of `count` frames cycling through
 * `distinct` frames of {@link exampleTraffic}: generating a million distinct frames costs more
 * than running them, and the firewall's maps still see every packet.
 */
export function examplePcap(count: number, distinct = 16384): Uint8Array {
  const pool = exampleTraffic(Math.min(count, distinct), 7);
  function* records(): Generator<{ data: Uint8Array; timestamp: bigint }> {
    for (let i = 0; i < count; i++) yield { data: pool[i % pool.length]!, timestamp: BigInt(i) * 1000n };
  }
  return writePcap(records(), { nanosecond: true });
}

/**
 * `ebpf run`'s engine on a generated pcap of `count` packets through the example firewall
 * (packets per second), then — when the kernel can load it — every one of those packets through
 * the kernel's BPF_PROG_TEST_RUN (one syscall per packet, repeat 1), comparing each verdict and,
 * at the end, the firewall's maps.
 */
export function benchPcap(count = 1_000_000, options: BenchPcapOptions = {}): BenchPcapResult {
  const pcap = examplePcap(count, options.distinct);
  const capture = [...readCapture(pcap)];
  const packets = capture.map((p) => p.data);
  const distinct = Math.min(count, options.distinct ?? 16384);

  const vmRetvals = new Uint8Array(packets.length);
  const vm = loadPacketObject(readFileSync(EXAMPLE_FIREWALL));
  let result;
  let vmMaps: MapDump;
  try {
    result = runPackets(packetProgram(vm, 'xdp_firewall'), packets, (i, _d, _v, _out, retval) => { vmRetvals[i] = retval; }, vm);
    vmMaps = dumpMaps(vm.maps);
  } finally {
    vm.dispose();
  }
  const out: BenchPcapResult = {
    packets: result.packets, pcapBytes: pcap.length, distinct, seconds: result.seconds, pps: result.pps,
    verdicts: Object.fromEntries(result.verdicts),
  };
  if (options.kernel === false) return out;

  let obj;
  try {
    obj = loadObject(readFileSync(EXAMPLE_FIREWALL), { programs: ['xdp_firewall'] });
  } catch (err) {
    return { ...out, kernelSkipped: (err as Error).message.split('\n')[0] };
  }
  try {
    const p = obj.programs.xdp_firewall!;
    const kernelRetvals = new Uint8Array(packets.length);
    const start = performance.now();
    // data_size_out 0: the verdict is all that is compared, so the kernel copies no packet back.
    for (let i = 0; i < packets.length; i++) kernelRetvals[i] = p.testRun({ data: packets[i]!, dataSizeOut: 0 }).retval;
    const seconds = (performance.now() - start) / 1000;
    const name = (retval: number): string => packetVerdict(p.type, retval).name;
    const verdicts: VerdictCounts = {};
    let mismatches = 0;
    let firstMismatch: PcapKernelComparison['firstMismatch'];
    for (let i = 0; i < packets.length; i++) {
      const k = kernelRetvals[i]!;
      verdicts[name(k)] = (verdicts[name(k)] ?? 0) + 1;
      if (k === vmRetvals[i]) continue;
      mismatches++;
      firstMismatch ??= { index: i, vm: name(vmRetvals[i]!), kernel: name(k), packet: hex(packets[i]!) };
    }
    const kernelMaps = dumpMaps(obj.maps);
    const mapDifference = compareDumps(vmMaps, kernelMaps);
    const mapEntries = [...kernelMaps.values()].reduce((n, e) => n + e.length, 0);
    return {
      ...out,
      kernel: {
        packets: packets.length, seconds, pps: seconds > 0 ? packets.length / seconds : 0, verdicts, mismatches,
        ...(firstMismatch === undefined ? {} : { firstMismatch }),
        mapEntries, mapsEqual: mapDifference === undefined, ...(mapDifference === undefined ? {} : { mapDifference }),
      },
    };
  } finally {
    obj.dispose();
  }
}

/** Map name → its entries as JSON lines (bigints as decimal strings), sorted by key. */
type MapDump = Map<string, string[]>;

function dumpMaps(maps: Readonly<Record<string, { entries(): Iterable<[unknown, unknown]> }>>): MapDump {
  const out: MapDump = new Map();
  for (const [name, map] of Object.entries(maps)) {
    if (name.startsWith('.')) continue; // global data: the same constants on both sides, .rodata frozen
    out.set(name, [...map.entries()].map(([k, v]) => `${json(k)} => ${json(v)}`).sort());
  }
  return out;
}

function compareDumps(vm: MapDump, kernel: MapDump): string | undefined {
  for (const [name, entries] of kernel) {
    const ours = vm.get(name);
    if (ours === undefined) return `map ${name}: missing in the VM`;
    if (ours.length !== entries.length) return `map ${name}: ${entries.length} entries in the kernel, ${ours.length} in the VM`;
    const i = entries.findIndex((e, j) => e !== ours[j]);
    if (i >= 0) return `map ${name}: kernel ${entries[i]}, VM ${ours[i]}`;
  }
  return undefined;
}

const json = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x instanceof Uint8Array ? hex(x) : x));
const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** The bench's lines for a result: throughput, then the kernel comparison. */
export function describePcapResult(r: BenchPcapResult): string[] {
  const counts = (v: VerdictCounts): string => Object.entries(v).map(([k, n]) => `${k} ${n}`).join(', ');
  const lines = [
    `${r.packets} packets (${(r.pcapBytes / 1e6).toFixed(1)} MB pcap, ${r.distinct} distinct frames) in ${r.seconds.toFixed(2)} s: ` +
    `${Math.round(r.pps / 1e3)}k packets/s in the VM; verdicts: ${counts(r.verdicts)}`,
  ];
  if (r.kernel === undefined) {
    lines.push(`kernel comparison skipped${r.kernelSkipped === undefined ? '' : `: ${r.kernelSkipped}`}`);
    return lines;
  }
  const k = r.kernel;
  lines.push(`kernel BPF_PROG_TEST_RUN, one call per packet: ${k.packets} packets in ${k.seconds.toFixed(2)} s ` +
    `(${Math.round(k.pps / 1e3)}k packets/s); verdicts: ${counts(k.verdicts)}`);
  lines.push(`mismatches: ${k.mismatches}${k.firstMismatch === undefined ? ''
    : ` (first: packet ${k.firstMismatch.index}, VM ${k.firstMismatch.vm}, kernel ${k.firstMismatch.kernel}, ${k.firstMismatch.packet})`}; ` +
    `maps after the capture (${k.mapEntries} entries) ${k.mapsEqual ? 'equal' : `DIFFER: ${k.mapDifference}`}`);
  return lines;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const line of describePcapResult(benchPcap(Number(process.argv[2] ?? 1_000_000)))) console.log(line);
}
