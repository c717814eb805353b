/**
 * `ebpf run OBJ --pcap IN`: an XDP, TC or socket-filter program of an object run in the VM over
 * every packet of a pcap/pcapng file, as BPF_PROG_TEST_RUN runs it on one packet. Prints the
 * verdict counts, the packets per second and the maps' contents afterwards (BTF-decoded);
 * `--out`/`--dropped` write the passed (as the program left them) and the dropped packets.
 * No root and no compiler: the engine ({@link runPackets}) is the VM's object loader.
 */
import { parseArgs } from 'node:util';
import { EbpfError } from '../errors.js';
import { LinkType } from '../net/link-type.js';
import { readCapture } from '../net/read.js';
import { writePcap, type PacketToWrite } from '../net/index.js';
import { ProgramType, programTypeShortName } from '../object/uapi-types.js';
import { loadObjectVm, type VmObject } from '../vm/object/load.js';
import type { VmProgram } from '../vm/object/program.js';
import { ReusableXdpContext, reusableSkbContextModels, usesXdpEdgeHelpers, XDP_LINEAR_MAX } from '../vm/object/context-batch.js';
import { tcActionName, xdpActionName } from '../vm/programs/verdicts.js';
import { xdpHelpers } from '../vm/programs/xdp-helpers.js';
import type { VmNetwork } from '../vm/programs/net-table.js';
import { type Command, UsageError } from './command.js';
import { toJson } from './json-value.js';
import { takeOutputFlags } from './map.js';

const USAGE = `Usage: ebpf run OBJ [--prog NAME] --pcap IN [--out PASSED.pcap] [--dropped DROPPED.pcap] [--net NET.json] [-j [-p]]

Loads OBJ into the userspace VM and runs one of its packet programs (XDP, TC sched_cls/
sched_act, socket filter, cgroup skb) on every packet of IN (pcap or pcapng, Ethernet), as
BPF_PROG_TEST_RUN runs it: prints how many packets got each verdict, the packets per second
and the contents of the object's maps afterwards.
  --prog NAME      the program (default: the object's first packet program)
  --out FILE       write the packets that passed (as the program left them) to FILE (pcap)
  --dropped FILE   write the packets that were dropped to FILE (pcap)
  --net FILE       the network bpf_fib_lookup and bpf_clone_redirect see: JSON {devices, routes,
                   neighbours} (src/vm/programs/net-table.ts); default loopback alone
  -j               JSON: {program, type, packets, seconds, pps, verdicts, passed, dropped, maps}`;

/** The program types `ebpf run` runs. */
const PACKET_TYPES: ReadonlySet<number> = new Set([
  ProgramType.XDP, ProgramType.SCHED_CLS, ProgramType.SCHED_ACT, ProgramType.SOCKET_FILTER, ProgramType.CGROUP_SKB,
]);

/** What the hook does with a packet after the program's verdict. */
export interface PacketVerdict {
  /** `XDP_PASS`, `TC_ACT_SHOT`, `keep 60`/`drop` (socket filter), `allow`/`deny` (cgroup skb). */
  readonly name: string;
  /** Whether the packet goes on. */
  readonly passed: boolean;
}

/** The verdict of a program of `type` returning `retval` (the low 32 bits of r0). */
export function packetVerdict(type: number, retval: number): PacketVerdict {
  switch (type) {
    case ProgramType.XDP: {
      const name = xdpActionName(retval);
      return { name, passed: name === 'XDP_PASS' || name === 'XDP_TX' || name === 'XDP_REDIRECT' };
    }
    case ProgramType.SCHED_CLS:
    case ProgramType.SCHED_ACT: {
      const name = tcActionName(retval);
      return { name, passed: !(name === 'TC_ACT_SHOT' || name === 'TC_ACT_STOLEN' || name === 'TC_ACT_TRAP' || name === 'TC_ACT_QUEUED') };
    }
    case ProgramType.CGROUP_SKB:
      return (retval & 1) !== 0 ? { name: 'allow', passed: true } : { name: 'deny', passed: false };
    default:
      return retval === 0 ? { name: 'drop', passed: false } : { name: 'keep', passed: true };
  }
}

/** Outcome of {@link runPackets}. */
export interface RunPacketsResult {
  readonly packets: number;
  readonly seconds: number;
  /** Packets per second (0 for no packets). */
  readonly pps: number;
  /** Packets per verdict name, in the order first seen. */
  readonly verdicts: Map<string, number>;
  readonly passed: number;
  readonly dropped: number;
}

/** Per-packet callback of {@link runPackets}; `dataOut()` is the packet as the program left it (test_run's data_out), readable only during the callback. */
export type OnPacket = (index: number, input: Uint8Array, verdict: PacketVerdict, dataOut: () => Uint8Array, retval: number) => void;

/**
 * The engine of `ebpf run`: runs `program` once per packet (test-run semantics), counting
 * verdicts. `onPacket` sees each packet's outcome. XDP programs that do not move the packet's
 * edges (no bpf_xdp_adjust_*) run in one reused frame; the others, and other types, through
 * `testRun` (a context laid out per packet, or for sk_buff programs of an object from
 * {@link loadPacketObject}, one reused context loaded with each packet).
 */
export function runPackets(program: VmProgram, packets: Iterable<Uint8Array>, onPacket?: OnPacket, object?: VmObject): RunPacketsResult {
  const verdicts = new Map<string, number>();
  let count = 0, passed = 0;
  const type = program.type;
  // Verdicts by retval, so the hot loop allocates no strings.
  const cache = new Map<number, PacketVerdict>();
  const programs = object === undefined ? [program] : Object.values(object.programs);
  const reuse = type === ProgramType.XDP && !programs.some((p) => usesXdpEdgeHelpers(p.interpreter.program));
  const frame = reuse ? new ReusableXdpContext(program.interpreter.memory) : undefined;
  const start = performance.now();
  try {
    for (const data of packets) {
      let retval: number;
      let dataOut: () => Uint8Array;
      if (frame !== undefined && data.length >= 14 && data.length <= XDP_LINEAR_MAX) {
        frame.load(data);
        retval = Number(program.run(frame.address).r0 & 0xffffffffn);
        dataOut = () => frame.packet();
      } else {
        const result = program.testRun({ data });
        retval = result.retval;
        dataOut = () => result.dataOut;
      }
      let verdict = cache.get(retval);
      if (verdict === undefined) cache.set(retval, verdict = packetVerdict(type, retval));
      verdicts.set(verdict.name, (verdicts.get(verdict.name) ?? 0) + 1);
      if (verdict.passed) passed++;
      onPacket?.(count, data, verdict, dataOut, retval);
      count++;
    }
  } finally {
    frame?.release();
  }
  const seconds = (performance.now() - start) / 1000;
  return { packets: count, seconds, pps: seconds > 0 ? count / seconds : 0, verdicts, passed, dropped: count - passed };
}

/**
 * Loads `bytes` into the VM with the packet helpers (bpf_xdp_adjust_*) wired, test runs of its
 * sk_buff programs reusing one context per program type (context-batch.ts), and `network` as
 * what bpf_fib_lookup and bpf_clone_redirect see.
 */
export function loadPacketObject(bytes: Uint8Array, network?: VmNetwork): VmObject {
  return loadObjectVm(bytes, { helpers: xdpHelpers, contexts: reusableSkbContextModels(), ...(network === undefined ? {} : { host: { network } }) });
}

/** A `--net` file: JSON with a `devices` array (and optional `routes`, `neighbours`). */
export function parseNetwork(text: string, file: string): VmNetwork {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file}: not JSON (${(err as Error).message})`);
  }
  const net = value as Partial<VmNetwork> | null;
  if (net === null || typeof net !== 'object' || !Array.isArray(net.devices)) throw new UsageError(`${file}: expected {devices: [...], routes?: [...], neighbours?: [...]}`);
  for (const key of ['routes', 'neighbours'] as const) {
    if (net[key] !== undefined && !Array.isArray(net[key])) throw new UsageError(`${file}: '${key}' must be an array`);
  }
  return net as VmNetwork;
}

/** The program `ebpf run` runs: `name`, or the object's first packet program. */
export function packetProgram(obj: VmObject, name: string | undefined): VmProgram {
  if (name !== undefined) {
    const p = obj.programs[name];
    if (p === undefined) throw new UsageError(`no program '${name}' in the object (it has ${Object.keys(obj.programs).join(', ') || 'none'})`);
    if (!PACKET_TYPES.has(p.type)) throw new UsageError(`program '${name}' is ${programTypeShortName(p.type)}, not a packet program (xdp, sched_cls, sched_act, socket_filter, cgroup_skb)`);
    return p;
  }
  const p = Object.values(obj.programs).find((q) => PACKET_TYPES.has(q.type));
  if (p === undefined) throw new UsageError('the object has no XDP, TC, socket filter or cgroup skb program');
  return p;
}

/** Every map of `obj` as [{key, value}] (BTF-decoded where the object has BTF). */
export function mapContents(obj: VmObject): Record<string, Array<{ key: unknown; value: unknown }>> {
  const out: Record<string, Array<{ key: unknown; value: unknown }>> = {};
  for (const [name, map] of Object.entries(obj.maps)) {
    try {
      out[name] = [...map.entries()].map(([key, value]) => ({ key, value }));
    } catch {
      // Maps that cannot be iterated (ring buffers, queues) are left out.
    }
  }
  return out;
}

export const runCommand: Command = {
  name: 'run',
  summary: 'run an XDP/TC/socket-filter program of an object over a pcap in the VM',
  usage: USAGE,
  async run(args, io) {
    const flags = takeOutputFlags(args);
    const { values, positionals } = parseArgs({
      args: flags.rest,
      allowPositionals: true,
      options: { prog: { type: 'string' }, pcap: { type: 'string' }, out: { type: 'string' }, dropped: { type: 'string' }, net: { type: 'string' } },
    });
    const [file, ...extra] = positionals;
    if (file === undefined || extra.length > 0) throw new UsageError('expected one OBJ');
    if (values.pcap === undefined) throw new UsageError('give --pcap FILE');
    const network = values.net === undefined ? undefined : parseNetwork(new TextDecoder().decode(io.readFile(values.net)), values.net);
    const obj = loadPacketObject(io.readFile(file), network);
    try {
      const program = packetProgram(obj, values.prog);
      const capture = [...readCapture(io.readFile(values.pcap))];
      const other = capture.find((p) => p.linkType !== LinkType.ETHERNET);
      if (other !== undefined) throw new EbpfError(`${values.pcap}: packet at offset ${other.offset} has link type ${other.linkType}; ebpf run takes Ethernet captures`);
      const passedOut: PacketToWrite[] = [];
      const droppedOut: PacketToWrite[] = [];
      const keepOut = values.out !== undefined, keepDropped = values.dropped !== undefined;
      const rewrites = program.type === ProgramType.XDP || program.type === ProgramType.SCHED_CLS || program.type === ProgramType.SCHED_ACT;
      const result = runPackets(program, capture.map((p) => p.data), (i, input, verdict, dataOut) => {
        const timestamp = capture[i]!.timestamp;
        if (verdict.passed && keepOut) passedOut.push({ data: rewrites ? dataOut() : input, timestamp });
        else if (!verdict.passed && keepDropped) droppedOut.push({ data: input, timestamp });
      }, obj);
      if (values.out !== undefined) io.writeFile(values.out, writePcap(passedOut, { nanosecond: true }));
      if (values.dropped !== undefined) io.writeFile(values.dropped, writePcap(droppedOut, { nanosecond: true }));
      const maps = mapContents(obj);
      const type = programTypeShortName(program.type);
      if (flags.json) {
        io.out(`${toJson({
          program: program.name, type, packets: result.packets, seconds: result.seconds, pps: Math.round(result.pps),
          verdicts: Object.fromEntries(result.verdicts), passed: result.passed, dropped: result.dropped, maps,
        }, flags.pretty ? 2 : undefined)}\n`);
        return 0;
      }
      const lines = [`${program.name} (${type}): ${result.packets} packets in ${(result.seconds * 1000).toFixed(1)} ms, ` +
        `${Math.round(result.pps)} packets/s; ${result.passed} passed, ${result.dropped} dropped`];
      const width = Math.max(0, ...[...result.verdicts.keys()].map((k) => k.length));
      for (const [name, n] of result.verdicts) lines.push(`  ${name.padEnd(width)}  ${n}`);
      lines.push('maps:');
      for (const [name, entries] of Object.entries(maps)) {
        lines.push(`  ${name}: ${entries.length === 0 ? '(empty)' : ''}`);
        for (const { key, value } of entries) lines.push(`    ${toJson(key)}: ${toJson(value)}`);
      }
      io.out(`${lines.join('\n')}\n`);
      return 0;
    } finally {
      obj.dispose();
    }
  },
};
