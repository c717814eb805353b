/**
 * `npm run bench`: the interpreter on the shared benchmark programs (../shared/bench/vm/*.bin),
 * reported as ns per run and ns per executed instruction, beside baselines measured in the
 * same run (the same C bodies compiled natively with gcc -O2 when gcc is present) and the
 * reference table of ../shared/bench/README.md.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Interpreter, Memory } from '../src/vm/index.js';
import { benchRingBuffer, loadObject } from '../src/kernel/index.js';
import { benchMapHelpers } from './vm-map.js';
import { benchVerifier, verifierCorpora } from './verifier.js';
import { benchPcap, describePcapResult } from './pcap.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const shared = process.env.EBPF_SHARED ?? join(root, '..', 'shared');
const benchDir = join(shared, 'bench');

interface Program { name: string; packet: string; expected: bigint }
const PROGRAMS: Program[] = [
  { name: 'nop', packet: 'pkt64.bin', expected: 2n },
  { name: 'xdp_parse', packet: 'pkt64.bin', expected: 3n },
  { name: 'alu_loop', packet: 'pkt64.bin', expected: 2033003504n },
  { name: 'checksum', packet: 'pkt1500.bin', expected: 19868n },
  { name: 'map_hash', packet: 'pkt64.bin', expected: 2n },
];

/** Calls `fn` in growing batches until one batch takes `minMs`; returns ns per call (best of 3 batches). */
function timeIt(fn: () => void, minMs = 300): number {
  let iters = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iters; i++) fn();
    const ns = Number(process.hrtime.bigint() - t0);
    if (ns >= minMs * 1e6) {
      let best = ns / iters;
      for (let k = 0; k < 2; k++) {
        const t1 = process.hrtime.bigint();
        for (let i = 0; i < iters; i++) fn();
        best = Math.min(best, Number(process.hrtime.bigint() - t1) / iters);
      }
      return best;
    }
    iters *= ns < 1e6 ? 10 : 2;
  }
}

function benchInterpreter(p: Program): { nsPerRun: number; insns: number } {
  const memory = new Memory();
  const packet = readFileSync(join(benchDir, 'data', p.packet));
  const pkt = memory.alloc(packet.length, { kind: 'packet', name: 'packet', init: packet });
  const ctx = memory.alloc(16, { kind: 'context', name: 'vm_ctx' });
  memory.view.setBigUint64(ctx.start, BigInt(pkt.start), true);
  memory.view.setBigUint64(ctx.start + 8, BigInt(pkt.end), true);
  const vm = new Interpreter(readFileSync(join(benchDir, 'vm', `${p.name}.bin`)), {
    memory,
    helpers: p.name === 'map_hash' ? benchMapHelpers(memory) : undefined,
  });
  const first = vm.run(ctx.start);
  if (first.r0 !== p.expected) throw new Error(`${p.name}: r0 = ${first.r0}, expected ${p.expected}`);
  const steady = vm.run(ctx.start); // map_hash: first run inserts, later runs hit
  const nsPerRun = timeIt(() => { vm.run(ctx.start); });
  return { nsPerRun, insns: steady.instructions };
}

function nativeBaseline(): Record<string, number> | string {
  const gcc = spawnSync('sh', ['-c', 'command -v gcc || command -v cc'], { encoding: 'utf8' }).stdout.trim();
  if (!gcc) return 'no C compiler';
  const dir = mkdtempSync(join(tmpdir(), 'ebpf-bench-'));
  try {
    const exe = join(dir, 'harness');
    const progs = PROGRAMS.map((p) => join(benchDir, 'progs', `${p.name}.c`));
    const cc = spawnSync(gcc, ['-O2', '-DNATIVE', '-I', join(benchDir, 'progs'),
      join(root, 'bench', 'native', 'harness.c'), ...progs, '-o', exe], { encoding: 'utf8' });
    if (cc.status !== 0) return `gcc failed: ${cc.stderr.trim().split('\n')[0]}`;
    const run = spawnSync(exe, [join(benchDir, 'data', 'pkt64.bin'), join(benchDir, 'data', 'pkt1500.bin')], { encoding: 'utf8' });
    if (run.status !== 0) return `native harness failed: ${run.stderr.trim()}`;
    return JSON.parse(run.stdout) as Record<string, number>;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The Linux kernel's JIT on the same program bodies (../shared/bench/kern/*.o, XDP), timed
 * by BPF_PROG_TEST_RUN with repeat, each object loaded by the kernel backend's loadObject.
 */
function kernelBaseline(): Record<string, number> | string {
  const out: Record<string, number> = {};
  try {
    for (const p of PROGRAMS) {
      // The kernel build of each program, loaded as libbpf would (map_hash gets its hash map).
      using obj = loadObject(readFileSync(join(benchDir, 'kern', `${p.name}.o`)));
      const prog = obj.programs[p.name];
      if (prog === undefined) continue;
      const data = readFileSync(join(benchDir, 'data', p.packet));
      prog.testRun({ data }); // map_hash: the first run inserts, later runs hit
      const check = prog.testRun({ data });
      if (BigInt(check.retval) !== p.expected) return `${p.name}: kernel retval ${check.retval}, expected ${p.expected}`;
      let best = Infinity;
      for (let k = 0; k < 3; k++) best = Math.min(best, prog.testRun({ data, repeat: p.name === 'alu_loop' || p.name === 'checksum' ? 2000 : 200000 }).durationNs);
      out[p.name] = best;
    }
    return out;
  } catch (err) {
    return `kernel not available: ${(err as Error).message.split('\n')[0]}`;
  }
}

const fmt = (n: number): string => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));

async function ringBufferSection(): Promise<void> {
  console.log('\n## Ring-buffer reader (kernel producer in a worker via BPF_PROG_TEST_RUN, 64-byte records, JS callback)\n');
  let r;
  try {
    r = await benchRingBuffer();
  } catch (err) {
    console.log(`(skipped: ${(err as Error).message.split('\n')[0]})`);
    return;
  }
  const row = (name: string, x: { emitted: number; dropped: number; delivered: number; recordsPerSecond: number }): string =>
    `| ${name} | ${x.emitted} | ${x.delivered} | ${x.dropped} | ${(x.recordsPerSecond / 1e6).toFixed(2)} M |`;
  console.log('| run | emitted | delivered | refused (ring full) | delivered/s |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  console.log(row('producer flat out, 16 MiB ring', r.concurrent));
  console.log(row('reader alone on a filled ring', r.drain));
  console.log(row('producer paced at 500k/s, 1 MiB ring', r.paced));
}

function verifierSection(): void {
  console.log('\n## Verifier: the shared test_verifier corpora, ours beside the kernel\'s load time (same run)\n');
  try {
    console.log('| corpus | cases | ours (ms) | kernel BPF_PROG_LOAD (ms) | ours ÷ kernel |');
    console.log('| --- | ---: | ---: | ---: | ---: |');
    for (const r of benchVerifier(verifierCorpora(shared))) {
      console.log(`| ${r.file} | ${r.cases} | ${r.oursMs.toFixed(0)} | ${r.kernelMs.toFixed(0)} | ${(r.oursMs / r.kernelMs).toFixed(2)}× |`);
    }
  } catch (err) {
    console.log(`(skipped: ${(err as Error).message.split('\n')[0]})`);
  }
}

function pcapSection(): void {
  console.log('\n## ebpf run: the example XDP firewall over a 1,000,000-packet pcap, every verdict checked by the kernel\n');
  for (const line of describePcapResult(benchPcap())) console.log(line);
}

async function main(): Promise<void> {
  if (!existsSync(benchDir)) {
    console.log(`bench: ${benchDir} not found (set EBPF_SHARED); nothing to measure`);
    return;
  }
  console.log(`# ebpf benchmarks — node ${process.version}, ${process.arch}\n`);
  const native = nativeBaseline();
  const kernel = kernelBaseline();
  const rows = PROGRAMS.map((p) => ({ p, ...benchInterpreter(p) }));
  const cell = (base: Record<string, number> | string, name: string, ours: number): [string, string] => {
    const n = typeof base === 'string' ? undefined : base[name];
    return n === undefined ? ['–', '–'] : [fmt(n), `${fmt(ours / n)}×`];
  };
  console.log('## Interpreter, with baselines measured in this run\n');
  console.log('native C = the same bodies built with gcc -O2; kernel = BPF_PROG_TEST_RUN of ../shared/bench/kern/*.o (JIT, includes the test-run loop overhead)\n');
  console.log('| program | insns/run | interpreter ns/run | ns/insn | native C ns/run | ÷ native | kernel ns/run | ÷ kernel |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    const [n, nr] = cell(native, r.p.name, r.nsPerRun);
    const [k, kr] = cell(kernel, r.p.name, r.nsPerRun);
    console.log(`| ${r.p.name} | ${r.insns} | ${fmt(r.nsPerRun)} | ${fmt(r.nsPerRun / r.insns)} | ${n} | ${nr} | ${k} | ${kr} |`);
  }
  if (typeof native === 'string') console.log(`\n(native baseline skipped: ${native})`);
  if (typeof kernel === 'string') console.log(`\n(kernel baseline skipped: ${kernel})`);
  const readme = readFileSync(join(benchDir, 'README.md'), 'utf8');
  const table = readme.split('\n').filter((l) => l.startsWith('|')).slice(-7);
  console.log('\n## Reference baselines from ../shared/bench/README.md (another run, same kind of machine)\n');
  console.log(table.join('\n'));
  await ringBufferSection();
  verifierSection();
  pcapSection();
}

await main();
